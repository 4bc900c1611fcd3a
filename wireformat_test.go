package cookiesession_test

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"github.com/gorilla/securecookie"
	"golang.org/x/crypto/chacha20poly1305"
)

// A second implementation of the sealed formats, written from their
// specification (DESIGN.md, and the comments of seal.go and
// seal_gorilla.go), not from the package's code. Tests use it to make
// values the public API never writes (a later release's fields, a value of
// gorilla's own codec) and to read what the package wrote, so that the
// formats are pinned from outside: a change to them breaks these tests,
// as it would break every cookie in the wild.
//
//	value     = base64url-no-padding( version | key id | nonce | ciphertext+tag )
//	AAD       = version | key id | cookie name
//	plaintext = uvarint(created) | uvarint(issued - created) | flags |
//	            [id] | [flashes] | [fields] | data
//
// Keys are derived from a secret with HKDF-SHA256, one label per purpose.
const (
	formatV1      = 1
	keyIDSize     = 4
	v1HeaderSize  = 1 + keyIDSize + chacha20poly1305.NonceSizeX // before the ciphertext
	flagFlashes   = 1 << 0
	flagID        = 1 << 1
	flagFields    = 1 << 2
	fieldGenTag   = 2              // the generation: optional (even)
	fieldBindTag  = 3              // the device binding, a session id: must be understood (odd)
	fieldLifeTag  = 4              // the lifetime, in seconds: optional
	maxSealedTime = int64(1) << 40 // seconds; the created time and the issued delta are at most this
	maxLifetime   = 1 << 33        // seconds; the lifetime is at most this
	labelKeyID    = "cookiesession v1 key id"
	labelXChaCha  = "cookiesession v1 xchacha20-poly1305"
	labelSCHash   = "cookiesession v1 securecookie hash"
	labelSCBlock  = "cookiesession v1 securecookie block"
	// labelChallenge derives the MAC key of device binding's challenges.
	labelChallenge = "cookiesession v1 dbsc challenge"
)

func derive(t testing.TB, secret []byte, label string, n int) []byte {
	t.Helper()
	k, err := hkdf.Key(sha256.New, secret, nil, label, n)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// keyID returns the id a secret's key is known by, in values and in the
// Keyring's printed form.
func keyID(t testing.TB, secret []byte) []byte { return derive(t, secret, labelKeyID, keyIDSize) }

// plaintext returns c in the plaintext layout both formats share, with
// extra appended to its fields section (the generation field comes first
// when c has one).
func plaintext(c Contents, extra ...byte) []byte {
	created := c.Created.Unix()
	pt := binary.AppendUvarint(nil, uint64(created))
	pt = binary.AppendUvarint(pt, uint64(c.Issued.Unix()-created))
	var fields []byte
	if c.Generation != 0 {
		g := binary.AppendUvarint(nil, c.Generation)
		fields = append(append(fields, fieldGenTag, byte(len(g))), g...)
	}
	if c.Lifetime > 0 {
		l := binary.AppendUvarint(nil, uint64(c.Lifetime/time.Second))
		fields = append(append(fields, fieldLifeTag, byte(len(l))), l...)
	}
	fields = append(fields, extra...)
	var flags byte
	if c.ID != (SessionID{}) {
		flags |= flagID
	}
	if len(c.Flashes) > 0 {
		flags |= flagFlashes
	}
	if len(fields) > 0 {
		flags |= flagFields
	}
	pt = append(pt, flags)
	if flags&flagID != 0 {
		pt = append(pt, c.ID[:]...)
	}
	if flags&flagFlashes != 0 {
		pt = binary.AppendUvarint(pt, uint64(len(c.Flashes)))
		for _, f := range c.Flashes {
			pt = binary.AppendUvarint(pt, uint64(len(f)))
			pt = append(pt, f...)
		}
	}
	if flags&flagFields != 0 {
		pt = binary.AppendUvarint(pt, uint64(len(fields)))
		pt = append(pt, fields...)
	}
	return append(pt, c.Data...)
}

// v1Value seals pt in the default format with secret's key, for the
// cookie called name.
func v1Value(t testing.TB, secret []byte, name string, pt []byte) string {
	t.Helper()
	aead, err := chacha20poly1305.NewX(derive(t, secret, labelXChaCha, chacha20poly1305.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	header := append([]byte{formatV1}, keyID(t, secret)...)
	nonce := make([]byte, chacha20poly1305.NonceSizeX)
	_, _ = rand.Read(nonce)
	aad := append(bytes.Clone(header), name...)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(append(header, nonce...), nonce, pt, aad))
}

// gorillaCodec returns the securecookie codec gorilla/securecookie itself
// makes from secret's derived keys: WithGorillaFormat's values are its
// values, over the shared plaintext. Its length limit is off, as sizes are
// the Manager's to check (WithMaxSize).
func gorillaCodec(t testing.TB, secret []byte) *securecookie.SecureCookie {
	t.Helper()
	return securecookie.New(derive(t, secret, labelSCHash, 32), derive(t, secret, labelSCBlock, 32)).
		SetSerializer(securecookie.NopEncoder{}).MaxLength(0)
}

// gorillaValue seals pt in gorilla/securecookie's format with secret's
// keys, for the cookie called name.
func gorillaValue(t testing.TB, secret []byte, name string, pt []byte) string {
	t.Helper()
	v, err := gorillaCodec(t, secret).Encode(name, pt)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A sealer makes a value of one format from Contents: the library's
// Keyring.Seal for the default format, gorilla's codec for the other
// (which a Manager seals only through WithGorillaFormat).
type sealer struct {
	name string
	seal func(t testing.TB, secret []byte, name string, c Contents) string
}

var sealers = []sealer{
	{"v1", func(t testing.TB, secret []byte, name string, c Contents) string {
		t.Helper()
		v, err := mustKeyring(t, secret).Seal(name, c)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}},
	{"securecookie", func(t testing.TB, secret []byte, name string, c Contents) string {
		t.Helper()
		return gorillaValue(t, secret, name, plaintext(c))
	}},
}

// openValue opens value as the only cookie called name.
func openValue(k *Keyring, name, value string, now time.Time, l Limits) (Contents, int, error) {
	return k.Open(name, []*http.Cookie{{Name: name, Value: value}}, now, l)
}

// sameContents reports whether a and b carry the same: times as instants,
// no flashes as none.
func sameContents(a, b Contents) bool {
	return a.Created.Equal(b.Created) && a.Issued.Equal(b.Issued) && a.ID == b.ID && a.Generation == b.Generation &&
		a.Lifetime == b.Lifetime && len(a.Flashes) == len(b.Flashes) && (len(a.Flashes) == 0 || reflect.DeepEqual(a.Flashes, b.Flashes)) &&
		bytes.Equal(a.Data, b.Data)
}

// isOpenError reports whether err wraps one of the errors a value that does
// not open gives (without a validator or gorilla migration).
func isOpenError(err error) bool {
	return errors.Is(err, ErrMalformed) || errors.Is(err, ErrExpired) || errors.Is(err, ErrUnknownKey) ||
		errors.Is(err, ErrAuthentication) || errors.Is(err, ErrTooLarge)
}

// The reference and the package agree on the default format: each opens
// what the other sealed, to the same Contents.
func TestV1FormatIsAsSpecified(t *testing.T) {
	secret := testSecret(1)
	k := mustKeyring(t, secret)
	for name, in := range map[string]Contents{
		"generation and flashes": {Created: t0, Issued: t0.Add(time.Minute), ID: randomID(), Generation: 7,
			Flashes: []string{"hi", ""}, Data: []byte(`{"user":"ada"}`)},
		// flagFields is set only when a field is present.
		"no field":                {Created: t0, Issued: t0, ID: randomID(), Data: []byte(`{}`)},
		"generation and lifetime": {Created: t0, Issued: t0, ID: randomID(), Generation: 3, Lifetime: time.Hour, Data: []byte(`{}`)},
	} {
		ours, err := k.Seal("session", in)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(ours)
		if err != nil || raw[0] != formatV1 || !bytes.Equal(raw[1:1+keyIDSize], keyID(t, secret)) {
			t.Fatalf("%s: the package's value: %v, header %x", name, err, raw[:1+keyIDSize])
		}
		aead, _ := chacha20poly1305.NewX(derive(t, secret, labelXChaCha, chacha20poly1305.KeySize))
		pt, err := aead.Open(nil, raw[1+keyIDSize:v1HeaderSize], raw[v1HeaderSize:], append(bytes.Clone(raw[:1+keyIDSize]), "session"...))
		if err != nil || !bytes.Equal(pt, plaintext(in)) {
			t.Errorf("%s: the package's plaintext %x, the specification's %x (%v)", name, pt, plaintext(in), err)
		}
		out, key, err := openValue(k, "session", v1Value(t, secret, "session", plaintext(in)), t0, Limits{})
		if err != nil || key != 0 || !sameContents(out, in) {
			t.Errorf("%s: the specification's value opened as %+v (key %d, %v), want %+v", name, out, key, err, in)
		}
	}
}

// The securecookie format is gorilla/securecookie's, in both directions,
// against a codec configured on its own with the same derived keys: a
// value a Manager seals with WithGorillaFormat decodes to the shared
// plaintext, and gorilla's values open.
func TestSecureCookieIsGorillaFormat(t *testing.T) {
	clock := newClock()
	m := newTestManager[user](t, clock, WithGorillaFormat())
	b := newBrowser(t)
	b.do(handle(m, func(s *Session[user]) { s.Data.Name = "ada"; s.AddFlash("hi") }), "GET", "/")
	value := b.cookies["session"]

	t.Run("gorilla reads ours", func(t *testing.T) {
		var pt []byte
		if err := gorillaCodec(t, testSecret(1)).Decode("session", value, &pt); err != nil {
			t.Fatalf("securecookie.Decode: %v", err)
		}
		c, key, err := openValue(testKeys(t), "session", value, clock.Now(), Limits{})
		if err != nil || key != 0 || string(c.Data) != `{"Name":"ada","Cart":null,"N":0}` || !reflect.DeepEqual(c.Flashes, []string{"hi"}) {
			t.Fatalf("Keyring.Open: %+v, key %d, %v", c, key, err)
		}
		if !bytes.Equal(pt, plaintext(c)) {
			t.Errorf("securecookie decoded %x, want the plaintext %x", pt, plaintext(c))
		}
	})
	t.Run("ours reads gorilla's", func(t *testing.T) {
		in := Contents{Created: t0, Issued: t0.Add(time.Minute), ID: randomID(), Flashes: []string{"hi"}, Data: []byte(`{"Name":"bob"}`)}
		v := gorillaValue(t, testSecret(1), "session", plaintext(in))
		out, _, err := openValue(testKeys(t), "session", v, t0.Add(time.Hour), Limits{})
		if err != nil || !sameContents(out, in) {
			t.Errorf("got %+v, %v; want %+v", out, err, in)
		}
		if s := load(m, "session="+v); s.IsNew() || s.Data.Name != "bob" || s.ID() != in.ID {
			t.Errorf("through the Manager: new %v, err %v, data %+v", s.IsNew(), s.Err(), s.Data)
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
			v := gorillaValue(t, testSecret(1), "session", payload)
			c, key, err := openValue(testKeys(t), "session", v, t0, Limits{})
			if !errors.Is(err, ErrMalformed) || !reflect.DeepEqual(c, Contents{}) || key != 0 {
				t.Errorf("payload %q: got %+v, key %d, err = %v; want ErrMalformed", payload, c, key, err)
			}
		}
	})
}

// A release reads what a later one writes: an optional field it does not
// know (an even tag) is skipped, so that rolling a deploy back signs no one
// out, and a field that must be understood (an odd tag) refuses the value.
// In both formats, which share the plaintext.
func TestOpenSkipsUnknownOptionalFields(t *testing.T) {
	k := testKeys(t)
	in := Contents{Created: t0, Issued: t0, ID: randomID(), Data: []byte(`{"user":"ada"}`)}
	tests := []struct {
		name   string
		fields []byte
		gen    uint64
		ok     bool
	}{
		{"generation", []byte{fieldGenTag, 1, 7}, 7, true},
		{"an unknown optional field", []byte{6, 3, 'a', 'b', 'c'}, 0, true},
		{"both, the unknown one first", []byte{6, 0, fieldGenTag, 1, 9}, 9, true},
		{"an unknown field that must be understood", []byte{5, 1, 'x'}, 0, false},
		{"a field longer than the section", []byte{6, 9, 'x'}, 0, false},
		{"a bad generation", []byte{fieldGenTag, 2, 7, 7}, 0, false},
	}
	for _, tt := range tests {
		for _, v := range []string{
			v1Value(t, testSecret(1), "session", plaintext(in, tt.fields...)),
			gorillaValue(t, testSecret(1), "session", plaintext(in, tt.fields...)),
		} {
			c, _, err := openValue(k, "session", v, t0, Limits{})
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
			if c.Generation != tt.gen || c.ID != in.ID || string(c.Data) != `{"user":"ada"}` {
				t.Errorf("%s: generation %d, id %v, data %q", tt.name, c.Generation, c.ID, c.Data)
			}
		}
	}
}

// Plaintexts that authenticate but do not parse are refused, never half
// read: only a key holder, or a bug, makes them.
func TestOpenRefusesBadPlaintexts(t *testing.T) {
	k := testKeys(t)
	good := plaintext(Contents{Created: t0, Issued: t0, Data: []byte("{}")})
	tests := []struct {
		name string
		pt   []byte
	}{
		{"empty", nil},
		{"created only", binary.AppendUvarint(nil, uint64(t0.Unix()))},
		{"created past the limit", append(binary.AppendUvarint(nil, uint64(maxSealedTime)+1), 0, 0)},
		{"issued past the limit", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), uint64(maxSealedTime)+1), 0)},
		{"no flags", binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0)},
		{"unknown flags", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), 0x80)},
		{"id cut short", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagID, 1, 2, 3)},
		{"no flash count", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagFlashes)},
		{"zero flashes", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagFlashes, 0)},
		{"more flashes than bytes", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagFlashes, 5, 0)},
		{"a flash cut short", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagFlashes, 1, 9, 'a')},
		{"no fields length", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagFields)},
		{"a field tag cut short", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagFields, 1, 0x80)},
		{"a field length cut short", append(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(t0.Unix())), 0), flagFields, 2, 4, 0x80)},
		// The binding is a session id: 16 bytes, no fewer and no more.
		{"a binding of 17 bytes", plaintext(Contents{Created: t0, Issued: t0, ID: SessionID{1}, Data: []byte("{}")}, append([]byte{fieldBindTag, 17}, bytes.Repeat([]byte{7}, 17)...)...)},
		{"a binding of 15 bytes", plaintext(Contents{Created: t0, Issued: t0, ID: SessionID{1}, Data: []byte("{}")}, append([]byte{fieldBindTag, 15}, bytes.Repeat([]byte{7}, 15)...)...)},
	}
	if _, _, err := openValue(k, "session", v1Value(t, testSecret(1), "session", good), t0, Limits{}); err != nil {
		t.Fatalf("the control does not open: %v", err)
	}
	for _, tt := range tests {
		for _, v := range []string{v1Value(t, testSecret(1), "session", tt.pt), gorillaValue(t, testSecret(1), "session", tt.pt)} {
			c, _, err := openValue(k, "session", v, t0, Limits{})
			if !errors.Is(err, ErrMalformed) || !reflect.DeepEqual(c, Contents{}) {
				t.Errorf("%s: %+v, err %v; want ErrMalformed and nothing", tt.name, c, err)
			}
		}
	}
}

// The lifetime travels as an optional field, tag 4, in whole seconds: the
// plaintext is the layout above, a value past it is refused whatever the
// Limits say (a longer lifetime does not extend it), and a field that
// cannot be a lifetime is refused.
func TestSealedLifetime(t *testing.T) {
	k := testKeys(t)
	in := Contents{Created: t0, Issued: t0, Lifetime: time.Hour, ID: randomID(), Data: []byte(`{}`)}
	v, err := k.Seal("session", in)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := openValue(k, "session", v, t0.Add(time.Hour-time.Second), Limits{MaxAge: 1000 * time.Hour})
	if err != nil || !sameContents(c, in) {
		t.Fatalf("within the sealed hour: %+v, %v", c, err)
	}
	if !bytes.Equal(plaintext(c), plaintext(in)) || !bytes.Contains(plaintext(in), []byte{fieldLifeTag, 2, 0x90, 0x1c}) {
		t.Errorf("plaintext %x: want the lifetime as tag 4, 3600 as a uvarint", plaintext(in))
	}
	if _, _, err := openValue(k, "session", v, t0.Add(time.Hour), Limits{MaxAge: 1000 * time.Hour}); !errors.Is(err, ErrExpired) {
		t.Errorf("at the sealed hour, under a longer MaxAge: %v; want ErrExpired", err)
	}
	if _, _, err := openValue(k, "session", v, t0.Add(30*time.Minute), Limits{MaxAge: 30 * time.Minute}); !errors.Is(err, ErrExpired) {
		t.Errorf("under a shorter MaxAge: %v; want ErrExpired", err)
	}
	base := Contents{Created: t0, Issued: t0, ID: in.ID, Data: in.Data}
	for name, field := range map[string][]byte{
		"zero":           {fieldLifeTag, 1, 0},
		"empty":          {fieldLifeTag, 0},
		"trailing bytes": {fieldLifeTag, 2, 1, 0},
		"past 2^33 s":    append([]byte{fieldLifeTag, 5}, binary.AppendUvarint(nil, maxLifetime+1)...),
	} {
		v := v1Value(t, testSecret(1), "session", plaintext(base, field...))
		if _, _, err := openValue(k, "session", v, t0, Limits{}); !errors.Is(err, ErrMalformed) {
			t.Errorf("a lifetime field %s: %v; want ErrMalformed", name, err)
		}
	}
}

// A lifetime that is not whole seconds is sealed rounded up, as the times
// are: a session never ends sooner than its Manager's WithMaxAge says.
func TestSealedLifetimeRoundsUp(t *testing.T) {
	k := testKeys(t)
	v, err := k.Seal("session", Contents{Created: t0, Issued: t0, Lifetime: time.Hour + time.Millisecond, Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	long := Limits{MaxAge: 1000 * time.Hour}
	if c, _, err := openValue(k, "session", v, t0.Add(time.Hour), long); err != nil || c.Lifetime != time.Hour+time.Second {
		t.Errorf("a lifetime of an hour and a millisecond, an hour on: lifetime %v, err %v; want it open, sealed as %v", c.Lifetime, err, time.Hour+time.Second)
	}
	if _, _, err := openValue(k, "session", v, t0.Add(time.Hour+time.Second), long); !errors.Is(err, ErrExpired) {
		t.Errorf("a second later: %v; want ErrExpired", err)
	}
}
