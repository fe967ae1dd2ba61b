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

/* RFC 5869 A.1: the first 32 bytes of OKM. */
static void test_rfc5869_case1(void **state)
{
    uint8_t ikm[22], salt[13], info[10], okm[32], want[32];
    (void)state;
    memset(ikm, 0x0b, sizeof(ikm));
    for (size_t i = 0; i < sizeof(salt); i++)
        salt[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(info); i++)
        info[i] = (uint8_t)(0xf0 + i);
    unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf", want, 32);
    assert_int_equal(tri_hkdf_sha256(tu_backend(), salt, sizeof(salt), ikm, sizeof(ikm),
                                     info, sizeof(info), okm), 0);
    assert_memory_equal(okm, want, 32);
}

/* RFC 5869 A.3: empty salt means HashLen zero bytes; empty info. */
static void test_rfc5869_case3(void **state)
{
    uint8_t ikm[22], okm[32], want[32];
    (void)state;
    memset(ikm, 0x0b, sizeof(ikm));
    unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d", want, 32);
    assert_int_equal(tri_hkdf_sha256(tu_backend(), NULL, 0, ikm, sizeof(ikm), NULL, 0, okm), 0);
    assert_memory_equal(okm, want, 32);
}

static void test_info_too_long(void **state)
{
    uint8_t ikm[32] = {1}, info[65] = {0}, okm[32];
    (void)state;
    assert_int_equal(tri_hkdf_sha256(tu_backend(), NULL, 0, ikm, sizeof(ikm), info,
                                     sizeof(info), okm), TR_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc5869_case1),
        cmocka_unit_test(test_rfc5869_case3),
        cmocka_unit_test(test_info_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
