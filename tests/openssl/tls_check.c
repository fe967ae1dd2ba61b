#include "tls_check.h"

#include <stdio.h>
#include <string.h>

static void server_done(SSL *ssl, void *arg)
{
    struct tc_conn *c = arg;
    const unsigned char *p = NULL;
    unsigned int n = 0;

    c->origin[0] = '\0';
    c->origin_rc = tr_openssl_ticket_origin(ssl, c->origin, sizeof(c->origin));
    if (c->origin_rc == 0) {
        char small[80];
        c->origin_small_rc = tr_openssl_ticket_origin(ssl, small, strlen(c->origin));
    }
    SSL_get0_alpn_selected(ssl, &p, &n);
    snprintf(c->alpn_selected, sizeof(c->alpn_selected), "%.*s", (int)n,
             p != NULL ? (const char *)p : "");
    c->group = SSL_get_negotiated_group(ssl);
}

static void count_client_hellos(int write_p, int version, int content_type, const void *buf,
                                size_t len, SSL *ssl, void *arg)
{
    (void)version, (void)ssl;
    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len >= 1 &&
        ((const uint8_t *)buf)[0] == SSL3_MT_CLIENT_HELLO)
        ((struct tc_conn *)arg)->client_hellos++;
}

static void server_setup(SSL *ssl, void *arg)
{
    SSL_set_msg_callback(ssl, count_client_hellos);
    SSL_set_msg_callback_arg(ssl, arg);
}

void tc_connect_ctx(SSL_CTX *server, SSL_CTX *client, const char *sni, const char *alpn,
                    int version, SSL_SESSION *session, struct tc_conn *out)
{
    struct tu_tls_opts o = {.sni = sni, .alpn_csv = alpn, .version = version,
                            .session = session, .server_setup = server_setup,
                            .server_done = server_done, .arg = out};
    memset(out, 0, sizeof(*out));
    out->sni = sni;
    out->alpn = alpn;
    out->version = version;
    out->origin_rc = 1;
    assert_int_equal(tu_tls_connect_opts(server, client, &o, &out->r), 0);
    assert_true(out->r.ok);
    assert_non_null(out->r.session);
    assert_int_equal(out->r.version, version);
}

void tc_connect(struct tu_cluster *c, size_t i, const char *sni, const char *alpn,
                int version, SSL_SESSION *session, struct tc_conn *out)
{
    assert_true(i < c->n);
    tu_cluster_mark(c);
    tc_connect_ctx(c->node[i].ctx, c->client, sni, alpn, version, session, out);
}

void tc_conn_free(struct tc_conn *conn)
{
    SSL_SESSION_free(conn->r.session);
    conn->r.session = NULL;
}

static char *slot(void)
{
    static char bufs[8][256];
    static unsigned next;
    return bufs[next++ % 8];
}

const char *tc_full(int version, const char *refusal)
{
    char *b = slot();
    int tickets = version == TLS1_3_VERSION ? 2 : 1;
    if (refusal != NULL)
        snprintf(b, 256, "sealed+%d refused_%s+1 handshakes_full+1", tickets, refusal);
    else
        snprintf(b, 256, "sealed+%d handshakes_full+1", tickets);
    return b;
}

const char *tc_cat(const char *a, const char *b)
{
    static char bufs[4][512];
    static unsigned next;
    char *out = bufs[next++ % 4];

    snprintf(out, sizeof bufs[0], "%s %s", a, b);
    return out;
}

const char *tc_resumed(int version, int cross_node, int old_key)
{
    char *b = slot();
    int renew = version == TLS1_3_VERSION || old_key;
    snprintf(b, 256, "%sopened+1%s handshakes_resumed+1%s%s", renew ? "sealed+1 " : "",
             old_key ? " opened_renew+1" : "", cross_node ? " resumed_cross_node+1" : "",
             renew ? " tickets_renewed+1" : "");
    return b;
}

void tc_assert_refusal_metric(tr_ring *ring, const char *refusal)
{
    char text[8192], line[128], field[64];
    size_t len = 0;
    tr_stats st;

    memset(&st, 0, sizeof(st));
    st.size = sizeof(st);
    assert_int_equal(tr_ring_stats(ring, &st), 0);
    snprintf(field, sizeof(field), "refused_%s", refusal);
    snprintf(line, sizeof(line), "\nticketring_tickets_refused_total{reason=\"%s\"} %llu\n",
             refusal, (unsigned long long)tu_stats_get(&st, field));
    assert_int_equal(tr_ring_metrics(ring, text, sizeof(text), &len), 0);
    if (strstr(text, line) == NULL)
        fail_msg("metrics lack \"%s\":\n%s", line + 1, text);
}

void tc_expect_refused(struct tu_cluster *c, size_t i, const struct tc_conn *conn,
                       const char *refusal)
{
    struct tc_conn again;
    SSL_SESSION *dup;

    assert_false(conn->r.resumed);
    assert_int_equal(conn->r.tickets, conn->version == TLS1_3_VERSION ? 2 : 1);
    assert_string_equal(tu_cluster_moved(c, i), tc_full(conn->version, refusal));
    assert_int_equal(conn->origin_rc, TR_E_INVAL);
    tc_assert_refusal_metric(c->node[i].ring, refusal);

    dup = SSL_SESSION_dup(conn->r.session);
    assert_non_null(dup);
    tc_connect(c, i, conn->sni, conn->alpn, conn->version, dup, &again);
    assert_true(again.r.resumed);
    assert_string_equal(tu_cluster_moved(c, i), tc_resumed(conn->version, 0, 0));
    assert_int_equal(again.origin_rc, 0);
    assert_string_equal(again.origin, c->node[i].id);
    tc_conn_free(&again);
    SSL_SESSION_free(dup);
}

void tc_ticket_name(SSL_SESSION *s, uint8_t name[TR_KEY_NAME_BYTES])
{
    const unsigned char *t = NULL;
    size_t len = 0;
    SSL_SESSION_get0_ticket(s, &t, &len);
    assert_true(len > TR_KEY_NAME_BYTES);
    memcpy(name, t, TR_KEY_NAME_BYTES);
}

void tc_key_name(tr_ring *ring, uint32_t index, uint8_t name[TR_KEY_NAME_BYTES])
{
    assert_int_equal(tr_ring_key_info(ring, index, name, NULL, NULL), 0);
}
