/* The ring's key file (lib/ringfile.c): load, reload, save; cluster pin,
 * serial and rollback, file mode policy, activation horizon. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "ring.h"

#define T0 1700000000
/* The serial a ring that never saw one writes first: its clock in ms. */
#define S0 ((uint64_t)T0 * 1000)
#define S0_TEXT "1700000000000"
#define S1_TEXT "1700000000001"

/* ---- helpers -------------------------------------------------------------- */

struct log_capture {
    char text[8192];
    int lines, warnings, errors;
};

static void capture(int32_t level, const char *msg, void *arg)
{
    struct log_capture *lc = arg;
    strncat(lc->text, msg, sizeof(lc->text) - strlen(lc->text) - 2);
    strcat(lc->text, "\n");
    lc->lines++;
    lc->warnings += level == TR_LOG_WARN;
    lc->errors += level == TR_LOG_ERROR;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* `body` and its checksum line into a fresh 0600 file; malloc'd path. */
static char *file_with(const char *body)
{
    uint8_t d[TRI_SHA256_BYTES];
    size_t bl = strlen(body);
    char *buf = malloc(bl + 100), *path;
    size_t pos;
    assert_non_null(buf);
    memcpy(buf, body, bl);
    assert_int_equal(tu_backend()->sha256((const uint8_t *)body, bl, d), 0);
    pos = bl + (size_t)sprintf(buf + bl, "checksum sha256 ");
    for (size_t i = 0; i < sizeof d; i++)
        pos += (size_t)sprintf(buf + pos, "%02x", d[i]);
    buf[pos++] = '\n';
    path = tu_write_temp(buf, pos);
    free(buf);
    return path;
}

/* tu_key() is an arithmetic progression: one key's name (public, logged)
 * can appear inside another's secret. Keys whose bytes do not line up,
 * for tests that look for secrets in logs (xorshift64*). */
static void mixed_key(uint8_t k[TR_KEY_BYTES], uint8_t seed)
{
    uint64_t x = 0x9E3779B97F4A7C15u * (seed + 1u);
    for (size_t i = 0; i < TR_KEY_BYTES; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        k[i] = (uint8_t)((x * 0x2545F4914F6CDD1Du) >> 56);
    }
}

static int mixed_keys; /* key_line() uses mixed_key() instead of tu_key() */

/* A key line for tu_key(seed) (or mixed_key()): "key NAME ACT SECRET[ revoked]\n". */
static void key_line(char *out, uint8_t seed, const char *act, int revoked)
{
    uint8_t k[TR_KEY_BYTES];
    char name[33], secret[129];
    if (mixed_keys)
        mixed_key(k, seed);
    else
        tu_key(k, seed);
    hex(k, 16, name);
    hex(k + 16, 64, secret);
    sprintf(out, "key %s %s %s%s\n", name, act, secret, revoked ? " revoked" : "");
}

/* A key file: version 1 when serial is 0, else version 2 with `cluster`
 * (NULL: no cluster line); keys tu_key(seeds[i]) at acts[i]. */
static char *key_file(const char *cluster, uint64_t serial, const uint8_t *seeds,
                      const char *const *acts, int n)
{
    char body[4096], line[300];
    char *path;
    if (serial == 0) {
        strcpy(body, "ticketring-keys 1\n");
    } else {
        strcpy(body, "ticketring-keys 2\n");
        if (cluster != NULL) {
            snprintf(line, sizeof line, "cluster %s\n", cluster);
            strcat(body, line);
        }
        snprintf(line, sizeof line, "serial %llu\n", (unsigned long long)serial);
        strcat(body, line);
    }
    for (int i = 0; i < n; i++) {
        key_line(line, seeds[i], acts[i], 0);
        strcat(body, line);
    }
    path = file_with(body);
    return path;
}

static const uint8_t seeds12[] = {1, 2}, seeds13[] = {1, 3}, seeds123[] = {1, 2, 3};
static const char *const acts2[] = {"1699999000", "1700000000"};
static const char *const acts3[] = {"1699999000", "1700000000", "1700003600"};

static void fingerprint(tr_ring *r, char fp[TR_FINGERPRINT_HEX + 1])
{
    assert_int_equal(tr_ring_fingerprint(r, fp, TR_FINGERPRINT_HEX + 1), 0);
}

static uint64_t serial_of(tr_ring *r)
{
    uint64_t s = 12345;
    assert_int_equal(tr_ring_serial(r, &s), 0);
    return s;
}

static tr_stats stats_of(tr_ring *r)
{
    tr_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    return s;
}

/* A whole file into a malloc'd NUL-terminated string. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(TRI_KEYFILE_MAX_BYTES + 1);
    size_t n;
    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, TRI_KEYFILE_MAX_BYTES, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void drop(char *path)
{
    unlink(path);
    free(path);
}

/* Replace the file at `path` by renaming `from` over it. */
static void replace_with(const char *path, char *from)
{
    assert_int_equal(rename(from, path), 0);
    free(from);
}

/* ---- version 1 and saving --------------------------------------------- */

/* Version-1 files load as before: no serial, no cluster, the fingerprint
 * of before version 2 (pinned; see test_keyset.c). */
static void test_load_v1(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    static const char *const acts[] = {"100", "200"};
    char *path = key_file(NULL, 0, seeds12, acts, 2);
    char fp[17], cl[65] = "x";
    (void)st;
    assert_int_equal(tr_ring_load(r, path, NULL), 0);
    fingerprint(r, fp);
    assert_string_equal(fp, "ddc459c7ac29d65d");
    assert_int_equal(serial_of(r), 0);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof(cl)), 0);
    assert_string_equal(cl, "");
    /* The same file again: loaded (a no-op), not a rollback. */
    assert_int_equal(tr_ring_reload(r, NULL), 0);
    assert_int_equal(stats_of(r).reloads, 2);
    drop(path);
    tr_ring_free(r);
}

/* The example files of docs/key-file-format.md and their fingerprints
 * (computed independently of the library). */
static void test_doc_examples(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char fp[17], cl[65];
    char *v1, *v2;
    (void)st;
    v1 = file_with(
        "# libticketring key file (docs/key-file-format.md): secret, keep it mode 0600\n"
        "ticketring-keys 1\n\n"
        "# keys may come in any order; the ring sorts them by activation time\n"
        "key 0123456789abcdef0123456789abcdef 1767225600 "
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"
        "key fedcba9876543210fedcba9876543210 1767312000 "
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
        "a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f\n");
    v2 = file_with(
        "# libticketring key file (docs/key-file-format.md): secret, keep it mode 0600\n"
        "ticketring-keys 2\ncluster edge-eu.prod\nserial 42\n\n"
        "# two dated keys, one pending (decrypts, waits for a later file to date it),\n"
        "# one revoked (neither encrypts nor decrypts; listed so every node drops it)\n"
        "key 0123456789abcdef0123456789abcdef 1767225600 "
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
        "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n"
        "key fedcba9876543210fedcba9876543210 1767312000 "
        "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
        "a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f\n"
        "key 00112233445566778899aabbccddeeff pending "
        "2233445566778899aabbccddeeff00112233445566778899aabbccddeeff0011"
        "ddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100ffee\n"
        "key 8899aabbccddeeff0011223344556677 1767139200 "
        "44556677889900aabbccddeeff11223344556677889900aabbccddeeff112233"
        "bbaa99887766554433221100ffeeddccbbaa99887766554433221100ffeeddcc revoked\n");
    assert_int_equal(tr_ring_load(r, v1, NULL), 0);
    fingerprint(r, fp);
    assert_string_equal(fp, "aacdf851e76f915a");
    assert_int_equal(tr_ring_load(r, v2, NULL), 0);
    fingerprint(r, fp);
    assert_string_equal(fp, "2779ec2679db514e");
    assert_int_equal(serial_of(r), 42);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof(cl)), 0);
    assert_string_equal(cl, "edge-eu.prod");
    drop(v1);
    drop(v2);
    tr_ring_free(r);
}

/* tr_ring_save() writes version 2: cluster, serial + 1, pending and
 * revoked keys; another ring reads back the same keys and roles. */
static void test_save_v2(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *a = tu_ring(&c), *b = tu_ring(&c);
    char *path = tu_write_temp("", 0);
    uint8_t k[TR_KEY_BYTES];
    char fa[17], fb[17], cl[65], *text;
    int32_t role;
    int64_t act;
    (void)st;
    assert_int_equal(tr_ring_serial(a, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_serial(NULL, (uint64_t[1]){0}), TR_E_INVAL);
    tu_key(k, 1);
    assert_int_equal(tr_ring_add_key(a, k, T0), 0);
    tu_key(k, 2);
    assert_int_equal(tr_ring_add_key(a, k, TR_ACTIVATION_PENDING), 0);
    tu_key(k, 3);
    assert_int_equal(tr_ring_add_key(a, k, T0 - 10), 0);
    assert_int_equal(tr_ring_revoke_key(a, k), 0);
    assert_int_equal(serial_of(a), 0);

    /* Unpinned: no cluster line. A ring that never saw a serial starts
     * from its clock in milliseconds (a file written from scratch must
     * supersede the one it replaces); later saves count up from there. */
    assert_int_equal(tr_ring_save(a, path), 0);
    assert_true(serial_of(a) == S0);
    text = slurp(path);
    assert_non_null(strstr(text, "\nticketring-keys 2\nserial " S0_TEXT "\nkey "));
    assert_null(strstr(text, "cluster"));
    free(text);

    assert_int_equal(tr_ring_set_cluster(a, "edge"), 0);
    assert_int_equal(tr_ring_save(a, path), 0);
    assert_true(serial_of(a) == S0 + 1);
    text = slurp(path);
    assert_non_null(strstr(text, "\nticketring-keys 2\ncluster edge\nserial " S1_TEXT "\nkey "));
    assert_non_null(strstr(text, " pending "));
    assert_non_null(strstr(text, " revoked\n"));
    free(text);

    assert_int_equal(tr_ring_load(b, path, NULL), 0);
    fingerprint(a, fa);
    fingerprint(b, fb);
    assert_string_equal(fa, fb);
    assert_true(serial_of(b) == S0 + 1);
    assert_int_equal(tr_ring_cluster(b, cl, sizeof(cl)), 0);
    assert_string_equal(cl, "edge");
    /* Sorted: the revoked key (T0 - 10), k1 (T0), the pending one. */
    assert_int_equal(tr_ring_key_info(b, 0, NULL, &act, &role), 0);
    assert_int_equal(role, TR_KEY_REVOKED);
    assert_int_equal(tr_ring_key_info(b, 1, NULL, &act, &role), 0);
    assert_int_equal(role, TR_KEY_ENCRYPT);
    assert_int_equal(tr_ring_key_info(b, 2, NULL, &act, &role), 0);
    assert_int_equal(role, TR_KEY_PENDING);
    assert_true(act == TR_ACTIVATION_PENDING);
    /* Saving again and reloading: the next serial, same keys, same fingerprint. */
    assert_int_equal(tr_ring_save(b, path), 0);
    assert_true(serial_of(b) == S0 + 2);
    assert_int_equal(tr_ring_reload(b, NULL), 0);
    fingerprint(b, fb);
    assert_string_equal(fa, fb);
    drop(path);
    tr_ring_free(a);
    tr_ring_free(b);
}

static void test_save_failures_keep_serial(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char *path = key_file(NULL, UINT64_MAX, seeds12, acts2, 2);
    char *out = tu_write_temp("", 0);
    char missing[600];
    (void)st;
    assert_int_equal(tr_ring_generate_key(r, T0, NULL), 0);
    snprintf(missing, sizeof(missing), "%s.d/keys", out);
    assert_int_equal(tr_ring_save(r, missing), TR_E_IO);
    assert_int_equal(serial_of(r), 0);
    assert_int_equal(tr_ring_save(r, out), 0);
    assert_true(serial_of(r) == S0);
    /* No serial above 2^64 - 1: refused, nothing written. */
    assert_int_equal(tr_ring_load(r, path, NULL), 0);
    assert_true(serial_of(r) == UINT64_MAX);
    unlink(out);
    assert_int_equal(tr_ring_save(r, out), TR_E_INVAL);
    assert_int_equal(access(out, F_OK), -1);
    assert_int_equal(tr_ring_save(r, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_save(NULL, out), TR_E_INVAL);
    drop(out);
    drop(path);
    tr_ring_free(r);
}

/* ---- cluster pinning --------------------------------------------------------- */

static void test_cluster_pinning(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0, 0};
    char *edge = key_file("edge", 1, seeds12, acts2, 2);
    char *origin = key_file("origin", 2, seeds13, acts2, 2);
    char *none = key_file(NULL, 3, seeds13, acts2, 2);
    char *v1 = key_file(NULL, 0, seeds13, acts2, 2);
    char fp1[17], fp2[17], cl[65];
    uint32_t line = 0;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof(cl)), 0);
    assert_string_equal(cl, "");
    /* The first file naming a cluster pins it. */
    assert_int_equal(tr_ring_load(r, edge, &line), 0);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof(cl)), 0);
    assert_string_equal(cl, "edge");
    assert_non_null(strstr(lc.text, "pins this ring to cluster edge"));
    fingerprint(r, fp1);

    /* Another cluster, no cluster, a version-1 file: refused, unchanged. */
    assert_int_equal(tr_ring_load(r, origin, &line), TR_E_KEYFILE_CLUSTER);
    assert_int_equal(line, 2);
    assert_non_null(strstr(lc.text, ":2: cluster origin; this ring is pinned to cluster edge"));
    assert_int_equal(tr_ring_load(r, none, &line), TR_E_KEYFILE_CLUSTER);
    assert_int_equal(line, 0);
    assert_non_null(strstr(lc.text, "names no cluster"));
    assert_int_equal(tr_ring_load(r, v1, &line), TR_E_KEYFILE_CLUSTER);
    assert_int_equal(line, 0);
    /* Forcing is about serials, not clusters. */
    assert_int_equal(tr_ring_load_ex(r, origin, TR_LOAD_FORCE, &line), TR_E_KEYFILE_CLUSTER);
    fingerprint(r, fp2);
    assert_string_equal(fp1, fp2);
    assert_int_equal(serial_of(r), 1);
    assert_int_equal(stats_of(r).reload_failures, 4);
    assert_int_equal(stats_of(r).reloads, 1);
    /* The remembered path is still the pinned file's. */
    assert_int_equal(tr_ring_reload(r, NULL), 0);

    /* Unpinning changes the fingerprint (the cluster is part of it) and
     * lets another cluster's file in, which pins again. */
    assert_int_equal(tr_ring_set_cluster(r, NULL), 0);
    fingerprint(r, fp2);
    assert_string_not_equal(fp1, fp2);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof(cl)), 0);
    assert_string_equal(cl, "");
    assert_int_equal(tr_ring_load(r, origin, &line), 0);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof(cl)), 0);
    assert_string_equal(cl, "origin");
    /* Pinning explicitly, to the same id, to another. */
    fingerprint(r, fp1);
    assert_int_equal(tr_ring_set_cluster(r, "origin"), 0);
    fingerprint(r, fp2);
    assert_string_equal(fp1, fp2);
    assert_int_equal(tr_ring_set_cluster(r, "edge"), 0);
    fingerprint(r, fp2);
    assert_string_not_equal(fp1, fp2);
    assert_non_null(strstr(lc.text, "ring pinned to cluster edge (was origin)"));
    assert_int_equal(tr_ring_load(r, origin, &line), TR_E_KEYFILE_CLUSTER);
    /* Bad ids and buffers. */
    assert_int_equal(tr_ring_set_cluster(r, ""), TR_E_INVAL);
    assert_int_equal(tr_ring_set_cluster(r, "a b"), TR_E_INVAL);
    assert_int_equal(tr_ring_set_cluster(NULL, "a"), TR_E_INVAL);
    assert_int_equal(tr_ring_cluster(r, cl, 4), TR_E_BUFFER_TOO_SMALL);
    assert_string_equal(cl, "");
    assert_int_equal(tr_ring_cluster(r, cl, 5), 0);
    assert_string_equal(cl, "edge");
    assert_int_equal(tr_ring_cluster(r, NULL, 5), TR_E_INVAL);
    assert_int_equal(tr_ring_cluster(NULL, cl, 5), TR_E_INVAL);
    drop(edge);
    drop(origin);
    drop(none);
    drop(v1);
    tr_ring_free(r);
}

/* Pinned before any file: every file must name that cluster. */
static void test_pinned_before_loading(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char *v1 = key_file(NULL, 0, seeds12, acts2, 2);
    char *edge = key_file("edge", 5, seeds12, acts2, 2);
    char *path = tu_write_temp("", 0);
    char *text;
    (void)st;
    assert_int_equal(tr_ring_set_cluster(r, "edge"), 0);
    assert_int_equal(tr_ring_load(r, v1, NULL), TR_E_KEYFILE_CLUSTER);
    assert_int_equal(tr_ring_load(r, edge, NULL), 0);
    assert_int_equal(tr_ring_save(r, path), 0);
    text = slurp(path);
    assert_non_null(strstr(text, "\ncluster edge\nserial 6\n"));
    free(text);
    drop(v1);
    drop(edge);
    drop(path);
    tr_ring_free(r);
}

/* ---- serial and rollback ------------------------------------------------ */

static void test_rollback(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0, 0};
    char *a5 = key_file("edge", 5, seeds12, acts2, 2);
    char *b4 = key_file("edge", 4, seeds13, acts2, 2);
    char *c5 = key_file("edge", 5, seeds13, acts2, 2);
    char *v1 = key_file(NULL, 0, seeds13, acts2, 2);
    char *d7 = key_file("edge", 7, seeds123, acts3, 3);
    char fp_a[17], fp_b[17], fp[17];
    uint32_t line = 0;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    assert_int_equal(tr_ring_set_cluster(r, "edge"), 0);
    assert_int_equal(tr_ring_load(r, a5, &line), 0);
    assert_int_equal(serial_of(r), 5);
    fingerprint(r, fp_a);

    /* Lower: refused at the serial line (3: header, cluster, serial). */
    assert_int_equal(tr_ring_load(r, b4, &line), TR_E_KEYFILE_ROLLBACK);
    assert_int_equal(line, 3);
    assert_non_null(strstr(lc.text, ":3: serial 4 is lower than the serial 5 loaded"));
    /* Equal with other keys: refused too. */
    assert_int_equal(tr_ring_load(r, c5, &line), TR_E_KEYFILE_ROLLBACK);
    assert_int_equal(line, 3);
    assert_non_null(strstr(lc.text, "serial 5 is the serial loaded, with other keys"));
    /* A version-1 file has no serial: lower than any. */
    assert_int_equal(tr_ring_set_cluster(r, NULL), 0);
    assert_int_equal(tr_ring_load(r, v1, &line), TR_E_KEYFILE_ROLLBACK);
    assert_int_equal(line, 0);
    assert_int_equal(tr_ring_set_cluster(r, "edge"), 0);
    fingerprint(r, fp);
    assert_string_equal(fp, fp_a);
    assert_int_equal(serial_of(r), 5);
    assert_int_equal(stats_of(r).reload_failures, 3);
    assert_int_equal(tr_ring_load_ex(r, b4, 2, &line), TR_E_INVAL); /* unknown flag */

    /* Forced: the older file is loaded and becomes the baseline. */
    assert_int_equal(tr_ring_load_ex(r, b4, TR_LOAD_FORCE, &line), 0);
    assert_non_null(strstr(lc.text, "loaded anyway (forced)"));
    fingerprint(r, fp_b);
    assert_string_not_equal(fp_b, fp_a);
    assert_int_equal(serial_of(r), 4);
    /* Its path reloads without forcing... */
    assert_int_equal(tr_ring_reload(r, &line), 0);
    /* ...and a save outranks every serial seen (5), not just 4. */
    {
        char *out = tu_write_temp("", 0);
        char *text;
        assert_int_equal(tr_ring_save(r, out), 0);
        assert_int_equal(serial_of(r), 6);
        text = slurp(out);
        assert_non_null(strstr(text, "\nserial 6\n"));
        free(text);
        drop(out);
    }
    /* Equal serial with other keys, forced. */
    assert_int_equal(tr_ring_load(r, d7, &line), 0);
    assert_int_equal(tr_ring_load_ex(r, v1, TR_LOAD_FORCE, &line), TR_E_KEYFILE_CLUSTER);
    drop(a5);
    drop(b4);
    drop(c5);
    drop(v1);
    drop(d7);
    tr_ring_free(r);
}

/* tr_ring_reload() never forces, even after a forced load. */
static void test_reload_never_forces(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char *path = key_file(NULL, 9, seeds12, acts2, 2);
    char fp1[17], fp2[17];
    uint32_t line = 0;
    (void)st;
    assert_int_equal(tr_ring_load_ex(r, path, TR_LOAD_FORCE, &line), 0);
    fingerprint(r, fp1);
    replace_with(path, key_file(NULL, 8, seeds13, acts2, 2));
    assert_int_equal(tr_ring_reload(r, &line), TR_E_KEYFILE_ROLLBACK);
    assert_int_equal(line, 2);
    fingerprint(r, fp2);
    assert_string_equal(fp1, fp2);
    replace_with(path, key_file(NULL, 9, seeds13, acts2, 2));
    assert_int_equal(tr_ring_reload(r, &line), TR_E_KEYFILE_ROLLBACK);
    replace_with(path, key_file(NULL, 10, seeds13, acts2, 2));
    assert_int_equal(tr_ring_reload(r, &line), 0);
    fingerprint(r, fp2);
    assert_string_not_equal(fp1, fp2);
    assert_int_equal(serial_of(r), 10);
    drop(path);
    tr_ring_free(r);
}

/* The same keys again: a successful reload that changes nothing. */
static void test_noop_reload(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0, 0};
    char *path = key_file("edge", 5, seeds12, acts2, 2);
    struct tri_keyset *before;
    uint8_t key[TR_KEY_BYTES];
    uint32_t n;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    assert_int_equal(tr_ring_load(r, path, NULL), 0);
    before = atomic_load(&r->keys.current);
    assert_int_equal(tr_ring_reload(r, NULL), 0);
    assert_ptr_equal(atomic_load(&r->keys.current), before); /* not rebuilt */
    assert_non_null(strstr(lc.text, "unchanged: 2 keys, cluster edge, serial 5"));
    /* Other comments, same keys: the same. */
    {
        char body[2048], line[300];
        strcpy(body, "# rewritten by hand\nticketring-keys 2\ncluster edge\n\nserial 5\n");
        key_line(line, 2, acts2[1], 0);
        strcat(body, line);
        key_line(line, 1, acts2[0], 0);
        strcat(body, line);
        replace_with(path, file_with(body));
    }
    assert_int_equal(tr_ring_reload(r, NULL), 0);
    assert_ptr_equal(atomic_load(&r->keys.current), before);
    /* The same keys under a higher serial: the serial moves, the set stays. */
    replace_with(path, key_file("edge", 6, seeds12, acts2, 2));
    assert_int_equal(tr_ring_reload(r, NULL), 0);
    assert_ptr_equal(atomic_load(&r->keys.current), before);
    assert_int_equal(serial_of(r), 6);
    assert_int_equal(stats_of(r).reloads, 4);
    assert_int_equal(stats_of(r).reload_failures, 0);
    /* Keys changed in memory: reloading the file (same serial, the keys
     * that serial was given to) restores the file's keys. */
    tu_key(key, 9);
    assert_int_equal(tr_ring_add_key(r, key, T0), 0);
    assert_int_equal(tr_ring_reload(r, NULL), 0);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(stats_of(r).reload_failures, 0);
    drop(path);
    tr_ring_free(r);
}

/* A key revoked on one node reaches the others with the file: their
 * tickets under it are refused from the reload on. */
static void test_revocation_travels(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *writer = tu_ring(&c), *node = tu_ring(&c);
    char *path = tu_write_temp("", 0);
    static const uint8_t state[4] = {1, 2, 3, 4};
    uint8_t k2[TR_KEY_BYTES], t[64 + TR_TICKET_OVERHEAD], out[16];
    size_t len, out_len;
    char *text;
    (void)st;
    assert_int_equal(tr_ring_generate_key(writer, T0 - 100, NULL), 0);
    tu_key(k2, 2);
    assert_int_equal(tr_ring_add_key(writer, k2, T0), 0);
    assert_int_equal(tr_ring_save(writer, path), 0);
    assert_int_equal(tr_ring_load(node, path, NULL), 0);
    assert_int_equal(tr_ticket_seal(node, state, sizeof(state), NULL, 0, NULL, 0, NULL, 0, 0, t,
                                    sizeof(t), &len, NULL),
                     0);
    assert_int_equal(tr_ticket_open(node, t, len, NULL, 0, NULL, 0, NULL, 0, out, sizeof(out),
                                    &out_len, NULL, NULL, NULL, NULL),
                     0);
    assert_int_equal(tr_ring_revoke_key(writer, k2), 0);
    assert_int_equal(tr_ring_save(writer, path), 0);
    text = slurp(path);
    assert_non_null(strstr(text, " revoked\n"));
    free(text);
    assert_int_equal(tr_ring_reload(node, NULL), 0);
    assert_int_equal(tr_ticket_open(node, t, len, NULL, 0, NULL, 0, NULL, 0, out, sizeof(out),
                                    &out_len, NULL, NULL, NULL, NULL),
                     TR_E_TICKET_UNKNOWN_KEY);
    /* The revocation survives another save and load. */
    assert_int_equal(tr_ring_save(node, path), 0);
    assert_int_equal(tr_ring_reload(writer, NULL), TR_E_NO_FILE);
    assert_int_equal(tr_ring_load(writer, path, NULL), 0);
    {
        int32_t role;
        uint8_t name[16];
        assert_int_equal(tr_ring_key_info(writer, 1, name, NULL, &role), 0);
        assert_memory_equal(name, k2, 16);
        assert_int_equal(role, TR_KEY_REVOKED);
    }
    drop(path);
    tr_ring_free(writer);
    tr_ring_free(node);
}

/* ---- permissions ----------------------------------------------------------- */

static void test_file_mode_policy(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0, 0};
    char *path = key_file(NULL, 1, seeds12, acts2, 2);
    char *other = key_file(NULL, 2, seeds13, acts2, 2);
    char link[600], fp1[17], fp2[17];
    uint32_t line = 99;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    /* Default: warn once per load, naming the mode and the fix. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(tr_ring_load(r, path, &line), 0);
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.text, "(mode 0644): run chmod 600 "));
    assert_non_null(strstr(lc.text, path));
    /* 0600 and group-write-only pass silently. */
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(tr_ring_reload(r, NULL), 0);
    assert_int_equal(chmod(path, 0620), 0);
    assert_int_equal(tr_ring_reload(r, NULL), 0);
    assert_int_equal(lc.warnings, 1);

    /* Refuse: the ring stays as it is, counted, logged with the mode. */
    assert_int_equal(tr_ring_set_file_mode_policy(r, TR_FILE_MODE_REFUSE), 0);
    fingerprint(r, fp1);
    assert_int_equal(chmod(other, 0640), 0);
    assert_int_equal(tr_ring_load(r, other, &line), TR_E_KEYFILE_MODE);
    assert_int_equal(line, 0);
    assert_non_null(strstr(lc.text, "readable by group or others (mode 0640)"));
    assert_int_equal(chmod(other, 0604), 0);
    assert_int_equal(tr_ring_load(r, other, &line), TR_E_KEYFILE_MODE);
    /* Through a symbolic link: the mode of the file read. */
    assert_true(strlen(other) + sizeof(".link") <= sizeof(link));
    strcpy(link, other);
    strcat(link, ".link");
    assert_int_equal(symlink(other, link), 0);
    assert_int_equal(tr_ring_load(r, link, &line), TR_E_KEYFILE_MODE);
    fingerprint(r, fp2);
    assert_string_equal(fp1, fp2);
    assert_int_equal(serial_of(r), 1);
    assert_int_equal(stats_of(r).reload_failures, 3);
    assert_int_equal(chmod(other, 0600), 0);
    assert_int_equal(tr_ring_load(r, link, &line), 0);
    /* Ignore: loaded, no warning. */
    assert_int_equal(tr_ring_set_file_mode_policy(r, TR_FILE_MODE_IGNORE), 0);
    assert_int_equal(chmod(other, 0644), 0);
    lc.warnings = 0;
    assert_int_equal(tr_ring_reload(r, &line), 0);
    assert_int_equal(lc.warnings, 0);
    unlink(link);
    drop(path);
    drop(other);
    tr_ring_free(r);
}

/* ---- activation horizon in files ---------------------------------------- */

static void test_horizon_in_files(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char at[32], past[32];
    const char *acts_ok[2], *acts_bad[2];
    char *ok, *bad, *pend;
    static const char *const acts_pend[] = {"1700000000", "pending"};
    uint32_t line = 0;
    (void)st;
    snprintf(at, sizeof(at), "%d", T0 + 157680000);
    snprintf(past, sizeof(past), "%d", T0 + 157680000 + 1);
    acts_ok[0] = acts_bad[0] = "1700000000";
    acts_ok[1] = at;
    acts_bad[1] = past;
    ok = key_file(NULL, 1, seeds12, acts_ok, 2);
    bad = key_file(NULL, 2, seeds13, acts_bad, 2);
    pend = key_file(NULL, 3, seeds13, acts_pend, 2);
    assert_int_equal(tr_ring_load(r, ok, &line), 0);
    assert_int_equal(tr_ring_load(r, bad, &line), TR_E_KEY_ACTIVATION);
    assert_int_equal(line, 4); /* header, serial, key, key */
    assert_int_equal(serial_of(r), 1);
    assert_int_equal(tr_ring_set_activation_horizon(r, 60), 0);
    assert_int_equal(tr_ring_load(r, pend, &line), 0); /* pending: not bounded */
    assert_int_equal(tr_ring_set_activation_horizon(r, 0), 0);
    assert_int_equal(tr_ring_load(r, bad, &line), TR_E_KEYFILE_ROLLBACK); /* serial 2 < 3 */
    assert_int_equal(tr_ring_load_ex(r, bad, TR_LOAD_FORCE, &line), 0);
    drop(ok);
    drop(bad);
    drop(pend);
    tr_ring_free(r);
}

/* Version-2 syntax faults reach the caller with their line. */
static void test_syntax_lines(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0, 0};
    char *path;
    char body[600], kl[300];
    uint32_t line = 0;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    key_line(kl, 1, "1700000000", 0);
    snprintf(body, sizeof(body), "ticketring-keys 2\n# no serial\n%s", kl);
    path = file_with(body);
    assert_int_equal(tr_ring_load(r, path, &line), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(line, 3);
    assert_non_null(strstr(lc.text, ":3: missing serial line"));
    drop(path);
    snprintf(body, sizeof(body), "ticketring-keys 2\nserial 1\ncluster x\n%s", kl);
    path = file_with(body);
    assert_int_equal(tr_ring_load(r, path, &line), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(line, 3);
    drop(path);
    tr_ring_free(r);
}

/* No 8-byte window of any secret in any log line of these paths. */
static void test_logs_hold_no_secrets(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0, 0};
    char *a, *b, *o, *out = tu_write_temp("", 0);
    uint8_t k[TR_KEY_BYTES];
    char secret[129], piece[17];
    (void)st;
    mixed_keys = 1;
    a = key_file("edge", 5, seeds12, acts2, 2);
    b = key_file("edge", 4, seeds13, acts2, 2);
    o = key_file("origin", 6, seeds13, acts2, 2);
    mixed_keys = 0;
    tr_ring_set_log(r, capture, &lc);
    assert_int_equal(chmod(a, 0644), 0);
    assert_int_equal(tr_ring_load(r, a, NULL), 0);
    assert_int_equal(tr_ring_load(r, b, NULL), TR_E_KEYFILE_ROLLBACK);
    assert_int_equal(tr_ring_load(r, o, NULL), TR_E_KEYFILE_CLUSTER);
    assert_int_equal(tr_ring_load_ex(r, b, TR_LOAD_FORCE, NULL), 0);
    mixed_key(k, 3);
    assert_int_equal(tr_ring_revoke_key(r, k), 0);
    assert_int_equal(tr_ring_save(r, out), 0);
    assert_int_equal(tr_ring_set_cluster(r, NULL), 0);
    assert_true(lc.lines >= 8);
    assert_non_null(strstr(lc.text, " revoked")); /* the revocation was logged */
    for (uint8_t seed = 1; seed <= 3; seed++) {
        mixed_key(k, seed);
        hex(k + 16, 64, secret);
        for (size_t i = 0; i + 16 <= 128; i += 2) {
            memcpy(piece, secret + i, 16);
            piece[16] = '\0';
            assert_null(strstr(lc.text, piece));
        }
    }
    drop(a);
    drop(b);
    drop(o);
    drop(out);
    tr_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_v1),
        cmocka_unit_test(test_doc_examples),
        cmocka_unit_test(test_save_v2),
        cmocka_unit_test(test_save_failures_keep_serial),
        cmocka_unit_test(test_cluster_pinning),
        cmocka_unit_test(test_pinned_before_loading),
        cmocka_unit_test(test_rollback),
        cmocka_unit_test(test_reload_never_forces),
        cmocka_unit_test(test_noop_reload),
        cmocka_unit_test(test_revocation_travels),
        cmocka_unit_test(test_file_mode_policy),
        cmocka_unit_test(test_horizon_in_files),
        cmocka_unit_test(test_syntax_lines),
        cmocka_unit_test(test_logs_hold_no_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
