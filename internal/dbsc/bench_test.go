package dbsc

import (
	"testing"

	"github.com/ce967478/cookiesession/internal/dbsc/dbsctest"
)

// What a registration and a refresh cost the server, beside the sealing
// the core does: verifying the proof, checking the challenge, reading the
// sealed key back.

func BenchmarkVerifyRegistrationES256(b *testing.B) {
	tok := dbsctest.NewES256().RegistrationProof(testChallenge, "auth")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyRegistration(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyRefresh(b *testing.B) {
	rsa, _ := rsaDevices(b)
	for name, dev := range map[string]*dbsctest.Device{"ES256": dbsctest.NewES256(), "RS256": rsa} {
		b.Run(name, func(b *testing.B) {
			key, _ := ParseJWK(dbsctest.Marshal(dev.JWK()))
			tok := dev.RefreshProof(testChallenge)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := VerifyRefresh(tok, key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParsePublicKeyES256(b *testing.B) {
	key, _ := ParseJWK(dbsctest.Marshal(dbsctest.NewES256().JWK()))
	bin := key.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePublicKey(bin); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChallengeIssue(b *testing.B) {
	c := newChallenges(b, keyA)
	b.ReportAllocs()
	for b.Loop() {
		c.Issue(t0, PurposeRefresh, "sid")
	}
}

func BenchmarkChallengeVerify(b *testing.B) {
	c := newChallenges(b, keyA)
	ch := c.Issue(t0, PurposeRefresh, "sid")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Verify(t0, PurposeRefresh, "sid", ch); err != nil {
			b.Fatal(err)
		}
	}
}
