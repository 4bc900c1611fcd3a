package main

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// listenRE finds the address run logs once it listens.
var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// settingsRE finds the session settings run logs at start-up.
var settingsRE = regexp.MustCompile(`(?m)level=INFO msg=sessions name=(\S+) max_age=(\S+) idle_timeout=(\S+) secure=(\S+) keys=(.+)$`)

// addrWriter is a log destination that reports the listening address.
type addrWriter struct {
	syncBuffer
	addr chan string
}

func (w *addrWriter) Write(p []byte) (int, error) {
	if m := listenRE.FindSubmatch(p); m != nil {
		select {
		case w.addr <- string(m[1]):
		default:
		}
	}
	return w.syncBuffer.Write(p)
}

const testKeys = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"

// runEnv is env(vars) with SESSION_REVOCATIONS_FILE in the test's own
// directory, unless vars sets it: run would otherwise open revocations.db
// in the package's directory, one file for all the tests running at once.
func runEnv(t *testing.T, vars map[string]string) func(string) string {
	t.Helper()
	if _, ok := vars[envRevocationsFile]; ok {
		return env(vars)
	}
	v := maps.Clone(vars)
	if v == nil {
		v = map[string]string{}
	}
	v[envRevocationsFile] = filepath.Join(t.TempDir(), "revocations.db")
	return env(v)
}

// TestRunConfigErrors checks that bad settings stop run before it listens.
// The context is already cancelled: a run that listened anyway would log
// "listening" and return nil.
func TestRunConfigErrors(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // after the parallel subtests
	tests := []struct {
		name, variable, value string
	}{
		{"keys blank", "SESSION_KEYS", " "},
		{"keys not base64", "SESSION_KEYS", "not-a-key!"},
		{"key too short", "SESSION_KEYS", "c2hvcnQ"},
		{"second key bad", "SESSION_KEYS", testKeys + ",c2hvcnQ"},
		{"max age", "SESSION_MAX_AGE", "forever"},
		{"idle timeout", "SESSION_IDLE_TIMEOUT", "-1m"},
		{"idle timeout under the library's minimum", "SESSION_IDLE_TIMEOUT", "5s"},
		{"addr", "ADDR", "nowhere"},
		{"addr in use", "ADDR", taken.Addr().String()},
		{"revocations file", "SESSION_REVOCATIONS_FILE", "/dev/null/revocations.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"ADDR": "127.0.0.1:0", "SESSION_KEYS": testKeys}
			vars[tt.variable] = tt.value
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			var stderr syncBuffer
			err := run(ctx, runEnv(t, vars), &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Fatalf("run: %v; want an error naming %s", err, tt.variable)
			}
			// Key errors read as cookiesession.KeyringFromEnv's.
			if tt.variable == "SESSION_KEYS" && !strings.HasPrefix(err.Error(), "invalid session keys: SESSION_KEYS: ") {
				t.Errorf("run: %v; want the library's wording, invalid session keys: SESSION_KEYS: ...", err)
			}
			if strings.Contains(stderr.String(), "listening") {
				t.Errorf("run listened despite the error; log:\n%s", stderr.String())
			}
		})
	}
}

// TestRunWithoutKeys checks the warning that unset SESSION_KEYS gives, and
// that the server still starts (and stops, its context being cancelled).
func TestRunWithoutKeys(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stderr syncBuffer
	if err := run(ctx, runEnv(t, map[string]string{"ADDR": "127.0.0.1:0"}), &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	log := stderr.String()
	for _, want := range []string{
		"level=WARN msg=\"SESSION_KEYS is not set",
		"export SESSION_KEYS=$(go run ./cmd/sessionkey)",
		"msg=\"revocations are kept in a file",
		"msg=listening addr=127.0.0.1:",
		"msg=stopped",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
}

// TestRunServes starts the server as main does, uses it, and stops it.
func TestRunServes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stderr := &addrWriter{addr: make(chan string, 1)}
	vars := map[string]string{"ADDR": "127.0.0.1:0", "SESSION_KEYS": testKeys, "SESSION_MAX_AGE": "2h"}
	done := make(chan error, 1)
	go func() { done <- run(ctx, runEnv(t, vars), stderr) }()

	var addr string
	select {
	case addr = <-stderr.addr:
	case err := <-done:
		t.Fatalf("run returned early: %v; log:\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not log its address; log:\n%s", stderr.String())
	}
	base := "http://" + addr
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: status %d", resp.StatusCode)
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = client.PostForm(base+"/login", url.Values{"user": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 || cookies[0].Name != cookiesession.DefaultName ||
		!cookies[0].Secure || cookies[0].MaxAge > 7200 || cookies[0].MaxAge < 7190 {
		// Real keys: Secure, even on a loopback address (a TLS proxy may
		// forward to it).
		t.Errorf("login: status %d, Set-Cookie %q; want 303 and one session cookie, Secure, Max-Age 7200",
			resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("run did not stop")
	}
	log := stderr.String()
	// The settings logged are the ones the cookie shows.
	m := settingsRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("the log states no session settings:\n%s", log)
	}
	if len(cookies) == 1 {
		// Max-Age counts down from the session's creation, a moment
		// before the cookie was written.
		maxAge, err := time.ParseDuration(m[2])
		late := int(maxAge.Seconds()) - cookies[0].MaxAge
		if err != nil || m[1] != cookies[0].Name || (m[4] == "true") != cookies[0].Secure || late < 0 || late > 10 {
			t.Errorf("logged %q; the cookie is %q, Secure %v, Max-Age %d",
				m[0], cookies[0].Name, cookies[0].Secure, cookies[0].MaxAge)
		}
	}
	for _, want := range []string{"session cookies are Secure", "msg=\"shutting down\"", "msg=stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "SESSION_KEYS is not set") {
		t.Errorf("warned about SESSION_KEYS although it is set:\n%s", log)
	}
}

// TestRunLogsSessionSettings checks the line that states the session
// settings in force. The context is already cancelled: run starts, logs,
// and stops.
func TestRunLogsSessionSettings(t *testing.T) {
	t.Parallel()
	// why is the line that says why the cookie is Secure or not: a
	// warning only when SESSION_SECURE=false turns it off.
	const (
		dev      = `level=INFO msg="development: a throw-away key on a loopback address`
		off      = `level=WARN msg="SESSION_SECURE=false: session cookies are sent without the Secure attribute`
		isSecure = `level=INFO msg="session cookies are Secure`
	)
	tests := []struct {
		name string
		vars map[string]string
		want string
		why  string
	}{
		{"development", nil, "name=session max_age=24h0m0s idle_timeout=none secure=false", dev},
		{"keys", map[string]string{"SESSION_KEYS": testKeys}, "name=__Host-session max_age=24h0m0s idle_timeout=none secure=true", isSecure},
		{"durations", map[string]string{"SESSION_KEYS": testKeys, "SESSION_MAX_AGE": "90m", "SESSION_IDLE_TIMEOUT": "15m"},
			"name=__Host-session max_age=1h30m0s idle_timeout=15m0s secure=true", isSecure},
		{"idle zero", map[string]string{"SESSION_KEYS": testKeys, "SESSION_IDLE_TIMEOUT": "0"},
			"name=__Host-session max_age=24h0m0s idle_timeout=none secure=true", isSecure},
		{"secure off", map[string]string{"SESSION_KEYS": testKeys, "SESSION_SECURE": "false"},
			"name=session max_age=24h0m0s idle_timeout=none secure=false", off},
		{"secure off in development", map[string]string{"SESSION_SECURE": "false"},
			"name=session max_age=24h0m0s idle_timeout=none secure=false", off},
		{"secure on", map[string]string{"SESSION_SECURE": "true"},
			"name=__Host-session max_age=24h0m0s idle_timeout=none secure=true", isSecure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"ADDR": "127.0.0.1:0"}
			for k, v := range tt.vars {
				vars[k] = v
			}
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			var stderr syncBuffer
			if err := run(ctx, runEnv(t, vars), &stderr); err != nil {
				t.Fatalf("run: %v", err)
			}
			log := stderr.String()
			if !strings.Contains(log, tt.why) {
				t.Errorf("the log lacks %s; log:\n%s", tt.why, log)
			}
			lines := settingsRE.FindAllString(log, -1)
			if len(lines) != 1 || !strings.Contains(lines[0], "msg=sessions "+tt.want+" keys=") {
				t.Errorf("want one line msg=sessions %s keys=...; log:\n%s", tt.want, log)
			}
			if k, err := cookiesession.ParseKeyring(tt.vars["SESSION_KEYS"]); err == nil && !strings.Contains(log, "keys="+k.String()) {
				t.Errorf("the settings do not name the keys %s; log:\n%s", k, log)
			}
			if keys := tt.vars["SESSION_KEYS"]; keys != "" && strings.Contains(log, keys) {
				t.Errorf("the log holds SESSION_KEYS itself:\n%s", log)
			}
			// Stated before the server listens, with the other start-up lines.
			if i, j := strings.Index(log, "msg=sessions"), strings.Index(log, "msg=listening"); i < 0 || j < 0 || i > j {
				t.Errorf("the settings do not come before msg=listening; log:\n%s", log)
			}
		})
	}
}

// TestRunWithRedis starts the app as `REDIS_URL=... go run ./example`
// would: it says that revocations are shared, is healthy once they are
// loaded, and a sign-out on it is seen by another instance on the same
// Redis.
func TestRunWithRedis(t *testing.T) {
	t.Parallel()
	redisAddr := startRedis(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := func() (base string, log *addrWriter, done chan error) {
		return startRun(t, ctx, map[string]string{"ADDR": "127.0.0.1:0", "SESSION_KEYS": testKeys, "SESSION_SECURE": "false",
			"REDIS_URL": "redis://" + redisAddr + "/0"})
	}
	a, logA, doneA := start()
	b, _, doneB := start()
	healthy := func(base string) {
		t.Helper()
		// A store's first load of a new hash waits twice the default
		// ping interval (5s) for other instances' write-backs: Down, 503,
		// until then.
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(base + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/healthz did not answer 200 within 30s", base)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	healthy(a)
	healthy(b)
	if !strings.Contains(logA.String(), "revocations are shared through Redis") {
		t.Errorf("the log does not say that revocations are shared:\n%s", logA.String())
	}
	// runEnv set SESSION_REVOCATIONS_FILE too: an operator who set both
	// is told which one holds the revocations.
	if !strings.Contains(logA.String(), `level=WARN msg="SESSION_REVOCATIONS_FILE is not used: with REDIS_URL set`) {
		t.Errorf("the log does not say that SESSION_REVOCATIONS_FILE is not used:\n%s", logA.String())
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(a+"/login", url.Values{"user": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	copied := resp.Cookies()
	req, _ := http.NewRequest("POST", a+"/logout", nil)
	for _, c := range copied {
		req.AddCookie(c)
	}
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("GET", b+"/api/session", nil)
		for _, c := range copied {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v sessionView
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err == nil && v.User == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other instance still accepts the signed-out cookie: %+v, %v", v, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	for _, done := range []chan error{doneA, doneB} {
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

// startRun starts run with vars, as main would, and returns the address
// it serves, its log, and the channel its result comes on.
func startRun(t *testing.T, ctx context.Context, vars map[string]string) (base string, log *addrWriter, done chan error) {
	t.Helper()
	log = &addrWriter{addr: make(chan string, 1)}
	done = make(chan error, 1)
	getenv := runEnv(t, vars)
	go func() { done <- run(ctx, getenv, log) }()
	select {
	case addr := <-log.addr:
		return "http://" + addr, log, done
	case err := <-done:
		t.Fatalf("run returned early: %v; log:\n%s", err, log.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("run did not log its address; log:\n%s", log.String())
	}
	return "", nil, nil
}

// sessionUser returns the user GET /api/session sees with cookies.
func sessionUser(t *testing.T, client *http.Client, base string, cookies []*http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/session", nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v sessionView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.User
}

// TestRunKeepsSignOutsAcrossRestart is issue #23: without REDIS_URL, a
// signed-out cookie must not open again once the server restarts. The
// revocations are kept in SESSION_REVOCATIONS_FILE, which the log names.
func TestRunKeepsSignOutsAcrossRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "revoked.db")
	vars := map[string]string{"ADDR": "127.0.0.1:0", "SESSION_KEYS": testKeys, "SESSION_SECURE": "false",
		"SESSION_REVOCATIONS_FILE": path}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	signIn := func(base, user string) []*http.Cookie {
		t.Helper()
		resp, err := client.PostForm(base+"/login", url.Values{"user": {user}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Cookies()
	}
	stop := func(cancel context.CancelFunc, done chan error) {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	base, log, done := startRun(t, ctx, vars)
	ada, bob := signIn(base, "ada"), signIn(base, "bob")
	req, _ := http.NewRequest("POST", base+"/logout", nil)
	for _, c := range ada {
		req.AddCookie(c)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if user := sessionUser(t, client, base, ada); user != "" {
		t.Fatalf("before the restart, the signed-out cookie opens for %q", user)
	}
	stop(cancel, done)
	if !strings.Contains(log.String(), "file="+path) {
		t.Errorf("the log does not name the revocations file %s:\n%s", path, log.String())
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the revocations file: %v; want one readable by its owner only", err)
	}

	ctx, cancel = context.WithCancel(t.Context())
	base, _, done = startRun(t, ctx, vars)
	defer stop(cancel, done)
	if user := sessionUser(t, client, base, ada); user != "" {
		t.Errorf("after the restart, the signed-out cookie opens for %q", user)
	}
	if user := sessionUser(t, client, base, bob); user != "bob" {
		t.Errorf("after the restart, a signed-in cookie gives %q, want bob", user)
	}
}

// TestRunRefusesForeignRevocationsFile checks that a
// SESSION_REVOCATIONS_FILE naming some other file stops run, with an error
// naming the variable and the file, and leaves the file as it was.
func TestRunRefusesForeignRevocationsFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "notes.txt")
	const content = "not revocations\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	err := run(t.Context(), env(map[string]string{"ADDR": "127.0.0.1:0", "SESSION_REVOCATIONS_FILE": path}), &stderr)
	if err == nil || !strings.Contains(err.Error(), "SESSION_REVOCATIONS_FILE") || !strings.Contains(err.Error(), path) {
		t.Errorf("run: %v; want an error naming SESSION_REVOCATIONS_FILE and %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("the file was changed to %q", b)
	}
	if strings.Contains(stderr.String(), "listening") {
		t.Errorf("run listened despite the error; log:\n%s", stderr.String())
	}
}
