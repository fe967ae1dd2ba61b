#include "defaults.h"

#include <stdlib.h>
#include <time.h>

void *tri_default_malloc(size_t size, void *arg)
{
    (void)arg;
    return malloc(size);
}

void tri_default_free(void *p, void *arg)
{
    (void)arg;
    free(p);
}

int64_t tri_realtime_ms(void *arg)
{
    struct timespec ts;

    (void)arg;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
