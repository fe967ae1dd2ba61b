/*
 * What a ring was given at creation: the crypto backend, the allocator and
 * the random source. Passed to the modules that allocate or draw salts so
 * they can be tested without a ring.
 */
#ifndef TICKETRING_LIB_ENV_H
#define TICKETRING_LIB_ENV_H

#include "crypto.h"

struct tri_env {
    const tr_crypto *crypto;
    tr_malloc_fn malloc_fn;
    tr_free_fn free_fn;
    void *alloc_arg;
    tr_random_fn random_fn; /* NULL: crypto->random */
    void *random_arg;
};

static inline void *tri_alloc(const struct tri_env *env, size_t size)
{
    return env->malloc_fn(size, env->alloc_arg);
}

static inline void tri_free(const struct tri_env *env, void *p)
{
    env->free_fn(p, env->alloc_arg);
}

static inline int tri_random(const struct tri_env *env, uint8_t *buf, size_t len)
{
    int rc = env->random_fn != NULL ? env->random_fn(buf, len, env->random_arg)
                                    : env->crypto->random(buf, len);
    return rc == 0 ? 0 : TR_E_CRYPTO;
}

#endif
