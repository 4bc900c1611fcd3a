package cookiesession

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/gorilla/securecookie"
)

// gorillaFormat is the format of gorilla/securecookie, and so of
// gorilla/sessions' CookieStore (WithGorillaFormat), with keys derived from
// the Keyring's secrets.
//
// securecookie lays a value out as
//
//	value   = base64url-padded( date | "|" | payload | "|" | mac )
//	payload = base64url-padded( iv | AES-256-CTR(plaintext) )
//	mac     = HMAC-SHA256( name | "|" | date | "|" | payload )
//
// where plaintext is the default format's (seal.go), so both formats carry
// the same Contents. The value names no key, so opening tries each key in
// turn, and cannot tell a retired key from tampering: both fail with
// ErrAuthentication. securecookie's own date is not trusted for expiry
// (its age check is off): the times sealed inside the plaintext are.
type gorillaFormat struct{ keys *Keyring }

// seal encodes e in securecookie's layout for the cookie called name,
// sealed by the newest key.
func (f gorillaFormat) seal(name string, e *Contents) (string, error) {
	pt, err := appendPlaintext(nil, e)
	if err != nil {
		return "", err
	}
	v, err := f.keys.newest().gorilla().Encode(name, pt)
	if err != nil {
		// Only a failing random source can get here: the keys are valid
		// and the serializer takes any []byte.
		return "", fmt.Errorf("cookiesession: sealing in securecookie's format: %w", err)
	}
	return v, nil
}

// open checks and decrypts a value that seal sealed for the cookie called
// name by one of the ring's keys, and fails as the default format's open
// does, but never with ErrUnknownKey.
func (f gorillaFormat) open(name, value string, o openOptions) (Contents, int, error) {
	// 1. Check the size before spending anything on the value.
	if len(value) > o.maxLength {
		return Contents{}, 0, fmt.Errorf("%w: value is %d bytes, at most %d are accepted", ErrTooLarge, len(value), o.maxLength)
	}
	// 2. Check the layout once, before trying keys: securecookie answers a
	//    broken layout and a wrong MAC with the same error, and this lets
	//    step 3 read that error as "not this key".
	_, err := gorillaLayout(value)
	if err != nil {
		return Contents{}, 0, err
	}
	// 3. Try each key in order: the first whose MAC verifies sealed it.
	var pt []byte
	for i := range f.keys.keys {
		err := f.keys.keys[i].gorilla().Decode(name, value, &pt)
		if err == nil {
			e, err := parsePlaintext(pt)
			if err != nil {
				return Contents{}, 0, err
			}
			if err := checkTimes(&e, &o); err != nil {
				return Contents{}, 0, err
			}
			return e, i, nil
		}
		if !errors.Is(err, securecookie.ErrMacInvalid) {
			return Contents{}, 0, fmt.Errorf("%w: authenticated by key %d but unreadable: %v", ErrMalformed, i+1, err)
		}
	}
	return Contents{}, 0, fmt.Errorf("%w: no key of the ring authenticates it for cookie %q (sealed for another name, by a key not in the ring, or altered)", ErrAuthentication, name)
}

// gorillaBase64 is the encoding securecookie uses for both of its layers.
// Strict refuses a value whose unused bits are set: securecookie never
// writes one, and its own decoder would read it as the genuine value.
var gorillaBase64 = base64.URLEncoding.Strict()

// gorillaLayout returns the Unix time securecookie wrote into value (for
// gorilla/sessions, the session's last save), to be trusted only once the
// value has authenticated. It refuses, with ErrMalformed, a value that no
// key could have sealed: not padded URL-safe base64, or not
// date | payload | 32-byte MAC.
func gorillaLayout(value string) (date int64, err error) {
	raw, err := gorillaBase64.DecodeString(value)
	if err != nil {
		return 0, fmt.Errorf("%w: not padded base64url", ErrMalformed)
	}
	// The date is decimal and the payload base64, so the first two "|" are
	// the separators; the MAC is raw bytes and may contain "|" itself.
	d, rest, ok := bytes.Cut(raw, []byte("|"))
	if !ok {
		return 0, fmt.Errorf("%w: no securecookie date", ErrMalformed)
	}
	if date, err = strconv.ParseInt(string(d), 10, 64); err != nil {
		return 0, fmt.Errorf("%w: bad securecookie date", ErrMalformed)
	}
	if _, mac, ok := bytes.Cut(rest, []byte("|")); !ok || len(mac) != sha256.Size {
		return 0, fmt.Errorf("%w: no securecookie MAC", ErrMalformed)
	}
	return date, nil
}
