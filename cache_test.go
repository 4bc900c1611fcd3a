package cookiesession

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCacheSkipsOpeningARememberedValue(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock)
	c := countFormat(m)
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data = user{Name: "ada", Cart: []string{"tea"}} }), "GET", "/")
	var got user
	for i := 0; i < 3; i++ {
		b.do(handle(m, func(s *Session[user]) { got = s.Data }), "GET", "/")
	}
	if c.opens.Load() != 0 {
		t.Errorf("a value this Manager sealed was opened %d times", c.opens.Load())
	}
	if got.Name != "ada" || strings.Join(got.Cart, ",") != "tea" {
		t.Errorf("data from the cache: %+v", got)
	}
}

func TestCachedDataIsACopy(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data = user{Name: "ada", Cart: []string{"tea"}} }), "GET", "/")
	// A handler that changes the data in place but fails to save (the
	// response is already committed) must not change what the next
	// request sees.
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		_, _ = w.Write([]byte("committed"))
		s.Data.Cart[0] = "coffee"
		s.Data.Name = "eve"
	}))
	b.do(h, "GET", "/")
	var got user
	b.do(handle(m, func(s *Session[user]) { got = s.Data }), "GET", "/")
	if got.Name != "ada" || got.Cart[0] != "tea" {
		t.Errorf("a lost change leaked into the cache: %+v", got)
	}
}

func TestCacheStillEnforcesDeadlinesAndTheValidator(t *testing.T) {
	clock := newClock()
	rejected := false
	m := newTestManager[user](t, clock, WithIdleTimeout(time.Hour), WithValidator(func(_ *http.Request, s *Session[user]) error {
		if rejected {
			return errors.New("signed out everywhere")
		}
		return nil
	}))
	c := countFormat(m)
	ada, eve := newBrowser(t), newBrowser(t)
	ada.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	eve.do(handle(m, func(s *Session[user]) { s.Data.Name = "eve" }), "GET", "/")
	var s *Session[user]
	get := handle(m, func(got *Session[user]) { s = got })

	rejected = true
	ada.do(get, "GET", "/")
	if !errors.Is(s.Err(), ErrRejected) {
		t.Errorf("a remembered value skipped the validator: %v", s.Err())
	}
	rejected = false
	clock.Advance(time.Hour)
	eve.do(get, "GET", "/")
	if !errors.Is(s.Err(), ErrExpired) || s.Data.Name != "" {
		t.Errorf("a remembered value outlived its idle timeout: %v %+v", s.Err(), s.Data)
	}
	if n := c.opens.Load(); n != 0 {
		t.Errorf("%d values were opened: the checks above did not run on remembered values", n)
	}
	// Both responses deleted their cookie: neither value is worth keeping.
	if n := m.cache.len(); n != 0 {
		t.Errorf("the cache still holds %d rejected or expired values", n)
	}
}

func TestCacheDoesNotKeepFlashes(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.AddFlash("hi") }), "GET", "/")
	if n := m.cache.len(); n != 0 {
		t.Errorf("a session holding a flash was cached (%d entries)", n)
	}
}

func TestCacheForgetsReplacedValues(t *testing.T) {
	m := newTestManager[user](t, newClock())
	c := countFormat(m)
	b := newBrowser(t)
	var got int
	count := handle(m, func(s *Session[user]) { got = s.Data.N; s.Data.N++ })
	b.do(count, "GET", "/")
	first := maps.Clone(b.cookies)
	for i := 0; i < 5; i++ {
		b.do(count, "GET", "/")
	}
	// Each response replaced the value the browser sent: only the last
	// one is still worth remembering.
	if n := m.cache.len(); n != 1 {
		t.Errorf("after 6 writes by one browser the cache holds %d values, want 1", n)
	}
	if c.opens.Load() != 0 {
		t.Errorf("a browser that sends the value it was given caused %d opens", c.opens.Load())
	}

	// A client that resends a replaced value gets it opened in full.
	stale := newBrowser(t)
	stale.cookies = first
	stale.do(handle(m, func(s *Session[user]) { got = s.Data.N }), "GET", "/")
	if got != 1 || c.opens.Load() != 1 {
		t.Errorf("a replaced value: N = %d after %d opens, want 1 after 1", got, c.opens.Load())
	}

	// A session emptied deletes its cookie, and its value is forgotten.
	b.do(handle(m, func(s *Session[user]) { s.Data = user{} }), "GET", "/")
	if _, ok := b.cookies["session"]; ok {
		t.Fatal("an emptied session's cookie was not deleted")
	}
	if n := m.cache.len(); n != 1 { // the stale client's value, still current for it
		t.Errorf("after the delete the cache holds %d values, want 1", n)
	}
}

func TestCacheIsBounded(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithCacheSize(10))
	h := handle(m, func(s *Session[user]) { s.Data.N++ })
	for i := 0; i < 100; i++ {
		newBrowser(t).do(h, "GET", "/")
	}
	if n := m.cache.len(); n > 10 {
		t.Errorf("the cache holds %d entries, over its size of 10", n)
	}
}

// A value in use survives the generations turning over: a hit in the old
// generation moves it to the new one, while values no one asks for age out.
func TestCacheKeepsValuesInUse(t *testing.T) {
	c := newOpenCache[user](4) // two generations of two
	e := func() *openedEntry[user] { return new(openedEntry[user]) }
	c.put("a", e(), "")
	c.put("b", e(), "")
	c.put("c", e(), "") // a and b become the old generation
	if c.get("a") == nil {
		t.Fatal("a was dropped too early")
	}
	c.put("d", e(), "") // c and a become the old generation; b goes
	c.put("e", e(), "")
	if c.get("a") == nil {
		t.Error("a, asked for, aged out")
	}
	if c.get("b") != nil {
		t.Error("b, never asked for, is still there")
	}
}

func TestCacheUnderConcurrency(t *testing.T) {
	m := newTestManager[map[string]string](t, newClock(), WithCacheSize(8))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newBrowser(t)
			key := fmt.Sprint("k", g)
			for i := 0; i < 30; i++ {
				var got string
				b.do(handle(m, func(s *Session[map[string]string]) {
					got = s.Data[key]
					s.Data[key] = fmt.Sprint(i)
				}), "GET", "/")
				if i > 0 && got != fmt.Sprint(i-1) {
					t.Errorf("request %d saw %q", i, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
