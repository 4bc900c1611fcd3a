package benchmarks

import (
	"testing"

	"github.com/gorilla/securecookie"

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
