/*
 * Rotation soak: worker threads run full and resumed TLS 1.3 and TLS 1.2
 * handshakes against three nodes, each with its own ring loaded from one
 * key file, while the main thread plays the rotation job: it races the
 * shared injected clock ahead by many rotation periods (one step per
 * handshake, now and then a jump past the ticket lifetime) and keeps the
 * key file staged as README "Keys and their schedule" and docs/operations.md
 * section 2 prescribe: the next key a period plus the skew ahead, or, every
 * other time, distributed pending and dated half a period later; retired
 * keys dropped by a clock s behind. Nodes pick the file up with
 * tr_ring_reload_check() now and then, and the job makes the stragglers
 * load it once a propagation budget far shorter than the lead time has
 * passed. The node clocks sit at -s/2, 0 and +s/2 around the shared clock,
 * so nodes disagree by exactly the allowed skew.
 *
 * Each worker predicts every resumption from the shared clock read when
 * the node judged the ticket and when it sealed it (a server message
 * callback brackets both): a ticket whose age on the opening node's clock
 * is at most lifetime + skew must resume, an older one must be refused
 * (expired, or unknown key once its key retired). Any other outcome, a
 * ticket not issued, a refusal for any other reason, or a count on the
 * nodes that differs from what the clients saw, fails the test.
 *
 * TR_SOAK_HANDSHAKES sets the total number of handshakes: the default is
 * sized for CI, which runs this under AddressSanitizer and, in suite
 * 'concurrency', ThreadSanitizer; raise it for a long local run.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/rand.h>

#define TU_TLS_WITH_RING 1
#include "tls_util.h"

#define NODES 3
#define THREADS 4
#define DEFAULT_HANDSHAKES 800
#define T0_MS (INT64_C(1700000000) * 1000)

/* L + s <= P (docs/operations.md 1.1): at most three usable keys. */
#define PERIOD 3600
#define LIFETIME 3000
#define SKEW 60
#define MAX_AGE 86400
/* Every node holds each file this long (fake seconds) after it was
 * written: far less than the lead time of a new key (P + s, or P/2 for a
 * pending key dated later), and short enough that a pending key is dated
 * everywhere before its predecessor has encrypted for a period. */
#define BUDGET (PERIOD / 4)
#define LIMIT_MS ((int64_t)(LIFETIME + SKEW) * 1000)

static _Atomic int64_t shared_ms;

/* Node i's clock: the shared clock plus its fixed offset. */
static int64_t soak_clock(void *arg)
{
    return atomic_load(&shared_ms) + *(const int64_t *)arg;
}

static const int64_t node_offset[NODES] = {-SKEW * 500, 0, SKEW * 500};
/* The writer decides what to drop by a clock s behind, like
 * `ticketring-keys rotate`: no node whose clock lags may still need it. */
static const int64_t writer_offset = -SKEW * 1000;

static int64_t floor_s(int64_t ms)
{
    return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

struct soak {
    struct tu_cluster c;
    tr_ring *writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t done;   /* handshakes completed, under mu */
    uint64_t steps;  /* runs of the rotation job, under mu */
    int running;     /* workers still running, under mu */
    int stopped;     /* the job stopped (it failed), under mu */
    int per_thread;
};

struct unexpected {
    int version, opener, issuer;
    int64_t age_min, age_max;
};

struct worker {
    struct soak *s;
    int version;
    uint64_t seed;
    /* outcomes */
    int failed;           /* handshakes that did not complete */
    int full, resumed, cross;
    int offered;          /* connections that offered a ticket */
    int refused_expected; /* ... refused, the ticket past lifetime + skew */
    int refused_boundary; /* ... refused, the clock moved across the limit meanwhile */
    int refused_max_age;  /* ... refused, the session past its max age */
    int refused_unexpected;
    int no_ticket;        /* sessions that came without a ticket */
    int untraced;         /* handshakes whose decision or issue was not seen */
    int resumed_expired;  /* resumed although past lifetime + skew */
    int origin_wrong;     /* resumed, but the ticket named another issuer */
    int restarted;        /* sessions given up before their max age */
    struct unexpected first;
};

/* The shared clock around the moments a node decided on a ticket and
 * issued one, seen from the server's message callback: a ticket offered
 * in the ClientHello is judged before the ServerHello goes out, and each
 * ticket is sealed between the message before its NewSessionTicket and
 * that message. The clock only moves forward, so these bracket the node's
 * own readings, usually to the millisecond. */
struct trace {
    int64_t prev;           /* at the last handshake message */
    int64_t open_lo, open_hi;
    int64_t issue_lo, issue_hi;
    int opened, issued;
    char origin[65];
    int origin_found;
};

static void server_msg(int write_p, int version, int content_type, const void *buf, size_t len,
                       SSL *ssl, void *arg)
{
    struct trace *t = arg;
    int64_t now = atomic_load(&shared_ms);
    int type = len > 0 ? ((const uint8_t *)buf)[0] : -1;

    if (content_type != SSL3_RT_HANDSHAKE)
        return;
    if (!write_p && type == SSL3_MT_CLIENT_HELLO) {
        t->open_lo = now;
        t->opened = 0;
    } else if (write_p && type == SSL3_MT_SERVER_HELLO) {
        t->open_hi = now;
        t->opened = 1;
    } else if (write_p && type == SSL3_MT_NEWSESSION_TICKET) {
        t->issue_lo = t->prev;
        t->issue_hi = now;
        t->issued = 1;
    }
    t->prev = now;
}

static void server_setup(SSL *ssl, void *arg)
{
    SSL_set_msg_callback(ssl, server_msg);
    SSL_set_msg_callback_arg(ssl, arg);
}

static void server_done(SSL *ssl, void *arg)
{
    struct trace *t = arg;
    t->origin_found = tr_openssl_ticket_origin(ssl, t->origin, sizeof(t->origin)) == 0;
}

/* What a worker knows about the ticket it holds. */
struct held {
    SSL_SESSION *sess;
    int issuer;
    int64_t issue_lo, issue_hi; /* shared clock around its sealing */
    int auth_node;
    int64_t auth_lo, auth_hi;   /* ... around the session's first ticket */
};

static void count_done(struct soak *s, int finished)
{
    pthread_mutex_lock(&s->mu);
    if (finished)
        s->running--;
    else
        s->done++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* The job runs once per handshake; a worker that gets more than a
 * handshake per thread ahead of it waits, so the clock moves at a steady
 * pace per handshake however the threads are scheduled. */
static void pace(struct soak *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->done > s->steps + THREADS && !s->stopped)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

/* The outcome of offering h's ticket to node `o`, judged between lo and hi
 * by the shared clock: resumed exactly when its age on that node's clock
 * is at most lifetime + skew and the session is within max age + skew. */
static void judge(struct worker *wk, const struct held *h, int o, int64_t lo, int64_t hi,
                  int resumed)
{
    int64_t at = node_offset[o], by = node_offset[h->issuer], au = node_offset[h->auth_node];
    int64_t age_min = (lo + at) - (h->issue_hi + by);
    int64_t age_max = (hi + at) - (h->issue_lo + by);
    /* Max age is checked in whole seconds. */
    int64_t auth_min = floor_s(lo + at) - floor_s(h->auth_hi + au);
    int64_t auth_max = floor_s(hi + at) - floor_s(h->auth_lo + au);
    int must = age_max <= LIMIT_MS && auth_max <= MAX_AGE + SKEW;

    wk->offered++;
    if (resumed) {
        wk->resumed_expired += age_min > LIMIT_MS || auth_min > MAX_AGE + SKEW;
        return;
    }
    if (must) {
        if (wk->refused_unexpected++ == 0)
            wk->first = (struct unexpected){wk->version, o, h->issuer, age_min, age_max};
    } else if (age_min > LIMIT_MS) {
        wk->refused_expected++;
    } else if (auth_min > MAX_AGE + SKEW) {
        wk->refused_max_age++;
    } else {
        wk->refused_boundary++;
    }
}

static void *work(void *arg)
{
    struct worker *wk = arg;
    struct soak *s = wk->s;
    struct held h;

    memset(&h, 0, sizeof(h));
    for (int i = 0; i < s->per_thread; i++) {
        int o = (int)(rnd(&wk->seed) % NODES);
        struct tu_node *n = &s->c.node[o];
        struct trace t;
        struct tu_tls_opts opts = {.sni = "a.example", .alpn_csv = "http/1.1",
                                   .version = wk->version, .server_setup = server_setup,
                                   .server_done = server_done, .arg = &t};
        struct tu_tls_result r;
        int64_t lo;
        int rc;

        pace(s);
        /* A node's timer: now and then it picks up a new key file, so nodes
         * lag behind the file by up to the propagation budget (the job then
         * makes them load it). A failure shows as a node that never syncs. */
        if (rnd(&wk->seed) % 4 == 0)
            (void)tr_ring_reload_check(n->ring, NULL, NULL);
        lo = atomic_load(&shared_ms);
        /* Sessions are re-authenticated well before their max age, so every
         * ticket advertises the whole lifetime (the real-time checks
         * OpenSSL makes with it then never matter). */
        if (h.sess != NULL && lo - h.auth_lo > (int64_t)(MAX_AGE - 2 * LIFETIME) * 1000) {
            SSL_SESSION_free(h.sess);
            h.sess = NULL;
            wk->restarted++;
        }
        opts.session = h.sess != NULL && SSL_SESSION_has_ticket(h.sess) ? SSL_SESSION_dup(h.sess)
                                                                        : NULL;
        memset(&t, 0, sizeof(t));
        t.prev = lo;
        memset(&r, 0, sizeof(r));
        rc = tu_tls_connect_opts(n->ctx, s->c.client, &opts, &r);
        if (rc != 0 || !r.ok) {
            wk->failed++;
        } else if ((opts.session != NULL && !t.opened) || (r.tickets > 0 && !t.issued)) {
            /* Nothing known about its ticket: start a new session. */
            wk->untraced++;
            SSL_SESSION_free(r.session);
            r.session = NULL;
            SSL_SESSION_free(h.sess);
            h.sess = NULL;
        } else {
            if (opts.session != NULL)
                judge(wk, &h, o, t.open_lo, t.open_hi, r.resumed);
            if (r.resumed) {
                wk->resumed++;
                wk->cross += h.issuer != o;
                if (!t.origin_found || strcmp(t.origin, s->c.node[h.issuer].id) != 0)
                    wk->origin_wrong++;
            }
            /* TLS 1.3 renews every resumption; TLS 1.2 only a ticket under
             * an older key. A full handshake always brings one, unless the
             * node had no key to seal it with. */
            if (r.tickets > 0) {
                h.issuer = o;
                h.issue_lo = t.issue_lo;
                h.issue_hi = t.issue_hi;
            }
            if (!r.resumed) {
                wk->full++;
                h.auth_node = o;
                h.auth_lo = t.issue_lo;
                h.auth_hi = t.issue_hi;
            }
            wk->no_ticket += r.session != NULL && !SSL_SESSION_has_ticket(r.session);
        }
        SSL_SESSION_free(opts.session);
        if (r.session != NULL) {
            SSL_SESSION_free(h.sess);
            h.sess = r.session;
        }
        count_done(s, 0);
    }
    SSL_SESSION_free(h.sess);
    count_done(s, 1);
    return NULL;
}

/* ---- The rotation job ------------------------------------------------------ */

struct rotor {
    struct soak *s;
    uint64_t seed;
    int64_t newest;      /* newest dated activation in the file (s) */
    int pending;         /* a pending key waits for its date */
    uint8_t pending_key[TR_KEY_BYTES];
    int64_t unsynced_ms; /* when the oldest file not on every node was written; -1 */
    uint64_t serial;
    int rotations;
    /* figures */
    int added_dated, added_pending, dated, removed, saves, forced_syncs;
    int max_usable;      /* most keys not retired on one node at a sync */
    int failed;
    char why[256];
};

__attribute__((format(printf, 2, 3))) static void job_fail(struct rotor *rt, const char *fmt,
                                                          ...)
{
    va_list ap;
    if (rt->failed++)
        return;
    va_start(ap, fmt);
    vsnprintf(rt->why, sizeof(rt->why), fmt, ap);
    va_end(ap);
}

static int node_synced(struct rotor *rt, size_t i)
{
    uint64_t serial = 0;
    return tr_ring_serial(rt->s->c.node[i].ring, &serial) == 0 && serial == rt->serial;
}

/* Every node holds the file: the same fingerprint as the writer, and never
 * more than three usable keys. */
static void check_synced_node(struct rotor *rt, size_t i)
{
    tr_ring *ring = rt->s->c.node[i].ring;
    char want[TR_FINGERPRINT_HEX + 1], got[TR_FINGERPRINT_HEX + 1];
    uint32_t count = 0;
    int usable = 0;

    if (tr_ring_fingerprint(rt->s->writer, want, sizeof(want)) != 0 ||
        tr_ring_fingerprint(ring, got, sizeof(got)) != 0 || strcmp(want, got) != 0)
        job_fail(rt, "node %zu holds key set %s, the file %s", i, got, want);
    if (tr_ring_key_count(ring, &count) != 0)
        job_fail(rt, "node %zu: key count", i);
    for (uint32_t k = 0; k < count; k++) {
        int32_t role = TR_KEY_RETIRED;
        if (tr_ring_key_info(ring, k, NULL, NULL, &role) == 0)
            usable += role != TR_KEY_RETIRED && role != TR_KEY_REVOKED;
    }
    if (usable > rt->max_usable)
        rt->max_usable = usable;
}

/* Make every node load the newest file, as a node's own check would; a
 * check already running elsewhere returns at once, so try again. */
static void force_sync(struct rotor *rt)
{
    for (size_t i = 0; i < NODES; i++) {
        long tries = 0;
        while (!node_synced(rt, i)) {
            int rc = tr_ring_reload_check(rt->s->c.node[i].ring, NULL, NULL);
            if (rc != 0 || ++tries > 1000000) {
                job_fail(rt, "node %zu never loaded serial %llu: %s", i,
                         (unsigned long long)rt->serial, tr_strerror(rc));
                return;
            }
            sched_yield();
        }
        check_synced_node(rt, i);
    }
    rt->unsynced_ms = -1;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* One run of the job at the shared clock's now: what is due, then a step
 * of the clock that crosses no deadline of the schedule. */
static void rotate_once(struct rotor *rt)
{
    tr_ring *w = rt->s->writer;
    int64_t now_ms = atomic_load(&shared_ms), now = floor_s(now_ms), deadline, step;
    int changed = 0, rc;
    uint32_t count = 0;

    /* A key distributed pending gets its date half a period into the
     * current key's time: a whole period after the current key. */
    if (rt->pending && now >= rt->newest + PERIOD / 2) {
        uint8_t name[TR_KEY_NAME_BYTES];
        memcpy(name, rt->pending_key, sizeof(name));
        rc = tr_ring_remove_key(w, name);
        if (rc == 0)
            rc = tr_ring_add_key(w, rt->pending_key, rt->newest + PERIOD);
        if (rc != 0)
            job_fail(rt, "dating the pending key: %s", tr_strerror(rc));
        OPENSSL_cleanse(rt->pending_key, sizeof(rt->pending_key));
        rt->newest += PERIOD;
        rt->pending = 0;
        rt->dated++;
        changed = 1;
    }
    /* The current key has activated and nothing waits: add the next one,
     * dated a period plus the skew ahead, or, every other time, pending. */
    if (!rt->pending && rt->newest <= now) {
        if (rt->rotations++ % 2 == 1) {
            rc = RAND_bytes(rt->pending_key, sizeof(rt->pending_key)) == 1
                     ? tr_ring_add_key(w, rt->pending_key, TR_ACTIVATION_PENDING)
                     : TR_E_CRYPTO;
            if (rc != 0)
                job_fail(rt, "adding a pending key: %s", tr_strerror(rc));
            rt->pending = 1;
            rt->added_pending++;
        } else {
            int64_t at = rt->newest + PERIOD > now + PERIOD + SKEW ? rt->newest + PERIOD
                                                                  : now + PERIOD + SKEW;
            rc = tr_ring_generate_key(w, at, NULL);
            if (rc != 0)
                job_fail(rt, "generating a key: %s", tr_strerror(rc));
            rt->newest = at;
            rt->added_dated++;
        }
        changed = 1;
    }
    /* Drop what has retired by the writer's clock (s behind). */
    if (tr_ring_key_count(w, &count) != 0)
        job_fail(rt, "writer key count");
    for (uint32_t k = 0; k < count;) {
        uint8_t name[TR_KEY_NAME_BYTES];
        int32_t role = 0;
        if (tr_ring_key_info(w, k, name, NULL, &role) != 0) {
            job_fail(rt, "writer key info");
            break;
        }
        if (role == TR_KEY_RETIRED) {
            if (tr_ring_remove_key(w, name) != 0)
                job_fail(rt, "removing a retired key");
            rt->removed++;
            changed = 1;
            count--;
        } else {
            k++;
        }
    }
    if (changed) {
        rc = tr_ring_save(w, rt->s->c.keyfile);
        if (rc == 0)
            rc = tr_ring_serial(w, &rt->serial);
        if (rc != 0)
            job_fail(rt, "saving the key file: %s", tr_strerror(rc));
        rt->saves++;
        if (rt->unsynced_ms < 0)
            rt->unsynced_ms = now_ms;
    }

    /* Propagation: the workers' own checks usually got there first. */
    if (rt->unsynced_ms >= 0) {
        int all = 1;
        for (size_t i = 0; i < NODES; i++)
            all &= node_synced(rt, i);
        if (all) {
            for (size_t i = 0; i < NODES; i++)
                check_synced_node(rt, i);
            rt->unsynced_ms = -1;
        } else if (now_ms >= rt->unsynced_ms + (int64_t)BUDGET * 1000) {
            force_sync(rt);
            rt->forced_syncs++;
        }
    }

    /* Mostly short steps, so most tickets are still valid when resumed;
     * one in sixteen jumps past the lifetime + skew. */
    if (rnd(&rt->seed) % 16 == 0)
        step = LIMIT_MS + 1000 + (int64_t)(rnd(&rt->seed) % 200000);
    else
        step = LIFETIME * 1000 / 32 + (int64_t)(rnd(&rt->seed) % (LIFETIME * 1000 * 3 / 32));
    deadline = now_ms + step;
    /* The job runs at each activation, at each pending key's dating time,
     * and before the propagation budget of a file runs out. */
    if (rt->newest * 1000 > now_ms)
        deadline = min64(deadline, rt->newest * 1000);
    if (rt->pending)
        deadline = min64(deadline, (rt->newest + PERIOD / 2) * 1000);
    if (rt->unsynced_ms >= 0)
        deadline = min64(deadline, rt->unsynced_ms + (int64_t)BUDGET * 1000);
    atomic_store(&shared_ms, deadline);
}

static int env_count(const char *name, int dflt)
{
    const char *v = getenv(name);
    long n = v != NULL ? strtol(v, NULL, 10) : 0;
    return n > 0 && n < 100000000 ? (int)n : dflt;
}

/* As `ticketring-keys generate --count 2 --period P` would write, dated
 * s back so that the node whose clock lags by s/2 has a key too. */
static const int64_t first_keys[2] = {T0_MS / 1000 - SKEW, T0_MS / 1000 - SKEW + PERIOD};

static int teardown(void **st)
{
    struct soak *s = *st;

    if (s == NULL)
        return 0;
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    tr_ring_free(s->writer);
    tu_cluster_free(&s->c);
    free(s);
    return 0;
}

static int setup(void **st)
{
    const struct tu_node_policy policy = {.lifetime = LIFETIME, .skew = SKEW,
                                          .max_age = MAX_AGE};
    struct soak *s = calloc(1, sizeof(*s));
    uint32_t line = 0;
    int rc = 0;

    if (s == NULL)
        return -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    *st = s;
    atomic_store(&shared_ms, T0_MS);
    if (tu_cluster_init(&s->c, NODES, first_keys, 2, T0_MS, &policy, "http/1.1") != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s);
        *st = NULL;
        return -1;
    }
    /* Before any thread shares them: the shared clock, and a schedule
     * that stops sealing the moment it runs out, so a lapse of the job
     * shows as tickets not issued. */
    for (size_t i = 0; rc == 0 && i < NODES; i++) {
        tr_ring *r = s->c.node[i].ring;
        rc = tr_ring_set_clock(r, soak_clock, (void *)&node_offset[i]);
        if (rc == 0)
            rc = tr_ring_set_rotation_period(r, PERIOD);
        if (rc == 0)
            rc = tr_ring_set_exhausted_policy(r, TR_EXHAUSTED_STOP);
        if (rc == 0)
            rc = tr_ring_set_max_encrypt_age(r, 3 * PERIOD);
    }
    if (rc == 0)
        rc = tr_ring_new(&s->writer, tr_crypto_openssl());
    if (rc == 0)
        rc = tr_ring_set_clock(s->writer, soak_clock, (void *)&writer_offset);
    if (rc == 0)
        rc = tr_ring_set_lifetime(s->writer, LIFETIME);
    if (rc == 0)
        rc = tr_ring_set_skew(s->writer, SKEW);
    if (rc == 0)
        rc = tr_ring_load(s->writer, s->c.keyfile, &line);
    if (rc != 0) {
        fprintf(stderr, "soak setup: %s\n", tr_strerror(rc));
        teardown(st);
        *st = NULL;
        return -1;
    }
    return 0;
}

static void add_up(struct worker *v, const struct worker *w)
{
    v->failed += w->failed;
    v->full += w->full;
    v->resumed += w->resumed;
    v->cross += w->cross;
    v->offered += w->offered;
    v->refused_expected += w->refused_expected;
    v->refused_boundary += w->refused_boundary;
    v->refused_max_age += w->refused_max_age;
    v->refused_unexpected += w->refused_unexpected;
    v->no_ticket += w->no_ticket;
    v->untraced += w->untraced;
    v->resumed_expired += w->resumed_expired;
    v->origin_wrong += w->origin_wrong;
    v->restarted += w->restarted;
}

static void test_rotation_soak(void **st)
{
    static const int versions[THREADS] = {TLS1_3_VERSION, TLS1_2_VERSION, TLS1_3_VERSION,
                                          TLS1_2_VERSION};
    struct soak *s = *st;
    struct worker wk[THREADS], sum[2];
    pthread_t th[THREADS];
    struct rotor rt;
    tr_stats total;
    uint64_t other_refusals = 0;
    int handshakes = env_count("TR_SOAK_HANDSHAKES", DEFAULT_HANDSHAKES);
    int started = 0;
    int64_t end_ms;

    s->per_thread = (handshakes + THREADS - 1) / THREADS;
    s->running = THREADS;
    memset(&rt, 0, sizeof(rt));
    rt.s = s;
    rt.seed = 0x9e3779b97f4a7c15u;
    rt.newest = first_keys[1];
    rt.unsynced_ms = -1;
    assert_int_equal(tr_ring_serial(s->writer, &rt.serial), 0);

    for (int t = 0; t < THREADS; t++) {
        memset(&wk[t], 0, sizeof(wk[t]));
        wk[t].s = s;
        wk[t].version = versions[t];
        wk[t].seed = 0x2545f4914f6cdd1du * (uint64_t)(t + 1);
        if (pthread_create(&th[t], NULL, work, &wk[t]) != 0) {
            job_fail(&rt, "pthread_create");
            count_done(s, 1);
            continue;
        }
        started |= 1 << t;
    }
    /* One run of the job per handshake completed, until the workers stop. */
    for (uint64_t mark = 1;; mark++) {
        int finished;
        pthread_mutex_lock(&s->mu);
        while (s->done < mark && s->running > 0)
            pthread_cond_wait(&s->cv, &s->mu);
        finished = s->running == 0;
        pthread_mutex_unlock(&s->mu);
        if (finished || rt.failed)
            break;
        rotate_once(&rt);
        pthread_mutex_lock(&s->mu);
        s->steps++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_lock(&s->mu);
    s->stopped = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int t = 0; t < THREADS; t++)
        if (started & (1 << t))
            pthread_join(th[t], NULL);
    end_ms = atomic_load(&shared_ms);
    if (!rt.failed)
        force_sync(&rt);

    memset(sum, 0, sizeof(sum));
    for (int t = 0; t < THREADS; t++) {
        add_up(&sum[wk[t].version == TLS1_3_VERSION ? 0 : 1], &wk[t]);
        if (wk[t].refused_unexpected != 0)
            fprintf(stderr,
                    "# TLS %s: a ticket of node %d refused on node %d at age %lld..%lld ms "
                    "(limit %lld)\n", wk[t].first.version == TLS1_3_VERSION ? "1.3" : "1.2",
                    wk[t].first.issuer, wk[t].first.opener, (long long)wk[t].first.age_min,
                    (long long)wk[t].first.age_max, (long long)LIMIT_MS);
    }
    memset(&total, 0, sizeof(total));
    for (size_t i = 0; i < NODES; i++) {
        tr_stats n = tu_node_stats(&s->c.node[i]);
        total.handshakes_full += n.handshakes_full;
        total.handshakes_resumed += n.handshakes_resumed;
        total.resumed_cross_node += n.resumed_cross_node;
        total.refused_expired += n.refused_expired;
        total.refused_unknown_key += n.refused_unknown_key;
        total.sealed += n.sealed;
        total.seal_no_key += n.seal_no_key;
        total.seal_overdue += n.seal_overdue;
        total.reloads += n.reloads;
        total.reload_failures += n.reload_failures;
        total.opened_renew += n.opened_renew;
        other_refusals += n.refused_malformed + n.refused_auth + n.refused_future +
                          n.refused_sni + n.refused_alpn + n.refused_context +
                          n.refused_unbound;
    }

    for (int v = 0; v < 2; v++)
        printf("# TLS %s: %d handshakes: %d full, %d resumed (%d cross-node) of %d offered; "
               "refused: %d past lifetime+skew, %d at the limit, %d past max age, "
               "%d unexpected; %d sessions re-authenticated before max age\n",
               v == 0 ? "1.3" : "1.2", sum[v].full + sum[v].resumed + sum[v].failed,
               sum[v].full, sum[v].resumed, sum[v].cross, sum[v].offered,
               sum[v].refused_expected, sum[v].refused_boundary, sum[v].refused_max_age,
               sum[v].refused_unexpected, sum[v].restarted);
    printf("# nodes: refused expired %llu, unknown_key %llu, other %llu; sealed %llu, "
           "not issued %llu, overdue %llu; reloads %llu (failed %llu); old-key tickets "
           "accepted %llu\n",
           (unsigned long long)total.refused_expired,
           (unsigned long long)total.refused_unknown_key, (unsigned long long)other_refusals,
           (unsigned long long)total.sealed, (unsigned long long)total.seal_no_key,
           (unsigned long long)total.seal_overdue, (unsigned long long)total.reloads,
           (unsigned long long)total.reload_failures, (unsigned long long)total.opened_renew);
    printf("# clock: %.1f periods of %d s; keys added %d dated + %d pending (%d dated later), "
           "%d removed; %d files, %d forced syncs; at most %d usable keys on a node\n",
           (double)(end_ms - T0_MS) / 1000.0 / PERIOD, PERIOD, rt.added_dated,
           rt.added_pending, rt.dated, rt.removed, rt.saves, rt.forced_syncs, rt.max_usable);
    if (rt.failed)
        fail_msg("rotation job: %s", rt.why);

    for (int v = 0; v < 2; v++) {
        assert_int_equal(sum[v].failed, 0);
        assert_int_equal(sum[v].refused_unexpected, 0);
        assert_int_equal(sum[v].resumed_expired, 0);
        assert_int_equal(sum[v].origin_wrong, 0);
        assert_int_equal(sum[v].no_ticket, 0);
        assert_int_equal(sum[v].untraced, 0);
        assert_true(sum[v].resumed > 0);
        assert_true(sum[v].cross > 0);
    }
    /* The nodes saw exactly what the clients saw, and refused only for
     * age: expired, or its key retired (and perhaps dropped) since. */
    assert_int_equal(total.handshakes_full, (uint64_t)(sum[0].full + sum[1].full));
    assert_int_equal(total.handshakes_resumed, (uint64_t)(sum[0].resumed + sum[1].resumed));
    assert_int_equal(total.resumed_cross_node, (uint64_t)(sum[0].cross + sum[1].cross));
    assert_int_equal(other_refusals, 0);
    assert_int_equal(total.refused_expired + total.refused_unknown_key,
                     (uint64_t)(sum[0].offered - sum[0].resumed + sum[1].offered -
                                sum[1].resumed));
    /* The job never let the schedule run out, and every file loaded. */
    assert_int_equal(total.seal_no_key, 0);
    assert_int_equal(total.seal_overdue, 0);
    assert_int_equal(total.reload_failures, 0);
    assert_true(rt.max_usable <= 3);
    /* It did race: many periods, both ways of staging a key, and drops. */
    assert_true(end_ms - T0_MS >= (int64_t)8 * PERIOD * 1000 ||
                handshakes < DEFAULT_HANDSHAKES);
    assert_true(rt.added_dated > 0 && rt.added_pending > 0 && rt.dated > 0 && rt.removed > 0);
}

/* ---- A node's serial never runs ahead of its keys ------------------------- */

/* The soak decides a node holds a file when the node reports the file's
 * serial (tr_ring_serial), as a script waiting for a file to reach every
 * node would; the keys must then be that file's. A reload once published
 * the serial a moment before the keys: a reader could see the new serial
 * with the previous keys. Here one thread reloads three files in turn while
 * another reads serial, fingerprint, serial: the keys seen with a serial may
 * be that file's or, while a reload is under way, the next one's, never the
 * previous one's. */
#define SERIAL_FILES 3
#define SERIAL_LOADS 20000

struct serial_watch {
    tr_ring *node;
    uint64_t serial[SERIAL_FILES];
    char fp[SERIAL_FILES][TR_FINGERPRINT_HEX + 1];
    atomic_int done;
    atomic_long started; /* reloads begun */
    long reads, behind;
};

static void *watch_serial(void *arg)
{
    struct serial_watch *sw = arg;

    while (!atomic_load(&sw->done)) {
        char fp[TR_FINGERPRINT_HEX + 1];
        uint64_t s1 = 0, s2 = 0;
        long before = atomic_load(&sw->started);

        tr_ring_serial(sw->node, &s1);
        tr_ring_fingerprint(sw->node, fp, sizeof(fp));
        tr_ring_serial(sw->node, &s2);
        /* With two reloads begun meanwhile the files could have come round
         * to the same serial with other keys: only reads that overlapped at
         * most one reload tell. */
        if (s1 != s2 || atomic_load(&sw->started) - before > 1)
            continue;
        sw->reads++;
        for (int i = 0; i < SERIAL_FILES; i++)
            if (sw->serial[i] == s1 &&
                strcmp(fp, sw->fp[(i + SERIAL_FILES - 1) % SERIAL_FILES]) == 0)
                sw->behind++;
    }
    return NULL;
}

static void test_serial_follows_keys(void **st)
{
    char dir[] = "/tmp/tr-soak-XXXXXX", path[SERIAL_FILES][64];
    struct serial_watch sw;
    tr_ring *writer;
    pthread_t th;
    uint32_t line = 0;
    uint8_t name[TR_KEY_NAME_BYTES];
    uint64_t last = 0;
    int loaded;
    (void)st;

    memset(&sw, 0, sizeof(sw));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(tr_ring_new(&writer, tr_crypto_openssl()), 0);
    assert_int_equal(tr_ring_new(&sw.node, tr_crypto_openssl()), 0);
    /* Three files with one key each, a serial each. */
    for (int i = 0; i < SERIAL_FILES; i++) {
        snprintf(path[i], sizeof(path[i]), "%s/keys%d", dir, i);
        if (i > 0) {
            assert_int_equal(tr_ring_key_info(writer, 0, name, NULL, NULL), 0);
            assert_int_equal(tr_ring_remove_key(writer, name), 0);
        }
        assert_int_equal(tr_ring_generate_key(writer, T0_MS / 1000, NULL), 0);
        assert_int_equal(tr_ring_save(writer, path[i]), 0);
        assert_int_equal(tr_ring_serial(writer, &sw.serial[i]), 0);
        assert_int_equal(tr_ring_fingerprint(writer, sw.fp[i], sizeof(sw.fp[i])), 0);
    }
    assert_int_equal(tr_ring_load(sw.node, path[0], &line), 0);
    assert_int_equal(pthread_create(&th, NULL, watch_serial, &sw), 0);
    /* Forced: the serials go round, the keys change on every load. */
    for (loaded = 0; loaded < SERIAL_LOADS; loaded++) {
        atomic_fetch_add(&sw.started, 1);
        if (tr_ring_load_ex(sw.node, path[(loaded + 1) % SERIAL_FILES], TR_LOAD_FORCE,
                            &line) != 0)
            break;
    }
    atomic_store(&sw.done, 1);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(tr_ring_serial(sw.node, &last), 0);
    for (int i = 0; i < SERIAL_FILES; i++)
        unlink(path[i]);
    rmdir(dir);
    tr_ring_free(sw.node);
    tr_ring_free(writer);

    printf("# %d reloads, %ld consistent reads of serial and keys, %ld with the keys behind\n",
           loaded, sw.reads, sw.behind);
    assert_int_equal(loaded, SERIAL_LOADS);
    assert_int_equal(sw.behind, 0);
    assert_int_equal(last, sw.serial[SERIAL_LOADS % SERIAL_FILES]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation_soak, setup, teardown),
        cmocka_unit_test(test_serial_follows_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
