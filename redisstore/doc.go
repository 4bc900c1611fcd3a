// Package redisstore shares cookiesession's revocations between the
// instances of a fleet through Redis, so that a cookie signed out on one
// instance is refused by all of them.
//
//	store, err := redisstore.New(ctx, redis.NewClient(opt), redisstore.Options{})
//	...
//	defer store.Close()
//	sessions, err := cookiesession.New[Data](keys, cookiesession.WithRevocation(store))
//
// The session data stays in the cookie. What Redis holds is what was
// revoked, each entry only until every session it names has expired: the
// revocations made within one session lifetime.
//
// # A replica on every instance
//
// Check runs on every request, so it never waits on the network: each
// Store keeps a cookiesession.Revocations as a replica of the whole set,
// and Check is a lookup in it. Revoke adds the entry to the replica first,
// so this instance refuses the cookie at once, then, in one MULTI/EXEC,
// adds it to the sorted set in Redis and publishes it; every instance's
// subscriber adds what it receives to its replica.
//
// # Why Pub/Sub
//
// Pub/Sub delivers one message to every instance at once, and leaves
// nothing behind to trim. What it does not do is keep messages for an
// instance that is disconnected; that is covered by a full load of the
// sorted set on every subscription, the first and each one after a
// reconnection, which is also the recovery after a Redis restart. The
// order makes the load complete: an entry is added and published in one
// transaction, and the load starts once the subscription is confirmed, so
// every entry is either in the set when it is read or announced after.
//
// A stream would replay what an instance missed from its last id, but it
// needs trimming and a position kept per instance, and after a restart that
// lost the stream it needs the full load all the same. Client-side tracking
// is built to invalidate keys a client read and cached, not to deliver the
// members added to a set that keeps growing. Pub/Sub with a load on every
// subscription is the simplest design that is complete.
//
// # Layout in Redis
//
// One sorted set, <prefix>:entries (the prefix is DefaultPrefix unless
// Options.Prefix says otherwise), whose members are the revocations and
// whose scores are their Until in Unix seconds:
//
//	i|<32 hex digits of the session id>|<At in Unix seconds>
//	s|<At in Unix seconds>|<subject>
//
// and one channel, <prefix>:events, whose messages are
// "<Until>|<member>". A load reads the members whose score is after now
// (ZRANGE BYSCORE, in pages); expired members are removed with
// ZREMRANGEBYSCORE on every resynchronisation and every few minutes, by
// whichever instance is there. Redis 6.2 or later is needed.
//
// # Failures
//
//   - Redis unreachable at start: New returns at once and the instance
//     serves. Ready reports the replica not loaded; WaitReady waits for
//     it.
//   - Redis lost later, or a connection that died silently (found by
//     pinging within twice Options.PingInterval): the instance keeps
//     serving from its replica, and Ready reports since when it is stale.
//     go-redis reconnects; on every new subscription the store loads the
//     set again.
//   - A Revoke that cannot reach Redis: the entry is still added to the
//     replica, so this instance enforces it; Revoke returns an error (the
//     Manager reports it as cookiesession.ErrRevocationFailed, and still
//     clears the cookie); the entry is written back as soon as Redis can
//     be reached.
//   - Redis restarted without its data: every instance that reconnects
//     loads what is left and writes back, and publishes, the live entries
//     of its replica that Redis lacks. No revoked session comes back
//     while any instance still knows the revocation.
//   - An instance restarted: it loads the whole set before Ready returns
//     nil, so once it reports ready it refuses every cookie revoked
//     before.
//
// While the replica is stale, fail-open is the default: the revocations
// known before the outage, and those made on this instance during it, stay
// enforced; one made on another instance during the outage may be
// accepted here until the replica is in sync. The alternative,
// Options.FailClosedAfter, refuses every session that has a subject once
// the replica has been stale for longer than the bound
// (cookiesession.ErrRevocationsUnavailable): the Manager keeps those
// cookies, but a Redis outage makes every signed-in user anonymous until
// it ends. That is a decision for the application to make, not a default.
package redisstore
