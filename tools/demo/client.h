/*
 * ticketring-demo-client: shared declarations of its files.
 *   client.c   options, the chains of connections, the run
 *   https.c    one HTTPS request: timing, resumption, the newest session
 *   metrics.c  reading values out of Prometheus text
 *   report.c   the tables, the rotation line and the conclusion
 */
#ifndef DEMO_CLIENT_H
#define DEMO_CLIENT_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define MAX_NODES 8
#define NAME_CAP 32
#define KEY_NAME_BYTES 16 /* OpenSSL's ticket format starts with the key's name */

/* ---- https.c -------------------------------------------------------------- */

struct reply {
    int64_t ttfb_us;     /* connect() start to the first response byte */
    int version;         /* 12 or 13 */
    int reused;          /* SSL_session_reused() */
    int status;          /* HTTP status code */
    char *body;          /* NUL-terminated; caller frees */
    size_t body_len;
    SSL_SESSION *session; /* the newest session after the response; caller frees */
};

/* GET `path` from `addr` with SNI `sni`, offering `offer` (may be NULL).
 * 0 on success (an HTTP response was read to its end and the connection
 * closed with close_notify); -1 with a line in err otherwise. */
int https_get(SSL_CTX *ctx, const struct sockaddr_in *addr, const char *sni, const char *path,
              SSL_SESSION *offer, struct reply *out, char *err, size_t err_cap);
void reply_free(struct reply *r);

/* Value of a "key: value" line of a body, copied into out ("" if absent). */
void body_field(const char *body, const char *key, char *out, size_t cap);

/* ---- metrics.c ------------------------------------------------------------- */

/* The value of the sample `series` (a metric name with its labels exactly as
 * exposed, e.g. `x_total{reason="auth"}`); 0 when found, -1 otherwise. */
int metric_value(const char *text, const char *series, double *out);
/* The value of label `label` on the first sample of `metric`; 0 or -1. */
int metric_label(const char *text, const char *metric, const char *label, char *out,
                 size_t cap);

/* ---- the run ------------------------------------------------------------------ */

struct conn_result {
    int64_t start_us; /* since the run started */
    int64_t ttfb_us;
    int chain;        /* which chain made it */
    int node;         /* index of the route used */
    int version;      /* 12 or 13; 0 if the connection failed */
    int failed;
    int offered;      /* a session was offered */
    int reused;       /* SSL_session_reused() */
    int body_resumed; /* the server said "resumed: yes" */
    int offered_cross; /* ... and another node issued it (as far as the client saw) */
    int origin_mismatch; /* resumed, but the server named another issuing node */
    int has_offered_key, has_received_key;
    uint8_t offered_key[KEY_NAME_BYTES], received_key[KEY_NAME_BYTES];
    char node_name[NAME_CAP];
};

struct node_metrics {
    char *before, *after; /* /metrics text; NULL when it could not be fetched */
};

struct run {
    const char *title;
    const char *label; /* the run's name in the conclusion */
    int n_nodes;
    char node_names[MAX_NODES][NAME_CAP];
    struct node_metrics metrics[MAX_NODES];
    struct conn_result *results;
    int n_results;
    int parallel;
    double seconds;
    int64_t t0_wall_us; /* CLOCK_REALTIME when the run started */
    /* the rotation, when one was run */
    int rotated;
    double rotate_t;      /* seconds into the run */
    char rotate_note[160]; /* what the rotation step printed */
    int rotate_rc;
};

/* ---- report.c ------------------------------------------------------------- */

/* Print the run's table (and its rotation line); 0 when it looks healthy
 * (no failed connection or node, resumption at least min_resumed_pct and
 * at most max_resumed_pct of the offers, each when >= 0), 1 otherwise. */
int report_run(const struct run *run, double min_resumed_pct, double max_resumed_pct);
/* Write the figures report_compare() needs; 0 or -1. */
int report_save(const struct run *run, const char *path);
/* Print a two-line conclusion: the run saved at `path` against this one. */
int report_compare(const struct run *run, const char *path);

#endif /* DEMO_CLIENT_H */
