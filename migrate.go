package cookiesession

import (
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
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
	// longer ago is not converted. Zero is gorilla's default, 30 days. New
	// refuses one longer than the Manager's lifetime (WithMaxAge); set it
	// shorter than the store's to sign out, on purpose, the users who have
	// not been back for that long.
	MaxAge int
}

// gorillaMigration reads cookies that gorilla/sessions' CookieStore wrote.
type gorillaMigration struct {
	codecs []securecookie.Codec
	// convert turns a gorilla session's values into the Manager's Data,
	// serialised: the typed front's conversion (WithGorillaMigration).
	convert func(values map[any]any) ([]byte, error)
	maxAge  time.Duration
	cookie  http.Cookie // the old cookie's attributes, to delete it
}

// newGorillaMigration returns the migration from store, or an error if its
// keys cannot be used.
func newGorillaMigration(store GorillaStore) (*gorillaMigration, error) {
	if len(store.KeyPairs) == 0 {
		return nil, errors.New("WithGorillaMigration: no keys; set GorillaStore.KeyPairs to the CookieStore's hash and block keys")
	}
	registerFlashes()
	codecs := securecookie.CodecsFromPairs(store.KeyPairs...)
	for i, codec := range codecs {
		// Its age is checked against the Manager's clock instead, and
		// its length against WithMaxSize.
		sc := codec.(*securecookie.SecureCookie).MaxAge(0).MaxLength(0)
		// securecookie records a bad key length and reports it on every
		// Encode; find out now rather than at the first request.
		if _, err := sc.Encode("probe", map[any]any{}); err != nil {
			return nil, fmt.Errorf("WithGorillaMigration: key pair %d: %w", i+1, err)
		}
	}
	mig := &gorillaMigration{codecs: codecs, maxAge: gorillaMaxAge,
		cookie: http.Cookie{Path: store.Path, Domain: store.Domain, MaxAge: -1}}
	if store.MaxAge > 0 {
		mig.maxAge = time.Duration(store.MaxAge) * time.Second
	}
	if mig.cookie.Path == "" {
		mig.cookie.Path = "/"
	}
	return mig, nil
}

// registerFlashes registers with gob the type of gorilla's flash lists,
// as gorilla/sessions does: an application that no longer imports it
// could not decode a session holding a flash. One that registered the
// type under another name made gob panic here, and gob knows it already.
func registerFlashes() {
	defer func() { _ = recover() }()
	gob.Register([]any{})
}

// open opens value, a value of the cookie called name that did not open
// as this package's, as a gorilla/sessions cookie under the Manager's
// limits o. It reports whether value is one; err says why one that is
// cannot be taken over (it is too old, or convert refused it).
func (g *gorillaMigration) open(name, value string, o openOptions) (e Contents, ok bool, err error) {
	// 1. Only a value in securecookie's layout can be gorilla's; the check
	//    spares a decode per key on anything else.
	saved, err := gorillaLayout(value)
	if err != nil || len(value) > o.maxLength {
		return e, false, nil
	}
	// 2. Check the MAC with the application's old keys: a value no key
	//    authenticates is not the store's. One that authenticates but does
	//    not decode is, and is reported.
	values := map[any]any{}
	authentic := false
	for _, codec := range g.codecs {
		err := codec.Decode(name, value, &values)
		if err == nil {
			authentic = true
			break
		}
		if !errors.Is(err, securecookie.ErrMacInvalid) {
			return e, true, fmt.Errorf("%w: authenticated by the old store's keys but unreadable (is every type it held still registered with gob?): %v", ErrMigration, err)
		}
	}
	if !authentic {
		return e, false, nil
	}
	// 3. Its lifetime counts from the cookie's last save, which the MAC
	//    authenticates: the closest to a creation time gorilla keeps, and
	//    what a validator's "signed out everywhere at" needs. It is also
	//    the last use gorilla records, so the idle timeout and the old
	//    store's MaxAge count from it too. A save in the future is an
	//    old server's clock ahead: within ClockSkew the lifetime starts
	//    now; further ahead it is refused as one of ours would be. Taken
	//    as now, it would start anew at every conversion, and no
	//    lifetime, MaxAge or forgotten sign-out would ever end it.
	e.Created, e.Issued = sealedTime(o.now), sealedTime(o.now)
	if saved < o.now.Unix() {
		e.Created = time.Unix(saved, 0)
	}
	if ahead := time.Unix(saved, 0).Sub(o.now); ahead > ClockSkew {
		return e, true, fmt.Errorf("%w: %w: gorilla session saved %s ahead, more than ClockSkew (%s)", ErrExpired, errIssuedAhead, ahead.Round(time.Second), ClockSkew)
	}
	if err := g.checkAge(e.Created, &o); err != nil {
		return e, true, err
	}
	// 4. Its id stays zero, as for every copy of every gorilla session,
	//    so that one Destroy ends them all (see WithGorillaMigration).
	if e.Data, err = g.convert(values); err != nil {
		return e, true, fmt.Errorf("%w: %w", ErrMigration, err)
	}
	e.Flashes = gorillaFlashes(values)
	return e, true, nil
}

// gorillaFlashes returns the flash messages of a gorilla session
// (session.AddFlash) that are strings, at most maxFlashes.
func gorillaFlashes(values map[any]any) []string {
	var flashes []string
	list, _ := values["_flash"].([]any)
	for _, f := range list {
		if s, ok := f.(string); ok && len(flashes) < maxFlashes {
			flashes = append(flashes, s)
		}
	}
	return flashes
}

// checkAge refuses a gorilla session last saved at saved that is past the
// old store's MaxAge, the lifetime or the idle timeout.
func (g *gorillaMigration) checkAge(saved time.Time, o *openOptions) error {
	age := o.now.Sub(saved).Round(time.Second)
	for _, limit := range []struct {
		d    time.Duration
		what string
	}{{g.maxAge, "the old store's MaxAge"}, {o.maxAge, "the lifetime"}, {o.idleTimeout, "the idle timeout"}} {
		if limit.d > 0 && !o.now.Before(saved.Add(limit.d)) {
			return fmt.Errorf("%w: gorilla session last saved %s ago, past %s of %s", ErrExpired, age, limit.what, limit.d)
		}
	}
	return nil
}

// deleteCookie deletes the old store's cookie, where it was set. A cookie
// at the same path and domain as ours is replaced by our own line instead:
// a deleting line would delete that too.
func (g *gorillaMigration) deleteCookie(h http.Header, ours *cookieSpec) {
	if line := g.deletion(ours); line != "" {
		h.Add("Set-Cookie", line)
	}
}

// deletion returns the Set-Cookie line that deleteCookie adds, "" for
// none.
func (g *gorillaMigration) deletion(ours *cookieSpec) string {
	c := g.cookie
	if c.Path == ours.attrs.Path && strings.EqualFold(strings.TrimPrefix(c.Domain, "."), strings.TrimPrefix(ours.attrs.Domain, ".")) {
		return ""
	}
	c.Name, c.Secure = ours.name, ours.attrs.Secure
	return c.String()
}
