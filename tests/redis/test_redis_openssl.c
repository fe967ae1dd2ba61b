/* 0-RTT on every node: three OpenSSL nodes (their own rings, replay caches
 * and connection pools) in front of one redis-server. A recorded 0-RTT
 * flight replayed to each node has its early data processed at most once
 * in total; legitimate clients reusing a ticket get 0-RTT on any node; with
 * Redis down early data is refused (counted as `store`) and the
 * resumption still completes 1-RTT. */
#include "tls_check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "redis_server.h"
#include "ticketring/redis.h"

#define NODES 3
#define EARLY_MAX 16384u
#define SKEW_MS 2000u

static const char request[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

struct fx {
    struct rs_server srv;
    struct tu_cluster c;
    tr_redis *store[NODES];
};

static void wait_up(tr_redis *r)
{
    tr_redis_stats s = {.size = sizeof(s)};

    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tr_redis_stats_get(r, &s), 0);
        if (s.up == s.pool)
            return;
        usleep(10000);
    }
    fail_msg("the store's connections did not come up");
}

static int setup(void **st)
{
    static const int64_t keys[] = {T0 - 10};
    struct tu_node_policy pol = {.early_max = EARLY_MAX};
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    assert_int_equal(rs_start(&f->srv), 0);
    /* The nodes have just started: with a store that is no reason to
     * refuse (the store remembers what they accepted before). */
    assert_int_equal(tu_cluster_init(&f->c, NODES, keys, 1, T0_MS, &pol, "h2,http/1.1"), 0);
    for (int i = 0; i < NODES; i++) {
        assert_int_equal(tr_redis_new(&f->store[i], rs_url(&f->srv, "?pool=2"),
                                      f->srv.password_file, f->srv.hash_key_file, "tls"),
                         0);
        assert_int_equal(tr_redis_set_budget(f->store[i], 200), 0); /* sanitizers */
        assert_int_equal(
            tr_redis_attach(f->store[i], f->c.node[i].replay, SKEW_MS, TR_REPLAY_ANY_NODE), 0);
    }
    for (int i = 0; i < NODES; i++)
        wait_up(f->store[i]);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;

    tu_cluster_free(&f->c); /* rings and caches first: they use the stores */
    for (int i = 0; i < NODES; i++)
        tr_redis_free(f->store[i]);
    rs_free(&f->srv);
    free(f);
    return 0;
}

static void issue(struct tu_cluster *c, size_t i, struct tc_conn *out)
{
    tc_connect(c, i, "a.example", "h2", TLS1_3_VERSION, NULL, out);
    assert_false(out->r.resumed);
    assert_int_equal(SSL_SESSION_get_max_early_data(out->r.session), EARLY_MAX);
}

/* 0-RTT with a copy of `from` to node i; the connection completes. */
static void early(struct tu_cluster *c, size_t i, SSL_SESSION *from, int capture,
                  struct tu_tls_early_result *r)
{
    SSL_SESSION *dup = SSL_SESSION_dup(from);
    struct tu_tls_early_opts o = {.sni = "a.example", .alpn_csv = "h2", .session = dup,
                                  .early = (const uint8_t *)request,
                                  .early_len = sizeof(request) - 1, .capture = capture};

    assert_non_null(dup);
    tu_cluster_mark(c);
    assert_int_equal(tu_tls_connect_early(c->node[i].ctx, c->client, &o, r), 0);
    assert_true(r->ok);
    assert_true(r->resumed);
    SSL_SESSION_free(dup);
}

static void expect_accepted(struct tu_cluster *c, size_t i, int cross_node,
                            const struct tu_tls_early_result *r)
{
    assert_int_equal(r->server_status, SSL_EARLY_DATA_ACCEPTED);
    assert_int_equal(r->early_len, sizeof(request) - 1);
    assert_memory_equal(r->early, request, sizeof(request) - 1);
    assert_string_equal(tu_cluster_moved(c, i),
                        tc_cat(tc_resumed(TLS1_3_VERSION, cross_node, 0), "early_accepted+1"));
}

/* The legitimate client's flight goes to `first`; an attacker replays it
 * byte for byte to every node, twice. */
static void replay_everywhere(struct fx *f, size_t issuer, size_t first)
{
    struct tu_cluster *c = &f->c;
    struct tu_tls_early_result legit;
    struct tu_tls_replay_result rp;
    struct tc_conn t;
    size_t processed;

    issue(c, issuer, &t);
    early(c, first, t.r.session, 1, &legit);
    expect_accepted(c, first, first != issuer, &legit);
    processed = legit.early_len;
    assert_non_null(legit.flight);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < NODES; i++) {
            tu_cluster_mark(c);
            assert_int_equal(tu_tls_replay_flight(c->node[i].ctx, legit.flight,
                                                  legit.flight_len, &rp),
                             0);
            assert_true(rp.resumed);
            assert_false(rp.failed);
            assert_int_equal(rp.early_status, SSL_EARLY_DATA_REJECTED);
            processed += rp.early_len;
            /* Caught by the node's own cache once it has seen the random,
             * by the store before: a replay either way. */
            assert_string_equal(tu_cluster_moved(c, i), "early_refused_replay+1");
        }
    }
    assert_int_equal(processed, sizeof(request) - 1);
    tu_tls_early_result_free(&legit);
    tc_conn_free(&t);
}

static void flight_replayed_to_every_node(void **st)
{
    struct fx *f = *st;
    tr_redis_stats s = {.size = sizeof(s)};
    uint64_t seen = 0;

    replay_everywhere(f, 0, 0); /* accepted where it was issued */
    replay_everywhere(f, 0, 2); /* accepted on another node first */
    replay_everywhere(f, 1, 1);
    for (int i = 0; i < NODES; i++) {
        assert_int_equal(tr_redis_stats_get(f->store[i], &s), 0);
        assert_int_equal(s.err_timeout + s.err_down + s.err_busy + s.err_reply, 0);
        seen += s.replays;
    }
    /* Each node asked the store once per flight it had not seen itself. */
    assert_int_equal(seen, 3 * (NODES - 1));
}

static void legitimate_reuse_on_any_node(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tu_tls_early_result r;
    struct tc_conn t;

    issue(c, 0, &t);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < NODES; i++) {
            early(c, i, t.r.session, 0, &r);
            expect_accepted(c, i, i != 0, &r);
            tu_tls_early_result_free(&r);
        }
    }
    tc_conn_free(&t);
}

/* Redis stopped: early data refused as `store`, the resumption completes;
 * back after a restart and the background reconnect. */
static void store_down_refuses_then_recovers(void **st)
{
    struct fx *f = *st;
    struct tu_cluster *c = &f->c;
    struct tu_tls_early_result r;
    struct tc_conn t;
    int accepted = 0;

    issue(c, 0, &t);
    rs_stop(&f->srv);
    for (size_t i = 0; i < NODES; i++) {
        early(c, i, t.r.session, 0, &r);
        assert_int_equal(r.server_status, SSL_EARLY_DATA_REJECTED);
        assert_int_equal(r.early_len, 0);
        assert_string_equal(tu_cluster_moved(c, i),
                            tc_cat(tc_resumed(TLS1_3_VERSION, i != 0, 0), "early_refused_store+1"));
        tu_tls_early_result_free(&r);
    }
    {
        char text[16384];
        size_t len;

        assert_int_equal(tr_ring_metrics(c->node[1].ring, text, sizeof(text), &len), 0);
        assert_non_null(strstr(text, "ticketring_early_data_refused_total{reason=\"store\"} 1\n"));
    }
    assert_int_equal(rs_restart(&f->srv), 0);
    wait_up(f->store[1]);
    for (int i = 0; i < 100 && !accepted; i++) {
        early(c, 1, t.r.session, 0, &r);
        accepted = r.server_status == SSL_EARLY_DATA_ACCEPTED;
        tu_tls_early_result_free(&r);
    }
    assert_true(accepted);
    tc_conn_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(flight_replayed_to_every_node, setup, teardown),
        cmocka_unit_test_setup_teardown(legitimate_reuse_on_any_node, setup, teardown),
        cmocka_unit_test_setup_teardown(store_down_refuses_then_recovers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
