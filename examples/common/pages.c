#define _GNU_SOURCE

#include "pages.h"

#include "backend.h"
#include "keysource.h"
#include "log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <ticketring/ticketring.h>

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* A growable text buffer; on allocation failure it stays failed. */
struct text {
    char *p;
    size_t len, cap;
    int failed;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap != 0 ? t->cap : 1024;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (p == NULL) {
            t->failed = 1;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_add(t, s, strlen(s));
}

static void text_u64(struct text *t, const char *prefix, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64 "\n", v);
    text_str(t, prefix);
    text_str(t, num);
}

static void info_body(struct server *srv, const struct tls_conn *tc, int early, struct text *t)
{
    struct tls_conn_info info;
    tls_conn_describe(tc, srv, &info);
    text_str(t, "node: ");
    text_str(t, srv->flags.node_id);
    text_str(t, "\nprotocol: ");
    text_str(t, info.protocol);
    text_str(t, info.resumed ? "\nresumed: yes" : "\nresumed: no");
    text_str(t, early ? "\nearly-data: yes" : "\nearly-data: no");
    text_str(t, "\nticket-origin: ");
    text_str(t, info.origin);
    text_str(t, "\nalpn: ");
    text_str(t, info.alpn);
    text_str(t, "\n");
}

/* Text from a function that says how much room it needs (the ring's, the
 * backend's, the key source's), grown until it fits. */
static void sized_metrics(int (*fn)(struct server *srv, char *buf, size_t cap, size_t *len),
                          struct server *srv, const char *what, struct text *t)
{
    size_t cap = 8192, len = 0;
    for (int tries = 0; tries < 4; tries++) {
        char *buf = malloc(cap);
        if (buf == NULL) {
            t->failed = 1;
            return;
        }
        int rc = fn(srv, buf, cap, &len);
        if (rc == 0)
            text_add(t, buf, len);
        free(buf);
        if (rc != TR_E_BUFFER_TOO_SMALL) {
            if (rc != 0)
                log_line("%s: %s", what, tr_strerror(rc));
            return;
        }
        cap = len + 1;
    }
}

int metrics_none(char *buf, size_t cap, size_t *len)
{
    *len = 0;
    if (cap == 0)
        return TR_E_BUFFER_TOO_SMALL;
    buf[0] = '\0';
    return 0;
}

static int ring_text(struct server *srv, char *buf, size_t cap, size_t *len)
{
    return tr_ring_metrics(srv->ring, buf, cap, len);
}

static void metrics_body(struct server *srv, struct text *t)
{
    struct server_stats *st = &srv->stats;
    if (srv->ring != NULL)
        sized_metrics(ring_text, srv, "tr_ring_metrics", t);
    sized_metrics(tls_metrics, srv, "the TLS backend's metrics", t);
    if (srv->sync != NULL)
        sized_metrics(keysource_metrics, srv, "tr_sync_metrics", t);

    text_str(t, "# HELP ticketring_server_connections_total TLS handshakes this server "
                "completed, by whether the session was resumed.\n"
                "# TYPE ticketring_server_connections_total counter\n");
    text_u64(t, "ticketring_server_connections_total{resumed=\"yes\"} ",
             stat_get(&st->handshakes_resumed));
    text_u64(t, "ticketring_server_connections_total{resumed=\"no\"} ",
             stat_get(&st->handshakes_full));
    text_str(t, "# HELP ticketring_server_handshake_failures_total TLS handshakes that "
                "failed or were abandoned.\n"
                "# TYPE ticketring_server_handshake_failures_total counter\n");
    text_u64(t, "ticketring_server_handshake_failures_total ", stat_get(&st->handshakes_failed));
    text_str(t, "# HELP ticketring_server_connections_rejected_total Connections closed at "
                "once because the connection cap was reached.\n"
                "# TYPE ticketring_server_connections_rejected_total counter\n");
    text_u64(t, "ticketring_server_connections_rejected_total ", stat_get(&st->rejected));
    text_str(t, "# HELP ticketring_server_connections_open Connections open now.\n"
                "# TYPE ticketring_server_connections_open gauge\n");
    text_u64(t, "ticketring_server_connections_open ", stat_get(&st->active));
    text_str(t, "# HELP ticketring_server_requests_total HTTP requests answered.\n"
                "# TYPE ticketring_server_requests_total counter\n");
    text_u64(t, "ticketring_server_requests_total ", stat_get(&st->requests));
    text_str(t, "# HELP ticketring_server_early_requests_total HTTP requests that came "
                "(wholly or partly) in TLS early data, by answer: served (GET, HEAD) or "
                "425 Too Early.\n"
                "# TYPE ticketring_server_early_requests_total counter\n");
    text_u64(t, "ticketring_server_early_requests_total{answer=\"served\"} ",
             stat_get(&st->early_served));
    text_u64(t, "ticketring_server_early_requests_total{answer=\"too_early\"} ",
             stat_get(&st->early_too_early));
    text_str(t, "# HELP ticketring_server_half_rtt_responses_total Answers to requests in "
                "TLS early data written whole before the handshake completed (0.5-RTT "
                "data), by answer: served (GET, HEAD) or 425 Too Early.\n"
                "# TYPE ticketring_server_half_rtt_responses_total counter\n");
    text_u64(t, "ticketring_server_half_rtt_responses_total{answer=\"served\"} ",
             stat_get(&st->half_rtt_served));
    text_u64(t, "ticketring_server_half_rtt_responses_total{answer=\"too_early\"} ",
             stat_get(&st->half_rtt_too_early));

    /* The node id was checked to need no escaping in a label value. */
    text_str(t, "# HELP ticketring_server_node_info This node's id and where its ticket "
                "keys come from.\n"
                "# TYPE ticketring_server_node_info gauge\n"
                "ticketring_server_node_info{node=\"");
    text_str(t, srv->flags.node_id);
    text_str(t, "\",keys=\"");
    text_str(t, srv->ring != NULL ? "shared" : backend.default_keys);
    text_str(t, "\"} 1\n");

    struct rusage ru;
    double cpu = 0;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    char line[96];
    snprintf(line, sizeof line, "process_cpu_seconds_total %.6f\n", cpu);
    text_str(t, "# HELP process_cpu_seconds_total Total user and system CPU time spent "
                "in seconds.\n"
                "# TYPE process_cpu_seconds_total counter\n");
    text_str(t, line);
}

/* Ready once keys are in place: a Kubernetes readiness probe keeps a pod
 * out of rotation until then, so it never issues tickets other nodes cannot
 * open or refuses theirs. */
static int ready_body(struct server *srv, struct text *t)
{
    uint8_t name[TR_KEY_NAME_BYTES];
    tr_stats st;

    if (srv->ring == NULL) {
        text_str(t, "ready (");
        text_str(t, backend.library);
        text_str(t, "'s own per-process ticket keys)\n");
        return 200;
    }
    memset(&st, 0, sizeof st);
    st.size = sizeof st;
    if (srv->flags.keys_source != NULL && !keysource_ready(srv)) {
        text_str(t, "not ready: no key set from --keys-source or --keys yet\n");
        return 503;
    }
    if (tr_ring_stats(srv->ring, &st) != 0 || st.reloads == 0) {
        text_str(t, "not ready: no key file loaded\n");
        return 503;
    }
    if (tr_ring_encrypt_key_name(srv->ring, name) != 0) {
        text_str(t, "not ready: no key may encrypt now\n");
        return 503;
    }
    text_str(t, "ready\n");
    return 200;
}

static int method_is(const struct http_request *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static int path_is(const struct http_request *req, const char *p)
{
    return req->path_len == strlen(p) && memcmp(req->path, p, req->path_len) == 0;
}

int pages_respond(struct server *srv, const struct tls_conn *tc, const struct http_request *req,
                  int keep_alive, int early, char **out, size_t *out_len, int *status_out)
{
    struct text body = {0};
    const char *type = TEXT_PLAIN;
    int status = 200;
    int head = method_is(req, "HEAD");
    int safe = head || method_is(req, "GET");
    if (early)
        stat_add(safe ? &srv->stats.early_served : &srv->stats.early_too_early, 1);
    if (early && !safe) {
        /* Before 405: the client must not take "not allowed" for an answer
         * to a request this server never processed; it retries after the
         * handshake, where it gets the real answer. */
        status = 425;
        text_str(&body, "too early: send this request again after the TLS handshake\n");
    } else if (!safe) {
        status = 405;
        text_str(&body, "method not allowed\n");
    } else if (path_is(req, "/")) {
        info_body(srv, tc, early, &body);
    } else if (path_is(req, "/ready")) {
        status = ready_body(srv, &body);
    } else if (path_is(req, "/metrics")) {
        type = PROMETHEUS_TEXT;
        metrics_body(srv, &body);
    } else {
        status = 404;
        text_str(&body, "not found\n");
    }
    *status_out = status;
    int rc = -1;
    if (!body.failed)
        rc = http_response(status, type, body.p != NULL ? body.p : "", body.len, keep_alive,
                           head, out, out_len);
    free(body.p);
    return rc;
}

int pages_error(int status, char **out, size_t *out_len)
{
    char body[80];
    int n = snprintf(body, sizeof body, "%s\n", http_reason(status));
    return http_response(status, TEXT_PLAIN, body, (size_t)n, 0, 0, out, out_len);
}
