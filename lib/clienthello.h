/*
 * The SNI, the ALPN offer and the PSK ticket age of a ClientHello, parsed
 * from raw bytes, for the TLS glue of every backend (compiled into each
 * glue library, hidden, as secure.c is):
 *  - OpenSSL decrypts a ticket before its servername and ALPN callbacks run,
 *    so the binding check needs them straight from the ClientHello (its
 *    ClientHello callback hands over the extension bodies); OpenSSL has no
 *    getter for the ticket age the client claims, which the early-data
 *    freshness check needs.
 *  - mbedTLS 2.28 parses the extensions in wire order and calls the ticket
 *    parse callback when it meets the ticket, before or after SNI and ALPN
 *    depending on the client; its glue captures the first record from the
 *    wire and walks it with tri_ch_parse_record().
 * The bytes are the attacker's: every length is checked.
 */
#ifndef TICKETRING_LIB_CLIENTHELLO_H
#define TICKETRING_LIB_CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

#define TRI_SNI_MAX 255

/* The first host_name of a server_name extension body (RFC 6066 3) into
 * name (TRI_SNI_MAX bytes); its length, or 0 when the body is malformed or
 * holds no host name. */
size_t tri_ch_parse_sni(const uint8_t *ext, size_t len, uint8_t name[TRI_SNI_MAX]);

/* The protocol name list inside an ALPN extension body (RFC 7301 3.1):
 * *list points into ext, *list_len its length. 0, or -1 when malformed
 * (then the client offers nothing usable). */
int tri_ch_parse_alpn(const uint8_t *ext, size_t len, const uint8_t **list, size_t *list_len);

/* The obfuscated_ticket_age of identity 0 of a pre_shared_key extension
 * body (RFC 8446 4.2.11): identities<7..2^16-1> of {identity<1..2^16-1>,
 * uint32 obfuscated_ticket_age}, then binders<33..2^16-1> of
 * PskBinderEntry<32..255>, one binder per identity, nothing after. 0, or -1
 * when any of that does not hold (*age is then left alone). */
int tri_ch_parse_psk_age(const uint8_t *ext, size_t len, uint32_t *age);

/* ---- A whole ClientHello ----------------------------------------------- */

#define TRI_CH_RECORD_HEADER 5
/* The largest TLS record a ClientHello may come in (2^14 bytes of
 * plaintext, RFC 5246 6.2.1), header included. */
#define TRI_CH_RECORD_MAX (TRI_CH_RECORD_HEADER + 16384)

/* What tri_ch_parse_hello() found. Pointers point into the parsed bytes. */
struct tri_ch_exts {
    const uint8_t *sni; /* body of the last server_name extension, or NULL */
    size_t sni_len;
    uint32_t sni_count; /* server_name extensions seen (RFC 8446 4.2: at most one) */
    const uint8_t *alpn; /* body of the last ALPN extension, or NULL */
    size_t alpn_len;
    uint32_t alpn_count;
    uint32_t ticket_count; /* session_ticket extensions seen */
};

/* Walk a ClientHello message body (RFC 5246 7.4.1.2: client_version,
 * random, session_id<0..32>, cipher_suites<2..2^16-2>,
 * compression_methods<1..2^8-1>, then extensions<0..2^16-1> or nothing)
 * and note the extensions above. 0, or -1 when a length does not add up
 * (*out is then all zero). TLS only (a DTLS ClientHello has a cookie). */
int tri_ch_parse_hello(const uint8_t *body, size_t len, struct tri_ch_exts *out);

/* The same for a whole first record as it came from the wire: a handshake
 * record header (type 22, version 3.x, length), then exactly one ClientHello
 * message (type 1, 24-bit length) filling the record, as mbedTLS requires of
 * a TLS ClientHello. 0, or -1 (with *out all zero). */
int tri_ch_parse_record(const uint8_t *rec, size_t len, struct tri_ch_exts *out);

/* The length of the record whose 5-byte header is hdr, when it may carry a
 * ClientHello (type 22, version 3.x, 4..16384 bytes); 0 otherwise. */
size_t tri_ch_record_len(const uint8_t hdr[TRI_CH_RECORD_HEADER]);

#endif
