#include "bench_hs_driver.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "bench_stats.h"

/* As tls_util.c: enough for any handshake over an unbounded BIO pair. */
#define DRIVE_ROUNDS 64

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

/* As tu_tls_connect(): a ticket renewed on a TLS 1.2 resumption does not
 * reach the client's new-session callback, so count the messages. */
static void count_tickets(int write_p, int version, int content_type, const void *buf,
                          size_t len, SSL *ssl, void *arg)
{
    (void)version, (void)ssl;
    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len >= 1 &&
        ((const uint8_t *)buf)[0] == SSL3_MT_NEWSESSION_TICKET)
        (*(int *)arg)++;
}

static int retry(SSL *ssl, int r)
{
    int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

static int handshake(SSL *c, SSL *s, struct hd_result *res)
{
    int cdone = 0, sdone = 0;
    for (int i = 0; i < DRIVE_ROUNDS && !(cdone && sdone); i++) {
        int r;
        if (!cdone) {
            r = SSL_do_handshake(c);
            if (r == 1)
                cdone = 1;
            else if (!retry(c, r)) {
                report("client handshake");
                return -1;
            }
        }
        if (!sdone) {
            uint64_t t0 = bs_now_ns();
            r = SSL_do_handshake(s);
            res->server_ns += since(t0);
            if (r == 1)
                sdone = 1;
            else if (!retry(s, r)) {
                report("server handshake");
                return -1;
            }
        }
    }
    return cdone && sdone ? 0 : -1;
}

static int server_write(SSL *s, char byte, struct hd_result *res)
{
    uint64_t t0 = bs_now_ns();
    int r = SSL_write(s, &byte, 1);
    res->server_ns += since(t0);
    return r == 1 ? 0 : -1;
}

static int client_read(SSL *c, char byte)
{
    char got = 0;
    for (int i = 0; i < DRIVE_ROUNDS; i++) {
        int r = SSL_read(c, &got, 1);
        if (r == 1)
            return got == byte ? 0 : -1;
        if (!retry(c, r))
            return -1;
    }
    return -1;
}

static int server_read(SSL *s, char byte, struct hd_result *res)
{
    char got = 0;
    for (int i = 0; i < DRIVE_ROUNDS; i++) {
        uint64_t t0 = bs_now_ns();
        int r = SSL_read(s, &got, 1);
        res->server_ns += since(t0);
        if (r == 1)
            return got == byte ? 0 : -1;
        if (!retry(s, r))
            return -1;
    }
    return -1;
}

static int shutdown_both(SSL *c, SSL *s, struct hd_result *res)
{
    int cdone = 0, sdone = 0;
    for (int i = 0; i < DRIVE_ROUNDS && !(cdone && sdone); i++) {
        int r;
        if (!cdone) {
            r = SSL_shutdown(c);
            if (r == 1)
                cdone = 1;
            else if (r < 0 && !retry(c, r))
                return -1;
        }
        if (!sdone) {
            uint64_t t0 = bs_now_ns();
            r = SSL_shutdown(s);
            res->server_ns += since(t0);
            if (r == 1)
                sdone = 1;
            else if (r < 0 && !retry(s, r))
                return -1;
        }
    }
    return cdone && sdone ? 0 : -1;
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
    SSL_set_msg_callback(c, count_tickets);
    SSL_set_msg_callback_arg(c, &res->tickets);
    if ((hc->sni != NULL && SSL_set_tlsext_host_name(c, hc->sni) != 1) ||
        /* SSL_set_alpn_protos is the one setter that returns 0 on success. */
        (hc->alpn_len != 0 && SSL_set_alpn_protos(c, hc->alpn, hc->alpn_len) != 0) ||
        SSL_set_max_proto_version(c, hc->version) != 1 ||
        (offer != NULL && SSL_set_session(c, offer) != 1)) {
        report("client setup");
        goto out;
    }
    if (handshake(c, s, res) != 0)
        goto out;
    if (server_write(s, 'S', res) != 0 || client_read(c, 'S') != 0 ||
        SSL_write(c, "C", 1) != 1 || server_read(s, 'C', res) != 0) {
        report("one byte each way");
        goto out;
    }
    res->resumed = SSL_session_reused(c);
    res->version = SSL_version(c);
    if (shutdown_both(c, s, res) != 0) {
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
