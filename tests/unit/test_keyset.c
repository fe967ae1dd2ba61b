#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "keyset.h"

static struct tri_env env(void)
{
    struct tri_env e;
    memset(&e, 0, sizeof(e));
    e.crypto = tu_backend();
    e.malloc_fn = tu_malloc;
    e.free_fn = tu_free;
    e.alloc_arg = calloc(1, sizeof(struct tu_alloc));
    return e;
}

static void env_done(struct tri_env *e)
{
    struct tu_alloc *a = e->alloc_arg;
    assert_int_equal(a->allocs, a->frees); /* nothing leaked */
    free(a);
}

static void entry(struct tri_keyfile_entry *e, uint8_t seed, int64_t activation)
{
    tu_key(e->key, seed);
    e->activation = activation;
}

static void test_sorted_and_found(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[3];
    struct tri_keyset *ks = NULL;
    (void)state;
    entry(&e[0], 3, 300);
    entry(&e[1], 1, 100);
    entry(&e[2], 2, 200);
    assert_int_equal(tri_keyset_build(&en, e, 3, &ks), 0);
    assert_int_equal(ks->n, 3);
    assert_true(ks->keys[0].activation == 100 && ks->keys[1].activation == 200 &&
                ks->keys[2].activation == 300);
    assert_int_equal(tri_keyset_find(ks, e[0].key), 2);
    assert_int_equal(tri_keyset_find(ks, e[1].key), 0);
    assert_memory_equal(ks->keys[0].secret, e[1].key + 16, 64);
    tri_keyset_free(&en, ks);
    env_done(&en);
}

static void test_refusals(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS + 1];
    struct tri_keyset *ks = NULL;
    (void)state;
    for (int i = 0; i <= TR_RING_MAX_KEYS; i++)
        entry(&e[i], (uint8_t)(i + 1), i);
    assert_int_equal(tri_keyset_build(&en, e, TR_RING_MAX_KEYS + 1, &ks), TR_E_TOO_MANY_KEYS);
    assert_int_equal(tri_keyset_build(&en, e, TR_RING_MAX_KEYS, &ks), 0);
    tri_keyset_free(&en, ks);

    memcpy(e[1].key, e[0].key, 16); /* same name, other secret */
    assert_int_equal(tri_keyset_build(&en, e, 2, &ks), TR_E_KEY_DUPLICATE);
    memset(e[1].key, 0, sizeof(e[1].key));
    assert_int_equal(tri_keyset_build(&en, e, 2, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key + 16, 0, 64); /* zero secret under a real name */
    assert_int_equal(tri_keyset_build(&en, e, 2, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key + 16, 0, 32); /* zero HMAC secret alone */
    assert_int_equal(tri_keyset_build(&en, e, 2, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key + 48, 0, 32); /* zero AES key alone */
    assert_int_equal(tri_keyset_build(&en, e, 2, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key, 0, 16); /* zero name */
    assert_int_equal(tri_keyset_build(&en, e, 2, &ks), TR_E_KEY_ZERO);
    env_done(&en);
}

/* Keys A@1000, B@2000, C@3000; lifetime 100, skew 10. */
static void test_schedule_boundaries(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[3];
    struct tri_keyset *ks = NULL;
    const uint32_t L = 100, S = 10;
    (void)state;
    entry(&e[0], 1, 1000);
    entry(&e[1], 2, 2000);
    entry(&e[2], 3, 3000);
    assert_int_equal(tri_keyset_build(&en, e, 3, &ks), 0);

    assert_int_equal(tri_keyset_encrypt_index(ks, 999), -1);
    assert_int_equal(tri_keyset_role(ks, 0, 999, L, S), TR_KEY_PENDING);
    assert_int_equal(tri_keyset_encrypt_index(ks, 1000), 0);
    assert_int_equal(tri_keyset_role(ks, 0, 1000, L, S), TR_KEY_ENCRYPT);
    assert_int_equal(tri_keyset_role(ks, 1, 1000, L, S), TR_KEY_PENDING);
    assert_int_equal(tri_keyset_encrypt_index(ks, 1999), 0);
    assert_int_equal(tri_keyset_encrypt_index(ks, 2000), 1);
    assert_int_equal(tri_keyset_role(ks, 1, 2000, L, S), TR_KEY_ENCRYPT);
    assert_int_equal(tri_keyset_role(ks, 0, 2000, L, S), TR_KEY_DECRYPT);
    /* A retires once B has been active for longer than lifetime + skew. */
    assert_int_equal(tri_keyset_role(ks, 0, 2000 + L + S, L, S), TR_KEY_DECRYPT);
    assert_int_equal(tri_keyset_role(ks, 0, 2000 + L + S + 1, L, S), TR_KEY_RETIRED);
    assert_int_equal(tri_keyset_role(ks, 1, 2000 + L + S + 1, L, S), TR_KEY_ENCRYPT);
    assert_int_equal(tri_keyset_encrypt_index(ks, 3000), 2);
    assert_int_equal(tri_keyset_role(ks, 1, 3000 + L + S, L, S), TR_KEY_DECRYPT);
    assert_int_equal(tri_keyset_role(ks, 1, 3000 + L + S + 1, L, S), TR_KEY_RETIRED);
    /* The newest key never retires on its own. */
    assert_int_equal(tri_keyset_role(ks, 2, INT64_C(1) << 40, L, S), TR_KEY_ENCRYPT);
    tri_keyset_free(&en, ks);
    env_done(&en);
}

static void test_equal_activation_tiebreak(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[2];
    struct tri_keyset *a = NULL, *b = NULL;
    (void)state;
    entry(&e[0], 1, 500);
    entry(&e[1], 2, 500);
    assert_int_equal(tri_keyset_build(&en, e, 2, &a), 0);
    entry(&e[0], 2, 500);
    entry(&e[1], 1, 500);
    assert_int_equal(tri_keyset_build(&en, e, 2, &b), 0);
    /* Every node picks the same encrypt key whatever the file order. */
    assert_memory_equal(a->keys[tri_keyset_encrypt_index(a, 500)].name,
                        b->keys[tri_keyset_encrypt_index(b, 500)].name, 16);
    assert_int_equal(tri_keyset_role(a, 0, 500, 10, 0), TR_KEY_DECRYPT);
    tri_keyset_free(&en, a);
    tri_keyset_free(&en, b);
    env_done(&en);
}

static void test_fingerprint(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[2], f[2];
    struct tri_keyset *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    (void)state;
    entry(&e[0], 1, 100);
    entry(&e[1], 2, 200);
    f[0] = e[1];
    f[1] = e[0];
    assert_int_equal(tri_keyset_build(&en, e, 2, &a), 0);
    assert_int_equal(tri_keyset_build(&en, f, 2, &b), 0);
    assert_int_equal(strlen(a->fingerprint), TR_FINGERPRINT_HEX);
    assert_string_equal(a->fingerprint, b->fingerprint); /* order-free */
    /* Salts are per build, not part of the fingerprint. */
    assert_memory_not_equal(a->keys[0].seal_salt, b->keys[0].seal_salt, TRI_SALT_BYTES);
    f[0].activation = 201;
    assert_int_equal(tri_keyset_build(&en, f, 2, &c), 0);
    assert_string_not_equal(a->fingerprint, c->fingerprint);
    f[0].activation = 200;
    f[0].key[79] ^= 1; /* same name and time, another secret */
    assert_int_equal(tri_keyset_build(&en, f, 2, &d), 0);
    assert_string_not_equal(a->fingerprint, d->fingerprint);
    tri_keyset_free(&en, a);
    tri_keyset_free(&en, b);
    tri_keyset_free(&en, c);
    tri_keyset_free(&en, d);
    env_done(&en);
}

static void test_subkey_depends_on_salt(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e;
    struct tri_keyset *ks = NULL;
    uint8_t salt[TRI_SALT_BYTES], sub[32];
    (void)state;
    entry(&e, 1, 0);
    assert_int_equal(tri_keyset_build(&en, &e, 1, &ks), 0);
    assert_int_equal(tri_key_subkey(en.crypto, &ks->keys[0], ks->keys[0].seal_salt, sub), 0);
    assert_memory_equal(sub, ks->keys[0].seal_subkey, 32);
    memcpy(salt, ks->keys[0].seal_salt, sizeof(salt));
    salt[0] ^= 1;
    assert_int_equal(tri_key_subkey(en.crypto, &ks->keys[0], salt, sub), 0);
    assert_memory_not_equal(sub, ks->keys[0].seal_subkey, 32);
    tri_keyset_free(&en, ks);
    env_done(&en);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sorted_and_found),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_schedule_boundaries),
        cmocka_unit_test(test_equal_activation_tiebreak),
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_subkey_depends_on_salt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
