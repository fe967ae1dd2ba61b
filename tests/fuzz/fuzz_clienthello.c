/*
 * Fuzz target: the ClientHello parsers of the TLS glue (clienthello.c):
 * the extension bodies of server_name (RFC 6066 3),
 * application_layer_protocol_negotiation (RFC 7301 3.1) and pre_shared_key
 * (RFC 8446 4.2.11), and, where the tree has them, the walkers of a whole
 * ClientHello message and of the record it arrives in. The whole input is
 * handed to each, as what it parses.
 *
 * Checks, besides no crash or sanitizer report: what each extension parser
 * returns is what the RFC's structure says (computed here the simple way,
 * walking the bytes with bounds checks of its own); what the walkers find
 * lies inside the input, a record holds the message the message walker
 * reads, and a refusal leaves nothing behind.
 */
#include <stddef.h>
#include <string.h>

#include "clienthello.h"
#include "fuzz.h"

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

/* The first host_name entry of a well-formed ServerNameList. */
static size_t expect_sni(const uint8_t *d, size_t n, const uint8_t **name)
{
    size_t i;

    if (n < 2 || get16(d) != n - 2)
        return 0;
    for (i = 2; n - i >= 3; ) {
        size_t len = get16(d + i + 1);
        if (len > n - i - 3)
            return 0;
        if (d[i] == 0) {
            *name = d + i + 3;
            return len <= TRI_SNI_MAX ? len : 0;
        }
        i += 3 + len;
    }
    return 0;
}

/* identities<7..2^16-1> of {identity<1..2^16-1>, uint32 age}, then
 * binders<33..2^16-1> of PskBinderEntry<32..255>, one per identity. */
static int expect_psk(const uint8_t *d, size_t n, uint32_t *age)
{
    size_t ids, i, count = 0, binders = 0, blen;

    if (n < 2)
        return -1;
    ids = get16(d);
    if (ids < 7 || 2 + ids > n)
        return -1;
    for (i = 2; i < 2 + ids; count++) {
        size_t len;
        if (2 + ids - i < 2)
            return -1;
        len = get16(d + i);
        if (len == 0 || 2 + ids - i < 2 + len + 4)
            return -1;
        if (count == 0)
            *age = (uint32_t)d[i + 2 + len] << 24 | (uint32_t)d[i + 3 + len] << 16 |
                   (uint32_t)d[i + 4 + len] << 8 | d[i + 5 + len];
        i += 2 + len + 4;
    }
    i = 2 + ids;
    if (n - i < 2)
        return -1;
    blen = get16(d + i);
    if (blen < 33 || blen != n - i - 2)
        return -1;
    for (i += 2; i < n; binders++) {
        if (d[i] < 32 || d[i] > n - i - 1)
            return -1;
        i += 1u + d[i];
    }
    return binders == count ? 0 : -1;
}

#ifdef TRI_CH_RECORD_HEADER
static int inside(const uint8_t *p, size_t len, const uint8_t *data, size_t size)
{
    return p == NULL ? len == 0 : p >= data && len <= size && p - data <= (ptrdiff_t)(size - len);
}

static void check_exts(const struct tri_ch_exts *e, const uint8_t *data, size_t size)
{
    FZ_CHECK(inside(e->sni, e->sni_len, data, size));
    FZ_CHECK(inside(e->alpn, e->alpn_len, data, size));
    FZ_CHECK((e->sni != NULL) == (e->sni_count > 0));
    FZ_CHECK((e->alpn != NULL) == (e->alpn_count > 0));
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static void check_walkers(const uint8_t *data, size_t size)
{
    struct tri_ch_exts rec, msg;
    size_t n;

    if (tri_ch_parse_hello(data, size, &msg) == 0)
        check_exts(&msg, data, size);
    else
        FZ_CHECK(all_zero(&msg, sizeof(msg)));
    if (size >= TRI_CH_RECORD_HEADER) {
        n = tri_ch_record_len(data);
        FZ_CHECK(n == 0 || (n >= 4 && n <= TRI_CH_RECORD_MAX - TRI_CH_RECORD_HEADER));
    }
    if (tri_ch_parse_record(data, size, &rec) != 0) {
        FZ_CHECK(all_zero(&rec, sizeof(rec)));
        return;
    }
    check_exts(&rec, data, size);
    /* Record header(5), message type(1) and length(3), then the body. */
    FZ_CHECK(size >= TRI_CH_RECORD_HEADER + 4);
    FZ_CHECK(tri_ch_parse_hello(data + 9, size - 9, &msg) == 0);
    FZ_CHECK(rec.sni == msg.sni && rec.sni_len == msg.sni_len && rec.sni_count == msg.sni_count);
    FZ_CHECK(rec.alpn == msg.alpn && rec.alpn_len == msg.alpn_len &&
             rec.alpn_count == msg.alpn_count && rec.ticket_count == msg.ticket_count);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t name[TRI_SNI_MAX];
    const uint8_t *want_name = NULL, *list = NULL;
    size_t got, want, list_len = 0;
    uint32_t age = 0xdeadbeef, want_age = 0;
    int rc, want_rc;

    memset(name, 0xA5, sizeof(name));
    got = tri_ch_parse_sni(data, size, name);
    want = expect_sni(data, size, &want_name);
    FZ_CHECK(got == want);
    if (got != 0)
        FZ_CHECK(memcmp(name, want_name, got) == 0);

    rc = tri_ch_parse_alpn(data, size, &list, &list_len);
    want_rc = size >= 2 && get16(data) == size - 2 && size > 2 ? 0 : -1;
    FZ_CHECK(rc == want_rc);
    if (rc == 0)
        FZ_CHECK(list == data + 2 && list_len == size - 2);
    else
        FZ_CHECK(list == NULL && list_len == 0);

    rc = tri_ch_parse_psk_age(data, size, &age);
    want_rc = expect_psk(data, size, &want_age);
    FZ_CHECK(rc == want_rc);
    FZ_CHECK(age == (rc == 0 ? want_age : 0xdeadbeef));
#ifdef TRI_CH_RECORD_HEADER
    check_walkers(data, size);
#endif
    return 0;
}
