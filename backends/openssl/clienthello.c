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
