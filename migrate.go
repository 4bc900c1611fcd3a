package cookiesession

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// gorillaMaxAge is gorilla/sessions' default CookieStore lifetime.
const gorillaMaxAge = 30 * 24 * time.Hour

// GorillaStore describes the gorilla/sessions CookieStore whose sessions a
// Manager takes over (WithGorillaMigration).
type GorillaStore struct {
	// KeyPairs are the hash and block keys the CookieStore was made with,
	// sessions.NewCookieStore(KeyPairs...), in the same order.
	KeyPairs [][]byte
	// Path and Domain are the store's cookie attributes, as its
	// sessions.Options holds them: the old cookie is deleted there. An
	// empty Path is gorilla's default, "/".
	Path, Domain string
	// MaxAge is the store's lifetime in seconds, as its sessions.Options
	// holds it (or as given to store.MaxAge): a gorilla cookie last saved
	// longer ago is not converted. Zero is gorilla's default, 30 days.
	MaxAge int
}

// gorillaMigration reads cookies that gorilla/sessions' CookieStore wrote.
type gorillaMigration[T any] struct {
	codecs  []securecookie.Codec
	convert func(values map[any]any) (T, error)
	maxAge  time.Duration
	cookie  http.Cookie // the old cookie's attributes, to delete it
}

func (*gorillaMigration[T]) target() string { return reflect.TypeFor[T]().String() }

// WithGorillaMigration lets a Manager take over the sessions of an
// application that used gorilla/sessions' CookieStore, so that moving to
// this package signs no one out. The cookie name must be the gorilla
// session's name.
//
// A request that brings a gorilla cookie of the store, and no cookie of
// this package's that authenticates, gets a session whose Data is
// convert(values); the cookie is written again in this package's format on
// the same response, and the gorilla cookie is deleted. The session's
// lifetime (WithMaxAge), its idle timeout (WithIdleTimeout) and Created
// count from the gorilla cookie's last save, its id is the zero id of
// sessions whose cookies carry none (so that a sign-out revokes every
// gorilla cookie of that user, copies and earlier saves included), and the
// validator sees it like any other. The types stored in the
// gorilla session must still be registered with gob. If convert fails, the
// request gets a new, empty session whose Err wraps ErrMigration, and the
// error handler hears of it.
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
		if convert == nil {
			c.errs = append(c.errs, errors.New("WithGorillaMigration: the conversion function is nil"))
			return
		}
		if len(store.KeyPairs) == 0 {
			c.errs = append(c.errs, errors.New("WithGorillaMigration: no keys; set GorillaStore.KeyPairs to the CookieStore's hash and block keys"))
			return
		}
		codecs := securecookie.CodecsFromPairs(store.KeyPairs...)
		for i, codec := range codecs {
			// Its age is checked against the Manager's clock instead, and
			// its length against WithMaxSize.
			sc := codec.(*securecookie.SecureCookie).MaxAge(0).MaxLength(0)
			// securecookie records a bad key length and reports it on
			// every Encode; find out now rather than at the first request.
			if _, err := sc.Encode("probe", map[any]any{}); err != nil {
				c.errs = append(c.errs, fmt.Errorf("WithGorillaMigration: key pair %d: %w", i+1, err))
				return
			}
		}
		mig := &gorillaMigration[T]{codecs: codecs, convert: convert, maxAge: gorillaMaxAge,
			cookie: http.Cookie{Path: store.Path, Domain: store.Domain, MaxAge: -1}}
		if store.MaxAge > 0 {
			mig.maxAge = time.Duration(store.MaxAge) * time.Second
		}
		if mig.cookie.Path == "" {
			mig.cookie.Path = "/"
		}
		c.migration = mig
	}
}

// loadGorilla tries values, which did not open as this package's, as
// gorilla sessions, into s. ourErr is why the first value did not open.
func (m *Manager[T]) loadGorilla(r *http.Request, now time.Time, s *Session[T], present uint32, values []string, ourErr error) *Session[T] {
	var gorillaErr, convertErr error
	for _, v := range values {
		isGorilla, err := m.migrate(v, now, s)
		if isGorilla && err == nil {
			if err = m.admit(r, s, now); err == nil {
				s.present = present
				return s
			}
		}
		if isGorilla && gorillaErr == nil {
			gorillaErr = err
		}
		if convertErr == nil && errors.Is(err, ErrMigration) {
			convertErr = err
		}
	}
	// The first value may not be ours at all: why a gorilla session found
	// could not be taken over explains the fresh session better.
	if gorillaErr != nil && (errors.Is(ourErr, ErrMalformed) || errors.Is(ourErr, ErrAuthentication)) {
		ourErr = gorillaErr
	}
	if convertErr != nil {
		// Perhaps a gob type not registered, or convert's database down:
		// the cookies are kept for a later request, and the failure told.
		present = 0
	}
	s = m.newSession(s, now, present, ourErr)
	if convertErr != nil {
		s.pending = append(s.pending, convertErr) // for the error handler, at commit
	}
	return s
}

// migrate opens value as a gorilla/sessions cookie into s. It reports
// whether value is one; err says why one that is cannot be taken over
// (it is too old, or convert refused it), and s is then left alone.
func (m *Manager[T]) migrate(value string, now time.Time, s *Session[T]) (ok bool, err error) {
	// 1. Only a value in securecookie's layout can be gorilla's; the check
	//    spares a decode per key on anything else.
	saved, err := gorillaLayout(value)
	if err != nil || len(value) > m.maxSize {
		return false, nil
	}
	// 2. Check the MAC with the application's old keys: a value no key
	//    authenticates is not the store's. One that authenticates but does
	//    not decode is, and is reported.
	values := map[any]any{}
	authentic := false
	for _, codec := range m.migration.codecs {
		err := codec.Decode(m.name, value, &values)
		if err == nil {
			authentic = true
			break
		}
		if !errors.Is(err, securecookie.ErrMacInvalid) {
			return true, fmt.Errorf("%w: authenticated by the old store's keys but unreadable (is every type it held still registered with gob?): %v", ErrMigration, err)
		}
	}
	if !authentic {
		return false, nil
	}
	// 3. A valid session, to be sealed again in this package's format on
	//    the same response. Its lifetime counts from the cookie's last save
	//    (authenticated by its MAC): the closest to a creation time gorilla
	//    keeps, and what a validator's "signed out everywhere at" needs.
	//    The last save is also the last use gorilla records, so the idle
	//    timeout counts from it as well, and the old store's MaxAge.
	created := sealedTime(now)
	if saved < now.Unix() {
		created = time.Unix(saved, 0)
	}
	age := now.Sub(created).Round(time.Second)
	if !now.Before(created.Add(m.migration.maxAge)) {
		return true, fmt.Errorf("%w: gorilla session last saved %s ago, past the old store's MaxAge of %s", ErrExpired, age, m.migration.maxAge)
	}
	if !now.Before(created.Add(m.maxAge)) {
		return true, fmt.Errorf("%w: gorilla session last saved %s ago, past the lifetime of %s", ErrExpired, age, m.maxAge)
	}
	if m.idle > 0 && !now.Before(created.Add(m.idle)) {
		return true, fmt.Errorf("%w: gorilla session last saved %s ago, past the idle timeout of %s", ErrExpired, age, m.idle)
	}
	// 4. Convert to T.
	data, err := m.migration.convert(values)
	if err != nil {
		return true, fmt.Errorf("%w: %w", ErrMigration, err)
	}
	// Its id is the zero id of sessions whose cookies carry none: every
	// copy of a gorilla session opens with it, so that one Destroy ends
	// them all (and every other gorilla session of the subject).
	*s = Session[T]{m: m, Data: data, created: created, issued: sealedTime(now), idGiven: true,
		stale: true, converted: true}
	m.fillNilMap(s) // convert may return a nil map
	return true, nil
}

// deleteGorillaCookie deletes the old store's cookie, where it was set. A
// cookie at the same path and domain as the Manager's is replaced by the
// Manager's own line instead: a deleting line would delete that too.
func (m *Manager[T]) deleteGorillaCookie(h http.Header) {
	c := m.migration.cookie
	if c.Path == m.cookie.Path && strings.EqualFold(strings.TrimPrefix(c.Domain, "."), strings.TrimPrefix(m.cookie.Domain, ".")) {
		return
	}
	c.Name, c.Secure = m.name, m.cookie.Secure
	h.Add("Set-Cookie", c.String())
}
