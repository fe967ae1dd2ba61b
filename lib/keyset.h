/*
 * An immutable set of keys, sorted by activation time, with what this
 * process needs to seal under each (a salt and the subkey it derives).
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
    int64_t activation;
    uint8_t seal_salt[TRI_SALT_BYTES];
    uint8_t seal_subkey[TRI_AEAD_KEY_BYTES];
    void *tls_state; /* the backend's tls_key_new() state, or NULL */
};

struct tri_keyset {
    uint32_t n;
    uint64_t salt_owner;            /* process (fork.h) that drew the salts */
    atomic_uint_fast64_t seal_uses; /* tickets sealed under these salts */
    atomic_int overdue_logged;
    char fingerprint[TR_FINGERPRINT_HEX + 1];
    struct tri_key keys[];          /* ascending (activation, name) */
};

/* The subkey for (key, salt): HKDF-Expand-SHA256(PRK = HMAC|AES secret,
 * info = "ticketring ticket v1" | salt, 32 bytes). */
int tri_key_subkey(const tr_crypto *c, const struct tri_key *k,
                   const uint8_t salt[TRI_SALT_BYTES],
                   uint8_t out[TRI_AEAD_KEY_BYTES]);

/* Build a set from n entries (any order): refuses zero keys, repeated names
 * and n > TR_RING_MAX_KEYS; draws a fresh salt per key for this process. */
int tri_keyset_build(const struct tri_env *env, const struct tri_keyfile_entry *e,
                     uint32_t n, struct tri_keyset **out);
/* Copy the set's keys out as entries (for a rebuild); wipe them after use. */
void tri_keyset_entries(const struct tri_keyset *ks, struct tri_keyfile_entry *e);
/* Wipe and free; NULL is a no-op. */
void tri_keyset_free(const struct tri_env *env, struct tri_keyset *ks);

/* Index of the key with that name, or -1. */
int tri_keyset_find(const struct tri_keyset *ks, const uint8_t name[TR_KEY_NAME_BYTES]);
/* Index of the encrypt key at `now`: the newest activated at or before it;
 * -1 if none. */
int tri_keyset_encrypt_index(const struct tri_keyset *ks, int64_t now);
/* TR_KEY_* role of key i at `now` under the given lifetime and skew. */
int32_t tri_keyset_role(const struct tri_keyset *ks, uint32_t i, int64_t now,
                        uint32_t lifetime, uint32_t skew);

#endif
