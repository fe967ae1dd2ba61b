/* One client connection: a non-blocking TLS state machine that reads
 * HTTP/1.1 requests and writes their responses. It knows nothing of epoll:
 * conn_drive() says which readiness to wait for. */
#ifndef SERVER_CONN_H
#define SERVER_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "http.h"
#include "server.h"

enum conn_state {
    CONN_HANDSHAKE, /* TLS handshake running */
    CONN_READ,      /* waiting for (the rest of) a request head */
    CONN_WRITE,     /* writing a response */
    CONN_SHUTDOWN,  /* sending close_notify */
    CONN_LINGER,    /* write side closed; reading until the client closes */
};

struct conn {
    struct conn *prev, *next; /* the owning loop's list, by last activity */
    int64_t last_ms;          /* last activity, monotonic milliseconds */
    uint32_t events;          /* epoll events registered for fd now */
    int fd;
    SSL *ssl;
    enum conn_state state;
    int close_after;          /* close once the response is written */
    char *out;                /* the response being written */
    size_t out_len, out_off;
    size_t in_len;
    char in[HTTP_MAX_HEAD];   /* request bytes read but not yet answered */
};

/* A connection for the accepted, non-blocking socket fd (which it then
 * owns), or NULL (fd left open) after logging why. */
struct conn *conn_new(SSL_CTX *ctx, int fd);

/* Make all the progress possible now. Returns the epoll events to wait for
 * (EPOLLIN or EPOLLOUT), or 0 when the connection is over: conn_free() it. */
uint32_t conn_drive(struct conn *c, struct server *srv);

/* At server shutdown: a best-effort close_notify, without waiting. */
void conn_say_goodbye(struct conn *c);

/* Free the TLS state and close the socket. NULL is a no-op. */
void conn_free(struct conn *c);

#endif
