/*
 * One replay check: SET tr:<cluster>:r:<hex> 1 NX PX <ttl> on a pooled
 * connection, the whole of it (waiting for a connection, writing, reading)
 * on one deadline. The socket is non-blocking and every wait is a ppoll()
 * for what is left of the budget, so a frozen or half-dead Redis costs a
 * handshake the budget and no more. A connection that runs out of time
 * has a reply in flight that would answer the next check: it is closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "redis_int.h"
#include "replay.h"

#define TTL_MAX_MS 86400000u
#define KEY_MAX (3 + TRI_REDIS_CLUSTER_MAX + 3 + 2 * TRI_REDIS_TAG_BYTES)

/* E_REPLY_WRONG: an error that means this connection is the wrong one
 * now (a replica after a failover, a server restarted with another
 * password, one still loading its data): counted as an error reply, and
 * the connection is remade. Other error replies keep it. */
enum outcome { OK_FRESH, OK_SEEN, E_TIMEOUT, E_DOWN, E_REPLY, E_REPLY_WRONG };

static int wrong_server(const char *err)
{
    static const char *const prefixes[] = {"READONLY", "NOAUTH", "WRONGPASS", "LOADING",
                                           "MASTERDOWN", "NOPERM"};

    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(err, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    return 0;
}

size_t tri_redis_key(const tr_redis *r, const uint8_t *value, size_t len, char *key, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int n;

    /* A keyed hash: the key reveals nothing about the value but equality,
     * and nobody without the fleet's key can aim entries at values. */
    if (HMAC(EVP_sha256(), r->hash_key, (int)r->hash_key_len, value, len, mac, &mac_len) ==
            NULL ||
        mac_len < TRI_REDIS_TAG_BYTES)
        return 0;
    n = snprintf(key, cap, "tr:%s:r:", r->cluster);
    if (n < 0 || (size_t)n + 2 * TRI_REDIS_TAG_BYTES >= cap)
        return 0;
    for (int i = 0; i < TRI_REDIS_TAG_BYTES; i++) {
        key[n++] = hex[mac[i] >> 4];
        key[n++] = hex[mac[i] & 15];
    }
    key[n] = '\0';
    return (size_t)n;
}

/* Wait for `events` on fd until deadline_us: 1 ready, 0 out of time, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline_us)
{
    for (;;) {
        int64_t left = deadline_us - tri_redis_now_us();
        struct pollfd p = {fd, events, 0};
        struct timespec ts;
        int n;

        if (left <= 0)
            return 0;
        ts.tv_sec = (time_t)(left / 1000000);
        ts.tv_nsec = (long)(left % 1000000) * 1000;
        n = ppoll(&p, 1, &ts, NULL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n > 0)
            return 1; /* POLLERR/POLLHUP too: the read or write tells which */
    }
}

static enum outcome round_trip(redisContext *c, const char *cmd, size_t len, int64_t deadline_us)
{
    redisReply *reply = NULL;
    enum outcome out;

    while (len > 0) {
        ssize_t n = send(c->fd, cmd, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        int w;

        if (n > 0) {
            cmd += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            return E_DOWN;
        w = wait_fd(c->fd, POLLOUT, deadline_us);
        if (w <= 0)
            return w == 0 ? E_TIMEOUT : E_DOWN;
    }
    for (;;) {
        int w;

        if (redisGetReplyFromReader(c, (void **)&reply) != REDIS_OK)
            return E_DOWN; /* the stream is not Redis's protocol */
        if (reply != NULL)
            break;
        w = wait_fd(c->fd, POLLIN, deadline_us);
        if (w <= 0)
            return w == 0 ? E_TIMEOUT : E_DOWN;
        /* EAGAIN is not an error on a context without REDIS_BLOCK; EOF is. */
        if (redisBufferRead(c) != REDIS_OK)
            return E_DOWN;
    }
    if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "OK") == 0)
        out = OK_FRESH;
    else if (reply->type == REDIS_REPLY_NIL)
        out = OK_SEEN;
    else if (reply->type == REDIS_REPLY_ERROR && reply->str != NULL && wrong_server(reply->str))
        out = E_REPLY_WRONG;
    else
        out = E_REPLY;
    freeReplyObject(reply);
    return out;
}

static void note_max(tr_redis *r, int64_t us)
{
    uint_fast64_t cur = atomic_load_explicit(&r->max_check_us, memory_order_relaxed);

    while ((uint64_t)us > cur &&
           !atomic_compare_exchange_weak_explicit(&r->max_check_us, &cur, (uint_fast64_t)us,
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

int tr_redis_check(tr_redis *r, const uint8_t *value, size_t len, uint32_t ttl_ms)
{
    char key[KEY_MAX + 1], cmd[KEY_MAX + 96];
    int64_t t0, deadline;
    uint32_t budget;
    size_t klen;
    enum outcome out;
    int slot, none_up, n;

    if (r == NULL || value == NULL || len == 0 || len > TRI_REPLAY_VALUE_MAX || ttl_ms == 0 ||
        ttl_ms > TTL_MAX_MS)
        return TR_E_INVAL;
    t0 = tri_redis_now_us();
    budget = atomic_load_explicit(&r->budget_ms, memory_order_relaxed);
    deadline = t0 + (int64_t)budget * 1000;
    klen = tri_redis_key(r, value, len, key, sizeof(key));
    if (klen == 0) {
        atomic_fetch_add(&r->err_reply, 1);
        return TR_E_REPLAY_STORE;
    }
    /* The TTL runs from when Redis executes the SET, up to the budget after
     * this call started: add the budget so the value is kept at least
     * ttl_ms from the call, whatever a replay's own check costs. */
    n = snprintf(cmd, sizeof(cmd),
                 "*6\r\n$3\r\nSET\r\n$%zu\r\n%s\r\n$1\r\n1\r\n$2\r\nNX\r\n$2\r\nPX\r\n$%d\r\n%" PRIu64
                 "\r\n",
                 klen, key, snprintf(NULL, 0, "%" PRIu64, (uint64_t)ttl_ms + budget),
                 (uint64_t)ttl_ms + budget);
    if (n < 0 || (size_t)n >= sizeof(cmd)) {
        atomic_fetch_add(&r->err_reply, 1);
        return TR_E_REPLAY_STORE;
    }
    /* A forked child shares the parent's sockets: its SET and the
     * parent's would race for each other's replies, so one could read
     * "first seen" for a value Redis had seen. It has no background
     * thread either. Make the store in each worker after fork. */
    if (getpid() != r->pid) {
        atomic_fetch_add(&r->err_down, 1);
        return TR_E_REPLAY_STORE;
    }
    slot = tri_redis_pool_take(r, deadline, &none_up);
    if (slot < 0) {
        atomic_fetch_add(none_up ? &r->err_down : &r->err_busy, 1);
        note_max(r, tri_redis_now_us() - t0);
        return TR_E_REPLAY_STORE;
    }
    out = round_trip(r->slots[slot].c, cmd, (size_t)n, deadline);
    tri_redis_pool_give(r, slot, out == OK_FRESH || out == OK_SEEN || out == E_REPLY);
    note_max(r, tri_redis_now_us() - t0);
    switch (out) {
    case OK_FRESH: atomic_fetch_add(&r->fresh, 1); return 0;
    case OK_SEEN: atomic_fetch_add(&r->replays, 1); return TR_E_REPLAY;
    case E_TIMEOUT: atomic_fetch_add(&r->err_timeout, 1); return TR_E_REPLAY_STORE;
    case E_REPLY:
    case E_REPLY_WRONG: atomic_fetch_add(&r->err_reply, 1); return TR_E_REPLAY_STORE;
    default: atomic_fetch_add(&r->err_down, 1); return TR_E_REPLAY_STORE;
    }
}
