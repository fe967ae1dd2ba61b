/*
 * What libticketring-openssl keeps per SSL_CTX (the attachment) and per
 * connection (SSL ex_data, made by the ClientHello callback), shared by the
 * callbacks in attach.c, ticket_key_cb.c and early.c.
 */
#ifndef TICKETRING_OPENSSL_CONN_H
#define TICKETRING_OPENSSL_CONN_H

#include <stdatomic.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "appdata.h"
#include "clienthello.h"
#include "ticketring/ticketring.h"

/* Shared by the SSL_CTX and each connection that started a handshake on
 * it, so a detach or SSL_CTX_free never leaves a live connection pointing
 * at freed memory. */
struct tri_ossl_attachment {
    atomic_int refs;
    tr_ring *ring;
    atomic_int unbound_policy;
    int set_no_anti_replay; /* attach turned SSL_OP_NO_ANTI_REPLAY on: detach clears it */
    uint8_t node_len;
    char node[TRI_APPDATA_NODE_MAX + 1];
};

/* How the ticket key callback fared with the ticket of this ClientHello. */
enum tri_ossl_key_result {
    TRI_KEY_NOT_CALLED = 0, /* OpenSSL refused the ticket before (too short) */
    TRI_KEY_UNKNOWN,        /* no such key, or retired */
    TRI_KEY_OTHER_FORMAT,   /* a generic-format ticket of this cluster (an mbedTLS node's) */
    TRI_KEY_FOUND,
    TRI_KEY_FOUND_OLD, /* an older key than the encrypt key */
};

#define TRI_ALPN_INLINE 128

struct tri_ossl_conn {
    struct tri_ossl_attachment *att;
    /* From the latest ClientHello (a HelloRetryRequest brings a second). */
    uint8_t sni[TRI_SNI_MAX];
    size_t sni_len;
    uint8_t alpn_inline[TRI_ALPN_INLINE];
    uint8_t *alpn;     /* alpn_inline or allocated */
    size_t alpn_len;
    enum tri_ossl_key_result key_result;
    /* Outcome of the ticket, once decided: counted once per connection. */
    int ticket_counted;
    int accepted;          /* the policy accepted the ticket ... */
    int accepted_old_key;  /* ... opened with an older key */
    int accepted_unbound;  /* ... without binding data */
    int64_t auth_time; /* of the accepted session, for its renewals */
    char origin[TRI_APPDATA_NODE_MAX + 1];
    int no_ticket; /* the session reached its max age: issue no ticket */
    int handshake_counted;
    /* Early data. The ticket age is identity 0's of the latest ClientHello
     * (still obfuscated); `offered` is sticky, because the ClientHello after
     * a HelloRetryRequest must not offer early data again. */
    uint32_t psk_age;
    int psk_age_ok;
    int early_offered;
    uint32_t early_max;  /* the ring's maximum, as set on this connection */
    int early_decided;   /* tr_openssl_allow_early_data_cb() ran */
    int early_counted;   /* the outcome was recorded */
    void (*app_info_cb)(const SSL *, int, int); /* per-SSL callback we replaced */
};

/* The connection state of ssl, or NULL before the ClientHello callback. */
struct tri_ossl_conn *tri_ossl_conn_get(const SSL *ssl);
/* The attachment of the connection (or, failing that, of its SSL_CTX), or
 * NULL. */
struct tri_ossl_attachment *tri_ossl_attachment_for(SSL *ssl);

/* The binding data OpenSSL's own session holds, for a ticket without ours
 * (another server's): issue time from the session's (seconds), its host
 * name and ALPN when they fit; no node, no early-data tag. */
void tri_ossl_unbound_binding(SSL_SESSION *ss, struct tri_appdata *ad);

/* early.c: at the end of a handshake, count early data that the ClientHello
 * offered but OpenSSL refused before our callback could decide. */
void tri_ossl_early_handshake_done(struct tri_ossl_conn *conn, int reused);

#endif
