/*
 * The follower: configuration, the source URL, and the follow loop that
 * reads the sealed document (watch + jittered poll) and writes heartbeats.
 * The handshake never waits for any of it: the ring is swapped whole.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "secret_file.h"
#include "secure.h"
#include "sync_int.h"

#define POLL_DEFAULT_MS 30000
#define HB_TTL_DEFAULT_S 10
#define TIMEOUT_DEFAULT_MS 2000
#define SECRET_FILE_MAX 4096
#define MIN_WAIT_MS 10
#define WATCH_RETRY_MS 1000
#define DOWN_RETRY_MS 2000

void tre_log(const tr_sync *s, int32_t level, const char *fmt, ...)
{
    char line[320];
    va_list ap;

    if (s->log_fn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->log_fn(level, line, s->log_arg);
}

int64_t tre_now_ms(const tr_sync *s)
{
    int64_t now = 0;
    tr_ring_now_ms(s->ring, &now);
    return now;
}

int64_t tre_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- source URL ---------------------------------------------------------- */

/* etcd://host:port/prefix (host may be an IPv6 literal in brackets). No
 * user info: credentials come from files, so a URL can be logged. */
static int parse_etcd_url(tr_sync *s, const char *rest)
{
    const char *slash = strchr(rest, '/'), *colon, *hend;
    size_t hl, pl;
    char *end;
    long port;

    if (strchr(rest, '@') != NULL || strchr(rest, '?') != NULL || strchr(rest, '#') != NULL)
        return TR_E_INVAL;
    hend = slash != NULL ? slash : rest + strlen(rest);
    if (rest[0] == '[') {
        const char *rb = memchr(rest, ']', (size_t)(hend - rest));
        if (rb == NULL || rb[1] != ':')
            return TR_E_INVAL;
        colon = rb + 1;
    } else {
        colon = memchr(rest, ':', (size_t)(hend - rest));
    }
    if (colon == NULL || colon == rest)
        return TR_E_INVAL;
    hl = (size_t)(colon - rest);
    if (hl >= sizeof s->host)
        return TR_E_INVAL;
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (end != hend || port < 1 || port > 65535 || errno != 0 || colon[1] < '0' ||
        colon[1] > '9')
        return TR_E_INVAL;
    for (size_t i = 0; i < hl; i++) {
        char c = rest[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return TR_E_INVAL;
    }
    memcpy(s->host, rest, hl);
    s->host[hl] = '\0';
    s->port = (unsigned)port;
    /* The prefix: "/x/y" with no empty segment and no trailing slash;
     * none means "/ticketring". */
    if (slash == NULL || slash[1] == '\0') {
        strcpy(s->prefix, "/ticketring");
        return 0;
    }
    pl = strlen(slash);
    while (pl > 1 && slash[pl - 1] == '/')
        pl--;
    if (pl >= sizeof s->prefix - 1)
        return TR_E_INVAL;
    for (size_t i = 0; i < pl; i++) {
        char c = slash[i];
        if (c == '/' ? (i + 1 < pl && slash[i + 1] == '/')
                     : !tre_id_valid(&slash[i], 1))
            return TR_E_INVAL;
    }
    memcpy(s->prefix, slash, pl);
    s->prefix[pl] = '\0';
    return 0;
}

int tr_sync_new(tr_sync **out, tr_ring *ring, const char *url)
{
    tr_sync *s;
    char host[64];
    int rc = TR_E_INVAL;

    if (out == NULL)
        return TR_E_INVAL;
    *out = NULL;
    if (ring == NULL || url == NULL)
        return TR_E_INVAL;
    s = calloc(1, sizeof *s);
    if (s == NULL)
        return TR_E_NOMEM;
    s->ring = ring;
    s->poll_ms = POLL_DEFAULT_MS;
    s->hb_ttl_s = HB_TTL_DEFAULT_S;
    s->timeout_ms = TIMEOUT_DEFAULT_MS;
    s->roles = TR_SYNC_ROLE_READER;
    s->sched = (struct tre_schedule){3600, 120, 360, 86400, 60, 1};
    if (strncmp(url, "file:", 5) == 0) {
        const char *p = url + 5;
        /* file:/path and file:///path */
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        if (p[0] == '/' && (s->file_path = strdup(p)) != NULL) {
            s->kind = TRE_SOURCE_FILE;
            rc = 0;
        } else if (p[0] == '/') {
            rc = TR_E_NOMEM;
        }
    } else if (strncmp(url, "etcd://", 7) == 0) {
        rc = parse_etcd_url(s, url + 7);
        s->kind = TRE_SOURCE_ETCD;
    }
    if (rc != 0) {
        free(s->file_path);
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->aux_mu, NULL);
    pthread_mutex_init(&s->wake_mu, NULL);
    {
        /* Pauses measure intervals: immune to the wall clock being set. */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->wake, &ca);
        pthread_condattr_destroy(&ca);
    }
    /* Default node id: host name and pid, reduced to the id alphabet. */
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "node");
    host[sizeof host - 1] = '\0';
    snprintf(s->node_id, sizeof s->node_id, "%.40s-%ld", host, (long)getpid());
    for (char *c = s->node_id; *c; c++)
        if (!tre_id_valid(c, 1))
            *c = '-';
    s->rng = (uint64_t)tre_mono_ms() * 0x9e3779b97f4a7c15u ^ (uint64_t)getpid();
    *out = s;
    return 0;
}

static void wipe_str(char **p)
{
    if (*p != NULL) {
        tri_wipe(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void tr_sync_free(tr_sync *s)
{
    if (s == NULL)
        return;
    /* A file source's thread is the ring's watcher, stopped below. */
    if (s->thread_started && s->kind == TRE_SOURCE_ETCD) {
        pthread_mutex_lock(&s->wake_mu);
        atomic_store(&s->stop, 1);
        pthread_cond_broadcast(&s->wake);
        pthread_mutex_unlock(&s->wake_mu);
        pthread_join(s->thread, NULL);
    }
    if (s->kind == TRE_SOURCE_FILE && s->thread_started)
        tr_ring_unwatch(s->ring);
    if (s->store != NULL) {
        /* Leaving: writers stop waiting for this node now, not a TTL
         * later. The stop flag would cut the request short. */
        atomic_store(&s->stop, 0);
        if ((s->roles & TR_SYNC_ROLE_READER) && s->heartbeats > 0)
            s->store->ops->leave(s->store);
        s->store->ops->free(s->store);
    }
    if (s->aux != NULL)
        s->aux->ops->free(s->aux);
    tre_forget_text(s);
    tri_wipe(s->kek, sizeof s->kek);
    wipe_str(&s->auth.user);
    wipe_str(&s->auth.password);
    wipe_str(&s->auth.token);
    free(s->file_path);
    free(s->local_file);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->aux_mu);
    pthread_mutex_destroy(&s->wake_mu);
    pthread_cond_destroy(&s->wake);
    free(s);
}

/* ---- settings ------------------------------------------------------------- */

#define SETTABLE(s) ((s) != NULL && !(s)->thread_started && (s)->store == NULL)

int tr_sync_set_node_id(tr_sync *s, const char *id)
{
    if (!SETTABLE(s) || id == NULL || !tre_id_valid(id, strlen(id)))
        return TR_E_INVAL;
    strcpy(s->node_id, id);
    return 0;
}

int tr_sync_set_kek_file(tr_sync *s, const char *path)
{
    struct tre_kek k;
    int rc;

    if (!SETTABLE(s) || path == NULL || s->n_kek == 2)
        return TR_E_INVAL;
    rc = tre_kek_read(path, &k);
    if (rc == 0 && s->n_kek == 1 && strcmp(s->kek[0].id, k.id) == 0)
        rc = TR_E_INVAL; /* two KEKs under one id could not be told apart */
    if (rc == 0)
        s->kek[s->n_kek++] = k;
    tri_wipe(&k, sizeof k);
    if (rc != 0)
        tre_log(s, TR_LOG_ERROR, "key-encryption key file %s: %s", path, tr_strerror(rc));
    return rc;
}

/* A password or token file as a string, without its trailing newline(s):
 * private like every secret file, one line. */
static int read_secret(const char *path, char **out)
{
    uint8_t buf[SECRET_FILE_MAX];
    size_t len = 0;
    int rc = tri_read_secret_file(path, buf, sizeof buf, &len);

    *out = NULL;
    while (rc == 0 && len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (rc == 0 && (len == 0 || memchr(buf, '\0', len) != NULL || memchr(buf, '\n', len) != NULL))
        rc = TR_E_INVAL;
    if (rc == 0 && (*out = malloc(len + 1)) == NULL)
        rc = TR_E_NOMEM;
    if (rc == 0) {
        memcpy(*out, buf, len);
        (*out)[len] = '\0';
    }
    tri_wipe(buf, sizeof buf);
    return rc;
}

int tr_sync_set_password_file(tr_sync *s, const char *user, const char *path)
{
    char *pw = NULL, *u;
    int rc;

    if (!SETTABLE(s) || s->kind != TRE_SOURCE_ETCD || user == NULL || user[0] == '\0' ||
        path == NULL)
        return TR_E_INVAL;
    rc = read_secret(path, &pw);
    if (rc != 0) {
        tre_log(s, TR_LOG_ERROR, "password file %s: %s", path, tr_strerror(rc));
        return rc;
    }
    if ((u = strdup(user)) == NULL) {
        wipe_str(&pw);
        return TR_E_NOMEM;
    }
    wipe_str(&s->auth.user);
    wipe_str(&s->auth.password);
    wipe_str(&s->auth.token);
    s->auth.user = u;
    s->auth.password = pw;
    return 0;
}

int tr_sync_set_token_file(tr_sync *s, const char *path)
{
    char *tok = NULL;
    int rc;

    if (!SETTABLE(s) || s->kind != TRE_SOURCE_ETCD || path == NULL)
        return TR_E_INVAL;
    rc = read_secret(path, &tok);
    if (rc != 0) {
        tre_log(s, TR_LOG_ERROR, "token file %s: %s", path, tr_strerror(rc));
        return rc;
    }
    wipe_str(&s->auth.user);
    wipe_str(&s->auth.password);
    wipe_str(&s->auth.token);
    s->auth.token = tok;
    return 0;
}

int tr_sync_set_local_file(tr_sync *s, const char *path)
{
    char *p;

    if (!SETTABLE(s) || path == NULL || s->kind != TRE_SOURCE_ETCD)
        return TR_E_INVAL;
    if ((p = strdup(path)) == NULL)
        return TR_E_NOMEM;
    free(s->local_file);
    s->local_file = p;
    return 0;
}

int tr_sync_set_intervals(tr_sync *s, uint32_t poll_ms, uint32_t hb_ttl_s, uint32_t timeout_ms)
{
    if (!SETTABLE(s) || poll_ms < 100 || poll_ms > 3600000 || hb_ttl_s < 2 ||
        hb_ttl_s > 3600 || timeout_ms < 100 || timeout_ms > 60000)
        return TR_E_INVAL;
    s->poll_ms = poll_ms;
    s->hb_ttl_s = hb_ttl_s;
    s->timeout_ms = timeout_ms;
    return 0;
}

int tr_sync_set_role(tr_sync *s, uint32_t roles)
{
    if (!SETTABLE(s) || roles == 0 || (roles & ~(TR_SYNC_ROLE_READER | TR_SYNC_ROLE_WRITER)))
        return TR_E_INVAL;
    if ((roles & TR_SYNC_ROLE_WRITER) && s->kind != TRE_SOURCE_ETCD)
        return TR_E_INVAL; /* a file has its own writer: ticketring-keys rotate */
    s->roles = roles;
    return 0;
}

int tr_sync_set_schedule(tr_sync *s, uint32_t period_s, uint32_t lead_s, uint32_t max_wait_s,
                         uint32_t lifetime_s, uint32_t skew_s, uint32_t ahead)
{
    if (!SETTABLE(s) || period_s < 1 || period_s > 31536000 || lead_s > 86400 ||
        max_wait_s < lead_s || max_wait_s > 604800 || lifetime_s < 1 || lifetime_s > 604800 ||
        skew_s > 3600 || ahead < 1 || ahead > 8)
        return TR_E_INVAL;
    s->sched = (struct tre_schedule){period_s, lead_s, max_wait_s, lifetime_s, skew_s, ahead};
    return 0;
}

int tr_sync_set_log(tr_sync *s, tr_log_fn fn, void *arg)
{
    if (!SETTABLE(s))
        return TR_E_INVAL;
    s->log_fn = fn;
    s->log_arg = arg;
    return 0;
}

/* ---- the follow loop ------------------------------------------------------ */

static void set_state(tr_sync *s, int32_t state, int rc)
{
    int32_t was;

    pthread_mutex_lock(&s->mu);
    was = s->state;
    s->state = state;
    if (state == TR_SYNC_SYNCED)
        s->last_sync_ms = tre_now_ms(s);
    else
        s->store_errors++;
    pthread_mutex_unlock(&s->mu);
    /* Once per change, not once per failed poll. */
    if (was != state && state == TR_SYNC_SYNCED)
        tre_log(s, TR_LOG_INFO, "key store etcd://%s:%u reachable: following %s", s->host,
                s->port, s->key_doc);
    else if (was != state)
        tre_log(s, TR_LOG_WARN, "key store etcd://%s:%u unreachable (%s): serving the keys held",
                s->host, s->port, tr_strerror(rc));
}

int tre_prepare(tr_sync *s)
{
    int n;

    if (s->prepared)
        return 0;
    if (tr_ring_cluster(s->ring, s->cluster, sizeof s->cluster) != 0 || s->cluster[0] == '\0') {
        tre_log(s, TR_LOG_ERROR,
                "key store: the ring names no cluster (pin it, or load a key file naming one)");
        return TR_E_INVAL;
    }
    n = snprintf(s->key_doc, sizeof s->key_doc, "%s/%s/keyset", s->prefix, s->cluster);
    if (n < 0 || (size_t)n >= sizeof s->key_doc)
        return TR_E_INVAL;
    n = snprintf(s->key_nodes, sizeof s->key_nodes, "%s/%s/nodes/", s->prefix, s->cluster);
    if (n < 0 || (size_t)n + sizeof s->node_id >= sizeof s->key_node)
        return TR_E_INVAL;
    memcpy(s->key_node, s->key_nodes, (size_t)n);
    memcpy(s->key_node + n, s->node_id, strlen(s->node_id) + 1);
    s->prepared = 1;
    return 0;
}

static uint64_t next_rand(tr_sync *s)
{
    /* xorshift64*: jitter only, nothing secret depends on it. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545f4914f6cdd1du;
}

/* The poll interval less up to a quarter, so nodes started together do not
 * read together. */
static uint32_t jittered(tr_sync *s)
{
    return s->poll_ms - (uint32_t)(next_rand(s) % (s->poll_ms / 4 + 1));
}

/* When to read next: a poll interval, but while the store is unreachable
 * every DOWN_RETRY_MS at most, so a node catches up within seconds of the
 * store coming back, not a whole poll later. */
static int64_t next_read_at(tr_sync *s)
{
    uint32_t ms = jittered(s);
    if (s->state == TR_SYNC_UNREACHABLE && ms > DOWN_RETRY_MS)
        ms = DOWN_RETRY_MS - (uint32_t)(next_rand(s) % (DOWN_RETRY_MS / 4));
    return tre_mono_ms() + ms;
}

/* One read: the document, applied when it changed since the last one. */
static int read_round(tr_sync *s)
{
    uint8_t *val = NULL;
    size_t len = 0;
    int64_t mod_rev = 0, rev = 0;
    int rc = s->store->ops->get(s->store, s->key_doc, &val, &len, &mod_rev, &rev);

    if (rc != 0) {
        set_state(s, TR_SYNC_UNREACHABLE, rc);
        return rc;
    }
    set_state(s, TR_SYNC_SYNCED, 0);
    s->store_rev = rev;
    if (val != NULL && mod_rev != s->doc_rev) {
        uint64_t before = 0, after = 0;
        /* Each stored version is judged (and counted) once. */
        s->doc_rev = mod_rev;
        tr_ring_serial(s->ring, &before);
        rc = tre_apply_document(s, val, len);
        tr_ring_serial(s->ring, &after);
        /* A writer waits for every node to report the new serial before it
         * dates a pending key: tell it now, not a third of a TTL later. */
        if (after != before)
            s->next_hb_ms = 0;
    } else if (val == NULL && s->doc_rev != -1) {
        s->doc_rev = -1;
        tre_log(s, TR_LOG_WARN, "key store: no document at %s yet; serving the keys held",
                s->key_doc);
    }
    free(val); /* sealed: nothing secret */
    return rc;
}

static void heartbeat_if_due(tr_sync *s)
{
    int64_t now = tre_mono_ms();
    if (!(s->roles & TR_SYNC_ROLE_READER)) {
        s->next_hb_ms = INT64_MAX; /* a daemon serves nothing: no heartbeat */
        return;
    }
    if (now < s->next_hb_ms)
        return;
    /* Written every third of the TTL: one lost heartbeat does not make the
     * node look gone. */
    s->next_hb_ms = now + (int64_t)s->hb_ttl_s * 1000 / 3;
    if (tre_heartbeat(s) != 0) {
        pthread_mutex_lock(&s->mu);
        s->store_errors++;
        pthread_mutex_unlock(&s->mu);
    }
}

/* Sleep up to ms unless stopped. */
static void pause_ms(tr_sync *s, int64_t ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&s->wake_mu);
    while (!atomic_load(&s->stop))
        if (pthread_cond_timedwait(&s->wake, &s->wake_mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&s->wake_mu);
}

static void write_if_due(tr_sync *s, int read)
{
    if (!(s->roles & TR_SYNC_ROLE_WRITER)) {
        s->next_write_ms = INT64_MAX;
        return;
    }
    /* After every read (the document or the fleet may have moved on) and
     * whenever time alone changes the plan. */
    if (read || tre_mono_ms() >= s->next_write_ms)
        tre_write_round(s);
}

static void *follow(void *arg)
{
    tr_sync *s = arg;
    int64_t next_poll = tre_mono_ms() + jittered(s);

    while (!atomic_load(&s->stop)) {
        int64_t now = tre_mono_ms(), until;
        int rc = 0;

        heartbeat_if_due(s);
        write_if_due(s, 0);
        until = next_poll < s->next_hb_ms ? next_poll : s->next_hb_ms;
        if (s->next_write_ms < until)
            until = s->next_write_ms;
        if (until - now > MIN_WAIT_MS) {
            if (s->state == TR_SYNC_SYNCED && now >= s->watch_retry_ms) {
                /* Woken early by a change: the poll is a safety net. */
                rc = s->store->ops->wait(s->store, s->key_doc, s->store_rev,
                                         (uint32_t)(until - now));
                if (rc < 0 && !atomic_load(&s->stop)) {
                    pthread_mutex_lock(&s->mu);
                    s->watch_resets++;
                    pthread_mutex_unlock(&s->mu);
                    /* A member that refuses watches at once (no quorum)
                     * must not turn this loop into a busy one: poll for a
                     * while instead. */
                    s->watch_retry_ms = tre_mono_ms() + WATCH_RETRY_MS;
                    /* Read at once: an error here usually means the store
                     * went away, and the read says so in the status. */
                    rc = 1;
                }
            } else {
                if (s->state == TR_SYNC_SYNCED && s->watch_retry_ms < until)
                    until = s->watch_retry_ms;
                pause_ms(s, until - now);
            }
        }
        if (atomic_load(&s->stop))
            break;
        if (rc == 1 || tre_mono_ms() >= next_poll) {
            read_round(s);
            next_poll = next_read_at(s);
            heartbeat_if_due(s);
            write_if_due(s, 1);
        }
    }
    return NULL;
}

static int start_store(tr_sync *s)
{
    int rc;

    if (s->n_kek == 0) {
        tre_log(s, TR_LOG_ERROR, "key store: no key-encryption key (tr_sync_set_kek_file)");
        return TR_E_INVAL;
    }
    if (s->local_file != NULL) {
        uint32_t line = 0;
        rc = tr_ring_load(s->ring, s->local_file, &line);
        if (rc == 0) {
            pthread_mutex_lock(&s->mu);
            s->ready = 1;
            pthread_mutex_unlock(&s->mu);
        } else {
            /* Not fatal: the store may have the keys. */
            tre_log(s, TR_LOG_WARN, "local key file %s not loaded: %s", s->local_file,
                    tr_strerror(rc));
        }
    }
    rc = tre_prepare(s);
    if (rc == 0 && s->store == NULL) {
        rc = tre_etcd_new(&s->store, s->host, s->port, &s->auth, s->timeout_ms, &s->stop);
        /* Followers keep reading through a lost quorum. */
        if (rc == 0)
            s->store->serializable = 1;
    }
    if (rc == 0)
        s->doc_rev = 0;
    return rc;
}

int tr_sync_start(tr_sync *s)
{
    int rc;

    if (s == NULL || s->thread_started || s->store != NULL)
        return TR_E_INVAL;
    if (s->kind == TRE_SOURCE_FILE) {
        uint32_t line = 0;
        uint32_t poll_s = (s->poll_ms + 999) / 1000;
        rc = tr_ring_load(s->ring, s->file_path, &line);
        if (rc == 0)
            rc = tr_ring_watch(s->ring, poll_s);
        if (rc != 0)
            return rc;
        pthread_mutex_lock(&s->mu);
        s->ready = 1;
        s->state = TR_SYNC_SYNCED;
        s->last_sync_ms = tre_now_ms(s);
        pthread_mutex_unlock(&s->mu);
        s->thread_started = 1; /* the ring's watcher is the thread */
        return 0;
    }
    rc = start_store(s);
    if (rc != 0)
        return rc;
    /* The first read before returning: a node that can reach the store
     * starts with its keys. */
    read_round(s);
    heartbeat_if_due(s);
    write_if_due(s, 1);
    if (pthread_create(&s->thread, NULL, follow, s) != 0)
        return TR_E_NOMEM;
    s->thread_started = 1;
    return 0;
}

int tr_sync_step(tr_sync *s, uint32_t *next_ms)
{
    int rc;

    if (next_ms != NULL)
        *next_ms = 0;
    if (s == NULL || s->thread_started)
        return TR_E_INVAL;
    if (s->kind == TRE_SOURCE_FILE) {
        int32_t changed = 0;
        uint32_t line = 0;
        pthread_mutex_lock(&s->mu);
        int loaded = s->ready;
        pthread_mutex_unlock(&s->mu);
        rc = loaded ? tr_ring_reload_check(s->ring, &changed, &line)
                    : tr_ring_load(s->ring, s->file_path, &line);
        pthread_mutex_lock(&s->mu);
        if (rc == 0) {
            s->ready = 1;
            s->state = TR_SYNC_SYNCED;
            s->last_sync_ms = tre_now_ms(s);
        }
        pthread_mutex_unlock(&s->mu);
        if (next_ms != NULL)
            *next_ms = jittered(s);
        return rc;
    }
    if (s->store == NULL && (rc = start_store(s)) != 0)
        return rc;
    rc = read_round(s);
    heartbeat_if_due(s);
    write_if_due(s, 1);
    if (next_ms != NULL) {
        int64_t now = tre_mono_ms(), hb = s->next_hb_ms - now, wr = s->next_write_ms - now;
        int64_t next = next_read_at(s) - now;
        uint32_t poll = next > 0 ? (uint32_t)next : 0;
        *next_ms = poll;
        if (hb > 0 && hb < (int64_t)*next_ms)
            *next_ms = (uint32_t)hb;
        if (wr > 0 && wr < (int64_t)*next_ms)
            *next_ms = (uint32_t)wr;
    }
    return rc;
}
