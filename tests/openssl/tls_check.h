/* cmocka checks shared by the glue tests: connect to a node of a cluster
 * and assert how the handshake went and which counters moved. */
#ifndef TICKETRING_TLS_CHECK_H
#define TICKETRING_TLS_CHECK_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define TU_TLS_WITH_RING 1
#include "tls_util.h"

#define T0 1700000000 /* seconds; every test's fake time starts near it */
#define T0_MS ((int64_t)T0 * 1000)

/* One connection and what the server saw. */
struct tc_conn {
    struct tu_tls_result r;
    const char *sni;
    const char *alpn;
    int version;
    int origin_rc; /* tr_openssl_ticket_origin() on the server */
    char origin[80];
    int origin_small_rc; /* ... into a buffer one byte too small */
    char alpn_selected[32];
    int group; /* negotiated group NID */
    int client_hellos; /* ClientHello messages the server read */
};

/* Mark the cluster, connect to node i, assert the handshake completed. The
 * session is not consumed (pass a dup to reuse a TLS 1.3 one). */
void tc_connect(struct tu_cluster *c, size_t i, const char *sni, const char *alpn,
                int version, SSL_SESSION *session, struct tc_conn *out);
/* As tc_connect() on any server ctx, client ctx `client`. */
void tc_connect_ctx(SSL_CTX *server, SSL_CTX *client, const char *sni, const char *alpn,
                    int version, SSL_SESSION *session, struct tc_conn *out);
void tc_conn_free(struct tc_conn *conn);

/* The counters a handshake on a node must move (tu_stats_diff format):
 * a full handshake, with `refusal` the refused_* counter name without its
 * prefix ("sni", ...) or NULL; a resumption of a ticket sealed with the
 * encrypt key or an older one, of another node or not. Static storage
 * that the next eight calls reuse. */
const char *tc_full(int version, const char *refusal);
const char *tc_resumed(int version, int cross_node, int old_key);
/* "a b": two of the above joined (tu_stats_diff format), in static storage
 * that the next four calls reuse. */
const char *tc_cat(const char *a, const char *b);

/* The ring's metrics show its refused_<refusal> count under that reason. */
void tc_assert_refusal_metric(tr_ring *ring, const char *refusal);

/* Node i refused conn's ticket under `refusal` with a successful full
 * handshake and fresh tickets (2 in TLS 1.3, 1 in TLS 1.2), and the fresh
 * session resumes on node i: the contract of every refusal. */
void tc_expect_refused(struct tu_cluster *c, size_t i, const struct tc_conn *conn,
                       const char *refusal);

/* The first 16 bytes (the key name) of a session's ticket. */
void tc_ticket_name(SSL_SESSION *s, uint8_t name[TR_KEY_NAME_BYTES]);
/* The name of the key at `index` (activation order) of a ring. */
void tc_key_name(tr_ring *ring, uint32_t index, uint8_t name[TR_KEY_NAME_BYTES]);

#endif
