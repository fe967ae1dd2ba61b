/*
 * SipHash-2-4 (Aumasson and Bernstein, 64-bit output): the keyed hash of
 * the replay cache. It must be keyed, or a client holding one ticket could
 * choose ClientHello randoms that all land in one shard and fill it; it
 * must be fast, or it would cost more than the lookup (a check runs at
 * tens of millions per second). OpenSSL's EVP_MAC "SIPHASH" computes the
 * same function but spends far longer setting up a context per call, and
 * the core depends on no TLS library.
 */
#ifndef TICKETRING_LIB_SIPHASH_H
#define TICKETRING_LIB_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define TRI_SIPHASH_KEY_BYTES 16

uint64_t tri_siphash24(const uint8_t key[TRI_SIPHASH_KEY_BYTES], const uint8_t *in, size_t len);

#endif
