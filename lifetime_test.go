package cookiesession_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// The absolute lifetime and the idle timeout are enforced from the times
// sealed in the cookie: the browser here keeps the cookie whatever its
// Max-Age says, as a copied cookie would be replayed.
func TestExpiry(t *testing.T) {
	tests := []struct {
		name    string
		opts    []Option
		advance time.Duration
		expired bool
	}{
		{"within lifetime", []Option{WithMaxAge(time.Hour)}, 59 * time.Minute, false},
		{"past lifetime", []Option{WithMaxAge(time.Hour)}, time.Hour, true},
		{"within idle", []Option{WithIdleTimeout(10 * time.Minute)}, 9 * time.Minute, false},
		{"past idle", []Option{WithIdleTimeout(10 * time.Minute)}, 10 * time.Minute, true},
		{"within the default lifetime", nil, DefaultMaxAge - time.Second, false},
		{"past the default lifetime", nil, DefaultMaxAge, true},
		{"within the documented 24 hours", nil, 24*time.Hour - time.Second, false},
		{"past the documented 24 hours", nil, 24 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock()
			m := newTestManager[user](t, clock, tt.opts...)
			b := newBrowser(t)
			b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			clock.Advance(tt.advance)
			var s *Session[user]
			rec := b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
			if got := s.IsNew(); got != tt.expired {
				t.Fatalf("IsNew = %v, want %v (err %v)", got, tt.expired, s.Err())
			}
			if !tt.expired {
				if s.Err() != nil || s.Data.Name != "ada" {
					t.Errorf("live session: err %v, data %+v", s.Err(), s.Data)
				}
				return
			}
			if !errors.Is(s.Err(), ErrExpired) || s.Data.Name != "" {
				t.Errorf("expired session: err %v, data %+v", s.Err(), s.Data)
			}
			if !deletes(rec) || len(b.cookies) != 0 {
				t.Errorf("the expired cookie was not cleared: %q", rec.Header().Values("Set-Cookie"))
			}
		})
	}
}

func TestAbsoluteLifetimeIsNotExtendedByUse(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithMaxAge(time.Hour), WithIdleTimeout(20*time.Minute))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.N++ }), "GET", "/")
	for i := range 5 {
		clock.Advance(15 * time.Minute)
		var s *Session[user]
		b.do(handle(m, func(got *Session[user]) { s = got; s.Data.N++ }), "GET", "/")
		if wantNew := i == 3; s.IsNew() != wantNew { // then a new session starts
			t.Fatalf("after %v: IsNew = %v, want %v", time.Duration(i+1)*15*time.Minute, s.IsNew(), wantNew)
		}
	}
}

// With an idle timeout, a read-only request re-issues the cookie once a
// third of the idle window has passed since it was sealed, and only then:
// not on every request.
func TestIdleRefreshOnceAThirdHasPassed(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithIdleTimeout(time.Hour))
	read := handle(m, func(s *Session[user]) { _ = s.Data.Name })
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	for _, step := range []struct {
		advance time.Duration
		wantSet bool
		why     string
	}{
		{19 * time.Minute, false, "refreshed before a third of the idle window"},
		{2 * time.Minute, true, "not refreshed after a third of the idle window"},
		{0, false, "refreshed twice"},
		{19 * time.Minute, false, "refreshed before a third of the window since the refresh"},
		{time.Minute, true, "not refreshed a third of the window after the refresh"},
	} {
		clock.Advance(step.advance)
		if rec := b.do(read, "GET", "/"); sets(rec) != step.wantSet {
			t.Errorf("%s: Set-Cookie %q", step.why, rec.Header().Values("Set-Cookie"))
		}
	}
	// Sealed anew, the session is the same one: same id, same creation.
	var s *Session[user]
	b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
	if s.IsNew() || s.Data.Name != "ada" || !s.Created().Equal(t0) || !s.Issued().Equal(t0.Add(41*time.Minute)) {
		t.Errorf("after refreshes: new %v, data %+v, created %v, issued %v", s.IsNew(), s.Data, s.Created(), s.Issued())
	}
}

// A client that comes back at least every third of the idle window never
// loses its session, even at the shortest timeout New accepts and with
// requests at any fraction of a second; the browser (which honours
// Max-Age here) never keeps the cookie past the sealed deadline, nor drops
// it more than a second before.
func TestIdleRefreshKeepsActiveClients(t *testing.T) {
	clock := newClockAt(t0.Add(300 * time.Millisecond))
	m := newTestManager[user](t, clock, WithIdleTimeout(MinIdleTimeout))
	b := newBrowser(t).withClock(clock)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	gap := MinIdleTimeout/3 - 7*time.Millisecond
	for i := range 60 {
		clock.Advance(gap)
		var s *Session[user]
		rec := b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
		if s.IsNew() || s.Data.Name != "ada" {
			t.Fatalf("request %d, %v after the last: the session was lost (err %v, the browser held %v)", i, gap, s.Err(), b.names())
		}
		if sets(rec) {
			deadline := s.Issued().Add(MinIdleTimeout)
			if got := b.expiry("session"); got.After(deadline) || got.Before(deadline.Add(-time.Second)) {
				t.Errorf("request %d: the browser keeps the cookie until %v, the sealed deadline is %v", i, got, deadline)
			}
		}
	}
}

// The browser drops the cookie when the session's lifetime ends: Max-Age
// is what is left of the sealed deadline, never more, even where the idle
// timeout would allow longer.
func TestMaxAgeIsWhatIsLeftOfTheLifetime(t *testing.T) {
	for _, opts := range [][]Option{
		{WithMaxAge(time.Hour)},
		{WithMaxAge(time.Hour), WithIdleTimeout(45 * time.Minute)},
	} {
		clock := newClock()
		m := newTestManager[user](t, clock, opts...)
		b := newBrowser(t).withClock(clock)
		b.do(handle(m, func(s *Session[user]) { s.Data.N = 1 }), "GET", "/")
		clock.Advance(40 * time.Minute)
		b.do(handle(m, func(s *Session[user]) { s.Data.N++ }), "GET", "/")
		if got, want := b.expiry("session"), t0.Add(time.Hour); !got.Equal(want) {
			t.Errorf("%d options: the browser keeps the cookie until %v, want the end of the lifetime, %v", len(opts), got, want)
		}
		clock.Advance(20 * time.Minute)
		if len(b.names()) != 0 {
			t.Errorf("%d options: past the lifetime the browser still holds %v", len(opts), b.names())
		}
	}
}

// A new session's times are whole seconds from the start, as the cookie
// carries them: Created and Issued read the same on the next request.
func TestNewSessionTimesAreWholeSeconds(t *testing.T) {
	clock := newClockAt(t0.Add(1500 * time.Millisecond))
	m := newTestManager[user](t, clock)
	b := newBrowser(t)
	var first, second *Session[user]
	b.do(handle(m, func(s *Session[user]) { first = s; s.Data.Name = "ada" }), "GET", "/")
	b.do(handle(m, func(s *Session[user]) { second = s }), "GET", "/")
	if second.IsNew() {
		t.Fatalf("the session did not come back: %v", second.Err())
	}
	if !first.Created().Equal(second.Created()) || !first.Issued().Equal(second.Issued()) {
		t.Errorf("new session: created %v, issued %v; next request: created %v, issued %v",
			first.Created(), first.Issued(), second.Created(), second.Issued())
	}
	if want := t0.Add(2 * time.Second); !first.Created().Equal(want) {
		t.Errorf("Created = %v, want %v (whole seconds, rounded up)", first.Created(), want)
	}
}

// A lifetime longer than a cookie can carry (WithMaxAge of math.MaxInt64
// for "never", or of 280 years) still keeps its sessions, as before
// cookies carried one: the cookie carries the longest it can.
func TestLifetimesPastWhatACookieCarries(t *testing.T) {
	for _, maxAge := range []time.Duration{280 * 365 * 24 * time.Hour, math.MaxInt64} {
		var heard errorLog
		m := newTestManager[user](t, newClock(), WithMaxAge(maxAge), heard.option())
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
		if err := heard.take(); err != nil {
			t.Errorf("WithMaxAge(%v): the save failed: %v", maxAge, err)
		}
		if rec := b.do(handle[user](m, nil), "GET", "/"); sets(rec) {
			t.Errorf("WithMaxAge(%v): a read-only request wrote the cookie again", maxAge)
		}
		if s, _ := send(m, b.header(), nil); s.IsNew() || s.Data.Name != "ada" {
			t.Errorf("WithMaxAge(%v): the session did not open back: new %v, err %v", maxAge, s.IsNew(), s.Err())
		}
	}
}

// A cookie carries the lifetime it was sealed under, and a Manager with a
// longer WithMaxAge does not extend it. Otherwise raising the lifetime
// brings signed-out copies back: the revocation is forgotten once the
// sessions it names have expired under the old lifetime, and the copy
// would then open under the new one.
func TestRaisingTheLifetimeBringsNoSignedOutCopyBack(t *testing.T) {
	clock := newClock()
	day := newRevocationFixtureOn(t, clock, WithMaxAge(24*time.Hour))
	b := newBrowser(t)
	b.do(day.login, "POST", "/login")
	copied := b.header()
	b.do(day.logout, "POST", "/logout")

	// A day and more later the revocation is gone (here: a new instance,
	// whose in-process store never held it), and the lifetime is 30 days.
	clock.Advance(24*time.Hour + ClockSkew + time.Second)
	month := newRevocationFixtureOn(t, clock, WithMaxAge(30*24*time.Hour))
	if s, _ := send(month.m, copied, nil); !s.IsNew() || s.Data.Name != "" || !errors.Is(s.Err(), ErrExpired) {
		t.Errorf("a signed-out copy under a longer lifetime: new %v, data %+v, err %v; want ErrExpired", s.IsNew(), s.Data, s.Err())
	}
}

// A session that is still live takes a longer lifetime at once: its first
// request under the new WithMaxAge seals it again, read-only or not. A
// shorter one holds from the first request too, without a write.
func TestChangingTheLifetimeTakesEffectOnLiveSessions(t *testing.T) {
	clock := newClock()
	day := newRevocationFixtureOn(t, clock, WithMaxAge(24*time.Hour))
	month := newRevocationFixtureOn(t, clock, WithMaxAge(30*24*time.Hour))
	hour := newRevocationFixtureOn(t, clock, WithMaxAge(time.Hour))
	b := newBrowser(t)
	b.do(day.login, "POST", "/login")
	if sets(b.do(day.read, "GET", "/")) {
		t.Error("a read-only request under the same lifetime wrote the cookie")
	}
	clock.Advance(time.Minute)
	if rec := b.do(month.read, "GET", "/"); !sets(rec) {
		t.Error("a read-only request under a longer lifetime did not seal the session again")
	}
	clock.Advance(24 * time.Hour)
	if s, _ := send(month.m, b.header(), nil); s.IsNew() || s.Data.Name != "ada" {
		t.Errorf("a day later, under the longer lifetime: new %v, err %v", s.IsNew(), s.Err())
	}
	if s, _ := send(hour.m, b.header(), nil); !errors.Is(s.Err(), ErrExpired) {
		t.Errorf("under a shorter lifetime: err %v; want ErrExpired", s.Err())
	}
}

// A read-only request writes the cookie again only when the lifetime it
// carries differs from the Manager's, in whole seconds: a cookie of an
// earlier release, which carries none, is left as it is, and so is one
// sealed under a WithMaxAge that is not whole seconds. One sealed under a
// longer WithMaxAge is sealed again under the shorter one, which then
// holds wherever it is read.
func TestReadOnlyRequestsSealAgainOnlyForAnotherLifetime(t *testing.T) {
	clock := newClock()
	read := func(m *Manager[user], b *browser) bool {
		t.Helper()
		rec := b.do(handle(m, func(s *Session[user]) {
			if s.Data.Name != "ada" {
				t.Errorf("the session did not open: %v", s.Err())
			}
		}), "GET", "/")
		return sets(rec)
	}
	login := func(m *Manager[user]) *browser {
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/login")
		return b
	}

	earlier := newBrowser(t)
	earlier.cookies[FallbackName] = earlierReleaseCookie(t)
	if read(newTestManager[user](t, clock), earlier) {
		t.Error("a cookie of an earlier release, without a lifetime, was written again")
	}

	fraction := newTestManager[user](t, clock, WithMaxAge(time.Hour+time.Second/2))
	if read(fraction, login(fraction)) {
		t.Error("under a WithMaxAge that is not whole seconds, a read-only request wrote the cookie again")
	}

	day := newTestManager[user](t, clock, WithMaxAge(24*time.Hour))
	hour := newTestManager[user](t, clock, WithMaxAge(time.Hour))
	b := login(day)
	if !read(hour, b) {
		t.Error("a cookie sealed under a day, read under an hour, was not sealed again")
	}
	clock.Advance(time.Hour)
	if s, _ := send(day, b.header(), nil); !errors.Is(s.Err(), ErrExpired) {
		t.Errorf("sealed again under an hour, read an hour later under a day: err %v; want ErrExpired", s.Err())
	}
}

// A revocation is forgotten once no copy of its cookie could open: at
// the session's creation plus its lifetime and ClockSkew, however late in
// the session's life the sign-out came.
func TestARevocationIsForgottenWithItsCookie(t *testing.T) {
	clock := newClock()
	store := revocation.NewReplica(clock.Now)
	day := newRevocationFixtureOn(t, clock, WithMaxAge(24*time.Hour), WithRevocation(store))
	b := newBrowser(t)
	b.do(day.login, "POST", "/login")
	clock.Advance(12 * time.Hour)
	b.do(day.write, "POST", "/")
	b.do(day.logout, "POST", "/logout")
	if store.Len() == 0 {
		t.Fatal("the sign-out stored nothing")
	}
	clock.Advance(12*time.Hour + ClockSkew + time.Second)
	store.Sweep(clock.Now())
	if n := store.Len(); n != 0 {
		t.Errorf("a day and ClockSkew after the session was created, the store holds %d entries; want the revocation forgotten", n)
	}
}

// earlierReleaseCookie is ada's session as an earlier release sealed it,
// at t0: with an id, without a lifetime.
func earlierReleaseCookie(t *testing.T) string {
	t.Helper()
	v, err := testKeys(t).Seal(FallbackName, Contents{Created: t0, Issued: t0, ID: randomID(), Data: []byte(`{"Name":"ada","Cart":null,"N":0}`)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The sign-out of a cookie sealed without a lifetime (by an earlier
// release) is kept as long as the Manager's WithMaxAge lets that cookie
// open.
func TestARevocationOfACookieWithoutALifetime(t *testing.T) {
	clock := newClock()
	store := revocation.NewReplica(clock.Now)
	day := newRevocationFixtureOn(t, clock, WithMaxAge(24*time.Hour), WithRevocation(store))
	copied := FallbackName + "=" + earlierReleaseCookie(t)
	if s, _ := send(day.m, copied, nil); s.Data.Name != "ada" {
		t.Fatalf("the earlier release's cookie did not open: %v", s.Err())
	}
	send(day.m, copied, func(s *Session[user]) { s.Destroy() })
	clock.Advance(23 * time.Hour)
	store.Sweep(clock.Now())
	if s, _ := send(day.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("23 hours after the sign-out, where the lifetime is a day: err %v; want ErrRevoked", s.Err())
	}
}

// A revocation is kept as long as the cookie it refuses could open: the
// lifetime sealed in it, not the WithMaxAge of the instance that revokes.
func TestARevocationLastsTheCookiesSealedLifetime(t *testing.T) {
	clock := newClock()
	store := revocation.NewReplica(clock.Now)
	month := newRevocationFixtureOn(t, clock, WithMaxAge(30*24*time.Hour), WithRevocation(store))
	day := newRevocationFixtureOn(t, clock, WithMaxAge(24*time.Hour), WithRevocation(store))
	b := newBrowser(t)
	b.do(month.login, "POST", "/login")
	copied := b.header()
	b.do(day.logout, "POST", "/logout") // signed out where the lifetime is a day
	clock.Advance(2 * 24 * time.Hour)
	store.Sweep(clock.Now())
	if s, _ := send(month.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("two days later, where the lifetime is 30 days: err %v; want ErrRevoked", s.Err())
	}
}

// A lifetime past what a cookie carries (WithMaxAge(math.MaxInt64), a way
// to say "never") still ends sessions at sign-out: the revocations are kept
// for as long as such a session lasts, with no sum of durations wrapping
// around to a time in the past, which would forget them at once.
func TestSignOutWithTheLongestLifetime(t *testing.T) {
	for _, maxAge := range []time.Duration{280 * 365 * 24 * time.Hour, math.MaxInt64} {
		f := newRevocationFixture(t, WithMaxAge(maxAge))
		b := newBrowser(t)
		b.do(f.login, "POST", "/login")
		copied := b.header()
		if err := f.m.SignOutEverywhere(context.Background(), "ada"); err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(time.Hour)
		if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
			t.Errorf("WithMaxAge(%v): signed out everywhere an hour ago, a copy: err %v; want ErrRevoked", maxAge, s.Err())
		}
		b = newBrowser(t)
		b.do(f.login, "POST", "/login")
		copied = b.header()
		b.do(f.logout, "POST", "/logout")
		f.clock.Advance(time.Hour)
		if s, _ := send(f.m, copied, nil); !errors.Is(s.Err(), ErrRevoked) {
			t.Errorf("WithMaxAge(%v): destroyed an hour ago, a copy: err %v; want ErrRevoked", maxAge, s.Err())
		}
	}
}
