// Command fleet runs the example as a fleet on this machine: a redis-server
// and three instances of the example on loopback, sharing one SESSION_KEYS
// and the revocations kept in that Redis, so that a sign-in on one instance
// holds on the others and a sign-out on one is refused by all of them.
//
//	go run ./example/fleet     # from the repository's root (or ./fleet from example/)
//
// Ctrl-C (SIGINT) or SIGTERM stops every process it started, and so does
// the end of any one of them: each gets SIGTERM, and SIGKILL if it has not
// exited a few seconds later (or at a second Ctrl-C). On Linux they are
// also killed if the fleet itself is killed.
//
// It builds the example once, into a temporary directory; starts
// redis-server ($REDIS_SERVER, else on PATH) on a free loopback port,
// without persistence, unless REDIS_URL names the Redis to use; and starts
// the instances on 127.0.0.1:8081, 8082 and 8083, or a free port instead of
// any taken. SESSION_KEYS, unless set, is made for the run (and not
// printed: it is a secret). The instances serve
// plain http, so their cookies go without Secure unless SESSION_SECURE says
// otherwise. Each line a process writes is prefixed with its name.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/ce967478/cookiesession"
)

const (
	// examplePackage is built by import path, so that the build works from
	// the repository's root (through go.work) and from inside example/.
	examplePackage = "github.com/ce967478/cookiesession/example"
	instances      = 3
	firstPort      = 8081
	// stopGrace is how long a process has to exit after SIGTERM: more
	// than an idle example needs to shut down, less than a user waits.
	stopGrace = 5 * time.Second
	// readyTimeout bounds the start: a new Redis store waits twice its
	// ping interval (5 s) before it trusts a hash another instance just
	// made, so the second and third instances take about 10 s.
	readyTimeout = 60 * time.Second
	pollInterval = 100 * time.Millisecond
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancelCause(context.Background())
	force := make(chan struct{})
	go func() {
		s := <-sigs
		cancel(fmt.Errorf("%v", s))
		<-sigs // a second one skips the grace period
		close(force)
	}()
	if err := run(ctx, force, newOutput(os.Stdout)); err != nil {
		os.Exit(1)
	}
}

// run starts the fleet, waits for a signal (ctx's end) or for a process to
// exit, and stops every process it started, whatever happens. Its error
// has been printed; a signal, even during the start, is no error.
func run(ctx context.Context, force <-chan struct{}, out *output) (err error) {
	f := &fleet{out: out, exited: make(chan *proc, instances+1)}
	var dir string
	defer func() {
		// Said first: the processes' last lines would bury it.
		if ctx.Err() != nil {
			out.line("fleet", fmt.Sprintf("%v: stopping every process", context.Cause(ctx)))
			err = nil
		} else if err != nil {
			out.line("fleet", "error: "+err.Error())
		}
		f.stop(force)
		if dir != "" {
			os.RemoveAll(dir) // the binary, and Redis's directory
		}
		out.line("fleet", "stopped")
	}()
	if dir, err = os.MkdirTemp("", "fleet-"); err != nil {
		return err
	}

	bin := filepath.Join(dir, "example")
	out.line("fleet", "building "+examplePackage)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, examplePackage)
	if msg, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s (run the fleet from the repository's root or from example/): %w\n%s", examplePackage, err, msg)
	}
	env, err := f.environment(ctx, dir)
	if err != nil {
		return err
	}
	env = slices.Clip(env) // each instance appends its own ADDR
	ports, err := pickPorts(instances, firstPort)
	if err != nil {
		return err
	}
	var bases []string
	for i, port := range ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := f.start(fmt.Sprintf("example%d", i+1), addr, bin, nil, append(env, "ADDR="+addr)); err != nil {
			return err
		}
		bases = append(bases, "http://"+addr)
	}
	if err := f.waitHealthy(ctx, bases); err != nil {
		return err
	}
	out.line("fleet", fmt.Sprintf("ready: %s %s %s; Ctrl-C stops them all", bases[0], bases[1], bases[2]))
	return f.wait(ctx)
}

// environment returns what every instance gets on top of the fleet's own
// environment: the keys, the Redis (started here unless REDIS_URL is set)
// and, unless set, SESSION_SECURE=false.
func (f *fleet) environment(ctx context.Context, dir string) ([]string, error) {
	env := os.Environ()
	if os.Getenv("SESSION_KEYS") == "" {
		// Made for this run, shared by the instances, and never printed:
		// a key is a secret wherever it is shown. To keep sessions across
		// runs, or to open cookies with sessionkey, set SESSION_KEYS.
		// Empty counts as unset, here and for SESSION_SECURE, as the
		// example takes it: passed on, it would give each instance a
		// throw-away key of its own. The value appended wins over the
		// empty one (os/exec keeps the last).
		keys := cookiesession.EncodeSecret(cookiesession.GenerateSecret())
		f.out.line("fleet", "SESSION_KEYS is not set: a key made for this run is shared by the instances, and sessions end when the fleet stops; set SESSION_KEYS to keep them")
		env = append(env, "SESSION_KEYS="+keys)
	}
	if os.Getenv("SESSION_SECURE") == "" {
		// Plain http on loopback: not every browser keeps Secure cookies
		// from http://127.0.0.1.
		env = append(env, "SESSION_SECURE=false")
	}
	if os.Getenv("REDIS_URL") != "" {
		f.out.line("fleet", "using REDIS_URL from the environment")
		return env, nil
	}
	url, err := f.startRedis(ctx, dir)
	if err != nil {
		return nil, err
	}
	return append(env, "REDIS_URL="+url), nil
}

// startRedis starts a redis-server without persistence on a free loopback
// port, waits until it answers, and returns its URL.
func (f *fleet) startRedis(ctx context.Context, dir string) (string, error) {
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			return "", errors.New("no redis-server on PATH: install it (Debian: apt-get install redis-server), " +
				"set REDIS_SERVER to its path, or set REDIS_URL to a Redis to use")
		}
	}
	ports, err := pickPorts(1, 0)
	if err != nil {
		return "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
	args := []string{"--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning"}
	if err := f.start("redis", addr, bin, args, os.Environ()); err != nil {
		return "", err
	}
	p := f.procs[len(f.procs)-1]
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for !redisAnswers(addr) {
		select {
		case <-p.done:
			return "", fmt.Errorf("redis-server exited: %v", p.err)
		case <-ctx.Done():
			return "", fmt.Errorf("redis-server on %s did not answer: %w", addr, context.Cause(ctx))
		case <-time.After(pollInterval):
		}
	}
	return "redis://" + addr + "/0", nil
}

// redisAnswers reports whether a Redis at addr answers PING.
func redisAnswers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	b := make([]byte, 7)
	n, _ := c.Read(b)
	return string(b[:n]) == "+PONG\r\n"
}

// pickPorts returns n loopback ports: first, first+1, ... where free, a
// free one chosen by the system instead of any taken (all of them when
// first is 0). The listeners stay open until all are chosen, so that the
// system picks no port twice.
func pickPorts(n, first int) ([]int, error) {
	var ports []int
	for i := range n {
		var ln net.Listener
		var err error
		if first > 0 {
			ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(first+i)))
		}
		if first == 0 || err != nil {
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				return nil, err
			}
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitHealthy waits until every instance's /healthz answers 200, and fails
// if a process exits first or readyTimeout passes.
func (f *fleet) waitHealthy(ctx context.Context, bases []string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for _, base := range bases {
		for !healthy(ctx, client, base) {
			select {
			case p := <-f.exited:
				return fmt.Errorf("%s exited before the fleet was ready: %v", p.name, p.err)
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s/healthz: %w", base, context.Cause(ctx))
			case <-time.After(pollInterval):
			}
		}
	}
	return nil
}

func healthy(ctx context.Context, client *http.Client, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
