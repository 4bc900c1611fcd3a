package cookieheader

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ce967478/cookiesession"
)

// BenchmarkCookieHeader measures Manager.Load on a request whose Cookie
// header is about 1 MiB (just under net/http's default limit on a
// request's headers, http.DefaultMaxHeaderBytes): the valid session
// cookie first, then 2,999 cookies planted under the session's own name,
// 3,000 cookies in all, the most net/http's Request.Cookies parses. The
// planted values look like sealed values and are as long as needed to
// fill the header. Its sub-benchmarks, in the same run:
//
//	planted/Load     Manager.Load on that request
//	alone/Load       Manager.Load with the valid cookie alone: the cost
//	                 of opening the session, without the planted cookies
//	planted/Cookies  net/http's Request.Cookies on the large request:
//	                 what reading the header once costs
//
// Each reports header-bytes, the Cookie header's length. A library that
// reads the header once per name it looks for (the main cookie and each
// chunk) pays planted/Cookies several times over.
func BenchmarkCookieHeader(b *testing.B) {
	f := newFixture(b)
	for _, c := range []struct {
		name string
		req  *http.Request
		fn   func(r *http.Request)
	}{
		{"planted/Load", f.planted, func(r *http.Request) { f.m.Load(r) }},
		{"alone/Load", f.alone, func(r *http.Request) { f.m.Load(r) }},
		{"planted/Cookies", f.planted, func(r *http.Request) { r.Cookies() }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.fn(c.req)
			}
			b.ReportMetric(float64(len(c.req.Header.Get("Cookie"))), "header-bytes")
		})
	}
}

// Account is the session's data.
type Account struct {
	UserID string
	Name   string
}

const (
	// cookieName is the session cookie's name, given explicitly so that
	// every checkout of the library measured uses the same one (their
	// defaults differ).
	cookieName = "session"
	// planted is how many cookies are planted beside the valid one.
	planted = 2999
	// headerMax is the longest the Cookie header may be: 1 MiB, less room
	// for the request line and the other headers of a real request, so
	// that a net/http server would accept the request.
	headerMax = 1<<20 - 1024
)

var signedIn = Account{UserID: "u-4711", Name: "Ada Lovelace"}

// fixture is a Manager and the two requests of the benchmark.
type fixture struct {
	m              *cookiesession.Manager[Account]
	planted, alone *http.Request
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	keys, err := cookiesession.NewKeyring(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := cookiesession.New[Account](keys, cookiesession.WithName(cookieName))
	if err != nil {
		tb.Fatal(err)
	}
	valid := signIn(tb, m)
	f := &fixture{m: m, alone: request(valid), planted: request(withPlanted(valid))}
	for _, r := range []*http.Request{f.alone, f.planted} {
		if s := m.Load(r); s.Data != signedIn {
			tb.Fatalf("Load on a Cookie header of %d bytes: %+v, error %v; want the signed-in session",
				len(r.Header.Get("Cookie")), s.Data, s.Err())
		}
	}
	return f
}

// signIn returns the Cookie header a browser sends after signing in
// through m's middleware.
func signIn(tb testing.TB, m *cookiesession.Manager[Account]) string {
	tb.Helper()
	w := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data = signedIn
		_, _ = io.WriteString(w, "ok")
	})).ServeHTTP(w, httptest.NewRequest("GET", "https://example.com/", nil))
	cookies := w.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != cookieName || cookies[0].Value == "" {
		tb.Fatalf("signing in set %q; want one %s cookie", w.Header()["Set-Cookie"], cookieName)
	}
	return cookieName + "=" + cookies[0].Value
}

// withPlanted returns the Cookie header valid, followed by the planted
// cookies: values of base64url characters, as a sealed value's, all of
// one length, the longest that keeps the header within headerMax.
func withPlanted(valid string) string {
	per := (headerMax - len(valid)) / planted // each "; session=<value>"
	n := per - len("; "+cookieName+"=")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var b strings.Builder
	b.Grow(headerMax)
	b.WriteString(valid)
	for i := range planted {
		b.WriteString("; " + cookieName + "=")
		// A different value each, so that nothing can be shared.
		prefix := fmt.Sprintf("%06d", i)
		b.WriteString(prefix)
		for j := len(prefix); j < n; j++ {
			b.WriteByte(alphabet[(i*7+j*13)%len(alphabet)])
		}
	}
	return b.String()
}

func request(cookie string) *http.Request {
	r := httptest.NewRequest("GET", "https://example.com/", nil)
	r.Header.Set("Cookie", cookie)
	return r
}

// TestFixture checks what the benchmark relies on: the large header is
// within 1 KiB of 1 MiB and under it, net/http parses its 3,000 cookies,
// the valid one first, and Load opens the session from both requests
// (newFixture fails otherwise).
func TestFixture(t *testing.T) {
	f := newFixture(t)
	header := f.planted.Header.Get("Cookie")
	if n := len(header); n > headerMax || n < headerMax-planted {
		t.Errorf("Cookie header of %d bytes, want at most %d and close to it", n, headerMax)
	}
	cookies := f.planted.Cookies()
	if len(cookies) != planted+1 {
		t.Fatalf("net/http parses %d cookies, want %d", len(cookies), planted+1)
	}
	for i, c := range cookies {
		if c.Name != cookieName || (i == 0) != (c.Value == cookies[0].Value) {
			t.Fatalf("cookie %d: %s=%.20s..., want the valid one first and %d others of the same name", i, c.Name, c.Value, planted)
		}
	}
	t.Logf("Cookie header: %d bytes, %d cookies", len(header), len(cookies))
}
