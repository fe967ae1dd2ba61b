#include <string.h>

#include "crypto.h"
#include "secure.h"

#define HKDF_INFO_MAX 64

int tri_hkdf_expand32(const tr_crypto *c, const uint8_t *prk, size_t prk_len,
                      const uint8_t *info, size_t info_len, uint8_t out[TRI_SHA256_BYTES])
{
    uint8_t t1_in[HKDF_INFO_MAX + 1];
    int rc;

    if (info_len > HKDF_INFO_MAX || prk_len < TRI_SHA256_BYTES)
        return TR_E_INVAL;
    /* One block of output: T(1) = HMAC(PRK, info | 0x01). */
    if (info_len > 0)
        memcpy(t1_in, info, info_len);
    t1_in[info_len] = 0x01;
    rc = c->hmac_sha256(prk, prk_len, t1_in, info_len + 1, out);
    tri_wipe(t1_in, info_len + 1);
    return rc;
}
