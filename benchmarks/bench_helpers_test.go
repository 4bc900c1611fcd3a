package benchmarks

import (
	"testing"

	"github.com/gorilla/securecookie"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/benchmarks/apps"
)

// TestFixture checks, cheaply and without timing anything, what the
// benchmarks rely on: every app's cookie works on the routes measured (the
// floor has its own test, TestFloor).
func TestFixture(t *testing.T) {
	f := newFixture(t)
	check(t, "cookiesession write", newRunner(f.ours.Write, f.oursCookie), true)
	check(t, "cookiesession read", newRunner(f.ours.Read, f.oursCookie), false)
	check(t, "gorilla write", newRunner(f.gorilla.Write, f.gorillaCookie), true)
	check(t, "securecookie-json write", newRunner(f.scJSON.Write, f.scJSONCookie), true)
	check(t, "untouched", newRunner(f.untouched, f.oursCookie), false)
	check(t, "none", newRunner(f.none.Write, f.oursCookie), false)
}

// countingCodec counts the cookies a gorilla store decodes.
type countingCodec struct {
	securecookie.Codec
	decodes int
}

func (c *countingCodec) Decode(name, value string, dst interface{}) error {
	c.decodes++
	return c.Codec.Decode(name, value, dst)
}

// TestRunnerResetsRequest checks that a reused request gives gorilla a
// fresh registry each time: without the reset, every request after the
// first would find the session already decoded, and the gorilla numbers
// would be too good.
func TestRunnerResetsRequest(t *testing.T) {
	f := newFixture(t)
	store := apps.GorillaStore()
	cc := &countingCodec{Codec: store.Codecs[0]}
	store.Codecs = []securecookie.Codec{cc}
	r := newRunner(apps.Gorilla("gorilla", store, apps.NewTypical()).Read, f.gorillaCookie)
	for i := 0; i < 3; i++ {
		r.serve()
	}
	if cc.decodes != 3 {
		t.Fatalf("3 requests decoded the cookie %d times", cc.decodes)
	}
}

// countingSerializer counts the calls cookiesession makes to its
// serializer, encoding/json underneath.
type countingSerializer struct {
	cookiesession.JSONSerializer
	marshals, unmarshals int
}

func (c *countingSerializer) Marshal(v any) ([]byte, error) {
	c.marshals++
	return c.JSONSerializer.Marshal(v)
}

func (c *countingSerializer) Unmarshal(data []byte, v any) error {
	c.unmarshals++
	return c.JSONSerializer.Unmarshal(data, v)
}

// serializerCalls runs rt's request n times through the cookiesession app
// on a Manager with opts whose serializer counts its calls, with data in
// the session, and returns the Unmarshal and Marshal calls per request.
func serializerCalls(tb testing.TB, data apps.Typical, rt route, n int, opts ...cookiesession.Option) (unmarshals, marshals float64) {
	tb.Helper()
	cs := &countingSerializer{}
	m, err := apps.NewManager(append(opts[:len(opts):len(opts)], cookiesession.WithSerializer(cs))...)
	if err != nil {
		tb.Fatal(err)
	}
	app := apps.Cookiesession(m, data)
	r := newRunner(rt.handler(app), seed(tb, app))
	cs.marshals, cs.unmarshals = 0, 0
	for i := 0; i < n; i++ {
		r.serve()
	}
	return float64(cs.unmarshals) / float64(n), float64(cs.marshals) / float64(n)
}

// TestCookiesessionWorkPerRequest checks that the cookiesession app does,
// on every request, what the benchmarks say it does: it opens the cookie
// in full (one Unmarshal a request: nothing is remembered from the
// previous one) and serialises the data at least once, at commit, to
// compare it with the cookie's bytes, on the read-only request as on the
// changing one. (The middleware serialises once more after the handler
// returns, when the handler wrote its response: the check for a change
// made too late to be sent. The benchmarks report the count.)
func TestCookiesessionWorkPerRequest(t *testing.T) {
	for _, z := range append([]apps.Size{{Name: "typical", Items: 3}}, apps.Sizes...) {
		for _, rt := range []route{routeRead, routeWrite} {
			u, m := serializerCalls(t, z.Data(), rt, 3, z.Options()...)
			if u != 1 || m < 1 {
				t.Errorf("%s, %s: %.1f Unmarshal and %.1f Marshal calls a request; want one, and at least one",
					z.Name, rt, u, m)
			}
			t.Logf("%s, %s: %.1f Unmarshal and %.1f Marshal calls a request", z.Name, rt, u, m)
		}
	}
}

// TestFollow checks the runner's cookie jar: the same cookie set again
// replaces the one sent, without allocating; a chunked session's cookies
// replace and join the ones sent; a deletion removes one.
func TestFollow(t *testing.T) {
	for _, c := range []struct {
		header string
		set    []string
		want   string
	}{
		{"session=a", []string{"session=b; Path=/; HttpOnly"}, "session=b"},
		{"", []string{"session=2.a; Path=/", "session.1=b; Path=/"}, "session=2.a; session.1=b"},
		{"session=2.a; session.1=b", []string{"session=2.c; Path=/", "session.1=d; Path=/"}, "session=2.c; session.1=d"},
		{"session=2.a; session.1=b", []string{"session=c; Path=/", "session.1=; Path=/; Max-Age=0"}, "session=c"},
		{"session=a", []string{"other=x"}, "session=a; other=x"},
	} {
		if got := follow(c.header, c.set); got != c.want {
			t.Errorf("follow(%q, %q) = %q, want %q", c.header, c.set, got, c.want)
		}
	}
	set := []string{"session=b; Path=/"}
	if n := testing.AllocsPerRun(100, func() { follow("session=a", set) }); n != 0 {
		t.Errorf("replacing the one cookie allocates %.0f times", n)
	}
}
