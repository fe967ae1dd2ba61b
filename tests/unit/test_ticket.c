#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define T0 1700000000 /* seconds */
#define SNI "www.example.com"
#define ALPN "h2"

struct fx {
    int64_t clock_ms;
    tr_ring *ring;
    uint8_t state[256];
    uint8_t ticket[256 + TR_TICKET_OVERHEAD];
    size_t ticket_len;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));
    uint8_t key[TR_KEY_BYTES];
    f->clock_ms = (int64_t)T0 * 1000;
    f->ring = tu_ring(&f->clock_ms);
    tu_key(key, 1);
    assert_int_equal(tr_ring_add_key(f->ring, key, T0 - 10), 0);
    for (size_t i = 0; i < sizeof(f->state); i++)
        f->state[i] = (uint8_t)(i ^ 0x5a);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    tr_ring_free(f->ring);
    free(f);
    return 0;
}

static int seal_ctx(struct fx *f, const char *sni, const char *alpn, const char *ctx,
                    int64_t auth)
{
    return tr_ticket_seal(f->ring, f->state, sizeof(f->state), (const uint8_t *)sni,
                          sni ? strlen(sni) : 0, (const uint8_t *)alpn, alpn ? strlen(alpn) : 0,
                          (const uint8_t *)ctx, ctx ? strlen(ctx) : 0, auth, f->ticket,
                          sizeof(f->ticket), &f->ticket_len, NULL);
}

static int seal(struct fx *f)
{
    return seal_ctx(f, SNI, ALPN, NULL, 0);
}

static int open_ctx(struct fx *f, const uint8_t *t, size_t len, const char *sni,
                    const char *alpn, const char *ctx, uint32_t *flags, int64_t *auth)
{
    uint8_t out[TR_TICKET_MAX_STATE];
    size_t out_len = 0;
    int rc = tr_ticket_open(f->ring, t, len, (const uint8_t *)sni, sni ? strlen(sni) : 0,
                            (const uint8_t *)alpn, alpn ? strlen(alpn) : 0,
                            (const uint8_t *)ctx, ctx ? strlen(ctx) : 0, out, sizeof(out),
                            &out_len, NULL, auth, NULL, flags);
    if (rc == 0) {
        assert_int_equal(out_len, sizeof(f->state));
        assert_memory_equal(out, f->state, out_len);
    }
    return rc;
}

static int open_t(struct fx *f, const uint8_t *t, size_t len)
{
    return open_ctx(f, t, len, SNI, ALPN, NULL, NULL, NULL);
}

static void test_round_trip(void **st)
{
    struct fx *f = *st;
    uint8_t name[16], want[16], out[300];
    size_t out_len;
    int64_t auth = 0, age = -1;
    uint32_t flags = 99, life = 0;
    assert_int_equal(tr_ticket_seal(f->ring, f->state, sizeof(f->state), (const uint8_t *)SNI,
                                    strlen(SNI), (const uint8_t *)ALPN, 2, NULL, 0, 0,
                                    f->ticket, sizeof(f->ticket), &f->ticket_len, &life), 0);
    assert_int_equal(f->ticket_len, sizeof(f->state) + TR_TICKET_OVERHEAD);
    assert_int_equal(life, 7200);
    f->clock_ms += 1500;
    assert_int_equal(tr_ticket_open(f->ring, f->ticket, f->ticket_len, (const uint8_t *)SNI,
                                    strlen(SNI), (const uint8_t *)ALPN, 2, NULL, 0, out,
                                    sizeof(out), &out_len, name, &auth, &age, &flags), 0);
    assert_int_equal(out_len, sizeof(f->state));
    assert_memory_equal(out, f->state, out_len);
    assert_int_equal(tr_ring_encrypt_key_name(f->ring, want), 0);
    assert_memory_equal(name, want, 16);
    assert_int_equal(auth, T0);
    assert_int_equal(age, 1500);
    assert_int_equal(flags, 0);
    /* Empty state and no binding at all also work. */
    assert_int_equal(tr_ticket_seal(f->ring, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, f->ticket,
                                    sizeof(f->ticket), &f->ticket_len, NULL), 0);
    assert_int_equal(f->ticket_len, TR_TICKET_OVERHEAD);
    assert_int_equal(tr_ticket_open(f->ring, f->ticket, f->ticket_len, NULL, 0, NULL, 0, NULL,
                                    0, NULL, 0, &out_len, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(out_len, 0);
}

static void test_every_byte_flip_refused(void **st)
{
    struct fx *f = *st;
    uint8_t t[sizeof(f->ticket)];
    assert_int_equal(seal(f), 0);
    for (size_t i = 0; i < f->ticket_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            int rc;
            memcpy(t, f->ticket, f->ticket_len);
            t[i] ^= (uint8_t)(1u << bit);
            rc = open_t(f, t, f->ticket_len);
            if (i == 0)
                assert_int_equal(rc, TR_E_TICKET_MALFORMED);
            else if (i < 17)
                assert_int_equal(rc, TR_E_TICKET_UNKNOWN_KEY);
            else
                assert_int_equal(rc, TR_E_TICKET_AUTH);
        }
    }
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), 0); /* still opens */
}

static void test_every_truncation_refused(void **st)
{
    struct fx *f = *st;
    uint8_t t[sizeof(f->ticket) + 1];
    assert_int_equal(seal(f), 0);
    for (size_t len = 0; len < f->ticket_len; len++) {
        int rc = open_t(f, f->ticket, len);
        assert_int_equal(rc, len < TR_TICKET_OVERHEAD ? TR_E_TICKET_MALFORMED : TR_E_TICKET_AUTH);
    }
    memcpy(t, f->ticket, f->ticket_len);
    t[f->ticket_len] = 0;
    assert_int_equal(open_t(f, t, f->ticket_len + 1), TR_E_TICKET_AUTH);
}

static void test_oversized_refused_before_crypto(void **st)
{
    struct fx *f = *st;
    static uint8_t big[TR_TICKET_MAX_BYTES + 1];
    tr_stats s = {.size = sizeof(s)};
    assert_int_equal(seal(f), 0);
    memcpy(big, f->ticket, f->ticket_len);
    assert_int_equal(open_t(f, big, sizeof(big)), TR_E_TICKET_MALFORMED);
    assert_int_equal(tr_ring_stats(f->ring, &s), 0);
    assert_int_equal(s.refused_malformed, 1);
    assert_int_equal(s.refused_auth, 0);
}

static void test_state_limits(void **st)
{
    struct fx *f = *st;
    static uint8_t big_state[TR_TICKET_MAX_STATE + 1], t[TR_TICKET_MAX_BYTES + 1];
    size_t len;
    assert_int_equal(tr_ticket_seal(f->ring, big_state, TR_TICKET_MAX_STATE, NULL, 0, NULL, 0,
                                    NULL, 0, 0, t, sizeof(t), &len, NULL), 0);
    assert_int_equal(len, TR_TICKET_MAX_BYTES);
    assert_int_equal(tr_ticket_seal(f->ring, big_state, sizeof(big_state), NULL, 0, NULL, 0,
                                    NULL, 0, 0, t, sizeof(t), &len, NULL), TR_E_INVAL);
    assert_int_equal(tr_ticket_seal(f->ring, f->state, sizeof(f->state), NULL, 0, NULL, 0, NULL,
                                    0, 0, t, sizeof(f->state) + TR_TICKET_OVERHEAD - 1, &len,
                                    NULL), TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(seal(f), 0);
    assert_int_equal(tr_ticket_open(f->ring, f->ticket, f->ticket_len, (const uint8_t *)SNI,
                                    strlen(SNI), (const uint8_t *)ALPN, 2, NULL, 0, t,
                                    sizeof(f->state) - 1, &len, NULL, NULL, NULL, NULL),
                     TR_E_BUFFER_TOO_SMALL);
}

static void test_unknown_key(void **st)
{
    struct fx *f = *st;
    int64_t c2 = f->clock_ms;
    tr_ring *other = tu_ring(&c2);
    uint8_t key[TR_KEY_BYTES];
    uint8_t out[300];
    size_t out_len;
    tu_key(key, 2);
    assert_int_equal(tr_ring_add_key(other, key, T0 - 10), 0);
    assert_int_equal(seal(f), 0);
    assert_int_equal(tr_ticket_open(other, f->ticket, f->ticket_len, (const uint8_t *)SNI,
                                    strlen(SNI), (const uint8_t *)ALPN, 2, NULL, 0, out,
                                    sizeof(out), &out_len, NULL, NULL, NULL, NULL),
                     TR_E_TICKET_UNKNOWN_KEY);
    tr_ring_free(other);
}

/* OpenSSL-format tickets of this cluster (an OpenSSL node's, in a mixed
 * fleet) start with the name of a key the ring holds: they are refused
 * under their own reason, whether their first byte is the v1 version or
 * not, while bytes that only look like them stay malformed. */
static void test_other_backend_format(void **st)
{
    struct fx *f = *st;
    uint8_t key[TR_KEY_BYTES], t[16 + 16 + 48 + 32];
    tr_stats s;
    tu_key(key, 1);
    memset(t, 0xa5, sizeof(t));
    memcpy(t, key, TR_KEY_NAME_BYTES); /* name | IV | AES-CBC | HMAC */
    assert_int_equal(open_t(f, t, sizeof(t)), TR_E_TICKET_OTHER_FORMAT);
    /* One byte short of name, IV, one block and the HMAC: malformed. */
    assert_int_equal(open_t(f, t, 16 + 16 + 16 + 31), TR_E_TICKET_MALFORMED);
    t[3] ^= 1; /* no longer a name the ring holds */
    assert_int_equal(open_t(f, t, sizeof(t)), TR_E_TICKET_MALFORMED);

    /* A name starting with the version byte reads as a v1 ticket under an
     * unknown key; long enough to get that far. */
    {
        uint8_t k2[TR_KEY_BYTES], big[TR_TICKET_OVERHEAD + 64];
        tu_key(k2, 2);
        k2[0] = 1;
        assert_int_equal(tr_ring_add_key(f->ring, k2, T0 - 5), 0);
        memset(big, 0x3c, sizeof(big));
        memcpy(big, k2, TR_KEY_NAME_BYTES);
        assert_int_equal(open_t(f, big, sizeof(big)), TR_E_TICKET_OTHER_FORMAT);
        big[5] ^= 1;
        assert_int_equal(open_t(f, big, sizeof(big)), TR_E_TICKET_UNKNOWN_KEY);
    }
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(f->ring, &s), 0);
    assert_int_equal(s.refused_other_format, 2);
    assert_int_equal(s.refused_malformed, 2);
    assert_int_equal(s.refused_unknown_key, 1);
}

/* Another node with the same key (its own salts) opens our tickets. */
static void test_cross_node(void **st)
{
    struct fx *f = *st;
    int64_t c2 = f->clock_ms;
    tr_ring *b = tu_ring(&c2);
    uint8_t key[TR_KEY_BYTES], out[300];
    size_t out_len;
    tu_key(key, 1);
    assert_int_equal(tr_ring_add_key(b, key, T0 - 10), 0);
    assert_int_equal(seal(f), 0);
    assert_int_equal(tr_ticket_open(b, f->ticket, f->ticket_len, (const uint8_t *)SNI,
                                    strlen(SNI), (const uint8_t *)ALPN, 2, NULL, 0, out,
                                    sizeof(out), &out_len, NULL, NULL, NULL, NULL), 0);
    assert_memory_equal(out, f->state, sizeof(f->state));
    tr_ring_free(b);
}

static void test_expiry_and_future(void **st)
{
    struct fx *f = *st;
    int64_t issued = f->clock_ms;
    assert_int_equal(tr_ring_set_lifetime(f->ring, 300), 0);
    assert_int_equal(tr_ring_set_skew(f->ring, 5), 0);
    assert_int_equal(seal(f), 0);
    /* Accepted up to lifetime + skew after issue, refused 1 ms later. */
    f->clock_ms = issued + 305 * 1000;
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), 0);
    f->clock_ms = issued + 305 * 1000 + 1;
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), TR_E_TICKET_EXPIRED);
    /* A shorter lifetime set later applies to tickets already issued. */
    f->clock_ms = issued + 200 * 1000;
    assert_int_equal(tr_ring_set_lifetime(f->ring, 100), 0);
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), TR_E_TICKET_EXPIRED);
    assert_int_equal(tr_ring_set_lifetime(f->ring, 300), 0);
    /* A node whose clock is behind by up to the skew still accepts... */
    f->clock_ms = issued - 5 * 1000;
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), 0);
    /* ...beyond it the ticket comes from the future. */
    f->clock_ms = issued - 5 * 1000 - 1;
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), TR_E_TICKET_FUTURE);
}

static void test_max_age_across_renewals(void **st)
{
    struct fx *f = *st;
    int64_t auth = 0;
    uint32_t life = 0;
    size_t len;
    assert_int_equal(tr_ring_set_lifetime(f->ring, 3600), 0);
    assert_int_equal(tr_ring_set_max_age(f->ring, 8000), 0);
    assert_int_equal(tr_ring_set_skew(f->ring, 0), 0);
    assert_int_equal(seal(f), 0);
    /* Resume and renew every 50 minutes, carrying the auth time. */
    for (int i = 1; i <= 2; i++) {
        f->clock_ms += 3000 * 1000;
        assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, NULL, NULL, &auth), 0);
        assert_int_equal(auth, T0);
        assert_int_equal(tr_ticket_seal(f->ring, f->state, sizeof(f->state),
                                        (const uint8_t *)SNI, strlen(SNI),
                                        (const uint8_t *)ALPN, 2, NULL, 0, auth, f->ticket,
                                        sizeof(f->ticket), &len, &life), 0);
        f->ticket_len = len;
    }
    /* At T0+6000 only 2000 s of the session's 8000 remain: advertised. */
    assert_int_equal(life, 2000);
    f->clock_ms = (int64_t)(T0 + 8000) * 1000;
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), 0);
    f->clock_ms = (int64_t)(T0 + 8001) * 1000;
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), TR_E_TICKET_EXPIRED);
    /* No ticket is sealed for a session past its max age. */
    assert_int_equal(seal_ctx(f, SNI, ALPN, NULL, T0), TR_E_TICKET_EXPIRED);
}

static void test_binding(void **st)
{
    struct fx *f = *st;
    assert_int_equal(seal_ctx(f, SNI, ALPN, "tenant-a", 0), 0);
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, "tenant-a", NULL, NULL),
                     0);
    /* Host names compare case-insensitively. */
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, "WWW.Example.COM", ALPN,
                              "tenant-a", NULL, NULL), 0);
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, "evil.example.com", ALPN,
                              "tenant-a", NULL, NULL), TR_E_TICKET_SNI);
    /* Digests are remembered per thread: inputs of the same length that
     * differ in one byte, alternating, must each get their own. */
    assert_int_equal(strlen(SNI), strlen("www.exbmple.com"));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, "www.exbmple.com", ALPN,
                                  "tenant-a", NULL, NULL), TR_E_TICKET_SNI);
        assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, "tenant-a", NULL,
                                  NULL), 0);
        assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, "tenant-b", NULL,
                                  NULL), TR_E_TICKET_CONTEXT);
    }
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, NULL, ALPN, "tenant-a", NULL, NULL),
                     TR_E_TICKET_SNI);
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, "http/1.1", "tenant-a", NULL,
                              NULL), TR_E_TICKET_ALPN);
    /* A session from a vhost without client-certificate policy must not
     * resume where one is required. */
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, "tenant-a;verify=required",
                              NULL, NULL), TR_E_TICKET_CONTEXT);
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, NULL, NULL, NULL),
                     TR_E_TICKET_CONTEXT);
    /* Switched off, SNI and ALPN no longer matter; the context still does. */
    assert_int_equal(tr_ring_set_bind_sni(f->ring, 0), 0);
    assert_int_equal(tr_ring_set_bind_alpn(f->ring, 0), 0);
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, "other", "h3", "tenant-a", NULL,
                              NULL), 0);
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, "other", "h3", "tenant-b", NULL,
                              NULL), TR_E_TICKET_CONTEXT);
}

static void test_no_encrypt_key(void **st)
{
    struct fx *f = *st;
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t key[TR_KEY_BYTES], t[TR_TICKET_OVERHEAD];
    size_t len = 0;
    tr_stats s = {.size = sizeof(s)};
    (void)f;
    /* Empty ring: never a default key. */
    assert_int_equal(tr_ticket_seal(r, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, t, sizeof(t),
                                    &len, NULL), TR_E_NO_ENCRYPT_KEY);
    /* Only a pending key: it decrypts but cannot encrypt yet. */
    tu_key(key, 7);
    assert_int_equal(tr_ring_add_key(r, key, T0 + 60), 0);
    assert_int_equal(tr_ticket_seal(r, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, t, sizeof(t),
                                    &len, NULL), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(tr_ring_encrypt_key_name(r, key), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    assert_int_equal(s.seal_no_key, 2);
    assert_int_equal(s.sealed, 0);
    c += 60 * 1000;
    assert_int_equal(tr_ticket_seal(r, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, t, sizeof(t),
                                    &len, NULL), 0);
    tr_ring_free(r);
}

/* Keys A (now) and B (in 100 s): tickets under A renew once B encrypts, and
 * stop opening once A retires. */
static void test_rotation_renew_and_retire(void **st)
{
    struct fx *f = *st;
    uint8_t b[TR_KEY_BYTES];
    uint8_t a_ticket[sizeof(f->ticket)];
    size_t a_ticket_len;
    uint32_t flags = 0;
    int64_t a_sealed;
    assert_int_equal(tr_ring_set_lifetime(f->ring, 1000), 0);
    assert_int_equal(tr_ring_set_skew(f->ring, 10), 0);
    tu_key(b, 2);
    assert_int_equal(tr_ring_add_key(f->ring, b, T0 + 100), 0);
    assert_int_equal(seal(f), 0); /* under A */
    a_sealed = f->clock_ms;
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, NULL, &flags, NULL), 0);
    assert_int_equal(flags, 0);
    f->clock_ms = (int64_t)(T0 + 100) * 1000;
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, SNI, ALPN, NULL, &flags, NULL), 0);
    assert_int_equal(flags, TR_TICKET_RENEW);
    /* The renewal goes under B. */
    memcpy(a_ticket, f->ticket, f->ticket_len);
    a_ticket_len = f->ticket_len;
    assert_int_equal(seal(f), 0);
    assert_memory_equal(f->ticket + 1, b, 16);
    /* A's ticket, issued at T0, stays valid until it expires by lifetime;
     * A retires at B + lifetime + skew. */
    f->clock_ms = a_sealed + 1010 * 1000;
    assert_int_equal(open_t(f, a_ticket, a_ticket_len), 0);
    f->clock_ms = (int64_t)(T0 + 100 + 1010 + 1) * 1000;
    assert_int_equal(open_t(f, a_ticket, a_ticket_len), TR_E_TICKET_UNKNOWN_KEY);
}

/* A node whose clock runs ahead seals with B before we activate it. */
static void test_pending_key_decrypts_without_renewal(void **st)
{
    struct fx *f = *st;
    int64_t ahead = (int64_t)(T0 + 100) * 1000;
    tr_ring *fast = tu_ring(&ahead);
    uint8_t a[TR_KEY_BYTES], b[TR_KEY_BYTES], out[300];
    size_t out_len;
    uint32_t flags = 9;
    tu_key(a, 1);
    tu_key(b, 2);
    assert_int_equal(tr_ring_add_key(fast, a, T0 - 10), 0);
    assert_int_equal(tr_ring_add_key(fast, b, T0 + 50), 0);
    assert_int_equal(tr_ring_add_key(f->ring, b, T0 + 50), 0);
    assert_int_equal(tr_ticket_seal(fast, f->state, sizeof(f->state), (const uint8_t *)SNI,
                                    strlen(SNI), (const uint8_t *)ALPN, 2, NULL, 0, 0, f->ticket,
                                    sizeof(f->ticket), &f->ticket_len, NULL), 0);
    assert_memory_equal(f->ticket + 1, b, 16);
    f->clock_ms = ahead - 60 * 1000; /* we are 60 s behind: within the default skew */
    assert_int_equal(tr_ticket_open(f->ring, f->ticket, f->ticket_len, (const uint8_t *)SNI,
                                    strlen(SNI), (const uint8_t *)ALPN, 2, NULL, 0, out,
                                    sizeof(out), &out_len, NULL, NULL, NULL, &flags), 0);
    assert_int_equal(flags, 0);
    tr_ring_free(fast);
}

static void test_schedule_exhausted(void **st)
{
    struct fx *f = *st;
    tr_stats s = {.size = sizeof(s)};
    assert_int_equal(tr_ring_set_rotation_period(f->ring, 3600), 0);
    f->clock_ms = (int64_t)(T0 - 10 + 3600) * 1000;
    assert_int_equal(seal(f), 0);
    f->clock_ms += 1000;
    assert_int_equal(seal(f), 0); /* KEEP: still sealing, but counted */
    assert_int_equal(seal(f), 0);
    assert_int_equal(tr_ring_stats(f->ring, &s), 0);
    assert_int_equal(s.seal_overdue, 2);
    assert_int_equal(tr_ring_set_exhausted_policy(f->ring, TR_EXHAUSTED_STOP), 0);
    assert_int_equal(seal(f), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(tr_ring_set_exhausted_policy(f->ring, 2), TR_E_INVAL);
}

static void test_refusal_changes_no_state(void **st)
{
    struct fx *f = *st;
    char fp1[17], fp2[17];
    uint8_t t[sizeof(f->ticket)];
    assert_int_equal(seal(f), 0);
    assert_int_equal(tr_ring_fingerprint(f->ring, fp1, sizeof(fp1)), 0);
    memcpy(t, f->ticket, f->ticket_len);
    t[60] ^= 1;
    for (int i = 0; i < 10; i++)
        assert_int_equal(open_t(f, t, f->ticket_len), TR_E_TICKET_AUTH);
    assert_int_equal(open_ctx(f, f->ticket, f->ticket_len, "x", ALPN, NULL, NULL, NULL),
                     TR_E_TICKET_SNI);
    assert_int_equal(tr_ring_fingerprint(f->ring, fp2, sizeof(fp2)), 0);
    assert_string_equal(fp1, fp2);
    assert_int_equal(open_t(f, f->ticket, f->ticket_len), 0);
}

static void test_no_allocation_per_ticket(void **st)
{
    struct tu_alloc a = {0};
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = NULL;
    uint8_t key[TR_KEY_BYTES], state[256] = {1}, t[256 + TR_TICKET_OVERHEAD], out[256];
    size_t len, out_len;
    uint64_t before;
    (void)st;
    assert_int_equal(tr_ring_new_with_allocator(&r, tu_backend(), tu_malloc, tu_free, &a), 0);
    tr_ring_set_clock(r, tu_clock, &c);
    tu_key(key, 3);
    assert_int_equal(tr_ring_add_key(r, key, T0), 0);
    before = a.allocs;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(tr_ticket_seal(r, state, sizeof(state), (const uint8_t *)SNI,
                                        strlen(SNI), NULL, 0, NULL, 0, 0, t, sizeof(t), &len,
                                        NULL), 0);
        assert_int_equal(tr_ticket_open(r, t, len, (const uint8_t *)SNI, strlen(SNI), NULL, 0,
                                        NULL, 0, out, sizeof(out), &out_len, NULL, NULL, NULL,
                                        NULL), 0);
    }
    assert_int_equal(a.allocs, before);
    tr_ring_free(r);
    assert_int_equal(a.allocs, a.frees);
}

static void test_bad_arguments(void **st)
{
    struct fx *f = *st;
    size_t len;
    uint8_t out[8];
    assert_int_equal(tr_ticket_seal(NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, f->ticket,
                                    sizeof(f->ticket), &len, NULL), TR_E_INVAL);
    assert_int_equal(tr_ticket_seal(f->ring, NULL, 5, NULL, 0, NULL, 0, NULL, 0, 0, f->ticket,
                                    sizeof(f->ticket), &len, NULL), TR_E_INVAL);
    assert_int_equal(tr_ticket_seal(f->ring, NULL, 0, NULL, 0, NULL, 0, NULL, 0, -1, f->ticket,
                                    sizeof(f->ticket), &len, NULL), TR_E_INVAL);
    /* An auth time in the future beyond the skew is a caller bug. */
    assert_int_equal(tr_ticket_seal(f->ring, NULL, 0, NULL, 0, NULL, 0, NULL, 0, T0 + 61,
                                    f->ticket, sizeof(f->ticket), &len, NULL), TR_E_INVAL);
    assert_int_equal(tr_ticket_open(f->ring, NULL, 0, NULL, 0, NULL, 0, NULL, 0, out,
                                    sizeof(out), &len, NULL, NULL, NULL, NULL), TR_E_INVAL);
}

/* White box: the salt changes once a key set has sealed TRI_RESALT_AFTER
 * tickets, and sealing stops at the hard limit if fresh salts cannot be had
 * (here: the writer lock is held). Old tickets keep opening. */
static void test_resalt_after_many_seals(void **st)
{
    struct fx *f = *st;
    uint8_t first[sizeof(f->ticket)], salt1[16];
    size_t first_len;
    struct tri_keyset *ks;
    assert_int_equal(seal(f), 0);
    memcpy(first, f->ticket, f->ticket_len);
    first_len = f->ticket_len;
    memcpy(salt1, f->ticket + 17, 16);
    ks = atomic_load(&f->ring->keys.current);
    atomic_store(&ks->seal_uses, TRI_RESALT_AFTER - 1);
    assert_int_equal(seal(f), 0); /* the one that crosses: same salt, then resalt */
    assert_memory_equal(f->ticket + 17, salt1, 16);
    assert_int_equal(seal(f), 0);
    assert_memory_not_equal(f->ticket + 17, salt1, 16);
    assert_int_equal(open_t(f, first, first_len), 0);

    ks = atomic_load(&f->ring->keys.current);
    atomic_store(&ks->seal_uses, TRI_SEAL_HARD_LIMIT);
    atomic_store(&f->ring->writer_busy, 1); /* as a writer would */
    assert_int_equal(seal(f), TR_E_NO_ENCRYPT_KEY);
    atomic_store(&f->ring->writer_busy, 0);
    assert_int_equal(seal(f), TR_E_NO_ENCRYPT_KEY); /* this one resalts on its way out */
    assert_int_equal(seal(f), 0);
    assert_int_equal(open_t(f, first, first_len), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_round_trip),
        T(test_every_byte_flip_refused),
        T(test_every_truncation_refused),
        T(test_oversized_refused_before_crypto),
        T(test_state_limits),
        T(test_unknown_key),
        T(test_other_backend_format),
        T(test_cross_node),
        T(test_expiry_and_future),
        T(test_max_age_across_renewals),
        T(test_binding),
        T(test_no_encrypt_key),
        T(test_rotation_renew_and_retire),
        T(test_pending_key_decrypts_without_renewal),
        T(test_schedule_exhausted),
        T(test_refusal_changes_no_state),
        T(test_no_allocation_per_ticket),
        T(test_bad_arguments),
        T(test_resalt_after_many_seals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
