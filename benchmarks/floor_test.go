package benchmarks

import (
	"bytes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ce967478/cookiesession/benchmarks/apps"
	"golang.org/x/crypto/chacha20poly1305"
)

// floor is the least any encrypted cookie session must do with the typical
// session: JSON, XChaCha20-Poly1305 with a random 24-byte nonce, and
// base64url, written plainly, with no header, times, associated data, size
// checks or cookie handling. Its value is nonce | ciphertext+tag.
//
// Knowing whether the session changed is part of the job, on every request:
// the response must carry the cookie when it did and not when it did not.
// cookiesession knows by serialising Data when the response is committed
// and comparing the bytes with those the cookie brought, so the floor does
// the same, and nothing cheaper: a read-only request serialises the session
// again and compares (and finds no change), and a changing one serialises,
// compares (and finds a change) and seals the bytes it compared.
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
	return f.sealBytes(pt)
}

// sealBytes is seal + encode of serialised data.
func (f *floor) sealBytes(pt []byte) string {
	buf := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(pt)+chacha20poly1305.Overhead)
	_, _ = rand.Read(buf)
	return b64.EncodeToString(f.aead.Seal(buf, buf, pt, nil))
}

// open is decode + open + unmarshal. It returns the plaintext: the bytes
// the change check compares with.
func (f *floor) open(value string, t *apps.Typical) ([]byte, error) {
	raw, err := b64.DecodeString(value)
	if err != nil {
		return nil, err
	}
	if len(raw) < chacha20poly1305.NonceSizeX {
		return nil, errors.New("floor: value too short")
	}
	nonce, ct := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	pt, err := f.aead.Open(ct[:0], nonce, ct, nil)
	if err != nil {
		return nil, err
	}
	return pt, json.Unmarshal(pt, t)
}

// changed is the change check: marshal t and compare the bytes with orig,
// the plaintext the cookie brought. It returns the serialised bytes, which
// a changing request seals.
func (f *floor) changed(t *apps.Typical, orig []byte) ([]byte, bool) {
	data, err := json.Marshal(t)
	if err != nil {
		panic(err)
	}
	return data, !bytes.Equal(data, orig)
}

// sink keeps the compiler from dropping work whose result is unused.
var sink string

// read is the floor of a read-only request: decode + open + unmarshal, then
// marshal + compare. It reports whether the check found a change (it should
// not).
func (f *floor) read(value string) bool {
	var t apps.Typical
	pt, err := f.open(value, &t)
	if err != nil {
		panic(err)
	}
	sink = t.Name
	_, changed := f.changed(&t, pt)
	return changed
}

// write is the floor of a changing request: decode + open + unmarshal, the
// change, marshal + compare, then seal + encode of the compared bytes.
func (f *floor) write(value string) string {
	var t apps.Typical
	pt, err := f.open(value, &t)
	if err != nil {
		panic(err)
	}
	if t.Theme == "dark" {
		t.Theme = "light"
	} else {
		t.Theme = "dark"
	}
	data, changed := f.changed(&t, pt)
	if !changed {
		panic("floor: the theme changed, the check saw no change")
	}
	v := f.sealBytes(data)
	sink = v
	return v
}

// TestFloor checks that the floor does the whole job its benchmarks
// measure: a read-only request opens the value and its change check finds
// no change, a changing one finds the change and seals a value that opens
// to the new data, and the check compares freshly serialised bytes with
// the cookie's (a value whose JSON is spelt otherwise counts as changed,
// as it does in cookiesession).
func TestFloor(t *testing.T) {
	f := newFloor()
	typical := apps.NewTypical()
	value := f.seal(&typical)
	if f.read(value) {
		t.Error("read: the change check found a change in an unchanged session")
	}
	var got apps.Typical
	if _, err := f.open(f.write(value), &got); err != nil {
		t.Fatal(err)
	}
	if got.Theme != "light" || got.Name != typical.Name || len(got.Cart) != len(typical.Cart) {
		t.Errorf("write: opened %+v", got)
	}
	indented, err := json.MarshalIndent(typical, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if !f.read(f.sealBytes(indented)) {
		t.Error("read: the change check did not compare bytes: indented JSON passed for unchanged")
	}
	for _, z := range apps.Sizes {
		data := z.Data()
		if f.read(f.seal(&data)) {
			t.Errorf("%s: read found a change", z.Name)
		}
	}
}
