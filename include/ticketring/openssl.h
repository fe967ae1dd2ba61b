/*
 * libticketring with OpenSSL (libticketring-openssl, pkg-config
 * "ticketring-openssl").
 */
#ifndef TICKETRING_OPENSSL_H
#define TICKETRING_OPENSSL_H

#include <ticketring/ticketring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The OpenSSL crypto backend (EVP: AES-256-GCM, HMAC-SHA256, SHA-256,
 * RAND_bytes), to pass to tr_ring_new(). Static storage; never freed.
 * Algorithms are fetched once, from the default library context, on first
 * use: load a FIPS or other default provider before creating a ring.
 * Thread-safe. */
TR_EXPORT const tr_crypto *tr_crypto_openssl(void);

#ifdef __cplusplus
}
#endif

#endif /* TICKETRING_OPENSSL_H */
