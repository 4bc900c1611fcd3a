package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// Bounds of the steps that start and stop the example.
const (
	buildTimeout  = 60 * time.Second
	startTimeout  = 15 * time.Second
	stopTimeout   = 15 * time.Second
	pollInterval  = 50 * time.Millisecond
	healthTimeout = time.Second // one /healthz attempt
)

// lockedBuffer collects a process's output, written by exec's copying
// goroutine and read by the test.
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

// example is a running example app.
type example struct {
	base   string // http://127.0.0.1:port
	stderr *lockedBuffer
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, set before exited is closed
}

// startExample builds the example module, runs it on a
// free loopback port with a SESSION_KEYS made for this test, and waits until
// /healthz answers. When the test ends it stops the app with SIGINT and
// checks that it shut down cleanly.
func startExample(t *testing.T) *example {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "example")
	buildCtx, cancel := context.WithTimeout(t.Context(), buildTimeout)
	defer cancel()
	build := exec.CommandContext(buildCtx, "go", "build", "-o", bin, ".")
	build.Dir = "../example" // a module of its own
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in ../example: %v\n%s", err, out)
	}

	addr := freeLoopbackAddr(t)
	cmd := exec.Command(bin)
	ex := &example{base: "http://" + addr, stderr: new(lockedBuffer), cmd: cmd, exited: make(chan struct{})}
	// Later entries win: the test's settings override the environment's.
	cmd.Env = append(os.Environ(),
		"ADDR="+addr,
		"SESSION_KEYS="+cookiesession.EncodeSecret(cookiesession.GenerateSecret()),
		"SESSION_MAX_AGE=",
		"SESSION_IDLE_TIMEOUT=",
		// The example keeps sign-outs in a file; not in the source tree.
		"SESSION_REVOCATIONS_FILE="+filepath.Join(t.TempDir(), "revocations.db"),
	)
	cmd.Stdout = ex.stderr
	cmd.Stderr = ex.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the example: %v", err)
	}
	go func() {
		ex.err = cmd.Wait()
		close(ex.exited)
	}()
	t.Cleanup(func() { ex.stop(t) })

	if err := ex.waitHealthy(t.Context()); err != nil {
		t.Fatalf("the example did not become healthy: %v\nits log:\n%s", err, ex.stderr)
	}
	return ex
}

// stop interrupts the app as Ctrl-C would, and expects a clean exit.
func (ex *example) stop(t *testing.T) {
	select {
	case <-ex.exited:
		if !t.Failed() {
			t.Errorf("the example exited before the test ended: %v\nits log:\n%s", ex.err, ex.stderr)
		}
		return
	default:
	}
	if err := ex.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Errorf("interrupting the example: %v", err)
	}
	select {
	case <-ex.exited:
		if ex.err != nil {
			t.Errorf("the example did not exit cleanly on SIGINT: %v\nits log:\n%s", ex.err, ex.stderr)
		} else if !strings.Contains(ex.stderr.String(), "msg=stopped") {
			t.Errorf("the example exited without logging that it stopped:\n%s", ex.stderr)
		}
	case <-time.After(stopTimeout):
		_ = ex.cmd.Process.Kill()
		<-ex.exited
		t.Errorf("the example did not stop within %v of SIGINT; killed it\nits log:\n%s", stopTimeout, ex.stderr)
	}
}

// freeLoopbackAddr returns a loopback address with a port nothing listens
// on at the moment.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// waitHealthy polls /healthz until it answers 200, the process exits, or
// startTimeout passes.
func (ex *example) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := &http.Client{Timeout: healthTimeout}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, "GET", ex.base+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(resp.Status)
		}
		last = err
		select {
		case <-ex.exited:
			return fmt.Errorf("the process exited: %v", ex.err)
		case <-ctx.Done():
			return errors.Join(ctx.Err(), last)
		case <-tick.C:
		}
	}
}
