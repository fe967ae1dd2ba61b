/* tr_ring_tls_key() and tr_ring_record(): the core side of TLS glue. */
#include "test_util.h"

#include <string.h>

#define T0 INT64_C(1700000000)
#define PERIOD 1000

struct seen {
    int calls;
    void *state;
    uint8_t name[TR_KEY_NAME_BYTES];
    uint32_t flags;
};

static int remember(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                    void *arg)
{
    struct seen *s = arg;
    s->calls++;
    s->state = key_state;
    memcpy(s->name, name, TR_KEY_NAME_BYTES);
    s->flags = flags;
    return 0;
}

static int refuse_key(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                void *arg)
{
    return TR_E_CRYPTO;
}

static int has_tls_state(void)
{
    return tu_backend() == tu_backend_named("openssl");
}

static tr_stats stats(tr_ring *r)
{
    tr_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    return s;
}

static void test_keys_by_schedule(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t k1[TR_KEY_BYTES], k2[TR_KEY_BYTES];
    struct seen s = {0};
    (void)st;
    if (!has_tls_state()) {
        /* A backend without TLS glue prepares nothing to hand out. */
        assert_int_equal(tr_ring_tls_key(r, tu_backend(), NULL, remember, &s), TR_E_BACKEND);
        tr_ring_free(r);
        return;
    }
    tu_key(k1, 1);
    tu_key(k2, 2);
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), NULL, remember, &s), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(tr_ring_add_key(r, k1, T0), 0);
    assert_int_equal(tr_ring_add_key(r, k2, T0 + PERIOD), 0);
    assert_int_equal(tr_ring_set_lifetime(r, 100), 0);
    assert_int_equal(tr_ring_set_skew(r, 10), 0);

    assert_int_equal(tr_ring_tls_key(r, tu_backend(), NULL, remember, &s), 0);
    assert_memory_equal(s.name, k1, TR_KEY_NAME_BYTES);
    assert_non_null(s.state);
    /* The pending key already decrypts, and is not renewed. */
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), k2, remember, &s), 0);
    assert_memory_equal(s.name, k2, TR_KEY_NAME_BYTES);
    assert_int_equal(s.flags, 0);

    c = (T0 + PERIOD) * 1000;
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), NULL, remember, &s), 0);
    assert_memory_equal(s.name, k2, TR_KEY_NAME_BYTES);
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), k1, remember, &s), 0);
    assert_int_equal(s.flags, TR_TLS_KEY_RENEW);
    /* Retired after the next activation + lifetime + skew: unknown. */
    c = (T0 + PERIOD + 110) * 1000;
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), k1, remember, &s), 0);
    c += 1000;
    s.calls = 0;
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), k1, remember, &s), TR_E_TICKET_UNKNOWN_KEY);
    assert_int_equal(s.calls, 0);
    /* The callback's result is passed through and a failed seal is not
     * counted as sealed. */
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), NULL, refuse_key, NULL), TR_E_CRYPTO);
    assert_int_equal(stats(r).sealed, 2);
    assert_int_equal(stats(r).seal_no_key, 1);
    tr_ring_free(r);
}

static void test_keys_refused(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t k1[TR_KEY_BYTES];
    const tr_crypto *const *all = tu_backends();
    (void)st;
    tu_key(k1, 1);
    assert_int_equal(tr_ring_add_key(r, k1, T0), 0);
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), NULL, NULL, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_tls_key(NULL, tu_backend(), NULL, remember, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_tls_key(r, NULL, NULL, remember, NULL), TR_E_BACKEND);
    /* Only the backend the ring was made with. */
    for (size_t i = 0; all[i] != NULL; i++)
        if (all[i] != tu_backend())
            assert_int_equal(tr_ring_tls_key(r, all[i], NULL, remember, NULL), TR_E_BACKEND);
    /* Under the exhausted policy STOP an overdue key seals nothing. */
    if (has_tls_state()) {
        struct seen s = {0};
        assert_int_equal(tr_ring_set_rotation_period(r, 100), 0);
        assert_int_equal(tr_ring_set_exhausted_policy(r, TR_EXHAUSTED_STOP), 0);
        c = (T0 + 101) * 1000;
        assert_int_equal(tr_ring_tls_key(r, tu_backend(), NULL, remember, &s),
                         TR_E_NO_ENCRYPT_KEY);
        assert_int_equal(s.calls, 0);
        assert_int_equal(stats(r).seal_overdue, 1);
    }
    tr_ring_free(r);
}

/* The first 16 bytes of a generic-format (v1) ticket, from an mbedTLS node
 * of the same cluster, as OpenSSL's key callback sees them: the version
 * byte and 15 bytes of a held key's name. Not key drift: its own reason. */
static void test_other_format_name(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t k1[TR_KEY_BYTES], name[TR_KEY_NAME_BYTES];
    struct seen s = {0};
    (void)st;
    if (!has_tls_state()) {
        tr_ring_free(r);
        return;
    }
    tu_key(k1, 1);
    assert_int_equal(tr_ring_add_key(r, k1, T0), 0);
    name[0] = 1;
    memcpy(name + 1, k1, TR_KEY_NAME_BYTES - 1);
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), name, remember, &s),
                     TR_E_TICKET_OTHER_FORMAT);
    name[0] = 2; /* not the v1 version byte */
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), name, remember, &s),
                     TR_E_TICKET_UNKNOWN_KEY);
    name[0] = 1;
    name[9] ^= 1;
    assert_int_equal(tr_ring_tls_key(r, tu_backend(), name, remember, &s),
                     TR_E_TICKET_UNKNOWN_KEY);
    assert_int_equal(s.calls, 0);
    assert_int_equal(tr_ring_record(r, TR_E_TICKET_OTHER_FORMAT), 0);
    assert_int_equal(stats(r).refused_other_format, 1);
    tr_ring_free(r);
}

static void test_record(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    static const int32_t refusals[] = {TR_E_TICKET_MALFORMED, TR_E_TICKET_UNKNOWN_KEY,
                                       TR_E_TICKET_AUTH,      TR_E_TICKET_EXPIRED,
                                       TR_E_TICKET_FUTURE,    TR_E_TICKET_SNI,
                                       TR_E_TICKET_ALPN,      TR_E_TICKET_CONTEXT,
                                       TR_E_TICKET_UNBOUND};
    /* Early-data refusals: the i-th is recorded i + 1 times. */
    static const int32_t early[] = {TR_E_EARLY_OFF,  TR_E_EARLY_STALE, TR_E_EARLY_NODE,
                                    TR_E_EARLY_SNI,  TR_E_EARLY_ALPN,  TR_E_REPLAY,
                                    TR_E_REPLAY_FULL, TR_E_REPLAY_STARTUP, TR_E_EARLY_TLS};
    tr_stats s;
    (void)st;
    for (size_t i = 0; i < sizeof(early) / sizeof(early[0]); i++)
        for (size_t k = 0; k <= i; k++)
            assert_int_equal(tr_ring_record(r, early[i]), 0);
    for (int32_t e = TR_EVENT_FULL_HANDSHAKE; e <= TR_EVENT_EARLY_ACCEPTED; e++)
        for (int32_t i = 0; i < e; i++)
            assert_int_equal(tr_ring_record(r, e), 0);
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
        assert_int_equal(tr_ring_record(r, refusals[i]), 0);
    assert_int_equal(tr_ring_record(r, 0), TR_E_INVAL);
    assert_int_equal(tr_ring_record(r, 9), TR_E_INVAL);
    assert_int_equal(tr_ring_record(r, TR_E_NOMEM), TR_E_INVAL);
    assert_int_equal(tr_ring_record(NULL, TR_EVENT_FULL_HANDSHAKE), TR_E_INVAL);
    s = stats(r);
    assert_int_equal(s.handshakes_full, 1);
    assert_int_equal(s.handshakes_resumed, 2);
    assert_int_equal(s.resumed_cross_node, 3);
    assert_int_equal(s.tickets_renewed, 4);
    assert_int_equal(s.opened, 5);
    assert_int_equal(s.opened_renew, 6);
    assert_int_equal(s.opened_unbound, 7);
    assert_int_equal(s.refused_malformed + s.refused_unknown_key + s.refused_auth +
                         s.refused_expired + s.refused_future + s.refused_sni + s.refused_alpn +
                         s.refused_context,
                     8);
    assert_int_equal(s.refused_unbound, 1);
    assert_int_equal(s.early_accepted, 8);
    assert_int_equal(s.early_refused_off, 1);
    assert_int_equal(s.early_refused_stale, 2);
    assert_int_equal(s.early_refused_node, 3);
    assert_int_equal(s.early_refused_sni, 4);
    assert_int_equal(s.early_refused_alpn, 5);
    assert_int_equal(s.early_refused_replay, 6);
    assert_int_equal(s.early_refused_full, 7);
    assert_int_equal(s.early_refused_startup, 8);
    assert_int_equal(s.early_refused_tls, 9);
    tr_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_by_schedule),
        cmocka_unit_test(test_keys_refused),
        cmocka_unit_test(test_other_format_name),
        cmocka_unit_test(test_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
