/*
 * The mbedTLS crypto backend: AES-256-GCM, HMAC-SHA256 and SHA-256 from
 * mbedTLS 2.28 or 3.x, random bytes from the operating system.
 *
 * Why it looks the way it does:
 *  - random is getrandom(2) (getentropy(3) where there is no getrandom), not
 *    a CTR_DRBG: a DRBG's state lives in process memory, so a forked child
 *    would repeat its parent's output, and a ticket nonce must never repeat.
 *  - The table's AEAD takes its plaintext in two parts (head, tail) and
 *    writes two outputs on open, so GCM runs as starts/update/update/finish.
 *    That is exactly what mbedtls_gcm_crypt_and_tag() and
 *    mbedtls_gcm_auth_decrypt() do inside, so nothing is lost; head_len is a
 *    multiple of 16, which 2.28's mbedtls_gcm_update() requires of every call
 *    but the last. The tag is compared in constant time, as
 *    mbedtls_gcm_auth_decrypt() does, and on a mismatch both outputs are
 *    wiped before returning TR_E_TICKET_AUTH.
 *  - The GCM context lives on the stack and mbedtls_gcm_free() (which
 *    zeroizes it, key schedule included) runs on every path. mbedTLS's own
 *    internal allocations (the cipher context in setkey, the HMAC digest
 *    context) are fine; our allocator is never used.
 *  - Nothing is shared between calls, so every function is thread-safe
 *    without MBEDTLS_THREADING_C.
 *
 * Buffers: out may equal the input exactly (in place: out == head and
 * tail == head + head_len; out_head == in and out_tail == in + head_len), as
 * mbedTLS's own TLS record layer decrypts in place through the same GCM code.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* getrandom() */
#endif

#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>
#if defined(__linux__) || defined(__FreeBSD__) || defined(__APPLE__)
#include <sys/random.h>
#endif

#include "mbedtls/version.h"

#include "mbedtls/gcm.h"
#include "mbedtls/md.h"
#include "mbedtls/sha256.h"

#include "crypto.h"
#include "secure.h"
#include "ticketring/mbedtls.h"

#if !defined(MBEDTLS_VERSION_NUMBER) || MBEDTLS_VERSION_NUMBER < 0x021C0000
#error "libticketring needs mbedTLS 2.28 or 3.x"
#endif
#if MBEDTLS_VERSION_NUMBER >= 0x04000000
#error "mbedTLS 4 moved these primitives to PSA; this backend supports 2.28 and 3.x"
#endif

/* ---- random -------------------------------------------------------------- */

static int mbed_random(uint8_t *buf, size_t len)
{
    if (buf == NULL && len != 0)
        return TR_E_INVAL;
    while (len > 0) {
#if defined(__linux__) || defined(__FreeBSD__)
        /* Blocks only until the kernel pool is first seeded; may return
         * fewer bytes than asked (signals, very large requests). */
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return TR_E_CRYPTO;
        }
        if (n == 0)
            return TR_E_CRYPTO;
#else
        /* getentropy() fills at most 256 bytes per call, all or nothing. */
        size_t n = len > 256 ? 256 : len;
        if (getentropy(buf, n) != 0)
            return TR_E_CRYPTO;
#endif
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- hashes -------------------------------------------------------------- */

static int mbed_sha256(const uint8_t *data, size_t len, uint8_t out[TRI_SHA256_BYTES])
{
    int ret;

    if ((data == NULL && len != 0) || out == NULL)
        return TR_E_INVAL;
    if (data == NULL)
        data = (const uint8_t *)"";
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    ret = mbedtls_sha256(data, len, out, 0);
#else
    ret = mbedtls_sha256_ret(data, len, out, 0);
#endif
    if (ret != 0) {
        tri_wipe(out, TRI_SHA256_BYTES);
        return TR_E_CRYPTO;
    }
    return 0;
}

static int mbed_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data,
                            size_t len, uint8_t out[TRI_SHA256_BYTES])
{
    /* A pointer into a static table: no allocation, no state. */
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

    if ((key == NULL && key_len != 0) || (data == NULL && len != 0) || out == NULL)
        return TR_E_INVAL;
    if (md == NULL)
        return TR_E_CRYPTO;
    if (key == NULL)
        key = (const uint8_t *)"";
    if (data == NULL)
        data = (const uint8_t *)"";
    /* mbedtls_md_hmac() frees (and zeroizes) its keyed context itself. */
    if (mbedtls_md_hmac(md, key, key_len, data, len, out) != 0) {
        tri_wipe(out, TRI_SHA256_BYTES);
        return TR_E_CRYPTO;
    }
    return 0;
}

/* ---- AES-256-GCM ----------------------------------------------------------- */

/* The 2.x and 3.x streaming APIs differ; these keep the callers identical. */
static int gcm_begin(mbedtls_gcm_context *gcm, int mode, const uint8_t *key,
                     const uint8_t *nonce, const uint8_t *aad, size_t aad_len)
{
    int ret = mbedtls_gcm_setkey(gcm, MBEDTLS_CIPHER_ID_AES, key, TRI_AEAD_KEY_BYTES * 8);
    if (ret != 0)
        return ret;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    ret = mbedtls_gcm_starts(gcm, mode, nonce, TRI_AEAD_NONCE_BYTES);
    if (ret == 0 && aad_len != 0)
        ret = mbedtls_gcm_update_ad(gcm, aad, aad_len);
    return ret;
#else
    return mbedtls_gcm_starts(gcm, mode, nonce, TRI_AEAD_NONCE_BYTES,
                              aad_len != 0 ? aad : NULL, aad_len);
#endif
}

static int gcm_step(mbedtls_gcm_context *gcm, const uint8_t *in, size_t len, uint8_t *out)
{
    if (len == 0)
        return 0;
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    {
        size_t written = 0;
        int ret = mbedtls_gcm_update(gcm, in, len, out, len, &written);
        /* 3.x GCM never holds output back, but the API allows it. */
        if (ret == 0 && written != len)
            ret = MBEDTLS_ERR_GCM_BAD_INPUT;
        return ret;
    }
#else
    return mbedtls_gcm_update(gcm, len, in, out);
#endif
}

static int gcm_tag(mbedtls_gcm_context *gcm, uint8_t tag[TRI_AEAD_TAG_BYTES])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    size_t written = 0;
    uint8_t rest[16];
    int ret = mbedtls_gcm_finish(gcm, rest, sizeof(rest), &written, tag, TRI_AEAD_TAG_BYTES);
    if (ret == 0 && written != 0)
        ret = MBEDTLS_ERR_GCM_BAD_INPUT;
    return ret;
#else
    return mbedtls_gcm_finish(gcm, tag, TRI_AEAD_TAG_BYTES);
#endif
}

static int mbed_aead_seal(const uint8_t key[TRI_AEAD_KEY_BYTES],
                          const uint8_t nonce[TRI_AEAD_NONCE_BYTES], const uint8_t *aad,
                          size_t aad_len, const uint8_t *head, size_t head_len,
                          const uint8_t *tail, size_t tail_len, uint8_t *out,
                          uint8_t tag[TRI_AEAD_TAG_BYTES])
{
    mbedtls_gcm_context gcm;
    int rc = TR_E_CRYPTO;

    if (key == NULL || nonce == NULL || tag == NULL || (aad == NULL && aad_len != 0) ||
        (head == NULL && head_len != 0) || (tail == NULL && tail_len != 0) ||
        (out == NULL && (head_len != 0 || tail_len != 0)) || head_len % 16 != 0)
        return TR_E_INVAL;
    mbedtls_gcm_init(&gcm);
    if (gcm_begin(&gcm, MBEDTLS_GCM_ENCRYPT, key, nonce, aad, aad_len) != 0 ||
        gcm_step(&gcm, head, head_len, out) != 0 ||
        gcm_step(&gcm, tail, tail_len, head_len != 0 ? out + head_len : out) != 0 ||
        gcm_tag(&gcm, tag) != 0)
        goto out;
    rc = 0;
out:
    mbedtls_gcm_free(&gcm);
    return rc;
}

static int mbed_aead_open(const uint8_t key[TRI_AEAD_KEY_BYTES],
                          const uint8_t nonce[TRI_AEAD_NONCE_BYTES], const uint8_t *aad,
                          size_t aad_len, const uint8_t *in, size_t len,
                          const uint8_t tag[TRI_AEAD_TAG_BYTES], uint8_t *out_head,
                          size_t head_len, uint8_t *out_tail)
{
    mbedtls_gcm_context gcm;
    uint8_t computed[TRI_AEAD_TAG_BYTES];
    size_t tail_len;
    int rc = TR_E_CRYPTO;

    if (key == NULL || nonce == NULL || tag == NULL || (aad == NULL && aad_len != 0) ||
        (in == NULL && len != 0) || head_len > len || head_len % 16 != 0 ||
        (out_head == NULL && head_len != 0) || (out_tail == NULL && len - head_len != 0))
        return TR_E_INVAL;
    tail_len = len - head_len;
    mbedtls_gcm_init(&gcm);
    if (gcm_begin(&gcm, MBEDTLS_GCM_DECRYPT, key, nonce, aad, aad_len) != 0 ||
        gcm_step(&gcm, in, head_len, out_head) != 0 ||
        gcm_step(&gcm, head_len != 0 ? in + head_len : in, tail_len, out_tail) != 0 ||
        gcm_tag(&gcm, computed) != 0)
        goto out;
    rc = tri_ct_equal(computed, tag, TRI_AEAD_TAG_BYTES) ? 0 : TR_E_TICKET_AUTH;
out:
    mbedtls_gcm_free(&gcm);
    tri_wipe(computed, sizeof(computed));
    if (rc != 0) {
        /* Unauthenticated plaintext never reaches the caller. */
        if (head_len != 0)
            tri_wipe(out_head, head_len);
        if (tail_len != 0)
            tri_wipe(out_tail, tail_len);
    }
    return rc;
}

static const struct tr_crypto mbedtls_crypto = {
    .abi = TRI_CRYPTO_ABI,
    .name = "mbedtls",
    .random = mbed_random,
    .sha256 = mbed_sha256,
    .hmac_sha256 = mbed_hmac_sha256,
    .aead_seal = mbed_aead_seal,
    .aead_open = mbed_aead_open,
};

const tr_crypto *tr_crypto_mbedtls(void)
{
    return &mbedtls_crypto;
}
