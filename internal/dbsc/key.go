package dbsc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/binary"
	"math/big"
)

// Alg is the signature algorithm of a device key. Its values are the first
// byte of a key's binary form, sealed into cookies: they never change.
type Alg uint8

// The algorithms DBSC defines besides "none", which binds nothing and is
// refused (ErrAlgNone).
const (
	// ES256 is ECDSA on P-256 with SHA-256; JWS signatures are r||s, 64
	// bytes (RFC 7518, 3.4). Chromium's choice when the device supports it.
	ES256 Alg = 1
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518, 3.3).
	RS256 Alg = 2
)

// String returns the algorithm's JWS name, as in the "alg" member and in
// the Secure-Session-Registration header.
func (a Alg) String() string {
	switch a {
	case ES256:
		return "ES256"
	case RS256:
		return "RS256"
	}
	return "unknown"
}

// RSA key bounds. 2048 bits is the floor of every current guideline (NIST
// SP 800-57, BSI) and what TPMs and Chromium's software keys make; the
// ceiling bounds the cost of a verification an attacker can make us do
// (a 16384-bit modulus costs 64 times a 2048-bit one, per refresh).
const (
	MinRSABits = 2048
	MaxRSABits = 4096
)

// rsaExponent is the only RSA public exponent accepted: F4, 65537. It is
// what every key generator in use makes (TPMs, Chromium, WebCrypto,
// OpenSSL), so refusing others costs no browser anything; small exponents
// like 3 are what signature forgeries against lax PKCS#1 v1.5 verifiers
// need (Bleichenbacher 2006), and one fixed value keeps the binary form
// and its tests simple.
const rsaExponent = 65537

// maxJWKSize bounds a JWK before it is decoded: a 4096-bit RSA key is
// about 720 bytes of JSON, a P-256 key about 120.
const maxJWKSize = 2048

// Sizes of the binary form (see PublicKey.Bytes).
const (
	// ES256KeySize is the binary form of a P-256 key: the alg byte and the
	// 65-byte uncompressed point.
	ES256KeySize = 1 + 65
	// RS256KeySize2048 is the binary form of a 2048-bit RSA key: the alg
	// byte, the modulus length (2 bytes), the modulus and the exponent
	// (3 bytes for 65537).
	RS256KeySize2048 = 1 + 2 + 256 + 3
)

// PublicKey is a device's public key: ES256 (P-256) or RS256 (RSA, 2048 to
// 4096 bits, exponent 65537). Only ParseJWK, ParsePublicKey and proof
// verification make one, so every PublicKey has been validated. It is
// immutable.
type PublicKey struct {
	alg Alg
	ec  *ecdsa.PublicKey
	rsa *rsa.PublicKey
}

// Alg returns the algorithm the key signs with.
func (k *PublicKey) Alg() Alg { return k.alg }

// Equal reports whether k and o are the same key.
func (k *PublicKey) Equal(o *PublicKey) bool {
	if k == nil || o == nil || k.alg != o.alg {
		return k == nil && o == nil
	}
	if k.alg == ES256 {
		return k.ec.Equal(o.ec)
	}
	return k.rsa.Equal(o.rsa)
}

// Bytes returns the key's compact binary form, for sealing inside a cookie
// or a session identifier; ParsePublicKey reads it back.
//
//	ES256: 0x01 | 0x04 | x (32) | y (32)                    66 bytes
//	RS256: 0x02 | len(n) (2, big-endian) | n | e            262 bytes at 2048 bits
//
// n and e are big-endian without leading zeros. It is smaller than a JWK
// as Chromium writes it (126 bytes for P-256, 373 for RSA-2048) or a DER
// SPKI (91 and 294 bytes).
func (k *PublicKey) Bytes() []byte {
	if k.alg == ES256 {
		b, _ := k.ec.Bytes() // never fails: the key was validated on P-256
		return append([]byte{byte(ES256)}, b...)
	}
	n := k.rsa.N.Bytes()
	out := make([]byte, 0, 3+len(n)+len(f4))
	out = append(out, byte(RS256))
	out = binary.BigEndian.AppendUint16(out, uint16(len(n)))
	out = append(out, n...)
	return append(out, f4...) // the only exponent a PublicKey can have
}

// maxKeyBinary is the longest binary form: a 4096-bit modulus and an
// exponent of up to 4 bytes.
const maxKeyBinary = 1 + 2 + MaxRSABits/8 + 4

// ParsePublicKey parses the binary form written by PublicKey.Bytes, with
// the same checks as ParseJWK: a sealed value is authenticated, but a key
// sealed by an older release may not meet today's bounds.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) < 1 || len(b) > maxKeyBinary {
		return nil, ErrKeyBinary
	}
	switch Alg(b[0]) {
	case ES256:
		if len(b) != ES256KeySize || b[1] != 0x04 {
			return nil, ErrKeyBinary
		}
		return newECKey(b[1:])
	case RS256:
		if len(b) < 3 {
			return nil, ErrKeyBinary
		}
		n := int(binary.BigEndian.Uint16(b[1:3]))
		if len(b) < 3+n+1 {
			return nil, ErrKeyBinary
		}
		return newRSAKey(b[3:3+n], b[3+n:])
	}
	return nil, ErrKeyBinary
}

// jwkMembers are the JWK members read (RFC 7518, 6.2.1 and 6.3.1); others,
// such as "alg", "use", "kid", "ext" or "key_ops", are ignored.
var jwkMembers = map[string]kind{
	"kty": kindString, "crv": kindString, "x": kindString, "y": kindString,
	"n": kindString, "e": kindString,
}

var jwkErrors = jsonErrors{syntax: ErrKeyJSON, duplicate: ErrKeyJSON, wrongType: ErrKeyJSON}

// ParseJWK parses a public JWK (RFC 7517): kty "EC" with crv "P-256" and
// x, y of 32 bytes each, as Chromium sends for ES256; or kty "RSA" with n
// and e, for RS256. The point must be on the curve; the RSA key within
// MinRSABits and MaxRSABits, with exponent 65537.
func ParseJWK(data []byte) (*PublicKey, error) {
	if len(data) > maxJWKSize {
		return nil, ErrKeyTooLarge
	}
	obj, err := readObject(data, jwkMembers, jwkErrors)
	if err != nil {
		return nil, err
	}
	m := obj.strings
	switch m["kty"] {
	case "EC":
		if m["crv"] != "P-256" {
			return nil, ErrCurve
		}
		return ecFromJWK(m["x"], m["y"])
	case "RSA":
		n, okN := decodeB64(m["n"]) // Base64urlUInt (RFC 7518, 2): minimal
		e, okE := decodeB64(m["e"])
		if !okN || !okE {
			return nil, ErrKeyEncoding
		}
		return newRSAKey(n, e)
	}
	return nil, ErrKeyType
}

// ecFromJWK builds a P-256 key from base64url coordinates. RFC 7518, 6.2.1.2
// requires the full 32 bytes, leading zeros included; current Chromium pads
// them so (jwk_utils.cc, BN_bn2bin_padded).
func ecFromJWK(xs, ys string) (*PublicKey, error) {
	x, okX := decodeB64(xs)
	y, okY := decodeB64(ys)
	if !okX || !okY || len(x) != 32 || len(y) != 32 {
		return nil, ErrKeyEncoding
	}
	point := make([]byte, 0, 65)
	point = append(point, 0x04)
	point = append(point, x...)
	return newECKey(append(point, y...))
}

// newECKey parses an uncompressed P-256 point. ParseUncompressedPublicKey
// (Go 1.25) refuses points off the curve and the point at infinity, which
// the deprecated elliptic.Unmarshal path and a bare ecdsa.PublicKey{X, Y}
// would not.
func newECKey(point []byte) (*PublicKey, error) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, ErrNotOnCurve
	}
	return &PublicKey{alg: ES256, ec: pub}, nil
}

// f4 is rsaExponent, big-endian.
var f4 = []byte{0x01, 0x00, 0x01}

// newRSAKey checks and builds an RSA key from big-endian n and e.
func newRSAKey(n, e []byte) (*PublicKey, error) {
	if len(n) == 0 || n[0] == 0 || len(e) == 0 || e[0] == 0 {
		return nil, ErrKeyEncoding // not minimal, so not canonical
	}
	if len(n) > MaxRSABits/8 { // before any big number is built
		return nil, ErrRSAKeySize
	}
	if !bytes.Equal(e, f4) {
		return nil, ErrRSAExponent
	}
	N := new(big.Int).SetBytes(n)
	if N.BitLen() < MinRSABits || N.Bit(0) == 0 {
		return nil, ErrRSAKeySize // an even modulus is no RSA modulus
	}
	return &PublicKey{alg: RS256, rsa: &rsa.PublicKey{N: N, E: rsaExponent}}, nil
}

// decodeB64 decodes unpadded base64url, refusing anything that is not its
// canonical form: encoding/base64 skips \r and \n and, without Strict,
// accepts non-zero trailing bits, so two spellings of one key would exist.
func decodeB64(s string) ([]byte, bool) {
	if !isB64URL(s) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return b, err == nil
}

// isB64URL reports whether s is made of the base64url alphabet only.
func isB64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
