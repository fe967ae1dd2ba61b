/*
 * ticketring-demo-client: the load of tools/demo.sh.
 *
 *   ticketring-demo-client --via ADDR,... --direct ADDR,... --cafile FILE
 *       [--servername NAME] [--alpn PROTO] [--connections N] [--parallel N]
 *       [--tls 1.3|1.2|mixed] [--title TEXT] [--label TEXT] [--midway CMD]
 *       [--min-resumed PCT] [--max-resumed PCT] [--save FILE] [--compare FILE]
 *       [--csv FILE]
 *
 * The i-th --via address (the delay proxy) leads to the i-th --direct
 * address (the node itself). N connections (default 3000) run as
 * --parallel chains (default 8); chain c's k-th connection goes to node
 * (c + k) mod nodes, so every reconnect lands on another node, as behind a
 * round-robin balancer, and offers the newest session its chain holds. With
 * --tls mixed, even chains speak TLS 1.3 and odd ones TLS 1.2. Each
 * connection sends GET / and records the node, whether it resumed (the
 * handshake's and the server's view), the time to first byte and the key
 * names of the tickets offered and received (public: the first 16 bytes of
 * every OpenSSL ticket). /metrics of every node is read directly before and
 * after the run. --midway runs CMD (sh -c) once half of the connections are
 * done, while the others go on. --csv writes one line per connection.
 * --min-resumed and --max-resumed bound the share of offered sessions that
 * must resume (a mixed fleet resumes only tickets of the node's backend).
 *
 * Exit status: 0 when the run looked healthy (report_run), 1 otherwise,
 * 2 on a usage error.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>

#include "client.h"

struct options {
    struct sockaddr_in via[MAX_NODES], direct[MAX_NODES];
    int n_via, n_direct;
    const char *cafile, *servername, *alpn, *tls, *title, *label, *midway, *save, *compare, *csv;
    int connections, parallel;
    double min_resumed, max_resumed;
};

struct shared {
    const struct options *o;
    SSL_CTX *ctx12, *ctx13;
    struct run *run;
    int64_t t0;
    atomic_int done;
    atomic_int printed_errors;
};

struct chain {
    struct shared *sh;
    int index;
    pthread_t thread;
};

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int parse_addrs(char *list, struct sockaddr_in *out, int *n)
{
    for (char *save = NULL, *s = strtok_r(list, ",", &save); s != NULL;
         s = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(s, ':'), *end;
        long port;
        if (colon == NULL || *n >= MAX_NODES)
            return -1;
        *colon = '\0';
        port = strtol(colon + 1, &end, 10);
        if (*end != '\0' || port < 1 || port > 65535)
            return -1;
        memset(&out[*n], 0, sizeof(out[*n]));
        out[*n].sin_family = AF_INET;
        out[*n].sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, strcmp(s, "localhost") == 0 ? "127.0.0.1" : s,
                      &out[*n].sin_addr) != 1)
            return -1;
        (*n)++;
    }
    return 0;
}

static SSL_CTX *make_ctx(int version, const struct options *o)
{
    unsigned char alpn[64];
    size_t alen = strlen(o->alpn);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || alen == 0 || alen >= sizeof(alpn))
        goto fail;
    alpn[0] = (unsigned char)alen;
    memcpy(alpn + 1, o->alpn, alen);
    if (SSL_CTX_set_min_proto_version(ctx, version) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, version) != 1 ||
        SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1 ||
        SSL_CTX_set_alpn_protos(ctx, alpn, (unsigned)(alen + 1)) != 0)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* A peer that closes without close_notify after a complete response is
     * not an error worth losing the session over. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return ctx;
fail:
    ERR_print_errors_fp(stderr);
    SSL_CTX_free(ctx);
    return NULL;
}

static int ticket_key(SSL_SESSION *s, uint8_t out[KEY_NAME_BYTES])
{
    const unsigned char *t = NULL;
    size_t len = 0;
    if (s == NULL)
        return 0;
    SSL_SESSION_get0_ticket(s, &t, &len);
    if (t == NULL || len < KEY_NAME_BYTES)
        return 0;
    memcpy(out, t, KEY_NAME_BYTES);
    return 1;
}

static int same_ticket(SSL_SESSION *a, SSL_SESSION *b)
{
    const unsigned char *ta = NULL, *tb = NULL;
    size_t la = 0, lb = 0;
    if (a == NULL || b == NULL)
        return 0;
    SSL_SESSION_get0_ticket(a, &ta, &la);
    SSL_SESSION_get0_ticket(b, &tb, &lb);
    return ta != NULL && tb != NULL && la == lb && memcmp(ta, tb, la) == 0;
}

static void *chain_main(void *arg)
{
    struct chain *ch = arg;
    struct shared *sh = ch->sh;
    const struct options *o = sh->o;
    int n_nodes = o->n_via;
    int tls13 = strcmp(o->tls, "1.3") == 0 || (strcmp(o->tls, "mixed") == 0 && ch->index % 2 == 0);
    SSL_CTX *ctx = tls13 ? sh->ctx13 : sh->ctx12;
    SSL_SESSION *held = NULL;
    char held_origin[NAME_CAP] = ""; /* the node that issued held's ticket */
    int held_node = -1;

    for (int k = 0;; k++) {
        int g = k * o->parallel + ch->index;
        struct conn_result *r;
        struct reply rep;
        char err[256], origin[NAME_CAP], resumed[8];

        if (g >= o->connections)
            break;
        r = &sh->run->results[g];
        r->chain = ch->index;
        r->node = (ch->index + k) % n_nodes;
        if (held != NULL && !SSL_SESSION_is_resumable(held)) {
            SSL_SESSION_free(held);
            held = NULL;
        }
        r->offered = held != NULL;
        /* A TLS 1.2 ticket is only renewed when its key is old, so a chain
         * comes back to the node that issued it every n_nodes hops. */
        r->offered_cross = held != NULL && held_node != r->node;
        r->has_offered_key = ticket_key(held, r->offered_key);
        r->start_us = mono_us() - sh->t0;
        if (https_get(ctx, &o->via[r->node], o->servername, "/", held, &rep, err, sizeof(err)) !=
                0 ||
            rep.status != 200) {
            r->failed = 1;
            held_node = -1;
            if (atomic_fetch_add(&sh->printed_errors, 1) < 5)
                fprintf(stderr, "demo-client: connection %d (node %d): %s\n", g, r->node + 1,
                        rep.status != 0 ? "HTTP status not 200" : err);
            reply_free(&rep);
            SSL_SESSION_free(held);
            held = NULL;
        } else {
            r->ttfb_us = rep.ttfb_us;
            r->version = rep.version;
            r->reused = rep.reused;
            body_field(rep.body, "node", r->node_name, sizeof(r->node_name));
            body_field(rep.body, "resumed", resumed, sizeof(resumed));
            body_field(rep.body, "ticket-origin", origin, sizeof(origin));
            r->body_resumed = strcmp(resumed, "yes") == 0;
            /* A server that names a ticket's issuer must name the node the
             * chain got it from. */
            r->origin_mismatch = r->reused && origin[0] != '\0' && strcmp(origin, "-") != 0 &&
                                 strcmp(origin, held_origin) != 0;
            r->has_received_key = ticket_key(rep.session, r->received_key);
            if (!rep.reused || !same_ticket(held, rep.session)) {
                snprintf(held_origin, sizeof(held_origin), "%s", r->node_name);
                held_node = r->node;
            }
            SSL_SESSION_free(held);
            held = rep.session;
            rep.session = NULL;
            reply_free(&rep);
        }
        atomic_fetch_add(&sh->done, 1);
    }
    SSL_SESSION_free(held);
    return NULL;
}

/* Read every node's /metrics directly (not through the proxy). */
static void fetch_metrics(const struct options *o, SSL_CTX *ctx, struct run *run, int after)
{
    for (int i = 0; i < o->n_direct; i++) {
        struct reply rep;
        char err[256];
        char **slot = after ? &run->metrics[i].after : &run->metrics[i].before;
        if (https_get(ctx, &o->direct[i], o->servername, "/metrics", NULL, &rep, err,
                      sizeof(err)) != 0 ||
            rep.status != 200) {
            fprintf(stderr, "demo-client: /metrics of node %d: %s\n", i + 1,
                    rep.status != 0 ? "HTTP status not 200" : err);
            reply_free(&rep);
            continue;
        }
        *slot = rep.body;
        rep.body = NULL;
        if (run->node_names[i][0] == '\0')
            metric_label(*slot, "ticketring_server_node_info", "node", run->node_names[i],
                         NAME_CAP);
        reply_free(&rep);
    }
}

/* Run the midway command, keeping the first line it prints. */
static void run_midway(const char *cmd, struct run *run)
{
    char line[sizeof(run->rotate_note)];
    FILE *p = popen(cmd, "r");
    int first = 1;

    run->rotated = 1;
    if (p == NULL) {
        snprintf(run->rotate_note, sizeof(run->rotate_note), "cannot run %s", cmd);
        run->rotate_rc = -1;
        return;
    }
    while (fgets(line, sizeof(line), p) != NULL) {
        if (first) {
            line[strcspn(line, "\n")] = '\0';
            memcpy(run->rotate_note, line, sizeof(line));
            first = 0;
        }
    }
    run->rotate_rc = pclose(p);
}

static void hex16(FILE *f, int have, const uint8_t *k)
{
    if (!have) {
        fputs(",-", f);
        return;
    }
    fputc(',', f);
    for (int i = 0; i < KEY_NAME_BYTES; i++)
        fprintf(f, "%02x", k[i]);
}

static int write_csv(const struct run *run, const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    fprintf(f, "index,start_us,node,node_name,tls,failed,offered,reused,server_resumed,"
               "offered_cross,origin_mismatch,ttfb_us,offered_key,received_key\n");
    for (int i = 0; i < run->n_results; i++) {
        const struct conn_result *r = &run->results[i];
        fprintf(f, "%d,%lld,%d,%s,%d,%d,%d,%d,%d,%d,%d,%lld", i, (long long)r->start_us,
                r->node + 1, r->node_name[0] ? r->node_name : "-", r->version, r->failed,
                r->offered, r->reused, r->body_resumed, r->offered_cross, r->origin_mismatch,
                (long long)r->ttfb_us);
        hex16(f, r->has_offered_key, r->offered_key);
        hex16(f, r->has_received_key, r->received_key);
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: ticketring-demo-client --via ADDR,... --direct ADDR,... --cafile FILE\n"
            "         [--servername NAME] [--alpn PROTO] [--connections N] [--parallel N]\n"
            "         [--tls 1.3|1.2|mixed] [--title TEXT] [--label TEXT] [--midway CMD]\n"
            "         [--min-resumed PCT] [--max-resumed PCT] [--save FILE] [--compare FILE]\n"
            "         [--csv FILE]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct options o = {.servername = "localhost", .alpn = "http/1.1", .tls = "mixed",
                        .title = "run", .connections = 3000, .parallel = 8,
                        .min_resumed = -1, .max_resumed = -1};
    static struct shared sh;
    struct run run;
    struct chain *chains;
    int rc, midway_done;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return usage();
        i++;
        if (strcmp(a, "--via") == 0 || strcmp(a, "--direct") == 0) {
            char *copy = strdup(v);
            int bad = copy == NULL ||
                      (strcmp(a, "--via") == 0 ? parse_addrs(copy, o.via, &o.n_via)
                                               : parse_addrs(copy, o.direct, &o.n_direct));
            free(copy);
            if (bad)
                return usage();
        } else if (strcmp(a, "--cafile") == 0)
            o.cafile = v;
        else if (strcmp(a, "--servername") == 0)
            o.servername = v;
        else if (strcmp(a, "--alpn") == 0)
            o.alpn = v;
        else if (strcmp(a, "--tls") == 0)
            o.tls = v;
        else if (strcmp(a, "--title") == 0)
            o.title = v;
        else if (strcmp(a, "--label") == 0)
            o.label = v;
        else if (strcmp(a, "--midway") == 0)
            o.midway = v;
        else if (strcmp(a, "--save") == 0)
            o.save = v;
        else if (strcmp(a, "--compare") == 0)
            o.compare = v;
        else if (strcmp(a, "--csv") == 0)
            o.csv = v;
        else if (strcmp(a, "--connections") == 0)
            o.connections = atoi(v);
        else if (strcmp(a, "--parallel") == 0)
            o.parallel = atoi(v);
        else if (strcmp(a, "--min-resumed") == 0)
            o.min_resumed = atof(v);
        else if (strcmp(a, "--max-resumed") == 0)
            o.max_resumed = atof(v);
        else
            return usage();
    }
    if (o.n_via == 0 || o.n_via != o.n_direct || o.cafile == NULL || o.connections < 1 ||
        o.connections > 1000000 || o.parallel < 1 || o.parallel > 256 ||
        (strcmp(o.tls, "1.3") != 0 && strcmp(o.tls, "1.2") != 0 && strcmp(o.tls, "mixed") != 0))
        return usage();

    memset(&run, 0, sizeof(run));
    run.title = o.title;
    run.label = o.label != NULL ? o.label : o.title;
    run.n_nodes = o.n_via;
    run.parallel = o.parallel;
    run.n_results = o.connections;
    run.results = calloc((size_t)o.connections, sizeof(*run.results));
    chains = calloc((size_t)o.parallel, sizeof(*chains));
    sh.o = &o;
    sh.run = &run;
    sh.ctx13 = make_ctx(TLS1_3_VERSION, &o);
    sh.ctx12 = make_ctx(TLS1_2_VERSION, &o);
    if (run.results == NULL || chains == NULL || sh.ctx13 == NULL || sh.ctx12 == NULL) {
        fprintf(stderr, "demo-client: setup failed\n");
        return 1;
    }

    /* A TLS 1.2 run may have nodes that speak nothing newer (mbedTLS). */
    SSL_CTX *metrics_ctx = strcmp(o.tls, "1.2") == 0 ? sh.ctx12 : sh.ctx13;
    fetch_metrics(&o, metrics_ctx, &run, 0);
    {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        sh.t0 = mono_us();
        run.t0_wall_us = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000;
    }
    for (int c = 0; c < o.parallel; c++) {
        chains[c] = (struct chain){.sh = &sh, .index = c};
        if (pthread_create(&chains[c].thread, NULL, chain_main, &chains[c]) != 0) {
            fprintf(stderr, "demo-client: cannot start chain %d\n", c);
            return 1;
        }
    }
    /* The chains run on their own; this thread only watches for the midway
     * point, polling a counter at a pace far below the connections'. */
    midway_done = o.midway == NULL;
    while (atomic_load(&sh.done) < o.connections) {
        struct timespec tick = {.tv_nsec = 20 * 1000 * 1000};
        if (!midway_done && atomic_load(&sh.done) >= o.connections / 2) {
            run.rotate_t = (double)(mono_us() - sh.t0) / 1e6;
            run_midway(o.midway, &run);
            midway_done = 1;
            continue;
        }
        nanosleep(&tick, NULL);
    }
    for (int c = 0; c < o.parallel; c++)
        pthread_join(chains[c].thread, NULL);
    run.seconds = (double)(mono_us() - sh.t0) / 1e6;
    fetch_metrics(&o, metrics_ctx, &run, 1);

    rc = report_run(&run, o.min_resumed, o.max_resumed);
    if (o.save != NULL && report_save(&run, o.save) != 0) {
        fprintf(stderr, "demo-client: cannot write %s\n", o.save);
        rc = 1;
    }
    if (o.compare != NULL && report_compare(&run, o.compare) != 0)
        rc = 1;
    if (o.csv != NULL && write_csv(&run, o.csv) != 0) {
        fprintf(stderr, "demo-client: cannot write %s\n", o.csv);
        rc = 1;
    }

    for (int i = 0; i < run.n_nodes; i++) {
        free(run.metrics[i].before);
        free(run.metrics[i].after);
    }
    free(run.results);
    free(chains);
    SSL_CTX_free(sh.ctx12);
    SSL_CTX_free(sh.ctx13);
    return rc;
}
