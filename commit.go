package cookiesession

import (
	"bytes"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unsafe"
)

// What a response carries for its session is decided in one place, used
// by the middleware just before the headers leave and by Manager.Save.

// commit decides what the response must carry for s, adds it to h and
// records s as written. It adds no cookie if it fails: a failed save leaves
// the browser's previous cookie in place. hv holds the values of the
// headers it sets; it must serve one response only.
func (m *Manager[T]) commit(h http.Header, s *Session[T], hv *headerValues) error {
	// 1. Compare with what came in: change is by content. Equal values
	//    serialise equally, so only a difference needs serialising.
	addVary(h, hv)
	m.fillNilMap(s) // nil is empty, and is saved (or deleted) as {}
	var data []byte
	changed := s.flashDiff
	if s.destroyed || !m.unchanged(s) {
		var err error
		if data, err = m.marshal(s); err != nil {
			return err
		}
		baseline := s.orig
		if s.destroyed {
			baseline = m.zero
		}
		changed = changed || !bytes.Equal(data, baseline)
	}

	// 2. Decide whether a cookie must be written. The clock is read only
	//    when that, or the cookie, depends on it: most requests change
	//    nothing, and reading it is not free.
	write := changed || s.renewed || s.stale
	var now time.Time
	if write || s.destroyed || m.idle > 0 {
		now = m.now()
		write = write || (m.idle > 0 && now.Sub(s.issued) >= m.idle/2)
	}
	// A session that holds nothing is deleted rather than written: the
	// next request starts an equal one, without the cookie's weight.
	current := data
	if current == nil {
		current = s.orig // unchanged, so this is what Data serialises to
	}
	if (write || s.destroyed) && len(s.flashes) == 0 && bytes.Equal(current, m.zero) {
		if s.present != 0 {
			m.deleteCookies(h, s.present)
			makePrivate(h, hv)
			m.forget(s)
		}
		at := sealedTime(now)
		s.reset(m.zero, at, at, 0)
		m.takeSnapshot(s)
		return nil
	}
	if !write {
		if s.err != nil && s.present != 0 {
			// Clear the cookie that did not open, so the browser stops
			// sending it.
			m.deleteCookies(h, s.present)
			makePrivate(h, hv)
			s.present = 0
		}
		return nil
	}

	// 3. Seal, check the size, and only then touch the headers.
	data = current
	// Times are kept as the cookie carries them (sealedTime). A new
	// session's lifetime began when it was loaded, moments ago.
	issued := sealedTime(now)
	created := s.created
	if s.destroyed || s.renewed {
		created = issued
	}
	// An instance whose clock is behind the one that created the session
	// (within ClockSkew) must not seal an issue time before the creation.
	if issued.Before(created) {
		issued = created
	}
	// The value is sealed straight into the buffer that becomes its
	// Set-Cookie line.
	env := Envelope{Created: created, Issued: issued, Flashes: s.flashes, Data: data}
	line, err := m.format.appendSeal(m.newLine(len(data)), m.name, env)
	if err != nil {
		return fmt.Errorf("%w: sealing: %w", ErrSaveFailed, err)
	}
	if n := len(line) - len(m.name) - 1; n > m.maxSize {
		return fmt.Errorf("%w: %w: cookie %q would be %d bytes sealed (%d bytes of data); the cap is %d (WithMaxSize)",
			ErrSaveFailed, ErrTooLarge, m.name, n, len(data), m.maxSize)
	}
	life := created.Add(m.maxAge).Sub(now)
	if m.idle > 0 && m.idle < life {
		life = m.idle
	}
	value, written := m.setCookies(h, line, max(int(life/time.Second), 1), s.present, hv)
	makePrivate(h, hv)
	s.reset(data, created, issued, written)
	s.keyID = m.keys.newest().id
	if changed {
		m.snapshotSealed(s, data)
	}
	// The browser will send this value next, instead of the old one.
	m.remember(value, s, false)
	return nil
}

// snapshotSealed records, after a write of data, the state later changes
// are measured from. With the cache on, the next request gets it from the
// cache, and must see what opening the cookie would give: a copy of Data
// when that is the same (jsonRoundTrips, and no string that needed
// replacing, which shows as jsonReplacement), else data decoded. That is
// not always what the handler set: a string's invalid UTF-8, an unexported
// field, a number in an interface, time's monotonic reading. Where the
// replacement is written as U+FFFD itself, a string that held U+FFFD is
// decoded too: needlessly, but to the same value.
func (m *Manager[T]) snapshotSealed(s *Session[T], data []byte) {
	if m.cache == nil || m.jsonExact && !bytes.Contains(data, []byte(jsonReplacement)) {
		m.takeSnapshot(s)
		return
	}
	snap := m.newData()
	if !m.snapper.ok() || m.unmarshal(data, &snap) != nil {
		s.snapOK = false // not remembered, and changes are found by serialising
		return
	}
	s.snap, s.snapOK = snap, true
}

func (m *Manager[T]) marshal(s *Session[T]) ([]byte, error) {
	data, err := m.serialize(s)
	if err != nil {
		return nil, fmt.Errorf("%w: serialising %v: %w", ErrSaveFailed, reflect.TypeFor[T](), err)
	}
	return data, nil
}

// reset records that s was written (or deleted) as data, so that later
// changes are measured from there.
func (s *Session[T]) reset(data []byte, created, issued time.Time, present uint32) {
	s.orig = data
	s.created, s.issued = created, issued
	s.present = present
	s.cookieFlashes = len(s.flashes)
	s.flashDiff, s.destroyed, s.renewed, s.stale = false, false, false, false
	s.err = nil
}

// dirty reports whether s changed since it was loaded or last written.
func (m *Manager[T]) dirty(s *Session[T]) bool {
	if s.flashDiff || s.destroyed || s.renewed {
		return true
	}
	m.fillNilMap(s)
	if m.unchanged(s) {
		return false
	}
	data, err := m.serialize(s)
	return err != nil || !bytes.Equal(data, s.orig)
}

// serialize is the serializer's Marshal of s.Data, compiled for the
// default serializer.
func (m *Manager[T]) serialize(s *Session[T]) ([]byte, error) {
	if m.jsonEnc == nil {
		return m.serializer.Marshal(&s.Data)
	}
	// The data usually changes little from what arrived: room for that,
	// and the 16 bytes the encoder may write past its end, makes one
	// allocation the rule without keeping much unused memory.
	dst := make([]byte, 0, len(s.orig)+32)
	return m.jsonEnc.appendJSON(dst, unsafe.Pointer(&s.Data))
}

// unmarshal is the serializer's Unmarshal into *v, which holds new data
// (newData), compiled for the default serializer.
func (m *Manager[T]) unmarshal(data []byte, v *T) error {
	if m.jsonDec == nil {
		return m.serializer.Unmarshal(data, v)
	}
	return m.jsonDec.decode(data, unsafe.Pointer(v))
}

// headerValues holds the values commit gives the Vary, Cache-Control and
// Set-Cookie headers when the response has none yet, so that a request
// through the middleware allocates no slice for them. Each value is its
// own one-element array: an append elsewhere reallocates rather than
// writing over a neighbour. The response's header map keeps the state that
// holds them alive for as long as the map lives, which net/http ends with
// the response.
type headerValues struct {
	vary, cacheControl, setCookie [1]string
}

// addHeader appends v to h[key] (a canonical key), in slot when h[key] is
// empty.
func addHeader(h http.Header, key, v string, slot *[1]string) {
	if len(h[key]) == 0 {
		slot[0] = v
		h[key] = slot[:]
		return
	}
	// Keys are set in canonical form directly: h.Add would canonicalise
	// them again on every request.
	h[key] = append(h[key], v)
}

// addVary marks the response as depending on the Cookie header, so that no
// cache serves one user's page to another.
func addVary(h http.Header, hv *headerValues) {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); strings.EqualFold(f, "Cookie") || f == "*" {
				return
			}
		}
	}
	addHeader(h, "Vary", "Cookie", &hv.vary)
}

// makePrivate keeps a response that sets a cookie out of shared caches: a
// proxy that stored it would hand the cookie to other users. Directives the
// application set are kept, except those that invite shared caching.
func makePrivate(h http.Header, hv *headerValues) {
	// A targeted field (RFC 9213's CDN-Cache-Control and its kin, and
	// Surrogate-Control before them) replaces Cache-Control for the caches
	// it names, which would never see "private". Without one they fall
	// back to Cache-Control. Surrogate-Control also asks for processing
	// (content="ESI/1.0"): that stays, and storing is forbidden instead.
	for name, vs := range h {
		switch {
		case hasSuffixFold(name, "-Cache-Control"):
			delete(h, name)
		case strings.EqualFold(name, "Surrogate-Control"):
			kept := []string{"no-store"}
			for _, d := range splitDirectives(strings.Join(vs, ",")) {
				if n, _, _ := strings.Cut(d, "="); strings.EqualFold(strings.TrimSpace(n), "content") {
					kept = append(kept, d)
				}
			}
			h[name] = []string{strings.Join(kept, ", ")}
		}
	}
	cc := strings.Join(h["Cache-Control"], ", ")
	if cc == "" {
		delete(h, "Cache-Control") // empty values, if any, are replaced
		addHeader(h, "Cache-Control", "private", &hv.cacheControl)
		return
	}
	var kept []string
	private := false
	for _, d := range splitDirectives(cc) {
		name, _, _ := strings.Cut(strings.ToLower(d), "=")
		switch name {
		case "public", "s-maxage":
			continue
		case "private", "no-store":
			private = true
		}
		kept = append(kept, d)
	}
	if !private {
		kept = append([]string{"private"}, kept...)
	}
	h["Cache-Control"] = []string{strings.Join(kept, ", ")}
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// splitDirectives splits a cache header's value at the commas between its
// directives, not those inside a quoted string (no-cache="a, b"), and drops
// empty ones. A quote left open splits at every comma instead: otherwise
// it would hide the directives after it from the caller's checks.
func splitDirectives(v string) []string {
	var out []string
	add := func(d string) {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == ',' && !quoted:
			add(v[start:i])
			start = i + 1
		case v[i] == '"':
			quoted = !quoted
		case v[i] == '\\' && quoted:
			i++ // the escaped character cannot end the string
		}
	}
	if quoted {
		out = out[:0]
		for _, d := range strings.Split(v, ",") {
			add(d)
		}
		return out
	}
	add(v[start:])
	return out
}
