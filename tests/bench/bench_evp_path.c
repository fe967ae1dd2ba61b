#include "bench_evp_path.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "bench_stats.h"

/* ssl/t1_lib.c's SSL_HMAC: allocated per ticket, around the MAC context. */
struct ssl_hmac {
    EVP_MAC_CTX *ctx;
    void *old_ctx;
};

/* ssl_hmac_new: the "HMAC" fetch happens per ticket in OpenSSL 3.0. */
static struct ssl_hmac *ssl_hmac_new(void)
{
    struct ssl_hmac *h = OPENSSL_zalloc(sizeof(*h));
    EVP_MAC *mac;

    if (h == NULL)
        return NULL;
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL || (h->ctx = EVP_MAC_CTX_new(mac)) == NULL) {
        EVP_MAC_free(mac);
        OPENSSL_free(h);
        return NULL;
    }
    EVP_MAC_free(mac);
    return h;
}

static void ssl_hmac_free(struct ssl_hmac *h)
{
    if (h != NULL) {
        EVP_MAC_CTX_free(h->ctx);
        OPENSSL_free(h);
    }
}

int be_step_ssl_hmac_new_free(void)
{
    struct ssl_hmac *h = ssl_hmac_new();
    ssl_hmac_free(h);
    return h != NULL ? 0 : -1;
}

/* ssl_hmac_init: the digest goes by name. */
static int ssl_hmac_init(struct ssl_hmac *h, const uint8_t *key, size_t len)
{
    char md[] = "SHA256";
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_init(h->ctx, key, len, params) == 1;
}

/* The no-callback branches of both functions. */
static int builtin_keys_setup(SSL *s, const struct be_builtin_keys *k, int enc, uint8_t *iv,
                              EVP_CIPHER_CTX *ctx, struct ssl_hmac *h)
{
    EVP_CIPHER *cbc = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    int ok;

    (void)s;
    if (cbc == NULL)
        return 0;
    if (enc)
        ok = RAND_bytes_ex(NULL, iv, (size_t)EVP_CIPHER_get_iv_length(cbc), 0) > 0 &&
             EVP_EncryptInit_ex(ctx, cbc, NULL, k->aes_key, iv) == 1 &&
             ssl_hmac_init(h, k->hmac_key, sizeof(k->hmac_key));
    else
        ok = ssl_hmac_init(h, k->hmac_key, sizeof(k->hmac_key)) &&
             EVP_DecryptInit_ex(ctx, cbc, NULL, k->aes_key, iv) == 1;
    EVP_CIPHER_free(cbc);
    return ok;
}

int be_seal(SSL *s, be_evp_cb cb, const struct be_builtin_keys *keys, const uint8_t *state,
            size_t len, uint8_t *out, size_t cap, size_t *out_len, uint64_t *cb_ns)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    struct ssl_hmac *h = ssl_hmac_new();
    unsigned char key_name[16], iv[EVP_MAX_IV_LENGTH];
    size_t off, hlen = 0;
    uint64_t t0;
    int iv_len, n1 = 0, n2 = 0, rc = -1, ok;

    if (ctx == NULL || h == NULL)
        goto out;
    t0 = cb_ns != NULL ? bs_now_ns() : 0;
    if (cb != NULL) {
        ok = cb(s, key_name, iv, ctx, h->ctx, 1) == 1;
    } else {
        ok = builtin_keys_setup(s, keys, 1, iv, ctx, h);
        memcpy(key_name, keys->name, 16);
    }
    if (cb_ns != NULL)
        *cb_ns += bs_now_ns() - t0;
    if (!ok)
        goto out;
    iv_len = EVP_CIPHER_CTX_get_iv_length(ctx);
    if (iv_len < 0 || cap < 16 + (size_t)iv_len + len + 16 + 32)
        goto out;
    memcpy(out, key_name, 16);
    memcpy(out + 16, iv, (size_t)iv_len);
    off = 16 + (size_t)iv_len;
    if (EVP_EncryptUpdate(ctx, out + off, &n1, state, (int)len) != 1 ||
        EVP_EncryptFinal(ctx, out + off + n1, &n2) != 1)
        goto out;
    off += (size_t)(n1 + n2);
    if (EVP_MAC_update(h->ctx, out, off) != 1 ||
        EVP_MAC_final(h->ctx, out + off, &hlen, EVP_MAX_MD_SIZE) != 1 || hlen != 32)
        goto out;
    *out_len = off + hlen;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    ssl_hmac_free(h);
    return rc;
}

int be_open(SSL *s, be_evp_cb cb, const struct be_builtin_keys *keys, const uint8_t *ticket,
            size_t len, uint8_t *out, size_t cap, size_t *out_len, uint64_t *cb_ns)
{
    struct ssl_hmac *h = ssl_hmac_new();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char tick_hmac[EVP_MAX_MD_SIZE];
    /* OpenSSL hands the callback pointers into the ticket it received. */
    unsigned char *nctick = (unsigned char *)ticket;
    size_t mlen, iv_len;
    uint64_t t0;
    int rv = -1, n1 = 0, n2 = 0;

    if (ctx == NULL || h == NULL || len < 16 + EVP_MAX_IV_LENGTH)
        goto out;
    t0 = cb_ns != NULL ? bs_now_ns() : 0;
    if (cb != NULL) {
        rv = cb(s, nctick, nctick + 16, ctx, h->ctx, 0);
    } else if (memcmp(ticket, keys->name, 16) != 0) {
        rv = 0;
    } else {
        rv = builtin_keys_setup(s, keys, 0, nctick + 16, ctx, h) ? 1 : -1;
        if (rv == 1 && SSL_version(s) == TLS1_3_VERSION)
            rv = 2;
    }
    if (cb_ns != NULL)
        *cb_ns += bs_now_ns() - t0;
    if (rv <= 0)
        goto out;
    mlen = EVP_MAC_CTX_get_mac_size(h->ctx);
    iv_len = (size_t)EVP_CIPHER_CTX_get_iv_length(ctx);
    if (mlen == 0 || len <= 16 + iv_len + mlen) {
        rv = -1;
        goto out;
    }
    len -= mlen;
    if (EVP_MAC_update(h->ctx, ticket, len) != 1 ||
        EVP_MAC_final(h->ctx, tick_hmac, NULL, sizeof(tick_hmac)) != 1 ||
        CRYPTO_memcmp(tick_hmac, ticket + len, mlen) != 0 || len - 16 - iv_len > cap ||
        EVP_DecryptUpdate(ctx, out, &n1, ticket + 16 + iv_len, (int)(len - 16 - iv_len)) != 1 ||
        EVP_DecryptFinal(ctx, out + n1, &n2) != 1) {
        rv = -1;
        goto out;
    }
    *out_len = (size_t)(n1 + n2);
out:
    EVP_CIPHER_CTX_free(ctx);
    ssl_hmac_free(h);
    return rv;
}
