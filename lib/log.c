#include <stdarg.h>
#include <stdio.h>

#include "ring.h"

void tri_log(const tr_ring *r, int32_t level, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    if (r->log_fn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r->log_fn(level, line, r->log_arg);
}
