package cookiesession_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
)

// The codec on its own: Keyring.Seal writes the default format, and
// Keyring.Open opens either format. wireformat_test.go checks both
// formats against their specification; gorilla's format is sealed here by
// its own codec (sealers), since a Manager alone seals it.

func TestSealOpenRoundTrip(t *testing.T) {
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
	k := testKeys(t)
	for _, f := range sealers {
		for i, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				in := Contents{Created: t0.Add(-time.Hour), Issued: t0, Data: bytes.Clone(tt.data), Flashes: tt.flashes,
					ID: randomID(), Generation: uint64(i) << 40}
				v := f.seal(t, testSecret(1), "session", in)
				// Sealing encrypts in place: it must not touch the
				// caller's data.
				if !bytes.Equal(in.Data, tt.data) {
					t.Fatal("Seal modified the caller's data")
				}
				out, key, err := openValue(k, "session", v, t0, Limits{})
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if !sameContents(out, in) {
					t.Errorf("got %+v, want %+v", out, in)
				}
				if key != 0 {
					t.Errorf("sealed by the newest key, opened as key %d", key)
				}
				if len(tt.data) > 0 && strings.Contains(v, string(tt.data)) {
					t.Error("the data is visible in the sealed value")
				}
			})
		}
	}
}

func TestSealFormatOverhead(t *testing.T) {
	k := testKeys(t)
	data := bytes.Repeat([]byte("a"), 200)
	c := Contents{Created: t0, Issued: t0.Add(time.Hour), ID: randomID(), Data: data}
	v, err := k.Seal("session", c)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
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
	if v2, _ := k.Seal("session", c); v2 == v {
		t.Error("sealing twice gave the same value: the nonce is not fresh")
	}
}

func TestOpenRejectsEveryFlippedBit(t *testing.T) {
	k := testKeys(t)
	v, err := k.Seal("session", Contents{Created: t0, Issued: t0, Data: []byte(`{"user":"ada","admin":false}`)})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	for i := 0; i < len(raw)*8; i++ {
		mod := bytes.Clone(raw)
		mod[i/8] ^= 1 << (i % 8)
		c, _, err := openValue(k, "session", base64.RawURLEncoding.EncodeToString(mod), t0, Limits{})
		if err == nil {
			t.Fatalf("bit %d flipped: value still opens", i)
		}
		if !errors.Is(err, ErrAuthentication) && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("bit %d flipped: err = %v, want a documented error", i, err)
		}
		if !reflect.DeepEqual(c, Contents{}) {
			t.Fatalf("bit %d flipped: partial result %+v", i, c)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	k := testKeys(t)
	// A value whose length is a multiple of 4, so that one character less
	// still decodes and is refused by authentication.
	v := ""
	for n := 0; len(v)%4 != 0 || v == ""; n++ {
		v, _ = k.Seal("session", Contents{Created: t0, Issued: t0, Data: []byte(`{"user":"ada` + strings.Repeat("x", n) + `"}`)})
	}
	unknown, err := mustKeyring(t, testSecret(9)).Seal("session", Contents{Created: t0, Issued: t0})
	if err != nil {
		t.Fatal(err)
	}
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
		{"unknown key", unknown, ErrUnknownKey},
		{"other version", "Ag" + v[2:], ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, key, err := openValue(k, "session", tt.value, t0, Limits{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(c, Contents{}) || key != 0 {
				t.Errorf("a refused value returned a partial result: %+v, key %d", c, key)
			}
		})
	}
	if _, _, err := k.Open("session", []*http.Cookie{{Name: "other", Value: v}}, t0, Limits{}); !errors.Is(err, http.ErrNoCookie) {
		t.Errorf("without a cookie of the name: err = %v, want http.ErrNoCookie", err)
	}
}

// A value is bound to the cookie name it was sealed for: moved to another
// cookie, it does not authenticate.
func TestOpenIsBoundToCookieName(t *testing.T) {
	k := mustKeyring(t, testSecret(1), testSecret(2))
	for _, f := range sealers {
		v := f.seal(t, testSecret(1), "session", Contents{Created: t0, Issued: t0, Data: []byte(`{}`)})
		for _, name := range []string{"other", "session.1", "Session", "__Host-session", "", "session|"} {
			if _, _, err := openValue(k, name, v, t0, Limits{}); !errors.Is(err, ErrAuthentication) {
				t.Errorf("%s: opened under %q: err = %v", f.name, name, err)
			}
		}
	}
}

// Open says which key of the ring sealed a value, from 0 (the newest): a
// value of an older key is one to seal again. The default format names
// its key, so a value of a key no longer in the ring is ErrUnknownKey;
// gorilla's does not, so it is ErrAuthentication, like tampering.
func TestOpenSaysWhichKeySealed(t *testing.T) {
	old := mustKeyring(t, testSecret(1))
	rotated := mustKeyring(t, testSecret(2), testSecret(1))
	retired := mustKeyring(t, testSecret(2))
	for _, f := range sealers {
		byOld := f.seal(t, testSecret(1), "session", Contents{Created: t0, Issued: t0, Data: []byte(`{"n":1}`)})
		byNew := f.seal(t, testSecret(2), "session", Contents{Created: t0, Issued: t0, Data: []byte(`{"n":2}`)})
		notInRing := ErrUnknownKey
		if f.name == "securecookie" {
			notInRing = ErrAuthentication
		}
		for _, tt := range []struct {
			name    string
			ring    *Keyring
			value   string
			wantKey int
			wantErr error
		}{
			{"old value, rotated ring", rotated, byOld, 1, nil},
			{"new value, rotated ring", rotated, byNew, 0, nil},
			{"old value, old ring", old, byOld, 0, nil},
			{"old value, retired key", retired, byOld, 0, notInRing},
			// Step 1 of a rolling rotation must be deployed first.
			{"new value, old ring", old, byNew, 0, notInRing},
		} {
			c, key, err := openValue(tt.ring, "session", tt.value, t0, Limits{})
			if !errors.Is(err, tt.wantErr) || key != tt.wantKey || (err != nil && !reflect.DeepEqual(c, Contents{})) {
				t.Errorf("%s, %s: key %d, err %v; want key %d, err %v", f.name, tt.name, key, err, tt.wantKey, tt.wantErr)
			}
		}
	}
}

// The deadlines are the times sealed inside the value, in either format
// (gorilla's own 30-day age check is off): the absolute lifetime from
// Created, the idle timeout from Issued, and no Issued further in the
// future than ClockSkew. Limits{} means the defaults.
func TestOpenDeadlines(t *testing.T) {
	created := t0
	issued := t0.Add(2 * time.Hour)
	day := Limits{MaxAge: 24 * time.Hour}
	for _, f := range sealers {
		v := f.seal(t, testSecret(1), "session", Contents{Created: created, Issued: issued, Data: []byte(`{}`)})
		for _, tt := range []struct {
			name string
			now  time.Time
			l    Limits
			want error
		}{
			{"within both", issued.Add(time.Minute), Limits{MaxAge: 24 * time.Hour, IdleTimeout: time.Hour}, nil},
			{"no idle timeout", issued.Add(20 * time.Hour), day, nil},
			{"a long lifetime", issued.Add(1000 * time.Hour), Limits{MaxAge: 2000 * time.Hour}, nil},
			{"one second before the lifetime ends", created.Add(24*time.Hour - time.Second), day, nil},
			{"lifetime over", created.Add(24 * time.Hour), day, ErrExpired},
			{"the default lifetime over", created.Add(DefaultMaxAge), Limits{}, ErrExpired},
			{"within the default lifetime", created.Add(DefaultMaxAge - time.Second), Limits{}, nil},
			{"idle over", issued.Add(time.Hour), Limits{MaxAge: 24 * time.Hour, IdleTimeout: time.Hour}, ErrExpired},
			{"within skew", issued.Add(-ClockSkew), Limits{}, nil},
			{"from the future", issued.Add(-ClockSkew - time.Second), Limits{}, ErrExpired},
		} {
			c, _, err := openValue(testKeys(t), "session", v, tt.now, tt.l)
			if !errors.Is(err, tt.want) {
				t.Errorf("%s, %s: err = %v, want %v", f.name, tt.name, err, tt.want)
			}
			if err != nil && !reflect.DeepEqual(c, Contents{}) {
				t.Errorf("%s, %s: an expired value returned a partial result: %+v", f.name, tt.name, c)
			}
		}
	}
}

// Seal refuses what Open would refuse: a value that cannot be read back
// would lose the session without a word.
func TestSealRefusesWhatOpenRefuses(t *testing.T) {
	k := testKeys(t)
	flashes := make([]string, maxFlashes)
	value, err := k.Seal("s", Contents{Created: t0, Issued: t0, Flashes: flashes, Data: []byte("{}")})
	if err != nil {
		t.Fatalf("%d flashes: %v", maxFlashes, err)
	}
	if c, _, err := openValue(k, "s", value, t0, Limits{}); err != nil || len(c.Flashes) != maxFlashes {
		t.Fatalf("%d flashes did not open back: %v", maxFlashes, err)
	}
	if _, err := k.Seal("s", Contents{Created: t0, Issued: t0, Flashes: append(flashes, ""), Data: []byte("{}")}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("%d flashes: err %v, want ErrTooLarge", maxFlashes+1, err)
	}
	far := time.Unix(maxSealedTime+1, 0)
	for _, tt := range []struct {
		name string
		c    Contents
	}{
		{"Issued before Created", Contents{Created: t0, Issued: t0.Add(-time.Second)}},
		{"Created before 1970", Contents{Created: time.Unix(-5, 0), Issued: t0}},
		{"a created time Open refuses", Contents{Created: far, Issued: far}},
		{"an issued time Open refuses", Contents{Created: t0, Issued: time.Unix(t0.Unix()+maxSealedTime+1, 0)}},
	} {
		if _, err := k.Seal("s", tt.c); err == nil {
			t.Errorf("%s was sealed", tt.name)
		}
	}
}

// A lifetime past what the format holds, about 270 years (WithMaxAge of
// math.MaxInt64 for "never"), is sealed as the longest it holds: a value
// that cannot be opened back would lose the session without a word.
func TestLongestLifetimeIsSealed(t *testing.T) {
	k := testKeys(t)
	longest := time.Duration(maxLifetime) * time.Second
	for _, lifetime := range []time.Duration{longest, longest + time.Second, math.MaxInt64} {
		value, err := k.Seal("s", Contents{Created: t0, Issued: t0, Lifetime: lifetime, Data: []byte("{}")})
		if err != nil {
			t.Errorf("a lifetime of %v: %v", lifetime, err)
			continue
		}
		if c, _, err := openValue(k, "s", value, t0, Limits{}); err != nil || c.Lifetime != longest {
			t.Errorf("a lifetime of %v opened back as %v, err %v; want %v", lifetime, c.Lifetime, err, longest)
		}
	}
}

// A Manager in either format refuses to save what it could not open again,
// with ErrSaveFailed, and the browser keeps its cookie: a clock before
// 1970, or one past what the format holds.
func TestSaveRefusesTimesOpenRefuses(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithGorillaFormat()}} {
		for _, now := range []time.Time{time.Unix(-3600, 0), time.Unix(maxSealedTime+1, 0)} {
			var heard errorLog
			m := newTestManager[user](t, newClockAt(now), append(opts, heard.option())...)
			rec := newBrowser(t).do(handle(m, func(s *Session[user]) { s.Data.Name = "ada" }), "GET", "/")
			if err := heard.take(); !errors.Is(err, ErrSaveFailed) || sets(rec) {
				t.Errorf("%d options, clock at %v: the error handler heard %v, Set-Cookie %q", len(opts), now, err, rec.Header().Values("Set-Cookie"))
			}
		}
	}
}

// An over-long value is refused before it is decoded: refusing 1 MB must
// not cost a buffer of 750 KB.
func TestOpenOverlongDoesNotAllocateForIt(t *testing.T) {
	huge := []*http.Cookie{{Name: "session", Value: strings.Repeat("A", 1<<20)}}
	k := testKeys(t)
	var before, after runtimeMem
	before.read()
	for range 20 {
		_, _, _ = k.Open("session", huge, t0, Limits{})
	}
	after.read()
	if perCall := (after.total - before.total) / 20; perCall > 4<<10 {
		t.Errorf("refusing a 1 MB value allocated %d bytes per call", perCall)
	}
}

// FuzzOpen feeds arbitrary cookie values to Keyring.Open: it must never
// panic, and must either refuse with a documented error and no partial
// result, or return what was sealed, which seals and opens again to the
// same.
func FuzzOpen(f *testing.F) {
	k := mustKeyring(f, testSecret(1), testSecret(2))
	good, _ := k.Seal("session", Contents{Created: t0, Issued: t0, Data: []byte(`{"user":"ada"}`)})
	f.Add(good)
	old, _ := mustKeyring(f, testSecret(2)).Seal("session", Contents{Created: t0, Issued: t0, Data: []byte(`{}`)})
	f.Add(old)
	v, _ := k.Seal("session", Contents{Created: t0, Issued: t0, Flashes: []string{"hi"}, Data: []byte("x")})
	f.Add(v)
	f.Add("")
	f.Add("AQ")
	f.Add(good[:len(good)-3])
	f.Add(strings.Repeat("_", 100))
	limits := Limits{MaxAge: 24 * time.Hour}
	f.Fuzz(func(t *testing.T, value string) {
		c, key, err := openValue(k, "session", value, t0, limits)
		if err != nil {
			if !isOpenError(err) {
				t.Fatalf("undocumented error %v", err)
			}
			if !reflect.DeepEqual(c, Contents{}) || key != 0 {
				t.Fatalf("partial result with error: %+v, key %d", c, key)
			}
			return
		}
		if key < 0 || key > 1 {
			t.Fatalf("key %d of a ring of two", key)
		}
		again, err := k.Seal("session", c)
		if err != nil {
			t.Fatal(err)
		}
		c2, key, err := openValue(k, "session", again, t0, limits)
		if err != nil || key != 0 || !sameContents(c2, c) {
			t.Fatalf("re-sealed value does not round-trip: %v (key %d)", err, key)
		}
	})
}

// Open tries each value of the cookie in turn, as a browser may send a
// planted one first, but not without bound: a flood of values is cut off.
func TestOpenTriesSeveralValuesWithinABound(t *testing.T) {
	k := testKeys(t)
	good, err := k.Seal("session", Contents{Created: t0, Issued: t0, ID: randomID(), Data: []byte(`{"Name":"ada"}`)})
	if err != nil {
		t.Fatal(err)
	}
	cookies := func(planted int) []*http.Cookie {
		var cs []*http.Cookie
		for range planted {
			cs = append(cs, &http.Cookie{Name: "session", Value: "planted"})
		}
		return append(cs, &http.Cookie{Name: "session", Value: good})
	}
	if c, _, err := k.Open("session", cookies(1), t0, Limits{}); err != nil || string(c.Data) != `{"Name":"ada"}` {
		t.Errorf("behind a planted value: %q, %v; want the genuine session", c.Data, err)
	}
	if _, _, err := k.Open("session", cookies(100), t0, Limits{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("behind 100 planted values: err = %v, want the first's, ErrMalformed", err)
	}
}

// The error classes are distinct: errors.Is tells each reason apart, and
// none is another's (an unknown key is not an altered cookie, a refused
// conversion not a malformed cookie, a missing device proof not a store
// that cannot tell).
func TestErrorClassesAreDistinct(t *testing.T) {
	classes := []error{ErrMalformed, ErrUnknownKey, ErrAuthentication, ErrTooLarge, ErrExpired, ErrRevoked,
		ErrRejected, ErrRevocationsUnavailable, ErrUnproven, ErrMigration, ErrSaveFailed, ErrRevocationFailed,
		ErrReplaced, ErrChangeAfterCommit, ErrInvalidKeys}
	for i, a := range classes {
		for j, b := range classes {
			if i != j && errors.Is(a, b) {
				t.Errorf("errors.Is(%v, %v) is true", a, b)
			}
		}
	}
}
