// Package revocation is what a cookiesession.RevocationStore is made of:
// the value that records what was revoked of one subject's sessions
// (Revoked), the one rule by which copies of it agree (Revoked.Merge), its
// binary form, and an in-memory Replica that answers Check without
// waiting on anything. It is for people writing a store, such as this
// repository's filestore (revocations in a file, for one instance that
// restarts) and redisstore (revocations shared by a fleet through Redis).
//
// Applications do not import it to use sessions: cookiesession.New keeps a
// Replica as its store by default, cookiesession.WithRevocation takes any
// store, and the names an application sees (Session.ID's SessionID,
// RenewGrace, MaxRevokedSessions, ErrRevoked, ErrReplaced) are re-exported
// by package cookiesession as the same types and values. The one reason an
// application may import it is to compare a store's Health with Healthy,
// Degraded and Down, for a readiness check.
//
// # The model
//
// The session data never leaves the cookie. What the server keeps is what
// was revoked, and only of signed-in sessions: a session names its user
// through cookiesession.WithSubject, and an anonymous session's copy
// grants nothing worth refusing. Everything revoked of one subject fits one
// Revoked, capped in size (MaxRevokedSessions), so the state grows with
// what signed-in users do and never with anonymous requests. With
// cookiesession.WithDeviceBinding, the Manager also records the challenges
// a user's devices answered, as sessions revoked under a subject of their
// own (the user's, after "\x00dbsc\x00"), at most 256 at a time, each for
// six minutes: a store must take any bytes in a subject.
//
// No refusal compares two machines' clocks. A destroyed session's id is
// refused from the moment an instance holds its entry; "sign out
// everywhere" raises the subject's generation, and a session is refused if
// the generation sealed into its cookie when it was signed in is lower.
// Times only say when an entry may be forgotten, with ClockSkew to spare.
//
// # Writing a store
//
// A store keeps a Replica and answers Check and Generation from it, so
// that the request path never waits on a disk or a network. Revoke adds to
// the replica first (this instance refuses at once), then stores the
// subject's merged Revoked where the other instances, or the next start,
// will find it, and they Add what they receive. Because Merge is
// commutative, associative and idempotent, entries may arrive in any order
// and any number of times; Range gives back everything held, to write
// again what a shared store lost.
package revocation
