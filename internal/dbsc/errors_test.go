package dbsc

import (
	"errors"
	"testing"
)

// TestRefusalsMatchOnlyThemselvesAndTheirClass: errors.Is tells every
// refusal apart, so that a caller may answer an expired challenge unlike
// a forged one, and each matches its own class and no other.
func TestRefusalsMatchOnlyThemselvesAndTheirClass(t *testing.T) {
	classes := []error{ErrInvalidProof, ErrInvalidKey, ErrInvalidHeader, ErrInvalidChallenge, ErrInvalidInstructions}
	refusals := []struct {
		err, class error
	}{
		{ErrProofTooLarge, ErrInvalidProof},
		{ErrProofSegments, ErrInvalidProof},
		{ErrProofBase64, ErrInvalidProof},
		{ErrProofJSON, ErrInvalidProof},
		{ErrProofDuplicate, ErrInvalidProof},
		{ErrProofType, ErrInvalidProof},
		{ErrAlgNone, ErrInvalidProof},
		{ErrAlgUnsupported, ErrInvalidProof},
		{ErrAlgMismatch, ErrInvalidProof},
		{ErrTyp, ErrInvalidProof},
		{ErrCritical, ErrInvalidProof},
		{ErrMissingJWK, ErrInvalidProof},
		{ErrUnexpectedJWK, ErrInvalidProof},
		{ErrMissingJTI, ErrInvalidProof},
		{ErrSignatureLength, ErrInvalidProof},
		{ErrSignature, ErrInvalidProof},
		{ErrKeyTooLarge, ErrInvalidKey},
		{ErrKeyJSON, ErrInvalidKey},
		{ErrKeyType, ErrInvalidKey},
		{ErrCurve, ErrInvalidKey},
		{ErrKeyEncoding, ErrInvalidKey},
		{ErrNotOnCurve, ErrInvalidKey},
		{ErrRSAKeySize, ErrInvalidKey},
		{ErrRSAExponent, ErrInvalidKey},
		{ErrKeyBinary, ErrInvalidKey},
		{ErrHeaderMissing, ErrInvalidHeader},
		{ErrHeaderRepeated, ErrInvalidHeader},
		{ErrHeaderTooLarge, ErrInvalidHeader},
		{ErrHeaderSyntax, ErrInvalidHeader},
		{ErrUnsafeString, ErrInvalidHeader},
		{ErrChallengeMalformed, ErrInvalidChallenge},
		{ErrChallengeForged, ErrInvalidChallenge},
		{ErrChallengeExpired, ErrInvalidChallenge},
		{ErrChallengeConfig, ErrInvalidChallenge},
	}
	for _, r := range refusals {
		for _, c := range classes {
			if got := errors.Is(r.err, c); got != (c == r.class) {
				t.Errorf("errors.Is(%q, %q) = %v", r.err, c, got)
			}
		}
		for _, o := range refusals {
			if got := errors.Is(r.err, o.err); got != (o.err == r.err) {
				t.Errorf("errors.Is(%q, %q) = %v", r.err, o.err, got)
			}
		}
	}
}
