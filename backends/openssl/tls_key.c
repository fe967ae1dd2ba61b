/* Uses the HMAC_CTX ticket interface on purpose (tls_key.h). */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "tls_key.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#endif

#include "crypto.h"

#define HMAC_KEY_BYTES 32
#define AES_KEY_BYTES 32

_Static_assert(TR_KEY_NAME_BYTES + HMAC_KEY_BYTES + AES_KEY_BYTES == TR_KEY_BYTES,
               "a key is name | HMAC secret | AES key");

struct tri_ossl_key {
    EVP_CIPHER_CTX *enc; /* keyed, no IV yet; only ever copied from */
    EVP_CIPHER_CTX *dec;
#ifdef TRI_OSSL_HAVE_LEGACY_CB
    HMAC_CTX *hmac; /* keyed; only ever copied from */
#endif
    uint8_t hmac_key[HMAC_KEY_BYTES];
};

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
/* EVP_aes_256_cbc() would be an implicit fetch on every use. */
static pthread_once_t cbc_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *cbc_alg;

static void fetch_cbc(void)
{
    ERR_set_mark();
    cbc_alg = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    ERR_pop_to_mark();
}

static const EVP_CIPHER *cbc(void)
{
    return pthread_once(&cbc_once, fetch_cbc) == 0 ? cbc_alg : NULL;
}
#else
static const EVP_CIPHER *cbc(void)
{
    return EVP_aes_256_cbc();
}
#endif

void tri_ossl_tls_key_free(void *state)
{
    struct tri_ossl_key *k = state;

    if (k == NULL)
        return;
    EVP_CIPHER_CTX_free(k->enc); /* cleanses the key schedule */
    EVP_CIPHER_CTX_free(k->dec);
#ifdef TRI_OSSL_HAVE_LEGACY_CB
    HMAC_CTX_free(k->hmac); /* cleanses the padded keys */
#endif
    OPENSSL_clear_free(k, sizeof(*k));
}

int tri_ossl_tls_key_new(const uint8_t key[TR_KEY_BYTES], void **state)
{
    const uint8_t *aes = key + TR_KEY_NAME_BYTES + HMAC_KEY_BYTES;
    const EVP_CIPHER *alg = cbc();
    struct tri_ossl_key *k;
    int ok;

    *state = NULL;
    if (alg == NULL)
        return TR_E_CRYPTO;
    k = OPENSSL_zalloc(sizeof(*k));
    if (k == NULL)
        return TR_E_NOMEM;
    ERR_set_mark();
    k->enc = EVP_CIPHER_CTX_new();
    k->dec = EVP_CIPHER_CTX_new();
    ok = k->enc != NULL && k->dec != NULL &&
         EVP_EncryptInit_ex(k->enc, alg, NULL, aes, NULL) == 1 &&
         EVP_DecryptInit_ex(k->dec, alg, NULL, aes, NULL) == 1;
#ifdef TRI_OSSL_HAVE_LEGACY_CB
    k->hmac = ok ? HMAC_CTX_new() : NULL;
    ok = k->hmac != NULL && HMAC_Init_ex(k->hmac, key + TR_KEY_NAME_BYTES, HMAC_KEY_BYTES,
                                         EVP_sha256(), NULL) == 1;
#endif
    ERR_pop_to_mark();
    if (!ok) {
        tri_ossl_tls_key_free(k);
        return TR_E_CRYPTO;
    }
    memcpy(k->hmac_key, key + TR_KEY_NAME_BYTES, HMAC_KEY_BYTES);
    *state = k;
    return 0;
}

int tri_ossl_tls_key_install(const void *state, int enc, const uint8_t iv[TRI_OSSL_IV_BYTES],
                             EVP_CIPHER_CTX *ctx, void *mac, int legacy)
{
    const struct tri_ossl_key *k = state;
    int ok;

    if (k == NULL)
        return TR_E_CRYPTO;
    /* Concurrent copies only read the source contexts. */
    ok = EVP_CIPHER_CTX_copy(ctx, enc ? k->enc : k->dec) == 1 &&
         EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, enc) == 1;
    if (!ok)
        return TR_E_CRYPTO;
    if (legacy) {
#ifdef TRI_OSSL_HAVE_LEGACY_CB
        ok = HMAC_CTX_copy(mac, k->hmac) == 1;
#else
        ok = 0;
#endif
    } else {
#ifdef TRI_OSSL_HAVE_EVP_CB
        /* OpenSSL hands over a fresh MAC context per ticket and 3.0 has no
         * way to copy a keyed one into it: the HMAC is keyed here. */
        char digest[] = "SHA256";
        OSSL_PARAM params[2];
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
        params[1] = OSSL_PARAM_construct_end();
        ok = EVP_MAC_init(mac, k->hmac_key, HMAC_KEY_BYTES, params) == 1;
#else
        ok = 0;
#endif
    }
    return ok ? 0 : TR_E_CRYPTO;
}
