package cookiesession_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/internal/dbsc/dbsctest"
	"github.com/ce967478/cookiesession/revocation"
)

// The device binding's tests play the browser with dbsctest's device, and
// the server through the public API: a Manager with WithDeviceBinding.

type boundUser struct {
	User string `json:"user"`
	Note string `json:"note,omitempty"`
}

// boundApp is a signed-in app with device binding at /dbsc, on a clock
// the test moves.
type boundApp struct {
	t     testing.TB
	m     *cookiesession.Manager[boundUser]
	h     http.Handler
	clock *testClock
}

const boundLifetime = 5 * time.Minute

func newBoundApp(t testing.TB, opts ...cookiesession.Option) *boundApp {
	t.Helper()
	keys, err := cookiesession.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	return newBoundAppOn(t, keys, newClock(), opts...)
}

// newBoundAppOn is newBoundApp with the given keys and clock: an instance
// of a fleet, on the time the fleet shares.
func newBoundAppOn(t testing.TB, keys *cookiesession.Keyring, clock *testClock, opts ...cookiesession.Option) *boundApp {
	t.Helper()
	a := &boundApp{t: t, clock: clock}
	var err error
	a.m, err = cookiesession.New[boundUser](keys, append([]cookiesession.Option{
		cookiesession.WithSubject(func(d boundUser) string { return d.User }),
		cookiesession.WithDeviceBinding("/dbsc", boundLifetime),
		cookiesession.WithClock(a.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := a.m.Get(r)
		s.Renew()
		s.Data.User = r.FormValue("user")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) { a.m.Get(r).Destroy() })
	mux.HandleFunc("POST /everywhere", func(w http.ResponseWriter, r *http.Request) {
		// Sign out every other device, and keep this one: Renew.
		s := a.m.Get(r)
		if err := a.m.SignOutEverywhere(r.Context(), s.Data.User); err != nil {
			t.Error(err)
		}
		s.Renew()
	})
	mux.HandleFunc("POST /note", func(w http.ResponseWriter, r *http.Request) { a.m.Get(r).Data.Note = r.FormValue("note") })
	mux.HandleFunc("GET /created", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(a.m.Get(r).Created().String()))
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := a.m.Get(r)
		if errors.Is(s.Err(), cookiesession.ErrUnproven) {
			w.Header().Set("X-Unproven", "1")
		}
		_, _ = w.Write([]byte(s.Data.User))
	})
	a.h = a.m.Handler(mux)
	return a
}

// boundBrowser is the shared test browser, with the DBSC requests
// Chromium makes.
type boundBrowser struct{ *browser }

func newBoundBrowser(t testing.TB) boundBrowser { return boundBrowser{newBrowser(t)} }

// copy returns another browser holding b's cookies: a thief's.
func (b boundBrowser) copy() boundBrowser {
	c := newBoundBrowser(b.t)
	c.SetCookies(nil, b.Cookies(nil))
	return c
}

// send makes one request with the given headers (name, value, ...),
// through the app, and keeps the cookies the response sets.
func (b boundBrowser) send(a *boundApp, method, target string, headers ...string) *http.Response {
	a.t.Helper()
	r := b.request(method, "https://app.test"+target)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	b.store(w.Result().Header)
	return w.Result()
}

func (b boundBrowser) has(name string) bool { return slices.Contains(b.names(), name) }

func (b boundBrowser) whoami(a *boundApp) (user string, unproven bool) {
	a.t.Helper()
	res := b.send(a, "GET", "/whoami")
	body, _ := io.ReadAll(res.Body)
	return string(body), res.Header.Get("X-Unproven") != ""
}

var challengeParam = regexp.MustCompile(`challenge="([^"]+)"`)
var challengeItem = regexp.MustCompile(`^"([^"]+)";id="([^"]+)"$`)

// bind signs in as user and registers dev, as Chromium does after the
// sign-in response, and returns the DBSC session identifier.
func (b boundBrowser) bind(a *boundApp, dev *dbsctest.Device, user string) string {
	a.t.Helper()
	return b.register(a, dev, b.send(a, "POST", "/login?user="+user))
}

// register registers dev as res, a response that invites it, asks, and
// returns the DBSC session identifier.
func (b boundBrowser) register(a *boundApp, dev *dbsctest.Device, res *http.Response) string {
	a.t.Helper()
	reg := res.Header.Get("Secure-Session-Registration")
	m := challengeParam.FindStringSubmatch(reg)
	if !strings.HasPrefix(reg, "(ES256 RS256);path=\"/dbsc\";") || m == nil {
		a.t.Fatalf("sign-in response invites %q", reg)
	}
	res = b.send(a, "POST", "/dbsc", "Secure-Session-Response", dev.RegistrationProof(m[1], ""))
	if res.StatusCode != http.StatusOK {
		a.t.Fatalf("registration: %s", res.Status)
	}
	var in struct {
		ID          string `json:"session_identifier"`
		RefreshURL  string `json:"refresh_url"`
		Credentials []struct {
			Type, Name, Attributes string
		} `json:"credentials"`
		Scope struct {
			Origin string `json:"origin"`
		} `json:"scope"`
	}
	if err := json.NewDecoder(res.Body).Decode(&in); err != nil {
		a.t.Fatal(err)
	}
	if in.ID == "" || in.RefreshURL != "/dbsc" || len(in.Credentials) != 1 || in.Credentials[0].Name != a.m.Name()+".bound" ||
		in.Credentials[0].Type != "cookie" || in.Scope.Origin != "https://app.test" ||
		in.Credentials[0].Attributes != "Path=/; HttpOnly; Secure; SameSite=Lax" {
		a.t.Fatalf("registration instructions: %+v", in)
	}
	if !b.has(a.m.Name() + ".bound") {
		a.t.Fatal("registration set no bound cookie")
	}
	return in.ID
}

// refresh plays Chromium's refresh: the identifier alone, a 403 with a
// challenge, then a proof over it. It returns the last response.
func (b boundBrowser) refresh(a *boundApp, dev *dbsctest.Device, id string) *http.Response {
	a.t.Helper()
	res := b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id)
	m := challengeItem.FindStringSubmatch(res.Header.Get("Secure-Session-Challenge"))
	if res.StatusCode != http.StatusForbidden || m == nil {
		return res
	}
	if m[2] != id {
		a.t.Errorf("challenge for id %q, want the session's", m[2])
	}
	return b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", dev.RefreshProof(m[1]))
}

// refreshProof signs user in and binds the session to a new device, then
// asks for a refresh challenge and returns the DBSC session's identifier
// and the device's proof over the challenge, not yet sent.
func (b boundBrowser) refreshProof(a *boundApp, user string) (id, proof string) {
	a.t.Helper()
	dev := dbsctest.NewES256()
	id = b.bind(a, dev, user)
	res := b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id)
	m := challengeItem.FindStringSubmatch(res.Header.Get("Secure-Session-Challenge"))
	if m == nil {
		a.t.Fatalf("no challenge: %s %v", res.Status, res.Header)
	}
	return id, dev.RefreshProof(m[1])
}

// The point of device binding: every cookie of the signed-in browser,
// copied, works at most until the bound lifetime ends; the browser, which
// holds the key, stays signed in through refreshes.
func TestDeviceBindingCopiedCookiesDie(t *testing.T) {
	a := newBoundApp(t)
	dev := dbsctest.NewES256()
	browser := newBoundBrowser(t)
	id := browser.bind(a, dev, "ada")
	if user, _ := browser.whoami(a); user != "ada" {
		t.Fatalf("bound browser: %q", user)
	}
	thief := browser.copy()
	if user, _ := thief.whoami(a); user != "ada" {
		t.Fatalf("a copy within the bound lifetime: %q, want it to work until then", user)
	}

	a.clock.Advance(boundLifetime)
	if user, unproven := thief.whoami(a); user != "" || !unproven {
		t.Errorf("a copy past the bound lifetime: %q (ErrUnproven %v); want refused", user, unproven)
	}
	// The browser's cookie expired too: it refreshes, then is signed in.
	if res := browser.refresh(a, dev, id); res.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %s", res.Status)
	}
	if user, _ := browser.whoami(a); user != "ada" {
		t.Errorf("after the refresh: %q", user)
	}
	// The thief cannot refresh without the device's key.
	other := dbsctest.NewES256()
	if res := thief.refresh(a, other, id); res.StatusCode == http.StatusOK {
		t.Error("a refresh signed by another key was accepted")
	}
	if user, _ := thief.whoami(a); user != "" {
		t.Errorf("the thief after trying to refresh: %q", user)
	}
}

// A refresh spans a rotation: during the second deploy of "Keys and
// rotation", an instance still sealing with the old key issues the
// challenge, and one sealing with the new key takes the answer, which it
// must accept, as it accepts the old key's cookies.
func TestDeviceBindingRefreshAcrossRotation(t *testing.T) {
	oldSecret, newSecret := []byte(strings.Repeat("k", 32)), []byte(strings.Repeat("n", 32))
	rotated, err := cookiesession.NewKeyring(newSecret, oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	before := newBoundApp(t)
	after := newBoundAppOn(t, rotated, before.clock)
	dev := dbsctest.NewES256()
	b := newBoundBrowser(t)
	id := b.bind(before, dev, "ada")
	before.clock.Advance(boundLifetime)

	res := b.send(before, "POST", "/dbsc", "Sec-Secure-Session-Id", id)
	m := challengeItem.FindStringSubmatch(res.Header.Get("Secure-Session-Challenge"))
	if m == nil {
		t.Fatalf("no challenge: %s %v", res.Status, res.Header)
	}
	res = b.send(after, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", dev.RefreshProof(m[1]))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a proof over the old key's challenge, to the new key's instance: %s; want 200", res.Status)
	}
	if user, unproven := b.whoami(after); user != "ada" || unproven {
		t.Errorf("after the refresh: %q (ErrUnproven %v), want ada", user, unproven)
	}
}

// A proof is accepted once: a refresh replayed within the challenge's
// window gets a fresh challenge, not a cookie.
func TestDeviceBindingProofOnce(t *testing.T) {
	a := newBoundApp(t)
	b := newBoundBrowser(t)
	id, proof := b.refreshProof(a, "ada")
	if res := b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof); res.StatusCode != http.StatusOK {
		t.Fatalf("first answer: %s", res.Status)
	}
	res := newBoundBrowser(t).send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof)
	if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
		t.Errorf("replayed proof: %s, cookies %v; want 403 without a cookie", res.Status, res.Cookies())
	}
}

// slowStore holds the first revocation made once it is armed until
// release is closed, as a shared store that is slow to answer would.
type slowStore struct {
	*revocation.Replica
	armed            *atomic.Bool
	entered, release chan struct{}
}

func (s slowStore) Revoke(ctx context.Context, subject string, r revocation.Revoked) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.entered)
		<-s.release
	}
	return s.Replica.Revoke(ctx, subject, r)
}

// A proof is accepted once even when the same proof comes twice at once
// and the store is slow to record the first: the second is not let
// through while the first is being recorded.
func TestDeviceBindingProofOnceConcurrently(t *testing.T) {
	clock := newClock()
	store := slowStore{revocation.NewReplica(clock.Now), new(atomic.Bool), make(chan struct{}), make(chan struct{})}
	keys, err := cookiesession.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	a := newBoundAppOn(t, keys, clock, cookiesession.WithRevocation(store))
	b := newBoundBrowser(t)
	id, proof := b.refreshProof(a, "ada")
	store.armed.Store(true)
	first := make(chan *http.Response)
	go func() {
		first <- b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof)
	}()
	<-store.entered
	replayed := newBoundBrowser(t).send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof)
	close(store.release)
	if res := <-first; res.StatusCode != http.StatusOK {
		t.Errorf("first answer: %s", res.Status)
	}
	// Refused as a replay after the first is (403 with a fresh
	// challenge), not told to try the same proof again later.
	if replayed.StatusCode != http.StatusForbidden || len(replayed.Cookies()) != 0 {
		t.Errorf("the same proof, while the first was being recorded: %s, cookies %v; want 403 without a cookie", replayed.Status, replayed.Cookies())
	}
}

// Destroy and SignOutEverywhere end the browser's DBSC session: the next
// refresh is a 403 without a challenge.
func TestDeviceBindingEnds(t *testing.T) {
	for _, end := range []string{"destroy", "everywhere"} {
		t.Run(end, func(t *testing.T) {
			a := newBoundApp(t)
			dev := dbsctest.NewES256()
			b := newBoundBrowser(t)
			id := b.bind(a, dev, "ada")
			if end == "destroy" {
				b.send(a, "POST", "/logout")
				if b.has(a.m.Name() + ".bound") {
					t.Error("Destroy left the bound cookie")
				}
			} else if err := a.m.SignOutEverywhere(t.Context(), "ada"); err != nil {
				t.Fatal(err)
			}
			res := newBoundBrowser(t).send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id)
			if res.StatusCode != http.StatusForbidden || res.Header.Get("Secure-Session-Challenge") != "" {
				t.Errorf("refresh after %s: %s, challenge %q; want 403 without one", end, res.Status, res.Header.Get("Secure-Session-Challenge"))
			}
		})
	}
}

// A Renew (a change of privilege, or keeping this device after signing out
// every other) writes the session under a new id, unbound: its DBSC
// session ends, and the response invites the browser to register again,
// after which it stays signed in through refreshes.
func TestDeviceBindingAfterRenew(t *testing.T) {
	for _, route := range []string{"/login?user=ada", "/everywhere"} {
		t.Run(route, func(t *testing.T) {
			a := newBoundApp(t)
			dev := dbsctest.NewES256()
			b := newBoundBrowser(t)
			old := b.bind(a, dev, "ada")
			res := b.send(a, "POST", route)
			if b.has(a.m.Name() + ".bound") {
				t.Error("Renew left the bound cookie")
			}
			if res := newBoundBrowser(t).send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", old); res.StatusCode != http.StatusForbidden || res.Header.Get("Secure-Session-Challenge") != "" {
				t.Errorf("refresh of the DBSC session from before the Renew: %s, challenge %q; want 403 without one", res.Status, res.Header.Get("Secure-Session-Challenge"))
			}
			id := b.register(a, dev, res)
			a.clock.Advance(boundLifetime)
			if res := b.refresh(a, dev, id); res.StatusCode != http.StatusOK {
				t.Fatalf("refresh: %s", res.Status)
			}
			if user, _ := b.whoami(a); user != "ada" {
				t.Errorf("after the refresh: %q", user)
			}
		})
	}
}

// Registration writes the session under a new id: a copy of the cookie
// from before it, unbound, stops working once RenewGrace is over, and
// cannot register a device of its own.
func TestDeviceBindingRegistrationRenewsTheID(t *testing.T) {
	a := newBoundApp(t)
	dev := dbsctest.NewES256()
	b := newBoundBrowser(t)
	res := b.send(a, "POST", "/login?user=ada")
	thief := b.copy()
	invite := challengeParam.FindStringSubmatch(res.Header.Get("Secure-Session-Registration"))
	b.register(a, dev, res)
	if res := thief.send(a, "POST", "/dbsc", "Secure-Session-Response", dbsctest.NewES256().RegistrationProof(invite[1], "")); res.StatusCode != http.StatusBadRequest {
		t.Errorf("the unbound copy registering its own key: %s", res.Status)
	}
	a.clock.Advance(cookiesession.RenewGrace)
	if user, _ := thief.whoami(a); user != "" {
		t.Errorf("the unbound copy after registration: %q", user)
	}
	if user, _ := b.whoami(a); user != "ada" {
		t.Errorf("the registered browser: %q", user)
	}
}

// Registration gives the session a new id, but not a new lifetime: a
// client cannot outlive WithMaxAge by registering a key.
func TestDeviceBindingRegistrationKeepsTheLifetime(t *testing.T) {
	a := newBoundApp(t)
	b := newBoundBrowser(t)
	res := b.send(a, "POST", "/login?user=ada")
	created, _ := io.ReadAll(b.send(a, "GET", "/created").Body)
	a.clock.Advance(time.Minute)
	b.register(a, dbsctest.NewES256(), res)
	if after, _ := io.ReadAll(b.send(a, "GET", "/created").Body); string(after) != string(created) {
		t.Errorf("created %s before registration, %s after", created, after)
	}
}

// Sessions with the zero id (written before sessions had ids, or converted
// from gorilla/sessions) cannot be told apart: registering one revokes
// nothing, so the user's other devices stay signed in.
func TestDeviceBindingZeroIDSessions(t *testing.T) {
	a := newBoundApp(t)
	keys, err := cookiesession.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	now := a.clock.Now()
	value, err := keys.Seal(a.m.Name(), cookiesession.Contents{Created: now, Issued: now, Data: []byte(`{"user":"ada"}`)})
	if err != nil {
		t.Fatal(err)
	}
	laptop, phone := newBoundBrowser(t), newBoundBrowser(t)
	laptop.cookies[a.m.Name()], phone.cookies[a.m.Name()] = value, value
	res := laptop.send(a, "POST", "/note?note=hi") // written, and invited
	laptop.register(a, dbsctest.NewES256(), res)
	a.clock.Advance(cookiesession.RenewGrace)
	if user, _ := phone.whoami(a); user != "ada" {
		t.Errorf("the other device after the laptop bound its session: %q", user)
	}
}

// racingStore is a store in which another request revokes the session
// between the request's load and its commit: the Check after the next one
// finds it revoked.
type racingStore struct {
	*revocation.Replica
	checks *int // counts down to the revocation; 0 for none
}

func (s racingStore) Check(subject string, id cookiesession.SessionID, generation uint64, now time.Time) error {
	if *s.checks > 0 {
		if *s.checks--; *s.checks == 0 {
			return revocation.ErrRevoked
		}
	}
	return s.Replica.Check(subject, id, generation, now)
}

// A registration whose session another request replaced meanwhile is
// refused: the session is not written, so nothing would carry the
// binding.
func TestDeviceBindingRegistrationRace(t *testing.T) {
	checks := 0
	clock := newClock()
	a := newBoundApp(t, cookiesession.WithRevocation(racingStore{revocation.NewReplica(clock.Now), &checks}), quiet)
	b := newBoundBrowser(t)
	res := b.send(a, "POST", "/login?user=ada")
	invite := challengeParam.FindStringSubmatch(res.Header.Get("Secure-Session-Registration"))
	if invite == nil {
		t.Fatalf("sign-in response invites %q", res.Header.Get("Secure-Session-Registration"))
	}
	checks = 2 // the load's passes, the commit's finds the session revoked
	res = b.send(a, "POST", "/dbsc", "Secure-Session-Response", dbsctest.NewES256().RegistrationProof(invite[1], ""))
	if res.StatusCode != http.StatusBadRequest || b.has(a.m.Name()+".bound") {
		t.Errorf("registration of a session replaced meanwhile: %s, bound cookie %v", res.Status, b.has(a.m.Name()+".bound"))
	}
}

// A refresh whose answer cannot be recorded, or whose session the store
// cannot vouch for, is answered 503, which the browser retries: a store
// that is down for a while ends no DBSC session.
func TestDeviceBindingStoreDown(t *testing.T) {
	for _, tt := range []struct {
		name  string
		store func(down *bool) cookiesession.RevocationStore
	}{
		{"cannot record the answer", func(down *bool) cookiesession.RevocationStore {
			return failingStore{revocation.NewReplica(newClock().Now), down}
		}},
		{"cannot tell whether the session was revoked", func(down *bool) cookiesession.RevocationStore {
			return switchStore{revocation.NewReplica(newClock().Now), down}
		}},
	} {
		down := false
		a := newBoundApp(t, cookiesession.WithRevocation(tt.store(&down)))
		dev := dbsctest.NewES256()
		b := newBoundBrowser(t)
		id := b.bind(a, dev, "ada")
		down = true
		if res := b.refresh(a, dev, id); res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s: refresh with the store down: %s; want 503", tt.name, res.Status)
		}
		down = false
		if res := b.refresh(a, dev, id); res.StatusCode != http.StatusOK {
			t.Errorf("%s: refresh once the store is back: %s", tt.name, res.Status)
		}
	}
}

// A proof whose answer the store could not record is not spent: sent
// again once the store is back, it is accepted (once). Only an answer
// recorded refuses the proof; one merely being recorded, then failed, does
// not.
func TestDeviceBindingProofRetriedAfterTheStoreIsBack(t *testing.T) {
	down := false
	a := newBoundApp(t, cookiesession.WithRevocation(failingStore{revocation.NewReplica(newClock().Now), &down}))
	b := newBoundBrowser(t)
	id, proof := b.refreshProof(a, "ada")
	down = true
	if res := b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("the proof with the store down: %s; want 503", res.Status)
	}
	down = false
	if res := b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof); res.StatusCode != http.StatusOK {
		t.Errorf("the same proof once the store is back: %s; want 200", res.Status)
	}
	if res := b.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof); res.StatusCode == http.StatusOK {
		t.Errorf("the same proof a third time: %s; want it refused", res.Status)
	}
}

// The DBSC session identifier carries its session's lifetime, as the
// session cookie does: an instance with a longer WithMaxAge does not
// refresh a DBSC session past the lifetime it was signed in under.
func TestDeviceBindingIdentifierKeepsItsLifetime(t *testing.T) {
	keys, err := cookiesession.NewKeyring([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	hour := newBoundAppOn(t, keys, clock, cookiesession.WithMaxAge(time.Hour))
	day := newBoundAppOn(t, keys, clock, cookiesession.WithMaxAge(24*time.Hour))
	dev := dbsctest.NewES256()
	b := newBoundBrowser(t)
	id := b.bind(hour, dev, "ada")
	clock.Advance(time.Hour - time.Minute)
	if res := b.refresh(day, dev, id); res.StatusCode != http.StatusOK {
		t.Fatalf("refresh within the hour, where the lifetime is a day: %s", res.Status)
	}
	clock.Advance(time.Minute)
	if res := b.refresh(day, dev, id); res.StatusCode == http.StatusOK {
		t.Errorf("refresh an hour on, signed in where the lifetime is an hour: %s; want it refused", res.Status)
	}
}

// Anonymous sessions are not invited, and a bound session is not bound
// again; the endpoint refuses what it cannot use with a 4xx, never a 500.
func TestDeviceBindingRefusals(t *testing.T) {
	a := newBoundApp(t)
	dev := dbsctest.NewES256()
	anon := newBoundBrowser(t)
	if res := anon.send(a, "GET", "/whoami"); res.Header.Get("Secure-Session-Registration") != "" {
		t.Error("an anonymous session was invited to bind")
	}
	if res := anon.send(a, "POST", "/note?note=hi"); len(res.Cookies()) == 0 || res.Header.Get("Secure-Session-Registration") != "" {
		t.Errorf("an anonymous session written (cookies %v) was invited to bind", res.Cookies())
	}
	bound := newBoundBrowser(t)
	id := bound.bind(a, dev, "ada")
	tests := []struct {
		name    string
		b       boundBrowser
		headers []string
	}{
		{"registration without a session", newBoundBrowser(t), []string{"Secure-Session-Response", dev.RegistrationProof("x", "")}},
		{"registration without a proof", bound, nil},
		{"registration of a bound session", bound, []string{"Secure-Session-Response", dev.RegistrationProof("x", "")}},
		{"garbage proof", bound, []string{"Secure-Session-Response", "a.b.c"}},
		{"garbage identifier", newBoundBrowser(t), []string{"Sec-Secure-Session-Id", "AAAA"}},
		{"refresh with a proof over no challenge", newBoundBrowser(t), []string{"Sec-Secure-Session-Id", id, "Secure-Session-Response", dev.RefreshProof("made-up")}},
		{"oversized identifier", newBoundBrowser(t), []string{"Sec-Secure-Session-Id", strings.Repeat("A", 1<<16)}},
	}
	for _, tt := range tests {
		res := tt.b.copy().send(a, "POST", "/dbsc", tt.headers...)
		if res.StatusCode < 400 || res.StatusCode >= 500 || len(res.Cookies()) != 0 && res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %s, cookies %v; want a 4xx without a cookie", tt.name, res.Status, res.Cookies())
		}
	}
	if res := bound.send(a, "GET", "/dbsc"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET of the endpoint: %s", res.Status)
	}
	// A cookie within a Renew's grace is read-only: its session cannot be
	// written with a binding, so none is registered for it.
	renewed := newBoundBrowser(t)
	res := renewed.send(a, "POST", "/login?user=ada")
	invite := challengeParam.FindStringSubmatch(res.Header.Get("Secure-Session-Registration"))
	if invite == nil {
		t.Fatalf("sign-in response invites %q", res.Header.Get("Secure-Session-Registration"))
	}
	old := renewed.copy()
	renewed.send(a, "POST", "/login?user=ada")
	if res := old.send(a, "POST", "/dbsc", "Secure-Session-Response", dev.RegistrationProof(invite[1], "")); res.StatusCode != http.StatusBadRequest || len(res.Cookies()) != 0 {
		t.Errorf("registration with a read-only cookie: %s, cookies %v", res.Status, res.Cookies())
	}
}

func TestDeviceBindingOptions(t *testing.T) {
	keys, _ := cookiesession.NewKeyring([]byte(strings.Repeat("k", 32)))
	subject := cookiesession.WithSubject(func(d boundUser) string { return d.User })
	tests := []struct {
		name string
		opts []cookiesession.Option
		want string
	}{
		{"no subject", []cookiesession.Option{cookiesession.WithDeviceBinding("/dbsc", time.Hour)}, "needs WithSubject"},
		{"relative path", []cookiesession.Option{subject, cookiesession.WithDeviceBinding("dbsc", time.Hour)}, "needs a path starting with"},
		{"empty path", []cookiesession.Option{subject, cookiesession.WithDeviceBinding("", time.Hour)}, "give the path"},
		{"insecure", []cookiesession.Option{subject, cookiesession.WithSecure(false), cookiesession.WithDeviceBinding("/dbsc", time.Hour)}, "needs Secure"},
		{"short", []cookiesession.Option{subject, cookiesession.WithDeviceBinding("/dbsc", time.Second)}, "at least"},
		{"longer than the session", []cookiesession.Option{subject, cookiesession.WithDeviceBinding("/dbsc", 48*time.Hour)}, "at most"},
		{"no revocation", []cookiesession.Option{subject, cookiesession.WithRevocation(nil), cookiesession.WithDeviceBinding("/dbsc", time.Hour)}, "revocation"},
		{"outside the cookie's path", []cookiesession.Option{subject, cookiesession.WithPath("/app"), cookiesession.WithDeviceBinding("/dbsc", time.Hour)}, "does not send it there"},
		{"beside the cookie's path", []cookiesession.Option{subject, cookiesession.WithPath("/app"), cookiesession.WithDeviceBinding("/apple/dbsc", time.Hour)}, "does not send it there"},
	}
	// Each error names the one thing missing, not a list to check.
	for _, tt := range tests {
		if _, err := cookiesession.New[boundUser](keys, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error about %q", tt.name, err, tt.want)
		}
	}
	for _, path := range []string{"/app", "/app/dbsc"} {
		if _, err := cookiesession.New[boundUser](keys, subject, cookiesession.WithPath("/app"), cookiesession.WithDeviceBinding(path, time.Hour)); err != nil {
			t.Errorf("WithDeviceBinding(%q) under Path /app: %v", path, err)
		}
	}
	// The bound lifetime's limits are accepted: MinBoundLifetime, and the
	// session's lifetime (DefaultMaxAge here).
	for _, lifetime := range []time.Duration{cookiesession.MinBoundLifetime, cookiesession.DefaultMaxAge} {
		if _, err := cookiesession.New[boundUser](keys, subject, cookiesession.WithDeviceBinding("/dbsc", lifetime)); err != nil {
			t.Errorf("WithDeviceBinding(\"/dbsc\", %v): %v", lifetime, err)
		}
	}
}

// BenchmarkDeviceBindingRefresh measures what a refresh costs the server:
// the 403 with a challenge, then the proof's verification and the fresh
// bound cookie (the device's signing is not counted). It reports the bytes
// the binding adds to the session cookie, the bound cookie's and the
// identifier's.
func BenchmarkDeviceBindingRefresh(b *testing.B) {
	dev := dbsctest.NewES256()
	var a *boundApp
	var br boundBrowser
	var id string
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if i%100 == 0 {
			// A new session now and then: the fake clock moves five
			// minutes a refresh, so that each answered challenge expires.
			a = newBoundApp(b)
			br = newBoundBrowser(b)
			id = br.bind(a, dev, "ada")
		}
		a.clock.Advance(5 * time.Minute)
		b.StartTimer()
		res := br.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id)
		b.StopTimer()
		m := challengeItem.FindStringSubmatch(res.Header.Get("Secure-Session-Challenge"))
		if m == nil {
			b.Fatalf("no challenge: %s", res.Status)
		}
		proof := dev.RefreshProof(m[1])
		b.StartTimer()
		if res := br.send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", id, "Secure-Session-Response", proof); res.StatusCode != http.StatusOK {
			b.Fatalf("refresh: %s", res.Status)
		}
	}
	b.StopTimer()
	keys, _ := cookiesession.NewKeyring([]byte(strings.Repeat("k", 32)))
	c := cookiesession.Contents{Created: t0, Issued: t0, ID: [16]byte{1}, Data: []byte(`{"user":"ada"}`)}
	plain, _ := keys.Seal("__Host-session", c)
	c.Binding = [16]byte{2}
	bound, _ := keys.Seal("__Host-session", c)
	b.ReportMetric(float64(len(bound)-len(plain)), "session-cookie-bytes-added")
	b.ReportMetric(float64(len(br.cookies[a.m.Name()+".bound"])), "bound-cookie-bytes")
	b.ReportMetric(float64(len(id)), "identifier-bytes")
}

// A request whose bound cookie has expired is unproven, not ended: the
// session cookie stays in the browser, so that the refresh that follows
// signs it back in. A response that deleted it would sign the user out.
func TestDeviceBindingUnprovenKeepsTheCookie(t *testing.T) {
	a := newBoundApp(t)
	dev := dbsctest.NewES256()
	browser := newBoundBrowser(t)
	id := browser.bind(a, dev, "ada")
	a.clock.Advance(boundLifetime)
	res := browser.send(a, "GET", "/whoami")
	if res.Header.Get("X-Unproven") == "" {
		t.Fatal("past the bound lifetime, the session was not unproven")
	}
	for _, c := range res.Cookies() {
		if c.Name == a.m.Name() {
			t.Errorf("an unproven request set the session cookie: %s", c)
		}
	}
	if res := browser.refresh(a, dev, id); res.StatusCode != http.StatusOK {
		t.Fatalf("refresh: %s", res.Status)
	}
	if user, _ := browser.whoami(a); user != "ada" {
		t.Errorf("after an unproven request and a refresh: %q, want ada", user)
	}
}

// The browser keeps the bound cookie exactly as long as the server accepts
// it: once the server would refuse it, the browser no longer has it, and
// refreshes instead of sending a cookie that leaves the user signed out.
// No answer of the endpoint, which sets cookies, is stored by a cache.
func TestDeviceBindingBoundCookieLifetime(t *testing.T) {
	a := newBoundApp(t)
	dev := dbsctest.NewES256()
	b := boundBrowser{newBrowser(t).withClock(a.clock)}
	id := b.bind(a, dev, "ada")
	bound := a.m.Name() + ".bound"
	a.clock.Advance(boundLifetime - time.Second)
	if !b.has(bound) {
		t.Errorf("a second before the bound lifetime ends, the browser dropped the bound cookie")
	}
	a.clock.Advance(time.Second)
	if b.has(bound) {
		t.Errorf("past the bound lifetime, the browser still holds the bound cookie, which the server refuses")
	}
	res := b.refresh(a, dev, id)
	if res.StatusCode != http.StatusOK || !b.has(bound) || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("refresh: %s, bound cookie %v, Cache-Control %q; want 200, a bound cookie, no-store", res.Status, b.has(bound), res.Header.Get("Cache-Control"))
	}
	if user, _ := b.whoami(a); user != "ada" {
		t.Errorf("after the refresh: %q", user)
	}
}

// A bound cookie proves only its own session's binding: one of another
// signed-in session (the thief's own account, on the thief's device) does
// not make a stolen session cookie usable.
func TestDeviceBindingBoundCookieOfAnotherSession(t *testing.T) {
	a := newBoundApp(t)
	ada, thief := newBoundBrowser(t), newBoundBrowser(t)
	ada.bind(a, dbsctest.NewES256(), "ada")
	thief.bind(a, dbsctest.NewES256(), "eve")
	thief.cookies[a.m.Name()] = ada.cookies[a.m.Name()]
	if user, unproven := thief.whoami(a); user != "" || !unproven {
		t.Errorf("ada's session cookie with eve's bound cookie: %q (ErrUnproven %v); want refused", user, unproven)
	}
}

// A signed-in user can hold a DBSC key of their own (a script needs no
// TPM) and refresh as fast as the server answers; each answered challenge
// is recorded until it expires. What one subject's answers hold in the
// store is capped, as its revoked sessions are: a flood gets 503s, which a
// browser retries, and grows neither the store nor the cost of each
// answer, which merges the subject's whole entry. Once the records
// expire, refreshes are answered again.
func TestDeviceBindingAnswersAreCapped(t *testing.T) {
	var clock *testClock
	rp := revocation.NewReplica(func() time.Time { return clock.Now() })
	a := newBoundApp(t, cookiesession.WithRevocation(rp))
	clock = a.clock
	dev := dbsctest.NewES256()
	b := newBoundBrowser(t)
	id := b.bind(a, dev, "mallory")
	const flood = 2000
	answered := 0
	for range flood {
		switch res := b.refresh(a, dev, id); res.StatusCode {
		case http.StatusOK:
			answered++
		case http.StatusServiceUnavailable:
		default:
			t.Fatalf("refresh in a flood: %s; want 200 or 503", res.Status)
		}
	}
	// The cap is eight times a subject's revoked sessions, exactly.
	if held, capped := rp.Len(), 8*cookiesession.MaxRevokedSessions; answered != capped || held > capped+1 {
		t.Errorf("%d refreshes in a row: %d answered, %d entries held; want a cap of %d", flood, answered, held, capped)
	}
	a.clock.Advance(10 * time.Minute)
	if res := b.refresh(a, dev, id); res.StatusCode != http.StatusOK {
		t.Errorf("refresh once the answers expired: %s", res.Status)
	}
}

// The session cookie, the bound cookie and the DBSC session identifier are
// sealed by the same keys, each for its own name: none stands in for
// another. A thief holding the bound cookie or the identifier (which the
// browser sends in a header) cannot make either a session, nor prove a
// session with the identifier, nor refresh with a cookie.
func TestDeviceBindingValuesDoNotMove(t *testing.T) {
	a := newBoundApp(t)
	b := newBoundBrowser(t)
	id := b.bind(a, dbsctest.NewES256(), "ada")
	name, bound := a.m.Name(), a.m.Name()+".bound"
	values := map[string]string{"session cookie": b.cookies[name], "bound cookie": b.cookies[bound], "identifier": id}
	for what, v := range values {
		if what != "session cookie" {
			thief := newBoundBrowser(t)
			thief.cookies[name] = v
			if user, _ := thief.whoami(a); user != "" {
				t.Errorf("the %s as the session cookie: signed in as %q", what, user)
			}
		}
		if what != "bound cookie" {
			thief := b.copy()
			thief.cookies[bound] = v
			if user, unproven := thief.whoami(a); user != "" || !unproven {
				t.Errorf("the %s as the bound cookie: %q (ErrUnproven %v); want unproven", what, user, unproven)
			}
		}
		if what != "identifier" {
			res := newBoundBrowser(t).send(a, "POST", "/dbsc", "Sec-Secure-Session-Id", v)
			if res.StatusCode != http.StatusForbidden || res.Header.Get("Secure-Session-Challenge") != "" {
				t.Errorf("the %s as the identifier: %s, challenge %q; want a bare 403", what, res.Status, res.Header.Get("Secure-Session-Challenge"))
			}
		}
	}
}

// The answers of a user's refreshes are recorded under a subject of their
// own, the user's with a prefix. Where users choose their own names, one
// may choose that subject: signing out everywhere, or ending sessions,
// under it must not refuse the other user's refreshes, which would sign
// them out of every bound device until the next sign-in.
func TestDeviceBindingAnswersApartFromSubjects(t *testing.T) {
	a := newBoundApp(t)
	ada := newBoundBrowser(t)
	dev := dbsctest.NewES256()
	id := ada.bind(a, dev, "ada")
	mallory := newBoundBrowser(t)
	mallory.send(a, "POST", "/login?user=%00dbsc%00ada")
	for range 40 { // past MaxRevokedSessions: the generation is raised
		mallory.send(a, "POST", "/everywhere")
		mallory.send(a, "POST", "/logout")
		mallory.send(a, "POST", "/login?user=%00dbsc%00ada")
	}
	if res := ada.refresh(a, dev, id); res.StatusCode != http.StatusOK {
		t.Errorf("ada's refresh after another user's sign-outs: %s", res.Status)
	}
}

// A Cookie header may bring up to ten values of the session cookie and ten
// of the bound cookie (a sibling subdomain can plant values of a name
// without a prefix, and anyone can send them). Each bound value is opened
// at most once per request, not once for each session value that opens
// bound: the cost stays linear in the header. A planted value sent before
// the browser's own does not hide it: every value is opened. The bound values here carry
// a key id of the ring, so that each fails only after authentication.
func TestDeviceBindingManyBoundValuesCostLittle(t *testing.T) {
	a := newBoundApp(t)
	b := newBoundBrowser(t)
	b.bind(a, dbsctest.NewES256(), "ada")
	name := a.m.Name()
	keys, err := cookiesession.NewKeyring([]byte(strings.Repeat("k", 32))) // newBoundApp's
	if err != nil {
		t.Fatal(err)
	}
	junk, err := keys.Seal("junk", cookiesession.Contents{Created: t0, Issued: t0, Data: []byte(strings.Repeat("x", 2900))})
	if err != nil {
		t.Fatal(err)
	}
	// A planted value sent before the browser's own does not hide it.
	r := httptest.NewRequest("GET", "https://app.test/whoami", nil)
	r.Header.Set("Cookie", name+"="+b.cookies[name]+"; "+name+".bound="+junk+"; "+name+".bound="+b.cookies[name+".bound"])
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, r)
	if rec.Header().Get("X-Unproven") != "" {
		t.Error("the browser's bound cookie, after a planted one, did not prove the session")
	}

	var parts []string
	for range 10 {
		parts = append(parts, name+"="+b.cookies[name], name+".bound="+junk)
	}
	header := strings.Join(parts, "; ")
	least := ^uint64(0)
	for range 3 { // the least of three: no other goroutine's allocations
		r := httptest.NewRequest("GET", "https://app.test/whoami", nil)
		r.Header.Set("Cookie", header)
		rec := httptest.NewRecorder()
		var before, after runtimeMem
		before.read()
		a.h.ServeHTTP(rec, r)
		after.read()
		least = min(least, after.total-before.total)
		if rec.Header().Get("X-Unproven") == "" {
			t.Fatal("planted bound cookies proved the session")
		}
	}
	if bound := 3 * uint64(len(header)); least > bound {
		t.Errorf("a header of %d bytes allocated %d bytes; the bound is %d", len(header), least, bound)
	}
}
