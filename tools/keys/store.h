/* ticketring-keys with a key store: what the store commands share
 * (tools/keys/store.c). */
#ifndef TICKETRING_TOOLS_KEYS_STORE_H
#define TICKETRING_TOOLS_KEYS_STORE_H

#include <ticketring/etcd.h>

/* A follower object used as a client (URL and credentials), logging its
 * errors to trk_keep_error; 0 or the exit status (usage error or failure
 * already printed). */
int trk_open_store(tr_sync **out, tr_ring *ring, const char *url, const char *user,
                   const char *pw_file, const char *token_file);
/* Remember the library's last error line for trk_store_fail. */
void trk_keep_error(int32_t level, const char *msg, void *arg);
/* Print `what` and the library's last error line (else rc's name); 1. */
int trk_store_fail(const char *what, int rc);

#endif
