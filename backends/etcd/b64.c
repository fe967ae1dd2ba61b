#include "b64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t tre_b64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

void tre_b64_encode(char *out, const uint8_t *in, size_t n)
{
    size_t i = 0, o = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
}

/* The 6-bit value of c, or a value >= 64 for anything else: arithmetic on
 * ranges instead of a table lookup indexed by the (possibly secret) byte. */
static uint32_t value_of(unsigned char c)
{
    uint32_t x = c, v = 0x100;
    uint32_t upper = ((x - 'A') < 26u), lower = ((x - 'a') < 26u);
    uint32_t digit = ((x - '0') < 10u);

    v ^= (0x100 ^ (x - 'A')) & (0u - upper);
    v ^= (v ^ (x - 'a' + 26)) & (0u - lower);
    v ^= (v ^ (x - '0' + 52)) & (0u - digit);
    v ^= (v ^ 62u) & (0u - (uint32_t)(x == '+'));
    v ^= (v ^ 63u) & (0u - (uint32_t)(x == '/'));
    return v;
}

int tre_b64_decode(uint8_t *out, size_t cap, size_t *n, const char *in, size_t len)
{
    size_t o = 0, pad = 0;
    uint32_t bad = 0;

    *n = 0;
    if (len % 4 != 0)
        return -1;
    if (len >= 1 && in[len - 1] == '=')
        pad++;
    if (len >= 2 && in[len - 2] == '=')
        pad++;
    if (len / 4 * 3 - pad > cap)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int last = i + 4 == len;
        uint32_t a = value_of((unsigned char)in[i]), b = value_of((unsigned char)in[i + 1]);
        uint32_t c = last && pad == 2 ? 0 : value_of((unsigned char)in[i + 2]);
        uint32_t d = last && pad >= 1 ? 0 : value_of((unsigned char)in[i + 3]);
        uint32_t v = (a & 63) << 18 | (b & 63) << 12 | (c & 63) << 6 | (d & 63);

        bad |= (a | b | c | d) & ~63u;
        /* Canonical only: the bits padding leaves unused must be zero, so
         * one document has one encoding. */
        if (last && pad == 2)
            bad |= b & 15u;
        if (last && pad == 1)
            bad |= c & 3u;
        out[o++] = (uint8_t)(v >> 16);
        if (!last || pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (!last || pad < 1)
            out[o++] = (uint8_t)v;
    }
    if (bad != 0)
        return -1;
    *n = o;
    return 0;
}
