package cookiesession

import (
	"bytes"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is an injected clock: tests move time, they never sleep.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *testClock { return &testClock{t: t0} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type user struct {
	Name string
	Cart []string
	N    int
}

// browser keeps cookies the way a browser would for one site: Set-Cookie
// lines replace or delete them, and requests carry them back.
type browser struct {
	t       testing.TB
	cookies map[string]string
}

func newBrowser(t testing.TB) *browser { return &browser{t: t, cookies: map[string]string{}} }

func (b *browser) store(h http.Header) {
	b.t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		if n := len("Set-Cookie: ") + len(line); n > setCookieLineMax {
			b.t.Errorf("Set-Cookie line of %d bytes: browsers ignore it", n)
		}
		c, err := http.ParseSetCookie(line)
		if err != nil {
			b.t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
}

func (b *browser) header() string {
	names := make([]string, 0, len(b.cookies))
	for n := range b.cookies {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		parts = append(parts, n+"="+b.cookies[n])
	}
	return strings.Join(parts, "; ")
}

// do sends one request through h with the browser's cookies and stores what
// comes back.
func (b *browser) do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	b.t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if c := b.header(); c != "" {
		req.Header.Set("Cookie", c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b.store(rec.Result().Header)
	return rec
}

// newTestManager returns a Manager on clock, for the cookie name
// FallbackName unless opts say otherwise: most tests are about other
// things than the name, and read it more easily.
func newTestManager[T any](t testing.TB, clock *testClock, opts ...Option) *Manager[T] {
	t.Helper()
	opts = append([]Option{WithClock(clock.Now), WithLogger(slog.New(slog.DiscardHandler)), WithName(FallbackName)}, opts...)
	m, err := New[T](mustKeyring(t, testSecret(1)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// handle wraps fn as a middleware-served handler writing "ok".
func handle[T any](m *Manager[T], fn func(s *Session[T])) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fn != nil {
			fn(m.Get(r))
		}
		_, _ = w.Write([]byte("ok"))
	}))
}

func TestNewRefusesBadOptions(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"host prefix with domain", []Option{WithName("__Host-s"), WithDomain("example.com")}, "forbids a Domain"},
		{"host prefix with path", []Option{WithName("__Host-s"), WithPath("/app")}, `requires Path "/"`},
		{"host prefix insecure", []Option{WithName("__Host-s"), WithSecure(false)}, "requires Secure"},
		{"secure prefix insecure", []Option{WithName("__Secure-s"), WithSecure(false)}, "requires Secure"},
		{"samesite none insecure", []Option{WithSameSite(http.SameSiteNoneMode), WithSecure(false)}, "SameSite=None requires Secure"},
		{"bad name", []Option{WithName("a b")}, "invalid cookie settings"},
		{"a chunk's name", []Option{WithName("session.1")}, `name of a chunk of cookie "session"`},
		{"a last chunk's name", []Option{WithName("__Host-s.15")}, "name of a chunk"},
		{"zero lifetime", []Option{WithMaxAge(0)}, "must be positive"},
		{"negative idle", []Option{WithIdleTimeout(-time.Second)}, "must not be negative"},
		{"idle longer than the lifetime", []Option{WithMaxAge(time.Second), WithIdleTimeout(5 * time.Second)}, "is longer than WithMaxAge(1s)"},
		{"tiny cap", []Option{WithMaxSize(10)}, "at least 256"},
		{"huge cap", []Option{WithMaxSize(1 << 20)}, "could pass 16384 bytes of response headers"},
		{"cap past the Cookie header", []Option{WithMaxSize(8190)}, "of Cookie header that curl sends whole"},
		{"nil serializer", []Option{WithSerializer(nil)}, "Serializer is needed"},
		{"validator of another type", []Option{WithValidator(func(*http.Request, *Session[int]) error { return nil })}, "WithValidator was given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New[user](k, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := New[user](nil); err == nil {
		t.Error("New accepted a nil Keyring")
	}
	if _, err := New[chan int](k); err == nil {
		t.Error("New accepted a type JSON cannot encode")
	}
	if _, err := New[user](k, WithName("__Host-s")); err != nil {
		t.Errorf("a correct __Host- setup was refused: %v", err)
	}
	for _, name := range []string{"app.16", "v1.0", "s.01", "s.x1", "s."} { // no chunk has these names
		if _, err := New[user](k, WithName(name)); err != nil {
			t.Errorf("WithName(%q) was refused: %v", name, err)
		}
	}
}

func TestCookieDefaults(t *testing.T) {
	m := newTestManager[user](t, newClock())
	rec := newBrowser(t).do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies = %v", cs)
	}
	c := cs[0]
	if c.Name != "session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Errorf("cookie = %+v, want session, HttpOnly, Secure, Lax, Path /", c)
	}
	if c.MaxAge != int(DefaultMaxAge/time.Second) {
		t.Errorf("Max-Age = %d, want %d", c.MaxAge, int(DefaultMaxAge/time.Second))
	}
}

// The cookie options reach every Set-Cookie line: the written cookie's,
// its chunks', and the deleting ones (a browser deletes a cookie only for
// the same name, path and domain).
func TestCookieOptionsReachTheCookie(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithPath("/app"), WithDomain("example.com"),
		WithSameSite(http.SameSiteStrictMode), WithMaxAge(time.Hour))
	b := newBrowser(t)
	check := func(rec *httptest.ResponseRecorder, wantLines int, deleting bool) {
		t.Helper()
		lines := rec.Header().Values("Set-Cookie")
		if len(lines) != wantLines {
			t.Fatalf("Set-Cookie %q, want %d lines", lines, wantLines)
		}
		for _, line := range lines {
			c, err := http.ParseSetCookie(line)
			if err != nil {
				t.Fatal(err)
			}
			if c.Path != "/app" || c.Domain != "example.com" || c.SameSite != http.SameSiteStrictMode || !c.HttpOnly || !c.Secure ||
				(c.Value == "") != deleting || (deleting && c.MaxAge >= 0) || (!deleting && c.MaxAge != 3600) {
				t.Errorf("%q: want Path=/app, Domain=example.com, SameSite=Strict, HttpOnly, Secure and Max-Age %v",
					line, map[bool]string{true: "0", false: "3600"}[deleting])
			}
		}
	}
	check(b.do(handle(m, func(s *Session[user]) { s.Data = bigData(5000) }), "GET", "/app/"), 2, false)
	check(b.do(handle(m, func(s *Session[user]) { s.Destroy() }), "GET", "/app/"), 2, true)
}

// Destroy signs the user out even with a flash message waiting: the data
// and the flash go, and the cookie is deleted.
func TestDestroyDropsPendingFlashes(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada"; s.AddFlash("welcome") }), "POST", "/login")
	b.do(handle(m, func(s *Session[user]) { s.Destroy() }), "POST", "/logout")
	if len(b.cookies) != 0 {
		t.Errorf("after Destroy the browser holds %v", keys(b.cookies))
	}
	var s *Session[user]
	var flashes []string
	b.do(handle(m, func(got *Session[user]) { s = got; flashes = got.Flashes() }), "GET", "/")
	if s.Data.Name != "" || len(flashes) != 0 {
		t.Errorf("after Destroy: data %+v, flashes %q", s.Data, flashes)
	}
}

func TestWhenSetCookieIsSent(t *testing.T) {
	clock := newClock()
	oldKeys := mustKeyring(t, testSecret(1))
	newKeys := mustKeyring(t, testSecret(2), testSecret(1))
	mk := func(keys *Keyring, opts ...Option) *Manager[user] {
		opts = append([]Option{WithClock(clock.Now), WithIdleTimeout(time.Hour), WithLogger(slog.New(slog.DiscardHandler)), WithName(FallbackName)}, opts...)
		m, err := New[user](keys, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := mk(oldKeys)
	read := handle(m, func(s *Session[user]) { _ = s.Data.Name })
	write := handle(m, func(s *Session[user]) { s.Data.N++ })

	b := newBrowser(t)
	if rec := b.do(read, "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("an untouched new session set a cookie")
	}
	if rec := b.do(handle(m, nil), "GET", "/"); rec.Header().Get("Vary") != "" {
		t.Error("a request that never read the session got Vary: Cookie")
	}
	if rec := b.do(write, "GET", "/"); rec.Header().Get("Set-Cookie") == "" {
		t.Fatal("a changed session set no cookie")
	}
	rec := b.do(read, "GET", "/")
	if rec.Header().Get("Set-Cookie") != "" {
		t.Error("an unchanged session set a cookie")
	}
	if rec.Header().Get("Vary") != "Cookie" {
		t.Errorf("Vary = %q, want Cookie", rec.Header().Get("Vary"))
	}
	if rec := b.do(handle(m, func(s *Session[user]) { n := s.Data.N; s.Data.N = n }), "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("a write of the same value set a cookie")
	}

	// Idle refresh: not before a third of the idle window, then once.
	clock.Advance(19 * time.Minute)
	if rec := b.do(read, "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("refreshed before a third of the idle window")
	}
	clock.Advance(2 * time.Minute)
	if rec := b.do(read, "GET", "/"); rec.Header().Get("Set-Cookie") == "" {
		t.Error("not refreshed after a third of the idle window")
	}
	if rec := b.do(read, "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("refreshed twice")
	}

	// Renew writes even without a change, and restarts the lifetime.
	var created time.Time
	clock.Advance(time.Minute)
	rec = b.do(handle(m, func(s *Session[user]) { s.Renew() }), "GET", "/")
	if rec.Header().Get("Set-Cookie") == "" {
		t.Error("Renew set no cookie")
	}
	b.do(handle(m, func(s *Session[user]) { created = s.Created() }), "GET", "/")
	if !created.Equal(clock.Now()) {
		t.Errorf("after Renew, Created = %v, want %v", created, clock.Now())
	}

	// A cookie from an older key is sealed again under the newest.
	m2 := mk(newKeys)
	read2 := handle(m2, func(s *Session[user]) {})
	rec = b.do(read2, "GET", "/")
	if rec.Header().Get("Set-Cookie") == "" {
		t.Fatal("a stale-keyed cookie was not re-sealed")
	}
	var stale bool
	b.do(handle(m2, func(s *Session[user]) { stale = s.stale }), "GET", "/")
	if _, _, err := mustKeyring(t, testSecret(2)).open("session", b.cookies["session"], at(clock.Now())); err != nil || stale {
		t.Errorf("after re-sealing: stale %v, and the newest key alone opens it: %v", stale, err)
	}

	// Destroy deletes the cookie.
	rec = b.do(handle(m2, func(s *Session[user]) { s.Destroy() }), "GET", "/")
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") || len(b.cookies) != 0 {
		t.Errorf("Destroy: Set-Cookie %q, browser keeps %v", rec.Header().Get("Set-Cookie"), b.cookies)
	}
}

func TestSettingResponsesAreNotSharedCacheable(t *testing.T) {
	m := newTestManager[user](t, newClock())
	tests := []struct{ in, want string }{
		{"", "private"},
		{"public, max-age=60", "private, max-age=60"},
		{"max-age=60, s-maxage=600", "private, max-age=60"},
		{"no-store", "no-store"},
		{"private, max-age=5", "private, max-age=5"},
		{`no-cache="X-A,public,X-B", max-age=60`, `private, no-cache="X-A,public,X-B", max-age=60`}, // quoted commas
		{`no-cache="X, public, s-maxage=600`, `private, no-cache="X`},                               // a quote left open
		// Qualified forms let a shared cache store the response less the
		// fields they name: only the unqualified ones keep it out.
		{`public, max-age=600, private="X-Debug"`, `private, max-age=600, private="X-Debug"`},
		{`max-age=600, private=X-Debug`, `private, max-age=600, private=X-Debug`},
		{`max-age=600, Private="Set-Cookie, X-A"`, `private, max-age=600, Private="Set-Cookie, X-A"`},
		{`no-cache="Set-Cookie", max-age=600`, `private, no-cache="Set-Cookie", max-age=600`},
		{`no-cache=Set-Cookie, max-age=600`, `private, no-cache=Set-Cookie, max-age=600`},
		{`no-cache, max-age=600`, `private, no-cache, max-age=600`},
		{`max-age=600, PRIVATE`, `max-age=600, PRIVATE`},
	}
	for _, tt := range tests {
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tt.in != "" {
				w.Header().Set("Cache-Control", tt.in)
			}
			m.Get(r).Data.Name = "x"
		}))
		rec := newBrowser(t).do(h, "GET", "/")
		if got := rec.Header().Get("Cache-Control"); got != tt.want {
			t.Errorf("Cache-Control %q became %q, want %q", tt.in, got, tt.want)
		}
	}

	// Fields aimed at one kind of cache replace Cache-Control for it: a
	// CDN told to cache would ignore "private". They go, except that
	// Surrogate-Control keeps what it asks beyond caching (ESI) and
	// forbids storing instead. The rest of the headers stay.
	targeted := []struct{ name, in, want string }{
		{"CDN-Cache-Control", "max-age=600", ""},
		{"Cloudflare-CDN-Cache-Control", "public, max-age=600", ""},
		{"vercel-cdn-cache-control", "max-age=600", ""}, // set without canonicalising
		{"Surrogate-Control", "max-age=600", "no-store"},
		{"Surrogate-Control", `max-age=600, content="ESI/1.0"`, `no-store, content="ESI/1.0"`},
		{"Surrogate-Control", `Content="ESI/1.0, X/1";edge, max-age=60;edge`, `no-store, Content="ESI/1.0, X/1";edge`},
		{"Surrogate-Control", `content="ESI/1.0, max-age=600`, `no-store, content="ESI/1.0`}, // a quote left open
	}
	for _, tt := range targeted {
		for _, write := range []bool{true, false} {
			h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()[tt.name] = []string{tt.in}
				w.Header().Set("X-Note", "kept")
				w.Header().Set("Expires", "Thu, 01 Jan 2099 00:00:00 GMT")
				if write {
					m.Get(r).Data.Name = "x"
				}
			}))
			rec := newBrowser(t).do(h, "GET", "/")
			want := tt.in
			if write {
				want = tt.want
			}
			if got := strings.Join(rec.Header()[tt.name], ", "); got != want {
				t.Errorf("cookie set %v: %s %q became %q, want %q", write, tt.name, tt.in, got, want)
			}
			if rec.Header().Get("X-Note") != "kept" || rec.Header().Get("Expires") == "" {
				t.Errorf("cookie set %v: an unrelated header was removed: %v", write, rec.Header())
			}
		}
	}
}

func TestSessionSurvivesShapeChanges(t *testing.T) {
	type before struct {
		Name    string
		Removed int
	}
	type after struct {
		Name  string
		Added []string
	}
	clock := newClock()
	keys := mustKeyring(t, testSecret(1))
	m1, _ := New[before](keys, WithClock(clock.Now))
	m2, _ := New[after](keys, WithClock(clock.Now))
	b := newBrowser(t)
	b.do(handle(m1, func(s *Session[before]) { s.Data = before{"ada", 7} }), "GET", "/")
	var got after
	var isNew bool
	b.do(handle(m2, func(s *Session[after]) { got, isNew = s.Data, s.IsNew() }), "GET", "/")
	if isNew || got.Name != "ada" || got.Added != nil {
		t.Errorf("after the deploy: %+v new=%v", got, isNew)
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		advance time.Duration
		expired bool
	}{
		{"within lifetime", []Option{WithMaxAge(time.Hour)}, 59 * time.Minute, false},
		{"past lifetime", []Option{WithMaxAge(time.Hour)}, time.Hour, true},
		{"within idle", []Option{WithIdleTimeout(10 * time.Minute)}, 9 * time.Minute, false},
		{"past idle", []Option{WithIdleTimeout(10 * time.Minute)}, 10 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			m := newTestManager[user](t, clock, tt.opts...)
			b := newBrowser(t)
			b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			clock.Advance(tt.advance)
			var s *Session[user]
			rec := b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
			if got := s.IsNew(); got != tt.expired {
				t.Fatalf("IsNew = %v, want %v (err %v)", got, tt.expired, s.Err())
			}
			if tt.expired {
				if !errors.Is(s.Err(), ErrExpired) || s.Data.Name != "" {
					t.Errorf("expired session: err %v, data %+v", s.Err(), s.Data)
				}
				if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
					t.Error("the expired cookie was not cleared")
				}
			}
		})
	}
}

func TestAbsoluteLifetimeIsNotExtendedByUse(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithMaxAge(time.Hour), WithIdleTimeout(20*time.Minute))
	b := newBrowser(t)
	write := handle(m, func(s *Session[user]) { s.Data.N++ })
	b.do(write, "GET", "/")
	for i := 0; i < 5; i++ {
		clock.Advance(15 * time.Minute)
		var s *Session[user]
		b.do(handle(m, func(got *Session[user]) { s = got; s.Data.N++ }), "GET", "/")
		if wantNew := i == 3; s.IsNew() != wantNew { // then a new session starts
			t.Fatalf("after %v: IsNew = %v, want %v", time.Duration(i+1)*15*time.Minute, s.IsNew(), wantNew)
		}
	}
}

func TestValidatorRejects(t *testing.T) {
	clock := newClock()
	var signedOutAt time.Time
	var sawCreated time.Time
	m := newTestManager[user](t, clock, WithValidator(func(r *http.Request, s *Session[user]) error {
		sawCreated = s.Created()
		if s.Data.Name == "ada" && !s.Created().After(signedOutAt) {
			return errors.New("signed out everywhere")
		}
		return nil
	}))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	var s *Session[user]
	get := handle(m, func(got *Session[user]) { s = got })
	b.do(get, "GET", "/")
	if s.IsNew() || s.Data.Name != "ada" || !sawCreated.Equal(t0) {
		t.Fatalf("valid session refused: %+v %v", s.Data, s.Err())
	}
	signedOutAt = clock.Now()
	rec := b.do(get, "GET", "/")
	if !s.IsNew() || !errors.Is(s.Err(), ErrRejected) || s.Data.Name != "" {
		t.Fatalf("rejected session: new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
	}
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Error("the rejected cookie was not cleared")
	}
}

// A session's times are the cookie's, whether the instance that serves a
// request remembers the value (it sealed it) or opens it (another
// instance, or after a restart): whole seconds, rounded up. Otherwise a
// validator comparing them with a stored time answers differently on
// different instances. Rounding up is what lets the README's "signed out
// everywhere" validator keep the session renewed just after the sign-out,
// in the same second, while rejecting one from an earlier second.
func TestTimesAreTheCookiesOnEveryInstance(t *testing.T) {
	clock := newClock()
	clock.Advance(600 * time.Millisecond) // the clock is between seconds
	signedOutAt := time.Time{}
	var created, issued time.Time
	validator := WithValidator(func(r *http.Request, s *Session[user]) error {
		if s.Data.Name != "" && !s.Created().After(signedOutAt) {
			return errors.New("signed out everywhere")
		}
		return nil
	})
	a := newTestManager[user](t, clock, validator) // seals, and remembers
	b := newTestManager[user](t, clock, validator) // only opens
	capture := func(s *Session[user]) { created, issued = s.Created(), s.Issued() }

	other := newBrowser(t) // signed in on another device, a second earlier
	other.do(handle(a, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/login")
	clock.Advance(time.Second)
	ada := newBrowser(t)
	ada.do(handle(a, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/login")
	clock.Advance(100 * time.Millisecond)
	// "Sign out everywhere", then a new lifetime for this browser, in the
	// same request: the second has not changed.
	ada.do(handle(a, func(s *Session[user]) {
		signedOutAt = clock.Now()
		s.Renew()
	}), "POST", "/sign-out-everywhere")
	clock.Advance(100 * time.Millisecond)

	want := time.Unix(t0.Unix()+2, 0) // 12:00:01.7, rounded up
	for _, m := range []*Manager[user]{a, b} {
		var s *Session[user]
		ada.do(handle(m, func(got *Session[user]) { s = got; capture(got) }), "GET", "/")
		if s.Data.Name != "ada" || s.Err() != nil {
			t.Errorf("instance %p: the renewed session was refused: %v", m, s.Err())
		}
		if !created.Equal(want) || !issued.Equal(want) || created.Nanosecond() != 0 {
			t.Errorf("instance %p: Created %v, Issued %v; want both %v", m, created, issued, want)
		}
		o := newBrowser(t) // a rejection clears the cookie: each instance gets it
		maps.Copy(o.cookies, other.cookies)
		o.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
		if !errors.Is(s.Err(), ErrRejected) {
			t.Errorf("instance %p: the session from before the sign-out was not rejected: %v", m, s.Err())
		}
	}
}

func TestFlashesAreReadOnce(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.AddFlash("saved"); s.AddFlash("twice") }), "POST", "/")
	var got []string
	rec := b.do(handle(m, func(s *Session[user]) { got = s.Flashes() }), "GET", "/")
	if strings.Join(got, ",") != "saved,twice" {
		t.Fatalf("flashes = %q", got)
	}
	if rec.Header().Get("Set-Cookie") == "" {
		t.Error("reading flashes did not write the session without them")
	}
	b.do(handle(m, func(s *Session[user]) { got = s.Flashes() }), "GET", "/")
	if len(got) != 0 {
		t.Errorf("flashes read twice: %q", got)
	}
	if rec := b.do(handle(m, func(s *Session[user]) { s.Flashes() }), "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("reading no flashes wrote a cookie")
	}
}

// A flash added and read in the same request (a handler that renders
// instead of redirecting) leaves the cookie as it came; flashes the cookie
// brought are gone once read, whatever was added and read meanwhile.
func TestFlashesAddedAndReadTogether(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	var got []string
	rec := b.do(handle(m, func(s *Session[user]) { s.AddFlash("now"); got = s.Flashes() }), "GET", "/")
	if strings.Join(got, ",") != "now" {
		t.Errorf("flashes = %q", got)
	}
	if rec.Header().Get("Set-Cookie") != "" {
		t.Error("a flash added and read in one request rewrote an unchanged cookie")
	}

	b.do(handle(m, func(s *Session[user]) { s.AddFlash("queued") }), "POST", "/")
	rec = b.do(handle(m, func(s *Session[user]) {
		got = s.Flashes()
		s.AddFlash("now")
		got = append(got, s.Flashes()...)
	}), "GET", "/")
	if strings.Join(got, ",") != "queued,now" {
		t.Errorf("flashes = %q", got)
	}
	if rec.Header().Get("Set-Cookie") == "" {
		t.Error("the cookie's flashes were read but the cookie was not rewritten without them")
	}
	b.do(handle(m, func(s *Session[user]) { got = s.Flashes() }), "GET", "/")
	if len(got) != 0 {
		t.Errorf("flashes read twice: %q", got)
	}
}

func TestDestroyThenFlashStartsANewSession(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock)
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	clock.Advance(time.Hour)
	b.do(handle(m, func(s *Session[user]) { s.Destroy(); s.AddFlash("signed out") }), "POST", "/logout")
	var s *Session[user]
	var flashes []string
	b.do(handle(m, func(got *Session[user]) { s = got; flashes = s.Flashes() }), "GET", "/")
	if s.Data.Name != "" || strings.Join(flashes, "") != "signed out" || !s.Created().Equal(clock.Now()) {
		t.Errorf("after logout: data %+v, flashes %q, created %v", s.Data, flashes, s.Created())
	}
}

func TestMapSessions(t *testing.T) {
	m := newTestManager[map[string]string](t, newClock())
	b := newBrowser(t)
	if rec := b.do(handle(m, func(s *Session[map[string]string]) { _ = s.Data["x"] }), "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("an untouched map session set a cookie")
	}
	b.do(handle(m, func(s *Session[map[string]string]) { s.Data["user"] = "ada" }), "GET", "/")
	var got string
	b.do(handle(m, func(s *Session[map[string]string]) { got = s.Data["user"]; s.Destroy(); s.Data["after"] = "ok" }), "GET", "/")
	if got != "ada" {
		t.Errorf("user = %q", got)
	}
}

// A map session's Data is ready for assignment on every request: after a
// handler set it to nil (which empties the session), and when a cookie
// holds null, as one written by an earlier version of an application that
// did so may.
func TestMapSessionsAreNeverNil(t *testing.T) {
	clock := newClock()
	m := newTestManager[map[string]string](t, clock)
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[map[string]string]) { s.Data["user"] = "ada" }), "POST", "/login")
	rec := b.do(handle(m, func(s *Session[map[string]string]) { s.Data = nil }), "POST", "/logout")
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") || len(b.cookies) != 0 {
		t.Errorf("a session set to nil was not deleted: Set-Cookie %q", rec.Header().Get("Set-Cookie"))
	}

	null, err := m.e.keys.seal(m.Name(), &Contents{Created: clock.Now(), Issued: clock.Now(), Data: []byte("null")})
	if err != nil {
		t.Fatal(err)
	}
	b.cookies[m.Name()] = null
	for i, h := range []http.Handler{
		handle(m, func(s *Session[map[string]string]) { s.Data["theme"] = "dark" }), // opens null
		handle(m, func(s *Session[map[string]string]) { s.Data["lang"] = "en" }),    // from the cache
	} {
		if rec := b.do(h, "GET", "/"); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
	}
	var got map[string]string
	b.do(handle(m, func(s *Session[map[string]string]) { got = s.Data }), "GET", "/")
	if got["theme"] != "dark" || got["lang"] != "en" {
		t.Errorf("Data = %v, want theme and lang", got)
	}
}

// An empty list and no list serialise differently ("[]" and "null"): a
// read must not rewrite the cookie, a change between them must be written,
// and an empty list must still be empty after an unrelated write.
func TestEmptyListsAreNotNil(t *testing.T) {
	type tagged struct {
		Tags  []any
		Items []typicalItem
		N     int
	}
	m := newTestManager[tagged](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[tagged]) { s.Data = tagged{Tags: []any{}, Items: []typicalItem{}} }), "GET", "/")
	if rec := b.do(handle(m, func(s *Session[tagged]) { _ = s.Data.N }), "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("a read-only request rewrote a session holding empty lists")
	}
	b.do(handle(m, func(s *Session[tagged]) { s.Data.N++ }), "GET", "/")
	var got tagged
	b.do(handle(m, func(s *Session[tagged]) { got = s.Data }), "GET", "/")
	if got.Tags == nil || got.Items == nil {
		t.Errorf("after an unrelated write, an empty list became nil: Tags nil %v, Items nil %v", got.Tags == nil, got.Items == nil)
	}
	if rec := b.do(handle(m, func(s *Session[tagged]) { s.Data.Tags, s.Data.Items = nil, nil }), "GET", "/"); rec.Header().Get("Set-Cookie") == "" {
		t.Error("changing empty lists to nil was not saved")
	}

	mm := newTestManager[map[string]any](t, newClock())
	b = newBrowser(t)
	b.do(handle(mm, func(s *Session[map[string]any]) { s.Data["tags"] = []any{} }), "GET", "/")
	if rec := b.do(handle(mm, func(s *Session[map[string]any]) { _ = s.Data["tags"] }), "GET", "/"); rec.Header().Get("Set-Cookie") != "" {
		t.Error("a read-only request rewrote a map session holding an empty list")
	}
	b.do(handle(mm, func(s *Session[map[string]any]) { s.Data["n"] = 1.0 }), "GET", "/")
	var tags any
	b.do(handle(mm, func(s *Session[map[string]any]) { tags = s.Data["tags"] }), "GET", "/")
	if l, ok := tags.([]any); !ok || l == nil {
		t.Errorf("after an unrelated write, tags = %#v, want []any{}", tags)
	}
}

func TestBadCookiesGiveAFreshSession(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock)
	other, _ := New[user](mustKeyring(t, testSecret(9)), WithClock(clock.Now), WithName(FallbackName))
	b := newBrowser(t)
	b.do(handle(other, func(s *Session[user]) { s.Data.Name = "eve" }), "GET", "/")
	foreign := b.cookies["session"]
	b.cookies = map[string]string{}
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	good := b.cookies["session"]
	tests := []struct {
		name   string
		cookie string
		want   error
	}{
		{"garbage", "session=%%%", ErrMalformed},
		{"tampered", "session=" + tamper(good), nil},
		{"foreign key", "session=" + foreign, ErrUnknownKey},
		{"other name", "other=" + good + "; session=x", ErrMalformed},
		{"chunks without main", "session.1=abc", ErrMalformed},
		{"too large", "session=" + strings.Repeat("A", 1<<20), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s *Session[user]
			h := handle(m, func(got *Session[user]) { s = got })
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Cookie", tt.cookie)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
			if !s.IsNew() || s.Err() == nil || s.Data.Name != "" {
				t.Fatalf("new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
			}
			if tt.want != nil && !errors.Is(s.Err(), tt.want) {
				t.Errorf("err = %v, want %v", s.Err(), tt.want)
			}
			if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
				t.Errorf("the bad cookie was not cleared: %q", rec.Header().Values("Set-Cookie"))
			}
		})
	}
}

func TestSaveFailureKeepsPreviousCookie(t *testing.T) {
	var hookErr error
	m := newTestManager[user](t, newClock(), WithMaxSize(1024))
	hooked := newTestManager[user](t, newClock(), WithMaxSize(1024),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	for _, tt := range []struct {
		name       string
		m          *Manager[user]
		wantStatus int
	}{
		{"default handler", m, http.StatusInternalServerError},
		{"custom handler writing nothing", hooked, http.StatusSeeOther}, // the application's redirect
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			b.do(handle(tt.m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			before := b.cookies["session"]
			var body bytes.Buffer
			rec := b.do(tt.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tt.m.Get(r).Data.Name = strings.Repeat("x", 2000)
				w.Header().Set("X-Frame-Options", "DENY")
				w.Header().Set("Content-Encoding", "gzip") // as a compressing middleware would
				http.Redirect(w, r, "/next", http.StatusSeeOther)
			})), "GET", "/")
			body.Write(rec.Body.Bytes())
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, tt.wantStatus)
			}
			if sc := rec.Header().Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("a failed save sent Set-Cookie %q", sc)
			}
			if b.cookies["session"] != before {
				t.Error("the browser lost its previous cookie")
			}
			if tt.wantStatus == http.StatusInternalServerError {
				if strings.Contains(body.String(), "See Other") {
					t.Error("the application's body went out after the 500")
				}
				// The 500 replaces the redirect: no Location, not cached;
				// headers that are not the response's own stay.
				h := rec.Header()
				// Content-Encoding stays, as with http.Error: a middleware
				// that set it compresses the 500 too.
				if h.Get("Location") != "" || h.Get("Cache-Control") != "no-store" || h.Get("X-Frame-Options") != "DENY" ||
					h.Get("Content-Encoding") != "gzip" {
					t.Errorf("the 500's headers: %v", h)
				}
			}
		})
	}
	if !errors.Is(hookErr, ErrSaveFailed) || !errors.Is(hookErr, ErrTooLarge) || !strings.Contains(hookErr.Error(), "the cap is 1024") {
		t.Errorf("hook got %v", hookErr)
	}
}

// More flash messages than a cookie may claim to hold fail the save,
// loudly, instead of writing a cookie that would not open again.
func TestTooManyFlashesFailTheSave(t *testing.T) {
	var hookErr error
	m := newTestManager[user](t, newClock(),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/login")
	before := b.cookies[m.Name()]
	b.do(handle(m, func(s *Session[user]) {
		for range maxFlashes + 1 {
			s.AddFlash("")
		}
	}), "POST", "/")
	if !errors.Is(hookErr, ErrSaveFailed) || !errors.Is(hookErr, ErrTooLarge) {
		t.Errorf("hook got %v, want ErrSaveFailed and ErrTooLarge", hookErr)
	}
	if b.cookies[m.Name()] != before {
		t.Error("the browser lost its previous cookie")
	}
	var s *Session[user]
	b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
	if s.Data.Name != "ada" || s.Err() != nil {
		t.Errorf("the session did not survive: %+v, %v", s.Data, s.Err())
	}
}

func TestSaveFailureIsLogged(t *testing.T) {
	var logs bytes.Buffer
	m := newTestManager[user](t, newClock(), WithMaxSize(1024), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	newBrowser(t).do(handle(m, func(s *Session[user]) { s.Data.Name = strings.Repeat("x", 2000) }), "GET", "/")
	if !strings.Contains(logs.String(), "the cap is 1024") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("log = %q", logs.String())
	}
}

func TestLoadAndSaveWithoutMiddleware(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Load(r)
		s.Data.N++
		if err := m.Save(w, s); err != nil {
			t.Error(err)
		}
		// A second Save of an unchanged session writes nothing more.
		if err := m.Save(w, s); err != nil {
			t.Error(err)
		}
	})
	for i := 0; i < 3; i++ {
		rec := b.do(h, "GET", "/")
		if n := len(rec.Header().Values("Set-Cookie")); n != 1 {
			t.Fatalf("request %d: %d Set-Cookie lines", i, n)
		}
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", b.header())
	if got := m.Load(req).Data.N; got != 3 {
		t.Errorf("N = %d, want 3", got)
	}
}

func TestGetOutsideHandlerPanicsWithAdvice(t *testing.T) {
	m := newTestManager[user](t, newClock())
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "m.Handler") {
			t.Errorf("panic = %v", r)
		}
	}()
	m.Get(httptest.NewRequest("GET", "/", nil))
}

func TestConcurrentUseOfOneManager(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithIdleTimeout(time.Hour))
	h := handle(m, func(s *Session[user]) { s.Data.N++; s.Data.Cart = append(s.Data.Cart, "x") })
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBrowser(t)
			for i := 0; i < 20; i++ {
				b.do(h, "GET", "/")
			}
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Cookie", b.header())
			if n := m.Load(req).Data.N; n != 20 {
				t.Errorf("N = %d, want 20", n)
			}
		}()
	}
	wg.Wait()
}

func TestEmptiedSessionIsDeleted(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	rec := b.do(handle(m, func(s *Session[user]) { s.Data.Name = "" }), "GET", "/")
	if len(b.cookies) != 0 || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("an emptied session was written: %q", rec.Header().Values("Set-Cookie"))
	}
	b.do(handle(m, func(s *Session[user]) { s.Destroy(); s.AddFlash("bye") }), "GET", "/")
	if len(b.cookies) != 1 {
		t.Fatal("the flash after Destroy was not written")
	}
	b.do(handle(m, func(s *Session[user]) { s.Flashes() }), "GET", "/")
	if len(b.cookies) != 0 {
		t.Error("a session emptied by reading its flash was kept")
	}
}

// A cookie that does not open is logged at debug level with the reason,
// for whoever chases unexpected sign-outs, and never above it, since
// anyone can send one; the value itself is never logged.
func TestCookiesThatDoNotOpenAreLoggedAtDebug(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := newTestManager[user](t, newClock(), WithLogger(logger))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	tampered := tamper(b.cookies["session"])
	b.cookies["session"] = tampered
	b.do(handle(m, func(*Session[user]) {}), "GET", "/")
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "failed authentication") {
		t.Errorf("no debug record with the reason:\n%s", out)
	}
	if strings.Contains(out, "level=WARN") || strings.Contains(out, "level=ERROR") || strings.Contains(out, tampered[10:40]) {
		t.Errorf("logged louder than debug, or the value:\n%s", out)
	}
}

// A client that comes back at least every third of the idle window never
// loses its session, even at the shortest timeout New accepts and with
// requests at any fraction of a second; the browser never keeps the cookie
// past the sealed deadline, nor drops it more than a second before.
func TestIdleRefreshKeepsActiveClients(t *testing.T) {
	clock := &testClock{t: t0.Add(300 * time.Millisecond)}
	m := newTestManager[user](t, clock, WithIdleTimeout(MinIdleTimeout))
	b := newBrowser(t)
	expires := map[string]time.Time{} // when the browser drops each cookie
	note := func(rec *httptest.ResponseRecorder) {
		for _, c := range rec.Result().Cookies() {
			expires[c.Name] = clock.Now().Add(time.Duration(c.MaxAge) * time.Second)
		}
	}
	note(b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/"))
	gap := MinIdleTimeout/3 - 7*time.Millisecond
	for i := range 60 {
		clock.Advance(gap)
		if clock.Now().After(expires["session"]) {
			t.Fatalf("request %d: the browser dropped the cookie at %v", i, expires["session"])
		}
		var s *Session[user]
		rec := b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
		note(rec)
		if s.IsNew() || s.Data.Name != "ada" {
			t.Fatalf("request %d, %v after the last: the session was lost (%v)", i, gap, s.Err())
		}
		if c := rec.Result().Cookies(); len(c) == 1 {
			deadline := s.Issued().Add(MinIdleTimeout)
			if got := expires["session"]; got.After(deadline) || got.Before(deadline.Add(-time.Second)) {
				t.Errorf("request %d: the browser keeps the cookie until %v, the sealed deadline is %v", i, got, deadline)
			}
		}
	}
	if _, err := New[user](mustKeyring(t, testSecret(1)), WithIdleTimeout(MinIdleTimeout-time.Second)); err == nil {
		t.Error("an idle timeout below MinIdleTimeout was accepted")
	}
}
