/* Recorded 0-RTT flights replayed into one node from several threads at
 * once: each flight's early data is processed exactly once in all (by
 * whichever copy arrives first), every other copy resumes without it. The
 * replay cache's lock per bucket is what makes "first" unique; CI runs this
 * again under ThreadSanitizer (suite 'concurrency'). */
#include "tls_check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define FLIGHTS 24
#define THREADS 4
#define READY_MS (T0_MS + (int64_t)TU_NODE_REPLAY_WINDOW_MS)

static const char request[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

struct flight {
    uint8_t *bytes;
    size_t len;
    atomic_int processed; /* copies whose early data the server read */
    atomic_int resumed;
};

struct shared {
    SSL_CTX *server;
    struct flight flights[FLIGHTS];
    atomic_int errors;
};

struct worker {
    struct shared *s;
    unsigned first; /* each thread starts at another flight */
};

static void *replay_all(void *arg)
{
    struct worker *w = arg;

    for (unsigned k = 0; k < FLIGHTS; k++) {
        struct flight *fl = &w->s->flights[(w->first + k) % FLIGHTS];
        struct tu_tls_replay_result r;

        if (tu_tls_replay_flight(w->s->server, fl->bytes, fl->len, &r) != 0 || r.failed ||
            r.completed) {
            atomic_fetch_add(&w->s->errors, 1);
            continue;
        }
        if (r.early_len > 0) {
            if (r.early_len != sizeof(request) - 1 || r.early_status != SSL_EARLY_DATA_ACCEPTED)
                atomic_fetch_add(&w->s->errors, 1);
            atomic_fetch_add(&fl->processed, 1);
        }
        if (r.resumed)
            atomic_fetch_add(&fl->resumed, 1);
    }
    return NULL;
}

static void replayed_concurrently(void **st)
{
    static const int64_t keys[] = {T0 - 10};
    struct tu_node_policy pol = {.early_max = 16384};
    struct tu_cluster c;
    struct shared s;
    struct worker wk[THREADS];
    pthread_t th[THREADS];
    struct tc_conn t;
    tr_stats before, after;
    (void)st;

    memset(&s, 0, sizeof(s));
    assert_int_equal(tu_cluster_init(&c, 2, keys, 1, T0_MS, &pol, "h2"), 0);
    tu_nodes_set_clock(c.node, c.n, READY_MS);
    /* A ticket from node a, then FLIGHTS distinct 0-RTT first flights with
     * it, recorded on their way to node b (which refuses their early data:
     * not its ticket) so that node a has seen none of them. */
    tc_connect(&c, 0, "a.example", "h2", TLS1_3_VERSION, NULL, &t);
    assert_int_equal(SSL_SESSION_get_max_early_data(t.r.session), 16384);
    for (int i = 0; i < FLIGHTS; i++) {
        SSL_SESSION *dup = SSL_SESSION_dup(t.r.session);
        struct tu_tls_early_opts o = {.sni = "a.example", .alpn_csv = "h2", .session = dup,
                                      .early = (const uint8_t *)request,
                                      .early_len = sizeof(request) - 1, .capture = 1};
        struct tu_tls_early_result r;

        assert_non_null(dup);
        assert_int_equal(tu_tls_connect_early(c.node[1].ctx, c.client, &o, &r), 0);
        assert_true(r.ok && r.resumed && r.early_len == 0);
        s.flights[i].bytes = r.flight;
        s.flights[i].len = r.flight_len;
        r.flight = NULL;
        tu_tls_early_result_free(&r);
        SSL_SESSION_free(dup);
    }

    s.server = c.node[0].ctx;
    before = tu_node_stats(&c.node[0]);
    for (unsigned i = 0; i < THREADS; i++) {
        wk[i] = (struct worker){&s, i * (FLIGHTS / THREADS)};
        assert_int_equal(pthread_create(&th[i], NULL, replay_all, &wk[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    after = tu_node_stats(&c.node[0]);

    assert_int_equal(atomic_load(&s.errors), 0);
    for (int i = 0; i < FLIGHTS; i++) {
        assert_int_equal(atomic_load(&s.flights[i].processed), 1);
        assert_int_equal(atomic_load(&s.flights[i].resumed), THREADS);
        free(s.flights[i].bytes);
    }
    assert_int_equal(after.early_accepted - before.early_accepted, FLIGHTS);
    assert_int_equal(after.early_refused_replay - before.early_refused_replay,
                     FLIGHTS * (THREADS - 1));
    printf("# %d flights x %d threads: %d processed once each, %d replays refused\n", FLIGHTS,
           THREADS, FLIGHTS, FLIGHTS * (THREADS - 1));
    tc_conn_free(&t);
    tu_cluster_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replayed_concurrently),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
