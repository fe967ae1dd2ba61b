#include "crypto.h"
#include "secure.h"

#include <string.h>

#define HKDF_INFO_MAX 64

int tri_hkdf_sha256(const tr_crypto *c, const uint8_t *salt, size_t salt_len,
                    const uint8_t *ikm, size_t ikm_len,
                    const uint8_t *info, size_t info_len,
                    uint8_t out[TRI_SHA256_BYTES])
{
    static const uint8_t zero_salt[TRI_SHA256_BYTES];
    uint8_t prk[TRI_SHA256_BYTES];
    uint8_t t1_in[HKDF_INFO_MAX + 1];
    int rc;

    if (info_len > HKDF_INFO_MAX)
        return TR_E_INVAL;
    if (salt_len == 0) { /* RFC 5869 2.2: absent salt is HashLen zeros */
        salt = zero_salt;
        salt_len = sizeof(zero_salt);
    }
    rc = c->hmac_sha256(salt, salt_len, ikm, ikm_len, prk);
    if (rc != 0)
        goto out;
    /* One block of output: T(1) = HMAC(PRK, info | 0x01). */
    if (info_len > 0)
        memcpy(t1_in, info, info_len);
    t1_in[info_len] = 0x01;
    rc = c->hmac_sha256(prk, sizeof(prk), t1_in, info_len + 1, out);
out:
    tri_wipe(prk, sizeof(prk));
    return rc;
}
