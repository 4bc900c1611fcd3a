package dbsc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/ce967478/cookiesession/internal/dbsc/dbsctest"
)

const testChallenge = "AAAAAGmB7kD0c3Rvcm1jbG91ZHMhIcRxOTx2bXdnQk8"

func TestVerifyRoundTrip(t *testing.T) {
	r2048, r4096 := rsaDevices(t)
	for _, dev := range []*dbsctest.Device{dbsctest.NewES256(), r2048, r4096} {
		t.Run(dev.Alg(), func(t *testing.T) {
			reg, err := VerifyRegistration(dev.RegistrationProof(testChallenge, "auth"))
			if err != nil {
				t.Fatal(err)
			}
			if reg.JTI != testChallenge || reg.Authorization != "auth" || reg.Alg.String() != dev.Alg() {
				t.Fatalf("registration proof read as %+v", reg)
			}
			// The key goes through its sealed form, as it will in a cookie.
			key, err := ParsePublicKey(reg.Key.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			ref, err := VerifyRefresh(dev.RefreshProof("next"), key)
			if err != nil {
				t.Fatal(err)
			}
			if ref.JTI != "next" || ref.Authorization != "" || ref.Key != key {
				t.Fatalf("refresh proof read as %+v", ref)
			}
		})
	}
}

// goldenDevice is the fixed key the files in testdata were signed with.
func goldenDevice(t *testing.T) *dbsctest.Device {
	d := sha256.Sum256([]byte("cookiesession dbsc golden device key"))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return dbsctest.FromECDSA(k)
}

func readGolden(t testing.TB, name string) string {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestGoldenChromiumShape verifies proofs stored once, in the exact shape
// Chromium sends (member order and all: session_binding_utils.cc writes
// base::Value::Dict, which keeps members sorted), so that a change to the
// parser that refuses them, or to dbsctest that drifts from them, shows.
func TestGoldenChromiumShape(t *testing.T) {
	dev := goldenDevice(t)
	reg := readGolden(t, "es256-registration.jwt")
	h, _, _, _ := split3(reg)
	hb, _ := decodeB64(h)
	wantHeader := `{"alg":"ES256","jwk":{"crv":"P-256","kty":"EC","x":"` + dev.JWK()["x"] + `","y":"` + dev.JWK()["y"] + `"},"typ":"dbsc+jwt"}`
	if string(hb) != wantHeader {
		t.Fatalf("golden header\n%s\nwant\n%s", hb, wantHeader)
	}
	p, err := VerifyRegistration(reg)
	if err != nil {
		t.Fatal(err)
	}
	if p.JTI != testChallenge || p.Authorization != "sealed-authorization" || p.Alg != ES256 {
		t.Fatalf("golden registration read as %+v", p)
	}
	want, _ := ParseJWK(dbsctest.Marshal(dev.JWK()))
	if !p.Key.Equal(want) {
		t.Fatal("golden registration carries another key")
	}
	r, err := VerifyRefresh(readGolden(t, "es256-refresh.jwt"), p.Key)
	if err != nil {
		t.Fatal(err)
	}
	if r.JTI != "AAAAAGmB7nz4kS3Wl2mBq1dJr0g9Ag0k5HvXc1Yd_4A" {
		t.Fatalf("golden refresh read as %+v", r)
	}
	if len(reg) != 431 {
		t.Errorf("golden registration is %d bytes", len(reg))
	}
}

// TestGoldenRS256: a stored RS256 registration proof, 2048-bit key, whose
// private key was thrown away.
func TestGoldenRS256(t *testing.T) {
	reg := readGolden(t, "rs256-registration.jwt")
	p, err := VerifyRegistration(reg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Alg != RS256 || p.JTI != testChallenge || p.Authorization != "sealed-authorization" || len(p.Key.Bytes()) != RS256KeySize2048 {
		t.Fatalf("read as %+v", p)
	}
	if len(reg) != 1017 {
		t.Errorf("golden registration is %d bytes", len(reg))
	}
}

// hdr and pay build JSON headers and payloads for hostile proofs.
func hdr(dev *dbsctest.Device, over map[string]any) []byte {
	m := map[string]any{"alg": dev.Alg(), "typ": "dbsc+jwt", "jwk": dev.JWK()}
	for k, v := range over {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return dbsctest.Marshal(m)
}

var pay = []byte(`{"jti":"` + testChallenge + `"}`)

// derSignature returns an ES256 proof signed with an ASN.1 DER signature,
// as a key store returns it before Chromium converts it.
func derSignature(t *testing.T, dev *dbsctest.Device, header []byte) string {
	tok := dev.Sign(header, pay)
	h, p, s, _ := split3(tok)
	raw, _ := decodeB64(s)
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + p + "." + b64(der)
}

func TestVerifyRegistrationRefusals(t *testing.T) {
	ec := dbsctest.NewES256()
	other := dbsctest.NewES256()
	r2048, _ := rsaDevices(t)
	good := ec.Sign(hdr(ec, nil), pay)
	gh, gp, gs, _ := split3(good)
	x, y := offCurve(ec)
	rsaSig := r2048.Sign(hdr(r2048, nil), pay)
	rh, rp, rs, _ := split3(rsaSig)

	for _, tc := range []struct {
		name  string
		token string
		want  error
	}{
		{"too large", strings.Repeat("a", MaxProofSize+1), ErrProofTooLarge},
		{"one segment", gh, ErrProofSegments},
		{"two segments", gh + "." + gp, ErrProofSegments},
		{"four segments", good + "." + gs, ErrProofSegments},
		{"five segments (JWE)", "a.b.c.d.e", ErrProofSegments},
		{"empty signature", gh + "." + gp + ".", ErrProofSegments},
		{"empty header", "." + gp + "." + gs, ErrProofSegments},
		{"empty payload", gh + ".." + gs, ErrProofSegments},
		{"empty payload, signed", ec.Sign(hdr(ec, nil), nil), ErrProofSegments},
		{"padded base64", gh + "=." + gp + "." + gs, ErrProofBase64},
		{"payload padded", gh + "." + gp + "=." + gs, ErrProofBase64},
		{"payload of 4n+1 characters", gh + "." + gp + strings.Repeat("A", (5-len(gp)%4)%4) + "." + gs, ErrProofBase64},
		{"signature padded", gh + "." + gp + "." + gs + "=", ErrProofBase64},
		{"standard base64", gh + "." + gp + "." + strings.ReplaceAll(strings.ReplaceAll(gs, "-", "+"), "_", "/") + "+", ErrProofBase64},
		{"space inside", gh + " ." + gp + "." + gs, ErrProofBase64},
		{"non-canonical trailing bits", gh + "." + gp + "." + gs[:len(gs)-1] + "x", ErrProofBase64},
		{"header not JSON", b64([]byte("alg=ES256")) + "." + gp + "." + gs, ErrProofJSON},
		{"header an array", b64([]byte(`["ES256"]`)) + "." + gp + "." + gs, ErrProofJSON},
		{"header member without a value", b64([]byte(`{"alg":,"typ":"dbsc+jwt"}`)) + "." + gp + "." + gs, ErrProofJSON},
		{"payload member without a value", ec.Sign(hdr(ec, nil), []byte(`{"jti":}`)), ErrProofJSON},
		{"header trailing data", ec.Sign(append(hdr(ec, nil), "{}"...), pay), ErrProofJSON},
		{"duplicate alg", ec.Sign([]byte(`{"alg":"ES256","alg":"none","typ":"dbsc+jwt"}`), pay), ErrProofDuplicate},
		{"duplicate jwk", ec.Sign([]byte(`{"alg":"ES256","typ":"dbsc+jwt","jwk":{},"jwk":{}}`), pay), ErrProofDuplicate},
		{"alg a number", ec.Sign(hdr(ec, map[string]any{"alg": 256}), pay), ErrProofType},
		{"typ an array", ec.Sign(hdr(ec, map[string]any{"typ": []string{"dbsc+jwt"}}), pay), ErrProofType},
		{"jwk a string", ec.Sign(hdr(ec, map[string]any{"jwk": "key"}), pay), ErrProofType},
		{"jwk null", ec.Sign([]byte(`{"alg":"ES256","typ":"dbsc+jwt","jwk":null}`), pay), ErrProofType},
		{"alg none", ec.Sign(hdr(ec, map[string]any{"alg": "none"}), pay), ErrAlgNone},
		{"alg HS256", ec.Sign(hdr(ec, map[string]any{"alg": "HS256"}), pay), ErrAlgUnsupported},
		{"alg PS256", ec.Sign(hdr(ec, map[string]any{"alg": "PS256"}), pay), ErrAlgUnsupported},
		{"alg lower case", ec.Sign(hdr(ec, map[string]any{"alg": "es256"}), pay), ErrAlgUnsupported},
		{"alg RS256 lower case", r2048.Sign(hdr(r2048, map[string]any{"alg": "rs256"}), pay), ErrAlgUnsupported},
		{"alg with a space", ec.Sign(hdr(ec, map[string]any{"alg": "ES256 "}), pay), ErrAlgUnsupported},
		{"alg missing", ec.Sign(hdr(ec, map[string]any{"alg": nil}), pay), ErrAlgUnsupported},
		{"typ JWT", ec.Sign(hdr(ec, map[string]any{"typ": "JWT"}), pay), ErrTyp},
		{"typ dpop+jwt", ec.Sign(hdr(ec, map[string]any{"typ": "dpop+jwt"}), pay), ErrTyp},
		{"typ missing", ec.Sign(hdr(ec, map[string]any{"typ": nil}), pay), ErrTyp},
		{"crit", ec.Sign(hdr(ec, map[string]any{"crit": []string{"exp"}}), pay), ErrCritical},
		{"no jwk", ec.Sign(hdr(ec, map[string]any{"jwk": nil}), pay), ErrMissingJWK},
		{"jwk off the curve", ec.Sign(hdr(ec, map[string]any{"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": x, "y": y}}), pay), ErrNotOnCurve},
		{"jwk on P-384", ec.Sign(hdr(ec, map[string]any{"jwk": map[string]string{"kty": "EC", "crv": "P-384", "x": x, "y": y}}), pay), ErrCurve},
		{"RS256 with an EC jwk", ec.Sign(hdr(ec, map[string]any{"alg": "RS256"}), pay), ErrAlgMismatch},
		{"ES256 with an RSA jwk", r2048.Sign(hdr(r2048, map[string]any{"alg": "ES256"}), pay), ErrAlgMismatch},
		{"DER signature", derSignature(t, ec, hdr(ec, nil)), ErrSignatureLength},
		{"RSA signature one byte short", rh + "." + rp + "." + b64(mustB64(rs)[1:]), ErrSignatureLength},
		{"signed by another key", other.Sign(hdr(ec, nil), pay), ErrSignature},
		{"payload swapped", gh + "." + b64([]byte(`{"jti":"other"}`)) + "." + gs, ErrSignature},
		// The payload is not read before the signature verifies.
		{"unsigned payload not JSON", gh + "." + b64([]byte("jti=x")) + "." + gs, ErrSignature},
		{"unsigned payload without jti", gh + "." + b64([]byte(`{"authorization":"a"}`)) + "." + gs, ErrSignature},
		{"unsigned payload with a duplicate", gh + "." + b64([]byte(`{"jti":"a","jti":"b"}`)) + "." + gs, ErrSignature},
		{"RSA signature altered", rh + "." + rp + "." + b64(flipLast(mustB64(rs))), ErrSignature},
		{"zero ES256 signature", gh + "." + gp + "." + b64(make([]byte, 64)), ErrSignature},
		{"payload not JSON", ec.Sign(hdr(ec, nil), []byte("jti=x")), ErrProofJSON},
		{"payload trailing data", ec.Sign(hdr(ec, nil), append(append([]byte(nil), pay...), ' ', '1')), ErrProofJSON},
		{"duplicate jti", ec.Sign(hdr(ec, nil), []byte(`{"jti":"a","jti":"b"}`)), ErrProofDuplicate},
		{"jti a number", ec.Sign(hdr(ec, nil), []byte(`{"jti":1}`)), ErrProofType},
		{"authorization null", ec.Sign(hdr(ec, nil), []byte(`{"jti":"a","authorization":null}`)), ErrProofType},
		{"no jti", ec.Sign(hdr(ec, nil), []byte(`{"authorization":"a"}`)), ErrMissingJTI},
		{"empty jti", ec.Sign(hdr(ec, nil), []byte(`{"jti":""}`)), ErrMissingJTI},
		{"jti differing in case only", ec.Sign(hdr(ec, nil), []byte(`{"JTI":"a"}`)), ErrMissingJTI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := VerifyRegistration(tc.token)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidProof) || p != nil {
				t.Fatalf("VerifyRegistration = %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

func TestVerifyRefreshRefusals(t *testing.T) {
	ec := dbsctest.NewES256()
	r2048, _ := rsaDevices(t)
	ecKey, _ := ParseJWK(dbsctest.Marshal(ec.JWK()))
	rsaKey, _ := ParseJWK(dbsctest.Marshal(r2048.JWK()))
	otherKey, _ := ParseJWK(dbsctest.Marshal(dbsctest.NewES256().JWK()))
	for _, tc := range []struct {
		name  string
		token string
		key   *PublicKey
		want  error
	}{
		{"with a jwk", ec.RegistrationProof("c", ""), ecKey, ErrUnexpectedJWK},
		{"with a jwk of another key", ec.Sign(hdr(ec, map[string]any{"jwk": map[string]string{"kty": "oct"}}), pay), ecKey, ErrUnexpectedJWK},
		{"no key given", ec.RefreshProof("c"), nil, ErrSignature},
		{"another key", ec.RefreshProof("c"), otherKey, ErrSignature},
		{"ES256 proof, RSA key", ec.RefreshProof("c"), rsaKey, ErrAlgMismatch},
		{"RS256 proof, EC key", r2048.RefreshProof("c"), ecKey, ErrAlgMismatch},
		{"alg none", ec.Sign(hdr(ec, map[string]any{"alg": "none", "jwk": nil}), pay), ecKey, ErrAlgNone},
		{"typ JWT", ec.Sign(hdr(ec, map[string]any{"typ": "JWT", "jwk": nil}), pay), ecKey, ErrTyp},
		{"too large", strings.Repeat(".", MaxProofSize+1), ecKey, ErrProofTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := VerifyRefresh(tc.token, tc.key)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidProof) || p != nil {
				t.Fatalf("VerifyRefresh = %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
}

// TestVerifyExactNames: members are matched by exact name, so one spelled
// in another case is just an unknown member, not a second "alg".
func TestVerifyExactNames(t *testing.T) {
	ec := dbsctest.NewES256()
	tok := ec.Sign(hdr(ec, map[string]any{"ALG": "none", "Typ": "JWT", "kid": 7}), []byte(`{"jti":"c","iat":1725579055,"aud":"https://a.example/reg","key":{}}`))
	p, err := VerifyRegistration(tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Alg != ES256 || p.JTI != "c" {
		t.Fatalf("read as %+v", p)
	}
}

// TestVerifyAtMaxProofSize: a proof of exactly MaxProofSize characters,
// grown by members the parser skips, is read and verified; one more is
// refused before anything is decoded.
func TestVerifyAtMaxProofSize(t *testing.T) {
	ec := dbsctest.NewES256()
	enc := base64.RawURLEncoding
	sigLen := enc.EncodedLen(64)
	payload := func(n int) []byte { return []byte(`{"jti":"c","pad":"` + strings.Repeat("p", n) + `"}`) }
	base := len(hdr(ec, map[string]any{"pad": ""}))
	for n := 0; n < 3; n++ {
		// Fill with the header pad what the payload and signature leave.
		rest := MaxProofSize - 2 - sigLen - enc.EncodedLen(len(payload(n)))
		k := enc.DecodedLen(rest) - base
		h := hdr(ec, map[string]any{"pad": strings.Repeat("h", k)})
		if enc.EncodedLen(len(h)) != rest {
			continue
		}
		tok := ec.Sign(h, payload(n))
		if len(tok) != MaxProofSize {
			t.Fatalf("built %d characters, want %d", len(tok), MaxProofSize)
		}
		if p, err := VerifyRegistration(tok); err != nil || p.JTI != "c" {
			t.Fatalf("proof of MaxProofSize: %+v, %v", p, err)
		}
		big := ec.Sign(hdr(ec, map[string]any{"pad": strings.Repeat("h", k+1)}), payload(n))
		if _, err := VerifyRegistration(big); !errors.Is(err, ErrProofTooLarge) {
			t.Fatalf("proof of %d characters: %v", len(big), err)
		}
		return
	}
	t.Fatal("could not build a proof of MaxProofSize")
}

func mustB64(s string) []byte {
	b, ok := decodeB64(s)
	if !ok {
		panic("bad base64url in a test")
	}
	return b
}

func flipLast(b []byte) []byte {
	b = append([]byte(nil), b...)
	b[len(b)-1] ^= 1
	return b
}
