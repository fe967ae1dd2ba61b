#include "test_util.h"

#include <string.h>

#define T0 INT64_C(1700000000)
#define U8(s) (const uint8_t *)(s), strlen(s)

static void test_times(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    int64_t age = -1;
    (void)st;
    assert_int_equal(tr_ring_set_lifetime(r, 100), 0);
    assert_int_equal(tr_ring_set_skew(r, 10), 0);
    assert_int_equal(tr_ring_set_max_age(r, 1000), 0);

    assert_int_equal(tr_ring_check_times(r, c - 5000, T0 - 5, &age), 0);
    assert_int_equal(age, 5000);
    /* Lifetime + skew, to the millisecond. */
    assert_int_equal(tr_ring_check_times(r, c - 110000, 0, NULL), 0);
    assert_int_equal(tr_ring_check_times(r, c - 110001, 0, NULL), TR_E_TICKET_EXPIRED);
    /* Max age counts from the original authentication, not the issue. */
    assert_int_equal(tr_ring_check_times(r, c, T0 - 1010, NULL), 0);
    assert_int_equal(tr_ring_check_times(r, c, T0 - 1011, NULL), TR_E_TICKET_EXPIRED);
    /* From the future beyond the skew, by issue or by auth time. */
    assert_int_equal(tr_ring_check_times(r, c + 10000, 0, &age), 0);
    assert_int_equal(age, 0);
    assert_int_equal(tr_ring_check_times(r, c + 10001, 0, NULL), TR_E_TICKET_FUTURE);
    assert_int_equal(tr_ring_check_times(r, c, T0 + 11, NULL), TR_E_TICKET_FUTURE);
    assert_int_equal(tr_ring_check_times(NULL, c, 0, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_check_times(r, c, -1, NULL), TR_E_INVAL);
    tr_ring_free(r);
}

static void test_lifetime_and_now(void **st)
{
    int64_t c = T0 * 1000 + 999;
    tr_ring *r = tu_ring(&c);
    uint32_t life = 0;
    int64_t now = 0;
    (void)st;
    assert_int_equal(tr_ring_now_ms(r, &now), 0);
    assert_int_equal(now, c);
    assert_int_equal(tr_ring_set_lifetime(r, 3600), 0);
    assert_int_equal(tr_ring_set_max_age(r, 7200), 0);
    assert_int_equal(tr_ring_ticket_lifetime(r, 0, &life), 0);
    assert_int_equal(life, 3600);
    /* What is left of the max age caps the advertised lifetime. */
    assert_int_equal(tr_ring_ticket_lifetime(r, T0 - 7000, &life), 0);
    assert_int_equal(life, 200);
    assert_int_equal(tr_ring_ticket_lifetime(r, T0 - 7200, &life), TR_E_TICKET_EXPIRED);
    assert_int_equal(tr_ring_ticket_lifetime(r, 0, NULL), TR_E_INVAL);
    tr_ring_free(r);
}

static void test_binding(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    const uint8_t offer[] = "\x02h2\x08http/1.1";
    const size_t offer_len = sizeof(offer) - 1;
    (void)st;
    assert_int_equal(tr_ring_check_binding(r, U8("a.example"), U8("A.Example"), NULL, 0,
                                           NULL, 0), 0);
    assert_int_equal(tr_ring_check_binding(r, U8("a.example"), U8("b.example"), NULL, 0,
                                           NULL, 0), TR_E_TICKET_SNI);
    /* A ticket for a name is not resumed without one, nor the reverse. */
    assert_int_equal(tr_ring_check_binding(r, U8("a.example"), NULL, 0, NULL, 0, NULL, 0),
                     TR_E_TICKET_SNI);
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, U8("a.example"), NULL, 0, NULL, 0),
                     TR_E_TICKET_SNI);
    assert_int_equal(tr_ring_check_binding(r, U8("a.example"), U8("a.example.com"), NULL, 0,
                                           NULL, 0), TR_E_TICKET_SNI);

    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, U8("http/1.1"), offer,
                                           offer_len), 0);
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, U8("h2"), offer, offer_len), 0);
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, U8("h3"), offer, offer_len),
                     TR_E_TICKET_ALPN);
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, U8("h2"), NULL, 0),
                     TR_E_TICKET_ALPN);
    /* A prefix of an offered name is another name. */
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, U8("http"), offer, offer_len),
                     TR_E_TICKET_ALPN);
    /* A ticket issued without ALPN matches any offer. */
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, NULL, 0, offer, offer_len), 0);
    /* A malformed offer offers nothing: a length past the end, an empty name. */
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, U8("h2"),
                                           (const uint8_t *)"\x02h2\x09http/1.1", offer_len),
                     TR_E_TICKET_ALPN);
    assert_int_equal(tr_ring_check_binding(r, NULL, 0, NULL, 0, U8("h2"),
                                           (const uint8_t *)"\x02h2\x00", 4),
                     TR_E_TICKET_ALPN);

    /* Each binding can be switched off. */
    assert_int_equal(tr_ring_set_bind_sni(r, 0), 0);
    assert_int_equal(tr_ring_check_binding(r, U8("a.example"), U8("b.example"), U8("h3"), offer,
                                           offer_len), TR_E_TICKET_ALPN);
    assert_int_equal(tr_ring_set_bind_alpn(r, 0), 0);
    assert_int_equal(tr_ring_check_binding(r, U8("a.example"), U8("b.example"), U8("h3"), offer,
                                           offer_len), 0);
    assert_int_equal(tr_ring_check_binding(r, NULL, 1, NULL, 0, NULL, 0, NULL, 0), TR_E_INVAL);
    tr_ring_free(r);
}

struct log_lines {
    int warn, error;
};

static void count_log(int32_t level, const char *msg, void *arg)
{
    struct log_lines *l = arg;
    if (level == TR_LOG_WARN)
        l->warn++;
    if (level == TR_LOG_ERROR)
        l->error++;
}

static int seal_now(tr_ring *r)
{
    uint8_t t[64 + TR_TICKET_OVERHEAD], state[64] = {1};
    size_t len;
    return tr_ticket_seal(r, state, sizeof(state), NULL, 0, NULL, 0, NULL, 0, 0, t, sizeof(t),
                          &len, NULL);
}

static void test_max_encrypt_age(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_lines logged = {0, 0};
    uint8_t k1[TR_KEY_BYTES], k2[TR_KEY_BYTES];
    tr_stats s;
    (void)st;
    tu_key(k1, 1);
    tu_key(k2, 2);
    assert_int_equal(tr_ring_set_log(r, count_log, &logged), 0);
    assert_int_equal(tr_ring_add_key(r, k1, T0), 0);
    assert_int_equal(tr_ring_set_rotation_period(r, 100), 0);
    assert_int_equal(tr_ring_set_max_encrypt_age(r, 300), 0);
    assert_int_equal(tr_ring_set_max_encrypt_age(r, 31536001), TR_E_INVAL);

    assert_int_equal(seal_now(r), 0);
    /* Past the period: still sealing, counted, warned once. */
    c = (T0 + 101) * 1000;
    assert_int_equal(seal_now(r), 0);
    assert_int_equal(seal_now(r), 0);
    assert_int_equal(logged.warn, 1);
    /* At the maximum encrypt age exactly: still sealing; past it: nothing. */
    c = (T0 + 300) * 1000;
    assert_int_equal(seal_now(r), 0);
    c = (T0 + 301) * 1000;
    assert_int_equal(seal_now(r), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(seal_now(r), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(logged.error, 1);
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    assert_int_equal(s.sealed, 4);
    assert_int_equal(s.seal_no_key, 2);
    assert_int_equal(s.seal_overdue, 5); /* every seal past the period, refused or not */
    /* A newer dated key ends it, even before it activates. */
    assert_int_equal(tr_ring_add_key(r, k2, T0 + 1000), 0);
    assert_int_equal(seal_now(r), 0);
    /* No limit: 0. */
    c = (T0 + 100000) * 1000;
    assert_int_equal(tr_ring_set_max_encrypt_age(r, 0), 0);
    assert_int_equal(seal_now(r), 0);
    tr_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_lifetime_and_now),
        cmocka_unit_test(test_binding),
        cmocka_unit_test(test_max_encrypt_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
