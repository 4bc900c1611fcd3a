package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// syncBuffer is a log destination that server goroutines and the test can
// share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testConfig is what loadConfig gives for ADDR=127.0.0.1:0.
func testConfig() config {
	return config{Addr: "127.0.0.1:0", MaxAge: cookiesession.DefaultMaxAge, Insecure: true}
}

// newTestServer serves newApp(cfg) on loopback and returns it with its log.
func newTestServer(t *testing.T, cfg config) (*httptest.Server, *syncBuffer) {
	t.Helper()
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	logs := new(syncBuffer)
	h, err := newApp(keys, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, logs
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so that each response can be checked.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{
		Transport:     srv.Client().Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &browser{t: t, base: srv.URL, c: c}
}

type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request; extra holds header name-value pairs.
func (b *browser) do(method, path, contentType, body string, extra ...string) response {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

func (b *browser) get(path string) response { return b.do("GET", path, "", "") }

func (b *browser) postForm(path string, form url.Values) response {
	return b.do("POST", path, "application/x-www-form-urlencoded", form.Encode())
}

// page fetches / and returns what it shows.
func (b *browser) page() shown {
	b.t.Helper()
	r := b.get("/")
	if r.status != http.StatusOK {
		b.t.Fatalf("GET /: status %d, want 200", r.status)
	}
	return parsePage(b.t, r.body)
}

// sessionView fetches /api/session.
func (b *browser) sessionView() sessionView {
	b.t.Helper()
	r := b.get("/api/session")
	if r.status != http.StatusOK {
		b.t.Fatalf("GET /api/session: status %d, want 200", r.status)
	}
	var v sessionView
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		b.t.Fatalf("GET /api/session: %v in %q", err, r.body)
	}
	return v
}

// shown is what the index page displays, found by the elements' ids.
type shown struct {
	user     string // empty when signed out
	loginOK  bool   // the login form is there
	logoutOK bool   // the logout form is there
	cart     []string
	flashes  []string
}

var (
	userRE    = regexp.MustCompile(`<strong id="user">([^<]*)</strong>`)
	cartRE    = regexp.MustCompile(`(?s)<ul id="cart">(.*?)</ul>`)
	flashesRE = regexp.MustCompile(`(?s)<ul id="flashes">(.*?)</ul>`)
	itemRE    = regexp.MustCompile(`<li>([^<]*)</li>`)
)

// parsePage reads the template's output; the template is ours, so regular
// expressions on its stable ids are enough.
func parsePage(t *testing.T, body string) shown {
	t.Helper()
	var s shown
	if m := userRE.FindStringSubmatch(body); m != nil {
		s.user = m[1]
	}
	s.loginOK = strings.Contains(body, `id="login-form"`) && strings.Contains(body, `name="user"`)
	s.logoutOK = strings.Contains(body, `id="logout-form"`)
	for _, want := range []string{`id="cart-form"`, `name="item"`, `id="clear-form"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	list := func(re *regexp.Regexp, what string) []string {
		m := re.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("the page has no %s list:\n%s", what, body)
		}
		var items []string
		for _, it := range itemRE.FindAllStringSubmatch(m[1], -1) {
			items = append(items, it[1])
		}
		return items
	}
	s.cart = list(cartRE, "cart")
	s.flashes = list(flashesRE, "flashes")
	return s
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// setCookies returns the response's Set-Cookie lines by cookie name.
func setCookies(r response) map[string]string {
	m := make(map[string]string)
	for _, line := range r.header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(line, "=")
		m[name] = line
	}
	return m
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      []string
		wantStatus  int
		wantType    string // a prefix of Content-Type
		wantBody    string // a substring of the body
		wantCookie  bool   // whether a Set-Cookie line is expected
	}{
		{name: "healthz", method: "GET", path: "/healthz", wantStatus: 200, wantType: "text/plain", wantBody: "healthy"},
		{name: "index", method: "GET", path: "/", wantStatus: 200, wantType: "text/html", wantBody: `id="login-form"`},
		{name: "unknown path", method: "GET", path: "/nope", wantStatus: 404},
		{name: "wrong method", method: "GET", path: "/login", wantStatus: 405},

		{name: "login", method: "POST", path: "/login", contentType: form, body: "user=ada",
			wantStatus: 303, wantCookie: true},
		{name: "login 64 runes", method: "POST", path: "/login", contentType: form,
			body: "user=" + url.QueryEscape(strings.Repeat("é", 64)), wantStatus: 303, wantCookie: true},
		{name: "login 65 runes", method: "POST", path: "/login", contentType: form,
			body: "user=" + strings.Repeat("a", 65), wantStatus: 400},
		{name: "login empty", method: "POST", path: "/login", contentType: form, body: "user=", wantStatus: 400},
		{name: "login blank", method: "POST", path: "/login", contentType: form, body: "user=+++", wantStatus: 400},
		{name: "login no field", method: "POST", path: "/login", contentType: form, wantStatus: 400},
		{name: "login invalid UTF-8", method: "POST", path: "/login", contentType: form, body: "user=%ff", wantStatus: 400},

		{name: "logout", method: "POST", path: "/logout", wantStatus: 303, wantCookie: true},

		{name: "cart", method: "POST", path: "/cart", contentType: form, body: "item=tea&item=&item=milk",
			wantStatus: 303, wantCookie: true},
		{name: "cart no items", method: "POST", path: "/cart", contentType: form, wantStatus: 400},
		{name: "cart empty items", method: "POST", path: "/cart", contentType: form, body: "item=&item=+", wantStatus: 400},
		{name: "cart body too large", method: "POST", path: "/cart", contentType: form,
			body: "item=" + strings.Repeat("x", maxForm), wantStatus: 413},
		{name: "cart clear", method: "POST", path: "/cart/clear", wantStatus: 303},

		{name: "data form", method: "POST", path: "/api/data", contentType: form, body: "key=k&value=v",
			wantStatus: 200, wantType: "application/json", wantBody: `{"success":true}`, wantCookie: true},
		{name: "data JSON", method: "POST", path: "/api/data", contentType: "application/json; charset=utf-8",
			body: `{"key":"k","value":"v"}`, wantStatus: 200, wantType: "application/json", wantBody: `{"success":true}`, wantCookie: true},
		{name: "data form no key", method: "POST", path: "/api/data", contentType: form, body: "value=v",
			wantStatus: 400, wantType: "application/json", wantBody: `"error":`},
		{name: "data JSON no key", method: "POST", path: "/api/data", contentType: "application/json",
			body: `{"value":"v"}`, wantStatus: 400, wantType: "application/json", wantBody: `"error":`},
		{name: "data JSON malformed", method: "POST", path: "/api/data", contentType: "application/json",
			body: `{"key":`, wantStatus: 400, wantType: "application/json", wantBody: `"error":`},
		{name: "data JSON not a string", method: "POST", path: "/api/data", contentType: "application/json",
			body: `{"key":"k","value":1}`, wantStatus: 400, wantType: "application/json", wantBody: `"error":`},
		{name: "data missing key", method: "GET", path: "/api/data?key=nope",
			wantStatus: 404, wantType: "application/json", wantBody: `"error":`},
		{name: "data no key parameter", method: "GET", path: "/api/data",
			wantStatus: 400, wantType: "application/json", wantBody: `"error":`},

		{name: "session", method: "GET", path: "/api/session",
			wantStatus: 200, wantType: "application/json", wantBody: `"new":true`},

		// Cross-origin protection refuses state changes a browser makes on
		// another site's behalf, before the session is touched.
		{name: "cross-site login", method: "POST", path: "/login", contentType: form, body: "user=eve",
			header: []string{"Sec-Fetch-Site", "cross-site"}, wantStatus: 403},
		{name: "cross-site logout", method: "POST", path: "/logout",
			header: []string{"Sec-Fetch-Site", "cross-site"}, wantStatus: 403},
		{name: "cross-site cart", method: "POST", path: "/cart", contentType: form, body: "item=x",
			header: []string{"Sec-Fetch-Site", "cross-site"}, wantStatus: 403},
		{name: "cross-site cart clear", method: "POST", path: "/cart/clear",
			header: []string{"Sec-Fetch-Site", "cross-site"}, wantStatus: 403},
		{name: "cross-site data", method: "POST", path: "/api/data", contentType: form, body: "key=k&value=v",
			header: []string{"Sec-Fetch-Site", "cross-site"}, wantStatus: 403},
		{name: "cross-origin Origin header", method: "POST", path: "/login", contentType: form, body: "user=eve",
			header: []string{"Origin", "https://evil.example"}, wantStatus: 403},
		{name: "same-origin login", method: "POST", path: "/login", contentType: form, body: "user=ada",
			header: []string{"Sec-Fetch-Site", "same-origin"}, wantStatus: 303, wantCookie: true},
		{name: "cross-site GET is safe", method: "GET", path: "/api/session",
			header: []string{"Sec-Fetch-Site", "cross-site"}, wantStatus: 200},
	}
	srv, _ := newTestServer(t, testConfig())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newBrowser(t, srv).do(tt.method, tt.path, tt.contentType, tt.body, tt.header...)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %q", r.status, tt.wantStatus, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, tt.wantType) {
				t.Errorf("Content-Type %q, want %q", ct, tt.wantType)
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("body %q does not contain %q", r.body, tt.wantBody)
			}
			if got := len(r.header.Values("Set-Cookie")) > 0; got != tt.wantCookie {
				t.Errorf("Set-Cookie %q; want one: %v", r.header.Values("Set-Cookie"), tt.wantCookie)
			}
			if tt.wantStatus == http.StatusSeeOther && r.header.Get("Location") != "/" {
				t.Errorf("Location %q, want /", r.header.Get("Location"))
			}
		})
	}
}

// TestFlow walks through what a visitor does, as a browser would.
func TestFlow(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, testConfig())
	b := newBrowser(t, srv)

	steps := []struct {
		name  string
		form  url.Values
		path  string
		check func(t *testing.T, s shown)
	}{
		{name: "signed out", check: func(t *testing.T, s shown) {
			if s.user != "" || !s.loginOK || s.logoutOK || len(s.cart) != 0 || len(s.flashes) != 0 {
				t.Errorf("a new visitor sees %+v", s)
			}
		}},
		{name: "login", path: "/login", form: url.Values{"user": {"Ada <Lovelace>"}}, check: func(t *testing.T, s shown) {
			// html/template escapes the name.
			if s.user != "Ada &lt;Lovelace&gt;" || s.loginOK || !s.logoutOK {
				t.Errorf("after login: %+v", s)
			}
			if !equal(s.flashes, []string{"Signed in as Ada &lt;Lovelace&gt;"}) {
				t.Errorf("flashes %q", s.flashes)
			}
		}},
		{name: "flash read once", check: func(t *testing.T, s shown) {
			if len(s.flashes) != 0 || s.user == "" {
				t.Errorf("on reload: %+v", s)
			}
		}},
		{name: "add items", path: "/cart", form: url.Values{"item": {"tea", "", "milk"}}, check: func(t *testing.T, s shown) {
			if !equal(s.cart, []string{"tea", "milk"}) {
				t.Errorf("cart %q, want [tea milk]", s.cart)
			}
		}},
		{name: "add more", path: "/cart", form: url.Values{"item": {"scones"}}, check: func(t *testing.T, s shown) {
			if !equal(s.cart, []string{"tea", "milk", "scones"}) {
				t.Errorf("cart %q", s.cart)
			}
		}},
		{name: "clear", path: "/cart/clear", check: func(t *testing.T, s shown) {
			if len(s.cart) != 0 || s.user == "" {
				t.Errorf("after clearing the cart: %+v", s)
			}
		}},
		{name: "logout", path: "/logout", check: func(t *testing.T, s shown) {
			if s.user != "" || !s.loginOK || !equal(s.flashes, []string{"Signed out"}) {
				t.Errorf("after logout: %+v", s)
			}
		}},
	}
	for _, st := range steps {
		if st.path != "" {
			r := b.postForm(st.path, st.form)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
				t.Fatalf("%s: status %d, Location %q; want 303 to /", st.name, r.status, r.header.Get("Location"))
			}
		}
		st.check(t, b.page())
		if t.Failed() {
			t.Fatalf("step %q failed", st.name)
		}
	}
}

// TestHeadKeepsFlashes checks that a HEAD request for the page (which GET
// patterns also match) does not use up the messages the next GET shows.
func TestHeadKeepsFlashes(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, testConfig())
	b := newBrowser(t, srv)
	b.postForm("/login", url.Values{"user": {"ada"}})
	if r := b.do("HEAD", "/", "", ""); r.status != http.StatusOK {
		t.Fatalf("HEAD /: status %d", r.status)
	}
	if got := parsePage(t, b.get("/").body).flashes; !equal(got, []string{"Signed in as ada"}) {
		t.Errorf("after a HEAD, the page shows flashes %q; want the sign-in message", got)
	}
}

// TestLoginRenews checks that signing in starts a new session lifetime:
// created_at moves to the time of the sign-in, the data is kept.
func TestLoginRenews(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := testConfig()
	cfg.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}
	srv, _ := newTestServer(t, cfg)
	b := newBrowser(t, srv)
	b.postForm("/api/data", url.Values{"key": {"k"}, "value": {"v"}})
	before := b.sessionView()
	if before.New {
		t.Fatal("the session was not stored")
	}
	mu.Lock()
	clock = clock.Add(time.Hour)
	mu.Unlock()
	r := b.postForm("/login", url.Values{"user": {"ada"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("login: status %d", r.status)
	}
	after := b.sessionView()
	if after.User != "ada" || after.Data["k"] != "v" {
		t.Errorf("after login: %+v; want the user and the data kept", after)
	}
	b0, _ := time.Parse(time.RFC3339, before.CreatedAt)
	a0, _ := time.Parse(time.RFC3339, after.CreatedAt)
	if a0.Sub(b0) != time.Hour {
		t.Errorf("created_at went from %s to %s; want the time of the sign-in, an hour later", before.CreatedAt, after.CreatedAt)
	}
}

func TestAPIData(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, testConfig())
	b := newBrowser(t, srv)

	if r := b.do("POST", "/api/data", "application/json", `{"key":"colour","value":"blue"}`); r.status != 200 {
		t.Fatalf("POST JSON: status %d %q", r.status, r.body)
	}
	if r := b.postForm("/api/data", url.Values{"key": {"size"}, "value": {""}}); r.status != 200 {
		t.Fatalf("POST form: status %d %q", r.status, r.body)
	}
	for _, tt := range []struct {
		key, want string
	}{{"colour", "blue"}, {"size", ""}} {
		r := b.get("/api/data?key=" + tt.key)
		var got map[string]string
		if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != 200 || len(got) != 1 || got["value"] != tt.want {
			t.Errorf("GET key=%s: status %d body %q (%v); want 200 {\"value\":%q}", tt.key, r.status, r.body, err, tt.want)
		}
	}
	if r := b.get("/api/data?key=missing"); r.status != 404 {
		t.Errorf("GET a missing key: status %d, want 404", r.status)
	}
}

func TestAPISession(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, testConfig())
	b := newBrowser(t, srv)

	first := b.get("/api/session")
	var raw map[string]any
	if err := json.Unmarshal([]byte(first.body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"user", "cart", "data", "new", "created_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("/api/session lacks %q: %s", k, first.body)
		}
	}
	if !strings.Contains(first.body, `"cart":[]`) || !strings.Contains(first.body, `"data":{}`) {
		t.Errorf("an empty session should show cart [] and data {}: %s", first.body)
	}
	if len(first.header.Values("Set-Cookie")) != 0 {
		t.Error("reading an empty session set a cookie")
	}

	v := b.sessionView()
	if !v.New {
		t.Error("new is false before any cookie was set")
	}
	b.postForm("/login", url.Values{"user": {"ada"}})
	b.postForm("/cart", url.Values{"item": {"tea"}})
	v = b.sessionView()
	if v.New || v.User != "ada" || !equal(v.Cart, []string{"tea"}) {
		t.Errorf("after login: %+v", v)
	}
	created, err := time.Parse(time.RFC3339, v.CreatedAt)
	if err != nil {
		t.Errorf("created_at %q is not RFC 3339: %v", v.CreatedAt, err)
	} else if d := time.Since(created); d < -time.Minute || d > time.Minute {
		t.Errorf("created_at %s is not about now", v.CreatedAt)
	}
}

// TestCookieAttributes checks the library's defaults and the loopback
// exception for Secure, and that SESSION_MAX_AGE and SESSION_IDLE_TIMEOUT
// reach the cookie.
func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cfg        config
		wantSecure bool
		wantMaxAge time.Duration
	}{
		{"loopback", testConfig(), false, 24 * time.Hour},
		{"public", config{Addr: ":8080", MaxAge: 24 * time.Hour}, true, 24 * time.Hour},
		{"max age", config{Addr: "127.0.0.1:0", MaxAge: time.Hour, Insecure: true}, false, time.Hour},
		{"idle timeout", config{Addr: "127.0.0.1:0", MaxAge: time.Hour, IdleTimeout: 30 * time.Minute, Insecure: true}, false, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := newTestServer(t, tt.cfg)
			r := newBrowser(t, srv).postForm("/login", url.Values{"user": {"ada"}})
			cookies := setCookies(r)
			// __Host- where the cookie is Secure: a sibling subdomain
			// cannot plant it.
			name := cookiesession.DefaultName
			if !tt.wantSecure {
				name = cookiesession.FallbackName
			}
			line, ok := cookies[name]
			if !ok || len(cookies) != 1 {
				t.Fatalf("Set-Cookie %q; want the one cookie %q", r.header.Values("Set-Cookie"), name)
			}
			c, err := http.ParseSetCookie(line)
			if err != nil {
				t.Fatal(err)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.Secure != tt.wantSecure {
				t.Errorf("cookie %q: want HttpOnly, SameSite=Lax, Path=/, no Domain, Secure=%v", line, tt.wantSecure)
			}
			if want := int(tt.wantMaxAge.Seconds()); c.MaxAge > want || c.MaxAge < want-5 {
				t.Errorf("Max-Age %d, want about %d", c.MaxAge, want)
			}
		})
	}
}

// TestCartTooLarge grows the cart into chunk cookies and then past the
// size cap: the save fails with a 500, the browser keeps its cookie, and
// the log says how large the session would have been.
func TestCartTooLarge(t *testing.T) {
	t.Parallel()
	srv, logs := newTestServer(t, testConfig())
	b := newBrowser(t, srv)
	b.postForm("/login", url.Values{"user": {"ada"}})

	item := strings.Repeat("x", 300)
	many := func(n int) url.Values { return url.Values{"item": make([]string, 0, n)} }
	fill := many(12) // about 3.6 KB of items: two chunk cookies once sealed
	for range 12 {
		fill["item"] = append(fill["item"], item)
	}
	r := b.postForm("/cart", fill)
	cookies := setCookies(r)
	if r.status != http.StatusSeeOther || cookies["session"] == "" || cookies["session.1"] == "" {
		t.Fatalf("a 3.6 KB cart: status %d, Set-Cookie %q; want 303 and chunks session, session.1", r.status, r.header.Values("Set-Cookie"))
	}

	over := many(20) // 6 KB more: past the 7168-byte default cap
	for range 20 {
		over["item"] = append(over["item"], item)
	}
	r = b.postForm("/cart", over)
	if r.status != http.StatusInternalServerError {
		t.Errorf("an oversized cart: status %d, want 500", r.status)
	}
	if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("a failed save sent Set-Cookie %q", sc)
	}
	sizeRE := regexp.MustCompile(`would be (\d+) bytes sealed.*the cap is 7168`)
	m := sizeRE.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no log line gives the size; log:\n%s", logs)
	}
	if n, _ := strconv.Atoi(m[1]); n <= cookiesession.DefaultMaxSize {
		t.Errorf("logged size %d is within the cap", n)
	}

	// The browser kept its previous cookie, so the previous cart.
	if v := b.sessionView(); v.User != "ada" || len(v.Cart) != 12 {
		t.Errorf("after the failed save: user %q, %d items; want ada and 12", v.User, len(v.Cart))
	}

	// Clearing the cart deletes the chunk no longer needed.
	r = b.postForm("/cart/clear", nil)
	cookies = setCookies(r)
	if !strings.Contains(cookies["session.1"], "Max-Age=0") {
		t.Errorf("clearing the cart: Set-Cookie %q; want session.1 deleted", r.header.Values("Set-Cookie"))
	}
}

// copyCookies makes a browser that holds the same cookies as b, as someone
// who copied them would.
func (b *browser) copyCookies(srv *httptest.Server) *browser {
	b.t.Helper()
	c := newBrowser(b.t, srv)
	u, err := url.Parse(srv.URL)
	if err != nil {
		b.t.Fatal(err)
	}
	c.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
	return c
}

// A copy of the cookie taken before POST /logout is refused afterwards.
func TestLogoutRevokesCopies(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, testConfig())
	b := newBrowser(t, srv)
	b.postForm("/login", url.Values{"user": {"ada"}})
	thief := b.copyCookies(srv)
	if v := thief.sessionView(); v.User != "ada" {
		t.Fatalf("the copy before sign-out: %+v", v)
	}
	b.postForm("/logout", nil)
	if v := thief.sessionView(); v.User != "" || !v.New {
		t.Errorf("the copy after sign-out: %+v", v)
	}
}

// POST /logout-everywhere signs the user out in every browser, and no one
// else.
func TestLogoutEverywhere(t *testing.T) {
	t.Parallel()
	srv, _ := newTestServer(t, testConfig())
	phone, laptop, bob := newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)
	phone.postForm("/login", url.Values{"user": {"ada"}})
	laptop.postForm("/login", url.Values{"user": {"ada"}})
	bob.postForm("/login", url.Values{"user": {"bob"}})
	r := phone.postForm("/logout-everywhere", nil)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("status %d, Location %q; want 303 to /", r.status, r.header.Get("Location"))
	}
	if s := phone.page(); s.user != "" || !equal(s.flashes, []string{"Signed out everywhere"}) {
		t.Errorf("the browser that asked: %+v", s)
	}
	if v := laptop.sessionView(); v.User != "" {
		t.Errorf("the other browser is still signed in: %+v", v)
	}
	if v := bob.sessionView(); v.User != "bob" {
		t.Errorf("another user was signed out: %+v", v)
	}
}

// refusingStore is a revocation store that cannot store revocations, as
// one cut off from its Redis.
type refusingStore struct{ *revocation.Replica }

func (refusingStore) Revoke(context.Context, string, revocation.Revoked) error {
	return errors.New("redis: connection refused")
}

// When the revocation cannot be stored, the browser that asked is signed
// out all the same, and told that the other browsers may not be: a user
// who read "Signed out everywhere" would trust a lost phone to be.
func TestLogoutEverywhereFailing(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.revocations = refusingStore{revocation.NewReplica(nil)}
	srv, logs := newTestServer(t, cfg)
	phone := newBrowser(t, srv)
	phone.postForm("/login", url.Values{"user": {"ada"}})
	phone.postForm("/logout-everywhere", nil)
	if s := phone.page(); s.user != "" || !equal(s.flashes, []string{"Signed out here; signing out elsewhere failed, try again"}) {
		t.Errorf("the browser that asked: %+v", s)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="signing out everywhere"`) {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}

// healthStore is a revocation store whose health the test sets.
type healthStore struct {
	*revocation.Replica
	mu     sync.Mutex
	health revocation.Health
	err    error
}

func (s *healthStore) set(h revocation.Health, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.health, s.err = h, err
}

func (s *healthStore) Health() (revocation.Health, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health, s.err
}

// readyStore is a revocation store that reports only whether it is ready,
// as stores without Health do.
type readyStore struct {
	*revocation.Replica
	err error
}

func (s readyStore) Ready() error { return s.err }

// GET /healthz answers the store's state in one word: degraded serves
// (200), down does not (503). The cause is logged, once when the state
// begins, and never answered: it may name the Redis server.
func TestHealthz(t *testing.T) {
	t.Parallel()
	const secret = "dial tcp 10.1.2.3:6379: connection refused"
	store := &healthStore{Replica: revocation.NewReplica(nil)}
	cfg := testConfig()
	cfg.revocations = store
	srv, logs := newTestServer(t, cfg)
	steps := []struct {
		health     revocation.Health
		err        error
		wantStatus int
		wantBody   string
	}{
		// Down at start (the store loading) is no failure: logged as such.
		{revocation.Down, errors.New(secret), 503, "down\n"},
		{revocation.Healthy, nil, 200, "healthy\n"},
		{revocation.Degraded, errors.New(secret), 200, "degraded\n"},
		{revocation.Degraded, errors.New(secret), 200, "degraded\n"},
		{revocation.Down, errors.New(secret), 503, "down\n"},
		{revocation.Down, errors.New(secret), 503, "down\n"},
		{revocation.Health(42), errors.New(secret), 503, "down\n"}, // unknown: not taken for good
		{revocation.Healthy, nil, 200, "healthy\n"},
		{revocation.Healthy, nil, 200, "healthy\n"},
	}
	b := newBrowser(t, srv)
	for i, st := range steps {
		store.set(st.health, st.err)
		r := b.do("GET", "/healthz", "", "")
		if r.status != st.wantStatus || r.body != st.wantBody {
			t.Errorf("step %d, %v: status %d, body %q; want %d, %q", i, st.health, r.status, r.body, st.wantStatus, st.wantBody)
		}
		if strings.Contains(r.body, "10.1.2.3") {
			t.Errorf("step %d: the answer shows the cause: %q", i, r.body)
		}
		if cc := r.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("step %d: Cache-Control %q, want no-store", i, cc)
		}
	}
	log := logs.String()
	for _, c := range []struct {
		want  string
		count int
	}{
		{"msg=\"revocation store degraded", 1},
		{"msg=\"revocation store not ready yet", 1},
		{"msg=\"revocation store down", 1},
		{"msg=\"revocation store healthy\"", 2},
		{"10.1.2.3", 3},
	} {
		if got := strings.Count(log, c.want); got != c.count {
			t.Errorf("the log holds %q %d times, want %d:\n%s", c.want, got, c.count, log)
		}
	}
}

// A store that reports only readiness is healthy when ready, down when
// not. The first probe logs nothing when healthy, as expected, and only
// an info line when down, as at every start: neither is news.
func TestHealthzReady(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err        error
		wantStatus int
		wantBody   string
		wantLog    string // "" for no line about the store
	}{
		{nil, 200, "healthy\n", ""},
		{errors.New("replica not loaded from 10.1.2.3"), 503, "down\n", `level=INFO msg="revocation store not ready yet`},
	} {
		cfg := testConfig()
		cfg.revocations = readyStore{Replica: revocation.NewReplica(nil), err: tt.err}
		srv, logs := newTestServer(t, cfg)
		r := newBrowser(t, srv).do("GET", "/healthz", "", "")
		if r.status != tt.wantStatus || r.body != tt.wantBody {
			t.Errorf("Ready %v: status %d, body %q; want %d, %q", tt.err, r.status, r.body, tt.wantStatus, tt.wantBody)
		}
		if log := logs.String(); tt.wantLog == "" && strings.Contains(log, "revocation store") ||
			tt.wantLog != "" && (!strings.Contains(log, tt.wantLog) || strings.Count(log, "revocation store") != 1) {
			t.Errorf("Ready %v: the first probe logged:\n%s\nwant %q", tt.err, log, tt.wantLog)
		}
	}
}
