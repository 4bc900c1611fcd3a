package cookiesession

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

	"github.com/gorilla/securecookie"
)

// scAlphabet is the alphabet of padded base64url, securecookie's encoding.
const scAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_="

// scSealAt seals data in the securecookie format, failing the test on error.
func scSealAt(t testing.TB, f *secureCookieFormat, name string, created, issued time.Time, data []byte) string {
	t.Helper()
	v, err := f.seal(name, &Envelope{Created: created, Issued: issued, Data: data})
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
	f := newSecureCookieFormat(k, 0)
	rk := k.newest()
	plain := securecookie.New(rk.derived().scHash, rk.derived().scBlock).SetSerializer(securecookie.NopEncoder{})

	in := Envelope{Created: t0, Issued: t0.Add(time.Minute), Flashes: []string{"hi"}, Data: []byte(`{"user":"ada"}`)}
	p, err := measurePlaintext(&in)
	if err != nil {
		t.Fatal(err)
	}
	pt := make([]byte, p.size)
	p.put(pt, &in)
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
		out, err := f.open("session", v, OpenOptions{Now: t0.Add(time.Hour)})
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
			e, err := f.open("session", v, OpenOptions{Now: t0})
			if !errors.Is(err, ErrMalformed) || !reflect.DeepEqual(e, Envelope{}) {
				t.Errorf("payload %q: got %+v, err = %v; want ErrMalformed", payload, e, err)
			}
		}
	})
}

func TestSecureCookieRotation(t *testing.T) {
	old := mustKeyring(t, testSecret(1))
	rotated := mustKeyring(t, testSecret(2), testSecret(1))
	retired := mustKeyring(t, testSecret(2))
	v := scSealAt(t, newSecureCookieFormat(old, 0), "session", t0, t0, []byte(`{"n":1}`))
	v2 := scSealAt(t, newSecureCookieFormat(rotated, 0), "session", t0, t0, []byte(`{"n":2}`))

	tests := []struct {
		name      string
		ring      *Keyring
		value     string
		wantErr   error
		wantKey   KeyID
		wantStale bool
	}{
		{"old value, rotated ring", rotated, v, nil, old.IDs()[0], true},
		{"new value, rotated ring", rotated, v2, nil, rotated.IDs()[0], false},
		{"old value, old ring", old, v, nil, old.IDs()[0], false},
		// This format names no key: a retired key looks like tampering.
		{"old value, retired key", retired, v, ErrAuthentication, KeyID{}, false},
		// Step 1 of a rolling rotation must be deployed first.
		{"new value, old ring", old, v2, ErrAuthentication, KeyID{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := newSecureCookieFormat(tt.ring, 0).open("session", tt.value, OpenOptions{Now: t0})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if errors.Is(err, ErrUnknownKey) {
					t.Errorf("err = %v: this format documents that it never returns ErrUnknownKey", err)
				}
				if !reflect.DeepEqual(e, Envelope{}) {
					t.Errorf("a refused value returned a partial result: %+v", e)
				}
				return
			}
			if e.KeyID != tt.wantKey || e.Stale != tt.wantStale {
				t.Errorf("KeyID %v stale %v, want %v stale %v", e.KeyID, e.Stale, tt.wantKey, tt.wantStale)
			}
		})
	}
}

func TestSecureCookieRejectsEveryFlippedBit(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	f := newSecureCookieFormat(k, 0)
	v := scSealAt(t, f, "session", t0, t0, []byte(`{"user":"ada","admin":false}`))
	raw, err := base64.URLEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(raw)*8; i++ {
		mod := bytes.Clone(raw)
		mod[i/8] ^= 1 << (i % 8)
		e, err := f.open("session", base64.URLEncoding.EncodeToString(mod), OpenOptions{Now: t0})
		if err == nil {
			t.Fatalf("bit %d flipped: value still opens", i)
		}
		if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("bit %d flipped: err = %v, want ErrAuthentication or ErrMalformed", i, err)
		}
		if !reflect.DeepEqual(e, Envelope{}) {
			t.Fatalf("bit %d flipped: partial result %+v", i, e)
		}
	}
}

// TestSecureCookieRejectsEveryChangedCharacter edits the string itself,
// which also reaches what bit flips of the decoded bytes cannot: unused
// base64 bits, padding and characters outside the alphabet.
func TestSecureCookieRejectsEveryChangedCharacter(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	f := newSecureCookieFormat(k, 0)
	v := scSealAt(t, f, "session", t0, t0, []byte(`{"user":"ada"}`))
	replacements := scAlphabet + "+/.\n"
	for i := 0; i < len(v); i++ {
		for _, c := range []byte(replacements) {
			if v[i] == c {
				continue
			}
			mod := v[:i] + string(c) + v[i+1:]
			e, err := f.open("session", mod, OpenOptions{Now: t0})
			if err == nil {
				t.Fatalf("character %d changed to %q: value still opens", i, c)
			}
			if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("character %d changed to %q: err = %v", i, c, err)
			}
			if !reflect.DeepEqual(e, Envelope{}) {
				t.Fatalf("character %d changed to %q: partial result %+v", i, c, e)
			}
		}
	}
}

func TestSecureCookieRefuses(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	f := newSecureCookieFormat(k, 0)
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
	unknownKey := scSealAt(t, newSecureCookieFormat(mustKeyring(t, testSecret(9)), 0), "session", t0, t0, nil)

	tests := []struct {
		name  string
		value string
		o     OpenOptions
		want  error
	}{
		{"empty", "", OpenOptions{}, ErrMalformed},
		{"padding only", "====", OpenOptions{}, ErrMalformed},
		{"not base64", strings.Repeat("*", len(v)), OpenOptions{}, ErrMalformed},
		{"unpadded", strings.TrimRight(enc(string(date), string(payload), zeroMAC+"x"), "="), OpenOptions{}, ErrMalformed},
		{"standard alphabet", "+/+/" + v, OpenOptions{}, ErrMalformed},
		{"line break", v[:8] + "\n" + v[8:], OpenOptions{}, ErrMalformed},
		{"truncated by one block", v[:len(v)-4], OpenOptions{}, ErrMalformed},
		{"truncated to half", v[:len(v)/2], OpenOptions{}, ErrMalformed},
		{"extended", v + "AAAA", OpenOptions{}, ErrMalformed},
		{"no separators", enc("hello"), OpenOptions{}, ErrMalformed},
		{"bad date", enc("x1", string(payload), zeroMAC), OpenOptions{}, ErrMalformed},
		{"short MAC", enc(string(date), string(payload), "abc"), OpenOptions{}, ErrMalformed},
		{"forged MAC", enc(string(date), string(payload), zeroMAC), OpenOptions{}, ErrAuthentication},
		{"other date", enc("1", string(payload), string(raw[len(raw)-sha256.Size:])), OpenOptions{}, ErrAuthentication},
		{"unknown key", unknownKey, OpenOptions{}, ErrAuthentication},
		{"1 MB", strings.Repeat("A", 1<<20), OpenOptions{}, ErrTooLarge},
		{"over the caller's limit", v, OpenOptions{MaxLength: len(v) - 1}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Now = t0
			e, err := f.open("session", tt.value, tt.o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(e, Envelope{}) {
				t.Errorf("a refused value returned a partial result: %+v", e)
			}
		})
	}
}

func TestSecureCookieMaxLength(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	huge := newSecureCookieFormat(k, 1<<20)

	// The size that seal predicts is exactly what securecookie writes.
	for _, n := range []int{0, 1, 2, 3, 4, 100, 3000, 3001, 3002} {
		data := bytes.Repeat([]byte("d"), n)
		in := Envelope{Created: t0, Issued: t0, Data: data}
		v, err := huge.seal("session", &in)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := measurePlaintext(&in)
		if want := secureCookieLen(p.size, time.Now().Unix()); len(v) != want {
			t.Errorf("%d bytes of data: sealed %d bytes, predicted %d", n, len(v), want)
		}
	}

	data := bytes.Repeat([]byte("d"), 1000)
	v := scSealAt(t, huge, "session", t0, t0, data)
	tests := []struct {
		name      string
		maxLength int
		want      error
	}{
		{"exactly the limit", len(v), nil},
		{"one byte under", len(v) - 1, ErrTooLarge},
		{"default", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSecureCookieFormat(k, tt.maxLength)
			if _, err := f.seal("session", &Envelope{Created: t0, Issued: t0, Data: data}); !errors.Is(err, tt.want) {
				t.Errorf("seal: err = %v, want %v", err, tt.want)
			}
			if _, err := f.open("session", v, OpenOptions{Now: t0}); !errors.Is(err, tt.want) {
				t.Errorf("open: err = %v, want %v", err, tt.want)
			}
		})
	}

	// Zero means DefaultMaxSize, on both sides.
	f := newSecureCookieFormat(k, 0)
	if _, err := f.seal("session", &Envelope{Created: t0, Issued: t0, Data: make([]byte, DefaultMaxSize)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("sealed %d bytes of data under the default limit: err = %v", DefaultMaxSize, err)
	}
	long := scSealAt(t, huge, "session", t0, t0, make([]byte, DefaultMaxSize))
	if _, err := f.open("session", long, OpenOptions{Now: t0, MaxLength: 1 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("opened a %d-byte value under the default limit: err = %v", len(long), err)
	}
}

// TestSecureCookieAndV1DoNotMix checks that neither format mistakes the
// other's values for its own: each refuses them with an error.
func TestSecureCookieAndV1DoNotMix(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	formats := map[string]format{"v1": v1Format{keys: k}, "securecookie": newSecureCookieFormat(k, 0)}
	for _, data := range [][]byte{nil, []byte(`{"user":"ada"}`), bytes.Repeat([]byte("z"), 1000)} {
		for from, sealer := range formats {
			v, err := sealWith(sealer, "session", &Envelope{Created: t0, Issued: t0, Data: data})
			if err != nil {
				t.Fatal(err)
			}
			for to, opener := range formats {
				if to == from {
					continue
				}
				e, err := opener.open("session", v, OpenOptions{Now: t0})
				if err == nil {
					t.Errorf("%d bytes sealed by %s opened as %s", len(data), from, to)
					continue
				}
				if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrUnknownKey) {
					t.Errorf("%d bytes sealed by %s, opened as %s: err = %v", len(data), from, to, err)
				}
				if !reflect.DeepEqual(e, Envelope{}) {
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
	f := newSecureCookieFormat(k, 0)
	stale := scSealAt(t, newSecureCookieFormat(mustKeyring(t, testSecret(2)), 0), "session", t0, t0, []byte("old"))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				data := []byte(fmt.Sprintf("g%d-%d", g, i))
				v, err := f.seal("session", &Envelope{Created: t0, Issued: t0, Data: data})
				if err != nil {
					errs <- err
					return
				}
				e, err := f.open("session", v, OpenOptions{Now: t0})
				if err != nil || !bytes.Equal(e.Data, data) {
					errs <- fmt.Errorf("round trip of %q: %v", data, err)
					return
				}
				if e, err := f.open("session", stale, OpenOptions{Now: t0}); err != nil || !e.Stale {
					errs <- fmt.Errorf("stale value: stale %v, %v", e.Stale, err)
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
	sc := newSecureCookieFormat(k, 0)
	old := newSecureCookieFormat(mustKeyring(f, testSecret(2)), 0)
	good := scSealAt(f, sc, "session", t0, t0, []byte(`{"user":"ada"}`))
	f.Add(good)
	f.Add(scSealAt(f, old, "session", t0, t0, []byte(`{}`)))
	withFlashes, err := sc.seal("session", &Envelope{Created: t0, Issued: t0, Flashes: []string{"hi"}, Data: []byte("x")})
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
		o := OpenOptions{Now: t0, MaxAge: 24 * time.Hour}
		e, err := sc.open("session", value, o)
		if err != nil {
			if !isDocumentedOpenError(err) {
				t.Fatalf("undocumented error %v", err)
			}
			if !reflect.DeepEqual(e, Envelope{}) {
				t.Fatalf("partial result with error: %+v", e)
			}
			return
		}
		// Whatever opened must seal and open again to the same content.
		v, err := sc.seal("session", &e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := sc.open("session", v, o)
		if err != nil || !bytes.Equal(e2.Data, e.Data) || !reflect.DeepEqual(e2.Flashes, e.Flashes) ||
			!e2.Created.Equal(e.Created) || !e2.Issued.Equal(e.Issued) {
			t.Fatalf("re-sealed value does not round-trip: %v", err)
		}
	})
}
