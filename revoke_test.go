package cookiesession

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRevocationsCheck(t *testing.T) {
	rv := NewRevocations()
	destroyed, renewed, other := newSessionID(), newSessionID(), newSessionID()
	rv.Add(Revocation{ID: destroyed, At: t0, Until: t0.Add(time.Hour)})
	rv.Add(Revocation{ID: renewed, At: t0.Add(RenewGrace), Until: t0.Add(time.Hour)})
	rv.Add(Revocation{Subject: "ada", At: t0, Until: t0.Add(24 * time.Hour)})
	tests := []struct {
		name    string
		id      SessionID
		subject string
		created time.Time
		now     time.Time
		revoked bool
	}{
		{"destroyed, at once", destroyed, "", t0.Add(-time.Hour), t0, true},
		{"destroyed, until its deadline", destroyed, "", t0.Add(-time.Hour), t0.Add(59 * time.Minute), true},
		{"destroyed, entry expired", destroyed, "", t0.Add(-time.Hour), t0.Add(time.Hour), false},
		{"renewed, within the grace", renewed, "", t0, t0.Add(RenewGrace - time.Second), false},
		{"renewed, after the grace", renewed, "", t0, t0.Add(RenewGrace), true},
		{"another id", other, "", t0, t0, false},
		{"subject, created before", other, "ada", t0.Add(-time.Minute), t0.Add(time.Minute), true},
		{"subject, created in the same second", other, "ada", t0, t0.Add(time.Minute), true},
		{"subject, created after", other, "ada", t0.Add(time.Second), t0.Add(time.Minute), false},
		{"another subject", other, "bob", t0.Add(-time.Minute), t0.Add(time.Minute), false},
		{"no subject", other, "", t0.Add(-time.Minute), t0.Add(time.Minute), false},
	}
	for _, tt := range tests {
		err := rv.Check(tt.id, tt.subject, tt.created, tt.now)
		if tt.revoked != (err != nil) || (err != nil && !errors.Is(err, ErrRevoked)) {
			t.Errorf("%s: err = %v, want revoked %v", tt.name, err, tt.revoked)
		}
	}
	// A second revocation of the same id widens the entry: Destroy after
	// Renew's grace began revokes at once.
	rv.Add(Revocation{ID: renewed, At: t0, Until: t0.Add(2 * time.Hour)})
	if err := rv.Check(renewed, "", t0, t0.Add(90*time.Minute)); !errors.Is(err, ErrRevoked) {
		t.Errorf("after a second revocation: err = %v", err)
	}
	var n int
	rv.Range(t0, func(Revocation) bool { n++; return true })
	if n != 3 || rv.Len() != 3 {
		t.Errorf("Range saw %d entries, Len %d; want 3", n, rv.Len())
	}
}

// Entries are forgotten once they expire, so memory follows the
// revocations of one session lifetime, not all there ever were.
func TestRevocationsForgetExpiredEntries(t *testing.T) {
	rv := NewRevocations()
	at := t0
	for i := range 100_000 {
		at = t0.Add(time.Duration(i) * time.Second)
		rv.Add(Revocation{ID: newSessionID(), At: at, Until: at.Add(time.Hour)})
	}
	// 3600 entries are live at the end; the sweep keeps the expired ones
	// a small share of the rest.
	if n := rv.Len(); n > 2*3600 {
		t.Errorf("%d entries held, of which 3600 are live", n)
	}
	live := 0
	rv.Range(at, func(Revocation) bool { live++; return true })
	if live != 3600 {
		t.Errorf("Range saw %d live entries, want 3600", live)
	}
}

// revocationFixture is a Manager with a subject, and the handlers of a
// small app: sign in as ?user=, sign out, renew, read.
type revocationFixture struct {
	clock                      *testClock
	m                          *Manager[user]
	login, logout, read, write http.Handler
}

func newRevocationFixture(t *testing.T, opts ...Option) *revocationFixture {
	f := &revocationFixture{clock: newClock()}
	opts = append([]Option{WithSubject(func(u user) string { return u.Name })}, opts...)
	f.m = newTestManager[user](t, f.clock, opts...)
	f.login = handle(f.m, func(s *Session[user]) { s.Renew(); s.Data.Name = "ada" })
	f.logout = handle(f.m, func(s *Session[user]) { s.Destroy() })
	f.read = handle(f.m, func(s *Session[user]) {})
	f.write = handle(f.m, func(s *Session[user]) { s.Data.N++ })
	return f
}

// replay sends cookies copied earlier and returns the session it got.
func (f *revocationFixture) replay(t *testing.T, cookies string) (*Session[user], *httptest.ResponseRecorder) {
	t.Helper()
	var s *Session[user]
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", cookies)
	rec := httptest.NewRecorder()
	handle(f.m, func(got *Session[user]) { s = got }).ServeHTTP(rec, req)
	return s, rec
}

func TestDestroyRevokesCopies(t *testing.T) {
	f := newRevocationFixture(t)
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	b.do(f.write, "POST", "/")
	copied := b.header()
	b.do(f.logout, "POST", "/logout")
	if len(b.cookies) != 0 {
		t.Fatalf("after Destroy the browser holds %v", keys(b.cookies))
	}
	s, rec := f.replay(t, copied)
	if !s.IsNew() || !errors.Is(s.Err(), ErrRevoked) || s.Data.Name != "" {
		t.Fatalf("the copied cookie after sign-out: new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
	}
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("the revoked cookie was not cleared: %q", rec.Header().Values("Set-Cookie"))
	}
	// Still refused at the end of the session's lifetime, and forgotten
	// once the cookie has expired anyway.
	f.clock.Advance(DefaultMaxAge - time.Minute)
	if s, _ := f.replay(t, copied); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("near the end of its lifetime: err %v", s.Err())
	}
	f.clock.Advance(time.Minute)
	if s, _ := f.replay(t, copied); !errors.Is(s.Err(), ErrExpired) {
		t.Errorf("after its lifetime: err %v", s.Err())
	}
}

// Renew gives the session a new id and revokes the old one after
// RenewGrace: the cookie from before a sign-in is refused once it passed.
func TestRenewRevokesTheOldIDAfterAGrace(t *testing.T) {
	f := newRevocationFixture(t)
	b := newBrowser(t)
	var before, after SessionID
	b.do(handle(f.m, func(s *Session[user]) { s.Data.N = 1; before = s.ID() }), "GET", "/")
	anonymous := b.header()
	b.do(f.login, "POST", "/login")
	b.do(handle(f.m, func(s *Session[user]) { after = s.ID() }), "GET", "/")
	if before == after || after == (SessionID{}) {
		t.Fatalf("ids %v then %v: Renew kept the id", before, after)
	}
	f.clock.Advance(RenewGrace - time.Second)
	if s, _ := f.replay(t, anonymous); s.IsNew() {
		t.Errorf("within the grace, the pre-sign-in cookie did not open: %v", s.Err())
	}
	f.clock.Advance(time.Second)
	if s, _ := f.replay(t, anonymous); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("after the grace, the pre-sign-in cookie: err %v", s.Err())
	}
	if s, _ := f.replay(t, b.header()); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("the signed-in cookie: new %v, err %v", s.IsNew(), s.Err())
	}
}

// A request that started before another request's Renew and writes after
// it must not hand the browser back the replaced cookie, which would sign
// the user out once the grace is over: its change is not written, and the
// error handler hears why.
func TestAConcurrentRenewIsNotUndone(t *testing.T) {
	var hookErr error
	f := newRevocationFixture(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	b := newBrowser(t)
	b.do(f.write, "GET", "/")
	stale := b.header()

	// The slow request opens the session, the sign-in happens meanwhile,
	// then the slow request writes.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", stale)
	slow := f.m.Load(req)
	b.do(f.login, "POST", "/login")
	slow.Data.N = 99
	rec := httptest.NewRecorder()
	if err := f.m.Save(rec, slow); err != nil {
		t.Fatal(err)
	}
	if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
		t.Errorf("the slow request re-issued the replaced session: %q", set)
	}
	if !errors.Is(hookErr, ErrReplaced) {
		t.Errorf("error handler heard %v, want ErrReplaced", hookErr)
	}
	f.clock.Advance(RenewGrace)
	if s, _ := f.replay(t, b.header()); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("after the grace, the browser's cookie: new %v, err %v", s.IsNew(), s.Err())
	}
}

func TestSignOutEverywhere(t *testing.T) {
	f := newRevocationFixture(t)
	phone, laptop, bob := newBrowser(t), newBrowser(t), newBrowser(t)
	phone.do(f.login, "POST", "/login")
	laptop.do(f.login, "POST", "/login")
	bob.do(handle(f.m, func(s *Session[user]) { s.Renew(); s.Data.Name = "bob" }), "POST", "/login")
	f.clock.Advance(time.Hour)
	if err := f.m.SignOutEverywhere(context.Background(), "ada"); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]*browser{"phone": phone, "laptop": laptop} {
		if s, _ := f.replay(t, b.header()); !errors.Is(s.Err(), ErrRevoked) {
			t.Errorf("%s: err %v, want ErrRevoked", name, s.Err())
		}
	}
	if s, _ := f.replay(t, bob.header()); s.IsNew() || s.Data.Name != "bob" {
		t.Errorf("another user was signed out: err %v", s.Err())
	}
	// Signing in again, a second later, works.
	f.clock.Advance(time.Second)
	phone.do(f.login, "POST", "/login")
	if s, _ := f.replay(t, phone.header()); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("signing in again: new %v, err %v", s.IsNew(), s.Err())
	}

	noSubject := newTestManager[user](t, f.clock)
	if err := noSubject.SignOutEverywhere(context.Background(), "ada"); err == nil || !strings.Contains(err.Error(), "WithSubject") {
		t.Errorf("without WithSubject: err %v", err)
	}
	off := newTestManager[user](t, f.clock, WithRevocation(nil), WithSubject(func(u user) string { return u.Name }))
	if err := off.SignOutEverywhere(context.Background(), "ada"); err == nil {
		t.Error("without a store: no error")
	}
	if _, err := New[user](mustKeyring(t, testSecret(1)), WithSubject(func(u map[string]string) string { return "" })); err == nil ||
		!strings.Contains(err.Error(), "WithSubject was given") {
		t.Errorf("a subject function of another type: err %v", err)
	}
}

// failingStore refuses every revocation, as a store cut off from its
// shared backend does.
type failingStore struct{ *Revocations }

func (failingStore) Revoke(context.Context, Revocation) error {
	return errors.New("backend unreachable")
}

// A revocation that cannot be stored is reported, never silent, and the
// response still clears the cookie.
func TestRevocationFailureIsLoud(t *testing.T) {
	var hookErr error
	f := newRevocationFixture(t, WithRevocation(failingStore{NewRevocations()}),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	b := newBrowser(t)
	b.do(f.write, "GET", "/")
	rec := b.do(f.logout, "POST", "/logout")
	if !errors.Is(hookErr, ErrRevocationFailed) || !strings.Contains(hookErr.Error(), "backend unreachable") {
		t.Errorf("error handler heard %v", hookErr)
	}
	if rec.Code != http.StatusOK || len(b.cookies) != 0 {
		t.Errorf("status %d, browser keeps %v", rec.Code, keys(b.cookies))
	}
	if err := f.m.SignOutEverywhere(context.Background(), "ada"); !errors.Is(err, ErrRevocationFailed) {
		t.Errorf("SignOutEverywhere: err %v", err)
	}
}

func TestRevocationCanBeTurnedOff(t *testing.T) {
	f := newRevocationFixture(t, WithRevocation(nil))
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	copied := b.header()
	b.do(f.logout, "POST", "/logout")
	if s, _ := f.replay(t, copied); s.IsNew() {
		t.Errorf("without revocation a copy still opens until it expires; got err %v", s.Err())
	}
}

// A cookie written before sessions had ids gets one derived from the
// cookie itself: the same each time it opens, so that a sign-out revokes
// the copies of it too.
func TestCookiesWithoutAnIDCanBeRevoked(t *testing.T) {
	b, err := os.ReadFile("testdata/compat/struct.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx compatFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	keys, err := ParseKeyring(fx.Keys)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New[compatUser](keys, WithClock(func() time.Time { return fx.Now }))
	if err != nil {
		t.Fatal(err)
	}
	load := func() *Session[compatUser] {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", fx.Cookie)
		return m.Load(req)
	}
	first, second := load(), load()
	if first.IsNew() || first.ID() != second.ID() {
		t.Fatalf("opened twice: ids %v and %v (err %v)", first.ID(), second.ID(), first.Err())
	}
	first.Destroy()
	if err := m.Save(httptest.NewRecorder(), first); err != nil {
		t.Fatal(err)
	}
	if s := load(); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("the cookie after its session was destroyed: err %v", s.Err())
	}
}

// The request path's check is a map lookup under a read lock, measured
// with a million revoked entries. "request" serves a read-only request
// with and without revocation in the same run (extra-ns/op is the median
// difference of interleaved rounds, within the noise of a request's
// microseconds); "lookup" times the check alone, for ids that are not
// revoked, against an empty store.
func BenchmarkRevocationCheck(b *testing.B) {
	rv := NewRevocations()
	now := time.Now()
	for range 1_000_000 {
		rv.Add(Revocation{ID: newSessionID(), At: now, Until: now.Add(time.Hour)})
	}
	rv.Add(Revocation{Subject: "someone else", At: now, Until: now.Add(time.Hour)})
	b.Run("request", func(b *testing.B) {
		with := benchReadRequest(b, WithRevocation(rv), WithSubject(func(t typical) string { return t.Name }))
		without := benchReadRequest(b, WithRevocation(nil))
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			with()
		}
		b.StopTimer()
		b.ReportMetric(interleavedDiff(b.N, with, without), "extra-ns/op")
		b.ReportMetric(testing.AllocsPerRun(100, with)-testing.AllocsPerRun(100, without), "extra-allocs/op")
	})
	b.Run("lookup", func(b *testing.B) {
		ids := make([]SessionID, 4096)
		for i := range ids {
			ids[i] = newSessionID()
		}
		empty := NewRevocations()
		i := 0
		check := func(store *Revocations) func() {
			return func() {
				if store.Check(ids[i%len(ids)], "ada", now, now) != nil {
					b.Fatal("revoked")
				}
				i++
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			check(rv)()
		}
		b.StopTimer()
		b.ReportMetric(interleavedDiff(b.N, check(rv), check(empty)), "extra-ns/op")
	})
}

// benchReadRequest returns a function that serves one read-only request,
// with the typical session's cookie, through a Manager with opts.
func benchReadRequest(b *testing.B, opts ...Option) func() {
	m, err := New[typical](mustKeyring(b, testSecret(1)), opts...)
	if err != nil {
		b.Fatal(err)
	}
	seed := httptest.NewRecorder()
	handle(m, func(s *Session[typical]) { s.Data = newTypical() }).ServeHTTP(seed, httptest.NewRequest("GET", "/", nil))
	c := seed.Result().Cookies()[0]
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", c.Name+"="+c.Value)
	h := handle(m, func(s *Session[typical]) { _ = s.Data.Name })
	return func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if len(rec.Header()["Set-Cookie"]) != 0 {
			b.Fatal("a read-only request set a cookie")
		}
	}
}

// interleavedDiff times a and b for n calls each, in 10 rounds that
// alternate them, and returns the median of the rounds' differences in
// ns per call: a burst of load from elsewhere weighs on both alike.
func interleavedDiff(n int, a, b func()) float64 {
	const rounds = 10
	per := max(n/rounds, 1)
	diffs := make([]float64, rounds)
	for r := range diffs {
		if r%2 == 0 {
			diffs[r] = timeLoop(per, a) - timeLoop(per, b)
		} else {
			diffs[r] = -(timeLoop(per, b) - timeLoop(per, a))
		}
	}
	slices.Sort(diffs)
	return (diffs[rounds/2-1] + diffs[rounds/2]) / 2
}

// runtimeHeap reads the bytes of live heap objects after a collection.
type runtimeHeap struct{ inUse uint64 }

func (h *runtimeHeap) read() {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	h.inUse = s.HeapAlloc
}

// BenchmarkRevocationMemory measures the heap an in-process store (and so
// a replica) takes per revoked session.
func BenchmarkRevocationMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				var before, after runtimeHeap
				before.read()
				rv := NewRevocations()
				now := time.Now()
				for range n {
					rv.Add(Revocation{ID: newSessionID(), At: now, Until: now.Add(time.Hour)})
				}
				after.read()
				b.ReportMetric(float64(after.inUse-before.inUse)/float64(n), "B/entry")
				if rv.Len() != n {
					b.Fatal(rv.Len())
				}
				runtime.KeepAlive(rv)
			}
		})
	}
}

// A session refused because revocations are unavailable is not signed out
// for good: the request gets a fresh session, and the cookie is kept.
func TestUnavailableRevocationsKeepTheCookie(t *testing.T) {
	down := false
	store := NewRevocations()
	f := newRevocationFixture(t, WithRevocation(switchStore{store, &down}))
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	down = true
	var s *Session[user]
	rec := b.do(handle(f.m, func(got *Session[user]) { s = got }), "GET", "/")
	if !s.IsNew() || !errors.Is(s.Err(), ErrRevocationsUnavailable) {
		t.Fatalf("while unavailable: new %v, err %v", s.IsNew(), s.Err())
	}
	if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
		t.Errorf("while unavailable, the response touched the cookie: %q", set)
	}
	down = false
	b.do(handle(f.m, func(got *Session[user]) { s = got }), "GET", "/")
	if s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("once available again: new %v, err %v", s.IsNew(), s.Err())
	}

	// Signing out while the store cannot tell still ends the session:
	// the cookie is deleted and its id revoked.
	copied := b.header()
	down = true
	rec = b.do(f.logout, "POST", "/logout")
	if len(b.cookies) != 0 {
		t.Errorf("signing out while unavailable left %v (Set-Cookie %q)", keys(b.cookies), rec.Header().Values("Set-Cookie"))
	}
	down = false
	if s, _ := f.replay(t, copied); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("a copy of the cookie signed out while unavailable: err %v", s.Err())
	}
}

// switchStore is a store whose Check fails closed while *down.
type switchStore struct {
	*Revocations
	down *bool
}

func (s switchStore) Check(id SessionID, subject string, created, now time.Time) error {
	if *s.down && subject != "" {
		return fmt.Errorf("%w: the replica is stale", ErrRevocationsUnavailable)
	}
	return s.Revocations.Check(id, subject, created, now)
}
