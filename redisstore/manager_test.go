package redisstore

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// account is the session data of the test application.
type account struct{ User string }

// instance is one instance of the test application: its own Manager and
// Store, sharing keys and Redis with the others.
type instance struct {
	handler http.Handler
	errs    chan error // what the error handler received
}

func newInstance(t *testing.T, e *env, keys *cookiesession.Keyring) *instance {
	t.Helper()
	store := e.store(Options{})
	e.ready(store)
	in := &instance{errs: make(chan error, 16)}
	m, err := cookiesession.New[account](keys,
		cookiesession.WithRevocation(store),
		cookiesession.WithSubject(func(a account) string { return a.User }),
		cookiesession.WithClock(e.clock.now),
		cookiesession.WithErrorHandler(func(_ http.ResponseWriter, _ *http.Request, err error) { in.errs <- err }),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Renew()
		s.Data.User = r.URL.Query().Get("user")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		fmt.Fprintf(w, "%s|%t", s.Data.User, errors.Is(s.Err(), cookiesession.ErrRevoked))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Destroy()
	})
	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if err := m.SignOutEverywhere(r.Context(), s.Data.User); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Destroy()
	})
	in.handler = m.Handler(mux)
	return in
}

// browser keeps the cookies the responses set.
type browser map[string]*http.Cookie

// do sends a request with the browser's cookies, keeps the ones the
// response sets, and returns the response's body.
func (b browser) do(t *testing.T, in *instance, method, target string) string {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for _, c := range b {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	in.handler.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b, c.Name)
		} else {
			b[c.Name] = c
		}
	}
	body, _ := io.ReadAll(rec.Result().Body)
	return string(body)
}

// copy returns a browser holding the same cookies: a copied cookie.
func (b browser) copy() browser {
	c := browser{}
	for k, v := range b {
		c[k] = v
	}
	return c
}

// 6. Through the library: two instances of an application, each with its
// own Manager and Store on one Redis. A cookie destroyed on one is refused
// on the other, and a subject signed out everywhere on one is signed out
// on both.
func TestManagersShareRevocations(t *testing.T) {
	e := newEnv(t)
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	one, two := newInstance(t, e, keys), newInstance(t, e, keys)

	// Destroy on instance 1; the copy is refused on instance 2.
	alice := browser{}
	alice.do(t, one, "POST", "/login?user=alice")
	if got := alice.do(t, two, "GET", "/whoami"); got != "alice|false" {
		t.Fatalf("instance 2 before the logout: %q", got)
	}
	stolen := alice.copy()
	alice.do(t, one, "POST", "/logout")
	if len(alice) != 0 {
		t.Errorf("the logout left cookies: %v", alice)
	}
	var got string
	e.waitUntil(5*time.Second, "instance 2 refuses the destroyed cookie", func() bool {
		got = stolen.copy().do(t, two, "GET", "/whoami")
		return got != "alice|false"
	})
	if got != "|true" {
		t.Errorf("instance 2, the destroyed cookie: %q; want a fresh session whose Err wraps ErrRevoked", got)
	}
	stolen.do(t, two, "GET", "/whoami")
	if len(stolen) != 0 {
		t.Errorf("instance 2 did not clear the revoked cookie: %v", stolen)
	}

	// Sign out everywhere on instance 2; both of bob's browsers are
	// signed out on instance 1.
	phone, laptop := browser{}, browser{}
	phone.do(t, one, "POST", "/login?user=bob")
	laptop.do(t, two, "POST", "/login?user=bob")
	// Session times are whole seconds: the sign-out revokes sessions
	// created up to its second, so it happens a second later.
	e.clock.advance(time.Second)
	phone.do(t, two, "POST", "/logout-everywhere")
	e.waitUntil(5*time.Second, "instance 1 refuses bob's other session", func() bool {
		return laptop.copy().do(t, one, "GET", "/whoami") == "|true"
	})
	// bob signs in again: the new session is not signed out.
	e.clock.advance(time.Second)
	laptop = browser{}
	laptop.do(t, one, "POST", "/login?user=bob")
	if got := laptop.do(t, two, "GET", "/whoami"); got != "bob|false" {
		t.Errorf("a session begun after the sign-out: %q", got)
	}
	// Every revocation reached Redis: the error handler saw no failure.
	for i, in := range []*instance{one, two} {
		select {
		case err := <-in.errs:
			t.Errorf("instance %d's error handler: %v", i+1, err)
		default:
		}
	}
}
