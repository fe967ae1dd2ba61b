/*
 * ticketring-demo-rotate: the operator's step of tools/demo.sh's rotation.
 *
 *   ticketring-demo-rotate KEYFILE SECONDS
 *
 * Adds a fresh key to KEYFILE that becomes the encrypt key SECONDS from
 * now, and replaces the file atomically (tr_ring_save: a temporary file in
 * the same directory, then rename), so a node polling the file never reads
 * half of it. SECONDS must exceed how long the nodes take to notice the
 * new file: a node only seals with a key that every node already holds.
 * Prints one line with the new key's name (public: it travels in every
 * ticket). Exit status 0 or 1.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <ticketring/openssl.h>
#include <ticketring/ticketring.h>

int main(int argc, char **argv)
{
    tr_ring *ring = NULL;
    uint8_t name[TR_KEY_NAME_BYTES];
    uint32_t line = 0;
    long secs;
    char *end;
    int rc;

    if (argc != 3 || (secs = strtol(argv[2], &end, 10)) < 0 || *end != '\0' || secs > 86400) {
        fprintf(stderr, "usage: ticketring-demo-rotate KEYFILE SECONDS\n");
        return 2;
    }
    rc = tr_ring_new(&ring, tr_crypto_openssl());
    if (rc == 0)
        rc = tr_ring_load(ring, argv[1], &line);
    if (rc == 0)
        rc = tr_ring_generate_key(ring, (int64_t)time(NULL) + secs, name);
    if (rc == 0)
        rc = tr_ring_save(ring, argv[1]);
    tr_ring_free(ring);
    if (rc != 0) {
        fprintf(stderr, "ticketring-demo-rotate: %s (line %" PRIu32 "): %s\n", argv[1], line,
                tr_strerror(rc));
        return 1;
    }
    printf("key %02x%02x%02x%02x added to the key file, encrypting in %ld s\n", name[0], name[1],
           name[2], name[3], secs);
    return 0;
}
