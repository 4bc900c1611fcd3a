package cookiesession

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// The securecookie format is the second, selectable sealed format: the one
// of github.com/gorilla/securecookie (and so of gorilla/sessions'
// CookieStore), with keys derived from the Keyring's secrets. It exists so
// that an application can keep reading, and if it chooses keep writing,
// values in gorilla's layout while it moves over to version 1.
//
// securecookie lays a value out as
//
//	value   = base64url-padded( date | "|" | payload | "|" | mac )
//	payload = base64url-padded( iv | AES-256-CTR(plaintext) )
//	mac     = HMAC-SHA256( name | "|" | date | "|" | payload )
//
// where date is securecookie's own decimal Unix time and plaintext is the
// version-1 plaintext of codec.go (created | issued | flags | [flashes] |
// data), so both formats carry exactly the same Envelope. The HMAC covers
// the cookie name: a value moved to another cookie does not authenticate.
//
// Unlike version 1, the value names no key, so opening tries each key of the
// ring in turn. For the same reason this format cannot tell a value sealed
// by a key that is not in the ring from a value that was tampered with: both
// fail with ErrAuthentication, and open never returns ErrUnknownKey.
//
// securecookie's own date is not used: its age check is turned off
// (MaxAge(0)) and the times sealed inside the plaintext are enforced by
// checkTimes instead, exactly as for version 1, so both formats expire
// sessions by the same rules and an injected clock (OpenOptions.Now) works.
type secureCookieFormat struct {
	keys *Keyring
	// codecs holds one securecookie codec per key of keys, in the same
	// order. They are configured once, in newSecureCookieFormat, and never
	// changed afterwards: a configured SecureCookie only reads its fields
	// in Encode and Decode, so the format is safe for concurrent use.
	codecs []*securecookie.SecureCookie
	// maxLength is the longest value sealed or opened, in bytes.
	maxLength int
}

// newSecureCookieFormat returns the securecookie format for keys. Values
// longer than maxLength bytes are neither sealed nor opened; zero or less
// means DefaultMaxSize.
func newSecureCookieFormat(keys *Keyring, maxLength int) *secureCookieFormat {
	if maxLength <= 0 {
		maxLength = DefaultMaxSize
	}
	f := &secureCookieFormat{
		keys:      keys,
		codecs:    make([]*securecookie.SecureCookie, len(keys.keys)),
		maxLength: maxLength,
	}
	for i := range keys.keys {
		rk := &keys.keys[i]
		// The derived keys have the sizes securecookie needs (HMAC-SHA256,
		// AES-256), so New cannot record a usage error here: every error
		// Decode returns later is about the value, never about the codec.
		f.codecs[i] = securecookie.New(rk.derived().scHash, rk.derived().scBlock).
			// The payload is our plaintext, already encoded: no gob.
			SetSerializer(securecookie.NopEncoder{}).
			// Deadlines are checked from the sealed times (see above),
			// not from securecookie's unencrypted clock reading.
			MaxAge(0).
			MaxLength(maxLength)
	}
	return f
}

func (f *secureCookieFormat) appendSeal(dst []byte, name string, e Envelope) ([]byte, error) {
	v, err := f.seal(name, &e)
	if err != nil {
		return nil, err
	}
	return append(dst, v...), nil
}

// seal encodes e in securecookie's layout for the cookie called name,
// sealed by the newest key. It refuses, with ErrTooLarge, a value that
// would be longer than the format's maximum length.
func (f *secureCookieFormat) seal(name string, e *Envelope) (string, error) {
	// 1. Measure the plaintext. Its times and flags travel inside the
	//    ciphertext so that nobody can extend a session by editing them.
	p, err := measurePlaintext(e)
	if err != nil {
		return "", err
	}

	// 2. Refuse an over-long value before spending anything on it, and
	//    with our own sentinel: securecookie's own refusal is an untyped
	//    error that errors.Is cannot recognise.
	if n := secureCookieLen(p.size, time.Now().Unix()); n > f.maxLength {
		return "", fmt.Errorf("%w: sealed value would be %d bytes, at most %d are allowed", ErrTooLarge, n, f.maxLength)
	}

	// 3. Write the plaintext into a buffer of our own: securecookie
	//    encrypts in place, and NopEncoder hands it our slice as is, so
	//    e.Data must not be that slice.
	pt := make([]byte, p.size)
	p.put(pt, e)

	// 4. Encrypt, authenticate (binding the cookie name) and encode with
	//    the newest key.
	v, err := f.codecs[0].Encode(name, pt)
	if err != nil {
		// Only a failing random source can get here: the keys are valid,
		// the serializer takes any []byte and the length was checked.
		return "", fmt.Errorf("cookiesession: sealing in securecookie format: %w", err)
	}
	return v, nil
}

// open checks and decrypts a value sealed in securecookie's layout for the
// cookie called name by one of the ring's keys. Like Keyring.Open it
// returns an error wrapping ErrTooLarge, ErrMalformed, ErrAuthentication or
// ErrExpired for anything else, never a partial result, and refuses an
// over-long value before decoding it. It never returns ErrUnknownKey: with
// no key id in the value, a retired key and tampering look the same.
func (f *secureCookieFormat) open(name, value string, o OpenOptions) (Envelope, error) {
	// 1. Check the size before spending anything on the value. The limit
	//    is the smaller of the format's and the caller's, so that the
	//    codecs' own length check (an untyped error) can never fire.
	maxLen := o.MaxLength
	if maxLen <= 0 {
		maxLen = DefaultMaxSize
	}
	maxLen = min(maxLen, f.maxLength)
	if len(value) > maxLen {
		return Envelope{}, fmt.Errorf("%w: value is %d bytes, at most %d are accepted", ErrTooLarge, len(value), maxLen)
	}

	// 2. Check the structure once, before trying keys. securecookie answers
	//    a broken structure and a wrong MAC with the same error; telling
	//    them apart here is what lets step 3 read that error as "not this
	//    key", and spares an HMAC per key on garbage.
	if err := checkSecureCookieStructure(value); err != nil {
		return Envelope{}, err
	}

	// 3. Try each key in order (the value names none): the first whose MAC
	//    verifies sealed the value. Any other error means the MAC verified
	//    but the authenticated content is not ours to read.
	var (
		pt  []byte
		key = -1
	)
	for i, sc := range f.codecs {
		err := sc.Decode(name, value, &pt)
		if err == nil {
			key = i
			break
		}
		if !errors.Is(err, securecookie.ErrMacInvalid) {
			return Envelope{}, fmt.Errorf("%w: authenticated by key %s but unreadable: %v", ErrMalformed, f.keys.keys[i].id, err)
		}
	}
	if key < 0 {
		return Envelope{}, fmt.Errorf("%w: no key of the ring authenticates it for cookie %q (sealed for another name, by a key not in the ring, or altered)", ErrAuthentication, name)
	}

	// 4. Parse the plaintext. It authenticated, so a failure here means a
	//    bug or a key compromise; it is refused all the same.
	e, err := parsePlaintext(pt)
	if err != nil {
		return Envelope{}, err
	}
	e.KeyID = f.keys.keys[key].id
	e.Stale = key != 0

	// 5. Enforce the deadlines carried inside the value; the cookie's own
	//    Expires and Max-Age, and securecookie's date, are not trusted.
	if err := checkTimes(&e, &o); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// scBase64 is the encoding securecookie uses for both of its layers. Strict
// refuses encodings whose unused bits are set: the Go encoder never writes
// them, so a genuine value always passes, and a value has one spelling only.
var scBase64 = base64.URLEncoding.Strict()

// checkSecureCookieStructure refuses, with ErrMalformed, a value that no
// key could have sealed in securecookie's layout: not padded URL-safe
// base64, or not date | payload | 32-byte MAC. The checks do not depend on
// the key, so a value that passes and still does not decode failed its MAC.
func checkSecureCookieStructure(value string) error {
	// Go's base64 decoders skip CR and LF anywhere in their input; refuse
	// them so that a value has exactly one spelling.
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("%w: line break in value", ErrMalformed)
	}
	raw, err := scBase64.DecodeString(value)
	if err != nil {
		return fmt.Errorf("%w: not padded base64url", ErrMalformed)
	}
	// The date is decimal and the payload base64, so the first two "|" are
	// the separators; the MAC is raw bytes and may contain "|" itself.
	date, rest, ok := bytes.Cut(raw, []byte("|"))
	if !ok {
		return fmt.Errorf("%w: no securecookie date", ErrMalformed)
	}
	if _, err := strconv.ParseInt(string(date), 10, 64); err != nil {
		return fmt.Errorf("%w: bad securecookie date", ErrMalformed)
	}
	_, mac, ok := bytes.Cut(rest, []byte("|"))
	if !ok || len(mac) != sha256.Size {
		return fmt.Errorf("%w: no securecookie MAC", ErrMalformed)
	}
	return nil
}

// secureCookieLen is the length of the value securecookie's Encode returns
// for a plaintext of ptSize bytes sealed at Unix time now (securecookie
// writes its own clock reading as a decimal number).
func secureCookieLen(ptSize int, now int64) int {
	payload := base64.URLEncoding.EncodedLen(aes.BlockSize + ptSize) // iv | ciphertext
	date := len(strconv.AppendInt(make([]byte, 0, 20), now, 10))
	return base64.URLEncoding.EncodedLen(date + 1 + payload + 1 + sha256.Size)
}

// secureCookieTime returns the Unix time securecookie wrote into value
// (its Encode time; for gorilla/sessions, the session's last save). Only
// after the value authenticated is the time to be trusted.
func secureCookieTime(value string) (int64, bool) {
	raw, err := scBase64.DecodeString(value)
	if err != nil {
		return 0, false
	}
	date, _, ok := bytes.Cut(raw, []byte("|"))
	if !ok {
		return 0, false
	}
	t, err := strconv.ParseInt(string(date), 10, 64)
	return t, err == nil
}
