#include "siphash.h"


#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                               \
    do {                                                                                       \
        v0 += v1;                                                                              \
        v1 = ROTL(v1, 13);                                                                     \
        v1 ^= v0;                                                                              \
        v0 = ROTL(v0, 32);                                                                     \
        v2 += v3;                                                                              \
        v3 = ROTL(v3, 16);                                                                     \
        v3 ^= v2;                                                                              \
        v0 += v3;                                                                              \
        v3 = ROTL(v3, 21);                                                                     \
        v3 ^= v0;                                                                              \
        v2 += v1;                                                                              \
        v1 = ROTL(v1, 17);                                                                     \
        v1 ^= v2;                                                                              \
        v2 = ROTL(v2, 32);                                                                     \
    } while (0)

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t tri_siphash24(const uint8_t key[TRI_SIPHASH_KEY_BYTES], const uint8_t *in, size_t len)
{
    uint64_t k0 = get_le64(key), k1 = get_le64(key + 8);
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1 ^ 0x7465646279746573ull;
    uint64_t b = (uint64_t)len << 56, m;
    const uint8_t *end = in + (len & ~(size_t)7);

    for (; in != end; in += 8) {
        m = get_le64(in);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)in[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}
