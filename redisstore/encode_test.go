package redisstore

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

func TestEncodingRoundTrips(t *testing.T) {
	at, until := time.Unix(1_700_000_000, 0), time.Unix(1_700_003_600, 0)
	for _, r := range []cookiesession.Revocation{
		{ID: newID(), At: at, Until: until},
		{Subject: "ada", At: at, Until: until},
		{Subject: "a|b|c", At: at, Until: until},
		{Subject: "line\nbreak", At: at, Until: until},
	} {
		member := encodeMember(r)
		got, ok := decodeMember(member, unix(r.Until))
		if !ok || got.ID != r.ID || got.Subject != r.Subject || !got.At.Equal(r.At) || !got.Until.Equal(r.Until) {
			t.Errorf("member %q: decoded %+v, %v; want %+v", member, got, ok, r)
		}
		msg := encodeMessage(member, unix(r.Until))
		got, ok = decodeMessage(msg)
		if !ok || got.ID != r.ID || got.Subject != r.Subject || !got.At.Equal(r.At) || !got.Until.Equal(r.Until) {
			t.Errorf("message %q: decoded %+v, %v; want %+v", msg, got, ok, r)
		}
	}
	// Times are whole seconds rounded up, as the replica keeps them.
	r := cookiesession.Revocation{ID: newID(), At: at.Add(time.Millisecond), Until: until}
	if got, _ := decodeMember(encodeMember(r), unix(r.Until)); !got.At.Equal(at.Add(time.Second)) {
		t.Errorf("At %v is read back as %v", r.At, got.At)
	}
}

func TestDecodingRefusesOtherText(t *testing.T) {
	id := newID().String()
	for _, member := range []string{
		"", "i", "i|", "i|" + id, "i|" + id + "|", "i|" + id + "|x", "i|" + id[2:] + "|1",
		"i|" + id[:30] + "zz|1", "i|" + id + "|-1", "s|1|", "s|1", "s|x|ada", "x|1|ada", "not a revocation",
	} {
		if r, ok := decodeMember(member, 1_700_000_000); ok {
			t.Errorf("member %q decoded as %+v", member, r)
		}
	}
	if _, ok := decodeMember("s|1|ada", -1); ok {
		t.Error("a negative score decoded")
	}
	for _, msg := range []string{"", "1", "x|s|1|ada", "1|garbage"} {
		if r, ok := decodeMessage(msg); ok {
			t.Errorf("message %q decoded as %+v", msg, r)
		}
	}
}

// newID returns a random session id.
func newID() cookiesession.SessionID {
	var id cookiesession.SessionID
	_, _ = rand.Read(id[:])
	return id
}

func TestBatchRoundTrips(t *testing.T) {
	msgs := []string{encodeMessage("i|00|1", 5), encodeMessage("s|1|ada \"the\" [admin]\nx", 6)}
	got, ok := decodeBatch(encodeBatch(msgs))
	if !ok || len(got) != 2 || got[0] != msgs[0] || got[1] != msgs[1] {
		t.Errorf("batch round trip: %q, %v", got, ok)
	}
	if _, ok := decodeBatch(msgs[0]); ok {
		t.Error("a single message was read as a batch")
	}
}
