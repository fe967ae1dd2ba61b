/* OpenSSL 3.0's ticket code (ssl/statem/statem_srvr.c
 * construct_stateless_ticket, ssl/t1_lib.c tls_decrypt_ticket) reproduced
 * around an evp ticket key callback, or with OpenSSL's built-in ticket keys
 * when there is no callback, minus the session (de)serialisation: a new
 * EVP_CIPHER_CTX and (as ssl_hmac_new does) EVP_MAC_fetch("HMAC") +
 * EVP_MAC_CTX_new, the callback or the built-in key setup, AES-256-CBC over
 * the session and HMAC-SHA256 over name | IV | ciphertext, free. The legacy
 * HMAC_CTX twin is bn_seal/bn_open in bench_nginx.h. */
#ifndef TICKETRING_BENCH_EVP_PATH_H
#define TICKETRING_BENCH_EVP_PATH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

typedef int (*be_evp_cb)(SSL *s, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                         EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc);

/* OpenSSL's built-in ticket keys (SSL_CTX's tick_key_name, secure->tick_*). */
struct be_builtin_keys {
    uint8_t name[16];
    uint8_t hmac_key[32];
    uint8_t aes_key[32];
};

/* Seal `state` into out: with cb when non-NULL, else with `keys` the way
 * OpenSSL does without a callback. 0 or -1. When cb_ns is non-NULL, the
 * time inside the callback (or the built-in key setup that replaces it) is
 * added to it. */
int be_seal(SSL *s, be_evp_cb cb, const struct be_builtin_keys *keys, const uint8_t *state,
            size_t len, uint8_t *out, size_t cap, size_t *out_len, uint64_t *cb_ns);

/* Open a ticket made by be_seal: the callback's result (1 or 2; the
 * built-in path gives 2 in TLS 1.3 and 1 otherwise, as OpenSSL renews), or
 * <= 0. */
int be_open(SSL *s, be_evp_cb cb, const struct be_builtin_keys *keys, const uint8_t *ticket,
            size_t len, uint8_t *out, size_t cap, size_t *out_len, uint64_t *cb_ns);

/* OpenSSL's ssl_hmac_new + ssl_hmac_free for an evp callback or the
 * built-in keys, alone (a step of the breakdown). 0 or -1. */
int be_step_ssl_hmac_new_free(void);

#endif
