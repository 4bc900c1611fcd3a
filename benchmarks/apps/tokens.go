package apps

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// The token series' sessions: what an application that signs its users in
// through an OpenID Connect provider keeps, the provider's three tokens
// beside a few claims of its own. The tokens are shaped like a provider's
// JWTs: an RS256 ID token and access token (a 256-byte signature each)
// and an HS256 refresh token, with the claims providers put in them. What
// makes real ones large is lists of groups, roles or permissions; here
// the ID token's groups and the access token's permissions grow until
// the session's JSON reaches the size asked for. Every value is fixed, so
// that runs are comparable.

// tokenIssued is when the fixed tokens were issued, in Unix seconds.
const tokenIssued = 1796601600

// tokenSession returns a visitor's session (no roles, no cart) signed in
// through OpenID Connect, its tokens' lists as long as they can be without
// the session's JSON passing limit bytes; without any list entry if even
// that passes it.
func tokenSession(limit int) Typical {
	t := NewTypical()
	t.Roles, t.Cart = nil, nil
	best := withTokens(t, 0)
	for n := 1; ; n++ {
		next := withTokens(t, n)
		if jsonLen(next) > limit {
			return best
		}
		best = next
	}
}

// withTokens returns t with tokens whose lists have n entries each.
func withTokens(t Typical, n int) Typical {
	groups := make([]string, n)
	perms := make([]string, n)
	for i := range n {
		groups[i] = fmt.Sprintf("grp-%03d-%s", i, []string{"readers", "editors", "owners"}[i%3])
		perms[i] = fmt.Sprintf("api:resource-%03d:%s", i, []string{"read", "write", "admin"}[i%3])
	}
	const (
		iss = "https://login.example.com/oauth2/default"
		sub = "00u1a2b3c4d5e6f7g8h9"
		cid = "0oa9z8y7x6w5v4u3t2s1"
	)
	id := jwt("RS256", map[string]any{
		"iss": iss, "sub": sub, "aud": cid, "iat": tokenIssued, "exp": tokenIssued + 3600,
		"auth_time": tokenIssued - 30, "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ",
		"name": t.Name, "email": "ada@example.com", "email_verified": true, "groups": groups,
	}, 256)
	access := jwt("RS256", map[string]any{
		"ver": 1, "jti": "AT.q8mB3kS0rT5yX2wV7uZ1cE4fG6hJ9lN", "iss": iss, "aud": "api://default",
		"iat": tokenIssued, "exp": tokenIssued + 3600, "cid": cid, "uid": sub, "sub": "ada@example.com",
		"scp": []string{"openid", "profile", "email", "offline_access"}, "permissions": perms,
	}, 256)
	refresh := jwt("HS256", map[string]any{
		"iss": iss, "sub": sub, "aud": iss, "typ": "Refresh", "iat": tokenIssued,
		"exp": tokenIssued + 30*86400, "jti": "RT.4f9c2e1a-7b3d-4e8f-a6c5-0d2b1e3f4a5c",
		"sid": "8d2e4f6a-1b3c-5d7e-9f0a-2c4e6a8b0d1f", "scope": "openid profile email offline_access",
	}, 32)
	t.OIDC = &Tokens{
		IDToken: id, AccessToken: access, RefreshToken: refresh,
		Expiry: tokenIssued + 3600, Scope: "openid profile email offline_access",
	}
	return t
}

// jwt returns a JWT-shaped token: base64url of a header naming alg, of
// claims and of sigLen fixed bytes standing for the signature.
func jwt(alg string, claims map[string]any, sigLen int) string {
	header, err := json.Marshal(map[string]string{"alg": alg, "kid": "k-2026-11", "typ": "JWT"})
	if err != nil {
		panic(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	var sig []byte
	for block := sha256.Sum256([]byte(alg + string(payload))); len(sig) < sigLen; block = sha256.Sum256(block[:]) {
		sig = append(sig, block[:]...)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(sig[:sigLen])
}

// jsonLen is the length of t's JSON, as encoding/json writes it.
func jsonLen(t Typical) int {
	b, err := json.Marshal(t)
	if err != nil {
		panic(err)
	}
	return len(b)
}
