/*
 * Allocation failures (issue 7; STYLE 19): every public operation that
 * calls the ring's or the replay cache's allocator runs failing its 1st,
 * 2nd, ... allocation, until a run fails none. Each failure must end in a
 * clean TR_E_NOMEM, leave no block behind (the recording allocator's live
 * count; LeakSanitizer at exit) and leave the ring as it was: the same key
 * set, serial and cluster, a ticket sealed before still opens, a new one
 * seals and opens, and the same call then succeeds. The operations
 * documented to allocate nothing are held to zero calls.
 *
 * Each operation prints how many allocations it makes and their sizes:
 * that names the sites (docs/ABI.md, "Allocation failures and secrets").
 */
#define _GNU_SOURCE

#include "test_util.h"

#include "foreign.h" /* tri_haproxy_format(): a HAProxy file with chosen keys */
#include "keyfile.h" /* tri_keyfile_format(): key files with chosen keys */
#include "replay.h"  /* TRI_REPLAY_VALUE_MAX */
#include "ring.h"    /* the current key set (resalt points); tri_crypto_has_tls() */
#include "watch.h"   /* tri_watch_set_inotify() */

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T0 1767225600
#define SNI "alloc.example"
#define STATE "session state that must survive every failure"
#define MAX_FAILS 64 /* far more allocations than any operation makes */

/* ---- files shared by every run ------------------------------------------ */

static struct {
    char dir[64];
    char v1[PATH_MAX];      /* serial 10: K1 (encrypts), K2 (later) */
    char v2[PATH_MAX];      /* serial 11: K1, K2, K3 */
    char bad[PATH_MAX];     /* v1 with a wrong checksum */
    char nginx[PATH_MAX];   /* K4, raw */
    char haproxy[PATH_MAX]; /* K5, K6, K7 in HAProxy's layout */
    char haproxy_bad[PATH_MAX];
    char fp_v1[TR_FINGERPRINT_HEX + 1];
    char fp_v2[TR_FINGERPRINT_HEX + 1];
} g;

static void put_file(const char *path, const void *bytes, size_t len)
{
    char tmp[PATH_MAX + 8];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    /* A new inode, as every real key file writer makes: the watch code
     * then sees the change. */
    assert_int_equal(rename(tmp, path), 0);
}

static void key_file(const char *path, uint64_t serial, const uint8_t *seeds,
                     const int64_t *acts, uint32_t n, int corrupt)
{
    struct tri_keyfile_entry e[8];
    struct tri_keyfile_info info;
    size_t cap = tri_keyfile_size(n), len = 0;
    char *buf = malloc(cap);

    assert_non_null(buf);
    memset(&info, 0, sizeof(info));
    info.version = 2;
    info.serial = serial;
    memset(e, 0, sizeof(e));
    for (uint32_t i = 0; i < n; i++) {
        tu_key(e[i].key, seeds[i]);
        e[i].activation = acts[i];
    }
    assert_int_equal(tri_keyfile_format(tu_backend(), &info, e, n, buf, cap, &len), 0);
    if (corrupt)
        buf[len - 2] = buf[len - 2] == '0' ? '1' : '0'; /* the checksum's last digit */
    put_file(path, buf, len);
    free(buf);
}

static void fingerprint(tr_ring *r, char fp[TR_FINGERPRINT_HEX + 1])
{
    assert_int_equal(tr_ring_fingerprint(r, fp, TR_FINGERPRINT_HEX + 1), 0);
}

static void fingerprint_of_file(const char *path, char fp[TR_FINGERPRINT_HEX + 1])
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    assert_int_equal(tr_ring_load(r, path, NULL), 0);
    fingerprint(r, fp);
    tr_ring_free(r);
}

static int group_setup(void **st)
{
    static const uint8_t s1[] = {1, 2}, s2[] = {1, 2, 3};
    static const int64_t a1[] = {T0 - 100, T0 + 3600}, a2[] = {T0 - 100, T0 + 3600, T0 + 7200};
    uint8_t k[3][TR_KEY_BYTES];
    char text[TRI_HAPROXY_SLOTS * (TRI_HAPROXY_LINE_CHARS + 1)];
    size_t len;
    (void)st;

    strcpy(g.dir, "/tmp/tr-af-XXXXXX");
    assert_non_null(mkdtemp(g.dir));
    snprintf(g.v1, sizeof(g.v1), "%s/v1", g.dir);
    snprintf(g.v2, sizeof(g.v2), "%s/v2", g.dir);
    snprintf(g.bad, sizeof(g.bad), "%s/bad", g.dir);
    snprintf(g.nginx, sizeof(g.nginx), "%s/nginx.key", g.dir);
    snprintf(g.haproxy, sizeof(g.haproxy), "%s/haproxy.keys", g.dir);
    snprintf(g.haproxy_bad, sizeof(g.haproxy_bad), "%s/haproxy.bad", g.dir);
    key_file(g.v1, 10, s1, a1, 2, 0);
    key_file(g.v2, 11, s2, a2, 3, 0);
    key_file(g.bad, 10, s1, a1, 2, 1);
    tu_key(k[0], 4);
    put_file(g.nginx, k[0], TR_KEY_BYTES);
    for (int i = 0; i < 3; i++)
        tu_key(k[i], (uint8_t)(5 + i));
    len = tri_haproxy_format(k[0], k[1], k[2], text);
    put_file(g.haproxy, text, len);
    put_file(g.haproxy_bad, "not base64 at all\n", 18);
    fingerprint_of_file(g.v1, g.fp_v1);
    fingerprint_of_file(g.v2, g.fp_v2);
    /* Poll only, every hour: a watcher thread then makes no call of its
     * own while a run counts allocations. */
    tri_watch_set_inotify(0);
    return 0;
}

static int group_teardown(void **st)
{
    static const char *const names[] = {"v1", "v2", "bad", "nginx.key", "haproxy.keys",
                                        "haproxy.bad", "cur", "out", "out.0", "out.1"};
    char p[PATH_MAX];
    (void)st;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", g.dir, names[i]);
        unlink(p);
    }
    rmdir(g.dir);
    tri_watch_set_inotify(1);
    return 0;
}

/* ---- one run: a ring on the recording allocator, holding v1 ------------- */

struct fx {
    struct tu_rec a;
    int64_t clock;
    tr_ring *r;
    char cur[PATH_MAX]; /* the ring's key file: v1 until an operation changes it */
    char out[PATH_MAX]; /* where save and export write */
    int32_t changed;    /* what the last tr_ring_reload_check() said */
    /* The ring before the operation. */
    uint8_t ticket[sizeof(STATE) + TR_TICKET_OVERHEAD];
    size_t ticket_len;
    char fp[TR_FINGERPRINT_HEX + 1];
    uint32_t count;
    uint64_t serial;
    char cluster[65];
};

static int seal(tr_ring *r, uint8_t *t, size_t cap, size_t *len)
{
    return tr_ticket_seal(r, (const uint8_t *)STATE, sizeof(STATE), (const uint8_t *)SNI,
                          strlen(SNI), NULL, 0, NULL, 0, 0, t, cap, len, NULL);
}

static int open_ticket(tr_ring *r, const uint8_t *t, size_t len)
{
    uint8_t state[sizeof(STATE)];
    size_t state_len = 0;
    int rc = tr_ticket_open(r, t, len, (const uint8_t *)SNI, strlen(SNI), NULL, 0, NULL, 0,
                            state, sizeof(state), &state_len, NULL, NULL, NULL, NULL);
    if (rc == 0 && (state_len != sizeof(STATE) || memcmp(state, STATE, sizeof(STATE)) != 0))
        return -1000;
    return rc;
}

static void assert_round_trip(tr_ring *r)
{
    uint8_t t[sizeof(STATE) + TR_TICKET_OVERHEAD];
    size_t len = 0;
    assert_int_equal(seal(r, t, sizeof(t), &len), 0);
    assert_int_equal(open_ticket(r, t, len), 0);
}

static uint32_t key_count(tr_ring *r)
{
    uint32_t n = 0;
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    return n;
}

static int32_t role_of(tr_ring *r, uint8_t seed)
{
    uint8_t k[TR_KEY_BYTES], name[TR_KEY_NAME_BYTES];
    int32_t role = -1;
    tu_key(k, seed);
    for (uint32_t i = 0; tr_ring_key_info(r, i, name, NULL, &role) == 0; i++)
        if (memcmp(name, k, TR_KEY_NAME_BYTES) == 0)
            return role;
    return -1;
}

static void fx_open(struct fx *f, int empty)
{
    memset(f, 0, sizeof(*f));
    tu_rec_init(&f->a);
    f->clock = (int64_t)T0 * 1000;
    snprintf(f->cur, sizeof(f->cur), "%s/cur", g.dir);
    snprintf(f->out, sizeof(f->out), "%s/out", g.dir);
    {
        /* A fresh copy of v1 at cur, whatever the last run left there. */
        static char buf[TRI_KEYFILE_MAX_BYTES];
        int fd = open(g.v1, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        close(fd);
        assert_true(n > 0);
        put_file(f->cur, buf, (size_t)n);
    }
    assert_int_equal(tr_ring_new_with_allocator(&f->r, tu_backend(), tu_rec_malloc,
                                                tu_rec_free, &f->a), 0);
    assert_int_equal(tr_ring_set_clock(f->r, tu_clock, &f->clock), 0);
    if (!empty)
        assert_int_equal(tr_ring_load(f->r, f->cur, NULL), 0);
}

/* What the ring is now, for assert_unchanged(). */
static void fx_snapshot(struct fx *f)
{
    f->count = key_count(f->r);
    f->ticket_len = 0;
    if (f->count != 0)
        assert_int_equal(seal(f->r, f->ticket, sizeof(f->ticket), &f->ticket_len), 0);
    fingerprint(f->r, f->fp);
    assert_int_equal(tr_ring_serial(f->r, &f->serial), 0);
    assert_int_equal(tr_ring_cluster(f->r, f->cluster, sizeof(f->cluster)), 0);
}

static void assert_unchanged(struct fx *f)
{
    char fp[TR_FINGERPRINT_HEX + 1], cluster[sizeof(f->cluster)];
    uint64_t serial = 0;

    fingerprint(f->r, fp);
    assert_string_equal(fp, f->fp);
    assert_int_equal(key_count(f->r), f->count);
    assert_int_equal(tr_ring_serial(f->r, &serial), 0);
    assert_int_equal(serial, f->serial);
    assert_int_equal(tr_ring_cluster(f->r, cluster, sizeof(cluster)), 0);
    assert_string_equal(cluster, f->cluster);
    if (f->ticket_len == 0) { /* an empty ring stays empty */
        uint8_t t[sizeof(STATE) + TR_TICKET_OVERHEAD];
        size_t len = 0;
        assert_int_equal(seal(f->r, t, sizeof(t), &len), TR_E_NO_ENCRYPT_KEY);
        return;
    }
    assert_int_equal(open_ticket(f->r, f->ticket, f->ticket_len), 0);
    assert_round_trip(f->r);
}

static void fx_close(struct fx *f)
{
    struct tu_rec c;
    uint64_t allocs = tu_rec_get(&f->a).allocs;

    tr_ring_free(f->r);
    c = tu_rec_get(&f->a);
    assert_int_equal(c.allocs, allocs); /* freeing allocates nothing */
    assert_int_equal(c.live, 0);
    assert_int_equal(c.allocs - c.failed, c.frees);
    tu_rec_destroy(&f->a);
}

/* ---- the operations -------------------------------------------------------- */

struct op {
    const char *name;
    void (*prepare)(struct fx *f); /* before the snapshot; not counted */
    int (*run)(struct fx *f);
    int expect; /* what run returns when no allocation fails */
    void (*check)(struct fx *f); /* after a run that returned `expect` */
    /* Blocks a failed run may leave in the ring: lazily made state that
     * the successful run keeps too (the watch state's copy of the path). */
    uint64_t may_keep;
    int empty; /* on a ring that never loaded a key file */
    /* Allocations whose failure the call absorbs (it succeeds without
     * them): the first load's record for the watcher. */
    unsigned absorbs;
};

static int run_add_key(struct fx *f)
{
    uint8_t k[TR_KEY_BYTES];
    tu_key(k, 9);
    return tr_ring_add_key(f->r, k, T0 + 10);
}

static void check_added(struct fx *f)
{
    assert_int_equal(key_count(f->r), f->count + 1);
    assert_int_equal(role_of(f->r, 9), TR_KEY_PENDING);
}

static int run_generate(struct fx *f)
{
    return tr_ring_generate_key(f->r, T0 + 20, NULL);
}

static void check_one_more(struct fx *f)
{
    assert_int_equal(key_count(f->r), f->count + 1);
}

static int run_remove(struct fx *f)
{
    uint8_t k[TR_KEY_BYTES];
    tu_key(k, 2);
    return tr_ring_remove_key(f->r, k);
}

static void check_removed(struct fx *f)
{
    assert_int_equal(key_count(f->r), f->count - 1);
    assert_int_equal(role_of(f->r, 2), -1);
}

static int run_revoke(struct fx *f)
{
    uint8_t k[TR_KEY_BYTES];
    tu_key(k, 2);
    return tr_ring_revoke_key(f->r, k);
}

static void check_revoked(struct fx *f)
{
    assert_int_equal(role_of(f->r, 2), TR_KEY_REVOKED);
}

static int run_pin(struct fx *f)
{
    return tr_ring_set_cluster(f->r, "edge");
}

static void prep_pin(struct fx *f)
{
    assert_int_equal(run_pin(f), 0);
}

static void check_cluster(struct fx *f, const char *want)
{
    char cluster[65];
    assert_int_equal(tr_ring_cluster(f->r, cluster, sizeof(cluster)), 0);
    assert_string_equal(cluster, want);
}

static void check_pinned(struct fx *f)
{
    check_cluster(f, "edge");
}

static int run_unpin(struct fx *f)
{
    return tr_ring_set_cluster(f->r, NULL);
}

static void check_unpinned(struct fx *f)
{
    check_cluster(f, "");
}

static void check_fp(struct fx *f, const char *want)
{
    char fp[TR_FINGERPRINT_HEX + 1];
    fingerprint(f->r, fp);
    assert_string_equal(fp, want);
}

static void check_v1(struct fx *f)
{
    check_fp(f, g.fp_v1);
}

static void check_v2(struct fx *f)
{
    check_fp(f, g.fp_v2);
}

static int run_load_v2(struct fx *f)
{
    uint32_t line = 99;
    int rc = tr_ring_load(f->r, g.v2, &line);
    assert_int_equal(line, 0);
    return rc;
}

static void prep_load_v2(struct fx *f)
{
    assert_int_equal(run_load_v2(f), 0);
}

static int run_load_bad(struct fx *f)
{
    return tr_ring_load(f->r, g.bad, NULL);
}

static int run_load_ex_forced(struct fx *f)
{
    return tr_ring_load_ex(f->r, f->cur, TR_LOAD_FORCE, NULL);
}

static void prep_cur_v2(struct fx *f)
{
    static char buf[TRI_KEYFILE_MAX_BYTES];
    int fd = open(g.v2, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    assert_true(n > 0);
    put_file(f->cur, buf, (size_t)n);
}

static int run_reload(struct fx *f)
{
    return tr_ring_reload(f->r, NULL);
}

static int run_reload_check(struct fx *f)
{
    f->changed = 0;
    return tr_ring_reload_check(f->r, &f->changed, NULL);
}

static void check_reloaded(struct fx *f)
{
    assert_int_equal(f->changed, 1);
    check_v2(f);
}

static void prep_check_then_v2(struct fx *f)
{
    assert_int_equal(run_reload_check(f), 0);
    assert_int_equal(f->changed, 0);
    prep_cur_v2(f);
}

static int run_save(struct fx *f)
{
    return tr_ring_save(f->r, f->out);
}

static void check_saved(struct fx *f)
{
    char fp[TR_FINGERPRINT_HEX + 1], want[TR_FINGERPRINT_HEX + 1];
    fingerprint(f->r, want);
    fingerprint_of_file(f->out, fp);
    assert_string_equal(fp, want);
}

/* The key tr_ring_activate_key() dates: added pending beforehand. */
static void prep_pending(struct fx *f)
{
    uint8_t k[TR_KEY_BYTES];
    tu_key(k, 9);
    assert_int_equal(tr_ring_add_key(f->r, k, TR_ACTIVATION_PENDING), 0);
}

static int run_activate(struct fx *f)
{
    uint8_t k[TR_KEY_BYTES];
    tu_key(k, 9);
    return tr_ring_activate_key(f->r, k, T0 + 7200);
}

static void check_activated(struct fx *f)
{
    uint8_t k[TR_KEY_BYTES], name[TR_KEY_NAME_BYTES];
    int64_t act = 0;
    int found = 0;

    tu_key(k, 9);
    for (uint32_t i = 0; tr_ring_key_info(f->r, i, name, &act, NULL) == 0; i++)
        if (memcmp(name, k, TR_KEY_NAME_BYTES) == 0) {
            assert_true(act == T0 + 7200);
            found = 1;
        }
    assert_true(found);
}

static char saved_text[TRI_KEYFILE_MAX_BYTES];
static size_t saved_len;

static int run_save_buffer(struct fx *f)
{
    saved_len = 0;
    return tr_ring_save_buffer(f->r, saved_text, sizeof(saved_text), &saved_len);
}

static void check_saved_buffer(struct fx *f)
{
    char fp[TR_FINGERPRINT_HEX + 1], want[TR_FINGERPRINT_HEX + 1];
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint64_t serial = 0;

    assert_int_equal(tr_ring_load_buffer(r, saved_text, saved_len, 0, NULL), 0);
    fingerprint(r, fp);
    fingerprint(f->r, want);
    assert_string_equal(fp, want);
    assert_int_equal(tr_ring_serial(f->r, &serial), 0);
    assert_int_equal(serial, f->serial + 1);
    tr_ring_free(r);
}

static int run_import_nginx(struct fx *f)
{
    return tr_ring_import(f->r, TR_FORMAT_NGINX, g.nginx, T0 + 50, NULL);
}

static void check_imported_nginx(struct fx *f)
{
    assert_int_equal(key_count(f->r), f->count + 1);
    assert_int_equal(role_of(f->r, 4), TR_KEY_PENDING);
}

static int run_import_haproxy(struct fx *f)
{
    return tr_ring_import(f->r, TR_FORMAT_HAPROXY, g.haproxy, T0 + 50, NULL);
}

static void check_imported_haproxy(struct fx *f)
{
    assert_int_equal(key_count(f->r), f->count + 3);
}

static int run_import_bad(struct fx *f)
{
    return tr_ring_import(f->r, TR_FORMAT_HAPROXY, g.haproxy_bad, T0 + 50, NULL);
}

static int run_export_nginx(struct fx *f)
{
    uint32_t n = 0;
    int rc = tr_ring_export(f->r, TR_FORMAT_NGINX, f->out, &n);
    assert_int_equal(n, rc == 0 ? 2 : 0); /* K1 encrypts, K2 is next */
    return rc;
}

static int run_export_haproxy(struct fx *f)
{
    uint32_t n = 0;
    int rc = tr_ring_export(f->r, TR_FORMAT_HAPROXY, f->out, &n);
    assert_int_equal(n, rc == 0 ? 2 : 0);
    return rc;
}

static int run_watch(struct fx *f)
{
    return tr_ring_watch(f->r, 3600);
}

static void check_watching(struct fx *f)
{
    /* A second watch is refused only while the first runs. */
    assert_int_equal(tr_ring_watch(f->r, 3600), TR_E_INVAL);
    assert_int_equal(tr_ring_unwatch(f->r), 0);
}

static void prep_check(struct fx *f)
{
    assert_int_equal(run_reload_check(f), 0);
}

static void prep_watch(struct fx *f)
{
    assert_int_equal(run_watch(f), 0);
}

static int run_unwatch(struct fx *f)
{
    return tr_ring_unwatch(f->r);
}

static int run_metrics(struct fx *f)
{
    static char text[16384];
    size_t len = 0;
    int rc = tr_ring_metrics(f->r, text, sizeof(text), &len);
    assert_true(rc != 0 || (len > 0 && strstr(text, f->fp) != NULL));
    return rc;
}

static const struct op ops[] = {
    {.name = "tr_ring_load (first load)", .run = run_load_v2, .check = check_v2, .empty = 1,
     .absorbs = 1},
    {.name = "tr_ring_reload_check (no file)", .run = run_reload_check, .expect = TR_E_NO_FILE,
     .empty = 1},
    {.name = "tr_ring_watch (no file)", .run = run_watch, .expect = TR_E_NO_FILE, .empty = 1},
    {.name = "tr_ring_add_key", .run = run_add_key, .check = check_added},
    {.name = "tr_ring_generate_key", .run = run_generate, .check = check_one_more},
    {.name = "tr_ring_remove_key", .run = run_remove, .check = check_removed},
    {.name = "tr_ring_revoke_key", .run = run_revoke, .check = check_revoked},
    {.name = "tr_ring_set_cluster (pin)", .run = run_pin, .check = check_pinned},
    {.name = "tr_ring_set_cluster (unpin)", .prepare = prep_pin, .run = run_unpin,
     .check = check_unpinned},
    {.name = "tr_ring_load", .run = run_load_v2, .check = check_v2},
    {.name = "tr_ring_load (file refused)", .run = run_load_bad, .expect = TR_E_KEYFILE_INTEGRITY},
    {.name = "tr_ring_load_ex (forced rollback)", .prepare = prep_load_v2,
     .run = run_load_ex_forced, .check = check_v1},
    {.name = "tr_ring_reload", .prepare = prep_cur_v2, .run = run_reload, .check = check_v2},
    {.name = "tr_ring_reload_check (first check)", .prepare = prep_cur_v2, .run = run_reload_check,
     .check = check_reloaded, .may_keep = 1},
    {.name = "tr_ring_reload_check", .prepare = prep_check_then_v2, .run = run_reload_check,
     .check = check_reloaded},
    {.name = "tr_ring_save", .run = run_save, .check = check_saved},
    {.name = "tr_ring_save_buffer", .run = run_save_buffer, .check = check_saved_buffer},
    {.name = "tr_ring_activate_key", .prepare = prep_pending, .run = run_activate,
     .check = check_activated},
    {.name = "tr_ring_import (nginx)", .run = run_import_nginx, .check = check_imported_nginx},
    {.name = "tr_ring_import (HAProxy)", .run = run_import_haproxy,
     .check = check_imported_haproxy},
    {.name = "tr_ring_import (file refused)", .run = run_import_bad, .expect = TR_E_KEYFILE_SYNTAX},
    {.name = "tr_ring_export (nginx)", .run = run_export_nginx},
    {.name = "tr_ring_export (HAProxy)", .run = run_export_haproxy},
    {.name = "tr_ring_watch (first check)", .run = run_watch, .check = check_watching,
     .may_keep = 1},
    {.name = "tr_ring_watch", .prepare = prep_check, .run = run_watch, .check = check_watching},
    {.name = "tr_ring_unwatch", .prepare = prep_watch, .run = run_unwatch},
    {.name = "tr_ring_metrics", .run = run_metrics},
};

static void print_sizes(const char *name, const struct tu_rec *c, uint64_t from, uint64_t n,
                        unsigned nomem, unsigned absorbed)
{
    printf("# %-36s %2" PRIu64 " allocation%s", name, n, n == 1 ? " " : "s");
    if (n != 0) {
        printf(" (bytes:");
        for (uint64_t i = from; i < from + n; i++)
            printf(" %zu", c->sizes[i % TU_REC_SIZES]);
        printf(")");
    }
    if (nomem != 0 || absorbed != 0)
        printf(", %u refused with TR_E_NOMEM, %u absorbed", nomem, absorbed);
    printf("\n");
}

/* Fail allocation 1, 2, ... of one operation until a run fails none. */
static void run_op(const struct op *op)
{
    unsigned nomem = 0, absorbed = 0;

    for (uint64_t fail = 1; fail <= MAX_FAILS; fail++) {
        struct fx f;
        struct tu_rec before, after;
        int rc;

        fx_open(&f, op->empty);
        if (op->prepare != NULL)
            op->prepare(&f);
        fx_snapshot(&f);
        before = tu_rec_get(&f.a);
        tu_rec_fail_next(&f.a, fail);
        rc = op->run(&f);
        tu_rec_fail_next(&f.a, 0);
        after = tu_rec_get(&f.a);

        if (after.failed == before.failed) {
            /* No allocation failed: every one this operation makes was
             * refused once by the runs before. */
            assert_int_equal(rc, op->expect);
            assert_int_equal(after.allocs - before.allocs, fail - 1);
            if (op->check != NULL)
                op->check(&f);
            if (op->expect != 0)
                assert_unchanged(&f);
            else if (f.ticket_len != 0)
                assert_int_equal(open_ticket(f.r, f.ticket, f.ticket_len), 0);
            else
                assert_round_trip(f.r);
            print_sizes(op->name, &after, before.allocs, fail - 1, nomem, absorbed);
            assert_int_equal(absorbed, op->absorbs);
            fx_close(&f);
            return;
        }
        if (rc == op->expect && op->absorbs != 0) {
            /* Absorbed: an allocation the operation can do without. */
            absorbed++;
            if (op->check != NULL)
                op->check(&f);
            fx_close(&f);
            continue;
        }
        nomem++;
        if (rc != TR_E_NOMEM)
            fail_msg("%s, allocation %" PRIu64 " refused: %d (%s), not TR_E_NOMEM", op->name,
                     fail, rc, tr_strerror(rc));
        /* Nothing allocated by the failed call is left, apart from the
         * lazily made state its success keeps too. */
        assert_true(after.live >= before.live);
        if (after.live - before.live > op->may_keep)
            fail_msg("%s, allocation %" PRIu64 " refused: %" PRIu64 " blocks left behind",
                     op->name, fail, after.live - before.live);
        assert_unchanged(&f);
        /* Usable: the same call now succeeds. */
        assert_int_equal(op->run(&f), op->expect);
        if (op->check != NULL)
            op->check(&f);
        fx_close(&f);
    }
    fail_msg("%s still fails after %d allocations", op->name, MAX_FAILS);
}

static void test_ring_operations(void **st)
{
    (void)st;
    printf("# allocations per operation, on a ring that loaded a key file of 2 keys "
           "(on an empty one where marked), %s backend:\n",
           getenv("TR_TEST_BACKEND") != NULL ? getenv("TR_TEST_BACKEND") : "the default");
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        run_op(&ops[i]);
}

static void test_ring_new(void **st)
{
    unsigned nomem = 0;
    (void)st;
    for (uint64_t fail = 1; fail <= MAX_FAILS; fail++) {
        struct tu_rec a, c;
        tr_ring *r = (tr_ring *)&a; /* must be reset to NULL on failure */
        int rc;

        tu_rec_init(&a);
        tu_rec_fail_next(&a, fail);
        rc = tr_ring_new_with_allocator(&r, tu_backend(), tu_rec_malloc, tu_rec_free, &a);
        c = tu_rec_get(&a);
        if (c.failed == 0) {
            int64_t clock = (int64_t)T0 * 1000;
            uint8_t k[TR_KEY_BYTES];
            assert_int_equal(rc, 0);
            tu_rec_fail_next(&a, 0);
            print_sizes("tr_ring_new_with_allocator", &c, 0, c.allocs, nomem, 0);
            tr_ring_set_clock(r, tu_clock, &clock);
            tu_key(k, 1);
            assert_int_equal(tr_ring_add_key(r, k, T0), 0);
            assert_round_trip(r);
            tr_ring_free(r);
            assert_int_equal(tu_rec_get(&a).live, 0);
            tu_rec_destroy(&a);
            return;
        }
        nomem++;
        assert_int_equal(rc, TR_E_NOMEM);
        assert_null(r);
        assert_int_equal(c.live, 0);
        tu_rec_destroy(&a);
    }
    fail_msg("tr_ring_new_with_allocator still fails after %d allocations", MAX_FAILS);
}

/* tr_ring_new_like() allocates through the model's allocator: a failure
 * leaves nothing behind and the model as it was. */
static void test_ring_new_like(void **st)
{
    unsigned nomem = 0;
    (void)st;
    for (uint64_t fail = 1; fail <= MAX_FAILS; fail++) {
        struct fx f;
        struct tu_rec before, c;
        tr_ring *r = NULL;
        int rc;

        fx_open(&f, 0);
        assert_int_equal(tr_ring_set_cluster(f.r, "edge"), 0);
        fx_snapshot(&f);
        r = f.r; /* must be reset to NULL on failure */
        before = tu_rec_get(&f.a);
        tu_rec_fail_next(&f.a, fail);
        rc = tr_ring_new_like(&r, f.r);
        tu_rec_fail_next(&f.a, 0);
        c = tu_rec_get(&f.a);
        if (c.failed == before.failed) {
            char cluster[65];
            assert_int_equal(rc, 0);
            print_sizes("tr_ring_new_like", &c, before.allocs, c.allocs - before.allocs, nomem,
                        0);
            assert_int_equal(tr_ring_cluster(r, cluster, sizeof(cluster)), 0);
            assert_string_equal(cluster, "edge");
            assert_int_equal(key_count(r), 0);
            tr_ring_free(r);
            assert_int_equal(tu_rec_get(&f.a).live, before.live);
            assert_unchanged(&f);
            fx_close(&f);
            return;
        }
        nomem++;
        assert_int_equal(rc, TR_E_NOMEM);
        assert_null(r);
        assert_int_equal(c.live, before.live);
        assert_unchanged(&f);
        fx_close(&f);
    }
    fail_msg("tr_ring_new_like still fails after %d allocations", MAX_FAILS);
}

static void test_replay_new(void **st)
{
    unsigned nomem = 0;
    (void)st;
    for (uint64_t fail = 1; fail <= MAX_FAILS; fail++) {
        struct tu_rec a, c;
        tr_replay *rp = (tr_replay *)&a;
        int rc;

        tu_rec_init(&a);
        tu_rec_fail_next(&a, fail);
        rc = tr_replay_new_with_allocator(&rp, 1000, 10000, tu_rec_malloc, tu_rec_free, &a);
        c = tu_rec_get(&a);
        if (c.failed == 0) {
            int64_t clock = (int64_t)T0 * 1000;
            uint8_t v[32] = {7};
            tr_replay_stats s;
            assert_int_equal(rc, 0);
            tu_rec_fail_next(&a, 0);
            print_sizes("tr_replay_new_with_allocator", &c, 0, c.allocs, nomem, 0);
            assert_int_equal(tr_replay_set_clock(rp, tu_clock, &clock), 0);
            clock += 10000;
            assert_int_equal(tr_replay_check(rp, v, sizeof(v)), 0);
            assert_int_equal(tr_replay_check(rp, v, sizeof(v)), TR_E_REPLAY);
            s.size = sizeof(s);
            assert_int_equal(tr_replay_get_stats(rp, &s), 0);
            assert_true(s.bytes > 0);
            tr_replay_free(rp);
            c = tu_rec_get(&a);
            assert_int_equal(c.live, 0);
            assert_int_equal(c.allocs, c.frees);
            tu_rec_destroy(&a);
            return;
        }
        nomem++;
        assert_int_equal(rc, TR_E_NOMEM);
        assert_null(rp);
        assert_int_equal(c.live, 0);
        tu_rec_destroy(&a);
    }
    fail_msg("tr_replay_new_with_allocator still fails after %d allocations", MAX_FAILS);
}

/* ---- operations that allocate nothing ---------------------------------------- */

static int tls_key_fn(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                      void *arg)
{
    (void)key_state;
    (void)name;
    (void)flags;
    (void)arg;
    return 0;
}

/* The distinct functions NO_ALLOC() ran, for the report. */
static const char *no_alloc_names[64];
static size_t no_alloc_count;

static void note_function(const char *call)
{
    static char names[64][40];
    const char *p = strstr(call, "tr_");
    size_t n = p != NULL ? strcspn(p, "(") : 0;

    if (n == 0 || n >= sizeof(names[0]))
        return;
    for (size_t i = 0; i < no_alloc_count; i++)
        if (strlen(no_alloc_names[i]) == n && memcmp(no_alloc_names[i], p, n) == 0)
            return;
    if (no_alloc_count == 64)
        return;
    memcpy(names[no_alloc_count], p, n);
    names[no_alloc_count][n] = '\0';
    no_alloc_names[no_alloc_count] = names[no_alloc_count];
    no_alloc_count++;
}

/* Run `call` with the next allocation refused: it must make none. */
#define NO_ALLOC(call, want)                                                             \
    do {                                                                                 \
        uint64_t before_ = tu_rec_get(&f.a).allocs;                                      \
        int rc_;                                                                         \
        tu_rec_fail_next(&f.a, 1);                                                       \
        rc_ = (call);                                                                    \
        tu_rec_fail_next(&f.a, 0);                                                       \
        if (tu_rec_get(&f.a).allocs != before_)                                          \
            fail_msg("%s called the allocator", #call);                                  \
        if (rc_ != (want))                                                               \
            fail_msg("%s: %d (%s), expected %d", #call, rc_, tr_strerror(rc_), (want));  \
        note_function(#call);                                                            \
        calls++;                                                                         \
    } while (0)

static void test_no_allocation(void **st)
{
    struct fx f;
    struct tu_rec ra;
    tr_replay *rp = NULL;
    uint8_t t[sizeof(STATE) + TR_TICKET_OVERHEAD], state[sizeof(STATE)];
    uint8_t name[TR_KEY_NAME_BYTES], value[TRI_REPLAY_VALUE_MAX] = {1};
    char fp[TR_FINGERPRINT_HEX + 1], cluster[65], text[16384];
    const uint8_t alpn_offer[] = {2, 'h', '2'};
    size_t len = 0, state_len = 0;
    uint64_t u64 = 0, replay_allocs;
    int64_t i64 = 0;
    uint32_t u32 = 0, flags = 0;
    int32_t role = 0;
    unsigned calls = 0;
    tr_stats s;
    tr_replay_stats rs;
    (void)st;

    fx_open(&f, 0);
    /* The cache allocates through its own allocator, which must not be
     * called after tr_replay_new either. */
    tu_rec_init(&ra);
    assert_int_equal(tr_replay_new_with_allocator(&rp, 64, 10000, tu_rec_malloc, tu_rec_free,
                                                  &ra), 0);
    replay_allocs = tu_rec_get(&ra).allocs;
    tu_rec_fail_next(&ra, 1);

    /* Documented to allocate nothing. */
    for (int i = 0; i < 100; i++) {
        NO_ALLOC(tr_ticket_seal(f.r, (const uint8_t *)STATE, sizeof(STATE), (const uint8_t *)SNI,
                                strlen(SNI), NULL, 0, NULL, 0, 0, t, sizeof(t), &len, NULL),
                 0);
        NO_ALLOC(tr_ticket_open(f.r, t, len, (const uint8_t *)SNI, strlen(SNI), NULL, 0, NULL, 0,
                                state, sizeof(state), &state_len, name, &i64, &i64, &flags),
                 0);
    }
    t[40] ^= 1; /* refusals allocate nothing either */
    NO_ALLOC(tr_ticket_open(f.r, t, len, (const uint8_t *)SNI, strlen(SNI), NULL, 0, NULL, 0,
                            state, sizeof(state), &state_len, name, &i64, &i64, &flags),
             TR_E_TICKET_AUTH);
    /* A backend without TLS state (mbedTLS's) refuses, also without one. */
    NO_ALLOC(tr_ring_tls_key(f.r, tu_backend(), NULL, tls_key_fn, NULL),
             tri_crypto_has_tls(tu_backend()) ? 0 : TR_E_BACKEND);
    NO_ALLOC(tr_replay_check(rp, value, sizeof(value)), TR_E_REPLAY_STARTUP);
    NO_ALLOC(tr_replay_check(rp, value, sizeof(value)), TR_E_REPLAY);

    /* Not promised by a comment, but allocating nothing today: a change
     * here should be a decision. */
    NO_ALLOC(tr_ring_set_early_data(f.r, 16384, rp), 0);
    NO_ALLOC(tr_ring_early_data_max(f.r, &u32), 0);
    NO_ALLOC(tr_ring_early_data_tag(f.r, &u64), 0);
    NO_ALLOC(tr_ring_check_early_data(f.r, u64, f.clock, 0, value, 32), TR_E_REPLAY_STARTUP);
    NO_ALLOC(tr_ring_metrics(f.r, text, sizeof(text), &len), 0);
    NO_ALLOC((s.size = sizeof(s), tr_ring_stats(f.r, &s)), 0);
    NO_ALLOC(tr_ring_stat(f.r, 0, &u64), 0);
    NO_ALLOC(tr_ring_key_count(f.r, &u32), 0);
    NO_ALLOC(tr_ring_key_info(f.r, 0, name, &i64, &role), 0);
    NO_ALLOC(tr_ring_encrypt_key_name(f.r, name), 0);
    NO_ALLOC(tr_ring_fingerprint(f.r, fp, sizeof(fp)), 0);
    NO_ALLOC(tr_ring_cluster(f.r, cluster, sizeof(cluster)), 0);
    NO_ALLOC(tr_ring_serial(f.r, &u64), 0);
    NO_ALLOC(tr_ring_now_ms(f.r, &i64), 0);
    NO_ALLOC(tr_ring_check_times(f.r, f.clock, T0, &i64), 0);
    NO_ALLOC(tr_ring_check_binding(f.r, (const uint8_t *)SNI, strlen(SNI), (const uint8_t *)SNI,
                                   strlen(SNI), (const uint8_t *)"h2", 2, alpn_offer,
                                   sizeof(alpn_offer)),
             0);
    NO_ALLOC(tr_ring_ticket_lifetime(f.r, T0, &u32), 0);
    NO_ALLOC(tr_ring_record(f.r, TR_EVENT_FULL_HANDSHAKE), 0);
    NO_ALLOC(tr_ring_set_lifetime(f.r, 3600), 0);
    NO_ALLOC(tr_ring_set_skew(f.r, 30), 0);
    NO_ALLOC(tr_ring_set_bind_sni(f.r, 1), 0);
    NO_ALLOC(tr_ring_set_bind_alpn(f.r, 1), 0);
    NO_ALLOC(tr_ring_set_max_age(f.r, 86400), 0);
    NO_ALLOC(tr_ring_set_rotation_period(f.r, 86400), 0);
    NO_ALLOC(tr_ring_set_exhausted_policy(f.r, TR_EXHAUSTED_KEEP), 0);
    NO_ALLOC(tr_ring_set_max_encrypt_age(f.r, 0), 0);
    NO_ALLOC(tr_ring_set_file_mode_policy(f.r, TR_FILE_MODE_WARN), 0);
    NO_ALLOC(tr_ring_set_activation_horizon(f.r, 86400 * 365), 0);
    NO_ALLOC(tr_ring_set_clock(f.r, tu_clock, &f.clock), 0);
    NO_ALLOC(tr_ring_set_random(f.r, NULL, NULL), 0);
    NO_ALLOC(tr_ring_set_log(f.r, NULL, NULL), 0);
    NO_ALLOC(tr_ring_unwatch(f.r), 0); /* no watcher */
    NO_ALLOC(tr_ring_set_early_data(f.r, 0, NULL), 0);
    NO_ALLOC((rs.size = sizeof(rs), tr_replay_get_stats(rp, &rs)), 0);
    NO_ALLOC(tr_replay_stat(rp, 0, &u64), 0);
    NO_ALLOC(tr_replay_set_clock(rp, tu_clock, &f.clock), 0);

    tu_rec_fail_next(&ra, 0);
    assert_int_equal(tu_rec_get(&ra).allocs, replay_allocs);
    printf("# %u calls of %zu functions, 0 allocations:", calls, no_alloc_count);
    for (size_t i = 0; i < no_alloc_count; i++)
        printf(" %s", no_alloc_names[i]);
    printf("\n");
    fx_close(&f); /* the ring before the cache it was given */
    tr_replay_free(rp);
    assert_int_equal(tu_rec_get(&ra).live, 0);
    tu_rec_destroy(&ra);
}

/* ---- the seals that do allocate ---------------------------------------------- */

static const uint8_t *salt_of(const uint8_t *ticket)
{
    return ticket + 1 + TR_KEY_NAME_BYTES; /* version | key name | salt */
}

/*
 * Past 2^24 seals under one set of salts, the sealing thread publishes a
 * set with fresh ones (ring.h): one allocation, whose failure must cost
 * nothing but the new salts (the ticket is still issued; the next attempt
 * comes 2^20 seals later). At the hard limit the seal is refused whatever
 * happens to the resalt, and the next seal gets the new salts.
 */
static void test_resalt(void **st)
{
    struct fx f;
    struct tu_rec b, c;
    uint8_t t1[sizeof(STATE) + TR_TICKET_OVERHEAD], t2[sizeof(t1)], t3[sizeof(t1)];
    size_t len1 = 0, len2 = 0, len3 = 0;
    (void)st;

    fx_open(&f, 0);
    fx_snapshot(&f);
    atomic_store(&tri_ring_current_locked(f.r)->seal_uses, TRI_RESALT_AFTER - 1);
    b = tu_rec_get(&f.a);
    tu_rec_fail_next(&f.a, 1);
    assert_int_equal(seal(f.r, t1, sizeof(t1), &len1), 0); /* the 2^24th seal */
    tu_rec_fail_next(&f.a, 0);
    c = tu_rec_get(&f.a);
    assert_int_equal(c.allocs - b.allocs, 1);
    assert_int_equal(c.failed - b.failed, 1);
    assert_int_equal(c.live, b.live);
    assert_unchanged(&f); /* also: t1 and a new ticket still carry the old salts */
    assert_int_equal(seal(f.r, t2, sizeof(t2), &len2), 0);
    assert_memory_equal(salt_of(t2), salt_of(f.ticket), 16);
    assert_memory_equal(salt_of(t1), salt_of(f.ticket), 16);

    /* The next attempt, 2^20 seals later, succeeds. */
    atomic_store(&tri_ring_current_locked(f.r)->seal_uses, TRI_RESALT_AFTER + 0xFFFFF);
    b = tu_rec_get(&f.a);
    assert_int_equal(seal(f.r, t2, sizeof(t2), &len2), 0);
    c = tu_rec_get(&f.a);
    assert_int_equal(c.allocs - b.allocs, 1);
    assert_int_equal(c.live, b.live);
    assert_int_equal(seal(f.r, t3, sizeof(t3), &len3), 0);
    assert_memory_not_equal(salt_of(t3), salt_of(f.ticket), 16);
    assert_int_equal(open_ticket(f.r, f.ticket, f.ticket_len), 0);
    assert_int_equal(open_ticket(f.r, t1, len1), 0);
    fingerprint(f.r, f.fp); /* new salts, same keys: same fingerprint */
    assert_string_equal(f.fp, g.fp_v1);

    /* At the hard limit: refused, and the failed resalt leaves the set. */
    atomic_store(&tri_ring_current_locked(f.r)->seal_uses, TRI_SEAL_HARD_LIMIT);
    b = tu_rec_get(&f.a);
    tu_rec_fail_next(&f.a, 1);
    assert_int_equal(seal(f.r, t1, sizeof(t1), &len1), TR_E_NO_ENCRYPT_KEY);
    tu_rec_fail_next(&f.a, 0);
    c = tu_rec_get(&f.a);
    assert_int_equal(c.allocs - b.allocs, 1);
    assert_int_equal(c.live, b.live);
    assert_int_equal(seal(f.r, t1, sizeof(t1), &len1), TR_E_NO_ENCRYPT_KEY); /* resalts */
    assert_int_equal(seal(f.r, t1, sizeof(t1), &len1), 0);
    assert_memory_not_equal(salt_of(t1), salt_of(t3), 16);
    assert_int_equal(open_ticket(f.r, t3, len3), 0);
    printf("# tr_ticket_seal: 1 allocation (a key set) at the 2^24th seal under one set of "
           "salts, every 2^20 seals after it, and at the 2^28 hard limit\n");
    fx_close(&f);
}

/* Child exit codes: each names the step that failed. */
enum {
    CHILD_OK = 0,
    CHILD_NOT_NOMEM = 10,
    CHILD_ALLOCS = 11,
    CHILD_LEFT_BLOCK = 12,
    CHILD_OPEN_PARENT = 13,
    CHILD_SEAL = 14,
    CHILD_SEAL_ALLOCS = 15,
    CHILD_OPEN_OWN = 16,
    CHILD_SALT = 17,
    CHILD_LEAK = 18,
};

static int child(struct fx *f)
{
    uint8_t t[sizeof(STATE) + TR_TICKET_OVERHEAD];
    size_t len = 0;
    struct tu_rec b, c;
    int rc;

    b = tu_rec_get(&f->a);
    tu_rec_fail_next(&f->a, 1);
    rc = seal(f->r, t, sizeof(t), &len);
    tu_rec_fail_next(&f->a, 0);
    c = tu_rec_get(&f->a);
    if (rc != TR_E_NOMEM)
        return CHILD_NOT_NOMEM;
    if (c.allocs - b.allocs != 1)
        return CHILD_ALLOCS;
    if (c.live != b.live)
        return CHILD_LEFT_BLOCK;
    if (open_ticket(f->r, f->ticket, f->ticket_len) != 0)
        return CHILD_OPEN_PARENT;
    b = c;
    if (seal(f->r, t, sizeof(t), &len) != 0)
        return CHILD_SEAL;
    c = tu_rec_get(&f->a);
    if (c.allocs - b.allocs != 1 || c.live != b.live)
        return CHILD_SEAL_ALLOCS;
    if (open_ticket(f->r, t, len) != 0)
        return CHILD_OPEN_OWN;
    if (memcmp(salt_of(t), salt_of(f->ticket), 16) == 0)
        return CHILD_SALT;
    b = c;
    if (seal(f->r, t, sizeof(t), &len) != 0 || tu_rec_get(&f->a).allocs != b.allocs)
        return CHILD_SEAL_ALLOCS;
    tr_ring_free(f->r);
    if (tu_rec_get(&f->a).live != 0)
        return CHILD_LEAK;
    return CHILD_OK;
}

/*
 * The first seal in a forked child draws the child's own salts (a new key
 * set: one allocation). If that fails the seal fails with TR_E_NOMEM and
 * issues nothing (sealing with the parent's salts would share its nonce
 * streams); the next seal tries again. Children run no cmocka assertion:
 * they report through their exit status.
 */
static void test_seal_in_forked_child(void **st)
{
    struct fx f;
    pid_t pid;
    int status = 0;
    (void)st;

    fx_open(&f, 0);
    fx_snapshot(&f);
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20); /* a hang fails the test instead of stalling it */
        _exit(child(&f));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), CHILD_OK);
    printf("# tr_ticket_seal: 1 allocation (the child's key set) at the first seal in a "
           "forked child; refused: TR_E_NOMEM, no ticket\n");
    assert_unchanged(&f);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_new),
        cmocka_unit_test(test_ring_new_like),
        cmocka_unit_test(test_replay_new),
        cmocka_unit_test(test_ring_operations),
        cmocka_unit_test(test_no_allocation),
        cmocka_unit_test(test_resalt),
        cmocka_unit_test(test_seal_in_forked_child),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
