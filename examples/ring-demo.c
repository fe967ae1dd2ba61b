/*
 * ticketring-ring-demo: three nodes share one key file.
 *
 *   ticketring-ring-demo KEYFILE
 *
 * KEYFILE holds at least three keys that activate one rotation period apart
 * (`ticketring-keys generate --out KEYFILE --count 3 --period 3600`); the
 * demo adds a key to it (the operator's part) half-way through.
 *
 * Each node is its own process with its own ring, as on three machines; the
 * coordinator below talks to them over pipes, the way tickets travel over the
 * network, and drives one simulated clock (injected with tr_ring_set_clock,
 * so rotations take no waiting). It shows the key schedule, a ticket sealed
 * on one node and opened on the others, renewal after a rotation, key-set
 * fingerprints drifting and converging across reloads, the refusals (wrong
 * SNI, tampering, expiry, retired key) and the counters.
 *
 * It uses only the public API, linked against the shared libraries. Exit
 * status: 0 when every expectation held, 1 otherwise (it doubles as an
 * end-to-end check), 2 on a usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ticketring/ticketring.h>
#if defined(DEMO_BACKEND_OPENSSL)
#include <ticketring/openssl.h>
#define DEMO_BACKEND() tr_crypto_openssl()
#define DEMO_BACKEND_NAME "OpenSSL"
#elif defined(DEMO_BACKEND_MBEDTLS)
#include <ticketring/mbedtls.h>
#define DEMO_BACKEND() tr_crypto_mbedtls()
#define DEMO_BACKEND_NAME "mbedTLS"
#else
#error "define DEMO_BACKEND_OPENSSL or DEMO_BACKEND_MBEDTLS"
#endif

#define SKEW 60          /* clock difference tolerated between nodes, seconds */
#define C_LAG 20         /* node C's clock runs this many seconds behind */
#define MAX_LIFETIME 7200 /* ticket lifetime: the rotation period, at most this */
#define N_NODES 3
#define LINE_MAX_BYTES (2 * TR_TICKET_MAX_BYTES + 256)

static void hex_encode(const uint8_t *p, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode hex (a "-" means empty) into out (cap bytes); -1 if malformed. */
static long hex_decode(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s);
    if (strcmp(s, "-") == 0)
        return 0;
    if (n % 2 != 0 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(n / 2);
}

/* =========================================================================
 * A node: a process with its own ring, answering one line per command.
 * ========================================================================= */

static int64_t node_clock(void *arg)
{
    return *(const int64_t *)arg;
}

static void node_log(int32_t level, const char *msg, void *arg)
{
    if (level <= TR_LOG_WARN)
        fprintf(stderr, "    [node %s log] %s\n", (const char *)arg, msg);
}

static const char *opt(const char *s)
{
    return strcmp(s, "-") == 0 ? "" : s;
}

static void node_reply_err(FILE *out, int rc, uint32_t line)
{
    fprintf(out, "err %d %u\n", rc, line);
}

static void node_seal(tr_ring *ring, FILE *out, const char *sni, const char *alpn,
                      const char *auth, const char *state_hex)
{
    static uint8_t state[TR_TICKET_MAX_STATE], ticket[TR_TICKET_MAX_BYTES];
    static char hex[2 * TR_TICKET_MAX_BYTES + 1];
    long state_len = hex_decode(state_hex, state, sizeof(state));
    size_t ticket_len = 0;
    uint32_t lifetime = 0;
    int rc;

    if (state_len < 0) {
        node_reply_err(out, TR_E_INVAL, 0);
        return;
    }
    rc = tr_ticket_seal(ring, state, (size_t)state_len, (const uint8_t *)opt(sni),
                        strlen(opt(sni)), (const uint8_t *)opt(alpn), strlen(opt(alpn)), NULL,
                        0, strtoll(auth, NULL, 10), ticket, sizeof(ticket), &ticket_len,
                        &lifetime);
    if (rc != 0) {
        node_reply_err(out, rc, 0);
        return;
    }
    hex_encode(ticket, ticket_len, hex);
    fprintf(out, "ok %s %" PRIu32 "\n", hex, lifetime);
}

static void node_open(tr_ring *ring, FILE *out, const char *sni, const char *alpn,
                      const char *ticket_hex)
{
    static uint8_t ticket[TR_TICKET_MAX_BYTES], state[TR_TICKET_MAX_STATE];
    static char hex[2 * TR_TICKET_MAX_STATE + 1];
    uint8_t name[TR_KEY_NAME_BYTES];
    char name_hex[2 * TR_KEY_NAME_BYTES + 1];
    long ticket_len = hex_decode(ticket_hex, ticket, sizeof(ticket));
    size_t state_len = 0;
    int64_t auth = 0, age = 0;
    uint32_t flags = 0;
    int rc;

    if (ticket_len < 0) {
        node_reply_err(out, TR_E_INVAL, 0);
        return;
    }
    rc = tr_ticket_open(ring, ticket, (size_t)ticket_len, (const uint8_t *)opt(sni),
                        strlen(opt(sni)), (const uint8_t *)opt(alpn), strlen(opt(alpn)), NULL,
                        0, state, sizeof(state), &state_len, name, &auth, &age, &flags);
    if (rc != 0) {
        node_reply_err(out, rc, 0);
        return;
    }
    hex_encode(name, sizeof(name), name_hex);
    hex_encode(state, state_len, hex);
    fprintf(out, "ok %s %" PRIu32 " %" PRId64 " %" PRId64 " %s\n", name_hex, flags, auth, age,
            state_len > 0 ? hex : "-");
}

static void node_info(tr_ring *ring, FILE *out)
{
    char fp[TR_FINGERPRINT_HEX + 1];
    uint8_t name[TR_KEY_NAME_BYTES];
    char name_hex[2 * TR_KEY_NAME_BYTES + 1];
    uint32_t n = 0;
    int rc = tr_ring_fingerprint(ring, fp, sizeof(fp));

    if (rc == 0)
        rc = tr_ring_key_count(ring, &n);
    if (rc != 0) {
        node_reply_err(out, rc, 0);
        return;
    }
    if (tr_ring_encrypt_key_name(ring, name) == 0)
        hex_encode(name, sizeof(name), name_hex);
    else
        strcpy(name_hex, "-");
    fprintf(out, "ok %s %s %" PRIu32, fp, name_hex, n);
    /* Then each key: name:activation:role. */
    for (uint32_t i = 0; i < n; i++) {
        int64_t act = 0;
        int32_t role = 0;
        if (tr_ring_key_info(ring, i, name, &act, &role) != 0)
            break;
        hex_encode(name, sizeof(name), name_hex);
        fprintf(out, " %s:%" PRId64 ":%" PRId32, name_hex, act, role);
    }
    fputc('\n', out);
}

static void node_stats(tr_ring *ring, FILE *out)
{
    tr_stats s;
    memset(&s, 0, sizeof(s));
    s.size = sizeof(s);
    if (tr_ring_stats(ring, &s) != 0) {
        node_reply_err(out, TR_E_INVAL, 0);
        return;
    }
    fprintf(out,
            "ok %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
            " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
            " %" PRIu64 "\n",
            s.sealed, s.opened, s.opened_renew, s.refused_malformed, s.refused_unknown_key,
            s.refused_auth, s.refused_expired, s.refused_future, s.refused_sni,
            s.refused_alpn, s.refused_context, s.reloads, s.reload_failures);
}

/* The node's loop: commands on `in`, one reply line each on `out`. */
static int node_main(const char *name, FILE *in, FILE *out)
{
    tr_ring *ring = NULL;
    int64_t now_ms = 0;
    char *line = NULL, *argv[6];
    size_t cap = 0;
    uint32_t err_line = 0;
    int rc;

    rc = tr_ring_new(&ring, DEMO_BACKEND());
    if (rc == 0)
        rc = tr_ring_set_clock(ring, node_clock, &now_ms);
    if (rc == 0)
        rc = tr_ring_set_log(ring, node_log, (void *)name);
    if (rc == 0)
        rc = tr_ring_set_skew(ring, SKEW);
    /* The simulated clock starts at 0 and is set from the file's own times
     * after loading it: no activation horizon (it is relative to now). */
    if (rc == 0)
        rc = tr_ring_set_activation_horizon(ring, 0);
    if (rc != 0) {
        fprintf(stderr, "node %s: no ring: %s\n", name, tr_strerror(rc));
        return 1;
    }
    while (getline(&line, &cap, in) > 0) {
        int argc = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \n", &save); tok != NULL && argc < 6;
             tok = strtok_r(NULL, " \n", &save))
            argv[argc++] = tok;
        if (argc == 0)
            continue;
        if (strcmp(argv[0], "quit") == 0)
            break;
        if (strcmp(argv[0], "clock") == 0 && argc == 2) {
            now_ms = strtoll(argv[1], NULL, 10);
            fprintf(out, "ok\n");
        } else if (strcmp(argv[0], "lifetime") == 0 && argc == 2) {
            rc = tr_ring_set_lifetime(ring, (uint32_t)strtoul(argv[1], NULL, 10));
            if (rc == 0)
                fprintf(out, "ok\n");
            else
                node_reply_err(out, rc, 0);
        } else if (strcmp(argv[0], "load") == 0 && argc == 2) {
            rc = tr_ring_load(ring, argv[1], &err_line);
            if (rc == 0)
                node_info(ring, out);
            else
                node_reply_err(out, rc, err_line);
        } else if (strcmp(argv[0], "reload") == 0 && argc == 1) {
            rc = tr_ring_reload(ring, &err_line);
            if (rc == 0)
                node_info(ring, out);
            else
                node_reply_err(out, rc, err_line);
        } else if (strcmp(argv[0], "info") == 0 && argc == 1) {
            node_info(ring, out);
        } else if (strcmp(argv[0], "seal") == 0 && argc == 5) {
            node_seal(ring, out, argv[1], argv[2], argv[3], argv[4]);
        } else if (strcmp(argv[0], "open") == 0 && argc == 4) {
            node_open(ring, out, argv[1], argv[2], argv[3]);
        } else if (strcmp(argv[0], "stats") == 0 && argc == 1) {
            node_stats(ring, out);
        } else {
            node_reply_err(out, TR_E_INVAL, 0);
        }
        fflush(out);
    }
    free(line);
    tr_ring_free(ring);
    return 0;
}

/* =========================================================================
 * The coordinator.
 * ========================================================================= */

struct node {
    char name[2];
    pid_t pid;
    FILE *to, *from;
};

static struct node nodes[N_NODES];
static int n_nodes;
static int checks, failures;
static int64_t now_s;       /* the simulated clock, shared by every node */
static int64_t t_origin;    /* first key's activation, for "+h:mm" */
static int64_t lifetime;    /* ticket lifetime, seconds */

static int start_node(struct node *nd, const char *name)
{
    int cmd[2], reply[2];
    pid_t pid;

    if (pipe(cmd) != 0 || pipe(reply) != 0)
        return -1;
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        FILE *in, *out;
        /* Only our own pipe ends: a sibling's would keep it from seeing
         * end of file. */
        for (int i = 0; i < n_nodes; i++) {
            fclose(nodes[i].to);
            fclose(nodes[i].from);
        }
        close(cmd[1]);
        close(reply[0]);
        in = fdopen(cmd[0], "r");
        out = fdopen(reply[1], "w");
        _exit(in != NULL && out != NULL ? node_main(name, in, out) : 1);
    }
    close(cmd[0]);
    close(reply[1]);
    snprintf(nd->name, sizeof(nd->name), "%s", name);
    nd->pid = pid;
    nd->to = fdopen(cmd[1], "w");
    nd->from = fdopen(reply[0], "r");
    return nd->to != NULL && nd->from != NULL ? 0 : -1;
}

static void stop_nodes(void)
{
    for (int i = 0; i < n_nodes; i++) {
        int status;
        fprintf(nodes[i].to, "quit\n");
        fclose(nodes[i].to);
        fclose(nodes[i].from);
        waitpid(nodes[i].pid, &status, 0);
    }
    n_nodes = 0;
}

/* Send one command, return its reply line (valid until the next call); on
 * a dead node, stop everything. */
__attribute__((format(printf, 2, 3))) static char *cmd(struct node *nd, const char *fmt, ...)
{
    static char *reply;
    static size_t cap;
    va_list ap;
    ssize_t n;

    va_start(ap, fmt);
    vfprintf(nd->to, fmt, ap);
    va_end(ap);
    fputc('\n', nd->to);
    fflush(nd->to);
    n = getline(&reply, &cap, nd->from);
    if (n <= 0) {
        fprintf(stderr, "ring-demo: node %s stopped answering\n", nd->name);
        exit(1);
    }
    if (reply[n - 1] == '\n')
        reply[n - 1] = '\0';
    return reply;
}

/* A reply "err CODE LINE" as its code, 0 for "ok ...". */
static int reply_code(const char *reply)
{
    if (strncmp(reply, "ok", 2) == 0)
        return 0;
    return strncmp(reply, "err ", 4) == 0 ? atoi(reply + 4) : TR_E_INVAL;
}

static void expect(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void expect(int ok, const char *fmt, ...)
{
    va_list ap;
    checks++;
    if (!ok)
        failures++;
    printf("   %s ", ok ? "[ok]  " : "[FAIL]");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Every node's clock to t; node C's runs C_LAG seconds behind (within the
 * allowed skew, so nothing it does may differ). */
static void set_clock(int64_t t)
{
    now_s = t;
    for (int i = 0; i < n_nodes; i++)
        if (reply_code(cmd(&nodes[i], "clock %" PRId64,
                           (t - (i == 2 ? C_LAG : 0)) * 1000)) != 0)
            exit(1);
}

static void step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void step(const char *fmt, ...)
{
    char when[32];
    struct tm tm;
    time_t t = (time_t)now_s;
    int64_t rel = now_s - t_origin;
    va_list ap;

    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    printf("\n-- %s UTC (key 1 %c %" PRId64 "h%02" PRId64 "m) -- ", when, rel < 0 ? '-' : '+',
           (rel < 0 ? -rel : rel) / 3600, ((rel < 0 ? -rel : rel) % 3600) / 60);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* ---- what a node's "info" reply says ---------------------------------- */

struct info {
    char fp[TR_FINGERPRINT_HEX + 1];
    char enc[2 * TR_KEY_NAME_BYTES + 1];
    uint32_t n;
    char names[TR_RING_MAX_KEYS][2 * TR_KEY_NAME_BYTES + 1];
    int64_t act[TR_RING_MAX_KEYS];
    int32_t role[TR_RING_MAX_KEYS];
};

static int parse_info(const char *reply, struct info *in)
{
    char *copy = strdup(reply), *save = NULL, *tok;
    int rc = -1;

    memset(in, 0, sizeof(*in));
    if (copy == NULL || strncmp(copy, "ok ", 3) != 0)
        goto out;
    tok = strtok_r(copy + 3, " ", &save);
    if (tok == NULL)
        goto out;
    snprintf(in->fp, sizeof(in->fp), "%s", tok);
    tok = strtok_r(NULL, " ", &save);
    if (tok == NULL)
        goto out;
    snprintf(in->enc, sizeof(in->enc), "%s", tok);
    tok = strtok_r(NULL, " ", &save);
    if (tok == NULL)
        goto out;
    in->n = (uint32_t)strtoul(tok, NULL, 10);
    for (uint32_t i = 0; i < in->n && i < TR_RING_MAX_KEYS; i++) {
        tok = strtok_r(NULL, " ", &save);
        if (tok == NULL || sscanf(tok, "%32[0-9a-f]:%" SCNd64 ":%" SCNd32, in->names[i],
                                  &in->act[i], &in->role[i]) != 3)
            goto out;
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

static struct info node_info_of(struct node *nd)
{
    struct info in;
    if (parse_info(cmd(nd, "info"), &in) != 0) {
        fprintf(stderr, "ring-demo: node %s: bad info reply\n", nd->name);
        exit(1);
    }
    return in;
}

static const char *role_name(int32_t role)
{
    switch (role) {
    case TR_KEY_PENDING:
        return "pending (already decrypts)";
    case TR_KEY_ENCRYPT:
        return "ENCRYPT";
    case TR_KEY_DECRYPT:
        return "decrypt only";
    case TR_KEY_RETIRED:
        return "retired";
    default:
        return "?";
    }
}

/* Short, public form of a key name (names travel in every ticket). */
static const char *short_name(const char *hex)
{
    static char buf[4][16];
    static int next;
    char *b = buf[next++ & 3];
    snprintf(b, sizeof(buf[0]), "%.8s..", hex);
    return b;
}

static int key_index(const struct info *in, const char *name_hex)
{
    for (uint32_t i = 0; i < in->n; i++)
        if (strcmp(in->names[i], name_hex) == 0)
            return (int)i + 1;
    return 0;
}

static void show_keys(struct node *nd)
{
    struct info in = node_info_of(nd);
    for (uint32_t i = 0; i < in.n; i++) {
        char when[32];
        struct tm tm;
        time_t t = (time_t)in.act[i];
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        printf("   node %s key %u  %s  activates %s  %s\n", nd->name, i + 1,
               short_name(in.names[i]), when, role_name(in.role[i]));
    }
}

/* Print every node's fingerprint; returns 1 when all are equal. */
static int show_fingerprints(struct info *out)
{
    int equal = 1;
    printf("   fingerprints:");
    for (int i = 0; i < n_nodes; i++) {
        out[i] = node_info_of(&nodes[i]);
        printf("  %s %s", nodes[i].name, out[i].fp);
        if (strcmp(out[i].fp, out[0].fp) != 0)
            equal = 0;
    }
    putchar('\n');
    return equal;
}

/* ---- tickets -------------------------------------------------------------- */

struct ticket {
    char hex[2 * TR_TICKET_MAX_BYTES + 1];
    char key[2 * TR_KEY_NAME_BYTES + 1];
    size_t len;
    uint32_t lifetime;
    int64_t sealed_at;
};

static int seal(struct node *nd, const char *sni, const char *alpn, int64_t auth,
                const char *state, struct ticket *t)
{
    static char state_hex[2 * 256 + 1];
    char *reply;
    char *sp;
    int rc;

    hex_encode((const uint8_t *)state, strlen(state), state_hex);
    reply = cmd(nd, "seal %s %s %" PRId64 " %s", sni, alpn, auth, state_hex);
    rc = reply_code(reply);
    if (rc != 0)
        return rc;
    sp = strchr(reply + 3, ' ');
    if (sp == NULL)
        return TR_E_INVAL;
    *sp = '\0';
    snprintf(t->hex, sizeof(t->hex), "%s", reply + 3);
    t->lifetime = (uint32_t)strtoul(sp + 1, NULL, 10);
    t->len = strlen(t->hex) / 2;
    /* Bytes 1..16 of a v1 ticket are the key name (docs/ticket-format.md). */
    snprintf(t->key, sizeof(t->key), "%.32s", t->hex + 2);
    t->sealed_at = now_s;
    return 0;
}

struct opened {
    char key[2 * TR_KEY_NAME_BYTES + 1];
    uint32_t flags;
    int64_t auth, age_ms;
    char state[257];
};

static int open_on(struct node *nd, const char *sni, const char *alpn, const char *ticket_hex,
                   struct opened *o)
{
    char *reply = cmd(nd, "open %s %s %s", sni, alpn, ticket_hex);
    char state_hex[2 * 256 + 1];
    long n;
    int rc = reply_code(reply);

    memset(o, 0, sizeof(*o));
    if (rc != 0)
        return rc;
    if (sscanf(reply, "ok %32s %" SCNu32 " %" SCNd64 " %" SCNd64 " %512s", o->key, &o->flags,
               &o->auth, &o->age_ms, state_hex) != 5)
        return TR_E_INVAL;
    n = hex_decode(state_hex, (uint8_t *)o->state, sizeof(o->state) - 1);
    if (n < 0)
        return TR_E_INVAL;
    o->state[n] = '\0';
    return 0;
}

static const uint64_t *node_stats_of(struct node *nd)
{
    static uint64_t v[13];
    const char *reply = cmd(nd, "stats");
    if (sscanf(reply,
               "ok %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
               " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
               " %" SCNu64,
               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
               &v[11], &v[12]) != 13) {
        fprintf(stderr, "ring-demo: node %s: bad stats reply\n", nd->name);
        exit(1);
    }
    return v;
}
enum { S_SEALED, S_OPENED, S_RENEW, S_MALFORMED, S_UNKNOWN, S_AUTH, S_EXPIRED, S_FUTURE,
       S_SNI, S_ALPN, S_CONTEXT, S_RELOADS, S_RELOAD_FAILURES };

/* The operator adds the next key to the file, through the public API: load
 * it into a ring of its own, draw a key one period after the newest, save
 * atomically (temporary file, fsync, rename). */
static int operator_adds_key(const char *path, char *name_hex)
{
    tr_ring *ring = NULL;
    uint8_t name[TR_KEY_NAME_BYTES];
    int64_t last = 0, prev = 0;
    uint32_t n = 0;
    int rc = tr_ring_new(&ring, DEMO_BACKEND());

    if (rc == 0)
        rc = tr_ring_load(ring, path, NULL);
    if (rc == 0)
        rc = tr_ring_key_count(ring, &n);
    if (rc == 0 && n < 2)
        rc = TR_E_INVAL;
    if (rc == 0)
        rc = tr_ring_key_info(ring, n - 1, NULL, &last, NULL);
    if (rc == 0)
        rc = tr_ring_key_info(ring, n - 2, NULL, &prev, NULL);
    if (rc == 0)
        rc = tr_ring_generate_key(ring, last + (last - prev), name);
    if (rc == 0)
        rc = tr_ring_save(ring, path);
    if (rc == 0)
        hex_encode(name, sizeof(name), name_hex);
    tr_ring_free(ring);
    return rc;
}

static const char *code_name(int rc)
{
    return rc == 0 ? "accepted" : tr_strerror(rc);
}

int main(int argc, char **argv)
{
    static const char *const names[N_NODES] = {"A", "B", "C"};
    const char *path;
    const char *state1 = "user=alice; cart=3 items";
    struct info fp[N_NODES], a;
    struct ticket t1, t2, t3;
    struct opened o;
    char added[2 * TR_KEY_NAME_BYTES + 1];
    int64_t period, k1, k2, k3;
    int rc;

    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s KEYFILE\n"
                        "  KEYFILE: at least 3 keys one period apart, e.g.\n"
                        "  ticketring-keys generate --out KEYFILE --count 3 --period 3600\n",
                argv[0]);
        return 2;
    }
    path = argv[1];
    signal(SIGPIPE, SIG_IGN);

    printf("libticketring %s ring demo: nodes A, B and C are separate processes with one\n"
           "ring each, loading the same key file; one simulated clock drives them all.\n",
           tr_version_string());

    for (int i = 0; i < N_NODES; i++) {
        if (start_node(&nodes[i], names[i]) != 0) {
            perror("ring-demo: starting a node");
            return 1;
        }
        n_nodes++;
    }

    /* ---- 1. load ---------------------------------------------------------- */
    for (int i = 0; i < n_nodes; i++) {
        char *reply = cmd(&nodes[i], "load %s", path);
        if (reply_code(reply) != 0) {
            fprintf(stderr, "ring-demo: node %s cannot load %s: %s\n", names[i], path,
                    tr_strerror(reply_code(reply)));
            stop_nodes();
            return 1;
        }
    }
    a = node_info_of(&nodes[0]);
    if (a.n < 3 || a.act[1] - a.act[0] < 600 || a.act[2] - a.act[1] < 600) {
        fprintf(stderr, "ring-demo: %s needs 3 or more keys, activating at least 600 s "
                        "apart\n", path);
        stop_nodes();
        return 2;
    }
    k1 = a.act[0], k2 = a.act[1], k3 = a.act[2];
    period = k2 - k1;
    t_origin = k1;
    /* A key retires one lifetime (+ skew) after its successor activates,
     * so with a lifetime no longer than the rotation period a node holds at
     * most three keys that decrypt. */
    lifetime = period < MAX_LIFETIME ? period : MAX_LIFETIME;
    for (int i = 0; i < n_nodes; i++)
        if (reply_code(cmd(&nodes[i], "lifetime %" PRId64, lifetime)) != 0)
            return 1;
    printf("Backend %s; keys rotate every %" PRId64 " s; ticket lifetime %" PRId64
           " s; allowed skew %d s;\nnode C's clock runs %d s behind the others'.\n",
           DEMO_BACKEND_NAME, period, lifetime, SKEW, C_LAG);
    /* Half a lifetime before key 2 takes over. */
    set_clock(k2 - lifetime / 2);
    step("every node loads %s", path);
    show_keys(&nodes[0]);
    expect(show_fingerprints(fp), "the fingerprints agree: every node holds the same keys");

    /* ---- 2. seal on A, open on B and C ------------------------------------ */
    step("A issues a ticket; the client comes back to B, then to C");
    rc = seal(&nodes[0], "shop.example", "h2", 0, state1, &t1);
    expect(rc == 0, "A seals \"%s\" for shop.example/h2: %zu bytes, key %d (%s), lifetime %u s",
           state1, t1.len, key_index(&a, t1.key), short_name(t1.key), t1.lifetime);
    expect(strcmp(t1.key, a.names[0]) == 0, "A sealed with its encrypt key, key 1");
    for (int i = 1; i < n_nodes; i++) {
        rc = open_on(&nodes[i], "shop.example", "h2", t1.hex, &o);
        expect(rc == 0 && strcmp(o.state, state1) == 0 && strcmp(o.key, t1.key) == 0 &&
                   !(o.flags & TR_TICKET_RENEW),
               "%s opens it: \"%s\", key %d, age %" PRId64 " ms, no renewal needed (%s)",
               names[i], o.state, key_index(&a, o.key), o.age_ms, code_name(rc));
    }

    /* ---- 3. refusals -------------------------------------------------------- */
    step("refusals: each means a full handshake, never a failed connection");
    rc = open_on(&nodes[2], "admin.example", "h2", t1.hex, &o);
    expect(rc == TR_E_TICKET_SNI, "C, for SNI admin.example: %s", code_name(rc));
    {
        char tampered[sizeof(t1.hex)];
        size_t at = 2 * (45 + 10); /* a byte of the ciphertext */
        memcpy(tampered, t1.hex, sizeof(tampered));
        tampered[at] = tampered[at] == '0' ? '1' : '0';
        rc = open_on(&nodes[1], "shop.example", "h2", tampered, &o);
        expect(rc == TR_E_TICKET_AUTH, "B, the ticket with one byte changed: %s",
               code_name(rc));
    }

    /* ---- 4. rotation and renewal ----------------------------------------- */
    set_clock(k2 + 60);
    step("key 2 has activated on every node (no coordination: it was in the file)");
    show_keys(&nodes[0]);
    rc = open_on(&nodes[1], "shop.example", "h2", t1.hex, &o);
    expect(rc == 0 && (o.flags & TR_TICKET_RENEW),
           "B opens the key-1 ticket: %s, flagged TR_TICKET_RENEW", code_name(rc));
    rc = seal(&nodes[1], "shop.example", "h2", o.auth, o.state, &t2);
    expect(rc == 0 && strcmp(t2.key, a.names[1]) == 0,
           "B renews it: new ticket under key %d (%s), original auth time carried on",
           key_index(&a, t2.key), short_name(t2.key));
    rc = open_on(&nodes[2], "shop.example", "h2", t2.hex, &o);
    expect(rc == 0 && !(o.flags & TR_TICKET_RENEW) && o.auth == t1.sealed_at,
           "C opens the renewed ticket: %s, no renewal needed, the session's original "
           "auth time kept",
           code_name(rc));

    /* ---- 5. drift ------------------------------------------------------------ */
    step("the operator adds a key to the file; only A has reloaded so far");
    rc = operator_adds_key(path, added);
    expect(rc == 0, "new key %s, activating one period after the newest (%s)",
           short_name(added), code_name(rc));
    rc = reply_code(cmd(&nodes[0], "reload"));
    expect(rc == 0, "A reloads: %s", code_name(rc));
    show_fingerprints(fp);
    expect(strcmp(fp[0].fp, fp[1].fp) != 0 && strcmp(fp[1].fp, fp[2].fp) == 0,
           "drift detected: A's fingerprint differs from B's and C's");
    rc = seal(&nodes[0], "shop.example", "h2", 0, "user=bob", &t3);
    if (rc == 0)
        rc = open_on(&nodes[2], "shop.example", "h2", t3.hex, &o);
    expect(rc == 0, "tickets still work meanwhile: A seals, C opens (%s)", code_name(rc));
    for (int i = 1; i < n_nodes; i++) {
        rc = reply_code(cmd(&nodes[i], "reload"));
        expect(rc == 0, "%s reloads: %s", names[i], code_name(rc));
    }
    expect(show_fingerprints(fp), "converged: every fingerprint is equal again");

    /* ---- 6. expiry and retirement --------------------------------------------- */
    /* Past the renewed ticket's lifetime (+ skew) on C too, and once key 3
     * has activated. */
    {
        int64_t expired = t2.sealed_at + lifetime + SKEW + 1 + C_LAG;
        set_clock(expired > k3 + 60 ? expired : k3 + 60);
    }
    step("more than a lifetime (+ skew) after the renewal; key 3 has activated");
    show_keys(&nodes[0]);
    rc = open_on(&nodes[2], "shop.example", "h2", t2.hex, &o);
    expect(rc == TR_E_TICKET_EXPIRED, "C, the renewed ticket: %s", code_name(rc));
    rc = open_on(&nodes[1], "shop.example", "h2", t1.hex, &o);
    expect(rc == TR_E_TICKET_UNKNOWN_KEY,
           "B, the first ticket: %s (key 1 retired %" PRId64 " s after key 2 activated)",
           code_name(rc), lifetime + SKEW);
    a = node_info_of(&nodes[0]);
    expect(strcmp(a.enc, a.names[2]) == 0 && now_s >= k3,
           "A now seals with key 3 (%s)", short_name(a.enc));

    /* ---- 7. counters ------------------------------------------------------------ */
    step("counters (tr_ring_stats) on each node");
    printf("   node  sealed  opened  renew  refused: unknown-key  auth  expired  sni  reloads\n");
    {
        const uint64_t *s;
        uint64_t sum[13] = {0};
        for (int i = 0; i < n_nodes; i++) {
            s = node_stats_of(&nodes[i]);
            printf("   %-4s  %6" PRIu64 "  %6" PRIu64 "  %5" PRIu64 "  %20" PRIu64 "  %4" PRIu64
                   "  %7" PRIu64 "  %3" PRIu64 "  %7" PRIu64 "\n",
                   names[i], s[S_SEALED], s[S_OPENED], s[S_RENEW], s[S_UNKNOWN], s[S_AUTH],
                   s[S_EXPIRED], s[S_SNI], s[S_RELOADS]);
            for (int k = 0; k < 13; k++)
                sum[k] += s[k];
        }
        expect(sum[S_SEALED] == 3 && sum[S_OPENED] == 5 && sum[S_RENEW] == 1 &&
                   sum[S_UNKNOWN] == 1 && sum[S_AUTH] == 1 && sum[S_EXPIRED] == 1 &&
                   sum[S_SNI] == 1 && sum[S_RELOADS] == 6 && sum[S_RELOAD_FAILURES] == 0,
               "the counters match what happened (3 sealed, 5 opened, 1 renewal, 4 "
               "refusals, 6 loads)");
    }

    stop_nodes();
    printf("\n%d checks, %d failed: %s\n", checks, failures,
           failures == 0 ? "every expectation held" : "SOMETHING IS WRONG");
    return failures == 0 ? 0 : 1;
}
