#define _GNU_SOURCE

#include "listen.h"

#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 1024

/* Split HOST:PORT in place-free copies; host "" means the wildcard. */
static int split_spec(const char *spec, char *host, size_t host_cap, char *port, size_t port_cap)
{
    const char *colon;
    const char *h = spec;
    size_t hlen;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = spec + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec)) != NULL)
            return -1; /* an IPv6 address needs brackets */
        hlen = (size_t)(colon - spec);
    }
    size_t plen = strlen(colon + 1);
    if (hlen >= host_cap || plen == 0 || plen >= port_cap)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    memcpy(port, colon + 1, plen + 1);
    for (size_t i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9')
            return -1;
    }
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    return 0;
}

static int open_one(const struct sockaddr *sa, socklen_t salen, int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_line("socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        log_line("setsockopt: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, sa, salen) != 0 || listen(fd, BACKLOG) != 0) {
        log_line("bind/listen: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int format_bound(int fd, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[NI_MAXHOST], port[NI_MAXSERV];
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return -1;
    int n = snprintf(out, cap, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int listeners_open(const char *spec, int n, int *fds, char *bound, size_t bound_cap)
{
    char host[256], port[16];
    for (int i = 0; i < n; i++)
        fds[i] = -1;
    if (split_spec(spec, host, sizeof host, port, sizeof port) != 0) {
        log_line("--listen %s: expected HOST:PORT or [IPV6]:PORT", spec);
        return -1;
    }
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC,
        .ai_socktype = SOCK_STREAM,
        .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
    };
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host[0] != '\0' ? host : NULL, port, &hints, &ai);
    if (rc != 0) {
        log_line("--listen %s: %s", spec, gai_strerror(rc));
        return -1;
    }
    /* The first listener fixes the address (and the port, when 0 was asked
     * for); the others bind exactly what it got. */
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    int family = ai->ai_family;
    fds[0] = open_one(ai->ai_addr, ai->ai_addrlen, family);
    freeaddrinfo(ai);
    if (fds[0] < 0 || getsockname(fds[0], (struct sockaddr *)&ss, &sslen) != 0 ||
        format_bound(fds[0], bound, bound_cap) != 0)
        goto fail;
    for (int i = 1; i < n; i++) {
        fds[i] = open_one((struct sockaddr *)&ss, sslen, family);
        if (fds[i] < 0)
            goto fail;
    }
    return 0;
fail:
    log_line("cannot listen on %s", spec);
    listeners_close(n, fds);
    return -1;
}

void listeners_close(int n, const int *fds)
{
    for (int i = 0; i < n; i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
}
