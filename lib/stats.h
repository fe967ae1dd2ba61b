/* The ring's counters: relaxed atomics bumped on the hot path, copied into
 * a caller's tr_stats on demand. */
#ifndef TICKETRING_LIB_STATS_H
#define TICKETRING_LIB_STATS_H

#include <stdatomic.h>

#include "ticketring/ticketring.h"

struct tri_counters {
    atomic_uint_fast64_t sealed;
    atomic_uint_fast64_t seal_no_key;
    atomic_uint_fast64_t seal_overdue;
    atomic_uint_fast64_t opened;
    atomic_uint_fast64_t opened_renew;
    atomic_uint_fast64_t refused_malformed;
    atomic_uint_fast64_t refused_unknown_key;
    atomic_uint_fast64_t refused_auth;
    atomic_uint_fast64_t refused_expired;
    atomic_uint_fast64_t refused_future;
    atomic_uint_fast64_t refused_sni;
    atomic_uint_fast64_t refused_alpn;
    atomic_uint_fast64_t refused_context;
    atomic_uint_fast64_t reloads;
    atomic_uint_fast64_t reload_failures;
    atomic_uint_fast64_t refused_unbound;
    atomic_uint_fast64_t opened_unbound;
    atomic_uint_fast64_t handshakes_full;
    atomic_uint_fast64_t handshakes_resumed;
    atomic_uint_fast64_t resumed_cross_node;
    atomic_uint_fast64_t tickets_renewed;
    atomic_uint_fast64_t early_accepted;
    atomic_uint_fast64_t early_refused_off;
    atomic_uint_fast64_t early_refused_stale;
    atomic_uint_fast64_t early_refused_node;
    atomic_uint_fast64_t early_refused_sni;
    atomic_uint_fast64_t early_refused_alpn;
    atomic_uint_fast64_t early_refused_replay;
    atomic_uint_fast64_t early_refused_full;
    atomic_uint_fast64_t early_refused_startup;
    atomic_uint_fast64_t early_refused_tls;
    atomic_uint_fast64_t early_refused_store;
    atomic_uint_fast64_t refused_other_format;
};

static inline void tri_count(atomic_uint_fast64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* Count a refused ticket under its TR_E_TICKET_* code, or refused early
 * data under its TR_E_REPLAY* / TR_E_EARLY_* code; 0 (nothing counted) for
 * any other code. */
int tri_count_refusal(struct tri_counters *c, int code);

#endif
