package cookiesession_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	. "github.com/ce967478/cookiesession"
)

// Fuzz targets beside FuzzOpen (seal_test.go) and FuzzOpenSecureCookie
// (seal_gorilla_test.go). Their seed corpora are committed under
// testdata/fuzz/<FuzzName>/ and run as ordinary subtests by go test; make
// test and make fuzz also run each target with -fuzz.

// chunkManagers are the Managers FuzzChunks uses, all with room for three
// chunks: m opens with keys 1 and 2 and seals with key 1; older seals with
// key 2 only, whose sessions m opens as stale; newest opens with key 1
// only, as m's ring will after the rotation.
type chunkManagers struct{ m, older, newest *Manager[user] }

func newChunkManagers(tb testing.TB) chunkManagers {
	tb.Helper()
	clock := newClock()
	opts := []Option{WithClock(clock.Now), quiet, WithName(FallbackName), WithPath(longPath), WithMaxSize(7600)}
	mk := func(secrets ...[]byte) *Manager[user] {
		m, err := New[user](mustKeyring(tb, secrets...), opts...)
		if err != nil {
			tb.Fatal(err)
		}
		return m
	}
	return chunkManagers{m: mk(testSecret(1), testSecret(2)), older: mk(testSecret(2)), newest: mk(testSecret(1))}
}

// chunkSessions returns the sessions FuzzChunks seals, and the Cookie
// headers a browser holding each of them would send.
func chunkSessions(tb testing.TB, ms chunkManagers) (datas []user, headers []string) {
	tb.Helper()
	for _, tc := range []struct {
		m     *Manager[user]
		data  user
		flash bool
	}{
		{ms.m, user{Name: "ada", Cart: []string{"tea"}, N: 1}, false},
		{ms.m, bigData(5000), false}, // two chunks
		{ms.m, bigData(7000), false}, // three chunks
		{ms.older, user{Name: "old key", N: 2}, false},
		{ms.older, bigData(6000), false},
		{ms.m, user{Name: "flash", N: 7}, true},
	} {
		b := newBrowser(tb)
		b.do(handle(tc.m, func(s *Session[user]) {
			s.Data = tc.data
			if tc.flash {
				s.AddFlash("hello")
			}
		}), "GET", "/")
		datas = append(datas, tc.data)
		headers = append(headers, b.header())
		// The seeds must reach the opening path, not just the refusals.
		if s := ms.m.Load(b.request("GET", "/")); s.IsNew() || !reflect.DeepEqual(s.Data, tc.data) {
			tb.Fatalf("session %d does not open (err %v)", len(datas), s.Err())
		}
	}
	return datas, headers
}

// sessionCookieNames returns the names of the cookies m takes for its
// session's (the main cookie, then each chunk it may write), found as a
// request finds them: a chunk alone is a broken session, any other cookie
// is the application's.
func sessionCookieNames[T any](tb testing.TB, m *Manager[T]) []string {
	tb.Helper()
	names := []string{m.Name()}
	for i := 1; i < 16; i++ {
		name := fmt.Sprintf("%s.%d", m.Name(), i)
		if load(m, name+"=x").Err() == nil {
			break
		}
		names = append(names, name)
	}
	return names
}

// presentNames returns those of names that req's Cookie header carries,
// read as net/http reads it (which the Manager does too).
func presentNames(req *http.Request, names []string) []string {
	var present []string
	for _, c := range req.Cookies() {
		if slices.Contains(names, c.Name) && !slices.Contains(present, c.Name) {
			present = append(present, c.Name)
		}
	}
	slices.Sort(present)
	return present
}

// FuzzChunks feeds arbitrary Cookie headers through a Manager's Load, the
// path that finds the main and chunk cookies among the others, checks their
// sizes and chunk count, reassembles them and opens the result. It must
// never panic, and must give either the data of one of the sessions sealed
// above (the fuzzer may rebuild one, for example by moving characters
// across a chunk boundary, which leaves the concatenation unchanged) or a
// new, empty session whose Err wraps a documented sentinel. Saving what it
// gave must work: deleting exactly the session's cookies that came when
// none opened, and otherwise leaving cookies the newest key alone opens,
// to the same data: a stale key's session is sealed again.
//
// Lines of the input become separate Cookie header fields, as HTTP/2
// splits cookies.
func FuzzChunks(f *testing.F) {
	ms := newChunkManagers(f)
	names := sessionCookieNames(f, ms.m)
	if len(names) < 3 {
		f.Fatalf("the Manager's cookies are %q, want a main cookie and at least two chunks", names)
	}
	datas, headers := chunkSessions(f, ms)
	for _, h := range headers {
		f.Add(h)
	}
	small := headers[0]
	_, smallValue, _ := strings.Cut(small, "=")
	f.Add("")
	f.Add("theme=dark; " + small + "; lang=en")
	f.Add(`session="` + smallValue + `"`)
	f.Add("session=x; " + small)
	f.Add(small + "; session=x")
	f.Add("session.1=abc")
	f.Add("session=99.abc; session.1=abc")
	f.Add("session=2.abc\nsession.1=def")
	f.Add(strings.ReplaceAll(headers[2], "; ", "\n"))
	f.Add("session=+2.abc; session.+1=def")
	f.Add("session=16." + strings.Repeat("A", 100) + strings.Repeat("; session.15=B", 3))

	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header["Cookie"] = strings.Split(header, "\n")
		present := presentNames(req, names)
		s := ms.m.Load(req)

		if !s.IsNew() {
			if s.Err() != nil {
				t.Fatalf("an opened session has Err %v", s.Err())
			}
			if !slices.ContainsFunc(datas, func(d user) bool { return reflect.DeepEqual(d, s.Data) }) {
				t.Fatalf("opened to data that no test session held: %+v", s.Data)
			}
		} else {
			if !reflect.DeepEqual(s.Data, user{}) {
				t.Fatalf("a new session holds %+v", s.Data)
			}
			switch err := s.Err(); {
			case err == nil && len(present) != 0:
				t.Fatalf("cookies %q came but the new session has no Err", present)
			case err != nil && !isOpenError(err):
				t.Fatalf("undocumented error %v", err)
			}
		}

		rec := httptest.NewRecorder()
		if err := ms.m.Save(rec, s); err != nil {
			t.Fatalf("Save: %v", err)
		}
		lines := rec.Result().Cookies()
		if s.IsNew() {
			// Nothing to write but the deletion of what did not open.
			var deleted []string
			for _, c := range lines {
				if c.MaxAge >= 0 || c.Value != "" || !slices.Contains(names, c.Name) || slices.Contains(deleted, c.Name) {
					t.Fatalf("Set-Cookie %q for a new session", c.String())
				}
				deleted = append(deleted, c.Name)
			}
			if slices.Sort(deleted); !slices.Equal(deleted, present) {
				t.Fatalf("deleted cookies %q, the request had %q", deleted, present)
			}
			return
		}
		// What the browser holds next opens with the newest key alone, to
		// the same data: a stale key's session was sealed again.
		next := req
		if len(lines) > 0 {
			next = httptest.NewRequest("GET", "/", nil)
			for _, c := range lines {
				if c.MaxAge >= 0 {
					next.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				}
			}
		}
		if s2 := ms.newest.Load(next); s2.IsNew() || !reflect.DeepEqual(s2.Data, s.Data) {
			t.Fatalf("after the response (%d lines), the newest key alone: new %v, err %v", len(lines), s2.IsNew(), s2.Err())
		}
	})
}

// FuzzParseKeyring feeds arbitrary strings to ParseKeyring, as if they were
// SESSION_KEYS. It must never panic. It either refuses with ErrInvalidKeys,
// with a message that shows nothing of the input (neither an entry's text
// nor its decoded bytes), or returns a usable Keyring: one key per entry,
// in order, each the key of that entry's decoded bytes, whose printed
// forms show no key material either.
func FuzzParseKeyring(f *testing.F) {
	s1, s2 := testSecret(1), testSecret(2)
	f.Add(EncodeSecret(s1))
	f.Add(base64.StdEncoding.EncodeToString(s1))
	f.Add(base64.RawStdEncoding.EncodeToString(s1) + " , " + base64.URLEncoding.EncodeToString(s2))
	f.Add(EncodeSecret(s1) + "," + EncodeSecret(s1))
	f.Add(EncodeSecret(s1) + ",")
	f.Add(EncodeSecret(make([]byte, 16)))
	f.Add(EncodeSecret(GenerateSecret()) + "," + EncodeSecret(make([]byte, 64)))
	f.Add("ab-c+" + EncodeSecret(s1))
	f.Add("")
	f.Add(" , ")
	f.Add("not*base64!")
	// The advice on making a key ends every message: fixed text, which
	// the check below leaves out.
	_, err := ParseKeyring("")
	advice := err.Error()[strings.LastIndex(err.Error(), "; ")+2:]

	f.Fuzz(func(t *testing.T, list string) {
		k, err := ParseKeyring(list)
		parts := strings.Split(list, ",")
		if err != nil {
			if k != nil {
				t.Fatalf("a Keyring with the error %v", err)
			}
			if !errors.Is(err, ErrInvalidKeys) {
				t.Fatalf("err = %v, want ErrInvalidKeys", err)
			}
			msg := strings.ReplaceAll(err.Error(), advice, "")
			for i, p := range parts {
				p = strings.TrimSpace(p)
				if len(p) >= 8 && strings.Contains(msg, p) {
					t.Fatalf("the message %q shows entry %d", err, i+1)
				}
				for _, d := range fuzzDecodings(p) {
					if len(d) >= 6 && strings.Contains(msg, string(d)) {
						t.Fatalf("the message %q shows the decoded bytes of entry %d", err, i+1)
					}
				}
			}
			return
		}

		// One key per entry, in order, each derived from that entry's
		// bytes as an independent decoding reads them: what that key
		// seals, the ring opens at the entry's position.
		if n := len(ids(t, k)); n != len(parts) {
			t.Fatalf("%d keys from %d entries", n, len(parts))
		}
		var secrets [][]byte
		for i, p := range parts {
			found := false
			for _, d := range fuzzDecodings(strings.TrimSpace(p)) {
				if len(d) < MinSecretSize {
					continue
				}
				if key, err := positionOf(t, k, d); err == nil && key == i {
					secrets = append(secrets, d)
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("key %d is not the key of entry %d's bytes", i+1, i+1)
			}
		}
		for _, shown := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%+v %#v %x %s", k, k, k, k)} {
			for i, d := range secrets {
				if strings.Contains(shown, string(d)) || strings.Contains(shown, strings.TrimSpace(parts[i])) ||
					strings.Contains(shown, fmt.Sprintf("%x", d)) {
					t.Fatalf("printing the Keyring shows key %d: %q", i+1, shown)
				}
			}
		}

		// It seals with the first key, and a ring of the same secrets
		// opens that; a ring lacking the first does not.
		data := []byte(`{"user":"ada"}`)
		v, err := k.Seal("session", Contents{Created: t0, Issued: t0, Data: data})
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		for _, ring := range []*Keyring{k, mustKeyring(t, secrets...)} {
			c, key, err := openValue(ring, "session", v, t0, Limits{})
			if err != nil || string(c.Data) != string(data) || key != 0 {
				t.Fatalf("round trip: %v (key %d)", err, key)
			}
		}
		if len(secrets) > 1 {
			rest := mustKeyring(t, secrets[1:]...)
			if _, _, err := openValue(rest, "session", v, t0, Limits{}); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("a ring without the sealing key: err = %v, want ErrUnknownKey", err)
			}
		}
	})
}

// fuzzDecodings returns what s decodes to in each base64 alphabet that
// accepts it, padding ignored: the bytes ParseKeyring could have taken
// from it.
func fuzzDecodings(s string) [][]byte {
	s = strings.TrimRight(s, "=")
	var out [][]byte
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil {
			out = append(out, d)
		}
	}
	return out
}
