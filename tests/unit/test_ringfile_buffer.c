/* tr_ring_load_buffer() (lib/ringfile.c): a key file from memory takes the
 * file loader's path after the read, with the same refusals, and leaves
 * the remembered path alone. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "ring.h"

#define T0 1700000000

struct text {
    char *buf; /* exactly len bytes, no NUL: overreads show under ASan */
    size_t len;
};

/* A key file made by tr_ring_save() from a ring whose clock reads t
 * seconds (its serial is then t * 1000), holding keys of the given seeds
 * activating at T0, T0 + 1, ... and pinned to `cluster` (NULL: none). */
static struct text make_text(int64_t t, const char *cluster, const uint8_t *seeds, size_t n)
{
    int64_t clock_ms = t * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    uint8_t key[TR_KEY_BYTES];
    char path[] = "/tmp/tr-buffer-XXXXXX";
    struct text out;
    int fd = mkstemp(path);
    struct stat st;

    assert_true(fd >= 0);
    close(fd);
    for (size_t i = 0; i < n; i++) {
        tu_key(key, seeds[i]);
        assert_int_equal(tr_ring_add_key(r, key, T0 + (int64_t)i), 0);
    }
    if (cluster != NULL)
        assert_int_equal(tr_ring_set_cluster(r, cluster), 0);
    assert_int_equal(tr_ring_save(r, path), 0);
    assert_int_equal(stat(path, &st), 0);
    out.len = (size_t)st.st_size;
    out.buf = malloc(out.len);
    assert_non_null(out.buf);
    assert_int_equal(tri_keyfile_read(path, out.buf, out.len, &out.len), 0);
    unlink(path);
    tr_ring_free(r);
    return out;
}

static char *to_file(const struct text *t)
{
    return tu_write_temp(t->buf, t->len);
}

static void fp_of(tr_ring *r, char fp[TR_FINGERPRINT_HEX + 1])
{
    assert_int_equal(tr_ring_fingerprint(r, fp, TR_FINGERPRINT_HEX + 1), 0);
}

static uint64_t stat_of(tr_ring *r, int reloads)
{
    tr_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    assert_int_equal(tr_ring_stats(r, &st), 0);
    return reloads ? st.reloads : st.reload_failures;
}

/* The same bytes from memory and from a file give the same key set. */
static void test_same_as_file(void **state)
{
    static const uint8_t seeds[] = {1, 2, 3};
    struct text a = make_text(T0, "edge-1", seeds, 3);
    char *path = to_file(&a);
    int64_t c1 = (int64_t)T0 * 1000, c2 = c1;
    tr_ring *from_file = tu_ring(&c1), *from_mem = tu_ring(&c2);
    char f1[TR_FINGERPRINT_HEX + 1], f2[TR_FINGERPRINT_HEX + 1], cl[80];
    uint64_t serial = 0;
    uint32_t line = 99;
    (void)state;

    assert_int_equal(tr_ring_load(from_file, path, NULL), 0);
    assert_int_equal(tr_ring_load_buffer(from_mem, a.buf, a.len, 0, &line), 0);
    assert_int_equal(line, 0);
    fp_of(from_file, f1);
    fp_of(from_mem, f2);
    assert_string_equal(f1, f2);
    assert_int_equal(tr_ring_serial(from_mem, &serial), 0);
    assert_true(serial == (uint64_t)T0 * 1000);
    assert_int_equal(tr_ring_cluster(from_mem, cl, sizeof cl), 0);
    assert_string_equal(cl, "edge-1");
    assert_int_equal(stat_of(from_mem, 1), 1);
    /* No path is remembered. */
    assert_int_equal(tr_ring_reload(from_mem, NULL), TR_E_NO_FILE);
    /* The same document again changes nothing and still counts as loaded. */
    assert_int_equal(tr_ring_load_buffer(from_mem, a.buf, a.len, 0, NULL), 0);
    fp_of(from_mem, f2);
    assert_string_equal(f1, f2);
    unlink(path);
    free(path);
    free(a.buf);
    tr_ring_free(from_file);
    tr_ring_free(from_mem);
}

/* A file loaded earlier stays the one tr_ring_reload() reads. */
static void test_path_kept(void **state)
{
    static const uint8_t s1[] = {1}, s2[] = {1, 2};
    struct text a = make_text(T0, "c", s1, 1), b = make_text(T0 + 1, "c", s2, 2);
    char *path = to_file(&a);
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    char fb[TR_FINGERPRINT_HEX + 1], now[TR_FINGERPRINT_HEX + 1];
    uint32_t count = 0;
    (void)state;

    assert_int_equal(tr_ring_load(r, path, NULL), 0);
    assert_int_equal(tr_ring_load_buffer(r, b.buf, b.len, 0, NULL), 0);
    assert_int_equal(tr_ring_key_count(r, &count), 0);
    assert_int_equal(count, 2);
    fp_of(r, fb);
    /* The remembered file is older than the buffer: reloading it is a
     * rollback, refused, which proves it is still the file read. */
    assert_int_equal(tr_ring_reload(r, NULL), TR_E_KEYFILE_ROLLBACK);
    fp_of(r, now);
    assert_string_equal(fb, now);
    unlink(path);
    free(path);
    free(a.buf);
    free(b.buf);
    tr_ring_free(r);
}

static void test_rollback_and_force(void **state)
{
    static const uint8_t s1[] = {1}, s2[] = {1, 2};
    struct text old = make_text(T0, "c", s1, 1), cur = make_text(T0 + 5, "c", s2, 2);
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    char before[TR_FINGERPRINT_HEX + 1], after[TR_FINGERPRINT_HEX + 1];
    uint32_t line = 0;
    uint64_t serial = 0;
    (void)state;

    assert_int_equal(tr_ring_load_buffer(r, cur.buf, cur.len, 0, NULL), 0);
    fp_of(r, before);
    assert_int_equal(tr_ring_load_buffer(r, old.buf, old.len, 0, &line), TR_E_KEYFILE_ROLLBACK);
    assert_true(line > 0); /* the serial line */
    fp_of(r, after);
    assert_string_equal(before, after);
    assert_int_equal(stat_of(r, 0), 1);
    assert_int_equal(tr_ring_serial(r, &serial), 0);
    assert_true(serial == (uint64_t)(T0 + 5) * 1000);
    assert_int_equal(tr_ring_load_buffer(r, old.buf, old.len, TR_LOAD_FORCE, NULL), 0);
    assert_int_equal(tr_ring_serial(r, &serial), 0);
    assert_true(serial == (uint64_t)T0 * 1000);
    free(old.buf);
    free(cur.buf);
    tr_ring_free(r);
}

static void test_cluster_refused(void **state)
{
    static const uint8_t s1[] = {1};
    struct text other = make_text(T0, "other", s1, 1);
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    uint32_t line = 0, count = 9;
    (void)state;

    assert_int_equal(tr_ring_set_cluster(r, "mine"), 0);
    assert_int_equal(tr_ring_load_buffer(r, other.buf, other.len, 0, &line),
                     TR_E_KEYFILE_CLUSTER);
    assert_true(line > 0);
    /* Forcing is about serials, never about clusters. */
    assert_int_equal(tr_ring_load_buffer(r, other.buf, other.len, TR_LOAD_FORCE, NULL),
                     TR_E_KEYFILE_CLUSTER);
    assert_int_equal(tr_ring_key_count(r, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(stat_of(r, 0), 2);
    free(other.buf);
    tr_ring_free(r);
}

/* Every byte flipped in turn: refused, never applied, never a crash. */
static void test_tampered(void **state)
{
    static const uint8_t s1[] = {1, 2};
    struct text a = make_text(T0, "c", s1, 2);
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    uint32_t count = 9;
    (void)state;

    for (size_t i = 0; i < a.len; i++) {
        int rc;
        a.buf[i] ^= 0x01;
        rc = tr_ring_load_buffer(r, a.buf, a.len, 0, NULL);
        a.buf[i] ^= 0x01;
        assert_true(rc == TR_E_KEYFILE_INTEGRITY || rc == TR_E_KEYFILE_SYNTAX);
    }
    assert_int_equal(tr_ring_key_count(r, &count), 0);
    assert_int_equal(count, 0);
    /* Truncated at every length. */
    for (size_t n = 0; n < a.len; n++) {
        char *cut = malloc(n + 1);
        assert_non_null(cut);
        memcpy(cut, a.buf, n);
        assert_true(tr_ring_load_buffer(r, cut, n, 0, NULL) < 0);
        free(cut);
    }
    assert_int_equal(tr_ring_load_buffer(r, a.buf, a.len, 0, NULL), 0);
    free(a.buf);
    tr_ring_free(r);
}

static void test_arguments(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    uint32_t line = 7;
    char *big;
    (void)state;

    assert_int_equal(tr_ring_load_buffer(NULL, "x", 1, 0, &line), TR_E_INVAL);
    assert_int_equal(line, 0);
    assert_int_equal(tr_ring_load_buffer(r, NULL, 1, 0, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_load_buffer(r, "x", 1, 2, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_load_buffer(r, NULL, 0, 0, NULL), TR_E_KEYFILE_SYNTAX);
    big = calloc(1, TRI_KEYFILE_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, '#', TRI_KEYFILE_MAX_BYTES + 1);
    assert_int_equal(tr_ring_load_buffer(r, big, TRI_KEYFILE_MAX_BYTES + 1, 0, NULL),
                     TR_E_KEYFILE_SYNTAX);
    free(big);
    tr_ring_free(r);
}

/* Memory has no file mode: the policy that refuses readable files does not
 * apply; the activation horizon does. */
static void test_mode_and_horizon(void **state)
{
    static const uint8_t s1[] = {1};
    struct text a = make_text(T0, "c", s1, 1);
    int64_t clock_ms = (int64_t)(T0 - 3600) * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    uint32_t count = 0;
    (void)state;

    assert_int_equal(tr_ring_set_file_mode_policy(r, TR_FILE_MODE_REFUSE), 0);
    assert_int_equal(tr_ring_set_activation_horizon(r, 60), 0);
    assert_int_equal(tr_ring_load_buffer(r, a.buf, a.len, 0, NULL), TR_E_KEY_ACTIVATION);
    assert_int_equal(tr_ring_set_activation_horizon(r, 7200), 0);
    assert_int_equal(tr_ring_load_buffer(r, a.buf, a.len, 0, NULL), 0);
    assert_int_equal(tr_ring_key_count(r, &count), 0);
    assert_int_equal(count, 1);
    free(a.buf);
    tr_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_file),
        cmocka_unit_test(test_path_kept),
        cmocka_unit_test(test_rollback_and_force),
        cmocka_unit_test(test_cluster_refused),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_mode_and_horizon),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
