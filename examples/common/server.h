/* What every thread of the server shares. */
#ifndef SERVER_SERVER_H
#define SERVER_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include <ticketring/ticketring.h>

#include "flags.h"

/* Counted by the server itself (not by the ring), so they also exist
 * without --keys. Relaxed atomics: they are independent counters. */
struct server_stats {
    atomic_uint_fast64_t handshakes_resumed;
    atomic_uint_fast64_t handshakes_full;
    atomic_uint_fast64_t handshakes_failed;
    atomic_uint_fast64_t rejected;    /* accepted over the connection cap and closed */
    atomic_uint_fast64_t active;      /* open connections */
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t early_served;    /* requests in early data answered (GET, HEAD) */
    atomic_uint_fast64_t early_too_early; /* requests in early data answered 425 */
    /* Of those, the answers written whole before the handshake completed
     * (0.5-RTT data). */
    atomic_uint_fast64_t half_rtt_served;
    atomic_uint_fast64_t half_rtt_too_early;
};

struct server {
    struct flags flags;
    struct tls *tls;   /* the backend's configuration (backend.h) */
    tr_ring *ring;     /* NULL without --keys: the TLS library's own tickets */
    struct tr_sync *sync; /* with --keys-source: the follower feeding the ring */
    int keys_loaded;   /* the key file loaded at start */
    struct server_stats stats;
};

static inline void stat_add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t stat_get(atomic_uint_fast64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
