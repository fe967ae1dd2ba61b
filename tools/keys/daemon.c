/*
 * ticketring-keys daemon and revoke --store: the writer of a cluster's key
 * schedule in a key store, run as a service (two copies for availability:
 * they write by compare-and-swap, so they never need a lock), and the
 * emergency revocation through the same path.
 */
#define _GNU_SOURCE

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "store.h"
#include "util.h"

static const char usage_daemon[] =
    "usage: " PROG " daemon --store URL --kek KEKFILE --cluster ID --period S --lifetime S\n"
    "                  [--lead S] [--max-wait S] [--skew S] [--ahead M] [--poll-ms MS]\n"
    "                  [--id NAME] [--once]\n"
    "                  [--user NAME --password-file F | --token-file F]\n"
    "\n"
    "Rotate cluster ID's keys in the key store at URL until SIGTERM or SIGINT, in\n"
    "two phases (docs/etcd.md): add the next key as pending (every node decrypts\n"
    "with it), then date it once every live node's heartbeat reports the serial\n"
    "that added it and LEAD has passed, at the earliest PERIOD after the newest\n"
    "key; after MAX-WAIT it is dated anyway (a forced activation, logged with the\n"
    "lagging nodes). Keys are dropped LIFETIME + SKEW after their successor\n"
    "activated. An empty store gets a first key, active at once. Every write is a\n"
    "compare-and-swap: run two copies for availability. One line per action on\n"
    "stderr; none holds key material.\n"
    "\n"
    "  --period S      time between activations, 1..31536000 (required)\n"
    "  --lifetime S    ticket lifetime the servers use, 1..604800 (required)\n"
    "  --lead S        least time from adding a key to dating it (default 120)\n"
    "  --max-wait S    force the activation after S (default 3 x lead)\n"
    "  --skew S        largest clock difference between machines (default 60)\n"
    "  --ahead M       keys kept pending or dated ahead, 1..8 (default 1)\n"
    "  --poll-ms MS    read the store at least this often (default 30000)\n"
    "  --id NAME       this writer's name in logs (default: host name and pid)\n"
    "  --once          one round, then exit (0: nothing to do or written)\n";

static const char usage_revoke_store[] =
    "usage: " PROG " revoke NAME --store URL --kek KEKFILE --cluster ID\n"
    "                  [--user NAME --password-file F | --token-file F]\n"
    "\n"
    "Mark the key named NAME revoked in cluster ID's document in the key store:\n"
    "every node stops encrypting and decrypting with it as soon as it applies the\n"
    "document (within a watch round trip), and a running daemon dates the next\n"
    "key without waiting for its period.\n";

static char daemon_id[80] = "daemon";

static void to_stderr(int32_t level, const char *msg, void *arg)
{
    (void)arg;
    if (level >= TR_LOG_INFO || level == TR_LOG_ERROR || level == TR_LOG_WARN)
        fprintf(stderr, PROG " daemon %s: %s\n", daemon_id, msg);
}

static int uint_opt(const char *name, const char *v, int64_t lo, int64_t hi, uint32_t *out)
{
    int64_t x;

    if (v == NULL)
        return 0;
    if (trk_parse_int(name, v, lo, hi, &x) != 0)
        return 2;
    *out = (uint32_t)x;
    return 0;
}

/* Run until SIGTERM or SIGINT; the follower's thread does the work. */
static int serve(tr_sync *sync)
{
    sigset_t set;
    int sig = 0;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    /* Blocked before the thread starts, so it inherits the mask and the
     * signal comes here. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (tr_sync_start(sync) != 0)
        return trk_fail(1, "daemon: ", "cannot start (see above)", NULL);
    while (sigwait(&set, &sig) != 0)
        ;
    return 0;
}

int trk_cmd_daemon(int argc, char **argv)
{
    struct trk_opt opts[] = {
        {"--store", 1, NULL},  {"--kek", 1, NULL},      {"--cluster", 1, NULL},
        {"--period", 1, NULL}, {"--lifetime", 1, NULL}, {"--lead", 1, NULL},
        {"--max-wait", 1, NULL}, {"--skew", 1, NULL},   {"--ahead", 1, NULL},
        {"--poll-ms", 1, NULL}, {"--id", 1, NULL},      {"--once", 0, NULL},
        {"--user", 1, NULL},   {"--password-file", 1, NULL}, {"--token-file", 1, NULL}};
    struct trk_args a = {opts, 15, {NULL}, 0, 0};
    uint32_t period = 0, lifetime = 0, lead = 120, max_wait = 0, skew = 60, ahead = 1;
    uint32_t poll = 30000;
    tr_sync_status st;
    tr_ring *ring = NULL;
    tr_sync *sync = NULL;
    int rc;

    rc = trk_begin(argc, argv, &a, 0, usage_daemon, 0, NULL);
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL || opts[1].value == NULL || opts[2].value == NULL ||
        opts[3].value == NULL || opts[4].value == NULL)
        return trk_usage_error("daemon: --store, --kek, --cluster, --period and --lifetime "
                               "are required", NULL);
    if (uint_opt("--period", opts[3].value, 1, 31536000, &period) ||
        uint_opt("--lifetime", opts[4].value, 1, 604800, &lifetime) ||
        uint_opt("--lead", opts[5].value, 0, 86400, &lead) ||
        uint_opt("--max-wait", opts[6].value, 0, 604800, &max_wait) ||
        uint_opt("--skew", opts[7].value, 0, 3600, &skew) ||
        uint_opt("--ahead", opts[8].value, 1, 8, &ahead) ||
        uint_opt("--poll-ms", opts[9].value, 100, 3600000, &poll))
        return 2;
    if (opts[6].value == NULL)
        max_wait = lead * 3 < 604800 ? lead * 3 : 604800;
    if (max_wait < lead)
        return trk_usage_error("daemon: --max-wait must not be below --lead", NULL);
    if (opts[10].value != NULL)
        snprintf(daemon_id, sizeof daemon_id, "%s", opts[10].value);
    if (trk_new_ring(&ring) != 0)
        return 1;
    if (tr_ring_set_cluster(ring, opts[2].value) != 0) {
        tr_ring_free(ring);
        return trk_usage_error("daemon: --cluster must be 1..64 characters of A-Z a-z 0-9 . _ -",
                               NULL);
    }
    rc = trk_open_store(&sync, ring, opts[0].value, opts[12].value, opts[13].value,
                        opts[14].value);
    if (rc == 0 && opts[10].value != NULL && tr_sync_set_node_id(sync, opts[10].value) != 0)
        rc = trk_usage_error("daemon: --id must be 1..64 characters of A-Z a-z 0-9 . _ -", NULL);
    if (rc == 0 && tr_sync_set_kek_file(sync, opts[1].value) != 0)
        rc = trk_store_fail("daemon: ", TR_E_INVAL);
    if (rc == 0 && (tr_sync_set_role(sync, TR_SYNC_ROLE_WRITER) != 0 ||
                    tr_sync_set_schedule(sync, period, lead, max_wait, lifetime, skew, ahead) != 0 ||
                    tr_sync_set_intervals(sync, poll, 10, 2000) != 0 ||
                    tr_sync_set_log(sync, to_stderr, NULL) != 0))
        rc = trk_usage_error("daemon: invalid schedule", NULL);
    if (rc == 0 && opts[11].value != NULL) {
        int src = tr_sync_step(sync, NULL);
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        tr_sync_status_get(sync, &st);
        rc = src == 0 && st.write_refused == 0 && st.store_errors == 0 ? 0 : 1;
    } else if (rc == 0) {
        rc = serve(sync);
    }
    if (sync != NULL) {
        memset(&st, 0, sizeof st);
        st.size = sizeof st;
        if (tr_sync_status_get(sync, &st) == 0 && rc != 2)
            fprintf(stderr,
                    PROG " daemon %s: writes %" PRIu64 ", conflicts %" PRIu64 ", forced %" PRIu64
                         ", store errors %" PRIu64 "\n",
                    daemon_id, st.writes, st.conflicts, st.forced, st.store_errors);
    }
    tr_sync_free(sync);
    tr_ring_free(ring);
    return rc;
}

int trk_cmd_revoke_store(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--store", 1, NULL},         {"--kek", 1, NULL},
                             {"--cluster", 1, NULL},       {"--user", 1, NULL},
                             {"--password-file", 1, NULL}, {"--token-file", 1, NULL}};
    struct trk_args a = {opts, 6, {NULL}, 0, 0};
    uint8_t name[TR_KEY_NAME_BYTES];
    tr_ring *ring = NULL;
    tr_sync *sync = NULL;
    int rc;

    rc = trk_begin(argc, argv, &a, 1, usage_revoke_store, 1, "revoke: NAME is required");
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[1].value == NULL || opts[2].value == NULL)
        return trk_usage_error("revoke: --store needs --kek and --cluster", NULL);
    if (trk_parse_key_name(a.pos[0], name) != 0)
        return trk_usage_error("revoke: NAME must be 32 lowercase hex digits", NULL);
    if (trk_new_ring(&ring) != 0)
        return 1;
    if (tr_ring_set_cluster(ring, opts[2].value) != 0) {
        tr_ring_free(ring);
        return trk_usage_error("revoke: --cluster must be 1..64 characters of A-Z a-z 0-9 . _ -",
                               NULL);
    }
    rc = trk_open_store(&sync, ring, opts[0].value, opts[3].value, opts[4].value, opts[5].value);
    if (rc == 0 && tr_sync_set_kek_file(sync, opts[1].value) != 0)
        rc = trk_store_fail("revoke: ", TR_E_INVAL);
    if (rc == 0) {
        int rrc = tr_sync_revoke(sync, name);
        if (rrc == TR_E_KEY_NOT_FOUND)
            rc = trk_fail(1, "revoke: the stored document holds no key named ", a.pos[0], NULL);
        else if (rrc != 0)
            rc = trk_store_fail("revoke: ", rrc);
    }
    if (rc == 0)
        printf("key %s revoked in %s (cluster %s)\n", a.pos[0], opts[0].value, opts[2].value);
    tr_sync_free(sync);
    tr_ring_free(ring);
    return rc;
}
