#define _GNU_SOURCE

#include "conn.h"

#include "log.h"
#include "pages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Answer at most this many pipelined requests per conn_drive() call, so
 * one busy client cannot starve the others on its thread. */
#define REQUESTS_PER_TURN 16

enum step {
    STEP_AGAIN, /* the state changed: run the next state now */
    STEP_WAIT,  /* wait for *events */
    STEP_DONE,  /* the connection is over */
};

struct conn *conn_new(struct server *srv, int fd, int early_data)
{
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_line("out of memory for a connection");
        return NULL;
    }
    c->fd = fd;
    c->tls = tls_conn_new(srv, fd, early_data);
    if (c->tls == NULL) {
        free(c);
        return NULL;
    }
    c->state = CONN_HANDSHAKE;
    c->read_early = early_data;
    return c;
}

void conn_free(struct conn *c)
{
    if (c == NULL)
        return;
    tls_conn_free(c->tls);
    close(c->fd);
    free(c->out);
    free(c);
}

/* What a TLS call that did not complete means for the connection. */
static enum step tls_wait(struct conn *c, enum tls_io r, uint32_t *events)
{
    switch (r) {
    case TLS_IO_WANT_READ:
        *events = EPOLLIN;
        return STEP_WAIT;
    case TLS_IO_WANT_WRITE:
        *events = EPOLLOUT;
        return STEP_WAIT;
    case TLS_IO_CLOSED: /* the client sent close_notify: answer it */
        c->state = CONN_SHUTDOWN;
        return STEP_AGAIN;
    case TLS_IO_OK:
    case TLS_IO_EARLY_END:
    case TLS_IO_FAILED:
    default: /* reset, protocol error, unexpected EOF: no close_notify */
        return STEP_DONE;
    }
}

/* Turn the head at the start of c->in (parse result n) into a response. */
static enum step respond(struct conn *c, struct server *srv, long n,
                         const struct http_request *req)
{
    int rc;
    if (n < 0) {
        rc = pages_error((int)-n, &c->out, &c->out_len);
        c->out_status = (int)-n;
        c->close_after = 1;
        c->in_len = 0;
        c->in_early = 0;
    } else {
        /* A request any byte of which came as early data is early: its
         * first bytes are at the start of in[], where the early ones are. */
        int early = c->in_early > 0;
        /* Past a gap of dropped early data nothing more can be parsed:
         * close after this answer; a client that pipelined more requests
         * sends them again on a new connection (RFC 9112 section 9.3.2). */
        int keep_alive = req->keep_alive && !c->in_lost;
        rc = pages_respond(srv, c->tls, req, keep_alive, early, &c->out, &c->out_len,
                           &c->out_status);
        c->close_after = !keep_alive;
        /* Keep what the client pipelined after this head. */
        memmove(c->in, c->in + n, c->in_len - (size_t)n);
        c->in_len -= (size_t)n;
        c->in_early = c->in_early > (size_t)n ? c->in_early - (size_t)n : 0;
    }
    stat_add(&srv->stats.requests, 1);
    if (rc != 0) {
        log_line("out of memory for a response");
        c->state = CONN_SHUTDOWN;
        return STEP_AGAIN;
    }
    c->out_off = 0;
    c->state = CONN_WRITE;
    return STEP_AGAIN;
}

/* TLS 1.3 early data comes before the handshake completes, and is read
 * first (OpenSSL wants SSL_read_early_data() as the first call on the
 * connection). The libticketring glue has already decided whether it is
 * accepted; refused (or absent, or TLS 1.2), this reports the end with no
 * bytes.
 *
 * A complete request in accepted early data is answered at once, in the
 * server's first flight (0.5-RTT data): the client has it one round trip
 * after its ClientHello, not two. Pipelined requests are answered in order,
 * each response written whole before more early data is read. A request
 * still incomplete when the early data ends is answered after the
 * handshake, as early (conn.in_early). */
static enum step read_early(struct conn *c, struct server *srv, int *answered,
                            uint32_t *events)
{
    char scratch[4096];
    for (;;) {
        /* After an answer that closes the connection nothing more is
         * answered. A malformed head waits for the handshake too: its
         * answer closes, and close_notify cannot be sent before then. */
        if (!c->close_after && c->in_len > 0) {
            struct http_request req;
            long n = http_parse_request(c->in, c->in_len, &req);
            if (n > 0) {
                if (++*answered > REQUESTS_PER_TURN) {
                    *events = EPOLLOUT;
                    return STEP_WAIT;
                }
                c->half_rtt = 1;
                return respond(c, srv, n, &req);
            }
        }
        size_t room = c->close_after ? 0 : sizeof c->in - c->in_len;
        /* The handshake cannot finish before all the early data is read,
         * so bytes beyond the request buffer are read and dropped. */
        char *dst = room > 0 ? c->in + c->in_len : scratch;
        size_t n = 0;
        enum tls_io r = tls_conn_read_early(c->tls, dst, room > 0 ? room : sizeof scratch, &n);
        if (r == TLS_IO_EARLY_END) {
            c->read_early = 0;
            return STEP_AGAIN;
        }
        if (r != TLS_IO_OK)
            return tls_wait(c, r, events);
        if (room > 0) {
            c->in_len += n;
            c->in_early = c->in_len; /* everything read so far came early */
        } else if (n > 0 && !c->close_after) {
            c->in_lost = 1;
        }
    }
}

static enum step do_handshake(struct conn *c, struct server *srv, int *answered,
                              uint32_t *events)
{
    if (c->read_early)
        return read_early(c, srv, answered, events);
    int resumed = 0;
    enum tls_io r = tls_conn_handshake(c->tls, &resumed);
    if (r != TLS_IO_OK)
        return tls_wait(c, r, events);
    stat_add(resumed ? &srv->stats.handshakes_resumed : &srv->stats.handshakes_full, 1);
    /* A 0.5-RTT answer may have said Connection: close. */
    c->state = c->close_after ? CONN_SHUTDOWN : CONN_READ;
    return STEP_AGAIN;
}

static enum step do_read(struct conn *c, struct server *srv, int *answered, uint32_t *events)
{
    for (;;) {
        if (c->in_len > 0) {
            struct http_request req;
            long n = http_parse_request(c->in, c->in_len, &req);
            if (n != 0) {
                if (++*answered > REQUESTS_PER_TURN) {
                    /* Come back on the next turn: the socket is writable. */
                    *events = EPOLLOUT;
                    return STEP_WAIT;
                }
                return respond(c, srv, n, &req);
            }
        }
        size_t n = 0;
        enum tls_io r = tls_conn_read(c->tls, c->in + c->in_len, sizeof c->in - c->in_len, &n);
        if (r != TLS_IO_OK)
            return tls_wait(c, r, events);
        c->in_len += n;
    }
}

/* Write c->out. A 0.5-RTT answer goes out with tls_conn_write_early(),
 * which writes application data before the client's Finished has arrived;
 * nothing else happens on the connection until it is written whole (a
 * pending record must be retried before the TLS library writes anything
 * else, such as the session tickets OpenSSL sends once the handshake
 * completes). */
static enum step do_write(struct conn *c, struct server *srv, uint32_t *events)
{
    while (c->out_off < c->out_len) {
        size_t n = 0;
        enum tls_io r;
        if (c->half_rtt)
            r = tls_conn_write_early(c->tls, c->out + c->out_off, c->out_len - c->out_off, &n);
        else
            r = tls_conn_write(c->tls, c->out + c->out_off, c->out_len - c->out_off, &n);
        if (r != TLS_IO_OK)
            return tls_wait(c, r, events);
        c->out_off += n;
    }
    free(c->out);
    c->out = NULL;
    if (c->half_rtt) {
        c->half_rtt = 0;
        stat_add(c->out_status == 425 ? &srv->stats.half_rtt_too_early
                                      : &srv->stats.half_rtt_served, 1);
        c->state = CONN_HANDSHAKE;
        return STEP_AGAIN;
    }
    c->state = c->close_after ? CONN_SHUTDOWN : CONN_READ;
    return STEP_AGAIN;
}

static enum step do_shutdown(struct conn *c, uint32_t *events)
{
    enum tls_io r = tls_conn_shutdown(c->tls);
    if (r == TLS_IO_WANT_WRITE) {
        *events = EPOLLOUT;
        return STEP_WAIT;
    }
    if (r != TLS_IO_OK)
        return STEP_DONE;
    /* close_notify is out. Closing with unread input would make the kernel
     * send a reset that can destroy the response before the client reads
     * it, so half-close and drain until the client closes (bounded by the
     * idle timeout). */
    if (shutdown(c->fd, SHUT_WR) != 0)
        return STEP_DONE;
    c->state = CONN_LINGER;
    return STEP_AGAIN;
}

static enum step do_linger(struct conn *c, uint32_t *events)
{
    char scratch[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
        if (n > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *events = EPOLLIN;
            return STEP_WAIT;
        }
        return STEP_DONE; /* EOF or error */
    }
    *events = EPOLLIN; /* more to drain: on the next turn */
    return STEP_WAIT;
}

uint32_t conn_drive(struct conn *c, struct server *srv)
{
    int answered = 0;
    for (;;) {
        uint32_t events = 0;
        enum step s;
        switch (c->state) {
        case CONN_HANDSHAKE: s = do_handshake(c, srv, &answered, &events); break;
        case CONN_READ: s = do_read(c, srv, &answered, &events); break;
        case CONN_WRITE: s = do_write(c, srv, &events); break;
        case CONN_SHUTDOWN: s = do_shutdown(c, &events); break;
        case CONN_LINGER: s = do_linger(c, &events); break;
        default: s = STEP_DONE; break;
        }
        if (s == STEP_WAIT)
            return events;
        if (s == STEP_DONE)
            return 0;
    }
}

int conn_handshaking(const struct conn *c)
{
    return c->state == CONN_HANDSHAKE || c->half_rtt;
}

void conn_say_goodbye(struct conn *c)
{
    /* Not during a 0.5-RTT write: close_notify waits for the handshake. */
    if ((c->state == CONN_READ || c->state == CONN_WRITE) && !c->half_rtt)
        (void)tls_conn_shutdown(c->tls);
}
