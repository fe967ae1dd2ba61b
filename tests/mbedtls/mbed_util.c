#include "mbed_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/bignum.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>

/* ---- Randomness, identity, key files --------------------------------------- */

mbedtls_ctr_drbg_context *tm_drbg(void)
{
    static mbedtls_entropy_context entropy;
    static mbedtls_ctr_drbg_context drbg;
    static int ready;

    if (!ready) {
        mbedtls_entropy_init(&entropy);
        mbedtls_ctr_drbg_init(&drbg);
        assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                               (const unsigned char *)"tm", 2),
                         0);
        ready = 1;
    }
    return &drbg;
}

void tm_identity_init(struct tm_identity *id)
{
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    unsigned char buf[sizeof(id->der)];
    int len;

    memset(id, 0, sizeof(*id));
    mbedtls_pk_init(&id->key);
    mbedtls_x509_crt_init(&id->cert);
    assert_int_equal(mbedtls_pk_setup(&id->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(id->key),
                                         mbedtls_ctr_drbg_random, tm_drbg()),
                     0);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    assert_int_equal(mbedtls_mpi_lset(&serial, 1), 0);
    mbedtls_x509write_crt_set_subject_key(&w, &id->key);
    mbedtls_x509write_crt_set_issuer_key(&w, &id->key);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, "CN=test.example"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, "CN=test.example"), 0);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20991231235959"),
                     0);
    /* Written at the end of buf. */
    len = mbedtls_x509write_crt_der(&w, buf, sizeof(buf), mbedtls_ctr_drbg_random, tm_drbg());
    assert_true(len > 0);
    memcpy(id->der, buf + sizeof(buf) - (size_t)len, (size_t)len);
    id->der_len = (size_t)len;
    assert_int_equal(mbedtls_x509_crt_parse_der(&id->cert, id->der, id->der_len), 0);
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
}

void tm_identity_free(struct tm_identity *id)
{
    mbedtls_x509_crt_free(&id->cert);
    mbedtls_pk_free(&id->key);
}

char *tm_keyfile_new(const int64_t *activations, const uint8_t *first_byte, size_t n)
{
    char dir[] = "/tmp/tr-mbed-XXXXXX";
    size_t cap = sizeof(dir) + sizeof("/keys");
    char *path;
    tr_ring *ring = NULL;

    assert_non_null(mkdtemp(dir));
    path = malloc(cap);
    assert_non_null(path);
    snprintf(path, cap, "%s/keys", dir);
    assert_int_equal(tr_ring_new(&ring, tr_crypto_mbedtls()), 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t key[TR_KEY_BYTES];
        assert_int_equal(mbedtls_ctr_drbg_random(tm_drbg(), key, sizeof(key)), 0);
        if (first_byte != NULL)
            key[0] = first_byte[i];
        assert_int_equal(tr_ring_add_key(ring, key, activations[i]), 0);
    }
    assert_int_equal(tr_ring_save(ring, path), 0);
    tr_ring_free(ring);
    return path;
}

void tm_keyfile_free(char *path)
{
    char *slash;

    if (path == NULL)
        return;
    unlink(path);
    slash = strrchr(path, '/');
    if (slash != NULL) {
        *slash = '\0';
        rmdir(path);
    }
    free(path);
}

/* ---- Nodes ------------------------------------------------------------------ */

static const char *server_alpn[] = {"h2", "http/1.1", NULL};

static int64_t node_clock(void *arg)
{
    return *(const int64_t *)arg;
}

void tm_node_init(struct tm_node *n, struct tm_identity *ident, const char *keyfile,
                  const char *id, int64_t now_ms, const struct tm_policy *policy)
{
    uint32_t line = 0;

    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id != NULL ? id : "");
    n->clock_ms = now_ms;
    n->ident = ident;
    assert_int_equal(tr_ring_new(&n->ring, tr_crypto_mbedtls()), 0);
    assert_int_equal(tr_ring_set_clock(n->ring, node_clock, &n->clock_ms), 0);
    if (policy != NULL && policy->lifetime != 0)
        assert_int_equal(tr_ring_set_lifetime(n->ring, policy->lifetime), 0);
    if (policy != NULL && policy->skew != 0)
        assert_int_equal(tr_ring_set_skew(n->ring, policy->skew), 0);
    assert_int_equal(tr_ring_load(n->ring, keyfile, &line), 0);

    mbedtls_ssl_config_init(&n->conf);
    assert_int_equal(mbedtls_ssl_config_defaults(&n->conf, MBEDTLS_SSL_IS_SERVER,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    mbedtls_ssl_conf_rng(&n->conf, mbedtls_ctr_drbg_random, tm_drbg());
    assert_int_equal(mbedtls_ssl_conf_own_cert(&n->conf, &ident->cert, &ident->key), 0);
    assert_int_equal(mbedtls_ssl_conf_alpn_protocols(&n->conf, server_alpn), 0);
    assert_int_equal(tr_mbedtls_attach(&n->conf, n->ring, id, &n->att), 0);
    tm_mark(n);
}

void tm_node_free(struct tm_node *n)
{
    tr_mbedtls_detach(n->att);
    n->att = NULL;
    mbedtls_ssl_config_free(&n->conf);
    tr_ring_free(n->ring);
    n->ring = NULL;
}

void tm_mark(struct tm_node *n)
{
    assert_true(tr_stats_count() <= sizeof(n->mark) / sizeof(n->mark[0]));
    for (size_t i = 0; i < tr_stats_count(); i++)
        assert_int_equal(tr_ring_stat(n->ring, i, &n->mark[i]), 0);
}

const char *tm_moved(struct tm_node *n)
{
    size_t len = 0;

    n->moved[0] = '\0';
    for (size_t i = 0; i < tr_stats_count(); i++) {
        uint64_t v = 0;
        int w;
        assert_int_equal(tr_ring_stat(n->ring, i, &v), 0);
        if (v == n->mark[i])
            continue;
        w = snprintf(n->moved + len, sizeof(n->moved) - len, "%s%s%c%llu", len ? " " : "",
                     tr_stats_name(i), v > n->mark[i] ? '+' : '-',
                     (unsigned long long)(v > n->mark[i] ? v - n->mark[i] : n->mark[i] - v));
        assert_true(w > 0 && (size_t)w < sizeof(n->moved) - len);
        len += (size_t)w;
    }
    return n->moved;
}

void tm_assert_metric(struct tm_node *n, const char *line)
{
    static char text[32768];
    char want[256];
    size_t len = 0;

    assert_int_equal(tr_ring_metrics(n->ring, text, sizeof(text), &len), 0);
    snprintf(want, sizeof(want), "\n%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("metrics lack \"%s\":\n%s", line, text);
}

/* ---- Byte queues ------------------------------------------------------------- */

static void append(uint8_t **buf, size_t *len, const uint8_t *p, size_t n)
{
    uint8_t *b = realloc(*buf, *len + n + 1);
    assert_non_null(b);
    memcpy(b + *len, p, n);
    *buf = b;
    *len += n;
}

void tm_queue_push(struct tm_queue *q, const uint8_t *p, size_t n)
{
    append(&q->buf, &q->len, p, n);
    append(&q->log, &q->log_len, p, n);
}

static int queue_pop(struct tm_queue *q, unsigned char *out, size_t n)
{
    size_t have = q->len - q->off;
    if (have == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (n > have)
        n = have;
    memcpy(out, q->buf + q->off, n);
    q->off += n;
    return (int)n;
}

void tm_queue_free(struct tm_queue *q)
{
    free(q->buf);
    free(q->log);
    memset(q, 0, sizeof(*q));
}

struct pipe {
    struct tm_queue c2s, s2c;
    tm_rewrite_fn rewrite;
};

static int client_send(void *ctx, const unsigned char *buf, size_t len)
{
    tm_queue_push(&((struct pipe *)ctx)->c2s, buf, len);
    return (int)len;
}

static int client_recv(void *ctx, unsigned char *buf, size_t len)
{
    return queue_pop(&((struct pipe *)ctx)->s2c, buf, len);
}

static int server_send(void *ctx, const unsigned char *buf, size_t len)
{
    tm_queue_push(&((struct pipe *)ctx)->s2c, buf, len);
    return (int)len;
}

static int server_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct pipe *p = ctx;

    /* The client's first flight is its ClientHello alone. */
    if (p->rewrite != NULL && p->c2s.off == 0 && p->c2s.len > 0) {
        p->rewrite(&p->c2s.buf, &p->c2s.len);
        p->rewrite = NULL;
    }
    return queue_pop(&p->c2s, buf, len);
}

/* ---- Connections ---------------------------------------------------------------- */

/* Into list[8] (the config keeps pointing at it, and at store). */
static void alpn_list(const char *csv, char *store, size_t cap, const char **list)
{
    size_t n = 0;
    char *tok, *save = NULL;

    snprintf(store, cap, "%s", csv);
    for (tok = strtok_r(store, ",", &save); tok != NULL && n < 7;
         tok = strtok_r(NULL, ",", &save))
        list[n++] = tok;
    list[n] = NULL;
}

static int memmem_found(const uint8_t *h, size_t hl, const uint8_t *n, size_t nl)
{
    for (size_t i = 0; nl <= hl && i <= hl - nl; i++)
        if (memcmp(h + i, n, nl) == 0)
            return 1;
    return 0;
}

static int done_or_retry(int rc, int *done)
{
    if (rc == 0) {
        *done = 1;
        return 1;
    }
    return rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE;
}

void tm_connect(struct tm_node *n, const struct tm_opts *opts, struct tm_result *res)
{
    static const struct tm_opts none;
    mbedtls_ssl_config ccfg;
    mbedtls_ssl_context cli, srv;
    tr_mbedtls_conn *conn = NULL;
    struct pipe pipe;
    char alpn_store[128], small[80];
    const char *protos[8];
    int c_done = 0, s_done = 0;
    const char *alpn;

    if (opts == NULL)
        opts = &none;
    memset(res, 0, sizeof(*res));
    memset(&pipe, 0, sizeof(pipe));
    pipe.rewrite = opts->rewrite_hello;
    mbedtls_ssl_session_init(&res->session);

    mbedtls_ssl_config_init(&ccfg);
    assert_int_equal(mbedtls_ssl_config_defaults(&ccfg, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    mbedtls_ssl_conf_authmode(&ccfg, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_rng(&ccfg, mbedtls_ctr_drbg_random, tm_drbg());
    mbedtls_ssl_conf_session_tickets(&ccfg, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    if (opts->alpn_csv != NULL) {
        alpn_list(opts->alpn_csv, alpn_store, sizeof(alpn_store), protos);
        assert_int_equal(mbedtls_ssl_conf_alpn_protocols(&ccfg, protos), 0);
    }

    mbedtls_ssl_init(&cli);
    mbedtls_ssl_init(&srv);
    assert_int_equal(mbedtls_ssl_setup(&cli, &ccfg), 0);
    if (opts->sni != NULL)
        assert_int_equal(mbedtls_ssl_set_hostname(&cli, opts->sni), 0);
    if (opts->session != NULL)
        assert_int_equal(mbedtls_ssl_set_session(&cli, opts->session), 0);
    mbedtls_ssl_set_bio(&cli, &pipe, client_send, client_recv, NULL);
    assert_int_equal(mbedtls_ssl_setup(&srv, &n->conf), 0);
    if (opts->bypass_glue)
        mbedtls_ssl_set_bio(&srv, &pipe, server_send, server_recv, NULL);
    else
        assert_int_equal(
            tr_mbedtls_conn_new(&conn, n->att, &srv, &pipe, server_send, server_recv, NULL), 0);

    for (int i = 0; i < 100 && !(c_done && s_done); i++) {
        if (!c_done && !done_or_retry(mbedtls_ssl_handshake(&cli), &c_done))
            break;
        if (!s_done && !done_or_retry(opts->bypass_glue ? mbedtls_ssl_handshake(&srv)
                                                        : tr_mbedtls_handshake(conn),
                                      &s_done))
            break;
    }
    res->ok = c_done && s_done;
    if (res->ok) {
        res->have_session = mbedtls_ssl_get_session(&cli, &res->session) == 0;
        res->resumed = conn != NULL ? tr_mbedtls_resumed(conn) : 0;
        res->origin_rc = conn != NULL
                             ? tr_mbedtls_ticket_origin(conn, res->origin, sizeof(res->origin))
                             : TR_E_INVAL;
        if (res->origin_rc != 0)
            res->origin[0] = '\0';
        else
            res->origin_small_rc = tr_mbedtls_ticket_origin(conn, small, strlen(res->origin));
        alpn = mbedtls_ssl_get_alpn_protocol(&srv);
        snprintf(res->alpn, sizeof(res->alpn), "%s", alpn != NULL ? alpn : "");
        mbedtls_ssl_close_notify(&cli);
        mbedtls_ssl_close_notify(&srv);
    }
    res->sent_cert = memmem_found(pipe.s2c.log, pipe.s2c.log_len, n->ident->der,
                                  n->ident->der_len);
    if (pipe.c2s.log_len >= 5) {
        size_t rec = 5 + ((size_t)pipe.c2s.log[3] << 8 | pipe.c2s.log[4]);
        res->hello_len = rec <= pipe.c2s.log_len ? rec : pipe.c2s.log_len;
        res->hello = malloc(res->hello_len);
        assert_non_null(res->hello);
        memcpy(res->hello, pipe.c2s.log, res->hello_len);
    }
    mbedtls_ssl_free(&srv);
    tr_mbedtls_conn_free(conn);
    mbedtls_ssl_free(&cli);
    mbedtls_ssl_config_free(&ccfg);
    tm_queue_free(&pipe.c2s);
    tm_queue_free(&pipe.s2c);
}

void tm_result_free(struct tm_result *res)
{
    mbedtls_ssl_session_free(&res->session);
    free(res->hello);
    res->hello = NULL;
}

void tm_connect_ok(struct tm_node *n, const struct tm_opts *opts, struct tm_result *res)
{
    tm_mark(n);
    tm_connect(n, opts, res);
    assert_true(res->ok);
    assert_true(res->have_session);
}

/* ---- ClientHello inspection ------------------------------------------------------ */

static size_t g16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

size_t tm_hello_ext_order(const uint8_t *rec, size_t len, uint16_t *types, size_t cap)
{
    size_t i = 5 + 4 + 2 + 32, end, n = 0;

    assert_true(len > i);
    i += 1 + rec[i];
    assert_true(len > i + 2);
    i += 2 + g16(rec + i);
    assert_true(len > i + 1);
    i += 1 + rec[i];
    assert_true(len >= i + 2);
    end = i + 2 + g16(rec + i);
    assert_true(end <= len);
    for (i += 2; i + 4 <= end && n < cap; i += 4 + g16(rec + i + 2))
        types[n++] = (uint16_t)g16(rec + i);
    return n;
}

int tm_ext_index(const uint16_t *types, size_t n, uint16_t type)
{
    for (size_t i = 0; i < n; i++)
        if (types[i] == type)
            return (int)i;
    return -1;
}

size_t tm_alpn_wire(const char *csv, uint8_t *out, size_t cap)
{
    size_t len = 0;
    const char *p = csv;

    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        assert_true(n > 0 && n < 256 && len + 1 + n <= cap);
        out[len++] = (uint8_t)n;
        memcpy(out + len, p, n);
        len += n;
        p += n + (comma != NULL);
    }
    return len;
}
