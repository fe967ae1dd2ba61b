#include <string.h>

#include "other_format.h"

/* key name | IV | one AES block | HMAC-SHA256 */
#define OPENSSL_TICKET_MIN (16 + 16 + 16 + 32)

int tri_is_openssl_format(const struct tri_keyset *ks, const uint8_t *ticket, size_t len)
{
    return len >= OPENSSL_TICKET_MIN && tri_keyset_find(ks, ticket) >= 0;
}

int tri_is_v1_format(const struct tri_keyset *ks, const uint8_t name[16])
{
    if (name[0] != TRI_TICKET_FORMAT_V1)
        return 0;
    for (uint32_t i = 0; i < ks->n; i++)
        if (memcmp(ks->keys[i].name, name + 1, TR_KEY_NAME_BYTES - 1) == 0)
            return 1;
    return 0;
}
