package cookiesession

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"time"

	"github.com/ce967478/cookiesession/revocation"
)

// What a response carries for its session is decided in one place, used
// by the middleware just before the headers leave and by Manager.Save.

// outcome is what a response does with a session's cookies.
type outcome int

const (
	keepCookies   outcome = iota // nothing: the browser's cookie stands
	clearCookies                 // delete the cookies that came, which did not open
	skipReplaced                 // nothing, and report: another response replaced them
	removeSession                // delete the session: it holds nothing
	writeSession                 // seal the session and set its cookies
)

// facts are what decide goes by, gathered from a session at commit.
type facts struct {
	changed   bool // the data or flashes differ from what the cookie brought
	renewed   bool // Renew was called
	destroyed bool // Destroy was called
	stale     bool // sealed by an older key, in the other format, or under the old name
	idleDue   bool // a third of the idle window has passed since it was sealed
	invalid   bool // cookies came that did not open, and are to be cleared
	readOnly  bool // its cookie is within a Renew's grace: it may end, not be written
	migrating bool // gorilla migration is on: a cookie of ours always stays
	empty     bool // the session holds nothing (and no migration is on)
}

// decide returns what the response does with the session's cookies.
// replacedNow is asked only when a cookie would be written or deleted: it
// reports whether another request revoked or renewed the session meanwhile
// (see Manager.replaced).
func decide(f facts, replacedNow func() bool) outcome {
	due := f.changed || f.renewed || f.stale || f.idleDue || f.destroyed
	switch {
	case !due && f.invalid && f.migrating:
		// With gorilla migration, an empty session of ours replaces a
		// cookie that did not open: see WithGorillaMigration.
	case !due && f.invalid:
		return clearCookies
	case !due:
		return keepCookies
	}
	switch {
	case replacedNow():
		return skipReplaced
	case f.empty, f.readOnly:
		// A read-only session gets this far only destroyed: the copy
		// ends, and mints nothing, whatever was set after the Destroy.
		return removeSession
	}
	return writeSession
}

// commit decides what the response must carry for s, adds it to h and
// records s as written. It adds no cookie if it fails: a failed save leaves
// the browser's previous cookie in place. Failures that lose nothing of
// this response's (a revocation not stored) go to s.pending.
func (m *Manager[T]) commit(h http.Header, s *Session[T]) error {
	// Change is by content, measured on exactly the bytes that would be
	// sealed.
	addVary(h)
	data, err := m.marshal(s)
	if err != nil {
		return err
	}
	now := m.now()
	f := m.facts(s, data, now)
	out := decide(f, func() bool { return m.replaced(s, now) })
	if out == removeSession && f.readOnly && !f.empty {
		s.pending = append(s.pending, errReadOnly) // what was set is not written
	}
	switch out {
	case keepCookies:
	case clearCookies:
		m.clear(h, s)
	case skipReplaced:
		err := ErrReplaced
		if s.readOnly {
			err = errReadOnly
		}
		s.pending = append(s.pending, err)
	case removeSession:
		// A session that holds nothing is deleted rather than written: the
		// next request starts an equal one, without the cookie's weight.
		ended, ending := m.ended(s, now)
		m.revoke(s, ended, ending)
		if s.present|s.moved != 0 {
			m.clear(h, s)
		}
		id, created := m.lifetime(s, now)
		s.written(m.zero, id, created, sealedTime(now), 0, "", 0)
	case writeSession:
		return m.write(h, s, data, now, f.invalid)
	}
	return nil
}

// facts gathers what decide goes by.
func (m *Manager[T]) facts(s *Session[T], data []byte, now time.Time) facts {
	baseline := s.orig
	if s.destroyed {
		baseline = m.zero
	}
	return facts{
		changed:   s.flashesChanged || !bytes.Equal(data, baseline),
		renewed:   s.renewed,
		destroyed: s.destroyed,
		stale:     s.stale,
		idleDue:   m.idle > 0 && now.Sub(s.issued) >= m.idle/3,
		invalid:   s.err != nil && s.present|s.moved != 0 && !s.idGiven,
		readOnly:  s.readOnly,
		migrating: m.migration != nil,
		empty:     len(s.flashes) == 0 && bytes.Equal(data, m.zero) && m.migration == nil,
	}
}

// write seals s, checks that its cookies will arrive whole, and only then
// revokes what the session replaces and sets the cookies.
func (m *Manager[T]) write(h http.Header, s *Session[T], data []byte, now time.Time, invalid bool) error {
	// 1. A new lifetime for a destroyed or renewed session. An instance
	//    whose clock is behind the one that created the session (within
	//    ClockSkew) must not seal an issue time before the creation.
	id, created := m.lifetime(s, now)
	issued := later(sealedTime(now), created)
	ended, ending := m.ended(s, now)
	subject := m.subjectOf(s.Data)
	gen := m.generation(s, subject, ended)

	// 2. Seal, and check the size and the next request's budget.
	value, err := m.format.seal(m.name, &envelope{created: created, issued: issued, id: id, generation: gen, flashes: s.flashes, data: data})
	if err != nil {
		return fmt.Errorf("%w: sealing: %w", ErrSaveFailed, err)
	}
	if err := m.fits(value, data, s.otherCookies); err != nil {
		return err
	}

	// 3. Revoke what the session replaces, and set the cookies for as
	//    long as the sealed deadline, never longer: Max-Age cannot say
	//    the fraction of a second.
	m.revoke(s, ended, ending)
	deadline := created.Add(m.maxAge)
	if m.idle > 0 {
		deadline = earlier(deadline, issued.Add(m.idle))
	}
	life := deadline.Sub(now)
	if m.migration != nil {
		// The browser keeps a cookie of ours as long as it could keep the
		// old store's, and the old cookie goes wherever ours replaces it.
		life = max(life, m.migration.maxAge)
		if s.converted || s.destroyed || invalid {
			m.deleteGorillaCookie(h)
		}
	}
	written := m.setCookies(h, value, max(int(life/time.Second), 1), s.present)
	if s.moved != 0 {
		m.old.deleteCookies(h, s.moved)
	}
	makePrivate(h)
	s.written(data, id, created, issued, written, subject, gen)
	return nil
}

// lifetime returns the id and creation time s is written with: new for a
// session that Destroy or Renew ended.
func (m *Manager[T]) lifetime(s *Session[T], now time.Time) (SessionID, time.Time) {
	if s.destroyed || s.renewed {
		return revocation.NewSessionID(), sealedTime(now)
	}
	return s.id, s.created
}

// fits returns an error wrapping ErrSaveFailed and ErrTooLarge if value is
// over the cap, or if its cookies and the request's others would pass the
// next request's budget: a session the client would drop, or the server
// in front refuse, must fail now, loudly, while the browser still holds
// the previous one.
func (m *Manager[T]) fits(value string, data []byte, others int) error {
	if len(value) > m.maxSize {
		return fmt.Errorf("%w: %w: cookie %q would be %d bytes sealed (%d bytes of data); the cap is %d (WithMaxSize)",
			ErrSaveFailed, ErrTooLarge, m.name, len(value), len(data), m.maxSize)
	}
	ours, next := m.cookieBytes(len(value)), m.cookieBytes(len(value))
	if others > 0 {
		next += len("; ") + others
	}
	if next > cookieHeaderMax {
		return fmt.Errorf("%w: %w: the next request's Cookie header would be %d bytes: %d of the session's cookies (%d bytes of data) and %d of the request's other cookies; past %d bytes, curl drops cookies and nginx and Apache refuse the request: keep less in the session, or fewer other cookies",
			ErrSaveFailed, ErrTooLarge, next, ours, len(data), others, cookieHeaderMax)
	}
	return nil
}

// clear deletes the cookies of s that came with the request, under either
// name.
func (m *Manager[T]) clear(h http.Header, s *Session[T]) {
	m.deleteCookies(h, s.present)
	if s.moved != 0 {
		m.old.deleteCookies(h, s.moved)
	}
	makePrivate(h)
	s.present, s.moved = 0, 0
}

// replaced reports whether s may not be written: its id is within a
// Renew's grace (the cookie opens, read-only, so that a copy cannot renew
// itself into a session that outlives the sign-out), or another request
// of the same browser revoked it meanwhile. Writing s would leave the
// browser with a cookie that the other response replaced.
func (m *Manager[T]) replaced(s *Session[T], now time.Time) bool {
	if m.revocations == nil || !s.idGiven || s.destroyed || s.subject == "" {
		// A Destroy goes ahead: its cookie is deleted and its id revoked,
		// and commit writes nothing new for a read-only session.
		return false
	}
	// The generation is not in question: a session signed out everywhere
	// by this very request is written as its data says, and refused next.
	return s.readOnly || m.revocations.Check(s.subject, s.id, math.MaxUint64, now) != nil
}

// errReadOnly is why a cookie within a Renew's grace was not written.
var errReadOnly = fmt.Errorf("%w: its cookie was renewed less than RenewGrace ago, and opens read-only until then", ErrReplaced)

// ended returns what revokes the session that Destroy or Renew ended, if a
// browser holds it and it was signed in: an anonymous copy grants nothing.
// Past MaxRevokedSessions of the subject, it raises the subject's
// generation instead.
func (m *Manager[T]) ended(s *Session[T], now time.Time) (revocation.Revoked, bool) {
	if m.revocations == nil || !s.idGiven || s.subject == "" || !(s.destroyed || s.renewed) {
		return revocation.Revoked{}, false
	}
	// The entry goes under the higher of the generation this replica knows
	// and the one the cookie was sealed with: an instance that has not yet
	// heard of a sign-out everywhere must not file the id under a lower
	// generation, which would drop it on merging.
	gen, n := m.revocations.Generation(s.subject)
	gen = max(gen, s.generation)
	if n >= MaxRevokedSessions {
		return revocation.Revoked{Generation: revocation.NextGeneration(gen, now), GenerationUntil: m.forgetAt(now)}, true
	}
	until := s.created.Add(m.maxAge + ClockSkew)
	if s.id == (SessionID{}) {
		// Every id-less session of the subject: the latest may have been
		// created just now.
		until = m.forgetAt(now)
	}
	r := revocation.Revoked{Generation: gen, Sessions: []revocation.RevokedSession{{ID: s.id, Grace: !s.destroyed, Until: until}}}
	if gen != 0 {
		// Under the subject's generation, which the entry restates so
		// that it stands on its own wherever it is merged.
		r.GenerationUntil = m.forgetAt(now)
	}
	return r, true
}

// forgetAt is when an entry revoking sessions that exist at now may be
// forgotten: they have all expired by then, on every instance whose clock
// is within ClockSkew.
func (m *Manager[T]) forgetAt(now time.Time) time.Time {
	return sealedTime(now).Add(m.maxAge + ClockSkew)
}

// generation returns the generation to seal s with, given the subject its
// data names now: a session keeps the one it was signed in under; one
// that starts, is renewed or changes subject takes the subject's current
// one, which ended may be raising.
func (m *Manager[T]) generation(s *Session[T], subject string, ended revocation.Revoked) uint64 {
	if m.revocations == nil || subject == "" {
		return 0
	}
	if subject == s.subject && !s.destroyed && !s.renewed {
		return s.generation
	}
	gen, _ := m.revocations.Generation(subject)
	if subject == s.subject {
		gen = max(gen, ended.Generation, s.generation)
	}
	return gen
}

// revoke stores ended, if ending. A failure is reported; the response
// still goes out as if it had succeeded.
func (m *Manager[T]) revoke(s *Session[T], ended revocation.Revoked, ending bool) {
	if !ending {
		return
	}
	if err := m.revocations.Revoke(context.WithoutCancel(s.req.Context()), s.subject, ended); err != nil {
		s.pending = append(s.pending, fmt.Errorf("%w: %w", ErrRevocationFailed, err))
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// marshal serialises s.Data; a nil map is serialised as the empty one.
func (m *Manager[T]) marshal(s *Session[T]) ([]byte, error) {
	m.fillNilMap(s)
	data, err := m.serializer.Marshal(&s.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: serialising %v: %w", ErrSaveFailed, reflect.TypeFor[T](), err)
	}
	return data, nil
}

// dirty reports whether s changed since it was loaded or last written.
func (m *Manager[T]) dirty(s *Session[T]) bool {
	if s.flashesChanged || s.destroyed || s.renewed {
		return true
	}
	data, err := m.marshal(s)
	return err != nil || !bytes.Equal(data, s.orig)
}
