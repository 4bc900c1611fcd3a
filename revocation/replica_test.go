package revocation_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// t0 is the tests' fixed now: a time with no fraction of a second, as
// entries hold times in whole seconds.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestReplicaCheck(t *testing.T) {
	rv := revocation.NewReplica(func() time.Time { return t0 })
	destroyed, renewed, other := revocation.NewSessionID(), revocation.NewSessionID(), revocation.NewSessionID()
	until := t0.Add(time.Hour)
	rv.Add("ada", revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: destroyed, Until: until}, {ID: renewed, Grace: true, Until: until}}}, t0)
	rv.Add("bob", revocation.Revoked{Generation: 7, GenerationUntil: until}, t0)
	tests := []struct {
		name    string
		subject string
		id      revocation.SessionID
		gen     uint64
		now     time.Time
		want    error // nil, revocation.ErrRevoked or revocation.ErrReplaced
	}{
		{"destroyed, at once", "ada", destroyed, 0, t0, revocation.ErrRevoked},
		// No clock decides: an instance whose clock is behind the one
		// that revoked refuses all the same.
		{"destroyed, on a clock an hour behind", "ada", destroyed, 0, t0.Add(-time.Hour), revocation.ErrRevoked},
		{"renewed, within the grace", "ada", renewed, 0, t0.Add(revocation.RenewGrace - time.Nanosecond), revocation.ErrReplaced},
		{"renewed, after the grace", "ada", renewed, 0, t0.Add(revocation.RenewGrace), revocation.ErrRevoked},
		{"another id of the subject", "ada", other, 0, t0, nil},
		{"the id under another subject", "bob", destroyed, 7, t0, nil},
		{"no subject: never refused", "", destroyed, 0, t0, nil},
		{"below the subject's generation", "bob", other, 6, t0, revocation.ErrRevoked},
		{"no generation, signed in before any", "bob", other, 0, t0, revocation.ErrRevoked},
		{"at the subject's generation", "bob", other, 7, t0, nil},
		{"above it", "bob", other, 8, t0, nil},
		{"a subject with no entries", "cy", destroyed, 0, t0, nil},
	}
	for _, tt := range tests {
		err := rv.Check(tt.subject, tt.id, tt.gen, tt.now)
		if (tt.want == nil) != (err == nil) || (err != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if errors.Is(err, revocation.ErrReplaced) && errors.Is(err, revocation.ErrRevoked) {
			t.Errorf("%s: %v is both read-only and refused", tt.name, err)
		}
	}
	// Destroy after Renew's grace began refuses at once.
	rv.Add("ada", revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: renewed, Until: until}}}, t0)
	if err := rv.Check("ada", renewed, 0, t0); !errors.Is(err, revocation.ErrRevoked) {
		t.Errorf("renewed, then destroyed: err = %v", err)
	}
	if gen, n := rv.Generation("ada"); gen != 0 || n != 2 {
		t.Errorf("Generation(ada) = %d, %d; want 0, 2", gen, n)
	}
	if gen, n := rv.Generation("bob"); gen != 7 || n != 0 {
		t.Errorf("Generation(bob) = %d, %d; want 7, 0", gen, n)
	}
	if rv.Len() != 3 || rv.Subjects() != 2 {
		t.Errorf("Len %d, Subjects %d; want 3, 2", rv.Len(), rv.Subjects())
	}
}

// The grace of a renewed id starts on each instance when that instance
// first holds the entry: receiving it again, or late, does not move it,
// and a clock behind the revoking instance's does not stretch it.
func TestRenewGraceCountsFromFirstSeen(t *testing.T) {
	rv := revocation.NewReplica(nil)
	id := revocation.NewSessionID()
	r := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Grace: true, Until: t0.Add(time.Hour)}}}
	rv.Add("ada", r, t0)
	rv.Add("ada", r, t0.Add(5*time.Second)) // the same entry, again
	if err := rv.Check("ada", id, 0, t0.Add(revocation.RenewGrace)); !errors.Is(err, revocation.ErrRevoked) {
		t.Errorf("revocation.RenewGrace after first seen: err = %v", err)
	}
}

// Entries are forgotten once they may be, and Sweep gives their memory
// back: memory follows what was revoked within one session lifetime.
func TestReplicaForgetsExpiredEntries(t *testing.T) {
	rv := revocation.NewReplica(nil)
	at := t0
	for i := range 20_000 {
		at = t0.Add(time.Duration(i) * time.Second)
		rv.Add(fmt.Sprint("user", i), revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: revocation.NewSessionID(), Until: at.Add(time.Hour)}}}, at)
	}
	// 3600 entries are live at the end; the sweep on each Add keeps the
	// expired ones a small share of the rest.
	if n := rv.Len(); n > 2*3600 {
		t.Errorf("%d entries held, of which 3600 are live", n)
	}
	rv.Sweep(at)
	live := 0
	rv.Range(func(string, revocation.Revoked) bool { live++; return true })
	if live != 3600 || rv.Len() != 3600 {
		t.Errorf("after Sweep: Range saw %d subjects, Len %d; want 3600", live, rv.Len())
	}
	// Sweep copies the map to give back the memory of a burst that has
	// gone, and only then: Check waits while it holds the lock, and at a
	// million subjects the copy takes longer than the sweep.
	// Averaged over runs: ReadMemStats counts the whole process, and a
	// goroutine of the runtime's or another test's may allocate meanwhile.
	if n := testing.AllocsPerRun(100, func() { rv.Sweep(at) }); n != 0 {
		t.Errorf("Sweep of a map that did not shrink: %v allocations", n)
	}
	at = at.Add(time.Hour)
	rv.Add("last", revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: revocation.NewSessionID(), Until: at.Add(time.Hour)}}}, at)
	if n := mallocs(func() { rv.Sweep(at) }); n == 0 || rv.Len() != 1 {
		t.Errorf("Sweep after a burst of %d subjects went: %d allocations, %d held", 3600, n, rv.Len())
	}
}

// mallocs returns how many heap allocations f made.
func mallocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

// runtimeHeap reads the bytes of live heap objects after a collection.
type runtimeHeap struct{ inUse uint64 }

func (h *runtimeHeap) read() {
	runtime.GC()
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	h.inUse = s.HeapAlloc
}

// BenchmarkReplicaMemory measures the heap an in-process store (and so
// a replica) takes per subject with one revoked session, its name (about
// 10 bytes) included.
func BenchmarkReplicaMemory(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for range b.N {
				var before, after runtimeHeap
				rv := revocation.NewReplica(nil)
				now := time.Now()
				before.read()
				subjects := make([]string, n)
				for i := range subjects {
					subjects[i] = fmt.Sprint("user", i)
				}
				for _, subject := range subjects {
					rv.Add(subject, revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: revocation.NewSessionID(), Until: now.Add(time.Hour)}}}, now)
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

// Generation counts the sessions revoked one by one that are still live at
// the replica's now: the Manager raises the generation past
// MaxRevokedSessions of them, which signs out every device, and sessions
// that expired since the subject was last written revoke nothing.
func TestGenerationCountsLiveSessions(t *testing.T) {
	now := t0
	rv := revocation.NewReplica(func() time.Time { return now })
	var r revocation.Revoked
	for i := range revocation.MaxRevokedSessions {
		until := t0.Add(time.Hour)
		if i == 0 {
			until = t0.Add(3 * time.Hour)
		}
		r.Sessions = append(r.Sessions, revocation.RevokedSession{ID: revocation.NewSessionID(), Until: until})
	}
	rv.Add("ada", r, t0)
	tests := []struct {
		name string
		now  time.Time
		want int
	}{
		{"all live", t0, revocation.MaxRevokedSessions},
		{"a second before most expire", t0.Add(time.Hour - time.Second), revocation.MaxRevokedSessions},
		{"most expired", t0.Add(time.Hour), 1},
		{"all expired", t0.Add(3 * time.Hour), 0},
	}
	for _, tt := range tests {
		now = tt.now
		if _, n := rv.Generation("ada"); n != tt.want {
			t.Errorf("%s: Generation counts %d sessions, want %d", tt.name, n, tt.want)
		}
	}
}

// A generation refuses the sessions sealed below it until its
// GenerationUntil, to the second, and no longer: the sessions it refuses
// have expired by then, and those signed in meanwhile on an instance that
// had forgotten it (its clock ahead) carry a lower generation, which an
// instance whose clock is behind must not refuse.
func TestGenerationRefusesUntilItsUntil(t *testing.T) {
	rv := revocation.NewReplica(func() time.Time { return t0 })
	until := t0.Add(time.Hour)
	rv.Add("bob", revocation.Revoked{Generation: 7, GenerationUntil: until}, t0)
	if err := rv.Check("bob", revocation.NewSessionID(), 6, until.Add(-time.Second)); !errors.Is(err, revocation.ErrRevoked) {
		t.Errorf("a second before GenerationUntil: err = %v", err)
	}
	if err := rv.Check("bob", revocation.NewSessionID(), 6, until); err != nil {
		t.Errorf("at GenerationUntil: err = %v", err)
	}
}

// The replica keeps a generation two ClockSkews past its GenerationUntil,
// as stores do, and then forgets it: Generation still gives it to the
// sessions signed in meanwhile, Range still gives it to the stores that
// write back what they hold.
func TestReplicaKeepsGenerationForItsSlack(t *testing.T) {
	until := t0.Add(time.Hour)
	slack := 2 * revocation.ClockSkew
	now := until.Add(slack - time.Second)
	rv := revocation.NewReplica(func() time.Time { return now })
	rv.Add("bob", revocation.Revoked{Generation: 7, GenerationUntil: until}, t0)
	rv.Sweep(now)
	if gen, _ := rv.Generation("bob"); gen != 7 || rv.Len() != 1 {
		t.Errorf("a second before the slack ends: generation %d, %d entries; want 7, 1", gen, rv.Len())
	}
	now = until.Add(slack)
	rv.Sweep(now)
	if gen, _ := rv.Generation("bob"); gen != 0 || rv.Len() != 0 {
		t.Errorf("once the slack ended: generation %d, %d entries; want 0, 0", gen, rv.Len())
	}
}

// A generation kept past 2106, the last second an entry holds (a lifetime
// of a century), is kept, not forgotten at once as if it had ended in 1970.
func TestReplicaKeepsAGenerationPastWhatItHolds(t *testing.T) {
	rv := revocation.NewReplica(func() time.Time { return t0 })
	rv.Add("bob", revocation.Revoked{Generation: 7, GenerationUntil: t0.AddDate(100, 0, 0)}, t0)
	rv.Sweep(t0)
	if err := rv.Check("bob", revocation.SessionID{1}, 6, t0); !errors.Is(err, revocation.ErrRevoked) {
		t.Errorf("a session under an older generation: %v; want ErrRevoked", err)
	}
}

// What one side has outlived is expired before the merge: a generation
// past its slack, still held or arriving late (a file replayed, a store
// lagging), neither swallows an id revoked since nor signs out the
// subject's other sessions again.
func TestAddExpiresBeforeMerging(t *testing.T) {
	outlived := revocation.Revoked{Generation: 7, GenerationUntil: t0}
	now := t0.Add(time.Hour)
	destroyed, other := revocation.NewSessionID(), revocation.NewSessionID()
	session := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: destroyed, Until: now.Add(time.Hour)}}}
	for name, order := range map[string][2]revocation.Revoked{
		"the generation held":          {outlived, session},
		"the generation arriving late": {session, outlived},
	} {
		rv := revocation.NewReplica(func() time.Time { return now })
		rv.Add("ada", order[0], t0)
		rv.Add("ada", order[1], now)
		if err := rv.Check("ada", destroyed, 0, now); !errors.Is(err, revocation.ErrRevoked) {
			t.Errorf("%s: the destroyed id: err = %v", name, err)
		}
		if err := rv.Check("ada", other, 0, now); err != nil {
			t.Errorf("%s: another session: err = %v", name, err)
		}
		if gen, n := rv.Generation("ada"); gen != 0 || n != 1 {
			t.Errorf("%s: Generation = %d, %d; want 0, 1", name, gen, n)
		}
	}
}

// A renewed id keeps its grace when its entry comes again within it, and
// Range gives it with Grace, for stores to pass on: written without, the
// other instances would refuse the requests already in flight.
func TestRenewedIDKeepsItsGrace(t *testing.T) {
	rv := revocation.NewReplica(nil)
	id := revocation.NewSessionID()
	r := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Grace: true, Until: t0.Add(time.Hour)}}}
	rv.Add("ada", r, t0)
	rv.Add("ada", r, t0.Add(5*time.Second))
	if err := rv.Check("ada", id, 0, t0.Add(revocation.RenewGrace-time.Second)); !errors.Is(err, revocation.ErrReplaced) {
		t.Errorf("within the grace, the entry received again: err = %v", err)
	}
	rv.Range(func(subject string, got revocation.Revoked) bool {
		if !got.Equal(r) {
			t.Errorf("Range: %s %+v, want %+v", subject, got, r)
		}
		return true
	})
}

// The grace of a renewed id counts from when the replica first held it,
// also once the generation it was revoked under has been forgotten.
func TestRenewGraceDoesNotRestartWhenTheGenerationIsForgotten(t *testing.T) {
	rv := revocation.NewReplica(nil)
	id := revocation.NewSessionID()
	day := 24 * time.Hour
	// Signed out everywhere at t0-day; signed in again, then renewed at t0.
	rv.Add("ada", revocation.Revoked{Generation: 7, GenerationUntil: t0,
		Sessions: []revocation.RevokedSession{{ID: id, Grace: true, Until: t0.Add(day)}}}, t0)
	if err := rv.Check("ada", id, 7, t0.Add(revocation.RenewGrace)); !errors.Is(err, revocation.ErrRevoked) {
		t.Fatalf("after the grace: err = %v", err)
	}
	// The generation's slack ends; any write to the subject (a store's
	// trim, another revocation) expires it.
	later := t0.Add(2*revocation.ClockSkew + time.Second)
	rv.Add("ada", revocation.Revoked{}, later)
	if err := rv.Check("ada", id, 7, later); !errors.Is(err, revocation.ErrRevoked) || errors.Is(err, revocation.ErrReplaced) {
		t.Errorf("long after the grace, the generation forgotten: err = %v, want ErrRevoked", err)
	}
}

// Sessions without a subject are never refused, whatever was revoked
// under the empty subject; Range stops when its function says so.
func TestReplicaEdges(t *testing.T) {
	rv := revocation.NewReplica(func() time.Time { return t0 })
	id := revocation.NewSessionID()
	for _, s := range []string{"", "ada", "bob"} {
		rv.Add(s, revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Until: t0.Add(time.Hour)}}}, t0)
	}
	if err := rv.Check("", id, 0, t0); err != nil {
		t.Errorf("a session without a subject: err = %v", err)
	}
	calls := 0
	rv.Range(func(string, revocation.Revoked) bool { calls++; return false })
	if calls != 1 {
		t.Errorf("Range called its function %d times after it returned false", calls)
	}
}
