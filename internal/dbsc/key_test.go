package dbsc

import (
	"bytes"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/ce967478/cookiesession/internal/dbsc/dbsctest"
)

// Generated RSA keys are slow: each size is made once per test binary.
var (
	rsaOnce sync.Once
	rsa2048 *dbsctest.Device
	rsa4096 *dbsctest.Device
)

func rsaDevices(t testing.TB) (*dbsctest.Device, *dbsctest.Device) {
	t.Helper()
	rsaOnce.Do(func() {
		rsa2048 = dbsctest.NewRS256(2048)
		rsa4096 = dbsctest.NewRS256(4096)
	})
	return rsa2048, rsa4096
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkJSON returns a device's JWK as JSON, with members replaced or added
// by over (a nil value removes the member).
func jwkJSON(d *dbsctest.Device, over map[string]any) []byte {
	m := map[string]any{}
	for k, v := range d.JWK() {
		m[k] = v
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return dbsctest.Marshal(m)
}

func TestParseJWKRoundTrip(t *testing.T) {
	r2048, r4096 := rsaDevices(t)
	for _, tc := range []struct {
		name string
		dev  *dbsctest.Device
		alg  Alg
		size int
	}{
		{"ES256", dbsctest.NewES256(), ES256, ES256KeySize},
		{"RS256-2048", r2048, RS256, RS256KeySize2048},
		{"RS256-4096", r4096, RS256, 1 + 2 + 512 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseJWK(jwkJSON(tc.dev, nil))
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg() != tc.alg || k.Alg().String() != tc.dev.Alg() {
				t.Fatalf("alg %v, want %v", k.Alg(), tc.alg)
			}
			b := k.Bytes()
			if len(b) != tc.size {
				t.Errorf("binary form is %d bytes, want %d", len(b), tc.size)
			}
			back, err := ParsePublicKey(b)
			if err != nil {
				t.Fatal(err)
			}
			if !back.Equal(k) || !bytes.Equal(back.Bytes(), b) {
				t.Error("binary round trip changed the key")
			}
		})
	}
}

func TestPublicKeyEqual(t *testing.T) {
	r2048, r4096 := rsaDevices(t)
	a, _ := ParseJWK(jwkJSON(dbsctest.NewES256(), nil))
	b, _ := ParseJWK(jwkJSON(dbsctest.NewES256(), nil))
	r, _ := ParseJWK(jwkJSON(r2048, nil))
	r2, _ := ParseJWK(jwkJSON(r4096, nil))
	var none *PublicKey
	switch {
	case !a.Equal(a), a.Equal(b), a.Equal(r), r.Equal(a), a.Equal(none), none.Equal(a), r.Equal(r2), r2.Equal(r):
		t.Error("Equal is wrong for distinct keys")
	case !none.Equal(nil), !r.Equal(r):
		t.Error("Equal is wrong for equal keys")
	}
}

// offCurve returns JWK coordinates of a point not on P-256.
func offCurve(d *dbsctest.Device) (x, y string) {
	j := d.JWK()
	yb, _ := base64.RawURLEncoding.DecodeString(j["y"])
	yb[31] ^= 1
	return j["x"], b64(yb)
}

// bigOdd returns an odd number of exactly bits bits, as base64url.
func bigOdd(bits int) string {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.SetBit(n, 0, 1)
	return b64(n.Bytes())
}

func TestParseJWKRefusals(t *testing.T) {
	ec := dbsctest.NewES256()
	r2048, _ := rsaDevices(t)
	x, y := offCurve(ec)
	p := elliptic.P256().Params().P
	pBytes := make([]byte, 32)
	p.FillBytes(pBytes)
	short := ec.JWK()["x"][:42] // 31 bytes once decoded
	evenN, _ := base64.RawURLEncoding.DecodeString(r2048.JWK()["n"])
	evenN[len(evenN)-1] &^= 1
	nLeadingZero, _ := base64.RawURLEncoding.DecodeString(r2048.JWK()["n"])
	nLeadingZero = append([]byte{0}, nLeadingZero...)

	for _, tc := range []struct {
		name string
		jwk  []byte
		want error
	}{
		{"too large", []byte(`{"kty":"EC","pad":"` + strings.Repeat("a", maxJWKSize) + `"}`), ErrKeyTooLarge},
		{"not JSON", []byte(`kty=EC`), ErrKeyJSON},
		{"array", []byte(`[{"kty":"EC"}]`), ErrKeyJSON},
		{"trailing data", append(jwkJSON(ec, nil), " {}"...), ErrKeyJSON},
		{"truncated", jwkJSON(ec, nil)[:20], ErrKeyJSON},
		{"duplicate kty", []byte(`{"kty":"EC","kty":"RSA"}`), ErrKeyJSON},
		{"kty a number", jwkJSON(ec, map[string]any{"kty": 1}), ErrKeyJSON},
		{"x an array", jwkJSON(ec, map[string]any{"x": []int{}}), ErrKeyJSON},
		{"no kty", jwkJSON(ec, map[string]any{"kty": nil}), ErrKeyType},
		{"kty oct", jwkJSON(ec, map[string]any{"kty": "oct"}), ErrKeyType},
		{"kty lower case", jwkJSON(ec, map[string]any{"kty": "ec"}), ErrKeyType},
		{"kty OKP", jwkJSON(ec, map[string]any{"kty": "OKP", "crv": "Ed25519"}), ErrKeyType},
		{"crv P-384", jwkJSON(ec, map[string]any{"crv": "P-384"}), ErrCurve},
		{"no crv", jwkJSON(ec, map[string]any{"crv": nil}), ErrCurve},
		{"no x", jwkJSON(ec, map[string]any{"x": nil}), ErrKeyEncoding},
		{"x 31 bytes", jwkJSON(ec, map[string]any{"x": short}), ErrKeyEncoding},
		{"y 31 bytes", jwkJSON(ec, map[string]any{"y": ec.JWK()["y"][:42]}), ErrKeyEncoding},
		{"y 33 bytes", jwkJSON(ec, map[string]any{"y": b64(append([]byte{0}, pBytes...))}), ErrKeyEncoding},
		{"x 33 bytes", jwkJSON(ec, map[string]any{"x": b64(append([]byte{0}, pBytes...))}), ErrKeyEncoding},
		{"x padded", jwkJSON(ec, map[string]any{"x": ec.JWK()["x"] + "="}), ErrKeyEncoding},
		{"x standard base64", jwkJSON(ec, map[string]any{"x": strings.Repeat("+", 43)}), ErrKeyEncoding},
		{"x with a newline", jwkJSON(ec, map[string]any{"x": ec.JWK()["x"][:20] + "\n" + ec.JWK()["x"][20:]}), ErrKeyEncoding},
		{"x trailing bits", jwkJSON(ec, map[string]any{"x": strings.Repeat("A", 42) + "B"}), ErrKeyEncoding},
		{"point off the curve", jwkJSON(ec, map[string]any{"x": x, "y": y}), ErrNotOnCurve},
		{"point at zero", jwkJSON(ec, map[string]any{"x": b64(make([]byte, 32)), "y": b64(make([]byte, 32))}), ErrNotOnCurve},
		{"x equal to p", jwkJSON(ec, map[string]any{"x": b64(pBytes)}), ErrNotOnCurve},
		{"RSA 1024 bits", jwkJSON(r2048, map[string]any{"n": bigOdd(1024)}), ErrRSAKeySize},
		{"RSA 2047 bits", jwkJSON(r2048, map[string]any{"n": bigOdd(2047)}), ErrRSAKeySize},
		{"RSA 4104 bits", jwkJSON(r2048, map[string]any{"n": bigOdd(4104)}), ErrRSAKeySize},
		{"RSA even modulus", jwkJSON(r2048, map[string]any{"n": b64(evenN)}), ErrRSAKeySize},
		{"RSA e=3", jwkJSON(r2048, map[string]any{"e": "Aw"}), ErrRSAExponent},
		{"RSA e=2^32+1", jwkJSON(r2048, map[string]any{"e": "AQAAAAE"}), ErrRSAExponent},
		{"RSA e with leading zero", jwkJSON(r2048, map[string]any{"e": "AAEAAQ"}), ErrKeyEncoding},
		{"RSA n with leading zero", jwkJSON(r2048, map[string]any{"n": b64(nLeadingZero)}), ErrKeyEncoding},
		{"RSA no n", jwkJSON(r2048, map[string]any{"n": nil}), ErrKeyEncoding},
		{"RSA empty e", jwkJSON(r2048, map[string]any{"e": ""}), ErrKeyEncoding},
		// encoding/base64 returns what it decoded before the error: 01 00 01.
		{"RSA e with a stray character", jwkJSON(r2048, map[string]any{"e": "AQABA"}), ErrKeyEncoding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseJWK(tc.jwk)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidKey) || k != nil {
				t.Fatalf("ParseJWK = %v, %v; want %v", k, err, tc.want)
			}
		})
	}
}

// TestParseJWKAtMaxSize: a JWK of exactly maxJWKSize bytes is parsed,
// one byte more refused.
func TestParseJWKAtMaxSize(t *testing.T) {
	ec := dbsctest.NewES256()
	k := maxJWKSize - len(jwkJSON(ec, map[string]any{"pad": ""}))
	j := jwkJSON(ec, map[string]any{"pad": strings.Repeat("a", k)})
	if len(j) != maxJWKSize {
		t.Fatalf("built %d bytes", len(j))
	}
	if _, err := ParseJWK(j); err != nil {
		t.Fatalf("JWK of maxJWKSize: %v", err)
	}
	if _, err := ParseJWK(jwkJSON(ec, map[string]any{"pad": strings.Repeat("a", k+1)})); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("JWK of maxJWKSize+1: %v", err)
	}
}

// TestParseJWKIgnoresOthers: members a JWK may carry besides the key, as
// WebCrypto exports them, are ignored.
func TestParseJWKIgnoresOthers(t *testing.T) {
	ec := dbsctest.NewES256()
	j := jwkJSON(ec, map[string]any{"ext": true, "key_ops": []string{"verify"}, "alg": "ES256", "kid": "k"})
	if _, err := ParseJWK(j); err != nil {
		t.Fatal(err)
	}
}

func TestParsePublicKeyRefusals(t *testing.T) {
	r2048, _ := rsaDevices(t)
	ecKey, _ := ParseJWK(jwkJSON(dbsctest.NewES256(), nil))
	rsaKey, _ := ParseJWK(jwkJSON(r2048, nil))
	ecb, rsab := ecKey.Bytes(), rsaKey.Bytes()
	mut := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	offCurve := mut(ecb, func(b []byte) []byte { b[65] ^= 1; return b })
	compressed := mut(ecb, func(b []byte) []byte { b[1] = 0x02; return b })
	otherAlg := mut(ecb, func(b []byte) []byte { b[0] = 3; return b })
	e3 := mut(rsab, func(b []byte) []byte { return append(b[:len(b)-3], 3) })
	nLen := mut(rsab, func(b []byte) []byte { b[1], b[2] = 0x01, 0x80; return b }) // claims 384
	small := append([]byte{byte(RS256), 0, 128}, make([]byte, 128)...)
	small[3] = 0xc1
	small = append(small, f4...)
	// 1 + 2 + 514 + 3 = maxKeyBinary+1: refused for its length before
	// the modulus is looked at.
	tooLong := append([]byte{byte(RS256), 0x02, 0x02}, bytes.Repeat([]byte{0xff}, 514)...)
	tooLong = append(tooLong, f4...)

	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrKeyBinary},
		{"too long", make([]byte, maxKeyBinary+1), ErrKeyBinary},
		{"unknown alg", otherAlg, ErrKeyBinary},
		{"alg zero", append([]byte{0}, ecb[1:]...), ErrKeyBinary},
		{"ES256 truncated", ecb[:65], ErrKeyBinary},
		{"ES256 trailing byte", append(append([]byte(nil), ecb...), 0), ErrKeyBinary},
		{"ES256 compressed point", compressed, ErrKeyBinary},
		{"ES256 off the curve", offCurve, ErrNotOnCurve},
		{"RS256 no length", []byte{byte(RS256), 1}, ErrKeyBinary},
		{"RS256 no exponent", rsab[:len(rsab)-3], ErrKeyBinary},
		{"RS256 length past the end", nLen, ErrKeyBinary},
		{"RS256 e=3", e3, ErrRSAExponent},
		{"RS256 1024 bits", small, ErrRSAKeySize},
		{"RS256 empty modulus", []byte{byte(RS256), 0, 0, 1, 0, 1}, ErrKeyEncoding},
		{"RS256 one byte too long", tooLong, ErrKeyBinary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePublicKey(tc.b)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidKey) || k != nil {
				t.Fatalf("ParsePublicKey = %v, %v; want %v", k, err, tc.want)
			}
		})
	}
}
