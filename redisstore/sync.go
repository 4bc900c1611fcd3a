package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keeping the replica in sync: one goroutine per Store (run) owns the
// subscription and the checks; one more per subscription receives from
// it, so that the checks keep their rhythm whatever the traffic.

const (
	// sweepInterval is how often an instance forgets expired entries of
	// its replica, and (one instance at a time, under a lock) rewrites
	// the fields of Redis that hold expired entries.
	sweepInterval = 5 * time.Minute
	// scanCount is the COUNT of one HSCAN of a load or a sweep.
	scanCount = 1000
	// writeBatch is how many subjects one pipeline of a write-back
	// carries, announced in one message.
	writeBatch = 1000
	// The wait before receiving again after a failure doubles from
	// minBackoff to maxBackoff.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Events passed to the test hook.
const (
	eventChange  = "change"  // the replica or the health changed
	eventMessage = "message" // a message was applied
)

// subscription is one PubSub and the goroutine that receives from it.
type subscription struct {
	ps   *redis.PubSub
	stop chan struct{}
}

// received is what a subscription's receiver got.
type received struct {
	sub *subscription
	msg any
	err error
}

// epochRead is the answer to a check's read of the epoch.
type epochRead struct {
	token string
	epoch string
	err   error
}

// check is one round of the ping interval's check: a PING on the
// subscription and a read of the epoch, sent at sent.
type check struct {
	pending bool
	token   string
	sent    time.Time
	pong    bool
	read    bool
	epoch   string // "" if the hash has none
}

// syncer is the state of run, owned by its goroutine.
type syncer struct {
	s        *Store
	ctx      context.Context
	sub      *subscription
	received chan received
	epochs   chan epochRead
	reading  bool // an epoch read is in flight
	check    check
	seq      uint64
	waited   *time.Timer // a first load waits for a young epoch until it fires; nil for none
	down     bool        // a loss was logged and no recovery since
	swept    time.Time
	wg       sync.WaitGroup
}

// run keeps the replica in sync until ctx is cancelled.
func (s *Store) run(ctx context.Context) {
	y := &syncer{s: s, ctx: ctx, received: make(chan received), epochs: make(chan epochRead, 1), swept: s.now()}
	defer func() {
		y.disconnect()
		y.wg.Wait()
		s.mu.Lock()
		s.closed, s.subscribed = true, false
		if s.writeBack.Load() {
			// Each Revoke that failed said so; this is the last word on
			// what was still enforced here only.
			s.log.Error("redisstore: closed with revocations Redis has not taken: they were enforced on this instance only, and end with it",
				slog.Any("error", s.writeErr))
		}
		s.mu.Unlock()
		s.emit(eventChange)
		close(s.done)
	}()
	y.connect()
	tick := time.NewTicker(s.pingInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-y.received:
			y.handle(r)
		case r := <-y.epochs:
			y.epochAnswered(r)
		case <-tick.C:
			y.tick()
		case <-y.waitedC():
			y.waited = nil
			y.resync("waited for write-backs")
		}
	}
}

// waitedC is the channel of the wait for a young epoch: nil, which never
// delivers, when there is none.
func (y *syncer) waitedC() <-chan time.Time {
	if y.waited == nil {
		return nil
	}
	return y.waited.C
}

// connect subscribes on a new connection; its confirmation starts a load.
func (y *syncer) connect() {
	sub := &subscription{ps: y.s.client.Subscribe(y.ctx, y.s.channel), stop: make(chan struct{})}
	y.sub = sub
	y.wg.Add(1)
	go y.receive(sub)
}

// disconnect closes the subscription, if any, for a new one.
func (y *syncer) disconnect() {
	if y.sub == nil {
		return
	}
	close(y.sub.stop)
	_ = y.sub.ps.Close()
	y.sub = nil
}

// receive passes what sub receives to run, until sub is stopped. go-redis
// connects again (and subscribes again) after a failed receive.
func (y *syncer) receive(sub *subscription) {
	defer y.wg.Done()
	backoff := minBackoff
	for {
		msg, err := sub.ps.Receive(y.ctx)
		select {
		case y.received <- received{sub, msg, err}:
		case <-sub.stop:
			return
		case <-y.ctx.Done():
			return
		}
		if err == nil {
			backoff = minBackoff
			continue
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-sub.stop:
			t.Stop()
			return
		case <-y.ctx.Done():
			t.Stop()
			return
		}
		// Capped below the ping interval: a check may have reconnected the
		// subscription meanwhile, and its confirmation waits for this.
		backoff = min(2*backoff, maxBackoff, max(y.s.pingInterval/2, minBackoff))
	}
}

// handle acts on what the current subscription received.
func (y *syncer) handle(r received) {
	if r.sub != y.sub {
		return // from a subscription closed since
	}
	if r.err != nil {
		if y.ctx.Err() == nil {
			y.lost(fmt.Errorf("subscription to %s: %w", y.s.channel, r.err), false)
		}
		return
	}
	switch m := r.msg.(type) {
	case *redis.Subscription:
		if m.Kind == "subscribe" && m.Channel == y.s.channel {
			// Subscribed, on a first or a new connection: what was
			// written before is in the hash, what is written from now
			// on arrives here.
			y.resync("subscribed")
		}
	case *redis.Message:
		y.s.apply(m.Payload)
	case *redis.Pong:
		if y.check.pending && m.Payload == y.check.token {
			y.check.pong = true
			y.checked()
		}
	}
}

// tick runs every ping interval: the check, the first load's wait, the
// write-back of failed writes, and the sweep.
func (y *syncer) tick() {
	if y.check.pending {
		y.lost(fmt.Errorf("no answer from Redis within %s", y.s.pingInterval), true)
	}
	if y.sub == nil {
		y.connect()
	}
	y.startCheck()
	now := y.s.now()
	y.s.mu.Lock()
	loaded, subscribed := y.s.loaded, y.s.subscribed
	y.s.mu.Unlock()
	switch {
	case loaded && subscribed && y.s.writeBack.Load():
		y.retryWriteBack()
	case loaded && subscribed && now.Sub(y.swept) >= sweepInterval:
		y.swept = now
		if err := y.s.sweep(y.ctx, now); err != nil && y.ctx.Err() == nil {
			y.s.log.Warn("redisstore: sweeping expired revocations failed; trying again later", "err", err)
		}
	}
}

// startCheck sends a check: a PING on the subscription, and a read of the
// epoch on a pooled connection, which sees a flushed or lost hash.
func (y *syncer) startCheck() {
	y.seq++
	y.check = check{pending: true, token: strconv.FormatUint(y.seq, 10), sent: y.s.now()}
	if err := y.sub.ps.Ping(y.ctx, y.check.token); err != nil {
		y.s.setReason(fmt.Errorf("pinging Redis: %w", err))
	}
	if y.reading {
		return // the last read still hangs: this check will not complete
	}
	y.reading = true
	token := y.check.token
	// Not waited for by Close: it ends with the client's timeouts, and
	// sends into a buffer that always has room.
	go func() {
		ctx, cancel := context.WithTimeout(y.ctx, y.s.pingInterval)
		defer cancel()
		v, err := y.s.client.HGet(ctx, y.s.key, epochField).Result()
		if errors.Is(err, redis.Nil) {
			v, err = "", nil
		}
		y.epochs <- epochRead{token, v, err}
	}()
}

// epochAnswered takes the epoch a check read.
func (y *syncer) epochAnswered(r epochRead) {
	y.reading = false
	if r.err != nil {
		y.s.setReason(fmt.Errorf("reading the epoch: %w", r.err))
		return
	}
	if y.check.pending && r.token == y.check.token {
		y.check.read, y.check.epoch = true, r.epoch
		y.checked()
	}
}

// checked completes a check once both answers are in.
func (y *syncer) checked() {
	c := y.check
	if !c.pong || !c.read {
		return
	}
	y.check.pending = false
	s := y.s
	s.mu.Lock()
	loaded, epoch := s.loaded, s.epoch
	s.mu.Unlock()
	if !loaded {
		return // contact counts once the set is trusted
	}
	if c.epoch != epoch {
		y.resync("epoch changed")
		return
	}
	s.lastContact.Store(c.sent.UnixNano())
	s.mu.Lock()
	s.reason = nil
	s.mu.Unlock()
	s.emit(eventChange)
}

// lost handles a failure of the subscription or of the contact: the
// replica serves what it holds, and a new subscription loads again.
func (y *syncer) lost(err error, reconnect bool) {
	s := y.s
	s.mu.Lock()
	s.subscribed, s.reason = false, err
	s.mu.Unlock()
	if !y.down {
		s.log.Warn("redisstore: lost Redis; the revocations replica serves what it holds", "err", err)
		y.down = true
	}
	y.check = check{}
	if reconnect {
		y.disconnect()
	}
	s.emit(eventChange)
}

// resync loads the hash, and writes back what it lacks of the replica.
func (y *syncer) resync(why string) {
	s := y.s
	start := s.now()
	// A Revoke that fails from here on sets it again, after its entry is
	// in the replica, so the next write-back has it.
	wb := s.writeBack.Swap(false)
	// A replica empty before the load holds nothing Redis could lack.
	had := s.replica.Subjects() > 0
	st, err := s.load(y.ctx, start)
	if err != nil {
		if wb {
			s.writeBack.Store(true)
		}
		if y.ctx.Err() == nil {
			y.lost(fmt.Errorf("loading revocations (%s): %w", why, err), true)
		}
		return
	}
	if y.waited != nil {
		y.waited.Stop()
		y.waited = nil
	}
	if st.wait > 0 {
		// The set was just lost, or never held anything, and this store
		// never loaded: wait for the instances that hold entries to
		// write them back before trusting it. What they write arrives
		// meanwhile, and the load after the wait reads it all.
		// A timer of its own, not the next ping: it ends when the epoch
		// is old enough on Redis's clock, since it starts after the read.
		y.waited = time.NewTimer(st.wait)
		if wb {
			s.writeBack.Store(true)
		}
		s.setReason(fmt.Errorf("the revocations hash in Redis is new: waiting %s for other instances to write back before trusting it", st.wait.Round(time.Millisecond)))
		s.log.Info("redisstore: the revocations hash in Redis is new; waiting for other instances to write back before trusting it",
			"key", s.key, "wait", st.wait.Round(time.Millisecond))
		return
	}
	s.mu.Lock()
	loaded, old := s.loaded, s.epoch
	s.mu.Unlock()
	if loaded && st.epoch != old {
		// The set this replica was in sync with is gone: flushed,
		// evicted, expired or restarted without its data.
		if s.replica.Len() > 0 {
			s.log.Warn("redisstore: revocations lost in Redis: flushed, evicted or restarted empty; writing back",
				"key", s.key, "held_here", s.replica.Len())
		} else {
			s.log.Info("redisstore: the revocations hash in Redis is new (it expired, or was lost holding nothing live)", "key", s.key)
		}
	}
	written, werr := 0, error(nil)
	if had || wb {
		written, werr = s.writeBackAll(y.ctx, start)
	}
	if werr != nil {
		s.failedWrite(werr)
	}
	y.check = check{}
	s.trust(st.epoch, start, werr == nil)
	if y.down {
		s.log.Info("redisstore: Redis regained", "why", why)
		y.down = false
	}
	s.log.Info("redisstore: revocations replica in sync with Redis", "why", why,
		"loaded", st.loaded, "malformed", st.malformed, "written_back", written,
		"took", s.now().Sub(start).Round(time.Millisecond))
}

// retryWriteBack writes back what failed to reach Redis.
func (y *syncer) retryWriteBack() {
	s := y.s
	start := s.now()
	s.writeBack.Store(false)
	written, err := s.writeBackAll(y.ctx, start)
	if err != nil {
		if y.ctx.Err() == nil {
			s.failedWriteAgain(err)
		}
		return
	}
	s.mu.Lock()
	if !s.writeBack.Load() {
		s.writeErr = nil
	}
	s.mu.Unlock()
	s.emit(eventChange)
	s.log.Info("redisstore: revocations written back to Redis", "written", written)
}

// failedWriteAgain keeps a write-back pending, logging only a change of
// reason: it is retried every ping interval.
func (s *Store) failedWriteAgain(err error) {
	s.writeBack.Store(true)
	s.mu.Lock()
	same := s.writeErr != nil && s.writeErr.Error() == err.Error()
	s.writeErr = err
	s.mu.Unlock()
	if !same {
		s.failedWrite(err)
	}
}

// setReason records why contact failed, for Health.
func (s *Store) setReason(err error) {
	s.mu.Lock()
	s.reason = err
	s.mu.Unlock()
}

// trust records a completed load of the set with this epoch, begun at
// start: the replica holds all it held then.
func (s *Store) trust(epoch string, start time.Time, written bool) {
	s.mu.Lock()
	s.loaded, s.subscribed, s.epoch, s.reason = true, true, epoch, nil
	if written && !s.writeBack.Load() {
		s.writeErr = nil
	}
	s.mu.Unlock()
	s.lastContact.Store(start.UnixNano())
	s.emit(eventChange)
}

// apply merges what a message announces into the replica.
func (s *Store) apply(payload string) {
	entries, err := decodeMessage(payload)
	if err != nil {
		s.log.Warn("redisstore: ignored a message that is not revocations", "channel", s.channel, "bytes", len(payload), "err", err)
		return
	}
	now := s.now()
	for _, e := range entries {
		s.replica.Add(e.subject, e.revoked, now)
	}
	s.emit(eventMessage)
}
