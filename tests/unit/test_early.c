/* The ring's early-data policy (lib/early.c): the order of its checks,
 * the freshness window at its exact edges, node binding by tag, and what a
 * refusal leaves in the replay cache. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define T0 INT64_C(1700000000000) /* ms */
#define WINDOW 20000u

struct fixture {
    int64_t clock;
    tr_ring *ring;
    tr_replay *rp;
    uint64_t tag;
};

static int setup(void **st)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->clock = T0;
    f->ring = tu_ring(&f->clock);
    assert_int_equal(tr_replay_new(&f->rp, 1024, WINDOW), 0);
    assert_int_equal(tr_replay_set_clock(f->rp, tu_clock, &f->clock), 0);
    assert_int_equal(tr_ring_set_early_data(f->ring, 16384, f->rp), 0);
    assert_int_equal(tr_ring_early_data_tag(f->ring, &f->tag), 0);
    assert_int_not_equal(f->tag, 0);
    f->clock += WINDOW; /* past the cache's start-up window */
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fixture *f = *st;

    tr_ring_free(f->ring);
    tr_replay_free(f->rp);
    free(f);
    return 0;
}

static void value(uint8_t v[32], int n)
{
    memset(v, 0, 32);
    memcpy(v, &n, sizeof(n));
}

static void test_settings(void **st)
{
    struct fixture *f = *st;
    uint32_t max = 1;
    uint64_t tag = 1;
    uint8_t v[32];

    value(v, 1);
    assert_int_equal(tr_ring_set_early_data(NULL, 1, f->rp), TR_E_INVAL);
    assert_int_equal(tr_ring_set_early_data(f->ring, 1, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_set_early_data(f->ring, 16777217, f->rp), TR_E_INVAL);
    assert_int_equal(tr_ring_early_data_max(f->ring, &max), 0);
    assert_int_equal(max, 16384); /* refused settings changed nothing */
    assert_int_equal(tr_ring_early_data_max(f->ring, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_early_data_tag(NULL, &tag), TR_E_INVAL);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, T0, 0, v, 0), TR_E_INVAL);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, T0, 0, NULL, 32), TR_E_INVAL);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, T0, 0, v, 1025), TR_E_INVAL);

    /* Off: no maximum, no tag, every attempt refused as off. */
    assert_int_equal(tr_ring_set_early_data(f->ring, 0, NULL), 0);
    assert_int_equal(tr_ring_early_data_max(f->ring, &max), 0);
    assert_int_equal(max, 0);
    assert_int_equal(tr_ring_early_data_tag(f->ring, &tag), 0);
    assert_int_equal(tag, 0);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, f->clock, 0, v, 32),
                     TR_E_EARLY_OFF);
    /* On again with the same cache: the same tag, so its tickets still work. */
    assert_int_equal(tr_ring_set_early_data(f->ring, 16777216, f->rp), 0);
    assert_int_equal(tr_ring_early_data_tag(f->ring, &tag), 0);
    assert_int_equal(tag, f->tag);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, f->clock, 0, v, 32), 0);
}

/* expected arrival = issue + client age; accepted while
 * expected - WINDOW/4 <= now < expected + 3 * WINDOW/4. */
static void test_freshness_edges(void **st)
{
    struct fixture *f = *st;
    const int64_t early = WINDOW / 4, late = WINDOW - WINDOW / 4, issue = f->clock - 3600000;
    const uint32_t age = 3600000; /* a ticket an hour old, used now */
    uint8_t v[32];
    int n = 0;

    value(v, ++n);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue, age, v, 32), 0);
    /* The client arrives early (its clock or ours): a quarter window. */
    value(v, ++n);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue + early, age, v, 32), 0);
    value(v, ++n);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue + early + 1, age, v, 32),
                     TR_E_EARLY_STALE);
    /* Late (round trip, ages reported in whole seconds rounded down): the
     * rest of the window, half-open. */
    value(v, ++n);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue - late + 1, age, v, 32), 0);
    value(v, ++n);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue - late, age, v, 32),
                     TR_E_EARLY_STALE);
    /* Nonsense issue times (a ticket can only carry what a node sealed,
     * but the integration may pass anything). */
    value(v, ++n);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, -1, age, v, 32),
                     TR_E_EARLY_STALE);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, INT64_MAX, 0, v, 32),
                     TR_E_EARLY_STALE);
}

/* A ClientHello can pass the freshness check only within one window, and
 * the cache remembers it for exactly that long: every later attempt is a
 * replay caught, or stale. Start at the first moment it is fresh. */
static void test_replay_caught_or_stale(void **st)
{
    struct fixture *f = *st;
    const int64_t c0 = f->clock, issue = c0 - 3600000;
    const uint32_t age = 3600000 + WINDOW / 4; /* expected arrival c0 + WINDOW/4 */
    uint8_t v[32];

    f->clock = c0 - 1;
    value(v, 8);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue, age, v, 32),
                     TR_E_EARLY_STALE);
    f->clock = c0;
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue, age, v, 32), 0);
    for (f->clock = c0 + 1; f->clock < c0 + WINDOW; f->clock += 997)
        assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue, age, v, 32),
                         TR_E_REPLAY);
    f->clock = c0 + WINDOW - 1;
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue, age, v, 32), TR_E_REPLAY);
    f->clock = c0 + WINDOW;
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, issue, age, v, 32),
                     TR_E_EARLY_STALE);
}

static void test_order_and_no_side_effects(void **st)
{
    struct fixture *f = *st;
    uint8_t v[32];

    value(v, 9);
    /* Wrong tag beats stale; neither records the value. */
    assert_int_equal(tr_ring_check_early_data(f->ring, 0, 0, 0, v, 32), TR_E_EARLY_NODE);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag ^ 1, f->clock, 0, v, 32),
                     TR_E_EARLY_NODE);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, 0, 0, v, 32), TR_E_EARLY_STALE);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, f->clock, 0, v, 32), 0);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, f->clock, 0, v, 32), TR_E_REPLAY);
}

/* Another cache (another node, or this node after a restart) has another
 * tag: the tickets this one issued get no early data there. */
static void test_other_cache(void **st)
{
    struct fixture *f = *st;
    tr_replay *other;
    uint64_t tag;
    uint8_t v[32];

    value(v, 11);
    assert_int_equal(tr_replay_new(&other, 16, WINDOW), 0);
    assert_int_equal(tr_replay_set_clock(other, tu_clock, &f->clock), 0);
    assert_int_equal(tr_ring_set_early_data(f->ring, 1, other), 0);
    assert_int_equal(tr_ring_early_data_tag(f->ring, &tag), 0);
    assert_int_not_equal(tag, f->tag);
    assert_int_equal(tr_ring_check_early_data(f->ring, f->tag, f->clock, 0, v, 32),
                     TR_E_EARLY_NODE);
    assert_int_equal(tr_ring_check_early_data(f->ring, tag, f->clock, 0, v, 32),
                     TR_E_REPLAY_STARTUP);
    assert_int_equal(tr_ring_set_early_data(f->ring, 1, f->rp), 0);
    tr_replay_free(other);
}

/* A forked worker holds a copy of the cache but not its later entries: it
 * must not accept tickets its parent (or a sibling) issues. */
static void test_fork_changes_tag(void **st)
{
    struct fixture *f = *st;
    int fds[2];
    uint64_t child = 0;
    pid_t pid;
    int status;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t t = 0;
        int ok = tr_ring_early_data_tag(f->ring, &t) == 0 &&
                 write(fds[1], &t, sizeof(t)) == (ssize_t)sizeof(t);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &child, sizeof(child)), sizeof(child));
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_not_equal(child, 0);
    assert_int_not_equal(child, f->tag);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freshness_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_caught_or_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_and_no_side_effects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_changes_tag, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
