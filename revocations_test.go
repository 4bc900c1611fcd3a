package cookiesession_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// The in-process RevocationStore, Revocations, and Revoked, what stores
// keep and exchange: on their own, through their exported methods.

func TestRevocationsCheck(t *testing.T) {
	rv := NewRevocations()
	destroyed, renewed, other := randomID(), randomID(), randomID()
	until := t0.Add(time.Hour)
	rv.Add("ada", Revoked{Sessions: []RevokedSession{{ID: destroyed, Until: until}, {ID: renewed, Grace: true, Until: until}}}, t0)
	rv.Add("bob", Revoked{Generation: 7, GenerationUntil: until}, t0)
	tests := []struct {
		name    string
		subject string
		id      SessionID
		gen     uint64
		now     time.Time
		want    error // nil, ErrRevoked or ErrReplaced
	}{
		{"destroyed, at once", "ada", destroyed, 0, t0, ErrRevoked},
		// No clock decides: an instance whose clock is behind the one
		// that revoked refuses all the same.
		{"destroyed, on a clock an hour behind", "ada", destroyed, 0, t0.Add(-time.Hour), ErrRevoked},
		{"renewed, within the grace", "ada", renewed, 0, t0.Add(RenewGrace - time.Nanosecond), ErrReplaced},
		{"renewed, after the grace", "ada", renewed, 0, t0.Add(RenewGrace), ErrRevoked},
		{"another id of the subject", "ada", other, 0, t0, nil},
		{"the id under another subject", "bob", destroyed, 7, t0, nil},
		{"no subject: never refused", "", destroyed, 0, t0, nil},
		{"below the subject's generation", "bob", other, 6, t0, ErrRevoked},
		{"no generation, signed in before any", "bob", other, 0, t0, ErrRevoked},
		{"at the subject's generation", "bob", other, 7, t0, nil},
		{"above it", "bob", other, 8, t0, nil},
		{"a subject with no entries", "cy", destroyed, 0, t0, nil},
	}
	for _, tt := range tests {
		err := rv.Check(tt.subject, tt.id, tt.gen, tt.now)
		if (tt.want == nil) != (err == nil) || (err != nil && !errors.Is(err, tt.want)) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if errors.Is(err, ErrReplaced) && errors.Is(err, ErrRevoked) {
			t.Errorf("%s: %v is both read-only and refused", tt.name, err)
		}
	}
	// Destroy after Renew's grace began refuses at once.
	rv.Add("ada", Revoked{Sessions: []RevokedSession{{ID: renewed, Until: until}}}, t0)
	if err := rv.Check("ada", renewed, 0, t0); !errors.Is(err, ErrRevoked) {
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
	rv := NewRevocations()
	id := randomID()
	r := Revoked{Sessions: []RevokedSession{{ID: id, Grace: true, Until: t0.Add(time.Hour)}}}
	rv.Add("ada", r, t0)
	rv.Add("ada", r, t0.Add(5*time.Second)) // the same entry, again
	if err := rv.Check("ada", id, 0, t0.Add(RenewGrace)); !errors.Is(err, ErrRevoked) {
		t.Errorf("RenewGrace after first seen: err = %v", err)
	}
}

func TestRevokedMerge(t *testing.T) {
	a, b, c := randomID(), randomID(), randomID()
	h1, h2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	tests := []struct {
		name    string
		x, y    Revoked
		want    Revoked
		wantIDs []SessionID
	}{
		{
			name: "sessions of equal generations are joined",
			x:    Revoked{Sessions: []RevokedSession{{ID: a, Until: h1}}},
			y:    Revoked{Sessions: []RevokedSession{{ID: b, Until: h1}}},
			want: Revoked{Sessions: []RevokedSession{{ID: a, Until: h1}, {ID: b, Until: h1}}},
		},
		{
			name: "the same id: the later Until, and no grace if either has none",
			x:    Revoked{Sessions: []RevokedSession{{ID: a, Grace: true, Until: h1}}},
			y:    Revoked{Sessions: []RevokedSession{{ID: a, Until: h2}}},
			want: Revoked{Sessions: []RevokedSession{{ID: a, Until: h2}}},
		},
		{
			name: "a higher generation drops the sessions it refuses already",
			x:    Revoked{Generation: 1, GenerationUntil: h1, Sessions: []RevokedSession{{ID: a, Until: h1}}},
			y:    Revoked{Generation: 2, GenerationUntil: h1, Sessions: []RevokedSession{{ID: c, Until: h1}}},
			want: Revoked{Generation: 2, GenerationUntil: h1, Sessions: []RevokedSession{{ID: c, Until: h1}}},
		},
		{
			name: "the generation is kept until the later of its times",
			x:    Revoked{Generation: 3, GenerationUntil: h1},
			y:    Revoked{Generation: 2, GenerationUntil: h2},
			want: Revoked{Generation: 3, GenerationUntil: h2},
		},
	}
	for _, tt := range tests {
		for _, got := range []Revoked{tt.x.Merge(tt.y), tt.y.Merge(tt.x), tt.x.Merge(tt.y).Merge(tt.y).Merge(tt.x)} {
			if !got.Equal(tt.want) {
				t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
			}
		}
		if m := tt.x.Merge(tt.y); !m.Covers(tt.x) || !m.Covers(tt.y) {
			t.Errorf("%s: the merge does not cover its parts", tt.name)
		}
	}
}

func TestRevokedBinaryForm(t *testing.T) {
	r := Revoked{Generation: NextGeneration(0, t0), GenerationUntil: t0.Add(time.Hour),
		Sessions: []RevokedSession{{ID: randomID(), Grace: true, Until: t0.Add(time.Hour)}, {Until: t0.Add(time.Minute)}}}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Revoked
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

// Entries are forgotten once they may be, and Sweep gives their memory
// back: memory follows what was revoked within one session lifetime.
func TestRevocationsForgetExpiredEntries(t *testing.T) {
	rv := NewRevocations()
	at := t0
	for i := range 20_000 {
		at = t0.Add(time.Duration(i) * time.Second)
		rv.Add(fmt.Sprint("user", i), Revoked{Sessions: []RevokedSession{{ID: randomID(), Until: at.Add(time.Hour)}}}, at)
	}
	// 3600 entries are live at the end; the sweep on each Add keeps the
	// expired ones a small share of the rest.
	if n := rv.Len(); n > 2*3600 {
		t.Errorf("%d entries held, of which 3600 are live", n)
	}
	rv.Sweep(at)
	live := 0
	rv.Range(func(string, Revoked) bool { live++; return true })
	if live != 3600 || rv.Len() != 3600 {
		t.Errorf("after Sweep: Range saw %d subjects, Len %d; want 3600", live, rv.Len())
	}
}

// MaxUntil is when a store may drop what it holds of a subject: the
// latest of its times.
func TestRevokedMaxUntil(t *testing.T) {
	r := Revoked{Generation: 2, GenerationUntil: t0.Add(time.Hour),
		Sessions: []RevokedSession{{ID: randomID(), Until: t0.Add(3 * time.Hour)}, {ID: randomID(), Until: t0.Add(2 * time.Hour)}}}
	if got := r.MaxUntil(); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Errorf("MaxUntil = %v, want %v", got, t0.Add(3*time.Hour))
	}
	if got := (Revoked{}).MaxUntil(); !got.IsZero() {
		t.Errorf("MaxUntil of nothing = %v", got)
	}
}

// What operators and logs see of ids and health.
func TestPrintedForms(t *testing.T) {
	id := SessionID{0: 0xab, 15: 0x01}
	if got := id.String(); got != "ab000000000000000000000000000001" {
		t.Errorf("SessionID.String = %q", got)
	}
	for h, want := range map[Health]string{Healthy: "healthy", Degraded: "degraded", Down: "down", Health(7): "Health(7)"} {
		if got := h.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(h), got, want)
		}
	}
}
