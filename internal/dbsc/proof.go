package dbsc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strings"
)

// A DBSC proof is a compact JWS (RFC 7515) that the browser signs with the
// session's key and sends as the Secure-Session-Response header. Chromium
// builds it in net/device_bound_sessions/session_binding_utils.cc
// (CreateHeaderAndPayload):
//
//	header  {"alg":"ES256"|"RS256","jwk":{...},"typ":"dbsc+jwt"}   jwk at registration only
//	payload {"authorization":"...","jti":"<challenge>"}            authorization if the header had one
//
// and for ES256 converts the key's DER signature to raw r||s
// (AppendSignatureToHeaderAndPayload). The spec says the same in "DBSC
// Proof JWT Syntax" (w3c/webappsec-dbsc spec.bs): typ MUST be "dbsc+jwt";
// jwk MUST be present at registration and MUST NOT be at refresh; jti is
// the challenge; authorization is copied from the registration header.

// MaxProofSize bounds a proof before anything is decoded. A registration
// proof shaped as Chromium's is 431 bytes with ES256, 1017 with RS256 and
// a 2048-bit key, about 1.8 KiB at 4096 bits; 8 KiB leaves room and keeps
// a hostile one cheap.
const MaxProofSize = 8 << 10

// proofType is the "typ" every DBSC proof carries.
const proofType = "dbsc+jwt"

// Proof is a DBSC proof whose signature verified. Checking its JTI against
// a challenge, and its Authorization against what was sent, is the
// caller's part.
type Proof struct {
	// Alg is the algorithm the proof was signed with.
	Alg Alg
	// JTI is the challenge the browser signed: check it with
	// Challenges.Verify, then mark it used.
	JTI string
	// Authorization is the "authorization" claim, "" when absent. At
	// registration it must equal the authorization parameter of the
	// Secure-Session-Registration header, if one was sent.
	Authorization string
	// Key verified the proof: at registration the header's jwk, to be
	// sealed and used at every refresh; at refresh the key given.
	Key *PublicKey
}

// VerifyRegistration verifies a registration proof with the key in its own
// header ("jwk"), and returns that key. This only proves possession of the
// key: what ties the registration to a signed-in session is the challenge
// in JTI, which the caller must check.
func VerifyRegistration(token string) (*Proof, error) {
	t, err := parseProof(token)
	if err != nil {
		return nil, err
	}
	raw, ok := t.header.objects["jwk"]
	if !ok {
		return nil, ErrMissingJWK
	}
	key, err := ParseJWK(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidProof, err)
	}
	return t.verify(key)
}

// VerifyRefresh verifies a refresh proof with the key registered for the
// session. A proof carrying its own jwk is refused (ErrUnexpectedJWK), and
// so is any proof when key is nil (ErrSignature).
func VerifyRefresh(token string, key *PublicKey) (*Proof, error) {
	t, err := parseProof(token)
	if err != nil {
		return nil, err
	}
	if t.header.seen["jwk"] {
		return nil, ErrUnexpectedJWK
	}
	if key == nil {
		return nil, ErrSignature
	}
	return t.verify(key)
}

// token is a proof whose header has been read and checked, and whose
// signature has not.
type token struct {
	signed  string // header.payload, what the signature covers
	header  object
	alg     Alg
	payload []byte // decoded, read only once the signature verifies
	sig     []byte
}

var (
	headerMembers  = map[string]kind{"alg": kindString, "typ": kindString, "jwk": kindObject}
	payloadMembers = map[string]kind{"jti": kindString, "authorization": kindString}
	proofErrors    = jsonErrors{syntax: ErrProofJSON, duplicate: ErrProofDuplicate, wrongType: ErrProofType}
)

// parseProof splits and decodes a compact JWS and checks its header.
func parseProof(s string) (*token, error) {
	if len(s) > MaxProofSize {
		return nil, ErrProofTooLarge
	}
	h, p, sig, ok := split3(s)
	if !ok {
		return nil, ErrProofSegments
	}
	t := &token{signed: s[:len(h)+1+len(p)]}
	hb, okH := decodeB64(h)
	pb, okP := decodeB64(p)
	sb, okS := decodeB64(sig)
	if !okH || !okP || !okS {
		return nil, ErrProofBase64
	}
	t.payload, t.sig = pb, sb
	var err error
	if t.header, err = readObject(hb, headerMembers, proofErrors); err != nil {
		return nil, err
	}
	if t.header.seen["crit"] {
		return nil, ErrCritical
	}
	if t.alg, err = parseAlg(t.header.strings["alg"]); err != nil {
		return nil, err
	}
	if t.header.strings["typ"] != proofType {
		return nil, ErrTyp
	}
	return t, nil
}

// split3 splits s into three non-empty dot-separated segments.
func split3(s string) (a, b, c string, ok bool) {
	a, rest, ok1 := strings.Cut(s, ".")
	b, c, ok2 := strings.Cut(rest, ".")
	ok = ok1 && ok2 && a != "" && b != "" && c != "" && !strings.Contains(c, ".")
	return a, b, c, ok
}

// parseAlg maps a JWS "alg" to an Alg.
func parseAlg(s string) (Alg, error) {
	switch s {
	case "ES256":
		return ES256, nil
	case "RS256":
		return RS256, nil
	case "none":
		return 0, ErrAlgNone
	}
	return 0, ErrAlgUnsupported
}

// verify checks the signature with key, then reads the payload.
func (t *token) verify(key *PublicKey) (*Proof, error) {
	if err := verifySignature(key, t.alg, t.signed, t.sig); err != nil {
		return nil, err
	}
	payload, err := readObject(t.payload, payloadMembers, proofErrors)
	if err != nil {
		return nil, err
	}
	jti := payload.strings["jti"]
	if jti == "" {
		return nil, ErrMissingJTI
	}
	return &Proof{Alg: t.alg, JTI: jti, Authorization: payload.strings["authorization"], Key: key}, nil
}

// verifySignature checks a JWS signature over signed. The key's algorithm
// must be the header's: a key is only ever used with its own algorithm.
func verifySignature(key *PublicKey, alg Alg, signed string, sig []byte) error {
	if key.alg != alg {
		return ErrAlgMismatch
	}
	digest := sha256.Sum256([]byte(signed))
	switch alg {
	case ES256:
		if len(sig) != 64 {
			return ErrSignatureLength
		}
		r := new(big.Int).SetBytes(sig[:32])
		s := new(big.Int).SetBytes(sig[32:])
		// Verify refuses r or s of zero or not below the group order.
		if !ecdsa.Verify(key.ec, digest[:], r, s) {
			return ErrSignature
		}
	case RS256:
		if len(sig) != key.rsa.Size() {
			return ErrSignatureLength
		}
		if rsa.VerifyPKCS1v15(key.rsa, crypto.SHA256, digest[:], sig) != nil {
			return ErrSignature
		}
	}
	return nil
}
