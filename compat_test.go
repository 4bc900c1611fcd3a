package cookiesession_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// The fixtures in testdata/compat are cookies written by the library at
// commit 22b770f, before its JSON engine, snapshot and cache gave way to
// encoding/json, with keys made for them. A release must open them with the
// same data, or it signs out everyone who holds such a cookie.

type compatItem struct {
	SKU string
	Qty int
}

type compatUser struct {
	Name   string
	Roles  []string
	Cart   []compatItem
	Theme  string
	Visits int
	Notes  string
}

type compatFixture struct {
	About   string          `json:"about"`
	Keys    string          `json:"keys"`
	Name    string          `json:"name"`
	Now     time.Time       `json:"now"`
	Cookie  string          `json:"cookie"`
	Data    json.RawMessage `json:"data"`
	Flashes []string        `json:"flashes"`
	Created time.Time       `json:"created"`
	Issued  time.Time       `json:"issued"`
}

func TestCookiesOfOtherReleasesOpen(t *testing.T) {
	files, err := filepath.Glob("testdata/compat/*.json")
	if err != nil || len(files) < 5 {
		t.Fatalf("fixtures: %v %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var fx compatFixture
			if err := json.Unmarshal(b, &fx); err != nil {
				t.Fatal(err)
			}
			if filepath.Base(file) == "map.json" {
				compatOpen[map[string]any](t, fx)
			} else {
				compatOpen[compatUser](t, fx)
			}
		})
	}
}

// compatOpen opens the fixture's cookie as the application would, checks
// what it holds, then lets the middleware write it back and opens that.
func compatOpen[T any](t *testing.T, fx compatFixture) {
	keys, err := ParseKeyring(fx.Keys)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New[T](keys, WithName(fx.Name), WithClock(newClockAt(fx.Now).Now), quiet)
	if err != nil {
		t.Fatal(err)
	}
	var want T
	if err := json.Unmarshal(fx.Data, &want); err != nil {
		t.Fatal(err)
	}
	s := load(m, fx.Cookie)
	if s.IsNew() || s.Err() != nil {
		t.Fatalf("%s: did not open: %v", fx.About, s.Err())
	}
	if !reflect.DeepEqual(s.Data, want) {
		t.Errorf("%s: data %+v, want %+v", fx.About, s.Data, want)
	}
	if !s.Created().Equal(fx.Created) || !s.Issued().Equal(fx.Issued) {
		t.Errorf("%s: created %v issued %v, want %v and %v", fx.About, s.Created(), s.Issued(), fx.Created, fx.Issued)
	}
	if got := s.Flashes(); !slices.Equal(got, fx.Flashes) {
		t.Errorf("%s: flashes %q, want %q", fx.About, got, fx.Flashes)
	}

	// Through the middleware, with a change, the cookie is written back in
	// today's format, and that opens with the change and the rest intact.
	b := newBrowser(t)
	cookies, err := http.ParseCookie(fx.Cookie)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		b.cookies[c.Name] = c.Value
	}
	var renewed bool
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := m.Get(r)
		s.AddFlash("still here")
		renewed = !s.IsNew()
	}))
	b.do(h, "GET", "/")
	if !renewed {
		t.Fatalf("%s: did not open through the middleware", fx.About)
	}
	s2 := m.Load(b.request("GET", "/"))
	if s2.IsNew() || !reflect.DeepEqual(s2.Data, want) || !s2.Created().Equal(fx.Created) {
		t.Errorf("%s: written back, it opens as %+v created %v (err %v)", fx.About, s2.Data, s2.Created(), s2.Err())
	}
	if got := s2.Flashes(); !slices.Equal(got, append(slices.Clone(fx.Flashes), "still here")) {
		t.Errorf("%s: written back, flashes %q", fx.About, got)
	}
}
