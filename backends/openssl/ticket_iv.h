/*
 * IVs for OpenSSL-format tickets. Each must be unpredictable, but drawing
 * 16 bytes from RAND_bytes costs more on OpenSSL 3.0 (measured about 670 ns:
 * the DRBG rekeys after every request) than the rest of the ticket key
 * callback together. So each thread draws 1 KiB at once and hands it out
 * 16 bytes at a time. IVs are public once used, so nothing here needs
 * wiping; a forked child must not reuse its parent's, so the buffer is
 * tied to the process identity (fork.h), which a child never shares.
 */
#ifndef TICKETRING_OPENSSL_TICKET_IV_H
#define TICKETRING_OPENSSL_TICKET_IV_H

#include <stdint.h>

#include "tls_key.h"

/* A fresh random IV; 0, or TR_E_CRYPTO when RAND_bytes fails. Thread-safe. */
int tri_ossl_ticket_iv(uint8_t iv[TRI_OSSL_IV_BYTES]);

#endif
