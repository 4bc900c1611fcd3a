package cookiesession_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// The rolling-rotation soak: three instances of an application behind
// real loopback servers share keys, while 64 users do read-modify-write on
// a counter in their sessions, round-robin over the instances. The
// instances are restarted one at a time through the three deploys of a
// rolling rotation, "old,new", then "new,old", then "new", exactly as an
// operator would run it. No user may lose an update, see a 5xx or be
// signed out, and at the end every cookie must be sealed by the new key
// and open without the old one.

type soakData struct{ Counter int }

// soakApp increments the session's counter on a POST (only reads it on a
// GET) and answers with it, saying whether the session was new and, if a
// cookie did not open, why.
func soakApp(m *Manager[soakData]) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		if r.Method == http.MethodPost {
			s.Data.Counter++
		}
		w.Header().Set("X-Session-New", strconv.FormatBool(s.IsNew()))
		if err := s.Err(); err != nil {
			w.Header().Set("X-Session-Err", err.Error())
		}
		_, _ = io.WriteString(w, strconv.Itoa(s.Data.Counter))
	}))
}

// newSoakApp starts an instance with the key list an operator would put in
// SESSION_KEYS. Cookies are not Secure, because the servers speak plain
// HTTP on loopback and the users' jars would not send Secure cookies there.
func newSoakApp(t *testing.T, keyList string) http.Handler {
	t.Helper()
	keys, err := ParseKeyring(keyList)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New[soakData](keys, WithSecure(false), quiet)
	if err != nil {
		t.Fatal(err)
	}
	return soakApp(m)
}

// soakStats counts what must not happen, and keeps the first messages.
type soakStats struct {
	requests, lost, serverErrors, signedOut, transport atomic.Int64
	mu                                                 sync.Mutex
	messages                                           []string
}

func (s *soakStats) fail(counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.messages) < 20 {
		s.messages = append(s.messages, fmt.Sprintf(format, args...))
	}
}

// soakUser is one browser: its own cookie jar, one request at a time.
type soakUser struct {
	id       int
	client   *http.Client
	jar      *browser
	requests int
	counter  int // the last value the application returned
}

// do runs one read-modify-write and checks that it found the previous
// value: exactly one more than the last response, and a session that is
// new only on the first request. Odd-numbered users only read after their
// first request: their cookies change only when the rotation makes them
// stale, so that a stale cookie a read does not seal again signs them out
// at the last deploy.
func (u *soakUser) do(base string, stats *soakStats) {
	stats.requests.Add(1)
	reader := u.id%2 == 1 && u.requests > 0
	var resp *http.Response
	var err error
	if reader {
		resp, err = u.client.Get(base + "/read")
	} else {
		resp, err = u.client.Post(base+"/incr", "text/plain", nil)
	}
	if err != nil {
		stats.fail(&stats.transport, "user %d: %v", u.id, err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		stats.fail(&stats.transport, "user %d: reading the body: %v", u.id, err)
		return
	}
	if resp.StatusCode >= 500 {
		stats.fail(&stats.serverErrors, "user %d: status %d from %s", u.id, resp.StatusCode, base)
		return
	}
	got, err := strconv.Atoi(string(body))
	if err != nil {
		stats.fail(&stats.transport, "user %d: body %q", u.id, body)
		return
	}
	first := u.requests == 0
	u.requests++
	if isNew := resp.Header.Get("X-Session-New") == "true"; isNew != first {
		stats.fail(&stats.signedOut, "user %d, request %d to %s: new session %v (err %q)",
			u.id, u.requests, base, isNew, resp.Header.Get("X-Session-Err"))
	}
	want := u.counter + 1
	if reader {
		want = u.counter
	}
	if got != want {
		stats.fail(&stats.lost, "user %d, request %d to %s: counter %d after %d", u.id, u.requests, base, got, u.counter)
	}
	u.counter = got
}

// soakEpoch is the time between two restarts: it starts when a restart
// is applied, and is done when every user has completed perEpoch requests
// that started after it.
type soakEpoch struct {
	started chan struct{}
	done    sync.WaitGroup
}

func TestRollingRotationSoak(t *testing.T) {
	const (
		users     = 64
		instances = 3
	)
	// Each user makes at least perEpoch requests between two restarts
	// (three: one to each instance, round-robin) and at most one more, so
	// that the run is bounded: 10 epochs of 64 users, 1920 to 2560
	// requests (640 to 1280 with -short).
	perEpoch := 3
	if testing.Short() {
		perEpoch = 1
	}
	maxPerEpoch := perEpoch + 1

	oldKey, newKey := EncodeSecret(testSecret(21)), EncodeSecret(testSecret(22))

	// The instances: stable servers whose handler a restart replaces.
	var slots [instances]atomic.Pointer[http.Handler]
	var bases [instances]string
	for i := range slots {
		h := newSoakApp(t, oldKey)
		slots[i].Store(&h)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*slots[i].Load()).ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		bases[i] = srv.URL
	}

	// The rolling rotation, one restart at a time; each instance gets a
	// new Manager, as a restarted process would.
	type restart struct {
		instance int
		keys     string
		handler  http.Handler
	}
	var plan []restart
	for _, list := range []string{oldKey + "," + newKey, newKey + "," + oldKey, newKey} {
		for i := 0; i < instances; i++ {
			plan = append(plan, restart{i, list, newSoakApp(t, list)})
		}
	}
	epochs := make([]*soakEpoch, len(plan)+1)
	for e := range epochs {
		epochs[e] = &soakEpoch{started: make(chan struct{})}
		epochs[e].done.Add(users)
	}
	close(epochs[0].started)
	last := len(plan)
	var current atomic.Int32 // the epoch: restarts applied so far

	transport := &http.Transport{MaxIdleConnsPerHost: users}
	defer transport.CloseIdleConnections()
	var stats soakStats
	all := make([]*soakUser, users)
	stop := make(chan struct{})
	var running sync.WaitGroup
	start := time.Now()
	for id := range all {
		jar := newBrowser(t)
		u := &soakUser{id: id, jar: jar, client: &http.Client{Transport: transport, Jar: jar, Timeout: time.Minute}}
		all[id] = u
		running.Add(1)
		go func() {
			defer running.Done()
			epoch, inEpoch := 0, 0
			for n := 0; ; {
				if e := int(current.Load()); e > epoch {
					epoch, inEpoch = e, 0
				}
				if inEpoch >= maxPerEpoch {
					// Enough in this epoch: wait for the next restart.
					if epoch == last {
						<-stop
						return
					}
					select {
					case <-epochs[epoch+1].started:
						continue
					case <-stop:
						return
					}
				}
				u.do(bases[(u.id+n)%instances], &stats)
				n++
				inEpoch++
				if inEpoch == perEpoch {
					epochs[epoch].done.Done()
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}

	// The operator: restart each instance in turn, each only once every
	// user has been served since the previous restart. In particular, the
	// third deploy ("new" only) begins only after every user has made a
	// request with every instance on "new,old", so that every session was
	// sealed again by the new key: the rule "after the longest session
	// lifetime", for sessions that are all in use.
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for e, r := range plan {
			epochs[e].done.Wait()
			h := r.handler
			slots[r.instance].Store(&h)
			current.Store(int32(e + 1))
			close(epochs[e+1].started)
		}
		epochs[last].done.Wait()
		close(stop)
		running.Wait()
	}()
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the soak did not finish in 2 minutes (%d requests)", stats.requests.Load())
	}
	elapsed := time.Since(start)
	t.Logf("%d users, %d restarts, %d requests in %v", users, len(plan), stats.requests.Load(), elapsed.Round(time.Millisecond))

	stats.mu.Lock()
	for _, msg := range stats.messages {
		t.Error(msg)
	}
	stats.mu.Unlock()
	if n := stats.lost.Load(); n > 0 {
		t.Errorf("%d lost updates", n)
	}
	if n := stats.serverErrors.Load(); n > 0 {
		t.Errorf("%d responses were 5xx", n)
	}
	if n := stats.signedOut.Load(); n > 0 {
		t.Errorf("%d requests got a new session after the first", n)
	}
	if n := stats.transport.Load(); n > 0 {
		t.Errorf("%d requests failed", n)
	}
	if bound := int64(users * maxPerEpoch * (last + 1)); stats.requests.Load() > bound {
		t.Errorf("%d requests, more than the bound of %d", stats.requests.Load(), bound)
	}

	// Every cookie opens with the new key alone, and was sealed by it.
	newOnly, err := ParseKeyring(newKey)
	if err != nil {
		t.Fatal(err)
	}
	check, err := New[soakData](newOnly, WithSecure(false))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range all {
		if names := u.jar.names(); len(names) != 1 || names[0] != FallbackName {
			t.Errorf("user %d holds cookies %q, want one session cookie", u.id, names)
			continue
		}
		if _, key, err := newOnly.Open(FallbackName, u.jar.Cookies(nil), time.Now(), Limits{}); err != nil || key != 0 {
			t.Errorf("user %d: the cookie does not open with the new key alone: %v", u.id, err)
			continue
		}
		s := check.Load(u.jar.request("GET", "/"))
		wantCounter := u.requests // a writer's counter counts its requests
		if u.id%2 == 1 {
			wantCounter = 1 // a reader wrote once, then read
		}
		// Sealed by the newest key already: saving it unchanged writes
		// nothing.
		rec := httptest.NewRecorder()
		if err := check.Save(rec, s); err != nil || sets(rec) {
			t.Errorf("user %d: saved unchanged under the new key alone: %v, Set-Cookie %q", u.id, err, rec.Header().Values("Set-Cookie"))
		}
		if s.IsNew() || s.Data.Counter != u.counter || u.counter != wantCounter {
			t.Errorf("user %d: new %v (err %v), counter %d after %d requests, last seen %d",
				u.id, s.IsNew(), s.Err(), s.Data.Counter, u.requests, u.counter)
		}
	}
}

// TestRollingRotationOutOfOrder is the soak's counter-example: deploys in
// the wrong order sign users out, which is what the soak would catch.
func TestRollingRotationOutOfOrder(t *testing.T) {
	oldKey, newKey := EncodeSecret(testSecret(21)), EncodeSecret(testSecret(22))
	for _, tt := range []struct {
		name        string
		first, then string // the key lists of the instance that seals and of the one that reads next
	}{
		// Step 1 skipped: an instance already sealing with the new key
		// while another does not know it yet.
		{"new key seals before every instance accepts it", newKey + "," + oldKey, oldKey},
		// Step 3 too early: the old key dropped while a session sealed by
		// it is still in use.
		{"old key dropped before every session was re-sealed", oldKey + "," + newKey, newKey},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			b.do(newSoakApp(t, tt.first), "POST", "/incr")
			rec := b.do(newSoakApp(t, tt.then), "POST", "/incr")
			if rec.Header().Get("X-Session-New") != "true" || !strings.Contains(rec.Header().Get("X-Session-Err"), ErrUnknownKey.Error()) || rec.Body.String() != "1" {
				t.Errorf("new %s, err %q, counter %s: the session survived", rec.Header().Get("X-Session-New"), rec.Header().Get("X-Session-Err"), rec.Body.String())
			}
		})
	}
}
