/* Host name comparison, shared by the core's binding policy and the
 * backends' early-data checks (a header, so each library keeps its own
 * copy and exports nothing). */
#ifndef TICKETRING_LIB_HOST_H
#define TICKETRING_LIB_HOST_H

#include <stddef.h>
#include <stdint.h>

/* Host names compare without regard to ASCII case (RFC 6066 3, RFC 4343). */
static inline int tri_same_host(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    if (a_len != b_len)
        return 0;
    for (size_t i = 0; i < a_len; i++) {
        uint8_t x = (a[i] >= 'A' && a[i] <= 'Z') ? (uint8_t)(a[i] + 32) : a[i];
        uint8_t y = (b[i] >= 'A' && b[i] <= 'Z') ? (uint8_t)(b[i] + 32) : b[i];
        if (x != y)
            return 0;
    }
    return 1;
}

#endif
