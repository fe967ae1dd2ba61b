/*
 * The key store behind a follower, as the few operations the protocol needs
 * (docs/etcd.md). etcd implements it here (store_etcd.c); another engine
 * (Redis: GET, WATCH/MULTI/EXEC or a Lua compare-and-set, keyspace
 * notifications, SET PX) can implement the same table.
 *
 * A store object is used by one thread at a time. Every call is bounded by
 * the store's request timeout, and by `stop` (see tre_etcd_new) for the
 * long wait.
 */
#ifndef TICKETRING_ETCD_STORE_H
#define TICKETRING_ETCD_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct tre_store;

/* Called once per key by list(); non-zero stops the listing. */
typedef int (*tre_list_fn)(void *arg, const char *key, size_t key_len, const uint8_t *val,
                           size_t len);

struct tre_store_ops {
    const char *engine; /* "etcd": names the store in logs and metrics */
    /* The value of `key` (malloc'd into *val, *len; NULL and 0 when absent,
     * which is not an error), the revision that last changed it (*mod_rev,
     * 0 when absent) and the store's revision at the read (*rev). */
    int (*get)(struct tre_store *st, const char *key, uint8_t **val, size_t *len,
               int64_t *mod_rev, int64_t *rev);
    /* Write `key` only if it was last changed at expect_mod_rev (0: only if
     * absent). TR_E_CONFLICT when it was not; *new_rev (if non-NULL) the
     * revision written. */
    int (*cas)(struct tre_store *st, const char *key, const uint8_t *val, size_t len,
               int64_t expect_mod_rev, int64_t *new_rev);
    /* Wait until `key` changes after revision after_rev, or timeout_ms
     * passes: 1 when it changed or when the store cannot tell (a compacted
     * history: the caller re-reads), 0 on timeout, a TR_E_* code on error. */
    int (*wait)(struct tre_store *st, const char *key, int64_t after_rev, uint32_t timeout_ms);
    /* Write `key` so that it disappears ttl_s seconds after the writer's
     * last heartbeat (an etcd lease kept alive, re-granted when lost). */
    int (*heartbeat)(struct tre_store *st, const char *key, const uint8_t *val, size_t len,
                     uint32_t ttl_s);
    /* Withdraw the heartbeat at once (revoke its lease), so the fleet stops
     * counting this node without waiting for the TTL. */
    int (*leave)(struct tre_store *st);
    /* Every key under `prefix`, in key order. */
    int (*list)(struct tre_store *st, const char *prefix, tre_list_fn fn, void *arg);
    /* Close and free (credentials wiped). */
    void (*free)(struct tre_store *st);
};

struct tre_store {
    const struct tre_store_ops *ops;
    /* Non-zero: get() may answer from the member's own copy (etcd's
     * serializable read), which works without a quorum and may be a little
     * behind. Followers set it: a sealed document carries its serial, so a
     * stale one is only late, never wrong. Writers keep linearizable reads. */
    int serializable;
};

/* Authentication for a store: none, a user and password, or a token. */
struct tre_auth {
    char *user;     /* malloc'd, or NULL */
    char *password; /* malloc'd secret, or NULL */
    char *token;    /* malloc'd secret, or NULL */
};

/* The etcd gateway's watch stream, fed chunk by chunk through one json-c
 * tokener: 1 once an object other than "created" arrived (an event, a
 * cancel after compaction, an error, or garbage: the caller re-reads), 0
 * while nothing of the kind has. */
struct json_tokener;
int tre_watch_feed(struct json_tokener *tok, const char *buf, size_t len);

/* An etcd v3 store on its JSON gateway at http://host:port. `stop`, when
 * set non-zero by another thread, ends a wait() and any request early.
 * The auth strings are copied. */
int tre_etcd_new(struct tre_store **out, const char *host, unsigned port,
                 const struct tre_auth *auth, uint32_t timeout_ms, atomic_int *stop);

#endif
