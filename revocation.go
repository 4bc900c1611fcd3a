package cookiesession

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// The session data never leaves the cookie. What the server keeps is what
// was revoked, and only of signed-in sessions: a session names its user
// through WithSubject, and an anonymous session's copy grants nothing worth
// refusing. Everything revoked of one subject fits one Revoked, capped in
// size, so the state grows with what signed-in users do and never with
// anonymous requests.
//
// No refusal compares two machines' clocks. A destroyed session's id is
// refused from the moment an instance holds its entry; "sign out
// everywhere" raises the subject's generation, and a session is refused if
// the generation sealed into its cookie when it was signed in is lower.
// Times only say when an entry may be forgotten, with ClockSkew to spare.

// SessionID identifies one session: 128 random bits sealed inside its
// cookie, new when the session starts and on every Renew. The zero id is
// that of every session whose cookie carries none: written by a release
// before sessions had ids, or converted from gorilla/sessions.
type SessionID [16]byte

// String returns the id as 32 hexadecimal digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// newSessionID returns a fresh random id.
func newSessionID() SessionID {
	var id SessionID
	_, _ = rand.Read(id[:]) // never fails: see GenerateSecret
	return id
}

// RenewGrace is how long the id that Renew replaces keeps opening on an
// instance, counted from when that instance first holds the revocation.
// Requests of the same browser that started before the Renew still carry
// it, and must not sign the user out. During the grace the old cookie is
// read-only: no response writes it again, renews it or adds to it (see
// ErrReplaced).
const RenewGrace = 10 * time.Second

// MaxRevokedSessions is how many sessions of one subject are revoked one by
// one. Past it, the subject's generation is raised instead, which refuses
// all its sessions at once (every device is signed out), so that what one
// user does cannot grow the server's state without bound.
const MaxRevokedSessions = 32

// Revoked is what is revoked of one subject's sessions. It is what the
// Manager gives a RevocationStore, what stores keep and exchange, and it
// merges: Merge is the one rule by which replicas agree.
type Revoked struct {
	// Generation refuses every session of the subject sealed with a lower
	// generation: SignOutEverywhere raises it. 0 refuses nothing.
	Generation uint64
	// GenerationUntil is when Generation stops refusing: every session
	// it refuses has expired by then. Stores keep it generationSlack
	// longer, so that sessions signed in meanwhile are still sealed with
	// it, and no instance whose clock is behind (within ClockSkew)
	// refuses them.
	GenerationUntil time.Time
	// Sessions are refused one by one, by id, in the order revoked.
	Sessions []RevokedSession
}

// RevokedSession is one session refused by id.
type RevokedSession struct {
	// ID is the session's id. The zero id stands for every session of the
	// subject whose cookie carries none (see SessionID): such sessions
	// cannot be told apart, so ending one ends them all.
	ID SessionID
	// Grace is set by Renew: the id is refused RenewGrace after an
	// instance first holds this entry, rather than at once.
	Grace bool
	// Until is when the entry may be forgotten: the session has expired
	// by then.
	Until time.Time
}

// Merge returns what r and o revoke together. The higher generation wins,
// and the sessions revoked under a lower one are dropped: the generation
// refuses them already, since a session is revoked under a generation at
// least the one its cookie carries. Under equal generations, the sessions
// of both are kept, each with the later Until, and without grace if either
// has none. It is commutative, associative and idempotent, so replicas
// that receive the same entries in any order and any number of times
// agree. Expire both sides before merging them: a generation that one
// side has outlived must not drop what the other revokes.
func (r Revoked) Merge(o Revoked) Revoked {
	switch {
	case o.Generation > r.Generation:
		r, o = o, r
		fallthrough
	case o.Generation < r.Generation:
		// Sessions sealed below r.Generation are refused by it: o's add
		// nothing. r's are kept as they are.
		out := r
		out.GenerationUntil = later(r.GenerationUntil, o.GenerationUntil)
		out.Sessions = slices.Clone(r.Sessions)
		return out
	}
	out := Revoked{Generation: r.Generation, GenerationUntil: later(r.GenerationUntil, o.GenerationUntil)}
	out.Sessions = slices.Clone(r.Sessions)
	for _, s := range o.Sessions {
		i := slices.IndexFunc(out.Sessions, func(x RevokedSession) bool { return x.ID == s.ID })
		if i < 0 {
			out.Sessions = append(out.Sessions, s)
			continue
		}
		x := &out.Sessions[i]
		x.Grace = x.Grace && s.Grace
		x.Until = later(x.Until, s.Until)
	}
	return out
}

// generationSlack is how long a generation is kept past GenerationUntil.
const generationSlack = 2 * ClockSkew

// Expire returns r without the entries that may be forgotten at now.
func (r Revoked) Expire(now time.Time) Revoked {
	out := Revoked{Generation: r.Generation, GenerationUntil: r.GenerationUntil}
	if !now.Before(r.GenerationUntil.Add(generationSlack)) {
		out.Generation, out.GenerationUntil = 0, time.Time{}
	}
	for _, s := range r.Sessions {
		if now.Before(s.Until) {
			out.Sessions = append(out.Sessions, s)
		}
	}
	return out
}

// IsZero reports whether r revokes nothing.
func (r Revoked) IsZero() bool { return r.Generation == 0 && len(r.Sessions) == 0 }

// Covers reports whether r revokes at least what o does, for as long.
func (r Revoked) Covers(o Revoked) bool { return r.Merge(o).Equal(r) }

// Equal reports whether r and o revoke the same, in any order.
func (r Revoked) Equal(o Revoked) bool {
	if r.Generation != o.Generation || seconds(r.GenerationUntil) != seconds(o.GenerationUntil) || len(r.Sessions) != len(o.Sessions) {
		return false
	}
	for _, s := range o.Sessions {
		i := slices.IndexFunc(r.Sessions, func(x RevokedSession) bool { return x.ID == s.ID })
		if i < 0 || r.Sessions[i].Grace != s.Grace || seconds(r.Sessions[i].Until) != seconds(s.Until) {
			return false
		}
	}
	return true
}

// MaxUntil returns when every entry of r may be forgotten: a store may
// drop r then.
func (r Revoked) MaxUntil() time.Time {
	t := r.GenerationUntil
	for _, s := range r.Sessions {
		t = later(t, s.Until)
	}
	return t
}

// The binary form of a Revoked, for stores that write it to disk or send
// it over the network:
//
//	revoked = version(1) | uvarint(generation) | uvarint(generation until)
//	          | uvarint(count) { id(16) | flags | uvarint(until) }
//
// Times are Unix seconds; flags bit 0 is Grace.
const (
	revokedVersion = 1
	revokedGrace   = 1 << 0
)

// errRevokedFormat is why UnmarshalBinary refuses its input.
var errRevokedFormat = errors.New("cookiesession: not a Revoked in binary form")

// AppendBinary appends r in binary form to b.
func (r Revoked) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, revokedVersion)
	b = binary.AppendUvarint(b, r.Generation)
	b = binary.AppendUvarint(b, uint64(seconds(r.GenerationUntil)))
	b = binary.AppendUvarint(b, uint64(len(r.Sessions)))
	for _, s := range r.Sessions {
		b = append(b, s.ID[:]...)
		var flags byte
		if s.Grace {
			flags |= revokedGrace
		}
		b = append(b, flags)
		b = binary.AppendUvarint(b, uint64(seconds(s.Until)))
	}
	return b, nil
}

// MarshalBinary returns r in binary form.
func (r Revoked) MarshalBinary() ([]byte, error) { return r.AppendBinary(nil) }

// UnmarshalBinary sets r from its binary form.
func (r *Revoked) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != revokedVersion {
		return errRevokedFormat
	}
	p := data[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	gen, ok1 := next()
	until, ok2 := next()
	count, ok3 := next()
	if !ok1 || !ok2 || !ok3 || until > math.MaxUint32 || count > uint64(len(p)/(len(SessionID{})+2)) {
		return errRevokedFormat
	}
	out := Revoked{Generation: gen, GenerationUntil: unixTime(until), Sessions: make([]RevokedSession, count)}
	for i := range out.Sessions {
		s := &out.Sessions[i]
		if len(p) < len(s.ID)+1 {
			return errRevokedFormat
		}
		p = p[copy(s.ID[:], p):]
		s.Grace = p[0]&revokedGrace != 0
		p = p[1:]
		u, ok := next()
		if !ok || u > math.MaxUint32 {
			return errRevokedFormat
		}
		s.Until = unixTime(u)
		if slices.ContainsFunc(out.Sessions[:i], func(x RevokedSession) bool { return x.ID == s.ID }) {
			return errRevokedFormat // AppendBinary writes each id once
		}
	}
	if len(p) != 0 {
		return errRevokedFormat
	}
	*r = out
	return nil
}

// A RevocationStore holds what was revoked, by subject. The Manager calls
// Revoke when a signed-in session is destroyed or renewed and from
// SignOutEverywhere, Check on every request whose cookie opens with a
// subject, and Generation when it seals a session for a subject.
// Implementations must be safe for concurrent use.
//
// Revocations is the in-process store; package filestore keeps one on disk,
// for a single instance that restarts. A store shared by a fleet (such as
// this repository's redisstore) keeps a Revocations as its replica, so that
// Check and Generation never wait on the network.
type RevocationStore interface {
	// Revoke merges r into what is revoked of subject's sessions, so that
	// Check on this instance sees it before Revoke returns, and the other
	// instances sharing the store soon after. It returns an error if r
	// could not be stored where they will see it, and should bound the
	// time it takes itself.
	Revoke(ctx context.Context, subject string, r Revoked) error
	// Check returns nil if the session of subject with this id, sealed
	// with this generation, may be used at now; an error wrapping
	// ErrReplaced if its id is within RenewGrace (it may be read, not
	// written); an error wrapping ErrRevoked if it is refused; or one
	// wrapping ErrRevocationsUnavailable if the store cannot tell and
	// refuses it. It answers from memory.
	Check(subject string, id SessionID, generation uint64, now time.Time) error
	// Generation returns the subject's current generation, which a
	// session signed in now is sealed with, and how many of its sessions
	// are revoked one by one.
	Generation(subject string) (generation uint64, sessions int)
}

// NextGeneration returns the generation that signs out every session of a
// subject whose generation is current now: one above current, and at least
// the time in microseconds, so that a generation raised after the last one
// was forgotten is still above every generation a live cookie carries.
func NextGeneration(current uint64, now time.Time) uint64 {
	return max(current+1, uint64(max(now.UnixMicro(), 0)))
}

// Revocations is the in-process RevocationStore, and the replica that
// shared stores keep: what is revoked of each subject, in memory, each
// entry forgotten once it may be. It is bounded by what signed-in users
// did within one session lifetime. Make one with NewRevocations.
type Revocations struct {
	now      func() time.Time
	mu       sync.RWMutex
	subjects map[string]subjectEntry
}

// subjectEntry is a Revoked as the replica holds it: times in Unix
// seconds, and a Renew's grace as the local time it ends.
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

// NewRevocations returns an empty in-process store whose clock (for the
// grace of renewed ids, and expiry) is time.Now.
func NewRevocations() *Revocations { return newRevocations(time.Now) }

func newRevocations(now func() time.Time) *Revocations {
	return &Revocations{now: now, subjects: map[string]subjectEntry{}}
}

// Revoke implements RevocationStore. It never fails.
func (rv *Revocations) Revoke(_ context.Context, subject string, r Revoked) error {
	rv.Add(subject, r, rv.now())
	return nil
}

// Add merges r into what is revoked of subject's sessions, as first held
// at now: a renewed id's grace ends RenewGrace after now. Stores that
// replicate revocations call it for what they receive. It returns the
// subject's entries after the merge.
func (rv *Revocations) Add(subject string, r Revoked, now time.Time) Revoked {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	old := rv.subjects[subject]
	// Expire before merging: a generation one side has outlived must not
	// swallow the ids the other revokes under a lower one.
	merged := old.revoked().Expire(now).Merge(r.Expire(now))
	e := subjectEntry{gen: merged.Generation, genUntil: seconds(merged.GenerationUntil)}
	for _, s := range merged.Sessions {
		x := revokedID{id: s.ID, until: seconds(s.Until)}
		if s.Grace {
			x.refuseAt = now.Add(RenewGrace).UnixNano()
			if i := old.index(s.ID); i >= 0 && old.gen == e.gen {
				x.refuseAt = old.sessions[i].refuseAt // the grace started when first held
			}
		}
		e.sessions = append(e.sessions, x)
	}
	if e.gen == 0 && len(e.sessions) == 0 {
		delete(rv.subjects, subject)
	} else {
		rv.subjects[subject] = e
	}
	rv.sweep(seconds(now), sweepPerAdd)
	return merged
}

// Sweep forgets every entry that may be forgotten at now, and returns the
// memory of a map that shrank.
func (rv *Revocations) Sweep(now time.Time) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.sweep(seconds(now), len(rv.subjects))
	// A Go map keeps its buckets when entries go: copy it to give back
	// the memory of a burst.
	m := make(map[string]subjectEntry, len(rv.subjects))
	for k, v := range rv.subjects {
		m[k] = v
	}
	rv.subjects = m
}

// sweep expires the entries of up to n subjects; rv.mu must be held.
func (rv *Revocations) sweep(now uint32, n int) {
	for subject, e := range rv.subjects {
		if n--; n < 0 {
			return
		}
		if e.expired(now) {
			delete(rv.subjects, subject)
		}
	}
}

// expired reports whether every entry of e may be forgotten at now. Partly
// expired entries are trimmed when their subject is next written.
func (e subjectEntry) expired(now uint32) bool {
	if e.gen != 0 && e.genUntil+uint32(generationSlack/time.Second) > now {
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

// Check implements RevocationStore. Sessions without a subject are never
// refused: nothing revokes them.
func (rv *Revocations) Check(subject string, id SessionID, generation uint64, now time.Time) error {
	if subject == "" {
		return nil
	}
	rv.mu.RLock()
	e, ok := rv.subjects[subject]
	rv.mu.RUnlock()
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

// The errors of Check, made once: Check runs on every request and must
// not allocate.
var (
	errSignedOutEverywhere = fmt.Errorf("%w: every session of its subject was signed out", ErrRevoked)
	errSessionRevoked      = fmt.Errorf("%w: the session was destroyed or renewed", ErrRevoked)
	errRenewed             = fmt.Errorf("%w: the session was renewed; its cookie opens for RenewGrace, read-only", ErrReplaced)
)

// Generation implements RevocationStore.
func (rv *Revocations) Generation(subject string) (uint64, int) {
	rv.mu.RLock()
	e := rv.subjects[subject]
	rv.mu.RUnlock()
	return e.gen, len(e.sessions)
}

// Len returns the number of entries held: a generation or a session id
// each, the expired ones not yet swept included.
func (rv *Revocations) Len() int {
	rv.mu.RLock()
	defer rv.mu.RUnlock()
	n := 0
	for _, e := range rv.subjects {
		n += len(e.sessions)
		if e.gen != 0 {
			n++
		}
	}
	return n
}

// Subjects returns the number of subjects with entries.
func (rv *Revocations) Subjects() int {
	rv.mu.RLock()
	defer rv.mu.RUnlock()
	return len(rv.subjects)
}

// Range calls fn with what is revoked of each subject, until fn returns
// false: stores that replicate revocations use it to write back what their
// shared store lost. It copies the entries first, so that fn, however
// slow, holds up no Check.
func (rv *Revocations) Range(fn func(subject string, r Revoked) bool) {
	type pair struct {
		subject string
		e       subjectEntry
	}
	rv.mu.RLock()
	all := make([]pair, 0, len(rv.subjects))
	for k, e := range rv.subjects {
		all = append(all, pair{k, e})
	}
	rv.mu.RUnlock()
	for _, p := range all {
		if !fn(p.subject, p.e.revoked()) {
			return
		}
	}
}

// Health is how a RevocationStore is doing, for a readiness check.
type Health int

const (
	// Healthy: every revocation made anywhere is enforced here.
	Healthy Health = iota
	// Degraded: the store serves, and enforces what it knows, but may
	// lack recent revocations made elsewhere or may not have stored one
	// made here. Keep the instance in service; look into the cause.
	Degraded
	// Down: the store cannot be trusted to enforce revocations (not
	// loaded yet, or refusing sessions under a fail-closed setting). Take
	// the instance out of service.
	Down
)

// String returns "healthy", "degraded" or "down".
func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Degraded:
		return "degraded"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Health(%d)", int(h))
}

// seconds is t in whole Unix seconds, rounded up as sealed times are, and
// clamped to what an entry holds (until 2106).
func seconds(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	return uint32(min(max(sealedTime(t).Unix(), 0), math.MaxUint32))
}

// unixTime is the time of Unix seconds sec; 0 is the zero time.
func unixTime(sec uint64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0)
}
