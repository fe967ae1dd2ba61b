/*
 * The ticket key callbacks libticketring-openssl installs: the ring's keys
 * in OpenSSL's own ticket format. One body, two OpenSSL interfaces: the
 * HMAC_CTX callback where OpenSSL still has it (a keyed HMAC is copied per
 * ticket), else the EVP_MAC one (keyed per ticket). Exposed to the tests
 * and the benchmark, which drive them exactly as OpenSSL does.
 *
 * Encrypt (enc 1): fill key_name and iv, key ctx and the MAC context; 1, or
 * 0 for "no ticket". Decrypt: 2 (use and renew: TLS 1.3 always, an older
 * key), 1 (use), 0 (unknown key: full handshake). Never -1, which would
 * abort the handshake.
 */
#ifndef TICKETRING_OPENSSL_TICKET_KEY_CB_H
#define TICKETRING_OPENSSL_TICKET_KEY_CB_H

#include "tls_key.h"

#include <openssl/ssl.h>

#ifdef TRI_OSSL_HAVE_EVP_CB
int tri_ossl_ticket_key_evp_cb(SSL *s, unsigned char key_name[16],
                               unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *ctx,
                               EVP_MAC_CTX *hctx, int enc);
#endif
#ifdef TRI_OSSL_HAVE_LEGACY_CB
int tri_ossl_ticket_key_legacy_cb(SSL *s, unsigned char key_name[16],
                                  unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *ctx,
                                  HMAC_CTX *hctx, int enc);
#endif

/* Install the preferred callback on ctx (NULL callbacks: remove both).
 * Where both exist, tests set tri_ossl_ticket_cb_evp_only to 1 to run the
 * EVP_MAC one. 1 on success, 0 on failure. */
int tri_ossl_set_ticket_key_cb(SSL_CTX *ctx, int install);
extern int tri_ossl_ticket_cb_evp_only;

#endif
