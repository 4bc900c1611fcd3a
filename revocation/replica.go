package revocation

import (
	"context"
	"sync"
	"time"
)

// Replica is what is revoked of each subject, in memory, each entry
// forgotten once it may be. It is a cookiesession.RevocationStore on its
// own, the Manager's default, whose revocations hold on this instance
// until it restarts; and it is the copy that a store shared by a fleet, or
// kept on disk, holds on every instance, so that Check and Generation never
// wait on the network or the disk. It is bounded by what signed-in users
// did within one session lifetime, and safe for concurrent use. Make one
// with NewReplica.
type Replica struct {
	now      func() time.Time
	mu       sync.RWMutex
	subjects map[string]subjectEntry
	peak     int // the most subjects held since Sweep last copied subjects
}

// subjectEntry is a Revoked as the replica holds it: times in Unix
// seconds, and a Renew's grace as the local time it ends. It is smaller
// than a Revoked, and the replica holds one per signed-out subject.
type subjectEntry struct {
	gen      uint64
	genUntil uint32
	sessions []revokedID
}

type revokedID struct {
	id    SessionID
	until uint32
	// refuseAt is when the id starts being refused, in Unix nanoseconds
	// on this instance's clock: 0 at once, else RenewGrace after this
	// replica first held the entry.
	refuseAt int64
}

// sweepPerAdd is how many subjects each Add examines for expiry. Map
// iteration starts at a random place, so every entry is reached in time
// while entries keep coming; Sweep examines them all.
const sweepPerAdd = 16

// NewReplica returns an empty replica whose clock, for Revoke, is now; a
// nil now is time.Now. Give it the clock given to cookiesession.WithClock,
// so that tests which move that clock move the grace of renewed ids too.
func NewReplica(now func() time.Time) *Replica {
	if now == nil {
		now = time.Now
	}
	return &Replica{now: now, subjects: map[string]subjectEntry{}}
}

// Revoke implements cookiesession.RevocationStore: it adds r as held at
// the replica's now. It never fails, as nothing leaves the process.
func (rp *Replica) Revoke(_ context.Context, subject string, r Revoked) error {
	rp.Add(subject, r, rp.now())
	return nil
}

// Add merges r into what is revoked of subject's sessions, as first held
// at now: a renewed id's grace ends RenewGrace after now. Stores that
// replicate revocations call it for what they receive. It returns the
// subject's entries after the merge.
func (rp *Replica) Add(subject string, r Revoked, now time.Time) Revoked {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	old := rp.subjects[subject]
	// Expire before merging: a generation one side has outlived must not
	// swallow the ids the other revokes under a lower one.
	merged := old.revoked().Expire(now).Merge(r.Expire(now))
	e := subjectEntry{gen: merged.Generation, genUntil: seconds(merged.GenerationUntil)}
	for _, s := range merged.Sessions {
		x := revokedID{id: s.ID, until: seconds(s.Until)}
		if s.Grace {
			x.refuseAt = now.Add(RenewGrace).UnixNano()
			// The grace started when first held, whatever happened to
			// the generation since: restarted when one is forgotten, it
			// would open the renewed cookie again.
			if i := old.index(s.ID); i >= 0 {
				x.refuseAt = old.sessions[i].refuseAt
			}
		}
		e.sessions = append(e.sessions, x)
	}
	if e.gen == 0 && len(e.sessions) == 0 {
		delete(rp.subjects, subject)
	} else {
		rp.subjects[subject] = e
		rp.peak = max(rp.peak, len(rp.subjects))
	}
	rp.sweep(seconds(now), sweepPerAdd)
	return merged
}

// Sweep forgets every entry that may be forgotten at now, and returns the
// memory of a map that shrank.
func (rp *Replica) Sweep(now time.Time) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.sweep(seconds(now), len(rp.subjects))
	// A Go map keeps its buckets when entries go: copy it to give back
	// the memory of a burst, once at least half of it has gone. Not on
	// every Sweep: Check waits meanwhile, and at a million subjects the
	// copy takes longer than the sweep.
	if len(rp.subjects) > rp.peak/2 {
		return
	}
	rp.peak = len(rp.subjects)
	m := make(map[string]subjectEntry, len(rp.subjects))
	for k, v := range rp.subjects {
		m[k] = v
	}
	rp.subjects = m
}

// sweep expires the entries of up to n subjects; rp.mu must be held.
func (rp *Replica) sweep(now uint32, n int) {
	for subject, e := range rp.subjects {
		if n--; n < 0 {
			return
		}
		if e.expired(now) {
			delete(rp.subjects, subject)
		}
	}
}

// expired reports whether every entry of e may be forgotten at now. Partly
// expired entries are trimmed when their subject is next written.
func (e subjectEntry) expired(now uint32) bool {
	// In 64 bits: genUntil is clamped to the largest uint32 (2106), and the
	// sum would wrap around to 1970, forgetting the generation at once.
	if e.gen != 0 && uint64(e.genUntil)+uint64(generationSlack/time.Second) > uint64(now) {
		return false
	}
	for _, s := range e.sessions {
		if s.until > now {
			return false
		}
	}
	return true
}

// index returns the position of id among e's sessions, or -1.
func (e subjectEntry) index(id SessionID) int {
	for i := range e.sessions {
		if e.sessions[i].id == id {
			return i
		}
	}
	return -1
}

// revoked returns e as a Revoked: an id whose grace has begun keeps Grace.
func (e subjectEntry) revoked() Revoked {
	r := Revoked{Generation: e.gen, GenerationUntil: unixTime(uint64(e.genUntil))}
	if e.gen == 0 {
		r.GenerationUntil = time.Time{}
	}
	for _, s := range e.sessions {
		r.Sessions = append(r.Sessions, RevokedSession{ID: s.id, Grace: s.refuseAt != 0, Until: unixTime(uint64(s.until))})
	}
	return r
}

// Check implements cookiesession.RevocationStore. It returns nil if the
// session of subject with this id, sealed with generation, may be used at
// now; an error wrapping ErrReplaced within a renewed id's grace; one
// wrapping ErrRevoked if it is refused. Sessions without a subject are
// never refused: nothing revokes them. It does not allocate.
func (rp *Replica) Check(subject string, id SessionID, generation uint64, now time.Time) error {
	if subject == "" {
		return nil
	}
	rp.mu.RLock()
	e, ok := rp.subjects[subject]
	rp.mu.RUnlock()
	if !ok {
		return nil
	}
	if generation < e.gen && now.Unix() < int64(e.genUntil) {
		return errSignedOutEverywhere
	}
	if i := e.index(id); i >= 0 {
		if at := e.sessions[i].refuseAt; at != 0 && now.UnixNano() < at {
			return errRenewed
		}
		return errSessionRevoked
	}
	return nil
}

// Generation implements cookiesession.RevocationStore: the subject's
// current generation, and how many of its sessions are revoked one by one
// at the replica's now.
func (rp *Replica) Generation(subject string) (uint64, int) {
	now := rp.now().Unix()
	rp.mu.RLock()
	e := rp.subjects[subject]
	rp.mu.RUnlock()
	// Sessions that expired since the subject was last written are still
	// held, and revoke nothing: counted, they would bring forward the
	// MaxRevokedSessions past which every device is signed out.
	n := 0
	for _, s := range e.sessions {
		if int64(s.until) > now {
			n++
		}
	}
	return e.gen, n
}

// Len returns the number of entries held: a generation or a session id
// each, the expired ones not yet swept included.
func (rp *Replica) Len() int {
	rp.mu.RLock()
	defer rp.mu.RUnlock()
	n := 0
	for _, e := range rp.subjects {
		n += len(e.sessions)
		if e.gen != 0 {
			n++
		}
	}
	return n
}

// Subjects returns the number of subjects with entries.
func (rp *Replica) Subjects() int {
	rp.mu.RLock()
	defer rp.mu.RUnlock()
	return len(rp.subjects)
}

// Range calls fn with what is revoked of each subject, until fn returns
// false: stores that replicate revocations use it to write back what their
// shared store lost. It copies the entries first, so that fn, however
// slow, holds up no Check.
func (rp *Replica) Range(fn func(subject string, r Revoked) bool) {
	type pair struct {
		subject string
		e       subjectEntry
	}
	rp.mu.RLock()
	all := make([]pair, 0, len(rp.subjects))
	for k, e := range rp.subjects {
		all = append(all, pair{k, e})
	}
	rp.mu.RUnlock()
	for _, p := range all {
		if !fn(p.subject, p.e.revoked()) {
			return
		}
	}
}
