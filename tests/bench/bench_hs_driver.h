/* One timed TLS connection over a memory BIO pair in this thread, for the
 * handshake benchmark. It drives the connection exactly as tu_tls_connect()
 * (tests/openssl/tls_util.c) does -- handshake, one byte each way so TLS 1.3
 * tickets arrive, clean shutdown both ways -- but also accumulates the time
 * spent inside the server's SSL calls, which tu_tls_connect() cannot see. */
#ifndef TICKETRING_BENCH_HS_DRIVER_H
#define TICKETRING_BENCH_HS_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct hd_client {
    const char *sni;       /* NULL: none */
    const uint8_t *alpn;   /* ALPN offer in wire format (tu_tls_alpn_wire) */
    unsigned int alpn_len; /* 0: none */
    int version;           /* max protocol version */
};

struct hd_result {
    /* Inside the server's SSL_new, every SSL_* call on it and SSL_free. */
    uint64_t server_ns;
    int resumed;
    int version;
    int tickets; /* NewSessionTicket messages the client received */
};

/* Connect a client of `client` offering `offer` (NULL: none; not consumed)
 * to a server of `server`. When session_out is non-NULL it gets the client's
 * newest session (caller frees). When keep_server is non-NULL the server SSL
 * is not freed but handed over (caller frees; its SSL_free is then not in
 * server_ns). 0 on success; on failure prints why and returns -1. */
int hd_connect(SSL_CTX *server, SSL_CTX *client, const struct hd_client *c, SSL_SESSION *offer,
               SSL_SESSION **session_out, SSL **keep_server, struct hd_result *res);

#endif
