package cookiesession_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"golang.org/x/crypto/chacha20poly1305"
)

// The codec benchmarks run the public codec, Keyring.Seal and Keyring.Open,
// beside the bare primitives on the same data in the same run (JSON,
// XChaCha20-Poly1305 and base64, nothing else), and report the ratio to
// them as "x-ref". The target is seal plus open within 1.2x of the
// reference.

func refSeal(aead aeadLike, v any) string {
	pt, _ := json.Marshal(v)
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(pt)+chacha20poly1305.Overhead)
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, pt, nil))
}

func refOpen(aead aeadLike, s string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	pt, err := aead.Open(raw[chacha20poly1305.NonceSizeX:chacha20poly1305.NonceSizeX], raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:], nil)
	if err != nil {
		return err
	}
	return json.Unmarshal(pt, v)
}

type aeadLike interface {
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

// timeLoop runs fn n times and returns the time per call.
func timeLoop(n int, fn func()) float64 {
	start := time.Now()
	for i := 0; i < n; i++ {
		fn()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// benchAgainst times ours over b.N for ns/op, then reports its time over
// ref's as x-ref, from interleavedRatio.
func benchAgainst(b *testing.B, ours, ref func()) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ours()
	}
	b.StopTimer()
	b.ReportMetric(interleavedRatio(b.N, ours, ref), "x-ref")
}

// interleavedRatio times ours and ref for n calls each, in 10 rounds that
// alternate them (the order swapping every round), and returns the median
// of the rounds' ratios of ours' time to ref's. Timed one after the other,
// a burst of load from elsewhere on the machine would fall on one of them
// only and move the ratio.
func interleavedRatio(n int, ours, ref func()) float64 {
	const rounds = 10
	per := max(n/rounds, 1)
	ratios := make([]float64, rounds)
	for r := range ratios {
		var o, f float64
		if r%2 == 0 {
			o = timeLoop(per, ours)
			f = timeLoop(per, ref)
		} else {
			f = timeLoop(per, ref)
			o = timeLoop(per, ours)
		}
		ratios[r] = o / f
	}
	slices.Sort(ratios)
	return (ratios[rounds/2-1] + ratios[rounds/2]) / 2
}

func benchSetup(b *testing.B) (*Keyring, aeadLike, typical) {
	k := testKeys(b)
	aead, err := chacha20poly1305.NewX(testSecret(3))
	if err != nil {
		b.Fatal(err)
	}
	return k, aead, newTypical()
}

func BenchmarkSeal(b *testing.B) {
	k, aead, v := benchSetup(b)
	var ser JSONSerializer
	now := time.Now()
	seal := func() {
		data, _ := ser.Marshal(v)
		if _, err := k.Seal("session", Contents{Created: now, Issued: now, Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	benchAgainst(b, seal, func() { refSeal(aead, v) })
	s, _ := k.Seal("session", Contents{Created: now, Issued: now, Data: mustJSON(v)})
	b.ReportMetric(float64(len(s)), "value-bytes")
	b.ReportMetric(float64(len(s)-len(refSeal(aead, v))), "extra-bytes")
}

// BenchmarkOpen opens with Keyring.Open, which also finds the session's
// cookie among the cookies it is given and reassembles chunks: a little
// more than a Manager's request path pays (BenchmarkHandlerRead).
func BenchmarkOpen(b *testing.B) {
	k, aead, v := benchSetup(b)
	var ser JSONSerializer
	now := time.Now()
	value, _ := k.Seal("session", Contents{Created: now, Issued: now, Data: mustJSON(v)})
	cookies := []*http.Cookie{{Name: "session", Value: value}}
	refValue := refSeal(aead, v)
	open := func() {
		e, _, err := k.Open("session", cookies, now, Limits{MaxAge: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		var out typical
		if err := ser.Unmarshal(e.Data, &out); err != nil {
			b.Fatal(err)
		}
	}
	benchAgainst(b, open, func() {
		var out typical
		if err := refOpen(aead, refValue, &out); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkReferenceSealOpen is the floor on its own, for its allocations.
func BenchmarkReferenceSealOpen(b *testing.B) {
	_, aead, v := benchSetup(b)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var out typical
		if err := refOpen(aead, refSeal(aead, v), &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealOpen is the target: seal plus open against the floor.
func BenchmarkSealOpen(b *testing.B) {
	k, aead, v := benchSetup(b)
	var ser JSONSerializer
	now := time.Now()
	cycle := func() {
		data, _ := ser.Marshal(v)
		s, err := k.Seal("session", Contents{Created: now, Issued: now, Data: data})
		if err != nil {
			b.Fatal(err)
		}
		e, _, err := openValue(k, "session", s, now, Limits{MaxAge: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		var out typical
		if err := ser.Unmarshal(e.Data, &out); err != nil {
			b.Fatal(err)
		}
	}
	benchAgainst(b, cycle, func() {
		var out typical
		if err := refOpen(aead, refSeal(aead, v), &out); err != nil {
			b.Fatal(err)
		}
	})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
