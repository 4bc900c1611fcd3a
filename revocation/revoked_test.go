package revocation_test

import (
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

func TestRevokedMerge(t *testing.T) {
	a, b, c := revocation.NewSessionID(), revocation.NewSessionID(), revocation.NewSessionID()
	h1, h2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	const day = 24 * time.Hour // the sessions' lifetime
	tests := []struct {
		name    string
		x, y    revocation.Revoked
		want    revocation.Revoked
		wantIDs []revocation.SessionID
	}{
		{
			name: "sessions of equal generations are joined",
			x:    revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: a, Until: h1}}},
			y:    revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: b, Until: h1}}},
			want: revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: a, Until: h1}, {ID: b, Until: h1}}},
		},
		{
			name: "the same id: the later Until, and no grace if either has none",
			x:    revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: a, Grace: true, Until: h1}}},
			y:    revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: a, Until: h2}}},
			want: revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: a, Until: h2}}},
		},
		{
			name: "a higher generation drops the sessions it refuses already",
			x:    revocation.Revoked{Generation: 1, GenerationUntil: h1, Sessions: []revocation.RevokedSession{{ID: a, Until: h1}}},
			y:    revocation.Revoked{Generation: 2, GenerationUntil: h1, Sessions: []revocation.RevokedSession{{ID: c, Until: h1}}},
			want: revocation.Revoked{Generation: 2, GenerationUntil: h1, Sessions: []revocation.RevokedSession{{ID: c, Until: h1}}},
		},
		{
			name: "the generation is kept until the later of its times",
			x:    revocation.Revoked{Generation: 3, GenerationUntil: h1},
			y:    revocation.Revoked{Generation: 2, GenerationUntil: h2},
			want: revocation.Revoked{Generation: 3, GenerationUntil: h2},
		},
		{
			// A signs the user out everywhere at t0, while Redis is down;
			// B, not having heard, signs them in 10 minutes later under
			// the old generation and destroys that session. The new
			// generation refuses it for as long as B's entry did, not
			// only until A's GenerationUntil: once that passed, the
			// session would open again.
			name: "a higher generation refuses the sessions it drops for as long as they were",
			x:    revocation.Revoked{Generation: 2, GenerationUntil: t0.Add(day + revocation.ClockSkew)},
			y:    revocation.Revoked{Generation: 1, GenerationUntil: h1, Sessions: []revocation.RevokedSession{{ID: a, Until: t0.Add(10*time.Minute + day)}}},
			want: revocation.Revoked{Generation: 2, GenerationUntil: t0.Add(10*time.Minute + day)},
		},
	}
	for _, tt := range tests {
		for _, got := range []revocation.Revoked{tt.x.Merge(tt.y), tt.y.Merge(tt.x), tt.x.Merge(tt.y).Merge(tt.y).Merge(tt.x)} {
			if !got.Equal(tt.want) {
				t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
			}
		}
		if m := tt.x.Merge(tt.y); !m.Covers(tt.x) || !m.Covers(tt.y) {
			t.Errorf("%s: the merge does not cover its parts", tt.name)
		}
	}
}

// Merge is commutative, associative and idempotent, and its result covers
// both sides, over random entries drawn from few generations, ids and
// times, so that they meet: replicas that receive the same entries in any
// order, any number of times, agree.
func TestRevokedMergeLaws(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := []revocation.SessionID{{}, revocation.NewSessionID(), revocation.NewSessionID()}
	at := func() time.Time { return t0.Add(time.Duration(rng.IntN(4)) * time.Hour) }
	random := func() revocation.Revoked {
		var r revocation.Revoked
		if r.Generation = uint64(rng.IntN(3)); r.Generation != 0 {
			r.GenerationUntil = at()
		}
		for _, id := range ids {
			if rng.IntN(2) == 0 {
				r.Sessions = append(r.Sessions, revocation.RevokedSession{ID: id, Grace: rng.IntN(2) == 0, Until: at()})
			}
		}
		return r
	}
	for range 20_000 {
		x, y, z := random(), random(), random()
		xy := x.Merge(y)
		switch {
		case !xy.Equal(y.Merge(x)):
			t.Fatalf("not commutative: %+v, %+v", x, y)
		case !xy.Merge(z).Equal(x.Merge(y.Merge(z))):
			t.Fatalf("not associative: %+v, %+v, %+v", x, y, z)
		case !x.Merge(x).Equal(x) || !xy.Merge(y).Equal(xy):
			t.Fatalf("not idempotent: %+v, %+v", x, y)
		case !xy.Covers(x) || !xy.Covers(y):
			t.Fatalf("the merge of %+v and %+v does not cover them", x, y)
		}
	}
}

func TestRevokedBinaryForm(t *testing.T) {
	r := revocation.Revoked{Generation: revocation.NextGeneration(0, t0), GenerationUntil: t0.Add(time.Hour),
		Sessions: []revocation.RevokedSession{{ID: revocation.NewSessionID(), Grace: true, Until: t0.Add(time.Hour)}, {Until: t0.Add(time.Minute)}}}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got revocation.Revoked
	if err := got.UnmarshalBinary(b); err != nil || !got.Equal(r) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, r)
	}
	for i := range b {
		if err := got.UnmarshalBinary(b[:i]); err == nil {
			t.Errorf("a prefix of %d bytes was accepted", i)
		}
	}
	if err := got.UnmarshalBinary(append(b, 0)); err == nil {
		t.Error("a trailing byte was accepted")
	}
}

// FuzzRevokedUnmarshal feeds arbitrary bytes to Revoked.UnmarshalBinary,
// as a file or another instance could send them: it never panics, and
// what it accepts survives a round trip.
func FuzzRevokedUnmarshal(f *testing.F) {
	seed, _ := revocation.Revoked{Generation: 3, GenerationUntil: t0, Sessions: []revocation.RevokedSession{{ID: revocation.NewSessionID(), Grace: true, Until: t0}}}.MarshalBinary()
	f.Add(seed)
	f.Add([]byte{1, 0, 0, 0}) // version 1, revoking nothing
	f.Fuzz(func(t *testing.T, b []byte) {
		var r revocation.Revoked
		if r.UnmarshalBinary(b) != nil {
			return
		}
		again, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var back revocation.Revoked
		if err := back.UnmarshalBinary(again); err != nil || !back.Equal(r) {
			t.Errorf("%x decoded as %+v, which encodes as %x (%v)", b, r, again, err)
		}
	})
}

// MaxUntil is when a store may drop what it holds of a subject: the
// latest of its times, a generation's counted with the slack it is kept
// for past GenerationUntil. Expire forgets everything then, and not a
// second before: a store that set an earlier expiry would drop a
// generation the replicas still hold and write back.
func TestRevokedMaxUntil(t *testing.T) {
	id := revocation.NewSessionID
	slack := 2 * revocation.ClockSkew
	tests := []struct {
		name string
		r    revocation.Revoked
		want time.Time
	}{
		{"a session outlives the generation and its slack",
			revocation.Revoked{Generation: 2, GenerationUntil: t0.Add(time.Hour),
				Sessions: []revocation.RevokedSession{{ID: id(), Until: t0.Add(3 * time.Hour)}, {ID: id(), Until: t0.Add(2 * time.Hour)}}},
			t0.Add(3 * time.Hour)},
		{"a generation alone: its slack counts",
			revocation.Revoked{Generation: 2, GenerationUntil: t0.Add(time.Hour)},
			t0.Add(time.Hour + slack)},
		{"a session within the generation's slack",
			revocation.Revoked{Generation: 2, GenerationUntil: t0.Add(time.Hour),
				Sessions: []revocation.RevokedSession{{ID: id(), Until: t0.Add(time.Hour + slack/2)}}},
			t0.Add(time.Hour + slack)},
		{"sessions only",
			revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id(), Until: t0.Add(time.Hour)}}},
			t0.Add(time.Hour)},
	}
	for _, tt := range tests {
		got := tt.r.MaxUntil()
		if !got.Equal(tt.want) {
			t.Errorf("%s: MaxUntil = %v, want %v", tt.name, got, tt.want)
		}
		if tt.r.Expire(got.Add(-time.Second)).IsZero() || !tt.r.Expire(got).IsZero() {
			t.Errorf("%s: Expire does not forget everything at MaxUntil (%v), and only then", tt.name, got)
		}
	}
	if got := (revocation.Revoked{}).MaxUntil(); !got.IsZero() {
		t.Errorf("MaxUntil of nothing = %v", got)
	}
}

// What operators and logs see of ids and health.
func TestPrintedForms(t *testing.T) {
	id := revocation.SessionID{0: 0xab, 15: 0x01}
	if got := id.String(); got != "ab000000000000000000000000000001" {
		t.Errorf("SessionID.String = %q", got)
	}
	for h, want := range map[revocation.Health]string{revocation.Healthy: "healthy", revocation.Degraded: "degraded", revocation.Down: "down", revocation.Health(7): "Health(7)"} {
		if got := h.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(h), got, want)
		}
	}
}

// Equal, and so Covers, tell apart what differs in grace or in how long a
// generation refuses: a store that took a renewed id's entry, or a
// shorter generation, for covering a destroyed id's or a longer one would
// not write it, and the other instances would open the session for the
// grace, or once the shorter generation passed.
func TestRevokedEqualSeesGraceAndGenerationUntil(t *testing.T) {
	a := revocation.NewSessionID()
	destroyed := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: a, Until: t0.Add(time.Hour)}}}
	renewed := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: a, Grace: true, Until: t0.Add(time.Hour)}}}
	if renewed.Equal(destroyed) || renewed.Covers(destroyed) {
		t.Error("a renewed id's entry equals or covers the same id destroyed")
	}
	if !destroyed.Covers(renewed) {
		t.Error("a destroyed id's entry does not cover the same id renewed")
	}
	short := revocation.Revoked{Generation: 2, GenerationUntil: t0.Add(time.Hour)}
	long := revocation.Revoked{Generation: 2, GenerationUntil: t0.Add(2 * time.Hour)}
	if short.Equal(long) || short.Covers(long) {
		t.Error("a generation equals or covers the same generation kept longer")
	}
}

// NextGeneration is above the current generation, whatever the clock, and
// at least the time in microseconds: a generation raised after the last
// one was forgotten (the replica then says 0) is still above the one live
// cookies carry.
func TestNextGeneration(t *testing.T) {
	micro := uint64(t0.UnixMicro())
	tests := []struct {
		current uint64
		want    uint64
	}{
		{0, micro},              // forgotten: the clock decides
		{5, micro},              // a small generation: the clock decides
		{micro, micro + 1},      // raised this microsecond already
		{micro + 9, micro + 10}, // raised on a clock ahead of this one
	}
	for _, tt := range tests {
		if got := revocation.NextGeneration(tt.current, t0); got != tt.want {
			t.Errorf("NextGeneration(%d, t0) = %d, want %d", tt.current, got, tt.want)
		}
	}
}

// The binary form refuses what AppendBinary never writes: another version
// (a later release's, during a rolling deploy: a store must not overwrite
// what it cannot read), and times past what an entry holds.
func TestRevokedBinaryFormRefusesOtherForms(t *testing.T) {
	r := revocation.Revoked{Generation: 2, GenerationUntil: t0, Sessions: []revocation.RevokedSession{{ID: revocation.NewSessionID(), Until: t0}}}
	b, _ := r.MarshalBinary()
	other := append([]byte{2}, b[1:]...)
	var got revocation.Revoked
	if err := got.UnmarshalBinary(other); err == nil {
		t.Error("version 2 was accepted")
	}
	tooLate := binary.AppendUvarint(nil, 1<<32) // one second past what seconds hold
	genUntil := append(append([]byte{1, 2}, tooLate...), 0)
	if err := got.UnmarshalBinary(genUntil); err == nil {
		t.Errorf("a generation until %d was accepted: %+v", uint64(1<<32), got)
	}
	until := append(append([]byte{1, 0, 0, 1}, make([]byte, 17)...), tooLate...)
	if err := got.UnmarshalBinary(until); err == nil {
		t.Errorf("a session until %d was accepted: %+v", uint64(1<<32), got)
	}
}

// Times round-trip in whole seconds rounded up, never brought forward (an
// entry that expired a fraction early would let its session open for
// it), clamped to what an entry holds, and the zero time stays zero.
func TestRevokedBinaryFormTimes(t *testing.T) {
	id := revocation.NewSessionID()
	for _, tt := range []struct {
		name  string
		until time.Time
		want  time.Time
	}{
		{"a fraction of a second is rounded up", t0.Add(time.Millisecond), t0.Add(time.Second)},
		{"whole seconds are kept", t0, t0},
		{"past 2106, clamped to its last second", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(1<<32-1, 0)},
	} {
		b, _ := revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: id, Until: tt.until}}}.MarshalBinary()
		var got revocation.Revoked
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !got.Sessions[0].Until.Equal(tt.want) {
			t.Errorf("%s: Until %v read back as %v, want %v", tt.name, tt.until, got.Sessions[0].Until, tt.want)
		}
		if !got.GenerationUntil.IsZero() || !got.MaxUntil().Equal(tt.want) {
			t.Errorf("%s: no generation read back as until %v (MaxUntil %v)", tt.name, got.GenerationUntil, got.MaxUntil())
		}
	}
}

// An id listed twice is refused, wherever the second one is: AppendBinary
// writes each once, so such a list is damage, not a revocation.
func TestRevokedBinaryFormRefusesAnIDTwice(t *testing.T) {
	r := longRevoked(1000)
	for _, at := range []int{1, 500, 999} {
		dup := revocation.Revoked{Sessions: slices.Clone(r.Sessions)}
		dup.Sessions[at].ID = dup.Sessions[at-1].ID
		b, _ := dup.MarshalBinary()
		var got revocation.Revoked
		if err := got.UnmarshalBinary(b); err == nil {
			t.Errorf("id %d listed again at %d was accepted", at-1, at)
		}
	}
}

// BenchmarkRevokedUnmarshalLong reads a list of 20,000 revoked sessions,
// as a store reads a field it did not write: the cost grows with the
// list, not with its square.
func BenchmarkRevokedUnmarshalLong(b *testing.B) {
	data, _ := longRevoked(20_000).MarshalBinary()
	b.ReportAllocs()
	for b.Loop() {
		var r revocation.Revoked
		if err := r.UnmarshalBinary(data); err != nil {
			b.Fatal(err)
		}
	}
}

// longRevoked returns a Revoked of n distinct sessions.
func longRevoked(n int) revocation.Revoked {
	r := revocation.Revoked{Sessions: make([]revocation.RevokedSession, n)}
	for i := range r.Sessions {
		r.Sessions[i] = revocation.RevokedSession{ID: revocation.NewSessionID(), Until: t0}
	}
	return r
}
