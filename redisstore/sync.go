package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/ce967478/cookiesession"
	"github.com/redis/go-redis/v9"
)

// Keeping the replica in sync: one goroutine per Store subscribes to the
// events channel, applies what it receives, and resynchronises on every
// confirmed subscription.

const (
	// sweepInterval is how often an instance in sync removes the expired
	// members of the sorted set, besides on every resynchronisation. Any
	// instance may; each removal is one ZREMRANGEBYSCORE.
	sweepInterval = 5 * time.Minute
	// loadBatch is how many members one ZRANGE of a load reads.
	loadBatch = 10_000
	// writeBatch is how many entries one pipeline of a write-back sends.
	writeBatch = 1_000
	// The wait before trying Redis again after a failure doubles from
	// minBackoff to maxBackoff, and starts again once in sync.
	minBackoff = 50 * time.Millisecond
	maxBackoff = 2 * time.Second
)

// Events passed to the test hook.
const (
	eventMessage = "message" // a revocation received was added
	eventInSync  = "in sync" // a resynchronisation completed
	eventStale   = "stale"   // the subscription failed
)

// run keeps the replica in sync until ctx is cancelled.
func (s *Store) run(ctx context.Context) {
	defer close(s.done)
	var ps *redis.PubSub
	defer func() {
		if ps != nil {
			_ = ps.Close()
		}
		s.markStale(errors.New("the store was closed"))
	}()
	var (
		pinged    bool // a PING is unanswered
		down      bool // a failure was logged, and no recovery since
		backoff   = minBackoff
		lastSweep time.Time
	)
	// lost handles a failure of the subscription or of a resync: the
	// replica is stale until the next resync. go-redis reconnects a
	// subscription whose connection failed; reconnect closes it instead,
	// for the cases it would not see as failed.
	lost := func(err error, reconnect bool) {
		s.markStale(err)
		if !down {
			s.log.Warn("redisstore: lost Redis; the revocations replica is stale and serves what it knows", "err", err)
			down = true
		}
		s.notify(eventStale)
		if reconnect {
			_ = ps.Close()
			ps = nil
		}
		pinged = false
		sleep(ctx, backoff)
		backoff = min(2*backoff, maxBackoff)
	}
	for ctx.Err() == nil {
		if ps == nil {
			// Subscribes at once if it can; if not, ReceiveTimeout
			// below tries again and reports why it cannot.
			ps = s.client.Subscribe(ctx, s.channel)
		}
		if s.inSyncNow() && s.writeBack.Swap(false) {
			// A Revoke failed while the subscription held: write back.
			st, err := s.resync(ctx)
			if err != nil {
				s.writeBack.Store(true)
				lost(fmt.Errorf("writing back revocations: %w", err), true)
				continue
			}
			s.log.Info("redisstore: revocations written back to Redis", "written", st.written)
		}
		if s.inSyncNow() && s.now().Sub(lastSweep) >= sweepInterval {
			lastSweep = s.now()
			if err := s.sweep(ctx); err != nil && ctx.Err() == nil {
				lost(fmt.Errorf("removing expired revocations: %w", err), true)
				continue
			}
		}
		msg, err := ps.ReceiveTimeout(ctx, s.pingInterval)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return
			case isTimeout(err) && pinged:
				lost(fmt.Errorf("no answer from Redis within %s", 2*s.pingInterval), true)
			case isTimeout(err):
				if err := ps.Ping(ctx); err != nil {
					lost(fmt.Errorf("pinging Redis: %w", err), false)
				} else {
					pinged = true
				}
			default:
				lost(fmt.Errorf("subscription to %s: %w", s.channel, err), false)
			}
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind != "subscribe" || m.Channel != s.channel {
				continue
			}
			// Subscribed, on a first or a new connection: what was
			// published before is in the sorted set, what is published
			// from now on arrives here.
			start := s.now()
			st, err := s.resync(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				lost(fmt.Errorf("loading revocations: %w", err), true)
				continue
			}
			lastSweep = start
			backoff = minBackoff
			stale := s.markInSync()
			down = false
			s.log.Info("redisstore: revocations replica in sync with Redis",
				"loaded", st.loaded, "written_back", st.written, "expired_removed", st.swept,
				"took", s.now().Sub(start).Round(time.Millisecond), "stale_for", stale.Round(time.Millisecond))
			s.notify(eventInSync)
		case *redis.Message:
			s.apply(m.Payload)
		}
	}
}

// apply adds the revocations a message announces to the replica: one, or a
// batch that a write-back published.
func (s *Store) apply(payload string) {
	msgs, ok := decodeBatch(payload)
	if !ok {
		msgs = []string{payload}
	}
	for _, msg := range msgs {
		r, ok := decodeMessage(msg)
		if !ok {
			s.log.Warn("redisstore: ignored a message that is not a revocation", "channel", s.channel, "bytes", len(msg))
			continue
		}
		if unix(r.Until) > s.now().Unix() {
			s.replica.Add(r)
		}
	}
	s.notify(eventMessage)
}

// notify calls the test hook, if any.
func (s *Store) notify(event string) {
	if s.hook != nil {
		s.hook(event)
	}
}

// resyncStats counts what one resync did.
type resyncStats struct {
	loaded    int // members read into the replica
	written   int // entries of the replica written back
	swept     int // expired members removed
	malformed int // members ignored
}

// resync removes the expired members of the sorted set, loads the others
// into the replica, then writes back (and announces) the entries of the
// replica that Redis lacks: revocations that failed to reach it, and those
// it lost if it restarted without its data.
func (s *Store) resync(ctx context.Context) (resyncStats, error) {
	var st resyncStats
	// A Revoke that fails from here on sets it again, after its entry is
	// in the replica: the Range below, or the next resync, writes it.
	s.writeBack.Store(false)
	now := s.now().Unix()
	swept, err := s.client.ZRemRangeByScore(ctx, s.key, "-inf", strconv.FormatInt(now, 10)).Result()
	if err != nil {
		return st, err
	}
	st.swept = int(swept)

	// Load page by page, by score: from the last score read, skipping the
	// members of that score already read. Pages by offset alone would
	// cost more each than the one before.
	// A replica empty before the load has nothing Redis could lack: a
	// Revoke made meanwhile reached Redis, or will have the next resync
	// write it back. Start-up skips the comparison, and its memory.
	var inRedis *coverage
	if s.replica.Len() > 0 {
		inRedis = newCoverage()
	}
	start, skip := "("+strconv.FormatInt(now, 10), int64(0)
	for {
		zs, err := s.client.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
			Key: s.key, Start: start, Stop: "+inf", ByScore: true, Offset: skip, Count: loadBatch,
		}).Result()
		if err != nil {
			return st, err
		}
		for _, z := range zs {
			member, _ := z.Member.(string)
			r, ok := decodeMember(member, int64(z.Score))
			if !ok {
				st.malformed++
				continue
			}
			s.replica.Add(r)
			if inRedis != nil {
				inRedis.add(r)
			}
			st.loaded++
		}
		if len(zs) < loadBatch {
			break
		}
		lastScore := zs[len(zs)-1].Score
		n := int64(0)
		for i := len(zs) - 1; i >= 0 && zs[i].Score == lastScore; i-- {
			n++
		}
		if last := strconv.FormatFloat(lastScore, 'f', -1, 64); last == start {
			skip += n
		} else {
			start, skip = last, n
		}
	}
	if st.malformed > 0 {
		s.log.Warn("redisstore: ignored members of the sorted set that are not revocations", "key", s.key, "count", st.malformed)
	}

	if inRedis == nil {
		return st, nil
	}
	var missing []cookiesession.Revocation
	s.replica.Range(time.Unix(now, 0), func(r cookiesession.Revocation) bool {
		if !inRedis.covers(r) {
			missing = append(missing, r)
		}
		return true
	})
	for len(missing) > 0 {
		batch := missing[:min(writeBatch, len(missing))]
		missing = missing[len(batch):]
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			zs := make([]redis.Z, len(batch))
			msgs := make([]string, len(batch))
			for i, r := range batch {
				member, until := encodeMember(r), unix(r.Until)
				zs[i] = redis.Z{Score: float64(until), Member: member}
				msgs[i] = encodeMessage(member, until)
			}
			p.ZAddGT(ctx, s.key, zs...)
			// One message for the batch: every instance writes back what
			// Redis lost after a restart, and every instance hears each
			// message, so one message an entry would be N² times M.
			p.Publish(ctx, s.channel, encodeBatch(msgs))
			return nil
		})
		if err != nil {
			return st, err
		}
		st.written += len(batch)
	}
	return st, nil
}

// sweep removes the expired members of the sorted set.
func (s *Store) sweep(ctx context.Context) error {
	return s.client.ZRemRangeByScore(ctx, s.key, "-inf", strconv.FormatInt(s.now().Unix(), 10)).Err()
}

// coverage is what a load read from Redis, merged per session and per
// subject as the replica merges entries, to tell which entries of the
// replica Redis lacks.
type coverage struct {
	ids      map[cookiesession.SessionID]span
	subjects map[string]span
}

type span struct{ at, until int64 }

func newCoverage() *coverage {
	return &coverage{ids: map[cookiesession.SessionID]span{}, subjects: map[string]span{}}
}

func (c *coverage) add(r cookiesession.Revocation) {
	s := span{unix(r.At), unix(r.Until)}
	if r.Subject != "" {
		if old, ok := c.subjects[r.Subject]; ok {
			s = span{max(old.at, s.at), max(old.until, s.until)}
		}
		c.subjects[r.Subject] = s
		return
	}
	if old, ok := c.ids[r.ID]; ok {
		s = span{min(old.at, s.at), max(old.until, s.until)}
	}
	c.ids[r.ID] = s
}

// covers reports whether what Redis holds revokes at least what r does.
func (c *coverage) covers(r cookiesession.Revocation) bool {
	at, until := unix(r.At), unix(r.Until)
	if r.Subject != "" {
		s, ok := c.subjects[r.Subject]
		return ok && s.at >= at && s.until >= until
	}
	s, ok := c.ids[r.ID]
	return ok && s.at <= at && s.until >= until
}

// isTimeout reports whether err is a read that timed out.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleep waits for d, or until ctx is cancelled.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
