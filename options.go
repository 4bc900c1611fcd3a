package cookiesession

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// Defaults of the options.
const (
	// DefaultName is the cookie's name when it is Secure, with Path "/"
	// and no Domain (the defaults): browsers refuse a __Host- cookie from
	// a sibling subdomain or another path, so it cannot be planted.
	// Without WithName, a cookie under FallbackName, the name earlier
	// releases used, is read and moved to it on the same response; once
	// those have expired, WithName(DefaultName) stops reading the old name.
	DefaultName = "__Host-session"
	// FallbackName is the default name when the attributes rule the
	// prefix out (WithSecure(false), WithPath or WithDomain).
	FallbackName  = "session"
	DefaultMaxAge = 24 * time.Hour
)

// MinIdleTimeout is the shortest idle timeout New accepts: cookie times are
// whole seconds, and below it a client that comes back within a third of
// the window could still find its cookie gone.
const MinIdleTimeout = 10 * time.Second

// Option configures a Manager. Options are checked once, by New.
type Option func(*config)

type config struct {
	name, path, domain string
	oldName            string // read, and moved to name: the default of earlier releases
	maxAge, idle       time.Duration
	sameSite           http.SameSite
	secure             bool
	partitioned        bool
	maxSize            int
	serializer         Serializer
	logger             *slog.Logger
	onError            func(http.ResponseWriter, *http.Request, error)
	validator          any // func(*http.Request, *Session[T]) error
	subject            any // func(T) string
	revocations        RevocationStore
	revocationsSet     bool // WithRevocation was given
	now                func() time.Time
	gorillaFormat      bool
	migration          *gorillaMigration // WithGorillaMigration's, without convert
	convert            any               // func(map[any]any) (T, error)
	bindingPath        string            // WithDeviceBinding's; "" for none
	boundLifetime      time.Duration
	errs               []error
}

func defaultConfig() config {
	return config{
		path:       "/",
		maxAge:     DefaultMaxAge,
		sameSite:   http.SameSiteLaxMode,
		secure:     true,
		maxSize:    DefaultMaxSize,
		serializer: JSONSerializer{},
		logger:     slog.Default(),
		now:        time.Now,
	}
}

// WithName sets the cookie name. Use the "__Host-" prefix where you can
// (see DefaultName): the cookie must then be Secure, with Path "/" and no
// Domain, which New checks. A session too large for one cookie continues
// in chunks named name.1, name.2, ...: no other cookie may use those
// names, and New refuses a name that is itself one of them. The default
// is DefaultName, or FallbackName where the attributes rule the prefix out.
func WithName(name string) Option {
	return func(c *config) {
		if name == "" {
			c.errs = append(c.errs, errors.New("WithName(\"\"): a cookie needs a name; leave WithName out for the default"))
		}
		c.name = name
	}
}

// WithPath sets the cookie's Path. The default is "/".
func WithPath(path string) Option { return func(c *config) { c.path = path } }

// WithDomain sets the cookie's Domain, to share the session with
// subdomains. The default is none: only the host that set it gets it back.
func WithDomain(domain string) Option { return func(c *config) { c.domain = domain } }

// WithMaxAge sets the absolute lifetime of a session, counted from its
// creation or last Renew and enforced from the time sealed in the cookie.
// The cookie also carries the lifetime it was sealed under, and never
// opens past it: a longer WithMaxAge reaches a session when its next
// request seals it again, so that it brings back no signed-out copy. A
// shorter one holds at once. One longer than a cookie carries, about 270
// years (math.MaxInt64 for "never"), is taken as that. The default is 24
// hours.
func WithMaxAge(d time.Duration) Option { return func(c *config) { c.maxAge = d } }

// WithIdleTimeout ends a session that has not been used for d. The cookie
// is re-issued once d/3 has passed since it was sealed, not on every
// request: a client that comes back at least every d/3 keeps its session.
// d must be between MinIdleTimeout and the lifetime (WithMaxAge). The
// default is no idle timeout.
func WithIdleTimeout(d time.Duration) Option { return func(c *config) { c.idle = d } }

// WithSameSite sets the cookie's SameSite attribute. SameSiteNoneMode
// requires Secure. The default is http.SameSiteLaxMode.
func WithSameSite(mode http.SameSite) Option { return func(c *config) { c.sameSite = mode } }

// WithPartitioned sets the cookie's Partitioned attribute (CHIPS): in a
// third-party context, the browser keeps a separate cookie for each
// top-level site rather than refusing it. It requires Secure, and
// SameSite=None to reach a cross-site frame. The default is off.
func WithPartitioned() Option { return func(c *config) { c.partitioned = true } }

// WithSecure sets the cookie's Secure attribute. Turn it off only for local
// development over plain HTTP. The default is true.
func WithSecure(secure bool) Option { return func(c *config) { c.secure = secure } }

// WithMaxSize caps the sealed session's length in bytes, across all its
// chunk cookies. A save beyond it fails (see WithErrorHandler) and the
// browser keeps its previous cookie. The default is DefaultMaxSize.
//
// Behind nginx, whose default proxy_buffer_size (4 KB on x86-64) holds all
// of a response's headers, a response setting a session of more than about
// 3,800 bytes is answered 502 by nginx, and the change is lost without the
// application hearing of it: raise the buffer, or use WithMaxSize(3000).
func WithMaxSize(n int) Option { return func(c *config) { c.maxSize = n } }

// WithSerializer sets how Data is serialised (see Serializer). The
// default is JSONSerializer, which is encoding/json.
func WithSerializer(s Serializer) Option { return func(c *config) { c.serializer = s } }

// WithLogger sets where failures are logged; nil means the default, which
// is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the source of the current time, for tests. The default is
// time.Now.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithGorillaFormat seals sessions in gorilla/securecookie's wire format
// (AES-256-CTR and HMAC-SHA256, as gorilla/sessions' CookieStore writes it)
// instead of XChaCha20-Poly1305, with keys derived from the same Keyring.
// Expiry and rotation work as with the default, but the value carries no
// key id, so opening tries the keys in turn. Cookies in either format open
// and are sealed again in the chosen one, so switching signs no one out.
// The default is off.
func WithGorillaFormat() Option { return func(c *config) { c.gorillaFormat = true } }

// WithErrorHandler sets the function told of failures that lose data:
// ErrSaveFailed, ErrChangeAfterCommit, ErrReplaced, ErrRevocationFailed
// and ErrMigration. Each is logged before the handler runs. Inside the
// middleware, r is the request given to Get, with the values that inner
// middleware added to its context.
//
// For a failed save, w has not been written to: a response the handler
// writes replaces the application's (whose further writes are discarded);
// if it writes nothing, the application's response goes out without a
// session cookie. The other errors are told once the handler has returned,
// when w is for reference only.
//
// The default answers a failed save with a 500, marked no-store, in place
// of the application's response, and removes the headers that described
// it (Location, Content-Disposition, its caching and the like).
func WithErrorHandler(fn func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(c *config) { c.onError = fn }
}

// WithValidator sets a function that runs after a cookie opens and may
// reject it by returning an error; the request then gets a fresh session
// whose Err wraps ErrRejected. With Created and Issued at hand it can
// compare a session with what the application's database knows. r is the
// request given to Get (or Load), with whatever inner middleware added to
// its context. The Session's type must match the Manager's: New reports a
// mismatch. The default is no validator.
func WithValidator[T any](fn func(r *http.Request, s *Session[T]) error) Option {
	return func(c *config) { c.validator = fn }
}

// WithRevocation sets where revoked sessions are recorded and looked up.
// Revocation goes by subject: New refuses a store without WithSubject.
//
// Destroy, Renew and SignOutEverywhere revoke the signed-in sessions they
// end; a revoked cookie is cleared, and gives a fresh session whose Err
// wraps ErrRevoked. Anonymous sessions are never revoked: a copy grants
// nothing, so they take no room in the store. The check on each request
// is a lookup in memory.
//
// The default, with WithSubject, is the Manager's own in-process
// revocation.Replica: a revocation holds on this instance only, and is
// lost when it stops. Package filestore keeps them across restarts; a
// fleet shares one store, such as this repository's redisstore, so that a
// cookie revoked on one instance is refused by all. nil turns revocation
// off: Destroy then only deletes the cookie from the browser, and a copy
// of it stays valid until it expires.
func WithRevocation(store RevocationStore) Option {
	return func(c *config) { c.revocations, c.revocationsSet = store, true }
}

// WithSubject sets how a session names its user (an id, an email): fn
// returns the subject of a session's data, "" when no one is signed in. It
// turns revocation on (see WithRevocation). It runs on every request whose
// cookie opens, so it should be quick. The function's type must match the
// Manager's data: New reports a mismatch. The default is none: sessions
// have no subject, and nothing is revoked; Destroy only deletes the cookie
// from the browser.
func WithSubject[T any](fn func(data T) string) Option {
	return func(c *config) { c.subject = fn }
}

// WithGorillaMigration lets a Manager take over the sessions of an
// application that used gorilla/sessions' CookieStore, so that moving to
// this package signs no one out. New needs WithName with the gorilla
// session's name (what the application passed to store.Get), and a
// lifetime (WithMaxAge) at least the store's MaxAge: a gorilla cookie
// under another name, or saved longer ago than the lifetime, would sign
// its user out.
//
// A request that brings a gorilla cookie of the store, and no cookie of
// this package's that authenticates, gets a session whose Data is
// convert(values); the cookie is written again in this package's format on
// the same response, and the gorilla cookie is deleted. The session's
// lifetime (WithMaxAge), idle timeout (WithIdleTimeout) and Created count
// from the gorilla cookie's last save (one saved more than ClockSkew in
// the future is refused with ErrExpired); its id is the zero id (so that a
// sign-out revokes every gorilla cookie of that user, copies and earlier
// saves included); the validator sees it like any other; its flash
// messages (session.AddFlash) that are strings carry over. The types the
// gorilla session stored must still be registered with gob (New registers
// the flash list's, as gorilla/sessions did). If convert
// fails, the request gets a new, empty session whose Err wraps
// ErrMigration, and the error handler hears of it.
//
// While the option is on, the Manager never leaves a browser without a
// cookie of its own: where it would delete its cookie (Destroy, a rejected
// or invalid cookie) it writes an empty session instead, and every cookie
// it writes lasts, in the browser, at least as long as the store's could.
// A session that ended therefore does not come back from a gorilla cookie
// the browser kept: see the README's "Moving from gorilla/sessions".
//
// Keep the option until the longest gorilla session has expired, then
// remove it. The default is no migration.
func WithGorillaMigration[T any](store GorillaStore, convert func(values map[any]any) (T, error)) Option {
	return func(c *config) {
		mig, err := newGorillaMigration(store)
		switch {
		case convert == nil:
			c.errs = append(c.errs, errors.New("WithGorillaMigration: the conversion function is nil"))
		case err != nil:
			c.errs = append(c.errs, err)
		default:
			c.migration, c.convert = mig, convert
		}
	}
}

// MinBoundLifetime is the shortest bound lifetime WithDeviceBinding
// accepts: cookie times are whole seconds, and a browser needs time to
// refresh. Chromium also refreshes a bound cookie that expires within two
// minutes alongside every request it sends: a lifetime of a few minutes
// more keeps refreshes to one per lifetime.
const MinBoundLifetime = 10 * time.Second

// WithDeviceBinding binds signed-in sessions to the browser's device with
// Device Bound Session Credentials (DBSC, Chrome 145 and later on
// desktop), so that a copy of the cookies works on another machine for
// lifetime at most. It needs WithSubject, a RevocationStore (not
// WithRevocation(nil)), Secure, and a path the session cookie is sent to.
//
// A response that writes a signed-in session that is not bound invites
// the browser to register a key it cannot export; the registration and
// the refreshes are POSTs to path, which the middleware answers itself.
// Once bound, a session's cookie opens only beside a bound cookie that
// lasts lifetime and that only the device can renew, with a signature the
// server checks. The device's public key is sealed in the identifier the
// browser keeps, so the server keeps only the challenges answered, in the
// RevocationStore, for six minutes: at most 256 per user, past which a
// refresh gets a 503 that the browser retries. Registration gives the
// session a new id, as Renew does, but keeps its lifetime. Destroy and
// SignOutEverywhere end the browser's DBSC session at its next refresh,
// and so does Renew, whose response invites the browser to register the
// renewed session again. Browsers without DBSC keep ordinary sessions.
//
// lifetime must be at least MinBoundLifetime and at most the session's
// lifetime (WithMaxAge); ten minutes is a good start. The default is off.
func WithDeviceBinding(path string, lifetime time.Duration) Option {
	return func(c *config) {
		if path == "" {
			c.errs = append(c.errs, errors.New("WithDeviceBinding(\"\", ...): give the path the middleware serves the binding at, such as \"/dbsc\"; leave WithDeviceBinding out for none"))
		}
		c.bindingPath, c.boundLifetime = path, lifetime
	}
}

// check refuses options that cannot work, with a message that says how to
// fix the call.
func (c *config) check() error {
	if len(c.errs) > 0 {
		return c.errs[0]
	}
	for _, check := range []func() error{c.checkName, c.checkSecure, c.checkTimes, c.checkHooks, c.checkBinding} {
		if err := check(); err != nil {
			return err
		}
	}
	if c.subject != nil && !c.revocationsSet {
		c.revocations = revocation.NewReplica(c.now)
	}
	return nil
}

// checkName sets the default name, unless WithName chose one, and refuses
// a name that is not a cookie's, or that is a chunk's.
func (c *config) checkName() error {
	if c.name == "" && c.migration != nil {
		return errors.New("WithGorillaMigration needs WithName, with the gorilla session's name (what the application passed to store.Get): gorilla cookies under another name are not looked at, and their users would be signed out")
	}
	if c.name == "" {
		c.name = FallbackName
		if c.secure && c.path == "/" && c.domain == "" {
			c.name, c.oldName = DefaultName, FallbackName
		}
	}
	probe := http.Cookie{Name: c.name, Value: "x", Path: c.path, Domain: c.domain}
	if err := probe.Valid(); err != nil {
		return fmt.Errorf("invalid cookie settings (name %q, path %q, domain %q): %w", c.name, c.path, c.domain, err)
	}
	if i := strings.LastIndexByte(c.name, '.'); i > 0 && chunkNumber(c.name[i+1:]) > 0 {
		return fmt.Errorf("cookie name %q is the name of a chunk of cookie %q, which another Manager may use; pick a name without the .%s",
			c.name, c.name[:i], c.name[i+1:])
	}
	return nil
}

// checkSecure refuses what browsers refuse: a prefixed name, Partitioned
// or SameSite=None without the attributes they require. Browsers match the
// prefixes in any case (RFC 6265bis), and drop a __HOST-s set without them.
func (c *config) checkSecure() error {
	host := hasPrefixFold(c.name, "__Host-")
	switch {
	case host && !c.secure:
		return fmt.Errorf("cookie name %q requires Secure; remove WithSecure(false) or drop the __Host- prefix", c.name)
	case host && c.path != "/":
		return fmt.Errorf("cookie name %q requires Path \"/\", not %q; remove WithPath or drop the __Host- prefix", c.name, c.path)
	case host && c.domain != "":
		return fmt.Errorf("cookie name %q forbids a Domain, got %q; remove WithDomain or drop the __Host- prefix", c.name, c.domain)
	case hasPrefixFold(c.name, "__Secure-") && !c.secure:
		return fmt.Errorf("cookie name %q requires Secure; remove WithSecure(false) or drop the __Secure- prefix", c.name)
	case c.partitioned && !c.secure:
		return errors.New("WithPartitioned requires Secure; browsers refuse a Partitioned cookie otherwise: remove WithSecure(false)")
	case c.sameSite == http.SameSiteNoneMode && !c.secure:
		return errors.New("SameSite=None requires Secure; browsers refuse the cookie otherwise")
	}
	return nil
}

// checkTimes refuses a lifetime or idle timeout that cannot work.
func (c *config) checkTimes() error {
	switch {
	case c.maxAge <= 0:
		return fmt.Errorf("WithMaxAge(%v): the lifetime must be positive", c.maxAge)
	case c.idle < 0:
		return fmt.Errorf("WithIdleTimeout(%v): must not be negative (0 means none)", c.idle)
	case c.idle > c.maxAge:
		return fmt.Errorf("WithIdleTimeout(%v) is longer than WithMaxAge(%v), so it would never end a session; make it shorter, or drop it", c.idle, c.maxAge)
	case c.migration != nil && c.migration.maxAge > c.maxAge:
		return fmt.Errorf("WithGorillaMigration: the old store's MaxAge (%v) is longer than the lifetime (WithMaxAge, %v), so users whose gorilla cookie was saved between the two would be signed out; give WithMaxAge(%v), or set GorillaStore.MaxAge to %d to end those sessions",
			c.migration.maxAge, c.maxAge, c.migration.maxAge, int64(c.maxAge/time.Second))
	case c.idle > 0 && c.idle < MinIdleTimeout:
		return fmt.Errorf("WithIdleTimeout(%v): shorter than %v cannot be kept: cookie times are whole seconds, and a client must have time to come back within a third of it", c.idle, MinIdleTimeout)
	}
	return nil
}

// checkHooks refuses missing collaborators, and revocation without the
// subjects it goes by.
func (c *config) checkHooks() error {
	switch {
	case c.serializer == nil:
		return errors.New("WithSerializer(nil): a Serializer is needed")
	case c.now == nil:
		return errors.New("WithClock(nil): a clock is needed")
	case c.revocations != nil && c.subject == nil:
		return errors.New("WithRevocation needs WithSubject: revocation goes by subject, and only signed-in sessions are revoked; add WithSubject(func(d T) string { return d.User }), or remove WithRevocation")
	}
	return nil
}

// checkBinding refuses a device binding (WithDeviceBinding) that cannot
// work, naming what it lacks.
func (c *config) checkBinding() error {
	var lacks string
	switch {
	case c.bindingPath == "":
		return nil
	case !strings.HasPrefix(c.bindingPath, "/"):
		lacks = "a path starting with \"/\""
	case c.subject == nil:
		lacks = "WithSubject: only signed-in sessions are bound"
	case !c.secure:
		lacks = "Secure: DBSC serves only secure origins; remove WithSecure(false)"
	case !pathMatch(c.bindingPath, c.path):
		return fmt.Errorf("WithDeviceBinding(%q, ...): the session cookie's Path is %q, so the browser does not send it there, and no session could be bound; use a path under it", c.bindingPath, c.path)
	case c.boundLifetime < MinBoundLifetime || c.boundLifetime > c.maxAge:
		return fmt.Errorf("WithDeviceBinding: a bound lifetime of %v; it must be at least %v and at most the lifetime, %v", c.boundLifetime, MinBoundLifetime, c.maxAge)
	default:
		return nil
	}
	return fmt.Errorf("WithDeviceBinding(%q, ...) needs %s", c.bindingPath, lacks)
}

// pathMatch reports whether a cookie of Path cookiePath is sent to path
// (RFC 6265, 5.1.4).
func pathMatch(path, cookiePath string) bool {
	rest, ok := strings.CutPrefix(path, cookiePath)
	return ok && (rest == "" || strings.HasSuffix(cookiePath, "/") || rest[0] == '/')
}

// hasPrefixFold reports whether s begins with prefix, in any case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
