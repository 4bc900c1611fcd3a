package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ce967478/cookiesession"
)

// env returns a getenv that reads from vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		vars    map[string]string
		want    config
		wantErr string // the variable the error must name
	}{
		{name: "defaults", vars: nil,
			want: config{Addr: "127.0.0.1:8080", MaxAge: 24 * time.Hour, loopback: true}},
		{name: "durations", vars: map[string]string{"SESSION_MAX_AGE": "90m", "SESSION_IDLE_TIMEOUT": "15m"},
			want: config{Addr: "127.0.0.1:8080", MaxAge: 90 * time.Minute, IdleTimeout: 15 * time.Minute, loopback: true}},
		{name: "idle zero", vars: map[string]string{"SESSION_IDLE_TIMEOUT": "0"},
			want: config{Addr: "127.0.0.1:8080", MaxAge: 24 * time.Hour, loopback: true}},
		// The bounds are the library's: both ends are accepted.
		{name: "idle at the library's minimum", vars: map[string]string{"SESSION_IDLE_TIMEOUT": minIdleTimeout.String()},
			want: config{Addr: "127.0.0.1:8080", MaxAge: 24 * time.Hour, IdleTimeout: minIdleTimeout, loopback: true}},
		{name: "idle as long as the lifetime", vars: map[string]string{"SESSION_MAX_AGE": "1h", "SESSION_IDLE_TIMEOUT": "1h"},
			want: config{Addr: "127.0.0.1:8080", MaxAge: time.Hour, IdleTimeout: time.Hour, loopback: true}},
		// Blanks around a value, as a .env file or a YAML block leaves
		// them, are not part of it.
		{name: "blanks around", vars: map[string]string{"ADDR": " 127.0.0.1:9000\n", "SESSION_MAX_AGE": " 2h ", "SESSION_IDLE_TIMEOUT": "\t30m"},
			want: config{Addr: "127.0.0.1:9000", MaxAge: 2 * time.Hour, IdleTimeout: 30 * time.Minute, loopback: true}},

		// Only addresses no one else can reach count as loopback.
		{name: "port 0", vars: map[string]string{"ADDR": "127.0.0.1:0"},
			want: config{Addr: "127.0.0.1:0", MaxAge: 24 * time.Hour, loopback: true}},
		{name: "127/8", vars: map[string]string{"ADDR": "127.1.2.3:80"},
			want: config{Addr: "127.1.2.3:80", MaxAge: 24 * time.Hour, loopback: true}},
		{name: "localhost", vars: map[string]string{"ADDR": "LocalHost:8080"},
			want: config{Addr: "LocalHost:8080", MaxAge: 24 * time.Hour, loopback: true}},
		{name: "IPv6 loopback", vars: map[string]string{"ADDR": "[::1]:8080"},
			want: config{Addr: "[::1]:8080", MaxAge: 24 * time.Hour, loopback: true}},
		{name: "all interfaces", vars: map[string]string{"ADDR": ":8080"},
			want: config{Addr: ":8080", MaxAge: 24 * time.Hour}},
		{name: "unspecified", vars: map[string]string{"ADDR": "0.0.0.0:8080"},
			want: config{Addr: "0.0.0.0:8080", MaxAge: 24 * time.Hour}},
		{name: "host name", vars: map[string]string{"ADDR": "example.com:443"},
			want: config{Addr: "example.com:443", MaxAge: 24 * time.Hour}},
		{name: "public IP", vars: map[string]string{"ADDR": "192.0.2.1:80"},
			want: config{Addr: "192.0.2.1:80", MaxAge: 24 * time.Hour}},

		{name: "bad ADDR", vars: map[string]string{"ADDR": "8080"}, wantErr: "ADDR"},
		{name: "bad max age", vars: map[string]string{"SESSION_MAX_AGE": "a day"}, wantErr: "SESSION_MAX_AGE"},
		{name: "max age without unit", vars: map[string]string{"SESSION_MAX_AGE": "3600"}, wantErr: "SESSION_MAX_AGE"},
		{name: "zero max age", vars: map[string]string{"SESSION_MAX_AGE": "0s"}, wantErr: "SESSION_MAX_AGE"},
		{name: "negative max age", vars: map[string]string{"SESSION_MAX_AGE": "-1h"}, wantErr: "SESSION_MAX_AGE"},
		{name: "bad idle", vars: map[string]string{"SESSION_IDLE_TIMEOUT": "soon"}, wantErr: "SESSION_IDLE_TIMEOUT"},
		{name: "negative idle", vars: map[string]string{"SESSION_IDLE_TIMEOUT": "-5m"}, wantErr: "SESSION_IDLE_TIMEOUT"},
		{name: "idle too short", vars: map[string]string{"SESSION_IDLE_TIMEOUT": "1s"}, wantErr: "SESSION_IDLE_TIMEOUT"},
		{name: "idle past the lifetime", vars: map[string]string{"SESSION_MAX_AGE": "1h", "SESSION_IDLE_TIMEOUT": "2h"}, wantErr: "SESSION_IDLE_TIMEOUT"},
		{name: "idle past the default lifetime", vars: map[string]string{"SESSION_IDLE_TIMEOUT": "48h"}, wantErr: "SESSION_IDLE_TIMEOUT"},
		{name: "bad secure", vars: map[string]string{"SESSION_SECURE": "sometimes"}, wantErr: "SESSION_SECURE"},
		{name: "revocations file", vars: map[string]string{"SESSION_REVOCATIONS_FILE": " /var/lib/example/revoked.db "},
			want: config{Addr: "127.0.0.1:8080", MaxAge: 24 * time.Hour, loopback: true, RevocationsFile: "/var/lib/example/revoked.db"}},

		{name: "bad Redis URL", vars: map[string]string{"REDIS_URL": "http://127.0.0.1:6379"}, wantErr: "REDIS_URL"},
		{name: "bad Redis URL with a password", vars: map[string]string{"REDIS_URL": "redis://:hunter2@127.0.0.1:port/0"}, wantErr: "REDIS_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := loadConfig(env(tt.vars))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr+"=") {
					t.Fatalf("error %v; want one starting with %s=", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("the error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.RevocationsFile == "" {
				tt.want.RevocationsFile = "revocations.db" // in the working directory
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The cookie drops Secure when SESSION_SECURE=false says so, and by
// default only in development: a throw-away key on a loopback address. A
// server with real keys on a loopback address is likely behind a TLS
// proxy, and keeps Secure.
func TestSecureCookies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr, secure string
		ephemeral    bool
		wantInsecure bool
	}{
		{"127.0.0.1:8080", "", true, true},   // go run ./example
		{"127.0.0.1:8080", "", false, false}, // behind a proxy on this machine
		{":8080", "", true, false},
		{":8080", "", false, false},
		{"127.0.0.1:8080", "false", false, true},
		{":8080", "0", false, true},
		{"127.0.0.1:8080", "true", true, false},
		{"127.0.0.1:8080", " false\n", false, true}, // blanks around, as in a .env file
	}
	for _, tt := range tests {
		cfg, err := loadConfig(env(map[string]string{"ADDR": tt.addr, "SESSION_SECURE": tt.secure}))
		if err != nil {
			t.Fatal(err)
		}
		cfg.settle(tt.ephemeral)
		if cfg.Insecure != tt.wantInsecure {
			t.Errorf("ADDR=%s SESSION_SECURE=%q, throw-away key %v: Insecure %v, want %v",
				tt.addr, tt.secure, tt.ephemeral, cfg.Insecure, tt.wantInsecure)
		}
	}
}

func TestLoadKeys(t *testing.T) {
	t.Parallel()
	good := testKeys
	tests := []struct {
		name          string
		unset         bool
		value         string
		wantEphemeral bool
		wantKeys      int
		wantErr       string
	}{
		{name: "unset", unset: true, wantEphemeral: true, wantKeys: 1},
		{name: "empty", value: "", wantEphemeral: true, wantKeys: 1}, // as unset
		{name: "one key", value: good, wantKeys: 1},
		{name: "blanks around", value: " " + good + "\t", wantKeys: 1},
		{name: "two keys", value: good + ", " + cookiesession.EncodeSecret(cookiesession.GenerateSecret()), wantKeys: 2},

		// Blanks are a list of no keys, not unset.
		{name: "blank", value: "  ", wantErr: "the list is empty"},
		{name: "tab and newline", value: "\t\n", wantErr: "the list is empty"},
		{name: "not base64", value: "not-base64!", wantErr: "key 1 is not valid base64"},
		{name: "space inside", value: "not base64!", wantErr: "key 1 has a space or line break inside it"},
		{name: "too short", value: "c2hvcnQ", wantErr: "key 1 decodes to 5 bytes"},
		{name: "stray comma", value: good + ",", wantErr: "key 2 is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"SESSION_KEYS": tt.value}
			if tt.unset {
				vars = nil
			}
			keys, ephemeral, err := loadKeys(env(vars))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "invalid session keys: SESSION_KEYS: ") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v; want one naming SESSION_KEYS and saying %q", err, tt.wantErr)
				}
				if strings.TrimSpace(tt.value) != "" && strings.Contains(err.Error(), tt.value) {
					t.Errorf("the error %q repeats the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// A Keyring prints its key ids, comma-separated.
			if n := strings.Count(keys.String(), ",") + 1; ephemeral != tt.wantEphemeral || n != tt.wantKeys {
				t.Errorf("ephemeral %v, %d keys; want %v, %d", ephemeral, n, tt.wantEphemeral, tt.wantKeys)
			}
		})
	}
}

// TestKeysErrorIsTheLibrarys holds the app's SESSION_KEYS errors to the
// words of cookiesession.KeyringFromEnv, which the README quotes. It sets
// the process environment, so it cannot run in parallel.
func TestKeysErrorIsTheLibrarys(t *testing.T) {
	short := "MDEyMzQ1Njc4OWFiY2RlZg" // 16 bytes
	for _, value := range []string{
		" ",
		"\t\n",
		"not base64!",
		"c2hvcnQ",
		testKeys + ",",
		testKeys + "," + short,
		testKeys + ", " + testKeys,
		"-_+/",
	} {
		t.Setenv("SESSION_KEYS", value)
		_, want := cookiesession.KeyringFromEnv("")
		_, _, got := loadKeys(env(map[string]string{"SESSION_KEYS": value}))
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("SESSION_KEYS=%q:\n got %v\nwant %v (KeyringFromEnv's)", value, got, want)
		}
		if !errors.Is(got, cookiesession.ErrInvalidKeys) {
			t.Errorf("SESSION_KEYS=%q: %v is not ErrInvalidKeys", value, got)
		}
	}

	// The README's example.
	const readme = "invalid session keys: SESSION_KEYS: key 2 decodes to 16 bytes; at least 32 are needed; "
	_, _, err := loadKeys(env(map[string]string{"SESSION_KEYS": testKeys + "," + short}))
	if err == nil || !strings.HasPrefix(err.Error(), readme) {
		t.Errorf("error %v; want one starting %q", err, readme)
	}
}

func TestRedisURL(t *testing.T) {
	t.Parallel()
	cfg, err := loadConfig(env(map[string]string{"REDIS_URL": "redis://:pw@127.0.0.1:6390/2"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Redis == nil || cfg.Redis.Addr != "127.0.0.1:6390" || cfg.Redis.DB != 2 || cfg.Redis.Password != "pw" {
		t.Errorf("REDIS_URL read as %+v", cfg.Redis)
	}
}
