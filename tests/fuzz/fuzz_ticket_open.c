/*
 * Fuzz target: tr_ticket_open() (generic format v1, docs/ticket-format.md)
 * on arbitrary bytes, against the fixed ring (fuzz.h), presented with the
 * binding the corpus tickets were sealed for.
 *
 * Checks: no crash or sanitizer report; the result is 0 or a TR_E_TICKET_*
 * refusal, counted exactly once under its reason; a refusal leaves no
 * plaintext in the output; an accepted ticket has the documented length
 * and comes out the same when opened again.
 */
#include <string.h>

#include "fuzz.h"

#define FILL 0xA5

static tr_ring *ring;
static uint8_t state[TR_TICKET_MAX_STATE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sni[] = FZ_SNI, alpn[] = FZ_ALPN, app[] = FZ_APP_CTX;
    uint8_t name[TR_KEY_NAME_BYTES];
    size_t state_len = 0, body = size >= TR_TICKET_OVERHEAD ? size - TR_TICKET_OVERHEAD : 0;
    int64_t auth_time = 0, age_ms = -1;
    uint32_t flags = 0;
    tr_stats before, after;
    int rc;

    if (ring == NULL)
        ring = fz_ring_new();
    fz_random_reset();
    memset(state, FILL, sizeof(state));
    before = fz_stats(ring);
    rc = tr_ticket_open(ring, data, size, sni, sizeof(sni) - 1, alpn, sizeof(alpn) - 1, app,
                        sizeof(app) - 1, state, sizeof(state), &state_len, name, &auth_time,
                        &age_ms, &flags);
    after = fz_stats(ring);
    if (fz_verbose())
        fprintf(stderr, "  %s\n", rc == 0 ? "opened" : tr_strerror(rc));
    fz_check_open_outcome(rc, &before, &after, state, sizeof(state), FILL,
                          body <= sizeof(state) ? body : 0);
    if (rc == 0) {
        uint8_t again[TR_TICKET_MAX_STATE];
        size_t again_len = 0;

        FZ_CHECK(state_len == body);
        FZ_CHECK(memcmp(name, data + 1, TR_KEY_NAME_BYTES) == 0);
        FZ_CHECK(age_ms >= 0 && age_ms <= (int64_t)(FZ_LIFETIME + FZ_SKEW) * 1000);
        FZ_CHECK((flags & ~TR_TICKET_RENEW) == 0);
        /* Opening changes nothing: the same bytes open the same way. */
        FZ_CHECK(tr_ticket_open(ring, data, size, sni, sizeof(sni) - 1, alpn,
                                sizeof(alpn) - 1, app, sizeof(app) - 1, again, sizeof(again),
                                &again_len, NULL, NULL, NULL, NULL) == 0);
        FZ_CHECK(again_len == state_len && memcmp(again, state, state_len) == 0);
    }
    return 0;
}
