/*
 * bench_replay: replay-cache checks (check and insert, tr_replay_check) per
 * second on one and two threads, and the memory each tracked value costs.
 *
 *   bench_replay            5 runs per row (about 40 s)
 *   bench_replay --quick    3 short runs per row (smoke run)
 *
 * Workload: a cache of the given capacity and a 20 s window, on the real
 * clock (CLOCK_REALTIME read on every check, as in production), is filled
 * with capacity/2 random 32-byte values (a ClientHello.random each), then
 * the timed checks alternate a fresh value and a repeat of a value already
 * held, each thread with its own pre-generated values. The timed part adds
 * capacity/8 values, so the cache stays at about half its capacity (a
 * quarter of its slots): a run is many such segments, each on a new cache
 * (made and filled outside the timing). Every answer is verified: a fresh
 * value must get 0, a repeat TR_E_REPLAY.
 *
 * The clock is CLOCK_REALTIME plus the window: a cache refuses everything
 * for its first window (TR_E_REPLAY_STARTUP), and a benchmark cannot wait
 * 20 s per segment. The shifted clock costs what the default one does (one
 * clock_gettime behind the same function pointer).
 *
 * Rows: the cache as built (a lock per 64-byte bucket), and the same cache
 * behind one process-wide mutex, the baseline that shows what the per-bucket
 * locks buy when threads share a cache. Runs are interleaved across rows
 * (run 1 of every row, then run 2 ...), so frequency changes and noisy
 * neighbours hit every row alike; each row reports its median run.
 */
#define _GNU_SOURCE

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "bench_stats.h"
#include "ticketring/ticketring.h"

#define WINDOW_MS 20000u
#define MAX_THREADS 2
#define VALUE_BYTES 32

/* ---- the clock ------------------------------------------------------------ */

static _Atomic int64_t clock_shift_ms;

static int64_t shifted_realtime(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
           atomic_load_explicit(&clock_shift_ms, memory_order_relaxed);
}

/* ---- values --------------------------------------------------------------- */

static void fill_random(uint8_t *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);

        if (n <= 0) {
            perror("getrandom");
            exit(1);
        }
        got += (size_t)n;
    }
}

/* ---- one row -------------------------------------------------------------- */

struct row {
    uint32_t capacity;
    int threads;
    int one_lock;
    struct bs_series mops;
    uint64_t bytes, slots;
};

struct shared {
    tr_replay *rp;
    int one_lock;
    pthread_mutex_t mutex;
    /* per thread: its fresh values and its share of the prefilled ones */
    const uint8_t *fresh[MAX_THREADS];
    const uint8_t *repeat[MAX_THREADS];
    size_t ops; /* checks per thread per segment: half fresh, half repeats */
    /* segment handshake: the main thread is worker 0 */
    atomic_uint go;
    atomic_uint done;
    atomic_int quit;
    uint64_t start_ns[MAX_THREADS], end_ns[MAX_THREADS];
    atomic_uint_fast64_t bad;
};

static inline int check(struct shared *s, const uint8_t *v)
{
    int rc;

    if (!s->one_lock)
        return tr_replay_check(s->rp, v, VALUE_BYTES);
    pthread_mutex_lock(&s->mutex);
    rc = tr_replay_check(s->rp, v, VALUE_BYTES);
    pthread_mutex_unlock(&s->mutex);
    return rc;
}

static void segment(struct shared *s, int id)
{
    const uint8_t *fresh = s->fresh[id], *rep = s->repeat[id];
    uint64_t bad = 0;

    s->start_ns[id] = bs_now_ns();
    for (size_t i = 0; i < s->ops / 2; i++) {
        bad += check(s, fresh + i * VALUE_BYTES) != 0;
        bad += check(s, rep + i * VALUE_BYTES) != TR_E_REPLAY;
    }
    s->end_ns[id] = bs_now_ns();
    if (bad != 0)
        atomic_fetch_add(&s->bad, bad);
}

/* Spin (then yield) until *a differs from seen: starting a segment this
 * way costs well under a microsecond, where a condition variable or a
 * barrier would skew short segments by tens. */
static unsigned wait_change(atomic_uint *a, unsigned seen)
{
    unsigned v;

    for (unsigned spins = 0; (v = atomic_load_explicit(a, memory_order_acquire)) == seen;
         spins++) {
        if (spins > 2000)
            sched_yield();
#if defined(__x86_64__) || defined(__i386__)
        else
            __builtin_ia32_pause();
#endif
    }
    return v;
}

static void *helper(void *arg)
{
    struct shared *s = arg;
    unsigned seen = 0;

    for (;;) {
        seen = wait_change(&s->go, seen);
        if (atomic_load(&s->quit))
            return NULL;
        segment(s, 1);
        atomic_fetch_add_explicit(&s->done, 1, memory_order_release);
    }
}

/* The values of the largest row, shared by all rows. */
static uint8_t *prefill_values, *fresh_values;

static void run_row(struct row *r, uint64_t ops_per_run)
{
    struct shared s;
    pthread_t tid;
    uint32_t prefill = r->capacity / 2;
    size_t seg_ops = r->capacity / 4; /* all threads together: capacity/8 fresh */
    uint64_t segments = (ops_per_run + seg_ops - 1) / seg_ops;
    uint64_t total_ns = 0, total_ops = 0;
    unsigned done_seen = 0;

    memset(&s, 0, sizeof(s));
    s.one_lock = r->one_lock;
    pthread_mutex_init(&s.mutex, NULL);
    s.ops = seg_ops / (size_t)r->threads;
    for (int t = 0; t < r->threads; t++) {
        s.fresh[t] = fresh_values + (size_t)t * s.ops / 2 * VALUE_BYTES;
        s.repeat[t] = prefill_values + (size_t)t * (prefill / (uint32_t)r->threads) * VALUE_BYTES;
    }
    if (r->threads > 1 && pthread_create(&tid, NULL, helper, &s) != 0) {
        perror("pthread_create");
        exit(1);
    }

    for (uint64_t seg = 0; seg < segments; seg++) {
        tr_replay_stats st;
        uint64_t t0, t1;
        int rc = tr_replay_new(&s.rp, r->capacity, WINDOW_MS);

        if (rc != 0) {
            fprintf(stderr, "bench_replay: tr_replay_new: %s\n", tr_strerror(rc));
            exit(1);
        }
        atomic_store(&clock_shift_ms, 0);
        tr_replay_set_clock(s.rp, shifted_realtime, NULL);
        atomic_store(&clock_shift_ms, WINDOW_MS); /* past the start-up window */
        for (uint32_t i = 0; i < prefill; i++) {
            rc = tr_replay_check(s.rp, prefill_values + (size_t)i * VALUE_BYTES, VALUE_BYTES);
            if (rc != 0) {
                fprintf(stderr, "bench_replay: prefill value %u: %s\n", i, tr_strerror(rc));
                exit(1);
            }
        }
        if (r->threads > 1)
            atomic_fetch_add_explicit(&s.go, 1, memory_order_release);
        segment(&s, 0);
        if (r->threads > 1)
            done_seen = wait_change(&s.done, done_seen);
        t0 = s.start_ns[0];
        t1 = s.end_ns[0];
        for (int t = 1; t < r->threads; t++) {
            if (s.start_ns[t] < t0)
                t0 = s.start_ns[t];
            if (s.end_ns[t] > t1)
                t1 = s.end_ns[t];
        }
        total_ns += t1 - t0;
        total_ops += s.ops * (uint64_t)r->threads;
        if (seg == 0) {
            memset(&st, 0, sizeof(st));
            st.size = sizeof(st);
            tr_replay_get_stats(s.rp, &st);
            r->bytes = st.bytes;
            r->slots = st.slots;
            if (st.full != 0 || st.startup != 0) {
                fprintf(stderr, "bench_replay: %" PRIu64 " full, %" PRIu64 " startup\n",
                        (uint64_t)st.full, (uint64_t)st.startup);
                exit(1);
            }
        }
        tr_replay_free(s.rp);
        s.rp = NULL;
    }
    if (r->threads > 1) {
        atomic_store(&s.quit, 1);
        atomic_fetch_add_explicit(&s.go, 1, memory_order_release);
        pthread_join(tid, NULL);
    }
    pthread_mutex_destroy(&s.mutex);
    if (atomic_load(&s.bad) != 0) {
        fprintf(stderr, "bench_replay: %" PRIu64 " wrong answers (capacity %u, %d threads)\n",
                (uint64_t)atomic_load(&s.bad), r->capacity, r->threads);
        exit(1);
    }
    bs_add(&r->mops, (double)total_ops / ((double)total_ns / 1e9) / 1e6);
}

static const struct row *find_row(const struct row *rows, int n, uint32_t cap, int threads,
                                  int one_lock)
{
    for (int i = 0; i < n; i++)
        if (rows[i].capacity == cap && rows[i].threads == threads &&
            rows[i].one_lock == one_lock)
            return &rows[i];
    return NULL;
}

int main(int argc, char **argv)
{
    static const uint32_t caps[] = {65536, 1048576};
    struct row rows[8];
    int nrows = 0, runs = 5, quick = 0;
    uint64_t ops_per_run = 2000000;
    uint32_t max_cap = caps[1];
    double t_start = (double)bs_now_ns() / 1e9, load[3] = {0, 0, 0};

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
            runs = 3;
            ops_per_run = 600000;
        } else {
            fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }

    prefill_values = malloc((size_t)max_cap / 2 * VALUE_BYTES);
    fresh_values = malloc((size_t)max_cap / 8 * VALUE_BYTES);
    if (prefill_values == NULL || fresh_values == NULL) {
        perror("malloc");
        return 1;
    }
    fill_random(prefill_values, (size_t)max_cap / 2 * VALUE_BYTES);
    fill_random(fresh_values, (size_t)max_cap / 8 * VALUE_BYTES);

    memset(rows, 0, sizeof(rows));
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++)
        for (int one_lock = 0; one_lock <= 1; one_lock++)
            for (int threads = 1; threads <= 2; threads++) {
                rows[nrows].capacity = caps[c];
                rows[nrows].one_lock = one_lock;
                rows[nrows].threads = threads;
                nrows++;
            }

    for (int run = 0; run < runs; run++)
        for (int i = 0; i < nrows; i++)
            run_row(&rows[i], ops_per_run);

    printf("bench_replay: check-and-insert (tr_replay_check) per second, 32-byte values, "
           "window %u ms, real clock;\n"
           "  cache held at about half its capacity, checks alternating fresh values and "
           "repeats;\n"
           "  median (min..max) of %d runs of about %" PRIu64 " checks%s\n",
           WINDOW_MS, runs, ops_per_run, quick ? " (--quick: smoke run, numbers are noisy)" : "");
    printf("  libticketring %s, %ld CPUs online", tr_version_string(),
           sysconf(_SC_NPROCESSORS_ONLN));
    if (getloadavg(load, 3) == 3)
        printf(", load average %.2f %.2f %.2f", load[0], load[1], load[2]);
    printf("\n");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
    printf("  WARNING: sanitizer or unoptimised build: these numbers are not representative\n"
           "  (meson setup -Dbuildtype=release -Db_sanitize=none)\n");
#endif
    printf("\n  %-9s %-28s %7s %24s %9s %11s %10s\n", "capacity", "locking", "threads",
           "Mops/s", "2t / 1t", "bytes/value", "slots");
    for (int i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        const struct row *one = find_row(rows, nrows, r->capacity, 1, r->one_lock);
        char mops[64], ratio[16] = "";

        bs_format(&r->mops, 1, 2, mops, sizeof(mops));
        if (r->threads == 2 && one != NULL)
            snprintf(ratio, sizeof(ratio), "%.2fx", bs_median(&r->mops) / bs_median(&one->mops));
        printf("  %-9u %-28s %7d %24s %9s %11.1f %10" PRIu64 "\n", r->capacity,
               r->one_lock ? "one mutex (baseline)" : "lock per bucket (as built)", r->threads,
               mops, ratio, (double)r->bytes / (double)r->capacity, r->slots);
    }
    printf("\n  per-bucket locks vs one mutex, 2 threads:");
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        const struct row *a = find_row(rows, nrows, caps[c], 2, 0);
        const struct row *b = find_row(rows, nrows, caps[c], 2, 1);

        printf("%s%u: %.2fx", c ? ", " : " ", caps[c], bs_median(&a->mops) / bs_median(&b->mops));
    }
    printf("\n  2t / 1t with a lock per bucket (target >= 1.60):");
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        double x = bs_median(&find_row(rows, nrows, caps[c], 2, 0)->mops) /
                   bs_median(&find_row(rows, nrows, caps[c], 1, 0)->mops);

        printf("%s%u: %.2fx%s", c ? ", " : " ", caps[c], x, x >= 1.6 ? "" : " (BELOW)");
    }
    printf("\n  bytes/value = tr_replay_stats.bytes / capacity\n");
    printf("\n  total run time %.1f s\n", (double)bs_now_ns() / 1e9 - t_start);
    free(prefill_values);
    free(fresh_values);
    return 0;
}
