/*
 * Generic ticket format v1 (docs/ticket-format.md):
 *
 *   version(1)=1 | key name(16) | salt(16) | nonce(12)          header, AAD
 *   AES-256-GCM under HKDF-Expand(key secret, label | salt) of
 *     issue time ms(8) | auth time s(8) | SHA-256/128 of SNI(16)
 *     | of ALPN(16) | of application context(16) | session state
 *   | tag(16)
 */
#include <string.h>

#include "bytes.h"
#include "fork.h"
#include "other_format.h"
#include "ring.h"
#include "secure.h"

#define HDR_BYTES (1 + TR_KEY_NAME_BYTES + TRI_SALT_BYTES + TRI_AEAD_NONCE_BYTES)
#define DIGEST_BYTES 16
#define META_BYTES (8 + 8 + 3 * DIGEST_BYTES)
#define FORMAT_V1 TRI_TICKET_FORMAT_V1
#define SNI_MAX 255
#define ALPN_MAX 255
#define APP_CTX_MAX 65535

_Static_assert(HDR_BYTES + META_BYTES + TRI_AEAD_TAG_BYTES == TR_TICKET_OVERHEAD,
               "TR_TICKET_OVERHEAD must match the v1 layout");
_Static_assert(META_BYTES % 16 == 0, "backends take a 16-byte-aligned head");

struct meta {
    int64_t issue_ms;
    int64_t auth_time;
    uint8_t sni[DIGEST_BYTES];
    uint8_t alpn[DIGEST_BYTES];
    uint8_t app_ctx[DIGEST_BYTES];
};

static int digest(const tr_crypto *c, const uint8_t *v, size_t len, uint8_t out[DIGEST_BYTES])
{
    /* SHA-256 of the empty string, first 16 bytes: an absent SNI, ALPN or
     * context is common and costs no hash. */
    static const uint8_t empty[DIGEST_BYTES] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                                0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24};
    uint8_t full[TRI_SHA256_BYTES];
    int rc;

    if (len == 0) {
        memcpy(out, empty, DIGEST_BYTES);
        return 0;
    }
    rc = c->sha256(v, len, full);
    memcpy(out, full, DIGEST_BYTES);
    return rc == 0 ? 0 : TR_E_CRYPTO;
}

/* Host names compare without regard to ASCII case (RFC 6066 3, RFC 4343). */
static int sni_digest(const tr_crypto *c, const uint8_t *sni, size_t len,
                      uint8_t out[DIGEST_BYTES])
{
    uint8_t lower[SNI_MAX];
    for (size_t i = 0; i < len; i++)
        lower[i] = (sni[i] >= 'A' && sni[i] <= 'Z') ? (uint8_t)(sni[i] + 32) : sni[i];
    return digest(c, lower, len, out);
}

static int bytes_ok(const uint8_t *p, size_t len, size_t max)
{
    return (p != NULL || len == 0) && len <= max;
}

/* The last digest of each binding field, per thread: a server seals and
 * opens tickets for the same few host names, protocols and contexts over
 * and over, and three SHA-256 runs were a third of opening a ticket. The
 * inputs are not secret (they travel in clear in the ClientHello), and an
 * entry is used only for exactly the same bytes. */
#define MEMO_MAX 255
enum memo_field { MEMO_SNI, MEMO_ALPN, MEMO_CTX, MEMO_FIELDS };
struct memo {
    uint16_t len; /* 0: empty (the empty input needs no memo) */
    uint8_t bytes[MEMO_MAX];
    uint8_t digest[DIGEST_BYTES];
};
static _Thread_local struct memo memos[MEMO_FIELDS];

static int memo_digest(const tr_crypto *c, enum memo_field f, const uint8_t *v, size_t len,
                       uint8_t out[DIGEST_BYTES])
{
    struct memo *m = &memos[f];
    int rc;

    if (len > 0 && len == m->len && memcmp(v, m->bytes, len) == 0) {
        memcpy(out, m->digest, DIGEST_BYTES);
        return 0;
    }
    rc = f == MEMO_SNI ? sni_digest(c, v, len, out) : digest(c, v, len, out);
    if (rc == 0 && len > 0 && len <= MEMO_MAX) {
        m->len = (uint16_t)len;
        memcpy(m->bytes, v, len);
        memcpy(m->digest, out, DIGEST_BYTES);
    }
    return rc;
}

static int binding_digests(const tr_crypto *c, const uint8_t *sni, size_t sni_len,
                           const uint8_t *alpn, size_t alpn_len, const uint8_t *app_ctx,
                           size_t app_ctx_len, struct meta *m)
{
    int rc = memo_digest(c, MEMO_SNI, sni, sni_len, m->sni);
    if (rc == 0)
        rc = memo_digest(c, MEMO_ALPN, alpn, alpn_len, m->alpn);
    if (rc == 0)
        rc = memo_digest(c, MEMO_CTX, app_ctx, app_ctx_len, m->app_ctx);
    return rc;
}

static void encode_meta(const struct meta *m, uint8_t out[META_BYTES])
{
    tri_put_be64(out, m->issue_ms);
    tri_put_be64(out + 8, m->auth_time);
    memcpy(out + 16, m->sni, DIGEST_BYTES);
    memcpy(out + 16 + DIGEST_BYTES, m->alpn, DIGEST_BYTES);
    memcpy(out + 16 + 2 * DIGEST_BYTES, m->app_ctx, DIGEST_BYTES);
}

/* The set to seal under: after a fork its salts belong to the parent and
 * must be redrawn before this process seals anything. */
static struct tri_keyset *enter_for_seal(tr_ring *r, unsigned *tok, int *rc)
{
    struct tri_keyset *ks = tri_ring_enter(r, tok);
    if (ks->salt_owner == tri_process_id())
        return ks;
    tri_ring_leave(r, *tok);
    *rc = tri_ring_resalt(r, 1);
    if (*rc != 0)
        return NULL;
    ks = tri_ring_enter(r, tok);
    if (ks->salt_owner == tri_process_id())
        return ks;
    tri_ring_leave(r, *tok);
    *rc = TR_E_CRYPTO;
    return NULL;
}

int tr_ticket_seal(tr_ring *r, const uint8_t *state, size_t state_len,
                   const uint8_t *sni, size_t sni_len, const uint8_t *alpn, size_t alpn_len,
                   const uint8_t *app_ctx, size_t app_ctx_len, int64_t auth_time,
                   uint8_t *ticket, size_t ticket_cap, size_t *ticket_len, uint32_t *lifetime)
{
    uint8_t meta_buf[META_BYTES];
    struct meta m;
    struct tri_keyset *ks;
    const struct tri_key *k;
    uint64_t uses;
    int64_t now_ms, now;
    uint32_t life, skew;
    unsigned tok;
    int enc, rc = 0;

    if (r == NULL || ticket == NULL || ticket_len == NULL ||
        !bytes_ok(state, state_len, TR_TICKET_MAX_STATE) || !bytes_ok(sni, sni_len, SNI_MAX) ||
        !bytes_ok(alpn, alpn_len, ALPN_MAX) || !bytes_ok(app_ctx, app_ctx_len, APP_CTX_MAX) ||
        auth_time < 0)
        return TR_E_INVAL;
    if (ticket_cap < state_len + TR_TICKET_OVERHEAD)
        return TR_E_BUFFER_TOO_SMALL;

    now_ms = tri_ring_now_ms(r);
    now = tri_floor_s(now_ms);
    skew = (uint32_t)atomic_load(&r->skew);
    if (auth_time == 0)
        auth_time = now;
    if (auth_time > now + (int64_t)skew)
        return TR_E_INVAL;
    rc = tri_lifetime_left(r, now, auth_time, &life);
    if (rc != 0)
        return rc;

    m.issue_ms = now_ms;
    m.auth_time = auth_time;
    rc = binding_digests(r->env.crypto, sni, sni_len, alpn, alpn_len, app_ctx, app_ctx_len, &m);
    if (rc != 0)
        return rc;
    encode_meta(&m, meta_buf);

    ks = enter_for_seal(r, &tok, &rc);
    if (ks == NULL)
        return rc;
    enc = tri_keyset_encrypt_index(ks, now);
    if (enc < 0 || tri_seal_overdue(r, ks, enc, now)) {
        tri_ring_leave(r, tok);
        tri_count(&r->counters.seal_no_key);
        return TR_E_NO_ENCRYPT_KEY;
    }
    uses = atomic_fetch_add_explicit(&ks->seal_uses, 1, memory_order_relaxed);
    if (uses >= TRI_SEAL_HARD_LIMIT) {
        tri_ring_leave(r, tok);
        tri_ring_resalt(r, 0);
        tri_count(&r->counters.seal_no_key);
        return TR_E_NO_ENCRYPT_KEY;
    }
    k = &ks->keys[enc];
    ticket[0] = FORMAT_V1;
    memcpy(ticket + 1, k->name, TR_KEY_NAME_BYTES);
    memcpy(ticket + 1 + TR_KEY_NAME_BYTES, k->seal_salt, TRI_SALT_BYTES);
    rc = tri_random(&r->env, ticket + 1 + TR_KEY_NAME_BYTES + TRI_SALT_BYTES,
                    TRI_AEAD_NONCE_BYTES);
    if (rc == 0)
        rc = r->env.crypto->aead_seal(k->seal_subkey, ticket + HDR_BYTES - TRI_AEAD_NONCE_BYTES,
                                      ticket, HDR_BYTES, meta_buf, META_BYTES, state,
                                      state_len, ticket + HDR_BYTES,
                                      ticket + HDR_BYTES + META_BYTES + state_len);
    tri_ring_leave(r, tok);
    tri_wipe(meta_buf, sizeof(meta_buf));
    if (rc != 0) {
        tri_wipe(ticket, state_len + TR_TICKET_OVERHEAD);
        return TR_E_CRYPTO;
    }
    /* Past the resalt point, the sealing thread that crosses it (and every
     * 2^20th one after, should that fail) publishes fresh salts. */
    if (uses + 1 >= TRI_RESALT_AFTER && ((uses + 1 - TRI_RESALT_AFTER) & 0xFFFFF) == 0)
        tri_ring_resalt(r, 0);
    tri_count(&r->counters.sealed);
    *ticket_len = state_len + TR_TICKET_OVERHEAD;
    if (lifetime != NULL)
        *lifetime = life;
    return 0;
}

/* Decrypt with the key set pinned; returns the key's index in *key_index
 * and whether the ticket should be renewed. */
static int decrypt(tr_ring *r, struct tri_keyset *ks, int64_t now, const uint8_t *ticket,
                   size_t len, uint8_t meta_buf[META_BYTES], uint8_t *state,
                   uint8_t name_out[TR_KEY_NAME_BYTES], uint32_t *flags)
{
    const uint8_t *name = ticket + 1;
    const uint8_t *salt = name + TR_KEY_NAME_BYTES;
    const uint8_t *nonce = salt + TRI_SALT_BYTES;
    uint8_t derived[TRI_AEAD_KEY_BYTES];
    const uint8_t *subkey;
    const struct tri_key *k;
    int i, enc, rc;

    i = tri_keyset_find(ks, name);
    /* A retired or revoked key is as good as unknown. */
    if (i < 0 || !tri_keyset_opens(ks, (uint32_t)i, now, (uint32_t)atomic_load(&r->lifetime),
                                   (uint32_t)atomic_load(&r->skew)))
        return TR_E_TICKET_UNKNOWN_KEY;
    k = &ks->keys[i];
    /* This process's own tickets skip the key derivation. */
    if (memcmp(salt, k->seal_salt, TRI_SALT_BYTES) == 0) {
        subkey = k->seal_subkey;
    } else {
        rc = tri_key_subkey(r->env.crypto, k, salt, derived);
        if (rc != 0)
            return TR_E_CRYPTO;
        subkey = derived;
    }
    rc = r->env.crypto->aead_open(subkey, nonce, ticket, HDR_BYTES, ticket + HDR_BYTES,
                                  len - HDR_BYTES - TRI_AEAD_TAG_BYTES,
                                  ticket + len - TRI_AEAD_TAG_BYTES, meta_buf, META_BYTES,
                                  state);
    tri_wipe(derived, sizeof(derived));
    if (rc != 0)
        return rc == TR_E_TICKET_AUTH ? rc : TR_E_CRYPTO;
    /* A ticket under a key newer than ours (a node whose clock runs ahead)
     * is not renewed: that would move it back to an older key. */
    enc = tri_keyset_encrypt_index(ks, now);
    *flags = (enc >= 0 && i < enc) ? TR_TICKET_RENEW : 0;
    memcpy(name_out, name, TR_KEY_NAME_BYTES);
    return 0;
}

static int check_meta(tr_ring *r, const struct meta *m, const struct meta *want,
                      int64_t now_ms)
{
    int rc = tri_check_times(r, m->issue_ms, m->auth_time, now_ms);
    if (rc != 0)
        return rc;
    if (atomic_load(&r->bind_sni) && !tri_ct_equal(m->sni, want->sni, DIGEST_BYTES))
        return TR_E_TICKET_SNI;
    if (atomic_load(&r->bind_alpn) && !tri_ct_equal(m->alpn, want->alpn, DIGEST_BYTES))
        return TR_E_TICKET_ALPN;
    if (!tri_ct_equal(m->app_ctx, want->app_ctx, DIGEST_BYTES))
        return TR_E_TICKET_CONTEXT;
    return 0;
}

int tr_ticket_open(tr_ring *r, const uint8_t *ticket, size_t ticket_len,
                   const uint8_t *sni, size_t sni_len, const uint8_t *alpn, size_t alpn_len,
                   const uint8_t *app_ctx, size_t app_ctx_len, uint8_t *state,
                   size_t state_cap, size_t *state_len,
                   uint8_t key_name_out[TR_KEY_NAME_BYTES], int64_t *auth_time,
                   int64_t *age_ms, uint32_t *flags)
{
    uint8_t meta_buf[META_BYTES];
    uint8_t name[TR_KEY_NAME_BYTES];
    struct meta m, want;
    struct tri_keyset *ks;
    size_t body;
    int64_t now_ms;
    uint32_t fl = 0;
    unsigned tok;
    int rc;

    if (r == NULL || ticket == NULL || state_len == NULL || (state == NULL && state_cap > 0) ||
        !bytes_ok(alpn, alpn_len, ALPN_MAX) || !bytes_ok(app_ctx, app_ctx_len, APP_CTX_MAX) ||
        (sni == NULL && sni_len > 0))
        return TR_E_INVAL;
    /* Bounds and version before any cryptography. */
    if (ticket_len < TR_TICKET_OVERHEAD || ticket_len > TR_TICKET_MAX_BYTES ||
        ticket[0] != FORMAT_V1) {
        ks = tri_ring_enter(r, &tok);
        rc = tri_is_openssl_format(ks, ticket, ticket_len) ? TR_E_TICKET_OTHER_FORMAT
                                                           : TR_E_TICKET_MALFORMED;
        tri_ring_leave(r, tok);
        tri_count_refusal(&r->counters, rc);
        return rc;
    }
    body = ticket_len - TR_TICKET_OVERHEAD;
    if (body > state_cap)
        return TR_E_BUFFER_TOO_SMALL;

    if (sni_len > SNI_MAX) {
        /* No ticket is ever sealed for such a name: a digest no SHA-256
         * prefix is expected to equal stands in for it. */
        rc = binding_digests(r->env.crypto, NULL, 0, alpn, alpn_len, app_ctx, app_ctx_len,
                             &want);
        memset(want.sni, 0xff, DIGEST_BYTES);
    } else {
        rc = binding_digests(r->env.crypto, sni, sni_len, alpn, alpn_len, app_ctx,
                             app_ctx_len, &want);
    }
    if (rc != 0)
        return rc;

    now_ms = tri_ring_now_ms(r);
    ks = tri_ring_enter(r, &tok);
    rc = decrypt(r, ks, tri_floor_s(now_ms), ticket, ticket_len, meta_buf, state, name,
                 &fl);
    /* An OpenSSL ticket whose key name happens to start with the version byte. */
    if (rc == TR_E_TICKET_UNKNOWN_KEY && tri_is_openssl_format(ks, ticket, ticket_len))
        rc = TR_E_TICKET_OTHER_FORMAT;
    tri_ring_leave(r, tok);
    if (rc == 0) {
        m.issue_ms = tri_get_be64(meta_buf);
        m.auth_time = tri_get_be64(meta_buf + 8);
        memcpy(m.sni, meta_buf + 16, DIGEST_BYTES);
        memcpy(m.alpn, meta_buf + 16 + DIGEST_BYTES, DIGEST_BYTES);
        memcpy(m.app_ctx, meta_buf + 16 + 2 * DIGEST_BYTES, DIGEST_BYTES);
        rc = check_meta(r, &m, &want, now_ms);
    }
    tri_wipe(meta_buf, sizeof(meta_buf));
    if (rc != 0) {
        tri_wipe(state, body);
        tri_count_refusal(&r->counters, rc);
        return rc;
    }
    tri_count(&r->counters.opened);
    if (fl & TR_TICKET_RENEW)
        tri_count(&r->counters.opened_renew);
    *state_len = body;
    if (key_name_out != NULL)
        memcpy(key_name_out, name, TR_KEY_NAME_BYTES);
    if (auth_time != NULL)
        *auth_time = m.auth_time;
    if (age_ms != NULL)
        *age_ms = now_ms > m.issue_ms ? now_ms - m.issue_ms : 0;
    if (flags != NULL)
        *flags = fl;
    return 0;
}
