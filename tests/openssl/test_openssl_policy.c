/* The ring's policy on OpenSSL tickets, driven by fake clocks: key rotation
 * and retirement, lifetime, max age across renewals, clocks running ahead,
 * SNI and ALPN binding. Every refusal must be a full handshake counted under
 * its own reason, with fresh tickets that resume. */
#include "tls_check.h"

#include <stdlib.h>
#include <string.h>

#define PERIOD 3600 /* rotation period of the two-key files */
#define S(t) ((int64_t)(t) * 1000)

struct fx {
    struct tu_cluster c;
};

static int setup(void **st)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    *st = f;
    return 0;
}

static int teardown(void **st)
{
    struct fx *f = *st;
    tu_cluster_free(&f->c);
    free(f);
    return 0;
}

/* Three nodes on one key at T0 - 10, clocks at T0, ALPN h2 then http/1.1. */
static struct tu_cluster *one_key(struct fx *f, const struct tu_node_policy *pol)
{
    static const int64_t keys[] = {T0 - 10};
    assert_int_equal(tu_cluster_init(&f->c, 3, keys, 1, S(T0), pol, "h2,http/1.1"), 0);
    return &f->c;
}

static SSL_SESSION *dup_of(const struct tc_conn *c)
{
    SSL_SESSION *s = SSL_SESSION_dup(c->r.session);
    assert_non_null(s);
    return s;
}

/* Resume a copy of `from`'s session on node i with the same SNI and ALPN. */
static void resume_copy(struct tu_cluster *c, size_t i, const struct tc_conn *from,
                        struct tc_conn *out)
{
    SSL_SESSION *s = dup_of(from);
    tc_connect(c, i, from->sni, from->alpn, from->version, s, out);
    SSL_SESSION_free(s);
}

/* ---- Rotation ------------------------------------------------------------ */

static void rotation(struct fx *f, int v)
{
    static const int64_t keys[] = {T0, T0 + PERIOD};
    const struct tu_node_policy pol = {.lifetime = 7200, .skew = 60, .max_age = 86400};
    struct tu_cluster *c = &f->c;
    struct tc_conn a, r[3], again;
    uint8_t k0[16], k1[16], name[16];

    assert_int_equal(tu_cluster_init(c, 3, keys, 2, S(T0 + 1), &pol, "h2,http/1.1"), 0);
    tc_key_name(c->node[0].ring, 0, k0);
    tc_key_name(c->node[0].ring, 1, k1);

    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    tc_ticket_name(a.r.session, name);
    assert_memory_equal(name, k0, 16);

    /* The second key encrypts now; the first still decrypts. */
    tu_nodes_set_clock(c->node, c->n, S(T0 + PERIOD + 10));
    for (size_t i = 0; i < c->n; i++) {
        int32_t role = -1;
        assert_int_equal(tr_ring_encrypt_key_name(c->node[i].ring, name), 0);
        assert_memory_equal(name, k1, 16);
        assert_int_equal(tr_ring_key_info(c->node[i].ring, 0, NULL, NULL, &role), 0);
        assert_int_equal(role, TR_KEY_DECRYPT);
    }
    /* Every node resumes the old ticket and renews it under the new key,
     * in TLS 1.2 as well. */
    for (size_t i = 0; i < c->n; i++) {
        resume_copy(c, i, &a, &r[i]);
        assert_true(r[i].r.resumed);
        assert_string_equal(r[i].origin, "node-a");
        assert_int_equal(r[i].r.tickets, 1);
        assert_string_equal(tu_cluster_moved(c, i), tc_resumed(v, i != 0, 1));
        tc_ticket_name(r[i].r.session, name);
        assert_memory_equal(name, k1, 16);
    }
    /* The renewed ticket resumes too, under the current key (no TLS 1.2
     * renewal now), and carries its renewing node as origin. */
    tc_connect(c, 0, "a.example", "h2", v, r[2].r.session, &again);
    assert_true(again.r.resumed);
    assert_string_equal(again.origin, "node-c");
    assert_int_equal(again.r.tickets, v == TLS1_3_VERSION ? 1 : 0);
    assert_string_equal(tu_cluster_moved(c, 0), tc_resumed(v, 1, 0));

    tc_conn_free(&a);
    for (size_t i = 0; i < 3; i++)
        tc_conn_free(&r[i]);
    tc_conn_free(&again);
}

static void tls13_rotation(void **st)
{
    rotation(*st, TLS1_3_VERSION);
}

static void tls12_rotation(void **st)
{
    rotation(*st, TLS1_2_VERSION);
}

static void retirement(struct fx *f, int v)
{
    static const int64_t keys[] = {T0, T0 + PERIOD};
    const struct tu_node_policy pol = {.lifetime = 7200, .skew = 60, .max_age = 86400};
    const int64_t retire = T0 + PERIOD + 7200 + 60; /* next activation + lifetime + skew */
    struct tu_cluster *c = &f->c;
    struct tc_conn a, r;
    int32_t role = -1;

    assert_int_equal(tu_cluster_init(c, 3, keys, 2, S(T0 + 1), &pol, "h2,http/1.1"), 0);
    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);

    tu_nodes_set_clock(c->node, c->n, S(retire));
    assert_int_equal(tr_ring_key_info(c->node[1].ring, 0, NULL, NULL, &role), 0);
    assert_int_equal(role, TR_KEY_DECRYPT);
    tu_nodes_set_clock(c->node, c->n, S(retire + 1));
    assert_int_equal(tr_ring_key_info(c->node[1].ring, 0, NULL, NULL, &role), 0);
    assert_int_equal(role, TR_KEY_RETIRED);

    /* A retired key counts as unknown (not as expired) on every node. */
    for (size_t i = 0; i < c->n; i++) {
        resume_copy(c, i, &a, &r);
        tc_expect_refused(c, i, &r, "unknown_key");
        tc_conn_free(&r);
    }
    tc_conn_free(&a);
}

static void tls13_retired_key(void **st)
{
    retirement(*st, TLS1_3_VERSION);
}

static void tls12_retired_key(void **st)
{
    retirement(*st, TLS1_2_VERSION);
}

/* ---- Lifetime and max age ------------------------------------------------- */

static void expiry(struct fx *f, int v)
{
    const struct tu_node_policy pol = {.lifetime = 600, .skew = 60, .max_age = 86400};
    struct tu_cluster *c = one_key(f, &pol);
    struct tc_conn a, ok, late;

    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    /* The hint the client gets is the ring's lifetime. */
    assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(a.r.session), 600);

    tu_nodes_set_clock(c->node, c->n, S(T0 + 600 + 60)); /* lifetime + skew: still fine */
    resume_copy(c, 1, &a, &ok);
    assert_true(ok.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(v, 1, 0));

    tu_nodes_set_clock(c->node, c->n, S(T0 + 600 + 60) + 1);
    resume_copy(c, 2, &a, &late);
    tc_expect_refused(c, 2, &late, "expired");

    tc_conn_free(&a);
    tc_conn_free(&ok);
    tc_conn_free(&late);
}

static void tls13_expired(void **st)
{
    expiry(*st, TLS1_3_VERSION);
}

static void tls12_expired(void **st)
{
    expiry(*st, TLS1_2_VERSION);
}

static void max_age_below_lifetime(struct fx *f, int v)
{
    const struct tu_node_policy pol = {.lifetime = 600, .skew = 60, .max_age = 300};
    struct tu_cluster *c = one_key(f, &pol);
    struct tc_conn a, ok, late;

    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    /* Never advertise more than the session has left. */
    assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(a.r.session), 300);
    tu_nodes_set_clock(c->node, c->n, S(T0 + 300 + 60));
    resume_copy(c, 1, &a, &ok);
    assert_true(ok.r.resumed);
    tu_nodes_set_clock(c->node, c->n, S(T0 + 300 + 61));
    resume_copy(c, 2, &a, &late);
    tc_expect_refused(c, 2, &late, "expired");
    tc_conn_free(&a);
    tc_conn_free(&ok);
    tc_conn_free(&late);
}

static void tls13_max_age(void **st)
{
    max_age_below_lifetime(*st, TLS1_3_VERSION);
}

static void tls12_max_age(void **st)
{
    max_age_below_lifetime(*st, TLS1_2_VERSION);
}

/* TLS 1.3 renewals on B at T0 + 500 and on C at T0 + 900 of a session
 * authenticated on A at T0, under lifetime 600, skew 60, max age 1000;
 * r2 holds the ticket C issued. */
static void renewal_chain(struct fx *f, struct tc_conn *a, struct tc_conn *r1,
                          struct tc_conn *r2)
{
    const struct tu_node_policy pol = {.lifetime = 600, .skew = 60, .max_age = 1000};
    const int v = TLS1_3_VERSION;
    struct tu_cluster *c = one_key(f, &pol);

    tc_connect(c, 0, "a.example", "h2", v, NULL, a);
    assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(a->r.session), 600);

    /* Each renewal resets OpenSSL's session time; the original handshake's
     * time travels on, and the hint shrinks to what is left of max age. */
    tu_nodes_set_clock(c->node, c->n, S(T0 + 500));
    tc_connect(c, 1, "a.example", "h2", v, a->r.session, r1);
    assert_true(r1->r.resumed);
    assert_int_equal(r1->r.tickets, 1);
    assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(r1->r.session), 500);

    tu_nodes_set_clock(c->node, c->n, S(T0 + 900));
    tc_connect(c, 2, "a.example", "h2", v, r1->r.session, r2);
    assert_true(r2->r.resumed);
    assert_int_equal(r2->r.tickets, 1);
    assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(r2->r.session), 100);
}

static void tls13_max_age_survives_renewals(void **st)
{
    struct fx *f = *st;
    struct tc_conn a, r1, r2, ok, late;

    renewal_chain(f, &a, &r1, &r2);
    /* Within max age + skew the renewed ticket resumes ... */
    tu_nodes_set_clock(f->c.node, f->c.n, S(T0 + 1000 + 60));
    resume_copy(&f->c, 0, &r2, &ok);
    assert_true(ok.r.resumed);
    /* ... one second later it is refused, though only 161 s old. */
    tu_nodes_set_clock(f->c.node, f->c.n, S(T0 + 1000 + 61));
    resume_copy(&f->c, 1, &r2, &late);
    tc_expect_refused(&f->c, 1, &late, "expired");

    tc_conn_free(&a);
    tc_conn_free(&r1);
    tc_conn_free(&r2);
    tc_conn_free(&ok);
    tc_conn_free(&late);
}

static void tls13_max_age_reached_renews_nothing(void **st)
{
    struct fx *f = *st;
    struct tc_conn a, r1, r2, last;

    renewal_chain(f, &a, &r1, &r2);
    /* Max age reached (within skew): resumed, but no time is left to issue
     * a ticket for, so none is sent and no renewal is counted. */
    tu_nodes_set_clock(f->c.node, f->c.n, S(T0 + 1000));
    resume_copy(&f->c, 0, &r2, &last);
    assert_true(last.r.resumed);
    assert_int_equal(last.r.tickets, 0);
    assert_string_equal(tu_cluster_moved(&f->c, 0), "opened+1 handshakes_resumed+1 "
                                                    "resumed_cross_node+1");
    tc_conn_free(&a);
    tc_conn_free(&r1);
    tc_conn_free(&r2);
    tc_conn_free(&last);
}

/* ---- No key to seal with -------------------------------------------------- */

static void no_encrypt_key(struct fx *f, int v)
{
    static const int64_t keys[] = {T0 + 100}; /* distributed, not yet active */
    struct tu_cluster *c = &f->c;
    struct tc_conn a, b, r;

    assert_int_equal(tu_cluster_init(c, 2, keys, 1, S(T0), NULL, "h2,http/1.1"), 0);
    /* The handshake goes on without a ticket (a TLS 1.2 server that agreed
     * to send one sends it empty). */
    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    assert_false(a.r.resumed);
    assert_false(SSL_SESSION_has_ticket(a.r.session));
    if (v == TLS1_3_VERSION) {
        assert_int_equal(a.r.tickets, 0);
        assert_string_equal(tu_cluster_moved(c, 0), "seal_no_key+2 handshakes_full+1");
    } else {
        assert_string_equal(tu_cluster_moved(c, 0), "seal_no_key+1 handshakes_full+1");
    }

    /* Once the key activates, tickets flow and resume on the other node. */
    tu_nodes_set_clock(c->node, c->n, S(T0 + 100));
    tc_connect(c, 0, "a.example", "h2", v, NULL, &b);
    assert_true(SSL_SESSION_has_ticket(b.r.session));
    assert_string_equal(tu_cluster_moved(c, 0), tc_full(v, NULL));
    tc_connect(c, 1, "a.example", "h2", v, b.r.session, &r);
    assert_true(r.r.resumed);
    tc_conn_free(&a);
    tc_conn_free(&b);
    tc_conn_free(&r);
}

static void tls13_no_encrypt_key(void **st)
{
    no_encrypt_key(*st, TLS1_3_VERSION);
}

static void tls12_no_encrypt_key(void **st)
{
    no_encrypt_key(*st, TLS1_2_VERSION);
}

static void tls13_exhausted_stop_renews_nothing(void **st)
{
    struct fx *f = *st;
    const int v = TLS1_3_VERSION;
    struct tu_cluster *c = one_key(f, NULL);
    struct tc_conn a, r;

    for (size_t i = 0; i < c->n; i++) {
        assert_int_equal(tr_ring_set_rotation_period(c->node[i].ring, 600), 0);
        assert_int_equal(tr_ring_set_exhausted_policy(c->node[i].ring, TR_EXHAUSTED_STOP), 0);
    }
    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    /* The schedule runs out (key active since T0 - 10, period 600): tickets
     * still open, but no new one is sealed, so none is counted renewed. */
    tu_nodes_set_clock(c->node, c->n, S(T0 + 600));
    resume_copy(c, 1, &a, &r);
    assert_true(r.r.resumed);
    assert_int_equal(r.r.tickets, 0);
    assert_string_equal(tu_cluster_moved(c, 1), "seal_no_key+1 seal_overdue+1 opened+1 "
                                                "handshakes_resumed+1 resumed_cross_node+1");
    tc_conn_free(&a);
    tc_conn_free(&r);
}

/* ---- Clocks ahead ------------------------------------------------------------ */

static void future(struct fx *f, int v)
{
    const struct tu_node_policy pol = {.lifetime = 600, .skew = 60, .max_age = 86400};
    struct tu_cluster *c = one_key(f, &pol);
    struct tc_conn near, far, r1, r2;

    /* A's clock runs exactly `skew` ahead: tolerated. */
    c->node[0].clock_ms = S(T0 + 60);
    tc_connect(c, 0, "a.example", "h2", v, NULL, &near);
    resume_copy(c, 1, &near, &r1);
    assert_true(r1.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(v, 1, 0));

    /* One millisecond more: the ticket comes from the future. */
    c->node[0].clock_ms = S(T0 + 60) + 1;
    tc_connect(c, 0, "a.example", "h2", v, NULL, &far);
    resume_copy(c, 1, &far, &r2);
    tc_expect_refused(c, 1, &r2, "future");

    tc_conn_free(&near);
    tc_conn_free(&far);
    tc_conn_free(&r1);
    tc_conn_free(&r2);
}

static void tls13_future(void **st)
{
    future(*st, TLS1_3_VERSION);
}

static void tls12_future(void **st)
{
    future(*st, TLS1_2_VERSION);
}

/* ---- Binding ----------------------------------------------------------------- */

static void sni(struct fx *f, int v)
{
    struct tu_cluster *c = one_key(f, NULL);
    struct tc_conn a, r, none;
    SSL_SESSION *s;

    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);

    s = dup_of(&a);
    tc_connect(c, 1, "b.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 1, &r, "sni");
    tc_conn_free(&r);

    /* Host names compare without regard to case. */
    s = dup_of(&a);
    tc_connect(c, 1, "A.EXAMPLE", "h2", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(v, 1, 0));
    tc_conn_free(&r);

    /* No SNI at all is another name. */
    s = dup_of(&a);
    tc_connect(c, 2, NULL, "h2", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 2, &r, "sni");
    tc_conn_free(&r);

    /* ... both ways: a ticket issued without SNI is not for a.example. */
    tc_connect(c, 0, NULL, "h2", v, NULL, &none);
    s = dup_of(&none);
    tc_connect(c, 1, "a.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 1, &r, "sni");
    tc_conn_free(&r);

    /* Binding off on C: any name resumes. */
    assert_int_equal(tr_ring_set_bind_sni(c->node[2].ring, 0), 0);
    s = dup_of(&a);
    tc_connect(c, 2, "b.example", "h2", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 2), tc_resumed(v, 1, 0));
    tc_conn_free(&r);

    tc_conn_free(&a);
    tc_conn_free(&none);
}

static void tls13_sni(void **st)
{
    sni(*st, TLS1_3_VERSION);
}

static void tls12_sni(void **st)
{
    sni(*st, TLS1_2_VERSION);
}

static void alpn(struct fx *f, int v)
{
    struct tu_cluster *c = one_key(f, NULL);
    struct tc_conn a, r, none;
    SSL_SESSION *s;

    tc_connect(c, 0, "a.example", "h2", v, NULL, &a);
    assert_string_equal(a.alpn_selected, "h2");

    s = dup_of(&a);
    tc_connect(c, 1, "a.example", "http/1.1", v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 1, &r, "alpn");
    tc_conn_free(&r);

    /* h2 among the protocols offered (not first) is enough. */
    s = dup_of(&a);
    tc_connect(c, 1, "a.example", "http/1.1,h2", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    assert_string_equal(r.alpn_selected, "h2");
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(v, 1, 0));
    tc_conn_free(&r);

    /* Offering nothing does not offer h2. */
    s = dup_of(&a);
    tc_connect(c, 2, "a.example", NULL, v, s, &r);
    SSL_SESSION_free(s);
    tc_expect_refused(c, 2, &r, "alpn");
    tc_conn_free(&r);

    /* A ticket issued without ALPN matches any offer. */
    tc_connect(c, 0, "a.example", NULL, v, NULL, &none);
    assert_string_equal(none.alpn_selected, "");
    s = dup_of(&none);
    tc_connect(c, 1, "a.example", "http/1.1", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 1), tc_resumed(v, 1, 0));
    tc_conn_free(&r);

    /* Binding off on C. */
    assert_int_equal(tr_ring_set_bind_alpn(c->node[2].ring, 0), 0);
    s = dup_of(&a);
    tc_connect(c, 2, "a.example", "http/1.1", v, s, &r);
    SSL_SESSION_free(s);
    assert_true(r.r.resumed);
    assert_string_equal(tu_cluster_moved(c, 2), tc_resumed(v, 1, 0));
    tc_conn_free(&r);

    tc_conn_free(&a);
    tc_conn_free(&none);
}

static void tls13_alpn(void **st)
{
    alpn(*st, TLS1_3_VERSION);
}

static void tls12_alpn(void **st)
{
    alpn(*st, TLS1_2_VERSION);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(tls13_rotation),  T(tls12_rotation),  T(tls13_retired_key), T(tls12_retired_key),
        T(tls13_expired),   T(tls12_expired),   T(tls13_max_age),     T(tls12_max_age),
        T(tls13_max_age_survives_renewals),     T(tls13_max_age_reached_renews_nothing),
        T(tls13_future),    T(tls12_future),
        T(tls13_sni),       T(tls12_sni),       T(tls13_alpn),        T(tls12_alpn),
        T(tls13_no_encrypt_key), T(tls12_no_encrypt_key), T(tls13_exhausted_stop_renews_nothing),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
