/*
 * The ticket key callback libticketring-openssl installs: the ring's keys
 * in OpenSSL's own ticket format. Exposed to the benchmark, which times it
 * exactly as OpenSSL calls it.
 */
#ifndef TICKETRING_OPENSSL_TICKET_KEY_CB_H
#define TICKETRING_OPENSSL_TICKET_KEY_CB_H

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tls_key.h"

/* Encrypt (enc 1): fill key_name and iv, key ctx and hctx; 1, or 0 for "no
 * ticket". Decrypt: 2 (use and renew: TLS 1.3 always, an older key), 1
 * (use), 0 (unknown key: full handshake). Never -1, which would abort the
 * handshake. */
int tri_ossl_ticket_key_cb(SSL *s, unsigned char key_name[16],
                           unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *ctx,
                           tri_ossl_mac_ctx *hctx, int enc);

#endif
