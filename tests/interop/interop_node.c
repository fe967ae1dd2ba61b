/*
 * tr-interop-node: a minimal libticketring HTTPS node for the nginx interop
 * test (test_nginx.sh). Unlike the example server it can set the session id
 * context nginx uses and the unbound-ticket policy, which is what resuming
 * an nginx node's tickets needs (docs/interop-nginx.md).
 *
 *   tr-interop-node --listen 127.0.0.1:PORT --cert FILE --key FILE
 *                   --keys KEYFILE --node-id NAME
 *                   [--sid-ctx default|nginx-http|HEX] [--unbound accept|refuse]
 *                   [--servername-cb]
 *
 * Prints "listening on 127.0.0.1:PORT node NAME sid_ctx HEX" once ready.
 * One connection at a time (a test drives it sequentially): GET /metrics
 * answers tr_ring_metrics(), any other request one line
 * "node N protocol P resumed yes|no origin O sni S alpn A". SIGTERM or
 * SIGINT stop it with exit status 0 after freeing everything.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <ticketring/openssl.h>

#include "nginx_sid_ctx.h"

#define IO_TIMEOUT_S 10
#define HEAD_MAX 4096
#define SID_CTX_MAX 32 /* SSL_MAX_SID_CTX_LENGTH */

struct opts {
    const char *listen, *cert, *key, *keys, *node_id, *sid_ctx;
    int32_t unbound;
    int servername_cb;
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: tr-interop-node --listen 127.0.0.1:PORT --cert FILE --key FILE "
                    "--keys KEYFILE --node-id NAME [--sid-ctx default|nginx-http|HEX] "
                    "[--unbound accept|refuse] [--servername-cb]\n");
    return 2;
}

static int parse_opts(struct opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->sid_ctx = "default";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--servername-cb") == 0) {
            o->servername_cb = 1;
            continue;
        }
        if (v == NULL)
            return -1;
        i++;
        if (strcmp(a, "--listen") == 0)
            o->listen = v;
        else if (strcmp(a, "--cert") == 0)
            o->cert = v;
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--keys") == 0)
            o->keys = v;
        else if (strcmp(a, "--node-id") == 0)
            o->node_id = v;
        else if (strcmp(a, "--sid-ctx") == 0)
            o->sid_ctx = v;
        else if (strcmp(a, "--unbound") == 0 && strcmp(v, "accept") == 0)
            o->unbound = TR_UNBOUND_ACCEPT;
        else if (strcmp(a, "--unbound") == 0 && strcmp(v, "refuse") == 0)
            o->unbound = TR_UNBOUND_REFUSE;
        else
            return -1;
    }
    return o->listen && o->cert && o->key && o->keys && o->node_id ? 0 : -1;
}

static int unhex(const char *s, unsigned char *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    if (n == 0 || n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int b;
        if (sscanf(s + 2 * i, "%2x", &b) != 1)
            return -1;
        out[i] = (unsigned char)b;
    }
    *len = n / 2;
    return 0;
}

/* The session id context every node of the cluster must share:
 * libticketring's default, nginx's for this certificate, or given. */
static int set_sid_ctx(SSL_CTX *ctx, const char *how, char hex[2 * SID_CTX_MAX + 1])
{
    unsigned char v[SID_CTX_MAX];
    size_t len = 0;

    if (strcmp(how, "default") == 0) {
        /* Left as tr_openssl_attach() set it (OpenSSL has no getter). */
        memcpy(v, "ticketring", 10);
        len = 10;
    } else if (strcmp(how, "nginx-http") == 0) {
        X509 *cert = SSL_CTX_get0_certificate(ctx);
        if (cert == NULL ||
            nginx_sid_ctx("HTTP", &cert, 1, SSL_CTX_get_client_CA_list(ctx), v) != 0)
            return -1;
        len = NGINX_SID_CTX_BYTES;
        if (SSL_CTX_set_session_id_context(ctx, v, (unsigned int)len) != 1)
            return -1;
    } else if (unhex(how, v, sizeof v, &len) != 0 ||
               SSL_CTX_set_session_id_context(ctx, v, (unsigned int)len) != 1) {
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", v[i]);
    hex[2 * len] = '\0';
    return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char http11[] = "\x08http/1.1";
    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, http11, sizeof http11 - 1, in,
                              inlen) == OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    return SSL_TLSEXT_ERR_NOACK;
}

/* Accepting the SNI is what makes OpenSSL store it in the session (and so
 * in the ticket), as nginx's own servername callback does. */
static int servername_ok(SSL *ssl, int *alert, void *arg)
{
    (void)ssl;
    (void)alert;
    (void)arg;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *make_ctx(const struct opts *o, tr_ring *ring, char *sid_hex)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int rc;

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    if (o->servername_cb)
        SSL_CTX_set_tlsext_servername_callback(ctx, servername_ok);
    rc = tr_openssl_attach(ctx, ring, o->node_id);
    if (rc == 0)
        rc = tr_openssl_set_unbound_policy(ctx, o->unbound);
    if (rc != 0) {
        fprintf(stderr, "tr-interop-node: attach: %s\n", tr_strerror(rc));
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* After attaching: tr_openssl_attach() sets its own context. */
    if (set_sid_ctx(ctx, o->sid_ctx, sid_hex) != 0) {
        fprintf(stderr, "tr-interop-node: --sid-ctx %s: cannot set it\n", o->sid_ctx);
        ERR_print_errors_fp(stderr);
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int listen_on(const char *spec, char *bound, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof sa;
    char host[64];
    const char *colon = strrchr(spec, ':');
    int one = 1, fd;

    if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
        return -1;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    sa.sin_port = htons((uint16_t)atoi(colon + 1));
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &salen) != 0) {
        close(fd);
        return -1;
    }
    snprintf(bound, cap, "%s:%u", host, (unsigned)ntohs(sa.sin_port));
    return fd;
}

/* The request head, NUL-terminated; -1 when the client went away. */
static int read_head(SSL *ssl, char *buf, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        int r = SSL_read(ssl, buf + n, (int)(cap - 1 - n));
        if (r <= 0)
            return -1;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            return 0;
    }
    return -1;
}

static char *describe(SSL *ssl, const char *node)
{
    char origin[80] = "-";
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    char *out = NULL;

    if (tr_openssl_ticket_origin(ssl, origin, sizeof origin) != 0 || origin[0] == '\0')
        strcpy(origin, "-");
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (asprintf(&out, "node %s protocol %s resumed %s origin %s sni %s alpn %.*s\n", node,
                 SSL_get_version(ssl), SSL_session_reused(ssl) ? "yes" : "no", origin,
                 sni != NULL ? sni : "-", alpn_len != 0 ? (int)alpn_len : 1,
                 alpn_len != 0 ? (const char *)alpn : "-") < 0)
        return NULL;
    return out;
}

static char *metrics(tr_ring *ring)
{
    size_t len = 0;
    char *buf;
    if (tr_ring_metrics(ring, NULL, 0, &len) != TR_E_BUFFER_TOO_SMALL)
        return NULL;
    buf = malloc(len + 1);
    if (buf != NULL && tr_ring_metrics(ring, buf, len + 1, &len) != 0) {
        free(buf);
        buf = NULL;
    }
    return buf;
}

static void serve(SSL_CTX *ctx, tr_ring *ring, int fd, const char *node)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    char head[HEAD_MAX], *body = NULL, *resp = NULL;
    SSL *ssl = SSL_new(ctx);
    int len, is_metrics;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_accept(ssl) != 1 ||
        read_head(ssl, head, sizeof head) != 0) {
        ERR_print_errors_fp(stderr);
        goto out;
    }
    is_metrics = strncmp(head, "GET /metrics ", 13) == 0;
    body = is_metrics ? metrics(ring) : describe(ssl, node);
    if (body == NULL)
        goto out;
    if (!is_metrics)
        fprintf(stderr, "tr-interop-node: %s", body); /* the test shows it on failure */
    len = asprintf(&resp,
                   "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   strlen(body), body);
    if (len > 0 && SSL_write(ssl, resp, len) == len)
        SSL_shutdown(ssl);
out:
    free(resp);
    free(body);
    SSL_free(ssl);
    close(fd);
    ERR_clear_error();
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: accept() returns */
    char sid_hex[2 * SID_CTX_MAX + 1], bound[96];
    struct opts o;
    tr_ring *ring = NULL;
    SSL_CTX *ctx = NULL;
    uint32_t line = 0;
    int lfd = -1, rc, status = 1;

    if (parse_opts(&o, argc, argv) != 0)
        return usage();
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = tr_ring_new(&ring, tr_crypto_openssl());
    if (rc == 0)
        rc = tr_ring_load(ring, o.keys, &line);
    if (rc != 0) {
        fprintf(stderr, "tr-interop-node: --keys %s (line %u): %s\n", o.keys, line,
                tr_strerror(rc));
        goto out;
    }
    ctx = make_ctx(&o, ring, sid_hex);
    if (ctx == NULL)
        goto out;
    lfd = listen_on(o.listen, bound, sizeof bound);
    if (lfd < 0) {
        perror("tr-interop-node: --listen");
        goto out;
    }
    printf("listening on %s node %s sid_ctx %s\n", bound, o.node_id, sid_hex);
    fflush(stdout);
    while (!stopping) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            serve(ctx, ring, fd, o.node_id);
        else if (errno != EINTR && errno != ECONNABORTED)
            break;
    }
    status = stopping ? 0 : 1;
out:
    if (lfd >= 0)
        close(lfd);
    SSL_CTX_free(ctx); /* before the ring it is attached to */
    tr_ring_free(ring);
    return status;
}
