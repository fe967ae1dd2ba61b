/* ticketring-keys generate, inspect, verify, fingerprint. */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "commands.h"
#include "util.h"

static const char usage_generate[] =
    "usage: " PROG " generate --out FILE [--count N] [--period SECONDS] [--start UNIX]\n"
    "                [--cluster ID] [--force]\n"
    "\n"
    "Write N random keys to FILE; key i activates at START + i * PERIOD.\n"
    "The file is written atomically with mode 0600 (key file version 2, its\n"
    "serial the time in milliseconds, so it supersedes the file it replaces).\n"
    "\n"
    "  --out FILE        the key file to write (required)\n"
    "  --count N         number of keys, 1..64 (default 3)\n"
    "  --period SECONDS  time between activations, >= 1 (default 86400)\n"
    "  --start UNIX      activation of the first key, Unix seconds (default now)\n"
    "  --cluster ID      the cluster the keys belong to (1..64 of A-Z a-z 0-9 . _ -):\n"
    "                    nodes pinned to another cluster refuse the file\n"
    "  --force           replace FILE if it exists\n";

static const char usage_inspect[] =
    "usage: " PROG " inspect FILE [--now UNIX] [--lifetime S] [--skew S]\n"
    "\n"
    "One line per key in activation order:\n"
    "  INDEX NAME ACTIVATION ACTIVATION-UTC ROLE\n"
    "with ROLE one of pending, encrypt, decrypt, retired, revoked (ACTIVATION is\n"
    "'pending' for a key without an activation time); then 'fingerprint HEX'.\n"
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

static const char usage_fingerprint[] =
    "usage: " PROG " fingerprint FILE\n"
    "\n"
    "Print the fingerprint of the key set in FILE (16 hex digits), exactly as\n"
    "tr_ring_fingerprint() reports it for a ring that loaded FILE, and so as a\n"
    "node's ticketring_keyset_info{fingerprint=...} metric shows it.\n";

int trk_cmd_generate(int argc, char **argv)
{
    struct trk_opt opts[] = {
        {"--out", 1, NULL}, {"--count", 1, NULL}, {"--period", 1, NULL},
        {"--start", 1, NULL}, {"--force", 0, NULL}, {"--cluster", 1, NULL},
    };
    struct trk_args a = {opts, sizeof opts / sizeof opts[0], {NULL}, 0, 0};
    int64_t count = 3, period = 86400, start = (int64_t)time(NULL);
    char fp[TR_FINGERPRINT_HEX + 1];
    struct stat st;
    tr_ring *ring = NULL;
    int rc;

    rc = trk_begin(argc, argv, &a, 0, usage_generate, TRK_ANY_POS, NULL);
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL || opts[0].value[0] == '\0')
        return trk_usage_error("generate: --out FILE is required", NULL);
    if (opts[1].value != NULL &&
        trk_parse_int("--count", opts[1].value, 1, (int64_t)tr_ring_max_keys(), &count) != 0)
        return EXIT_USAGE;
    if (opts[2].value != NULL &&
        trk_parse_int("--period", opts[2].value, 1, ACTIVATION_MAX, &period) != 0)
        return EXIT_USAGE;
    if (opts[3].value != NULL &&
        trk_parse_int("--start", opts[3].value, 0, ACTIVATION_MAX, &start) != 0)
        return EXIT_USAGE;
    if (count > 1 && period > (ACTIVATION_MAX - start) / (count - 1))
        return trk_usage_error("the last activation time would exceed 2^62", NULL);

    /* A guard against operator mistakes, not a lock: tr_ring_save() still
     * replaces atomically if another writer creates FILE meanwhile. */
    if (opts[4].value == NULL && lstat(opts[0].value, &st) == 0)
        return trk_fail(1, opts[0].value, ": exists (use --force to replace it)", NULL);

    if (trk_new_ring(&ring) != 0)
        return 1;
    if (opts[5].value != NULL && tr_ring_set_cluster(ring, opts[5].value) != 0) {
        tr_ring_free(ring);
        return trk_usage_error("--cluster: expected 1..64 of A-Z a-z 0-9 . _ -", NULL);
    }
    for (int64_t i = 0; i < count; i++) {
        rc = tr_ring_generate_key(ring, start + i * period, NULL);
        if (rc != 0) {
            tr_ring_free(ring);
            return trk_fail(1, "cannot generate a key: ", tr_strerror(rc), NULL);
        }
    }
    rc = tr_ring_save(ring, opts[0].value);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return trk_fail(1, opts[0].value, ": ", tr_strerror(rc));
    printf("%s: %" PRId64 " keys, fingerprint %s\n", opts[0].value, count, fp);
    return 0;
}

int trk_cmd_inspect(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--now", 1, NULL}, {"--lifetime", 1, NULL}, {"--skew", 1, NULL}};
    struct trk_args a = {opts, sizeof opts / sizeof opts[0], {NULL}, 0, 0};
    int64_t now = 0, lifetime = 0, skew = 0, clock_ms = 0;
    char fp[TR_FINGERPRINT_HEX + 1];
    tr_ring *ring = NULL;
    uint32_t count = 0;
    int rc;

    rc = trk_begin(argc, argv, &a, 1, usage_inspect, 1, "inspect: FILE is required");
    if (rc != TRK_GO_ON)
        return rc;
    /* Ranges are the ring's (ticketring.h); checked here to exit 2. */
    if (trk_parse_now(opts[0].value, &now) != 0 ||
        trk_parse_lifetime(opts[1].value, &lifetime) != 0 ||
        trk_parse_skew(opts[2].value, &skew) != 0)
        return EXIT_USAGE;

    if (trk_new_ring(&ring) != 0)
        return 1;
    rc = 0;
    if (opts[0].value != NULL) {
        clock_ms = now * 1000;
        rc = tr_ring_set_clock(ring, trk_fixed_clock, &clock_ms);
    }
    if (rc == 0 && opts[1].value != NULL)
        rc = tr_ring_set_lifetime(ring, (uint32_t)lifetime);
    if (rc == 0 && opts[2].value != NULL)
        rc = tr_ring_set_skew(ring, (uint32_t)skew);
    if (rc != 0) {
        tr_ring_free(ring);
        return trk_fail(1, "cannot configure the key ring: ", tr_strerror(rc), NULL);
    }
    if (trk_load(ring, a.pos[0]) != 0) {
        tr_ring_free(ring);
        return 1;
    }

    rc = tr_ring_key_count(ring, &count);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        uint8_t name[TR_KEY_NAME_BYTES];
        char name_hex[2 * TR_KEY_NAME_BYTES + 1];
        char when[64];
        int64_t activation = 0;
        int32_t role = 0;

        rc = tr_ring_key_info(ring, i, name, &activation, &role);
        if (rc != 0)
            break;
        trk_hex(name_hex, name, sizeof name);
        if (activation == TR_ACTIVATION_PENDING) {
            printf("%" PRIu32 " %s pending - %s\n", i, name_hex, trk_role_name(role));
            continue;
        }
        trk_iso_time(activation, when);
        printf("%" PRIu32 " %s %" PRId64 " %s %s\n", i, name_hex, activation, when,
               trk_role_name(role));
    }
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return trk_fail(1, a.pos[0], ": ", tr_strerror(rc));
    printf("fingerprint %s\n", fp);
    return 0;
}

/* Load FILE into a fresh ring: 0, or 1 after printing why. */
static int load_only(const char *path, tr_ring **ring)
{
    if (trk_new_ring(ring) != 0)
        return 1;
    if (trk_load(*ring, path) != 0) {
        tr_ring_free(*ring);
        *ring = NULL;
        return 1;
    }
    return 0;
}

int trk_cmd_verify(int argc, char **argv)
{
    struct trk_args a = {NULL, 0, {NULL}, 0, 0};
    char fp[TR_FINGERPRINT_HEX + 1];
    tr_ring *ring = NULL;
    uint32_t count = 0;
    int rc;

    rc = trk_begin(argc, argv, &a, 1, usage_verify, 1, "verify: FILE is required");
    if (rc != TRK_GO_ON)
        return rc;
    if (load_only(a.pos[0], &ring) != 0)
        return 1;
    rc = tr_ring_key_count(ring, &count);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return trk_fail(1, a.pos[0], ": ", tr_strerror(rc));
    printf("%s: ok, %" PRIu32 " keys, fingerprint %s\n", a.pos[0], count, fp);
    return 0;
}

int trk_cmd_fingerprint(int argc, char **argv)
{
    struct trk_args a = {NULL, 0, {NULL}, 0, 0};
    char fp[TR_FINGERPRINT_HEX + 1];
    tr_ring *ring = NULL;
    int rc;

    rc = trk_begin(argc, argv, &a, 1, usage_fingerprint, 1, "fingerprint: FILE is required");
    if (rc != TRK_GO_ON)
        return rc;
    if (load_only(a.pos[0], &ring) != 0)
        return 1;
    rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return trk_fail(1, a.pos[0], ": ", tr_strerror(rc));
    printf("%s\n", fp);
    return 0;
}
