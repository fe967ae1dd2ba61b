/*
 * Handshakes on several threads at once through two mbedTLS nodes: the
 * ticket callbacks, which get no connection pointer, must each find their
 * own thread's connection (tr_mbedtls_handshake's thread-local). A callback
 * that found another thread's connection would seal or check the wrong
 * ClientHello, or refuse as "not ours": the totals below would not add up.
 * CI runs it again under ThreadSanitizer (suite 'concurrency').
 *
 * The workers only count; every assertion runs in the main thread (the
 * helpers' own assertions fire only on a broken harness).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mbed_util.h"

#define THREADS 4
#define ROUNDS 8

static struct tm_identity ident;
static struct tm_node nodes[2];

struct worker {
    pthread_t t;
    int index;
    int full_ok, resumed_ok, origin_ok;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    static const char *const snis[] = {"a.example", "b.example", "c.example", "d.example"};

    for (int i = 0; i < ROUNDS; i++) {
        struct tm_node *issuer = &nodes[(w->index + i) % 2];
        struct tm_node *other = &nodes[(w->index + i + 1) % 2];
        struct tm_opts o = {.sni = snis[w->index % 4], .alpn_csv = i % 2 ? "h2" : NULL};
        struct tm_result full, res;

        tm_connect(issuer, &o, &full);
        if (full.ok && !full.resumed && full.have_session)
            w->full_ok++;
        o.session = &full.session;
        tm_connect(other, &o, &res);
        if (res.ok && res.resumed)
            w->resumed_ok++;
        if (strcmp(res.origin, issuer->id) == 0)
            w->origin_ok++;
        tm_result_free(&res);
        tm_result_free(&full);
    }
    return NULL;
}

static void test_threads(void **state)
{
    int64_t act[] = {T0 - 60};
    char *keyfile = tm_keyfile_new(act, NULL, 1);
    struct worker w[THREADS];
    tr_stats st[2];
    char line[128];

    tm_identity_init(&ident);
    tm_node_init(&nodes[0], &ident, keyfile, "node-a", T0_MS, NULL);
    tm_node_init(&nodes[1], &ident, keyfile, "node-b", T0_MS, NULL);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++) {
        w[i].index = i;
        assert_int_equal(pthread_create(&w[i].t, NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(w[i].t, NULL), 0);
        assert_int_equal(w[i].full_ok, ROUNDS);
        assert_int_equal(w[i].resumed_ok, ROUNDS);
        assert_int_equal(w[i].origin_ok, ROUNDS);
    }
    /* Each node issued and resumed half of everything, all across nodes. */
    for (int n = 0; n < 2; n++) {
        memset(&st[n], 0, sizeof(st[n]));
        st[n].size = sizeof(st[n]);
        assert_int_equal(tr_ring_stats(nodes[n].ring, &st[n]), 0);
        assert_int_equal(st[n].sealed, THREADS * ROUNDS / 2);
        assert_int_equal(st[n].handshakes_full, THREADS * ROUNDS / 2);
        assert_int_equal(st[n].opened, THREADS * ROUNDS / 2);
        assert_int_equal(st[n].handshakes_resumed, THREADS * ROUNDS / 2);
        assert_int_equal(st[n].resumed_cross_node, THREADS * ROUNDS / 2);
        assert_int_equal(st[n].refused_sni + st[n].refused_alpn + st[n].refused_malformed +
                             st[n].refused_auth + st[n].refused_unknown_key,
                         0);
        snprintf(line, sizeof(line), "ticketring_resumed_cross_node_total %d",
                 THREADS * ROUNDS / 2);
        tm_assert_metric(&nodes[n], line);
    }
    tm_node_free(&nodes[0]);
    tm_node_free(&nodes[1]);
    tm_identity_free(&ident);
    tm_keyfile_free(keyfile);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
