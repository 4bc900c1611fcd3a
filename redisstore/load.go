package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ce967478/cookiesession/revocation"
	"github.com/redis/go-redis/v9"
)

// loadStats is what one load did.
type loadStats struct {
	epoch     string
	wait      time.Duration // > 0: the epoch is too young for a first load to trust
	loaded    int           // subjects read into the replica
	malformed int           // fields ignored
}

// load reads the epoch (creating one if the set has none) and every
// subject of the hash into the replica.
func (s *Store) load(ctx context.Context, now time.Time) (loadStats, error) {
	var st loadStats
	epoch, age, err := s.readEpoch(ctx, newEpoch())
	if err != nil {
		return st, fmt.Errorf("reading the epoch: %w", err)
	}
	st.epoch = epoch
	s.mu.Lock()
	first := !s.loaded
	s.mu.Unlock()
	// Twice the ping interval: the instances that hold entries find the new
	// epoch within one, and write back in the other. Both ages are on
	// Redis's clock.
	if grace := 2 * s.pingInterval; first && age < grace {
		st.wait = grace - age
		return st, nil
	}
	err = s.scan(ctx, func(fields []string) error {
		for i := 0; i+1 < len(fields); i += 2 {
			subject, ok := fieldSubject(fields[i])
			if !ok {
				if fields[i] != epochField {
					st.malformed++
				}
				continue
			}
			r, err := decodeRevoked(fields[i+1])
			if err != nil {
				st.malformed++
				continue
			}
			s.replica.Add(subject, r, now)
			st.loaded++
		}
		return nil
	})
	if st.malformed > 0 {
		s.log.Warn("redisstore: ignored fields of the hash that are not revocations", "key", s.key, "count", st.malformed)
	}
	return st, err
}

// scan calls fn with each page of HSCAN over the hash: field, value, ...
// A field may come twice; what fn does with it must not mind.
func (s *Store) scan(ctx context.Context, fn func(fields []string) error) error {
	var cursor uint64
	for {
		fields, next, err := s.client.HScan(ctx, s.key, cursor, "", scanCount).Result()
		if err != nil {
			return err
		}
		if err := fn(fields); err != nil {
			return err
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// writeBackAll writes to Redis what it lacks of the replica: revocations
// that failed to reach it, and those it lost.
func (s *Store) writeBackAll(ctx context.Context, now time.Time) (int, error) {
	// Pipelines use EVALSHA, which cannot fall back to EVAL: a restarted
	// Redis has no scripts.
	if err := casScript.Load(ctx, s.client).Err(); err != nil {
		return 0, err
	}
	written, unreadable := 0, 0
	var err error
	batch := make([]entry, 0, writeBatch)
	flush := func() {
		var n, u int
		n, u, err = s.writeBackBatch(ctx, batch, now)
		written, unreadable = written+n, unreadable+u
		batch = batch[:0]
	}
	s.replica.Range(func(subject string, r revocation.Revoked) bool {
		if r = r.Expire(now); !r.IsZero() {
			batch = append(batch, entry{subject, r})
		}
		if len(batch) == writeBatch {
			flush()
		}
		return err == nil
	})
	if err == nil && len(batch) > 0 {
		flush()
	}
	if unreadable > 0 {
		s.log.Warn("redisstore: left fields of the hash this release cannot read (a later release's?) as they are; what this instance revoked of those subjects holds here only",
			"key", s.key, "fields", unreadable)
	}
	return written, err
}

// writeBackBatch writes back the entries Redis does not cover, in one
// pipeline with one message: every instance writes back what Redis lost,
// and every instance hears each message, so a message an entry would be
// instances² × entries deliveries. A field it cannot read, perhaps a later
// release's during a rolling deploy, is left as it is, as Revoke leaves
// it: merged as if empty, it would lose what it holds. It returns how many
// entries it wrote, and how many such fields it left.
func (s *Store) writeBackBatch(ctx context.Context, batch []entry, now time.Time) (written, unreadable int, err error) {
	fields := make([]string, len(batch))
	for i, e := range batch {
		fields[i] = subjectField(e.subject)
	}
	values, err := s.client.HMGet(ctx, s.key, fields...).Result()
	if err != nil {
		return 0, 0, err
	}
	type write struct {
		e        entry
		expected string
		cmd      *redis.Cmd
	}
	var writes []write
	var msg messageWriter
	for i, e := range batch {
		raw, _ := values[i].(string)
		cur, err := decodeRevoked(raw)
		if err != nil {
			unreadable++
			continue
		}
		if cur.Covers(e.revoked) {
			continue
		}
		next := cur.Expire(now).Merge(e.revoked.Expire(now))
		writes = append(writes, write{e: entry{e.subject, next}, expected: raw})
		msg.add(e.subject, encodeRevoked(next))
	}
	if len(writes) == 0 {
		return 0, unreadable, nil
	}
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range writes {
			w := &writes[i]
			value := encodeRevoked(w.e.revoked)
			w.cmd = casScript.EvalSha(ctx, p, []string{s.key}, s.casArgs(subjectField(w.e.subject), w.expected, value, w.e.revoked.MaxUntil(), "")...)
		}
		p.Publish(ctx, s.channel, msg.String())
		return nil
	})
	if err != nil {
		return 0, unreadable, err
	}
	for _, w := range writes {
		res, err := parseCAS(w.cmd.Result())
		if err != nil {
			return 0, unreadable, err
		}
		if !res.written {
			// Another instance wrote it meanwhile: merge with what it
			// wrote, one by one.
			if err := s.merge(ctx, w.e.subject, w.e.revoked, res.current, false, now); err != nil {
				return 0, unreadable, err
			}
		}
	}
	return len(writes), unreadable, nil
}

// sweep forgets the replica's expired entries and, on one instance at a
// time, rewrites the fields of the hash that hold expired entries. The
// hash expires on its own once every entry has; this keeps a hash that
// never stops being written from holding what may be forgotten.
func (s *Store) sweep(ctx context.Context, now time.Time) error {
	s.replica.Sweep(now)
	// Sweep forgets subjects whose entries all expired; an empty Add
	// trims the expired entries of the others.
	s.replica.Range(func(subject string, r revocation.Revoked) bool {
		if !r.Expire(now).Equal(r) {
			s.replica.Add(subject, revocation.Revoked{}, now)
		}
		return true
	})
	ok, err := s.client.SetNX(ctx, s.lockKey, newEpoch(), sweepInterval).Result()
	if err != nil || !ok {
		return err
	}
	if err := casScript.Load(ctx, s.client).Err(); err != nil {
		return err
	}
	rewritten := 0
	err = s.scan(ctx, func(fields []string) error {
		var cmds []*redis.Cmd
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := 0; i+1 < len(fields); i += 2 {
				if _, ok := fieldSubject(fields[i]); !ok {
					continue
				}
				r, err := decodeRevoked(fields[i+1])
				if err != nil {
					continue // reported by loads; not ours to delete
				}
				if e := r.Expire(now); !e.Equal(r) {
					// A write that lands first wins; the next sweep
					// trims it.
					cmds = append(cmds, casScript.EvalSha(ctx, p, []string{s.key},
						s.casArgs(fields[i], fields[i+1], encodeRevoked(e), e.MaxUntil(), "")...))
				}
			}
			return nil
		})
		rewritten += len(cmds)
		return err
	})
	if err == nil && rewritten > 0 {
		s.log.Info("redisstore: expired revocations removed from Redis", "fields", rewritten)
	}
	return err
}
