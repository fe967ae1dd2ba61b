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

/* Two nodes' caches in front of one store, eight threads checking the same
 * values in different orders through either cache: exactly one 0 per value
 * fleet-wide. The fake store is an atomic flag per value (the value's
 * first four bytes name it), so any double "first" is the caches'. The
 * caches are in their start-up window, which a store lifts. */
#define STORE_VALUES 2000u
#define STORE_THREADS 8

static atomic_uint store_flag[STORE_VALUES];
static atomic_uint store_zero[STORE_VALUES];
static atomic_uint store_other;
static tr_replay *store_caches[2];

static int flag_store(void *arg, const uint8_t *value, size_t len, uint32_t ttl_ms)
{
    uint32_t id;

    (void)arg;
    if (len != 32 || ttl_ms != WIN + 3 * 100)
        return TR_E_INVAL;
    memcpy(&id, value, 4);
    return atomic_exchange(&store_flag[id % STORE_VALUES], 1) == 0 ? 0 : TR_E_REPLAY;
}

static void *store_work(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint8_t v[32];

    memset(v, 0xab, sizeof(v));
    for (uint32_t k = 0; k < STORE_VALUES; k++) {
        uint32_t i = (uint32_t)((k * 7919u + (uint32_t)id * 251u) % STORE_VALUES);
        int rc;

        memcpy(v, &i, 4);
        rc = tr_replay_check(store_caches[id % 2], v, 32);
        if (rc == 0)
            atomic_fetch_add(&store_zero[i], 1);
        else if (rc != TR_E_REPLAY)
            atomic_fetch_add(&store_other, 1);
    }
    return NULL;
}

static void test_two_caches_one_store(void **st)
{
    pthread_t t[STORE_THREADS];
    int64_t clock = T0;
    tr_replay_stats s;
    uint64_t asked = 0;

    (void)st;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(tr_replay_new(&store_caches[i], STORE_VALUES * 2, WIN), 0);
        assert_int_equal(tr_replay_set_clock(store_caches[i], tu_clock, &clock), 0);
        assert_int_equal(
            tr_replay_set_store(store_caches[i], flag_store, NULL, 100, TR_REPLAY_ANY_NODE), 0);
    }
    for (intptr_t i = 0; i < STORE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, store_work, (void *)i), 0);
    for (int i = 0; i < STORE_THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&store_other), 0);
    for (uint32_t i = 0; i < STORE_VALUES; i++)
        if (atomic_load(&store_zero[i]) != 1)
            fail_msg("value %u: %u firsts", i, atomic_load(&store_zero[i]));
    for (int i = 0; i < 2; i++) {
        memset(&s, 0, sizeof(s));
        s.size = sizeof(s);
        assert_int_equal(tr_replay_get_stats(store_caches[i], &s), 0);
        assert_int_equal(s.startup, 0);
        assert_int_equal(s.store_errors, 0);
        /* Each cache asked the store once per value: its own cache
         * answered every later check. */
        assert_int_equal(s.fresh, STORE_VALUES);
        asked += s.store_fresh + s.store_replays;
        tr_replay_free(store_caches[i]);
    }
    assert_int_equal(asked, 2 * STORE_VALUES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_values_small_table),
        cmocka_unit_test(test_same_values_default_table),
        cmocka_unit_test(test_disjoint_values),
        cmocka_unit_test(test_two_caches_one_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
