/*
 * The ring's early-data (0-RTT) policy: which resumptions may have their
 * early data processed (docs/early-data.md). The TLS integration extracts
 * the facts from its handshake; this file decides, so every backend
 * applies the same rules in the same order.
 */
#include <stdatomic.h>

#include "replay.h"
#include "ring.h"

#define EARLY_MAX_BYTES 16777216u

int tr_ring_set_early_data(tr_ring *r, uint32_t max_bytes, tr_replay *replay)
{
    if (r == NULL || max_bytes > EARLY_MAX_BYTES || (max_bytes > 0 && replay == NULL))
        return TR_E_INVAL;
    if (max_bytes == 0) {
        atomic_store_explicit(&r->early_max, 0, memory_order_release);
        atomic_store_explicit(&r->early_replay, NULL, memory_order_release);
        return 0;
    }
    /* Cache first: a reader that sees the maximum must find a cache. */
    atomic_store_explicit(&r->early_replay, replay, memory_order_release);
    atomic_store_explicit(&r->early_max, max_bytes, memory_order_release);
    return 0;
}

tr_replay *tri_ring_early_replay(tr_ring *r, uint32_t *max)
{
    *max = (uint32_t)atomic_load_explicit(&r->early_max, memory_order_acquire);
    return *max == 0 ? NULL : atomic_load_explicit(&r->early_replay, memory_order_acquire);
}

int tr_ring_early_data_max(tr_ring *r, uint32_t *max_bytes)
{
    if (r == NULL || max_bytes == NULL)
        return TR_E_INVAL;
    (void)tri_ring_early_replay(r, max_bytes);
    return 0;
}

int tr_ring_early_data_tag(tr_ring *r, uint64_t *tag)
{
    tr_replay *rp;
    uint32_t max;

    if (r == NULL || tag == NULL)
        return TR_E_INVAL;
    rp = tri_ring_early_replay(r, &max);
    *tag = rp != NULL ? tri_replay_process_tag(rp) : 0;
    return 0;
}

/* RFC 8446 8.3: the time the ClientHello should have arrived, by the
 * ticket's issue time and the age the client reports, must be near now:
 *   expected - window/4 - skew <= now < expected + window - window/4 + skew
 * Without a store the issuer's clock is this process's (node binding), so
 * skew is 0 and the interval is one window long (half-open, like the
 * cache's memory of a value): a ClientHello can pass only while the cache
 * would find it again, so a replay is either found or too stale. It leans
 * late because real clients arrive late: the round trip adds to the
 * server's view, and OpenSSL clients report whole seconds rounded down,
 * minus one more (up to 2 s under). With TR_REPLAY_ANY_NODE the issuer
 * is another node's clock, up to skew off ours both ways; the interval is
 * then window + 2 skew on this node's clock, and the store remembers a
 * value window + 3 skew, which covers two nodes whose clocks differ by
 * skew (docs/early-data.md, "Cluster-wide mode"). */
static int fresh(int64_t now, int64_t issue_ms, uint32_t client_age_ms, uint32_t window_ms,
                 uint32_t skew_ms)
{
    int64_t early = window_ms / 4, late = (int64_t)window_ms - early, d;

    if (issue_ms < 0 || issue_ms > INT64_MAX / 2 || now < 0 || now > INT64_MAX / 2)
        return 0;
    d = now - (issue_ms + (int64_t)client_age_ms);
    return d >= -early - (int64_t)skew_ms && d < late + (int64_t)skew_ms;
}

int tr_ring_check_early_data(tr_ring *r, uint64_t ticket_tag, int64_t issue_ms,
                             uint32_t client_age_ms, const uint8_t *value, size_t value_len)
{
    tr_replay *rp;
    uint32_t max, skew = 0;
    int any_node;

    if (r == NULL || value == NULL || value_len == 0 || value_len > TRI_REPLAY_VALUE_MAX)
        return TR_E_INVAL;
    rp = tri_ring_early_replay(r, &max);
    if (rp == NULL)
        return TR_E_EARLY_OFF;
    /* A zero tag is a ticket issued with early data off anywhere: its
     * client was never told it may send early data under this policy. */
    any_node = tri_replay_any_node(rp, &skew);
    if (ticket_tag == 0 || (!any_node && ticket_tag != tri_replay_process_tag(rp)))
        return TR_E_EARLY_NODE;
    if (!fresh(tri_ring_now_ms(r), issue_ms, client_age_ms, tri_replay_window_ms(rp),
               any_node ? skew : 0))
        return TR_E_EARLY_STALE;
    return tr_replay_check(rp, value, value_len);
}
