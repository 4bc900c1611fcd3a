package cookiesession

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Loading a request's session: each value of the session cookie is a
// candidate, opened by the sealing format, the other format or, when no
// key of ours authenticates it, gorilla migration. The first candidate
// that opens and is admitted wins; if none does, one refusal is chosen,
// by an explicit precedence, to say why the session starts afresh.

// load opens the request's session cookie into s, or makes s a new
// session if none opens.
func (e *engine) load(r *http.Request, now time.Time, s holder) {
	st := s.st()
	j := e.cookies.read(r)
	st.req = r
	e.loadJar(r, &j, now, s)
	st.otherCookies, st.sentCookies = j.others+j.stays(), j.sent
	switch {
	case j.old == nil:
	case st.moved == 0:
		// Left alone under the old name (see loadJar): they come with
		// the next request too.
		st.otherCookies += j.old.size
	default:
		st.otherCookies += j.old.stays()
	}
	if st.err != nil {
		e.logRefusal(r, st.err, now)
	}
}

// logRefusal logs why the request's cookie was not used. As a rule not as
// a warning: a cookie is untrusted input, and anyone could fill the logs;
// one setting shows why sessions start afresh. Two exceptions are said as
// a warning, at most once a minute each. A value issued too far ahead:
// only a holder of the keys seals one, so another instance's clock is
// wrong, and its users are signed out here. A value naming a key this
// instance lacks: SESSION_KEYS may lack the key another instance seals
// with (a rotation's step taken too early), which signs users out at
// random; but a retired key's cookies and forgeries come here too, which
// the warning says, with how many came since the last and the last key
// id, for the operator to compare with Keyring.String's.
func (e *engine) logRefusal(r *http.Request, err error, now time.Time) {
	level, msg := slog.LevelDebug, "cookiesession: session cookie not used; the request gets a new session"
	attrs := []slog.Attr{slog.String("cookie", e.cookies.name), slog.String("path", r.URL.Path), slog.Any("error", err)}
	switch {
	case errors.Is(err, errIssuedAhead) && due(&e.aheadWarned, now):
		level, msg = slog.LevelWarn, "cookiesession: session cookie sealed by an instance whose clock is ahead of this one's by more than ClockSkew; its users are signed out here: check the instances' clocks"
	case errors.Is(err, ErrUnknownKey):
		if n := e.keyRefused.Add(1); due(&e.keyWarned, now) {
			e.keyRefused.Add(-n)
			level, msg = slog.LevelWarn, "cookiesession: session cookies naming a key this instance does not hold: a retired key's, forged, or sealed by another instance with a key SESSION_KEYS lacks here, which signs its users out"
			attrs = append(attrs, slog.Int64("count", n))
		}
	}
	e.logger.LogAttrs(r.Context(), level, msg, attrs...)
}

// due reports whether a warning last given at *warned is due again at
// now: the first is, then one a minute at most, so that a flood of such
// cookies floods no log.
func due(warned *atomic.Int64, now time.Time) bool {
	last := warned.Load()
	if last != 0 && now.UnixNano()-last < int64(time.Minute) {
		return false
	}
	return warned.CompareAndSwap(last, now.UnixNano())
}

// loadJar opens the cookies in j into s. Cookies under the name earlier
// releases used are read only when none under the current name came: the
// current name wins, and the old one is left alone, since it may be
// another application's (a parent domain's "session"), which a deletion
// here would not reach; ours expires on its own. Old cookies are moved:
// the response that writes the session under the current name, or clears
// a cookie that did not open, deletes them.
func (e *engine) loadJar(r *http.Request, j *jar, now time.Time, s holder) {
	st := s.st()
	if old := j.old; old != nil && j.present == 0 {
		e.loadJar(r, old, now, s)
		st.present, st.moved = 0, old.present
		st.stale = st.stale || st.err == nil
		return
	}
	if j.present == 0 {
		e.fresh(s, now, 0, nil)
		return
	}
	if len(j.values[0]) == 0 {
		// The session cannot be opened without its first part. The chunks
		// are deleted: a client that dropped the main cookie because its
		// Cookie header was over a limit would otherwise keep sending
		// them, and keep dropping the main cookie of every new session.
		e.fresh(s, now, j.present, fmt.Errorf("%w: chunk cookies came without the main cookie %q, with %d bytes of other cookies: did the client drop it for a Cookie header over its limit?",
			ErrMalformed, j.spec.name, j.others))
		return
	}
	o := openOptions{now: now, maxAge: e.maxAge, idleTimeout: e.idle, maxLength: j.spec.maxSize}
	why := refusal{rank: rankNone}
	var notOurs []string
	for _, main := range j.values[0] {
		err := e.openValue(r, j, main, o, s)
		if err == nil {
			st.present = j.present
			return
		}
		if errors.Is(err, ErrMalformed) || errors.Is(err, ErrAuthentication) {
			notOurs = append(notOurs, main)
		}
		why.consider(err, st, false)
	}
	if e.migration != nil && why.rank > rankEnded && e.loadGorilla(r, j, notOurs, o, s, &why) {
		// No value of ours was refused for what it says, and one was a
		// gorilla session. A value of ours refused (expired, revoked,
		// rejected) means this browser was served since the migration
		// began, and no gorilla cookie comes back to life there.
		st.present = j.present
		return
	}
	e.refused(s, now, j.present, &why)
}

// loadGorilla opens the first of values, which did not open as ours,
// that is a gorilla session and is admitted into s, and reports whether
// one did; why hears of those that did not.
func (e *engine) loadGorilla(r *http.Request, j *jar, values []string, o openOptions, s holder, why *refusal) bool {
	for _, v := range values {
		env, isGorilla, err := e.migration.open(j.spec.name, v, o)
		if !isGorilla {
			continue
		}
		if err == nil {
			if err = e.admit(r, &env, heldConverted, true, o.now, s); err == nil {
				return true
			}
		}
		why.consider(err, s.st(), true)
	}
	return false
}

// rank orders the reasons a candidate was refused: the lowest says best
// why the request's session starts afresh.
type rank int

const (
	rankUnavailable rank = iota // the store cannot tell: the cookie may be good once it is back
	rankUnproven                // bound to a device, whose refresh may yet come: the cookie is kept
	rankEnded                   // a value of ours that ended: expired, revoked or rejected
	rankGorilla                 // a gorilla cookie found that could not be taken over
	rankOther                   // anything else: the first such value's reason
	rankNone                    // nothing refused yet
)

// refusal is the best reason found so far, and what the fresh session
// keeps of the candidate it came from.
type refusal struct {
	rank rank
	err  error
	// The session of a value the store could not vouch for: its cookie
	// is kept, and ending the request's session still revokes it.
	id         SessionID
	subject    string
	generation uint64
	// convert is why a gorilla session failed to convert, if one did:
	// perhaps a gob type not registered, or convert's database down.
	convert error
}

// consider records err, why a candidate (a gorilla cookie, or one of
// ours) was refused, if it ranks above what was found so far. st holds
// what the candidate opened into, if it did.
func (w *refusal) consider(err error, st *state, gorilla bool) {
	var r rank
	switch {
	case errors.Is(err, ErrRevocationsUnavailable):
		r = rankUnavailable
	case errors.Is(err, ErrUnproven):
		r = rankUnproven
	case gorilla:
		r = rankGorilla
		if w.convert == nil && errors.Is(err, ErrMigration) {
			w.convert = err
		}
	case errors.Is(err, ErrExpired), errors.Is(err, ErrRevoked), errors.Is(err, ErrRejected):
		r = rankEnded
	default:
		r = rankOther
	}
	if r < w.rank {
		w.rank, w.err = r, err
		w.id, w.subject, w.generation = st.id, st.subject, st.generation
	}
}

// refused makes s the fresh session of a request whose cookies (present)
// did not open, for the reason w chose.
func (e *engine) refused(s holder, now time.Time, present uint32, w *refusal) {
	if w.convert != nil || w.rank == rankUnproven {
		// The cookies are kept for a later request (and a failure to
		// convert is told), but no id: ending this session revokes nothing.
		present = 0
	}
	e.fresh(s, now, present, w.err)
	st := s.st()
	switch {
	case w.rank == rankUnavailable:
		st.id, st.held, st.subject, st.generation = w.id, heldCookie, w.subject, w.generation
	case w.convert != nil:
		st.pending = append(st.pending, w.convert) // for the error handler, at commit
	}
}

// fresh makes s a new session, started at now, whose cookies (present)
// did not open, for reason err.
func (e *engine) fresh(s holder, now time.Time, present uint32, err error) {
	s.st().fresh(now, e.zero, present, err)
	s.reset()
}

// openValue opens main, a value of the main cookie, with its chunks, into
// s, and admits it. It returns an error, and leaves s to be reset, if the
// value does not open or is not admitted.
func (e *engine) openValue(r *http.Request, j *jar, main string, o openOptions, s holder) error {
	env, _, stale, err := openEither(e.format, e.alt, j, main, o)
	if err != nil {
		return err
	}
	if env.Binding != (SessionID{}) && !e.binding.proven(j, env.Binding, o.now) {
		return ErrUnproven
	}
	return e.admit(r, &env, heldCookie, stale, o.now, s)
}

// openEither assembles main, a value of j's main cookie, with its chunks
// and opens it in the format that seals or, failing that, in the other
// one. It returns the position of the key that sealed it, and whether it
// is to be sealed again: sealed by an older key, or in the other format.
func openEither(seals, other format, j *jar, main string, o openOptions) (c Contents, key int, stale bool, err error) {
	value, err := j.assemble(main)
	if err != nil {
		return c, 0, false, err
	}
	c, key, err = seals.open(j.spec.name, value, o)
	if errors.Is(err, ErrMalformed) {
		if c2, key2, err2 := other.open(j.spec.name, value, o); !errors.Is(err2, ErrMalformed) {
			return c2, key2, true, err2
		}
	}
	return c, key, key != 0, err
}

// admit makes s the session env carries, then checks it against the
// revocations and the validator: a session either refuses is not used.
// One within a Renew's grace is used, read-only.
func (e *engine) admit(r *http.Request, env *Contents, held held, stale bool, now time.Time, s holder) error {
	st := s.st()
	*st = state{
		id:            env.ID,
		created:       env.Created,
		issued:        env.Issued,
		lifetime:      env.Lifetime,
		held:          held,
		stale:         stale,
		generation:    env.Generation,
		binding:       env.Binding,
		flashes:       env.Flashes,
		cookieFlashes: len(env.Flashes),
		orig:          env.Data,
		req:           st.req,
		mw:            st.mw,
	}
	if env.Lifetime > 0 && env.Lifetime != time.Duration(lifetimeSeconds(e.maxAge))*time.Second {
		// Sealed under another WithMaxAge: sealed again under this one,
		// which a longer lifetime needs to take effect.
		st.stale = true
	}
	if err := s.decode(env.Data); err != nil {
		return err
	}
	st.subject = s.subject()
	if e.revocations != nil && st.subject != "" {
		if err := e.revocations.Check(st.subject, st.id, st.generation, now); errors.Is(err, ErrReplaced) {
			st.held = heldReadOnly
		} else if err != nil {
			return err
		}
	}
	if err := s.validate(r); err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return nil
}
