#define _GNU_SOURCE

#include "log.h"

#include "backend.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char node[80] = "-";

void log_set_node(const char *node_id)
{
    snprintf(node, sizeof node, "%s", node_id);
}

__attribute__((format(printf, 1, 0)))
void log_linev(const char *fmt, va_list ap, const char *suffix)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s[%s]: ", backend.program, node);
    if (n < 0)
        return;
    size_t len = (size_t)n;
    if (len < sizeof line) {
        n = vsnprintf(line + len, sizeof line - len, fmt, ap);
        if (n > 0)
            len += (size_t)n;
    }
    if (suffix != NULL && len < sizeof line) {
        n = snprintf(line + len, sizeof line - len, ": %s", suffix);
        if (n > 0)
            len += (size_t)n;
    }
    if (len > sizeof line - 2)
        len = sizeof line - 2; /* truncated: keep room for the newline */
    line[len++] = '\n';
    /* A log line that cannot be written is dropped: nothing better to do. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_linev(fmt, ap, NULL);
    va_end(ap);
}
