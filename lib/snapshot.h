/*
 * Publication of an immutable object (the ring's key set) to readers that
 * never block: readers announce themselves on one of two counters, a writer
 * swaps the pointer and then waits until each counter has been seen at zero
 * once, after which no reader can still hold the old object. (A two-counter
 * grace period in the manner of SRCU; writers must be serialised by the
 * caller.)
 */
#ifndef TICKETRING_LIB_SNAPSHOT_H
#define TICKETRING_LIB_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

struct tri_snapshot {
    _Atomic(void *) current;
    _Atomic(void *) retiring; /* the old object while a writer waits */
    atomic_uint idx;
    atomic_uint_fast32_t readers[2];
};

void tri_snapshot_init(struct tri_snapshot *s, void *first);

/* Pin and return the current object; *token must be passed to release. */
void *tri_snapshot_acquire(struct tri_snapshot *s, unsigned *token);
void tri_snapshot_release(struct tri_snapshot *s, unsigned token);

/* Publish `next` and return the previous object once no reader can hold it
 * any more (the caller frees it). Callers serialise writers. */
void *tri_snapshot_exchange(struct tri_snapshot *s, void *next);

/* In a forked child, before any thread of the child has acquired: forget
 * readers that were running in the parent's other threads. */
void tri_snapshot_reset_readers(struct tri_snapshot *s);
/* In a forked child: the object a parent writer was retiring at fork time
 * (NULL if none), now the caller's to free. */
void *tri_snapshot_take_retiring(struct tri_snapshot *s);

#endif
