package cookiesession

import (
	"net/http"
	"time"
)

// Session is one request's session. Its Data is the application's value,
// read and changed directly; the middleware notices changes by content, so
// there is no Save to forget.
//
// A Session belongs to one request and is not safe for concurrent use by
// several goroutines, just like a map.
type Session[T any] struct {
	// Data is the application's session data. For a new session it is the
	// zero value of T, except that a map is never nil: it starts empty,
	// ready for assignment, and setting it to nil empties the session.
	Data T

	m       *Manager[T]
	id      SessionID
	created time.Time
	issued  time.Time
	err     error
	isNew   bool
	stale   bool // sealed by an older key, or in the other format
	idGiven bool // a browser holds the id: ending the session revokes it
	// subject is whom the cookie's data names (WithSubject), "" for none,
	// and generation the subject's generation it was signed in under:
	// what revoking the session, or checking it, goes by.
	subject    string
	generation uint64
	// readOnly: the id is within a Renew's grace; the session opens but
	// is not written again (see RenewGrace).
	readOnly bool
	// converted: the session came from a gorilla cookie, which the
	// response deletes.
	converted bool
	flashes   []string
	// orig is Data serialised as the cookie brought it (for a new session,
	// the zero value's): at commit, a change is a difference from it.
	orig []byte
	// cookieFlashes is how many flashes the cookie held: reading them all
	// changes the cookie only if it held some.
	cookieFlashes int
	// flashesChanged, destroyed and renewed record changes that Data does
	// not show. All three are cleared when the session is written.
	flashesChanged, destroyed, renewed bool
	// present has bit i set when cookie i (0: the main cookie, i > 0:
	// chunk i) came with the request, so that it can be deleted.
	present uint32
	// moved has bit i set when cookie i under the name earlier releases
	// used by default came: the response deletes it.
	moved uint32
	// otherCookies is the length of the request's Cookie header less the
	// Manager's cookies: what the next request carries besides ours.
	otherCookies int
	// pending are failures for the error handler, which needs the
	// response writer and so hears of them after the commit: a gorilla
	// session that did not convert, a revocation that was not stored. req
	// is the request the session was loaded for.
	pending []error
	req     *http.Request
	// st is the middleware's state for the request, if the session came
	// from Get: Save asks it whether the headers are gone.
	st *reqState[T]
}

// IsNew reports whether the request brought no valid session cookie.
func (s *Session[T]) IsNew() bool { return s.isNew }

// Err returns why the request's session cookie was not used; nil when it
// opened or there was none. The session is new and empty either way: this
// is for logging and metrics. It wraps one of:
//
//   - not ours, or altered: ErrMalformed, ErrUnknownKey (a retired key),
//     ErrAuthentication, ErrTooLarge;
//   - ended: ErrExpired, ErrRevoked, ErrRejected (by WithValidator);
//   - cannot tell now, cookie kept: ErrRevocationsUnavailable;
//   - a gorilla/sessions cookie not taken over: ErrMigration.
func (s *Session[T]) Err() error { return s.err }

// ID returns the session's id: 128 random bits sealed inside its cookie.
// A new session has one from the start; Destroy and Renew give it a new
// one when the response is written, and revoke the old if the session was
// signed in (WithSubject). A session whose cookie was written before
// sessions had ids, or converted from gorilla/sessions, has the zero id
// until it is renewed.
func (s *Session[T]) ID() SessionID { return s.id }

// Created returns when the session's lifetime began: when it was loaded as
// a new session, or the last Renew or Destroy (which take effect when the
// response is written). The absolute lifetime (WithMaxAge) counts from here.
//
// Like Issued, it is in whole seconds, rounded up, as the cookie carries
// it, on every instance alike. A validator that compares it with a stored
// time, such as "signed out everywhere at", should reject sessions created
// at or before that time: one renewed just after it, in the same second,
// is then kept.
func (s *Session[T]) Created() time.Time { return s.created }

// Issued returns when the cookie the request brought was sealed (for a new
// session, when the session was loaded), in whole seconds, rounded up. The
// idle timeout counts from here.
func (s *Session[T]) Issued() time.Time { return s.issued }

// Destroy ends the session: Data is reset, the cookies are deleted from
// the browser and, if the session was signed in (WithSubject), its id is
// revoked, so that a copy of the cookie no longer opens on any instance
// that has heard of it, whatever its clock says. If Data or flashes are
// set again after Destroy, a new session with a new id and lifetime is
// written instead, so "signed out" can be flashed.
func (s *Session[T]) Destroy() {
	s.Data = s.m.newData()
	s.flashes = nil
	s.flashesChanged = false
	s.destroyed = true
}

// Renew starts a new lifetime for the session, keeping Data: the absolute
// lifetime counts again from now, and a fresh cookie with a new id is
// written. If the session was signed in (WithSubject), the old id is
// revoked: its cookie stays readable for RenewGrace, for requests already
// in flight, but no response writes or renews it again. Call it on sign-in and on every change of privilege, so
// that a cookie captured before cannot stand for the new state.
func (s *Session[T]) Renew() {
	s.renewed = true
}

// AddFlash queues a one-time message, read by Flashes on a later request
// (typically after a redirect).
func (s *Session[T]) AddFlash(msg string) {
	s.flashes = append(s.flashes, msg)
	s.flashesChanged = true
}

// Flashes returns the queued messages and removes them from the session:
// each is read once.
func (s *Session[T]) Flashes() []string {
	f := s.flashes
	if len(f) > 0 {
		s.flashes = nil
		// Flashes added and read by the same request leave the cookie as
		// it came: it need not be sealed again for them.
		s.flashesChanged = s.cookieFlashes > 0
	}
	return f
}

// written records that s was written (or deleted) as data, so that later
// changes are measured from there.
func (s *Session[T]) written(data []byte, id SessionID, created, issued time.Time, present uint32, subject string, gen uint64) {
	s.orig = data
	s.subject, s.generation, s.readOnly = subject, gen, false
	s.id, s.created, s.issued = id, created, issued
	s.present, s.moved = present, 0
	s.idGiven = present != 0
	s.cookieFlashes = len(s.flashes)
	s.flashesChanged, s.destroyed, s.renewed, s.stale, s.converted = false, false, false, false, false
}
