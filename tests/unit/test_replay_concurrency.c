/*
 * The replay cache under concurrent checks (suite 'concurrency', also run
 * under ThreadSanitizer): threads checking the same values at the same
 * time must agree that each is new exactly once; threads checking their
 * own values never see each other's. Rounds move the injected clock, so
 * the entries of earlier rounds expire and are reclaimed while other
 * threads insert next to them, and small tables force long spill chains
 * shared by many homes.
 */
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define T0 INT64_C(1700000000000) /* ms */
#define WIN 1000u
#define MAX_THREADS 8

static const uint8_t fixed_key[TRI_SIPHASH_KEY_BYTES] = {
    0x3c, 0x91, 0x5a, 0x07, 0xee, 0x42, 0xb8, 0x1d, 0x66, 0xf0, 0x29, 0x83, 0xc5, 0x7b, 0x14, 0xd9,
};

struct run {
    tr_replay *rp;
    _Atomic int64_t clock;
    pthread_barrier_t bar;
    int threads;
    int shared;       /* 1: every thread checks the round's batch; 0: each its own */
    uint32_t rounds;
    uint32_t batch;   /* values per round (per thread when !shared) */
    int64_t step;     /* clock advance per round */
    uint8_t (*values)[32]; /* rounds * batch (* threads when !shared) */
    atomic_uint *zeros;    /* per value: checks that answered 0 */
    atomic_uint *replays;  /* per value: checks that answered TR_E_REPLAY */
    atomic_uint others;    /* any other answer */
    atomic_uint late_misses; /* !shared: a value's owner re-checking it got 0 */
};

static int64_t run_clock(void *arg)
{
    struct run *r = arg;
    return atomic_load_explicit(&r->clock, memory_order_relaxed);
}

static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

struct worker {
    struct run *r;
    int id;
};

static void one(struct run *r, size_t v)
{
    int rc = tr_replay_check(r->rp, r->values[v], 32);

    if (rc == 0)
        atomic_fetch_add(&r->zeros[v], 1);
    else if (rc == TR_E_REPLAY)
        atomic_fetch_add(&r->replays[v], 1);
    else
        atomic_fetch_add(&r->others, 1);
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->r;

    for (uint32_t round = 0; round < r->rounds; round++) {
        size_t base;

        /* Thread 0 moves the clock while everyone waits between rounds. */
        if (w->id == 0)
            atomic_fetch_add(&r->clock, r->step);
        pthread_barrier_wait(&r->bar);
        if (r->shared) {
            base = (size_t)round * r->batch;
            /* Different orders, so threads meet on every value both first
             * and late; odd threads walk backwards. */
            for (uint32_t i = 0; i < r->batch; i++) {
                uint32_t j = (i + (uint32_t)w->id * 7u) % r->batch;

                if (w->id & 1)
                    j = r->batch - 1 - j;
                one(r, base + j);
            }
        } else {
            base = ((size_t)round * (size_t)r->threads + (size_t)w->id) * r->batch;
            for (uint32_t i = 0; i < r->batch; i++)
                one(r, base + i);
            /* Its own values are replays for it now, whatever the others do. */
            for (uint32_t i = 0; i < r->batch; i++)
                if (tr_replay_check(r->rp, r->values[base + i], 32) != TR_E_REPLAY)
                    atomic_fetch_add(&r->late_misses, 1);
        }
        pthread_barrier_wait(&r->bar);
    }
    return NULL;
}

/* homes 0: the default sizing for `capacity`. collide: how many values
 * of each batch share one home bucket (found with the fixed key). */
static void run_case(int threads, int shared, uint32_t capacity, uint32_t homes,
                     uint32_t rounds, uint32_t batch, int64_t step, uint32_t collide)
{
    struct run r;
    pthread_t tid[MAX_THREADS];
    struct worker w[MAX_THREADS];
    size_t n = (size_t)rounds * batch * (shared ? 1u : (unsigned)threads);
    uint64_t ctr = 0;
    struct tu_alloc alloc = {0};
    tr_replay_stats s;

    assert_true(threads <= MAX_THREADS);
    memset(&r, 0, sizeof(r));
    r.threads = threads;
    r.shared = shared;
    r.rounds = rounds;
    r.batch = batch;
    r.step = step;
    atomic_init(&r.clock, T0);
    atomic_init(&r.others, 0);
    atomic_init(&r.late_misses, 0);
    assert_int_equal(tri_replay_new_sharded(&r.rp, capacity, WIN, homes, tu_malloc, tu_free,
                                            &alloc),
                     0);
    tri_replay_set_hash_key(r.rp, fixed_key);
    assert_int_equal(tr_replay_set_clock(r.rp, run_clock, &r), 0);
    /* Past the start-up window once the first round's step is added. */
    atomic_store(&r.clock, T0 + WIN - step);

    r.values = calloc(n, 32);
    r.zeros = calloc(n, sizeof(*r.zeros));
    r.replays = calloc(n, sizeof(*r.replays));
    assert_non_null(r.values);
    assert_non_null(r.zeros);
    assert_non_null(r.replays);
    for (size_t v = 0; v < n; v++) {
        for (;;) {
            for (int k = 0; k < 4; k++) {
                uint64_t word = mix64(ctr * 4 + (uint64_t)k);
                memcpy(r.values[v] + 8 * k, &word, 8);
            }
            ctr++;
            /* The first `collide` of each batch all live in home 1. */
            if (v % batch >= collide ||
                tri_replay_home_of(r.rp, tri_replay_tag(r.rp, r.values[v], 32)) == 1)
                break;
        }
    }

    assert_int_equal(pthread_barrier_init(&r.bar, NULL, (unsigned)threads), 0);
    for (int t = 0; t < threads; t++) {
        w[t].r = &r;
        w[t].id = t;
        assert_int_equal(pthread_create(&tid[t], NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < threads; t++)
        assert_int_equal(pthread_join(tid[t], NULL), 0);
    pthread_barrier_destroy(&r.bar);

    assert_int_equal(atomic_load(&r.others), 0);
    assert_int_equal(atomic_load(&r.late_misses), 0);
    for (size_t v = 0; v < n; v++) {
        assert_int_equal(atomic_load(&r.zeros[v]), 1);
        assert_int_equal(atomic_load(&r.replays[v]), shared ? (unsigned)threads - 1 : 0);
    }
    s = (tr_replay_stats){.size = sizeof(s)};
    assert_int_equal(tr_replay_get_stats(r.rp, &s), 0);
    assert_int_equal(s.fresh, n);
    assert_int_equal(s.replays, shared ? n * (size_t)(threads - 1) : n);
    assert_int_equal(s.full, 0);
    assert_int_equal(s.startup, 0);
    assert_true(s.entries <= s.slots);

    tr_replay_free(r.rp);
    assert_int_equal(alloc.allocs, alloc.frees);
    free(r.values);
    free(r.zeros);
    free(r.replays);
}

/* 8 home buckets, 8 spill buckets, 64 slots; 24 values a round, 12 of
 * them in one home (three buckets' worth), each round a window after the
 * last: every check meets the last round's dead entries. At most 24 live
 * entries never fill a 36-slot run, so no answer may be FULL. */
static void test_same_values_small_table(void **st)
{
    (void)st;
    run_case(4, 1, 64, 8, 400, 24, WIN, 12);
    run_case(8, 1, 64, 8, 400, 24, WIN, 12);
}

/* Default sizing, rounds half a window apart: two rounds are live at a
 * time (half the table's rated capacity each), the one before them
 * expires during the round. */
static void test_same_values_default_table(void **st)
{
    (void)st;
    run_case(4, 1, 4096, 0, 12, 2048, WIN / 2, 16);
    run_case(8, 1, 4096, 0, 12, 2048, WIN / 2, 16);
}

/* Disjoint sets: each thread's values are fresh for it, then replays. */
static void test_disjoint_values(void **st)
{
    (void)st;
    run_case(4, 0, 64, 8, 400, 6, WIN, 2);
    run_case(8, 0, 64, 8, 400, 3, WIN, 1);
    run_case(8, 0, 4096, 0, 12, 256, WIN / 2, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_values_small_table),
        cmocka_unit_test(test_same_values_default_table),
        cmocka_unit_test(test_disjoint_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
