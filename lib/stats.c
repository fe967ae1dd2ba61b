#include <stddef.h>
#include <string.h>

#include "ring.h"

int tri_count_refusal(struct tri_counters *c, int code)
{
    switch (code) {
    case TR_E_TICKET_MALFORMED: tri_count(&c->refused_malformed); return 1;
    case TR_E_TICKET_UNKNOWN_KEY: tri_count(&c->refused_unknown_key); return 1;
    case TR_E_TICKET_AUTH: tri_count(&c->refused_auth); return 1;
    case TR_E_TICKET_EXPIRED: tri_count(&c->refused_expired); return 1;
    case TR_E_TICKET_FUTURE: tri_count(&c->refused_future); return 1;
    case TR_E_TICKET_SNI: tri_count(&c->refused_sni); return 1;
    case TR_E_TICKET_ALPN: tri_count(&c->refused_alpn); return 1;
    case TR_E_TICKET_CONTEXT: tri_count(&c->refused_context); return 1;
    case TR_E_TICKET_UNBOUND: tri_count(&c->refused_unbound); return 1;
    case TR_E_EARLY_OFF: tri_count(&c->early_refused_off); return 1;
    case TR_E_EARLY_STALE: tri_count(&c->early_refused_stale); return 1;
    case TR_E_EARLY_NODE: tri_count(&c->early_refused_node); return 1;
    case TR_E_EARLY_SNI: tri_count(&c->early_refused_sni); return 1;
    case TR_E_EARLY_ALPN: tri_count(&c->early_refused_alpn); return 1;
    case TR_E_REPLAY: tri_count(&c->early_refused_replay); return 1;
    case TR_E_REPLAY_FULL: tri_count(&c->early_refused_full); return 1;
    case TR_E_REPLAY_STARTUP: tri_count(&c->early_refused_startup); return 1;
    case TR_E_EARLY_TLS: tri_count(&c->early_refused_tls); return 1;
    case TR_E_REPLAY_STORE: tri_count(&c->early_refused_store); return 1;
    case TR_E_TICKET_OTHER_FORMAT: tri_count(&c->refused_other_format); return 1;
    default: return 0; /* caller errors (buffer, argument) are not refusals */
    }
}

int tr_ring_stats(tr_ring *r, tr_stats *out)
{
    tr_stats s;
    const struct tri_counters *c;
    size_t n;

    if (r == NULL || out == NULL || out->size < offsetof(tr_stats, sealed))
        return TR_E_INVAL;
    c = &r->counters;
    memset(&s, 0, sizeof(s));
    s.size = (uint32_t)(out->size < sizeof(s) ? out->size : sizeof(s));
#define LOAD(f) s.f = atomic_load_explicit(&c->f, memory_order_relaxed)
    LOAD(sealed);
    LOAD(seal_no_key);
    LOAD(seal_overdue);
    LOAD(opened);
    LOAD(opened_renew);
    LOAD(refused_malformed);
    LOAD(refused_unknown_key);
    LOAD(refused_auth);
    LOAD(refused_expired);
    LOAD(refused_future);
    LOAD(refused_sni);
    LOAD(refused_alpn);
    LOAD(refused_context);
    LOAD(reloads);
    LOAD(reload_failures);
    LOAD(refused_unbound);
    LOAD(opened_unbound);
    LOAD(handshakes_full);
    LOAD(handshakes_resumed);
    LOAD(resumed_cross_node);
    LOAD(tickets_renewed);
    LOAD(early_accepted);
    LOAD(early_refused_off);
    LOAD(early_refused_stale);
    LOAD(early_refused_node);
    LOAD(early_refused_sni);
    LOAD(early_refused_alpn);
    LOAD(early_refused_replay);
    LOAD(early_refused_full);
    LOAD(early_refused_startup);
    LOAD(early_refused_tls);
    LOAD(early_refused_store);
    LOAD(refused_other_format);
#undef LOAD
    /* An older caller's struct is a prefix of ours: copy what it knows. */
    n = s.size;
    memcpy(out, &s, n);
    return 0;
}
