/* In-memory mbedTLS 2.28 connections for bench_mbedtls: a throw-away server
 * identity, client and server configs, and one TLS 1.2 handshake between an
 * mbedTLS client and an mbedTLS server over two byte buffers, driven in this
 * thread, with the time spent inside the server's calls measured apart.
 * Any unexpected error ends the process (a benchmark has no other way to
 * report it). */
#ifndef TICKETRING_BENCH_MBEDTLS_PAIR_H
#define TICKETRING_BENCH_MBEDTLS_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "ticketring/mbedtls.h"

#define BM_SNI "a.example"
#define BM_ALPN "http/1.1"

/* Exit with a message naming what failed and mbedTLS's or libticketring's
 * code. */
void bm_die(const char *what, int rc);

/* The process's random generator (seeded once). */
mbedtls_ctr_drbg_context *bm_drbg(void);

/* P-256 key and self-signed certificate, made in memory. */
struct bm_identity {
    mbedtls_pk_context key;
    mbedtls_x509_crt cert;
};
void bm_identity_init(struct bm_identity *id);
void bm_identity_free(struct bm_identity *id);

/* A TLS 1.2 client config: no certificate check, tickets on, ALPN BM_ALPN. */
void bm_client_conf(mbedtls_ssl_config *conf);
/* A server config with the identity and ALPN BM_ALPN, tickets not yet set. */
void bm_server_conf(mbedtls_ssl_config *conf, struct bm_identity *id);

/* One connection's outcome. */
struct bm_conn_result {
    uint64_t server_ns; /* inside the server's calls, setup to free */
    int resumed;        /* the server sent no certificate */
    size_t s2c_bytes;   /* everything the server sent */
};

/* One handshake of a client on cconf (hostname BM_SNI, offering `offer`
 * when non-NULL) with a server on sconf, through the glue (tr_mbedtls_conn_new
 * and tr_mbedtls_handshake on att) when att is non-NULL, else plain
 * mbedtls_ssl_handshake(). The client's session (with its ticket) goes to
 * *keep when keep is non-NULL. */
void bm_connect(mbedtls_ssl_config *cconf, mbedtls_ssl_config *sconf,
                tr_mbedtls_attachment *att, const mbedtls_ssl_session *offer,
                mbedtls_ssl_session *keep, struct bm_conn_result *res);

#endif
