/* Tickets the ring cannot or must not accept: tampered, truncated, under a
 * key this node does not hold, and tickets without binding data from a plain
 * OpenSSL server holding the same key (the nginx-interop path in miniature). */
#include "tls_check.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/rand.h>

struct fx {
    struct tu_cluster c;
    char *other_keyfile;
    SSL_CTX *plain; /* OpenSSL with the ring's key bytes, no libticketring */
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
    tu_keyfile_free(f->other_keyfile);
    SSL_CTX_free(f->plain);
    free(f);
    return 0;
}

/* Resume `from`'s session with its ticket replaced by ticket[0..len). */
static void resume_with_ticket(struct tu_cluster *c, size_t i, const struct tc_conn *from,
                               const uint8_t *ticket, size_t len, struct tc_conn *out)
{
    SSL_SESSION *s = tu_tls_session_with_ticket(from->r.session, ticket, len);
    const unsigned char *t = NULL;
    size_t tl = 0;

    assert_non_null(s);
    SSL_SESSION_get0_ticket(s, &t, &tl);
    assert_int_equal(tl, len);
    tc_connect(c, i, from->sni, from->alpn, from->version, s, out);
    SSL_SESSION_free(s);
}

#define MIDDLE 2
#define FIRST 0
#define LAST 1
#define NO_FLIP ((size_t)-1)
#define CUT_40 1 /* cut_to: drop the last 40 bytes */

static void edited(struct fx *f, int v, size_t flip_at, size_t cut_to, const char *refusal)
{
    struct tu_cluster *c = &f->c;
    struct tc_conn a, r;
    const unsigned char *t = NULL;
    uint8_t buf[1024];
    size_t len = 0;
    SSL_SESSION *s;

    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    SSL_SESSION_get0_ticket(a.r.session, &t, &len);
    assert_true(len > 64 && len <= sizeof(buf));
    memcpy(buf, t, len);
    if (flip_at != NO_FLIP)
        buf[flip_at == FIRST ? 0 : flip_at == LAST ? len - 1 : len / 2] ^= 0x01;
    if (cut_to != 0)
        len = cut_to == CUT_40 ? len - 40 : cut_to;
    resume_with_ticket(c, 1, &a, buf, len, &r);
    tc_expect_refused(c, 1, &r, refusal);
    tc_conn_free(&r);

    /* The genuine ticket still resumes: the refusal changed nothing. */
    s = SSL_SESSION_dup(a.r.session);
    tc_connect(c, 1, "a.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(v, 1, 0));
    tc_conn_free(&r);
    tc_conn_free(&a);
}


static void tls13_tampered(void **st)
{
    edited(*st, TLS1_3_VERSION, MIDDLE, 0, "auth");
}

static void tls12_tampered(void **st)
{
    edited(*st, TLS1_2_VERSION, MIDDLE, 0, "auth");
}

static void tls13_tampered_mac(void **st)
{
    edited(*st, TLS1_3_VERSION, LAST, 0, "auth");
}

static void tls12_tampered_key_name(void **st)
{
    /* The name is how the key is found: another name is another key. */
    edited(*st, TLS1_2_VERSION, FIRST, 0, "unknown_key");
}

/* The glue documents (backends/openssl/conn.h) that OpenSSL refuses a
 * ticket shorter than name + IV (32 bytes) before asking for the key:
 * malformed; a longer truncated ticket fails its HMAC: auth. */
static void tls13_truncated(void **st)
{
    edited(*st, TLS1_3_VERSION, NO_FLIP, CUT_40, "auth");
}

static void tls12_truncated(void **st)
{
    edited(*st, TLS1_2_VERSION, NO_FLIP, CUT_40, "auth");
}

static void tls13_truncated_short(void **st)
{
    edited(*st, TLS1_3_VERSION, NO_FLIP, 20, "malformed");
}

static void tls12_truncated_short(void **st)
{
    edited(*st, TLS1_2_VERSION, NO_FLIP, 20, "malformed");
}

static void unknown_key(struct fx *f, int v)
{
    static const int64_t keys[] = {T0 - 10};
    struct tu_cluster *c = &f->c;
    struct tc_conn a, r, back;

    /* Node D holds another key file: A's tickets are foreign to it, and
     * its own are foreign to A. */
    f->other_keyfile = tu_keyfile_new(keys, 1);
    assert_non_null(f->other_keyfile);
    assert_int_equal(tu_node_init(&c->node[3], &c->ident, f->other_keyfile, "node-d", T0_MS,
                                  NULL, "h2,http/1.1"), 0);
    c->n = 4;

    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    tc_connect(c, 3, "a.example", "h2", v, a.r.session, &r);
    tc_expect_refused(c, 3, &r, "unknown_key");

    tc_connect(c, 0, "a.example", "h2", v, r.r.session, &back);
    tc_expect_refused(c, 0, &back, "unknown_key");
    tc_conn_free(&a);
    tc_conn_free(&r);
    tc_conn_free(&back);
}

static void tls13_unknown_key(void **st)
{
    unknown_key(*st, TLS1_3_VERSION);
}

static void tls12_unknown_key(void **st)
{
    unknown_key(*st, TLS1_2_VERSION);
}

/* ---- Tickets without binding data ------------------------------------------ */

/* name(16) | HMAC secret(32) | AES key(32), as in a key file: the plain
 * server uses the bytes as nginx uses its 80-byte ticket key file. */
static uint8_t plain_key[TR_KEY_BYTES];

static int plain_key_cb(SSL *s, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                        EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[3];
    const uint8_t *hmac = plain_key + 16, *aes = plain_key + 48;

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)hmac, 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[2] = OSSL_PARAM_construct_end();
    if (enc) {
        memcpy(key_name, plain_key, 16);
        if (RAND_bytes(iv, 16) != 1 ||
            EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, aes, iv) != 1 ||
            EVP_MAC_CTX_set_params(hctx, params) != 1)
            return -1;
        return 1;
    }
    if (memcmp(key_name, plain_key, 16) != 0)
        return 0;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, aes, iv) != 1 ||
        EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    return SSL_version(s) == TLS1_3_VERSION ? 2 : 1;
}

/* Accepts every name, as nginx's and HAProxy's servername callbacks do for
 * a name they serve: only then does OpenSSL keep the name in the session. */
static int accept_sni(SSL *s, int *alert, void *arg)
{
    (void)s, (void)alert, (void)arg;
    return SSL_TLSEXT_ERR_OK;
}

/* Node A holds only plain_key; f->plain is OpenSSL alone with the same key
 * and the same session id context. Clocks run at real time: an unbound
 * ticket's age comes from OpenSSL's session time. */
static void plain_setup(struct fx *f)
{
    struct tu_cluster *c = &f->c;
    int64_t now = (int64_t)time(NULL);

    tu_node_free(&c->node[0]);
    assert_int_equal(tu_node_init(&c->node[0], &c->ident, NULL, "node-a", now * 1000, NULL,
                                  "h2,http/1.1"), 0);
    assert_int_equal(RAND_bytes(plain_key, sizeof(plain_key)), 1);
    assert_int_equal(tr_ring_add_key(c->node[0].ring, plain_key, now - 10), 0);
    tu_cluster_mark(c);

    f->plain = tu_tls_server_ctx(&c->ident, "h2,http/1.1");
    assert_non_null(f->plain);
    assert_int_equal(SSL_CTX_set_tlsext_ticket_key_evp_cb(f->plain, plain_key_cb), 1);
    assert_int_equal(SSL_CTX_set_session_id_context(f->plain, (const unsigned char *)"ticketring",
                                                    10), 1);
    assert_int_equal(SSL_CTX_set_tlsext_servername_callback(f->plain, accept_sni), 1);
}

static void unbound(struct fx *f, int v)
{
    struct tu_cluster *c = &f->c;
    struct tc_conn p, r, again;
    SSL_SESSION *s;
    uint8_t name[16];

    plain_setup(f);
    tc_connect_ctx(f->plain, c->client, "a.example", "h2", v, NULL, &p);
    assert_false(p.r.resumed);
    tc_ticket_name(p.r.session, name);
    assert_memory_equal(name, plain_key, 16);
    /* Sanity: the plain server resumes its own ticket. */
    s = SSL_SESSION_dup(p.r.session);
    tc_connect_ctx(f->plain, c->client, "a.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    tc_conn_free(&r);

    /* Default policy: A resumes it, counted as unbound, origin unknown. */
    s = SSL_SESSION_dup(p.r.session);
    tc_connect(c, 0, "a.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    if (!r.r.resumed)
        fail_msg("not resumed; node A moved: %s", tu_cluster_moved(c, 0));
    assert_int_equal(r.origin_rc, 0);
    assert_string_equal(r.origin, "");
    assert_string_equal(tu_cluster_moved(c, 0),
                        v == TLS1_3_VERSION
                            ? "sealed+1 opened+1 opened_unbound+1 handshakes_resumed+1 "
                              "resumed_cross_node+1 tickets_renewed+1"
                            : "opened+1 opened_unbound+1 handshakes_resumed+1 "
                              "resumed_cross_node+1");
    if (v == TLS1_3_VERSION) {
        /* The renewed ticket is the ring's own, with binding data. */
        assert_int_equal(r.r.tickets, 1);
        tc_connect(c, 0, "a.example", "h2", v, r.r.session, &again);
        assert_true(again.r.resumed);
        assert_string_equal(again.origin, "node-a");
        assert_string_equal(tu_cluster_moved(c, 0), tc_resumed(v, 0, 0));
        tc_conn_free(&again);
    }
    tc_conn_free(&r);

    /* What OpenSSL's session holds is still checked: the SNI. */
    s = SSL_SESSION_dup(p.r.session);
    tc_connect(c, 0, "b.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 0, &r, "sni");
    tc_conn_free(&r);

    /* ... and the ALPN. */
    s = SSL_SESSION_dup(p.r.session);
    tc_connect(c, 0, "a.example", "http/1.1", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 0, &r, "alpn");
    tc_conn_free(&r);

    /* Refuse policy: a full handshake counted as unbound. */
    assert_int_equal(tr_openssl_set_unbound_policy(c->node[0].ctx, TR_UNBOUND_REFUSE), 0);
    s = SSL_SESSION_dup(p.r.session);
    tc_connect(c, 0, "a.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 0, &r, "unbound");
    tc_conn_free(&r);
    tc_conn_free(&p);
}

static void unbound_without_host_name(struct fx *f, int v)
{
    struct tu_cluster *c = &f->c;
    struct tc_conn p, r;
    SSL_SESSION *s;

    /* Without a servername callback OpenSSL keeps no name in the session:
     * nothing proves the ticket was for a.example, so it is refused under
     * SNI binding (the glue documents this in backends/openssl/attach.c). */
    plain_setup(f);
    assert_int_equal(SSL_CTX_set_tlsext_servername_callback(f->plain, NULL), 1);
    tc_connect_ctx(f->plain, c->client, "a.example", "h2", v, NULL, &p);
    s = SSL_SESSION_dup(p.r.session);
    tc_connect(c, 0, "a.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 0, &r, "sni");
    tc_conn_free(&r);

    /* With SNI binding off it resumes. */
    assert_int_equal(tr_ring_set_bind_sni(c->node[0].ring, 0), 0);
    s = SSL_SESSION_dup(p.r.session);
    tc_connect(c, 0, "a.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 0),
                        v == TLS1_3_VERSION
                            ? "sealed+1 opened+1 opened_unbound+1 handshakes_resumed+1 "
                              "resumed_cross_node+1 tickets_renewed+1"
                            : "opened+1 opened_unbound+1 handshakes_resumed+1 "
                              "resumed_cross_node+1");
    tc_conn_free(&r);
    tc_conn_free(&p);
}

static void tls13_unbound_without_host_name(void **st)
{
    unbound_without_host_name(*st, TLS1_3_VERSION);
}

static void tls12_unbound_without_host_name(void **st)
{
    unbound_without_host_name(*st, TLS1_2_VERSION);
}

static void tls13_unbound(void **st)
{
    unbound(*st, TLS1_3_VERSION);
}

static void tls12_unbound(void **st)
{
    unbound(*st, TLS1_2_VERSION);
}

static void ring_ticket_on_plain_server(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tc_conn a, r;

    /* The other direction of interop: the plain server resumes a ticket the
     * ring sealed with the same key, for both versions. */
    plain_setup(f);
    for (int v = TLS1_2_VERSION; v <= TLS1_3_VERSION; v++) {
        tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
        tc_connect_ctx(f->plain, c->client, "a.example", "h2", v, a.r.session, &r);
        assert_true(r.r.resumed);
        tc_conn_free(&a);
        tc_conn_free(&r);
    }
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(tls13_tampered),        T(tls12_tampered),       T(tls13_tampered_mac),
        T(tls12_tampered_key_name), T(tls13_truncated),    T(tls12_truncated),
        T(tls13_truncated_short), T(tls12_truncated_short), T(tls13_unknown_key),
        T(tls12_unknown_key),     T(tls13_unbound),        T(tls12_unbound),
        T(tls13_unbound_without_host_name), T(tls12_unbound_without_host_name),
        T(ring_ticket_on_plain_server),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
