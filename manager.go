package cookiesession

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
)

// Manager seals, opens and writes sessions of type T. Make one with New and
// share it: it is immutable and safe for concurrent use.
type Manager[T any] struct {
	e     *engine
	hooks hooks[T]
}

// New returns a Manager for sessions of type T sealed with keys, configured
// by options. It checks every option and returns an error naming the first
// problem; the Manager never changes afterwards. T can be any type its
// Serializer handles: a struct for typed sessions, or a map for a bag of
// values.
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
	m := &Manager[T]{hooks: hooks[T]{serializer: c.serializer, isMap: reflect.TypeFor[T]().Kind() == reflect.Map}}
	mig, err := m.typed(&c)
	if err != nil {
		return nil, fmt.Errorf("cookiesession: %w", err)
	}
	zero := m.hooks.blank()
	data, err := m.hooks.marshal(&zero)
	if err != nil {
		return nil, fmt.Errorf("cookiesession: the serializer cannot encode %v: %w", reflect.TypeFor[T](), err)
	}
	if m.e, err = newEngine(keys, &c, data, mig); err != nil {
		return nil, fmt.Errorf("cookiesession: %w", err)
	}
	return m, nil
}

// typed takes the options given as functions of T, which it checks
// against T, and returns the gorilla migration, if any, converting to T.
func (m *Manager[T]) typed(c *config) (*gorillaMigration, error) {
	t := reflect.TypeFor[T]()
	if tc, ok := c.serializer.(TypeChecker); ok {
		if err := tc.CheckType(t); err != nil {
			return nil, fmt.Errorf("session type %v: %w", t, err)
		}
	}
	var ok bool
	if m.hooks.validator, ok = c.validator.(func(*http.Request, *Session[T]) error); c.validator != nil && !ok {
		return nil, fmt.Errorf("WithValidator was given %T, but the Manager's sessions are *Session[%v]", c.validator, t)
	}
	if m.hooks.subject, ok = c.subject.(func(T) string); c.subject != nil && !ok {
		return nil, fmt.Errorf("WithSubject was given %T, but the Manager's sessions hold %v", c.subject, t)
	}
	if c.migration == nil {
		return nil, nil
	}
	convert, ok := c.convert.(func(map[any]any) (T, error))
	if !ok {
		return nil, fmt.Errorf("WithGorillaMigration converts to %v, but the Manager's sessions hold %v", reflect.TypeOf(c.convert).Out(0), t)
	}
	mig := *c.migration
	mig.convert = func(values map[any]any) ([]byte, error) {
		d, err := convert(values)
		if err != nil {
			return nil, err
		}
		return m.hooks.marshal(&d)
	}
	return &mig, nil
}

// Name returns the name of the Manager's cookie: the one given to
// WithName, or the default the attributes allow (see DefaultName).
func (m *Manager[T]) Name() string { return m.e.cookies.name }

// newHolder returns a session for the middleware to load into.
func (m *Manager[T]) newHolder() holder { return &Session[T]{hooks: &m.hooks} }

// Load opens the request's session cookie and returns its session, or a new
// one if there is no valid cookie (see Session.Err for why). With the
// middleware, use Get instead; Load and Save are for code that cannot use
// it. Each call opens the cookie again.
func (m *Manager[T]) Load(r *http.Request) *Session[T] {
	s := &Session[T]{hooks: &m.hooks}
	m.e.load(r, m.e.now(), s)
	return s
}

// Save writes the session's cookies into w's headers, if anything needs
// writing, exactly as the middleware would; call it before the headers are
// written. If the session cannot be saved, it writes nothing and returns
// an error wrapping ErrSaveFailed. The middleware needs no Save; called
// there on a changed session after the headers went out, it returns an
// error wrapping ErrChangeAfterCommit, and the middleware reports the
// change as lost.
func (m *Manager[T]) Save(w http.ResponseWriter, s *Session[T]) error {
	return m.e.save(w, s)
}

// Handler returns middleware that gives next's requests a session, through
// Get. The cookie is opened only when a handler first calls Get, and
// written back just before the response headers leave, only if it must be:
// when the session changed, was destroyed or renewed, was sealed by an older
// key or under another WithMaxAge, is due for an idle refresh, or came in
// invalid.
//
// The response is not buffered: streaming, flushing, io.ReaderFrom and
// hijacking work as without the middleware, and http.ResponseController
// reaches the original writer through Unwrap.
//
// Put it inside http.TimeoutHandler, not around it: TimeoutHandler sends
// its 503 from a goroutine of its own while the handler runs on, which
// would race with the handler over the session. Inside, a session
// written into a response that timed out is lost with the response, and
// reported as ErrSaveFailed, wrapping http.ErrHandlerTimeout, when a write
// of the handler's returns that error.
func (m *Manager[T]) Handler(next http.Handler) http.Handler {
	return m.e.handler(next, m)
}

// Get returns the request's session, opening its cookie on first use. The
// request must have come through m.Handler, whose handler has not
// returned: calling Get on any other request, or from a goroutine after
// the handler returned, is a programming error and panics (such a
// goroutine takes the *Session, not the request). A cookie that does not open
// gives a new, empty session: see Session.Err for why. Call Get before
// writing the response: a session first asked for after the headers went
// out cannot add Vary: Cookie to them, nor refresh or clear the cookie;
// that is logged as a warning, and a change made to it is reported as
// ErrChangeAfterCommit.
func (m *Manager[T]) Get(r *http.Request) *Session[T] {
	return m.e.get(r).(*Session[T])
}

// SignOutEverywhere revokes every session of subject, on every instance
// that shares the Manager's RevocationStore: the answer to "sign me out
// everywhere", and to an account that was disabled. It raises the
// subject's generation, and a session sealed under a lower one is
// refused: no clock is compared, so a session that another instance
// started a moment before is refused too. The request's own session is
// refused from the next request on; to keep this device signed in, call
// its Renew after SignOutEverywhere. It returns an error if the Manager
// has no revocation (see WithSubject) or subject is empty, and one
// wrapping ErrRevocationFailed if the store could not record it.
func (m *Manager[T]) SignOutEverywhere(ctx context.Context, subject string) error {
	return m.e.signOutEverywhere(ctx, subject)
}
