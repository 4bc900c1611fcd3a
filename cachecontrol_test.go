package cookiesession_test

import (
	"net/http"
	"strings"
	"testing"
)

// A response that sets a cookie must not be stored by a shared cache,
// which would hand the cookie to other users: "private" is added, and the
// directives that invite shared caching go. What the application set
// otherwise stays.
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
		{"max-age=60, , public,", "private, max-age=60"},              // empty members
		{`no-cache="a\",\"b", public`, `private, no-cache="a\",\"b"`}, // escaped quotes
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

	// Several Cache-Control lines are one list (RFC 9110, 5.3): none of
	// the application's directives is lost, and one line is sent. An
	// empty line holds none.
	lines := []struct {
		in   []string
		want string
	}{
		{[]string{"max-age=60", "no-transform, public"}, "private, max-age=60, no-transform"},
		{[]string{""}, "private"},
		{[]string{"", ""}, "private"},
	}
	for _, tt := range lines {
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Cache-Control"] = tt.in
			m.Get(r).Data.Name = "x"
		}))
		rec := newBrowser(t).do(h, "GET", "/")
		if got := rec.Header()["Cache-Control"]; len(got) != 1 || got[0] != tt.want {
			t.Errorf("Cache-Control lines %q became %q, want one line %q", tt.in, got, tt.want)
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

// A response that read the session depends on the Cookie header, and says
// so once, whatever Vary the application set.
func TestResponsesThatReadTheSessionVaryOnCookie(t *testing.T) {
	m := newTestManager[user](t, newClock())
	for _, tt := range []struct{ in, want []string }{
		{nil, []string{"Cookie"}},
		{[]string{"Accept-Encoding"}, []string{"Accept-Encoding", "Cookie"}},
		{[]string{"Accept, cookie"}, []string{"Accept, cookie"}},
		{[]string{"Accept", "Cookie"}, []string{"Accept", "Cookie"}},
		{[]string{"*"}, []string{"*"}},
	} {
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Vary"] = tt.in
			_ = m.Get(r).Data.Name
		}))
		rec := newBrowser(t).do(h, "GET", "/")
		if got := rec.Header()["Vary"]; strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Vary %q became %q, want %q", tt.in, got, tt.want)
		}
	}
}
