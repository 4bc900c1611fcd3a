package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ce967478/cookiesession"
)

// Exit statuses.
const (
	exitOK       = 0
	exitNotOpen  = 1 // the input holds no session that opens
	exitUsage    = 2 // bad arguments, or no usable keys
	maxInputSize = 1 << 20
)

const usageText = `sessionkey makes keys for SESSION_KEYS and opens session cookies.

Usage:
  sessionkey [new]
      Print a fresh secret, ready to go first in SESSION_KEYS.

  sessionkey open [flags] [VALUE | -]
      Open a session cookie with the keys in SESSION_KEYS and print its
      data, flash messages, times, which key sealed it and its session id,
      as JSON. Revocation is not checked: a session signed out since opens
      here too. VALUE is a cookie value
      or a whole Cookie header copied from the browser's developer tools
      (with or without "Cookie: "); chunked sessions (session, session.1, ...)
      need the whole header. Without VALUE, or with "-", standard input is
      read. A cookie that does not open exits with status 1 and the reason.

Flags of open (match the application's settings):
  -name string       cookie name, as WithName (default "__Host-session", then
                     "session"; a bare value is tried under both)
  -max-age duration  absolute lifetime, as WithMaxAge (default $SESSION_MAX_AGE, else 24h0m0s)
  -idle duration     idle timeout, as WithIdleTimeout; 0 means none (default $SESSION_IDLE_TIMEOUT, else 0)
  -max-size int      size cap in bytes, as WithMaxSize (default 7168)
  -keys-env string   environment variable holding the keys (default "SESSION_KEYS")

Examples:
  # Make the first key.
  export SESSION_KEYS="$(sessionkey)"

  # Rotate a fleet in three deploys, so that no one is signed out:
  OLD="$SESSION_KEYS"
  NEW="$(sessionkey)"
  SESSION_KEYS="$OLD,$NEW"   # 1. every instance accepts the new key
  SESSION_KEYS="$NEW,$OLD"   # 2. the new key seals
  SESSION_KEYS="$NEW"        # 3. after the longest session lifetime

  # Open a cookie value.
  sessionkey open AXq3...

  # Open a whole Cookie header, pasted from the browser.
  sessionkey open 'Cookie: theme=dark; session=2.AXq3...; session.1=Jk9...'

  # Read it from standard input, with the application's settings.
  pbpaste | sessionkey open -name __Host-sid -max-age 12h -idle 30m

Exit status: 0 opened (or key printed), 1 the cookie does not open or is
absent, 2 usage error or missing keys. Secrets are never printed.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		return cmdNew(nil, stdout, stderr)
	}
	switch args[0] {
	case "new":
		return cmdNew(args[1:], stdout, stderr)
	case "open":
		return cmdOpen(args[1:], stdin, stdout, stderr, getenv)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		return usageError(stderr, "unknown command %q", args[0])
	}
}

func usageError(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "sessionkey: "+format+"\n\n", a...)
	fmt.Fprint(stderr, usageText)
	return exitUsage
}

func cmdNew(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if isHelp(args[0]) {
			fmt.Fprint(stdout, usageText)
			return exitOK
		}
		return usageError(stderr, "new takes no arguments")
	}
	fmt.Fprintln(stdout, cookiesession.EncodeSecret(cookiesession.GenerateSecret()))
	return exitOK
}

func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// openOutput is what open prints for a session that opened.
type openOutput struct {
	Data          json.RawMessage `json:"data"`
	Flashes       []string        `json:"flashes"`
	CreatedAt     string          `json:"created_at"`
	IssuedAt      string          `json:"issued_at"`
	ExpiresAt     string          `json:"expires_at"`
	IdleExpiresAt string          `json:"idle_expires_at,omitempty"`
	// KeyPosition is the position in the key list of the key that sealed
	// the cookie, from 1, the newest, which seals.
	KeyPosition int  `json:"key_position"`
	NewestKey   bool `json:"newest_key"`
	// SessionID and Generation are what a revocation of the session goes
	// by (with the subject its data names); RevocationChecked is always
	// false: sessionkey reads no revocation store, so a session signed
	// out since it was sealed opens here all the same.
	SessionID         string `json:"session_id"`
	Generation        uint64 `json:"generation"`
	RevocationChecked bool   `json:"revocation_checked"`
}

func cmdOpen(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	f, positional, code := parseOpenFlags(args, stdout, stderr, getenv)
	if code >= 0 {
		return code
	}
	// Keys first: without them nothing can be opened, whatever the input.
	keys, err := keyring(f.keysEnv, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "sessionkey: %v\n", err)
		return exitUsage
	}
	names, code := cookieNamesFor(f, keys, stderr)
	if code >= 0 {
		return code
	}
	input, code := readOpenInput(positional, stdin, stderr)
	if code >= 0 {
		return code
	}
	lines := cookieLines(input, names[len(names)-1])
	if len(lines) == 0 {
		fmt.Fprintln(stderr, "sessionkey: the input is empty; give a cookie value or a Cookie header")
		return exitNotOpen
	}

	limits := cookiesession.Limits{MaxAge: f.maxAge, IdleTimeout: f.idle, MaxSize: f.maxSize}
	c, key, err := openInput(keys, names, input, limits)
	if err == nil && !json.Valid(c.Data) {
		err = fmt.Errorf("%w: the data does not decode as JSON", cookiesession.ErrMalformed)
	}
	switch {
	case errors.Is(err, http.ErrNoCookie):
		msg := fmt.Sprintf("no cookie named %q in the input", names[0])
		if found := cookieNames(lines); len(found) > 0 {
			msg += fmt.Sprintf(" (found %s; pick one with -name)", strings.Join(found, ", "))
		}
		fmt.Fprintf(stderr, "sessionkey: %s\n", msg)
		return exitNotOpen
	case err != nil:
		fmt.Fprintf(stderr, "sessionkey: %v (%s)\n", err, hint(err, f.keysEnv, keys))
		return exitNotOpen
	}

	lifetime := f.maxAge
	if c.Lifetime > 0 && c.Lifetime < lifetime {
		lifetime = c.Lifetime // sealed under a shorter lifetime, which holds
	}
	out := openOutput{
		Data:        json.RawMessage(c.Data),
		Flashes:     c.Flashes,
		CreatedAt:   formatTime(c.Created),
		IssuedAt:    formatTime(c.Issued),
		ExpiresAt:   formatTime(c.Created.Add(lifetime)),
		KeyPosition: key + 1,
		NewestKey:   key == 0,
		SessionID:   c.ID.String(),
		Generation:  c.Generation,
	}
	if out.Flashes == nil {
		out.Flashes = []string{}
	}
	if f.idle > 0 {
		out.IdleExpiresAt = formatTime(c.Issued.Add(f.idle))
	}
	return writeOpenOutput(out, stdout, stderr)
}

// openInput opens the session that input carries under the first of names
// that comes, as the Manager reads DefaultName before FallbackName. A bare
// value comes under every name, and the name is sealed with it: one that
// fails authentication under a name is tried under the next, so that a
// value copied from __Host-session, the default, opens without -name.
func openInput(keys *cookiesession.Keyring, names []string, input string, l cookiesession.Limits) (cookiesession.Contents, int, error) {
	bare := isBare(input)
	c, key, err := cookiesession.Contents{}, 0, error(http.ErrNoCookie)
	for _, name := range names {
		c, key, err = keys.Open(name, parseCookies(cookieLines(input, name)), time.Now(), l)
		if !errors.Is(err, http.ErrNoCookie) && !(bare && errors.Is(err, cookiesession.ErrAuthentication)) {
			break
		}
	}
	return c, key, err
}

// cookieNamesFor returns the cookie names to look for, in order, the one
// a bare value is reported under last, after checking the flags as New
// checks the options they stand for. code is -1 to go on, else the exit
// status.
func cookieNamesFor(f openFlags, keys *cookiesession.Keyring, stderr io.Writer) (names []string, code int) {
	opts := []cookiesession.Option{
		cookiesession.WithMaxAge(f.maxAge),
		cookiesession.WithIdleTimeout(f.idle),
		cookiesession.WithMaxSize(f.maxSize),
	}
	// Without -name, the default names: DefaultName, and FallbackName
	// (which the Manager reads too).
	names = []string{cookiesession.DefaultName, cookiesession.FallbackName}
	if f.name != "" {
		opts = append(opts, cookiesession.WithName(f.name))
		names = []string{f.name}
	}
	if _, err := cookiesession.New[json.RawMessage](keys, opts...); err != nil {
		return nil, usageError(stderr, "open: %v", strings.TrimPrefix(err.Error(), "cookiesession: "))
	}
	return names, -1
}

// parseCookies reads the cookies of Cookie header lines, skipping the
// pairs that are not cookies, as net/http does for a request.
func parseCookies(lines []string) []*http.Cookie {
	var cookies []*http.Cookie
	for _, line := range lines {
		for _, pair := range strings.Split(line, ";") {
			if cs, err := http.ParseCookie(strings.TrimSpace(pair)); err == nil {
				cookies = append(cookies, cs...)
			}
		}
	}
	return cookies
}

// openFlags are the flags of open.
type openFlags struct {
	name         string
	maxAge, idle time.Duration
	maxSize      int
	keysEnv      string
}

// parseOpenFlags parses open's arguments, flags before or after the value
// ("open VALUE -name sid"). code is -1 to go on, else the exit status.
func parseOpenFlags(args []string, stdout, stderr io.Writer, getenv func(string) string) (f openFlags, positional []string, code int) {
	fs := flag.NewFlagSet("sessionkey open", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, with the usage
	defMaxAge, defIdle, envErrs := envDurations(getenv)
	fs.StringVar(&f.name, "name", "", "")
	fs.DurationVar(&f.maxAge, "max-age", defMaxAge, "")
	fs.DurationVar(&f.idle, "idle", defIdle, "")
	fs.IntVar(&f.maxSize, "max-size", cookiesession.DefaultMaxSize, "")
	fs.StringVar(&f.keysEnv, "keys-env", cookiesession.DefaultKeysVariable, "")
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usageText)
				return f, nil, exitOK
			}
			return f, nil, usageError(stderr, "open: %v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if err := unsetFlagError(fs, envErrs); err != nil {
		return f, nil, usageError(stderr, "open: %v", err)
	}
	switch {
	case len(positional) > 1:
		return f, nil, usageError(stderr, "open takes one VALUE (quote a Cookie header: it contains spaces and semicolons), got %d arguments", len(positional))
	case f.keysEnv == "":
		return f, nil, usageError(stderr, "open: -keys-env must name an environment variable")
	}
	return f, positional, -1
}

// readOpenInput returns the cookie to open: the argument, or standard
// input without one or for "-". code is -1 to go on, else the exit status.
func readOpenInput(positional []string, stdin io.Reader, stderr io.Writer) (input string, code int) {
	if len(positional) > 0 && positional[0] != "-" {
		return positional[0], -1
	}
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			fmt.Fprintln(stderr, "sessionkey: reading the cookie from standard input; end with Ctrl-D")
		}
	}
	b, err := io.ReadAll(io.LimitReader(stdin, maxInputSize+1))
	if err != nil {
		fmt.Fprintf(stderr, "sessionkey: reading standard input: %v\n", err)
		return "", exitUsage
	}
	if len(b) > maxInputSize {
		fmt.Fprintf(stderr, "sessionkey: standard input is longer than %d bytes; no Cookie header is that long\n", maxInputSize)
		return "", exitUsage
	}
	return string(b), -1
}

// writeOpenOutput prints out as indented JSON.
func writeOpenOutput(out openOutput, stdout, stderr io.Writer) int {
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		fmt.Fprintf(stderr, "sessionkey: encoding the output: %v\n", err)
		return exitNotOpen
	}
	b = append(b, '\n')
	if _, err := stdout.Write(b); err != nil {
		fmt.Fprintf(stderr, "sessionkey: %v\n", err)
		return exitNotOpen
	}
	return exitOK
}

// envDurations returns the defaults of -max-age and -idle: SESSION_MAX_AGE
// and SESSION_IDLE_TIMEOUT, which the example app reads, so that open
// judges a cookie as the app does without repeating its settings; else
// the library's. A variable that is not a duration leaves the library's
// default, and its error, keyed by the flag that stands for it, matters
// only if that flag is not given.
func envDurations(getenv func(string) string) (maxAge, idle time.Duration, errs map[string]error) {
	maxAge = cookiesession.DefaultMaxAge
	errs = map[string]error{}
	for _, v := range []struct {
		name, flag string
		to         *time.Duration
	}{{"SESSION_MAX_AGE", "max-age", &maxAge}, {"SESSION_IDLE_TIMEOUT", "idle", &idle}} {
		if s := strings.TrimSpace(getenv(v.name)); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				errs[v.flag] = fmt.Errorf("%s=%q: want a Go duration, such as 24h or 30m, or give -%s", v.name, s, v.flag)
				continue
			}
			*v.to = d
		}
	}
	return maxAge, idle, errs
}

// unsetFlagError returns the first, in the order of the flags, of errs
// whose flag fs was not given.
func unsetFlagError(fs *flag.FlagSet, errs map[string]error) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var first error
	fs.VisitAll(func(f *flag.Flag) {
		if err := errs[f.Name]; err != nil && !set[f.Name] && first == nil {
			first = err
		}
	})
	return first
}

// keyring parses the key list in the variable name, as KeyringFromEnv would,
// but through getenv so that tests need not touch the process environment.
func keyring(name string, getenv func(string) string) (*cookiesession.Keyring, error) {
	v := getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("%s is not set, or blank: set it to the application's keys (base64, comma-separated, newest first), or name another variable with -keys-env", name)
	}
	keys, err := cookiesession.ParseKeyring(v)
	if err != nil {
		// Its messages name the key's position, never its material.
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return keys, nil
}

// cookieLines turns the input into Cookie header lines. The input may be a
// bare cookie value (which becomes name=value), a Cookie header with or
// without "Cookie:", several such lines, or Set-Cookie lines copied from a
// response, whose attributes are dropped. When the input holds header lines
// of several kinds (a whole request pasted), only Cookie and Set-Cookie ones
// are kept.
func cookieLines(input, name string) []string {
	input = strings.TrimSpace(input)
	if input == "" {
		return nil
	}
	if isBare(input) {
		return []string{name + "=" + input}
	}
	var raw, labelled []string
	sc := bufio.NewScanner(strings.NewReader(input))
	sc.Buffer(make([]byte, 0, 64<<10), maxInputSize+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if v, ok := cutPrefixFold(line, "set-cookie:"); ok {
			// name=value; Path=/; ... : only the first pair is a cookie.
			v, _, _ = strings.Cut(v, ";")
			labelled = append(labelled, strings.TrimSpace(v))
			continue
		}
		if v, ok := cutPrefixFold(line, "cookie:"); ok {
			labelled = append(labelled, strings.TrimSpace(v))
			continue
		}
		raw = append(raw, line)
	}
	if len(labelled) > 0 {
		return labelled
	}
	return raw
}

// isBare reports whether input is a cookie's value alone, without a name:
// sealed values and chunk headers hold no ';', and no '=' but the base64
// padding that ends a value in the securecookie format.
func isBare(input string) bool {
	input = strings.TrimSpace(input)
	v := strings.TrimSuffix(strings.TrimSuffix(input, "="), "=")
	return input != "" && !strings.ContainsAny(v, "=;\r\n")
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// cookieNames lists the names of the cookies in the lines, for a hint.
// Values are never shown.
func cookieNames(lines []string) []string {
	var names []string
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			n, _, ok := strings.Cut(strings.TrimSpace(part), "=")
			n = strings.TrimSpace(n)
			if !ok || n == "" || slices.Contains(names, n) {
				continue
			}
			names = append(names, n)
		}
	}
	const maxNames = 10
	if len(names) > maxNames {
		names = append(names[:maxNames], "...")
	}
	return names
}

// hint says what to check for an error from Session.Err.
func hint(err error, keysEnv string, keys *cookiesession.Keyring) string {
	switch {
	case errors.Is(err, cookiesession.ErrUnknownKey):
		return fmt.Sprintf("the key that sealed it is not in %s: retired, or the throw-away key of an app started "+
			"without %s, which changes on every start; %s holds %s", keysEnv, keysEnv, keysEnv, keys)
	case errors.Is(err, cookiesession.ErrAuthentication):
		return "altered, or sealed for another cookie name (-name)"
	case errors.Is(err, cookiesession.ErrExpired):
		return "try -max-age/-idle matching the app, and check this machine's clock"
	case errors.Is(err, cookiesession.ErrTooLarge):
		return "larger than the app accepts; if it sets WithMaxSize, pass the same with -max-size"
	case errors.Is(err, cookiesession.ErrMalformed) && strings.Contains(err.Error(), "does not decode"):
		// The value opened, but its data is not JSON.
		return "it opened, but its data is not JSON: this tool reads only apps that keep the default JSONSerializer"
	case errors.Is(err, cookiesession.ErrMalformed):
		return "not a value this library wrote, cut short, or missing chunk cookies: paste the whole Cookie header"
	}
	return "the app would start a fresh session"
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
