/* Other servers' key files: lib/foreign.c (nginx and HAProxy layouts,
 * HAProxy's lines and roles, tr_ring_import(), tr_ring_export()). */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "foreign.h"

#define T0 1700000000
#define NAME TR_KEY_NAME_BYTES
#define HALF 32

/* ---- helpers ---------------------------------------------------------------- */

struct log_capture {
    char text[8192];
    int errors, warnings;
};

static void capture(int32_t level, const char *msg, void *arg)
{
    struct log_capture *lc = arg;
    if (level == TR_LOG_ERROR)
        lc->errors++;
    if (level == TR_LOG_WARN)
        lc->warnings++;
    strncat(lc->text, msg, sizeof(lc->text) - strlen(lc->text) - 2);
    strcat(lc->text, "\n");
}

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/tr-foreign-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

static void rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* The whole file into buf (cap bytes); returns its length. */
static size_t read_file(const char *path, void *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, cap, f);
    assert_int_equal(fclose(f), 0);
    return n;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* One HAProxy line for a key of ours: name | AES | HMAC in base64, "\n". */
static size_t haproxy_line(const uint8_t key[TR_KEY_BYTES], char *out)
{
    uint8_t raw[TR_KEY_BYTES];
    size_t n;
    /* Built by hand, not with tri_haproxy_swap(), so a wrong swap fails. */
    memcpy(raw, key, NAME);
    memcpy(raw + NAME, key + NAME + HALF, HALF);
    memcpy(raw + NAME + HALF, key + NAME, HALF);
    n = tri_base64_encode(raw, sizeof raw, out);
    out[n++] = '\n';
    out[n] = '\0';
    return n;
}

/* A HAProxy file of the given keys, one line each. */
static void write_haproxy(const char *path, const uint8_t (*keys)[TR_KEY_BYTES], int n)
{
    char text[16 * (TRI_HAPROXY_LINE_CHARS + 1) + 1];
    size_t len = 0;
    assert_true(n <= 16);
    for (int i = 0; i < n; i++)
        len += haproxy_line(keys[i], text + len);
    write_file(path, text, len, 0600);
}

/* Ring `b` opens a ticket sealed with `key` (and only it): proves b holds
 * exactly that secret under that name. */
static void assert_holds(tr_ring *b, const uint8_t key[TR_KEY_BYTES], int64_t *clock)
{
    tr_ring *a = tu_ring(clock);
    uint8_t ticket[256], state[8], name[NAME];
    size_t tlen = 0, slen = 0;
    assert_int_equal(tr_ring_add_key(a, key, 0), 0);
    assert_int_equal(tr_ticket_seal(a, (const uint8_t *)"session", 7, NULL, 0, NULL, 0, NULL, 0,
                                    0, ticket, sizeof ticket, &tlen, NULL),
                     0);
    assert_int_equal(tr_ticket_open(b, ticket, tlen, NULL, 0, NULL, 0, NULL, 0, state,
                                    sizeof state, &slen, name, NULL, NULL, NULL),
                     0);
    assert_memory_equal(name, key, NAME);
    assert_memory_equal(state, "session", 7);
    tr_ring_free(a);
}

/* Key i of the ring: its name, activation and role now. */
static void assert_key(tr_ring *r, uint32_t i, const uint8_t key[TR_KEY_BYTES],
                       int64_t activation, int32_t role)
{
    uint8_t name[NAME];
    int64_t act = 0;
    int32_t got = -1;
    assert_int_equal(tr_ring_key_info(r, i, name, &act, &got), 0);
    assert_memory_equal(name, key, NAME);
    assert_int_equal(act, activation);
    assert_int_equal(got, role);
}

static uint32_t key_count(tr_ring *r)
{
    uint32_t n = 99;
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    return n;
}

/* ---- pure functions ------------------------------------------------------- */

static void test_base64(void **st)
{
    static const struct {
        const char *plain, *coded;
    } v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
             {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"}, {"\xfb\xff\xbf", "+/+/"}};
    static const char *bad[] = {"Zg=", "Z===", "====", "Zg==Zm8=", "Zm9v!A==", "Zm 9",
                                "Zm9v\n",  "Z=9v", "Zm9v\rA=="};
    uint8_t out[16];
    char enc[32];
    size_t n;
    (void)st;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len = strlen(v[i].plain);
        n = tri_base64_encode((const uint8_t *)v[i].plain, len, enc);
        assert_int_equal(n, strlen(v[i].coded));
        assert_memory_equal(enc, v[i].coded, n);
        assert_int_equal(tri_base64_decode(v[i].coded, n, out, sizeof out, &n), 0);
        assert_int_equal(n, len);
        assert_memory_equal(out, v[i].plain, len);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 7;
        assert_int_equal(tri_base64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n), -1);
        assert_int_equal(n, 0);
    }
    /* Exactly fits, then one byte short. */
    assert_int_equal(tri_base64_decode("Zm9vYmFy", 8, out, 6, &n), 0);
    assert_int_equal(tri_base64_decode("Zm9vYmFy", 8, out, 5, &n), -2);
    assert_int_equal(tri_base64_decode("Zm9vYg==", 8, out, 4, &n), 0);
    assert_int_equal(n, 4);
}

static void test_layouts(void **st)
{
    uint8_t key[TR_KEY_BYTES], theirs[TR_KEY_BYTES], back[TR_KEY_BYTES];
    const char *why = NULL;
    (void)st;
    tu_key(key, 1);
    /* HAProxy: name | AES | HMAC. */
    tri_haproxy_swap(key, theirs);
    assert_memory_equal(theirs, key, NAME);
    assert_memory_equal(theirs + NAME, key + NAME + HALF, HALF);         /* AES */
    assert_memory_equal(theirs + NAME + HALF, key + NAME, HALF);         /* HMAC */
    tri_haproxy_swap(theirs, back);
    assert_memory_equal(back, key, TR_KEY_BYTES);
    /* nginx's 80 bytes are ours. */
    assert_int_equal(tri_nginx_parse(key, TR_KEY_BYTES, back, &why), 0);
    assert_memory_equal(back, key, TR_KEY_BYTES);
    assert_int_equal(tri_nginx_parse(key, 48, back, &why), TR_E_KEYFILE_SYNTAX);
    assert_non_null(strstr(why, "AES-128"));
    assert_int_equal(tri_nginx_parse(key, 0, back, &why), TR_E_KEYFILE_SYNTAX);
    assert_non_null(strstr(why, "empty"));
    assert_int_equal(tri_nginx_parse(key, 79, back, &why), TR_E_KEYFILE_SYNTAX);
}

/* HAProxy's roles: penultimate line encrypts, the one before decrypts,
 * the last is the next key; only the last three lines count. */
static void test_haproxy_parse_roles(void **st)
{
    uint8_t k[6][TR_KEY_BYTES];
    struct tri_foreign_key out[TRI_HAPROXY_SLOTS];
    char text[8 * (TRI_HAPROXY_LINE_CHARS + 1) + 1];
    const char *why = NULL;
    uint32_t n, skipped, line;
    size_t len;
    (void)st;
    for (int i = 0; i < 6; i++)
        tu_key(k[i], (uint8_t)(10 + i));

    /* One line: it encrypts. */
    len = haproxy_line(k[0], text);
    assert_int_equal(tri_haproxy_parse(text, len, out, &n, &skipped, &line, &why), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(out[0].key, k[0], TR_KEY_BYTES);
    assert_int_equal(out[0].role, TR_KEY_ENCRYPT);
    assert_int_equal(out[0].line, 1);
    /* Two lines, the last without its line feed: encrypt, next. */
    len = haproxy_line(k[0], text);
    len += haproxy_line(k[1], text + len) - 1;
    assert_int_equal(tri_haproxy_parse(text, len, out, &n, &skipped, &line, &why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].role, TR_KEY_ENCRYPT);
    assert_int_equal(out[1].role, TR_KEY_PENDING);
    assert_memory_equal(out[1].key, k[1], TR_KEY_BYTES);
    /* Five lines with CRLF endings: the last three count. */
    len = 0;
    for (int i = 0; i < 5; i++) {
        len += haproxy_line(k[i], text + len);
        text[len - 1] = '\r';
        text[len++] = '\n';
    }
    assert_int_equal(tri_haproxy_parse(text, len, out, &n, &skipped, &line, &why), 0);
    assert_int_equal(n, 3);
    assert_int_equal(skipped, 2);
    assert_memory_equal(out[0].key, k[2], TR_KEY_BYTES);
    assert_int_equal(out[0].role, TR_KEY_DECRYPT);
    assert_int_equal(out[0].line, 3);
    assert_memory_equal(out[1].key, k[3], TR_KEY_BYTES);
    assert_int_equal(out[1].role, TR_KEY_ENCRYPT);
    assert_memory_equal(out[2].key, k[4], TR_KEY_BYTES);
    assert_int_equal(out[2].role, TR_KEY_PENDING);
    assert_int_equal(out[2].line, 5);
    /* Repeats are one key with its strongest role: E E N and P E E. */
    len = haproxy_line(k[0], text);
    len += haproxy_line(k[0], text + len);
    len += haproxy_line(k[1], text + len);
    assert_int_equal(tri_haproxy_parse(text, len, out, &n, &skipped, &line, &why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].role, TR_KEY_ENCRYPT);
    assert_int_equal(out[1].role, TR_KEY_PENDING);
    len = haproxy_line(k[2], text);
    len += haproxy_line(k[0], text + len);
    len += haproxy_line(k[0], text + len);
    assert_int_equal(tri_haproxy_parse(text, len, out, &n, &skipped, &line, &why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].role, TR_KEY_DECRYPT);
    assert_int_equal(out[1].role, TR_KEY_ENCRYPT);
}

static void test_haproxy_format(void **st)
{
    uint8_t p[TR_KEY_BYTES], e[TR_KEY_BYTES], nx[TR_KEY_BYTES];
    char text[TRI_HAPROXY_SLOTS * (TRI_HAPROXY_LINE_CHARS + 1)], line[TRI_HAPROXY_LINE_CHARS + 2];
    size_t len;
    (void)st;
    tu_key(p, 1);
    tu_key(e, 2);
    tu_key(nx, 3);
    len = tri_haproxy_format(p, e, nx, text);
    assert_int_equal(len, sizeof text);
    assert_memory_equal(text, line, haproxy_line(p, line));
    assert_memory_equal(text + 109, line, haproxy_line(e, line));
    assert_memory_equal(text + 218, line, haproxy_line(nx, line));
    /* Missing neighbours: the encrypt key repeated. */
    len = tri_haproxy_format(NULL, e, NULL, text);
    haproxy_line(e, line);
    for (int i = 0; i < 3; i++)
        assert_memory_equal(text + 109 * i, line, 109);
}

/* ---- export ------------------------------------------------------------------ */

static void test_export_nginx_bytes(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char *dir = temp_dir(), base[512], path[600];
    uint8_t key[TR_KEY_BYTES], file[128];
    struct stat sb;
    uint32_t count = 99;
    (void)st;
    tu_key(key, 1);
    assert_int_equal(tr_ring_add_key(r, key, T0), 0);
    snprintf(base, sizeof base, "%s/nginx.key", dir);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_NGINX, base, &count), 0);
    assert_int_equal(count, 1);
    snprintf(path, sizeof path, "%s.0", base);
    assert_int_equal(read_file(path, file, sizeof file), 80);
    /* nginx: name(16) | HMAC(32) | AES(32), the bytes of our key as they are. */
    assert_memory_equal(file, key, NAME);
    assert_memory_equal(file + 16, key + 16, 32);
    assert_memory_equal(file + 48, key + 48, 32);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s.1", base);
    assert_int_not_equal(access(path, F_OK), 0);
    rm_rf(dir);
    free(dir);
    tr_ring_free(r);
}

static void test_export_haproxy_bytes(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char *dir = temp_dir(), path[512], text[512];
    uint8_t key[TR_KEY_BYTES], raw[96];
    size_t n, len;
    struct stat sb;
    uint32_t count = 99;
    (void)st;
    tu_key(key, 1);
    assert_int_equal(tr_ring_add_key(r, key, T0), 0);
    snprintf(path, sizeof path, "%s/haproxy.keys", dir);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_HAPROXY, path, &count), 0);
    assert_int_equal(count, 1);
    len = read_file(path, text, sizeof text);
    /* Three lines (HAProxy refuses fewer), each the only key. */
    assert_int_equal(len, 3 * 109);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(text[109 * i + 108], '\n');
        assert_int_equal(tri_base64_decode(text + 109 * i, 108, raw, sizeof raw, &n), 0);
        assert_int_equal(n, 80);
        /* HAProxy: name(16) | AES(32) | HMAC(32). */
        assert_memory_equal(raw, key, NAME);
        assert_memory_equal(raw + 16, key + 48, 32);
        assert_memory_equal(raw + 48, key + 16, 32);
    }
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    rm_rf(dir);
    free(dir);
    tr_ring_free(r);
}

/* A ring of every role: R retired, P2 and P1 decrypt (P1 newer), E
 * encrypt, N1 pending with a date, N2 pending without one, V revoked. */
struct roles {
    uint8_t r[TR_KEY_BYTES], p2[TR_KEY_BYTES], p1[TR_KEY_BYTES], e[TR_KEY_BYTES],
        n1[TR_KEY_BYTES], n2[TR_KEY_BYTES], v[TR_KEY_BYTES];
};

static tr_ring *roles_ring(int64_t *c, struct roles *k)
{
    tr_ring *r = tu_ring(c);
    tu_key(k->r, 1);
    tu_key(k->p2, 2);
    tu_key(k->p1, 3);
    tu_key(k->e, 4);
    tu_key(k->n1, 5);
    tu_key(k->n2, 6);
    tu_key(k->v, 7);
    assert_int_equal(tr_ring_set_lifetime(r, 3000), 0);
    assert_int_equal(tr_ring_set_skew(r, 60), 0);
    *c = (int64_t)T0 * 1000;
    /* now = T0; R's successor P2 activated 4000 s ago (> 3060): retired. */
    assert_int_equal(tr_ring_add_key(r, k->r, T0 - 5000), 0);
    assert_int_equal(tr_ring_add_key(r, k->p2, T0 - 4000), 0);
    assert_int_equal(tr_ring_add_key(r, k->p1, T0 - 2000), 0);
    assert_int_equal(tr_ring_add_key(r, k->e, T0 - 1000), 0);
    assert_int_equal(tr_ring_add_key(r, k->n1, T0 + 1000), 0);
    assert_int_equal(tr_ring_add_key(r, k->n2, TR_ACTIVATION_PENDING), 0);
    assert_int_equal(tr_ring_add_key(r, k->v, T0 + 500), 0);
    assert_int_equal(tr_ring_revoke_key(r, k->v), 0);
    return r;
}

static void test_export_order(void **st)
{
    int64_t c = 0;
    struct roles k;
    tr_ring *r = roles_ring(&c, &k);
    struct log_capture lc = {{0}, 0, 0};
    char *dir = temp_dir(), base[512], path[600], text[512];
    const uint8_t *want[] = {k.e, k.n1, k.n2, k.p1, k.p2};
    uint8_t file[128], raw[96];
    uint32_t count = 0;
    size_t n;
    int32_t role;
    (void)st;
    assert_int_equal(tr_ring_key_info(r, 0, NULL, NULL, &role), 0);
    assert_int_equal(role, TR_KEY_RETIRED);
    tr_ring_set_log(r, capture, &lc);

    /* nginx: encrypt key first, then pending (soonest first), then the
     * decrypt-only keys (newest first); stale numbered files removed. */
    snprintf(base, sizeof base, "%s/t.key", dir);
    snprintf(path, sizeof path, "%s.5", base);
    write_file(path, "stale", 5, 0600);
    snprintf(path, sizeof path, "%s.63", base);
    write_file(path, "stale", 5, 0600);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_NGINX, base, &count), 0);
    assert_int_equal(count, 5);
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s.%d", base, i);
        assert_int_equal(read_file(path, file, sizeof file), 80);
        assert_memory_equal(file, want[i], 80);
    }
    snprintf(path, sizeof path, "%s.5", base);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s.63", base);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(lc.warnings, 0);

    /* HAProxy: previous (newest decrypt-only), encrypt, next (soonest
     * pending); the two it cannot hold are named in a warning. */
    snprintf(path, sizeof path, "%s/h.keys", dir);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_HAPROXY, path, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(read_file(path, text, sizeof text), 3 * 109);
    {
        const uint8_t *order[] = {k.p1, k.e, k.n1};
        for (int i = 0; i < 3; i++) {
            uint8_t ours[TR_KEY_BYTES];
            assert_int_equal(tri_base64_decode(text + 109 * i, 108, raw, sizeof raw, &n), 0);
            tri_haproxy_swap(raw, ours);
            assert_memory_equal(ours, order[i], 80);
        }
    }
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.text, "2 more usable keys"));

    /* Once N1 activates, E is the previous key and N2 the next. */
    c = (int64_t)(T0 + 1000) * 1000;
    assert_int_equal(tr_ring_export(r, TR_FORMAT_HAPROXY, path, &count), 0);
    assert_int_equal(read_file(path, text, sizeof text), 3 * 109);
    {
        const uint8_t *order[] = {k.e, k.n1, k.n2};
        for (int i = 0; i < 3; i++) {
            uint8_t ours[TR_KEY_BYTES];
            assert_int_equal(tri_base64_decode(text + 109 * i, 108, raw, sizeof raw, &n), 0);
            tri_haproxy_swap(raw, ours);
            assert_memory_equal(ours, order[i], 80);
        }
    }
    rm_rf(dir);
    free(dir);
    tr_ring_free(r);
}

static void test_export_errors(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0};
    char *dir = temp_dir(), path[512];
    uint32_t count = 7;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    snprintf(path, sizeof path, "%s/x", dir);
    /* Nothing encrypts: an empty ring, then only a future key. */
    assert_int_equal(tr_ring_export(r, TR_FORMAT_NGINX, path, &count), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(count, 0);
    assert_int_equal(tr_ring_generate_key(r, T0 + 10, NULL), 0);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_HAPROXY, path, &count), TR_E_NO_ENCRYPT_KEY);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(lc.errors, 2);
    assert_int_equal(tr_ring_generate_key(r, T0, NULL), 0);
    assert_int_equal(tr_ring_export(r, 0, path, &count), TR_E_INVAL);
    assert_int_equal(tr_ring_export(r, 3, path, &count), TR_E_INVAL);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_NGINX, NULL, &count), TR_E_INVAL);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_NGINX, "", &count), TR_E_INVAL);
    assert_int_equal(tr_ring_export(NULL, TR_FORMAT_NGINX, path, &count), TR_E_INVAL);
    snprintf(path, sizeof path, "%s/missing/x", dir);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_NGINX, path, &count), TR_E_IO);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_HAPROXY, path, &count), TR_E_IO);
    /* count may be NULL. */
    snprintf(path, sizeof path, "%s/y", dir);
    assert_int_equal(tr_ring_export(r, TR_FORMAT_HAPROXY, path, NULL), 0);
    rm_rf(dir);
    free(dir);
    tr_ring_free(r);
}

/* ---- import ------------------------------------------------------------------- */

static void test_import_nginx(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    char *dir = temp_dir(), path[512], path2[512];
    uint8_t k1[TR_KEY_BYTES], k2[TR_KEY_BYTES];
    uint32_t line = 99;
    (void)st;
    tu_key(k1, 1);
    tu_key(k2, 2);
    snprintf(path, sizeof path, "%s/a.key", dir);
    write_file(path, k1, sizeof k1, 0600);
    snprintf(path2, sizeof path2, "%s/b.key", dir);
    write_file(path2, k2, sizeof k2, 0600);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_NGINX, path, T0, &line), 0);
    assert_int_equal(line, 0);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_NGINX, path2, TR_ACTIVATION_PENDING, NULL), 0);
    assert_int_equal(key_count(r), 2);
    assert_key(r, 0, k1, T0, TR_KEY_ENCRYPT);
    assert_key(r, 1, k2, TR_ACTIVATION_PENDING, TR_KEY_PENDING);
    assert_holds(r, k1, &c);
    assert_holds(r, k2, &c);
    rm_rf(dir);
    free(dir);
    tr_ring_free(r);
}

static void test_import_haproxy(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0};
    char *dir = temp_dir(), path[512];
    uint8_t k[5][TR_KEY_BYTES];
    uint32_t line = 99;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    for (int i = 0; i < 5; i++)
        tu_key(k[i], (uint8_t)(20 + i));
    snprintf(path, sizeof path, "%s/h.keys", dir);
    /* Five lines: HAProxy holds the last three (previous, encrypt, next). */
    write_haproxy(path, (const uint8_t(*)[TR_KEY_BYTES])k, 5);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0, &line), 0);
    assert_int_equal(line, 0);
    assert_int_equal(key_count(r), 3);
    assert_key(r, 0, k[2], T0 - 1, TR_KEY_DECRYPT);
    assert_key(r, 1, k[3], T0, TR_KEY_ENCRYPT);
    assert_key(r, 2, k[4], TR_ACTIVATION_PENDING, TR_KEY_PENDING);
    for (int i = 2; i < 5; i++)
        assert_holds(r, k[i], &c);
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.text, "2 lines before the last 3 skipped"));
    assert_non_null(strstr(lc.text, "imported 3 keys from HAProxy"));
    tr_ring_free(r);

    /* All pending when asked. */
    r = tu_ring(&c);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, TR_ACTIVATION_PENDING, NULL), 0);
    for (uint32_t i = 0; i < 3; i++) {
        int64_t act;
        assert_int_equal(tr_ring_key_info(r, i, NULL, &act, NULL), 0);
        assert_int_equal(act, TR_ACTIVATION_PENDING);
    }
    assert_int_equal(tr_ring_encrypt_key_name(r, (uint8_t[NAME]){0}), TR_E_NO_ENCRYPT_KEY);
    rm_rf(dir);
    free(dir);
    tr_ring_free(r);
}

/* import(export(x)) keeps the keys and their roles, and exporting the
 * imported ring writes the same bytes again. */
static void test_round_trips(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *x = tu_ring(&c), *y;
    char *dir = temp_dir(), path[400], path2[400], a[512], b[512];
    uint8_t p[TR_KEY_BYTES], e[TR_KEY_BYTES], n[TR_KEY_BYTES];
    uint8_t fa[128], fb[128];
    (void)st;
    tu_key(p, 31);
    tu_key(e, 32);
    tu_key(n, 33);
    assert_int_equal(tr_ring_add_key(x, p, T0 - 600), 0);
    assert_int_equal(tr_ring_add_key(x, e, T0 - 300), 0);
    assert_int_equal(tr_ring_add_key(x, n, T0 + 300), 0);

    /* HAProxy. */
    snprintf(path, sizeof path, "%s/h1", dir);
    snprintf(path2, sizeof path2, "%s/h2", dir);
    assert_int_equal(tr_ring_export(x, TR_FORMAT_HAPROXY, path, NULL), 0);
    y = tu_ring(&c);
    assert_int_equal(tr_ring_import(y, TR_FORMAT_HAPROXY, path, T0 - 300, NULL), 0);
    assert_int_equal(key_count(y), 3);
    assert_key(y, 0, p, T0 - 301, TR_KEY_DECRYPT);
    assert_key(y, 1, e, T0 - 300, TR_KEY_ENCRYPT);
    assert_key(y, 2, n, TR_ACTIVATION_PENDING, TR_KEY_PENDING); /* its date is not in the file */
    assert_holds(y, p, &c);
    assert_holds(y, e, &c);
    assert_holds(y, n, &c);
    assert_int_equal(tr_ring_export(y, TR_FORMAT_HAPROXY, path2, NULL), 0);
    assert_int_equal(read_file(path, a, sizeof a), 327);
    assert_int_equal(read_file(path2, b, sizeof b), 327);
    assert_memory_equal(a, b, 327);
    tr_ring_free(y);

    /* nginx: one key per file; the caller gives each its time. */
    snprintf(path, sizeof path, "%s/n1", dir);
    snprintf(path2, sizeof path2, "%s/n2", dir);
    assert_int_equal(tr_ring_export(x, TR_FORMAT_NGINX, path, NULL), 0);
    y = tu_ring(&c);
    snprintf(a, sizeof a, "%s.0", path);
    assert_int_equal(tr_ring_import(y, TR_FORMAT_NGINX, a, T0 - 300, NULL), 0);
    snprintf(a, sizeof a, "%s.1", path);
    assert_int_equal(tr_ring_import(y, TR_FORMAT_NGINX, a, T0 + 300, NULL), 0);
    snprintf(a, sizeof a, "%s.2", path);
    assert_int_equal(tr_ring_import(y, TR_FORMAT_NGINX, a, T0 - 600, NULL), 0);
    {
        char fx[TR_FINGERPRINT_HEX + 1], fy[TR_FINGERPRINT_HEX + 1];
        assert_int_equal(tr_ring_fingerprint(x, fx, sizeof fx), 0);
        assert_int_equal(tr_ring_fingerprint(y, fy, sizeof fy), 0);
        assert_string_equal(fx, fy); /* same keys, same times */
    }
    assert_int_equal(tr_ring_export(y, TR_FORMAT_NGINX, path2, NULL), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(a, sizeof a, "%s.%d", path, i);
        snprintf(b, sizeof b, "%s.%d", path2, i);
        assert_int_equal(read_file(a, fa, sizeof fa), 80);
        assert_int_equal(read_file(b, fb, sizeof fb), 80);
        assert_memory_equal(fa, fb, 80);
    }
    tr_ring_free(y);
    rm_rf(dir);
    free(dir);
    tr_ring_free(x);
}

/* A file written with the given bytes; the test frees the path. */
static char *file_of(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, data, len, 0600);
    return strdup(path);
}

struct refusal {
    const char *what;
    int32_t format;
    const char *content; /* NULL: use bytes */
    size_t len;
    int rc;
    uint32_t line;
    const char *reason;
};

static void test_import_refusals(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc;
    char *dir = temp_dir();
    uint8_t k[4][TR_KEY_BYTES], zero_name[TR_KEY_BYTES], zero_aes[TR_KEY_BYTES], big[81];
    char good[3][TRI_HAPROXY_LINE_CHARS + 2], text[1024], fp0[17], fp[17];
    char secret_hex[2 * 64 + 1];
    (void)st;
    for (int i = 0; i < 4; i++)
        tu_key(k[i], (uint8_t)(40 + i));
    haproxy_line(k[0], good[0]);
    haproxy_line(k[1], good[1]);
    haproxy_line(k[2], good[2]);
    memset(big, 0x5a, sizeof big);
    memcpy(zero_name, k[0], TR_KEY_BYTES);
    memset(zero_name, 0, NAME);
    memcpy(zero_aes, k[0], TR_KEY_BYTES);
    memset(zero_aes + NAME + HALF, 0, HALF);
    /* The ring holds one key already: k[3]. */
    assert_int_equal(tr_ring_add_key(r, k[3], T0 - 10), 0);
    assert_int_equal(tr_ring_fingerprint(r, fp0, sizeof fp0), 0);

    struct refusal cases[32];
    int nc = 0;
#define CASE(w, f, ct, l, e, ln, why) \
    cases[nc++] = (struct refusal){w, f, ct, l, e, ln, why}
    CASE("nginx empty", TR_FORMAT_NGINX, "", 0, TR_E_KEYFILE_SYNTAX, 0, "empty file");
    CASE("nginx 48 bytes", TR_FORMAT_NGINX, (const char *)big, 48, TR_E_KEYFILE_SYNTAX, 0,
         "AES-128");
    CASE("nginx 79 bytes", TR_FORMAT_NGINX, (const char *)big, 79, TR_E_KEYFILE_SYNTAX, 0,
         "exactly 80 bytes");
    CASE("nginx 81 bytes", TR_FORMAT_NGINX, (const char *)big, 81, TR_E_KEYFILE_SYNTAX, 0,
         "exactly 80 bytes");
    CASE("nginx held already", TR_FORMAT_NGINX, (const char *)k[3], 80, TR_E_KEY_DUPLICATE, 0,
         "already held");
    CASE("haproxy empty", TR_FORMAT_HAPROXY, "", 0, TR_E_KEYFILE_SYNTAX, 0, "empty file");
    CASE("haproxy blank line", TR_FORMAT_HAPROXY, "\n", 1, TR_E_KEYFILE_SYNTAX, 1, "empty line");
    CASE("nginx zero name", TR_FORMAT_NGINX, (const char *)zero_name, 80, TR_E_KEY_ZERO, 0,
         "zero");
    CASE("nginx zero AES key", TR_FORMAT_NGINX, (const char *)zero_aes, 80, TR_E_KEY_ZERO, 0,
         "zero");
#undef CASE
    /* Cases with computed content. */
    struct {
        const char *what;
        char content[1024];
        int rc;
        uint32_t line;
        const char *reason;
    } h[] = {
        {"blank line after a key", "", TR_E_KEYFILE_SYNTAX, 2, "empty line"},
        {"bad character", "", TR_E_KEYFILE_SYNTAX, 2, "base64"},
        {"a space at the end", "", TR_E_KEYFILE_SYNTAX, 1, "base64"},
        {"missing padding", "", TR_E_KEYFILE_SYNTAX, 3, "base64"},
        {"48-byte key", "", TR_E_KEYFILE_SYNTAX, 1, "AES-128"},
        {"81-byte key", "", TR_E_KEYFILE_SYNTAX, 2, "80-byte"},
        {"one name, two secrets", "", TR_E_KEY_DUPLICATE, 3, "another secret"},
        {"bad line HAProxy would skip", "", TR_E_KEYFILE_SYNTAX, 1, "base64"},
        {"a key held already", "", TR_E_KEY_DUPLICATE, 2, "already held"},
        {"zero name", "", TR_E_KEY_ZERO, 1, "zero"},
        {"zero HMAC", "", TR_E_KEY_ZERO, 2, "zero"},
        {"zero AES", "", TR_E_KEY_ZERO, 3, "zero"},
    };
    {
        char b64[200];
        uint8_t kk[TR_KEY_BYTES];
        size_t n;
        snprintf(h[0].content, 1024, "%s\n%s", good[0], good[1]);
        snprintf(h[1].content, 1024, "%s%.50s*%s", good[0], good[1], good[1] + 51);
        snprintf(h[2].content, 1024, "%.108s \n%s%s", good[0], good[1], good[2]);
        snprintf(h[3].content, 1024, "%s%s%.107s\n", good[0], good[1], good[2]);
        n = tri_base64_encode(big, 48, b64);
        snprintf(h[4].content, 1024, "%.*s\n%s%s", (int)n, b64, good[1], good[2]);
        n = tri_base64_encode(big, 81, b64);
        snprintf(h[5].content, 1024, "%s%.*s\n%s", good[0], (int)n, b64, good[2]);
        /* Line 3: k[1]'s name with k[2]'s secrets. */
        memcpy(kk, k[2], sizeof kk);
        memcpy(kk, k[1], NAME);
        haproxy_line(kk, b64);
        snprintf(h[6].content, 1024, "%s%s%s", good[0], good[1], b64);
        snprintf(h[7].content, 1024, "%.101s\n%s%s%s", good[0], good[0], good[1], good[2]);
        haproxy_line(k[3], b64);
        snprintf(h[8].content, 1024, "%s%s%s", good[0], b64, good[2]);
        memcpy(kk, k[0], sizeof kk);
        memset(kk, 0, NAME);
        haproxy_line(kk, b64);
        snprintf(h[9].content, 1024, "%s%s%s", b64, good[1], good[2]);
        memcpy(kk, k[1], sizeof kk);
        memset(kk + NAME, 0, HALF);
        haproxy_line(kk, b64);
        snprintf(h[10].content, 1024, "%s%s%s", good[0], b64, good[2]);
        memcpy(kk, k[2], sizeof kk);
        memset(kk + NAME + HALF, 0, HALF);
        haproxy_line(kk, b64);
        snprintf(h[11].content, 1024, "%s%s%s", good[0], good[1], b64);
        /* Sanity: the lines used above are valid. */
        snprintf(text, sizeof text, "%s%s%s", good[0], good[1], good[2]);
    }

    for (int i = 0; i < nc + (int)(sizeof h / sizeof h[0]); i++) {
        const char *what, *content, *reason;
        int32_t format;
        size_t len;
        int rc;
        uint32_t want_line, line = 99;
        char *path;

        if (i < nc) {
            what = cases[i].what;
            format = cases[i].format;
            content = cases[i].content;
            len = cases[i].len;
            rc = cases[i].rc;
            want_line = cases[i].line;
            reason = cases[i].reason;
        } else {
            int j = i - nc;
            what = h[j].what;
            format = TR_FORMAT_HAPROXY;
            content = h[j].content;
            len = strlen(content);
            rc = h[j].rc;
            want_line = h[j].line;
            reason = h[j].reason;
        }
        memset(&lc, 0, sizeof lc);
        tr_ring_set_log(r, capture, &lc);
        path = file_of(dir, "in", content, len);
        print_message("# %s\n", what);
        assert_int_equal(tr_ring_import(r, format, path, T0, &line), rc);
        assert_int_equal(line, want_line);
        assert_int_equal(lc.errors, 1);
        assert_non_null(strstr(lc.text, reason));
        assert_non_null(strstr(lc.text, "no key added"));
        /* Nothing added, nothing changed. */
        assert_int_equal(key_count(r), 1);
        assert_int_equal(tr_ring_fingerprint(r, fp, sizeof fp), 0);
        assert_string_equal(fp, fp0);
        /* No secret in the log. */
        for (int j = 0; j < 4; j++) {
            hex(k[j] + NAME, 32, secret_hex);
            assert_null(strstr(lc.text, secret_hex));
            hex(k[j] + NAME + 32, 32, secret_hex);
            assert_null(strstr(lc.text, secret_hex));
        }
        free(path);
    }
    /* The three good lines import (the cases above failed for their fault). */
    {
        char *path = file_of(dir, "in", text, strlen(text));
        assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0, NULL), 0);
        assert_int_equal(key_count(r), 4);
        free(path);
    }
    tr_ring_free(r);
    rm_rf(dir);
    free(dir);
}

static void test_import_refusals_ring(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0, 0};
    char *dir = temp_dir(), path[512], fp0[17], fp[17];
    uint8_t k[3][TR_KEY_BYTES];
    uint32_t line = 99;
    (void)st;
    for (int i = 0; i < 3; i++)
        tu_key(k[i], (uint8_t)(50 + i));
    snprintf(path, sizeof path, "%s/h", dir);
    write_haproxy(path, (const uint8_t(*)[TR_KEY_BYTES])k, 3);
    tr_ring_set_log(r, capture, &lc);

    /* Arguments. */
    assert_int_equal(tr_ring_import(NULL, TR_FORMAT_HAPROXY, path, T0, &line), TR_E_INVAL);
    assert_int_equal(tr_ring_import(r, 0, path, T0, &line), TR_E_INVAL);
    assert_int_equal(tr_ring_import(r, 3, path, T0, &line), TR_E_INVAL);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, NULL, T0, &line), TR_E_INVAL);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, -1, &line), TR_E_INVAL);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, (INT64_C(1) << 62) + 1, &line),
                     TR_E_INVAL);
    /* Activation 0 leaves no earlier time for HAProxy's previous key. */
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, 0, &line), TR_E_INVAL);
    assert_int_equal(line, 1);
    /* Beyond the activation horizon. */
    assert_int_equal(tr_ring_set_activation_horizon(r, 3600), 0);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0 + 3601, &line),
                     TR_E_KEY_ACTIVATION);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0 + 3600, &line), 0);
    assert_int_equal(tr_ring_remove_key(r, k[0]), 0);
    assert_int_equal(tr_ring_remove_key(r, k[1]), 0);
    assert_int_equal(tr_ring_remove_key(r, k[2]), 0);

    /* Files that cannot be read. */
    assert_int_equal(tr_ring_import(r, TR_FORMAT_NGINX, "/nonexistent/tr", T0, &line), TR_E_IO);
    assert_int_equal(line, 0);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_NGINX, dir, T0, &line), TR_E_IO);

    /* Readable by others: refused under the refuse policy, a warning under
     * the default one. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(tr_ring_set_file_mode_policy(r, TR_FILE_MODE_REFUSE), 0);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0, &line), TR_E_KEYFILE_MODE);
    assert_int_equal(key_count(r), 0);
    assert_int_equal(tr_ring_set_file_mode_policy(r, TR_FILE_MODE_WARN), 0);
    memset(&lc, 0, sizeof lc);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0, &line), 0);
    assert_int_equal(lc.warnings, 1);
    assert_non_null(strstr(lc.text, "chmod 600"));
    assert_int_equal(key_count(r), 3);

    /* A full ring: 62 more keys fit, then the three do not. */
    assert_int_equal(tr_ring_remove_key(r, k[0]), 0);
    assert_int_equal(tr_ring_remove_key(r, k[1]), 0);
    assert_int_equal(tr_ring_remove_key(r, k[2]), 0);
    for (int i = 0; i < TR_RING_MAX_KEYS - 2; i++)
        assert_int_equal(tr_ring_generate_key(r, T0 - 100000 + i, NULL), 0);
    assert_int_equal(tr_ring_fingerprint(r, fp0, sizeof fp0), 0);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0, &line), TR_E_TOO_MANY_KEYS);
    assert_int_equal(key_count(r), TR_RING_MAX_KEYS - 2);
    assert_int_equal(tr_ring_fingerprint(r, fp, sizeof fp), 0);
    assert_string_equal(fp, fp0);
    /* err_line may be NULL. */
    assert_int_equal(tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0, NULL), TR_E_TOO_MANY_KEYS);
    rm_rf(dir);
    free(dir);
    tr_ring_free(r);
}

/* Every allocation the import makes may fail: the ring then holds exactly
 * what it held, and nothing leaks. */
static void test_import_allocation_failures(void **st)
{
    struct tu_alloc al = {0, 0, 0, 0};
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = NULL;
    char *dir = temp_dir(), path[512];
    uint8_t k[3][TR_KEY_BYTES], old[TR_KEY_BYTES];
    int done = 0, failures = 0;
    (void)st;
    for (int i = 0; i < 3; i++)
        tu_key(k[i], (uint8_t)(60 + i));
    tu_key(old, 70);
    snprintf(path, sizeof path, "%s/h", dir);
    write_haproxy(path, (const uint8_t(*)[TR_KEY_BYTES])k, 3);
    for (uint64_t fail = 1; fail < 50 && !done; fail++) {
        int rc;
        assert_int_equal(tr_ring_new_with_allocator(&r, tu_backend(), tu_malloc, tu_free, &al),
                         0);
        tr_ring_set_clock(r, tu_clock, &c);
        assert_int_equal(tr_ring_add_key(r, old, T0 - 5), 0);
        al.fail_at = al.allocs + fail;
        rc = tr_ring_import(r, TR_FORMAT_HAPROXY, path, T0, NULL);
        al.fail_at = 0;
        if (rc == 0) {
            done = 1;
            assert_int_equal(key_count(r), 4);
        } else {
            assert_int_equal(rc, TR_E_NOMEM);
            failures++;
            assert_int_equal(key_count(r), 1);
            assert_key(r, 0, old, T0 - 5, TR_KEY_ENCRYPT);
        }
        tr_ring_free(r);
        assert_int_equal(al.allocs - (rc != 0), al.frees); /* the refused one is no block */
        al.allocs = al.frees = 0;
    }
    assert_true(done);
    assert_true(failures >= 2); /* the file buffer, then the new key set */
    rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_haproxy_parse_roles),
        cmocka_unit_test(test_haproxy_format),
        cmocka_unit_test(test_export_nginx_bytes),
        cmocka_unit_test(test_export_haproxy_bytes),
        cmocka_unit_test(test_export_order),
        cmocka_unit_test(test_export_errors),
        cmocka_unit_test(test_import_nginx),
        cmocka_unit_test(test_import_haproxy),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_import_refusals),
        cmocka_unit_test(test_import_refusals_ring),
        cmocka_unit_test(test_import_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
