#include "fuzz.h"

#include <string.h>

#include "crypto.h"

#ifdef TU_HAVE_OPENSSL
#include "ticketring/openssl.h"
#endif
#ifdef TU_HAVE_MBEDTLS
#include "ticketring/mbedtls.h"
#endif

int fz_verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("TR_FUZZ_VERBOSE") != NULL;
    return v;
}

void fz_key(int id, uint8_t key[TR_KEY_BYTES])
{
    /* Distinct names (the first byte is the id) and no all-zero part. */
    for (size_t i = 0; i < TR_KEY_BYTES; i++)
        key[i] = (uint8_t)(0x5b * (unsigned)(id + 1) + 0x1d * (unsigned)i + 1);
    key[0] = (uint8_t)(0xf0 | id);
}

int64_t fz_key_activation(int id)
{
    switch (id) {
    case FZ_KEY_RETIRED:
        return FZ_NOW_S - 30 * 86400;
    case FZ_KEY_DECRYPT:
        return FZ_NOW_S - 86400;
    case FZ_KEY_ENCRYPT:
        return FZ_NOW_S - 3600;
    case FZ_KEY_SOON:
        return FZ_NOW_S + 3600;
    case FZ_KEY_REVOKED:
        return FZ_NOW_S - 7200;
    default:
        return TR_ACTIVATION_PENDING;
    }
}

int fz_key_opens(int id)
{
    return id == FZ_KEY_DECRYPT || id == FZ_KEY_ENCRYPT || id == FZ_KEY_SOON ||
           id == FZ_KEY_PENDING;
}

const tr_crypto *fz_backend(void)
{
    const char *name = getenv("TR_FUZZ_BACKEND");
#ifdef TU_HAVE_OPENSSL
    if (name == NULL || name[0] == '\0' || strcmp(name, "openssl") == 0)
        return tr_crypto_openssl();
#endif
#ifdef TU_HAVE_MBEDTLS
    if (name == NULL || name[0] == '\0' || strcmp(name, "mbedtls") == 0)
        return tr_crypto_mbedtls();
#endif
    fprintf(stderr, "fuzz: TR_FUZZ_BACKEND=%s is not built\n", name != NULL ? name : "");
    abort();
}

static int64_t fixed_clock(void *arg)
{
    (void)arg;
    return FZ_NOW_MS;
}

static uint64_t random_counter;

static int counter_random(uint8_t *buf, size_t len, void *arg)
{
    (void)arg;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(0xA5 ^ random_counter++);
    return 0;
}

void fz_random_reset(void)
{
    random_counter = 0;
}

static tr_ring *empty_with(const tr_crypto *c)
{
    tr_ring *ring = NULL;

    FZ_CHECK(tr_ring_new(&ring, c) == 0);
    FZ_CHECK(tr_ring_set_clock(ring, fixed_clock, NULL) == 0);
    FZ_CHECK(tr_ring_set_random(ring, counter_random, NULL) == 0);
    FZ_CHECK(tr_ring_set_lifetime(ring, FZ_LIFETIME) == 0);
    FZ_CHECK(tr_ring_set_skew(ring, FZ_SKEW) == 0);
    FZ_CHECK(tr_ring_set_max_age(ring, FZ_MAX_AGE) == 0);
    return ring;
}

tr_ring *fz_ring_empty(void)
{
    return empty_with(fz_backend());
}

tr_ring *fz_ring_new(void)
{
    return fz_ring_with(fz_backend());
}

tr_ring *fz_ring_with(const tr_crypto *c)
{
    tr_ring *ring = empty_with(c);
    uint8_t key[TR_KEY_BYTES];

    for (int id = 0; id < FZ_KEY_UNKNOWN; id++) {
        fz_key(id, key);
        FZ_CHECK(tr_ring_add_key(ring, key, fz_key_activation(id)) == 0);
    }
    fz_key(FZ_KEY_REVOKED, key);
    FZ_CHECK(tr_ring_revoke_key(ring, key) == 0);
    memset(key, 0, sizeof(key));
    return ring;
}

static void digest16(const tr_crypto *c, const uint8_t *p, size_t len, int lower,
                     uint8_t out[16])
{
    uint8_t tmp[512], full[TRI_SHA256_BYTES];

    FZ_CHECK(len <= sizeof(tmp));
    for (size_t i = 0; i < len; i++)
        tmp[i] = lower && p[i] >= 'A' && p[i] <= 'Z' ? (uint8_t)(p[i] + 32) : p[i];
    FZ_CHECK(c->sha256(tmp, len, full) == 0);
    memcpy(out, full, 16);
}

static void put_be64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--, u >>= 8)
        p[i] = (uint8_t)u;
}

size_t fz_seal_v1(int id, const uint8_t salt[16], const uint8_t nonce[12], int64_t issue_ms,
                  int64_t auth_time, const uint8_t *sni, size_t sni_len, const uint8_t *alpn,
                  size_t alpn_len, const uint8_t *app_ctx, size_t app_ctx_len,
                  const uint8_t *state, size_t state_len, uint8_t *out)
{
    enum { HDR = 45, META = 64 };
    static const char label[] = "ticketring ticket v1";
    const tr_crypto *c = fz_backend();
    uint8_t key[TR_KEY_BYTES], info[sizeof(label) - 1 + 16 + 1], subkey[TRI_SHA256_BYTES];
    uint8_t meta[META];

    /* subkey = HKDF-Expand(HMAC secret | AES key, label | salt, 32)
     *        = HMAC-SHA256(that, label | salt | 0x01) */
    fz_key(id, key);
    memcpy(info, label, sizeof(label) - 1);
    memcpy(info + sizeof(label) - 1, salt, 16);
    info[sizeof(info) - 1] = 0x01;
    FZ_CHECK(c->hmac_sha256(key + TR_KEY_NAME_BYTES, TR_KEY_BYTES - TR_KEY_NAME_BYTES, info,
                            sizeof(info), subkey) == 0);
    put_be64(meta, issue_ms);
    put_be64(meta + 8, auth_time);
    digest16(c, sni, sni_len, 1, meta + 16);
    digest16(c, alpn, alpn_len, 0, meta + 32);
    digest16(c, app_ctx, app_ctx_len, 0, meta + 48);
    out[0] = 1;
    memcpy(out + 1, key, TR_KEY_NAME_BYTES);
    memcpy(out + 17, salt, 16);
    memcpy(out + 33, nonce, 12);
    FZ_CHECK(c->aead_seal(subkey, nonce, out, HDR, meta, META, state, state_len, out + HDR,
                          out + HDR + META + state_len) == 0);
    memset(key, 0, sizeof(key));
    memset(subkey, 0, sizeof(subkey));
    return state_len + TR_TICKET_OVERHEAD;
}

uint8_t fz_u8(struct fz_reader *r)
{
    uint8_t v = 0;
    fz_bytes(r, &v, 1);
    return v;
}

uint16_t fz_u16(struct fz_reader *r)
{
    uint8_t b[2];
    fz_bytes(r, b, 2);
    return (uint16_t)(b[0] << 8 | b[1]);
}

uint32_t fz_u32(struct fz_reader *r)
{
    uint8_t b[4];
    fz_bytes(r, b, 4);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t fz_u64(struct fz_reader *r)
{
    uint64_t hi = fz_u32(r);
    return hi << 32 | fz_u32(r);
}

size_t fz_bytes(struct fz_reader *r, uint8_t *out, size_t n)
{
    size_t got = n < r->left ? n : r->left;

    memcpy(out, r->p, got);
    memset(out + got, 0, n - got);
    r->p += got;
    r->left -= got;
    return got;
}

int fz_is_ticket_refusal(int rc)
{
    switch (rc) {
    case TR_E_TICKET_MALFORMED:
    case TR_E_TICKET_UNKNOWN_KEY:
    case TR_E_TICKET_AUTH:
    case TR_E_TICKET_EXPIRED:
    case TR_E_TICKET_FUTURE:
    case TR_E_TICKET_SNI:
    case TR_E_TICKET_ALPN:
    case TR_E_TICKET_CONTEXT:
    case TR_E_TICKET_OTHER_FORMAT:
        return 1;
    default:
        return 0;
    }
}

uint64_t *fz_refusal_counter(tr_stats *st, int rc)
{
    switch (rc) {
    case TR_E_TICKET_MALFORMED:
        return &st->refused_malformed;
    case TR_E_TICKET_UNKNOWN_KEY:
        return &st->refused_unknown_key;
    case TR_E_TICKET_AUTH:
        return &st->refused_auth;
    case TR_E_TICKET_EXPIRED:
        return &st->refused_expired;
    case TR_E_TICKET_FUTURE:
        return &st->refused_future;
    case TR_E_TICKET_SNI:
        return &st->refused_sni;
    case TR_E_TICKET_ALPN:
        return &st->refused_alpn;
    case TR_E_TICKET_CONTEXT:
        return &st->refused_context;
    case TR_E_TICKET_OTHER_FORMAT:
        return &st->refused_other_format;
    default:
        return NULL;
    }
}

/* Wide enough that no difference of two int64_t values overflows. */
__extension__ typedef __int128 wide;

int fz_expected_times(int64_t issue_ms, int64_t auth_time)
{
    const wide now_ms = FZ_NOW_MS, now = FZ_NOW_S, skew = FZ_SKEW;

    if (issue_ms > now_ms + skew * 1000 || (auth_time != 0 && auth_time > now + skew))
        return TR_E_TICKET_FUTURE;
    if (now_ms - issue_ms > (wide)FZ_LIFETIME * 1000 + skew * 1000 ||
        (auth_time != 0 && now - auth_time > FZ_MAX_AGE + skew))
        return TR_E_TICKET_EXPIRED;
    return 0;
}

tr_stats fz_stats(tr_ring *ring)
{
    tr_stats st;

    memset(&st, 0, sizeof(st));
    st.size = sizeof(st);
    FZ_CHECK(tr_ring_stats(ring, &st) == 0);
    return st;
}

/* Sum of every counter an open can move. */
static uint64_t open_counters(const tr_stats *st)
{
    return st->opened + st->refused_malformed + st->refused_unknown_key + st->refused_auth +
           st->refused_expired + st->refused_future + st->refused_sni + st->refused_alpn +
           st->refused_context + st->refused_other_format;
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

void fz_check_open_outcome(int rc, const tr_stats *before, const tr_stats *after,
                           const uint8_t *state, size_t cap, uint8_t fill, size_t body)
{
    tr_stats b = *before, a = *after;

    FZ_CHECK(rc == 0 || fz_is_ticket_refusal(rc));
    FZ_CHECK(open_counters(&a) == open_counters(&b) + 1);
    if (rc == 0) {
        FZ_CHECK(a.opened == b.opened + 1);
        return;
    }
    FZ_CHECK(*fz_refusal_counter(&a, rc) == *fz_refusal_counter(&b, rc) + 1);
    if (rc == TR_E_TICKET_MALFORMED) {
        FZ_CHECK(all_bytes(state, cap, fill));
    } else if (rc == TR_E_TICKET_OTHER_FORMAT && all_bytes(state, cap, fill)) {
        /* Recognised before decryption, as OpenSSL's format: untouched. */
    } else if (rc == TR_E_TICKET_UNKNOWN_KEY || rc == TR_E_TICKET_OTHER_FORMAT) {
        /* Refused before decryption: untouched, or wiped all the same. */
        FZ_CHECK(body <= cap);
        FZ_CHECK(all_bytes(state, body, fill) || all_bytes(state, body, 0));
        FZ_CHECK(all_bytes(state + body, cap - body, fill));
    } else {
        FZ_CHECK(body <= cap);
        FZ_CHECK(all_bytes(state, body, 0));
        FZ_CHECK(all_bytes(state + body, cap - body, fill));
    }
}
