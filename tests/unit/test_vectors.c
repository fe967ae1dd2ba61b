/*
 * Cross-backend test vectors for the generic ticket format v1
 * (docs/ticket-format.md), committed in tests/vectors/ticket-v1.txt.
 *
 * A ticket is a deterministic function of its inputs once the ring has a
 * fixed clock and a deterministic random source (set before the first key
 * is added: salts are drawn whenever a key set is built, the nonce on each
 * seal). For every backend built, this test
 *   - re-seals every vector and requires the committed bytes exactly, and
 *   - opens every committed ticket, on a ring with the same salts (the
 *     sealing process's own subkey) and on a ring with fresh random salts
 *     (the HKDF derivation path of a ticket from another node),
 * so a ticket sealed by one backend opens with the other.
 *
 * The vector file's path is argv[1], else $TR_TEST_VECTORS.
 *
 * Regenerate (every backend must agree, or nothing is written):
 *   build/tests/test_vectors --generate tests/vectors/ticket-v1.txt
 * A v1 ticket must never change: regenerating may only add vectors.
 */
#include "test_util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VECTORS 32
#define SALT_OFFSET 17
#define SALT_BYTES 16

/* ---- the inputs of the committed vectors (used by --generate) ---------- */

struct vin {
    const char *id;
    const char *comment;
    int64_t now_ms;
    uint64_t random_seed;
    uint8_t key1_seed;
    int64_t key1_act;
    uint8_t key2_seed; /* 0: no second key */
    int64_t key2_act;
    const char *sni, *alpn, *app_ctx;
    int64_t auth_time;
    size_t state_len;
};

#define NOW INT64_C(1767225600) /* 2026-01-01T00:00:00Z */

static const struct vin builtin[] = {
    {"empty-state", "no state, no SNI, ALPN or context", NOW * 1000 + 123, 0, 1, NOW - 100,
     0, 0, NULL, NULL, NULL, 0, 0},
    {"one-byte-state", "1-byte state, SNI and ALPN", NOW * 1000 + 999, 16, 2, NOW - 1, 0, 0,
     "www.example.com", "h2", NULL, 0, 1},
    {"state-256-full-binding",
     "256-byte state, SNI, ALPN and application context; a renewed session "
     "(auth time 10 minutes before now)",
     NOW * 1000 + 500, 77, 3, NOW - 3600, 0, 0, "shop.example.org", "http/1.1",
     "tenant=42;client-cert=required", NOW - 600, 256},
    {"sni-mixed-case", "SNI in mixed case: it is lowercased before hashing", NOW * 1000 + 1,
     200, 4, NOW, 0, 0, "WWW.Example.COM", "h2", NULL, 0, 32},
    {"two-keys-older-seals",
     "two keys, the newer one still pending: the older one seals", NOW * 1000 + 42, 5, 5,
     NOW - 100, 6, NOW + 3600, "a.example", "h2", "ctx", 0, 48},
    {"two-keys-newer-seals",
     "two keys, both active: the newer one seals (state not a multiple of 16)",
     NOW * 1000 + 7, 251, 7, NOW - 7200, 8, NOW - 60, "b.example", "h3", NULL, NOW - 30, 17},
    {"alpn-only-state-1000", "1000-byte state, ALPN only", NOW * 1000 + 250, 9, 9, NOW - 5,
     0, 0, NULL, "h2", NULL, 0, 1000},
    {"two-keys-added-newest-first",
     "two keys, the newer (sealing) one added first: salts follow activation order",
     NOW * 1000 + 333, 100, 10, NOW - 60, 11, NOW - 7200, "c.example", "h2", "tenant=1", 0,
     64},
};
#define N_BUILTIN (sizeof(builtin) / sizeof(builtin[0]))

static void state_pattern(uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        s[i] = (uint8_t)(i * 29u + 7u);
}

/* ---- a vector as read from (or written to) the file -------------------- */

struct buf {
    uint8_t *p;
    size_t len;
};

struct vector {
    char id[64];
    int64_t now_ms;
    uint64_t random_seed;
    uint8_t key1[TR_KEY_BYTES];
    int64_t key1_act;
    int has_key2;
    uint8_t key2[TR_KEY_BYTES];
    int64_t key2_act;
    struct buf sni, alpn, app_ctx, state, ticket;
    int64_t auth_time;
    uint8_t sealed_by[TR_KEY_NAME_BYTES];
    unsigned seen; /* bit per field, to refuse incomplete vectors */
};

enum {
    F_NOW = 1u << 0, F_SEED = 1u << 1, F_KEY1 = 1u << 2, F_KEY1_ACT = 1u << 3,
    F_KEY2 = 1u << 4, F_KEY2_ACT = 1u << 5, F_SNI = 1u << 6, F_ALPN = 1u << 7,
    F_CTX = 1u << 8, F_AUTH = 1u << 9, F_STATE = 1u << 10, F_SEALED_BY = 1u << 11,
    F_TICKET = 1u << 12,
    F_REQUIRED = F_NOW | F_SEED | F_KEY1 | F_KEY1_ACT | F_SNI | F_ALPN | F_CTX | F_AUTH |
                 F_STATE | F_SEALED_BY | F_TICKET,
};

static struct vector vectors[MAX_VECTORS];
static size_t n_vectors;

static void buf_set(struct buf *b, const void *p, size_t len)
{
    free(b->p);
    b->p = malloc(len + 1); /* never malloc(0) */
    if (b->p == NULL)
        abort();
    if (len > 0)
        memcpy(b->p, p, len);
    b->len = len;
}

static void vector_free(struct vector *v)
{
    free(v->sni.p);
    free(v->alpn.p);
    free(v->app_ctx.p);
    free(v->state.p);
    free(v->ticket.p);
    memset(v, 0, sizeof(*v));
}

/* The vector's inputs from the built-in table (the ticket is left empty). */
static void vector_from_builtin(struct vector *v, const struct vin *in)
{
    uint8_t *state = malloc(in->state_len + 1);
    if (state == NULL)
        abort();
    memset(v, 0, sizeof(*v));
    snprintf(v->id, sizeof(v->id), "%s", in->id);
    v->now_ms = in->now_ms;
    v->random_seed = in->random_seed;
    tu_key(v->key1, in->key1_seed);
    v->key1_act = in->key1_act;
    if (in->key2_seed != 0) {
        v->has_key2 = 1;
        tu_key(v->key2, in->key2_seed);
        v->key2_act = in->key2_act;
    }
    buf_set(&v->sni, in->sni, in->sni ? strlen(in->sni) : 0);
    buf_set(&v->alpn, in->alpn, in->alpn ? strlen(in->alpn) : 0);
    buf_set(&v->app_ctx, in->app_ctx, in->app_ctx ? strlen(in->app_ctx) : 0);
    v->auth_time = in->auth_time;
    state_pattern(state, in->state_len);
    buf_set(&v->state, state, in->state_len);
    free(state);
    buf_set(&v->ticket, NULL, 0);
}

/* ---- parsing ------------------------------------------------------------- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int parse_hex(const char *s, struct buf *out)
{
    size_t n = strlen(s);
    uint8_t *p;
    if (n % 2 != 0)
        return -1;
    p = malloc(n / 2 + 1);
    if (p == NULL)
        abort();
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(p);
            return -1;
        }
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    free(out->p);
    out->p = p;
    out->len = n / 2;
    return 0;
}

static int parse_fixed_hex(const char *s, uint8_t *out, size_t len)
{
    struct buf b = {0};
    int rc = parse_hex(s, &b);
    if (rc == 0 && b.len != len)
        rc = -1;
    if (rc == 0)
        memcpy(out, b.p, len);
    free(b.p);
    return rc;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (*s == '\0')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* One "name = value" line into v; -1 for an unknown name or a bad value. */
static int parse_field(struct vector *v, const char *name, const char *value)
{
    int64_t i64 = 0;
    int rc = -1;
    unsigned bit = 0;

    if (strcmp(name, "now_ms") == 0) {
        rc = parse_i64(value, &v->now_ms), bit = F_NOW;
    } else if (strcmp(name, "random_seed") == 0) {
        rc = parse_i64(value, &i64), bit = F_SEED;
        v->random_seed = (uint64_t)i64;
    } else if (strcmp(name, "key1") == 0) {
        rc = parse_fixed_hex(value, v->key1, TR_KEY_BYTES), bit = F_KEY1;
    } else if (strcmp(name, "key1_activation") == 0) {
        rc = parse_i64(value, &v->key1_act), bit = F_KEY1_ACT;
    } else if (strcmp(name, "key2") == 0) {
        rc = parse_fixed_hex(value, v->key2, TR_KEY_BYTES), bit = F_KEY2;
        v->has_key2 = 1;
    } else if (strcmp(name, "key2_activation") == 0) {
        rc = parse_i64(value, &v->key2_act), bit = F_KEY2_ACT;
    } else if (strcmp(name, "sni") == 0) {
        rc = parse_hex(value, &v->sni), bit = F_SNI;
    } else if (strcmp(name, "alpn") == 0) {
        rc = parse_hex(value, &v->alpn), bit = F_ALPN;
    } else if (strcmp(name, "app_ctx") == 0) {
        rc = parse_hex(value, &v->app_ctx), bit = F_CTX;
    } else if (strcmp(name, "auth_time") == 0) {
        rc = parse_i64(value, &v->auth_time), bit = F_AUTH;
    } else if (strcmp(name, "state") == 0) {
        rc = parse_hex(value, &v->state), bit = F_STATE;
    } else if (strcmp(name, "sealed_by") == 0) {
        rc = parse_fixed_hex(value, v->sealed_by, TR_KEY_NAME_BYTES), bit = F_SEALED_BY;
    } else if (strcmp(name, "ticket") == 0) {
        rc = parse_hex(value, &v->ticket), bit = F_TICKET;
    }
    if (rc == 0) {
        if (v->seen & bit)
            return -1; /* a field twice */
        v->seen |= bit;
    }
    return rc;
}

static int vector_complete(const struct vector *v)
{
    unsigned key2 = v->seen & (F_KEY2 | F_KEY2_ACT);
    return (v->seen & F_REQUIRED) == F_REQUIRED && (key2 == 0 || key2 == (F_KEY2 | F_KEY2_ACT));
}

static char *trim(char *s)
{
    char *e = s + strlen(s);
    while (*s == ' ' || *s == '\t')
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Read every vector of `path`; prints the offending line and returns -1 on
 * any malformed, unknown or incomplete entry. */
static int load_vectors(const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL, *s, *eq;
    size_t cap = 0;
    unsigned lineno = 0;
    struct vector *cur = NULL;
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        eq = strchr(s, '=');
        if (eq == NULL) {
            rc = -1;
            break;
        }
        *eq = '\0';
        s = trim(s);
        eq = trim(eq + 1);
        if (strcmp(s, "vector") == 0) {
            if ((cur != NULL && !vector_complete(cur)) || n_vectors == MAX_VECTORS ||
                *eq == '\0' || strlen(eq) >= sizeof(cur->id)) {
                rc = -1;
                break;
            }
            cur = &vectors[n_vectors++];
            memset(cur, 0, sizeof(*cur));
            snprintf(cur->id, sizeof(cur->id), "%s", eq);
        } else if (cur == NULL || parse_field(cur, s, eq) != 0) {
            rc = -1;
        }
    }
    if (rc == 0 && (cur == NULL || !vector_complete(cur))) {
        fprintf(stderr, "%s: no vector, or the last one is incomplete\n", path);
        rc = -1;
    } else if (rc != 0) {
        fprintf(stderr, "%s:%u: malformed, unknown or repeated entry\n", path, lineno);
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- sealing and opening ------------------------------------------------- */

/* A ring for vector v: fixed clock; deterministic random when `counter` is
 * non-NULL (set before the keys are added, so the salts come from it). */
static tr_ring *vector_ring(const tr_crypto *c, const struct vector *v, int64_t *clock_ms,
                            uint64_t *counter)
{
    tr_ring *r = NULL;
    *clock_ms = v->now_ms;
    if (tr_ring_new(&r, c) != 0)
        return NULL;
    if (tr_ring_set_clock(r, tu_clock, clock_ms) != 0 ||
        (counter != NULL && tr_ring_set_random(r, tu_random_counter, counter) != 0) ||
        tr_ring_add_key(r, v->key1, v->key1_act) != 0 ||
        (v->has_key2 && tr_ring_add_key(r, v->key2, v->key2_act) != 0)) {
        tr_ring_free(r);
        return NULL;
    }
    return r;
}

/* Seal v's inputs with backend c exactly as the committed vector was
 * sealed; 0 and the ticket in *out. */
static int vector_seal(const tr_crypto *c, const struct vector *v, struct buf *out)
{
    int64_t clock_ms;
    uint64_t counter = v->random_seed;
    size_t cap = v->state.len + TR_TICKET_OVERHEAD, len = 0;
    uint8_t *t = malloc(cap);
    tr_ring *r;
    int rc;

    if (t == NULL)
        abort();
    r = vector_ring(c, v, &clock_ms, &counter);
    if (r == NULL) {
        free(t);
        return -1;
    }
    rc = tr_ticket_seal(r, v->state.p, v->state.len, v->sni.p, v->sni.len, v->alpn.p,
                        v->alpn.len, v->app_ctx.p, v->app_ctx.len, v->auth_time, t, cap, &len,
                        NULL);
    tr_ring_free(r);
    if (rc == 0)
        buf_set(out, t, len);
    free(t);
    return rc;
}

/* Open v's committed ticket on ring r with the given SNI and check what it
 * gives back; returns the tr_ticket_open() code. */
static int vector_open(tr_ring *r, const struct vector *v, const uint8_t *ticket,
                       const uint8_t *sni, size_t sni_len, const uint8_t *alpn,
                       size_t alpn_len, const uint8_t *ctx, size_t ctx_len)
{
    uint8_t *state = malloc(v->state.len + 1);
    uint8_t name[TR_KEY_NAME_BYTES];
    int64_t auth = -1, age = -1;
    uint32_t flags = 99;
    size_t len = 0;
    int rc;

    if (state == NULL)
        abort();
    rc = tr_ticket_open(r, ticket, v->ticket.len, sni, sni_len, alpn, alpn_len, ctx, ctx_len,
                        state, v->state.len + 1, &len, name, &auth, &age, &flags);
    if (rc == 0) {
        assert_int_equal(len, v->state.len);
        assert_memory_equal(state, v->state.p, len);
        assert_memory_equal(name, v->sealed_by, TR_KEY_NAME_BYTES);
        assert_int_equal(auth, v->auth_time != 0 ? v->auth_time : v->now_ms / 1000);
        assert_int_equal(age, 0);
        assert_int_equal(flags, 0); /* only the encrypt key seals */
    }
    free(state);
    return rc;
}

static int open_as_sealed(tr_ring *r, const struct vector *v, const uint8_t *ticket)
{
    return vector_open(r, v, ticket, v->sni.p, v->sni.len, v->alpn.p, v->alpn.len,
                       v->app_ctx.p, v->app_ctx.len);
}

static const char *backend_name(const tr_crypto *c)
{
    /* tr_crypto is opaque outside the library: find the name by identity. */
    if (tu_backend_named("openssl") == c)
        return "openssl";
    if (tu_backend_named("mbedtls") == c)
        return "mbedtls";
    return "?";
}

/* ---- tests ----------------------------------------------------------------- */

static void test_file_lists_every_vector(void **st)
{
    (void)st;
    assert_int_equal(n_vectors, N_BUILTIN);
    for (size_t i = 0; i < N_BUILTIN; i++) {
        assert_string_equal(vectors[i].id, builtin[i].id);
        assert_int_equal(vectors[i].ticket.len, vectors[i].state.len + TR_TICKET_OVERHEAD);
        assert_int_equal(vectors[i].ticket.p[0], 1); /* format v1 */
        assert_memory_equal(vectors[i].ticket.p + 1, vectors[i].sealed_by, TR_KEY_NAME_BYTES);
    }
}

/* Every backend reproduces every committed ticket byte for byte. */
static void test_reseal_byte_identical(void **st)
{
    (void)st;
    for (const tr_crypto *const *c = tu_backends(); *c != NULL; c++) {
        for (size_t i = 0; i < n_vectors; i++) {
            struct buf t = {0};
            const struct vector *v = &vectors[i];
            int rc = vector_seal(*c, v, &t);
            if (rc != 0)
                print_error("%s: %s: seal failed: %s\n", backend_name(*c), v->id,
                            tr_strerror(rc));
            assert_int_equal(rc, 0);
            if (t.len != v->ticket.len || memcmp(t.p, v->ticket.p, t.len) != 0)
                print_error("%s: %s: ticket differs from the committed one\n",
                            backend_name(*c), v->id);
            assert_int_equal(t.len, v->ticket.len);
            assert_memory_equal(t.p, v->ticket.p, t.len);
            free(t.p);
        }
    }
}

/* The sealing ring itself (same salts: its own subkey, no derivation). */
static void test_open_with_sealing_salts(void **st)
{
    (void)st;
    for (const tr_crypto *const *c = tu_backends(); *c != NULL; c++) {
        for (size_t i = 0; i < n_vectors; i++) {
            const struct vector *v = &vectors[i];
            int64_t clock_ms;
            uint64_t counter = v->random_seed;
            tr_ring *r = vector_ring(*c, v, &clock_ms, &counter);
            assert_non_null(r);
            assert_int_equal(open_as_sealed(r, v, v->ticket.p), 0);
            tr_ring_free(r);
        }
    }
}

/* A ring with the backend's real random source draws other salts, so the
 * ticket's salt is not its own: the subkey is derived with HKDF, as on any
 * other node. */
static void test_open_with_fresh_salts(void **st)
{
    (void)st;
    for (const tr_crypto *const *c = tu_backends(); *c != NULL; c++) {
        for (size_t i = 0; i < n_vectors; i++) {
            const struct vector *v = &vectors[i];
            int64_t clock_ms;
            uint8_t fresh[TR_TICKET_OVERHEAD];
            size_t len = 0;
            tr_ring *r = vector_ring(*c, v, &clock_ms, NULL);
            assert_non_null(r);
            /* Its own salt for the sealing key differs from the vector's. */
            assert_int_equal(tr_ticket_seal(r, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, fresh,
                                            sizeof(fresh), &len, NULL),
                             0);
            assert_memory_equal(fresh + 1, v->sealed_by, TR_KEY_NAME_BYTES);
            assert_memory_not_equal(fresh + SALT_OFFSET, v->ticket.p + SALT_OFFSET,
                                    SALT_BYTES);
            assert_int_equal(open_as_sealed(r, v, v->ticket.p), 0);
            tr_ring_free(r);
        }
    }
}

/* Host names compare without regard to ASCII case. */
static void test_open_with_lowercased_sni(void **st)
{
    (void)st;
    for (const tr_crypto *const *c = tu_backends(); *c != NULL; c++) {
        for (size_t i = 0; i < n_vectors; i++) {
            const struct vector *v = &vectors[i];
            uint8_t lower[256];
            int64_t clock_ms;
            tr_ring *r;
            if (v->sni.len == 0 || v->sni.len > sizeof(lower))
                continue;
            for (size_t j = 0; j < v->sni.len; j++)
                lower[j] = (uint8_t)tolower(v->sni.p[j]);
            r = vector_ring(*c, v, &clock_ms, NULL);
            assert_non_null(r);
            assert_int_equal(vector_open(r, v, v->ticket.p, lower, v->sni.len, v->alpn.p,
                                         v->alpn.len, v->app_ctx.p, v->app_ctx.len),
                             0);
            tr_ring_free(r);
        }
    }
}

/* The committed tickets are refused for another binding, and with any
 * byte changed. */
static void test_committed_tickets_refused_when_changed(void **st)
{
    static const uint8_t other[] = "other.example";
    (void)st;
    for (const tr_crypto *const *c = tu_backends(); *c != NULL; c++) {
        for (size_t i = 0; i < n_vectors; i++) {
            const struct vector *v = &vectors[i];
            uint8_t *t = malloc(v->ticket.len);
            int64_t clock_ms;
            tr_ring *r = vector_ring(*c, v, &clock_ms, NULL);
            assert_non_null(r);
            assert_non_null(t);
            assert_int_equal(vector_open(r, v, v->ticket.p, other, sizeof(other) - 1,
                                         v->alpn.p, v->alpn.len, v->app_ctx.p,
                                         v->app_ctx.len),
                             TR_E_TICKET_SNI);
            assert_int_equal(vector_open(r, v, v->ticket.p, v->sni.p, v->sni.len, other,
                                         sizeof(other) - 1, v->app_ctx.p, v->app_ctx.len),
                             TR_E_TICKET_ALPN);
            assert_int_equal(vector_open(r, v, v->ticket.p, v->sni.p, v->sni.len, v->alpn.p,
                                         v->alpn.len, other, sizeof(other) - 1),
                             TR_E_TICKET_CONTEXT);
            /* One flipped bit in the salt, the nonce, the body, the tag. */
            for (size_t off = SALT_OFFSET; off < v->ticket.len; off += 7) {
                int rc;
                memcpy(t, v->ticket.p, v->ticket.len);
                t[off] ^= 0x01;
                rc = open_as_sealed(r, v, t);
                assert_int_equal(rc, TR_E_TICKET_AUTH);
            }
            free(t);
            tr_ring_free(r);
        }
    }
}

/* ---- the file -------------------------------------------------------------- */

static void fput_hex(FILE *f, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", p[i]);
}

static void fput_field(FILE *f, const char *name, const uint8_t *p, size_t len)
{
    fprintf(f, "%s =", name);
    if (len > 0) {
        fputc(' ', f);
        fput_hex(f, p, len);
    }
    fputc('\n', f);
}

static void fput_text(FILE *f, const char *label, const char *s)
{
    fprintf(f, "%s%s%s%s", label, s ? "\"" : "", s ? s : "(none)", s ? "\"" : "");
}

static const char file_header[] =
    "# libticketring: test vectors for the generic ticket format v1\n"
    "# (docs/ticket-format.md). Every crypto backend must seal each vector's\n"
    "# inputs into exactly `ticket`, and open `ticket` back into `state`\n"
    "# (tests/unit/test_vectors.c, run once per backend), so a ticket sealed by\n"
    "# one backend opens with the other.\n"
    "#\n"
    "# Regenerate (only to add a vector: a v1 ticket must never change, or every\n"
    "# ticket in the field stops opening). Every backend built must agree:\n"
    "#   meson setup build && ninja -C build\n"
    "#   build/tests/test_vectors --generate tests/vectors/ticket-v1.txt\n"
    "#\n"
    "# Format: '#' comments, blank lines, and 'name = value' lines. 'vector = ID'\n"
    "# starts a vector; byte strings are lowercase hex (empty: nothing after\n"
    "# '='), numbers decimal. Fields:\n"
    "#   now_ms           the ring's clock, ms since the Unix epoch (fixed)\n"
    "#   random_seed      the ring's random source: byte i of its stream is\n"
    "#                    0xa5 ^ ((random_seed + i) mod 256) (tu_random_counter)\n"
    "#   key1, key2       80-byte keys (name | HMAC secret | AES key), added in\n"
    "#                    this order with tr_ring_add_key(), each at\n"
    "#   key1_activation, key2_activation (Unix seconds); key2 is optional\n"
    "#   sni, alpn, app_ctx   the binding passed to tr_ticket_seal()\n"
    "#   auth_time        passed to tr_ticket_seal() (0: now)\n"
    "#   state            the session state\n"
    "#   sealed_by        name of the key that seals (the encrypt key at now_ms)\n"
    "#   ticket           what tr_ticket_seal() returns\n"
    "# How the bytes come about: tr_ring_new(), tr_ring_set_clock(),\n"
    "# tr_ring_set_random() (before any key), then each tr_ring_add_key()\n"
    "# builds a key set and draws a 16-byte salt per key, in activation order;\n"
    "# tr_ticket_seal() draws the 12-byte nonce. Policy: the defaults.\n";

static int generate(const char *path)
{
    const tr_crypto *const *backends = tu_backends();
    char *tmp;
    FILE *f;
    size_t n = 0;

    tmp = malloc(strlen(path) + 5);
    if (tmp == NULL)
        return 1;
    sprintf(tmp, "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", tmp, strerror(errno));
        free(tmp);
        return 1;
    }
    fputs(file_header, f);
    for (size_t i = 0; i < N_BUILTIN; i++) {
        const struct vin *in = &builtin[i];
        struct vector v;
        vector_from_builtin(&v, in);
        for (const tr_crypto *const *c = backends; *c != NULL; c++) {
            struct buf t = {0};
            int rc = vector_seal(*c, &v, &t);
            if (rc != 0) {
                fprintf(stderr, "%s: %s: seal failed: %s\n", backend_name(*c), in->id,
                        tr_strerror(rc));
                goto fail;
            }
            if (c == backends) {
                buf_set(&v.ticket, t.p, t.len);
            } else if (t.len != v.ticket.len || memcmp(t.p, v.ticket.p, t.len) != 0) {
                fprintf(stderr, "%s: %s: differs from %s's ticket; nothing written\n",
                        backend_name(*c), in->id, backend_name(backends[0]));
                free(t.p);
                vector_free(&v);
                goto fail;
            }
            free(t.p);
        }
        memcpy(v.sealed_by, v.ticket.p + 1, TR_KEY_NAME_BYTES);

        fprintf(f, "\n# %s\n", in->comment);
        fput_text(f, "# sni ", in->sni);
        fput_text(f, ", alpn ", in->alpn);
        fput_text(f, ", app_ctx ", in->app_ctx);
        fprintf(f, ", state: %zu byte%s\n", in->state_len, in->state_len == 1 ? "" : "s");
        fprintf(f, "vector = %s\n", v.id);
        fprintf(f, "now_ms = %" PRId64 "\n", v.now_ms);
        fprintf(f, "random_seed = %" PRIu64 "\n", v.random_seed);
        fput_field(f, "key1", v.key1, TR_KEY_BYTES);
        fprintf(f, "key1_activation = %" PRId64 "\n", v.key1_act);
        if (v.has_key2) {
            fput_field(f, "key2", v.key2, TR_KEY_BYTES);
            fprintf(f, "key2_activation = %" PRId64 "\n", v.key2_act);
        }
        fput_field(f, "sni", v.sni.p, v.sni.len);
        fput_field(f, "alpn", v.alpn.p, v.alpn.len);
        fput_field(f, "app_ctx", v.app_ctx.p, v.app_ctx.len);
        fprintf(f, "auth_time = %" PRId64 "\n", v.auth_time);
        fput_field(f, "state", v.state.p, v.state.len);
        fput_field(f, "sealed_by", v.sealed_by, TR_KEY_NAME_BYTES);
        fput_field(f, "ticket", v.ticket.p, v.ticket.len);
        vector_free(&v);
        n++;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return 1;
    }
    printf("wrote %zu vectors to %s (backends:", n, path);
    for (const tr_crypto *const *c = backends; *c != NULL; c++)
        printf(" %s", backend_name(*c));
    printf(")\n");
    free(tmp);
    return 0;
fail:
    fclose(f);
    remove(tmp);
    free(tmp);
    return 1;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_lists_every_vector),
        cmocka_unit_test(test_reseal_byte_identical),
        cmocka_unit_test(test_open_with_sealing_salts),
        cmocka_unit_test(test_open_with_fresh_salts),
        cmocka_unit_test(test_open_with_lowercased_sni),
        cmocka_unit_test(test_committed_tickets_refused_when_changed),
    };
    const char *path;
    int rc;

    if (argc == 3 && strcmp(argv[1], "--generate") == 0)
        return generate(argv[2]);
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr,
                "usage: %s [VECTOR-FILE]     run the tests (default: $TR_TEST_VECTORS)\n"
                "       %s --generate FILE   write the vectors, sealed by every backend\n",
                argv[0], argv[0]);
        return 2;
    }
    path = argc == 2 ? argv[1] : getenv("TR_TEST_VECTORS");
    if (path == NULL || path[0] == '\0') {
        fprintf(stderr, "%s: no vector file: pass it as argv[1] or in TR_TEST_VECTORS\n",
                argv[0]);
        return 1;
    }
    if (load_vectors(path) != 0)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (size_t i = 0; i < n_vectors; i++)
        vector_free(&vectors[i]);
    return rc;
}
