/*
 * The example servers (ticketring-openssl-server, ticketring-mbedtls-server):
 * small HTTPS/1.1 servers whose session tickets every node sharing a
 * libticketring key file can resume.
 *
 *   ticketring-openssl-server --cert cert.pem --key key.pem \
 *       --keys tickets.keys --node-id node-1 --listen 127.0.0.1:8443
 *
 * The main thread owns startup and shutdown, waits for SIGTERM/SIGINT and,
 * once a second, checks whether the key file was replaced. N event-loop
 * threads (loop.c) each accept on their own SO_REUSEPORT listener and drive
 * their connections (conn.c); the TLS configuration (the backend's, made by
 * tls_init()) and the ring are shared.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "flags.h"
#include "keysource.h"
#include "keywatch.h"
#include "listen.h"
#include "log.h"
#include "loop.h"
#include "server.h"

#define MAX_THREADS 64

/* Wait for a stop signal, polling the key file about once a second. */
static int wait_for_stop(const sigset_t *stop_signals, struct keywatch *kw)
{
    for (;;) {
        struct timespec tick = {.tv_sec = 1, .tv_nsec = 0};
        int sig = sigtimedwait(stop_signals, NULL, &tick);
        if (sig > 0)
            return sig;
        if (errno == EAGAIN && kw != NULL)
            keywatch_poll(kw);
        else if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
}

int main(int argc, char **argv)
{
    static struct server srv; /* large (connection counters) and shared: not on a stack */
    struct worker workers[MAX_THREADS];
    int fds[MAX_THREADS];
    struct keywatch kw;
    char bound[300];
    int status = 1, started = 0;

    switch (flags_parse(&srv.flags, argc, argv)) {
    case FLAGS_OK: break;
    case FLAGS_HELP: return 0;
    default: return 2;
    }
    log_set_node(srv.flags.node_id);
    int nthreads = (int)srv.flags.threads;

    /* Threads inherit this mask: stop signals are taken only by
     * sigtimedwait() below. A client that resets makes writes fail with
     * EPIPE, never kill the process. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop_signals, NULL) != 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        log_line("cannot set up signal handling");
        return 1;
    }

    if (tls_init(&srv) != 0)
        return 1;
    /* Keys come from the store's follower, or from watching --keys. */
    int watch_file = srv.ring != NULL && srv.flags.keys_source == NULL;
    if (srv.flags.keys_source != NULL && keysource_start(&srv) != 0)
        goto out;
    if (watch_file)
        keywatch_init(&kw, srv.ring, srv.flags.keys, srv.keys_loaded);

    if (listeners_open(srv.flags.listen, nthreads, fds, bound, sizeof bound) != 0)
        goto out;
    for (; started < nthreads; started++) {
        if (worker_start(&workers[started], &srv, fds[started]) != 0) {
            listeners_close(nthreads - started, fds + started);
            goto out;
        }
    }
    printf("listening on %s node %s\n", bound, srv.flags.node_id);
    fflush(stdout);
    if (srv.ring != NULL)
        log_line("%d threads, shared tickets, ALPN %s", nthreads, srv.flags.alpn);
    else
        log_line("%d threads, %s's per-process tickets, ALPN %s", nthreads, backend.library,
                 srv.flags.alpn);

    int sig = wait_for_stop(&stop_signals, watch_file ? &kw : NULL);
    if (sig > 0) {
        log_line("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        status = 0;
    } else {
        log_line("sigtimedwait: %s", strerror(errno));
    }
out:
    for (int i = 0; i < started; i++)
        worker_stop(&workers[i]);
    for (int i = 0; i < started; i++)
        worker_join(&workers[i]);
    keysource_stop(&srv); /* it feeds the ring: stopped first */
    tls_free(&srv);
    return status;
}
