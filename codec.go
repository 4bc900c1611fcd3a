package cookiesession

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/crypto/chacha20poly1305"
)

// Errors returned when a cookie value does not open. A cookie is untrusted
// input: these errors are expected in normal operation (an old bookmark, a
// key that was retired, someone editing their cookies) and the middleware
// answers all of them with a fresh session. Test for them with errors.Is;
// the returned error wraps one of them with details that never include key
// material.
var (
	// ErrMalformed: the value is not something this library wrote (bad
	// base64, too short, unknown version, broken chunk set).
	ErrMalformed = errors.New("malformed session cookie")
	// ErrExpired: the value opened but is outside its validity window: past
	// its absolute lifetime or idle timeout, or issued in the future beyond
	// the allowed clock skew.
	ErrExpired = errors.New("session expired")
	// ErrUnknownKey: the value names a key that is not in the Keyring,
	// typically one that was retired.
	ErrUnknownKey = errors.New("session sealed by an unknown key")
	// ErrAuthentication: the value names a known key but does not
	// authenticate: it was altered, or sealed for another cookie name.
	ErrAuthentication = errors.New("session cookie failed authentication")
	// ErrTooLarge: the value is longer than the configured maximum. On open
	// it is refused before being decoded; on save the session is not
	// written.
	ErrTooLarge = errors.New("session too large")
)

// Serializer turns session data into bytes and back. Implementations must be
// safe for concurrent use.
//
// Whatever the serializer, sessions should survive deploys: a value written
// for an older version of the data type (a field added or removed) should
// still decode. JSONSerializer does; positional binary encodings do not.
type Serializer interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONSerializer is the default Serializer: encoding/json. Fields added to
// the data type decode as their zero value from older cookies, and fields
// removed are ignored. A Manager given it does not call these methods for
// its own data: it compiles encoding/json's rules for T, and writes and
// reads exactly what they would, without reflection on every request.
type JSONSerializer struct{}

// Marshal implements Serializer with json.Marshal.
func (JSONSerializer) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements Serializer with json.Unmarshal.
func (JSONSerializer) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// Envelope is what a sealed value carries: the serialised session and the
// times that bound its validity. Most users never see an Envelope: the
// Manager seals and opens them. It is exported for tools that inspect
// cookies, such as cmd/sessionkey.
type Envelope struct {
	// Created is when the session lifetime began (login, or Renew). The
	// absolute lifetime counts from here. Sealed values carry Created and
	// Issued in whole seconds, rounded up: Open returns them so.
	Created time.Time
	// Issued is when this value was sealed. The idle timeout counts from
	// here.
	Issued time.Time
	// Flashes are one-time messages waiting to be shown.
	Flashes []string
	// Data is the serialised session data.
	Data []byte

	// KeyID is the id of the key that sealed the value. Set by Open.
	KeyID KeyID
	// Stale reports that the sealing key is not the Keyring's newest, so
	// the value should be sealed again. Set by Open.
	Stale bool
}

// OpenOptions bound what Open accepts.
type OpenOptions struct {
	// Now is the time to check deadlines against. The default is time.Now().
	Now time.Time
	// MaxAge is the absolute lifetime counted from Created. Zero means no
	// limit.
	MaxAge time.Duration
	// IdleTimeout is the longest time allowed since Issued. Zero means no
	// limit.
	IdleTimeout time.Duration
	// MaxLength is the longest value accepted, in bytes; a longer one is
	// refused with ErrTooLarge before any decoding. The default is
	// DefaultMaxSize.
	MaxLength int
}

// DefaultMaxSize is the default cap, in bytes, on a sealed session value
// (all chunks together). It keeps the Cookie header a browser sends under
// 8 KB, the default per-line limit of nginx and Apache, with room to spare
// for the application's other cookies.
const DefaultMaxSize = 7168

// ClockSkew is how far in the future an issue time may lie before a value
// is refused: instances sharing keys rarely agree on the time to the second.
const ClockSkew = time.Minute

// Version 1 of the sealed format:
//
//	value     = base64url-no-padding( version | key id | nonce | ciphertext+tag )
//	AAD       = version | key id | cookie name
//	plaintext = uvarint(created, unix seconds) | uvarint(issued - created) |
//	            flags | [flashes] | data
//	flashes   = uvarint(count) { uvarint(len) bytes }   (present if flags&flagFlashes)
//
// The base64 is canonical: the unused bits of the last character are zero.
const (
	formatV1     = 1
	headerSize   = 1 + keyIDSize + chacha20poly1305.NonceSizeX // before the ciphertext
	tagSize      = chacha20poly1305.Overhead
	flagFlashes  = 1 << 0
	knownFlags   = flagFlashes
	minPlaintext = 3 // one byte each for created, issued delta and flags
	// minEncoded is the length of the shortest value Open could accept.
	minEncoded = (8*(headerSize+minPlaintext+tagSize) + 5) / 6
	// maxFlashes bounds the flash list a value may claim to hold, so that
	// a corrupt count cannot make Open allocate much. Seal refuses more.
	maxFlashes = 1 << 10
	// maxSealedTime bounds the created time and the issued delta, in
	// seconds (about 35,000 years): Open refuses more, and so does Seal.
	maxSealedTime = 1 << 40
)

// b64 is the value's encoding. Its decoder ignores the unused bits of the
// last character; Open refuses a value that sets them (canonicalTail), but
// only once the value has authenticated, so that a value that decodes but
// was tampered with is reported as failing authentication, not as
// misspelled.
var b64 = base64.RawURLEncoding

// sealBuffers holds Seal's scratch buffers. Sealing encrypts in place, so a
// buffer holds only ciphertext and public header bytes once Seal returns.
var sealBuffers = sync.Pool{New: func() any { return new([]byte) }}

// Seal serialises e into a cookie value for the cookie called name, sealed
// by the newest key. It refuses what Open would: Created and Issued before
// 1970, Issued before Created, times past 2^40 seconds, and more than 1024
// flash messages (ErrTooLarge). Most users never call Seal: the Manager
// does.
func (k *Keyring) Seal(name string, e *Envelope) (string, error) {
	b, err := k.appendSeal(nil, name, e)
	if err != nil {
		return "", err
	}
	// The bytes are never touched again once the string refers to them.
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

// appendSeal is Seal appending the value to dst, so that the Manager can
// build the value and its Set-Cookie line in one allocation.
func (k *Keyring) appendSeal(dst []byte, name string, e *Envelope) ([]byte, error) {
	// 1. Measure the times, flags and flashes, which travel inside the
	//    ciphertext so that nobody can extend a session by editing them.
	p, err := measurePlaintext(e)
	if err != nil {
		return nil, err
	}

	// 2. Lay out one buffer: header | plaintext (sealed in place) | tag,
	//    followed by the associated data. The buffer is only scratch (the
	//    result is its base64 form), so it comes from a pool.
	rk := k.newest()
	sealedLen := headerSize + p.size + tagSize
	bp := sealBuffers.Get().(*[]byte)
	defer sealBuffers.Put(bp)
	if need := sealedLen + 1 + keyIDSize + len(name); cap(*bp) < need {
		*bp = make([]byte, need)
	}
	buf := (*bp)[:sealedLen+1+keyIDSize+len(name)]
	buf[0] = formatV1
	copy(buf[1:], rk.id[:])
	nonce := buf[1+keyIDSize : headerSize]
	_, _ = rand.Read(nonce) // never fails: see GenerateSecret
	pt := buf[headerSize : headerSize+p.size]
	p.put(pt, e)

	// 3. Bind the value to its format, key and cookie name: a value copied
	//    into another cookie does not authenticate.
	aad := buf[sealedLen:]
	aad[0] = formatV1
	copy(aad[1:], rk.id[:])
	copy(aad[1+keyIDSize:], name)

	// 4. Encrypt and authenticate in place.
	rk.derived().aead.Seal(pt[:0], nonce, pt, aad)

	// 5. Encode for the cookie.
	return b64.AppendEncode(dst, buf[:sealedLen]), nil
}

// Open checks and decrypts a value sealed by Seal for the cookie called
// name. It returns an error wrapping ErrTooLarge, ErrMalformed,
// ErrUnknownKey, ErrAuthentication or ErrExpired for any value that was not
// sealed by one of k's keys for this name and is not within the deadlines
// of o; such errors are expected for untrusted input. It never returns a
// partial result, and refuses an over-long value before decoding it.
//
// Most users never call Open: the Manager does.
func (k *Keyring) Open(name, value string, o OpenOptions) (Envelope, error) {
	// 1. Check the size before spending anything on the value.
	maxLen := o.MaxLength
	if maxLen <= 0 {
		maxLen = DefaultMaxSize
	}
	if len(value) > maxLen {
		return Envelope{}, fmt.Errorf("%w: value is %d bytes, at most %d are accepted", ErrTooLarge, len(value), maxLen)
	}
	if len(value) < minEncoded {
		return Envelope{}, fmt.Errorf("%w: value is %d bytes, too short to be sealed", ErrMalformed, len(value))
	}

	// The decoder skips line breaks; a value holding any is not ours, and
	// must not open just because the rest of it does.
	if strings.IndexByte(value, '\n') >= 0 || strings.IndexByte(value, '\r') >= 0 { // ContainsAny is 15x slower
		return Envelope{}, fmt.Errorf("%w: line break in value", ErrMalformed)
	}

	// 2. Decode, leaving room at the end of the buffer for the associated
	//    data so that opening allocates once.
	rawLen := b64.DecodedLen(len(value))
	buf := make([]byte, rawLen+1+keyIDSize+len(name))
	n, err := b64.Decode(buf, unsafe.Slice(unsafe.StringData(value), len(value)))
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	if n != rawLen || n < headerSize+minPlaintext+tagSize {
		return Envelope{}, fmt.Errorf("%w: not base64url", ErrMalformed)
	}
	raw := buf[:n]
	if raw[0] != formatV1 {
		return Envelope{}, fmt.Errorf("%w: unknown format version %d", ErrMalformed, raw[0])
	}

	// 3. Pick the key by its id.
	rk, newest := k.byID(raw[1 : 1+keyIDSize])
	if rk == nil {
		return Envelope{}, fmt.Errorf("%w: key id %x", ErrUnknownKey, raw[1:1+keyIDSize])
	}

	// 4. Authenticate and decrypt in place. A genuine value spelled other
	//    than the encoder spells it is refused too: a value has one
	//    spelling, so anything keyed by it (the Manager's cache) sees one.
	canonical := canonicalTail(value, raw)
	aad := buf[rawLen:]
	copy(aad, raw[:1+keyIDSize])
	copy(aad[1+keyIDSize:], name)
	nonce := raw[1+keyIDSize : headerSize]
	pt, err := rk.derived().aead.Open(raw[headerSize:headerSize], nonce, raw[headerSize:], aad)
	if err != nil {
		return Envelope{}, fmt.Errorf("%w: for cookie %q", ErrAuthentication, name)
	}
	if !canonical {
		return Envelope{}, fmt.Errorf("%w: base64url with unused bits set", ErrMalformed)
	}

	// 5. Parse the plaintext. It authenticated, so a failure here means a
	//    bug or a key compromise; it is refused all the same.
	e, err := parsePlaintext(pt)
	if err != nil {
		return Envelope{}, err
	}
	e.KeyID = rk.id
	e.Stale = !newest

	// 6. Enforce the deadlines carried inside the value; the cookie's own
	//    Expires and Max-Age are only a hint to the browser.
	if err := checkTimes(&e, &o); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// canonicalTail reports whether value, which decoded to raw, ends as the
// encoder writes raw's last bytes: the bits of the last character that
// carry no data are zero.
func canonicalTail(value string, raw []byte) bool {
	k := len(raw) % 3 // bytes in the last, partial group
	if k == 0 {
		return true
	}
	var q [4]byte
	b64.Encode(q[:], raw[len(raw)-k:])
	return string(q[:k+1]) == value[len(value)-k-1:]
}

// plaintext is the measured version-1 plaintext of an Envelope (see the
// format comment above). Measuring comes apart from writing so that a
// caller can place the plaintext inside a buffer it allocates once; both
// sealed formats (Keyring.Seal and the securecookie format) share it, so
// the layout is written in one place only.
type plaintext struct {
	hdr      [2*binary.MaxVarintLen64 + 1]byte // created | issued delta | flags
	n        int                               // bytes of hdr in use
	flashLen int                               // encoded flash list, 0 if none
	size     int                               // the whole plaintext
}

// measurePlaintext encodes e's times and flags and measures the rest. It
// refuses times that the format cannot carry: before 1970, or Issued
// before Created.
func measurePlaintext(e *Envelope) (plaintext, error) {
	var p plaintext
	created, issued := sealedTime(e.Created).Unix(), sealedTime(e.Issued).Unix()
	if created < 0 || issued < created || created > maxSealedTime || issued-created > maxSealedTime {
		return p, fmt.Errorf("cookiesession: Seal: invalid times (created %v, issued %v)", e.Created, e.Issued)
	}
	// What Open would refuse is not sealed: a value that cannot be read
	// back loses the session without a word.
	if len(e.Flashes) > maxFlashes {
		return p, fmt.Errorf("%w: %d flash messages; at most %d fit a session", ErrTooLarge, len(e.Flashes), maxFlashes)
	}
	p.n = binary.PutUvarint(p.hdr[:], uint64(created))
	p.n += binary.PutUvarint(p.hdr[p.n:], uint64(issued-created))
	if len(e.Flashes) > 0 {
		p.hdr[p.n] = flagFlashes
		p.flashLen = uvarintLen(uint64(len(e.Flashes)))
		for _, f := range e.Flashes {
			p.flashLen += uvarintLen(uint64(len(f))) + len(f)
		}
	}
	p.n++
	p.size = p.n + p.flashLen + len(e.Data)
	return p, nil
}

// put writes the plaintext of e, as measured by measurePlaintext(e), into
// pt, which must be exactly p.size bytes long.
func (p *plaintext) put(pt []byte, e *Envelope) {
	off := copy(pt, p.hdr[:p.n])
	if p.flashLen > 0 {
		off += binary.PutUvarint(pt[off:], uint64(len(e.Flashes)))
		for _, f := range e.Flashes {
			off += binary.PutUvarint(pt[off:], uint64(len(f)))
			off += copy(pt[off:], f)
		}
	}
	copy(pt[off:], e.Data)
}

func parsePlaintext(pt []byte) (Envelope, error) {
	var e Envelope
	created, n := binary.Uvarint(pt)
	if n <= 0 || created > maxSealedTime {
		return e, fmt.Errorf("%w: bad created time", ErrMalformed)
	}
	pt = pt[n:]
	delta, n := binary.Uvarint(pt)
	if n <= 0 || delta > maxSealedTime {
		return e, fmt.Errorf("%w: bad issued time", ErrMalformed)
	}
	pt = pt[n:]
	if len(pt) == 0 || pt[0]&^knownFlags != 0 {
		return e, fmt.Errorf("%w: bad flags", ErrMalformed)
	}
	flags := pt[0]
	pt = pt[1:]
	if flags&flagFlashes != 0 {
		count, n := binary.Uvarint(pt)
		if n <= 0 || count == 0 || count > maxFlashes || count > uint64(len(pt)) {
			return e, fmt.Errorf("%w: bad flash count", ErrMalformed)
		}
		pt = pt[n:]
		e.Flashes = make([]string, count)
		for i := range e.Flashes {
			l, n := binary.Uvarint(pt)
			if n <= 0 || l > uint64(len(pt)-n) {
				return Envelope{}, fmt.Errorf("%w: bad flash length", ErrMalformed)
			}
			e.Flashes[i] = string(pt[n : n+int(l)])
			pt = pt[n+int(l):]
		}
	}
	e.Created = time.Unix(int64(created), 0)
	e.Issued = time.Unix(int64(created+delta), 0)
	e.Data = pt
	return e, nil
}

// sealedTime is t as a sealed value carries it and Open returns it: whole
// seconds, rounded up, in local time, without a monotonic reading. The
// Manager keeps its sessions' times in this form, so that a session reads
// the same whether its cookie was opened or remembered (cache.go).
//
// Rounding up keeps a lifetime from seeming to begin before it did. A
// validator that rejects sessions created before a "signed out everywhere"
// time must not reject the session renewed just after it, in the same
// second; the price is that one created less than a second before it
// passes.
func sealedTime(t time.Time) time.Time {
	sec := t.Unix()
	if t.Nanosecond() != 0 {
		sec++
	}
	return time.Unix(sec, 0)
}

func checkTimes(e *Envelope, o *OpenOptions) error {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if e.Issued.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: issued %s in the future", ErrExpired, e.Issued.Sub(now).Round(time.Second))
	}
	if o.MaxAge > 0 && !now.Before(e.Created.Add(o.MaxAge)) {
		return fmt.Errorf("%w: lifetime of %s ended %s ago", ErrExpired, o.MaxAge, now.Sub(e.Created.Add(o.MaxAge)).Round(time.Second))
	}
	if o.IdleTimeout > 0 && !now.Before(e.Issued.Add(o.IdleTimeout)) {
		return fmt.Errorf("%w: idle for more than %s", ErrExpired, o.IdleTimeout)
	}
	return nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// format seals and opens session values. The Keyring's version-1 format is
// the default; the securecookie format (gorilla.go) is the other.
type format interface {
	// appendSeal appends the sealed value to dst. e is passed by value so
	// that the caller's copy does not escape through the interface.
	appendSeal(dst []byte, name string, e Envelope) ([]byte, error)
	open(name, value string, o OpenOptions) (Envelope, error)
}

// v1Format is the default format: the Keyring's own Seal and Open.
type v1Format struct{ keys *Keyring }

func (f v1Format) appendSeal(dst []byte, name string, e Envelope) ([]byte, error) {
	return f.keys.appendSeal(dst, name, &e)
}
func (f v1Format) open(name, value string, o OpenOptions) (Envelope, error) {
	return f.keys.Open(name, value, o)
}
