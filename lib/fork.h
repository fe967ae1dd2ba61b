/* Fork detection for the seal path (fresh salts in a child) and the ring's
 * lock and reader counts (reset in a child). */
#ifndef TICKETRING_LIB_FORK_H
#define TICKETRING_LIB_FORK_H

#include <stdint.h>

/* A 64-bit identity of the calling process, never 0, different in every
 * forked child (also one whose pid happens to equal an earlier process's).
 * Cheap: a single load from a page the kernel zeroes in a fork child
 * (MADV_WIPEONFORK). Where that is not available it is the pid. */
uint64_t tri_process_id(void);

#endif
