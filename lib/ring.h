/* The ring object, shared by the files that implement its API. */
#ifndef TICKETRING_LIB_RING_H
#define TICKETRING_LIB_RING_H

#include <stdatomic.h>

#include "env.h"
#include "keyset.h"
#include "snapshot.h"
#include "stats.h"

struct stat;

/* Draw fresh salts after this many seals under one key set: random 96-bit
 * nonces under one subkey then stay far below AES-GCM's 2^32 limit (see
 * docs/ticket-format.md for the arithmetic). */
#define TRI_RESALT_AFTER (UINT64_C(1) << 24)
/* Never seal more than this under one set of salts, even if a resalt keeps
 * failing. */
#define TRI_SEAL_HARD_LIMIT (UINT64_C(1) << 28)

struct tr_ring {
    struct tri_env env;
    tr_clock_fn clock_fn;
    void *clock_arg;
    tr_log_fn log_fn;
    void *log_arg;

    /* Policy: atomics, so setters need no lock and readers see each value
     * whole. */
    atomic_uint_fast32_t lifetime;
    atomic_uint_fast32_t skew;
    atomic_uint_fast32_t max_age;
    atomic_uint_fast32_t rotation_period;
    atomic_int bind_sni;
    atomic_int bind_alpn;
    atomic_int exhausted_policy;
    atomic_uint_fast32_t max_encrypt_age; /* 0: none (policy.c) */
    atomic_int file_mode_policy;          /* TR_FILE_MODE_* */
    atomic_uint_fast32_t activation_horizon; /* seconds; 0: none */
    /* Early data (early.c): the cache is published before the maximum
     * turns non-zero and outlives it, so a reader that sees a maximum finds
     * a cache. */
    atomic_uint_fast32_t early_max; /* bytes; 0: off */
    _Atomic(tr_replay *) early_replay;

    /* The current struct tri_keyset; replaced only by the writer. Writers
     * are rare (loads, key changes, resalts) and may wait; readers never
     * take this lock. An atomic flag rather than a pthread mutex, so a fork
     * child can release one held by a parent thread without undefined
     * behaviour. */
    struct tri_snapshot keys;
    atomic_int writer_busy;
    char *path; /* key file for tr_ring_reload(); writer only */
    /* Hot reload state and watcher thread (watch.c); NULL until first used. */
    _Atomic(struct tri_watch *) watch;
    /* Serial of the key file last loaded or saved (0: none): the rollback
     * baseline. Written by the writer, read by anyone. Not in the key set:
     * a save changes it, not the keys. */
    _Atomic uint64_t serial;
    /* The key set digest that serial names: a file with the same serial
     * must hold these keys. Writer only. */
    uint8_t serial_digest[TRI_SHA256_BYTES];
    /* Highest serial ever loaded or saved (>= serial; higher after a
     * forced load of an older file): tr_ring_save() writes it + 1, so a
     * saved file outranks every file any node may have seen. Writer only. */
    uint64_t serial_max;

    /* Process (fork.h) that owns `writer_busy` and the reader counts. */
    _Atomic uint64_t owner;
    _Atomic uint64_t fork_fixer;

    struct tri_counters counters;
};

int64_t tri_ring_now_ms(const tr_ring *r);

/* The ring's replay cache, or NULL when early data is off (also when it
 * was just turned off between the two loads); *max its maximum (early.c). */
tr_replay *tri_ring_early_replay(tr_ring *r, uint32_t *max);

/* Milliseconds to seconds, rounded down also before the epoch. */
static inline int64_t tri_floor_s(int64_t ms)
{
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

/* Pin the current key set for a seal or open (after a fork, first repair
 * the lock and the reader counts inherited from the parent). */
struct tri_keyset *tri_ring_enter(tr_ring *r, unsigned *token);
void tri_ring_leave(tr_ring *r, unsigned token);

/* Writers (key changes, loads, saves) take this lock, one at a time;
 * readers never do. Not re-entrant. */
void tri_ring_writer_lock(tr_ring *r);
void tri_ring_writer_unlock(tr_ring *r);
/* Under the writer lock: the current key set (only a writer replaces it). */
struct tri_keyset *tri_ring_current_locked(tr_ring *r);
/* Under the writer lock: build a set from n entries for `cluster` (NULL or
 * "": none) and publish it; on failure the current set stays. */
int tri_ring_replace_locked(tr_ring *r, const struct tri_keyfile_entry *e, uint32_t n,
                            const char *cluster);
/* The latest activation a dated key may have now under the activation
 * horizon; INT64_MAX without one. */
int64_t tri_ring_max_activation(tr_ring *r);

/* The file mode policy for a key file, ours or another server's, from the
 * fstat() of the descriptor that was read (a second stat() of the path
 * could see another file): 0 to use it without a word, TRI_FILE_MODE_WARN
 * to use it and log a warning, TR_E_KEYFILE_MODE to refuse it. */
#define TRI_FILE_MODE_WARN 1
int tri_file_mode_verdict(tr_ring *r, const struct stat *st);

/* Under the writer lock (ringfile.c): read the key file at `path` and apply
 * it as tri_ring_apply_locked() does. */
int tri_ring_load_locked(tr_ring *r, const char *path, uint32_t flags, uint32_t *err_line);
/* Under the writer lock: apply the `len` bytes of a key file read from
 * `path` (named in log lines only), whose descriptor's fstat() is *st:
 * the file mode policy, the syntax and integrity checks, the activation
 * horizon, the cluster pin and the serial (TR_LOAD_FORCE in flags accepts a
 * lower one). Replaces the key set unless the file holds exactly the keys
 * and cluster held (then nothing changes and it still counts as a
 * successful reload). Every outcome is counted and logged; on failure the
 * ring is unchanged. *err_line (if non-NULL) as for tr_ring_load(). */
int tri_ring_apply_locked(tr_ring *r, const char *path, const char *buf, size_t len,
                          const struct stat *st, uint32_t flags, uint32_t *err_line);

/* Rebuild the current key set with fresh salts (after a fork, or after
 * TRI_RESALT_AFTER seals). With `wait` 0 it gives up if another writer
 * holds the lock. */
int tri_ring_resalt(tr_ring *r, int wait);

/* Policy checks shared by every ticket format (policy.c): 0 or the
 * TR_E_TICKET_* refusal; auth_time 0 means unknown (not checked). */
int tri_check_times(tr_ring *r, int64_t issue_ms, int64_t auth_time, int64_t now_ms);
/* Lifetime to advertise for a ticket sealed at `now` (seconds) for a
 * session authenticated at auth_time; TR_E_TICKET_EXPIRED past max age. */
int tri_lifetime_left(tr_ring *r, int64_t now, int64_t auth_time, uint32_t *seconds);

/* Whether encrypt key `enc` of ks is overdue at `now` and the exhausted
 * policy says to stop sealing (counted and logged once per set). */
int tri_seal_overdue(tr_ring *r, struct tri_keyset *ks, int enc, int64_t now);

/* printf-style line to the log sink, never with key material. */
void tri_log(const tr_ring *r, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
