package cookiesession_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// gorilla/securecookie's format (WithGorillaFormat), as Keyring.Open reads
// it and a Manager writes it. Its values come from gorilla's own codec
// (gorillaValue), or from a Manager.

// scAlphabet is the alphabet of padded base64url, securecookie's encoding.
const scAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="

// scValue seals data at t0 in the securecookie format with testSecret(1).
func scValue(t testing.TB, data string) string {
	return gorillaValue(t, testSecret(1), "session", plaintext(Contents{Created: t0, Issued: t0, Data: []byte(data)}))
}

func TestSecureCookieRejectsEveryFlippedBit(t *testing.T) {
	k := testKeys(t)
	v := scValue(t, `{"user":"ada","admin":false}`)
	raw, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(raw)*8; i++ {
		mod := bytes.Clone(raw)
		mod[i/8] ^= 1 << (i % 8)
		c, _, err := openValue(k, "session", base64.URLEncoding.EncodeToString(mod), t0, Limits{})
		if err == nil {
			t.Fatalf("bit %d flipped: value still opens", i)
		}
		if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("bit %d flipped: err = %v, want ErrAuthentication or ErrMalformed", i, err)
		}
		if !reflect.DeepEqual(c, Contents{}) {
			t.Fatalf("bit %d flipped: partial result %+v", i, c)
		}
	}
}

// TestSecureCookieRejectsEveryChangedCharacter edits the string itself,
// which also reaches what bit flips of the decoded bytes cannot: unused
// base64 bits, padding and characters outside the alphabet. (A changed
// first character can make the value look like the default format's, of
// an unknown key: a documented error too.)
func TestSecureCookieRejectsEveryChangedCharacter(t *testing.T) {
	k := testKeys(t)
	v := scValue(t, `{"user":"ada"}`)
	replacements := scAlphabet + "+/.\n"
	for i := 0; i < len(v); i++ {
		for _, c := range []byte(replacements) {
			if v[i] == c {
				continue
			}
			mod := v[:i] + string(c) + v[i+1:]
			got, _, err := openValue(k, "session", mod, t0, Limits{})
			if err == nil {
				t.Fatalf("character %d changed to %q: value still opens", i, c)
			}
			if !isOpenError(err) || errors.Is(err, ErrExpired) || errors.Is(err, ErrTooLarge) {
				t.Fatalf("character %d changed to %q: err = %v", i, c, err)
			}
			if !reflect.DeepEqual(got, Contents{}) {
				t.Fatalf("character %d changed to %q: partial result %+v", i, c, got)
			}
		}
	}
}

func TestSecureCookieRefuses(t *testing.T) {
	k := testKeys(t)
	v := scValue(t, `{"user":"ada"}`)
	raw, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	date, rest, _ := bytes.Cut(raw, []byte("|"))
	payload, _, _ := bytes.Cut(rest, []byte("|"))
	enc := func(parts ...string) string {
		return base64.URLEncoding.EncodeToString([]byte(strings.Join(parts, "|")))
	}
	zeroMAC := string(make([]byte, sha256.Size))
	unknownKey := gorillaValue(t, testSecret(9), "session", plaintext(Contents{Created: t0, Issued: t0}))

	tests := []struct {
		name    string
		value   string
		maxSize int
		want    error
	}{
		{"empty", "", 0, ErrMalformed},
		{"padding only", "====", 0, ErrMalformed},
		{"not base64", strings.Repeat("*", len(v)), 0, ErrMalformed},
		{"unpadded", strings.TrimRight(enc(string(date), string(payload), zeroMAC+"x"), "="), 0, ErrMalformed},
		{"standard alphabet", "+/+/" + v, 0, ErrMalformed},
		{"truncated by one block", v[:len(v)-4], 0, ErrMalformed},
		{"truncated to half", v[:len(v)/2], 0, ErrMalformed},
		{"extended", v + "AAAA", 0, ErrMalformed},
		{"no separators", enc("hello"), 0, ErrMalformed},
		{"bad date", enc("x1", string(payload), zeroMAC), 0, ErrMalformed},
		{"short MAC", enc(string(date), string(payload), "abc"), 0, ErrMalformed},
		{"forged MAC", enc(string(date), string(payload), zeroMAC), 0, ErrAuthentication},
		{"other date", enc("1", string(payload), string(raw[len(raw)-sha256.Size:])), 0, ErrAuthentication},
		{"unknown key", unknownKey, 0, ErrAuthentication},
		{"1 MB", strings.Repeat("A", 1<<20), 0, ErrTooLarge},
		{"over the caller's limit", v, len(v) - 1, ErrTooLarge},
		{"exactly the caller's limit", v, len(v), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, err := openValue(k, "session", tt.value, t0, Limits{MaxSize: tt.maxSize})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !reflect.DeepEqual(c, Contents{}) {
				t.Errorf("a refused value returned a partial result: %+v", c)
			}
		})
	}
}

// A Manager sealing in gorilla's format refuses an over-long value before
// it decodes anything, as in the default format.
func TestSecureCookieManagerRefusesOverlongValues(t *testing.T) {
	m := newTestManager[user](t, newClock(), WithGorillaFormat())
	for _, n := range []int{DefaultMaxSize + 1, DefaultMaxSize + 3, 1 << 20} {
		if s := load(m, "session="+strings.Repeat("A", n)); !errors.Is(s.Err(), ErrTooLarge) {
			t.Errorf("a value of %d bytes: err %v, want ErrTooLarge", n, s.Err())
		}
	}
}

// Neither format mistakes the other's values for its own: a Manager that
// seals in one format seals the other's values again, in its own, and
// leaves its own values alone, whatever their length.
func TestSecureCookieAndV1DoNotMix(t *testing.T) {
	clock := newClock()
	managers := map[string]*Manager[user]{
		"v1":           newTestManager[user](t, clock),
		"securecookie": newTestManager[user](t, clock, WithGorillaFormat()),
	}
	for _, size := range []int{0, 100, 1000, 4000} {
		for from, writer := range managers {
			for to, reader := range managers {
				b := newBrowser(t)
				b.do(handle(writer, func(s *Session[user]) { s.Data = bigData(size); s.Data.N = 1 }), "GET", "/")
				var s *Session[user]
				rec := b.do(handle(reader, func(got *Session[user]) { s = got }), "GET", "/")
				if s.IsNew() || s.Data.N != 1 {
					t.Errorf("%d bytes sealed as %s, read as %s: new %v, err %v", size, from, to, s.IsNew(), s.Err())
				}
				if sets(rec) != (from != to) {
					t.Errorf("%d bytes sealed as %s, read as %s: Set-Cookie %q", size, from, to, rec.Header().Values("Set-Cookie"))
				}
			}
		}
	}
}

// One Keyring seals and opens from many goroutines, in gorilla's format
// too; with -race it checks that the codecs are never written to after
// construction.
func TestSecureCookieConcurrent(t *testing.T) {
	k := mustKeyring(t, testSecret(1), testSecret(2))
	m, err := New[user](k, WithGorillaFormat(), WithClock(newClock().Now), WithName(FallbackName), quiet)
	if err != nil {
		t.Fatal(err)
	}
	stale := gorillaValue(t, testSecret(2), "session", plaintext(Contents{Created: t0, Issued: t0, Data: []byte(`{"Name":"old"}`)}))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				name := fmt.Sprintf("g%d-%d", g, i)
				_, rec := send(m, "", func(s *Session[user]) { s.Data.Name = name })
				c, _, err := k.Open("session", rec.Result().Cookies(), t0, Limits{})
				if err != nil || !strings.Contains(string(c.Data), name) {
					errs <- fmt.Errorf("round trip of %q: %v", name, err)
					return
				}
				if _, key, err := openValue(k, "session", stale, t0, Limits{}); err != nil || key != 1 {
					errs <- fmt.Errorf("stale value: key %d, %v", key, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// FuzzOpenSecureCookie feeds arbitrary values, seeded with values of
// gorilla's format, to Keyring.Open: it must never panic, and must either
// refuse with a documented error and no partial result, or return what
// was sealed, which gorilla's codec and the default format both seal and
// open again to the same.
func FuzzOpenSecureCookie(f *testing.F) {
	k := mustKeyring(f, testSecret(1), testSecret(2))
	f.Add(scValue(f, `{"user":"ada"}`))
	f.Add(gorillaValue(f, testSecret(2), "session", plaintext(Contents{Created: t0, Issued: t0, Data: []byte(`{}`)})))
	f.Add(gorillaValue(f, testSecret(1), "session", plaintext(Contents{Created: t0, Issued: t0, Flashes: []string{"hi"}, Data: []byte("x")})))
	f.Add(gorillaValue(f, testSecret(1), "other", plaintext(Contents{Created: t0, Issued: t0})))
	good := scValue(f, `{"user":"ada"}`)
	f.Add("")
	f.Add("====")
	f.Add(good[:len(good)-4])
	f.Add(good + "\n")
	f.Add(base64.URLEncoding.EncodeToString([]byte("1|QUFBQQ==|" + strings.Repeat("m", sha256.Size))))
	f.Add(strings.Repeat("_", 100))
	limits := Limits{MaxAge: 24 * time.Hour}
	f.Fuzz(func(t *testing.T, value string) {
		c, _, err := openValue(k, "session", value, t0, limits)
		if err != nil {
			if !isOpenError(err) {
				t.Fatalf("undocumented error %v", err)
			}
			if !reflect.DeepEqual(c, Contents{}) {
				t.Fatalf("partial result with error: %+v", c)
			}
			return
		}
		sc := gorillaValue(t, testSecret(1), "session", plaintext(c))
		v1, err := k.Seal("session", c)
		if err != nil {
			t.Fatal(err)
		}
		for _, again := range []string{sc, v1} {
			c2, key, err := openValue(k, "session", again, t0, limits)
			if err != nil || key != 0 || !sameContents(c2, c) {
				t.Fatalf("re-sealed value does not round-trip: %v (key %d)", err, key)
			}
		}
	})
}

// A securecookie value whose unused base64 bits (in the last character
// before the padding) are set is not the value that was sealed: it is
// refused as malformed, though securecookie's own decoder would read it
// as the genuine one.
func TestSecureCookieRefusesSetUnusedBits(t *testing.T) {
	k := testKeys(t)
	padded := 0
	for _, data := range []string{`{}`, `{"a":1}`, `{"ab":1}`} {
		v := scValue(t, data)
		if _, _, err := openValue(k, "session", v, t0, Limits{}); err != nil {
			t.Fatalf("%s: the genuine value does not open: %v", data, err)
		}
		body := strings.TrimRight(v, "=")
		if body == v {
			continue // no padding, no unused bits
		}
		padded++
		last := strings.IndexByte(scAlphabet, body[len(body)-1])
		mod := body[:len(body)-1] + string(scAlphabet[last^1]) + v[len(body):]
		if _, _, err := openValue(k, "session", mod, t0, Limits{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: unused bit set: err = %v, want ErrMalformed", data, err)
		}
	}
	if padded == 0 {
		t.Fatal("no value had padding: the test checked nothing")
	}
}

// In gorilla's format too, the newest key seals: a cookie written by a
// Manager with two keys opens by the first.
func TestSecureCookieSealsWithTheNewestKey(t *testing.T) {
	k := mustKeyring(t, testSecret(2), testSecret(1))
	m, err := New[user](k, WithClock(newClock().Now), quiet, WithName(FallbackName), WithGorillaFormat())
	if err != nil {
		t.Fatal(err)
	}
	_, rec := send(m, "", func(s *Session[user]) { s.Data.Name = "ada" })
	_, key, err := k.Open(FallbackName, rec.Result().Cookies(), t0, Limits{})
	if err != nil || key != 0 {
		t.Fatalf("Open: key %d, err %v; want key 0, the newest", key, err)
	}
}
