/*
 * An immutable set of keys, sorted by activation time (pending keys last),
 * with what this process needs to seal under each (a salt and the subkey it
 * derives), and the cluster id the set belongs to.
 * A ring publishes one key set at a time; every change builds a new one.
 * The schedule functions are pure functions of the set, a time and the
 * policy, so every boundary can be tested with plain numbers.
 */
#ifndef TICKETRING_LIB_KEYSET_H
#define TICKETRING_LIB_KEYSET_H

#include <stdatomic.h>

#include "env.h"
#include "keyfile.h"

#define TRI_SALT_BYTES 16
#define TRI_SECRET_BYTES (TR_KEY_BYTES - TR_KEY_NAME_BYTES) /* HMAC | AES */

struct tri_key {
    uint8_t name[TR_KEY_NAME_BYTES];
    uint8_t secret[TRI_SECRET_BYTES];
    int64_t activation; /* TR_ACTIVATION_PENDING: not yet dated */
    int32_t revoked;    /* neither encrypts nor decrypts; kept to be saved */
    uint8_t seal_salt[TRI_SALT_BYTES];
    uint8_t seal_subkey[TRI_AEAD_KEY_BYTES];
    void *tls_state; /* the backend's tls_key_new() state, or NULL */
};

struct tri_keyset {
    uint32_t n;
    uint64_t salt_owner;            /* process (fork.h) that drew the salts */
    atomic_uint_fast64_t seal_uses; /* tickets sealed under these salts */
    atomic_int overdue_logged;
    /* SHA-256 over the cluster id and the keys (names, activations,
     * revoked marks, digests of the secrets): equal exactly when two sets
     * hold the same keys for the same cluster. The fingerprint is its
     * first 8 bytes in hex. */
    uint8_t digest[TRI_SHA256_BYTES];
    char fingerprint[TR_FINGERPRINT_HEX + 1];
    char cluster[TRI_CLUSTER_MAX + 1]; /* "" when none */
    struct tri_key keys[];          /* ascending (activation, name) */
};

/* The subkey for (key, salt): HKDF-Expand-SHA256(PRK = HMAC|AES secret,
 * info = "ticketring ticket v1" | salt, 32 bytes). */
int tri_key_subkey(const tr_crypto *c, const struct tri_key *k,
                   const uint8_t salt[TRI_SALT_BYTES],
                   uint8_t out[TRI_AEAD_KEY_BYTES]);

/* Build a set from n entries (any order) for `cluster` (NULL or "": none):
 * refuses zero keys, repeated names and n > TR_RING_MAX_KEYS (TR_E_* as the
 * key file parser), unknown entry flags or a bad cluster id (TR_E_INVAL);
 * draws a fresh salt per key for this process. */
int tri_keyset_build(const struct tri_env *env, const struct tri_keyfile_entry *e,
                     uint32_t n, const char *cluster, struct tri_keyset **out);
/* Copy the set's keys out as entries (for a rebuild); wipe them after use. */
void tri_keyset_entries(const struct tri_keyset *ks, struct tri_keyfile_entry *e);
/* Wipe and free; NULL is a no-op. */
void tri_keyset_free(const struct tri_env *env, struct tri_keyset *ks);

/* Index of the key with that name, or -1. */
int tri_keyset_find(const struct tri_keyset *ks, const uint8_t name[TR_KEY_NAME_BYTES]);
/* Index of the encrypt key at `now`: the newest key activated at or before
 * it that is not revoked (a pending key never is); -1 if none. */
int tri_keyset_encrypt_index(const struct tri_keyset *ks, int64_t now);
/* TR_KEY_* role of key i at `now` under the given lifetime and skew:
 * REVOKED for a revoked key whatever its time, PENDING for a pending key or
 * one not yet active, ENCRYPT, or DECRYPT / RETIRED for a key superseded by
 * a newer dated key that is not revoked. */
int32_t tri_keyset_role(const struct tri_keyset *ks, uint32_t i, int64_t now,
                        uint32_t lifetime, uint32_t skew);
/* 1 when key i may open a ticket at `now`: every role but RETIRED and
 * REVOKED (pending keys decrypt: a node whose clock runs ahead, or that got
 * the activation first, may already seal with them). */
int tri_keyset_opens(const struct tri_keyset *ks, uint32_t i, int64_t now, uint32_t lifetime,
                     uint32_t skew);

#endif
