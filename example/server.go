package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/filestore"
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
	closeRevocations, err := openRevocations(ctx, &cfg, getenv, logger)
	if err != nil {
		return err
	}
	// Deferred before the server starts, so run afterwards: the store
	// outlives every request that may revoke.
	defer closeRevocations()
	handler, err := newApp(keys, cfg, logger)
	if err != nil {
		return err
	}
	// The keys' ids (never the keys): what an operator compares across
	// instances, step by step, in a rotation.
	logger.Info("sessions", append(sessionSettings(cfg), "keys", keys.String())...)

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

// openRevocations opens where revocations are kept, into cfg.revocations:
// Redis, shared by every instance, when REDIS_URL is set; otherwise
// RevocationsFile, so that a sign-out holds on this instance across
// restarts. It returns the function that closes the store, which logs
// what it cannot close.
func openRevocations(ctx context.Context, cfg *config, getenv func(string) string, logger *slog.Logger) (func(), error) {
	if cfg.Redis != nil {
		client := redis.NewClient(cfg.Redis)
		store, err := redisstore.New(ctx, client, redisstore.WithLogger(logger))
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("%s: %w", envRedisURL, err)
		}
		cfg.revocations = store
		logger.Info("revocations are shared through Redis: a sign-out holds on every instance using it; "+
			"/healthz answers 503 until they are loaded", "redis", cfg.Redis.Addr, "db", cfg.Redis.DB)
		if getenv(envRevocationsFile) != "" {
			logger.Warn(envRevocationsFile + " is not used: with REDIS_URL set, revocations are kept in Redis")
		}
		return func() {
			if err := store.Close(); err != nil {
				logger.Warn("closing the Redis revocation store", "error", err)
			}
			_ = client.Close()
		}, nil
	}
	path := cfg.RevocationsFile
	if abs, err := filepath.Abs(path); err == nil {
		path = abs // the log says where, whatever the working directory was
	}
	store, err := filestore.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envRevocationsFile, err)
	}
	cfg.revocations = store
	logger.Info("revocations are kept in a file: a sign-out holds on this instance, across restarts; "+
		"set REDIS_URL to share them between instances, or "+envRevocationsFile+" to choose the file",
		"file", path, "revoked", store.Len())
	return func() {
		if err := store.Close(); err != nil {
			logger.Error("closing the revocation file: a sign-out made just before may not hold after a restart",
				"file", path, "error", err)
		}
	}, nil
}

// sessionSettings are the session settings in force, as attributes for the
// start-up log, so that an operator can check them there rather than in a
// Set-Cookie line: name=__Host-session max_age=24h0m0s idle_timeout=none
// secure=true. Durations are strings, which every slog handler shows alike.
func sessionSettings(cfg config) []any {
	idle := "none"
	if cfg.IdleTimeout > 0 {
		idle = cfg.IdleTimeout.String()
	}
	// newApp keeps the default name, which the prefix __Host- needs
	// Secure for.
	name := cookiesession.DefaultName
	if cfg.Insecure {
		name = cookiesession.FallbackName
	}
	return []any{
		"name", name,
		"max_age", cfg.MaxAge.String(),
		"idle_timeout", idle,
		"secure", !cfg.Insecure,
	}
}
