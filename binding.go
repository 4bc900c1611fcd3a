package cookiesession

import (
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ce967478/cookiesession/internal/dbsc"
)

// Device binding (WithDeviceBinding, whose doc says what it gives), served
// without a session store. A bound session's cookie carries its binding's
// id (fieldBinding). The identifier the browser keeps for its DBSC session
// seals the binding's id, the subject and generation, and the device's
// public key: a refresh needs nothing else, so it works even when the
// browser sends no cookie.
//
//	sign-in response   Secure-Session-Registration, challenge over the session id
//	POST path          proof with the device's key: the session is bound, under a new id, the bound cookie set
//	bound cookie gone  POST path with the identifier: 403 and a challenge over the binding id
//	POST path again    proof signed by the device: a fresh bound cookie
//
// Destroy and Renew revoke the binding's id with the session's (a Renew
// writes the session unbound, and invites the browser again), and
// SignOutEverywhere raises the generation the identifier carries: each
// makes the next refresh answer 403 without a challenge, which ends the
// browser's DBSC session. Each challenge answered is recorded until it
// expires (see answerOnce), so that a proof is accepted once.

// binder is the engine's device binding.
type binder struct {
	keys       *Keyring
	path       string
	lifetime   time.Duration
	cookie     string // the bound cookie's name
	idName     string // the name the DBSC session identifier is sealed for
	challenges *dbsc.Challenges
	answering  sync.Map // SessionID: the challenges whose answer is being recorded
}

// newBinder returns the device binding of c, nil if off.
func newBinder(keys *Keyring, c *config) (*binder, error) {
	if c.bindingPath == "" {
		return nil, nil
	}
	if c.revocations == nil {
		return nil, errors.New("WithDeviceBinding needs revocation, which records the challenges answered; remove WithRevocation(nil)")
	}
	ch, err := dbsc.NewChallenges(dbsc.DefaultChallengeWindow, ClockSkew, keys.challengeKeys()...)
	if err != nil {
		return nil, err
	}
	return &binder{keys: keys, path: c.bindingPath, lifetime: c.boundLifetime, cookie: c.name + ".bound",
		idName: c.name + ".dbsc", challenges: ch}, nil
}

// proven reports whether the jar holds a bound cookie of binding that is
// within the bound lifetime. Without device binding, none is: a session
// bound once is never used without the proof.
func (b *binder) proven(j *jar, binding SessionID, now time.Time) bool {
	if b == nil {
		return false
	}
	if j.boundIDs == nil {
		// Each bound value is opened once per request, however many
		// session values ask: ten of each would otherwise cost a hundred
		// openings.
		j.boundIDs = []SessionID{}
		o := openOptions{now: now, idleTimeout: b.lifetime, maxLength: setCookieLineMax}
		for _, v := range j.bound {
			if c, _, err := b.keys.open(b.cookie, v, o); err == nil {
				j.boundIDs = append(j.boundIDs, c.ID)
			}
		}
	}
	return slices.Contains(j.boundIDs, binding)
}

// invite asks the browser to bind the session written with id, if device
// binding is on and the session is signed in.
func (b *binder) invite(h http.Header, id SessionID, subject string, now time.Time) {
	if b == nil || subject == "" {
		return
	}
	reg := dbsc.Registration{Path: b.path, Challenge: b.challenges.Issue(now, dbsc.PurposeRegistration, id.String())}
	if v, err := reg.HeaderValue(); err == nil {
		h.Set(dbsc.HeaderRegistration, v)
	}
}

// setBound sets the bound cookie of binding, sealed at now.
func (b *binder) setBound(h http.Header, spec *cookieSpec, binding SessionID, now time.Time) error {
	v, err := b.keys.seal(b.cookie, &Contents{Created: now, Issued: now, ID: binding})
	if err != nil {
		return err
	}
	spec.add(h, b.cookie, v, int(b.lifetime/time.Second))
	return nil
}
