package e2e

// A stand-in DBSC server, small and hand-rolled with the standard library
// only, and the test that proves the harness (dbsc_harness_test.go) with it
// against real Chromium before the library implements DBSC. It keeps its
// state in memory, trusts its own maps and checks only what the round trip
// needs: it is not a model for the library's implementation, which replaces
// this file (the harness stays).

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
)

// Names, paths and lifetimes of the stand-in server.
const (
	stubSessionCookie = "sid"   // the ordinary session cookie, set by /login
	stubBoundCookie   = "bound" // the short-lived cookie DBSC protects
	stubRegisterPath  = "/dbsc/register"
	stubRefreshPath   = "/dbsc/refresh"
	// stubCookieAttrs are the bound cookie's attributes, on its Set-Cookie
	// (which adds Max-Age) and in the registration JSON's credentials:
	// Chromium turns the latter into a "cookie craving" (name, domain,
	// path, Secure, HttpOnly, SameSite) that the stored cookie must match.
	stubCookieAttrs = "Path=/; Secure; HttpOnly; SameSite=Lax"
	// stubBoundLifetime is the bound cookie's Max-Age, enforced by the stub
	// too. Far under Chromium's two minutes (see TestDBSCStub), so the test
	// waits seconds for an expiry, and every request refreshes.
	stubBoundLifetime = 3 * time.Second
	// stubTestTimeout bounds TestDBSCStub as a whole.
	stubTestTimeout = 50 * time.Second
)

// dbscStub is the stand-in server. Make it with newDBSCStub.
type dbscStub struct {
	mu         sync.Mutex
	logins     map[string]bool             // authorization values sent by /login
	challenges map[string]string           // outstanding challenge -> DBSC session id ("" for a registration)
	keys       map[string]*ecdsa.PublicKey // DBSC session id -> the device's key
	bound      map[string]time.Time        // bound cookie value -> when it expires
	refuse     bool                        // refreshes are answered 403 without a challenge
	log        []stubExchange              // every request, in order
	proofs     []stubProof                 // every JWT that verified, in order
}

// stubExchange is what the stub recorded of one request.
type stubExchange struct {
	at        time.Time
	method    string
	path      string
	status    int
	sessionID string   // Sec-Secure-Session-Id
	proof     bool     // a Secure-Session-Response came
	cookies   []string // names of the cookies sent, sorted
	note      string   // what the stub decided, or why it refused
}

func (x stubExchange) String() string {
	return fmt.Sprintf("%s %s %s -> %d (Sec-Secure-Session-Id %q, proof %v, cookies %q) %s",
		x.at.Format("15:04:05.000"), x.method, x.path, x.status, x.sessionID, x.proof, x.cookies, x.note)
}

// is reports whether x is a request for path with that status.
func (x stubExchange) is(method, path string, status int) bool {
	return x.method == method && x.path == path && x.status == status
}

// stubProof is a JWT that verified: its decoded header and payload.
type stubProof struct{ path, header, payload string }

func newDBSCStub() *dbscStub {
	return &dbscStub{
		logins:     map[string]bool{},
		challenges: map[string]string{},
		keys:       map[string]*ecdsa.PublicKey{},
		bound:      map[string]time.Time{},
	}
}

// mark returns a position in the log, for since.
func (s *dbscStub) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.log)
}

// since returns the requests recorded from mark on.
func (s *dbscStub) since(mark int) []stubExchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log[mark:])
}

// String lists every request recorded, one a line.
func (s *dbscStub) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return stubList(s.log)
}

func stubList(xs []stubExchange) string {
	var b strings.Builder
	for _, x := range xs {
		fmt.Fprintf(&b, "\t%s\n", x)
	}
	return b.String()
}

// setRefuse makes every later refresh end the browser's session: a 403
// without a challenge, as for a destroyed session.
func (s *dbscStub) setRefuse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = true
}

func (s *dbscStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := stubExchange{at: time.Now(), method: r.Method, path: r.URL.Path,
		sessionID: r.Header.Get("Sec-Secure-Session-Id"), proof: r.Header.Get("Secure-Session-Response") != ""}
	for _, c := range r.Cookies() {
		x.cookies = append(x.cookies, c.Name)
	}
	slices.Sort(x.cookies)
	s.mu.Lock()
	defer s.mu.Unlock()
	x.status, x.note = s.route(w, r)
	s.log = append(s.log, x)
}

// route answers r with s.mu held, and returns the status and a note for
// the log.
func (s *dbscStub) route(w http.ResponseWriter, r *http.Request) (int, string) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == "/":
		return stubPage(w, "blank page")
	case r.URL.Path == "/login" && r.Method == http.MethodGet:
		return s.login(w)
	case r.URL.Path == stubRegisterPath && r.Method == http.MethodPost:
		return s.register(w, r)
	case r.URL.Path == stubRefreshPath && r.Method == http.MethodPost:
		return s.refresh(w, r)
	case r.URL.Path == "/protected":
		return s.protected(w, r)
	}
	return stubText(w, http.StatusNotFound, "not found")
}

// login sets the ordinary session cookie and invites registration.
func (s *dbscStub) login(w http.ResponseWriter) (int, string) {
	auth, challenge := "auth-"+rand.Text(), rand.Text()
	s.logins[auth] = true
	s.challenges[challenge] = ""
	http.SetCookie(w, &http.Cookie{Name: stubSessionCookie, Value: rand.Text(), Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	// An RFC 9651 list holding one inner list, the algorithms in the
	// server's order of preference (Chromium signs with the first it
	// supports: ES256 here, which is all the stub verifies), with
	// parameters that must be sf-strings: quoted. path is a URL reference
	// resolved against this response's URL; challenge comes back as the
	// JWT's jti, authorization (optional) as its authorization claim.
	w.Header().Set("Secure-Session-Registration",
		fmt.Sprintf(`(ES256 RS256);path=%q;challenge=%q;authorization=%q`, stubRegisterPath, challenge, auth))
	return stubPage(w, "signed in")
}

// register verifies the registration JWT, keeps the key, sets the bound
// cookie and answers the session's configuration.
func (s *dbscStub) register(w http.ResponseWriter, r *http.Request) (int, string) {
	claims, pub, err := s.verify(r, nil)
	if err != nil {
		return stubText(w, http.StatusBadRequest, "registration: "+err.Error())
	}
	var c struct{ Jti, Authorization string }
	if err := json.Unmarshal(claims, &c); err != nil {
		return stubText(w, http.StatusBadRequest, "registration: JWT payload: "+err.Error())
	}
	if id, ok := s.challenges[c.Jti]; !ok || id != "" {
		return stubText(w, http.StatusBadRequest, "registration: unknown challenge "+c.Jti)
	}
	delete(s.challenges, c.Jti) // once
	if !s.logins[c.Authorization] {
		return stubText(w, http.StatusBadRequest, "registration: unknown authorization "+c.Authorization)
	}
	id := "dbsc-" + rand.Text()
	s.keys[id] = pub
	s.setBound(w)
	return stubJSON(w, stubConfig(id, "https://"+r.Host), "registered "+id)
}

// stubConfig is the session's configuration: the JSON body of the answers
// to a registration and to a successful refresh. Chromium requires scope,
// scope.include_site and credentials; scope.origin defaults to the
// registration's origin, scope_specification to none, and refresh_url to
// the registration's URL. Chromium adds an exclusion of the refresh URL's
// path to the scope itself.
func stubConfig(id, origin string) map[string]any {
	return map[string]any{
		"session_identifier": id,
		"refresh_url":        stubRefreshPath,
		"scope": map[string]any{
			"origin":              origin,
			"include_site":        false,
			"scope_specification": []any{},
		},
		"credentials": []any{map[string]any{
			"type":       "cookie",
			"name":       stubBoundCookie,
			"attributes": stubCookieAttrs,
		}},
	}
}

// refresh answers a refresh: a challenge when no proof came or the proof's
// challenge is not one outstanding for this session; a fresh bound cookie
// and the configuration when the proof verifies with the registered key;
// or, for an unknown session or in refuse mode, a 403 without a challenge,
// which ends the browser's session.
func (s *dbscStub) refresh(w http.ResponseWriter, r *http.Request) (int, string) {
	id := r.Header.Get("Sec-Secure-Session-Id")
	pub, ok := s.keys[id]
	if !ok || s.refuse {
		return stubText(w, http.StatusForbidden, "refresh refused: no such session")
	}
	if r.Header.Get("Secure-Session-Response") == "" {
		return s.challenge(w, id, "no proof")
	}
	claims, _, err := s.verify(r, pub)
	if err != nil {
		return stubText(w, http.StatusForbidden, "refresh refused: "+err.Error())
	}
	var c struct{ Jti string }
	if err := json.Unmarshal(claims, &c); err != nil {
		return stubText(w, http.StatusForbidden, "refresh refused: JWT payload: "+err.Error())
	}
	if s.challenges[c.Jti] != id {
		// Chromium caches the last challenge and may sign it again
		// unasked: answer with a new one, or it ends the session.
		return s.challenge(w, id, "stale challenge "+c.Jti)
	}
	delete(s.challenges, c.Jti) // once
	s.setBound(w)
	return stubJSON(w, stubConfig(id, "https://"+r.Host), "refreshed")
}

// challenge answers 403 with a new challenge for session id.
func (s *dbscStub) challenge(w http.ResponseWriter, id, why string) (int, string) {
	c := rand.Text()
	s.challenges[c] = id
	// An RFC 9651 item, the challenge as an sf-string, with the session's
	// id as a parameter, also an sf-string.
	w.Header().Set("Secure-Session-Challenge", fmt.Sprintf(`%q;id=%q`, c, id))
	return stubText(w, http.StatusForbidden, why+": challenge "+c)
}

// setBound sets a fresh bound cookie, with its expiry kept here too.
func (s *dbscStub) setBound(w http.ResponseWriter) {
	v := rand.Text()
	s.bound[v] = time.Now().Add(stubBoundLifetime)
	w.Header().Add("Set-Cookie", fmt.Sprintf("%s=%s; Max-Age=%d; %s",
		stubBoundCookie, v, int(stubBoundLifetime/time.Second), stubCookieAttrs))
}

// protected answers 200 only with a bound cookie the stub issued and that
// has not expired here: the browser's or a thief's idea of its expiry does
// not count.
func (s *dbscStub) protected(w http.ResponseWriter, r *http.Request) (int, string) {
	c, err := r.Cookie(stubBoundCookie)
	if err != nil {
		return stubText(w, http.StatusUnauthorized, "no bound cookie")
	}
	if exp, ok := s.bound[c.Value]; !ok || time.Now().After(exp) {
		return stubText(w, http.StatusUnauthorized, "bound cookie unknown or expired")
	}
	return stubText(w, http.StatusOK, "ok "+c.Value)
}

// verify checks r's Secure-Session-Response JWT: three base64url parts, a
// header with alg ES256 and typ dbsc+jwt, and a raw r||s P-256 signature
// over the first two parts. With pub nil (a registration) the key is the
// header's jwk and is returned; otherwise it is pub, and a jwk is refused.
// It returns the payload.
func (s *dbscStub) verify(r *http.Request, pub *ecdsa.PublicKey) (json.RawMessage, *ecdsa.PublicKey, error) {
	parts := strings.Split(r.Header.Get("Secure-Session-Response"), ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("JWT of %d parts", len(parts))
	}
	rawHeader, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, nil, fmt.Errorf("JWT: %w", err)
	}
	var h struct {
		Alg, Typ string
		JWK      *struct{ Kty, Crv, X, Y string }
	}
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		return nil, nil, fmt.Errorf("JWT header: %w", err)
	}
	if h.Alg != "ES256" || h.Typ != "dbsc+jwt" {
		return nil, nil, fmt.Errorf("JWT alg %q, typ %q; want ES256, dbsc+jwt", h.Alg, h.Typ)
	}
	switch {
	case pub == nil && h.JWK == nil:
		return nil, nil, errors.New("registration JWT without jwk")
	case pub == nil:
		if h.JWK.Kty != "EC" || h.JWK.Crv != "P-256" {
			return nil, nil, fmt.Errorf("jwk kty %q crv %q; want EC P-256", h.JWK.Kty, h.JWK.Crv)
		}
		x, errX := base64.RawURLEncoding.DecodeString(h.JWK.X)
		y, errY := base64.RawURLEncoding.DecodeString(h.JWK.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, nil, errors.New("jwk: x and y must be 32 bytes each, base64url")
		}
		var err error
		if pub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y)); err != nil {
			return nil, nil, fmt.Errorf("jwk: %w", err)
		}
	case h.JWK != nil:
		return nil, nil, errors.New("refresh JWT with a jwk")
	}
	if len(sig) != 64 {
		return nil, nil, fmt.Errorf("JWT signature of %d bytes; want 64 (r||s)", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return nil, nil, errors.New("JWT signature does not verify")
	}
	s.proofs = append(s.proofs, stubProof{path: r.URL.Path, header: string(rawHeader), payload: string(payload)})
	return payload, pub, nil
}

// stubPage answers a small HTML page whose icon is inline, so that the
// browser asks for no /favicon.ico: such a request, in the session's
// scope, would start refreshes of its own and blur what the test counts.
func stubPage(w http.ResponseWriter, text string) (int, string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><link rel="icon" href="data:,"><title>stub</title><p>%s</p>`, text)
	return http.StatusOK, text
}

func stubText(w http.ResponseWriter, status int, body string) (int, string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
	return status, body
}

func stubJSON(w http.ResponseWriter, v any, note string) (int, string) {
	body, err := json.Marshal(v)
	if err != nil {
		return stubText(w, http.StatusInternalServerError, err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
	return http.StatusOK, note + " " + string(body)
}

// TestDBSCStub proves the harness and the protocol round trip in real
// Chromium with the stand-in server: sign-in registers a key; a thief's
// copy of every cookie works only while the bound cookie lives; when it
// has expired, the browser's next request is held while Chromium refreshes
// through a 403 challenge and a signed proof, then goes on with the new
// cookie; a refresh answered 403 without a challenge ends the browser's
// session, and no refresh comes after. It logs what it observed (timings,
// JWTs, DevTools events) for the record.
func TestDBSCStub(t *testing.T) {
	chromium := findChromium(t) // first: without it, nothing else is worth doing
	stub := newDBSCStub()
	srv := startDBSCServer(t, stub)
	ctx, cancel := context.WithTimeout(t.Context(), stubTestTimeout)
	defer cancel()
	b := newDBSCBrowser(t, ctx, chromium, srv)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("requests the stub served:\n%s", stub)
		}
	})

	// Sign-in invites registration; Chromium registers a key at once.
	mark := stub.mark()
	if status, body := b.navigate("/login"); status != http.StatusOK {
		t.Fatalf("GET /login: %d %q", status, body)
	}
	created, _ := b.waitEvent("the DBSC session's creation", 0, dbscStepTimeout, isDBSCEvent("creation"))
	if !created.Succeeded {
		t.Fatalf("Chromium refused the registration: %s\nevents:\n%s", created.CreationEventDetails.FetchResult, b.events)
	}
	id := created.SessionID
	xs := stub.since(mark)
	reg := slices.IndexFunc(xs, func(x stubExchange) bool { return x.path == stubRegisterPath })
	if reg < 1 || !xs[0].is("GET", "/login", 200) || !xs[reg].is("POST", stubRegisterPath, 200) {
		t.Fatalf("want GET /login then the registration POST, got:\n%s", stubList(xs))
	}
	t.Logf("registration POST %v after GET /login; it carried cookies %q", xs[reg].at.Sub(xs[0].at).Round(time.Millisecond), xs[reg].cookies)
	if !slices.Contains(xs[reg].cookies, stubSessionCookie) {
		t.Errorf("the registration POST came without the SameSite=Lax session cookie: %q", xs[reg].cookies)
	}
	jar := b.cookies()
	if jar[stubSessionCookie] == nil || jar[stubBoundCookie] == nil {
		t.Fatalf("after registration the browser holds %q, want %s and %s", names(jar), stubSessionCookie, stubBoundCookie)
	}
	if sessions := b.sessions(); len(sessions) != 1 || sessions[0].Key.ID != id {
		t.Fatalf("the browser lists DBSC sessions %s, want only %s", dbscJSON(sessions), id)
	}

	// A thief's copy of every cookie works while the bound cookie lives.
	thief := b.thief()
	if status, body := thief.get("/protected"); status != http.StatusOK {
		t.Fatalf("thief, at once: %d %q, want 200", status, body)
	}

	// A bound cookie that expires within two minutes makes every request in
	// scope start a refresh alongside, not holding it.
	n := len(b.events.occurred())
	if status, body := b.fetch("GET", "/protected"); status != http.StatusOK {
		t.Fatalf("browser, before expiry: %d %q", status, body)
	}
	ev, _ := b.waitEvent("a proactive refresh", n, dbscStepTimeout, isDBSCEvent("refresh"))
	if !ev.Succeeded || !ev.RefreshEventDetails.WasFullyProactiveRefresh {
		t.Fatalf("want a successful proactive refresh, got %s", dbscJSON(ev))
	}

	// Once the bound cookie expired, the thief is refused; the browser's
	// next request is held while it refreshes through a challenge.
	b.waitCookieGone(stubBoundCookie, stubBoundLifetime+dbscStepTimeout)
	if status, body := thief.get("/protected"); status != http.StatusUnauthorized {
		t.Fatalf("thief, after expiry: %d %q, want 401", status, body)
	}
	mark, n = stub.mark(), len(b.events.occurred())
	status, body := b.fetch("GET", "/protected")
	if status != http.StatusOK {
		t.Fatalf("browser, after expiry: %d %q, want 200 after a refresh\nrequests:\n%s", status, body, stubList(stub.since(mark)))
	}
	// The released request starts a proactive refresh too (the new cookie
	// also expires within two minutes), which may reach the server before
	// or after it: only the first two requests and the GET are checked.
	xs = stub.since(mark)
	get := slices.IndexFunc(xs, func(x stubExchange) bool { return x.path == "/protected" })
	if get < 2 || !xs[0].is("POST", stubRefreshPath, 403) || xs[0].proof || xs[0].sessionID != id ||
		!xs[1].is("POST", stubRefreshPath, 200) || !xs[1].proof || !xs[get].is("GET", "/protected", 200) {
		t.Fatalf("want a refresh without proof (403 and a challenge), one with a proof (200), then the held GET; got:\n%s", stubList(xs))
	}
	t.Logf("held request: refresh started, proof %v later, GET sent %v after the first refresh POST; cookies on the refreshes %q, %q",
		xs[1].at.Sub(xs[0].at).Round(time.Millisecond), xs[get].at.Sub(xs[0].at).Round(time.Millisecond), xs[0].cookies, xs[1].cookies)
	if !slices.Contains(xs[0].cookies, stubSessionCookie) {
		t.Errorf("a same-origin refresh came without the SameSite=Lax session cookie: %q", xs[0].cookies)
	}
	ev, n = b.waitEvent("the refresh's event", n, dbscStepTimeout, isDBSCEvent("refresh"))
	if !ev.Succeeded || ev.RefreshEventDetails.WasFullyProactiveRefresh {
		t.Fatalf("want a successful refresh that held the request, got %s", dbscJSON(ev))
	}
	// Let the released request's proactive refresh end before refusing:
	// refused midway (a 403 without a challenge to its proof), it would
	// end the session now (Chromium retries the proof, then gives up with
	// TooManyChallenges).
	if ev, _ = b.waitEvent("the proactive refresh after it", n, dbscStepTimeout, isDBSCEvent("refresh")); !ev.Succeeded {
		t.Fatalf("want a successful proactive refresh, got %s", dbscJSON(ev))
	}
	if status, body := thief.get("/protected"); status != http.StatusUnauthorized {
		t.Fatalf("thief, after the browser refreshed: %d %q, want 401", status, body)
	}
	for _, p := range stub.proofs {
		t.Logf("%s JWT: header %s, payload %s", p.path, p.header, p.payload)
	}

	// A refresh answered 403 without a challenge (a destroyed session) ends
	// the browser's DBSC session: the held request goes on without the
	// bound cookie, and later requests are not held for refreshes.
	stub.setRefuse()
	b.waitCookieGone(stubBoundCookie, stubBoundLifetime+dbscStepTimeout)
	mark, n = stub.mark(), len(b.events.occurred())
	if status, body := b.fetch("GET", "/protected"); status != http.StatusUnauthorized {
		t.Fatalf("browser, refused: %d %q, want 401", status, body)
	}
	xs = stub.since(mark)
	if len(xs) != 2 || !xs[0].is("POST", stubRefreshPath, 403) || !xs[1].is("GET", "/protected", 401) {
		t.Fatalf("want one refused refresh, then the GET without the bound cookie; got:\n%s", stubList(xs))
	}
	b.waitEvent("the session's termination", n, dbscStepTimeout, isDBSCEvent("termination"))
	mark = stub.mark()
	if status, body := b.fetch("GET", "/protected"); status != http.StatusUnauthorized {
		t.Fatalf("browser, after the end: %d %q, want 401", status, body)
	}
	// Without a bound cookie, a live session would hold this request for a
	// refresh before sending it: a GET with no refresh before it shows
	// the session is gone, without waiting for something not to happen.
	if xs = stub.since(mark); len(xs) != 1 || !xs[0].is("GET", "/protected", 401) {
		t.Fatalf("want only the GET, no refresh; got:\n%s", stubList(xs))
	}
	if sessions := b.sessions(); len(sessions) != 0 {
		t.Fatalf("the browser still lists DBSC sessions %s", dbscJSON(sessions))
	}

	// The same server reached as https://127.0.0.1:port is another site,
	// and DBSC engages there too.
	ip := b.at("127.0.0.1")
	n = len(b.events.occurred())
	if status, body := ip.navigate("/login"); status != http.StatusOK {
		t.Fatalf("GET %s/login: %d %q", ip.origin, status, body)
	}
	ev, _ = b.waitEvent("a creation for 127.0.0.1", n, dbscStepTimeout, isDBSCEvent("creation"))
	if !ev.Succeeded || ev.Site != "https://127.0.0.1" {
		t.Fatalf("want a session for https://127.0.0.1, got %s", dbscJSON(ev))
	}
	t.Logf("DevTools DBSC events:\n%s", b.events)
}

// isDBSCEvent matches events of one kind, as dbscEventKind names them.
func isDBSCEvent(kind string) func(*network.EventDeviceBoundSessionEventOccurred) bool {
	return func(ev *network.EventDeviceBoundSessionEventOccurred) bool { return dbscEventKind(ev) == kind }
}
