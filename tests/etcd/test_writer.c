/*
 * The writer role against a real etcd, on a compressed fake clock: three
 * serving nodes and two writers (tr_sync_step, one process), over many
 * periods. What a fleet depends on: every ticket any node seals opens on
 * every other node at every moment (no refusal caused by rotation), one key
 * per period, keys dated only once every live node holds them, a frozen
 * node forcing an activation that names it, and an emergency revocation
 * reaching every node and replaced at once.
 *
 * The clock is shared and only moves between rounds; etcd's leases run on
 * real time, which this test never waits for (heartbeats last 3 s, and the
 * whole run takes a few seconds).
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

#include <ticketring/etcd.h>

#include "etcd_harness.h"
#include "seal.h"

#define CLUSTER "c1"
#define KEK_HEX "4444444444444444444444444444444444444444444444444444444444444444"
#define N_NODES 3
#define N_WRITERS 2
#define PERIOD 10
#define LEAD 2
#define MAX_WAIT 6
#define LIFETIME 20
#define SKEW 2

static struct etcd_proc etcd;
static char *kek;
static int64_t clock_ms; /* shared by every ring; moved by the test only */
static int prefix_no;

struct member {
    tr_ring *ring;
    tr_sync *sync;
    int frozen; /* skipped by step_all */
};

struct fleet {
    struct member node[N_NODES], writer[N_WRITERS];
};

static void member_init(struct member *m, const char *prefix, const char *id, uint32_t roles)
{
    char url[160];

    m->ring = tu_ring(&clock_ms);
    m->frozen = 0;
    assert_int_equal(tr_ring_set_cluster(m->ring, CLUSTER), 0);
    assert_int_equal(tr_ring_set_lifetime(m->ring, LIFETIME), 0);
    assert_int_equal(tr_ring_set_skew(m->ring, SKEW), 0);
    eh_url(&etcd, prefix, url, sizeof url);
    assert_int_equal(tr_sync_new(&m->sync, m->ring, url), 0);
    assert_int_equal(tr_sync_set_log(m->sync, eh_log, NULL), 0);
    assert_int_equal(tr_sync_set_node_id(m->sync, id), 0);
    assert_int_equal(tr_sync_set_kek_file(m->sync, kek), 0);
    assert_int_equal(tr_sync_set_intervals(m->sync, 1000, 3, 2000), 0);
    assert_int_equal(tr_sync_set_role(m->sync, roles), 0);
    assert_int_equal(tr_sync_set_schedule(m->sync, PERIOD, LEAD, MAX_WAIT, LIFETIME, SKEW, 1), 0);
}

static void fleet_init(struct fleet *f)
{
    char prefix[32], id[16];

    snprintf(prefix, sizeof prefix, "/w%d", ++prefix_no);
    for (int i = 0; i < N_NODES; i++) {
        snprintf(id, sizeof id, "node%d", i + 1);
        member_init(&f->node[i], prefix, id, TR_SYNC_ROLE_READER);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        snprintf(id, sizeof id, "writer%d", i + 1);
        member_init(&f->writer[i], prefix, id, TR_SYNC_ROLE_WRITER);
    }
}

/* A new fleet under its own prefix, the clock at now, the log empty. */
static void fleet_start(struct fleet *f)
{
    eh_log_reset();
    clock_ms = (int64_t)time(NULL) * 1000;
    fleet_init(f);
}

static void fleet_free(struct fleet *f)
{
    for (int i = 0; i < N_NODES; i++) {
        tr_sync_free(f->node[i].sync);
        tr_ring_free(f->node[i].ring);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        tr_sync_free(f->writer[i].sync);
        tr_ring_free(f->writer[i].ring);
    }
}

/* One round: the writers plan (alternating who goes first), then the
 * nodes read, apply and acknowledge. */
static int spoiled; /* the store was spoiled on purpose: writers read a refusal */

static void step_all(struct fleet *f, int round)
{
    for (int i = 0; i < N_WRITERS; i++) {
        int rc = tr_sync_step(f->writer[(i + round) % N_WRITERS].sync, NULL);
        if (!spoiled || (rc != TR_E_SEALED && rc != TR_E_KEYFILE_CLUSTER &&
                         rc != TR_E_KEYFILE_ROLLBACK))
            assert_int_equal(rc, 0);
    }
    for (int i = 0; i < N_NODES; i++)
        if (!f->node[i].frozen)
            assert_int_equal(tr_sync_step(f->node[i].sync, NULL), 0);
}

static tr_sync_status status_of(tr_sync *s)
{
    tr_sync_status st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tr_sync_status_get(s, &st), 0);
    return st;
}

/* A ticket sealed now on `from`, opened on `to`: 0 or the refusal. */
static int cross(tr_ring *from, tr_ring *to)
{
    static const uint8_t state[] = "session state";
    uint8_t ticket[512], out[64];
    size_t tl = 0, ol = 0;
    int rc = tr_ticket_seal(from, state, sizeof state, NULL, 0, NULL, 0, NULL, 0, 0, ticket,
                            sizeof ticket, &tl, NULL);
    if (rc != 0)
        return rc;
    return tr_ticket_open(to, ticket, tl, NULL, 0, NULL, 0, NULL, 0, out, sizeof out, &ol, NULL,
                          NULL, NULL, NULL);
}

/* Every live node seals, and every other live node opens what it sealed. */
static void assert_all_cross(struct fleet *f)
{
    for (int i = 0; i < N_NODES; i++) {
        if (f->node[i].frozen)
            continue;
        for (int j = 0; j < N_NODES; j++)
            if (!f->node[j].frozen && cross(f->node[i].ring, f->node[j].ring) != 0)
                fail_msg("a ticket of node%d does not open on node%d at %" PRId64 " (%s)", i + 1,
                         j + 1, clock_ms / 1000, tr_strerror(cross(f->node[i].ring,
                                                                   f->node[j].ring)));
    }
}

/* The encrypt key of node i, as 32 hex digits. */
static void encrypt_key(struct member *m, char hex[33])
{
    uint8_t name[TR_KEY_NAME_BYTES];
    assert_int_equal(tr_ring_encrypt_key_name(m->ring, name), 0);
    for (int i = 0; i < TR_KEY_NAME_BYTES; i++)
        snprintf(hex + 2 * i, 3, "%02x", name[i]);
}

/* Many periods, both writers running: one key per period, every node always
 * opening every node's tickets, nothing forced, and the encrypt key moving
 * on exactly once per period. */
static void test_rotation_over_many_periods(void **state)
{
    struct fleet f;
    char last[33] = "", now_key[33];
    int switches = 0, periods = 30;
    uint64_t writes = 0, forced = 0;
    (void)state;

    fleet_start(&f);
    step_all(&f, 0); /* bootstrap: the first key, active at once */
    step_all(&f, 1);
    for (int t = 0; t < periods * PERIOD; t++) {
        clock_ms += 1000;
        step_all(&f, t);
        assert_all_cross(&f);
        encrypt_key(&f.node[0], now_key);
        if (strcmp(now_key, last) != 0) {
            switches++;
            strcpy(last, now_key);
        }
        for (int i = 1; i < N_NODES; i++) {
            char other[33];
            encrypt_key(&f.node[i], other);
            /* All on one clock: they switch together. */
            assert_string_equal(other, now_key);
        }
    }
    for (int i = 0; i < N_WRITERS; i++) {
        tr_sync_status st = status_of(f.writer[i].sync);
        writes += st.writes;
        forced += st.forced;
        assert_int_equal(st.write_refused, 0);
    }
    printf("# %d periods: %d encrypt-key switches, %" PRIu64 " writes, %d keys added, "
           "%" PRIu64 " forced, %d lost races\n", periods, switches, writes,
           eh_log_count("added key"), forced, eh_log_count("lost the race"));
    if (getenv("TR_TEST_VERBOSE") != NULL)
        eh_log_print(stdout);
    /* One switch per period (the first key counts once). */
    assert_in_range(switches, periods - 1, periods + 1);
    assert_int_equal(forced, 0);
    /* Each period: add, date, retire (often in one write). */
    assert_in_range(writes, (uint64_t)periods, (uint64_t)periods * 3 + 3);
    assert_int_equal(eh_log_count("FORCED"), 0);
    /* The first key is added active; the newest may still wait. */
    assert_in_range(eh_log_count("added key") - eh_log_count("activated key"), 1, 2);
    /* Keys held stay bounded: (lifetime + skew) / period + 3. */
    {
        uint32_t n = 0;
        assert_int_equal(tr_ring_key_count(f.node[0].ring, &n), 0);
        assert_true(n <= (LIFETIME + SKEW) / PERIOD + 3);
    }
    fleet_free(&f);
}

/* A node frozen while a key waits for it: the writers date it after
 * max_wait, count a forced activation and name the node; the node catches
 * up in one round and opens the others' tickets again. */
static void test_frozen_node_forces_activation(void **state)
{
    struct fleet f;
    char before[33], after[33], desc[4096];
    size_t dl = 0;
    uint64_t forced = 0;
    int t;
    (void)state;

    fleet_start(&f);
    step_all(&f, 0);
    step_all(&f, 1);
    /* Freeze node3 right after a key was added pending. */
    for (t = 0; t < 5 * PERIOD && eh_log_count("pending") == 0; t++) {
        clock_ms += 1000;
        step_all(&f, t);
    }
    assert_true(eh_log_count("pending") > 0);
    /* Let the first key's period pass: the pending one then waits for node3. */
    encrypt_key(&f.node[0], before);
    f.node[2].frozen = 1;
    for (t = 0; t < 3 * PERIOD && eh_log_count("FORCED") == 0; t++) {
        clock_ms += 1000;
        step_all(&f, t);
        assert_all_cross(&f); /* node1 and node2 keep opening each other's */
    }
    assert_int_equal(eh_log_count("FORCED: 1 lagging: node3"), 1);
    for (int i = 0; i < N_WRITERS; i++)
        forced += status_of(f.writer[i].sync).forced;
    assert_int_equal(forced, 1);
    /* Before catching up, node3 still seals with the old key, which the
     * others hold: its tickets still open everywhere. */
    assert_int_equal(cross(f.node[2].ring, f.node[0].ring), 0);
    encrypt_key(&f.node[0], after);
    assert_string_not_equal(before, after);
    f.node[2].frozen = 0;
    step_all(&f, t);
    assert_all_cross(&f);
    /* The stored schedule says so too. */
    assert_int_equal(tr_sync_describe(f.writer[0].sync, desc, sizeof desc, &dl), 0);
    assert_non_null(strstr(desc, "forced activations 1"));
    assert_non_null(strstr(desc, "node3"));
    fleet_free(&f);
}

/* A leaked encrypt key revoked through the store: every node stops opening
 * its tickets, and a new key encrypts within a lead, not a period. */
static void test_revoke_through_store(void **state)
{
    struct fleet f;
    char leaked_hex[33], now_key[33];
    uint8_t leaked[TR_KEY_NAME_BYTES], ticket[512], out[64];
    size_t tl = 0, ol = 0;
    static const uint8_t st8[] = "state";
    int t;
    (void)state;

    fleet_start(&f);
    for (t = 0; t < PERIOD + 3; t++) {
        clock_ms += 1000;
        step_all(&f, t);
    }
    assert_int_equal(tr_ring_encrypt_key_name(f.node[0].ring, leaked), 0);
    encrypt_key(&f.node[0], leaked_hex);
    assert_int_equal(tr_ticket_seal(f.node[0].ring, st8, sizeof st8, NULL, 0, NULL, 0, NULL, 0,
                                    0, ticket, sizeof ticket, &tl, NULL), 0);
    assert_int_equal(tr_sync_revoke(f.writer[1].sync, leaked), 0);
    /* Revoking twice changes nothing; an unknown name is refused. */
    assert_int_equal(tr_sync_revoke(f.writer[0].sync, leaked), 0);
    {
        uint8_t none[TR_KEY_NAME_BYTES] = {1};
        assert_int_equal(tr_sync_revoke(f.writer[0].sync, none), TR_E_KEY_NOT_FOUND);
    }
    for (int i = 0; i < LEAD + 3; i++) {
        clock_ms += 1000;
        step_all(&f, t + i);
    }
    for (int i = 0; i < N_NODES; i++) {
        assert_int_equal(tr_ticket_open(f.node[i].ring, ticket, tl, NULL, 0, NULL, 0, NULL, 0,
                                        out, sizeof out, &ol, NULL, NULL, NULL, NULL),
                         TR_E_TICKET_UNKNOWN_KEY);
        encrypt_key(&f.node[i], now_key);
        assert_string_not_equal(now_key, leaked_hex);
    }
    assert_all_cross(&f);
    assert_int_equal(eh_log_count("revoked key"), 1);
    fleet_free(&f);
}

static uint64_t serial_of(tr_ring *r)
{
    uint64_t v = 0;
    assert_int_equal(tr_ring_serial(r, &v), 0);
    return v;
}

/* The store spoiled four ways (garbage, tampered, another cluster's, an
 * older document): every node refuses it and keeps its keys, counted by
 * reason, and a writer writes the schedule again as the next serial. */
static void test_writer_repairs_spoiled_store(void **state)
{
    struct fleet f;
    char key[96], fp[TR_FINGERPRINT_HEX + 1], fp2[TR_FINGERPRINT_HEX + 1];
    uint8_t *old_doc, *doc;
    size_t old_len = 0, len = 0;
    uint64_t repairs = 0;
    struct tre_kek k;
    int t = 0;
    (void)state;

    fleet_start(&f);
    snprintf(key, sizeof key, "/w%d/" CLUSTER "/keyset", prefix_no);
    for (; t < 3; t++) {
        clock_ms += 1000;
        step_all(&f, t);
    }
    old_doc = eh_raw_get(&etcd, key, &old_len);
    assert_non_null(old_doc); /* to replay later */
    for (; t < 2 * PERIOD; t++) {
        clock_ms += 1000;
        step_all(&f, t);
    }
    for (int round = 0; round < 4; round++) {
        uint64_t before = serial_of(f.node[0].ring);
        tr_ring_fingerprint(f.node[0].ring, fp, sizeof fp);
        if (round == 0) {
            assert_int_equal(eh_raw_put(&etcd, key, (const uint8_t *)"garbage", 7), 0);
        } else if (round == 1) {
            doc = eh_raw_get(&etcd, key, &len);
            assert_non_null(doc);
            doc[len - 20] ^= 1; /* in the ciphertext */
            assert_int_equal(eh_raw_put(&etcd, key, doc, len), 0);
            free(doc);
        } else if (round == 2) {
            assert_int_equal(tre_kek_read(kek, &k), 0);
            assert_int_equal(tre_seal(&k, "other", before + 10, "x", 1, &doc, &len), 0);
            assert_int_equal(eh_raw_put(&etcd, key, doc, len), 0);
            free(doc);
        } else {
            assert_int_equal(eh_raw_put(&etcd, key, old_doc, old_len), 0);
        }
        /* Nodes first: they see the spoiled document, refuse it, keep
         * their keys. */
        for (int i = 0; i < N_NODES; i++)
            assert_true(tr_sync_step(f.node[i].sync, NULL) < 0);
        tr_ring_fingerprint(f.node[0].ring, fp2, sizeof fp2);
        assert_string_equal(fp, fp2);
        assert_int_equal(serial_of(f.node[0].ring), before);
        assert_all_cross(&f);
        spoiled = 1;
        step_all(&f, t++); /* a writer repairs; the nodes apply it */
        spoiled = 0;
        assert_true(serial_of(f.node[0].ring) > before);
        assert_all_cross(&f);
    }
    for (int i = 0; i < N_WRITERS; i++)
        repairs += status_of(f.writer[i].sync).repairs;
    assert_int_equal(repairs, 4);
    {
        tr_sync_status st = status_of(f.node[1].sync);
        assert_int_equal(st.refused_integrity, 2); /* garbage, tampered */
        assert_int_equal(st.refused_cluster, 1);
        assert_int_equal(st.refused_rollback, 1);
    }
    if (getenv("TR_TEST_VERBOSE") != NULL)
        eh_log_print(stdout);
    free(old_doc);
    fleet_free(&f);
}

/* The same fleet on threads and the real clock (ThreadSanitizer runs this
 * in suite 'concurrency'): two writers racing for every write (one of them
 * also a serving node), readers following, status and metrics read from
 * this thread meanwhile. Asserts
 * invariants only: the deadline is for etcd, not a measurement. */
static void test_threaded_writers(void **state)
{
    struct member node[2], writer[2];
    char url[160], id[16], first[33], buf[8192];
    uint8_t name[TR_KEY_NAME_BYTES];
    size_t len;
    int switched = 0;
    long long t0;
    uint64_t writes = 0, forced = 0;
    (void)state;

    eh_url(&etcd, "/threads", url, sizeof url);
    for (int i = 0; i < 4; i++) {
        struct member *m = i < 2 ? &node[i] : &writer[i - 2];
        assert_int_equal(tr_ring_new(&m->ring, tu_backend()), 0);
        assert_int_equal(tr_ring_set_cluster(m->ring, CLUSTER), 0);
        assert_int_equal(tr_ring_set_lifetime(m->ring, 4), 0);
        assert_int_equal(tr_ring_set_skew(m->ring, 1), 0);
        assert_int_equal(tr_sync_new(&m->sync, m->ring, url), 0);
        snprintf(id, sizeof id, "%s%d", i < 2 ? "node" : "writer", i % 2 + 1);
        assert_int_equal(tr_sync_set_node_id(m->sync, id), 0);
        assert_int_equal(tr_sync_set_kek_file(m->sync, kek), 0);
        assert_int_equal(tr_sync_set_log(m->sync, eh_log, NULL), 0);
        assert_int_equal(tr_sync_set_intervals(m->sync, 200, 3, 2000), 0);
        /* writer1 is a serving node with the writer role too: it also
         * heartbeats, and must acknowledge its own writes. */
        assert_int_equal(tr_sync_set_role(m->sync, i < 2  ? TR_SYNC_ROLE_READER
                                                   : i == 2 ? TR_SYNC_ROLE_READER |
                                                                  TR_SYNC_ROLE_WRITER
                                                            : TR_SYNC_ROLE_WRITER),
                         0);
        assert_int_equal(tr_sync_set_schedule(m->sync, 1, 0, 3, 4, 1, 1), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(tr_sync_start(writer[i].sync), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(tr_sync_start(node[i].sync), 0);
    t0 = eh_mono_ms();
    while (tr_ring_encrypt_key_name(node[0].ring, name) != 0 && eh_mono_ms() - t0 < 15000)
        eh_nap(20);
    encrypt_key(&node[0], first);
    /* Until the encrypt key moved on three times (a second each). */
    while (switched < 3 && eh_mono_ms() - t0 < 20000) {
        char now_key[33];
        eh_nap(20);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(tr_sync_metrics(writer[i].sync, buf, sizeof buf, &len), 0);
            assert_int_equal(tr_sync_metrics(node[i].sync, buf, sizeof buf, &len), 0);
        }
        if (tr_ring_encrypt_key_name(node[0].ring, name) == 0) {
            encrypt_key(&node[0], now_key);
            if (strcmp(now_key, first) != 0) {
                switched++;
                strcpy(first, now_key);
            }
        }
    }
    assert_int_equal(switched, 3);
    for (int i = 0; i < 2; i++) {
        tr_sync_status st = status_of(writer[i].sync);
        writes += st.writes;
        forced += st.forced;
    }
    for (int i = 0; i < 2; i++) {
        tr_sync_free(writer[i].sync);
        tr_sync_free(node[i].sync);
    }
    assert_true(writes >= 4);
    assert_int_equal(forced, 0);
    /* Stopped: both nodes hold the last document, and each opens the
     * other's tickets. */
    assert_int_equal(cross(node[0].ring, node[1].ring), 0);
    assert_int_equal(cross(node[1].ring, node[0].ring), 0);
    assert_int_equal(cross(writer[0].ring, node[0].ring), 0);
    for (int i = 0; i < 2; i++) {
        tr_ring_free(writer[i].ring);
        tr_ring_free(node[i].ring);
    }
}

static int count_node(void *arg, const char *id, const char *fp, uint64_t serial, int64_t age,
                      int64_t written)
{
    (void)id;
    (void)fp;
    (void)serial;
    (void)age;
    (void)written;
    ++*(int *)arg;
    return 0;
}

/* A node that stops cleanly withdraws its heartbeat at once: writers no
 * longer wait for it (nor force an activation naming it) for a TTL. */
static void test_leaving_node_withdraws_heartbeat(void **state)
{
    struct fleet f;
    int n = 0;
    (void)state;

    fleet_start(&f);
    step_all(&f, 0);
    step_all(&f, 1);
    assert_int_equal(tr_sync_nodes(f.writer[0].sync, count_node, &n), 0);
    assert_int_equal(n, N_NODES);
    tr_sync_free(f.node[2].sync);
    f.node[2].sync = NULL;
    f.node[2].frozen = 1; /* gone: step_all skips it */
    n = 0;
    assert_int_equal(tr_sync_nodes(f.writer[0].sync, count_node, &n), 0);
    assert_int_equal(n, N_NODES - 1);
    fleet_free(&f);
}

/* A reader cannot be given the writer's settings in a way that breaks it. */
static void test_settings(void **state)
{
    tr_ring *r = tu_ring(&clock_ms);
    tr_sync *s = NULL;
    char url[160];
    (void)state;

    eh_url(&etcd, "/settings", url, sizeof url);
    assert_int_equal(tr_sync_new(&s, r, url), 0);
    assert_int_equal(tr_sync_set_role(s, 0), TR_E_INVAL);
    assert_int_equal(tr_sync_set_role(s, 4), TR_E_INVAL);
    assert_int_equal(tr_sync_set_schedule(s, 0, 1, 3, 10, 1, 1), TR_E_INVAL);
    assert_int_equal(tr_sync_set_schedule(s, 10, 5, 4, 10, 1, 1), TR_E_INVAL); /* wait < lead */
    assert_int_equal(tr_sync_set_schedule(s, 10, 1, 3, 10, 1, 0), TR_E_INVAL);
    assert_int_equal(tr_sync_set_schedule(s, 10, 1, 3, 10, 1, 9), TR_E_INVAL);
    assert_int_equal(tr_sync_set_schedule(s, 10, 1, 3, 10, 1, 1), 0);
    assert_int_equal(tr_sync_set_role(s, TR_SYNC_ROLE_READER | TR_SYNC_ROLE_WRITER), 0);
    assert_int_equal(tr_sync_revoke(s, NULL), TR_E_INVAL);
    assert_int_equal(tr_sync_describe(s, url, sizeof url, NULL), TR_E_INVAL); /* no KEK */
    tr_sync_free(s);
    assert_int_equal(tr_sync_new(&s, r, "file:/nonexistent"), 0);
    assert_int_equal(tr_sync_set_role(s, TR_SYNC_ROLE_WRITER), TR_E_INVAL);
    tr_sync_free(s);
    tr_ring_free(r);
}

static int setup(void **state)
{
    char line[128];
    (void)state;
    snprintf(line, sizeof line, "kw %s\n", KEK_HEX);
    kek = tu_write_temp(line, strlen(line));
    if (chmod(kek, 0600) != 0)
        return -1;
    return eh_start(&etcd);
}

static int teardown(void **state)
{
    (void)state;
    eh_destroy(&etcd);
    unlink(kek);
    free(kek);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_rotation_over_many_periods),
        cmocka_unit_test(test_frozen_node_forces_activation),
        cmocka_unit_test(test_revoke_through_store),
        cmocka_unit_test(test_writer_repairs_spoiled_store),
        cmocka_unit_test(test_threaded_writers),
        cmocka_unit_test(test_leaving_node_withdraws_heartbeat),
    };
    if (!eh_available()) {
        printf("1..0 # SKIP no etcd binary on PATH (apt-get install etcd-server)\n");
        return 0;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}
