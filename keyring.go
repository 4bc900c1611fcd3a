package cookiesession

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gorilla/securecookie"
	"golang.org/x/crypto/chacha20poly1305"
)

// MinSecretSize is the shortest secret a Keyring accepts, in bytes.
const MinSecretSize = 32

// DefaultKeysVariable is the variable KeyringFromEnv reads for an empty name.
const DefaultKeysVariable = "SESSION_KEYS"

// howToMakeKey ends every key error: the fix is nearly always the same.
const howToMakeKey = "make a key with `go run github.com/ce967478/cookiesession/cmd/sessionkey` or `openssl rand -base64 32`"

// HKDF labels: one per purpose, so that no two uses share key material and
// a raw secret is never used as a cipher key.
const (
	labelKeyID      = "cookiesession v1 key id"
	labelXChaCha    = "cookiesession v1 xchacha20-poly1305"
	labelSCHash     = "cookiesession v1 securecookie hash"
	labelSCBlock    = "cookiesession v1 securecookie block"
	labelChallenge  = "cookiesession v1 dbsc challenge"
	keyIDSize       = 4
	scHashKeySize   = 32 // HMAC-SHA256
	scBlockKeySize  = 32 // AES-256
	secretEnvFormat = "%skey %d %s; " + howToMakeKey
)

// keyID names a key of a Keyring inside the values it seals. It is derived
// from the secret by a one-way function, so it reveals nothing about it.
type keyID [keyIDSize]byte

// ringKey holds everything derived from one secret, but not the secret.
type ringKey struct {
	id       keyID
	position int // 1-based position in the list, for messages
	// derived is behind two pointers so that no fmt verb can print it,
	// even from a struct field holding a Keyring, where fmt calls no
	// method: a verb that does not fit (%s of a pointer) shows what one
	// pointer leads to, never what a pointer to a pointer leads to.
	derived **derivedKeys
}

// derivedKeys are a secret's keys, one per purpose.
type derivedKeys struct {
	aead      cipher.AEAD                // the default format's
	gorilla   *securecookie.SecureCookie // gorillaFormat's
	challenge []byte                     // the MAC key of device binding's challenges
}

func (rk *ringKey) aead() cipher.AEAD                   { return (*rk.derived).aead }
func (rk *ringKey) gorilla() *securecookie.SecureCookie { return (*rk.derived).gorilla }

// Keyring holds the keys that seal and open session cookies, newest first.
// The first key seals; every key opens, so a key can be retired gradually
// (see the README's "Keys and rotation").
//
// A Keyring is immutable and safe for concurrent use. Printing it, with any
// fmt verb, shows its key ids, never key material.
type Keyring struct {
	keys []ringKey
}

// NewKeyring returns a Keyring made of the given secrets, newest first. Each
// must hold at least MinSecretSize random bytes; GenerateSecret makes a
// good one. Only keys derived with HKDF-SHA256 are kept, not the secrets.
func NewKeyring(secrets ...[]byte) (*Keyring, error) {
	return newKeyring("", secrets)
}

// newKeyring and parseKeyring start their messages with source: "" or
// the name of the variable the keys came from, with ": ".
func newKeyring(source string, secrets [][]byte) (*Keyring, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: %sthe list is empty; at least one key is needed; %s",
			ErrInvalidKeys, source, howToMakeKey)
	}
	k := &Keyring{keys: make([]ringKey, 0, len(secrets))}
	for i, secret := range secrets {
		if len(secret) < MinSecretSize {
			return nil, fmt.Errorf("%w: "+secretEnvFormat, ErrInvalidKeys, source, i+1,
				fmt.Sprintf("is %d bytes long; at least %d are needed", len(secret), MinSecretSize))
		}
		rk, err := deriveKey(secret)
		if err != nil {
			return nil, fmt.Errorf("%w: %skey %d: %v", ErrInvalidKeys, source, i+1, err)
		}
		rk.position = i + 1
		for _, prev := range k.keys {
			if prev.id == rk.id {
				// Equal ids almost surely mean equal secrets; a true
				// collision of 32-bit ids is refused too, so that ids stay
				// unambiguous.
				return nil, fmt.Errorf("%w: "+secretEnvFormat, ErrInvalidKeys, source, i+1,
					fmt.Sprintf("duplicates key %d", prev.position))
			}
		}
		k.keys = append(k.keys, rk)
	}
	return k, nil
}

func deriveKey(secret []byte) (ringKey, error) {
	var rk ringKey
	id, err := hkdf.Key(sha256.New, secret, nil, labelKeyID, keyIDSize)
	if err != nil {
		return rk, err
	}
	copy(rk.id[:], id)
	aeadKey, err := hkdf.Key(sha256.New, secret, nil, labelXChaCha, chacha20poly1305.KeySize)
	if err != nil {
		return rk, err
	}
	d := new(derivedKeys)
	if d.aead, err = chacha20poly1305.NewX(aeadKey); err != nil {
		return rk, err
	}
	hashKey, err := hkdf.Key(sha256.New, secret, nil, labelSCHash, scHashKeySize)
	if err != nil {
		return rk, err
	}
	blockKey, err := hkdf.Key(sha256.New, secret, nil, labelSCBlock, scBlockKeySize)
	if err != nil {
		return rk, err
	}
	d.gorilla = newGorillaCodec(hashKey, blockKey)
	if d.challenge, err = hkdf.Key(sha256.New, secret, nil, labelChallenge, 32); err != nil {
		return rk, err
	}
	rk.derived = &d
	return rk, nil
}

// newGorillaCodec returns one key's securecookie codec, never changed once
// configured: it then only reads its fields, and is safe for concurrent use.
func newGorillaCodec(hashKey, blockKey []byte) *securecookie.SecureCookie {
	return securecookie.New(hashKey, blockKey).
		SetSerializer(securecookie.NopEncoder{}). // the plaintext is ours, already encoded
		MaxAge(0).                                // deadlines come from the sealed times
		MaxLength(0)                              // the Manager checks sizes, with its own error
}

// ParseKeyring parses a comma-separated list of base64-encoded secrets,
// newest first, as SESSION_KEYS carries them: standard or URL-safe
// alphabet, with or without padding, spaces around each entry ignored.
// Errors name the position of the offending key, never key material.
func ParseKeyring(list string) (*Keyring, error) {
	return parseKeyring("", list)
}

func parseKeyring(source, list string) (*Keyring, error) {
	if strings.TrimSpace(list) == "" {
		return nil, fmt.Errorf("%w: %sthe list is empty; at least one key is needed; %s",
			ErrInvalidKeys, source, howToMakeKey)
	}
	parts := strings.Split(list, ",")
	secrets := make([][]byte, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("%w: "+secretEnvFormat, ErrInvalidKeys, source, i+1,
				"is empty (a stray comma?)")
		}
		if strings.ContainsAny(p, " \t\r\n") {
			// Saying where would tell part of the key; saying what is safe.
			return nil, fmt.Errorf("%w: "+secretEnvFormat, ErrInvalidKeys, source, i+1,
				"has a space or line break inside it (keys are separated by commas only; was it pasted across lines?)")
		}
		b, err := decodeSecret(p)
		if err != nil {
			return nil, fmt.Errorf("%w: "+secretEnvFormat, ErrInvalidKeys, source, i+1,
				"is not valid base64 (letters, digits, + and / or - and _, optionally = at the end)")
		}
		if len(b) < MinSecretSize {
			return nil, fmt.Errorf("%w: "+secretEnvFormat, ErrInvalidKeys, source, i+1,
				fmt.Sprintf("decodes to %d bytes; at least %d are needed", len(b), MinSecretSize))
		}
		secrets[i] = b
	}
	return newKeyring(source, secrets)
}

// decodeSecret accepts both base64 alphabets, padded or not. The error it
// returns deliberately says nothing about the input.
func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		if strings.ContainsAny(s, "+/") {
			return nil, errors.New("mixed alphabets")
		}
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// KeyringFromEnv reads a key list in ParseKeyring's format from the
// environment variable name, or from SESSION_KEYS when name is empty. An
// unset or empty variable is an error that says how to set it.
func KeyringFromEnv(name string) (*Keyring, error) {
	if name == "" {
		name = DefaultKeysVariable
	}
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not set; set it to one or more base64 keys, newest first, separated by commas; %s",
			ErrInvalidKeys, name, howToMakeKey)
	}
	return parseKeyring(name+": ", v)
}

// GenerateSecret returns MinSecretSize random bytes from crypto/rand, for
// NewKeyring. EncodeSecret turns them into a SESSION_KEYS entry.
func GenerateSecret() []byte {
	b := make([]byte, MinSecretSize)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+): it
	// crashes the program instead of returning weak bytes.
	_, _ = rand.Read(b)
	return b
}

// EncodeSecret encodes a secret the way ParseKeyring and SESSION_KEYS expect
// it (unpadded URL-safe base64).
func EncodeSecret(secret []byte) string {
	return base64.RawURLEncoding.EncodeToString(secret)
}

// String describes the Keyring by its key ids. It never shows key material.
func (k *Keyring) String() string {
	if k == nil {
		return "cookiesession.Keyring(nil)"
	}
	var b strings.Builder
	b.WriteString("cookiesession.Keyring{")
	for i := range k.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%x", k.keys[i].id)
	}
	b.WriteString("}")
	return b.String()
}

// Format makes every fmt verb print String, so that no verb (%x, %+v, ...)
// can reach the derived keys. Its receiver is a value so that a Keyring
// printed by value is covered too.
func (k Keyring) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(k.String())) }

// challengeKeys returns the MAC keys of device binding's challenges,
// newest first.
func (k *Keyring) challengeKeys() [][]byte {
	keys := make([][]byte, len(k.keys))
	for i := range k.keys {
		keys[i] = (*k.keys[i].derived).challenge
	}
	return keys
}

// newest returns the sealing key.
func (k *Keyring) newest() *ringKey { return &k.keys[0] }

// byID returns the key with the given id, nil if none.
func (k *Keyring) byID(id []byte) *ringKey {
	for i := range k.keys {
		if string(k.keys[i].id[:]) == string(id) {
			return &k.keys[i]
		}
	}
	return nil
}
