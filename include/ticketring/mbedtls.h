/*
 * libticketring with mbedTLS (libticketring-mbedtls, pkg-config
 * "ticketring-mbedtls").
 */
#ifndef TICKETRING_MBEDTLS_H
#define TICKETRING_MBEDTLS_H

#include <ticketring/ticketring.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The mbedTLS crypto backend (AES-256-GCM, HMAC-SHA256, SHA-256, and the
 * operating system's getrandom() so a forked child never repeats its
 * parent's bytes), to pass to tr_ring_new(). Static storage; never freed.
 * Thread-safe. */
TR_EXPORT const tr_crypto *tr_crypto_mbedtls(void);

#ifdef __cplusplus
}
#endif

#endif /* TICKETRING_MBEDTLS_H */
