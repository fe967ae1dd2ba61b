#include "fork.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * getpid() is a system call on every glibc since 2.25, which would be a
 * measurable part of sealing a ticket. Instead cache the pid in a page that
 * the kernel wipes in a fork child: a zero there means "we are a new
 * process", and the first caller there stores the new pid. pthread_atfork
 * alone would miss raw clone() and snapshot restores of the parent.
 */
static _Atomic pid_t *cached_pid;
static pthread_once_t cached_pid_once = PTHREAD_ONCE_INIT;

static void map_cached_pid(void)
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
    cached_pid = p;
#endif
}

pid_t tri_process_id(void)
{
    pid_t pid;
    pthread_once(&cached_pid_once, map_cached_pid);
    if (cached_pid == NULL)
        return getpid();
    pid = atomic_load_explicit(cached_pid, memory_order_relaxed);
    if (pid == 0) {
        pid = getpid();
        atomic_store_explicit(cached_pid, pid, memory_order_relaxed);
    }
    return pid;
}
