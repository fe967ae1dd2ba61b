/*
 * libticketring-etcd: a ring that follows a key schedule kept in a store
 * every node reaches (docs/etcd.md).
 *
 * One URL selects the source:
 *   file:/path/to/tickets.keys    the key file, loaded and watched
 *                                 (tr_ring_load + tr_ring_watch)
 *   etcd://host:port/prefix       the sealed key-set document
 *                                 <prefix>/<cluster>/keyset in etcd v3
 *                                 (through its JSON gateway), read with a
 *                                 watch and a jittered poll; each node
 *                                 writes <prefix>/<cluster>/nodes/<node id>
 *                                 under a lease as its heartbeat.
 *
 * The document is the key file text sealed with AES-256-GCM under a
 * key-encryption key (KEK) read from a local file: whoever can read or
 * write etcd can neither read the keys nor inject one, and a document with
 * a lower serial than the one held is refused (counted; the keys held
 * stay). Nodes never wait for the store in a handshake: the ring is the
 * only thing the handshake touches, and the follower swaps whole key sets
 * into it with tr_ring_load_buffer().
 *
 * Thread-safety: a tr_sync is configured (setters) by one thread before
 * tr_sync_start(); tr_sync_status() and tr_sync_metrics() may then be called
 * from any thread. tr_sync_step() is for callers that run no background
 * thread, and must not be mixed with tr_sync_start().
 */
#ifndef TICKETRING_ETCD_H
#define TICKETRING_ETCD_H

#include <stddef.h>
#include <stdint.h>

#include <ticketring/ticketring.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tr_sync tr_sync;

/* Create a follower for `ring` reading from source_url (see above; the
 * URL holds no credentials). The ring must outlive the follower. For an
 * etcd source the ring must be pinned to a cluster (tr_ring_set_cluster,
 * or a local key file naming one) by tr_sync_start(). TR_E_INVAL for an
 * unknown scheme or a malformed URL. Thread-safe (distinct objects). */
TR_EXPORT int tr_sync_new(tr_sync **out, tr_ring *ring, const char *source_url);
/* Stop the thread (returns once it is gone: at most one request timeout),
 * withdraw this node's heartbeat (its lease revoked: at most one more
 * request timeout; writers stop waiting for the node at once), delete
 * nothing else in the store, wipe the KEK and credentials and free. NULL
 * is a no-op. */
TR_EXPORT void tr_sync_free(tr_sync *sync);

/* The node's id in heartbeats (1..64 characters of A-Z a-z 0-9 . _ -);
 * the default is the host name and process id. */
TR_EXPORT int tr_sync_set_node_id(tr_sync *sync, const char *node_id);
/* A key-encryption key file (one line: "<kek id> <64 hex digits>", mode
 * 0600 or stricter, else TR_E_KEYFILE_MODE). Up to two: the first seals,
 * both open (a KEK rotation). Read once, here; the key is kept locked out
 * of logs and wiped on free. Required for an etcd source. */
TR_EXPORT int tr_sync_set_kek_file(tr_sync *sync, const char *path);
/* etcd authentication: a user name and a file holding its password
 * (trailing newline ignored), or a file holding a token. Read here; never
 * logged. The file must be private (mode 0600 or stricter, else
 * TR_E_KEYFILE_MODE), like the KEK file. */
TR_EXPORT int tr_sync_set_password_file(tr_sync *sync, const char *user,
                                        const char *password_path);
TR_EXPORT int tr_sync_set_token_file(tr_sync *sync, const char *path);
/* A local key file to start from when the store cannot be reached (a
 * bootstrap copy): loaded by tr_sync_start() if it exists, then the store's
 * newer documents replace it. */
TR_EXPORT int tr_sync_set_local_file(tr_sync *sync, const char *path);
/* Poll interval (100..3600000 ms, jittered by up to a quarter; default
 * 30000; while the store is unreachable, every 2 s at most), heartbeat lease TTL (2..3600 s; default 10; written every third
 * of it) and request timeout (100..60000 ms; default 2000). */
TR_EXPORT int tr_sync_set_intervals(tr_sync *sync, uint32_t poll_ms, uint32_t heartbeat_ttl_s,
                                    uint32_t timeout_ms);
/* What this follower does (a mask): TR_SYNC_ROLE_READER follows the
 * document into the ring and writes heartbeats (a serving node; the
 * default); TR_SYNC_ROLE_WRITER also plans and writes the schedule (see
 * tr_sync_set_schedule). A writer without the reader role (a rotation
 * daemon) writes no heartbeat, so it never holds an activation back.
 * TR_E_INVAL for 0 or unknown bits, a file source, or after
 * tr_sync_start() (like every setter: one thread, before starting). */
#define TR_SYNC_ROLE_READER 1u
#define TR_SYNC_ROLE_WRITER 2u
TR_EXPORT int tr_sync_set_role(tr_sync *sync, uint32_t roles);
/* The writer's schedule (docs/etcd.md, "Rotation"): a new key is added
 * pending (every node decrypts with it) and dated only once every live
 * heartbeat reports the serial that added it and lead_s has passed, at
 * the earliest one period after the newest key's activation; after
 * max_wait_s (>= lead_s) it is dated anyway, counted as a forced
 * activation naming the lagging nodes. Keys are dropped once their
 * successor has been active for lifetime_s + skew_s; `ahead` keys
 * (1..8) are kept pending or dated in the future. period_s 1..31536000,
 * lead_s 0..86400, max_wait_s lead_s..604800, lifetime_s 1..604800,
 * skew_s 0..3600. Defaults: 3600, 120, 360, 86400, 60, 1. One thread,
 * before tr_sync_start() (TR_E_INVAL after). */
TR_EXPORT int tr_sync_set_schedule(tr_sync *sync, uint32_t period_s, uint32_t lead_s,
                                   uint32_t max_wait_s, uint32_t lifetime_s, uint32_t skew_s,
                                   uint32_t ahead);
/* Log sink for state changes and refusals (one line each, never a secret;
 * called from the follower's thread, and from the thread calling
 * tr_sync_publish or tr_sync_nodes). Default: none. */
TR_EXPORT int tr_sync_set_log(tr_sync *sync, tr_log_fn fn, void *arg);

/* Start following in a background thread: the first read happens before it
 * returns (0 even when the store is down: the node then serves the local
 * key file, or is not ready). TR_E_INVAL without a KEK or cluster for an
 * etcd source; a file source's first load error is returned. */
TR_EXPORT int tr_sync_start(tr_sync *sync);
/* One round without a thread (for servers with their own event loop): for
 * etcd a read, an apply when newer, and a heartbeat when due; for a file a
 * tr_ring_reload_check(). Blocks for at most the request timeout. *next_ms
 * (if non-NULL) is when to call again. Returns 0 or the round's error (the
 * node keeps serving either way). Not with tr_sync_start(). */
TR_EXPORT int tr_sync_step(tr_sync *sync, uint32_t *next_ms);

#define TR_SYNC_STARTING 0    /* no successful read or load yet */
#define TR_SYNC_SYNCED 1      /* the last read of the source succeeded */
#define TR_SYNC_UNREACHABLE 2 /* the last read failed; serving what is held */

typedef struct tr_sync_status {
    uint32_t size;  /* set by the caller to sizeof(tr_sync_status) */
    int32_t ready;  /* 1 once the first sync or key file load succeeded */
    int32_t state;  /* TR_SYNC_* */
    uint32_t reserved;
    uint64_t serial;       /* serial of the key set held (the ring's) */
    int64_t sync_age_ms;   /* since the last successful read; -1: never */
    uint64_t applied;      /* documents applied (newer key sets) */
    uint64_t refused_rollback;  /* lower serial than held */
    uint64_t refused_integrity; /* seal did not open (tampered, other KEK), malformed */
    uint64_t refused_cluster;   /* sealed for another cluster */
    uint64_t refused_kek;       /* sealed under a KEK id this node lacks */
    uint64_t refused_invalid;   /* opened, but the key file inside was refused */
    uint64_t store_errors;      /* failed requests to the store */
    uint64_t watch_resets;      /* watches canceled (compaction) or broken */
    uint64_t heartbeats;        /* heartbeats written */
    char fingerprint[TR_FINGERPRINT_HEX + 1]; /* the ring's, as of the status */
    /* since 0.5.0, the writer role: */
    uint64_t writes;            /* documents this writer stored */
    uint64_t conflicts;         /* compare-and-swaps lost to another writer (re-planned) */
    uint64_t forced;            /* activations this writer forced (nodes lagging) */
    uint64_t write_refused;     /* rounds that found a document it must not write over */
    uint64_t repairs;           /* spoiled documents (deleted, tampered, rolled back) rewritten */
} tr_sync_status;

/* Copy the follower's status (out->size set by the caller; fields beyond it
 * are not written). Thread-safe. */
TR_EXPORT int tr_sync_status_get(tr_sync *sync, tr_sync_status *out);
/* The status as Prometheus text (ticketring_keyset_* and
 * ticketring_sync_* families), to append to a server's /metrics; *len the
 * bytes written (NUL-terminated). TR_E_BUFFER_TOO_SMALL when it does not
 * fit. Thread-safe. */
TR_EXPORT int tr_sync_metrics(tr_sync *sync, char *buf, size_t cap, size_t *len);

/* Writer: seal `text` (a whole key file of the follower's cluster, serial
 * above the stored document's) and store it with a compare-and-swap on the
 * revision read. TR_E_KEYFILE_ROLLBACK when the stored serial is not lower,
 * TR_E_CONFLICT when another writer won (re-read and retry), TR_E_STORE
 * when the store cannot be reached. Needs a KEK and the ring's cluster; uses
 * its own connection, so it may run next to a started follower (calls to
 * it and to tr_sync_nodes are serialized). The caller wipes text. */
TR_EXPORT int tr_sync_publish(tr_sync *sync, const char *text, size_t len);

/* Writer: mark the key named `name` revoked in the stored document (an
 * emergency: the key leaked). Every node stops encrypting and decrypting
 * with it as soon as it applies the document; a writer then dates the next
 * key without waiting for its period. TR_E_KEY_NOT_FOUND when the document
 * holds no such key, TR_E_CONFLICT when other writers kept winning, errors
 * as tr_sync_publish otherwise. Blocks for a few request timeouts at most.
 * Thread-safe. */
TR_EXPORT int tr_sync_revoke(tr_sync *sync, const uint8_t name[TR_KEY_NAME_BYTES]);
/* The stored document's schedule for people (opened with the KEK): one
 * line per key (name, activation or pending, revoked, the serial that
 * added it) and the forced activations (count, the last one's key and
 * lagging nodes). Never a secret. *len bytes written, NUL-terminated;
 * TR_E_BUFFER_TOO_SMALL when it does not fit. Thread-safe. */
TR_EXPORT int tr_sync_describe(tr_sync *sync, char *buf, size_t cap, size_t *len);

/* One heartbeat per live node: id, fingerprint, serial, sync age when
 * written and the time written (ms since the epoch). Returning non-zero
 * stops the listing. */
typedef int (*tr_sync_node_fn)(void *arg, const char *node_id, const char *fingerprint,
                               uint64_t serial, int64_t sync_age_ms, int64_t written_ms);
/* List the live heartbeats of the follower's cluster (an etcd source; its
 * ring pinned to the cluster). Needs no KEK: heartbeats are not secret. */
TR_EXPORT int tr_sync_nodes(tr_sync *sync, tr_sync_node_fn fn, void *arg);

#ifdef __cplusplus
}
#endif

#endif
