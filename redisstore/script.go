package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// casScript writes one field of the hash if it still holds what the
// caller read: every writer merges with what is there, so no writer's
// revocation is overwritten by another's (a plain HSET would lose one of
// two concurrent sign-outs of one subject). It extends, never shortens,
// the key's expiry to the latest entry written, so that the hash expires
// in Redis once its last entry may be forgotten; EXPIRETIME needs Redis 7.
// It sets no expiry that is not later than Redis's TIME: EXPIREAT in the
// past deletes the key at once, epoch and every other field included, and
// the writer's clock may be behind Redis's. A hash without an expiry (a
// new epoch has none) then keeps none until a later write sets one; the
// sweep removes the fields that hold only what may be forgotten.
//
// KEYS[1] the hash; ARGV: field, expected (empty: absent), new (empty:
// delete), expire-at in Unix seconds (0 leaves it), channel, message
// (empty: none).
// It returns {1} when written, or {0, current} when the field differs.
var casScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then cur = '' end
if cur ~= ARGV[2] then return {0, cur} end
if ARGV[3] == '' then
  if cur ~= '' then redis.call('HDEL', KEYS[1], ARGV[1]) end
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  local at = tonumber(ARGV[4])
  if at > tonumber(redis.call('TIME')[1]) and redis.call('EXPIRETIME', KEYS[1]) < at then
    redis.call('EXPIREAT', KEYS[1], at)
  end
end
if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return {1}
`)

// epochScript returns the hash's epoch, creating it if it is missing, and
// Redis's time in milliseconds. The epoch carries its creation time on
// Redis's clock, so that a store can tell a young epoch (the set was just
// lost, and the instances that still hold its entries may not have written
// them back yet) using one clock only: Redis's.
//
// KEYS[1] the hash; ARGV[1] 32 random hex digits.
var epochScript = redis.NewScript(`
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
local e = redis.call('HGET', KEYS[1], 'epoch')
if not e then
  e = ARGV[1] .. ':' .. now
  redis.call('HSET', KEYS[1], 'epoch', e)
end
return {e, now}
`)

// casResult is what casScript answered.
type casResult struct {
	written bool
	current string // when not written: what the field holds
}

// casArgs are casScript's arguments for one field.
func (s *Store) casArgs(field, expected, value string, until time.Time, message string) []any {
	at := int64(0)
	if value != "" && !until.IsZero() {
		at = until.Unix()
		if until.Nanosecond() != 0 {
			at++ // not before the entry's last moment: Redis has whole seconds
		}
	}
	return []any{field, expected, value, at, s.channel, message}
}

// parseCAS reads casScript's answer.
func parseCAS(v any, err error) (casResult, error) {
	if err != nil {
		return casResult{}, err
	}
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return casResult{}, fmt.Errorf("redisstore: unexpected answer from the write script: %v", v)
	}
	if n, _ := a[0].(int64); n == 1 {
		return casResult{written: true}, nil
	}
	if len(a) < 2 {
		return casResult{}, fmt.Errorf("redisstore: unexpected answer from the write script: %v", v)
	}
	cur, _ := a[1].(string)
	return casResult{current: cur}, nil
}

// readEpoch runs epochScript: the epoch in force (created if missing), its
// age on Redis's clock, and whether it could be read as this package
// writes it (one that cannot has an unknown age, taken as old).
func (s *Store) readEpoch(ctx context.Context, fresh string) (epoch string, age time.Duration, err error) {
	v, err := epochScript.Run(ctx, s.client, []string{s.key}, fresh).Result()
	if err != nil {
		return "", 0, err
	}
	a, ok := v.([]any)
	if !ok || len(a) != 2 {
		return "", 0, fmt.Errorf("redisstore: unexpected answer from the epoch script: %v", v)
	}
	epoch, _ = a[0].(string)
	nowStr, _ := a[1].(string)
	_, created, found := strings.Cut(epoch, ":")
	c, err1 := strconv.ParseInt(created, 10, 64)
	n, err2 := strconv.ParseInt(nowStr, 10, 64)
	if !found || err1 != nil || err2 != nil {
		return epoch, time.Duration(1<<62 - 1), nil
	}
	return epoch, time.Duration(n-c) * time.Millisecond, nil
}
