package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts the names of the store's Redis keys when
// Options.Prefix is empty.
const DefaultPrefix = "cookiesession:revocations"

// The defaults of Options.
const (
	defaultRevokeTimeout = 2 * time.Second
	defaultPingInterval  = 5 * time.Second
)

// ErrStale is wrapped by the errors of Ready and WaitReady, and by the error
// of a Check refused under FailClosedAfter: the replica may lack
// revocations made on other instances, because it has not been loaded from
// Redis yet or lost its subscription.
var ErrStale = errors.New("revocations replica is stale")

// Options configures a Store. The zero value is a usable configuration.
type Options struct {
	// Prefix starts the names of the two Redis keys the store uses:
	// <Prefix>:entries, the sorted set of revocations, and
	// <Prefix>:events, the channel that announces them. The default is
	// DefaultPrefix. The instances of one application share a prefix;
	// applications whose sessions are separate use different ones.
	Prefix string

	// FailClosedAfter chooses what Check does when the replica has been
	// stale (not loaded yet, or disconnected from Redis) for longer than
	// this: a session that has a subject (see cookiesession.WithSubject)
	// is refused, with an error wrapping
	// cookiesession.ErrRevocationsUnavailable and ErrStale; a session
	// without one is still accepted. The Manager gives such a request a
	// fresh session but keeps its cookie, so that the user is signed in
	// again once the replica is back in sync.
	//
	// 0, the default, is fail-open: the store keeps enforcing every
	// revocation it knew, and every one made on this instance meanwhile,
	// and Ready reports the staleness. A Redis outage then does not sign
	// out every user of the fleet; what it risks is that a cookie revoked
	// on another instance during the outage opens here until the replica
	// is in sync again.
	FailClosedAfter time.Duration

	// RevokeTimeout bounds how long Revoke waits for Redis. The default
	// is 2 seconds. Give the client ContextTimeoutEnabled too, so that a
	// call Revoke stopped waiting for also stops using its connection.
	RevokeTimeout time.Duration

	// PingInterval is how long the subscription may stay silent before
	// the store pings Redis over it. Without an answer within another
	// PingInterval, the connection is taken for dead, the replica is
	// marked stale and the store connects again, so a connection that
	// died without the operating system noticing is found within twice
	// this. The default is 5 seconds.
	PingInterval time.Duration

	// Logger receives the store's few lines: Redis lost and regained, and
	// the counts of each resynchronisation. The default is slog.Default().
	Logger *slog.Logger

	// Now is the store's clock, for tests; the default is time.Now. Give
	// the store the clock given to cookiesession.WithClock.
	Now func() time.Time
}

// Store is a cookiesession.RevocationStore shared through Redis by the
// instances of a fleet. Check answers from a local replica; Revoke records
// a revocation in the replica and in Redis, which announces it to every
// other instance. Make one with New, pass it to cookiesession.WithRevocation,
// and Close it when the application stops.
type Store struct {
	client          redis.UniversalClient
	replica         *cookiesession.Revocations
	key, channel    string
	failClosedAfter time.Duration
	revokeTimeout   time.Duration
	pingInterval    time.Duration
	log             *slog.Logger
	now             func() time.Time
	hook            func(event string) // tests: called after each update of the replica

	// staleSince is when the replica stopped being in sync, in Unix
	// nanoseconds; 0 while it is in sync. Check reads it on every
	// request, so it is an atomic rather than behind mu.
	staleSince atomic.Int64
	// writeBack is set when a Revoke could not reach Redis: the store
	// writes back what Redis lacks as soon as it can.
	writeBack atomic.Bool

	mu     sync.Mutex
	loaded bool          // a full load completed, at least once
	reason error         // why the replica is stale
	inSync chan struct{} // closed while the replica is in sync

	stop context.CancelFunc
	done chan struct{}
}

// New returns a Store that shares revocations through client, and starts
// keeping its replica in sync: it subscribes to the events channel and, on
// every subscription confirmed (the first and each after a reconnection),
// loads the whole set from Redis and writes back what Redis lacks.
//
// New returns at once, even if Redis is unreachable: the Store then serves
// from its replica (empty at first) and Ready reports why it is not ready;
// use WaitReady to wait for the first load. The Store runs until Close is
// called or ctx is cancelled. Redis 6.2 or later is needed.
func New(ctx context.Context, client redis.UniversalClient, opts Options) (*Store, error) {
	return newStore(ctx, client, opts, nil)
}

// newStore is New, with a hook that tests use to wait for updates.
func newStore(ctx context.Context, client redis.UniversalClient, opts Options, hook func(string)) (*Store, error) {
	switch {
	case client == nil:
		return nil, errors.New("redisstore: New needs a Redis client")
	case opts.FailClosedAfter < 0:
		return nil, fmt.Errorf("redisstore: FailClosedAfter is %s; it must be 0 (fail open) or positive", opts.FailClosedAfter)
	case opts.RevokeTimeout < 0:
		return nil, fmt.Errorf("redisstore: RevokeTimeout is %s; it must be positive, or 0 for the default", opts.RevokeTimeout)
	case opts.PingInterval < 0:
		return nil, fmt.Errorf("redisstore: PingInterval is %s; it must be positive, or 0 for the default", opts.PingInterval)
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	s := &Store{
		client:          client,
		replica:         cookiesession.NewRevocations(),
		key:             prefix + ":entries",
		channel:         prefix + ":events",
		failClosedAfter: opts.FailClosedAfter,
		revokeTimeout:   orDefault(opts.RevokeTimeout, defaultRevokeTimeout),
		pingInterval:    orDefault(opts.PingInterval, defaultPingInterval),
		log:             opts.Logger,
		now:             opts.Now,
		hook:            hook,
		reason:          errors.New("no subscription to Redis yet"),
		inSync:          make(chan struct{}),
		done:            make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.staleSince.Store(nonZero(s.now().UnixNano()))
	ctx, s.stop = context.WithCancel(ctx)
	go s.run(ctx)
	return s, nil
}

// orDefault returns d, or def if d is 0.
func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// nonZero keeps a time in nanoseconds from meaning "in sync".
func nonZero(ns int64) int64 {
	if ns == 0 {
		return 1
	}
	return ns
}

// Check implements cookiesession.RevocationStore. It answers from the
// replica, without a network call, and refuses every session with a
// subject once the replica has been stale for longer than
// Options.FailClosedAfter, if set.
func (s *Store) Check(id cookiesession.SessionID, subject string, created, now time.Time) error {
	if err := s.replica.Check(id, subject, created, now); err != nil {
		return err
	}
	if s.failClosedAfter > 0 && subject != "" {
		if since := s.staleSince.Load(); since != 0 && s.now().Sub(time.Unix(0, since)) > s.failClosedAfter {
			return fmt.Errorf("%w: sessions with a subject are refused after %s without them (FailClosedAfter): %w",
				cookiesession.ErrRevocationsUnavailable, s.failClosedAfter, s.staleError(since))
		}
	}
	return nil
}

// Revoke implements cookiesession.RevocationStore. It adds r to the
// replica, so that this instance enforces it at once, then, in one
// transaction, adds it to the sorted set in Redis and announces it to the
// other instances. It waits at most Options.RevokeTimeout. If Redis cannot
// be reached, r stays enforced on this instance, is written to Redis when
// the store next can, and Revoke returns an error saying so; the Manager
// reports it as cookiesession.ErrRevocationFailed and still clears the
// cookie.
func (s *Store) Revoke(ctx context.Context, r cookiesession.Revocation) error {
	s.replica.Add(r)
	until := unix(r.Until)
	if until <= s.now().Unix() {
		return nil // expired already: nothing for the others to refuse
	}
	member := encodeMember(r)
	ctx, cancel := context.WithTimeout(ctx, s.revokeTimeout)
	defer cancel()
	// The wait is bounded here, and not only by ctx, because the client
	// ignores ctx's deadline unless it has ContextTimeoutEnabled.
	done := make(chan error, 1)
	go func() {
		_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAddGT(ctx, s.key, redis.Z{Score: float64(until), Member: member})
			p.Publish(ctx, s.channel, encodeMessage(member, until))
			return nil
		})
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		return nil
	}
	s.writeBack.Store(true)
	what := "a session"
	if r.Subject != "" {
		what = "a subject's sessions"
	}
	s.log.Warn("redisstore: revocation not stored in Redis; enforced on this instance, written back when Redis is reachable",
		"revoked", what, "err", err)
	return fmt.Errorf("redisstore: the revocation of %s holds on this instance only until Redis is reachable: %w", what, err)
}

// Ready returns nil while the replica is in sync: loaded in full from
// Redis and subscribed to its updates. Otherwise it returns an error
// wrapping ErrStale that says since when, and why. Wire it into the
// application's readiness check: an instance that reports ready refuses
// every cookie revoked before.
func (s *Store) Ready() error {
	since := s.staleSince.Load()
	if since == 0 {
		return nil
	}
	return s.staleError(since)
}

// staleError describes the replica, stale since since (Unix nanoseconds).
func (s *Store) staleError(since int64) error {
	s.mu.Lock()
	loaded, reason := s.loaded, s.reason
	s.mu.Unlock()
	t := time.Unix(0, since)
	age := s.now().Sub(t).Round(time.Millisecond)
	stamp := t.UTC().Format(time.RFC3339)
	if !loaded {
		return fmt.Errorf("redisstore: %w: not loaded from Redis yet, since %s (%s): %v", ErrStale, stamp, age, reason)
	}
	return fmt.Errorf("redisstore: %w since %s (%s): %v", ErrStale, stamp, age, reason)
}

// WaitReady waits until Ready returns nil, or ctx is done, and returns
// what Ready last said. An application that would rather not serve before
// its replica is loaded calls it at start-up, with a deadline.
func (s *Store) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		ch := s.inSync
		s.mu.Unlock()
		if s.staleSince.Load() == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-s.done:
			return s.Ready()
		case <-ctx.Done():
			if err := s.Ready(); err != nil {
				return fmt.Errorf("%w (waited until: %w)", err, ctx.Err())
			}
			return nil
		}
	}
}

// Len returns the number of entries the replica holds, including expired
// ones not yet swept: a figure for metrics.
func (s *Store) Len() int { return s.replica.Len() }

// Close stops keeping the replica in sync, and waits for the goroutine that
// does it to end. Check keeps answering from the replica (which, with
// FailClosedAfter, refuses sessions with a subject once the bound has
// passed) and Revoke keeps writing to Redis, but Ready reports the store
// closed. It does not close the client. It always returns nil.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	return nil
}

// markStale records that the replica stopped being in sync, because of
// err, and reports whether it was in sync until now.
func (s *Store) markStale(err error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reason = err
	if s.staleSince.Load() != 0 {
		return false
	}
	s.staleSince.Store(nonZero(s.now().UnixNano()))
	s.inSync = make(chan struct{})
	return true
}

// markInSync records a completed resynchronisation, and returns how long
// the replica was stale.
func (s *Store) markInSync() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := s.staleSince.Load()
	s.loaded = true
	s.reason = nil
	if since == 0 {
		return 0
	}
	s.staleSince.Store(0)
	close(s.inSync)
	return s.now().Sub(time.Unix(0, since))
}

// inSyncNow reports whether the replica is in sync.
func (s *Store) inSyncNow() bool { return s.staleSince.Load() == 0 }
