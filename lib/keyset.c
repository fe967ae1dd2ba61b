#include "keyset.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fork.h"
#include "secure.h"

static const uint8_t subkey_info[] = "ticketring ticket v1";
static const uint8_t fingerprint_label[] = "ticketring fingerprint v1";
static const uint8_t fingerprint_label_v2[] = "ticketring fingerprint v2";

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
 * The digest: SHA-256 over a label, the cluster id (when the set has one)
 * and, per key in schedule order, its name, its activation time and
 * SHA-256 of its secret. The fingerprint: its first 8 bytes in hex.
 * Secrets are 512 bits, so their hash reveals nothing usable; 64 bits of
 * output are plenty to tell two nodes' key sets apart, and the whole digest
 * tells whether a file holds the very keys a serial was given to.
 *
 * A set without a cluster id is hashed exactly as before the cluster
 * existed (label v1), so the fingerprint of every set a version-1 file can
 * hold never changes. A pending key's activation is TR_ACTIVATION_PENDING
 * (2^63 - 1, beyond any dated key's 2^62) and a revoked key's has its top
 * bit set: neither can equal the field of a live dated key, so two nodes
 * that disagree on a key's pending or revoked state disagree on the
 * fingerprint. The serial is not included: rewriting the same keys must not
 * look like drift.
 */
static int fingerprint(const tr_crypto *c, struct tri_keyset *ks)
{
    enum { PER_KEY = TR_KEY_NAME_BYTES + 8 + TRI_SHA256_BYTES };
    uint8_t buf[sizeof(fingerprint_label_v2) + 1 + TRI_CLUSTER_MAX + TR_RING_MAX_KEYS * PER_KEY];
    uint8_t *digest = ks->digest;
    size_t cluster_len = strlen(ks->cluster);
    size_t len;
    int rc = 0;

    if (cluster_len == 0) {
        len = sizeof(fingerprint_label) - 1;
        memcpy(buf, fingerprint_label, len);
    } else {
        /* Length-prefixed, so the id cannot run into the first key name. */
        len = sizeof(fingerprint_label_v2) - 1;
        memcpy(buf, fingerprint_label_v2, len);
        buf[len++] = (uint8_t)cluster_len;
        memcpy(buf + len, ks->cluster, cluster_len);
        len += cluster_len;
    }
    for (uint32_t i = 0; i < ks->n && rc == 0; i++) {
        const struct tri_key *k = &ks->keys[i];
        uint64_t act = (uint64_t)k->activation;
        if (k->revoked)
            act |= UINT64_C(1) << 63;
        memcpy(buf + len, k->name, TR_KEY_NAME_BYTES);
        tri_put_be64(buf + len + TR_KEY_NAME_BYTES, (int64_t)act);
        rc = c->sha256(k->secret, sizeof(k->secret), buf + len + TR_KEY_NAME_BYTES + 8);
        len += PER_KEY;
    }
    if (rc == 0)
        rc = c->sha256(buf, len, digest);
    if (rc == 0) {
        tri_hex_encode(ks->fingerprint, digest, TR_FINGERPRINT_HEX / 2);
        ks->fingerprint[TR_FINGERPRINT_HEX] = '\0';
    }
    tri_wipe(buf, len);
    return rc;
}

int tri_keyset_build(const struct tri_env *env, const struct tri_keyfile_entry *e,
                     uint32_t n, const char *cluster, struct tri_keyset **out)
{
    struct tri_keyset *ks;
    size_t size;
    int rc = 0;

    if (cluster == NULL)
        cluster = "";
    if (cluster[0] != '\0' && !tri_cluster_valid(cluster))
        return TR_E_INVAL;
    if (n > TR_RING_MAX_KEYS)
        return TR_E_TOO_MANY_KEYS;
    for (uint32_t i = 0; i < n; i++) {
        /* A zero name, HMAC secret or AES key: the key file parser refuses
         * the same, so whatever a ring holds it can also save and load. */
        const uint8_t *k = e[i].key;
        if ((e[i].flags & ~TRI_KEY_REVOKED) != 0) /* an uninitialised entry? */
            return TR_E_INVAL;
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
    memcpy(ks->cluster, cluster, strlen(cluster) + 1);
    ks->salt_owner = tri_process_id();
    atomic_init(&ks->seal_uses, 0);
    atomic_init(&ks->overdue_logged, 0);
    for (uint32_t i = 0; i < n; i++) {
        memcpy(ks->keys[i].name, e[i].key, TR_KEY_NAME_BYTES);
        memcpy(ks->keys[i].secret, e[i].key + TR_KEY_NAME_BYTES, TRI_SECRET_BYTES);
        ks->keys[i].activation = e[i].activation;
        ks->keys[i].revoked = (e[i].flags & TRI_KEY_REVOKED) != 0;
    }
    sort_keys(ks->keys, n); /* pending keys (INT64_MAX) last */
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
        e[i].flags = ks->keys[i].revoked ? TRI_KEY_REVOKED : 0;
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
    for (uint32_t i = ks->n; i > 0; i--) {
        const struct tri_key *k = &ks->keys[i - 1];
        if (!k->revoked && k->activation != TR_ACTIVATION_PENDING && k->activation <= now)
            return (int)(i - 1);
    }
    return -1;
}

int32_t tri_keyset_role(const struct tri_keyset *ks, uint32_t i, int64_t now,
                        uint32_t lifetime, uint32_t skew)
{
    const struct tri_key *k = &ks->keys[i];
    uint32_t next;

    if (k->revoked)
        return TR_KEY_REVOKED;
    if (k->activation == TR_ACTIVATION_PENDING || k->activation > now)
        return TR_KEY_PENDING;
    if ((int)i == tri_keyset_encrypt_index(ks, now))
        return TR_KEY_ENCRYPT;
    /* Superseded by the next key that took over encrypting: a dated key
     * that is not revoked (a pending key never took over; a revoked one
     * did not on the nodes that know it is revoked, so this key encrypted
     * there until the next live key's activation). A node whose clock lags
     * by `skew` may have sealed with this key until then + skew, and that
     * ticket lives for `lifetime`. Such a key exists: the encrypt key is
     * one, and it is newer than this one. */
    for (next = i + 1; next < ks->n; next++)
        if (!ks->keys[next].revoked && ks->keys[next].activation != TR_ACTIVATION_PENDING)
            break;
    if (next == ks->n)
        return TR_KEY_DECRYPT;
    if (now - ks->keys[next].activation > (int64_t)lifetime + (int64_t)skew)
        return TR_KEY_RETIRED;
    return TR_KEY_DECRYPT;
}

int tri_keyset_opens(const struct tri_keyset *ks, uint32_t i, int64_t now, uint32_t lifetime,
                     uint32_t skew)
{
    int32_t role = tri_keyset_role(ks, i, now, lifetime, skew);
    return role != TR_KEY_RETIRED && role != TR_KEY_REVOKED;
}
