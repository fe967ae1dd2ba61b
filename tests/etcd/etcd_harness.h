/* A real etcd for the tests: one member on random loopback ports in a
 * temporary directory, stopped by pid with a bounded wait. */
#ifndef TICKETRING_TESTS_ETCD_HARNESS_H
#define TICKETRING_TESTS_ETCD_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Monotonic milliseconds, and a pause (waiting for etcd, never to
 * measure). */
long long eh_mono_ms(void);
void eh_nap(long ms);

/* A store client of the member, for writing what an attacker with etcd
 * access could: NULL on failure. */
struct tre_store *eh_raw_store(const struct etcd_proc *e);
/* Overwrite `key` with val (whatever is there); 0 or a TR_E_* code. */
int eh_raw_put(const struct etcd_proc *e, const char *key, const uint8_t *val, size_t len);
/* `key`'s value (malloc'd; NULL when absent or on error). */
uint8_t *eh_raw_get(const struct etcd_proc *e, const char *key, size_t *len);

/* A log sink (tr_sync_set_log) keeping every line of every follower in one
 * buffer (thread-safe), to count lines and check that no secret shows. */
void eh_log(int32_t level, const char *msg, void *arg);
void eh_log_reset(void);
/* How many times needle occurs in what was logged since the reset. */
int eh_log_count(const char *needle);
void eh_log_print(FILE *f);

#endif
