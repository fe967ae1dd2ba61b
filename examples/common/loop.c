#define _GNU_SOURCE

#include "loop.h"

#include "backend.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define ACCEPTS_PER_TURN 64
#define TICK_MS 1000 /* idle sweeps and accept retries at least this often */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the list of connections, least recently active first ------------- */

static void list_unlink(struct worker *w, struct conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        w->tail = c->prev;
    c->prev = c->next = NULL;
}

static void list_append(struct worker *w, struct conn *c)
{
    c->prev = w->tail;
    c->next = NULL;
    if (w->tail != NULL)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
}

static void touch(struct worker *w, struct conn *c, int64_t now)
{
    c->last_ms = now;
    if (w->tail != c) {
        list_unlink(w, c);
        list_append(w, c);
    }
}

/* ---- connections ----------------------------------------------------------- */

static void close_conn(struct worker *w, struct conn *c)
{
    struct server_stats *st = &w->srv->stats;
    (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    list_unlink(w, c);
    if (conn_handshaking(c))
        stat_add(&st->handshakes_failed, 1);
    atomic_fetch_sub_explicit(&st->active, 1, memory_order_relaxed);
    conn_free(c);
}

/* Register the events conn_drive() asked for, or close the connection. */
static void settle(struct worker *w, struct conn *c, uint32_t events)
{
    if (events == 0) {
        close_conn(w, c);
        return;
    }
    if (events == c->events)
        return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        log_line("epoll_ctl: %s", strerror(errno));
        close_conn(w, c);
        return;
    }
    c->events = events;
}

static void set_accepting(struct worker *w, int on)
{
    struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.ptr = &w->listen_tag};
    if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->listen_fd, &ev) == 0)
        w->accept_paused = !on;
}

/* Take a slot under the connection cap shared by every thread. */
static int take_slot(struct server *srv)
{
    uint64_t before = atomic_fetch_add_explicit(&srv->stats.active, 1, memory_order_relaxed);
    if (before < srv->flags.max_conns)
        return 1;
    atomic_fetch_sub_explicit(&srv->stats.active, 1, memory_order_relaxed);
    stat_add(&srv->stats.rejected, 1);
    return 0;
}

static void add_conn(struct worker *w, int fd, int64_t now)
{
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn *c = conn_new(w->srv, fd, w->srv->flags.early_data != 0);
    if (c == NULL) {
        close(fd);
        atomic_fetch_sub_explicit(&w->srv->stats.active, 1, memory_order_relaxed);
        return;
    }
    c->events = EPOLLIN; /* the ClientHello comes first */
    struct epoll_event ev = {.events = c->events, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        log_line("epoll_ctl: %s", strerror(errno));
        conn_free(c);
        atomic_fetch_sub_explicit(&w->srv->stats.active, 1, memory_order_relaxed);
        return;
    }
    c->last_ms = now;
    list_append(w, c);
}

static void accept_some(struct worker *w, int64_t now)
{
    for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
        int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The listener would stay readable: stop polling it until
                 * the next tick instead of spinning. */
                log_line("accept: %s; pausing accepts for a second", strerror(errno));
                set_accepting(w, 0);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                log_line("accept: %s", strerror(errno));
            }
            return;
        }
        if (!take_slot(w->srv)) {
            close(fd);
            continue;
        }
        add_conn(w, fd, now);
    }
}

/* Close connections idle for the timeout; the list is in activity order,
 * so this stops at the first one still in time. Returns the milliseconds
 * until the next check. */
static int sweep(struct worker *w, int64_t now)
{
    int64_t idle_ms = (int64_t)w->srv->flags.idle_timeout * 1000;
    while (w->head != NULL && now - w->head->last_ms >= idle_ms)
        close_conn(w, w->head);
    if (w->accept_paused)
        set_accepting(w, 1);
    int64_t wait = TICK_MS;
    if (w->head != NULL && w->head->last_ms + idle_ms - now < wait)
        wait = w->head->last_ms + idle_ms - now;
    return wait > 0 ? (int)wait : 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    int timeout = TICK_MS, stop = 0;
    while (!stop) {
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            log_line("epoll_wait: %s", strerror(errno));
            break;
        }
        int64_t now = now_ms();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &w->wake_tag) {
                stop = 1;
            } else if (p == &w->listen_tag) {
                accept_some(w, now);
            } else {
                struct conn *c = p;
                touch(w, c, now);
                settle(w, c, conn_drive(c, w->srv));
            }
        }
        timeout = sweep(w, now_ms());
    }

    /* Stop accepting first, then say goodbye to every client. */
    (void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->listen_fd, NULL);
    close(w->listen_fd);
    w->listen_fd = -1;
    while (w->head != NULL) {
        conn_say_goodbye(w->head);
        close_conn(w, w->head);
    }
    /* The TLS library's per-thread state (OpenSSL's error queue, DRBG). */
    tls_thread_end();
    return NULL;
}

int worker_start(struct worker *w, struct server *srv, int listen_fd)
{
    memset(w, 0, sizeof *w);
    w->srv = srv;
    w->listen_fd = listen_fd;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->epfd < 0 || w->wake_fd < 0) {
        log_line("epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &w->listen_tag};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &w->wake_tag};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, listen_fd, &lev) != 0 ||
        epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->wake_fd, &wev) != 0) {
        log_line("epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    if (rc != 0) {
        log_line("pthread_create: %s", strerror(rc));
        goto fail;
    }
    w->running = 1;
    return 0;
fail:
    if (w->epfd >= 0)
        close(w->epfd);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    w->epfd = w->wake_fd = -1;
    return -1;
}

void worker_stop(struct worker *w)
{
    uint64_t one = 1;
    if (w->running) {
        ssize_t n = write(w->wake_fd, &one, sizeof one);
        (void)n; /* an eventfd write fails only when the counter is full: already woken */
    }
}

void worker_join(struct worker *w)
{
    if (!w->running)
        return;
    pthread_join(w->thread, NULL);
    w->running = 0;
    close(w->epfd);
    close(w->wake_fd);
    w->epfd = w->wake_fd = -1;
}
