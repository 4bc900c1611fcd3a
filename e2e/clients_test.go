package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
)

// Issue #25: a saved session must survive the request that follows it, in
// every real client and in the servers in front of them. curl and libcurl
// stop adding cookies once the header passes 8,190 bytes (the rest are not
// sent: "Restricted outgoing cookies due to header size"), and nginx and
// Apache refuse a longer Cookie header, so a session that makes the next
// Cookie header longer is lost without a word. A save that would do so
// must fail loudly instead: a 500, and no Set-Cookie, so that the client
// keeps the session it had.
const (
	// cookieBudget is the longest Cookie header (its value: names, values
	// and "; ") that a saved session may lead to.
	cookieBudget = 8190
	// budgetSlack is how far below cookieBudget the largest session may
	// leave the header: a budget far stricter than the clients' would
	// refuse sessions that every one of them carries.
	budgetSlack = 512
	// sessionName is the Manager's cookie: the default name when the
	// cookie is not Secure.
	sessionName = "session"
	// otherName is the application's unrelated cookie. Its name is longer
	// than the session's chunks', so curl, which sends the longest names
	// first, keeps it and drops the session's main cookie when the header
	// is too long, as in the issue.
	otherName = "site_preferences"
	// twoChunks is a padding that makes the session two cookies.
	twoChunks = 4000
	// coarseStep is how much the padding grows while looking for the
	// largest session; the last step is then halved down to one byte.
	coarseStep = 256
	// maxProbes bounds the saves tried while looking for it.
	maxProbes = 40
	// idleTimeout is the shortest the library accepts; idleInterval is
	// how often a client that must keep its session asks, a bit under a
	// third of it; idleSpan is how long it keeps asking: two windows.
	idleTimeout  = 10 * time.Second
	idleInterval = idleTimeout/3 - 300*time.Millisecond
	idleSpan     = 2*idleTimeout + time.Second
	// clientsTimeout bounds the whole test: the four clients run at once,
	// the idle part taking idleSpan.
	clientsTimeout = 90 * time.Second
)

// TestRealClients drives curl, Python's http.cookiejar, Chromium and Go's
// net/http/cookiejar through the same flow, all at once against servers
// of their own: sign in, grow the session to two cookies, find the largest
// session the budget allows beside 1 KB and then 2 KB of other cookies
// (each too large a save ending in a loud failure, never in a lost
// session), shrink (the chunks no longer needed deleted, with the
// attributes they were set with), rotate the key in the three deploys of
// a fleet (the session opened at each, sealed again by the new key at the
// second), stay active through two idle windows, sign out, and replay the
// cookie from before the sign-out. The server records each
// request's Cookie header and each response's Set-Cookie lines: every
// request must bring exactly the cookies the responses before it set.
func TestRealClients(t *testing.T) {
	curl := lookProgram(t, "curl", "curl")
	python := lookProgram(t, "python3", "python3")
	chromium := findChromium(t)
	ctx, cancel := context.WithTimeout(t.Context(), clientsTimeout)
	defer cancel()

	// The clients are started here, where the test may stop on a failure;
	// their flows then run in goroutines of their own, and not as
	// parallel subtests: with -parallel at GOMAXPROCS, two CPUs would run
	// the idle waits one pair after the other.
	var flows []*flow
	add := func(name string, srv *clientServer, c client) {
		flows = append(flows, &flow{t: t, ctx: ctx, name: name, srv: srv, c: c, jar: map[string]jarCookie{}})
	}
	srv := newClientServer(t)
	add("curl", srv, newCurlClient(t, curl))
	srv = newClientServer(t)
	add("python", srv, newPyClient(t, ctx, python))
	srv = newClientServer(t)
	add("chromium", srv, newChromeClient(t, ctx, chromium, srv.URL))
	srv = newClientServer(t)
	gc, err := newGoClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	add("go", srv, gc)

	var wg sync.WaitGroup
	for _, f := range flows {
		wg.Go(f.run)
	}
	wg.Wait()
}

// sessionData is the session's content: who signed in, and padding that
// sets its size.
type sessionData struct {
	User string `json:"user,omitempty"`
	Pad  string `json:"pad,omitempty"`
}

// report is what the server says of the session a request brought, before
// the request changed it.
type report struct {
	User    string `json:"user"`
	Size    int    `json:"size"` // of the padding
	New     bool   `json:"new"`
	Err     string `json:"err"`
	Revoked bool   `json:"revoked"` // errors.Is(Err, ErrRevoked)
	Issued  int64  `json:"issued"`  // Unix seconds
	Created int64  `json:"created"`
}

// exchange is one request to the server and its response, as the server
// saw them.
type exchange struct {
	start      time.Time // when the request reached the server
	method     string
	path       string
	cookie     string // the Cookie header, "; "-joined if sent as several
	status     int
	setCookies []string // as they went out
}

// loggedError is an error the Manager logged.
type loggedError struct {
	msg string
	err error
}

// clientServer is one client's server, with its own Manager and records.
type clientServer struct {
	*httptest.Server
	mu        sync.Mutex
	exchanges []exchange
	errs      []loggedError
	// current is what serves the session's requests: the Manager of the
	// last deploy, swapped between two requests as a rolling deploy
	// replaces an instance.
	current atomic.Pointer[deployment]
	// revocations is every deployment's store, as a fleet's is shared:
	// a sign-out holds across a deploy.
	revocations *revocation.Replica
}

// deployment is one Manager and the application built on it.
type deployment struct {
	secrets [][]byte // the Keyring's, newest first
	handler http.Handler
}

// newClientServer starts a server on a free loopback port for the test.
func newClientServer(t *testing.T) *clientServer {
	t.Helper()
	srv := &clientServer{revocations: revocation.NewReplica(nil)}
	if err := srv.deploy(cookiesession.GenerateSecret()); err != nil {
		t.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.current.Load().handler.ServeHTTP(w, r)
	}))
	// The application's other cookie, outside the session's middleware.
	mux.HandleFunc("POST /other", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil || (n != 0 && n <= len(otherName)+1) {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		c := &http.Cookie{Name: otherName, Path: "/", MaxAge: -1}
		if n > 0 {
			c.Value, c.MaxAge = strings.Repeat("p", n-len(otherName)-1), 0
		}
		http.SetCookie(w, c)
	})
	// Chromium's page, from which it fetches. The icon link keeps it
	// from asking for /favicon.ico.
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><link rel="icon" href="data:,"><title>clients</title></head><body></body></html>`))
	})
	srv.Server = httptest.NewServer(srv.record(mux))
	t.Cleanup(srv.Close)
	return srv
}

// deploy replaces the Manager with one whose Keyring holds secrets,
// newest first; the requests after it meet the new one.
func (srv *clientServer) deploy(secrets ...[]byte) error {
	keys, err := cookiesession.NewKeyring(secrets...)
	if err != nil {
		return err
	}
	m, err := cookiesession.New[sessionData](keys,
		cookiesession.WithSecure(false), // plain HTTP on loopback
		cookiesession.WithSubject(func(d sessionData) string { return d.User }),
		cookiesession.WithRevocation(srv.revocations),
		cookiesession.WithIdleTimeout(idleTimeout),
		cookiesession.WithLogger(slog.New(errorRecorder{srv})),
	)
	if err != nil {
		return err
	}
	srv.current.Store(&deployment{secrets: secrets, handler: m.Handler(newApp(m))})
	return nil
}

// newApp returns the application's handlers on m.
func newApp(m *cookiesession.Manager[sessionData]) http.Handler {
	app := http.NewServeMux()
	// Each answers with what the request brought, then changes it.
	handle := func(pattern string, change func(r *http.Request, s *cookiesession.Session[sessionData]) error) {
		app.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s := m.Get(r)
			rep := report{User: s.Data.User, Size: len(s.Data.Pad), New: s.IsNew(),
				Revoked: errors.Is(s.Err(), cookiesession.ErrRevoked),
				Issued:  s.Issued().Unix(), Created: s.Created().Unix()}
			if s.Err() != nil {
				rep.Err = s.Err().Error()
			}
			if err := change(r, s); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(rep)
		})
	}
	handle("GET /read", func(*http.Request, *cookiesession.Session[sessionData]) error { return nil })
	handle("POST /signin", func(r *http.Request, s *cookiesession.Session[sessionData]) error {
		s.Renew()
		s.Data.User = r.URL.Query().Get("user")
		return nil
	})
	handle("POST /pad", func(r *http.Request, s *cookiesession.Session[sessionData]) error {
		n, err := strconv.Atoi(r.URL.Query().Get("size"))
		if err != nil || n < 0 {
			return fmt.Errorf("bad size: %v", err)
		}
		s.Data.Pad = padding(n)
		return nil
	})
	handle("POST /signout", func(_ *http.Request, s *cookiesession.Session[sessionData]) error {
		s.Destroy()
		return nil
	})
	return app
}

// padding returns n bytes of session data.
func padding(n int) string {
	const pattern = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	return strings.Repeat(pattern, n/len(pattern)+1)[:n]
}

// record wraps the server's handler to keep an exchange for each request
// but the page's, taken as the response headers leave.
func (srv *clientServer) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/page" || r.URL.Path == "/favicon.ico" {
			next.ServeHTTP(w, r)
			return
		}
		ex := exchange{start: time.Now(), method: r.Method, path: r.URL.RequestURI(),
			cookie: strings.Join(r.Header.Values("Cookie"), "; ")}
		rw := &recordingWriter{ResponseWriter: w, record: func(status int) {
			ex.status = status
			ex.setCookies = slices.Clone(w.Header().Values("Set-Cookie"))
			srv.mu.Lock()
			srv.exchanges = append(srv.exchanges, ex)
			srv.mu.Unlock()
		}}
		next.ServeHTTP(rw, r)
		rw.WriteHeader(http.StatusOK) // a response with no body: recorded now
	})
}

// take returns the exchanges recorded since the last call.
func (srv *clientServer) take() []exchange {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	ex := srv.exchanges
	srv.exchanges = nil
	return ex
}

// takeErrors returns the errors logged since the last call.
func (srv *clientServer) takeErrors() []loggedError {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	errs := srv.errs
	srv.errs = nil
	return errs
}

// recordingWriter calls record with the status, once, as the headers are
// about to leave.
type recordingWriter struct {
	http.ResponseWriter
	record func(status int)
	done   bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.done {
		return
	}
	w.done = true
	w.record(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errorRecorder is a slog.Handler that keeps the errors the Manager logs,
// so that the test can check what a failed save was reported as.
type errorRecorder struct{ srv *clientServer }

func (h errorRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (h errorRecorder) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			h.srv.mu.Lock()
			h.srv.errs = append(h.srv.errs, loggedError{msg: r.Message, err: err})
			h.srv.mu.Unlock()
		}
		return true
	})
	return nil
}

func (h errorRecorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h errorRecorder) WithGroup(string) slog.Handler      { return h }

// jarCookie is a cookie the client should hold: what the responses set.
type jarCookie struct {
	value   string
	expires time.Time // zero: until the client ends
	attrs   cookieAttrs
}

// cookieAttrs are the attributes a cookie was set with, which a line
// deleting it must repeat: a client deletes only the cookie of the same
// name, Path and Domain.
type cookieAttrs struct {
	path, domain                  string
	secure, httpOnly, partitioned bool
	sameSite                      http.SameSite
}

func attrsOf(c *http.Cookie) cookieAttrs {
	return cookieAttrs{path: c.Path, domain: c.Domain, secure: c.Secure, httpOnly: c.HttpOnly,
		partitioned: c.Partitioned, sameSite: c.SameSite}
}

// expiryMargin is how close to its expiry a cookie may be sent or not:
// clients count Max-Age from when they got the response.
const expiryMargin = 1500 * time.Millisecond

// flow is one client's run through the flow.
type flow struct {
	t    *testing.T
	ctx  context.Context
	name string
	srv  *clientServer
	c    client

	// jar is what the client should send next, from the Set-Cookie lines
	// of the responses so far.
	jar map[string]jarCookie
	// lastIssue is when the server last set the session's main cookie,
	// and lastMaxAge the Max-Age it gave it.
	lastIssue  time.Time
	lastMaxAge time.Duration
	// lastStart is when the last request reached the server, and
	// lastHeader the length of its Cookie header.
	lastStart  time.Time
	lastHeader int
	// overBudget is set once a request's Cookie header passed the budget:
	// said once, not at every probe after it.
	overBudget bool
}

// errStopFlow ends a flow after a failure that leaves nothing more to test.
var errStopFlow = errors.New("flow stopped")

func (f *flow) errorf(format string, args ...any) {
	f.t.Helper()
	f.t.Errorf("%s: %s", f.name, fmt.Sprintf(format, args...))
}

// fatalf reports a failure and ends the flow (not the test, whose other
// clients go on).
func (f *flow) fatalf(format string, args ...any) {
	f.t.Helper()
	f.errorf(format, args...)
	panic(errStopFlow)
}

func (f *flow) logf(format string, args ...any) {
	f.t.Helper()
	f.t.Logf("%s: %s", f.name, fmt.Sprintf(format, args...))
}

// run runs the flow, from a goroutine of its own.
func (f *flow) run() {
	defer func() {
		if r := recover(); r != nil && r != errStopFlow {
			panic(r)
		}
	}()
	const user = "ada"

	f.expectAnonymous("before signing in", f.read("before signing in"))

	f.post("sign in", "/signin?user="+user, http.StatusOK)
	f.expectSession("after signing in", user, 0, sessionName)

	f.post("grow to two cookies", fmt.Sprintf("/pad?size=%d", twoChunks), http.StatusOK)
	f.expectSession("after growing to two cookies", user, twoChunks, sessionName, sessionName+".1")

	for i, others := range []int{1024, 2048} {
		// Shrink first: with more of the header taken by the other
		// cookie, the session of the step before no longer fits, and the
		// application, not the library, would have lost it.
		if i == 0 {
			f.shrink("shrink from two cookies", user, 0)
		} else {
			f.shrink(fmt.Sprintf("shrink from the largest session beside %d bytes", 1024), user, 0, otherName)
		}
		f.post(fmt.Sprintf("set %d bytes of other cookies", others), fmt.Sprintf("/other?size=%d", others), http.StatusOK)
		f.expectSession("beside the other cookie", user, 0, sessionName, otherName)
		f.post("grow back", fmt.Sprintf("/pad?size=%d", twoChunks-1000), http.StatusOK)
		f.largest(user, twoChunks-1000, others)
	}

	const size = 100
	f.shrink(fmt.Sprintf("shrink from the largest session beside %d bytes", 2048), user, size, otherName)

	f.rotate(user, size, otherName)

	f.keepAlive(user, size)

	snap, err := f.c.snapshot(f.ctx)
	if err != nil {
		f.fatalf("copying the cookies before signing out: %v", err)
	}
	stolen := maps.Clone(f.jar)
	f.post("sign out", "/signout", http.StatusOK)
	f.expectAnonymous("after signing out", f.read("after signing out"))
	f.expectHeld("after signing out", otherName)

	if err := f.c.restore(f.ctx, snap); err != nil {
		f.fatalf("putting back the cookies from before the sign-out: %v", err)
	}
	f.jar = stolen
	rep := f.read("replaying the cookie from before the sign-out")
	if !rep.Revoked || rep.User != "" || !rep.New {
		f.fatalf("replaying the cookie from before the sign-out: the server saw %+v; want a new session whose Err wraps ErrRevoked", rep)
	}
	f.expectHeld("after the replay", otherName) // the response cleared it
	f.expectAnonymous("after the replay", f.read("after the replay"))
}

// request sends one request and checks what the server saw of it: the
// cookies it brought against those the responses before it set. It
// returns the exchange and the body.
func (f *flow) request(step, method, path string) (exchange, string) {
	status, body, err := f.c.do(f.ctx, method, f.srv.URL+path)
	if err != nil {
		f.fatalf("%s: %v", step, err)
	}
	exs := f.srv.take()
	if len(exs) != 1 {
		f.fatalf("%s: the server saw %d requests, want 1: %+v", step, len(exs), exs)
	}
	ex := exs[0]
	if ex.status != status {
		f.fatalf("%s: the client got status %d, the server sent %d", step, status, ex.status)
	}
	f.checkSent(step, ex)
	f.apply(step, ex)
	return ex, body
}

// post sends a POST whose status must be want.
func (f *flow) post(step, path string, want int) exchange {
	ex, body := f.request(step, http.MethodPost, path)
	if ex.status != want {
		f.fatalf("%s: status %d, want %d (%s)", step, ex.status, want, strings.TrimSpace(body))
	}
	return ex
}

// read asks the server what session the client holds.
func (f *flow) read(step string) report {
	rep, _ := f.readExchange(step)
	return rep
}

// readExchange is read, returning the exchange too.
func (f *flow) readExchange(step string) (report, exchange) {
	// The cookie it brings is the one last set, checked by request.
	issue, maxAge := f.lastIssue, f.lastMaxAge
	ex, body := f.request(step, http.MethodGet, "/read")
	if ex.status != http.StatusOK {
		f.fatalf("%s: reading the session: status %d (%s)", step, ex.status, strings.TrimSpace(body))
	}
	var rep report
	if err := json.Unmarshal([]byte(body), &rep); err != nil {
		f.fatalf("%s: reading the session: %v in %q", step, err, body)
	}
	// The cookie must not outlive what is sealed in it: a client must
	// not keep sending a session the server refuses as idle.
	if rep.Err == "" && !rep.New && !issue.IsZero() {
		deadline := time.Unix(rep.Issued, 0).Add(idleTimeout)
		if end := issue.Add(maxAge); end.After(deadline) {
			f.errorf("%s: the cookie set at %s with Max-Age %v outlives its sealed idle deadline %s by %v",
				step, issue.Format(time.StampMilli), maxAge, deadline.Format(time.StampMilli), end.Sub(deadline))
		}
	}
	return rep, ex
}

// expectSession reads the session and checks that it is intact, and that
// the client holds exactly the named cookies.
func (f *flow) expectSession(step, user string, size int, cookies ...string) {
	f.readSession(step, user, size, cookies...)
}

// readSession is expectSession, returning the read's exchange.
func (f *flow) readSession(step, user string, size int, cookies ...string) exchange {
	rep, ex := f.readExchange(step)
	if rep.User != user || rep.Size != size || rep.Err != "" || rep.New {
		f.fatalf("%s: the server saw user %q, %d bytes, new %v, error %q; want user %q, %d bytes, no error",
			step, rep.User, rep.Size, rep.New, rep.Err, user, size)
	}
	f.expectHeld(step, cookies...)
	return ex
}

// expectAnonymous checks that rep is of a new session, empty.
func (f *flow) expectAnonymous(step string, rep report) {
	if rep.User != "" || rep.Size != 0 || !rep.New || rep.Err != "" {
		f.fatalf("%s: the server saw %+v; want a new, empty session, without error", step, rep)
	}
}

// expectHeld checks the names of the cookies the client should now hold.
func (f *flow) expectHeld(step string, names ...string) {
	got := slices.Sorted(maps.Keys(f.jar))
	if want := slices.Sorted(slices.Values(names)); !slices.Equal(got, want) {
		f.fatalf("%s: the server has set cookies %q, want %q", step, got, want)
	}
}

// checkSent compares the cookies the request brought with those the
// client should hold, and the header's length with the budget.
func (f *flow) checkSent(step string, ex exchange) {
	sent := map[string]string{}
	for pair := range strings.SplitSeq(ex.cookie, ";") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if _, dup := sent[name]; dup {
			f.fatalf("%s: the request brought cookie %s twice", step, name)
		}
		sent[name] = value
	}
	problems, missing := f.compareSent(sent, ex.start)
	f.lastStart, f.lastHeader = ex.start, len(ex.cookie)
	if len(problems) > 0 {
		slices.Sort(problems)
		hint := ""
		if missing > 0 && len(ex.cookie)+missing > cookieBudget-budgetSlack {
			// Measured with Debian 12's curl 7.88.1: it stops adding
			// cookies once the request so far (request line, Host,
			// User-Agent, Accept, "Cookie: " and the cookies) would reach
			// 8190 bytes, so a GET of a short path carries about 8100.
			hint = fmt.Sprintf(" (all of them would have made a %d-byte header: the client dropped cookies at its header limit)",
				len(ex.cookie)+missing)
		}
		f.fatalf("%s: %s %s brought a %d-byte Cookie header that is not what the server set: %s%s",
			step, ex.method, ex.path, len(ex.cookie), strings.Join(problems, "; "), hint)
	}
	if len(ex.cookie) > cookieBudget && !f.overBudget {
		f.overBudget = true
		f.errorf("%s: %s %s brought a %d-byte Cookie header, more than %d: curl would drop cookies from it, "+
			"nginx and Apache would refuse it; the save that led to it should have failed",
			step, ex.method, ex.path, len(ex.cookie), cookieBudget)
	}
}

// compareSent compares the cookies a request that reached the server at
// start brought with those the client should hold, forgetting those the
// client let expire. It returns what differs, and the bytes of the
// header's cookies not sent.
func (f *flow) compareSent(sent map[string]string, start time.Time) (problems []string, missing int) {
	for name, c := range f.jar {
		v, ok := sent[name]
		near := !c.expires.IsZero() && absDuration(c.expires.Sub(start)) < expiryMargin
		expired := !c.expires.IsZero() && !c.expires.After(start)
		switch {
		case !ok && (near || expired):
			delete(f.jar, name) // the client let it expire
		case ok && expired && !near:
			problems = append(problems, fmt.Sprintf("%s was sent %v after it expired", name, start.Sub(c.expires)))
		case !ok:
			missing += len("; ") + len(name) + len("=") + len(c.value)
			problems = append(problems, fmt.Sprintf("%s (%d bytes) was not sent", name, len(name)+1+len(c.value)))
		case v != c.value:
			problems = append(problems, fmt.Sprintf("%s was sent with another value (%d bytes, want %d)", name, len(v), len(c.value)))
		}
	}
	for name := range sent {
		if _, ok := f.jar[name]; !ok {
			problems = append(problems, fmt.Sprintf("%s was sent, but no response set it", name))
		}
	}
	return problems, missing
}

// apply records the response's Set-Cookie lines as the client should,
// checking the session's cookies' attributes.
func (f *flow) apply(step string, ex exchange) {
	for _, line := range ex.setCookies {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			f.fatalf("%s: the server sent Set-Cookie %q: %v", step, line, err)
		}
		if isSessionCookie(c.Name) {
			if len("Set-Cookie: ")+len(line) > maxCookieSize {
				f.errorf("%s: Set-Cookie line of %s is %d bytes, more than %d", step, c.Name, len(line), maxCookieSize)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" || c.Domain != "" {
				f.errorf("%s: cookie %s: HttpOnly %v, SameSite %v, Secure %v, Path %q, Domain %q; "+
					"want HttpOnly, SameSite Lax, not Secure, Path /, no Domain", step, c.Name, c.HttpOnly, c.SameSite, c.Secure, c.Path, c.Domain)
			}
			if c.MaxAge > int(idleTimeout/time.Second) {
				f.errorf("%s: cookie %s has Max-Age %d, longer than the idle timeout %v", step, c.Name, c.MaxAge, idleTimeout)
			}
		}
		switch {
		case c.MaxAge < 0:
			delete(f.jar, c.Name)
		case c.MaxAge > 0:
			f.jar[c.Name] = jarCookie{value: c.Value, expires: ex.start.Add(time.Duration(c.MaxAge) * time.Second), attrs: attrsOf(c)}
		default:
			f.jar[c.Name] = jarCookie{value: c.Value, attrs: attrsOf(c)}
		}
		if c.Name == sessionName && c.MaxAge > 0 {
			f.lastIssue, f.lastMaxAge = ex.start, time.Duration(c.MaxAge)*time.Second
		}
	}
}

// isSessionCookie reports whether name is the session's main cookie or
// one of its chunks.
func isSessionCookie(name string) bool {
	if name == sessionName {
		return true
	}
	n, ok := strings.CutPrefix(name, sessionName+".")
	i, err := strconv.Atoi(n)
	return ok && err == nil && i > 0 && strconv.Itoa(i) == n
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// largest grows the session from size, which must be saved, until a save
// fails, then narrows down to the largest that is saved, checking after
// each save that the session is intact and after each failure that it was
// loud and left the previous session in place. It returns the largest
// size, the one the session then has.
func (f *flow) largest(user string, size, others int) int {
	f.expectSession(fmt.Sprintf("at %d bytes beside %d bytes of other cookies", size, others), user, size,
		f.sessionNames(otherName)...)
	good, bad := size, 0
	var refusal error // of the save of bad
	for probes := 0; bad == 0; probes++ {
		if probes == maxProbes {
			f.fatalf("beside %d bytes of other cookies, %d bytes of session data are still saved: no save failed", others, good)
		}
		next := good + coarseStep
		if err := f.grow(next, good, user, others); err == nil {
			good = next
		} else {
			bad, refusal = next, err
		}
	}
	for bad-good > 1 {
		mid := (good + bad) / 2
		if err := f.grow(mid, good, user, others); err == nil {
			good = mid
		} else {
			bad, refusal = mid, err
		}
	}
	// A larger session may be refused for the cap on its own size
	// (WithMaxSize); the smallest refused, one byte more than a saved
	// one, is refused for the header, and must say what the other
	// cookies take of it, so that its reader knows where to cut.
	if !mentionsShare(refusal, others) {
		f.errorf("beside %d bytes of other cookies, %d bytes are refused with %q, which does not say that the other cookies take %d bytes",
			others, bad, refusal, others)
	}
	// The session is the one of good, whose header the last read brought.
	f.logf("beside %d bytes of other cookies: %d bytes of data are saved, %d are not; the Cookie header is then %d bytes",
		others, good, bad, f.lastHeader)
	if f.lastHeader < cookieBudget-budgetSlack {
		f.errorf("beside %d bytes of other cookies, the largest session leaves a %d-byte Cookie header, more than %d bytes under the %d-byte budget",
			others, f.lastHeader, budgetSlack, cookieBudget)
	}
	return good
}

// grow asks for size bytes of data in a session of prev bytes. Saved, the
// session must be intact at its new size; refused, the refusal must be
// loud (a 500, the failure logged as too large, no Set-Cookie) and the
// session intact at prev. It returns nil if the save went through, else
// the error the Manager logged.
func (f *flow) grow(size, prev int, user string, others int) error {
	step := fmt.Sprintf("grow from %d to %d bytes beside %d bytes of other cookies", prev, size, others)
	f.srv.takeErrors() // only this request's count
	ex, body := f.request(step, http.MethodPost, fmt.Sprintf("/pad?size=%d", size))
	logged := f.srv.takeErrors()
	switch ex.status {
	case http.StatusOK:
		for _, l := range logged {
			f.errorf("%s: saved, but the Manager logged %q: %v", step, l.msg, l.err)
		}
		f.expectSession(step, user, size, f.sessionNames(otherName)...)
		return nil
	case http.StatusInternalServerError:
		for _, line := range ex.setCookies {
			f.errorf("%s: the failed save's response set a cookie: %.80s...", step, line)
		}
		err := f.checkTooLarge(step, logged)
		f.expectSession(step+", refused", user, prev, f.sessionNames(otherName)...)
		return err
	default:
		f.fatalf("%s: status %d (%s), want 200 or 500", step, ex.status, strings.TrimSpace(body))
		return nil
	}
}

// numbers finds the decimal numbers in a message.
var numbers = regexp.MustCompile(`\d+`)

// checkTooLarge checks that a failed save was reported, as one of a
// session too large, and returns the error.
func (f *flow) checkTooLarge(step string, logged []loggedError) error {
	if len(logged) != 1 {
		f.fatalf("%s: a 500, and the Manager logged %d errors, want 1: %v", step, len(logged), logged)
	}
	err := logged[0].err
	if !errors.Is(err, cookiesession.ErrSaveFailed) || !errors.Is(err, cookiesession.ErrTooLarge) {
		f.errorf("%s: the failure was %q; want one wrapping ErrSaveFailed and ErrTooLarge", step, err)
	}
	return err
}

// mentionsShare reports whether err's message gives the other cookies'
// share of the header: their names and values, give or take the
// separators and the header's name.
func mentionsShare(err error, others int) bool {
	if err == nil {
		return false
	}
	for _, n := range numbers.FindAllString(err.Error(), -1) {
		if v, _ := strconv.Atoi(n); v >= others && v <= others+len("; Cookie: ") {
			return true
		}
	}
	return false
}

// sessionNames returns the names of the session's cookies the client
// should hold, and extra.
func (f *flow) sessionNames(extra ...string) []string {
	var names []string
	for name := range f.jar {
		if isSessionCookie(name) {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		f.fatalf("the client should hold the session's cookies, and holds none")
	}
	return append(names, extra...)
}

// keepAlive reads the session every idleInterval for idleSpan: a client
// that asks that often must never lose its session, and the cookie must be
// re-issued once a third of the idle timeout has passed since it was.
func (f *flow) keepAlive(user string, size int) {
	held := f.sessionNames(otherName)
	start := time.Now()
	reissued := 0
	for i := 1; time.Since(start) < idleSpan; i++ {
		select {
		case <-f.ctx.Done():
			f.fatalf("kept active for %v of %v: %v", time.Since(start).Round(time.Second), idleSpan, f.ctx.Err())
		case <-time.After(idleInterval):
		}
		step := fmt.Sprintf("idle refresh, request %d at %v", i, time.Since(start).Round(100*time.Millisecond))
		prevIssue := f.lastIssue
		f.expectSession(step, user, size, held...)
		// The issue time is sealed rounded up to the second: a third of
		// the timeout plus a second since the last one guarantees it.
		if since := f.lastStart.Sub(prevIssue); f.lastIssue == prevIssue && since >= idleTimeout/3+time.Second {
			f.errorf("%s: the cookie was set %v before and not re-issued; want it re-issued once %v have passed",
				step, since.Round(100*time.Millisecond), idleTimeout/3)
		}
		if f.lastIssue != prevIssue {
			reissued++
		}
	}
	f.logf("kept active for %v with a request every %v: the cookie was re-issued %d times", idleSpan, idleInterval, reissued)
}

// sessionLines returns the response's Set-Cookie lines of the session's
// cookies, by name; a name set twice is an error.
func (f *flow) sessionLines(step string, ex exchange) map[string]*http.Cookie {
	lines := map[string]*http.Cookie{}
	for _, line := range ex.setCookies {
		c, err := http.ParseSetCookie(line) // apply has reported a line that does not parse
		if err != nil || !isSessionCookie(c.Name) {
			continue
		}
		if _, dup := lines[c.Name]; dup {
			f.errorf("%s: the response has two Set-Cookie lines for %s", step, c.Name)
		}
		lines[c.Name] = c
	}
	return lines
}

// chunkNames returns the session's chunks (not its main cookie) in jar,
// sorted.
func chunkNames(jar map[string]jarCookie) []string {
	var names []string
	for name := range jar {
		if isSessionCookie(name) && name != sessionName {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// sentNames returns the names of the cookies in a Cookie header, sorted.
func sentNames(header string) []string {
	var names []string
	for pair := range strings.SplitSeq(header, ";") {
		if name, _, _ := strings.Cut(strings.TrimSpace(pair), "="); name != "" {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// shrink saves a session of size bytes, which the main cookie holds
// alone, in place of a session of several cookies. The response must set
// the main cookie and delete each chunk the client held, with the
// attributes the chunk was set with (a client deletes only the cookie of
// the same name, Path and Domain), and nothing else; the next request must
// bring the main cookie alone, beside others.
func (f *flow) shrink(step, user string, size int, others ...string) {
	before := maps.Clone(f.jar)
	chunks := chunkNames(before)
	if len(chunks) == 0 {
		f.fatalf("%s: the client holds no chunk of the session: nothing to shrink from", step)
	}
	ex := f.post(step, fmt.Sprintf("/pad?size=%d", size), http.StatusOK)
	f.checkShrink(step, ex, before, chunks)
	want := slices.Sorted(slices.Values(append([]string{sessionName}, others...)))
	next := f.readSession("after: "+step, user, size, want...)
	if got := sentNames(next.cookie); !slices.Equal(got, want) {
		f.fatalf("after: %s: the next request brought cookies %q, want %q", step, got, want)
	}
	f.logf("%s: %d bytes of data in one cookie; %q deleted, and not sent again", step, size, chunks)
}

// checkShrink checks the Set-Cookie lines of a shrinking save: the main
// cookie set, and each of chunks deleted with the attributes it had in
// before.
func (f *flow) checkShrink(step string, ex exchange, before map[string]jarCookie, chunks []string) {
	lines := f.sessionLines(step, ex)
	if c, ok := lines[sessionName]; !ok || c.MaxAge < 0 || c.Value == "" {
		f.errorf("%s: the response does not set the main cookie %s", step, sessionName)
	}
	delete(lines, sessionName)
	for _, name := range chunks {
		c, ok := lines[name]
		delete(lines, name)
		switch {
		case !ok:
			f.errorf("%s: chunk %s, no longer needed, is not deleted: the client keeps sending it", step, name)
		case c.MaxAge >= 0 || c.Value != "":
			f.errorf("%s: chunk %s is set again (Max-Age %d, %d bytes), not deleted", step, name, c.MaxAge, len(c.Value))
		case attrsOf(c) != before[name].attrs:
			f.errorf("%s: chunk %s is deleted with attributes %+v, and was set with %+v", step, name, attrsOf(c), before[name].attrs)
		}
	}
	for name, c := range lines {
		f.errorf("%s: the response also sets %s (Max-Age %d); want only %s set and %q deleted", step, name, c.MaxAge, sessionName, chunks)
	}
}

// rotate rotates the server's key as a fleet does, in three deploys that
// sign no one out: keys (old, new) everywhere, then (new, old), then new
// alone. The session, sealed by the old key, must open at each step; the
// first request that meets the new key as the newest must seal it again
// with it (a Set-Cookie although nothing changed), the client must send
// the new value, and the new key alone must open it.
func (f *flow) rotate(user string, size int, others ...string) {
	held := f.sessionNames(others...)
	old, next := f.srv.current.Load().secrets[0], cookiesession.GenerateSecret()

	step := "rotation step 1, keys (old, new)"
	f.redeploy(step, old, next)
	f.expectUnchanged(step, user, size, held)

	step = "rotation step 2, keys (new, old)"
	f.redeploy(step, next, old)
	before := maps.Clone(f.jar)
	ex := f.readSession(step, user, size, held...)
	f.checkResealed(step, ex, before)

	step = "rotation step 3, key new alone"
	f.redeploy(step, next)
	f.expectUnchanged(step, user, size, held)
	f.logf("key rotation: the session opened at each of the three deploys, and was sealed again by the new key at the second")
}

// redeploy replaces the server's Manager with one of these keys.
func (f *flow) redeploy(step string, secrets ...[]byte) {
	if err := f.srv.deploy(secrets...); err != nil {
		f.fatalf("%s: %v", step, err)
	}
}

// expectUnchanged reads the session, which must be intact and, unless an
// idle refresh is due, not set again.
func (f *flow) expectUnchanged(step, user string, size int, held []string) {
	prevIssue := f.lastIssue
	ex := f.readSession(step, user, size, held...)
	// The issue time is sealed rounded up to the second: no refresh is
	// due a third of the idle timeout after the cookie was set.
	if lines := f.sessionLines(step, ex); len(lines) > 0 && ex.start.Sub(prevIssue) < idleTimeout/3 {
		f.errorf("%s: nothing changed, no refresh is due (set %v before), and the response sets %d of the session's cookies",
			step, ex.start.Sub(prevIssue).Round(time.Millisecond), len(lines))
	}
}

// checkResealed checks that the response set each of the session's
// cookies in before again, with a new value.
func (f *flow) checkResealed(step string, ex exchange, before map[string]jarCookie) {
	lines := f.sessionLines(step, ex)
	for name, old := range before {
		if !isSessionCookie(name) {
			continue
		}
		c, ok := lines[name]
		delete(lines, name)
		switch {
		case !ok:
			f.errorf("%s: the session, sealed by an older key, is not sealed again: %s is not set", step, name)
		case c.MaxAge < 0 || c.Value == old.value:
			f.errorf("%s: %s is set again with Max-Age %d and the same value %v; want a new value", step, name, c.MaxAge, c.Value == old.value)
		}
	}
	for name := range lines {
		f.errorf("%s: the response also sets %s, which the client did not hold", step, name)
	}
}
