package redisstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/redis/go-redis/v9"
)

var errRevoked = cookiesession.ErrRevoked

// sessionRevocation revokes a new session id from now for an hour.
func (e *env) sessionRevocation() cookiesession.Revocation {
	now := e.clock.now()
	return cookiesession.Revocation{ID: newID(), At: now, Until: now.Add(time.Hour)}
}

// refuses reports whether s refuses the session r revokes, as of now.
func (e *env) refuses(s *Store, r cookiesession.Revocation) bool {
	e.t.Helper()
	now := e.clock.now()
	return isRevoked(e.t, s.Check(r.ID, r.Subject, now.Add(-time.Minute), now))
}

// inRedis reports whether Redis holds r's member, with its Until.
func (e *env) inRedis(c *redis.Client, r cookiesession.Revocation) bool {
	e.t.Helper()
	score, err := c.ZScore(context.Background(), DefaultPrefix+":entries", encodeMember(r)).Result()
	if errors.Is(err, redis.Nil) {
		return false
	}
	if err != nil {
		e.t.Fatalf("ZSCORE: %v", err)
	}
	return int64(score) == unix(r.Until)
}

// 1. A revocation on one instance is refused by another, which learns it
// through Redis; the test measures how long that takes over loopback.
func TestRevokeReachesOtherStore(t *testing.T) {
	e := newEnv(t)
	a, b := e.store(Options{}), e.store(Options{})
	e.ready(a, b)

	const n = 200
	delays := make([]time.Duration, 0, n)
	ctx := context.Background()
	for range n {
		r := e.sessionRevocation()
		if e.refuses(b, r) {
			t.Fatal("B refuses a session before it was revoked")
		}
		start := time.Now()
		if err := a.Revoke(ctx, r); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if !e.refuses(a, r) {
			t.Fatal("A does not refuse the session it revoked, once Revoke returned")
		}
		e.waitUntil(5*time.Second, "B refuses the session A revoked", func() bool { return e.refuses(b, r) })
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	t.Logf("from A's Revoke to B's refusal, over %d revocations on loopback: p50 %s, p99 %s, max %s",
		n, delays[n/2], delays[n*99/100-1], delays[n-1])
	if a.Len() != n || b.Len() != n {
		t.Errorf("replicas hold %d and %d entries, want %d", a.Len(), b.Len(), n)
	}
}

// 5. A subject's sign-out everywhere reaches the other instances, and
// refuses only the sessions created up to it.
func TestSubjectRevocationPropagates(t *testing.T) {
	e := newEnv(t)
	a, b := e.store(Options{}), e.store(Options{})
	e.ready(a, b)
	now := e.clock.now()
	// A subject may hold any character, the separator included.
	for _, subject := range []string{"ada", "bob|admin", "ünïcode user@example.com"} {
		r := cookiesession.Revocation{Subject: subject, At: now, Until: now.Add(time.Hour)}
		if err := a.Revoke(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		e.waitUntil(5*time.Second, "B refuses "+subject+"'s older session", func() bool {
			return isRevoked(t, b.Check(newID(), subject, now.Add(-time.Minute), now.Add(time.Second)))
		})
		if isRevoked(t, b.Check(newID(), subject, now.Add(2*time.Second), now.Add(3*time.Second))) {
			t.Errorf("B refuses a session of %q created after the sign-out", subject)
		}
	}
	if isRevoked(t, b.Check(newID(), "carol", now.Add(-time.Minute), now)) {
		t.Error("B refuses another subject's session")
	}
	if isRevoked(t, b.Check(newID(), "", now.Add(-time.Minute), now)) {
		t.Error("B refuses a session without a subject")
	}
	// A store started now loads the same.
	c := e.store(Options{})
	e.ready(c)
	if !isRevoked(t, c.Check(newID(), "bob|admin", now.Add(-time.Minute), now)) {
		t.Error("a store started after the sign-out does not refuse the subject's session")
	}
}

// 2. Redis stops: Revoke reports the failure but the instance enforces the
// revocation, and Ready says the replica is stale. Redis comes back empty:
// the stores write back what they know, and a store started after the
// restart refuses every session revoked before it.
func TestRedisRestartLosesNothing(t *testing.T) {
	e := newEnv(t)
	a, b := e.store(Options{}), e.store(Options{})
	e.ready(a, b)
	ctx := context.Background()
	before := e.sessionRevocation()
	if err := a.Revoke(ctx, before); err != nil {
		t.Fatal(err)
	}
	e.waitUntil(5*time.Second, "B learns the first revocation", func() bool { return e.refuses(b, before) })

	e.srv.stop()
	e.waitUntil(5*time.Second, "both stores report the replica stale", func() bool {
		return a.Ready() != nil && b.Ready() != nil
	})
	err := a.Ready()
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "stale since") {
		t.Errorf("Ready = %v; want ErrStale, saying since when", err)
	}
	t.Logf("Ready while Redis is down: %v", err)

	during := e.sessionRevocation()
	start := time.Now()
	err = a.Revoke(ctx, during)
	if err == nil {
		t.Fatal("Revoke returned nil with Redis down")
	}
	t.Logf("Revoke with Redis down, after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if !e.refuses(a, during) {
		t.Error("A does not enforce the revocation Redis did not get")
	}
	if e.refuses(b, during) {
		t.Error("B refuses a session revoked while Redis was down: it cannot know")
	}
	if !e.refuses(a, before) || !e.refuses(b, before) {
		t.Error("a revocation known before the outage is not enforced during it")
	}

	e.srv.start() // empty: its data is lost
	e.ready(a, b)
	e.waitUntil(5*time.Second, "B learns, from A's write-back, the revocation made while Redis was down", func() bool {
		return e.refuses(b, during)
	})
	check := e.client()
	for name, r := range map[string]cookiesession.Revocation{"before": before, "during": during} {
		if !e.inRedis(check, r) {
			t.Errorf("the revocation made %s the outage is not back in Redis", name)
		}
	}
	c := e.store(Options{})
	e.ready(c)
	if !e.refuses(c, before) || !e.refuses(c, during) {
		t.Error("a store started after the restart accepts a session revoked before it, once ready")
	}
}

// 3. A store started while Redis is down serves at once, fails open, is not
// ready, and becomes ready once Redis starts, writing back what it was
// told meanwhile.
func TestStartWhileRedisDown(t *testing.T) {
	e := newEnvDown(t)
	start := time.Now()
	s := e.store(Options{})
	if d := time.Since(start); d > time.Second {
		t.Errorf("New took %s with Redis down; it should return at once", d)
	}
	other := e.sessionRevocation()
	if e.refuses(s, other) {
		t.Error("Check refuses a session that nobody revoked")
	}
	err := s.Ready()
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("Ready = %v; want ErrStale, saying not loaded", err)
	}
	t.Logf("Ready before the first load: %v", err)
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.WaitReady(short); !errors.Is(err, ErrStale) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady with Redis down = %v; want ErrStale and the deadline", err)
	}

	r := e.sessionRevocation()
	if err := s.Revoke(context.Background(), r); err == nil {
		t.Error("Revoke returned nil with Redis down")
	}
	if !e.refuses(s, r) {
		t.Error("the store does not enforce its own revocation")
	}

	e.srv.start()
	e.ready(s)
	if !e.refuses(s, r) || e.refuses(s, other) {
		t.Error("after the first load, the store answers differently")
	}
	if !e.inRedis(e.client(), r) {
		t.Error("the revocation made before Redis started was not written back")
	}
}

// 4. FailClosedAfter: once the replica has been stale for longer than the
// bound, sessions with a subject are refused and anonymous ones are not;
// once it is in sync again, they are accepted again. The same holds for a
// store that never loaded.
func TestFailClosed(t *testing.T) {
	const bound = time.Minute
	e := newEnv(t)
	s := e.store(Options{FailClosedAfter: bound})
	e.ready(s)
	checkSubject := func() error {
		now := e.clock.now()
		return s.Check(newID(), "ada", now.Add(-time.Minute), now)
	}
	checkAnonymous := func() error {
		now := e.clock.now()
		return s.Check(newID(), "", now.Add(-time.Minute), now)
	}
	if checkSubject() != nil {
		t.Fatal("refused while in sync")
	}

	e.srv.stop()
	e.waitUntil(5*time.Second, "the replica is stale", func() bool { return s.Ready() != nil })
	if err := checkSubject(); err != nil {
		t.Errorf("refused within the bound: %v", err)
	}
	e.clock.advance(bound + time.Second)
	err := checkSubject()
	if !errors.Is(err, cookiesession.ErrRevocationsUnavailable) || !errors.Is(err, ErrStale) || errors.Is(err, errRevoked) {
		t.Errorf("past the bound, a session with a subject: %v; want ErrRevocationsUnavailable and ErrStale", err)
	}
	t.Logf("fail-closed Check: %v", err)
	if err := checkAnonymous(); err != nil {
		t.Errorf("past the bound, a session without a subject: %v", err)
	}

	e.srv.start()
	e.ready(s)
	if err := checkSubject(); err != nil {
		t.Errorf("refused after recovery: %v", err)
	}

	// A store that never loaded fails closed too, once past the bound.
	e.srv.stop()
	fresh := e.store(Options{FailClosedAfter: bound})
	if err := fresh.Check(newID(), "ada", e.clock.now(), e.clock.now()); err != nil {
		t.Errorf("a new store refused within the bound: %v", err)
	}
	e.clock.advance(bound + time.Second)
	if err := fresh.Check(newID(), "ada", e.clock.now(), e.clock.now()); !errors.Is(err, cookiesession.ErrRevocationsUnavailable) {
		t.Errorf("a store never loaded, past the bound: %v; want ErrRevocationsUnavailable", err)
	}
	if err := fresh.Check(newID(), "", e.clock.now(), e.clock.now()); err != nil {
		t.Errorf("a store never loaded, anonymous session: %v", err)
	}
}

// 7. Expired members are neither loaded nor kept in Redis; members that are
// not revocations are ignored.
func TestExpiredEntriesAreDropped(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	ctx := context.Background()
	now := e.clock.now()
	expired := cookiesession.Revocation{ID: newID(), At: now.Add(-2 * time.Hour), Until: now.Add(-time.Hour)}
	justExpired := cookiesession.Revocation{ID: newID(), At: now.Add(-time.Hour), Until: now.Add(-time.Second)}
	live := e.sessionRevocation()
	key := DefaultPrefix + ":entries"
	for _, r := range []cookiesession.Revocation{expired, justExpired, live} {
		if err := c.ZAdd(ctx, key, redis.Z{Score: float64(unix(r.Until)), Member: encodeMember(r)}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ZAdd(ctx, key, redis.Z{Score: float64(unix(live.Until)), Member: "not a revocation"}).Err(); err != nil {
		t.Fatal(err)
	}

	s := e.store(Options{})
	e.ready(s)
	if n := s.Len(); n != 1 {
		t.Errorf("the replica holds %d entries; want 1, the live one", n)
	}
	if !e.refuses(s, live) {
		t.Error("the live entry is not enforced")
	}
	members, err := c.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(members)
	want := []string{encodeMember(live), "not a revocation"}
	slices.Sort(want)
	if !slices.Equal(members, want) {
		t.Errorf("Redis holds %q after the load; want only the unexpired %q", members, want)
	}

	// An announcement of an expired entry is not added either.
	msg := encodeMessage(encodeMember(expired), unix(expired.Until))
	if err := c.Publish(ctx, DefaultPrefix+":events", msg).Err(); err != nil {
		t.Fatal(err)
	}
	next := e.sessionRevocation()
	if err := e.store(Options{}).Revoke(ctx, next); err != nil {
		t.Fatal(err)
	}
	// Messages arrive in order: once the later one is in, the expired one
	// was seen.
	e.waitUntil(5*time.Second, "the store learns the next revocation", func() bool { return e.refuses(s, next) })
	if n := s.Len(); n != 2 {
		t.Errorf("the replica holds %d entries; want 2", n)
	}
}

// A server that stops answering without closing its connections is found
// by the ping, within a bound; Revoke gives up after RevokeTimeout.
func TestHungRedisIsDetected(t *testing.T) {
	e := newEnv(t)
	s := e.store(Options{RevokeTimeout: 300 * time.Millisecond})
	e.ready(s)
	e.srv.pause()
	paused := time.Now()
	e.waitUntil(5*time.Second, "the replica is stale", func() bool { return s.Ready() != nil })
	t.Logf("a hung server was found after %s (PingInterval 100ms): %v", time.Since(paused).Round(time.Millisecond), s.Ready())

	r := e.sessionRevocation()
	start := time.Now()
	err := s.Revoke(context.Background(), r)
	took := time.Since(start)
	if err == nil {
		t.Error("Revoke returned nil with Redis hung")
	}
	if took > 2*time.Second {
		t.Errorf("Revoke took %s with RevokeTimeout 300ms", took)
	}
	if !e.refuses(s, r) {
		t.Error("the store does not enforce its own revocation")
	}
	e.srv.resume()
	e.ready(s)
	e.waitUntil(5*time.Second, "the revocation is written back", func() bool { return e.inRedis(e.client(), r) })
}

// A Revoke whose Redis call fails while the subscription holds is written
// back without waiting for a reconnection.
func TestFailedRevokeIsWrittenBack(t *testing.T) {
	e := newEnv(t)
	a, b := e.store(Options{}), e.store(Options{})
	e.ready(a, b)
	r := e.sessionRevocation()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Revoke(ctx, r); err == nil {
		t.Fatal("Revoke with a cancelled context returned nil")
	}
	e.waitUntil(5*time.Second, "B learns the revocation from the write-back", func() bool { return e.refuses(b, r) })
	if !e.inRedis(e.client(), r) {
		t.Error("the revocation is not in Redis")
	}
}

func TestCloseStopsTheStore(t *testing.T) {
	e := newEnv(t)
	s := e.store(Options{})
	e.ready(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Ready after Close = %v", err)
	}
	if err := s.WaitReady(context.Background()); err == nil {
		t.Error("WaitReady after Close returned nil")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for name, opts := range map[string]Options{
		"FailClosedAfter": {FailClosedAfter: -1},
		"RevokeTimeout":   {RevokeTimeout: -1},
		"PingInterval":    {PingInterval: -1},
	} {
		if s, err := New(context.Background(), client, opts); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("negative %s: err = %v", name, err)
			if s != nil {
				_ = s.Close()
			}
		}
	}
	if _, err := New(context.Background(), nil, Options{}); err == nil {
		t.Error("a nil client: err = nil")
	}
}
