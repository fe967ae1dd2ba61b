/* The TLS side of an example server: what each server directory
 * (openssl-server/, mbedtls-server/) implements, and everything the shared
 * code in this directory knows about TLS. The shared code does the HTTP,
 * the sockets, the threads, the key file and the counters; a backend makes
 * the TLS configuration and drives one connection's TLS state. */
#ifndef SERVER_BACKEND_H
#define SERVER_BACKEND_H

#include <stddef.h>

struct flags;
struct server;

/* Names and limits of a backend, for help, logs and metrics. */
struct backend {
    const char *program;       /* "ticketring-openssl-server": log prefix, usage */
    const char *library;       /* "OpenSSL": in help and log text */
    const char *default_keys;  /* node_info's keys label without --keys */
    /* NULL when --early-data works; otherwise why it cannot (a usage error). */
    const char *no_early_data;
};

extern const struct backend backend;

/* Build the TLS configuration from srv->flags into srv->tls and, with
 * --keys, a ring loaded from that file (ring_open()) into srv->ring and
 * srv->keys_loaded, attached to the configuration. 0, or -1 after logging
 * why, with everything freed. */
int tls_init(struct server *srv);

/* Free what tls_init() made (the configuration before the ring it uses).
 * No connection may remain. */
void tls_free(struct server *srv);

/* Prometheus text of what the backend adds beyond the ring (a replay
 * store), NUL-terminated into buf: as tr_ring_metrics() (0 with *len 0
 * when there is nothing; TR_E_BUFFER_TOO_SMALL with *len the size). */
int tls_metrics(struct server *srv, char *buf, size_t cap, size_t *len);

/* What tls_metrics() answers when there is nothing to add (pages.c). */
int metrics_none(char *buf, size_t cap, size_t *len);

/* What a TLS call did. */
enum tls_io {
    TLS_IO_OK,         /* done; for reads and writes, *n bytes moved */
    TLS_IO_WANT_READ,  /* call again once the socket is readable */
    TLS_IO_WANT_WRITE, /* ... writable */
    TLS_IO_CLOSED,     /* the client sent close_notify */
    TLS_IO_FAILED,     /* reset, protocol error, EOF without close_notify */
    TLS_IO_EARLY_END,  /* tls_conn_read_early(): no (more) early data */
};

struct tls_conn;

/* The TLS state of one accepted, non-blocking socket (which stays the
 * caller's), or NULL after logging why. With `early` the connection first
 * reads TLS 1.3 early data (only when the backend offers it). */
struct tls_conn *tls_conn_new(struct server *srv, int fd, int early);

/* Step the handshake; on TLS_IO_OK it is complete and *resumed says
 * whether it resumed a session. */
enum tls_io tls_conn_handshake(struct tls_conn *tc, int *resumed);

/* Application data in and out (after the handshake). A write that wants
 * to wait is called again with the same bytes. */
enum tls_io tls_conn_read(struct tls_conn *tc, char *buf, size_t cap, size_t *n);
enum tls_io tls_conn_write(struct tls_conn *tc, const char *buf, size_t len, size_t *n);

/* Early data before the handshake completes: read what the client sent
 * in 0-RTT (TLS_IO_EARLY_END once there is no more), and write an answer
 * before the client's Finished (0.5-RTT). Called only for connections made
 * with `early`. */
enum tls_io tls_conn_read_early(struct tls_conn *tc, char *buf, size_t cap, size_t *n);
enum tls_io tls_conn_write_early(struct tls_conn *tc, const char *buf, size_t len, size_t *n);

/* Send close_notify: TLS_IO_OK once it is out, TLS_IO_WANT_WRITE, or
 * TLS_IO_FAILED. */
enum tls_io tls_conn_shutdown(struct tls_conn *tc);

/* What GET / tells about the connection (possibly still handshaking). */
struct tls_conn_info {
    const char *protocol; /* "TLSv1.3"; static storage */
    int resumed;
    char origin[80];      /* the node that issued the resumed ticket, or "-" */
    char alpn[256];       /* the selected protocol, or "-" */
};
void tls_conn_describe(const struct tls_conn *tc, const struct server *srv,
                       struct tls_conn_info *out);

/* Free the TLS state (not the socket). NULL is a no-op. */
void tls_conn_free(struct tls_conn *tc);

/* An event-loop thread ends: free what the library keeps per thread. */
void tls_thread_end(void);

#endif
