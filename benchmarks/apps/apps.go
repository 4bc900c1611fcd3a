// Package apps holds the small application that the benchmarks and the load
// command run several ways: without a session, with cookiesession (every
// option at its default) and with gorilla/sessions' CookieStore. Each
// handler does as little as it can besides the session (it writes a few
// bytes), so that the session's cost is what the measurements show.
//
// cookiesession has no cache of opened values: every request that asks for
// its session opens the cookie in full (base64url, XChaCha20-Poly1305,
// encoding/json), and every such request serialises the data again when
// the response is committed and compares the bytes with the cookie's, to
// know whether the cookie must be written back.
//
// One more app is a reference rather than a way to keep sessions:
//
//	headers-only        no session at all, but the same bytes on the wire
//	                    as cookiesession: the client's cookie, Vary on
//	                    every response, and on a writing route
//	                    Cache-Control and a Set-Cookie line of the same
//	                    length. What separates it from the app without a
//	                    session is what carrying a session cookie costs
//	                    net/http, whatever the library; what separates it
//	                    from cookiesession is the library's own work.
//
// Every app has three routes:
//
//	/seed   signs in: stores the app's session value (sets the cookie)
//	/read   reads the session's Name and writes it (no cookie written back)
//	/write  toggles the session's Theme, a change on every request, and
//	        writes "ok" (the cookie is written back)
//
// The value /seed stores is the typical session (NewTypical) unless the app
// is built with another.
package apps

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/ce967478/cookiesession"
	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// Item is a line of the typical session's cart.
type Item struct {
	SKU string
	Qty int
}

// Typical is the typical session of the benchmarks: about 200 bytes of JSON.
type Typical struct {
	UserID int64
	Name   string
	Roles  []string
	Cart   []Item
	CSRF   string
	Theme  string
}

// NewTypical returns the typical session's value, with Theme "dark": 203
// bytes of JSON.
func NewTypical() Typical {
	return Typical{
		UserID: 4711,
		Name:   "Ada Lovelace",
		Roles:  []string{"admin", "editor"},
		Cart:   []Item{{"SKU-1001", 2}, {"SKU-2002", 1}, {"SKU-3003", 5}},
		CSRF:   "q0Zx7rQ2M5u8v1Wb9sYf3kLp",
		Theme:  "dark",
	}
}

// CookieName is the session cookie's name in every app.
const CookieName = "session"

// Secret returns n fixed bytes derived from seed. The benchmarks use fixed
// keys so that runs are comparable; they protect nothing.
func Secret(seed byte, n int) []byte {
	return bytes.Repeat([]byte{seed}, n)
}

// App is one way of running the small application.
type App struct {
	Name  string
	Seed  http.Handler
	Read  http.Handler
	Write http.Handler
}

// Mux serves the app's three routes.
func (a *App) Mux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/seed", a.Seed)
	mux.Handle("/read", a.Read)
	mux.Handle("/write", a.Write)
	return mux
}

// toggle returns the other theme, so that every writing request changes
// the session.
func toggle(theme string) string {
	if theme == "dark" {
		return "light"
	}
	return "dark"
}

// None is the application without a session: the same routes writing the
// same bytes. Its cost is subtracted from the others' to get the session's.
func None() *App {
	name := NewTypical().Name
	return &App{
		Name: "none",
		Seed: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}),
		Read: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}),
		Write: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}),
	}
}

// CookiesessionName names the cookiesession app.
const CookiesessionName = "cookiesession"

// NewManager returns a cookiesession Manager over one fixed key, with opts
// (the benchmarks and the load command pass none: every option at its
// default; tests pass some to look inside).
func NewManager(opts ...cookiesession.Option) (*cookiesession.Manager[Typical], error) {
	keys, err := cookiesession.NewKeyring(Secret(1, 32))
	if err != nil {
		return nil, err
	}
	return cookiesession.New[Typical](keys, opts...)
}

// Cookiesession is the application on cookiesession's middleware with m,
// its /seed storing seed.
func Cookiesession(m *cookiesession.Manager[Typical], seed Typical) *App {
	return &App{
		Name: CookiesessionName,
		Seed: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.Get(r).Data = seed
			_, _ = io.WriteString(w, "ok")
		})),
		Read: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			_, _ = io.WriteString(w, s.Data.Name)
		})),
		Write: m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			s.Data.Theme = toggle(s.Data.Theme)
			_, _ = io.WriteString(w, "ok")
		})),
	}
}

// HeadersOnlyName names HeadersOnly's app.
const HeadersOnlyName = "headers-only"

// HeadersOnly returns the reference app that carries cookiesession's
// headers without a session (see the package comment): its /seed and
// /write set the Set-Cookie line m's app sets when it signs in, and every
// route answers Vary: Cookie, as m's does. It opens and seals nothing.
func HeadersOnly(m *cookiesession.Manager[Typical]) (*App, error) {
	w := httptest.NewRecorder()
	Cookiesession(m, NewTypical()).Seed.ServeHTTP(w, httptest.NewRequest("GET", "/seed", nil))
	set := w.Header()["Set-Cookie"]
	if len(set) != 1 {
		return nil, fmt.Errorf("signing in through cookiesession set %d cookies, want 1", len(set))
	}
	line, name := set[0], NewTypical().Name
	// What cookiesession's middleware adds, header for header.
	setting := func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Vary"] = []string{"Cookie"}
		h["Cache-Control"] = []string{"private"}
		h["Set-Cookie"] = []string{line}
		_, _ = io.WriteString(w, "ok")
	}
	return &App{
		Name: HeadersOnlyName,
		Seed: http.HandlerFunc(setting),
		Read: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Vary"] = []string{"Cookie"}
			_, _ = io.WriteString(w, name)
		}),
		Write: http.HandlerFunc(setting),
	}, nil
}

// The gorilla apps store the typical session the way gorilla's own
// documentation shows and most of its users do: one session.Values key per
// field, with gob.Register for the one type gob does not know already (the
// cart's []Item; gob registers []string and the basic types itself).
func init() {
	gob.Register([]Item{})
}

// GorillaStore returns a gorilla/sessions CookieStore as NewCookieStore
// makes it, with its defaults (gob, MaxAge 30 days, AES-CTR +
// HMAC-SHA256), given an authentication key and an encryption key: like
// cookiesession's, the cookie is encrypted, not only signed.
func GorillaStore() *sessions.CookieStore {
	return sessions.NewCookieStore(Secret(2, 32), Secret(3, 32))
}

// GorillaJSONStore is GorillaStore with securecookie's JSON encoder on each
// codec instead of gob.
//
// CookieStore keeps session.Values, a map[interface{}]interface{}, which
// encoding/json up to Go 1.26 cannot encode: every Save fails with "json:
// unsupported type". The variant is kept to show that; SecureCookieJSON's
// app stores the session another way, which works with every Go release.
func GorillaJSONStore() *sessions.CookieStore {
	s := GorillaStore()
	for _, c := range s.Codecs {
		c.(*securecookie.SecureCookie).SetSerializer(securecookie.JSONEncoder{})
	}
	return s
}

// putValues stores t in a gorilla session, one key per field.
func putValues(v map[interface{}]interface{}, t *Typical) {
	v["user_id"] = t.UserID
	v["name"] = t.Name
	v["roles"] = t.Roles
	v["cart"] = t.Cart
	v["csrf"] = t.CSRF
	v["theme"] = t.Theme
}

// Gorilla is the application on a gorilla/sessions store: Get, use
// session.Values, and Save when the session changed. Its /seed stores seed.
func Gorilla(name string, store sessions.Store, seed Typical) *App {
	return &App{
		Name: name,
		Seed: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// A cookie that does not decode gives a new session and an
			// error; like most handlers, this one goes on with it.
			s, _ := store.Get(r, CookieName)
			t := seed
			putValues(s.Values, &t)
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "ok")
		}),
		Read: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := store.Get(r, CookieName)
			name, _ := s.Values["name"].(string)
			_, _ = io.WriteString(w, name)
		}),
		Write: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := store.Get(r, CookieName)
			theme, _ := s.Values["theme"].(string)
			s.Values["theme"] = toggle(theme)
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "ok")
		}),
	}
}

// NewSecureCookieJSON returns a securecookie codec as GorillaStore's, with
// the JSON encoder: what a gorilla user who wants JSON ends up using, since
// CookieStore cannot (see GorillaJSONStore).
func NewSecureCookieJSON() *securecookie.SecureCookie {
	sc := securecookie.New(Secret(2, 32), Secret(3, 32))
	sc.MaxAge(86400 * 30)
	sc.SetSerializer(securecookie.JSONEncoder{})
	return sc
}

// SecureCookieJSON is the application on gorilla/securecookie directly,
// with the JSON encoder and the whole Typical as one value: decode the
// cookie, and encode and set it again on a write, with the cookie
// attributes CookieStore would use.
func SecureCookieJSON(sc *securecookie.SecureCookie) *App {
	load := func(r *http.Request) Typical {
		var t Typical
		if c, err := r.Cookie(CookieName); err == nil {
			_ = sc.Decode(CookieName, c.Value, &t)
		}
		return t
	}
	save := func(w http.ResponseWriter, t *Typical) bool {
		v, err := sc.Encode(CookieName, t)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return false
		}
		http.SetCookie(w, sessions.NewCookie(CookieName, v, &sessions.Options{
			Path: "/", MaxAge: 86400 * 30, SameSite: http.SameSiteNoneMode, Secure: true,
		}))
		return true
	}
	return &App{
		Name: "securecookie-json",
		Seed: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := NewTypical()
			if save(w, &t) {
				_, _ = io.WriteString(w, "ok")
			}
		}),
		Read: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := load(r)
			_, _ = io.WriteString(w, t.Name)
		}),
		Write: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := load(r)
			t.Theme = toggle(t.Theme)
			if save(w, &t) {
				_, _ = io.WriteString(w, "ok")
			}
		}),
	}
}
