#include "test_util.h"

#include <stddef.h>
#include <string.h>

#define T0 1700000000

/* Every tr_stats counter is a uint64_t after the size/reserved header, so
 * counter i lives at a computable offset: the accessors must agree with it. */
static uint64_t stats_field(const tr_stats *s, size_t i)
{
    uint64_t v;
    memcpy(&v, (const unsigned char *)s + offsetof(tr_stats, sealed) + i * sizeof(uint64_t),
           sizeof(v));
    return v;
}

static size_t stats_index(const char *name)
{
    for (size_t i = 0; i < tr_stats_count(); i++)
        if (strcmp(tr_stats_name(i), name) == 0)
            return i;
    fail_msg("no tr_stats counter named %s", name);
    return 0;
}

static void test_stats_names(void **st)
{
    size_t n = tr_stats_count();
    (void)st;
    assert_int_equal(n, (sizeof(tr_stats) - offsetof(tr_stats, sealed)) / sizeof(uint64_t));
    assert_string_equal(tr_stats_name(0), "sealed");
    assert_string_equal(tr_stats_name(n - 1), "refused_other_format");
    assert_null(tr_stats_name(n));
    assert_null(tr_stats_name((size_t)-1));
    for (size_t i = 0; i < n; i++) {
        assert_non_null(tr_stats_name(i));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(tr_stats_name(i), tr_stats_name(j));
    }
    /* Spot checks against the struct itself: index order is field order. */
    assert_int_equal(stats_index("refused_sni") * sizeof(uint64_t),
                     offsetof(tr_stats, refused_sni) - offsetof(tr_stats, sealed));
    assert_int_equal(stats_index("tickets_renewed") * sizeof(uint64_t),
                     offsetof(tr_stats, tickets_renewed) - offsetof(tr_stats, sealed));
    assert_int_equal(stats_index("early_accepted") * sizeof(uint64_t),
                     offsetof(tr_stats, early_accepted) - offsetof(tr_stats, sealed));
}

/* Distinct counts per counter, so a value read from the wrong field shows. */
static void test_ring_stat_values(void **st)
{
    static const int32_t recordable[] = {
        TR_EVENT_FULL_HANDSHAKE, TR_EVENT_RESUMED_HANDSHAKE, TR_EVENT_RESUMED_CROSS_NODE,
        TR_EVENT_TICKET_RENEWED, TR_EVENT_TICKET_ACCEPTED, TR_EVENT_TICKET_ACCEPTED_OLD_KEY,
        TR_EVENT_TICKET_UNBOUND, TR_EVENT_EARLY_ACCEPTED, TR_E_TICKET_MALFORMED,
        TR_E_TICKET_UNKNOWN_KEY, TR_E_TICKET_AUTH, TR_E_TICKET_EXPIRED, TR_E_TICKET_FUTURE,
        TR_E_TICKET_SNI, TR_E_TICKET_ALPN, TR_E_TICKET_CONTEXT, TR_E_TICKET_UNBOUND,
        TR_E_REPLAY, TR_E_REPLAY_FULL, TR_E_REPLAY_STARTUP, TR_E_EARLY_OFF, TR_E_EARLY_STALE,
        TR_E_EARLY_NODE, TR_E_EARLY_SNI, TR_E_EARLY_ALPN, TR_E_EARLY_TLS,
    };
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t key[TR_KEY_BYTES], t[TR_TICKET_OVERHEAD];
    size_t len, n = tr_stats_count();
    uint64_t v = 12345;
    tr_stats s;
    (void)st;

    tu_key(key, 3);
    assert_int_equal(tr_ring_add_key(r, key, T0), 0);
    for (int k = 0; k < 2; k++)
        assert_int_equal(tr_ticket_seal(r, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, t, sizeof(t),
                                        &len, NULL), 0);
    for (size_t e = 0; e < sizeof(recordable) / sizeof(recordable[0]); e++)
        for (size_t k = 0; k < e + 3; k++)
            assert_int_equal(tr_ring_record(r, recordable[e]), 0);

    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tr_ring_stat(r, i, &v), 0);
        assert_int_equal(v, stats_field(&s, i));
    }
    assert_int_equal(tr_ring_stat(r, stats_index("sealed"), &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(tr_ring_stat(r, stats_index("refused_sni"), &v), 0);
    assert_int_equal(v, s.refused_sni);
    assert_true(v > 0);
    assert_int_equal(tr_ring_stat(r, stats_index("early_refused_tls"), &v), 0);
    assert_int_equal(v, s.early_refused_tls);
    assert_true(v > 0);

    /* Caller errors leave *value alone. */
    v = 777;
    assert_int_equal(tr_ring_stat(r, n, &v), TR_E_INVAL);
    assert_int_equal(tr_ring_stat(NULL, 0, &v), TR_E_INVAL);
    assert_int_equal(v, 777);
    assert_int_equal(tr_ring_stat(r, 0, NULL), TR_E_INVAL);
    tr_ring_free(r);
}

static void test_replay_stats(void **st)
{
    static const char *const names[] = {"window_ms", "capacity", "slots", "bytes",
                                        "entries", "fresh", "replays", "full", "startup",
                                        "store_fresh", "store_replays", "store_errors"};
    int64_t c = (int64_t)T0 * 1000;
    tr_replay *rp = NULL;
    tr_replay_stats s;
    size_t n = tr_replay_stats_count();
    uint64_t v = 0;
    const uint8_t a[32] = {1}, b[32] = {2};
    (void)st;

    /* The header's fields, in order: a field appended to the struct must
     * be appended here too, or this count fails. */
    assert_int_equal(n, sizeof(names) / sizeof(names[0]));
    for (size_t i = 0; i < n; i++)
        assert_string_equal(tr_replay_stats_name(i), names[i]);
    assert_null(tr_replay_stats_name(n));
    assert_int_equal(offsetof(tr_replay_stats, store_errors) + sizeof(uint64_t),
                     sizeof(tr_replay_stats));

    assert_int_equal(tr_replay_new(&rp, 100, 2000), 0);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &c), 0);
    assert_int_equal(tr_replay_check(rp, a, sizeof(a)), TR_E_REPLAY_STARTUP);
    c += 2000;
    assert_int_equal(tr_replay_check(rp, b, sizeof(b)), 0);
    assert_int_equal(tr_replay_check(rp, b, sizeof(b)), TR_E_REPLAY);
    assert_int_equal(tr_replay_check(rp, b, sizeof(b)), TR_E_REPLAY);

    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_replay_get_stats(rp, &s), 0);
    assert_int_equal(tr_replay_stat(rp, 0, &v), 0);
    assert_int_equal(v, 2000); /* the 32-bit window_ms, widened */
    assert_int_equal(v, s.window_ms);
    assert_int_equal(tr_replay_stat(rp, 1, &v), 0);
    assert_int_equal(v, s.capacity);
    assert_true(v >= 100);
    assert_int_equal(tr_replay_stat(rp, 2, &v), 0);
    assert_int_equal(v, s.slots);
    assert_int_equal(tr_replay_stat(rp, 3, &v), 0);
    assert_int_equal(v, s.bytes);
    assert_int_equal(tr_replay_stat(rp, 4, &v), 0);
    assert_int_equal(v, s.entries);
    assert_int_equal(tr_replay_stat(rp, 5, &v), 0);
    assert_int_equal(v, 1);
    assert_int_equal(tr_replay_stat(rp, 6, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(tr_replay_stat(rp, 7, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(tr_replay_stat(rp, 8, &v), 0);
    assert_int_equal(v, 1);

    v = 777;
    assert_int_equal(tr_replay_stat(rp, n, &v), TR_E_INVAL);
    assert_int_equal(tr_replay_stat(NULL, 0, &v), TR_E_INVAL);
    assert_int_equal(v, 777);
    assert_int_equal(tr_replay_stat(rp, 0, NULL), TR_E_INVAL);
    tr_replay_free(rp);
}

/* The limit functions state what the library enforces. */
static void test_limits(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    tr_replay *rp = NULL;
    size_t max = tr_cluster_id_max();
    char id[256], out[256];
    uint8_t value[2048] = {0};
    (void)st;

    assert_true(max > 0 && max + 2 <= sizeof(id));
    memset(id, 'a', max);
    id[max] = '\0';
    assert_int_equal(tr_ring_set_cluster(r, id), 0);
    assert_int_equal(tr_ring_cluster(r, out, max + 1), 0);
    assert_string_equal(out, id);
    assert_int_equal(tr_ring_cluster(r, out, max), TR_E_BUFFER_TOO_SMALL);
    id[max] = 'a';
    id[max + 1] = '\0';
    assert_int_equal(tr_ring_set_cluster(r, id), TR_E_INVAL);
    tr_ring_free(r);

    assert_int_equal(tr_replay_max_capacity(), TR_REPLAY_MAX_CAPACITY);
    assert_int_equal(tr_replay_new(&rp, (uint32_t)tr_replay_max_capacity() + 1, 2000),
                     TR_E_INVAL);
    assert_null(rp);

    assert_true(tr_replay_value_max() > 0 && tr_replay_value_max() < sizeof(value));
    assert_int_equal(tr_replay_new(&rp, 10, 2000), 0);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &c), 0);
    c += 2000;
    assert_int_equal(tr_replay_check(rp, value, tr_replay_value_max()), 0);
    assert_int_equal(tr_replay_check(rp, value, tr_replay_value_max() + 1), TR_E_INVAL);
    tr_replay_free(rp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_names),
        cmocka_unit_test(test_ring_stat_values),
        cmocka_unit_test(test_replay_stats),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
