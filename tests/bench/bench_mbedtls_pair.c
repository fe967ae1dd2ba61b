#include "bench_mbedtls_pair.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/x509_crt.h>

#include "bench_stats.h"

void bm_die(const char *what, int rc)
{
    fprintf(stderr, "bench_mbedtls: %s failed (%d, -0x%04x)\n", what, rc,
            (unsigned)(rc < 0 ? -rc : rc));
    exit(1);
}

static void check(int rc, const char *what)
{
    if (rc != 0)
        bm_die(what, rc);
}

mbedtls_ctr_drbg_context *bm_drbg(void)
{
    static mbedtls_entropy_context entropy;
    static mbedtls_ctr_drbg_context drbg;
    static int ready;

    if (!ready) {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        check(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                    (const unsigned char *)"bench", 5),
              "ctr_drbg_seed");
        ready = 1;
    }
    return &drbg;
}

/* A server flight shorter than the certificate cannot have carried it. */
static size_t cert_len;

void bm_identity_init(struct bm_identity *id)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    unsigned char buf[1024];
    int len;

    mbedtls_pk_init(&id->key);
    mbedtls_x509_crt_init(&id->cert);
    check(mbedtls_pk_setup(&id->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "pk_setup");
    check(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(id->key),
                              mbedtls_ctr_drbg_random, bm_drbg()),
          "ecp_gen_key");
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    check(mbedtls_mpi_lset(&serial, 1), "mpi_lset");
    mbedtls_x509write_crt_set_subject_key(&w, &id->key);
    mbedtls_x509write_crt_set_issuer_key(&w, &id->key);
    check(mbedtls_x509write_crt_set_subject_name(&w, "CN=" BM_SNI), "subject");
    check(mbedtls_x509write_crt_set_issuer_name(&w, "CN=" BM_SNI), "issuer");
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    check(mbedtls_x509write_crt_set_serial(&w, &serial), "serial");
    check(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20991231235959"),
          "validity");
    /* Written at the end of buf. */
    len = mbedtls_x509write_crt_der(&w, buf, sizeof(buf), mbedtls_ctr_drbg_random, bm_drbg());
    if (len <= 0)
        bm_die("x509write_crt_der", len);
    check(mbedtls_x509_crt_parse_der(&id->cert, buf + sizeof(buf) - (size_t)len, (size_t)len),
          "crt_parse_der");
    cert_len = (size_t)len;
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
}

void bm_identity_free(struct bm_identity *id)
{
    mbedtls_x509_crt_free(&id->cert);
    mbedtls_pk_free(&id->key);
}

static const char *alpn_list[] = {BM_ALPN, NULL};

void bm_client_conf(mbedtls_ssl_config *conf)
{
    mbedtls_ssl_config_init(conf);
    check(mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT),
          "client config_defaults");
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, bm_drbg());
    mbedtls_ssl_conf_session_tickets(conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    check(mbedtls_ssl_conf_alpn_protocols(conf, alpn_list), "client alpn");
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
}

void bm_server_conf(mbedtls_ssl_config *conf, struct bm_identity *id)
{
    mbedtls_ssl_config_init(conf);
    check(mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT),
          "server config_defaults");
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, bm_drbg());
    check(mbedtls_ssl_conf_own_cert(conf, &id->cert, &id->key), "own_cert");
    check(mbedtls_ssl_conf_alpn_protocols(conf, alpn_list), "server alpn");
}

/* ---- Two byte queues ------------------------------------------------------ */

struct queue {
    unsigned char buf[32768];
    size_t len, off;
};

struct pipe {
    struct queue c2s, s2c;
    size_t s2c_total;
};

static int push(struct queue *q, const unsigned char *p, size_t n)
{
    if (q->off == q->len)
        q->off = q->len = 0;
    if (n > sizeof(q->buf) - q->len)
        bm_die("queue full", (int)n);
    memcpy(q->buf + q->len, p, n);
    q->len += n;
    return (int)n;
}

static int pull(struct queue *q, unsigned char *p, size_t n)
{
    size_t have = q->len - q->off;

    if (have == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (n > have)
        n = have;
    memcpy(p, q->buf + q->off, n);
    q->off += n;
    return (int)n;
}

static int c_send(void *ctx, const unsigned char *p, size_t n)
{
    return push(&((struct pipe *)ctx)->c2s, p, n);
}

static int c_recv(void *ctx, unsigned char *p, size_t n)
{
    return pull(&((struct pipe *)ctx)->s2c, p, n);
}

static int s_send(void *ctx, const unsigned char *p, size_t n)
{
    struct pipe *pp = ctx;
    pp->s2c_total += n;
    return push(&pp->s2c, p, n);
}

static int s_recv(void *ctx, unsigned char *p, size_t n)
{
    return pull(&((struct pipe *)ctx)->c2s, p, n);
}

/* 1 done, 0 wants I/O, exits on anything else. */
static int step(int rc, const char *who)
{
    if (rc == 0)
        return 1;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return 0;
    bm_die(who, rc);
    return 0;
}

void bm_connect(mbedtls_ssl_config *cconf, mbedtls_ssl_config *sconf,
                tr_mbedtls_attachment *att, const mbedtls_ssl_session *offer,
                mbedtls_ssl_session *keep, struct bm_conn_result *res)
{
    static struct pipe pipe;
    mbedtls_ssl_context cli, srv;
    tr_mbedtls_conn *conn = NULL;
    int c_done = 0, s_done = 0, i;
    uint64_t t0, srv_ns = 0;

    memset(res, 0, sizeof(*res));
    pipe.c2s.len = pipe.c2s.off = pipe.s2c.len = pipe.s2c.off = 0;
    pipe.s2c_total = 0;

    mbedtls_ssl_init(&cli);
    check(mbedtls_ssl_setup(&cli, cconf), "client ssl_setup");
    check(mbedtls_ssl_set_hostname(&cli, BM_SNI), "set_hostname");
    if (offer != NULL)
        check(mbedtls_ssl_set_session(&cli, offer), "set_session");
    mbedtls_ssl_set_bio(&cli, &pipe, c_send, c_recv, NULL);

    t0 = bs_now_ns();
    mbedtls_ssl_init(&srv);
    check(mbedtls_ssl_setup(&srv, sconf), "server ssl_setup");
    if (att != NULL)
        check(tr_mbedtls_conn_new(&conn, att, &srv, &pipe, s_send, s_recv, NULL), "conn_new");
    else
        mbedtls_ssl_set_bio(&srv, &pipe, s_send, s_recv, NULL);
    srv_ns += bs_now_ns() - t0;

    for (i = 0; i < 50 && !(c_done && s_done); i++) {
        if (!c_done)
            c_done = step(mbedtls_ssl_handshake(&cli), "client handshake");
        if (!s_done) {
            t0 = bs_now_ns();
            s_done = step(conn != NULL ? tr_mbedtls_handshake(conn) : mbedtls_ssl_handshake(&srv),
                          "server handshake");
            srv_ns += bs_now_ns() - t0;
        }
    }
    if (!(c_done && s_done))
        bm_die("handshake did not finish", i);
    if (keep != NULL)
        check(mbedtls_ssl_get_session(&cli, keep), "get_session");
    res->s2c_bytes = pipe.s2c_total;
    res->resumed = pipe.s2c_total < cert_len;
    if (conn != NULL && tr_mbedtls_resumed(conn) != res->resumed)
        bm_die("tr_mbedtls_resumed disagrees with the server's flight", res->resumed);

    mbedtls_ssl_free(&cli);
    t0 = bs_now_ns();
    mbedtls_ssl_free(&srv);
    tr_mbedtls_conn_free(conn);
    srv_ns += bs_now_ns() - t0;
    res->server_ns = srv_ns;
}
