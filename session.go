package cookiesession

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// Errors a Session or the error handler may report, beside the codec's.
var (
	// ErrRejected: the cookie opened but the validator (WithValidator)
	// refused it. The validator's own error is wrapped too.
	ErrRejected = errors.New("session rejected by the validator")
	// ErrSaveFailed: the session could not be written (too large, or the
	// serializer failed); the cause is wrapped too. The browser keeps its
	// previous cookie.
	ErrSaveFailed = errors.New("session not saved")
	// ErrChangeAfterCommit: the session changed after the response headers
	// had been sent, so the change could not reach the browser.
	ErrChangeAfterCommit = errors.New("session changed after the response was committed")
)

// Defaults of the options.
const (
	DefaultName   = "session"
	DefaultMaxAge = 24 * time.Hour
)

// Session is one request's session. Its Data is the application's value,
// read and changed directly; the middleware notices changes by content, so
// there is no Save to forget.
//
// A Session belongs to one request and is not safe for concurrent use by
// several goroutines, just like a map.
type Session[T any] struct {
	// Data is the application's session data. For a new session it is the
	// zero value of T, except that a map is never nil: it starts empty,
	// ready for assignment, and setting it to nil empties the session.
	Data T

	m       *Manager[T]
	created time.Time
	issued  time.Time
	isNew   bool
	err     error
	flashes []string
	// cookieFlashes is how many flashes the cookie holds: reading them
	// all changes the cookie only if it held some.
	cookieFlashes int
	// flashDiff, destroyed and renewed record changes that Data does not
	// show. All three are cleared when the session is written.
	flashDiff bool
	destroyed bool
	renewed   bool
	stale     bool
	keyID     KeyID
	// orig is Data serialised as it arrived (or as a new session starts),
	// to detect change by content; snap is a deep copy of Data from the
	// same moment, compared first because that is cheaper (snapshot.go).
	orig   []byte
	snap   T
	snapOK bool
	// present has bit i set when cookie i (0: the main cookie, i > 0:
	// chunk i) came with the request, so that it can be deleted.
	present uint32
	// cached is the remembered value (cache.go) the session was loaded
	// from or last written as; a response that replaces it forgets it.
	cached string
	// pending is a failure found while loading (a gorilla session that
	// did not convert) for the error handler, which needs the response
	// writer and so hears of it at commit; req is the request it came in.
	pending error
	req     *http.Request
	// st is the middleware's state for the request, if the session came
	// from Get: Save asks it whether the headers are gone.
	st *reqState[T]
}

// IsNew reports whether the request brought no valid session cookie.
func (s *Session[T]) IsNew() bool { return s.isNew }

// Err returns why the request's session cookie was not used, wrapping one of
// ErrMalformed, ErrExpired, ErrUnknownKey, ErrAuthentication, ErrTooLarge,
// ErrRejected or (with WithGorillaMigration) ErrMigration; nil when the
// cookie opened or there was none. The session is new and empty in either
// case: this is for logging and metrics only.
func (s *Session[T]) Err() error { return s.err }

// Created returns when the session's lifetime began: when it was loaded as
// a new session, or the last Renew or Destroy (which take effect when the
// response is written). The absolute lifetime (WithMaxAge) counts from here.
//
// Like Issued, it is in whole seconds, rounded up, as the cookie carries
// it, on every instance alike. A validator that compares it with a stored
// time, such as "signed out everywhere at", should reject sessions created
// at or before that time: one renewed just after it, in the same second,
// is then kept.
func (s *Session[T]) Created() time.Time { return s.created }

// Issued returns when the cookie the request brought was sealed (for a new
// session, when the session was loaded), in whole seconds, rounded up. The
// idle timeout counts from here.
func (s *Session[T]) Issued() time.Time { return s.issued }

// KeyID returns the id of the key that sealed the request's cookie, and
// whether the cookie is stale, so that it will be sealed again: its key is
// not the newest, or it is in the format the Manager does not seal in (see
// WithSecureCookieFormat). For a new session it returns the zero KeyID and
// false.
func (s *Session[T]) KeyID() (id KeyID, stale bool) { return s.keyID, s.stale }

// Destroy ends the session: Data is reset and the cookies are deleted from
// the browser. If Data or flashes are set again after Destroy, a new session
// with a new lifetime is written instead, so "signed out" can be flashed.
func (s *Session[T]) Destroy() {
	s.Data = s.m.newData()
	s.flashes = nil
	s.flashDiff = false
	s.destroyed = true
}

// Renew starts a new lifetime for the session, keeping Data: the absolute
// lifetime counts again from now, and a fresh cookie is written. Call it on
// sign-in and on every change of privilege, so that a cookie captured before
// cannot stand for the new state longer than it would have.
func (s *Session[T]) Renew() {
	s.renewed = true
}

// AddFlash queues a one-time message, read by Flashes on a later request
// (typically after a redirect).
func (s *Session[T]) AddFlash(msg string) {
	s.flashes = append(s.flashes, msg)
	s.flashDiff = true
}

// Flashes returns the queued messages and removes them from the session:
// each is read once.
func (s *Session[T]) Flashes() []string {
	f := s.flashes
	if len(f) > 0 {
		s.flashes = nil
		// Flashes added and read by the same request leave the cookie as
		// it came: it need not be sealed again for them.
		s.flashDiff = s.cookieFlashes > 0
	}
	return f
}

// Option configures a Manager. Options are checked once, by New.
type Option func(*config)

type config struct {
	name, path, domain string
	maxAge, idle       time.Duration
	sameSite           http.SameSite
	secure             bool
	maxSize            int
	serializer         Serializer
	logger             *slog.Logger
	onError            func(http.ResponseWriter, *http.Request, error)
	validator          any // func(*http.Request, *Session[T]) error
	now                func() time.Time
	secureCookie       bool
	cacheSize          int
	migration          any // *gorillaMigration[T], set by WithGorillaMigration
	errs               []error
}

// WithName sets the cookie name. A name starting with "__Host-" makes the
// browser insist on Secure, Path "/" and no Domain, which New checks. A
// session too large for one cookie continues in chunks named name.1 to
// name.15: no other cookie may use those names, and New refuses a name
// that is itself one of them. The default is "session".
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithPath sets the cookie's Path. The default is "/".
func WithPath(path string) Option { return func(c *config) { c.path = path } }

// WithDomain sets the cookie's Domain, to share the session with
// subdomains. The default is none: the cookie goes back only to the host
// that set it.
func WithDomain(domain string) Option { return func(c *config) { c.domain = domain } }

// WithMaxAge sets the absolute lifetime of a session, counted from its
// creation or last Renew and enforced from the time sealed in the cookie.
// The default is 24 hours.
func WithMaxAge(d time.Duration) Option { return func(c *config) { c.maxAge = d } }

// WithIdleTimeout ends a session that has not been used for d. The cookie is
// then re-issued once half of d has passed since it was sealed, not on every
// request. The default is no idle timeout.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// WithSameSite sets the cookie's SameSite attribute. SameSiteNoneMode
// requires Secure. The default is http.SameSiteLaxMode.
func WithSameSite(mode http.SameSite) Option { return func(c *config) { c.sameSite = mode } }

// WithSecure sets the cookie's Secure attribute. Turn it off only for local
// development over plain HTTP. The default is true.
func WithSecure(secure bool) Option { return func(c *config) { c.secure = secure } }

// WithMaxSize caps the sealed session's length in bytes, across all its
// chunk cookies. A save beyond it fails (see WithErrorHandler) and the
// browser keeps its previous cookie. The default is DefaultMaxSize, which
// keeps the Cookie header under 8 KB.
func WithMaxSize(n int) Option { return func(c *config) { c.maxSize = n } }

// WithSerializer sets how Data is serialised. It should keep sessions
// readable across deploys that add or remove fields. The default is
// JSONSerializer, which a Manager runs compiled for its T: the same bytes
// and values as encoding/json, several times faster.
func WithSerializer(s Serializer) Option { return func(c *config) { c.serializer = s } }

// WithLogger sets where failures are logged. The default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the source of the current time, for tests. The default is
// time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithCacheSize sets how many recently opened or sealed cookie values the
// Manager remembers, decoded. A browser sends the same value until a
// response changes it, so most requests then skip decryption and
// decoding; deadlines and the validator are still checked every time. A
// value is forgotten as soon as a response replaces it. Each entry holds a
// copy of the session (about 1 KB for a typical one). Zero turns the cache
// off. The default is DefaultCacheSize.
func WithCacheSize(n int) Option { return func(c *config) { c.cacheSize = n } }

// WithSecureCookieFormat seals sessions in gorilla/securecookie's format
// (AES-256-CTR and HMAC-SHA256) instead of the default XChaCha20-Poly1305,
// with keys derived from the same Keyring. Expiry, rotation and re-sealing
// work as with the default; the value carries no key id, so opening tries
// the keys in turn. Whichever format seals, cookies in the other still
// open and are sealed again in the chosen one, so switching signs no one
// out. The default is the XChaCha20-Poly1305 format, which most
// applications keep.
func WithSecureCookieFormat() Option { return func(c *config) { c.secureCookie = true } }

// WithErrorHandler sets the function told of failures that lose data: a
// save that failed (ErrSaveFailed) and a change made after the response was
// committed (ErrChangeAfterCommit), and of a gorilla cookie that could not be
// converted (ErrMigration). Each error is logged before the handler runs.
// Inside the middleware, r is the request the session was first asked for
// with (the one given to Get), so values that inner middleware added to
// its context are there.
//
// For a failed save, w has not been written to: if the handler writes a
// response, it replaces the application's (whose further writes are
// discarded); if it writes nothing, the application's response goes out
// without a session cookie. For the other errors the response is already
// on its way and w is for reference only.
//
// The default writes a 500 Internal Server Error for a failed save, in place
// of the application's response: the headers that described that response
// (Location, Content-Disposition, its caching and the like) are removed,
// and the 500 is marked no-store.
func WithErrorHandler(fn func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(c *config) { c.onError = fn }
}

// WithValidator sets a function that runs after a cookie opens and may
// reject it by returning an error; the request then gets a fresh session
// whose Err wraps ErrRejected. With Created and Issued at hand it is the way
// to revoke stateless sessions: compare them with, say, a per-user "signed
// out everywhere at" time kept in the application's database. r is the
// request given to Get (or Load), with whatever inner middleware added to
// its context. The default is no validator.
//
// The Session's type must match the Manager's: New reports a mismatch.
func WithValidator[T any](fn func(r *http.Request, s *Session[T]) error) Option {
	return func(c *config) { c.validator = fn }
}

// Manager seals, opens and writes sessions of type T. Make one with New and
// share it: it is immutable and safe for concurrent use.
type Manager[T any] struct {
	keys       *Keyring
	format     format // seals, and opens first
	alt        format // the other format: opens only, and the value is re-sealed
	name       string
	names      []string // the main cookie and its chunks: name, name.1, ...
	cookieTail string   // the attributes after Max-Age, rendered once
	cookieHead string   // "; Path=...; Domain=..." before Max-Age
	maxAge     time.Duration
	idle       time.Duration
	maxSize    int
	chunkSize  int
	serializer Serializer
	// jsonEnc and jsonDec stand in for the default serializer: compiled for
	// T, they write and read exactly what encoding/json does (jsonfields.go).
	// nil with another serializer, or for types they cannot help with.
	jsonEnc   *jsonEncoder
	jsonDec   *jsonDecoder
	jsonExact bool // the default serializer, and jsonRoundTrips(T)
	logger    *slog.Logger
	onError   func(http.ResponseWriter, *http.Request, error)
	validator func(*http.Request, *Session[T]) error
	now       func() time.Time
	newData   func() T
	isMap     bool           // T is a map type: Data is never left nil (fillNilMap)
	zero      []byte         // newData() serialised: the content of an untouched session
	snapper   snapshotter[T] // copies and compares Data (snapshot.go)
	cache     *openCache[T]  // nil when off (cache.go)
	migration *gorillaMigration[T]
}

// New returns a Manager for sessions of type T sealed with keys, configured
// by options. It checks every option and returns an error naming the first
// problem; the Manager never changes afterwards.
//
// T can be any type its Serializer handles: a struct for typed sessions, or
// a map for a bag of values.
func New[T any](keys *Keyring, options ...Option) (*Manager[T], error) {
	if keys == nil || keys.Len() == 0 {
		return nil, errors.New("cookiesession: New needs a Keyring; make one with KeyringFromEnv or NewKeyring")
	}
	c := config{
		name:       DefaultName,
		path:       "/",
		maxAge:     DefaultMaxAge,
		sameSite:   http.SameSiteLaxMode,
		secure:     true,
		maxSize:    DefaultMaxSize,
		serializer: JSONSerializer{},
		now:        time.Now,
		cacheSize:  DefaultCacheSize,
	}
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
		keys:       keys,
		format:     v1Format{keys},
		alt:        newSecureCookieFormat(keys, c.maxSize),
		name:       c.name,
		maxAge:     c.maxAge,
		idle:       c.idle,
		maxSize:    c.maxSize,
		serializer: c.serializer,
		logger:     c.logger,
		onError:    c.onError,
		now:        c.now,
	}
	if c.secureCookie {
		m.format, m.alt = m.alt, m.format
	}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	if c.validator != nil {
		v, ok := c.validator.(func(*http.Request, *Session[T]) error)
		if !ok {
			return nil, fmt.Errorf("cookiesession: WithValidator was given %T, but the Manager's sessions are *Session[%v]",
				c.validator, reflect.TypeFor[T]())
		}
		m.validator = v
	}
	if c.migration != nil {
		mig, ok := c.migration.(*gorillaMigration[T])
		if !ok {
			return nil, fmt.Errorf("cookiesession: WithGorillaMigration converts to %s, but the Manager's sessions hold %v",
				c.migration.(interface{ target() string }).target(), reflect.TypeFor[T]())
		}
		m.migration = mig
	}
	if reflect.TypeFor[T]().Kind() == reflect.Map {
		mt := reflect.TypeFor[T]()
		m.isMap = true
		m.newData = func() T { return reflect.MakeMap(mt).Interface().(T) }
	} else {
		m.newData = func() T { var zero T; return zero }
	}
	if _, ok := m.serializer.(JSONSerializer); ok {
		t := reflect.TypeFor[T]()
		m.jsonEnc = newJSONEncoder(t)
		m.jsonExact = jsonRoundTrips(t)
		if t.Kind() != reflect.Map { // a map's new data is not its zero value
			m.jsonDec = newJSONDecoder(t)
		}
	}
	m.snapper = newSnapshotter[T]()
	if m.snapper.ok() {
		m.cache = newOpenCache[T](c.cacheSize)
	}
	zero := m.newData()
	var err error
	if m.zero, err = m.serializer.Marshal(&zero); err != nil {
		return nil, fmt.Errorf("cookiesession: the serializer cannot encode %v: %w", reflect.TypeFor[T](), err)
	}
	if err := m.setupCookies(&c); err != nil {
		return nil, fmt.Errorf("cookiesession: %w", err)
	}
	return m, nil
}

func (c *config) check() error {
	if len(c.errs) > 0 {
		return c.errs[0]
	}
	probe := http.Cookie{Name: c.name, Value: "x", Path: c.path, Domain: c.domain}
	if err := probe.Valid(); err != nil {
		return fmt.Errorf("invalid cookie settings (name %q, path %q, domain %q): %w", c.name, c.path, c.domain, err)
	}
	if i := strings.LastIndexByte(c.name, '.'); i > 0 && chunkNumber(c.name[i+1:]) > 0 {
		return fmt.Errorf("cookie name %q is the name of a chunk of cookie %q, which another Manager may use; pick a name without the .%s",
			c.name, c.name[:i], c.name[i+1:])
	}
	if strings.HasPrefix(c.name, "__Host-") {
		switch {
		case !c.secure:
			return fmt.Errorf("cookie name %q requires Secure; remove WithSecure(false) or drop the __Host- prefix", c.name)
		case c.path != "/":
			return fmt.Errorf("cookie name %q requires Path \"/\", not %q; remove WithPath or drop the __Host- prefix", c.name, c.path)
		case c.domain != "":
			return fmt.Errorf("cookie name %q forbids a Domain, got %q; remove WithDomain or drop the __Host- prefix", c.name, c.domain)
		}
	}
	if strings.HasPrefix(c.name, "__Secure-") && !c.secure {
		return fmt.Errorf("cookie name %q requires Secure; remove WithSecure(false) or drop the __Secure- prefix", c.name)
	}
	if c.sameSite == http.SameSiteNoneMode && !c.secure {
		return errors.New("SameSite=None requires Secure; browsers refuse the cookie otherwise")
	}
	if c.cacheSize < 0 {
		return fmt.Errorf("WithCacheSize(%d): must not be negative (0 turns the cache off)", c.cacheSize)
	}
	if c.maxAge <= 0 {
		return fmt.Errorf("WithMaxAge(%v): the lifetime must be positive", c.maxAge)
	}
	if c.idle < 0 {
		return fmt.Errorf("WithIdleTimeout(%v): must not be negative (0 means none)", c.idle)
	}
	if c.idle > 0 && c.idle < 2*time.Second {
		return fmt.Errorf("WithIdleTimeout(%v): shorter than 2s cannot be kept with cookie times in seconds", c.idle)
	}
	if c.serializer == nil {
		return errors.New("WithSerializer(nil): a Serializer is needed")
	}
	if c.now == nil {
		return errors.New("WithClock(nil): a clock is needed")
	}
	return nil
}

// newSession makes s a fresh session, started now, and returns it.
func (m *Manager[T]) newSession(s *Session[T], now time.Time, present uint32, err error) *Session[T] {
	*s = Session[T]{
		m:       m,
		Data:    m.newData(),
		created: sealedTime(now),
		issued:  sealedTime(now),
		isNew:   true,
		err:     err,
		orig:    m.zero,
		present: present,
	}
	m.takeSnapshot(s)
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

// takeSnapshot records s.Data as the state later changes are measured from.
func (m *Manager[T]) takeSnapshot(s *Session[T]) {
	s.snapOK = m.snapper.ok() && m.snapper.take(&s.snap, &s.Data)
}

// unchanged reports, without serialising, that s.Data still holds the
// snapshot's values; false means "serialise to find out".
func (m *Manager[T]) unchanged(s *Session[T]) bool {
	return s.snapOK && m.snapper.same(&s.Data, &s.snap)
}

// Load opens the request's session cookie and returns its session, or a new
// one if there is no valid cookie (see Session.Err for why). With the
// middleware, use Get instead; Load and Save are for code that cannot use
// it. Each call opens the cookie again.
func (m *Manager[T]) Load(r *http.Request) *Session[T] {
	return m.load(r, m.now(), new(Session[T]))
}

// load opens the request's session into s, which the middleware allocates
// together with its other per-request state, and returns s.
func (m *Manager[T]) load(r *http.Request, now time.Time, s *Session[T]) *Session[T] {
	jar := m.readJar(r)
	if jar.present == 0 {
		return m.newSession(s, now, 0, nil)
	}
	o := OpenOptions{Now: now, MaxAge: m.maxAge, IdleTimeout: m.idle, MaxLength: m.maxSize}
	value, err := m.assemble(&jar)
	if err == nil {
		var opened *Session[T]
		if opened, err = m.openValue(r, value, jar.present, &o, s); err == nil {
			return opened
		}
	}
	// The name came more than once: a cookie of another path or domain
	// may have come first. A value that opens wins over one that does not,
	// and over a gorilla cookie to convert. If none does, the session's
	// error is the first value's, unless that value is malformed or fails
	// authentication (it may not be ours at all) and a gorilla session was
	// found: then why that could not be taken over. A failed conversion
	// reaches the error handler either way.
	var errs [1 + maxOthers]error
	var gorillaErr, convertErr error
	errs[0] = err
	for i, other := range jar.others[:jar.nOthers] {
		opened, err := m.openValue(r, other, jar.present, &o, s)
		if err == nil {
			return opened
		}
		errs[1+i] = err
	}
	if m.migration != nil {
		for i := range 1 + jar.nOthers {
			if !errors.Is(errs[i], ErrMalformed) && !errors.Is(errs[i], ErrAuthentication) {
				continue
			}
			v := value
			if i > 0 {
				v = jar.others[i-1]
			}
			isGorilla, merr := m.migrate(v, jar.present, now, s)
			if isGorilla && merr == nil {
				return m.validate(r, s, now)
			}
			if isGorilla && gorillaErr == nil {
				gorillaErr = merr
			}
			if convertErr == nil && errors.Is(merr, ErrMigration) {
				convertErr = merr
			}
		}
	}
	if gorillaErr != nil && (errors.Is(err, ErrMalformed) || errors.Is(err, ErrAuthentication)) {
		err = gorillaErr
	}
	s = m.newSession(s, now, jar.present, err)
	if convertErr != nil {
		s.pending, s.req = convertErr, r // for the error handler, at commit
	}
	return s
}

// openValue opens value, in either format (or from the cache), into s and
// validates it. It returns an error, and leaves s to be reset, if value
// does not open; a session the validator rejects is returned (new, its Err
// wrapping ErrRejected).
func (m *Manager[T]) openValue(r *http.Request, value string, present uint32, o *OpenOptions, s *Session[T]) (*Session[T], error) {
	if m.cache != nil {
		if cached, ok, err := m.loadCached(r, value, present, o, s); ok {
			return cached, err
		}
	}
	e, err := m.format.open(m.name, value, *o)
	if errors.Is(err, ErrMalformed) {
		// Not in the sealing format: perhaps in the other one, written
		// before the application switched.
		if e2, err2 := m.alt.open(m.name, value, *o); !errors.Is(err2, ErrMalformed) {
			e, err = e2, err2
			e.Stale = true
		}
	}
	if err != nil {
		return nil, err
	}
	*s = Session[T]{
		m:             m,
		Data:          m.newData(),
		created:       e.Created,
		issued:        e.Issued,
		flashes:       e.Flashes,
		cookieFlashes: len(e.Flashes),
		stale:         e.Stale,
		keyID:         e.KeyID,
		orig:          e.Data,
		present:       present,
	}
	if err := m.unmarshal(e.Data, &s.Data); err != nil {
		return nil, fmt.Errorf("%w: the data does not decode into %v: %v", ErrMalformed, reflect.TypeFor[T](), err)
	}
	m.fillNilMap(s) // a map cookie may hold null
	m.takeSnapshot(s)
	m.remember(value, s, true)
	return m.validate(r, s, o.Now), nil
}

// validate runs the validator on a session that opened (or was converted
// from a gorilla cookie), replacing it with a fresh one if it is rejected.
func (m *Manager[T]) validate(r *http.Request, s *Session[T], now time.Time) *Session[T] {
	if m.validator == nil || s.isNew {
		return s
	}
	if err := m.validator(r, s); err != nil {
		m.forget(s) // the response replaces or deletes it
		return m.newSession(s, now, s.present, fmt.Errorf("%w: %w", ErrRejected, err))
	}
	return s
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
	m.reportPending(w, s)
	return m.commit(w.Header(), s, new(headerValues))
}

// reportPending passes a failure found while loading s to the error
// handler, once.
func (m *Manager[T]) reportPending(w http.ResponseWriter, s *Session[T]) {
	if s.pending != nil {
		err, r := s.pending, s.req
		s.pending, s.req = nil, nil
		m.report(w, r, err)
	}
}
