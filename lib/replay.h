/*
 * The replay cache's internals, for the ring's early-data policy and the
 * tests. The table is an array of 64-byte buckets, each one cache line
 * with its own lock and four (tag, expiry) entries; the tag is the value's
 * keyed 64-bit SipHash, whose low bits pick the home bucket. A full bucket
 * spills into the next ones (at most TRI_REPLAY_MAX_SPILL, never wrapping:
 * the table has that many extra buckets at its end). Expired entries are
 * reclaimed wherever a check meets them.
 */
#ifndef TICKETRING_LIB_REPLAY_H
#define TICKETRING_LIB_REPLAY_H

#include <stdint.h>

#include "siphash.h"
#include "ticketring/ticketring.h"

/* Longest value tr_replay_check() takes. */
#define TRI_REPLAY_VALUE_MAX 1024

#define TRI_REPLAY_BUCKET_SLOTS 4
#define TRI_REPLAY_MAX_SPILL 32

/* tr_replay_new_with_allocator() with the number of home buckets forced (a
 * power of two; 0: the default rule, 4 * homes >= 2 * capacity), for tests
 * that want a crowded table. */
int tri_replay_new_sharded(tr_replay **out, uint32_t capacity, uint32_t window_ms,
                           uint32_t homes, tr_malloc_fn malloc_fn, tr_free_fn free_fn,
                           void *arg);

/* Replace the hash key (tests force collisions with a known key). Not
 * thread-safe; the cache must be empty. */
void tri_replay_set_hash_key(tr_replay *rp, const uint8_t key[TRI_SIPHASH_KEY_BYTES]);

/* The tag of `value` (never 0) and its home bucket. */
uint64_t tri_replay_tag(const tr_replay *rp, const uint8_t *value, size_t len);
uint32_t tri_replay_home_of(const tr_replay *rp, uint64_t tag);
/* Home buckets, and the buckets a full one may spill into:
 * min(homes, TRI_REPLAY_MAX_SPILL). */
uint32_t tri_replay_homes(const tr_replay *rp);
uint32_t tri_replay_spill(const tr_replay *rp);

/* The ring's early-data tag of this cache in the calling process (never
 * 0): a keyed hash of the cache's random instance id and the process id. */
uint64_t tri_replay_process_tag(const tr_replay *rp);

/* Largest skew tr_replay_set_store() takes. */
#define TRI_REPLAY_SKEW_MAX_MS 60000u

/* Non-zero when a store is set with TR_REPLAY_ANY_NODE: rings using the
 * cache then accept any node's tickets. *skew_ms: the store's skew (0
 * without a store). */
int tri_replay_any_node(const tr_replay *rp, uint32_t *skew_ms);

/* How long the store must remember a value: window + 3 * skew
 * (docs/early-data.md, "Cluster-wide mode"). */
uint32_t tri_replay_store_ttl_ms(const tr_replay *rp);

/* The cache's window in milliseconds. */
uint32_t tri_replay_window_ms(const tr_replay *rp);

#endif
