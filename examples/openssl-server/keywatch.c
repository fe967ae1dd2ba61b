#define _GNU_SOURCE

#include "keywatch.h"

#include "log.h"
#include "tls.h"

#include <inttypes.h>

void keywatch_init(struct keywatch *w, tr_ring *ring, const char *path, int loaded)
{
    w->ring = ring;
    w->path = path;
    w->loaded = loaded;
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
        rc = tr_ring_load(w->ring, w->path, &line);
        if (rc == 0) {
            w->loaded = 1;
            tls_log_keys(w->ring, "loaded", w->path);
        }
        return; /* the start-up line already said why it does not load */
    }
    /* A refused file is reported once by the library, and tried again only
     * when it changes again. */
    rc = tr_ring_reload_check(w->ring, &changed, &line);
    if (rc == 0 && changed)
        tls_log_keys(w->ring, "reloaded", w->path);
    else if (rc != 0)
        log_refused(w, rc, line);
}
