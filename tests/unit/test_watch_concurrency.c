/*
 * The key file watcher under load (suite 'concurrency', also run under
 * ThreadSanitizer): handshake-like readers sealing and opening tickets
 * while the watcher reloads a Kubernetes-style Secret that flips again and
 * again, other threads calling tr_ring_reload_check() at the same time;
 * watch and unwatch racing each other; unwatch and free while events are
 * still queued or being debounced.
 */
#define _GNU_SOURCE

#include "test_util.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T0 1767225600
#define WAIT_MS 10000 /* generous: TSan slows everything down */
#define READERS 4
#define CHECKERS 2
#define FLIPS 30
#define SNI "watch.example"

struct fx {
    char dir[64];
    char path[128];
    int64_t clock;
    tr_ring *writer;
    unsigned seed, ts;
};

struct version {
    char *bytes;
    size_t len;
    char fp[TR_FINGERPRINT_HEX + 1];
};

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    strcpy(f->dir, "/tmp/tr-watchc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/tickets.keys", f->dir);
    f->clock = (int64_t)T0 * 1000;
    f->writer = tu_ring(&f->clock);
}

static void fx_done(struct fx *f)
{
    tr_ring_free(f->writer);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *bytes, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* One more key (all activated in the past: the newest encrypts, the
 * others still decrypt), saved outside the watched directory. */
static void next_version(struct fx *f, struct version *v)
{
    uint8_t key[TR_KEY_BYTES];
    char p[96];
    FILE *fp;

    f->seed++;
    tu_key(key, (uint8_t)f->seed);
    assert_int_equal(tr_ring_add_key(f->writer, key, T0 - 1000 + (int64_t)f->seed), 0);
    snprintf(p, sizeof(p), "%s.src", f->dir);
    assert_int_equal(tr_ring_save(f->writer, p), 0);
    v->bytes = malloc(65536);
    assert_non_null(v->bytes);
    fp = fopen(p, "rb");
    assert_non_null(fp);
    v->len = fread(v->bytes, 1, 65536, fp);
    fclose(fp);
    unlink(p);
    assert_int_equal(tr_ring_fingerprint(f->writer, v->fp, sizeof(v->fp)), 0);
}

static void k8s_payload(struct fx *f, const struct version *v, char *ts)
{
    char p[200];
    f->ts++;
    snprintf(ts, 64, "..2026_01_01_00_%02u_%02u.%u", f->ts / 60, f->ts % 60, f->ts);
    snprintf(p, sizeof(p), "%s/%s", f->dir, ts);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s/tickets.keys", f->dir, ts);
    write_file(p, v->bytes, v->len);
}

static void k8s_init(struct fx *f, const struct version *v)
{
    char ts[64], p[200];
    k8s_payload(f, v, ts);
    snprintf(p, sizeof(p), "%s/..data", f->dir);
    assert_int_equal(symlink(ts, p), 0);
    assert_int_equal(symlink("..data/tickets.keys", f->path), 0);
}

static void k8s_flip(struct fx *f, const struct version *v)
{
    char old[64], ts[64], p[200], q[200];
    ssize_t n;
    snprintf(p, sizeof(p), "%s/..data", f->dir);
    n = readlink(p, old, sizeof(old) - 1);
    assert_true(n > 0);
    old[n] = '\0';
    k8s_payload(f, v, ts);
    snprintf(q, sizeof(q), "%s/..data_tmp", f->dir);
    assert_int_equal(symlink(ts, q), 0);
    assert_int_equal(rename(q, p), 0);
    snprintf(p, sizeof(p), "%s/%s/tickets.keys", f->dir, old);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/%s", f->dir, old);
    assert_int_equal(rmdir(p), 0);
}

static int wait_fp(tr_ring *r, const char *fp, int ms)
{
    char got[TR_FINGERPRINT_HEX + 1];
    for (int waited = 0; waited <= ms; waited += 10) {
        assert_int_equal(tr_ring_fingerprint(r, got, sizeof(got)), 0);
        if (strcmp(got, fp) == 0)
            return 1;
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- readers and checkers ---------------------------------------------------- */

struct shared {
    tr_ring *r;
    atomic_int stop;
    atomic_int failures;
    atomic_int check_errors;
    atomic_long rounds;
};

static void *reader(void *arg)
{
    struct shared *s = arg;
    static const uint8_t state[] = "session state";
    uint8_t ticket[256], out[64];
    size_t tlen, olen;

    while (!atomic_load(&s->stop)) {
        int rc = tr_ticket_seal(s->r, state, sizeof(state), (const uint8_t *)SNI, strlen(SNI),
                                NULL, 0, NULL, 0, 0, ticket, sizeof(ticket), &tlen, NULL);
        if (rc == 0)
            rc = tr_ticket_open(s->r, ticket, tlen, (const uint8_t *)SNI, strlen(SNI), NULL, 0,
                                NULL, 0, out, sizeof(out), &olen, NULL, NULL, NULL, NULL);
        if (rc != 0 || olen != sizeof(state) || memcmp(out, state, olen) != 0)
            atomic_fetch_add(&s->failures, 1);
        atomic_fetch_add(&s->rounds, 1);
    }
    return NULL;
}

static void *checker(void *arg)
{
    struct shared *s = arg;
    while (!atomic_load(&s->stop)) {
        int32_t changed;
        if (tr_ring_reload_check(s->r, &changed, NULL) != 0)
            atomic_fetch_add(&s->check_errors, 1);
        nanosleep(&(struct timespec){0, 1000000L}, NULL);
    }
    return NULL;
}

/* Readers never fail while the watcher (and two checkers) reload the file
 * through many flips, some back to back; the ring ends on the last one. */
static void test_readers_during_flips(void **st)
{
    struct fx f;
    struct shared s;
    struct version v;
    pthread_t th[READERS + CHECKERS];
    tr_stats stats;
    (void)st;

    fx_init(&f);
    memset(&s, 0, sizeof(s));
    s.r = tu_ring(&f.clock);
    next_version(&f, &v);
    k8s_init(&f, &v);
    free(v.bytes);
    assert_int_equal(tr_ring_load(s.r, f.path, NULL), 0);
    assert_int_equal(tr_ring_watch(s.r, 1), 0);
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &s), 0);
    for (int i = 0; i < CHECKERS; i++)
        assert_int_equal(pthread_create(&th[READERS + i], NULL, checker, &s), 0);

    for (int i = 0; i < FLIPS; i++) {
        next_version(&f, &v);
        k8s_flip(&f, &v);
        if (i % 3 == 2 || i == FLIPS - 1)
            assert_true(wait_fp(s.r, v.fp, WAIT_MS));
        free(v.bytes);
    }
    atomic_store(&s.stop, 1);
    for (int i = 0; i < READERS + CHECKERS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&s.failures), 0);
    assert_int_equal(atomic_load(&s.check_errors), 0);
    assert_true(atomic_load(&s.rounds) > 0);
    memset(&stats, 0, sizeof(stats));
    stats.size = sizeof(stats);
    assert_int_equal(tr_ring_stats(s.r, &stats), 0);
    assert_int_equal(stats.reload_failures, 0);
    assert_true(stats.reloads >= 1 + FLIPS / 3);
    assert_int_equal(tr_ring_unwatch(s.r), 0);
    tr_ring_free(s.r);
    fx_done(&f);
}

/* Unwatch, or free without unwatching, right after a flip: while the
 * events are queued, being debounced or being applied. Each must return
 * promptly (the stop pipe wakes the thread; a debounce is not waited out
 * beyond one check). */
static void test_stop_with_events_pending(void **st)
{
    struct fx f;
    struct version v;
    (void)st;

    fx_init(&f);
    next_version(&f, &v);
    k8s_init(&f, &v);
    free(v.bytes);
    for (int i = 0; i < 20; i++) {
        tr_ring *r = tu_ring(&f.clock);
        int64_t t0;
        assert_int_equal(tr_ring_load(r, f.path, NULL), 0);
        assert_int_equal(tr_ring_watch(r, 3600), 0);
        next_version(&f, &v);
        k8s_flip(&f, &v);
        free(v.bytes);
        /* 0, 50, 100, 150 ms: before, during and after the debounce */
        nanosleep(&(struct timespec){0, (long)(i % 4) * 50 * 1000000L}, NULL);
        t0 = mono_ms();
        if (i % 2 == 0)
            assert_int_equal(tr_ring_unwatch(r), 0);
        tr_ring_free(r);
        assert_true(mono_ms() - t0 < 2000);
    }
    fx_done(&f);
}

/* watch / unwatch / check from several threads at once on one ring: one
 * watcher at most (TR_E_INVAL for the others), no crash, no leak, and a
 * watcher left at the end still works. */
struct racer {
    tr_ring *r;
    atomic_int *bad;
    int id;
};

static void *race(void *arg)
{
    struct racer *c = arg;
    for (int i = 0; i < 50; i++) {
        int rc;
        switch ((i + c->id) % 3) {
        case 0:
            rc = tr_ring_watch(c->r, 3600);
            if (rc != 0 && rc != TR_E_INVAL)
                atomic_fetch_add(c->bad, 1);
            break;
        case 1:
            if (tr_ring_unwatch(c->r) != 0)
                atomic_fetch_add(c->bad, 1);
            break;
        default:
            if (tr_ring_reload_check(c->r, NULL, NULL) != 0)
                atomic_fetch_add(c->bad, 1);
            break;
        }
    }
    return NULL;
}

static void test_watch_unwatch_race(void **st)
{
    struct fx f;
    struct version v;
    struct racer c[4];
    pthread_t th[4];
    atomic_int bad;
    tr_ring *r;
    (void)st;

    fx_init(&f);
    atomic_init(&bad, 0);
    next_version(&f, &v);
    k8s_init(&f, &v);
    free(v.bytes);
    r = tu_ring(&f.clock);
    assert_int_equal(tr_ring_load(r, f.path, NULL), 0);
    for (int i = 0; i < 4; i++) {
        c[i] = (struct racer){r, &bad, i};
        assert_int_equal(pthread_create(&th[i], NULL, race, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&bad), 0);
    (void)tr_ring_unwatch(r);
    assert_int_equal(tr_ring_watch(r, 3600), 0);
    next_version(&f, &v);
    k8s_flip(&f, &v);
    assert_true(wait_fp(r, v.fp, WAIT_MS));
    free(v.bytes);
    tr_ring_free(r); /* with its watcher */
    fx_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readers_during_flips),
        cmocka_unit_test(test_stop_with_events_pending),
        cmocka_unit_test(test_watch_unwatch_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
