package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/ce967478/cookiesession/revocation"
	"github.com/redis/go-redis/v9"
)

// casAttempts bounds the compare-and-set rounds of one write: each round
// that fails saw another instance's write to the same subject land in
// between, which takes a burst of concurrent sign-outs of one user.
const casAttempts = 16

// writeStripes serialises one instance's writes to one subject (by a hash
// of it), so that its own concurrent sign-outs of one user do not spend
// compare-and-set rounds against each other.
const writeStripes = 64

// ErrStale is wrapped by the errors of Health, Ready and WaitReady, and by
// the error of a Check refused under WithFailClosedAfter: the replica may
// lack revocations made on other instances, because it has not been loaded
// from Redis yet or has not heard from Redis recently.
var ErrStale = errors.New("revocations replica is stale")

// Store is a cookiesession.RevocationStore shared through Redis by the
// instances of a fleet. Check answers from a local replica; Revoke records
// a revocation in the replica and in Redis, which announces it to every
// other instance. Make one with New, pass it to cookiesession.WithRevocation
// (with cookiesession.WithSubject), and Close it when the application
// stops.
type Store struct {
	client          redis.UniversalClient
	replica         *revocation.Replica
	key, channel    string
	lockKey         string
	failClosedAfter time.Duration
	revokeTimeout   time.Duration
	pingInterval    time.Duration
	log             *slog.Logger
	now             func() time.Time
	hook            func(event string) // tests: called on every change
	stripes         [writeStripes]sync.Mutex

	// lastContact is when the last good contact with Redis was made (the
	// check's sending time, in Unix nanoseconds on s.now), 0 before the
	// first trusted load. Check reads it on every request: an atomic.
	lastContact atomic.Int64
	// writeBack is set when a revocation could not be written to Redis:
	// it is enforced here, and written back as soon as Redis takes it.
	writeBack atomic.Bool

	mu         sync.Mutex
	loaded     bool          // a trusted load completed, at least once
	subscribed bool          // the subscription is confirmed and not lost since
	closed     bool          // Close was called
	epoch      string        // the epoch of the set the replica is in sync with
	reason     error         // why the store is not in contact, if it is not
	writeErr   error         // why the last write failed, while writeBack is set
	changed    chan struct{} // closed and replaced on every change, for WaitReady

	stop context.CancelFunc
	done chan struct{}
}

// New returns a Store that shares revocations through client, and starts
// keeping its replica in sync: it subscribes to the events channel and, on
// every confirmed subscription, loads the hash and writes back what Redis
// lacks.
//
// New returns at once, even if Redis is unreachable: the Store then serves
// from its replica (empty at first) and Health reports it Down until the
// first load; use WaitReady to wait for it. The Store runs until Close is
// called or ctx is cancelled. Redis 7.0 or later is needed (EXPIRETIME).
func New(ctx context.Context, client redis.UniversalClient, options ...Option) (*Store, error) {
	return newStore(ctx, client, nil, options)
}

// newStore is New, with a hook that tests use to wait for changes.
func newStore(ctx context.Context, client redis.UniversalClient, hook func(string), options []Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New needs a Redis client")
	}
	c, err := newConfig(options)
	if err != nil {
		return nil, fmt.Errorf("redisstore: %w", err)
	}
	s := &Store{
		client:          client,
		replica:         revocation.NewReplica(c.now),
		key:             c.prefix + ":revocations",
		channel:         c.prefix + ":events:" + strconv.Itoa(database(client)),
		lockKey:         c.prefix + ":sweep",
		failClosedAfter: c.failClosedAfter,
		revokeTimeout:   c.revokeTimeout,
		pingInterval:    c.pingInterval,
		log:             c.logger,
		now:             c.now,
		hook:            hook,
		reason:          errors.New("no subscription to Redis yet"),
		changed:         make(chan struct{}),
		done:            make(chan struct{}),
	}
	ctx, s.stop = context.WithCancel(ctx)
	go s.run(ctx)
	return s, nil
}

// database is the client's database number: keys are per database, but
// channels are per server, so the channel's name carries it.
func database(client redis.UniversalClient) int {
	if c, ok := client.(interface{ Options() *redis.Options }); ok {
		if o := c.Options(); o != nil {
			return o.DB
		}
	}
	return 0
}

// Check implements cookiesession.RevocationStore. It answers from the
// replica, without a network call, and with WithFailClosedAfter set refuses
// every session with a subject while Redis has been silent for longer.
func (s *Store) Check(subject string, id revocation.SessionID, generation uint64, now time.Time) error {
	if err := s.replica.Check(subject, id, generation, now); err != nil {
		return err
	}
	if s.failClosedAfter > 0 && subject != "" {
		// now is the Manager's clock, which should be the store's
		// (WithClock): reading the clock again would cost more than
		// the rest of Check, on machines whose clock is not in the vDSO.
		if last := s.lastContact.Load(); last == 0 || now.UnixNano()-last > int64(s.failClosedAfter) {
			return s.failClosedError(last, now)
		}
	}
	return nil
}

// failClosedError says why Check refused.
func (s *Store) failClosedError(last int64, now time.Time) error {
	if last == 0 {
		return fmt.Errorf("%w: %w: sessions with a subject are refused until the first load from Redis (WithFailClosedAfter)",
			cookiesession.ErrRevocationsUnavailable, ErrStale)
	}
	return fmt.Errorf("%w: %w: no contact with Redis for %s, longer than WithFailClosedAfter (%s)",
		cookiesession.ErrRevocationsUnavailable, ErrStale,
		now.Sub(time.Unix(0, last)).Round(time.Millisecond), s.failClosedAfter)
}

// Generation implements cookiesession.RevocationStore, from the replica.
func (s *Store) Generation(subject string) (uint64, int) { return s.replica.Generation(subject) }

// Revoke implements cookiesession.RevocationStore. It merges r into the
// replica, so that this instance enforces it at once, then merges it into
// the subject's field in Redis, which announces the result to the other
// instances. It waits at most WithRevokeTimeout's bound. If Redis does
// not take it, r stays enforced on this instance, is written back as soon
// as Redis takes it, Health reports Degraded meanwhile, and Revoke returns
// an error (which the Manager reports as
// cookiesession.ErrRevocationFailed).
func (s *Store) Revoke(ctx context.Context, subject string, r revocation.Revoked) error {
	if subject == "" {
		return errors.New("redisstore: Revoke needs a subject: sessions without one are never revoked")
	}
	now := s.now()
	// What the replica held is what Redis most likely holds too: the
	// first compare-and-set expects it, saving a read.
	prior := s.replica.Add(subject, revocation.Revoked{}, now)
	if merged := s.replica.Add(subject, r, now); merged.IsZero() {
		return nil // expired already: nothing to refuse
	}
	s.emit(eventChange)
	ctx, cancel := context.WithTimeout(ctx, s.revokeTimeout)
	defer cancel()
	// The wait is bounded here, and not only by ctx, because the client
	// ignores ctx's deadline unless it has ContextTimeoutEnabled.
	done := make(chan error, 1)
	go func() {
		mu := &s.stripes[stripe(subject)]
		mu.Lock()
		defer mu.Unlock()
		done <- s.merge(ctx, subject, r, encodeRevoked(prior), true, now)
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
	s.failedWrite(err)
	return fmt.Errorf("redisstore: a revocation holds on this instance only, until Redis takes it: %w", err)
}

// merge merges r into subject's field in Redis by compare-and-set,
// expecting the field to hold guess, and announces the result. A guess
// that is only a guess is written even if r adds nothing to it, since
// Redis may lack it; one read from Redis is not.
func (s *Store) merge(ctx context.Context, subject string, r revocation.Revoked, guess string, unverified bool, now time.Time) error {
	field, current := subjectField(subject), guess
	for range casAttempts {
		cur, err := decodeRevoked(current)
		if err != nil {
			// Perhaps a later release's format, during a rolling deploy:
			// overwriting it would lose what it holds. The revocation
			// holds here, and the failure is reported.
			return fmt.Errorf("the subject's field holds revocations in a form this release does not read (written by a later release?), and is left as it is: %w", err)
		}
		next := cur.Expire(now).Merge(r.Expire(now))
		value := encodeRevoked(next)
		if value == current && !unverified {
			return nil
		}
		unverified = false
		msg := ""
		if value != "" {
			msg = encodeMessage(subject, value)
		}
		res, err := parseCAS(casScript.Run(ctx, s.client, []string{s.key}, s.casArgs(field, current, value, next.MaxUntil(), msg)...).Result())
		if err != nil {
			return err
		}
		if res.written {
			return nil
		}
		current = res.current
		if got, err := decodeRevoked(current); err == nil {
			s.replica.Add(subject, got, now) // learnt on the way
		}
	}
	return fmt.Errorf("redisstore: %d concurrent writes to one subject in a row; giving up", casAttempts)
}

// stripe returns the index of subject's write lock (FNV-1a).
func stripe(subject string) int {
	h := uint32(2166136261)
	for i := 0; i < len(subject); i++ {
		h = (h ^ uint32(subject[i])) * 16777619
	}
	return int(h % writeStripes)
}

// failedWrite records a write that Redis did not take: Health is
// Degraded until the write-back succeeds.
func (s *Store) failedWrite(err error) {
	s.writeBack.Store(true)
	s.mu.Lock()
	s.writeErr = err
	s.mu.Unlock()
	s.emit(eventChange)
	if isOOM(err) {
		s.log.Error("redisstore: Redis is out of memory and refused a revocation: it holds on this instance only, "+
			"until written back; raise maxmemory, and keep maxmemory-policy noeviction", "err", err)
		return
	}
	s.log.Error("redisstore: a revocation was not stored in Redis: it holds on this instance only, until written back", "err", err)
}

// isOOM reports whether Redis refused a write for want of memory.
func isOOM(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "OOM ") }

// Health reports how the store is doing, and why when not healthy:
//
//   - Down before the first trusted load, after Close, and while Check
//     refuses sessions under WithFailClosedAfter. Take the instance out of
//     service.
//   - Degraded while the store serves what it knows but may lack recent
//     revocations made elsewhere (no good contact with Redis for longer
//     than twice WithPingInterval's, or the subscription lost) or has a
//     revocation made here that Redis has not taken yet (such as when
//     Redis is out of memory). Keep the instance in service.
//   - Healthy otherwise.
func (s *Store) Health() (revocation.Health, error) {
	now := s.now()
	last := s.lastContact.Load()
	silent := now.Sub(time.Unix(0, last)).Round(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return revocation.Down, fmt.Errorf("redisstore: %w: the store was closed", ErrStale)
	case !s.loaded:
		return revocation.Down, fmt.Errorf("redisstore: %w: not loaded from Redis yet: %v", ErrStale, s.reason)
	case s.failClosedAfter > 0 && now.UnixNano()-last > int64(s.failClosedAfter):
		return revocation.Down, fmt.Errorf("redisstore: %w: refusing sessions with a subject: no contact with Redis for %s (WithFailClosedAfter %s): %v",
			ErrStale, silent, s.failClosedAfter, s.reason)
	case !s.subscribed:
		return revocation.Degraded, fmt.Errorf("redisstore: %w: subscription lost %s ago, serving what is known: %v", ErrStale, silent, s.reason)
	case now.UnixNano()-last > int64(2*s.pingInterval):
		return revocation.Degraded, fmt.Errorf("redisstore: %w: no contact with Redis for %s, serving what is known: %v", ErrStale, silent, s.reason)
	case s.writeBack.Load():
		if isOOM(s.writeErr) {
			return revocation.Degraded, fmt.Errorf("redisstore: Redis is out of memory (maxmemory; keep maxmemory-policy noeviction): a revocation awaits write-back: %w", s.writeErr)
		}
		return revocation.Degraded, fmt.Errorf("redisstore: a revocation awaits write-back to Redis: %w", s.writeErr)
	}
	return revocation.Healthy, nil
}

// Ready returns nil unless Health reports Down, and Health's error then.
// Wire it into the readiness check: an instance that reports ready
// enforces every revocation of the fleet, or at least every one it knew
// (Degraded, which a load balancer should not act on: Redis trouble is
// the whole fleet's, and pulling every instance at once helps no one).
func (s *Store) Ready() error {
	if h, err := s.Health(); h == revocation.Down {
		return err
	}
	return nil
}

// WaitReady waits until Ready returns nil, or ctx is done, and returns
// what Ready last said. An application that would rather not serve before
// its replica is loaded calls it at start-up, with a deadline.
func (s *Store) WaitReady(ctx context.Context) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		err := s.Ready()
		if err == nil {
			return nil
		}
		// Fail-closed refusals end with time, not with an event.
		t := time.NewTimer(s.pingInterval)
		select {
		case <-ch:
		case <-t.C:
		case <-s.done:
			t.Stop()
			return s.Ready()
		case <-ctx.Done():
			t.Stop()
			if err := s.Ready(); err != nil {
				return fmt.Errorf("%w (waited until: %w)", err, ctx.Err())
			}
			return nil
		}
		t.Stop()
	}
}

// Len returns the number of entries the replica holds (a generation or a
// session id each), including expired ones not yet swept: a figure for
// metrics.
func (s *Store) Len() int { return s.replica.Len() }

// Close stops keeping the replica in sync, and waits for the goroutines
// that do it to end. Check keeps answering from the replica (which, with
// WithFailClosedAfter, refuses sessions with a subject once the bound has
// passed) and Revoke keeps writing to Redis, but Health reports Down. It
// does not close the client. It always returns nil.
func (s *Store) Close() error {
	s.stop()
	<-s.done
	return nil
}

// emit wakes WaitReady, and tells the test hook.
func (s *Store) emit(event string) {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.hook != nil {
		s.hook(event)
	}
}

// newEpoch returns 128 random bits in hex, marking one life of the hash.
func newEpoch() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}
