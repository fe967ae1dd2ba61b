#define _GNU_SOURCE

#include "keywatch.h"

#include "log.h"
#include "ring.h"

#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>

/* Whether the file looks different from the last attempt (and remember how
 * it looks now). */
static int file_changed(struct keywatch *w)
{
    struct stat st;
    int present = stat(w->path, &st) == 0;
    int changed;

    if (!present)
        memset(&st, 0, sizeof st);
    changed = present != w->present || st.st_ino != w->ino || st.st_size != w->size ||
              st.st_mtim.tv_sec != w->mtime.tv_sec || st.st_mtim.tv_nsec != w->mtime.tv_nsec ||
              st.st_ctim.tv_sec != w->ctime.tv_sec || st.st_ctim.tv_nsec != w->ctime.tv_nsec;
    w->present = present;
    w->ino = st.st_ino;
    w->size = st.st_size;
    w->mtime = st.st_mtim;
    w->ctime = st.st_ctim;
    return changed;
}

void keywatch_init(struct keywatch *w, tr_ring *ring, const char *path, int loaded)
{
    memset(w, 0, sizeof *w);
    w->ring = ring;
    w->path = path;
    w->loaded = loaded;
    /* The start-up attempt has seen the file as it is now. */
    (void)file_changed(w);
}

static void log_refused(struct keywatch *w, int rc, uint32_t line)
{
    char fp[TR_FINGERPRINT_HEX + 1] = "?";
    (void)tr_ring_fingerprint(w->ring, fp, sizeof fp);
    if (line != 0)
        log_line("keys reload failed: %s:%" PRIu32 ": %s; keeping the keys with fingerprint %s",
                 w->path, line, tr_strerror(rc), fp);
    else
        log_line("keys reload failed: %s: %s; keeping the keys with fingerprint %s", w->path,
                 tr_strerror(rc), fp);
}

void keywatch_poll(struct keywatch *w)
{
    uint32_t line = 0;
    int32_t changed = 0;
    int rc;

    if (!w->loaded) {
        /* Never loaded: the library has no file to follow yet. */
        if (!file_changed(w))
            return;
        rc = tr_ring_load(w->ring, w->path, &line);
        if (rc == 0) {
            w->loaded = 1;
            ring_log_keys(w->ring, "loaded", w->path);
        }
        return; /* the start-up line already said why it does not load */
    }
    /* A refused file is reported once by the library, and tried again only
     * when it changes again. */
    rc = tr_ring_reload_check(w->ring, &changed, &line);
    if (rc == 0 && changed)
        ring_log_keys(w->ring, "reloaded", w->path);
    else if (rc != 0)
        log_refused(w, rc, line);
}
