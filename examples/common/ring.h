/* The key ring of a server run with --keys: made and loaded the same way
 * whatever the TLS library; the backend then attaches it. */
#ifndef SERVER_RING_H
#define SERVER_RING_H

#include <ticketring/ticketring.h>

#include "flags.h"

/* Make a ring on `crypto` with the flags' lifetime, logging through the
 * server's log, and load --keys into it. A key file that is missing or
 * refused at start is not fatal (logged; *loaded = 0): the node serves
 * full handshakes, answers /ready with 503, and loads the file once it
 * appears. `before_load` (may be NULL) runs on the ring first, for
 * settings the first tickets must already carry. 0, or -1 after logging
 * why (*out NULL). */
int ring_open(tr_ring **out, const tr_crypto *crypto, const struct flags *f,
              int (*before_load)(tr_ring *ring, void *arg), void *arg, int *loaded);

/* Log the key set the ring holds now: what (e.g. "loaded"), the number of
 * keys and the fingerprint (never key bytes). */
void ring_log_keys(tr_ring *ring, const char *what, const char *path);

#endif
