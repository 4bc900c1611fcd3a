package cookiesession

// The helpers of the tests still in package cookiesession, while they move
// to cookiesession_test (helpers_test.go); this file goes with the last.

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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

// countingFormat counts seals and opens, to check the middleware's work.
type countingFormat struct {
	format
	seals, opens atomic.Int32
}

func (c *countingFormat) seal(name string, e *Contents) (string, error) {
	c.seals.Add(1)
	return c.format.seal(name, e)
}

func (c *countingFormat) open(name, value string, o openOptions) (Contents, int, error) {
	c.opens.Add(1)
	return c.format.open(name, value, o)
}

func countFormat[T any](m *Manager[T]) *countingFormat {
	c := &countingFormat{format: m.e.format}
	m.e.format = c
	return c
}

// testSecret returns a deterministic 32-byte secret, different for each seed.
func testSecret(seed byte) []byte { return bytes.Repeat([]byte{seed}, MinSecretSize) }

func mustKeyring(t testing.TB, secrets ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// t0 is the injected "now" of the codec tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// runtimeMem reads the bytes allocated so far by the whole program.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
