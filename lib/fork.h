/* Fork detection for the seal path (fresh salts in a child) and the ring's
 * lock and reader counters (reset in a child). */
#ifndef TICKETRING_LIB_FORK_H
#define TICKETRING_LIB_FORK_H

#include <sys/types.h>

/* The calling process's id. Cheap: a single load from a page the kernel
 * zeroes in a forked child (MADV_WIPEONFORK), falling back to getpid()
 * where that is not available. */
pid_t tri_process_id(void);

#endif
