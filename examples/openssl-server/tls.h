/* The OpenSSL side of ticketring-openssl-server (the rest is in
 * ../common): the SSL_CTX shared by every thread, and its ticket keys. */
#ifndef SERVER_TLS_H
#define SERVER_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <ticketring/ticketring.h>

#include "backend.h"

#define ALPN_WIRE_MAX 1024

/* Made by tls_init() (backend.h): certificate and key, TLS 1.2 and 1.3,
 * ALPN selection and, with --keys, the server's ring attached (session
 * cache off: stateless tickets only); with --early-data the ring accepts
 * 0-RTT checked against one replay cache shared by every thread. */
struct tls {
    SSL_CTX *ctx;
    tr_replay *replay;             /* with --early-data: the ring's replay cache */
    struct tr_redis *store;        /* with --replay-store: behind the replay cache */
    uint8_t alpn[ALPN_WIRE_MAX];   /* protocols to select, wire format, preferred first */
    size_t alpn_len;
};

/* As log_line(), followed by ": " and the oldest OpenSSL error queued on
 * this thread (the queue is then cleared). */
__attribute__((format(printf, 1, 2))) void log_openssl(const char *fmt, ...);

#endif
