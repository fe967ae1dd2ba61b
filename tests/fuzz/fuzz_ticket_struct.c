/*
 * Fuzz target: tr_ticket_open() on tickets that get past the key name and
 * the tag. The input describes a ticket the harness seals itself, straight
 * from docs/ticket-format.md, under any key of the fixed ring (or one it
 * does not hold), with any issue and auth times, binding and state (or
 * that the ring seals with tr_ticket_seal()), then byte edits to apply to
 * it; and the SNI, ALPN and context to open it with.
 *
 * The expected result is computed from the documented rules alone (in
 * 128-bit arithmetic, so no time overflows here) and must be exactly what
 * tr_ticket_open() returns: an edited ticket never opens, an unedited one
 * opens under an openable key unless its times or binding say otherwise,
 * and an accepted one gives back exactly what was sealed.
 *
 * Input (fields past the end read as zeros):
 *   key(1)  flags(1)
 *   times: flags & ABS_TIMES ? issue_ms(8) auth_time(8) (raw int64)
 *                            : issue offset ms(4) auth offset s(4) (int32,
 *                              back from now; auth offset INT32_MIN: 0)
 *   salt(16) nonce(12)
 *   sealed SNI, ALPN, context: len(1) bytes each
 *   presented SNI, ALPN, context when their flag is set: len(1) bytes each
 *   state: len(2) bytes
 *   edits, up to 16: op(1) pos(2) val(1)
 */
#include <string.h>

#include "fuzz.h"

#define ABS_TIMES 0x01u
#define OTHER_SNI 0x02u
#define OTHER_ALPN 0x04u
#define OTHER_CTX 0x08u
#define RING_SEALS 0x10u
#define NO_BIND_SNI 0x20u
#define NO_BIND_ALPN 0x40u
#define LONG_SNI 0x80u

#define MAX_EDITS 16
#define BUF_BYTES (TR_TICKET_MAX_BYTES + MAX_EDITS * 256)
#define FILL 0x5A

static tr_ring *ring;
static uint8_t sealed[TR_TICKET_MAX_BYTES];
static uint8_t ticket[BUF_BYTES];
static uint8_t state_in[TR_TICKET_MAX_STATE];
static uint8_t state_out[TR_TICKET_MAX_STATE];

struct field {
    uint8_t b[512];
    size_t len;
};

static void read_field(struct fz_reader *r, struct field *f)
{
    f->len = fz_u8(r);
    fz_bytes(r, f->b, f->len);
}

static int same_host(const struct field *a, const struct field *b)
{
    if (a->len != b->len)
        return 0;
    for (size_t i = 0; i < a->len; i++) {
        uint8_t x = a->b[i] >= 'A' && a->b[i] <= 'Z' ? (uint8_t)(a->b[i] + 32) : a->b[i];
        uint8_t y = b->b[i] >= 'A' && b->b[i] <= 'Z' ? (uint8_t)(b->b[i] + 32) : b->b[i];
        if (x != y)
            return 0;
    }
    return 1;
}

static int same(const struct field *a, const struct field *b)
{
    return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

/* "Opening, in order", steps 4 to 6, for an authentic ticket. */
static int expected(int64_t issue_ms, int64_t auth_time, uint8_t flags,
                    const struct field *sni, const struct field *alpn, const struct field *ctx,
                    const struct field *p_sni, const struct field *p_alpn,
                    const struct field *p_ctx)
{
    int rc = fz_expected_times(issue_ms, auth_time);

    if (rc != 0)
        return rc;
    /* A presented SNI over 255 bytes matches nothing a ticket is sealed for. */
    if (!(flags & NO_BIND_SNI) && (p_sni->len > 255 || !same_host(sni, p_sni)))
        return TR_E_TICKET_SNI;
    if (!(flags & NO_BIND_ALPN) && !same(alpn, p_alpn))
        return TR_E_TICKET_ALPN;
    if (!same(ctx, p_ctx))
        return TR_E_TICKET_CONTEXT;
    return 0;
}

static size_t apply_edits(struct fz_reader *r, size_t len)
{
    for (int i = 0; i < MAX_EDITS && r->left >= 4; i++) {
        uint8_t op = fz_u8(r);
        uint16_t pos = fz_u16(r);
        uint8_t val = fz_u8(r);

        switch (op % 4) {
        case 0: /* flip bits */
            if (len > 0)
                ticket[pos % len] ^= val;
            break;
        case 1: /* truncate */
            len = pos % (len + 1);
            break;
        case 2: /* extend */
            memset(ticket + len, pos & 0xff, (size_t)val + 1);
            len += (size_t)val + 1;
            break;
        default: /* overwrite */
            if (len > 0)
                ticket[pos % len] = val;
            break;
        }
    }
    return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_reader r = {data, size};
    struct field sni, alpn, ctx, p_sni, p_alpn, p_ctx;
    uint8_t salt[16], nonce[12], name[TR_KEY_NAME_BYTES], key[TR_KEY_BYTES];
    int id = fz_u8(&r) % FZ_KEY_COUNT;
    uint8_t flags = fz_u8(&r);
    int64_t issue_ms, auth_time, got_auth = -1, age_ms = -1;
    size_t state_len, sealed_len, len, out_len = 0, body;
    uint32_t open_flags = 0;
    tr_stats before, after;
    int rc, want;

    if (ring == NULL)
        ring = fz_ring_new();
    fz_random_reset();
    if (flags & ABS_TIMES) {
        issue_ms = (int64_t)fz_u64(&r);
        auth_time = (int64_t)fz_u64(&r);
    } else {
        int32_t off_ms = (int32_t)fz_u32(&r), off_s = (int32_t)fz_u32(&r);
        issue_ms = FZ_NOW_MS - off_ms;
        auth_time = off_s == INT32_MIN ? 0 : FZ_NOW_S - off_s;
    }
    fz_bytes(&r, salt, sizeof(salt));
    fz_bytes(&r, nonce, sizeof(nonce));
    read_field(&r, &sni);
    read_field(&r, &alpn);
    read_field(&r, &ctx);
    p_sni = sni;
    p_alpn = alpn;
    p_ctx = ctx;
    if (flags & OTHER_SNI)
        read_field(&r, &p_sni);
    if (flags & OTHER_ALPN)
        read_field(&r, &p_alpn);
    if (flags & OTHER_CTX)
        read_field(&r, &p_ctx);
    if (flags & LONG_SNI) {
        p_sni.len = 256 + p_sni.len;
        memset(p_sni.b, 'a', p_sni.len);
    }
    state_len = fz_u16(&r) % (TR_TICKET_MAX_STATE + 1);
    state_len = fz_bytes(&r, state_in, state_len);

    if (flags & RING_SEALS) {
        /* The ring's own salt: the path that skips the key derivation. */
        int64_t a = auth_time >= 0 && auth_time <= FZ_NOW_S + FZ_SKEW ? auth_time : 0;
        rc = tr_ticket_seal(ring, state_in, state_len, sni.b, sni.len, alpn.b, alpn.len, ctx.b,
                            ctx.len, a, sealed, sizeof(sealed), &sealed_len, NULL);
        if (rc == TR_E_TICKET_EXPIRED)
            return 0; /* past max age: nothing to seal */
        FZ_CHECK(rc == 0);
        id = FZ_KEY_ENCRYPT;
        issue_ms = FZ_NOW_MS;
        auth_time = a != 0 ? a : FZ_NOW_S;
    } else {
        sealed_len = fz_seal_v1(id, salt, nonce, issue_ms, auth_time, sni.b, sni.len, alpn.b,
                                alpn.len, ctx.b, ctx.len, state_in, state_len, sealed);
    }
    FZ_CHECK(sealed_len == state_len + TR_TICKET_OVERHEAD);
    memcpy(ticket, sealed, sealed_len);
    len = apply_edits(&r, sealed_len);

    FZ_CHECK(tr_ring_set_bind_sni(ring, !(flags & NO_BIND_SNI)) == 0);
    FZ_CHECK(tr_ring_set_bind_alpn(ring, !(flags & NO_BIND_ALPN)) == 0);
    memset(state_out, FILL, sizeof(state_out));
    before = fz_stats(ring);
    rc = tr_ticket_open(ring, ticket, len, p_sni.b, p_sni.len, p_alpn.b, p_alpn.len, p_ctx.b,
                        p_ctx.len, state_out, sizeof(state_out), &out_len, name, &got_auth,
                        &age_ms, &open_flags);
    after = fz_stats(ring);
    FZ_CHECK(tr_ring_set_bind_sni(ring, 1) == 0);
    FZ_CHECK(tr_ring_set_bind_alpn(ring, 1) == 0);

    body = len >= TR_TICKET_OVERHEAD && len <= TR_TICKET_MAX_BYTES ? len - TR_TICKET_OVERHEAD : 0;
    fz_check_open_outcome(rc, &before, &after, state_out, sizeof(state_out), FILL, body);

    if (fz_verbose())
        fprintf(stderr, "  key %d: %s\n", id, rc == 0 ? "opened" : tr_strerror(rc));
    if (len != sealed_len || memcmp(ticket, sealed, len) != 0) {
        /* Any changed bit anywhere: refused. */
        FZ_CHECK(rc != 0);
        return 0;
    }
    want = fz_key_opens(id) ? expected(issue_ms, auth_time, flags, &sni, &alpn, &ctx, &p_sni,
                                       &p_alpn, &p_ctx)
                            : TR_E_TICKET_UNKNOWN_KEY;
    if (rc != want)
        fprintf(stderr, "key %d: tr_ticket_open() = %d (%s), expected %d (%s)\n", id, rc,
                tr_strerror(rc), want, tr_strerror(want));
    FZ_CHECK(rc == want);
    if (rc != 0)
        return 0;
    fz_key(id, key);
    FZ_CHECK(out_len == state_len && memcmp(state_out, state_in, state_len) == 0);
    FZ_CHECK(memcmp(name, key, TR_KEY_NAME_BYTES) == 0);
    FZ_CHECK(got_auth == auth_time);
    FZ_CHECK(age_ms == (FZ_NOW_MS > issue_ms ? FZ_NOW_MS - issue_ms : 0));
    /* Renewed exactly when opened with a key older than the encrypt key. */
    FZ_CHECK(open_flags == (id == FZ_KEY_DECRYPT ? TR_TICKET_RENEW : 0u));
    return 0;
}
