/* Shared by the unit tests: backend choice, fake clock, deterministic
 * random source, counting/failing allocator. */
#ifndef TICKETRING_TEST_UTIL_H
#define TICKETRING_TEST_UTIL_H

#include <pthread.h>
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

/* Recording allocator, safe to call from several threads (the watcher's
 * too): arg points to a struct tu_rec set up with tu_rec_init(). Each block
 * is filled with 0xA5 when handed out, so bytes it held for an earlier
 * owner are never mistaken for what the library left in it; on_free, when
 * set, sees every block's bytes and size just before it is released (and
 * must itself be thread-safe). fail_at as in struct tu_alloc; counters are
 * read with tu_rec_get(). */
#define TU_REC_SIZES 64
struct tu_rec {
    pthread_mutex_t mu;
    uint64_t allocs;  /* calls to the malloc function */
    uint64_t frees;   /* blocks freed (NULL not counted) */
    uint64_t failed;  /* allocations refused by fail_at */
    uint64_t fail_at; /* 1-based number of the allocation to refuse; 0: none */
    uint64_t live;    /* blocks handed out and not yet freed */
    size_t sizes[TU_REC_SIZES]; /* size of allocation n at [(n - 1) % TU_REC_SIZES] */
    void (*on_free)(const uint8_t *block, size_t size, void *arg);
    void *on_free_arg;
};
void tu_rec_init(struct tu_rec *a);
void tu_rec_destroy(struct tu_rec *a);
void *tu_rec_malloc(size_t size, void *arg);
void tu_rec_free(void *ptr, void *arg);
/* Refuse the n-th allocation from now (1-based); 0 refuses none. */
void tu_rec_fail_next(struct tu_rec *a, uint64_t n);
/* A consistent copy of the counters (its mu is not a usable mutex). */
struct tu_rec tu_rec_get(struct tu_rec *a);

#endif
