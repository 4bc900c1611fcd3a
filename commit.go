package cookiesession

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// What a response carries for its session is decided in one place, used
// by the middleware just before the headers leave and by Manager.Save.

// outcome is what a response does with a session's cookies.
type outcome int

const (
	keepCookies   outcome = iota // nothing: the browser's cookie stands
	clearCookies                 // delete the cookies that came, which did not open
	skipReplaced                 // nothing, and report: another response replaced them
	removeSession                // delete the session: it holds nothing
	writeSession                 // seal the session and set its cookies
)

// facts are what decide goes by, gathered from a session at commit.
type facts struct {
	changed   bool // the data or flashes differ from what the cookie brought
	renewed   bool // Renew was called
	destroyed bool // Destroy was called
	stale     bool // sealed by an older key, in the other format, or under the old name
	idleDue   bool // a third of the idle window has passed since it was sealed
	invalid   bool // cookies came that did not open, and are to be cleared
	readOnly  bool // its cookie is within a Renew's grace: it may end, not be written
	migrating bool // gorilla migration is on: a cookie of ours always stays
	empty     bool // the session holds nothing (and no migration is on)
}

// decide returns what the response does with the session's cookies.
// replacedNow is asked only when a cookie would be written or deleted: it
// reports whether another request revoked or renewed the session meanwhile
// (see engine.replaced).
func decide(f facts, replacedNow func() bool) outcome {
	asked := f.changed || f.renewed || f.destroyed // what the handler did
	due := asked || f.stale || f.idleDue
	switch {
	case !due && f.invalid && f.migrating:
		// With gorilla migration, an empty session of ours replaces a
		// cookie that did not open: see WithGorillaMigration.
	case !due && f.invalid:
		return clearCookies
	case !due, f.readOnly && !asked:
		// Within a Renew's grace, a re-seal or an idle refresh alone
		// waits: the browser holds the renewed cookie already, and this
		// request loses nothing.
		return keepCookies
	}
	switch {
	case replacedNow():
		return skipReplaced
	case f.empty, f.readOnly:
		// A read-only session gets this far only destroyed: the copy
		// ends, and mints nothing, whatever was set after the Destroy.
		return removeSession
	}
	return writeSession
}

// commit decides what the response must carry for s, adds it to h and
// records s as written. It adds no cookie if it fails: a failed save leaves
// the browser's previous cookie in place. Failures that lose nothing of
// this response's (a revocation not stored) go to the session's pending.
func (e *engine) commit(h http.Header, s holder) error {
	// Change is by content, measured on exactly the bytes that would be
	// sealed.
	addVary(h)
	data, err := s.encode()
	if err != nil {
		return err
	}
	st, now := s.st(), e.now()
	f := e.facts(st, data, now)
	out := decide(f, func() bool { return e.replaced(st, now) })
	switch out {
	case keepCookies:
	case clearCookies:
		e.clear(h, st)
	case skipReplaced:
		err := ErrReplaced
		if st.held == heldReadOnly {
			err = errReadOnly
		}
		st.pending = append(st.pending, err)
		// Told: only a change made after this one is lost unheard.
		st.orig, st.flashesChanged, st.end = data, false, endNone
	case removeSession:
		if f.readOnly && !f.empty {
			st.pending = append(st.pending, errReadOnly) // what was set is not written
		}
		// A session that holds nothing is deleted rather than written: the
		// next request starts an equal one, without the cookie's weight.
		e.revoke(st, e.ended(st, now))
		if st.present|st.moved != 0 {
			e.clear(h, st)
		}
		e.unbind(h, st)
		id, created := e.lifetime(st, now)
		st.written(data, id, created, sealedTime(now), 0, "", 0)
	case writeSession:
		return e.write(h, st, data, s.subject(), now, f.invalid)
	}
	return nil
}

// facts gathers what decide goes by.
func (e *engine) facts(st *state, data []byte, now time.Time) facts {
	baseline := st.orig
	if st.end == endDestroy {
		baseline = e.zero
	}
	return facts{
		changed:   st.flashesChanged || !bytes.Equal(data, baseline),
		renewed:   st.end == endRenew,
		destroyed: st.end == endDestroy,
		stale:     st.stale,
		idleDue:   e.idle > 0 && now.Sub(st.issued) >= e.idle/3,
		invalid:   st.err != nil && st.present|st.moved != 0 && st.held == heldNothing,
		readOnly:  st.held == heldReadOnly,
		migrating: e.migration != nil,
		empty:     len(st.flashes) == 0 && bytes.Equal(data, e.zero) && e.migration == nil,
	}
}

// write seals the session, checks that its cookies will arrive whole, and
// only then revokes what the session replaces and sets the cookies.
func (e *engine) write(h http.Header, st *state, data []byte, subject string, now time.Time, invalid bool) error {
	// 1. A new lifetime for a destroyed or renewed session. An instance
	//    whose clock is behind the one that created the session (within
	//    ClockSkew) must not seal an issue time before the creation.
	id, created := e.lifetime(st, now)
	issued := later(sealedTime(now), created)
	ended := e.ended(st, now)
	gen := e.generation(st, subject, ended)

	// 2. Seal, and check the size and the next request's budget.
	binding := st.binding
	if st.unbinds() {
		binding = SessionID{}
	}
	value, err := e.format.seal(e.cookies.name, &Contents{Created: created, Issued: issued, Lifetime: e.maxAge, ID: id, Generation: gen, Binding: binding, Flashes: st.flashes, Data: data})
	if err != nil {
		return fmt.Errorf("%w: sealing: %w", ErrSaveFailed, err)
	}
	if err := e.cookies.fits(value, data, st.otherCookies, st.sentCookies); err != nil {
		return err
	}

	// 3. Revoke what the session replaces, and set the cookies for as
	//    long as the sealed deadline, never longer: Max-Age cannot say
	//    the fraction of a second.
	e.revoke(st, ended)
	deadline := created.Add(e.maxAge)
	if e.idle > 0 {
		deadline = earlier(deadline, issued.Add(e.idle))
	}
	life := deadline.Sub(now)
	if e.migration != nil {
		// The browser keeps a cookie of ours as long as it could keep the
		// old store's, and the old cookie goes wherever ours replaces it.
		life = max(life, e.migration.maxAge)
		if st.held == heldConverted || st.end == endDestroy || invalid {
			e.migration.deleteCookie(h, e.cookies)
		}
	}
	written := e.cookies.set(h, value, max(int(life/time.Second), 1), st.present)
	if st.moved != 0 {
		e.cookies.old.delete(h, st.moved)
	}
	if binding == (SessionID{}) {
		e.unbind(h, st)
		e.binding.invite(h, id, subject, now)
	}
	makePrivate(h)
	st.written(data, id, created, issued, written, subject, gen)
	return nil
}

// unbind deletes the bound cookie of a session that Destroy or Renew
// unbound.
func (e *engine) unbind(h http.Header, st *state) {
	if st.binding != (SessionID{}) && st.unbinds() {
		e.cookies.add(h, e.binding.cookie, "", -1)
	}
	st.binding = SessionID{}
}

// lifetime returns the id and creation time the session is written with:
// new for a session that Destroy or Renew ended; a new id only for one
// being bound, whose lifetime goes on.
func (e *engine) lifetime(st *state, now time.Time) (SessionID, time.Time) {
	switch st.end {
	case endNone:
		return st.id, st.created
	case endBind:
		return revocation.NewSessionID(), st.created
	}
	return revocation.NewSessionID(), sealedTime(now)
}

// clear deletes the session's cookies that came with the request, under
// either name.
func (e *engine) clear(h http.Header, st *state) {
	e.cookies.delete(h, st.present)
	if st.moved != 0 {
		e.cookies.old.delete(h, st.moved)
	}
	makePrivate(h)
	st.present, st.moved = 0, 0
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// dirty reports whether s changed since it was loaded or last written.
func (e *engine) dirty(s holder) bool {
	st := s.st()
	if st.flashesChanged || st.end != endNone {
		return true
	}
	data, err := s.encode()
	return err != nil || !bytes.Equal(data, st.orig)
}

// written records that the session was written (or deleted) as data, so
// that later changes are measured from there.
func (st *state) written(data []byte, id SessionID, created, issued time.Time, present uint32, subject string, gen uint64) {
	st.orig = data
	st.id, st.created, st.issued = id, created, issued
	st.subject, st.generation = subject, gen
	st.present, st.moved = present, 0
	st.held = heldNothing
	if present != 0 {
		st.held = heldCookie
	}
	st.cookieFlashes, st.flashesChanged = len(st.flashes), false
	st.end, st.stale = endNone, false
}
