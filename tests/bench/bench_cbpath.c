/*
 * Callback path: seal and open one ticket the way OpenSSL 3.0 does around
 * each variant's key callback, per op; the callback's own share, timed
 * inside the same path in separate rounds (so the clock reads do not slow
 * the whole-path rows); then single steps (bench_steps.c), so that "(c)
 * costs X" reads as "OpenSSL's share + the callback's share", and the floor
 * any evp callback can reach with the 3.0 API is visible.
 */
#include "bench_cbpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "bench_nginx.h"
#include "bench_stats.h"
#include "bench_steps.h"

#define TICKET_CAP (BT_TICKET_BYTES + 32)
#define SLICES 4 /* a round of a row runs in this many slices, rows interleaved */

/* ---- rows ------------------------------------------------------------------ */

struct row {
    const char *label;
    int (*op)(void *arg); /* 0 or -1; NULL: not measured */
    void *arg;
    uint64_t *cb_ns; /* non-NULL: the row is the callback's share, *cb_ns/op */
    struct bs_series ns;
    uint64_t round_n, round_ns; /* the round being run */
};

static int run_ops(struct row *r, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (r->op(r->arg) != 0) {
            fprintf(stderr, "bench_handshake: \"%s\" failed\n", r->label);
            ERR_print_errors_fp(stderr);
            return -1;
        }
    return 0;
}

/* One slice of a round, added to the row's round accumulators. */
static int run_slice(struct row *r, double seconds)
{
    uint64_t n = 0, t0, t, limit = (uint64_t)(seconds * 1e9), cb0;

    cb0 = r->cb_ns != NULL ? *r->cb_ns : 0;
    t0 = bs_now_ns();
    do {
        if (run_ops(r, 32) != 0)
            return -1;
        n += 32;
        t = bs_now_ns();
    } while (t - t0 < limit);
    r->round_n += n;
    r->round_ns += r->cb_ns != NULL ? *r->cb_ns - cb0 : t - t0;
    return 0;
}

static void end_round(struct row *r)
{
    bs_add(&r->ns, (double)r->round_ns / (double)r->round_n);
    r->round_n = r->round_ns = 0;
}

/* ---- the paths ----------------------------------------------------------------- */

enum variant { VA, VB, VC, VX, NVARIANTS };
static const char *const variant_name[NVARIANTS] = {
    "(a) OpenSSL built-in keys",
    "(b) nginx legacy callback",
    "(c) libticketring",
    "(x) what-if: legacy cb, copied ctxs",
};

struct path {
    enum variant v;
    SSL *ssl;
    be_evp_cb cb;                /* (c) through the EVP_MAC interface */
    bn_legacy_cb lcb;            /* (c) through the HMAC_CTX interface */
    struct be_builtin_keys keys; /* (a) */
    uint8_t state[BT_STATE_BYTES];
    uint8_t ticket[TICKET_CAP];
    size_t ticket_len;
    uint8_t out[TICKET_CAP];
    uint64_t *cb_ns; /* set for the "callback alone" rows only */
    uint64_t cb_acc;
};

static int legacy(const struct path *p)
{
    return p->v == VB || p->v == VX || p->lcb != NULL;
}

static int path_seal(struct path *p, uint8_t *out, size_t *len)
{
    if (legacy(p))
        return bn_seal(p->ssl, p->lcb, p->state, sizeof(p->state), out, TICKET_CAP, len,
                       p->cb_ns);
    return be_seal(p->ssl, p->cb, &p->keys, p->state, sizeof(p->state), out, TICKET_CAP, len,
                   p->cb_ns);
}

static int path_open(struct path *p)
{
    size_t len = 0;
    int rv = legacy(p) ? bn_open(p->ssl, p->lcb, p->ticket, p->ticket_len, p->out,
                                 sizeof(p->out), &len, p->cb_ns)
                       : be_open(p->ssl, p->cb, &p->keys, p->ticket, p->ticket_len, p->out,
                                 sizeof(p->out), &len, p->cb_ns);
    return rv > 0 && len == BT_STATE_BYTES ? rv : -1;
}

static int op_seal(void *arg)
{
    struct path *p = arg;
    size_t len = 0;
    return path_seal(p, p->out, &len) == 0 && len == BT_TICKET_BYTES ? 0 : -1;
}

static int op_open(void *arg)
{
    return path_open(arg) > 0 ? 0 : -1;
}

static int path_init(struct path *p, enum variant v, SSL *ssl, be_evp_cb cb, bn_legacy_cb lcb)
{
    int rv;

    memset(p, 0, sizeof(*p));
    p->v = v;
    p->ssl = ssl;
    p->cb = cb;
    p->lcb = lcb;
    if (RAND_bytes(p->state, sizeof(p->state)) != 1 ||
        RAND_bytes((uint8_t *)&p->keys, sizeof(p->keys)) != 1)
        return -1;
    /* One ticket to open in every round; opening does not change it. */
    if (path_seal(p, p->ticket, &p->ticket_len) != 0 || p->ticket_len != BT_TICKET_BYTES)
        return -1;
    rv = path_open(p);
    if (rv != 2 || memcmp(p->out, p->state, BT_STATE_BYTES) != 0) {
        fprintf(stderr,
                "bench_handshake: %s: opening its own ticket gave %d (TLS 1.3 renews: 2)\n",
                variant_name[v], rv);
        return -1;
    }
    return 0;
}

/* ---- models: which steps make up each path --------------------------------------- */

#define END BT_NSTEPS
struct model {
    enum bt_step openssl[5];  /* OpenSSL's share around the callback */
    enum bt_step callback[6]; /* the callback (or the built-in key setup) */
};

static const struct model models[2][NVARIANTS] = {
    {
        [VA] = {{BT_CTX, BT_HMAC_EVP, BT_CBC_ENC, BT_MAC_DATA_EVP, END},
                {BT_ENC_FETCH, BT_RAND, BT_MAC_INIT_DIGEST, END}},
        [VB] = {{BT_CTX, BT_HMAC_LEGACY, BT_CBC_ENC, BT_MAC_DATA_LEGACY, END},
                {BT_RAND, BT_ENC_IMPLICIT, BT_HMAC_INIT_LEGACY, END}},
        [VC] = {{BT_CTX, BT_HMAC_EVP, BT_CBC_ENC, BT_MAC_DATA_EVP, END},
                {BT_ERR_MARK, BT_IV_BATCH, BT_RING_ENC, BT_COPY_ENC, BT_MAC_INIT_DIGEST, END}},
        [VX] = {{BT_CTX, BT_HMAC_LEGACY, BT_CBC_ENC, BT_MAC_DATA_LEGACY, END},
                {BT_ERR_MARK, BT_IV_BATCH, BT_COPY_ENC, BT_HMAC_COPY, END}},
    },
    {
        /* Built-in open: the same fetch and key schedule as on seal. */
        [VA] = {{BT_CTX, BT_HMAC_EVP, BT_CBC_DEC, BT_MAC_DATA_EVP, END},
                {BT_ENC_FETCH, BT_MAC_INIT_DIGEST, END}},
        [VB] = {{BT_CTX, BT_HMAC_LEGACY, BT_CBC_DEC, BT_MAC_DATA_LEGACY, END},
                {BT_HMAC_INIT_LEGACY, BT_DEC_IMPLICIT, END}},
        [VC] = {{BT_CTX, BT_HMAC_EVP, BT_CBC_DEC, BT_MAC_DATA_EVP, END},
                {BT_ERR_MARK, BT_RING_DEC, BT_COPY_DEC, BT_MAC_INIT_DIGEST, END}},
        [VX] = {{BT_CTX, BT_HMAC_LEGACY, BT_CBC_DEC, BT_MAC_DATA_LEGACY, END},
                {BT_ERR_MARK, BT_COPY_DEC, BT_HMAC_COPY, END}},
    },
};

/* (c) where the glue uses the HMAC_CTX interface: OpenSSL's legacy share,
 * and a copied cipher context and HMAC instead of EVP_MAC_init. */
static const struct model c_legacy[2] = {
    {{BT_CTX, BT_HMAC_LEGACY, BT_CBC_ENC, BT_MAC_DATA_LEGACY, END},
     {BT_ERR_MARK, BT_IV_BATCH, BT_RING_ENC, BT_COPY_ENC, BT_HMAC_COPY, END}},
    {{BT_CTX, BT_HMAC_LEGACY, BT_CBC_DEC, BT_MAC_DATA_LEGACY, END},
     {BT_ERR_MARK, BT_RING_DEC, BT_COPY_DEC, BT_HMAC_COPY, END}},
};

static double model_sum(const struct row *steps, const enum bt_step *list, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n && list[i] != END; i++)
        sum += bs_median(&steps[list[i]].ns);
    return sum;
}

/* ---- printing ------------------------------------------------------------------------- */

static void print_row(const char *label, const struct bs_series *ns, const char *extra)
{
    char cost[64], rate[64];
    struct bs_series ops = {.n = ns->n};

    for (int i = 0; i < ns->n; i++)
        ops.v[i] = 1e9 / ns->v[i];
    bs_format(ns, 1, 0, cost, sizeof(cost));
    bs_format(&ops, 1e-3, 0, rate, sizeof(rate));
    printf("  %-47s %19s %18s%s\n", label, cost, rate, extra);
}

/* rows_of[share][open][v]: NULL for a variant not measured. */
static void print_paths(struct row *rows_of[2][2][NVARIANTS])
{
    static const char *const title[2] = {"whole path (OpenSSL's work per ticket)",
                                         "the callback alone (timed inside the path)"};
    for (int share = 0; share < 2; share++) {
        printf("\n  %-47s %19s %18s   %s\n", title[share], "ns/op", "k ops/s",
               "cost vs (b)   vs (a)");
        for (int open = 0; open < 2; open++)
            for (int v = 0; v < NVARIANTS; v++) {
                char label[80], extra[64] = "";
                struct row *r = rows_of[share][open][v];
                if (r == NULL)
                    continue;
                snprintf(label, sizeof(label), "%s %s", open ? "open" : "seal", variant_name[v]);
                if (v != VB)
                    snprintf(extra, sizeof(extra), "   %10.2f %7.2f",
                             bs_median(&r->ns) / bs_median(&rows_of[share][open][VB]->ns),
                             bs_median(&r->ns) / bs_median(&rows_of[share][open][VA]->ns));
                print_row(label, &r->ns, extra);
            }
    }
    printf("  ((a) has no callback: its row is the built-in key setup in its place)\n");
    printf("\n  cost ratio to (b), seal+open:         %-18s %s\n", "whole path",
           "callback alone (target <= 0.50)");
    for (int v = 0; v < NVARIANTS; v++) {
        double ratio[2];
        if (v == VB || rows_of[0][0][v] == NULL)
            continue;
        for (int share = 0; share < 2; share++)
            ratio[share] = (bs_median(&rows_of[share][0][v]->ns) +
                            bs_median(&rows_of[share][1][v]->ns)) /
                           (bs_median(&rows_of[share][0][VB]->ns) +
                            bs_median(&rows_of[share][1][VB]->ns));
        printf("    %-36s %-18.2f %.2f\n", variant_name[v], ratio[0], ratio[1]);
    }
}

static void print_steps(const struct row *steps, struct row *rows_of[2][2][NVARIANTS],
                        int c_is_legacy)
{
    const struct model *mc = &models[0][VC]; /* (c) through EVP_MAC */
    double b_path, floor_path, openssl_evp;

    printf("\n  %-47s %19s   %s\n", "steps, each alone", "ns/op", "per ticket in");
    for (int k = 0; k < BT_NSTEPS; k++) {
        char cost[64];
        if (steps[k].op == NULL)
            continue;
        bs_format(&steps[k].ns, 1, 0, cost, sizeof(cost));
        printf("  %-47s %19s   %s\n", steps[k].label, cost, bt_steps_def[k].who);
    }

    printf("\n  %-42s %10s %11s %8s %14s\n", "model: sum of the steps above", "OpenSSL's",
           "callback's", "sum", "measured path");
    for (int open = 0; open < 2; open++)
        for (int v = 0; v < NVARIANTS; v++) {
            const struct model *m =
                v == VC && c_is_legacy ? &c_legacy[open] : &models[open][v];
            double o = model_sum(steps, m->openssl, 5), c = model_sum(steps, m->callback, 6);
            if (rows_of[0][open][v] == NULL)
                continue;
            printf("  %-4s %-37s %10.0f %11.0f %8.0f %14.0f\n", open ? "open" : "seal",
                   variant_name[v], o, c, o + c, bs_median(&rows_of[0][open][v]->ns));
        }

    /* The least an evp callback can do per ticket with OpenSSL 3.0's API:
     * key OpenSSL's fresh cipher context by copying a keyed one, key its
     * fresh MAC context with EVP_MAC_init (the digest by name: 3.0 cannot
     * copy a keyed MAC context into the one it passes) and, on seal, take
     * an IV. OpenSSL's share around it is fixed. */
    if (rows_of[0][0][VC] == NULL || steps[BT_IV_BATCH].op == NULL)
        return;
    openssl_evp = model_sum(steps, mc->openssl, 5) + model_sum(steps, models[1][VC].openssl, 5);
    floor_path = openssl_evp + bs_median(&steps[BT_IV_BATCH].ns) +
                 bs_median(&steps[BT_COPY_ENC].ns) + bs_median(&steps[BT_COPY_DEC].ns) +
                 2 * bs_median(&steps[BT_MAC_INIT_DIGEST].ns);
    b_path = bs_median(&rows_of[0][0][VB]->ns) + bs_median(&rows_of[0][1][VB]->ns);
    printf("\n  Floor for any evp callback, seal+open (OpenSSL's share + IV + ctx copy +\n"
           "  EVP_MAC_init): %.0f ns = %.2f of (b)'s measured path; OpenSSL's share alone\n"
           "  (new contexts, EVP_MAC_fetch per ticket, CBC, HMAC) is %.2f of it.\n",
           floor_path, floor_path / b_path, openssl_evp / b_path);
}

/* ---- the section ----------------------------------------------------------------------- */

int bc_run(const struct bc_inputs *in, struct bc_result *res)
{
    static struct path paths[2][NVARIANTS]; /* [0] whole path, [1] callback alone */
    static struct row path_rows[2][2][NVARIANTS], steps[BT_NSTEPS];
    struct row *rows_of[2][2][NVARIANTS] = {{{NULL}}};
    struct row *live[2 * 2 * NVARIANTS + BT_NSTEPS];
    SSL *ssl[NVARIANTS] = {in->ssl_a, in->ssl_b,
                           in->glue_cb != NULL || in->glue_legacy_cb != NULL ? in->ssl_c : NULL,
                           in->ssl_x};
    be_evp_cb cb[NVARIANTS] = {NULL, NULL, in->glue_cb, NULL};
    size_t nlive = 0;
    void *st;
    int rc = -1;

    for (int share = 0; share < 2; share++)
        for (int v = 0; v < NVARIANTS; v++) {
            struct path *p = &paths[share][v];
            if (ssl[v] == NULL)
                continue;
            if (path_init(p, (enum variant)v, ssl[v], cb[v], v == VC ? in->glue_legacy_cb : NULL) != 0)
                return -1;
            if (share)
                p->cb_ns = &p->cb_acc;
            for (int open = 0; open < 2; open++) {
                struct row *r = &path_rows[share][open][v];
                memset(r, 0, sizeof(*r));
                r->label = variant_name[v];
                r->op = open ? op_open : op_seal;
                r->arg = p;
                r->cb_ns = p->cb_ns;
                rows_of[share][open][v] = r;
                live[nlive++] = r;
            }
        }
    if ((st = bt_steps_new(in->ring)) == NULL) {
        fprintf(stderr, "bench_handshake: step setup failed\n");
        ERR_print_errors_fp(stderr);
        return -1;
    }
    for (int k = 0; k < BT_NSTEPS; k++) {
        memset(&steps[k], 0, sizeof(steps[k]));
        steps[k].label = bt_steps_def[k].label;
        if (!bt_step_available(st, (enum bt_step)k))
            continue;
        steps[k].op = bt_steps_def[k].op;
        steps[k].arg = st;
        live[nlive++] = &steps[k];
    }

    /* Warm-up (first use fetches algorithms, seeds DRBGs, faults pages in),
     * then rounds in slices, every row interleaved slice by slice, so that a
     * burst of noise shorter than a round hits every row's round alike. */
    for (size_t i = 0; i < nlive; i++)
        if (run_ops(live[i], 256) != 0)
            goto out;
    for (int round = 0; round < in->rounds; round++) {
        for (int slice = 0; slice < SLICES; slice++)
            for (size_t i = 0; i < nlive; i++)
                if (run_slice(live[i], in->seconds / SLICES) != 0)
                    goto out;
        for (size_t i = 0; i < nlive; i++)
            end_round(live[i]);
    }

    printf("\nCallback path: one ticket (%d-byte session) sealed or opened through OpenSSL "
           "3.0's\nticket code around each key callback, per op; median (min..max) of %d "
           "rounds x %.2f s\n",
           BT_STATE_BYTES, in->rounds, in->seconds);
    if (ssl[VC] == NULL)
        printf("  (c) not measured: libticketring's OpenSSL glue is not built in\n");
    print_paths(rows_of);
    print_steps(steps, rows_of, in->glue_legacy_cb != NULL);
    memset(res, 0, sizeof(*res));
    if (rows_of[0][0][VC] != NULL) {
        res->c_ns = bs_median(&rows_of[0][0][VC]->ns) + bs_median(&rows_of[0][1][VC]->ns);
        res->b_ns = bs_median(&rows_of[0][0][VB]->ns) + bs_median(&rows_of[0][1][VB]->ns);
        res->c_cb_ns = bs_median(&rows_of[1][0][VC]->ns) + bs_median(&rows_of[1][1][VC]->ns);
        res->b_cb_ns = bs_median(&rows_of[1][0][VB]->ns) + bs_median(&rows_of[1][1][VB]->ns);
    }
    rc = 0;
out:
    bt_steps_free(st);
    return rc;
}
