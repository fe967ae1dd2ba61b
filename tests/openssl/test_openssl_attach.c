/* tr_openssl_attach(): resumption across three nodes sharing a key file in
 * TLS 1.3 and TLS 1.2, the counters and metrics it moves, a HelloRetryRequest,
 * detaching, re-attaching and freeing. */
#include "tls_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TU_HAVE_MBEDTLS
#include <ticketring/mbedtls.h>
#endif

struct fx {
    struct tu_cluster c;
};

static int setup(void **st)
{
    static const int64_t keys[] = {T0 - 10};
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(tu_cluster_init(&f->c, 3, keys, 1, T0_MS, NULL, "h2,http/1.1"), 0);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    tu_cluster_free(&f->c);
    free(f);
    return 0;
}

static void assert_metric(tr_ring *ring, const char *line)
{
    char text[8192];
    size_t len = 0;
    assert_int_equal(tr_ring_metrics(ring, text, sizeof(text), &len), 0);
    assert_int_equal(strlen(text), len);
    if (strstr(text, line) == NULL)
        fail_msg("metrics lack \"%s\":\n%s", line, text);
}

static void cross_node(struct fx *f, int v)
{
    struct tu_cluster *c = &f->c;
    struct tc_conn a, b, cc, own, back;
    uint8_t name[16], want[16];
    SSL_SESSION *dup;

    /* Full handshake on A: A's ring seals the tickets, under its encrypt key. */
    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    assert_false(a.r.resumed);
    assert_int_equal(a.r.tickets, v == TLS1_3_VERSION ? 2 : 1);
    assert_int_equal(a.origin_rc, TR_E_INVAL);
    assert_string_equal(a.alpn_selected, "h2");
    assert_string_equal(tu_cluster_moved(c, 0), tc_full(v, NULL));
    assert_string_equal(tu_cluster_moved(c, 1), "");
    assert_string_equal(tu_cluster_moved(c, 2), "");
    tc_ticket_name(a.r.session, name);
    assert_int_equal(tr_ring_encrypt_key_name(c->node[0].ring, want), 0);
    assert_memory_equal(name, want, 16);

    /* B resumes A's ticket and knows it came from A. */
    dup = SSL_SESSION_dup(a.r.session);
    tc_connect(c, 1, "a.example", "h2", v, dup, &b);
    SSL_SESSION_free(dup);
    assert_true(b.r.resumed);
    assert_int_equal(b.origin_rc, 0);
    assert_string_equal(b.origin, "node-a");
    assert_int_equal(b.origin_small_rc, TR_E_BUFFER_TOO_SMALL);
    assert_string_equal(b.alpn_selected, "h2");
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(v, 1, 0));
    assert_string_equal(tu_cluster_moved(c, 0), "");
    if (v == TLS1_3_VERSION) {
        /* Always renewed: the client never runs out of single-use tickets. */
        assert_int_equal(b.r.tickets, 1);
        assert_true(SSL_SESSION_is_resumable(b.r.session));
    } else {
        /* Current key: the TLS 1.2 ticket stays as it was. */
        const unsigned char *t1, *t2;
        size_t l1, l2;
        assert_int_equal(b.r.tickets, 0);
        SSL_SESSION_get0_ticket(a.r.session, &t1, &l1);
        SSL_SESSION_get0_ticket(b.r.session, &t2, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(t1, t2, l1);
    }

    /* C too; in TLS 1.2 the same session object is simply reused. */
    dup = v == TLS1_3_VERSION ? SSL_SESSION_dup(a.r.session) : NULL;
    tc_connect(c, 2, "a.example", "h2", v, dup != NULL ? dup : a.r.session, &cc);
    SSL_SESSION_free(dup);
    assert_true(cc.r.resumed);
    assert_string_equal(cc.origin, "node-a");
    assert_string_equal(tu_cluster_moved(c, 2), tc_resumed(v, 1, 0));

    /* A resuming its own ticket is not cross-node. */
    dup = SSL_SESSION_dup(a.r.session);
    tc_connect(c, 0, "a.example", "h2", v, dup, &own);
    SSL_SESSION_free(dup);
    assert_true(own.r.resumed);
    assert_string_equal(own.origin, "node-a");
    assert_string_equal(tu_cluster_moved(c, 0), tc_resumed(v, 0, 0));

    /* The ticket B renewed names B as its origin (TLS 1.2 kept A's). */
    tc_connect(c, 0, "a.example", "h2", v, b.r.session, &back);
    assert_true(back.r.resumed);
    assert_string_equal(back.origin, v == TLS1_3_VERSION ? "node-b" : "node-a");
    assert_string_equal(tu_cluster_moved(c, 0), tc_resumed(v, v == TLS1_3_VERSION, 0));

    /* The Prometheus text says the same as the snapshot. */
    assert_metric(c->node[1].ring, "\nticketring_handshakes_total{type=\"resumed\"} 1\n");
    assert_metric(c->node[1].ring, "\nticketring_handshakes_total{type=\"full\"} 0\n");
    assert_metric(c->node[1].ring, "\nticketring_resumed_cross_node_total 1\n");
    assert_metric(c->node[1].ring, v == TLS1_3_VERSION
                                       ? "\nticketring_tickets_renewed_total 1\n"
                                       : "\nticketring_tickets_renewed_total 0\n");
    assert_metric(c->node[1].ring, "\nticketring_tickets_accepted_total 1\n");
    assert_metric(c->node[0].ring, "\nticketring_handshakes_total{type=\"full\"} 1\n");
    assert_metric(c->node[0].ring, "\nticketring_handshakes_total{type=\"resumed\"} 2\n");
    assert_metric(c->node[0].ring, v == TLS1_3_VERSION
                                       ? "\nticketring_tickets_issued_total 4\n"
                                       : "\nticketring_tickets_issued_total 1\n");
    assert_metric(c->node[0].ring, "\nticketring_tickets_refused_total{reason=\"auth\"} 0\n");

    tc_conn_free(&a);
    tc_conn_free(&b);
    tc_conn_free(&cc);
    tc_conn_free(&own);
    tc_conn_free(&back);
}

static void tls13_cross_node(void **st)
{
    cross_node(*st, TLS1_3_VERSION);
}

static void tls12_cross_node(void **st)
{
    cross_node(*st, TLS1_2_VERSION);
}

static void metrics_name_the_encrypt_key(void **st)
{
    struct fx *f = *st;
    uint8_t name[16];
    char line[128], fp[TR_FINGERPRINT_HEX + 1], hex[33];
    size_t len = 0;

    assert_int_equal(tr_ring_encrypt_key_name(f->c.node[2].ring, name), 0);
    assert_int_equal(tr_ring_fingerprint(f->c.node[2].ring, fp, sizeof(fp)), 0);
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", name[i]);
    snprintf(line, sizeof(line), "ticketring_keyset_info{fingerprint=\"%s\",encrypt_key=\"%s\"} 1\n",
             fp, hex);
    assert_metric(f->c.node[2].ring, line);
    assert_metric(f->c.node[2].ring, "ticketring_keys{role=\"encrypt\"} 1\n");
    /* Too small: the needed length comes back. */
    assert_int_equal(tr_ring_metrics(f->c.node[2].ring, line, 10, &len),
                     TR_E_BUFFER_TOO_SMALL);
    assert_true(len > 1000);
}

static void tls13_hello_retry_request(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn a, b;
    SSL_CTX *client = tu_tls_client_ctx();

    /* X25519 first: the client's only key share is one the servers refuse,
     * so every handshake sees two ClientHellos. */
    assert_non_null(client);
    assert_int_equal(SSL_CTX_set1_groups_list(client, "X25519:P-256"), 1);
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(SSL_CTX_set1_groups_list(c->node[i].ctx, "P-256"), 1);

    tu_cluster_mark(c);
    tc_connect_ctx(c->node[0].ctx, client, "a.example", "h2", TLS1_3_VERSION, NULL, &a);
    assert_false(a.r.resumed);
    assert_int_equal(a.client_hellos, 2);
    assert_int_equal(a.group, NID_X9_62_prime256v1);
    assert_string_equal(tu_cluster_moved(c, 0), tc_full(TLS1_3_VERSION, NULL));

    tu_cluster_mark(c);
    tc_connect_ctx(c->node[1].ctx, client, "a.example", "h2", TLS1_3_VERSION, a.r.session, &b);
    assert_true(b.r.resumed);
    assert_int_equal(b.client_hellos, 2);
    assert_int_equal(b.group, NID_X9_62_prime256v1);
    assert_int_equal(b.r.tickets, 1);
    assert_string_equal(b.origin, "node-a");
    /* One handshake, one accepted ticket, one renewal: not two of each. */
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(TLS1_3_VERSION, 1, 0));
    tc_conn_free(&a);
    tc_conn_free(&b);
    SSL_CTX_free(client);
}

static void tls13_hello_retry_request_refusal(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn a, b;
    SSL_CTX *client = tu_tls_client_ctx();

    assert_non_null(client);
    assert_int_equal(SSL_CTX_set1_groups_list(client, "X25519:P-256"), 1);
    assert_int_equal(SSL_CTX_set1_groups_list(c->node[1].ctx, "P-256"), 1);
    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, NULL, &a);
    assert_int_equal(a.client_hellos, 1);
    tu_cluster_mark(c);
    tc_connect_ctx(c->node[1].ctx, client, "b.example", "h2", TLS1_3_VERSION, a.r.session, &b);
    assert_false(b.r.resumed);
    assert_int_equal(b.client_hellos, 2);
    assert_int_equal(b.group, NID_X9_62_prime256v1);
    /* The refusal is counted once although both ClientHellos carry it. */
    assert_string_equal(tu_cluster_moved(c, 1), tc_full(TLS1_3_VERSION, "sni"));
    tc_conn_free(&a);
    tc_conn_free(&b);
    SSL_CTX_free(client);
}

static void detach_restores_built_in_tickets(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn ring_t, plain, plain2, ring_on_plain, again;
    SSL_SESSION *dup;

    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, NULL, &ring_t);
    assert_int_equal(tr_openssl_detach(c->node[0].ctx), 0);
    assert_null(tr_openssl_ring(c->node[0].ctx));
    assert_int_equal(tr_openssl_detach(c->node[0].ctx), 0); /* a no-op now */

    /* OpenSSL's own keys: full handshake, resumption, and no counter moves. */
    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, NULL, &plain);
    assert_false(plain.r.resumed);
    assert_int_equal(plain.r.tickets, 2);
    assert_string_equal(tu_cluster_moved(c, 0), "");
    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, plain.r.session, &plain2);
    assert_true(plain2.r.resumed);
    assert_int_equal(plain2.r.tickets, 1);
    assert_string_equal(tu_cluster_moved(c, 0), "");
    assert_int_equal(plain2.origin_rc, TR_E_INVAL);

    /* The ring's ticket means nothing to the built-in keys ... */
    dup = SSL_SESSION_dup(ring_t.r.session);
    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, dup, &ring_on_plain);
    SSL_SESSION_free(dup);
    assert_false(ring_on_plain.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 0), "");

    /* ... and resumes again once the ring is attached again. */
    assert_int_equal(tr_openssl_attach(c->node[0].ctx, c->node[0].ring, "node-a"), 0);
    assert_ptr_equal(tr_openssl_ring(c->node[0].ctx), c->node[0].ring);
    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, ring_t.r.session, &again);
    assert_true(again.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 0), tc_resumed(TLS1_3_VERSION, 0, 0));

    tc_conn_free(&ring_t);
    tc_conn_free(&plain);
    tc_conn_free(&plain2);
    tc_conn_free(&ring_on_plain);
    tc_conn_free(&again);
}

static void reattach_replaces(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn a, b;
    tr_ring *other = NULL;
    tr_stats before, after;
    uint32_t line = 0;
    char moved[512];

    /* A second ring (same keys) on node C's ctx takes over from C's ring. */
    assert_int_equal(tr_ring_new(&other, tr_crypto_openssl()), 0);
    assert_int_equal(tr_ring_set_clock(other, tu_node_clock, &c->node[2].clock_ms),
                     0);
    assert_int_equal(tr_ring_load(other, c->keyfile, &line), 0);
    assert_int_equal(tr_openssl_attach(c->node[2].ctx, other, "node-c2"), 0);
    assert_ptr_equal(tr_openssl_ring(c->node[2].ctx), other);

    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, NULL, &a);
    before.size = sizeof(before);
    assert_int_equal(tr_ring_stats(other, &before), 0);
    tc_connect(c, 2, "a.example", "h2", TLS1_3_VERSION, a.r.session, &b);
    assert_true(b.r.resumed);
    assert_string_equal(b.origin, "node-a");
    after.size = sizeof(after);
    assert_int_equal(tr_ring_stats(other, &after), 0);
    tu_stats_diff(&before, &after, moved, sizeof(moved));
    assert_string_equal(moved, tc_resumed(TLS1_3_VERSION, 1, 0));
    assert_string_equal(tu_cluster_moved(c, 2), "");

    /* The ctx must go before the ring it uses. */
    SSL_CTX_free(c->node[2].ctx);
    c->node[2].ctx = NULL;
    tr_ring_free(other);
    tc_conn_free(&a);
    tc_conn_free(&b);
}

static void free_attached_ctx(void **st)
{
    struct fx *f = *st;
    struct tc_conn a;

    /* Attached, used, freed without detaching: ASan reports the attachment
     * if SSL_CTX_free leaks it. */
    for (int i = 0; i < 3; i++) {
        SSL_CTX *ctx = tu_tls_server_ctx(&f->c.ident, NULL);
        assert_non_null(ctx);
        assert_int_equal(tr_openssl_attach(ctx, f->c.node[0].ring, "short-lived"), 0);
        if (i > 0)
            assert_int_equal(tr_openssl_attach(ctx, f->c.node[0].ring, "again"), 0);
        tu_cluster_mark(&f->c);
        tc_connect_ctx(ctx, f->c.client, "a.example", NULL, TLS1_3_VERSION, NULL, &a);
        assert_string_equal(tu_cluster_moved(&f->c, 0), tc_full(TLS1_3_VERSION, NULL));
        tc_conn_free(&a);
        SSL_CTX_free(ctx);
    }
}

static void attach_refuses_bad_arguments(void **st)
{
    struct fx *f = *st;
    SSL_CTX *ctx = tu_tls_server_ctx(&f->c.ident, NULL);
    char long_id[80];

    assert_non_null(ctx);
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_int_equal(tr_openssl_attach(NULL, f->c.node[0].ring, "x"), TR_E_INVAL);
    assert_int_equal(tr_openssl_attach(ctx, NULL, "x"), TR_E_INVAL);
    assert_int_equal(tr_openssl_attach(ctx, f->c.node[0].ring, long_id), TR_E_INVAL);
    long_id[64] = '\0'; /* 64 bytes is the documented maximum */
    assert_int_equal(tr_openssl_attach(ctx, f->c.node[0].ring, long_id), 0);
    assert_int_equal(tr_openssl_set_unbound_policy(ctx, 7), TR_E_INVAL);
    SSL_CTX_free(ctx);
    ctx = tu_tls_server_ctx(&f->c.ident, NULL);
    assert_non_null(ctx);
    assert_true(tr_openssl_set_unbound_policy(ctx, TR_UNBOUND_REFUSE) < 0);
    assert_null(tr_openssl_ring(ctx));
    SSL_CTX_free(ctx);
}

static void node_id_is_optional(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn a, b;
    const char *moved;

    /* No id on A: B resumes its tickets and reports an empty origin. */
    assert_int_equal(tr_openssl_attach(c->node[0].ctx, c->node[0].ring, NULL), 0);
    tc_connect(c, 0, "a.example", NULL, TLS1_3_VERSION, NULL, &a);
    tc_connect(c, 1, "a.example", NULL, TLS1_3_VERSION, a.r.session, &b);
    assert_true(b.r.resumed);
    assert_int_equal(b.origin_rc, 0);
    assert_string_equal(b.origin, "");
    /* Cross-node or not is a matter of definition for an anonymous issuer. */
    moved = tu_cluster_moved(c, 1);
    if (strcmp(moved, tc_resumed(TLS1_3_VERSION, 0, 0)) != 0)
        assert_string_equal(moved, tc_resumed(TLS1_3_VERSION, 1, 0));
    tc_conn_free(&a);
    tc_conn_free(&b);
}

static int own_hello_calls;

static int own_client_hello(SSL *ssl, int *alert, void *arg)
{
    int rc = tr_openssl_client_hello_cb(ssl, alert, NULL);
    (void)arg;
    own_hello_calls++;
    return rc;
}

static void application_client_hello_cb(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn a, r;
    SSL_SESSION *dup;

    /* An application with its own ClientHello callback calls the glue's
     * from it: binding and counting work as before. */
    SSL_CTX_set_client_hello_cb(c->node[1].ctx, own_client_hello, NULL);
    own_hello_calls = 0;
    tc_connect(c, 0, "a.example", "h2", TLS1_3_VERSION, NULL, &a);
    dup = SSL_SESSION_dup(a.r.session);
    tc_connect(c, 1, "a.example", "h2", TLS1_3_VERSION, dup, &r);
    SSL_SESSION_free(dup);
    assert_int_equal(own_hello_calls, 1);
    assert_true(r.r.resumed);
    assert_string_equal(r.origin, "node-a");
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(TLS1_3_VERSION, 1, 0));
    tc_conn_free(&r);
    tc_connect(c, 1, "b.example", "h2", TLS1_3_VERSION, a.r.session, &r);
    tc_expect_refused(c, 1, &r, "sni");
    tc_conn_free(&r);
    tc_conn_free(&a);
}

static int info_done;

static void app_info(const SSL *ssl, int where, int ret)
{
    (void)ssl, (void)ret;
    if (where & SSL_CB_HANDSHAKE_DONE)
        info_done++;
}

static void application_info_cb_still_called(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn a, r;

    /* The glue counts handshakes from an info callback of its own; the
     * application's must still see every handshake. */
    SSL_CTX_set_info_callback(c->node[0].ctx, app_info);
    info_done = 0;
    tc_connect(c, 0, "a.example", "h2", TLS1_2_VERSION, NULL, &a);
    tc_connect(c, 0, "a.example", "h2", TLS1_2_VERSION, a.r.session, &r);
    assert_true(r.r.resumed);
    assert_true(info_done >= 2);
    assert_string_equal(tu_cluster_moved(c, 0), tc_resumed(TLS1_2_VERSION, 0, 0));
    tc_conn_free(&a);
    tc_conn_free(&r);
}

static void mbedtls_ring_refused(void **st)
{
#ifdef TU_HAVE_MBEDTLS
    struct fx *f = *st;
    struct tc_conn a;
    tr_ring *ring = NULL;
    SSL_CTX *ctx = tu_tls_server_ctx(&f->c.ident, NULL);

    assert_non_null(ctx);
    assert_int_equal(tr_ring_new(&ring, tr_crypto_mbedtls()), 0);
    assert_int_equal(tr_ring_generate_key(ring, T0 - 10, NULL), 0);
    assert_int_equal(tr_openssl_attach(ctx, ring, "mbed"), TR_E_BACKEND);
    assert_null(tr_openssl_ring(ctx));
    /* The ctx is untouched and still works on its own. */
    tc_connect_ctx(ctx, f->c.client, "a.example", NULL, TLS1_3_VERSION, NULL, &a);
    tc_conn_free(&a);
    SSL_CTX_free(ctx);
    tr_ring_free(ring);
#else
    (void)st;
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(tls13_cross_node, setup, teardown),
        cmocka_unit_test_setup_teardown(tls12_cross_node, setup, teardown),
        cmocka_unit_test_setup_teardown(metrics_name_the_encrypt_key, setup, teardown),
        cmocka_unit_test_setup_teardown(tls13_hello_retry_request, setup, teardown),
        cmocka_unit_test_setup_teardown(tls13_hello_retry_request_refusal, setup, teardown),
        cmocka_unit_test_setup_teardown(detach_restores_built_in_tickets, setup, teardown),
        cmocka_unit_test_setup_teardown(reattach_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(free_attached_ctx, setup, teardown),
        cmocka_unit_test_setup_teardown(attach_refuses_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(node_id_is_optional, setup, teardown),
        cmocka_unit_test_setup_teardown(application_client_hello_cb, setup, teardown),
        cmocka_unit_test_setup_teardown(application_info_cb_still_called, setup, teardown),
        cmocka_unit_test_setup_teardown(mbedtls_ring_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
