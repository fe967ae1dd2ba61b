/*
 * The sealed key-set document kept in the store (docs/etcd.md):
 *
 *   TRSEALED1 <kek id> <cluster> <serial>\n
 *   <base64 of nonce(12) | AES-256-GCM ciphertext | tag(16)>\n
 *
 * The plaintext is the key file text (docs/key-file-format.md), naming the
 * same cluster and serial. The whole first line (without its newline) is
 * the additional authenticated data, so the header cannot be changed
 * without the key-encryption key: a reader can trust the serial and
 * cluster it reads there once the document opened.
 */
#ifndef TICKETRING_ETCD_SEAL_H
#define TICKETRING_ETCD_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define TRE_ID_MAX 64
#define TRE_KEK_BYTES 32
#define TRE_NONCE_BYTES 12
#define TRE_TAG_BYTES 16

struct tre_kek {
    char id[TRE_ID_MAX + 1];
    uint8_t key[TRE_KEK_BYTES];
};

struct tre_sealed_header {
    char kek_id[TRE_ID_MAX + 1];
    char cluster[TRE_ID_MAX + 1];
    uint64_t serial;
    size_t header_len; /* bytes of the first line, without its newline */
};

/* 1 when s is 1..64 characters of A-Z a-z 0-9 . _ - (ids and clusters). */
int tre_id_valid(const char *s, size_t len);

/* Read a KEK file: one line "<id> <64 hex digits>", newline optional;
 * TR_E_KEYFILE_MODE when group or others may read it, TR_E_IO, or
 * TR_E_KEYFILE_SYNTAX. Wipes what it read. */
int tre_kek_read(const char *path, struct tre_kek *out);

/* Seal len bytes of key file text for (cluster, serial) under kek into a
 * malloc'd document (*doc, *doc_len). */
int tre_seal(const struct tre_kek *kek, const char *cluster, uint64_t serial, const char *text,
             size_t len, uint8_t **doc, size_t *doc_len);
/* Parse the first line (not yet authenticated): TR_E_SEALED if malformed. */
int tre_sealed_parse(const uint8_t *doc, size_t len, struct tre_sealed_header *h);
/* Open a document whose header h was parsed, under kek (whose id matches):
 * the plaintext into a malloc'd *text (*text_len bytes, NUL-terminated;
 * the caller wipes and frees it). TR_E_SEALED when it does not open. */
int tre_open(const struct tre_kek *kek, const uint8_t *doc, size_t len,
             const struct tre_sealed_header *h, char **text, size_t *text_len);
/* The cluster and serial a key file text names in its header lines ("" and
 * 0 when it names none); 0, or TR_E_KEYFILE_SYNTAX for an unreadable
 * header. */
int tre_text_header(const char *text, size_t len, char cluster[TRE_ID_MAX + 1],
                    uint64_t *serial);

#endif
