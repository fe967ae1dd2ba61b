/* TLS 1.3 early data (0-RTT) through the OpenSSL glue: accepted only on the
 * node (process) that issued the ticket, for a fresh ClientHello its replay
 * cache has not seen, under the ticket's SNI and ALPN; every refusal still
 * resumes 1-RTT and is counted under its reason. Plus the parsers the glue
 * runs on attacker bytes (the PSK extension) and on OpenSSL's session
 * encoding (ticket_age_add), and the ticket app data format. */
#include "tls_check.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "appdata.h"
#include "clienthello.h"
#include "session_der.h"

#define EARLY_MAX 16384u
#define HALF_WINDOW ((int64_t)TU_NODE_REPLAY_WINDOW_MS / 2)
/* The node clocks once the replay caches' start-up window is over. */
#define READY_MS (T0_MS + (int64_t)TU_NODE_REPLAY_WINDOW_MS)

static const char request[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

struct fx {
    struct tu_cluster c;
};

static int setup_policy(void **st, const struct tu_node_policy *pol, int64_t clock_ms)
{
    static const int64_t keys[] = {T0 - 10};
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(tu_cluster_init(&f->c, 2, keys, 1, T0_MS, pol, "h2,http/1.1"), 0);
    tu_nodes_set_clock(f->c.node, f->c.n, clock_ms);
    *st = f;
    return 0;
}

/* Two nodes with early data on, past their caches' start-up window. */
static int setup(void **st)
{
    struct tu_node_policy pol = {.early_max = EARLY_MAX};
    return setup_policy(st, &pol, READY_MS);
}

/* ... still inside it. */
static int setup_starting(void **st)
{
    struct tu_node_policy pol = {.early_max = EARLY_MAX};
    return setup_policy(st, &pol, T0_MS);
}

/* ... with a replay cache made for one value. */
static int setup_tiny_cache(void **st)
{
    struct tu_node_policy pol = {.early_max = EARLY_MAX, .replay_capacity = 1};
    return setup_policy(st, &pol, READY_MS);
}

/* Two nodes with early data off. */
static int setup_off(void **st)
{
    return setup_policy(st, NULL, READY_MS);
}

static int teardown(void **st)
{
    struct fx *f = *st;
    tu_cluster_free(&f->c);
    free(f);
    return 0;
}

/* A full TLS 1.3 handshake on node i: its ticket allows `max` early bytes. */
static void issue(struct tu_cluster *c, size_t i, const char *sni, uint32_t max,
                  struct tc_conn *out)
{
    tc_connect(c, i, sni, "h2", TLS1_3_VERSION, NULL, out);
    assert_false(out->r.resumed);
    assert_string_equal(tu_cluster_moved(c, i), tc_full(TLS1_3_VERSION, NULL));
    assert_int_equal(SSL_SESSION_get_max_early_data(out->r.session), max);
}

struct early_args {
    struct tu_cluster *c;
    size_t node;
    SSL_CTX *client;      /* NULL: the cluster's */
    const char *sni;      /* the ClientHello's (and the session copy's) */
    const char *relabel;  /* non-NULL: the session copy's host name instead */
    const char *alpn;     /* NULL: "h2" */
    const uint8_t *data;  /* NULL: the request above */
    size_t len;
    int skip_read;
    int capture;
    tu_tls_ssl_fn client_setup;
};

/* Mark the cluster, then 0-RTT with a copy of `from` (an OpenSSL TLS 1.3
 * client uses a session once) to node a->node; the connection completes. */
static void early(const struct early_args *a, SSL_SESSION *from,
                  struct tu_tls_early_result *r)
{
    SSL_SESSION *dup = SSL_SESSION_dup(from);
    struct tu_tls_early_opts o = {
        .sni = a->sni, .alpn_csv = a->alpn != NULL ? a->alpn : "h2", .session = dup,
        .early = a->data != NULL ? a->data : (const uint8_t *)request,
        .early_len = a->data != NULL ? a->len : sizeof(request) - 1,
        .server_skips_early = a->skip_read, .capture = a->capture,
        .client_setup = a->client_setup};

    assert_non_null(dup);
    if (a->relabel != NULL)
        assert_int_equal(SSL_SESSION_set1_hostname(dup, a->relabel), 1);
    tu_cluster_mark(a->c);
    assert_int_equal(tu_tls_connect_early(a->c->node[a->node].ctx,
                                          a->client != NULL ? a->client : a->c->client, &o, r),
                     0);
    assert_true(r->ok);
    SSL_SESSION_free(dup);
}

/* Early data was refused and none reached the server, the session resumed
 * 1-RTT, and node i counted the resumption plus `counted`. */
static void expect_refused(struct tu_cluster *c, size_t i, const struct tu_tls_early_result *r,
                           int cross_node, const char *counted)
{
    assert_true(r->resumed);
    assert_int_equal(r->early_len, 0);
    assert_int_equal(r->server_status, SSL_EARLY_DATA_REJECTED);
    assert_int_equal(r->client_status, SSL_EARLY_DATA_REJECTED);
    assert_string_equal(tu_cluster_moved(c, i),
                        tc_cat(tc_resumed(TLS1_3_VERSION, cross_node, 0), counted));
}

static void expect_accepted(struct tu_cluster *c, size_t i, const struct tu_tls_early_result *r,
                            const void *data, size_t len)
{
    assert_true(r->resumed);
    assert_int_equal(r->server_status, SSL_EARLY_DATA_ACCEPTED);
    assert_int_equal(r->client_status, SSL_EARLY_DATA_ACCEPTED);
    assert_int_equal(r->early_len, len);
    assert_memory_equal(r->early, data, len);
    assert_string_equal(tu_cluster_moved(c, i),
                        tc_cat(tc_resumed(TLS1_3_VERSION, 0, 0), "early_accepted+1"));
}

/* ---- Accepted --------------------------------------------------------------- */

static void accepted_on_issuing_node(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example"};
    struct tu_tls_early_result r, r2;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    /* The client's ticket age is de-obfuscated with the age_add read from
     * the session's DER: a wrong one would be a random 32-bit age, stale. */
    early(&a, t.r.session, &r);
    expect_accepted(c, 0, &r, request, sizeof(request) - 1);
    assert_int_equal(r.tickets, 1);
    assert_int_equal(SSL_SESSION_get_max_early_data(r.session), EARLY_MAX);
    assert_string_equal(tu_cluster_moved(c, 1), "");

    /* The ticket renewed by the 0-RTT resumption is good for 0-RTT too. */
    early(&a, r.session, &r2);
    expect_accepted(c, 0, &r2, request, sizeof(request) - 1);
    tu_tls_early_result_free(&r);
    tu_tls_early_result_free(&r2);
    tc_conn_free(&t);
}

/* More than OpenSSL's default recv_max_early_data (16384): the glue gives
 * each connection room for the ring's maximum. */
static void accepted_beyond_openssl_default(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    static uint8_t big[20000];
    struct early_args a = {.c = c, .node = 0, .sni = "a.example", .data = big,
                           .len = sizeof(big)};
    struct tu_tls_early_result r;
    struct tc_conn t;

    assert_int_equal(RAND_bytes(big, sizeof(big)), 1);
    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, 65536, c->node[0].replay), 0);
    issue(c, 0, "a.example", 65536, &t);
    early(&a, t.r.session, &r);
    expect_accepted(c, 0, &r, big, sizeof(big));
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

/* ---- Node binding and replays ----------------------------------------------- */

static void refused_on_another_node(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 1, .sni = "a.example"};
    struct tu_tls_early_result r;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    early(&a, t.r.session, &r);
    expect_refused(c, 1, &r, 1, "early_refused_node+1");
    assert_string_equal(tu_cluster_moved(c, 0), "");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

static void replayed_flight_processes_no_early_data(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example", .capture = 1};
    struct tu_tls_early_result legit, again;
    struct tu_tls_replay_result rp;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    early(&a, t.r.session, &legit);
    expect_accepted(c, 0, &legit, request, sizeof(request) - 1);
    /* ClientHello and the early data record, nothing else. */
    assert_non_null(legit.flight);
    assert_true(legit.flight_len > sizeof(request));
    assert_int_equal(legit.flight[0], SSL3_RT_HANDSHAKE);

    /* The attacker's copy, byte for byte, to the same node: the binder
     * verifies and the ticket resumes, but the cache has seen the random. */
    for (int i = 0; i < 2; i++) {
        tu_cluster_mark(c);
        assert_int_equal(tu_tls_replay_flight(c->node[0].ctx, legit.flight, legit.flight_len,
                                              &rp), 0);
        assert_int_equal(rp.early_len, 0);
        assert_int_equal(rp.early_status, SSL_EARLY_DATA_REJECTED);
        assert_true(rp.resumed);
        assert_false(rp.completed);
        assert_false(rp.failed);
        assert_string_equal(tu_cluster_moved(c, 0), "early_refused_replay+1");
    }
    /* ... and to the other node, whose cache never saw it. */
    tu_cluster_mark(c);
    assert_int_equal(tu_tls_replay_flight(c->node[1].ctx, legit.flight, legit.flight_len, &rp),
                     0);
    assert_int_equal(rp.early_len, 0);
    assert_int_equal(rp.early_status, SSL_EARLY_DATA_REJECTED);
    assert_false(rp.completed);
    assert_string_equal(tu_cluster_moved(c, 1), "early_refused_node+1");

    /* The legitimate client using the same ticket again sends a new random. */
    a.capture = 0;
    early(&a, t.r.session, &again);
    expect_accepted(c, 0, &again, request, sizeof(request) - 1);
    tu_tls_early_result_free(&legit);
    tu_tls_early_result_free(&again);
    tc_conn_free(&t);
}

/* A flight with one bit of its ClientHello.random flipped fails the PSK
 * binder: the handshake fails before any callback, nothing is counted. */
static void altered_random_fails_binder(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example", .capture = 1};
    struct tu_tls_early_result legit;
    struct tu_tls_replay_result rp;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    early(&a, t.r.session, &legit);
    /* record(5) | handshake type(1) length(3) | version(2) | random(32) */
    assert_true(legit.flight_len > 11 + 32);
    legit.flight[11 + 7] ^= 0x10;
    tu_cluster_mark(c);
    assert_int_equal(tu_tls_replay_flight(c->node[0].ctx, legit.flight, legit.flight_len, &rp),
                     0);
    assert_true(rp.failed);
    assert_int_equal(rp.early_len, 0);
    assert_string_equal(tu_cluster_moved(c, 0), "");
    tu_tls_early_result_free(&legit);
    tc_conn_free(&t);
}

/* ---- Freshness, start-up, capacity --------------------------------------------- */

static void stale_ticket_age(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example"};
    struct tu_tls_early_result r;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    /* The client's age is real time (0 s here, at most 1 s if this test is
     * slow), so 5 s of node time are well inside half the window ... */
    c->node[0].clock_ms = READY_MS + 5000;
    early(&a, t.r.session, &r);
    expect_accepted(c, 0, &r, request, sizeof(request) - 1);
    tu_tls_early_result_free(&r);
    /* ... and half the window plus 5 s well outside it, either way. */
    c->node[0].clock_ms = READY_MS + HALF_WINDOW + 5000;
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_stale+1");
    tu_tls_early_result_free(&r);
    /* A node clock behind the issue time (within the ring's skew, so the
     * ticket itself resumes): the ClientHello seems to come from the
     * future. */
    c->node[0].clock_ms = READY_MS - HALF_WINDOW - 5000;
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_stale+1");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

static void startup_window(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example", .capture = 1};
    struct tu_tls_early_result r, r2;
    struct tu_tls_replay_result rp;
    struct tc_conn t;

    /* 15 s after the cache was made: fresh, but too early for it. */
    c->node[0].clock_ms = T0_MS + 15000;
    issue(c, 0, "a.example", EARLY_MAX, &t);
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_startup+1");

    /* A window after the cache was made, the same ticket (5 s old by the
     * node's clock) is accepted with a new ClientHello ... */
    c->node[0].clock_ms = READY_MS;
    a.capture = 0;
    early(&a, t.r.session, &r2);
    expect_accepted(c, 0, &r2, request, sizeof(request) - 1);
    /* ... while the ClientHello refused during start-up was recorded all
     * the same: replayed now, it is a replay. */
    tu_cluster_mark(c);
    assert_int_equal(tu_tls_replay_flight(c->node[0].ctx, r.flight, r.flight_len, &rp), 0);
    assert_int_equal(rp.early_len, 0);
    assert_string_equal(tu_cluster_moved(c, 0), "early_refused_replay+1");
    tu_tls_early_result_free(&r);
    tu_tls_early_result_free(&r2);
    tc_conn_free(&t);
}

static void replay_cache_full(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example"};
    struct tu_tls_early_result r;
    tr_replay_stats rs = {.size = sizeof(rs)};
    struct tc_conn t;
    uint64_t i;
    int rc = 0;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    assert_int_equal(tr_replay_get_stats(c->node[0].replay, &rs), 0);
    assert_true(rs.slots >= 1 && rs.slots < 1000);
    for (i = 0; i <= rs.slots && rc == 0; i++) {
        uint8_t v[32];
        assert_int_equal(RAND_bytes(v, sizeof(v)), 1);
        rc = tr_replay_check(c->node[0].replay, v, sizeof(v));
    }
    assert_int_equal(rc, TR_E_REPLAY_FULL);
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_full+1");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

/* ---- Binding ------------------------------------------------------------------ */

static void sni_differs(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0};
    struct tu_tls_early_result r;
    struct tc_conn t, none;

    /* Binding off, so the ticket resumes under another name: the SNI check
     * for early data is the glue's own, OpenSSL does not make it. */
    assert_int_equal(tr_ring_set_bind_sni(c->node[0].ring, 0), 0);
    issue(c, 0, "a.example", EARLY_MAX, &t);
    /* OpenSSL's client sends no early data under another name than its
     * session's: relabel the copy, as an attacker's client would not care. */
    a.sni = "b.example";
    a.relabel = "b.example";
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_sni+1");
    tu_tls_early_result_free(&r);

    /* Host names compare without regard to ASCII case. */
    a.sni = "A.Example";
    a.relabel = "A.Example";
    early(&a, t.r.session, &r);
    expect_accepted(c, 0, &r, request, sizeof(request) - 1);
    tu_tls_early_result_free(&r);

    /* No SNI at issue and none now is the same name ... */
    issue(c, 0, NULL, EARLY_MAX, &none);
    a.sni = NULL;
    a.relabel = NULL;
    early(&a, none.r.session, &r);
    expect_accepted(c, 0, &r, request, sizeof(request) - 1);
    tu_tls_early_result_free(&r);
    /* ... but a name now is not. */
    a.sni = "a.example";
    a.relabel = "a.example";
    early(&a, none.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_sni+1");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
    tc_conn_free(&none);
}

static int select_http11(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                         const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char want[] = "\x08http/1.1";
    (void)ssl, (void)arg;
    for (unsigned int i = 0; i < inlen; i += 1u + in[i]) {
        if (i + 1u + in[i] <= inlen && memcmp(in + i, want, sizeof(want) - 1) == 0) {
            *out = in + i + 1;
            *outlen = in[i];
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* A protocol other than the ticket's: OpenSSL refuses the early data
 * itself (counted tls), the resumption goes on under the new protocol. */
static void alpn_differs(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example", .alpn = "h2,http/1.1"};
    struct tu_tls_early_result r;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    SSL_CTX_set_alpn_select_cb(c->node[0].ctx, select_http11, NULL);
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_tls+1");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

/* ---- Refused by OpenSSL before the policy --------------------------------------- */

static void client_x25519_only(SSL *ssl, void *arg)
{
    (void)arg;
    /* One key share, X25519, which the server does not take. */
    assert_int_equal(SSL_set1_groups_list(ssl, "X25519:P-256"), 1);
}

static void hello_retry_request(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example",
                           .client_setup = client_x25519_only};
    struct tu_tls_early_result r;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    assert_int_equal(SSL_CTX_set1_groups_list(c->node[0].ctx, "P-256"), 1);
    early(&a, t.r.session, &r);
    /* Counted once although the ClientHello callback ran twice. */
    expect_refused(c, 0, &r, 0, "early_refused_tls+1");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

static void application_does_not_read_early_data(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example", .skip_read = 1};
    struct tu_tls_early_result r;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_tls+1");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

/* ---- Off -------------------------------------------------------------------------- */

static void off_promises_no_early_data(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn t;

    /* The application's own setting does not get past the ring's. */
    assert_int_equal(SSL_CTX_set_max_early_data(c->node[0].ctx, EARLY_MAX), 1);
    issue(c, 0, "a.example", 0, &t);
    tc_conn_free(&t);
}

static void off_after_issue(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    static uint8_t big[20000];
    struct early_args a = {.c = c, .node = 0, .sni = "a.example"};
    struct tu_tls_early_result r, r2;
    tr_replay *rp = c->node[0].replay;
    struct tc_conn t;

    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, 65536, rp), 0);
    issue(c, 0, "a.example", 65536, &t);

    /* Off now: OpenSSL rejects it without asking, counted as off. More
     * than OpenSSL's default of rejected early data it skips (16384):
     * refused early data never aborts the connection. */
    assert_int_equal(RAND_bytes(big, sizeof(big)), 1);
    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, 0, NULL), 0);
    a.data = big;
    a.len = sizeof(big);
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_off+1");

    /* The ticket renewed now allows none, but an OpenSSL client keeps the
     * old ticket's maximum when the new one announces none: with early
     * data on again, its early data is refused, and nothing aborts. */
    assert_int_equal(SSL_SESSION_get_max_early_data(r.session), 65536);
    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, 65536, rp), 0);
    a.data = NULL;
    early(&a, r.session, &r2);
    expect_refused(c, 0, &r2, 0, "early_refused_off+1");
    tu_tls_early_result_free(&r);
    tu_tls_early_result_free(&r2);

    /* On, with less than the ticket allows: refused as off too. */
    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, 1000, rp), 0);
    early(&a, t.r.session, &r);
    expect_refused(c, 0, &r, 0, "early_refused_off+1");
    tu_tls_early_result_free(&r);

    /* As much as the ticket allows again: accepted. */
    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, 65536, rp), 0);
    early(&a, t.r.session, &r);
    expect_accepted(c, 0, &r, request, sizeof(request) - 1);
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

static void tls12_no_early_data(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn t, again;
    SSL_SESSION *dup;

    tc_connect(c, 0, "a.example", "h2", TLS1_2_VERSION, NULL, &t);
    assert_string_equal(tu_cluster_moved(c, 0), tc_full(TLS1_2_VERSION, NULL));
    assert_int_equal(SSL_SESSION_get_max_early_data(t.r.session), 0);
    dup = SSL_SESSION_dup(t.r.session);
    assert_non_null(dup);
    tc_connect(c, 0, "a.example", "h2", TLS1_2_VERSION, dup, &again);
    assert_true(again.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 0), tc_resumed(TLS1_2_VERSION, 0, 0));
    SSL_SESSION_free(dup);
    tc_conn_free(&t);
    tc_conn_free(&again);
}

/* ---- Attach ----------------------------------------------------------------------- */

static void attach_sets_no_anti_replay(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 1, .sni = "a.example"};
    struct tu_tls_early_result r;
    struct tc_conn t;

    assert_true(SSL_CTX_get_options(c->node[0].ctx) & SSL_OP_NO_ANTI_REPLAY);
    /* An application clearing it after attach would make OpenSSL issue
     * stateful tickets no other node can resume; each connection keeps it. */
    SSL_CTX_clear_options(c->node[0].ctx, SSL_OP_NO_ANTI_REPLAY);
    issue(c, 0, "a.example", EARLY_MAX, &t);
    early(&a, t.r.session, &r);
    expect_refused(c, 1, &r, 1, "early_refused_node+1");
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);

    /* Detach undoes what attach set, and only that. */
    assert_int_equal(tr_openssl_detach(c->node[1].ctx), 0);
    assert_false(SSL_CTX_get_options(c->node[1].ctx) & SSL_OP_NO_ANTI_REPLAY);
    SSL_CTX_set_options(c->node[1].ctx, SSL_OP_NO_ANTI_REPLAY);
    assert_int_equal(tr_openssl_attach(c->node[1].ctx, c->node[1].ring, "node-b"), 0);
    assert_int_equal(tr_openssl_detach(c->node[1].ctx), 0);
    assert_true(SSL_CTX_get_options(c->node[1].ctx) & SSL_OP_NO_ANTI_REPLAY);
}

/* Without the ClientHello callback's state (a ctx the ring is not attached
 * to, here) the callback refuses and counts nothing. */
static void callback_without_attachment(void **st)
{
    struct fx *f = *st;
    SSL_CTX *ctx = tu_tls_server_ctx(&f->c.ident, NULL);
    SSL *s;

    assert_non_null(ctx);
    s = SSL_new(ctx);
    assert_non_null(s);
    tu_cluster_mark(&f->c);
    assert_int_equal(tr_openssl_allow_early_data_cb(s, NULL), 0);
    assert_int_equal(tr_openssl_allow_early_data_cb(NULL, NULL), 0);
    assert_string_equal(tu_cluster_moved(&f->c, 0), "");
    SSL_free(s);
    SSL_CTX_free(ctx);
}

/* ---- Parsers ------------------------------------------------------------------------ */

/* identities: one of 10 bytes, age 0x01020304; binders: one of 32 bytes. */
static size_t psk_ext(uint8_t *out, size_t identities, uint8_t binder_len)
{
    size_t n = 2;
    for (size_t i = 0; i < identities; i++) {
        out[n++] = 0;
        out[n++] = 10;
        memset(out + n, 0xa0 + (int)i, 10);
        n += 10;
        out[n++] = 0x01;
        out[n++] = 0x02;
        out[n++] = 0x03;
        out[n++] = (uint8_t)(0x04 + i);
    }
    out[0] = (uint8_t)((n - 2) >> 8);
    out[1] = (uint8_t)(n - 2);
    size_t b = n;
    n += 2;
    for (size_t i = 0; i < identities; i++) {
        out[n++] = binder_len;
        memset(out + n, 0xb0, binder_len);
        n += binder_len;
    }
    out[b] = (uint8_t)((n - b - 2) >> 8);
    out[b + 1] = (uint8_t)(n - b - 2);
    return n;
}

static void psk_parser(void **st)
{
    uint8_t ext[512], bad[512];
    uint32_t age = 0xdeadbeef;
    size_t len;

    (void)st;
    len = psk_ext(ext, 1, 32);
    assert_int_equal(tri_ch_parse_psk_age(ext, len, &age), 0);
    assert_int_equal(age, 0x01020304);
    /* Identity 0's age, of several. */
    len = psk_ext(ext, 3, 48);
    assert_int_equal(tri_ch_parse_psk_age(ext, len, &age), 0);
    assert_int_equal(age, 0x01020304);

    /* Every truncation, and one byte too many. */
    len = psk_ext(ext, 2, 32);
    for (size_t n = 0; n < len; n++) {
        age = 7;
        assert_int_equal(tri_ch_parse_psk_age(ext, n, &age), -1);
        assert_int_equal(age, 7);
    }
    memcpy(bad, ext, len);
    bad[len] = 0;
    assert_int_equal(tri_ch_parse_psk_age(bad, len + 1, &age), -1);

    /* Lengths that run past their container, one at a time. */
    len = psk_ext(ext, 1, 32);
    memcpy(bad, ext, len);
    bad[1] += 1; /* identities list */
    assert_int_equal(tri_ch_parse_psk_age(bad, len, &age), -1);
    memcpy(bad, ext, len);
    bad[0] = 0xff; /* identities list far past the end */
    assert_int_equal(tri_ch_parse_psk_age(bad, len, &age), -1);
    memcpy(bad, ext, len);
    bad[3] = 11; /* identity eats into its age */
    assert_int_equal(tri_ch_parse_psk_age(bad, len, &age), -1);
    memcpy(bad, ext, len);
    bad[3] = 0; /* empty identity */
    assert_int_equal(tri_ch_parse_psk_age(bad, len, &age), -1);
    memcpy(bad, ext, len);
    bad[2 + 16 + 1] += 1; /* binders list */
    assert_int_equal(tri_ch_parse_psk_age(bad, len, &age), -1);
    memcpy(bad, ext, len);
    bad[2 + 16 + 2] = 33; /* binder past the end */
    assert_int_equal(tri_ch_parse_psk_age(bad, len, &age), -1);

    /* Below the minimums: a 31-byte binder, an identities list under 7. */
    len = psk_ext(ext, 1, 31);
    assert_int_equal(tri_ch_parse_psk_age(ext, len, &age), -1);
    {
        static const uint8_t short_ids[] = {0, 6, 0, 1, 0xaa, 0, 0, 0, 0, 33, 32};
        assert_int_equal(tri_ch_parse_psk_age(short_ids, sizeof(short_ids), &age), -1);
    }
    /* Two identities, one binder. */
    len = psk_ext(ext, 2, 32);
    memcpy(bad, ext, len);
    {
        size_t b = 2 + 2 * 16;
        bad[b + 1] = 33;
        assert_int_equal(tri_ch_parse_psk_age(bad, b + 2 + 33, &age), -1);
    }
    assert_int_equal(tri_ch_parse_psk_age(NULL, 0, &age), -1);
}

static void der_age_add_walk(void **st)
{
    /* SEQUENCE { INTEGER 1, [10] { OCTET STRING 2 }, [14] { INTEGER } } */
    static const uint8_t ok[] = {0x30, 0x12, 0x02, 0x01, 0x01, 0xaa, 0x04, 0x04, 0x02, 0xee,
                                 0xee, 0xae, 0x07, 0x02, 0x05, 0x00, 0xff, 0xff, 0xff, 0xfe};
    static const uint8_t absent[] = {0x30, 0x03, 0x02, 0x01, 0x01};
    /* Long-form lengths: 0x81 n. */
    static const uint8_t long_form[] = {0x30, 0x81, 0x09, 0x02, 0x01, 0x01,
                                        0xae, 0x81, 0x03, 0x02, 0x01, 0x2a};
    static const uint8_t negative[] = {0x30, 0x05, 0xae, 0x03, 0x02, 0x01, 0x80};
    static const uint8_t too_big[] = {0x30, 0x09, 0xae, 0x07, 0x02, 0x05, 0x01, 0, 0, 0, 0};
    static const uint8_t not_integer[] = {0x30, 0x05, 0xae, 0x03, 0x04, 0x01, 0x01};
    static const uint8_t indefinite[] = {0x30, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00};
    static const uint8_t trailing_inner[] = {0x30, 0x06, 0xae, 0x04, 0x02, 0x01, 0x01, 0x00};
    uint32_t v = 7;
    uint8_t buf[sizeof(ok) + 1];

    (void)st;
    assert_int_equal(tri_ossl_der_age_add(ok, sizeof(ok), &v), 0);
    assert_int_equal(v, 0xfffffffe);
    assert_int_equal(tri_ossl_der_age_add(absent, sizeof(absent), &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(tri_ossl_der_age_add(long_form, sizeof(long_form), &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tri_ossl_der_age_add(negative, sizeof(negative), &v), -1);
    assert_int_equal(tri_ossl_der_age_add(too_big, sizeof(too_big), &v), -1);
    assert_int_equal(tri_ossl_der_age_add(not_integer, sizeof(not_integer), &v), -1);
    assert_int_equal(tri_ossl_der_age_add(indefinite, sizeof(indefinite), &v), -1);
    assert_int_equal(tri_ossl_der_age_add(trailing_inner, sizeof(trailing_inner), &v), -1);
    for (size_t n = 0; n < sizeof(ok); n++)
        assert_int_equal(tri_ossl_der_age_add(ok, n, &v), -1);
    memcpy(buf, ok, sizeof(ok));
    buf[sizeof(ok)] = 0;
    assert_int_equal(tri_ossl_der_age_add(buf, sizeof(buf), &v), -1);
}

/* The PSK extension of the ClientHello at the start of a client's flight. */
static void flight_psk(const uint8_t *f, size_t len, const uint8_t **ext, size_t *ext_len)
{
    size_t p, end, n;

    /* record header(5), handshake header(4), version(2), random(32) */
    assert_true(len > 5 + 4 + 2 + 32 + 1);
    assert_int_equal(f[0], SSL3_RT_HANDSHAKE);
    assert_int_equal(f[5], SSL3_MT_CLIENT_HELLO);
    end = 9 + ((size_t)f[6] << 16 | (size_t)f[7] << 8 | f[8]);
    assert_true(end <= 5 + ((size_t)f[3] << 8 | f[4]) && end <= len);
    p = 9 + 2 + 32;
    p += 1 + f[p]; /* session id */
    assert_true(p + 2 <= end);
    p += 2 + ((size_t)f[p] << 8 | f[p + 1]); /* cipher suites */
    assert_true(p + 1 <= end);
    p += 1 + f[p]; /* compression */
    assert_true(p + 2 <= end);
    p += 2;
    while (p + 4 <= end) {
        unsigned type = (unsigned)f[p] << 8 | f[p + 1];
        n = (size_t)f[p + 2] << 8 | f[p + 3];
        assert_true(p + 4 + n <= end);
        if (type == TLSEXT_TYPE_psk) {
            *ext = f + p + 4;
            *ext_len = n;
            return;
        }
        p += 4 + n;
    }
    fail_msg("no pre_shared_key extension");
}

/* What the walk reads from a real session is the age_add OpenSSL used:
 * the client obfuscates its age (whole seconds, rounded down, less one:
 * 0 s here, 1 s if this test is slow) with its session's. */
static void der_age_add_matches_openssl(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct early_args a = {.c = c, .node = 0, .sni = "a.example", .capture = 1};
    struct tu_tls_early_result r;
    const uint8_t *ext = NULL;
    size_t ext_len = 0;
    uint32_t add = 0, obfuscated = 0;
    struct tc_conn t;

    issue(c, 0, "a.example", EARLY_MAX, &t);
    assert_int_equal(tri_ossl_session_age_add(t.r.session, &add), 0);
    assert_true(add != 0); /* 2^-32 to fail by chance */
    early(&a, t.r.session, &r);
    expect_accepted(c, 0, &r, request, sizeof(request) - 1);
    flight_psk(r.flight, r.flight_len, &ext, &ext_len);
    assert_int_equal(tri_ch_parse_psk_age(ext, ext_len, &obfuscated), 0);
    assert_true(obfuscated - add == 0 || obfuscated - add == 1000);
    tu_tls_early_result_free(&r);
    tc_conn_free(&t);
}

static void appdata_versions(void **st)
{
    struct tri_appdata a, b;
    uint8_t buf[TRI_APPDATA_MAX + 1];
    size_t n1, n2;

    (void)st;
    memset(&a, 0, sizeof(a));
    a.issue_ms = T0_MS;
    a.auth_time = T0;
    a.sni_len = 9;
    memcpy(a.sni, "a.example", 9);
    a.alpn_len = 2;
    memcpy(a.alpn, "h2", 2);
    a.node_len = 6;
    memcpy(a.node, "node-a", 7);

    /* No tag: version 1, as 0.2 wrote and reads it. */
    n1 = tri_appdata_encode(&a, buf);
    assert_int_equal(buf[0], 1);
    assert_int_equal(n1, 1 + 8 + 8 + 1 + 9 + 1 + 2 + 1 + 6);
    memset(&b, 0xff, sizeof(b));
    assert_int_equal(tri_appdata_decode(buf, n1, &b), 0);
    assert_true(b.early_tag == 0);
    /* Eight more bytes are not a tag in version 1. */
    memset(buf + n1, 1, 8);
    assert_int_equal(tri_appdata_decode(buf, n1 + 8, &b), TR_E_TICKET_MALFORMED);

    /* A tag: version 2, the tag last. */
    a.early_tag = 0x0102030405060708u;
    n2 = tri_appdata_encode(&a, buf);
    assert_int_equal(buf[0], 2);
    assert_int_equal(n2, n1 + 8);
    assert_int_equal(buf[n2 - 8], 0x01);
    assert_int_equal(buf[n2 - 1], 0x08);
    memset(&b, 0, sizeof(b));
    assert_int_equal(tri_appdata_decode(buf, n2, &b), 0);
    assert_true(b.early_tag == a.early_tag);
    assert_true(b.issue_ms == a.issue_ms && b.auth_time == a.auth_time);
    assert_int_equal(b.sni_len, 9);
    assert_memory_equal(b.sni, "a.example", 9);
    assert_string_equal(b.node, "node-a");
    for (size_t n = 0; n < n2; n++)
        assert_int_equal(tri_appdata_decode(buf, n, &b), TR_E_TICKET_MALFORMED);
    buf[n2] = 0;
    assert_int_equal(tri_appdata_decode(buf, n2 + 1, &b), TR_E_TICKET_MALFORMED);
    /* A zero tag is never written. */
    memset(buf + n2 - 8, 0, 8);
    assert_int_equal(tri_appdata_decode(buf, n2, &b), TR_E_TICKET_MALFORMED);
    buf[0] = 3;
    assert_int_equal(tri_appdata_decode(buf, n2, &b), TR_E_TICKET_MALFORMED);
}

/* The app data of the ticket a connection issued last, as the server sealed
 * it: in TLS 1.3 the server's session is the one its last ticket holds. */
struct sealed {
    int version;
    uint32_t max_early_data;
    struct tri_appdata ad;
};

static void server_sealed(SSL *ssl, void *arg)
{
    struct sealed *out = arg;
    void *data = NULL;
    size_t len = 0;

    assert_int_equal(SSL_SESSION_get0_ticket_appdata(SSL_get_session(ssl), &data, &len), 1);
    assert_true(len > 0);
    out->max_early_data = SSL_SESSION_get_max_early_data(SSL_get_session(ssl));
    out->version = ((const uint8_t *)data)[0];
    assert_int_equal(tri_appdata_decode(data, len, &out->ad), 0);
}

/* Only a ticket that promises early data carries the tag (app data
 * version 2); every other stays version 1, which nodes of 0.2 resume. */
static void tag_only_with_early_data(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct sealed sd;
    struct tu_tls_opts o = {.sni = "a.example", .alpn_csv = "h2", .version = TLS1_3_VERSION,
                            .server_done = server_sealed, .arg = &sd};
    struct tu_tls_result r1, r2, r3;
    uint64_t tag = 0;

    assert_int_equal(tr_ring_early_data_tag(c->node[0].ring, &tag), 0);
    assert_true(tag != 0);
    assert_int_equal(tu_tls_connect_opts(c->node[0].ctx, c->client, &o, &r1), 0);
    assert_int_equal(SSL_SESSION_get_max_early_data(r1.session), EARLY_MAX);
    assert_int_equal(sd.max_early_data, EARLY_MAX);
    assert_int_equal(sd.version, 2);
    assert_true(sd.ad.early_tag == tag);

    /* Early data off: the ticket renewed on this resumption is version 1. */
    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, 0, NULL), 0);
    assert_int_equal(tr_ring_early_data_tag(c->node[0].ring, &tag), 0);
    assert_true(tag == 0);
    o.session = r1.session;
    assert_int_equal(tu_tls_connect_opts(c->node[0].ctx, c->client, &o, &r2), 0);
    assert_true(r2.resumed);
    assert_int_equal(sd.max_early_data, 0);
    assert_int_equal(sd.version, 1);
    assert_true(sd.ad.early_tag == 0);

    /* On again, but TLS 1.2: no early data there, version 1. */
    assert_int_equal(tr_ring_set_early_data(c->node[0].ring, EARLY_MAX, c->node[0].replay), 0);
    o.session = NULL;
    o.version = TLS1_2_VERSION;
    assert_int_equal(tu_tls_connect_opts(c->node[0].ctx, c->client, &o, &r3), 0);
    assert_int_equal(sd.version, 1);
    SSL_SESSION_free(r1.session);
    SSL_SESSION_free(r2.session);
    SSL_SESSION_free(r3.session);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(accepted_on_issuing_node, setup, teardown),
        cmocka_unit_test_setup_teardown(accepted_beyond_openssl_default, setup, teardown),
        cmocka_unit_test_setup_teardown(refused_on_another_node, setup, teardown),
        cmocka_unit_test_setup_teardown(replayed_flight_processes_no_early_data, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(altered_random_fails_binder, setup, teardown),
        cmocka_unit_test_setup_teardown(stale_ticket_age, setup, teardown),
        cmocka_unit_test_setup_teardown(startup_window, setup_starting, teardown),
        cmocka_unit_test_setup_teardown(replay_cache_full, setup_tiny_cache, teardown),
        cmocka_unit_test_setup_teardown(sni_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(alpn_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(hello_retry_request, setup, teardown),
        cmocka_unit_test_setup_teardown(application_does_not_read_early_data, setup, teardown),
        cmocka_unit_test_setup_teardown(off_promises_no_early_data, setup_off, teardown),
        cmocka_unit_test_setup_teardown(off_after_issue, setup, teardown),
        cmocka_unit_test_setup_teardown(tls12_no_early_data, setup, teardown),
        cmocka_unit_test_setup_teardown(attach_sets_no_anti_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(callback_without_attachment, setup, teardown),
        cmocka_unit_test_setup_teardown(tag_only_with_early_data, setup, teardown),
        cmocka_unit_test(psk_parser),
        cmocka_unit_test(der_age_add_walk),
        cmocka_unit_test_setup_teardown(der_age_add_matches_openssl, setup, teardown),
        cmocka_unit_test(appdata_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
