#define _GNU_SOURCE
#include "etcd_harness.h"
#include "store.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define START_DEADLINE_MS 15000
#define STOP_DEADLINE_MS 5000

long long eh_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void eh_nap(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int eh_available(void)
{
    const char *path = getenv("PATH");
    char buf[4096], *save = NULL, *dir;

    if (path == NULL)
        return 0;
    snprintf(buf, sizeof buf, "%s", path);
    for (dir = strtok_r(buf, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
        char p[4200];
        snprintf(p, sizeof p, "%s/etcd", dir);
        if (access(p, X_OK) == 0)
            return 1;
    }
    return 0;
}

/* A port the kernel just handed out and we released: another process may
 * take it in between, which the health deadline then reports. */
static unsigned free_port(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    unsigned port = 0;

    if (fd < 0)
        return 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* GET /health over a plain socket: 1 when it says healthy. */
static int healthy(unsigned port)
{
    struct sockaddr_in a;
    char req[128], resp[512];
    ssize_t n;
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
    struct timeval tv = {1, 0};

    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) {
        int l = snprintf(req, sizeof req,
                         "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        if (write(fd, req, (size_t)l) == l) {
            while (got < sizeof resp - 1 && (n = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
                got += (size_t)n;
            resp[got] = '\0';
            ok = strstr(resp, "\"health\":\"true\"") != NULL;
        }
    }
    close(fd);
    return ok;
}

int eh_start(struct etcd_proc *e)
{
    char client[64], peer[64], cluster[96], data[300], logp[300];
    long long deadline;
    pid_t pid;

    if (e->dir[0] == '\0') {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(e->dir, sizeof e->dir, "%s/tr-etcd-XXXXXX", base);
        if (mkdtemp(e->dir) == NULL)
            return -1;
        e->client_port = free_port();
        e->peer_port = free_port();
        if (e->client_port == 0 || e->peer_port == 0 || e->client_port == e->peer_port)
            return -1;
    }
    snprintf(client, sizeof client, "http://127.0.0.1:%u", e->client_port);
    snprintf(peer, sizeof peer, "http://127.0.0.1:%u", e->peer_port);
    snprintf(cluster, sizeof cluster, "n1=%s", peer);
    snprintf(data, sizeof data, "%s/data", e->dir);
    snprintf(logp, sizeof logp, "%s/log", e->dir);
    {
        char *argv[] = {"etcd", "--name", "n1", "--data-dir", data, "--listen-client-urls",
                        client, "--advertise-client-urls", client, "--listen-peer-urls", peer,
                        "--initial-advertise-peer-urls", peer, "--initial-cluster", cluster,
                        "--log-level", "warn", NULL};
        pid_t parent = getpid();
        pid = fork();
        if (pid < 0)
            return -1;
        if (pid == 0) {
            /* A test that crashes (or a sanitizer that ends it) skips its
             * teardown: the member must not outlive it. */
            int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(127);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execvp("etcd", argv);
            _exit(127);
        }
    }
    e->pid = pid;
    deadline = eh_mono_ms() + START_DEADLINE_MS;
    while (eh_mono_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            e->pid = 0;
            fprintf(stderr, "etcd exited during start; see %s\n", logp);
            return -1;
        }
        if (healthy(e->client_port))
            return 0;
        eh_nap(20);
    }
    eh_stop(e);
    return -1;
}

void eh_stop(struct etcd_proc *e)
{
    long long deadline;

    if (e->pid <= 0)
        return;
    kill(e->pid, SIGTERM);
    deadline = eh_mono_ms() + STOP_DEADLINE_MS;
    for (;;) {
        pid_t r = waitpid(e->pid, NULL, WNOHANG);
        if (r == e->pid || (r < 0 && errno == ECHILD))
            break;
        if (eh_mono_ms() >= deadline) {
            kill(e->pid, SIGKILL);
            waitpid(e->pid, NULL, 0);
            break;
        }
        eh_nap(10);
    }
    e->pid = 0;
}

static void remove_tree(const char *dir)
{
    char *argv[] = {"rm", "-rf", "--", (char *)dir, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
        waitpid(pid, NULL, 0);
}

void eh_destroy(struct etcd_proc *e)
{
    eh_stop(e);
    if (e->dir[0] != '\0')
        remove_tree(e->dir);
    e->dir[0] = '\0';
}

void eh_url(const struct etcd_proc *e, const char *prefix, char *out, size_t cap)
{
    snprintf(out, cap, "etcd://127.0.0.1:%u%s", e->client_port, prefix);
}

struct tre_store *eh_raw_store(const struct etcd_proc *e)
{
    struct tre_store *st = NULL;
    if (tre_etcd_new(&st, "127.0.0.1", e->client_port, NULL, 2000, NULL) != 0)
        return NULL;
    return st;
}

int eh_raw_put(const struct etcd_proc *e, const char *key, const uint8_t *val, size_t len)
{
    struct tre_store *st = eh_raw_store(e);
    uint8_t *old = NULL;
    size_t ol = 0;
    int64_t mod = 0, rev = 0;
    int rc = st != NULL ? st->ops->get(st, key, &old, &ol, &mod, &rev) : -1;

    free(old);
    if (rc == 0)
        rc = st->ops->cas(st, key, val, len, mod, NULL);
    if (st != NULL)
        st->ops->free(st);
    return rc;
}

uint8_t *eh_raw_get(const struct etcd_proc *e, const char *key, size_t *len)
{
    struct tre_store *st = eh_raw_store(e);
    uint8_t *val = NULL;
    int64_t mod = 0, rev = 0;

    *len = 0;
    if (st == NULL)
        return NULL;
    if (st->ops->get(st, key, &val, len, &mod, &rev) != 0)
        val = NULL;
    st->ops->free(st);
    return val;
}

/* ---- log capture ---------------------------------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 17];

void eh_log(int32_t level, const char *msg, void *arg)
{
    (void)level;
    (void)arg;
    pthread_mutex_lock(&log_mu);
    if (strlen(log_text) + strlen(msg) + 2 < sizeof log_text) {
        strcat(log_text, msg);
        strcat(log_text, "\n");
    }
    pthread_mutex_unlock(&log_mu);
}

void eh_log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    log_text[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

int eh_log_count(const char *needle)
{
    int n = 0;
    pthread_mutex_lock(&log_mu);
    for (const char *p = log_text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    pthread_mutex_unlock(&log_mu);
    return n;
}

void eh_log_print(FILE *f)
{
    pthread_mutex_lock(&log_mu);
    fputs(log_text, f);
    pthread_mutex_unlock(&log_mu);
}
