package cookiesession

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// engine is everything a Manager does that does not depend on T: opening
// and sealing cookies, choosing which value wins, deciding what the
// response carries, chunks, cache headers and revocation. It works on
// bytes and a request's state; the Manager's typed front turns Data into
// bytes and back. It never changes after New.
type engine struct {
	keys        *Keyring
	format      format // seals, and opens first
	alt         format // the other format: opens only, and its values are sealed again
	cookies     *cookieSpec
	maxAge      time.Duration
	idle        time.Duration
	logger      *slog.Logger
	onError     func(http.ResponseWriter, *http.Request, error)
	revocations RevocationStore // nil: no revocation
	migration   *gorillaMigration
	binding     *binder // nil: no device binding
	now         func() time.Time
	// zero is a new session's Data serialised: the content of an
	// untouched session, which is deleted rather than written.
	zero []byte
	// sharedName is the warning, given once, that another Manager uses
	// the cookie name on the same request.
	sharedName sync.Once
	// foreignWarning is the warning, given once, that a response set the
	// session's cookie by other means than the session.
	foreignWarning sync.Once
	// aheadWarned is when a cookie sealed on a clock too far ahead was
	// last logged as a warning, and keyWarned one sealed by a key this
	// instance does not hold (Unix nanoseconds; 0 for never); keyRefused
	// counts the latter since.
	aheadWarned, keyWarned, keyRefused atomic.Int64
}

// newEngine returns the engine for keys and c, checked, whose new
// sessions hold zero and whose gorilla migration, if any, is mig.
func newEngine(keys *Keyring, c *config, zero []byte, mig *gorillaMigration) (*engine, error) {
	e := &engine{
		keys:   keys,
		format: keys,
		alt:    gorillaFormat{keys},
		// No session outlives what its cookie carries (about 270 years),
		// and the sums of times that revocation makes stay within a
		// Duration's range. (Revocations are held until 2106 at most: a
		// session of more than 80 years may outlive its own.)
		maxAge:      min(c.maxAge, maxSealedLifetime*time.Second),
		idle:        c.idle,
		logger:      c.logger,
		onError:     c.onError,
		revocations: c.revocations,
		migration:   mig,
		now:         c.now,
		zero:        zero,
	}
	if c.gorillaFormat {
		e.format, e.alt = e.alt, e.format
	}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	attrs := http.Cookie{Name: c.name, Path: c.path, Domain: c.domain, Secure: c.secure, SameSite: c.sameSite, Partitioned: c.partitioned}
	var err error
	if e.cookies, err = newCookieSpec(attrs, c.maxSize); err != nil {
		return nil, err
	}
	if e.binding, err = newBinder(keys, c); err != nil {
		return nil, err
	}
	if e.binding != nil {
		e.cookies.bound = e.binding.cookie
	}
	if c.oldName != "" {
		attrs.Name = c.oldName
		if e.cookies.old, err = newCookieSpec(attrs, c.maxSize); err != nil {
			return nil, err
		}
	}
	return e, nil
}
