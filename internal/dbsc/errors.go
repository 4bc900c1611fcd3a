package dbsc

import "errors"

// Every refusal is a sentinel, for errors.Is, and each also matches the
// class it belongs to (ErrInvalidProof, ErrInvalidKey, ErrInvalidHeader or
// ErrInvalidChallenge), so that a caller can map a whole class to one HTTP
// answer without listing the reasons, and still log the exact one. All of
// them describe untrusted input sent by a browser or by someone pretending
// to be one: they are expected, never a reason for a 500.

// The classes.
var (
	// ErrInvalidProof is matched by every refusal of a Secure-Session-Response
	// JWT, including a refusal of the key in its header.
	ErrInvalidProof = errors.New("dbsc: invalid proof")
	// ErrInvalidKey is matched by every refusal of a public key, as a JWK or
	// in binary form.
	ErrInvalidKey = errors.New("dbsc: invalid public key")
	// ErrInvalidHeader is matched by every refusal of a header value, read
	// or about to be written.
	ErrInvalidHeader = errors.New("dbsc: invalid header")
	// ErrInvalidChallenge is matched by every refusal of a challenge.
	ErrInvalidChallenge = errors.New("dbsc: invalid challenge")
)

// Refusals of a proof JWT.
var (
	// ErrProofTooLarge: the token is longer than MaxProofSize, refused
	// before anything is decoded.
	ErrProofTooLarge = refuse(ErrInvalidProof, "dbsc: proof larger than MaxProofSize")
	// ErrProofSegments: the token is not three non-empty segments
	// separated by dots (compact JWS), e.g. a JWE or extra segments.
	ErrProofSegments = refuse(ErrInvalidProof, "dbsc: proof is not three dot-separated segments")
	// ErrProofBase64: a segment is not unpadded, canonical base64url.
	ErrProofBase64 = refuse(ErrInvalidProof, "dbsc: proof segment is not base64url")
	// ErrProofJSON: the header or the payload is not one JSON object, or
	// has trailing data.
	ErrProofJSON = refuse(ErrInvalidProof, "dbsc: proof header or payload is not a JSON object")
	// ErrProofDuplicate: a JSON object names a member twice. Parsers
	// disagree on which one wins, so neither is trusted.
	ErrProofDuplicate = refuse(ErrInvalidProof, "dbsc: proof JSON has a duplicate member")
	// ErrProofType: a member has the wrong JSON type (e.g. a number for
	// "jti", a string for "jwk").
	ErrProofType = refuse(ErrInvalidProof, "dbsc: proof JSON member of the wrong type")
	// ErrAlgNone: "alg" is "none". DBSC allows it for sessions without a
	// key; such a session binds nothing, so it is never accepted here.
	ErrAlgNone = refuse(ErrInvalidProof, `dbsc: proof alg "none" is refused`)
	// ErrAlgUnsupported: "alg" is missing or neither ES256 nor RS256.
	ErrAlgUnsupported = refuse(ErrInvalidProof, "dbsc: proof alg is not ES256 or RS256")
	// ErrAlgMismatch: "alg" does not match the type of the key that must
	// verify it (an RSA key for ES256, an EC key for RS256).
	ErrAlgMismatch = refuse(ErrInvalidProof, "dbsc: proof alg does not match the key")
	// ErrTyp: "typ" is missing or not "dbsc+jwt", so the token may be some
	// other JWT signed by the same key.
	ErrTyp = refuse(ErrInvalidProof, `dbsc: proof typ is not "dbsc+jwt"`)
	// ErrCritical: the header has "crit", which names extensions this
	// package does not understand and so must refuse (RFC 7515, 4.1.11).
	ErrCritical = refuse(ErrInvalidProof, `dbsc: proof header has "crit"`)
	// ErrMissingJWK: a registration proof has no "jwk" header member.
	ErrMissingJWK = refuse(ErrInvalidProof, "dbsc: registration proof has no jwk")
	// ErrUnexpectedJWK: a refresh proof has a "jwk" header member. The
	// spec forbids it; accepting it would invite verifying with it.
	ErrUnexpectedJWK = refuse(ErrInvalidProof, "dbsc: refresh proof has a jwk")
	// ErrMissingJTI: the payload has no "jti", or an empty one.
	ErrMissingJTI = refuse(ErrInvalidProof, "dbsc: proof has no jti")
	// ErrSignatureLength: the signature is not 64 bytes (ES256, raw r||s)
	// or the modulus size (RS256). A DER ECDSA signature ends up here.
	ErrSignatureLength = refuse(ErrInvalidProof, "dbsc: proof signature has the wrong length")
	// ErrSignature: the signature does not verify with the key.
	ErrSignature = refuse(ErrInvalidProof, "dbsc: proof signature does not verify")
)

// Refusals of a public key.
var (
	// ErrKeyTooLarge: a JWK longer than 2 KiB, refused before it is
	// decoded.
	ErrKeyTooLarge = refuse(ErrInvalidKey, "dbsc: jwk too large")
	// ErrKeyJSON: the JWK is not a JSON object with each member once and of
	// the right type, or lacks a member its key type needs.
	ErrKeyJSON = refuse(ErrInvalidKey, "dbsc: jwk is not a well-formed JSON object")
	// ErrKeyType: "kty" is neither "EC" nor "RSA".
	ErrKeyType = refuse(ErrInvalidKey, `dbsc: jwk kty is not "EC" or "RSA"`)
	// ErrCurve: an EC key's "crv" is not "P-256".
	ErrCurve = refuse(ErrInvalidKey, `dbsc: jwk crv is not "P-256"`)
	// ErrKeyEncoding: a coordinate, modulus or exponent is not canonical
	// base64url of the right length (32 bytes for x and y; no leading zero
	// byte for n and e).
	ErrKeyEncoding = refuse(ErrInvalidKey, "dbsc: jwk member badly encoded")
	// ErrNotOnCurve: the EC point is not on P-256, or is the point at
	// infinity. An off-curve point can leak secrets in some protocols and
	// never verifies an honest signature.
	ErrNotOnCurve = refuse(ErrInvalidKey, "dbsc: EC point not on P-256")
	// ErrRSAKeySize: the RSA modulus is under MinRSABits or over
	// MaxRSABits bits, or even.
	ErrRSAKeySize = refuse(ErrInvalidKey, "dbsc: RSA modulus size out of range")
	// ErrRSAExponent: the RSA public exponent is not 65537.
	ErrRSAExponent = refuse(ErrInvalidKey, "dbsc: RSA exponent is not 65537")
	// ErrKeyBinary: the binary form of a key is truncated, has trailing
	// bytes, or names an unknown algorithm.
	ErrKeyBinary = refuse(ErrInvalidKey, "dbsc: public key binary form is malformed")
)

// Refusals of a header value.
var (
	// ErrHeaderMissing: the request has no such header. At refresh this is
	// the normal first request, which asks for a challenge.
	ErrHeaderMissing = refuse(ErrInvalidHeader, "dbsc: header missing")
	// ErrHeaderRepeated: the header appears on more than one line, which
	// RFC 9110 joins into a list: not one value.
	ErrHeaderRepeated = refuse(ErrInvalidHeader, "dbsc: header repeated")
	// ErrHeaderTooLarge: the value is longer than its bound (MaxFieldSize,
	// or MaxProofSize for Secure-Session-Response), refused before it is
	// parsed.
	ErrHeaderTooLarge = refuse(ErrInvalidHeader, "dbsc: header too large")
	// ErrHeaderSyntax: the value is neither a bare value nor an RFC 9651
	// string item with parameters.
	ErrHeaderSyntax = refuse(ErrInvalidHeader, "dbsc: header syntax")
	// ErrUnsafeString: a value to write has a character an RFC 9651
	// string cannot hold (outside printable ASCII 0x20-0x7E), is empty
	// where it must not be, or is too long. Refused rather than emitting a
	// header the browser would drop.
	ErrUnsafeString = refuse(ErrInvalidHeader, "dbsc: value cannot be a structured-field string")
)

// Refusals of a challenge, and of the configuration that makes them.
var (
	// ErrChallengeMalformed: not a challenge this package issued (wrong
	// length or not base64url).
	ErrChallengeMalformed = refuse(ErrInvalidChallenge, "dbsc: malformed challenge")
	// ErrChallengeForged: the MAC does not match: forged, issued under a
	// retired key, or issued for another session id or purpose.
	ErrChallengeForged = refuse(ErrInvalidChallenge, "dbsc: challenge not issued for this session")
	// ErrChallengeExpired: the challenge was issued longer ago than the
	// window (plus skew) allows, or further in the future than the skew.
	ErrChallengeExpired = refuse(ErrInvalidChallenge, "dbsc: challenge outside its window")
	// ErrChallengeConfig: NewChallenges was given no key, a key shorter
	// than MinChallengeKeySize, or a window or skew out of range.
	ErrChallengeConfig = refuse(ErrInvalidChallenge, "dbsc: bad challenge configuration")
)

// ErrInvalidInstructions is returned by Instructions.MarshalJSON (wrapped
// by encoding/json) for instructions Chromium would refuse. Unlike the
// refusals above, it is the server's mistake, not the browser's.
var ErrInvalidInstructions = errors.New("dbsc: session instructions a browser would refuse")

// refusal is a sentinel that also matches its class under errors.Is.
type refusal struct {
	msg   string
	class error
}

func refuse(class error, msg string) error { return &refusal{msg: msg, class: class} }

func (r *refusal) Error() string { return r.msg }

// Is reports whether target is r's class; errors.Is compares r itself.
func (r *refusal) Is(target error) bool { return target == r.class }
