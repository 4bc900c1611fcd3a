package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/redisstore"
	"github.com/redis/go-redis/v9"
)

// shutdownTimeout bounds how long in-flight requests may take to finish
// once a stop signal arrives.
const shutdownTimeout = 10 * time.Second

// run configures the app from getenv, logs to stderr, and serves until ctx
// ends, then shuts down gracefully. Configuration errors are returned
// before anything listens.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	keys, ephemeral, err := loadKeys(getenv)
	if err != nil {
		return err
	}
	if ephemeral {
		logger.Warn("SESSION_KEYS is not set: using a throw-away key, so sessions end when the server stops; "+
			"set it with: export SESSION_KEYS=$(go run ./cmd/sessionkey)",
			"keys", keys.String())
	}
	cfg.settle(ephemeral)
	switch {
	case cfg.Insecure && cfg.secure == nil:
		logger.Info("development: a throw-away key on a loopback address, so session cookies are sent without "+
			"the Secure attribute and plain http works in every browser; with SESSION_KEYS set they are Secure",
			"addr", cfg.Addr)
	case cfg.Insecure:
		logger.Warn("SESSION_SECURE=false: session cookies are sent without the Secure attribute; "+
			"use it only for development over plain http", "addr", cfg.Addr)
	default:
		logger.Info("session cookies are Secure: browsers keep them only over https (Chrome and Firefox also over "+
			"http://localhost), so serve this behind TLS, or set SESSION_SECURE=false for development over plain http",
			"addr", cfg.Addr)
	}
	if cfg.Redis != nil {
		client := redis.NewClient(cfg.Redis)
		defer client.Close()
		store, err := redisstore.New(ctx, client, redisstore.Options{Logger: logger})
		if err != nil {
			return fmt.Errorf("%s: %w", envRedisURL, err)
		}
		defer store.Close()
		cfg.revocations = store
		logger.Info("revocations are shared through Redis: a sign-out holds on every instance using it; "+
			"/healthz answers 503 until they are loaded", "redis", cfg.Redis.Addr, "db", cfg.Redis.DB)
	} else {
		logger.Info("revocations are kept in this process: a sign-out holds on this instance only, until it stops; " +
			"set REDIS_URL to share them between instances")
	}
	handler, err := newApp(keys, cfg, logger)
	if err != nil {
		return err
	}
	logger.Info("sessions", sessionSettings(cfg)...)

	// Listen before logging, so that the log shows the port chosen for
	// ADDR=127.0.0.1:0.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("%s: %w", envAddr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String())

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err // Serve never returns nil
	case <-ctx.Done():
	}

	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// sessionSettings are the session settings in force, as attributes for the
// start-up log, so that an operator can check them there rather than in a
// Set-Cookie line: name=session max_age=24h0m0s idle_timeout=none
// secure=true. Durations are strings, which every slog handler shows alike.
func sessionSettings(cfg config) []any {
	idle := "none"
	if cfg.IdleTimeout > 0 {
		idle = cfg.IdleTimeout.String()
	}
	return []any{
		"name", cookiesession.DefaultName, // newApp keeps the default
		"max_age", cfg.MaxAge.String(),
		"idle_timeout", idle,
		"secure", !cfg.Insecure,
	}
}
