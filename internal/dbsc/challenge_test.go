package dbsc

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	keyA = bytes.Repeat([]byte{0xa1}, 32)
	keyB = bytes.Repeat([]byte{0xb2}, 32)
	t0   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

const skew = time.Minute

func newChallenges(t testing.TB, keys ...[]byte) *Challenges {
	t.Helper()
	c, err := NewChallenges(DefaultChallengeWindow, skew, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChallengeRoundTrip(t *testing.T) {
	c := newChallenges(t, keyA)
	ch := c.Issue(t0, PurposeRefresh, "sid")
	if len(ch) != ChallengeLength || !isB64URL(ch) {
		t.Fatalf("challenge %q: want %d base64url characters", ch, ChallengeLength)
	}
	// The challenge is safe in a header as it is.
	if _, err := ChallengeHeaderValue(ch, "sid"); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{0, time.Second, DefaultChallengeWindow, DefaultChallengeWindow + skew, -skew} {
		u, err := c.Verify(t0.Add(at), PurposeRefresh, "sid", ch)
		if err != nil {
			t.Fatalf("at issue %+v: %v", at, err)
		}
		if want := t0.Add(DefaultChallengeWindow + 2*skew); !u.Until.Equal(want) {
			t.Fatalf("Until = %v, want %v", u.Until, want)
		}
		if u.ID == ([16]byte{}) {
			t.Fatal("zero ID")
		}
	}
}

// TestChallengeUnique: two challenges for one session in the same second
// differ, and so do their IDs, so marking one used never refuses the
// other; one challenge keeps its ID.
func TestChallengeUnique(t *testing.T) {
	c := newChallenges(t, keyA)
	a, b := c.Issue(t0, PurposeRefresh, "sid"), c.Issue(t0, PurposeRefresh, "sid")
	if a == b {
		t.Fatal("two challenges alike")
	}
	ua, _ := c.Verify(t0, PurposeRefresh, "sid", a)
	ub, _ := c.Verify(t0, PurposeRefresh, "sid", b)
	ua2, _ := c.Verify(t0.Add(time.Second), PurposeRefresh, "sid", a)
	if ua.ID == ub.ID || ua.ID != ua2.ID {
		t.Fatal("IDs do not name challenges one to one")
	}
}

// TestChallengeRotation: a challenge issued before a key rotation verifies
// after it, while the old key is still listed.
func TestChallengeRotation(t *testing.T) {
	old := newChallenges(t, keyA).Issue(t0, PurposeRegistration, "sid")
	rotated := newChallenges(t, keyB, keyA)
	if _, err := rotated.Verify(t0, PurposeRegistration, "sid", old); err != nil {
		t.Fatal(err)
	}
	fresh := rotated.Issue(t0, PurposeRegistration, "sid")
	if _, err := newChallenges(t, keyB).Verify(t0, PurposeRegistration, "sid", fresh); err != nil {
		t.Fatalf("new challenges are not issued under the newest key: %v", err)
	}
	if _, err := newChallenges(t, keyB).Verify(t0, PurposeRegistration, "sid", old); !errors.Is(err, ErrChallengeForged) {
		t.Fatalf("retired key: %v", err)
	}
	// With two keys, a challenge under neither, or altered, is still
	// refused: trying every key must not accept whatever comes.
	keyC := bytes.Repeat([]byte{0xc3}, 32)
	foreign := newChallenges(t, keyC).Issue(t0, PurposeRegistration, "sid")
	raw := mustB64(fresh)
	raw[31] ^= 1
	for _, ch := range []string{foreign, b64(raw)} {
		if _, err := rotated.Verify(t0, PurposeRegistration, "sid", ch); !errors.Is(err, ErrChallengeForged) {
			t.Fatalf("unknown key or altered tag with two keys: %v", err)
		}
	}
	if _, err := rotated.Verify(t0, PurposeRefresh, "sid", old); !errors.Is(err, ErrChallengeForged) {
		t.Fatalf("other purpose under the old key: %v", err)
	}
}

func TestChallengeRefusals(t *testing.T) {
	c := newChallenges(t, keyA)
	ch := c.Issue(t0, PurposeRefresh, "sid")
	raw := mustB64(ch)
	flip := func(i int) string {
		r := append([]byte(nil), raw...)
		r[i] ^= 1
		return b64(r)
	}
	for _, tc := range []struct {
		name      string
		at        time.Time
		purpose   Purpose
		id, value string
		want      error
	}{
		{"empty", t0, PurposeRefresh, "sid", "", ErrChallengeMalformed},
		{"truncated", t0, PurposeRefresh, "sid", ch[:42], ErrChallengeMalformed},
		{"one character more", t0, PurposeRefresh, "sid", ch + "A", ErrChallengeMalformed},
		{"huge", t0, PurposeRefresh, "sid", strings.Repeat("A", 1<<20), ErrChallengeMalformed},
		{"not base64url", t0, PurposeRefresh, "sid", "+" + ch[1:], ErrChallengeMalformed},
		{"padding", t0, PurposeRefresh, "sid", ch[:42] + "=", ErrChallengeMalformed},
		{"non-canonical last character", t0, PurposeRefresh, "sid", ch[:42] + string(nonCanonical(ch[42])), ErrChallengeMalformed},
		{"other session", t0, PurposeRefresh, "sid2", ch, ErrChallengeForged},
		{"session id prefix", t0, PurposeRefresh, "si", ch, ErrChallengeForged},
		{"other session of the same length", t0, PurposeRefresh, "sie", ch, ErrChallengeForged},
		{"other session, empty", t0, PurposeRefresh, "", ch, ErrChallengeForged},
		{"other purpose", t0, PurposeRegistration, "sid", ch, ErrChallengeForged},
		{"time altered", t0, PurposeRefresh, "sid", flip(7), ErrChallengeForged},
		{"nonce altered", t0, PurposeRefresh, "sid", flip(10), ErrChallengeForged},
		{"tag altered", t0, PurposeRefresh, "sid", flip(31), ErrChallengeForged},
		{"expired", t0.Add(DefaultChallengeWindow + skew + time.Second), PurposeRefresh, "sid", ch, ErrChallengeExpired},
		{"long expired", t0.Add(24 * time.Hour), PurposeRefresh, "sid", ch, ErrChallengeExpired},
		{"from the future", t0.Add(-skew - time.Second), PurposeRefresh, "sid", ch, ErrChallengeExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := c.Verify(tc.at, tc.purpose, tc.id, tc.value)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidChallenge) || u != (Used{}) {
				t.Fatalf("Verify = %+v, %v; want %v", u, err, tc.want)
			}
		})
	}
}

// nonCanonical returns another character that decodes the last character
// c of a 43-character base64url string to the same bytes: the two bits
// it carries beyond them set.
func nonCanonical(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return alphabet[strings.IndexByte(alphabet, c)|3]
}

func TestNewChallengesRefusals(t *testing.T) {
	for _, tc := range []struct {
		name         string
		window, skew time.Duration
		keys         [][]byte
	}{
		{"no key", time.Minute, 0, nil},
		{"short key", time.Minute, 0, [][]byte{make([]byte, 31)}},
		{"one short key of two", time.Minute, 0, [][]byte{keyA, make([]byte, 16)}},
		{"zero window", 0, 0, [][]byte{keyA}},
		{"window too long", 11 * time.Minute, 0, [][]byte{keyA}},
		{"negative skew", time.Minute, -time.Second, [][]byte{keyA}},
		{"skew too large", time.Minute, time.Hour, [][]byte{keyA}},
		{"window just too long", maxChallengeWindow + time.Nanosecond, 0, [][]byte{keyA}},
		{"skew just negative", time.Minute, -time.Nanosecond, [][]byte{keyA}},
		{"skew just too large", time.Minute, maxChallengeWindow + time.Nanosecond, [][]byte{keyA}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChallenges(tc.window, tc.skew, tc.keys...)
			if !errors.Is(err, ErrChallengeConfig) || c != nil {
				t.Fatalf("NewChallenges = %v, %v; want ErrChallengeConfig", c, err)
			}
		})
	}
}

// TestChallengeKeysCopied: changing the caller's key slice afterwards
// changes nothing.
func TestChallengeKeysCopied(t *testing.T) {
	k := append([]byte(nil), keyA...)
	c := newChallenges(t, k)
	ch := c.Issue(t0, PurposeRefresh, "sid")
	k[0] ^= 0xff
	if _, err := c.Verify(t0, PurposeRefresh, "sid", ch); err != nil {
		t.Fatal(err)
	}
}

// TestNewChallengesLimits: the bounds themselves are accepted.
func TestNewChallengesLimits(t *testing.T) {
	for _, ws := range [][2]time.Duration{
		{maxChallengeWindow, maxChallengeWindow},
		{time.Nanosecond, 0},
	} {
		if _, err := NewChallenges(ws[0], ws[1], keyA); err != nil {
			t.Errorf("NewChallenges(%v, %v) = %v", ws[0], ws[1], err)
		}
	}
}

// TestChallengeKnownAnswer pins the format: a challenge issued by one
// release (or another instance) under the same key must verify on the
// next, and nothing else may be mixed into the MAC.
func TestChallengeKnownAnswer(t *testing.T) {
	const ch = "AAAAAGmkKkCr1RS4z4jHrwIU3TJcQGnFOClG8MwPaBc" // keyA, t0, PurposeRefresh, "sid"
	c := newChallenges(t, keyA)
	u, err := c.Verify(t0, PurposeRefresh, "sid", ch)
	if err != nil {
		t.Fatalf("known challenge refused: %v", err)
	}
	if want := t0.Add(DefaultChallengeWindow + 2*skew); !u.Until.Equal(want) {
		t.Fatalf("Until = %v, want %v", u.Until, want)
	}
	// Used.ID is the tag, the last 16 bytes.
	if raw := mustB64(ch); !bytes.Equal(u.ID[:], raw[16:]) {
		t.Fatalf("ID = %x, want the tag %x", u.ID, raw[16:])
	}
}
