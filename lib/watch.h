/*
 * Hot reload of the ring's key file (tr_ring_reload_check, tr_ring_watch,
 * tr_ring_unwatch): a cheap stat() comparison, a content digest when the
 * file looks different, and an optional background thread that runs that
 * check on inotify events of the file's directories and on a timer.
 * docs/key-distribution notes, section 2, explains why it watches
 * directories and never filters events by name.
 */
#ifndef TICKETRING_LIB_WATCH_H
#define TICKETRING_LIB_WATCH_H

#include <stddef.h>
#include <sys/stat.h>

#include "ticketring/ticketring.h"

/* The state behind tr_ring.watch: NULL until the first check or watch. */
struct tri_watch;

/* For tr_ring_free(): stop the watcher thread (in the process that started
 * it; a forked child only closes its copies of the descriptors) and free
 * the state. Not thread-safe, like tr_ring_free(). */
void tri_watch_free(tr_ring *r);

/* Optional hook for the load path (tri_ring_load_locked), under the writer
 * lock, after a successful load of the `len` bytes of `buf` whose fstat()
 * is *st: records exactly what was loaded, so that the first check after a
 * tr_ring_load() compares with it instead of taking the file it finds then
 * as the one loaded (which misses a change made between the load and that
 * first check). Allocates the watch state if needed; on failure nothing is
 * recorded and the load is unaffected. */
void tri_watch_loaded(tr_ring *r, const char *buf, size_t len, const struct stat *st);

/* Test hook: with 0, watchers started afterwards behave as if inotify were
 * unavailable (poll only); 1 restores the default. */
void tri_watch_set_inotify(int on);

#endif
