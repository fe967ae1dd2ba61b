/*
 * Fuzz target: what the mbedTLS glue does with a client's first bytes
 * (backends/mbedtls/conn.c and attach.c): an mbedTLS 2.28 server attached
 * to the fixed ring reads the input as the client's first flight through
 * tr_mbedtls_conn_new()'s receive path, which copies the first record and
 * walks it (tri_ch_parse_record), while mbedTLS parses the same bytes and
 * calls the glue's SNI and ticket callbacks. The server is stopped as soon
 * as it sends its ServerHello (no signature, no key exchange: the input
 * is all the client ever says).
 *
 * Input: byte 0 is how many bytes each read of the server returns (0: all
 * it asks for), so a record header and body arrive split anywhere; the
 * rest is what the client sent.
 *
 * Checks, besides no crash or sanitizer report:
 *  - the copy is exactly the input's first record, taken when it is a
 *    ClientHello record the parser accepts and refused otherwise,
 *    whatever the read sizes;
 *  - whenever mbedTLS answers with a ServerHello, the glue read the same
 *    ClientHello: its copy parsed; the ALPN protocol it computes for the
 *    binding check is the one mbedTLS negotiated; the host name it binds
 *    to is the one mbedTLS handed to the application's SNI callback;
 *  - a ticket is opened or refused at most once per connection (one
 *    counter moves), never without a session_ticket extension, and the
 *    connection counts no handshake (none completed).
 */
#include <string.h>

#include "clienthello.h"
#include "fuzz.h"
#include "fuzz_mbed.h"
#include "glue.h"

struct io {
    const uint8_t *p;
    size_t left, chunk;
    int hello_sent, sent;
};

static int srv_recv(void *ctx, unsigned char *buf, size_t len)
{
    struct io *io = ctx;
    size_t n = len;

    if (io->left == 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (io->chunk != 0 && n > io->chunk)
        n = io->chunk;
    if (n > io->left)
        n = io->left;
    memcpy(buf, io->p, n);
    io->p += n;
    io->left -= n;
    return (int)n;
}

/* The first record the server sends ends the run: a ServerHello, or an
 * alert. */
static int srv_send(void *ctx, const unsigned char *buf, size_t len)
{
    struct io *io = ctx;

    if (!io->sent)
        io->hello_sent = len > 5 && buf[0] == 22 && buf[5] == 2;
    io->sent = 1;
    return MBEDTLS_ERR_SSL_WANT_WRITE;
}

static uint64_t tickets_seen(const tr_stats *s)
{
    return s->opened + s->refused_malformed + s->refused_unknown_key + s->refused_auth +
           s->refused_expired + s->refused_future + s->refused_sni + s->refused_alpn +
           s->refused_context + s->refused_unbound + s->refused_other_format;
}

static void check_capture(const tr_mbedtls_conn *c, const uint8_t *in, size_t n)
{
    struct tri_ch_exts exts;
    size_t body = n >= TRI_CH_RECORD_HEADER ? tri_ch_record_len(in) : 0;
    size_t rec = TRI_CH_RECORD_HEADER + body;

    switch (c->cap) {
    case TRI_CAP_DONE:
        FZ_CHECK(body != 0 && n >= rec && c->rec_len == rec);
        FZ_CHECK(memcmp(c->rec, in, rec) == 0);
        FZ_CHECK(tri_ch_parse_record(in, rec, &exts) == 0);
        FZ_CHECK(exts.sni_count == c->exts.sni_count && exts.alpn_count == c->exts.alpn_count &&
                 exts.ticket_count == c->exts.ticket_count);
        break;
    case TRI_CAP_INVALID:
        FZ_CHECK(n >= TRI_CH_RECORD_HEADER);
        FZ_CHECK(body == 0 || (n >= rec && tri_ch_parse_record(in, rec, &exts) != 0));
        break;
    /* Still copying: mbedTLS stopped reading (out of input, or it refused
     * what it read so far); what was copied is the input's start. */
    case TRI_CAP_HEADER:
        FZ_CHECK(c->hdr_got < TRI_CH_RECORD_HEADER && c->hdr_got <= n);
        FZ_CHECK(memcmp(c->hdr, in, c->hdr_got) == 0);
        break;
    case TRI_CAP_BODY:
        FZ_CHECK(body != 0 && c->rec_len == rec && c->rec_got < rec && c->rec_got <= n);
        FZ_CHECK(memcmp(c->rec, in, c->rec_got) == 0);
        break;
    default:
        FZ_CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_mbed_world *w = fz_mbed_world();
    mbedtls_ssl_context ssl;
    tr_mbedtls_conn *conn = NULL;
    struct io io;
    tr_stats before, after;
    int rc = 0;

    if (size < 1)
        return 0;
    fz_random_reset();
    fz_mbed_random_reset();
    memset(&io, 0, sizeof(io));
    io.chunk = data[0];
    io.p = data + 1;
    io.left = size - 1;
    w->sni_calls = 0;
    w->sni_len = 0;
    before = fz_stats(w->ring);

    mbedtls_ssl_init(&ssl);
    FZ_CHECK(mbedtls_ssl_setup(&ssl, &w->conf) == 0);
    FZ_CHECK(tr_mbedtls_conn_new(&conn, w->att, &ssl, &io, srv_send, srv_recv, NULL) == 0);
    /* mbedTLS asks for more until the input runs out, stops at its first
     * answer or fails. */
    for (int i = 0; i < 8 && !io.sent; i++) {
        rc = tr_mbedtls_handshake(conn);
        if (rc != MBEDTLS_ERR_SSL_WANT_READ || io.left == 0)
            break;
    }
    FZ_CHECK(rc != 0);
    FZ_CHECK(tr_mbedtls_resumed(conn) == 0);
    check_capture(conn, data + 1, size - 1);

    after = fz_stats(w->ring);
    FZ_CHECK(tickets_seen(&after) - tickets_seen(&before) <= 1);
    FZ_CHECK(after.handshakes_full == before.handshakes_full &&
             after.handshakes_resumed == before.handshakes_resumed &&
             after.sealed == before.sealed);
    if (conn->cap == TRI_CAP_DONE && conn->exts.ticket_count == 0)
        FZ_CHECK(tickets_seen(&after) == tickets_seen(&before));

    /* mbedTLS took this ClientHello; so must the glue, for a record of
     * version 3.x (mbedTLS 2.28 takes any major version from 3 up in the
     * first record; the glue reads 3.x only, so such a client, which no
     * TLS version makes, has its ticket refused: a full handshake). */
    if (io.hello_sent && data[2] == 3) {
        const char *ours, *theirs = mbedtls_ssl_get_alpn_protocol(&ssl);
        FZ_CHECK(conn->cap == TRI_CAP_DONE);
        ours = tri_mbed_conn_alpn(conn);
        FZ_CHECK(ours == theirs);
        if (conn->exts.sni_count == 0)
            FZ_CHECK(w->sni_calls == 0);
        if (conn->exts.sni_count == 1 && conn->sni_len > 0) {
            FZ_CHECK(w->sni_calls == 1 && w->sni_len == conn->sni_len);
            FZ_CHECK(memcmp(w->sni, conn->sni, conn->sni_len) == 0);
        }
    }
    if (fz_verbose())
        fprintf(stderr, "rc=-0x%04x cap=%d hello=%d sni_calls=%u tickets+%llu opened+%llu\n",
                (unsigned)-rc, (int)conn->cap, io.hello_sent, w->sni_calls,
                (unsigned long long)(tickets_seen(&after) - tickets_seen(&before)),
                (unsigned long long)(after.opened - before.opened));

    mbedtls_ssl_free(&ssl);
    tr_mbedtls_conn_free(conn);
    return 0;
}
