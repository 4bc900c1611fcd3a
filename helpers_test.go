package cookiesession_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// What every test file shares: one test clock, one browser, and the
// session type and Managers most tests are about. Tests go through the
// public API; what they check is what a user sees (Set-Cookie lines,
// cookies opened with Keyring.Open, Session.Err, logs, the error handler).

// t0 is the start of every test clock: a fixed time, so that failures
// reproduce.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testClock is the clock tests give WithClock: they move time, they never
// sleep. It is safe for concurrent use, as a Manager's clock must be.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

// newClock returns a clock standing at t0.
func newClock() *testClock { return newClockAt(t0) }

// newClockAt returns a clock standing at t.
func newClockAt(t time.Time) *testClock { return &testClock{t: t} }

// Now is the clock's time; pass c.Now to WithClock.
func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// browser keeps cookies the way a browser does for one site: Set-Cookie
// lines set, replace and delete them, requests carry them back in one
// Cookie header, and every line is checked against the 4096 bytes a
// browser accepts. By default it keeps a cookie until a line deletes it,
// like a client that ignores Max-Age (or an attacker replaying a copy):
// the server must not trust Max-Age. withClock makes it drop cookies once
// their Max-Age has passed, as real browsers do.
//
// It is also an http.CookieJar, for tests whose requests go through an
// http.Client to a real server.
type browser struct {
	t       testing.TB        // nil in examples, which have no T: a bad line panics
	clock   *testClock        // nil: Max-Age is ignored
	cookies map[string]string // name → value
	expires map[string]time.Time
	mu      sync.Mutex // for the http.CookieJar methods, which a client may call from its goroutines
}

// newBrowser returns a browser without cookies. t is nil in examples.
func newBrowser(t testing.TB) *browser {
	return &browser{t: t, cookies: map[string]string{}, expires: map[string]time.Time{}}
}

// withClock makes b drop each cookie once its Max-Age has passed on clock.
func (b *browser) withClock(clock *testClock) *browser {
	b.clock = clock
	return b
}

// setCookieLineMax is the longest Set-Cookie line a browser keeps,
// "Set-Cookie: " included.
const setCookieLineMax = 4096

func (b *browser) fail(format string, args ...any) {
	if b.t == nil {
		panic(fmt.Sprintf(format, args...))
	}
	b.t.Helper()
	b.t.Fatalf(format, args...)
}

// store applies the Set-Cookie lines of a response's headers.
func (b *browser) store(h http.Header) {
	if b.t != nil {
		b.t.Helper()
	}
	for _, line := range h.Values("Set-Cookie") {
		if n := len("Set-Cookie: ") + len(line); n > setCookieLineMax {
			b.fail("Set-Cookie line of %d bytes: browsers ignore it", n)
		}
		c, err := http.ParseSetCookie(line)
		if err != nil {
			b.fail("bad Set-Cookie %q: %v", line, err)
		}
		b.apply(c)
	}
}

// apply sets or deletes one cookie. Max-Age=0 parses as a negative MaxAge.
func (b *browser) apply(c *http.Cookie) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.MaxAge < 0 {
		delete(b.cookies, c.Name)
		delete(b.expires, c.Name)
		return
	}
	b.cookies[c.Name] = c.Value
	delete(b.expires, c.Name)
	if b.clock != nil && c.MaxAge > 0 {
		b.expires[c.Name] = b.clock.Now().Add(time.Duration(c.MaxAge) * time.Second)
	}
}

// expire drops the cookies whose Max-Age has passed.
func (b *browser) expire() {
	if b.clock == nil {
		return
	}
	now := b.clock.Now()
	for name, at := range b.expires {
		if !now.Before(at) {
			delete(b.cookies, name)
			delete(b.expires, name)
		}
	}
}

// header returns the Cookie header the browser sends, names in order, ""
// without cookies.
func (b *browser) header() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expire()
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(b.cookies)) {
		parts = append(parts, name+"="+b.cookies[name])
	}
	return strings.Join(parts, "; ")
}

// request returns a request carrying the browser's cookies.
func (b *browser) request(method, target string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	if c := b.header(); c != "" {
		req.Header.Set("Cookie", c)
	}
	return req
}

// do sends one request through h with the browser's cookies and stores
// what comes back.
func (b *browser) do(h http.Handler, method, target string) *httptest.ResponseRecorder {
	if b.t != nil {
		b.t.Helper()
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, b.request(method, target))
	b.store(rec.Result().Header)
	return rec
}

// names returns the names of the cookies the browser holds, in order.
func (b *browser) names() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expire()
	return slices.Sorted(maps.Keys(b.cookies))
}

// expiry returns when the browser drops the cookie name (withClock only).
func (b *browser) expiry(name string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.expires[name]
}

// SetCookies implements http.CookieJar, for one site.
func (b *browser) SetCookies(_ *url.URL, cookies []*http.Cookie) {
	for _, c := range cookies {
		if n := len("Set-Cookie: ") + len(c.String()); n > setCookieLineMax && b.t != nil {
			b.t.Errorf("Set-Cookie line of %d bytes: browsers ignore it", n)
		}
		b.apply(c)
	}
}

// Cookies implements http.CookieJar, for one site.
func (b *browser) Cookies(*url.URL) []*http.Cookie {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expire()
	var out []*http.Cookie
	for _, name := range slices.Sorted(maps.Keys(b.cookies)) {
		out = append(out, &http.Cookie{Name: name, Value: b.cookies[name]})
	}
	return out
}

// user is the session type of most tests.
type user struct {
	Name string
	Cart []string
	N    int
}

// testSecret returns a deterministic secret, different for each seed.
func testSecret(seed byte) []byte { return bytes.Repeat([]byte{seed}, MinSecretSize) }

func mustKeyring(t testing.TB, secrets ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testKeys is the Keyring newTestManager seals with.
func testKeys(t testing.TB) *Keyring { return mustKeyring(t, testSecret(1)) }

// quiet is the logger of Managers whose logs no test reads.
var quiet = WithLogger(slog.New(slog.DiscardHandler))

// newTestManager returns a Manager on clock sealing with testKeys, for the
// cookie name FallbackName unless opts say otherwise: most tests are about
// other things than the name, and read it more easily.
func newTestManager[T any](t testing.TB, clock *testClock, opts ...Option) *Manager[T] {
	t.Helper()
	opts = append([]Option{WithClock(clock.Now), quiet, WithName(FallbackName)}, opts...)
	m, err := New[T](testKeys(t), opts...)
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

// send serves one request that brings the Cookie header cookies through
// m's middleware, with fn as the handler's work, and returns the session
// the handler got and the response.
func send[T any](m *Manager[T], cookies string, fn func(s *Session[T])) (*Session[T], *httptest.ResponseRecorder) {
	var s *Session[T]
	req := httptest.NewRequest("GET", "/", nil)
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	rec := httptest.NewRecorder()
	handle(m, func(got *Session[T]) {
		s = got
		if fn != nil {
			fn(got)
		}
	}).ServeHTTP(rec, req)
	return s, rec
}

// setCookies returns a response's Set-Cookie lines, parsed.
func setCookies(t testing.TB, rec *httptest.ResponseRecorder) []*http.Cookie {
	t.Helper()
	var cs []*http.Cookie
	for _, line := range rec.Header().Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// deletes reports whether a response deletes a cookie.
func deletes(rec *httptest.ResponseRecorder) bool {
	return strings.Contains(strings.Join(rec.Header().Values("Set-Cookie"), "\n"), "Max-Age=0")
}

// sets reports whether a response sets (or deletes) any cookie.
func sets(rec *httptest.ResponseRecorder) bool { return len(rec.Header().Values("Set-Cookie")) > 0 }

// bigData returns a session whose sealed value is about n bytes long:
// random-looking text does not compress, and JSON adds little.
func bigData(n int) user {
	var b strings.Builder
	for i := 0; b.Len() < n*3/4; i++ {
		fmt.Fprintf(&b, "%08x", uint32(i)*2654435761)
	}
	return user{Name: b.String()}
}

// longPath leaves less of each Set-Cookie line for the value, so that a
// session within the Cookie header budget takes three cookies or four.
var longPath = "/" + strings.Repeat("p", 1500)

// tamper changes one character in the middle of v, where every bit of a
// base64 character counts (the last ones before padding may not).
func tamper(v string) string {
	i := len(v) / 2
	c := byte('A')
	if v[i] == 'A' {
		c = 'B'
	}
	return v[:i] + string(c) + v[i+1:]
}

// randomID returns a fresh random session id.
func randomID() SessionID {
	var id SessionID
	_, _ = rand.Read(id[:])
	return id
}

// load opens the session a request with the Cookie header cookies brings,
// without the middleware.
func load[T any](m *Manager[T], cookies string) *Session[T] {
	req := httptest.NewRequest("GET", "/", nil)
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	return m.Load(req)
}

// errorLog collects what an error handler (WithErrorHandler) hears.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

// option returns the WithErrorHandler that records into l.
func (l *errorLog) option() Option {
	return WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		l.mu.Lock()
		l.errs = append(l.errs, err)
		l.mu.Unlock()
	})
}

// take returns what l heard since the last take, joined (nil for nothing).
func (l *errorLog) take() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := errors.Join(l.errs...)
	l.errs = nil
	return err
}

// runtimeMem reads the bytes allocated so far by the whole program.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
