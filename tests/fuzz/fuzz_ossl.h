/*
 * The OpenSSL side of the fuzz harness, shared by fuzz_openssl_ticket.c
 * and the corpus generator: a server attached to the fixed ring (fuzz.h),
 * a client, the sessions a real handshake gives each TLS version, and
 * OpenSSL's ticket format under the fixed keys (key name(16) | IV(16) |
 * AES-256-CBC of the session's DER | HMAC-SHA256 over all of that, under
 * the key's HMAC secret and AES key), so a harness can seal any session, or
 * any bytes, as the server would.
 */
#ifndef TICKETRING_FUZZ_OSSL_H
#define TICKETRING_FUZZ_OSSL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "fuzz.h"
#include "tls_util.h"

#define FZ_OSSL_TLS13 0
#define FZ_OSSL_TLS12 1

struct fz_ossl_world {
    struct tu_tls_identity ident;
    tr_ring *ring;
    SSL_CTX *server; /* attached to ring as node "node-a", ALPN h2,http/1.1 */
    SSL_CTX *client;
    /* Per FZ_OSSL_TLS1x: the client's session from a full handshake with
     * SNI FZ_SNI and ALPN FZ_ALPN (its ticket sealed by the ring's encrypt
     * key), and the server's session that ticket holds. */
    SSL_SESSION *client_session[2];
    SSL_SESSION *server_session[2];
};

/* Everything above; 0, or -1 after printing why. */
int fz_ossl_world_init(struct fz_ossl_world *w);
void fz_ossl_world_free(struct fz_ossl_world *w);

/* The protocol version of FZ_OSSL_TLS1x. */
int fz_ossl_version(int v);

/* Seal pt[0..len) in OpenSSL's ticket format under fixed key `id` into out
 * (cap >= len + 96); returns the ticket's length, 0 on failure. */
size_t fz_ossl_seal(int id, const uint8_t *pt, size_t len, uint8_t *out, size_t cap);
/* The fixed key a ticket authenticates under (its HMAC verifies), or -1. */
int fz_ossl_key_of(const uint8_t *ticket, size_t len);
/* Decrypt a ticket that authenticates under a fixed key: its plaintext
 * into pt (cap >= len), its length returned; 0 when it does not. */
size_t fz_ossl_open(const uint8_t *ticket, size_t len, uint8_t *pt, size_t cap);

/* The server's session `s` (a copy of w->server_session[v] that the
 * caller may change first) sealed as a ticket by key `id`, and the
 * client's session for version v carrying it: NULL on failure. */
SSL_SESSION *fz_ossl_client_with(struct fz_ossl_world *w, int v, SSL_SESSION *s, int id);

struct fz_ossl_result {
    int completed; /* both ends finished the handshake and exchanged a byte */
    int resumed;   /* the server resumed a session */
};

/* One connection from w->client to w->server, quietly: the client offers
 * `session` (NULL: none) with SNI `sni` and ALPN `alpn_csv` (NULL: none)
 * and at most `version`. */
void fz_ossl_connect(struct fz_ossl_world *w, SSL_SESSION *session, int version,
                     const char *sni, const char *alpn_csv, struct fz_ossl_result *res);

#endif
