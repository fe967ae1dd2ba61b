/*
 * The mbedTLS world of the fuzz targets and the corpus generator: one
 * mbedTLS 2.28 server config attached (tr_mbedtls_attach) to the fixed
 * ring on the mbedTLS backend, with a P-256 identity and every random byte
 * drawn from a deterministic source, so that a ClientHello built once (by
 * the generator, offering a ticket this server issued) is read the same
 * way on every run.
 */
#ifndef TICKETRING_FUZZ_MBED_H
#define TICKETRING_FUZZ_MBED_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>

#include "ticketring/mbedtls.h"

struct fz_mbed_world {
    tr_ring *ring;
    mbedtls_ssl_config conf; /* server: ALPN "h2", "http/1.1"; tickets through att */
    tr_mbedtls_attachment *att;
    /* What the application's SNI callback (tr_mbedtls_set_sni_cb) saw. */
    uint32_t sni_calls;
    uint8_t sni[256];
    size_t sni_len;
};

/* Build it once (aborts on failure); the world lives until the process ends
 * unless freed with fz_mbed_world_free(). */
struct fz_mbed_world *fz_mbed_world(void);
void fz_mbed_world_free(void);

/* Restart the deterministic random source of the mbedTLS side. */
void fz_mbed_random_reset(void);

/* A client's first flight as an mbedTLS client sends it: SNI (NULL: none),
 * ALPN protocols (comma-separated; NULL: none), tickets on, offering the
 * ticket of a full handshake with the world's server first when `resume`.
 * Into out (cap bytes); returns its length (aborts on failure). */
size_t fz_mbed_client_hello(const char *sni, const char *alpn_csv, int resume, uint8_t *out,
                            size_t cap);

#endif
