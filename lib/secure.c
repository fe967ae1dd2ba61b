#include "secure.h"

#include <string.h>

void tri_wipe(void *p, size_t len)
{
    if (p == NULL || len == 0)
        return;
    /* explicit_bzero is glibc >= 2.25 and the BSDs; a volatile function
     * pointer keeps the compiler from proving the store dead elsewhere. */
#if defined(__GLIBC__) || defined(__OpenBSD__) || defined(__FreeBSD__)
    explicit_bzero(p, len);
#else
    static void *(*const volatile memset_fn)(void *, int, size_t) = memset;
    memset_fn(p, 0, len);
#endif
}

int tri_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    /* (diff - 1) >> 8 is 0xFF..F only when diff == 0; no branch on data. */
    return (int)((((uint32_t)diff - 1u) >> 8) & 1u);
}

int tri_ct_is_zero(const void *p, size_t len)
{
    const volatile uint8_t *x = p;
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= x[i];
    return (int)((((uint32_t)acc - 1u) >> 8) & 1u);
}
