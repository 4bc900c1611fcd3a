package cookiesession

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// Manager seals, opens and writes sessions of type T. Make one with New and
// share it: it is immutable and safe for concurrent use.
type Manager[T any] struct {
	keys        *Keyring
	format      format // seals, and opens first
	alt         format // the other format: opens only, and its values are sealed again
	name        string
	cookie      http.Cookie // the attributes of every Set-Cookie line
	chunkSize   int         // the longest part of a value one cookie carries
	names       []string    // the cookies' names: name, name.1, ... as many as a value may take
	maxAge      time.Duration
	idle        time.Duration
	maxSize     int
	serializer  Serializer
	logger      *slog.Logger
	onError     func(http.ResponseWriter, *http.Request, error)
	validator   func(*http.Request, *Session[T]) error
	revocations RevocationStore // nil: no revocation
	subject     func(T) string  // nil: sessions have no subject
	now         func() time.Time
	newData     func() T
	isMap       bool   // T is a map type: Data is never left nil (fillNilMap)
	zero        []byte // newData() serialised: the content of an untouched session
	migration   *gorillaMigration[T]
	sharedName  *sync.Once  // the warning that another Manager uses the name
	old         *Manager[T] // the same, under the name earlier releases used by default; nil if none
}

// New returns a Manager for sessions of type T sealed with keys, configured
// by options. It checks every option and returns an error naming the first
// problem; the Manager never changes afterwards.
//
// T can be any type its Serializer handles: a struct for typed sessions, or
// a map for a bag of values.
func New[T any](keys *Keyring, options ...Option) (*Manager[T], error) {
	if keys == nil || len(keys.keys) == 0 {
		return nil, errors.New("cookiesession: New needs a Keyring; make one with KeyringFromEnv or NewKeyring")
	}
	c := defaultConfig()
	for _, o := range options {
		if o == nil {
			return nil, errors.New("cookiesession: New was given a nil Option")
		}
		o(&c)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("cookiesession: %w", err)
	}
	m := &Manager[T]{
		keys:        keys,
		format:      keys,
		alt:         gorillaFormat{keys},
		name:        c.name,
		maxAge:      c.maxAge,
		idle:        c.idle,
		maxSize:     c.maxSize,
		serializer:  c.serializer,
		logger:      c.logger,
		onError:     c.onError,
		revocations: c.revocations,
		now:         c.now,
		sharedName:  new(sync.Once),
	}
	if c.gorillaFormat {
		m.format, m.alt = m.alt, m.format
	}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	if err := m.takeTyped(&c); err != nil {
		return nil, fmt.Errorf("cookiesession: %w", err)
	}
	if err := m.setupCookies(&c); err != nil {
		return nil, fmt.Errorf("cookiesession: %w", err)
	}
	if c.oldName != "" {
		// Reads cookies under the default name of earlier releases, as
		// sealed for that name, and deletes them once moved.
		old := *m
		old.name, old.names, old.old = c.oldName, nil, nil
		for i := range m.names {
			old.names = append(old.names, chunkName(c.oldName, i))
		}
		m.old = &old
	}
	return m, nil
}

// Name returns the name of the Manager's cookie: the one given to
// WithName, or the default the attributes allow (see DefaultName).
func (m *Manager[T]) Name() string { return m.name }

// takeTyped sets up what depends on T: the options given as functions of
// it, which New checks against T, and the new session's data.
func (m *Manager[T]) takeTyped(c *config) error {
	t := reflect.TypeFor[T]()
	if c.validator != nil {
		v, ok := c.validator.(func(*http.Request, *Session[T]) error)
		if !ok {
			return fmt.Errorf("WithValidator was given %T, but the Manager's sessions are *Session[%v]", c.validator, t)
		}
		m.validator = v
	}
	if c.subject != nil {
		fn, ok := c.subject.(func(T) string)
		if !ok {
			return fmt.Errorf("WithSubject was given %T, but the Manager's sessions hold %v", c.subject, t)
		}
		m.subject = fn
	}
	if c.migration != nil {
		mig, ok := c.migration.(*gorillaMigration[T])
		if !ok {
			return fmt.Errorf("WithGorillaMigration converts to %s, but the Manager's sessions hold %v",
				c.migration.(interface{ target() string }).target(), t)
		}
		m.migration = mig
	}
	if tc, ok := m.serializer.(TypeChecker); ok {
		if err := tc.CheckType(t); err != nil {
			return fmt.Errorf("session type %v: %w", t, err)
		}
	}
	m.newData = func() T { var zero T; return zero }
	if t.Kind() == reflect.Map {
		m.isMap = true
		m.newData = func() T { return reflect.MakeMap(t).Interface().(T) }
	}
	zero := m.newData()
	var err error
	if m.zero, err = m.serializer.Marshal(&zero); err != nil {
		return fmt.Errorf("the serializer cannot encode %v: %w", t, err)
	}
	return nil
}

// newSession makes s a fresh session, started now, and returns it.
func (m *Manager[T]) newSession(s *Session[T], now time.Time, present uint32, err error) *Session[T] {
	*s = Session[T]{
		m:       m,
		Data:    m.newData(),
		id:      revocation.NewSessionID(),
		created: sealedTime(now),
		issued:  sealedTime(now),
		isNew:   true,
		err:     err,
		orig:    m.zero,
		present: present,
	}
	return s
}

// fillNilMap gives a map session whose Data is nil an empty map, so that
// Data is ready for assignment on every request, as documented. A handler
// that sets Data to nil has emptied the session; a cookie may hold null
// (encoding/json decodes it as a nil map) if an earlier version of the
// application wrote one.
func (m *Manager[T]) fillNilMap(s *Session[T]) {
	if m.isMap && reflect.ValueOf(&s.Data).Elem().IsNil() {
		s.Data = m.newData()
	}
}

// Load opens the request's session cookie and returns its session, or a new
// one if there is no valid cookie (see Session.Err for why). With the
// middleware, use Get instead; Load and Save are for code that cannot use
// it. Each call opens the cookie again.
func (m *Manager[T]) Load(r *http.Request) *Session[T] {
	return m.load(r, m.now(), new(Session[T]))
}

// load opens the request's session into s, which the middleware allocates
// with its other per-request state, and returns s.
func (m *Manager[T]) load(r *http.Request, now time.Time, s *Session[T]) *Session[T] {
	j := m.readJar(r)
	s = m.loadCookies(r, &j, now, s)
	s.req = r
	s.otherCookies = j.others
	if s.err != nil {
		// Not a warning: a cookie is untrusted input, and anyone could
		// fill the logs. One setting shows why sessions start afresh.
		m.logger.LogAttrs(r.Context(), slog.LevelDebug, "cookiesession: session cookie not used; the request gets a new session",
			slog.String("cookie", m.name), slog.String("path", r.URL.Path), slog.Any("error", s.err))
	}
	return s
}

// loadCookies opens the request's cookies into s and returns s.
//
// The name may come more than once (cookies of other paths or domains, or
// planted by a sibling subdomain): the first value that opens wins. If none
// does, the session's error says why the first value of ours that
// authenticated was refused (expired, revoked, rejected); failing that,
// why the first value did not open, unless a gorilla session was found
// that could not be taken over: then why not.
func (m *Manager[T]) loadCookies(r *http.Request, j *jar, now time.Time, s *Session[T]) *Session[T] {
	if j.old != nil {
		return m.loadOld(r, j, now, s)
	}
	if j.present == 0 {
		return m.newSession(s, now, 0, nil)
	}
	if len(j.values[0]) == 0 {
		// The session cannot be opened without its first part. The chunks
		// are deleted: a client that dropped the main cookie because its
		// Cookie header was over a limit would otherwise keep sending
		// them, and keep dropping the main cookie of every new session.
		return m.newSession(s, now, j.present, fmt.Errorf("%w: chunk cookies came without the main cookie %q, with %d bytes of other cookies: did the client drop it for a Cookie header over its limit?",
			ErrMalformed, m.name, j.others))
	}
	o := openOptions{now: now, maxAge: m.maxAge, idleTimeout: m.idle, maxLength: m.maxSize}
	var why refusals
	for _, main := range j.values[0] {
		err := m.openValue(r, j, main, &o, s)
		if err == nil {
			s.present = j.present
			return s
		}
		why.note(main, err, s.id, s.subject, s.generation)
	}
	return m.refused(r, j, now, s, &why)
}

// refusals are why the values of the main cookie did not open, kept to
// choose what the request's fresh session says, and whether a gorilla
// cookie may be among them.
type refusals struct {
	first       error    // the first value's
	notOurs     []string // values no key of ours authenticated: perhaps gorilla's
	ours        error    // why a value of ours that authenticated was not used
	unavailable error    // why the revocation store could not vouch for one
	// The session of the value the store could not vouch for: its cookie
	// is kept, and ending the request's session still revokes it.
	kept struct {
		id         SessionID
		subject    string
		generation uint64
	}
}

// note records why value, whose session had this id, subject and
// generation, did not open.
func (w *refusals) note(value string, err error, id SessionID, subject string, generation uint64) {
	if w.first == nil {
		w.first = err
	}
	switch {
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrAuthentication):
		w.notOurs = append(w.notOurs, value)
	case errors.Is(err, ErrRevocationsUnavailable):
		if w.unavailable == nil {
			w.unavailable = err
			w.kept.id, w.kept.subject, w.kept.generation = id, subject, generation
		}
	case w.ours == nil && (errors.Is(err, ErrExpired) || errors.Is(err, ErrRevoked) || errors.Is(err, ErrRejected)):
		w.ours = err
	}
}

// refused makes s the fresh session of a request whose cookies did not
// open, choosing by precedence what it says: that the store could not
// tell (the cookie may be good once it is back), then why a value of ours
// was refused (it says more than a value that was never ours, and it
// means that this browser was served since a gorilla migration began: no
// gorilla cookie comes back to life there), then a gorilla cookie taken
// over, then why the first value did not open.
func (m *Manager[T]) refused(r *http.Request, j *jar, now time.Time, s *Session[T], w *refusals) *Session[T] {
	switch {
	case w.unavailable != nil:
		s = m.newSession(s, now, j.present, w.unavailable)
		s.id, s.idGiven, s.subject, s.generation = w.kept.id, true, w.kept.subject, w.kept.generation
		return s
	case w.ours != nil:
		return m.newSession(s, now, j.present, w.ours)
	case m.migration != nil && len(w.notOurs) > 0:
		return m.loadGorilla(r, now, s, j.present, w.notOurs, w.first)
	}
	return m.newSession(s, now, j.present, w.first)
}

// loadOld opens a session whose cookies came under the name earlier
// releases used by default, unless cookies under the current name came too,
// and marks the old ones to be deleted: the response that writes the
// session under the current name, or clears a cookie that did not open,
// deletes them.
func (m *Manager[T]) loadOld(r *http.Request, j *jar, now time.Time, s *Session[T]) *Session[T] {
	old := j.old
	j.old = nil
	if j.present != 0 {
		// The current name wins, and the old one is left alone: it may be
		// another application's (a parent domain's "session"), which a
		// deletion here would not reach, and ours expires on its own.
		return m.loadCookies(r, j, now, s)
	}
	s = m.old.loadCookies(r, old, now, s)
	s.m, s.present, s.moved = m, 0, old.present
	s.stale = s.stale || s.err == nil
	return s
}

// openValue assembles main, a value of the main cookie, with its chunks
// and opens it, in either format, into s, which it then admits. It returns
// an error, and leaves s to be reset, if the value does not open or is not
// admitted.
func (m *Manager[T]) openValue(r *http.Request, j *jar, main string, o *openOptions, s *Session[T]) error {
	value, err := m.assemble(j, main)
	if err != nil {
		return err
	}
	e, err := m.format.open(m.name, value, o)
	if errors.Is(err, ErrMalformed) {
		// Not in the sealing format: perhaps in the other one, written
		// before the application switched.
		if e2, err2 := m.alt.open(m.name, value, o); !errors.Is(err2, ErrMalformed) {
			e, err = e2, err2
			e.stale = true
		}
	}
	if err != nil {
		return err
	}
	*s = Session[T]{
		m:             m,
		Data:          m.newData(),
		created:       e.created,
		issued:        e.issued,
		id:            e.id,
		idGiven:       true,
		generation:    e.generation,
		flashes:       e.flashes,
		cookieFlashes: len(e.flashes),
		stale:         e.stale,
		orig:          e.data,
	}
	if err := m.serializer.Unmarshal(e.data, &s.Data); err != nil {
		return fmt.Errorf("%w: the data does not decode into %v: %v", ErrMalformed, reflect.TypeFor[T](), err)
	}
	m.fillNilMap(s) // a map cookie may hold null
	return m.admit(r, s, o.now)
}

// admit checks a session that opened (or was converted from a gorilla
// cookie) against the revocations, then the validator: a session either
// refuses is not used. One within a Renew's grace is used, read-only.
func (m *Manager[T]) admit(r *http.Request, s *Session[T], now time.Time) error {
	s.subject = m.subjectOf(s.Data)
	if m.revocations != nil && s.subject != "" {
		if err := m.revocations.Check(s.subject, s.id, s.generation, now); errors.Is(err, ErrReplaced) {
			s.readOnly = true
		} else if err != nil {
			return err
		}
	}
	if m.validator != nil {
		if err := m.validator(r, s); err != nil {
			return fmt.Errorf("%w: %w", ErrRejected, err)
		}
	}
	return nil
}

// subjectOf names the user a session's data belongs to, "" for none.
func (m *Manager[T]) subjectOf(data T) string {
	if m.subject == nil {
		return ""
	}
	return m.subject(data)
}

// SignOutEverywhere revokes every session of subject, on every instance
// that shares the Manager's RevocationStore: the answer to "sign me out
// everywhere", and to an account that was disabled. It raises the
// subject's generation, and a session is refused if the generation sealed
// into its cookie when it was signed in is lower: no clock is compared, so
// a session that another instance started a moment before is refused too,
// whatever the instances' clocks say. The request's own session is
// refused from the next request on; to keep this device signed in, call
// its Renew after SignOutEverywhere. The error wraps ErrRevocationFailed if
// the store could not record the revocation.
func (m *Manager[T]) SignOutEverywhere(ctx context.Context, subject string) error {
	switch {
	case m.revocations == nil:
		return errors.New("cookiesession: SignOutEverywhere needs revocation, which WithSubject turns on")
	case subject == "":
		return errors.New("cookiesession: SignOutEverywhere was given an empty subject; sessions without a subject cannot be signed out this way")
	}
	now := m.now()
	gen, _ := m.revocations.Generation(subject)
	r := revocation.Revoked{Generation: revocation.NextGeneration(gen, now), GenerationUntil: m.forgetAt(now)}
	if err := m.revocations.Revoke(ctx, subject, r); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationFailed, err)
	}
	return nil
}

// Save writes the session's cookies into w's headers, if anything needs
// writing, exactly as the middleware would. Call it before the response's
// headers are written. It returns an error wrapping ErrSaveFailed, and
// writes nothing, if the session cannot be saved. With the middleware,
// Save is never needed; called there after the headers went out on a
// changed session, it returns an error wrapping ErrChangeAfterCommit, and
// the middleware reports the change as lost.
func (m *Manager[T]) Save(w http.ResponseWriter, s *Session[T]) error {
	if s.st != nil && s.st.isCommitted() {
		if !m.dirty(s) {
			return nil // nothing to write that could still be written
		}
		// Setting headers now would do nothing, and the session would
		// pass for written; left as it is, the middleware reports the
		// change as lost when the handler returns.
		return fmt.Errorf("%w: Save called after the response headers were sent", ErrChangeAfterCommit)
	}
	err := m.commit(w.Header(), s)
	m.reportPending(w, s)
	return err
}
