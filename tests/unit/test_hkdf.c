#include "test_util.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

/* RFC 5869 A.1: PRK and info in, the first 32 bytes of OKM out. */
static void test_rfc5869_case1(void **state)
{
    uint8_t prk[32], info[10], okm[32], want[32];
    (void)state;
    unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", prk, 32);
    for (size_t i = 0; i < sizeof(info); i++)
        info[i] = (uint8_t)(0xf0 + i);
    unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf", want, 32);
    assert_int_equal(tri_hkdf_expand32(tu_backend(), prk, sizeof(prk), info, sizeof(info), okm),
                     0);
    assert_memory_equal(okm, want, 32);
}

/* RFC 5869 A.3: empty info. */
static void test_rfc5869_case3(void **state)
{
    uint8_t prk[32], okm[32], want[32];
    (void)state;
    unhex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", prk, 32);
    unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d", want, 32);
    assert_int_equal(tri_hkdf_expand32(tu_backend(), prk, sizeof(prk), NULL, 0, okm), 0);
    assert_memory_equal(okm, want, 32);
}

static void test_limits(void **state)
{
    uint8_t prk[32] = {1}, info[65] = {0}, okm[32];
    (void)state;
    assert_int_equal(tri_hkdf_expand32(tu_backend(), prk, sizeof(prk), info, sizeof(info), okm),
                     TR_E_INVAL);
    /* A PRK shorter than the hash is not a uniformly random key. */
    assert_int_equal(tri_hkdf_expand32(tu_backend(), prk, 31, info, 1, okm), TR_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5869_case1),
        cmocka_unit_test(test_rfc5869_case3),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
