/*
 * The ticket_age_add of an OpenSSL session (RFC 8446 4.6.1), which the
 * early-data freshness check needs to turn the client's obfuscated ticket
 * age into an age. OpenSSL has no getter for it; its session encoding
 * (ssl/ssl_asn1.c, SSL_SESSION_ASN1) has carried it unchanged from 1.1.1
 * through 3.x as field [14] EXPLICIT INTEGER tlsext_tick_age_add of the
 * outer SEQUENCE, omitted when 0.
 */
#ifndef TICKETRING_OPENSSL_SESSION_DER_H
#define TICKETRING_OPENSSL_SESSION_DER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* The session's ticket_age_add into *age_add: 0, or -1 when the session
 * cannot be encoded or its encoding is not as above. The encoding holds the
 * session's master secret: it is wiped before this returns. */
int tri_ossl_session_age_add(SSL_SESSION *ss, uint32_t *age_add);

/* The same from a session's DER: a SEQUENCE spanning exactly len bytes
 * whose elements are walked one by one; [14] holds an INTEGER in 0..2^32-1
 * (absent: 0). -1 on any length past its container, an indefinite or
 * over-long length, a high tag number, or [14] not holding such an
 * INTEGER. */
int tri_ossl_der_age_add(const uint8_t *der, size_t len, uint32_t *age_add);

#endif
