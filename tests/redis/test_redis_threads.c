/* Many threads checking the same and different values at once, through
 * two nodes' replay caches (each with its own local cache) in front of one
 * Redis: exactly one "first seen" per value, fleet-wide. Also run under
 * ThreadSanitizer (suite concurrency): the pool hands connections between
 * threads and the background thread. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_int.h"
#include "redis_server.h"
#include "test_util.h"

#define THREADS 8
#define SHARED 300
#define OWN 100

static struct rs_server srv;
static tr_replay *caches[2];
static atomic_uint firsts[SHARED];
static atomic_uint own_firsts;
static atomic_uint other;
static uint8_t salt[24];

static void value(uint8_t v[32], uint32_t n)
{
    memcpy(v, &n, 4);
    memset(v + 4, 0, 4);
    memcpy(v + 8, salt, 24);
}

static void *worker(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    tr_replay *rp = caches[id % 2];
    uint8_t v[32];

    for (uint32_t k = 0; k < SHARED; k++) {
        /* Each thread walks the shared values from its own offset. */
        uint32_t i = (k + id * (SHARED / THREADS)) % SHARED;
        int rc;

        value(v, i);
        rc = tr_replay_check(rp, v, 32);
        if (rc == 0)
            atomic_fetch_add(&firsts[i], 1);
        else if (rc != TR_E_REPLAY)
            atomic_fetch_add(&other, 1);
        if (k % (SHARED / OWN) == 0) {
            value(v, 100000 + id * OWN + k / (SHARED / OWN));
            rc = tr_replay_check(rp, v, 32);
            atomic_fetch_add(rc == 0 ? &own_firsts : &other, 1);
        }
    }
    return NULL;
}

static void test_one_first_per_value(void **st)
{
    pthread_t t[THREADS];
    tr_redis *r;
    tr_redis_stats s = {.size = sizeof(s)};
    int64_t clock = 1700000000000;
    (void)st;

    assert_int_equal(tu_random_os(salt, sizeof(salt)), 0);
    assert_int_equal(tr_redis_new(&r, rs_url(&srv, "?pool=4"), srv.password_file,
                                  srv.hash_key_file, "threads"),
                     0);
    /* Generous: exactness is the point here, not latency (TSan is slow). */
    assert_int_equal(tr_redis_set_budget(r, 2000), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tr_replay_new(&caches[i], 4096, 10000), 0);
        assert_int_equal(tr_replay_set_clock(caches[i], tu_clock, &clock), 0);
        assert_int_equal(tr_redis_attach(r, caches[i], 500, TR_REPLAY_ANY_NODE), 0);
    }
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tr_redis_stats_get(r, &s), 0);
        if (s.up == 4)
            break;
        usleep(10000);
    }
    assert_int_equal(s.up, 4);
    for (uintptr_t i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);

    assert_int_equal(atomic_load(&other), 0);
    for (int i = 0; i < SHARED; i++)
        if (atomic_load(&firsts[i]) != 1)
            fail_msg("value %d: %u firsts", i, atomic_load(&firsts[i]));
    assert_int_equal(atomic_load(&own_firsts), THREADS * OWN);
    assert_int_equal(tr_redis_stats_get(r, &s), 0);
    assert_int_equal(s.err_timeout + s.err_down + s.err_busy + s.err_reply, 0);
    /* The store saw each value at most once per node: the local caches
     * answered the rest. */
    assert_int_equal(s.fresh, SHARED + THREADS * OWN);
    assert_true(s.replays <= SHARED);
    for (int i = 0; i < 2; i++)
        tr_replay_free(caches[i]);
    tr_redis_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_first_per_value),
    };
    int rc;

    if (rs_start(&srv) != 0) {
        fprintf(stderr, "redis-server did not start\n");
        return 1;
    }
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rs_free(&srv);
    return rc;
}
