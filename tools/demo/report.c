/*
 * What the demo prints: one table per run (client-side figures from the
 * connections, server-side ones from the difference of /metrics before and
 * after), a line on the key rotation, and the conclusion comparing two runs.
 * Every figure is measured in this run; nothing is assumed.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

static const char *const reasons[] = {"malformed", "unknown_key", "auth",    "expired",
                                      "future",    "sni",         "alpn",    "context",
                                      "unbound",   "other_format"};
#define N_REASONS (sizeof(reasons) / sizeof(reasons[0]))

/* Which connections a figure is taken over. */
struct filter {
    int node;    /* -1: all */
    int version; /* 0: both */
    int reused;  /* -1: both */
};

static int keep(const struct conn_result *r, const struct filter *f)
{
    return !r->failed && (f->node < 0 || r->node == f->node) &&
           (f->version == 0 || r->version == f->version) &&
           (f->reused < 0 || r->reused == f->reused);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Median time to first byte in ms, or -1 when no connection qualifies. */
static double median_ttfb(const struct run *run, struct filter f)
{
    int64_t *v = malloc((size_t)run->n_results * sizeof(*v));
    int n = 0;
    double m;

    if (v == NULL)
        return -1;
    for (int i = 0; i < run->n_results; i++)
        if (keep(&run->results[i], &f))
            v[n++] = run->results[i].ttfb_us;
    if (n == 0) {
        free(v);
        return -1;
    }
    qsort(v, (size_t)n, sizeof(*v), cmp_i64);
    m = n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
    free(v);
    return m / 1000.0;
}

/* after - before of one sample on node i; -1 when either is missing. */
static double delta(const struct run *run, int i, const char *series)
{
    double a, b;
    if (run->metrics[i].before == NULL || run->metrics[i].after == NULL ||
        metric_value(run->metrics[i].before, series, &b) != 0 ||
        metric_value(run->metrics[i].after, series, &a) != 0)
        return -1;
    return a - b;
}

struct tally {
    int conns, failed, offered, resumed, mismatch, origin_mismatch;
    double cpu_s, server_conns; /* -1 when unknown */
    double refused[N_REASONS];
    int have_refusals;
};

static void tally_node(const struct run *run, int node, struct tally *t)
{
    double yes, no, cpu;

    for (int i = 0; i < run->n_results; i++) {
        const struct conn_result *r = &run->results[i];
        if (r->node != node)
            continue;
        t->conns++;
        if (r->failed) {
            t->failed++;
            continue;
        }
        t->offered += r->offered;
        t->resumed += r->offered && r->reused;
        t->origin_mismatch += r->origin_mismatch;
        t->mismatch += r->reused != r->body_resumed;
    }
    yes = delta(run, node, "ticketring_server_connections_total{resumed=\"yes\"}");
    no = delta(run, node, "ticketring_server_connections_total{resumed=\"no\"}");
    cpu = delta(run, node, "process_cpu_seconds_total");
    if (yes < 0 || no < 0 || cpu < 0 || t->cpu_s < 0) {
        t->cpu_s = -1;
    } else {
        t->cpu_s += cpu;
        t->server_conns += yes + no;
    }
    for (size_t k = 0; k < N_REASONS; k++) {
        char series[80];
        double d;
        snprintf(series, sizeof(series), "ticketring_tickets_refused_total{reason=\"%s\"}",
                 reasons[k]);
        d = delta(run, node, series);
        if (d >= 0) {
            t->refused[k] += d;
            t->have_refusals = 1;
        }
    }
}

static void fmt_ms(char *out, size_t cap, double ms)
{
    if (ms < 0)
        snprintf(out, cap, "-");
    else
        snprintf(out, cap, "%.1f ms", ms);
}

static void fmt_refusals(char *out, size_t cap, const struct tally *t)
{
    size_t len = 0;

    if (!t->have_refusals) {
        snprintf(out, cap, "not counted (no ring)");
        return;
    }
    out[0] = '\0';
    for (size_t k = 0; k < N_REASONS; k++)
        if (t->refused[k] > 0 && len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s%s %.0f", len ? ", " : "",
                                    reasons[k], t->refused[k]);
    if (len == 0)
        snprintf(out, cap, "none");
}

static void print_row(const struct run *run, const char *name, int node, const struct tally *t)
{
    char cpu[24], full[24], res[24], refused[160];
    struct filter f = {.node = node, .version = 0, .reused = 0};

    if (t->cpu_s < 0 || t->server_conns <= 0)
        snprintf(cpu, sizeof(cpu), "?");
    else
        snprintf(cpu, sizeof(cpu), "%.0f µs", t->cpu_s * 1e6 / t->server_conns);
    fmt_ms(full, sizeof(full), median_ttfb(run, f));
    f.reused = 1;
    fmt_ms(res, sizeof(res), median_ttfb(run, f));
    fmt_refusals(refused, sizeof(refused), t);
    /* "µ" takes two bytes for one column. */
    printf("  %-8s %6d %7d %7.1f %% %*s %11s %13s   %s\n", name, t->conns - t->failed,
           t->offered, t->offered ? 100.0 * t->resumed / t->offered : 0.0,
           strstr(cpu, "µ") != NULL ? 10 : 9, cpu, full, res, refused);
}

static void short_hex(char *out, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* The same label on every node's metrics (before or after): its value in
 * out, 1 if they all agree, 0 if not, -1 when missing. */
static int common_label(const struct run *run, int after, const char *label, char *out,
                        size_t cap)
{
    char v[80];
    int agree = 1;

    out[0] = '\0';
    for (int i = 0; i < run->n_nodes; i++) {
        const char *text = after ? run->metrics[i].after : run->metrics[i].before;
        if (text == NULL ||
            metric_label(text, "ticketring_keyset_info", label, v, sizeof(v)) != 0)
            return -1;
        if (i == 0)
            snprintf(out, cap, "%s", v);
        else if (strcmp(out, v) != 0)
            agree = 0;
    }
    return agree;
}

static int key_is(int have, const uint8_t *key, const char *hex)
{
    char k[2 * KEY_NAME_BYTES + 1];
    if (!have)
        return 0;
    short_hex(k, key, KEY_NAME_BYTES);
    return strcmp(k, hex) == 0;
}

/* Client-side view of the rotation. Each chain must move from a ticket
 * under the old encrypt key to one under the new key on a resumed
 * handshake (a renewal), never through a full one; and from the new key's
 * activation (read from the nodes' /metrics) on, offers must still resume.
 * Returns 0 when that held. */
static int report_rotation(const struct run *run)
{
    char old_key[80], new_key[80], fp_before[80], fp_after[80];
    int agree_old = common_label(run, 0, "encrypt_key", old_key, sizeof(old_key));
    int agree_new = common_label(run, 1, "encrypt_key", new_key, sizeof(new_key));
    int agree_fp0 = common_label(run, 0, "fingerprint", fp_before, sizeof(fp_before));
    int agree_fp1 = common_label(run, 1, "fingerprint", fp_after, sizeof(fp_after));
    double activation = -1, accepted_old = 0;
    int64_t switch_us;
    int after = 0, after_resumed = 0, moved = 0;

    printf("  rotation at %.1f s: %s\n", run->rotate_t,
           run->rotate_note[0] ? run->rotate_note : "(no output)");
    for (int i = 0; i < run->n_nodes; i++) {
        double a, d = delta(run, i, "ticketring_tickets_accepted_old_key_total");
        accepted_old += d > 0 ? d : 0;
        if (run->metrics[i].after != NULL &&
            metric_value(run->metrics[i].after,
                         "ticketring_encrypt_key_activation_timestamp_seconds", &a) == 0)
            activation = activation < 0 || a == activation ? a : -2;
    }
    if (run->rotate_rc != 0 || agree_old < 0 || agree_new < 0 || agree_fp0 < 0 ||
        agree_fp1 < 0 || activation == -1) {
        printf("  !! %s\n", run->rotate_rc != 0 ? "the rotation step failed"
                                                : "the key set is not in /metrics");
        return 1;
    }
    printf("    %s: encrypt key %.8s -> %.8s, fingerprint %s -> %s\n",
           agree_old && agree_new && agree_fp0 && agree_fp1 && activation >= 0
               ? "every node"
               : "NODES DISAGREE",
           old_key, new_key, fp_before, fp_after);
    if (strcmp(old_key, new_key) == 0) {
        printf("  !! the new key was not encrypting yet when the run ended\n");
        return 1;
    }
    if (!agree_new || !agree_fp1 || activation < 0)
        return 1;

    switch_us = (int64_t)(activation * 1e6) - run->t0_wall_us;
    for (int i = 0; i < run->n_results; i++) {
        const struct conn_result *r = &run->results[i];
        if (!r->failed && r->offered && r->start_us >= switch_us) {
            after++;
            after_resumed += r->reused;
        }
    }
    /* Results are in start order within a chain: its first ticket under
     * the new key is where it moved. */
    for (int c = 0; c < run->parallel; c++) {
        for (int i = c; i < run->n_results; i += run->parallel) {
            const struct conn_result *r = &run->results[i];
            if (r->failed || !key_is(r->has_received_key, r->received_key, new_key))
                continue;
            moved += r->reused && key_is(r->has_offered_key, r->offered_key, old_key);
            break;
        }
    }
    if (after == 0) {
        printf("  !! the new key became the encrypt key only after the last connection\n");
        return 1;
    }
    printf("    from %.1f s on: %.1f %% of %d offers resumed; %d of %d chains swapped their\n"
           "    %.8s ticket for a %.8s one on a resumed handshake (nodes: %.0f old-key tickets)\n",
           (double)switch_us / 1e6, 100.0 * after_resumed / after, after, moved, run->parallel,
           old_key, new_key, accepted_old);
    return moved == run->parallel ? 0 : 1;
}

int report_run(const struct run *run, double min_resumed_pct, double max_resumed_pct)
{
    struct tally all = {0};
    int bad = 0, n_versions[14] = {0};
    double m[4];

    for (int i = 0; i < run->n_results; i++)
        if (!run->results[i].failed)
            n_versions[run->results[i].version]++;
    printf("%s\n", run->title);
    printf("  %d connections in %.1f s, %d at a time, %s, each to the next node\n",
           run->n_results, run->seconds, run->parallel,
           n_versions[13] && n_versions[12] ? "TLS 1.3 and 1.2"
           : n_versions[12]                 ? "TLS 1.2"
                                            : "TLS 1.3");
    printf("  %-8s %6s %7s %9s %9s %11s %13s   %s\n", "node", "conns", "offered", "resumed",
           "CPU/conn", "TTFB full", "TTFB resumed", "tickets refused");
    for (int i = 0; i < run->n_nodes; i++) {
        struct tally t = {0};
        char name[NAME_CAP + 8];
        tally_node(run, i, &t);
        if (run->node_names[i][0] != '\0')
            snprintf(name, sizeof(name), "%s", run->node_names[i]);
        else
            snprintf(name, sizeof(name), "node %d", i + 1);
        print_row(run, name, i, &t);
        if (run->metrics[i].before == NULL || run->metrics[i].after == NULL ||
            t.conns == t.failed) {
            printf("  !! %s: no answer (metrics or connections)\n", name);
            bad = 1;
        }
        all.conns += t.conns;
        all.failed += t.failed;
        all.offered += t.offered;
        all.resumed += t.resumed;
        all.origin_mismatch += t.origin_mismatch;
        all.mismatch += t.mismatch;
        if (t.cpu_s < 0 || all.cpu_s < 0) {
            all.cpu_s = -1;
        } else {
            all.cpu_s += t.cpu_s;
            all.server_conns += t.server_conns;
        }
        for (size_t k = 0; k < N_REASONS; k++)
            all.refused[k] += t.refused[k];
        all.have_refusals |= t.have_refusals;
    }
    print_row(run, "all", -1, &all);

    m[0] = median_ttfb(run, (struct filter){-1, 13, 0});
    m[1] = median_ttfb(run, (struct filter){-1, 13, 1});
    m[2] = median_ttfb(run, (struct filter){-1, 12, 0});
    m[3] = median_ttfb(run, (struct filter){-1, 12, 1});
    printf("  median TTFB, full -> resumed:");
    if (n_versions[13]) {
        char a[24], b[24];
        fmt_ms(a, sizeof(a), m[0]);
        fmt_ms(b, sizeof(b), m[1]);
        printf("  TLS 1.3 %s -> %s", a, b);
    }
    if (n_versions[12]) {
        char a[24], b[24];
        fmt_ms(a, sizeof(a), m[2]);
        fmt_ms(b, sizeof(b), m[3]);
        printf("  TLS 1.2 %s -> %s", a, b);
    }
    printf("\n");

    if (run->rotated && report_rotation(run) != 0) {
        printf("  !! the rotation did not go as expected\n");
        bad = 1;
    }
    if (all.failed > 0) {
        printf("  !! %d connection%s failed\n", all.failed, all.failed == 1 ? "" : "s");
        bad = 1;
    }
    if (all.origin_mismatch > 0) {
        printf("  !! %d connections: the server named another node as the ticket's issuer "
               "than the one the client got it from\n",
               all.origin_mismatch);
        bad = 1;
    }
    if (all.mismatch > 0) {
        printf("  !! %d connections: the server's \"resumed\" differs from the handshake's\n",
               all.mismatch);
        bad = 1;
    }
    if (min_resumed_pct >= 0 &&
        (all.offered == 0 || 100.0 * all.resumed / all.offered < min_resumed_pct)) {
        printf("  !! resumed %.1f %% of the offered sessions, expected at least %.0f %%\n",
               all.offered ? 100.0 * all.resumed / all.offered : 0.0, min_resumed_pct);
        bad = 1;
    }
    if (max_resumed_pct >= 0 && all.offered > 0 &&
        100.0 * all.resumed / all.offered > max_resumed_pct) {
        printf("  !! resumed %.1f %% of the offered sessions, expected at most %.0f %%\n",
               100.0 * all.resumed / all.offered, max_resumed_pct);
        bad = 1;
    }
    return bad;
}

/* The figures of one run the conclusion compares. */
struct summary {
    char label[80];
    int cross_offers;  /* offers of a ticket another node issued */
    double cross_pct;  /* ... of which resumed, % */
    double cpu_us;     /* server CPU per connection */
    double ttfb[4]; /* TLS 1.3 full, resumed; TLS 1.2 full, resumed (ms; -1 none) */
};

static void summarize(const struct run *run, struct summary *s)
{
    int offered = 0, resumed = 0;
    double cpu = 0, conns = 0;

    snprintf(s->label, sizeof(s->label), "%s", run->label);
    for (int i = 0; i < run->n_results; i++) {
        const struct conn_result *r = &run->results[i];
        offered += !r->failed && r->offered_cross;
        resumed += !r->failed && r->offered_cross && r->reused;
    }
    s->cross_offers = offered;
    s->cross_pct = offered ? 100.0 * resumed / offered : 0;
    for (int i = 0; i < run->n_nodes; i++) {
        double c = delta(run, i, "process_cpu_seconds_total");
        double y = delta(run, i, "ticketring_server_connections_total{resumed=\"yes\"}");
        double n = delta(run, i, "ticketring_server_connections_total{resumed=\"no\"}");
        if (c < 0 || y < 0 || n < 0 || cpu < 0) {
            cpu = -1;
        } else {
            cpu += c;
            conns += y + n;
        }
    }
    s->cpu_us = cpu >= 0 && conns > 0 ? cpu * 1e6 / conns : -1;
    s->ttfb[0] = median_ttfb(run, (struct filter){-1, 13, 0});
    s->ttfb[1] = median_ttfb(run, (struct filter){-1, 13, 1});
    s->ttfb[2] = median_ttfb(run, (struct filter){-1, 12, 0});
    s->ttfb[3] = median_ttfb(run, (struct filter){-1, 12, 1});
}

int report_save(const struct run *run, const char *path)
{
    struct summary s;
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    summarize(run, &s);
    fprintf(f, "%d %.3f %.3f %.3f %.3f %.3f %.3f\n%s\n", s.cross_offers, s.cross_pct, s.cpu_us,
            s.ttfb[0], s.ttfb[1], s.ttfb[2], s.ttfb[3], s.label);
    return fclose(f) == 0 ? 0 : -1;
}

int report_compare(const struct run *run, const char *path)
{
    struct summary a, b;
    FILE *f = fopen(path, "r");
    int ok;

    if (f == NULL) {
        fprintf(stderr, "demo-client: cannot read %s\n", path);
        return -1;
    }
    ok = fscanf(f, "%d %lf %lf %lf %lf %lf %lf ", &a.cross_offers, &a.cross_pct, &a.cpu_us,
                &a.ttfb[0], &a.ttfb[1], &a.ttfb[2], &a.ttfb[3]) == 7 &&
         fgets(a.label, sizeof(a.label), f) != NULL;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "demo-client: %s is not a saved run\n", path);
        return -1;
    }
    a.label[strcspn(a.label, "\n")] = '\0';
    summarize(run, &b);

    /* a: the run saved first (shared keys), b: this one (each node its own).
     * A resumed connection of a is set against a full one of b: same
     * network, same version, only the handshake differs. */
    printf("\nConclusion\n");
    printf("  Cross-node resumption: %.1f %% with %s (%d offers), %.1f %% with %s (%d).\n",
           a.cross_pct, a.label, a.cross_offers, b.cross_pct, b.label, b.cross_offers);
    printf("  Server CPU per connection: %.0f µs with %s vs %.0f µs with %s: %.1fx less.\n",
           a.cpu_us, a.label, b.cpu_us, b.label, a.cpu_us > 0 ? b.cpu_us / a.cpu_us : 0.0);
    printf("  First byte sooner per resumed connection:");
    if (a.ttfb[3] >= 0 && b.ttfb[2] >= 0)
        printf(" %.1f ms with TLS 1.2 (one round trip fewer)", b.ttfb[2] - a.ttfb[3]);
    if (a.ttfb[1] >= 0 && b.ttfb[0] >= 0)
        printf("%s%.1f ms with TLS 1.3 (one round trip either way: only computation is saved)",
               a.ttfb[3] >= 0 && b.ttfb[2] >= 0 ? ",\n  " : " ", b.ttfb[0] - a.ttfb[1]);
    printf(".\n");
    return 0;
}
