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
	// maxChunks bounds the cookies a session is read from and written to:
	// 16 of them are far past the header limits of common servers.
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

// cookieSpec is a session cookie's name and attributes, and how its values
// are split into chunks.
type cookieSpec struct {
	name      string
	attrs     http.Cookie // the attributes of every Set-Cookie line
	chunkSize int         // the longest part of a value one cookie carries
	names     []string    // the cookies' names: name, name.1, ... as many as a value may take
	maxSize   int         // the longest sealed value, all chunks together
	// old is the same cookie under the name earlier releases used by
	// default, read and moved; nil if none.
	old *cookieSpec
	// bound is the name of the bound cookie of device binding, "" if
	// off (WithDeviceBinding).
	bound string
	// before and after are the attributes of every Set-Cookie line, as
	// net/http renders them, on either side of Max-Age.
	before, after string
}

// jar holds the request's cookies that belong to a session cookie.
type jar struct {
	spec    *cookieSpec
	present uint32              // bit i: cookie i (0 the main one, i > 0 chunk i) came
	values  [maxChunks][]string // the values of each, in the order they came
	// others is the length the cookies the jar does not hold take in the
	// request's Cookie header, with one separator each (so that lengths
	// counted this way add up: see fits); sent, the header's whole length.
	others, sent int
	// size is the length the jar's own cookies take in the header.
	size int
	// old holds the cookies under the name earlier releases used by
	// default, if any came.
	old *jar
	// bound are the values of the bound cookie (WithDeviceBinding), and
	// boundIDs the bindings of those that opened, nil until one is asked
	// for (see binder.proven).
	bound    []string
	boundIDs []SessionID
}

// read finds the main cookie and its chunks in the request. A name may
// come more than once (cookies set for different paths or domains, or
// planted): up to maxValues values of each are kept, in order.
//
// It reads the Cookie header once, as net/http's Request.Cookies does (the
// same trimming, the same values refused, and no cookie at all from a
// header of more than maxCookies), but keeps only the session's cookies:
// the others are only measured, and cost no allocation however many come.
func (c *cookieSpec) read(r *http.Request) jar {
	j := jar{spec: c}
	lines := r.Header["Cookie"]
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
		j.sent += len(line) + len("; ")
	}
	j.sent = max(j.sent-len("; "), 0)
	if count > maxCookies {
		return j
	}
	for _, line := range lines {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			if part = textproto.TrimString(part); part != "" {
				j.add(part)
			}
		}
	}
	return j
}

// add keeps part, one name=value of the Cookie header, if the cookie is
// the session's, and measures it otherwise.
func (j *jar) add(part string) {
	name, value, _ := strings.Cut(part, "=")
	name = textproto.TrimString(name)
	value, ok := cookieValue(value)
	if ok {
		if into, i := j.owner(name); i >= 0 && len(into.values[i]) < maxValues {
			into.values[i] = append(into.values[i], value)
			into.present |= 1 << i
			into.size += len(part) + len("; ")
			return
		}
		if j.spec.bound != "" && name == j.spec.bound && len(j.bound) < maxValues {
			j.bound = append(j.bound, value) // and counted below
		}
	}
	// Another cookie, a value RFC 6265 refuses, the bound cookie, or a
	// value of ours past maxValues: the browser sends it next time too.
	j.others += len(part) + len("; ")
}

// owner returns the jar for the session cookie called name (this one, or
// that of the old name) and its index there, or -1 if name is neither's.
func (j *jar) owner(name string) (*jar, int) {
	if i := j.spec.index(name); i >= 0 || j.spec.old == nil {
		return j, i
	}
	i := j.spec.old.index(name)
	if i >= 0 && j.old == nil {
		j.old = &jar{spec: j.spec.old}
	}
	return j.old, i
}

// stays is the length, in the header, of the jar's cookies that a
// response writing or deleting the session leaves in the browser: it
// replaces one value of each name, and a name may have come more than
// once (set for another path or domain, or planted). Which value is ours
// cannot be told, so the smallest is taken for it: the next request is
// never thought shorter than it will be.
func (j *jar) stays() int {
	n := 0
	for i, values := range j.values {
		if len(values) < 2 {
			continue
		}
		name := len(chunkName(j.spec.name, i)) + len("=; ")
		smallest := len(values[0])
		for _, v := range values {
			n += name + len(v)
			smallest = min(smallest, len(v))
		}
		n -= name + smallest
	}
	return n
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

// index returns i if name is that of cookie i (0 the main one, i > 0
// chunk i), or -1.
func (c *cookieSpec) index(name string) int {
	rest, ok := strings.CutPrefix(name, c.name)
	switch {
	case !ok:
		return -1
	case rest == "":
		return 0
	case rest[0] != '.':
		return -1
	}
	if i := chunkNumber(rest[1:]); i > 0 && i < c.count() {
		return i
	}
	return -1
}

// owner returns the spec, c or its old name's, of the cookie called name,
// nil if it is neither's.
func (c *cookieSpec) owner(name string) *cookieSpec {
	switch {
	case c.index(name) >= 0:
		return c
	case c.old != nil && c.old.index(name) >= 0:
		return c.old
	}
	return nil
}

// wrote reports whether line, a Set-Cookie line for one of c's cookies,
// has the shape add gives it: c's attributes around a Max-Age. Values of
// ours hold no ';'.
func (c *cookieSpec) wrote(line string) bool {
	i := strings.IndexByte(line, ';')
	if i < 0 {
		return false
	}
	rest, ok := strings.CutPrefix(line[i:], c.before+"; Max-Age=")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, c.after)
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// count is how many cookies a value may take: the names the spec writes,
// or, for a spec that only reads (Keyring.Open), as many as any Manager
// writes.
func (c *cookieSpec) count() int {
	if c.names == nil {
		return maxChunks
	}
	return len(c.names)
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
func (j *jar) assemble(main string) (string, error) {
	c := j.spec
	if len(main) > c.maxSize+chunkHeaderMax {
		return "", fmt.Errorf("%w: cookie %q is %d bytes, at most %d are accepted", ErrTooLarge, c.name, len(main), c.maxSize)
	}
	count, first, chunked := parseChunkHeader(main)
	if !chunked {
		return main, nil
	}
	if count < 2 || count > maxChunks || len(first) < chunkTagSize {
		return "", fmt.Errorf("%w: cookie %q claims %d chunks", ErrMalformed, c.name, count)
	}
	if count > c.count() {
		return "", fmt.Errorf("%w: cookie %q has %d chunks, at most %d are accepted", ErrTooLarge, c.name, count, c.count())
	}
	tag := first[len(first)-chunkTagSize:]
	parts := []string{first}
	total := len(first)
	for i := 1; i < count; i++ {
		part, ok := chunkPart(j.values[i], tag)
		if !ok {
			return "", fmt.Errorf("%w: chunk %d of %d is missing", ErrMalformed, i+1, count)
		}
		if total += len(part); total > c.maxSize {
			return "", fmt.Errorf("%w: the chunks add up to more than %d bytes", ErrTooLarge, c.maxSize)
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

// newCookieSpec returns the spec of the cookie attrs names and describes
// (HttpOnly is added), for values up to maxSize bytes, or an error if
// such values cannot reach the browser and come back whole.
func newCookieSpec(attrs http.Cookie, maxSize int) (*cookieSpec, error) {
	c := &cookieSpec{name: attrs.Name, attrs: attrs, maxSize: maxSize}
	c.attrs.HttpOnly = true
	if c.attrs.SameSite == http.SameSiteDefaultMode {
		c.attrs.SameSite = http.SameSiteLaxMode // what browsers assume; say it
	}
	// The longest line: the longest chunk name and the largest Max-Age,
	// which with gorilla migration can be the old store's.
	probe := c.attrs
	probe.Name = c.name + "." + strconv.Itoa(maxChunks-1)
	probe.MaxAge = math.MaxInt32
	c.chunkSize = setCookieLineMax - len("Set-Cookie: ") - len(probe.String()) - chunkPrefixMax
	// Rendered once: Cookie.String checks every byte of the value, and
	// ours are base64url. net/http sanitises the path, so no attribute
	// holds "; Max-Age=".
	probe.Name, probe.Value, probe.MaxAge = "v", "v", 1
	c.before, c.after, _ = strings.Cut(strings.TrimPrefix(probe.String(), "v=v"), "; Max-Age=1")
	if c.chunkSize < 512 {
		return nil, fmt.Errorf("the cookie name, path and domain leave only %d bytes per cookie; shorten them", c.chunkSize)
	}
	if maxSize < minMaxSize {
		return nil, fmt.Errorf("WithMaxSize(%d): at least %d bytes are needed", maxSize, minMaxSize)
	}
	count := (maxSize + c.chunkSize - 1) / c.chunkSize
	for i := range min(count, maxChunks) {
		c.names = append(c.names, chunkName(c.name, i))
	}
	switch {
	case count*setCookieLineMax > setCookieTotalMax:
		return nil, fmt.Errorf("WithMaxSize(%d): needs %d cookies, whose Set-Cookie lines could pass %d bytes of response headers, which Node's fetch refuses; at most %d bytes fit",
			maxSize, count, setCookieTotalMax, c.largestSize())
	case c.bytes(maxSize) > cookieHeaderMax:
		return nil, fmt.Errorf("WithMaxSize(%d): the cookies would pass the %d bytes of Cookie header that curl sends whole and nginx and Apache accept; at most %d bytes fit",
			maxSize, cookieHeaderMax, c.largestSize())
	}
	return c, nil
}

// bytes is how much of the next request's Cookie header a sealed value of
// n bytes takes: names, values, chunk prefixes and separators.
func (c *cookieSpec) bytes(n int) int {
	count := max((n+c.chunkSize-1)/c.chunkSize, 1)
	if count == 1 {
		return len(c.name) + 1 + n
	}
	total := n + len(strconv.Itoa(count)+".")
	for i := range count {
		total += len(chunkName(c.name, i)) + 1 + len("; ")
		if i > 0 {
			total += chunkTagSize + 1
		}
	}
	return total - len("; ")
}

// largestSize is the largest cap whose cookies stay within both limits.
func (c *cookieSpec) largestSize() int {
	n := min(setCookieTotalMax/setCookieLineMax*c.chunkSize, cookieHeaderMax)
	for n > 0 && c.bytes(n) > cookieHeaderMax {
		n--
	}
	return n
}

// set adds the Set-Cookie lines that store value, split into chunks
// if it does not fit one cookie, and deletes the cookies the browser holds
// (present) that the value no longer needs. It returns the cookies written.
func (c *cookieSpec) set(h http.Header, value string, maxAge int, present uint32) (written uint32) {
	count := (len(value) + c.chunkSize - 1) / c.chunkSize
	if count <= 1 {
		c.add(h, c.name, value, maxAge)
		written = 1
	} else {
		tag := value[c.chunkSize-chunkTagSize : c.chunkSize]
		for i := range count {
			part := value[i*c.chunkSize : min((i+1)*c.chunkSize, len(value))]
			if i == 0 {
				part = strconv.Itoa(count) + "." + part
			} else {
				part = tag + "." + part
			}
			c.add(h, c.names[i], part, maxAge)
			written |= 1 << i
		}
	}
	c.delete(h, present&^written)
	return written
}

// delete adds a deleting Set-Cookie line for each cookie in mask.
// The attributes are the ones the cookie was set with, or browsers
// (strictly so for __Host- names) keep it.
func (c *cookieSpec) delete(h http.Header, mask uint32) {
	for i, name := range c.names {
		if mask&(1<<i) != 0 {
			c.add(h, name, "", -1)
		}
	}
}

// add adds one Set-Cookie line, the one net/http's Cookie.String writes;
// maxAge < 0 deletes the cookie.
func (c *cookieSpec) add(h http.Header, name, value string, maxAge int) {
	h.Add("Set-Cookie", name+"="+value+c.before+"; Max-Age="+strconv.Itoa(max(maxAge, 0))+c.after)
}

// fits returns an error wrapping ErrSaveFailed and ErrTooLarge if value is
// over the cap, or if its cookies and the request's others would pass the
// next request's budget: a session the client would drop, or the server
// in front refuse, must fail now, loudly, while the browser still holds
// the previous one. A Cookie header no longer than the one that came
// (sent bytes) arrives as that one did: a session only sealed again (by
// a newer key, for the idle timeout) never fails every request of a
// client that is near the limit already.
func (c *cookieSpec) fits(value string, data []byte, others, sent int) error {
	if len(value) > c.maxSize {
		return fmt.Errorf("%w: %w: cookie %q would be %d bytes sealed (%d bytes of data); the cap is %d (WithMaxSize)",
			ErrSaveFailed, ErrTooLarge, c.name, len(value), len(data), c.maxSize)
	}
	// others counts a separator for each cookie, which joins it to ours.
	ours := c.bytes(len(value))
	next := ours + others
	if next > cookieHeaderMax && next > sent {
		return fmt.Errorf("%w: %w: the next request's Cookie header would be %d bytes: %d of the session's cookies (%d bytes of data) and %d of the request's other cookies; past %d bytes, curl drops cookies and nginx and Apache refuse the request: keep less in the session, or fewer other cookies",
			ErrSaveFailed, ErrTooLarge, next, ours, len(data), max(others-len("; "), 0), cookieHeaderMax)
	}
	return nil
}
