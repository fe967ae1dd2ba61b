/*
 * A mixed fleet (OpenSSL and mbedTLS nodes on one key file) hands each node
 * tickets in the other backend's format: OpenSSL's own (key name | IV |
 * AES-CBC | HMAC) and the generic format v1 (docs/ticket-format.md). Both
 * start with a key name of the cluster, so such a ticket is recognised by
 * its name and counted under its own reason (TR_E_TICKET_OTHER_FORMAT) rather
 * than as malformed or, worse, as an unknown key, which operators read as
 * key drift between nodes. Names are public: no constant time needed.
 */
#ifndef TICKETRING_LIB_OTHER_FORMAT_H
#define TICKETRING_LIB_OTHER_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "keyset.h"

/* The generic format's version byte, the first byte of every v1 ticket. */
#define TRI_TICKET_FORMAT_V1 1

/* Whether a ticket the generic format refused is an OpenSSL-format ticket
 * of this cluster: long enough for name, IV, one AES block and the HMAC,
 * and its first 16 bytes name a key the set holds (in any role). */
int tri_is_openssl_format(const struct tri_keyset *ks, const uint8_t *ticket, size_t len);

/* Whether the 16 bytes OpenSSL took for a key name are the start of a v1
 * ticket of this cluster: the version byte, then the first 15 bytes of the
 * name of a key the set holds. */
int tri_is_v1_format(const struct tri_keyset *ks, const uint8_t name[16]);

#endif
