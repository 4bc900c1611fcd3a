package dbsc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Stateless challenges. The server keeps nothing per challenge issued: a
// challenge carries the time it was issued and a MAC, under a key only the
// servers hold, over that time, a nonce, what it is for and the session it
// was issued to:
//
//	raw       = issued (8, Unix seconds, big-endian) | nonce (8) | tag (16)
//	tag       = HMAC-SHA256(key, label | purpose | len(id) (4) | id | issued | nonce)[:16]
//	challenge = base64url(raw), unpadded: ChallengeLength (43) characters
//
// A browser can thus be handed a challenge by any instance and answer any
// other. The nonce makes every challenge distinct, even two issued to one
// session in the same second, so that marking one used (below) never
// refuses the other. 128 bits of tag leave a forger one chance in 2^128
// per try, and tries are only worth anything within the window.
//
// Replay. The MAC proves a challenge was issued by us, for this session
// and purpose, less than a window ago; it cannot prove that it has not
// been answered already. A proof captured in transit or from a log (not
// the key: that stays in the device) can be sent again within the window
// to mint another bound cookie. To stop that, Verify returns a Used: the
// caller records Used.ID until Used.Until, after the proof verified, and
// refuses a challenge whose ID is recorded (cookiesession's revocation
// store can hold it, as a revoked session id, provided such entries do not
// count toward the cap on a subject's revoked sessions: a user who
// refreshes often would be signed out everywhere). Cost: one entry per
// registration or refresh that succeeds, 16 bytes of id and a time (22
// bytes in the revocation store's binary form), kept for window + 2 × skew
// (six minutes with cookiesession's two minutes of skew), and one look-up
// per proof. A fleet whose store propagates entries with a delay leaves a
// replay open for that delay on another instance.

// ChallengeLength is the length of every challenge, in characters.
const ChallengeLength = 43 // base64url of 32 bytes

// MinChallengeKeySize is the shortest key NewChallenges accepts, in bytes:
// the HMAC-SHA256 key should be as long as its output.
const MinChallengeKeySize = 32

// DefaultChallengeWindow is how long a challenge is good for: enough for
// the browser's round trip (Chromium signs and POSTs within tens of
// milliseconds at registration) with room for a slow TPM, short enough
// that a leaked proof is soon worthless.
const DefaultChallengeWindow = 2 * time.Minute

// Limits on NewChallenges' window and skew: a challenge good for longer
// than this is a bearer token more than a challenge.
const maxChallengeWindow = 10 * time.Minute

// challengeLabel separates these MACs from any other use of the key, and
// names the format's version.
const challengeLabel = "cookiesession dbsc challenge v1\x00"

// raw challenge layout.
const (
	issuedSize = 8
	nonceSize  = 8
	tagSize    = 16
	rawSize    = issuedSize + nonceSize + tagSize
)

// Purpose is what a challenge is for. A challenge issued for one purpose
// is refused for the other, so a registration challenge cannot answer a
// refresh and the reverse.
type Purpose uint8

const (
	// PurposeRegistration is for the challenge of a
	// Secure-Session-Registration header; bind it to the session that is
	// being bound (the cookie session's id).
	PurposeRegistration Purpose = 1
	// PurposeRefresh is for the challenge of a Secure-Session-Challenge
	// header; bind it to the DBSC session identifier.
	PurposeRefresh Purpose = 2
)

// Challenges issues and verifies stateless challenges. It is immutable and
// safe for concurrent use.
type Challenges struct {
	keys   [][]byte
	window time.Duration
	skew   time.Duration
}

// Used is what to record of a challenge once a proof over it verified, so
// that it is accepted once (see the package's note on replay).
type Used struct {
	// ID names the challenge: its tag, which no other challenge has. It is
	// shaped like a session id, to be stored beside them.
	ID [16]byte
	// Until is when the record may be forgotten: the challenge is refused
	// as expired by then, on any instance whose clock is within the skew.
	Until time.Time
}

// NewChallenges returns Challenges that issue under keys[0] and verify
// under any of keys, newest first, so that challenges issued just before a
// key rotation still verify. Each key must be at least
// MinChallengeKeySize bytes, derived for this use only (e.g. with HKDF
// from the session keys, under its own label). window is how long a
// challenge is good for (DefaultChallengeWindow is a fair choice), up to
// 10 minutes; skew is how far apart the clocks of the instances may be,
// from 0 to 10 minutes.
func NewChallenges(window, skew time.Duration, keys ...[]byte) (*Challenges, error) {
	if len(keys) == 0 || window <= 0 || window > maxChallengeWindow || skew < 0 || skew > maxChallengeWindow {
		return nil, ErrChallengeConfig
	}
	c := &Challenges{window: window, skew: skew}
	for _, k := range keys {
		if len(k) < MinChallengeKeySize {
			return nil, ErrChallengeConfig
		}
		c.keys = append(c.keys, append([]byte(nil), k...))
	}
	return c, nil
}

// Issue returns a new challenge for purpose and session id, issued at now.
func (c *Challenges) Issue(now time.Time, purpose Purpose, sessionID string) string {
	var raw [rawSize]byte
	binary.BigEndian.PutUint64(raw[:issuedSize], uint64(now.Unix()))
	_, _ = rand.Read(raw[issuedSize : issuedSize+nonceSize]) // never fails (Go 1.24+)
	tag := c.tag(c.keys[0], purpose, sessionID, raw[:issuedSize+nonceSize])
	copy(raw[issuedSize+nonceSize:], tag[:tagSize])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// Verify checks that challenge was issued by Issue, under one of the
// keys, for purpose and session id, and that now is within its window:
// not before its issue time less the skew, nor after the window and skew
// have passed. The tag is compared in constant time. On success, it
// returns what the caller records to accept the challenge only once.
func (c *Challenges) Verify(now time.Time, purpose Purpose, sessionID, challenge string) (Used, error) {
	if len(challenge) != ChallengeLength {
		return Used{}, ErrChallengeMalformed
	}
	raw, ok := decodeB64(challenge)
	if !ok || len(raw) != rawSize {
		return Used{}, ErrChallengeMalformed
	}
	signed, got := raw[:issuedSize+nonceSize], raw[issuedSize+nonceSize:]
	if !c.matches(purpose, sessionID, signed, got) {
		return Used{}, ErrChallengeForged
	}
	// The time is trusted only now that the tag covered it.
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw[:issuedSize])), 0)
	if now.Before(issued.Add(-c.skew)) || now.After(issued.Add(c.window+c.skew)) {
		return Used{}, ErrChallengeExpired
	}
	u := Used{Until: issued.Add(c.window + 2*c.skew)}
	copy(u.ID[:], got)
	return u, nil
}

// matches reports whether got is the tag of signed under any key. Every
// key is tried, whichever matches, so the time taken does not tell which.
func (c *Challenges) matches(purpose Purpose, sessionID string, signed, got []byte) bool {
	ok := false
	for _, k := range c.keys {
		tag := c.tag(k, purpose, sessionID, signed)
		if hmac.Equal(tag[:tagSize], got) {
			ok = true
		}
	}
	return ok
}

// tag computes the full MAC of a challenge; its first tagSize bytes are
// sent. The session id is length-prefixed so that no two (purpose, id)
// pairs feed the MAC the same bytes.
func (c *Challenges) tag(key []byte, purpose Purpose, sessionID string, signed []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(challengeLabel))
	var hdr [5]byte
	hdr[0] = byte(purpose)
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(sessionID)))
	m.Write(hdr[:])
	m.Write([]byte(sessionID))
	m.Write(signed)
	return m.Sum(nil)
}
