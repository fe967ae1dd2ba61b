#include "ring.h"

#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "defaults.h"
#include "fork.h"
#include "secure.h"
#include "watch.h"

#define LIFETIME_MAX 604800u   /* RFC 8446 4.6.1: 7 days */
#define SKEW_MAX 3600u
#define YEAR 31536000u
#define ACTIVATION_MAX (INT64_C(1) << 62)
#define HORIZON_DEFAULT 157680000u /* 5 years of 365 days */
#define HORIZON_MAX 3153600000u    /* 100 years */

int64_t tri_ring_now_ms(const tr_ring *r)
{
    return r->clock_fn != NULL ? r->clock_fn(r->clock_arg) : tri_realtime_ms(NULL);
}

static int64_t now_s(const tr_ring *r)
{
    return tri_floor_s(tri_ring_now_ms(r));
}

/*
 * In a forked child the writer lock may be held by a parent thread that
 * does not exist here, the reader counts include the parent's readers, and
 * a set the parent's writer was retiring is nobody's. The first thread of
 * the child to touch the ring repairs all three, before any thread of the
 * child can have pinned a key set; others wait for it.
 */
static void check_fork(tr_ring *r)
{
    uint64_t me = tri_process_id();
    uint64_t fixer;

    if (atomic_load_explicit(&r->owner, memory_order_acquire) == me)
        return;
    fixer = atomic_load(&r->fork_fixer);
    if (fixer != me && atomic_compare_exchange_strong(&r->fork_fixer, &fixer, me)) {
        tri_keyset_free(&r->env, tri_snapshot_take_retiring(&r->keys));
        tri_snapshot_reset_readers(&r->keys);
        atomic_store(&r->writer_busy, 0);
        atomic_store_explicit(&r->owner, me, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&r->owner, memory_order_acquire) != me)
        sched_yield();
}

struct tri_keyset *tri_ring_enter(tr_ring *r, unsigned *token)
{
    check_fork(r);
    return tri_snapshot_acquire(&r->keys, token);
}

void tri_ring_leave(tr_ring *r, unsigned token)
{
    tri_snapshot_release(&r->keys, token);
}

static int writer_trylock(tr_ring *r)
{
    check_fork(r);
    return atomic_exchange_explicit(&r->writer_busy, 1, memory_order_acquire) == 0;
}

/* Writers wait for each other (a reload may read a file meanwhile); they
 * are rare, so yielding is enough. */
void tri_ring_writer_lock(tr_ring *r)
{
    while (!writer_trylock(r))
        sched_yield();
}

void tri_ring_writer_unlock(tr_ring *r)
{
    atomic_store_explicit(&r->writer_busy, 0, memory_order_release);
}

struct tri_keyset *tri_ring_current_locked(tr_ring *r)
{
    return atomic_load(&r->keys.current);
}

int tri_ring_replace_locked(tr_ring *r, const struct tri_keyfile_entry *e, uint32_t n,
                            const char *cluster)
{
    struct tri_keyset *next = NULL;
    int rc = tri_keyset_build(&r->env, e, n, cluster, &next);
    if (rc != 0)
        return rc;
    tri_keyset_free(&r->env, tri_snapshot_exchange(&r->keys, next));
    return 0;
}

/* Key changes keep the set's cluster. */
static int rebuild_locked(tr_ring *r, const struct tri_keyfile_entry *e, uint32_t n)
{
    return tri_ring_replace_locked(r, e, n, tri_ring_current_locked(r)->cluster);
}

/* A ring with no key: its empty set names `cluster` (NULL: none). */
static int ring_create(tr_ring **out, const tr_crypto *crypto, tr_malloc_fn malloc_fn,
                       tr_free_fn free_fn, void *arg, const char *cluster)
{
    tr_ring *r;
    struct tri_keyset *empty = NULL;
    int rc;

    if (out == NULL || malloc_fn == NULL || free_fn == NULL)
        return TR_E_INVAL;
    *out = NULL;
    if (crypto == NULL || crypto->abi < TRI_CRYPTO_ABI_MIN || crypto->abi > TRI_CRYPTO_ABI)
        return TR_E_BACKEND;
    r = malloc_fn(sizeof(*r), arg);
    if (r == NULL)
        return TR_E_NOMEM;
    memset(r, 0, sizeof(*r));
    r->env.crypto = crypto;
    r->env.malloc_fn = malloc_fn;
    r->env.free_fn = free_fn;
    r->env.alloc_arg = arg;
    rc = tri_keyset_build(&r->env, NULL, 0, cluster, &empty);
    if (rc != 0) {
        free_fn(r, arg);
        return rc;
    }
    atomic_init(&r->lifetime, 7200);
    atomic_init(&r->skew, 60);
    atomic_init(&r->max_age, 86400);
    atomic_init(&r->rotation_period, 0);
    atomic_init(&r->bind_sni, 1);
    atomic_init(&r->bind_alpn, 1);
    atomic_init(&r->exhausted_policy, TR_EXHAUSTED_KEEP);
    atomic_init(&r->file_mode_policy, TR_FILE_MODE_WARN);
    atomic_init(&r->activation_horizon, HORIZON_DEFAULT);
    atomic_init(&r->serial, 0);
    atomic_init(&r->writer_busy, 0);
    atomic_init(&r->owner, tri_process_id());
    atomic_init(&r->fork_fixer, 0);
    tri_snapshot_init(&r->keys, empty);
    *out = r;
    return 0;
}

int tr_ring_new_with_allocator(tr_ring **out, const tr_crypto *crypto,
                               tr_malloc_fn malloc_fn, tr_free_fn free_fn, void *arg)
{
    return ring_create(out, crypto, malloc_fn, free_fn, arg, NULL);
}

int tr_ring_new(tr_ring **out, const tr_crypto *crypto)
{
    return tr_ring_new_with_allocator(out, crypto, tri_default_malloc, tri_default_free, NULL);
}

/* The clock and random source are plain fields, set before the model is
 * shared (ticketring.h), so reading them races with nothing; the policy
 * values are read one by one, each whole. */
int tr_ring_new_like(tr_ring **out, tr_ring *model)
{
    char cluster[TRI_CLUSTER_MAX + 1];
    tr_ring *r = NULL;
    unsigned tok;
    int rc;

    if (out == NULL)
        return TR_E_INVAL;
    *out = NULL;
    if (model == NULL)
        return TR_E_INVAL;
    memcpy(cluster, tri_ring_enter(model, &tok)->cluster, sizeof(cluster));
    tri_ring_leave(model, tok);
    rc = ring_create(&r, model->env.crypto, model->env.malloc_fn, model->env.free_fn,
                     model->env.alloc_arg, cluster);
    if (rc != 0)
        return rc;
    r->env.random_fn = model->env.random_fn;
    r->env.random_arg = model->env.random_arg;
    r->clock_fn = model->clock_fn;
    r->clock_arg = model->clock_arg;
    atomic_store(&r->lifetime, atomic_load(&model->lifetime));
    atomic_store(&r->skew, atomic_load(&model->skew));
    atomic_store(&r->max_age, atomic_load(&model->max_age));
    atomic_store(&r->rotation_period, atomic_load(&model->rotation_period));
    atomic_store(&r->bind_sni, atomic_load(&model->bind_sni));
    atomic_store(&r->bind_alpn, atomic_load(&model->bind_alpn));
    atomic_store(&r->exhausted_policy, atomic_load(&model->exhausted_policy));
    atomic_store(&r->max_encrypt_age, atomic_load(&model->max_encrypt_age));
    atomic_store(&r->file_mode_policy, atomic_load(&model->file_mode_policy));
    atomic_store(&r->activation_horizon, atomic_load(&model->activation_horizon));
    *out = r;
    return 0;
}

void tr_ring_free(tr_ring *r)
{
    struct tri_env env;
    if (r == NULL)
        return;
    tri_watch_free(r); /* its thread may be reloading: stop it first */
    env = r->env;
    tri_keyset_free(&env, atomic_load(&r->keys.current));
    if (r->path != NULL)
        tri_free(&env, r->path);
    tri_wipe(r, sizeof(*r));
    tri_free(&env, r);
}

int tr_ring_set_clock(tr_ring *r, tr_clock_fn fn, void *arg)
{
    if (r == NULL)
        return TR_E_INVAL;
    r->clock_fn = fn;
    r->clock_arg = arg;
    return 0;
}

int tr_ring_set_random(tr_ring *r, tr_random_fn fn, void *arg)
{
    if (r == NULL)
        return TR_E_INVAL;
    r->env.random_fn = fn;
    r->env.random_arg = arg;
    return 0;
}

int tr_ring_set_log(tr_ring *r, tr_log_fn fn, void *arg)
{
    if (r == NULL)
        return TR_E_INVAL;
    r->log_fn = fn;
    r->log_arg = arg;
    return 0;
}

static int set_u32(tr_ring *r, atomic_uint_fast32_t *field, uint32_t v, uint32_t lo,
                   uint32_t hi)
{
    if (r == NULL || v < lo || v > hi)
        return TR_E_INVAL;
    atomic_store(field, v);
    return 0;
}

int tr_ring_set_lifetime(tr_ring *r, uint32_t s)
{
    return set_u32(r, r ? &r->lifetime : NULL, s, 1, LIFETIME_MAX);
}

int tr_ring_set_skew(tr_ring *r, uint32_t s)
{
    return set_u32(r, r ? &r->skew : NULL, s, 0, SKEW_MAX);
}

int tr_ring_set_max_age(tr_ring *r, uint32_t s)
{
    return set_u32(r, r ? &r->max_age : NULL, s, 1, YEAR);
}

int tr_ring_set_rotation_period(tr_ring *r, uint32_t s)
{
    return set_u32(r, r ? &r->rotation_period : NULL, s, 0, YEAR);
}

static int set_flag(tr_ring *r, atomic_int *field, int32_t v, int32_t hi)
{
    if (r == NULL || v < 0 || v > hi)
        return TR_E_INVAL;
    atomic_store(field, v);
    return 0;
}

int tr_ring_set_bind_sni(tr_ring *r, int32_t on)
{
    return set_flag(r, r ? &r->bind_sni : NULL, on, 1);
}

int tr_ring_set_bind_alpn(tr_ring *r, int32_t on)
{
    return set_flag(r, r ? &r->bind_alpn : NULL, on, 1);
}

int tr_ring_set_exhausted_policy(tr_ring *r, int32_t policy)
{
    return set_flag(r, r ? &r->exhausted_policy : NULL, policy, TR_EXHAUSTED_STOP);
}

int tr_ring_set_file_mode_policy(tr_ring *r, int32_t policy)
{
    return set_flag(r, r ? &r->file_mode_policy : NULL, policy, TR_FILE_MODE_REFUSE);
}

int tr_ring_set_activation_horizon(tr_ring *r, uint32_t s)
{
    return set_u32(r, r ? &r->activation_horizon : NULL, s, 0, HORIZON_MAX);
}

int64_t tri_ring_max_activation(tr_ring *r)
{
    uint32_t h = (uint32_t)atomic_load(&r->activation_horizon);
    return h == 0 ? INT64_MAX : now_s(r) + (int64_t)h;
}

/* A key's activation as given to add or generate: the format's range, or
 * pending; not beyond the horizon. */
static int check_activation(tr_ring *r, int64_t activation)
{
    if (activation == TR_ACTIVATION_PENDING)
        return 0;
    if (activation < 0 || activation > ACTIVATION_MAX)
        return TR_E_INVAL;
    return activation > tri_ring_max_activation(r) ? TR_E_KEY_ACTIVATION : 0;
}

/* ---- key changes: each builds a new set under the writer lock ---------- */

int tr_ring_add_key(tr_ring *r, const uint8_t key[TR_KEY_BYTES], int64_t activation)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS + 1];
    struct tri_keyset *cur;
    int rc;

    if (r == NULL || key == NULL)
        return TR_E_INVAL;
    rc = check_activation(r, activation);
    if (rc != 0)
        return rc;
    tri_ring_writer_lock(r);
    cur = tri_ring_current_locked(r);
    if (cur->n >= TR_RING_MAX_KEYS) {
        rc = TR_E_TOO_MANY_KEYS;
    } else {
        tri_keyset_entries(cur, e);
        memcpy(e[cur->n].key, key, TR_KEY_BYTES);
        e[cur->n].activation = activation;
        e[cur->n].flags = 0;
        rc = rebuild_locked(r, e, cur->n + 1);
        tri_wipe(e, sizeof(e));
    }
    tri_ring_writer_unlock(r);
    return rc;
}

int tr_ring_generate_key(tr_ring *r, int64_t activation, uint8_t name_out[TR_KEY_NAME_BYTES])
{
    uint8_t key[TR_KEY_BYTES];
    int rc;

    if (r == NULL)
        return TR_E_INVAL;
    /* Refuse before drawing: a refused time costs no randomness. */
    rc = check_activation(r, activation);
    if (rc == 0)
        rc = tri_random(&r->env, key, sizeof(key));
    if (rc == 0)
        rc = tr_ring_add_key(r, key, activation);
    if (rc == 0 && name_out != NULL)
        memcpy(name_out, key, TR_KEY_NAME_BYTES);
    tri_wipe(key, sizeof(key));
    return rc;
}

int tr_ring_remove_key(tr_ring *r, const uint8_t name[TR_KEY_NAME_BYTES])
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyset *cur;
    int i, rc;

    if (r == NULL || name == NULL)
        return TR_E_INVAL;
    tri_ring_writer_lock(r);
    cur = tri_ring_current_locked(r);
    i = tri_keyset_find(cur, name);
    if (i < 0) {
        rc = TR_E_KEY_NOT_FOUND;
    } else {
        tri_keyset_entries(cur, e);
        memmove(&e[i], &e[i + 1], (cur->n - (uint32_t)i - 1) * sizeof(e[0]));
        rc = rebuild_locked(r, e, cur->n - 1);
        tri_wipe(e, sizeof(e));
    }
    tri_ring_writer_unlock(r);
    return rc;
}

int tri_ring_resalt(tr_ring *r, int wait)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyset *cur;
    int rc = 0;

    if (wait)
        tri_ring_writer_lock(r);
    else if (!writer_trylock(r))
        return 0; /* another writer is publishing a set with fresh salts */
    cur = tri_ring_current_locked(r);
    if (cur->salt_owner != tri_process_id() ||
        atomic_load(&cur->seal_uses) >= TRI_RESALT_AFTER) {
        tri_keyset_entries(cur, e);
        rc = rebuild_locked(r, e, cur->n);
        tri_wipe(e, sizeof(e));
    }
    tri_ring_writer_unlock(r);
    return rc;
}

#define NAME_HEX (2 * TR_KEY_NAME_BYTES)

/* The name is public (every ticket carries it in clear): log lines name
 * keys by it. */
static void name_hex(const uint8_t name[TR_KEY_NAME_BYTES], char hex[NAME_HEX + 1])
{
    for (int j = 0; j < TR_KEY_NAME_BYTES; j++)
        snprintf(hex + 2 * j, 3, "%02x", name[j]);
}

int tr_ring_revoke_key(tr_ring *r, const uint8_t name[TR_KEY_NAME_BYTES])
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyset *cur;
    char hex[NAME_HEX + 1];
    int i, rc = 0, changed = 0;

    if (r == NULL || name == NULL)
        return TR_E_INVAL;
    tri_ring_writer_lock(r);
    cur = tri_ring_current_locked(r);
    i = tri_keyset_find(cur, name);
    if (i < 0) {
        rc = TR_E_KEY_NOT_FOUND;
    } else if (!cur->keys[i].revoked) { /* revoking twice changes nothing */
        tri_keyset_entries(cur, e);
        e[i].flags |= TRI_KEY_REVOKED;
        rc = rebuild_locked(r, e, cur->n);
        tri_wipe(e, sizeof(e));
        changed = rc == 0;
    }
    tri_ring_writer_unlock(r);
    if (changed) {
        name_hex(name, hex);
        tri_log(r, TR_LOG_WARN,
                "key %s revoked: it neither encrypts nor decrypts any more; save the key "
                "file so that every node revokes it",
                hex);
    }
    return rc;
}

/* Only a pending key gets a date, once: nodes may already seal with a key
 * whose date they hold, and a revoked key never comes back. */
static int activatable(const struct tri_keyset *ks, int i)
{
    if (i < 0)
        return TR_E_KEY_NOT_FOUND;
    if (ks->keys[i].revoked || ks->keys[i].activation != TR_ACTIVATION_PENDING)
        return TR_E_INVAL;
    return 0;
}

int tr_ring_activate_key(tr_ring *r, const uint8_t name[TR_KEY_NAME_BYTES],
                         int64_t activation)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyset *cur;
    char hex[NAME_HEX + 1];
    int i, rc;

    if (r == NULL || name == NULL || activation == TR_ACTIVATION_PENDING)
        return TR_E_INVAL;
    rc = check_activation(r, activation);
    if (rc != 0)
        return rc;
    tri_ring_writer_lock(r);
    cur = tri_ring_current_locked(r);
    i = tri_keyset_find(cur, name);
    rc = activatable(cur, i);
    if (rc == 0) {
        tri_keyset_entries(cur, e);
        e[i].activation = activation; /* the build sorts by it */
        rc = rebuild_locked(r, e, cur->n);
        tri_wipe(e, sizeof(e));
    }
    tri_ring_writer_unlock(r);
    if (rc == 0) {
        name_hex(name, hex);
        tri_log(r, TR_LOG_INFO,
                "key %s activates at %" PRId64 "; save the key file so that every node "
                "learns the date",
                hex, activation);
    }
    return rc;
}

/* ---- queries (readers: never wait for a writer) ------------------------- */

int tr_ring_key_count(tr_ring *r, uint32_t *count)
{
    unsigned tok;
    if (r == NULL || count == NULL)
        return TR_E_INVAL;
    *count = tri_ring_enter(r, &tok)->n;
    tri_ring_leave(r, tok);
    return 0;
}

int tr_ring_key_info(tr_ring *r, uint32_t index, uint8_t name_out[TR_KEY_NAME_BYTES],
                     int64_t *activation, int32_t *role)
{
    struct tri_keyset *ks;
    unsigned tok;
    int rc = 0;

    if (r == NULL)
        return TR_E_INVAL;
    ks = tri_ring_enter(r, &tok);
    if (index >= ks->n) {
        rc = TR_E_KEY_NOT_FOUND;
    } else {
        if (name_out != NULL)
            memcpy(name_out, ks->keys[index].name, TR_KEY_NAME_BYTES);
        if (activation != NULL)
            *activation = ks->keys[index].activation;
        if (role != NULL)
            *role = tri_keyset_role(ks, index, now_s(r), (uint32_t)atomic_load(&r->lifetime),
                                    (uint32_t)atomic_load(&r->skew));
    }
    tri_ring_leave(r, tok);
    return rc;
}

int tr_ring_encrypt_key_name(tr_ring *r, uint8_t name_out[TR_KEY_NAME_BYTES])
{
    struct tri_keyset *ks;
    unsigned tok;
    int i;

    if (r == NULL || name_out == NULL)
        return TR_E_INVAL;
    ks = tri_ring_enter(r, &tok);
    i = tri_keyset_encrypt_index(ks, now_s(r));
    if (i >= 0)
        memcpy(name_out, ks->keys[i].name, TR_KEY_NAME_BYTES);
    tri_ring_leave(r, tok);
    return i >= 0 ? 0 : TR_E_NO_ENCRYPT_KEY;
}

int tr_ring_fingerprint(tr_ring *r, char *out, size_t out_size)
{
    unsigned tok;
    if (r == NULL || out == NULL)
        return TR_E_INVAL;
    if (out_size < TR_FINGERPRINT_HEX + 1)
        return TR_E_BUFFER_TOO_SMALL;
    memcpy(out, tri_ring_enter(r, &tok)->fingerprint, TR_FINGERPRINT_HEX + 1);
    tri_ring_leave(r, tok);
    return 0;
}
