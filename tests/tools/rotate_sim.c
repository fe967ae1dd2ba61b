/*
 * rotate_sim: `ticketring-keys rotate` run from a simulated cron over many
 * periods under an injected clock (--now), and a fleet of nodes that reload
 * its files late, with skewed clocks, sealing and opening tickets with the
 * public API. Checks the promise of issue 4:
 *
 *   at every instant, every node that reloads within one period of a write
 *   can decrypt every ticket any such node can issue, for the ticket's whole
 *   lifetime;
 *
 * and, as a control that the simulation can see a failure at all, that a
 * node reloading two periods late does miss tickets.
 *
 * usage: rotate_sim PATH/TO/ticketring-keys
 * Exit status 0 when every check passes, 1 otherwise (failures printed).
 * Public API only, linked against the shared libraries like the tool.
 */
#define _POSIX_C_SOURCE 200809L

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ticketring/ticketring.h>
#if defined(TRK_BACKEND_OPENSSL)
#include <ticketring/openssl.h>
#define BACKEND() tr_crypto_openssl()
#else
#include <ticketring/mbedtls.h>
#define BACKEND() tr_crypto_mbedtls()
#endif

#define MAX_VERSIONS 512
#define N_NODES 6
#define CONTROL 5 /* the node that reloads two periods late */

struct scenario {
    const char *name;
    int64_t period, lifetime, skew;
    int periods;
    int64_t writer_offset; /* the rotate machine's clock - true time */
    int64_t cron;          /* rotate runs this often (and up to 2 minutes late) */
};

struct version {
    int64_t written; /* true time of the write (the writer's clock) */
    tr_ring *ring;
};

struct node {
    int64_t offset; /* clock - true time */
    int64_t lag;    /* reloads a file this long after it is written */
};

static const char *tool;
static char dir[256];
static int64_t g_clock_ms;
static struct version versions[MAX_VERSIONS];
static int n_versions;
static unsigned long failures, control_failures, opens;

static int64_t sim_clock(void *arg)
{
    (void)arg;
    return g_clock_ms;
}

static int run_tool(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    FILE *p;
    size_t n;
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", tool, args);
    p = popen(cmd, "r");
    if (p == NULL)
        return -1;
    n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    return pclose(p);
}

/* Copy the key file as it is now into a version of its own. */
static int keep_version(const char *file, int64_t written, const struct scenario *sc)
{
    char path[512], buf[65536];
    uint32_t line = 0;
    ssize_t len;
    int in, out, rc;
    tr_ring *r = NULL;

    if (n_versions == MAX_VERSIONS)
        return -1;
    snprintf(path, sizeof path, "%s/%s.v%d", dir, sc->name, n_versions);
    in = open(file, O_RDONLY);
    if (in < 0)
        return -1;
    len = read(in, buf, sizeof buf);
    close(in);
    out = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (len <= 0 || out < 0 || write(out, buf, (size_t)len) != len) {
        if (out >= 0)
            close(out);
        return -1;
    }
    close(out);
    rc = tr_ring_new(&r, BACKEND());
    if (rc == 0)
        rc = tr_ring_set_clock(r, sim_clock, NULL);
    if (rc == 0)
        rc = tr_ring_set_lifetime(r, (uint32_t)sc->lifetime);
    if (rc == 0)
        rc = tr_ring_set_skew(r, (uint32_t)sc->skew);
    g_clock_ms = written * 1000; /* the activation horizon is checked on load */
    if (rc == 0)
        rc = tr_ring_load(r, path, &line);
    if (rc != 0) {
        fprintf(stderr, "cannot load %s: %s (line %u)\n", path, tr_strerror(rc), line);
        tr_ring_free(r);
        return -1;
    }
    versions[n_versions].written = written;
    versions[n_versions].ring = r;
    n_versions++;
    return 0;
}

/* The version a node holds at true time t: the newest written at or before
 * t - lag (the first one before that: the fleet started with it). */
static tr_ring *held(const struct node *nd, int64_t t)
{
    int v = 0;
    for (int i = 0; i < n_versions; i++)
        if (versions[i].written <= t - nd->lag)
            v = i;
    return versions[v].ring;
}

static void fail_line(int control, const char *what, int i, int j, int64_t t, int64_t u, int rc)
{
    if (control) {
        control_failures++;
        return;
    }
    if (++failures <= 20)
        fprintf(stderr, "FAIL: %s: issuer n%d at t=%" PRId64 ", opener n%d at u=t+%" PRId64
                        ": %s\n",
                what, i, t, j, u - t, tr_strerror(rc));
}

/* Every node seals a ticket at true time t; every node opens it at t, in
 * the middle of its lifetime, at its end, and at the last instant its own
 * clock still accepts it (the age check allows lifetime + skew). */
static void probe(const struct scenario *sc, const struct node *nodes, int64_t t)
{
    static const uint8_t state[] = "session state";

    for (int i = 0; i < N_NODES; i++) {
        uint8_t ticket[256], out[64];
        size_t tlen = 0, olen = 0;
        int rc;

        g_clock_ms = (t + nodes[i].offset) * 1000;
        rc = tr_ticket_seal(held(&nodes[i], t), state, sizeof state, NULL, 0, NULL, 0, NULL, 0,
                            0, ticket, sizeof ticket, &tlen, NULL);
        if (rc != 0) {
            fail_line(i == CONTROL, "seal", i, i, t, t, rc);
            continue;
        }
        for (int j = 0; j < N_NODES; j++) {
            const int64_t later[4] = {0, sc->lifetime / 2, sc->lifetime,
                                      sc->lifetime + sc->skew + nodes[i].offset -
                                          nodes[j].offset};
            for (int k = 0; k < 4; k++) {
                int64_t u = t + later[k];
                g_clock_ms = (u + nodes[j].offset) * 1000;
                rc = tr_ticket_open(held(&nodes[j], u), ticket, tlen, NULL, 0, NULL, 0, NULL, 0,
                                    out, sizeof out, &olen, NULL, NULL, NULL, NULL);
                opens++;
                if (rc != 0)
                    fail_line(i == CONTROL || j == CONTROL, "open", i, j, t, u, rc);
            }
        }
    }
}

static int simulate(const struct scenario *sc)
{
    const int64_t t0 = 1800000000, p = sc->period, s = sc->skew;
    /* Clocks up to S apart (the writer's within S/2 of true time, like
     * the nodes'); lags up to P. */
    const struct node nodes[N_NODES] = {
        {-s / 2, 0}, {s / 2, p}, {s / 2, 0}, {-s / 2, p}, {0, p / 2}, {s / 2, 2 * p + s},
    };
    char file[300], args[800], out[4096];
    int64_t end = t0 + sc->periods * p;
    unsigned long before = failures;
    static int64_t acts[MAX_VERSIONS];
    int writes = 0, runs = 0, n_acts = 0;

    n_versions = 0;
    control_failures = 0;
    snprintf(file, sizeof file, "%s/%s.keys", dir, sc->name);
    /* The fleet starts with one key, active since a period ago. */
    snprintf(args, sizeof args, "generate --out %s --count 1 --start %" PRId64, file, t0 - p);
    if (run_tool(args, out, sizeof out) != 0 || keep_version(file, t0, sc) != 0) {
        fprintf(stderr, "generate failed: %s\n", out);
        return -1;
    }
    /* Cron, a little late each time (up to 2 minutes, less than its
     * interval). */
    for (int64_t k = 0;; k++) {
        int64_t now = t0 + k * sc->cron + (k * 37) % (sc->cron < 120 ? sc->cron / 2 : 120);
        if (now > end)
            break;
        snprintf(args, sizeof args,
                 "rotate %s --period %" PRId64 " --lifetime %" PRId64 " --skew %" PRId64
                 " --now %" PRId64,
                 file, p, sc->lifetime, s, now + sc->writer_offset);
        if (run_tool(args, out, sizeof out) != 0) {
            fprintf(stderr, "rotate failed: %s\n", out);
            return -1;
        }
        runs++;
        if (strstr(out, ": added key ") != NULL) {
            writes++;
            if (keep_version(file, now, sc) != 0)
                return -1;
        } else if (strncmp(out, "nothing to do: ", 15) != 0) {
            fprintf(stderr, "unexpected rotate output: %s\n", out);
            return -1;
        }
    }
    /* About one write per period (the cadence is P + S + cron lag). */
    if (writes < sc->periods * 3 / 4 || writes > sc->periods) {
        fprintf(stderr, "FAIL: %d writes in %d periods (%d runs)\n", writes, sc->periods, runs);
        failures++;
    }
    /* Every instant of a coarse grid, and the seconds around each key's
     * activation where clocks disagree on the encrypt key. */
    for (int64_t t = t0; t <= end; t += p / 9 + 7)
        probe(sc, nodes, t);
    for (int v = 0; v < n_versions; v++) {
        uint32_t n = 0;
        tr_ring_key_count(versions[v].ring, &n);
        for (uint32_t i = 0; i < n; i++) {
            int64_t a = 0;
            int seen = 0;
            tr_ring_key_info(versions[v].ring, i, NULL, &a, NULL);
            for (int w = 0; w < n_acts && !seen; w++)
                seen = acts[w] == a;
            if (!seen && n_acts < MAX_VERSIONS && a >= t0 && a <= end)
                acts[n_acts++] = a;
        }
        /* No key piles up: at most what lifetime + 2 skew keeps, plus the
         * encrypt key and the next one. */
        if (n > (uint32_t)((sc->lifetime + 2 * s) / p + 3)) {
            fprintf(stderr, "FAIL: version %d holds %u keys\n", v, n);
            failures++;
        }
    }
    for (int w = 0; w < n_acts; w++) {
        const int64_t a = acts[w];
        const int64_t around[] = {a - s - 1, a - s, a - s / 2 - 1, a - s / 2, a - 1, a,
                                  a + s / 2, a + s};
        for (size_t x = 0; x < sizeof around / sizeof around[0]; x++)
            probe(sc, nodes, around[x]);
    }
    printf("%s: P=%" PRId64 " L=%" PRId64 " S=%" PRId64 " writer %+" PRId64 " s: %d rotate "
           "runs, %d writes, %lu opens so far, %lu failures, control node (2P+S late) "
           "missed %lu\n",
           sc->name, p, sc->lifetime, s, sc->writer_offset, runs, writes, opens,
           failures - before, control_failures);
    if (control_failures == 0) {
        fprintf(stderr, "FAIL: %s: the late control node never missed a ticket: the "
                        "simulation cannot see a failure\n",
                sc->name);
        failures++;
    }
    for (int v = 0; v < n_versions; v++)
        tr_ring_free(versions[v].ring);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct scenario scenarios[] = {
        /* lifetime over a period; the writer's clock behind (activations
         * come earliest) */
        {"hourly", 3600, 7200, 60, 50, -30, 900},
        /* lifetime under a period */
        {"daily", 86400, 3600, 300, 50, 0, 21600},
        /* lifetime equal to the period; the writer's clock ahead (keys are
         * dropped earliest) and cron every 20 s, so writes follow the
         * moments a key may go within seconds */
        {"tight", 600, 600, 60, 30, 30, 20},
    };
    const char *tmp;
    char cmd[300];
    int rc = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/TO/ticketring-keys\n", argv[0]);
        return 2;
    }
    tool = argv[1];
    tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/tr-rotate-sim.XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0] && rc == 0; i++)
        rc = simulate(&scenarios[i]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    if (rc != 0 || failures != 0) {
        fprintf(stderr, "FAIL: %lu failures\n", failures);
        return 1;
    }
    printf("ok: %lu opens, no failure\n", opens);
    return 0;
}
