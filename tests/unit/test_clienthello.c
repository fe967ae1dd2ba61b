/* lib/clienthello.c: the ClientHello record walker the mbedTLS glue uses on
 * bytes straight from the wire, and the SNI / ALPN body parsers both glues
 * use. (The pre_shared_key parser is tested with the OpenSSL early-data
 * tests.) Every input is built here byte by byte. */
#include <string.h>

#include "clienthello.h"
#include "test_util.h"

struct hello {
    uint8_t b[2048];
    size_t len;
    size_t ext_len_at; /* offset of the extensions length */
};

static void put(struct hello *h, const void *p, size_t n)
{
    assert_true(h->len + n <= sizeof(h->b));
    memcpy(h->b + h->len, p, n);
    h->len += n;
}

static void put8(struct hello *h, unsigned v)
{
    uint8_t b = (uint8_t)v;
    put(h, &b, 1);
}

static void put16(struct hello *h, size_t v)
{
    put8(h, (unsigned)(v >> 8) & 0xff);
    put8(h, (unsigned)v & 0xff);
}

/* Record and handshake headers (lengths fixed by finish()), version,
 * random, sid_bytes of session id, cs_bytes of cipher suites, null
 * compression, and an empty extensions block. */
static void start_with(struct hello *h, size_t sid_bytes, size_t cs_bytes)
{
    uint8_t zero[64] = {0};
    memset(h, 0, sizeof(*h));
    put8(h, 22);
    put16(h, 0x0301);
    put16(h, 0);
    put8(h, 1);
    put8(h, 0);
    put16(h, 0);
    put16(h, 0x0303);
    put(h, zero, 32);
    put8(h, (unsigned)sid_bytes);
    put(h, zero, sid_bytes);
    put16(h, cs_bytes);
    for (size_t i = 0; i < cs_bytes; i++)
        put8(h, 0xc0);
    put8(h, 1);
    put8(h, 0);
    h->ext_len_at = h->len;
    put16(h, 0);
}

/* A 32-byte session id and two cipher suites. */
static void start(struct hello *h)
{
    start_with(h, 32, 4);
}

static void ext(struct hello *h, unsigned type, const void *body, size_t n)
{
    put16(h, type);
    put16(h, n);
    put(h, body, n);
}

static void finish(struct hello *h)
{
    size_t rec = h->len - 5, hs = rec - 4, exts = h->len - h->ext_len_at - 2;
    h->b[3] = (uint8_t)(rec >> 8);
    h->b[4] = (uint8_t)rec;
    h->b[6] = (uint8_t)(hs >> 16);
    h->b[7] = (uint8_t)(hs >> 8);
    h->b[8] = (uint8_t)hs;
    if (h->ext_len_at + 2 > h->len)
        return; /* no extensions block */
    h->b[h->ext_len_at] = (uint8_t)(exts >> 8);
    h->b[h->ext_len_at + 1] = (uint8_t)exts;
}

static const uint8_t sni_a[] = {0, 12, 0, 0, 9, 'a', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'};
static const uint8_t sni_b[] = {0, 12, 0, 0, 9, 'b', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e'};
static const uint8_t alpn_h2[] = {0, 3, 2, 'h', '2'};
static const uint8_t alpn_h11[] = {0, 9, 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

static void assert_zero(const struct tri_ch_exts *e)
{
    struct tri_ch_exts z;
    memset(&z, 0, sizeof(z));
    assert_memory_equal(e, &z, sizeof(z));
}

static void test_record_with_extensions(void **state)
{
    struct hello h;
    struct tri_ch_exts e;
    uint8_t name[TRI_SNI_MAX];
    const uint8_t *list;
    size_t list_len;

    start(&h);
    ext(&h, 0, sni_a, sizeof(sni_a));
    ext(&h, 35, "", 0);
    ext(&h, 16, alpn_h2, sizeof(alpn_h2));
    ext(&h, 0xfafa, "x", 1);
    finish(&h);
    assert_int_equal(tri_ch_record_len(h.b), h.len - 5);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), 0);
    assert_int_equal(e.sni_count, 1);
    assert_int_equal(e.alpn_count, 1);
    assert_int_equal(e.ticket_count, 1);
    assert_int_equal(tri_ch_parse_sni(e.sni, e.sni_len, name), 9);
    assert_memory_equal(name, "a.example", 9);
    assert_int_equal(tri_ch_parse_alpn(e.alpn, e.alpn_len, &list, &list_len), 0);
    assert_int_equal(list_len, 3);
    assert_memory_equal(list, "\x02h2", 3);
}

static void test_repeated_extensions_counted(void **state)
{
    struct hello h;
    struct tri_ch_exts e;
    uint8_t name[TRI_SNI_MAX];
    const uint8_t *list;
    size_t list_len;

    start(&h);
    ext(&h, 0, sni_a, sizeof(sni_a));
    ext(&h, 16, alpn_h2, sizeof(alpn_h2));
    ext(&h, 35, "t", 1);
    ext(&h, 0, sni_b, sizeof(sni_b));
    ext(&h, 16, alpn_h11, sizeof(alpn_h11));
    ext(&h, 35, "u", 1);
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), 0);
    assert_int_equal(e.sni_count, 2);
    assert_int_equal(e.alpn_count, 2);
    assert_int_equal(e.ticket_count, 2);
    /* The last of each (what mbedTLS 2.28 is left with for ALPN). */
    assert_int_equal(tri_ch_parse_sni(e.sni, e.sni_len, name), 9);
    assert_memory_equal(name, "b.example", 9);
    assert_int_equal(tri_ch_parse_alpn(e.alpn, e.alpn_len, &list, &list_len), 0);
    assert_int_equal(list_len, 9);
}

static void test_no_extensions(void **state)
{
    struct hello h;
    struct tri_ch_exts e;

    start(&h);
    h.len = h.ext_len_at; /* the extensions block is optional */
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), 0);
    assert_zero(&e);
    /* An empty extensions block is fine too. */
    start(&h);
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), 0);
    assert_zero(&e);
}

/* Every prefix of a valid record is refused, with nothing reported. */
static void test_truncated(void **state)
{
    struct hello h;
    struct tri_ch_exts e;

    start(&h);
    ext(&h, 0, sni_a, sizeof(sni_a));
    ext(&h, 16, alpn_h2, sizeof(alpn_h2));
    finish(&h);
    for (size_t n = 0; n < h.len; n++) {
        memset(&e, 0xee, sizeof(e));
        assert_int_equal(tri_ch_parse_record(h.b, n, &e), -1);
        assert_zero(&e);
    }
    /* And a message body cut anywhere, lengths and all, as the walker
     * sees it. */
    for (size_t n = 0; n < h.len - 9; n++) {
        if (n == h.ext_len_at - 9)
            continue; /* the body may end where the extensions would start */
        memset(&e, 0xee, sizeof(e));
        assert_int_equal(tri_ch_parse_hello(h.b + 9, n, &e), -1);
        assert_zero(&e);
    }
}

static void expect_bad(struct hello *h, size_t at, uint8_t value)
{
    struct tri_ch_exts e;
    uint8_t keep = h->b[at];
    h->b[at] = value;
    memset(&e, 0xee, sizeof(e));
    assert_int_equal(tri_ch_parse_record(h->b, h->len, &e), -1);
    assert_zero(&e);
    h->b[at] = keep;
}

static void test_bad_fields(void **state)
{
    struct hello h;
    struct tri_ch_exts e;
    size_t cs = 5 + 4 + 2 + 32 + 1 + 32, comp = cs + 2 + 4;

    start(&h);
    ext(&h, 0, sni_a, sizeof(sni_a));
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), 0);

    expect_bad(&h, 0, 23);          /* not a handshake record */
    expect_bad(&h, 1, 2);           /* not version 3.x */
    expect_bad(&h, 4, h.b[4] + 1);  /* record longer than given */
    expect_bad(&h, 5, 2);           /* not a ClientHello */
    expect_bad(&h, 6, 1);           /* handshake longer than the record */
    expect_bad(&h, 8, h.b[8] - 1);  /* ... or shorter */
    expect_bad(&h, cs + 1, 0);      /* no cipher suite */
    expect_bad(&h, comp, 0);        /* no compression method */
    expect_bad(&h, h.ext_len_at + 1, h.b[h.ext_len_at + 1] + 1); /* extensions overrun */
    expect_bad(&h, h.ext_len_at + 1, h.b[h.ext_len_at + 1] - 1); /* ... or fall short */
    expect_bad(&h, h.ext_len_at + 5, h.b[h.ext_len_at + 5] + 1); /* one extension overruns */

    /* Cipher suites are two bytes each: an odd list is refused even when
     * every length adds up. */
    start_with(&h, 32, 3);
    ext(&h, 0, sni_a, sizeof(sni_a));
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), -1);
    start_with(&h, 32, 2);
    ext(&h, 0, sni_a, sizeof(sni_a));
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), 0);
    /* A session id is at most 32 bytes, also when the rest adds up. */
    start_with(&h, 33, 2);
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), -1);
    start_with(&h, 0, 2);
    finish(&h);
    assert_int_equal(tri_ch_parse_record(h.b, h.len, &e), 0);

    /* Record header bounds. */
    assert_int_equal(tri_ch_record_len((const uint8_t *)"\x16\x03\x01\x00\x03"), 0);
    assert_int_equal(tri_ch_record_len((const uint8_t *)"\x16\x03\x01\x00\x04"), 4);
    assert_int_equal(tri_ch_record_len((const uint8_t *)"\x16\x03\x03\x40\x00"), 16384);
    assert_int_equal(tri_ch_record_len((const uint8_t *)"\x16\x03\x03\x40\x01"), 0);
    assert_int_equal(tri_ch_parse_record(NULL, 0, &e), -1);
}

static void test_body_parsers(void **state)
{
    uint8_t name[TRI_SNI_MAX];
    const uint8_t *list;
    size_t list_len;
    /* A non-host_name entry first, then the host name. */
    static const uint8_t two[] = {0, 9, 7, 0, 1, 'x', 0, 0, 2, 'h', 'i', 0};
    static const uint8_t empty_name[] = {0, 3, 0, 0, 0};
    static const uint8_t empty_proto[] = {0, 1, 0};

    assert_int_equal(tri_ch_parse_sni(two, sizeof(two) - 1, name), 2);
    assert_memory_equal(name, "hi", 2);
    assert_int_equal(tri_ch_parse_sni(two, sizeof(two), name), 0); /* list length off */
    assert_int_equal(tri_ch_parse_sni(empty_name, sizeof(empty_name), name), 0);
    assert_int_equal(tri_ch_parse_sni(sni_a, 1, name), 0);
    assert_int_equal(tri_ch_parse_alpn(alpn_h2, sizeof(alpn_h2), &list, &list_len), 0);
    assert_int_equal(tri_ch_parse_alpn(alpn_h2, sizeof(alpn_h2) - 1, &list, &list_len), -1);
    assert_null(list);
    assert_int_equal(list_len, 0);
    /* The list is handed over as is: names inside are the caller's to walk. */
    assert_int_equal(tri_ch_parse_alpn(empty_proto, sizeof(empty_proto), &list, &list_len), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_with_extensions),
        cmocka_unit_test(test_repeated_extensions_counted),
        cmocka_unit_test(test_no_extensions),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_body_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
