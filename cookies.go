package cookiesession

import (
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Browsers ignore a cookie whose name and value exceed 4096 bytes, and older
// rules count its attributes too, so a sealed value that would not fit is
// split into chunk cookies, each whole Set-Cookie line at most
// setCookieLineMax bytes:
//
//	session=3.<part 0>   session.1=<tag>.<part 1>   session.2=<tag>.<part 2>
//
// The main cookie starts with the number of chunks and a dot, a character
// no sealed value contains; a value that fits one cookie is sent as it is.
// Each chunk starts with a tag, the last 8 characters of part 0, and a dot.
// The parts are concatenated and opened as one value, so a missing,
// swapped or foreign chunk fails to open like any other tampering.
//
// The tag is how a chunk finds its main cookie among planted ones: a
// sibling subdomain can set cookies of the same names, but cannot read the
// genuine part 0 to copy its tag. Chunks written before tags existed carry
// the bare part; they are used when no chunk carries the main cookie's tag.
const (
	setCookieLineMax = 4096
	// cookieHeaderMax is the longest Cookie header the next request may
	// carry. curl and libcurl drop cookies once the request line and the
	// headers before them, "Cookie: " and the cookies pass 8,190 bytes
	// (curl 7.88 sent at most 8,106 bytes of cookies to GET /), and nginx
	// and Apache answer 400 past a header line of 8 KB. 256 bytes are left
	// for the rest: a path of about 150 bytes and curl's usual headers.
	cookieHeaderMax = 8190 - 256
	// setCookieTotalMax bounds the Set-Cookie lines of one response:
	// Node's fetch (undici) refuses a response whose headers pass 16 KiB.
	setCookieTotalMax = 16 << 10
	// maxChunks bounds the chunk cookies a Manager reads and writes. 16 of
	// them are far past the header limits of common servers.
	maxChunks = 16
	// chunkHeaderMax is room for the "16." prefix of a chunked value.
	chunkHeaderMax = 3
	// chunkTagSize is the length of a chunk's tag; chunkPrefixMax is room
	// for the longer of the two prefixes, "16." and "<tag>.".
	chunkTagSize   = 8
	chunkPrefixMax = chunkTagSize + 1
	minMaxSize     = 256
	// maxValues bounds the values of each cookie name that are read: a
	// browser holds one per path and domain, and more were planted. Each
	// value of the main cookie's name costs an attempt to open.
	maxValues = 10
)

// jar holds the request's cookies that belong to a Manager.
type jar struct {
	present uint32              // bit i: cookie i (0 the main one, i > 0 chunk i) came
	values  [maxChunks][]string // the values of each, in the order they came
	// others is the length the request's other cookies take in its
	// Cookie header, separators included.
	others int
	// old holds the cookies under the name earlier releases used by
	// default, if any came.
	old *jar
}

// readJar finds the main cookie and its chunks in the request. A name may
// come more than once (cookies set for different paths or domains, or
// planted): up to maxValues values of each are kept, in order.
//
// It reads the Cookie header once, as net/http's Request.Cookies does (the
// same trimming, the same values refused, and no cookie at all from a
// header of more than maxCookies), but keeps only the Manager's cookies:
// the others are only measured, and cost no allocation however many come.
func (m *Manager[T]) readJar(r *http.Request) jar {
	var j jar
	lines := r.Header["Cookie"]
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
	}
	if count > maxCookies {
		return j
	}
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			if part = textproto.TrimString(part); part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			name = textproto.TrimString(name)
			value, ok := cookieValue(value)
			into, i := &j, m.cookieIndex(name)
			if i < 0 && m.old != nil {
				if i = m.old.cookieIndex(name); i >= 0 && ok {
					if j.old == nil {
						j.old = new(jar)
					}
					into = j.old
				}
			}
			switch {
			case i < 0 || !ok:
				j.others += len(part) + len("; ")
			case len(into.values[i]) < maxValues:
				into.values[i] = append(into.values[i], value)
				into.present |= 1 << i
			}
		}
	}
	j.others = max(j.others-len("; "), 0)
	return j
}

// maxCookies is the most cookies net/http reads from a request: past it,
// Request.Cookies returns none.
const maxCookies = 3000

// cookieValue returns a cookie's value without the double quotes it may
// come in, and whether it holds only the bytes RFC 6265 allows.
func cookieValue(raw string) (string, bool) {
	if len(raw) > 1 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	for i := range len(raw) {
		if b := raw[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return raw, true
}

// cookieIndex returns i if name is that of cookie i of the Manager (0 the
// main one, i > 0 chunk i), or -1.
func (m *Manager[T]) cookieIndex(name string) int {
	rest, ok := strings.CutPrefix(name, m.name)
	switch {
	case !ok:
		return -1
	case rest == "":
		return 0
	case rest[0] != '.':
		return -1
	}
	if i := chunkNumber(rest[1:]); i > 0 && i < len(m.names) {
		return i
	}
	return -1
}

// chunkName returns the name of cookie i: the main one for 0, else chunk i.
func chunkName(name string, i int) string {
	if i == 0 {
		return name
	}
	return name + "." + strconv.Itoa(i)
}

// chunkNumber returns i if s is the decimal form of a chunk number i (1 to
// maxChunks-1, digits only, no leading zero), and -1 otherwise.
func chunkNumber(s string) int {
	i, err := strconv.Atoi(s)
	if err != nil || s[0] < '1' || s[0] > '9' || i >= maxChunks {
		return -1
	}
	return i
}

// assemble returns the sealed value that main, a value of the main cookie,
// and the jar's chunks carry, checking sizes before concatenating anything.
func (m *Manager[T]) assemble(j *jar, main string) (string, error) {
	if len(main) > m.maxSize+chunkHeaderMax {
		return "", fmt.Errorf("%w: cookie %q is %d bytes, at most %d are accepted", ErrTooLarge, m.name, len(main), m.maxSize)
	}
	count, first, chunked := parseChunkHeader(main)
	if !chunked {
		return main, nil
	}
	if count < 2 || count > maxChunks || len(first) < chunkTagSize {
		return "", fmt.Errorf("%w: cookie %q claims %d chunks", ErrMalformed, m.name, count)
	}
	if count > len(m.names) {
		return "", fmt.Errorf("%w: cookie %q has %d chunks, at most %d are accepted", ErrTooLarge, m.name, count, len(m.names))
	}
	tag := first[len(first)-chunkTagSize:]
	parts := []string{first}
	total := len(first)
	for i := 1; i < count; i++ {
		part, ok := chunkPart(j.values[i], tag)
		if !ok {
			return "", fmt.Errorf("%w: chunk %d of %d is missing", ErrMalformed, i+1, count)
		}
		if total += len(part); total > m.maxSize {
			return "", fmt.Errorf("%w: the chunks add up to more than %d bytes", ErrTooLarge, m.maxSize)
		}
		parts = append(parts, part)
	}
	return strings.Join(parts, ""), nil
}

// chunkPart picks, among the values of one chunk's name, the part that
// carries tag; failing that, the first written before tags existed.
func chunkPart(values []string, tag string) (string, bool) {
	for _, v := range values {
		if t, part, ok := strings.Cut(v, "."); ok && t == tag {
			return part, true
		}
	}
	for _, v := range values {
		if !strings.Contains(v, ".") {
			return v, true
		}
	}
	return "", false
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

// setupCookies sets the attributes every cookie carries and works out how
// much of a value fits in each chunk.
func (m *Manager[T]) setupCookies(c *config) error {
	m.cookie = http.Cookie{Path: c.path, Domain: c.domain, Secure: c.secure, HttpOnly: true, SameSite: c.sameSite, Partitioned: c.partitioned}
	if c.sameSite == http.SameSiteDefaultMode {
		m.cookie.SameSite = http.SameSiteLaxMode // what browsers assume; say it
	}
	// The longest line: the longest chunk name and the largest Max-Age,
	// which with gorilla migration can be the old store's.
	probe := m.cookie
	probe.Name = c.name + "." + strconv.Itoa(maxChunks-1)
	probe.MaxAge = math.MaxInt32
	m.chunkSize = setCookieLineMax - len("Set-Cookie: ") - len(probe.String()) - chunkPrefixMax
	if m.chunkSize < 512 {
		return fmt.Errorf("the cookie name, path and domain leave only %d bytes per cookie; shorten them", m.chunkSize)
	}
	if c.maxSize < minMaxSize {
		return fmt.Errorf("WithMaxSize(%d): at least %d bytes are needed", c.maxSize, minMaxSize)
	}
	count := (c.maxSize + m.chunkSize - 1) / m.chunkSize
	for i := range min(count, maxChunks) {
		m.names = append(m.names, chunkName(c.name, i))
	}
	switch {
	case count*setCookieLineMax > setCookieTotalMax:
		return fmt.Errorf("WithMaxSize(%d): needs %d cookies, whose Set-Cookie lines could pass %d bytes of response headers, which Node's fetch refuses; at most %d bytes fit",
			c.maxSize, count, setCookieTotalMax, m.largestSize())
	case m.cookieBytes(c.maxSize) > cookieHeaderMax:
		return fmt.Errorf("WithMaxSize(%d): the cookies would pass the %d bytes of Cookie header that curl sends whole and nginx and Apache accept; at most %d bytes fit",
			c.maxSize, cookieHeaderMax, m.largestSize())
	}
	return nil
}

// cookieBytes is how much of the next request's Cookie header a sealed
// value of n bytes takes: names, values, chunk prefixes and separators.
func (m *Manager[T]) cookieBytes(n int) int {
	count := max((n+m.chunkSize-1)/m.chunkSize, 1)
	if count == 1 {
		return len(m.name) + 1 + n
	}
	total := n + len(strconv.Itoa(count)+".")
	for i := range count {
		total += len(chunkName(m.name, i)) + 1 + len("; ")
		if i > 0 {
			total += chunkTagSize + 1
		}
	}
	return total - len("; ")
}

// largestSize is the largest cap whose cookies stay within both limits.
func (m *Manager[T]) largestSize() int {
	n := min(setCookieTotalMax/setCookieLineMax*m.chunkSize, cookieHeaderMax)
	for n > 0 && m.cookieBytes(n) > cookieHeaderMax {
		n--
	}
	return n
}

// setCookies adds the Set-Cookie lines that store value, split into chunks
// if it does not fit one cookie, and deletes the cookies the browser holds
// (present) that the value no longer needs. It returns the cookies written.
func (m *Manager[T]) setCookies(h http.Header, value string, maxAge int, present uint32) (written uint32) {
	count := (len(value) + m.chunkSize - 1) / m.chunkSize
	if count <= 1 {
		m.addCookie(h, m.name, value, maxAge)
		written = 1
	} else {
		tag := value[m.chunkSize-chunkTagSize : m.chunkSize]
		for i := range count {
			part := value[i*m.chunkSize : min((i+1)*m.chunkSize, len(value))]
			if i == 0 {
				part = strconv.Itoa(count) + "." + part
			} else {
				part = tag + "." + part
			}
			m.addCookie(h, m.names[i], part, maxAge)
			written |= 1 << i
		}
	}
	m.deleteCookies(h, present&^written)
	return written
}

// deleteCookies adds a deleting Set-Cookie line for each cookie in mask.
// The attributes are the ones the cookie was set with, or browsers
// (strictly so for __Host- names) keep it.
func (m *Manager[T]) deleteCookies(h http.Header, mask uint32) {
	for i, name := range m.names {
		if mask&(1<<i) != 0 {
			m.addCookie(h, name, "", -1)
		}
	}
}

// addCookie adds one Set-Cookie line; maxAge < 0 deletes the cookie.
func (m *Manager[T]) addCookie(h http.Header, name, value string, maxAge int) {
	c := m.cookie
	c.Name, c.Value, c.MaxAge = name, value, maxAge
	h.Add("Set-Cookie", c.String())
}
