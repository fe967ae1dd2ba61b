/* One line per event on stderr, prefixed with the program and node name. */
#ifndef SERVER_LOG_H
#define SERVER_LOG_H

#include <stdarg.h>

/* Set the node name shown in every line (copied). */
void log_set_node(const char *node_id);

/* Format and write one line (a newline is added) with a single write(2),
 * so lines from different threads do not interleave. */
__attribute__((format(printf, 1, 2))) void log_line(const char *fmt, ...);

/* As log_line() with a va_list, followed by ": " and `suffix` unless it is
 * NULL (a backend's error text). */
__attribute__((format(printf, 1, 0))) void log_linev(const char *fmt, va_list ap,
                                                    const char *suffix);

#endif
