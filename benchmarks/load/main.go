// Command load measures throughput and latency of the same small application
// run three ways (no session, cookiesession, gorilla/sessions' default
// CookieStore) over loopback HTTP with keep-alive connections.
//
//	cd benchmarks && go run ./load [-clients 32] [-duration 5s]
//
// For each route (a read-only one and a writing one) and each app, it starts
// -clients concurrent clients, each with its own session cookie seeded by a
// first request, lets them run for -warmup, then counts for -duration. It
// prints progress on stderr, once a second, and a Markdown table on stdout.
//
// Everything stays on 127.0.0.1 and every run is bounded in time and in
// requests (-max-requests). The client and the servers share one process
// and the machine's CPUs, so the load generator's own cost is in every
// number: compare the apps with each other, not with other machines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ce967478/cookiesession/benchmarks/apps"
)

type options struct {
	clients     int
	duration    time.Duration
	warmup      time.Duration
	maxRequests int64
}

func main() {
	var o options
	flag.IntVar(&o.clients, "clients", 32, "concurrent keep-alive clients")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per route per app")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	flag.Int64Var(&o.maxRequests, "max-requests", 2_000_000, "most requests per route per app (warm-up included)")
	flag.Parse()
	if o.clients < 1 || o.clients > 1024 || o.duration <= 0 || o.duration > 10*time.Minute ||
		o.warmup < 0 || o.warmup > time.Minute || o.maxRequests < 1 {
		fmt.Fprintln(os.Stderr, "load: -clients must be 1..1024, -duration in (0, 10m], -warmup in [0, 1m], -max-requests positive")
		os.Exit(2)
	}
	if err := run(os.Stdout, os.Stderr, o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// server is one app listening on loopback.
type server struct {
	app  *apps.App
	base string
	srv  *http.Server
}

func start(app *apps.App) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: app.Mux(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &server{app: app, base: "http://" + ln.Addr().String(), srv: srv}, nil
}

// result is one app on one route.
type result struct {
	app, route    string
	requests      int64
	errors        int64
	elapsed       time.Duration
	p50, p99      time.Duration
	cookieBytes   int
	requestsPerS  float64
	stoppedByMax  bool
	firstErrorMsg string
}

func run(stdout, stderr io.Writer, o options) error {
	m, err := apps.NewManager()
	if err != nil {
		return err
	}
	list := []*apps.App{apps.None(), apps.Cookiesession(m), apps.Gorilla("gorilla/sessions", apps.GorillaStore())}
	var servers []*server
	defer func() {
		for _, s := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.srv.Shutdown(ctx)
			cancel()
		}
	}()
	for _, a := range list {
		s, err := start(a)
		if err != nil {
			return err
		}
		servers = append(servers, s)
	}
	fmt.Fprintf(stderr, "load: %d clients, %s warm-up + %s per route per app, %d runs, GOMAXPROCS=%d\n",
		o.clients, o.warmup, o.duration, 2*len(servers), runtime.GOMAXPROCS(0))

	var results []result
	for _, route := range []string{"/read", "/write"} {
		for _, s := range servers {
			r, err := drive(stderr, s, route, o)
			if err != nil {
				return fmt.Errorf("%s %s: %w", s.app.Name, route, err)
			}
			results = append(results, r)
		}
	}
	printTable(stdout, results, o)
	return nil
}

// drive runs o.clients clients against one route of one server.
func drive(stderr io.Writer, s *server, route string, o options) (result, error) {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, whatever the environment says
		MaxIdleConns:        o.clients,
		MaxIdleConnsPerHost: o.clients,
		MaxConnsPerHost:     o.clients,
		DisableCompression:  true,
		IdleConnTimeout:     30 * time.Second,
	}
	defer tr.CloseIdleConnections()

	res := result{app: s.app.Name, route: route}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		started   atomic.Int64 // every request, warm-up included, for -max-requests
		done      atomic.Int64 // measured requests, for progress
		errCount  atomic.Int64
		firstErr  atomic.Value
		wg        sync.WaitGroup
		lat       = make([][]time.Duration, o.clients)
		cookieLen atomic.Int64
	)
	fail := func(err error) {
		errCount.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}

	// Seed every client's session before the clock starts.
	cookies := make([]string, o.clients)
	for i := range cookies {
		c, _, err := do(tr, s.base+"/seed", "")
		if err != nil {
			return res, fmt.Errorf("seeding: %w", err)
		}
		if c == "" && s.app.Name != "none" {
			return res, errors.New("seeding set no session cookie")
		}
		cookies[i] = c
		cookieLen.Store(int64(len(c)))
	}
	wantCookie := route == "/write" && s.app.Name != "none"

	for i := 0; i < o.clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cookie := cookies[i]
			samples := make([]time.Duration, 0, 4096)
			for !stop.Load() && started.Add(1) <= o.maxRequests {
				counted := measuring.Load()
				t0 := time.Now()
				c, status, err := do(tr, s.base+route, cookie)
				d := time.Since(t0)
				switch {
				case err != nil:
					fail(err)
					time.Sleep(10 * time.Millisecond) // do not spin on a broken connection
					continue
				case status != http.StatusOK:
					fail(fmt.Errorf("status %d", status))
				case wantCookie && c == "":
					fail(errors.New("a writing request set no cookie"))
				}
				if c != "" {
					cookie = c
				}
				if counted && !stop.Load() {
					samples = append(samples, d)
					done.Add(1)
				}
			}
			lat[i] = samples
		}(i)
	}

	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	// Warm up, then measure, reporting once a second.
	name := fmt.Sprintf("%s %s", s.app.Name, route)
	time.Sleep(o.warmup)
	measuring.Store(true)
	t0 := time.Now()
	tick := time.NewTicker(time.Second)
	deadline := time.NewTimer(o.duration)
	var last int64
	lastT := t0
loop:
	for {
		select {
		case now := <-tick.C:
			n := done.Load()
			fmt.Fprintf(stderr, "load: %-24s %4.0fs  %8.0f req/s  %9d requests  %d errors\n",
				name, now.Sub(t0).Seconds(), float64(n-last)/now.Sub(lastT).Seconds(), n, errCount.Load())
			last, lastT = n, now
		case <-allDone: // every client stopped at -max-requests
			break loop
		case <-deadline.C:
			break loop
		}
	}
	stop.Store(true)
	res.elapsed = time.Since(t0)
	tick.Stop()
	deadline.Stop()
	wg.Wait()

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	res.requests = int64(len(all))
	res.errors = errCount.Load()
	res.stoppedByMax = started.Load() >= o.maxRequests
	if v := firstErr.Load(); v != nil {
		res.firstErrorMsg = v.(string)
	}
	res.requestsPerS = float64(res.requests) / res.elapsed.Seconds()
	res.p50 = quantile(all, 0.50)
	res.p99 = quantile(all, 0.99)
	if n := cookieLen.Load(); n > 0 {
		res.cookieBytes = int(n) - len(apps.CookieName+"=")
	}
	fmt.Fprintf(stderr, "load: %-24s done: %.0f req/s, p50 %s, p99 %s, %d errors\n",
		name, res.requestsPerS, fmtDur(res.p50), fmtDur(res.p99), res.errors)
	return res, nil
}

// do sends one GET with the given Cookie header value (none if empty),
// reads the body, and returns the session cookie the response set, if any.
func do(tr *http.Transport, url, cookie string) (setCookie string, status int, err error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return "", 0, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", 0, err
	}
	for _, line := range resp.Header["Set-Cookie"] {
		if v, ok := strings.CutPrefix(line, apps.CookieName+"="); ok {
			v, _, _ = strings.Cut(v, ";")
			if v != "" {
				setCookie = apps.CookieName + "=" + v
			}
		}
	}
	return setCookie, resp.StatusCode, nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

func fmtDur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func printTable(w io.Writer, results []result, o options) {
	none := map[string]result{}
	for _, r := range results {
		if r.app == "none" {
			none[r.route] = r
		}
	}
	fmt.Fprintf(w, "| app | route | requests/s | p50 | p99 | req/s vs none | p50 vs none | cookie bytes | errors |\n")
	fmt.Fprintf(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		ratio, p50Ratio := "-", "-"
		if n, ok := none[r.route]; ok && r.app != "none" && n.requestsPerS > 0 && n.p50 > 0 {
			ratio = fmt.Sprintf("%.2f", r.requestsPerS/n.requestsPerS)
			p50Ratio = fmt.Sprintf("%.2f", float64(r.p50)/float64(n.p50))
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s | %d | %d |\n",
			r.app, r.route, r.requestsPerS, fmtDur(r.p50), fmtDur(r.p99), ratio, p50Ratio, r.cookieBytes, r.errors)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%d keep-alive clients, each with its own session cookie; %s measured per route per app after %s of warm-up; "+
		"loopback HTTP/1.1. The clients and the servers run in one process and share this machine's %d CPUs (GOMAXPROCS=%d), "+
		"so the load generator's own work is in every number: read the ratios to the app without a session, not the absolute rates.\n",
		o.clients, o.duration, o.warmup, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	for _, r := range results {
		if r.stoppedByMax {
			fmt.Fprintf(w, "\n%s %s stopped at -max-requests (%d) before its time was up.\n", r.app, r.route, o.maxRequests)
		}
		if r.firstErrorMsg != "" {
			fmt.Fprintf(w, "\n%s %s: %d errors, the first: %s\n", r.app, r.route, r.errors, r.firstErrorMsg)
		}
	}
}
