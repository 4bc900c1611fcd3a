package dbsc

import "encoding/json"

// Instructions are the JSON session instructions the registration endpoint
// answers, and the refresh endpoint may (spec, "JSON Session Instruction
// Format"). Marshal them with encoding/json. Field names and what Chromium
// requires are from net/device_bound_sessions/session_json_utils.cc
// (ParseSessionInstructionJson): session_identifier non-empty, and equal to
// the current one at refresh; "continue": false ends the session and is
// read before anything but the identifier; scope required, with
// include_site a boolean; credentials a non-empty list of objects of type
// "cookie" with a non-empty name; allowed_refresh_initiators a list of
// strings. MarshalJSON checks the same, so that what it writes is never
// refused for its form.
type Instructions struct {
	// SessionIdentifier names the DBSC session; the browser sends it back
	// in Sec-Secure-Session-Id on every refresh. It may carry sealed state
	// (the device key, what it is bound to), at most MaxFieldSize bytes of
	// printable ASCII not starting with a double quote (see ReadSessionID):
	// base64url.
	SessionIdentifier string
	// RefreshURL is where refreshes go, absolute or relative to the
	// request answered. Empty: that request's URL.
	RefreshURL string
	// Terminate ends the browser's session ("continue": false) instead of
	// describing it; only SessionIdentifier is written with it. Answering
	// a refresh so ends the session as a 401 does, and says why.
	Terminate bool
	// Scope is what requests the session covers.
	Scope Scope
	// Credentials are the cookies the session keeps fresh. At least one.
	Credentials []Credential
	// AllowedRefreshInitiators are hosts outside the scope allowed to
	// trigger a refresh (host patterns, e.g. "*.example.com"). Optional.
	AllowedRefreshInitiators []string
}

// Scope is the "scope" of Instructions (spec, "JSON Session Scope
// Instruction Format").
type Scope struct {
	// Origin is the origin the session applies to. Empty: that of the
	// URL answered.
	Origin string
	// IncludeSite extends the session to the whole site: every subdomain
	// of the origin's registrable domain. Always written, as Chromium
	// requires.
	IncludeSite bool
	// Rules include or exclude URLs, the last matching one winning.
	// Optional.
	Rules []ScopeRule
}

// ScopeRule is one entry of "scope_specification" (spec, "JSON Session
// Scope Rule Format").
type ScopeRule struct {
	// Type is "include" or "exclude".
	Type string
	// Domain is a host pattern; empty means "*", every host.
	Domain string
	// Path is a path prefix; empty means "/", every path.
	Path string
}

// Credential is one bound cookie (spec, "JSON Session Credentials
// Format"); its type is always "cookie".
type Credential struct {
	// Name is the cookie's name. Required.
	Name string
	// Attributes are the cookie's attributes as in Set-Cookie (e.g.
	// "Path=/; Secure; HttpOnly; SameSite=Lax"), by which the browser
	// decides whether a request carries the cookie. Max-Age and Expires
	// are ignored.
	Attributes string
}

// The wire form, with the spec's member names.
type (
	wireInstructions struct {
		SessionIdentifier        string       `json:"session_identifier"`
		RefreshURL               string       `json:"refresh_url,omitempty"`
		Continue                 *bool        `json:"continue,omitempty"`
		Scope                    *wireScope   `json:"scope,omitempty"`
		Credentials              []wireCookie `json:"credentials,omitempty"`
		AllowedRefreshInitiators []string     `json:"allowed_refresh_initiators,omitempty"`
	}
	wireScope struct {
		Origin        string     `json:"origin,omitempty"`
		IncludeSite   bool       `json:"include_site"`
		Specification []wireRule `json:"scope_specification,omitempty"`
	}
	wireRule struct {
		Type   string `json:"type"`
		Domain string `json:"domain,omitempty"`
		Path   string `json:"path,omitempty"`
	}
	wireCookie struct {
		Type       string `json:"type"`
		Name       string `json:"name"`
		Attributes string `json:"attributes"`
	}
)

// MarshalJSON writes the instructions in the spec's form. It refuses
// (ErrInvalidInstructions) what Chromium would refuse: an empty or
// oversized session identifier, no credentials or one without a name, a
// scope rule whose type is neither "include" nor "exclude".
func (in Instructions) MarshalJSON() ([]byte, error) {
	if in.SessionIdentifier == "" || len(in.SessionIdentifier) > MaxFieldSize {
		return nil, ErrInvalidInstructions
	}
	if in.Terminate {
		stop := false
		return json.Marshal(wireInstructions{SessionIdentifier: in.SessionIdentifier, Continue: &stop})
	}
	w := wireInstructions{SessionIdentifier: in.SessionIdentifier, RefreshURL: in.RefreshURL}
	if len(in.Credentials) == 0 {
		return nil, ErrInvalidInstructions
	}
	for _, c := range in.Credentials {
		if c.Name == "" {
			return nil, ErrInvalidInstructions
		}
		w.Credentials = append(w.Credentials, wireCookie{Type: "cookie", Name: c.Name, Attributes: c.Attributes})
	}
	w.Scope = &wireScope{Origin: in.Scope.Origin, IncludeSite: in.Scope.IncludeSite}
	for _, r := range in.Scope.Rules {
		if r.Type != "include" && r.Type != "exclude" {
			return nil, ErrInvalidInstructions
		}
		w.Scope.Specification = append(w.Scope.Specification, wireRule(r))
	}
	w.AllowedRefreshInitiators = in.AllowedRefreshInitiators
	return json.Marshal(w)
}
