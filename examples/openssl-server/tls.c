#define _GNU_SOURCE

#include "tls.h"

#include "log.h"
#include "ring.h"
#include "server.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <ticketring/openssl.h>
#ifdef SERVER_HAVE_REDIS
#include <ticketring/redis.h>
#endif

const struct backend backend = {
    .program = "ticketring-openssl-server",
    .library = "OpenSSL",
    .default_keys = "openssl-default",
    .no_early_data = NULL,
};

void log_openssl(const char *fmt, ...)
{
    char err[256] = "no OpenSSL error queued";
    unsigned long e = ERR_get_error();
    if (e != 0)
        ERR_error_string_n(e, err, sizeof err);
    ERR_clear_error();
    va_list ap;
    va_start(ap, fmt);
    log_linev(fmt, ap, err);
    va_end(ap);
}

/* "h2,http/1.1" -> "\x02h2\x08http/1.1" */
static int alpn_wire(const char *list, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t plen = end != NULL ? (size_t)(end - p) : strlen(p);
        if (plen == 0 || plen > 255 || n + 1 + plen > cap)
            return -1;
        out[n++] = (uint8_t)plen;
        memcpy(out + n, p, plen);
        n += plen;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *len = n;
    return 0;
}

/* Our preference wins. No overlap is not fatal: the handshake goes on
 * without ALPN (NOACK) rather than failing with no_application_protocol. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    const struct tls *t = arg;
    (void)ssl;
    for (size_t i = 0; i < t->alpn_len; i += 1u + t->alpn[i]) {
        const uint8_t *want = &t->alpn[i];
        for (unsigned int j = 0; j < inlen; j += 1u + in[j]) {
            if (j + 1u + in[j] > inlen)
                return SSL_TLSEXT_ERR_NOACK;
            if (in[j] == want[0] && memcmp(in + j + 1, want + 1, want[0]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* With --replay-store every node asks one Redis whether the fleet saw a
 * ClientHello, so early data is accepted whichever node issued the ticket
 * (node binding off). Its keyspace is named after the key file's cluster,
 * so it is set up once the key file has loaded, before the first
 * connection shares the cache. */
static int store_init(struct tls *t, tr_ring *ring, const struct flags *f)
{
#ifdef SERVER_HAVE_REDIS
    char cluster[128];
    if (tr_ring_cluster(ring, cluster, sizeof cluster) != 0 || cluster[0] == '\0') {
        snprintf(cluster, sizeof cluster, "ticketring");
        log_line("--replay-store: no cluster id from --keys (yet): keyspace \"%s\"", cluster);
    }
    int rc = tr_redis_new(&t->store, f->replay_store, f->replay_store_password,
                          f->replay_store_key, cluster);
    if (rc == 0)
        rc = tr_redis_set_budget(t->store, f->replay_store_budget_ms);
    if (rc == 0)
        rc = tr_redis_attach(t->store, t->replay, f->replay_skew_ms, TR_REPLAY_ANY_NODE);
    if (rc != 0) {
        /* Neither the URL's password (refused there) nor a file's content
         * is ever part of this line. */
        log_line("--replay-store: %s", tr_strerror(rc));
        return -1;
    }
    log_line("replay store on: 0-RTT on any node of cluster %s; check budget %" PRIu32
             " ms, clock skew %" PRIu32 " ms",
             cluster, f->replay_store_budget_ms, f->replay_skew_ms);
    return 0;
#else
    (void)t;
    (void)ring;
    (void)f;
    log_line("--replay-store: this server was built without libticketring-redis "
             "(meson -Dredis=enabled)");
    return -1;
#endif
}

/* One cache for the whole process: every thread's handshakes must see
 * every ClientHello this process accepted, and the ring's early-data tag
 * (sealed into the tickets) names this cache, so only this process accepts
 * their early data. Set before tr_openssl_attach(): the first tickets
 * already carry the tag. */
static int early_init(tr_ring *ring, void *arg)
{
    struct server *srv = arg;
    struct tls *t = srv->tls;
    const struct flags *f = &srv->flags;
    int rc = tr_replay_new(&t->replay, f->replay_capacity, f->replay_window_ms);
    if (rc != 0) {
        log_line("cannot turn early data on: %s", tr_strerror(rc));
        return -1;
    }
    rc = tr_ring_set_early_data(ring, f->early_data, t->replay);
    if (rc != 0) {
        log_line("cannot turn early data on: %s", tr_strerror(rc));
        return -1;
    }
    tr_replay_stats st;
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    if (tr_replay_get_stats(t->replay, &st) != 0)
        st.bytes = 0;
    if (f->replay_store != NULL)
        log_line("early data on: up to %" PRIu32 " bytes per connection; replay cache of %"
                 PRIu32 " ClientHellos (%" PRIu64 " bytes), window %" PRIu32
                 " ms, in front of the replay store",
                 f->early_data, f->replay_capacity, st.bytes, f->replay_window_ms);
    else
        log_line("early data on: up to %" PRIu32 " bytes per connection; replay cache of %"
                 PRIu32 " ClientHellos (%" PRIu64 " bytes), window %" PRIu32
                 " ms; 0-RTT refused for the first %" PRIu32 " ms",
                 f->early_data, f->replay_capacity, st.bytes, f->replay_window_ms,
                 f->replay_window_ms);
    return 0;
}

static int ring_init(struct server *srv)
{
    const struct flags *f = &srv->flags;
    if (ring_open(&srv->ring, tr_crypto_openssl(), f, f->early_data != 0 ? early_init : NULL,
                  srv, &srv->keys_loaded) != 0)
        return -1;
    /* The store before the cache is shared (tr_replay_set_store). */
    if (f->replay_store != NULL && store_init(srv->tls, srv->ring, f) != 0)
        return -1;
    int rc = tr_openssl_attach(srv->tls->ctx, srv->ring, f->node_id);
    if (rc != 0) {
        log_line("cannot attach the key ring: %s", tr_strerror(rc));
        return -1;
    }
    /* Stateless tickets only: a per-process session cache would hide
     * whether resumption really came from the shared keys. */
    SSL_CTX_set_session_cache_mode(srv->tls->ctx, SSL_SESS_CACHE_OFF);
    return 0;
}

int tls_init(struct server *srv)
{
    const struct flags *f = &srv->flags;
    struct tls *t = calloc(1, sizeof *t);
    if (t == NULL) {
        log_line("out of memory for the TLS configuration");
        return -1;
    }
    srv->tls = t;
    if (alpn_wire(f->alpn, t->alpn, sizeof t->alpn, &t->alpn_len) != 0) {
        log_line("--alpn %s: expected comma-separated names of 1..255 bytes", f->alpn);
        goto fail;
    }
    t->ctx = SSL_CTX_new(TLS_server_method());
    if (t->ctx == NULL) {
        log_openssl("SSL_CTX_new");
        goto fail;
    }
    if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(t->ctx, TLS1_3_VERSION) != 1) {
        log_openssl("cannot enable TLS 1.2 and 1.3");
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(t->ctx, f->cert) != 1) {
        log_openssl("--cert %s", f->cert);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, f->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(t->ctx) != 1) {
        log_openssl("--key %s", f->key);
        goto fail;
    }
    /* Non-blocking writes may be partial and retried from a moved buffer;
     * client-initiated TLS 1.2 renegotiation is refused (a CPU-cost lever). */
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                             SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, t);
    if (f->keys != NULL || f->keys_source != NULL) {
        if (ring_init(srv) != 0)
            goto fail;
    } else if (f->lifetime != 0) {
        SSL_CTX_set_timeout(t->ctx, (long)f->lifetime);
    }
    return 0;
fail:
    tls_free(srv);
    return -1;
}

void tls_free(struct server *srv)
{
    struct tls *t = srv->tls;
    /* The ring must outlive the SSL_CTX it is attached to. */
    if (t != NULL)
        SSL_CTX_free(t->ctx);
    tr_ring_free(srv->ring);
    srv->ring = NULL;
    /* Last: the ring's handshakes checked their early data against it,
     * and it against the store. */
    if (t != NULL) {
        tr_replay_free(t->replay);
#ifdef SERVER_HAVE_REDIS
        tr_redis_free(t->store);
#endif
    }
    free(t);
    srv->tls = NULL;
}

int tls_metrics(struct server *srv, char *buf, size_t cap, size_t *len)
{
#ifdef SERVER_HAVE_REDIS
    if (srv->tls != NULL && srv->tls->store != NULL)
        return tr_redis_metrics(srv->tls->store, buf, cap, len);
#endif
    (void)srv;
    return metrics_none(buf, cap, len);
}
