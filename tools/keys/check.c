/*
 * ticketring-keys check: prove, with the library's own roles, that every
 * ticket a node holding FILE can issue over the horizon stays decryptable
 * on every node holding FILE for as long as it is valid.
 *
 * The model: clocks of any two nodes differ by at most S (the skew); a node
 * whose clock reads r seals with the encrypt key at r; another node accepts
 * that ticket while its own clock reads at most r + L + S (the ring's age
 * check allows the skew) and sees it at the earliest when its clock reads
 * r - S (a clock S behind; 2S is tried, to be generous). A key's roles only
 * move forward in time (pending, encrypt, decrypt, retired) or are revoked
 * for good, so a ticket sealed at r opens everywhere exactly when its key
 * is neither retired nor revoked at readings r - 2S and r + L + S. The
 * encrypt key changes only at activation times, and for a fixed key the
 * latest reading is the worst, so the readings to try are the ends of the
 * issuing window [now - S, now + horizon + S] and the second before and
 * the second of each activation inside it. The roles come from the ring
 * (tr_ring_key_info() under a fake clock), not from a copy of its rules.
 */
#define _POSIX_C_SOURCE 200809L

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "util.h"

#define HORIZON_DEFAULT 604800 /* 7 days: the longest TLS 1.3 ticket lifetime */
#define HORIZON_MAX 31536000
#define MAX_REPORTED 20

static const char usage_check[] =
    "usage: " PROG " check FILE --lifetime SECONDS --skew SECONDS [--horizon SECONDS]\n"
    "                      [--period SECONDS] [--now UNIX]\n"
    "\n"
    "Prove that every ticket a node holding FILE can issue between now and\n"
    "now + HORIZON (with node clocks up to SKEW apart) stays decryptable for its\n"
    "whole lifetime on every node holding FILE, and that some key encrypts now.\n"
    "Prints one 'violation: ...' line per fault and exits 1; otherwise prints\n"
    "  ok: safe until TIME; schedule runs out at TIME unless rotated\n"
    "where the schedule runs out one PERIOD after the newest activation (nodes\n"
    "then keep sealing with an overdue key, or stop, as their policy says).\n"
    "\n"
    "  --lifetime SECONDS  ticket lifetime the servers use, 1..604800 (required)\n"
    "  --skew SECONDS      largest clock difference between nodes, 0..3600 (required)\n"
    "  --horizon SECONDS   how far ahead to prove it, 1..31536000 (default 604800:\n"
    "                      7 days, the longest lifetime a TLS 1.3 ticket may have)\n"
    "  --period SECONDS    the rotation period (default: the time between the two\n"
    "                      newest activations)\n"
    "  --now UNIX          prove it from this time instead of now\n";

struct check {
    tr_ring *ring;
    int64_t clock_ms, lifetime, skew;
    uint32_t violations;
};

static void report(struct check *c, const char *fmt_line)
{
    if (c->violations++ < MAX_REPORTED)
        printf("violation: %s\n", fmt_line);
}

/* The role of the key named `name` when the clock reads `at` seconds. */
static int role_at(struct check *c, const uint8_t name[TR_KEY_NAME_BYTES], int64_t at,
                   int32_t *role)
{
    uint8_t got[TR_KEY_NAME_BYTES];
    uint32_t n = 0;
    int rc;

    c->clock_ms = at * 1000;
    rc = tr_ring_key_count(c->ring, &n);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = tr_ring_key_info(c->ring, i, got, NULL, role);
        if (rc == 0 && memcmp(got, name, sizeof got) == 0)
            return 0;
    }
    return rc != 0 ? rc : TR_E_KEY_NOT_FOUND;
}

/* A ticket sealed by a node whose clock reads r (the last millisecond of
 * that second: the latest seal there). */
static int try_issue(struct check *c, int64_t r)
{
    uint8_t name[TR_KEY_NAME_BYTES];
    const int64_t ends[2] = {r - 2 * c->skew, r + c->lifetime + c->skew};
    int rc;

    c->clock_ms = r * 1000 + 999;
    rc = tr_ring_encrypt_key_name(c->ring, name);
    if (rc == TR_E_NO_ENCRYPT_KEY)
        return 0; /* that node issues no ticket: nothing to keep */
    for (int e = 0; rc == 0 && e < 2; e++) {
        int32_t role = 0;
        rc = role_at(c, name, ends[e], &role);
        if (rc == 0 && (role == TR_KEY_RETIRED || role == TR_KEY_REVOKED)) {
            char line[400], hexname[2 * TR_KEY_NAME_BYTES + 1], t1[64], t2[64];
            trk_hex(hexname, name, sizeof name);
            trk_iso_time(r, t1);
            trk_iso_time(ends[e], t2);
            snprintf(line, sizeof line,
                     "a node whose clock reads %s seals with key %s, which a node whose clock "
                     "reads %s (%+" PRId64 " s) no longer opens (%s) while the ticket is valid",
                     t1, hexname, t2, ends[e] - r, trk_role_name(role));
            report(c, line);
        }
    }
    return rc;
}

int trk_cmd_check(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--lifetime", 1, NULL}, {"--skew", 1, NULL},
                             {"--horizon", 1, NULL},  {"--period", 1, NULL},
                             {"--now", 1, NULL}};
    struct trk_args a = {opts, sizeof opts / sizeof opts[0], {NULL}, 0, 0};
    int64_t lifetime = 0, skew = 0, horizon = HORIZON_DEFAULT, period = 0;
    int64_t now = (int64_t)time(NULL), act[TR_RING_MAX_KEYS], newest = -1, before = -1;
    int32_t roles[TR_RING_MAX_KEYS];
    char t_safe[64], t_out[64], line[400];
    struct check c = {NULL, 0, 0, 0, 0};
    uint8_t name[TR_KEY_NAME_BYTES];
    uint32_t n = 0;
    int rc, inferred = 0;

    rc = trk_begin(argc, argv, &a, 1, usage_check, 1, "check: FILE is required");
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL)
        return trk_usage_error("check: --lifetime SECONDS is required", NULL);
    if (opts[1].value == NULL)
        return trk_usage_error("check: --skew SECONDS is required", NULL);
    if (trk_parse_lifetime(opts[0].value, &lifetime) != 0 ||
        trk_parse_skew(opts[1].value, &skew) != 0 ||
        (opts[2].value != NULL &&
         trk_parse_int("--horizon", opts[2].value, 1, HORIZON_MAX, &horizon) != 0) ||
        (opts[3].value != NULL &&
         trk_parse_int("--period", opts[3].value, 1, PERIOD_MAX, &period) != 0) ||
        trk_parse_now(opts[4].value, &now) != 0)
        return EXIT_USAGE;

    c.lifetime = lifetime;
    c.skew = skew;
    c.clock_ms = now * 1000;
    if (trk_new_ring_at(&c.ring, &c.clock_ms, lifetime, skew) != 0)
        return 1;
    if (trk_load(c.ring, a.pos[0]) != 0) {
        tr_ring_free(c.ring);
        return 1;
    }
    rc = tr_ring_key_count(c.ring, &n);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        rc = tr_ring_key_info(c.ring, i, NULL, &act[i], &roles[i]);

    /* Some key must encrypt now; once one does, one always will. */
    if (rc == 0 && tr_ring_encrypt_key_name(c.ring, name) == TR_E_NO_ENCRYPT_KEY) {
        int64_t first = -1;
        for (uint32_t i = 0; i < n; i++)
            if (act[i] != TR_ACTIVATION_PENDING && roles[i] != TR_KEY_REVOKED && act[i] > now &&
                (first < 0 || act[i] < first))
                first = act[i];
        trk_iso_time(now, t_safe);
        trk_iso_time(first, t_out);
        snprintf(line, sizeof line,
                 "no key encrypts at %s: nodes issue no tickets %s%s", t_safe,
                 first < 0 ? "(no key has an activation time and is not revoked)"
                           : "until the first key activates at ",
                 first < 0 ? "" : t_out);
        report(&c, line);
    }

    /* Issuing readings: the window's ends and each activation inside it. */
    if (rc == 0)
        rc = try_issue(&c, now - skew);
    if (rc == 0)
        rc = try_issue(&c, now + horizon + skew);
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        if (act[i] == TR_ACTIVATION_PENDING || act[i] < now - skew || act[i] > now + horizon + skew)
            continue;
        rc = try_issue(&c, act[i] - 1);
        if (rc == 0)
            rc = try_issue(&c, act[i]);
    }
    tr_ring_free(c.ring);
    if (rc != 0)
        return trk_fail(1, a.pos[0], ": ", tr_strerror(rc));
    if (c.violations != 0) {
        if (c.violations > MAX_REPORTED)
            printf("violation: ... %" PRIu32 " more\n", c.violations - MAX_REPORTED);
        fprintf(stderr, "%s: %s: schedule not safe: %" PRIu32 " violations\n", PROG, a.pos[0],
                c.violations);
        return 1;
    }

    /* When the schedule runs out: a period after the newest activation. */
    for (uint32_t i = 0; i < n; i++) {
        if (act[i] == TR_ACTIVATION_PENDING || roles[i] == TR_KEY_REVOKED)
            continue;
        before = newest;
        newest = act[i]; /* in activation order */
    }
    if (period == 0 && before >= 0 && newest > before) {
        period = newest - before;
        inferred = 1;
    }
    trk_iso_time(now + horizon, t_safe);
    if (period == 0) {
        trk_iso_time(newest, t_out);
        printf("ok: safe until %s; the newest key encrypts from %s with no successor "
               "(pass --period to know when the schedule runs out)\n",
               t_safe, t_out);
        return 0;
    }
    trk_iso_time(newest + period, t_out);
    if (newest + period <= now)
        printf("ok: safe until %s; schedule ran out at %s (%s period %" PRId64
               " s): rotate now\n",
               t_safe, t_out, inferred ? "inferred" : "given", period);
    else
        printf("ok: safe until %s; schedule runs out at %s unless rotated (%s period %" PRId64
               " s)\n",
               t_safe, t_out, inferred ? "inferred" : "given", period);
    return 0;
}
