/*
 * What libticketring-mbedtls keeps per mbedtls_ssl_config (the attachment)
 * and per connection, shared by attach.c (config and ticket callbacks) and
 * conn.c (BIO, ClientHello capture, handshake).
 */
#ifndef TICKETRING_MBEDTLS_GLUE_H
#define TICKETRING_MBEDTLS_GLUE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>

#include "clienthello.h"
#include "ticketring/mbedtls.h"

/* mbedTLS 3 made the struct fields this glue reads private; it still
 * compiles against them through MBEDTLS_PRIVATE. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#define TRI_MBED_FIELD(s, f) ((s)->MBEDTLS_PRIVATE(f))
#else
#define TRI_MBED_FIELD(s, f) ((s)->f)
#endif

#define TRI_MBED_NODE_MAX 64
/* "ticketring-mbedtls/1 " and the 5 bytes mbedtls_ssl_session_save() starts
 * with (version major, minor, patch, 16-bit configuration): the
 * application context every ticket is bound to. */
#define TRI_MBED_CTX_LABEL "ticketring-mbedtls/1 "
#define TRI_MBED_SESSION_HEADER 5
#define TRI_MBED_CTX_BYTES (sizeof(TRI_MBED_CTX_LABEL) - 1 + TRI_MBED_SESSION_HEADER)

typedef int tri_mbed_sni_fn(void *, mbedtls_ssl_context *, const unsigned char *, size_t);

/* Shared by the caller of tr_mbedtls_attach() and each connection made on
 * it, so a detach never leaves a live connection pointing at freed memory. */
struct tr_mbedtls_attachment {
    atomic_int refs;
    tr_ring *ring;
    mbedtls_ssl_config *conf;
    tri_mbed_sni_fn *app_sni;
    void *app_sni_arg;
    uint8_t ctx[TRI_MBED_CTX_BYTES];
    uint8_t node_len;
    char node[TRI_MBED_NODE_MAX + 1];
};

enum tri_mbed_capture {
    TRI_CAP_HEADER = 0, /* reading the first record's header */
    TRI_CAP_BODY,       /* ... its body */
    TRI_CAP_DONE,       /* a ClientHello, parsed */
    TRI_CAP_INVALID,    /* not a ClientHello we can read (or no memory) */
};

struct tr_mbedtls_conn {
    tr_mbedtls_attachment *att;
    mbedtls_ssl_context *ssl;
    void *p_bio;
    mbedtls_ssl_send_t *f_send;
    mbedtls_ssl_recv_t *f_recv;
    mbedtls_ssl_recv_timeout_t *f_recv_timeout;

    /* The ClientHello, copied as mbedTLS reads it. */
    enum tri_mbed_capture cap;
    uint8_t hdr[TRI_CH_RECORD_HEADER];
    size_t hdr_got;
    uint8_t *rec; /* header and body; exts points into it */
    size_t rec_len, rec_got;
    struct tri_ch_exts exts;
    int sni_ok; /* sni is the one name the ClientHello asks for ("" none) */
    uint8_t sni[TRI_SNI_MAX];
    size_t sni_len;

    int ticket_seen; /* the first ticket extension decides */
    int accepted;    /* ... and was resumed */
    char origin[TRI_MBED_NODE_MAX + 1];
    int handshake_done;
};

/* The connection whose handshake runs on this thread (tr_mbedtls_handshake),
 * or NULL. */
tr_mbedtls_conn *tri_mbed_current(void);

/* The SNI to bind a ticket to, from the ClientHello: 1 with *sni and *len (NULL
 * and 0 for none), or 0 when it cannot be told (not captured, more than one
 * server_name extension, a name this parser and mbedTLS's read apart). */
int tri_mbed_conn_sni(const tr_mbedtls_conn *conn, const uint8_t **sni, size_t *len);
/* The ALPN protocol mbedTLS negotiates for this ClientHello (its own choice:
 * the config's first protocol the client offers), or NULL for none. */
const char *tri_mbed_conn_alpn(const tr_mbedtls_conn *conn);
/* The SNI callback saw `name`: if it is not the captured one, the
 * connection's SNI cannot be told any more. */
void tri_mbed_conn_sni_seen(tr_mbedtls_conn *conn, const unsigned char *name, size_t len);

void tri_mbed_attachment_release(tr_mbedtls_attachment *att);

#endif
