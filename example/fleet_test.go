package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/redisstore"
	"github.com/redis/go-redis/v9"
)

// startRedis runs Debian's redis-server ($REDIS_SERVER, else on PATH) on a
// free loopback port, without persistence, until the test ends.
func startRedis(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("REDIS_SERVER")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("redis-server"); err != nil {
			t.Fatal("this test needs redis-server: install it (sudo apt-get install redis-server; make test does) or set REDIS_SERVER")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", t.TempDir(), "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	client := redis.NewClient(&redis.Options{Addr: addr})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for client.Ping(t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return addr
}

// TestFleetSignOut runs three instances of the app on one Redis, over
// loopback, and signs out 1,000 times: each time a copy of the cookie,
// replayed on the two other instances, must be refused soon after the
// sign-out, and for good, with no 5xx on the way. The propagation delays
// are reported, not asserted: this machine is too noisy to judge them.
func TestFleetSignOut(t *testing.T) {
	redisAddr := startRedis(t)
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	var bases []string
	for range 3 {
		client := redis.NewClient(&redis.Options{Addr: redisAddr})
		t.Cleanup(func() { client.Close() })
		// A short ping interval: a store's first load of a new hash waits
		// twice it for other instances' write-backs.
		store, err := redisstore.New(t.Context(), client, redisstore.WithLogger(logger), redisstore.WithPingInterval(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err = store.WaitReady(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		cfg := testConfig()
		cfg.revocations = store
		h, err := newApp(keys, cfg, logger)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		bases = append(bases, srv.URL)
	}

	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	errors5xx := 0
	// send makes one request with the given cookies and returns the
	// cookies it set and, for /api/session, the user it saw.
	send := func(method, target string, cookies []*http.Cookie, form url.Values) (set []*http.Cookie, user string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			errors5xx++
		}
		body, _ := io.ReadAll(resp.Body)
		var v sessionView
		if strings.HasSuffix(target, "/api/session") {
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("%s: %v", target, err)
			}
		}
		return resp.Cookies(), v.User
	}

	logouts := 1000
	if testing.Short() {
		logouts = 100
	}
	const bound = 5 * time.Second // a replay still accepted after this fails the test
	var delays []time.Duration
	acceptedAfter := 0
	for i := range logouts {
		home := bases[i%3]
		copied, _ := send("POST", home+"/login", nil, url.Values{"user": {"ada" + strconv.Itoa(i)}})
		send("POST", home+"/logout", copied, nil)
		signedOut := time.Now()
		for _, other := range bases {
			if other == home {
				continue
			}
			for polls := 0; ; polls++ {
				if _, user := send("GET", other+"/api/session", copied, nil); user == "" {
					delays = append(delays, time.Since(signedOut))
					break
				}
				if time.Since(signedOut) > bound {
					t.Fatalf("logout %d: a copy of the cookie still opens on another instance after %v", i, bound)
				}
				time.Sleep(time.Millisecond)
			}
			// Refused once, refused for good.
			if _, user := send("GET", other+"/api/session", copied, nil); user != "" {
				acceptedAfter++
			}
		}
	}
	if errors5xx != 0 || acceptedAfter != 0 {
		t.Errorf("%d responses were 5xx, %d revoked cookies were accepted after their revocation arrived", errors5xx, acceptedAfter)
	}
	slices.Sort(delays)
	p := func(q float64) time.Duration { return delays[int(q*float64(len(delays)-1))] }
	t.Logf("%d sign-outs on 3 instances: a copy refused by the other two after p50 %v, p99 %v, max %v (target p99 250ms)",
		logouts, p(0.5).Round(time.Microsecond), p(0.99).Round(time.Microsecond), delays[len(delays)-1].Round(time.Microsecond))
}
