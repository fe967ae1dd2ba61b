/* Big-endian integers in ticket and fingerprint layouts. */
#ifndef TICKETRING_LIB_BYTES_H
#define TICKETRING_LIB_BYTES_H

#include <stdint.h>

static inline void tri_put_be64(uint8_t *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)u;
        u >>= 8;
    }
}

static inline int64_t tri_get_be64(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return (int64_t)u;
}

#endif
