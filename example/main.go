// Command example is a small web app that keeps a visitor's name, cart and
// key-value data in an encrypted cookie session, with cookiesession.
//
//	export SESSION_KEYS=$(go run ./cmd/sessionkey)
//	go run ./example
//
// go run ./example/fleet runs three of it on one Redis (see fleet/).
//
// Environment:
//
//	ADDR                  where to listen (default 127.0.0.1:8080)
//	SESSION_KEYS          base64 secrets, newest first, comma-separated
//	                      (unset: a throw-away key, sessions end on restart)
//	SESSION_MAX_AGE       absolute session lifetime, a Go duration (default 24h)
//	SESSION_IDLE_TIMEOUT  end sessions unused this long (default: none)
//	SESSION_SECURE        false drops the cookie's Secure attribute
//	REDIS_URL             share revocations through Redis, such as
//	                      redis://127.0.0.1:6379/0 (default: in a file)
//	SESSION_REVOCATIONS_FILE
//	                      without REDIS_URL, the file that keeps sign-outs
//	                      across restarts (default revocations.db in the
//	                      working directory); one process per file
//
// GET /healthz answers healthy or degraded (200: a degraded instance keeps
// serving) or down (503), and logs the cause when the state changes.
//
// The session cookie is Secure, except in development: with a throw-away
// key on a loopback address, so that the demo works over plain
// http://127.0.0.1 in every browser, or when SESSION_SECURE=false. With
// real keys it stays Secure, even on a loopback address, where a TLS
// proxy on the same machine may be forwarding to it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		stop()
		os.Exit(1)
	}
}
