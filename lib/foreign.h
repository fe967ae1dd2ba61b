/*
 * Other servers' ticket key files: nginx's ssl_session_ticket_key (one raw
 * key per file) and HAProxy's tls-ticket-keys (one base64 key per line),
 * their byte layouts, and the role each server gives to each key of its
 * file (docs/interop-nginx.md, docs/interop-haproxy.md). The parsers and
 * formatters here are pure functions of their inputs: they never log, never
 * touch a file and never put key material in a reason.
 */
#ifndef TICKETRING_LIB_FOREIGN_H
#define TICKETRING_LIB_FOREIGN_H

#include <stddef.h>
#include <stdint.h>

#include "ticketring/ticketring.h"

/* HAProxy holds the last TLS_TICKETS_NO keys of its file (a build option,
 * 3 by default and in Debian's package) and refuses a file with fewer. */
#define TRI_HAPROXY_SLOTS 3
/* One base64 line of an 80-byte key, without its line feed. */
#define TRI_HAPROXY_LINE_CHARS 108
/* A 48-byte key: AES-128, which neither server's 80-byte layout can hold. */
#define TRI_FOREIGN_LEGACY_BYTES 48

/* A key read from another server's file, in this library's layout
 * (name | HMAC | AES), with the role that server gives it: TR_KEY_ENCRYPT
 * (it seals with it), TR_KEY_DECRYPT (an older key it only opens with) or
 * TR_KEY_PENDING (held for a later rotation). */
struct tri_foreign_key {
    uint8_t key[TR_KEY_BYTES];
    int32_t role;
    uint32_t line; /* 1-based line in the file; 0 for nginx */
};

/* HAProxy's 80-byte layout is name | AES | HMAC: swap the two secrets
 * (the conversion is its own inverse). `in` and `out` may not overlap. */
void tri_haproxy_swap(const uint8_t in[TR_KEY_BYTES], uint8_t out[TR_KEY_BYTES]);

/* Standard base64 (RFC 4648 section 4, with padding) of len bytes into
 * out, which must hold 4 * ((len + 2) / 3) characters; no NUL is written.
 * Returns the number of characters. */
size_t tri_base64_encode(const uint8_t *in, size_t len, char *out);
/* Decode standard base64: a multiple of 4 characters (as HAProxy's
 * base64dec() requires) and padding only at the end (HAProxy also takes it
 * at the end of any group of 4; no encoder writes that). 0 and *out_len,
 * or -1 (bad character, length or padding) or -2 (more than cap bytes). */
int tri_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* The key of an nginx key file of `len` bytes: 80 bytes name | HMAC | AES
 * (AES-256), which is this library's layout. A 48-byte file (AES-128), an
 * empty one and any other size are refused with TR_E_KEYFILE_SYNTAX and a
 * static reason in *why. Zero halves are the caller's to check. */
int tri_nginx_parse(const uint8_t *buf, size_t len, uint8_t key[TR_KEY_BYTES],
                    const char **why);

/*
 * The keys HAProxy holds from a tls-ticket-keys file of `len` bytes, as
 * HAProxy reads it: one base64 key per line (a trailing "\r" is dropped, as
 * HAProxy does), every line a valid 80-byte key; HAProxy keeps the last
 * TRI_HAPROXY_SLOTS lines, encrypts with the penultimate one (the only one
 * of a one-line file), decrypts with the one before it and holds the last
 * one for its next rotation. Those keys go to out[] (at most
 * TRI_HAPROXY_SLOTS, file order, converted to this library's layout, each
 * with its role and line); a key repeated on several of those lines is one
 * key, with the strongest of its roles (encrypt, then pending, then
 * decrypt). *skipped gets how many earlier lines HAProxy does not hold.
 * On failure returns TR_E_KEYFILE_SYNTAX (empty file or line, bad base64,
 * a size other than 80 bytes) or TR_E_KEY_DUPLICATE (one name, two
 * secrets), sets *err_line (1-based; 0 for an empty file) and *why, and
 * wipes out[].
 */
int tri_haproxy_parse(const char *buf, size_t len, struct tri_foreign_key out[TRI_HAPROXY_SLOTS],
                      uint32_t *n, uint32_t *skipped, uint32_t *err_line, const char **why);

/* HAProxy's file for the keys prev, enc, next (this library's layout;
 * prev and next may be NULL: enc takes their place, since HAProxy needs
 * TRI_HAPROXY_SLOTS lines and a repeated key is harmless to it): three
 * base64 lines of keys converted to its layout. out must hold
 * TRI_HAPROXY_SLOTS * (TRI_HAPROXY_LINE_CHARS + 1) bytes; returns the
 * length written. */
size_t tri_haproxy_format(const uint8_t *prev, const uint8_t *enc, const uint8_t *next,
                          char *out);

#endif
