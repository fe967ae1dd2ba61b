#include "test_util.h"

#include <string.h>

#include "secure.h"

static void test_ct_equal(void **state)
{
    uint8_t a[33], b[33];
    (void)state;
    for (size_t i = 0; i < sizeof(a); i++)
        a[i] = b[i] = (uint8_t)(i * 13);
    assert_int_equal(tri_ct_equal(a, b, sizeof(a)), 1);
    assert_int_equal(tri_ct_equal(a, b, 0), 1);
    for (size_t i = 0; i < sizeof(a); i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(tri_ct_equal(a, b, sizeof(a)), 0);
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
}

static void test_ct_is_zero(void **state)
{
    uint8_t z[80] = {0};
    (void)state;
    assert_int_equal(tri_ct_is_zero(z, sizeof(z)), 1);
    for (size_t i = 0; i < sizeof(z); i++) {
        z[i] = 0x80;
        assert_int_equal(tri_ct_is_zero(z, sizeof(z)), 0);
        z[i] = 0;
    }
}

static void test_wipe(void **state)
{
    uint8_t buf[64];
    (void)state;
    memset(buf, 0xAB, sizeof(buf));
    tri_wipe(buf + 8, 48);
    for (size_t i = 0; i < sizeof(buf); i++)
        assert_int_equal(buf[i], (i < 8 || i >= 56) ? 0xAB : 0);
    tri_wipe(NULL, 10); /* tolerated */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ct_equal),
        cmocka_unit_test(test_ct_is_zero),
        cmocka_unit_test(test_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
