/*
 * bench_mbedtls: TLS 1.2 handshakes per second, full and resumed, between an
 * mbedTLS 2.28 client and an mbedTLS server in one process and one thread
 * (two in-memory byte queues as the BIO, no sockets), with two ways of
 * handling session tickets on the server:
 *
 *   (a) mbedTLS's own ticket module: mbedtls_ssl_ticket_setup() with
 *       AES-256-GCM, mbedtls_ssl_ticket_write() / mbedtls_ssl_ticket_parse();
 *   (c) libticketring: a ring on tr_crypto_mbedtls() with three keys (one
 *       older, the encrypt key, one pending) attached by tr_mbedtls_attach(),
 *       each connection through tr_mbedtls_conn_new() and
 *       tr_mbedtls_handshake() (the ClientHello copy, the SNI callback, the
 *       statistics).
 *
 * Both servers get the same certificate (P-256, self-signed), the same
 * configuration otherwise (mbedTLS's defaults: ECDHE-ECDSA with AES-256-GCM),
 * the same client (SNI and ALPN, tickets on). A full handshake issues one
 * ticket; a resumption offers the ticket of the variant's first full
 * handshake (mbedTLS 2.28 issues no new ticket on resumption) and is checked
 * to have resumed (no certificate in the server's flight, and
 * tr_mbedtls_resumed() agreeing for (c)).
 *
 * "server-only" counts the time inside the server's calls (ssl_setup to
 * ssl_free, the glue's connection included); "cli+srv" is wall time for
 * both ends. Rows are interleaved (each round in SLICES slices, row after
 * row) so that a noisy neighbour hits every row alike; each row shows its
 * median round and the spread (min..max). The ratio is (c)/(a) in
 * handshakes per second: > 1 means libticketring is faster.
 *
 * The per-ticket cost is the time inside each server's ticket write and
 * parse callbacks during those same handshakes (a wrapper around the
 * callback each server installed): for (c) the serialisation of the
 * session, the seal or open under the ring and the binding, for (a)
 * mbedTLS's own.
 *
 * Build and run (numbers mean something only in a release build without
 * sanitizers):
 *
 *   meson setup build-bench -Dbuildtype=release -Db_sanitize=none
 *   ninja -C build-bench tests/bench/bench_mbedtls
 *   build-bench/tests/bench/bench_mbedtls            about 30 s
 *   build-bench/tests/bench/bench_mbedtls --quick    smoke run, a few s
 *
 * For a profiler: one row alone, a fixed number of connections:
 *
 *   bench_mbedtls --only a|c,full|resumed[,N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>

#include "bench_mbedtls_pair.h"
#include "bench_stats.h"
#include "ticketring/ticketring.h"

#define SLICES 4
#define NKEYS 3

/* ---- Timing wrappers around a server's ticket callbacks -------------------- */

struct timed {
    mbedtls_ssl_ticket_write_t *f_write;
    mbedtls_ssl_ticket_parse_t *f_parse;
    void *p_ticket;
    uint64_t write_ns, parse_ns;
    uint64_t writes, parses;
};

static int timed_write(void *p, const mbedtls_ssl_session *session, unsigned char *start,
                       const unsigned char *end, size_t *tlen, uint32_t *lifetime)
{
    struct timed *t = p;
    uint64_t t0 = bs_now_ns();
    int rc = t->f_write(t->p_ticket, session, start, end, tlen, lifetime);
    t->write_ns += bs_now_ns() - t0;
    t->writes++;
    if (rc != 0)
        bm_die("ticket write", rc);
    return rc;
}

static int timed_parse(void *p, mbedtls_ssl_session *session, unsigned char *buf, size_t len)
{
    struct timed *t = p;
    uint64_t t0 = bs_now_ns();
    int rc = t->f_parse(t->p_ticket, session, buf, len);
    t->parse_ns += bs_now_ns() - t0;
    t->parses++;
    if (rc != 0)
        bm_die("ticket parse", rc);
    return rc;
}

/* Wrap whatever ticket callbacks conf has (2.28's fields are public). */
static void time_tickets(mbedtls_ssl_config *conf, struct timed *t)
{
    memset(t, 0, sizeof(*t));
    t->f_write = conf->f_ticket_write;
    t->f_parse = conf->f_ticket_parse;
    t->p_ticket = conf->p_ticket;
    if (t->f_write == NULL || t->f_parse == NULL)
        bm_die("no ticket callbacks to time", 0);
    mbedtls_ssl_conf_session_tickets_cb(conf, timed_write, timed_parse, t);
}

/* ---- The two servers ----------------------------------------------------------- */

struct server {
    const char *name;
    mbedtls_ssl_config conf;
    tr_mbedtls_attachment *att; /* (c) only */
    tr_ring *ring;              /* (c) only */
    mbedtls_ssl_ticket_context tickets; /* (a) only */
    struct timed timed;
    mbedtls_ssl_session session; /* a ticket this server issued, to resume */
};

static void server_builtin(struct server *s, struct bm_identity *id)
{
    int rc;

    memset(s, 0, sizeof(*s));
    s->name = "(a) mbedtls_ssl_ticket";
    bm_server_conf(&s->conf, id);
    mbedtls_ssl_ticket_init(&s->tickets);
    rc = mbedtls_ssl_ticket_setup(&s->tickets, mbedtls_ctr_drbg_random, bm_drbg(),
                                  MBEDTLS_CIPHER_AES_256_GCM, 86400);
    if (rc != 0)
        bm_die("ssl_ticket_setup", rc);
    mbedtls_ssl_conf_session_tickets_cb(&s->conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse, &s->tickets);
    time_tickets(&s->conf, &s->timed);
    mbedtls_ssl_session_init(&s->session);
}

static void server_ring(struct server *s, struct bm_identity *id)
{
    /* One older key, the encrypt key, one pending: what a node holds in the
     * middle of a rotation. */
    static const int64_t offsets[NKEYS] = {-7200, -3600, 3600};
    int64_t now = (int64_t)time(NULL);
    int rc;

    memset(s, 0, sizeof(*s));
    s->name = "(c) libticketring";
    bm_server_conf(&s->conf, id);
    rc = tr_ring_new(&s->ring, tr_crypto_mbedtls());
    for (int i = 0; rc == 0 && i < NKEYS; i++) {
        uint8_t key[TR_KEY_BYTES];
        rc = mbedtls_ctr_drbg_random(bm_drbg(), key, sizeof(key));
        if (rc == 0)
            rc = tr_ring_add_key(s->ring, key, now + offsets[i]);
        memset(key, 0, sizeof(key));
    }
    if (rc == 0)
        rc = tr_mbedtls_attach(&s->conf, s->ring, "bench-node", &s->att);
    if (rc != 0)
        bm_die("ring and attach", rc);
    time_tickets(&s->conf, &s->timed);
    mbedtls_ssl_session_init(&s->session);
}

static void server_free(struct server *s)
{
    mbedtls_ssl_session_free(&s->session);
    tr_mbedtls_detach(s->att);
    mbedtls_ssl_config_free(&s->conf);
    tr_ring_free(s->ring);
    mbedtls_ssl_ticket_free(&s->tickets);
}

/* ---- Rows ------------------------------------------------------------------------ */

struct row {
    struct server *srv;
    int resumed;
    int n; /* connections per round */
    struct bs_series both, server; /* handshakes/s */
    struct bs_series ticket_us;    /* per write (full) or parse (resumed) */
    uint64_t round_ns, round_srv_ns, round_ticket_ns, round_tickets;
    int round_done;
};

static mbedtls_ssl_config client;

static void run_conns(struct row *r, int count)
{
    struct bm_conn_result res;
    uint64_t t0, before_ns, before_n;
    struct timed *t = &r->srv->timed;

    before_ns = r->resumed ? t->parse_ns : t->write_ns;
    before_n = r->resumed ? t->parses : t->writes;
    t0 = bs_now_ns();
    for (int i = 0; i < count; i++) {
        bm_connect(&client, &r->srv->conf, r->srv->att, r->resumed ? &r->srv->session : NULL,
                   NULL, &res);
        if (res.resumed != r->resumed)
            bm_die(r->resumed ? "resumption (full handshake instead)" : "full handshake (resumed)",
                   0);
        r->round_srv_ns += res.server_ns;
    }
    r->round_ns += bs_now_ns() - t0;
    r->round_ticket_ns += (r->resumed ? t->parse_ns : t->write_ns) - before_ns;
    r->round_tickets += (r->resumed ? t->parses : t->writes) - before_n;
    r->round_done += count;
}

static void end_round(struct row *r)
{
    bs_add(&r->both, r->round_done / (r->round_ns / 1e9));
    bs_add(&r->server, r->round_done / (r->round_srv_ns / 1e9));
    if (r->round_tickets > 0)
        bs_add(&r->ticket_us, r->round_ticket_ns / 1e3 / (double)r->round_tickets);
    r->round_ns = r->round_srv_ns = r->round_ticket_ns = r->round_tickets = 0;
    r->round_done = 0;
}

static void get_ticket(struct server *s)
{
    struct bm_conn_result res;

    bm_connect(&client, &s->conf, s->att, NULL, &s->session, &res);
    if (res.resumed || s->session.ticket == NULL)
        bm_die("no ticket from the first full handshake", 0);
}

static void print_row(const struct row *r)
{
    char both[64], srv[64], tk[64];

    bs_format(&r->both, 1, 0, both, sizeof(both));
    bs_format(&r->server, 1, 0, srv, sizeof(srv));
    bs_format(&r->ticket_us, 1, 2, tk, sizeof(tk));
    printf("  %-24s %-8s %-22s %-22s %s\n", r->srv->name, r->resumed ? "resumed" : "full", both,
           srv, tk);
}

static void print_ratio(const char *what, const struct row *a, const struct row *c)
{
    printf("  %-8s cli+srv %.3f   server-only %.3f   ticket callback %.2fx the cost\n", what,
           bs_median(&c->both) / bs_median(&a->both), bs_median(&c->server) / bs_median(&a->server),
           bs_median(&c->ticket_us) / bs_median(&a->ticket_us));
}

static int only(const char *spec, struct server *a, struct server *c)
{
    char v[8] = "", kind[16] = "";
    int n = 2000;
    struct row r;

    if (sscanf(spec, "%7[ac],%15[a-z],%d", v, kind, &n) < 2 || n <= 0 ||
        (strcmp(kind, "full") != 0 && strcmp(kind, "resumed") != 0)) {
        fprintf(stderr, "usage: bench_mbedtls --only a|c,full|resumed[,N]\n");
        return 2;
    }
    memset(&r, 0, sizeof(r));
    r.srv = v[0] == 'a' ? a : c;
    r.resumed = strcmp(kind, "resumed") == 0;
    run_conns(&r, n);
    end_round(&r);
    print_row(&r);
    return 0;
}

int main(int argc, char **argv)
{
    struct bm_identity id;
    struct server a, c;
    struct row rows[4];
    int rounds = 9, full_n = 160, resumed_n = 4000, rc = 0;
    const char *only_spec = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            rounds = 3;
            full_n = 16;
            resumed_n = 400;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
            only_spec = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_mbedtls [--quick | --only a|c,full|resumed[,N]]\n");
            return 2;
        }
    }
    if (rounds > BS_MAX_ROUNDS)
        rounds = BS_MAX_ROUNDS;

    bm_identity_init(&id);
    bm_client_conf(&client);
    server_builtin(&a, &id);
    server_ring(&c, &id);
    get_ticket(&a);
    get_ticket(&c);

    if (only_spec != NULL) {
        rc = only(only_spec, &a, &c);
        goto out;
    }

    printf("bench_mbedtls: %s, TLS 1.2, client and server in one thread over memory\n",
           MBEDTLS_VERSION_STRING_FULL);
    printf("%d rounds; per round %d full and %d resumed handshakes per variant, rows "
           "interleaved in %d slices\n\n",
           rounds, full_n, resumed_n, SLICES);
    memset(rows, 0, sizeof(rows));
    rows[0].srv = &a;
    rows[1].srv = &c;
    rows[2].srv = &a;
    rows[3].srv = &c;
    rows[2].resumed = rows[3].resumed = 1;
    rows[0].n = rows[1].n = full_n;
    rows[2].n = rows[3].n = resumed_n;

    for (int round = 0; round < rounds; round++) {
        for (int slice = 0; slice < SLICES; slice++) {
            /* Alternate which variant goes first, so neither always runs
             * right after the other's allocations. */
            for (int k = 0; k < 4; k++) {
                struct row *r = &rows[(round + slice) % 2 == 0 ? k : k ^ 1];
                run_conns(r, r->n / SLICES);
            }
        }
        for (int k = 0; k < 4; k++)
            end_round(&rows[k]);
    }

    printf("handshakes/s, median (min..max) of %d rounds; ticket callback in us per ticket\n",
           rounds);
    printf("  %-24s %-8s %-22s %-22s %s\n", "variant", "", "cli+srv", "server-only",
           "ticket write/parse us");
    for (int k = 0; k < 4; k++)
        print_row(&rows[k]);
    printf("\nticket bytes on the wire: %zu (a), %zu (c)\n", a.session.ticket_len,
           c.session.ticket_len);
    printf("\nlibticketring / built-in (handshakes/s; >= 0.95 meets the target):\n");
    print_ratio("full", &rows[0], &rows[1]);
    print_ratio("resumed", &rows[2], &rows[3]);

out:
    server_free(&a);
    server_free(&c);
    mbedtls_ssl_config_free(&client);
    bm_identity_free(&id);
    return rc;
}
