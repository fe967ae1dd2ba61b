/*
 * The SNI, the ALPN offer and the PSK ticket age of a ClientHello, parsed
 * from the raw extension bodies. OpenSSL decrypts a ticket before its
 * servername and ALPN callbacks run, so the binding check needs them
 * straight from the ClientHello; OpenSSL has no getter for the ticket age
 * the client claims, which the early-data freshness check needs. The bytes
 * are the attacker's: every length is checked.
 */
#ifndef TICKETRING_OPENSSL_CLIENTHELLO_H
#define TICKETRING_OPENSSL_CLIENTHELLO_H

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

#endif
