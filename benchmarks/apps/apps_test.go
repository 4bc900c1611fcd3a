package apps

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ce967478/cookiesession"
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

// allCookies returns every cookie the response sets, as a Cookie header
// value, and how many there are.
func allCookies(resp *http.Response) (string, int) {
	var pairs []string
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			pairs = append(pairs, c.Name+"="+c.Value)
		}
	}
	return strings.Join(pairs, "; "), len(pairs)
}

// TestSizes checks the size fixtures against what Sizes says of them: the
// JSON length of each, the cookies cookiesession seals it into (one, one,
// one, two, then two for each of the token series), the sealed length
// near the caps, and that every app reads and writes each size. Nothing is
// timed.
func TestSizes(t *testing.T) {
	wantJSON := []int{111, 1013, 2822, 4928, 2950, 5716}
	wantCookies := []int{1, 1, 1, 2, 2, 2}
	if len(Sizes) != len(wantJSON) {
		t.Fatalf("%d sizes, the test knows %d", len(Sizes), len(wantJSON))
	}
	for i, z := range Sizes {
		t.Run(z.Name, func(t *testing.T) {
			m, err := NewManager(z.Options()...)
			if err != nil {
				t.Fatal(err)
			}
			data := z.Data()
			b, err := json.Marshal(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != wantJSON[i] {
				t.Errorf("%d bytes of JSON, want %d", len(b), wantJSON[i])
			}
			app := Cookiesession(m, data)
			seed := serve(t, app.Seed, "")
			cookie, n := allCookies(seed)
			if seed.StatusCode != 200 || n != wantCookies[i] {
				t.Fatalf("seed: status %d, %d cookies, want %d", seed.StatusCode, n, wantCookies[i])
			}
			sealed := sealedLen(seed)
			t.Logf("%d bytes of JSON, %d sealed, %d cookies", len(b), sealed, n)
			checkSealed(t, z.Name, sealed)
			if got := body(t, serve(t, app.Read, cookie)); got != data.Name {
				t.Errorf("read: %q", got)
			}
			write := serve(t, app.Write, cookie)
			if next, n := allCookies(write); n != wantCookies[i] || next == cookie {
				t.Errorf("write: %d cookies, want %d, new: %t", n, wantCookies[i], next != cookie)
			}
		})
	}
}

// checkSealed checks the sealed length of the sizes near a cap: near-cap
// near the default one, tokens-max over it and near the largest.
func checkSealed(t *testing.T, name string, sealed int) {
	t.Helper()
	switch {
	case name == "near-cap" && (sealed < 6400 || sealed > cookiesession.DefaultMaxSize):
		t.Errorf("sealed near the cap: %d bytes, want 6,400 to %d", sealed, cookiesession.DefaultMaxSize)
	case name == "tokens-max" && (sealed <= cookiesession.DefaultMaxSize || sealed > LargestMaxSize-100):
		t.Errorf("sealed: %d bytes, want over the default cap (%d) and 100 bytes or more under the largest (%d)",
			sealed, cookiesession.DefaultMaxSize, LargestMaxSize)
	}
}

// sealedLen is the length of the sealed value a response's cookies carry:
// the chunks' lengths added, without the chunk count's prefix.
func sealedLen(resp *http.Response) int {
	n := 0
	for _, c := range resp.Cookies() {
		v := c.Value
		if c.Name == CookieName {
			if _, rest, ok := strings.Cut(v, "."); ok {
				v = rest
			}
		}
		n += len(v)
	}
	return n
}

// TestGorillaSizes checks what the size benchmarks say of gorilla's
// CookieStore: with its defaults it stores the three smaller sizes in one
// cookie and refuses the near-cap session ("the value is too long", over
// securecookie's 4096 bytes); with its limit raised (Size.GorillaStore) it
// stores it, in one cookie longer than a browser keeps.
func TestGorillaSizes(t *testing.T) {
	for _, z := range Sizes {
		seed := serve(t, Gorilla("gorilla", GorillaStore(), z.Data()).Seed, "")
		if z.GorillaMaxLength != 0 {
			if msg := body(t, seed); seed.StatusCode != http.StatusInternalServerError || !strings.Contains(msg, "the value is too long") {
				t.Errorf("%s with the defaults: status %d, %q; want 500, the value is too long", z.Name, seed.StatusCode, msg)
			}
		}
		app := Gorilla("gorilla", z.GorillaStore(), z.Data())
		seed = serve(t, app.Seed, "")
		cookie, n := allCookies(seed)
		if seed.StatusCode != 200 || n != 1 {
			t.Fatalf("%s: status %d, %d cookies", z.Name, seed.StatusCode, n)
		}
		// Over 4096 bytes exactly when the defaults refused it.
		if long := len(cookie) > 4096; long != (z.GorillaMaxLength != 0) {
			t.Errorf("%s: a cookie of %d bytes", z.Name, len(cookie))
		}
		t.Logf("%s: gorilla's cookie is %d bytes", z.Name, len(cookie))
		if got := body(t, serve(t, app.Read, cookie)); got != "Ada Lovelace" {
			t.Errorf("%s: read %q", z.Name, got)
		}
		if write := serve(t, app.Write, cookie); write.StatusCode != 200 || sessionCookie(write) == "" {
			t.Errorf("%s: write: status %d", z.Name, write.StatusCode)
		}
	}
}

// TestTokensShape: the token series' tokens are JWT-shaped, three
// base64url parts, the first a JSON header naming the algorithm.
func TestTokensShape(t *testing.T) {
	for _, z := range Sizes {
		if z.Tokens == 0 {
			continue
		}
		o := z.Data().OIDC
		for _, tok := range []string{o.IDToken, o.AccessToken, o.RefreshToken} {
			parts := strings.Split(tok, ".")
			if len(parts) != 3 {
				t.Fatalf("%s: a token of %d parts", z.Name, len(parts))
			}
			var header struct{ Alg string }
			if b, err := base64.RawURLEncoding.DecodeString(parts[0]); err != nil || json.Unmarshal(b, &header) != nil || header.Alg == "" {
				t.Errorf("%s: a token whose header is not base64url JSON naming its alg: %.40s", z.Name, tok)
			}
		}
	}
}

// TestTokenSizes checks what Sizes says of the token series' caps: 6 KB
// of JSON does not fit the largest cap New accepts, LargestMaxSize is that
// cap, about 5.3 KB fit the default cap, and the larger size needs more.
func TestTokenSizes(t *testing.T) {
	if _, err := NewManager(cookiesession.WithMaxSize(LargestMaxSize)); err != nil {
		t.Errorf("New refuses LargestMaxSize: %v", err)
	}
	if _, err := NewManager(cookiesession.WithMaxSize(LargestMaxSize + 1)); err == nil {
		t.Errorf("New accepts LargestMaxSize+1: LargestMaxSize is not the largest cap")
	}
	seedStatus := func(z Size, opts ...cookiesession.Option) int {
		m, err := NewManager(opts...)
		if err != nil {
			t.Fatal(err)
		}
		return serve(t, Cookiesession(m, z.Data()).Seed, "").StatusCode
	}
	quiet := cookiesession.WithLogger(slog.New(slog.DiscardHandler))
	largest := cookiesession.WithMaxSize(LargestMaxSize)
	if code := seedStatus(Size{Tokens: 6 << 10}, quiet, largest); code != http.StatusInternalServerError {
		t.Errorf("6 KB of tokens with the largest cap: status %d, want 500 (too large)", code)
	}
	if code := seedStatus(Size{Tokens: 5300}, quiet); code != http.StatusOK {
		t.Errorf("5.3 KB of tokens with the default cap: status %d, want 200", code)
	}
	for _, z := range Sizes {
		if z.MaxSize != 0 {
			if code := seedStatus(z, quiet); code != http.StatusInternalServerError {
				t.Errorf("%s with the default cap: status %d, want 500 (too large)", z.Name, code)
			}
		}
	}
}
