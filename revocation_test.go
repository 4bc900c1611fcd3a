package cookiesession_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// revocationFixture is a Manager with a subject, and the handlers of a
// small app: sign in as ?user=, sign out, renew, read.
type revocationFixture struct {
	clock                      *testClock
	m                          *Manager[user]
	login, logout, read, write http.Handler
}

func newRevocationFixture(t *testing.T, opts ...Option) *revocationFixture {
	return newRevocationFixtureOn(t, newClock(), opts...)
}

// newRevocationFixtureOn returns the fixture on clock, for tests whose
// store shares it.
func newRevocationFixtureOn(t *testing.T, clock *testClock, opts ...Option) *revocationFixture {
	f := &revocationFixture{clock: clock}
	opts = append([]Option{WithSubject(func(u user) string { return u.Name })}, opts...)
	f.m = newTestManager[user](t, f.clock, opts...)
	f.login = handle(f.m, func(s *Session[user]) { s.Renew(); s.Data.Name = "ada" })
	f.logout = handle(f.m, func(s *Session[user]) { s.Destroy() })
	f.read = handle(f.m, func(s *Session[user]) {})
	f.write = handle(f.m, func(s *Session[user]) { s.Data.N++ })
	return f
}

func TestDestroyRevokesCopies(t *testing.T) {
	f := newRevocationFixture(t)
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	b.do(f.write, "POST", "/")
	copied := b.header()
	b.do(f.logout, "POST", "/logout")
	if len(b.cookies) != 0 {
		t.Fatalf("after Destroy the browser holds %v", b.names())
	}
	s, rec := send(f.m, copied, nil)
	if !s.IsNew() || !errors.Is(s.Err(), ErrRevoked) || s.Data.Name != "" {
		t.Fatalf("the copied cookie after sign-out: new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
	}
	if !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("the revoked cookie was not cleared: %q", rec.Header().Values("Set-Cookie"))
	}
	// Still refused at the end of the session's lifetime, and forgotten
	// once the cookie has expired anyway.
	f.clock.Advance(DefaultMaxAge - time.Minute)
	if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("near the end of its lifetime: err %v", s.Err())
	}
	f.clock.Advance(time.Minute)
	if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrExpired) {
		t.Errorf("after its lifetime: err %v", s.Err())
	}
}

// Anonymous sessions are never stored: a flood of requests without a
// signed-in user, destroying and renewing sessions, leaves no entry.
func TestAnonymousSessionsFillNothing(t *testing.T) {
	clock := newClock()
	rv := revocation.NewReplica(clock.Now)
	f := newRevocationFixtureOn(t, clock, WithRevocation(rv))
	renew := handle(f.m, func(s *Session[user]) { s.Data.N++; s.Renew() })
	for range 1000 {
		b := newBrowser(t)
		b.do(f.write, "POST", "/")
		b.do(renew, "POST", "/")
		b.do(f.logout, "POST", "/logout")
		b.do(f.logout, "POST", "/logout") // no cookie at all
	}
	if rv.Len() != 0 {
		t.Errorf("anonymous requests left %d entries", rv.Len())
	}
	// A signed-in user's sign-out is one entry.
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	b.do(f.logout, "POST", "/logout")
	if rv.Len() != 1 {
		t.Errorf("one sign-out left %d entries", rv.Len())
	}
}

// Renew gives the session a new id. The cookie from before a sign-in was
// anonymous, and its copy stays anonymous: it grants nothing. The cookie
// a signed-in session renews (a change of privilege) opens read-only for
// RenewGrace, for requests in flight, and is refused after.
func TestRenewRevokesTheOldID(t *testing.T) {
	var hookErr error
	f := newRevocationFixture(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	b := newBrowser(t)
	var before, after SessionID
	b.do(handle(f.m, func(s *Session[user]) { s.Data.N = 1; before = s.ID() }), "GET", "/")
	anonymous := b.header()
	b.do(f.login, "POST", "/login")
	b.do(handle(f.m, func(s *Session[user]) { after = s.ID() }), "GET", "/")
	if before == after || after == (SessionID{}) {
		t.Fatalf("ids %v then %v: Renew kept the id", before, after)
	}
	if s, _ := send(f.m, anonymous, nil); s.Data.Name != "" {
		t.Errorf("the pre-sign-in cookie opened as %q", s.Data.Name)
	}

	// A change of privilege renews the signed-in session.
	signedIn := b.header()
	b.do(handle(f.m, func(s *Session[user]) { s.Renew() }), "POST", "/sudo")
	f.clock.Advance(RenewGrace - time.Second)
	s, rec := send(f.m, signedIn, nil)
	if s.IsNew() || s.Data.Name != "ada" || len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("within the grace, the replaced cookie: new %v, err %v, Set-Cookie %q", s.IsNew(), s.Err(), rec.Header().Values("Set-Cookie"))
	}
	f.clock.Advance(time.Second)
	if s, _ := send(f.m, signedIn, nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("after the grace, the replaced cookie: err %v", s.Err())
	}
	if s, _ := send(f.m, b.header(), nil); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("the renewed cookie: new %v, err %v", s.IsNew(), s.Err())
	}
	if hookErr != nil {
		t.Errorf("error handler heard %v", hookErr)
	}
}

// Within the grace the replaced cookie is read-only: a thief holding it
// cannot renew it into a session that outlives the sign-out, nor change
// it, however quickly it acts. The error handler hears why, once: the
// change was made before the response was written, and is not reported
// as made after it too.
func TestTheGraceMintsNoSession(t *testing.T) {
	var heard []error
	f := newRevocationFixture(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { heard = append(heard, err) }))
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	stolen := b.header()
	b.do(handle(f.m, func(s *Session[user]) { s.Renew() }), "POST", "/sudo")
	for _, h := range []http.Handler{
		handle(f.m, func(s *Session[user]) { s.Renew() }),
		f.login,
		f.write,
	} {
		heard = nil
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("Cookie", stolen)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
			t.Errorf("the replaced cookie was written again within the grace: %q", set)
		}
		if len(heard) != 1 || !errors.Is(heard[0], ErrReplaced) {
			t.Errorf("error handler heard %v, want ErrReplaced once", heard)
		}
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
	b.do(f.login, "POST", "/login")
	stale := b.header()

	// The slow request opens the session, a renewal happens meanwhile,
	// then the slow request writes.
	slow := load(f.m, stale)
	b.do(handle(f.m, func(s *Session[user]) { s.Renew() }), "POST", "/sudo")
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
	if s, _ := send(f.m, b.header(), nil); s.IsNew() || s.Data.Name != "ada" {
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
		if s, _ := send(f.m, b.header(), nil); !errors.Is(s.Err(), ErrRevoked) {
			t.Errorf("%s: err %v, want ErrRevoked", name, s.Err())
		}
	}
	if s, _ := send(f.m, bob.header(), nil); s.IsNew() || s.Data.Name != "bob" {
		t.Errorf("another user was signed out: err %v", s.Err())
	}
	// Signing in again works at once, in the same second.
	phone.do(f.login, "POST", "/login")
	if s, _ := send(f.m, phone.header(), nil); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("signing in again: new %v, err %v", s.IsNew(), s.Err())
	}
	// And a second sign-out-everywhere ends that session too.
	if err := f.m.SignOutEverywhere(context.Background(), "ada"); err != nil {
		t.Fatal(err)
	}
	if s, _ := send(f.m, phone.header(), nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("after the second sign-out: err %v", s.Err())
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
	if _, err := New[user](mustKeyring(t, testSecret(1)), WithRevocation(revocation.NewReplica(nil))); err == nil ||
		!strings.Contains(err.Error(), "WithSubject") {
		t.Errorf("a store without WithSubject: err %v", err)
	}
}

// Instances sharing a store refuse what another revoked whatever their
// clocks say, within the ClockSkew that cookies accept (a minute apart, and
// nearly two): a destroyed copy at once, and a session that an instance
// with a fast clock started just before a sign-out-everywhere on one with
// a slow clock.
func TestRevocationDoesNotDependOnClocks(t *testing.T) {
	for _, skew := range []time.Duration{-61 * time.Second, 61 * time.Second, -(ClockSkew - time.Second), ClockSkew - time.Second} {
		t.Run(skew.String(), func(t *testing.T) {
			clock := newClock()
			store := revocation.NewReplica(clock.Now)
			here := newRevocationFixtureOn(t, clock, WithRevocation(store))
			there := newRevocationFixtureOn(t, newClockAt(t0.Add(skew)), WithRevocation(store))

			b := newBrowser(t)
			b.do(here.login, "POST", "/login")
			copied := b.header()
			b.do(handle(there.m, func(s *Session[user]) { s.Destroy() }), "POST", "/logout")
			for name, f := range map[string]*revocationFixture{"here": here, "there": there} {
				if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
					t.Errorf("%s, a destroyed copy: err %v", name, s.Err())
				}
			}

			laptop := newBrowser(t)
			laptop.do(handle(there.m, func(s *Session[user]) { s.Renew(); s.Data.Name = "ada" }), "POST", "/login")
			if err := here.m.SignOutEverywhere(context.Background(), "ada"); err != nil {
				t.Fatal(err)
			}
			for name, f := range map[string]*revocationFixture{"here": here, "there": there} {
				if s, _ := send(f.m, laptop.header(), nil); !errors.Is(s.Err(), ErrRevoked) {
					t.Errorf("%s, signed out everywhere: err %v", name, s.Err())
				}
			}
		})
	}
}

// What one user does is bounded: past MaxRevokedSessions sign-outs, one
// generation replaces the ids, every copy stays refused, and the device
// that renewed at the cap stays signed in.
func TestRevocationsPerSubjectAreCapped(t *testing.T) {
	clock := newClock()
	rv := revocation.NewReplica(clock.Now)
	f := newRevocationFixtureOn(t, clock, WithRevocation(rv))
	var copies []string
	for range MaxRevokedSessions {
		b := newBrowser(t)
		b.do(f.login, "POST", "/login")
		copies = append(copies, b.header())
		b.do(f.logout, "POST", "/logout")
	}
	if rv.Len() != MaxRevokedSessions {
		t.Fatalf("%d sign-outs left %d entries", MaxRevokedSessions, rv.Len())
	}
	last := newBrowser(t)
	last.do(f.login, "POST", "/login")
	copies = append(copies, last.header())
	last.do(handle(f.m, func(s *Session[user]) { s.Renew() }), "POST", "/sudo")
	if gen, n := rv.Generation("ada"); rv.Len() != 1 || gen == 0 || n != 0 {
		t.Errorf("past the cap: %d entries, generation %d, %d ids", rv.Len(), gen, n)
	}
	for i, c := range copies {
		if s, _ := send(f.m, c, nil); !errors.Is(s.Err(), ErrRevoked) {
			t.Errorf("copy %d: err %v", i, s.Err())
		}
	}
	if s, _ := send(f.m, last.header(), nil); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("the device that renewed at the cap: new %v, err %v", s.IsNew(), s.Err())
	}
}

// failingStore refuses revocations, as a store cut off from its shared
// backend does: all of them, or while *down is set.
type failingStore struct {
	*revocation.Replica
	down *bool
}

func (s failingStore) Revoke(ctx context.Context, subject string, r revocation.Revoked) error {
	if s.down == nil || *s.down {
		return errors.New("backend unreachable")
	}
	return s.Replica.Revoke(ctx, subject, r)
}

// A revocation that cannot be stored is reported, once, never silent, and
// the response still clears the cookie; also when the handler saves the
// session itself before the middleware's end.
func TestRevocationFailureIsLoud(t *testing.T) {
	var hookErrs []error
	f := newRevocationFixture(t, WithRevocation(failingStore{Replica: revocation.NewReplica(nil)}),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErrs = append(hookErrs, err) }))
	saved := f.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := f.m.Get(r)
		s.Destroy()
		if err := f.m.Save(w, s); err != nil {
			t.Errorf("Save: %v", err)
		}
	}))
	for _, logout := range []http.Handler{f.logout, saved} {
		hookErrs = nil
		b := newBrowser(t)
		b.do(f.login, "POST", "/login")
		rec := b.do(logout, "POST", "/logout")
		if len(hookErrs) != 1 || !errors.Is(hookErrs[0], ErrRevocationFailed) || !strings.Contains(hookErrs[0].Error(), "backend unreachable") {
			t.Errorf("error handler heard %v, want one ErrRevocationFailed", hookErrs)
		}
		if rec.Code != http.StatusOK || len(b.cookies) != 0 {
			t.Errorf("status %d, browser keeps %v", rec.Code, b.names())
		}
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
	if s, _ := send(f.m, copied, nil); s.IsNew() {
		t.Errorf("without revocation a copy still opens until it expires; got err %v", s.Err())
	}
}

// A cookie written before sessions had ids cannot be told from its other
// copies, written earlier or later: destroying the session ends them all.
func TestCookiesWithoutAnIDEndTogether(t *testing.T) {
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
	m, err := New[compatUser](keys, WithClock(newClockAt(fx.Now).Now), quiet,
		WithSubject(func(u compatUser) string { return u.Name }))
	if err != nil {
		t.Fatal(err)
	}
	// A later version of the session: a change sealed by this release.
	s := load(m, fx.Cookie)
	if s.IsNew() || s.ID() != (SessionID{}) {
		t.Fatalf("the old cookie: new %v, id %v, err %v", s.IsNew(), s.ID(), s.Err())
	}
	s.Data.Visits++
	rec := httptest.NewRecorder()
	if err := m.Save(rec, s); err != nil {
		t.Fatal(err)
	}
	later := rec.Result().Cookies()[0]
	s = load(m, later.Name+"="+later.Value)
	if s.IsNew() || s.Data.Visits != 8 {
		t.Fatalf("the later cookie: new %v, err %v", s.IsNew(), s.Err())
	}
	s.Destroy()
	if err := m.Save(httptest.NewRecorder(), s); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]string{"earlier": fx.Cookie, "later": later.Name + "=" + later.Value} {
		if s := load(m, c); !errors.Is(s.Err(), ErrRevoked) {
			t.Errorf("the %s copy after Destroy: err %v", name, s.Err())
		}
	}
}

// A session refused because revocations are unavailable is not signed out
// for good: the request gets a fresh session, and the cookie is kept.
func TestUnavailableRevocationsKeepTheCookie(t *testing.T) {
	down := false
	clock := newClock()
	store := revocation.NewReplica(clock.Now)
	f := newRevocationFixtureOn(t, clock, WithRevocation(switchStore{store, &down}))
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
		t.Errorf("signing out while unavailable left %v (Set-Cookie %q)", b.names(), rec.Header().Values("Set-Cookie"))
	}
	down = false
	if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("a copy of the cookie signed out while unavailable: err %v", s.Err())
	}
}

// switchStore is a store whose Check fails closed while *down.
type switchStore struct {
	*revocation.Replica
	down *bool
}

func (s switchStore) Check(subject string, id SessionID, gen uint64, now time.Time) error {
	if *s.down && subject != "" {
		return fmt.Errorf("%w: the replica is stale", ErrRevocationsUnavailable)
	}
	return s.Replica.Check(subject, id, gen, now)
}

// A sign-out made on an instance that has not yet heard of a sign-out
// everywhere is filed under the generation the cookie carries, so that
// merging the two keeps it on every instance.
func TestASignOutOnALaggingInstanceIsKept(t *testing.T) {
	clock := newClock()
	ra, rb := revocation.NewReplica(clock.Now), revocation.NewReplica(clock.Now)
	a := newRevocationFixtureOn(t, clock, WithRevocation(ra))
	b := newRevocationFixtureOn(t, clock, WithRevocation(rb))
	if err := a.m.SignOutEverywhere(context.Background(), "ada"); err != nil {
		t.Fatal(err)
	}
	ada := newBrowser(t)
	ada.do(a.login, "POST", "/login") // sealed with a's new generation
	stolen := ada.header()
	ada.do(b.logout, "POST", "/logout") // b has not heard of it
	exchange := func(from, to *revocation.Replica) {
		from.Range(func(subject string, r revocation.Revoked) bool { to.Add(subject, r, clock.Now()); return true })
	}
	exchange(ra, rb)
	exchange(rb, ra)
	for name, f := range map[string]*revocationFixture{"a": a, "b": b} {
		if s, _ := send(f.m, stolen, nil); !errors.Is(s.Err(), ErrRevoked) {
			t.Errorf("instance %s opens the signed-out copy: err %v, data %+v", name, s.Err(), s.Data)
		}
	}
}

// A cookie within its read-only grace cannot become a new signed-in
// session through Destroy either, as an application that rotates ids by
// destroying and setting the data again would do: the copy ends, and
// mints nothing.
func TestTheGraceMintsNoSessionThroughDestroy(t *testing.T) {
	var heard []error
	f := newRevocationFixture(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { heard = append(heard, err) }))
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	stolen := b.header()
	b.do(handle(f.m, func(s *Session[user]) { s.Renew() }), "POST", "/sudo")
	rotate := handle(f.m, func(s *Session[user]) { d := s.Data; s.Destroy(); s.Data = d })
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set("Cookie", stolen)
	rec := httptest.NewRecorder()
	rotate.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 {
			t.Errorf("the copy in its grace got a cookie: %s", c.Name)
		}
	}
	if len(heard) != 1 || !errors.Is(heard[0], ErrReplaced) {
		t.Errorf("error handler heard %v, want ErrReplaced once", heard)
	}
	if s, _ := send(f.m, stolen, nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("the copy after it was destroyed: err %v", s.Err())
	}
}

// A Destroy that comes after the response headers went out (a handler that
// streams, or signs out before a WebSocket upgrade) cannot delete the
// cookie, and says so, but still ends the session: its id is revoked.
func TestDestroyAfterTheHeadersStillRevokes(t *testing.T) {
	var heard []error
	f := newRevocationFixture(t, WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { heard = append(heard, err) }))
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	copied := b.header()
	b.do(f.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := f.m.Get(r)
		w.WriteHeader(http.StatusOK)
		s.Destroy()
	})), "POST", "/logout")
	if len(heard) != 1 || !errors.Is(heard[0], ErrChangeAfterCommit) {
		t.Errorf("error handler heard %v, want ErrChangeAfterCommit", heard)
	}
	if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("the session destroyed after the headers: err %v", s.Err())
	}
}

// Destroy wins over a Renew that follows it: the session ends at once,
// and a copy of its cookie gets no RenewGrace.
func TestRenewAfterDestroyStillDestroys(t *testing.T) {
	f := newRevocationFixture(t)
	b := newBrowser(t)
	b.do(f.login, "POST", "/login")
	copied := b.header()
	b.do(handle(f.m, func(s *Session[user]) { s.Destroy(); s.Renew() }), "POST", "/logout")
	if len(b.cookies) != 0 {
		t.Errorf("after Destroy then Renew the browser holds %v", b.names())
	}
	if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) || s.Data.Name != "" {
		t.Errorf("a copy of the cookie after Destroy then Renew: err %v, data %+v; want ErrRevoked at once", s.Err(), s.Data)
	}
}

// A revocation is kept until the session it names has expired on every
// instance whose clock is within ClockSkew: one behind still refuses a
// copy that it would otherwise accept for a little longer.
func TestARevocationOutlivesTheSessionOnLaggingClocks(t *testing.T) {
	ahead, behind := newClock(), newClock()
	ahead.Advance(ClockSkew / 2)
	store := revocation.NewReplica(ahead.Now)
	a := newRevocationFixtureOn(t, ahead, WithRevocation(store))
	late := newRevocationFixtureOn(t, behind, WithRevocation(store))
	b := newBrowser(t)
	b.do(a.login, "POST", "/login")
	copied := b.header()
	b.do(a.logout, "POST", "/logout")

	// The session's lifetime is over on the instance ahead, which forgets
	// what it may; not yet on the one behind.
	ahead.Advance(DefaultMaxAge + time.Second)
	behind.Advance(DefaultMaxAge + time.Second)
	store.Sweep(ahead.Now())
	if s, _ := send(late.m, copied, nil); s.Data.Name != "" || !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("a copy of a signed-out cookie on an instance %v behind: data %+v, err %v; want ErrRevoked", ClockSkew/2, s.Data, s.Err())
	}
}
