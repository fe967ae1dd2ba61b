/*
 * ticketring-keys: the operator's tool for libticketring key files.
 *
 * A user of the public API only (it links the installed shared libraries),
 * so it doubles as a check that the API is enough to manage keys. It never
 * prints key material: names are public (they travel in every ticket),
 * secrets stay in the file.
 *
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ticketring/ticketring.h>
#if defined(TRK_BACKEND_OPENSSL)
#include <ticketring/openssl.h>
#define TRK_BACKEND() tr_crypto_openssl()
#elif defined(TRK_BACKEND_MBEDTLS)
#include <ticketring/mbedtls.h>
#define TRK_BACKEND() tr_crypto_mbedtls()
#else
#error "define TRK_BACKEND_OPENSSL or TRK_BACKEND_MBEDTLS"
#endif

#define PROG "ticketring-keys"
#define EXIT_USAGE 2
#define ACTIVATION_MAX (INT64_C(1) << 62) /* docs/key-file-format.md */
#define NOW_MAX (INT64_MAX / 1000)        /* the clock is in milliseconds */

static const char usage_main[] =
    "usage: " PROG " COMMAND [OPTIONS]\n"
    "\n"
    "Manage libticketring key files (docs/key-file-format.md).\n"
    "\n"
    "commands:\n"
    "  generate --out FILE [--count N] [--period SECONDS] [--start UNIX] [--force]\n"
    "                 write N new random keys with staggered activation times\n"
    "  inspect FILE [--now UNIX] [--lifetime S] [--skew S]\n"
    "                 list the keys (name, activation, role) and the fingerprint\n"
    "  verify FILE    exit 0 only if FILE is a valid key file\n"
    "\n"
    "Run '" PROG " COMMAND --help' for a command's options.\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static const char usage_generate[] =
    "usage: " PROG " generate --out FILE [--count N] [--period SECONDS] [--start UNIX] [--force]\n"
    "\n"
    "Write N random keys to FILE; key i activates at START + i * PERIOD.\n"
    "The file is written atomically with mode 0600.\n"
    "\n"
    "  --out FILE        the key file to write (required)\n"
    "  --count N         number of keys, 1..64 (default 3)\n"
    "  --period SECONDS  time between activations, >= 1 (default 86400)\n"
    "  --start UNIX      activation of the first key, Unix seconds (default now)\n"
    "  --force           replace FILE if it exists\n";

static const char usage_inspect[] =
    "usage: " PROG " inspect FILE [--now UNIX] [--lifetime S] [--skew S]\n"
    "\n"
    "One line per key in activation order:\n"
    "  INDEX NAME ACTIVATION ACTIVATION-UTC ROLE\n"
    "with ROLE one of pending, encrypt, decrypt, retired; then 'fingerprint HEX'.\n"
    "Secrets are never printed.\n"
    "\n"
    "  --now UNIX      show roles at this time instead of now\n"
    "  --lifetime S    ticket lifetime the servers use, 1..604800 (default 7200)\n"
    "  --skew S        clock skew the servers allow, 0..3600 (default 60)\n";

static const char usage_verify[] =
    "usage: " PROG " verify FILE\n"
    "\n"
    "Exit 0 if FILE is a valid key file; otherwise print\n"
    "'" PROG ": FILE:LINE: reason' and exit 1.\n";

/* One line on stderr. */
static int fail(int status, const char *a, const char *b, const char *c)
{
    fprintf(stderr, "%s: %s%s%s\n", PROG, a, b != NULL ? b : "", c != NULL ? c : "");
    return status;
}

static int usage_error(const char *a, const char *b)
{
    fprintf(stderr, "%s: %s%s (try '%s --help')\n", PROG, a, b != NULL ? b : "", PROG);
    return EXIT_USAGE;
}

/* ---- arguments ---------------------------------------------------------- */

struct opt {
    const char *name;  /* "--out" */
    int takes_value;
    const char *value; /* set when seen (flags: "") */
};

struct args {
    struct opt *opts;
    size_t n_opts;
    const char *pos[2];
    size_t n_pos;
    int help;
};

/* Options and positional arguments in any order; "--opt value" and
 * "--opt=value"; "--" ends the options. Returns 0 or a usage error. */
static int parse_args(int argc, char **argv, struct args *a, size_t max_pos)
{
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
            a->help = 1;
            continue;
        }
        if (!only_pos && arg[0] == '-' && arg[1] != '\0') {
            const char *eq = strchr(arg, '=');
            size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
            struct opt *o = NULL;
            for (size_t k = 0; k < a->n_opts; k++) {
                if (strlen(a->opts[k].name) == len && strncmp(a->opts[k].name, arg, len) == 0)
                    o = &a->opts[k];
            }
            if (o == NULL)
                return usage_error("unknown option ", arg);
            if (o->value != NULL)
                return usage_error("repeated option ", o->name);
            if (!o->takes_value) {
                if (eq != NULL)
                    return usage_error("option takes no value: ", o->name);
                o->value = "";
            } else if (eq != NULL) {
                o->value = eq + 1;
            } else if (i + 1 < argc) {
                o->value = argv[++i];
            } else {
                return usage_error("missing value for ", o->name);
            }
            continue;
        }
        if (a->n_pos == max_pos)
            return usage_error("unexpected argument ", arg);
        a->pos[a->n_pos++] = arg;
    }
    return 0;
}

/* A decimal integer in [lo, hi], nothing else (no sign, no spaces). */
static int parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;
    if (s[0] < '0' || s[0] > '9')
        return usage_error("expected a non-negative decimal number for ", opt);
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0')
        return usage_error("expected a non-negative decimal number for ", opt);
    if (errno == ERANGE || v < lo || v > hi)
        return usage_error("value out of range for ", opt);
    *out = (int64_t)v;
    return 0;
}

/* ---- shared helpers ---------------------------------------------------- */

static int64_t fixed_clock(void *arg)
{
    return *(const int64_t *)arg;
}

static int new_ring(tr_ring **ring)
{
    int rc = tr_ring_new(ring, TRK_BACKEND());
    if (rc != 0)
        return fail(1, "cannot create a key ring: ", tr_strerror(rc), NULL);
    return 0;
}

/* The ring's log line for a refused file names the exact reason (it never
 * holds key material); keep the last error to print it. */
static char last_error[256];

static void keep_error(int32_t level, const char *msg, void *arg)
{
    (void)arg;
    if (level == TR_LOG_ERROR)
        snprintf(last_error, sizeof(last_error), "%s", msg);
}

/* Load FILE into the ring; on failure print FILE:LINE: reason. */
static int load(tr_ring *ring, const char *path)
{
    uint32_t line = 0;
    int rc;

    last_error[0] = '\0';
    tr_ring_set_log(ring, keep_error, NULL);
    rc = tr_ring_load(ring, path, &line);
    tr_ring_set_log(ring, NULL, NULL);
    if (rc == 0)
        return 0;
    if (last_error[0] != '\0')
        fprintf(stderr, "%s: %s\n", PROG, last_error);
    else if (line != 0)
        fprintf(stderr, "%s: %s:%" PRIu32 ": %s\n", PROG, path, line, tr_strerror(rc));
    else
        fprintf(stderr, "%s: %s: %s\n", PROG, path, tr_strerror(rc));
    return 1;
}

static void hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

static const char *role_name(int32_t role)
{
    switch (role) {
    case TR_KEY_PENDING: return "pending";
    case TR_KEY_ENCRYPT: return "encrypt";
    case TR_KEY_DECRYPT: return "decrypt";
    case TR_KEY_RETIRED: return "retired";
    default: return "unknown";
    }
}

/* ---- commands ------------------------------------------------------------ */

static int cmd_generate(int argc, char **argv)
{
    struct opt opts[] = {
        {"--out", 1, NULL}, {"--count", 1, NULL}, {"--period", 1, NULL},
        {"--start", 1, NULL}, {"--force", 0, NULL},
    };
    struct args a = {opts, sizeof opts / sizeof opts[0], {NULL, NULL}, 0, 0};
    int64_t count = 3, period = 86400, start = (int64_t)time(NULL);
    char fp[TR_FINGERPRINT_HEX + 1];
    struct stat st;
    tr_ring *ring = NULL;
    int rc;

    rc = parse_args(argc, argv, &a, 0);
    if (rc != 0)
        return rc;
    if (a.help) {
        fputs(usage_generate, stdout);
        return 0;
    }
    if (opts[0].value == NULL || opts[0].value[0] == '\0')
        return usage_error("generate: --out FILE is required", NULL);
    if (opts[1].value != NULL &&
        parse_int("--count", opts[1].value, 1, (int64_t)tr_ring_max_keys(), &count) != 0)
        return EXIT_USAGE;
    if (opts[2].value != NULL &&
        parse_int("--period", opts[2].value, 1, ACTIVATION_MAX, &period) != 0)
        return EXIT_USAGE;
    if (opts[3].value != NULL &&
        parse_int("--start", opts[3].value, 0, ACTIVATION_MAX, &start) != 0)
        return EXIT_USAGE;
    if (count > 1 && period > (ACTIVATION_MAX - start) / (count - 1))
        return usage_error("the last activation time would exceed 2^62", NULL);

    /* A guard against operator mistakes, not a lock: tr_ring_save() still
     * replaces atomically if another writer creates FILE meanwhile. */
    if (opts[4].value == NULL && lstat(opts[0].value, &st) == 0)
        return fail(1, opts[0].value, ": exists (use --force to replace it)", NULL);

    if (new_ring(&ring) != 0)
        return 1;
    for (int64_t i = 0; i < count; i++) {
        rc = tr_ring_generate_key(ring, start + i * period, NULL);
        if (rc != 0) {
            tr_ring_free(ring);
            return fail(1, "cannot generate a key: ", tr_strerror(rc), NULL);
        }
    }
    rc = tr_ring_save(ring, opts[0].value);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return fail(1, opts[0].value, ": ", tr_strerror(rc));
    printf("%s: %" PRId64 " keys, fingerprint %s\n", opts[0].value, count, fp);
    return 0;
}

static int cmd_inspect(int argc, char **argv)
{
    struct opt opts[] = {{"--now", 1, NULL}, {"--lifetime", 1, NULL}, {"--skew", 1, NULL}};
    struct args a = {opts, sizeof opts / sizeof opts[0], {NULL, NULL}, 0, 0};
    int64_t now = 0, lifetime = 0, skew = 0, clock_ms = 0;
    char fp[TR_FINGERPRINT_HEX + 1];
    tr_ring *ring = NULL;
    uint32_t count = 0;
    int rc;

    rc = parse_args(argc, argv, &a, 1);
    if (rc != 0)
        return rc;
    if (a.help) {
        fputs(usage_inspect, stdout);
        return 0;
    }
    if (a.n_pos != 1)
        return usage_error("inspect: FILE is required", NULL);
    /* Ranges are the ring's (ticketring.h); checked here to exit 2. */
    if (opts[0].value != NULL && parse_int("--now", opts[0].value, 0, NOW_MAX, &now) != 0)
        return EXIT_USAGE;
    if (opts[1].value != NULL &&
        parse_int("--lifetime", opts[1].value, 1, 604800, &lifetime) != 0)
        return EXIT_USAGE;
    if (opts[2].value != NULL && parse_int("--skew", opts[2].value, 0, 3600, &skew) != 0)
        return EXIT_USAGE;

    if (new_ring(&ring) != 0)
        return 1;
    rc = 0;
    if (opts[0].value != NULL) {
        clock_ms = now * 1000;
        rc = tr_ring_set_clock(ring, fixed_clock, &clock_ms);
    }
    if (rc == 0 && opts[1].value != NULL)
        rc = tr_ring_set_lifetime(ring, (uint32_t)lifetime);
    if (rc == 0 && opts[2].value != NULL)
        rc = tr_ring_set_skew(ring, (uint32_t)skew);
    if (rc != 0) {
        tr_ring_free(ring);
        return fail(1, "cannot configure the key ring: ", tr_strerror(rc), NULL);
    }
    if (load(ring, a.pos[0]) != 0) {
        tr_ring_free(ring);
        return 1;
    }

    rc = tr_ring_key_count(ring, &count);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        uint8_t name[TR_KEY_NAME_BYTES];
        char name_hex[2 * TR_KEY_NAME_BYTES + 1];
        char when[64] = "-";
        int64_t activation = 0;
        int32_t role = 0;
        struct tm tm;
        time_t t;

        rc = tr_ring_key_info(ring, i, name, &activation, &role);
        if (rc != 0)
            break;
        hex(name_hex, name, sizeof name);
        t = (time_t)activation;
        if ((int64_t)t == activation && gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("%" PRIu32 " %s %" PRId64 " %s %s\n", i, name_hex, activation, when,
               role_name(role));
    }
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return fail(1, a.pos[0], ": ", tr_strerror(rc));
    printf("fingerprint %s\n", fp);
    return 0;
}

static int cmd_verify(int argc, char **argv)
{
    struct args a = {NULL, 0, {NULL, NULL}, 0, 0};
    char fp[TR_FINGERPRINT_HEX + 1];
    tr_ring *ring = NULL;
    uint32_t count = 0;
    int rc;

    rc = parse_args(argc, argv, &a, 1);
    if (rc != 0)
        return rc;
    if (a.help) {
        fputs(usage_verify, stdout);
        return 0;
    }
    if (a.n_pos != 1)
        return usage_error("verify: FILE is required", NULL);
    if (new_ring(&ring) != 0)
        return 1;
    if (load(ring, a.pos[0]) != 0) {
        tr_ring_free(ring);
        return 1;
    }
    rc = tr_ring_key_count(ring, &count);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return fail(1, a.pos[0], ": ", tr_strerror(rc));
    printf("%s: ok, %" PRIu32 " keys, fingerprint %s\n", a.pos[0], count, fp);
    return 0;
}

static int run(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2)
        return usage_error("missing command", NULL);
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "generate") == 0)
        return cmd_generate(argc - 2, argv + 2);
    if (strcmp(cmd, "inspect") == 0)
        return cmd_inspect(argc - 2, argv + 2);
    if (strcmp(cmd, "verify") == 0)
        return cmd_verify(argc - 2, argv + 2);
    return usage_error("unknown command ", cmd);
}

int main(int argc, char **argv)
{
    int status = run(argc, argv);
    /* Output that did not reach its destination (a full disk, a closed
     * pipe) is a failure too. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the output: %s\n", PROG, strerror(errno));
        if (status == 0)
            status = 1;
    }
    return status;
}
