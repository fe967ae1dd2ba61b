#define TU_TLS_WITH_RING 1
#include "tls_util.h"
#include "ticket_key_cb.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_keyfile_new(const int64_t *activations, size_t n)
{
    char dir[] = "/tmp/tr-ossl-XXXXXX";
    char *path = NULL;
    tr_ring *ring = NULL;
    int rc;

    if (mkdtemp(dir) == NULL)
        return NULL;
    path = malloc(sizeof(dir) + sizeof("/keys"));
    if (path == NULL)
        goto fail;
    snprintf(path, sizeof(dir) + sizeof("/keys"), "%s/keys", dir);
    rc = tr_ring_new(&ring, tr_crypto_openssl());
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = tr_ring_generate_key(ring, activations[i], NULL);
    if (rc == 0)
        rc = tr_ring_save(ring, path);
    tr_ring_free(ring);
    if (rc == 0)
        return path;
    fprintf(stderr, "tls_node: key file: %s\n", tr_strerror(rc));
fail:
    if (path != NULL)
        unlink(path);
    free(path);
    rmdir(dir);
    return NULL;
}

void tu_keyfile_free(char *path)
{
    char *slash;
    if (path == NULL)
        return;
    unlink(path);
    slash = strrchr(path, '/');
    if (slash != NULL) {
        *slash = '\0';
        rmdir(path);
    }
    free(path);
}

int64_t tu_node_clock(void *arg)
{
    return *(const int64_t *)arg;
}

void tu_ticket_cb_from_env(void)
{
    const char *cb = getenv("TR_TEST_TICKET_CB");
    tri_ossl_ticket_cb_evp_only = cb != NULL && strcmp(cb, "evp") == 0;
}

int tu_node_init(struct tu_node *n, const struct tu_tls_identity *ident, const char *keyfile,
                 const char *id, int64_t now_ms, const struct tu_node_policy *policy,
                 const char *alpn_csv)
{
    uint32_t line = 0;
    int rc;

    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id != NULL ? id : "");
    n->clock_ms = now_ms;
    rc = tr_ring_new(&n->ring, tr_crypto_openssl());
    if (rc == 0)
        rc = tr_ring_set_clock(n->ring, tu_node_clock, &n->clock_ms);
    if (rc == 0 && policy != NULL && policy->lifetime != 0)
        rc = tr_ring_set_lifetime(n->ring, policy->lifetime);
    if (rc == 0 && policy != NULL && policy->skew != 0)
        rc = tr_ring_set_skew(n->ring, policy->skew);
    if (rc == 0 && policy != NULL && policy->max_age != 0)
        rc = tr_ring_set_max_age(n->ring, policy->max_age);
    if (rc == 0 && keyfile != NULL)
        rc = tr_ring_load(n->ring, keyfile, &line);
    if (rc == 0 && policy != NULL && policy->early_max != 0) {
        /* The cache reads the node's clock, so its start-up window runs on
         * it too: tests move clock_ms past it before 0-RTT can pass. */
        rc = tr_replay_new(&n->replay, policy->replay_capacity != 0 ? policy->replay_capacity
                                                                   : TU_NODE_REPLAY_CAPACITY,
                           TU_NODE_REPLAY_WINDOW_MS);
        if (rc == 0)
            rc = tr_replay_set_clock(n->replay, tu_node_clock, &n->clock_ms);
        if (rc == 0)
            rc = tr_ring_set_early_data(n->ring, policy->early_max, n->replay);
    }
    if (rc != 0) {
        fprintf(stderr, "tls_node %s: ring: %s (line %u)\n", n->id, tr_strerror(rc), line);
        goto fail;
    }
    n->ctx = tu_tls_server_ctx(ident, alpn_csv);
    if (n->ctx == NULL)
        goto fail;
    tu_ticket_cb_from_env();
    rc = tr_openssl_attach(n->ctx, n->ring, id);
    if (rc != 0) {
        fprintf(stderr, "tls_node %s: attach: %s\n", n->id, tr_strerror(rc));
        goto fail;
    }
    return 0;
fail:
    tu_node_free(n);
    return -1;
}

void tu_node_free(struct tu_node *n)
{
    SSL_CTX_free(n->ctx);
    tr_ring_free(n->ring);
    /* After the ring: it holds the cache until it is freed. */
    tr_replay_free(n->replay);
    n->ctx = NULL;
    n->ring = NULL;
    n->replay = NULL;
}

void tu_nodes_set_clock(struct tu_node *nodes, size_t count, int64_t now_ms)
{
    for (size_t i = 0; i < count; i++)
        nodes[i].clock_ms = now_ms;
}

tr_stats tu_node_stats(const struct tu_node *n)
{
    tr_stats st;
    memset(&st, 0, sizeof(st));
    st.size = sizeof(st);
    if (tr_ring_stats(n->ring, &st) != 0) {
        memset(&st, 0, sizeof(st));
        st.size = sizeof(st);
    }
    return st;
}

static const struct {
    const char *name;
    size_t offset;
} counters[] = {
#define C(f) {#f, offsetof(tr_stats, f)}
    C(sealed),          C(seal_no_key),         C(seal_overdue),       C(opened),
    C(opened_renew),    C(refused_malformed),   C(refused_unknown_key), C(refused_auth),
    C(refused_expired), C(refused_future),      C(refused_sni),        C(refused_alpn),
    C(refused_context), C(reloads),             C(reload_failures),    C(refused_unbound),
    /* listed with the refusals (0.4.0), before the handshake counts */
    C(refused_other_format),
    C(opened_unbound),  C(handshakes_full),     C(handshakes_resumed), C(resumed_cross_node),
    C(tickets_renewed),
    /* since 0.3.0 */
    C(early_accepted),       C(early_refused_off),  C(early_refused_stale),
    C(early_refused_node),   C(early_refused_sni),  C(early_refused_alpn),
    C(early_refused_replay), C(early_refused_full), C(early_refused_startup),
    C(early_refused_tls),
    /* since 0.4.0 */
    C(early_refused_store),
#undef C
};

_Static_assert(sizeof(counters) / sizeof(counters[0]) ==
                   (sizeof(tr_stats) - offsetof(tr_stats, sealed)) / sizeof(uint64_t),
               "every tr_stats counter is listed");

void tu_stats_diff(const tr_stats *before, const tr_stats *after, char *out, size_t cap)
{
    size_t len = 0;

    out[0] = '\0';
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        uint64_t a, b;
        int n;
        memcpy(&a, (const char *)before + counters[i].offset, sizeof(a));
        memcpy(&b, (const char *)after + counters[i].offset, sizeof(b));
        if (a == b)
            continue;
        n = snprintf(out + len, cap - len, "%s%s%s%lld", len ? " " : "", counters[i].name,
                     b > a ? "+" : "-", (long long)(b > a ? b - a : a - b));
        if (n < 0 || (size_t)n >= cap - len)
            return;
        len += (size_t)n;
    }
}

uint64_t tu_stats_get(const tr_stats *st, const char *name)
{
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        if (strcmp(counters[i].name, name) == 0) {
            uint64_t v;
            memcpy(&v, (const char *)st + counters[i].offset, sizeof(v));
            return v;
        }
    }
    fprintf(stderr, "tls_node: no counter named %s\n", name);
    abort();
}

int tu_cluster_init(struct tu_cluster *c, size_t n, const int64_t *activations, size_t nkeys,
                    int64_t now_ms, const struct tu_node_policy *policy, const char *alpn_csv)
{
    memset(c, 0, sizeof(*c));
    if (n > TU_CLUSTER_MAX || tu_tls_identity_new(&c->ident) != 0)
        return -1;
    c->keyfile = tu_keyfile_new(activations, nkeys);
    c->client = tu_tls_client_ctx();
    if (c->keyfile == NULL || c->client == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        char id[16];
        snprintf(id, sizeof(id), "node-%c", (char)('a' + i));
        if (tu_node_init(&c->node[i], &c->ident, c->keyfile, id, now_ms, policy, alpn_csv) != 0)
            goto fail;
        c->n = i + 1;
    }
    tu_cluster_mark(c);
    return 0;
fail:
    tu_cluster_free(c);
    return -1;
}

void tu_cluster_free(struct tu_cluster *c)
{
    for (size_t i = 0; i < c->n; i++)
        tu_node_free(&c->node[i]);
    c->n = 0;
    SSL_CTX_free(c->client);
    c->client = NULL;
    tu_keyfile_free(c->keyfile);
    c->keyfile = NULL;
    tu_tls_identity_free(&c->ident);
}

void tu_cluster_mark(struct tu_cluster *c)
{
    for (size_t i = 0; i < c->n; i++)
        c->mark[i] = tu_node_stats(&c->node[i]);
}

const char *tu_cluster_moved(struct tu_cluster *c, size_t i)
{
    tr_stats now = tu_node_stats(&c->node[i]);
    tu_stats_diff(&c->mark[i], &now, c->moved[i], sizeof(c->moved[i]));
    return c->moved[i];
}
