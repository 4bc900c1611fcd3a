package redisstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/redis/go-redis/v9"
)

// fill adds n live revocations to Redis directly, as n Revoke calls made
// over the last session lifetime would have: one in 20 a subject's, the
// others sessions', expiring from one hour to a day from now.
func fill(b *testing.B, c *redis.Client, now time.Time, n int) {
	b.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += writeBatch {
		zs := make([]redis.Z, 0, writeBatch)
		for i := start; i < min(start+writeBatch, n); i++ {
			r := cookiesession.Revocation{ID: newID(), At: now, Until: now.Add(time.Hour + time.Duration(i%86400)*time.Second)}
			if i%20 == 0 {
				r = cookiesession.Revocation{Subject: fmt.Sprintf("user-%d@example.com", i), At: now, Until: r.Until}
			}
			zs = append(zs, redis.Z{Score: float64(unix(r.Until)), Member: encodeMember(r)})
		}
		if err := c.ZAdd(ctx, DefaultPrefix+":entries", zs...).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func quietOptions() Options {
	return Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// BenchmarkStartupLoad100k measures a new Store's start: from New to
// ready, with 100,000 revocations in Redis, and the heap its replica takes
// per entry.
func BenchmarkStartupLoad100k(b *testing.B) {
	const n = 100_000
	e := newEnv(b)
	client := e.client()
	fill(b, client, time.Now(), n)
	ctx := context.Background()
	var heap uint64
	for b.Loop() {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()

		s, err := New(ctx, client, quietOptions())
		if err != nil {
			b.Fatal(err)
		}
		wait, cancel := context.WithTimeout(ctx, time.Minute)
		if err := s.WaitReady(wait); err != nil {
			b.Fatal(err)
		}
		cancel()

		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - before.HeapAlloc
		if s.Len() != n {
			b.Fatalf("loaded %d entries, want %d", s.Len(), n)
		}
		_ = s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/n, "B/entry")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
}

// BenchmarkWriteBack100k measures the recovery from a Redis restart that
// lost 100,000 revocations a store still knows: from the restart to the
// store ready again, every entry written back and announced.
func BenchmarkWriteBack100k(b *testing.B) {
	const n = 100_000
	e := newEnv(b)
	client := e.client()
	fill(b, client, time.Now(), n)
	ctx := context.Background()
	s, err := New(ctx, client, quietOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e.ready(s)
	for b.Loop() {
		b.StopTimer()
		e.srv.stop()
		for s.Ready() == nil {
			time.Sleep(time.Millisecond) // a benchmark's set-up, not a test's wait
		}
		e.srv.start()
		b.StartTimer()
		e.ready(s)
	}
	b.StopTimer()
	if got, err := client.ZCard(ctx, DefaultPrefix+":entries").Result(); err != nil || got != n {
		b.Fatalf("Redis holds %d entries after the write-back (%v); want %d", got, err, n)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/recovery")
}

// BenchmarkCheck measures the request-path check of a Store against the
// replica's own, with 100,000 entries and FailClosedAfter set: the store
// adds one atomic load.
func BenchmarkCheck(b *testing.B) {
	const n = 100_000
	e := newEnv(b)
	opts := quietOptions()
	opts.FailClosedAfter = time.Hour
	s := e.store(opts)
	e.ready(s)
	now := time.Now()
	for i := range n {
		s.replica.Add(cookiesession.Revocation{ID: newID(), At: now, Until: now.Add(time.Duration(1+i) * time.Second)})
	}
	id, created := newID(), now.Add(-time.Minute)
	b.Run("Revocations", func(b *testing.B) {
		for b.Loop() {
			if s.replica.Check(id, "ada", created, now) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("Store", func(b *testing.B) {
		for b.Loop() {
			if s.Check(id, "ada", created, now) != nil {
				b.Fatal("refused")
			}
		}
	})
}
