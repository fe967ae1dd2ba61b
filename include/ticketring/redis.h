/*
 * libticketring-redis: a cluster-wide 0-RTT replay store on Redis, so early
 * data can be accepted on every node (docs/early-data.md, "Cluster-wide
 * mode"; docs/operations.md, "Replay store on Redis").
 *
 *   tr_redis *store;
 *   tr_redis_new(&store, "redis://10.0.0.5:6379/0", "/run/secrets/redis-password",
 *                "/run/secrets/replay-hash-key", "prod-eu");
 *   tr_redis_attach(store, replay, 2000, TR_REPLAY_ANY_NODE);
 *   tr_ring_set_early_data(ring, 16384, replay);
 *   ...
 *   tr_redis_free(store);     (after the ring and the cache are done with it)
 *
 * Each check is one `SET tr:<cluster>:r:<hex> 1 NX PX <ttl>` on a pooled
 * connection, within a strict time budget; a check the store cannot answer
 * in time is refused (the resumption goes on 1-RTT). Connections are made
 * and remade by one background thread, never by a handshake.
 */
#ifndef TICKETRING_REDIS_H
#define TICKETRING_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "ticketring/ticketring.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_redis tr_redis;

/* Connect a store (in the background: this returns at once, and checks
 * fail closed until a connection is up; one thread, until tr_redis_free). url: redis://host[:port][/db]
 * [?pool=N&connect_timeout_ms=N&user=NAME] (host a name, IPv4 or [IPv6];
 * port 6379, db 0, pool 4 (1..64), connect timeout 1000 ms (1..60000) by
 * default); a password in the URL is refused (TR_E_INVAL).
 * password_file: the password for AUTH (a trailing newline is dropped;
 * NULL: no AUTH). hash_key_file: the fleet-wide key (16..1024 bytes, used
 * as they are) under which values become Redis keys (HMAC-SHA256, 128
 * bits, hex): the same file on every node. Both files must not be
 * readable by group or others (TR_E_KEYFILE_MODE); their contents are
 * never logged and are wiped when freed. cluster_id: 1..64 characters of
 * A-Z a-z 0-9 . _ - naming the fleet's keyspace. Budget: 5 ms until
 * tr_redis_set_budget(). The caller owns *out (tr_redis_free). Thread-safe. */
TR_EXPORT int tr_redis_new(tr_redis **out, const char *url, const char *password_file,
                           const char *hash_key_file, const char *cluster_id);

/* Stop the background thread, close every connection, wipe the secrets
 * and free the store. It may wait for a connection attempt in progress
 * (each step of one is bounded by the connect timeout; a host name's DNS
 * lookup is the resolver's). NULL is a no-op. Not thread-safe: no check
 * may be running or start (free it after the rings and caches using it). */
TR_EXPORT void tr_redis_free(tr_redis *redis);

/* The most a check may take, waiting for a connection included (1..10000
 * ms; default 5). A check that runs out is refused and its connection,
 * which has a reply in flight, is closed and remade. Thread-safe. */
TR_EXPORT int tr_redis_set_budget(tr_redis *redis, uint32_t budget_ms);

/* Put the store behind `replay`: tr_replay_set_store(replay, <the store's
 * check>, redis, skew_ms, flags). The store must outlive the cache's use.
 * Not thread-safe: attach before the cache is shared. */
TR_EXPORT int tr_redis_attach(tr_redis *redis, tr_replay *replay, uint32_t skew_ms,
                              uint32_t flags);

/* One check, as the cache makes it: 0 when the fleet had not seen `value`
 * (1..1024 bytes; now recorded for at least ttl_ms, 1..86400000, from this
 * call), TR_E_REPLAY when it had, TR_E_REPLAY_STORE when the store could not
 * answer within the budget (counted by reason). In a forked child it always
 * answers TR_E_REPLAY_STORE (counted as down): the connections are the
 * parent's, so make the store in each worker after fork. Thread-safe. */
TR_EXPORT int tr_redis_check(tr_redis *redis, const uint8_t *value, size_t len, uint32_t ttl_ms);

/* The store's counters. Set `size` to sizeof(tr_redis_stats) first; fields
 * are only ever appended. */
typedef struct tr_redis_stats {
    uint32_t size;
    uint32_t budget_ms;
    uint32_t pool;           /* connections wanted */
    uint32_t up;             /* connections up now */
    uint64_t fresh;          /* checks the store answered "first seen" */
    uint64_t replays;        /* checks the store answered "seen" */
    uint64_t err_timeout;    /* no reply within the budget (the connection is remade) */
    uint64_t err_down;       /* no connection up, or it failed during the check */
    uint64_t err_busy;       /* every connection busy until the budget ran out */
    uint64_t err_reply;      /* Redis answered with an error or something unexpected */
    uint64_t connects;       /* connections made (the first ones included) */
    uint64_t connect_errors; /* attempts that failed (refused, timed out, AUTH) */
    uint64_t max_check_us;   /* the slowest check so far */
} tr_redis_stats;

/* Copy the counters into *out (out->size set by the caller). Thread-safe. */
TR_EXPORT int tr_redis_stats_get(tr_redis *redis, tr_redis_stats *out);

/* The counters in Prometheus text format (ticketring_redis_*), to append
 * to tr_ring_metrics()' output: NUL-terminated into buf, *len its length.
 * TR_E_BUFFER_TOO_SMALL when cap is not more than *len. Thread-safe. */
TR_EXPORT int tr_redis_metrics(tr_redis *redis, char *buf, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
