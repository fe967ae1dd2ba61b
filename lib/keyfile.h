/*
 * Key files: parse and format the versioned text format
 * (docs/key-file-format.md), read with a size bound, write atomically.
 * Pure functions of their inputs; they never log and never print secrets.
 */
#ifndef TICKETRING_LIB_KEYFILE_H
#define TICKETRING_LIB_KEYFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "crypto.h"

#define TRI_KEYFILE_MAX_BYTES 65536
#define TRI_CLUSTER_MAX 64 /* characters of a cluster id, without the NUL */

/* tri_keyfile_entry.flags */
#define TRI_KEY_REVOKED 1u

struct tri_keyfile_entry {
    uint8_t key[TR_KEY_BYTES]; /* name | HMAC | AES */
    int64_t activation;        /* 0..2^62, or TR_ACTIVATION_PENDING */
    uint32_t flags;            /* TRI_KEY_*; every other bit must be 0 */
};

/* What a file says about itself besides its keys. */
struct tri_keyfile_info {
    uint32_t version;                  /* 1 or 2 */
    char cluster[TRI_CLUSTER_MAX + 1]; /* "" when the file names none */
    uint64_t serial;                   /* 0 in version 1; >= 1 in version 2 */
    uint32_t cluster_line;             /* line of the cluster line, 0 if none */
    uint32_t serial_line;              /* line of the serial line, 0 if none */
};

/* 1 when s is a valid cluster id: 1..64 characters of A-Z a-z 0-9 . _ - */
int tri_cluster_valid(const char *s);

/*
 * Parse `len` bytes of `buf` into at most `max` entries (*n set) and, when
 * info is non-NULL, what the file says about itself. A dated key activating
 * after `max_activation` is refused (INT64_MAX: no bound). On failure
 * returns TR_E_KEYFILE_SYNTAX, TR_E_KEYFILE_INTEGRITY, TR_E_KEY_ZERO,
 * TR_E_KEY_DUPLICATE, TR_E_TOO_MANY_KEYS or TR_E_KEY_ACTIVATION, sets
 * *err_line (1-based, 0 when no single line is at fault) and *why to a
 * static reason without key material, and wipes `out`.
 */
int tri_keyfile_parse(const tr_crypto *c, const char *buf, size_t len,
                      int64_t max_activation, struct tri_keyfile_entry *out, uint32_t max,
                      uint32_t *n, struct tri_keyfile_info *info, uint32_t *err_line,
                      const char **why);

/* Upper bound of the bytes tri_keyfile_format() writes for n entries in
 * either version (activation times and serials take a variable number of
 * digits). */
size_t tri_keyfile_size(uint32_t n);

/* Format n entries (in the given order) with header and checksum into buf:
 * version 1 when info is NULL or info->version is 1 (then no entry may be
 * pending or revoked), else version 2 with info->cluster (when not "") and
 * info->serial (>= 1). TR_E_BUFFER_TOO_SMALL when cap < tri_keyfile_size(n),
 * TR_E_INVAL for an activation time outside 0..2^62 (other than a pending
 * key in version 2), unknown flags, a bad cluster id or serial. */
int tri_keyfile_format(const tr_crypto *c, const struct tri_keyfile_info *info,
                       const struct tri_keyfile_entry *e, uint32_t n, char *buf, size_t cap,
                       size_t *len);

/* n bytes as 2n lowercase hex digits (no NUL), in constant time: the same
 * code serves secrets, key names and digests. */
void tri_hex_encode(char *dst, const uint8_t *src, size_t n);

/* Read a whole file of at most TRI_KEYFILE_MAX_BYTES into buf (cap bytes). */
int tri_keyfile_read(const char *path, char *buf, size_t cap, size_t *len);
/* The same, and *st (if non-NULL) gets the fstat() of the file descriptor
 * that was read, so checks on it (permissions, identity) concern exactly
 * the bytes returned, not whatever the path names a moment later. */
int tri_keyfile_read_stat(const char *path, char *buf, size_t cap, size_t *len,
                          struct stat *st);

/* Write atomically: temporary file in the same directory, mode 0600,
 * fsync, rename, fsync of the directory. */
int tri_keyfile_write(const char *path, const char *buf, size_t len);

#endif
