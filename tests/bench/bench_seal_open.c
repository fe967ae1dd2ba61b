/*
 * bench_seal_open: seal + open of a 256-byte session state per second on one
 * thread, through the public generic API (tr_ticket_seal/tr_ticket_open) on
 * every crypto backend built, against OpenSSL CBC+HMAC ticket baselines
 * measured in the same process and run.
 *
 *   bench_seal_open            7 rounds of ~0.3 s per row (about 20 s)
 *   bench_seal_open --quick    3 rounds of ~0.05 s per row (smoke run)
 *
 * Rounds are interleaved across rows (round 1 of every row, then round 2 ...)
 * so that frequency scaling or a noisy neighbour hits every row alike; each
 * row reports its median round.
 *
 * What is and is not measured: cryptography and ticket framing only. Neither
 * the library nor the baselines serialise a TLS session here (OpenSSL's
 * i2d/d2i_SSL_SESSION and its ticket buffer mallocs would add the same cost
 * to every baseline). libticketring's numbers include everything its API
 * does per ticket: the clock, the random nonce, the three SHA-256 binding
 * digests (SNI, ALPN, context), the AEAD and the lock-free key set pinning.
 *
 * Allocations: the ring is made with a counting allocator; its count is taken
 * before the first and after the last timed round, so "ring allocs (all)" is
 * how many allocations all the timed seal+open pairs made through the ring's
 * allocator (the design says 0; the run fails otherwise). OpenSSL's own
 * mallocs are counted through CRYPTO_set_mem_functions ("OpenSSL mallocs/op",
 * mbedTLS's are not counted).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h" /* the backend table's name */
#include "ticketring/ticketring.h"
#ifdef TU_HAVE_OPENSSL
#include "ticketring/openssl.h"
#endif
#ifdef TU_HAVE_MBEDTLS
#include "mbedtls/version.h"
#include "ticketring/mbedtls.h"
#endif

#ifdef TU_HAVE_OPENSSL
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#define BENCH_BASELINES 1
#endif
#endif

#define STATE_BYTES 256
#define MAX_ROUNDS 9
#define MAX_ROWS 12

/* ---- time and counters --------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct counting_alloc {
    uint64_t allocs;
    uint64_t frees;
};

static void *count_malloc(size_t size, void *arg)
{
    ((struct counting_alloc *)arg)->allocs++;
    return malloc(size);
}

static void count_free(void *p, void *arg)
{
    if (p != NULL)
        ((struct counting_alloc *)arg)->frees++;
    free(p);
}

#ifdef TU_HAVE_OPENSSL
/* Every malloc/realloc OpenSSL makes, in this process, on any thread. */
static atomic_uint_fast64_t ossl_mallocs;

static void *ossl_malloc_hook(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    atomic_fetch_add_explicit(&ossl_mallocs, 1, memory_order_relaxed);
    return malloc(n);
}

static void *ossl_realloc_hook(void *p, size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    atomic_fetch_add_explicit(&ossl_mallocs, 1, memory_order_relaxed);
    return realloc(p, n);
}

static void ossl_free_hook(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    free(p);
}

static uint64_t ossl_malloc_count(void)
{
    return atomic_load_explicit(&ossl_mallocs, memory_order_relaxed);
}
#else
static uint64_t ossl_malloc_count(void)
{
    return 0;
}
#endif

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_seal_open: %s failed: %d (%s)\n", what, rc,
            rc < 0 ? tr_strerror(rc) : "");
    exit(1);
}

/* ---- rows ------------------------------------------------------------------ */

/* One seal+open pair; returns 0 or exits. */
typedef void (*op_fn)(void *ctx);

struct row {
    const char *label;
    op_fn op;
    void *ctx;
    struct counting_alloc *ring_alloc; /* NULL: no ring */
    int counts_ossl;                   /* OpenSSL malloc count meaningful */
    double rate[MAX_ROUNDS];
    uint64_t ops;
    uint64_t ring_allocs, ossl_allocs;
    double median;
};

static const uint8_t sni[] = "www.example.com";
static const uint8_t alpn[] = "h2";

/* A ring seals, a ring opens: the same ring (same node), or a second ring
 * with the same key and its own salt (another node: one HKDF per open). */
struct lib_ctx {
    tr_ring *sealer;
    tr_ring *opener;
    uint8_t state[STATE_BYTES];
    uint8_t ticket[STATE_BYTES + TR_TICKET_OVERHEAD];
    uint8_t back[STATE_BYTES];
};

static void lib_op(void *arg)
{
    struct lib_ctx *c = arg;
    size_t tlen = 0, slen = 0;
    int rc = tr_ticket_seal(c->sealer, c->state, sizeof(c->state), sni, sizeof(sni) - 1, alpn,
                            sizeof(alpn) - 1, NULL, 0, 0, c->ticket, sizeof(c->ticket), &tlen,
                            NULL);
    if (rc != 0)
        die("tr_ticket_seal", rc);
    rc = tr_ticket_open(c->opener, c->ticket, tlen, sni, sizeof(sni) - 1, alpn, sizeof(alpn) - 1,
                        NULL, 0, c->back, sizeof(c->back), &slen, NULL, NULL, NULL, NULL);
    if (rc != 0 || slen != STATE_BYTES)
        die("tr_ticket_open", rc);
}

static tr_ring *make_ring(const tr_crypto *crypto, struct counting_alloc *a,
                          const uint8_t key[TR_KEY_BYTES])
{
    tr_ring *r = NULL;
    int rc = tr_ring_new_with_allocator(&r, crypto, count_malloc, count_free, a);
    if (rc != 0)
        die("tr_ring_new_with_allocator", rc);
    rc = tr_ring_add_key(r, key, (int64_t)time(NULL) - 60);
    if (rc != 0)
        die("tr_ring_add_key", rc);
    return r;
}

/* ---- OpenSSL CBC+HMAC baselines (OpenSSL's ticket format) -------------------- */

#ifdef BENCH_BASELINES

/* name(16) | IV(16) | AES-256-CBC(state, PKCS#7 padded) | HMAC-SHA256 of all before */
#define CBC_CT_BYTES (STATE_BYTES + 16)
#define CBC_TICKET_BYTES (16 + 16 + CBC_CT_BYTES + 32)

enum baseline_kind {
    NGINX_CB,     /* nginx's key callback inside OpenSSL 3.0's ticket code */
    OSSL_BUILTIN, /* OpenSSL 3.0's own ticket keys */
    REUSED,       /* the same crypto with contexts and algorithms kept */
};

struct cbc_ctx {
    enum baseline_kind kind;
    uint8_t name[16], aes_key[32], hmac_key[32];
    uint8_t state[STATE_BYTES], ticket[CBC_TICKET_BYTES], back[CBC_CT_BYTES];
    /* REUSED only */
    EVP_CIPHER *cbc;
    EVP_CIPHER_CTX *ectx, *dctx;
    EVP_MAC_CTX *hmac;
};

static void ossl_fail(const char *what)
{
    fprintf(stderr, "bench_seal_open: baseline: %s failed\n", what);
    exit(1);
}

/*
 * Contexts for one ticket, set up the way each server does it per ticket:
 *  - NGINX_CB: OpenSSL 3.0 allocates both contexts per ticket (ssl_hmac_new
 *    fetches "HMAC" each time), then calls nginx's
 *    ngx_ssl_ticket_key_callback, which inits the cipher with
 *    EVP_aes_256_cbc() (an implicit fetch) and sets the MAC key and digest
 *    name with EVP_MAC_CTX_set_params.
 *  - OSSL_BUILTIN: OpenSSL 3.0's construct_stateless_ticket and
 *    tls_decrypt_ticket without a callback: new contexts, EVP_MAC_fetch
 *    ("HMAC") in ssl_hmac_new, EVP_CIPHER_fetch("AES-256-CBC") per ticket and
 *    ssl_hmac_init with the digest name "SHA256".
 *  - REUSED: contexts made, algorithms fetched and keys set once per key;
 *    per ticket only a new IV (EVP_*Init_ex with NULL cipher and key) and a
 *    MAC restart (EVP_MAC_init with a NULL key keeps the key).
 */
static EVP_CIPHER_CTX *cipher_begin(struct cbc_ctx *c, int enc, const uint8_t iv[16])
{
    EVP_CIPHER_CTX *ctx;
    EVP_CIPHER *fetched = NULL;
    const EVP_CIPHER *cipher;
    int ok;

    switch (c->kind) {
    case NGINX_CB:
        ctx = EVP_CIPHER_CTX_new();
        cipher = EVP_aes_256_cbc();
        break;
    case OSSL_BUILTIN:
        ctx = EVP_CIPHER_CTX_new();
        cipher = fetched = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
        break;
    case REUSED:
        /* Keyed at setup: per ticket only the IV changes. */
        ctx = enc ? c->ectx : c->dctx;
        ok = enc ? EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv)
                 : EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv);
        if (ok != 1)
            ossl_fail("EVP_*Init_ex");
        return ctx;
    default:
        ossl_fail("baseline kind");
        return NULL;
    }
    if (ctx == NULL || cipher == NULL)
        ossl_fail("cipher context");
    ok = enc ? EVP_EncryptInit_ex(ctx, cipher, NULL, c->aes_key, iv)
             : EVP_DecryptInit_ex(ctx, cipher, NULL, c->aes_key, iv);
    EVP_CIPHER_free(fetched);
    if (ok != 1)
        ossl_fail("EVP_*Init_ex");
    return ctx;
}

static void cipher_end(struct cbc_ctx *c, EVP_CIPHER_CTX *ctx)
{
    if (c->kind != REUSED)
        EVP_CIPHER_CTX_free(ctx);
}

static void mac_end(struct cbc_ctx *c, EVP_MAC_CTX *ctx)
{
    if (c->kind != REUSED)
        EVP_MAC_CTX_free(ctx);
}

static EVP_MAC_CTX *mac_begin(struct cbc_ctx *c)
{
    EVP_MAC_CTX *ctx = NULL;
    char digest[] = "SHA256";
    OSSL_PARAM params[3];
    int ok = 0;

    if (c->kind == REUSED) {
        /* Keyed at setup: a NULL key restarts with the same key. */
        ctx = c->hmac;
        ok = EVP_MAC_init(ctx, NULL, 0, NULL) == 1;
    } else {
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL); /* ssl_hmac_new */
        if (mac != NULL)
            ctx = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac);
        if (ctx != NULL && c->kind == NGINX_CB) {
            params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, c->hmac_key,
                                                          sizeof(c->hmac_key));
            params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
            params[2] = OSSL_PARAM_construct_end();
            ok = EVP_MAC_CTX_set_params(ctx, params) == 1 && EVP_MAC_init(ctx, NULL, 0, NULL) == 1;
        } else if (ctx != NULL) {
            params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
            params[1] = OSSL_PARAM_construct_end();
            ok = EVP_MAC_init(ctx, c->hmac_key, sizeof(c->hmac_key), params) == 1;
        }
    }
    if (!ok)
        ossl_fail("HMAC setup");
    return ctx;
}

static void cbc_op(void *arg)
{
    struct cbc_ctx *c = arg;
    uint8_t *name = c->ticket, *iv = c->ticket + 16, *ct = c->ticket + 32;
    uint8_t *mac_out = ct + CBC_CT_BYTES, computed[32];
    EVP_CIPHER_CTX *ectx, *dctx;
    EVP_MAC_CTX *hctx;
    size_t mlen = 0;
    int n1 = 0, n2 = 0;

    /* ---- seal: what happens per NewSessionTicket */
    memcpy(name, c->name, 16);
    if (RAND_bytes(iv, 16) != 1)
        ossl_fail("RAND_bytes");
    ectx = cipher_begin(c, 1, iv);
    hctx = mac_begin(c);
    if (EVP_EncryptUpdate(ectx, ct, &n1, c->state, STATE_BYTES) != 1 ||
        EVP_EncryptFinal_ex(ectx, ct + n1, &n2) != 1 || n1 + n2 != CBC_CT_BYTES)
        ossl_fail("CBC encrypt");
    if (EVP_MAC_update(hctx, c->ticket, 32 + CBC_CT_BYTES) != 1 ||
        EVP_MAC_final(hctx, mac_out, &mlen, 32) != 1 || mlen != 32)
        ossl_fail("HMAC");
    cipher_end(c, ectx);
    mac_end(c, hctx);

    /* ---- open: what happens per resumption attempt */
    if (memcmp(c->ticket, c->name, 16) != 0)
        ossl_fail("key name");
    hctx = mac_begin(c);
    dctx = cipher_begin(c, 0, iv);
    if (EVP_MAC_update(hctx, c->ticket, 32 + CBC_CT_BYTES) != 1 ||
        EVP_MAC_final(hctx, computed, &mlen, 32) != 1 || mlen != 32 ||
        CRYPTO_memcmp(computed, mac_out, 32) != 0)
        ossl_fail("HMAC verify");
    if (EVP_DecryptUpdate(dctx, c->back, &n1, ct, CBC_CT_BYTES) != 1 ||
        EVP_DecryptFinal_ex(dctx, c->back + n1, &n2) != 1 || n1 + n2 != STATE_BYTES)
        ossl_fail("CBC decrypt");
    cipher_end(c, dctx);
    mac_end(c, hctx);
}

static void cbc_init(struct cbc_ctx *c, enum baseline_kind kind)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    if (RAND_bytes(c->name, 16) != 1 || RAND_bytes(c->aes_key, 32) != 1 ||
        RAND_bytes(c->hmac_key, 32) != 1 || RAND_bytes(c->state, STATE_BYTES) != 1)
        ossl_fail("RAND_bytes");
    if (kind == REUSED) {
        char digest[] = "SHA256";
        OSSL_PARAM params[2];
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        c->cbc = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
        c->ectx = EVP_CIPHER_CTX_new();
        c->dctx = EVP_CIPHER_CTX_new();
        c->hmac = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (c->cbc == NULL || c->ectx == NULL || c->dctx == NULL || c->hmac == NULL ||
            EVP_MAC_init(c->hmac, c->hmac_key, sizeof(c->hmac_key), params) != 1 ||
            EVP_EncryptInit_ex(c->ectx, c->cbc, NULL, c->aes_key, NULL) != 1 ||
            EVP_DecryptInit_ex(c->dctx, c->cbc, NULL, c->aes_key, NULL) != 1)
            ossl_fail("baseline setup");
    }
}

static void cbc_cleanup(struct cbc_ctx *c)
{
    EVP_CIPHER_free(c->cbc);
    EVP_CIPHER_CTX_free(c->ectx);
    EVP_CIPHER_CTX_free(c->dctx);
    EVP_MAC_CTX_free(c->hmac);
    OPENSSL_cleanse(c, sizeof(*c));
}

#endif /* BENCH_BASELINES */

/* ---- measurement ---------------------------------------------------------------- */

static double run_round(struct row *r, double seconds)
{
    uint64_t n = 0;
    double t0 = now_s(), t;
    /* Check the clock every 64 pairs: a pair takes microseconds. */
    do {
        for (int i = 0; i < 64; i++)
            r->op(r->ctx);
        n += 64;
        t = now_s();
    } while (t - t0 < seconds);
    r->ops += n;
    return (double)n / (t - t0);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void measure(struct row *rows, size_t nrows, int rounds, double seconds)
{
    uint64_t ring_before[MAX_ROWS], ossl_before[MAX_ROWS];

    /* Warm-up: first use fetches algorithms, seeds DRBGs, faults pages. */
    for (size_t i = 0; i < nrows; i++)
        for (int k = 0; k < 256; k++)
            rows[i].op(rows[i].ctx);
    for (int round = 0; round < rounds; round++) {
        for (size_t i = 0; i < nrows; i++) {
            struct row *r = &rows[i];
            if (round == 0) {
                ring_before[i] = r->ring_alloc != NULL ? r->ring_alloc->allocs : 0;
                r->ops = 0;
            }
            /* OpenSSL's count is taken around each round of this row only:
             * other rows run in between. */
            ossl_before[i] = ossl_malloc_count();
            r->rate[round] = run_round(r, seconds);
            r->ossl_allocs += ossl_malloc_count() - ossl_before[i];
        }
    }
    for (size_t i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        double sorted[MAX_ROUNDS];
        r->ring_allocs = r->ring_alloc != NULL ? r->ring_alloc->allocs - ring_before[i] : 0;
        memcpy(sorted, r->rate, sizeof(double) * (size_t)rounds);
        qsort(sorted, (size_t)rounds, sizeof(double), cmp_double);
        r->median = sorted[rounds / 2];
    }
}

static void print_per_op(int width, uint64_t count, uint64_t ops, int meaningful)
{
    if (!meaningful)
        printf(" %*s", width, "-");
    else
        printf(" %*.2f", width, (double)count / (double)ops);
}

int main(int argc, char **argv)
{
    int quick = 0;
    int ossl_counting = 0;
    int rounds;
    double seconds;
    struct row rows[MAX_ROWS];
    size_t nrows = 0, nlib;
    const tr_crypto *backends[3];
    size_t nb = 0;
    struct counting_alloc allocs[6];
    struct lib_ctx libs[6];
    uint8_t key[TR_KEY_BYTES];
    double t_start = now_s();

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else {
            fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
            return 2;
        }
    }
    rounds = quick ? 3 : 7;
    seconds = quick ? 0.05 : 0.3;

#ifdef TU_HAVE_OPENSSL
    /* Before OpenSSL allocates anything (tr_crypto_openssl() does not). */
    ossl_counting =
        CRYPTO_set_mem_functions(ossl_malloc_hook, ossl_realloc_hook, ossl_free_hook) == 1;
    if (!ossl_counting)
        fprintf(stderr, "bench_seal_open: OpenSSL mallocs will not be counted\n");
    backends[nb++] = tr_crypto_openssl();
#endif
#ifdef TU_HAVE_MBEDTLS
    backends[nb++] = tr_crypto_mbedtls();
#endif
    backends[nb] = NULL;

    /* A fixed, valid key: nonzero name, secret and AES key. */
    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(i * 29 + 7);

    memset(rows, 0, sizeof(rows));
    memset(allocs, 0, sizeof(allocs));
    memset(libs, 0, sizeof(libs));
    for (size_t b = 0; b < nb; b++) {
        static char labels[6][96];
        for (int cross = 0; cross < 2; cross++) {
            size_t i = b * 2 + (size_t)cross;
            struct lib_ctx *c = &libs[i];
            c->sealer = make_ring(backends[b], &allocs[i], key);
            c->opener = cross ? make_ring(backends[b], &allocs[i], key) : c->sealer;
            for (size_t k = 0; k < STATE_BYTES; k++)
                c->state[k] = (uint8_t)(k ^ 0x5c);
            snprintf(labels[i], sizeof(labels[i]), "libticketring %-7s %s", backends[b]->name,
                     cross ? "cross-node (other ring seals)" : "same node");
            rows[nrows].label = labels[i];
            rows[nrows].op = lib_op;
            rows[nrows].ctx = c;
            rows[nrows].ring_alloc = &allocs[i];
            /* mbedTLS's own callocs are not counted: show "-", not 0. */
            rows[nrows].counts_ossl = ossl_counting && strcmp(backends[b]->name, "openssl") == 0;
            nrows++;
        }
    }
    nlib = nrows;

#ifdef BENCH_BASELINES
    static struct cbc_ctx cbc[3];
    static const char *const cbc_labels[3] = {
        "A: nginx-style key callback",
        "B: OpenSSL 3 built-in keys (emulated)",
        "C: CBC+HMAC, contexts keyed once, reused",
    };
    for (int k = 0; k < 3; k++) {
        cbc_init(&cbc[k], (enum baseline_kind)k);
        rows[nrows].label = cbc_labels[k];
        rows[nrows].op = cbc_op;
        rows[nrows].ctx = &cbc[k];
        rows[nrows].counts_ossl = ossl_counting;
        nrows++;
    }
#endif

    measure(rows, nrows, rounds, seconds);

    printf("bench_seal_open: seal+open pairs of a %d-byte session state, 1 thread, "
           "median of %d rounds x %.2f s%s\n",
           STATE_BYTES, rounds, seconds, quick ? " (--quick: smoke run, numbers are noisy)" : "");
#ifdef TU_HAVE_OPENSSL
    printf("  %s", OpenSSL_version(OPENSSL_VERSION));
#endif
#ifdef TU_HAVE_MBEDTLS
    printf("%s mbedTLS %s", nb > 1 ? "," : " ", MBEDTLS_VERSION_STRING);
#endif
    printf("; libticketring %s\n", tr_version_string());
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
    printf("  WARNING: sanitizer or unoptimised build: these numbers are not "
           "representative (use -Dbuildtype=release, no -Db_sanitize)\n");
#endif
    printf("\n  %-52s %12s %17s %19s\n", "row", "pairs/s", "ring allocs (all)",
           "OpenSSL mallocs/op");
    for (size_t i = 0; i < nrows; i++) {
        printf("  %-52s %12.0f", rows[i].label, rows[i].median);
        /* The ring's count is a total over every timed pair: it must be 0. */
        if (rows[i].ring_alloc != NULL)
            printf(" %17" PRIu64, rows[i].ring_allocs);
        else
            printf(" %17s", "-");
        print_per_op(19, rows[i].ossl_allocs, rows[i].ops, rows[i].counts_ossl);
        printf("\n");
    }
    for (size_t i = 0; i < nlib; i++) {
        if (rows[i].ring_allocs != 0) {
            printf("\n  FAIL: %s made %" PRIu64 " ring allocations while sealing and "
                   "opening\n", rows[i].label, rows[i].ring_allocs);
            return 1;
        }
    }

#ifdef BENCH_BASELINES
    printf("\n  ratio libticketring / baseline (>1: libticketring is faster)\n");
    printf("  %-52s %10s %10s %10s\n", "", "vs A", "vs B", "vs C");
    for (size_t i = 0; i < nlib; i++) {
        printf("  %-52s", rows[i].label);
        for (size_t k = 0; k < 3; k++)
            printf(" %9.2fx", rows[i].median / rows[nlib + k].median);
        printf("\n");
    }
    printf("\n  Baselines (OpenSSL's ticket format: AES-256-CBC + HMAC-SHA256, random IV):\n"
           "   A  per ticket as nginx's ngx_ssl_ticket_key_callback under OpenSSL 3.0: new\n"
           "      contexts and EVP_MAC_fetch(\"HMAC\") by OpenSSL, EVP_aes_256_cbc() init and\n"
           "      MAC key + digest name set by the callback.\n"
           "   B  per ticket as OpenSSL 3.0's own ticket keys: new contexts,\n"
           "      EVP_MAC_fetch(\"HMAC\"), EVP_CIPHER_fetch(\"AES-256-CBC\") and digest \"SHA256\"\n"
           "      by name -- OpenSSL 3.0 fetches per ticket, it does not reuse contexts.\n"
           "   C  the same crypto with contexts fetched and keyed once per key, reused across\n"
           "      tickets (only the IV changes): an upper bound for a tuned CBC+HMAC callback,\n"
           "      not what nginx or OpenSSL 3.0 do.\n");
    for (int k = 0; k < 3; k++)
        cbc_cleanup(&cbc[k]);
#else
    printf("\n  (OpenSSL 3.x baselines not built: they need the OpenSSL 3 backend)\n");
#endif
    for (size_t i = 0; i < nlib; i++) {
        if (libs[i].opener != libs[i].sealer)
            tr_ring_free(libs[i].opener);
        tr_ring_free(libs[i].sealer);
    }
    printf("\n  total run time %.1f s\n", now_s() - t_start);
    return 0;
}
