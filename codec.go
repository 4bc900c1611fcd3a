package cookiesession

import (
	"net/http"
	"time"
)

// The codec on its own, for tools and tests that hold cookies rather than
// a request: cmd/sessionkey opens pasted cookies with it. It knows nothing
// of revocation, validators or the response; a Manager adds those.

// Limits bound what Open accepts, as a Manager's options do.
type Limits struct {
	MaxAge      time.Duration // the lifetime, as WithMaxAge; zero means DefaultMaxAge
	IdleTimeout time.Duration // as WithIdleTimeout; zero means none
	MaxSize     int           // as WithMaxSize; zero means DefaultMaxSize
}

// Seal seals c for the cookie called name with the newest key, in the
// default format, as a Manager would. The value is one cookie's; a
// Manager splits a longer one into chunks.
func (k *Keyring) Seal(name string, c Contents) (string, error) {
	return k.seal(name, &c)
}

// Open opens the session that cookies carry under name (its main cookie
// and any chunks, among other cookies: http.ParseCookie reads a Cookie
// header) as a Manager with limits would at now, in either format. It
// returns what the first value that opens carries, and the position in k,
// from 0 (the newest), of the key that sealed it. With no cookie called
// name it returns http.ErrNoCookie; otherwise its errors are those that
// Session.Err wraps, expected for untrusted input.
func (k *Keyring) Open(name string, cookies []*http.Cookie, now time.Time, l Limits) (Contents, int, error) {
	o := openOptions{now: now, maxAge: l.MaxAge, idleTimeout: l.IdleTimeout, maxLength: l.MaxSize}
	if o.maxAge == 0 {
		o.maxAge = DefaultMaxAge
	}
	if o.maxLength == 0 {
		o.maxLength = DefaultMaxSize
	}
	j := jar{spec: &cookieSpec{name: name, maxSize: o.maxLength}}
	for _, c := range cookies {
		if i := j.spec.index(c.Name); i >= 0 && len(j.values[i]) < maxValues {
			j.values[i] = append(j.values[i], c.Value)
		}
	}
	if len(j.values[0]) == 0 {
		return Contents{}, 0, http.ErrNoCookie
	}
	var first error
	for _, main := range j.values[0] {
		c, key, _, err := openEither(k, gorillaFormat{k}, &j, main, o)
		if err == nil {
			return c, key, nil
		}
		if first == nil {
			first = err
		}
	}
	return Contents{}, 0, first
}
