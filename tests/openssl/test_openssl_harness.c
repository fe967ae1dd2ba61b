/* The BIO-pair harness itself, with plain OpenSSL (no ring): the glue tests
 * and the benchmark trust its resumed/version/tickets answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "tls_util.h"

struct fx {
    struct tu_tls_identity id;
    SSL_CTX *server;
    SSL_CTX *client;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(tu_tls_identity_new(&f->id), 0);
    f->server = tu_tls_server_ctx(&f->id, "h2,http/1.1");
    f->client = tu_tls_client_ctx();
    assert_non_null(f->server);
    assert_non_null(f->client);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    SSL_CTX_free(f->server);
    SSL_CTX_free(f->client);
    tu_tls_identity_free(&f->id);
    free(f);
    return 0;
}

static void check_identity(void **st)
{
    struct fx *f = *st;
    GENERAL_NAMES *san;
    int dns = 0;
    assert_int_equal(EVP_PKEY_get_bits(f->id.key), 256);
    assert_int_equal(X509_check_host(f->id.cert, "a.example", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(f->id.cert, "b.example", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(f->id.cert, "c.example", 0, 0, NULL), 0);
    san = X509_get_ext_d2i(f->id.cert, NID_subject_alt_name, NULL, NULL);
    assert_non_null(san);
    for (int i = 0; i < sk_GENERAL_NAME_num(san); i++)
        dns += sk_GENERAL_NAME_value(san, i)->type == GEN_DNS;
    assert_int_equal(dns, 2);
    GENERAL_NAMES_free(san);
    assert_int_equal(X509_verify(f->id.cert, f->id.key), 1);
}

static void resume_plain(struct fx *f, int version, int full_tickets, int resume_tickets)
{
    struct tu_tls_result a, b, c;
    SSL_SESSION *dup;

    assert_int_equal(tu_tls_connect(f->server, f->client, "a.example", NULL, version, NULL, &a),
                     0);
    assert_true(a.ok);
    assert_false(a.resumed);
    assert_int_equal(a.version, version);
    assert_int_equal(a.tickets, full_tickets);
    assert_true(SSL_SESSION_is_resumable(a.session));

    dup = SSL_SESSION_dup(a.session);
    assert_int_equal(tu_tls_connect(f->server, f->client, "a.example", NULL, version, dup, &b),
                     0);
    assert_true(b.ok);
    assert_true(b.resumed);
    assert_int_equal(b.version, version);
    assert_int_equal(b.tickets, resume_tickets);

    /* Clean shutdown left the original (and the newest) session usable. */
    assert_int_equal(tu_tls_connect(f->server, f->client, "a.example", NULL, version,
                                    b.session, &c), 0);
    assert_true(c.resumed);
    SSL_SESSION_free(dup);
    SSL_SESSION_free(a.session);
    SSL_SESSION_free(b.session);
    SSL_SESSION_free(c.session);
}

static void tls13_built_in_tickets(void **st)
{
    /* OpenSSL's defaults: 2 tickets per full handshake, 1 per resumption. */
    resume_plain(*st, TLS1_3_VERSION, 2, 1);
}

static void tls12_built_in_tickets(void **st)
{
    /* Built-in keys do not renew a TLS 1.2 ticket. */
    resume_plain(*st, TLS1_2_VERSION, 1, 0);
}

static void capture_alpn(SSL *ssl, void *arg)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;
    SSL_get0_alpn_selected(ssl, &p, &n);
    snprintf(arg, 32, "%.*s", (int)n, p != NULL ? (const char *)p : "");
}

static void alpn_server_preference(void **st)
{
    struct fx *f = *st;
    struct tu_tls_result r;
    char got[32];
    struct tu_tls_opts o = {.sni = "a.example", .version = TLS1_3_VERSION,
                            .server_done = capture_alpn, .arg = got};
    static const struct {
        const char *offer, *want;
    } cases[] = {
        {"http/1.1,h2", "h2"}, {"http/1.1", "http/1.1"}, {"h3", ""}, {NULL, ""}};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        o.alpn_csv = cases[i].offer;
        got[0] = 'x';
        assert_int_equal(tu_tls_connect_opts(f->server, f->client, &o, &r), 0);
        assert_string_equal(got, cases[i].want);
        SSL_SESSION_free(r.session);
    }
}

static void alpn_wire_format(void **st)
{
    uint8_t w[16];
    (void)st;
    assert_int_equal(tu_tls_alpn_wire("h2,http/1.1", w, sizeof(w)), 12);
    assert_memory_equal(w, "\x02h2\x08http/1.1", 12);
    assert_int_equal(tu_tls_alpn_wire("h2,,x", w, sizeof(w)), 0);
    assert_int_equal(tu_tls_alpn_wire("", w, sizeof(w)), 0);
    assert_int_equal(tu_tls_alpn_wire("abcdefghijklmnop", w, sizeof(w)), 0);
}

static void session_ticket_surgery(void **st)
{
    struct fx *f = *st;
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};

    for (size_t v = 0; v < 2; v++) {
        struct tu_tls_result a, b;
        const unsigned char *t = NULL, *t2 = NULL;
        size_t len = 0, len2 = 0;
        uint8_t buf[1024];
        SSL_SESSION *same, *flipped, *cut;

        assert_int_equal(tu_tls_connect(f->server, f->client, "a.example", NULL, versions[v],
                                         NULL, &a), 0);
        SSL_SESSION_get0_ticket(a.session, &t, &len);
        assert_true(len > 64 && len <= sizeof(buf));
        memcpy(buf, t, len);

        /* Unchanged bytes: the rebuilt session still resumes. */
        same = tu_tls_session_with_ticket(a.session, buf, len);
        assert_non_null(same);
        assert_int_equal(tu_tls_connect(f->server, f->client, "a.example", NULL, versions[v],
                                        same, &b), 0);
        assert_true(b.resumed);
        SSL_SESSION_free(b.session);

        buf[len / 2] ^= 0x40;
        flipped = tu_tls_session_with_ticket(a.session, buf, len);
        assert_non_null(flipped);
        SSL_SESSION_get0_ticket(flipped, &t2, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(t2, buf, len);
        assert_int_equal(tu_tls_connect(f->server, f->client, "a.example", NULL, versions[v],
                                        flipped, &b), 0);
        assert_false(b.resumed);
        SSL_SESSION_free(b.session);

        cut = tu_tls_session_with_ticket(a.session, t, len - 40);
        assert_non_null(cut);
        SSL_SESSION_get0_ticket(cut, &t2, &len2);
        assert_int_equal(len2, len - 40);
        assert_int_equal(tu_tls_connect(f->server, f->client, "a.example", NULL, versions[v],
                                        cut, &b), 0);
        assert_false(b.resumed);
        SSL_SESSION_free(b.session);

        SSL_SESSION_free(same);
        SSL_SESSION_free(flipped);
        SSL_SESSION_free(cut);
        SSL_SESSION_free(a.session);
    }
}

static void failed_handshake_reported(void **st)
{
    struct fx *f = *st;
    struct tu_tls_result r;
    SSL_CTX *c = tu_tls_client_ctx();
    assert_non_null(c);
    /* No group in common with the P-256 certificate in TLS 1.2 and no
     * common TLS 1.3 group: the handshake must fail, not hang. */
    assert_int_equal(SSL_CTX_set1_groups_list(c, "X448"), 1);
    assert_int_equal(SSL_CTX_set1_groups_list(f->server, "P-256"), 1);
    assert_int_not_equal(tu_tls_connect(f->server, c, "a.example", NULL, TLS1_3_VERSION, NULL,
                                        &r), 0);
    assert_false(r.ok);
    assert_null(r.session);
    SSL_CTX_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(check_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(tls13_built_in_tickets, setup, teardown),
        cmocka_unit_test_setup_teardown(tls12_built_in_tickets, setup, teardown),
        cmocka_unit_test_setup_teardown(alpn_server_preference, setup, teardown),
        cmocka_unit_test(alpn_wire_format),
        cmocka_unit_test_setup_teardown(session_ticket_surgery, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_handshake_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
