package dbsc

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The fuzz targets hold every parser of network input to: never panic,
// refuse oversized input with the size sentinel, and when they accept,
// return something consistent (a key that round-trips, a header value
// that can be written back). No seed is oversized: the fuzzer spends
// a minute minimizing each large input it finds interesting, fuzzing
// nothing meanwhile; TestOversizedIsCheap covers them.

// Seeds are the same in every run and every worker process (golden
// files, no fresh key or nonce), so that an input found by one worker
// means the same to the others and a crasher reproduces.

func FuzzVerifyProof(f *testing.F) {
	for _, name := range []string{"es256-registration.jwt", "es256-refresh.jwt", "rs256-registration.jwt"} {
		f.Add(readGolden(f, name))
	}
	f.Add(b64([]byte(`{"alg":"none","typ":"dbsc+jwt","crit":["b64"]}`)) + "." + b64([]byte(`{"jti":1}`)) + ".AA")
	f.Add("a.b.c")
	refreshKey, err := VerifyRegistration(readGolden(f, "es256-registration.jwt"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, token string) {
		reg, errReg := VerifyRegistration(token)
		ref, errRef := VerifyRefresh(token, refreshKey.Key)
		if len(token) > MaxProofSize && (!errors.Is(errReg, ErrProofTooLarge) || !errors.Is(errRef, ErrProofTooLarge)) {
			t.Fatalf("oversized token: %v, %v", errReg, errRef)
		}
		checkProofResult(t, reg, errReg)
		checkProofResult(t, ref, errRef)
		// A proof is one or the other: the jwk decides.
		if errReg == nil && errRef == nil {
			t.Fatal("a proof passed as both registration and refresh")
		}
	})
}

func checkProofResult(t *testing.T, p *Proof, err error) {
	t.Helper()
	if err != nil {
		if p != nil || !errors.Is(err, ErrInvalidProof) {
			t.Fatalf("refusal %v with %+v, or outside ErrInvalidProof", err, p)
		}
		return
	}
	if p == nil || p.Key == nil || p.JTI == "" || p.Key.Alg() != p.Alg {
		t.Fatalf("accepted an incomplete proof: %+v", p)
	}
}

// goldenJWKs returns the JWKs of the golden proofs, ES256 and RS256.
func goldenJWKs(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"es256-registration.jwt", "rs256-registration.jwt"} {
		t, err := parseProof(readGolden(f, name))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, t.header.objects["jwk"])
	}
	return out
}

func FuzzParseJWK(f *testing.F) {
	for _, j := range goldenJWKs(f) {
		f.Add([]byte(j))
	}
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"","y":"","kty":"RSA"}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","ext":true,"key_ops":["verify"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseJWK(data)
		if len(data) > maxJWKSize && !errors.Is(err, ErrKeyTooLarge) {
			t.Fatalf("oversized JWK: %v", err)
		}
		if err != nil {
			if k != nil || !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("refusal %v with a key, or outside ErrInvalidKey", err)
			}
			return
		}
		back, err := ParsePublicKey(k.Bytes())
		if err != nil || !back.Equal(k) {
			t.Fatalf("accepted JWK does not round-trip: %v", err)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	for _, j := range goldenJWKs(f) {
		k, err := ParseJWK(j)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k.Bytes())
	}
	f.Add([]byte{byte(RS256), 0xff, 0xff})
	f.Add([]byte{byte(ES256), 0x04})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParsePublicKey(b)
		if len(b) > maxKeyBinary && !errors.Is(err, ErrKeyBinary) {
			t.Fatalf("oversized key: %v", err)
		}
		if err != nil {
			if k != nil || !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("refusal %v with a key, or outside ErrInvalidKey", err)
			}
			return
		}
		// One key, one binary form: what was accepted is what Bytes writes.
		if !bytes.Equal(k.Bytes(), b) {
			t.Fatalf("accepted %x, which writes back as %x", b, k.Bytes())
		}
	})
}

func FuzzReadHeader(f *testing.F) {
	f.Add("c2Vzc2lvbg")
	f.Add(`"session-id"`)
	f.Add(`"a\"b";x=1;y="z";b=?1;d=-1.5;t=tok;bin=:AQID:;dt=@1;ds=%"caf%c3%a9"`)
	f.Add(`"abc\`)
	f.Add(`"a";x=%"%ff"`)
	f.Add(" \t")
	f.Fuzz(func(t *testing.T, v string) {
		id, errID := ReadSessionID(header(HeaderSessionID, v))
		proof, errProof := ReadProof(header(HeaderResponse, v))
		if len(v) > MaxFieldSize && !errors.Is(errID, ErrHeaderTooLarge) ||
			len(v) > MaxProofSize && !errors.Is(errProof, ErrHeaderTooLarge) {
			t.Fatalf("oversized header: %v, %v", errID, errProof)
		}
		checkHeaderResult(t, id, errID)
		checkHeaderResult(t, proof, errProof)
	})
}

// checkHeaderResult: a value read is not empty, is printable ASCII, and
// can be written as an sf-string and read back unchanged.
func checkHeaderResult(t *testing.T, got string, err error) {
	t.Helper()
	if err != nil {
		if got != "" || !errors.Is(err, ErrInvalidHeader) {
			t.Fatalf("refusal %v with %q, or outside ErrInvalidHeader", err, got)
		}
		return
	}
	b, err := appendString(nil, got)
	if got == "" || err != nil {
		t.Fatalf("read %q, which cannot be written back: %v", got, err)
	}
	h := http.Header{}
	h.Set(HeaderSessionID, string(b))
	if back, err := readValue(h, HeaderSessionID, len(b)); err != nil || back != got {
		t.Fatalf("%q written as %s reads back as %q, %v", got, b, back, err)
	}
}

func FuzzVerifyChallenge(f *testing.F) {
	c, err := NewChallenges(DefaultChallengeWindow, time.Minute, keyA)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("AAAAAGmkKkBCNX5CYV0fm4OaWOxBk8DPP6TieslJBK4", "sid", int64(0)) // Issue(t0, PurposeRefresh, "sid")
	f.Add(strings.Repeat("A", ChallengeLength), "", int64(-1))
	f.Fuzz(func(t *testing.T, ch, sid string, at int64) {
		u, err := c.Verify(t0.Add(time.Duration(at)), PurposeRefresh, sid, ch)
		if err != nil {
			if u != (Used{}) || !errors.Is(err, ErrInvalidChallenge) {
				t.Fatalf("refusal %v with %+v", err, u)
			}
			return
		}
		if len(ch) != ChallengeLength || u.Until.Before(t0.Add(time.Duration(at))) {
			t.Fatalf("accepted %q at %d: %+v", ch, at, u)
		}
	})
}

// TestOversizedIsCheap: input over its bound is refused before anything
// is decoded, without allocating, whatever its size.
func TestOversizedIsCheap(t *testing.T) {
	huge := strings.Repeat("e", 1<<20)
	hugeBytes := []byte(huge)
	idHeader := header(HeaderSessionID, huge)
	proofHeader := header(HeaderResponse, huge)
	c := newChallenges(t, keyA)
	for name, f := range map[string]func() error{
		"VerifyRegistration": func() error { _, err := VerifyRegistration(huge); return err },
		"VerifyRefresh":      func() error { _, err := VerifyRefresh(huge, nil); return err },
		"ParseJWK":           func() error { _, err := ParseJWK(hugeBytes); return err },
		"ParsePublicKey":     func() error { _, err := ParsePublicKey(hugeBytes); return err },
		"ReadSessionID":      func() error { _, err := ReadSessionID(idHeader); return err },
		"ReadProof":          func() error { _, err := ReadProof(proofHeader); return err },
		"Challenges.Verify":  func() error { _, err := c.Verify(t0, PurposeRefresh, "sid", huge); return err },
	} {
		if f() == nil {
			t.Fatalf("%s accepted 1 MiB", name)
		}
		if allocs := testing.AllocsPerRun(10, func() { _ = f() }); allocs != 0 {
			t.Errorf("%s allocates %v times to refuse 1 MiB", name, allocs)
		}
	}
}
