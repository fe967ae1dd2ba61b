/* A real redis-server for the tests: started on a random loopback port in
 * a private temp dir (no persistence), with a password (requirepass from
 * its config file), a password file and a hash key file (mode 0600) for
 * tr_redis_new(), stopped by pid with a bounded wait. */
#ifndef TICKETRING_TEST_REDIS_SERVER_H
#define TICKETRING_TEST_REDIS_SERVER_H

#include <sys/types.h>

struct rs_server {
    char dir[256];
    char conf[300];
    char password_file[300];
    char hash_key_file[300];
    char url[128];
    char password[33];
    int port;
    pid_t pid;
};

/* Make the temp dir and files and start the server; 0 when it answers PING. */
int rs_start(struct rs_server *s);
/* Start it again on the same port (after rs_stop). */
int rs_restart(struct rs_server *s);
/* SIGTERM, then SIGKILL if it has not exited within 5 s; reaps it. */
void rs_stop(struct rs_server *s);
/* SIGSTOP / SIGCONT. */
void rs_freeze(struct rs_server *s);
void rs_thaw(struct rs_server *s);
/* rs_stop and remove the temp dir. */
void rs_free(struct rs_server *s);
/* The URL with extra options appended ("?pool=2"), in a static buffer. */
const char *rs_url(const struct rs_server *s, const char *options);

#endif
