#include "redis_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok;

    if (fd < 0)
        return -1;
    ok = write(fd, data, len) == (ssize_t)len;
    return close(fd) == 0 && ok ? 0 : -1;
}

/* A port the kernel just handed out (a race with other processes is
 * possible: rs_start retries). */
static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int ping(const struct rs_server *s)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
    redisReply *r = NULL;
    int ok = 0;

    if (c != NULL && c->err == 0) {
        r = redisCommand(c, "AUTH %s", s->password);
        ok = r != NULL && r->type == REDIS_REPLY_STATUS;
    }
    if (r != NULL)
        freeReplyObject(r);
    if (c != NULL)
        redisFree(c);
    return ok;
}

static int spawn(struct rs_server *s)
{
    char port[16], log[300];
    int64_t until;

    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(log, sizeof(log), "%s/redis.log", s->dir);
    s->pid = fork();
    if (s->pid < 0)
        return -1;
    if (s->pid == 0) {
        int devnull = open("/dev/null", O_RDWR);

        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
        }
        execlp("redis-server", "redis-server", s->conf, "--port", port, "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--dir", s->dir, "--logfile", log,
               "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    /* Waiting for another process to come up, not testing time: bounded. */
    until = now_ms() + 5000;
    while (now_ms() < until) {
        int status;

        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1; /* exited: the port was taken, most likely */
        }
        if (ping(s))
            return 0;
        usleep(10000);
    }
    rs_stop(s);
    return -1;
}

int rs_start(struct rs_server *s)
{
    uint8_t raw[32];
    char conf[128];

    memset(s, 0, sizeof(*s));
    snprintf(s->dir, sizeof(s->dir), "%s/tr-redis-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(s->dir) == NULL || getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        return -1;
    for (int i = 0; i < 16; i++)
        snprintf(s->password + 2 * i, 3, "%02x", raw[i]);
    snprintf(s->conf, sizeof(s->conf), "%s/redis.conf", s->dir);
    snprintf(s->password_file, sizeof(s->password_file), "%s/password", s->dir);
    snprintf(s->hash_key_file, sizeof(s->hash_key_file), "%s/hash-key", s->dir);
    snprintf(conf, sizeof(conf), "requirepass %s\n", s->password);
    if (write_file(s->conf, conf, strlen(conf)) != 0 ||
        write_file(s->password_file, s->password, strlen(s->password)) != 0 ||
        write_file(s->hash_key_file, raw + 16, 16) != 0)
        return -1;
    for (int attempt = 0; attempt < 5; attempt++) {
        s->port = free_port();
        if (s->port > 0 && spawn(s) == 0) {
            snprintf(s->url, sizeof(s->url), "redis://127.0.0.1:%d/0", s->port);
            return 0;
        }
    }
    return -1;
}

int rs_restart(struct rs_server *s)
{
    return spawn(s);
}

void rs_stop(struct rs_server *s)
{
    int64_t until;

    if (s->pid <= 0)
        return;
    kill(s->pid, SIGCONT);
    kill(s->pid, SIGTERM);
    until = now_ms() + 5000;
    while (now_ms() < until) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        usleep(10000);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

void rs_freeze(struct rs_server *s)
{
    kill(s->pid, SIGSTOP);
}

void rs_thaw(struct rs_server *s)
{
    kill(s->pid, SIGCONT);
}

void rs_free(struct rs_server *s)
{
    char path[320];
    static const char *const files[] = {"redis.conf", "password", "hash-key", "redis.log",
                                        "dump.rdb"};

    rs_stop(s);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", s->dir, files[i]);
        unlink(path);
    }
    if (s->dir[0] != '\0')
        rmdir(s->dir);
}

const char *rs_url(const struct rs_server *s, const char *options)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%s%s", s->url, options != NULL ? options : "");
    return buf;
}
