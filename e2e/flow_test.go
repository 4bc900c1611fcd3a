package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	// testTimeout bounds everything the browser does in one test.
	testTimeout = 60 * time.Second
	// stepTimeout bounds one step: a navigation, a form, a check.
	stepTimeout = 15 * time.Second
	// maxCookieSize is what a browser keeps of a cookie's name and value.
	maxCookieSize = 4096
	// itemSize is the length of the items that grow the cart: a dozen of
	// them make the sealed session too large for one cookie.
	itemSize = 300
	// maxItems stops the growing loop if chunking never happens.
	maxItems = 30
)

// TestBrowserSession signs in, fills a cart until the session spans chunk
// cookies, reloads, clears the cart and signs out, in a real browser. After
// every step it checks what the page shows and what the browser stored.
func TestBrowserSession(t *testing.T) {
	chromium := findChromium(t) // first: without it, building the app is wasted
	ex := startExample(t)
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	b := &tab{t: t, ctx: newBrowser(t, ctx, chromium), base: ex.base}

	b.do("open the home page", chromedp.Navigate(b.base+"/"))
	b.expectPage(pageState{})
	b.expectCookies()

	b.submit("sign in", "login-form", 200, field{"user", "Ada"})
	b.expectPage(pageState{user: "Ada", flashes: []string{"Signed in as Ada"}})
	b.expectCookies(cookiesession.DefaultName)

	cart := []string{"tea"}
	b.submit("add an item", "cart-form", 200, field{"item", "tea"})
	b.expectPage(pageState{user: "Ada", cart: cart})
	b.expectCookies(cookiesession.DefaultName)

	// A form on another site cannot change the session: the browser marks
	// the request cross-site and the app refuses it.
	evil := "data:text/html," + url.PathEscape(`<form id="evil" method="post" action="`+b.base+`/cart">`+
		`<input name="item" value="evil"><button>Go</button></form>`)
	b.do("open another site", chromedp.Navigate(evil))
	b.submit("post to the app from another site", "evil", 403)
	b.do("go back to the app", chromedp.Navigate(b.base+"/"))
	b.expectPage(pageState{user: "Ada", cart: cart})

	// Grow the cart, one form at a time, until the session no longer fits
	// one cookie.
	for i := 2; ; i++ {
		if i > maxItems {
			t.Fatalf("%d items of %d bytes and the session still fits one cookie", maxItems, itemSize)
		}
		item := fmt.Sprintf("item %02d ", i) + strings.Repeat(string(rune('a'+i%26)), itemSize-8)
		cart = append(cart, item)
		b.submit(fmt.Sprintf("add item %d", i), "cart-form", 200, field{"item", item})
		b.expectPage(pageState{user: "Ada", cart: cart})
		if stored := b.cookies(); len(stored) > 1 {
			b.expectCookies(cookiesession.DefaultName, cookiesession.DefaultName+".1")
			t.Logf("the session spans %d cookies with %d items", len(stored), len(cart))
			break
		}
		b.expectCookies(cookiesession.DefaultName)
	}

	b.do("reload", chromedp.Reload())
	b.expectPage(pageState{user: "Ada", cart: cart})
	chunked := b.cookies()

	// Past the size cap the save fails: a 500, and the browser keeps the
	// session it had. Half the cap more, on a session already over one
	// cookie, cannot fit.
	b.submit("add an item too large to store", "cart-form", 500,
		field{"item", strings.Repeat("z", cookiesession.DefaultMaxSize/2)})
	if after := b.cookies(); !sameValues(chunked, after) {
		t.Errorf("a failed save changed the stored cookies")
	}
	b.do("go back to the app", chromedp.Navigate(b.base+"/"))
	b.expectPage(pageState{user: "Ada", cart: cart})

	b.submit("empty the cart", "clear-form", 200)
	b.expectPage(pageState{user: "Ada"})
	b.expectCookies(cookiesession.DefaultName)

	// Signing out writes a new session holding only the flash; showing
	// the flash empties it, and an empty session is deleted.
	b.submit("sign out", "logout-form", 200)
	b.expectPage(pageState{flashes: []string{"Signed out"}})
	b.expectCookies()
}

// tab drives one browser tab through the example.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string
}

// field is a form input's name and the value to type into it.
type field struct{ name, value string }

// stepCtx bounds one step.
func (b *tab) stepCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, stepTimeout)
}

// do runs actions as one step, failing the test if they fail.
func (b *tab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// submit fills the form's fields, presses its button as a user would, and
// waits for the page the browser ends up on (after the app's redirect),
// whose status must be wantStatus.
func (b *tab) submit(step, form string, wantStatus int64, fields ...field) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	for _, f := range fields {
		sel := chromedp.CSS(fmt.Sprintf(`#%s [name=%q]`, form, f.name))
		if err := chromedp.Do(ctx, chromedp.SetValue(sel, f.value)); err != nil {
			b.t.Fatalf("%s: filling %s: %v", step, sel, err)
		}
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#"+form+" button")))
	if err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
	if resp.Status != wantStatus {
		b.t.Fatalf("%s: the browser got %d %s for %s, want %d", step, resp.Status, resp.StatusText, resp.URL, wantStatus)
	}
}

// pageState is what the example's page shows.
type pageState struct {
	user    string // empty: signed out, with a login form
	cart    []string
	flashes []string
}

// expectPage reads the page through its stable ids and compares.
func (b *tab) expectPage(want pageState) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	var got pageState
	signedIn, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("user") !== null`))
	if err != nil {
		b.t.Fatalf("reading the page: %v", err)
	}
	var forms []string
	if signedIn {
		if got.user, err = chromedp.Run(ctx, chromedp.Text(chromedp.ID("user"))); err != nil {
			b.t.Fatalf("reading #user: %v", err)
		}
		forms = []string{"logout-form"}
	} else {
		forms = []string{"login-form"}
	}
	forms = append(forms, "cart-form", "clear-form")
	for _, f := range forms {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.getElementById(%q) !== null`, f)))
		if err != nil || !ok {
			b.t.Errorf("the page has no #%s (%v)", f, err)
		}
	}
	if got.cart, err = b.list(ctx, "cart"); err != nil {
		b.t.Fatalf("reading #cart: %v", err)
	}
	if got.flashes, err = b.list(ctx, "flashes"); err != nil {
		b.t.Fatalf("reading #flashes: %v", err)
	}
	if got.user != want.user || !slices.Equal(got.cart, want.cart) || !slices.Equal(got.flashes, want.flashes) {
		b.t.Fatalf("the page shows\n\tuser %q, cart %q, flashes %q\nwant\n\tuser %q, cart %q, flashes %q",
			got.user, got.cart, got.flashes, want.user, want.cart, want.flashes)
	}
	// The session cookies are HttpOnly: scripts see none of them.
	if js, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || js != "" {
		b.t.Errorf("document.cookie is %q (%v), want empty", js, err)
	}
}

// list returns the text of each <li> of the list with this id, read with
// chromedp.Text.
func (b *tab) list(ctx context.Context, id string) ([]string, error) {
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll("#%s > li").length`, id)))
	if err != nil {
		return nil, err
	}
	var items []string
	for i := 1; i <= n; i++ {
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(fmt.Sprintf("#%s > li:nth-child(%d)", id, i))))
		if err != nil {
			return nil, err
		}
		items = append(items, text)
	}
	return items, nil
}

// cookies returns what the browser stored for the example, by name.
func (b *tab) cookies() map[string]*network.Cookie {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	return browserCookies(ctx, b.t, b.base+"/")
}

// browserCookies returns the cookies the browser of ctx holds for url, by
// name.
func browserCookies(ctx context.Context, t testing.TB, url string) map[string]*network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatalf("reading the browser's cookies: %v", err)
	}
	m := make(map[string]*network.Cookie, len(res.Cookies))
	for _, c := range res.Cookies {
		m[c.Name] = c
	}
	return m
}

// names returns the cookies' names, sorted.
func names(cookies map[string]*network.Cookie) []string {
	return slices.Sorted(maps.Keys(cookies))
}

// expectCookies checks that the browser holds exactly the named cookies
// for the example, each within the browser's size limit and with the
// library's default attributes: HttpOnly, SameSite=Lax, Path=/, host-only,
// and Secure. The example runs with real keys, so it keeps Secure even on
// a loopback address, and Chromium keeps Secure cookies from there.
func (b *tab) expectCookies(want ...string) {
	b.t.Helper()
	got := b.cookies()
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(names(got), want) {
		b.t.Fatalf("the browser holds cookies %q, want %q", names(got), want)
	}
	host := strings.TrimPrefix(b.base, "http://")
	host = host[:strings.LastIndexByte(host, ':')]
	for _, c := range got {
		size := len(c.Name) + len(c.Value)
		if size > maxCookieSize || c.Size > maxCookieSize {
			b.t.Errorf("cookie %s: %d bytes (browser says %d), more than %d", c.Name, size, c.Size, maxCookieSize)
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || !c.Secure || c.Path != "/" || c.Domain != host || c.Session {
			b.t.Errorf("cookie %s: HttpOnly %v, SameSite %q, Secure %v, Path %q, Domain %q, session-only %v; "+
				"want HttpOnly, SameSite Lax, Secure, Path /, Domain %s, with an expiry",
				c.Name, c.HTTPOnly, c.SameSite, c.Secure, c.Path, c.Domain, c.Session, host)
		}
	}
}

// sameValues reports whether two cookie sets hold the same names and values.
func sameValues(a, b map[string]*network.Cookie) bool {
	if len(a) != len(b) {
		return false
	}
	for name, c := range a {
		if d, ok := b[name]; !ok || d.Value != c.Value {
			return false
		}
	}
	return true
}
