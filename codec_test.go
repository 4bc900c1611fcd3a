package cookiesession

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

func unsetenv(t *testing.T, name string) {
	t.Helper()
	if err := os.Unsetenv(name); err != nil {
		t.Fatal(err)
	}
}

// t0 is the injected "now" of the codec tests.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func sealAt(t testing.TB, k *Keyring, name string, created, issued time.Time, data []byte) string {
	t.Helper()
	v, err := k.Seal(name, &Envelope{Created: created, Issued: issued, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// bothFormats runs fn for each sealed format over k: the version-1 format
// and the securecookie one must keep the same promises.
func bothFormats(t *testing.T, k *Keyring, fn func(t *testing.T, f format)) {
	for _, f := range []struct {
		name string
		f    format
	}{{"v1", v1Format{k}}, {"securecookie", newSecureCookieFormat(k, 0)}} {
		t.Run(f.name, func(t *testing.T) { fn(t, f.f) })
	}
}

// sealWith seals e with f into a string, as the Manager does.
func sealWith(f format, name string, e *Envelope) (string, error) {
	b, err := f.appendSeal(nil, name, *e)
	return string(b), err
}

// The Manager seals a value behind its cookie's name, into the buffer that
// becomes the Set-Cookie line: what is already there must stay.
func TestAppendSealKeepsPrefix(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	bothFormats(t, k, func(t *testing.T, f format) {
		b, err := f.appendSeal([]byte("session="), "session", Envelope{Created: t0, Issued: t0, Data: []byte(`{"a":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		value, ok := strings.CutPrefix(string(b), "session=")
		if !ok {
			t.Fatalf("appendSeal lost the prefix: %q", b)
		}
		e, err := f.open("session", value, OpenOptions{Now: t0})
		if err != nil || string(e.Data) != `{"a":1}` {
			t.Fatalf("open after appendSeal: %q, %v", e.Data, err)
		}
	})
}

func TestSealOpenRoundTrip(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	tests := []struct {
		name    string
		data    []byte
		flashes []string
	}{
		{"empty", nil, nil},
		{"small", []byte(`{"user":"ada"}`), nil},
		{"3 KB", bytes.Repeat([]byte("x"), 3<<10), nil},
		{"flashes", []byte(`{}`), []string{"welcome", "", strings.Repeat("é", 200)}},
	}
	bothFormats(t, k, func(t *testing.T, f format) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := Envelope{Created: t0.Add(-time.Hour), Issued: t0, Data: bytes.Clone(tt.data), Flashes: tt.flashes}
				v, err := sealWith(f, "session", &in)
				if err != nil {
					t.Fatal(err)
				}
				// Sealing encrypts in place: it must not touch the
				// caller's data.
				if !bytes.Equal(in.Data, tt.data) {
					t.Fatal("seal modified Envelope.Data")
				}
				out, err := f.open("session", v, OpenOptions{Now: t0, MaxAge: 24 * time.Hour})
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				if !bytes.Equal(out.Data, tt.data) || !out.Created.Equal(in.Created) || !out.Issued.Equal(in.Issued) {
					t.Errorf("got %+v, want %+v", out, in)
				}
				if !reflect.DeepEqual(out.Flashes, tt.flashes) {
					t.Errorf("flashes = %q, want %q", out.Flashes, tt.flashes)
				}
				if out.Stale || out.KeyID != k.IDs()[0] {
					t.Errorf("KeyID %v stale %v, want newest", out.KeyID, out.Stale)
				}
				if len(tt.data) > 0 && strings.Contains(v, string(tt.data)) {
					t.Error("the data is visible in the sealed value")
				}
			})
		}
	})
}

func TestSealFormatOverhead(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	data := bytes.Repeat([]byte("a"), 200)
	v := sealAt(t, k, "session", t0, t0.Add(time.Hour), data)
	raw, err := b64.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	if over := len(raw) - len(data); over > 60 {
		t.Errorf("format adds %d bytes before base64; the budget is 60", over)
	}
	if strings.Contains(string(raw), "aaaa") {
		t.Error("the data is visible in the sealed value")
	}
	if v2 := sealAt(t, k, "session", t0, t0.Add(time.Hour), data); v2 == v {
		t.Error("sealing twice gave the same value: the nonce is not fresh")
	}
}

func TestOpenRejectsEveryFlippedBit(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	v := sealAt(t, k, "session", t0, t0, []byte(`{"user":"ada","admin":false}`))
	raw, _ := b64.DecodeString(v)
	for i := 0; i < len(raw)*8; i++ {
		mod := bytes.Clone(raw)
		mod[i/8] ^= 1 << (i % 8)
		_, err := k.Open("session", b64.EncodeToString(mod), OpenOptions{Now: t0})
		if err == nil {
			t.Fatalf("bit %d flipped: value still opens", i)
		}
		if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("bit %d flipped: err = %v, want a documented error", i, err)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	v := sealAt(t, k, "session", t0, t0, []byte(`{"user":"ada"}`))
	other := mustKeyring(t, testSecret(9))
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", ErrMalformed},
		{"truncated by one character", v[:len(v)-1], ErrAuthentication},
		{"truncated by three bytes", v[:len(v)-4], ErrAuthentication},
		{"truncated to half", v[:len(v)/2], ErrMalformed},
		{"extended", v + "AAAA", ErrAuthentication},
		{"not base64", strings.Repeat("*", len(v)), ErrMalformed},
		{"padded base64", v + "==", ErrMalformed},
		{"line breaks", strings.Repeat("\n", 100), ErrMalformed},
		{"line break inside", v[:10] + "\r\n" + v[10:], ErrMalformed},
		{"1 MB", strings.Repeat("A", 1<<20), ErrTooLarge},
		{"unknown key", sealAt(t, other, "session", t0, t0, nil), ErrUnknownKey},
		{"other version", "Ag" + v[2:], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := k.Open("session", tt.value, OpenOptions{Now: t0})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(e, Envelope{}) {
				t.Errorf("a refused value returned a partial result: %+v", e)
			}
		})
	}
}

// A value has one spelling: the unused low bits of its last character
// must be zero, as the encoder writes them. Otherwise up to 16 values open
// to the same session, and anything keyed by the value (the cache, a log
// of seen values) would count them apart.
func TestOpenRefusesOtherSpellings(t *testing.T) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	k := mustKeyring(t, testSecret(1))
	tested := 0
	for n := range 3 { // data lengths that leave every remainder mod 3
		v := sealAt(t, k, "session", t0, t0, []byte(`"`+strings.Repeat("x", n)+`"`))
		if _, err := k.Open("session", v, OpenOptions{Now: t0}); err != nil {
			t.Fatalf("the genuine value does not open: %v", err)
		}
		unused := map[int]int{0: 0, 2: 4, 3: 2}[len(v)%4] // bits the last character does not carry
		for bit := range unused {
			last := strings.IndexByte(alphabet, v[len(v)-1]) ^ 1<<bit
			other := v[:len(v)-1] + string(alphabet[last])
			if _, err := k.Open("session", other, OpenOptions{Now: t0}); !errors.Is(err, ErrMalformed) {
				t.Errorf("unused bit %d of the last character set: err = %v, want ErrMalformed", bit, err)
			}
			tested++
		}
	}
	if tested != 6 {
		t.Fatalf("tested %d spellings, want 6: the lengths did not cover both partial groups", tested)
	}
}

func TestOpenIsBoundToCookieName(t *testing.T) {
	bothFormats(t, mustKeyring(t, testSecret(1), testSecret(2)), func(t *testing.T, f format) {
		v, err := sealWith(f, "session", &Envelope{Created: t0, Issued: t0, Data: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"other", "session.1", "Session", "__Host-session", "", "session|"} {
			if _, err := f.open(name, v, OpenOptions{Now: t0}); !errors.Is(err, ErrAuthentication) {
				t.Errorf("opened under %q: err = %v", name, err)
			}
		}
	})
}

func TestOpenOlderKeyIsStale(t *testing.T) {
	old := mustKeyring(t, testSecret(1))
	rotated := mustKeyring(t, testSecret(2), testSecret(1))
	v := sealAt(t, old, "session", t0, t0, []byte(`{"n":1}`))
	e, err := rotated.Open("session", v, OpenOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Stale || e.KeyID != old.IDs()[0] {
		t.Errorf("Stale = %v, KeyID = %v; want stale, %v", e.Stale, e.KeyID, old.IDs()[0])
	}
	// After rotation, the newest key seals and the old ring can no longer
	// open it: step 1 of a rolling rotation must be deployed first.
	v2 := sealAt(t, rotated, "session", t0, t0, []byte(`{"n":1}`))
	if _, err := old.Open("session", v2, OpenOptions{Now: t0}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old ring opened a value of the new key: %v", err)
	}
	retired := mustKeyring(t, testSecret(2))
	if _, err := retired.Open("session", v, OpenOptions{Now: t0}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("retired key still opens: %v", err)
	}
}

// TestOpenDeadlines runs for both formats: the securecookie one must
// enforce the same sealed times (its own 30-day default is off).
func TestOpenDeadlines(t *testing.T) {
	bothFormats(t, mustKeyring(t, testSecret(1)), testDeadlines)
}

func testDeadlines(t *testing.T, f format) {
	created := t0
	issued := t0.Add(2 * time.Hour)
	v, err := sealWith(f, "session", &Envelope{Created: created, Issued: issued, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    OpenOptions
		want error
	}{
		{"within both", OpenOptions{Now: issued.Add(time.Minute), MaxAge: 24 * time.Hour, IdleTimeout: time.Hour}, nil},
		{"no limits", OpenOptions{Now: issued.Add(1000 * time.Hour)}, nil},
		{"one second before the lifetime ends", OpenOptions{Now: created.Add(24*time.Hour - time.Second), MaxAge: 24 * time.Hour}, nil},
		{"lifetime over", OpenOptions{Now: created.Add(24 * time.Hour), MaxAge: 24 * time.Hour}, ErrExpired},
		{"idle over", OpenOptions{Now: issued.Add(time.Hour), MaxAge: 24 * time.Hour, IdleTimeout: time.Hour}, ErrExpired},
		{"within skew", OpenOptions{Now: issued.Add(-ClockSkew)}, nil},
		{"from the future", OpenOptions{Now: issued.Add(-ClockSkew - time.Second)}, ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := f.open("session", v, tt.o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !reflect.DeepEqual(e, Envelope{}) {
				t.Errorf("an expired value returned a partial result: %+v", e)
			}
		})
	}
}

func TestSealRefusesBadTimes(t *testing.T) {
	bothFormats(t, mustKeyring(t, testSecret(1)), func(t *testing.T, f format) {
		if _, err := sealWith(f, "s", &Envelope{Created: t0, Issued: t0.Add(-time.Second)}); err == nil {
			t.Error("Issued before Created was sealed")
		}
		if _, err := sealWith(f, "s", &Envelope{Created: time.Unix(-5, 0), Issued: t0}); err == nil {
			t.Error("Created before 1970 was sealed")
		}
	})
}

// Seal refuses what Open would refuse: a value that cannot be read back
// would lose the session without a word.
func TestSealRefusesWhatOpenRefuses(t *testing.T) {
	bothFormats(t, mustKeyring(t, testSecret(1)), func(t *testing.T, f format) {
		flashes := make([]string, maxFlashes)
		value, err := sealWith(f, "s", &Envelope{Created: t0, Issued: t0, Flashes: flashes, Data: []byte("{}")})
		if err != nil {
			t.Fatalf("%d flashes: %v", maxFlashes, err)
		}
		if e, err := f.open("s", value, OpenOptions{Now: t0}); err != nil || len(e.Flashes) != maxFlashes {
			t.Fatalf("%d flashes did not open back: %v", maxFlashes, err)
		}
		_, err = sealWith(f, "s", &Envelope{Created: t0, Issued: t0, Flashes: append(flashes, ""), Data: []byte("{}")})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%d flashes: err %v, want ErrTooLarge", maxFlashes+1, err)
		}
		far := time.Unix(maxSealedTime+1, 0)
		if _, err := sealWith(f, "s", &Envelope{Created: far, Issued: far}); err == nil {
			t.Error("a created time Open refuses was sealed")
		}
		if _, err := sealWith(f, "s", &Envelope{Created: t0, Issued: time.Unix(t0.Unix()+maxSealedTime+1, 0)}); err == nil {
			t.Error("an issued time Open refuses was sealed")
		}
	})
}

func TestOpenOverlongDoesNotAllocateForIt(t *testing.T) {
	huge := strings.Repeat("A", 1<<20)
	bothFormats(t, mustKeyring(t, testSecret(1)), func(t *testing.T, f format) {
		// The error message allocates a little; decoding 1 MB would need
		// a 750 KB buffer. Measure bytes, not just counts.
		var before, after runtimeMem
		before.read()
		for i := 0; i < 20; i++ {
			_, _ = f.open("session", huge, OpenOptions{Now: t0})
		}
		after.read()
		if perCall := (after.total - before.total) / 20; perCall > 1<<10 {
			t.Errorf("refusing a 1 MB value allocated %d bytes per call", perCall)
		}
	})
}

func TestJSONSerializerSurvivesShapeChanges(t *testing.T) {
	type V1 struct {
		User string
		Old  int
	}
	type V2 struct {
		User string
		New  []string
	}
	var s JSONSerializer
	b, err := s.Marshal(V1{User: "ada", Old: 3})
	if err != nil {
		t.Fatal(err)
	}
	var v2 V2
	if err := s.Unmarshal(b, &v2); err != nil || v2.User != "ada" || v2.New != nil {
		t.Fatalf("v2 = %+v, err = %v", v2, err)
	}
	if !json.Valid(b) {
		t.Error("not JSON")
	}
}

// FuzzOpen feeds arbitrary strings to Open: it must never panic, and must
// either refuse with a documented error or return what was sealed.
func FuzzOpen(f *testing.F) {
	k := mustKeyring(f, testSecret(1), testSecret(2))
	old := mustKeyring(f, testSecret(2))
	good := sealAt(f, k, "session", t0, t0, []byte(`{"user":"ada"}`))
	f.Add(good)
	f.Add(sealAt(f, old, "session", t0, t0, []byte(`{}`)))
	v, _ := k.Seal("session", &Envelope{Created: t0, Issued: t0, Flashes: []string{"hi"}, Data: []byte("x")})
	f.Add(v)
	f.Add("")
	f.Add("AQ")
	f.Add(good[:len(good)-3])
	f.Add(strings.Repeat("_", 100))
	f.Fuzz(func(t *testing.T, value string) {
		e, err := k.Open("session", value, OpenOptions{Now: t0, MaxAge: 24 * time.Hour})
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnknownKey) &&
				!errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrExpired) {
				t.Fatalf("undocumented error %v", err)
			}
			if !reflect.DeepEqual(e, Envelope{}) {
				t.Fatalf("partial result with error: %+v", e)
			}
			return
		}
		// Whatever opened must seal and open again to the same content.
		v, err := k.Seal("session", &e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := k.Open("session", v, OpenOptions{Now: t0, MaxAge: 24 * time.Hour})
		if err != nil || !bytes.Equal(e2.Data, e.Data) || !reflect.DeepEqual(e2.Flashes, e.Flashes) {
			t.Fatalf("re-sealed value does not round-trip: %v", err)
		}
	})
}

// runtimeMem reads the bytes allocated so far by the whole program.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
