#define _POSIX_C_SOURCE 200809L

#include "util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"

int trk_fail(int status, const char *a, const char *b, const char *c)
{
    fprintf(stderr, "%s: %s%s%s\n", PROG, a, b != NULL ? b : "", c != NULL ? c : "");
    return status;
}

int trk_usage_error(const char *a, const char *b)
{
    fprintf(stderr, "%s: %s%s (try '%s --help')\n", PROG, a, b != NULL ? b : "", PROG);
    return EXIT_USAGE;
}

int trk_parse_args(int argc, char **argv, struct trk_args *a, size_t max_pos)
{
    int only_pos = 0;
    if (max_pos > MAX_POS)
        max_pos = MAX_POS;
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
            struct trk_opt *o = NULL;
            for (size_t k = 0; k < a->n_opts; k++) {
                if (strlen(a->opts[k].name) == len && strncmp(a->opts[k].name, arg, len) == 0)
                    o = &a->opts[k];
            }
            if (o == NULL)
                return trk_usage_error("unknown option ", arg);
            if (o->value != NULL)
                return trk_usage_error("repeated option ", o->name);
            if (!o->takes_value) {
                if (eq != NULL)
                    return trk_usage_error("option takes no value: ", o->name);
                o->value = "";
            } else if (eq != NULL) {
                o->value = eq + 1;
            } else if (i + 1 < argc) {
                o->value = argv[++i];
            } else {
                return trk_usage_error("missing value for ", o->name);
            }
            continue;
        }
        if (a->n_pos == max_pos)
            return trk_usage_error("unexpected argument ", arg);
        a->pos[a->n_pos++] = arg;
    }
    return 0;
}

int trk_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    long long v;
    if (s[0] < '0' || s[0] > '9')
        return trk_usage_error("expected a non-negative decimal number for ", opt);
    errno = 0;
    v = strtoll(s, &end, 10);
    if (*end != '\0')
        return trk_usage_error("expected a non-negative decimal number for ", opt);
    if (errno == ERANGE || v < lo || v > hi)
        return trk_usage_error("value out of range for ", opt);
    *out = (int64_t)v;
    return 0;
}

int trk_parse_lifetime(const char *value, int64_t *out)
{
    return value == NULL ? 0 : trk_parse_int("--lifetime", value, 1, LIFETIME_MAX, out);
}

int trk_parse_skew(const char *value, int64_t *out)
{
    return value == NULL ? 0 : trk_parse_int("--skew", value, 0, SKEW_MAX, out);
}

int trk_parse_now(const char *value, int64_t *out)
{
    return value == NULL ? 0 : trk_parse_int("--now", value, 0, NOW_MAX, out);
}

int64_t trk_fixed_clock(void *arg)
{
    return *(const int64_t *)arg;
}

int trk_new_ring(tr_ring **ring)
{
    int rc = tr_ring_new(ring, TRK_BACKEND());
    if (rc != 0)
        return trk_fail(1, "cannot create a key ring: ", tr_strerror(rc), NULL);
    return 0;
}

int trk_new_ring_at(tr_ring **ring, int64_t *clock_ms, int64_t lifetime, int64_t skew)
{
    int rc;
    if (trk_new_ring(ring) != 0)
        return 1;
    rc = tr_ring_set_clock(*ring, trk_fixed_clock, clock_ms);
    if (rc == 0 && lifetime != 0)
        rc = tr_ring_set_lifetime(*ring, (uint32_t)lifetime);
    if (rc == 0)
        rc = tr_ring_set_skew(*ring, (uint32_t)skew);
    if (rc != 0) {
        tr_ring_free(*ring);
        *ring = NULL;
        return trk_fail(1, "cannot configure the key ring: ", tr_strerror(rc), NULL);
    }
    return 0;
}

/* The ring's log line for a refusal names the exact reason (it never holds
 * key material); keep the last error to print it. */
static char last_error[256];

static void keep_error(int32_t level, const char *msg, void *arg)
{
    (void)arg;
    if (level == TR_LOG_ERROR)
        snprintf(last_error, sizeof(last_error), "%s", msg);
}

static void keep_log(int32_t level, const char *msg, void *arg)
{
    (void)arg;
    if (level == TR_LOG_ERROR)
        snprintf(last_error, sizeof(last_error), "%s", msg);
    else if (level == TR_LOG_WARN)
        fprintf(stderr, "%s: warning: %s\n", PROG, msg);
}

void trk_capture_log(tr_ring *ring)
{
    last_error[0] = '\0';
    tr_ring_set_log(ring, keep_log, NULL);
}

const char *trk_last_error(void)
{
    return last_error;
}

int trk_load(tr_ring *ring, const char *path)
{
    uint32_t line = 0;
    int rc;

    last_error[0] = '\0';
    /* Only the refusal: a load's warnings (a key file readable by others)
     * are what 'verify' and 'inspect' have always left to the operator's
     * ls -l, and the refusal's own follow-up line would break the
     * one-line-error rule. */
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

void trk_hex(char *out, const uint8_t *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

const char *trk_role_name(int32_t role)
{
    switch (role) {
    case TR_KEY_PENDING: return "pending";
    case TR_KEY_ENCRYPT: return "encrypt";
    case TR_KEY_DECRYPT: return "decrypt";
    case TR_KEY_RETIRED: return "retired";
    case TR_KEY_REVOKED: return "revoked";
    default: return "unknown";
    }
}

void trk_iso_time(int64_t t, char out[64])
{
    time_t tt = (time_t)t;
    struct tm tm;
    strcpy(out, "-");
    if ((int64_t)tt == t && gmtime_r(&tt, &tm) != NULL)
        strftime(out, 64, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int trk_begin(int argc, char **argv, struct trk_args *a, size_t max_pos, const char *usage,
              size_t need, const char *missing)
{
    int rc = trk_parse_args(argc, argv, a, max_pos);

    if (rc != 0)
        return rc;
    if (a->help) {
        fputs(usage, stdout);
        return 0;
    }
    if (need != TRK_ANY_POS && a->n_pos != need)
        return trk_usage_error(missing, NULL);
    return TRK_GO_ON;
}

int trk_parse_key_name(const char *hex, uint8_t name[TR_KEY_NAME_BYTES])
{
    if (strlen(hex) != 2 * TR_KEY_NAME_BYTES)
        return -1;
    for (size_t i = 0; i < TR_KEY_NAME_BYTES; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + (size_t)j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        name[i] = (uint8_t)v;
    }
    return 0;
}
