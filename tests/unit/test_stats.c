#include "test_util.h"

#include <stddef.h>
#include <string.h>

#define T0 1700000000

static void test_counts_by_reason(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t key[TR_KEY_BYTES], t[64 + TR_TICKET_OVERHEAD], out[64], bad[64 + TR_TICKET_OVERHEAD];
    uint8_t state[64] = {7};
    size_t len, out_len;
    tr_stats s;
    (void)st;
    tu_key(key, 1);
    assert_int_equal(tr_ring_add_key(r, key, T0), 0);
    assert_int_equal(tr_ticket_seal(r, state, sizeof(state), (const uint8_t *)"a", 1,
                                    (const uint8_t *)"h2", 2, NULL, 0, 0, t, sizeof(t), &len,
                                    NULL), 0);
#define OPEN(tk, sni, alpn)                                                                    \
    tr_ticket_open(r, tk, len, (const uint8_t *)sni, strlen(sni), (const uint8_t *)alpn,       \
                   strlen(alpn), NULL, 0, out, sizeof(out), &out_len, NULL, NULL, NULL, NULL)
    assert_int_equal(OPEN(t, "a", "h2"), 0);
    assert_int_equal(OPEN(t, "b", "h2"), TR_E_TICKET_SNI);
    assert_int_equal(OPEN(t, "a", "h3"), TR_E_TICKET_ALPN);
    assert_int_equal(OPEN(t, "b", "h3"), TR_E_TICKET_SNI); /* one reason per refusal */
    memcpy(bad, t, len);
    bad[len - 1] ^= 1;
    assert_int_equal(OPEN(bad, "a", "h2"), TR_E_TICKET_AUTH);
    bad[len - 1] ^= 1;
    bad[1] ^= 1;
    assert_int_equal(OPEN(bad, "a", "h2"), TR_E_TICKET_UNKNOWN_KEY);
    bad[0] = 2;
    assert_int_equal(OPEN(bad, "a", "h2"), TR_E_TICKET_MALFORMED);
    c += (int64_t)(7200 + 61) * 1000;
    assert_int_equal(OPEN(t, "a", "h2"), TR_E_TICKET_EXPIRED);
    c = (int64_t)(T0 - 61) * 1000;
    assert_int_equal(OPEN(t, "a", "h2"), TR_E_TICKET_FUTURE);
    /* A caller error is not a refusal. */
    assert_int_equal(tr_ticket_open(r, t, len, NULL, 0, NULL, 0, NULL, 0, out, 1, &out_len, NULL,
                                    NULL, NULL, NULL), TR_E_BUFFER_TOO_SMALL);

    memset(&s, 0xee, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    assert_int_equal(s.size, sizeof(s));
    assert_int_equal(s.sealed, 1);
    assert_int_equal(s.opened, 1);
    assert_int_equal(s.opened_renew, 0);
    assert_int_equal(s.refused_sni, 2);
    assert_int_equal(s.refused_alpn, 1);
    assert_int_equal(s.refused_auth, 1);
    assert_int_equal(s.refused_unknown_key, 1);
    assert_int_equal(s.refused_malformed, 1);
    assert_int_equal(s.refused_expired, 1);
    assert_int_equal(s.refused_future, 1);
    assert_int_equal(s.refused_context, 0);
    assert_int_equal(s.seal_no_key, 0);
    tr_ring_free(r);
#undef OPEN
}

/* A caller built against an older, shorter tr_stats gets only its prefix. */
static void test_older_caller_gets_prefix(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct {
        tr_stats s;
        uint8_t guard[16];
    } buf;
    uint32_t old_size = (uint32_t)offsetof(tr_stats, opened);
    (void)st;
    assert_int_equal(tr_ring_generate_key(r, T0, NULL), 0);
    {
        uint8_t t[TR_TICKET_OVERHEAD];
        size_t len;
        assert_int_equal(tr_ticket_seal(r, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, t, sizeof(t),
                                        &len, NULL), 0);
    }
    memset(&buf, 0xee, sizeof(buf));
    buf.s.size = old_size;
    assert_int_equal(tr_ring_stats(r, &buf.s), 0);
    assert_int_equal(buf.s.size, old_size);
    assert_int_equal(buf.s.sealed, 1);
    assert_true(buf.s.opened == UINT64_C(0xeeeeeeeeeeeeeeee)); /* untouched */
    buf.s.size = 4;
    assert_int_equal(tr_ring_stats(r, &buf.s), TR_E_INVAL);
    assert_int_equal(tr_ring_stats(r, NULL), TR_E_INVAL);
    tr_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_by_reason),
        cmocka_unit_test(test_older_caller_gets_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
