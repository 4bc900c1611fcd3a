package cookiesession_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	. "github.com/ce967478/cookiesession"
)

// benchRequest measures one request through the middleware with the
// typical session's cookie: fn decides what the handler does with it. It
// reports the cookies opened (decoded) and sealed (set) per request.
func benchRequest(b *testing.B, fn func(s *Session[typical]), opts ...Option) {
	counter := &countingSerializer{}
	m, err := New[typical](testKeys(b), append(opts, WithSerializer(counter))...)
	if err != nil {
		b.Fatal(err)
	}
	seed := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data = newTypical()
	})).ServeHTTP(seed, httptest.NewRequest("GET", "/", nil))
	// The Cookie header carries name=value only, as a browser sends it
	// (Cookie.String would add the Set-Cookie attributes, which the
	// Manager would then skip over on every request).
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
	counter.decodes.Store(0)
	seals := 0
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
			seals++
		default:
			b.Fatalf("the response set %d cookies; the benchmark follows one", len(set))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(counter.decodes.Load())/float64(b.N), "opens/op")
	b.ReportMetric(float64(seals)/float64(b.N), "seals/op")
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

// BenchmarkPlantedCookies measures what planted cookies cost a request
// whose genuine cookies come too, in a Cookie header of 8 KB, the most
// nginx accepts by default (large_client_header_buffers 4 8k). Each planted
// value is the attacker's own session cookie, extended to fill the header:
// it passes every check but authentication, the costliest way to fail.
// "single" plants 9 values beside a genuine session of one cookie;
// "chunked" plants 8 values of each name beside a genuine session of two
// cookies. The planted values come first, the worst order. Each reports
// the request's extra time and bytes over the same request without them,
// measured in the same run.
func BenchmarkPlantedCookies(b *testing.B) {
	const headerMax = 8 << 10
	for _, tc := range []struct {
		name string
		per  int // planted values of each name
		data func() typical
	}{
		{"single", 9, newTypical},
		{"chunked", 8, func() typical { t := newTypical(); t.CSRF = strings.Repeat("q0Zx7rQ2M5u8v1Wb9sYf3kLp", 140); return t }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m, err := New[typical](testKeys(b))
			if err != nil {
				b.Fatal(err)
			}
			cookies := func(data typical) []*http.Cookie {
				rec := httptest.NewRecorder()
				handle(m, func(s *Session[typical]) { s.Data = data }).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
				return rec.Result().Cookies()
			}
			var genuine []string
			for _, c := range cookies(tc.data()) {
				genuine = append(genuine, c.Name+"="+c.Value)
			}
			clean := strings.Join(genuine, "; ")
			theirs := cookies(tc.data())
			room := headerMax - len("Cookie: \r\n") - len(clean)
			each := room/(tc.per*len(theirs)) - len("; session.1=")
			var planted []string
			for range tc.per {
				for _, c := range theirs {
					v := c.Value + strings.Repeat("A", max(each-len(c.Value), 0))
					planted = append(planted, c.Name+"="+v[:max(each, 1)])
				}
			}
			header := strings.Join(append(planted, genuine...), "; ")
			h := handle(m, func(s *Session[typical]) {
				if s.IsNew() {
					b.Fatalf("signed out: %v", s.Err())
				}
			})
			run := func(cookie string) func() {
				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("Cookie", cookie)
				return func() { h.ServeHTTP(httptest.NewRecorder(), req) }
			}
			attacked, normal := run(header), run(clean)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				attacked()
			}
			b.StopTimer()
			b.ReportMetric(float64(len(planted)), "planted")
			b.ReportMetric(float64(len("Cookie: ")+len(header)), "header-bytes")
			b.ReportMetric(interleavedDiff(b.N, attacked, normal), "extra-ns/op")
			b.ReportMetric(bytesPerRun(attacked)-bytesPerRun(normal), "extra-B/op")
		})
	}
}

// BenchmarkLargestSession measures a request whose session is as large as
// the default cap allows (DefaultMaxSize sealed, two cookies): opened on a
// read, opened and sealed again on a write. B/op is what such a request
// allocates.
func BenchmarkLargestSession(b *testing.B) {
	data := newTypical()
	keys := testKeys(b)
	m, err := New[typical](keys)
	if err != nil {
		b.Fatal(err)
	}
	// The largest CSRF field that still seals under the cap.
	lo, hi := 0, DefaultMaxSize
	for lo < hi {
		mid := (lo + hi + 1) / 2
		data.CSRF = strings.Repeat("x", mid)
		p, _ := JSONSerializer{}.Marshal(&data)
		v, _ := keys.Seal(m.Name(), Contents{Created: t0, Issued: t0, ID: randomID(), Data: p})
		if len(v) <= DefaultMaxSize {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	data.CSRF = strings.Repeat("x", lo)
	for _, tc := range []struct {
		name string
		fn   func(s *Session[typical])
	}{
		{"read", nil},
		{"write", func(s *Session[typical]) { s.Data.UserID++ }}, // the same length
	} {
		b.Run(tc.name, func(b *testing.B) {
			seed := httptest.NewRecorder()
			handle(m, func(s *Session[typical]) { s.Data = data }).ServeHTTP(seed, httptest.NewRequest("GET", "/", nil))
			req := httptest.NewRequest("GET", "/", nil)
			sealed := 0
			for _, c := range seed.Result().Cookies() {
				req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				sealed += len(c.Value)
			}
			h := handle(m, func(s *Session[typical]) {
				if s.IsNew() {
					b.Fatal(s.Err())
				}
				if tc.fn != nil {
					tc.fn(s)
				}
			})
			b.ReportAllocs()
			for range b.N {
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			b.ReportMetric(float64(sealed), "cookie-bytes")
		})
	}
}

// bytesPerRun is the heap fn allocates per call, averaged over 100 calls.
func bytesPerRun(fn func()) float64 {
	var before, after runtimeMem
	fn()
	before.read()
	for range 100 {
		fn()
	}
	after.read()
	return float64(after.total-before.total) / 100
}
