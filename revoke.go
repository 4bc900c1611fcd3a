package cookiesession

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// How the engine uses the RevocationStore.

// replaced reports whether the session may not be written (see
// ErrReplaced): its cookie opened read-only, within a Renew's grace, or
// another request of the same browser revoked it meanwhile.
func (e *engine) replaced(st *state, now time.Time) bool {
	if e.revocations == nil || st.held == heldNothing || st.end == endDestroy || st.subject == "" {
		// A Destroy goes ahead: its cookie is deleted and its id revoked,
		// and commit writes nothing new for a read-only session.
		return false
	}
	// The generation is not in question: a session signed out everywhere
	// by this very request is written as its data says, and refused next.
	return st.held == heldReadOnly || e.revocations.Check(st.subject, st.id, math.MaxUint64, now) != nil
}

// errReadOnly is why a cookie within a Renew's grace was not written.
var errReadOnly = fmt.Errorf("%w: its cookie was renewed less than RenewGrace ago, and opens read-only until then", ErrReplaced)

// ended returns what revokes the session that Destroy, Renew or a device
// binding's registration ended, if a browser holds it and it was signed
// in; the zero Revoked if none. Past
// MaxRevokedSessions of the subject, it raises the generation instead.
func (e *engine) ended(st *state, now time.Time) revocation.Revoked {
	if e.revocations == nil || st.held == heldNothing || st.subject == "" || st.end == endNone {
		return revocation.Revoked{}
	}
	if st.end == endBind && st.id == (SessionID{}) {
		// The zero id stands for every id-less session of the subject:
		// binding one must not end the others.
		return revocation.Revoked{}
	}
	// The entry goes under the higher of the generation this replica knows
	// and the one the cookie was sealed with: an instance that has not yet
	// heard of a sign-out everywhere must not file the id under a lower
	// generation, which would drop it on merging.
	gen, n := e.revocations.Generation(st.subject)
	gen = max(gen, st.generation)
	if n >= MaxRevokedSessions {
		return revocation.Revoked{Generation: revocation.NextGeneration(gen, now), GenerationUntil: e.forgetAt(now)}
	}
	// The id is kept as long as its cookie could open: the lifetime it was
	// sealed with, whatever WithMaxAge says later.
	lifetime := e.maxAge
	if st.lifetime > 0 {
		lifetime = st.lifetime
	}
	until := st.created.Add(lifetime + ClockSkew)
	if st.id == (SessionID{}) {
		// Every id-less session of the subject: the latest may have been
		// created just now.
		until = e.forgetAt(now)
	}
	r := revocation.Revoked{Generation: gen, Sessions: []revocation.RevokedSession{{ID: st.id, Grace: st.end != endDestroy, Until: until}}}
	if st.binding != (SessionID{}) && st.unbinds() {
		// Its device binding too: the browser's next refresh is refused,
		// which ends its DBSC session.
		r.Sessions = append(r.Sessions, revocation.RevokedSession{ID: st.binding, Until: e.forgetAt(now)})
	}
	if gen != 0 {
		// Under the subject's generation, which the entry restates so
		// that it stands on its own wherever it is merged.
		r.GenerationUntil = e.forgetAt(now)
	}
	return r
}

// forgetAt is when an entry revoking sessions that exist at now may be
// forgotten: they have all expired by then, on every instance whose clock
// is within ClockSkew.
func (e *engine) forgetAt(now time.Time) time.Time {
	return sealedTime(now).Add(e.maxAge + ClockSkew)
}

// generation returns the generation to seal the session with, given the
// subject its data names now: a session keeps the one it was signed in
// under; one that starts, is renewed or changes subject takes the
// subject's current one, which ended may be raising.
func (e *engine) generation(st *state, subject string, ended revocation.Revoked) uint64 {
	if e.revocations == nil || subject == "" {
		return 0
	}
	if subject == st.subject && st.end == endNone {
		return st.generation
	}
	gen, _ := e.revocations.Generation(subject)
	if subject == st.subject {
		gen = max(gen, ended.Generation, st.generation)
	}
	return gen
}

// revoke stores ended, unless it is zero. A failure is reported; the
// response goes out all the same.
func (e *engine) revoke(st *state, ended revocation.Revoked) {
	if ended.IsZero() {
		return
	}
	if err := e.revocations.Revoke(context.WithoutCancel(st.req.Context()), st.subject, ended); err != nil {
		st.pending = append(st.pending, fmt.Errorf("%w: %w", ErrRevocationFailed, err))
	}
}

// signOutEverywhere raises subject's generation: see
// Manager.SignOutEverywhere.
func (e *engine) signOutEverywhere(ctx context.Context, subject string) error {
	switch {
	case e.revocations == nil:
		return errors.New("cookiesession: SignOutEverywhere needs revocation, which WithSubject turns on")
	case subject == "":
		return errors.New("cookiesession: SignOutEverywhere was given an empty subject; sessions without a subject cannot be signed out this way")
	}
	now := e.now()
	gen, _ := e.revocations.Generation(subject)
	r := revocation.Revoked{Generation: revocation.NextGeneration(gen, now), GenerationUntil: e.forgetAt(now)}
	if err := e.revocations.Revoke(ctx, subject, r); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationFailed, err)
	}
	return nil
}
