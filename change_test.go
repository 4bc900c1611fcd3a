package cookiesession_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// Change detection is by content: a response carries Set-Cookie only when
// what would be sealed differs from what the cookie brought, and depends
// on the cookie (Vary: Cookie) as soon as a handler asked for the session.
func TestSetCookieOnlyWhenTheSessionChanged(t *testing.T) {
	tests := []struct {
		name    string
		signed  bool // the browser holds a session {Name: "ada", N: 1}
		fn      func(s *Session[user])
		wantSet bool
	}{
		{"a new session, read", false, func(s *Session[user]) { _ = s.Data.Name }, false},
		{"a new session, changed", false, func(s *Session[user]) { s.Data.N++ }, true},
		{"a new session, set to its zero value", false, func(s *Session[user]) { s.Data = user{} }, false},
		{"read", true, func(s *Session[user]) { _ = s.Data.Name }, false},
		{"changed", true, func(s *Session[user]) { s.Data.N++ }, true},
		{"the same value written", true, func(s *Session[user]) { n := s.Data.N; s.Data.N = n }, false},
		{"changed and changed back", true, func(s *Session[user]) { s.Data.Name = "eve"; s.Data.Name = "ada" }, false},
		{"a list appended to", true, func(s *Session[user]) { s.Data.Cart = append(s.Data.Cart, "tea") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestManager[user](t, newClock())
			b := newBrowser(t)
			if tt.signed {
				b.do(handle(m, func(s *Session[user]) { s.Data = user{Name: "ada", N: 1} }), "GET", "/")
			}
			rec := b.do(handle(m, tt.fn), "GET", "/")
			if sets(rec) != tt.wantSet {
				t.Errorf("Set-Cookie %q, want a cookie set: %v", rec.Header().Values("Set-Cookie"), tt.wantSet)
			}
			if got := rec.Header().Get("Vary"); got != "Cookie" {
				t.Errorf("Vary = %q, want Cookie", got)
			}
		})
	}

	// A request that never asks for the session pays nothing and says
	// nothing: no cookie, no Vary.
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.N = 1 }), "GET", "/")
	if rec := b.do(handle(m, nil), "GET", "/"); sets(rec) || rec.Header().Get("Vary") != "" {
		t.Errorf("a request that never read the session: Set-Cookie %q, Vary %q", rec.Header().Values("Set-Cookie"), rec.Header().Get("Vary"))
	}
}

// A session emptied of its data is deleted rather than written: the next
// request starts an equal one, without the cookie's weight. A flash set
// after Destroy keeps a cookie until it is read.
func TestEmptiedSessionIsDeleted(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	rec := b.do(handle(m, func(s *Session[user]) { s.Data.Name = "" }), "GET", "/")
	if len(b.cookies) != 0 || !deletes(rec) {
		t.Errorf("an emptied session was written: %q", rec.Header().Values("Set-Cookie"))
	}
	b.do(handle(m, func(s *Session[user]) { s.Destroy(); s.AddFlash("bye") }), "GET", "/")
	if len(b.cookies) != 1 {
		t.Fatal("the flash after Destroy was not written")
	}
	b.do(handle(m, func(s *Session[user]) { s.Flashes() }), "GET", "/")
	if len(b.cookies) != 0 {
		t.Error("a session emptied by reading its flash was kept")
	}
}

func TestMapSessions(t *testing.T) {
	m := newTestManager[map[string]string](t, newClock())
	b := newBrowser(t)
	if rec := b.do(handle(m, func(s *Session[map[string]string]) { _ = s.Data["x"] }), "GET", "/"); sets(rec) {
		t.Error("an untouched map session set a cookie")
	}
	b.do(handle(m, func(s *Session[map[string]string]) { s.Data["user"] = "ada" }), "GET", "/")
	var got string
	b.do(handle(m, func(s *Session[map[string]string]) { got = s.Data["user"]; s.Destroy(); s.Data["after"] = "ok" }), "GET", "/")
	if got != "ada" {
		t.Errorf("user = %q", got)
	}
	var after map[string]string
	b.do(handle(m, func(s *Session[map[string]string]) { after = s.Data }), "GET", "/")
	if len(after) != 1 || after["after"] != "ok" {
		t.Errorf("after Destroy and a new value: Data = %v, want only after=ok", after)
	}
}

// A map session's Data is ready for assignment on every request: after a
// handler set it to nil (which empties the session), and when a cookie
// holds null, as one written by an earlier version of an application that
// did so may.
func TestMapSessionsAreNeverNil(t *testing.T) {
	clock := newClock()
	m := newTestManager[map[string]string](t, clock)
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[map[string]string]) { s.Data["user"] = "ada" }), "POST", "/login")
	rec := b.do(handle(m, func(s *Session[map[string]string]) { s.Data = nil }), "POST", "/logout")
	if !deletes(rec) || len(b.cookies) != 0 {
		t.Errorf("a session set to nil was not deleted: Set-Cookie %q", rec.Header().Values("Set-Cookie"))
	}

	null, err := testKeys(t).Seal(m.Name(), Contents{Created: clock.Now(), Issued: clock.Now(), Data: []byte("null")})
	if err != nil {
		t.Fatal(err)
	}
	b.cookies[m.Name()] = null
	for i, h := range []http.Handler{
		handle(m, func(s *Session[map[string]string]) { s.Data["theme"] = "dark" }), // opens null
		handle(m, func(s *Session[map[string]string]) { s.Data["lang"] = "en" }),    // what the first wrote
	} {
		if rec := b.do(h, "GET", "/"); rec.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i, rec.Code)
		}
	}
	var got map[string]string
	b.do(handle(m, func(s *Session[map[string]string]) { got = s.Data }), "GET", "/")
	if got["theme"] != "dark" || got["lang"] != "en" {
		t.Errorf("Data = %v, want theme and lang", got)
	}
}

// An empty list and no list serialise differently ("[]" and "null"): a
// read must not rewrite the cookie, a change between them must be written,
// and an empty list must still be empty after an unrelated write.
func TestEmptyListsAreNotNil(t *testing.T) {
	type item struct {
		SKU string
		Qty int
	}
	type tagged struct {
		Tags  []any
		Items []item
		N     int
	}
	m := newTestManager[tagged](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[tagged]) { s.Data = tagged{Tags: []any{}, Items: []item{}} }), "GET", "/")
	if rec := b.do(handle(m, func(s *Session[tagged]) { _ = s.Data.N }), "GET", "/"); sets(rec) {
		t.Error("a read-only request rewrote a session holding empty lists")
	}
	b.do(handle(m, func(s *Session[tagged]) { s.Data.N++ }), "GET", "/")
	var got tagged
	b.do(handle(m, func(s *Session[tagged]) { got = s.Data }), "GET", "/")
	if got.Tags == nil || got.Items == nil {
		t.Errorf("after an unrelated write, an empty list became nil: Tags nil %v, Items nil %v", got.Tags == nil, got.Items == nil)
	}
	if rec := b.do(handle(m, func(s *Session[tagged]) { s.Data.Tags, s.Data.Items = nil, nil }), "GET", "/"); !sets(rec) {
		t.Error("changing empty lists to nil was not saved")
	}

	mm := newTestManager[map[string]any](t, newClock())
	b = newBrowser(t)
	b.do(handle(mm, func(s *Session[map[string]any]) { s.Data["tags"] = []any{} }), "GET", "/")
	if rec := b.do(handle(mm, func(s *Session[map[string]any]) { _ = s.Data["tags"] }), "GET", "/"); sets(rec) {
		t.Error("a read-only request rewrote a map session holding an empty list")
	}
	b.do(handle(mm, func(s *Session[map[string]any]) { s.Data["n"] = 1.0 }), "GET", "/")
	var tags any
	b.do(handle(mm, func(s *Session[map[string]any]) { tags = s.Data["tags"] }), "GET", "/")
	if l, ok := tags.([]any); !ok || l == nil {
		t.Errorf("after an unrelated write, tags = %#v, want []any{}", tags)
	}
}

// One Manager serves many browsers at once: each keeps its own session,
// and (under -race) nothing is shared between requests.
func TestConcurrentUseOfOneManager(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithIdleTimeout(time.Hour))
	h := handle(m, func(s *Session[user]) { s.Data.N++; s.Data.Cart = append(s.Data.Cart, "x") })
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBrowser(t)
			for range 20 {
				b.do(h, "GET", "/")
			}
			if s := m.Load(b.request("GET", "/")); s.Data.N != 20 || strings.Count(strings.Join(s.Data.Cart, ""), "x") != 20 {
				t.Errorf("N = %d, cart %d long; want 20 and 20", s.Data.N, len(s.Data.Cart))
			}
		}()
	}
	wg.Wait()
}
