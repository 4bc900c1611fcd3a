package cookiesession

import (
	"fmt"
	"net/http"
	"reflect"
	"time"
)

// Session is one request's session. Its Data is read and changed directly:
// the middleware notices changes by content, so there is no Save to forget.
// Like a map, a Session is not safe for concurrent use.
type Session[T any] struct {
	// Data is the application's session data. For a new session it is the
	// zero value of T, except that a map is never nil: it starts empty,
	// ready for assignment, and setting it to nil empties the session.
	Data T

	hooks *hooks[T]
	state
}

// hooks are what a Manager does with T: its serialiser and the
// application's typed functions, checked against T by New.
type hooks[T any] struct {
	serializer Serializer
	isMap      bool                                   // Data is never left nil (blank)
	subject    func(T) string                         // nil: sessions have no subject
	validator  func(*http.Request, *Session[T]) error // nil: none
}

// blank returns a new session's Data: the zero value, or an empty map.
func (h *hooks[T]) blank() T {
	if h.isMap {
		return reflect.MakeMap(reflect.TypeFor[T]()).Interface().(T)
	}
	var d T // not through reflect: its address would move it to the heap
	return d
}

// isNilMap reports whether d is a nil map, which Data is never left as
// (see Session.Data): a handler may set it to nil to empty the session,
// and a cookie of an earlier version of the application may hold null,
// which encoding/json decodes as a nil map.
func (h *hooks[T]) isNilMap(d *T) bool {
	return h.isMap && reflect.ValueOf(d).Elem().IsNil()
}

// marshal serialises d, a nil map as the empty one.
func (h *hooks[T]) marshal(d *T) ([]byte, error) {
	if h.isNilMap(d) {
		*d = h.blank()
	}
	return h.serializer.Marshal(d)
}

func (s *Session[T]) st() *state { return &s.state }

func (s *Session[T]) decode(data []byte) error {
	s.Data = s.hooks.blank()
	if err := s.hooks.serializer.Unmarshal(data, &s.Data); err != nil {
		return fmt.Errorf("%w: the data does not decode into %v: %w", ErrMalformed, reflect.TypeFor[T](), unquoted{err, reflect.TypeFor[T]()})
	}
	if s.hooks.isNilMap(&s.Data) {
		s.Data = s.hooks.blank()
	}
	return nil
}

func (s *Session[T]) encode() ([]byte, error) {
	data, err := s.hooks.marshal(&s.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: serialising %v: %w", ErrSaveFailed, reflect.TypeFor[T](), err)
	}
	return data, nil
}

func (s *Session[T]) reset() { s.Data = s.hooks.blank() }

func (s *Session[T]) subject() string {
	if s.hooks.subject == nil {
		return ""
	}
	return s.hooks.subject(s.Data)
}

func (s *Session[T]) validate(r *http.Request) error {
	if s.hooks.validator == nil {
		return nil
	}
	return s.hooks.validator(r, s)
}

// IsNew reports whether the request brought no valid session cookie.
func (s *Session[T]) IsNew() bool { return s.isNew }

// Err returns why the request's session cookie was not used, for logging
// and metrics; nil when it opened or there was none. The session is new
// and empty either way. It wraps one of:
//
//   - not ours, or altered: ErrMalformed, ErrUnknownKey (a retired key),
//     ErrAuthentication, ErrTooLarge;
//   - ended: ErrExpired, ErrRevoked, ErrRejected (by WithValidator);
//   - cannot tell now, cookie kept: ErrRevocationsUnavailable, ErrUnproven
//     (WithDeviceBinding);
//   - a gorilla/sessions cookie not taken over: ErrMigration.
func (s *Session[T]) Err() error { return s.err }

// ID returns the session's id: 128 random bits sealed inside its cookie.
// A new session has one from the start; Destroy and Renew give it a new
// one when the response is written. A session whose cookie was written
// before sessions had ids, or converted from gorilla/sessions, has the
// zero id until it is renewed.
func (s *Session[T]) ID() SessionID { return s.id }

// Created returns when the session's lifetime began, from which WithMaxAge
// counts: when it was loaded as a new session, or the last Renew or
// Destroy (which take effect when the response is written). Like Issued,
// it is in whole seconds, rounded up, as the cookie carries it, on every
// instance alike. A validator that compares it with a stored time, such
// as "signed out everywhere at", should reject sessions created at or
// before that time: one renewed just after it, in the same second, is
// then kept.
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
// written instead, so "signed out" can be flashed. Called after the
// response headers went out, Destroy cannot delete the cookies (that is
// reported as ErrChangeAfterCommit), but the id is revoked all the same.
func (s *Session[T]) Destroy() {
	s.reset()
	s.flashes, s.flashesChanged = nil, false
	s.end = endDestroy
}

// Renew starts a new lifetime for the session, keeping Data: the absolute
// lifetime counts again from now, and a fresh cookie with a new id is
// written. If the session was signed in (WithSubject), the old id is
// revoked: its cookie stays readable for RenewGrace, for requests already
// in flight, but no response writes or renews it again. Call it on sign-in
// and on every change of privilege, so that a cookie captured before
// cannot stand for the new state.
func (s *Session[T]) Renew() {
	if s.end != endDestroy {
		s.end = endRenew
	}
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
