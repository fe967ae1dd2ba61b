/*
 * bench_handshake: TLS handshakes per second, full and resumed, TLS 1.3 and
 * TLS 1.2, in one process and one thread (client and server over memory BIO
 * pairs), with three ways of handling session tickets on the server:
 *
 *   (a) OpenSSL's built-in ticket keys (per-SSL_CTX random keys);
 *   (b) nginx's ticket key callback (the legacy HMAC_CTX one, which sets up
 *       the cipher and the HMAC from raw key bytes on every call and renews
 *       every TLS 1.3 ticket), with three keys;
 *   (c) libticketring: a ring on tr_crypto_openssl() with three keys (one
 *       older, the encrypt key, one pending) attached by tr_openssl_attach.
 *
 * The callback-path section adds (x), a what-if that is neither nginx nor
 * libticketring: the legacy HMAC_CTX callback with contexts keyed once and
 * copied per ticket, to show what libticketring's glue could reach through
 * that (deprecated) interface; (x) is checked to resume but not timed on
 * handshakes.
 *
 * Then the callback path alone: one ticket sealed or opened per op through
 * OpenSSL 3.0's ticket code around each callback (bench_cbpath.c), and where
 * that time goes.
 *
 * Build and run (numbers mean something only in a release build without
 * sanitizers):
 *
 *   meson setup build-bench -Dbuildtype=release -Db_sanitize=none
 *   ninja -C build-bench tests/bench/bench_handshake
 *   build-bench/tests/bench/bench_handshake            about 45 s
 *   build-bench/tests/bench/bench_handshake --quick    smoke run, a few s
 *
 * For a profiler (perf record, valgrind --tool=callgrind): one row alone,
 * a fixed number of connections, no callback-path section:
 *
 *   bench_handshake --only c,1.3,resumed[,N]     variant a|b|c, 1.3|1.2,
 *                                                full|resumed, N (2000)
 *
 * Every variant gets the same certificate (P-256, tests/openssl/tls_util.c),
 * the same groups (OpenSSL's defaults: X25519 key share), SNI and ALPN, the
 * server session cache off, and the same ticket work: a TLS 1.3 full
 * handshake gets 2 tickets and a resumption renews 1 (the tickets/hs column
 * shows it and the run fails if a variant differs); resumed rows chain, each
 * connection offering the ticket the previous one received.
 *
 * "server-only" counts the time spent inside the server's SSL calls (SSL_new
 * to SSL_free, bench_hs_driver.c); "cli+srv" is wall time for both ends.
 * Rows are interleaved (each handshake round in four slices, row after row),
 * so that a noisy neighbour or a clock change hits every row alike; each row
 * shows its median round and the spread (min..max). Handshake ratios > 1
 * mean faster than the baseline; callback-path ratios are costs (< 1:
 * cheaper).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "../openssl/tls_util.h"
#include "bench_cbpath.h"
#include "bench_hs_driver.h"
#include "bench_nginx.h"
#include "bench_stats.h"

#ifdef BENCH_HAVE_GLUE
#include "ticket_iv.h"
#include "ticket_key_cb.h"
#include "ticketring/openssl.h"
#include "ticketring/ticketring.h"
#endif

#define SNI "a.example"
#define ALPN "http/1.1"
#define NKEYS 3
#define BATCH 4  /* connections between clock reads */
#define SLICES 4 /* a round of a row runs in this many slices, rows interleaved */

enum { VA, VB, VC, VX, NVARIANTS };
static const char *const variant_name[NVARIANTS] = {
    "(a) OpenSSL built-in keys",
    "(b) nginx legacy callback",
    "(c) libticketring",
    "(x) what-if: legacy cb, copied ctxs", /* callback path only */
};

struct hs_row {
    int variant;
    int version; /* TLS1_3_VERSION, TLS1_2_VERSION */
    int resumed; /* 0: full handshakes */
    SSL_CTX *server;
    SSL_SESSION *chain; /* resumed rows: what the next connection offers */
    struct bs_series total, server_only; /* handshakes per second */
    uint64_t connections, tickets;
    uint64_t round_n, round_ns, round_srv_ns; /* the round being run */
};

static void die(const char *what)
{
    fprintf(stderr, "bench_handshake: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* ---- (c) ------------------------------------------------------------------- */

#ifdef BENCH_HAVE_GLUE
static tr_ring *make_ring(void)
{
    tr_ring *ring = NULL;
    int64_t now = (int64_t)time(NULL);
    int rc = tr_ring_new(&ring, tr_crypto_openssl());
    /* An older key still decrypting, the encrypt key, a pending one: the
     * usual state between two rotations. */
    if (rc == 0)
        rc = tr_ring_generate_key(ring, now - 3600, NULL);
    if (rc == 0)
        rc = tr_ring_generate_key(ring, now - 60, NULL);
    if (rc == 0)
        rc = tr_ring_generate_key(ring, now + 3600, NULL);
    if (rc != 0) {
        fprintf(stderr, "bench_handshake: ring setup: %s\n", tr_strerror(rc));
        exit(1);
    }
    return ring;
}
#endif

/* The IVs (x) draws: the glue's batch when it is built, so that (x) differs
 * from (c) only in the callback interface. */
#ifdef BENCH_HAVE_GLUE
static int iv_fn(uint8_t iv[16])
{
    return tri_ossl_ticket_iv(iv);
}
#else
static int iv_fn(uint8_t iv[16])
{
    return RAND_bytes(iv, 16) == 1 ? 0 : -1;
}
#endif

/* ---- handshake rows ------------------------------------------------------------ */

/* One slice of a round: connections of row r for `seconds`, added to the
 * row's round accumulators. */
static void run_hs_slice(struct hs_row *r, SSL_CTX *client, const struct hd_client *hc,
                         double seconds)
{
    uint64_t n = 0, srv = 0, t0 = bs_now_ns(), t, limit = (uint64_t)(seconds * 1e9);

    do {
        for (int i = 0; i < BATCH; i++) {
            struct hd_result res;
            SSL_SESSION *next = NULL;
            if (hd_connect(r->server, client, hc, r->resumed ? r->chain : NULL,
                           r->resumed ? &next : NULL, NULL, &res) != 0)
                die("connection failed");
            if (res.resumed != r->resumed || res.version != r->version) {
                fprintf(stderr, "bench_handshake: %s %s %s: got a %s handshake, version %#x\n",
                        variant_name[r->variant],
                        r->version == TLS1_3_VERSION ? "TLS1.3" : "TLS1.2",
                        r->resumed ? "resumed" : "full", res.resumed ? "resumed" : "full",
                        (unsigned)res.version);
                exit(1);
            }
            if (r->resumed) {
                SSL_SESSION_free(r->chain);
                r->chain = next;
            }
            srv += res.server_ns;
            r->tickets += (uint64_t)res.tickets;
        }
        n += BATCH;
        t = bs_now_ns();
    } while (t - t0 < limit);
    r->connections += n;
    r->round_n += n;
    r->round_ns += t - t0;
    r->round_srv_ns += srv;
}

static void end_round(struct hs_row *r)
{
    bs_add(&r->total, (double)r->round_n * 1e9 / (double)r->round_ns);
    bs_add(&r->server_only, (double)r->round_n * 1e9 / (double)r->round_srv_ns);
    r->round_n = r->round_ns = r->round_srv_ns = 0;
}

/* --only: n connections of row r and the server's cost per connection. */
static void run_only(struct hs_row *r, SSL_CTX *client, const struct hd_client *hc, long n)
{
    uint64_t srv = 0, t0 = bs_now_ns(), t;

    for (long i = 0; i < n; i++) {
        struct hd_result res;
        SSL_SESSION *next = NULL;
        if (hd_connect(r->server, client, hc, r->resumed ? r->chain : NULL,
                       r->resumed ? &next : NULL, NULL, &res) != 0 ||
            res.resumed != r->resumed)
            die("connection failed or not of the expected kind");
        if (r->resumed) {
            SSL_SESSION_free(r->chain);
            r->chain = next;
        }
        srv += res.server_ns;
    }
    t = bs_now_ns();
    printf("\n  %s %s %s: %ld connections, %.1f us each (cli+srv), %.1f us server-only\n",
           variant_name[r->variant], r->version == TLS1_3_VERSION ? "TLS1.3" : "TLS1.2",
           r->resumed ? "resumed" : "full", n, (double)(t - t0) / 1e3 / (double)n,
           (double)srv / 1e3 / (double)n);
}

/* "c,1.3,resumed[,N]" */
static int parse_only(const char *arg, int *variant, int *version, int *resumed, long *n)
{
    char v[2], ver[4], kind[8];
    int got = sscanf(arg, "%1[abc],%3[0-9.],%7[a-z],%ld", v, ver, kind, n);

    if (got < 3)
        return -1;
    *variant = v[0] - 'a';
    if (strcmp(ver, "1.3") == 0)
        *version = TLS1_3_VERSION;
    else if (strcmp(ver, "1.2") == 0)
        *version = TLS1_2_VERSION;
    else
        return -1;
    if (strcmp(kind, "full") != 0 && strcmp(kind, "resumed") != 0)
        return -1;
    *resumed = strcmp(kind, "resumed") == 0;
    return got == 4 && *n <= 0 ? -1 : 0;
}

/* Harness cross-check (tests/openssl/tls_util.c, independent of the timed
 * driver): a full handshake, then a resumption of its ticket. */
static void harness_check(SSL_CTX *server, SSL_CTX *client, int version, int *t_full,
                          int *t_resumed)
{
    struct tu_tls_result full, res;
    SSL_SESSION *dup;

    if (tu_tls_connect(server, client, SNI, ALPN, version, NULL, &full) != 0 || full.resumed)
        die("harness check: full handshake");
    dup = SSL_SESSION_dup(full.session);
    if (dup == NULL || tu_tls_connect(server, client, SNI, ALPN, version, dup, &res) != 0 ||
        !res.resumed)
        die("harness check: resumption");
    *t_full = full.tickets;
    *t_resumed = res.tickets;
    SSL_SESSION_free(full.session);
    SSL_SESSION_free(res.session);
    SSL_SESSION_free(dup);
}

static const struct hs_row *find_row(const struct hs_row *rows, size_t n, int variant,
                                     int version, int resumed)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i].variant == variant && rows[i].version == version &&
            rows[i].resumed == resumed)
            return &rows[i];
    return NULL;
}

static void print_hs(const struct hs_row *rows, size_t nrows, int rounds, double seconds)
{
    printf("\nHandshakes per second, median (min..max) of %d rounds x %.2f s per row\n", rounds,
           seconds);
    for (int ver = 0; ver < 2; ver++) {
        int version = ver == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        for (int resumed = 0; resumed < 2; resumed++) {
            printf("\n  %-6s %-22s %21s %21s %6s   %-13s %s\n",
                   ver == 0 ? "TLS1.3" : "TLS1.2", resumed ? "resumed" : "full", "cli+srv hs/s",
                   "server-only hs/s", "tix/hs", "vs (a) cs/srv", "vs (b) cs/srv");
            const struct hs_row *a = find_row(rows, nrows, VA, version, resumed);
            const struct hs_row *b = find_row(rows, nrows, VB, version, resumed);
            for (int v = 0; v < NVARIANTS; v++) {
                const struct hs_row *r = find_row(rows, nrows, v, version, resumed);
                char tot[64], srv[64], vs_a[32] = "", vs_b[32] = "";
                if (r == NULL)
                    continue;
                bs_format(&r->total, 1, 0, tot, sizeof(tot));
                bs_format(&r->server_only, 1, 0, srv, sizeof(srv));
                if (v != VA)
                    snprintf(vs_a, sizeof(vs_a), "%.2f / %.2f",
                             bs_median(&r->total) / bs_median(&a->total),
                             bs_median(&r->server_only) / bs_median(&a->server_only));
                if (v == VC)
                    snprintf(vs_b, sizeof(vs_b), "%.2f / %.2f",
                             bs_median(&r->total) / bs_median(&b->total),
                             bs_median(&r->server_only) / bs_median(&b->server_only));
                printf("    %-27s %21s %21s %6.2f", variant_name[v], tot, srv,
                       (double)r->tickets / (double)r->connections);
                if (v == VA)
                    printf("\n");
                else if (v != VC)
                    printf("   %s\n", vs_a);
                else
                    printf("   %-13s %s\n", vs_a, vs_b);
            }
        }
    }
    printf("\n  resumed/full speed-up, cli+srv / server-only:\n");
    for (int ver = 0; ver < 2; ver++) {
        int version = ver == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
        printf("    %s", ver == 0 ? "TLS1.3" : "TLS1.2");
        for (int v = 0; v < NVARIANTS; v++) {
            const struct hs_row *f = find_row(rows, nrows, v, version, 0);
            const struct hs_row *r = find_row(rows, nrows, v, version, 1);
            if (f == NULL || r == NULL)
                continue;
            printf("   %.3s %.2fx / %.2fx", variant_name[v],
                   bs_median(&r->total) / bs_median(&f->total),
                   bs_median(&r->server_only) / bs_median(&f->server_only));
        }
        printf("\n");
    }
}

/* The numbers a closing note quotes, in one place. */
static void print_summary(const struct hs_row *rows, size_t nrows, const struct bc_result *cb)
{
    const struct hs_row *c13 = find_row(rows, nrows, VC, TLS1_3_VERSION, 1);

    if (c13 == NULL || cb->c_ns == 0) {
        printf("\nSummary: (c) not measured\n");
        return;
    }
    printf("\nSummary, (c) libticketring against (a) built-in and (b) nginx (>1: (c) faster):\n");
    printf("  %-16s %-22s %s\n", "handshakes/s", "(c)/(a) cli+srv / srv", "(c)/(b) cli+srv / srv");
    for (int ver = 0; ver < 2; ver++)
        for (int resumed = 0; resumed < 2; resumed++) {
            int version = ver == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
            const struct hs_row *a = find_row(rows, nrows, VA, version, resumed);
            const struct hs_row *b = find_row(rows, nrows, VB, version, resumed);
            const struct hs_row *c = find_row(rows, nrows, VC, version, resumed);
            printf("  %s %-9s %5.2f / %-14.2f %5.2f / %.2f\n", ver == 0 ? "TLS1.3" : "TLS1.2",
                   resumed ? "resumed" : "full", bs_median(&c->total) / bs_median(&a->total),
                   bs_median(&c->server_only) / bs_median(&a->server_only),
                   bs_median(&c->total) / bs_median(&b->total),
                   bs_median(&c->server_only) / bs_median(&b->server_only));
        }
    printf("  callback path, seal+open, cost (c)/(b): whole path %.2f, callback alone %.2f "
           "(target <= 0.50)\n",
           cb->c_ns / cb->b_ns, cb->c_cb_ns / cb->b_cb_ns);
    {
        double srv_ns = 1e9 / bs_median(&c13->server_only);
        printf("  per server-side TLS1.3 resumption (%.0f us): (c)'s callback, seal+open, "
               "%.2f us = %.1f %%;\n  the whole ticket path around it %.2f us = %.1f %%\n",
               srv_ns / 1e3, cb->c_cb_ns / 1e3, 100 * cb->c_cb_ns / srv_ns, cb->c_ns / 1e3,
               100 * cb->c_ns / srv_ns);
    }
}

/* Every variant must do the same ticket work, or the comparison is void. */
static int check_ticket_work(const struct hs_row *rows, size_t nrows)
{
    int ok = 1;
    for (size_t i = 0; i < nrows; i++) {
        const struct hs_row *a = find_row(rows, nrows, VA, rows[i].version, rows[i].resumed);
        double mine = (double)rows[i].tickets / (double)rows[i].connections;
        double base = (double)a->tickets / (double)a->connections;
        if (mine != base) {
            fprintf(stderr, "bench_handshake: %s gets %.2f tickets per handshake, (a) %.2f\n",
                    variant_name[rows[i].variant], mine, base);
            ok = 0;
        }
    }
    return ok;
}

/* A server SSL of `server` after a TLS 1.3 resumption, for the callback path. */
static SSL *server_ssl_after_resumption(SSL_CTX *server, SSL_CTX *client,
                                        const struct hd_client *hc)
{
    struct hd_result res;
    SSL_SESSION *sess = NULL;
    SSL *s = NULL;

    if (hd_connect(server, client, hc, NULL, &sess, NULL, &res) != 0 ||
        hd_connect(server, client, hc, sess, NULL, &s, &res) != 0 || !res.resumed)
        die("callback path setup");
    SSL_SESSION_free(sess);
    return s;
}

int main(int argc, char **argv)
{
    int quick = 0, rounds, nvariants = 2;
    int only = 0, only_variant = 0, only_version = 0, only_resumed = 0;
    long only_n = 2000;
    double hs_seconds, cb_seconds;
    uint64_t t_start = bs_now_ns();
    struct tu_tls_identity id;
    SSL_CTX *server[NVARIANTS] = {NULL}, *client;
    uint8_t nginx_keys[NKEYS * BN_KEY_BYTES], alpn_wire[32];
    struct hd_client hc13, hc12;
    struct hs_row rows[2 * 2 * NVARIANTS];
    size_t nrows = 0;
    struct bc_inputs cbi;
    struct bc_result cbr;
#ifdef BENCH_HAVE_GLUE
    tr_ring *ring = NULL;
#endif

    /* Line by line, so that a failure on stderr shows where it happened. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
                   parse_only(argv[i + 1], &only_variant, &only_version, &only_resumed,
                              &only_n) == 0) {
            only = 1;
            i++;
        } else {
            fprintf(stderr, "usage: %s [--quick] [--only a|b|c,1.3|1.2,full|resumed[,N]]\n",
                    argv[0]);
            return 2;
        }
    }
    rounds = quick ? 3 : 7;
    hs_seconds = quick ? 0.04 : 0.3;
    cb_seconds = quick ? 0.01 : 0.07;

    /* ---- setup */
    if (tu_tls_identity_new(&id) != 0)
        die("identity");
    client = tu_tls_client_ctx();
    for (int v = 0; v < NVARIANTS; v++)
        server[v] = tu_tls_server_ctx(&id, ALPN);
    if (client == NULL || server[VA] == NULL || server[VB] == NULL || server[VC] == NULL ||
        server[VX] == NULL)
        die("contexts");
    if (RAND_bytes(nginx_keys, sizeof(nginx_keys)) != 1 ||
        bn_attach(server[VB], nginx_keys, NKEYS) != 0 ||
        bn_attach_copy(server[VX], nginx_keys, iv_fn) != 0)
        die("nginx-style keys");
    OPENSSL_cleanse(nginx_keys, sizeof(nginx_keys));
#ifdef BENCH_HAVE_GLUE
    ring = make_ring();
    {
        int rc = tr_openssl_attach(server[VC], ring, "bench");
        if (rc != 0) {
            fprintf(stderr, "bench_handshake: tr_openssl_attach: %s\n", tr_strerror(rc));
            return 1;
        }
    }
    nvariants = 3;
#endif
    memset(&hc13, 0, sizeof(hc13));
    hc13.sni = SNI;
    hc13.alpn = alpn_wire;
    hc13.alpn_len = (unsigned int)tu_tls_alpn_wire(ALPN, alpn_wire, sizeof(alpn_wire));
    hc13.version = TLS1_3_VERSION;
    hc12 = hc13;
    hc12.version = TLS1_2_VERSION;

    printf("bench_handshake: %s, 1 thread, client+server over BIO pairs%s\n",
           OpenSSL_version(OPENSSL_VERSION), quick ? " (--quick: smoke run, noisy)" : "");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(__OPTIMIZE__)
    printf("  WARNING: sanitizer or unoptimised build: these numbers are not representative\n"
           "  (meson setup -Dbuildtype=release -Db_sanitize=none)\n");
#endif
    printf("  P-256 cert, default groups (X25519 share), SNI %s, ALPN %s, server session "
           "cache off\n", SNI, ALPN);
#ifndef BENCH_HAVE_GLUE
    printf("  (c) libticketring not built: its OpenSSL glue is not available\n");
#endif

    printf("  harness check (tu_tls_connect), tickets full/resumed:");
    for (int v = 0; v < NVARIANTS; v++) {
        int f13, r13, f12, r12;
        if (v == VC && nvariants < 3)
            continue;
        harness_check(server[v], client, TLS1_3_VERSION, &f13, &r13);
        harness_check(server[v], client, TLS1_2_VERSION, &f12, &r12);
        printf(" %.3s 1.3 %d/%d 1.2 %d/%d%s", variant_name[v], f13, r13, f12, r12,
               v + 1 < NVARIANTS ? ";" : "\n");
    }

    /* ---- handshakes */
    memset(rows, 0, sizeof(rows));
    for (int ver = 0; ver < 2; ver++)
        for (int resumed = 0; resumed < 2; resumed++)
            for (int v = 0; v < nvariants; v++) {
                struct hs_row *r = &rows[nrows++];
                r->variant = v;
                r->version = ver == 0 ? TLS1_3_VERSION : TLS1_2_VERSION;
                r->resumed = resumed;
                r->server = server[v];
            }
    if (only) {
        /* Keep the one row asked for. */
        size_t k = 0;
        for (size_t i = 0; i < nrows; i++)
            if (rows[i].variant == only_variant && rows[i].version == only_version &&
                rows[i].resumed == only_resumed)
                rows[k++] = rows[i];
        if (k == 0)
            die("--only: no such row (is the glue built?)");
        nrows = k;
    }
    /* Warm-up, and the first ticket of each resumed chain. */
    for (size_t i = 0; i < nrows; i++) {
        struct hs_row *r = &rows[i];
        const struct hd_client *hc = r->version == TLS1_3_VERSION ? &hc13 : &hc12;
        for (int k = 0; k < 8; k++) {
            struct hd_result res;
            SSL_SESSION *next = NULL;
            if (hd_connect(r->server, client, hc, r->chain, &next, NULL, &res) != 0)
                die("warm-up");
            SSL_SESSION_free(r->chain);
            r->chain = r->resumed ? next : NULL;
            if (!r->resumed)
                SSL_SESSION_free(next);
        }
    }
    if (only) {
        run_only(&rows[0], client, rows[0].version == TLS1_3_VERSION ? &hc13 : &hc12, only_n);
        SSL_SESSION_free(rows[0].chain);
        goto done;
    }
    /* A burst of noise lasting a fraction of a round hits every row's round
     * alike: rounds run in slices, the rows interleaved slice by slice. */
    for (int round = 0; round < rounds; round++) {
        for (int slice = 0; slice < SLICES; slice++)
            for (size_t i = 0; i < nrows; i++)
                run_hs_slice(&rows[i], client,
                             rows[i].version == TLS1_3_VERSION ? &hc13 : &hc12,
                             hs_seconds / SLICES);
        for (size_t i = 0; i < nrows; i++)
            end_round(&rows[i]);
    }
    print_hs(rows, nrows, rounds, hs_seconds);
    if (!check_ticket_work(rows, nrows))
        return 1;
#ifdef BENCH_HAVE_GLUE
    {
        tr_stats st;
        memset(&st, 0, sizeof(st));
        st.size = sizeof(st);
        if (tr_ring_stats(ring, &st) == 0) {
            uint64_t refused = st.refused_malformed + st.refused_unknown_key +
                               st.refused_auth + st.refused_expired + st.refused_future +
                               st.refused_sni + st.refused_alpn + st.refused_context +
                               st.refused_unbound;
            printf("\n  (c) ring counters: %" PRIu64 " sealed, %" PRIu64 " opened, %" PRIu64
                   " refused; handshakes %" PRIu64 " full, %" PRIu64 " resumed, %" PRIu64
                   " renewals\n",
                   st.sealed, st.opened, refused, st.handshakes_full, st.handshakes_resumed,
                   st.tickets_renewed);
            if (refused != 0) {
                fprintf(stderr, "bench_handshake: (c) refused tickets in a clean run\n");
                return 1;
            }
        }
    }
#endif
    for (size_t i = 0; i < nrows; i++)
        SSL_SESSION_free(rows[i].chain);

    /* ---- callback path */
    memset(&cbi, 0, sizeof(cbi));
    cbi.ssl_a = server_ssl_after_resumption(server[VA], client, &hc13);
    cbi.ssl_b = server_ssl_after_resumption(server[VB], client, &hc13);
    cbi.ssl_x = server_ssl_after_resumption(server[VX], client, &hc13);
#ifdef BENCH_HAVE_GLUE
    cbi.ssl_c = server_ssl_after_resumption(server[VC], client, &hc13);
#ifdef TRI_OSSL_HAVE_LEGACY_CB
    cbi.glue_legacy_cb = tri_ossl_ticket_key_legacy_cb;
#else
    cbi.glue_cb = tri_ossl_ticket_key_evp_cb;
#endif
    cbi.ring = ring;
#endif
    cbi.rounds = rounds;
    cbi.seconds = cb_seconds;
    if (bc_run(&cbi, &cbr) != 0)
        return 1;
    print_summary(rows, nrows, &cbr);
    SSL_free(cbi.ssl_a);
    SSL_free(cbi.ssl_b);
    SSL_free(cbi.ssl_c);
    SSL_free(cbi.ssl_x);
done:

    for (int v = 0; v < NVARIANTS; v++)
        SSL_CTX_free(server[v]);
    SSL_CTX_free(client);
#ifdef BENCH_HAVE_GLUE
    tr_ring_free(ring);
#endif
    tu_tls_identity_free(&id);
    printf("\n  total run time %.1f s\n", (double)(bs_now_ns() - t_start) * 1e-9);
    return 0;
}
