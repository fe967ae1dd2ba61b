/*
 * The cluster-wide replay store on Redis (libticketring-redis) against a
 * loopback redis-server this program starts:
 *   (a) replay checks per second from 1 and 2 threads (unique values, so
 *       every check is a SET that creates a key);
 *   (b) one check's latency, median and p99;
 *   (c) what the store adds to a 0-RTT handshake: in-process TLS 1.3
 *       0-RTT handshakes (client and server in this thread, OpenSSL),
 *       on a node-bound node without a store and on a node with the store
 *       (TR_REPLAY_ANY_NODE), median and p99 of each, interleaved.
 * Numbers mean something only in a release build without sanitizers:
 *   meson setup build-rel -Dbuildtype=release -Db_sanitize=none
 *   ninja -C build-rel tests/bench/bench_redis && build-rel/tests/bench/bench_redis
 * (--quick: a smoke run.)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "redis_server.h"
#include "ticketring/redis.h"

#ifdef BENCH_HAVE_GLUE
#define TU_TLS_WITH_RING 1
#include "tls_util.h"
#endif

static struct rs_server srv;
static tr_redis *store;
static atomic_int stop_flag;
static atomic_uint_fast64_t next_value;

static void value(uint8_t v[32], uint64_t n)
{
    static const uint8_t salt[24] = "bench_redis value salt.";

    memcpy(v, &n, 8);
    memcpy(v + 8, salt, 24);
}

struct worker {
    pthread_t t;
    uint64_t done, errors;
};

static void *run(void *arg)
{
    struct worker *w = arg;
    uint8_t v[32];

    while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
        value(v, atomic_fetch_add_explicit(&next_value, 1, memory_order_relaxed));
        if (tr_redis_check(store, v, 32, 20000) != 0)
            w->errors++;
        w->done++;
    }
    return NULL;
}

/* Checks per second from `threads` threads over `ms` milliseconds. */
static double throughput(int threads, unsigned ms, uint64_t *errors)
{
    struct worker w[2];
    uint64_t t0, t1, done = 0;

    memset(w, 0, sizeof(w));
    atomic_store(&stop_flag, 0);
    t0 = bs_now_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&w[i].t, NULL, run, &w[i]);
    while (bs_now_ns() - t0 < (uint64_t)ms * 1000000)
        ;
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].t, NULL);
        done += w[i].done;
        *errors += w[i].errors;
    }
    t1 = bs_now_ns();
    return (double)done / ((double)(t1 - t0) / 1e9);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void pct(uint64_t *ns, size_t n, double *median_us, double *p99_us)
{
    qsort(ns, n, sizeof(ns[0]), cmp_u64);
    *median_us = (double)ns[n / 2] / 1000.0;
    *p99_us = (double)ns[(n * 99) / 100] / 1000.0;
}

#ifdef BENCH_HAVE_GLUE
static const char request[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

/* A fresh ticket from node i (OpenSSL checks the age on the real clock). */
static SSL_SESSION *ticket(struct tu_cluster *c, size_t i)
{
    struct tu_tls_result r;

    if (tu_tls_connect(c->node[i].ctx, c->client, "a.example", "h2", TLS1_3_VERSION, NULL,
                       &r) != 0 ||
        !r.ok)
        return NULL;
    return r.session;
}

/* One 0-RTT handshake on node i: its wall time in ns, 0 when early data
 * was not accepted. */
static uint64_t zero_rtt(struct tu_cluster *c, size_t i, SSL_SESSION *s)
{
    SSL_SESSION *dup = SSL_SESSION_dup(s);
    struct tu_tls_early_opts o = {.sni = "a.example", .alpn_csv = "h2", .session = dup,
                                  .early = (const uint8_t *)request,
                                  .early_len = sizeof(request) - 1};
    struct tu_tls_early_result *r = malloc(sizeof(*r));
    uint64_t t0, t1;
    int ok;

    t0 = bs_now_ns();
    ok = tu_tls_connect_early(c->node[i].ctx, c->client, &o, r) == 0 &&
         r->server_status == SSL_EARLY_DATA_ACCEPTED;
    t1 = bs_now_ns();
    tu_tls_early_result_free(r);
    free(r);
    SSL_SESSION_free(dup);
    return ok ? t1 - t0 : 0;
}

static int handshakes(int n)
{
    static const int64_t keys[] = {1700000000 - 10};
    struct tu_node_policy pol = {.early_max = 16384, .replay_capacity = 262144};
    struct tu_cluster *c = calloc(1, sizeof(*c));
    uint64_t *plain = calloc((size_t)n, sizeof(uint64_t)), *with = calloc((size_t)n, 8);
    SSL_SESSION *s0 = NULL, *s1 = NULL;
    double m0, p0, m1, p1;
    int rc = 1;

    if (c == NULL || plain == NULL || with == NULL ||
        tu_cluster_init(c, 2, keys, 1, 1700000000000, &pol, "h2") != 0)
        goto out;
    /* Past the local caches' start-up window (node 0 has no store). */
    tu_nodes_set_clock(c->node, 2, 1700000000000 + TU_NODE_REPLAY_WINDOW_MS);
    if (tr_redis_attach(store, c->node[1].replay, 1000, TR_REPLAY_ANY_NODE) != 0)
        goto out;
    for (int i = 0; i < n; i++) {
        /* A fresh ticket now and then: OpenSSL's own age check is ~10 s. */
        if (i % 500 == 0) {
            SSL_SESSION_free(s0);
            SSL_SESSION_free(s1);
            s0 = ticket(c, 0);
            s1 = ticket(c, 1);
            if (s0 == NULL || s1 == NULL)
                goto out;
        }
        plain[i] = zero_rtt(c, 0, s0);
        with[i] = zero_rtt(c, 1, s1);
        if (plain[i] == 0 || with[i] == 0) {
            fprintf(stderr, "bench_redis: 0-RTT not accepted (round %d)\n", i);
            goto out;
        }
    }
    pct(plain, (size_t)n, &m0, &p0);
    pct(with, (size_t)n, &m1, &p1);
    printf("0-RTT handshake, in-process client+server, %d each:\n", n);
    printf("  node-bound, no store     median %8.1f us   p99 %8.1f us\n", m0, p0);
    printf("  any node, Redis store    median %8.1f us   p99 %8.1f us\n", m1, p1);
    printf("  added by the store       median %8.1f us   p99 %8.1f us\n", m1 - m0, p1 - p0);
    rc = 0;
out:
    SSL_SESSION_free(s0);
    SSL_SESSION_free(s1);
    if (c != NULL && c->n != 0)
        tu_cluster_free(c);
    free(c);
    free(plain);
    free(with);
    return rc;
}
#endif

int main(int argc, char **argv)
{
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    unsigned ms = quick ? 300 : 3000;
    int rounds = quick ? 1 : 5, n_lat = quick ? 2000 : 50000, rc = 0;
    struct bs_series one = {0}, two = {0};
    uint64_t errors = 0, *lat;
    tr_redis_stats st = {.size = sizeof(st)};
    double med, p99;
    char a[64], b[64];

    if (rs_start(&srv) != 0) {
        fprintf(stderr, "bench_redis: redis-server did not start\n");
        return 1;
    }
    if (tr_redis_new(&store, rs_url(&srv, "?pool=4"), srv.password_file, srv.hash_key_file,
                     "bench") != 0 ||
        tr_redis_set_budget(store, 100) != 0) {
        rs_free(&srv);
        return 1;
    }
    for (int i = 0; i < 500 && (tr_redis_stats_get(store, &st) != 0 || st.up < 4); i++)
        (void)throughput(0, 10, &errors);
    printf("bench_redis: redis-server on 127.0.0.1:%d, pool 4, budget 100 ms\n", srv.port);
    for (int r = 0; r < rounds; r++) {
        bs_add(&one, throughput(1, ms, &errors));
        bs_add(&two, throughput(2, ms, &errors));
    }
    bs_format(&one, 1.0, 0, a, sizeof(a));
    bs_format(&two, 1.0, 0, b, sizeof(b));
    printf("replay checks/s, 1 thread:  %s\n", a);
    printf("replay checks/s, 2 threads: %s   (2t/1t %.2fx)\n", b,
           bs_median(&two) / bs_median(&one));

    lat = calloc((size_t)n_lat, sizeof(uint64_t));
    for (int i = 0; lat != NULL && i < n_lat; i++) {
        uint8_t v[32];
        uint64_t t0;

        value(v, atomic_fetch_add(&next_value, 1));
        t0 = bs_now_ns();
        if (tr_redis_check(store, v, 32, 20000) != 0)
            errors++;
        lat[i] = bs_now_ns() - t0;
    }
    if (lat != NULL) {
        pct(lat, (size_t)n_lat, &med, &p99);
        printf("one check, 1 thread, %d:    median %8.1f us   p99 %8.1f us\n", n_lat, med, p99);
        free(lat);
    }
#ifdef BENCH_HAVE_GLUE
    rc = handshakes(quick ? 200 : 5000);
#endif
    tr_redis_stats_get(store, &st);
    printf("store errors: %llu (timeouts %llu, down %llu, busy %llu, reply %llu)\n",
           (unsigned long long)errors, (unsigned long long)st.err_timeout,
           (unsigned long long)st.err_down, (unsigned long long)st.err_busy,
           (unsigned long long)st.err_reply);
    tr_redis_free(store);
    rs_free(&srv);
    return rc != 0 || errors != 0;
}
