/*
 * The ring's key file: loading it with the checks a fleet needs before it
 * trusts a file (permissions, cluster, serial, activation horizon),
 * reloading it and saving it. Everything here runs under the writer lock;
 * sealing and opening never wait for it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ring.h"
#include "watch.h"
#include "secure.h"

/* Room for a refusal reason that names ids and serials (never key
 * material): two cluster ids of 64 characters and the text around them. */
#define WHY_MAX 224

/* Count and log a refused file: one line in the compiler's FILE:LINE:
 * shape (tools print it as it is), then what it means for the ring. */
static void refused(tr_ring *r, const char *path, int rc, uint32_t line, const char *why)
{
    tri_count(&r->counters.reload_failures);
    if (line != 0)
        tri_log(r, TR_LOG_ERROR, "%s:%u: %s (%s)", path, line,
                why != NULL ? why : tr_strerror(rc), tr_strerror(rc));
    else
        tri_log(r, TR_LOG_ERROR, "%s: %s", path, why != NULL ? why : tr_strerror(rc));
    tri_log(r, TR_LOG_WARN, "key file %s refused; keys unchanged (fingerprint %s)", path,
            tri_ring_current_locked(r)->fingerprint);
}

int tri_file_mode_verdict(tr_ring *r, const struct stat *st)
{
    int policy = atomic_load(&r->file_mode_policy);

    if ((st->st_mode & (S_IRGRP | S_IROTH)) == 0 || policy == TR_FILE_MODE_IGNORE)
        return 0;
    return policy == TR_FILE_MODE_REFUSE ? TR_E_KEYFILE_MODE : TRI_FILE_MODE_WARN;
}

static int check_mode(tr_ring *r, const char *path, const struct stat *st, char *text,
                      const char **why)
{
    unsigned mode;
    int verdict;

    /* Bytes from memory have no mode: whoever produced them (a key store
     * behind its own access control) answers for who could read them. */
    if (st == NULL)
        return 0;
    mode = (unsigned)st->st_mode & 07777u;
    verdict = tri_file_mode_verdict(r, st);
    if (verdict == 0)
        return 0;
    if (verdict == TR_E_KEYFILE_MODE) {
        snprintf(text, WHY_MAX,
                 "readable by group or others (mode %04o): run chmod 600 on it "
                 "(the file mode policy refuses such files)",
                 mode);
        *why = text;
        return TR_E_KEYFILE_MODE;
    }
    tri_log(r, TR_LOG_WARN,
            "key file %s is readable by group or others (mode %04o): run chmod 600 %s "
            "(loaded anyway: the file mode policy warns)",
            path, mode, path);
    return 0;
}

/* A pinned ring takes files of its cluster only; a file that names none
 * does not prove it is one of them. */
static int check_cluster(const struct tri_keyset *cur, const struct tri_keyfile_info *info,
                         char *text, const char **why, uint32_t *line)
{
    if (cur->cluster[0] == '\0' || strcmp(cur->cluster, info->cluster) == 0)
        return 0;
    if (info->cluster[0] == '\0')
        snprintf(text, WHY_MAX, "the file names no cluster; this ring is pinned to cluster %s",
                 cur->cluster);
    else
        snprintf(text, WHY_MAX, "cluster %s; this ring is pinned to cluster %s", info->cluster,
                 cur->cluster);
    *why = text;
    *line = info->cluster_line;
    return TR_E_KEYFILE_CLUSTER;
}

/* A serial lower than the highest loaded: an older file came back (a stale
 * replica, a restored backup, a replayed Secret). */
static int check_serial(uint64_t held, const struct tri_keyfile_info *info, uint32_t flags,
                        char *text, const char **why, uint32_t *line)
{
    if (info->serial >= held || (flags & TR_LOAD_FORCE))
        return 0;
    if (info->version == 1)
        snprintf(text, WHY_MAX,
                 "a version-1 file has no serial, and serial %" PRIu64
                 " is loaded: rollback refused (a forced load accepts it)",
                 held);
    else
        snprintf(text, WHY_MAX,
                 "serial %" PRIu64 " is lower than the serial %" PRIu64
                 " loaded: rollback refused (a forced load accepts it)",
                 info->serial, held);
    *why = text;
    *line = info->serial_line;
    return TR_E_KEYFILE_ROLLBACK;
}

static void log_loaded(tr_ring *r, const char *path, const struct tri_keyfile_info *info,
                       uint32_t n, int unchanged)
{
    const char *fp = tri_ring_current_locked(r)->fingerprint;

    if (info->version == 1 && !unchanged) {
        tri_log(r, TR_LOG_INFO, "key file %s: %u keys, fingerprint %s", path, n, fp);
        return;
    }
    tri_log(r, TR_LOG_INFO, "key file %s%s: %u keys, %s%s%sserial %" PRIu64 ", fingerprint %s",
            path, unchanged ? " unchanged" : "", n, info->cluster[0] ? "cluster " : "",
            info->cluster, info->cluster[0] ? ", " : "", info->serial, fp);
}

int tri_ring_apply_locked(tr_ring *r, const char *path, const char *buf, size_t len,
                          const struct stat *st, uint32_t flags, uint32_t *err_line)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyfile_info info;
    struct tri_keyset *cur = tri_ring_current_locked(r), *next = NULL;
    const uint64_t held = atomic_load(&r->serial);
    char text[WHY_MAX];
    const char *why = NULL;
    uint32_t n = 0, line = 0;
    int rc, same_as_serial = 0, unchanged = 0, new_baseline;

    if (err_line != NULL)
        *err_line = 0;
    memset(&info, 0, sizeof(info));
    rc = check_mode(r, path, st, text, &why);
    if (rc == 0)
        rc = tri_keyfile_parse(r->env.crypto, buf, len, tri_ring_max_activation(r), e,
                               TR_RING_MAX_KEYS, &n, &info, &line, &why);
    if (rc == 0)
        rc = check_cluster(cur, &info, text, &why, &line);
    if (rc == 0)
        rc = check_serial(held, &info, flags, text, &why, &line);
    if (rc == 0)
        rc = tri_keyset_build(&r->env, e, n, info.cluster, &next);
    tri_wipe(e, sizeof(e));
    if (rc == 0) {
        /* One serial names one key set: the same serial with other keys is
         * a file that was changed without being counted, or an old one.
         * (Keys added or removed in memory since do not count: reloading
         * the file restores its keys.) */
        same_as_serial = tri_ct_equal(next->digest, r->serial_digest, sizeof(next->digest));
        if (held != 0 && info.serial == held && !same_as_serial && !(flags & TR_LOAD_FORCE)) {
            snprintf(text, WHY_MAX,
                     "serial %" PRIu64 " is the serial loaded, with other keys: a changed "
                     "file needs a higher serial (rollback refused; a forced load accepts it)",
                     held);
            why = text;
            line = info.serial_line;
            rc = TR_E_KEYFILE_ROLLBACK;
        }
        unchanged = tri_ct_equal(next->digest, cur->digest, sizeof(next->digest));
    }
    if (rc != 0) {
        tri_keyset_free(&r->env, next);
        refused(r, path, rc, line, why);
        if (err_line != NULL)
            *err_line = line;
        return rc;
    }

    if (info.serial < held || (info.serial == held && held != 0 && !same_as_serial))
        tri_log(r, TR_LOG_WARN,
                "key file %s: serial %" PRIu64 " is not above the serial %" PRIu64
                " loaded; loaded anyway (forced)",
                path, info.serial, held);
    if (cur->cluster[0] == '\0' && info.cluster[0] != '\0')
        tri_log(r, TR_LOG_INFO, "key file %s pins this ring to cluster %s", path,
                info.cluster);
    /* The baseline follows the file now held, also when forced to an older
     * one (so that reloading that very file keeps working); the highest
     * serial seen is kept apart for the next save. */
    new_baseline = info.serial > held || (flags & TR_LOAD_FORCE);
    if (new_baseline)
        memcpy(r->serial_digest, next->digest, sizeof(r->serial_digest));
    if (info.serial > r->serial_max)
        r->serial_max = info.serial;
    if (unchanged) {
        /* Nothing to publish: keeping the set keeps its salts and spares
         * readers a grace period. */
        tri_keyset_free(&r->env, next);
    } else {
        tri_keyset_free(&r->env, tri_snapshot_exchange(&r->keys, next));
    }
    /* After the keys: whoever reads this serial (a node's health check, a
     * script waiting for a file to reach every node) finds its keys held. */
    if (new_baseline)
        atomic_store(&r->serial, info.serial);
    tri_count(&r->counters.reloads);
    log_loaded(r, path, &info, n, unchanged);
    return 0;
}

int tri_ring_load_locked(tr_ring *r, const char *path, uint32_t flags, uint32_t *err_line)
{
    struct stat st;
    size_t len = 0;
    char *buf;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    buf = tri_alloc(&r->env, TRI_KEYFILE_MAX_BYTES);
    if (buf == NULL)
        return TR_E_NOMEM;
    rc = tri_keyfile_read_stat(path, buf, TRI_KEYFILE_MAX_BYTES, &len, &st);
    if (rc == 0)
        rc = tri_ring_apply_locked(r, path, buf, len, &st, flags, err_line);
    else
        refused(r, path, rc, 0, NULL);
    /* The watcher's first check then compares with exactly what was loaded
     * (a change between this load and that check is not missed). */
    if (rc == 0)
        tri_watch_loaded(r, buf, len, &st);
    tri_wipe(buf, len);
    tri_free(&r->env, buf);
    return rc;
}

int tr_ring_load_ex(tr_ring *r, const char *path, uint32_t flags, uint32_t *err_line)
{
    size_t len;
    char *copy;
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (r == NULL || path == NULL || (flags & ~TR_LOAD_FORCE) != 0)
        return TR_E_INVAL;
    len = strlen(path) + 1;
    copy = tri_alloc(&r->env, len);
    if (copy == NULL)
        return TR_E_NOMEM;
    memcpy(copy, path, len);
    tri_ring_writer_lock(r);
    rc = tri_ring_load_locked(r, copy, flags, err_line);
    if (rc == 0) {
        if (r->path != NULL)
            tri_free(&r->env, r->path);
        r->path = copy;
        copy = NULL;
    }
    tri_ring_writer_unlock(r);
    if (copy != NULL)
        tri_free(&r->env, copy);
    return rc;
}

/* Named in log lines where a file's path would be. */
#define BUFFER_LABEL "key set from memory"

int tr_ring_load_buffer(tr_ring *r, const char *text, size_t len, uint32_t flags,
                        uint32_t *err_line)
{
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (r == NULL || (text == NULL && len != 0) || (flags & ~TR_LOAD_FORCE) != 0)
        return TR_E_INVAL;
    /* Same path as a file after its read: the parser bounds the size, and
     * the watcher's baseline is left alone (it describes the file). */
    tri_ring_writer_lock(r);
    rc = tri_ring_apply_locked(r, BUFFER_LABEL, text != NULL ? text : "", len, NULL, flags,
                               err_line);
    tri_ring_writer_unlock(r);
    return rc;
}

int tr_ring_load(tr_ring *r, const char *path, uint32_t *err_line)
{
    return tr_ring_load_ex(r, path, 0, err_line);
}

/* Never forced: a reload is what a watcher or a timer does unattended, and
 * forcing a rollback is an operator's decision about one file. */
int tr_ring_reload(tr_ring *r, uint32_t *err_line)
{
    int rc;

    if (err_line != NULL)
        *err_line = 0;
    if (r == NULL)
        return TR_E_INVAL;
    tri_ring_writer_lock(r);
    rc = r->path == NULL ? TR_E_NO_FILE : tri_ring_load_locked(r, r->path, 0, err_line);
    tri_ring_writer_unlock(r);
    return rc;
}

/* Where a saved key set goes: the file at `path`, or, with path NULL, the
 * caller's buffer `out` (cap bytes; *out_len the text's length, also when
 * it does not fit). */
struct save_target {
    const char *path;
    char *out;
    size_t cap;
    size_t *out_len;
};

/* Named in log lines where "key file <path>" would be. */
#define SAVE_BUFFER_LABEL "key set (buffer)"

static int emit(const struct save_target *t, const char *text, size_t len)
{
    if (t->path != NULL)
        return tri_keyfile_write(t->path, text, len);
    *t->out_len = len;
    if (len > t->cap)
        return TR_E_BUFFER_TOO_SMALL;
    memcpy(t->out, text, len);
    return 0;
}

/*
 * tr_ring_save() and tr_ring_save_buffer(): format the current key set as a
 * version-2 key file with the next serial and hand the text to the target;
 * only once the target took it does that serial become the ring's (a file
 * not written, or a buffer too small, names no key set).
 */
static int save(tr_ring *r, const struct save_target *t)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyfile_info info;
    struct tri_keyset *cur;
    const char *what = t->path != NULL ? "key file " : "";
    const char *label = t->path != NULL ? t->path : SAVE_BUFFER_LABEL;
    uint64_t serial;
    uint32_t n = 0;
    char fp[TR_FINGERPRINT_HEX + 1];
    size_t cap, len = 0;
    char *buf = NULL;
    int rc;

    tri_ring_writer_lock(r);
    cur = tri_ring_current_locked(r);
    serial = r->serial_max;
    memset(&info, 0, sizeof(info));
    info.version = 2;
    /* A ring that never saw a serial starts from its clock in milliseconds:
     * a file written from scratch (a fresh `ticketring-keys generate`
     * replacing a fleet's keys) must supersede the file it replaces, whose
     * serial it cannot know. Later writes count up from there. */
    info.serial = serial + 1;
    if (serial == 0 && tri_ring_now_ms(r) > 1)
        info.serial = (uint64_t)tri_ring_now_ms(r);
    memcpy(info.cluster, cur->cluster, sizeof(info.cluster));
    cap = tri_keyfile_size(cur->n);
    if (serial == UINT64_MAX) {
        rc = TR_E_INVAL; /* no higher serial to write */
    } else if ((buf = tri_alloc(&r->env, cap)) == NULL) {
        rc = TR_E_NOMEM;
    } else {
        tri_keyset_entries(cur, e);
        rc = tri_keyfile_format(r->env.crypto, &info, e, cur->n, buf, cap, &len);
        tri_wipe(e, sizeof(e));
        if (rc == 0)
            rc = emit(t, buf, len);
        tri_wipe(buf, cap);
        tri_free(&r->env, buf);
    }
    if (rc == 0) {
        memcpy(r->serial_digest, cur->digest, sizeof(r->serial_digest));
        atomic_store(&r->serial, info.serial);
        r->serial_max = info.serial;
    }
    n = cur->n;
    memcpy(fp, cur->fingerprint, sizeof(fp));
    tri_ring_writer_unlock(r);
    /* A buffer too small is how a caller learns the size: not an error. */
    if (rc != 0 && rc != TR_E_BUFFER_TOO_SMALL)
        tri_log(r, TR_LOG_ERROR, "%s%s: not written: %s%s", what, label, tr_strerror(rc),
                serial == UINT64_MAX ? " (the serial is at its maximum)" : "");
    else if (rc == 0)
        tri_log(r, TR_LOG_INFO, "%s%s written: %u keys, serial %" PRIu64 ", fingerprint %s",
                what, label, n, info.serial, fp);
    return rc;
}

int tr_ring_save(tr_ring *r, const char *path)
{
    const struct save_target t = {.path = path};

    if (r == NULL || path == NULL)
        return TR_E_INVAL;
    return save(r, &t);
}

int tr_ring_save_buffer(tr_ring *r, char *buf, size_t cap, size_t *len)
{
    const struct save_target t = {.out = buf, .cap = cap, .out_len = len};

    if (len != NULL)
        *len = 0;
    if (r == NULL || len == NULL || (buf == NULL && cap != 0))
        return TR_E_INVAL;
    return save(r, &t);
}

/* ---- cluster and serial ------------------------------------------------- */

int tr_ring_set_cluster(tr_ring *r, const char *cluster_id)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS];
    struct tri_keyset *cur;
    const char *id = cluster_id != NULL ? cluster_id : "";
    char was[TRI_CLUSTER_MAX + 1];
    int rc = 0, changed = 0;

    if (r == NULL || (cluster_id != NULL && !tri_cluster_valid(cluster_id)))
        return TR_E_INVAL;
    tri_ring_writer_lock(r);
    cur = tri_ring_current_locked(r);
    /* The cluster is part of the key set (and of its fingerprint). */
    if (strcmp(cur->cluster, id) != 0) {
        memcpy(was, cur->cluster, sizeof(was));
        tri_keyset_entries(cur, e);
        rc = tri_ring_replace_locked(r, e, cur->n, id);
        tri_wipe(e, sizeof(e));
        changed = rc == 0;
    }
    tri_ring_writer_unlock(r);
    if (changed && id[0] == '\0')
        tri_log(r, TR_LOG_INFO, "ring unpinned from cluster %s", was);
    else if (changed && was[0] != '\0')
        tri_log(r, TR_LOG_INFO, "ring pinned to cluster %s (was %s)", id, was);
    else if (changed)
        tri_log(r, TR_LOG_INFO, "ring pinned to cluster %s", id);
    return rc;
}

int tr_ring_cluster(tr_ring *r, char *out, size_t cap)
{
    const struct tri_keyset *ks;
    unsigned tok;
    size_t len;
    int rc = 0;

    if (r == NULL || out == NULL)
        return TR_E_INVAL;
    ks = tri_ring_enter(r, &tok);
    len = strlen(ks->cluster);
    if (len + 1 > cap)
        rc = TR_E_BUFFER_TOO_SMALL;
    else
        memcpy(out, ks->cluster, len + 1);
    tri_ring_leave(r, tok);
    if (rc != 0 && cap > 0)
        out[0] = '\0';
    return rc;
}

int tr_ring_serial(tr_ring *r, uint64_t *serial)
{
    if (r == NULL || serial == NULL)
        return TR_E_INVAL;
    *serial = atomic_load(&r->serial);
    return 0;
}
