/*
 * ticketring-keys rotate: the one writer of a key file's schedule, meant
 * to run from cron or a systemd timer more often than the period.
 *
 * Safety argument (docs/operations.md has the operator's version). Let P be
 * the period, L the ticket lifetime, S the largest clock difference between
 * any two machines (the nodes' skew setting), and assume every node reloads
 * a file within P of its being written:
 *
 *  - A key written at W (the writer's clock) activates at A >= W + P + S.
 *    A node whose clock is S ahead of the writer's starts sealing with it
 *    when the writer's clock reads A - S >= W + P: by then every node has
 *    reloaded a file that holds it. (Activating at W + P, as if every node
 *    reloaded instantly, lets such a node seal up to S before a node that
 *    reloads a whole period late holds the key.)
 *  - A key is dropped only once it is retired at the writer's clock minus
 *    S: a node whose clock is S behind the writer's still opens tickets with
 *    a key until its own clock passes successor + L + S, so a file written
 *    earlier would take a key from it while it may still accept a ticket.
 *  - Nothing is written while a dated key is still waiting to activate:
 *    running more often than P changes nothing (no new serial either).
 *
 * Two copies at once: an exclusive flock() on FILE.lock serialises them on
 * one machine; on a file system where flock() does not reach every writer,
 * re-reading the file's serial (version 2: every write increases it) just
 * before saving catches a writer that got in between, and nothing is
 * written.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "util.h"

#define LOCK_WAIT_MS 60000

static const char usage_rotate[] =
    "usage: " PROG " rotate FILE --period SECONDS --lifetime SECONDS [--skew S] [--now UNIX]\n"
    "\n"
    "Keep FILE's schedule one key ahead. When no key of FILE is still waiting to\n"
    "activate, add a random key activating at\n"
    "  max(newest activation + PERIOD, now + PERIOD + SKEW)\n"
    "(now, if no key has an activation time), drop the keys that have retired\n"
    "(with both clocks SKEW apart), and write FILE atomically (mode 0600, a higher serial).\n"
    "Otherwise print 'nothing to do' and write nothing. Run it from cron more often\n"
    "than PERIOD (every PERIOD/4, say); nodes must reload FILE within PERIOD.\n"
    "Copies run at once wait for each other (flock on FILE.lock, up to 60 s).\n"
    "\n"
    "  --period SECONDS    time between activations, 1..31536000 (required)\n"
    "  --lifetime SECONDS  ticket lifetime the servers use, 1..604800 (required)\n"
    "  --skew S            largest clock difference between machines, 0..3600\n"
    "                      (default 60, the ring's default)\n"
    "  --now UNIX          act as if the time were UNIX (tests, dry planning)\n";

/* FILE.lock next to FILE, mode 0600, held until the descriptor closes.
 * Never removed: removing a lock file races with a waiter that opened it. */
static int take_lock(const char *path, int *fd_out)
{
    char lock[PATH_MAX];
    struct timespec pause = {0, 20 * 1000 * 1000};
    int fd, waited = 0;

    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
        return trk_fail(1, path, ": path too long", NULL);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, S_IRUSR | S_IWUSR);
    if (fd < 0)
        return trk_fail(1, lock, ": cannot open the lock file: ", strerror(errno));
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= LOCK_WAIT_MS) {
            close(fd);
            return trk_fail(1, lock,
                            errno == EWOULDBLOCK ? ": held by another rotate for 60 s" : ": ",
                            errno == EWOULDBLOCK ? NULL : strerror(errno));
        }
        nanosleep(&pause, NULL);
        waited += 20;
    }
    *fd_out = fd;
    return 0;
}

struct key {
    uint8_t name[TR_KEY_NAME_BYTES];
    int64_t activation;
    int32_t role;
};

/* Every key with its role at *clock_ms (the ring's clock). */
static int list_keys(tr_ring *ring, struct key *k, uint32_t *n)
{
    int rc = tr_ring_key_count(ring, n);
    for (uint32_t i = 0; rc == 0 && i < *n; i++)
        rc = tr_ring_key_info(ring, i, k[i].name, &k[i].activation, &k[i].role);
    return rc;
}

static int dated_live(const struct key *k)
{
    return k->activation != TR_ACTIVATION_PENDING && k->role != TR_KEY_REVOKED;
}

/*
 * Keys to drop, judged at `at` (the writer's clock minus the skew): a key
 * the ring calls retired; and a revoked key that would be retired if it
 * were not revoked (its successor, the next dated key that is not revoked,
 * activated more than lifetime + skew before `at`): its revocation has had
 * the time every other key gets to reach the nodes, and no node may open a
 * ticket with it anyway. A revoked key without an activation time stays
 * listed; remove it by hand when every node has seen it.
 */
static uint32_t drop_list(const struct key *k, uint32_t n, int64_t at, int64_t lifetime,
                          int64_t skew, uint32_t *idx)
{
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (k[i].role == TR_KEY_RETIRED) {
            idx[m++] = i;
            continue;
        }
        if (k[i].role != TR_KEY_REVOKED || k[i].activation == TR_ACTIVATION_PENDING)
            continue;
        for (uint32_t j = i + 1; j < n; j++) {
            if (!dated_live(&k[j]))
                continue;
            if (at - k[j].activation > lifetime + skew)
                idx[m++] = i;
            break;
        }
    }
    return m;
}

/* FILE as it is on disk now: its serial and fingerprint. */
static int reread(const char *path, uint64_t *serial, char fp[TR_FINGERPRINT_HEX + 1])
{
    tr_ring *ring = NULL;
    int rc;
    if (trk_new_ring(&ring) != 0)
        return 1;
    rc = trk_load(ring, path);
    if (rc == 0 && (tr_ring_serial(ring, serial) != 0 ||
                    tr_ring_fingerprint(ring, fp, TR_FINGERPRINT_HEX + 1) != 0))
        rc = trk_fail(1, path, ": cannot read its serial", NULL);
    tr_ring_free(ring);
    return rc;
}

static int rotate_locked(const char *path, int64_t period, int64_t lifetime, int64_t skew,
                         int64_t now)
{
    struct key k[TR_RING_MAX_KEYS];
    uint32_t n = 0, drop[TR_RING_MAX_KEYS], n_drop;
    uint8_t name[TR_KEY_NAME_BYTES];
    char name_hex[2 * TR_KEY_NAME_BYTES + 1], when[64], fp[TR_FINGERPRINT_HEX + 1];
    char fp_before[TR_FINGERPRINT_HEX + 1], fp_disk[TR_FINGERPRINT_HEX + 1];
    int64_t clock_ms = now * 1000, activation, newest = -1;
    uint64_t serial = 0, serial_disk = 0;
    int newest_i = -1, rc;
    tr_ring *ring = NULL;

    if (trk_new_ring_at(&ring, &clock_ms, lifetime, skew) != 0)
        return 1;
    if (trk_load(ring, path) != 0) {
        tr_ring_free(ring);
        return 1;
    }
    rc = list_keys(ring, k, &n);
    if (rc == 0)
        rc = tr_ring_serial(ring, &serial);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp_before, sizeof fp_before);
    if (rc != 0)
        goto fail;
    for (uint32_t i = 0; i < n; i++)
        if (dated_live(&k[i]) && k[i].activation >= newest) {
            newest = k[i].activation;
            newest_i = (int)i;
        }
    if (newest > now) {
        trk_hex(name_hex, k[newest_i].name, TR_KEY_NAME_BYTES);
        trk_iso_time(newest, when);
        printf("nothing to do: next key %s activates at %s (%" PRId64 ")\n", name_hex, when,
               newest);
        tr_ring_free(ring);
        return 0;
    }

    /* Retired at the writer's clock minus the skew (see the top). */
    clock_ms = (now - skew) * 1000;
    rc = list_keys(ring, k, &n);
    clock_ms = now * 1000;
    if (rc != 0)
        goto fail;
    n_drop = drop_list(k, n, now - skew, lifetime, skew, drop);
    for (uint32_t i = 0; i < n_drop && rc == 0; i++)
        rc = tr_ring_remove_key(ring, k[drop[i]].name);
    if (rc != 0)
        goto fail;

    activation = newest < 0 ? now : newest + period;
    if (newest >= 0 && activation < now + period + skew)
        activation = now + period + skew;
    rc = tr_ring_generate_key(ring, activation, name);
    if (rc != 0)
        goto fail;

    /* A writer that got in between (no shared flock): write nothing. */
    if (reread(path, &serial_disk, fp_disk) != 0) {
        tr_ring_free(ring);
        return 1;
    }
    if (serial_disk != serial || strcmp(fp_disk, fp_before) != 0) {
        tr_ring_free(ring);
        fprintf(stderr,
                "%s: %s: changed while rotating (serial %" PRIu64 ", now %" PRIu64
                "); nothing written: run rotate again\n",
                PROG, path, serial, serial_disk);
        return 1;
    }
    rc = tr_ring_save(ring, path);
    if (rc == 0)
        rc = tr_ring_serial(ring, &serial);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    if (rc != 0)
        goto fail;
    tr_ring_free(ring);
    trk_hex(name_hex, name, sizeof name);
    trk_iso_time(activation, when);
    printf("%s: added key %s activating at %s (%" PRId64 "); removed %" PRIu32
           " keys; serial %" PRIu64 ", fingerprint %s\n",
           path, name_hex, when, activation, n_drop, serial, fp);
    return 0;

fail:
    tr_ring_free(ring);
    return trk_fail(1, path, ": ", tr_strerror(rc));
}

int trk_cmd_rotate(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--period", 1, NULL}, {"--lifetime", 1, NULL},
                             {"--skew", 1, NULL},   {"--now", 1, NULL}};
    struct trk_args a = {opts, sizeof opts / sizeof opts[0], {NULL}, 0, 0};
    int64_t period = 0, lifetime = 0, skew = 60, now = (int64_t)time(NULL);
    int rc, fd = -1;

    rc = trk_begin(argc, argv, &a, 1, usage_rotate, 1, "rotate: FILE is required");
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL)
        return trk_usage_error("rotate: --period SECONDS is required", NULL);
    if (opts[1].value == NULL)
        return trk_usage_error("rotate: --lifetime SECONDS is required", NULL);
    if (trk_parse_int("--period", opts[0].value, 1, PERIOD_MAX, &period) != 0 ||
        trk_parse_lifetime(opts[1].value, &lifetime) != 0 ||
        trk_parse_skew(opts[2].value, &skew) != 0 || trk_parse_now(opts[3].value, &now) != 0)
        return EXIT_USAGE;

    if (take_lock(a.pos[0], &fd) != 0)
        return 1;
    rc = rotate_locked(a.pos[0], period, lifetime, skew, now);
    close(fd); /* releases the lock */
    return rc;
}
