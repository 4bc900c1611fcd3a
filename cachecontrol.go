package cookiesession

import (
	"net/http"
	"strings"
)

// The headers that keep a response that depends on, or sets, a session out
// of caches that would serve it to someone else.

// addVary marks the response as depending on the Cookie header, so that no
// cache serves one user's page to another.
func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); strings.EqualFold(f, "Cookie") || f == "*" {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}

// makePrivate keeps a response that sets a cookie out of shared caches: a
// proxy that stored it would hand the cookie to other users. Directives the
// application set are kept, except those that invite shared caching.
func makePrivate(h http.Header) {
	// A targeted field (RFC 9213's CDN-Cache-Control and its kin, and
	// Surrogate-Control before them) replaces Cache-Control for the caches
	// it names, which would never see "private". Without one they fall
	// back to Cache-Control. Surrogate-Control also asks for processing
	// (content="ESI/1.0"): that stays, and storing is forbidden instead.
	for name, vs := range h {
		switch {
		case hasSuffixFold(name, "-Cache-Control"):
			delete(h, name)
		case strings.EqualFold(name, "Surrogate-Control"):
			kept := []string{"no-store"}
			for _, d := range splitDirectives(strings.Join(vs, ",")) {
				if n, _, _ := strings.Cut(d, "="); strings.EqualFold(strings.TrimSpace(n), "content") {
					kept = append(kept, d)
				}
			}
			h[name] = []string{strings.Join(kept, ", ")}
		}
	}
	cc := strings.Join(h["Cache-Control"], ", ")
	if cc == "" {
		h.Set("Cache-Control", "private") // empty values, if any, are replaced
		return
	}
	var kept []string
	private := false
	for _, d := range splitDirectives(cc) {
		name, arg, qualified := strings.Cut(strings.ToLower(d), "=")
		switch strings.TrimSpace(name) {
		case "public", "s-maxage":
			continue
		case "private", "no-store":
			// Only the unqualified forms keep the whole response out of
			// shared caches: private="X-Debug" lets them store it, less
			// the fields it names (RFC 9111, 5.2.2.7).
			private = private || !qualified || strings.TrimSpace(arg) == ""
		}
		kept = append(kept, d)
	}
	if !private {
		kept = append([]string{"private"}, kept...)
	}
	h["Cache-Control"] = []string{strings.Join(kept, ", ")}
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// splitDirectives splits a cache header's value at the commas between its
// directives, not those inside a quoted string (no-cache="a, b"), and drops
// empty ones. A quote left open splits at every comma instead: otherwise
// it would hide the directives after it from the caller's checks.
func splitDirectives(v string) []string {
	var out []string
	add := func(d string) {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	start, quoted := 0, false
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == ',' && !quoted:
			add(v[start:i])
			start = i + 1
		case v[i] == '"':
			quoted = !quoted
		case v[i] == '\\' && quoted:
			i++ // the escaped character cannot end the string
		}
	}
	if quoted {
		out = out[:0]
		for _, d := range strings.Split(v, ",") {
			add(d)
		}
		return out
	}
	add(v[start:])
	return out
}
