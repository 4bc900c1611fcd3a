package cookiesession_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// The validator sees a cookie once it opens, with Created and Issued at
// hand, and may refuse it: the request gets a fresh session whose Err
// wraps ErrRejected, and the cookie is cleared.
func TestValidatorRejects(t *testing.T) {
	clock := newClock()
	var signedOutAt time.Time
	var sawCreated time.Time
	m := newTestManager[user](t, clock, WithValidator(func(r *http.Request, s *Session[user]) error {
		sawCreated = s.Created()
		if s.Data.Name == "ada" && !s.Created().After(signedOutAt) {
			return errors.New("signed out everywhere")
		}
		return nil
	}))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	var s *Session[user]
	get := handle(m, func(got *Session[user]) { s = got })
	b.do(get, "GET", "/")
	if s.IsNew() || s.Data.Name != "ada" || !sawCreated.Equal(t0) {
		t.Fatalf("valid session refused: %+v %v", s.Data, s.Err())
	}
	signedOutAt = clock.Now()
	rec := b.do(get, "GET", "/")
	if !s.IsNew() || !errors.Is(s.Err(), ErrRejected) || s.Data.Name != "" {
		t.Fatalf("rejected session: new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
	}
	if s.Err().Error() == ErrRejected.Error() || !deletes(rec) {
		t.Errorf("err %q does not carry the validator's reason, or the cookie was not cleared: %q", s.Err(), rec.Header().Values("Set-Cookie"))
	}
}

// A session's times are the cookie's, whether the instance that serves a
// request sealed the value itself or only opens it (another instance, or
// after a restart): whole seconds, rounded up. Otherwise a validator
// comparing them with a stored time answers differently on different
// instances. Rounding up is what lets the README's "signed out everywhere"
// validator keep the session renewed just after the sign-out, in the same
// second, while rejecting one from an earlier second.
func TestTimesAreTheCookiesOnEveryInstance(t *testing.T) {
	clock := newClock()
	clock.Advance(600 * time.Millisecond) // the clock is between seconds
	signedOutAt := time.Time{}
	var created, issued time.Time
	validator := WithValidator(func(r *http.Request, s *Session[user]) error {
		if s.Data.Name != "" && !s.Created().After(signedOutAt) {
			return errors.New("signed out everywhere")
		}
		return nil
	})
	a := newTestManager[user](t, clock, validator) // seals the cookies
	b := newTestManager[user](t, clock, validator) // only opens them
	capture := func(s *Session[user]) { created, issued = s.Created(), s.Issued() }

	other := newBrowser(t) // signed in on another device, a second earlier
	other.do(handle(a, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/login")
	clock.Advance(time.Second)
	ada := newBrowser(t)
	ada.do(handle(a, func(s *Session[user]) { s.Data.Name = "ada" }), "POST", "/login")
	clock.Advance(100 * time.Millisecond)
	// "Sign out everywhere", then a new lifetime for this browser, in the
	// same request: the second has not changed.
	ada.do(handle(a, func(s *Session[user]) {
		signedOutAt = clock.Now()
		s.Renew()
	}), "POST", "/sign-out-everywhere")
	clock.Advance(100 * time.Millisecond)

	want := time.Unix(t0.Unix()+2, 0) // 12:00:01.7, rounded up
	for name, m := range map[string]*Manager[user]{"sealing": a, "opening": b} {
		s, _ := send(m, ada.header(), capture)
		if s.Data.Name != "ada" || s.Err() != nil {
			t.Errorf("%s instance: the renewed session was refused: %v", name, s.Err())
		}
		if !created.Equal(want) || !issued.Equal(want) || created.Nanosecond() != 0 {
			t.Errorf("%s instance: Created %v, Issued %v; want both %v", name, created, issued, want)
		}
		// A rejection clears the cookie: each instance gets a copy.
		if s, _ := send(m, other.header(), nil); !errors.Is(s.Err(), ErrRejected) {
			t.Errorf("%s instance: the session from before the sign-out was not rejected: %v", name, s.Err())
		}
	}
}
