/*
 * tr_mbedtls_attach(): the ring behind an mbedtls_ssl_config's tickets.
 *
 * A ticket is the generic format v1 (lib/ticket.c) around
 *
 *     node id length (1) | node id | mbedtls_ssl_session_save() output
 *
 * bound to the ClientHello's SNI, the negotiated ALPN protocol, and an
 * application context naming this glue's layout and the session format of
 * this mbedTLS build: mbedtls_ssl_session_load() refuses a session saved by
 * another version or configuration, and that is best refused (and counted,
 * as `context`) before the ticket counts as opened.
 *
 * mbedTLS 2.28 calls the ticket callbacks with only the config's pointer,
 * in the middle of its ClientHello parsing (parse) or after the client's
 * Finished (write); the connection comes from tri_mbed_current(), set by
 * tr_mbedtls_handshake(). Any non-zero return from either callback makes
 * mbedTLS go on with a full handshake, or with an empty ticket.
 */
#include <stdlib.h>
#include <string.h>

#include "glue.h"
#include "secure.h"

/* Stands in for an SNI that cannot be told: longer than any host name, so
 * tr_ticket_open() matches it to no ticket (and refuses as `sni` when SNI
 * binding is on). */
static const uint8_t no_such_sni[TRI_SNI_MAX + 1];

void tri_mbed_attachment_release(tr_mbedtls_attachment *att)
{
    if (att != NULL && atomic_fetch_sub(&att->refs, 1) == 1)
        free(att);
}

static int ours(const tr_mbedtls_attachment *att, const tr_mbedtls_conn *conn)
{
    return conn != NULL && conn->att == att;
}

/* ---- Ticket callbacks ---------------------------------------------------- */

static int ticket_write(void *p_ticket, const mbedtls_ssl_session *session,
                        unsigned char *start, const unsigned char *end, size_t *tlen,
                        uint32_t *lifetime)
{
    tr_mbedtls_attachment *att = p_ticket;
    tr_mbedtls_conn *conn = tri_mbed_current();
    const uint8_t *sni;
    const char *alpn;
    uint8_t *state;
    size_t sni_len, save_len = 0, got = 0, head, state_len;
    int rc;

    /* mbedTLS 2.28 puts *lifetime on the wire even when we fail. */
    *tlen = 0;
    *lifetime = 0;
    if (!ours(att, conn) || !tri_mbed_conn_sni(conn, &sni, &sni_len))
        return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    rc = mbedtls_ssl_session_save(session, NULL, 0, &save_len);
    if (rc != MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL)
        return rc != 0 ? rc : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    head = 1 + (size_t)att->node_len;
    state_len = head + save_len;
    if (state_len > TR_TICKET_MAX_STATE || start > end ||
        (size_t)(end - start) < state_len + TR_TICKET_OVERHEAD)
        return MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL;
    state = malloc(state_len);
    if (state == NULL)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    state[0] = att->node_len;
    memcpy(state + 1, att->node, att->node_len);
    rc = mbedtls_ssl_session_save(session, state + head, save_len, &got);
    if (rc == 0 && got == save_len) {
        alpn = mbedtls_ssl_get_alpn_protocol(conn->ssl);
        rc = tr_ticket_seal(att->ring, state, state_len, sni, sni_len, (const uint8_t *)alpn,
                            alpn != NULL ? strlen(alpn) : 0, att->ctx, sizeof(att->ctx), 0,
                            start, (size_t)(end - start), tlen, lifetime);
        if (rc != 0) {
            /* No key may encrypt now (counted by the ring), or worse. */
            *tlen = 0;
            *lifetime = 0;
            rc = MBEDTLS_ERR_SSL_INTERNAL_ERROR;
        }
    } else if (rc == 0) {
        rc = MBEDTLS_ERR_SSL_INTERNAL_ERROR;
    }
    /* The session holds the master secret. */
    tri_wipe(state, state_len);
    free(state);
    return rc;
}

static int ticket_parse(void *p_ticket, mbedtls_ssl_session *session, unsigned char *buf,
                        size_t len)
{
    tr_mbedtls_attachment *att = p_ticket;
    tr_mbedtls_conn *conn = tri_mbed_current();
    const uint8_t *sni;
    const char *alpn;
    uint8_t *state;
    size_t sni_len, cap, state_len = 0, node_len;
    int rc;

    /* A connection not driven by tr_mbedtls_handshake(): its ClientHello
     * is unknown, so the ticket is not even opened (and not counted). A
     * second ticket extension in one ClientHello is ignored: mbedTLS would
     * keep the session of whichever parsed last. */
    if (!ours(att, conn) || conn->ticket_seen)
        return MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
    conn->ticket_seen = 1;
    if (!tri_mbed_conn_sni(conn, &sni, &sni_len)) {
        sni = no_such_sni;
        sni_len = sizeof(no_such_sni);
    }
    alpn = tri_mbed_conn_alpn(conn);
    /* tr_ticket_open() refuses a wrong length before it needs the buffer. */
    cap = len > TR_TICKET_OVERHEAD ? len - TR_TICKET_OVERHEAD : 0;
    if (cap > TR_TICKET_MAX_STATE)
        cap = TR_TICKET_MAX_STATE;
    state = malloc(cap > 0 ? cap : 1);
    if (state == NULL)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    rc = tr_ticket_open(att->ring, buf, len, sni, sni_len, (const uint8_t *)alpn,
                        alpn != NULL ? strlen(alpn) : 0, att->ctx, sizeof(att->ctx), state, cap,
                        &state_len, NULL, NULL, NULL, NULL);
    if (rc != 0) {
        /* Counted by tr_ticket_open() under its reason. */
        free(state);
        return rc == TR_E_TICKET_AUTH ? MBEDTLS_ERR_SSL_INVALID_MAC
                                      : MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
    }
    /* Sealed by a node of this cluster in this layout (the context says
     * so), so a bad node id length means a bug, not an attack. */
    node_len = state_len > 0 ? state[0] : 0;
    if (state_len == 0 || node_len > TRI_MBED_NODE_MAX || state_len - 1 < node_len) {
        rc = MBEDTLS_ERR_SSL_SESSION_TICKET_EXPIRED;
    } else {
        rc = mbedtls_ssl_session_load(session, state + 1 + node_len, state_len - 1 - node_len);
        if (rc == 0) {
            memcpy(conn->origin, state + 1, node_len);
            conn->origin[node_len] = '\0';
            /* A parsed ticket is final in mbedTLS 2.28: it resumes. */
            conn->accepted = 1;
        }
    }
    tri_wipe(state, state_len);
    free(state);
    return rc;
}

/* ---- SNI callback ---------------------------------------------------------- */

static int sni_cb(void *p_sni, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    tr_mbedtls_attachment *att = p_sni;
    tr_mbedtls_conn *conn = tri_mbed_current();

    if (ours(att, conn) && conn->ssl == ssl)
        tri_mbed_conn_sni_seen(conn, name, len);
    return att->app_sni != NULL ? att->app_sni(att->app_sni_arg, ssl, name, len) : 0;
}

/* ---- Public API ------------------------------------------------------------ */

static int is_stream_server(const mbedtls_ssl_config *conf)
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    return mbedtls_ssl_conf_get_endpoint(conf) == MBEDTLS_SSL_IS_SERVER &&
           TRI_MBED_FIELD(conf, transport) == MBEDTLS_SSL_TRANSPORT_STREAM;
#else
    return conf->endpoint == MBEDTLS_SSL_IS_SERVER &&
           conf->transport == MBEDTLS_SSL_TRANSPORT_STREAM;
#endif
}

/* The first bytes of every session this mbedTLS saves: its version and the
 * options that shape a saved session. Read from a save of an empty TLS 1.2
 * session, at run time, because the library loaded may be a newer patch
 * release than the headers compiled against. */
static int session_header(uint8_t out[TRI_MBED_SESSION_HEADER])
{
    mbedtls_ssl_session s;
    unsigned char buf[512];
    size_t len = 0;
    int rc;

    mbedtls_ssl_session_init(&s);
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    TRI_MBED_FIELD(&s, tls_version) = MBEDTLS_SSL_VERSION_TLS1_2;
    TRI_MBED_FIELD(&s, endpoint) = MBEDTLS_SSL_IS_SERVER;
#endif
    rc = mbedtls_ssl_session_save(&s, buf, sizeof(buf), &len);
    mbedtls_ssl_session_free(&s);
    if (rc != 0 || len < TRI_MBED_SESSION_HEADER)
        return TR_E_BACKEND;
    memcpy(out, buf, TRI_MBED_SESSION_HEADER);
    return 0;
}

int tr_mbedtls_attach(mbedtls_ssl_config *conf, tr_ring *ring, const char *node_id,
                      tr_mbedtls_attachment **out)
{
    size_t node_len = node_id != NULL ? strlen(node_id) : 0;
    tr_mbedtls_attachment *att;
    uint8_t header[TRI_MBED_SESSION_HEADER];
    int rc;

    if (out == NULL)
        return TR_E_INVAL;
    *out = NULL;
    if (conf == NULL || ring == NULL || node_len > TRI_MBED_NODE_MAX || !is_stream_server(conf))
        return TR_E_INVAL;
    rc = session_header(header);
    if (rc != 0)
        return rc;
    att = calloc(1, sizeof(*att));
    if (att == NULL)
        return TR_E_NOMEM;
    atomic_init(&att->refs, 1);
    att->ring = ring;
    att->conf = conf;
    memcpy(att->ctx, TRI_MBED_CTX_LABEL, sizeof(TRI_MBED_CTX_LABEL) - 1);
    memcpy(att->ctx + sizeof(TRI_MBED_CTX_LABEL) - 1, header, sizeof(header));
    att->node_len = (uint8_t)node_len;
    memcpy(att->node, node_id != NULL ? node_id : "", node_len + 1);
    mbedtls_ssl_conf_session_tickets_cb(conf, ticket_write, ticket_parse, att);
    mbedtls_ssl_conf_sni(conf, sni_cb, att);
    *out = att;
    return 0;
}

int tr_mbedtls_set_sni_cb(tr_mbedtls_attachment *att, tri_mbed_sni_fn *f_sni, void *p_sni)
{
    if (att == NULL)
        return TR_E_INVAL;
    att->app_sni = f_sni;
    att->app_sni_arg = p_sni;
    return 0;
}

void tr_mbedtls_detach(tr_mbedtls_attachment *att)
{
    mbedtls_ssl_config *conf;

    if (att == NULL)
        return;
    conf = att->conf;
    att->conf = NULL;
    /* What the application installed after us stays. */
    if (conf != NULL && TRI_MBED_FIELD(conf, p_ticket) == att &&
        TRI_MBED_FIELD(conf, f_ticket_parse) == ticket_parse)
        mbedtls_ssl_conf_session_tickets_cb(conf, NULL, NULL, NULL);
    if (conf != NULL && TRI_MBED_FIELD(conf, p_sni) == att &&
        TRI_MBED_FIELD(conf, f_sni) == sni_cb)
        mbedtls_ssl_conf_sni(conf, att->app_sni, att->app_sni_arg);
    tri_mbed_attachment_release(att);
}

tr_ring *tr_mbedtls_ring(const tr_mbedtls_attachment *att)
{
    return att != NULL ? att->ring : NULL;
}
