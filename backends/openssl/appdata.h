/*
 * The binding data libticketring keeps in an OpenSSL session's ticket
 * application data (SSL_SESSION_set1_ticket_appdata), encrypted and
 * authenticated inside the ticket with the rest of the session:
 *
 *   version(1)=1 | issue time ms(8) | original auth time s(8)
 *   | SNI length(1) | SNI | ALPN length(1) | ALPN | node id length(1) | node id
 *   version 2 only: | early-data tag(8)
 *
 * Version 2 (libticketring 0.3) appends the ring's early-data tag
 * (tr_ring_early_data_tag): the replay cache that may accept the ticket's
 * early data. It is written only when the tag is not 0 (a TLS 1.3 ticket
 * that allows early data), so tickets issued without early data stay
 * version 1 and nodes of 0.2, which refuse any other version as malformed,
 * still resume them. Integers are big-endian.
 *
 * OpenSSL's own session fields are not enough: TLS 1.3 renewal resets the
 * session time, and the session's host name is only stored when the
 * application has a servername callback that accepts it.
 */
#ifndef TICKETRING_OPENSSL_APPDATA_H
#define TICKETRING_OPENSSL_APPDATA_H

#include <stddef.h>
#include <stdint.h>

#define TRI_APPDATA_SNI_MAX 255
#define TRI_APPDATA_ALPN_MAX 255
#define TRI_APPDATA_NODE_MAX 64
#define TRI_APPDATA_MAX                                                                        \
    (1 + 8 + 8 + 3 + TRI_APPDATA_SNI_MAX + TRI_APPDATA_ALPN_MAX + TRI_APPDATA_NODE_MAX + 8)

struct tri_appdata {
    int64_t issue_ms;
    int64_t auth_time;
    uint8_t sni_len;
    uint8_t alpn_len;
    uint8_t node_len;
    uint8_t sni[TRI_APPDATA_SNI_MAX];
    uint8_t alpn[TRI_APPDATA_ALPN_MAX];
    char node[TRI_APPDATA_NODE_MAX + 1]; /* NUL-terminated */
    uint64_t early_tag; /* 0: none (version 1) */
};

/* Encode into out (version 2 when early_tag is not 0, else 1); returns
 * the length. */
size_t tri_appdata_encode(const struct tri_appdata *a, uint8_t out[TRI_APPDATA_MAX]);
/* Decode version 1 (early_tag 0) or 2; 0 or TR_E_TICKET_MALFORMED (unknown
 * version, a length past the end or beyond its maximum, trailing bytes, a
 * node id with a NUL in it, a negative auth time, a version 2 tag of 0). */
int tri_appdata_decode(const uint8_t *in, size_t len, struct tri_appdata *a);

#endif
