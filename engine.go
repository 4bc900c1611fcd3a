package cookiesession

import (
	"log/slog"
	"net/http"
	"sync"
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
	now         func() time.Time
	// zero is a new session's Data serialised: the content of an
	// untouched session, which is deleted rather than written.
	zero []byte
	// sharedName is the warning, given once, that another Manager uses
	// the cookie name on the same request.
	sharedName sync.Once
}

// settings are what New hands the engine, checked.
type settings struct {
	attrs       http.Cookie // name and attributes of the cookie
	oldName     string      // read, and moved to attrs.Name: the default of earlier releases
	maxAge      time.Duration
	idle        time.Duration
	maxSize     int
	logger      *slog.Logger
	onError     func(http.ResponseWriter, *http.Request, error)
	revocations RevocationStore
	now         func() time.Time
	gorilla     bool // seal in gorilla/securecookie's format
	migration   *gorillaMigration
}

// newEngine returns the engine for keys and s, whose new sessions hold
// zero.
func newEngine(keys *Keyring, s *settings, zero []byte) (*engine, error) {
	e := &engine{
		keys:        keys,
		format:      keys,
		alt:         gorillaFormat{keys},
		maxAge:      s.maxAge,
		idle:        s.idle,
		logger:      s.logger,
		onError:     s.onError,
		revocations: s.revocations,
		migration:   s.migration,
		now:         s.now,
		zero:        zero,
	}
	if s.gorilla {
		e.format, e.alt = e.alt, e.format
	}
	var err error
	if e.cookies, err = newCookieSpec(s.attrs, s.maxSize); err != nil {
		return nil, err
	}
	if s.oldName != "" {
		old := s.attrs
		old.Name = s.oldName
		if e.cookies.old, err = newCookieSpec(old, s.maxSize); err != nil {
			return nil, err
		}
	}
	return e, nil
}
