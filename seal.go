package cookiesession

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"

	"github.com/ce967478/cookiesession/revocation"
)

// DefaultMaxSize is the default cap, in bytes, on a sealed session value
// (all chunks together). It keeps the Cookie header a browser sends under
// 8 KB, the default per-line limit of nginx and Apache, with room to spare
// for the application's other cookies.
const DefaultMaxSize = 7168

// ClockSkew is how far in the future an issue time may lie before a value
// is refused: instances sharing keys rarely agree on the time to the
// second, and one whose clock is further ahead signs its users out on the
// others, which log a warning saying so.
const ClockSkew = revocation.ClockSkew

// errIssuedAhead marks the ErrExpired of a value issued further in the
// future than ClockSkew. Only a holder of the keys seals a value, so it
// is not an attacker's doing but a clock's: the engine warns of it.
var errIssuedAhead = errors.New("issued in the future")

// Contents is what one sealed session value carries: the serialised
// session data, and what the Manager keeps beside it.
type Contents struct {
	// Created is when the session's lifetime began (creation, or Renew);
	// Issued is when this value was sealed. Both travel in whole seconds,
	// rounded up.
	Created, Issued time.Time
	ID              SessionID
	// Generation is the subject's generation the session was signed in
	// under (see SignOutEverywhere); 0 for none.
	Generation uint64
	// Binding is the device binding the session is bound to (see
	// WithDeviceBinding); zero for none.
	Binding SessionID
	// Lifetime is how long after Created the value may open, as the
	// sealing Manager's WithMaxAge said, in whole seconds rounded up, and
	// at most about 270 years (a longer one is sealed as that); zero for
	// no bound of its own (values of earlier releases). A Manager with
	// a longer WithMaxAge does not extend it: a revocation is forgotten
	// once the sessions it names have expired, and a copy it refused
	// must not open again because the lifetime was raised since.
	Lifetime time.Duration
	Flashes  []string
	Data     []byte // as the Serializer wrote it
}

// openOptions bound what open accepts.
type openOptions struct {
	now         time.Time
	maxAge      time.Duration // from created; zero means no limit
	idleTimeout time.Duration // from issued; zero means no limit
	maxLength   int           // the longest value accepted, in bytes
}

// format seals and opens session values. The Keyring's own format is the
// default; gorillaFormat (seal_gorilla.go) is the other.
type format interface {
	seal(name string, c *Contents) (string, error)
	// open also returns the position in the Keyring of the key that
	// sealed the value, from 0 (the newest).
	open(name, value string, o openOptions) (Contents, int, error)
}

// The default format, version 1:
//
//	value     = base64url-no-padding( version | key id | nonce | ciphertext+tag )
//	AAD       = version | key id | cookie name
//	plaintext = uvarint(created, unix seconds) | uvarint(issued - created) |
//	            flags | [session id] | [flashes] | [fields] | data
//	id        = 16 bytes                                (present if flags&flagID)
//	flashes   = uvarint(count) { uvarint(len) bytes }   (present if flags&flagFlashes)
//	fields    = uvarint(len) { uvarint(tag) uvarint(len) bytes }  (present if flags&flagFields)
//
// A value without an id was sealed by a release before sessions had one;
// its session has the zero id (see SessionID), and so does every value
// sealed for it afterwards, until a Renew gives it its own.
//
// Fields are the place for what a later release adds: a field whose tag is
// even is optional, and a release that does not know it skips it, so that
// rolling a deploy back signs no one out; an odd tag must be understood,
// and a release that does not know it refuses the value. Flags stay as
// they are: releases before fields refuse a flag they do not know, so
// flagFields is set only when a field is present.
const (
	formatV1     = 1
	headerSize   = 1 + keyIDSize + chacha20poly1305.NonceSizeX // before the ciphertext
	tagSize      = chacha20poly1305.Overhead
	flagFlashes  = 1 << 0
	flagID       = 1 << 1
	flagFields   = 1 << 2
	knownFlags   = flagFlashes | flagID | flagFields
	minPlaintext = 3 // one byte each for created, issued delta and flags
	// maxFlashes bounds the flash list a value may claim to hold, so that
	// a corrupt count cannot make open allocate much. seal refuses more.
	maxFlashes = 1 << 10
	// maxSealedTime bounds the created time and the issued delta, in
	// seconds (about 35,000 years): open refuses more, and so does seal.
	maxSealedTime = 1 << 40
	// maxSealedLifetime bounds Contents.Lifetime, in seconds (about 270
	// years), within what a time.Duration holds.
	maxSealedLifetime = 1 << 33
	// maxPlaintextHeader is room for the times, the flags, the id and the
	// fields this release writes.
	maxPlaintextHeader = 2*binary.MaxVarintLen64 + 1 + len(SessionID{}) + 3 + binary.MaxVarintLen64 + 2 + len(SessionID{}) + 2 + binary.MaxVarintLen64
	// fieldBinding is the device binding (WithDeviceBinding) the session
	// is bound to. It must be understood: a release that skipped it would
	// take a bound session for an ordinary one, which a copied cookie
	// could then use without the device.
	fieldBinding = 3
	// fieldGeneration is the subject's generation the session was signed
	// in under (see revocation.Revoked.Generation); optional, absent when 0.
	fieldGeneration = 2
	// fieldLifetime is Contents.Lifetime in seconds. Optional: a release
	// that skips it enforces its own WithMaxAge, as before the field.
	fieldLifetime = 4
)

var b64 = base64.RawURLEncoding

// seal serialises e into a cookie value for the cookie called name, sealed
// by the newest key. It refuses what open would refuse: times before 1970
// or out of order, and more than maxFlashes flash messages.
func (k *Keyring) seal(name string, e *Contents) (string, error) {
	// 1. Serialise the times, flags, flashes and data. The times travel
	//    inside the ciphertext so that nobody can extend a session by
	//    editing them.
	pt, err := appendPlaintext(make([]byte, 0, maxPlaintextHeader+len(e.Data)), e)
	if err != nil {
		return "", err
	}
	return k.sealPlaintext(name, pt), nil
}

// sealPlaintext seals pt, a plaintext in the layout above, for the cookie
// called name.
func (k *Keyring) sealPlaintext(name string, pt []byte) string {
	// 2. Write the header: the format, the key's id and a random nonce,
	//    in a buffer with room for the ciphertext and, after it, the
	//    associated data: one allocation for both.
	rk := k.newest()
	sealedLen := headerSize + len(pt) + tagSize
	buf := make([]byte, headerSize, sealedLen+1+keyIDSize+len(name))
	buf[0] = formatV1
	copy(buf[1:], rk.id[:])
	nonce := buf[1+keyIDSize : headerSize]
	_, _ = rand.Read(nonce) // never fails: see GenerateSecret
	aad := appendAssociatedData(buf[sealedLen:sealedLen], buf[:1+keyIDSize], name)

	// 3. Encrypt and authenticate, binding the value to its format, key and
	//    cookie name: a value copied into another cookie does not open.
	sealed := rk.aead().Seal(buf, nonce, pt, aad)

	// 4. Encode for the cookie.
	return b64.EncodeToString(sealed)
}

// appendAssociatedData appends version | key id (the value's first bytes)
// | name to dst.
func appendAssociatedData(dst, versionAndKey []byte, name string) []byte {
	return append(append(dst, versionAndKey...), name...)
}

// open checks and decrypts a value sealed by seal for the cookie called
// name. It returns an error wrapping ErrTooLarge, ErrMalformed,
// ErrUnknownKey, ErrAuthentication or ErrExpired for any value that was not
// sealed by one of k's keys for this name, or is past its deadlines. Such
// errors are expected: a cookie is untrusted input. It never returns a
// partial result, and refuses an over-long value before decoding it.
func (k *Keyring) open(name, value string, o openOptions) (Contents, int, error) {
	// 1. Check the size before spending anything on the value.
	if len(value) > o.maxLength {
		return Contents{}, 0, fmt.Errorf("%w: value is %d bytes, at most %d are accepted", ErrTooLarge, len(value), o.maxLength)
	}

	// 2. Decode, and read the header. The buffer has room after the
	//    value for the associated data: one allocation for both.
	n := b64.DecodedLen(len(value))
	raw := make([]byte, n, n+1+keyIDSize+len(name))
	n, err := b64.Decode(raw, []byte(value))
	if raw = raw[:n]; err != nil || n < headerSize+minPlaintext+tagSize {
		return Contents{}, 0, fmt.Errorf("%w: not base64url, or too short to be sealed", ErrMalformed)
	}
	if raw[0] != formatV1 {
		return Contents{}, 0, fmt.Errorf("%w: unknown format version %d", ErrMalformed, raw[0])
	}

	// 3. Pick the key by its id.
	rk := k.byID(raw[1 : 1+keyIDSize])
	if rk == nil {
		return Contents{}, 0, fmt.Errorf("%w: key id %x", ErrUnknownKey, raw[1:1+keyIDSize])
	}

	// 4. Authenticate and decrypt.
	nonce := raw[1+keyIDSize : headerSize]
	aad := appendAssociatedData(raw[n:n], raw[:1+keyIDSize], name)
	pt, err := rk.aead().Open(raw[headerSize:headerSize], nonce, raw[headerSize:], aad)
	if err != nil {
		return Contents{}, 0, fmt.Errorf("%w: for cookie %q", ErrAuthentication, name)
	}

	// 5. Parse the plaintext. It authenticated, so a failure here means a
	//    bug or a key compromise; it is refused all the same.
	e, err := parsePlaintext(pt)
	if err != nil {
		return Contents{}, 0, err
	}

	// 6. Enforce the deadlines carried inside the value; the cookie's own
	//    Expires and Max-Age are only a hint to the browser.
	if err := checkTimes(&e, &o); err != nil {
		return Contents{}, 0, err
	}
	return e, rk.position - 1, nil
}

// appendPlaintext appends the plaintext of e, the layout both formats
// share (see the format comment above), to dst.
func appendPlaintext(dst []byte, e *Contents) ([]byte, error) {
	if err := checkSealable(e); err != nil {
		return nil, err
	}
	created, issued := sealedTime(e.Created).Unix(), sealedTime(e.Issued).Unix()
	dst = binary.AppendUvarint(dst, uint64(created))
	dst = binary.AppendUvarint(dst, uint64(issued-created))
	var flags byte
	if e.ID != (SessionID{}) {
		flags |= flagID
	}
	if len(e.Flashes) > 0 {
		flags |= flagFlashes
	}
	if e.Generation != 0 || e.Binding != (SessionID{}) || e.Lifetime > 0 {
		flags |= flagFields
	}
	dst = append(dst, flags)
	if flags&flagID != 0 {
		dst = append(dst, e.ID[:]...)
	}
	if flags&flagFlashes != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(e.Flashes)))
		for _, f := range e.Flashes {
			dst = binary.AppendUvarint(dst, uint64(len(f)))
			dst = append(dst, f...)
		}
	}
	if flags&flagFields != 0 {
		dst = appendFields(dst, e)
	}
	return append(dst, e.Data...), nil
}

// checkSealable refuses what open would refuse: a value that cannot be
// read back loses the session without a word.
func checkSealable(e *Contents) error {
	created, issued := sealedTime(e.Created).Unix(), sealedTime(e.Issued).Unix()
	if created < 0 || issued < created || created > maxSealedTime || issued-created > maxSealedTime {
		return fmt.Errorf("cookiesession: sealing: invalid times (created %v, issued %v)", e.Created, e.Issued)
	}
	if len(e.Flashes) > maxFlashes {
		return fmt.Errorf("%w: %d flash messages; at most %d fit a session", ErrTooLarge, len(e.Flashes), maxFlashes)
	}
	return nil
}

// appendFields appends the fields of e: their length, then each field's
// tag, length and value.
func appendFields(dst []byte, e *Contents) []byte {
	var fields [3*(2+binary.MaxVarintLen64) + len(SessionID{})]byte
	f := fields[:0]
	if e.Generation != 0 {
		f = appendUvarintField(f, fieldGeneration, e.Generation)
	}
	if e.Binding != (SessionID{}) {
		f = append(f, fieldBinding, byte(len(e.Binding)))
		f = append(f, e.Binding[:]...)
	}
	if e.Lifetime > 0 {
		f = appendUvarintField(f, fieldLifetime, lifetimeSeconds(e.Lifetime))
	}
	dst = binary.AppendUvarint(dst, uint64(len(f)))
	return append(dst, f...)
}

// appendUvarintField appends a field whose value is the uvarint of v.
func appendUvarintField(dst []byte, tag byte, v uint64) []byte {
	var b [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(b[:], v)
	return append(append(dst, tag, byte(n)), b[:n]...)
}

// lifetimeSeconds is d in whole seconds, rounded up, as Contents.Lifetime
// is sealed: at most maxSealedLifetime, which a longer lifetime (a
// WithMaxAge of math.MaxInt64 for "never") is sealed as.
func lifetimeSeconds(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	s := uint64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return min(s, maxSealedLifetime)
}

// parsePlaintext reads what appendPlaintext wrote.
func parsePlaintext(pt []byte) (Contents, error) {
	var e Contents
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
	if flags&flagID != 0 {
		if len(pt) < len(e.ID) {
			return e, fmt.Errorf("%w: bad session id", ErrMalformed)
		}
		pt = pt[copy(e.ID[:], pt):]
	}
	var err error
	if flags&flagFlashes != 0 {
		if e.Flashes, pt, err = parseFlashes(pt); err != nil {
			return Contents{}, err
		}
	}
	if flags&flagFields != 0 {
		if pt, err = parseFields(pt, &e); err != nil {
			return Contents{}, err
		}
	}
	e.Created = time.Unix(int64(created), 0)
	e.Issued = time.Unix(int64(created+delta), 0)
	e.Data = pt
	return e, nil
}

// parseFlashes reads the flash messages at the start of pt and returns
// them with the rest of pt.
func parseFlashes(pt []byte) ([]string, []byte, error) {
	count, n := binary.Uvarint(pt)
	if n <= 0 || count == 0 || count > maxFlashes || count > uint64(len(pt)) {
		return nil, nil, fmt.Errorf("%w: bad flash count", ErrMalformed)
	}
	pt = pt[n:]
	flashes := make([]string, count)
	for i := range flashes {
		l, n := binary.Uvarint(pt)
		if n <= 0 || l > uint64(len(pt)-n) {
			return nil, nil, fmt.Errorf("%w: bad flash length", ErrMalformed)
		}
		flashes[i] = string(pt[n : n+int(l)])
		pt = pt[n+int(l):]
	}
	return flashes, pt, nil
}

// parseFields reads the fields at the start of pt into e, skipping the
// optional ones it does not know, and returns the rest of pt.
func parseFields(pt []byte, e *Contents) ([]byte, error) {
	size, n := binary.Uvarint(pt)
	if n <= 0 || size > uint64(len(pt)-n) {
		return nil, fmt.Errorf("%w: bad fields length", ErrMalformed)
	}
	fields, rest := pt[n:n+int(size)], pt[n+int(size):]
	for len(fields) > 0 {
		tag, n := binary.Uvarint(fields)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad field tag", ErrMalformed)
		}
		fields = fields[n:]
		l, n := binary.Uvarint(fields)
		if n <= 0 || l > uint64(len(fields)-n) {
			return nil, fmt.Errorf("%w: bad field length", ErrMalformed)
		}
		if err := setField(e, tag, fields[n:n+int(l)]); err != nil {
			return nil, err
		}
		fields = fields[n+int(l):]
	}
	return rest, nil
}

// setField sets the field of e that tag names to value, skips an optional
// field it does not know, and refuses one that must be understood.
func setField(e *Contents, tag uint64, value []byte) error {
	switch {
	case tag == fieldBinding:
		if len(value) != len(e.Binding) {
			return fmt.Errorf("%w: bad binding", ErrMalformed)
		}
		copy(e.Binding[:], value)
	case tag == fieldGeneration:
		g, n := binary.Uvarint(value)
		if n <= 0 || n != len(value) {
			return fmt.Errorf("%w: bad generation", ErrMalformed)
		}
		e.Generation = g
	case tag == fieldLifetime:
		l, n := binary.Uvarint(value)
		if n <= 0 || n != len(value) || l == 0 || l > maxSealedLifetime {
			return fmt.Errorf("%w: bad lifetime", ErrMalformed)
		}
		e.Lifetime = time.Duration(l) * time.Second
	case tag%2 == 1:
		return fmt.Errorf("%w: field %d must be understood, and this release does not know it", ErrMalformed, tag)
	}
	return nil
}

// sealedTime is t as a sealed value carries it and open returns it: whole
// seconds, rounded up, in local time, without a monotonic reading. The
// Manager keeps its sessions' times in this form, so that a session reads
// the same on every instance, whether its cookie was just sealed or opened.
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

// checkTimes enforces the deadlines of o on e.
func checkTimes(e *Contents, o *openOptions) error {
	if e.Issued.After(o.now.Add(ClockSkew)) {
		return fmt.Errorf("%w: %w by %s, more than ClockSkew (%s)", ErrExpired, errIssuedAhead, e.Issued.Sub(o.now).Round(time.Second), ClockSkew)
	}
	maxAge := o.maxAge
	if e.Lifetime > 0 && (maxAge == 0 || e.Lifetime < maxAge) {
		maxAge = e.Lifetime // sealed under a shorter WithMaxAge than this one
	}
	if maxAge > 0 && !o.now.Before(e.Created.Add(maxAge)) {
		return fmt.Errorf("%w: lifetime of %s ended %s ago", ErrExpired, maxAge, o.now.Sub(e.Created.Add(maxAge)).Round(time.Second))
	}
	if o.idleTimeout > 0 && !o.now.Before(e.Issued.Add(o.idleTimeout)) {
		return fmt.Errorf("%w: idle for more than %s", ErrExpired, o.idleTimeout)
	}
	return nil
}
