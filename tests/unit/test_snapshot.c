#include "test_util.h"

#include "snapshot.h"

static void test_acquire_sees_latest(void **state)
{
    struct tri_snapshot s;
    int a = 1, b = 2;
    unsigned tok;
    (void)state;
    tri_snapshot_init(&s, &a);
    assert_ptr_equal(tri_snapshot_acquire(&s, &tok), &a);
    tri_snapshot_release(&s, tok);
    assert_ptr_equal(tri_snapshot_exchange(&s, &b), &a);
    assert_ptr_equal(tri_snapshot_acquire(&s, &tok), &b);
    tri_snapshot_release(&s, tok);
    assert_int_equal(atomic_load(&s.readers[0]) + atomic_load(&s.readers[1]), 0);
}

static void test_reset_readers_forgets_parent(void **state)
{
    struct tri_snapshot s;
    int a = 1, b = 2;
    unsigned tok;
    (void)state;
    tri_snapshot_init(&s, &a);
    (void)tri_snapshot_acquire(&s, &tok); /* a reader that never releases */
    tri_snapshot_reset_readers(&s);
    /* Would spin forever without the reset. */
    assert_ptr_equal(tri_snapshot_exchange(&s, &b), &a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acquire_sees_latest),
        cmocka_unit_test(test_reset_readers_forgets_parent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
