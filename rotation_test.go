package cookiesession_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// A cookie sealed by an older key of the ring is sealed again by the
// newest on the same response, read-only or not, so that users move to the
// new key without noticing; once it is, it is left alone.
func TestOlderKeysCookieIsSealedAgain(t *testing.T) {
	clock := newClock()
	before := newTestManager[user](t, clock)
	rotated, err := New[user](mustKeyring(t, testSecret(2), testSecret(1)), WithClock(clock.Now), WithName(FallbackName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.do(handle(before, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	clock.Advance(time.Minute)
	var s *Session[user]
	rec := b.do(handle(rotated, func(got *Session[user]) { s = got }), "GET", "/")
	if s.IsNew() || s.Data.Name != "ada" || !sets(rec) {
		t.Fatalf("a cookie of the older key: new %v (err %v), Set-Cookie %q", s.IsNew(), s.Err(), rec.Header().Values("Set-Cookie"))
	}
	// The newest key alone opens it now, and it is the same session.
	newest := mustKeyring(t, testSecret(2))
	c, key, err := newest.Open(FallbackName, rec.Result().Cookies(), clock.Now(), Limits{})
	if err != nil || key != 0 || c.ID != s.ID() || !c.Created.Equal(t0) {
		t.Errorf("after re-sealing: key %d, err %v, id %v (was %v), created %v", key, err, c.ID, s.ID(), c.Created)
	}
	if rec := b.do(handle(rotated, func(*Session[user]) {}), "GET", "/"); sets(rec) {
		t.Errorf("a cookie of the newest key was sealed again: %q", rec.Header().Values("Set-Cookie"))
	}
	// Without a change, so with Load and Save too.
	b2 := newBrowser(t)
	b2.do(handle(before, func(s *Session[user]) { s.Data.Name = "bob" }), "GET", "/")
	w := httptest.NewRecorder()
	if err := rotated.Save(w, rotated.Load(b2.request("GET", "/"))); err != nil || !sets(w) {
		t.Errorf("Save of a cookie of the older key: %v, Set-Cookie %q", err, w.Header().Values("Set-Cookie"))
	}
}

// A session runs across two instances whose
// clocks differ by less than ClockSkew, which the format allows for: a
// session created on the instance that runs ahead must be saved by the
// one that runs behind, whether its data changed or it is only re-sealed
// after a rotation.
func TestInstancesWithSkewedClocks(t *testing.T) {
	ahead, behind := newClock(), newClock()
	ahead.Advance(ClockSkew / 2)
	keys := testKeys(t)
	instance := func(clock *testClock, keys *Keyring) *Manager[user] {
		m, err := New[user](keys, WithClock(clock.Now), quiet, WithName(FallbackName))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := instance(ahead, keys), instance(behind, keys)

	br := newBrowser(t)
	br.do(handle(a, func(s *Session[user]) { s.Data.N = 1 }), "POST", "/")
	rec := br.do(handle(b, func(s *Session[user]) { s.Data.N++ }), "POST", "/")
	if rec.Code != http.StatusOK {
		t.Errorf("a change saved on the instance behind: status %d", rec.Code)
	}
	var n int
	br.do(handle(a, func(s *Session[user]) { n = s.Data.N }), "GET", "/")
	if n != 2 {
		t.Errorf("counter %d after the second request, want 2", n)
	}

	// Step 2 of a rotation on the instance behind: a read-only request
	// re-seals the session under the new key.
	rotated := instance(behind, mustKeyring(t, testSecret(2), testSecret(1)))
	br = newBrowser(t)
	br.do(handle(a, func(s *Session[user]) { s.Data.N = 1 }), "POST", "/")
	if rec := br.do(handle(rotated, func(s *Session[user]) { _ = s.Data.N }), "GET", "/"); rec.Code != http.StatusOK {
		t.Errorf("a read-only request re-sealing under the new key: status %d", rec.Code)
	}
}
