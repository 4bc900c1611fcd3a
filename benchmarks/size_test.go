package benchmarks

import (
	"encoding/json"
	"testing"

	"github.com/ce967478/cookiesession/benchmarks/apps"
)

// The size benchmarks: how the cost grows with the session. For each of
// apps.Sizes (the cart series: about 100 B, 1 KB and 3 KB of JSON in one
// cookie, and a session near cookiesession's default cap, about 6.6 KB
// sealed in two cookies; the token series: OIDC tokens in about 3 KB and
// 5.7 KB of JSON, the second with the largest cap New accepts),
// BenchmarkSizeRead and BenchmarkSizeWrite run the read-only and the
// changing request side by side through
//
//	cookiesession  the middleware with every default, but the cap a size
//	               needs (apps.Size.Options)
//	gorilla        gorilla/sessions CookieStore, its defaults, a Values key
//	               per field; for the sessions CookieStore refuses ("the
//	               value is too long": securecookie's limit is 4096
//	               bytes), its codecs' limit is raised
//	               (apps.Size.GorillaStore): what the work would cost,
//	               though no browser would keep a cookie that long
//	none           the same handler without a session
//
// Each reports cookie-bytes (the values' lengths, added up over a chunked
// session's cookies) and cookies (how many). The cookiesession ones also
// report data-bytes (the session's JSON), and, from interleaved rounds
// after their own loop (see compare) in which they, none, gorilla and the
// floor take turns:
//
//	net-ns/op             ours - none
//	gorilla-net-ns/op     gorilla - none
//	net-x-gorilla         (gorilla - none) / (ours - none)
//	net-x-floor           (ours - none) / floor
//	gorilla-cookie-bytes  gorilla's cookie's length
//
// Nothing here has a target: the figures show how the ratios to gorilla
// move as the session grows.

// sizeFixture is the apps for one size, with a seeded cookie each.
type sizeFixture struct {
	size                      apps.Size
	ours, gorilla, none       *apps.App
	oursCookie, gorillaCookie string // Cookie header values
	cookies                   int    // the cookies cookiesession seals the size into
	floor                     *floor
	floorValue                string
}

func newSizeFixture(tb testing.TB, z apps.Size) *sizeFixture {
	tb.Helper()
	m, err := apps.NewManager(z.Options()...)
	if err != nil {
		tb.Fatal(err)
	}
	data := z.Data()
	f := &sizeFixture{
		size:    z,
		ours:    apps.Cookiesession(m, data),
		gorilla: apps.Gorilla("gorilla", z.GorillaStore(), data),
		none:    apps.None(),
		floor:   newFloor(),
	}
	f.oursCookie = seed(tb, f.ours)
	f.gorillaCookie = seed(tb, f.gorilla)
	f.cookies = len(newRunner(f.ours.Seed, "").serve().Result().Cookies())
	f.floorValue = f.floor.seal(&data)
	return f
}

// runners returns the runners of rt for cookiesession, gorilla and none,
// each checked once, with cookiesession's and gorilla's cookie bytes on
// rt's response (the seeded cookies' on a read-only request).
func (f *sizeFixture) runners(tb testing.TB, rt route) (ours, gorilla, none *runner, oursLen, gorillaLen int) {
	tb.Helper()
	ours = newRunner(rt.handler(f.ours), f.oursCookie)
	gorilla = newRunner(rt.handler(f.gorilla), f.gorillaCookie)
	none = newRunner(rt.handler(f.none), f.oursCookie)
	if rt == routeWrite {
		oursLen = checkSets(tb, "cookiesession", ours, f.cookies)
		gorillaLen = checkSets(tb, "gorilla", gorilla, 1)
	} else {
		checkSets(tb, "cookiesession", ours, 0)
		checkSets(tb, "gorilla", gorilla, 0)
		oursLen, gorillaLen = valuesLen(f.oursCookie), valuesLen(f.gorillaCookie)
	}
	checkSets(tb, "none", none, 0)
	return ours, gorilla, none, oursLen, gorillaLen
}

// valuesLen is the length of the values in a Cookie header, added up.
func valuesLen(header string) int {
	n := 0
	for _, c := range parseCookies(header) {
		n += len(c.value)
	}
	return n
}

// floorFn is the floor of rt on the size's data.
func (f *sizeFixture) floorFn(rt route) func() {
	if rt == routeWrite {
		return func() { f.floor.write(f.floorValue) }
	}
	return func() { f.floor.read(f.floorValue) }
}

func benchSizeOurs(b *testing.B, z apps.Size, rt route) {
	f := newSizeFixture(b, z)
	ours, gorilla, none, oursLen, gorillaLen := f.runners(b, rt)
	data, err := json.Marshal(z.Data())
	if err != nil {
		b.Fatal(err)
	}
	loop(b, ours.run)
	b.ReportMetric(float64(len(data)), "data-bytes")
	b.ReportMetric(float64(oursLen), "cookie-bytes")
	b.ReportMetric(float64(f.cookies), "cookies")
	if !*compareFlag {
		return
	}
	ns := compare(compareBudget*b.Elapsed(), ours.run, none.run, gorilla.run, f.floorFn(rt))
	oursNet, gorillaNet := ns[0]-ns[1], ns[2]-ns[1]
	b.ReportMetric(oursNet, "net-ns/op")
	b.ReportMetric(gorillaNet, "gorilla-net-ns/op")
	b.ReportMetric(gorillaNet/oursNet, "net-x-gorilla")
	b.ReportMetric(oursNet/ns[3], "net-x-floor")
	b.ReportMetric(float64(gorillaLen), "gorilla-cookie-bytes")
}

func benchSizePeer(b *testing.B, z apps.Size, rt route, name string) {
	f := newSizeFixture(b, z)
	_, gorilla, none, _, gorillaLen := f.runners(b, rt)
	r, cookieBytes, cookies := none, 0, 0
	if name == "gorilla" {
		r, cookieBytes, cookies = gorilla, gorillaLen, 1
	}
	loop(b, r.run)
	b.ReportMetric(float64(cookieBytes), "cookie-bytes")
	b.ReportMetric(float64(cookies), "cookies")
}

func benchSizes(b *testing.B, rt route) {
	for _, z := range apps.Sizes {
		b.Run(z.Name, func(b *testing.B) {
			b.Run(apps.CookiesessionName, func(b *testing.B) { benchSizeOurs(b, z, rt) })
			for _, p := range []string{"gorilla", "none"} {
				b.Run(p, func(b *testing.B) { benchSizePeer(b, z, rt, p) })
			}
		})
	}
}

// BenchmarkSizeRead: the read-only request (the session's Name) at each
// size; cookiesession sets no cookie, gorilla is not saved.
func BenchmarkSizeRead(b *testing.B) { benchSizes(b, routeRead) }

// BenchmarkSizeWrite: the changing request (Theme toggled) at each size;
// the response sets the session's cookies.
func BenchmarkSizeWrite(b *testing.B) { benchSizes(b, routeWrite) }

// TestSizeFixture checks what the size benchmarks rely on, at every size:
// each app's cookies work on both routes (newSizeFixture and runners fail
// otherwise), cookiesession seals the size into the cookies apps.Sizes
// says, its cookies follow from one request to the next (a read after
// writes still opens, and sets nothing), and the floor opens the size's
// value.
func TestSizeFixture(t *testing.T) {
	want := map[string]int{"100B": 1, "1KB": 1, "3KB": 1, "near-cap": 2, "tokens-3KB": 2, "tokens-max": 2}
	for _, z := range apps.Sizes {
		f := newSizeFixture(t, z)
		if f.cookies != want[z.Name] {
			t.Errorf("%s: %d cookies, want %d", z.Name, f.cookies, want[z.Name])
		}
		ours, _, _, writeLen, gorillaLen := f.runners(t, routeWrite)
		checkSets(t, z.Name+" second write", ours, f.cookies)
		read := newRunner(f.ours.Read, ours.tmpl.Header.Get("Cookie"))
		if w := read.serve(); w.Body.String() != "Ada Lovelace" || len(w.Header()["Set-Cookie"]) != 0 {
			t.Errorf("%s: read after writes: %q, %d Set-Cookie", z.Name, w.Body, len(w.Header()["Set-Cookie"]))
		}
		if _, _, _, readLen, _ := f.runners(t, routeRead); readLen < writeLen-8 || readLen > writeLen+8 {
			t.Errorf("%s: cookie bytes %d on the read, %d on the write", z.Name, readLen, writeLen)
		}
		if f.floor.read(f.floorValue) {
			t.Errorf("%s: the floor's read found a change", z.Name)
		}
		t.Logf("%s: cookiesession %d bytes in %d cookies, gorilla %d bytes", z.Name, writeLen, f.cookies, gorillaLen)
	}
}
