package redisstore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/redis/go-redis/v9"
)

// The tests run against a real redis-server, started by the test on a free
// loopback port, with no persistence: stopping it loses its data, as a
// restart without a dump would.

// redisServerPath finds redis-server: $REDIS_SERVER, else on PATH.
func redisServerPath(t testing.TB) string {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return p
	}
	p, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatal("redisstore's tests need redis-server, which is not on PATH: install it " +
			"(Debian, Ubuntu: sudo apt-get install redis-server; make test does so), " +
			"or set REDIS_SERVER to its path")
	}
	return p
}

// redisServer is one redis-server process on a fixed loopback port, which
// the test may stop, pause and start again.
type redisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// newRedisServer chooses a free port for a server, and stops the server
// when the test ends. It does not start it.
func newRedisServer(t testing.TB) *redisServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &redisServer{t: t, bin: redisServerPath(t), dir: t.TempDir(), port: port}
	t.Cleanup(s.stop)
	return s
}

// startRedisServer is newRedisServer, started.
func startRedisServer(t testing.TB) *redisServer {
	t.Helper()
	s := newRedisServer(t)
	s.start()
	return s
}

func (s *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// start starts the server, empty, and waits until it answers PING.
func (s *redisServer) start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("redis-server is running already")
	}
	logPath := filepath.Join(s.dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting %s: %v", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(s.addr()); err == nil {
			return
		} else if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer PING within 10s: %v; its log:\n%s", s.addr(), err, readFile(logPath))
		}
		select {
		case <-exited:
			s.cmd = nil
			s.t.Fatalf("redis-server on %s exited at start; its log:\n%s", s.addr(), readFile(logPath))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop kills the server, losing its data, and waits for it to exit.
func (s *redisServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// pause stops the server's process without closing its connections, as a
// hung server or a network that drops packets would; resume undoes it.
func (s *redisServer) pause()  { s.signal(syscall.SIGSTOP) }
func (s *redisServer) resume() { s.signal(syscall.SIGCONT) }

func (s *redisServer) signal(sig os.Signal) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatal("redis-server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// ping sends PING over a new connection and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// env is one test's Redis and the stores and clients made on it.
type env struct {
	t   testing.TB
	srv *redisServer
	// changed receives a value whenever a store of the env changes state
	// or its replica: what waitUntil waits on.
	changed chan struct{}
	clock   *testClock
	logs    *logRecorder
}

func newEnv(t testing.TB) *env {
	return &env{t: t, srv: startRedisServer(t), changed: make(chan struct{}, 1), clock: &testClock{}, logs: &logRecorder{t: t}}
}

// newEnvDown is newEnv with the server not started.
func newEnvDown(t testing.TB) *env {
	return &env{t: t, srv: newRedisServer(t), changed: make(chan struct{}, 1), clock: &testClock{}, logs: &logRecorder{t: t}}
}

// client returns a new client of the env's server on database 0.
func (e *env) client() *redis.Client { return e.clientDB(0) }

// clientDB returns a new client of the env's server on database db, with
// short timeouts so that the failure tests take little time, closed when
// the test ends.
func (e *env) clientDB(db int) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr:                  e.srv.addr(),
		DB:                    db,
		DialTimeout:           500 * time.Millisecond,
		ReadTimeout:           500 * time.Millisecond,
		WriteTimeout:          500 * time.Millisecond,
		ContextTimeoutEnabled: true,
		MaxRetries:            1,
		PoolSize:              4,
	})
	e.t.Cleanup(func() { _ = c.Close() })
	return c
}

// store returns a new Store on its own client of database 0.
func (e *env) store(options ...Option) *Store { return e.storeOn(e.client(), options...) }

// storeOn returns a new Store on client, closed when the test ends. The
// options come after test values, which they override: a check every
// 100ms, Revoke bounded at 5s (a machine busy with -race and other tests
// has taken more than 1s), logs to the test's log (or nowhere, without
// one), and the env's clock.
func (e *env) storeOn(client *redis.Client, options ...Option) *Store {
	e.t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if e.logs != nil {
		logger = slog.New(e.logs)
	}
	base := []Option{
		WithPingInterval(100 * time.Millisecond),
		WithRevokeTimeout(5 * time.Second),
		WithLogger(logger),
		WithClock(e.clock.now),
	}
	s, err := newStore(context.Background(), client, func(string) {
		select {
		case e.changed <- struct{}{}:
		default:
		}
	}, append(base, options...))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// ready waits until every store is ready.
func (e *env) ready(stores ...*Store) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range stores {
		if err := s.WaitReady(ctx); err != nil {
			e.t.Fatalf("WaitReady: %v", err)
		}
	}
}

// waitUntil waits until cond holds, re-checking whenever a store signals a
// change (and every 10ms, for changes that are not signalled), and fails
// the test if it does not within timeout.
func (e *env) waitUntil(timeout time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-e.changed:
		case <-tick.C:
		case <-deadline.C:
			e.t.Fatalf("not within %s: %s", timeout, what)
		}
	}
}

// testClock is the time plus an offset that a test may advance.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// logRecorder is a slog.Handler that writes the stores' logs to the
// test's log and keeps them, for tests that assert a failure is logged.
type logRecorder struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }

func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	l.t.Log(b.String())
	return nil
}

// find returns the first line logged at level whose text contains every
// one of words, or "".
func (l *logRecorder) find(level slog.Level, words ...string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
next:
	for _, line := range l.lines {
		if !strings.HasPrefix(line, level.String()+" ") {
			continue
		}
		for _, w := range words {
			if !strings.Contains(line, w) {
				continue next
			}
		}
		return line
	}
	return ""
}

// isRevoked reports whether err says revoked, and fails the test on any
// other error.
func isRevoked(t testing.TB, err error) bool {
	t.Helper()
	if err != nil && !errors.Is(err, cookiesession.ErrRevoked) {
		t.Fatalf("Check: %v, which does not wrap ErrRevoked", err)
	}
	return err != nil
}
