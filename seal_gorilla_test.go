package cookiesession

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
)

// scAlphabet is the alphabet of padded base64url, securecookie's encoding.
const scAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="

// scSealAt seals data in the securecookie format, failing the test on error.
func scSealAt(t testing.TB, f gorillaFormat, name string, created, issued time.Time, data []byte) string {
	t.Helper()
	v, err := f.seal(name, &Contents{Created: created, Issued: issued, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// isDocumentedOpenError reports whether err is one of the errors the
// securecookie format documents for a value that does not open. It never
// returns ErrUnknownKey (the value names no key), so that is not accepted.
func isDocumentedOpenError(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) ||
		errors.Is(err, ErrAuthentication) || errors.Is(err, ErrExpired)
}

// TestSecureCookieIsGorillaFormat checks the wire compatibility the format
// exists for, in both directions, against securecookie codecs configured
// on their own with the same derived keys.
func TestSecureCookieIsGorillaFormat(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	f := gorillaFormat{k}
	hashKey, _ := hkdf.Key(sha256.New, testSecret(1), nil, labelSCHash, scHashKeySize)
	blockKey, _ := hkdf.Key(sha256.New, testSecret(1), nil, labelSCBlock, scBlockKeySize)
	plain := securecookie.New(hashKey, blockKey).SetSerializer(securecookie.NopEncoder{})

	in := Contents{Created: t0, Issued: t0.Add(time.Minute), Flashes: []string{"hi"}, Data: []byte(`{"user":"ada"}`)}
	pt, err := appendPlaintext(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Clone(pt)

	t.Run("gorilla reads ours", func(t *testing.T) {
		v, err := f.seal("session", &in)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		if err := plain.Decode("session", v, &got); err != nil {
			t.Fatalf("securecookie.Decode: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("securecookie decoded %x, want %x", got, want)
		}
	})
	t.Run("ours reads gorilla's", func(t *testing.T) {
		v, err := plain.Encode("session", pt)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := f.open("session", v, at(t0.Add(time.Hour)))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		if !bytes.Equal(out.Data, in.Data) || !reflect.DeepEqual(out.Flashes, in.Flashes) ||
			!out.Created.Equal(in.Created) || !out.Issued.Equal(in.Issued) {
			t.Errorf("got %+v, want %+v", out, in)
		}
	})
	// Values that authenticate but do not carry our plaintext: a key
	// compromise or a bug, refused all the same.
	t.Run("authentic but not ours", func(t *testing.T) {
		for _, payload := range [][]byte{
			{},                     // iv only: securecookie cannot decrypt it
			{0x01, 0x00, 0xff},     // unknown flags
			[]byte("gob or json!"), // what gorilla/sessions itself writes
		} {
			v, err := plain.Encode("session", payload)
			if err != nil {
				t.Fatal(err)
			}
			e, _, err := f.open("session", v, at(t0))
			if !errors.Is(err, ErrMalformed) || !reflect.DeepEqual(e, Contents{}) {
				t.Errorf("payload %q: got %+v, err = %v; want ErrMalformed", payload, e, err)
			}
		}
	})
}

func TestSecureCookieRotation(t *testing.T) {
	old := mustKeyring(t, testSecret(1))
	rotated := mustKeyring(t, testSecret(2), testSecret(1))
	retired := mustKeyring(t, testSecret(2))
	v := scSealAt(t, gorillaFormat{old}, "session", t0, t0, []byte(`{"n":1}`))
	v2 := scSealAt(t, gorillaFormat{rotated}, "session", t0, t0, []byte(`{"n":2}`))

	tests := []struct {
		name      string
		ring      *Keyring
		value     string
		wantErr   error
		wantStale bool
	}{
		{"old value, rotated ring", rotated, v, nil, true},
		{"new value, rotated ring", rotated, v2, nil, false},
		{"old value, old ring", old, v, nil, false},
		// This format names no key: a retired key looks like tampering.
		{"old value, retired key", retired, v, ErrAuthentication, false},
		// Step 1 of a rolling rotation must be deployed first.
		{"new value, old ring", old, v2, ErrAuthentication, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, key, err := gorillaFormat{tt.ring}.open("session", tt.value, at(t0))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if errors.Is(err, ErrUnknownKey) {
					t.Errorf("err = %v: this format documents that it never returns ErrUnknownKey", err)
				}
				if !reflect.DeepEqual(e, Contents{}) {
					t.Errorf("a refused value returned a partial result: %+v", e)
				}
				return
			}
			if (key != 0) != tt.wantStale {
				t.Errorf("sealed by key %d, want stale %v", key, tt.wantStale)
			}
		})
	}
}

func TestSecureCookieRejectsEveryFlippedBit(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	f := gorillaFormat{k}
	v := scSealAt(t, f, "session", t0, t0, []byte(`{"user":"ada","admin":false}`))
	raw, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(raw)*8; i++ {
		mod := bytes.Clone(raw)
		mod[i/8] ^= 1 << (i % 8)
		e, _, err := f.open("session", base64.URLEncoding.EncodeToString(mod), at(t0))
		if err == nil {
			t.Fatalf("bit %d flipped: value still opens", i)
		}
		if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("bit %d flipped: err = %v, want ErrAuthentication or ErrMalformed", i, err)
		}
		if !reflect.DeepEqual(e, Contents{}) {
			t.Fatalf("bit %d flipped: partial result %+v", i, e)
		}
	}
}

// TestSecureCookieRejectsEveryChangedCharacter edits the string itself,
// which also reaches what bit flips of the decoded bytes cannot: unused
// base64 bits, padding and characters outside the alphabet.
func TestSecureCookieRejectsEveryChangedCharacter(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	f := gorillaFormat{k}
	v := scSealAt(t, f, "session", t0, t0, []byte(`{"user":"ada"}`))
	replacements := scAlphabet + "+/.\n"
	for i := 0; i < len(v); i++ {
		for _, c := range []byte(replacements) {
			if v[i] == c {
				continue
			}
			mod := v[:i] + string(c) + v[i+1:]
			e, _, err := f.open("session", mod, at(t0))
			if err == nil {
				t.Fatalf("character %d changed to %q: value still opens", i, c)
			}
			if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("character %d changed to %q: err = %v", i, c, err)
			}
			if !reflect.DeepEqual(e, Contents{}) {
				t.Fatalf("character %d changed to %q: partial result %+v", i, c, e)
			}
		}
	}
}

func TestSecureCookieRefuses(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	f := gorillaFormat{k}
	v := scSealAt(t, f, "session", t0, t0, []byte(`{"user":"ada"}`))
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
	unknownKey := scSealAt(t, gorillaFormat{mustKeyring(t, testSecret(9))}, "session", t0, t0, nil)

	tests := []struct {
		name  string
		value string
		o     openOptions
		want  error
	}{
		{"empty", "", openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"padding only", "====", openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"not base64", strings.Repeat("*", len(v)), openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"unpadded", strings.TrimRight(enc(string(date), string(payload), zeroMAC+"x"), "="), openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"standard alphabet", "+/+/" + v, openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"truncated by one block", v[:len(v)-4], openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"truncated to half", v[:len(v)/2], openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"extended", v + "AAAA", openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"no separators", enc("hello"), openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"bad date", enc("x1", string(payload), zeroMAC), openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"short MAC", enc(string(date), string(payload), "abc"), openOptions{maxLength: DefaultMaxSize}, ErrMalformed},
		{"forged MAC", enc(string(date), string(payload), zeroMAC), openOptions{maxLength: DefaultMaxSize}, ErrAuthentication},
		{"other date", enc("1", string(payload), string(raw[len(raw)-sha256.Size:])), openOptions{maxLength: DefaultMaxSize}, ErrAuthentication},
		{"unknown key", unknownKey, openOptions{maxLength: DefaultMaxSize}, ErrAuthentication},
		{"1 MB", strings.Repeat("A", 1<<20), openOptions{maxLength: DefaultMaxSize}, ErrTooLarge},
		{"over the caller's limit", v, openOptions{maxLength: len(v) - 1}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.now = t0
			e, _, err := f.open("session", tt.value, tt.o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(e, Contents{}) {
				t.Errorf("a refused value returned a partial result: %+v", e)
			}
		})
	}
}

func TestSecureCookieMaxLength(t *testing.T) {
	f := gorillaFormat{mustKeyring(t, testSecret(1))}
	v := scSealAt(t, f, "session", t0, t0, bytes.Repeat([]byte("d"), 1000))
	for _, tt := range []struct {
		name      string
		maxLength int
		want      error
	}{
		{"exactly the limit", len(v), nil},
		{"one byte under", len(v) - 1, ErrTooLarge},
	} {
		if _, _, err := f.open("session", v, openOptions{now: t0, maxLength: tt.maxLength}); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// TestSecureCookieAndV1DoNotMix checks that neither format mistakes the
// other's values for its own: each refuses them with an error.
func TestSecureCookieAndV1DoNotMix(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	formats := map[string]format{"v1": k, "securecookie": gorillaFormat{k}}
	for _, data := range [][]byte{nil, []byte(`{"user":"ada"}`), bytes.Repeat([]byte("z"), 1000)} {
		for from, sealer := range formats {
			v, err := sealer.seal("session", &Contents{Created: t0, Issued: t0, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			for to, opener := range formats {
				if to == from {
					continue
				}
				e, _, err := opener.open("session", v, at(t0))
				if err == nil {
					t.Errorf("%d bytes sealed by %s opened as %s", len(data), from, to)
					continue
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrUnknownKey) {
					t.Errorf("%d bytes sealed by %s, opened as %s: err = %v", len(data), from, to, err)
				}
				if !reflect.DeepEqual(e, Contents{}) {
					t.Errorf("partial result %+v", e)
				}
			}
		}
	}
}

// TestSecureCookieConcurrent runs seal and open from many goroutines on one
// format; with -race it checks that the codecs are never written to after
// construction.
func TestSecureCookieConcurrent(t *testing.T) {
	k := mustKeyring(t, testSecret(1), testSecret(2))
	f := gorillaFormat{k}
	stale := scSealAt(t, gorillaFormat{mustKeyring(t, testSecret(2))}, "session", t0, t0, []byte("old"))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				data := []byte(fmt.Sprintf("g%d-%d", g, i))
				v, err := f.seal("session", &Contents{Created: t0, Issued: t0, Data: data})
				if err != nil {
					errs <- err
					return
				}
				e, _, err := f.open("session", v, at(t0))
				if err != nil || !bytes.Equal(e.Data, data) {
					errs <- fmt.Errorf("round trip of %q: %v", data, err)
					return
				}
				if _, key, err := f.open("session", stale, at(t0)); err != nil || key == 0 {
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

// FuzzOpenSecureCookie feeds arbitrary strings to the securecookie
// format's open: it must never panic, and must either refuse with a
// documented error and no partial result, or return what was sealed.
func FuzzOpenSecureCookie(f *testing.F) {
	k := mustKeyring(f, testSecret(1), testSecret(2))
	sc := gorillaFormat{k}
	old := gorillaFormat{mustKeyring(f, testSecret(2))}
	good := scSealAt(f, sc, "session", t0, t0, []byte(`{"user":"ada"}`))
	f.Add(good)
	f.Add(scSealAt(f, old, "session", t0, t0, []byte(`{}`)))
	withFlashes, err := sc.seal("session", &Contents{Created: t0, Issued: t0, Flashes: []string{"hi"}, Data: []byte("x")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(withFlashes)
	f.Add(scSealAt(f, sc, "other", t0, t0, nil))
	f.Add(sealAt(f, k, "session", t0, t0, []byte(`{}`))) // version 1
	f.Add("")
	f.Add("====")
	f.Add(good[:len(good)-4])
	f.Add(good + "\n")
	f.Add(base64.URLEncoding.EncodeToString([]byte("1|QUFBQQ==|" + strings.Repeat("m", sha256.Size))))
	f.Add(strings.Repeat("_", 100))
	f.Fuzz(func(t *testing.T, value string) {
		o := openOptions{now: t0, maxAge: 24 * time.Hour, maxLength: DefaultMaxSize}
		e, _, err := sc.open("session", value, o)
		if err != nil {
			if !isDocumentedOpenError(err) {
				t.Fatalf("undocumented error %v", err)
			}
			if !reflect.DeepEqual(e, Contents{}) {
				t.Fatalf("partial result with error: %+v", e)
			}
			return
		}
		// Whatever opened must seal and open again to the same content.
		v, err := sc.seal("session", &e)
		if err != nil {
			t.Fatal(err)
		}
		e2, _, err := sc.open("session", v, o)
		if err != nil || !bytes.Equal(e2.Data, e.Data) || !reflect.DeepEqual(e2.Flashes, e.Flashes) ||
			!e2.Created.Equal(e.Created) || !e2.Issued.Equal(e.Issued) {
			t.Fatalf("re-sealed value does not round-trip: %v", err)
		}
	})
}
