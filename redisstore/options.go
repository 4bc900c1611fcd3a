package redisstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultPrefix starts the names of the store's Redis keys without
// WithPrefix, or with WithPrefix("").
const DefaultPrefix = "cookiesession:revocations"

// Option configures a Store. Options are checked once, by New.
type Option func(*config)

type config struct {
	prefix          string
	failClosedAfter time.Duration
	revokeTimeout   time.Duration
	pingInterval    time.Duration
	logger          *slog.Logger
	now             func() time.Time
}

// defaultConfig holds the default of every option. An option given its
// zero value gets the default too: see check.
func defaultConfig() config {
	return config{
		prefix:          DefaultPrefix,
		failClosedAfter: 0, // fail open
		revokeTimeout:   2 * time.Second,
		pingInterval:    5 * time.Second,
		logger:          slog.Default(),
		now:             time.Now,
	}
}

// WithPrefix sets what starts the names of the store's Redis keys: the hash
// <prefix>:revocations, the lock <prefix>:sweep, and the channel
// <prefix>:events:<db>, db being the client's database number, since
// channels are shared by every database of a server. The instances of one
// application share a prefix; applications whose sessions are separate,
// and two deployments of one application (staging beside production), use
// different ones or different databases: with the same, a user signed out
// everywhere on one is signed out on the other. The default, which ""
// also gives, is DefaultPrefix.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithFailClosedAfter, if d is positive, makes Check refuse every session
// that has a subject, with an error wrapping
// cookiesession.ErrRevocationsUnavailable and ErrStale, once the last good
// contact with Redis (a PING answered on the subscription and the epoch
// read, both) is older than d, and before the first load. The Manager then
// serves such a request as anonymous but keeps its cookie, so the user is
// signed in again once Redis answers. The ping interval (WithPingInterval)
// is lowered to a third of d if it is longer, so that a store in good
// health never reaches it.
//
// 0, the default, is fail-open: the store keeps enforcing every revocation
// it holds, and those made on this instance meanwhile; a cookie revoked on
// another instance during the outage opens here until Redis answers again.
// Health reports Degraded. d must not be negative.
func WithFailClosedAfter(d time.Duration) Option {
	return func(c *config) { c.failClosedAfter = d }
}

// WithRevokeTimeout bounds how long Revoke waits for Redis. The default,
// which 0 also gives, is 2 seconds; d must not be negative. Give the client
// ContextTimeoutEnabled too, so that a call Revoke stopped waiting for also
// stops using its connection.
func WithRevokeTimeout(d time.Duration) Option {
	return func(c *config) { c.revokeTimeout = d }
}

// WithPingInterval sets how often the store checks Redis, whatever the
// traffic: a PING on the subscription and a read of the epoch on a pooled
// connection. Without both answers within it, the store connects again; a
// lost or flushed set is found within it. The default, which 0 also gives,
// is 5 seconds; d must not be negative. With WithFailClosedAfter set, the
// interval, given or the default, is lowered to a third of that bound if
// it is longer. Use the same value on every instance: a store that loads a
// set just lost waits twice this for the others to write it back.
func WithPingInterval(d time.Duration) Option {
	return func(c *config) { c.pingInterval = d }
}

// WithLogger sets where the store's few lines go: Redis lost and regained,
// revocations lost in Redis and written back, writes that failed. It never
// logs subjects or ids. The default, which nil also gives, is
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the store's clock, for tests. The default, which nil also
// gives, is time.Now. Give the store the clock given to
// cookiesession.WithClock: Check measures Redis's silence against the time
// the Manager passes it. The store's clock only says when entries may be
// forgotten and how long Redis has been silent: no refusal compares it
// with another machine's.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// newConfig applies options to the defaults, and checks the result.
func newConfig(options []Option) (config, error) {
	c := defaultConfig()
	for _, o := range options {
		if o == nil {
			return config{}, errors.New("New was given a nil Option")
		}
		o(&c)
	}
	if err := c.check(); err != nil {
		return config{}, err
	}
	return c, nil
}

// check refuses options that cannot work, with a message that names the
// option, then gives the zero values their defaults and derives the ping
// interval.
func (c *config) check() error {
	switch {
	case c.failClosedAfter < 0:
		return fmt.Errorf("WithFailClosedAfter(%s): it must be 0 (fail open) or positive", c.failClosedAfter)
	case c.revokeTimeout < 0:
		return fmt.Errorf("WithRevokeTimeout(%s): it must be positive, or 0 for the default", c.revokeTimeout)
	case c.pingInterval < 0:
		return fmt.Errorf("WithPingInterval(%s): it must be positive, or 0 for the default", c.pingInterval)
	}
	def := defaultConfig()
	if c.prefix == "" {
		c.prefix = def.prefix
	}
	c.revokeTimeout = orDefault(c.revokeTimeout, def.revokeTimeout)
	c.pingInterval = orDefault(c.pingInterval, def.pingInterval)
	if c.failClosedAfter > 0 {
		c.pingInterval = min(c.pingInterval, c.failClosedAfter/3)
	}
	c.pingInterval = max(c.pingInterval, time.Millisecond)
	if c.logger == nil {
		c.logger = def.logger
	}
	if c.now == nil {
		c.now = def.now
	}
	return nil
}

// orDefault returns d, or def if d is 0.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
