package cookiesession_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// nextRequestMax is the longest Cookie header a session may leave the next
// request with: curl's 8,190 bytes (nginx's and Apache's default line
// limit is about the same), less 256 for the request line and the headers
// before the cookies.
const nextRequestMax = 8190 - 256

// A session too large for one cookie is split into chunk cookies, each
// Set-Cookie line within 4096 bytes (the browser checks), and read back
// whole, by the Manager that wrote it and by another with the same keys.
func TestChunkRoundTrips(t *testing.T) {
	for _, tt := range []struct{ size, cookies int }{
		{100, 1}, {3000, 1}, {3800, 1}, {4100, 2}, {6000, 2}, {7000, 2},
	} {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			m := newTestManager[user](t, newClock())
			b := newBrowser(t)
			want := bigData(tt.size)
			b.do(handle(m, func(s *Session[user]) { s.Data = want }), "GET", "/")
			if len(b.cookies) != tt.cookies {
				t.Errorf("%d cookies, want %d", len(b.cookies), tt.cookies)
			}
			if h := "Cookie: " + b.header(); len(h) > 8192 {
				t.Errorf("the Cookie header is %d bytes, over 8 KB", len(h))
			}
			// Read back by this Manager and by another with the same keys.
			opener := newTestManager[user](t, newClock())
			for _, reader := range []*Manager[user]{m, opener} {
				var got user
				var err error
				b.do(handle(reader, func(s *Session[user]) { got, err = s.Data, s.Err() }), "GET", "/")
				if !reflect.DeepEqual(got, want) || err != nil {
					t.Fatalf("round trip lost the data (err %v)", err)
				}
			}
		})
	}
}

func TestChunksShrinkAndGrow(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithPath(longPath), WithMaxSize(7600))
	b := newBrowser(t)
	set := func(n int) *httptest.ResponseRecorder {
		return b.do(handle(m, func(s *Session[user]) { s.Data = bigData(n) }), "GET", "/")
	}
	set(7000)
	if len(b.cookies) != 3 {
		t.Fatalf("%d cookies, want 3", len(b.cookies))
	}
	rec := set(4000)
	if len(b.cookies) != 2 || b.cookies["session.2"] != "" {
		t.Errorf("after shrinking: cookies %v", b.names())
	}
	if !strings.Contains(strings.Join(rec.Header().Values("Set-Cookie"), "\n"), "session.2=; Path="+longPath+"; Max-Age=0") {
		t.Errorf("the stale chunk was not deleted: %q", rec.Header().Values("Set-Cookie"))
	}
	set(100)
	if len(b.cookies) != 1 {
		t.Errorf("after shrinking to one: cookies %v", b.names())
	}
	b.do(handle(m, func(s *Session[user]) { s.Destroy() }), "GET", "/")
	if len(b.cookies) != 0 {
		t.Errorf("after Destroy: cookies %v", b.names())
	}
}

// Only session.1, session.2, ... in plain digits, as many as the session
// may take, are its chunks: a cookie whose name merely looks like one is
// the application's, and writing the session neither reads nor deletes
// it.
func TestOnlyChunkNamesAreChunks(t *testing.T) {
	m := newTestManager[user](t, newClock())
	for _, name := range []string{"session.+1", "session.01", "session.16", "session.1x", "session.", "sessions.1"} {
		b := newBrowser(t)
		b.cookies[name] = "app"
		rec := b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
		if set := strings.Join(rec.Header().Values("Set-Cookie"), "\n"); strings.Contains(set, "Max-Age=0") {
			t.Errorf("with a cookie named %q: the response deleted a cookie: %q", name, set)
		}
	}
	// The chunks a session may take are its own: one of them alone is a
	// broken session, deleted.
	if got := sessionCookieNames(t, m); !slices.Equal(got, []string{"session", "session.1"}) {
		t.Errorf("the session's cookies are %q, want session and session.1", got)
	}
	big := newTestManager[user](t, newClock(), WithPath(longPath), WithMaxSize(7600))
	if got := sessionCookieNames(t, big); !slices.Equal(got, []string{"session", "session.1", "session.2", "session.3"}) {
		t.Errorf("with room for four cookies, the session's cookies are %q", got)
	}
}

// A browser sends one cookie per name, path and domain, the most specific
// path first: a cookie of the session's name that another store set for
// another path or domain (gorilla's, before a migration, or one tossed by
// a sibling subdomain) can come before the genuine one. A value that opens
// wins over one that does not, so the session neither resets on every
// request nor deletes the genuine cookie.
func TestSameNameCookies(t *testing.T) {
	clock := gorillaClock()
	m := newTestManager[user](t, clock, WithGorillaMigration(gorillaStore, convertUser))
	gorilla := gorillaCookie(t, "session", map[any]any{"name": "old"}, gorillaHash, gorillaBlock)
	var value string // the genuine cookie, as the last response set it
	count := func(s *Session[user]) { s.Data.Name = "ada"; s.Data.N++ }
	for i := 1; i <= 3; i++ {
		cookie := "session=" + gorilla // the old store's cookie, for /app, first
		if value != "" {
			cookie += "; session=" + value
		}
		s, rec := send(m, cookie, count)
		if s.Data.N != i {
			t.Fatalf("request %d: N = %d, want %d (the change of the previous request was lost)", i, s.Data.N, i)
		}
		set := rec.Header().Values("Set-Cookie")
		if len(set) != 1 || strings.Contains(set[0], "Max-Age=0") {
			t.Fatalf("request %d: Set-Cookie %q, want the session written", i, set)
		}
		value = strings.TrimPrefix(strings.SplitN(set[0], ";", 2)[0], "session=")
	}

	// Garbage first, genuine second: the genuine one, and nothing deleted.
	s, rec := send(m, "session=garbage; session="+value, nil)
	if s.IsNew() || s.Data.N != 3 || len(rec.Header().Values("Set-Cookie")) != 0 {
		t.Errorf("garbage before the genuine value: new %v, N %d, Set-Cookie %q", s.IsNew(), s.Data.N, rec.Header().Values("Set-Cookie"))
	}

	// A first value that cannot even be put together (a chunked session of
	// another path whose chunks did not come, or one over the size cap)
	// does not hide the values after it.
	for _, first := range []string{"2." + value, strings.Repeat("x", DefaultMaxSize+100)} {
		for _, second := range []string{value, gorilla} {
			s := load(m, "session="+first+"; session="+second)
			if s.IsNew() || s.Data.Name == "" {
				t.Errorf("a first value of %d bytes that does not assemble hid the next: new %v, err %v", len(first), s.IsNew(), s.Err())
			}
		}
	}
}

func TestBrokenChunkSets(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithPath(longPath), WithMaxSize(7600))
	chunked := func() map[string]string {
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data = bigData(7000) }), "GET", "/")
		return b.cookies
	}
	a, other := chunked(), chunked()
	tests := []struct {
		name    string
		cookies map[string]string
		want    error
	}{
		{"missing middle chunk", map[string]string{"session": a["session"], "session.2": a["session.2"]}, ErrMalformed},
		{"missing last chunk", map[string]string{"session": a["session"], "session.1": a["session.1"]}, ErrMalformed},
		{"swapped chunks", map[string]string{"session": a["session"], "session.1": a["session.2"], "session.2": a["session.1"]}, ErrAuthentication},
		// Another session's chunk carries another tag: it is not taken.
		{"chunks of two sessions", map[string]string{"session": a["session"], "session.1": other["session.1"], "session.2": a["session.2"]}, ErrMalformed},
		{"count beyond the cap", map[string]string{"session": "9." + a["session"][2:]}, ErrTooLarge},
		{"count of one", map[string]string{"session": "1." + a["session"][2:]}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			b.cookies = tt.cookies
			var s *Session[user]
			rec := b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
			if !s.IsNew() || !errors.Is(s.Err(), tt.want) {
				t.Fatalf("new %v, err %v; want %v", s.IsNew(), s.Err(), tt.want)
			}
			if rec.Code != http.StatusOK || len(b.cookies) != 0 {
				t.Errorf("status %d; the browser keeps %v", rec.Code, b.names())
			}
		})
	}
}

// Swapped chunks are genuine pieces in the wrong order: whatever the
// length of the value (and so the character that ends up last), they are
// reported as tampering, as the README says. (In securecookie's format,
// whose layout is checked before its MAC, they are malformed.)
func TestSwappedChunksFailAuthentication(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithPath(longPath), WithMaxSize(7600))
	for size := 6990; size < 7002; size++ {
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data = bigData(size) }), "GET", "/")
		a := b.cookies
		if len(a) < 3 {
			t.Fatalf("size %d: %d cookies, want a main cookie and at least two chunks", size, len(a))
		}
		a["session.1"], a["session.2"] = a["session.2"], a["session.1"]
		var s *Session[user]
		b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
		if !errors.Is(s.Err(), ErrAuthentication) {
			t.Errorf("data of %d bytes: swapped chunks give %v, want ErrAuthentication", size, s.Err())
		}
	}
}

func TestChunkNamesKeepTheHostPrefix(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithName("__Host-s"))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data = bigData(6000) }), "GET", "/")
	if _, ok := b.cookies["__Host-s.1"]; !ok || len(b.cookies) != 2 {
		t.Errorf("cookies %v", b.names())
	}
}

func TestOversizeCookieHeaderIsRefusedCheaply(t *testing.T) {
	m := newTestManager[user](t, newClock())
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "session=2."+strings.Repeat("A", 4000)+"; session.1="+strings.Repeat("B", 1<<20))
	var before, after runtimeMem
	before.read()
	s := m.Load(req)
	after.read()
	if !errors.Is(s.Err(), ErrTooLarge) {
		t.Errorf("err = %v", s.Err())
	}
	if n := after.total - before.total; n > 16<<10 {
		t.Errorf("refusing a 1 MB chunk allocated %d bytes", n)
	}
}

// Cookie tossing: a sibling subdomain, or a page on a more specific path,
// plants cookies of the session's names, which browsers may send before
// the genuine ones. Up to 8 planted values of each name, in any order,
// planted chunks included, do not sign out a user whose genuine cookies
// come too, and the response deletes nothing of theirs. (A planted cookie
// that opens, the attacker's own session, signs the user into the
// attacker's account if it comes first: SECURITY.md says so, and __Host-
// names prevent it.)
func TestCookieTossing(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithPath(longPath), WithMaxSize(7600))
	other := newTestManager[user](t, clock, WithPath(longPath), WithMaxSize(7600), WithName("x")) // seals what fails for "session"
	cookiesOf := func(m *Manager[user], data user) map[string]string {
		b := newBrowser(t)
		b.do(handle(m, func(s *Session[user]) { s.Data = data }), "GET", "/")
		return b.cookies
	}
	// What an attacker can plant: their own session's chunks (which carry
	// their own tag), its main cookie altered, values of another cookie
	// name, bare parts as chunks of the past were, and junk.
	theirs := cookiesOf(m, bigData(7000))
	theirsAltered := tamper(theirs["session"])
	foreign := cookiesOf(other, bigData(7000))
	planted := func(name string, i int) string {
		switch i {
		case 0:
			return theirsAltered
		case 1:
			if name == "session" {
				return tamper(theirs["session.1"]) // their main cookie would open: see below
			}
			return theirs[name]
		case 2:
			return foreign[strings.Replace(name, "session", "x", 1)]
		case 3:
			if _, part, ok := strings.Cut(theirs[name], "."); ok {
				return part // a chunk without a tag
			}
			return "3.AAAAAAAAAAAA"
		case 4:
			return ""
		case 5:
			return "2." + strings.Repeat("A", 100)
		case 6:
			return strings.Repeat("_", 600)
		default:
			return "junk"
		}
	}
	for _, size := range []int{100, 5000, 7000} {
		want := bigData(size)
		want.N = 7
		genuine := cookiesOf(m, want)
		names := slices.Sorted(maps.Keys(genuine))
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for trial := range 30 {
			var pairs []string
			for _, name := range names {
				pairs = append(pairs, name+"="+genuine[name])
				for i := range 8 {
					pairs = append(pairs, name+"="+planted(name, i))
				}
			}
			// Chunk names the genuine session lacks are planted too.
			for i := len(names); i < 3; i++ {
				pairs = append(pairs, fmt.Sprintf("session.%d=%s", i, planted("session.1", i)))
			}
			rng.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
			s, rec := send(m, strings.Join(pairs, "; "), nil)
			if s.IsNew() || !reflect.DeepEqual(s.Data, want) {
				t.Fatalf("%d bytes, %d cookies, trial %d: signed out (err %v)", size, len(names), trial, s.Err())
			}
			if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
				t.Fatalf("%d bytes, trial %d: the response set %q", size, trial, set)
			}
		}
	}
}

// SECURITY.md's bound: up to 10 values of each name are read, so 9 planted
// values that fail authentication, all sent before the genuine one, still
// leave it read; a tenth pushes it out, and the user gets a fresh session.
func TestPlantedValuesBeforeTheGenuineOne(t *testing.T) {
	m := newTestManager[user](t, newClock())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	genuine := b.cookies["session"]
	for _, tt := range []struct {
		planted  int
		signedIn bool
	}{{1, true}, {9, true}, {10, false}} {
		pairs := slices.Repeat([]string{"session=" + tamper(genuine)}, tt.planted)
		s, _ := send(m, strings.Join(append(pairs, "session="+genuine), "; "), nil)
		if signedIn := !s.IsNew() && s.Data.Name == "ada"; signedIn != tt.signedIn {
			t.Errorf("%d planted before it: signed in %v (err %v), want %v", tt.planted, signedIn, s.Err(), tt.signedIn)
		}
	}
}

// With gorilla migration a cookie's Max-Age can be the old store's, longer
// than the session's: chunk lines still fit 4096 bytes (the test browser
// checks every line it stores).
func TestChunkLinesFitWithALongMaxAge(t *testing.T) {
	store := GorillaStore{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, MaxAge: 400 * 24 * 3600}
	m := newTestManager[user](t, newClock(), WithGorillaMigration(store, convertUser), WithMaxAge(400*24*time.Hour), WithPath(longPath), WithMaxSize(7600))
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data = bigData(7000) }), "GET", "/")
	if len(b.cookies) != 3 {
		t.Errorf("%d cookies, want 3", len(b.cookies))
	}
}

// The budget is the next request: a save whose cookies, with the request's
// other cookies, would pass the Cookie header that curl sends and nginx and
// Apache accept fails loudly, and the browser keeps its previous session.
func TestSaveKeepsTheNextRequestWithinBudget(t *testing.T) {
	var hookErr error
	m := newTestManager[user](t, newClock(), WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		hookErr = err
		w.WriteHeader(http.StatusInternalServerError)
	}))
	for _, tt := range []struct {
		other int // bytes of the site's other cookie's value
		size  int // of the session
		fits  bool
	}{
		{0, 7000, true},
		{500, 7000, true},
		{1000, 7000, false},
		{1000, 6000, true},
		{2000, 6500, false},
	} {
		t.Run(fmt.Sprint(tt.other, "+", tt.size), func(t *testing.T) {
			hookErr = nil
			b := newBrowser(t)
			b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			before := b.cookies["session"]
			if tt.other > 0 {
				b.cookies["prefs"] = strings.Repeat("p", tt.other)
			}
			rec := b.do(handle(m, func(s *Session[user]) { s.Data = bigData(tt.size) }), "GET", "/")
			if next := len(b.header()); next > nextRequestMax {
				t.Fatalf("the next request's Cookie header is %d bytes", next)
			}
			if tt.fits {
				if hookErr != nil || rec.Code != http.StatusOK {
					t.Errorf("status %d, err %v", rec.Code, hookErr)
				}
				return
			}
			if !errors.Is(hookErr, ErrSaveFailed) || !errors.Is(hookErr, ErrTooLarge) ||
				!strings.Contains(hookErr.Error(), fmt.Sprintf("%d of the request's other cookies", len("prefs=")+tt.other)) {
				t.Errorf("error handler heard %v", hookErr)
			}
			if rec.Code != http.StatusInternalServerError || len(rec.Header().Values("Set-Cookie")) != 0 || b.cookies["session"] != before {
				t.Errorf("status %d, Set-Cookie %d lines, previous cookie kept %v", rec.Code, len(rec.Header().Values("Set-Cookie")), b.cookies["session"] == before)
			}
		})
	}
}

// A cap whose cookies could not reach the server whole is refused when the
// Manager is made, whatever the name and attributes: the largest it names
// is accepted, and with Partitioned every line still fits 4096 bytes.
func TestCapsThatCannotArriveAreRefused(t *testing.T) {
	k := testKeys(t)
	for _, tt := range []struct {
		opts        []Option
		partitioned bool
	}{
		{[]Option{WithName("__Host-session"), WithPartitioned(), WithSameSite(http.SameSiteNoneMode)}, true},
		{[]Option{WithName("s"), WithPath("/a/rather/long/path/for/the/cookie"), WithDomain("example.com")}, false},
	} {
		_, err := New[user](k, append(tt.opts, WithMaxSize(nextRequestMax))...)
		var largest int
		if _, scanErr := fmt.Sscanf(err.Error()[strings.Index(err.Error(), "at most"):], "at most %d bytes fit", &largest); scanErr != nil {
			t.Fatalf("New(WithMaxSize(%d)): %v", nextRequestMax, err)
		}
		m := newTestManager[user](t, newClock(), append(tt.opts, WithMaxSize(largest))...)
		b := newBrowser(t) // fails the test on a line over 4096 bytes
		rec := b.do(handle(m, func(s *Session[user]) { s.Data = bigData(largest - 150) }), "GET", "/")
		if len(b.cookies) < 2 || len(b.header()) > nextRequestMax {
			t.Errorf("%d cookies, Cookie header %d bytes", len(b.cookies), len(b.header()))
		}
		for _, c := range setCookies(t, rec) {
			if c.Partitioned != tt.partitioned {
				t.Errorf("Partitioned %v, want %v: %s", c.Partitioned, tt.partitioned, c.Name)
			}
		}
		if _, err := New[user](k, append(tt.opts, WithMaxSize(largest+1))...); err == nil {
			t.Errorf("WithMaxSize(%d), one more than the largest named, was accepted", largest+1)
		}
	}
}

// With the default attributes the default name is __Host-session. A cookie
// under the name earlier releases used by default opens, and the same
// response moves it: written under the new name, deleted under the old,
// chunks included, so that an upgrade signs no one out.
func TestCookiesUnderTheOldDefaultNameMove(t *testing.T) {
	clock := newClock()
	before := newTestManager[user](t, clock, WithName(FallbackName)) // as earlier releases wrote
	m, err := New[user](testKeys(t), WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != DefaultName {
		t.Fatalf("default name %q, want %q", m.Name(), DefaultName)
	}
	for _, size := range []int{100, 6000} {
		b := newBrowser(t)
		want := bigData(size)
		b.do(handle(before, func(s *Session[user]) { s.Data = want }), "GET", "/")
		old := b.names()
		var got *Session[user]
		b.do(handle(m, func(s *Session[user]) { got = s }), "GET", "/")
		if got.IsNew() || got.Data.Name != want.Name {
			t.Fatalf("size %d: the old cookie did not open: %v", size, got.Err())
		}
		for name := range b.cookies {
			if !strings.HasPrefix(name, DefaultName) {
				t.Errorf("size %d: %q kept after the move (had %v)", size, name, old)
			}
		}
		b.do(handle(m, func(s *Session[user]) { got = s }), "GET", "/")
		if got.IsNew() || got.Data.Name != want.Name {
			t.Errorf("size %d: after the move: %v", size, got.Err())
		}
	}
	// Both names: the current one wins, and neither is touched: the old
	// name may be another application's (a parent domain's "session"),
	// which a deletion here would not reach. A broken old cookie alone is
	// cleared like any other.
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "new" }), "GET", "/")
	b.cookies[FallbackName] = "junk"
	var got *Session[user]
	rec := b.do(handle(m, func(s *Session[user]) { got = s }), "GET", "/")
	if got.Data.Name != "new" || len(rec.Header().Values("Set-Cookie")) != 0 || b.cookies[DefaultName] == "" {
		t.Errorf("with both names: data %q, Set-Cookie %q", got.Data.Name, rec.Header().Values("Set-Cookie"))
	}
	b = newBrowser(t)
	b.cookies[FallbackName] = "junk"
	b.do(handle(m, func(s *Session[user]) { got = s }), "GET", "/")
	if !got.IsNew() || !errors.Is(got.Err(), ErrMalformed) || len(b.cookies) != 0 {
		t.Errorf("a broken old cookie: err %v, cookies %v", got.Err(), b.names())
	}
	// Where the attributes rule __Host- out, the name stays.
	for _, opt := range []Option{WithSecure(false), WithPath("/app"), WithDomain("example.com")} {
		if m, err := New[user](testKeys(t), opt); err != nil || m.Name() != FallbackName {
			t.Errorf("name %q, err %v; want %q", m.Name(), err, FallbackName)
		}
	}
}

// Every Set-Cookie line is the one net/http's Cookie.String writes for the
// same cookie, whatever the attributes: a session written, chunked and
// deleted.
func TestSetCookieLinesAreNetHTTPs(t *testing.T) {
	for _, opts := range [][]Option{
		nil,
		{WithSecure(false)},
		{WithName("app"), WithPath("/app"), WithDomain("example.com"), WithSameSite(http.SameSiteStrictMode)},
		{WithSameSite(http.SameSiteNoneMode), WithPartitioned()},
	} {
		m := newTestManager[user](t, newClock(), opts...)
		b := newBrowser(t)
		var lines []string
		for _, fn := range []func(s *Session[user]){
			func(s *Session[user]) { s.Data = bigData(6000) },
			func(s *Session[user]) { s.Data = bigData(10) },
			func(s *Session[user]) { s.Destroy() },
		} {
			lines = append(lines, b.do(handle(m, fn), "GET", "/app").Header().Values("Set-Cookie")...)
		}
		if len(lines) < 5 {
			t.Fatalf("%s: %d Set-Cookie lines, want a write, a chunk deletion and a deletion: %q", m.Name(), len(lines), lines)
		}
		for _, line := range lines {
			c, err := http.ParseSetCookie(line)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			c.Raw, c.RawExpires, c.Quoted = "", "", false
			if want := c.String(); line != want {
				t.Errorf("Set-Cookie: %s\nnet/http: %s", line, want)
			}
		}
	}
}

// The budget is the next request's Cookie header, and a header no longer
// than the one that just came arrives as it did. A client past the
// budget already (another cookie grew after the session was written) gets
// its session sealed again by a newer key, not a 500 on every request;
// a change that makes the header longer is refused. Cookies under the
// old default name that are left alone count: they come next time too.
func TestTheBudgetIsTheNextRequest(t *testing.T) {
	var heard []error
	onErr := WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		heard = append(heard, err)
		w.WriteHeader(http.StatusInternalServerError)
	})
	clock := newClock()
	b := newBrowser(t)
	b.do(handle(newTestManager[user](t, clock, onErr), func(s *Session[user]) { s.Data = bigData(4500) }), "GET", "/")
	b.cookies["prefs"] = strings.Repeat("p", nextRequestMax+100-len(b.header()+"; prefs="))
	sent := len(b.header())
	rotated, err := New[user](mustKeyring(t, testSecret(2), testSecret(1)), WithClock(clock.Now), quiet, WithName(FallbackName), onErr)
	if err != nil {
		t.Fatal(err)
	}
	before := b.cookies["session"]
	var got *Session[user]
	rec := b.do(handle(rotated, func(s *Session[user]) { got = s }), "GET", "/")
	if len(heard) != 0 || rec.Code != http.StatusOK || got.IsNew() || b.cookies["session"] == before {
		t.Errorf("sealed again by the newer key: heard %v, status %d, new %v, rewritten %v", heard, rec.Code, got.IsNew(), b.cookies["session"] != before)
	}
	if next := len(b.header()); next > sent {
		t.Errorf("the Cookie header grew from %d to %d bytes", sent, next)
	}
	before = b.cookies["session"]
	rec = b.do(handle(rotated, func(s *Session[user]) { s.Data = bigData(4600) }), "GET", "/")
	if len(heard) != 1 || !errors.Is(heard[0], ErrTooLarge) || rec.Code != http.StatusInternalServerError || b.cookies["session"] != before {
		t.Errorf("a change past the budget: heard %v, status %d", heard, rec.Code)
	}

	// A second value under our own name (a parent domain's "session")
	// stays too, and counts, whether or not the request was past the
	// budget already.
	small := newTestManager[user](t, clock, onErr)
	b = newBrowser(t)
	b.do(handle(small, func(s *Session[user]) { s.Data = bigData(1000) }), "GET", "/")
	for _, other := range []int{3500, 1000} {
		heard = nil
		twice := "session=" + strings.Repeat("j", 3500) + "; " + b.header() + "; prefs=" + strings.Repeat("p", other)
		if _, rec := send(small, twice, func(s *Session[user]) { s.Data = bigData(4500) }); len(heard) != 1 || !errors.Is(heard[0], ErrTooLarge) || rec.Code != http.StatusInternalServerError {
			t.Errorf("with another value under our name and %d bytes of others: heard %v, status %d", other, heard, rec.Code)
		}
	}

	// Values of our name past the ones read (maxValues, ten) are not
	// opened, but the browser sends them next time too: they count.
	heard = nil
	b = newBrowser(t)
	b.do(handle(small, func(s *Session[user]) { s.Data = bigData(100) }), "GET", "/")
	flood := b.header()
	for range 14 {
		flood += "; session=" + strings.Repeat("f", 350)
	}
	if s, rec := send(small, flood, func(s *Session[user]) { s.Data = bigData(2900) }); s.IsNew() || len(heard) != 1 || !errors.Is(heard[0], ErrTooLarge) || rec.Code != http.StatusInternalServerError {
		t.Errorf("with 14 more values under our name: new %v, heard %v, status %d", s.IsNew(), heard, rec.Code)
	}

	heard = nil
	m, err := New[user](testKeys(t), WithClock(clock.Now), quiet, onErr)
	if err != nil {
		t.Fatal(err)
	}
	b = newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
	b.cookies[FallbackName] = strings.Repeat("x", 5000) // a parent domain's "session"
	rec = b.do(handle(m, func(s *Session[user]) { s.Data = bigData(3500) }), "GET", "/")
	if len(heard) != 1 || !errors.Is(heard[0], ErrTooLarge) || rec.Code != http.StatusInternalServerError {
		t.Errorf("with %d bytes under the old name: heard %v, status %d, next Cookie header %d bytes", 5000, heard, rec.Code, len(b.header()))
	}
	// Two of them, past the budget together with the session: sealing it
	// again by a newer key still leaves the header as it came.
	heard = nil
	b = newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data = bigData(4500) }), "GET", "/")
	header := b.header() + "; session=" + strings.Repeat("x", 1000) + "; session=" + strings.Repeat("y", 1000)
	header += "; prefs=" + strings.Repeat("p", nextRequestMax+100-len(header+"; prefs="))
	rotatedHost, err := New[user](mustKeyring(t, testSecret(2), testSecret(1)), WithClock(clock.Now), quiet, onErr)
	if err != nil {
		t.Fatal(err)
	}
	if s, rec := send(rotatedHost, header, nil); len(heard) != 0 || rec.Code != http.StatusOK || s.IsNew() || len(rec.Header().Values("Set-Cookie")) == 0 {
		t.Errorf("sealed again beside two cookies under the old name: heard %v, status %d, new %v", heard, rec.Code, s.IsNew())
	}
}

// A session that opened from cookies under the old default name, then
// destroyed or emptied, is deleted there: the old cookies would otherwise
// open again on the next request, and sign-out would not sign out.
func TestSessionUnderTheOldNameEnds(t *testing.T) {
	clock := newClock()
	before := newTestManager[user](t, clock, WithName(FallbackName)) // as earlier releases wrote
	m, err := New[user](testKeys(t), WithClock(clock.Now), quiet)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		end  func(s *Session[user])
	}{
		{"destroyed", func(s *Session[user]) { s.Destroy() }},
		{"emptied", func(s *Session[user]) { s.Data = user{} }},
	} {
		for _, size := range []int{100, 6000} {
			b := newBrowser(t)
			b.do(handle(before, func(s *Session[user]) { s.Data = bigData(size) }), "GET", "/")
			b.do(handle(m, tt.end), "GET", "/")
			if names := b.names(); len(names) != 0 {
				t.Errorf("%s, size %d: the browser still holds %v", tt.name, size, names)
			}
			var got *Session[user]
			b.do(handle(m, func(s *Session[user]) { got = s }), "GET", "/")
			if !got.IsNew() || got.Data.Name != "" {
				t.Errorf("%s, size %d: the next request opened %q", tt.name, size, got.Data.Name)
			}
		}
	}
}

// The limits hold to the byte: the next request's Cookie header may be
// 8,190 - 256 bytes long (the session's cookie, its name included, and the
// request's others), not one more; and WithMaxSize is the longest sealed
// value written, not one byte less or more.
func TestBudgetAndCapEdges(t *testing.T) {
	const headerMax = 8190 - 256
	clock := newClock()
	data := func(s *Session[user]) { s.Data.Name = strings.Repeat("n", 1000) }
	_, rec := send(newTestManager[user](t, clock), "", data)
	cs := setCookies(t, rec)
	if len(cs) != 1 {
		t.Fatalf("Set-Cookie %q: want one cookie", rec.Header().Values("Set-Cookie"))
	}
	ours, sealed := len(cs[0].Name)+len("=")+len(cs[0].Value), len(cs[0].Value)
	var heard errorLog
	for _, tt := range []struct {
		name   string
		others int // the length of the request's other cookie
		max    int // WithMaxSize, 0 for the default
		fails  bool
	}{
		{"the next Cookie header at the limit", headerMax - ours - len("; "), 0, false},
		{"the next Cookie header a byte over", headerMax - ours - len("; ") + 1, 0, true},
		{"a value as long as the cap", 0, sealed, false},
		{"a value a byte over the cap", 0, sealed - 1, true},
	} {
		opts := []Option{heard.option()}
		if tt.max != 0 {
			opts = append(opts, WithMaxSize(tt.max))
		}
		cookies := ""
		if tt.others > 0 {
			cookies = "x=" + strings.Repeat("v", tt.others-len("x="))
		}
		_, rec := send(newTestManager[user](t, clock, opts...), cookies, data)
		err := heard.take()
		if failed := errors.Is(err, ErrTooLarge); failed != tt.fails || failed == (len(setCookies(t, rec)) == 1) {
			t.Errorf("%s: error %v, Set-Cookie %d lines; want failed %v", tt.name, err, len(setCookies(t, rec)), tt.fails)
		}
	}
}

// Cookies under the old default name that a response leaves alone (the
// current name came too) count in the next request's budget, to the byte,
// with or without other cookies beside them.
func TestOldNameCookiesCountInTheBudget(t *testing.T) {
	const headerMax = 8190 - 256
	clock := newClock()
	var heard errorLog
	m, err := New[user](testKeys(t), WithClock(clock.Now), quiet, heard.option())
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) string {
		t.Helper()
		_, rec := send(m, "", func(s *Session[user]) { s.Data.Name = name })
		cs := setCookies(t, rec)
		if len(cs) != 1 || cs[0].Name != DefaultName {
			t.Fatalf("Set-Cookie %q: want one %s cookie", rec.Header().Values("Set-Cookie"), DefaultName)
		}
		return cs[0].Name + "=" + cs[0].Value
	}
	before, after := value(strings.Repeat("n", 900)), value(strings.Repeat("m", 1000))
	// fill returns the cookie name=... n bytes long.
	fill := func(name string, n int) string { return name + "=" + strings.Repeat("v", n-len(name+"=")) }
	room := headerMax - len(after) - len("; ") // for the cookies beside the session's
	for _, tt := range []struct {
		name   string
		others bool // another cookie comes beside the old-name one
		over   int  // bytes past the limit
		fails  bool
		name2  string // the name of the cookie left alone
	}{
		{"beside other cookies, at the limit", true, 0, false, FallbackName},
		{"beside other cookies, a byte over", true, 1, true, FallbackName},
		{"alone, at the limit", false, 0, false, FallbackName},
		{"alone, a byte over", false, 1, true, FallbackName},
		// A second value under the session's own name (another path's,
		// or planted) stays too, and counts the same way.
		{"our name's second value alone, at the limit", false, 0, false, DefaultName},
		{"our name's second value alone, a byte over", false, 1, true, DefaultName},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cookies := before + "; " + fill(tt.name2, room+tt.over)
			if tt.others {
				old := fill(FallbackName, 100)
				cookies = before + "; " + old + "; " + fill("x", room-len(old)-len("; ")+tt.over)
			}
			_, rec := send(m, cookies, func(s *Session[user]) { s.Data.Name = strings.Repeat("m", 1000) })
			err := heard.take()
			if failed := errors.Is(err, ErrTooLarge); failed != tt.fails || failed == (len(setCookies(t, rec)) == 1) {
				t.Errorf("error %v, Set-Cookie %q; want failed %v", err, rec.Header().Values("Set-Cookie"), tt.fails)
			}
		})
	}
}
