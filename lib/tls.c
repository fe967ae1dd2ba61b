/*
 * What a TLS integration with its own ticket format needs from the ring:
 * the key to seal or open with (as state the crypto backend prepared, so
 * key bytes never cross the public ABI) and a place to count outcomes.
 */
#include "other_format.h"
#include "ring.h"

int tr_ring_tls_key(tr_ring *r, const tr_crypto *crypto, const uint8_t *name,
                    tr_tls_key_fn fn, void *arg)
{
    struct tri_keyset *ks;
    const struct tri_key *k;
    int64_t now;
    uint32_t flags = 0;
    unsigned tok;
    int i, enc, rc;

    if (r == NULL || fn == NULL)
        return TR_E_INVAL;
    if (crypto == NULL || crypto != r->env.crypto || !tri_crypto_has_tls(crypto))
        return TR_E_BACKEND;
    now = tri_floor_s(tri_ring_now_ms(r));
    ks = tri_ring_enter(r, &tok);
    enc = tri_keyset_encrypt_index(ks, now);
    if (name == NULL) {
        if (enc < 0 || tri_seal_overdue(r, ks, enc, now)) {
            tri_ring_leave(r, tok);
            tri_count(&r->counters.seal_no_key);
            return TR_E_NO_ENCRYPT_KEY;
        }
        k = &ks->keys[enc];
        rc = fn(k->tls_state, k->name, 0, arg);
        tri_ring_leave(r, tok);
        if (rc == 0)
            tri_count(&r->counters.sealed);
        return rc;
    }
    i = tri_keyset_find(ks, name);
    /* A retired or revoked key is as good as unknown. */
    if (i < 0 || !tri_keyset_opens(ks, (uint32_t)i, now, (uint32_t)atomic_load(&r->lifetime),
                                   (uint32_t)atomic_load(&r->skew))) {
        rc = i < 0 && tri_is_v1_format(ks, name) ? TR_E_TICKET_OTHER_FORMAT : TR_E_TICKET_UNKNOWN_KEY;
        tri_ring_leave(r, tok);
        return rc;
    }
    /* As tr_ticket_open(): a key newer than ours (a node whose clock runs
     * ahead) is not renewed, that would move the ticket back to an older key. */
    if (enc >= 0 && i < enc)
        flags |= TR_TLS_KEY_RENEW;
    k = &ks->keys[i];
    rc = fn(k->tls_state, k->name, flags, arg);
    tri_ring_leave(r, tok);
    return rc;
}

int tr_ring_record(tr_ring *r, int32_t event)
{
    struct tri_counters *c;

    if (r == NULL)
        return TR_E_INVAL;
    c = &r->counters;
    switch (event) {
    case TR_EVENT_FULL_HANDSHAKE: tri_count(&c->handshakes_full); return 0;
    case TR_EVENT_RESUMED_HANDSHAKE: tri_count(&c->handshakes_resumed); return 0;
    case TR_EVENT_RESUMED_CROSS_NODE: tri_count(&c->resumed_cross_node); return 0;
    case TR_EVENT_TICKET_RENEWED: tri_count(&c->tickets_renewed); return 0;
    case TR_EVENT_TICKET_ACCEPTED: tri_count(&c->opened); return 0;
    case TR_EVENT_TICKET_ACCEPTED_OLD_KEY: tri_count(&c->opened_renew); return 0;
    case TR_EVENT_TICKET_UNBOUND: tri_count(&c->opened_unbound); return 0;
    case TR_EVENT_EARLY_ACCEPTED: tri_count(&c->early_accepted); return 0;
    default:
        return tri_count_refusal(c, event) ? 0 : TR_E_INVAL;
    }
}
