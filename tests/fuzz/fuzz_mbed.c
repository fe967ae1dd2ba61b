#include "fuzz_mbed.h"

#include <stdlib.h>
#include <string.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "fuzz.h"

/* ---- Deterministic randomness ----------------------------------------------- */

static uint64_t rng_state;

void fz_mbed_random_reset(void)
{
    rng_state = 0x6d626564746c7321u;
}

/* splitmix64: the same bytes on every run, which is all a harness needs. */
static int rng(void *p, unsigned char *out, size_t n)
{
    (void)p;
    while (n > 0) {
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
        size_t take = n < 8 ? n : 8;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        memcpy(out, &z, take);
        out += take;
        n -= take;
    }
    return 0;
}

/* ---- The server ---------------------------------------------------------------- */

static const char *alpn_list[] = {"h2", "http/1.1", NULL};
static struct fz_mbed_world world;
static mbedtls_pk_context key;
static mbedtls_x509_crt cert;
static int ready;

static int app_sni(void *p, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    struct fz_mbed_world *w = p;

    (void)ssl;
    w->sni_calls++;
    w->sni_len = len < sizeof(w->sni) ? len : sizeof(w->sni);
    memcpy(w->sni, name, w->sni_len);
    return 0;
}

static void identity(void)
{
    mbedtls_x509write_cert wr;
    mbedtls_mpi serial;
    unsigned char buf[1024];
    int len;

    mbedtls_pk_init(&key);
    mbedtls_x509_crt_init(&cert);
    FZ_CHECK(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
    FZ_CHECK(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), rng, NULL) == 0);
    mbedtls_x509write_crt_init(&wr);
    mbedtls_mpi_init(&serial);
    FZ_CHECK(mbedtls_mpi_lset(&serial, 1) == 0);
    mbedtls_x509write_crt_set_subject_key(&wr, &key);
    mbedtls_x509write_crt_set_issuer_key(&wr, &key);
    FZ_CHECK(mbedtls_x509write_crt_set_subject_name(&wr, "CN=" FZ_SNI) == 0);
    FZ_CHECK(mbedtls_x509write_crt_set_issuer_name(&wr, "CN=" FZ_SNI) == 0);
    mbedtls_x509write_crt_set_version(&wr, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&wr, MBEDTLS_MD_SHA256);
    FZ_CHECK(mbedtls_x509write_crt_set_serial(&wr, &serial) == 0);
    FZ_CHECK(mbedtls_x509write_crt_set_validity(&wr, "20200101000000", "20991231235959") == 0);
    len = mbedtls_x509write_crt_der(&wr, buf, sizeof(buf), rng, NULL);
    FZ_CHECK(len > 0);
    FZ_CHECK(mbedtls_x509_crt_parse_der(&cert, buf + sizeof(buf) - len, (size_t)len) == 0);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&wr);
}

struct fz_mbed_world *fz_mbed_world(void)
{
    if (ready)
        return &world;
    fz_mbed_random_reset();
    identity();
    world.ring = fz_ring_with(tr_crypto_mbedtls());
    mbedtls_ssl_config_init(&world.conf);
    FZ_CHECK(mbedtls_ssl_config_defaults(&world.conf, MBEDTLS_SSL_IS_SERVER,
                                         MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT) == 0);
    mbedtls_ssl_conf_rng(&world.conf, rng, NULL);
    FZ_CHECK(mbedtls_ssl_conf_own_cert(&world.conf, &cert, &key) == 0);
    FZ_CHECK(mbedtls_ssl_conf_alpn_protocols(&world.conf, alpn_list) == 0);
    FZ_CHECK(tr_mbedtls_attach(&world.conf, world.ring, "fuzz-node", &world.att) == 0);
    FZ_CHECK(tr_mbedtls_set_sni_cb(world.att, app_sni, &world) == 0);
    ready = 1;
    return &world;
}

void fz_mbed_world_free(void)
{
    if (!ready)
        return;
    tr_mbedtls_detach(world.att);
    mbedtls_ssl_config_free(&world.conf);
    tr_ring_free(world.ring);
    mbedtls_x509_crt_free(&cert);
    mbedtls_pk_free(&key);
    memset(&world, 0, sizeof(world));
    ready = 0;
}

/* ---- A client ------------------------------------------------------------------------ */

struct queue {
    uint8_t buf[16384 + 2048];
    size_t len, off;
};

struct pipe {
    struct queue c2s, s2c;
};

static int push(struct queue *q, const unsigned char *p, size_t n)
{
    FZ_CHECK(n <= sizeof(q->buf) - q->len);
    memcpy(q->buf + q->len, p, n);
    q->len += n;
    return (int)n;
}

static int pull(struct queue *q, unsigned char *p, size_t n)
{
    if (q->off == q->len)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (n > q->len - q->off)
        n = q->len - q->off;
    memcpy(p, q->buf + q->off, n);
    q->off += n;
    return (int)n;
}

static int c_send(void *p, const unsigned char *b, size_t n)
{
    return push(&((struct pipe *)p)->c2s, b, n);
}

static int c_recv(void *p, unsigned char *b, size_t n)
{
    return pull(&((struct pipe *)p)->s2c, b, n);
}

static int s_send(void *p, const unsigned char *b, size_t n)
{
    return push(&((struct pipe *)p)->s2c, b, n);
}

static int s_recv(void *p, unsigned char *b, size_t n)
{
    return pull(&((struct pipe *)p)->c2s, b, n);
}

static int pending(int rc)
{
    return rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE;
}

/* A client config; alpn_store keeps the protocol names it points to. */
static void client_conf(mbedtls_ssl_config *c, const char *alpn_csv, char *alpn_store,
                        size_t store_cap, const char **protos, size_t nprotos)
{
    mbedtls_ssl_config_init(c);
    FZ_CHECK(mbedtls_ssl_config_defaults(c, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT) == 0);
    mbedtls_ssl_conf_authmode(c, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_rng(c, rng, NULL);
    mbedtls_ssl_conf_session_tickets(c, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    if (alpn_csv != NULL) {
        size_t n = 0;
        char *p;
        FZ_CHECK(strlen(alpn_csv) < store_cap);
        strcpy(alpn_store, alpn_csv);
        for (p = strtok(alpn_store, ","); p != NULL && n + 1 < nprotos; p = strtok(NULL, ","))
            protos[n++] = p;
        protos[n] = NULL;
        FZ_CHECK(mbedtls_ssl_conf_alpn_protocols(c, protos) == 0);
    }
}

/* A full handshake of a client on cconf with the world's server; the
 * client's session, with its ticket, into *session. */
static void full_handshake(mbedtls_ssl_config *cconf, const char *sni,
                           mbedtls_ssl_session *session)
{
    static struct pipe pipe;
    mbedtls_ssl_context cli, srv;
    tr_mbedtls_conn *conn = NULL;
    int c_done = 0, s_done = 0, rc;

    memset(&pipe, 0, sizeof(pipe));
    mbedtls_ssl_init(&cli);
    mbedtls_ssl_init(&srv);
    FZ_CHECK(mbedtls_ssl_setup(&cli, cconf) == 0);
    if (sni != NULL)
        FZ_CHECK(mbedtls_ssl_set_hostname(&cli, sni) == 0);
    mbedtls_ssl_set_bio(&cli, &pipe, c_send, c_recv, NULL);
    FZ_CHECK(mbedtls_ssl_setup(&srv, &world.conf) == 0);
    FZ_CHECK(tr_mbedtls_conn_new(&conn, world.att, &srv, &pipe, s_send, s_recv, NULL) == 0);
    for (int i = 0; i < 50 && !(c_done && s_done); i++) {
        if (!c_done) {
            rc = mbedtls_ssl_handshake(&cli);
            FZ_CHECK(rc == 0 || pending(rc));
            c_done = rc == 0;
        }
        if (!s_done) {
            rc = tr_mbedtls_handshake(conn);
            FZ_CHECK(rc == 0 || pending(rc));
            s_done = rc == 0;
        }
    }
    FZ_CHECK(c_done && s_done);
    FZ_CHECK(mbedtls_ssl_get_session(&cli, session) == 0);
    FZ_CHECK(session->ticket != NULL && session->ticket_len > 0);
    mbedtls_ssl_free(&cli);
    mbedtls_ssl_free(&srv);
    tr_mbedtls_conn_free(conn);
}

size_t fz_mbed_client_hello(const char *sni, const char *alpn_csv, int resume, uint8_t *out,
                            size_t cap)
{
    static struct pipe pipe;
    mbedtls_ssl_config cconf;
    mbedtls_ssl_context cli;
    mbedtls_ssl_session session;
    char store[128];
    const char *protos[8];
    int rc;

    fz_mbed_world();
    client_conf(&cconf, alpn_csv, store, sizeof(store), protos, 8);
    mbedtls_ssl_session_init(&session);
    if (resume)
        full_handshake(&cconf, sni, &session);
    memset(&pipe, 0, sizeof(pipe));
    mbedtls_ssl_init(&cli);
    FZ_CHECK(mbedtls_ssl_setup(&cli, &cconf) == 0);
    if (sni != NULL)
        FZ_CHECK(mbedtls_ssl_set_hostname(&cli, sni) == 0);
    if (resume)
        FZ_CHECK(mbedtls_ssl_set_session(&cli, &session) == 0);
    mbedtls_ssl_set_bio(&cli, &pipe, c_send, c_recv, NULL);
    rc = mbedtls_ssl_handshake(&cli);
    FZ_CHECK(rc == MBEDTLS_ERR_SSL_WANT_READ);
    FZ_CHECK(pipe.c2s.len > 0 && pipe.c2s.len <= cap);
    memcpy(out, pipe.c2s.buf, pipe.c2s.len);
    mbedtls_ssl_free(&cli);
    mbedtls_ssl_session_free(&session);
    mbedtls_ssl_config_free(&cconf);
    return pipe.c2s.len;
}
