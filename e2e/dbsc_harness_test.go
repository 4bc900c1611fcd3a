package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// The harness for Device Bound Session Credentials (DBSC) tests in real
// Chromium: an https server on loopback whose certificate Chromium trusts,
// a Chromium started with DBSC on and its DevTools events recorded, and
// helpers to drive the page, read the browser's cookies and hand them to a
// thief. It knows nothing of the server's DBSC implementation: the
// library's runs behind it in dbsc_test.go.
//
// What follows was observed with Debian's Chromium 156.0.8078.129,
// headless, on a loaded 2-core machine, with a hand-written stand-in
// server (before the library served DBSC) and variants of it.
//
// Before Chromium engages at all:
//
//   - https, with a certificate Chromium trusts without warnings: here a
//     self-signed one, pinned with --ignore-certificate-errors-spki-list
//     (which needs --user-data-dir). With plain --ignore-certificate-errors
//     instead, or over http://localhost, Chromium stores the cookies but
//     drops the registration header without a DevTools event or a log
//     line.
//   - Either https://localhost:<port> or https://127.0.0.1:<port>: DBSC
//     engages on both, as the sites "https://localhost" and
//     "https://127.0.0.1". They are two sites, with cookies and sessions
//     of their own: the harness uses localhost (dbscHost), and 127.0.0.1
//     is at hand as another site (dbscBrowser.at).
//   - --enable-features=DeviceBoundSessions:RequireOriginTrialTokens/false/
//     RefreshQuota/false,EnableBoundSessionCredentialsSoftwareKeysForManualTesting:
//     no origin trial token; no refresh quota (which a test with lifetimes
//     of seconds would exhaust); software keys (no TPM here).
//   - Network.enableDeviceBoundSessions on the tab, or no
//     Network.deviceBoundSessionEventOccurred event comes: the events are
//     the only place where Chromium says why it refused a registration or
//     a refresh.
//
// Registration:
//
//   - Secure-Session-Registration: (ES256 RS256);path="/dbsc/register";challenge="<c>";authorization="<a>"
//     on any response, a navigation's or a fetch()'s. Parameters must be
//     sf-strings (quoted): path=/dbsc/register, unquoted, is ignored
//     silently. path is a URL reference resolved against the response's
//     URL. authorization is optional. Chromium signs with the first
//     algorithm of the list it supports: "(RS256 ES256)" gets an RS256
//     JWT, with jwk {"e","kty":"RSA","n"} (2048 bits).
//   - 10 to 75 ms after the response, Chromium POSTs the path, no body,
//     Secure-Session-Response: <JWT> (a bare value), with the origin's
//     cookies (the SameSite=Lax session cookie included). JWT header
//     {"alg":"ES256","jwk":{"crv":"P-256","kty":"EC","x":"…","y":"…"},"typ":"dbsc+jwt"},
//     payload {"authorization":"<a>","jti":"<c>"} (no authorization claim
//     without the parameter), signature raw r||s, 64 bytes.
//   - The answer: 200, the bound cookie's Set-Cookie, and JSON such as:
//     {"session_identifier":"<id>","refresh_url":"/dbsc/refresh",
//     "scope":{"origin":"https://localhost:<port>","include_site":false,"scope_specification":[]},
//     "credentials":[{"type":"cookie","name":"bound","attributes":"Path=/; Secure; HttpOnly; SameSite=Lax"}]}.
//     Without scope, scope.include_site or credentials the creation fails
//     (MissingScope, MissingScopeIncludeSite, NoCredentials); origin,
//     scope_specification and refresh_url may be left out (the
//     registration's origin, no rules, the registration's URL). Chromium
//     adds a rule excluding the refresh path from the scope.
//
// Refresh:
//
//   - Only when a request in scope starts: none came while the browser sat
//     idle past the bound cookie's expiry, which then just expired.
//   - If the bound cookie is missing or expired, the request is held;
//     Chromium POSTs the refresh URL with Sec-Secure-Session-Id: <id>, no
//     proof. 403 with Secure-Session-Challenge: "<c>";id="<id>" (an sf-string
//     with an sf-string parameter) brings, 2 to 5 ms later (110 ms once,
//     under load), a POST with
//     Secure-Session-Response: a JWT with header {"alg":"ES256","typ":"dbsc+jwt"}
//     (no jwk) and payload {"jti":"<c>"} only. 200 with a fresh cookie and
//     the JSON again releases the held request, with the new cookie, 4 to
//     7 ms after the first refresh POST.
//   - If the bound cookie expires within two minutes, every request in
//     scope starts a refresh alongside, without holding it (the request
//     goes with the old cookie; the event says wasFullyProactiveRefresh):
//     with Max-Age=115 every request refreshes, with Max-Age=125 none
//     does. A held refresh that sets such a cookie is followed at once by
//     one of these. Lifetimes under two minutes thus cost a refresh per
//     request.
//   - Answer a successful refresh with the JSON. With an empty 200 body
//     Chromium keeps the session and its last challenge, and signs that
//     challenge again, unasked, at the next refresh: a server that accepts
//     a challenge once must then answer 403 with a new one (Chromium
//     follows it), since a 403 without one ends the session.
//   - Same-site refreshes carry the origin's cookies (the Lax session
//     cookie, and the bound one if not expired). A navigation from another
//     site is held and refreshed only if the JSON's
//     "allowed_refresh_initiators" names that site's host; its refresh
//     POSTs then carry no cookies at all. Otherwise it is not held: it
//     arrives with the Lax session cookie and no bound cookie.
//   - A refresh answered 403 without a challenge, or 401, ends the
//     browser's session: the held request goes on without the bound
//     cookie, and later requests are sent at once, with no refresh. A 403
//     without a challenge to a POST that carried a proof makes Chromium
//     send the proof four more times, then give up (TooManyChallenges):
//     the session ends too.
//
// DevTools events (Network.deviceBoundSessionEventOccurred), each with
// eventId, site ("https://localhost"), succeeded and, once there is one,
// sessionId, and exactly one of:
//
//   - creationEventDetails {fetchResult: "Success", newSession: {key {site,
//     id}, refreshUrl (absolute), inclusionRules {origin, includeSite,
//     urlRules [{ruleType "Exclude", hostPattern, pathPrefix "/dbsc/refresh"}]},
//     cookieCravings [{name, domain, path, secure, httpOnly, sameSite}],
//     expiryDate (400 days on), allowedRefreshInitiators}}; on failure
//     succeeded false, the fetchResult named (e.g. "MissingScope", or
//     "PersistentHttpError" with failedRequest {requestUrl, responseError,
//     responseErrorBody} when the server answered 4xx);
//   - challengeEventDetails {challengeResult "Success", challenge}, for
//     each Secure-Session-Challenge received;
//   - refreshEventDetails {refreshResult "Refreshed", fetchResult
//     "Success", newSession (when the answer carried the JSON),
//     wasFullyProactiveRefresh}; refused, succeeded false, refreshResult
//     "FatalError", fetchResult "InvalidChallenge" (403 without a
//     challenge) or "PersistentHttpError" (401), failedRequest as above;
//   - terminationEventDetails {deletionReason "RefreshFatalError"}, after
//     such a refusal.
//
// Network.deviceBoundSessionsAdded {sessions: [...]} lists every session
// when the events are turned on (dbscBrowser.sessions).

const (
	// dbscFeatures is the value of --enable-features.
	dbscFeatures = "DeviceBoundSessions:RequireOriginTrialTokens/false/RefreshQuota/false," +
		"EnableBoundSessionCredentialsSoftwareKeysForManualTesting"
	// dbscHost is the name the browser reaches the server by; see above.
	dbscHost = "localhost"
	// dbscStepTimeout bounds one step: a navigation, a fetch, a wait for
	// an event that should come at once.
	dbscStepTimeout = 10 * time.Second
)

// dbscServer is an https server on a loopback port with a certificate of
// its own, for localhost, 127.0.0.1 and ::1.
type dbscServer struct {
	*httptest.Server
	origin string         // https://localhost:port, what the browser uses
	spki   string         // base64 SHA-256 of the certificate's SubjectPublicKeyInfo
	roots  *x509.CertPool // holds the certificate, for Go clients
}

// startDBSCServer serves h over https on a free loopback port until the
// test ends.
func startDBSCServer(t *testing.T, h http.Handler) *dbscServer {
	t.Helper()
	cert, leaf := selfSignedCert(t)
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &dbscServer{
		Server: srv,
		origin: "https://" + net.JoinHostPort(dbscHost, port),
		spki:   base64.StdEncoding.EncodeToString(sum[:]),
		roots:  roots,
	}
}

// selfSignedCert makes a P-256 certificate, valid for an hour, for the
// names the tests may use to reach a loopback server.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "cookiesession e2e"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// dbscBrowser is one Chromium tab with DBSC on, pointed at a dbscServer.
type dbscBrowser struct {
	t      *testing.T
	ctx    context.Context // the tab's; steps derive their timeouts from it
	srv    *dbscServer
	origin string // where paths go: srv.origin, or another name of it (see at)
	events *dbscEvents
}

// newDBSCBrowser starts Chromium at path (from findChromium) with DBSC on
// and srv's certificate trusted, for ctx's lifetime and at most until the
// test ends; turns the DevTools DBSC events on and records them; and opens
// srv's origin's /, so that fetch() has a same-origin page to run from
// (which the server must answer). If the test fails, the events and
// Chromium's output go to the test log.
func newDBSCBrowser(t *testing.T, ctx context.Context, path string, srv *dbscServer) *dbscBrowser {
	t.Helper()
	profile := t.TempDir() // made before the cleanup below, so removed after it
	output := new(lockedBuffer)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, // the sandbox needs user namespaces, which containers and root lack
		chromedp.UserDataDir(profile),
		chromedp.Flag("enable-features", dbscFeatures), // replaces chromedp's default list
		chromedp.Flag("ignore-certificate-errors-spki-list", srv.spki),
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.CombinedOutput(output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	b := &dbscBrowser{t: t, ctx: tabCtx, srv: srv, origin: srv.origin, events: &dbscEvents{start: time.Now()}}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		if t.Failed() {
			t.Logf("DevTools DBSC events:\n%s", b.events)
			t.Logf("Chromium's output:\n%s", output)
		}
	})
	if err := chromedp.Do(tabCtx); err != nil { // start it now, so that a failure to launch says so
		t.Fatalf("starting Chromium (%s): %v\n%s", path, err, output)
	}
	if err := chromedp.Listen(tabCtx, b.events.record); err != nil {
		t.Fatalf("listening to the tab's events: %v", err)
	}
	stepCtx, cancel := b.stepCtx()
	defer cancel()
	if _, err := chromedp.Call(stepCtx, network.EnableDeviceBoundSessions,
		network.EnableDeviceBoundSessionsParams{Enable: true}); err != nil {
		t.Fatalf("Network.enableDeviceBoundSessions: %v", err)
	}
	if err := chromedp.Do(stepCtx, chromedp.Navigate(srv.origin+"/")); err != nil {
		t.Fatalf("opening %s/: %v", srv.origin, err)
	}
	return b
}

func (b *dbscBrowser) stepCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, dbscStepTimeout)
}

// navigate loads the origin's path in the tab, as a top-level navigation,
// and returns the response's status and the page's text. A navigation in
// a bound session's scope is held while Chromium refreshes, like any
// request.
func (b *dbscBrowser) navigate(path string) (int, string) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.origin+path))
	if err != nil {
		b.t.Fatalf("navigating to %s: %v\n%s", path, err, b.events)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		b.t.Fatalf("reading the page of %s: %v", path, err)
	}
	return int(resp.Status), text
}

// dbscFetchResult is what the page's fetch() returns.
type dbscFetchResult struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// fetch sends a request with fetch() from the tab's page, which must be on
// b.origin (newDBSCBrowser opens srv.origin's /; after at, navigate
// first), so that the browser's cookies go with it, and returns the status
// and body. Chromium holds it, as any request in a bound session's scope,
// while it refreshes.
func (b *dbscBrowser) fetch(method, path string) (int, string) {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	js := fmt.Sprintf(`(async () => {
		const r = await fetch(%q, {method: %q, cache: "no-store", credentials: "same-origin", redirect: "manual"});
		return {status: r.status, body: await r.text()};
	})()`, b.origin+path, method)
	r, err := chromedp.Run(ctx, chromedp.Evaluate[dbscFetchResult](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("fetch %s %s in Chromium: %v\n%s", method, path, err, b.events)
	}
	return r.Status, r.Body
}

// cookies returns the cookies the browser holds for the origin, by name.
func (b *dbscBrowser) cookies() map[string]*network.Cookie {
	b.t.Helper()
	ctx, cancel := b.stepCtx()
	defer cancel()
	return browserCookies(ctx, b.t, b.origin+"/")
}

// waitCookieGone polls the browser's cookie store until it holds no cookie
// named name for the origin (it expired), within timeout.
func (b *dbscBrowser) waitCookieGone(name string, timeout time.Duration) {
	b.t.Helper()
	dbscWait(b.ctx, b.t, "cookie "+name+" to expire in the browser", timeout, func() (bool, string) {
		c, ok := b.cookies()[name]
		if !ok {
			return true, ""
		}
		return false, fmt.Sprintf("still there, expires %s", time.Unix(int64(c.Expires), 0).Format(time.TimeOnly))
	})
}

// sessions returns the browser's DBSC sessions, all sites, as DevTools
// lists them when its DBSC events are turned on: it turns them off and on
// again and waits for the deviceBoundSessionsAdded event that follows.
// Events that would come in between are lost, so call it when the browser
// is quiet.
func (b *dbscBrowser) sessions() []*network.DeviceBoundSession {
	b.t.Helper()
	n := len(b.events.added())
	ctx, cancel := b.stepCtx()
	defer cancel()
	for _, on := range []bool{false, true} {
		if _, err := chromedp.Call(ctx, network.EnableDeviceBoundSessions,
			network.EnableDeviceBoundSessionsParams{Enable: on}); err != nil {
			b.t.Fatalf("Network.enableDeviceBoundSessions(%v): %v", on, err)
		}
	}
	var list []*network.DeviceBoundSession
	dbscWait(b.ctx, b.t, "the list of DBSC sessions", dbscStepTimeout, func() (bool, string) {
		added := b.events.added()
		if len(added) <= n {
			return false, "no deviceBoundSessionsAdded event"
		}
		list = added[n].Sessions
		return true, ""
	})
	return list
}

// dbscThief is a plain Go client holding a copy of the browser's cookies:
// what malware that read the cookie jar can do elsewhere.
type dbscThief struct {
	t      *testing.T
	origin string
	hc     *http.Client
}

// thief copies every cookie the browser holds for the origin into a plain
// http.Client with a cookie jar. It copies names and values only, with no
// expiry: a thief replays what it stole for as long as the server accepts
// it, so only the server's own checks stop it.
func (b *dbscBrowser) thief() *dbscThief {
	b.t.Helper()
	u, err := url.Parse(b.origin + "/")
	if err != nil {
		b.t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	var stolen []*http.Cookie
	for _, c := range b.cookies() {
		stolen = append(stolen, &http.Cookie{Name: c.Name, Value: c.Value, Path: "/", Secure: true})
	}
	if len(stolen) == 0 {
		b.t.Fatalf("the browser holds no cookie for %s: nothing to steal", b.origin)
	}
	jar.SetCookies(u, stolen)
	return &dbscThief{t: b.t, origin: b.origin, hc: &http.Client{
		Jar:     jar,
		Timeout: dbscStepTimeout,
		Transport: &http.Transport{ // its own connections, trusting only the server's certificate
			TLSClientConfig: &tls.Config{RootCAs: b.srv.roots},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get sends GET path with the stolen cookies and returns status and body.
func (th *dbscThief) get(path string) (int, string) {
	th.t.Helper()
	resp, err := th.hc.Get(th.origin + path)
	if err != nil {
		th.t.Fatalf("thief: GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		th.t.Fatalf("thief: GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// dbscEvents records the tab's DevTools DBSC events, in order.
type dbscEvents struct {
	start time.Time
	mu    sync.Mutex
	list  []dbscEvent
}

// dbscEvent is one recorded event: either kind, with when it came.
type dbscEvent struct {
	at       time.Duration // since the browser started
	occurred *network.EventDeviceBoundSessionEventOccurred
	added    *network.EventDeviceBoundSessionsAdded
}

// record is the chromedp.Listen callback: it keeps the DBSC events and
// returns at once, as Listen requires.
func (e *dbscEvents) record(ev any) {
	var rec dbscEvent
	switch ev := ev.(type) {
	case *network.EventDeviceBoundSessionEventOccurred:
		rec.occurred = ev
	case *network.EventDeviceBoundSessionsAdded:
		rec.added = ev
	default:
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rec.at = time.Since(e.start)
	e.list = append(e.list, rec)
}

// occurred returns the deviceBoundSessionEventOccurred events so far.
func (e *dbscEvents) occurred() []*network.EventDeviceBoundSessionEventOccurred {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*network.EventDeviceBoundSessionEventOccurred
	for _, r := range e.list {
		if r.occurred != nil {
			out = append(out, r.occurred)
		}
	}
	return out
}

// added returns the deviceBoundSessionsAdded events so far.
func (e *dbscEvents) added() []*network.EventDeviceBoundSessionsAdded {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*network.EventDeviceBoundSessionsAdded
	for _, r := range e.list {
		if r.added != nil {
			out = append(out, r.added)
		}
	}
	return out
}

// String lists the events, one a line, as compact JSON.
func (e *dbscEvents) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.list) == 0 {
		return "\t(no DBSC event: did Chromium see the registration header at all?)"
	}
	var s strings.Builder
	for _, r := range e.list {
		var v any = r.occurred
		name := "deviceBoundSessionEventOccurred"
		if r.added != nil {
			v, name = r.added, "deviceBoundSessionsAdded"
		}
		fmt.Fprintf(&s, "\t%7.3fs %s %s\n", r.at.Seconds(), name, dbscJSON(v))
	}
	return s.String()
}

// dbscJSON returns v as compact JSON, for messages.
func dbscJSON(v any) string {
	j, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(j)
}

// dbscEventKind names the detail an event carries: creation, refresh,
// termination or challenge.
func dbscEventKind(ev *network.EventDeviceBoundSessionEventOccurred) string {
	switch {
	case ev.CreationEventDetails != nil:
		return "creation"
	case ev.RefreshEventDetails != nil:
		return "refresh"
	case ev.TerminationEventDetails != nil:
		return "termination"
	case ev.ChallengeEventDetails != nil:
		return "challenge"
	}
	return "unknown"
}

// waitEvent waits, within timeout, for a deviceBoundSessionEventOccurred
// event, the first after the skip events already recorded (a count from
// len(b.events.occurred()), or waitEvent's own) for which match is true,
// and returns it and the skip that waits for the events after it. Its
// failure lists every event recorded, which is where Chromium says why it
// refused.
func (b *dbscBrowser) waitEvent(what string, skip int, timeout time.Duration,
	match func(*network.EventDeviceBoundSessionEventOccurred) bool) (*network.EventDeviceBoundSessionEventOccurred, int) {
	b.t.Helper()
	var found *network.EventDeviceBoundSessionEventOccurred
	next := skip
	dbscWait(b.ctx, b.t, what, timeout, func() (bool, string) {
		evs := b.events.occurred()
		for i := skip; i < len(evs); i++ {
			if match(evs[i]) {
				found, next = evs[i], i+1
				return true, ""
			}
		}
		return false, "DevTools DBSC events so far:\n" + b.events.String()
	})
	return found, next
}

// dbscWait polls cond every pollInterval until it is true, failing the
// test with what and cond's last explanation after timeout or when ctx
// ends (the test's own bound).
func dbscWait(ctx context.Context, t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		ok, why := cond()
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waited %v for %s (%v): %s", timeout, what, context.Cause(ctx), why)
		case <-tick.C:
		}
	}
}

// isDBSCEvent matches events of one kind, as dbscEventKind names them.
func isDBSCEvent(kind string) func(*network.EventDeviceBoundSessionEventOccurred) bool {
	return func(ev *network.EventDeviceBoundSessionEventOccurred) bool { return dbscEventKind(ev) == kind }
}
