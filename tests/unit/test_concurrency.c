/*
 * Concurrency (suite 'concurrency', also run under ThreadSanitizer):
 *  - threads seal and open while others reload key files and change keys;
 *    nothing fails but the refusals the key changes explain;
 *  - sealing and opening never wait for a writer, even one that holds the
 *    writer lock or waits inside the grace period;
 *  - the two-counter snapshot never frees an object a reader still holds.
 * Every loop is bounded by an iteration count; the clock is fake and fixed.
 */
#include "test_util.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"
#include "snapshot.h"

#define T0 1767225600
#define WORKERS 4
#define WORKER_ROUNDS 5000   /* seal + open + reopen per round */
#define RELOADS_MIN 300      /* load A, load B (and reload) per round */
#define RELOADS_MAX 20000
#define CHANGES_MIN 300      /* add Z, remove Z per round */
#define CHANGES_MAX 20000
#define STATE_BYTES 40
#define SNI "concurrency.example"
#define ALPN "h2"

static int seal(tr_ring *r, const uint8_t *state, size_t len, uint8_t *t, size_t cap,
                size_t *tlen)
{
    return tr_ticket_seal(r, state, len, (const uint8_t *)SNI, strlen(SNI),
                          (const uint8_t *)ALPN, strlen(ALPN), NULL, 0, 0, t, cap, tlen, NULL);
}

static int open_t(tr_ring *r, const uint8_t *t, size_t tlen, uint8_t *state, size_t cap,
                  size_t *len, uint32_t *flags)
{
    return tr_ticket_open(r, t, tlen, (const uint8_t *)SNI, strlen(SNI), (const uint8_t *)ALPN,
                          strlen(ALPN), NULL, 0, state, cap, len, NULL, NULL, NULL, flags);
}

/* ---- seal and open while key files reload and keys change ------------- */

/*
 * Keys: S is in both key files and encrypts; X (file A) and Y (file B) are
 * pending. Z, added and removed by the key changer, activates after S, so
 * while it is held it is the encrypt key. Tickets under S therefore always
 * open; a ticket under Z is refused with TR_E_TICKET_UNKNOWN_KEY when a
 * reload or a removal dropped Z in between, and that is the only refusal.
 */
enum { KEY_S = 1, KEY_X = 2, KEY_Y = 3, KEY_Z = 4 };

struct shared {
    tr_ring *ring;
    char *file_a, *file_b;
    uint8_t name_s[TR_KEY_NAME_BYTES], name_z[TR_KEY_NAME_BYTES];
    atomic_int workers_running;
};

struct worker {
    struct shared *sh;
    int id;
    pthread_t th;
    /* results, read after join */
    uint64_t sealed, opened, renew, refused_z;
    char error[160];
};

static void make_state(uint8_t *s, int id, int round)
{
    for (size_t i = 0; i < STATE_BYTES; i++)
        s[i] = (uint8_t)(id * 61 + round * 7 + (int)i);
}

/* Opens `t` (sealed with `state`) and accounts for the result; returns 0,
 * or -1 with w->error set for an unexpected failure. */
static int check_open(struct worker *w, const uint8_t *t, size_t tlen, const uint8_t *state)
{
    uint8_t out[STATE_BYTES];
    size_t len = 0;
    uint32_t flags = 0;
    int rc = open_t(w->sh->ring, t, tlen, out, sizeof(out), &len, &flags);

    if (rc == 0) {
        if (len != STATE_BYTES || memcmp(out, state, STATE_BYTES) != 0) {
            snprintf(w->error, sizeof(w->error), "worker %d: wrong state back", w->id);
            return -1;
        }
        w->opened++;
        if (flags & TR_TICKET_RENEW)
            w->renew++;
        return 0;
    }
    if (rc == TR_E_TICKET_UNKNOWN_KEY && memcmp(t + 1, w->sh->name_z, TR_KEY_NAME_BYTES) == 0) {
        w->refused_z++;
        return 0;
    }
    snprintf(w->error, sizeof(w->error), "worker %d: open refused: %s (key %s)", w->id,
             tr_strerror(rc),
             memcmp(t + 1, w->sh->name_s, TR_KEY_NAME_BYTES) == 0 ? "S" : "Z");
    return -1;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t state[STATE_BYTES], prev_state[STATE_BYTES];
    uint8_t t[STATE_BYTES + TR_TICKET_OVERHEAD], prev[STATE_BYTES + TR_TICKET_OVERHEAD];
    size_t tlen = 0, prev_len = 0;
    int rc;

    for (int i = 0; i < WORKER_ROUNDS; i++) {
        make_state(state, w->id, i);
        rc = seal(w->sh->ring, state, sizeof(state), t, sizeof(t), &tlen);
        if (rc != 0) {
            snprintf(w->error, sizeof(w->error), "worker %d: seal failed: %s", w->id,
                     tr_strerror(rc));
            break;
        }
        w->sealed++;
        if (memcmp(t + 1, w->sh->name_s, TR_KEY_NAME_BYTES) != 0 &&
            memcmp(t + 1, w->sh->name_z, TR_KEY_NAME_BYTES) != 0) {
            snprintf(w->error, sizeof(w->error), "worker %d: sealed by neither S nor Z",
                     w->id);
            break;
        }
        if (check_open(w, t, tlen, state) != 0)
            break;
        /* The previous round's ticket, across whatever changed since. */
        if (prev_len > 0 && check_open(w, prev, prev_len, prev_state) != 0)
            break;
        memcpy(prev, t, tlen);
        memcpy(prev_state, state, sizeof(state));
        prev_len = tlen;
    }
    atomic_fetch_sub(&w->sh->workers_running, 1);
    return NULL;
}

struct writer {
    struct shared *sh;
    pthread_t th;
    uint64_t rounds, removed, remove_missing;
    char error[160];
};

static void *reloader_main(void *arg)
{
    struct writer *w = arg;
    uint32_t line = 0;
    int rc;

    for (int i = 0; i < RELOADS_MAX; i++) {
        if (i >= RELOADS_MIN && atomic_load(&w->sh->workers_running) == 0)
            break;
        /* Forced: both files were written by fresh rings, so both carry
         * serial 1 with different keys, which a plain load refuses as a
         * rollback (docs/key-file-format.md). */
        rc = tr_ring_load_ex(w->sh->ring, (i & 1) ? w->sh->file_b : w->sh->file_a,
                             TR_LOAD_FORCE, &line);
        if (rc == 0)
            rc = tr_ring_reload(w->sh->ring, &line);
        if (rc != 0) {
            snprintf(w->error, sizeof(w->error), "reload %d failed: %s (line %u)", i,
                     tr_strerror(rc), line);
            break;
        }
        w->rounds++;
    }
    return NULL;
}

static void *changer_main(void *arg)
{
    struct writer *w = arg;
    uint8_t z[TR_KEY_BYTES];
    int rc;

    tu_key(z, KEY_Z);
    for (int i = 0; i < CHANGES_MAX; i++) {
        if (i >= CHANGES_MIN && atomic_load(&w->sh->workers_running) == 0)
            break;
        /* Z is never held here: only this thread adds it, and it is gone
         * after our removal or after a reload. */
        rc = tr_ring_add_key(w->sh->ring, z, T0 - 50);
        if (rc != 0) {
            snprintf(w->error, sizeof(w->error), "add Z failed: %s", tr_strerror(rc));
            break;
        }
        rc = tr_ring_remove_key(w->sh->ring, z);
        if (rc == 0) {
            w->removed++;
        } else if (rc == TR_E_KEY_NOT_FOUND) {
            w->remove_missing++; /* a reload dropped it first */
        } else {
            snprintf(w->error, sizeof(w->error), "remove Z failed: %s", tr_strerror(rc));
            break;
        }
        w->rounds++;
    }
    return NULL;
}

/* A key file holding the keys with these tu_key() seeds and activations,
 * written by a ring (tr_ring_save: the real writer). */
static char *key_file(const int *seeds, const int64_t *acts, int n)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    char *path = tu_write_temp("", 0);
    uint8_t key[TR_KEY_BYTES];
    for (int i = 0; i < n; i++) {
        tu_key(key, (uint8_t)seeds[i]);
        assert_int_equal(tr_ring_add_key(r, key, acts[i]), 0);
    }
    assert_int_equal(tr_ring_save(r, path), 0);
    tr_ring_free(r);
    return path;
}

static void test_seal_open_while_reloading_and_changing_keys(void **st)
{
    static const int seeds_a[] = {KEY_S, KEY_X}, seeds_b[] = {KEY_S, KEY_Y};
    static const int64_t acts[] = {T0 - 100, T0 + 100000};
    int64_t clock_ms = (int64_t)T0 * 1000;
    struct shared sh;
    struct worker w[WORKERS];
    struct writer reloader, changer;
    uint8_t key[TR_KEY_BYTES];
    uint64_t sealed = 0, opened = 0, renew = 0, refused = 0;
    tr_stats stats;
    (void)st;

    memset(&sh, 0, sizeof(sh));
    memset(w, 0, sizeof(w));
    memset(&reloader, 0, sizeof(reloader));
    memset(&changer, 0, sizeof(changer));
    sh.file_a = key_file(seeds_a, acts, 2);
    sh.file_b = key_file(seeds_b, acts, 2);
    tu_key(key, KEY_S);
    memcpy(sh.name_s, key, TR_KEY_NAME_BYTES);
    tu_key(key, KEY_Z);
    memcpy(sh.name_z, key, TR_KEY_NAME_BYTES);
    sh.ring = tu_ring(&clock_ms);
    assert_int_equal(tr_ring_load(sh.ring, sh.file_a, NULL), 0);
    atomic_init(&sh.workers_running, WORKERS);

    reloader.sh = changer.sh = &sh;
    assert_int_equal(pthread_create(&reloader.th, NULL, reloader_main, &reloader), 0);
    assert_int_equal(pthread_create(&changer.th, NULL, changer_main, &changer), 0);
    for (int i = 0; i < WORKERS; i++) {
        w[i].sh = &sh;
        w[i].id = i;
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
    assert_int_equal(pthread_join(reloader.th, NULL), 0);
    assert_int_equal(pthread_join(changer.th, NULL), 0);

    for (int i = 0; i < WORKERS; i++) {
        if (w[i].error[0] != '\0')
            print_error("%s\n", w[i].error);
        assert_string_equal(w[i].error, "");
        assert_int_equal(w[i].sealed, WORKER_ROUNDS);
        sealed += w[i].sealed;
        opened += w[i].opened;
        renew += w[i].renew;
        refused += w[i].refused_z;
    }
    if (reloader.error[0] != '\0' || changer.error[0] != '\0')
        print_error("%s%s\n", reloader.error, changer.error);
    assert_string_equal(reloader.error, "");
    assert_string_equal(changer.error, "");
    assert_true(reloader.rounds >= RELOADS_MIN);
    assert_true(changer.rounds >= CHANGES_MIN);
    /* Two opens per round but the first. */
    assert_int_equal(opened + refused, (uint64_t)WORKERS * (2 * WORKER_ROUNDS - 1));

    /* The ring's counters agree with what the threads saw. */
    memset(&stats, 0, sizeof(stats));
    stats.size = sizeof(stats);
    assert_int_equal(tr_ring_stats(sh.ring, &stats), 0);
    assert_int_equal(stats.sealed, sealed);
    assert_int_equal(stats.opened, opened);
    assert_int_equal(stats.opened_renew, renew);
    assert_int_equal(stats.refused_unknown_key, refused);
    assert_int_equal(stats.refused_auth + stats.refused_malformed + stats.refused_expired +
                         stats.refused_future + stats.refused_sni + stats.refused_alpn +
                         stats.refused_context + stats.seal_no_key,
                     0);
    assert_int_equal(stats.reloads, 1 + 2 * reloader.rounds);
    assert_int_equal(stats.reload_failures, 0);
    print_message("# %llu seals, %llu opens (%llu to renew), %llu refused under a dropped "
                  "key; %llu reload rounds, %llu key change rounds (%llu removals found "
                  "the key already gone)\n",
                  (unsigned long long)sealed, (unsigned long long)opened,
                  (unsigned long long)renew, (unsigned long long)refused,
                  (unsigned long long)reloader.rounds, (unsigned long long)changer.rounds,
                  (unsigned long long)changer.remove_missing);

    tr_ring_free(sh.ring);
    unlink(sh.file_a);
    unlink(sh.file_b);
    free(sh.file_a);
    free(sh.file_b);
}

/* ---- readers never wait for a writer ------------------------------------ */

/*
 * A thread parks inside the ring's random source, which the ring calls with
 * the writer lock held (salts, while building a key set) or with a reader
 * count held (the nonce, while sealing). Then the main thread seals and
 * opens: if either waited for the writer, the test would hang (meson's
 * timeout) instead of finishing.
 */
struct park {
    atomic_int armed, parked, release;
};

static _Thread_local int may_park;

static int parking_random(uint8_t *buf, size_t len, void *arg)
{
    struct park *p = arg;
    if (tu_random_os(buf, len) != 0)
        return -1;
    if (may_park && atomic_load(&p->armed)) {
        atomic_store(&p->armed, 0); /* park once */
        atomic_store(&p->parked, 1);
        while (!atomic_load(&p->release))
            sched_yield();
    }
    return 0;
}

struct parker {
    tr_ring *ring;
    int rc;
    int what; /* 0: add a key (writer), 1: seal (reader) */
};

static void *parker_main(void *arg)
{
    struct parker *pk = arg;
    uint8_t key[TR_KEY_BYTES], t[TR_TICKET_OVERHEAD];
    size_t tlen;
    may_park = 1;
    tu_key(key, 9);
    pk->rc = pk->what == 0 ? tr_ring_add_key(pk->ring, key, T0 + 3600)
                           : seal(pk->ring, NULL, 0, t, sizeof(t), &tlen);
    return NULL;
}

static void seal_and_open_now(tr_ring *r)
{
    uint8_t state[STATE_BYTES], out[STATE_BYTES];
    uint8_t t[STATE_BYTES + TR_TICKET_OVERHEAD];
    size_t tlen = 0, len = 0;
    make_state(state, 9, 9);
    assert_int_equal(seal(r, state, sizeof(state), t, sizeof(t), &tlen), 0);
    assert_int_equal(open_t(r, t, tlen, out, sizeof(out), &len, NULL), 0);
    assert_memory_equal(out, state, sizeof(state));
}

static tr_ring *parking_ring(int64_t *clock_ms, struct park *p)
{
    tr_ring *r = tu_ring(clock_ms);
    uint8_t key[TR_KEY_BYTES];
    atomic_init(&p->armed, 0);
    atomic_init(&p->parked, 0);
    atomic_init(&p->release, 0);
    assert_int_equal(tr_ring_set_random(r, parking_random, p), 0);
    tu_key(key, 1);
    assert_int_equal(tr_ring_add_key(r, key, T0 - 100), 0);
    return r;
}

static void test_readers_do_not_wait_for_writer_lock(void **st)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    struct park p;
    tr_ring *r = parking_ring(&clock_ms, &p);
    struct parker writer = {r, -1, 0};
    pthread_t th;
    uint32_t n = 0;
    (void)st;

    atomic_store(&p.armed, 1);
    assert_int_equal(pthread_create(&th, NULL, parker_main, &writer), 0);
    while (!atomic_load(&p.parked))
        sched_yield();
    /* The writer holds the lock, building a set: readers go on. */
    seal_and_open_now(r);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 1);
    atomic_store(&p.release, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(writer.rc, 0);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 2);
    tr_ring_free(r);
}

static void test_readers_do_not_wait_for_grace_period(void **st)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    struct park p;
    tr_ring *r = parking_ring(&clock_ms, &p);
    struct parker reader = {r, -1, 1};
    pthread_t rth, wth;
    void *before;
    uint8_t key[TR_KEY_BYTES];
    uint32_t n = 0;
    (void)st;

    atomic_store(&p.armed, 1);
    assert_int_equal(pthread_create(&rth, NULL, parker_main, &reader), 0);
    while (!atomic_load(&p.parked))
        sched_yield();
    /* A writer publishes a new set, then waits for the parked reader. */
    before = atomic_load(&r->keys.current);
    {
        struct parker writer = {r, -1, 0};
        assert_int_equal(pthread_create(&wth, NULL, parker_main, &writer), 0);
        while (atomic_load(&r->keys.current) == before)
            sched_yield();
        /* Readers now see the new set and do not wait. */
        seal_and_open_now(r);
        assert_int_equal(tr_ring_key_count(r, &n), 0);
        assert_int_equal(n, 2);
        atomic_store(&p.release, 1);
        assert_int_equal(pthread_join(wth, NULL), 0);
        assert_int_equal(writer.rc, 0);
    }
    assert_int_equal(pthread_join(rth, NULL), 0);
    assert_int_equal(reader.rc, 0);
    tu_key(key, 9);
    assert_int_equal(tr_ring_remove_key(r, key), 0);
    tr_ring_free(r);
}

/* ---- the snapshot frees nothing a reader holds --------------------------- */

#define SNAP_READERS 4
#define SNAP_READS 20000
#define SNAP_WRITES 2000
#define MAGIC_LIVE UINT64_C(0x4c4956454c495645)
#define MAGIC_DEAD UINT64_C(0xdeaddeaddeaddead)

struct obj {
    uint64_t magic; /* plain, not atomic: TSan reports any racing access */
    uint64_t serial;
    uint64_t check; /* ~serial */
};

struct snap_ctx {
    struct tri_snapshot snap;
    atomic_int readers_running;
    atomic_ulong frees;
};

struct snap_reader {
    struct snap_ctx *ctx;
    pthread_t th;
    uint64_t reads, bad, backwards, last;
};

static void *snap_reader_main(void *arg)
{
    struct snap_reader *rd = arg;
    for (int i = 0; i < SNAP_READS; i++) {
        unsigned tok;
        const volatile struct obj *o = tri_snapshot_acquire(&rd->ctx->snap, &tok);
        uint64_t m1 = o->magic, serial = o->serial;
        sched_yield(); /* hold it a while: let the writer run */
        if (m1 != MAGIC_LIVE || o->magic != MAGIC_LIVE || o->check != ~serial)
            rd->bad++;
        if (serial < rd->last)
            rd->backwards++; /* a newer object was seen before */
        rd->last = serial;
        tri_snapshot_release(&rd->ctx->snap, tok);
        rd->reads++;
    }
    atomic_fetch_sub(&rd->ctx->readers_running, 1);
    return NULL;
}

static struct obj *obj_new(uint64_t serial)
{
    struct obj *o = malloc(sizeof(*o));
    assert_non_null(o);
    o->magic = MAGIC_LIVE;
    o->serial = serial;
    o->check = ~serial;
    return o;
}

/* Poison first, so a reader that still held it sees DEAD (and ASan or TSan
 * report the access after free). */
static void obj_free(struct snap_ctx *ctx, struct obj *o)
{
    volatile struct obj *v = o;
    v->magic = MAGIC_DEAD;
    v->check = 0;
    free(o);
    atomic_fetch_add(&ctx->frees, 1);
}

static void test_snapshot_never_frees_held_object(void **st)
{
    struct snap_ctx ctx;
    struct snap_reader rd[SNAP_READERS];
    uint64_t writes = 0;
    (void)st;

    tri_snapshot_init(&ctx.snap, obj_new(0));
    atomic_init(&ctx.readers_running, SNAP_READERS);
    atomic_init(&ctx.frees, 0);
    memset(rd, 0, sizeof(rd));
    for (int i = 0; i < SNAP_READERS; i++) {
        rd[i].ctx = &ctx;
        assert_int_equal(pthread_create(&rd[i].th, NULL, snap_reader_main, &rd[i]), 0);
    }
    /* The (single, so serialised) writer: at least SNAP_WRITES exchanges,
     * and on while readers run, up to 50 times as many. */
    for (uint64_t i = 1; i <= 50 * SNAP_WRITES; i++) {
        if (i > SNAP_WRITES && atomic_load(&ctx.readers_running) == 0)
            break;
        obj_free(&ctx, tri_snapshot_exchange(&ctx.snap, obj_new(i)));
        writes++;
    }
    for (int i = 0; i < SNAP_READERS; i++) {
        assert_int_equal(pthread_join(rd[i].th, NULL), 0);
        assert_int_equal(rd[i].reads, SNAP_READS);
        assert_int_equal(rd[i].bad, 0);
        assert_int_equal(rd[i].backwards, 0);
    }
    assert_int_equal(atomic_load(&ctx.frees), writes);
    assert_int_equal(atomic_load(&ctx.snap.readers[0]) + atomic_load(&ctx.snap.readers[1]), 0);
    obj_free(&ctx, atomic_load(&ctx.snap.current));
}

/*
 * The interleaving random stress can hardly reach: a reader reads the
 * counter index, stalls while whole exchanges complete, then counts itself
 * on the stale counter and loads the object current at that moment. The
 * next exchange must still wait for it. The reader's three steps are done
 * by hand here (white box: they are tri_snapshot_acquire()'s), the writer
 * runs in a thread. A correct writer blocks until the release; one that
 * drains a single counter returns at once, which the bounded wait below
 * gives it every chance to do.
 */
struct stalled {
    struct tri_snapshot snap;
    void *next, *old;
    atomic_int released, saw_released, done;
};

static void *stalled_writer(void *arg)
{
    struct stalled *s = arg;
    s->old = tri_snapshot_exchange(&s->snap, s->next);
    atomic_store(&s->saw_released, atomic_load(&s->released));
    atomic_store(&s->done, 1);
    return NULL;
}

#define STALL_YIELDS 20000 /* a writer that does not wait returns long before */

static void test_snapshot_waits_for_stalled_reader(void **st)
{
    int objs[8];
    (void)st;
    for (int between = 0; between < 4; between++) {
        struct stalled s;
        pthread_t th;
        unsigned i;
        void *held;
        int k = 0;

        tri_snapshot_init(&s.snap, &objs[0]);
        atomic_init(&s.released, 0);
        atomic_init(&s.saw_released, 0);
        atomic_init(&s.done, 0);
        /* Step 1 of acquire: read the index ... */
        i = atomic_load(&s.snap.idx) & 1u;
        /* ... stall while `between` exchanges complete ... */
        for (int e = 1; e <= between; e++)
            assert_ptr_equal(tri_snapshot_exchange(&s.snap, &objs[e]), &objs[e - 1]);
        /* ... steps 2 and 3: count on the (stale) counter, load current. */
        atomic_fetch_add(&s.snap.readers[i], 1);
        held = atomic_load(&s.snap.current);
        assert_ptr_equal(held, &objs[between]);

        s.next = &objs[between + 1];
        assert_int_equal(pthread_create(&th, NULL, stalled_writer, &s), 0);
        while (atomic_load(&s.snap.current) == held)
            sched_yield();
        while (!atomic_load(&s.done) && k++ < STALL_YIELDS)
            sched_yield();
        if (atomic_load(&s.done))
            print_error("exchange returned the object a reader holds (%d exchanges "
                        "while the reader stalled)\n",
                        between);
        assert_false(atomic_load(&s.done));
        atomic_store(&s.released, 1);
        tri_snapshot_release(&s.snap, i);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_ptr_equal(s.old, held);
        assert_true(atomic_load(&s.saw_released));
    }
}

/* Everything that reads the key set (metrics, fingerprint, key info, TLS
 * key state) races reloads that free the set it read: ASan and TSan must
 * see no access after the set is gone. */
struct observer {
    tr_ring *ring;
    atomic_int *stop;
    uint64_t rounds;
    int error;
};

static int observe_key(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                       void *arg)
{
    return key_state != NULL ? 0 : TR_E_CRYPTO;
}

static void *observer_main(void *arg)
{
    struct observer *o = arg;
    char text[16384], fp[TR_FINGERPRINT_HEX + 1];
    uint8_t name[TR_KEY_NAME_BYTES];
    size_t len;
    int rc;

    while (!atomic_load(o->stop) && o->error == 0) {
        rc = tr_ring_metrics(o->ring, text, sizeof(text), &len);
        if (rc == 0)
            rc = tr_ring_fingerprint(o->ring, fp, sizeof(fp));
        if (rc == 0)
            rc = tr_ring_key_info(o->ring, 0, name, NULL, NULL);
        if (rc == 0 && tu_backend() == tu_backend_named("openssl")) {
            rc = tr_ring_tls_key(o->ring, tu_backend(), NULL, observe_key, NULL);
            if (rc == 0)
                rc = tr_ring_tls_key(o->ring, tu_backend(), name, observe_key, NULL);
        }
        o->error = rc;
        o->rounds++;
    }
    return NULL;
}

static void test_readers_of_the_key_set_while_reloading(void **st)
{
    static const int seeds_a[] = {KEY_S, KEY_X}, seeds_b[] = {KEY_S, KEY_Y};
    static const int64_t acts[] = {T0 - 100, T0 + 100000};
    int64_t clock_ms = (int64_t)T0 * 1000;
    char *a = key_file(seeds_a, acts, 2), *b = key_file(seeds_b, acts, 2);
    tr_ring *r = tu_ring(&clock_ms);
    struct observer o[2];
    pthread_t th[2];
    atomic_int stop = 0;
    uint32_t line;
    (void)st;
    assert_int_equal(tr_ring_load(r, a, &line), 0);
    for (int i = 0; i < 2; i++) {
        o[i] = (struct observer){r, &stop, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, observer_main, &o[i]), 0);
    }
    for (int i = 0; i < 2000; i++)
        assert_int_equal(tr_ring_load_ex(r, (i & 1) ? b : a, TR_LOAD_FORCE, &line), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(o[i].error, 0);
        assert_true(o[i].rounds > 0);
    }
    tr_ring_free(r);
    unlink(a);
    unlink(b);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_open_while_reloading_and_changing_keys),
        cmocka_unit_test(test_readers_do_not_wait_for_writer_lock),
        cmocka_unit_test(test_readers_do_not_wait_for_grace_period),
        cmocka_unit_test(test_snapshot_never_frees_held_object),
        cmocka_unit_test(test_snapshot_waits_for_stalled_reader),
        cmocka_unit_test(test_readers_of_the_key_set_while_reloading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
