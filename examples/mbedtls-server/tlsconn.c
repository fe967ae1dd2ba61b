/* One connection's TLS state on mbedTLS (backend.h): an mbedtls_ssl_context
 * on the socket, through libticketring's connection state with --keys. */
#define _GNU_SOURCE

#include "tls.h"

#include "log.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/net_sockets.h>

struct tls_conn {
    mbedtls_ssl_context ssl;
    tr_mbedtls_conn *trc; /* with --keys: runs the handshake, knows the ticket */
    int fd;
    int own_resumed;      /* without --keys: mbedTLS's own module opened a ticket */
};

/* Without --keys: the connection whose handshake this thread is running.
 * mbedTLS's ticket callbacks get no connection pointer. */
static _Thread_local struct tls_conn *current;

int own_ticket_parse(void *p_ticket, mbedtls_ssl_session *session, unsigned char *buf,
                     size_t len)
{
    int rc = mbedtls_ssl_ticket_parse(p_ticket, session, buf, len);
    /* mbedTLS 2.28 resumes every session a ticket parses to. */
    if (rc == 0 && current != NULL)
        current->own_resumed = 1;
    return rc;
}

/* The BIO: the non-blocking socket, in mbedTLS's terms. Writes never raise
 * SIGPIPE (MSG_NOSIGNAL). */
static int fd_send(void *ctx, const unsigned char *buf, size_t len)
{
    const struct tls_conn *tc = ctx;
    for (;;) {
        ssize_t n = send(tc->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n; /* mbedTLS sends at most one record at a time */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_WRITE;
        return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                     : MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int fd_recv(void *ctx, unsigned char *buf, size_t len)
{
    const struct tls_conn *tc = ctx;
    for (;;) {
        ssize_t n = recv(tc->fd, buf, len, 0);
        if (n >= 0)
            return (int)n; /* 0: EOF, which mbedTLS reports as such */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_READ;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

struct tls_conn *tls_conn_new(struct server *srv, int fd, int early)
{
    struct tls *t = srv->tls;
    (void)early; /* refused by the flags: no TLS 1.3 here */
    struct tls_conn *tc = calloc(1, sizeof *tc);
    if (tc == NULL) {
        log_line("out of memory for a connection");
        return NULL;
    }
    tc->fd = fd;
    mbedtls_ssl_init(&tc->ssl);
    int rc = mbedtls_ssl_setup(&tc->ssl, &t->conf);
    if (rc != 0) {
        log_mbedtls(rc, "cannot set up a TLS connection");
        goto fail;
    }
    if (t->att != NULL) {
        rc = tr_mbedtls_conn_new(&tc->trc, t->att, &tc->ssl, tc, fd_send, fd_recv, NULL);
        if (rc != 0) {
            log_line("cannot set up a TLS connection: %s", tr_strerror(rc));
            goto fail;
        }
    } else {
        mbedtls_ssl_set_bio(&tc->ssl, tc, fd_send, fd_recv, NULL);
    }
    return tc;
fail:
    mbedtls_ssl_free(&tc->ssl);
    free(tc);
    return NULL;
}

void tls_conn_free(struct tls_conn *tc)
{
    if (tc == NULL)
        return;
    /* The ssl first: its BIO points at the glue's connection state. */
    mbedtls_ssl_free(&tc->ssl);
    tr_mbedtls_conn_free(tc->trc);
    free(tc);
}

static enum tls_io ssl_result(int rc)
{
    switch (rc) {
    case MBEDTLS_ERR_SSL_WANT_READ:
        return TLS_IO_WANT_READ;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        return TLS_IO_CLOSED;
    default: /* reset, alert, EOF (0 from a read) */
        return TLS_IO_FAILED;
    }
}

enum tls_io tls_conn_handshake(struct tls_conn *tc, int *resumed)
{
    int rc;
    if (tc->trc != NULL) {
        rc = tr_mbedtls_handshake(tc->trc);
    } else {
        current = tc;
        rc = mbedtls_ssl_handshake(&tc->ssl);
        current = NULL;
    }
    if (rc != 0)
        return ssl_result(rc);
    *resumed = tc->trc != NULL ? tr_mbedtls_resumed(tc->trc) == 1 : tc->own_resumed;
    return TLS_IO_OK;
}

enum tls_io tls_conn_read(struct tls_conn *tc, char *buf, size_t cap, size_t *n)
{
    int rc = mbedtls_ssl_read(&tc->ssl, (unsigned char *)buf, cap);
    if (rc <= 0)
        return ssl_result(rc);
    *n = (size_t)rc;
    return TLS_IO_OK;
}

enum tls_io tls_conn_write(struct tls_conn *tc, const char *buf, size_t len, size_t *n)
{
    int rc = mbedtls_ssl_write(&tc->ssl, (const unsigned char *)buf, len);
    if (rc < 0)
        return ssl_result(rc);
    *n = (size_t)rc;
    return TLS_IO_OK;
}

/* No early data over TLS 1.2: the flags refuse --early-data, so these are
 * never called; they answer as a connection without any would. */
enum tls_io tls_conn_read_early(struct tls_conn *tc, char *buf, size_t cap, size_t *n)
{
    (void)tc, (void)buf, (void)cap;
    *n = 0;
    return TLS_IO_EARLY_END;
}

enum tls_io tls_conn_write_early(struct tls_conn *tc, const char *buf, size_t len, size_t *n)
{
    (void)tc, (void)buf, (void)len;
    *n = 0;
    return TLS_IO_FAILED;
}

enum tls_io tls_conn_shutdown(struct tls_conn *tc)
{
    int rc = mbedtls_ssl_close_notify(&tc->ssl);
    if (rc == 0)
        return TLS_IO_OK;
    return rc == MBEDTLS_ERR_SSL_WANT_WRITE ? TLS_IO_WANT_WRITE : TLS_IO_FAILED;
}

void tls_conn_describe(const struct tls_conn *tc, const struct server *srv,
                       struct tls_conn_info *out)
{
    const char *alpn = mbedtls_ssl_get_alpn_protocol(&tc->ssl);
    (void)srv;
    memset(out, 0, sizeof *out);
    out->protocol = mbedtls_ssl_get_version(&tc->ssl);
    out->resumed = tc->trc != NULL ? tr_mbedtls_resumed(tc->trc) == 1 : tc->own_resumed;
    if (!out->resumed || tc->trc == NULL ||
        tr_mbedtls_ticket_origin(tc->trc, out->origin, sizeof out->origin) != 0 ||
        out->origin[0] == '\0')
        snprintf(out->origin, sizeof out->origin, "-");
    snprintf(out->alpn, sizeof out->alpn, "%s", alpn != NULL ? alpn : "-");
}

void tls_thread_end(void)
{
    /* mbedTLS keeps no per-thread state. */
}
