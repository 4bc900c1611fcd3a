// Package dbsctest plays the browser's part of DBSC in tests: a device key
// that signs registration and refresh proofs shaped as Chromium shapes them
// (net/device_bound_sessions/session_binding_utils.cc and jwk_utils.cc):
//
//	header  {"alg":"ES256","jwk":{"crv":"P-256","kty":"EC","x":"...","y":"..."},"typ":"dbsc+jwt"}
//	payload {"authorization":"...","jti":"..."}
//
// Members in sorted order and no spaces, as Chromium's JSON writer puts
// them; x and y padded to 32 bytes; ES256 signatures raw r||s. It does not
// import package dbsc, so that dbsc's own tests can use it.
package dbsctest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
)

// Device is a browser's key for one DBSC session.
type Device struct {
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
}

// NewES256 returns a device with a fresh P-256 key.
func NewES256() *Device {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return &Device{ec: k}
}

// NewRS256 returns a device with a fresh RSA key of the given size.
func NewRS256(bits int) *Device {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return &Device{rsa: k}
}

// FromECDSA wraps an existing P-256 key, e.g. a fixed one for a golden
// test.
func FromECDSA(k *ecdsa.PrivateKey) *Device { return &Device{ec: k} }

// FromRSA wraps an existing RSA key.
func FromRSA(k *rsa.PrivateKey) *Device { return &Device{rsa: k} }

// Alg returns the JWS algorithm the device signs with: ES256 or RS256.
func (d *Device) Alg() string {
	if d.ec != nil {
		return "ES256"
	}
	return "RS256"
}

// JWK returns the device's public key as Chromium writes it in a
// registration proof.
func (d *Device) JWK() map[string]string {
	if d.ec != nil {
		b, err := d.ec.PublicKey.Bytes()
		if err != nil {
			panic(err)
		}
		return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(b[1:33]), "y": b64(b[33:65])}
	}
	return map[string]string{
		"kty": "RSA",
		"n":   b64(d.rsa.N.Bytes()),
		"e":   b64(big.NewInt(int64(d.rsa.E)).Bytes()),
	}
}

// RegistrationProof returns the proof Chromium sends to the registration
// endpoint: the public key in the header, the challenge as jti, and the
// authorization claim if authorization is not empty.
func (d *Device) RegistrationProof(challenge, authorization string) string {
	payload := map[string]string{"jti": challenge}
	if authorization != "" {
		payload["authorization"] = authorization
	}
	return d.Sign(
		Marshal(map[string]any{"alg": d.Alg(), "typ": "dbsc+jwt", "jwk": d.JWK()}),
		Marshal(payload))
}

// RefreshProof returns the proof Chromium sends to the refresh endpoint:
// no key, no authorization, the challenge as jti.
func (d *Device) RefreshProof(challenge string) string {
	return d.Sign(
		Marshal(map[string]any{"alg": d.Alg(), "typ": "dbsc+jwt"}),
		Marshal(map[string]string{"jti": challenge}))
}

// Sign returns the compact JWS of header and payload, given as raw JSON so
// that tests can send anything, signed with the device's key by its own
// algorithm whatever the header says.
func (d *Device) Sign(header, payload []byte) string {
	signed := b64(header) + "." + b64(payload)
	return signed + "." + b64(d.Signature(signed))
}

// Signature returns the JWS signature of the signing input signed: raw
// r||s for ES256, PKCS#1 v1.5 for RS256.
func (d *Device) Signature(signed string) []byte {
	digest := sha256.Sum256([]byte(signed))
	if d.ec != nil {
		r, s, err := ecdsa.Sign(rand.Reader, d.ec, digest[:])
		if err != nil {
			panic(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
	sig, err := rsa.SignPKCS1v15(rand.Reader, d.rsa, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return sig
}

// Marshal returns v as JSON the way Chromium's writer does: sorted members
// (encoding/json sorts map keys), no spaces, no HTML escaping.
func Marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
