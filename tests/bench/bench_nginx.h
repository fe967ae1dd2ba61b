/* Baseline (b) of the handshake benchmark: nginx's session ticket key
 * callback (ngx_ssl_ticket_key_callback, src/event/ngx_event_openssl.c) on
 * OpenSSL's legacy HMAC_CTX interface, as nginx still installs it, and
 * OpenSSL 3.0's ticket code around such a callback for the callback-path
 * rows. Everything deprecated lives in bench_nginx.c (built with
 * -Wno-deprecated-declarations); this header uses no deprecated name. */
#ifndef TICKETRING_BENCH_NGINX_H
#define TICKETRING_BENCH_NGINX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define BN_KEY_BYTES 80 /* name(16) | HMAC(32) | AES-256(32): nginx's 80-byte file */

/* Give ctx n keys (copied; key 0 encrypts, every key decrypts) and install
 * the callback with SSL_CTX_set_tlsext_ticket_key_cb. 0 or -1. */
int bn_attach(SSL_CTX *ctx, const uint8_t *keys, size_t n);

/* What-if (x), not nginx: the same legacy interface used the way
 * libticketring's glue could use it -- contexts keyed once (an
 * EVP_CIPHER_CTX per direction and an HMAC_CTX for the one key given) and
 * copied into OpenSSL's per-ticket ones with EVP_CIPHER_CTX_copy and
 * HMAC_CTX_copy (3.0 has no way to copy a keyed EVP_MAC_CTX into the one it
 * hands an evp callback), IVs from iv_fn, errors bracketed with
 * ERR_set_mark as the glue does. No key ring lookup: it has one key.
 * Renews every TLS 1.3 ticket. 0 or -1. */
int bn_attach_copy(SSL_CTX *ctx, const uint8_t key[BN_KEY_BYTES], int (*iv_fn)(uint8_t iv[16]));

/* OpenSSL 3.0's construct_stateless_ticket / tls_decrypt_ticket around the
 * callback, without the session (de)serialisation: new cipher and HMAC_CTX
 * contexts, the callback, AES-256-CBC over `state` and HMAC-SHA256 over
 * name | IV | ciphertext, free. `s` is an SSL of an attached ctx. seal
 * returns 0 (ticket in out, *out_len) or -1; open returns the callback's
 * result (1 or 2) with the state in out, or <= 0. When cb_ns is non-NULL,
 * the time inside the callback is added to it. The callback is `cb`, or when
 * NULL the one attached to s's SSL_CTX (bn_attach or bn_attach_copy). */
/* A legacy (HMAC_CTX) ticket key callback: nginx's, the what-if, or
 * libticketring's own where OpenSSL still offers that interface. */
typedef int (*bn_legacy_cb)(SSL *, unsigned char *, unsigned char *, EVP_CIPHER_CTX *,
                            HMAC_CTX *, int);

int bn_seal(SSL *s, bn_legacy_cb cb, const uint8_t *state, size_t len, uint8_t *out,
            size_t cap, size_t *out_len, uint64_t *cb_ns);
int bn_open(SSL *s, bn_legacy_cb cb, const uint8_t *ticket, size_t len, uint8_t *out,
            size_t cap, size_t *out_len, uint64_t *cb_ns);

/* Steps of the legacy path alone, for the breakdown (each 0 or -1):
 * OpenSSL's ssl_hmac_new + ssl_hmac_free for a legacy callback (a wrapper
 * and HMAC_CTX_new); HMAC_Init_ex(key, EVP_sha256()) as nginx keys it, on a
 * reused context; a restart of that keyed context (HMAC_Init_ex with a NULL
 * key) + HMAC_Update + HMAC_Final over len bytes. */
int bn_step_hmac_ctx_new_free(void);
int bn_step_hmac_init(const uint8_t key[32]);
int bn_step_hmac_data(const uint8_t *data, size_t len, uint8_t mac[32]);
/* HMAC_CTX_copy of a keyed context into a reused one (what (x) does). */
int bn_step_hmac_copy(void);
/* Frees the context the two steps above reuse. */
void bn_steps_cleanup(void);

#endif
