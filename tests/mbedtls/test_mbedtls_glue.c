/*
 * The mbedTLS glue in process: mbedTLS clients against server "nodes" that
 * each have their own ring and fake clock and load one key file. Every
 * case asserts the exact counters that moved on the node (tr_stats) and
 * the Prometheus line of the outcome.
 */
#include <stdlib.h>
#include <string.h>

#include <mbedtls/version.h>

#include "glue.h"
#include "mbed_util.h"

#define FULL "sealed+1 handshakes_full+1"
#define RESUMED "opened+1 handshakes_resumed+1"
#define RESUMED_X "opened+1 handshakes_resumed+1 resumed_cross_node+1"
#define REFUSED(r) "sealed+1 refused_" r "+1 handshakes_full+1"

#define EXT_SNI 0
#define EXT_ALPN 16
#define EXT_TICKET 35

static struct tm_identity ident;

static int group_setup(void **state)
{
    tm_identity_init(&ident);
    return 0;
}

static int group_teardown(void **state)
{
    tm_identity_free(&ident);
    return 0;
}

struct fx {
    char *keyfile;
    struct tm_node a, b;
};

static struct fx *fx_new(const int64_t *act, size_t n, const struct tm_policy *policy)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->keyfile = tm_keyfile_new(act, NULL, n);
    tm_node_init(&f->a, &ident, f->keyfile, "node-a", T0_MS, policy);
    tm_node_init(&f->b, &ident, f->keyfile, "node-b", T0_MS, policy);
    return f;
}

static void fx_free(struct fx *f)
{
    tm_node_free(&f->a);
    tm_node_free(&f->b);
    tm_keyfile_free(f->keyfile);
    free(f);
}

static void set_clocks(struct fx *f, int64_t ms)
{
    f->a.clock_ms = ms;
    f->b.clock_ms = ms;
}

/* A copy of a client session that can be changed (mbedTLS has no copy). */
static void session_copy(mbedtls_ssl_session *dst, const mbedtls_ssl_session *src)
{
    unsigned char buf[4096];
    size_t len = 0;
    mbedtls_ssl_session_init(dst);
    assert_int_equal(mbedtls_ssl_session_save(src, buf, sizeof(buf), &len), 0);
    assert_int_equal(mbedtls_ssl_session_load(dst, buf, len), 0);
}

static void assert_ticket_key(const struct tm_result *r, tr_ring *ring, uint32_t index)
{
    uint8_t name[TR_KEY_NAME_BYTES];
    assert_int_equal(tr_ring_key_info(ring, index, name, NULL, NULL), 0);
    assert_true(r->session.ticket_len > TR_TICKET_OVERHEAD);
    assert_int_equal(r->session.ticket[0], 1); /* generic format v1 */
    assert_memory_equal(r->session.ticket + 1, name, TR_KEY_NAME_BYTES);
}

/* A refusal's contract: a full handshake that completed, a fresh ticket
 * that then resumes on the same node with the same offer. */
static void expect_refused(struct tm_node *n, struct tm_opts o, const struct tm_result *r,
                           const char *reason)
{
    struct tm_result again;
    char want[128], line[128];

    assert_false(r->resumed);
    assert_true(r->sent_cert);
    assert_int_equal(r->origin_rc, TR_E_INVAL);
    snprintf(want, sizeof(want), REFUSED("%s"), reason);
    assert_string_equal(tm_moved(n), want);
    assert_true(r->session.ticket_len > TR_TICKET_OVERHEAD);
    snprintf(line, sizeof(line), "ticketring_tickets_refused_total{reason=\"%s\"} 1", reason);
    tm_assert_metric(n, line);

    o.session = &r->session;
    tm_connect_ok(n, &o, &again);
    assert_true(again.resumed);
    assert_false(again.sent_cert);
    assert_string_equal(tm_moved(n), RESUMED);
    assert_string_equal(again.origin, n->id);
    tm_result_free(&again);
}

/* ---- Cross-node resumption --------------------------------------------------- */

static void test_cross_node(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example", .alpn_csv = "h2,http/1.1"};
    struct tm_result full, r1, r2;
    uint16_t types[64];
    size_t n;
    char fa[TR_FINGERPRINT_HEX + 1], fb[TR_FINGERPRINT_HEX + 1];

    assert_int_equal(tr_ring_fingerprint(f->a.ring, fa, sizeof(fa)), 0);
    assert_int_equal(tr_ring_fingerprint(f->b.ring, fb, sizeof(fb)), 0);
    assert_string_equal(fa, fb);

    tm_connect_ok(&f->a, &o, &full);
    assert_false(full.resumed);
    assert_true(full.sent_cert);
    assert_string_equal(full.alpn, "h2");
    assert_string_equal(tm_moved(&f->a), FULL);
    assert_ticket_key(&full, f->a.ring, 0);
    assert_int_equal(full.session.ticket_lifetime, 7200);
    /* The mbedTLS client's order: SNI, then ALPN, then the ticket, so
     * mbedTLS itself knows both when it parses the ticket. */
    n = tm_hello_ext_order(full.hello, full.hello_len, types, 64);
    assert_true(tm_ext_index(types, n, EXT_SNI) >= 0);
    assert_true(tm_ext_index(types, n, EXT_SNI) < tm_ext_index(types, n, EXT_ALPN));
    assert_true(tm_ext_index(types, n, EXT_ALPN) < tm_ext_index(types, n, EXT_TICKET));

    o.session = &full.session;
    tm_mark(&f->a);
    tm_connect_ok(&f->b, &o, &r1);
    assert_true(r1.resumed);
    assert_false(r1.sent_cert);
    assert_string_equal(r1.alpn, "h2");
    assert_string_equal(tm_moved(&f->b), RESUMED_X);
    assert_string_equal(tm_moved(&f->a), "");
    assert_int_equal(r1.origin_rc, 0);
    assert_string_equal(r1.origin, "node-a");
    assert_int_equal(r1.origin_small_rc, TR_E_BUFFER_TOO_SMALL);
    /* mbedTLS 2.28 issues no ticket on a resumption: the client keeps its. */
    assert_int_equal(r1.session.ticket_len, full.session.ticket_len);
    assert_memory_equal(r1.session.ticket, full.session.ticket, full.session.ticket_len);

    tm_connect_ok(&f->a, &o, &r2);
    assert_true(r2.resumed);
    assert_string_equal(tm_moved(&f->a), RESUMED);
    assert_string_equal(r2.origin, "node-a");

    tm_assert_metric(&f->b, "ticketring_handshakes_total{type=\"resumed\"} 1");
    tm_assert_metric(&f->b, "ticketring_handshakes_total{type=\"full\"} 0");
    tm_assert_metric(&f->b, "ticketring_resumed_cross_node_total 1");
    tm_assert_metric(&f->b, "ticketring_tickets_accepted_total 1");
    tm_assert_metric(&f->a, "ticketring_tickets_issued_total 1");
    tm_assert_metric(&f->a, "ticketring_handshakes_total{type=\"full\"} 1");
    tm_assert_metric(&f->a, "ticketring_handshakes_total{type=\"resumed\"} 1");
    tm_assert_metric(&f->a, "ticketring_resumed_cross_node_total 0");

    tm_result_free(&full);
    tm_result_free(&r1);
    tm_result_free(&r2);
    fx_free(f);
}

/* ---- Rotation and retirement ------------------------------------------------- */

static void test_rotation_retirement(void **state)
{
    /* K1 encrypts from T0 - 60, K2 from T0 + 3600; lifetime 7200, skew 60. */
    int64_t act[] = {T0 - 60, T0 + 3600};
    struct fx *f = fx_new(act, 2, NULL);
    struct tm_opts o = {.sni = "a.example", .alpn_csv = "h2"};
    struct tm_result k1, k2, r, late;

    set_clocks(f, (int64_t)(T0 + 3599) * 1000);
    tm_connect_ok(&f->a, &o, &k1);
    assert_string_equal(tm_moved(&f->a), FULL);
    assert_ticket_key(&k1, f->a.ring, 0);

    /* K2 is active: K1's ticket still opens (counted as opened with an
     * older key), and a new ticket is sealed with K2. */
    set_clocks(f, (int64_t)(T0 + 3700) * 1000);
    o.session = &k1.session;
    tm_connect_ok(&f->b, &o, &r);
    assert_true(r.resumed);
    assert_string_equal(tm_moved(&f->b), "opened+1 opened_renew+1 handshakes_resumed+1 "
                                          "resumed_cross_node+1");
    tm_assert_metric(&f->b, "ticketring_tickets_accepted_old_key_total 1");
    /* Not renewed: mbedTLS 2.28 issues no ticket on a resumption. */
    assert_memory_equal(r.session.ticket, k1.session.ticket, k1.session.ticket_len);
    tm_result_free(&r);
    o.session = NULL;
    tm_connect_ok(&f->b, &o, &k2);
    assert_string_equal(tm_moved(&f->b), FULL);
    assert_ticket_key(&k2, f->b.ring, 1);

    /* The last second K1 is held (K2 active for lifetime + skew): its
     * ticket, older than that, has expired. */
    set_clocks(f, (int64_t)(T0 + 3600 + 7200 + 60) * 1000);
    o.session = &k1.session;
    tm_connect_ok(&f->a, &o, &r);
    expect_refused(&f->a, o, &r, "expired");
    tm_result_free(&r);

    /* One second later K1 is retired: its tickets are as unknown. K2's
     * ticket, 7161 s old, still resumes. */
    set_clocks(f, (int64_t)(T0 + 3600 + 7200 + 61) * 1000);
    tm_connect_ok(&f->b, &o, &r);
    expect_refused(&f->b, o, &r, "unknown_key");
    tm_result_free(&r);
    o.session = &k2.session;
    tm_connect_ok(&f->a, &o, &late);
    assert_true(late.resumed);
    assert_string_equal(tm_moved(&f->a), RESUMED_X);
    tm_result_free(&late);

    tm_result_free(&k1);
    tm_result_free(&k2);
    fx_free(f);
}

/* ---- Binding: SNI ------------------------------------------------------------- */

static void test_sni_mismatch(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example", .alpn_csv = "h2"};
    struct tm_result full, none, r;

    tm_connect_ok(&f->a, &o, &full);
    o.session = &full.session;
    o.sni = "b.example";
    tm_connect_ok(&f->b, &o, &r);
    expect_refused(&f->b, o, &r, "sni");
    tm_result_free(&r);

    /* Host names compare without regard to case. */
    o.sni = "A.Example";
    tm_connect_ok(&f->b, &o, &r);
    assert_true(r.resumed);
    assert_string_equal(tm_moved(&f->b), RESUMED_X);
    tm_result_free(&r);

    /* A ticket issued without SNI is bound to none. */
    o.session = NULL;
    o.sni = NULL;
    tm_connect_ok(&f->a, &o, &none);
    o.session = &none.session;
    o.sni = "a.example";
    tm_connect_ok(&f->a, &o, &r);
    assert_false(r.resumed);
    assert_string_equal(tm_moved(&f->a), REFUSED("sni"));
    tm_result_free(&r);
    o.sni = NULL;
    tm_connect_ok(&f->a, &o, &r);
    assert_true(r.resumed);
    assert_string_equal(tm_moved(&f->a), RESUMED);
    tm_assert_metric(&f->a, "ticketring_tickets_refused_total{reason=\"sni\"} 1");
    tm_result_free(&r);

    tm_result_free(&none);
    tm_result_free(&full);
    fx_free(f);
}

/* ---- Binding: ALPN (an mbedTLS client offers ALPN before the ticket) ------------- */

static void test_alpn_mismatch(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example", .alpn_csv = "h2,http/1.1"};
    struct tm_result h2, h11, bare, r;

    tm_connect_ok(&f->a, &o, &h2);
    assert_string_equal(h2.alpn, "h2");
    o.session = &h2.session;
    o.alpn_csv = "http/1.1";
    tm_connect_ok(&f->b, &o, &r);
    assert_string_equal(r.alpn, "http/1.1");
    expect_refused(&f->b, o, &r, "alpn");
    tm_result_free(&r);

    /* h2 offered again (second, but the server prefers it): resumed. */
    o.alpn_csv = "http/1.1,h2";
    tm_connect_ok(&f->b, &o, &r);
    assert_true(r.resumed);
    assert_string_equal(r.alpn, "h2");
    assert_string_equal(tm_moved(&f->b), RESUMED_X);
    tm_result_free(&r);

    /* The binding is to the protocol the server negotiates: a ticket for
     * http/1.1 offered with h2 too (which the server prefers) is refused. */
    o.session = NULL;
    o.alpn_csv = "http/1.1";
    tm_connect_ok(&f->a, &o, &h11);
    o.session = &h11.session;
    o.alpn_csv = "h2,http/1.1";
    tm_connect_ok(&f->a, &o, &r);
    assert_false(r.resumed);
    assert_string_equal(tm_moved(&f->a), REFUSED("alpn"));
    tm_result_free(&r);

    /* Without ALPN on either handshake it resumes; with ALPN now, not. */
    o.session = NULL;
    o.alpn_csv = NULL;
    tm_connect_ok(&f->a, &o, &bare);
    assert_string_equal(bare.alpn, "");
    o.session = &bare.session;
    tm_connect_ok(&f->a, &o, &r);
    assert_true(r.resumed);
    assert_string_equal(tm_moved(&f->a), RESUMED);
    tm_result_free(&r);
    o.alpn_csv = "h2";
    tm_connect_ok(&f->a, &o, &r);
    assert_false(r.resumed);
    assert_string_equal(tm_moved(&f->a), REFUSED("alpn"));
    tm_assert_metric(&f->a, "ticketring_tickets_refused_total{reason=\"alpn\"} 2");
    tm_result_free(&r);

    tm_result_free(&bare);
    tm_result_free(&h11);
    tm_result_free(&h2);
    fx_free(f);
}

/* ---- Time ------------------------------------------------------------------------ */

static void test_expired_and_future(void **state)
{
    int64_t act[] = {T0 - 3600};
    struct tm_policy pol = {.lifetime = 3600};
    struct fx *f = fx_new(act, 1, &pol);
    struct tm_opts o = {.sni = "a.example"};
    struct tm_result full, r;

    tm_connect_ok(&f->a, &o, &full);
    assert_int_equal(full.session.ticket_lifetime, 3600);
    o.session = &full.session;

    /* Age lifetime + skew: still accepted. */
    f->b.clock_ms = T0_MS + (3600 + 60) * 1000;
    tm_connect_ok(&f->b, &o, &r);
    assert_true(r.resumed);
    assert_string_equal(tm_moved(&f->b), RESUMED_X);
    tm_result_free(&r);

    /* One millisecond more: expired. */
    f->b.clock_ms = T0_MS + (3600 + 60) * 1000 + 1;
    tm_connect_ok(&f->b, &o, &r);
    expect_refused(&f->b, o, &r, "expired");
    tm_result_free(&r);

    /* A node whose clock lags by more than the skew sees it from the future. */
    f->b.clock_ms = T0_MS - 60 * 1000 - 1;
    tm_connect_ok(&f->b, &o, &r);
    expect_refused(&f->b, o, &r, "future");
    tm_result_free(&r);

    tm_result_free(&full);
    fx_free(f);
}

/* ---- Tampered, truncated, unknown ------------------------------------------------- */

static void try_changed(struct fx *f, const mbedtls_ssl_session *good, size_t offset,
                        size_t new_len, const char *reason)
{
    struct tm_opts o = {.sni = "a.example"};
    mbedtls_ssl_session bad;
    struct tm_result r;

    session_copy(&bad, good);
    if (new_len != 0)
        bad.ticket_len = new_len;
    else
        bad.ticket[offset] ^= 0x01;
    o.session = &bad;
    tm_connect_ok(&f->b, &o, &r);
    assert_false(r.resumed);
    assert_true(r.sent_cert);
    {
        char want[128];
        snprintf(want, sizeof(want), REFUSED("%s"), reason);
        assert_string_equal(tm_moved(&f->b), want);
    }
    tm_result_free(&r);
    mbedtls_ssl_session_free(&bad);
}

static void test_tampered(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example"};
    struct tm_result full;
    size_t len;

    tm_connect_ok(&f->a, &o, &full);
    len = full.session.ticket_len;
    try_changed(f, &full.session, len - 1, 0, "auth");       /* tag */
    try_changed(f, &full.session, 60, 0, "auth");            /* sealed times */
    try_changed(f, &full.session, len - 40, 0, "auth");      /* session */
    try_changed(f, &full.session, 20, 0, "auth");            /* salt (authenticated) */
    try_changed(f, &full.session, 0, 0, "malformed");        /* version */
    try_changed(f, &full.session, 0, TR_TICKET_OVERHEAD - 1, "malformed"); /* truncated */
    try_changed(f, &full.session, 1, 0, "unknown_key");      /* key name */
    tm_assert_metric(&f->b, "ticketring_tickets_refused_total{reason=\"auth\"} 4");
    tm_assert_metric(&f->b, "ticketring_tickets_refused_total{reason=\"malformed\"} 2");
    tm_assert_metric(&f->b, "ticketring_tickets_refused_total{reason=\"unknown_key\"} 1");
    tm_assert_metric(&f->b, "ticketring_tickets_accepted_total 0");

    /* The untouched ticket still resumes. */
    o.session = &full.session;
    {
        struct tm_result r;
        tm_connect_ok(&f->b, &o, &r);
        assert_true(r.resumed);
        assert_string_equal(tm_moved(&f->b), RESUMED_X);
        tm_result_free(&r);
    }
    tm_result_free(&full);
    fx_free(f);
}

static void test_unknown_key(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    char *other = tm_keyfile_new(act, NULL, 1);
    struct tm_node c;
    struct tm_opts o = {.sni = "a.example"};
    struct tm_result full, r;

    tm_node_init(&c, &ident, other, "node-c", T0_MS, NULL);
    tm_connect_ok(&f->a, &o, &full);
    o.session = &full.session;
    tm_connect_ok(&c, &o, &r);
    expect_refused(&c, o, &r, "unknown_key");
    tm_result_free(&r);
    tm_result_free(&full);
    tm_node_free(&c);
    tm_keyfile_free(other);
    fx_free(f);
}

/* A node on another mbedTLS build (another version or configuration)
 * cannot load this build's sessions: its tickets are refused as another
 * context before they count as opened. The build's session header is part
 * of the attachment's context; change it as another build would have it. */
static void test_other_mbedtls_build(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example", .alpn_csv = "h2"};
    struct tm_result full, r;

    assert_memory_equal(f->b.att->ctx, TRI_MBED_CTX_LABEL, sizeof(TRI_MBED_CTX_LABEL) - 1);
    /* 2.28.x: major 2, minor 28. */
    assert_int_equal(f->b.att->ctx[sizeof(TRI_MBED_CTX_LABEL) - 1], MBEDTLS_VERSION_MAJOR);
    f->b.att->ctx[sizeof(TRI_MBED_CTX_LABEL) + 1] ^= 0x01; /* patch level */
    tm_connect_ok(&f->a, &o, &full);
    o.session = &full.session;
    tm_connect_ok(&f->b, &o, &r);
    expect_refused(&f->b, o, &r, "context");
    tm_assert_metric(&f->b, "ticketring_tickets_accepted_total 1"); /* the fresh one only */
    tm_result_free(&r);
    tm_result_free(&full);
    fx_free(f);
}

/* ---- No key, misuse, duplicate SNI ----------------------------------------------- */

static void test_no_encrypt_key(void **state)
{
    int64_t act[] = {TR_ACTIVATION_PENDING};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example"};
    struct tm_result r;

    tm_connect_ok(&f->a, &o, &r);
    assert_false(r.resumed);
    assert_int_equal(r.session.ticket_len, 0); /* an empty NewSessionTicket */
    assert_string_equal(tm_moved(&f->a), "seal_no_key+1 handshakes_full+1");
    tm_assert_metric(&f->a, "ticketring_tickets_not_issued_total 1");
    tm_result_free(&r);
    fx_free(f);
}

/* A server that skips tr_mbedtls_handshake(): its ClientHello is unknown to
 * the glue, so its ticket is not opened and no ticket is issued; nothing is
 * counted and nothing breaks. */
static void test_handshake_not_through_glue(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example"};
    struct tm_result full, r;

    tm_connect_ok(&f->a, &o, &full);
    o.session = &full.session;
    o.bypass_glue = 1;
    tm_connect_ok(&f->b, &o, &r);
    assert_true(r.sent_cert);
    /* The empty NewSessionTicket leaves the client with its old ticket. */
    assert_int_equal(r.session.ticket_len, full.session.ticket_len);
    assert_memory_equal(r.session.ticket, full.session.ticket, full.session.ticket_len);
    assert_string_equal(tm_moved(&f->b), "");
    tm_assert_metric(&f->b, "ticketring_handshakes_total{type=\"full\"} 0");
    tm_assert_metric(&f->b, "ticketring_tickets_issued_total 0");
    tm_result_free(&r);
    tm_result_free(&full);
    fx_free(f);
}

/* Append an extension (type, body) to a ClientHello record, fixing the
 * record, handshake and extensions lengths. */
static void append_ext(uint8_t **buf, size_t *len, uint16_t type, const uint8_t *body,
                       size_t n)
{
    uint8_t *b = realloc(*buf, *len + 4 + n);
    size_t rec, hs, ext_at, ext, i;

    assert_non_null(b);
    b[*len] = (uint8_t)(type >> 8);
    b[*len + 1] = (uint8_t)type;
    b[*len + 2] = (uint8_t)(n >> 8);
    b[*len + 3] = (uint8_t)n;
    memcpy(b + *len + 4, body, n);
    rec = ((size_t)b[3] << 8 | b[4]) + 4 + n;
    b[3] = (uint8_t)(rec >> 8);
    b[4] = (uint8_t)rec;
    hs = rec - 4;
    b[6] = (uint8_t)(hs >> 16);
    b[7] = (uint8_t)(hs >> 8);
    b[8] = (uint8_t)hs;
    i = 5 + 4 + 2 + 32;
    i += 1 + b[i];
    i += 2 + ((size_t)b[i] << 8 | b[i + 1]);
    i += 1 + b[i];
    ext_at = i;
    ext = ((size_t)b[ext_at] << 8 | b[ext_at + 1]) + 4 + n;
    b[ext_at] = (uint8_t)(ext >> 8);
    b[ext_at + 1] = (uint8_t)ext;
    *buf = b;
    *len += 4 + n;
}

static void second_sni_b(uint8_t **buf, size_t *len)
{
    static const uint8_t body[] = {0, 12, 0, 0, 9, 'b', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'};
    append_ext(buf, len, EXT_SNI, body, sizeof(body));
}

static void second_sni_a(uint8_t **buf, size_t *len)
{
    static const uint8_t body[] = {0, 12, 0, 0, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'};
    append_ext(buf, len, EXT_SNI, body, sizeof(body));
}

static void unknown_ext(uint8_t **buf, size_t *len)
{
    static const uint8_t body[] = {1, 2, 3};
    append_ext(buf, len, 0xfafa, body, sizeof(body));
}

/* mbedTLS 2.28 does not refuse a repeated extension: with two server_name
 * extensions it calls the SNI callback for each, after the ticket here, so
 * the application may serve b.example on a session issued for a.example.
 * The glue refuses the ticket of such a ClientHello. (The rewritten
 * ClientHello makes the transcripts differ, so the handshake then fails;
 * the ticket's fate is what is checked.) */
static void test_duplicate_sni(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example"};
    struct tm_result full, r;

    tm_connect_ok(&f->a, &o, &full);
    o.session = &full.session;

    /* Control: another extension appended leaves the ticket accepted. */
    o.rewrite_hello = unknown_ext;
    tm_mark(&f->b);
    tm_connect(&f->b, &o, &r);
    assert_false(r.ok);
    assert_string_equal(tm_moved(&f->b), "opened+1");
    tm_result_free(&r);

    /* a.example then b.example, and b.example then a.example: whichever
     * name a check picked, one of the two would pass it. */
    o.rewrite_hello = second_sni_b;
    tm_mark(&f->b);
    tm_connect(&f->b, &o, &r);
    assert_false(r.ok);
    assert_string_equal(tm_moved(&f->b), "refused_sni+1");
    tm_result_free(&r);
    o.sni = "b.example";
    o.rewrite_hello = second_sni_a;
    tm_mark(&f->b);
    tm_connect(&f->b, &o, &r);
    assert_false(r.ok);
    assert_string_equal(tm_moved(&f->b), "refused_sni+1");
    tm_result_free(&r);
    tm_assert_metric(&f->b, "ticketring_tickets_refused_total{reason=\"sni\"} 2");
    tm_assert_metric(&f->b, "ticketring_tickets_accepted_total 1");
    tm_result_free(&full);
    fx_free(f);
}

/* The SNI callback's name is checked against the captured one: a name the
 * two parsers read apart leaves the connection with no SNI to bind. No
 * ClientHello reaching mbedTLS is known to do that (the count check above
 * already refuses two server_name extensions), so the check is driven
 * directly. */
static void test_sni_callback_disagrees(void **state)
{
    tr_mbedtls_conn c;
    const uint8_t *sni = NULL;
    size_t len = 0;

    memset(&c, 0, sizeof(c));
    c.cap = TRI_CAP_DONE;
    c.sni_ok = 1;
    memcpy(c.sni, "a.example", 9);
    c.sni_len = 9;
    tri_mbed_conn_sni_seen(&c, (const unsigned char *)"a.example", 9);
    assert_int_equal(tri_mbed_conn_sni(&c, &sni, &len), 1);
    assert_int_equal(len, 9);
    assert_memory_equal(sni, "a.example", 9);
    tri_mbed_conn_sni_seen(&c, (const unsigned char *)"a.exampl", 8);
    assert_int_equal(tri_mbed_conn_sni(&c, &sni, &len), 0);

    c.sni_ok = 1;
    tri_mbed_conn_sni_seen(&c, (const unsigned char *)"b.example", 9);
    assert_int_equal(tri_mbed_conn_sni(&c, &sni, &len), 0);

    /* No server_name extension: any name mbedTLS reports disagrees. */
    c.sni_ok = 1;
    c.sni_len = 0;
    assert_int_equal(tri_mbed_conn_sni(&c, &sni, &len), 1);
    assert_null(sni);
    tri_mbed_conn_sni_seen(&c, (const unsigned char *)"a.example", 9);
    assert_int_equal(tri_mbed_conn_sni(&c, &sni, &len), 0);

    /* Nothing captured: nothing to bind. */
    c.sni_ok = 1;
    c.cap = TRI_CAP_INVALID;
    assert_int_equal(tri_mbed_conn_sni(&c, &sni, &len), 0);
}

/* ---- API ----------------------------------------------------------------------------- */

struct sni_seen {
    char name[64];
    int calls;
    int result;
};

static int app_sni(void *arg, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
    struct sni_seen *s = arg;
    snprintf(s->name, sizeof(s->name), "%.*s", (int)len, (const char *)name);
    s->calls++;
    return s->result;
}

static void test_sni_callback_chain(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    struct tm_opts o = {.sni = "a.example"};
    struct sni_seen seen = {.result = 0};
    struct tm_result r;

    assert_int_equal(tr_mbedtls_set_sni_cb(NULL, app_sni, &seen), TR_E_INVAL);
    assert_int_equal(tr_mbedtls_set_sni_cb(f->a.att, app_sni, &seen), 0);
    tm_connect_ok(&f->a, &o, &r);
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.name, "a.example");
    tm_result_free(&r);

    /* The application's refusal fails the handshake, as without the glue. */
    seen.result = -1;
    tm_mark(&f->a);
    tm_connect(&f->a, &o, &r);
    assert_false(r.ok);
    assert_int_equal(seen.calls, 2);
    assert_string_equal(tm_moved(&f->a), "");
    tm_result_free(&r);

    /* Detached: the application's callback is the config's again, and no
     * ticket callbacks are left. */
    tr_mbedtls_detach(f->a.att);
    f->a.att = NULL;
    assert_ptr_equal(f->a.conf.f_sni, app_sni);
    assert_ptr_equal(f->a.conf.p_sni, &seen);
    assert_null(f->a.conf.f_ticket_parse);
    assert_null(f->a.conf.f_ticket_write);
    fx_free(f);
}

static int dummy_recv(void *ctx, unsigned char *buf, size_t len)
{
    return MBEDTLS_ERR_SSL_WANT_READ;
}

static int dummy_send(void *ctx, const unsigned char *buf, size_t len)
{
    return MBEDTLS_ERR_SSL_WANT_WRITE;
}

static void test_api_arguments(void **state)
{
    int64_t act[] = {T0 - 60};
    struct fx *f = fx_new(act, 1, NULL);
    mbedtls_ssl_config cli, dtls;
    mbedtls_ssl_context ssl;
    tr_mbedtls_attachment *att = (void *)1;
    tr_mbedtls_conn *conn = (void *)1;
    char long_id[66];
    char buf[8];

    mbedtls_ssl_config_init(&cli);
    mbedtls_ssl_config_init(&dtls);
    assert_int_equal(mbedtls_ssl_config_defaults(&cli, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    assert_int_equal(mbedtls_ssl_config_defaults(&dtls, MBEDTLS_SSL_IS_SERVER,
                                                 MBEDTLS_SSL_TRANSPORT_DATAGRAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    memset(long_id, 'x', 65);
    long_id[65] = '\0';
    assert_int_equal(tr_mbedtls_attach(&cli, f->a.ring, "c", &att), TR_E_INVAL);
    assert_null(att);
    assert_int_equal(tr_mbedtls_attach(&dtls, f->a.ring, "d", &att), TR_E_INVAL);
    assert_int_equal(tr_mbedtls_attach(&f->a.conf, NULL, "x", &att), TR_E_INVAL);
    assert_int_equal(tr_mbedtls_attach(&f->a.conf, f->a.ring, long_id, &att), TR_E_INVAL);
    assert_int_equal(tr_mbedtls_attach(&f->a.conf, f->a.ring, "x", NULL), TR_E_INVAL);
    assert_null(tr_mbedtls_ring(NULL));
    assert_ptr_equal(tr_mbedtls_ring(f->a.att), f->a.ring);

    assert_int_equal(tr_mbedtls_handshake(NULL), MBEDTLS_ERR_SSL_BAD_INPUT_DATA);
    assert_int_equal(tr_mbedtls_resumed(NULL), TR_E_INVAL);
    assert_int_equal(tr_mbedtls_ticket_origin(NULL, buf, sizeof(buf)), TR_E_INVAL);
    tr_mbedtls_conn_free(NULL);
    tr_mbedtls_detach(NULL);

    mbedtls_ssl_init(&ssl);
    assert_int_equal(mbedtls_ssl_setup(&ssl, &f->a.conf), 0);
    assert_int_equal(tr_mbedtls_conn_new(&conn, NULL, &ssl, NULL, NULL, dummy_recv, NULL),
                     TR_E_INVAL);
    assert_null(conn);
    assert_int_equal(tr_mbedtls_conn_new(&conn, f->a.att, &ssl, NULL, NULL, NULL, NULL),
                     TR_E_INVAL);
    assert_int_equal(
        tr_mbedtls_conn_new(&conn, f->a.att, &ssl, NULL, dummy_send, dummy_recv, NULL), 0);
    assert_int_equal(tr_mbedtls_handshake(conn), MBEDTLS_ERR_SSL_WANT_READ);
    assert_int_equal(tr_mbedtls_resumed(conn), 0);
    assert_int_equal(tr_mbedtls_ticket_origin(conn, buf, sizeof(buf)), TR_E_INVAL);
    /* The connection keeps the attachment alive past its detach. */
    tr_mbedtls_detach(f->a.att);
    f->a.att = NULL;
    assert_ptr_equal(conn->att->ring, f->a.ring);
    mbedtls_ssl_free(&ssl);
    tr_mbedtls_conn_free(conn);
    assert_string_equal(tm_moved(&f->a), "");

    mbedtls_ssl_config_free(&cli);
    mbedtls_ssl_config_free(&dtls);
    fx_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_node),
        cmocka_unit_test(test_rotation_retirement),
        cmocka_unit_test(test_sni_mismatch),
        cmocka_unit_test(test_alpn_mismatch),
        cmocka_unit_test(test_expired_and_future),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_other_mbedtls_build),
        cmocka_unit_test(test_no_encrypt_key),
        cmocka_unit_test(test_handshake_not_through_glue),
        cmocka_unit_test(test_duplicate_sni),
        cmocka_unit_test(test_sni_callback_disagrees),
        cmocka_unit_test(test_sni_callback_chain),
        cmocka_unit_test(test_api_arguments),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
