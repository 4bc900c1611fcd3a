package cookiesession_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
	"github.com/gorilla/securecookie"
)

// gorillaCookie encodes values the way gorilla/sessions' CookieStore does:
// gob, through securecookie codecs made from the store's key pairs. The
// nested module interop/ checks the same against the real CookieStore.
func gorillaCookie(t testing.TB, name string, values map[any]any, keyPairs ...[]byte) string {
	t.Helper()
	v, err := securecookie.EncodeMulti(name, values, securecookie.CodecsFromPairs(keyPairs...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	gorillaHash  = bytes.Repeat([]byte("h"), 32)
	gorillaBlock = bytes.Repeat([]byte("b"), 32)
	// gorillaStore is the old store, at gorilla's default attributes but
	// for a MaxAge of one day, the Manager's default lifetime (New refuses
	// a longer one).
	gorillaStore = GorillaStore{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, MaxAge: 86400}
)

// gorillaClock is a test clock a minute after the real time. securecookie
// stamps gorilla cookies with the real clock: a Manager on the fixed test
// clock (t0, in the past) would see them saved in the future, and refuse
// them (TestGorillaCookieFromTheFuture), instead of converting them as
// saved a minute ago.
func gorillaClock() *testClock {
	return newClockAt(time.Now().Add(time.Minute).Truncate(time.Second))
}

// gorillaSavedAt returns when securecookie stamped value: for
// gorilla/sessions, the session's last save. The value is
// base64url(date|payload|mac).
func gorillaSavedAt(t testing.TB, value string) time.Time {
	t.Helper()
	raw, err := base64.URLEncoding.DecodeString(value)
	if err != nil {
		t.Fatal(err)
	}
	date, _, _ := strings.Cut(string(raw), "|")
	sec, err := strconv.ParseInt(date, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(sec, 0)
}

func convertUser(values map[any]any) (user, error) {
	name, ok := values["name"].(string)
	if !ok {
		return user{}, errors.New("no name")
	}
	n, _ := values["n"].(int)
	return user{Name: name, N: n}, nil
}

func TestGorillaMigration(t *testing.T) {
	var hookErr error
	clock := gorillaClock()
	m := newTestManager[user](t, clock, WithGorillaMigration(gorillaStore, convertUser),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	tests := []struct {
		name    string
		cookie  string
		want    user
		wantErr error
	}{
		{"converts", gorillaCookie(t, "session", map[any]any{"name": "ada", "n": 3}, gorillaHash, gorillaBlock), user{Name: "ada", N: 3}, nil},
		{"conversion fails", gorillaCookie(t, "session", map[any]any{"other": 1}, gorillaHash, gorillaBlock), user{}, ErrMigration},
		{"wrong keys", gorillaCookie(t, "session", map[any]any{"name": "eve"}, bytes.Repeat([]byte("x"), 32), gorillaBlock), user{}, ErrAuthentication},
		{"another cookie's value", gorillaCookie(t, "other", map[any]any{"name": "eve"}, gorillaHash, gorillaBlock), user{}, ErrAuthentication},
		{"tampered", tamper(gorillaCookie(t, "session", map[any]any{"name": "eve"}, gorillaHash, gorillaBlock)), user{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hookErr = nil
			b := newBrowser(t)
			b.cookies["session"] = tt.cookie
			var got user
			var s *Session[user]
			rec := b.do(handle(m, func(got2 *Session[user]) { s = got2; got = s.Data }), "GET", "/")
			if got.Name != tt.want.Name || got.N != tt.want.N {
				t.Fatalf("data %+v, want %+v (err %v)", got, tt.want, s.Err())
			}
			if tt.want.Name != "" {
				// Re-issued in this package's format on the same response.
				if _, _, err := openValue(testKeys(t), "session", b.cookies["session"], clock.Now(), Limits{}); err != nil || b.cookies["session"] == tt.cookie {
					t.Errorf("not re-sealed in the new format: %v", err)
				}
				if s.IsNew() {
					t.Error("a migrated session says it is new")
				}
				// Created is the gorilla cookie's last save, a minute ago.
				if saved := gorillaSavedAt(t, tt.cookie); !s.Created().Equal(saved) || !s.Created().Before(clock.Now()) {
					t.Errorf("Created %v, want the cookie's last save, %v", s.Created(), saved)
				}
				return
			}
			if !s.IsNew() || s.Err() == nil {
				t.Errorf("new %v, err %v", s.IsNew(), s.Err())
			}
			if tt.wantErr != nil && !errors.Is(s.Err(), tt.wantErr) {
				t.Errorf("err %v, want %v", s.Err(), tt.wantErr)
			}
			if errors.Is(tt.wantErr, ErrMigration) != errors.Is(hookErr, ErrMigration) {
				t.Errorf("error hook got %v", hookErr)
			}
			if rec.Code != http.StatusOK {
				t.Errorf("status %d", rec.Code)
			}
		})
	}
}

// The flash messages a gorilla session held (session.AddFlash, under
// "_flash") carry over, those that are strings: a message shown after a
// redirect across the deploy is not lost. Others are convert's to read.
// gorilla/sessions registers their type with gob, and an application that
// no longer imports it has not: the migration does.
func TestGorillaFlashesCarryOver(t *testing.T) {
	m := newTestManager[user](t, gorillaClock(), WithGorillaMigration(gorillaStore, convertUser))
	b := newBrowser(t)
	b.cookies["session"] = gorillaCookie(t, "session", map[any]any{"name": "ada", "_flash": []any{"saved", 42, "welcome"}}, gorillaHash, gorillaBlock)
	var flashes []string
	b.do(handle(m, func(s *Session[user]) { flashes = s.Flashes() }), "GET", "/")
	if !slices.Equal(flashes, []string{"saved", "welcome"}) {
		t.Errorf("flashes after the move %q; want the gorilla session's strings", flashes)
	}
	b.do(handle(m, func(s *Session[user]) { flashes = s.Flashes() }), "GET", "/")
	if len(flashes) != 0 {
		t.Errorf("flashes shown again: %q", flashes)
	}
}

// A gorilla cookie's last save is the last use gorilla records: a session
// abandoned for longer than the idle timeout is expired, not converted and
// issued afresh.
func TestGorillaMigrationHonoursTheIdleTimeout(t *testing.T) {
	saved := time.Now() // securecookie stamps values with the real clock
	clock := newClockAt(saved.Add(2 * time.Hour))
	gorilla := gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)
	for _, tt := range []struct {
		idle    time.Duration
		wantErr error
	}{
		{time.Hour, ErrExpired},
		{3 * time.Hour, nil},
		{0, nil},
	} {
		m := newTestManager[user](t, clock, WithGorillaMigration(gorillaStore, convertUser), WithIdleTimeout(tt.idle))
		s := load(m, "session="+gorilla)
		if !errors.Is(s.Err(), tt.wantErr) || (tt.wantErr == nil) != (s.Data.Name == "ada") {
			t.Errorf("idle timeout %v, cookie saved 2h ago: err %v, data %+v; want err %v", tt.idle, s.Err(), s.Data, tt.wantErr)
		}
	}
}

// A gorilla cookie saved further ahead of the Manager's clock than
// ClockSkew (by an old server whose clock ran ahead) is refused as one of
// ours would be, with a warning: converted, it would start its lifetime
// anew on every conversion, so that neither the lifetime nor the old
// store's MaxAge ever ended it, and once a sign-out's revocation had been
// forgotten, a copy would sign the user back in.
func TestGorillaCookieFromTheFuture(t *testing.T) {
	saved := time.Now().Truncate(time.Second) // securecookie stamps values with the real clock
	gorilla := "session=" + gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)
	for _, tt := range []struct {
		name  string
		ahead time.Duration
		want  error
	}{
		{"within ClockSkew", ClockSkew - time.Second, nil},
		{"a second past ClockSkew", ClockSkew + time.Second, ErrExpired},
		{"a day ahead", 24 * time.Hour, ErrExpired},
		{"a year ahead", 365 * 24 * time.Hour, ErrExpired},
	} {
		clock := newClockAt(saved.Add(-tt.ahead))
		revoked := revocation.NewReplica(clock.Now)
		var logs bytes.Buffer
		m := newTestManager[user](t, clock, WithGorillaMigration(gorillaStore, convertUser),
			WithSubject(func(u user) string { return u.Name }), WithRevocation(revoked),
			WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		converted := false
		s, _ := send(m, gorilla, func(s *Session[user]) {
			converted = s.Data.Name == "ada"
			s.Destroy() // the user signs out
		})
		if !errors.Is(s.Err(), tt.want) || converted != (tt.want == nil) {
			t.Errorf("%s: converted %v, err %v; want %v", tt.name, converted, s.Err(), tt.want)
		}
		// Refused, it is an old server's clock ahead, warned of as one
		// of ours would be.
		if warned := strings.Contains(logs.String(), "level=WARN") && strings.Contains(logs.String(), "clock is ahead"); warned != (tt.want != nil) {
			t.Errorf("%s: warned of a clock ahead %v, want %v: %s", tt.name, warned, tt.want != nil, logs.String())
		}
		// Once the sign-out's revocation and the old store's 30 days
		// have passed, a copy of the gorilla cookie is expired.
		clock.Advance(DefaultMaxAge + 2*ClockSkew + 31*24*time.Hour)
		revoked.Sweep(clock.Now())
		if s := load(m, gorilla); !errors.Is(s.Err(), ErrExpired) || s.Data.Name != "" {
			t.Errorf("%s: a copy, after the sign-out was forgotten: err %v, data %+v; want ErrExpired", tt.name, s.Err(), s.Data)
		}
	}
}

// A browser sends one cookie per name, path and domain: the gorilla cookie
// may come after another of the same name that does not open (one this
// package set for another path, or a stale one). It is still converted,
// but a value that opens as this package's wins.
func TestGorillaMigrationOfALaterValue(t *testing.T) {
	clock := gorillaClock()
	var heard errorLog
	m := newTestManager[user](t, clock, WithGorillaMigration(gorillaStore, convertUser), heard.option())
	gorilla := gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)
	other := gorillaCookie(t, "session", map[any]any{"name": "eve"}, gorillaHash, gorillaBlock)
	ours, err := testKeys(t).Seal("session", Contents{Created: clock.Now(), Issued: clock.Now(), Data: []byte(`{"Name":"bob"}`)})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := mustKeyring(t, testSecret(9)).Seal("session", Contents{Created: clock.Now(), Issued: clock.Now(), Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	wrongKeys := gorillaCookie(t, "session", map[any]any{"name": "eve"}, bytes.Repeat([]byte("x"), 32), gorillaBlock)
	unconvertible := gorillaCookie(t, "session", map[any]any{"other": 1}, gorillaHash, gorillaBlock)
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{"past one that does not convert", []string{"junk", unconvertible, gorilla}, "ada"},
		{"past a first that does not convert", []string{unconvertible, gorilla}, "ada"},
		{"beyond the values tried", append(strings.Split("a b c d e f g h i j", " "), gorilla), ""},
		{"after junk", []string{"junk", gorilla}, "ada"},
		{"after a tampered value of ours", []string{tamper(ours), gorilla}, "ada"},
		{"after a value of another key ring", []string{foreign, gorilla}, "ada"},
		{"after a gorilla value of other keys", []string{wrongKeys, gorilla}, "ada"},
		{"third", []string{"junk", "more junk", gorilla}, "ada"},
		{"the first of two", []string{gorilla, other}, "ada"},
		{"ours wins over an earlier gorilla value", []string{gorilla, ours}, "bob"},
		{"ours wins over a later gorilla value", []string{"junk", gorilla, ours}, "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := send(m, "session="+strings.Join(tt.values, "; session="), nil)
			if s.Data.Name != tt.want {
				t.Errorf("Name %q, want %q (err %v)", s.Data.Name, tt.want, s.Err())
			}
			if heard := heard.take(); tt.want == "" && (!errors.Is(s.Err(), ErrMalformed) || heard != nil) {
				t.Errorf("err %v, the error handler heard %v; want the first value's (ErrMalformed), and nothing", s.Err(), heard)
			}
		})
	}

	// When nothing can be taken over, the session's error is the first
	// value's, unless that was never ours and a gorilla session was found:
	// then why the first one found could not be taken over. The error
	// handler hears of a failed conversion wherever it came.
	idle := newTestManager[user](t, newClockAt(time.Now().Add(2*time.Hour)), WithIdleTimeout(time.Hour),
		WithGorillaMigration(gorillaStore, convertUser), heard.option())
	expiredOurs, err := testKeys(t).Seal("session", Contents{Created: t0, Issued: t0, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name         string
		m            *Manager[user]
		values       []string
		err, handler error
	}{
		{"unconvertible first", m, []string{unconvertible, "junk"}, ErrMigration, ErrMigration},
		{"unconvertible after junk", m, []string{"junk", unconvertible}, ErrMigration, ErrMigration},
		// A cookie of ours that authenticates, expired or not, means this
		// browser was served since the migration: no gorilla cookie
		// comes back to life there.
		{"unconvertible after an expired value of ours", idle, []string{expiredOurs, unconvertible}, ErrExpired, nil},
		{"expired gorilla first", idle, []string{gorilla, "junk"}, ErrExpired, nil},
		{"expired gorilla after junk", idle, []string{"junk", gorilla}, ErrExpired, nil},
		// The age is checked before convert runs: an expired gorilla
		// session is expired, whatever convert would have said.
		{"expired gorilla, then unconvertible", idle, []string{"junk", gorilla, unconvertible}, ErrExpired, nil},
	} {
		s, _ := send(tt.m, "session="+strings.Join(tt.values, "; session="), nil)
		heard := heard.take()
		if !errors.Is(s.Err(), tt.err) || !errors.Is(heard, tt.handler) || (tt.handler == nil) != (heard == nil) {
			t.Errorf("%s: err %v, the error handler heard %v; want %v and %v", tt.name, s.Err(), heard, tt.err, tt.handler)
		}
	}
}

// A conversion that returns a nil map gives a map session ready for
// assignment, like every other path.
func TestGorillaMigrationToANilMap(t *testing.T) {
	m := newTestManager[map[string]string](t, gorillaClock(), WithGorillaMigration(gorillaStore,
		func(map[any]any) (map[string]string, error) { return nil, nil }))
	s := load(m, "session="+gorillaCookie(t, "session", map[any]any{"n": 3}, gorillaHash, gorillaBlock))
	if s.Data == nil || s.IsNew() {
		t.Fatalf("Data %v (nil: %v), new %v, err %v", s.Data, s.Data == nil, s.IsNew(), s.Err())
	}
	s.Data["after"] = "ok"
}

func TestGorillaMigrationOptionErrors(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	named := WithName("session")
	month := GorillaStore{KeyPairs: gorillaStore.KeyPairs} // gorilla's default MaxAge, 30 days
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"no keys", []Option{named, WithGorillaMigration(GorillaStore{}, convertUser)}, "no keys"},
		{"nil conversion", []Option{named, WithGorillaMigration[user](gorillaStore, nil)}, "nil"},
		{"bad block key", []Option{named, WithGorillaMigration(GorillaStore{KeyPairs: [][]byte{gorillaHash, []byte("short")}}, convertUser)}, "key pair 1"},
		{"other type", []Option{named, WithGorillaMigration(gorillaStore, func(map[any]any) (int, error) { return 0, nil })}, "converts to int"},
		// Each would sign users out without a word.
		{"no name", []Option{WithGorillaMigration(gorillaStore, convertUser)}, "needs WithName"},
		{"store outlives the lifetime", []Option{named, WithGorillaMigration(month, convertUser)}, "give WithMaxAge(720h0m0s), or set GorillaStore.MaxAge to 86400"},
		{"store outlives a set lifetime", []Option{named, WithMaxAge(time.Hour), WithGorillaMigration(gorillaStore, convertUser)}, "MaxAge (24h0m0s) is longer than the lifetime (WithMaxAge, 1h0m0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New[user](k, tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestSwitchingFormatsSignsNoOneOut(t *testing.T) {
	clock := newClock()
	v1 := newTestManager[user](t, clock)
	sc := newTestManager[user](t, clock, WithGorillaFormat())
	for _, tt := range []struct {
		name     string
		from, to *Manager[user]
	}{
		{"v1 to securecookie", v1, sc},
		{"securecookie to v1", sc, v1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBrowser(t)
			b.do(handle(tt.from, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			before := b.cookies["session"]
			var got string
			rec := b.do(handle(tt.to, func(s *Session[user]) { got = s.Data.Name }), "GET", "/")
			if got != "ada" || rec.Header().Get("Set-Cookie") == "" || b.cookies["session"] == before {
				t.Fatalf("name %q, re-sealed %q", got, rec.Header().Get("Set-Cookie"))
			}
			// In the chosen format: the Manager that seals it leaves it
			// alone, and the newest key opens it.
			if rec := b.do(handle(tt.to, func(*Session[user]) {}), "GET", "/"); sets(rec) {
				t.Errorf("not sealed in the chosen format: sealed again as %q", rec.Header().Values("Set-Cookie"))
			}
			if _, key, err := openValue(testKeys(t), "session", b.cookies["session"], clock.Now(), Limits{}); err != nil || key != 0 {
				t.Errorf("the newest key does not open it: key %d, %v", key, err)
			}
		})
	}
}

func TestSecureCookieFormatThroughTheMiddleware(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithGorillaFormat())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.N = 41; s.AddFlash("hi") }), "GET", "/")
	var n int
	var flashes []string
	b.do(handle(m, func(s *Session[user]) { n = s.Data.N; flashes = s.Flashes() }), "GET", "/")
	if n != 41 || fmt.Sprint(flashes) != "[hi]" {
		t.Errorf("n %d flashes %q", n, flashes)
	}
}

func TestMigrationFailureIsLogged(t *testing.T) {
	var logs bytes.Buffer
	m := newTestManager[user](t, gorillaClock(), WithGorillaMigration(gorillaStore, convertUser),
		WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	b := newBrowser(t)
	b.cookies["session"] = gorillaCookie(t, "session", map[any]any{"x": 1}, gorillaHash, gorillaBlock)
	rec := b.do(handle(m, func(s *Session[user]) {}), "GET", "/")
	if !strings.Contains(logs.String(), "not converted") || !strings.Contains(logs.String(), "no name") || rec.Code != 200 {
		t.Errorf("status %d, log %q", rec.Code, logs.String())
	}
}

// A sign-out is not undone by the old gorilla cookie. When the old store
// set its cookie for another path or domain, the browser keeps both; every
// response that converts, destroys or clears deletes the old cookie where
// it was set, and an empty session of ours stays in its place, so that a
// gorilla cookie the browser kept anyway is never converted again. A copy
// of the gorilla cookie replayed elsewhere gives the session it became,
// whose sign-out revoked it.
func TestGorillaSignOutIsNotUndone(t *testing.T) {
	clock := gorillaClock()
	store := GorillaStore{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, Path: "/app", MaxAge: 3600}
	m := newTestManager[user](t, clock, WithGorillaMigration(store, convertUser), WithSubject(func(u user) string { return u.Name }))
	gorilla := "session=" + gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)
	// gorilla/sessions seals the session afresh on every save: an earlier
	// copy of the same session is another value.
	earlier := "session=" + gorillaCookie(t, "session", map[any]any{"name": "ada", "n": 1}, gorillaHash, gorillaBlock)
	// checkResponse wants our cookie written, for at least the old
	// store's lifetime, and the old one deleted at /app.
	checkResponse := func(step string, rec *httptest.ResponseRecorder) (ours string) {
		t.Helper()
		deleted := false
		for _, c := range setCookies(t, rec) {
			switch {
			case c.Path == "/app" && c.MaxAge < 0:
				deleted = true
			case c.Path == "/" && c.MaxAge >= 3600:
				ours = c.Name + "=" + c.Value
			default:
				t.Errorf("%s: unexpected Set-Cookie %s", step, c)
			}
		}
		if !deleted || ours == "" {
			t.Fatalf("%s: Set-Cookie %q: want ours written and the gorilla cookie deleted at /app", step, rec.Header().Values("Set-Cookie"))
		}
		return ours
	}

	s, rec := send(m, gorilla, func(*Session[user]) {})
	if s.Data.Name != "ada" {
		t.Fatalf("not converted: err %v", s.Err())
	}
	ours := checkResponse("converting", rec)

	// The browser kept the gorilla cookie; the user signs out.
	_, rec = send(m, gorilla+"; "+ours, func(s *Session[user]) { s.Destroy() })
	tombstone := checkResponse("signing out", rec)
	if s, _ := send(m, gorilla+"; "+tombstone, func(*Session[user]) {}); s.Data.Name != "" {
		t.Errorf("after sign-out, the kept gorilla cookie signed the user back in")
	}
	// The gorilla cookie replayed from another browser.
	for name, c := range map[string]string{"a copy of the gorilla cookie": gorilla, "an earlier gorilla cookie": earlier} {
		if s, _ := send(m, c, func(*Session[user]) {}); !errors.Is(s.Err(), ErrRevoked) || s.Data.Name != "" {
			t.Errorf("%s after sign-out: err %v, data %+v", name, s.Err(), s.Data)
		}
	}

	// Converted and signed out on the same request: a copy of the gorilla
	// cookie is revoked too.
	other := "session=" + gorillaCookie(t, "session", map[any]any{"name": "bob"}, gorillaHash, gorillaBlock)
	if s, _ := send(m, other, func(s *Session[user]) { s.Destroy() }); s.Data.Name != "" {
		t.Fatalf("destroyed, yet %+v", s.Data)
	}
	if s, _ := send(m, other, func(*Session[user]) {}); !errors.Is(s.Err(), ErrRevoked) {
		t.Errorf("a copy of a gorilla cookie converted and signed out at once: err %v, data %+v", s.Err(), s.Data)
	}

	// Without a store of revocations, the rule needs no server state: a
	// cookie of ours that authenticates, even expired, keeps the gorilla
	// cookie from converting, and the response replaces it.
	stateless := newTestManager[user](t, clock, WithGorillaMigration(store, convertUser), WithRevocation(nil), WithSubject(func(u user) string { return u.Name }))
	m = stateless
	_, rec = send(m, gorilla, func(*Session[user]) {})
	ours = checkResponse("converting", rec)
	clock.Advance(DefaultMaxAge + time.Minute)
	s, rec = send(m, gorilla+"; "+ours, func(*Session[user]) {})
	if !errors.Is(s.Err(), ErrExpired) || s.Data.Name != "" {
		t.Errorf("an expired cookie of ours with the gorilla cookie: err %v, data %+v", s.Err(), s.Data)
	}
	checkResponse("clearing the expired cookie", rec)
}

// The old store's MaxAge bounds which gorilla cookies convert: one that
// store would have refused is not taken over.
func TestGorillaMigrationHonoursTheStoreMaxAge(t *testing.T) {
	gorilla := "session=" + gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)
	saved := gorillaSavedAt(t, strings.TrimPrefix(gorilla, "session="))
	tests := []struct {
		name   string
		maxAge int
		age    time.Duration
		want   error
	}{
		{"within MaxAge(900)", 900, 14 * time.Minute, nil},
		{"past MaxAge(900)", 900, 16 * time.Minute, ErrExpired},
		{"a second before MaxAge(900) ends", 900, 15*time.Minute - time.Second, nil},
		{"as MaxAge(900) ends", 900, 15 * time.Minute, ErrExpired},
		{"within the default, 30 days", 0, 29 * 24 * time.Hour, nil},
		{"past the default, 30 days", 0, 31 * 24 * time.Hour, ErrExpired},
	}
	for _, tt := range tests {
		clock := newClockAt(saved.Add(tt.age))
		store := GorillaStore{KeyPairs: [][]byte{gorillaHash, gorillaBlock}, MaxAge: tt.maxAge}
		m := newTestManager[user](t, clock, WithGorillaMigration(store, convertUser), WithMaxAge(60*24*time.Hour))
		s := load(m, gorilla)
		if !errors.Is(s.Err(), tt.want) || (tt.want == nil) != (s.Data.Name == "ada") {
			t.Errorf("%s: err %v, data %+v; want %v", tt.name, s.Err(), s.Data, tt.want)
		}
	}
}

// A gorilla cookie that authenticates but does not decode (a type no
// longer registered with gob, say) is not taken for junk: the failure is
// reported, and the cookie kept for when the application is fixed.
func TestGorillaCookieThatDoesNotDecode(t *testing.T) {
	var hookErr error
	m := newTestManager[user](t, gorillaClock(), WithGorillaMigration(gorillaStore, convertUser),
		WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hookErr = err }))
	codecs := securecookie.CodecsFromPairs(gorillaHash, gorillaBlock)
	codecs[0].(*securecookie.SecureCookie).SetSerializer(securecookie.JSONEncoder{})
	notGob, err := securecookie.EncodeMulti("session", map[string]string{"name": "ada"}, codecs...)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.cookies["session"] = notGob
	var s *Session[user]
	rec := b.do(handle(m, func(got *Session[user]) { s = got }), "GET", "/")
	if !errors.Is(s.Err(), ErrMigration) || !errors.Is(hookErr, ErrMigration) || !strings.Contains(s.Err().Error(), "gob") {
		t.Errorf("err %v, error handler heard %v; want ErrMigration, naming gob", s.Err(), hookErr)
	}
	if set := rec.Header().Values("Set-Cookie"); len(set) != 0 {
		t.Errorf("the gorilla cookie was not kept: %q", set)
	}
}

// TestGorillaMigrationRunsTheValidator checks that the validator sees
// sessions converted from gorilla/sessions cookies too (it once did not).
// The validator is how sessions are revoked; a gorilla cookie it never saw
// (valid for 30 days from its last save) would escape any revocation.
func TestGorillaMigrationRunsTheValidator(t *testing.T) {
	clock := gorillaClock()
	m := newTestManager[user](t, clock,
		WithGorillaMigration(gorillaStore, convertUser),
		WithValidator(func(r *http.Request, s *Session[user]) error {
			return errors.New("signed out everywhere")
		}))
	s := load(m, "session="+gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock))
	if !s.IsNew() || !errors.Is(s.Err(), ErrRejected) || s.Data.Name != "" {
		t.Errorf("a converted gorilla session escaped the validator: new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
	}
}

// TestGorillaMigrationMeetsSignOutEverywhere checks the README's "signed out
// everywhere" validator against a gorilla/sessions cookie saved before the
// user signed out everywhere and replayed afterwards, while
// WithGorillaMigration is on: the validator must reject it, as it rejects
// a cookie of this package's format sealed before the sign-out.
func TestGorillaMigrationMeetsSignOutEverywhere(t *testing.T) {
	// securecookie stamps and checks its values with the real clock; the
	// application's clock is two hours later, and the user signed out
	// everywhere an hour after the gorilla cookie was saved.
	saved := time.Now()
	signedOutAt := saved.Add(time.Hour)
	clock := newClockAt(saved.Add(2 * time.Hour))
	m := newTestManager[user](t, clock,
		WithGorillaMigration(gorillaStore, convertUser),
		WithValidator(func(r *http.Request, s *Session[user]) error {
			if s.Data.Name != "" && !s.Created().After(signedOutAt) {
				return errors.New("signed out everywhere")
			}
			return nil
		}))
	gorilla := gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)

	// The control: a cookie of this package's format sealed at the same
	// time is rejected.
	v1, err := testKeys(t).Seal("session", Contents{Created: saved, Issued: saved, Data: []byte(`{"Name":"ada"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, value string }{{"version 1", v1}, {"gorilla", gorilla}} {
		s := load(m, "session="+c.value)
		if !s.IsNew() || !errors.Is(s.Err(), ErrRejected) {
			t.Errorf("%s cookie saved before signing out everywhere: new %v, err %v, created %v", c.name, s.IsNew(), s.Err(), s.Created())
		}
	}
}

// A value of ours refused for what it says (rejected by the validator,
// revoked, expired) means this browser was served since the migration
// began: a gorilla cookie that came with it is not converted, however
// valid, and the session starts afresh for the refusal of ours.
func TestGorillaCookieAfterARefusedValueOfOurs(t *testing.T) {
	clock := gorillaClock()
	m := newTestManager[user](t, clock, WithGorillaMigration(gorillaStore, convertUser),
		WithValidator(func(r *http.Request, s *Session[user]) error {
			if s.Data.Name == "bob" {
				return errors.New("bob signed out everywhere")
			}
			return nil
		}))
	gorilla := gorillaCookie(t, "session", map[any]any{"name": "ada"}, gorillaHash, gorillaBlock)
	rejected, err := testKeys(t).Seal("session", Contents{Created: clock.Now(), Issued: clock.Now(), Data: []byte(`{"Name":"bob"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, values := range [][]string{{rejected, gorilla}, {gorilla, rejected}} {
		s, _ := send(m, "session="+strings.Join(values, "; session="), nil)
		if s.Data.Name != "" || !errors.Is(s.Err(), ErrRejected) {
			t.Errorf("a gorilla cookie with a rejected value of ours: data %+v, err %v; want a new session, ErrRejected", s.Data, s.Err())
		}
	}
}
