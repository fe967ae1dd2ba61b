/*
 * Early data (TLS 1.3 0-RTT) under the ring's policy: the allow-early-data
 * callback, and the count of early data OpenSSL refused on its own.
 *
 * OpenSSL calls the callback while it processes the ClientHello, after it
 * has verified the PSK binder (which authenticates the ClientHello's random
 * and ticket age), checked the ticket age against its own allowance (about
 * 10 s, on the real clock) and the ALPN against the ticket's, and only when
 * it would accept the early data itself: max_early_data set, the ticket
 * resumed, no HelloRetryRequest, the application reading early data. It
 * runs at most once per connection. Whatever it refuses, the handshake goes
 * on as a 1-RTT resumption: this file never aborts a connection.
 */
#include <string.h>

#include <openssl/err.h>

#include "conn.h"
#include "host.h"
#include "session_der.h"
#include "ticketring/openssl.h"

#define CLIENT_RANDOM_BYTES 32

static void count_early(struct tri_ossl_conn *conn, int32_t what)
{
    if (!conn->early_counted) {
        conn->early_counted = 1;
        tr_ring_record(conn->att->ring, what);
    }
}

/* 0 to accept, else the TR_E_* reason. */
static int decide(SSL *s, struct tri_ossl_conn *conn, tr_ring *ring)
{
    SSL_SESSION *sess = SSL_get_session(s);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    uint8_t random[CLIENT_RANDOM_BYTES];
    struct tri_appdata ad;
    uint32_t max = 0, age_add = 0;
    void *data = NULL;
    size_t len = 0;

    /* A ticket issued while the ring allowed more than it does now would
     * let the client send more than the ring's maximum. One that allows
     * none was issued while early data was off (it has no tag either), yet
     * an OpenSSL client renewing a ticket keeps the old ticket's maximum
     * when the new one announces none, so early data does come with it;
     * accepted, OpenSSL would take the ticket's 0 as the limit and abort
     * at the first early byte. */
    if (sess == NULL || tr_ring_early_data_max(ring, &max) != 0 || max == 0 ||
        SSL_SESSION_get_max_early_data(sess) == 0 || SSL_SESSION_get_max_early_data(sess) > max)
        return TR_E_EARLY_OFF;
    if (!SSL_SESSION_get0_ticket_appdata(sess, &data, &len))
        len = 0;
    if (len == 0) {
        /* No tag: tr_ring_check_early_data() refuses it (node). */
        tri_ossl_unbound_binding(sess, &ad);
    } else if (tri_appdata_decode(data, len, &ad) != 0) {
        /* The decrypt callback refuses such a ticket: not reached. */
        return TR_E_EARLY_NODE;
    }
    /* OpenSSL compares the ALPN for early data, but not the SNI: early data
     * written for one virtual host would be served by another. The
     * ClientHello's name is what the application routes on. */
    if (!tri_same_host(ad.sni, ad.sni_len, conn->sni, conn->sni_len))
        return TR_E_EARLY_SNI;
    SSL_get0_alpn_selected(s, &alpn, &alpn_len);
    if (alpn_len != ad.alpn_len || (alpn_len != 0 && memcmp(alpn, ad.alpn, alpn_len) != 0))
        return TR_E_EARLY_ALPN;
    /* Without the client's ticket age there is no freshness to check. */
    if (!conn->psk_age_ok || tri_ossl_session_age_add(sess, &age_add) != 0) {
        ERR_clear_error();
        return TR_E_EARLY_STALE;
    }
    /* The ClientHello.random: the binder authenticates it, a replayed
     * flight carries the same one, a new ClientHello a new one. */
    if (SSL_get_client_random(s, random, sizeof(random)) != sizeof(random))
        return TR_E_REPLAY; /* nothing to check the cache with: fail closed */
    /* RFC 8446 4.2.11.1: the age is the obfuscated age minus age_add,
     * modulo 2^32. */
    return tr_ring_check_early_data(ring, ad.early_tag, ad.issue_ms, conn->psk_age - age_add,
                                    random, sizeof(random));
}

int tr_openssl_allow_early_data_cb(SSL *s, void *arg)
{
    struct tri_ossl_conn *conn;
    int rc;

    (void)arg;
    /* No connection state: not attached, or our ClientHello callback did
     * not run (or could not allocate). Nothing to decide with. */
    if (s == NULL || (conn = tri_ossl_conn_get(s)) == NULL)
        return 0;
    rc = decide(s, conn, conn->att->ring);
    conn->early_decided = 1;
    count_early(conn, rc == 0 ? TR_EVENT_EARLY_ACCEPTED : rc);
    return rc == 0;
}

void tri_ossl_early_handshake_done(struct tri_ossl_conn *conn, int reused)
{
    /* A handshake that did not resume refused the ticket, and that is
     * counted already; early data could not have been accepted anyway. */
    if (!reused || !conn->early_offered || conn->early_decided)
        return;
    /* With the ring's maximum 0 OpenSSL rejects early data without asking
     * the callback; anything else it refused on its own (ticket age beyond
     * its allowance, a HelloRetryRequest, the application not calling
     * SSL_read_early_data, a cipher or ALPN that differs from the
     * ticket's). */
    count_early(conn, conn->early_max == 0 ? TR_E_EARLY_OFF : TR_E_EARLY_TLS);
}
