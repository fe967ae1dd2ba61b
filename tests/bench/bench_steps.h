/* The single steps a ticket key callback path is made of, each timed alone
 * by bench_cbpath.c so that a path's cost can be split into OpenSSL's share
 * and the callback's. */
#ifndef TICKETRING_BENCH_STEPS_H
#define TICKETRING_BENCH_STEPS_H

#include "ticketring/ticketring.h"

#define BT_STATE_BYTES 192 /* a TLS 1.3 session: OpenSSL's tickets are 224-240 B */
#define BT_CT_BYTES (BT_STATE_BYTES + 16)
#define BT_TICKET_BYTES (16 + 16 + BT_CT_BYTES + 32)

enum bt_step {
    BT_CTX,             /* EVP_CIPHER_CTX_new + free */
    BT_HMAC_EVP,        /* ssl_hmac_new + free, evp callbacks and built-in keys */
    BT_HMAC_LEGACY,     /* ssl_hmac_new + free, legacy callbacks */
    BT_RAND,            /* RAND_bytes, 16 bytes */
    BT_IV_BATCH,        /* the glue's batched IV (needs the glue) */
    BT_ERR_MARK,        /* ERR_set_mark + ERR_pop_to_mark */
    BT_RING_ENC,        /* tr_ring_tls_key for the encrypt key (needs the glue) */
    BT_RING_DEC,        /* tr_ring_tls_key by name (needs the glue) */
    BT_ENC_IMPLICIT,    /* EncryptInit_ex(EVP_aes_256_cbc(), key, iv) */
    BT_DEC_IMPLICIT,    /* DecryptInit_ex(EVP_aes_256_cbc(), key, iv) */
    BT_ENC_FETCH,       /* EVP_CIPHER_fetch + EncryptInit_ex + EVP_CIPHER_free */
    BT_ENC_PREFETCHED,  /* EncryptInit_ex(fetched once, key, iv) */
    BT_COPY_ENC,        /* EVP_CIPHER_CTX_copy of a keyed ctx + set IV */
    BT_COPY_DEC,
    BT_HMAC_INIT_LEGACY, /* HMAC_Init_ex(key, EVP_sha256()) */
    BT_HMAC_COPY,       /* HMAC_CTX_copy of a keyed HMAC_CTX */
    BT_MAC_INIT_DIGEST, /* EVP_MAC_init(key, digest "SHA256") */
    BT_MAC_SET_DIGEST,  /* ... of which: setting the digest by name */
    BT_MAC_INIT_KEY,    /* ... of which: the key, digest already set */
    BT_MAC_RESTART,     /* EVP_MAC_init(NULL): restart a keyed ctx */
    BT_CBC_ENC,         /* set IV, encrypt the session, final */
    BT_CBC_DEC,
    BT_MAC_DATA_EVP,    /* HMAC of name | IV | ciphertext, EVP_MAC */
    BT_MAC_DATA_LEGACY, /* the same with HMAC_CTX */
    BT_NSTEPS
};

struct bt_step_def {
    const char *label;
    int (*op)(void *steps); /* 0 or -1 */
    const char *who;        /* which paths run it per ticket */
};

extern const struct bt_step_def bt_steps_def[BT_NSTEPS];

/* State for every step; ring is (c)'s (NULL: the glue steps are not
 * available). NULL on failure. */
void *bt_steps_new(tr_ring *ring);
void bt_steps_free(void *steps);

/* Whether step k can run (the glue's need the glue and a ring). */
int bt_step_available(const void *steps, enum bt_step k);

#endif
