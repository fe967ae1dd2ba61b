/*
 * The store's URL: redis://host[:port][/db][?pool=N&connect_timeout_ms=N&user=NAME].
 * Strict: anything not understood is refused, so a typo cannot silently
 * select another database or a default pool. A password in the URL is
 * refused too: URLs end up in process lists, logs and metrics labels; the
 * password comes from its file.
 */
#include <string.h>

#include "redis_int.h"

#define SCHEME "redis://"

/* Digits only, value in [lo, hi]; *p advanced past them. */
static int number(const char **p, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t v = 0;
    const char *s = *p;

    if (*s < '0' || *s > '9')
        return TR_E_INVAL;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > hi)
            return TR_E_INVAL;
        s++;
    }
    if (v < lo)
        return TR_E_INVAL;
    *p = s;
    *out = (uint32_t)v;
    return 0;
}

static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

static int host(const char **p, char *out)
{
    const char *s = *p, *end;
    size_t n;

    if (*s == '[') {
        end = strchr(s, ']');
        if (end == NULL)
            return TR_E_INVAL;
        s++;
        for (const char *q = s; q < end; q++)
            if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f') ||
                  (*q >= 'A' && *q <= 'F') || *q == ':' || *q == '.'))
                return TR_E_INVAL;
        n = (size_t)(end - s);
        *p = end + 1;
    } else {
        end = s;
        while (name_char(*end))
            end++;
        n = (size_t)(end - s);
        *p = end;
    }
    if (n == 0 || n > TRI_REDIS_HOST_MAX)
        return TR_E_INVAL;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int option(const char **p, struct tri_redis_url *u)
{
    const char *s = *p;
    int rc;

    if (strncmp(s, "pool=", 5) == 0) {
        s += 5;
        rc = number(&s, 1, TRI_REDIS_POOL_MAX, &u->pool);
    } else if (strncmp(s, "connect_timeout_ms=", 19) == 0) {
        s += 19;
        rc = number(&s, 1, 60000, &u->connect_timeout_ms);
    } else if (strncmp(s, "user=", 5) == 0) {
        size_t n = 0;

        s += 5;
        while (name_char(s[n]))
            n++;
        if (n == 0 || n > TRI_REDIS_USER_MAX)
            return TR_E_INVAL;
        memcpy(u->user, s, n);
        u->user[n] = '\0';
        s += n;
        rc = 0;
    } else {
        return TR_E_INVAL;
    }
    *p = s;
    return rc;
}

int tri_redis_url_parse(const char *url, struct tri_redis_url *out)
{
    struct tri_redis_url u;
    const char *p;
    uint32_t v;

    if (url == NULL || out == NULL || strncmp(url, SCHEME, strlen(SCHEME)) != 0)
        return TR_E_INVAL;
    memset(&u, 0, sizeof(u));
    u.port = 6379;
    u.pool = 4;
    u.connect_timeout_ms = 1000;
    p = url + strlen(SCHEME);
    if (host(&p, u.host) != 0)
        return TR_E_INVAL; /* userinfo ("user:password@") fails here too */
    if (*p == ':') {
        p++;
        if (number(&p, 1, 65535, &v) != 0)
            return TR_E_INVAL;
        u.port = (uint16_t)v;
    }
    if (*p == '/') {
        p++;
        if (*p != '\0' && *p != '?' && number(&p, 0, 65535, &u.db) != 0)
            return TR_E_INVAL;
    }
    if (*p == '?') {
        do {
            p++;
            if (option(&p, &u) != 0)
                return TR_E_INVAL;
        } while (*p == '&');
    }
    if (*p != '\0')
        return TR_E_INVAL;
    *out = u;
    return 0;
}
