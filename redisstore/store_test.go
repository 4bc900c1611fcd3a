package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
	"github.com/redis/go-redis/v9"
)

const hashKey = DefaultPrefix + ":revocations"

// destroyed revokes one new session id of a signed-in user for an hour,
// as the Manager's Destroy does; it returns the id.
func (e *env) destroyed() (revocation.Revoked, revocation.SessionID) {
	id := newID()
	return revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Until: e.clock.now().Add(time.Hour)}}}, id
}

// readyDestroyed returns a ready store of ping interval pi that has
// revoked one session of ada's, and the session's id.
func (e *env) readyDestroyed(pi time.Duration) (*Store, revocation.SessionID) {
	e.t.Helper()
	s := e.store(WithPingInterval(pi))
	e.ready(s)
	r, id := e.destroyed()
	if err := s.Revoke(context.Background(), "ada", r); err != nil {
		e.t.Fatal(err)
	}
	return s, id
}

// refuses reports whether s refuses subject's session id, signed in under
// generation 0, as of now; any error other than ErrRevoked fails the test.
func (e *env) refuses(s *Store, subject string, id revocation.SessionID) bool {
	e.t.Helper()
	return isRevoked(e.t, s.Check(subject, id, 0, e.clock.now()))
}

// inRedis returns what the hash holds of subject.
func (e *env) inRedis(c *redis.Client, subject string) revocation.Revoked {
	e.t.Helper()
	v, err := c.HGet(context.Background(), hashKey, subjectField(subject)).Result()
	if errors.Is(err, redis.Nil) {
		return revocation.Revoked{}
	}
	if err != nil {
		e.t.Fatalf("HGET: %v", err)
	}
	r, err := decodeRevoked(v)
	if err != nil {
		e.t.Fatalf("the field of %q is not a Revoked: %v", subject, err)
	}
	return r
}

// health returns s's health, failing the test if its error does not match
// it (nil exactly when healthy).
func health(t testing.TB, s *Store) revocation.Health {
	t.Helper()
	h, err := s.Health()
	if (h == revocation.Healthy) != (err == nil) {
		t.Fatalf("Health = %v, %v", h, err)
	}
	return h
}

// A revocation on one of three stores is refused by the others, which
// learn it through Redis; Redis holds it in one field of one hash, which
// expires with it.
func TestRevokeReachesOtherStores(t *testing.T) {
	e := newEnv(t)
	stores := []*Store{e.store(), e.store(), e.store()}
	e.ready(stores...)
	ctx := context.Background()
	const n = 100
	delays := make([]time.Duration, 0, n)
	for i := range n {
		from := stores[i%3]
		subject := "user-" + strconv.Itoa(i)
		r, id := e.destroyed()
		start := time.Now()
		if err := from.Revoke(ctx, subject, r); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if !e.refuses(from, subject, id) {
			t.Fatal("the revoking store does not refuse the session once Revoke returned")
		}
		e.waitUntil(5*time.Second, "every store refuses the revoked session", func() bool {
			return e.refuses(stores[0], subject, id) && e.refuses(stores[1], subject, id) && e.refuses(stores[2], subject, id)
		})
		delays = append(delays, time.Since(start))
		if e.refuses(stores[(i+1)%3], subject, newID()) {
			t.Fatal("another session of the subject is refused")
		}
	}
	slices.Sort(delays)
	t.Logf("Revoke to refusal on all of 3 stores, %d revocations: p50 %s, p99 %s", n, delays[n/2], delays[n*99/100-1])
	checkLayout(t, e, stores[0], n)
}

// checkLayout checks that Redis holds one hash, of the epoch and n
// subjects, that lives as long as its longest entry, about an hour, and
// that a shorter entry does not shorten.
func checkLayout(t *testing.T, e *env, s *Store, n int) {
	t.Helper()
	ctx := context.Background()
	c := e.client()
	fields, err := c.HKeys(ctx, hashKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != n+1 || !slices.Contains(fields, epochField) {
		t.Errorf("the hash has %d fields; want the epoch and %d subjects", len(fields), n)
	}
	keys, _ := c.Keys(ctx, "*").Result()
	if !slices.Equal(keys, []string{hashKey}) {
		t.Errorf("Redis holds keys %q; want only the hash", keys)
	}
	ttl, err := c.TTL(ctx, hashKey).Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour+time.Second {
		t.Errorf("the hash expires in %s (%v); want with its last entry, in about an hour", ttl, err)
	}
	// A shorter entry does not shorten the hash's life.
	short := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: newID(), Until: e.clock.now().Add(time.Minute)}}}
	if err := s.Revoke(ctx, "brief", short); err != nil {
		t.Fatal(err)
	}
	if ttl2, _ := c.TTL(ctx, hashKey).Result(); ttl2 < ttl-2*time.Second {
		t.Errorf("a shorter entry cut the hash's life from %s to %s", ttl, ttl2)
	}
}

// Concurrent sign-outs of one user on different instances all land: each
// write merges with what the other wrote.
func TestConcurrentRevokesMerge(t *testing.T) {
	e := newEnv(t)
	a, b := e.store(), e.store()
	e.ready(a, b)
	const per = 10
	var wg sync.WaitGroup
	ids := make([]revocation.SessionID, 2*per)
	for i := range ids {
		s := a
		if i%2 == 1 {
			s = b
		}
		r, id := e.destroyed()
		ids[i] = id
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Revoke(context.Background(), "ada", r); err != nil {
				t.Errorf("Revoke: %v", err)
			}
		}()
	}
	wg.Wait()
	got := e.inRedis(e.client(), "ada")
	if len(got.Sessions) != len(ids) {
		t.Errorf("Redis holds %d of ada's %d revoked sessions", len(got.Sessions), len(ids))
	}
	e.waitUntil(5*time.Second, "both stores refuse every revoked session", func() bool {
		for _, id := range ids {
			if !e.refuses(a, "ada", id) || !e.refuses(b, "ada", id) {
				return false
			}
		}
		return true
	})
}

// Redis out of memory (noeviction): the Revoke fails loudly (an error, an
// Error log that names the cause), the store reports Degraded rather than
// Down, enforces the revocation on its own, and writes it back once
// memory is freed.
func TestRedisFullIsLoudAndWrittenBack(t *testing.T) {
	e := newEnv(t)
	a, b := e.store(), e.store()
	e.ready(a, b)
	ctx := context.Background()
	admin := e.client()
	fillRedis(t, admin, "noeviction")

	r, id := e.destroyed()
	err := a.Revoke(ctx, "ada", r)
	if err == nil {
		t.Fatal("Revoke returned nil with Redis out of memory")
	}
	t.Logf("Revoke with Redis full: %v", err)
	if line := e.logs.find(slog.LevelError, "out of memory", "maxmemory", "noeviction"); line == "" {
		t.Error("no Error log names Redis's memory as the cause")
	}
	if !e.refuses(a, "ada", id) {
		t.Error("the store does not enforce the revocation Redis refused")
	}
	e.waitUntil(2*time.Second, "Health reports Degraded", func() bool { return health(t, a) == revocation.Degraded })
	if _, err := a.Health(); !strings.Contains(err.Error(), "out of memory") {
		t.Errorf("Health's error does not say why: %v", err)
	}
	if err := a.Ready(); err != nil {
		t.Errorf("Ready while Redis is full: %v; want nil, the store serves", err)
	}

	freeRedis(t, admin)
	e.waitUntil(5*time.Second, "the revocation is written back and reaches the other store", func() bool {
		return e.refuses(b, "ada", id) && len(e.inRedis(admin, "ada").Sessions) == 1
	})
	e.waitUntil(2*time.Second, "Health reports Healthy", func() bool { return health(t, a) == revocation.Healthy })
}

// A store closed while a revocation awaits write-back says so: it was
// enforced on this instance only, and ends with it.
func TestCloseTellsOfRevocationsNotWrittenBack(t *testing.T) {
	e := newEnv(t)
	a := e.store()
	e.ready(a)
	fillRedis(t, e.client(), "noeviction")
	r, _ := e.destroyed()
	if err := a.Revoke(context.Background(), "ada", r); err == nil {
		t.Fatal("Revoke returned nil with Redis out of memory")
	}
	if line := e.logs.find(slog.LevelError, "closed with revocations"); line != "" {
		t.Fatalf("logged before Close: %s", line)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if line := e.logs.find(slog.LevelError, "closed with revocations", "OOM"); line == "" {
		t.Error("Close did not say that a revocation was not written back")
	}
}

// fillRedis sets maxmemory just above what Redis uses, with policy, and
// writes filler keys until Redis refuses one (noeviction) or until 10,000
// (the eviction policies make room instead).
func fillRedis(t testing.TB, c *redis.Client, policy string) {
	t.Helper()
	ctx := context.Background()
	bytes := usedMemory(t, c)
	if err := c.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(bytes+256<<10, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("x", 1024)
	for i := range 10_000 {
		if err := c.Set(ctx, "filler:"+strconv.Itoa(i), filler, 0).Err(); err != nil {
			if !strings.HasPrefix(err.Error(), "OOM") {
				t.Fatal(err)
			}
			// Full, but a write smaller than the one refused may still
			// fit, once the refused one's buffers are freed: set the
			// limit below what is used, so that every write is refused.
			if err := c.ConfigSet(ctx, "maxmemory", strconv.FormatInt(usedMemory(t, c)-32<<10, 10)).Err(); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	if policy == "noeviction" {
		t.Fatal("Redis took 10 MB of filler over a 256 kB margin")
	}
}

// usedMemory returns Redis's used_memory.
func usedMemory(t testing.TB, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Fatal("INFO memory has no used_memory")
	return 0
}

// freeRedis undoes fillRedis as an operator would: the filler deleted and
// the limit lifted. Deleting alone frees too little when clients opened
// connections after fillRedis measured, which Redis counts as used.
func freeRedis(t testing.TB, c *redis.Client) {
	t.Helper()
	ctx := context.Background()
	keys, _ := c.Keys(ctx, "filler:*").Result()
	if err := c.Del(ctx, append(keys, "filler:none")...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		t.Fatal(err)
	}
}

// Every way Redis loses the hash is found by the epoch, and written back
// within twice PingInterval; a store started right after the loss, before
// the write-back, refuses the revoked session once WaitReady returns.
func TestLossIsWrittenBack(t *testing.T) {
	const pi = 200 * time.Millisecond
	const bound = 2*pi + 250*time.Millisecond
	for _, loss := range []string{"FLUSHALL", "DEL", "eviction", "restart"} {
		t.Run(loss, func(t *testing.T) {
			e := newEnv(t)
			a, id := e.readyDestroyed(pi)
			ctx := context.Background()
			everywhere := revocation.Revoked{Generation: 42, GenerationUntil: e.clock.now().Add(time.Hour)}
			if err := a.Revoke(ctx, "bob", everywhere); err != nil {
				t.Fatal(err)
			}
			admin := e.client()
			start := lose(t, e, admin, loss)
			fresh := e.store(WithPingInterval(pi))

			e.waitUntil(5*time.Second, "the lost revocations are back in Redis", func() bool {
				return len(e.inRedis(admin, "ada").Sessions) == 1 && e.inRedis(admin, "bob").Generation == 42
			})
			took := time.Since(start)
			t.Logf("%s: written back after %s (PingInterval %s)", loss, took.Round(time.Millisecond), pi)
			if took > bound {
				t.Errorf("written back after %s; want within %s", took, bound)
			}
			if e.logs.find(slog.LevelWarn, "revocations lost in Redis") == "" {
				t.Error("the loss was not logged as a warning")
			}
			e.ready(fresh)
			if !e.refuses(fresh, "ada", id) {
				t.Error("a store started right after the loss accepts a destroyed session once ready")
			}
			if err := fresh.Check("bob", newID(), 41, e.clock.now()); !errors.Is(err, cookiesession.ErrRevoked) {
				t.Errorf("a store started right after the loss, bob signed out everywhere: %v", err)
			}
		})
	}
}

// lose makes Redis lose the hash the way named, and returns when it did.
func lose(t *testing.T, e *env, admin *redis.Client, how string) time.Time {
	t.Helper()
	ctx := context.Background()
	switch how {
	case "FLUSHALL":
		if err := admin.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	case "DEL":
		if err := admin.Del(ctx, hashKey).Err(); err != nil {
			t.Fatal(err)
		}
	case "eviction":
		// allkeys-random: the hash is read every PingInterval, which an
		// LRU policy would count as use; any policy evicts it whole.
		fillRedis(t, admin, "allkeys-random")
		filler := strings.Repeat("x", 1024)
		for i := 10_000; ; i++ {
			if n, err := admin.Exists(ctx, hashKey).Result(); err == nil && n == 0 {
				break
			}
			if i == 100_000 {
				t.Fatal("the hash was not evicted after 90,000 filler keys")
			}
			if err := admin.Set(ctx, "filler:"+strconv.Itoa(i), filler, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	case "restart":
		e.srv.stop()
		e.srv.start()
	}
	return time.Now()
}

// While a first load waits for other instances to write back into a new
// hash, Health says so, rather than that nothing is subscribed.
func TestHealthWhileTheFirstLoadWaits(t *testing.T) {
	e := newEnv(t)
	s := e.store(WithPingInterval(time.Minute)) // the wait, two intervals, outlasts the test
	e.waitUntil(5*time.Second, "Health tells of the wait", func() bool {
		h, err := s.Health()
		return h == revocation.Down && errors.Is(err, ErrStale) && strings.Contains(err.Error(), "waiting")
	})
}

// A store started with Redis down serves at once, reports Down (not
// loaded), and becomes ready once Redis starts, writing back what it was
// told meanwhile.
func TestStartWhileRedisDown(t *testing.T) {
	e := newEnvDown(t)
	start := time.Now()
	s := e.store()
	if d := time.Since(start); d > time.Second {
		t.Errorf("New took %s with Redis down; it should return at once", d)
	}
	if h, err := s.Health(); h != revocation.Down || !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("Health before the first load = %v, %v; want Down, not loaded", h, err)
	}
	if err := s.Ready(); err == nil {
		t.Error("Ready before the first load = nil")
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.WaitReady(short); !errors.Is(err, ErrStale) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitReady with Redis down = %v; want ErrStale and the deadline", err)
	}
	r, id := e.destroyed()
	if err := s.Revoke(context.Background(), "ada", r); err == nil {
		t.Error("Revoke returned nil with Redis down")
	}
	if !e.refuses(s, "ada", id) {
		t.Error("the store does not enforce its own revocation")
	}

	e.srv.start()
	e.ready(s)
	e.waitUntil(5*time.Second, "the revocation made before Redis started is written back", func() bool {
		return len(e.inRedis(e.client(), "ada").Sessions) == 1
	})
	e.waitUntil(2*time.Second, "Health reports Healthy", func() bool { return health(t, s) == revocation.Healthy })
}

// Two deployments with the same prefix on databases 0 and 1 of one Redis
// never see, nor write, each other's revocations: channels are server-wide.
func TestDatabasesStayApart(t *testing.T) {
	e := newEnv(t)
	zero, one := e.clientDB(0), e.clientDB(1)
	a0, b0 := e.storeOn(e.clientDB(0)), e.storeOn(e.clientDB(0))
	a1 := e.storeOn(e.clientDB(1))
	e.ready(a0, b0, a1)
	if a0.channel == a1.channel {
		t.Fatalf("both databases use channel %q", a0.channel)
	}
	ctx := context.Background()
	r, id := e.destroyed()
	if err := a0.Revoke(ctx, "ada", r); err != nil {
		t.Fatal(err)
	}
	e.waitUntil(5*time.Second, "database 0's other store refuses the session", func() bool { return e.refuses(b0, "ada", id) })
	// Database 1 loses its hash, and reloads: it must not write database
	// 0's revocation into its own.
	if err := one.Del(ctx, hashKey).Err(); err != nil {
		t.Fatal(err)
	}
	r1, id1 := e.destroyed()
	if err := a1.Revoke(ctx, "bob", r1); err != nil {
		t.Fatal(err)
	}
	e.waitUntil(5*time.Second, "database 1 writes its epoch back", func() bool {
		n, _ := one.HExists(ctx, hashKey, epochField).Result()
		return n
	})
	e.waitUntil(5*time.Second, "database 0 learns nothing of database 1", func() bool { return !e.refuses(b0, "bob", id1) })
	if e.refuses(a1, "ada", id) || a1.Len() != 1 {
		t.Errorf("database 1's store holds %d entries, refusing database 0's session: %v", a1.Len(), e.refuses(a1, "ada", id))
	}
	if n, _ := one.HExists(ctx, hashKey, subjectField("ada")).Result(); n {
		t.Error("database 0's revocation was written into database 1")
	}
	if n, _ := zero.HExists(ctx, hashKey, subjectField("bob")).Result(); n {
		t.Error("database 1's revocation was written into database 0")
	}
	if b0.Len() != 1 {
		t.Errorf("database 0's store holds %d entries; want 1", b0.Len())
	}
}

// A frozen Redis (SIGSTOP: connections open, no answers). Fail-closed:
// Check refuses a signed-in session once FailClosedAfter has passed since
// the last good contact, not before, and Health is Down. Fail-open:
// Health is Degraded and Ready nil. Both recover when Redis does.
func TestFrozenRedis(t *testing.T) {
	const failClosedAfter = time.Second
	const pi = 100 * time.Millisecond
	e := newEnv(t)
	closed := e.store(WithFailClosedAfter(failClosedAfter), WithPingInterval(pi))
	open := e.store(WithPingInterval(pi))
	e.ready(closed, open)
	check := func(at time.Time) error { return closed.Check("ada", newID(), 0, at) }
	lastContact := func() time.Time { return time.Unix(0, closed.lastContact.Load()) }
	// A store whose Redis answers keeps making contact, and accepts.
	for range 3 {
		last := lastContact()
		e.waitUntil(5*time.Second, "a new contact with Redis", func() bool { return lastContact().After(last) })
		if err := check(e.clock.now()); err != nil {
			t.Fatalf("Redis answering: Check %v", err)
		}
	}

	e.srv.pause()
	// Past two ping intervals without contact, no answer is on its way:
	// the last contact stays where it is, and the bound is exact.
	e.waitUntil(5*time.Second, "two ping intervals without contact", func() bool {
		return e.clock.now().Sub(lastContact()) > 2*pi
	})
	last := lastContact()
	if err := check(last.Add(failClosedAfter)); err != nil {
		t.Errorf("fail-closed Check at FailClosedAfter after the last contact: %v; want nil", err)
	}
	err := check(last.Add(failClosedAfter + time.Millisecond))
	if !errors.Is(err, cookiesession.ErrRevocationsUnavailable) || !errors.Is(err, ErrStale) || errors.Is(err, cookiesession.ErrRevoked) {
		t.Errorf("fail-closed Check past FailClosedAfter: %v; want ErrRevocationsUnavailable and ErrStale", err)
	}
	e.waitUntil(failClosedAfter+5*time.Second, "the fail-closed store is Down", func() bool {
		return health(t, closed) == revocation.Down
	})
	if !lastContact().Equal(last) {
		t.Errorf("contact with a frozen Redis: last contact moved from %v to %v", last, lastContact())
	}
	checkFailOpen(t, e, open)

	e.srv.resume()
	e.waitUntil(5*time.Second, "both stores are healthy again", func() bool {
		return health(t, closed) == revocation.Healthy && health(t, open) == revocation.Healthy
	})
	if err := check(e.clock.now()); err != nil {
		t.Errorf("refused after recovery: %v", err)
	}
}

// checkFailOpen checks a fail-open store while Redis is frozen: Degraded,
// ready, accepting.
func checkFailOpen(t *testing.T, e *env, open *Store) {
	t.Helper()
	if h, err := open.Health(); h != revocation.Degraded || !errors.Is(err, ErrStale) {
		t.Errorf("fail-open Health = %v, %v; want Degraded", h, err)
	}
	if err := open.Ready(); err != nil {
		t.Errorf("fail-open Ready = %v; want nil", err)
	}
	if err := open.Check("ada", newID(), 0, e.clock.now()); err != nil {
		t.Errorf("fail-open Check: %v", err)
	}
}

// A fail-closed store refuses before its first load; once loaded it does
// not.
func TestFailClosedBeforeFirstLoad(t *testing.T) {
	e := newEnvDown(t)
	s := e.store(WithFailClosedAfter(time.Minute))
	if err := s.Check("ada", newID(), 0, e.clock.now()); !errors.Is(err, cookiesession.ErrRevocationsUnavailable) {
		t.Errorf("before the first load: %v; want ErrRevocationsUnavailable", err)
	}
	e.srv.start()
	e.ready(s)
	if err := s.Check("ada", newID(), 0, e.clock.now()); err != nil {
		t.Errorf("after the first load: %v", err)
	}
}

// The sweep rewrites fields that hold expired entries, deletes those that
// hold nothing else, and takes a lock so that one instance does it.
func TestSweepForgetsExpiredEntries(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.ready(s)
	ctx := context.Background()
	now := e.clock.now()
	live, liveID := e.destroyed()
	gone := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: newID(), Until: now.Add(time.Minute)}}}
	if err := s.Revoke(ctx, "ada", live); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "ada", gone); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "bob", gone); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	// The clock moves, rather than the sweep being given a later time:
	// the store's own messages may still be arriving.
	e.clock.advance(2 * time.Minute)
	later := e.clock.now()
	if err := s.sweep(ctx, later); err != nil {
		t.Fatal(err)
	}
	if got := e.inRedis(c, "ada"); len(got.Sessions) != 1 || got.Sessions[0].ID != liveID {
		t.Errorf("after the sweep, ada holds %+v; want the live entry only", got)
	}
	if n, _ := c.HExists(ctx, hashKey, subjectField("bob")).Result(); n {
		t.Error("a field with nothing live was kept")
	}
	if s.Len() != 1 {
		t.Errorf("the replica holds %d entries after the sweep; want 1", s.Len())
	}
	if err := c.HSet(ctx, hashKey, subjectField("carol"), encodeRevoked(gone)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.sweep(ctx, later); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.HExists(ctx, hashKey, subjectField("carol")).Result(); !n {
		t.Error("a second sweep within the lock's life ran")
	}
}

// A store whose clock is behind Redis's (within ClockSkew) revokes an
// entry that has passed on Redis's clock, though not on its own. The
// hash, new and without an expiry, is not given one in the past, which
// would delete it at once, epoch and all: every store would see a loss,
// and the write-backs would delete it again.
func TestClockBehindRedisKeepsTheHash(t *testing.T) {
	e := newEnv(t)
	e.clock.advance(-revocation.ClockSkew)
	s := e.store()
	e.ready(s)
	c := e.client()
	ctx := context.Background()
	epoch := c.HGet(ctx, hashKey, epochField).Val()
	id := newID()
	r := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Until: e.clock.now().Add(revocation.ClockSkew / 2)}}}
	if err := s.Revoke(ctx, "ada", r); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.HExists(ctx, hashKey, subjectField("ada")).Result(); !n {
		t.Error("the revocation is not in Redis: the write deleted the hash")
	}
	e.keepsEpoch(s, c, epoch)
	if line := e.logs.find(slog.LevelWarn, "revocations lost in Redis"); line != "" {
		t.Errorf("a loss was logged: %s", line)
	}
	if !e.refuses(s, "ada", id) {
		t.Error("the store does not refuse the revoked session")
	}
}

// A generation is kept two ClockSkews past its GenerationUntil, and
// written back meanwhile: the hash's expiry counts that slack, rather
// than falling in the past and deleting the hash at every write-back,
// which would keep a new store from ever trusting it.
func TestGenerationKeptPastItsUntil(t *testing.T) {
	e := newEnv(t)
	a := e.store()
	e.ready(a)
	c := e.client()
	ctx := context.Background()
	// Signed out everywhere a session lifetime ago: the generation no
	// longer refuses, and may be forgotten in a minute and a half.
	until := e.clock.now().Truncate(time.Second).Add(-revocation.ClockSkew / 2)
	want := until.Add(2 * revocation.ClockSkew)
	checkExpiry := func(when string) {
		t.Helper()
		got, err := c.ExpireTime(ctx, hashKey).Result()
		if sec := int64(got / time.Second); err != nil || sec != want.Unix() {
			if got < 0 {
				sec = int64(got) // -1 no expiry, -2 no hash
			}
			t.Errorf("%s: the hash's EXPIRETIME is %d (%v); want %d, when the generation may be forgotten", when, sec, err, want.Unix())
		}
	}
	epoch := c.HGet(ctx, hashKey, epochField).Val()
	if err := a.Revoke(ctx, "bob", revocation.Revoked{Generation: 42, GenerationUntil: until}); err != nil {
		t.Fatal(err)
	}
	checkExpiry("after the Revoke")
	e.keepsEpoch(a, c, epoch)

	if err := c.Del(ctx, hashKey).Err(); err != nil {
		t.Fatal(err)
	}
	fresh := e.store()
	e.waitUntil(5*time.Second, "the generation is written back", func() bool { return e.inRedis(c, "bob").Generation == 42 })
	checkExpiry("after the write-back")
	e.keepsEpoch(a, c, c.HGet(ctx, hashKey, epochField).Val())
	e.ready(fresh)
	if gen, _ := fresh.Generation("bob"); gen != 42 {
		t.Errorf("a store started after the loss holds generation %d of bob's; want 42", gen)
	}
}

// keepsEpoch checks that the hash still holds epoch after three more of
// s's checks: a hash deleted and made again has another.
func (e *env) keepsEpoch(s *Store, c *redis.Client, epoch string) {
	e.t.Helper()
	for range 3 {
		last := s.lastContact.Load()
		e.waitUntil(5*time.Second, "a check of Redis", func() bool { return s.lastContact.Load() > last })
	}
	if got, err := c.HGet(context.Background(), hashKey, epochField).Result(); err != nil || got != epoch {
		e.t.Errorf("the hash's epoch is %q (%v), was %q: the hash was lost", got, err, epoch)
	}
}

// Fields that are not revocations are ignored and reported. A Revoke over
// one leaves it as it is (a later release's format, during a rolling
// deploy, must not be lost) and says so: the revocation holds here.
func TestMalformedFieldsAreIgnored(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	ctx := context.Background()
	if err := c.HSet(ctx, hashKey, subjectField("ada"), "garbage", "stray", "x").Err(); err != nil {
		t.Fatal(err)
	}
	s := e.store()
	e.ready(s)
	if s.Len() != 0 {
		t.Errorf("the replica holds %d entries", s.Len())
	}
	if e.logs.find(slog.LevelWarn, "not revocations", "count=2") == "" {
		t.Error("the malformed fields were not reported")
	}
	r, id := e.destroyed()
	if err := s.Revoke(ctx, "ada", r); err == nil || !strings.Contains(err.Error(), "does not read") {
		t.Errorf("Revoke over a field it cannot read: err %v", err)
	}
	if v, _ := c.HGet(ctx, hashKey, subjectField("ada")).Result(); v != "garbage" {
		t.Errorf("the field was overwritten: %q", v)
	}
	if err := s.Check("ada", id, 0, e.clock.now()); !errors.Is(err, cookiesession.ErrRevoked) {
		t.Errorf("the revocation does not hold here: %v", err)
	}
}

func TestCloseStopsTheStore(t *testing.T) {
	e := newEnv(t)
	s := e.store()
	e.ready(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if h, err := s.Health(); h != revocation.Down || !strings.Contains(fmt.Sprint(err), "closed") {
		t.Errorf("Health after Close = %v, %v", h, err)
	}
	if err := s.WaitReady(context.Background()); err == nil {
		t.Error("WaitReady after Close returned nil")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	for want, o := range map[string]Option{
		"redisstore: WithFailClosedAfter(-1ns): it must be 0 (fail open) or positive":    WithFailClosedAfter(-1),
		"redisstore: WithRevokeTimeout(-1ns): it must be positive, or 0 for the default": WithRevokeTimeout(-1),
		"redisstore: WithPingInterval(-1ns): it must be positive, or 0 for the default":  WithPingInterval(-1),
		"redisstore: New was given a nil Option":                                         nil,
	} {
		if s, err := New(context.Background(), client, o); err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
			if s != nil {
				_ = s.Close()
			}
		}
	}
	if _, err := New(context.Background(), nil); err == nil {
		t.Error("a nil client: err = nil")
	}
	s, err := New(context.Background(), client, WithFailClosedAfter(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.pingInterval != time.Second {
		t.Errorf("the ping interval with WithFailClosedAfter(3s) is %s; want 1s", s.pingInterval)
	}
	if err := s.Revoke(context.Background(), "", revocation.Revoked{Generation: 1}); err == nil {
		t.Error("Revoke without a subject returned nil")
	}
}

// A store started right after Redis lost the hash does not call itself
// ready on the new, empty hash before the instances that hold its entries
// have had two ping intervals to find the loss and write them back: once
// ready, it refuses what was revoked before the loss. So for a store that
// finds the new epoch made by another (its age on Redis's clock, in
// milliseconds, and not yet old).
func TestNewStoreWaitsForWriteBacks(t *testing.T) {
	const pi = 500 * time.Millisecond
	e := newEnv(t)
	_, id := e.readyDestroyed(pi)
	ctx := context.Background()
	c := e.client()
	if err := c.Del(ctx, hashKey).Err(); err != nil {
		t.Fatal(err)
	}
	first := e.store(WithPingInterval(pi))
	e.waitUntil(5*time.Second, "the first new store makes an epoch", func() bool {
		n, _ := c.HExists(ctx, hashKey, epochField).Result()
		return n
	})
	second := e.store(WithPingInterval(pi))
	e.waitUntil(5*time.Second, "both new stores are ready", func() bool {
		ready := 0
		for i, s := range []*Store{first, second} {
			if health(t, s) == revocation.Down {
				continue
			}
			if !e.refuses(s, "ada", id) {
				t.Fatalf("new store %d is ready, and accepts a session revoked before the loss", i+1)
			}
			ready++
		}
		return ready == 2
	})
}

// The store that makes a new hash's epoch trusts it once the epoch is
// twice PingInterval old, not at the ping after that: a new deployment's
// instances are all ready then.
func TestFirstStoreReadyAtTheGrace(t *testing.T) {
	const pi = time.Second
	e := newEnv(t)
	start := time.Now()
	s := e.store(WithPingInterval(pi))
	wait, cancel := context.WithTimeout(context.Background(), 10*pi)
	defer cancel()
	if err := s.WaitReady(wait); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("ready after %s (PingInterval %s)", took.Round(time.Millisecond), pi)
	if took < 2*pi {
		t.Errorf("ready after %s, before the epoch was %s old", took, 2*pi)
	}
	if took >= 3*pi-pi/10 { // the ping after the grace was at 3*pi
		t.Errorf("ready after %s; want soon after %s, not at the next ping", took, 2*pi)
	}
}

// An epoch this package did not write (its age unknown) is taken as old:
// a new store trusts the hash at once, rather than waiting for ever.
func TestForeignEpochIsTrusted(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.client().HSet(ctx, hashKey, epochField, "written-by-hand").Err(); err != nil {
		t.Fatal(err)
	}
	s := e.store(WithPingInterval(time.Minute)) // a young epoch would wait two minutes
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.WaitReady(wait); err != nil {
		t.Fatalf("WaitReady on a hash whose epoch has no age: %v", err)
	}
}

// A load reads every page of HSCAN, not the first only.
func TestLoadReadsEveryPage(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	const n = 3 * scanCount
	r, _ := e.destroyed()
	value := encodeRevoked(r)
	args := make([]any, 0, 2*n)
	for i := range n {
		args = append(args, subjectField("user-"+strconv.Itoa(i)), value)
	}
	if err := c.HSet(ctx, hashKey, args...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, hashKey, epochField, "old").Err(); err != nil {
		t.Fatal(err)
	}
	s := e.store()
	e.ready(s)
	if s.Len() != n {
		t.Errorf("the replica holds %d entries after the load; want %d", s.Len(), n)
	}
}

// A fail-closed store refuses sessions with a subject until its first
// load completes, also while that load waits for write-backs and its
// checks of Redis succeed; sessions without a subject, which nothing
// revokes, it never refuses.
func TestFailClosedWhileTheFirstLoadWaits(t *testing.T) {
	e := newEnv(t)
	// A new hash: the first load waits two intervals, and a check
	// completes after one.
	s := e.store(WithFailClosedAfter(time.Minute), WithPingInterval(500*time.Millisecond))
	if err := s.Check("", newID(), 0, e.clock.now()); err != nil {
		t.Errorf("a session without a subject, before the first load: %v", err)
	}
	e.waitUntil(5*time.Second, "the store is ready", func() bool {
		err := s.Check("ada", newID(), 0, e.clock.now())
		h, herr := s.Health()
		if h == revocation.Down && strings.Contains(herr.Error(), "not loaded") {
			if err == nil {
				t.Fatalf("not loaded (%v), and a session with a subject is accepted", herr)
			}
			return false
		}
		return true
	})
}

// Every check that Redis answers counts as contact: a fail-closed store
// whose Redis answers accepts sessions again after a pause of its clock
// longer than WithFailClosedAfter, and is healthy.
func TestChecksRenewContact(t *testing.T) {
	e := newEnv(t)
	s := e.store(WithFailClosedAfter(time.Second))
	e.ready(s)
	e.clock.advance(time.Hour)
	e.waitUntil(5*time.Second, "a check renews the contact", func() bool {
		return s.Check("ada", newID(), 0, e.clock.now()) == nil && health(t, s) == revocation.Healthy
	})
}

// A write-back that fails is tried again every ping interval for as long
// as Redis refuses it, and Health says Degraded meanwhile, not only until
// the first retry.
func TestWriteBackRetriedWhileRedisIsFull(t *testing.T) {
	e := newEnv(t)
	a := e.store()
	e.ready(a)
	admin := e.client()
	fillRedis(t, admin, "noeviction")
	r, _ := e.destroyed()
	if err := a.Revoke(context.Background(), "ada", r); err == nil {
		t.Fatal("Revoke returned nil with Redis out of memory")
	}
	// Pending from the refusal on: no retry is waited for, since what a
	// full Redis refuses depends on its clients' buffers, which shrink.
	if h := health(t, a); h != revocation.Degraded {
		t.Errorf("Health with a revocation still not written back: %v; want Degraded", h)
	}
	freeRedis(t, admin)
	e.waitUntil(5*time.Second, "the revocation is written back", func() bool {
		return len(e.inRedis(admin, "ada").Sessions) == 1
	})
}

// Revoke writes to Redis even what the replica holds already: the replica
// is only a guess at what Redis holds, which may have lost it unseen.
func TestRevokeWritesWhatTheReplicaHolds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := e.client()
	if err := c.HSet(ctx, hashKey, epochField, "old").Err(); err != nil {
		t.Fatal(err)
	}
	s := e.store(WithPingInterval(time.Minute)) // no check finds the loss meanwhile
	e.ready(s)
	r, _ := e.destroyed()
	if err := s.Revoke(ctx, "ada", r); err != nil {
		t.Fatal(err)
	}
	if err := c.HDel(ctx, hashKey, subjectField("ada")).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, "ada", r); err != nil {
		t.Fatal(err)
	}
	if got := e.inRedis(c, "ada"); !got.Equal(r) {
		t.Errorf("Redis holds %+v of ada after the Revoke; want %+v", got, r)
	}
}

// What Redis holds is expired before a revocation is merged into it: a
// generation there past its slack neither swallows the session revoked
// now nor, extended to it, signs out the subject's other sessions on the
// stores that load the field.
func TestRevokeExpiresWhatRedisHolds(t *testing.T) {
	e := newEnv(t)
	outlived := revocation.Revoked{Generation: 42, GenerationUntil: e.clock.now().Add(-time.Hour)}
	_, c, r, err := e.revokeOver(encodeRevoked(outlived))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.inRedis(c, "ada"); !got.Equal(r) {
		t.Errorf("Redis holds %+v of ada; want only the session revoked, %+v", got, r)
	}
}

// revokeOver starts a ready store on a hash whose field of ada holds
// value, and has the store revoke a session of ada; it returns the store,
// a client, the revocation and Revoke's error.
func (e *env) revokeOver(value string) (*Store, *redis.Client, revocation.Revoked, error) {
	e.t.Helper()
	c := e.client()
	if err := c.HSet(context.Background(), hashKey, epochField, "old", subjectField("ada"), value).Err(); err != nil {
		e.t.Fatal(err)
	}
	s := e.store()
	e.ready(s)
	r, _ := e.destroyed()
	return s, c, r, s.Revoke(context.Background(), "ada", r)
}

// A field this release cannot read (a later release's, during a rolling
// deploy) is left as it is by the write-back too, not only by Revoke.
func TestWriteBackLeavesUnreadableFields(t *testing.T) {
	e := newEnv(t)
	s, c, _, err := e.revokeOver("garbage")
	if err == nil {
		t.Fatal("Revoke over a field it cannot read returned nil")
	}
	e.keepsEpoch(s, c, "old") // a few checks, and their write-backs
	if v, _ := c.HGet(context.Background(), hashKey, subjectField("ada")).Result(); v != "garbage" {
		t.Errorf("the write-back overwrote the field: %q", v)
	}
}
