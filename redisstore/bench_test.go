package redisstore

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
	"github.com/redis/go-redis/v9"
)

// Run with: go test -run '^$' -bench . -benchmem

// benchEnv is an env whose stores log nothing.
func benchEnv(b *testing.B) *env {
	e := newEnv(b)
	e.logs = nil
	return e
}

// heap returns the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// redisState reports the hash's entries and bytes, and the replica's.
func redisState(b *testing.B, c *redis.Client, s *Store, replicaBytes int64) {
	b.Helper()
	ctx := context.Background()
	fields, err := c.HLen(ctx, hashKey).Result()
	if err != nil {
		b.Fatal(err)
	}
	bytes, err := c.MemoryUsage(ctx, hashKey, 0).Result()
	if err != nil && err != redis.Nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(max(fields-1, 0)), "subjects_in_redis")
	b.ReportMetric(float64(s.Len()), "entries")
	b.ReportMetric(float64(bytes), "redis_bytes")
	b.ReportMetric(float64(max(replicaBytes, 0)), "replica_bytes")
	if n := s.Len(); n > 0 {
		b.ReportMetric(float64(bytes)/float64(n), "redis_B/entry")
		b.ReportMetric(float64(replicaBytes)/float64(n), "replica_B/entry")
	}
}

// BenchmarkCheck measures the request path with 1,000,000 entries in the
// replica and FailClosedAfter set (the accept path reads one atomic and
// the clock): a subject that has revoked sessions, asked about another.
func BenchmarkCheck(b *testing.B) {
	e := benchEnv(b)
	s := e.store(WithFailClosedAfter(time.Hour))
	e.ready(s)
	now := time.Now()
	until := now.Add(25 * time.Hour)
	for i := range 1_000_000 {
		s.replica.Add("user-"+strconv.Itoa(i), revocation.Revoked{
			Sessions: []revocation.RevokedSession{{ID: newID(), Until: until}}}, now)
	}
	if s.Len() != 1_000_000 {
		b.Fatalf("the replica holds %d entries", s.Len())
	}
	id := newID()
	b.Run("Store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s.Check("user-4242", id, 0, now) != nil {
				b.Fatal("refused")
			}
		}
	})
	// The replica alone: what the store adds is the difference.
	b.Run("Replica", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s.replica.Check("user-4242", id, 0, now) != nil {
				b.Fatal("refused")
			}
		}
	})
}

// benchApp is one instance of an application, for benchmarks.
type benchApp struct{ handler http.Handler }

func benchInstance(b *testing.B, s *Store) *benchApp {
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		b.Fatal(err)
	}
	m, err := cookiesession.New[account](keys,
		cookiesession.WithSubject(func(a account) string { return a.User }),
		cookiesession.WithRevocation(s),
		cookiesession.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /visit", func(w http.ResponseWriter, r *http.Request) { m.Get(r).Data.Visit++ })
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) { m.Get(r).Destroy() })
	return &benchApp{m.Handler(mux)}
}

// serve sends a request with cookies, and returns those the response set.
func (a *benchApp) serve(b *testing.B, method, target string, cookies []*http.Cookie) []*http.Cookie {
	req := httptest.NewRequest(method, target, nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		b.Fatalf("%s %s: %d", method, target, rec.Code)
	}
	return rec.Result().Cookies()
}

// BenchmarkAnonymousFlood measures the state 100,000 anonymous visits and
// sign-outs leave: none.
func BenchmarkAnonymousFlood(b *testing.B) {
	e := benchEnv(b)
	s := e.store()
	e.ready(s)
	in := benchInstance(b, s)
	before := heap()
	for b.Loop() {
		for range 100_000 {
			c := in.serve(b, "GET", "/visit", nil)
			in.serve(b, "POST", "/logout", c)
		}
	}
	redisState(b, e.client(), s, int64(heap())-int64(before))
}

// BenchmarkSignOut3Devices measures the state 100,000 signed-in users
// leave, each signing out of 3 devices (3 Revokes of one session id each,
// as Destroy makes), from 16 goroutines.
func BenchmarkSignOut3Devices(b *testing.B) {
	const users = 100_000
	e := benchEnv(b)
	s := e.store()
	e.ready(s)
	before := heap()
	ctx := context.Background()
	for b.Loop() {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for u := w; u < users; u += 16 {
					subject := "user-" + strconv.Itoa(u) + "@example.com"
					for range 3 {
						r := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: newID(), Until: time.Now().Add(24*time.Hour + time.Minute)}}}
						if err := s.Revoke(ctx, subject, r); err != nil {
							b.Error(err)
							return
						}
					}
				}
			}()
		}
		wg.Wait()
	}
	redisState(b, e.client(), s, int64(heap())-int64(before))
}

// BenchmarkWriteBackAfterFlush measures the recovery from FLUSHALL with
// 100,000 subjects: from the flush to every subject back in Redis, with
// PingInterval 100ms (the detection is part of it).
func BenchmarkWriteBackAfterFlush(b *testing.B) {
	const subjects = 100_000
	e := benchEnv(b)
	c := e.client()
	ctx := context.Background()
	until := time.Now().Add(24 * time.Hour)
	for start := 0; start < subjects; start += 1000 {
		p := c.Pipeline()
		for i := start; i < start+1000; i++ {
			r := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: newID(), Until: until}}}
			p.HSet(ctx, hashKey, subjectField("user-"+strconv.Itoa(i)), encodeRevoked(r))
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	s := e.store()
	e.ready(s)
	if s.Len() != subjects {
		b.Fatalf("loaded %d entries", s.Len())
	}
	for b.Loop() {
		if err := c.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		for {
			n, err := c.HLen(ctx, hashKey).Result()
			if err != nil {
				b.Fatal(err)
			}
			if n == subjects+1 {
				break
			}
			time.Sleep(time.Millisecond) // a benchmark's poll, not a test's wait
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/recovery")
}

// BenchmarkPropagation measures Revoke on one of 3 stores to refusal on
// all three, over loopback.
func BenchmarkPropagation(b *testing.B) {
	e := benchEnv(b)
	stores := []*Store{e.store(), e.store(), e.store()}
	e.ready(stores...)
	ctx := context.Background()
	var delays []time.Duration
	i := 0
	for b.Loop() {
		i++
		subject := "user-" + strconv.Itoa(i)
		id := newID()
		r := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Until: time.Now().Add(time.Hour)}}}
		start := time.Now()
		if err := stores[i%3].Revoke(ctx, subject, r); err != nil {
			b.Fatal(err)
		}
		deadline := start.Add(5 * time.Second)
		for _, s := range stores {
			for s.Check(subject, id, 0, time.Now()) == nil {
				if time.Now().After(deadline) {
					b.Fatal("not propagated within 5s")
				}
				// Sleep rather than spin: on a small machine a spinning
				// poller takes the CPU the stores need to receive.
				time.Sleep(20 * time.Microsecond)
			}
		}
		delays = append(delays, time.Since(start))
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2].Microseconds()), "p50_µs")
	b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99_µs")
}
