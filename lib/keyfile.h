/*
 * Key files: parse and format the versioned text format
 * (docs/key-file-format.md), read with a size bound, write atomically.
 * Pure functions of their inputs; they never log and never print secrets.
 */
#ifndef TICKETRING_LIB_KEYFILE_H
#define TICKETRING_LIB_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

#define TRI_KEYFILE_MAX_BYTES 65536

struct tri_keyfile_entry {
    uint8_t key[TR_KEY_BYTES]; /* name | HMAC | AES */
    int64_t activation;
};

/*
 * Parse `len` bytes of `buf` into at most `max` entries (*n set). On failure
 * returns TR_E_KEYFILE_SYNTAX, TR_E_KEYFILE_INTEGRITY, TR_E_KEY_ZERO,
 * TR_E_KEY_DUPLICATE or TR_E_TOO_MANY_KEYS, sets *err_line (1-based, 0 when
 * no single line is at fault) and *why to a static reason without key
 * material, and wipes `out`.
 */
int tri_keyfile_parse(const tr_crypto *c, const char *buf, size_t len,
                      struct tri_keyfile_entry *out, uint32_t max, uint32_t *n,
                      uint32_t *err_line, const char **why);

/* Upper bound of the bytes tri_keyfile_format() writes for n entries
 * (activation times take a variable number of digits). */
size_t tri_keyfile_size(uint32_t n);

/* Format n entries (in the given order) with header and checksum into buf;
 * TR_E_BUFFER_TOO_SMALL when cap < tri_keyfile_size(n), TR_E_INVAL for an
 * activation time outside 0..2^62. */
int tri_keyfile_format(const tr_crypto *c, const struct tri_keyfile_entry *e, uint32_t n,
                       char *buf, size_t cap, size_t *len);

/* Read a whole file of at most TRI_KEYFILE_MAX_BYTES into buf (cap bytes). */
int tri_keyfile_read(const char *path, char *buf, size_t cap, size_t *len);

/* Write atomically: temporary file in the same directory, mode 0600,
 * fsync, rename, fsync of the directory. */
int tri_keyfile_write(const char *path, const char *buf, size_t len);

#endif
