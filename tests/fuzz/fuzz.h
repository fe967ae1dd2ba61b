/*
 * Shared by the fuzz targets (docs/fuzzing.md): a ring with fixed keys,
 * a fixed clock and a deterministic random source, so that a ticket sealed
 * once (by the corpus generator, by a harness) opens the same way on every
 * run; a reader that turns fuzzer bytes into fields; and the checks every
 * target applies to a refusal.
 *
 * Each target is one LLVMFuzzerTestOneInput. It is built as a libFuzzer
 * binary (clang, -Dfuzz) and always as a plain executable that replays
 * files and directories (replay_main.c), so a build without libFuzzer
 * still runs every corpus as a meson test (suite 'fuzz').
 */
#ifndef TICKETRING_FUZZ_H
#define TICKETRING_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ticketring/ticketring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A finding: print where and why, then abort so libFuzzer (or ASan under
 * the replay driver) records the input that got here. */
#define FZ_CHECK(cond)                                                                         \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz check failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* 1 when TR_FUZZ_VERBOSE is set: targets then print each input's outcome
 * (to see what a corpus exercises; too slow for fuzzing). */
int fz_verbose(void);

/* The ring's clock never moves: 2025-06-15T15:06:40Z. */
#define FZ_NOW_MS INT64_C(1750000000000)
#define FZ_NOW_S (FZ_NOW_MS / 1000)
/* The ring's policy: the library's defaults, spelled out because the
 * oracles depend on them. */
#define FZ_LIFETIME 7200
#define FZ_SKEW 60
#define FZ_MAX_AGE 86400

/* The keys of the fixed ring, one per role it can have at FZ_NOW_MS, and
 * one the ring does not hold. */
enum fz_key_id {
    FZ_KEY_RETIRED = 0, /* superseded a day ago: opens nothing */
    FZ_KEY_DECRYPT,     /* superseded an hour ago: still opens */
    FZ_KEY_ENCRYPT,     /* seals now */
    FZ_KEY_SOON,        /* activates in an hour: already opens */
    FZ_KEY_PENDING,     /* TR_ACTIVATION_PENDING: opens, never seals */
    FZ_KEY_REVOKED,     /* revoked: opens nothing */
    FZ_KEY_UNKNOWN,     /* not in the ring */
    FZ_KEY_COUNT
};

/* The 80-byte key (name | HMAC secret | AES key) of `id`. */
void fz_key(int id, uint8_t key[TR_KEY_BYTES]);
/* Its activation time in the fixed ring. */
int64_t fz_key_activation(int id);
/* 1 when the fixed ring opens tickets sealed under key `id`. */
int fz_key_opens(int id);

/* The backend named by TR_FUZZ_BACKEND ("openssl" or "mbedtls"), else the
 * first one built. */
const tr_crypto *fz_backend(void);

/* A new ring on fz_backend() holding every key but FZ_KEY_UNKNOWN, on the
 * fixed clock and random source; aborts on failure. */
tr_ring *fz_ring_new(void);
/* The same on backend c. */
tr_ring *fz_ring_with(const tr_crypto *c);
/* An empty ring with the same clock and random source. */
tr_ring *fz_ring_empty(void);
/* Restart the deterministic random source, so an input sees the same
 * random bytes however many inputs ran before it. */
void fz_random_reset(void);

/* A generic ticket (format v1) sealed straight from docs/ticket-format.md,
 * under fixed key `id` with the given salt, nonce, times, binding and
 * state, into out (state_len + TR_TICKET_OVERHEAD bytes); returns its
 * length. Any field may hold what tr_ticket_seal() would never write. */
size_t fz_seal_v1(int id, const uint8_t salt[16], const uint8_t nonce[12], int64_t issue_ms,
                  int64_t auth_time, const uint8_t *sni, size_t sni_len, const uint8_t *alpn,
                  size_t alpn_len, const uint8_t *app_ctx, size_t app_ctx_len,
                  const uint8_t *state, size_t state_len, uint8_t *out);

/* The binding every corpus ticket is sealed for and every raw ticket is
 * presented with. */
#define FZ_SNI "a.example"
#define FZ_ALPN "h2"
#define FZ_APP_CTX "app"

/* Fuzzer bytes as fields: reads past the end give zeros. */
struct fz_reader {
    const uint8_t *p;
    size_t left;
};
uint8_t fz_u8(struct fz_reader *r);
uint16_t fz_u16(struct fz_reader *r);
uint32_t fz_u32(struct fz_reader *r);
uint64_t fz_u64(struct fz_reader *r);
/* Up to n bytes into out (the rest zero); returns how many were there. */
size_t fz_bytes(struct fz_reader *r, uint8_t *out, size_t n);

/* 1 when rc is one of the TR_E_TICKET_* refusals tr_ticket_open() returns. */
int fz_is_ticket_refusal(int rc);
/* The tr_stats counter a refusal rc is counted under (NULL for others). */
uint64_t *fz_refusal_counter(tr_stats *st, int rc);
/* The documented time rules (docs/ticket-format.md, "Opening, in order",
 * steps 4 and 5) for a ticket issued at issue_ms for a session
 * authenticated at auth_time (0: unknown), on the fixed ring, in 128-bit
 * arithmetic: 0, TR_E_TICKET_FUTURE or TR_E_TICKET_EXPIRED. */
int fz_expected_times(int64_t issue_ms, int64_t auth_time);

/* The ring's counters; aborts on failure. */
tr_stats fz_stats(tr_ring *ring);
/* After a tr_ticket_open() that returned rc: exactly one counter moved
 * (opened, or the refusal's), and a refusal left no plaintext in `state`
 * (cap bytes, filled with `fill` before the call): after decryption its
 * first `body` bytes are wiped and the rest untouched; before it, nothing
 * in it was written but zeros. */
void fz_check_open_outcome(int rc, const tr_stats *before, const tr_stats *after,
                           const uint8_t *state, size_t cap, uint8_t fill, size_t body);

#endif
