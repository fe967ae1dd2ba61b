#include <stddef.h>
#include <string.h>

#include "keyfile.h"
#include "replay.h"
#include "ticketring/ticketring.h"

/* The statistics structs by index, so a binding never mirrors their layout
 * (docs/ABI.md). Each list below walks its struct field by field: X(prev, f)
 * says f follows prev with no gap, and the list ends at the struct's end.
 * A field appended to the header without being listed here, or listed out
 * of order, fails to compile, so a binding cannot miss a new counter. */

struct field {
    const char *name;
    size_t offset;
    size_t size;
};

#define SIZEOF_MEMBER(T, f) sizeof(((T *)0)->f)

#define STATS_FIELDS(X)                                                                    \
    X(reserved, sealed)                                                                    \
    X(sealed, seal_no_key)                                                                 \
    X(seal_no_key, seal_overdue)                                                           \
    X(seal_overdue, opened)                                                                \
    X(opened, opened_renew)                                                                \
    X(opened_renew, refused_malformed)                                                     \
    X(refused_malformed, refused_unknown_key)                                              \
    X(refused_unknown_key, refused_auth)                                                   \
    X(refused_auth, refused_expired)                                                       \
    X(refused_expired, refused_future)                                                     \
    X(refused_future, refused_sni)                                                         \
    X(refused_sni, refused_alpn)                                                           \
    X(refused_alpn, refused_context)                                                       \
    X(refused_context, reloads)                                                            \
    X(reloads, reload_failures)                                                            \
    X(reload_failures, refused_unbound)                                                    \
    X(refused_unbound, opened_unbound)                                                     \
    X(opened_unbound, handshakes_full)                                                     \
    X(handshakes_full, handshakes_resumed)                                                 \
    X(handshakes_resumed, resumed_cross_node)                                              \
    X(resumed_cross_node, tickets_renewed)                                                 \
    X(tickets_renewed, early_accepted)                                                     \
    X(early_accepted, early_refused_off)                                                   \
    X(early_refused_off, early_refused_stale)                                              \
    X(early_refused_stale, early_refused_node)                                             \
    X(early_refused_node, early_refused_sni)                                               \
    X(early_refused_sni, early_refused_alpn)                                               \
    X(early_refused_alpn, early_refused_replay)                                            \
    X(early_refused_replay, early_refused_full)                                            \
    X(early_refused_full, early_refused_startup)                                           \
    X(early_refused_startup, early_refused_tls)                                            \
    X(early_refused_tls, early_refused_store)                                              \
    X(early_refused_store, refused_other_format)
#define STATS_LAST refused_other_format

#define REPLAY_FIELDS(X)                                                                   \
    X(size, window_ms)                                                                     \
    X(window_ms, capacity)                                                                 \
    X(capacity, slots)                                                                     \
    X(slots, bytes)                                                                        \
    X(bytes, entries)                                                                      \
    X(entries, fresh)                                                                      \
    X(fresh, replays)                                                                      \
    X(replays, full)                                                                       \
    X(full, startup)                                                                       \
    X(startup, store_fresh)                                                                \
    X(store_fresh, store_replays)                                                          \
    X(store_replays, store_errors)
#define REPLAY_LAST store_errors

#define FOLLOWS(T, prev, f)                                                                \
    _Static_assert(offsetof(T, f) == offsetof(T, prev) + SIZEOF_MEMBER(T, prev),           \
                   #T "." #f " must follow " #prev " in lib/abi_info.c");                   \
    _Static_assert(SIZEOF_MEMBER(T, f) == sizeof(uint32_t) ||                              \
                       SIZEOF_MEMBER(T, f) == sizeof(uint64_t),                            \
                   #T "." #f ": field_value() reads only 32- and 64-bit counters");
#define STATS_FOLLOWS(prev, f) FOLLOWS(tr_stats, prev, f)
#define REPLAY_FOLLOWS(prev, f) FOLLOWS(tr_replay_stats, prev, f)
STATS_FIELDS(STATS_FOLLOWS)
REPLAY_FIELDS(REPLAY_FOLLOWS)
_Static_assert(offsetof(tr_stats, STATS_LAST) + SIZEOF_MEMBER(tr_stats, STATS_LAST) ==
                   sizeof(tr_stats),
               "a tr_stats field is missing from lib/abi_info.c");
_Static_assert(offsetof(tr_replay_stats, REPLAY_LAST) +
                       SIZEOF_MEMBER(tr_replay_stats, REPLAY_LAST) ==
                   sizeof(tr_replay_stats),
               "a tr_replay_stats field is missing from lib/abi_info.c");

#define STATS_ENTRY(prev, f) {#f, offsetof(tr_stats, f), SIZEOF_MEMBER(tr_stats, f)},
#define REPLAY_ENTRY(prev, f)                                                              \
    {#f, offsetof(tr_replay_stats, f), SIZEOF_MEMBER(tr_replay_stats, f)},
static const struct field stats_fields[] = {STATS_FIELDS(STATS_ENTRY)};
static const struct field replay_fields[] = {REPLAY_FIELDS(REPLAY_ENTRY)};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* A field's type is known here only by its width (FOLLOWS admits 32 and 64
 * bits); memcpy reads it without accessing the struct through another type. */
static uint64_t field_value(const void *base, const struct field *f)
{
    const unsigned char *p = (const unsigned char *)base + f->offset;
    uint64_t v64;
    uint32_t v32;

    if (f->size == sizeof(uint32_t)) {
        memcpy(&v32, p, sizeof(v32));
        return v32;
    }
    memcpy(&v64, p, sizeof(v64));
    return v64;
}

size_t tr_stats_count(void) { return COUNT(stats_fields); }

const char *tr_stats_name(size_t i)
{
    return i < COUNT(stats_fields) ? stats_fields[i].name : NULL;
}

int tr_ring_stat(tr_ring *ring, size_t i, uint64_t *value)
{
    tr_stats s;
    int rc;

    if (ring == NULL || value == NULL || i >= COUNT(stats_fields))
        return TR_E_INVAL;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    rc = tr_ring_stats(ring, &s);
    if (rc != 0)
        return rc;
    *value = field_value(&s, &stats_fields[i]);
    return 0;
}

size_t tr_replay_stats_count(void) { return COUNT(replay_fields); }

const char *tr_replay_stats_name(size_t i)
{
    return i < COUNT(replay_fields) ? replay_fields[i].name : NULL;
}

int tr_replay_stat(tr_replay *replay, size_t i, uint64_t *value)
{
    tr_replay_stats s;
    int rc;

    if (replay == NULL || value == NULL || i >= COUNT(replay_fields))
        return TR_E_INVAL;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    rc = tr_replay_get_stats(replay, &s);
    if (rc != 0)
        return rc;
    *value = field_value(&s, &replay_fields[i]);
    return 0;
}

/* Limits that were only macros or prose in the header, as functions. */
size_t tr_cluster_id_max(void) { return TRI_CLUSTER_MAX; }
size_t tr_replay_max_capacity(void) { return TR_REPLAY_MAX_CAPACITY; }
size_t tr_replay_value_max(void) { return TRI_REPLAY_VALUE_MAX; }
