package dbsc

import (
	"net/http"
	"strings"
)

// The header names, as the spec (w3c/webappsec-dbsc spec.bs, "DBSC
// Formats") and Chromium (net/device_bound_sessions/registration_fetcher.cc,
// registration_fetcher_param.cc) spell them since the Secure-Session-
// prefix replaced Sec-Session- (spec commit 74bccd3). Only the request's
// session id keeps Sec-, so that script cannot set it.
const (
	// HeaderRegistration, on a response, invites the browser to register
	// a key: see Registration.
	HeaderRegistration = "Secure-Session-Registration"
	// HeaderChallenge, on a response, gives the browser the challenge to
	// sign next; on a 403 from the refresh endpoint, it asks for a proof
	// at once. See ChallengeHeaderValue.
	HeaderChallenge = "Secure-Session-Challenge"
	// HeaderResponse, on a request to the registration or refresh
	// endpoint, carries the proof JWT. See ReadProof.
	HeaderResponse = "Secure-Session-Response"
	// HeaderSessionID, on a request to the refresh endpoint, names the
	// session to refresh. See ReadSessionID.
	HeaderSessionID = "Sec-Secure-Session-Id"
)

// MaxFieldSize bounds every DBSC header value read or written here except
// the proof (MaxProofSize). The largest expected is a session identifier
// that carries sealed state, about 270 characters.
const MaxFieldSize = 4 << 10

// Registration is a Secure-Session-Registration header value (spec,
// "Secure-Session-Registration HTTP header field"):
//
//	(ES256 RS256);path="/dbsc/register";challenge="...";authorization="..."
//
// Chromium (registration_fetcher_param.cc) takes the algorithms as tokens
// in an inner list, in order of preference; resolves path against the URL
// of the response after percent-decoding it, and ignores the entry unless
// the result is same-site and secure; and refuses the entry if path,
// challenge or authorization is not an sf-string.
type Registration struct {
	// Algs are the algorithms offered, preferred first. Nil offers ES256
	// then RS256.
	Algs []Alg
	// Path is the registration endpoint, relative to the URL of the
	// response or absolute. Required.
	Path string
	// Challenge is what the registration proof must sign (its jti).
	// Required: without one, a registration proves nothing fresh.
	Challenge string
	// Authorization, if not empty, is copied by the browser into the
	// proof's "authorization" claim, and sent as the Authorization header
	// of the registration request.
	Authorization string
}

// defaultAlgs is what Registration offers when Algs is nil.
var defaultAlgs = []Alg{ES256, RS256}

// HeaderValue returns the header's value. It refuses (ErrUnsafeString) an
// empty Path or Challenge, an empty or unknown Alg, a character an
// sf-string cannot hold, and a value longer than MaxFieldSize.
func (r Registration) HeaderValue() (string, error) {
	if r.Path == "" || r.Challenge == "" {
		return "", ErrUnsafeString
	}
	algs := r.Algs
	if algs == nil {
		algs = defaultAlgs
	}
	if len(algs) == 0 { // Chromium ignores an entry offering none
		return "", ErrUnsafeString
	}
	b := make([]byte, 0, 64+len(r.Path)+len(r.Challenge)+len(r.Authorization))
	b = append(b, '(')
	for i, a := range algs {
		if a != ES256 && a != RS256 {
			return "", ErrUnsafeString
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, a.String()...)
	}
	b = append(b, ')')
	b, err := appendParams(b, "path", r.Path, "challenge", r.Challenge, "authorization", r.Authorization)
	if err != nil {
		return "", err
	}
	return checkSize(b)
}

// ChallengeHeaderValue returns a Secure-Session-Challenge value for one
// session (spec, "Secure-Session-Challenge structured header
// serialization"; Chromium, session_challenge_param.cc):
//
//	"<challenge>";id="<session id>"
//
// Chromium ignores a challenge without an id, and caches the challenge for
// the session so named. Both must be non-empty sf-strings, and the value
// at most MaxFieldSize (ErrUnsafeString).
func ChallengeHeaderValue(challenge, sessionID string) (string, error) {
	if challenge == "" || sessionID == "" {
		return "", ErrUnsafeString
	}
	b, err := appendString(make([]byte, 0, 8+len(challenge)+len(sessionID)), challenge)
	if err != nil {
		return "", err
	}
	if b, err = appendParams(b, "id", sessionID); err != nil {
		return "", err
	}
	return checkSize(b)
}

// appendParams appends ;key="value" for each key and value given in
// pairs, skipping empty values.
func appendParams(b []byte, kv ...string) ([]byte, error) {
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		b = append(b, ';')
		b = append(b, kv[i]...)
		b = append(b, '=')
		var err error
		if b, err = appendString(b, kv[i+1]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func checkSize(b []byte) (string, error) {
	if len(b) > MaxFieldSize {
		return "", ErrUnsafeString
	}
	return string(b), nil
}

// ReadSessionID returns the session identifier of a refresh request, from
// its Sec-Secure-Session-Id header.
//
// The spec's ABNF makes the value an sf-string ("Sec-Secure-Session-Id
// HTTP header field": SecSecureSessionId = sf-string), but its own fetch
// steps append the bare identifier, and so does Chromium
// (registration_fetcher.cc, ConfigureRequest:
// SetExtraRequestHeaderByName(kSessionIdHeaderName, *session_identifier_)).
// Both are accepted: a value starting with a double quote is read as an
// sf-string item (parameters ignored), anything else as the bare
// identifier, which must be printable ASCII without spaces. Identifiers
// should therefore be made of such characters and not start with a quote:
// base64url is.
func ReadSessionID(h http.Header) (string, error) {
	return readValue(h, HeaderSessionID, MaxFieldSize)
}

// ReadProof returns the proof JWT of a registration or refresh request,
// from its Secure-Session-Response header, for VerifyRegistration or
// VerifyRefresh. The header value is at most MaxProofSize.
//
// As with ReadSessionID, the spec's ABNF says sf-string while Chromium
// sends the bare token (registration_fetcher.cc,
// OnRegistrationTokenCreated), so both are accepted. A refresh request
// without the header (ErrHeaderMissing) is the browser asking for a
// challenge.
func ReadProof(h http.Header) (string, error) {
	return readValue(h, HeaderResponse, MaxProofSize)
}

// readValue reads a header that must appear once and hold either a bare
// value or an sf-string item, not empty.
func readValue(h http.Header, name string, limit int) (string, error) {
	vs := h.Values(name)
	switch {
	case len(vs) == 0:
		return "", ErrHeaderMissing
	case len(vs) > 1:
		return "", ErrHeaderRepeated
	case len(vs[0]) > limit:
		return "", ErrHeaderTooLarge
	}
	v := strings.Trim(vs[0], " \t")
	if strings.HasPrefix(v, `"`) {
		var err error
		if v, err = parseStringItem(v); err != nil {
			return "", err
		}
	} else if err := checkBare(v); err != nil {
		return "", err
	}
	if v == "" {
		return "", ErrHeaderSyntax
	}
	return v, nil
}

// checkBare refuses a bare value with anything but visible ASCII.
func checkBare(v string) error {
	for i := 0; i < len(v); i++ {
		if v[i] <= 0x20 || v[i] > 0x7e {
			return ErrHeaderSyntax
		}
	}
	return nil
}
