/*
 * The table of functions a crypto backend provides to the core.
 *
 * Internal to libticketring and its backend libraries: the public header
 * only names `tr_crypto` as an opaque type. The layout is shared between
 * the core .so and the backend .so files, so it carries its own ABI number
 * which tr_ring_new() checks.
 */
#ifndef TICKETRING_LIB_CRYPTO_H
#define TICKETRING_LIB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "ticketring/ticketring.h"

/* 2 added the optional TLS key state hooks; a table of ABI 1 has none. */
#define TRI_CRYPTO_ABI 2u
#define TRI_CRYPTO_ABI_MIN 1u

#define TRI_SHA256_BYTES 32
#define TRI_AEAD_KEY_BYTES 32   /* AES-256-GCM */
#define TRI_AEAD_NONCE_BYTES 12
#define TRI_AEAD_TAG_BYTES 16

/*
 * Every function returns 0 or a negative TR_E_* code (TR_E_CRYPTO when the
 * library underneath fails). All must be safe to call from many threads at
 * once and must not call the ring's allocator.
 */
struct tr_crypto {
    uint32_t abi;     /* TRI_CRYPTO_ABI */
    const char *name; /* "openssl", "mbedtls" */

    /* Cryptographically secure bytes; fork-safe (a child never repeats
     * its parent's output). */
    int (*random)(uint8_t *buf, size_t len);

    int (*sha256)(const uint8_t *data, size_t len, uint8_t out[TRI_SHA256_BYTES]);

    int (*hmac_sha256)(const uint8_t *key, size_t key_len,
                       const uint8_t *data, size_t len,
                       uint8_t out[TRI_SHA256_BYTES]);

    /* AES-256-GCM over a plaintext given in two parts (head, then tail;
     * head_len a multiple of 16, either part may be empty), written
     * contiguously to out. out may be exactly in place (out == head, tail
     * == head + head_len); no other overlap. */
    int (*aead_seal)(const uint8_t key[TRI_AEAD_KEY_BYTES],
                     const uint8_t nonce[TRI_AEAD_NONCE_BYTES],
                     const uint8_t *aad, size_t aad_len,
                     const uint8_t *head, size_t head_len,
                     const uint8_t *tail, size_t tail_len,
                     uint8_t *out, uint8_t tag[TRI_AEAD_TAG_BYTES]);

    /* The inverse: the first head_len bytes of plaintext (a multiple of 16)
     * go to out_head, the remaining len - head_len to out_tail, so a caller
     * can split a header from a payload without a scratch copy. Returns
     * TR_E_TICKET_AUTH when the tag does not verify; both outputs are then
     * wiped. Exactly in place is allowed (out_head == in, out_tail == in +
     * head_len); no other overlap. */
    int (*aead_open)(const uint8_t key[TRI_AEAD_KEY_BYTES],
                     const uint8_t nonce[TRI_AEAD_NONCE_BYTES],
                     const uint8_t *aad, size_t aad_len,
                     const uint8_t *in, size_t len,
                     const uint8_t tag[TRI_AEAD_TAG_BYTES],
                     uint8_t *out_head, size_t head_len, uint8_t *out_tail);

    /* ABI 2, optional (both NULL when the backend has no TLS glue): state
     * a TLS library's own ticket format needs per key (OpenSSL: cipher
     * contexts keyed once), built when a key set is built and freed with
     * it, handed to the glue by tr_ring_tls_key(). `key` is name | HMAC
     * secret | AES key. May allocate (with the TLS library's allocator);
     * returns 0, TR_E_NOMEM or TR_E_CRYPTO. free must accept NULL and
     * wipe what it frees. */
    int (*tls_key_new)(const uint8_t key[TR_KEY_BYTES], void **state);
    void (*tls_key_free)(void *state);
};

/* The table's TLS hooks, or NULL for a table older than ABI 2. */
static inline int tri_crypto_has_tls(const tr_crypto *c)
{
    return c->abi >= 2 && c->tls_key_new != NULL && c->tls_key_free != NULL;
}

/* HKDF-Expand-SHA256 (RFC 5869 2.3) for one 32-byte block. The PRK must be
 * at least 32 uniformly random bytes: ticket keys are, so the Extract step
 * would only cost a second HMAC. info is at most 64 bytes. */
int tri_hkdf_expand32(const tr_crypto *c, const uint8_t *prk, size_t prk_len,
                      const uint8_t *info, size_t info_len, uint8_t out[TRI_SHA256_BYTES]);

#endif
