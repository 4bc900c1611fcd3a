package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// account is the session data of the test application.
type account struct {
	User  string
	Visit int
}

// instance is one instance of the test application: its own Manager and
// Store, sharing keys and Redis with the others, on its own clock.
type instance struct {
	handler http.Handler
	store   *Store
	clock   func() time.Time
	errs    chan error // what the error handler received
}

func newInstance(t *testing.T, e *env, keys *cookiesession.Keyring, offset time.Duration) *instance {
	t.Helper()
	clock := func() time.Time { return e.clock.now().Add(offset) }
	store := e.store(WithClock(clock))
	e.ready(store)
	in := &instance{store: store, clock: clock, errs: make(chan error, 64)}
	m, err := cookiesession.New[account](keys,
		cookiesession.WithSubject(func(a account) string { return a.User }),
		cookiesession.WithRevocation(store),
		cookiesession.WithClock(clock),
		cookiesession.WithErrorHandler(func(_ http.ResponseWriter, _ *http.Request, err error) {
			select {
			case in.errs <- err:
			default:
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.Renew()
		s.Data.User = r.URL.Query().Get("user")
	})
	mux.HandleFunc("GET /visit", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Data.Visit++ // an anonymous session, written
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Renew()
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		fmt.Fprintf(w, "%s|%t", s.Data.User, errors.Is(s.Err(), cookiesession.ErrRevoked))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		m.Get(r).Destroy()
	})
	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if err := m.SignOutEverywhere(r.Context(), s.Data.User); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.Destroy()
	})
	in.handler = m.Handler(mux)
	return in
}

// noErrors fails the test if an instance's error handler was called: a
// revocation that did not reach Redis, for one.
func noErrors(t *testing.T, ins ...*instance) {
	t.Helper()
	for i, in := range ins {
		select {
		case err := <-in.errs:
			t.Errorf("instance %d's error handler: %v", i+1, err)
		default:
		}
	}
}

// browser keeps the cookies the responses set.
type browser map[string]*http.Cookie

// do sends a request with the browser's cookies, keeps the ones the
// response sets, and returns the response's body.
func (b browser) do(t *testing.T, in *instance, method, target string) string {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for _, c := range b {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	in.handler.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b, c.Name)
		} else {
			b[c.Name] = c
		}
	}
	body, _ := io.ReadAll(rec.Result().Body)
	return string(body)
}

// copy returns a browser holding the same cookies: a copied cookie.
func (b browser) copy() browser {
	c := browser{}
	for k, v := range b {
		c[k] = v
	}
	return c
}

func newKeys(t *testing.T) *cookiesession.Keyring {
	t.Helper()
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// Anonymous sessions cost nothing: 2,000 anonymous visits, renewals and
// sign-outs through a real Manager leave Redis with the epoch alone and
// the replica empty.
func TestAnonymousSessionsAddNothing(t *testing.T) {
	e := newEnv(t)
	in := newInstance(t, e, newKeys(t), 0)
	for i := range 500 {
		b := browser{}
		b.do(t, in, "GET", "/visit")
		b.do(t, in, "POST", "/renew")
		b.do(t, in, "GET", "/visit")
		b.do(t, in, "POST", "/logout")
		if i == 0 && len(b) != 0 {
			t.Fatalf("the sign-out left cookies: %v", b)
		}
	}
	fields, err := e.client().HKeys(context.Background(), hashKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) > 1 || (len(fields) == 1 && fields[0] != epochField) {
		t.Errorf("2,000 anonymous requests left fields %q in Redis; want the epoch alone", fields)
	}
	if n := in.store.Len(); n != 0 {
		t.Errorf("2,000 anonymous requests left %d entries in the replica", n)
	}
	noErrors(t, in)
}

// Instances whose clocks are up to 61 s apart: a destroyed session's copy
// is refused at once where it was destroyed and by every instance as soon
// as it hears, and "sign out everywhere" on the slowest instance refuses
// sessions signed in on the fastest, including one whose creation time
// reads 45 s after the sign-out. No refusal compares clocks.
func TestClockSkewDoesNotMatter(t *testing.T) {
	e := newEnv(t)
	keys := newKeys(t)
	slow := newInstance(t, e, keys, 0)
	mid := newInstance(t, e, keys, 45*time.Second)
	fast := newInstance(t, e, keys, 61*time.Second)
	all := []*instance{slow, mid, fast}

	alice := browser{}
	alice.do(t, fast, "POST", "/login?user=alice")
	stolen := alice.copy()
	for i, in := range all {
		if got := stolen.copy().do(t, in, "GET", "/whoami"); got != "alice|false" {
			t.Fatalf("instance %d before the sign-out: %q", i+1, got)
		}
	}
	alice.do(t, slow, "POST", "/logout")
	if got := stolen.copy().do(t, slow, "GET", "/whoami"); got != "|true" {
		t.Errorf("the destroying instance, at once: %q; want refused", got)
	}
	for i, in := range all {
		e.waitUntil(5*time.Second, fmt.Sprintf("instance %d refuses the destroyed copy", i+1), func() bool {
			return stolen.copy().do(t, in, "GET", "/whoami") == "|true"
		})
	}

	// bob signs in on the fast instances, then signs out everywhere on
	// the slow one: to its clock, both sessions begin in the future.
	phone, laptop, tablet := browser{}, browser{}, browser{}
	phone.do(t, fast, "POST", "/login?user=bob")
	laptop.do(t, mid, "POST", "/login?user=bob")
	tablet.do(t, slow, "POST", "/login?user=bob")
	tablet.do(t, slow, "POST", "/logout-everywhere")
	for i, in := range all {
		for name, b := range map[string]browser{"phone": phone, "laptop": laptop} {
			e.waitUntil(5*time.Second, fmt.Sprintf("instance %d refuses bob's %s", i+1, name), func() bool {
				return b.copy().do(t, in, "GET", "/whoami") == "|true"
			})
		}
	}
	// bob signs in again on the fast instance: accepted everywhere.
	phone = browser{}
	phone.do(t, fast, "POST", "/login?user=bob")
	for i, in := range all {
		if got := phone.copy().do(t, in, "GET", "/whoami"); got != "bob|false" {
			t.Errorf("instance %d, a session signed in after the sign-out: %q", i+1, got)
		}
	}
	noErrors(t, all...)
}

// Past MaxRevokedSessions sign-outs of one user, the Manager raises the
// generation instead; the state of a user in Redis stays bounded.
func TestOneUserCannotGrowTheState(t *testing.T) {
	e := newEnv(t)
	in := newInstance(t, e, newKeys(t), 0)
	for range 3 * cookiesession.MaxRevokedSessions {
		b := browser{}
		b.do(t, in, "POST", "/login?user=mallory")
		b.do(t, in, "POST", "/logout")
	}
	got := e.inRedis(e.client(), "mallory")
	if len(got.Sessions) > cookiesession.MaxRevokedSessions || got.Generation == 0 {
		t.Errorf("Redis holds %d sessions and generation %d for one user", len(got.Sessions), got.Generation)
	}
	noErrors(t, in)
}

// A renewed session's old cookie opens for RenewGrace on every instance,
// read-only: a thief holding it cannot renew it, or write it, into a
// session that outlives the sign-out, on any instance, however quickly it
// acts; once the grace has passed on an instance's own clock, it is
// refused there.
func TestTheGraceMintsNoSessionOnAnyInstance(t *testing.T) {
	e := newEnv(t)
	keys := newKeys(t)
	a, b := newInstance(t, e, keys, 0), newInstance(t, e, keys, -30*time.Second)
	alice := browser{}
	alice.do(t, a, "POST", "/login?user=alice")
	stolen := alice.copy()
	alice.do(t, a, "POST", "/renew") // a change of privilege: the old id gets a grace
	e.waitUntil(5*time.Second, "instance b hears of the renewal", func() bool {
		_, n := b.store.Generation("alice")
		return n == 1
	})
	for i, in := range []*instance{a, b} {
		thief := stolen.copy()
		for _, step := range []string{"/renew", "/login?user=alice"} {
			thief.do(t, in, "POST", step)
			if thief[cookiesession.DefaultName].Value != stolen[cookiesession.DefaultName].Value {
				t.Errorf("instance %d: %s within the grace gave the thief a new cookie", i+1, step)
			}
			select {
			case err := <-in.errs:
				if !errors.Is(err, cookiesession.ErrReplaced) {
					t.Errorf("instance %d: the error handler heard %v, want ErrReplaced", i+1, err)
				}
			default:
				t.Errorf("instance %d: %s within the grace was not reported", i+1, step)
			}
		}
		if got := thief.do(t, in, "GET", "/whoami"); got != "alice|false" {
			t.Errorf("instance %d, reading within the grace: %q", i+1, got)
		}
	}
	e.clock.advance(cookiesession.RenewGrace)
	for i, in := range []*instance{a, b} {
		if got := stolen.copy().do(t, in, "GET", "/whoami"); got != "|true" {
			t.Errorf("instance %d after the grace: %q; want refused", i+1, got)
		}
		if got := alice.copy().do(t, in, "GET", "/whoami"); got != "alice|false" {
			t.Errorf("instance %d, the renewed cookie: %q", i+1, got)
		}
	}
	noErrors(t, a, b)
}
