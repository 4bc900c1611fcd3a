package interop

import (
	"bytes"
	"encoding/gob"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/gorilla/sessions"
)

// Prefs is a type an application stored in its gorilla session; gob needs
// it registered, as it was in that application.
type Prefs struct{ Theme string }

func init() { gob.Register(Prefs{}) }

// Account is the application's session type after the move.
type Account struct {
	User  string
	Cart  []string
	Theme string
}

func fromGorilla(values map[any]any) (Account, error) {
	user, ok := values["user"].(string)
	if !ok {
		return Account{}, errors.New("no user in the gorilla session")
	}
	a := Account{User: user}
	a.Cart, _ = values["cart"].([]string)
	if p, ok := values["prefs"].(Prefs); ok {
		a.Theme = p.Theme
	}
	return a, nil
}

var (
	hashKey  = bytes.Repeat([]byte("H"), 64)
	blockKey = bytes.Repeat([]byte("B"), 32)
)

// gorillaLogin runs a request through a real CookieStore, as the old
// application did, and returns the cookie it set.
func gorillaLogin(t *testing.T, store *sessions.CookieStore, values map[any]any) *http.Cookie {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/login", nil)
	s, err := store.Get(req, "session")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		s.Values[k] = v
	}
	if err := s.Save(req, rec); err != nil {
		t.Fatal(err)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("gorilla set %d cookies", len(cs))
	}
	return cs[0]
}

func newManager(t *testing.T, hook func(error)) *cookiesession.Manager[Account] {
	t.Helper()
	keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
	if err != nil {
		t.Fatal(err)
	}
	// The store at gorilla's defaults: a MaxAge of 30 days, which the
	// lifetime must cover.
	m, err := cookiesession.New[Account](keys, cookiesession.WithName("session"), cookiesession.WithMaxAge(30*24*time.Hour),
		cookiesession.WithGorillaMigration(cookiesession.GorillaStore{KeyPairs: [][]byte{hashKey, blockKey}}, fromGorilla),
		cookiesession.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) { hook(err) }))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCookieStoreSessionsMoveOver(t *testing.T) {
	store := sessions.NewCookieStore(hashKey, blockKey)
	old := gorillaLogin(t, store, map[any]any{"user": "ada", "cart": []string{"tea"}, "prefs": Prefs{"dark"}})

	var hookErr error
	m := newManager(t, func(err error) { hookErr = err })
	var got Account
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = m.Get(r).Data
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(old)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if got.User != "ada" || strings.Join(got.Cart, ",") != "tea" || got.Theme != "dark" || hookErr != nil {
		t.Fatalf("converted %+v, hook %v", got, hookErr)
	}
	// The same response re-issues the session in cookiesession's format,
	// which the old store can no longer read and the new one opens alone.
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "session" || cs[0].Value == old.Value {
		t.Fatalf("re-issued cookies %v", cs)
	}
	req = httptest.NewRequest("GET", "/", nil)
	req.AddCookie(cs[0])
	s := m.Load(req)
	if s.IsNew() || s.Data.User != "ada" {
		t.Errorf("re-sealed session: new %v, data %+v, err %v", s.IsNew(), s.Data, s.Err())
	}
	if _, err := store.Get(req, "session"); err == nil {
		t.Error("the old store reads the new format: the formats are not distinct")
	}
}

func TestCookieStoreFailures(t *testing.T) {
	store := sessions.NewCookieStore(hashKey, blockKey)
	wrongKeys := sessions.NewCookieStore(bytes.Repeat([]byte("x"), 64), blockKey)
	good := gorillaLogin(t, store, map[any]any{"user": "ada"})
	tampered := *good
	tampered.Value = good.Value[:20] + flip(good.Value[20]) + good.Value[21:]
	tests := []struct {
		name     string
		cookie   *http.Cookie
		want     error
		wantHook bool
	}{
		{"tampered", &tampered, nil, false},
		{"other keys", gorillaLogin(t, wrongKeys, map[any]any{"user": "eve"}), cookiesession.ErrAuthentication, false},
		{"conversion fails", gorillaLogin(t, store, map[any]any{"nobody": true}), cookiesession.ErrMigration, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hookErr error
			m := newManager(t, func(err error) { hookErr = err })
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(tt.cookie)
			var s *cookiesession.Session[Account]
			rec := httptest.NewRecorder()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s = m.Get(r) })).ServeHTTP(rec, req)
			if !s.IsNew() || s.Data.User != "" || s.Err() == nil || rec.Code != http.StatusOK {
				t.Fatalf("new %v, data %+v, err %v, status %d", s.IsNew(), s.Data, s.Err(), rec.Code)
			}
			if tt.want != nil && !errors.Is(s.Err(), tt.want) {
				t.Errorf("err %v, want %v", s.Err(), tt.want)
			}
			if (hookErr != nil) != tt.wantHook {
				t.Errorf("hook got %v", hookErr)
			}
		})
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

// A CookieStore of another path and a shorter MaxAge, described to the
// Manager as its sessions.Options holds them: its cookie converts, the
// response deletes it where the store set it, and once the store's MaxAge
// has passed, it no longer converts.
func TestCookieStoreOptionsReachTheMigration(t *testing.T) {
	store := sessions.NewCookieStore(hashKey, blockKey)
	store.Options.Path = "/app"
	store.MaxAge(900)
	old := gorillaLogin(t, store, map[any]any{"user": "ada"})
	described := cookiesession.GorillaStore{KeyPairs: [][]byte{hashKey, blockKey},
		Path: store.Options.Path, Domain: store.Options.Domain, MaxAge: store.Options.MaxAge}
	for _, tc := range []struct {
		name  string
		later time.Duration
		want  error
	}{
		{"within MaxAge", 14 * time.Minute, nil},
		{"past MaxAge", 16 * time.Minute, cookiesession.ErrExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := cookiesession.NewKeyring(cookiesession.GenerateSecret())
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now().Add(tc.later)
			m, err := cookiesession.New[Account](keys, cookiesession.WithName("session"), cookiesession.WithGorillaMigration(described, fromGorilla),
				cookiesession.WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			var s *cookiesession.Session[Account]
			req := httptest.NewRequest("GET", "/app/", nil)
			req.AddCookie(old)
			rec := httptest.NewRecorder()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s = m.Get(r) })).ServeHTTP(rec, req)
			if !errors.Is(s.Err(), tc.want) || (tc.want == nil) != (s.Data.User == "ada") {
				t.Fatalf("err %v, data %+v; want %v", s.Err(), s.Data, tc.want)
			}
			deleted := false
			for _, c := range rec.Result().Cookies() {
				deleted = deleted || (c.Path == "/app" && c.MaxAge < 0)
			}
			if tc.want == nil && !deleted {
				t.Errorf("the gorilla cookie was not deleted at /app: %q", rec.Header().Values("Set-Cookie"))
			}
		})
	}
}
