package cookiesession

import (
	"context"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// Revocation's model lives in package revocation, for those who write a
// RevocationStore; here are the aliases and constants an application sees.

// SessionID identifies one session (see Session.ID). It is
// revocation.SessionID, by which stores name the sessions revoked.
type SessionID = revocation.SessionID

// RenewGrace is how long the id that Renew replaces keeps opening on an
// instance, counted from when that instance first holds the revocation:
// requests of the same browser that started before the Renew still carry
// it, and must not sign the user out. Meanwhile the old cookie is
// read-only: no response writes it again (see ErrReplaced).
const RenewGrace = revocation.RenewGrace

// MaxRevokedSessions is how many sessions of one subject are revoked one by
// one. Past it, the subject's generation is raised instead, which refuses
// all its sessions at once (every device is signed out), so that what one
// user does cannot grow the server's state without bound.
const MaxRevokedSessions = revocation.MaxRevokedSessions

// A RevocationStore holds what was revoked, by subject. The Manager calls
// Revoke when a signed-in session is destroyed or renewed and from
// SignOutEverywhere, Check on every request whose cookie opens with a
// subject, and Generation when it seals a session for a subject.
// Implementations must be safe for concurrent use. WithRevocation lists
// the stores at hand; a store shared by a fleet keeps a revocation.Replica
// in memory, so that Check and Generation never wait on the network.
// Package revocation has what writing one takes.
type RevocationStore interface {
	// Revoke merges r into what is revoked of subject's sessions, so that
	// Check on this instance sees it before Revoke returns, and the other
	// instances sharing the store soon after. It returns an error if r
	// could not be stored where they will see it, and should bound the
	// time it takes itself.
	Revoke(ctx context.Context, subject string, r revocation.Revoked) error
	// Check returns nil if the session of subject with this id, sealed
	// with this generation, may be used at now; an error wrapping
	// ErrReplaced if its id is within RenewGrace (it may be read, not
	// written); an error wrapping ErrRevoked if it is refused; or one
	// wrapping ErrRevocationsUnavailable if the store cannot tell and
	// refuses it. It answers from memory.
	Check(subject string, id SessionID, generation uint64, now time.Time) error
	// Generation returns the subject's current generation, which a
	// session signed in now is sealed with, and how many of its sessions
	// are revoked one by one and not yet expired: past
	// MaxRevokedSessions, the Manager raises the generation instead.
	Generation(subject string) (generation uint64, sessions int)
}
