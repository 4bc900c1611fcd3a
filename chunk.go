package cookiesession

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unsafe"
)

// Browsers ignore a cookie whose name and value exceed 4096 bytes, and older
// rules count its attributes too, so a sealed value that would not fit is
// split into chunk cookies, each whole Set-Cookie line at most
// setCookieLineMax bytes:
//
//	session=3.<first part>   session.1=<second part>   session.2=<third part>
//
// The main cookie starts with the number of chunks and a dot (a character
// no sealed value contains); a value that fits one cookie is sent as it is.
// The parts are concatenated and opened as one value, so a missing, swapped
// or foreign chunk fails to authenticate like any other tampering.
const (
	setCookieLineMax = 4096
	// maxChunks bounds the chunk cookies a Manager reads and writes. 16 of
	// them are far past the header limits of common servers.
	maxChunks = 16
	// chunkHeaderMax is room for the "16." prefix of a chunked value.
	chunkHeaderMax = 3
	minMaxSize     = 256
)

// Chunk numbers have at most two digits (see chunkNumber): this fails to
// compile if maxChunks outgrows them.
const _ = uint8(100 - maxChunks)

// maxOthers bounds the further values of the main cookie's name a request
// may bring that are tried (see jar.others): each costs an attempt to open,
// and with WithGorillaMigration one to convert.
const maxOthers = 3

// jar holds the request's cookies that belong to a Manager. Reading it
// allocates nothing: the values are substrings of the Cookie header.
type jar struct {
	present uint32 // bit i: cookie i came with the request
	values  [maxChunks]string
	// others are further values of the main cookie's name, in the order
	// they came. A browser sends one cookie per name, path and domain, so
	// a cookie another store set for another path or domain (gorilla's,
	// before a migration) may come first; load tries these when the first
	// does not open.
	others  [maxOthers]string
	nOthers int
}

// readJar finds the main cookie and its chunks in the request's Cookie
// headers. Where a name appears twice (cookies set for different paths or
// domains), the first is the value, as with http.Request.Cookie; further
// values of the main cookie are kept in others.
func (m *Manager[T]) readJar(r *http.Request) jar {
	var j jar
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			i := m.cookieIndex(strings.TrimSpace(name))
			if i < 0 {
				continue
			}
			if len(value) > 1 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if j.present&(1<<i) != 0 {
				if i == 0 && j.nOthers < maxOthers {
					j.others[j.nOthers] = value
					j.nOthers++
				}
				continue
			}
			j.present |= 1 << i
			j.values[i] = value
		}
	}
	return j
}

// cookieIndex returns 0 for the main cookie's name, i for chunk i's, and -1
// for any other name.
func (m *Manager[T]) cookieIndex(name string) int {
	if !strings.HasPrefix(name, m.name) {
		return -1
	}
	rest := name[len(m.name):]
	if rest == "" {
		return 0
	}
	if len(rest) < 2 || rest[0] != '.' {
		return -1
	}
	return chunkNumber(rest[1:])
}

// chunkNumber returns i if s is the decimal form of a chunk number i (1 to
// maxChunks-1, digits only, no leading zero), and -1 otherwise.
func chunkNumber(s string) int {
	// Two digits at most: maxChunks is at most 100 (asserted by the
	// constants), and a longer s is refused before it could overflow i.
	if len(s) == 0 || len(s) > 2 || s[0] == '0' {
		return -1
	}
	i := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return -1
		}
		i = 10*i + int(c-'0')
	}
	if i >= maxChunks {
		return -1
	}
	return i
}

// assemble returns the sealed value the jar's cookies carry, checking sizes
// before concatenating anything.
func (m *Manager[T]) assemble(j *jar) (string, error) {
	if j.present&1 == 0 {
		return "", fmt.Errorf("%w: chunk cookies without the main cookie %q", ErrMalformed, m.name)
	}
	base := j.values[0]
	if len(base) > m.maxSize+chunkHeaderMax {
		return "", fmt.Errorf("%w: cookie %q is %d bytes, at most %d are accepted", ErrTooLarge, m.name, len(base), m.maxSize)
	}
	count, first, chunked := parseChunkHeader(base)
	if !chunked {
		return base, nil
	}
	if count < 2 || count > maxChunks {
		return "", fmt.Errorf("%w: cookie %q claims %d chunks", ErrMalformed, m.name, count)
	}
	if count > len(m.names) {
		return "", fmt.Errorf("%w: cookie %q has %d chunks, at most %d are accepted", ErrTooLarge, m.name, count, len(m.names))
	}
	total := len(first)
	for i := 1; i < count; i++ {
		if j.present&(1<<i) == 0 {
			return "", fmt.Errorf("%w: chunk %d of %d is missing", ErrMalformed, i+1, count)
		}
		total += len(j.values[i])
		if total > m.maxSize {
			return "", fmt.Errorf("%w: the chunks add up to more than %d bytes", ErrTooLarge, m.maxSize)
		}
	}
	var b strings.Builder
	b.Grow(total)
	b.WriteString(first)
	for i := 1; i < count; i++ {
		b.WriteString(j.values[i])
	}
	return b.String(), nil
}

// parseChunkHeader splits "3.<part>" into 3 and the part.
func parseChunkHeader(v string) (count int, rest string, ok bool) {
	dot := strings.IndexByte(v, '.')
	if dot < 1 || dot > chunkHeaderMax-1 {
		return 0, v, false
	}
	n, err := strconv.Atoi(v[:dot])
	if err != nil {
		return 0, v, false
	}
	return n, v[dot+1:], true
}

// setupCookies renders the cookie attributes once and works out how much of
// a value fits in each chunk.
func (m *Manager[T]) setupCookies(c *config) error {
	var head strings.Builder
	head.WriteString("; Path=")
	head.WriteString(c.path)
	if c.domain != "" {
		head.WriteString("; Domain=")
		head.WriteString(strings.TrimPrefix(c.domain, "."))
	}
	m.cookieHead = head.String()
	tail := "; HttpOnly"
	if c.secure {
		tail += "; Secure"
	}
	switch c.sameSite {
	case http.SameSiteLaxMode, http.SameSiteDefaultMode:
		tail += "; SameSite=Lax"
	case http.SameSiteStrictMode:
		tail += "; SameSite=Strict"
	case http.SameSiteNoneMode:
		tail += "; SameSite=None"
	}
	m.cookieTail = tail

	// The longest line: the longest chunk name and the largest Max-Age.
	longestName := len(c.name) + 1 + len(strconv.Itoa(maxChunks-1))
	maxAgeDigits := len(strconv.Itoa(int(c.maxAge.Seconds()) + 1))
	overhead := len("Set-Cookie: ") + longestName + len("=") + len(m.cookieHead) +
		len("; Max-Age=") + maxAgeDigits + len(m.cookieTail) + chunkHeaderMax
	m.chunkSize = setCookieLineMax - overhead
	if m.chunkSize < 512 {
		return fmt.Errorf("the cookie name, path and domain leave only %d bytes per cookie; shorten them", m.chunkSize)
	}
	if c.maxSize < minMaxSize {
		return fmt.Errorf("WithMaxSize(%d): at least %d bytes are needed", c.maxSize, minMaxSize)
	}
	count := (c.maxSize + m.chunkSize - 1) / m.chunkSize
	if count > maxChunks {
		return fmt.Errorf("WithMaxSize(%d): needs %d cookies, at most %d are allowed (%d bytes)",
			c.maxSize, count, maxChunks, maxChunks*m.chunkSize)
	}
	m.names = make([]string, count)
	m.names[0] = c.name
	for i := 1; i < count; i++ {
		m.names[i] = c.name + "." + strconv.Itoa(i)
	}
	return nil
}

// newLine returns an empty buffer with room for the Set-Cookie line of a
// value sealing dataLen bytes of data, begun with the cookie's name and
// "=": the value is sealed into it, and the line becomes the header's
// string without another copy.
func (m *Manager[T]) newLine(dataLen int) []byte {
	const sealOverhead = headerSize + tagSize + 32 // times, flags, counts
	n := len(m.name) + 1 + b64.EncodedLen(dataLen+sealOverhead) +
		len(m.cookieHead) + len("; Max-Age=") + 20 + len(m.cookieTail)
	b := make([]byte, 0, n)
	b = append(b, m.name...)
	return append(b, '=')
}

// setCookies adds the Set-Cookie lines (to the canonical key directly,
// sparing h.Add's canonicalisation) that store the value in line, a
// newLine buffer the value was sealed into, split into chunks if needed,
// and deletes chunks the browser holds but the value no longer needs. It
// returns the value, which shares the line's memory when one cookie holds
// it.
func (m *Manager[T]) setCookies(h http.Header, line []byte, maxAge int, present uint32, hv *headerValues) (value string, written uint32) {
	start := len(m.name) + 1
	if n := len(line) - start; n <= m.chunkSize {
		line = m.appendAttributes(line, maxAge)
		// The bytes are never touched again once the string refers to them.
		ls := unsafe.String(unsafe.SliceData(line), len(line))
		addHeader(h, "Set-Cookie", ls, &hv.setCookie)
		value, written = ls[start:start+n], 1
	} else {
		value = string(line[start:])
		count := (len(value) + m.chunkSize - 1) / m.chunkSize
		for i := 0; i < count; i++ {
			part := value[i*m.chunkSize : min((i+1)*m.chunkSize, len(value))]
			if i == 0 {
				part = strconv.Itoa(count) + "." + part
			}
			h["Set-Cookie"] = append(h["Set-Cookie"], m.cookieLine(m.names[i], part, maxAge))
			written |= 1 << i
		}
	}
	m.deleteCookies(h, present&^written)
	return value, written
}

// deleteCookies adds a deleting Set-Cookie line for each cookie in mask.
// The attributes must match the ones the cookie was set with, or browsers
// (strictly so for __Host- names) keep it.
func (m *Manager[T]) deleteCookies(h http.Header, mask uint32) {
	for i := 0; mask != 0 && i < maxChunks; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		mask &^= 1 << i
		name := m.name
		if i > 0 {
			name = m.name + "." + strconv.Itoa(i)
		}
		h["Set-Cookie"] = append(h["Set-Cookie"], m.cookieLine(name, "", -1))
	}
}

// cookieLine renders a Set-Cookie value; maxAge < 0 deletes the cookie.
// It allocates once: the line is assembled in place and becomes the string.
func (m *Manager[T]) cookieLine(name, value string, maxAge int) string {
	b := make([]byte, 0, len(name)+1+len(value)+len(m.cookieHead)+len("; Max-Age=")+20+len(m.cookieTail))
	b = append(b, name...)
	b = append(b, '=')
	b = append(b, value...)
	b = m.appendAttributes(b, maxAge)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// appendAttributes appends the attributes after a cookie's value.
func (m *Manager[T]) appendAttributes(b []byte, maxAge int) []byte {
	b = append(b, m.cookieHead...)
	b = append(b, "; Max-Age="...)
	b = strconv.AppendInt(b, int64(max(maxAge, 0)), 10)
	return append(b, m.cookieTail...)
}
