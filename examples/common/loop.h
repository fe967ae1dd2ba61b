/* An event-loop thread: its own SO_REUSEPORT listener, its own epoll set,
 * its own connections (never shared with another thread). */
#ifndef SERVER_LOOP_H
#define SERVER_LOOP_H

#include <pthread.h>
#include <stdint.h>

#include "conn.h"
#include "server.h"

struct worker {
    struct server *srv;
    pthread_t thread;
    int running;       /* the thread was started and not yet joined */
    int epfd;
    int listen_fd;
    int wake_fd;       /* eventfd: written to ask the thread to stop */
    int accept_paused; /* out of file descriptors: accept again later */
    struct conn *head, *tail; /* least recently active first */
    char listen_tag, wake_tag; /* their addresses mark non-connection events */
};

/* Start a thread serving listen_fd. On success the thread owns listen_fd;
 * on failure (-1, logged) the caller still does. */
int worker_start(struct worker *w, struct server *srv, int listen_fd);

/* Ask the thread to stop: it stops accepting, closes its connections and
 * frees everything it holds. Async-signal-safe; does not wait. */
void worker_stop(struct worker *w);

/* Wait for a stopped thread to finish. A no-op for one never started. */
void worker_join(struct worker *w);

#endif
