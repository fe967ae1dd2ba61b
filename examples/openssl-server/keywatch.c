#define _GNU_SOURCE

#include "keywatch.h"

#include "log.h"
#include "tls.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

static struct file_id file_id_of(const char *path, int *err)
{
    struct file_id id;
    struct stat st;
    memset(&id, 0, sizeof id);
    *err = 0;
    if (stat(path, &st) != 0) {
        *err = errno;
        return id;
    }
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    id.present = 1;
    return id;
}

static int same_file(const struct file_id *a, const struct file_id *b)
{
    return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
           a->size == b->size && a->mtime_ns == b->mtime_ns;
}

void keywatch_init(struct keywatch *w, tr_ring *ring, const char *path)
{
    int err;
    w->ring = ring;
    w->path = path;
    w->seen = file_id_of(path, &err);
}

void keywatch_poll(struct keywatch *w)
{
    int err;
    struct file_id now = file_id_of(w->path, &err);
    if (same_file(&now, &w->seen))
        return;
    /* Remember this version before reading it: if the file changes again
     * while it is being read, the next poll sees that and reloads. A
     * failed version is not retried until the file changes again. */
    w->seen = now;
    if (!now.present) {
        char fp[TR_FINGERPRINT_HEX + 1] = "?";
        (void)tr_ring_fingerprint(w->ring, fp, sizeof fp);
        log_line("keys reload failed: %s: %s; keeping the keys with fingerprint %s", w->path,
                 strerror(err), fp);
        return;
    }
    /* tr_ring_load, not tr_ring_reload: it also works when the file could
     * not be loaded at start. */
    uint32_t line = 0;
    int rc = tr_ring_load(w->ring, w->path, &line);
    if (rc == 0) {
        tls_log_keys(w->ring, "reloaded", w->path);
        return;
    }
    char fp[TR_FINGERPRINT_HEX + 1] = "?";
    (void)tr_ring_fingerprint(w->ring, fp, sizeof fp);
    if (line != 0)
        log_line("keys reload failed: %s:%" PRIu32 ": %s; keeping the keys with fingerprint %s",
                 w->path, line, tr_strerror(rc), fp);
    else
        log_line("keys reload failed: %s: %s; keeping the keys with fingerprint %s", w->path,
                 tr_strerror(rc), fp);
}
