package redisstore

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// newID returns a random session id.
func newID() revocation.SessionID {
	var id revocation.SessionID
	_, _ = rand.Read(id[:])
	return id
}

// A message carries any subject, whatever its bytes, and the state of
// each subject of a batch, so that what one instance sends is what the
// others merge.
func TestMessagesRoundTrip(t *testing.T) {
	until := time.Unix(1_700_003_600, 0)
	states := []entry{
		{"ada", revocation.Revoked{Sessions: []revocation.RevokedSession{{ID: newID(), Until: until}}}},
		{"bob|admin:s:\x00\n", revocation.Revoked{Generation: 1_700_000_000_000_000, GenerationUntil: until}},
		{"ünïcode user@example.com", revocation.Revoked{Generation: 7, GenerationUntil: until,
			Sessions: []revocation.RevokedSession{{ID: newID(), Grace: true, Until: until}}}},
	}
	var batch messageWriter
	for _, e := range states {
		one, err := decodeMessage(encodeMessage(e.subject, encodeRevoked(e.revoked)))
		if err != nil || len(one) != 1 || one[0].subject != e.subject || !one[0].revoked.Equal(e.revoked) {
			t.Errorf("%q: decoded %+v, %v", e.subject, one, err)
		}
		batch.add(e.subject, encodeRevoked(e.revoked))
	}
	got, err := decodeMessage(batch.String())
	if err != nil || len(got) != len(states) {
		t.Fatalf("batch: %d entries, %v", len(got), err)
	}
	for i := range got {
		if got[i].subject != states[i].subject || !got[i].revoked.Equal(states[i].revoked) {
			t.Errorf("batch entry %d: %+v; want %+v", i, got[i], states[i])
		}
	}
}

// Anything that is not a message of this version is refused whole, rather
// than half applied.
func TestMessagesRefuseOtherBytes(t *testing.T) {
	good := encodeMessage("ada", encodeRevoked(revocation.Revoked{Generation: 1, GenerationUntil: time.Unix(1_700_000_000, 0)}))
	for name, msg := range map[string]string{
		"empty":           "",
		"other version":   "\x02" + good[1:],
		"old text format": "1700000000|i|00|1",
		"truncated":       good[:len(good)-1],
		"trailing byte":   good + "x",
		"empty subject":   "\x01\x00\x00",
		"length too long": "\x01\x7fada",
		"not a Revoked":   "\x01\x03ada\x02zz",
	} {
		if got, err := decodeMessage(msg); err == nil {
			t.Errorf("%s: decoded %+v", name, got)
		}
	}
}

func TestFieldsNameSubjects(t *testing.T) {
	for _, subject := range []string{"ada", "s:nested", "epoch"} {
		if got, ok := fieldSubject(subjectField(subject)); !ok || got != subject {
			t.Errorf("%q: field %q read back as %q, %v", subject, subjectField(subject), got, ok)
		}
	}
	for _, field := range []string{epochField, "s:", "other"} {
		if got, ok := fieldSubject(field); ok {
			t.Errorf("field %q read as subject %q", field, got)
		}
	}
}

// The hash's expiry is never before its entries': Redis's EXPIREAT takes
// whole seconds, and a time within a second is rounded up.
func TestExpiryRoundsUp(t *testing.T) {
	s := &Store{}
	for _, tt := range []struct {
		until time.Time
		want  int64
	}{
		{time.Unix(100, 0), 100},
		{time.Unix(100, 1), 101},
		{time.Unix(100, 999_999_999), 101},
		{time.Time{}, 0},
	} {
		if at := s.casArgs("f", "", "v", tt.until, "")[3]; at != tt.want {
			t.Errorf("until %v: expire at %v, want %d", tt.until, at, tt.want)
		}
	}
}
