/*
 * tr_openssl_attach(): the ring behind an SSL_CTX's session tickets.
 *
 * OpenSSL's order of events on a server (docs/openssl.md has the trace):
 * ClientHello callback, ticket key callback (decrypt), decrypt_session_ticket
 * callback, then servername and ALPN callbacks, and at the end, per new
 * ticket, generate_session_ticket callback then the key callback (encrypt).
 * So the live SNI and ALPN offer are captured from the ClientHello, the
 * policy is applied in the decrypt callback, and the binding data is
 * written in the generate callback. A HelloRetryRequest runs the first
 * three twice: everything they do is overwrite-safe and counted once.
 *
 * Early data (early.c) is decided by the allow-early-data callback, which
 * OpenSSL runs last while it processes the ClientHello, and only when it
 * would accept the early data itself; what it needs from the ClientHello
 * (the ticket age) is captured here too, and what OpenSSL refuses before it
 * is counted when the handshake completes.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/tls1.h>

#include "conn.h"
#include "ticket_key_cb.h"
#include "ticketring/openssl.h"

static const unsigned char session_id_context[] = "ticketring";

static pthread_once_t index_once = PTHREAD_ONCE_INIT;
static int ctx_index = -1;
static int ssl_index = -1;

static void attachment_release(struct tri_ossl_attachment *att)
{
    if (att != NULL && atomic_fetch_sub(&att->refs, 1) == 1)
        OPENSSL_free(att);
}

static void conn_free(struct tri_ossl_conn *conn)
{
    if (conn == NULL)
        return;
    if (conn->alpn != conn->alpn_inline)
        OPENSSL_free(conn->alpn);
    attachment_release(conn->att);
    OPENSSL_free(conn);
}

static void ctx_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                        void *argp)
{
    attachment_release(ptr);
}

static void ssl_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                        void *argp)
{
    conn_free(ptr);
}

/* SSL_dup() copies ex_data pointers; the copy starts without state
 * instead of sharing (and later double-freeing) ours. */
static int ssl_ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx,
                      long argl, void *argp)
{
    *from_d = NULL;
    return 1;
}

static void make_indexes(void)
{
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, ctx_ex_free);
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, ssl_ex_dup, ssl_ex_free);
}

static int indexes_ready(void)
{
    return pthread_once(&index_once, make_indexes) == 0 && ctx_index >= 0 && ssl_index >= 0;
}

static struct tri_ossl_attachment *attachment_of(const SSL_CTX *ctx)
{
    return indexes_ready() ? SSL_CTX_get_ex_data(ctx, ctx_index) : NULL;
}

struct tri_ossl_conn *tri_ossl_conn_get(const SSL *ssl)
{
    return indexes_ready() ? SSL_get_ex_data(ssl, ssl_index) : NULL;
}

struct tri_ossl_attachment *tri_ossl_attachment_for(SSL *ssl)
{
    struct tri_ossl_conn *conn = tri_ossl_conn_get(ssl);
    return conn != NULL ? conn->att : attachment_of(SSL_get_SSL_CTX(ssl));
}

/* ---- Counting ------------------------------------------------------------ */

static void count_ticket(struct tri_ossl_conn *conn, int32_t what)
{
    if (!conn->ticket_counted) {
        conn->ticket_counted = 1;
        tr_ring_record(conn->att->ring, what);
    }
}

static void info_cb(const SSL *s, int where, int ret)
{
    struct tri_ossl_conn *conn = tri_ossl_conn_get(s);
    void (*next)(const SSL *, int, int);

    if (conn == NULL)
        return;
    /* A server reading early data (SSL_read_early_data) is told "done"
     * early too: once it has sent its Finished, or a HelloRetryRequest,
     * and is about to read early data. Only the client's Finished completes
     * the handshake; a replayed first flight never sends one. */
    if ((where & SSL_CB_HANDSHAKE_DONE) && !conn->handshake_counted &&
        SSL_get_state(s) != TLS_ST_EARLY_DATA) {
        tr_ring *ring = conn->att->ring;
        int reused = SSL_session_reused((SSL *)s);
        conn->handshake_counted = 1;
        tr_ring_record(ring, reused ? TR_EVENT_RESUMED_HANDSHAKE : TR_EVENT_FULL_HANDSHAKE);
        /* A ticket is counted as accepted only once OpenSSL resumed it:
         * after our decision it still compares the session id context,
         * and a node configured with another one silently does a full
         * handshake. That misconfiguration must show in the counters. */
        if (conn->accepted && !reused) {
            count_ticket(conn, TR_E_TICKET_CONTEXT);
        } else if (conn->accepted) {
            count_ticket(conn, TR_EVENT_TICKET_ACCEPTED);
            if (conn->accepted_old_key)
                tr_ring_record(ring, TR_EVENT_TICKET_ACCEPTED_OLD_KEY);
            if (conn->accepted_unbound)
                tr_ring_record(ring, TR_EVENT_TICKET_UNBOUND);
            if (strcmp(conn->origin, conn->att->node) != 0)
                tr_ring_record(ring, TR_EVENT_RESUMED_CROSS_NODE);
        }
        tri_ossl_early_handshake_done(conn, reused);
    }
    /* The callback we stood in for: the connection's own, else the
     * context's, as OpenSSL itself would have chosen. */
    next = conn->app_info_cb != NULL ? conn->app_info_cb
                                     : SSL_CTX_get_info_callback(SSL_get_SSL_CTX(s));
    if (next != NULL)
        next(s, where, ret);
}

/* ---- ClientHello ------------------------------------------------------------ */

static void capture_alpn(SSL *s, struct tri_ossl_conn *conn)
{
    const unsigned char *ext, *list;
    size_t len, list_len;

    if (conn->alpn != conn->alpn_inline)
        OPENSSL_free(conn->alpn);
    conn->alpn = conn->alpn_inline;
    conn->alpn_len = 0;
    if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation,
                                   &ext, &len) ||
        tri_ch_parse_alpn(ext, len, &list, &list_len) != 0)
        return;
    if (list_len > sizeof(conn->alpn_inline)) {
        /* On failure the offer stays empty: tickets bound to a protocol
         * are then refused, never accepted unchecked. */
        uint8_t *p = OPENSSL_malloc(list_len);
        if (p == NULL)
            return;
        conn->alpn = p;
    }
    memcpy(conn->alpn, list, list_len);
    conn->alpn_len = list_len;
}

/* The largest early data OpenSSL skips when it rejects it; beyond it, it
 * aborts the connection (record layer: early_data_count_ok). Tickets issued
 * under an earlier, larger ring maximum may carry that much, and a refusal
 * must never abort: so never less than the most a ring allows. What is
 * accepted is bounded by the ticket's own maximum, which our callback
 * refuses when it exceeds the ring's current one. */
#define RECV_MAX_EARLY_DATA 16777216u

/* Per connection, overriding whatever the application set on ctx: tickets
 * promise the ring's maximum (0 when early data is off), and OpenSSL's own
 * anti-replay, which would turn tickets into single-use entries of this
 * process's session cache, stays off even if the application cleared the
 * option on ctx after attaching. */
static uint32_t set_early_limits(SSL *s, struct tri_ossl_attachment *att)
{
    uint32_t max = 0;

    if (tr_ring_early_data_max(att->ring, &max) != 0)
        max = 0;
    SSL_set_options(s, SSL_OP_NO_ANTI_REPLAY);
    if (!SSL_set_max_early_data(s, max) ||
        !SSL_set_recv_max_early_data(s, RECV_MAX_EARLY_DATA))
        ERR_clear_error();
    return max;
}

int tr_openssl_client_hello_cb(SSL *s, int *alert, void *arg)
{
    struct tri_ossl_attachment *att;
    struct tri_ossl_conn *conn;
    const unsigned char *ext;
    size_t len;
    uint32_t early_max;

    if (s == NULL || !indexes_ready())
        return SSL_CLIENT_HELLO_SUCCESS;
    conn = tri_ossl_conn_get(s);
    att = conn != NULL ? conn->att : attachment_of(SSL_get_SSL_CTX(s));
    if (att == NULL)
        return SSL_CLIENT_HELLO_SUCCESS;
    /* Before anything can fail: without connection state our callback
     * refuses early data, but tickets must still promise the ring's. */
    early_max = set_early_limits(s, att);
    if (conn == NULL) {
        conn = OPENSSL_zalloc(sizeof(*conn));
        if (conn == NULL)
            return SSL_CLIENT_HELLO_SUCCESS; /* tickets are then refused */
        conn->alpn = conn->alpn_inline;
        atomic_fetch_add(&att->refs, 1);
        conn->att = att;
        if (!SSL_set_ex_data(s, ssl_index, conn)) {
            conn_free(conn);
            return SSL_CLIENT_HELLO_SUCCESS;
        }
        conn->app_info_cb = SSL_get_info_callback(s);
        SSL_set_info_callback(s, info_cb);
    }
    /* Per ClientHello: a HelloRetryRequest brings a second one. */
    conn->key_result = TRI_KEY_NOT_CALLED;
    conn->accepted = 0;
    conn->sni_len = 0;
    if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &ext, &len))
        conn->sni_len = tri_ch_parse_sni(ext, len, conn->sni);
    capture_alpn(s, conn);
    conn->early_max = early_max;
    conn->psk_age_ok = SSL_client_hello_get0_ext(s, TLSEXT_TYPE_psk, &ext, &len) &&
                       tri_ch_parse_psk_age(ext, len, &conn->psk_age) == 0;
    if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_early_data, &ext, &len))
        conn->early_offered = 1;
    return SSL_CLIENT_HELLO_SUCCESS;
}

/* ---- Session ticket callbacks ------------------------------------------------ */

void tri_ossl_unbound_binding(SSL_SESSION *ss, struct tri_appdata *ad)
{
    const unsigned char *alpn = NULL;
    const char *host;
    size_t alpn_len = 0;

    /* Its time is when it was issued, to the second; its host name is
     * there when that server accepted the SNI in a servername callback (a
     * name too long for a ClientHello is taken as none, which binding then
     * refuses). */
    memset(ad, 0, sizeof(*ad));
    ad->issue_ms = (int64_t)SSL_SESSION_get_time(ss) * 1000;
    host = SSL_SESSION_get0_hostname(ss);
    if (host != NULL && strlen(host) <= TRI_APPDATA_SNI_MAX) {
        ad->sni_len = (uint8_t)strlen(host);
        memcpy(ad->sni, host, ad->sni_len);
    }
    SSL_SESSION_get0_alpn_selected(ss, &alpn, &alpn_len);
    if (alpn != NULL && alpn_len <= TRI_APPDATA_ALPN_MAX) {
        ad->alpn_len = (uint8_t)alpn_len;
        memcpy(ad->alpn, alpn, alpn_len);
    }
}

/* The policy for a ticket that decrypted under a ring key. */
static int check_session(struct tri_ossl_attachment *att, struct tri_ossl_conn *conn,
                         SSL_SESSION *ss, struct tri_appdata *ad, int *unbound)
{
    void *data = NULL;
    size_t len = 0;
    int rc;

    *unbound = 0;
    /* The timeout the issuing server sealed in (an nginx node's
     * ssl_session_timeout, say): past it OpenSSL would silently decline the
     * session after this callback, so it is refused here, as expired. */
    if ((int64_t)time(NULL) - (int64_t)SSL_SESSION_get_time(ss) >
        (int64_t)SSL_SESSION_get_timeout(ss))
        return TR_E_TICKET_EXPIRED;
    if (!SSL_SESSION_get0_ticket_appdata(ss, &data, &len))
        len = 0;
    if (len == 0) {
        /* Another server's ticket (nginx, HAProxy): what OpenSSL's session
         * holds is all there is. */
        if (atomic_load(&att->unbound_policy) == TR_UNBOUND_REFUSE)
            return TR_E_TICKET_UNBOUND;
        *unbound = 1;
        tri_ossl_unbound_binding(ss, ad);
    } else {
        rc = tri_appdata_decode(data, len, ad);
        if (rc != 0)
            return rc;
    }
    rc = tr_ring_check_times(att->ring, ad->issue_ms, ad->auth_time, NULL);
    if (rc != 0)
        return rc;
    return tr_ring_check_binding(att->ring, ad->sni, ad->sni_len, conn->sni, conn->sni_len,
                                 ad->alpn, ad->alpn_len, conn->alpn, conn->alpn_len);
}

static SSL_TICKET_RETURN decrypt_cb(SSL *s, SSL_SESSION *ss, const unsigned char *keyname,
                                    size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
    struct tri_ossl_attachment *att = arg;
    struct tri_ossl_conn *conn = tri_ossl_conn_get(s);
    struct tri_appdata ad;
    int unbound, rc;

    /* Every refusal is IGNORE_RENEW: a full handshake with fresh tickets.
     * ABORT (or USE without a session) would kill the connection. */
    if (att == NULL || conn == NULL || status == SSL_TICKET_EMPTY)
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    if (status == SSL_TICKET_NO_DECRYPT) {
        count_ticket(conn, conn->key_result == TRI_KEY_UNKNOWN        ? TR_E_TICKET_UNKNOWN_KEY
                           : conn->key_result == TRI_KEY_OTHER_FORMAT ? TR_E_TICKET_OTHER_FORMAT
                           : conn->key_result == TRI_KEY_NOT_CALLED   ? TR_E_TICKET_MALFORMED
                                                                      : TR_E_TICKET_AUTH);
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    if ((status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW) || ss == NULL)
        return SSL_TICKET_RETURN_IGNORE_RENEW;

    rc = check_session(att, conn, ss, &ad, &unbound);
    if (rc != 0) {
        count_ticket(conn, rc);
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
    /* Counted when the handshake completes (info_cb). */
    conn->accepted = 1;
    conn->accepted_old_key = conn->key_result == TRI_KEY_FOUND_OLD;
    conn->accepted_unbound = unbound;
    conn->auth_time = unbound ? (int64_t)SSL_SESSION_get_time(ss) : ad.auth_time;
    memcpy(conn->origin, ad.node, sizeof(conn->origin));
    return status == SSL_TICKET_SUCCESS_RENEW || SSL_version(s) == TLS1_3_VERSION
               ? SSL_TICKET_RETURN_USE_RENEW
               : SSL_TICKET_RETURN_USE;
}

/* Returning 0 would fail the handshake: every problem here means "issue
 * no ticket" instead (the key callback then declines). */
static int generate_cb(SSL *s, void *arg)
{
    struct tri_ossl_attachment *att = arg;
    struct tri_ossl_conn *conn = tri_ossl_conn_get(s);
    SSL_SESSION *sess = SSL_get_session(s);
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;
    uint8_t buf[TRI_APPDATA_MAX];
    struct tri_appdata ad;
    int64_t now_ms;
    long elapsed;
    uint32_t life;

    if (att == NULL || conn == NULL || sess == NULL)
        return 1;
    conn->no_ticket = 1;
    /* A renewal keeps the original authentication time: TLS 1.3 resets
     * the session's own time on every renewal, so max age rests on it. */
    ad.auth_time = SSL_session_reused(s) && conn->accepted ? conn->auth_time : 0;
    if (tr_ring_ticket_lifetime(att->ring, ad.auth_time, &life) != 0 ||
        tr_ring_now_ms(att->ring, &now_ms) != 0)
        return 1;
    ad.issue_ms = now_ms;
    if (ad.auth_time == 0)
        ad.auth_time = now_ms >= 0 ? now_ms / 1000 : 0;
    /* Bound to what this connection's ClientHello asked for and what was
     * negotiated: the next ClientHello is checked against them. */
    ad.sni_len = (uint8_t)conn->sni_len;
    memcpy(ad.sni, conn->sni, conn->sni_len);
    SSL_get0_alpn_selected(s, &alpn, &alpn_len);
    ad.alpn_len = (uint8_t)(alpn_len <= TRI_APPDATA_ALPN_MAX ? alpn_len : 0);
    if (ad.alpn_len != 0)
        memcpy(ad.alpn, alpn, ad.alpn_len);
    ad.node_len = att->node_len;
    memcpy(ad.node, att->node, sizeof(ad.node));
    /* Only a ticket that promises early data (TLS 1.3, the maximum this
     * connection got from the ring) names the replay cache that may accept
     * it; every other ticket stays in the format nodes of 0.2 read. */
    ad.early_tag = 0;
    if (SSL_version(s) == TLS1_3_VERSION && SSL_get_max_early_data(s) > 0 &&
        tr_ring_early_data_tag(att->ring, &ad.early_tag) != 0)
        ad.early_tag = 0;
    if (!SSL_SESSION_set1_ticket_appdata(sess, buf, tri_appdata_encode(&ad, buf)))
        return 1;
    /* OpenSSL keeps the host name in the session only when a servername
     * callback accepted it; without it a TLS 1.2 resumption here, or on an
     * nginx node holding the same keys, would see no SNI at all. */
    if (SSL_SESSION_get0_hostname(sess) == NULL && conn->sni_len != 0 &&
        memchr(conn->sni, '\0', conn->sni_len) == NULL) {
        char host[TRI_SNI_MAX + 1];
        memcpy(host, conn->sni, conn->sni_len);
        host[conn->sni_len] = '\0';
        if (!SSL_SESSION_set1_hostname(sess, host))
            ERR_clear_error();
    }
    /* The timeout counts from the session's time, which a TLS 1.2 renewal
     * keeps from the original handshake; it is also the lifetime hint. */
    elapsed = (long)(time(NULL) - (time_t)SSL_SESSION_get_time(sess));
    SSL_SESSION_set_timeout(sess, (long)life + (elapsed > 0 ? elapsed : 0));
    conn->no_ticket = 0;
    return 1;
}

/* ---- Public API ---------------------------------------------------------------- */

static int noop_key(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                    void *arg)
{
    return 0;
}

int tr_openssl_attach(SSL_CTX *ctx, tr_ring *ring, const char *node_id)
{
    static const uint8_t no_such_key[TR_KEY_NAME_BYTES]; /* zero names are refused */
    struct tri_ossl_attachment *att, *old;
    size_t node_len = node_id != NULL ? strlen(node_id) : 0;
    int rc;

    if (ctx == NULL || ring == NULL || node_len > TRI_APPDATA_NODE_MAX)
        return TR_E_INVAL;
    /* Only a ring on this backend has the per-key state the callback uses. */
    rc = tr_ring_tls_key(ring, tr_crypto_openssl(), no_such_key, noop_key, NULL);
    if (rc == TR_E_BACKEND)
        return rc;
    if (!indexes_ready())
        return TR_E_NOMEM;
    att = OPENSSL_zalloc(sizeof(*att));
    if (att == NULL)
        return TR_E_NOMEM;
    atomic_init(&att->refs, 1);
    atomic_init(&att->unbound_policy, TR_UNBOUND_ACCEPT);
    att->ring = ring;
    att->node_len = (uint8_t)node_len;
    memcpy(att->node, node_id != NULL ? node_id : "", node_len + 1);

    old = SSL_CTX_get_ex_data(ctx, ctx_index);
    if (!SSL_CTX_set_ex_data(ctx, ctx_index, att) ||
        !tri_ossl_set_ticket_key_cb(ctx, 1) ||
        !SSL_CTX_set_session_ticket_cb(ctx, generate_cb, decrypt_cb, att) ||
        !SSL_CTX_set_session_id_context(ctx, session_id_context,
                                        sizeof(session_id_context) - 1)) {
        ERR_clear_error();
        SSL_CTX_set_ex_data(ctx, ctx_index, old);
        OPENSSL_free(att);
        return TR_E_NOMEM;
    }
    SSL_CTX_set_client_hello_cb(ctx, tr_openssl_client_hello_cb, NULL);
    /* Always, not only while the ring has early data on: OpenSSL's own
     * anti-replay makes tickets stateful single-use entries of this
     * process's cache as soon as a connection allows early data, which no
     * other node can resume. Replays are the callback's to refuse. */
    att->set_no_anti_replay = (old != NULL && old->set_no_anti_replay) ||
                              (SSL_CTX_get_options(ctx) & SSL_OP_NO_ANTI_REPLAY) == 0;
    SSL_CTX_set_options(ctx, SSL_OP_NO_ANTI_REPLAY);
    SSL_CTX_set_allow_early_data_cb(ctx, tr_openssl_allow_early_data_cb, NULL);
    attachment_release(old);
    return 0;
}

int tr_openssl_detach(SSL_CTX *ctx)
{
    struct tri_ossl_attachment *att;

    if (ctx == NULL)
        return TR_E_INVAL;
    att = attachment_of(ctx);
    if (att == NULL)
        return 0;
    tri_ossl_set_ticket_key_cb(ctx, 0);
    SSL_CTX_set_session_ticket_cb(ctx, NULL, NULL, NULL);
    SSL_CTX_set_client_hello_cb(ctx, NULL, NULL);
    SSL_CTX_set_allow_early_data_cb(ctx, NULL, NULL);
    if (att->set_no_anti_replay)
        SSL_CTX_clear_options(ctx, SSL_OP_NO_ANTI_REPLAY);
    SSL_CTX_set_ex_data(ctx, ctx_index, NULL);
    attachment_release(att);
    return 0;
}

int tr_openssl_set_unbound_policy(SSL_CTX *ctx, int32_t policy)
{
    struct tri_ossl_attachment *att;

    if (ctx == NULL || (policy != TR_UNBOUND_ACCEPT && policy != TR_UNBOUND_REFUSE))
        return TR_E_INVAL;
    att = attachment_of(ctx);
    if (att == NULL)
        return TR_E_INVAL;
    atomic_store(&att->unbound_policy, policy);
    return 0;
}

tr_ring *tr_openssl_ring(SSL_CTX *ctx)
{
    struct tri_ossl_attachment *att = ctx != NULL ? attachment_of(ctx) : NULL;
    return att != NULL ? att->ring : NULL;
}

int tr_openssl_ticket_origin(SSL *ssl, char *node_id, size_t cap)
{
    struct tri_ossl_conn *conn;
    size_t n;

    if (ssl == NULL || node_id == NULL)
        return TR_E_INVAL;
    conn = tri_ossl_conn_get(ssl);
    if (conn == NULL || !conn->accepted || !SSL_session_reused(ssl))
        return TR_E_INVAL;
    n = strlen(conn->origin);
    if (n >= cap)
        return TR_E_BUFFER_TOO_SMALL;
    memcpy(node_id, conn->origin, n + 1);
    return 0;
}
