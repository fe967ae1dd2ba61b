/*
 * The OpenSSL crypto backend: AES-256-GCM, HMAC-SHA256 and SHA-256 through
 * EVP, random bytes from RAND_bytes. OpenSSL 3.x; 1.1.1 still compiles.
 *
 * Why it looks the way it does:
 *  - On 3.x every EVP_aes_256_gcm()/EVP_sha256() use and every "digest"
 *    parameter is an implicit fetch: a locked lookup in the provider store
 *    per call. The algorithms are fetched once (pthread_once) and kept for
 *    the life of the process (measured on 3.0: a 256-byte GCM seal 780 ->
 *    530 ns, SHA-256 of 64 bytes 330 -> 160 ns).
 *  - HMAC on 3.x is an EVP_MAC context duplicated from a template whose
 *    digest is already set: EVP_MAC_CTX_dup copies the digest reference
 *    instead of fetching "SHA256" by name again. The template is keyed with
 *    the empty key so its digest contexts are initialised, which every 3.0.x
 *    needs for the copy. Concurrent dups only read the template.
 *  - The AEAD key comes with every call, so the GCM key schedule is
 *    computed per call (the per-key state in tls_key.c serves OpenSSL's
 *    own ticket format only); contexts are allocated per call
 *    by OpenSSL (our allocator is never used) and freed, which cleanses them.
 *  - Every call brackets its OpenSSL use with ERR_set_mark/ERR_pop_to_mark:
 *    a ticket is opened inside a TLS handshake, and an error left on the
 *    thread's queue would make the caller's next SSL_get_error() report a
 *    failure that did not happen. Our callers get a TR_E_* code instead.
 *  - RAND_bytes is fork-safe on 1.1.1 and later (the DRBG reseeds in a
 *    child), as the table's random requires.
 *
 * Buffers: out may equal the input exactly (in place: out == head and
 * tail == head + head_len; out_head == in and out_tail == in + head_len);
 * other overlaps are refused by EVP.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/rand.h>

#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#else
#include <openssl/hmac.h>
#endif

#include "crypto.h"
#include "secure.h"
#include "ticketring/openssl.h"
#include "tls_key.h"

#if OPENSSL_VERSION_NUMBER < 0x10101000L
#error "libticketring needs OpenSSL 1.1.1 or later"
#endif

_Static_assert(TRI_AEAD_NONCE_BYTES == 12, "GCM's default IV length is used");

/* ---- Algorithms, fetched once ------------------------------------------ */

#if OPENSSL_VERSION_NUMBER >= 0x30000000L

static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *gcm_alg;
static EVP_MD *sha256_alg;
static EVP_MAC_CTX *hmac_template;

static void fetch_algorithms(void)
{
    EVP_MAC *mac;
    EVP_MAC_CTX *t = NULL;
    char digest_name[] = "SHA256";
    OSSL_PARAM params[2];

    ERR_set_mark();
    /* Default library context and properties, so an application that made
     * the FIPS provider its default gets FIPS algorithms here too. */
    gcm_alg = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    sha256_alg = EVP_MD_fetch(NULL, "SHA256", NULL);
    mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac != NULL)
        t = EVP_MAC_CTX_new(mac);
    /* The context holds its own reference to the MAC. */
    EVP_MAC_free(mac);
    if (t != NULL) {
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_MAC_init(t, (const unsigned char *)"", 0, params) == 1)
            hmac_template = t;
        else
            EVP_MAC_CTX_free(t);
    }
    ERR_pop_to_mark();
}

static int algorithms_ready(void)
{
    return pthread_once(&fetch_once, fetch_algorithms) == 0 && gcm_alg != NULL &&
           sha256_alg != NULL && hmac_template != NULL;
}

#define GCM_ALG ((const EVP_CIPHER *)gcm_alg)
#define SHA256_ALG ((const EVP_MD *)sha256_alg)

#else /* 1.1.1: static method tables, nothing to fetch */

static int algorithms_ready(void)
{
    return 1;
}

#define GCM_ALG EVP_aes_256_gcm()
#define SHA256_ALG EVP_sha256()

#endif

/* ---- Table entries ------------------------------------------------------- */

static int ossl_random(uint8_t *buf, size_t len)
{
    int rc = 0;

    if (buf == NULL && len != 0)
        return TR_E_INVAL;
    ERR_set_mark();
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(buf, n) != 1) {
            rc = TR_E_CRYPTO;
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    ERR_pop_to_mark();
    return rc;
}

static int ossl_sha256(const uint8_t *data, size_t len, uint8_t out[TRI_SHA256_BYTES])
{
    unsigned int n = 0;
    int rc = TR_E_CRYPTO;

    if ((data == NULL && len != 0) || out == NULL)
        return TR_E_INVAL;
    if (!algorithms_ready())
        return TR_E_CRYPTO;
    ERR_set_mark();
    if (EVP_Digest(data != NULL ? data : (const uint8_t *)"", len, out, &n, SHA256_ALG,
                   NULL) == 1 &&
        n == TRI_SHA256_BYTES)
        rc = 0;
    ERR_pop_to_mark();
    return rc;
}

static int ossl_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                            size_t len, uint8_t out[TRI_SHA256_BYTES])
{
    int rc = TR_E_CRYPTO;

    if ((key == NULL && key_len != 0) || (data == NULL && len != 0) || out == NULL)
        return TR_E_INVAL;
    /* A NULL key would tell EVP_MAC_init to keep the previous key. */
    if (key == NULL)
        key = (const uint8_t *)"";
    if (data == NULL)
        data = (const uint8_t *)"";
    if (!algorithms_ready())
        return TR_E_CRYPTO;
    ERR_set_mark();
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    {
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(hmac_template);
        size_t n = 0;
        if (ctx != NULL && EVP_MAC_init(ctx, key, key_len, NULL) == 1 &&
            EVP_MAC_update(ctx, data, len) == 1 &&
            EVP_MAC_final(ctx, out, &n, TRI_SHA256_BYTES) == 1 && n == TRI_SHA256_BYTES)
            rc = 0;
        EVP_MAC_CTX_free(ctx); /* cleanses the keyed state */
    }
#else
    {
        unsigned int n = 0;
        if (key_len <= INT_MAX &&
            HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) != NULL &&
            n == TRI_SHA256_BYTES)
            rc = 0;
    }
#endif
    if (rc != 0)
        tri_wipe(out, TRI_SHA256_BYTES);
    ERR_pop_to_mark();
    return rc;
}

/* EVP takes int lengths; tickets are far below this. */
static int aead_lengths_ok(size_t aad_len, size_t head_len, size_t tail_len)
{
    return head_len % 16 == 0 && aad_len <= INT_MAX && head_len <= INT_MAX &&
           tail_len <= (size_t)INT_MAX - head_len;
}

/* One EVP update of `len` bytes that must produce exactly `len` bytes;
 * len 0 is skipped so that NULL buffers are fine with it. */
static int cipher_update(EVP_CIPHER_CTX *ctx, int enc, uint8_t *out, const uint8_t *in,
                         size_t len)
{
    int n = 0;
    if (len == 0)
        return 1;
    if (enc ? EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1
            : EVP_DecryptUpdate(ctx, out, &n, in, (int)len) != 1)
        return 0;
    return n == (int)len;
}

static int aad_update(EVP_CIPHER_CTX *ctx, int enc, const uint8_t *aad, size_t aad_len)
{
    int n = 0;
    if (aad_len == 0)
        return 1;
    return enc ? EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1
               : EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1;
}

static int ossl_aead_seal(const uint8_t key[TRI_AEAD_KEY_BYTES],
                          const uint8_t nonce[TRI_AEAD_NONCE_BYTES], const uint8_t *aad,
                          size_t aad_len, const uint8_t *head, size_t head_len,
                          const uint8_t *tail, size_t tail_len, uint8_t *out,
                          uint8_t tag[TRI_AEAD_TAG_BYTES])
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t final_block[16]; /* GCM's final writes nothing; EVP wants a buffer */
    int n = 0;
    int rc = TR_E_CRYPTO;

    if (key == NULL || nonce == NULL || tag == NULL || (aad == NULL && aad_len != 0) ||
        (head == NULL && head_len != 0) || (tail == NULL && tail_len != 0) ||
        (out == NULL && (head_len != 0 || tail_len != 0)) ||
        !aead_lengths_ok(aad_len, head_len, tail_len))
        return TR_E_INVAL;
    if (!algorithms_ready())
        return TR_E_CRYPTO;
    ERR_set_mark();
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_EncryptInit_ex(ctx, GCM_ALG, NULL, key, nonce) != 1 ||
        !aad_update(ctx, 1, aad, aad_len) || !cipher_update(ctx, 1, out, head, head_len) ||
        !cipher_update(ctx, 1, head_len != 0 ? out + head_len : out, tail, tail_len) ||
        EVP_EncryptFinal_ex(ctx, final_block, &n) != 1 || n != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TRI_AEAD_TAG_BYTES, tag) != 1)
        goto out;
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    ERR_pop_to_mark();
    return rc;
}

static int ossl_aead_open(const uint8_t key[TRI_AEAD_KEY_BYTES],
                          const uint8_t nonce[TRI_AEAD_NONCE_BYTES], const uint8_t *aad,
                          size_t aad_len, const uint8_t *in, size_t len,
                          const uint8_t tag[TRI_AEAD_TAG_BYTES], uint8_t *out_head,
                          size_t head_len, uint8_t *out_tail)
{
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t final_block[16];
    uint8_t tag_copy[TRI_AEAD_TAG_BYTES];
    size_t tail_len;
    int n = 0;
    int rc = TR_E_CRYPTO;

    if (key == NULL || nonce == NULL || tag == NULL || (aad == NULL && aad_len != 0) ||
        (in == NULL && len != 0) || head_len > len || (out_head == NULL && head_len != 0) ||
        (out_tail == NULL && len - head_len != 0) ||
        !aead_lengths_ok(aad_len, head_len, len - head_len))
        return TR_E_INVAL;
    tail_len = len - head_len;
    if (!algorithms_ready())
        return TR_E_CRYPTO;
    /* The tag is copied because the ctrl takes a non-const pointer. */
    memcpy(tag_copy, tag, sizeof(tag_copy));
    ERR_set_mark();
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL || EVP_DecryptInit_ex(ctx, GCM_ALG, NULL, key, nonce) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TRI_AEAD_TAG_BYTES, tag_copy) != 1 ||
        !aad_update(ctx, 0, aad, aad_len) || !cipher_update(ctx, 0, out_head, in, head_len) ||
        !cipher_update(ctx, 0, out_tail, head_len != 0 ? in + head_len : in, tail_len))
        goto out;
    /* For GCM the final step is the tag comparison (CRYPTO_memcmp) and can
     * fail for no other reason once the updates succeeded. */
    if (EVP_DecryptFinal_ex(ctx, final_block, &n) != 1 || n != 0) {
        rc = TR_E_TICKET_AUTH;
        goto out;
    }
    rc = 0;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (rc != 0) {
        /* Unauthenticated plaintext never reaches the caller. */
        if (head_len != 0)
            tri_wipe(out_head, head_len);
        if (tail_len != 0)
            tri_wipe(out_tail, tail_len);
    }
    ERR_pop_to_mark();
    return rc;
}

static const struct tr_crypto openssl_crypto = {
    .abi = TRI_CRYPTO_ABI,
    .name = "openssl",
    .random = ossl_random,
    .sha256 = ossl_sha256,
    .hmac_sha256 = ossl_hmac_sha256,
    .aead_seal = ossl_aead_seal,
    .aead_open = ossl_aead_open,
    .tls_key_new = tri_ossl_tls_key_new,
    .tls_key_free = tri_ossl_tls_key_free,
};

const tr_crypto *tr_crypto_openssl(void)
{
    return &openssl_crypto;
}
