/* In-process TLS for the mbedTLS glue tests: a throw-away identity,
 * server "nodes" (an mbedtls_ssl_config attached to its own ring, on its
 * own fake clock, all loading one key file), and one-call connections of an
 * mbedTLS client to a node over byte queues, driven in this thread.
 * Every helper fails the running cmocka test on an unexpected error. */
#ifndef TICKETRING_MBED_UTIL_H
#define TICKETRING_MBED_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "ticketring/mbedtls.h"

#define T0 1700000000 /* seconds; every test's fake time starts near it */
#define T0_MS ((int64_t)T0 * 1000)

/* The process's random generator for mbedTLS (seeded once). */
mbedtls_ctr_drbg_context *tm_drbg(void);

/* P-256 key and self-signed certificate (CN test.example), made in memory;
 * der/der_len is the certificate as it goes on the wire. */
struct tm_identity {
    mbedtls_pk_context key;
    mbedtls_x509_crt cert;
    unsigned char der[1024];
    size_t der_len;
};
void tm_identity_init(struct tm_identity *id);
void tm_identity_free(struct tm_identity *id);

/* A key file with one random key per activation time (seconds); the first
 * byte of key i's name is first_byte[i] when first_byte is non-NULL (the
 * rest random). Returns a malloc'd path in a fresh private directory;
 * remove it with tm_keyfile_free(). */
char *tm_keyfile_new(const int64_t *activations, const uint8_t *first_byte, size_t n);
void tm_keyfile_free(char *path);

struct tm_policy {
    uint32_t lifetime; /* 0: library default */
    uint32_t skew;
};

/* A server node: ring (mbedTLS crypto) loaded from keyfile on the fake
 * clock clock_ms, config with the identity and the ALPN protocols
 * "h2", "http/1.1" (that order of preference), attached as node `id`. The
 * struct must not move while it lives. */
struct tm_node {
    char id[65];
    int64_t clock_ms;
    tr_ring *ring;
    mbedtls_ssl_config conf;
    tr_mbedtls_attachment *att;
    struct tm_identity *ident;
    uint64_t mark[64]; /* by tr_stats index */
    char moved[512];
};
void tm_node_init(struct tm_node *n, struct tm_identity *ident, const char *keyfile,
                  const char *id, int64_t now_ms, const struct tm_policy *policy);
void tm_node_free(struct tm_node *n);

/* Remember the node's counters ... */
void tm_mark(struct tm_node *n);
/* ... and what moved since, "name+N name+N" in tr_stats order ("" when
 * nothing did). */
const char *tm_moved(struct tm_node *n);
/* The node's Prometheus text holds `line` (without its newline) as a line. */
void tm_assert_metric(struct tm_node *n, const char *line);

/* A byte queue: one direction of a connection. */
struct tm_queue {
    uint8_t *buf;
    size_t len, off;
    uint8_t *log; /* everything ever pushed */
    size_t log_len;
};
void tm_queue_push(struct tm_queue *q, const uint8_t *p, size_t n);
void tm_queue_free(struct tm_queue *q);

/* Rewrites the client's first flight before the server reads it (the
 * buffer is malloc'd; realloc it and update *len as needed). */
typedef void (*tm_rewrite_fn)(uint8_t **buf, size_t *len);

struct tm_opts {
    const char *sni;        /* NULL: none */
    const char *alpn_csv;   /* NULL: no ALPN offered */
    const mbedtls_ssl_session *session; /* offered; NULL: full handshake */
    /* Drive the server with mbedtls_ssl_handshake(), not through the glue. */
    int bypass_glue;
    tm_rewrite_fn rewrite_hello;
};

struct tm_result {
    int ok;           /* both ends completed the handshake */
    int resumed;      /* tr_mbedtls_resumed() on the server */
    int sent_cert;    /* the server sent its certificate (a full handshake) */
    char origin[80];  /* tr_mbedtls_ticket_origin(), "" when it failed */
    int origin_rc;    /* ... its result */
    int origin_small_rc; /* ... into a buffer one byte too small */
    char alpn[32];    /* the server's negotiated protocol, "" none */
    mbedtls_ssl_session session; /* the client's, with its ticket */
    int have_session;
    uint8_t *hello;   /* the client's first record, malloc'd */
    size_t hello_len;
};

/* One connection: an mbedTLS client (no certificate check, tickets on)
 * to node n. Both ends driven to the end of the handshake (or until one
 * fails: then ok is 0) and closed. Free res with tm_result_free(). */
void tm_connect(struct tm_node *n, const struct tm_opts *opts, struct tm_result *res);
void tm_result_free(struct tm_result *res);

/* tm_mark() node n, tm_connect() and assert the handshake completed. */
void tm_connect_ok(struct tm_node *n, const struct tm_opts *opts, struct tm_result *res);

/* The extension types of a ClientHello record, in wire order, into types
 * (at most cap); how many. Walks the record independently of the library's
 * parser. */
size_t tm_hello_ext_order(const uint8_t *rec, size_t len, uint16_t *types, size_t cap);
/* Position of `type` in types[0..n), or -1. */
int tm_ext_index(const uint16_t *types, size_t n, uint16_t type);

/* ALPN "a,b" to wire format; its length. */
size_t tm_alpn_wire(const char *csv, uint8_t *out, size_t cap);

#endif
