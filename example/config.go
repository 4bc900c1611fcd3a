package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/redis/go-redis/v9"
)

// Environment variables the app reads.
const (
	envAddr        = "ADDR"
	envKeys        = cookiesession.DefaultKeysVariable // SESSION_KEYS
	envMaxAge      = "SESSION_MAX_AGE"
	envIdleTimeout = "SESSION_IDLE_TIMEOUT"
	envSecure      = "SESSION_SECURE"
	envRedisURL    = "REDIS_URL"
	// envRevocationsFile is where revocations are kept without REDIS_URL.
	envRevocationsFile = "SESSION_REVOCATIONS_FILE"

	defaultAddr = "127.0.0.1:8080"
	// defaultRevocationsFile is in the working directory: a sign-out
	// holds across restarts of `go run ./example` with no setting at all.
	defaultRevocationsFile = "revocations.db"
	// minIdleTimeout is cookiesession's own lower bound (cookie times are
	// in seconds), checked here so that the error names the variable.
	minIdleTimeout = cookiesession.MinIdleTimeout
)

// config is the app's settings, read from the environment by loadConfig.
type config struct {
	// Addr is where the server listens.
	Addr string
	// MaxAge is the absolute session lifetime.
	MaxAge time.Duration
	// IdleTimeout ends sessions unused for this long; 0 means never.
	IdleTimeout time.Duration
	// Insecure turns the cookie's Secure attribute off: see settle.
	Insecure bool
	// Redis is where revocations are shared between instances, parsed
	// from REDIS_URL; nil means they are kept in RevocationsFile.
	Redis *redis.Options
	// RevocationsFile is the file that keeps revocations across restarts
	// when Redis is nil: SESSION_REVOCATIONS_FILE, by default
	// revocations.db in the working directory.
	RevocationsFile string

	// now is the sessions' clock; nil means time.Now. Tests set it.
	now func() time.Time
	// revocations is where revoked sessions are kept, opened by run from
	// Redis or RevocationsFile; nil means the library's default, in this
	// process only (tests use it).
	revocations cookiesession.RevocationStore

	// secure is SESSION_SECURE, nil when unset; loopback reports that
	// Addr names only this machine. settle decides Insecure from them.
	secure   *bool
	loopback bool
}

// settle decides whether the cookie goes without Secure: when
// SESSION_SECURE=false says so, and by default only in development, that
// is with a throw-away key (ephemeral) on an address no one else can
// reach. Development over plain http needs it (Safari keeps no Secure
// cookie from http://localhost); a server given real keys is taken to sit
// behind TLS, a proxy on this machine that forwards to a loopback address
// included, and keeps Secure.
func (c *config) settle(ephemeral bool) {
	if c.secure != nil {
		c.Insecure = !*c.secure
		return
	}
	c.Insecure = ephemeral && c.loopback
}

// loadConfig reads ADDR, SESSION_MAX_AGE, SESSION_IDLE_TIMEOUT,
// SESSION_SECURE, REDIS_URL and SESSION_REVOCATIONS_FILE through getenv. Each error names the variable at fault. SESSION_KEYS is read
// separately, by loadKeys, because its absence is not an error.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{Addr: defaultAddr, MaxAge: cookiesession.DefaultMaxAge, RevocationsFile: defaultRevocationsFile}
	if v := strings.TrimSpace(getenv(envAddr)); v != "" {
		cfg.Addr = v
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return config{}, fmt.Errorf("%s=%q: %v; use host:port, such as %s or 127.0.0.1:0", envAddr, cfg.Addr, err, defaultAddr)
	}
	cfg.loopback = loopbackHost(host)
	if err := cfg.loadRevocations(getenv); err != nil {
		return config{}, err
	}
	if v := strings.TrimSpace(getenv(envSecure)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return config{}, fmt.Errorf("%s=%q: want true or false, or leave it unset for the default", envSecure, v)
		}
		cfg.secure = &b
	}

	if err := cfg.loadDurations(getenv); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// loadDurations reads SESSION_MAX_AGE and SESSION_IDLE_TIMEOUT, checked as
// New checks WithMaxAge and WithIdleTimeout, so that the error names the
// variable.
func (cfg *config) loadDurations(getenv func(string) string) error {
	if v := strings.TrimSpace(getenv(envMaxAge)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("%s=%q: want a positive Go duration, such as 24h or 90m", envMaxAge, v)
		}
		cfg.MaxAge = d
	}
	if v := strings.TrimSpace(getenv(envIdleTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d > 0 && d < minIdleTimeout) {
			return fmt.Errorf("%s=%q: want a Go duration of at least %v, such as 30m, or 0 for none",
				envIdleTimeout, v, minIdleTimeout)
		}
		cfg.IdleTimeout = d
	}
	if cfg.IdleTimeout > cfg.MaxAge {
		return fmt.Errorf("%s=%v is longer than the session lifetime, %s=%v, which ends sessions first: shorten it, or set %s longer",
			envIdleTimeout, cfg.IdleTimeout, envMaxAge, cfg.MaxAge, envMaxAge)
	}
	return nil
}

// loadRevocations reads REDIS_URL and SESSION_REVOCATIONS_FILE, which say
// where revocations are kept.
func (c *config) loadRevocations(getenv func(string) string) error {
	if v := strings.TrimSpace(getenv(envRedisURL)); v != "" {
		opts, err := redis.ParseURL(v)
		if err != nil {
			// The URL may hold a password: say what is wrong, not what it is.
			return fmt.Errorf("%s=(not shown, it may hold a password): not a Redis URL (%v); want one like redis://127.0.0.1:6379/0",
				envRedisURL, redactURL(err, v))
		}
		c.Redis = opts
	}
	if v := strings.TrimSpace(getenv(envRevocationsFile)); v != "" {
		c.RevocationsFile = v
	}
	return nil
}

// redactURL is err's message without the URL it may quote.
func redactURL(err error, url string) string {
	return strings.ReplaceAll(err.Error(), url, "<REDIS_URL>")
}

// loopbackHost reports whether host names only this machine, so that
// nothing but a local browser can reach a server listening there.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loadKeys returns the Keyring SESSION_KEYS holds. When it is unset it
// returns a throw-away key, and ephemeral is true: sessions then end when
// the process does, and are not shared between instances.
//
// As for cookiesession.KeyringFromEnv, only a missing value means no keys.
// A value of blanks only is a list of no keys, refused like any other bad
// one: it is a slip (a template or a quote gone wrong), and taken for unset
// it would run a server on a throw-away key that signs everyone out at
// each restart. The empty value is the exception: SESSION_KEYS= counts as
// unset, as it does for every variable the app reads (getenv cannot tell
// the two apart anyway), so that SESSION_KEYS= go run ./example gives the
// development default whatever the shell exports.
func loadKeys(getenv func(string) string) (keys *cookiesession.Keyring, ephemeral bool, err error) {
	v := getenv(envKeys)
	if v == "" {
		keys, err = cookiesession.NewKeyring(cookiesession.GenerateSecret())
		return keys, true, err
	}
	// ParseKeyring rather than KeyringFromEnv: the value comes through
	// getenv, so that tests need not touch the process environment.
	keys, err = cookiesession.ParseKeyring(v)
	if err != nil {
		return nil, false, keysError(err)
	}
	return keys, false, nil
}

// keysError words err, an error of ParseKeyring's, as KeyringFromEnv words
// it for SESSION_KEYS: the variable's name between ErrInvalidKeys and the
// problem, "invalid session keys: SESSION_KEYS: key 2 decodes to 16 bytes;
// ...", so that the app's message is the library's, which the README
// quotes. TestKeysErrorIsTheLibrarys holds the two to the same words.
func keysError(err error) error {
	problem, ok := strings.CutPrefix(err.Error(), cookiesession.ErrInvalidKeys.Error()+": ")
	if !ok {
		return fmt.Errorf("%s: %w", envKeys, err)
	}
	return fmt.Errorf("%w: %s: %s", cookiesession.ErrInvalidKeys, envKeys, problem)
}
