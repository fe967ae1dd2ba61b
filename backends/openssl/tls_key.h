/*
 * Per-key state for OpenSSL's own ticket format (name | IV | AES-256-CBC |
 * HMAC-SHA256), built once per key when the ring builds a key set: cipher
 * contexts whose AES key schedules are already computed and, where OpenSSL
 * still offers the HMAC_CTX ticket callback, an HMAC context already keyed.
 * A ticket then costs context copies and an IV instead of algorithm fetches
 * and key expansions.
 */
#ifndef TICKETRING_OPENSSL_TLS_KEY_H
#define TICKETRING_OPENSSL_TLS_KEY_H

/* The HMAC_CTX callback is deprecated in 3.0 but not removed, and it is the
 * only one that lets a keyed HMAC be copied instead of keyed per ticket
 * (measured: 0.43 of an nginx-style callback's cost, against at best 0.70
 * through the EVP_MAC callback; tests/bench/bench_handshake). The two files
 * that call it define OPENSSL_SUPPRESS_DEPRECATED; nothing else does. */

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/opensslv.h>

#include "ticketring/ticketring.h"

#define TRI_OSSL_IV_BYTES 16 /* AES-CBC */

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#define TRI_OSSL_HAVE_EVP_CB 1
#endif
#if OPENSSL_VERSION_NUMBER < 0x30000000L || !defined(OPENSSL_NO_DEPRECATED_3_0)
#define TRI_OSSL_HAVE_LEGACY_CB 1
#endif

/* The crypto table's tls_key_new/tls_key_free. */
int tri_ossl_tls_key_new(const uint8_t key[TR_KEY_BYTES], void **state);
void tri_ossl_tls_key_free(void *state);

/* Set up OpenSSL's per-ticket contexts for key `state`: ctx gets the keyed
 * cipher for encryption (enc 1) or decryption (enc 0) with `iv`, the MAC
 * context the HMAC key. `mac` is an EVP_MAC_CTX when `legacy` is 0, an
 * HMAC_CTX otherwise. 0 or TR_E_CRYPTO. Thread-safe: the state is only read. */
int tri_ossl_tls_key_install(const void *state, int enc, const uint8_t iv[TRI_OSSL_IV_BYTES],
                             EVP_CIPHER_CTX *ctx, void *mac, int legacy);

#endif
