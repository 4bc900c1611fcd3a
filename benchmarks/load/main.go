// Command load measures throughput and latency of the same small application
// run three ways (no session; cookiesession with its defaults; and
// gorilla/sessions' default CookieStore) over loopback HTTP with keep-alive
// connections, and a fourth, headers-only, as a reference: no session, but
// cookiesession's cookie and headers on the wire (see package apps). It is
// a demonstration: its ratios are reported, never judged against a target.
//
//	cd benchmarks && go run ./load [-clients 32] [-duration 5s]
//
// To look into one case, -apps and -routes pick the apps and routes, and
// -cpuprofile writes a profile of the run:
//
//	go run ./load -apps none,cookiesession -routes /write -cpuprofile cpu.out
//
// For each route (a read-only one and a writing one) and each app, it seeds
// -clients session cookies, one per client, by a first request each. Each
// client then sends its cookie on every request and, like a browser, takes
// the new value whenever a response sets one. Then
// -clients concurrent clients run for -warmup and are counted for
// -duration, split into -rounds turns in which the apps alternate, so that
// a burst of load from elsewhere on the machine weighs on all apps alike.
// It prints progress on stderr, once a second, and a Markdown table on
// stdout.
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
	"runtime/pprof"
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
	rounds      int
	maxRequests int64
	apps        []string // the apps to run, by name; all when empty
	routes      []string // the routes to drive; both when empty
}

func main() {
	var o options
	flag.IntVar(&o.clients, "clients", 32, "concurrent keep-alive clients")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per route per app")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each app's first measurement on a route")
	flag.IntVar(&o.rounds, "rounds", 20, "rounds each route's measurement is split into, the apps taking turns, so that load from elsewhere weighs on all alike")
	flag.Int64Var(&o.maxRequests, "max-requests", 0, "most requests per route per app, warm-ups included; 0 for 250,000 per second the route runs per app")
	appList := flag.String("apps", "", "comma-separated names of the apps to run (none, headers-only, cookiesession, gorilla/sessions); all if empty")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (servers and clients) to this file")
	routeList := flag.String("routes", "", "comma-separated routes to drive (/read, /write); both if empty")
	flag.Parse()
	if *appList != "" {
		o.apps = strings.Split(*appList, ",")
	}
	if *routeList != "" {
		o.routes = strings.Split(*routeList, ",")
	}
	if o.clients < 1 || o.clients > 1024 || o.duration <= 0 || o.duration > 10*time.Minute ||
		o.warmup < 0 || o.warmup > time.Minute || o.rounds < 1 || o.rounds > 100 || o.maxRequests < 0 {
		fmt.Fprintln(os.Stderr, "load: -clients must be 1..1024, -duration in (0, 10m], -warmup in [0, 1m], -rounds 1..100, -max-requests not negative")
		os.Exit(2)
	}
	if o.maxRequests == 0 {
		o.maxRequests = defaultMaxRequests(o)
	}
	if err := profiled(*cpuProfile, func() error { return run(os.Stdout, os.Stderr, o) }); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// profiled runs fn, with a CPU profile written to path unless path is
// empty. A profile covers the servers and the clients alike; pprof's -focus
// (serverHandler.ServeHTTP, or persistConn for the clients) tells them apart.
func profiled(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	err = fn()
	pprof.StopCPUProfile()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// defaultMaxRequests bounds a route's requests per app at 250,000 a second
// of the time it runs: four times what this command reaches on 2 CPUs. A
// fixed bound cut the fastest app short once runs grew longer, and an app
// stopped early has no rate in the rounds that follow.
func defaultMaxRequests(o options) int64 {
	return int64(250_000 * o.runTime().Seconds())
}

// runTime is how long one app runs on one route: its first warm-up, the
// measured time, and the shorter warm-up of each later round (see run).
func (o options) runTime() time.Duration {
	return o.warmup + o.duration + time.Duration(o.rounds-1)*roundWarmup(o.warmup)
}

// roundWarmup is the unmeasured time before an app's turns after its
// first: enough for the clients to get going again on their kept-alive
// connections.
func roundWarmup(warmup time.Duration) time.Duration {
	return min(warmup, 100*time.Millisecond)
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
	rates         []float64 // one per round, in the rounds' order
	stoppedByMax  bool
	firstErrorMsg string
}

func run(stdout, stderr io.Writer, o options) error {
	m, err := apps.NewManager()
	if err != nil {
		return err
	}
	headersOnly, err := apps.HeadersOnly(m)
	if err != nil {
		return err
	}
	list := []*apps.App{
		apps.None(),
		headersOnly,
		apps.Cookiesession(m, apps.NewTypical()),
		apps.Gorilla("gorilla/sessions", apps.GorillaStore(), apps.NewTypical()),
	}
	if len(o.apps) > 0 {
		var picked []*apps.App
		for _, name := range o.apps {
			i := slices.IndexFunc(list, func(a *apps.App) bool { return a.Name == name })
			if i < 0 {
				return fmt.Errorf("no app named %q", name)
			}
			picked = append(picked, list[i])
		}
		list = picked
	}
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
	fmt.Fprintf(stderr, "load: %d clients; per route and app %s of warm-up, then %s measured in %d rounds; GOMAXPROCS=%d\n",
		o.clients, o.warmup, o.duration, o.rounds, runtime.GOMAXPROCS(0))

	var results []result
	routes := o.routes
	if len(routes) == 0 {
		routes = []string{"/read", "/write"}
	}
	for _, route := range routes {
		if route != "/read" && route != "/write" {
			return fmt.Errorf("no route %q: the routes are /read and /write", route)
		}
		var targets []*target
		for _, s := range servers {
			t, err := newTarget(s, route, o)
			if err != nil {
				return fmt.Errorf("%s %s: %w", s.app.Name, route, err)
			}
			defer t.tr.CloseIdleConnections()
			targets = append(targets, t)
		}
		for round := 0; round < o.rounds; round++ {
			seg := o.duration / time.Duration(o.rounds)
			if round == o.rounds-1 {
				seg = o.duration - seg*time.Duration(o.rounds-1)
			}
			for k := range targets {
				t := targets[(k+round)%len(targets)]
				// The first turn warms the app up; later ones only let the
				// clients get going again.
				warm := roundWarmup(o.warmup)
				if round == 0 {
					warm = o.warmup
				}
				t.segment(stderr, fmt.Sprintf("round %d/%d", round+1, o.rounds), warm, seg)
			}
		}
		for _, t := range targets {
			results = append(results, t.result())
		}
	}
	printTable(stdout, results, o)
	return nil
}

// target is one route of one app, driven by o.clients clients, each with
// its own session cookie, in one or more segments.
type target struct {
	s          *server
	route      string
	o          options
	tr         *http.Transport
	cookies    []string
	wantCookie bool
	// seedCookie is the length of client 0's seeded cookie value: the
	// cookie bytes the table shows. A later one would depend on how often
	// the writing route toggled the theme.
	seedCookie int

	samples  []time.Duration
	elapsed  time.Duration
	rates    []float64    // measured requests per second, one per segment
	started  atomic.Int64 // every request, warm-up included, for -max-requests
	errCount atomic.Int64
	firstErr atomic.Value
}

// newTarget seeds every client's session.
func newTarget(s *server, route string, o options) (*target, error) {
	t := &target{
		s: s, route: route, o: o,
		tr: &http.Transport{
			Proxy:               nil, // loopback only, whatever the environment says
			MaxIdleConns:        o.clients,
			MaxIdleConnsPerHost: o.clients,
			MaxConnsPerHost:     o.clients,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
		cookies:    make([]string, o.clients),
		wantCookie: route == "/write" && s.app.Name != "none",
	}
	for i := range t.cookies {
		c, _, err := do(t.tr, s.base+"/seed", "")
		if err != nil {
			t.tr.CloseIdleConnections()
			return nil, fmt.Errorf("seeding: %w", err)
		}
		if c == "" && s.app.Name != "none" {
			t.tr.CloseIdleConnections()
			return nil, errors.New("seeding set no session cookie")
		}
		t.cookies[i] = c
	}
	if c := t.cookies[0]; c != "" {
		t.seedCookie = len(c) - len(apps.CookieName+"=")
	}
	return t, nil
}

func (t *target) fail(err error) {
	t.errCount.Add(1)
	t.firstErr.CompareAndSwap(nil, err.Error())
}

// segment runs the clients for warm then measure, reporting once a second.
func (t *target) segment(stderr io.Writer, label string, warm, measure time.Duration) {
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		done      atomic.Int64 // measured requests, for progress
		wg        sync.WaitGroup
		lat       = make([][]time.Duration, len(t.cookies))
	)
	for i := range t.cookies {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cookie := t.cookies[i]
			samples := make([]time.Duration, 0, 1024)
			for !stop.Load() && t.started.Add(1) <= t.o.maxRequests {
				counted := measuring.Load()
				t0 := time.Now()
				c, status, err := do(t.tr, t.s.base+t.route, cookie)
				d := time.Since(t0)
				switch {
				case err != nil:
					t.fail(err)
					time.Sleep(10 * time.Millisecond) // do not spin on a broken connection
					continue
				case status != http.StatusOK:
					t.fail(fmt.Errorf("status %d", status))
				case t.wantCookie && c == "":
					t.fail(errors.New("a writing request set no cookie"))
				}
				if c != "" {
					cookie = c
				}
				if counted && !stop.Load() {
					samples = append(samples, d)
					done.Add(1)
				}
			}
			t.cookies[i] = cookie
			lat[i] = samples
		}(i)
	}
	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()

	name := fmt.Sprintf("%s %s", t.s.app.Name, t.route)
	select {
	case <-time.After(warm):
	case <-allDone:
	}
	measuring.Store(true)
	t0 := time.Now()
	tick := time.NewTicker(time.Second)
	deadline := time.NewTimer(measure)
	var last int64
	lastT := t0
	report := func(now time.Time) {
		n := done.Load()
		if now.Sub(lastT) < 100*time.Millisecond {
			return
		}
		fmt.Fprintf(stderr, "load: %-24s %-11s %5.1fs  %8.0f req/s  %d errors so far\n",
			name, label, now.Sub(t0).Seconds(), float64(n-last)/now.Sub(lastT).Seconds(), t.errCount.Load())
		last, lastT = n, now
	}
loop:
	for {
		select {
		case now := <-tick.C:
			report(now)
		case <-allDone: // every client stopped at -max-requests
			break loop
		case <-deadline.C:
			break loop
		}
	}
	stop.Store(true)
	end := time.Now()
	report(end)
	tick.Stop()
	deadline.Stop()
	<-allDone
	t.elapsed += end.Sub(t0)
	n := 0
	for _, l := range lat {
		t.samples = append(t.samples, l...)
		n += len(l)
	}
	if d := end.Sub(t0); d > 0 {
		t.rates = append(t.rates, float64(n)/d.Seconds())
	}
}

func (t *target) result() result {
	res := result{app: t.s.app.Name, route: t.route, elapsed: t.elapsed}
	all := t.samples
	slices.Sort(all)
	res.requests = int64(len(all))
	res.errors = t.errCount.Load()
	res.stoppedByMax = t.started.Load() >= t.o.maxRequests
	if v := t.firstErr.Load(); v != nil {
		res.firstErrorMsg = v.(string)
	}
	// The median of the rounds' rates: a round in which the process got
	// little CPU (other work on a shared machine) does not drag it down.
	res.rates = slices.Clone(t.rates)
	res.requestsPerS = median(t.rates)
	res.p50 = quantile(all, 0.50)
	res.p99 = quantile(all, 0.99)
	res.cookieBytes = t.seedCookie
	return res
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
		// The name=value pair leads the line: the client sends that part
		// back as it is, without copying it.
		pair, _, _ := strings.Cut(line, ";")
		if v, ok := strings.CutPrefix(pair, apps.CookieName+"="); ok && v != "" {
			setCookie = pair
		}
	}
	return setCookie, resp.StatusCode, nil
}

// median returns the median of xs, 0 if there are none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 0 {
		return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return xs[len(xs)/2]
}

// ratioToNone is r's throughput as a fraction of none's on the same route:
// the median, over the rounds, of r's rate in a round over none's in the
// same round. The machine's speed drifts (other work on it) by more than
// the differences measured; apps measured moments apart see nearly the
// same machine, so pairing them by round cancels most of the drift.
func ratioToNone(r, none result) (float64, bool) {
	var ratios []float64
	for i := 0; i < len(r.rates) && i < len(none.rates); i++ {
		if none.rates[i] > 0 {
			ratios = append(ratios, r.rates[i]/none.rates[i])
		}
	}
	if len(ratios) == 0 {
		return 0, false
	}
	return median(ratios), true
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
		if n, ok := none[r.route]; ok && r.app != "none" {
			if v, ok := ratioToNone(r, n); ok {
				ratio = fmt.Sprintf("%.2f", v)
			}
			if n.p50 > 0 {
				p50Ratio = fmt.Sprintf("%.2f", float64(r.p50)/float64(n.p50))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %.0f | %s | %s | %s | %s | %d | %d |\n",
			r.app, r.route, r.requestsPerS, fmtDur(r.p50), fmtDur(r.p99), ratio, p50Ratio, r.cookieBytes, r.errors)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%d keep-alive clients, each with its own session cookie, over loopback HTTP/1.1; per route and app, "+
		"%s of warm-up, then %s measured in %d rounds in which the apps take turns; requests/s is the median of the rounds' rates, "+
		"the ratio to none the median of the rounds' ratios (an app's rate over none's in the same round), "+
		"p50 and p99 are over all the requests measured. "+
		"The clients and the servers run in one process and share this machine's %d CPUs (GOMAXPROCS=%d), "+
		"so the load generator's own work is in every number: read the ratios to the app without a session, not the absolute rates. "+
		"Each client resends the value the last response set, as a browser does; %s, with its defaults, opens it in full "+
		"on every request and serialises the session again to see whether it changed. "+
		"%s has no session but the same bytes on the wire as %s (the cookie; Vary, and on /write Cache-Control and a Set-Cookie line): "+
		"its ratio is what carrying the cookie costs net/http, whatever the library.\n",
		o.clients, o.warmup, o.duration, o.rounds, runtime.NumCPU(), runtime.GOMAXPROCS(0), apps.CookiesessionName,
		apps.HeadersOnlyName, apps.CookiesessionName)
	for _, r := range results {
		if r.stoppedByMax {
			fmt.Fprintf(w, "\n%s %s stopped at -max-requests (%d) before its time was up.\n", r.app, r.route, o.maxRequests)
		}
		if r.firstErrorMsg != "" {
			fmt.Fprintf(w, "\n%s %s: %d errors, the first: %s\n", r.app, r.route, r.errors, r.firstErrorMsg)
		}
	}
}
