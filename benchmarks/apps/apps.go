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
// know whether the cookie must be written back (and once more after the
// handler returns, if it wrote its response: the check for a change made
// too late to be sent).
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
// is built with another: the size benchmarks use the typical session's
// shape with a longer or shorter cart (Sizes).
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
// The size benchmarks keep its shape and change the length of the cart.
type Typical struct {
	UserID int64
	Name   string
	Roles  []string
	Cart   []Item
	CSRF   string
	Theme  string
	// OIDC is set in the sessions of the token series (Size.Tokens) only:
	// nil, it is not in the JSON, and the typical session is unchanged.
	OIDC *Tokens `json:",omitempty"`
}

// Tokens are what an application signed in through OpenID Connect keeps in
// its session, as large sessions in practice are made: the provider's ID
// token, access token and refresh token (JWTs, as many providers issue
// them: base64url of a header, of claims and of a signature), the access
// token's expiry and its scope.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
	Expiry       int64 // Unix seconds
	Scope        string
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

// Size is a session size of the size benchmarks.
type Size struct {
	// Name is the size as the benchmarks name it.
	Name string
	// Items is the number of lines in the cart. 0 is a visitor's session:
	// no roles and no cart, about 100 bytes of JSON.
	Items int
	// About says what the size stands for, for the report.
	About string
	// GorillaMaxLength is 0 if gorilla/sessions' CookieStore stores the
	// size with its defaults. Otherwise CookieStore refuses it, and the
	// size benchmarks raise its codecs' limit to this many bytes
	// (RaiseMaxLength) to measure what the work would cost.
	GorillaMaxLength int
	// Tokens is 0 for the cart series. Otherwise the size is of the token
	// series: a visitor's session signed in through OpenID Connect, its
	// tokens' claims filled until the JSON is as long as it can be
	// without passing Tokens bytes (see Size.Data).
	Tokens int
	// MaxSize is 0 if cookiesession stores the size with its default cap
	// (DefaultMaxSize); otherwise the size needs WithMaxSize(MaxSize)
	// (see Size.Options).
	MaxSize int
}

// Sizes are the sizes the size benchmarks measure: the cart series,
// smallest first, then the token series.
//
// The cart series' JSON is 111, 1,013, 2,822 and 4,928 bytes. Sealed by
// cookiesession with its defaults, the first three fit one cookie (the
// third with about 150 bytes to spare, room for the sealed format to grow)
// and the last, about 6.6 KB sealed against the default cap of 7,168 bytes
// (cookiesession.DefaultMaxSize), takes two. gorilla/sessions' CookieStore
// stores the first three in one cookie each and refuses the last (see
// RaiseMaxLength).
//
// The token series is shaped like the large sessions applications keep:
// an ID token, an access token and a refresh token, and a few claims. Its
// JSON is 2,950 and 5,716 bytes, each in two cookies. 6 KB of JSON would
// be about 8.2 KB sealed: past the default cap, and past the largest cap
// New accepts (LargestMaxSize, 7,903 bytes: the next request's Cookie
// header must stay within what curl, nginx and Apache take). So the
// second is as close to 6 KB as fits that cap, with about 170 bytes to
// spare, and is measured with WithMaxSize(LargestMaxSize); with the
// default cap, about 5.3 KB of JSON is the most that fits. CookieStore
// refuses both with its defaults. The tests of this package check these
// figures.
var Sizes = []Size{
	{"100B", 0, "a visitor: no roles, an empty cart", 0, 0, 0},
	{"1KB", 33, "a cart of 33 lines", 0, 0, 0},
	{"3KB", 100, "a cart of 100 lines, still one cookie", 0, 0, 0},
	{"near-cap", 178, "a cart of 178 lines: two cookies, near the default cap", GorillaMaxLength, 0, 0},
	{"tokens-3KB", 0, "OIDC: ID, access and refresh tokens", GorillaMaxLength, 3000, 0},
	{"tokens-max", 0, "OIDC tokens, the most that fits the largest cap: WithMaxSize(7,903)", GorillaMaxLength, 5750, LargestMaxSize},
}

// LargestMaxSize is the largest cap cookiesession's New accepts for the
// benchmarks' cookie name (CookieName) and its default attributes: its
// cookies' Set-Cookie lines within 16 KiB of response headers, and the
// next request's Cookie header within 7,934 bytes. The tests of this
// package check that New accepts it and refuses one byte more.
const LargestMaxSize = 7903

// Options returns the options cookiesession needs for size z: none, or
// WithMaxSize(z.MaxSize).
func (z Size) Options() []cookiesession.Option {
	if z.MaxSize == 0 {
		return nil
	}
	return []cookiesession.Option{cookiesession.WithMaxSize(z.MaxSize)}
}

// GorillaStore returns GorillaStore's store, its codecs' limit raised to
// z.GorillaMaxLength if z needs it.
func (z Size) GorillaStore() *sessions.CookieStore {
	store := GorillaStore()
	if z.GorillaMaxLength != 0 {
		RaiseMaxLength(store, z.GorillaMaxLength)
	}
	return store
}

// Data returns the session value of size z: the typical session with z.Items
// cart lines, each with its own SKU, or a visitor's without roles or cart,
// or for the token series a visitor's with tokens (see tokenSession).
func (z Size) Data() Typical {
	t := NewTypical()
	if z.Tokens != 0 {
		return tokenSession(z.Tokens)
	}
	if z.Items == 0 {
		t.Roles, t.Cart = nil, nil
		return t
	}
	t.Cart = make([]Item, z.Items)
	for i := range t.Cart {
		t.Cart[i] = Item{SKU: fmt.Sprintf("SKU-%04d", 1001+i), Qty: 1 + i%9}
	}
	return t
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
// default but the name, which is CookieName as in every app, so that the
// cookies compared differ only in what they carry; tests pass some to
// look inside).
func NewManager(opts ...cookiesession.Option) (*cookiesession.Manager[Typical], error) {
	keys, err := cookiesession.NewKeyring(Secret(1, 32))
	if err != nil {
		return nil, err
	}
	return cookiesession.New[Typical](keys, append([]cookiesession.Option{cookiesession.WithName(CookieName)}, opts...)...)
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

// GorillaMaxLength is the limit on an encoded value that the size
// benchmarks give gorilla's codecs for the sizes CookieStore refuses (see
// RaiseMaxLength and Size.GorillaMaxLength).
const GorillaMaxLength = 16384

// RaiseMaxLength sets the longest value store's codecs encode and decode to
// n bytes. securecookie refuses values over 4096 bytes by default ("the value
// is too long"), which the near-cap session's exceeds; CookieStore, unlike
// FilesystemStore, has no MaxLength method, so it is set on each codec. A
// browser would still ignore the cookie: a name and value over 4096 bytes
// is not stored. The size benchmarks raise the limit only to show what the
// work would cost.
func RaiseMaxLength(store *sessions.CookieStore, n int) {
	for _, c := range store.Codecs {
		c.(*securecookie.SecureCookie).MaxLength(n)
	}
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
	if o := t.OIDC; o != nil {
		v["id_token"] = o.IDToken
		v["access_token"] = o.AccessToken
		v["refresh_token"] = o.RefreshToken
		v["token_expiry"] = o.Expiry
		v["scope"] = o.Scope
	}
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
