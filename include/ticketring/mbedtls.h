/*
 * libticketring with mbedTLS (libticketring-mbedtls, pkg-config
 * "ticketring-mbedtls"): the crypto backend, and session tickets for any
 * server mbedtls_ssl_config that every node sharing a key file can resume
 * (docs/mbedtls.md).
 *
 * Tested with mbedTLS 2.28 (Debian 12), which has TLS 1.2 tickets only;
 * compiled against the 3.x API through version guards, not tested there.
 *
 * How the pieces fit. mbedTLS calls its ticket callbacks with no connection
 * pointer, and parses ClientHello extensions in wire order: whether the SNI
 * and the ALPN protocol are known when the ticket is parsed depends on the
 * client (an OpenSSL client sends the ticket before ALPN). So:
 *  - tr_mbedtls_attach() installs libticketring's ticket callbacks and an
 *    SNI callback on the config (one attachment per config);
 *  - each connection gets a tr_mbedtls_conn (tr_mbedtls_conn_new()), which
 *    sits between mbedTLS and the application's BIO callbacks and keeps a
 *    copy of the first record the client sends: the ClientHello, whose SNI
 *    and ALPN offer the binding check uses, whatever the extension order;
 *  - the handshake runs through tr_mbedtls_handshake(), which makes the
 *    connection the calling thread's current one for the duration of
 *    mbedtls_ssl_handshake() (the ticket callbacks find it there; a
 *    thread-local, so handshakes on many threads do not mix) and counts the
 *    completed handshake (full, resumed, resumed across nodes) in the
 *    ring's statistics, the same counters and Prometheus text as the
 *    OpenSSL glue. A handshake not driven through it (mbedtls_ssl_read()
 *    completing it, a renegotiation) resumes no ticket, is issued none and
 *    is not counted.
 */
#ifndef TICKETRING_MBEDTLS_H
#define TICKETRING_MBEDTLS_H

#include <mbedtls/ssl.h>

#include <ticketring/ticketring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The mbedTLS crypto backend (AES-256-GCM, HMAC-SHA256, SHA-256, and the
 * operating system's getrandom() so a forked child never repeats its
 * parent's bytes), to pass to tr_ring_new(). Static storage; never freed.
 * Thread-safe. */
TR_EXPORT const tr_crypto *tr_crypto_mbedtls(void);

/* ---- Session tickets for an mbedtls_ssl_config ---------------------------- */

typedef struct tr_mbedtls_attachment tr_mbedtls_attachment;
typedef struct tr_mbedtls_conn tr_mbedtls_conn;

/* Make the server config `conf` (stream transport: TLS, not DTLS) issue and
 * resume session tickets with the keys of `ring` (made with any crypto
 * backend): each ticket is mbedtls_ssl_session_save()'s serialized session
 * sealed in the generic ticket format v1 (docs/ticket-format.md) with
 * tr_ticket_seal(), bound to the ClientHello's SNI, the negotiated ALPN
 * protocol and this mbedTLS build's session format (version and
 * configuration: a node on another mbedTLS build refuses it as
 * `context`), and opened with tr_ticket_open() under the ring's policy
 * (lifetime, max age, skew, SNI and ALPN binding). Every refusal is a full
 * handshake, never an aborted one, and is counted under its reason.
 * mbedTLS 2.28 never issues a new ticket on a resumption, so a ticket
 * opened with an older key is counted (opened_renew) but not renewed: a
 * session then lasts until its ticket's lifetime or the max age runs out.
 *
 * Installs mbedtls_ssl_conf_session_tickets_cb() and mbedtls_ssl_conf_sni()
 * (chain your own SNI callback with tr_mbedtls_set_sni_cb(), not
 * mbedtls_ssl_conf_sni()). `node_id` (NUL-terminated, at most 64 bytes;
 * NULL for none) names this node in the tickets it issues, so resumptions
 * of other nodes' tickets can be counted. The ring is not copied: it must
 * outlive the attachment. The caller owns *out and ends it with
 * tr_mbedtls_detach(). TR_E_INVAL for a client or DTLS config or a bad
 * argument, TR_E_BACKEND when this mbedTLS cannot serialize sessions.
 * Call before conf is used for handshakes; not thread-safe with respect to
 * conf. */
TR_EXPORT int tr_mbedtls_attach(mbedtls_ssl_config *conf, tr_ring *ring, const char *node_id,
                                tr_mbedtls_attachment **out);

/* The application's SNI callback (as for mbedtls_ssl_conf_sni(); f_sni NULL
 * removes it): the callback tr_mbedtls_attach() installed calls it with
 * p_sni and returns its result; without one every name is accepted, as
 * mbedTLS does without an SNI callback. Set it before handshakes start;
 * not thread-safe with respect to handshakes on the attachment's config. */
TR_EXPORT int tr_mbedtls_set_sni_cb(tr_mbedtls_attachment *att,
                                    int (*f_sni)(void *p_sni, mbedtls_ssl_context *ssl,
                                                 const unsigned char *name, size_t len),
                                    void *p_sni);

/* Undo tr_mbedtls_attach(): remove the ticket callbacks from the config
 * (no tickets are issued or resumed) and put the application's SNI callback
 * (tr_mbedtls_set_sni_cb()) back in place of ours, unless the application
 * replaced either in the meantime; then release the caller's reference:
 * the attachment is freed once the last connection made on it is freed
 * too. NULL is a no-op. No handshake may be running on the config; not
 * thread-safe with respect to it. */
TR_EXPORT void tr_mbedtls_detach(tr_mbedtls_attachment *att);

/* The ring of an attachment, or NULL for NULL. Thread-safe. */
TR_EXPORT tr_ring *tr_mbedtls_ring(const tr_mbedtls_attachment *att);

/* Make the connection state for `ssl` (already set up with the attached
 * config by mbedtls_ssl_setup()) and install the BIO: mbedTLS then calls
 * libticketring's callbacks, which call f_send, f_recv and f_recv_timeout
 * (as for mbedtls_ssl_set_bio(); any may be NULL, not both receive
 * callbacks) with p_bio, and keep a copy of the ClientHello record
 * (at most 16 KiB, freed when the handshake completes). The caller owns
 * *out and frees it with tr_mbedtls_conn_free(); the attachment stays
 * alive until then. One connection per ssl: for a reused ssl
 * (mbedtls_ssl_session_reset()), free the old one and make a new one.
 * TR_E_INVAL for a bad argument, TR_E_NOMEM. Thread-safe (per ssl). */
TR_EXPORT int tr_mbedtls_conn_new(tr_mbedtls_conn **out, tr_mbedtls_attachment *att,
                                  mbedtls_ssl_context *ssl, void *p_bio,
                                  mbedtls_ssl_send_t *f_send, mbedtls_ssl_recv_t *f_recv,
                                  mbedtls_ssl_recv_timeout_t *f_recv_timeout);

/* Free the connection state. NULL is a no-op. It does not touch the ssl,
 * whose BIO still points at it: do no more I/O on that ssl (free the
 * connection after mbedtls_ssl_free(), or install another BIO first). Call
 * from the connection's own thread. */
TR_EXPORT void tr_mbedtls_conn_free(tr_mbedtls_conn *conn);

/* mbedtls_ssl_handshake() on the connection's ssl, with the connection as
 * this thread's current one (see the top of this header); returns what it
 * returns (MBEDTLS_ERR_SSL_WANT_READ etc.: call again as usual;
 * MBEDTLS_ERR_SSL_BAD_INPUT_DATA for NULL). When it first returns 0, the
 * handshake is counted in the ring's statistics (handshakes_full or
 * handshakes_resumed, and resumed_cross_node for another node's ticket).
 * Call from one thread at a time per connection; handshakes of other
 * connections may run on other threads at once. */
TR_EXPORT int tr_mbedtls_handshake(tr_mbedtls_conn *conn);

/* 1 when the connection's completed handshake resumed a ticket, 0 when it
 * was a full one (or has not completed), TR_E_INVAL for NULL. Call from the
 * connection's own thread. */
TR_EXPORT int tr_mbedtls_resumed(const tr_mbedtls_conn *conn);

/* For a connection whose handshake resumed a ticket: copy the node id of
 * the node that issued it (NUL-terminated, "" when it carried none) into
 * node_id (cap >= 65 always suffices). TR_E_INVAL when the connection
 * resumed no ticket, TR_E_BUFFER_TOO_SMALL. Call from the connection's own
 * thread. */
TR_EXPORT int tr_mbedtls_ticket_origin(const tr_mbedtls_conn *conn, char *node_id, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* TICKETRING_MBEDTLS_H */
