/*
 * A consumer of libticketring's public API only: create a ring with a crypto
 * backend, generate a key, seal a ticket and open it again. Exits 0 only when
 * all of that works (and a tampered ticket is refused).
 *
 * Built twice by tools/consumer-check.sh: as a meson project that vendors
 * libticketring as a subproject (meson.build beside this file), and with
 * `cc $(pkg-config --cflags --libs ticketring-openssl)` against an installed
 * prefix. Define CONSUMER_MBEDTLS to use the mbedTLS backend instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef CONSUMER_MBEDTLS
#include <ticketring/mbedtls.h>
#define BACKEND_NAME "mbedtls"
#define BACKEND tr_crypto_mbedtls()
#else
#include <ticketring/openssl.h>
#define BACKEND_NAME "openssl"
#define BACKEND tr_crypto_openssl()
#endif

#define CHECK(call)                                                         \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != 0) {                                                     \
            fprintf(stderr, "consumer(%s): %s failed: %d (%s)\n",           \
                    BACKEND_NAME, #call, rc_, tr_strerror(rc_));            \
            goto out;                                                       \
        }                                                                   \
    } while (0)

int main(void)
{
    static const uint8_t state[] = "session state of a TLS 1.3 connection";
    static const uint8_t sni[] = "www.example.com";
    static const uint8_t alpn[] = "h2";
    static uint8_t ticket[TR_TICKET_MAX_BYTES];
    uint8_t out[sizeof state];
    uint8_t name[TR_KEY_NAME_BYTES], opened_by[TR_KEY_NAME_BYTES];
    size_t ticket_len = 0, out_len = 0;
    uint32_t lifetime = 0, flags = 0;
    int64_t auth_time = 0, age_ms = -1;
    tr_ring *ring = NULL;
    int rc, ok = 0;

    if (tr_version() != TR_VERSION_NUMBER) {
        fprintf(stderr, "consumer: header %s but library %s\n",
                TR_VERSION_STRING, tr_version_string());
        return 1;
    }

    CHECK(tr_ring_new(&ring, BACKEND));
    CHECK(tr_ring_generate_key(ring, (int64_t)time(NULL) - 60, name));
    CHECK(tr_ticket_seal(ring, state, sizeof state, sni, sizeof sni - 1,
                         alpn, sizeof alpn - 1, NULL, 0, 0,
                         ticket, sizeof ticket, &ticket_len, &lifetime));
    CHECK(tr_ticket_open(ring, ticket, ticket_len, sni, sizeof sni - 1,
                         alpn, sizeof alpn - 1, NULL, 0,
                         out, sizeof out, &out_len, opened_by,
                         &auth_time, &age_ms, &flags));
    if (out_len != sizeof state || memcmp(out, state, sizeof state) != 0 ||
        memcmp(opened_by, name, sizeof name) != 0 || lifetime == 0) {
        fprintf(stderr, "consumer(%s): opened ticket does not match what was "
                "sealed\n", BACKEND_NAME);
        goto out;
    }

    /* A tampered ticket must be refused (with some TR_E_TICKET_* code). */
    ticket[ticket_len - 1] ^= 1;
    rc = tr_ticket_open(ring, ticket, ticket_len, sni, sizeof sni - 1,
                        alpn, sizeof alpn - 1, NULL, 0,
                        out, sizeof out, &out_len, NULL, NULL, NULL, NULL);
    if (rc == 0) {
        fprintf(stderr, "consumer(%s): a tampered ticket was accepted\n",
                BACKEND_NAME);
        goto out;
    }

    printf("consumer(%s): libticketring %s sealed and opened a %zu-byte "
           "ticket (lifetime %u s); tampered copy refused: %s\n",
           BACKEND_NAME, tr_version_string(), ticket_len, (unsigned)lifetime,
           tr_strerror(rc));
    ok = 1;
out:
    tr_ring_free(ring);
    return ok ? 0 : 1;
}
