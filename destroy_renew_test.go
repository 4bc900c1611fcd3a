package cookiesession_test

import (
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// Destroy deletes the cookies, chunks included, and Data with them.
func TestDestroyDeletesTheCookie(t *testing.T) {
	for _, size := range []int{100, 6000} { // one cookie, then a main cookie and a chunk
		m := newTestManager[user](t, newClock())
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data = bigData(size) }), "GET", "/")
		held := len(b.cookies)
		rec := b.do(handle(m, func(s *Session[user]) { s.Destroy() }), "GET", "/")
		if lines := setCookies(t, rec); len(lines) != held || len(b.cookies) != 0 {
			t.Errorf("%d bytes: Destroy sent %q, the browser keeps %v", size, rec.Header().Values("Set-Cookie"), b.names())
		}
		var s *Session[user]
		b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
		if !s.IsNew() || s.Err() != nil || s.Data.Name != "" {
			t.Errorf("%d bytes: after Destroy: new %v, err %v, data %.20q", size, s.IsNew(), s.Err(), s.Data.Name)
		}
	}
	// A Destroy of a session that has no cookie sends nothing.
	m := newTestManager[user](t, newClock())
	if rec := newBrowser(t).do(handle(m, func(s *Session[user]) { s.Destroy() }), "GET", "/"); sets(rec) {
		t.Errorf("Destroy without a cookie sent %q", rec.Header().Values("Set-Cookie"))
	}
}

// Destroy signs the user out even with a flash message waiting: the data
// and the flash go, and the cookie is deleted.
func TestDestroyDropsPendingFlashes(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada"; s.AddFlash("welcome") }), "POST", "/login")
	b.do(handle(m, func(s *Session[user]) { s.Destroy() }), "POST", "/logout")
	if len(b.cookies) != 0 {
		t.Errorf("after Destroy the browser holds %v", b.names())
	}
	var s *Session[user]
	var flashes []string
	b.do(handle(m, func(got *Session[user]) { s = got; flashes = got.Flashes() }), "GET", "/")
	if s.Data.Name != "" || len(flashes) != 0 {
		t.Errorf("after Destroy: data %+v, flashes %q", s.Data, flashes)
	}
}

// What is set after Destroy is a new session, with its own lifetime: the
// way to flash "signed out".
func TestDestroyThenFlashStartsANewSession(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock)
	b := newBrowser(t)
	var before SessionID
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada"; before = s.ID() }), "GET", "/")
	clock.Advance(time.Hour)
	b.do(handle(m, func(s *Session[user]) { s.Destroy(); s.AddFlash("signed out") }), "POST", "/logout")
	var s *Session[user]
	var flashes []string
	b.do(handle(m, func(got *Session[user]) { s = got; flashes = s.Flashes() }), "GET", "/")
	if s.Data.Name != "" || strings.Join(flashes, "") != "signed out" || !s.Created().Equal(clock.Now()) || s.ID() == before {
		t.Errorf("after logout: data %+v, flashes %q, created %v, id %v (was %v)", s.Data, flashes, s.Created(), s.ID(), before)
	}
}

// Renew writes the session even unchanged, with a new id and a lifetime
// that starts again, and keeps Data.
func TestRenewRestartsTheLifetime(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithMaxAge(time.Hour))
	b := newBrowser(t)
	var first SessionID
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada"; first = s.ID() }), "GET", "/")
	clock.Advance(50 * time.Minute)
	rec := b.do(handle(m, func(s *Session[user]) { s.Renew() }), "GET", "/")
	if !sets(rec) {
		t.Fatal("Renew set no cookie")
	}
	if c := rec.Result().Cookies()[0]; c.MaxAge != 3600 {
		t.Errorf("Max-Age after Renew %d, want the whole lifetime, 3600", c.MaxAge)
	}
	clock.Advance(50 * time.Minute) // past the first lifetime, within the second
	var s *Session[user]
	b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
	if s.IsNew() || s.Data.Name != "ada" || !s.Created().Equal(t0.Add(50*time.Minute)) || s.ID() == first || s.ID() == (SessionID{}) {
		t.Errorf("after Renew: new %v (err %v), data %+v, created %v, id %v (was %v)", s.IsNew(), s.Err(), s.Data, s.Created(), s.ID(), first)
	}
}

// Destroy wins over Renew, whichever comes first.
func TestDestroyWinsOverRenew(t *testing.T) {
	for name, end := range map[string]func(s *Session[user]){
		"Renew, then Destroy": func(s *Session[user]) { s.Renew(); s.Destroy() },
		"Destroy, then Renew": func(s *Session[user]) { s.Destroy(); s.Renew() },
	} {
		m := newTestManager[user](t, newClock())
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
		rec := b.do(handle(m, end), "GET", "/")
		if !deletes(rec) || len(b.cookies) != 0 {
			t.Errorf("%s: Set-Cookie %q, the browser keeps %v", name, rec.Header().Values("Set-Cookie"), b.names())
		}
	}
}
