/*
 * ticketring-keys import and export: nginx and HAProxy ticket key files
 * through tr_ring_import() and tr_ring_export(), so key bytes never pass
 * through the tool (docs/interop-nginx.md, docs/interop-haproxy.md).
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

static const char usage_import[] =
    "usage: " PROG " import --from nginx|haproxy IN... --out FILE [--activation UNIX] [--force]\n"
    "\n"
    "Write a new key file FILE (mode 0600) holding the keys of another server's\n"
    "ticket key files, converted to libticketring's layout:\n"
    "  nginx    one or more ssl_session_ticket_key files (80 bytes each), in the\n"
    "           order of the directives: the first (nginx's encrypt key) activates\n"
    "           at UNIX, every later one (decrypt only) one second earlier than the\n"
    "           one before it, so it retires lifetime + skew after UNIX.\n"
    "  haproxy  one tls-ticket-keys file (base64 lines): HAProxy's encrypt key\n"
    "           (the penultimate line) activates at UNIX, the line before it one\n"
    "           second earlier, the last line (HAProxy's next key) stays pending.\n"
    "           Lines before the last 3 are not held by HAProxy and are skipped.\n"
    "48-byte (AES-128) keys are refused: libticketring keys are AES-256.\n"
    "\n"
    "  --from FORMAT      nginx or haproxy (required)\n"
    "  --out FILE         the key file to write (required)\n"
    "  --activation UNIX  when the server's encrypt key starts encrypting here\n"
    "                     (default now)\n"
    "  --force            replace FILE if it exists\n";

static const char usage_export[] =
    "usage: " PROG " export --to nginx|haproxy FILE --out OUT [--now UNIX] [--lifetime S]\n"
    "                       [--skew S]\n"
    "\n"
    "Write FILE's usable keys (neither retired nor revoked) for another server,\n"
    "atomically with mode 0600, and print the configuration lines to use:\n"
    "  nginx    OUT.0 (the key that encrypts now: nginx seals with its first\n"
    "           ssl_session_ticket_key), then OUT.1... the pending keys (soonest\n"
    "           first) and the decrypt-only keys (newest first); stale OUT.N files\n"
    "           of an earlier export are removed. Prints the ssl_session_ticket_key\n"
    "           lines in order.\n"
    "  haproxy  OUT, three lines: the newest decrypt-only key, the encrypt key (HAProxy\n"
    "           seals with the penultimate line) and the next pending key; the encrypt\n"
    "           key stands in for a missing one. Prints the tls-ticket-keys option.\n"
    "Export again, and reload the server, after every rotate.\n"
    "\n"
    "  --to FORMAT     nginx or haproxy (required)\n"
    "  --out OUT       where to write (required)\n"
    "  --now UNIX      the time that decides the roles (default now)\n"
    "  --lifetime S    ticket lifetime the servers use, 1..604800 (default 7200)\n"
    "  --skew S        clock skew the servers allow, 0..3600 (default 60)\n";

static int parse_format(const char *opt, const char *v, int32_t *format)
{
    if (strcmp(v, "nginx") == 0)
        *format = TR_FORMAT_NGINX;
    else if (strcmp(v, "haproxy") == 0)
        *format = TR_FORMAT_HAPROXY;
    else
        return trk_usage_error(opt, " must be nginx or haproxy");
    return 0;
}

static int import_one(tr_ring *ring, int32_t format, const char *in, int64_t activation)
{
    uint32_t line = 0;
    int rc = tr_ring_import(ring, format, in, activation, &line);
    if (rc == 0)
        return 0;
    if (trk_last_error()[0] != '\0')
        fprintf(stderr, "%s: %s\n", PROG, trk_last_error());
    else if (line != 0)
        fprintf(stderr, "%s: %s:%" PRIu32 ": %s\n", PROG, in, line, tr_strerror(rc));
    else
        fprintf(stderr, "%s: %s: %s\n", PROG, in, tr_strerror(rc));
    return 1;
}

int trk_cmd_import(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--from", 1, NULL}, {"--out", 1, NULL},
                             {"--activation", 1, NULL}, {"--force", 0, NULL}};
    struct trk_args a = {opts, sizeof opts / sizeof opts[0], {NULL}, 0, 0};
    int64_t activation = (int64_t)time(NULL);
    char fp[TR_FINGERPRINT_HEX + 1], when[64], enc_hex[2 * TR_KEY_NAME_BYTES + 1];
    uint8_t enc[TR_KEY_NAME_BYTES];
    int64_t clock_ms;
    int32_t format = 0;
    uint32_t count = 0;
    struct stat st;
    tr_ring *ring = NULL;
    int rc;

    rc = trk_begin(argc, argv, &a, MAX_POS, usage_import, TRK_ANY_POS, NULL);
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL)
        return trk_usage_error("import: --from nginx|haproxy is required", NULL);
    if (parse_format("--from", opts[0].value, &format) != 0)
        return EXIT_USAGE;
    if (opts[1].value == NULL || opts[1].value[0] == '\0')
        return trk_usage_error("import: --out FILE is required", NULL);
    if (a.n_pos == 0)
        return trk_usage_error("import: an input file is required", NULL);
    if (format == TR_FORMAT_HAPROXY && a.n_pos != 1)
        return trk_usage_error("import: HAProxy keeps its keys in one file", NULL);
    if (opts[2].value != NULL &&
        trk_parse_int("--activation", opts[2].value, (int64_t)a.n_pos - 1, ACTIVATION_MAX,
                      &activation) != 0)
        return EXIT_USAGE;
    if (opts[3].value == NULL && lstat(opts[1].value, &st) == 0)
        return trk_fail(1, opts[1].value, ": exists (use --force to replace it)", NULL);

    /* The clock decides the activation horizon check; keep it at now. */
    clock_ms = (int64_t)time(NULL) * 1000;
    if (trk_new_ring_at(&ring, &clock_ms, 0, 60) != 0)
        return 1;
    trk_capture_log(ring);
    for (size_t i = 0; i < a.n_pos; i++) {
        /* nginx's later keys only decrypt: date each before the previous. */
        if (import_one(ring, format, a.pos[i], activation - (int64_t)i) != 0) {
            tr_ring_free(ring);
            return 1;
        }
    }
    tr_ring_set_log(ring, NULL, NULL);
    clock_ms = activation * 1000;
    rc = tr_ring_key_count(ring, &count);
    if (rc == 0)
        rc = tr_ring_encrypt_key_name(ring, enc);
    if (rc == 0)
        rc = tr_ring_save(ring, opts[1].value);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc != 0)
        return trk_fail(1, opts[1].value, ": ", tr_strerror(rc));
    trk_hex(enc_hex, enc, sizeof enc);
    trk_iso_time(activation, when);
    printf("%s: %" PRIu32 " keys from %s, encrypt key %s from %s (%" PRId64
           "), fingerprint %s\n",
           opts[1].value, count, opts[0].value, enc_hex, when, activation, fp);
    return 0;
}

/* OUT (or OUT.N) as an absolute path for a server's configuration. */
static void absolute(const char *out, char *buf, size_t cap)
{
    char cwd[PATH_MAX];
    if (out[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
        snprintf(buf, cap, "%s", out);
    else
        snprintf(buf, cap, "%s/%s", cwd, out);
}

int trk_cmd_export(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--to", 1, NULL},       {"--out", 1, NULL},
                             {"--now", 1, NULL},      {"--lifetime", 1, NULL},
                             {"--skew", 1, NULL}};
    struct trk_args a = {opts, sizeof opts / sizeof opts[0], {NULL}, 0, 0};
    int64_t now = (int64_t)time(NULL), lifetime = 0, skew = 60, clock_ms;
    char path[PATH_MAX + 8], name_hex[2 * TR_KEY_NAME_BYTES + 1];
    uint8_t enc[TR_KEY_NAME_BYTES];
    int32_t format = 0;
    uint32_t count = 0;
    tr_ring *ring = NULL;
    int rc;

    rc = trk_begin(argc, argv, &a, 1, usage_export, TRK_ANY_POS, NULL);
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL)
        return trk_usage_error("export: --to nginx|haproxy is required", NULL);
    if (parse_format("--to", opts[0].value, &format) != 0)
        return EXIT_USAGE;
    if (a.n_pos != 1)
        return trk_usage_error("export: FILE is required", NULL);
    if (opts[1].value == NULL || opts[1].value[0] == '\0')
        return trk_usage_error("export: --out OUT is required", NULL);
    if (trk_parse_now(opts[2].value, &now) != 0 ||
        trk_parse_lifetime(opts[3].value, &lifetime) != 0 ||
        trk_parse_skew(opts[4].value, &skew) != 0)
        return EXIT_USAGE;

    clock_ms = now * 1000;
    if (trk_new_ring_at(&ring, &clock_ms, lifetime, skew) != 0)
        return 1;
    if (trk_load(ring, a.pos[0]) != 0) {
        tr_ring_free(ring);
        return 1;
    }
    trk_capture_log(ring);
    rc = tr_ring_export(ring, format, opts[1].value, &count);
    if (rc == 0)
        rc = tr_ring_encrypt_key_name(ring, enc);
    tr_ring_free(ring);
    if (rc != 0) {
        if (trk_last_error()[0] != '\0')
            fprintf(stderr, "%s: %s\n", PROG, trk_last_error());
        else
            fprintf(stderr, "%s: %s: %s\n", PROG, opts[1].value, tr_strerror(rc));
        return 1;
    }
    trk_hex(name_hex, enc, sizeof enc);
    if (format == TR_FORMAT_NGINX) {
        printf("# %" PRIu32 " keys for nginx, encrypt key %s first; then: nginx -s reload\n",
               count, name_hex);
        for (uint32_t i = 0; i < count; i++) {
            char numbered[PATH_MAX];
            snprintf(numbered, sizeof numbered, "%s.%" PRIu32, opts[1].value, i);
            absolute(numbered, path, sizeof path);
            printf("ssl_session_ticket_key %s;\n", path);
        }
    } else {
        absolute(opts[1].value, path, sizeof path);
        printf("# %" PRIu32 " keys for HAProxy, encrypt key %s on the second line; on each "
               "bind line:\n",
               count, name_hex);
        printf("tls-ticket-keys %s\n", path);
    }
    return 0;
}
