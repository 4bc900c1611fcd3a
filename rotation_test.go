package cookiesession_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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

// A session runs across two instances whose clocks differ by less than
// ClockSkew, which the format allows for: a session created on the
// instance that runs ahead must be saved by the one that runs behind,
// whether its data changed or it is only re-sealed after a rotation. A
// minute apart (a virtual machine resumed, a host that lost NTP) is well
// within it.
func TestInstancesWithSkewedClocks(t *testing.T) {
	for _, skew := range []time.Duration{time.Second, time.Minute + 1500*time.Millisecond, ClockSkew - time.Second} {
		t.Run(skew.String(), func(t *testing.T) {
			ahead, behind := newClock(), newClock()
			ahead.Advance(skew)
			checkSkewedInstances(t, ahead, behind)
		})
	}
}

func checkSkewedInstances(t *testing.T, ahead, behind *testClock) {
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

// An instance whose clock runs further ahead than ClockSkew signs its
// users out on the others: their sessions open as new, with ErrExpired.
// That is an operator's problem, not an attacker's (only a holder of the
// keys seals a value), so the instance behind says so as a warning, once
// a minute, not at debug level like any cookie that does not open.
func TestClockTooFarAheadIsWarned(t *testing.T) {
	ahead, behind := newClock(), newClock()
	ahead.Advance(ClockSkew + 2*time.Second)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := newTestManager[user](t, ahead, quiet)
	b := newTestManager[user](t, behind, WithLogger(logger))
	signedOut := func() { t.Helper(); signsOut(t, a, b, ErrExpired) }
	warnings := func() int { return strings.Count(logs.String(), "level=WARN") }

	signedOut()
	if warnings() != 1 || !strings.Contains(logs.String(), "clock is ahead") {
		t.Fatalf("after the first: %d warnings; want 1 that says a clock is ahead:\n%s", warnings(), logs.String())
	}
	behind.Advance(time.Minute - time.Second)
	ahead.Advance(time.Minute - time.Second)
	signedOut()
	if warnings() != 1 {
		t.Errorf("a second within the minute: %d warnings; want still 1:\n%s", warnings(), logs.String())
	}
	behind.Advance(time.Second)
	ahead.Advance(time.Second)
	signedOut()
	if warnings() != 2 {
		t.Errorf("a minute after the first: %d warnings; want 2:\n%s", warnings(), logs.String())
	}
}

// An instance whose SESSION_KEYS lacks the key another seals with (a
// rotation's second step taken before its first was everywhere) signs
// those users out: it says so, once a minute, with the key's id, which
// Keyring.String prints, and how many came since the last warning (anyone
// can forge one: the count and the id tell a flood from a fleet's key).
func TestKeyMissingHereIsWarned(t *testing.T) {
	clock := newClock()
	newer := mustKeyring(t, testSecret(2), testSecret(1))
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sealing, err := New[user](newer, WithName(FallbackName), WithClock(clock.Now), quiet)
	if err != nil {
		t.Fatal(err)
	}
	lacking := newTestManager[user](t, clock, WithLogger(logger)) // testSecret(1) only
	signedOut := func() { t.Helper(); signsOut(t, sealing, lacking, ErrUnknownKey) }
	id := strings.TrimSuffix(strings.TrimPrefix(mustKeyring(t, testSecret(2)).String(), "cookiesession.Keyring{"), "}")
	for i, want := range []int{1, 1} {
		signedOut()
		if n := strings.Count(logs.String(), "level=WARN"); n != want || !strings.Contains(logs.String(), id) || !strings.Contains(logs.String(), "SESSION_KEYS lacks here") {
			t.Errorf("after %d: %d warnings; want %d, naming key %s:\n%s", i+1, n, want, id, logs.String())
		}
		clock.Advance(time.Minute - time.Second)
	}
	clock.Advance(time.Second)
	signedOut()
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 || !strings.HasSuffix(strings.TrimSpace(logs.String()), "count=2") {
		t.Errorf("a minute after the first: %d warnings; want 2, the second counting the one it held back:\n%s", n, logs.String())
	}
}

// signsOut checks that a session sealed by from opens on to as a new
// session whose Err wraps want.
func signsOut(t *testing.T, from, to *Manager[user], want error) {
	t.Helper()
	br := newBrowser(t)
	br.do(handle(from, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/")
	var err error
	br.do(handle(to, func(s *Session[user]) { err = s.Err() }), "GET", "/")
	if !errors.Is(err, want) {
		t.Errorf("a session sealed by another instance: Err %v; want %v", err, want)
	}
}
