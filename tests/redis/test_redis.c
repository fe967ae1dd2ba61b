#define _GNU_SOURCE
/* libticketring-redis against a real redis-server: the URL and secret
 * files, the keys it writes, one SET NX PX per check with its TTL, and the
 * budget holding while Redis is stopped, frozen (SIGSTOP) and restarted:
 * early data refused (counted) while it is unavailable, accepted again
 * after the background reconnect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "test_util.h"

#include "redis_int.h"
#include "redis_server.h"

/* Scheduling and sanitizers on a busy 2-core machine; ThreadSanitizer
 * slows the library's own code several times over. */
#ifdef __SANITIZE_THREAD__
#define SLACK_US 100000
#else
#define SLACK_US 20000
#endif

static struct rs_server srv;

static int group_setup(void **st)
{
    (void)st;
    return rs_start(&srv);
}

static int group_teardown(void **st)
{
    (void)st;
    rs_free(&srv);
    return 0;
}

/* Wait (bounded) until `want` connections are up: the background thread
 * connects; nothing here measures time. */
static void wait_up(tr_redis *r, uint32_t want)
{
    tr_redis_stats s = {.size = sizeof(s)};

    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tr_redis_stats_get(r, &s), 0);
        if (s.up >= want)
            return;
        usleep(10000);
    }
    fail_msg("only %u of %u connections up", s.up, want);
}

static tr_redis_stats stats(tr_redis *r)
{
    tr_redis_stats s = {.size = sizeof(s)};

    assert_int_equal(tr_redis_stats_get(r, &s), 0);
    return s;
}

static void value(uint8_t v[32], uint32_t n)
{
    static uint8_t salt[28];

    if (salt[0] == 0 && salt[1] == 0)
        for (size_t i = 0; i < sizeof(salt); i++)
            salt[i] = (uint8_t)(rand() | 1);
    memcpy(v, &n, 4);
    memcpy(v + 4, salt, 28);
}

static int64_t now_us(void)
{
    return tri_redis_now_us();
}

static void test_url(void **st)
{
    struct tri_redis_url u;
    static const char *const bad[] = {
        "", "http://h", "redis://", "redis://:6379", "redis://u:pw@h:6379", "redis://pw@h",
        "redis://h:0", "redis://h:65536", "redis://h:63x", "redis://h/65536", "redis://h/x",
        "redis://h?pool=0", "redis://h?pool=65", "redis://h?nope=1", "redis://h?pool=2&",
        "redis://[::1", "redis://[zz]", "redis://h?user=", "redis://h?connect_timeout_ms=0",
        "redis://h/0/1", "redis://h h"};
    (void)st;

    assert_int_equal(tri_redis_url_parse("redis://cache.example", &u), 0);
    assert_string_equal(u.host, "cache.example");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(u.pool, 4);
    assert_int_equal(u.connect_timeout_ms, 1000);
    assert_string_equal(u.user, "");
    assert_int_equal(
        tri_redis_url_parse("redis://[::1]:7000/3?pool=64&user=tr-node&connect_timeout_ms=250",
                            &u),
        0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 3);
    assert_int_equal(u.pool, 64);
    assert_int_equal(u.connect_timeout_ms, 250);
    assert_string_equal(u.user, "tr-node");
    assert_int_equal(tri_redis_url_parse("redis://10.0.0.5/", &u), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (tri_redis_url_parse(bad[i], &u) != TR_E_INVAL)
            fail_msg("accepted %s", bad[i]);
}

static void test_new_refuses(void **st)
{
    tr_redis *r = (tr_redis *)1;
    char path[300];
    (void)st;

    assert_int_equal(tr_redis_new(&r, "redis://u:pw@127.0.0.1", NULL, srv.hash_key_file, "c"),
                     TR_E_INVAL);
    assert_null(r);
    assert_int_equal(tr_redis_new(&r, srv.url, NULL, srv.hash_key_file, ""), TR_E_INVAL);
    assert_int_equal(tr_redis_new(&r, srv.url, NULL, srv.hash_key_file, "a/b"), TR_E_INVAL);
    assert_int_equal(tr_redis_new(&r, srv.url, NULL, "/nonexistent/key", "c"), TR_E_IO);
    assert_int_equal(tr_redis_new(&r, srv.url, "/nonexistent/pw", srv.hash_key_file, "c"),
                     TR_E_IO);
    /* A secret others can read. */
    assert_int_equal(chmod(srv.hash_key_file, 0640), 0);
    assert_int_equal(tr_redis_new(&r, srv.url, NULL, srv.hash_key_file, "c"),
                     TR_E_KEYFILE_MODE);
    assert_int_equal(chmod(srv.hash_key_file, 0600), 0);
    /* A hash key too short to be a key. */
    snprintf(path, sizeof(path), "%s/short", srv.dir);
    {
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("0123456789abcde", f);
        fclose(f);
        assert_int_equal(chmod(path, 0600), 0);
    }
    assert_int_equal(tr_redis_new(&r, srv.url, NULL, path, "c"), TR_E_INVAL);
    unlink(path);
    assert_null(r);
}

/* Keys are "tr:<cluster>:r:" + 32 hex digits of a keyed hash: the same
 * value gives the same key under the same hash key and cluster only. */
static void test_keys(void **st)
{
    tr_redis *a, *b;
    char k1[128], k2[128], k3[128];
    uint8_t v[32];
    (void)st;

    value(v, 1);
    assert_int_equal(tr_redis_new(&a, srv.url, srv.password_file, srv.hash_key_file, "east"), 0);
    assert_int_equal(tr_redis_new(&b, srv.url, srv.password_file, srv.hash_key_file, "west"), 0);
    assert_int_equal(tri_redis_key(a, v, 32, k1, sizeof(k1)), 10 + 32);
    assert_int_equal(strncmp(k1, "tr:east:r:", 10), 0);
    for (int i = 10; i < 42; i++)
        assert_non_null(strchr("0123456789abcdef", k1[i]));
    assert_int_equal(tri_redis_key(a, v, 32, k2, sizeof(k2)), 42);
    assert_string_equal(k1, k2);
    assert_int_equal(tri_redis_key(b, v, 32, k3, sizeof(k3)), 42);
    assert_string_equal(k1 + 8, k3 + 8); /* same hash key, another namespace */
    v[31] ^= 1;
    assert_int_equal(tri_redis_key(a, v, 32, k2, sizeof(k2)), 42);
    assert_string_not_equal(k1, k2);
    /* Nothing of the value in the key. */
    assert_null(memmem(k1, strlen(k1), v + 4, 8));
    assert_int_equal(tri_redis_key(a, v, 32, k2, 20), 0);
    tr_redis_free(a);
    tr_redis_free(b);
}

/* One SET NX PX per check: first, then seen; the key expires ttl + budget
 * after the check. The password is in no metric. */
static void test_check_and_ttl(void **st)
{
    tr_redis *r;
    uint8_t v[32];
    char key[128], buf[4096];
    size_t len;
    redisContext *c;
    redisReply *rep;
    tr_redis_stats s;
    (void)st;

    value(v, 2);
    assert_int_equal(tr_redis_new(&r, rs_url(&srv, "?pool=2"), srv.password_file,
                                  srv.hash_key_file, "ttl"),
                     0);
    assert_int_equal(tr_redis_set_budget(r, 0), TR_E_INVAL);
    assert_int_equal(tr_redis_set_budget(r, 10001), TR_E_INVAL);
    assert_int_equal(tr_redis_set_budget(r, 250), 0);
    wait_up(r, 2);
    assert_int_equal(tr_redis_check(r, v, 0, 1000), TR_E_INVAL);
    assert_int_equal(tr_redis_check(r, v, 32, 0), TR_E_INVAL);
    assert_int_equal(tr_redis_check(r, v, 32, 60000), 0);
    assert_int_equal(tr_redis_check(r, v, 32, 60000), TR_E_REPLAY);
    s = stats(r);
    assert_int_equal(s.fresh, 1);
    assert_int_equal(s.replays, 1);
    assert_int_equal(s.err_timeout + s.err_down + s.err_busy + s.err_reply, 0);
    assert_int_equal(s.connects, 2);

    assert_true(tri_redis_key(r, v, 32, key, sizeof(key)) > 0);
    c = redisConnect("127.0.0.1", srv.port);
    assert_non_null(c);
    rep = redisCommand(c, "AUTH %s", srv.password);
    freeReplyObject(rep);
    rep = redisCommand(c, "PTTL %s", key);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_INTEGER);
    assert_true(rep->integer > 60000 - 5000 && rep->integer <= 60000 + 250);
    freeReplyObject(rep);
    redisFree(c);

    assert_int_equal(tr_redis_metrics(r, buf, sizeof(buf), &len), 0);
    assert_int_equal(strlen(buf), len);
    assert_non_null(strstr(buf, "ticketring_redis_checks_total{result=\"fresh\"} 1\n"));
    assert_non_null(strstr(buf, "ticketring_redis_connections_up 2\n"));
    assert_non_null(strstr(buf, "ticketring_redis_check_budget_seconds 0.250\n"));
    assert_null(strstr(buf, srv.password));
    assert_int_equal(tr_redis_metrics(r, buf, 10, &len), TR_E_BUFFER_TOO_SMALL);
    assert_true(len > 10);
    tr_redis_free(r);
}

/* A wrong password: no connection comes up, and every check fails closed
 * at once (down), without a connect of its own. */
static void test_wrong_password(void **st)
{
    tr_redis *r;
    char path[300];
    uint8_t v[32];
    tr_redis_stats s;
    FILE *f;
    (void)st;

    snprintf(path, sizeof(path), "%s/wrong", srv.dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("not-the-password\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(tr_redis_new(&r, srv.url, path, srv.hash_key_file, "pw"), 0);
    for (int i = 0; i < 1000 && stats(r).connect_errors < 2; i++)
        usleep(10000);
    value(v, 3);
    assert_int_equal(tr_redis_check(r, v, 32, 1000), TR_E_REPLAY_STORE);
    s = stats(r);
    assert_true(s.connect_errors >= 2);
    assert_int_equal(s.connects, 0);
    assert_int_equal(s.up, 0);
    assert_int_equal(s.err_down, 1);
    tr_redis_free(r);
    unlink(path);
}

/* A forked child must not use the parent's sockets: it fails closed, and
 * the parent's connections are unharmed. */
static void test_fork_child_fails_closed(void **st)
{
    tr_redis *r;
    uint8_t v[32];
    int status;
    pid_t pid;
    (void)st;

    assert_int_equal(tr_redis_new(&r, rs_url(&srv, "?pool=1"), srv.password_file,
                                  srv.hash_key_file, "fork"),
                     0);
    assert_int_equal(tr_redis_set_budget(r, 250), 0);
    wait_up(r, 1);
    value(v, 4);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(tr_redis_check(r, v, 32, 1000) == TR_E_REPLAY_STORE && stats(r).err_down == 1 ? 0
                                                                                          : 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The child recorded nothing: the value is new to the parent. */
    assert_int_equal(tr_redis_check(r, v, 32, 1000), 0);
    assert_int_equal(tr_redis_check(r, v, 32, 1000), TR_E_REPLAY);
    assert_int_equal(stats(r).err_down, 0);
    tr_redis_free(r);
}

/* ---- Outages ---------------------------------------------------------------- */

struct run {
    tr_redis *r;
    tr_ring *ring;
    tr_replay *rp;
    int64_t clock;
    uint64_t tag;
    uint32_t n;
    int64_t worst_us;
};

/* One 0-RTT decision through the ring, as the OpenSSL glue makes it,
 * recorded like the glue records it; its wall time tracked. */
static int attempt(struct run *x)
{
    uint8_t v[32];
    int64_t t0 = now_us(), dt;
    int rc;

    value(v, 1000 + x->n++);
    rc = tr_ring_check_early_data(x->ring, x->tag, x->clock, 0, v, 32);
    dt = now_us() - t0;
    if (dt > x->worst_us)
        x->worst_us = dt;
    if (rc == 0)
        assert_int_equal(tr_ring_record(x->ring, TR_EVENT_EARLY_ACCEPTED), 0);
    else
        assert_int_equal(tr_ring_record(x->ring, rc), 0);
    return rc;
}

/* Attempts until one is accepted (bounded: the reconnect backs off up to
 * 2 s); each must fail closed within the budget meanwhile. */
static void until_accepted(struct run *x)
{
    for (int i = 0; i < 800; i++) {
        int rc = attempt(x);

        if (rc == 0)
            return;
        assert_int_equal(rc, TR_E_REPLAY_STORE);
        usleep(10000);
    }
    fail_msg("never accepted again");
}

static tr_stats ring_stats(tr_ring *ring)
{
    tr_stats s;

    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    assert_int_equal(tr_ring_stats(ring, &s), 0);
    return s;
}

static void test_stop_freeze_restart(void **st)
{
    const uint32_t budget = 5;
    struct run x = {0};
    tr_redis_stats s, s0;
    tr_stats rs;
    uint64_t refused;
    (void)st;

    x.clock = 1700000000000;
    x.ring = tu_ring(&x.clock);
    assert_int_equal(tr_replay_new(&x.rp, 4096, 10000), 0);
    assert_int_equal(tr_replay_set_clock(x.rp, tu_clock, &x.clock), 0);
    assert_int_equal(tr_redis_new(&x.r, rs_url(&srv, "?pool=2&connect_timeout_ms=200"),
                                  srv.password_file, srv.hash_key_file, "outage"),
                     0);
    assert_int_equal(tr_redis_set_budget(x.r, budget), 0);
    assert_int_equal(tr_redis_attach(x.r, x.rp, 1000, TR_REPLAY_ANY_NODE), 0);
    assert_int_equal(tr_ring_set_early_data(x.ring, 16384, x.rp), 0);
    assert_int_equal(tr_ring_early_data_tag(x.ring, &x.tag), 0);
    wait_up(x.r, 2);
    for (int i = 0; i < 20; i++)
        assert_int_equal(attempt(&x), 0);

    /* Stopped: refused at once (the connections see EOF, then none is up). */
    rs_stop(&srv);
    for (int i = 0; i < 50; i++)
        assert_int_equal(attempt(&x), TR_E_REPLAY_STORE);
    s = stats(x.r);
    assert_true(s.err_down >= 48);
    assert_int_equal(s.up, 0);
    assert_int_equal(rs_restart(&srv), 0);
    until_accepted(&x);

    /* Frozen: the connections are up but nothing answers: each check runs
     * out of its budget, and its connection is closed and remade (the
     * remaking times out in AUTH while frozen). */
    wait_up(x.r, 2);
    s0 = stats(x.r);
    rs_freeze(&srv);
    for (int i = 0; i < 30; i++)
        assert_int_equal(attempt(&x), TR_E_REPLAY_STORE);
    s = stats(x.r);
    assert_true(s.err_timeout - s0.err_timeout >= 2);
    assert_int_equal((s.err_timeout + s.err_down + s.err_busy) -
                         (s0.err_timeout + s0.err_down + s0.err_busy),
                     30);
    rs_thaw(&srv);
    until_accepted(&x);

    rs = ring_stats(x.ring);
    refused = rs.early_refused_store;
    assert_true(refused >= 80);
    assert_int_equal(rs.early_refused_store + rs.early_accepted, x.n);
    assert_true(x.worst_us <= (int64_t)budget * 1000 + SLACK_US);
    s = stats(x.r);
    assert_true(s.max_check_us <= (uint64_t)budget * 1000 + SLACK_US);
    {
        tr_replay_stats ps;

        memset(&ps, 0, sizeof(ps));
        ps.size = sizeof(ps);
        assert_int_equal(tr_replay_get_stats(x.rp, &ps), 0);
        assert_int_equal(ps.store_errors, refused);
        assert_int_equal(ps.store_fresh, rs.early_accepted);
    }
    tr_ring_free(x.ring);
    tr_replay_free(x.rp);
    tr_redis_free(x.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_new_refuses),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_check_and_ttl),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_fork_child_fails_closed),
        cmocka_unit_test(test_stop_freeze_restart),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
