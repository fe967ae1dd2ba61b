/*
 * The connection pool. Handshake threads never connect: they take an idle
 * connection or fail closed. One background thread (re)makes every
 * connection that is down, with AUTH and SELECT done while it is still
 * blocking, then hands it over in non-blocking mode. After a failed attempt
 * it backs off (50 ms doubling to 2 s), so an outage costs the store a
 * connect attempt every 2 s, not one per handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "redis_int.h"
#include "secure.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000

int64_t tri_redis_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timespec abs_time(int64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};

    return ts;
}

/* All of a command, written while the socket still blocks (with its send
 * timeout). MSG_NOSIGNAL: a closed peer must not kill the process. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Send argv ourselves (so the buffer holding a password is ours to wipe)
 * and read one reply: 0 when it is +OK (or +PONG). */
static int command_ok(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    char *cmd = NULL;
    redisReply *reply = NULL;
    int len, rc = -1;

    len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0 || cmd == NULL)
        return -1;
    if (send_all(c->fd, cmd, (size_t)len) == 0 && redisGetReply(c, (void **)&reply) == REDIS_OK &&
        reply != NULL && reply->type == REDIS_REPLY_STATUS &&
        (strcmp(reply->str, "OK") == 0 || strcmp(reply->str, "PONG") == 0))
        rc = 0;
    tri_wipe(cmd, (size_t)len);
    redisFreeCommand(cmd);
    if (reply != NULL)
        freeReplyObject(reply);
    return rc;
}

static redisContext *connect_one(tr_redis *r)
{
    const struct tri_redis_url *u = &r->url;
    struct timeval tv = {(time_t)(u->connect_timeout_ms / 1000),
                         (suseconds_t)(u->connect_timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
    char db[16];
    int one = 1, fl;

    if (c == NULL || c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK)
        goto fail;
    if (r->password_len > 0) {
        const char *argv[3] = {"AUTH", u->user, (const char *)r->password};
        size_t lens[3] = {4, strlen(u->user), r->password_len};
        int user = u->user[0] != '\0';

        /* With a user: AUTH user password (Redis 6 ACL); else AUTH password. */
        if (!user) {
            argv[1] = argv[2];
            lens[1] = lens[2];
        }
        if (command_ok(c, user ? 3 : 2, argv, lens) != 0)
            goto fail;
    }
    if (u->db != 0) {
        const char *argv[2] = {"SELECT", db};
        size_t lens[2] = {6, 0};

        lens[1] = (size_t)snprintf(db, sizeof(db), "%u", (unsigned)u->db);
        if (command_ok(c, 2, argv, lens) != 0)
            goto fail;
    } else {
        const char *argv[1] = {"PING"};
        size_t lens[1] = {4};

        if (command_ok(c, 1, argv, lens) != 0)
            goto fail;
    }
    /* From here on every wait is the check's own poll on its deadline. */
    fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0)
        goto fail;
    c->flags &= ~REDIS_BLOCK;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    (void)redisEnableKeepAlive(c);
    return c;
fail:
    if (c != NULL)
        redisFree(c);
    return NULL;
}

static int find_down(const tr_redis *r)
{
    for (uint32_t i = 0; i < r->n_slots; i++)
        if (r->slots[i].state == SLOT_DOWN)
            return (int)i;
    return -1;
}

static void *run(void *arg)
{
    tr_redis *r = arg;
    int64_t backoff_ms = 0;
    sigset_t all;

    /* Signals are the application's threads' business. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&r->mu);
    while (!r->stopping) {
        int i = find_down(r);
        redisContext *c;

        if (i < 0) {
            pthread_cond_wait(&r->wake, &r->mu);
            continue;
        }
        pthread_mutex_unlock(&r->mu);
        c = connect_one(r);
        pthread_mutex_lock(&r->mu);
        if (c != NULL) {
            r->slots[i].c = c;
            r->slots[i].state = SLOT_IDLE;
            atomic_fetch_add(&r->up, 1);
            atomic_fetch_add(&r->connects, 1);
            backoff_ms = 0;
            pthread_cond_broadcast(&r->idle);
            continue;
        }
        atomic_fetch_add(&r->connect_errors, 1);
        backoff_ms = backoff_ms == 0 ? BACKOFF_MIN_MS
                                     : (backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                                        : backoff_ms * 2);
        {
            int64_t until = tri_redis_now_us() + backoff_ms * 1000;
            struct timespec ts = abs_time(until);

            /* Broken connections signal `wake` too: only stopping cuts
             * the backoff short. */
            while (!r->stopping && tri_redis_now_us() < until)
                pthread_cond_timedwait(&r->wake, &r->mu, &ts);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int tri_redis_pool_start(tr_redis *r)
{
    pthread_condattr_t ca;
    int rc = TR_E_NOMEM;

    if (pthread_mutex_init(&r->mu, NULL) != 0)
        return TR_E_NOMEM;
    if (pthread_condattr_init(&ca) != 0)
        goto no_attr;
    if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&r->idle, &ca) != 0)
        goto no_idle;
    if (pthread_cond_init(&r->wake, &ca) != 0)
        goto no_wake;
    for (uint32_t i = 0; i < r->n_slots; i++)
        r->slots[i].state = SLOT_DOWN;
    if (pthread_create(&r->thread, NULL, run, r) != 0)
        goto no_thread;
    pthread_condattr_destroy(&ca);
    r->thread_started = 1;
    return 0;
no_thread:
    pthread_cond_destroy(&r->wake);
no_wake:
    pthread_cond_destroy(&r->idle);
no_idle:
    pthread_condattr_destroy(&ca);
no_attr:
    pthread_mutex_destroy(&r->mu);
    return rc;
}

void tri_redis_pool_stop(tr_redis *r)
{
    if (!r->thread_started)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (uint32_t i = 0; i < r->n_slots; i++) {
        if (r->slots[i].c != NULL)
            redisFree(r->slots[i].c);
        r->slots[i].c = NULL;
        r->slots[i].state = SLOT_DOWN;
    }
    pthread_cond_destroy(&r->wake);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
    r->thread_started = 0;
}

int tri_redis_pool_take(tr_redis *r, int64_t deadline_us, int *none_up)
{
    struct timespec ts = abs_time(deadline_us);
    int got = -1;

    *none_up = 0;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        for (uint32_t i = 0; i < r->n_slots && got < 0; i++)
            if (r->slots[i].state == SLOT_IDLE)
                got = (int)i;
        if (got >= 0) {
            r->slots[got].state = SLOT_BUSY;
            break;
        }
        /* Nothing up: waiting would only spend the handshake's time on a
         * reconnect that backs off for longer than any budget. */
        if (atomic_load(&r->up) == 0) {
            *none_up = 1;
            break;
        }
        if (tri_redis_now_us() >= deadline_us ||
            pthread_cond_timedwait(&r->idle, &r->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&r->mu);
    return got;
}

void tri_redis_pool_give(tr_redis *r, int slot, int healthy)
{
    redisContext *dead = NULL;

    pthread_mutex_lock(&r->mu);
    if (healthy) {
        r->slots[slot].state = SLOT_IDLE;
        pthread_cond_signal(&r->idle);
    } else {
        dead = r->slots[slot].c;
        r->slots[slot].c = NULL;
        r->slots[slot].state = SLOT_DOWN;
        atomic_fetch_sub(&r->up, 1);
        pthread_cond_signal(&r->wake);
    }
    pthread_mutex_unlock(&r->mu);
    /* Closing drops the reply still in flight with the connection. */
    if (dead != NULL)
        redisFree(dead);
}
