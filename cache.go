package cookiesession

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultCacheSize is the default number of opened cookie values a Manager
// keeps decoded (see WithCacheSize).
const DefaultCacheSize = 4096

// A browser sends the same cookie value on every request until a response
// changes it, and most requests only read the session. Opening that value
// again (base64, decryption, JSON) is most of what a request costs, so a
// Manager remembers the values it recently opened or sealed, with a
// snapshot of their decoded data. A request that brings a remembered value
// gets a copy of that data: the value is authentic because it is exactly
// one that authenticated (or was sealed) here before. For a value sealed
// here, the snapshot is what opening it would give, not necessarily what
// the handler set (see snapshotSealed), so a hit and a miss look alike.
// Deadlines and the validator are checked on every request all the same.
//
// Only data whose type can be snapshotted (snapshot.go) is remembered, and
// never a session holding flashes, which are read once. Snapshots are never
// written after they are made, so entries are shared without copying.
//
// A value that a response replaces (or deletes) is forgotten at once: the
// browser sends the new one from then on. Left in place, it would be dead
// weight until it aged out, and on a site that writes on most requests
// nearly every entry would be dead, each one more for the garbage
// collector to trace. A request still in flight with the old value, or a
// client that ignores Set-Cookie, opens it in full: correct, if slower.

// openedEntry is a remembered value's content.
type openedEntry[T any] struct {
	snap    T      // the decoded data; never written after it is made
	orig    []byte // its serialised form
	created time.Time
	issued  time.Time
	keyID   KeyID
	stale   bool
}

// openCache remembers up to max entries in two generations: new entries go
// into cur; when it is half full it becomes old and the previous old is
// dropped. A hit in old moves to cur, so values in use survive.
type openCache[T any] struct {
	mu       sync.Mutex
	half     int
	cur, old map[string]*openedEntry[T]
}

func newOpenCache[T any](size int) *openCache[T] {
	if size <= 0 {
		return nil
	}
	half := max(size/2, 1)
	return &openCache[T]{half: half, cur: make(map[string]*openedEntry[T], half)}
}

func (c *openCache[T]) get(value string) *openedEntry[T] {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.cur[value]; ok {
		return e
	}
	if e, ok := c.old[value]; ok {
		delete(c.old, value)
		c.addLocked(value, e)
		return e
	}
	return nil
}

// put remembers e under value and forgets replaced, if not empty, under the
// same lock. The caller must not keep value's memory alive needlessly: a
// value cut from a request's Cookie header is cloned.
func (c *openCache[T]) put(value string, e *openedEntry[T], replaced string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if replaced != "" {
		c.forgetLocked(replaced)
	}
	if _, ok := c.cur[value]; !ok {
		c.addLocked(value, e)
	}
}

func (c *openCache[T]) addLocked(value string, e *openedEntry[T]) {
	if len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[string]*openedEntry[T], c.half)
	}
	c.cur[value] = e
}

// forget drops value, in whichever generation it is.
func (c *openCache[T]) forget(value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(value)
}

func (c *openCache[T]) forgetLocked(value string) {
	delete(c.cur, value)
	delete(c.old, value)
}

// len returns the number of entries, for tests.
func (c *openCache[T]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

// loadCached fills s from a remembered value, if value is one, as
// openValue does. It reports false when value is not remembered; s is then
// untouched.
func (m *Manager[T]) loadCached(r *http.Request, value string, present uint32, o *OpenOptions, s *Session[T]) (*Session[T], bool, error) {
	e := m.cache.get(value)
	if e == nil {
		return nil, false, nil
	}
	*s = Session[T]{
		m:       m,
		created: e.created,
		issued:  e.issued,
		stale:   e.stale,
		keyID:   e.keyID,
		orig:    e.orig,
		present: present,
		cached:  value,
	}
	env := Envelope{Created: e.created, Issued: e.issued}
	if err := checkTimes(&env, o); err != nil {
		m.forget(s) // it will never open again
		return nil, true, err
	}
	if !m.snapper.take(&s.Data, &e.snap) {
		return nil, false, nil // cannot happen: the snapshot was taken the same way
	}
	s.snap, s.snapOK = e.snap, true
	return m.validate(r, s, o.Now), true, nil
}

// remember adds s, as just opened from value (or sealed into it), to the
// cache, if it can be, in place of the value s came from, which is
// forgotten either way. It records value in s as the one to forget when a
// response replaces it.
func (m *Manager[T]) remember(value string, s *Session[T], clone bool) {
	if m.cache == nil {
		return
	}
	if !s.snapOK || len(s.flashes) > 0 {
		m.forget(s)
		return
	}
	if clone {
		value = strings.Clone(value)
	}
	m.cache.put(value, &openedEntry[T]{
		snap: s.snap, orig: s.orig, created: s.created, issued: s.issued, keyID: s.keyID, stale: s.stale,
	}, s.cached)
	s.cached = value
}

// forget drops the remembered value s came from (or was last written as):
// the response is replacing or deleting it.
func (m *Manager[T]) forget(s *Session[T]) {
	if s.cached != "" && m.cache != nil {
		m.cache.forget(s.cached)
		s.cached = ""
	}
}
