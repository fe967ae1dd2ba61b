/*
 * A connection: the BIO between mbedTLS and the application's callbacks,
 * the ClientHello copied on its way in, and the handshake wrapper that
 * makes the connection findable by the ticket callbacks and counts it.
 *
 * Why a copy of the ClientHello: mbedTLS 2.28 walks the ClientHello's
 * extensions in wire order and calls the SNI callback, ALPN selection and
 * the ticket parse callback as it meets each one. With an OpenSSL client
 * (server_name ... session_ticket ... ALPN) the ALPN protocol is not chosen
 * yet when the ticket is parsed; a client may as well put the ticket before
 * server_name. The ClientHello itself holds both whatever the order.
 * mbedTLS reads a TLS ClientHello as exactly one record (no fragments), and
 * its stream reads deliver the bytes in order, so the first record that
 * passes through the receive callback is the ClientHello.
 *
 * Why a thread-local: the ticket callbacks receive only the config's
 * pointer. tr_mbedtls_handshake() runs mbedtls_ssl_handshake() with the
 * connection as the calling thread's current one, so every callback that
 * handshake makes finds exactly it, and one on another thread finds its own.
 * (Setting it from the BIO callbacks instead would break for an
 * application that steps several handshakes in one thread: mbedTLS may
 * write a ticket in a step that does no I/O of its own.)
 */
#include <stdlib.h>
#include <string.h>

#include "glue.h"

static _Thread_local tr_mbedtls_conn *current;

tr_mbedtls_conn *tri_mbed_current(void)
{
    return current;
}

/* ---- ClientHello --------------------------------------------------------- */

static void capture_done(tr_mbedtls_conn *c)
{
    if (tri_ch_parse_record(c->rec, c->rec_len, &c->exts) != 0) {
        c->cap = TRI_CAP_INVALID;
        return;
    }
    c->cap = TRI_CAP_DONE;
    /* Exactly one server_name extension with a host name, or none. Two
     * would let the binding check read one name while the application's
     * SNI callback, called for each, acts on the other. */
    if (c->exts.sni_count == 0) {
        c->sni_ok = 1;
    } else if (c->exts.sni_count == 1) {
        c->sni_len = tri_ch_parse_sni(c->exts.sni, c->exts.sni_len, c->sni);
        c->sni_ok = c->sni_len > 0;
    }
}

static void capture(tr_mbedtls_conn *c, const unsigned char *p, size_t n)
{
    while (n > 0 && c->cap == TRI_CAP_HEADER) {
        size_t body;
        c->hdr[c->hdr_got++] = *p++;
        n--;
        if (c->hdr_got < TRI_CH_RECORD_HEADER)
            continue;
        body = tri_ch_record_len(c->hdr);
        /* Without memory the connection goes on: its ClientHello is then
         * unknown, which refuses its ticket (as `sni`) and issues none. */
        c->rec = body != 0 ? malloc(TRI_CH_RECORD_HEADER + body) : NULL;
        if (c->rec == NULL) {
            c->cap = TRI_CAP_INVALID;
            return;
        }
        memcpy(c->rec, c->hdr, TRI_CH_RECORD_HEADER);
        c->rec_got = TRI_CH_RECORD_HEADER;
        c->rec_len = TRI_CH_RECORD_HEADER + body;
        c->cap = TRI_CAP_BODY;
    }
    if (n > 0 && c->cap == TRI_CAP_BODY) {
        size_t take = c->rec_len - c->rec_got < n ? c->rec_len - c->rec_got : n;
        memcpy(c->rec + c->rec_got, p, take);
        c->rec_got += take;
        if (c->rec_got == c->rec_len)
            capture_done(c);
    }
}

static void capture_free(tr_mbedtls_conn *c)
{
    free(c->rec);
    c->rec = NULL;
    memset(&c->exts, 0, sizeof(c->exts));
}

int tri_mbed_conn_sni(const tr_mbedtls_conn *c, const uint8_t **sni, size_t *len)
{
    if (c->cap != TRI_CAP_DONE || !c->sni_ok)
        return 0;
    *sni = c->sni_len > 0 ? c->sni : NULL;
    *len = c->sni_len;
    return 1;
}

void tri_mbed_conn_sni_seen(tr_mbedtls_conn *c, const unsigned char *name, size_t len)
{
    if (c->sni_ok && (len != c->sni_len || (len > 0 && memcmp(name, c->sni, len) != 0)))
        c->sni_ok = 0;
}

/* mbedTLS's own choice (ssl_parse_alpn_ext): its config's protocols in
 * order, the first one the client offers; none when either side has none.
 * A list mbedTLS finds malformed fails the handshake anyway. */
const char *tri_mbed_conn_alpn(const tr_mbedtls_conn *c)
{
    const char **ours;
    const uint8_t *list;
    size_t list_len;

    if (c->cap != TRI_CAP_DONE || c->exts.alpn == NULL || c->att->conf == NULL)
        return NULL;
    ours = TRI_MBED_FIELD(c->att->conf, alpn_list);
    if (ours == NULL ||
        tri_ch_parse_alpn(c->exts.alpn, c->exts.alpn_len, &list, &list_len) != 0)
        return NULL;
    for (; *ours != NULL; ours++) {
        size_t want = strlen(*ours);
        for (size_t i = 0; i < list_len;) {
            size_t n = list[i];
            if (n == 0 || n > list_len - i - 1)
                return NULL;
            if (n == want && memcmp(list + i + 1, *ours, n) == 0)
                return *ours;
            i += 1 + n;
        }
    }
    return NULL;
}

/* ---- BIO ------------------------------------------------------------------ */

static int conn_send(void *ctx, const unsigned char *buf, size_t len)
{
    tr_mbedtls_conn *c = ctx;
    return c->f_send(c->p_bio, buf, len);
}

static int conn_recv(void *ctx, unsigned char *buf, size_t len)
{
    tr_mbedtls_conn *c = ctx;
    int n = c->f_recv(c->p_bio, buf, len);
    if (n > 0 && c->cap < TRI_CAP_DONE && !c->handshake_done)
        capture(c, buf, (size_t)n);
    return n;
}

static int conn_recv_timeout(void *ctx, unsigned char *buf, size_t len, uint32_t timeout)
{
    tr_mbedtls_conn *c = ctx;
    int n = c->f_recv_timeout(c->p_bio, buf, len, timeout);
    if (n > 0 && c->cap < TRI_CAP_DONE && !c->handshake_done)
        capture(c, buf, (size_t)n);
    return n;
}

/* ---- Public API ------------------------------------------------------------ */

int tr_mbedtls_conn_new(tr_mbedtls_conn **out, tr_mbedtls_attachment *att,
                        mbedtls_ssl_context *ssl, void *p_bio, mbedtls_ssl_send_t *f_send,
                        mbedtls_ssl_recv_t *f_recv, mbedtls_ssl_recv_timeout_t *f_recv_timeout)
{
    tr_mbedtls_conn *c;

    if (out == NULL)
        return TR_E_INVAL;
    *out = NULL;
    if (att == NULL || ssl == NULL || (f_recv == NULL && f_recv_timeout == NULL))
        return TR_E_INVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return TR_E_NOMEM;
    atomic_fetch_add(&att->refs, 1);
    c->att = att;
    c->ssl = ssl;
    c->p_bio = p_bio;
    c->f_send = f_send;
    c->f_recv = f_recv;
    c->f_recv_timeout = f_recv_timeout;
    mbedtls_ssl_set_bio(ssl, c, f_send != NULL ? conn_send : NULL,
                        f_recv != NULL ? conn_recv : NULL,
                        f_recv_timeout != NULL ? conn_recv_timeout : NULL);
    *out = c;
    return 0;
}

void tr_mbedtls_conn_free(tr_mbedtls_conn *c)
{
    if (c == NULL)
        return;
    capture_free(c);
    tri_mbed_attachment_release(c->att);
    free(c);
}

int tr_mbedtls_handshake(tr_mbedtls_conn *c)
{
    tr_mbedtls_conn *prev;
    tr_ring *ring;
    int rc;

    if (c == NULL)
        return MBEDTLS_ERR_SSL_BAD_INPUT_DATA;
    prev = current;
    current = c;
    rc = mbedtls_ssl_handshake(c->ssl);
    current = prev;
    if (rc != 0 || c->handshake_done)
        return rc;
    c->handshake_done = 1;
    capture_free(c);
    ring = c->att->ring;
    if (c->accepted) {
        tr_ring_record(ring, TR_EVENT_RESUMED_HANDSHAKE);
        if (strcmp(c->origin, c->att->node) != 0)
            tr_ring_record(ring, TR_EVENT_RESUMED_CROSS_NODE);
    } else {
        tr_ring_record(ring, TR_EVENT_FULL_HANDSHAKE);
    }
    return 0;
}

int tr_mbedtls_resumed(const tr_mbedtls_conn *c)
{
    if (c == NULL)
        return TR_E_INVAL;
    return c->handshake_done && c->accepted;
}

int tr_mbedtls_ticket_origin(const tr_mbedtls_conn *c, char *node_id, size_t cap)
{
    size_t n;

    if (c == NULL || node_id == NULL || !c->handshake_done || !c->accepted)
        return TR_E_INVAL;
    n = strlen(c->origin);
    if (n >= cap)
        return TR_E_BUFFER_TOO_SMALL;
    memcpy(node_id, c->origin, n + 1);
    return 0;
}
