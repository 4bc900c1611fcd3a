// Package redisstore shares cookiesession's revocations between the
// instances of a fleet through Redis, so that a cookie signed out on one
// instance is refused by all of them.
//
//	store, err := redisstore.New(ctx, redis.NewClient(opt))
//	...
//	defer store.Close()
//	sessions, err := cookiesession.New[Data](keys,
//		cookiesession.WithSubject(func(d Data) string { return d.User }),
//		cookiesession.WithRevocation(store))
//
// The session data stays in the cookie. What Redis holds is what was
// revoked of signed-in sessions, one revocation.Revoked per subject,
// each until every session it names has expired: the state grows with what
// signed-in users do, never with anonymous traffic, and one user's share is
// capped by revocation.MaxRevokedSessions (and, with device binding, 256
// answered challenges, each kept six minutes). No refusal compares two
// machines' clocks: a destroyed session is refused by its id, a user signed
// out everywhere by generation.
//
// # A replica on every instance
//
// Check runs on every request, so it never waits on the network: each
// Store keeps a revocation.Replica, and Check is a lookup in it. Revoke
// merges the revocation into the replica first, so this instance refuses
// the cookie at once, then merges it into the subject's field in Redis
// with a compare-and-set script that also publishes the merged state;
// every instance merges what it receives. The one merge rule is
// revocation.Revoked.Merge, in Go: the script only refuses to overwrite
// what another instance wrote meanwhile.
//
// # Layout in Redis
//
// One hash, <prefix>:revocations (the prefix is DefaultPrefix unless
// WithPrefix says otherwise):
//
//	epoch        <32 random hex digits>:<Redis time in ms at its creation>
//	s:<subject>  the subject's Revoked, in its binary form
//
// whose expiry is extended (never shortened) to the latest entry written,
// so it expires in Redis once its last entry may be forgotten; an expiry
// already past on Redis's clock is not set, as it would delete the hash at
// once. The channel is <prefix>:events:<db>, db being the client's
// database number: Pub/Sub is shared by every database of a server. Redis
// 7.0 or later is needed (EXPIRETIME).
//
// One hash, because Redis loses a key whole: FLUSHALL, eviction under any
// maxmemory-policy, a restart without data, expiry. The epoch goes with the
// entries, so every loss is seen, within one ping interval, by every store,
// which writes back what it holds. Recommended: maxmemory-policy
// noeviction; under another policy an eviction takes the whole hash, and is
// written back like any loss.
//
// # Checks, and failures
//
// Every ping interval (WithPingInterval), whatever the traffic, a store
// pings Redis over its subscription and reads the epoch over a pooled
// connection. Both answered is a good contact. The epoch missing or changed
// is a loss: the store logs a warning, loads the hash and writes back what
// it lacks, in pipelined compare-and-sets announced one message per batch.
// No answer within the ping interval: the store connects again.
//
// A store that loads a hash whose epoch is younger than twice the ping
// interval (on Redis's clock: it was just created, by this store or
// another) and has never loaded before waits that long, Down, before
// trusting it: the instances that still hold the lost entries find the new
// epoch and write them back meanwhile. So a store started right after a
// loss refuses every revoked cookie once WaitReady returns.
//
// Health says how a store is doing: Down before its first load, after
// Close, and while failing closed (take the instance out of service);
// Degraded while it serves what it knows but Redis has been silent for
// twice the ping interval, the subscription is lost, or a revocation made
// here awaits write-back (Redis out of memory, for one); Healthy otherwise.
// Ready is nil unless Down, so a load balancer that follows it does not
// pull every instance at once for trouble they all share.
//
// A Revoke that Redis does not take (unreachable, out of memory) stays
// enforced on this instance, is logged at Error level, makes Health
// Degraded, and returns an error, which the Manager reports as
// cookiesession.ErrRevocationFailed; the store writes it back as soon as
// Redis takes it.
//
// While Redis is silent, fail-open is the default: the revocations known
// stay enforced, and those made on this instance; one made on another
// instance meanwhile may be accepted here until Redis answers.
// WithFailClosedAfter refuses every session with a subject once the
// last good contact is older than the bound
// (cookiesession.ErrRevocationsUnavailable): the Manager keeps those
// cookies, but a Redis outage makes every signed-in user anonymous until
// it ends. That is a decision for the application, not a default.
package redisstore
