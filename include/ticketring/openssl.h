/*
 * libticketring with OpenSSL (libticketring-openssl, pkg-config
 * "ticketring-openssl"): the crypto backend, and session tickets for any
 * SSL_CTX that every node sharing a key file can resume (docs/openssl.md).
 */
#ifndef TICKETRING_OPENSSL_H
#define TICKETRING_OPENSSL_H

#include <openssl/ssl.h>

#include <ticketring/ticketring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The OpenSSL crypto backend (EVP: AES-256-GCM, HMAC-SHA256, SHA-256,
 * RAND_bytes), to pass to tr_ring_new(). Static storage; never freed.
 * Algorithms are fetched once, from the default library context, on first
 * use: load a FIPS or other default provider before creating a ring.
 * Thread-safe. */
TR_EXPORT const tr_crypto *tr_crypto_openssl(void);

/* Make `ctx` issue and resume session tickets with the keys of `ring` (made
 * with tr_crypto_openssl()): OpenSSL's own ticket format (AES-256-CBC +
 * HMAC-SHA256 under the ring's keys: nginx and HAProxy nodes holding the
 * same keys interoperate once every node uses the same session id context,
 * docs/interop-nginx.md), with the binding data (issue time, original
 * authentication time, issuing node) in the session's application data and
 * the ring's policy (lifetime, max age, skew, SNI and ALPN binding) applied
 * on every resumption. Every refusal is a full handshake, never an aborted
 * one, and is counted in the ring's statistics under its reason.
 *
 * Installs on ctx: the ticket key callback, the session ticket callbacks, a
 * ClientHello callback (an application with its own calls
 * tr_openssl_client_hello_cb() from it instead) and the session id context
 * "ticketring" (every node must use the same one: set your own with
 * SSL_CTX_set_session_id_context() after this call if you need to).
 * `node_id` (NUL-terminated, at most 64 bytes; NULL for none) names this
 * node in the tickets it issues, so resumptions of other nodes' tickets can
 * be counted. The ring is not copied: it must outlive ctx, or be detached
 * first. Attaching again replaces the previous attachment. Call before ctx
 * is used for handshakes; not thread-safe with respect to ctx. */
TR_EXPORT int tr_openssl_attach(SSL_CTX *ctx, tr_ring *ring, const char *node_id);

/* Undo tr_openssl_attach(): remove the callbacks (OpenSSL's built-in ticket
 * keys apply again) and free the attachment; a no-op when ctx has none. No
 * handshake may be running on ctx. The attachment is also freed with ctx. */
TR_EXPORT int tr_openssl_detach(SSL_CTX *ctx);

/* What to do with a ticket that decrypts under a ring key but carries no
 * libticketring binding data (issued by a plain nginx or HAProxy node that
 * holds the same key). */
#define TR_UNBOUND_ACCEPT 0 /* resume it, checking what OpenSSL's session holds:
                               age from the session's time, ALPN, and the SNI -
                               which OpenSSL stores only when the issuing server
                               has a servername callback, so with SNI binding on
                               tickets of a server without one are refused (sni)
                               (default) */
#define TR_UNBOUND_REFUSE 1 /* full handshake, counted as TR_E_TICKET_UNBOUND */
/* Set ctx's unbound-ticket policy (ctx must be attached). Thread-safe. */
TR_EXPORT int tr_openssl_set_unbound_policy(SSL_CTX *ctx, int32_t policy);

/* The ClientHello callback tr_openssl_attach() installs, for an application
 * that installs its own (SSL_CTX_set_client_hello_cb) afterwards: call this
 * first from yours and return its result when it is not
 * SSL_CLIENT_HELLO_SUCCESS. `arg` is ignored. Thread-safe. */
TR_EXPORT int tr_openssl_client_hello_cb(SSL *ssl, int *alert, void *arg);

/* Early data (TLS 1.3 0-RTT) follows the ring's early-data policy
 * (tr_ring_set_early_data): tr_openssl_attach() sets SSL_OP_NO_ANTI_REPLAY
 * on ctx (OpenSSL's own anti-replay makes tickets single-use entries of one
 * process's cache, which no other node can resume), gives each connection
 * the ring's maximum early data (SSL_set_max_early_data, 0 when off) from
 * its ClientHello callback, with SSL_set_recv_max_early_data at 16 MiB so
 * refused early data is skipped rather than fatal,
 * and installs this allow-early-data callback: it accepts early data only
 * under the ring's policy and counts every refusal by reason. The server
 * still reads early data with SSL_read_early_data(). An application that
 * installs its own (SSL_CTX_set_allow_early_data_cb) must call this from
 * it and refuse when it returns 0. `arg` is ignored. Thread-safe. */
TR_EXPORT int tr_openssl_allow_early_data_cb(SSL *ssl, void *arg);

/* For a connection whose handshake resumed a ticket: copy the node id of
 * the node that issued that ticket (NUL-terminated, "" when it carried none)
 * into node_id (cap >= 65 always suffices). TR_E_INVAL when ssl resumed no
 * libticketring ticket. Call from the connection's own thread. */
TR_EXPORT int tr_openssl_ticket_origin(SSL *ssl, char *node_id, size_t cap);

/* The ring attached to ctx, or NULL. Thread-safe. */
TR_EXPORT tr_ring *tr_openssl_ring(SSL_CTX *ctx);

#ifdef __cplusplus
}
#endif

#endif /* TICKETRING_OPENSSL_H */
