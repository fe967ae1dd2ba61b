/*
 * Hot reload (lib/watch.c): tr_ring_reload_check() driven by hand, file
 * change by file change, then tr_ring_watch() picking up each kind of
 * change from its thread.
 *
 * Key files come from a "writer" ring that gains a key and saves before
 * each version, so every version has a higher serial and a known
 * fingerprint. The files are replaced the ways real writers replace them:
 * rename over (our CLI, consul-template, Vault Agent), rewritten in place
 * (ingress-nginx), and the kubelet's ..data symlink flip (key-distribution
 * notes, 2.1), replayed step by step.
 */
#define _GNU_SOURCE

#include "test_util.h"

#include "keyfile.h" /* tri_keyfile_format(): version-1 files */
#include "ring.h"    /* the writer lock, to call tri_watch_loaded() as the load path would */
#include "watch.h"   /* tri_watch_set_inotify(), tri_watch_loaded() */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define T0 1767225600
#define WAIT_MS 5000     /* deadline for the watcher to pick a change up */
#define NAP_MS 10
#define LONG_POLL 3600   /* so long that only inotify can explain a pickup */

struct fx {
    char dir[64];     /* the watched directory */
    char scratch[64]; /* where versions are made: outside the watched one */
    char path[128];   /* the key file a ring loads */
    int64_t clock;
    tr_ring *writer;  /* makes the versions */
    tr_ring *r;       /* the ring under test */
    unsigned seed, tmp, ts;
    atomic_int errors; /* TR_LOG_ERROR lines of r */
};

struct version {
    char *bytes;
    size_t len;
    char fp[TR_FINGERPRINT_HEX + 1];
};

static void count_log(int32_t level, const char *msg, void *arg)
{
    struct fx *f = arg;
    (void)msg;
    if (level == TR_LOG_ERROR)
        atomic_fetch_add(&f->errors, 1);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    strcpy(f->dir, "/tmp/tr-watch-XXXXXX");
    strcpy(f->scratch, "/tmp/tr-watch-src-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_non_null(mkdtemp(f->scratch));
    snprintf(f->path, sizeof(f->path), "%s/tickets.keys", f->dir);
    f->clock = (int64_t)T0 * 1000;
    f->writer = tu_ring(&f->clock);
    f->r = tu_ring(&f->clock);
    atomic_init(&f->errors, 0);
    assert_int_equal(tr_ring_set_log(f->r, count_log, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tr_ring_free(f->r);
    tr_ring_free(f->writer);
    rm_tree(f->dir);
    rm_tree(f->scratch);
    free(f);
    return 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = malloc(TRI_KEYFILE_MAX_BYTES);
    assert_non_null(fp);
    assert_non_null(buf);
    *len = fread(buf, 1, TRI_KEYFILE_MAX_BYTES, fp);
    fclose(fp);
    return buf;
}

static void save_version(struct fx *f, struct version *v)
{
    char p[160];
    snprintf(p, sizeof(p), "%s/v", f->scratch);
    assert_int_equal(tr_ring_save(f->writer, p), 0);
    v->bytes = read_all(p, &v->len);
    assert_int_equal(tr_ring_fingerprint(f->writer, v->fp, sizeof(v->fp)), 0);
    unlink(p);
}

/* The next version: one more key, a higher serial. */
static void next_version(struct fx *f, struct version *v)
{
    uint8_t key[TR_KEY_BYTES];
    f->seed++;
    tu_key(key, (uint8_t)f->seed);
    assert_int_equal(tr_ring_add_key(f->writer, key, T0 - 1000 + (int64_t)f->seed), 0);
    save_version(f, v);
}

/* The next version of the same size: the newest key swapped for another
 * with the same activation (the serial keeps its number of digits). */
static void swap_version(struct fx *f, struct version *v)
{
    uint8_t key[TR_KEY_BYTES], name[TR_KEY_NAME_BYTES];
    int64_t act;
    uint32_t n;
    assert_int_equal(tr_ring_key_count(f->writer, &n), 0);
    assert_int_equal(tr_ring_key_info(f->writer, n - 1, name, &act, NULL), 0);
    assert_int_equal(tr_ring_remove_key(f->writer, name), 0);
    f->seed++;
    tu_key(key, (uint8_t)(f->seed + 100));
    assert_int_equal(tr_ring_add_key(f->writer, key, act), 0);
    save_version(f, v);
}

static void drop(struct version *v)
{
    free(v->bytes);
    v->bytes = NULL;
}

static void write_file(const char *path, const char *bytes, size_t len, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Temporary file in the same directory, then rename over the target. */
static void put_rename(struct fx *f, const char *path, const char *bytes, size_t len)
{
    char tmp[160];
    snprintf(tmp, sizeof(tmp), "%s/.tmp-%u", f->dir, ++f->tmp);
    write_file(tmp, bytes, len, O_TRUNC);
    assert_int_equal(rename(tmp, path), 0);
}

/* A timestamp no earlier write can have had: a rewrite within one tick of
 * a coarse file system clock must still look different. */
static void distinct_mtime(struct fx *f, const char *path)
{
    struct timespec ts[2] = {{0, UTIME_OMIT}, {T0 + (time_t)(++f->tmp), 0}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Same inode: truncate and write (what ingress-nginx does). */
static void put_inplace(struct fx *f, const char *path, const char *bytes, size_t len)
{
    write_file(path, bytes, len, O_TRUNC);
    distinct_mtime(f, path);
}

/* ---- the kubelet's atomic writer (pkg/volume/util/atomic_writer.go) ---- */

static void k8s_payload(struct fx *f, const char *bytes, size_t len, char *tsdir)
{
    char p[200];
    f->ts++;
    snprintf(tsdir, 64, "..2026_01_01_00_00_%02u.%u", f->ts, 100 + f->ts);
    snprintf(p, sizeof(p), "%s/%s", f->dir, tsdir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s/tickets.keys", f->dir, tsdir);
    write_file(p, bytes, len, O_TRUNC);
}

/* tickets.keys -> ..data/tickets.keys, ..data -> ..<timestamp> */
static void k8s_init(struct fx *f, const struct version *v)
{
    char ts[64], p[200];
    k8s_payload(f, v->bytes, v->len, ts);
    snprintf(p, sizeof(p), "%s/..data", f->dir);
    assert_int_equal(symlink(ts, p), 0);
    assert_int_equal(symlink("..data/tickets.keys", f->path), 0);
}

/* New timestamped directory, ..data_tmp pointing at it, renamed over
 * ..data (the switch), then the old directory removed. */
static void k8s_flip(struct fx *f, const struct version *v)
{
    char old[64], ts[64], p[200], q[200];
    ssize_t n;
    snprintf(p, sizeof(p), "%s/..data", f->dir);
    n = readlink(p, old, sizeof(old) - 1);
    assert_true(n > 0);
    old[n] = '\0';
    k8s_payload(f, v->bytes, v->len, ts);
    snprintf(q, sizeof(q), "%s/..data_tmp", f->dir);
    assert_int_equal(symlink(ts, q), 0);
    assert_int_equal(rename(q, p), 0);
    snprintf(p, sizeof(p), "%s/%s/tickets.keys", f->dir, old);
    assert_int_equal(unlink(p), 0);
    snprintf(p, sizeof(p), "%s/%s", f->dir, old);
    assert_int_equal(rmdir(p), 0);
}

/* ---- assertions ------------------------------------------------------------ */

static void assert_fp(tr_ring *r, const char *fp)
{
    char got[TR_FINGERPRINT_HEX + 1];
    assert_int_equal(tr_ring_fingerprint(r, got, sizeof(got)), 0);
    assert_string_equal(got, fp);
}

static tr_stats stats(tr_ring *r)
{
    tr_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    return s;
}

/* One check: its result code, and whether it says the keys changed. */
static int check(struct fx *f, int32_t *changed)
{
    int32_t c = -1;
    uint32_t line = 99;
    int rc = tr_ring_reload_check(f->r, &c, &line);
    assert_true(c == 0 || c == 1);
    if (rc == 0)
        assert_int_equal(line, 0);
    if (changed != NULL)
        *changed = c;
    return rc;
}

static void check_changed(struct fx *f, const struct version *v)
{
    int32_t c;
    assert_int_equal(check(f, &c), 0);
    assert_int_equal(c, 1);
    assert_fp(f->r, v->fp);
}

static void check_unchanged(struct fx *f)
{
    int32_t c;
    assert_int_equal(check(f, &c), 0);
    assert_int_equal(c, 0);
}

/* A plain key file with version v1, loaded, and the first check made. */
static void start_plain(struct fx *f, struct version *v1)
{
    next_version(f, v1);
    put_rename(f, f->path, v1->bytes, v1->len);
    assert_int_equal(tr_ring_load(f->r, f->path, NULL), 0);
    check_unchanged(f);
    assert_fp(f->r, v1->fp);
}

/* ---- the check, by hand ------------------------------------------------------ */

static void test_no_file(void **state)
{
    struct fx *f = *state;
    int32_t c = 7;
    uint32_t line = 7;
    assert_int_equal(tr_ring_reload_check(NULL, &c, &line), TR_E_INVAL);
    assert_int_equal(c, 0);
    assert_int_equal(line, 0);
    assert_int_equal(tr_ring_reload_check(f->r, &c, &line), TR_E_NO_FILE);
    assert_int_equal(tr_ring_reload_check(f->r, NULL, NULL), TR_E_NO_FILE);
    assert_int_equal(tr_ring_watch(f->r, 0), TR_E_NO_FILE);
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    assert_int_equal(tr_ring_unwatch(NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_watch(NULL, 0), TR_E_INVAL);
}

/* Nothing changed: no reload and not even a read (a read allocates the
 * read buffer, so a counting allocator tells). */
static void test_unchanged_no_read(void **state)
{
    struct fx *f = *state;
    struct tu_alloc a = {0, 0, 0, 0};
    struct version v1;
    tr_ring *r = NULL;
    uint64_t before;

    next_version(f, &v1);
    put_rename(f, f->path, v1.bytes, v1.len);
    assert_int_equal(tr_ring_new_with_allocator(&r, tu_backend(), tu_malloc, tu_free, &a), 0);
    assert_int_equal(tr_ring_set_clock(r, tu_clock, &f->clock), 0);
    assert_int_equal(tr_ring_load(r, f->path, NULL), 0);
    assert_int_equal(tr_ring_reload_check(r, NULL, NULL), 0); /* records */
    before = a.allocs;
    for (int i = 0; i < 100; i++)
        assert_int_equal(tr_ring_reload_check(r, NULL, NULL), 0);
    assert_int_equal(a.allocs, before);
    assert_int_equal(stats(r).reloads, 1);
    assert_int_equal(stats(r).reload_failures, 0);
    assert_fp(r, v1.fp);
    tr_ring_free(r);
    assert_int_equal(a.allocs, a.frees);
    drop(&v1);
}

static void test_rename(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    start_plain(f, &v1);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len);
    check_changed(f, &v2);
    assert_int_equal(stats(f->r).reloads, 2);
    check_unchanged(f);
    assert_int_equal(stats(f->r).reloads, 2);
    next_version(f, &v3);
    put_rename(f, f->path, v3.bytes, v3.len);
    check_changed(f, &v3);
    assert_int_equal(stats(f->r).reloads, 3);
    assert_int_equal(stats(f->r).reload_failures, 0);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* Same inode, same size: only the times tell. */
static void test_inplace_same_size(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    struct stat a, b;
    start_plain(f, &v1);
    swap_version(f, &v2);
    assert_int_equal(v2.len, v1.len);
    assert_int_equal(stat(f->path, &a), 0);
    put_inplace(f, f->path, v2.bytes, v2.len);
    assert_int_equal(stat(f->path, &b), 0);
    assert_true(a.st_ino == b.st_ino);
    check_changed(f, &v2);
    assert_int_equal(stats(f->r).reloads, 2);
    check_unchanged(f);
    drop(&v1);
    drop(&v2);
}

/* The same bytes written again (a touch, a re-render): read, compared,
 * not reloaded. */
static void test_same_content_rewrite(void **state)
{
    struct fx *f = *state;
    struct version v1;
    start_plain(f, &v1);
    put_inplace(f, f->path, v1.bytes, v1.len);
    check_unchanged(f);
    put_rename(f, f->path, v1.bytes, v1.len);
    check_unchanged(f);
    assert_int_equal(stats(f->r).reloads, 1);
    assert_int_equal(stats(f->r).reload_failures, 0);
    assert_int_equal(atomic_load(&f->errors), 0);
    drop(&v1);
}

static void test_k8s_flip(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    next_version(f, &v1);
    k8s_init(f, &v1);
    assert_int_equal(tr_ring_load(f->r, f->path, NULL), 0);
    check_unchanged(f);
    next_version(f, &v2);
    k8s_flip(f, &v2);
    check_changed(f, &v2);
    check_unchanged(f);
    next_version(f, &v3);
    k8s_flip(f, &v3);
    check_changed(f, &v3);
    assert_int_equal(stats(f->r).reloads, 3);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* A refused file: keys kept, counted and logged once, not retried until
 * the file changes again; then a good file loads. */
static void refused_once(struct fx *f, const struct version *v1, const char *bad, size_t len,
                         int expect)
{
    struct version good;
    int32_t c;
    uint32_t line = 0;
    uint64_t fails = stats(f->r).reload_failures;
    int errors = atomic_load(&f->errors);

    put_rename(f, f->path, bad, len);
    assert_int_equal(tr_ring_reload_check(f->r, &c, &line), expect);
    assert_int_equal(c, 0);
    assert_fp(f->r, v1->fp);
    assert_int_equal(stats(f->r).reload_failures, fails + 1);
    assert_true(atomic_load(&f->errors) > errors);
    errors = atomic_load(&f->errors);
    for (int i = 0; i < 3; i++)
        check_unchanged(f);
    assert_int_equal(stats(f->r).reload_failures, fails + 1);
    assert_int_equal(atomic_load(&f->errors), errors);
    assert_fp(f->r, v1->fp);

    next_version(f, &good);
    put_rename(f, f->path, good.bytes, good.len);
    check_changed(f, &good);
    assert_int_equal(stats(f->r).reload_failures, fails + 1);
    drop(&good);
}

static void test_truncated(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    start_plain(f, &v1);
    next_version(f, &v2);
    /* Cut mid-key: the checksum line is gone. */
    refused_once(f, &v1, v2.bytes, v2.len / 2, TR_E_KEYFILE_INTEGRITY);
    drop(&v1);
    drop(&v2);
}

static void test_bad_checksum(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    char *sum;
    start_plain(f, &v1);
    next_version(f, &v2);
    sum = strstr(v2.bytes, "checksum sha256 ");
    assert_non_null(sum);
    sum += strlen("checksum sha256 ");
    *sum = *sum == '0' ? '1' : '0';
    refused_once(f, &v1, v2.bytes, v2.len, TR_E_KEYFILE_INTEGRITY);
    drop(&v1);
    drop(&v2);
}

static void test_syntax_error_line(void **state)
{
    struct fx *f = *state;
    struct version v1;
    static const char bad[] = "ticketring-keys 2\nserial 99\nbogus line\n";
    uint32_t line = 0;
    start_plain(f, &v1);
    put_rename(f, f->path, bad, sizeof(bad) - 1);
    assert_int_equal(tr_ring_reload_check(f->r, NULL, &line), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(line, 3);
    assert_int_equal(tr_ring_reload_check(f->r, NULL, &line), 0);
    assert_int_equal(line, 0);
    assert_fp(f->r, v1.fp);
    drop(&v1);
}

/* The permission policy: a new file readable by others is refused; the
 * chmod that fixes it is a change, and then it loads. The same bytes as
 * loaded becoming readable by others also go through the policy. */
static void test_mode_refused(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    start_plain(f, &v1);
    assert_int_equal(tr_ring_set_file_mode_policy(f->r, TR_FILE_MODE_REFUSE), 0);

    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(check(f, NULL), TR_E_KEYFILE_MODE);
    assert_int_equal(stats(f->r).reload_failures, 1);
    check_unchanged(f);
    assert_int_equal(stats(f->r).reload_failures, 1);
    assert_int_equal(chmod(f->path, 0600), 0);
    check_unchanged(f); /* the bytes the ring holds: nothing to load */

    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len);
    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(check(f, NULL), TR_E_KEYFILE_MODE);
    assert_fp(f->r, v1.fp);
    check_unchanged(f);
    assert_int_equal(stats(f->r).reload_failures, 2);
    assert_int_equal(chmod(f->path, 0600), 0);
    check_changed(f, &v2);
    assert_int_equal(stats(f->r).reload_failures, 2);
    drop(&v1);
    drop(&v2);
}

/* The file vanishes (a writer that deletes, then creates): one failure,
 * counted once; back, it loads. */
static void test_deleted(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    start_plain(f, &v1);
    assert_int_equal(unlink(f->path), 0);
    assert_int_equal(check(f, NULL), TR_E_IO);
    check_unchanged(f);
    assert_int_equal(stats(f->r).reload_failures, 1);
    assert_fp(f->r, v1.fp);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len);
    check_changed(f, &v2);
    assert_int_equal(stats(f->r).reload_failures, 1);
    drop(&v1);
    drop(&v2);
}

/* A rewrite with the same keys and a higher serial: loaded (the serial
 * moves on) but the key set did not change. */
static void test_same_keys_new_serial(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    uint64_t serial = 0, want = 1;
    int32_t c;
    start_plain(f, &v1);
    save_version(f, &v2);
    assert_string_equal(v1.fp, v2.fp);
    put_rename(f, f->path, v2.bytes, v2.len);
    assert_int_equal(check(f, &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(stats(f->r).reloads, 2);
    assert_int_equal(tr_ring_serial(f->r, &serial), 0);
    assert_int_equal(tr_ring_serial(f->writer, &want), 0);
    assert_int_equal(serial, want);
    drop(&v1);
    drop(&v2);
}

/* The application loads another file: the check follows it, taking the
 * file as just loaded. */
static void test_path_follows_load(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    char other[160];
    start_plain(f, &v1);
    snprintf(other, sizeof(other), "%s/other.keys", f->dir);
    next_version(f, &v2);
    put_rename(f, other, v2.bytes, v2.len);
    assert_int_equal(tr_ring_load(f->r, other, NULL), 0);
    check_unchanged(f);
    assert_int_equal(stats(f->r).reloads, 2);
    next_version(f, &v3);
    put_rename(f, f->path, v3.bytes, v3.len); /* the old path: not watched */
    check_unchanged(f);
    put_rename(f, other, v3.bytes, v3.len);
    check_changed(f, &v3);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* Version-1 files (no serial: going back is allowed) A, then B loaded by
 * the application itself, then A's bytes again: the check must not think
 * the ring still holds A. */
static void v1_file(struct fx *f, uint8_t seed, struct version *v)
{
    struct tri_keyfile_entry e;
    tr_ring *tmp;
    char *buf = malloc(tri_keyfile_size(1));
    assert_non_null(buf);
    memset(&e, 0, sizeof(e));
    tu_key(e.key, seed);
    e.activation = T0 - 10;
    assert_int_equal(tri_keyfile_format(tu_backend(), NULL, &e, 1, buf, tri_keyfile_size(1),
                                        &v->len),
                     0);
    v->bytes = buf;
    tmp = tu_ring(&f->clock);
    assert_int_equal(tr_ring_add_key(tmp, e.key, e.activation), 0);
    assert_int_equal(tr_ring_fingerprint(tmp, v->fp, sizeof(v->fp)), 0);
    tr_ring_free(tmp);
}

static void test_foreign_reload(void **state)
{
    struct fx *f = *state;
    struct version a, b;
    v1_file(f, 1, &a);
    v1_file(f, 2, &b);
    put_rename(f, f->path, a.bytes, a.len);
    assert_int_equal(tr_ring_load(f->r, f->path, NULL), 0);
    check_unchanged(f);
    put_rename(f, f->path, b.bytes, b.len);
    assert_int_equal(tr_ring_reload(f->r, NULL), 0); /* not through the check */
    assert_fp(f->r, b.fp);
    put_rename(f, f->path, a.bytes, a.len);
    check_changed(f, &a);
    check_unchanged(f);
    /* A reload by the application of a file the check has seen: nothing
     * more to do. */
    assert_int_equal(tr_ring_reload(f->r, NULL), 0);
    check_unchanged(f);
    assert_fp(f->r, a.fp);
    drop(&a);
    drop(&b);
}

/* Every allocation failing in turn, in the first check and in the one
 * that finds a change: TR_E_NOMEM or success, nothing leaked, the keys
 * never half-changed, and once allocations work again the next change is
 * loaded. */
static void test_alloc_failures(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    next_version(f, &v1);
    next_version(f, &v2);
    next_version(f, &v3);
    for (uint64_t n = 1;; n++) {
        struct tu_alloc a = {0, 0, 0, 0};
        char fp[TR_FINGERPRINT_HEX + 1];
        tr_ring *r = NULL;
        int rc, failed;
        put_rename(f, f->path, v1.bytes, v1.len);
        assert_int_equal(tr_ring_new_with_allocator(&r, tu_backend(), tu_malloc, tu_free, &a),
                         0);
        assert_int_equal(tr_ring_set_clock(r, tu_clock, &f->clock), 0);
        assert_int_equal(tr_ring_load(r, f->path, NULL), 0);
        a.fail_at = a.allocs + n;
        rc = tr_ring_reload_check(r, NULL, NULL);
        assert_true(rc == 0 || rc == TR_E_NOMEM);
        put_rename(f, f->path, v2.bytes, v2.len);
        rc = tr_ring_reload_check(r, NULL, NULL);
        assert_true(rc == 0 || rc == TR_E_NOMEM);
        assert_int_equal(tr_ring_fingerprint(r, fp, sizeof(fp)), 0);
        assert_true(strcmp(fp, v1.fp) == 0 || strcmp(fp, v2.fp) == 0);
        failed = a.allocs >= a.fail_at;
        a.fail_at = 0;
        assert_int_equal(tr_ring_reload_check(r, NULL, NULL), 0);
        put_rename(f, f->path, v3.bytes, v3.len);
        assert_int_equal(tr_ring_reload_check(r, NULL, NULL), 0);
        assert_fp(r, v3.fp);
        tr_ring_free(r);
        /* The failed allocation returned NULL and was never freed. */
        assert_int_equal(a.allocs - failed, a.frees);
        if (!failed)
            break;
    }
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* Without word from the load path, the first check takes the file it
 * finds as the one loaded: a change made between tr_ring_load() and that
 * first check waits for the next change (documented). */
/* The load records what it loaded: a file replaced between the load and
 * the first check is seen by that check. */
static void test_change_before_first_check(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    next_version(f, &v1);
    put_rename(f, f->path, v1.bytes, v1.len);
    assert_int_equal(tr_ring_load(f->r, f->path, NULL), 0);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len);
    check_changed(f, &v2);
    check_unchanged(f);
    drop(&v1);
    drop(&v2);
}

/* tri_watch_loaded(), called the way the load path would call it (under
 * the writer lock, right after the load, with the bytes and fstat() of
 * what was loaded): the first check then knows what the ring holds. */
static void simulate_load_hook(struct fx *f, const struct version *v)
{
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    tri_ring_writer_lock(f->r);
    tri_watch_loaded(f->r, v->bytes, v->len, &st);
    tri_ring_writer_unlock(f->r);
}

static void test_load_hook(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    next_version(f, &v1);
    put_rename(f, f->path, v1.bytes, v1.len);
    assert_int_equal(tr_ring_load(f->r, f->path, NULL), 0);
    simulate_load_hook(f, &v1);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len);
    check_changed(f, &v2); /* the change before the first check */
    check_unchanged(f);
    /* The application reloads a newer file itself: no second reload. */
    next_version(f, &v3);
    put_rename(f, f->path, v3.bytes, v3.len);
    assert_int_equal(tr_ring_reload(f->r, NULL), 0);
    simulate_load_hook(f, &v3);
    check_unchanged(f);
    assert_int_equal(stats(f->r).reloads, 3);
    assert_fp(f->r, v3.fp);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* ---- the watcher thread --------------------------------------------------- */

/* Poll the ring's fingerprint until it is fp: 1 within the deadline. */
static int wait_fp(tr_ring *r, const char *fp, int ms)
{
    char got[TR_FINGERPRINT_HEX + 1];
    struct timespec nap = {0, NAP_MS * 1000000L};
    for (int waited = 0; waited <= ms; waited += NAP_MS) {
        assert_int_equal(tr_ring_fingerprint(r, got, sizeof(got)), 0);
        if (strcmp(got, fp) == 0)
            return 1;
        nanosleep(&nap, NULL);
    }
    return 0;
}

static void test_watch_api(void **state)
{
    struct fx *f = *state;
    struct version v1;
    start_plain(f, &v1);
    assert_int_equal(tr_ring_watch(f->r, 3601), TR_E_INVAL);
    assert_int_equal(tr_ring_watch(f->r, 0), 0);
    assert_int_equal(tr_ring_watch(f->r, 5), TR_E_INVAL); /* one per ring */
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    assert_int_equal(tr_ring_watch(f->r, LONG_POLL), 0);
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    assert_int_equal(tr_ring_watch(f->r, 1), 0);
    /* teardown frees the ring with its watcher running */
    drop(&v1);
}

static void test_watch_rename(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    start_plain(f, &v1);
    assert_int_equal(tr_ring_watch(f->r, LONG_POLL), 0);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len);
    assert_true(wait_fp(f->r, v2.fp, WAIT_MS));
    next_version(f, &v3);
    put_rename(f, f->path, v3.bytes, v3.len);
    assert_true(wait_fp(f->r, v3.fp, WAIT_MS));
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

static void test_watch_inplace(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    start_plain(f, &v1);
    assert_int_equal(tr_ring_watch(f->r, LONG_POLL), 0);
    swap_version(f, &v2);
    put_inplace(f, f->path, v2.bytes, v2.len);
    assert_true(wait_fp(f->r, v2.fp, WAIT_MS));
    next_version(f, &v3);
    put_inplace(f, f->path, v3.bytes, v3.len);
    assert_true(wait_fp(f->r, v3.fp, WAIT_MS));
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* Two flips in a row: the second is the one a watch on the file misses. */
static void test_watch_k8s(void **state)
{
    struct fx *f = *state;
    struct version v[4];
    next_version(f, &v[0]);
    k8s_init(f, &v[0]);
    assert_int_equal(tr_ring_load(f->r, f->path, NULL), 0);
    assert_int_equal(tr_ring_watch(f->r, LONG_POLL), 0);
    for (int i = 1; i < 4; i++) {
        next_version(f, &v[i]);
        k8s_flip(f, &v[i]);
        assert_true(wait_fp(f->r, v[i].fp, WAIT_MS));
    }
    assert_int_equal(stats(f->r).reload_failures, 0);
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    for (int i = 0; i < 4; i++)
        drop(&v[i]);
}

/* A refused file seen by the watcher: logged and counted once, even
 * across later events in the directory, and the keys stay. */
static void test_watch_refused_once(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    char other[160];
    struct timespec nap = {0, 300 * 1000000L};
    start_plain(f, &v1);
    assert_int_equal(tr_ring_watch(f->r, 1), 0);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len / 2);
    for (int i = 0; i < 500 && stats(f->r).reload_failures == 0; i++)
        nanosleep(&(struct timespec){0, NAP_MS * 1000000L}, NULL);
    assert_int_equal(stats(f->r).reload_failures, 1);
    /* Other files in the directory change; polls pass. */
    snprintf(other, sizeof(other), "%s/unrelated", f->dir);
    for (int i = 0; i < 5; i++) {
        write_file(other, "x", 1, O_TRUNC);
        nanosleep(&nap, NULL);
    }
    assert_int_equal(stats(f->r).reload_failures, 1);
    assert_fp(f->r, v1.fp);
    next_version(f, &v3);
    put_rename(f, f->path, v3.bytes, v3.len);
    assert_true(wait_fp(f->r, v3.fp, WAIT_MS));
    assert_int_equal(stats(f->r).reload_failures, 1);
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* Without inotify the poll alone picks changes up. */
static void test_watch_poll_only(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    start_plain(f, &v1);
    tri_watch_set_inotify(0);
    assert_int_equal(tr_ring_watch(f->r, 1), 0);
    tri_watch_set_inotify(1);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, v2.len);
    assert_true(wait_fp(f->r, v2.fp, WAIT_MS));
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    drop(&v1);
    drop(&v2);
}

/* A symlink in a third directory (path -> link dir -> real dir): the flip
 * happens where no watch is; the poll backstop catches it. */
static void test_watch_poll_backstop(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    char links[160], real1[160], real2[160], link[200], tmp[200], target[200];

    snprintf(links, sizeof(links), "%s/links", f->scratch);
    snprintf(real1, sizeof(real1), "%s/real1", f->scratch);
    snprintf(real2, sizeof(real2), "%s/real2", f->scratch);
    assert_int_equal(mkdir(links, 0700), 0);
    assert_int_equal(mkdir(real1, 0700), 0);
    assert_int_equal(mkdir(real2, 0700), 0);
    next_version(f, &v1);
    snprintf(target, sizeof(target), "%s/tickets.keys", real1);
    write_file(target, v1.bytes, v1.len, O_TRUNC);
    snprintf(link, sizeof(link), "%s/current", links);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(symlink(link, f->path), 0);
    assert_int_equal(tr_ring_load(f->r, f->path, NULL), 0);
    assert_int_equal(tr_ring_watch(f->r, 1), 0);

    next_version(f, &v2);
    snprintf(target, sizeof(target), "%s/tickets.keys", real2);
    write_file(target, v2.bytes, v2.len, O_TRUNC);
    snprintf(tmp, sizeof(tmp), "%s/current.tmp", links);
    assert_int_equal(symlink(target, tmp), 0);
    assert_int_equal(rename(tmp, link), 0);
    assert_true(wait_fp(f->r, v2.fp, WAIT_MS));
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    drop(&v1);
    drop(&v2);
}

/* A forked child inherits no watcher thread: unwatching and freeing there
 * must neither join a thread that does not exist nor hang; the child can
 * check and watch on its own. The parent's watcher keeps working. */
static void test_fork(void **state)
{
    struct fx *f = *state;
    struct version v1, v2, v3;
    int status = 0;
    pid_t pid;

    start_plain(f, &v1);
    assert_int_equal(tr_ring_watch(f->r, LONG_POLL), 0);
    next_version(f, &v2);
    next_version(f, &v3);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char fp[TR_FINGERPRINT_HEX + 1];
        int code = 0;
        alarm(20);
        if (tr_ring_unwatch(f->r) != 0)
            code = 1;
        else if (tr_ring_watch(f->r, LONG_POLL) != 0)
            code = 2;
        else if (tr_ring_watch(f->r, LONG_POLL) != TR_E_INVAL)
            code = 3;
        if (code == 0) {
            char tmp[160];
            int fd;
            snprintf(tmp, sizeof(tmp), "%s/.child", f->dir);
            fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0 || write(fd, v2.bytes, v2.len) != (ssize_t)v2.len || close(fd) != 0 ||
                rename(tmp, f->path) != 0)
                _exit(5);
            code = 4;
            for (int i = 0; i < WAIT_MS / NAP_MS && code == 4; i++) {
                if (tr_ring_fingerprint(f->r, fp, sizeof(fp)) == 0 && strcmp(fp, v2.fp) == 0)
                    code = 0;
                nanosleep(&(struct timespec){0, NAP_MS * 1000000L}, NULL);
            }
        }
        tr_ring_free(f->r);
        _exit(code);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* The child's change (v2) reached the parent's watcher too; now v3. */
    assert_true(wait_fp(f->r, v2.fp, WAIT_MS));
    put_rename(f, f->path, v3.bytes, v3.len);
    assert_true(wait_fp(f->r, v3.fp, WAIT_MS));
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    drop(&v1);
    drop(&v2);
    drop(&v3);
}

/* Unwatch from inside the watcher's own thread (a log callback): refused,
 * not a self-join. */
static tr_ring *self_ring;
static atomic_int self_rc = 1;

static void unwatch_from_log(int32_t level, const char *msg, void *arg)
{
    (void)level;
    (void)msg;
    (void)arg;
    if (strstr(msg, "refused") != NULL)
        atomic_store(&self_rc, tr_ring_unwatch(self_ring));
}

static void test_unwatch_from_watcher(void **state)
{
    struct fx *f = *state;
    struct version v1, v2;
    start_plain(f, &v1);
    self_ring = f->r;
    atomic_store(&self_rc, 1);
    assert_int_equal(tr_ring_set_log(f->r, unwatch_from_log, NULL), 0);
    assert_int_equal(tr_ring_watch(f->r, LONG_POLL), 0);
    next_version(f, &v2);
    put_rename(f, f->path, v2.bytes, 10);
    for (int i = 0; i < WAIT_MS / NAP_MS && atomic_load(&self_rc) == 1; i++)
        nanosleep(&(struct timespec){0, NAP_MS * 1000000L}, NULL);
    assert_int_equal(atomic_load(&self_rc), TR_E_INVAL);
    assert_int_equal(tr_ring_unwatch(f->r), 0);
    drop(&v1);
    drop(&v2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_no_file),
        T(test_unchanged_no_read),
        T(test_rename),
        T(test_inplace_same_size),
        T(test_same_content_rewrite),
        T(test_k8s_flip),
        T(test_truncated),
        T(test_bad_checksum),
        T(test_syntax_error_line),
        T(test_mode_refused),
        T(test_deleted),
        T(test_same_keys_new_serial),
        T(test_path_follows_load),
        T(test_foreign_reload),
        T(test_alloc_failures),
        T(test_change_before_first_check),
        T(test_load_hook),
        T(test_watch_api),
        T(test_watch_rename),
        T(test_watch_inplace),
        T(test_watch_k8s),
        T(test_watch_refused_once),
        T(test_watch_poll_only),
        T(test_watch_poll_backstop),
        T(test_fork),
        T(test_unwatch_from_watcher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
