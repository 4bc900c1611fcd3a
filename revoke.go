package cookiesession

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"time"
)

// The session data never leaves the cookie. What the server keeps is what
// was revoked, each entry only until the sessions it names would have
// expired anyway: a signed-out cookie that was copied stops working.

// SessionID identifies one session: 128 random bits sealed inside its
// cookie, new when the session starts and on every Renew.
type SessionID [16]byte

// String returns the id as 32 hexadecimal digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// newSessionID returns a fresh random id.
func newSessionID() SessionID {
	var id SessionID
	_, _ = rand.Read(id[:]) // never fails: see GenerateSecret
	return id
}

// RenewGrace is how long the id that Renew replaces keeps opening. Requests
// of the same browser that started before the Renew still carry it, and
// must not sign the user out; no response re-issues it (see ErrReplaced).
// A copy of the cookie from before the Renew is refused once it has passed.
const RenewGrace = 10 * time.Second

// Revocation is one entry of a RevocationStore: a session's id, or every
// session of a subject created up to a moment.
type Revocation struct {
	// ID is the revoked session's id; zero in a subject's entry.
	ID SessionID
	// Subject, in a subject's entry, names the user whose sessions are
	// revoked, as the function given to WithSubject names it.
	Subject string
	// At is, in a session's entry, when the revocation takes effect: at
	// once for Destroy, RenewGrace later for Renew. In a subject's entry,
	// the sessions created at or before At are revoked.
	At time.Time
	// Until is when the entry may be forgotten: every session it revokes
	// has expired by then.
	Until time.Time
}

// A RevocationStore holds what was revoked. The Manager calls Revoke when a
// session is destroyed or renewed and from SignOutEverywhere, and Check on
// every request whose cookie opens. Implementations must be safe for
// concurrent use.
//
// Revocations is the in-process store, the default. A store that shares
// revocations between the instances of a fleet (such as the Redis store in
// this repository's redisstore module) keeps a Revocations as its local
// replica, so that Check never waits on the network.
type RevocationStore interface {
	// Revoke records r so that Check on this instance sees it before
	// Revoke returns, and so that the other instances sharing the store
	// see it soon after. It returns an error if r could not be stored
	// where they will see it; it should bound the time it takes itself.
	Revoke(ctx context.Context, r Revocation) error
	// Check returns nil if the session with this id, of this subject
	// (empty if it has none) and created at created, may be used at now,
	// and an error wrapping ErrRevoked if not, or ErrRevocationsUnavailable
	// if it cannot tell and refuses it. It answers from memory.
	Check(id SessionID, subject string, created, now time.Time) error
}

// Revocations is the in-process RevocationStore: revoked session ids and
// subjects' sign-outs, in memory, each forgotten once it expires. Memory is
// bounded by the revocations made within one session lifetime. On its own
// it serves one instance; a fleet shares revocations through a store that
// keeps a Revocations as its replica. Make one with NewRevocations.
type Revocations struct {
	mu       sync.RWMutex
	ids      map[SessionID]span
	subjects map[string]span
}

// span is an entry's times in Unix seconds: 8 bytes rather than the 48 of
// two time.Time, in a map that may hold millions of entries. Seconds fit
// uint32 until 2106.
type span struct{ at, until uint32 }

// sweepPerAdd is how many entries each Add examines for expiry. Map
// iteration starts at a random place, so every entry is reached in time,
// and the expired ones are a small share of the map while entries keep
// coming, without a pause to sweep them all at once.
const sweepPerAdd = 16

// NewRevocations returns an empty in-process store.
func NewRevocations() *Revocations {
	return &Revocations{ids: map[SessionID]span{}, subjects: map[string]span{}}
}

// Revoke adds r. It never fails.
func (rv *Revocations) Revoke(_ context.Context, r Revocation) error {
	rv.Add(r)
	return nil
}

// Add adds r, or widens the entry already held for the same id or subject.
// Stores that replicate revocations call it for the entries they receive.
func (rv *Revocations) Add(r Revocation) {
	s := span{at: seconds(r.At), until: seconds(r.Until)}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if r.Subject != "" {
		if old, ok := rv.subjects[r.Subject]; ok {
			s = span{at: max(old.at, s.at), until: max(old.until, s.until)}
		}
		rv.subjects[r.Subject] = s
	} else {
		if old, ok := rv.ids[r.ID]; ok {
			s = span{at: min(old.at, s.at), until: max(old.until, s.until)}
		}
		rv.ids[r.ID] = s
	}
	// Sweep by the caller's clock (a test's, say), which the entry's time
	// comes from, but never later than the system's: a Renew's entry
	// takes effect in the future.
	rv.sweep(min(s.at, seconds(time.Now())))
}

// sweep deletes the expired entries among a few; rv.mu must be held.
func (rv *Revocations) sweep(now uint32) {
	n := 0
	for id, s := range rv.ids {
		if s.until <= now {
			delete(rv.ids, id)
		}
		if n++; n == sweepPerAdd {
			break
		}
	}
	n = 0
	for sub, s := range rv.subjects {
		if s.until <= now {
			delete(rv.subjects, sub)
		}
		if n++; n == sweepPerAdd {
			break
		}
	}
}

// Check implements RevocationStore.
func (rv *Revocations) Check(id SessionID, subject string, created, now time.Time) error {
	t := seconds(now)
	rv.mu.RLock()
	s, idRevoked := rv.ids[id]
	var sub span
	subRevoked := false
	if subject != "" && len(rv.subjects) > 0 {
		sub, subRevoked = rv.subjects[subject]
	}
	rv.mu.RUnlock()
	if idRevoked && s.at <= t && t < s.until {
		return fmt.Errorf("%w: session %s", ErrRevoked, id)
	}
	if subRevoked && t < sub.until && seconds(created) <= sub.at {
		return fmt.Errorf("%w: every session of its subject created at or before %s was signed out",
			ErrRevoked, time.Unix(int64(sub.at), 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// Len returns the number of entries held, the expired ones not yet swept
// included.
func (rv *Revocations) Len() int {
	rv.mu.RLock()
	defer rv.mu.RUnlock()
	return len(rv.ids) + len(rv.subjects)
}

// Range calls fn for each entry that has not expired at now, until fn
// returns false. Stores that replicate revocations use it to write back
// entries their shared store lost. It copies the entries first, so that
// fn, however slow, holds up no Check.
func (rv *Revocations) Range(now time.Time, fn func(Revocation) bool) {
	t := seconds(now)
	rv.mu.RLock()
	entries := make([]Revocation, 0, len(rv.ids)+len(rv.subjects))
	for id, s := range rv.ids {
		if s.until > t {
			entries = append(entries, Revocation{ID: id, At: s.time(s.at), Until: s.time(s.until)})
		}
	}
	for sub, s := range rv.subjects {
		if s.until > t {
			entries = append(entries, Revocation{Subject: sub, At: s.time(s.at), Until: s.time(s.until)})
		}
	}
	rv.mu.RUnlock()
	for _, r := range entries {
		if !fn(r) {
			return
		}
	}
}

func (span) time(sec uint32) time.Time { return time.Unix(int64(sec), 0) }

// seconds is t in whole Unix seconds, rounded up as sealed times are, and
// clamped to what a span holds.
func seconds(t time.Time) uint32 {
	return uint32(min(max(sealedTime(t).Unix(), 0), math.MaxUint32))
}
