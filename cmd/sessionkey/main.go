// Command sessionkey makes keys for SESSION_KEYS and opens session cookies
// to show what they hold, or why they do not open.
//
// Usage:
//
//	sessionkey [new]
//	sessionkey open [-name __Host-session] [-max-age 24h] [-idle 0] [-max-size 7168] [-keys-env SESSION_KEYS] [VALUE | -]
//
// sessionkey (or sessionkey new) prints a fresh secret, ready to go first in
// SESSION_KEYS:
//
//	go run github.com/ce967478/cookiesession/cmd/sessionkey
//
// sessionkey open opens a session cookie with the keys in SESSION_KEYS, as
// the application would, and prints its data, flash messages, times, the
// position in SESSION_KEYS of the key that sealed it, and its session id
// and generation, as JSON. It does not check revocation (the output says
// "revocation_checked": false): a session signed out since it was sealed
// opens here all the same. VALUE is a cookie value or a whole
// Cookie header as copied from the browser's developer tools, with or
// without the leading "Cookie: ", so that a session split into chunk cookies
// (session, session.1, ...) opens too; Set-Cookie lines copied from a
// response are accepted as well. Without VALUE, or when it is "-", the
// input is read from standard input. The flags must match the
// application's settings: -name its cookie name (WithName), -max-age its
// lifetime (WithMaxAge), -idle its idle timeout (WithIdleTimeout), -max-size
// its size cap (WithMaxSize); -keys-env names another variable than
// SESSION_KEYS to read the keys from. The lifetime and idle timeout default
// to SESSION_MAX_AGE and SESSION_IDLE_TIMEOUT when they are set, the
// variables the example app reads.
//
//	export SESSION_KEYS=...   # the application's keys
//	sessionkey open 'session=AXq...; theme=dark'
//	pbpaste | sessionkey open -name __Host-sid -idle 30m
//
// A cookie that does not open makes sessionkey open exit with status 1 and
// print the precise reason, such as "session expired: lifetime of 24h0m0s
// ended 3h0m0s ago", with a hint on what to check. Usage errors, including
// missing or invalid keys, exit with status 2.
//
// sessionkey never prints secrets, not even in errors: only key ids, which
// are derived from the keys by a one-way function, and positions.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
