/*
 * nginx's ticket key callback, reproduced for the benchmark: what it does
 * per call is the point, so the calls are nginx's (see bench_nginx.h).
 * Left out: logging, and ngx_ssl_rotate_ticket_keys, which returns at once
 * for keys from files (key[0].shared == 0). nginx finds its keys through
 * the connection's SSL_CTX ex_data; so does this.
 *
 * The legacy callback interface (HMAC_CTX, SSL_CTX_set_tlsext_ticket_key_cb)
 * is deprecated in OpenSSL 3.0, hence -Wno-deprecated-declarations for this
 * file only.
 */
#include "bench_nginx.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "bench_stats.h"

struct bn_key {
    uint8_t name[16];
    uint8_t hmac_key[32];
    uint8_t aes_key[32];
};

struct bn_keys {
    size_t n;
    struct bn_key key[];
};

static int keys_index = -1;

static void keys_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    struct bn_keys *k = ptr;
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (k != NULL)
        OPENSSL_clear_free(k, sizeof(*k) + k->n * sizeof(k->key[0]));
}

static int ticket_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                         HMAC_CTX *hctx, int enc)
{
    const EVP_MD *digest = EVP_sha256();
    const EVP_CIPHER *cipher = EVP_aes_256_cbc();
    struct bn_keys *keys = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keys_index);
    struct bn_key *key;
    size_t i;

    if (keys == NULL || keys->n == 0)
        return -1;
    key = keys->key;
    if (enc == 1) {
        if (RAND_bytes(iv, EVP_CIPHER_iv_length(cipher)) != 1 ||
            EVP_EncryptInit_ex(ectx, cipher, NULL, key[0].aes_key, iv) != 1 ||
            HMAC_Init_ex(hctx, key[0].hmac_key, 32, digest, NULL) != 1)
            return -1;
        memcpy(name, key[0].name, 16);
        return 1;
    }
    for (i = 0; i < keys->n; i++)
        if (memcmp(name, key[i].name, 16) == 0)
            break;
    if (i == keys->n)
        return 0;
    if (HMAC_Init_ex(hctx, key[i].hmac_key, 32, digest, NULL) != 1 ||
        EVP_DecryptInit_ex(ectx, cipher, NULL, key[i].aes_key, iv) != 1)
        return -1;
    if (SSL_version(ssl) == TLS1_3_VERSION)
        return 2;
    /* nginx: keys from files all carry an expiry, so a non-default key
     * renews. */
    return i != 0 ? 2 : 1;
}

/* ---- What-if (x): keyed contexts copied ---------------------------------- */

struct bn_copy_key {
    uint8_t name[16];
    EVP_CIPHER_CTX *enc, *dec;
    HMAC_CTX *hmac;
    int (*iv_fn)(uint8_t iv[16]);
};

static int copy_index = -1;

static void copy_key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                          void *argp)
{
    struct bn_copy_key *k = ptr;
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (k != NULL) {
        EVP_CIPHER_CTX_free(k->enc);
        EVP_CIPHER_CTX_free(k->dec);
        HMAC_CTX_free(k->hmac);
        OPENSSL_clear_free(k, sizeof(*k));
    }
}

static int copy_key_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                       HMAC_CTX *hctx, int enc)
{
    struct bn_copy_key *k = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), copy_index);
    int ok;

    if (k == NULL)
        return 0;
    if (!enc && memcmp(name, k->name, 16) != 0)
        return 0;
    ERR_set_mark();
    ok = (!enc || k->iv_fn(iv) == 0) && EVP_CIPHER_CTX_copy(ectx, enc ? k->enc : k->dec) == 1 &&
         EVP_CipherInit_ex(ectx, NULL, NULL, NULL, iv, enc) == 1 &&
         HMAC_CTX_copy(hctx, k->hmac) == 1;
    ERR_pop_to_mark();
    if (!ok)
        return 0;
    if (enc) {
        memcpy(name, k->name, 16);
        return 1;
    }
    return SSL_version(ssl) == TLS1_3_VERSION ? 2 : 1;
}

int bn_attach_copy(SSL_CTX *ctx, const uint8_t key[BN_KEY_BYTES], int (*iv_fn)(uint8_t iv[16]))
{
    struct bn_copy_key *k;

    if (copy_index < 0)
        copy_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, copy_key_free);
    if (copy_index < 0 || (k = OPENSSL_zalloc(sizeof(*k))) == NULL)
        return -1;
    memcpy(k->name, key, 16);
    k->iv_fn = iv_fn;
    k->enc = EVP_CIPHER_CTX_new();
    k->dec = EVP_CIPHER_CTX_new();
    k->hmac = HMAC_CTX_new();
    if (k->enc == NULL || k->dec == NULL || k->hmac == NULL ||
        EVP_EncryptInit_ex(k->enc, EVP_aes_256_cbc(), NULL, key + 48, NULL) != 1 ||
        EVP_DecryptInit_ex(k->dec, EVP_aes_256_cbc(), NULL, key + 48, NULL) != 1 ||
        HMAC_Init_ex(k->hmac, key + 16, 32, EVP_sha256(), NULL) != 1 ||
        SSL_CTX_set_ex_data(ctx, copy_index, k) != 1) {
        copy_key_free(NULL, k, NULL, 0, 0, NULL);
        return -1;
    }
    return SSL_CTX_set_tlsext_ticket_key_cb(ctx, copy_key_cb) == 1 ? 0 : -1;
}

/* The legacy callback attached to s's SSL_CTX by this file. */
static bn_legacy_cb cb_of(SSL *s)
{
    if (copy_index >= 0 && SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), copy_index) != NULL)
        return copy_key_cb;
    return ticket_key_cb;
}

int bn_attach(SSL_CTX *ctx, const uint8_t *raw, size_t n)
{
    struct bn_keys *k;

    if (keys_index < 0)
        keys_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, keys_free);
    if (keys_index < 0 || n == 0)
        return -1;
    k = OPENSSL_zalloc(sizeof(*k) + n * sizeof(k->key[0]));
    if (k == NULL)
        return -1;
    k->n = n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = raw + i * BN_KEY_BYTES;
        memcpy(k->key[i].name, p, 16);
        memcpy(k->key[i].hmac_key, p + 16, 32);
        memcpy(k->key[i].aes_key, p + 48, 32);
    }
    if (SSL_CTX_set_ex_data(ctx, keys_index, k) != 1) {
        keys_free(NULL, k, NULL, 0, 0, NULL);
        return -1;
    }
    return SSL_CTX_set_tlsext_ticket_key_cb(ctx, ticket_key_cb) == 1 ? 0 : -1;
}

/* ---- OpenSSL 3.0's ticket code around a legacy callback ----------------- */

/* ssl/t1_lib.c's SSL_HMAC: OpenSSL allocates this wrapper per ticket too. */
struct ssl_hmac {
    void *evp_mac_ctx;
    HMAC_CTX *old_ctx;
};

static struct ssl_hmac *ssl_hmac_new_legacy(void)
{
    struct ssl_hmac *h = OPENSSL_zalloc(sizeof(*h));
    if (h != NULL && (h->old_ctx = HMAC_CTX_new()) == NULL) {
        OPENSSL_free(h);
        h = NULL;
    }
    return h;
}

static void ssl_hmac_free_legacy(struct ssl_hmac *h)
{
    if (h != NULL) {
        HMAC_CTX_free(h->old_ctx);
        OPENSSL_free(h);
    }
}

int bn_seal(SSL *s, bn_legacy_cb cb, const uint8_t *state, size_t len, uint8_t *out,
            size_t cap, size_t *out_len, uint64_t *cb_ns)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    struct ssl_hmac *h = ssl_hmac_new_legacy();
    unsigned char key_name[16], iv[EVP_MAX_IV_LENGTH];
    unsigned int hlen = 0;
    int iv_len, n1 = 0, n2 = 0, rc = -1, rv;
    uint64_t t0;
    size_t off;

    if (ctx == NULL || h == NULL)
        goto out;
    t0 = cb_ns != NULL ? bs_now_ns() : 0;
    rv = (cb != NULL ? cb : cb_of(s))(s, key_name, iv, ctx, h->old_ctx, 1);
    if (cb_ns != NULL)
        *cb_ns += bs_now_ns() - t0;
    if (rv != 1)
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
    if (HMAC_Update(h->old_ctx, out, off) != 1 || HMAC_Final(h->old_ctx, out + off, &hlen) != 1 ||
        hlen != 32)
        goto out;
    *out_len = off + hlen;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    ssl_hmac_free_legacy(h);
    return rc;
}

int bn_open(SSL *s, bn_legacy_cb cb, const uint8_t *ticket, size_t len, uint8_t *out,
            size_t cap, size_t *out_len, uint64_t *cb_ns)
{
    struct ssl_hmac *h = ssl_hmac_new_legacy();
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
    rv = (cb != NULL ? cb : cb_of(s))(s, nctick, nctick + 16, ctx, h->old_ctx, 0);
    if (cb_ns != NULL)
        *cb_ns += bs_now_ns() - t0;
    if (rv <= 0)
        goto out;
    mlen = HMAC_size(h->old_ctx);
    iv_len = (size_t)EVP_CIPHER_CTX_get_iv_length(ctx);
    if (mlen == 0 || len <= 16 + iv_len + mlen) {
        rv = -1;
        goto out;
    }
    len -= mlen;
    if (HMAC_Update(h->old_ctx, ticket, len) != 1 ||
        HMAC_Final(h->old_ctx, tick_hmac, NULL) != 1 ||
        CRYPTO_memcmp(tick_hmac, ticket + len, mlen) != 0 || len - 16 - iv_len > cap ||
        EVP_DecryptUpdate(ctx, out, &n1, ticket + 16 + iv_len, (int)(len - 16 - iv_len)) != 1 ||
        EVP_DecryptFinal(ctx, out + n1, &n2) != 1) {
        rv = -1;
        goto out;
    }
    *out_len = (size_t)(n1 + n2);
out:
    EVP_CIPHER_CTX_free(ctx);
    ssl_hmac_free_legacy(h);
    return rv;
}

/* ---- Steps ---------------------------------------------------------------- */

static HMAC_CTX *step_ctx;

int bn_step_hmac_ctx_new_free(void)
{
    struct ssl_hmac *h = ssl_hmac_new_legacy();
    ssl_hmac_free_legacy(h);
    return h != NULL ? 0 : -1;
}

int bn_step_hmac_init(const uint8_t key[32])
{
    if (step_ctx == NULL && (step_ctx = HMAC_CTX_new()) == NULL)
        return -1;
    return HMAC_Init_ex(step_ctx, key, 32, EVP_sha256(), NULL) == 1 ? 0 : -1;
}

int bn_step_hmac_data(const uint8_t *data, size_t len, uint8_t mac[32])
{
    unsigned int n = 0;
    /* A NULL key restarts with the key already set. */
    if (step_ctx == NULL || HMAC_Init_ex(step_ctx, NULL, 0, NULL, NULL) != 1 ||
        HMAC_Update(step_ctx, data, len) != 1 || HMAC_Final(step_ctx, mac, &n) != 1)
        return -1;
    return n == 32 ? 0 : -1;
}

static HMAC_CTX *copy_dst;

int bn_step_hmac_copy(void)
{
    if (copy_dst == NULL && (copy_dst = HMAC_CTX_new()) == NULL)
        return -1;
    return step_ctx != NULL && HMAC_CTX_copy(copy_dst, step_ctx) == 1 ? 0 : -1;
}

void bn_steps_cleanup(void)
{
    HMAC_CTX_free(step_ctx);
    HMAC_CTX_free(copy_dst);
    step_ctx = NULL;
    copy_dst = NULL;
}
