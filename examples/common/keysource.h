/* --keys-source: the ring follows a key schedule kept in etcd (a sealed
 * document every node reads; libticketring-etcd, docs/etcd.md) instead of
 * watching --keys, which then only serves as the copy to start from while
 * the store cannot be reached. */
#ifndef SERVER_KEYSOURCE_H
#define SERVER_KEYSOURCE_H

#include <stddef.h>

struct server;

/* Start following srv->flags.keys_source into srv->ring (the first read
 * happens here; a store that is down is not fatal: the node serves --keys,
 * or is not ready). 0, or -1 after logging why. */
int keysource_start(struct server *srv);

/* Stop following; before the ring is freed. NULL-safe. */
void keysource_stop(struct server *srv);

/* Whether the follower has synced (or loaded the local copy) at least once. */
int keysource_ready(struct server *srv);

/* The follower's Prometheus text, as tr_ring_metrics() (nothing without
 * --keys-source). */
int keysource_metrics(struct server *srv, char *buf, size_t cap, size_t *len);

#endif
