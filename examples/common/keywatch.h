/* Follow the key file: reload it when it is replaced (written in place,
 * renamed over, or swapped through a symbolic link as Kubernetes Secret
 * volumes are), and keep trying to load it while it has never loaded (a
 * Secret may arrive after the pod starts). */
#ifndef SERVER_KEYWATCH_H
#define SERVER_KEYWATCH_H

#include <sys/types.h>
#include <time.h>

#include <ticketring/ticketring.h>

struct keywatch {
    tr_ring *ring;
    const char *path;
    int loaded; /* a load has succeeded: tr_ring_reload_check() follows it */
    /* Until then, what stat() saw at the last attempt: a file is tried
     * again only when it changes, so a missing Secret is not a failed
     * reload every second. */
    struct timespec mtime, ctime;
    ino_t ino;
    off_t size;
    int present;
};

/* Start following `path`; `loaded`: whether the first load succeeded. */
void keywatch_init(struct keywatch *w, tr_ring *ring, const char *path, int loaded);

/* Check the file once: tr_ring_reload_check() (one stat() when nothing
 * changed) once it has loaded, tr_ring_load() until then; logs the new
 * fingerprint, or why the old keys stay. Meant to run about once a second
 * from one thread. */
void keywatch_poll(struct keywatch *w);

#endif
