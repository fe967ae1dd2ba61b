/*
 * What the library does when time misbehaves (docs/time.md states each
 * outcome): a clock that goes back, one that jumps forward past several
 * rotations, and two nodes whose clocks differ by the allowed skew and by
 * more. Every outcome is asserted exactly, with the counters it moves.
 */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 INT64_C(1700000000) /* seconds */
#define MS(s) ((int64_t)(s) * 1000)
#define LIFE 1000
#define SKEW 10
#define LIMIT_MS MS(LIFE + SKEW)
#define PERIOD 3600
#define W 20000u /* replay window, ms */
#define SNI "www.example.com"
#define ALPN "h2"

/* ---- helpers -------------------------------------------------------------- */

/* A counter snapshot by index (tr_stats_name), so a diff names every
 * counter that moved and nothing can move unnoticed. */
struct snap {
    uint64_t v[64];
};

static struct snap take(tr_ring *r)
{
    struct snap s;
    size_t n = tr_stats_count();

    assert_true(n <= 64);
    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tr_ring_stat(r, i, &s.v[i]), 0);
    return s;
}

/* "name+N name+N" for each counter that moved since `before`. */
static const char *moved(tr_ring *r, const struct snap *before)
{
    static char out[512];
    struct snap now = take(r);
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < tr_stats_count(); i++) {
        if (now.v[i] == before->v[i])
            continue;
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s%+lld", len ? " " : "",
                                tr_stats_name(i),
                                (long long)(now.v[i] - before->v[i]));
        assert_true(len < sizeof(out));
    }
    return out;
}

struct tk {
    uint8_t b[32 + TR_TICKET_OVERHEAD];
    size_t len;
};

static const uint8_t state[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* Seal the state now (auth_time 0: now, or a renewal's). */
static int seal_auth(tr_ring *r, int64_t auth, struct tk *t, uint32_t *life)
{
    return tr_ticket_seal(r, state, sizeof(state), (const uint8_t *)SNI, strlen(SNI),
                          (const uint8_t *)ALPN, strlen(ALPN), NULL, 0, auth, t->b,
                          sizeof(t->b), &t->len, life);
}

static int seal(tr_ring *r, struct tk *t)
{
    return seal_auth(r, 0, t, NULL);
}

struct opened {
    uint8_t name[TR_KEY_NAME_BYTES];
    int64_t auth;
    int64_t age_ms;
    uint32_t flags;
};

static int open_t(tr_ring *r, const struct tk *t, struct opened *o)
{
    uint8_t out[sizeof(state)];
    struct opened scratch;
    size_t out_len = 0;
    int rc;

    if (o == NULL)
        o = &scratch;
    memset(o, 0xff, sizeof(*o));
    rc = tr_ticket_open(r, t->b, t->len, (const uint8_t *)SNI, strlen(SNI),
                        (const uint8_t *)ALPN, strlen(ALPN), NULL, 0, out, sizeof(out),
                        &out_len, o->name, &o->auth, &o->age_ms, &o->flags);
    if (rc == 0) {
        assert_int_equal(out_len, sizeof(state));
        assert_memory_equal(out, state, sizeof(state));
    }
    return rc;
}

/* Key `seed` (tu_key) under its activation; its name out. */
static void add(tr_ring *r, uint8_t seed, int64_t activation, uint8_t name[TR_KEY_NAME_BYTES])
{
    uint8_t key[TR_KEY_BYTES];
    tu_key(key, seed);
    assert_int_equal(tr_ring_add_key(r, key, activation), 0);
    if (name != NULL)
        memcpy(name, key, TR_KEY_NAME_BYTES);
}

static int32_t role_of(tr_ring *r, const uint8_t name[TR_KEY_NAME_BYTES])
{
    uint8_t n[TR_KEY_NAME_BYTES];
    int32_t role;

    for (uint32_t i = 0; tr_ring_key_info(r, i, n, NULL, &role) == 0; i++)
        if (memcmp(n, name, sizeof(n)) == 0)
            return role;
    fail_msg("no such key");
    return -1;
}

/* The name of the key a generic ticket was sealed under (in clear). */
static const uint8_t *sealed_under(const struct tk *t)
{
    return t->b + 1;
}

static tr_ring *ring_at(int64_t *clock_ms)
{
    tr_ring *r = tu_ring(clock_ms);
    assert_int_equal(tr_ring_set_lifetime(r, LIFE), 0);
    assert_int_equal(tr_ring_set_skew(r, SKEW), 0);
    return r;
}

/* The metrics text contains `line` (a whole line, newline included). */
static void metric_has(tr_ring *r, const char *line)
{
    char buf[16384];
    size_t len = 0;

    assert_int_equal(tr_ring_metrics(r, buf, sizeof(buf), &len), 0);
    if (strstr(buf, line) == NULL)
        fail_msg("metrics lack \"%s\":\n%s", line, buf);
}

/* ---- the clock goes back -------------------------------------------------- */

/* A ticket issued "in the future" of the clock that reads it: accepted
 * while it is at most the skew ahead (its age reads 0), refused as from
 * the future beyond that, accepted again once the clock is back. */
static void test_back_ticket_future(void **st)
{
    int64_t c = MS(T0) + 500;
    const int64_t issued = c;
    tr_ring *r = ring_at(&c);
    struct tk t;
    struct opened o;
    struct snap s;
    (void)st;

    add(r, 1, T0 - PERIOD, NULL);
    assert_int_equal(seal(r, &t), 0);

    c = issued - MS(SKEW);
    s = take(r);
    assert_int_equal(open_t(r, &t, &o), 0);
    assert_int_equal(o.age_ms, 0);
    assert_int_equal(o.auth, T0);
    assert_string_equal(moved(r, &s), "opened+1");

    c = issued - MS(SKEW) - 1;
    s = take(r);
    assert_int_equal(open_t(r, &t, NULL), TR_E_TICKET_FUTURE);
    assert_string_equal(moved(r, &s), "refused_future+1");
    c = issued - MS(86400);
    assert_int_equal(open_t(r, &t, NULL), TR_E_TICKET_FUTURE);
    metric_has(r, "ticketring_tickets_refused_total{reason=\"future\"} 2\n");

    /* A refusal changes nothing: with the clock right again it opens. */
    c = issued + 1;
    assert_int_equal(open_t(r, &t, &o), 0);
    assert_int_equal(o.age_ms, 1);
    tr_ring_free(r);
}

/* Roles are a function of the clock: going back before an activation makes
 * the previous key encrypt again and the new one pending (it still
 * decrypts, so its tickets open, not renewed); before the first activation
 * nothing seals. A retired key that is still held decrypts again. */
static void test_back_key_roles(void **st)
{
    int64_t c = MS(T0 + PERIOD + 5);
    tr_ring *r = ring_at(&c);
    uint8_t k1[TR_KEY_NAME_BYTES], k2[TR_KEY_NAME_BYTES];
    struct tk t2, t1;
    struct opened o;
    struct snap s;
    (void)st;

    add(r, 1, T0, k1);
    add(r, 2, T0 + PERIOD, k2);
    assert_int_equal(seal(r, &t2), 0);
    assert_memory_equal(sealed_under(&t2), k2, TR_KEY_NAME_BYTES);
    assert_int_equal(role_of(r, k1), TR_KEY_DECRYPT);

    /* Back 10 s (the skew), before k2's activation. */
    c = MS(T0 + PERIOD - 5);
    assert_int_equal(role_of(r, k1), TR_KEY_ENCRYPT);
    assert_int_equal(role_of(r, k2), TR_KEY_PENDING);
    metric_has(r, "ticketring_keys{role=\"pending\"} 1\n");
    s = take(r);
    assert_int_equal(open_t(r, &t2, &o), 0);
    assert_memory_equal(o.name, k2, TR_KEY_NAME_BYTES);
    assert_int_equal(o.flags, 0); /* never renewed onto an older key */
    assert_int_equal(seal(r, &t1), 0);
    assert_memory_equal(sealed_under(&t1), k1, TR_KEY_NAME_BYTES);
    assert_string_equal(moved(r, &s), "sealed+1 opened+1");
    c -= 1;
    assert_int_equal(open_t(r, &t2, NULL), TR_E_TICKET_FUTURE);

    /* Before the first activation: no key may encrypt. */
    c = MS(T0) - 1;
    s = take(r);
    assert_int_equal(seal(r, &t1), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(role_of(r, k1), TR_KEY_PENDING);
    assert_string_equal(moved(r, &s), "seal_no_key+1");
    metric_has(r, "ticketring_keyset_info{fingerprint=");
    metric_has(r, ",encrypt_key=\"\"} 1\n");

    /* k1 retires L + s after k2 activates; back one second, it decrypts. */
    c = MS(T0 + PERIOD + LIFE + SKEW + 1);
    assert_int_equal(role_of(r, k1), TR_KEY_RETIRED);
    c = MS(T0 + PERIOD + LIFE + SKEW);
    assert_int_equal(role_of(r, k1), TR_KEY_DECRYPT);
    tr_ring_free(r);
}

/* A key removed (a later key file dropped it) stays gone when the clock
 * goes back: its tickets are unknown, however young, and with no older
 * dated key left nothing seals until the next activation. */
static void test_back_removed_key(void **st)
{
    int64_t c = MS(T0 + 100);
    tr_ring *r = ring_at(&c);
    uint8_t k1[TR_KEY_NAME_BYTES];
    struct tk t1, t;
    struct snap s;
    (void)st;

    add(r, 1, T0, k1);
    add(r, 2, T0 + PERIOD, NULL);
    assert_int_equal(seal(r, &t1), 0);
    c = MS(T0 + PERIOD + LIFE + SKEW + 1);
    assert_int_equal(role_of(r, k1), TR_KEY_RETIRED);
    assert_int_equal(tr_ring_remove_key(r, k1), 0);

    c = MS(T0 + 200);
    s = take(r);
    assert_int_equal(open_t(r, &t1, NULL), TR_E_TICKET_UNKNOWN_KEY);
    assert_int_equal(seal(r, &t), TR_E_NO_ENCRYPT_KEY);
    assert_string_equal(moved(r, &s), "seal_no_key+1 refused_unknown_key+1");
    tr_ring_free(r);
}

/* Key files read by a clock that went back: the activation horizon counts
 * from that clock, so keys within it by the writer's clock can be beyond
 * it; and a writer that never saw a serial writes its clock in ms, so a
 * fresh file written by a clock behind is refused as a rollback. Either
 * way the node keeps its keys. */
static void test_back_key_files(void **st)
{
    int64_t cw = MS(T0), cn = MS(T0), cw2 = MS(T0) - 1000;
    tr_ring *writer = ring_at(&cw), *node = ring_at(&cn), *late = ring_at(&cw2);
    char dir[] = "/tmp/tr-time-XXXXXX", path[64], path2[64];
    char fp[TR_FINGERPRINT_HEX + 1], fp2[TR_FINGERPRINT_HEX + 1];
    uint8_t key[TR_KEY_BYTES];
    uint32_t line = 0;
    struct snap s;
    (void)st;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/keys", dir);
    snprintf(path2, sizeof(path2), "%s/keys2", dir);
    assert_int_equal(tr_ring_set_activation_horizon(node, 86400), 0);
    add(writer, 1, T0, NULL);
    add(writer, 2, T0 + 86400, NULL);
    assert_int_equal(tr_ring_save(writer, path), 0);
    assert_int_equal(tr_ring_load(node, path, &line), 0);
    assert_int_equal(tr_ring_fingerprint(node, fp, sizeof(fp)), 0);

    /* The same file, one second behind: its second key is out of reach. */
    cn = MS(T0) - 1000;
    s = take(node);
    assert_int_equal(tr_ring_load(node, path, &line), TR_E_KEY_ACTIVATION);
    assert_string_equal(moved(node, &s), "reload_failures+1");
    tu_key(key, 3);
    assert_int_equal(tr_ring_add_key(node, key, T0 + 86400), TR_E_KEY_ACTIVATION);
    assert_int_equal(tr_ring_add_key(node, key, T0 + 86399), 0);
    assert_int_equal(tr_ring_remove_key(node, key), 0);

    /* New keys from scratch, by a writer 1 s behind: serial T0 ms - 1000. */
    cn = MS(T0);
    add(late, 4, T0, NULL);
    assert_int_equal(tr_ring_save(late, path2), 0);
    s = take(node);
    assert_int_equal(tr_ring_load(node, path2, &line), TR_E_KEYFILE_ROLLBACK);
    assert_string_equal(moved(node, &s), "reload_failures+1");
    assert_int_equal(tr_ring_fingerprint(node, fp2, sizeof(fp2)), 0);
    assert_string_equal(fp, fp2);

    unlink(path);
    unlink(path2);
    rmdir(dir);
    tr_ring_free(late);
    tr_ring_free(node);
    tr_ring_free(writer);
}

/* 0-RTT when the clock goes back. Freshness (RFC 8446 8.3) is checked
 * first, so a step back of more than a quarter window makes a ClientHello
 * stale; within it the replay cache still remembers what it saw (entries
 * live longer, never shorter); and a clock back inside the cache's first
 * window, or before it was made, puts the cache back in its start-up
 * refusal. */
static void test_back_early_data(void **st)
{
    int64_t c = MS(T0);
    tr_ring *r = ring_at(&c);
    tr_replay *rp = NULL;
    tr_replay_stats rs;
    uint64_t tag = 0;
    uint8_t v[6][8];
    struct snap s;
    int64_t c0;
    (void)st;

    for (int i = 0; i < 6; i++)
        memset(v[i], 'a' + i, sizeof(v[i]));
    assert_int_equal(tr_replay_new(&rp, 64, W), 0);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &c), 0); /* starts at T0 */
    assert_int_equal(tr_ring_set_early_data(r, 16384, rp), 0);
    assert_int_equal(tr_ring_early_data_tag(r, &tag), 0);
    s = take(r);
/* A ClientHello whose client reports a ticket age that puts it at `at`. */
#define CHECK(at, val) tr_ring_check_early_data(r, tag, (at) - 60000, 60000, (val), 8)

    c0 = c = MS(T0) + 3 * W;
    assert_int_equal(CHECK(c0, v[0]), 0);
    assert_int_equal(CHECK(c0, v[0]), TR_E_REPLAY);

    c = c0 - W / 4;
    assert_int_equal(CHECK(c0, v[0]), TR_E_REPLAY);
    assert_int_equal(CHECK(c0, v[1]), 0);
    c = c0 - W / 4 - 1;
    assert_int_equal(CHECK(c0, v[2]), TR_E_EARLY_STALE);

    /* Before the cache was made, and inside its first window. */
    c = MS(T0) - 1000;
    assert_int_equal(CHECK(c, v[3]), TR_E_REPLAY_STARTUP);
    assert_int_equal(CHECK(c, v[3]), TR_E_REPLAY);
    c = MS(T0) + W - 1;
    assert_int_equal(CHECK(c, v[4]), TR_E_REPLAY_STARTUP);
    c = MS(T0) + W;
    assert_int_equal(CHECK(c, v[5]), 0);

    /* Forward again: v[0] is remembered for one window of the clock that
     * recorded it, the trip back notwithstanding. */
    c = c0 + W - 1;
    assert_int_equal(CHECK(c, v[0]), TR_E_REPLAY);
    c = c0 + W;
    assert_int_equal(CHECK(c, v[0]), 0);
    /* A clock that jumps forward makes an in-flight ClientHello stale. */
    c = c0 + W + W - W / 4;
    assert_int_equal(CHECK(c0 + W, v[1]), TR_E_EARLY_STALE);
#undef CHECK

    rs.size = sizeof(rs);
    assert_int_equal(tr_replay_get_stats(rp, &rs), 0);
    assert_int_equal(rs.fresh, 4);
    assert_int_equal(rs.replays, 4);
    assert_int_equal(rs.startup, 2);
    assert_int_equal(rs.full, 0);
    /* The policy counts nothing: the TLS integration records the outcome. */
    assert_string_equal(moved(r, &s), "");
    tr_ring_free(r);
    tr_replay_free(rp);
}

/* ---- the clock jumps forward ---------------------------------------------- */

/* One jump past three activations: roles move on (two keys retired, one
 * decrypting, the newest encrypting), a ticket under a retired key is
 * unknown, a fresh one seals under the newest key, and tickets expire
 * lifetime + skew after their issue, to the millisecond. */
static void test_forward_past_rotations(void **st)
{
    int64_t c = MS(T0 + 10);
    tr_ring *r = ring_at(&c);
    uint8_t k[4][TR_KEY_NAME_BYTES];
    struct tk t1, t4;
    struct opened o;
    struct snap s;
    int64_t issued;
    (void)st;

    for (int i = 0; i < 4; i++)
        add(r, (uint8_t)(i + 1), T0 + i * PERIOD, k[i]);
    assert_int_equal(seal(r, &t1), 0);

    c = MS(T0 + 3 * PERIOD + 5);
    assert_int_equal(role_of(r, k[0]), TR_KEY_RETIRED);
    assert_int_equal(role_of(r, k[1]), TR_KEY_RETIRED);
    assert_int_equal(role_of(r, k[2]), TR_KEY_DECRYPT);
    assert_int_equal(role_of(r, k[3]), TR_KEY_ENCRYPT);
    metric_has(r, "ticketring_keys{role=\"retired\"} 2\n");
    metric_has(r, "ticketring_keys{role=\"decrypt\"} 1\n");
    metric_has(r, "ticketring_keys{role=\"encrypt\"} 1\n");
    s = take(r);
    assert_int_equal(open_t(r, &t1, NULL), TR_E_TICKET_UNKNOWN_KEY);
    assert_int_equal(seal(r, &t4), 0);
    assert_memory_equal(sealed_under(&t4), k[3], TR_KEY_NAME_BYTES);
    assert_string_equal(moved(r, &s), "sealed+1 refused_unknown_key+1");

    issued = c;
    c = issued + LIMIT_MS;
    assert_int_equal(open_t(r, &t4, &o), 0);
    assert_int_equal(o.age_ms, LIMIT_MS);
    c = issued + LIMIT_MS + 1;
    s = take(r);
    assert_int_equal(open_t(r, &t4, NULL), TR_E_TICKET_EXPIRED);
    assert_string_equal(moved(r, &s), "refused_expired+1");
    tr_ring_free(r);
}

/* Past the end of the schedule (the newest key has encrypted longer than
 * the rotation period, nothing newer): every seal is counted overdue; KEEP
 * seals on, STOP seals nothing; past the maximum encrypt age nothing seals
 * under either. Opening goes on. A pending key does not end it; a dated
 * one does at once, before it activates. */
static void test_forward_schedule_runs_out(void **st)
{
    int64_t c = MS(T0 + 4 * PERIOD);
    tr_ring *r = ring_at(&c);
    uint8_t k4[TR_KEY_NAME_BYTES];
    struct tk t, before;
    struct opened o;
    struct snap s;
    (void)st;

    add(r, 1, T0 + 2 * PERIOD, NULL);
    add(r, 4, T0 + 3 * PERIOD, k4);
    assert_int_equal(tr_ring_set_rotation_period(r, PERIOD), 0);

    s = take(r);
    assert_int_equal(seal(r, &before), 0); /* encrypted for exactly P */
    assert_string_equal(moved(r, &s), "sealed+1");
    c += 1000;
    s = take(r);
    assert_int_equal(seal(r, &t), 0);
    assert_string_equal(moved(r, &s), "sealed+1 seal_overdue+1");

    assert_int_equal(tr_ring_set_exhausted_policy(r, TR_EXHAUSTED_STOP), 0);
    s = take(r);
    assert_int_equal(seal(r, &t), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(open_t(r, &before, &o), 0);
    assert_int_equal(o.flags, 0);
    assert_string_equal(moved(r, &s), "seal_no_key+1 seal_overdue+1 opened+1");
    metric_has(r, "ticketring_schedule_remaining_seconds -1\n");
    add(r, 5, TR_ACTIVATION_PENDING, NULL);
    s = take(r);
    assert_int_equal(seal(r, &t), TR_E_NO_ENCRYPT_KEY);
    assert_string_equal(moved(r, &s), "seal_no_key+1 seal_overdue+1");

    /* KEEP, bounded by a maximum encrypt age of 2P. */
    assert_int_equal(tr_ring_set_exhausted_policy(r, TR_EXHAUSTED_KEEP), 0);
    assert_int_equal(tr_ring_set_max_encrypt_age(r, 2 * PERIOD), 0);
    c = MS(T0 + 5 * PERIOD);
    s = take(r);
    assert_int_equal(seal(r, &t), 0);
    assert_string_equal(moved(r, &s), "sealed+1 seal_overdue+1");
    c += 1000;
    s = take(r);
    assert_int_equal(seal(r, &t), TR_E_NO_ENCRYPT_KEY);
    assert_string_equal(moved(r, &s), "seal_no_key+1 seal_overdue+1");
    metric_has(r, "ticketring_schedule_remaining_seconds -1\n");

    /* A dated key arrives: the newest key seals again until it activates. */
    add(r, 6, T0 + 6 * PERIOD, NULL);
    s = take(r);
    assert_int_equal(seal(r, &t), 0);
    assert_memory_equal(sealed_under(&t), k4, TR_KEY_NAME_BYTES);
    assert_string_equal(moved(r, &s), "sealed+1");
    tr_ring_free(r);
}

/* A jump past a session's max age: the renewal is not sealed and the
 * ticket, however young, is refused as expired (max age + skew counts
 * from the original full handshake, to the second). */
static void test_forward_past_max_age(void **st)
{
    int64_t c = MS(T0);
    tr_ring *r = ring_at(&c);
    struct tk t;
    struct opened o;
    struct snap s;
    uint32_t life = 0;
    (void)st;

    add(r, 1, T0 - PERIOD, NULL);
    assert_int_equal(tr_ring_set_max_age(r, 5000), 0);
    assert_int_equal(seal(r, &t), 0);
    /* Resumed and renewed every 900 s; at T0 + 4500 only 500 s of the
     * session are left to advertise. */
    for (int i = 1; i <= 5; i++) {
        c = MS(T0 + 900 * i);
        assert_int_equal(open_t(r, &t, &o), 0);
        assert_int_equal(o.auth, T0);
        assert_int_equal(seal_auth(r, o.auth, &t, &life), 0);
    }
    assert_int_equal(life, 500);

    c = MS(T0 + 5000 + SKEW);
    assert_int_equal(open_t(r, &t, NULL), 0);
    c = MS(T0 + 5000 + SKEW + 1);
    s = take(r);
    assert_int_equal(open_t(r, &t, &o), TR_E_TICKET_EXPIRED);
    assert_int_equal(seal_auth(r, T0, &t, &life), TR_E_TICKET_EXPIRED);
    assert_string_equal(moved(r, &s), "refused_expired+1");
    tr_ring_free(r);
}

/* ---- two nodes, their clocks apart ----------------------------------------- */

static void two_nodes(int64_t *ca, int64_t *cb, tr_ring **a, tr_ring **b, uint8_t k1[16],
                      uint8_t k2[16])
{
    *a = ring_at(ca);
    *b = ring_at(cb);
    add(*a, 1, T0 - PERIOD, k1);
    add(*a, 2, T0 + PERIOD, k2);
    add(*b, 1, T0 - PERIOD, NULL);
    add(*b, 2, T0 + PERIOD, NULL);
}

/* Issue and age checks between nodes apart by the skew (accepted, to the
 * millisecond) and by more (from the future; or expired before the
 * ticket's lifetime is over). */
static void test_skew_time_checks(void **st)
{
    int64_t ca = MS(T0) + 500, cb;
    uint8_t k1[16], k2[16];
    tr_ring *a, *b;
    struct tk t;
    struct opened o;
    struct snap s;
    (void)st;

    two_nodes(&ca, &cb, &a, &b, k1, k2);

    /* b ahead of a. */
    cb = ca + MS(SKEW);
    assert_int_equal(seal(b, &t), 0);
    assert_int_equal(open_t(a, &t, &o), 0);
    assert_int_equal(o.age_ms, 0);
    cb = ca + MS(SKEW) + 1;
    assert_int_equal(seal(b, &t), 0);
    s = take(a);
    assert_int_equal(open_t(a, &t, NULL), TR_E_TICKET_FUTURE);
    assert_string_equal(moved(a, &s), "refused_future+1");

    /* b behind a. */
    assert_int_equal(seal(a, &t), 0);
    cb = ca - MS(SKEW);
    assert_int_equal(open_t(b, &t, NULL), 0);
    cb = ca - MS(SKEW) - 1;
    s = take(b);
    assert_int_equal(open_t(b, &t, NULL), TR_E_TICKET_FUTURE);
    assert_string_equal(moved(b, &s), "refused_future+1");

    /* A ticket of a's, read by b ahead by s: its whole lifetime holds. */
    cb = ca + MS(LIFE) + MS(SKEW);
    assert_int_equal(open_t(b, &t, &o), 0);
    assert_int_equal(o.age_ms, LIMIT_MS);
    cb += 1;
    assert_int_equal(open_t(b, &t, NULL), TR_E_TICKET_EXPIRED);
    /* b ahead by s + 1 s: 999 ms before the end of its lifetime by a's
     * clock, b finds it expired. */
    cb = ca + MS(LIFE) - 999 + MS(SKEW + 1);
    s = take(b);
    assert_int_equal(open_t(b, &t, NULL), TR_E_TICKET_EXPIRED);
    assert_string_equal(moved(b, &s), "refused_expired+1");
    tr_ring_free(a);
    tr_ring_free(b);
}

/* Activation and retirement between nodes apart by the skew: the node
 * ahead seals with the next key first and the node behind opens that
 * ticket with the key it holds pending (not renewed); the node ahead
 * renews the other's tickets under the old key. The last ticket under the
 * old key is accepted for exactly lifetime + skew on any node's clock and
 * expires before its key retires there. */
static void test_skew_activation_and_retirement(void **st)
{
    int64_t ca = MS(T0 + PERIOD - SKEW), cb = MS(T0 + PERIOD);
    uint8_t k1[16], k2[16];
    tr_ring *a, *b;
    struct tk ta, tb;
    struct opened o;
    struct snap s;
    (void)st;

    two_nodes(&ca, &cb, &a, &b, k1, k2);
    assert_int_equal(seal(b, &tb), 0);
    assert_memory_equal(sealed_under(&tb), k2, TR_KEY_NAME_BYTES);
    assert_int_equal(role_of(a, k2), TR_KEY_PENDING);
    assert_int_equal(open_t(a, &tb, &o), 0);
    assert_int_equal(o.flags, 0);
    assert_int_equal(seal(a, &ta), 0);
    assert_memory_equal(sealed_under(&ta), k1, TR_KEY_NAME_BYTES);
    assert_int_equal(open_t(b, &ta, &o), 0);
    assert_int_equal(o.flags, TR_TICKET_RENEW);

    /* a's last ticket under k1. */
    ca = MS(T0 + PERIOD) - 1;
    assert_int_equal(seal(a, &ta), 0);
    assert_memory_equal(sealed_under(&ta), k1, TR_KEY_NAME_BYTES);
    cb = MS(T0 + PERIOD + LIFE + SKEW) - 1;
    assert_int_equal(open_t(b, &ta, NULL), 0);
    assert_int_equal(role_of(b, k1), TR_KEY_DECRYPT);
    cb += 1;
    s = take(b);
    assert_int_equal(open_t(b, &ta, NULL), TR_E_TICKET_EXPIRED);
    assert_int_equal(role_of(b, k1), TR_KEY_DECRYPT);
    cb = MS(T0 + PERIOD + LIFE + SKEW + 1);
    assert_int_equal(role_of(b, k1), TR_KEY_RETIRED);
    assert_int_equal(open_t(b, &ta, NULL), TR_E_TICKET_UNKNOWN_KEY);
    assert_string_equal(moved(b, &s), "refused_unknown_key+1 refused_expired+1");
    tr_ring_free(a);
    tr_ring_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_back_ticket_future),
        cmocka_unit_test(test_back_key_roles),
        cmocka_unit_test(test_back_removed_key),
        cmocka_unit_test(test_back_key_files),
        cmocka_unit_test(test_back_early_data),
        cmocka_unit_test(test_forward_past_rotations),
        cmocka_unit_test(test_forward_schedule_runs_out),
        cmocka_unit_test(test_forward_past_max_age),
        cmocka_unit_test(test_skew_time_checks),
        cmocka_unit_test(test_skew_activation_and_retirement),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
