/* libticketring-redis internals: the URL, the secrets, the connection pool
 * and its background thread, shared by the files of backends/redis. */
#ifndef TICKETRING_REDIS_INT_H
#define TICKETRING_REDIS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "ticketring/redis.h"

#define TRI_REDIS_HOST_MAX 255
#define TRI_REDIS_USER_MAX 128
#define TRI_REDIS_POOL_MAX 64
#define TRI_REDIS_CLUSTER_MAX 64
#define TRI_REDIS_SECRET_MAX 1024
#define TRI_REDIS_HASH_KEY_MIN 16
#define TRI_REDIS_TAG_BYTES 16

struct tri_redis_url {
    char host[TRI_REDIS_HOST_MAX + 1];
    char user[TRI_REDIS_USER_MAX + 1]; /* "" : AUTH with the password only */
    uint16_t port;
    uint32_t db;
    uint32_t pool;
    uint32_t connect_timeout_ms;
};

/* Parse redis://host[:port][/db][?options] (redis.h). TR_E_INVAL on
 * anything else, a password included. */
int tri_redis_url_parse(const char *url, struct tri_redis_url *out);


enum tri_slot_state { SLOT_DOWN, SLOT_IDLE, SLOT_BUSY };

struct tri_slot {
    redisContext *c; /* owned by whoever holds the slot (BUSY) or the pool (IDLE) */
    enum tri_slot_state state;
};

struct tr_redis {
    struct tri_redis_url url;
    char cluster[TRI_REDIS_CLUSTER_MAX + 1];
    uint8_t password[TRI_REDIS_SECRET_MAX];
    size_t password_len; /* 0: no AUTH */
    uint8_t hash_key[TRI_REDIS_SECRET_MAX];
    size_t hash_key_len;
    atomic_uint budget_ms;
    pid_t pid; /* the process that made it: its sockets are not a child's */

    /* The pool: slots change state under `mu`; `idle` wakes checks waiting
     * for a connection, `wake` the background thread. */
    pthread_mutex_t mu;
    pthread_cond_t idle;
    pthread_cond_t wake;
    struct tri_slot slots[TRI_REDIS_POOL_MAX];
    uint32_t n_slots;
    int stopping;
    int thread_started;
    pthread_t thread;

    atomic_uint_fast64_t fresh, replays, err_timeout, err_down, err_busy, err_reply;
    atomic_uint_fast64_t connects, connect_errors, max_check_us;
    atomic_uint up;
};

/* Monotonic milliseconds/microseconds. */
int64_t tri_redis_now_us(void);

/* Start the background thread that (re)connects DOWN slots. */
int tri_redis_pool_start(tr_redis *r);
/* Stop it and close every connection. */
void tri_redis_pool_stop(tr_redis *r);
/* Take an IDLE slot by deadline_us: its index, or -1 (*none_up: no slot
 * was up at all). */
int tri_redis_pool_take(tr_redis *r, int64_t deadline_us, int *none_up);
/* Give a slot back: healthy, or broken (closed and remade in the
 * background). */
void tri_redis_pool_give(tr_redis *r, int slot, int healthy);

/* The Redis key of a value: "tr:<cluster>:r:<32 hex>" into key (cap
 * bytes); its length, or 0 when it cannot be made. */
size_t tri_redis_key(const tr_redis *r, const uint8_t *value, size_t len, char *key,
                     size_t cap);

#endif
