package revocation

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"time"
)

// SessionID identifies one session: 128 random bits sealed inside its
// cookie, new when the session starts and on every Renew. The zero id is
// that of every session whose cookie carries none: written by a release
// before sessions had ids, or converted from gorilla/sessions.
type SessionID [16]byte

// String returns the id as 32 hexadecimal digits.
func (id SessionID) String() string { return hex.EncodeToString(id[:]) }

// NewSessionID returns a fresh random id. It is exported for the Manager,
// which starts sessions, and for stores' tests; a store never makes ids.
func NewSessionID() SessionID {
	var id SessionID
	// crypto/rand.Read never returns an error: if the system's source
	// fails, the program crashes rather than use a guessable id.
	_, _ = rand.Read(id[:])
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

// ClockSkew is how far apart the clocks of instances that share a store
// may be. No refusal here depends on it: it is the margin by which a
// generation is kept past when it may be forgotten (see
// Revoked.GenerationUntil), so that an instance whose clock is behind
// does not refuse sessions signed in meanwhile. cookiesession.ClockSkew,
// which bounds how far in the future a cookie's issue time may lie, is
// this value. Two minutes: instances a minute apart (a virtual machine
// resumed, a host that lost NTP) still serve each other's sessions, with
// as much again to spare.
const ClockSkew = 2 * time.Minute

// Revoked is what is revoked of one subject's sessions. It is what the
// Manager gives a RevocationStore, what stores keep and exchange, and it
// merges: Merge is the one rule by which replicas agree.
type Revoked struct {
	// Generation refuses every session of the subject sealed with a lower
	// generation: SignOutEverywhere raises it. 0 refuses nothing.
	Generation uint64
	// GenerationUntil is when Generation stops refusing: every session
	// it refuses has expired by then. Stores keep it two ClockSkews
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
// refuses them, since a session is revoked under a generation at least the
// one its cookie carries. It refuses them until its GenerationUntil, which
// is extended to the latest Until among them: an instance that had not
// heard of the higher generation (its store unreachable) may have signed a
// session in meanwhile, and revoked it until after then. Under equal
// generations, the sessions of both are kept, each with the later Until,
// and without grace if either has none. It is commutative, associative
// and idempotent, so replicas that receive the same entries in any order
// and any number of times agree. Expire both sides before merging them: a
// generation that one side has outlived must not drop what the other
// revokes.
func (r Revoked) Merge(o Revoked) Revoked {
	switch {
	case o.Generation > r.Generation:
		r, o = o, r
		fallthrough
	case o.Generation < r.Generation:
		// Sessions sealed below r.Generation are refused by it, for as
		// long as o refuses them: o's add nothing else. r's are kept as
		// they are.
		out := r
		out.GenerationUntil = later(r.GenerationUntil, o.GenerationUntil)
		for _, s := range o.Sessions {
			out.GenerationUntil = later(out.GenerationUntil, s.Until)
		}
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

// generationSlack is how long a generation is kept past GenerationUntil,
// for the sessions signed in meanwhile and the clocks behind (see
// Revoked.GenerationUntil).
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

// Equal reports whether r and o revoke the same, in any order. Times are
// compared in whole seconds, as the binary form holds them.
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

// MaxUntil returns when Expire forgets every entry of r: a store may drop
// r then, and not before. The generation counts until two ClockSkews past
// GenerationUntil, for as long as stores keep it (see GenerationUntil).
func (r Revoked) MaxUntil() time.Time {
	var t time.Time
	if !r.GenerationUntil.IsZero() {
		t = r.GenerationUntil.Add(generationSlack)
	}
	for _, s := range r.Sessions {
		t = later(t, s.Until)
	}
	return t
}

// NextGeneration returns the generation that signs out every session of a
// subject whose generation is current now: one above current, and at least
// the time in microseconds, so that a generation raised after the last one
// was forgotten is still above every generation a live cookie carries.
func NextGeneration(current uint64, now time.Time) uint64 {
	return max(current+1, uint64(max(now.UnixMicro(), 0)))
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

// errFormat is why UnmarshalBinary refuses its input: another version,
// truncated, trailing bytes, or an id listed twice.
var errFormat = errors.New("revocation: not a Revoked in binary form")

// AppendBinary appends r in binary form to b. It never fails; the error
// is that of encoding.BinaryAppender.
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

// UnmarshalBinary sets r from its binary form. It returns an error, and
// leaves r as it was, if data is not a Revoked as AppendBinary writes it.
func (r *Revoked) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != revokedVersion {
		return errFormat
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
	// A count the remaining bytes cannot hold is refused before the
	// slice is made: the input may come from anywhere.
	if !ok1 || !ok2 || !ok3 || until > math.MaxUint32 || count > uint64(len(p)/(len(SessionID{})+2)) {
		return errFormat
	}
	out := Revoked{Generation: gen, GenerationUntil: unixTime(until), Sessions: make([]RevokedSession, count)}
	seen := make(map[SessionID]bool, count) // linear: a long list costs no more than reading it
	for i := range out.Sessions {
		s := &out.Sessions[i]
		if len(p) < len(s.ID)+1 {
			return errFormat
		}
		p = p[copy(s.ID[:], p):]
		s.Grace = p[0]&revokedGrace != 0
		p = p[1:]
		u, ok := next()
		if !ok || u > math.MaxUint32 {
			return errFormat
		}
		s.Until = unixTime(u)
		if seen[s.ID] {
			return errFormat // AppendBinary writes each id once
		}
		seen[s.ID] = true
	}
	if len(p) != 0 {
		return errFormat
	}
	*r = out
	return nil
}

// seconds is t in whole Unix seconds, rounded up as cookiesession seals
// times (a session's deadline is never brought forward), and clamped to
// what an entry holds (until 2106).
func seconds(t time.Time) uint32 {
	if t.IsZero() {
		return 0
	}
	sec := t.Unix()
	if t.Nanosecond() != 0 {
		sec++
	}
	return uint32(min(max(sec, 0), math.MaxUint32))
}

// unixTime is the time of Unix seconds sec; 0 is the zero time.
func unixTime(sec uint64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0)
}

// later returns the later of a and b. The root package has its own: this
// package must not import it, which imports this one.
func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}
