#include "bench_hs_driver.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "bench_stats.h"
#include "../openssl/tls_util.h"

/* The server's share of the time: since < bs_now_ns() around each server
 * call. SSL_get_error on the server is left out (a few ns, no work). */
static uint64_t since(uint64_t t0)
{
    return bs_now_ns() - t0;
}

static void report(const char *what)
{
    fprintf(stderr, "bench_handshake: %s failed\n", what);
    ERR_print_errors_fp(stderr);
}

int hd_connect(SSL_CTX *server, SSL_CTX *client, const struct hd_client *hc, SSL_SESSION *offer,
               SSL_SESSION **session_out, SSL **keep_server, struct hd_result *res)
{
    SSL *c = NULL, *s = NULL;
    BIO *cb = NULL, *sb = NULL;
    uint64_t t0;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    if (session_out != NULL)
        *session_out = NULL;
    if (keep_server != NULL)
        *keep_server = NULL;
    c = SSL_new(client);
    if (c == NULL || BIO_new_bio_pair(&cb, 0, &sb, 0) != 1) {
        report("SSL_new/BIO pair");
        goto out;
    }
    SSL_set_bio(c, cb, cb);
    SSL_set_connect_state(c);
    t0 = bs_now_ns();
    s = SSL_new(server);
    if (s != NULL) {
        SSL_set_bio(s, sb, sb);
        SSL_set_accept_state(s);
    }
    res->server_ns += since(t0);
    if (s == NULL) {
        BIO_free(sb);
        report("server SSL_new");
        goto out;
    }
    SSL_set_msg_callback(c, tu_tls_count_tickets);
    SSL_set_msg_callback_arg(c, &res->tickets);
    if ((hc->sni != NULL && SSL_set_tlsext_host_name(c, hc->sni) != 1) ||
        /* SSL_set_alpn_protos is the one setter that returns 0 on success. */
        (hc->alpn_len != 0 && SSL_set_alpn_protos(c, hc->alpn, hc->alpn_len) != 0) ||
        SSL_set_max_proto_version(c, hc->version) != 1 ||
        (offer != NULL && SSL_set_session(c, offer) != 1)) {
        report("client setup");
        goto out;
    }
    if (tu_tls_drive_handshake(c, s, &res->server_ns) != 0)
        goto out;
    if (tu_tls_send_byte(s, c, 'S', &res->server_ns, NULL) != 0 ||
        tu_tls_send_byte(c, s, 'C', NULL, &res->server_ns) != 0) {
        report("one byte each way");
        goto out;
    }
    res->resumed = SSL_session_reused(c);
    res->version = SSL_version(c);
    if (tu_tls_drive_shutdown(c, s, &res->server_ns) != 0) {
        report("shutdown");
        goto out;
    }
    if (session_out != NULL && (*session_out = SSL_get1_session(c)) == NULL)
        goto out;
    if (keep_server != NULL) {
        *keep_server = s;
        s = NULL;
    }
    rc = 0;
out:
    SSL_free(c);
    t0 = bs_now_ns();
    SSL_free(s);
    if (s != NULL)
        res->server_ns += since(t0);
    return rc;
}
