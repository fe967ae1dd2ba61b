#include "keyset.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fork.h"
#include "secure.h"

static const uint8_t subkey_info[] = "ticketring ticket v1";
static const uint8_t fingerprint_label[] = "ticketring fingerprint v1";

int tri_key_subkey(const tr_crypto *c, const struct tri_key *k,
                   const uint8_t salt[TRI_SALT_BYTES], uint8_t out[TRI_AEAD_KEY_BYTES])
{
    uint8_t info[sizeof(subkey_info) - 1 + TRI_SALT_BYTES];
    memcpy(info, subkey_info, sizeof(subkey_info) - 1);
    memcpy(info + sizeof(subkey_info) - 1, salt, TRI_SALT_BYTES);
    return tri_hkdf_expand32(c, k->secret, sizeof(k->secret), info, sizeof(info), out);
}

static int key_order(const struct tri_key *a, const struct tri_key *b)
{
    if (a->activation != b->activation)
        return a->activation < b->activation ? -1 : 1;
    /* Equal activations: a total order every node agrees on. */
    return memcmp(a->name, b->name, TR_KEY_NAME_BYTES);
}

static void sort_keys(struct tri_key *k, uint32_t n)
{
    /* Insertion sort: n <= 64 and no allocation. Swaps go through one
     * temporary that is wiped afterwards. */
    struct tri_key tmp;
    for (uint32_t i = 1; i < n; i++) {
        uint32_t j = i;
        memcpy(&tmp, &k[i], sizeof(tmp));
        while (j > 0 && key_order(&k[j - 1], &tmp) > 0) {
            memcpy(&k[j], &k[j - 1], sizeof(tmp));
            j--;
        }
        memcpy(&k[j], &tmp, sizeof(tmp));
    }
    tri_wipe(&tmp, sizeof(tmp));
}

/*
 * SHA-256 over a label and, per key in schedule order, its name, its
 * activation time and SHA-256 of its secret; the first 8 bytes in hex.
 * Secrets are 512 bits, so their hash reveals nothing usable; 64 bits of
 * output are plenty to tell two nodes' key sets apart.
 */
static int fingerprint(const tr_crypto *c, struct tri_keyset *ks)
{
    static const char hex[] = "0123456789abcdef";
    enum { PER_KEY = TR_KEY_NAME_BYTES + 8 + TRI_SHA256_BYTES };
    uint8_t buf[sizeof(fingerprint_label) + TR_RING_MAX_KEYS * PER_KEY];
    uint8_t digest[TRI_SHA256_BYTES];
    size_t len = sizeof(fingerprint_label) - 1;
    int rc = 0;

    memcpy(buf, fingerprint_label, len);
    for (uint32_t i = 0; i < ks->n && rc == 0; i++) {
        const struct tri_key *k = &ks->keys[i];
        memcpy(buf + len, k->name, TR_KEY_NAME_BYTES);
        tri_put_be64(buf + len + TR_KEY_NAME_BYTES, k->activation);
        rc = c->sha256(k->secret, sizeof(k->secret), buf + len + TR_KEY_NAME_BYTES + 8);
        len += PER_KEY;
    }
    if (rc == 0)
        rc = c->sha256(buf, len, digest);
    if (rc == 0) {
        for (int i = 0; i < TR_FINGERPRINT_HEX / 2; i++) {
            ks->fingerprint[2 * i] = hex[digest[i] >> 4];
            ks->fingerprint[2 * i + 1] = hex[digest[i] & 15];
        }
        ks->fingerprint[TR_FINGERPRINT_HEX] = '\0';
    }
    tri_wipe(buf, len);
    return rc;
}

int tri_keyset_build(const struct tri_env *env, const struct tri_keyfile_entry *e,
                     uint32_t n, struct tri_keyset **out)
{
    struct tri_keyset *ks;
    size_t size;
    int rc = 0;

    if (n > TR_RING_MAX_KEYS)
        return TR_E_TOO_MANY_KEYS;
    for (uint32_t i = 0; i < n; i++) {
        /* A zero name, HMAC secret or AES key: the key file parser refuses
         * the same, so whatever a ring holds it can also save and load. */
        const uint8_t *k = e[i].key;
        if (tri_ct_is_zero(k, TR_KEY_NAME_BYTES) ||
            tri_ct_is_zero(k + TR_KEY_NAME_BYTES, TRI_SECRET_BYTES / 2) ||
            tri_ct_is_zero(k + TR_KEY_NAME_BYTES + TRI_SECRET_BYTES / 2, TRI_SECRET_BYTES / 2))
            return TR_E_KEY_ZERO;
        for (uint32_t j = 0; j < i; j++)
            if (memcmp(e[i].key, e[j].key, TR_KEY_NAME_BYTES) == 0)
                return TR_E_KEY_DUPLICATE;
    }

    size = sizeof(*ks) + (size_t)n * sizeof(ks->keys[0]);
    ks = tri_alloc(env, size);
    if (ks == NULL)
        return TR_E_NOMEM;
    memset(ks, 0, size);
    ks->n = n;
    ks->salt_owner = tri_process_id();
    atomic_init(&ks->seal_uses, 0);
    atomic_init(&ks->overdue_logged, 0);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(ks->keys[i].name, e[i].key, TR_KEY_NAME_BYTES);
        memcpy(ks->keys[i].secret, e[i].key + TR_KEY_NAME_BYTES, TRI_SECRET_BYTES);
        ks->keys[i].activation = e[i].activation;
    }
    sort_keys(ks->keys, n);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        struct tri_key *k = &ks->keys[i];
        rc = tri_random(env, k->seal_salt, sizeof(k->seal_salt));
        if (rc == 0)
            rc = tri_key_subkey(env->crypto, k, k->seal_salt, k->seal_subkey);
        if (rc == 0 && tri_crypto_has_tls(env->crypto)) {
            uint8_t key[TR_KEY_BYTES];
            memcpy(key, k->name, TR_KEY_NAME_BYTES);
            memcpy(key + TR_KEY_NAME_BYTES, k->secret, TRI_SECRET_BYTES);
            rc = env->crypto->tls_key_new(key, &k->tls_state);
            tri_wipe(key, sizeof(key));
        }
    }
    if (rc == 0)
        rc = fingerprint(env->crypto, ks);
    if (rc != 0) {
        tri_keyset_free(env, ks);
        return rc;
    }
    *out = ks;
    return 0;
}

void tri_keyset_entries(const struct tri_keyset *ks, struct tri_keyfile_entry *e)
{
    for (uint32_t i = 0; i < ks->n; i++) {
        memcpy(e[i].key, ks->keys[i].name, TR_KEY_NAME_BYTES);
        memcpy(e[i].key + TR_KEY_NAME_BYTES, ks->keys[i].secret, TRI_SECRET_BYTES);
        e[i].activation = ks->keys[i].activation;
    }
}

void tri_keyset_free(const struct tri_env *env, struct tri_keyset *ks)
{
    if (ks == NULL)
        return;
    if (tri_crypto_has_tls(env->crypto))
        for (uint32_t i = 0; i < ks->n; i++)
            env->crypto->tls_key_free(ks->keys[i].tls_state);
    tri_wipe(ks, sizeof(*ks) + (size_t)ks->n * sizeof(ks->keys[0]));
    tri_free(env, ks);
}

int tri_keyset_find(const struct tri_keyset *ks, const uint8_t name[TR_KEY_NAME_BYTES])
{
    /* Names are public (they travel in every ticket): memcmp is fine. */
    for (uint32_t i = 0; i < ks->n; i++)
        if (memcmp(ks->keys[i].name, name, TR_KEY_NAME_BYTES) == 0)
            return (int)i;
    return -1;
}

int tri_keyset_encrypt_index(const struct tri_keyset *ks, int64_t now)
{
    for (uint32_t i = ks->n; i > 0; i--)
        if (ks->keys[i - 1].activation <= now)
            return (int)(i - 1);
    return -1;
}

int32_t tri_keyset_role(const struct tri_keyset *ks, uint32_t i, int64_t now,
                        uint32_t lifetime, uint32_t skew)
{
    int enc = tri_keyset_encrypt_index(ks, now);
    int64_t next_active;

    if (ks->keys[i].activation > now)
        return TR_KEY_PENDING;
    if ((int)i == enc)
        return TR_KEY_ENCRYPT;
    /* Superseded: a node whose clock lags by `skew` may have sealed with it
     * until the next key's activation + skew, and that ticket lives for
     * `lifetime`. */
    next_active = ks->keys[i + 1].activation;
    if (now - next_active > (int64_t)lifetime + (int64_t)skew)
        return TR_KEY_RETIRED;
    return TR_KEY_DECRYPT;
}
