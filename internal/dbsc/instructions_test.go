package dbsc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// chromiumAccepts checks JSON the way Chromium's ParseSessionInstructionJson
// (net/device_bound_sessions/session_json_utils.cc) does, so that the tests
// hold what MarshalJSON writes to what the browser requires, not to what
// this package believes.
func chromiumAccepts(data []byte, expectedID string) error {
	var root map[string]any
	if err := json.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("kInvalidConfigJson: %v", err)
	}
	id, _ := root["session_identifier"].(string)
	if id == "" {
		return errors.New("kInvalidSessionId")
	}
	if expectedID != "" && id != expectedID {
		return errors.New("kMismatchedSessionId")
	}
	if c, ok := root["continue"].(bool); ok && !c {
		return errors.New("kServerRequestedTermination")
	}
	scope, ok := root["scope"].(map[string]any)
	if !ok {
		return errors.New("kMissingScope")
	}
	if err := chromiumScope(scope); err != nil {
		return err
	}
	if err := chromiumCredentials(root["credentials"]); err != nil {
		return err
	}
	if list, ok := root["allowed_refresh_initiators"].([]any); ok {
		for _, v := range list {
			if _, ok := v.(string); !ok {
				return errors.New("kRefreshInitiatorNotString")
			}
		}
	}
	return nil
}

func chromiumScope(scope map[string]any) error {
	if _, ok := scope["include_site"].(bool); !ok {
		return errors.New("kMissingScopeIncludeSite")
	}
	specs, ok := scope["scope_specification"].([]any)
	if !ok {
		return nil
	}
	for _, s := range specs {
		spec, ok := s.(map[string]any)
		if !ok {
			return errors.New("kInvalidScopeSpecification")
		}
		typ, ok := spec["type"].(string)
		if !ok {
			return errors.New("kMissingScopeSpecificationType")
		}
		// Absent (or not a string), domain is "*" and path "/".
		for _, member := range []string{"domain", "path"} {
			if s, ok := spec[member].(string); ok && s == "" {
				return errors.New("kEmptyScopeSpecification " + member)
			}
		}
		if typ != "include" && typ != "exclude" {
			return errors.New("kInvalidScopeSpecificationType")
		}
	}
	return nil
}

func chromiumCredentials(v any) error {
	list, _ := v.([]any)
	if len(list) == 0 {
		return errors.New("kNoCredentials")
	}
	for _, c := range list {
		cred, ok := c.(map[string]any)
		if !ok {
			return errors.New("kInvalidCredentialsConfig")
		}
		if cred["type"] != "cookie" {
			return errors.New("kInvalidCredentialsType")
		}
		if name, _ := cred["name"].(string); name == "" {
			return errors.New("kInvalidCredentialsEmptyName")
		}
	}
	return nil
}

func TestInstructionsJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Instructions
		want string
	}{
		{"minimal", Instructions{
			SessionIdentifier: "sid",
			Credentials:       []Credential{{Name: "__Host-session"}},
		}, `{"session_identifier":"sid","scope":{"include_site":false},"credentials":[{"type":"cookie","name":"__Host-session","attributes":""}]}`},
		{"full", Instructions{
			SessionIdentifier: "sid",
			RefreshURL:        "/dbsc/refresh",
			Scope: Scope{Origin: "https://example.com", IncludeSite: true, Rules: []ScopeRule{
				{Type: "include", Domain: "trusted.example.com", Path: "/only_trusted_path"},
				{Type: "exclude", Path: "/static"},
			}},
			Credentials:              []Credential{{Name: "__Host-session", Attributes: "Path=/; Secure; HttpOnly; SameSite=Lax"}},
			AllowedRefreshInitiators: []string{"example.com", "*.example.com"},
		}, `{"session_identifier":"sid","refresh_url":"/dbsc/refresh","scope":{"origin":"https://example.com","include_site":true,` +
			`"scope_specification":[{"type":"include","domain":"trusted.example.com","path":"/only_trusted_path"},{"type":"exclude","path":"/static"}]},` +
			`"credentials":[{"type":"cookie","name":"__Host-session","attributes":"Path=/; Secure; HttpOnly; SameSite=Lax"}],` +
			`"allowed_refresh_initiators":["example.com","*.example.com"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.in)
			if err != nil || string(got) != tc.want {
				t.Fatalf("Marshal = %s, %v\nwant %s", got, err, tc.want)
			}
			if err := chromiumAccepts(got, "sid"); err != nil {
				t.Fatalf("Chromium would refuse it: %v", err)
			}
		})
	}
}

func TestInstructionsTerminate(t *testing.T) {
	in := Instructions{SessionIdentifier: "sid", Terminate: true, RefreshURL: "/r", Credentials: []Credential{{Name: "c"}}}
	got, err := json.Marshal(in)
	if want := `{"session_identifier":"sid","continue":false}`; err != nil || string(got) != want {
		t.Fatalf("Marshal = %s, %v; want %s", got, err, want)
	}
	if err := chromiumAccepts(got, "sid"); err == nil || err.Error() != "kServerRequestedTermination" {
		t.Fatalf("Chromium would read it as %v", err)
	}
}

func TestInstructionsRefusals(t *testing.T) {
	cred := []Credential{{Name: "c"}}
	for _, tc := range []struct {
		name string
		in   Instructions
	}{
		{"no session identifier", Instructions{Credentials: cred}},
		{"no session identifier, terminating", Instructions{Terminate: true}},
		{"session identifier too long", Instructions{SessionIdentifier: strings.Repeat("s", MaxFieldSize+1), Credentials: cred}},
		{"no credentials", Instructions{SessionIdentifier: "sid"}},
		{"credential without a name", Instructions{SessionIdentifier: "sid", Credentials: []Credential{{Attributes: "Path=/"}}}},
		{"rule of an unknown type", Instructions{SessionIdentifier: "sid", Credentials: cred, Scope: Scope{Rules: []ScopeRule{{Type: "Include"}}}}},
		{"rule without a type", Instructions{SessionIdentifier: "sid", Credentials: cred, Scope: Scope{Rules: []ScopeRule{{Domain: "a.example", Path: "/"}}}}},
		{"second rule of an unknown type", Instructions{SessionIdentifier: "sid", Credentials: cred, Scope: Scope{Rules: []ScopeRule{{Type: "include"}, {Type: "deny"}}}}},
		{"second credential without a name", Instructions{SessionIdentifier: "sid", Credentials: []Credential{{Name: "c"}, {}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.in)
			if !errors.Is(err, ErrInvalidInstructions) {
				t.Fatalf("Marshal = %s, %v; want ErrInvalidInstructions", got, err)
			}
		})
	}
}
