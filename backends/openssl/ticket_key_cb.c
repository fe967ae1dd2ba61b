/* Uses the HMAC_CTX ticket interface on purpose (tls_key.h). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "ticket_key_cb.h"

#include <string.h>

#include <openssl/err.h>

#include "conn.h"
#include "ticket_iv.h"
#include "ticketring/openssl.h"

struct install_args {
    int enc;
    uint8_t *key_name;
    const uint8_t *iv;
    EVP_CIPHER_CTX *ctx;
    void *mac;
    int legacy;
    uint32_t flags;
};

/* Runs with the key pinned by tr_ring_tls_key(). */
static int install(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                   void *arg)
{
    struct install_args *a = arg;

    a->flags = flags;
    if (a->enc)
        memcpy(a->key_name, name, TR_KEY_NAME_BYTES);
    return tri_ossl_tls_key_install(key_state, a->enc, a->iv, a->ctx, a->mac, a->legacy);
}

int tri_ossl_ticket_cb_evp_only;

static int key_cb(SSL *s, unsigned char *key_name, unsigned char *iv, EVP_CIPHER_CTX *ctx,
                  void *mac, int legacy, int enc)
{
    struct tri_ossl_attachment *att = tri_ossl_attachment_for(s);
    struct tri_ossl_conn *conn = tri_ossl_conn_get(s);
    struct install_args a = {enc, key_name, iv, ctx, mac, legacy, 0};
    int rc;

    if (att == NULL)
        return 0;
    ERR_set_mark();
    if (enc) {
        if (conn != NULL && conn->no_ticket) {
            ERR_pop_to_mark();
            return 0;
        }
        rc = tri_ossl_ticket_iv(iv);
        if (rc == 0)
            rc = tr_ring_tls_key(att->ring, tr_crypto_openssl(), NULL, install, &a);
        ERR_pop_to_mark();
        if (rc != 0)
            return 0;
        if (SSL_session_reused(s))
            tr_ring_record(att->ring, TR_EVENT_TICKET_RENEWED);
        return 1;
    }
    rc = tr_ring_tls_key(att->ring, tr_crypto_openssl(), key_name, install, &a);
    ERR_pop_to_mark();
    if (rc != 0) {
        if (conn != NULL)
            conn->key_result = rc == TR_E_TICKET_OTHER_FORMAT ? TRI_KEY_OTHER_FORMAT : TRI_KEY_UNKNOWN;
        return 0;
    }
    if (conn != NULL)
        conn->key_result = (a.flags & TR_TLS_KEY_RENEW) ? TRI_KEY_FOUND_OLD : TRI_KEY_FOUND;
    /* OpenSSL clients use a TLS 1.3 ticket once: without a new one at
     * every resumption they run out and fall back to full handshakes. */
    return (a.flags & TR_TLS_KEY_RENEW) || SSL_version(s) == TLS1_3_VERSION ? 2 : 1;
}

#ifdef TRI_OSSL_HAVE_EVP_CB
int tri_ossl_ticket_key_evp_cb(SSL *s, unsigned char key_name[16],
                               unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *ctx,
                               EVP_MAC_CTX *hctx, int enc)
{
    return key_cb(s, key_name, iv, ctx, hctx, 0, enc);
}
#endif

#ifdef TRI_OSSL_HAVE_LEGACY_CB
int tri_ossl_ticket_key_legacy_cb(SSL *s, unsigned char key_name[16],
                                  unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *ctx,
                                  HMAC_CTX *hctx, int enc)
{
    return key_cb(s, key_name, iv, ctx, hctx, 1, enc);
}
#endif

int tri_ossl_set_ticket_key_cb(SSL_CTX *ctx, int install)
{
    int ok = 1;
    /* OpenSSL prefers the EVP_MAC callback when both are set: only ever
     * leave one in place. */
#ifdef TRI_OSSL_HAVE_EVP_CB
    ok = SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, NULL) == 1;
#endif
#ifdef TRI_OSSL_HAVE_LEGACY_CB
    ok = ok && SSL_CTX_set_tlsext_ticket_key_cb(ctx, NULL) == 1;
    if (install && !tri_ossl_ticket_cb_evp_only)
        return ok && SSL_CTX_set_tlsext_ticket_key_cb(ctx, tri_ossl_ticket_key_legacy_cb) == 1;
#endif
#ifdef TRI_OSSL_HAVE_EVP_CB
    if (install)
        return ok && SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tri_ossl_ticket_key_evp_cb) == 1;
#endif
    return ok && !install;
}
