/*
 * The mbedTLS glue against OpenSSL, in process:
 *  - an OpenSSL client (over a memory BIO pair) against mbedTLS nodes: it
 *    sends the ticket before ALPN, so mbedTLS has not chosen the protocol
 *    when it parses the ticket, and the binding check must come from the
 *    ClientHello the glue captured;
 *  - a mixed fleet on one key file: a ticket the OpenSSL glue issued is
 *    refused cleanly by an mbedTLS node (it is not the generic format v1),
 *    and an mbedTLS node's ticket by an OpenSSL node.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "mbed_util.h"
#include "tls_check.h" /* after mbed_util.h: both define T0 alike */

#define EXT_ALPN 16
#define EXT_TICKET 35

static struct tm_identity ident;
static struct tu_tls_identity ossl_ident;
static SSL_CTX *client_ctx;

static int group_setup(void **state)
{
    tm_identity_init(&ident);
    assert_int_equal(tu_tls_identity_new(&ossl_ident), 0);
    client_ctx = tu_tls_client_ctx();
    assert_non_null(client_ctx);
    return 0;
}

static int group_teardown(void **state)
{
    SSL_CTX_free(client_ctx);
    tu_tls_identity_free(&ossl_ident);
    tm_identity_free(&ident);
    return 0;
}

/* ---- An OpenSSL client against an mbedTLS node ---------------------------- */

struct io {
    BIO *net;
    struct tm_queue c2s, s2c; /* logs of what crossed */
};

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct io *io = ctx;
    int n = BIO_write(io->net, buf, (int)len);
    if (n <= 0)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    tm_queue_push(&io->s2c, buf, (size_t)n);
    return n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct io *io = ctx;
    int n = BIO_read(io->net, buf, (int)len);
    if (n <= 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    tm_queue_push(&io->c2s, buf, (size_t)n);
    return n;
}

struct oc {
    int resumed_client; /* SSL_session_reused() */
    int resumed_server; /* tr_mbedtls_resumed() */
    char origin[80];
    char alpn[32];      /* what the client got */
    SSL_SESSION *session;
    uint16_t exts[64];  /* the ClientHello's extension types, in order */
    size_t n_exts;
};

static void oc_free(struct oc *r)
{
    SSL_SESSION_free(r->session);
    r->session = NULL;
}

static void ossl_connect(struct tm_node *n, const char *sni, const char *alpn_csv,
                         SSL_SESSION *session, struct oc *res)
{
    SSL *c = SSL_new(client_ctx);
    mbedtls_ssl_context srv;
    tr_mbedtls_conn *conn = NULL;
    struct io io;
    BIO *ib = NULL;
    uint8_t wire[64];
    const unsigned char *p = NULL;
    unsigned int plen = 0;
    int c_done = 0, s_done = 0;

    memset(res, 0, sizeof(*res));
    memset(&io, 0, sizeof(io));
    assert_non_null(c);
    assert_int_equal(BIO_new_bio_pair(&ib, 0, &io.net, 0), 1);
    SSL_set_bio(c, ib, ib);
    SSL_set_connect_state(c);
    if (sni != NULL)
        assert_int_equal(SSL_set_tlsext_host_name(c, sni), 1);
    if (alpn_csv != NULL)
        assert_int_equal(SSL_set_alpn_protos(c, wire, (unsigned)tm_alpn_wire(alpn_csv, wire,
                                                                             sizeof(wire))),
                         0);
    if (session != NULL)
        assert_int_equal(SSL_set_session(c, session), 1);

    mbedtls_ssl_init(&srv);
    assert_int_equal(mbedtls_ssl_setup(&srv, &n->conf), 0);
    assert_int_equal(tr_mbedtls_conn_new(&conn, n->att, &srv, &io, bio_send, bio_recv, NULL), 0);
    tm_mark(n);
    for (int i = 0; i < 100 && !(c_done && s_done); i++) {
        if (!c_done) {
            int r = SSL_do_handshake(c);
            if (r == 1)
                c_done = 1;
            else
                assert_int_equal(SSL_get_error(c, r), SSL_ERROR_WANT_READ);
        }
        if (!s_done) {
            int r = tr_mbedtls_handshake(conn);
            if (r == 0)
                s_done = 1;
            else
                assert_true(r == MBEDTLS_ERR_SSL_WANT_READ);
        }
    }
    assert_true(c_done && s_done);
    assert_int_equal(SSL_version(c), TLS1_2_VERSION);
    res->resumed_client = SSL_session_reused(c);
    res->resumed_server = tr_mbedtls_resumed(conn);
    if (tr_mbedtls_ticket_origin(conn, res->origin, sizeof(res->origin)) != 0)
        res->origin[0] = '\0';
    SSL_get0_alpn_selected(c, &p, &plen);
    snprintf(res->alpn, sizeof(res->alpn), "%.*s", (int)plen, p != NULL ? (const char *)p : "");
    res->session = SSL_get1_session(c);
    assert_non_null(res->session);
    res->n_exts = tm_hello_ext_order(io.c2s.log, io.c2s.log_len, res->exts, 64);
    /* close_notify, so OpenSSL keeps the session resumable. */
    SSL_shutdown(c);
    mbedtls_ssl_close_notify(&srv);
    mbedtls_ssl_free(&srv);
    tr_mbedtls_conn_free(conn);
    SSL_free(c);
    BIO_free(io.net);
    tm_queue_free(&io.c2s);
    tm_queue_free(&io.s2c);
}

struct fx {
    char *keyfile;
    struct tm_node a, b;
};

static struct fx *fx_new(void)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->keyfile = tm_keyfile_new(act, NULL, 1);
    tm_node_init(&f->a, &ident, f->keyfile, "node-a", T0_MS, NULL);
    tm_node_init(&f->b, &ident, f->keyfile, "node-b", T0_MS, NULL);
    return f;
}

static void fx_free(struct fx *f)
{
    tm_node_free(&f->a);
    tm_node_free(&f->b);
    tm_keyfile_free(f->keyfile);
    free(f);
}

static void expect_resumed(struct tm_node *n, const struct oc *r, const char *origin,
                           const char *moved)
{
    assert_true(r->resumed_client);
    assert_true(r->resumed_server);
    assert_string_equal(r->origin, origin);
    assert_string_equal(tm_moved(n), moved);
}

static void expect_refused(struct tm_node *n, const struct oc *r, const char *reason)
{
    char want[128], line[128];

    assert_false(r->resumed_client);
    assert_false(r->resumed_server);
    /* tm_moved() lists counters in field order; refused_other_format was
     * appended (0.4.0) after the handshake counts. */
    if (strcmp(reason, "other_format") == 0)
        snprintf(want, sizeof(want), "sealed+1 handshakes_full+1 refused_%s+1", reason);
    else
        snprintf(want, sizeof(want), "sealed+1 refused_%s+1 handshakes_full+1", reason);
    assert_string_equal(tm_moved(n), want);
    snprintf(line, sizeof(line), "ticketring_tickets_refused_total{reason=\"%s\"} 1", reason);
    tm_assert_metric(n, line);
}

static void test_openssl_client_binding(void **state)
{
    struct fx *f = fx_new();
    struct oc full, r, again;

    ossl_connect(&f->a, "a.example", "h2,http/1.1", NULL, &full);
    assert_false(full.resumed_client);
    assert_string_equal(tm_moved(&f->a), "sealed+1 handshakes_full+1");
    assert_string_equal(full.alpn, "h2");
    /* The order this case exists for: the ticket before ALPN. */
    assert_true(tm_ext_index(full.exts, full.n_exts, EXT_TICKET) >= 0);
    assert_true(tm_ext_index(full.exts, full.n_exts, EXT_TICKET) <
                tm_ext_index(full.exts, full.n_exts, EXT_ALPN));

    ossl_connect(&f->b, "a.example", "h2,http/1.1", full.session, &r);
    expect_resumed(&f->b, &r, "node-a",
                   "opened+1 handshakes_resumed+1 resumed_cross_node+1");
    assert_string_equal(r.alpn, "h2");
    tm_assert_metric(&f->b, "ticketring_resumed_cross_node_total 1");
    oc_free(&r);

    /* Only http/1.1 offered now: refused, although mbedTLS had chosen no
     * protocol yet when it parsed the ticket. */
    ossl_connect(&f->b, "a.example", "http/1.1", full.session, &r);
    expect_refused(&f->b, &r, "alpn");
    assert_string_equal(r.alpn, "http/1.1");
    ossl_connect(&f->b, "a.example", "http/1.1", r.session, &again);
    expect_resumed(&f->b, &again, "node-b", "opened+1 handshakes_resumed+1");
    oc_free(&again);
    oc_free(&r);

    ossl_connect(&f->b, "b.example", "h2", full.session, &r);
    expect_refused(&f->b, &r, "sni");
    oc_free(&r);

    oc_free(&full);
    fx_free(f);
}

/* ---- Mixed fleet -------------------------------------------------------------- */

/* An OpenSSL node and an mbedTLS node on one key file whose key name starts
 * with `first`. The OpenSSL glue's tickets are OpenSSL's format: the key
 * name first. Read as the generic format, byte 0 is the version (so a name
 * starting with 1 reads as version 1) and bytes 1..16 the key name. Either
 * way each node must see the other's ticket for what it is, a ticket of its
 * own cluster from the other backend ("other_format"), never "malformed" or
 * "unknown_key" (which operators read as key drift). */
static void mixed_fleet(uint8_t first)
{
    const char *reason = "other_format";
    int64_t act[] = {T0 - 60};
    char *keyfile = tm_keyfile_new(act, &first, 1);
    struct tu_node on;
    struct tm_node mn;
    struct tu_tls_result tr;
    struct oc r, again;
    char fo[TR_FINGERPRINT_HEX + 1], fm[TR_FINGERPRINT_HEX + 1];
    tr_stats before, after;
    char moved[512];
    const unsigned char *t = NULL;
    size_t tlen = 0;

    assert_int_equal(tu_node_init(&on, &ossl_ident, keyfile, "ossl-1", T0_MS, NULL, "h2"), 0);
    tm_node_init(&mn, &ident, keyfile, "mbed-1", T0_MS, NULL);
    assert_int_equal(tr_ring_fingerprint(on.ring, fo, sizeof(fo)), 0);
    assert_int_equal(tr_ring_fingerprint(mn.ring, fm, sizeof(fm)), 0);
    assert_string_equal(fo, fm);

    /* OpenSSL node's ticket at the mbedTLS node. */
    assert_int_equal(tu_tls_connect(on.ctx, client_ctx, "a.example", "h2", TLS1_2_VERSION, NULL,
                                    &tr),
                     0);
    assert_true(tr.ok);
    SSL_SESSION_get0_ticket(tr.session, &t, &tlen);
    assert_true(tlen > TR_TICKET_OVERHEAD);
    assert_int_equal(t[0], first);
    ossl_connect(&mn, "a.example", "h2", tr.session, &r);
    expect_refused(&mn, &r, reason);
    ossl_connect(&mn, "a.example", "h2", r.session, &again);
    expect_resumed(&mn, &again, "mbed-1", "opened+1 handshakes_resumed+1");
    oc_free(&again);
    SSL_SESSION_free(tr.session);

    /* And back: the mbedTLS node's ticket at the OpenSSL node, whose key
     * callback finds no key named by its first 16 bytes. */
    before = tu_node_stats(&on);
    assert_int_equal(tu_tls_connect(on.ctx, client_ctx, "a.example", "h2", TLS1_2_VERSION,
                                    r.session, &tr),
                     0);
    assert_true(tr.ok);
    assert_false(tr.resumed);
    after = tu_node_stats(&on);
    tu_stats_diff(&before, &after, moved, sizeof(moved));
    assert_string_equal(moved, tc_full(TLS1_2_VERSION, reason));
    tc_assert_refusal_metric(on.ring, reason);
    SSL_SESSION_free(tr.session);
    oc_free(&r);

    tm_node_free(&mn);
    tu_node_free(&on);
    tm_keyfile_free(keyfile);
}

static void test_mixed_fleet(void **state)
{
    mixed_fleet(0x5a);
}

/* A key name starting with the generic format's version byte. */
static void test_mixed_fleet_name_reads_as_version(void **state)
{
    mixed_fleet(0x01);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openssl_client_binding),
        cmocka_unit_test(test_mixed_fleet),
        cmocka_unit_test(test_mixed_fleet_name_reads_as_version),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
