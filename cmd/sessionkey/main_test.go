package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// testKey is a secret and its SESSION_KEYS form.
type testKey struct {
	raw []byte
	enc string
}

func newTestKey() testKey {
	raw := cookiesession.GenerateSecret()
	return testKey{raw: raw, enc: cookiesession.EncodeSecret(raw)}
}

func ring(t *testing.T, keys ...testKey) *cookiesession.Keyring {
	t.Helper()
	secrets := make([][]byte, len(keys))
	for i, k := range keys {
		secrets[i] = k.raw
	}
	r, err := cookiesession.NewKeyring(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func envOf(keys ...testKey) string {
	encs := make([]string, len(keys))
	for i, k := range keys {
		encs[i] = k.enc
	}
	return strings.Join(encs, ",")
}

// rawSerializer seals a session's bytes as they are, JSON or not.
type rawSerializer struct{}

func (rawSerializer) Marshal(v any) ([]byte, error)   { return *v.(*[]byte), nil }
func (rawSerializer) Unmarshal(b []byte, v any) error { *v.(*[]byte) = b; return nil }

// seal has a Manager with the keys r write, for the cookie called name, a
// session holding data and flashes, created at created and sealed last at
// issued, and returns the cookie's value.
func seal(t *testing.T, r *cookiesession.Keyring, name string, created, issued time.Time, data string, flashes ...string) string {
	t.Helper()
	now := created
	m, err := cookiesession.New[[]byte](r, cookiesession.WithName(name), cookiesession.WithSerializer(rawSerializer{}),
		cookiesession.WithMaxAge(1000*time.Hour), cookiesession.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	var cookie string
	serve := func(fn func(s *cookiesession.Session[[]byte])) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if cookie != "" {
			req.Header.Set("Cookie", name+"="+cookie)
		}
		rec := httptest.NewRecorder()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) { fn(m.Get(req)) })).ServeHTTP(rec, req)
		cookie = rec.Result().Cookies()[0].Value
	}
	// Created with a flash that the second request reads, so that it
	// seals the session again at issued, keeping its creation time.
	serve(func(s *cookiesession.Session[[]byte]) { s.Data = []byte(data); s.AddFlash("-") })
	now = issued
	serve(func(s *cookiesession.Session[[]byte]) {
		s.Flashes()
		for _, f := range flashes {
			s.AddFlash(f)
		}
	})
	return cookie
}

type result struct {
	code           int
	stdout, stderr string
}

func runWith(args []string, stdin string, env map[string]string) result {
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

// output mirrors openOutput for decoding what open prints.
type output struct {
	Data          map[string]any `json:"data"`
	Flashes       []string       `json:"flashes"`
	CreatedAt     string         `json:"created_at"`
	IssuedAt      string         `json:"issued_at"`
	ExpiresAt     string         `json:"expires_at"`
	IdleExpiresAt string         `json:"idle_expires_at"`
	KeyPosition   int            `json:"key_position"`
	NewestKey     bool           `json:"newest_key"`
	SessionID     string         `json:"session_id"`
	Generation    uint64         `json:"generation"`
	Checked       *bool          `json:"revocation_checked"`
}

func decodeOutput(t *testing.T, stdout string) output {
	t.Helper()
	var o output
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		t.Fatalf("stdout is not the expected JSON: %v\n%s", err, stdout)
	}
	return o
}

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for _, args := range [][]string{nil, {}, {"new"}} {
		r := runWith(args, "", nil)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("run(%q) = %d, stderr %q", args, r.code, r.stderr)
		}
		if !strings.HasSuffix(r.stdout, "\n") || strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("run(%q) printed %q, want one line", args, r.stdout)
		}
		key := strings.TrimSpace(r.stdout)
		if _, err := cookiesession.ParseKeyring(key); err != nil {
			t.Errorf("run(%q) printed a key ParseKeyring refuses: %v", args, err)
		}
		if b, err := base64.RawURLEncoding.DecodeString(key); err != nil || len(b) != cookiesession.MinSecretSize {
			t.Errorf("run(%q) printed %q: %d bytes, %v", args, key, len(b), err)
		}
		if seen[key] {
			t.Errorf("run(%q) printed a key already printed", args)
		}
		seen[key] = true
	}
}

func TestUsage(t *testing.T) {
	k := newTestKey()
	env := map[string]string{"SESSION_KEYS": k.enc}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"-h", []string{"-h"}, 0, "Examples:", ""},
		{"--help", []string{"--help"}, 0, "sessionkey open", ""},
		{"help", []string{"help"}, 0, "Exit status", ""},
		{"new -h", []string{"new", "-h"}, 0, "Examples:", ""},
		{"new help", []string{"new", "help"}, 0, "Examples:", ""},
		{"open -h", []string{"open", "-h"}, 0, "-max-age", ""},
		{"unknown command", []string{"show"}, 2, "", `unknown command "show"`},
		{"new with an argument", []string{"new", "x"}, 2, "", "new takes no arguments"},
		{"unknown flag", []string{"open", "-nmae", "x", "v"}, 2, "", "flag provided but not defined: -nmae"},
		{"bad duration", []string{"open", "-max-age", "1 day", "v"}, 2, "", "-max-age"},
		{"two values", []string{"open", "session=a;", "b=c"}, 2, "", "one VALUE"},
		// The option's words, without the library's prefix.
		{"zero max-age", []string{"open", "-max-age", "0", "v"}, 2, "", "sessionkey: open: WithMaxAge(0s)"},
		{"short idle", []string{"open", "-idle", "1s", "v"}, 2, "", "WithIdleTimeout(1s)"},
		{"bad name", []string{"open", "-name", "a b", "v"}, 2, "", "invalid cookie settings"},
		{"small max-size", []string{"open", "-max-size", "100", "v"}, 2, "", "WithMaxSize(100)"},
		{"empty keys-env", []string{"open", "-keys-env", "", "v"}, 2, "", "-keys-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runWith(tt.args, "", env)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, r.stderr)
			}
			if tt.wantCode == 2 && !strings.Contains(r.stderr, "Usage:") {
				t.Errorf("a usage error without the usage:\n%s", r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, k.enc) {
				t.Errorf("the secret was printed")
			}
		})
	}
}

// chunkedCookies has a Manager write a session too large for one cookie and
// returns the response's Set-Cookie lines.
func chunkedCookies(t *testing.T, r *cookiesession.Keyring, blob string) []string {
	t.Helper()
	m, err := cookiesession.New[map[string]string](r)
	if err != nil {
		t.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s := m.Get(req)
		s.Data["blob"] = blob
		s.AddFlash("saved")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	lines := rec.Result().Header["Set-Cookie"]
	if len(lines) < 2 {
		t.Fatalf("the session was not chunked: %q", lines)
	}
	return lines
}

// secureCookieValue has a Manager sealing in the securecookie format write
// a session and returns the cookie's value.
func secureCookieValue(t *testing.T, r *cookiesession.Keyring) string {
	t.Helper()
	m, err := cookiesession.New[map[string]string](r, cookiesession.WithGorillaFormat(), cookiesession.WithName(cookiesession.FallbackName))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		m.Get(req).Data["user"] = "cy"
	})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie %q", rec.Result().Header["Set-Cookie"])
	}
	return cookies[0].Value
}

func TestOpen(t *testing.T) {
	cur, old, other := newTestKey(), newTestKey(), newTestKey()
	allKeys := []testKey{cur, old, other}
	env := map[string]string{"SESSION_KEYS": envOf(cur, old)}
	curRing, oldRing, otherRing := ring(t, cur), ring(t, old), ring(t, other)

	now := time.Now().Truncate(time.Second)
	created := now.Add(-2 * time.Hour)
	issued := now.Add(-10 * time.Minute)
	good := seal(t, curRing, "session", created, issued, `{"user":"ann","cart":[1,2]}`, "welcome")
	fresh := `{"user":"bob"}`
	stale := seal(t, oldRing, "session", now, now, fresh)
	unknown := seal(t, otherRing, "session", now, now, fresh)
	sid := seal(t, curRing, "sid", now, now, fresh)
	// The default name's: a value copied from it names no cookie.
	host := seal(t, curRing, cookiesession.DefaultName, created, issued, `{"user":"ann"}`)
	hostExpired := seal(t, curRing, cookiesession.DefaultName, now.Add(-3*time.Hour), now.Add(-3*time.Hour), `{"n":1}`)
	// Flip a character well inside the ciphertext: the header (version and
	// key id) stays intact, so the key is found and authentication fails.
	tampered := []byte(good)
	i := len(tampered) / 2
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	expired := seal(t, curRing, "session", now.Add(-3*time.Hour), now.Add(-3*time.Hour), `{"n":1}`)
	future := seal(t, curRing, "session", now.Add(time.Hour), now.Add(time.Hour), `{"n":1}`)
	notJSON := seal(t, curRing, "session", now, now, "\x80\x01\x02")
	// Sealed by a Manager whose lifetime was 3 hours: it holds under a
	// longer -max-age.
	shortLived, err := curRing.Seal("session", cookiesession.Contents{Created: created, Issued: issued, Lifetime: 3 * time.Hour, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	// Sealed by an earlier release, without a lifetime: -max-age holds.
	noLifetime, err := curRing.Seal("session", cookiesession.Contents{Created: created, Issued: issued, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}

	blob := strings.Repeat("0123456789abcdef", 300) // 4800 bytes: two chunks
	setCookies := chunkedCookies(t, curRing, blob)
	var pairs []string
	for _, line := range setCookies {
		pair, _, _ := strings.Cut(line, ";")
		pairs = append(pairs, pair)
	}
	// The chunks in reverse order, among other cookies, as a browser may send them.
	chunkedHeader := "theme=dark; " + strings.Join(reverse(pairs), "; ") + "; _ga=GA1.2.3.4"

	tests := []struct {
		name       string
		args       []string
		stdin      string
		env        map[string]string
		wantCode   int
		wantStderr string // substring of stderr
		check      func(t *testing.T, o output)
	}{
		{
			name: "bare value", args: []string{"open", good}, wantCode: 0,
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "ann" || len(o.Data["cart"].([]any)) != 2 {
					t.Errorf("data = %v", o.Data)
				}
				if len(o.Flashes) != 1 || o.Flashes[0] != "welcome" {
					t.Errorf("flashes = %q", o.Flashes)
				}
				if o.KeyPosition != 1 || !o.NewestKey {
					t.Errorf("key_position %d newest_key %v, want 1 true", o.KeyPosition, o.NewestKey)
				}
				// What a revocation goes by, and the warning that none was
				// looked up.
				if len(o.SessionID) != 32 || o.SessionID == strings.Repeat("0", 32) || o.Checked == nil || *o.Checked {
					t.Errorf("session_id %q, revocation_checked %v; want the id in hex, and false", o.SessionID, o.Checked)
				}
				if o.CreatedAt != formatTime(created) || o.IssuedAt != formatTime(issued) {
					t.Errorf("created_at %s issued_at %s, want %s %s", o.CreatedAt, o.IssuedAt, formatTime(created), formatTime(issued))
				}
				if o.ExpiresAt != formatTime(created.Add(24*time.Hour)) || o.IdleExpiresAt != "" {
					t.Errorf("expires_at %s idle_expires_at %q", o.ExpiresAt, o.IdleExpiresAt)
				}
			},
		},
		{
			name: "a lifetime sealed shorter than -max-age", args: []string{"open", shortLived},
			check: func(t *testing.T, o output) {
				if o.ExpiresAt != formatTime(created.Add(3*time.Hour)) {
					t.Errorf("expires_at %s, want %s: the sealed lifetime", o.ExpiresAt, formatTime(created.Add(3*time.Hour)))
				}
			},
		},
		{
			name: "no lifetime sealed", args: []string{"open", noLifetime, "-max-age", "12h"},
			check: func(t *testing.T, o output) {
				if o.ExpiresAt != formatTime(created.Add(12*time.Hour)) {
					t.Errorf("expires_at %s, want %s: -max-age", o.ExpiresAt, formatTime(created.Add(12*time.Hour)))
				}
			},
		},
		{
			name: "cookie header with other cookies", args: []string{"open", "Cookie: a=1; session=" + good + "; b=2"},
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "ann" {
					t.Errorf("data = %v", o.Data)
				}
			},
		},
		{
			name: "quoted value, flags after it", args: []string{"open", `"` + good + `"`, "-max-age", "12h", "-idle", "30m"},
			check: func(t *testing.T, o output) {
				if o.ExpiresAt != formatTime(created.Add(12*time.Hour)) || o.IdleExpiresAt != formatTime(issued.Add(30*time.Minute)) {
					t.Errorf("expires_at %s idle_expires_at %s", o.ExpiresAt, o.IdleExpiresAt)
				}
			},
		},
		{
			name: "chunked, whole header", args: []string{"open", chunkedHeader},
			check: func(t *testing.T, o output) {
				if o.Data["blob"] != blob || len(o.Flashes) != 1 || o.Flashes[0] != "saved" {
					t.Errorf("data %.40v..., flashes %q", o.Data, o.Flashes)
				}
			},
		},
		{
			name: "chunked, header on stdin", args: []string{"open"}, stdin: "cookie: " + chunkedHeader + "\n",
			check: func(t *testing.T, o output) {
				if o.Data["blob"] != blob {
					t.Errorf("data = %.40v...", o.Data)
				}
			},
		},
		{
			name: "chunked, Set-Cookie lines on stdin", args: []string{"open", "-"},
			stdin: "Set-Cookie: " + strings.Join(setCookies, "\nSet-Cookie: ") + "\n",
			check: func(t *testing.T, o output) {
				if o.Data["blob"] != blob {
					t.Errorf("data = %.40v...", o.Data)
				}
			},
		},
		{
			name: "request headers on stdin", args: []string{"open", "-"},
			stdin: "GET / HTTP/1.1\nHost: example.com\nAccept: text/html;q=0.9\nCookie: session=" + good + "\n\n",
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "ann" {
					t.Errorf("data = %v", o.Data)
				}
			},
		},
		{
			name: "bare value of the default name", args: []string{"open", host},
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "ann" {
					t.Errorf("data = %v", o.Data)
				}
			},
		},
		{
			// Refused for what it says, not for the name it was tried under last.
			name: "bare value of the default name, expired", args: []string{"open", "-max-age", "1h", hostExpired}, wantCode: 1,
			wantStderr: "session expired: lifetime of 1h0m0s ended 2h0m",
		},
		{
			name: "bare value on stdin", args: []string{"open", "-"}, stdin: good + "\n",
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "ann" {
					t.Errorf("data = %v", o.Data)
				}
			},
		},
		{
			// The other format, by the newest key: the key is the newest,
			// though the Manager (sealing in the default format) would
			// seal the value again.
			name: "securecookie format", args: []string{"open", secureCookieValue(t, curRing)},
			check: func(t *testing.T, o output) {
				if o.KeyPosition != 1 || !o.NewestKey || o.Data["user"] != "cy" {
					t.Errorf("key_position %d newest_key %v data %v, want 1 true and user cy", o.KeyPosition, o.NewestKey, o.Data)
				}
			},
		},
		{
			name: "stale key", args: []string{"open", stale},
			check: func(t *testing.T, o output) {
				if o.KeyPosition != 2 || o.NewestKey {
					t.Errorf("key_position %d newest_key %v, want 2 false", o.KeyPosition, o.NewestKey)
				}
				if o.Data["user"] != "bob" || o.Flashes == nil || len(o.Flashes) != 0 {
					t.Errorf("data %v flashes %#v", o.Data, o.Flashes)
				}
			},
		},
		{
			name: "other name, given", args: []string{"open", "-name", "sid", "sid=" + sid},
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "bob" {
					t.Errorf("data = %v", o.Data)
				}
			},
		},
		{
			name: "keys from another variable", args: []string{"open", "-keys-env", "APP_KEYS", good},
			env: map[string]string{"APP_KEYS": cur.enc},
		},
		{
			name: "unknown key", args: []string{"open", unknown}, wantCode: 1,
			wantStderr: "session sealed by an unknown key: key id " + keyIDs(otherRing) +
				" (the key that sealed it is not in SESSION_KEYS: retired, or the throw-away key of an app started " +
				"without SESSION_KEYS, which changes on every start; SESSION_KEYS holds cookiesession.Keyring{" +
				keyIDs(curRing) + ", " + keyIDs(oldRing) + "})",
		},
		{
			name: "tampered", args: []string{"open", string(tampered)}, wantCode: 1,
			wantStderr: `session cookie failed authentication: for cookie "session" (altered, or sealed for another cookie name (-name))`,
		},
		{
			name: "sealed for another name", args: []string{"open", "session=" + sid}, wantCode: 1,
			wantStderr: "failed authentication",
		},
		{
			name: "opened under another name", args: []string{"open", "-name", "sid", good}, wantCode: 1,
			wantStderr: `failed authentication: for cookie "sid"`,
		},
		{
			name: "expired", args: []string{"open", "-max-age", "1h", expired}, wantCode: 1,
			wantStderr: "session expired: lifetime of 1h0m0s ended 2h0m",
		},
		{
			name: "expired, hint", args: []string{"open", "-max-age", "1h", expired}, wantCode: 1,
			wantStderr: "(try -max-age/-idle matching the app",
		},
		{
			name: "idle", args: []string{"open", "-idle", "5m", good}, wantCode: 1,
			wantStderr: "session expired: idle for more than 5m0s",
		},
		// The example app's variables give the defaults, so that a cookie
		// is judged as the app judges it; a flag still wins.
		{
			name: "max age from SESSION_MAX_AGE", args: []string{"open", expired}, wantCode: 1,
			env:        map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_MAX_AGE": "1h"},
			wantStderr: "session expired: lifetime of 1h0m0s ended 2h0m",
		},
		{
			name: "idle timeout from SESSION_IDLE_TIMEOUT", args: []string{"open", good}, wantCode: 1,
			env:        map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_IDLE_TIMEOUT": "5m"},
			wantStderr: "session expired: idle for more than 5m0s",
		},
		{
			name: "a flag wins over SESSION_IDLE_TIMEOUT", args: []string{"open", "-idle", "0", good},
			env: map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_IDLE_TIMEOUT": "5m"},
		},
		{
			name: "SESSION_MAX_AGE invalid", args: []string{"open", good}, wantCode: 2,
			env:        map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_MAX_AGE": "a day"},
			wantStderr: `SESSION_MAX_AGE="a day": want a Go duration`,
		},
		{
			name: "a flag wins over an invalid SESSION_MAX_AGE", args: []string{"open", "-max-age", "24h", good},
			env: map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_MAX_AGE": "a day"},
		},
		{
			name: "SESSION_IDLE_TIMEOUT invalid, -max-age given", args: []string{"open", "-max-age", "24h", good}, wantCode: 2,
			env:        map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_IDLE_TIMEOUT": "soon"},
			wantStderr: `SESSION_IDLE_TIMEOUT="soon": want a Go duration`,
		},
		{
			name: "issued in the future", args: []string{"open", future}, wantCode: 1,
			wantStderr: "in the future",
		},
		{
			name: "garbage", args: []string{"open", "not-a-cookie!"}, wantCode: 1,
			wantStderr: "malformed session cookie: not base64url, or too short to be sealed (not a value this library wrote",
		},
		{
			name: "garbage, long", args: []string{"open", "session=" + strings.Repeat("!", 100)}, wantCode: 1,
			wantStderr: "malformed session cookie: not base64url",
		},
		{
			name: "missing chunk", args: []string{"open", pairs[0]}, wantCode: 1,
			wantStderr: "malformed session cookie: chunk 2 of 2 is missing (",
		},
		{
			name: "data not JSON", args: []string{"open", notJSON}, wantCode: 1,
			wantStderr: "its data is not JSON",
		},
		{
			name: "too large", args: []string{"open", strings.Repeat("A", 8000)}, wantCode: 1,
			wantStderr: "session too large",
		},
		{
			name: "too large for -max-size", args: []string{"open", "-max-size", "1024", chunkedHeader}, wantCode: 1,
			wantStderr: "-max-size",
		},
		{
			name: "no such cookie", args: []string{"open", "theme=dark; sid=x; theme=light"}, wantCode: 1,
			wantStderr: `no cookie named "__Host-session" in the input (found theme, sid; pick one with -name)`,
		},
		{
			name: "no such cookie, one other", args: []string{"open", "theme=dark"}, wantCode: 1,
			wantStderr: `(found theme; pick one with -name)`,
		},
		{
			name: "no such cookie, ten others", args: []string{"open", "a=1; b=1; c=1; d=1; e=1; f=1; g=1; h=1; i=1; j=1"}, wantCode: 1,
			wantStderr: `(found a, b, c, d, e, f, g, h, i, j; pick one with -name)`,
		},
		{
			name: "no such cookie, eleven others", args: []string{"open", "a=1; b=1; c=1; d=1; e=1; f=1; g=1; h=1; i=1; j=1; k=1"}, wantCode: 1,
			wantStderr: `(found a, b, c, d, e, f, g, h, i, j, ...; pick one with -name)`,
		},
		{
			// As net/http reads a request's cookies: a pair that is no
			// cookie is skipped, not the whole header.
			name: "cookie header with a pair that is no cookie", args: []string{"open", "Cookie: a b=1; session=" + good},
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "ann" {
					t.Errorf("data = %v", o.Data)
				}
			},
		},
		{
			// As the Manager reads them: the default name's cookie, when
			// present, is the session, and the fallback's is left alone.
			name: "header with both default names", args: []string{"open", "__Host-session=" + good + "; session=" + good}, wantCode: 1,
			wantStderr: `failed authentication: for cookie "__Host-session"`,
		},
		{
			// A header longer than bufio.Scanner's default line: still read whole.
			name: "long header on stdin", args: []string{"open"}, stdin: "Cookie: junk=" + strings.Repeat("j", 70<<10) + "; session=" + good + "\n",
			check: func(t *testing.T, o output) {
				if o.Data["user"] != "ann" {
					t.Errorf("data = %v", o.Data)
				}
			},
		},
		{
			name: "SESSION_MAX_AGE with spaces, as the example app reads it", args: []string{"open", expired}, wantCode: 1,
			env:        map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_MAX_AGE": " 1h\n"},
			wantStderr: "session expired: lifetime of 1h0m0s ended 2h0m",
		},
		{
			// One error, the same on every run: the first in the flags' order.
			name: "both variables invalid", args: []string{"open", good}, wantCode: 2,
			env:        map[string]string{"SESSION_KEYS": envOf(cur, old), "SESSION_MAX_AGE": "a day", "SESSION_IDLE_TIMEOUT": "soon"},
			wantStderr: "sessionkey: open: SESSION_IDLE_TIMEOUT=\"soon\": want a Go duration, such as 24h or 30m, or give -idle\n",
		},
		{
			name: "empty input", args: []string{"open"}, stdin: " \n", wantCode: 1,
			wantStderr: "the input is empty",
		},
		{
			name: "SESSION_KEYS unset", args: []string{"open", good}, env: map[string]string{}, wantCode: 2,
			wantStderr: "SESSION_KEYS is not set, or blank",
		},
		{
			name: "SESSION_KEYS blank", args: []string{"open", good}, env: map[string]string{"SESSION_KEYS": " \n"}, wantCode: 2,
			wantStderr: "SESSION_KEYS is not set, or blank",
		},
		{
			name: "keys-env unset", args: []string{"open", "-keys-env", "APP_KEYS", good}, wantCode: 2,
			wantStderr: "APP_KEYS is not set, or blank",
		},
		{
			name: "SESSION_KEYS invalid", args: []string{"open", good},
			env:      map[string]string{"SESSION_KEYS": cur.enc + ",c2hvcnQ"},
			wantCode: 2, wantStderr: "SESSION_KEYS: invalid session keys: key 2 decodes to 5 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env
			if tt.env != nil {
				e = tt.env
			}
			r := runWith(tt.args, tt.stdin, e)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantCode == 0 {
				if r.stderr != "" {
					t.Errorf("stderr: %s", r.stderr)
				}
				if !strings.HasSuffix(r.stdout, "}\n") {
					t.Errorf("stdout does not end in a newline: %q", r.stdout)
				}
				o := decodeOutput(t, r.stdout)
				if tt.check != nil {
					tt.check(t, o)
				}
			} else {
				if r.stdout != "" {
					t.Errorf("a failure printed to stdout: %s", r.stdout)
				}
				if !strings.Contains(r.stderr, tt.wantStderr) {
					t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, r.stderr)
				}
				if tt.wantCode == 1 && strings.Count(r.stderr, "\n") != 1 {
					t.Errorf("stderr is not one line:\n%s", r.stderr)
				}
			}
			for _, k := range allKeys {
				for _, enc := range []string{k.enc, base64.StdEncoding.EncodeToString(k.raw)} {
					if strings.Contains(r.stdout+r.stderr, enc) {
						t.Errorf("output contains a secret")
					}
				}
			}
		})
	}
}

// keyIDs returns the ids a Keyring prints.
func keyIDs(r *cookiesession.Keyring) string {
	return strings.TrimSuffix(strings.TrimPrefix(r.String(), "cookiesession.Keyring{"), "}")
}

func reverse(s []string) []string {
	r := make([]string, len(s))
	for i, v := range s {
		r[len(s)-1-i] = v
	}
	return r
}

func TestCookieLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  AbC  ", []string{"session=AbC"}},
		{"2.AbC", []string{"session=2.AbC"}},
		{"a=1; session=x", []string{"a=1; session=x"}},
		{"Cookie: a=1; session=x\n", []string{"a=1; session=x"}},
		{"COOKIE:a=1", []string{"a=1"}},
		{"a=1\r\nb=2\r\n", []string{"a=1", "b=2"}},
		{"Set-Cookie: session=x; Path=/; Max-Age=60\nset-cookie: session.1=y; HttpOnly", []string{"session=x", "session.1=y"}},
		{"Host: h\nCookie: session=x\nAccept: a;q=1", []string{"session=x"}},
	}
	for _, tt := range tests {
		got := cookieLines(tt.in, "session")
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("cookieLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Standard input is read up to maxInputSize bytes: a longer one is no
// Cookie header, and is refused as a usage error rather than parsed.
func TestOpenStdinLimit(t *testing.T) {
	env := map[string]string{"SESSION_KEYS": newTestKey().enc}
	if r := runWith([]string{"open"}, strings.Repeat("a", maxInputSize+1), env); r.code != exitUsage || !strings.Contains(r.stderr, "longer than") {
		t.Errorf("one byte over: exit %d, stderr %q; want %d and the limit", r.code, r.stderr, exitUsage)
	}
	if r := runWith([]string{"open"}, strings.Repeat("a", maxInputSize), env); r.code != exitNotOpen {
		t.Errorf("at the limit: exit %d, stderr %q; want %d (read, and not a session)", r.code, r.stderr, exitNotOpen)
	}
}

// A bare value in gorilla/securecookie's format ends in base64 padding,
// one "=" or two: it is still a bare value, and opens.
func TestOpenBareSecureCookieValue(t *testing.T) {
	k := newTestKey()
	m, err := cookiesession.New[[]byte](ring(t, k), cookiesession.WithName("session"),
		cookiesession.WithSerializer(rawSerializer{}), cookiesession.WithGorillaFormat())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for n := 1; n < 12 && len(seen) < 2; n++ {
		rec := httptest.NewRecorder()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.Get(r).Data = []byte(`"` + strings.Repeat("x", n) + `"`)
		})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		v := rec.Result().Cookies()[0].Value
		pad := len(v) - len(strings.TrimRight(v, "="))
		if pad == 0 || seen[pad] {
			continue
		}
		seen[pad] = true
		r := runWith([]string{"open", v}, "", map[string]string{"SESSION_KEYS": k.enc})
		if r.code != exitOK {
			t.Errorf("value ending in %d \"=\": exit %d, stderr %q", pad, r.code, r.stderr)
		}
	}
	if !seen[1] || !seen[2] {
		t.Fatalf("padding seen: %v; want values ending in one \"=\" and in two", seen)
	}
}

// errReader fails every read, as a closed or broken standard input does.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("input/output error") }

// errWriter fails every write, as standard output to a closed pipe does.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// A failure to read the input or to print the result is reported, and the
// exit status says it failed: a script piping open's output must not take
// nothing for a session.
func TestOpenIOFailures(t *testing.T) {
	k := newTestKey()
	env := func(name string) string { return map[string]string{"SESSION_KEYS": k.enc}[name] }
	value := seal(t, ring(t, k), "session", time.Now(), time.Now(), `{"n":1}`)
	tests := []struct {
		name       string
		args       []string
		stdin      io.Reader
		stdout     io.Writer
		wantCode   int
		wantStderr string
	}{
		{"stdin fails", []string{"open"}, errReader{}, io.Discard, exitUsage, "reading standard input: input/output error"},
		{"stdout fails", []string{"open", value}, strings.NewReader(""), errWriter{}, exitNotOpen, "sessionkey: broken pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(tt.args, tt.stdin, tt.stdout, &stderr, env); code != tt.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

// open says it waits for input only when standard input is a terminal,
// where a user could think it hung; piped input gets no such line, which
// would mix with what a script reads from stderr.
func TestOpenStdinPrompt(t *testing.T) {
	env := func(name string) string { return map[string]string{"SESSION_KEYS": newTestKey().enc}[name] }
	const prompt = "end with Ctrl-D"

	tty, err := os.Open(os.DevNull) // a character device, as a terminal is
	if err != nil {
		t.Skip(err)
	}
	defer tty.Close()
	if fi, err := tty.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Skipf("%s is not a character device here", os.DevNull)
	}
	var stderr bytes.Buffer
	run([]string{"open"}, tty, io.Discard, &stderr, env)
	if !strings.Contains(stderr.String(), prompt) {
		t.Errorf("from a character device, stderr %q lacks %q", stderr.String(), prompt)
	}

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	pw.Close() // empty input
	stderr.Reset()
	run([]string{"open"}, pr, io.Discard, &stderr, env)
	if strings.Contains(stderr.String(), prompt) {
		t.Errorf("from a pipe, stderr %q has %q", stderr.String(), prompt)
	}
}

// Times are printed in UTC, whatever the machine's zone, so that output
// from two machines compares.
func TestOpenTimesInUTC(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.FixedZone("UTC+5", 5*3600)
	k := newTestKey()
	now := time.Now().Truncate(time.Second)
	value := seal(t, ring(t, k), "session", now, now, `{"n":1}`)
	r := runWith([]string{"open", "-idle", "1h", value}, "", map[string]string{"SESSION_KEYS": k.enc})
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	o := decodeOutput(t, r.stdout)
	for _, ts := range []string{o.CreatedAt, o.IssuedAt, o.ExpiresAt, o.IdleExpiresAt} {
		if !strings.HasSuffix(ts, "Z") {
			t.Errorf("time %q is not in UTC", ts)
		}
	}
	if want := now.UTC().Format(time.RFC3339); o.CreatedAt != want {
		t.Errorf("created_at %s, want %s", o.CreatedAt, want)
	}
}
