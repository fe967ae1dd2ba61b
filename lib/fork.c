#include "fork.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

/*
 * getpid() is a system call on every glibc since 2.25, which would be a
 * measurable part of sealing a ticket, and a pid can come back: a double-
 * forked daemon may get the pid of a long-gone process that used the ring.
 * So the identity is a random 64-bit value kept in a page the kernel wipes
 * in a fork child: a zero there means "we are a new process", and the first
 * caller there draws a new identity. pthread_atfork alone would miss raw
 * clone() and snapshot restores of the parent.
 */
static _Atomic uint64_t *cached_id;
static pthread_once_t cached_id_once = PTHREAD_ONCE_INIT;

static void map_cached_id(void)
{
#ifdef MADV_WIPEONFORK
    long page = sysconf(_SC_PAGESIZE);
    void *p;
    if (page <= 0)
        return;
    p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED)
        return;
    if (madvise(p, (size_t)page, MADV_WIPEONFORK) != 0) {
        munmap(p, (size_t)page);
        return;
    }
    cached_id = p;
#endif
}

static uint64_t fresh_id(void)
{
    uint64_t id = 0;
#if defined(__linux__)
    if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id))
        id = 0;
#endif
    if (id == 0) { /* no entropy yet: pid and time still tell processes apart */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        id = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 40);
    }
    return id != 0 ? id : 1;
}

uint64_t tri_process_id(void)
{
    uint64_t id, none = 0;

    pthread_once(&cached_id_once, map_cached_id);
    if (cached_id == NULL)
        return (uint64_t)getpid();
    id = atomic_load_explicit(cached_id, memory_order_relaxed);
    if (id != 0)
        return id;
    id = fresh_id();
    /* Two threads of a new child may race here: both keep the first. */
    if (!atomic_compare_exchange_strong(cached_id, &none, id))
        id = none;
    return id;
}
