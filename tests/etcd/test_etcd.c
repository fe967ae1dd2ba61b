/*
 * libticketring-etcd against a real etcd (Debian's etcd-server): one member
 * on random loopback ports in a temporary directory. Followers are rings in
 * this process, each with its own tr_sync (its own connections, thread and
 * heartbeat), so what they share is only etcd. Waits poll a condition with
 * a deadline: they wait for another process, they do not measure time.
 */
#define _GNU_SOURCE
#include "test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ticketring/etcd.h>

#include "etcd_harness.h"
#include "seal.h"
#include "store.h"

#define CLUSTER "c1"
#define DEADLINE_MS 15000
#define KEK1_HEX "1111111111111111111111111111111111111111111111111111111111111111"
#define KEK1B_HEX "2222222222222222222222222222222222222222222222222222222222222222"
#define KEK2_HEX "3333333333333333333333333333333333333333333333333333333333333333"

static struct etcd_proc etcd;
static char *kek1, *kek1_other, *kek2; /* paths */

/* ---- helpers -------------------------------------------------------------- */

/* Every log line of every follower, to check no secret ever shows. */
static char *write_kek(const char *id, const char *hex)
{
    char line[200];
    char *p;
    snprintf(line, sizeof line, "%s %s\n", id, hex);
    p = tu_write_temp(line, strlen(line));
    assert_int_equal(chmod(p, 0600), 0);
    return p;
}

/* The secret field of every key line any writer produced. */
static char secrets[256][129];
static int n_secrets;

static void remember_secrets(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t ll = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        /* key NAME ACTIVATION SECRET [revoked] */
        if (ll > 4 && memcmp(p, "key ", 4) == 0 && n_secrets < 256) {
            const char *f = p;
            for (int i = 0; i < 3 && f != NULL; i++)
                f = memchr(f + 1, ' ', ll - (size_t)(f - p) - 1);
            if (f != NULL && (size_t)(f - p) + 129 <= ll + 1) {
                memcpy(secrets[n_secrets], f + 1, 128);
                secrets[n_secrets++][128] = '\0';
            }
        }
        p += ll + 1;
    }
}

/* The writer: a ring whose saves produce the next document's text. */
struct writer {
    tr_ring *ring;
    char path[64];
};

static void writer_init(struct writer *w, const char *cluster)
{
    int fd;
    int64_t now = time(NULL);
    assert_int_equal(tr_ring_new(&w->ring, tu_backend()), 0);
    assert_int_equal(tr_ring_set_cluster(w->ring, cluster), 0);
    assert_int_equal(tr_ring_generate_key(w->ring, now - 60, NULL), 0);
    strcpy(w->path, "/tmp/tr-etcd-keys-XXXXXX");
    fd = mkstemp(w->path);
    assert_true(fd >= 0);
    close(fd);
}

static void writer_free(struct writer *w)
{
    unlink(w->path);
    tr_ring_free(w->ring);
}

/* Add a key (pending: the schedule's second phase is not this test's) and
 * save: the text of the next serial, malloc'd. */
static char *writer_next(struct writer *w, size_t *len, uint64_t *serial)
{
    struct stat st;
    FILE *f;
    char *buf;
    assert_int_equal(tr_ring_generate_key(w->ring, TR_ACTIVATION_PENDING, NULL), 0);
    assert_int_equal(tr_ring_save(w->ring, w->path), 0);
    assert_int_equal(stat(w->path, &st), 0);
    buf = malloc((size_t)st.st_size);
    f = fopen(w->path, "rb");
    assert_non_null(f);
    *len = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    assert_int_equal(*len, (size_t)st.st_size);
    remember_secrets(buf, *len);
    if (serial != NULL)
        assert_int_equal(tr_ring_serial(w->ring, serial), 0);
    return buf;
}

static void fp_of(tr_ring *r, char fp[TR_FINGERPRINT_HEX + 1])
{
    assert_int_equal(tr_ring_fingerprint(r, fp, TR_FINGERPRINT_HEX + 1), 0);
}

struct node {
    tr_ring *ring;
    tr_sync *sync;
};

static tr_sync *new_sync(tr_ring *ring, const char *prefix, const char *id, const char *kek)
{
    char url[128];
    tr_sync *s = NULL;
    eh_url(&etcd, prefix, url, sizeof url);
    assert_int_equal(tr_sync_new(&s, ring, url), 0);
    assert_int_equal(tr_sync_set_log(s, eh_log, NULL), 0);
    if (id != NULL)
        assert_int_equal(tr_sync_set_node_id(s, id), 0);
    if (kek != NULL)
        assert_int_equal(tr_sync_set_kek_file(s, kek), 0);
    /* Compressed: poll 400 ms, heartbeats every second (TTL 3 s). */
    assert_int_equal(tr_sync_set_intervals(s, 400, 3, 1000), 0);
    return s;
}

static void node_init(struct node *n, const char *prefix, const char *id, const char *kek,
                      const char *local_file, int start)
{
    assert_int_equal(tr_ring_new(&n->ring, tu_backend()), 0);
    assert_int_equal(tr_ring_set_cluster(n->ring, CLUSTER), 0);
    n->sync = new_sync(n->ring, prefix, id, kek);
    if (local_file != NULL)
        assert_int_equal(tr_sync_set_local_file(n->sync, local_file), 0);
    if (start)
        assert_int_equal(tr_sync_start(n->sync), 0);
}

/* Nodes n0, n1, n2 under prefix, started. */
static void three_nodes(struct node n[3], const char *prefix)
{
    for (int i = 0; i < 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "n%d", i);
        node_init(&n[i], prefix, id, kek1, NULL, 1);
    }
}

static void node_free(struct node *n)
{
    tr_sync_free(n->sync);
    tr_ring_free(n->ring);
}

static tr_sync_status status_of(tr_sync *s)
{
    tr_sync_status st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tr_sync_status_get(s, &st), 0);
    return st;
}

/* Wait (bounded) until every node holds fingerprint fp; ms it took. */
static long long wait_fp(struct node *nodes, int n, const char *fp)
{
    long long t0 = eh_mono_ms();
    for (;;) {
        int all = 1;
        for (int i = 0; i < n; i++) {
            char got[TR_FINGERPRINT_HEX + 1];
            fp_of(nodes[i].ring, got);
            all &= strcmp(got, fp) == 0;
        }
        if (all)
            return eh_mono_ms() - t0;
        if (eh_mono_ms() - t0 > DEADLINE_MS)
            fail_msg("nodes did not converge on %s within %d ms", fp, DEADLINE_MS);
        eh_nap(2);
    }
}

#define WAIT_FOR(cond)                                                                   \
    do {                                                                                 \
        long long t0_ = eh_mono_ms();                                                       \
        while (!(cond)) {                                                                \
            if (eh_mono_ms() - t0_ > DEADLINE_MS)                                           \
                fail_msg("timed out waiting for %s", #cond);                             \
            eh_nap(5);                                                                   \
        }                                                                                \
    } while (0)

/* A client of the store for writing what an attacker would. */
static void seal_with(const char *kek_path, const char *cluster, uint64_t serial,
                      const char *text, size_t len, uint8_t **doc, size_t *doc_len)
{
    struct tre_kek k;
    assert_int_equal(tre_kek_read(kek_path, &k), 0);
    assert_int_equal(tre_seal(&k, cluster, serial, text, len, doc, doc_len), 0);
}

/* Publish once etcd, just restarted, takes writes: bounded retries (the
 * writer's connection may need a moment too). */
static void publish_retrying(tr_sync *pub, const char *text, size_t len)
{
    long long t0 = eh_mono_ms();
    int rc;
    while ((rc = tr_sync_publish(pub, text, len)) == TR_E_STORE &&
           eh_mono_ms() - t0 < DEADLINE_MS)
        eh_nap(20);
    assert_int_equal(rc, 0);
}

/* ---- tests ---------------------------------------------------------------- */

/* Publish, then one follower applies it: same keys as the writer, ready,
 * heartbeat listed. Before the first document it is not ready. */
static void test_publish_and_apply(void **state)
{
    struct writer w;
    struct node n;
    tr_sync *pub;
    char *text, wfp[TR_FINGERPRINT_HEX + 1];
    size_t len;
    uint64_t serial;
    tr_sync_status st;
    (void)state;

    writer_init(&w, CLUSTER);
    node_init(&n, "/t1", "n1", kek1, NULL, 1);
    st = status_of(n.sync);
    assert_int_equal(st.ready, 0); /* reached etcd, but no document yet */
    assert_int_equal(st.state, TR_SYNC_SYNCED);

    pub = new_sync(w.ring, "/t1", "writer", kek1);
    text = writer_next(&w, &len, &serial);
    assert_int_equal(tr_sync_publish(pub, text, len), 0);
    /* The same serial again is a rollback for the writer too. */
    assert_int_equal(tr_sync_publish(pub, text, len), TR_E_KEYFILE_ROLLBACK);
    free(text);
    fp_of(w.ring, wfp);
    wait_fp(&n, 1, wfp);
    st = status_of(n.sync);
    assert_int_equal(st.ready, 1);
    assert_true(st.serial == serial);
    assert_true(st.applied == 1);
    assert_string_equal(st.fingerprint, wfp);
    assert_true(st.sync_age_ms >= 0 && st.sync_age_ms < 5000);
    tr_sync_free(pub);
    node_free(&n);
    writer_free(&w);
}

struct seen {
    int n;
    char fp[8][TR_FINGERPRINT_HEX + 1];
    uint64_t serial[8];
};

static int on_node(void *arg, const char *id, const char *fp, uint64_t serial,
                   int64_t age_ms, int64_t written_ms)
{
    struct seen *s = arg;
    (void)id;
    (void)age_ms;
    (void)written_ms;
    if (s->n < 8) {
        strcpy(s->fp[s->n], fp);
        s->serial[s->n] = serial;
        s->n++;
    }
    return 0;
}

static int heartbeats_agree(tr_sync *any, const char *fp, int want)
{
    struct seen s;
    memset(&s, 0, sizeof s);
    if (tr_sync_nodes(any, on_node, &s) != 0 || s.n != want)
        return 0;
    for (int i = 0; i < s.n; i++)
        if (strcmp(s.fp[i], fp) != 0)
            return 0;
    return 1;
}

/* Three followers converge on every new document; the time from the
 * writer's successful publish to the last follower holding it is printed. */
static void test_three_converge(void **state)
{
    struct writer w;
    struct node n[3];
    tr_sync *pub;
    char wfp[TR_FINGERPRINT_HEX + 1];
    long long worst = 0, total = 0;
    const int rounds = 5;
    (void)state;

    writer_init(&w, CLUSTER);
    pub = new_sync(w.ring, "/t2", "writer", kek1);
    three_nodes(n, "/t2");
    for (int r = 0; r < rounds; r++) {
        size_t len;
        char *text = writer_next(&w, &len, NULL);
        long long ms;
        /* Each follower acknowledges a document with a heartbeat right
         * after applying it; writes minutes apart never meet those, so
         * let them land (back to back, a write waits behind three fsyncs). */
        eh_nap(300);
        assert_int_equal(tr_sync_publish(pub, text, len), 0);
        free(text);
        fp_of(w.ring, wfp);
        ms = wait_fp(n, 3, wfp);
        total += ms;
        if (ms > worst)
            worst = ms;
    }
    printf("# etcd: write to last of 3 followers applying it: mean %lld ms, worst %lld ms "
           "over %d writes (watch + 400 ms poll)\n",
           total / rounds, worst, rounds);
    /* Every heartbeat reports the writer's fingerprint. */
    WAIT_FOR(heartbeats_agree(pub, wfp, 3));
    for (int i = 0; i < 3; i++) {
        tr_sync_status st = status_of(n[i].sync);
        assert_true(st.applied == (uint64_t)rounds);
        assert_true(st.heartbeats >= 1);
        node_free(&n[i]);
    }
    tr_sync_free(pub);
    writer_free(&w);
}

/* What a party with write access to etcd but without the KEK can do:
 * tamper, reseal under another KEK, move another cluster's document here,
 * replay an older one. Each is refused and counted; the keys stay; a good
 * document afterwards still applies. */
static void test_refusals(void **state)
{
    struct writer w;
    struct node n;
    tr_sync *pub;
    char *old_text, *text, fp_before[TR_FINGERPRINT_HEX + 1], fp_now[TR_FINGERPRINT_HEX + 1];
    char key[128];
    size_t old_len, len, dl;
    uint64_t old_serial, serial;
    uint8_t *doc;
    tr_sync_status st;
    (void)state;

    snprintf(key, sizeof key, "/t3/%s/keyset", CLUSTER);
    writer_init(&w, CLUSTER);
    pub = new_sync(w.ring, "/t3", "writer", kek1);
    node_init(&n, "/t3", "n1", kek1, NULL, 1);
    old_text = writer_next(&w, &old_len, &old_serial);
    text = writer_next(&w, &len, &serial);
    assert_int_equal(tr_sync_publish(pub, text, len), 0);
    fp_of(w.ring, fp_before);
    wait_fp(&n, 1, fp_before);

    /* 1. Tampered: one base64 character of the ciphertext changed. */
    seal_with(kek1, CLUSTER, serial + 1, text, len, &doc, &dl);
    doc[dl - 10] = doc[dl - 10] == 'A' ? 'B' : 'A';
    assert_int_equal(eh_raw_put(&etcd, key, doc, dl), 0);
    free(doc);
    WAIT_FOR(status_of(n.sync).refused_integrity == 1);
    /* 2. Another KEK under the same id. */
    seal_with(kek1_other, CLUSTER, serial + 1, text, len, &doc, &dl);
    assert_int_equal(eh_raw_put(&etcd, key, doc, dl), 0);
    free(doc);
    WAIT_FOR(status_of(n.sync).refused_integrity == 2);
    /* 3. A KEK id this node does not hold. */
    seal_with(kek2, CLUSTER, serial + 1, text, len, &doc, &dl);
    assert_int_equal(eh_raw_put(&etcd, key, doc, dl), 0);
    free(doc);
    WAIT_FOR(status_of(n.sync).refused_kek == 1);
    /* 4. Another cluster's document (valid under the shared KEK). */
    {
        struct writer w2;
        size_t l2;
        uint64_t s2;
        char *t2;
        writer_init(&w2, "c2");
        t2 = writer_next(&w2, &l2, &s2);
        seal_with(kek1, "c2", s2, t2, l2, &doc, &dl);
        assert_int_equal(eh_raw_put(&etcd, key, doc, dl), 0);
        free(doc);
        free(t2);
        writer_free(&w2);
    }
    WAIT_FOR(status_of(n.sync).refused_cluster == 1);
    /* 5. The older document, validly sealed: a replay. */
    seal_with(kek1, CLUSTER, old_serial, old_text, old_len, &doc, &dl);
    assert_int_equal(eh_raw_put(&etcd, key, doc, dl), 0);
    free(doc);
    WAIT_FOR(status_of(n.sync).refused_rollback == 1);
    /* 6. Garbage. */
    assert_int_equal(eh_raw_put(&etcd, key, (const uint8_t *)"not a document", 14), 0);
    WAIT_FOR(status_of(n.sync).refused_integrity == 3);

    fp_of(n.ring, fp_now);
    assert_string_equal(fp_before, fp_now);
    st = status_of(n.sync);
    assert_true(st.serial == serial);
    assert_true(st.applied == 1);
    assert_int_equal(st.ready, 1);
    {
        char m[4096];
        size_t ml = 0;
        assert_int_equal(tr_sync_metrics(n.sync, m, sizeof m, &ml), 0);
        assert_int_equal(strlen(m), ml);
        assert_non_null(strstr(m, "ticketring_sync_refused_total{reason=\"integrity\"} 3\n"));
        assert_non_null(strstr(m, "ticketring_sync_refused_total{reason=\"rollback\"} 1\n"));
        assert_non_null(strstr(m, "ticketring_sync_refused_total{reason=\"kek\"} 1\n"));
        assert_non_null(strstr(m, "ticketring_sync_refused_total{reason=\"cluster\"} 1\n"));
        assert_non_null(strstr(m, "ticketring_sync_ready 1\n"));
        assert_non_null(strstr(m, fp_now));
        assert_int_equal(tr_sync_metrics(n.sync, m, 64, &ml), TR_E_BUFFER_TOO_SMALL);
    }
    /* The writer is not fooled either: the garbage proves no serial, so
     * the next document goes in, and the follower takes it. */
    free(text);
    text = writer_next(&w, &len, &serial);
    assert_int_equal(tr_sync_publish(pub, text, len), 0);
    fp_of(w.ring, fp_now);
    wait_fp(&n, 1, fp_now);
    assert_true(status_of(n.sync).applied == 2);
    free(text);
    free(old_text);
    tr_sync_free(pub);
    node_free(&n);
    writer_free(&w);
}

/* A ticket sealed by one node opens on another: the nodes serve. */
static void assert_serves(tr_ring *a, tr_ring *b)
{
    uint8_t ticket[512], state_out[64];
    size_t tl = 0, sl = 0;
    assert_int_equal(tr_ticket_seal(a, (const uint8_t *)"session", 7, NULL, 0, NULL, 0, NULL, 0,
                                    0, ticket, sizeof ticket, &tl, NULL), 0);
    assert_int_equal(tr_ticket_open(b, ticket, tl, NULL, 0, NULL, 0, NULL, 0, state_out,
                                    sizeof state_out, &sl, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(sl, 7);
}

/* etcd stopped under running followers: they keep their keys and serve,
 * report unreachable and a growing sync age; after a restart they catch up
 * with a document published then. */
static void test_etcd_restart(void **state)
{
    struct writer w;
    struct node n[3];
    tr_sync *pub;
    char *text, wfp[TR_FINGERPRINT_HEX + 1];
    size_t len;
    long long ms;
    (void)state;

    writer_init(&w, CLUSTER);
    pub = new_sync(w.ring, "/t4", "writer", kek1);
    three_nodes(n, "/t4");
    text = writer_next(&w, &len, NULL);
    assert_int_equal(tr_sync_publish(pub, text, len), 0);
    free(text);
    fp_of(w.ring, wfp);
    wait_fp(n, 3, wfp);

    eh_stop(&etcd);
    for (int i = 0; i < 3; i++)
        WAIT_FOR(status_of(n[i].sync).state == TR_SYNC_UNREACHABLE);
    for (int i = 0; i < 3; i++) {
        tr_sync_status st = status_of(n[i].sync);
        char fp[TR_FINGERPRINT_HEX + 1];
        assert_int_equal(st.ready, 1); /* still serving what it holds */
        assert_true(st.store_errors >= 1);
        fp_of(n[i].ring, fp);
        assert_string_equal(fp, wfp);
        assert_serves(n[i].ring, n[(i + 1) % 3].ring);
    }
    assert_int_equal(tr_sync_publish(pub, "x", 1) < 0, 1);

    assert_int_equal(eh_start(&etcd), 0);
    text = writer_next(&w, &len, NULL);
    publish_retrying(pub, text, len);
    free(text);
    fp_of(w.ring, wfp);
    ms = wait_fp(n, 3, wfp);
    printf("# etcd: after a restart, write to last of 3 followers applying it: %lld ms\n", ms);
    for (int i = 0; i < 3; i++) {
        WAIT_FOR(status_of(n[i].sync).state == TR_SYNC_SYNCED);
        node_free(&n[i]);
    }
    tr_sync_free(pub);
    writer_free(&w);
}

/* A node started while etcd is down: with a local key file it is ready and
 * serves from it; without one it is not ready. Once etcd is back, both
 * take the newer document. */
static void test_start_while_down(void **state)
{
    struct writer w;
    struct node with, without;
    tr_sync *pub;
    char *text, local[64], wfp[TR_FINGERPRINT_HEX + 1], fp[TR_FINGERPRINT_HEX + 1];
    size_t len;
    tr_sync_status st;
    FILE *f;
    int fd;
    (void)state;

    writer_init(&w, CLUSTER);
    text = writer_next(&w, &len, NULL);
    strcpy(local, "/tmp/tr-etcd-local-XXXXXX");
    fd = mkstemp(local);
    assert_true(fd >= 0);
    close(fd);
    f = fopen(local, "wb");
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    free(text);
    fp_of(w.ring, wfp);

    eh_stop(&etcd);
    node_init(&with, "/t5", "with", kek1, local, 1);
    node_init(&without, "/t5", "without", kek1, NULL, 1);
    st = status_of(with.sync);
    assert_int_equal(st.ready, 1);
    assert_int_equal(st.state, TR_SYNC_UNREACHABLE);
    assert_true(st.sync_age_ms == -1);
    fp_of(with.ring, fp);
    assert_string_equal(fp, wfp);
    st = status_of(without.sync);
    assert_int_equal(st.ready, 0);
    assert_int_equal(st.state, TR_SYNC_UNREACHABLE);

    assert_int_equal(eh_start(&etcd), 0);
    pub = new_sync(w.ring, "/t5", "writer", kek1);
    text = writer_next(&w, &len, NULL);
    publish_retrying(pub, text, len);
    free(text);
    fp_of(w.ring, wfp);
    {
        struct node both[2] = {with, without};
        wait_fp(both, 2, wfp);
    }
    WAIT_FOR(status_of(without.sync).ready == 1);
    unlink(local);
    tr_sync_free(pub);
    node_free(&with);
    node_free(&without);
    writer_free(&w);
}

/* The step function with the ring's clock injected: the sync age is the
 * ring's time since the last successful read, exactly. */
static void test_step_and_sync_age(void **state)
{
    struct writer w;
    int64_t clock_ms = (int64_t)time(NULL) * 1000;
    tr_ring *ring = tu_ring(&clock_ms);
    tr_sync *s, *pub;
    char *text;
    size_t len;
    uint32_t next = 0;
    tr_sync_status st;
    (void)state;

    writer_init(&w, CLUSTER);
    pub = new_sync(w.ring, "/t6", "writer", kek1);
    text = writer_next(&w, &len, NULL);
    assert_int_equal(tr_sync_publish(pub, text, len), 0);
    free(text);
    assert_int_equal(tr_ring_set_cluster(ring, CLUSTER), 0);
    s = new_sync(ring, "/t6", "stepper", kek1);
    assert_int_equal(tr_sync_step(s, &next), 0);
    assert_true(next > 0 && next <= 1000);
    st = status_of(s);
    assert_int_equal(st.ready, 1);
    assert_true(st.sync_age_ms == 0);
    clock_ms += 7000;
    assert_true(status_of(s).sync_age_ms == 7000);
    /* With the store gone, a step fails, the age keeps growing from the
     * last success, and the keys stay. */
    eh_stop(&etcd);
    assert_int_equal(tr_sync_step(s, &next), TR_E_STORE);
    clock_ms += 1000;
    st = status_of(s);
    assert_int_equal(st.state, TR_SYNC_UNREACHABLE);
    assert_true(st.sync_age_ms == 8000);
    assert_int_equal(st.ready, 1);
    assert_int_equal(tr_sync_start(s), TR_E_INVAL); /* not both */
    assert_int_equal(eh_start(&etcd), 0);
    tr_sync_free(s);
    tr_sync_free(pub);
    tr_ring_free(ring);
    writer_free(&w);
}

/* file: is the key file loader and watcher behind the same object. */
static void test_file_source(void **state)
{
    struct writer w;
    tr_ring *ring;
    tr_sync *s;
    char url[128], wfp[TR_FINGERPRINT_HEX + 1], fp[TR_FINGERPRINT_HEX + 1];
    size_t len;
    char *text;
    tr_sync_status st;
    (void)state;

    writer_init(&w, CLUSTER);
    text = writer_next(&w, &len, NULL);
    free(text);
    fp_of(w.ring, wfp);
    snprintf(url, sizeof url, "file:%s", w.path);
    assert_int_equal(tr_ring_new(&ring, tu_backend()), 0);
    assert_int_equal(tr_sync_new(&s, ring, url), 0);
    assert_int_equal(status_of(s).ready, 0);
    assert_int_equal(tr_sync_start(s), 0);
    st = status_of(s);
    assert_int_equal(st.ready, 1);
    assert_true(st.sync_age_ms == -1);
    fp_of(ring, fp);
    assert_string_equal(fp, wfp);
    tr_sync_free(s);
    /* A missing file fails the start with the loader's code. */
    assert_int_equal(tr_sync_new(&s, ring, "file:/nonexistent/keys"), 0);
    assert_int_equal(tr_sync_start(s), TR_E_IO);
    tr_sync_free(s);
    tr_ring_free(ring);
    writer_free(&w);
}

static void test_urls_and_settings(void **state)
{
    static const char *const bad[] = {
        "", "http://127.0.0.1:2379/x", "etcd://", "etcd://host", "etcd://host:0/x",
        "etcd://host:65536/x", "etcd://user:pw@host:2379/x", "etcd://host:2379/x?tls=1",
        "etcd://host:2379/a//b", "etcd://ho st:2379/x", "file:relative/path", "etcd://:2379/x"};
    static const char *const good[] = {"etcd://127.0.0.1:2379", "etcd://h.example:1/a/b/",
                                       "etcd://[::1]:2379/x", "file:/k", "file:///k"};
    tr_ring *ring;
    tr_sync *s = NULL;
    (void)state;

    assert_int_equal(tr_ring_new(&ring, tu_backend()), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tr_sync_new(&s, ring, bad[i]), TR_E_INVAL);
        assert_null(s);
    }
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(tr_sync_new(&s, ring, good[i]), 0);
        tr_sync_free(s);
    }
    assert_int_equal(tr_sync_new(&s, ring, "etcd://127.0.0.1:1/x"), 0);
    assert_int_equal(tr_sync_set_node_id(s, "a/b"), TR_E_INVAL);
    assert_int_equal(tr_sync_set_intervals(s, 99, 3, 1000), TR_E_INVAL);
    assert_int_equal(tr_sync_set_intervals(s, 1000, 1, 1000), TR_E_INVAL);
    assert_int_equal(tr_sync_set_kek_file(s, "/nonexistent"), TR_E_IO);
    /* No KEK, and a ring with no cluster: refused at start, not later. */
    assert_int_equal(tr_sync_start(s), TR_E_INVAL);
    assert_int_equal(tr_sync_set_kek_file(s, kek1), 0);
    assert_int_equal(tr_sync_set_kek_file(s, kek1_other), TR_E_INVAL); /* same id */
    assert_int_equal(tr_sync_set_kek_file(s, kek2), 0);
    assert_int_equal(tr_sync_start(s), TR_E_INVAL); /* no cluster */
    tr_sync_free(s);
    tr_sync_free(NULL);
    tr_ring_free(ring);
}

/* POST json to an etcd's gateway as an administrator would (curl); the
 * response body into out (cap bytes). 0 on HTTP 200. */
static int admin_post(unsigned port, const char *path, const char *json, const char *token,
                      char *out, size_t cap);

struct sink {
    char *out;
    size_t cap, len;
};

static size_t to_sink(char *p, size_t size, size_t n, void *arg)
{
    struct sink *k = arg;
    size_t len = size * n, room = k->cap - 1 - k->len;
    size_t take = len < room ? len : room;
    memcpy(k->out + k->len, p, take);
    k->len += take;
    k->out[k->len] = '\0';
    return len;
}

static int admin_post(unsigned port, const char *path, const char *json, const char *token,
                      char *out, size_t cap)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    struct sink k = {out, cap, 0};
    char url[128], auth[512];
    long code = 0;
    CURLcode rc;

    assert_non_null(h);
    out[0] = '\0';
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    if (token != NULL) {
        snprintf(auth, sizeof auth, "Authorization: %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc == CURLE_OK && code == 200 ? 0 : -1;
}

/* The gateway's compacted watch: a wait from a revision compacted away
 * comes back at once as "changed" (re-read), not as an error or a hang;
 * a wait from the current revision with no change times out with 0. */
static void test_compacted_watch(void **state)
{
    struct tre_store *st = eh_raw_store(&etcd);
    const char *key = "/t7/c1/keyset";
    uint8_t *val = NULL;
    size_t len = 0;
    int64_t mod = 0, rev = 0;
    char body[128], resp[1024];
    long long t0;
    (void)state;

    for (int i = 0; i < 3; i++) {
        assert_int_equal(st->ops->get(st, key, &val, &len, &mod, &rev), 0);
        free(val);
        assert_int_equal(st->ops->cas(st, key, (const uint8_t *)"v", 1, mod, NULL), 0);
    }
    assert_int_equal(st->ops->get(st, key, &val, &len, &mod, &rev), 0);
    free(val);
    assert_true(len == 1 && mod > 2);
    /* A compare-and-swap on a stale revision loses. */
    assert_int_equal(st->ops->cas(st, key, (const uint8_t *)"w", 1, mod - 1, NULL),
                     TR_E_CONFLICT);
    assert_int_equal(st->ops->cas(st, key, (const uint8_t *)"w", 1, 0, NULL), TR_E_CONFLICT);
    snprintf(body, sizeof body, "{\"revision\":\"%" PRId64 "\",\"physical\":true}", rev);
    assert_int_equal(admin_post(etcd.client_port, "/v3/kv/compaction", body, NULL, resp,
                                sizeof resp), 0);
    t0 = eh_mono_ms();
    assert_int_equal(st->ops->wait(st, key, 1, 5000), 1);
    assert_true(eh_mono_ms() - t0 < 4000);
    assert_int_equal(st->ops->wait(st, key, rev, 300), 0);
    st->ops->free(st);
}

/* A file source driven by the step function (no thread). */
static void test_file_step(void **state)
{
    struct writer w;
    tr_ring *ring;
    tr_sync *s;
    char url[128], wfp[TR_FINGERPRINT_HEX + 1], fp[TR_FINGERPRINT_HEX + 1];
    size_t len;
    uint32_t next = 0;
    char *text;
    (void)state;

    writer_init(&w, CLUSTER);
    free(writer_next(&w, &len, NULL));
    snprintf(url, sizeof url, "file://%s", w.path);
    assert_int_equal(tr_ring_new(&ring, tu_backend()), 0);
    assert_int_equal(tr_sync_new(&s, ring, url), 0);
    assert_int_equal(tr_sync_set_intervals(s, 1000, 10, 1000), 0);
    assert_int_equal(tr_sync_step(s, &next), 0);
    assert_true(next > 0 && next <= 1000);
    assert_int_equal(status_of(s).ready, 1);
    /* A newer file is picked up by the next step. */
    text = writer_next(&w, &len, NULL);
    free(text);
    fp_of(w.ring, wfp);
    assert_int_equal(tr_sync_step(s, &next), 0);
    fp_of(ring, fp);
    assert_string_equal(fp, wfp);
    tr_sync_free(s);
    tr_ring_free(ring);
    writer_free(&w);
}

/* etcd with authentication on (a second member, so the others need none):
 * a follower with the right password follows; one with a wrong password
 * is refused by etcd, counts store errors and is not ready; neither
 * password reaches a log line. */
static void test_password_auth(void **state)
{
    struct etcd_proc secured;
    struct writer w;
    tr_ring *ring, *bad_ring;
    tr_sync *s, *bad, *pub;
    char url[128], resp[2048], wfp[TR_FINGERPRINT_HEX + 1];
    char *pw, *wrong, *text;
    size_t len;
    tr_sync_status st;
    (void)state;

    memset(&secured, 0, sizeof secured);
    assert_int_equal(eh_start(&secured), 0);
    assert_int_equal(admin_post(secured.client_port, "/v3/auth/role/add",
                                "{\"name\":\"root\"}", NULL, resp, sizeof resp), 0);
    assert_int_equal(admin_post(secured.client_port, "/v3/auth/user/add",
                                "{\"name\":\"root\",\"password\":\"Pa55-root-secret\"}", NULL,
                                resp, sizeof resp), 0);
    assert_int_equal(admin_post(secured.client_port, "/v3/auth/user/grant",
                                "{\"user\":\"root\",\"role\":\"root\"}", NULL, resp, sizeof resp),
                     0);
    assert_int_equal(admin_post(secured.client_port, "/v3/auth/enable", "{}", NULL, resp,
                                sizeof resp), 0);
    /* Now anonymous requests are refused. */
    assert_int_equal(admin_post(secured.client_port, "/v3/kv/range", "{\"key\":\"YQ==\"}", NULL,
                                resp, sizeof resp), -1);

    pw = tu_write_temp("Pa55-root-secret\n", 17);
    wrong = tu_write_temp("Wr0ng-guess-secret\n", 19);
    eh_url(&secured, "/t8", url, sizeof url);
    writer_init(&w, CLUSTER);
    assert_int_equal(tr_sync_new(&pub, w.ring, url), 0);
    assert_int_equal(tr_sync_set_log(pub, eh_log, NULL), 0);
    assert_int_equal(tr_sync_set_kek_file(pub, kek1), 0);
    assert_int_equal(tr_sync_set_password_file(pub, "root", pw), 0);
    text = writer_next(&w, &len, NULL);
    assert_int_equal(tr_sync_publish(pub, text, len), 0);
    free(text);
    fp_of(w.ring, wfp);

    assert_int_equal(tr_ring_new(&ring, tu_backend()), 0);
    assert_int_equal(tr_ring_set_cluster(ring, CLUSTER), 0);
    assert_int_equal(tr_sync_new(&s, ring, url), 0);
    assert_int_equal(tr_sync_set_log(s, eh_log, NULL), 0);
    assert_int_equal(tr_sync_set_kek_file(s, kek1), 0);
    assert_int_equal(tr_sync_set_password_file(s, "root", pw), 0);
    assert_int_equal(tr_sync_set_intervals(s, 400, 3, 1000), 0);
    assert_int_equal(tr_sync_start(s), 0);
    {
        struct node one = {ring, s};
        wait_fp(&one, 1, wfp);
    }
    WAIT_FOR(status_of(s).heartbeats >= 1);

    assert_int_equal(tr_ring_new(&bad_ring, tu_backend()), 0);
    assert_int_equal(tr_ring_set_cluster(bad_ring, CLUSTER), 0);
    assert_int_equal(tr_sync_new(&bad, bad_ring, url), 0);
    assert_int_equal(tr_sync_set_log(bad, eh_log, NULL), 0);
    assert_int_equal(tr_sync_set_kek_file(bad, kek1), 0);
    assert_int_equal(tr_sync_set_password_file(bad, "root", wrong), 0);
    assert_int_equal(tr_sync_step(bad, NULL), TR_E_STORE);
    st = status_of(bad);
    assert_int_equal(st.ready, 0);
    assert_int_equal(st.state, TR_SYNC_UNREACHABLE);
    assert_true(st.store_errors >= 1);

    tr_sync_free(bad);
    tr_ring_free(bad_ring);
    tr_sync_free(s);
    tr_ring_free(ring);
    tr_sync_free(pub);
    writer_free(&w);
    eh_destroy(&secured);
    unlink(pw);
    unlink(wrong);
    free(pw);
    free(wrong);
    assert_int_equal(eh_log_count("Pa55-root-secret"), 0);
    assert_int_equal(eh_log_count("Wr0ng-guess-secret"), 0);
}

/* Nothing secret in any line logged during the whole run. */
static void test_logs_hold_no_secrets(void **state)
{
    (void)state;
    assert_true(eh_log_count("\n") > 0);
    assert_int_equal(eh_log_count(KEK1_HEX), 0);
    assert_int_equal(eh_log_count(KEK1B_HEX), 0);
    assert_int_equal(eh_log_count("11111111"), 0);
    assert_true(n_secrets > 10);
    for (int i = 0; i < n_secrets; i++) {
        assert_int_equal(strlen(secrets[i]), 128);
        assert_int_equal(eh_log_count(secrets[i]), 0);
        /* Not even a 16-byte piece of the HMAC or the AES half. */
        for (int half = 0; half < 2; half++) {
            char piece[33];
            memcpy(piece, secrets[i] + 64 * half, 32);
            piece[32] = '\0';
            assert_int_equal(eh_log_count(piece), 0);
        }
    }
}

static int setup(void **state)
{
    (void)state;
    kek1 = write_kek("k1", KEK1_HEX);
    kek1_other = write_kek("k1", KEK1B_HEX);
    kek2 = write_kek("k2", KEK2_HEX);
    return eh_start(&etcd);
}

static int teardown(void **state)
{
    (void)state;
    eh_destroy(&etcd);
    unlink(kek1);
    unlink(kek1_other);
    unlink(kek2);
    free(kek1);
    free(kek1_other);
    free(kek2);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls_and_settings),
        cmocka_unit_test(test_publish_and_apply),
        cmocka_unit_test(test_three_converge),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_etcd_restart),
        cmocka_unit_test(test_start_while_down),
        cmocka_unit_test(test_step_and_sync_age),
        cmocka_unit_test(test_file_source),
        cmocka_unit_test(test_file_step),
        cmocka_unit_test(test_compacted_watch),
        cmocka_unit_test(test_password_auth),
        cmocka_unit_test(test_logs_hold_no_secrets),
    };
    if (!eh_available()) {
        printf("1..0 # SKIP no etcd binary on PATH (apt-get install etcd-server)\n");
        return 0;
    }
    /* TR_TEST_FILTER=test_refusals runs one test (debugging). */
    if (getenv("TR_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("TR_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
