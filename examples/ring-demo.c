/*
 * Three nodes, one key file: the generic ticket API across a cluster.
 *
 *   ticketring-ring-demo KEYFILE START PERIOD
 *
 * KEYFILE holds keys activating at START, START+PERIOD, ... (as written by
 * `ticketring-keys generate --start START --period PERIOD`). Each node is a
 * ring of its own with its own clock (node C runs 20 s behind), so the demo
 * walks through days of rotation in a moment. It prints what a server would
 * see and exits non-zero if anything behaves other than documented, so it
 * doubles as an end-to-end check.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ticketring/ticketring.h>
#ifdef DEMO_OPENSSL
#include <ticketring/openssl.h>
#define BACKEND tr_crypto_openssl()
#else
#include <ticketring/mbedtls.h>
#define BACKEND tr_crypto_mbedtls()
#endif

#define LIFETIME 7200

struct node {
    const char *name;
    tr_ring *ring;
    int64_t clock_ms;
    int64_t offset_ms; /* this node's clock error */
};

static int failures;

static void expect(int ok, const char *what)
{
    printf("    %s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static int64_t node_clock(void *arg)
{
    const struct node *n = arg;
    return n->clock_ms + n->offset_ms;
}

static void set_time(struct node *nodes, int count, int64_t t)
{
    for (int i = 0; i < count; i++)
        nodes[i].clock_ms = t * 1000;
}

static void short_name(const uint8_t name[TR_KEY_NAME_BYTES], char out[9])
{
    snprintf(out, 9, "%02x%02x%02x%02x", name[0], name[1], name[2], name[3]);
}

static const char *fingerprint(struct node *n, char out[TR_FINGERPRINT_HEX + 1])
{
    if (tr_ring_fingerprint(n->ring, out, TR_FINGERPRINT_HEX + 1) != 0)
        strcpy(out, "?");
    return out;
}

static int same_fingerprints(struct node *nodes, int count)
{
    char a[TR_FINGERPRINT_HEX + 1], b[TR_FINGERPRINT_HEX + 1];
    for (int i = 0; i < count; i++)
        printf("    node %s fingerprint %s\n", nodes[i].name, fingerprint(&nodes[i], a));
    for (int i = 1; i < count; i++)
        if (strcmp(fingerprint(&nodes[0], a), fingerprint(&nodes[i], b)) != 0)
            return 0;
    return 1;
}

struct ticket {
    uint8_t bytes[256];
    size_t len;
};

static int seal(struct node *n, const char *sni, const char *state, int64_t auth,
                struct ticket *t)
{
    uint8_t name[TR_KEY_NAME_BYTES];
    char key[9];
    uint32_t life = 0;
    int rc = tr_ticket_seal(n->ring, (const uint8_t *)state, strlen(state),
                            (const uint8_t *)sni, strlen(sni), (const uint8_t *)"h2", 2, NULL, 0,
                            auth, t->bytes, sizeof(t->bytes), &t->len, &life);
    if (rc == 0) {
        short_name(t->bytes + 1, key);
        printf("    node %s sealed %zu bytes for %s under key %s..., lifetime %" PRIu32 " s\n",
               n->name, t->len, sni, key, life);
    } else {
        printf("    node %s sealed nothing: %s\n", n->name, tr_strerror(rc));
    }
    (void)name;
    return rc;
}

static int open_ticket(struct node *n, const struct ticket *t, const char *sni,
                       int64_t *auth, uint32_t *flags)
{
    uint8_t state[128], name[TR_KEY_NAME_BYTES];
    size_t len = 0;
    int64_t age = 0, a = 0;
    uint32_t f = 0;
    char key[9];
    int rc = tr_ticket_open(n->ring, t->bytes, t->len, (const uint8_t *)sni, strlen(sni),
                            (const uint8_t *)"h2", 2, NULL, 0, state, sizeof(state), &len, name,
                            &a, &age, &f);
    if (rc == 0) {
        short_name(name, key);
        printf("    node %s opened it for %s: \"%.*s\", key %s..., age %" PRId64 " s%s\n",
               n->name, sni, (int)len, (const char *)state, key, age / 1000,
               (f & TR_TICKET_RENEW) ? ", renew (older key)" : "");
    } else {
        printf("    node %s refused it for %s: %s -> full handshake\n", n->name, sni,
               tr_strerror(rc));
    }
    if (auth != NULL)
        *auth = a;
    if (flags != NULL)
        *flags = f;
    return rc;
}

static void print_stats(struct node *n)
{
    tr_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    if (tr_ring_stats(n->ring, &s) != 0)
        return;
    printf("    node %s: sealed %" PRIu64 ", opened %" PRIu64 " (renew %" PRIu64
           "), refused: sni %" PRIu64 ", auth %" PRIu64 ", expired %" PRIu64
           ", unknown key %" PRIu64 "; reloads %" PRIu64 "\n",
           n->name, s.sealed, s.opened, s.opened_renew, s.refused_sni, s.refused_auth,
           s.refused_expired, s.refused_unknown_key, s.reloads);
}

int main(int argc, char **argv)
{
    struct node nodes[3] = {{"A", NULL, 0, 0}, {"B", NULL, 0, 0}, {"C", NULL, 0, -20000}};
    const char *path;
    int64_t start, period, auth = 0;
    uint32_t flags = 0, line = 0;
    struct ticket t, renewed, tampered;
    tr_ring *op = NULL;

    if (argc != 4) {
        fprintf(stderr, "usage: %s KEYFILE START PERIOD\n", argv[0]);
        return 2;
    }
    path = argv[1];
    start = strtoll(argv[2], NULL, 10);
    period = strtoll(argv[3], NULL, 10);
    if (period <= LIFETIME) {
        fprintf(stderr, "%s: PERIOD must exceed the %d s ticket lifetime\n", argv[0], LIFETIME);
        return 2;
    }

    printf("libticketring %s: three nodes share %s\n\n", tr_version_string(), path);
    printf("1. Every node loads the key file; the fingerprints agree.\n");
    for (int i = 0; i < 3; i++) {
        if (tr_ring_new(&nodes[i].ring, BACKEND) != 0 ||
            tr_ring_set_clock(nodes[i].ring, node_clock, &nodes[i]) != 0 ||
            tr_ring_set_lifetime(nodes[i].ring, LIFETIME) != 0 ||
            tr_ring_load(nodes[i].ring, path, &line) != 0) {
            fprintf(stderr, "node %s: cannot load %s (line %" PRIu32 ")\n", nodes[i].name, path,
                    line);
            return 1;
        }
    }
    set_time(nodes, 3, start + period - 900); /* late in the first key's period */
    expect(same_fingerprints(nodes, 3), "same keys everywhere");

    printf("\n2. A client's full handshake lands on A; it resumes on B and on C (20 s behind).\n");
    expect(seal(&nodes[0], "shop.example", "user=42 cart=7", 0, &t) == 0, "A issues a ticket");
    set_time(nodes, 3, start + period - 300);
    expect(open_ticket(&nodes[1], &t, "shop.example", NULL, NULL) == 0, "B resumes it");
    expect(open_ticket(&nodes[2], &t, "shop.example", NULL, NULL) == 0, "C resumes it");

    printf("\n3. Attacks fall back to a full handshake, never an error.\n");
    expect(open_ticket(&nodes[2], &t, "admin.example", NULL, NULL) == TR_E_TICKET_SNI,
           "a ticket for shop.example does not resume admin.example");
    tampered = t;
    tampered.bytes[tampered.len / 2] ^= 0x01;
    expect(open_ticket(&nodes[1], &tampered, "shop.example", NULL, NULL) == TR_E_TICKET_AUTH,
           "a tampered ticket is refused");

    printf("\n4. The schedule rotates by itself: at START+PERIOD the second key encrypts.\n");
    set_time(nodes, 3, start + period + 30);
    expect(open_ticket(&nodes[1], &t, "shop.example", &auth, &flags) == 0 &&
               (flags & TR_TICKET_RENEW),
           "B still opens the old ticket and asks for a renewal");
    expect(seal(&nodes[1], "shop.example", "user=42 cart=7", auth, &renewed) == 0 &&
               memcmp(renewed.bytes + 1, t.bytes + 1, TR_KEY_NAME_BYTES) != 0,
           "B renews it under the new key, keeping the original auth time");
    expect(open_ticket(&nodes[0], &renewed, "shop.example", NULL, NULL) == 0,
           "A opens the renewed ticket");

    printf("\n5. An operator adds a key to the file; A reloads first (drift), then B and C.\n");
    if (tr_ring_new(&op, BACKEND) != 0 || tr_ring_load(op, path, NULL) != 0 ||
        tr_ring_generate_key(op, start + 10 * period, NULL) != 0 || tr_ring_save(op, path) != 0) {
        fprintf(stderr, "cannot extend %s\n", path);
        return 1;
    }
    tr_ring_free(op);
    expect(tr_ring_reload(nodes[0].ring, NULL) == 0, "A reloads");
    expect(!same_fingerprints(nodes, 3), "drift is visible in the fingerprints");
    expect(tr_ring_reload(nodes[1].ring, NULL) == 0 && tr_ring_reload(nodes[2].ring, NULL) == 0,
           "B and C reload");
    expect(same_fingerprints(nodes, 3), "the fleet agrees again");

    printf("\n6. Lifetime and retirement, %d s later.\n", LIFETIME);
    set_time(nodes, 3, start + period + 30 + LIFETIME + 61);
    expect(open_ticket(&nodes[0], &renewed, "shop.example", NULL, NULL) == TR_E_TICKET_EXPIRED,
           "an expired ticket is refused");
    expect(open_ticket(&nodes[1], &t, "shop.example", NULL, NULL) == TR_E_TICKET_UNKNOWN_KEY,
           "the first key has retired (lifetime + skew after the second activated)");

    printf("\n7. Counters, per node:\n");
    for (int i = 0; i < 3; i++)
        print_stats(&nodes[i]);
    for (int i = 0; i < 3; i++)
        tr_ring_free(nodes[i].ring);

    printf("\n%s\n", failures == 0 ? "demo: every expectation held" : "demo: FAILED");
    return failures == 0 ? 0 : 1;
}
