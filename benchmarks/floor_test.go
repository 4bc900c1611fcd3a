package benchmarks

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"

	"github.com/ce967478/cookiesession/benchmarks/apps"
	"golang.org/x/crypto/chacha20poly1305"
)

// floor is the least any encrypted cookie session must do with the typical
// session: JSON, XChaCha20-Poly1305 with a random 24-byte nonce, and
// base64url, written plainly, with no header, times, associated data, size
// checks or cookie handling. Its value is nonce | ciphertext+tag.
type floor struct {
	aead cipher.AEAD
}

func newFloor() *floor {
	aead, err := chacha20poly1305.NewX(apps.Secret(4, chacha20poly1305.KeySize))
	if err != nil {
		panic(err)
	}
	return &floor{aead: aead}
}

var b64 = base64.RawURLEncoding

// seal is marshal + seal + encode.
func (f *floor) seal(t *apps.Typical) string {
	pt, err := json.Marshal(t)
	if err != nil {
		panic(err)
	}
	buf := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(pt)+chacha20poly1305.Overhead)
	_, _ = rand.Read(buf)
	return b64.EncodeToString(f.aead.Seal(buf, buf, pt, nil))
}

// open is decode + open + unmarshal.
func (f *floor) open(value string, t *apps.Typical) error {
	raw, err := b64.DecodeString(value)
	if err != nil {
		return err
	}
	if len(raw) < chacha20poly1305.NonceSizeX {
		return errors.New("floor: value too short")
	}
	nonce, ct := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	pt, err := f.aead.Open(ct[:0], nonce, ct, nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(pt, t)
}

// sink keeps the compiler from dropping work whose result is unused.
var sink string

// read is the floor of a read-only request: decode + open + unmarshal.
func (f *floor) read(value string) {
	var t apps.Typical
	if err := f.open(value, &t); err != nil {
		panic(err)
	}
	sink = t.Name
}

// write is the floor of a changing request: decode + open + unmarshal, then
// marshal + seal + encode.
func (f *floor) write(value string) string {
	var t apps.Typical
	if err := f.open(value, &t); err != nil {
		panic(err)
	}
	if t.Theme == "dark" {
		t.Theme = "light"
	} else {
		t.Theme = "dark"
	}
	v := f.seal(&t)
	sink = v
	return v
}
