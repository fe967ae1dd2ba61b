/* The replay cache (lib/replay.c) as a black box: its public contract in
 * ticketring.h, with the hooks of lib/replay.h used only to build the
 * crowded tables an attacker or bad luck would produce. Time is an
 * injected clock throughout. */
#define _GNU_SOURCE

#include "test_util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define T0 INT64_C(1700000000000) /* ms */
#define W 20000u

/* ---- Helpers ------------------------------------------------------------ */

/* An allocator that knows what is live, byte for byte, and looks at every
 * block freed for the hash key the test installed (it must be wiped). */
struct acct {
    size_t live_bytes;
    size_t allocs, frees, failed;
    size_t fail_at; /* 1-based allocation to refuse; 0: none */
    size_t largest;
    uint8_t key[TRI_SIPHASH_KEY_BYTES];
    int watch_key;
    int key_left_in_free;
};

#define ACCT_HDR 16 /* keeps the block as aligned as malloc's */

static void *acct_malloc(size_t size, void *arg)
{
    struct acct *a = arg;
    uint8_t *p;

    a->allocs++;
    if (size > a->largest)
        a->largest = size;
    if (a->fail_at != 0 && a->allocs == a->fail_at) {
        a->failed++;
        return NULL;
    }
    p = malloc(size + ACCT_HDR);
    if (p == NULL)
        return NULL;
    memcpy(p, &size, sizeof(size));
    a->live_bytes += size;
    return p + ACCT_HDR;
}

static void acct_free(void *ptr, void *arg)
{
    struct acct *a = arg;
    uint8_t *p = ptr;
    size_t size;

    if (p == NULL)
        return;
    p -= ACCT_HDR;
    memcpy(&size, p, sizeof(size));
    if (a->watch_key && memmem(p + ACCT_HDR, size, a->key, sizeof(a->key)) != NULL)
        a->key_left_in_free++;
    a->live_bytes -= size;
    a->frees++;
    free(p);
}

struct fx {
    int64_t clock;
    struct acct acct;
    tr_replay *rp;
};

static const uint8_t fixed_key[TRI_SIPHASH_KEY_BYTES] = {
    0x5e, 0x11, 0xa9, 0x02, 0x7c, 0xd3, 0x48, 0xb6, 0x91, 0x0f, 0xe4, 0x2a, 0x63, 0xcd, 0x17, 0x88,
};

/* A cache on the fake clock at T0 (its start-up window runs to T0 + window)
 * with the fixed hash key, so every run places values alike. homes 0: the
 * default sizing. */
static void fx_make(struct fx *f, uint32_t capacity, uint32_t window, uint32_t homes)
{
    memset(f, 0, sizeof(*f));
    f->clock = T0;
    assert_int_equal(tri_replay_new_sharded(&f->rp, capacity, window, homes, acct_malloc,
                                            acct_free, &f->acct),
                     0);
    assert_non_null(f->rp);
    tri_replay_set_hash_key(f->rp, fixed_key);
    assert_int_equal(tr_replay_set_clock(f->rp, tu_clock, &f->clock), 0);
}

static void fx_done(struct fx *f)
{
    tr_replay_free(f->rp);
    f->rp = NULL;
    assert_int_equal(f->acct.allocs - f->acct.failed, f->acct.frees);
    assert_int_equal(f->acct.live_bytes, 0);
}

static uint64_t mix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

/* Value i of stream `seed`: 32 bytes like a ClientHello.random. The first
 * word is a bijection of i, so the values of one stream are distinct. */
static void value(uint8_t v[32], uint64_t seed, uint64_t i)
{
    uint64_t base = mix64(seed ^ UINT64_C(0x6a09e667f3bcc908));

    for (int k = 0; k < 4; k++) {
        uint64_t w = mix64(base + 4 * i + (uint64_t)k);
        memcpy(v + 8 * k, &w, 8);
    }
}

static int check(struct fx *f, uint64_t seed, uint64_t i)
{
    uint8_t v[32];

    value(v, seed, i);
    return tr_replay_check(f->rp, v, sizeof(v));
}

/* The stream indexes of `seed` whose values have home bucket `home`,
 * `n` of them from index *next on (advanced past the last one found). */
static void find_homed(const tr_replay *rp, uint64_t seed, uint32_t home, uint64_t *out,
                       size_t n, uint64_t *next)
{
    uint8_t v[32];
    size_t got = 0;
    uint64_t i = *next;
    uint32_t homes = tri_replay_homes(rp);

    while (got < n) {
        uint64_t tag;
        uint32_t h;

        value(v, seed, i);
        tag = tri_replay_tag(rp, v, sizeof(v));
        assert_int_not_equal(tag, 0);
        h = tri_replay_home_of(rp, tag);
        assert_true(h < homes);
        if (h == home)
            out[got++] = i;
        i++;
        assert_true(i - *next < (uint64_t)homes * n * 64); /* the key spreads values */
    }
    *next = i;
}

static tr_replay_stats stats(struct fx *f)
{
    tr_replay_stats s;

    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_replay_get_stats(f->rp, &s), 0);
    return s;
}

/* ---- Arguments ---------------------------------------------------------- */

static void test_arguments(void **st)
{
    struct acct a = {0};
    tr_replay *rp = NULL;
    int64_t clock = T0;
    uint8_t v[TRI_REPLAY_VALUE_MAX + 1] = {0};
    tr_replay_stats s;
    (void)st;

    assert_int_equal(tr_replay_max_capacity(), TR_REPLAY_MAX_CAPACITY);
    assert_int_equal(tr_replay_value_max(), TRI_REPLAY_VALUE_MAX);
    assert_int_equal(TRI_REPLAY_VALUE_MAX, 1024);

    assert_int_equal(tr_replay_new(NULL, 1, 1000), TR_E_INVAL);
    assert_int_equal(tr_replay_new(&rp, 0, W), TR_E_INVAL);
    assert_int_equal(tr_replay_new(&rp, TR_REPLAY_MAX_CAPACITY + 1, W), TR_E_INVAL);
    assert_int_equal(tr_replay_new(&rp, UINT32_MAX, W), TR_E_INVAL);
    assert_int_equal(tr_replay_new(&rp, 1, 0), TR_E_INVAL);
    assert_int_equal(tr_replay_new(&rp, 1, 999), TR_E_INVAL);
    assert_int_equal(tr_replay_new(&rp, 1, 3600001), TR_E_INVAL);
    assert_int_equal(tr_replay_new(&rp, 1, UINT32_MAX), TR_E_INVAL);
    assert_null(rp);
    assert_int_equal(tr_replay_new_with_allocator(&rp, 1, W, NULL, acct_free, &a), TR_E_INVAL);
    assert_int_equal(tr_replay_new_with_allocator(&rp, 1, W, acct_malloc, NULL, &a), TR_E_INVAL);
    assert_int_equal(tr_replay_new_with_allocator(NULL, 1, W, acct_malloc, acct_free, &a),
                     TR_E_INVAL);
    assert_int_equal(tr_replay_new_with_allocator(&rp, 0, W, acct_malloc, acct_free, &a),
                     TR_E_INVAL);
    assert_int_equal(tr_replay_new_with_allocator(&rp, 1, 999, acct_malloc, acct_free, &a),
                     TR_E_INVAL);
    assert_null(rp);
    assert_int_equal(a.allocs, 0); /* refused before allocating */

    /* The edges themselves are valid. */
    assert_int_equal(tr_replay_new(&rp, 1, 1000), 0);
    tr_replay_free(rp);
    rp = NULL;
    assert_int_equal(tr_replay_new(&rp, 1, 3600000), 0);
    tr_replay_free(rp);
    rp = NULL;
    /* TR_REPLAY_MAX_CAPACITY is accepted: the refusal is for want of
     * memory (the allocator refuses), not of validity. */
    a.fail_at = 1;
    assert_int_equal(tr_replay_new_with_allocator(&rp, TR_REPLAY_MAX_CAPACITY, 3600000,
                                                  acct_malloc, acct_free, &a),
                     TR_E_NOMEM);
    assert_null(rp);
    assert_int_equal(a.allocs - a.failed, a.frees);
    assert_int_equal(a.live_bytes, 0);

    tr_replay_free(NULL);
    assert_int_equal(tr_replay_set_clock(NULL, tu_clock, &clock), TR_E_INVAL);
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_replay_get_stats(NULL, &s), TR_E_INVAL);

    assert_int_equal(tr_replay_new(&rp, 16, W), 0);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &clock), 0);
    assert_int_equal(tr_replay_get_stats(rp, NULL), TR_E_INVAL);
    assert_int_equal(tr_replay_check(NULL, v, 32), TR_E_INVAL);
    assert_int_equal(tr_replay_check(rp, NULL, 32), TR_E_INVAL);
    assert_int_equal(tr_replay_check(rp, NULL, 0), TR_E_INVAL);
    assert_int_equal(tr_replay_check(rp, v, 0), TR_E_INVAL);
    assert_int_equal(tr_replay_check(rp, v, TRI_REPLAY_VALUE_MAX + 1), TR_E_INVAL);
    assert_int_equal(tr_replay_check(rp, v, SIZE_MAX), TR_E_INVAL);
    /* Refused calls count nothing and record nothing. */
    s = (tr_replay_stats){.size = sizeof(s)};
    assert_int_equal(tr_replay_get_stats(rp, &s), 0);
    assert_int_equal(s.fresh + s.replays + s.full + s.startup, 0);
    assert_int_equal(s.entries, 0);
    clock += W;
    assert_int_equal(tr_replay_check(rp, v, TRI_REPLAY_VALUE_MAX), 0);
    assert_int_equal(tr_replay_check(rp, v, 1), 0);
    assert_int_equal(tr_replay_check(rp, v, 32), 0);
    tr_replay_free(rp);
}

/* The length is part of the value: a prefix, or the value with a zero
 * byte appended, is another value; a difference in the last of 1024 bytes
 * counts. */
static void test_value_lengths(void **st)
{
    struct fx f;
    uint8_t v[TRI_REPLAY_VALUE_MAX];
    (void)st;

    fx_make(&f, 64, W, 0);
    f.clock += W;
    memset(v, 0, sizeof(v));
    for (size_t len = 1; len <= 40; len++)
        assert_int_equal(tr_replay_check(f.rp, v, len), 0);
    for (size_t len = 1; len <= 40; len++)
        assert_int_equal(tr_replay_check(f.rp, v, len), TR_E_REPLAY);
    memset(v, 0x5a, sizeof(v));
    assert_int_equal(tr_replay_check(f.rp, v, sizeof(v)), 0);
    v[sizeof(v) - 1] ^= 1;
    assert_int_equal(tr_replay_check(f.rp, v, sizeof(v)), 0);
    assert_int_equal(tr_replay_check(f.rp, v, sizeof(v)), TR_E_REPLAY);
    v[sizeof(v) - 1] ^= 1;
    assert_int_equal(tr_replay_check(f.rp, v, sizeof(v)), TR_E_REPLAY);
    fx_done(&f);
}

/* ---- Time --------------------------------------------------------------- */

/* RFC 8446 8.2: for one window after its clock is set the cache cannot
 * know what was accepted before, so it refuses, but still records, so a
 * replay of a start-up attempt is a replay afterwards too. */
static void test_startup_window(void **st)
{
    struct fx f;
    tr_replay_stats s;
    (void)st;

    fx_make(&f, 64, W, 0);
    assert_int_equal(check(&f, 1, 0), TR_E_REPLAY_STARTUP); /* a, at T0 */
    assert_int_equal(check(&f, 1, 0), TR_E_REPLAY);
    f.clock = T0 + W - 1;
    assert_int_equal(check(&f, 1, 1), TR_E_REPLAY_STARTUP); /* b, at T0 + W - 1 */
    assert_int_equal(check(&f, 1, 0), TR_E_REPLAY);
    assert_int_equal(check(&f, 1, 1), TR_E_REPLAY);
    f.clock = T0 + W;
    assert_int_equal(check(&f, 1, 2), 0); /* c: the first fresh check after start-up */
    assert_int_equal(check(&f, 1, 1), TR_E_REPLAY); /* b lives to T0 + 2W - 2 */
    /* a was recorded at T0: its window is over, and the repeats at T0 and
     * T0 + W - 1 did not extend it. */
    assert_int_equal(check(&f, 1, 0), 0);
    assert_int_equal(check(&f, 1, 0), TR_E_REPLAY);
    f.clock = T0 + 2 * W - 2;
    assert_int_equal(check(&f, 1, 1), TR_E_REPLAY);
    f.clock = T0 + 2 * W - 1;
    assert_int_equal(check(&f, 1, 1), 0);

    s = stats(&f);
    assert_int_equal(s.startup, 2);
    assert_int_equal(s.fresh, 3);
    assert_int_equal(s.replays, 6);
    assert_int_equal(s.full, 0);

    /* A new clock starts the start-up window again, from its own now. */
    f.clock = T0 + 5 * W;
    assert_int_equal(tr_replay_set_clock(f.rp, tu_clock, &f.clock), 0);
    assert_int_equal(check(&f, 1, 3), TR_E_REPLAY_STARTUP);
    f.clock = T0 + 6 * W - 1;
    assert_int_equal(check(&f, 1, 4), TR_E_REPLAY_STARTUP);
    assert_int_equal(check(&f, 1, 3), TR_E_REPLAY);
    f.clock = T0 + 6 * W;
    assert_int_equal(check(&f, 1, 5), 0);
    assert_int_equal(check(&f, 1, 4), TR_E_REPLAY);
    assert_int_equal(check(&f, 1, 3), 0);

    /* Back to the default (real) clock: its start-up window starts now, and
     * no test runs for W. */
    assert_int_equal(tr_replay_set_clock(f.rp, NULL, NULL), 0);
    assert_int_equal(check(&f, 1, 6), TR_E_REPLAY_STARTUP);
    fx_done(&f);

    /* A cache on the default clock from the start is in its start-up
     * window at once. */
    {
        tr_replay *rp = NULL;
        uint8_t v[32] = {7};

        assert_int_equal(tr_replay_new(&rp, 16, W), 0);
        assert_int_equal(tr_replay_check(rp, v, sizeof(v)), TR_E_REPLAY_STARTUP);
        assert_int_equal(tr_replay_check(rp, v, sizeof(v)), TR_E_REPLAY);
        tr_replay_free(rp);
    }
}

/* A value checked at t is a replay up to t + window - 1 and fresh (and
 * recorded again) at t + window, for the shortest, the longest and an odd
 * window. */
static void test_window_edges(void **st)
{
    static const uint32_t windows[] = {1000, 1234, W, 3600000};
    (void)st;

    for (size_t k = 0; k < sizeof(windows) / sizeof(windows[0]); k++) {
        uint32_t w = windows[k];
        struct fx f;
        int64_t t;

        fx_make(&f, 64, w, 0);
        t = T0 + w + 17;
        f.clock = t;
        assert_int_equal(check(&f, 2, k), 0);
        f.clock = t + 1;
        assert_int_equal(check(&f, 2, k), TR_E_REPLAY);
        f.clock = t + w - 1;
        assert_int_equal(check(&f, 2, k), TR_E_REPLAY);
        f.clock = t + w;
        assert_int_equal(check(&f, 2, k), 0);
        assert_int_equal(check(&f, 2, k), TR_E_REPLAY);
        f.clock = t + 2 * (int64_t)w - 1;
        assert_int_equal(check(&f, 2, k), TR_E_REPLAY);
        f.clock = t + 2 * (int64_t)w;
        assert_int_equal(check(&f, 2, k), 0);
        /* Far later (more than a window of silence) it is fresh too. */
        f.clock = t + 50 * (int64_t)w;
        assert_int_equal(check(&f, 2, k), 0);
        assert_int_equal(check(&f, 2, k), TR_E_REPLAY);
        fx_done(&f);
    }
}

/* A clock that goes back makes entries live longer, never shorter: a
 * recorded value stays a replay whatever the clock says until the clock
 * passes its expiry again, also before the instant the clock was set. */
static void test_clock_backwards(void **st)
{
    static const int64_t back[] = {1, 1000, W - 1, W, 3 * W, 3600000, INT64_C(1) << 31,
                                   INT64_C(1) << 32, INT64_C(1) << 33};
    struct fx f;
    int64_t t = T0 + 2 * W;
    int rc;
    (void)st;

    fx_make(&f, 64, W, 0);
    f.clock = t;
    assert_int_equal(check(&f, 3, 0), 0);
    for (size_t k = 0; k < sizeof(back) / sizeof(back[0]); k++) {
        f.clock = t - back[k];
        assert_int_equal(check(&f, 3, 0), TR_E_REPLAY);
    }
    f.clock = t + W - 1;
    assert_int_equal(check(&f, 3, 0), TR_E_REPLAY);
    f.clock = t + W;
    assert_int_equal(check(&f, 3, 0), 0);

    /* Values first seen while the clock is behind are recorded for a
     * window of that clock (refused as start-up or accepted, never taken
     * for replays), even before the instant the clock was set. */
    for (size_t k = 0; k < sizeof(back) / sizeof(back[0]); k++) {
        int64_t at = T0 - back[k];

        f.clock = at;
        rc = check(&f, 3, 1 + k);
        assert_true(rc == 0 || rc == TR_E_REPLAY_STARTUP);
        f.clock = at + W - 1;
        assert_int_equal(check(&f, 3, 1 + k), TR_E_REPLAY);
    }
    fx_done(&f);
}

/* Long uptimes: a window that straddles 2^31 or 2^32 ms (24.8 and 49.7
 * days) after the clock was set behaves as any other; and a value last
 * seen 2^32 ms ago is fresh, not taken for a live entry whose expiry
 * merely looks the same in 32 bits. */
static void test_long_uptime(void **st)
{
    static const int64_t at[] = {(INT64_C(1) << 31) - W / 2, (INT64_C(1) << 32) - W / 2,
                                 (INT64_C(1) << 32) + W, (INT64_C(1) << 33) - 3,
                                 INT64_C(365) * 86400000, INT64_C(1) << 40};
    struct fx f;
    int64_t t;
    (void)st;

    fx_make(&f, 64, W, 0);
    for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
        t = T0 + at[k];
        f.clock = t;
        assert_int_equal(check(&f, 4, k), 0);
        f.clock = t + W - 1;
        assert_int_equal(check(&f, 4, k), TR_E_REPLAY);
        f.clock = t + W;
        assert_int_equal(check(&f, 4, k), 0);
    }
    fx_done(&f);

    fx_make(&f, 64, W, 0);
    t = T0 + W;
    f.clock = t;
    assert_int_equal(check(&f, 4, 100), 0);
    f.clock = t + (INT64_C(1) << 32);
    assert_int_equal(check(&f, 4, 100), 0);
    f.clock = t + (INT64_C(1) << 32) + W - 1;
    assert_int_equal(check(&f, 4, 100), TR_E_REPLAY);
    fx_done(&f);
}

/* ---- Room ---------------------------------------------------------------- */

/* Nothing is forgotten early, also with the cache at its rated capacity
 * all the time: values expire one after another (one every 2 ms), each
 * replaced at once, and each is still a replay at the last ms of its
 * window. */
static void test_no_early_eviction(void **st)
{
    enum { C = 4096 };
    const uint32_t w = 2 * C;
    struct fx f;
    int64_t t;
    tr_replay_stats s;
    (void)st;

    fx_make(&f, C, w, 0);
    t = T0 + w;
    for (uint64_t i = 0; i < C; i++) {
        f.clock = t + 2 * (int64_t)i;
        assert_int_equal(check(&f, 5, i), 0);
    }
    for (uint64_t i = 0; i < C; i++) {
        f.clock = t + 2 * (int64_t)i + w - 1;
        assert_int_equal(check(&f, 5, i), TR_E_REPLAY);
        f.clock = t + 2 * (int64_t)i + w;
        assert_int_equal(check(&f, 6, i), 0); /* its replacement */
    }
    for (uint64_t i = 0; i < C; i++) {
        f.clock = t + 2 * (int64_t)i + 2 * (int64_t)w - 1;
        assert_int_equal(check(&f, 6, i), TR_E_REPLAY);
    }
    s = stats(&f);
    assert_int_equal(s.full, 0);
    assert_int_equal(s.fresh, 2 * C);
    assert_int_equal(s.replays, 2 * C);
    fx_done(&f);
}

/* The default sizing (replay.h): home buckets the power of two with
 * 4 * homes >= 2 * capacity, and no larger; spill min(homes, 32); slots
 * 4 per bucket; so the table holds `capacity` values at most half full. */
static void test_sizing(void **st)
{
    static const uint32_t caps[] = {1, 2, 3, 64, 1000, 1024, 1025, 65536};
    (void)st;

    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        struct fx f;
        tr_replay_stats s;
        uint32_t homes, spill;

        fx_make(&f, caps[k], W, 0);
        homes = tri_replay_homes(f.rp);
        spill = tri_replay_spill(f.rp);
        assert_int_equal(homes & (homes - 1), 0);
        assert_true(4ull * homes >= 2ull * caps[k]);
        assert_true(homes == 1 || 4ull * (homes / 2) < 2ull * caps[k]);
        assert_int_equal(spill, homes < TRI_REPLAY_MAX_SPILL ? homes : TRI_REPLAY_MAX_SPILL);
        assert_int_equal(tri_replay_window_ms(f.rp), W);
        s = stats(&f);
        assert_int_equal(s.window_ms, W);
        assert_true(s.capacity >= caps[k]);
        assert_int_equal(s.slots, (uint64_t)TRI_REPLAY_BUCKET_SLOTS * (homes + spill));
        assert_true(s.slots >= 2ull * caps[k]);
        assert_true(s.capacity <= s.slots);
        /* All its memory was allocated by tr_replay_new*, and is what it
         * reports; a bucket is one 64-byte cache line. */
        assert_int_equal(s.bytes, f.acct.live_bytes);
        assert_true(s.bytes >= 16 * s.slots);
        assert_true(s.bytes <= 16 * s.slots + 64 + 4096);
        fx_done(&f);
    }
}

/* `capacity` values within one window all fit; more keep fitting up to
 * `slots` at most; then TR_E_REPLAY_FULL records nothing and forgets
 * nothing; once entries expire the refused value is fresh. */
static void test_capacity_then_full(void **st)
{
    enum { C = 1000 };
    struct fx f;
    tr_replay_stats s;
    int64_t t;
    uint64_t extra = 0, refused;
    int rc = 0;
    (void)st;

    fx_make(&f, C, W, 0);
    s = stats(&f);
    t = T0 + W;
    f.clock = t;
    for (uint64_t i = 0; i < C; i++)
        assert_int_equal(check(&f, 7, i), 0);

    /* Half a window later, more until the first refusal: it must come
     * before more than `slots` values are held, and be FULL (a REPLAY of
     * a value never seen is a false positive). */
    f.clock = t + W / 2;
    for (;;) {
        rc = check(&f, 8, extra);
        if (rc != 0)
            break;
        extra++;
        assert_true(C + extra <= s.slots);
    }
    assert_int_equal(rc, TR_E_REPLAY_FULL);
    refused = extra;
    assert_int_equal(check(&f, 8, refused), TR_E_REPLAY_FULL);
    s = stats(&f);
    assert_int_equal(s.fresh, C + extra);
    assert_int_equal(s.full, 2);
    assert_int_equal(s.entries, C + extra);

    /* Full, it forgot nothing to make room. */
    for (uint64_t i = 0; i < C; i++)
        assert_int_equal(check(&f, 7, i), TR_E_REPLAY);
    for (uint64_t i = 0; i < extra; i++)
        assert_int_equal(check(&f, 8, i), TR_E_REPLAY);

    /* The first C expire at t + W; the refused value, had it been
     * recorded at t + W/2, would be a replay until t + 3W/2. */
    f.clock = t + W;
    assert_int_equal(check(&f, 8, refused), 0);
    assert_int_equal(check(&f, 8, refused), TR_E_REPLAY);
    for (uint64_t i = 0; i < extra; i++)
        assert_int_equal(check(&f, 8, i), TR_E_REPLAY);

    /* A window after the last one, every entry is expired: capacity fresh
     * values fit again in a table that is still full of dead entries. */
    f.clock = t + W / 2 + W;
    for (uint64_t i = 0; i < C; i++)
        assert_int_equal(check(&f, 9, i), 0);
    s = stats(&f);
    assert_true(s.entries <= s.slots);
    assert_true(s.entries >= C);
    fx_done(&f);
}

/* ---- Crowded buckets (forced with the fixed key) ------------------------- */

/* Values sharing a home bucket (far more than the 4 it holds) are told
 * apart: each is fresh once, then a replay; their tags all differ. */
static void test_same_home_told_apart(void **st)
{
    enum { N = 40 };
    struct fx f;
    uint64_t idx[N], next = 0, tags[N];
    uint8_t v[32];
    (void)st;

    fx_make(&f, 256, W, 64);
    assert_int_equal(tri_replay_homes(f.rp), 64);
    assert_int_equal(tri_replay_spill(f.rp), 32);
    find_homed(f.rp, 10, 5, idx, N, &next);
    f.clock = T0 + W;
    for (size_t i = 0; i < N; i++) {
        value(v, 10, idx[i]);
        tags[i] = tri_replay_tag(f.rp, v, sizeof(v));
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(tags[i], tags[j]);
        assert_int_equal(check(&f, 10, idx[i]), 0);
    }
    for (size_t i = 0; i < N; i++)
        assert_int_equal(check(&f, 10, idx[i]), TR_E_REPLAY);
    for (size_t i = N; i-- > 0;)
        assert_int_equal(check(&f, 10, idx[i]), TR_E_REPLAY);
    fx_done(&f);
}

/* An expired entry early in a value's chain (in its home bucket, or in a
 * bucket it spilled past) must not end the search for it: the values
 * placed beyond it are still replays, and a value placed into the gap is
 * found as well. */
static void test_expiry_inside_chain(void **st)
{
    struct fx f;
    uint64_t a[12], x[4], b[12], y[4], z[4], anew[2], next = 0;
    const uint32_t h = 5, g = 20;
    int64_t t;
    (void)st;

    fx_make(&f, 256, W, 64);
    find_homed(f.rp, 11, h, a, 12, &next);
    find_homed(f.rp, 11, h, anew, 2, &next);
    next = 0;
    find_homed(f.rp, 12, h + 1, x, 4, &next);
    next = 0;
    find_homed(f.rp, 13, g, b, 12, &next);
    next = 0;
    find_homed(f.rp, 14, g + 1, y, 4, &next);
    next = 0;
    find_homed(f.rp, 15, g + 2, z, 4, &next);

    t = T0 + W;
    /* One early entry in bucket h + 1, a whole early bucket at g + 1. */
    f.clock = t;
    assert_int_equal(check(&f, 12, x[0]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(check(&f, 14, y[i]), 0);
    /* Everything else 5 ms later: a[0..3] fill h, h + 1 is full with x, so
     * a[4..11] go further; b[0..3] fill g, g + 1 and g + 2 are full, so
     * b[4..11] go to g + 3 and g + 4. */
    f.clock = t + 5;
    for (int i = 1; i < 4; i++)
        assert_int_equal(check(&f, 12, x[i]), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(check(&f, 15, z[i]), 0);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(check(&f, 11, a[i]), 0);
        assert_int_equal(check(&f, 13, b[i]), 0);
    }

    /* x[0] and y[] expire. */
    f.clock = t + W;
    for (int i = 11; i >= 0; i--) {
        assert_int_equal(check(&f, 11, a[i]), TR_E_REPLAY);
        assert_int_equal(check(&f, 13, b[i]), TR_E_REPLAY);
    }
    /* Into the gaps, then everything is found again. */
    assert_int_equal(check(&f, 11, anew[0]), 0);
    assert_int_equal(check(&f, 11, anew[1]), 0);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(check(&f, 11, a[i]), TR_E_REPLAY);
        assert_int_equal(check(&f, 13, b[i]), TR_E_REPLAY);
    }
    assert_int_equal(check(&f, 11, anew[0]), TR_E_REPLAY);
    assert_int_equal(check(&f, 11, anew[1]), TR_E_REPLAY);
    for (int i = 1; i < 4; i++)
        assert_int_equal(check(&f, 12, x[i]), TR_E_REPLAY);
    assert_int_equal(check(&f, 12, x[0]), 0);
    assert_int_equal(check(&f, 14, y[0]), 0);

    /* The chain's own window ends on time. */
    f.clock = t + 5 + W - 1;
    for (int i = 0; i < 12; i++)
        assert_int_equal(check(&f, 13, b[i]), TR_E_REPLAY);
    f.clock = t + 5 + W;
    for (int i = 0; i < 12; i++)
        assert_int_equal(check(&f, 13, b[i]), 0);
    fx_done(&f);
}

/* The home bucket of a value, with an expired entry, in front of a chain
 * that spilled: the spilled ones are still found. */
static void test_expiry_in_home_bucket(void **st)
{
    struct fx f;
    uint64_t a[9], next = 0;
    int64_t t;
    (void)st;

    fx_make(&f, 256, W, 64);
    find_homed(f.rp, 16, 7, a, 9, &next);
    t = T0 + W;
    f.clock = t;
    assert_int_equal(check(&f, 16, a[0]), 0);
    f.clock = t + 3;
    for (int i = 1; i < 9; i++)
        assert_int_equal(check(&f, 16, a[i]), 0);
    f.clock = t + W; /* a[0] expires; a[4..8] were spilled */
    for (int i = 8; i >= 1; i--)
        assert_int_equal(check(&f, 16, a[i]), TR_E_REPLAY);
    assert_int_equal(check(&f, 16, a[0]), 0);
    for (int i = 0; i < 9; i++)
        assert_int_equal(check(&f, 16, a[i]), TR_E_REPLAY);
    fx_done(&f);
}

/* A home bucket and all its spill buckets filled by values of that home:
 * exactly 4 * (1 + spill) fit, the next value of that home is refused
 * (FULL, not recorded), every other home still accepts; when the oldest
 * expire the refused value fits and is fresh. Also at the first and the
 * last home of the table (spilling never wraps). */
static void test_full_run(void **st)
{
    static const struct {
        uint32_t homes, home;
    } cases[] = {{64, 10}, {64, 0}, {64, 63}, {8, 0}, {8, 7}, {1, 0}};
    (void)st;

    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const uint32_t homes = cases[k].homes, home = cases[k].home;
        struct fx f;
        uint64_t run[4 * (1 + TRI_REPLAY_MAX_SPILL) + 2], other, next = 0;
        uint32_t spill, n;
        int64_t t;
        tr_replay_stats s;

        fx_make(&f, 16, W, homes);
        assert_int_equal(tri_replay_homes(f.rp), homes);
        spill = tri_replay_spill(f.rp);
        assert_int_equal(spill, homes < TRI_REPLAY_MAX_SPILL ? homes : TRI_REPLAY_MAX_SPILL);
        n = TRI_REPLAY_BUCKET_SLOTS * (1 + spill);
        find_homed(f.rp, 20 + k, home, run, n + 2, &next);

        t = T0 + W;
        f.clock = t;
        for (uint32_t i = 0; i < 4; i++)
            assert_int_equal(check(&f, 20 + k, run[i]), 0);
        f.clock = t + 5;
        for (uint32_t i = 4; i < n; i++)
            assert_int_equal(check(&f, 20 + k, run[i]), 0);
        assert_int_equal(check(&f, 20 + k, run[n]), TR_E_REPLAY_FULL);
        assert_int_equal(check(&f, 20 + k, run[n]), TR_E_REPLAY_FULL);
        s = stats(&f);
        assert_int_equal(s.full, 2);
        assert_int_equal(s.entries, n);
        for (uint32_t i = 0; i < n; i++)
            assert_int_equal(check(&f, 20 + k, run[i]), TR_E_REPLAY);

        /* Every other home has room: its chain ends beyond this run. */
        for (uint32_t b = 0; b < homes; b++) {
            uint64_t idx;

            if (b == home)
                continue;
            other = 0;
            find_homed(f.rp, 1000 + b, b, &idx, 1, &other);
            assert_int_equal(check(&f, 1000 + b, idx), 0);
            assert_int_equal(check(&f, 1000 + b, idx), TR_E_REPLAY);
        }

        /* run[0..3] expire; the refused value was not recorded. */
        f.clock = t + W;
        assert_int_equal(check(&f, 20 + k, run[n]), 0);
        assert_int_equal(check(&f, 20 + k, run[n]), TR_E_REPLAY);
        assert_int_equal(check(&f, 20 + k, run[n + 1]), 0);
        for (uint32_t i = 4; i < n; i++)
            assert_int_equal(check(&f, 20 + k, run[i]), TR_E_REPLAY);
        fx_done(&f);
    }
}

/* ---- Probabilities ------------------------------------------------------- */

/* Steady state at rated capacity with the cache's own random key: a
 * million fresh values, each first seen while about `capacity` others are
 * live, are all accepted: no false positive (the bound is entries * 2^-64
 * per check: 4e-9 in all) and no refusal for want of room. */
static void test_false_positives_and_steady_state(void **st)
{
    enum { C = 65536, WIN = 1000, PER_MS = C / WIN, N = 1000000 };
    tr_replay *rp = NULL;
    int64_t clock = T0;
    uint8_t v[32];
    uint64_t fp = 0, full = 0, other = 0;
    tr_replay_stats s;
    (void)st;

    assert_int_equal(tr_replay_new(&rp, C, WIN), 0);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &clock), 0);
    clock += WIN;
    assert_int_equal(tu_random_os(v, sizeof(v)), 0);
    for (uint64_t i = 0; i < N; i++) {
        int rc;

        if (i % PER_MS == 0)
            clock++;
        /* A counter in random bytes: distinct, unpredictable values. */
        memcpy(v, &i, sizeof(i));
        rc = tr_replay_check(rp, v, sizeof(v));
        fp += rc == TR_E_REPLAY;
        full += rc == TR_E_REPLAY_FULL;
        other += rc != 0 && rc != TR_E_REPLAY && rc != TR_E_REPLAY_FULL;
    }
    assert_int_equal(fp, 0);
    assert_int_equal(full, 0);
    assert_int_equal(other, 0);
    /* And they were recorded: the last window's values are replays. */
    for (uint64_t i = N - (uint64_t)PER_MS * (WIN - 1); i < N; i++) {
        memcpy(v, &i, sizeof(i));
        assert_int_equal(tr_replay_check(rp, v, sizeof(v)), TR_E_REPLAY);
    }
    s = (tr_replay_stats){.size = sizeof(s)};
    assert_int_equal(tr_replay_get_stats(rp, &s), 0);
    assert_int_equal(s.fresh, N);
    assert_int_equal(s.full, 0);
    assert_true(s.entries <= s.slots);
    assert_true(s.entries >= (uint64_t)PER_MS * (WIN - 1));
    tr_replay_free(rp);
}

/* ---- Counters ------------------------------------------------------------ */

static void test_stats_add_up(void **st)
{
    struct fx f;
    uint64_t run[4 * 9 + 1], next = 0;
    tr_replay_stats s;
    uint8_t *small;
    uint32_t size32;
    uint64_t field;
    const size_t prefix = offsetof(tr_replay_stats, entries);
    (void)st;

    fx_make(&f, 16, W, 8); /* spill 8: a run of 36 slots */
    s = stats(&f);
    assert_int_equal(s.window_ms, W);
    assert_true(s.capacity >= 16);
    assert_int_equal(s.entries, 0);
    assert_int_equal(s.fresh + s.replays + s.full + s.startup, 0);

    assert_int_equal(check(&f, 30, 0), TR_E_REPLAY_STARTUP);
    assert_int_equal(check(&f, 30, 1), TR_E_REPLAY_STARTUP);
    assert_int_equal(check(&f, 30, 2), TR_E_REPLAY_STARTUP);
    assert_int_equal(check(&f, 30, 2), TR_E_REPLAY);
    s = stats(&f);
    assert_int_equal(s.startup, 3);
    assert_int_equal(s.replays, 1);
    assert_int_equal(s.fresh, 0);
    assert_int_equal(s.entries, 3);

    f.clock = T0 + W; /* the three expire; they may still be counted */
    find_homed(f.rp, 31, 3, run, 37, &next);
    for (int i = 0; i < 36; i++)
        assert_int_equal(check(&f, 31, run[i]), 0);
    assert_int_equal(check(&f, 31, run[36]), TR_E_REPLAY_FULL);
    for (int i = 0; i < 5; i++)
        assert_int_equal(check(&f, 31, run[i]), TR_E_REPLAY);
    s = stats(&f);
    assert_int_equal(s.startup, 3);
    assert_int_equal(s.fresh, 36);
    assert_int_equal(s.full, 1);
    assert_int_equal(s.replays, 6);
    assert_true(s.entries >= 36 && s.entries <= 39);
    assert_int_equal(s.slots, 4 * (8 + 8));
    assert_int_equal(s.bytes, f.acct.live_bytes);

    /* An older caller's shorter struct: its prefix is filled, nothing
     * beyond it is written (ASan watches the end of the allocation). */
    small = malloc(prefix);
    assert_non_null(small);
    memset(small, 0, prefix);
    size32 = (uint32_t)prefix;
    memcpy(small + offsetof(tr_replay_stats, size), &size32, sizeof(size32));
    assert_int_equal(tr_replay_get_stats(f.rp, (tr_replay_stats *)(void *)small), 0);
    memcpy(&size32, small + offsetof(tr_replay_stats, window_ms), sizeof(size32));
    assert_int_equal(size32, W);
    memcpy(&field, small + offsetof(tr_replay_stats, slots), sizeof(field));
    assert_int_equal(field, s.slots);
    memcpy(&field, small + offsetof(tr_replay_stats, bytes), sizeof(field));
    assert_int_equal(field, s.bytes);
    free(small);
    fx_done(&f);
}

/* ---- Memory -------------------------------------------------------------- */

/* Every allocation tr_replay_new_with_allocator makes may fail: each
 * failure is TR_E_NOMEM, leaves *out alone and leaks nothing. A check
 * allocates nothing; free wipes the hash key before handing memory back. */
static void test_allocation_failures(void **st)
{
    struct acct a;
    tr_replay *rp;
    uint64_t n;
    int rc;
    int64_t clock = T0;
    uint8_t v[32];
    (void)st;

    for (n = 1;; n++) {
        memset(&a, 0, sizeof(a));
        a.fail_at = n;
        rp = NULL;
        rc = tr_replay_new_with_allocator(&rp, 1000, W, acct_malloc, acct_free, &a);
        if (rc == 0)
            break;
        assert_int_equal(rc, TR_E_NOMEM);
        assert_null(rp);
        assert_int_equal(a.allocs - a.failed, a.frees);
        assert_int_equal(a.live_bytes, 0);
        assert_true(n < 64);
    }
    assert_true(n > 1); /* at least the first allocation was failed */
    assert_non_null(rp);
    tr_replay_free(rp);
    assert_int_equal(a.allocs - a.failed, a.frees);
    assert_int_equal(a.live_bytes, 0);

    memset(&a, 0, sizeof(a));
    assert_int_equal(tr_replay_new_with_allocator(&rp, 1000, W, acct_malloc, acct_free, &a), 0);
    tri_replay_set_hash_key(rp, fixed_key);
    memcpy(a.key, fixed_key, sizeof(a.key));
    a.watch_key = 1;
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &clock), 0);
    n = a.allocs;
    for (uint64_t i = 0; i < 3000; i++) {
        if (i == 1000)
            clock += W;
        if (i == 2000)
            clock += 2 * W;
        value(v, 40, i % 1500);
        rc = tr_replay_check(rp, v, sizeof(v));
        assert_true(rc == 0 || rc == TR_E_REPLAY || rc == TR_E_REPLAY_STARTUP);
    }
    assert_int_equal(a.allocs, n);
    tr_replay_free(rp);
    assert_int_equal(a.allocs, a.frees);
    assert_int_equal(a.key_left_in_free, 0);
}

/* Each cache draws its own hash key: the same value gets unrelated tags
 * in two caches, so an attacker cannot learn one cache's placement from
 * another's. Each cache's early-data tag differs too, and is never 0. */
static void test_random_key_per_cache(void **st)
{
    tr_replay *a = NULL, *b = NULL;
    uint8_t v[32] = {1, 2, 3};
    (void)st;

    assert_int_equal(tr_replay_new(&a, 64, W), 0);
    assert_int_equal(tr_replay_new(&b, 64, W), 0);
    assert_int_not_equal(tri_replay_tag(a, v, sizeof(v)), tri_replay_tag(b, v, sizeof(v)));
    assert_int_not_equal(tri_replay_process_tag(a), 0);
    assert_int_not_equal(tri_replay_process_tag(a), tri_replay_process_tag(b));
    tri_replay_set_hash_key(a, fixed_key);
    tri_replay_set_hash_key(b, fixed_key);
    assert_int_equal(tri_replay_tag(a, v, sizeof(v)), tri_replay_tag(b, v, sizeof(v)));
    tr_replay_free(a);
    tr_replay_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_value_lengths),
        cmocka_unit_test(test_startup_window),
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_long_uptime),
        cmocka_unit_test(test_no_early_eviction),
        cmocka_unit_test(test_sizing),
        cmocka_unit_test(test_capacity_then_full),
        cmocka_unit_test(test_same_home_told_apart),
        cmocka_unit_test(test_expiry_inside_chain),
        cmocka_unit_test(test_expiry_in_home_bucket),
        cmocka_unit_test(test_full_run),
        cmocka_unit_test(test_false_positives_and_steady_state),
        cmocka_unit_test(test_stats_add_up),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_random_key_per_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
