package cookiesession

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Fuzz targets beside FuzzOpen (seal_test.go) and FuzzOpenSecureCookie
// (seal_gorilla_test.go). Their seed corpora are committed under
// testdata/fuzz/<FuzzName>/ and run as ordinary subtests by go test; make
// test and make fuzz also run each target with -fuzz.

// fuzzChunkSessions returns the sessions FuzzChunks seals, and the Cookie
// headers a browser holding each of them would send.
func fuzzChunkSessions(tb testing.TB, m, oldKeyManager *Manager[user]) (datas []user, headers []string) {
	tb.Helper()
	flashed := user{Name: "flash", N: 7}
	for _, tc := range []struct {
		m     *Manager[user]
		data  user
		flash bool
	}{
		{m, user{Name: "ada", Cart: []string{"tea"}, N: 1}, false},
		{m, bigData(5000), false}, // two chunks
		{m, bigData(7000), false}, // three chunks
		{oldKeyManager, user{Name: "old key", N: 2}, false},
		{oldKeyManager, bigData(6000), false},
		{m, flashed, true},
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
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Cookie", b.header())
		if s := m.Load(req); s.IsNew() || !reflect.DeepEqual(s.Data, tc.data) {
			tb.Fatalf("session %d does not open (err %v)", len(datas), s.Err())
		}
	}
	return datas, headers
}

// newFuzzChunkManagers returns the Manager FuzzChunks loads with (keys 1
// and 2, room for three chunks) and one that seals with key 2 only, whose
// sessions the first opens as stale.
func newFuzzChunkManagers(tb testing.TB) (m, oldKeyManager *Manager[user]) {
	tb.Helper()
	clock := newClock()
	opts := []Option{WithClock(clock.Now), WithLogger(slog.New(slog.DiscardHandler)), WithName(FallbackName), WithPath(longPath), WithMaxSize(7600)}
	m, err := New[user](mustKeyring(tb, testSecret(1), testSecret(2)), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	oldKeyManager, err = New[user](mustKeyring(tb, testSecret(2)), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return m, oldKeyManager
}

// isOpenError reports whether err wraps one of the errors a cookie that
// does not open may give (without a validator or gorilla migration).
func isOpenError(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrExpired) || errors.Is(err, ErrUnknownKey) ||
		errors.Is(err, ErrAuthentication) || errors.Is(err, ErrTooLarge)
}

// FuzzChunks feeds arbitrary Cookie headers through a Manager's Load, the
// path that finds the main and chunk cookies among the others, checks their
// sizes and chunk count, reassembles them and opens the result. It must
// never panic, and must give either the data of one of the sessions sealed
// above (the fuzzer may rebuild one, for example by moving characters
// across a chunk boundary, which leaves the concatenation unchanged) or a
// new, empty session whose Err wraps a documented sentinel. Saving what it
// gave must work: deleting what did not open, or re-sealing a stale key's
// session into cookies that open again to the same data.
//
// Lines of the input become separate Cookie header fields, as HTTP/2
// splits cookies.
func FuzzChunks(f *testing.F) {
	m, oldKeyManager := newFuzzChunkManagers(f)
	datas, headers := fuzzChunkSessions(f, m, oldKeyManager)
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
		present := m.e.cookies.read(req).present
		s := m.Load(req)

		if !s.IsNew() {
			if s.Err() != nil {
				t.Fatalf("an opened session has Err %v", s.Err())
			}
			if !containsData(datas, s.Data) {
				t.Fatalf("opened to data that no test session held: %+v", s.Data)
			}
		} else {
			if !reflect.DeepEqual(s.Data, user{}) {
				t.Fatalf("a new session holds %+v", s.Data)
			}
			switch err := s.Err(); {
			case err == nil && present != 0:
				t.Fatalf("cookies %b came but the new session has no Err", present)
			case err != nil && !isOpenError(err):
				t.Fatalf("undocumented error %v", err)
			}
		}

		rec := httptest.NewRecorder()
		if err := m.Save(rec, s); err != nil {
			t.Fatalf("Save: %v", err)
		}
		lines := rec.Result().Cookies()
		if s.IsNew() {
			// Nothing to write but the deletion of what did not open.
			deleted := uint32(0)
			for _, c := range lines {
				i := cookieIndexOf(m, c.Name)
				if c.MaxAge >= 0 || c.Value != "" || i < 0 {
					t.Fatalf("Set-Cookie %q for a new session", c.String())
				}
				deleted |= 1 << i
			}
			if deleted != present {
				t.Fatalf("deleted cookies %b, the request had %b", deleted, present)
			}
			return
		}
		// A stale key's session was sealed again by the newest key: those
		// cookies must open to the same data.
		if s.stale || len(lines) > 0 {
			req2 := httptest.NewRequest("GET", "/", nil)
			for _, c := range lines {
				if c.MaxAge >= 0 {
					req2.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
				}
			}
			s2 := m.Load(req2)
			if s2.IsNew() || s2.stale || !reflect.DeepEqual(s2.Data, s.Data) {
				t.Fatalf("re-sealed session does not open to the same data: new %v, err %v, stale %v", s2.IsNew(), s2.Err(), s2.stale)
			}
		}
	})
}

// cookieIndexOf returns i for the name of m's cookie i, -1 for others.
func cookieIndexOf[T any](m *Manager[T], name string) int {
	for i := range maxChunks {
		if chunkName(m.Name(), i) == name {
			return i
		}
	}
	return -1
}

func containsData(datas []user, d user) bool {
	for _, want := range datas {
		if reflect.DeepEqual(want, d) {
			return true
		}
	}
	return false
}

// FuzzParseKeyring feeds arbitrary strings to ParseKeyring, as if they were
// SESSION_KEYS. It must never panic. It either refuses with ErrInvalidKeys,
// with a message that shows nothing of the input (neither an entry's text
// nor its decoded bytes), or returns a usable Keyring: one key per entry,
// each the key of that entry's decoded bytes, that seals and opens, and
// whose printed forms show no key material either.
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
			// The advice on making a key is fixed text; what remains must
			// not repeat the input.
			msg := strings.ReplaceAll(err.Error(), howToMakeKey, "")
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

		// One key per entry, each derived from that entry's bytes as an
		// independent decoding reads them.
		if len(k.keys) != len(parts) {
			t.Fatalf("%d keys from %d entries", len(k.keys), len(parts))
		}
		var secrets [][]byte
		for i, p := range parts {
			found := false
			for _, d := range fuzzDecodings(strings.TrimSpace(p)) {
				if len(d) >= MinSecretSize && mustKeyring(t, d).keys[0].id == k.keys[i].id {
					secrets = append(secrets, d)
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("key %d (id %x) is not the key of entry %d's bytes", i+1, k.keys[i].id, i+1)
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

		// It seals with the first key and opens with itself, and with a
		// ring made of the same secrets; not with a ring lacking the first.
		data := []byte(`{"user":"ada"}`)
		v, err := k.seal("session", &Contents{Created: t0, Issued: t0, Data: data})
		if err != nil {
			t.Fatalf("seal: %v", err)
		}
		for _, ring := range []*Keyring{k, mustKeyring(t, secrets...)} {
			e, key, err := ring.open("session", v, openOptions{now: t0, maxAge: time.Hour, maxLength: DefaultMaxSize})
			if err != nil || string(e.Data) != string(data) || key != 0 {
				t.Fatalf("round trip: %v (key %d)", err, key)
			}
		}
		if len(secrets) > 1 {
			rest := mustKeyring(t, secrets[1:]...)
			if _, _, err := rest.open("session", v, at(t0)); !errors.Is(err, ErrUnknownKey) {
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
