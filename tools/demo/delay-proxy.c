/*
 * ticketring-demo-proxy: a TCP forwarder that adds a fixed one-way delay in
 * each direction, so a demo on loopback pays a network's round trips (this
 * kernel has no netem).
 *
 *   ticketring-demo-proxy [--delay-ms MS] --route LISTEN=UPSTREAM [--route ...]
 *
 * LISTEN and UPSTREAM are IPv4 HOST:PORT; a LISTEN port of 0 picks a free
 * one. Once every listener is bound it prints one line per route,
 *   listening on HOST:PORT -> UPSTREAM
 * and serves until SIGTERM or SIGINT.
 *
 * Every chunk read is stamped with the time it is due (now + delay) and held
 * until then, so the delay is per packet, not per connection; a FIN is
 * delayed the same way. Data is delayed, the TCP handshake is not: a client
 * sees connect() return at once, as with a nearby load balancer.
 * Single-threaded: one epoll set, one timerfd armed for the earliest chunk.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_ROUTES 16
#define READ_CHUNK 16384
/* Stop reading a direction that has this much in flight (a fast sender must
 * not fill memory); TCP flow control then slows the sender. */
#define MAX_QUEUED (4u << 20)

enum kind { K_LISTENER, K_END, K_TIMER, K_SIGNAL };

struct tag {
    enum kind kind;
};

struct listener {
    struct tag tag;
    int fd;
    struct sockaddr_in upstream;
};

struct chunk {
    struct chunk *next;
    int64_t due_us;
    size_t len, off;
    int eof; /* a FIN to pass on, no data */
    unsigned char data[];
};

struct conn;

/* One socket of a connection. Edge-triggered: the flags remember readiness
 * until a call returns EAGAIN. */
struct end {
    struct tag tag;
    struct conn *conn;
    int fd;
    int can_read, can_write;
    int read_eof;  /* FIN received (queued for the other side) */
    int write_shut; /* FIN passed on to this socket */
};

/* Bytes read from `from`, waiting to be written to `to`. */
struct flow {
    struct end *from, *to;
    struct chunk *head, *tail;
    size_t queued;
};

struct conn {
    struct conn *next, *prev;
    struct end client, upstream;
    struct flow up, down;
    int connecting; /* upstream connect() in progress */
    int dead;
};

static int64_t delay_us = 25000;
static int ep;
static int timer_fd;
static struct conn *conns;
static struct conn *graveyard; /* freed after the event batch that killed them */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                     &out->sin_addr) == 1
               ? 0
               : -1;
}

static void set_nodelay(int fd)
{
    int one = 1;
    /* The delay is ours to add: Nagle would hold small TLS records back. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int watch(int fd, struct tag *tag, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static void kill_conn(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    close(c->client.fd);
    if (c->upstream.fd >= 0)
        close(c->upstream.fd);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = graveyard;
    graveyard = c;
}

static void bury(void)
{
    while (graveyard != NULL) {
        struct conn *c = graveyard;
        graveyard = c->next;
        struct flow *flows[2] = {&c->up, &c->down};
        for (int i = 0; i < 2; i++)
            while (flows[i]->head != NULL) {
                struct chunk *k = flows[i]->head;
                flows[i]->head = k->next;
                free(k);
            }
        free(c);
    }
}

static int enqueue(struct flow *f, const unsigned char *data, size_t len, int eof)
{
    struct chunk *k = malloc(sizeof(*k) + len);
    if (k == NULL)
        return -1;
    k->next = NULL;
    k->due_us = now_us() + delay_us;
    k->len = len;
    k->off = 0;
    k->eof = eof;
    if (len > 0)
        memcpy(k->data, data, len);
    if (f->tail != NULL)
        f->tail->next = k;
    else
        f->head = k;
    f->tail = k;
    f->queued += len;
    return 0;
}

/* Read what `from` has (until EAGAIN or the cap), stamping each chunk. */
static int pump_in(struct flow *f)
{
    static unsigned char buf[READ_CHUNK];

    while (f->from->can_read && !f->from->read_eof && f->queued < MAX_QUEUED) {
        ssize_t n = read(f->from->fd, buf, sizeof(buf));
        if (n > 0) {
            if (enqueue(f, buf, (size_t)n, 0) != 0)
                return -1;
        } else if (n == 0) {
            f->from->read_eof = 1;
            if (enqueue(f, NULL, 0, 1) != 0)
                return -1;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            f->from->can_read = 0;
        } else if (errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* Write the chunks that are due; a due FIN becomes shutdown(SHUT_WR). */
static int pump_out(struct flow *f, int64_t now)
{
    while (f->head != NULL && f->head->due_us <= now && f->to->can_write) {
        struct chunk *k = f->head;
        if (k->eof) {
            shutdown(f->to->fd, SHUT_WR);
            f->to->write_shut = 1;
        } else {
            ssize_t n = send(f->to->fd, k->data + k->off, k->len - k->off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    f->to->can_write = 0;
                    break;
                }
                if (errno == EINTR)
                    continue;
                return -1;
            }
            k->off += (size_t)n;
            f->queued -= (size_t)n;
            if (k->off < k->len)
                continue;
        }
        f->head = k->next;
        if (f->head == NULL)
            f->tail = NULL;
        free(k);
    }
    return 0;
}

static void service(struct conn *c, int64_t now)
{
    if (c->dead)
        return;
    if (pump_in(&c->up) != 0 || pump_in(&c->down) != 0 || pump_out(&c->up, now) != 0 ||
        pump_out(&c->down, now) != 0) {
        kill_conn(c);
        return;
    }
    /* Both FINs delivered and nothing left in flight: done. */
    if (c->client.write_shut && c->upstream.write_shut)
        kill_conn(c);
}

static void accept_all(struct listener *l)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        struct conn *c;
        int ufd;

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("demo-proxy: accept");
            return;
        }
        set_nodelay(fd);
        c = calloc(1, sizeof(*c));
        ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c == NULL || ufd < 0) {
            free(c);
            if (ufd >= 0)
                close(ufd);
            close(fd);
            continue;
        }
        set_nodelay(ufd);
        c->client = (struct end){.tag = {K_END}, .conn = c, .fd = fd};
        c->upstream = (struct end){.tag = {K_END}, .conn = c, .fd = ufd};
        c->up = (struct flow){.from = &c->client, .to = &c->upstream};
        c->down = (struct flow){.from = &c->upstream, .to = &c->client};
        c->next = conns;
        if (conns != NULL)
            conns->prev = c;
        conns = c;
        if (connect(ufd, (struct sockaddr *)&l->upstream, sizeof(l->upstream)) == 0)
            c->upstream.can_write = 1;
        else if (errno == EINPROGRESS)
            c->connecting = 1;
        else {
            kill_conn(c);
            continue;
        }
        if (watch(fd, &c->client.tag, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0 ||
            watch(ufd, &c->upstream.tag, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) != 0)
            kill_conn(c);
    }
}

static void on_end(struct end *e, uint32_t events)
{
    struct conn *c = e->conn;

    if (c->dead)
        return;
    if (e == &c->upstream && c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            kill_conn(c);
            return;
        }
        c->connecting = 0;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        e->can_read = 1;
    if ((events & EPOLLOUT) && !(e == &c->upstream && c->connecting))
        e->can_write = 1;
    service(c, now_us());
}

/* Arm the timer for the earliest chunk that waits only for its time. A
 * chunk that came due since it was last looked at fires the timer at once
 * (an absolute time in the past); one waiting for a full socket waits for
 * EPOLLOUT instead, or the timer would spin. */
static void arm_timer(void)
{
    int64_t next = INT64_MAX;
    struct itimerspec its = {0};

    for (struct conn *c = conns; c != NULL; c = c->next) {
        const struct flow *flows[2] = {&c->up, &c->down};
        for (int i = 0; i < 2; i++)
            if (flows[i]->head != NULL && flows[i]->to->can_write &&
                flows[i]->head->due_us < next)
                next = flows[i]->head->due_us;
    }
    if (next != INT64_MAX) {
        if (next <= 0)
            next = 1; /* it_value 0 would disarm */
        its.it_value.tv_sec = next / 1000000;
        its.it_value.tv_nsec = (long)(next % 1000000) * 1000;
    }
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int usage(void)
{
    fprintf(stderr, "usage: ticketring-demo-proxy [--delay-ms MS] --route LISTEN=UPSTREAM "
                    "[--route ...]\n"
                    "Forward each LISTEN (IPv4 HOST:PORT, port 0: any) to its UPSTREAM, "
                    "delaying each direction by MS\nmilliseconds (default 25).\n");
    return 2;
}

int main(int argc, char **argv)
{
    static struct listener listeners[MAX_ROUTES];
    static struct tag timer_tag = {K_TIMER}, signal_tag = {K_SIGNAL};
    const char *up_text[MAX_ROUTES];
    int n = 0, sig_fd, one = 1;
    sigset_t mask;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc) {
            char *end;
            long ms = strtol(argv[++i], &end, 10);
            if (*end != '\0' || ms < 0 || ms > 10000)
                return usage();
            delay_us = ms * 1000;
        } else if (strcmp(argv[i], "--route") == 0 && i + 1 < argc && n < MAX_ROUTES) {
            char *spec = argv[++i], *eq = strchr(spec, '=');
            struct sockaddr_in la;
            if (eq == NULL)
                return usage();
            *eq = '\0';
            if (parse_addr(spec, &la) != 0 || parse_addr(eq + 1, &listeners[n].upstream) != 0)
                return usage();
            up_text[n] = eq + 1;
            listeners[n].tag.kind = K_LISTENER;
            listeners[n].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (listeners[n].fd < 0 ||
                setsockopt(listeners[n].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
                bind(listeners[n].fd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
                listen(listeners[n].fd, 512) != 0) {
                fprintf(stderr, "demo-proxy: cannot listen on %s: %s\n", spec, strerror(errno));
                return 1;
            }
            n++;
        } else {
            return usage();
        }
    }
    if (n == 0)
        return usage();

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    ep = epoll_create1(EPOLL_CLOEXEC);
    sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (ep < 0 || sig_fd < 0 || timer_fd < 0 || watch(sig_fd, &signal_tag, EPOLLIN) != 0 ||
        watch(timer_fd, &timer_tag, EPOLLIN) != 0) {
        perror("demo-proxy: setup");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        struct sockaddr_in la;
        socklen_t len = sizeof(la);
        char host[INET_ADDRSTRLEN];
        if (watch(listeners[i].fd, &listeners[i].tag, EPOLLIN) != 0 ||
            getsockname(listeners[i].fd, (struct sockaddr *)&la, &len) != 0) {
            perror("demo-proxy: setup");
            return 1;
        }
        inet_ntop(AF_INET, &la.sin_addr, host, sizeof(host));
        printf("listening on %s:%u -> %s\n", host, ntohs(la.sin_port), up_text[i]);
    }
    fflush(stdout);

    for (;;) {
        struct epoll_event evs[64];
        int k = epoll_wait(ep, evs, 64, -1);
        int64_t now;

        if (k < 0 && errno != EINTR) {
            perror("demo-proxy: epoll_wait");
            return 1;
        }
        for (int i = 0; i < k; i++) {
            struct tag *t = evs[i].data.ptr;
            switch (t->kind) {
            case K_LISTENER:
                accept_all((struct listener *)t);
                break;
            case K_END:
                on_end((struct end *)t, evs[i].events);
                break;
            case K_TIMER: {
                uint64_t ticks;
                if (read(timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                    perror("demo-proxy: timer");
                break;
            }
            case K_SIGNAL:
                return 0;
            default:
                break;
            }
        }
        /* Release whatever has come due on every connection, then sleep
         * until the next chunk is due. */
        now = now_us();
        for (struct conn *c = conns, *next; c != NULL; c = next) {
            next = c->next;
            service(c, now);
        }
        bury();
        arm_timer();
    }
}
