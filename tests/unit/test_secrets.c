/*
 * Secrets hygiene (issue 7): key material never outlives its use in memory
 * the library frees, and never appears in a log line, an error string or
 * the metrics text.
 *
 * Every key the test hands the library, and every key a ring generates
 * (seen through its random source), is registered. The recording allocator
 * scans each block a ring or replay cache frees for any 16-byte window of
 * a secret (HMAC secret | AES key, in this library's order and in
 * HAProxy's), and for any 6 of its bytes as hex or 12 characters of its
 * base64 (key file and HAProxy text). Every log line, every tr_strerror()
 * string and every metrics text is scanned for the same text: 6 bytes in
 * hex of either case, or a 12-character run of the base64 at each of the
 * three byte alignments. Key names are public (every ticket carries one)
 * and are not registered.
 *
 * With the OpenSSL backend, blocks OpenSSL frees are scanned too (main()
 * installs CRYPTO_set_mem_functions before OpenSSL allocates anything):
 * the per-key contexts the backend keeps in each key set live there.
 *
 * A finding on a watcher thread cannot fail a cmocka test there: findings
 * are recorded and assert_clean() fails the test on the main thread.
 */
#define _GNU_SOURCE

#include "test_util.h"

#include "keyfile.h" /* tri_keyfile_format(): key files with chosen keys */
#include "replay.h"  /* tri_replay_set_hash_key(): a hash key the test knows */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef TU_HAVE_OPENSSL
#include <openssl/crypto.h>
#endif

#define T0 1767225600
#define SNI "secrets.example"
#define ALPN "h2"
#define NKEYS 24
#define RAW_WINDOW 16  /* bytes of a secret a freed block must not hold */
#define HEX_WINDOW 6   /* bytes of a secret no text may hold in hex */
#define B64_RUN 12     /* characters of a secret's base64 no text may hold */
#define TEXT_WIDTH 12  /* = 2 * HEX_WINDOW = B64_RUN: one table for both */
#define WAIT_S 10      /* deadline for the watcher thread's reload */

/* ---- the needles: fixed-width strings in open-addressed tables ------------ */

struct table {
    size_t width;
    size_t cap; /* a power of two */
    size_t n;
    uint8_t *slot; /* cap * width bytes */
    uint32_t *info; /* 0: empty; else 1 + secret id */
    uint8_t prefix[65536 / 8]; /* first two bytes of any needle */
};

static void table_init(struct table *t, size_t width, size_t cap)
{
    memset(t, 0, sizeof(*t));
    t->width = width;
    t->cap = cap;
    t->slot = calloc(cap, width);
    t->info = calloc(cap, sizeof(*t->info));
    assert_non_null(t->slot);
    assert_non_null(t->info);
}

static uint64_t hash(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static uint32_t table_find(const struct table *t, const uint8_t *p)
{
    if (!(t->prefix[(p[0] << 8 | p[1]) >> 3] & (1u << (p[1] & 7))))
        return 0;
    for (size_t i = hash(p, t->width) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        if (t->info[i] == 0)
            return 0;
        if (memcmp(t->slot + i * t->width, p, t->width) == 0)
            return t->info[i];
    }
}

static void table_add(struct table *t, const uint8_t *p, uint32_t id)
{
    size_t i;
    if (table_find(t, p) != 0)
        return;
    assert_true(2 * (t->n + 1) < t->cap);
    for (i = hash(p, t->width) & (t->cap - 1); t->info[i] != 0; i = (i + 1) & (t->cap - 1))
        ;
    memcpy(t->slot + i * t->width, p, t->width);
    t->info[i] = id + 1;
    t->n++;
    t->prefix[(p[0] << 8 | p[1]) >> 3] |= (uint8_t)(1u << (p[1] & 7));
}

/* Offset of the first needle in buf, or -1; *id its secret. */
static long table_scan(const struct table *t, const uint8_t *buf, size_t len, uint32_t *id)
{
    for (size_t i = 0; i + t->width <= len; i++) {
        uint32_t hit = table_find(t, buf + i);
        if (hit != 0) {
            *id = hit - 1;
            return (long)i;
        }
    }
    return -1;
}

static struct {
    pthread_rwlock_t lock;
    struct table raw;  /* RAW_WINDOW bytes */
    struct table text; /* TEXT_WIDTH characters: hex of either case, base64 */
    uint32_t secrets;
    char what[256][48]; /* what each secret is, for the messages */

    pthread_mutex_t mu; /* findings, log lines */
    pthread_cond_t cond;
    const char *phase;
    unsigned findings;
    char first[8][320];
    unsigned lines, loaded_lines, level_lines[4];
    unsigned long blocks, ossl_blocks, texts; /* scanned */
    char log[64][256]; /* the last lines, for assertions on what was said */
} reg;

static void b64_encode(const uint8_t *in, size_t len, char *out)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < len ? a[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? a[v & 63] : '=';
    }
    out[o] = '\0';
}

static void hex_encode(const uint8_t *in, size_t len, char *out, int upper)
{
    static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
    const char *d = upper ? up : lo;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* Register `len` bytes of key material (not a name). */
static void add_secret(const uint8_t *s, size_t len, const char *what)
{
    char b64[4 * (128 / 3 + 2) + 1], hex[2 * HEX_WINDOW + 1];
    uint32_t id;

    assert_true(len >= RAW_WINDOW && len <= 128);
    pthread_rwlock_wrlock(&reg.lock);
    id = reg.secrets++;
    assert_true(id < 256);
    snprintf(reg.what[id], sizeof(reg.what[id]), "%s", what);
    for (size_t i = 0; i + RAW_WINDOW <= len; i++)
        table_add(&reg.raw, s + i, id);
    for (size_t i = 0; i + HEX_WINDOW <= len; i++) {
        for (int upper = 0; upper < 2; upper++) {
            hex_encode(s + i, HEX_WINDOW, hex, upper);
            table_add(&reg.text, (const uint8_t *)hex, id);
        }
    }
    /* Base64 of the bytes from each alignment: every run of whole groups
     * and every run within them; a last, partial group carries fill bits
     * another encoder would not share, so runs stop before it. */
    for (size_t off = 0; off < 3; off++) {
        size_t whole = (len - off) / 3 * 4;
        b64_encode(s + off, len - off, b64);
        for (size_t i = 0; i + B64_RUN <= whole; i++)
            table_add(&reg.text, (const uint8_t *)b64 + i, id);
    }
    pthread_rwlock_unlock(&reg.lock);
}

/* An 80-byte key: its 64 secret bytes in both layouts. */
static void add_key_secret(const uint8_t key[TR_KEY_BYTES], const char *what)
{
    uint8_t haproxy[64];
    add_secret(key + TR_KEY_NAME_BYTES, 64, what);
    memcpy(haproxy, key + TR_KEY_NAME_BYTES + 32, 32);
    memcpy(haproxy + 32, key + TR_KEY_NAME_BYTES, 32);
    add_secret(haproxy, 64, what);
}

static void finding(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&reg.mu);
    if (reg.findings < 8) {
        int n = snprintf(reg.first[reg.findings], sizeof(reg.first[0]), "[%s] ",
                         reg.phase != NULL ? reg.phase : "?");
        va_start(ap, fmt);
        vsnprintf(reg.first[reg.findings] + n, sizeof(reg.first[0]) - (size_t)n, fmt, ap);
        va_end(ap);
    }
    reg.findings++;
    pthread_mutex_unlock(&reg.mu);
}

/* 1 when the bytes hold a registered secret (recorded as a finding). */
static int scan(const uint8_t *buf, size_t len, const char *where)
{
    uint32_t id = 0;
    long at;
    int found = 0;

    pthread_rwlock_rdlock(&reg.lock);
    if ((at = table_scan(&reg.raw, buf, len, &id)) >= 0) {
        finding("%s (%zu bytes) holds %d bytes of %s at offset %ld", where, len, RAW_WINDOW,
                reg.what[id], at);
        found = 1;
    } else if ((at = table_scan(&reg.text, buf, len, &id)) >= 0) {
        finding("%s (%zu bytes) holds %s as text (\"%.12s\") at offset %ld", where, len,
                reg.what[id], (const char *)buf + at, at);
        found = 1;
    }
    pthread_rwlock_unlock(&reg.lock);
    return found;
}

static void set_phase(const char *phase)
{
    pthread_mutex_lock(&reg.mu);
    reg.phase = phase;
    pthread_mutex_unlock(&reg.mu);
}

static void assert_clean(void)
{
    pthread_mutex_lock(&reg.mu);
    for (unsigned i = 0; i < reg.findings && i < 8; i++)
        print_error("%s\n", reg.first[i]);
    if (reg.findings != 0) {
        unsigned n = reg.findings;
        pthread_mutex_unlock(&reg.mu);
        fail_msg("%u findings of key material", n);
    }
    pthread_mutex_unlock(&reg.mu);
}

/* Each test starts without the findings of one that failed before it. */
static int reset_findings(void **st)
{
    (void)st;
    pthread_mutex_lock(&reg.mu);
    reg.findings = 0;
    reg.phase = NULL;
    pthread_mutex_unlock(&reg.mu);
    return 0;
}

static unsigned take_findings(void)
{
    unsigned n;
    pthread_mutex_lock(&reg.mu);
    n = reg.findings;
    reg.findings = 0;
    pthread_mutex_unlock(&reg.mu);
    return n;
}

/* ---- hooks: freed blocks, log lines, random keys ------------------------------ */

static void count(unsigned long *n)
{
    pthread_mutex_lock(&reg.mu);
    (*n)++;
    pthread_mutex_unlock(&reg.mu);
}

static void on_free(const uint8_t *block, size_t size, void *arg)
{
    count(&reg.blocks);
    (void)scan(block, size, arg != NULL ? (const char *)arg : "a freed block");
}

static void log_sink(int32_t level, const char *msg, void *arg)
{
    (void)arg;
    count(&reg.texts);
    (void)scan((const uint8_t *)msg, strlen(msg), "a log line");
    pthread_mutex_lock(&reg.mu);
    snprintf(reg.log[reg.lines % 64], sizeof(reg.log[0]), "%s", msg);
    reg.lines++;
    if (level >= 0 && level < 4)
        reg.level_lines[level]++;
    if (strncmp(msg, "key file ", 9) == 0 && strstr(msg, " keys, ") != NULL &&
        strstr(msg, "written") == NULL)
        reg.loaded_lines++;
    pthread_cond_broadcast(&reg.cond);
    pthread_mutex_unlock(&reg.mu);
}

/* 1 when one of the last lines logged contains `s`. */
static int logged(const char *s)
{
    int found = 0;
    pthread_mutex_lock(&reg.mu);
    for (unsigned i = 0; i < 64 && i < reg.lines && !found; i++)
        found = strstr(reg.log[(reg.lines - 1 - i) % 64], s) != NULL;
    pthread_mutex_unlock(&reg.mu);
    return found;
}

/* The ring's random source: the kernel's, and every 80-byte draw is a key
 * (tr_ring_generate_key()), so it is registered. */
static int recording_random(uint8_t *buf, size_t len, void *arg)
{
    (void)arg;
    if (tu_random_os(buf, len) != 0)
        return -1;
    if (len == TR_KEY_BYTES)
        add_key_secret(buf, "a generated key");
    return 0;
}

#ifdef TU_HAVE_OPENSSL
/* OpenSSL's allocator, scanned on free the same way. */
struct ossl_head {
    uint64_t size;
    uint64_t pad;
};

static void *ossl_malloc(size_t n, const char *file, int line)
{
    struct ossl_head *h = malloc(sizeof(*h) + n);
    (void)file;
    (void)line;
    if (h == NULL)
        return NULL;
    h->size = n;
    return h + 1;
}

static void ossl_free(void *p, const char *file, int line)
{
    char where[128];
    struct ossl_head *h;
    if (p == NULL)
        return;
    h = (struct ossl_head *)p - 1;
    snprintf(where, sizeof(where), "a block OpenSSL freed (%s:%d)", file != NULL ? file : "?",
             line);
    count(&reg.ossl_blocks);
    (void)scan(p, (size_t)h->size, where);
    free(h);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    void *q;
    if (p == NULL)
        return ossl_malloc(n, file, line);
    if (n == 0) {
        ossl_free(p, file, line);
        return NULL;
    }
    q = ossl_malloc(n, file, line);
    if (q != NULL) {
        size_t old = (size_t)((struct ossl_head *)p - 1)->size;
        memcpy(q, p, old < n ? old : n);
        ossl_free(p, file, line);
    }
    return q;
}

static int ossl_scanned;
#endif

/* ---- keys and files ------------------------------------------------------------ */

static struct {
    char dir[64];
    uint8_t k[NKEYS][TR_KEY_BYTES];
} g;

static void path_in(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g.dir, name);
}

static void put_file(const char *path, const void *bytes, size_t len, mode_t mode)
{
    char tmp[PATH_MAX + 8];
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
    assert_int_equal(rename(tmp, path), 0);
}

enum mutation { INTACT, BAD_SECRET_ON_LINE_2, BAD_CHECKSUM, NO_CHECKSUM };

/* A version-2 key file at dir/name of keys g.k[idx[i]] (or `extra` as the
 * last key when non-NULL); returns the line of the second key. */
static uint32_t key_file(const char *name, const char *cluster, uint64_t serial,
                         const int *idx, const int64_t *acts, uint32_t n,
                         const uint8_t *extra, enum mutation m, mode_t mode)
{
    struct tri_keyfile_entry e[8];
    struct tri_keyfile_info info;
    size_t cap = tri_keyfile_size(n), len = 0;
    char *buf = malloc(cap), path[PATH_MAX], *p;
    uint32_t line = 0;

    assert_non_null(buf);
    memset(&info, 0, sizeof(info));
    memset(e, 0, sizeof(e));
    info.version = 2;
    info.serial = serial;
    if (cluster != NULL)
        snprintf(info.cluster, sizeof(info.cluster), "%s", cluster);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(e[i].key, extra != NULL && i == n - 1 ? extra : g.k[idx[i]], TR_KEY_BYTES);
        e[i].activation = acts[i];
    }
    assert_int_equal(tri_keyfile_format(tu_backend(), &info, e, n, buf, cap, &len), 0);
    /* The second key line, and its line number. */
    p = strstr(buf, "\nkey ");
    assert_non_null(p);
    p = strstr(p + 1, "\nkey ");
    if (p != NULL) {
        line = 1;
        for (const char *q = buf; q <= p; q++)
            line += *q == '\n';
    }
    switch (m) {
    case BAD_SECRET_ON_LINE_2: {
        /* key <name> <activation> <secret>: a non-hex digit in the secret */
        char *secret = strchr(strchr(strchr(p + 1, ' ') + 1, ' ') + 1, ' ') + 1;
        secret[40] = 'x';
        break;
    }
    case BAD_CHECKSUM:
        buf[len - 2] = buf[len - 2] == '0' ? '1' : '0';
        break;
    case NO_CHECKSUM:
        len = (size_t)(strstr(buf, "checksum ") - buf);
        break;
    default:
        break;
    }
    path_in(path, sizeof(path), name);
    put_file(path, buf, len, mode);
    free(buf);
    return line;
}

static int group_setup(void **st)
{
    (void)st;
    strcpy(g.dir, "/tmp/tr-sec-XXXXXX");
    assert_non_null(mkdtemp(g.dir));
    for (int i = 0; i < NKEYS; i++) {
        char what[48];
        assert_int_equal(tu_random_os(g.k[i], TR_KEY_BYTES), 0);
        snprintf(what, sizeof(what), "key K%d's secret", i);
        add_key_secret(g.k[i], what);
    }
    return 0;
}

static int group_teardown(void **st)
{
    char cmd[128];
    (void)st;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- a ring under watch ---------------------------------------------------------- */

struct fx {
    struct tu_rec a;
    int64_t clock;
    tr_ring *r;
};

static void fx_open(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    tu_rec_init(&f->a);
    f->a.on_free = on_free;
    f->a.on_free_arg = "a block the ring freed";
    f->clock = (int64_t)T0 * 1000;
    assert_int_equal(tr_ring_new_with_allocator(&f->r, tu_backend(), tu_rec_malloc, tu_rec_free,
                                                &f->a), 0);
    assert_int_equal(tr_ring_set_clock(f->r, tu_clock, &f->clock), 0);
    assert_int_equal(tr_ring_set_random(f->r, recording_random, NULL), 0);
    assert_int_equal(tr_ring_set_log(f->r, log_sink, NULL), 0);
}

/* The metrics text, scanned; and nothing found so far. */
static void checkpoint(struct fx *f, const char *phase)
{
    static char text[32768];
    size_t len = 0;
    assert_int_equal(tr_ring_metrics(f->r, text, sizeof(text), &len), 0);
    assert_true(len > 0);
    count(&reg.texts);
    (void)scan((const uint8_t *)text, len, "the metrics text");
    assert_clean();
    set_phase(phase);
}

static void fx_close(struct fx *f)
{
    set_phase("tr_ring_free");
    tr_ring_free(f->r);
    assert_int_equal(tu_rec_get(&f->a).live, 0);
    assert_clean();
    tu_rec_destroy(&f->a);
}

static int seal(tr_ring *r, const char *sni, uint8_t *t, size_t cap, size_t *len)
{
    static const uint8_t state[] = "a session";
    return tr_ticket_seal(r, state, sizeof(state), (const uint8_t *)sni, strlen(sni),
                          (const uint8_t *)ALPN, strlen(ALPN), NULL, 0, 0, t, cap, len, NULL);
}

static int open_as(tr_ring *r, const uint8_t *t, size_t len, const char *sni, const char *alpn,
                   const char *ctx)
{
    uint8_t state[64];
    size_t state_len;
    return tr_ticket_open(r, t, len, (const uint8_t *)sni, strlen(sni), (const uint8_t *)alpn,
                          strlen(alpn), (const uint8_t *)ctx, ctx != NULL ? strlen(ctx) : 0,
                          state, sizeof(state), &state_len, NULL, NULL, NULL, NULL);
}

static void fingerprint(tr_ring *r, char fp[TR_FINGERPRINT_HEX + 1])
{
    assert_int_equal(tr_ring_fingerprint(r, fp, TR_FINGERPRINT_HEX + 1), 0);
}

/* ---- the detectors detect --------------------------------------------------------- */

/* Each form the checks look for, planted on purpose, is found; a key name
 * and a window one byte too short are not. */
static void test_detectors(void **st)
{
    const uint8_t *k = g.k[0];
    uint8_t block[256];
    char text[256], b64[128];
    unsigned found = 0;
    (void)st;

    set_phase("detectors");
    memset(block, 0xA5, sizeof(block));
    memcpy(block + 100, k + TR_KEY_NAME_BYTES + 40, RAW_WINDOW); /* across HMAC | AES */
    on_free(block, sizeof(block), "a planted block");
    found += take_findings() == 1;
    memset(block, 0xA5, sizeof(block));
    memcpy(block + 100, k + TR_KEY_NAME_BYTES + 3, RAW_WINDOW - 1);
    /* Neighbours that cannot complete a window by chance. */
    block[99] = (uint8_t)~k[TR_KEY_NAME_BYTES + 2];
    block[100 + RAW_WINDOW - 1] = (uint8_t)~k[TR_KEY_NAME_BYTES + 3 + RAW_WINDOW - 1];
    on_free(block, sizeof(block), "a planted block");
    found += take_findings() == 0;

    for (int upper = 0; upper < 2; upper++) {
        strcpy(text, "secret ");
        hex_encode(k + TR_KEY_NAME_BYTES + 57, HEX_WINDOW, text + 7, upper);
        log_sink(TR_LOG_INFO, text, NULL);
        found += take_findings() == 1;
    }
    strcpy(text, "name ");
    hex_encode(k, TR_KEY_NAME_BYTES, text + 5, 0);
    log_sink(TR_LOG_INFO, text, NULL);
    found += take_findings() == 0;
    /* HAProxy's layout: name | AES | HMAC, base64 at every alignment. */
    for (size_t off = 0; off < 3; off++) {
        uint8_t line[TR_KEY_BYTES];
        memcpy(line, k, TR_KEY_NAME_BYTES);
        memcpy(line + 16, k + 48, 32);
        memcpy(line + 48, k + 16, 32);
        b64_encode(line + 30 + off, 20, b64);
        snprintf(text, sizeof(text), "key %.12s", b64 + 1);
        log_sink(TR_LOG_ERROR, text, NULL);
        found += take_findings() == 1;
    }
    assert_int_equal(found, 8);
    assert_clean();
}

/* ---- freed blocks ---------------------------------------------------------------- */

/* Teardown of a ring that holds keys of every origin, after every key
 * change that frees a key set. */
static void test_key_changes_and_teardown(void **st)
{
    static const int v1[] = {0, 1};
    static const int64_t a1[] = {T0 - 100, T0 + 3600};
    struct fx f;
    char path[PATH_MAX], out[PATH_MAX], text[512];
    uint8_t t[256], name[TR_KEY_NAME_BYTES];
    size_t len = 0;
    (void)st;

    key_file("ring.keys", NULL, 10, v1, a1, 2, NULL, INTACT, 0600);
    path_in(path, sizeof(path), "ring.keys");
    path_in(out, sizeof(out), "saved.keys");
    fx_open(&f);
    set_phase("tr_ring_load");
    assert_int_equal(tr_ring_load(f.r, path, NULL), 0);
    checkpoint(&f, "tr_ring_add_key");
    assert_int_equal(tr_ring_add_key(f.r, g.k[2], T0 + 7200), 0);
    checkpoint(&f, "tr_ring_generate_key");
    assert_int_equal(tr_ring_generate_key(f.r, T0 + 10800, name), 0);
    checkpoint(&f, "tr_ring_revoke_key");
    assert_int_equal(tr_ring_revoke_key(f.r, g.k[1]), 0);
    hex_encode(g.k[1], TR_KEY_NAME_BYTES, text, 0);
    assert_true(logged(text)); /* the name is public, and logged */
    checkpoint(&f, "tr_ring_remove_key");
    assert_int_equal(tr_ring_remove_key(f.r, g.k[2]), 0);
    checkpoint(&f, "tr_ring_set_cluster");
    assert_int_equal(tr_ring_set_cluster(f.r, "edge"), 0);
    checkpoint(&f, "tr_ring_save");
    assert_int_equal(tr_ring_save(f.r, out), 0);
    checkpoint(&f, "tickets");
    for (int i = 0; i < 10; i++) {
        assert_int_equal(seal(f.r, SNI, t, sizeof(t), &len), 0);
        assert_int_equal(open_as(f.r, t, len, SNI, ALPN, NULL), 0);
    }
    checkpoint(&f, "tr_ring_set_cluster (unpin)");
    assert_int_equal(tr_ring_set_cluster(f.r, NULL), 0);
    checkpoint(&f, "teardown");
    fx_close(&f);
}

/* A reload frees the old set (K1 leaves), a removal and a forced rollback
 * free theirs; reloads of broken files free what they read. */
static void test_reloads(void **st)
{
    static const int v1[] = {0, 1}, v2[] = {0, 3}, v5[] = {5, 6};
    static const int64_t a[] = {T0 - 100, T0 + 3600};
    static const struct {
        const char *phase, *cluster;
        uint64_t serial;
        enum mutation m;
        mode_t mode;
        int rc;
    } broken[] = {
        {"reload: syntax error on a key line", "edge", 12, BAD_SECRET_ON_LINE_2, 0600,
         TR_E_KEYFILE_SYNTAX},
        {"reload: bad checksum", "edge", 12, BAD_CHECKSUM, 0600, TR_E_KEYFILE_INTEGRITY},
        {"reload: no checksum", "edge", 12, NO_CHECKSUM, 0600, TR_E_KEYFILE_INTEGRITY},
        {"reload: readable by others", "edge", 12, INTACT, 0644, TR_E_KEYFILE_MODE},
        {"reload: other cluster", "other", 12, INTACT, 0600, TR_E_KEYFILE_CLUSTER},
        {"reload: no cluster", NULL, 12, INTACT, 0600, TR_E_KEYFILE_CLUSTER},
        {"reload: rollback", "edge", 10, INTACT, 0600, TR_E_KEYFILE_ROLLBACK},
        {"reload: same serial, other keys", "edge", 11, INTACT, 0600, TR_E_KEYFILE_ROLLBACK},
    };
    struct fx f;
    char cur[PATH_MAX], old[PATH_MAX];
    char fp[TR_FINGERPRINT_HEX + 1], fp2[TR_FINGERPRINT_HEX + 1];
    uint32_t line = 9;
    (void)st;

    key_file("old.keys", NULL, 10, v1, a, 2, NULL, INTACT, 0600);
    key_file("cur.keys", NULL, 10, v1, a, 2, NULL, INTACT, 0600);
    path_in(cur, sizeof(cur), "cur.keys");
    path_in(old, sizeof(old), "old.keys");
    fx_open(&f);
    set_phase("tr_ring_load");
    assert_int_equal(tr_ring_load(f.r, cur, NULL), 0);
    checkpoint(&f, "tr_ring_reload (a new file)");
    key_file("cur.keys", NULL, 11, v2, a, 2, NULL, INTACT, 0600);
    assert_int_equal(tr_ring_reload(f.r, &line), 0);
    assert_int_equal(line, 0);
    checkpoint(&f, "tr_ring_reload (the same file)");
    assert_int_equal(tr_ring_reload(f.r, NULL), 0);
    /* Reloads of broken files, each refused. */
    checkpoint(&f, "tr_ring_reload (refused files)");
    assert_int_equal(tr_ring_set_cluster(f.r, "edge"), 0);
    assert_int_equal(tr_ring_set_file_mode_policy(f.r, TR_FILE_MODE_REFUSE), 0);
    fingerprint(f.r, fp);
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        checkpoint(&f, broken[i].phase);
        key_file("cur.keys", broken[i].cluster, broken[i].serial, v5, a, 2, NULL, broken[i].m,
                 broken[i].mode);
        assert_int_equal(tr_ring_reload(f.r, NULL), broken[i].rc);
        fingerprint(f.r, fp2);
        assert_string_equal(fp, fp2);
    }
    assert_int_equal(tr_ring_set_file_mode_policy(f.r, TR_FILE_MODE_WARN), 0);
    assert_int_equal(tr_ring_set_cluster(f.r, NULL), 0);
    checkpoint(&f, "tr_ring_remove_key");
    assert_int_equal(tr_ring_remove_key(f.r, g.k[3]), 0);
    checkpoint(&f, "tr_ring_load_ex (forced rollback)");
    assert_int_equal(tr_ring_load(f.r, old, NULL), TR_E_KEYFILE_ROLLBACK);
    assert_int_equal(tr_ring_load_ex(f.r, old, TR_LOAD_FORCE, NULL), 0);
    checkpoint(&f, "teardown");
    fx_close(&f);
}

/* Key files refused at each stage: half-way through the keys, at the
 * checksum, for their mode, cluster, serial, horizon or a repeated name.
 * The ring keeps its keys; nothing it freed held the refused file's keys,
 * nor does any line it logged. */
static void test_refused_files(void **st)
{
    static const int held[] = {0, 1}, two[] = {4, 5}, three[] = {4, 5, 6};
    static const int64_t a[] = {T0 - 100, T0 + 3600, T0 + 7200};
    static const int64_t far[] = {T0 - 100, T0 + 86400 * 3650};
    uint8_t dup[TR_KEY_BYTES];
    struct fx f;
    char path[PATH_MAX], fp[TR_FINGERPRINT_HEX + 1], fp2[TR_FINGERPRINT_HEX + 1];
    uint32_t line = 0, bad_line;
    struct {
        const char *name;
        int rc;
    } refused[] = {
        {"syntax.keys", TR_E_KEYFILE_SYNTAX},     {"checksum.keys", TR_E_KEYFILE_INTEGRITY},
        {"truncated.keys", TR_E_KEYFILE_INTEGRITY}, {"mode.keys", TR_E_KEYFILE_MODE},
        {"cluster.keys", TR_E_KEYFILE_CLUSTER},   {"older.keys", TR_E_KEYFILE_ROLLBACK},
        {"same-serial.keys", TR_E_KEYFILE_ROLLBACK}, {"horizon.keys", TR_E_KEY_ACTIVATION},
        {"duplicate.keys", TR_E_KEY_DUPLICATE},
    };
    (void)st;

    key_file("held.keys", "edge", 20, held, a, 2, NULL, INTACT, 0600);
    bad_line = key_file("syntax.keys", "edge", 30, three, a, 3, NULL, BAD_SECRET_ON_LINE_2, 0600);
    key_file("checksum.keys", "edge", 30, two, a, 2, NULL, BAD_CHECKSUM, 0600);
    key_file("truncated.keys", "edge", 30, two, a, 2, NULL, NO_CHECKSUM, 0600);
    key_file("mode.keys", "edge", 30, two, a, 2, NULL, INTACT, 0644);
    key_file("cluster.keys", "other", 30, two, a, 2, NULL, INTACT, 0600);
    key_file("older.keys", "edge", 19, two, a, 2, NULL, INTACT, 0600);
    key_file("same-serial.keys", "edge", 20, two, a, 2, NULL, INTACT, 0600);
    key_file("horizon.keys", "edge", 30, two, far, 2, NULL, INTACT, 0600);
    memcpy(dup, g.k[4], TR_KEY_NAME_BYTES); /* K4's name, K7's secret */
    memcpy(dup + TR_KEY_NAME_BYTES, g.k[7] + TR_KEY_NAME_BYTES, 64);
    key_file("duplicate.keys", "edge", 30, three, a, 3, dup, INTACT, 0600);

    fx_open(&f);
    assert_int_equal(tr_ring_set_file_mode_policy(f.r, TR_FILE_MODE_REFUSE), 0);
    path_in(path, sizeof(path), "held.keys");
    set_phase("tr_ring_load");
    assert_int_equal(tr_ring_load(f.r, path, NULL), 0);
    fingerprint(f.r, fp);
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        checkpoint(&f, refused[i].name);
        path_in(path, sizeof(path), refused[i].name);
        assert_int_equal(tr_ring_load(f.r, path, &line), refused[i].rc);
        if (i == 0)
            assert_int_equal(line, bad_line); /* refused half-way: K4 was read */
        assert_int_equal(tr_ring_load_ex(f.r, path, TR_LOAD_FORCE, NULL), refused[i].rc ==
                         TR_E_KEYFILE_ROLLBACK ? 0 : refused[i].rc);
        if (refused[i].rc == TR_E_KEYFILE_ROLLBACK) { /* forced in: load the held set back */
            path_in(path, sizeof(path), "held.keys");
            assert_int_equal(tr_ring_load_ex(f.r, path, TR_LOAD_FORCE, NULL), 0);
        }
        fingerprint(f.r, fp2);
        assert_string_equal(fp, fp2);
    }
    /* The mode under the warning policy: loaded, and said so. */
    checkpoint(&f, "mode.keys (warn)");
    assert_int_equal(tr_ring_set_file_mode_policy(f.r, TR_FILE_MODE_WARN), 0);
    path_in(path, sizeof(path), "mode.keys");
    assert_int_equal(tr_ring_load(f.r, path, NULL), 0);
    assert_true(logged("readable by group or others"));

    /* A load whose allocations fail one by one frees every buffer wiped. */
    path_in(path, sizeof(path), "syntax.keys");
    key_file("syntax.keys", "edge", 40, three, a, 3, NULL, INTACT, 0600);
    for (uint64_t fail = 1; fail < 16; fail++) {
        checkpoint(&f, "tr_ring_load_ex, allocations failing");
        tu_rec_fail_next(&f.a, fail);
        if (tr_ring_load_ex(f.r, path, TR_LOAD_FORCE, NULL) == 0) {
            tu_rec_fail_next(&f.a, 0);
            break;
        }
        tu_rec_fail_next(&f.a, 0);
    }
    checkpoint(&f, "teardown");
    fx_close(&f);
}

/* Other servers' files: imported, refused, exported. */
static void test_foreign_files(void **st)
{
    uint8_t raw[96], zero_hmac[TR_KEY_BYTES];
    char b64[4 * (TR_KEY_BYTES / 3 + 1) + 1], text[1024], path[PATH_MAX], out[PATH_MAX];
    size_t n = 0;
    uint32_t count = 0, line = 0;
    struct fx f;
    (void)st;

    /* nginx: one 80-byte key, and files it would not take. */
    path_in(path, sizeof(path), "nginx.key");
    put_file(path, g.k[8], TR_KEY_BYTES, 0600);
    assert_int_equal(tu_random_os(raw, sizeof(raw)), 0);
    add_secret(raw + 16, 32, "a 48-byte nginx key");
    add_secret(raw + 16, 81 - 16, "an 81-byte nginx file");
    path_in(path, sizeof(path), "nginx48.key");
    put_file(path, raw, 48, 0600);
    path_in(path, sizeof(path), "nginx81.key");
    put_file(path, raw, 81, 0600);
    memcpy(zero_hmac, g.k[9], TR_KEY_BYTES);
    memset(zero_hmac + TR_KEY_NAME_BYTES, 0, 32);
    path_in(path, sizeof(path), "nginx-zero.key");
    put_file(path, zero_hmac, TR_KEY_BYTES, 0600);
    /* HAProxy: three lines (name | AES | HMAC in base64), and refused files:
     * bad base64 after a good line, a 48-byte key, one name with two
     * secrets. */
    for (int i = 0; i < 3; i++) {
        uint8_t l[TR_KEY_BYTES];
        memcpy(l, g.k[10 + i], 16);
        memcpy(l + 16, g.k[10 + i] + 48, 32);
        memcpy(l + 48, g.k[10 + i] + 16, 32);
        b64_encode(l, TR_KEY_BYTES, b64);
        memcpy(text + n, b64, strlen(b64));
        n += strlen(b64);
        text[n++] = '\n';
    }
    path_in(path, sizeof(path), "haproxy.keys");
    put_file(path, text, n, 0600);
    n = 0;
    b64_encode(g.k[13], TR_KEY_BYTES, b64);
    n += (size_t)sprintf(text + n, "%s\n%.50s!%s\n", b64, b64, b64 + 51);
    path_in(path, sizeof(path), "haproxy-b64.keys");
    put_file(path, text, n, 0600);
    b64_encode(raw, 48, b64);
    n = (size_t)sprintf(text, "%s\n", b64);
    path_in(path, sizeof(path), "haproxy48.keys");
    put_file(path, text, n, 0600);
    {
        uint8_t other[TR_KEY_BYTES];
        memcpy(other, g.k[14], 16);
        memcpy(other + 16, g.k[15] + 16, 64);
        b64_encode(g.k[14], TR_KEY_BYTES, b64);
        n = (size_t)sprintf(text, "%s\n", b64);
        b64_encode(other, TR_KEY_BYTES, b64);
        n += (size_t)sprintf(text + n, "%s\n", b64);
        path_in(path, sizeof(path), "haproxy-dup.keys");
        put_file(path, text, n, 0600);
    }

    fx_open(&f);
    set_phase("tr_ring_add_key");
    assert_int_equal(tr_ring_add_key(f.r, g.k[16], T0 - 100), 0);
    {
        static const struct {
            int32_t format;
            const char *name;
            int rc;
        } imports[] = {
            {TR_FORMAT_NGINX, "nginx48.key", TR_E_KEYFILE_SYNTAX},
            {TR_FORMAT_NGINX, "nginx81.key", TR_E_KEYFILE_SYNTAX},
            {TR_FORMAT_NGINX, "nginx-zero.key", TR_E_KEY_ZERO},
            {TR_FORMAT_HAPROXY, "haproxy-b64.keys", TR_E_KEYFILE_SYNTAX},
            {TR_FORMAT_HAPROXY, "haproxy48.keys", TR_E_KEYFILE_SYNTAX},
            {TR_FORMAT_HAPROXY, "haproxy-dup.keys", TR_E_KEY_DUPLICATE},
            {TR_FORMAT_NGINX, "nginx.key", 0},
            {TR_FORMAT_HAPROXY, "haproxy.keys", 0},
            {TR_FORMAT_NGINX, "nginx.key", TR_E_KEY_DUPLICATE}, /* held already */
        };
        for (size_t i = 0; i < sizeof(imports) / sizeof(imports[0]); i++) {
            checkpoint(&f, imports[i].name);
            path_in(path, sizeof(path), imports[i].name);
            assert_int_equal(tr_ring_import(f.r, imports[i].format, path, T0, &line),
                             imports[i].rc);
        }
    }
    checkpoint(&f, "tr_ring_export (nginx)");
    path_in(out, sizeof(out), "export-nginx");
    assert_int_equal(tr_ring_export(f.r, TR_FORMAT_NGINX, out, &count), 0);
    checkpoint(&f, "tr_ring_export (HAProxy)");
    path_in(out, sizeof(out), "export-haproxy");
    assert_int_equal(tr_ring_export(f.r, TR_FORMAT_HAPROXY, out, &count), 0);
    assert_true(logged("exported"));
    fx_close(&f);

    /* Imports whose allocations fail one by one. */
    for (uint64_t fail = 1; fail < 16; fail++) {
        int rc;
        fx_open(&f);
        set_phase("tr_ring_import, allocations failing");
        path_in(path, sizeof(path), "haproxy.keys");
        tu_rec_fail_next(&f.a, fail);
        rc = tr_ring_import(f.r, TR_FORMAT_HAPROXY, path, T0, NULL);
        tu_rec_fail_next(&f.a, 0);
        fx_close(&f);
        if (rc == 0)
            break;
        assert_int_equal(rc, TR_E_NOMEM);
    }
}

/* Hot reload: what a check reads, loads or refuses, and the watcher
 * thread's own reload. */
static void test_watch_paths(void **st)
{
    static const int v1[] = {0, 1}, v2[] = {0, 17}, v3[] = {0, 18}, v4[] = {0, 19, 20};
    static const int64_t a[] = {T0 - 100, T0 + 3600, T0 + 7200};
    char path[PATH_MAX], gone[PATH_MAX + 8], fp[TR_FINGERPRINT_HEX + 1];
    int32_t changed = 0;
    unsigned loaded;
    struct fx f;
    (void)st;

    key_file("watched.keys", NULL, 10, v1, a, 2, NULL, INTACT, 0600);
    path_in(path, sizeof(path), "watched.keys");
    fx_open(&f);
    set_phase("tr_ring_load");
    assert_int_equal(tr_ring_load(f.r, path, NULL), 0);
    checkpoint(&f, "tr_ring_reload_check (unchanged)");
    assert_int_equal(tr_ring_reload_check(f.r, &changed, NULL), 0);
    assert_int_equal(changed, 0);
    checkpoint(&f, "tr_ring_reload_check (a new file)");
    key_file("watched.keys", NULL, 11, v2, a, 2, NULL, INTACT, 0600);
    assert_int_equal(tr_ring_reload_check(f.r, &changed, NULL), 0);
    assert_int_equal(changed, 1);
    checkpoint(&f, "tr_ring_reload_check (a broken file)");
    key_file("watched.keys", NULL, 12, v3, a, 2, NULL, BAD_SECRET_ON_LINE_2, 0600);
    assert_int_equal(tr_ring_reload_check(f.r, &changed, NULL), TR_E_KEYFILE_SYNTAX);
    checkpoint(&f, "tr_ring_reload_check (file gone)");
    snprintf(gone, sizeof(gone), "%s.gone", path);
    assert_int_equal(rename(path, gone), 0);
    assert_int_equal(tr_ring_reload_check(f.r, &changed, NULL), TR_E_IO);
    checkpoint(&f, "tr_ring_reload_check (file back)");
    assert_int_equal(rename(gone, path), 0);
    assert_int_equal(tr_ring_reload_check(f.r, &changed, NULL), TR_E_KEYFILE_SYNTAX);
    checkpoint(&f, "tr_ring_reload_check (readable by others)");
    assert_int_equal(tr_ring_set_file_mode_policy(f.r, TR_FILE_MODE_REFUSE), 0);
    key_file("watched.keys", NULL, 13, v3, a, 2, NULL, INTACT, 0644);
    assert_int_equal(tr_ring_reload_check(f.r, &changed, NULL), TR_E_KEYFILE_MODE);
    assert_int_equal(tr_ring_set_file_mode_policy(f.r, TR_FILE_MODE_WARN), 0);

    /* Checks whose allocations fail one by one; then the change loads. */
    key_file("watched.keys", NULL, 14, v3, a, 2, NULL, INTACT, 0600);
    for (uint64_t fail = 1; fail < 16; fail++) {
        int rc;
        checkpoint(&f, "tr_ring_reload_check, allocations failing");
        tu_rec_fail_next(&f.a, fail);
        rc = tr_ring_reload_check(f.r, &changed, NULL);
        tu_rec_fail_next(&f.a, 0);
        if (rc == 0 && changed)
            break;
        assert_int_equal(rc, TR_E_NOMEM);
    }
    assert_int_equal(changed, 1);

    /* The watcher thread: its first check, then a reload of its own. */
    checkpoint(&f, "tr_ring_watch");
    assert_int_equal(tr_ring_watch(f.r, 1), 0);
    pthread_mutex_lock(&reg.mu);
    loaded = reg.loaded_lines;
    pthread_mutex_unlock(&reg.mu);
    key_file("watched.keys", NULL, 15, v4, a, 3, NULL, INTACT, 0600);
    {
        struct timespec deadline;
        int rc = 0;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += WAIT_S;
        pthread_mutex_lock(&reg.mu);
        while (reg.loaded_lines == loaded && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&reg.cond, &reg.mu, &deadline);
        pthread_mutex_unlock(&reg.mu);
        assert_int_not_equal(rc, ETIMEDOUT);
    }
    assert_int_equal(tr_ring_unwatch(f.r), 0);
    fingerprint(f.r, fp);
    {
        uint32_t n = 0;
        assert_int_equal(tr_ring_key_count(f.r, &n), 0);
        assert_int_equal(n, 3);
    }
    checkpoint(&f, "teardown");
    fx_close(&f);
}

/* The replay cache's hash key is what keeps a client from aiming every
 * ClientHello at one bucket: wiped before its memory goes. */
static void test_replay_cache(void **st)
{
    struct tu_rec a;
    tr_replay *rp = NULL;
    uint8_t key[16], v[32];
    int64_t clock = (int64_t)T0 * 1000;
    (void)st;

    assert_int_equal(tu_random_os(key, sizeof(key)), 0);
    add_secret(key, sizeof(key), "the replay cache's SipHash key");
    tu_rec_init(&a);
    a.on_free = on_free;
    a.on_free_arg = "a block the replay cache freed";
    set_phase("tr_replay_new");
    assert_int_equal(tr_replay_new_with_allocator(&rp, 100, 1000, tu_rec_malloc, tu_rec_free, &a),
                     0);
    tri_replay_set_hash_key(rp, key);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &clock), 0);
    clock += 1000;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(tu_random_os(v, sizeof(v)), 0);
        assert_int_equal(tr_replay_check(rp, v, sizeof(v)), 0);
    }
    set_phase("tr_replay_free");
    tr_replay_free(rp);
    assert_int_equal(tu_rec_get(&a).live, 0);
    assert_clean();
    tu_rec_destroy(&a);
}

/* ---- text: errors, refusals, schedule warnings -------------------------------------- */

static void test_strings_and_refusals(void **st)
{
    static const int v1[] = {21, 22};
    static const int64_t a[] = {T0 - 100, T0 + 3600};
    uint8_t t[256], bad[256], value[32] = {3};
    char path[PATH_MAX];
    size_t len = 0;
    uint64_t tag = 0;
    struct fx f, other;
    tr_replay *rp = NULL;
    (void)st;

    set_phase("tr_strerror");
    for (int code = -200; code <= 10; code++) {
        const char *s = tr_strerror(code);
        assert_non_null(s);
        count(&reg.texts);
        (void)scan((const uint8_t *)s, strlen(s), "an error string");
    }
    assert_clean();

    key_file("refusals.keys", NULL, 10, v1, a, 2, NULL, INTACT, 0600);
    path_in(path, sizeof(path), "refusals.keys");
    fx_open(&f);
    set_phase("tr_ring_load");
    assert_int_equal(tr_ring_load(f.r, path, NULL), 0);
    assert_int_equal(seal(f.r, SNI, t, sizeof(t), &len), 0);
    checkpoint(&f, "refused tickets");
    memcpy(bad, t, len);
    bad[0] ^= 0x55;
    assert_int_equal(open_as(f.r, bad, len, SNI, ALPN, NULL), TR_E_TICKET_MALFORMED);
    memcpy(bad, t, len);
    bad[len - 1] ^= 1;
    assert_int_equal(open_as(f.r, bad, len, SNI, ALPN, NULL), TR_E_TICKET_AUTH);
    memcpy(bad, t, len);
    bad[1] ^= 1;
    assert_int_equal(open_as(f.r, bad, len, SNI, ALPN, NULL), TR_E_TICKET_UNKNOWN_KEY);
    assert_int_equal(open_as(f.r, t, len, "other.example", ALPN, NULL), TR_E_TICKET_SNI);
    assert_int_equal(open_as(f.r, t, len, SNI, "http/1.1", NULL), TR_E_TICKET_ALPN);
    assert_int_equal(open_as(f.r, t, len, SNI, ALPN, "ctx"), TR_E_TICKET_CONTEXT);
    assert_int_equal(open_as(f.r, t, len - 1, SNI, ALPN, NULL), TR_E_TICKET_AUTH);
    /* A ring whose clock runs late sees the ticket from the future. */
    fx_open(&other);
    other.clock = f.clock - 3600 * 1000;
    assert_int_equal(tr_ring_load(other.r, path, NULL), 0);
    assert_int_equal(open_as(other.r, t, len, SNI, ALPN, NULL), TR_E_TICKET_FUTURE);
    checkpoint(&other, "teardown (the late ring)");
    fx_close(&other);
    f.clock += (int64_t)7300 * 1000; /* past lifetime + skew, K21 not yet retired */
    assert_int_equal(open_as(f.r, t, len, SNI, ALPN, NULL), TR_E_TICKET_EXPIRED);

    /* The schedule running out: overdue (a warning), then no key at all
     * (an error), each logged once. */
    checkpoint(&f, "schedule exhausted");
    f.clock += (int64_t)86400 * 1000; /* K22 is the encrypt key, K21 decrypts */
    assert_int_equal(tr_ring_set_rotation_period(f.r, 3600), 0);
    assert_int_equal(seal(f.r, SNI, t, sizeof(t), &len), 0);
    assert_int_equal(tr_ring_set_max_encrypt_age(f.r, 7200), 0);
    assert_int_equal(seal(f.r, SNI, t, sizeof(t), &len), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(tr_ring_set_exhausted_policy(f.r, TR_EXHAUSTED_STOP), 0);
    assert_int_equal(seal(f.r, SNI, t, sizeof(t), &len), TR_E_NO_ENCRYPT_KEY);
    checkpoint(&f, "tr_ring_export (no encrypt key)");
    assert_int_equal(tr_ring_set_max_encrypt_age(f.r, 0), 0);
    assert_int_equal(tr_ring_set_exhausted_policy(f.r, TR_EXHAUSTED_KEEP), 0);
    assert_int_equal(tr_ring_revoke_key(f.r, g.k[21]), 0);
    assert_int_equal(tr_ring_revoke_key(f.r, g.k[22]), 0);
    path_in(path, sizeof(path), "nothing-exported");
    assert_int_equal(tr_ring_export(f.r, TR_FORMAT_HAPROXY, path, NULL), TR_E_NO_ENCRYPT_KEY);

    /* Early data refused for each reason the policy has. */
    checkpoint(&f, "early data");
    assert_int_equal(tr_ring_check_early_data(f.r, 1, f.clock, 0, value, sizeof(value)),
                     TR_E_EARLY_OFF);
    assert_int_equal(tr_replay_new(&rp, 100, 10000), 0);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &f.clock), 0);
    assert_int_equal(tr_ring_set_early_data(f.r, 16384, rp), 0);
    assert_int_equal(tr_ring_early_data_tag(f.r, &tag), 0);
    assert_int_equal(tr_ring_check_early_data(f.r, tag + 1, f.clock, 0, value, sizeof(value)),
                     TR_E_EARLY_NODE);
    assert_int_equal(tr_ring_check_early_data(f.r, tag, f.clock - 60000, 0, value,
                                              sizeof(value)),
                     TR_E_EARLY_STALE);
    assert_int_equal(tr_ring_check_early_data(f.r, tag, f.clock, 0, value, sizeof(value)),
                     TR_E_REPLAY_STARTUP);
    assert_int_equal(tr_ring_check_early_data(f.r, tag, f.clock, 0, value, sizeof(value)),
                     TR_E_REPLAY);
    for (int32_t code = TR_E_REPLAY; code >= TR_E_EARLY_TLS; code--)
        assert_int_equal(tr_ring_record(f.r, code), 0);
    checkpoint(&f, "teardown");
    fx_close(&f);
    tr_replay_free(rp);

    assert_true(reg.level_lines[TR_LOG_ERROR] > 0 && reg.level_lines[TR_LOG_WARN] > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_detectors, reset_findings),
        cmocka_unit_test_setup(test_key_changes_and_teardown, reset_findings),
        cmocka_unit_test_setup(test_reloads, reset_findings),
        cmocka_unit_test_setup(test_refused_files, reset_findings),
        cmocka_unit_test_setup(test_foreign_files, reset_findings),
        cmocka_unit_test_setup(test_watch_paths, reset_findings),
        cmocka_unit_test_setup(test_replay_cache, reset_findings),
        cmocka_unit_test_setup(test_strings_and_refusals, reset_findings),
    };
    int rc;

#ifdef TU_HAVE_OPENSSL
    /* Only possible before OpenSSL's first allocation. */
    ossl_scanned = CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
#endif
    pthread_rwlock_init(&reg.lock, NULL);
    pthread_mutex_init(&reg.mu, NULL);
    pthread_cond_init(&reg.cond, NULL);
    table_init(&reg.raw, RAW_WINDOW, 1u << 14);
    table_init(&reg.text, TEXT_WIDTH, 1u << 18);
#ifdef TU_HAVE_OPENSSL
    printf("# blocks OpenSSL frees: %s\n", ossl_scanned ? "scanned" : "not scanned");
#endif
    rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    printf("# %u secrets registered (%zu byte windows, %zu text runs); scanned: %lu blocks the "
           "library freed, %lu blocks OpenSSL freed, %lu texts (%u log lines: %u errors, %u "
           "warnings, %u info; error strings; metrics)\n",
           reg.secrets, reg.raw.n, reg.text.n, reg.blocks, reg.ossl_blocks, reg.texts,
           reg.lines, reg.level_lines[TR_LOG_ERROR], reg.level_lines[TR_LOG_WARN],
           reg.level_lines[TR_LOG_INFO]);
    return rc;
}
