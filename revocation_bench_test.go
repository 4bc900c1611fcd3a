package cookiesession_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// The request path's check is a map lookup under a read lock, measured
// with a million revoked entries. "request" serves a read-only request
// with and without revocation in the same run (extra-ns/op is the median
// difference of interleaved rounds, within the noise of a request's
// microseconds); "lookup" times the check alone, for ids that are not
// revoked, against an empty store.
func BenchmarkRevocationCheck(b *testing.B) {
	rv := revocation.NewReplica(nil)
	now := time.Now()
	revokedUntil := now.Add(time.Hour)
	for i := range 1_000_000 {
		rv.Add(fmt.Sprint("user", i), revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: randomID(), Until: revokedUntil}}}, now)
	}
	// The benchmark's own subject has entries too: the lookup finds them
	// and compares ids, the most a Check does.
	for range 3 {
		rv.Add("ada", revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: randomID(), Until: revokedUntil}}}, now)
	}
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
			ids[i] = randomID()
		}
		empty := revocation.NewReplica(nil)
		i := 0
		check := func(store *revocation.Replica) func() {
			return func() {
				if store.Check("ada", ids[i%len(ids)], 0, now) != nil {
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
