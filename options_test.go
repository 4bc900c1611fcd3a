package cookiesession_test

import (
	"bytes"
	"errors"
	"log/slog"
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

// New accepts the limits themselves: an idle timeout as long as the
// lifetime, and a name that only looks like a chunk's (no cookie is
// called ""). A name with dots is a chunk's when its last part is.
func TestNewOptionBoundaries(t *testing.T) {
	k := testKeys(t)
	accept := []struct {
		name string
		opts []Option
	}{
		{"idle timeout equal to the lifetime", []Option{WithMaxAge(time.Hour), WithIdleTimeout(time.Hour)}},
		{"a name that is a chunk number alone", []Option{WithName(".1")}},
	}
	for _, tt := range accept {
		if _, err := New[user](k, tt.opts...); err != nil {
			t.Errorf("%s: refused: %v", tt.name, err)
		}
	}
	if _, err := New[user](k, WithName("app.v2.1")); err == nil || !strings.Contains(err.Error(), `name of a chunk of cookie "app.v2"`) {
		t.Errorf("WithName(\"app.v2.1\"): err = %v, want it refused as a chunk of app.v2", err)
	}
}

// New names the first problem among several.
func TestNewNamesTheFirstProblem(t *testing.T) {
	_, err := New[user](testKeys(t), WithName(""), WithGorillaMigration[user](GorillaStore{}, nil))
	if err == nil || !strings.Contains(err.Error(), "a cookie needs a name") {
		t.Fatalf("err = %v, want the first problem, the empty name", err)
	}
}

// A Keyring without keys (its zero value) cannot seal: New refuses it
// rather than return a Manager that fails on every request.
func TestNewRefusesAnEmptyKeyring(t *testing.T) {
	if _, err := New[user](new(Keyring)); err == nil {
		t.Fatal("New accepted a Keyring without keys")
	}
}

// brokenSerializer cannot encode anything.
type brokenSerializer struct{}

func (brokenSerializer) Marshal(any) ([]byte, error) { return nil, errors.New("no encoder") }
func (brokenSerializer) Unmarshal([]byte, any) error { return errors.New("no decoder") }

// A Serializer that cannot encode a new session's data is refused by New,
// not found out on the first save.
func TestNewRefusesASerializerThatCannotEncode(t *testing.T) {
	_, err := New[user](testKeys(t), WithSerializer(brokenSerializer{}))
	if err == nil || !strings.Contains(err.Error(), "cannot encode") || !strings.Contains(err.Error(), "no encoder") {
		t.Fatalf("err = %v, want the serializer's failure", err)
	}
}

// WithSecure(false), for local development over plain HTTP, writes a
// cookie without Secure, which a browser would not send back over HTTP.
func TestInsecureCookie(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithSecure(false))
	_, rec := send(m, "", func(s *Session[user]) { s.Data.Name = "ada" })
	cs := setCookies(t, rec)
	if len(cs) != 1 || cs[0].Secure {
		t.Fatalf("Set-Cookie %q, want one cookie without Secure", rec.Header().Values("Set-Cookie"))
	}
}

// WithLogger(nil) means slog.Default(): failures are still logged.
func TestNilLoggerIsTheDefault(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	var log errorLog
	m, err := New[user](testKeys(t), WithClock(newClock().Now), WithName(FallbackName), WithLogger(nil), log.option())
	if err != nil {
		t.Fatal(err)
	}
	send(m, "", func(s *Session[user]) { s.Data = bigData(3 * DefaultMaxSize) })
	if err := log.take(); !errors.Is(err, ErrSaveFailed) {
		t.Fatalf("error handler heard %v, want ErrSaveFailed", err)
	}
	if !strings.Contains(buf.String(), ErrSaveFailed.Error()) {
		t.Errorf("slog.Default() got %q, want the failed save logged", buf.String())
	}
}

// Without WithMaxSize the cap is DefaultMaxSize: a session saves without
// it exactly when it saves with WithMaxSize(DefaultMaxSize).
func TestDefaultSizeCap(t *testing.T) {
	clock := newClock()
	def := newTestManager[user](t, clock)
	explicit := newTestManager[user](t, clock, WithMaxSize(DefaultMaxSize))
	saves := func(m *Manager[user], n int) bool {
		s := m.Load(httptest.NewRequest("GET", "/", nil))
		s.Data.Name = strings.Repeat("x", n)
		return m.Save(httptest.NewRecorder(), s) == nil
	}
	// The longest name that saves under the explicit cap.
	lo, hi := 0, DefaultMaxSize
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if saves(explicit, mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo == 0 || lo == DefaultMaxSize {
		t.Fatalf("no boundary found under the cap (%d)", lo)
	}
	for n := lo - 8; n <= lo+8; n++ {
		if got, want := saves(def, n), saves(explicit, n); got != want {
			t.Errorf("a name of %d bytes: saves without WithMaxSize %v, with WithMaxSize(DefaultMaxSize) %v", n, got, want)
		}
	}
}

// Browsers match the __Host- and __Secure- prefixes without regard to case
// (RFC 6265bis): a cookie named __HOST-s without Secure is refused by
// them, so New must refuse it as it does __Host-s.
func TestNewRefusesPrefixesInAnyCase(t *testing.T) {
	k := testKeys(t)
	for _, opts := range [][]Option{
		{WithName("__HOST-s"), WithSecure(false)},
		{WithName("__host-s"), WithPath("/app")},
		{WithName("__HoSt-s"), WithDomain("example.com")},
		{WithName("__SECURE-s"), WithSecure(false)},
	} {
		if _, err := New[user](k, opts...); err == nil {
			t.Errorf("New accepted a prefixed name that browsers refuse with these attributes")
		}
	}
}
