#include "clienthello.h"

#include <string.h>

#define HOST_NAME 0

size_t tri_ch_parse_sni(const uint8_t *ext, size_t len, uint8_t name[TRI_SNI_MAX])
{
    size_t list_len, i;

    if (ext == NULL || len < 2)
        return 0;
    list_len = (size_t)ext[0] << 8 | ext[1];
    if (list_len != len - 2)
        return 0;
    for (i = 2; i + 3 <= len;) {
        size_t n = (size_t)ext[i + 1] << 8 | ext[i + 2];
        if (n > len - i - 3)
            return 0;
        if (ext[i] == HOST_NAME) {
            if (n == 0 || n > TRI_SNI_MAX)
                return 0;
            memcpy(name, ext + i + 3, n);
            return n;
        }
        i += 3 + n;
    }
    return 0;
}

int tri_ch_parse_alpn(const uint8_t *ext, size_t len, const uint8_t **list, size_t *list_len)
{
    size_t n;

    *list = NULL;
    *list_len = 0;
    if (ext == NULL || len < 2)
        return -1;
    n = (size_t)ext[0] << 8 | ext[1];
    if (n != len - 2 || n == 0)
        return -1;
    *list = ext + 2;
    *list_len = n;
    return 0;
}

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

int tri_ch_parse_psk_age(const uint8_t *ext, size_t len, uint32_t *age)
{
    size_t ids_end, i, identities = 0, binders = 0;
    uint32_t first = 0;

    if (ext == NULL || age == NULL || len < 2)
        return -1;
    ids_end = 2 + get16(ext);
    if (ids_end - 2 < 7 || ids_end > len)
        return -1;
    for (i = 2; i < ids_end;) {
        size_t n;
        if (ids_end - i < 2)
            return -1;
        n = get16(ext + i);
        /* The identity, then its 4-byte age, both inside the list. */
        if (n == 0 || n > ids_end - i - 2 || ids_end - i - 2 - n < 4)
            return -1;
        i += 2 + n;
        if (identities++ == 0)
            first = (uint32_t)ext[i] << 24 | (uint32_t)ext[i + 1] << 16 |
                    (uint32_t)ext[i + 2] << 8 | ext[i + 3];
        i += 4;
    }
    if (len - ids_end < 2 || get16(ext + ids_end) < 33 ||
        get16(ext + ids_end) != len - ids_end - 2)
        return -1;
    for (i = ids_end + 2; i < len; binders++) {
        size_t n = ext[i];
        if (n < 32 || n > len - i - 1)
            return -1;
        i += 1 + n;
    }
    if (binders != identities)
        return -1;
    *age = first;
    return 0;
}
