/* One client connection: a non-blocking TLS state machine that reads
 * HTTP/1.1 requests and writes their responses, over the backend's TLS
 * calls (backend.h). It knows nothing of epoll: conn_drive() says which
 * readiness to wait for. */
#ifndef SERVER_CONN_H
#define SERVER_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"
#include "http.h"
#include "server.h"

enum conn_state {
    CONN_HANDSHAKE, /* TLS handshake running (reading early data first) */
    CONN_READ,      /* waiting for (the rest of) a request head */
    CONN_WRITE,     /* writing a response (during the handshake: 0.5-RTT data) */
    CONN_SHUTDOWN,  /* sending close_notify */
    CONN_LINGER,    /* write side closed; reading until the client closes */
};

struct conn {
    struct conn *prev, *next; /* the owning loop's list, by last activity */
    int64_t last_ms;          /* last activity, monotonic milliseconds */
    uint32_t events;          /* epoll events registered for fd now */
    int fd;
    struct tls_conn *tls;
    enum conn_state state;
    int close_after;          /* close once the response is written */
    int read_early;           /* tls_conn_read_early() until it reports the end */
    int in_lost;              /* early data beyond in[] was dropped: answer, then close */
    size_t in_early;          /* how many bytes at the start of in[] came as early data */
    int half_rtt;             /* out is a 0.5-RTT answer: written before the handshake completes */
    int out_status;           /* out's HTTP status */
    char *out;                /* the response being written */
    size_t out_len, out_off;
    size_t in_len;
    char in[HTTP_MAX_HEAD];   /* request bytes read but not yet answered */
};

/* A connection for the accepted, non-blocking socket fd (which it then
 * owns), or NULL (fd left open) after logging why. With early_data the
 * handshake first reads TLS 1.3 early data (accepted or not by the ring's
 * policy) into the request buffer, and answers each complete request in it
 * before the handshake completes. */
struct conn *conn_new(struct server *srv, int fd, int early_data);

/* Make all the progress possible now. Returns the epoll events to wait for
 * (EPOLLIN or EPOLLOUT), or 0 when the connection is over: conn_free() it. */
uint32_t conn_drive(struct conn *c, struct server *srv);

/* Whether the TLS handshake has not completed yet (a 0.5-RTT answer being
 * written included): a connection closed then counts as a failed handshake. */
int conn_handshaking(const struct conn *c);

/* At server shutdown: a best-effort close_notify, without waiting. */
void conn_say_goodbye(struct conn *c);

/* Free the TLS state and close the socket. NULL is a no-op. */
void conn_free(struct conn *c);

#endif
