//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds the build and the start: the instances alone
	// take about 15 s (see readyTimeout).
	startTimeout = 2 * time.Minute
	// exitTimeout bounds a stop: SIGTERM, then SIGKILL after stopGrace,
	// for the instances and then for Redis.
	exitTimeout = 2*stopGrace + 10*time.Second
)

// fleetBin is the fleet, built once for every test by TestMain.
var fleetBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleet-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "fleet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
	} else {
		fleetBin = bin
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is a fleet started by a test.
type running struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	err    error          // cmd.Wait's result, set before exited is closed
	pids   map[string]int // by process name: redis, example1, ...
	addrs  map[string]string
	bases  []string // the instances' URLs, in order
}

var (
	startedRE = regexp.MustCompile(`(?m)^fleet +\| started (\S+) \(pid (\d+)\) on (\S+)$`)
	readyRE   = regexp.MustCompile(`(?m)^fleet +\| ready: (\S+) (\S+) (\S+);`)
)

// startFleet runs the fleet, with its own Redis and keys and env added to
// its environment, until it says it is ready. Whatever the test does,
// nothing it started outlives it.
func startFleet(t *testing.T, env ...string) *running {
	t.Helper()
	if os.Getenv("REDIS_SERVER") == "" {
		if _, err := exec.LookPath("redis-server"); err != nil {
			t.Fatal("this test needs redis-server: install it (sudo apt-get install redis-server; make test does) or set REDIS_SERVER")
		}
	}
	if fleetBin == "" {
		t.Fatal("the fleet was not built")
	}
	f := &running{cmd: exec.Command(fleetBin), out: new(lockedBuffer), exited: make(chan struct{})}
	// The fleet's own Redis and keys, whatever the environment says.
	f.cmd.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "SESSION_")
	}), env...)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.err = f.cmd.Wait(); close(f.exited) }()
	t.Cleanup(func() { f.cleanup(t) })

	deadline := time.After(startTimeout)
	for !readyRE.MatchString(f.out.String()) {
		select {
		case <-f.exited:
			t.Fatalf("the fleet exited before it was ready: %v\n%s", f.err, f.out)
		case <-deadline:
			t.Fatalf("the fleet was not ready within %v:\n%s", startTimeout, f.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
	out := f.out.String()
	f.bases = readyRE.FindStringSubmatch(out)[1:]
	f.pids, f.addrs = map[string]int{}, map[string]string{}
	for _, m := range startedRE.FindAllStringSubmatch(out, -1) {
		f.pids[m[1]], _ = strconv.Atoi(m[2])
		f.addrs[m[1]] = m[3]
	}
	if len(f.pids) != 4 || f.pids["redis"] == 0 {
		t.Fatalf("the fleet started %v, want redis and 3 instances:\n%s", f.addrs, out)
	}
	return f
}

// cleanup kills what a failed test left running, and shows the output.
func (f *running) cleanup(t *testing.T) {
	select {
	case <-f.exited:
	default:
		_ = f.cmd.Process.Kill()
		<-f.exited
	}
	for _, pid := range f.pids {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if t.Failed() {
		t.Logf("the fleet's output:\n%s", f.out)
	}
}

// waitExit waits for the fleet to exit, within exitTimeout.
func (f *running) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case <-f.exited:
		return f.err
	case <-time.After(exitTimeout):
		t.Fatalf("the fleet did not exit within %v", exitTimeout)
		return nil
	}
}

// expectGone fails unless every process the fleet started has exited and
// nothing listens on their ports any more.
func (f *running) expectGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second) // an orphan's SIGKILL is delivered asynchronously
	for name, pid := range f.pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("%s (pid %d) is still running", name, pid)
		}
	}
	// A listening socket may outlive the check of its process by a moment
	// (the kernel closes it as the process exits): ask until the deadline.
	for name, addr := range f.addrs {
		for listening(addr) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if listening(addr) {
			t.Errorf("something still listens on %s, where %s did", addr, name)
		}
	}
}

// listening reports whether a connection to addr is accepted.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// alive reports whether pid is a process that has not exited: a zombie,
// which a container's init may never reap, counts as exited.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err) || !dirExists("/proc/self")
	}
	_, state, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(state, "Z")
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// send sends one request with the given cookies, follows no redirect,
// and returns the cookies set and the body.
func send(t *testing.T, method, target string, cookies []*http.Cookie, form url.Values) ([]*http.Cookie, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode >= 400 {
		t.Fatalf("%s %s: %d %s", method, target, resp.StatusCode, body.String())
	}
	return resp.Cookies(), body.Bytes()
}

// sessionUser returns the user /api/session sees with these cookies.
func sessionUser(t *testing.T, base string, cookies []*http.Cookie) string {
	t.Helper()
	_, body := send(t, "GET", base+"/api/session", cookies, nil)
	var v struct{ User string }
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s/api/session: %v in %s", base, err, body)
	}
	return v.User
}

// The tests run one after the other: two fleets at once could both find
// port 8081 free and both start an instance on it.

// TestFleet runs the fleet as a user would, signs in on one instance and
// is seen on another, signs out there and is refused on the third, then
// presses Ctrl-C: every process must exit and every port be free.
func TestFleet(t *testing.T) {
	f := startFleet(t)
	for _, base := range f.bases {
		if _, body := send(t, "GET", base+"/healthz", nil, nil); string(body) != "healthy\n" {
			t.Errorf("%s/healthz: %q", base, body)
		}
	}

	cookies, _ := send(t, "POST", f.bases[0]+"/login", nil, url.Values{"user": {"ada"}})
	if got := sessionUser(t, f.bases[1], cookies); got != "ada" {
		t.Fatalf("signed in on %s, %s sees user %q", f.bases[0], f.bases[1], got)
	}
	send(t, "POST", f.bases[1]+"/logout", cookies, nil)
	for deadline := time.Now().Add(5 * time.Second); sessionUser(t, f.bases[2], cookies) != ""; {
		if time.Now().After(deadline) {
			t.Fatalf("signed out on %s, %s still takes a copy of the cookie", f.bases[1], f.bases[2])
		}
		time.Sleep(20 * time.Millisecond)
	}

	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := f.waitExit(t); err != nil {
		t.Errorf("the fleet exited with %v after Ctrl-C, want 0", err)
	}
	f.expectGone(t)
	if strings.Contains(f.out.String(), "killing ") {
		t.Errorf("a process needed SIGKILL: every one should stop on SIGTERM")
	}
}

// TestFleetEmptyVariables runs the fleet with SESSION_KEYS and
// SESSION_SECURE set but empty, which the example takes for unset: the
// instances must still share the one key the fleet makes, or a sign-in on
// one is unknown to the others, and serve plain http without Secure.
func TestFleetEmptyVariables(t *testing.T) {
	f := startFleet(t, "SESSION_KEYS=", "SESSION_SECURE=")
	if out := f.out.String(); strings.Count(out, " secure=false") != instances {
		t.Errorf("want every instance to log secure=false:\n%s", out)
	}
	cookies, _ := send(t, "POST", f.bases[0]+"/login", nil, url.Values{"user": {"ada"}})
	if got := sessionUser(t, f.bases[1], cookies); got != "ada" {
		t.Errorf("signed in on %s, %s sees user %q", f.bases[0], f.bases[1], got)
	}
	if err := f.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := f.waitExit(t); err != nil {
		t.Errorf("the fleet exited with %v after Ctrl-C, want 0", err)
	}
	f.expectGone(t)
}

// TestFleetOneExits kills one instance: the fleet, no longer whole, must
// stop the others and Redis, and exit with an error that names it.
func TestFleetOneExits(t *testing.T) {
	f := startFleet(t)
	if err := syscall.Kill(f.pids["example2"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := f.waitExit(t); err == nil {
		t.Error("the fleet exited with 0 after an instance died, want an error")
	}
	if !strings.Contains(f.out.String(), "example2 exited") {
		t.Error("the fleet did not say which process exited")
	}
	f.expectGone(t)
}
