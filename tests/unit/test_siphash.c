/* SipHash-2-4 (lib/siphash.c) against values computed independently with
 * OpenSSL 3.0 (`openssl mac -macopt hexkey:... -macopt size:8 SIPHASH`),
 * each read as the little-endian integer of its 8 output bytes, as the
 * reference implementation prints them. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "siphash.h"

/* Key 00 01 .. 0f, message 00 01 .. (len - 1) for len 0..63: the
 * reference implementation's vectors. */
static const uint64_t ref_vectors[64] = {
    UINT64_C(0x726fdb47dd0e0e31), /* len 0 */
    UINT64_C(0x74f839c593dc67fd),
    UINT64_C(0x0d6c8009d9a94f5a),
    UINT64_C(0x85676696d7fb7e2d),
    UINT64_C(0xcf2794e0277187b7),
    UINT64_C(0x18765564cd99a68d),
    UINT64_C(0xcbc9466e58fee3ce),
    UINT64_C(0xab0200f58b01d137),
    UINT64_C(0x93f5f5799a932462),
    UINT64_C(0x9e0082df0ba9e4b0),
    UINT64_C(0x7a5dbbc594ddb9f3),
    UINT64_C(0xf4b32f46226bada7),
    UINT64_C(0x751e8fbc860ee5fb),
    UINT64_C(0x14ea5627c0843d90),
    UINT64_C(0xf723ca908e7af2ee),
    UINT64_C(0xa129ca6149be45e5),
    UINT64_C(0x3f2acc7f57c29bdb),
    UINT64_C(0x699ae9f52cbe4794),
    UINT64_C(0x4bc1b3f0968dd39c),
    UINT64_C(0xbb6dc91da77961bd),
    UINT64_C(0xbed65cf21aa2ee98),
    UINT64_C(0xd0f2cbb02e3b67c7),
    UINT64_C(0x93536795e3a33e88),
    UINT64_C(0xa80c038ccd5ccec8),
    UINT64_C(0xb8ad50c6f649af94),
    UINT64_C(0xbce192de8a85b8ea),
    UINT64_C(0x17d835b85bbb15f3),
    UINT64_C(0x2f2e6163076bcfad),
    UINT64_C(0xde4daaaca71dc9a5),
    UINT64_C(0xa6a2506687956571),
    UINT64_C(0xad87a3535c49ef28),
    UINT64_C(0x32d892fad841c342),
    UINT64_C(0x7127512f72f27cce),
    UINT64_C(0xa7f32346f95978e3),
    UINT64_C(0x12e0b01abb051238),
    UINT64_C(0x15e034d40fa197ae),
    UINT64_C(0x314dffbe0815a3b4),
    UINT64_C(0x027990f029623981),
    UINT64_C(0xcadcd4e59ef40c4d),
    UINT64_C(0x9abfd8766a33735c),
    UINT64_C(0x0e3ea96b5304a7d0),
    UINT64_C(0xad0c42d6fc585992),
    UINT64_C(0x187306c89bc215a9),
    UINT64_C(0xd4a60abcf3792b95),
    UINT64_C(0xf935451de4f21df2),
    UINT64_C(0xa9538f0419755787),
    UINT64_C(0xdb9acddff56ca510),
    UINT64_C(0xd06c98cd5c0975eb),
    UINT64_C(0xe612a3cb9ecba951),
    UINT64_C(0xc766e62cfcadaf96),
    UINT64_C(0xee64435a9752fe72),
    UINT64_C(0xa192d576b245165a),
    UINT64_C(0x0a8787bf8ecb74b2),
    UINT64_C(0x81b3e73d20b49b6f),
    UINT64_C(0x7fa8220ba3b2ecea),
    UINT64_C(0x245731c13ca42499),
    UINT64_C(0xb78dbfaf3a8d83bd),
    UINT64_C(0xea1ad565322a1a0b),
    UINT64_C(0x60e61c23a3795013),
    UINT64_C(0x6606d7e446282b93),
    UINT64_C(0x6ca4ecb15c5f91e1),
    UINT64_C(0x9f626da15c9625f3),
    UINT64_C(0xe51b38608ef25f57),
    UINT64_C(0x958a324ceb064572),
};

/* Key f0 e1 d2 c3 b4 a5 96 87 78 69 5a 4b 3c 2d 1e 0f, message byte i =
 * (7 * i + 3) mod 256: lengths past the 64 bytes above, up to the longest
 * value the replay cache hashes (1024). */
static const struct {
    size_t len;
    uint64_t mac;
} long_vectors[] = {
    {64, UINT64_C(0x55f247bb4e04c7c3)},
    {100, UINT64_C(0x185cc9d4e70fd056)},
    {255, UINT64_C(0x4a27232355c1ad14)},
    {1024, UINT64_C(0xb19eda60d964806e)},
};

static const uint8_t long_key[TRI_SIPHASH_KEY_BYTES] = {
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87,
    0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
};

static void ref_key(uint8_t key[TRI_SIPHASH_KEY_BYTES])
{
    for (size_t i = 0; i < TRI_SIPHASH_KEY_BYTES; i++)
        key[i] = (uint8_t)i;
}

static void test_reference_vectors(void **st)
{
    uint8_t key[TRI_SIPHASH_KEY_BYTES], msg[64];
    (void)st;

    ref_key(key);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    for (size_t len = 0; len < 64; len++)
        assert_int_equal(tri_siphash24(key, msg, len), ref_vectors[len]);
}

static void test_long_messages(void **st)
{
    uint8_t msg[1024];
    (void)st;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(7 * i + 3);
    for (size_t i = 0; i < sizeof(long_vectors) / sizeof(long_vectors[0]); i++)
        assert_int_equal(tri_siphash24(long_key, msg, long_vectors[i].len), long_vectors[i].mac);
}

/* Values reach the hash straight from a TLS library's buffers, at any
 * address: every offset within a word must read the same bytes (UBSan
 * flags a misaligned word load), and nothing past `len` may be read
 * (ASan flags it: the copy ends exactly at the end of its allocation). */
static void test_alignment_and_bounds(void **st)
{
    uint8_t key[TRI_SIPHASH_KEY_BYTES], msg[64];
    (void)st;

    ref_key(key);
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len < 64; len++) {
            /* One byte more only when off + len is 0 (malloc(0) may
             * return NULL). */
            uint8_t *buf = malloc(off + len == 0 ? 1 : off + len);

            assert_non_null(buf);
            memcpy(buf + off, msg, len);
            assert_int_equal(tri_siphash24(key, buf + off, len), ref_vectors[len]);
            free(buf);
        }
    }
}

/* The key is not a constant of the function: the cache depends on it
 * being secret. Every key bit changes the output of every length tried. */
static void test_every_key_bit_counts(void **st)
{
    uint8_t key[TRI_SIPHASH_KEY_BYTES], msg[32];
    (void)st;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)i;
    ref_key(key);
    for (size_t len = 0; len <= sizeof(msg); len += 8) {
        for (size_t byte = 0; byte < TRI_SIPHASH_KEY_BYTES; byte++) {
            for (int bit = 0; bit < 8; bit++) {
                key[byte] ^= (uint8_t)(1u << bit);
                assert_int_not_equal(tri_siphash24(key, msg, len), ref_vectors[len]);
                key[byte] ^= (uint8_t)(1u << bit);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vectors),
        cmocka_unit_test(test_long_messages),
        cmocka_unit_test(test_alignment_and_bounds),
        cmocka_unit_test(test_every_key_bit_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
