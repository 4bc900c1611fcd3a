// Package dbsc holds the protocol pieces of Device Bound Session
// Credentials (W3C WICG webappsec-dbsc) that cookiesession needs to serve
// DBSC without a session store: proof JWTs and the keys in them, the
// structured-field headers, the JSON session instructions, and stateless
// challenges. It has no state, no HTTP handlers and no policy; the
// Manager's middleware wires it in. It uses the standard library only.
//
// The exchange, as issue 27 observed it with Chromium 156:
//
//	response to sign-in    Secure-Session-Registration: (ES256 RS256);path="...";challenge="...";authorization="..."
//	browser -> path        POST, Secure-Session-Response: <proof with jwk>         VerifyRegistration
//	server answers         200, Instructions as JSON, Set-Cookie: the bound cookie
//	bound cookie missing   POST refresh_url, Sec-Secure-Session-Id: <id>             ReadSessionID
//	server answers         403, Secure-Session-Challenge: "<c>";id="<id>"            ChallengeHeaderValue
//	browser retries        POST, Sec-Secure-Session-Id, Secure-Session-Response      VerifyRefresh
//	server answers         200, Set-Cookie: a fresh bound cookie (body optional)
//
// Sources read for this package (Chromium main as indexed, not a release:
// files under net/device_bound_sessions/; and the spec's spec.bs at
// w3c/webappsec-dbsc d346811, February 2026):
//
//   - Header names and the bare form of Sec-Secure-Session-Id and
//     Secure-Session-Response as Chromium sends them: registration_fetcher.cc
//     (kSessionIdHeaderName, kJwtSessionHeaderName, ConfigureRequest,
//     OnRegistrationTokenCreated); the spec's "DBSC Formats" gives both an
//     sf-string ABNF, while its fetch steps append the bare value.
//   - Secure-Session-Registration parsing: registration_fetcher_param.cc
//     (inner list of tokens ES256/RS256; path, challenge, authorization
//     must be sf-strings; path percent-decoded, resolved, same-site).
//   - Secure-Session-Challenge parsing: session_challenge_param.cc (a list
//     of sf-strings with an "id" sf-string parameter).
//   - Proof JWT shape: session_binding_utils.cc (typ "dbsc+jwt", jwk only
//     at registration, jti and authorization, raw r||s) and jwk_utils.cc
//     (EC x and y padded to 32 bytes; RSA n and e); the spec's "DBSC Proof
//     JWT Syntax".
//   - Session instructions: session_json_utils.cc
//     (ParseSessionInstructionJson) and the spec's "JSON Session
//     Instruction Format".
//
// Every input from the network is bounded before it is decoded and every
// refusal is a sentinel error (see errors.go) matching one of
// ErrInvalidProof, ErrInvalidKey, ErrInvalidHeader and ErrInvalidChallenge.
package dbsc
