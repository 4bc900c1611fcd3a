package cookiesession_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// New checks every option once and names the first problem, with the fix.
func TestNewRefusesBadOptions(t *testing.T) {
	k := testKeys(t)
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
		{"partitioned insecure", []Option{WithPartitioned(), WithSecure(false)}, "requires Secure"},
		{"empty name", []Option{WithName("")}, "a cookie needs a name"},
		{"bad name", []Option{WithName("a b")}, "invalid cookie settings"},
		{"a chunk's name", []Option{WithName("session.1")}, `name of a chunk of cookie "session"`},
		{"a last chunk's name", []Option{WithName("__Host-s.15")}, "name of a chunk"},
		{"zero lifetime", []Option{WithMaxAge(0)}, "must be positive"},
		{"negative idle", []Option{WithIdleTimeout(-time.Second)}, "must not be negative"},
		{"idle longer than the lifetime", []Option{WithMaxAge(time.Second), WithIdleTimeout(5 * time.Second)}, "is longer than WithMaxAge(1s)"},
		{"idle below the minimum", []Option{WithIdleTimeout(MinIdleTimeout - time.Second)}, "shorter than 10s cannot be kept"},
		{"tiny cap", []Option{WithMaxSize(10)}, "at least 256"},
		{"huge cap", []Option{WithMaxSize(1 << 20)}, "could pass 16384 bytes of response headers"},
		{"cap past the Cookie header", []Option{WithMaxSize(8190)}, "of Cookie header that curl sends whole"},
		{"nil serializer", []Option{WithSerializer(nil)}, "Serializer is needed"},
		{"nil clock", []Option{WithClock(nil)}, "a clock is needed"},
		{"nil option", []Option{nil}, "nil Option"},
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
	if _, err := New[user](k, WithIdleTimeout(MinIdleTimeout)); err != nil {
		t.Errorf("WithIdleTimeout(MinIdleTimeout) was refused: %v", err)
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
	if c.Name != "session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Partitioned {
		t.Errorf("cookie = %+v, want session, HttpOnly, Secure, Lax, Path /, not Partitioned", c)
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
