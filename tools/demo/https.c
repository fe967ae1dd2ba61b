/*
 * One HTTPS/1.1 request over a fresh TCP connection, timed from connect()
 * to the first response byte, ending with close_notify so the session
 * stays resumable (OpenSSL drops a session whose connection ended without
 * one).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "client.h"

#define IO_TIMEOUT_S 10
#define MAX_RESPONSE (1u << 20)

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void ssl_err(char *err, size_t cap, const char *what, SSL *ssl, int rc)
{
    unsigned long e = ERR_get_error();
    char buf[160] = "";
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(err, cap, "%s: SSL error %d%s%s", what, ssl != NULL ? SSL_get_error(ssl, rc) : rc,
             e != 0 ? ", " : "", buf);
    ERR_clear_error();
}

/* Connect with blocking I/O and a timeout, so a dead node fails the
 * connection instead of hanging the chain. */
static int tcp_connect(const struct sockaddr_in *addr, char *err, size_t cap)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    /* The request follows the client's Finished: do not let Nagle hold it. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) != 0) {
        snprintf(err, cap, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Whether buf holds a whole response: headers, then Content-Length bytes. */
static int response_complete(const char *buf, size_t len, size_t *body_off, long *clen)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    const char *h;

    if (end == NULL)
        return 0;
    *body_off = (size_t)(end - buf) + 4;
    *clen = -1;
    for (h = buf; h < end; h = strstr(h, "\r\n") + 2) {
        if (strncasecmp(h, "Content-Length:", 15) == 0) {
            *clen = strtol(h + 15, NULL, 10);
            break;
        }
    }
    return *clen >= 0 && len >= *body_off + (size_t)*clen;
}

int https_get(SSL_CTX *ctx, const struct sockaddr_in *addr, const char *sni, const char *path,
              SSL_SESSION *offer, struct reply *out, char *err, size_t err_cap)
{
    char req[256];
    char *buf = NULL;
    size_t len = 0, cap = 0, body_off = 0;
    long clen = -1;
    int64_t t0 = mono_us();
    SSL *ssl = NULL;
    int fd, rc, ret = -1, n;

    memset(out, 0, sizeof(*out));
    fd = tcp_connect(addr, err, err_cap);
    if (fd < 0)
        return -1;
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 || SSL_set_tlsext_host_name(ssl, sni) != 1 ||
        SSL_set1_host(ssl, sni) != 1 || (offer != NULL && SSL_set_session(ssl, offer) != 1)) {
        ssl_err(err, err_cap, "SSL setup", NULL, 0);
        goto out;
    }
    rc = SSL_connect(ssl);
    if (rc != 1) {
        ssl_err(err, err_cap, "handshake", ssl, rc);
        goto out;
    }
    n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n",
                 path, sni);
    rc = SSL_write(ssl, req, n);
    if (rc != n) {
        ssl_err(err, err_cap, "write", ssl, rc);
        goto out;
    }
    for (;;) {
        if (cap - len < 4096) {
            char *nb;
            if (cap >= MAX_RESPONSE) {
                snprintf(err, err_cap, "response larger than %u bytes", MAX_RESPONSE);
                goto out;
            }
            cap = cap == 0 ? 8192 : cap * 2;
            nb = realloc(buf, cap + 1);
            if (nb == NULL) {
                snprintf(err, err_cap, "out of memory");
                goto out;
            }
            buf = nb;
        }
        rc = SSL_read(ssl, buf + len, (int)(cap - len));
        if (rc <= 0) {
            int e = SSL_get_error(ssl, rc);
            if (e == SSL_ERROR_ZERO_RETURN)
                break;
            ssl_err(err, err_cap, "read", ssl, rc);
            goto out;
        }
        if (len == 0)
            out->ttfb_us = mono_us() - t0;
        len += (size_t)rc;
        buf[len] = '\0';
        if (response_complete(buf, len, &body_off, &clen))
            break;
    }
    if (len == 0 || !response_complete(buf, len, &body_off, &clen)) {
        /* Connection: close without a Content-Length: the body is the rest. */
        const char *end = buf != NULL ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
        if (end == NULL) {
            snprintf(err, err_cap, "incomplete HTTP response (%zu bytes)", len);
            goto out;
        }
        body_off = (size_t)(end - buf) + 4;
        clen = (long)(len - body_off);
    }
    buf[body_off + (size_t)clen] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &out->status) != 1) {
        snprintf(err, err_cap, "not an HTTP response");
        goto out;
    }
    out->body = strdup(buf + body_off);
    out->body_len = (size_t)clen;
    out->version = SSL_version(ssl) == TLS1_3_VERSION ? 13 : 12;
    out->reused = SSL_session_reused(ssl);
    /* A TLS 1.3 ticket arrives after the handshake; by now the response has
     * been read behind it, and OpenSSL's client uses each TLS 1.3 ticket
     * once, so the session to offer next is always the newest one. */
    out->session = SSL_get1_session(ssl);
    SSL_shutdown(ssl);
    ret = out->body != NULL ? 0 : -1;
out:
    SSL_free(ssl);
    close(fd);
    free(buf);
    if (ret != 0)
        reply_free(out);
    return ret;
}

void reply_free(struct reply *r)
{
    free(r->body);
    r->body = NULL;
    SSL_SESSION_free(r->session);
    r->session = NULL;
}

void body_field(const char *body, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = body;

    out[0] = '\0';
    while (p != NULL && *p != '\0') {
        if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
            const char *v = p + klen + 1;
            size_t n = 0;
            while (*v == ' ')
                v++;
            while (v[n] != '\0' && v[n] != '\r' && v[n] != '\n')
                n++;
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
}
