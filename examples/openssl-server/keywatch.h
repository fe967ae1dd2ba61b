/* Reload the key file when it is replaced: written in place, renamed over,
 * or swapped through a symbolic link (Kubernetes Secret volumes). */
#ifndef SERVER_KEYWATCH_H
#define SERVER_KEYWATCH_H

#include <stdint.h>
#include <sys/types.h>

#include <ticketring/ticketring.h>

/* What identifies one version of the file, as stat() (which follows
 * symbolic links) sees it. */
struct file_id {
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    int present;
};

struct keywatch {
    tr_ring *ring;
    const char *path;
    struct file_id seen; /* the version last loaded, or last tried */
};

/* Remember the file's current version. Call before the first load, so a
 * replacement that lands in between is reloaded by the first poll. */
void keywatch_init(struct keywatch *w, tr_ring *ring, const char *path);

/* Check the file once; when it changed, tr_ring_reload() and log the new
 * fingerprint or why the old keys stay. Cheap (one stat) when nothing
 * changed; meant to run about once a second from one thread. */
void keywatch_poll(struct keywatch *w);

#endif
