/*
 * Per-key state for OpenSSL's own ticket format (name | IV | AES-256-CBC |
 * HMAC-SHA256), built once per key when the ring builds a key set: cipher
 * contexts whose AES key schedules are already computed, so a ticket costs
 * a context copy and an IV instead of a fetch and a key expansion.
 */
#ifndef TICKETRING_OPENSSL_TLS_KEY_H
#define TICKETRING_OPENSSL_TLS_KEY_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "ticketring/ticketring.h"

#define TRI_OSSL_IV_BYTES 16 /* AES-CBC */

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
typedef EVP_MAC_CTX tri_ossl_mac_ctx;
#else
#include <openssl/hmac.h>
typedef HMAC_CTX tri_ossl_mac_ctx;
#endif

/* The crypto table's tls_key_new/tls_key_free. */
int tri_ossl_tls_key_new(const uint8_t key[TR_KEY_BYTES], void **state);
void tri_ossl_tls_key_free(void *state);

/* Set up OpenSSL's per-ticket contexts for key `state`: ctx gets the keyed
 * cipher for encryption (enc 1) or decryption (enc 0) with `iv`, hctx the
 * HMAC key. 0 or TR_E_CRYPTO. Thread-safe: the state is only read. */
int tri_ossl_tls_key_install(const void *state, int enc, const uint8_t iv[TRI_OSSL_IV_BYTES],
                             EVP_CIPHER_CTX *ctx, tri_ossl_mac_ctx *hctx);

#endif
