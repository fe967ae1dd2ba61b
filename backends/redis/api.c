/*
 * libticketring-redis's public object: its settings, its counters and how
 * it plugs into a replay cache (tr_replay_set_store).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_int.h"
#include "secret_file.h"
#include "secure.h"

#define BUDGET_DEFAULT_MS 5u
#define BUDGET_MAX_MS 10000u

static int cluster_ok(const char *id)
{
    size_t n = 0;

    for (; id[n] != '\0'; n++) {
        char c = id[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= TRI_REDIS_CLUSTER_MAX;
}

static void wipe_and_free(tr_redis *r)
{
    tri_wipe(r->password, sizeof(r->password));
    tri_wipe(r->hash_key, sizeof(r->hash_key));
    free(r);
}

int tr_redis_new(tr_redis **out, const char *url, const char *password_file,
                 const char *hash_key_file, const char *cluster_id)
{
    tr_redis *r;
    int rc;

    if (out == NULL)
        return TR_E_INVAL;
    *out = NULL;
    if (url == NULL || hash_key_file == NULL || cluster_id == NULL || !cluster_ok(cluster_id))
        return TR_E_INVAL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return TR_E_NOMEM;
    rc = tri_redis_url_parse(url, &r->url);
    if (rc == 0 && password_file != NULL) {
        /* One byte spare: the password is sent from a NUL-terminated view. */
        rc = tri_read_secret_file(password_file, r->password, sizeof(r->password) - 1,
                                   &r->password_len);
        while (rc == 0 && r->password_len > 0 &&
               (r->password[r->password_len - 1] == '\n' ||
                r->password[r->password_len - 1] == '\r'))
            r->password[--r->password_len] = 0;
        if (rc == 0 && r->password_len == 0)
            rc = TR_E_INVAL;
    }
    if (rc == 0)
        rc = tri_read_secret_file(hash_key_file, r->hash_key, sizeof(r->hash_key),
                                   &r->hash_key_len);
    if (rc == 0 && r->hash_key_len < TRI_REDIS_HASH_KEY_MIN)
        rc = TR_E_INVAL;
    if (rc != 0) {
        wipe_and_free(r);
        return rc;
    }
    memcpy(r->cluster, cluster_id, strlen(cluster_id) + 1);
    r->pid = getpid();
    atomic_init(&r->budget_ms, BUDGET_DEFAULT_MS);
    r->n_slots = r->url.pool;
    rc = tri_redis_pool_start(r);
    if (rc != 0) {
        wipe_and_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void tr_redis_free(tr_redis *r)
{
    if (r == NULL)
        return;
    tri_redis_pool_stop(r);
    wipe_and_free(r);
}

int tr_redis_set_budget(tr_redis *r, uint32_t budget_ms)
{
    if (r == NULL || budget_ms == 0 || budget_ms > BUDGET_MAX_MS)
        return TR_E_INVAL;
    atomic_store(&r->budget_ms, budget_ms);
    return 0;
}

static int store_check(void *arg, const uint8_t *value, size_t len, uint32_t ttl_ms)
{
    return tr_redis_check(arg, value, len, ttl_ms);
}

int tr_redis_attach(tr_redis *r, tr_replay *replay, uint32_t skew_ms, uint32_t flags)
{
    if (r == NULL || replay == NULL)
        return TR_E_INVAL;
    return tr_replay_set_store(replay, store_check, r, skew_ms, flags);
}

int tr_redis_stats_get(tr_redis *r, tr_redis_stats *out)
{
    tr_redis_stats s;

    if (r == NULL || out == NULL || out->size < offsetof(tr_redis_stats, fresh))
        return TR_E_INVAL;
    memset(&s, 0, sizeof(s));
    s.size = (uint32_t)(out->size < sizeof(s) ? out->size : sizeof(s));
    s.budget_ms = atomic_load(&r->budget_ms);
    s.pool = r->n_slots;
    s.up = atomic_load(&r->up);
#define LOAD(f) s.f = atomic_load_explicit(&r->f, memory_order_relaxed)
    LOAD(fresh);
    LOAD(replays);
    LOAD(err_timeout);
    LOAD(err_down);
    LOAD(err_busy);
    LOAD(err_reply);
    LOAD(connects);
    LOAD(connect_errors);
    LOAD(max_check_us);
#undef LOAD
    memcpy(out, &s, s.size);
    return 0;
}

struct out {
    char *buf;
    size_t cap, len;
};

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(o->len < o->cap ? o->buf + o->len : NULL, o->len < o->cap ? o->cap - o->len : 0,
                  fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP ticketring_redis_%s %s\n# TYPE ticketring_redis_%s %s\n", name, help, name,
        type);
}

int tr_redis_metrics(tr_redis *r, char *buf, size_t cap, size_t *len)
{
    struct out o = {buf, cap, 0};
    tr_redis_stats s;

    if (r == NULL || len == NULL || (buf == NULL && cap != 0))
        return TR_E_INVAL;
    s.size = sizeof(s);
    tr_redis_stats_get(r, &s);
    head(&o, "checks_total", "counter", "Replay checks answered by Redis, by result.");
    put(&o, "ticketring_redis_checks_total{result=\"fresh\"} %" PRIu64 "\n", s.fresh);
    put(&o, "ticketring_redis_checks_total{result=\"replay\"} %" PRIu64 "\n", s.replays);
    head(&o, "check_errors_total", "counter",
         "Replay checks Redis could not answer within the budget (early data refused), by "
         "reason.");
    put(&o, "ticketring_redis_check_errors_total{reason=\"timeout\"} %" PRIu64 "\n",
        s.err_timeout);
    put(&o, "ticketring_redis_check_errors_total{reason=\"down\"} %" PRIu64 "\n", s.err_down);
    put(&o, "ticketring_redis_check_errors_total{reason=\"busy\"} %" PRIu64 "\n", s.err_busy);
    put(&o, "ticketring_redis_check_errors_total{reason=\"reply\"} %" PRIu64 "\n", s.err_reply);
    head(&o, "connects_total", "counter", "Connections to Redis made, by result.");
    put(&o, "ticketring_redis_connects_total{result=\"ok\"} %" PRIu64 "\n", s.connects);
    put(&o, "ticketring_redis_connects_total{result=\"failed\"} %" PRIu64 "\n",
        s.connect_errors);
    head(&o, "connections_up", "gauge", "Pooled connections to Redis up now.");
    put(&o, "ticketring_redis_connections_up %u\n", s.up);
    head(&o, "connections", "gauge", "Pooled connections to Redis wanted.");
    put(&o, "ticketring_redis_connections %u\n", s.pool);
    head(&o, "check_budget_seconds", "gauge", "The most one replay check may take.");
    put(&o, "ticketring_redis_check_budget_seconds %u.%03u\n", s.budget_ms / 1000,
        s.budget_ms % 1000);
    head(&o, "check_max_seconds", "gauge", "The slowest replay check so far.");
    put(&o, "ticketring_redis_check_max_seconds %" PRIu64 ".%06" PRIu64 "\n",
        s.max_check_us / 1000000, s.max_check_us % 1000000);
    *len = o.len;
    if (o.len >= cap) {
        if (cap != 0)
            buf[0] = '\0';
        return TR_E_BUFFER_TOO_SMALL;
    }
    return 0;
}
