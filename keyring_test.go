package cookiesession_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/ce967478/cookiesession"
	"golang.org/x/crypto/chacha20poly1305"
)

// ids returns the key ids a Keyring prints, newest first: what an operator
// sees of it, and all.
func ids(t testing.TB, k *Keyring) []string {
	t.Helper()
	s, ok := strings.CutPrefix(k.String(), "cookiesession.Keyring{")
	if !ok || !strings.HasSuffix(s, "}") {
		t.Fatalf("Keyring printed as %q", k.String())
	}
	return strings.Split(strings.TrimSuffix(s, "}"), ", ")
}

// positionOf returns the position in k of secret's key: where the value
// it seals opens.
func positionOf(t testing.TB, k *Keyring, secret []byte) (int, error) {
	t.Helper()
	v, err := mustKeyring(t, secret).Seal("session", Contents{Created: t0, Issued: t0})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := openValue(k, "session", v, t0, Limits{})
	return key, err
}

func TestParseKeyringAccepts(t *testing.T) {
	s1, s2 := testSecret(1), testSecret(2)
	tests := []struct {
		name string
		list string
	}{
		{"url unpadded", base64.RawURLEncoding.EncodeToString(s1)},
		{"std padded", base64.StdEncoding.EncodeToString(s1)},
		{"std unpadded", base64.RawStdEncoding.EncodeToString(s1)},
		{"url padded", base64.URLEncoding.EncodeToString(s1)},
		{"two with spaces", " " + EncodeSecret(s1) + " , " + EncodeSecret(s2) + " "},
		{"longer than minimum", EncodeSecret(bytes.Repeat([]byte{7}, 64))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseKeyring(tt.list); err != nil {
				t.Fatalf("ParseKeyring: %v", err)
			}
		})
	}
}

func TestParseKeyringRefuses(t *testing.T) {
	good := EncodeSecret(testSecret(1))
	short := EncodeSecret(make([]byte, 16))
	tests := []struct {
		name string
		list string
		want string // part of the message
	}{
		{"empty", "", "the list is empty"},
		{"blank", "  ", "the list is empty"},
		{"too short", short, "key 1 decodes to 16 bytes; at least 32 are needed"},
		{"second too short", good + "," + short, "key 2 decodes to 16 bytes"},
		{"not base64", "not*base64!", "key 1 is not valid base64"},
		{"mixed alphabets", "ab-c+" + good, "key 1 is not valid base64"},
		{"a space inside", good[:10] + " " + good[10:], "key 1 has a space or line break inside it"},
		{"two keys without a comma", good + " " + good, "has a space or line break"},
		{"stray comma", good + ",", "key 2 is empty"},
		{"duplicate", good + "," + good, "key 2 duplicates key 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeyring(tt.list)
			if !errors.Is(err, ErrInvalidKeys) {
				t.Fatalf("err = %v, want ErrInvalidKeys", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not contain %q", msg, tt.want)
			}
			if !strings.Contains(msg, "openssl rand -base64 32") {
				t.Errorf("message %q does not say how to make a key", msg)
			}
			if strings.Contains(msg, good) {
				t.Errorf("message %q contains key material", msg)
			}
		})
	}
}

func TestKeyringFromEnv(t *testing.T) {
	t.Run("default name", func(t *testing.T) {
		t.Setenv("SESSION_KEYS", EncodeSecret(testSecret(1))+","+EncodeSecret(testSecret(2)))
		k, err := KeyringFromEnv("")
		if err != nil {
			t.Fatal(err)
		}
		if n := len(ids(t, k)); n != 2 {
			t.Fatalf("%d keys, want 2", n)
		}
		if key, err := positionOf(t, k, testSecret(2)); err != nil || key != 1 {
			t.Errorf("the second key opens at position %d (%v), want 1", key, err)
		}
	})
	t.Run("unset", func(t *testing.T) {
		t.Setenv("MY_KEYS", "") // registers restoration; then unset
		if err := os.Unsetenv("MY_KEYS"); err != nil {
			t.Fatal(err)
		}
		_, err := KeyringFromEnv("MY_KEYS")
		if !errors.Is(err, ErrInvalidKeys) || !strings.Contains(err.Error(), "MY_KEYS is not set") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("names the variable", func(t *testing.T) {
		t.Setenv("SESSION_KEYS", EncodeSecret(make([]byte, 16)))
		_, err := KeyringFromEnv("")
		if err == nil || !strings.HasPrefix(strings.TrimPrefix(err.Error(), ErrInvalidKeys.Error()+": "), "SESSION_KEYS: key 1 decodes to 16 bytes") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestNewKeyringRefusesShortAndEmpty(t *testing.T) {
	if _, err := NewKeyring(); !errors.Is(err, ErrInvalidKeys) {
		t.Errorf("no secrets: err = %v", err)
	}
	if _, err := NewKeyring(make([]byte, 31)); !errors.Is(err, ErrInvalidKeys) {
		t.Errorf("31 bytes: err = %v", err)
	}
	// The error names the secret's position, counted from 1.
	if _, err := NewKeyring(testSecret(1), make([]byte, 31)); !errors.Is(err, ErrInvalidKeys) || !strings.Contains(err.Error(), "key 2 is 31 bytes long") {
		t.Errorf("a short second secret: err = %v; want it named key 2", err)
	}
}

// A key's id is derived from its secret (the first bytes of HKDF-SHA256
// under its own label), the same in every ring, and tells nothing of it.
func TestKeyIDsAreDerivedAndStable(t *testing.T) {
	a := ids(t, mustKeyring(t, testSecret(1), testSecret(2)))
	b := ids(t, mustKeyring(t, testSecret(2)))
	if a[1] != b[0] {
		t.Error("the same secret gave different ids in two keyrings")
	}
	if a[0] == a[1] {
		t.Error("different secrets gave the same id")
	}
	if want := hex.EncodeToString(keyID(t, testSecret(1))); a[0] != want {
		t.Errorf("id %s, want %s, derived from the secret", a[0], want)
	}
	if id, _ := hex.DecodeString(a[0]); bytes.Contains(testSecret(1), id) {
		t.Error("the id is a slice of the secret")
	}
}

func TestKeyringNeverPrintsKeyMaterial(t *testing.T) {
	secret := GenerateSecret()
	k := mustKeyring(t, secret)
	secrets := [][]byte{secret}
	for _, label := range []string{labelXChaCha, labelSCHash, labelSCBlock, labelChallenge} {
		secrets = append(secrets, derive(t, secret, label, chacha20poly1305.KeySize))
	}
	// With device binding, the Manager holds the challenges' MAC keys too.
	m, err := New[user](k, WithSubject(func(u user) string { return u.Name }), WithDeviceBinding("/dbsc", 10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		Ring    *Keyring
		ring    *Keyring
		Value   Keyring
		value   Keyring
		Manager Manager[user]
	}
	// The Keyring itself, its value (fmt skips the pointer's methods),
	// structs holding either (fmt calls no method on unexported fields),
	// and a Manager's value.
	for _, v := range []any{k, *k, holder{k, k, *k, *k, *m}, &holder{k, k, *k, *k, *m}, *m} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			out := fmt.Sprintf(verb, v)
			for _, s := range secrets {
				for _, enc := range []string{string(s), fmt.Sprintf("%x", s), fmt.Sprintf("%X", s),
					strings.Trim(fmt.Sprint(s[:4]), "[]"), fmt.Sprintf("%q", s),
					base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s)} {
					if strings.Contains(out, enc) {
						t.Fatalf("%s of %T printed key material: %s", verb, v, out)
					}
				}
			}
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q"} {
		if out := fmt.Sprintf(verb, k); !strings.Contains(out, hex.EncodeToString(keyID(t, secret))) {
			t.Errorf("%s = %q, want the key id", verb, out)
		}
	}
}

func TestGenerateSecret(t *testing.T) {
	a, b := GenerateSecret(), GenerateSecret()
	if len(a) != MinSecretSize || bytes.Equal(a, b) {
		t.Fatalf("GenerateSecret gave %d bytes, equal twice: %v", len(a), bytes.Equal(a, b))
	}
	k, err := ParseKeyring(EncodeSecret(a))
	if err != nil {
		t.Fatal(err)
	}
	if k.String() != mustKeyring(t, a).String() {
		t.Error("EncodeSecret does not round-trip through ParseKeyring")
	}
	// As documented: unpadded URL-safe base64, with no character a shell,
	// a URL or a .env file treats specially.
	if enc := EncodeSecret(a); enc != base64.RawURLEncoding.EncodeToString(a) {
		t.Errorf("EncodeSecret = %q, want unpadded URL-safe base64", enc)
	}
}

// A nil *Keyring prints as such, rather than panicking in a log line that
// shows a configuration.
func TestKeyringStringNil(t *testing.T) {
	var k *Keyring
	for _, got := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%v", struct{ K *Keyring }{k})} {
		if !strings.Contains(got, "nil") || strings.Contains(got, "PANIC") {
			t.Errorf("nil Keyring printed as %q", got)
		}
	}
}
