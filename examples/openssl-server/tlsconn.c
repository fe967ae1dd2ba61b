/* One connection's TLS state on OpenSSL (backend.h): an SSL on the socket. */
#define _GNU_SOURCE

#include "tls.h"

#include "log.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <ticketring/openssl.h>

struct tls_conn {
    SSL *ssl;
};

static SSL *ssl_of(const struct tls_conn *tc)
{
    return tc->ssl;
}

struct tls_conn *tls_conn_new(struct server *srv, int fd, int early)
{
    (void)early; /* the caller reads first through tls_conn_read_early() */
    struct tls_conn *tc = calloc(1, sizeof *tc);
    if (tc == NULL) {
        log_line("out of memory for a connection");
        return NULL;
    }
    tc->ssl = SSL_new(srv->tls->ctx);
    if (tc->ssl == NULL || SSL_set_fd(tc->ssl, fd) != 1) {
        log_openssl("cannot set up a TLS connection");
        SSL_free(tc->ssl);
        free(tc);
        return NULL;
    }
    SSL_set_accept_state(tc->ssl);
    return tc;
}

void tls_conn_free(struct tls_conn *tc)
{
    if (tc == NULL)
        return;
    SSL_free(tc->ssl);
    free(tc);
}

/* What a failed SSL_* call with result r means. The thread's error queue is
 * cleared before every call, so SSL_get_error() sees only this
 * connection's errors. */
static enum tls_io ssl_result(SSL *ssl, int r)
{
    switch (SSL_get_error(ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return TLS_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TLS_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TLS_IO_CLOSED;
    default:
        ERR_clear_error();
        return TLS_IO_FAILED;
    }
}

enum tls_io tls_conn_handshake(struct tls_conn *tc, int *resumed)
{
    SSL *ssl = ssl_of(tc);
    ERR_clear_error();
    int r = SSL_do_handshake(ssl);
    if (r != 1)
        return ssl_result(ssl, r);
    *resumed = SSL_session_reused(ssl) == 1;
    return TLS_IO_OK;
}

enum tls_io tls_conn_read(struct tls_conn *tc, char *buf, size_t cap, size_t *n)
{
    SSL *ssl = ssl_of(tc);
    ERR_clear_error();
    int r = SSL_read_ex(ssl, buf, cap, n);
    return r == 1 ? TLS_IO_OK : ssl_result(ssl, r);
}

enum tls_io tls_conn_write(struct tls_conn *tc, const char *buf, size_t len, size_t *n)
{
    SSL *ssl = ssl_of(tc);
    ERR_clear_error();
    int r = SSL_write_ex(ssl, buf, len, n);
    return r == 1 ? TLS_IO_OK : ssl_result(ssl, r);
}

enum tls_io tls_conn_read_early(struct tls_conn *tc, char *buf, size_t cap, size_t *n)
{
    SSL *ssl = ssl_of(tc);
    ERR_clear_error();
    switch (SSL_read_early_data(ssl, buf, cap, n)) {
    case SSL_READ_EARLY_DATA_SUCCESS:
        return TLS_IO_OK;
    case SSL_READ_EARLY_DATA_FINISH:
        return TLS_IO_EARLY_END;
    default:
        return ssl_result(ssl, 0);
    }
}

enum tls_io tls_conn_write_early(struct tls_conn *tc, const char *buf, size_t len, size_t *n)
{
    SSL *ssl = ssl_of(tc);
    ERR_clear_error();
    int r = SSL_write_early_data(ssl, buf, len, n);
    return r == 1 ? TLS_IO_OK : ssl_result(ssl, r);
}

enum tls_io tls_conn_shutdown(struct tls_conn *tc)
{
    SSL *ssl = ssl_of(tc);
    ERR_clear_error();
    int r = SSL_shutdown(ssl);
    if (r >= 0)
        return TLS_IO_OK; /* close_notify is out (the client's may follow) */
    enum tls_io res = ssl_result(ssl, r);
    ERR_clear_error();
    return res == TLS_IO_WANT_WRITE ? TLS_IO_WANT_WRITE : TLS_IO_FAILED;
}

void tls_conn_describe(const struct tls_conn *tc, const struct server *srv,
                       struct tls_conn_info *out)
{
    SSL *ssl = ssl_of(tc);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    memset(out, 0, sizeof *out);
    out->protocol = SSL_get_version(ssl);
    out->resumed = SSL_session_reused(ssl) == 1;
    if (!out->resumed || srv->ring == NULL ||
        tr_openssl_ticket_origin(ssl, out->origin, sizeof out->origin) != 0 ||
        out->origin[0] == '\0')
        snprintf(out->origin, sizeof out->origin, "-");
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len > 0)
        snprintf(out->alpn, sizeof out->alpn, "%.*s", (int)alpn_len, (const char *)alpn);
    else
        snprintf(out->alpn, sizeof out->alpn, "-");
}

void tls_thread_end(void)
{
    OPENSSL_thread_stop();
}
