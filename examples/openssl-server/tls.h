/* The server's SSL_CTX, shared by every thread, and its ticket keys. */
#ifndef SERVER_TLS_H
#define SERVER_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <ticketring/ticketring.h>

#include "flags.h"

#define ALPN_WIRE_MAX 1024

struct tls {
    SSL_CTX *ctx;
    tr_ring *ring;                 /* NULL without --keys: OpenSSL's own tickets */
    tr_replay *replay;             /* with --early-data: the ring's replay cache */
    int keys_loaded;               /* the key file loaded at start */
    uint8_t alpn[ALPN_WIRE_MAX];   /* protocols to select, wire format, preferred first */
    size_t alpn_len;
};

/* Build the SSL_CTX from the flags: certificate and key, TLS 1.2 and 1.3,
 * ALPN selection and, with --keys, a ring loaded from that file and
 * attached (session cache off: stateless tickets only); with --early-data
 * the ring accepts 0-RTT checked against one replay cache shared by every
 * thread. 0 on success; -1 after logging why, with everything freed. */
int tls_init(struct tls *t, const struct flags *f);

/* Free the SSL_CTX, then the ring it used, then the ring's replay cache.
 * No connection may remain. */
void tls_free(struct tls *t);

/* Log the key set the ring holds now: what (e.g. "loaded"), the number of
 * keys and the fingerprint (never key bytes). */
void tls_log_keys(tr_ring *ring, const char *what, const char *path);

#endif
