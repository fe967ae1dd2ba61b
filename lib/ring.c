#include "ring.h"

#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fork.h"
#include "secure.h"

#define LIFETIME_MAX 604800u   /* RFC 8446 4.6.1: 7 days */
#define SKEW_MAX 3600u
#define YEAR 31536000u
#define ACTIVATION_MAX (INT64_C(1) << 62)

static void *default_malloc(size_t size, void *arg)
{
    (void)arg;
    return malloc(size);
}

static void default_free(void *p, void *arg)
{
    (void)arg;
    free(p);
}

int64_t tri_ring_now_ms(const tr_ring *r)
{
    struct timespec ts;
    if (r->clock_fn != NULL)
        return r->clock_fn(r->clock_arg);
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
static void writer_lock(tr_ring *r)
{
    while (!writer_trylock(r))
        sched_yield();
}

static void writer_unlock(tr_ring *r)
{
    atomic_store_explicit(&r->writer_busy, 0, memory_order_release);
}

/* Under the writer lock: the set only a writer replaces. */
static struct tri_keyset *current_locked(tr_ring *r)
{
    return atomic_load(&r->keys.current);
}

/* Under the writer lock: build a set from entries and publish it. */
static int replace_locked(tr_ring *r, const struct tri_keyfile_entry *e, uint32_t n)
{
    struct tri_keyset *next = NULL;
    int rc = tri_keyset_build(&r->env, e, n, &next);
    if (rc != 0)
        return rc;
    tri_keyset_free(&r->env, tri_snapshot_exchange(&r->keys, next));
    return 0;
}

int tr_ring_new_with_allocator(tr_ring **out, const tr_crypto *crypto,
                               tr_malloc_fn malloc_fn, tr_free_fn free_fn, void *arg)
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
    rc = tri_keyset_build(&r->env, NULL, 0, &empty);
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
    atomic_init(&r->writer_busy, 0);
    atomic_init(&r->owner, tri_process_id());
    atomic_init(&r->fork_fixer, 0);
    tri_snapshot_init(&r->keys, empty);
    *out = r;
    return 0;
}

int tr_ring_new(tr_ring **out, const tr_crypto *crypto)
{
    return tr_ring_new_with_allocator(out, crypto, default_malloc, default_free, NULL);
}

void tr_ring_free(tr_ring *r)
{
    struct tri_env env;
    if (r == NULL)
        return;
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

/* ---- key changes: each builds a new set under the writer lock ---------- */

int tr_ring_add_key(tr_ring *r, const uint8_t key[TR_KEY_BYTES], int64_t activation)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS + 1];
    struct tri_keyset *cur;
    int rc;

    if (r == NULL || key == NULL || activation < 0 || activation > ACTIVATION_MAX)
        return TR_E_INVAL;
    writer_lock(r);
    cur = current_locked(r);
    if (cur->n >= TR_RING_MAX_KEYS) {
        rc = TR_E_TOO_MANY_KEYS;
    } else {
        tri_keyset_entries(cur, e);
        memcpy(e[cur->n].key, key, TR_KEY_BYTES);
        e[cur->n].activation = activation;
        rc = replace_locked(r, e, cur->n + 1);
        tri_wipe(e, sizeof(e));
    }
    writer_unlock(r);
    return rc;
}

int tr_ring_generate_key(tr_ring *r, int64_t activation, uint8_t name_out[TR_KEY_NAME_BYTES])
{
    uint8_t key[TR_KEY_BYTES];
    int rc;

    if (r == NULL)
        return TR_E_INVAL;
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
    writer_lock(r);
    cur = current_locked(r);
    i = tri_keyset_find(cur, name);
    if (i < 0) {
        rc = TR_E_KEY_NOT_FOUND;
    } else {
        tri_keyset_entries(cur, e);
        memmove(&e[i], &e[i + 1], (cur->n - (uint32_t)i - 1) * sizeof(e[0]));
        rc = replace_locked(r, e, cur->n - 1);
        tri_wipe(e, sizeof(e));
    }
    writer_unlock(r);
    return rc;
}

int tri_ring_resalt(tr_ring *r, int wait)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyset *cur;
    int rc = 0;

    if (wait)
        writer_lock(r);
    else if (!writer_trylock(r))
        return 0; /* another writer is publishing a set with fresh salts */
    cur = current_locked(r);
    if (cur->salt_owner != tri_process_id() ||
        atomic_load(&cur->seal_uses) >= TRI_RESALT_AFTER) {
        tri_keyset_entries(cur, e);
        rc = replace_locked(r, e, cur->n);
        tri_wipe(e, sizeof(e));
    }
    writer_unlock(r);
    return rc;
}

/* ---- key files ----------------------------------------------------------- */

static int load_locked(tr_ring *r, const char *path, uint32_t *err_line)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    const char *why = NULL;
    uint32_t n = 0, line = 0;
    size_t len = 0;
    char *buf;
    int rc;

    buf = tri_alloc(&r->env, TRI_KEYFILE_MAX_BYTES);
    if (buf == NULL)
        return TR_E_NOMEM;
    rc = tri_keyfile_read(path, buf, TRI_KEYFILE_MAX_BYTES, &len);
    if (rc == 0)
        rc = tri_keyfile_parse(r->env.crypto, buf, len, e, TR_RING_MAX_KEYS, &n, &line,
                               &why);
    tri_wipe(buf, len);
    tri_free(&r->env, buf);
    if (rc == 0)
        rc = replace_locked(r, e, n);
    tri_wipe(e, sizeof(e));
    if (err_line != NULL)
        *err_line = rc == 0 ? 0 : line;
    if (rc != 0) {
        tri_count(&r->counters.reload_failures);
        /* One line in the compiler's FILE:LINE: shape, then what it means. */
        if (line != 0)
            tri_log(r, TR_LOG_ERROR, "%s:%u: %s (%s)", path, line,
                    why != NULL ? why : tr_strerror(rc), tr_strerror(rc));
        else
            tri_log(r, TR_LOG_ERROR, "%s: %s", path, why != NULL ? why : tr_strerror(rc));
        tri_log(r, TR_LOG_WARN, "key file %s refused; keys unchanged (fingerprint %s)", path,
                current_locked(r)->fingerprint);
        return rc;
    }
    tri_count(&r->counters.reloads);
    tri_log(r, TR_LOG_INFO, "key file %s: %u keys, fingerprint %s", path, n,
            current_locked(r)->fingerprint);
    return 0;
}

int tr_ring_load(tr_ring *r, const char *path, uint32_t *err_line)
{
    size_t len;
    char *copy;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (r == NULL || path == NULL)
        return TR_E_INVAL;
    len = strlen(path) + 1;
    copy = tri_alloc(&r->env, len);
    if (copy == NULL)
        return TR_E_NOMEM;
    memcpy(copy, path, len);
    writer_lock(r);
    rc = load_locked(r, copy, err_line);
    if (rc == 0) {
        if (r->path != NULL)
            tri_free(&r->env, r->path);
        r->path = copy;
        copy = NULL;
    }
    writer_unlock(r);
    if (copy != NULL)
        tri_free(&r->env, copy);
    return rc;
}

int tr_ring_reload(tr_ring *r, uint32_t *err_line)
{
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (r == NULL)
        return TR_E_INVAL;
    writer_lock(r);
    rc = r->path == NULL ? TR_E_NO_FILE : load_locked(r, r->path, err_line);
    writer_unlock(r);
    return rc;
}

int tr_ring_save(tr_ring *r, const char *path)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyset *cur;
    size_t cap, len = 0;
    char *buf;
    int rc;

    if (r == NULL || path == NULL)
        return TR_E_INVAL;
    writer_lock(r);
    cur = current_locked(r);
    cap = tri_keyfile_size(cur->n);
    buf = tri_alloc(&r->env, cap);
    if (buf == NULL) {
        rc = TR_E_NOMEM;
    } else {
        tri_keyset_entries(cur, e);
        rc = tri_keyfile_format(r->env.crypto, e, cur->n, buf, cap, &len);
        tri_wipe(e, sizeof(e));
        if (rc == 0)
            rc = tri_keyfile_write(path, buf, len);
        tri_wipe(buf, cap);
        tri_free(&r->env, buf);
    }
    writer_unlock(r);
    if (rc != 0)
        tri_log(r, TR_LOG_ERROR, "key file %s: not written: %s", path, tr_strerror(rc));
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
