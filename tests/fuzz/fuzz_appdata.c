/*
 * Fuzz target: the binding data decoder of the OpenSSL glue
 * (backends/openssl/appdata.c, tri_appdata_decode: versions 1 and 2), and
 * what the glue does next with a decoded value (attach.c, check_session):
 * the ring's time and binding checks.
 *
 * Checks, besides no crash or sanitizer report (UBSan included: the times
 * are arbitrary 64-bit values here, as in a ticket sealed by a node with a
 * broken clock or another implementation):
 *  - one encoding per content: whatever decodes re-encodes to exactly the
 *    input bytes, within the documented limits;
 *  - tr_ring_check_times() applies the documented rules (fz_expected_times);
 *  - tr_ring_check_binding() refuses exactly another host name (ignoring
 *    ASCII case) and a protocol the client does not offer now.
 */
#include <string.h>

#include "appdata.h"
#include "fuzz.h"

static tr_ring *ring;

static int same_host(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    if (a_len != b_len)
        return 0;
    for (size_t i = 0; i < a_len; i++) {
        uint8_t x = a[i] >= 'A' && a[i] <= 'Z' ? (uint8_t)(a[i] + 32) : a[i];
        uint8_t y = b[i] >= 'A' && b[i] <= 'Z' ? (uint8_t)(b[i] + 32) : b[i];
        if (x != y)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t sni[] = FZ_SNI;
    static const uint8_t offer[] = "\x02h2\x08http/1.1";
    struct tri_appdata a;
    uint8_t out[TRI_APPDATA_MAX];
    int64_t age_ms = -1;
    size_t len;
    int rc, want;

    if (ring == NULL)
        ring = fz_ring_new();
    if (tri_appdata_decode(data, size, &a) != 0)
        return 0;
    FZ_CHECK(size <= TRI_APPDATA_MAX);
    FZ_CHECK(a.sni_len <= TRI_APPDATA_SNI_MAX && a.alpn_len <= TRI_APPDATA_ALPN_MAX);
    FZ_CHECK(a.node_len <= TRI_APPDATA_NODE_MAX && strlen(a.node) == a.node_len);
    FZ_CHECK(a.auth_time >= 0);
    FZ_CHECK((data[0] == 2) == (a.early_tag != 0));
    len = tri_appdata_encode(&a, out);
    FZ_CHECK(len == size && memcmp(out, data, size) == 0);

    rc = tr_ring_check_times(ring, a.issue_ms, a.auth_time, &age_ms);
    want = fz_expected_times(a.issue_ms, a.auth_time);
    if (rc != want)
        fprintf(stderr, "tr_ring_check_times(%lld, %lld) = %d, expected %d\n",
                (long long)a.issue_ms, (long long)a.auth_time, rc, want);
    FZ_CHECK(rc == want);
    FZ_CHECK(age_ms >= 0);
    if (rc == 0)
        FZ_CHECK(age_ms == (FZ_NOW_MS > a.issue_ms ? FZ_NOW_MS - a.issue_ms : 0));

    rc = tr_ring_check_binding(ring, a.sni, a.sni_len, sni, sizeof(sni) - 1, a.alpn, a.alpn_len,
                               offer, sizeof(offer) - 1);
    if (!same_host(a.sni, a.sni_len, sni, sizeof(sni) - 1))
        want = TR_E_TICKET_SNI;
    else if (a.alpn_len != 0 && !(a.alpn_len == 2 && memcmp(a.alpn, "h2", 2) == 0) &&
             !(a.alpn_len == 8 && memcmp(a.alpn, "http/1.1", 8) == 0))
        want = TR_E_TICKET_ALPN;
    else
        want = 0;
    FZ_CHECK(rc == want);
    return 0;
}
