/* A cluster-wide replay store behind the cache (tr_replay_set_store): the
 * local cache answers first, the start-up window and a full cache defer to
 * the store, a store that cannot answer refuses (TR_E_REPLAY_STORE, counted
 * everywhere), and with TR_REPLAY_ANY_NODE the freshness edges widened by
 * the skew stay within what the store remembers, exactly. The store here is
 * a fake with its own "real" clock, so every time is injected. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define T0 INT64_C(1700000000000) /* ms */
#define WINDOW 20000u
#define SKEW 1500u

/* A store that remembers values until real + ttl (real: the fleet's time,
 * which node clocks are off from). */
struct fake_store {
    int64_t *real;
    int answer; /* non-zero: return it instead of looking */
    unsigned calls;
    uint32_t last_ttl;
    unsigned n;
    struct {
        uint8_t v[32];
        int64_t expires;
    } e[64];
};

static int fake_check(void *arg, const uint8_t *value, size_t len, uint32_t ttl_ms)
{
    struct fake_store *s = arg;

    s->calls++;
    s->last_ttl = ttl_ms;
    if (s->answer != 0)
        return s->answer;
    assert_int_equal(len, 32);
    for (unsigned i = 0; i < s->n; i++)
        if (memcmp(s->e[i].v, value, 32) == 0 && *s->real < s->e[i].expires)
            return TR_E_REPLAY;
    assert_true(s->n < 64);
    memcpy(s->e[s->n].v, value, 32);
    s->e[s->n++].expires = *s->real + ttl_ms;
    return 0;
}

struct node {
    int64_t clock;
    tr_ring *ring;
    tr_replay *rp;
    uint64_t tag;
};

struct fixture {
    int64_t real;
    struct fake_store store;
    struct node a, b;
};

static void node_up(struct node *n, struct fixture *f, int64_t offset, uint32_t flags)
{
    n->clock = f->real + offset;
    n->ring = tu_ring(&n->clock);
    assert_int_equal(tr_replay_new(&n->rp, 1024, WINDOW), 0);
    assert_int_equal(tr_replay_set_clock(n->rp, tu_clock, &n->clock), 0);
    assert_int_equal(tr_replay_set_store(n->rp, fake_check, &f->store, SKEW, flags), 0);
    assert_int_equal(tr_ring_set_early_data(n->ring, 16384, n->rp), 0);
    assert_int_equal(tr_ring_early_data_tag(n->ring, &n->tag), 0);
}

static void node_down(struct node *n)
{
    tr_ring_free(n->ring);
    tr_replay_free(n->rp);
}

static struct fixture *make(int64_t b_offset, uint32_t flags)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->real = T0;
    f->store.real = &f->real;
    node_up(&f->a, f, 0, flags);
    node_up(&f->b, f, b_offset, flags);
    return f;
}

static int setup_any(void **st)
{
    *st = make(0, TR_REPLAY_ANY_NODE);
    return 0;
}

static int teardown(void **st)
{
    struct fixture *f = *st;

    node_down(&f->a);
    node_down(&f->b);
    free(f);
    return 0;
}

/* Every clock moves with real time. */
static void at(struct fixture *f, int64_t real)
{
    int64_t d = real - f->real;

    f->real = real;
    f->a.clock += d;
    f->b.clock += d;
}

static void value(uint8_t v[32], int n)
{
    memset(v, 0x5a, 32);
    memcpy(v, &n, sizeof(n));
}

static tr_replay_stats rstats(tr_replay *rp)
{
    tr_replay_stats s;

    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_replay_get_stats(rp, &s), 0);
    return s;
}

static void test_settings(void **st)
{
    struct fixture *f = *st;
    tr_replay *rp;

    assert_int_equal(tr_replay_new(&rp, 16, WINDOW), 0);
    assert_int_equal(tr_replay_set_store(NULL, fake_check, f, 0, 0), TR_E_INVAL);
    assert_int_equal(tr_replay_set_store(rp, fake_check, f, 60001, 0), TR_E_INVAL);
    assert_int_equal(tr_replay_set_store(rp, fake_check, f, 0, 2), TR_E_INVAL);
    assert_int_equal(tr_replay_set_store(rp, NULL, NULL, 1, 0), TR_E_INVAL);
    assert_int_equal(tr_replay_set_store(rp, NULL, NULL, 0, TR_REPLAY_ANY_NODE), TR_E_INVAL);
    assert_int_equal(tr_replay_set_store(rp, fake_check, f, 60000, TR_REPLAY_ANY_NODE), 0);
    assert_int_equal(tri_replay_store_ttl_ms(rp), WINDOW + 3 * 60000u);
    /* Removed: the start-up window applies again. */
    assert_int_equal(tr_replay_set_store(rp, NULL, NULL, 0, 0), 0);
    assert_int_equal(tr_replay_check(rp, (const uint8_t *)"x", 1), TR_E_REPLAY_STARTUP);
    tr_replay_free(rp);
}

/* A node that has just started accepts: what it may have accepted before
 * a restart is in the store. The store is asked with window + 3 skew. */
static void test_startup_skipped(void **st)
{
    struct fixture *f = *st;
    tr_replay_stats s;
    uint8_t v[32];

    value(v, 1);
    assert_int_equal(tr_ring_check_early_data(f->a.ring, f->a.tag, f->a.clock, 0, v, 32), 0);
    assert_int_equal(f->store.calls, 1);
    assert_int_equal(f->store.last_ttl, WINDOW + 3 * SKEW);
    s = rstats(f->a.rp);
    assert_int_equal(s.startup, 0);
    assert_int_equal(s.fresh, 1);
    assert_int_equal(s.store_fresh, 1);
    assert_int_equal(s.entries, 1);
    /* The same flight to another node that just started: the store's. */
    assert_int_equal(tr_ring_check_early_data(f->b.ring, f->a.tag, f->b.clock, 0, v, 32),
                     TR_E_REPLAY);
    assert_int_equal(rstats(f->b.rp).store_replays, 1);
}

/* A replay to the same node costs no round trip; one the store found is
 * remembered locally, so the next costs none either. */
static void test_local_answers_first(void **st)
{
    struct fixture *f = *st;
    uint8_t v[32];

    value(v, 2);
    assert_int_equal(tr_replay_check(f->a.rp, v, 32), 0);
    assert_int_equal(tr_replay_check(f->a.rp, v, 32), TR_E_REPLAY);
    assert_int_equal(f->store.calls, 1);
    assert_int_equal(tr_replay_check(f->b.rp, v, 32), TR_E_REPLAY);
    assert_int_equal(tr_replay_check(f->b.rp, v, 32), TR_E_REPLAY);
    assert_int_equal(f->store.calls, 2);
    assert_int_equal(rstats(f->b.rp).replays, 1);
    assert_int_equal(rstats(f->b.rp).store_replays, 1);
}

/* A store that cannot answer refuses: TR_E_REPLAY_STORE, counted in the
 * cache, the ring and the metrics; whatever code the store gave. */
static void test_store_error(void **st)
{
    struct fixture *f = *st;
    const int answers[] = {TR_E_IO, TR_E_NOMEM, TR_E_REPLAY_STORE, 1};
    tr_stats rs;
    char buf[16384];
    size_t len;
    uint8_t v[32];

    for (int i = 0; i < 4; i++) {
        int rc;

        f->store.answer = answers[i];
        value(v, 100 + i);
        rc = tr_ring_check_early_data(f->a.ring, f->a.tag, f->a.clock, 0, v, 32);
        assert_int_equal(rc, TR_E_REPLAY_STORE);
        assert_int_equal(tr_ring_record(f->a.ring, rc), 0);
    }
    assert_int_equal(rstats(f->a.rp).store_errors, 4);
    assert_int_equal(rstats(f->a.rp).store_fresh, 0);
    memset(&rs, 0, sizeof(rs));
    rs.size = sizeof(rs);
    assert_int_equal(tr_ring_stats(f->a.ring, &rs), 0);
    assert_int_equal(rs.early_refused_store, 4);
    assert_int_equal(rs.early_refused_replay, 0);
    assert_int_equal(tr_ring_metrics(f->a.ring, buf, sizeof(buf), &len), 0);
    assert_non_null(strstr(buf, "ticketring_early_data_refused_total{reason=\"store\"} 4\n"));
    assert_non_null(
        strstr(buf, "ticketring_replay_store_checks_total{result=\"error\"} 4\n"));
    assert_non_null(
        strstr(buf, "ticketring_replay_store_checks_total{result=\"fresh\"} 0\n"));
    assert_string_equal(tr_strerror(TR_E_REPLAY_STORE),
                        "early data refused: replay store unavailable");
    /* The value was recorded locally all the same: a replay of it to this
     * node is caught without the store, which is back now. */
    f->store.answer = 0;
    assert_int_equal(tr_replay_check(f->a.rp, v, 32), TR_E_REPLAY);
    value(v, 200);
    assert_int_equal(tr_replay_check(f->a.rp, v, 32), 0);
}

/* A full cache defers to the store instead of refusing; its refusals are
 * still counted as `full`, so the operator sees the cache is too small. */
static void test_full_defers(void **st)
{
    struct fixture *f = *st;
    tr_replay *small;
    uint32_t slots;
    unsigned calls;
    int n = 1000;
    uint8_t v[32];

    assert_int_equal(tri_replay_new_sharded(&small, 1, WINDOW, 1, tu_malloc, tu_free,
                                            &(struct tu_alloc){0}),
                     0);
    assert_int_equal(tr_replay_set_clock(small, tu_clock, &f->a.clock), 0);
    assert_int_equal(tr_replay_set_store(small, fake_check, &f->store, SKEW, 0), 0);
    slots = (tri_replay_homes(small) + tri_replay_spill(small)) * TRI_REPLAY_BUCKET_SLOTS;
    for (uint32_t i = 0; i < slots; i++) {
        value(v, n++);
        assert_int_equal(tr_replay_check(small, v, 32), 0);
    }
    assert_int_equal(rstats(small).full, 0);
    calls = f->store.calls;
    value(v, n++);
    assert_int_equal(tr_replay_check(small, v, 32), 0);
    assert_int_equal(f->store.calls, calls + 1);
    assert_int_equal(rstats(small).full, 1);
    /* Not recorded here, so its replay is the store's to catch. */
    assert_int_equal(tr_replay_check(small, v, 32), TR_E_REPLAY);
    assert_int_equal(f->store.calls, calls + 2);
    assert_int_equal(rstats(small).store_replays, 1);
    tr_replay_free(small);
}

/* TR_REPLAY_ANY_NODE: any non-zero tag, never a zero one (a ticket
 * issued with early data off). */
static void test_any_node_tags(void **st)
{
    struct fixture *f = *st;
    uint8_t v[32];

    value(v, 3);
    assert_int_not_equal(f->a.tag, f->b.tag);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, 0, f->b.clock, 0, v, 32),
                     TR_E_EARLY_NODE);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, f->a.tag, f->b.clock, 0, v, 32), 0);
    value(v, 4);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, 0x1234, f->b.clock, 0, v, 32), 0);
}

/* A store without TR_REPLAY_ANY_NODE keeps node binding and the one-window
 * interval (the issuer's clock is ours). */
static void test_bound_with_store(void **st)
{
    struct fixture *f = make(0, 0);
    const int64_t late = WINDOW - WINDOW / 4;
    uint8_t v[32];

    (void)st;
    value(v, 5);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, f->a.tag, f->b.clock, 0, v, 32),
                     TR_E_EARLY_NODE);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, f->b.tag, f->b.clock - late, 0, v, 32),
                     TR_E_EARLY_STALE);
    assert_int_equal(
        tr_ring_check_early_data(f->b.ring, f->b.tag, f->b.clock - late + 1, 0, v, 32), 0);
    assert_int_equal(f->store.calls, 1);
    teardown((void **)&f);
}

/* expected = issue + age; with ANY_NODE accepted while
 * expected - WINDOW/4 - SKEW <= now < expected + 3 WINDOW/4 + SKEW. */
static void test_any_node_skew_edges(void **st)
{
    struct fixture *f = *st;
    const int64_t early = WINDOW / 4 + SKEW, late = WINDOW - WINDOW / 4 + SKEW;
    const int64_t now = f->b.clock;
    const uint32_t age = 600000;
    uint8_t v[32];
    int n = 10;

    value(v, n++);
    assert_int_equal(
        tr_ring_check_early_data(f->b.ring, 7, now + early - age, age, v, 32), 0);
    value(v, n++);
    assert_int_equal(
        tr_ring_check_early_data(f->b.ring, 7, now + early + 1 - age, age, v, 32),
        TR_E_EARLY_STALE);
    value(v, n++);
    assert_int_equal(
        tr_ring_check_early_data(f->b.ring, 7, now - late + 1 - age, age, v, 32), 0);
    value(v, n++);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, 7, now - late - age, age, v, 32),
                     TR_E_EARLY_STALE);
    /* A stale or foreign-tagged attempt asks nothing and records nothing. */
    assert_int_equal(f->store.calls, 2);
}

/* The exactness argument, at its edges: node A's clock is right, node B's
 * runs SKEW behind, so B accepts a ClientHello up to SKEW later in real
 * time than A would. A accepts it at the first moment A finds it fresh;
 * B's local cache has never seen it, so only the store stands between it
 * and a second acceptance at the last moment B finds it fresh. That
 * moment is window + 3 skew - 1 ms later: the store still has it. One ms
 * later B finds it stale. */
static void test_found_or_stale_across_nodes(void **st)
{
    struct fixture *f = make(-(int64_t)SKEW, TR_REPLAY_ANY_NODE);
    const int64_t early = WINDOW / 4 + SKEW, late = WINDOW - WINDOW / 4 + SKEW;
    const int64_t t0 = f->real + WINDOW, issue = T0 - 3600000;
    const uint32_t age = (uint32_t)(t0 + early - issue); /* A: expected - early == t0 */
    uint8_t v[32];

    (void)st;
    value(v, 42);
    at(f, t0 - 1);
    assert_int_equal(tr_ring_check_early_data(f->a.ring, f->a.tag, issue, age, v, 32),
                     TR_E_EARLY_STALE);
    at(f, t0);
    assert_int_equal(tr_ring_check_early_data(f->a.ring, f->a.tag, issue, age, v, 32), 0);
    /* B's last fresh moment: its clock (real - SKEW) at expected + late - 1. */
    at(f, t0 + early + late - 1 + SKEW);
    assert_int_equal(f->real - t0, WINDOW + 3 * SKEW - 1);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, f->a.tag, issue, age, v, 32),
                     TR_E_REPLAY);
    assert_int_equal(rstats(f->b.rp).store_replays, 1);
    at(f, f->real + 1);
    value(v, 42);
    assert_int_equal(tr_ring_check_early_data(f->b.ring, f->a.tag, issue, age, v, 32),
                     TR_E_EARLY_STALE);
    /* And A itself, long after its cache forgot: stale, never accepted. */
    assert_int_equal(tr_ring_check_early_data(f->a.ring, f->a.tag, issue, age, v, 32),
                     TR_E_EARLY_STALE);
    teardown((void **)&f);
}

static void test_stats_names(void **st)
{
    const char *want[] = {"store_fresh", "store_replays", "store_errors"};
    size_t n = tr_replay_stats_count(), m = tr_stats_count();
    uint64_t x;
    struct fixture *f = *st;
    uint8_t v[32];

    assert_true(n >= 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(tr_replay_stats_name(n - 3 + (size_t)i), want[i]);
    /* Appended in 0.4.0, after the 0.3.0 early-data reasons. */
    assert_string_equal(tr_stats_name(m - 2), "early_refused_store");
    assert_string_equal(tr_stats_name(m - 3), "early_refused_tls");
    value(v, 77);
    assert_int_equal(tr_replay_check(f->a.rp, v, 32), 0);
    assert_int_equal(tr_replay_stat(f->a.rp, n - 3, &x), 0);
    assert_int_equal(x, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settings, setup_any, teardown),
        cmocka_unit_test_setup_teardown(test_startup_skipped, setup_any, teardown),
        cmocka_unit_test_setup_teardown(test_local_answers_first, setup_any, teardown),
        cmocka_unit_test_setup_teardown(test_store_error, setup_any, teardown),
        cmocka_unit_test_setup_teardown(test_full_defers, setup_any, teardown),
        cmocka_unit_test_setup_teardown(test_any_node_tags, setup_any, teardown),
        cmocka_unit_test(test_bound_with_store),
        cmocka_unit_test_setup_teardown(test_any_node_skew_edges, setup_any, teardown),
        cmocka_unit_test(test_found_or_stale_across_nodes),
        cmocka_unit_test_setup_teardown(test_stats_names, setup_any, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
