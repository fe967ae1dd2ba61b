/*
 * ticketring-keys with a key store (built with libticketring-etcd):
 * kek (make a key-encryption key file), publish (seal a key file into the
 * store: the writer's first step) and status (the fleet from its
 * heartbeats).
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ticketring/etcd.h>

#include "commands.h"
#include "store.h"
#include "util.h"

#define KEK_BYTES 32

static const char usage_kek[] =
    "usage: " PROG " kek --out FILE --id ID [--force]\n"
    "\n"
    "Write a new random key-encryption key (KEK) to FILE (mode 0600): one line,\n"
    "'ID <64 hex digits>'. Every node and every writer of a cluster holds the\n"
    "same KEK file; the store only ever sees documents sealed under it. ID\n"
    "(1..64 characters of A-Z a-z 0-9 . _ -) names it in sealed documents, so\n"
    "a new KEK can be rolled out next to the old one (docs/etcd.md).\n";

static const char usage_publish[] =
    "usage: " PROG " publish FILE --store URL --kek KEKFILE\n"
    "                  [--user NAME --password-file F | --token-file F]\n"
    "\n"
    "Seal key file FILE under KEKFILE and store it as its cluster's key-set\n"
    "document at URL (etcd://host:port/prefix), with a compare-and-swap on the\n"
    "revision read. Refused when the stored document's serial is not lower\n"
    "than FILE's (run 'rotate' on FILE first) or when another writer won.\n";

static const char usage_status[] =
    "usage: " PROG " status --store URL --cluster ID [--kek KEKFILE]\n"
    "                  [--user NAME --password-file F | --token-file F]\n"
    "\n"
    "List the live nodes of cluster ID from their heartbeats: node id,\n"
    "fingerprint, serial, sync age and state (in_sync: the highest serial seen;\n"
    "lagging: a lower one; drifted: the same serial with another fingerprint).\n"
    "With --kek, also open the stored document and show its schedule: each key's\n"
    "activation (or pending), role now, the serial that added it, and the forced\n"
    "activations (how many; the last one's key and lagging nodes).\n";

int trk_cmd_kek(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--out", 1, NULL}, {"--id", 1, NULL}, {"--force", 0, NULL}};
    struct trk_args a = {opts, 3, {NULL}, 0, 0};
    uint8_t key[KEK_BYTES];
    char line[64 + 2 * KEK_BYTES + 3], tmp[4096];
    size_t len;
    int rc, fd, flags;

    rc = trk_begin(argc, argv, &a, 0, usage_kek, 0, NULL);
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL || opts[1].value == NULL)
        return trk_usage_error("kek: --out and --id are required", NULL);
    len = strlen(opts[1].value);
    if (len == 0 || len > 64 || strspn(opts[1].value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
                                                       "klmnopqrstuvwxyz0123456789._-") != len)
        return trk_usage_error("kek: --id must be 1..64 characters of A-Z a-z 0-9 . _ -", NULL);
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
        return trk_fail(1, "kek: no random bytes: ", strerror(errno), NULL);
    len = (size_t)snprintf(line, sizeof line, "%s ", opts[1].value);
    trk_hex(line + len, key, sizeof key);
    len += 2 * KEK_BYTES;
    line[len++] = '\n';
    explicit_bzero(key, sizeof key);
    /* Temporary file and rename: a reader never sees half a key. */
    snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", opts[0].value);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        explicit_bzero(line, sizeof line);
        return trk_fail(1, opts[0].value, ": ", strerror(errno));
    }
    rc = write(fd, line, len) == (ssize_t)len && fsync(fd) == 0 ? 0 : -1;
    explicit_bzero(line, sizeof line);
    close(fd);
    flags = opts[2].value != NULL;
    if (rc == 0 && !flags && access(opts[0].value, F_OK) == 0) {
        unlink(tmp);
        return trk_fail(1, opts[0].value, ": exists (--force replaces it)", NULL);
    }
    if (rc != 0 || rename(tmp, opts[0].value) != 0) {
        int e = errno;
        unlink(tmp);
        return trk_fail(1, opts[0].value, ": ", strerror(e));
    }
    printf("%s: key-encryption key %s written\n", opts[0].value, opts[1].value);
    return 0;
}

/* The library's last error line, printed as the command's one error line
 * (it says more than the code's name). */
static char last_error[320];

void trk_keep_error(int32_t level, const char *msg, void *arg)
{
    (void)arg;
    if (level == TR_LOG_ERROR)
        snprintf(last_error, sizeof last_error, "%s", msg);
}

int trk_store_fail(const char *what, int rc)
{
    if (last_error[0] != '\0')
        return trk_fail(1, what, last_error, NULL);
    return trk_fail(1, what, tr_strerror(rc), NULL);
}

int trk_open_store(tr_sync **out, tr_ring *ring, const char *url, const char *user,
                      const char *pw_file, const char *token_file)
{
    int rc = tr_sync_new(out, ring, url);

    if (rc != 0)
        return trk_fail(1, url, ": not a key store URL (etcd://host:port/prefix)", NULL);
    tr_sync_set_log(*out, trk_keep_error, NULL);
    if ((user != NULL) != (pw_file != NULL))
        rc = trk_usage_error("--user and --password-file go together", NULL);
    else if (pw_file != NULL && token_file != NULL)
        rc = trk_usage_error("either --password-file or --token-file", NULL);
    else if (pw_file != NULL && tr_sync_set_password_file(*out, user, pw_file) != 0)
        rc = trk_fail(1, pw_file, ": cannot read a password from it", NULL);
    else if (token_file != NULL && tr_sync_set_token_file(*out, token_file) != 0)
        rc = trk_fail(1, token_file, ": cannot read a token from it", NULL);
    if (rc != 0) {
        tr_sync_free(*out);
        *out = NULL;
    }
    return rc;
}

static int read_all(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    size_t cap = 65536 + 1;

    *buf = NULL;
    *len = 0;
    if (f == NULL)
        return -1;
    *buf = malloc(cap);
    if (*buf != NULL)
        *len = fread(*buf, 1, cap, f);
    fclose(f);
    if (*buf == NULL || *len == cap) {
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

int trk_cmd_publish(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--store", 1, NULL},         {"--kek", 1, NULL},
                             {"--user", 1, NULL},          {"--password-file", 1, NULL},
                             {"--token-file", 1, NULL}};
    struct trk_args a = {opts, 5, {NULL}, 0, 0};
    tr_ring *ring = NULL;
    tr_sync *sync = NULL;
    char *text = NULL, fp[TR_FINGERPRINT_HEX + 1] = "";
    size_t len = 0;
    uint64_t serial = 0;
    int rc;

    rc = trk_begin(argc, argv, &a, 1, usage_publish, 1, "publish: FILE is required");
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL || opts[1].value == NULL)
        return trk_usage_error("publish: --store and --kek are required", NULL);
    if (trk_new_ring(&ring) != 0)
        return 1;
    /* Checked as every node will check it, and its cluster pins the ring. */
    if (trk_load(ring, a.pos[0]) != 0) {
        tr_ring_free(ring);
        return 1;
    }
    rc = trk_open_store(&sync, ring, opts[0].value, opts[2].value, opts[3].value, opts[4].value);
    if (rc == 0) {
        int krc = tr_sync_set_kek_file(sync, opts[1].value);
        if (krc != 0)
            rc = trk_fail(1, opts[1].value, ": ", tr_strerror(krc));
    }
    if (rc == 0 && read_all(a.pos[0], &text, &len) != 0)
        rc = trk_fail(1, a.pos[0], ": cannot read it again", NULL);
    if (rc == 0) {
        int prc = tr_sync_publish(sync, text, len);
        if (prc != 0)
            rc = trk_store_fail("publish: ", prc);
    }
    if (text != NULL) {
        explicit_bzero(text, len);
        free(text);
    }
    if (rc == 0) {
        tr_ring_serial(ring, &serial);
        tr_ring_fingerprint(ring, fp, sizeof fp);
        printf("%s: published to %s: serial %" PRIu64 ", fingerprint %s\n", a.pos[0],
               opts[0].value, serial, fp);
    }
    tr_sync_free(sync);
    tr_ring_free(ring);
    return rc;
}

struct node_row {
    char id[65], fp[TR_FINGERPRINT_HEX + 1];
    uint64_t serial;
    int64_t age_ms, written_ms;
};

struct rows {
    struct node_row *r;
    size_t n, cap;
};

static int collect(void *arg, const char *id, const char *fp, uint64_t serial, int64_t age_ms,
                   int64_t written_ms)
{
    struct rows *rs = arg;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        struct node_row *p = realloc(rs->r, cap * sizeof *p);
        if (p == NULL)
            return 1;
        rs->r = p;
        rs->cap = cap;
    }
    snprintf(rs->r[rs->n].id, sizeof rs->r[rs->n].id, "%s", id);
    snprintf(rs->r[rs->n].fp, sizeof rs->r[rs->n].fp, "%s", fp);
    rs->r[rs->n].serial = serial;
    rs->r[rs->n].age_ms = age_ms;
    rs->r[rs->n].written_ms = written_ms;
    rs->n++;
    return 0;
}

int trk_cmd_status(int argc, char **argv)
{
    struct trk_opt opts[] = {{"--store", 1, NULL},         {"--cluster", 1, NULL},
                             {"--user", 1, NULL},          {"--password-file", 1, NULL},
                             {"--token-file", 1, NULL},    {"--kek", 1, NULL}};
    struct trk_args a = {opts, 6, {NULL}, 0, 0};
    struct rows rs = {NULL, 0, 0};
    tr_ring *ring = NULL;
    tr_sync *sync = NULL;
    uint64_t top = 0;
    const char *top_fp = "";
    int rc;

    rc = trk_begin(argc, argv, &a, 0, usage_status, 0, NULL);
    if (rc != TRK_GO_ON)
        return rc;
    if (opts[0].value == NULL || opts[1].value == NULL)
        return trk_usage_error("status: --store and --cluster are required", NULL);
    if (trk_new_ring(&ring) != 0)
        return 1;
    if (tr_ring_set_cluster(ring, opts[1].value) != 0) {
        tr_ring_free(ring);
        return trk_usage_error("status: --cluster must be 1..64 characters of A-Z a-z 0-9 . _ -",
                               NULL);
    }
    rc = trk_open_store(&sync, ring, opts[0].value, opts[2].value, opts[3].value, opts[4].value);
    if (rc == 0 && opts[5].value != NULL) {
        int krc = tr_sync_set_kek_file(sync, opts[5].value);
        if (krc != 0)
            rc = trk_fail(1, opts[5].value, ": ", tr_strerror(krc));
    }
    if (rc == 0) {
        int lrc = tr_sync_nodes(sync, collect, &rs);
        if (lrc != 0)
            rc = trk_store_fail("status: ", lrc);
    }
    if (rc == 0) {
        for (size_t i = 0; i < rs.n; i++)
            if (rs.r[i].serial > top) {
                top = rs.r[i].serial;
                top_fp = rs.r[i].fp;
            }
        printf("%-24s %-16s %-20s %12s  %s\n", "NODE", "FINGERPRINT", "SERIAL", "SYNC_AGE_MS",
               "STATE");
        for (size_t i = 0; i < rs.n; i++) {
            const struct node_row *r = &rs.r[i];
            const char *state = r->serial < top                 ? "lagging"
                                : strcmp(r->fp, top_fp) != 0 ? "drifted"
                                                               : "in_sync";
            printf("%-24s %-16s %-20" PRIu64 " %12" PRId64 "  %s\n", r->id, r->fp, r->serial,
                   r->age_ms, state);
        }
        printf("%zu node(s)\n", rs.n);
    }
    if (rc == 0 && opts[5].value != NULL) {
        char text[16384];
        size_t len = 0;
        int drc = tr_sync_describe(sync, text, sizeof text, &len);
        if (drc != 0)
            rc = trk_store_fail("status: ", drc);
        else
            fwrite(text, 1, len, stdout);
    }
    free(rs.r);
    tr_sync_free(sync);
    tr_ring_free(ring);
    return rc;
}
