/* One line per event on stderr, prefixed with the program and node name. */
#ifndef SERVER_LOG_H
#define SERVER_LOG_H

/* Set the node name shown in every line (copied). */
void log_set_node(const char *node_id);

/* Format and write one line (a newline is added) with a single write(2),
 * so lines from different threads do not interleave. */
__attribute__((format(printf, 1, 2))) void log_line(const char *fmt, ...);

/* As log_line(), followed by ": " and the oldest OpenSSL error queued on
 * this thread (the queue is then cleared). */
__attribute__((format(printf, 1, 2))) void log_openssl(const char *fmt, ...);

#endif
