/* A real etcd for the tests: one member on random loopback ports in a
 * temporary directory, stopped by pid with a bounded wait. */
#ifndef TICKETRING_TESTS_ETCD_HARNESS_H
#define TICKETRING_TESTS_ETCD_HARNESS_H

#include <sys/types.h>

struct etcd_proc {
    char dir[256];
    unsigned client_port, peer_port;
    pid_t pid;
};

/* 1 when an etcd binary is on PATH. */
int eh_available(void);
/* Make the directory and pick the ports (once), then start the member and
 * wait (bounded) until it answers /health. 0 or -1. */
int eh_start(struct etcd_proc *e);
/* SIGTERM, a bounded wait, then SIGKILL of our own pid. Keeps the data. */
void eh_stop(struct etcd_proc *e);
/* Stop and remove the directory. */
void eh_destroy(struct etcd_proc *e);
/* "etcd://127.0.0.1:PORT/prefix" into out. */
void eh_url(const struct etcd_proc *e, const char *prefix, char *out, size_t cap);

#endif
