/* Listening sockets: one per event-loop thread on the same address
 * (SO_REUSEPORT), so the kernel spreads new connections across threads. */
#ifndef SERVER_LISTEN_H
#define SERVER_LISTEN_H

#include <stddef.h>

/* Open n non-blocking listeners on `spec` (HOST:PORT or [V6]:PORT; an empty
 * HOST or "*" means every address). With port 0 the first listener picks a
 * free port and the others join it. `bound` gets the numeric address
 * actually bound ("127.0.0.1:40123", "[::1]:40123"). 0 on success (fds[0..n)
 * are open), -1 after logging why (nothing is left open). */
int listeners_open(const char *spec, int n, int *fds, char *bound, size_t bound_cap);

/* Close fds[0..n) that are >= 0. */
void listeners_close(int n, const int *fds);

#endif
