/* Shared by the unit tests: backend choice, fake clock, deterministic
 * random source, counting/failing allocator. */
#ifndef TICKETRING_TEST_UTIL_H
#define TICKETRING_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ticketring/ticketring.h"

/* The backend named by TR_TEST_BACKEND ("openssl" or "mbedtls"); the first
 * built one when unset. */
const tr_crypto *tu_backend(void);
/* Every backend built into the test binary, NULL-terminated. */
const tr_crypto *const *tu_backends(void);
/* A backend by name, or NULL if not built. */
const tr_crypto *tu_backend_named(const char *name);

/* Fake clock: pass tu_clock with &clock_ms as arg. */
int64_t tu_clock(void *arg);

/* Deterministic random: bytes from a counter, for test vectors only.
 * arg points to a uint64_t counter, advanced by each call. */
int tu_random_counter(uint8_t *buf, size_t len, void *arg);

/* The kernel's random bytes (getrandom, fork-safe); 0 or -1. */
int tu_random_os(uint8_t *buf, size_t len);

/* Counting allocator: arg points to a struct tu_alloc. When fail_at is
 * non-zero, the fail_at-th allocation (1-based, counted from the last
 * reset) returns NULL. */
struct tu_alloc {
    uint64_t allocs;
    uint64_t frees;
    uint64_t fail_at;
    uint64_t failed; /* allocations refused by fail_at (never freed) */
};
void *tu_malloc(size_t size, void *arg);
void tu_free(void *ptr, void *arg);

/* A ring on tu_backend() with the fake clock at *clock_ms; fails the test
 * on error. */
tr_ring *tu_ring(int64_t *clock_ms);
/* A deterministic 80-byte key: name bytes and secret derived from seed. */
void tu_key(uint8_t key[TR_KEY_BYTES], uint8_t seed);

/* Write `len` bytes to a fresh temporary file; returns a malloc'd path. */
char *tu_write_temp(const char *content, size_t len);

#endif
