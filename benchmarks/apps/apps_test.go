package apps

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// serve runs one request through h, carrying cookie if it is not empty.
func serve(t *testing.T, h http.Handler, cookie string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// sessionCookie returns the response's session cookie as a Cookie header
// value, or "" if it sets none.
func sessionCookie(resp *http.Response) string {
	for _, c := range resp.Cookies() {
		if c.Name == CookieName && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestApps checks that every app does what the benchmarks assume: the seed
// sets a cookie, the read route reads the name back, and the write route
// writes a cookie whose theme toggles on every request.
func TestApps(t *testing.T) {
	m, err := NewManager()
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []*App{
		Cookiesession(m, NewTypical()),
		Gorilla("gorilla", GorillaStore(), NewTypical()),
		SecureCookieJSON(NewSecureCookieJSON()),
	} {
		t.Run(app.Name, func(t *testing.T) {
			seed := serve(t, app.Seed, "")
			cookie := sessionCookie(seed)
			if seed.StatusCode != 200 || cookie == "" {
				t.Fatalf("seed: status %d, cookie %q", seed.StatusCode, cookie)
			}
			read := serve(t, app.Read, cookie)
			if got := body(t, read); got != "Ada Lovelace" {
				t.Errorf("read: body %q, want the session's name", got)
			}
			if app.Name == CookiesessionName && sessionCookie(read) != "" {
				t.Errorf("read: cookiesession wrote the unchanged session back")
			}
			// Toggle twice: dark -> light -> dark, a cookie each time.
			for i := 0; i < 2; i++ {
				write := serve(t, app.Write, cookie)
				next := sessionCookie(write)
				if write.StatusCode != 200 || next == "" || next == cookie {
					t.Fatalf("write %d: status %d, new cookie %t", i, write.StatusCode, next != "" && next != cookie)
				}
				cookie = next
			}
			if got := body(t, serve(t, app.Read, cookie)); got != "Ada Lovelace" {
				t.Errorf("read after writes: body %q", got)
			}
		})
	}
}

// TestNone checks the no-session app writes the same bodies and no cookie.
func TestNone(t *testing.T) {
	app := None()
	if got := body(t, serve(t, app.Read, "")); got != "Ada Lovelace" {
		t.Errorf("read: %q", got)
	}
	if resp := serve(t, app.Write, ""); sessionCookie(resp) != "" || body(t, resp) != "ok" {
		t.Errorf("write: unexpected response")
	}
}

// TestGorillaJSONStoreCannotSave documents why the benchmarks use
// securecookie directly for gorilla with JSON: CookieStore's Values map has
// interface keys, which encoding/json refuses up to Go 1.26. From Go 1.27
// (json/v2 underneath) it encodes them when they hold strings; the
// benchmarks keep the way that works on every release, so that their
// figures compare across releases.
func TestGorillaJSONStoreCannotSave(t *testing.T) {
	resp := serve(t, Gorilla("gorilla-json", GorillaJSONStore(), NewTypical()).Seed, "")
	if resp.StatusCode == http.StatusOK {
		t.Skip("this Go's encoding/json encodes interface-keyed maps: CookieStore with JSONEncoder saves")
	}
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(body(t, resp), "unsupported type") {
		t.Fatalf("CookieStore with JSONEncoder: status %d, want 500 with \"unsupported type\"", resp.StatusCode)
	}
}

// TestHeadersOnlyMatchesCookiesession checks that the reference app puts
// the same headers on the wire as cookiesession, route for route: the same
// names, and a Set-Cookie line of the same length on writes.
func TestHeadersOnlyMatchesCookiesession(t *testing.T) {
	m, err := NewManager()
	if err != nil {
		t.Fatal(err)
	}
	ours := Cookiesession(m, NewTypical())
	ref, err := HeadersOnly(m)
	if err != nil {
		t.Fatal(err)
	}
	cookie := sessionCookie(serve(t, ours.Seed, ""))
	for _, route := range []struct {
		name      string
		ours, ref http.Handler
	}{{"read", ours.Read, ref.Read}, {"write", ours.Write, ref.Write}} {
		want, got := serve(t, route.ours, cookie), serve(t, route.ref, cookie)
		for _, h := range []string{"Vary", "Cache-Control"} {
			if w, g := want.Header.Get(h), got.Header.Get(h); w != g {
				t.Errorf("%s: %s %q, cookiesession's %q", route.name, h, g, w)
			}
		}
		w, g := want.Header.Get("Set-Cookie"), got.Header.Get("Set-Cookie")
		// The seeded theme is "dark", the written one "light": a value up
		// to 4 bytes longer once sealed and encoded.
		if (w == "") != (g == "") || len(w)-len(g) < 0 || len(w)-len(g) > 4 {
			t.Errorf("%s: Set-Cookie of %d bytes, cookiesession's %d", route.name, len(g), len(w))
		}
		if body(t, want) != body(t, got) {
			t.Errorf("%s: the bodies differ", route.name)
		}
	}
}
