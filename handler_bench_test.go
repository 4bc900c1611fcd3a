package cookiesession

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// benchRequest measures one request through the middleware with the
// typical session's cookie: fn decides what the handler does with it.
func benchRequest(b *testing.B, fn func(s *Session[typical]), opts ...Option) {
	m, err := New[typical](mustKeyring(b, testSecret(1)), opts...)
	if err != nil {
		b.Fatal(err)
	}
	c := countFormat(m)
	seed := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data = newTypical()
	})).ServeHTTP(seed, httptest.NewRequest("GET", "/", nil))
	// The Cookie header carries name=value only, as a browser sends it
	// (Cookie.String would add the Set-Cookie attributes, which readJar
	// would then skip over on every request).
	c0 := seed.Result().Cookies()[0]
	cookie := c0.Name + "=" + c0.Value
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if fn != nil {
			fn(s)
		}
		_, _ = io.WriteString(w, s.Data.Name)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", cookie)
	c.opens.Store(0)
	c.seals.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		// Like a browser, send next the value this response set.
		switch set := w.Header()["Set-Cookie"]; len(set) {
		case 0:
		case 1:
			req.Header["Cookie"][0], _, _ = strings.Cut(set[0], ";")
		default:
			b.Fatalf("the response set %d cookies; the benchmark follows one", len(set))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(c.opens.Load())/float64(b.N), "opens/op")
	b.ReportMetric(float64(c.seals.Load())/float64(b.N), "seals/op")
}

// BenchmarkHandlerRead: a request that reads the session: one open, no
// seal.
func BenchmarkHandlerRead(b *testing.B) { benchRequest(b, nil) }

// BenchmarkHandlerWrite: a request that changes the session (it toggles
// Theme): one open, one seal.
func BenchmarkHandlerWrite(b *testing.B) { benchRequest(b, toggleTheme) }

func toggleTheme(s *Session[typical]) {
	if s.Data.Theme == "dark" {
		s.Data.Theme = "light"
	} else {
		s.Data.Theme = "dark"
	}
}
