package cookiesession

import (
	"bytes"
	"encoding/binary"
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
	v, err := k.seal(name, &Contents{Created: created, Issued: issued, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// bothFormats runs fn for each sealed format over k: the default format and
// gorilla's must keep the same promises.
func bothFormats(t *testing.T, k *Keyring, fn func(t *testing.T, f format)) {
	for _, f := range []struct {
		name string
		f    format
	}{{"v1", k}, {"gorilla", gorillaFormat{k}}} {
		t.Run(f.name, func(t *testing.T) { fn(t, f.f) })
	}
}

// at returns the options the codec tests open with: now, no deadlines,
// the default size cap.
func at(now time.Time) openOptions { return openOptions{now: now, maxLength: DefaultMaxSize} }

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
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := Contents{Created: t0.Add(-time.Hour), Issued: t0, Data: bytes.Clone(tt.data), Flashes: tt.flashes,
					ID: newSessionID(), Generation: uint64(i) << 40}
				v, err := f.seal("session", &in)
				if err != nil {
					t.Fatal(err)
				}
				// Sealing encrypts in place: it must not touch the
				// caller's data.
				if !bytes.Equal(in.Data, tt.data) {
					t.Fatal("seal modified the caller's data")
				}
				out, key, err := f.open("session", v, openOptions{now: t0, maxAge: 24 * time.Hour, maxLength: DefaultMaxSize})
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				if !bytes.Equal(out.Data, tt.data) || !out.Created.Equal(in.Created) || !out.Issued.Equal(in.Issued) ||
					out.ID != in.ID || out.Generation != in.Generation {
					t.Errorf("got %+v, want %+v", out, in)
				}
				if !reflect.DeepEqual(out.Flashes, tt.flashes) {
					t.Errorf("flashes = %q, want %q", out.Flashes, tt.flashes)
				}
				if key != 0 {
					t.Error("sealed by the newest key, yet stale")
				}
				if len(tt.data) > 0 && strings.Contains(v, string(tt.data)) {
					t.Error("the data is visible in the sealed value")
				}
			})
		}
	})
}

// A release reads what a later one writes: an optional field it does not
// know (an even tag) is skipped, so that rolling a deploy back signs no one
// out, and a field that must be understood (an odd tag) refuses the value.
func TestOpenSkipsUnknownOptionalFields(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	id := newSessionID()
	plaintext := func(fields ...byte) []byte {
		pt := binary.AppendUvarint(nil, uint64(t0.Unix()))
		pt = append(pt, 0, flagID|flagFields)
		pt = append(pt, id[:]...)
		pt = binary.AppendUvarint(pt, uint64(len(fields)))
		pt = append(pt, fields...)
		return append(pt, `{"user":"ada"}`...)
	}
	tests := []struct {
		name   string
		fields []byte
		gen    uint64
		ok     bool
	}{
		{"generation", []byte{fieldGeneration, 1, 7}, 7, true},
		{"an unknown optional field", []byte{4, 3, 'a', 'b', 'c'}, 0, true},
		{"both, the unknown one first", []byte{4, 0, fieldGeneration, 1, 9}, 9, true},
		{"an unknown field that must be understood", []byte{5, 1, 'x'}, 0, false},
		{"a field longer than the section", []byte{4, 9, 'x'}, 0, false},
		{"a bad generation", []byte{fieldGeneration, 2, 7, 7}, 0, false},
	}
	for _, tt := range tests {
		v := k.sealPlaintext("session", plaintext(tt.fields...))
		e, _, err := k.open("session", v, at(t0))
		if tt.ok != (err == nil) {
			t.Errorf("%s: err %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err %v, want ErrMalformed", tt.name, err)
			}
			continue
		}
		if e.Generation != tt.gen || e.ID != id || string(e.Data) != `{"user":"ada"}` {
			t.Errorf("%s: generation %d, id %v, data %q", tt.name, e.Generation, e.ID, e.Data)
		}
	}
}

func TestSealFormatOverhead(t *testing.T) {
	k := mustKeyring(t, testSecret(1))
	data := bytes.Repeat([]byte("a"), 200)
	v := sealAt(t, k, "session", t0, t0.Add(time.Hour), data)
	raw, err := b64.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	// 29 of header, 16 of tag, 16 of session id, a few of times and flags.
	if over := len(raw) - len(data); over > 72 {
		t.Errorf("format adds %d bytes before base64; the budget is 72", over)
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
		_, _, err := k.open("session", b64.EncodeToString(mod), at(t0))
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
	// A value whose length is a multiple of 4, so that one character less
	// still decodes and is refused by authentication.
	v := ""
	for n := 0; len(v)%4 != 0 || v == ""; n++ {
		v = sealAt(t, k, "session", t0, t0, []byte(`{"user":"ada`+strings.Repeat("x", n)+`"}`))
	}
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
		{"1 MB", strings.Repeat("A", 1<<20), ErrTooLarge},
		{"unknown key", sealAt(t, other, "session", t0, t0, nil), ErrUnknownKey},
		{"other version", "Ag" + v[2:], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, err := k.open("session", tt.value, at(t0))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(e, Contents{}) {
				t.Errorf("a refused value returned a partial result: %+v", e)
			}
		})
	}
}

func TestOpenIsBoundToCookieName(t *testing.T) {
	bothFormats(t, mustKeyring(t, testSecret(1), testSecret(2)), func(t *testing.T, f format) {
		v, err := f.seal("session", &Contents{Created: t0, Issued: t0, Data: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"other", "session.1", "Session", "__Host-session", "", "session|"} {
			if _, _, err := f.open(name, v, at(t0)); !errors.Is(err, ErrAuthentication) {
				t.Errorf("opened under %q: err = %v", name, err)
			}
		}
	})
}

func TestOpenOlderKeyIsStale(t *testing.T) {
	old := mustKeyring(t, testSecret(1))
	rotated := mustKeyring(t, testSecret(2), testSecret(1))
	v := sealAt(t, old, "session", t0, t0, []byte(`{"n":1}`))
	_, key, err := rotated.open("session", v, at(t0))
	if err != nil {
		t.Fatal(err)
	}
	if key == 0 {
		t.Error("a value of an older key is not stale")
	}
	// After rotation, the newest key seals and the old ring can no longer
	// open it: step 1 of a rolling rotation must be deployed first.
	v2 := sealAt(t, rotated, "session", t0, t0, []byte(`{"n":1}`))
	if _, _, err := old.open("session", v2, at(t0)); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("old ring opened a value of the new key: %v", err)
	}
	retired := mustKeyring(t, testSecret(2))
	if _, _, err := retired.open("session", v, at(t0)); !errors.Is(err, ErrUnknownKey) {
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
	v, err := f.seal("session", &Contents{Created: created, Issued: issued, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		o    openOptions
		want error
	}{
		{"within both", openOptions{now: issued.Add(time.Minute), maxAge: 24 * time.Hour, idleTimeout: time.Hour, maxLength: DefaultMaxSize}, nil},
		{"no limits", at(issued.Add(1000 * time.Hour)), nil},
		{"one second before the lifetime ends", openOptions{now: created.Add(24*time.Hour - time.Second), maxAge: 24 * time.Hour, maxLength: DefaultMaxSize}, nil},
		{"lifetime over", openOptions{now: created.Add(24 * time.Hour), maxAge: 24 * time.Hour, maxLength: DefaultMaxSize}, ErrExpired},
		{"idle over", openOptions{now: issued.Add(time.Hour), maxAge: 24 * time.Hour, idleTimeout: time.Hour, maxLength: DefaultMaxSize}, ErrExpired},
		{"within skew", at(issued.Add(-ClockSkew)), nil},
		{"from the future", at(issued.Add(-ClockSkew - time.Second)), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, err := f.open("session", v, tt.o)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err != nil && !reflect.DeepEqual(e, Contents{}) {
				t.Errorf("an expired value returned a partial result: %+v", e)
			}
		})
	}
}

func TestSealRefusesBadTimes(t *testing.T) {
	bothFormats(t, mustKeyring(t, testSecret(1)), func(t *testing.T, f format) {
		if _, err := f.seal("s", &Contents{Created: t0, Issued: t0.Add(-time.Second)}); err == nil {
			t.Error("Issued before Created was sealed")
		}
		if _, err := f.seal("s", &Contents{Created: time.Unix(-5, 0), Issued: t0}); err == nil {
			t.Error("Created before 1970 was sealed")
		}
	})
}

// Seal refuses what Open would refuse: a value that cannot be read back
// would lose the session without a word.
func TestSealRefusesWhatOpenRefuses(t *testing.T) {
	bothFormats(t, mustKeyring(t, testSecret(1)), func(t *testing.T, f format) {
		flashes := make([]string, maxFlashes)
		value, err := f.seal("s", &Contents{Created: t0, Issued: t0, Flashes: flashes, Data: []byte("{}")})
		if err != nil {
			t.Fatalf("%d flashes: %v", maxFlashes, err)
		}
		if e, _, err := f.open("s", value, at(t0)); err != nil || len(e.Flashes) != maxFlashes {
			t.Fatalf("%d flashes did not open back: %v", maxFlashes, err)
		}
		_, err = f.seal("s", &Contents{Created: t0, Issued: t0, Flashes: append(flashes, ""), Data: []byte("{}")})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("%d flashes: err %v, want ErrTooLarge", maxFlashes+1, err)
		}
		far := time.Unix(maxSealedTime+1, 0)
		if _, err := f.seal("s", &Contents{Created: far, Issued: far}); err == nil {
			t.Error("a created time Open refuses was sealed")
		}
		if _, err := f.seal("s", &Contents{Created: t0, Issued: time.Unix(t0.Unix()+maxSealedTime+1, 0)}); err == nil {
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
			_, _, _ = f.open("session", huge, at(t0))
		}
		after.read()
		if perCall := (after.total - before.total) / 20; perCall > 1<<10 {
			t.Errorf("refusing a 1 MB value allocated %d bytes per call", perCall)
		}
	})
}

// FuzzOpen feeds arbitrary strings to Open: it must never panic, and must
// either refuse with a documented error or return what was sealed.
func FuzzOpen(f *testing.F) {
	k := mustKeyring(f, testSecret(1), testSecret(2))
	old := mustKeyring(f, testSecret(2))
	good := sealAt(f, k, "session", t0, t0, []byte(`{"user":"ada"}`))
	f.Add(good)
	f.Add(sealAt(f, old, "session", t0, t0, []byte(`{}`)))
	v, _ := k.seal("session", &Contents{Created: t0, Issued: t0, Flashes: []string{"hi"}, Data: []byte("x")})
	f.Add(v)
	f.Add("")
	f.Add("AQ")
	f.Add(good[:len(good)-3])
	f.Add(strings.Repeat("_", 100))
	f.Fuzz(func(t *testing.T, value string) {
		e, _, err := k.open("session", value, openOptions{now: t0, maxAge: 24 * time.Hour, maxLength: DefaultMaxSize})
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnknownKey) &&
				!errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrExpired) {
				t.Fatalf("undocumented error %v", err)
			}
			if !reflect.DeepEqual(e, Contents{}) {
				t.Fatalf("partial result with error: %+v", e)
			}
			return
		}
		// Whatever opened must seal and open again to the same content.
		v, err := k.seal("session", &e)
		if err != nil {
			t.Fatal(err)
		}
		e2, _, err := k.open("session", v, openOptions{now: t0, maxAge: 24 * time.Hour, maxLength: DefaultMaxSize})
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
