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
    e->flags = 0;
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
    assert_int_equal(tri_keyset_build(&en, e, 3, NULL, &ks), 0);
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
    assert_int_equal(tri_keyset_build(&en, e, TR_RING_MAX_KEYS + 1, NULL, &ks), TR_E_TOO_MANY_KEYS);
    assert_int_equal(tri_keyset_build(&en, e, TR_RING_MAX_KEYS, NULL, &ks), 0);
    tri_keyset_free(&en, ks);

    memcpy(e[1].key, e[0].key, 16); /* same name, other secret */
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), TR_E_KEY_DUPLICATE);
    memset(e[1].key, 0, sizeof(e[1].key));
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key + 16, 0, 64); /* zero secret under a real name */
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key + 16, 0, 32); /* zero HMAC secret alone */
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key + 48, 0, 32); /* zero AES key alone */
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), TR_E_KEY_ZERO);
    entry(&e[1], 9, 1);
    memset(e[1].key, 0, 16); /* zero name */
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), TR_E_KEY_ZERO);
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
    assert_int_equal(tri_keyset_build(&en, e, 3, NULL, &ks), 0);

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
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &a), 0);
    entry(&e[0], 2, 500);
    entry(&e[1], 1, 500);
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &b), 0);
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
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &a), 0);
    assert_int_equal(tri_keyset_build(&en, f, 2, NULL, &b), 0);
    assert_int_equal(strlen(a->fingerprint), TR_FINGERPRINT_HEX);
    assert_string_equal(a->fingerprint, b->fingerprint); /* order-free */
    /* Salts are per build, not part of the fingerprint. */
    assert_memory_not_equal(a->keys[0].seal_salt, b->keys[0].seal_salt, TRI_SALT_BYTES);
    f[0].activation = 201;
    assert_int_equal(tri_keyset_build(&en, f, 2, NULL, &c), 0);
    assert_string_not_equal(a->fingerprint, c->fingerprint);
    f[0].activation = 200;
    f[0].key[79] ^= 1; /* same name and time, another secret */
    assert_int_equal(tri_keyset_build(&en, f, 2, NULL, &d), 0);
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
    assert_int_equal(tri_keyset_build(&en, &e, 1, NULL, &ks), 0);
    assert_int_equal(tri_key_subkey(en.crypto, &ks->keys[0], ks->keys[0].seal_salt, sub), 0);
    assert_memory_equal(sub, ks->keys[0].seal_subkey, 32);
    memcpy(salt, ks->keys[0].seal_salt, sizeof(salt));
    salt[0] ^= 1;
    assert_int_equal(tri_key_subkey(en.crypto, &ks->keys[0], salt, sub), 0);
    assert_memory_not_equal(sub, ks->keys[0].seal_subkey, 32);
    tri_keyset_free(&en, ks);
    env_done(&en);
}

/* Pending keys: decrypt, never encrypt, never retire, sort last, and do
 * not supersede the dated key before them. */
static void test_pending_keys(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[4];
    struct tri_keyset *ks = NULL;
    const uint32_t L = 100, S = 10;
    const int64_t far = INT64_C(1) << 40;
    (void)state;
    entry(&e[0], 7, TR_ACTIVATION_PENDING);
    entry(&e[1], 1, 1000);
    entry(&e[2], 3, TR_ACTIVATION_PENDING);
    assert_int_equal(tri_keyset_build(&en, e, 3, NULL, &ks), 0);
    /* Dated first, then pending ones by name. */
    assert_int_equal(ks->keys[0].activation, 1000);
    assert_memory_equal(ks->keys[1].name, e[2].key, 16);
    assert_memory_equal(ks->keys[2].name, e[0].key, 16);
    assert_int_equal(tri_keyset_encrypt_index(ks, 999), -1);
    for (int64_t now = 1000; now < far; now *= 7) {
        assert_int_equal(tri_keyset_encrypt_index(ks, now), 0);
        assert_int_equal(tri_keyset_role(ks, 0, now, L, S), TR_KEY_ENCRYPT);
        assert_int_equal(tri_keyset_role(ks, 1, now, L, S), TR_KEY_PENDING);
        assert_int_equal(tri_keyset_role(ks, 2, now, L, S), TR_KEY_PENDING);
        assert_true(tri_keyset_opens(ks, 1, now, L, S));
        assert_true(tri_keyset_opens(ks, 0, now, L, S));
    }
    /* Even at the end of time a pending key does not encrypt. */
    assert_int_equal(tri_keyset_encrypt_index(ks, INT64_MAX), 0);
    assert_int_equal(tri_keyset_role(ks, 1, INT64_MAX, L, S), TR_KEY_PENDING);
    tri_keyset_free(&en, ks);

    /* A dated key after the first one does supersede it, pending ones
     * in between or not. */
    entry(&e[3], 2, 2000);
    assert_int_equal(tri_keyset_build(&en, e, 4, NULL, &ks), 0);
    assert_int_equal(tri_keyset_encrypt_index(ks, 2000), 1);
    assert_int_equal(tri_keyset_role(ks, 0, 2000 + L + S, L, S), TR_KEY_DECRYPT);
    assert_int_equal(tri_keyset_role(ks, 0, 2000 + L + S + 1, L, S), TR_KEY_RETIRED);
    assert_int_equal(tri_keyset_role(ks, 1, far, L, S), TR_KEY_ENCRYPT);
    assert_int_equal(tri_keyset_role(ks, 2, far, L, S), TR_KEY_PENDING);
    tri_keyset_free(&en, ks);
    env_done(&en);
}

/* Keys A@1000, B@2000 revoked, C@3000; lifetime 100, skew 10. */
static void test_revoked_keys(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[3];
    struct tri_keyset *ks = NULL;
    const uint32_t L = 100, S = 10;
    (void)state;
    entry(&e[0], 1, 1000);
    entry(&e[1], 2, 2000);
    entry(&e[2], 3, 3000);
    e[1].flags = TRI_KEY_REVOKED;
    assert_int_equal(tri_keyset_build(&en, e, 3, NULL, &ks), 0);
    assert_int_equal(ks->keys[1].revoked, 1);
    /* B never encrypts nor opens, whatever the time. */
    for (int64_t now = 0; now < 10000; now += 250) {
        assert_int_equal(tri_keyset_role(ks, 1, now, L, S), TR_KEY_REVOKED);
        assert_false(tri_keyset_opens(ks, 1, now, L, S));
        assert_int_not_equal(tri_keyset_encrypt_index(ks, now), 1);
    }
    /* A keeps encrypting through B's time, and retires only after C's. */
    assert_int_equal(tri_keyset_encrypt_index(ks, 2500), 0);
    assert_int_equal(tri_keyset_role(ks, 0, 2500, L, S), TR_KEY_ENCRYPT);
    assert_int_equal(tri_keyset_role(ks, 0, 2000 + L + S + 1, L, S), TR_KEY_ENCRYPT);
    assert_int_equal(tri_keyset_encrypt_index(ks, 3000), 2);
    assert_int_equal(tri_keyset_role(ks, 0, 3000 + L + S, L, S), TR_KEY_DECRYPT);
    assert_true(tri_keyset_opens(ks, 0, 3000 + L + S, L, S));
    assert_int_equal(tri_keyset_role(ks, 0, 3000 + L + S + 1, L, S), TR_KEY_RETIRED);
    assert_false(tri_keyset_opens(ks, 0, 3000 + L + S + 1, L, S));
    tri_keyset_free(&en, ks);

    /* The newest key revoked: the one before it encrypts again. */
    e[1].flags = 0;
    e[2].flags = TRI_KEY_REVOKED;
    assert_int_equal(tri_keyset_build(&en, e, 3, NULL, &ks), 0);
    assert_int_equal(tri_keyset_encrypt_index(ks, 5000), 1);
    assert_int_equal(tri_keyset_role(ks, 1, 5000, L, S), TR_KEY_ENCRYPT);
    tri_keyset_free(&en, ks);
    /* All revoked: nothing encrypts. */
    for (int i = 0; i < 3; i++)
        e[i].flags = TRI_KEY_REVOKED;
    assert_int_equal(tri_keyset_build(&en, e, 3, NULL, &ks), 0);
    assert_int_equal(tri_keyset_encrypt_index(ks, 5000), -1);
    tri_keyset_free(&en, ks);
    env_done(&en);
}

static void test_build_refusals_v2(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[2];
    struct tri_keyset *ks = NULL;
    char id[TRI_CLUSTER_MAX + 2];
    (void)state;
    entry(&e[0], 1, 100);
    entry(&e[1], 2, 200);
    e[1].flags = 4; /* unknown bit */
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), TR_E_INVAL);
    e[1].flags = 0;
    assert_int_equal(tri_keyset_build(&en, e, 2, "a b", &ks), TR_E_INVAL);
    memset(id, 'x', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    assert_int_equal(tri_keyset_build(&en, e, 2, id, &ks), TR_E_INVAL);
    id[TRI_CLUSTER_MAX] = '\0';
    assert_int_equal(tri_keyset_build(&en, e, 2, id, &ks), 0);
    assert_string_equal(ks->cluster, id);
    tri_keyset_free(&en, ks);
    assert_int_equal(tri_keyset_build(&en, e, 2, "", &ks), 0);
    assert_string_equal(ks->cluster, "");
    tri_keyset_free(&en, ks);
    env_done(&en);
}

/* The fingerprint of a set version 1 can hold, pinned: SHA-256 over
 * "ticketring fingerprint v1" and, per key, name | be64(activation) |
 * SHA-256(secret) (computed independently, and by the library before key
 * file version 2). Keys: tu_key(1)@100, tu_key(2)@200. */
#define FP_V1_PINNED "ddc459c7ac29d65d"

static void test_fingerprint_v1_pinned(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[2];
    struct tri_keyset *ks = NULL;
    (void)state;
    entry(&e[0], 1, 100);
    entry(&e[1], 2, 200);
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &ks), 0);
    assert_string_equal(ks->fingerprint, FP_V1_PINNED);
    tri_keyset_free(&en, ks);
    assert_int_equal(tri_keyset_build(&en, e, 2, "", &ks), 0);
    assert_string_equal(ks->fingerprint, FP_V1_PINNED);
    tri_keyset_free(&en, ks);
    env_done(&en);
}

/* What changes the fingerprint: cluster id, pending state, revoked mark. */
static void test_fingerprint_v2_sensitivity(void **state)
{
    struct tri_env en = env();
    struct tri_keyfile_entry e[2];
    struct tri_keyset *plain = NULL, *k[6] = {NULL};
    (void)state;
    entry(&e[0], 1, 100);
    entry(&e[1], 2, 200);
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &plain), 0);
    assert_int_equal(tri_keyset_build(&en, e, 2, "edge", &k[0]), 0);
    assert_int_equal(tri_keyset_build(&en, e, 2, "origin", &k[1]), 0);
    e[1].flags = TRI_KEY_REVOKED;
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &k[2]), 0);
    assert_int_equal(tri_keyset_build(&en, e, 2, "edge", &k[3]), 0);
    e[1].flags = 0;
    e[1].activation = TR_ACTIVATION_PENDING;
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &k[4]), 0);
    e[1].flags = TRI_KEY_REVOKED;
    assert_int_equal(tri_keyset_build(&en, e, 2, NULL, &k[5]), 0);
    for (int i = 0; i < 6; i++) {
        assert_string_not_equal(plain->fingerprint, k[i]->fingerprint);
        assert_memory_not_equal(plain->digest, k[i]->digest, sizeof(plain->digest));
        for (int j = 0; j < i; j++)
            assert_string_not_equal(k[j]->fingerprint, k[i]->fingerprint);
    }
    /* Same keys, same cluster: same digest, whatever the salts. */
    {
        struct tri_keyset *again = NULL;
        e[1].flags = 0;
        e[1].activation = 200;
        assert_int_equal(tri_keyset_build(&en, e, 2, "edge", &again), 0);
        assert_memory_equal(again->digest, k[0]->digest, sizeof(again->digest));
        assert_string_equal(again->fingerprint, k[0]->fingerprint);
        tri_keyset_free(&en, again);
    }
    tri_keyset_free(&en, plain);
    for (int i = 0; i < 6; i++)
        tri_keyset_free(&en, k[i]);
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
        cmocka_unit_test(test_pending_keys),
        cmocka_unit_test(test_revoked_keys),
        cmocka_unit_test(test_build_refusals_v2),
        cmocka_unit_test(test_fingerprint_v1_pinned),
        cmocka_unit_test(test_fingerprint_v2_sensitivity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
