/* Base64 (RFC 4648, with padding): the etcd gateway carries keys and
 * values as base64 strings, and a sealed document carries its ciphertext
 * as one base64 line. Constant time in the data, since values can be
 * secret-adjacent (sealed key sets). */
#ifndef TICKETRING_ETCD_B64_H
#define TICKETRING_ETCD_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters tre_b64_encode() writes for n bytes, without the NUL. */
size_t tre_b64_len(size_t n);
/* Encode n bytes into out (tre_b64_len(n) + 1 bytes, NUL-terminated). */
void tre_b64_encode(char *out, const uint8_t *in, size_t n);
/* Decode len characters (padding required, no whitespace) into out (cap
 * bytes; len / 4 * 3 always suffices); 0 or -1 on malformed input. */
int tre_b64_decode(uint8_t *out, size_t cap, size_t *n, const char *in, size_t len);

#endif
