/* Key files: lib/keyfile.c against docs/key-file-format.md. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "keyfile.h"
#include "secure.h"

#define MAXK 70 /* room for more than TR_RING_MAX_KEYS */

/* ---- helpers ------------------------------------------------------------ */

static void make_entries(struct tri_keyfile_entry *e, uint32_t n, uint8_t seed)
{
    for (uint32_t i = 0; i < n; i++) {
        tu_key(e[i].key, (uint8_t)(seed + i));
        e[i].activation = 1700000000 + (int64_t)i * 86400;
        e[i].flags = 0;
    }
}

/* A formatted file in a malloc'd buffer (NUL-terminated for strstr):
 * version 1 when info is NULL. */
static char *format_info(const struct tri_keyfile_info *info, const struct tri_keyfile_entry *e,
                         uint32_t n, size_t *len)
{
    size_t cap = tri_keyfile_size(n);
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    assert_int_equal(tri_keyfile_format(tu_backend(), info, e, n, buf, cap, len), 0);
    assert_true(*len <= cap);
    buf[*len] = '\0';
    return buf;
}

static char *format_entries(const struct tri_keyfile_entry *e, uint32_t n, size_t *len)
{
    return format_info(NULL, e, n, len);
}

static struct tri_keyfile_info v2_info(const char *cluster, uint64_t serial)
{
    struct tri_keyfile_info info;
    memset(&info, 0, sizeof info);
    info.version = 2;
    info.serial = serial;
    snprintf(info.cluster, sizeof info.cluster, "%s", cluster);
    return info;
}

/* `body` followed by its correct checksum line: a file whose only faults are
 * the ones the test put in the body. */
static char *with_checksum(const char *body, size_t *len)
{
    const tr_crypto *c = tu_backend();
    uint8_t d[TRI_SHA256_BYTES];
    size_t bl = strlen(body);
    char *buf = malloc(bl + 100);
    size_t pos;
    assert_non_null(buf);
    memcpy(buf, body, bl);
    assert_int_equal(c->sha256((const uint8_t *)body, bl, d), 0);
    pos = bl + (size_t)sprintf(buf + bl, "checksum sha256 ");
    for (size_t i = 0; i < sizeof d; i++)
        pos += (size_t)sprintf(buf + pos, "%02x", d[i]);
    buf[pos++] = '\n';
    buf[pos] = '\0';
    *len = pos;
    return buf;
}

struct result {
    int rc;
    uint32_t n;
    uint32_t line;
    const char *why;
    struct tri_keyfile_info info;
    struct tri_keyfile_entry e[MAXK];
};

static int parse_full(const char *buf, size_t len, int64_t max_activation, uint32_t max,
                      struct result *r)
{
    memset(r, 0xAB, sizeof *r);
    r->rc = tri_keyfile_parse(tu_backend(), buf, len, max_activation, r->e, max, &r->n,
                              &r->info, &r->line, &r->why);
    if (r->rc != 0) {
        /* Failure: a reason, no keys, no info, and `out` wiped. */
        assert_non_null(r->why);
        assert_int_equal(r->n, 0);
        assert_int_equal(r->info.version, 0);
        assert_int_equal(r->info.serial, 0);
        assert_true(tri_ct_is_zero(r->e, (max < TR_RING_MAX_KEYS ? max : TR_RING_MAX_KEYS) * sizeof r->e[0]));
    } else {
        assert_null(r->why);
        assert_int_equal(r->line, 0);
        assert_true(r->info.version == 1 || r->info.version == 2);
        assert_true(strlen(r->info.cluster) <= TRI_CLUSTER_MAX);
    }
    return r->rc;
}

static int parse_max(const char *buf, size_t len, uint32_t max, struct result *r)
{
    return parse_full(buf, len, INT64_MAX, max, r);
}

static int parse(const char *buf, size_t len, struct result *r)
{
    return parse_max(buf, len, TR_RING_MAX_KEYS, r);
}

/* A body (without checksum) parsed with a correct checksum appended. */
static int parse_body(const char *body, struct result *r)
{
    size_t len;
    char *buf = with_checksum(body, &len);
    int rc = parse(buf, len, r);
    free(buf);
    return rc;
}

#define NAME1 "0123456789abcdef0123456789abcdef"
#define NAME2 "fedcba9876543210fedcba9876543210"
#define SECRET1                                                         \
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" \
    "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define SECRET2                                                         \
    "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0" \
    "a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3e4f5061728394a5b6c7d8e9f"
#define ZERO32 "00000000000000000000000000000000"
#define ZERO64 ZERO32 ZERO32
#define HDR "ticketring-keys 1\n"

/* Expect a refusal with this code at this line. */
static void expect_body(const char *body, int rc, uint32_t line)
{
    struct result r;
    assert_int_equal(parse_body(body, &r), rc);
    assert_int_equal(r.line, line);
}

/* ---- round trips ------------------------------------------------------- */

static void round_trip(uint32_t n)
{
    struct tri_keyfile_entry e[MAXK];
    struct result r;
    size_t len, len2;
    char *buf, *buf2;

    memset(e, 0, sizeof e);
    make_entries(e, n, 1);
    buf = format_entries(e, n, &len);
    assert_int_equal(parse(buf, len, &r), 0);
    assert_int_equal(r.n, n);
    for (uint32_t i = 0; i < n; i++) {
        assert_memory_equal(r.e[i].key, e[i].key, TR_KEY_BYTES);
        assert_int_equal(r.e[i].activation, e[i].activation);
    }
    /* Canonical: formatting what was parsed gives the same bytes. */
    buf2 = format_entries(r.e, r.n, &len2);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf);
    free(buf2);
}

static void test_round_trip_0(void **state)
{
    (void)state;
    round_trip(0);
}

static void test_round_trip_1(void **state)
{
    (void)state;
    round_trip(1);
}

static void test_round_trip_64(void **state)
{
    (void)state;
    round_trip(TR_RING_MAX_KEYS);
}

static void test_format_layout(void **state)
{
    struct tri_keyfile_entry e[2];
    size_t len;
    char *buf;
    (void)state;

    make_entries(e, 2, 7);
    e[0].activation = 0;
    e[1].activation = INT64_C(1) << 62;
    buf = format_entries(e, 2, &len);
    assert_true(len <= tri_keyfile_size(2));
    /* Line 1 comment, 2 header, 3-4 keys, 5 checksum; lowercase only. */
    assert_int_equal(buf[0], '#');
    assert_non_null(strstr(buf, "\nticketring-keys 1\nkey "));
    assert_non_null(strstr(buf, " 0 "));
    assert_non_null(strstr(buf, " 4611686018427387904 "));
    assert_non_null(strstr(buf, "\nchecksum sha256 "));
    assert_int_equal(buf[len - 1], '\n');
    for (size_t i = (size_t)(strchr(buf, '\n') - buf); i < len; i++)
        assert_false(buf[i] >= 'A' && buf[i] <= 'Z');
    free(buf);
}

static void test_format_limits(void **state)
{
    struct tri_keyfile_entry e[1];
    char buf[1024];
    size_t len = 99;
    (void)state;

    make_entries(e, 1, 3);
    assert_int_equal(
        tri_keyfile_format(tu_backend(), NULL, e, 1, buf, tri_keyfile_size(1) - 1, &len),
        TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, 0);
    e[0].activation = -1;
    assert_int_equal(tri_keyfile_format(tu_backend(), NULL, e, 1, buf, sizeof buf, &len),
                     TR_E_INVAL);
    e[0].activation = (INT64_C(1) << 62) + 1;
    assert_int_equal(tri_keyfile_format(tu_backend(), NULL, e, 1, buf, sizeof buf, &len),
                     TR_E_INVAL);
    assert_int_equal(tri_keyfile_format(NULL, NULL, e, 1, buf, sizeof buf, &len), TR_E_INVAL);
    assert_true(tri_keyfile_size(2) > tri_keyfile_size(1));
}

/* ---- counts ------------------------------------------------------------- */

static void test_too_many_keys(void **state)
{
    struct tri_keyfile_entry e[MAXK];
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    make_entries(e, TR_RING_MAX_KEYS + 1, 1);
    buf = format_entries(e, TR_RING_MAX_KEYS + 1, &len);
    assert_int_equal(parse(buf, len, &r), TR_E_TOO_MANY_KEYS);
    /* comment, header, then the 65th key */
    assert_int_equal(r.line, 2 + TR_RING_MAX_KEYS + 1);
    /* A larger caller array does not lift the format's cap. */
    assert_int_equal(parse_max(buf, len, MAXK, &r), TR_E_TOO_MANY_KEYS);
    free(buf);

    /* A smaller `max` is honoured. */
    buf = format_entries(e, 3, &len);
    assert_int_equal(parse_max(buf, len, 2, &r), TR_E_TOO_MANY_KEYS);
    assert_int_equal(r.line, 5);
    assert_int_equal(parse_max(buf, len, 3, &r), 0);
    assert_int_equal(r.n, 3);
    free(buf);
}

/* ---- every truncation, every bit flip ---------------------------------- */

static void test_every_truncation(void **state)
{
    struct tri_keyfile_entry e[3];
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    make_entries(e, 3, 1);
    buf = format_entries(e, 3, &len);
    for (size_t l = 0; l < len; l++) {
        int rc = parse(buf, l, &r);
        assert_true(rc == TR_E_KEYFILE_INTEGRITY || rc == TR_E_KEYFILE_SYNTAX);
        assert_true(r.line >= 1 && r.line <= 6);
    }
    free(buf);
}

static void test_every_bit_flip(void **state)
{
    struct tri_keyfile_entry e[3];
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    make_entries(e, 3, 1);
    buf = format_entries(e, 3, &len);
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (char)(1u << bit);
            assert_int_not_equal(parse(buf, len, &r), 0);
            buf[i] ^= (char)(1u << bit);
        }
    }
    assert_int_equal(parse(buf, len, &r), 0);
    free(buf);
}

static void test_data_after_checksum(void **state)
{
    struct tri_keyfile_entry e[1];
    struct result r;
    size_t len;
    char *buf;
    static const char *tails[] = {"\n", "# comment\n", " ", "x"};
    (void)state;

    make_entries(e, 1, 1);
    buf = format_entries(e, 1, &len);
    for (size_t t = 0; t < sizeof tails / sizeof tails[0]; t++) {
        char *b2 = malloc(len + 16);
        assert_non_null(b2);
        memcpy(b2, buf, len);
        memcpy(b2 + len, tails[t], strlen(tails[t]));
        assert_int_equal(parse(b2, len + strlen(tails[t]), &r), TR_E_KEYFILE_SYNTAX);
        assert_int_equal(r.line, 5);
        free(b2);
    }
    free(buf);
}

/* ---- integrity ----------------------------------------------------------- */

static void test_wrong_checksum(void **state)
{
    struct tri_keyfile_entry e[2];
    struct result r;
    size_t len;
    char *buf, *p;
    (void)state;

    make_entries(e, 2, 1);
    buf = format_entries(e, 2, &len);
    p = strstr(buf, "checksum sha256 ") + strlen("checksum sha256 ");
    p[10] = p[10] == '0' ? '1' : '0';
    assert_int_equal(parse(buf, len, &r), TR_E_KEYFILE_INTEGRITY);
    assert_int_equal(r.line, 5);
    assert_non_null(strstr(r.why, "checksum mismatch"));
    free(buf);

    /* Another algorithm, a short digest, uppercase digest. */
    expect_body(HDR, 0, 0);
    {
        static const char *bad[] = {
            HDR "checksum sha512 " ZERO64 "\n",
            HDR "checksum sha256 " ZERO32 "\n",
            HDR "checksum sha256\n",
            HDR "checksum sha256 " ZERO64 " x\n",
            HDR "checksum sha256 E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\n",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            assert_int_equal(parse(bad[i], strlen(bad[i]), &r), TR_E_KEYFILE_SYNTAX);
            assert_int_equal(r.line, 2);
        }
    }
}

static void test_missing_checksum(void **state)
{
    struct result r;
    static const char body[] = "# c\n" HDR "key " NAME1 " 1 " SECRET1 "\n";
    (void)state;

    assert_int_equal(parse(body, strlen(body), &r), TR_E_KEYFILE_INTEGRITY);
    assert_int_equal(r.line, 4); /* where the checksum line was expected */
    /* Cut inside the last line: no newline. */
    assert_int_equal(parse(body, strlen(body) - 5, &r), TR_E_KEYFILE_INTEGRITY);
    assert_int_equal(r.line, 3);
}

/* ---- structure ----------------------------------------------------------- */

static void test_missing_header(void **state)
{
    struct result r;
    (void)state;

    expect_body("key " NAME1 " 1 " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 1);
    expect_body("# only a comment\n\n", TR_E_KEYFILE_SYNTAX, 3); /* checksum line first */
    assert_int_equal(parse("", 0, &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 1);
    assert_int_equal(parse("# x\n\n", 5, &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 3);
    expect_body(HDR HDR, TR_E_KEYFILE_SYNTAX, 2);
    expect_body("ticketring-keys\n", TR_E_KEYFILE_SYNTAX, 1);
    expect_body("ticketring-keys 1 extra\n", TR_E_KEYFILE_SYNTAX, 1);
    expect_body("ticketring-key 1\n", TR_E_KEYFILE_SYNTAX, 1);
}

static void test_unsupported_version(void **state)
{
    struct result r;
    (void)state;

    assert_int_equal(parse_body("# future\nticketring-keys 3\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 2);
    assert_string_equal(r.why, "unsupported version");
    assert_int_equal(parse_body("ticketring-keys 3 cluster=x\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_string_equal(r.why, "unsupported version");
    assert_int_equal(parse_body("ticketring-keys 01\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_string_equal(r.why, "unsupported version");
    assert_int_equal(parse_body("ticketring-keys 02\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_string_equal(r.why, "unsupported version");
    assert_int_equal(parse_body("ticketring-keys 0\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_string_equal(r.why, "unsupported version");
    /* A version-2 header with extra fields. */
    assert_int_equal(parse_body("ticketring-keys 2 serial=1\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 1);
}

static void test_crlf(void **state)
{
    struct tri_keyfile_entry e[1];
    struct result r;
    size_t len, j = 0;
    char *buf, *crlf;
    (void)state;

    make_entries(e, 1, 1);
    buf = format_entries(e, 1, &len);
    crlf = malloc(2 * len);
    assert_non_null(crlf);
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n')
            crlf[j++] = '\r';
        crlf[j++] = buf[i];
    }
    assert_int_equal(parse(crlf, j, &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 1);
    assert_non_null(strstr(r.why, "carriage return"));
    /* A lone \r in a comment, too. */
    expect_body("# a\rb\n" HDR, TR_E_KEYFILE_SYNTAX, 1);
    free(buf);
    free(crlf);
}

static void test_comments_and_blank_lines(void **state)
{
    struct result r;
    (void)state;

    assert_int_equal(parse_body("\n# a\n\n#\n" HDR "\n# between\n"
                                "key " NAME1 " 5 " SECRET1 "\n\n"
                                "#key " NAME2 " 6 " SECRET2 "\n"
                                "key " NAME2 " 6 " SECRET2 "\n"
                                "# \xc3\xa9t\xc3\xa9 utf-8 and\ttab\n\n",
                                &r),
                     0);
    assert_int_equal(r.n, 2);
    assert_int_equal(r.e[0].activation, 5);
    assert_int_equal(r.e[1].activation, 6);
    assert_int_equal(r.e[0].key[0], 0x01);
    assert_int_equal(r.e[0].key[16], 0x00);
    assert_int_equal(r.e[0].key[17], 0x11);
    assert_int_equal(r.e[0].key[79], 0x00);
    assert_int_equal(r.e[1].key[0], 0xfe);
    assert_int_equal(r.e[1].key[79], 0x9f);
    /* Order in the file is kept (the ring sorts). */
    assert_int_equal(parse_body(HDR "key " NAME2 " 9 " SECRET2 "\n"
                                "key " NAME1 " 3 " SECRET1 "\n", &r),
                     0);
    assert_int_equal(r.e[0].activation, 9);
    assert_int_equal(r.e[1].activation, 3);
}

static void test_whitespace_and_fields(void **state)
{
    (void)state;
    expect_body(HDR "key " NAME1 " 1 " SECRET1 " \n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "key " NAME1 " 1 " SECRET1 "\t\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR " key " NAME1 " 1 " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "key  " NAME1 " 1 " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "key " NAME1 "\t1 " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body("ticketring-keys 1 \n", TR_E_KEYFILE_SYNTAX, 1);
    expect_body(HDR "   \n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "key " NAME1 " 1\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "key " NAME1 " 1 " SECRET1 " 2\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "key\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "Key " NAME1 " 1 " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "keys " NAME1 " 1 " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "\n\nfoo\n", TR_E_KEYFILE_SYNTAX, 4);
}

static void test_bad_hex(void **state)
{
    static const char *names[] = {
        "0123456789abcdef0123456789abcdeg", /* g */
        "0123456789abcdef0123456789abcde",  /* 31 digits */
        "0123456789abcdef0123456789abcdef0", /* 33 */
        "0123456789ABCDEF0123456789abcdef", /* uppercase: not canonical */
        "0123456789abcdef0123456789abcd:f",
        "0123456789abcdef0123456789abcd/f",
        "0123456789abcdef0123456789abcd`f",
        "0x23456789abcdef0123456789abcdef",
    };
    char body[512];
    (void)state;

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(body, sizeof body, HDR "# c\nkey %s 1 " SECRET1 "\n", names[i]);
        expect_body(body, TR_E_KEYFILE_SYNTAX, 3);
    }
    /* Each position of the secret, with each kind of bad digit. */
    for (size_t pos = 0; pos < 128; pos++) {
        static const char bad[] = {'g', 'G', 'A', 'F', '/', ':', '@', '`', 'z', '\x80'};
        for (size_t b = 0; b < sizeof bad; b++) {
            char secret[129];
            struct result r;
            memcpy(secret, SECRET1, 129);
            secret[pos] = bad[b];
            snprintf(body, sizeof body, HDR "key " NAME1 " 1 %s\n", secret);
            assert_int_equal(parse_body(body, &r), TR_E_KEYFILE_SYNTAX);
            assert_int_equal(r.line, 2);
            assert_string_equal(r.why, "key secret: expected 128 lowercase hex digits");
        }
    }
    expect_body(HDR "key " NAME1 " 1 " SECRET1 "0\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR "key " NAME1 " 1 " ZERO64 "\n", TR_E_KEYFILE_SYNTAX, 2);
}

static void test_hex_all_bytes(void **state)
{
    /* Every byte value through format then parse. */
    struct tri_keyfile_entry e[4];
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    for (uint32_t k = 0; k < 4; k++) {
        for (uint32_t i = 0; i < TR_KEY_BYTES; i++)
            e[k].key[i] = (uint8_t)(k * TR_KEY_BYTES + i);
        e[k].key[0] |= 0x80; /* no zero name */
        e[k].activation = k;
        e[k].flags = 0;
    }
    buf = format_entries(e, 4, &len);
    assert_int_equal(parse(buf, len, &r), 0);
    assert_int_equal(r.n, 4);
    for (uint32_t k = 0; k < 4; k++)
        assert_memory_equal(r.e[k].key, e[k].key, TR_KEY_BYTES);
    free(buf);
}

static void test_activation(void **state)
{
    static const char *bad[] = {
        "01", "00", "+1", "-1", "1.0", "1e3", "0x10", "4611686018427387905",
        "9223372036854775807", "18446744073709551616", "99999999999999999999999", "1a", "",
    };
    char body[512];
    struct result r;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, HDR "key " NAME1 " %s " SECRET1 "\n", bad[i]);
        assert_int_equal(parse_body(body, &r), TR_E_KEYFILE_SYNTAX);
        assert_int_equal(r.line, 2);
    }
    assert_int_equal(parse_body(HDR "key " NAME1 " 4611686018427387904 " SECRET1 "\n", &r), 0);
    assert_int_equal(r.e[0].activation, INT64_C(1) << 62);
    assert_int_equal(parse_body(HDR "key " NAME1 " 0 " SECRET1 "\n", &r), 0);
    assert_int_equal(r.e[0].activation, 0);
    assert_int_equal(parse_body(HDR "key " NAME1 " 10 " SECRET1 "\n", &r), 0);
    assert_int_equal(r.e[0].activation, 10);
}

/* ---- key faults ---------------------------------------------------------- */

static void test_zero_keys(void **state)
{
    struct tri_keyfile_entry e[3];
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    /* The whole key zero, through the formatter so the checksum is right. */
    make_entries(e, 3, 1);
    memset(e[1].key, 0, TR_KEY_BYTES);
    buf = format_entries(e, 3, &len);
    assert_int_equal(parse(buf, len, &r), TR_E_KEY_ZERO);
    assert_int_equal(r.line, 4);
    free(buf);

    /* Name, HMAC secret or AES key alone. */
    for (int part = 0; part < 3; part++) {
        static const size_t off[] = {0, 16, 48};
        static const size_t sz[] = {16, 32, 32};
        make_entries(e, 3, 1);
        memset(e[2].key + off[part], 0, sz[part]);
        buf = format_entries(e, 3, &len);
        assert_int_equal(parse(buf, len, &r), TR_E_KEY_ZERO);
        assert_int_equal(r.line, 5);
        free(buf);
    }
    expect_body(HDR "key " ZERO32 " 1 " SECRET1 "\n", TR_E_KEY_ZERO, 2);
    expect_body(HDR "key " NAME1 " 1 " ZERO64
                "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100\n",
                TR_E_KEY_ZERO, 2);
}

static void test_duplicate_name(void **state)
{
    struct tri_keyfile_entry e[4];
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    /* Same name, different secret and time: only the name repeats. */
    make_entries(e, 4, 1);
    memcpy(e[3].key, e[1].key, TR_KEY_NAME_BYTES);
    buf = format_entries(e, 4, &len);
    assert_int_equal(parse(buf, len, &r), TR_E_KEY_DUPLICATE);
    assert_int_equal(r.line, 6);
    assert_string_equal(r.why, "repeated key name");
    free(buf);

    expect_body(HDR "key " NAME1 " 1 " SECRET1 "\nkey " NAME1 " 2 " SECRET2 "\n",
                TR_E_KEY_DUPLICATE, 3);
}

static void test_corruption_beats_key_faults(void **state)
{
    struct tri_keyfile_entry e[3];
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    /* A repeated name in a file whose checksum is wrong: reported as a
     * corrupted file. */
    make_entries(e, 3, 1);
    memcpy(e[2].key, e[0].key, TR_KEY_NAME_BYTES);
    buf = format_entries(e, 3, &len);
    buf[2] ^= 1; /* in the comment */
    assert_int_equal(parse(buf, len, &r), TR_E_KEYFILE_INTEGRITY);
    free(buf);
}

/* ---- size and byte limits ---------------------------------------------- */

static void test_limits(void **state)
{
    struct result r;
    char *big;
    char body[600];
    (void)state;

    /* Over 64 KiB: refused before anything else, no line at fault. */
    big = malloc(TRI_KEYFILE_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, '\n', TRI_KEYFILE_MAX_BYTES + 1);
    assert_int_equal(parse(big, TRI_KEYFILE_MAX_BYTES + 1, &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 0);
    free(big);

    /* A 256-byte comment line is fine, 257 is not. */
    memset(body, 0, sizeof body);
    memcpy(body, HDR "#", strlen(HDR "#"));
    memset(body + strlen(HDR "#"), 'x', 255);
    strcat(body, "\n");
    expect_body(body, 0, 0);
    memset(body, 0, sizeof body);
    memcpy(body, HDR "#", strlen(HDR "#"));
    memset(body + strlen(HDR "#"), 'x', 256);
    strcat(body, "\n");
    expect_body(body, TR_E_KEYFILE_SYNTAX, 2);

    /* NUL byte in a comment (with a checksum over it). */
    {
        size_t len;
        char *buf;
        buf = with_checksum("# aXb\n" HDR, &len);
        const tr_crypto *c = tu_backend();
        uint8_t d[TRI_SHA256_BYTES];
        buf[3] = '\0';
        assert_int_equal(c->sha256((const uint8_t *)buf, 6 + strlen(HDR), d), 0);
        for (size_t i = 0; i < sizeof d; i++)
            sprintf(buf + 6 + strlen(HDR) + strlen("checksum sha256 ") + 2 * i, "%02x", d[i]);
        buf[len - 1] = '\n';
        assert_int_equal(parse(buf, len, &r), TR_E_KEYFILE_SYNTAX);
        assert_int_equal(r.line, 1);
        assert_string_equal(r.why, "NUL byte");
        free(buf);
    }
}

static void test_api_misuse(void **state)
{
    struct result r;
    uint32_t n = 7, line = 7;
    const char *why = "x";
    (void)state;

    assert_int_equal(tri_keyfile_parse(NULL, "", 0, INT64_MAX, r.e, 1, &n, NULL, &line, &why),
                     TR_E_INVAL);
    assert_int_equal(n, 0);
    assert_int_equal(
        tri_keyfile_parse(tu_backend(), NULL, 5, INT64_MAX, r.e, 1, &n, NULL, &line, &why),
        TR_E_INVAL);
    assert_int_equal(
        tri_keyfile_parse(tu_backend(), "", 0, INT64_MAX, r.e, 1, NULL, NULL, &line, &why),
        TR_E_INVAL);
    /* info, err_line and why may be NULL. */
    assert_int_equal(
        tri_keyfile_parse(tu_backend(), "x", 1, INT64_MAX, r.e, 1, &n, NULL, NULL, NULL),
        TR_E_KEYFILE_INTEGRITY);
}

/* ---- version 2 ------------------------------------------------------------ */

#define HDR2 "ticketring-keys 2\n"
#define SER "serial 7\n"
#define NAME3 "00112233445566778899aabbccddeeff"

/* Entries with every kind of key: dated, pending, revoked, both. */
static void make_v2_entries(struct tri_keyfile_entry *e, uint32_t n, uint8_t seed)
{
    make_entries(e, n, seed);
    for (uint32_t i = 0; i < n; i++) {
        if (i % 3 == 1)
            e[i].activation = TR_ACTIVATION_PENDING;
        if (i % 2 == 1)
            e[i].flags = TRI_KEY_REVOKED;
    }
}

static void round_trip_v2(const struct tri_keyfile_info *info, uint32_t n)
{
    struct tri_keyfile_entry e[MAXK];
    struct result r;
    size_t len, len2;
    char *buf, *buf2;

    memset(e, 0, sizeof e);
    make_v2_entries(e, n, 3);
    buf = format_info(info, e, n, &len);
    assert_int_equal(parse(buf, len, &r), 0);
    assert_int_equal(r.n, n);
    assert_int_equal(r.info.version, 2);
    assert_string_equal(r.info.cluster, info->cluster);
    assert_true(r.info.serial == info->serial);
    /* comment, header, [cluster,] serial */
    assert_int_equal(r.info.cluster_line, info->cluster[0] ? 3 : 0);
    assert_int_equal(r.info.serial_line, info->cluster[0] ? 4 : 3);
    for (uint32_t i = 0; i < n; i++) {
        assert_memory_equal(r.e[i].key, e[i].key, TR_KEY_BYTES);
        assert_int_equal(r.e[i].activation, e[i].activation);
        assert_int_equal(r.e[i].flags, e[i].flags);
    }
    buf2 = format_info(&r.info, r.e, r.n, &len2); /* canonical */
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf);
    free(buf2);
}

static void test_v2_round_trip(void **state)
{
    struct tri_keyfile_info info;
    char longest[TRI_CLUSTER_MAX + 1];
    (void)state;

    info = v2_info("edge-eu.prod", 42);
    round_trip_v2(&info, 0);
    round_trip_v2(&info, 5);
    info = v2_info("", 1);
    round_trip_v2(&info, 3);
    /* The widest lines: longest cluster id, largest serial, 64 keys. */
    memset(longest, 'x', TRI_CLUSTER_MAX);
    longest[TRI_CLUSTER_MAX] = '\0';
    info = v2_info(longest, UINT64_MAX);
    round_trip_v2(&info, TR_RING_MAX_KEYS);
}

static void test_v2_layout(void **state)
{
    struct tri_keyfile_entry e[3];
    struct tri_keyfile_info info = v2_info("edge", 42);
    size_t len;
    char *buf;
    (void)state;

    make_entries(e, 3, 1);
    e[1].activation = TR_ACTIVATION_PENDING;
    e[2].flags = TRI_KEY_REVOKED;
    e[2].activation = INT64_C(1) << 62;
    buf = format_info(&info, e, 3, &len);
    assert_int_equal(buf[0], '#');
    assert_non_null(strstr(buf, "\nticketring-keys 2\ncluster edge\nserial 42\nkey "));
    assert_non_null(strstr(buf, " pending "));
    assert_non_null(strstr(buf, " 4611686018427387904 "));
    assert_non_null(strstr(buf, " revoked\nchecksum sha256 "));
    assert_null(strstr(strstr(buf, " revoked") + 1, " revoked")); /* one revoked key */
    free(buf);
    /* Without a cluster: no cluster line at all. */
    info = v2_info("", 9);
    buf = format_info(&info, e, 1, &len);
    assert_non_null(strstr(buf, "\nticketring-keys 2\nserial 9\nkey "));
    assert_null(strstr(buf, "cluster"));
    free(buf);
}

static void test_v2_format_refusals(void **state)
{
    struct tri_keyfile_entry e[2];
    struct tri_keyfile_info info = v2_info("edge", 1);
    char buf[2048];
    size_t len;
    const tr_crypto *c = tu_backend();
    (void)state;

    make_entries(e, 2, 1);
    /* Version 1 cannot hold pending or revoked keys. */
    e[1].activation = TR_ACTIVATION_PENDING;
    assert_int_equal(tri_keyfile_format(c, NULL, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), 0);
    make_entries(e, 2, 1);
    e[0].flags = TRI_KEY_REVOKED;
    assert_int_equal(tri_keyfile_format(c, NULL, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    info.version = 1;
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    info.version = 2;
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), 0);
    /* Unknown flags, a time past 2^62 that is not pending, negative. */
    e[0].flags = 2;
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    make_entries(e, 2, 1);
    e[0].activation = TR_ACTIVATION_PENDING - 1;
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    e[0].activation = -1;
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    make_entries(e, 2, 1);
    /* Serial 0, a bad cluster id, an unknown version. */
    info = v2_info("edge", 0);
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    info = v2_info("ed ge", 1);
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    info = v2_info("edge", 1);
    info.version = 3;
    assert_int_equal(tri_keyfile_format(c, &info, e, 2, buf, sizeof buf, &len), TR_E_INVAL);
    assert_int_equal(len, 0);
}

static void test_v2_serial(void **state)
{
    static const char *bad[] = {
        "0", "00", "01", "+1", "-1", "1.0", "0x1", "1a", "18446744073709551616",
        "99999999999999999999", "184467440737095516150", "100000000000000000000",
    };
    char body[512];
    struct result r;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, HDR2 "serial %s\nkey " NAME1 " 1 " SECRET1 "\n", bad[i]);
        assert_int_equal(parse_body(body, &r), TR_E_KEYFILE_SYNTAX);
        assert_int_equal(r.line, 2);
        assert_non_null(strstr(r.why, "serial"));
    }
    assert_int_equal(parse_body(HDR2 "serial 18446744073709551615\n", &r), 0);
    assert_true(r.info.serial == UINT64_MAX);
    assert_int_equal(parse_body(HDR2 "serial 1\n", &r), 0);
    assert_true(r.info.serial == 1);
    assert_int_equal(r.n, 0);
    assert_int_equal(parse_body("# c\n\n" HDR2 "# c\n\nserial 10\n", &r), 0);
    assert_int_equal(r.info.serial_line, 6);
    assert_true(r.info.serial == 10);

    /* Missing: at the first key line, or at the checksum line. */
    assert_int_equal(parse_body(HDR2 "key " NAME1 " 1 " SECRET1 "\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 2);
    assert_non_null(strstr(r.why, "missing serial line"));
    assert_int_equal(parse_body("# c\n" HDR2 "cluster a\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 4);
    assert_non_null(strstr(r.why, "missing serial line"));
    /* Repeated (also after keys), and other shapes of the line. */
    expect_body(HDR2 SER "serial 8\n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " 1 " SECRET1 "\nserial 8\n", TR_E_KEYFILE_SYNTAX, 4);
    expect_body(HDR2 "serial\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR2 "serial 1 2\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR2 "serial  1\n", TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR2 "Serial 1\n", TR_E_KEYFILE_SYNTAX, 2);
}

static void test_v2_cluster(void **state)
{
    static const char *good[] = {"a", "edge-eu.prod", "A_Z.a-z_0.9", "-", "."};
    static const char *bad[] = {"a/b", "a:b", "a*", "caf\xc3\xa9", "a\tb", "a,b", "a=b"};
    char body[512], id[TRI_CLUSTER_MAX + 2];
    struct result r;
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(body, sizeof body, HDR2 "cluster %s\n" SER, good[i]);
        assert_int_equal(parse_body(body, &r), 0);
        assert_string_equal(r.info.cluster, good[i]);
        assert_int_equal(r.info.cluster_line, 2);
        assert_int_equal(r.info.serial_line, 3);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(body, sizeof body, HDR2 "cluster %s\n" SER, bad[i]);
        assert_int_equal(parse_body(body, &r), TR_E_KEYFILE_SYNTAX);
        assert_int_equal(r.line, 2);
    }
    /* 64 characters, and 65. */
    memset(id, 'c', TRI_CLUSTER_MAX);
    id[TRI_CLUSTER_MAX] = '\0';
    snprintf(body, sizeof body, HDR2 "cluster %s\n" SER, id);
    assert_int_equal(parse_body(body, &r), 0);
    assert_string_equal(r.info.cluster, id);
    strcat(id, "c");
    snprintf(body, sizeof body, HDR2 "cluster %s\n" SER, id);
    assert_int_equal(parse_body(body, &r), TR_E_KEYFILE_SYNTAX);
    assert_string_equal(r.why, "cluster id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -");
    /* Order and count. */
    assert_int_equal(parse_body(HDR2 SER "cluster a\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 3);
    assert_non_null(strstr(r.why, "after the serial line"));
    expect_body(HDR2 "cluster a\ncluster a\n" SER, TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " 1 " SECRET1 "\ncluster a\n", TR_E_KEYFILE_SYNTAX, 4);
    expect_body(HDR2 "cluster\n" SER, TR_E_KEYFILE_SYNTAX, 2);
    expect_body(HDR2 "cluster a b\n" SER, TR_E_KEYFILE_SYNTAX, 2);
    expect_body("cluster a\n" HDR2 SER, TR_E_KEYFILE_SYNTAX, 1); /* before the header */
    /* Comments and blank lines between header, cluster and serial. */
    assert_int_equal(parse_body(HDR2 "\n# x\ncluster a\n\n# y\n" SER, &r), 0);
    assert_int_equal(r.info.cluster_line, 4);
    assert_int_equal(r.info.serial_line, 7);
}

static void test_v2_key_lines(void **state)
{
    struct result r;
    (void)state;

    assert_int_equal(parse_body(HDR2 SER "key " NAME1 " pending " SECRET1 "\n"
                                "key " NAME2 " 5 " SECRET2 " revoked\n"
                                "key " NAME3 " pending " SECRET2 " revoked\n",
                                &r),
                     0);
    assert_int_equal(r.n, 3);
    assert_true(r.e[0].activation == TR_ACTIVATION_PENDING);
    assert_int_equal(r.e[0].flags, 0);
    assert_int_equal(r.e[1].activation, 5);
    assert_int_equal(r.e[1].flags, TRI_KEY_REVOKED);
    assert_true(r.e[2].activation == TR_ACTIVATION_PENDING);
    assert_int_equal(r.e[2].flags, TRI_KEY_REVOKED);

    expect_body(HDR2 SER "key " NAME1 " Pending " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " pendingx " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " 1 " SECRET1 " REVOKED\n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " 1 " SECRET1 " revoke\n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " 1 " SECRET1 " revoked x\n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " 1 " SECRET1 " revoked \n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " 1 " SECRET1 "  revoked\n", TR_E_KEYFILE_SYNTAX, 3);
    expect_body(HDR2 SER "key " NAME1 " revoked " SECRET1 "\n", TR_E_KEYFILE_SYNTAX, 3);
    assert_int_equal(parse_body(HDR2 SER "key " NAME1 " 1\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_non_null(strstr(r.why, "[revoked]"));
    /* Key faults apply to every kind of key. */
    expect_body(HDR2 SER "key " NAME1 " pending " SECRET1 "\nkey " NAME1 " 1 " SECRET2
                " revoked\n",
                TR_E_KEY_DUPLICATE, 4);
    expect_body(HDR2 SER "key " ZERO32 " pending " SECRET1 " revoked\n", TR_E_KEY_ZERO, 3);
}

static void test_v1_refuses_v2_lines(void **state)
{
    struct result r;
    (void)state;

    assert_int_equal(parse_body(HDR "cluster a\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 2);
    assert_string_equal(r.why, "cluster line: only in version 2 files");
    assert_int_equal(parse_body(HDR "serial 1\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 2);
    assert_string_equal(r.why, "serial line: only in version 2 files");
    assert_int_equal(parse_body(HDR "# c\nkey " NAME1 " pending " SECRET1 "\n", &r),
                     TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 3);
    assert_string_equal(r.why, "activation time: 'pending' only in version 2 files");
    assert_int_equal(parse_body(HDR "key " NAME1 " 1 " SECRET1 " revoked\n", &r),
                     TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 2);
    assert_string_equal(r.why, "key line: expected 'key <name> <activation> <secret>'");
    /* And a version-1 file says so. */
    assert_int_equal(parse_body(HDR "key " NAME1 " 1 " SECRET1 "\n", &r), 0);
    assert_int_equal(r.info.version, 1);
    assert_true(r.info.serial == 0);
    assert_string_equal(r.info.cluster, "");
    assert_int_equal(r.info.cluster_line, 0);
    assert_int_equal(r.info.serial_line, 0);
}

/* max_activation: a dated key after it is a key fault at its line. */
static void test_activation_horizon(void **state)
{
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    buf = with_checksum(HDR2 SER "key " NAME1 " 1000 " SECRET1 "\n"
                        "key " NAME2 " 1001 " SECRET2 "\n"
                        "key " NAME3 " pending " SECRET2 "\n",
                        &len);
    assert_int_equal(parse_full(buf, len, 1001, TR_RING_MAX_KEYS, &r), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(parse_full(buf, len, 1000, TR_RING_MAX_KEYS, &r), TR_E_KEY_ACTIVATION);
    assert_int_equal(r.line, 4);
    assert_non_null(strstr(r.why, "horizon"));
    assert_int_equal(parse_full(buf, len, 999, TR_RING_MAX_KEYS, &r), TR_E_KEY_ACTIVATION);
    assert_int_equal(r.line, 3); /* the first one in file order */
    /* Pending keys have no time to check. */
    assert_int_equal(parse_full(buf, len, INT64_MIN, TR_RING_MAX_KEYS, &r),
                     TR_E_KEY_ACTIVATION);
    assert_int_equal(r.line, 3);
    /* A corrupted file is reported as corrupted, not as a key fault. */
    {
        char *secret = strstr(buf, SECRET1);
        secret[5] = secret[5] == '0' ? '1' : '0'; /* still hex */
    }
    assert_int_equal(parse_full(buf, len, 999, TR_RING_MAX_KEYS, &r), TR_E_KEYFILE_INTEGRITY);
    free(buf);
    /* Version 1 too. */
    buf = with_checksum(HDR "key " NAME1 " 1000 " SECRET1 "\n", &len);
    assert_int_equal(parse_full(buf, len, 999, TR_RING_MAX_KEYS, &r), TR_E_KEY_ACTIVATION);
    assert_int_equal(r.line, 2);
    free(buf);
    buf = with_checksum(HDR2 SER "key " NAME3 " pending " SECRET2 "\n", &len);
    assert_int_equal(parse_full(buf, len, 0, TR_RING_MAX_KEYS, &r), 0);
    free(buf);
}

static void test_v2_every_truncation_and_bit_flip(void **state)
{
    struct tri_keyfile_entry e[4];
    struct tri_keyfile_info info = v2_info("edge", 12345);
    struct result r;
    size_t len;
    char *buf;
    (void)state;

    make_v2_entries(e, 4, 1);
    buf = format_info(&info, e, 4, &len);
    for (size_t l = 0; l < len; l++) {
        int rc = parse(buf, l, &r);
        assert_true(rc == TR_E_KEYFILE_INTEGRITY || rc == TR_E_KEYFILE_SYNTAX);
        assert_true(r.line >= 1 && r.line <= 9);
    }
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            buf[i] ^= (char)(1u << bit);
            assert_int_not_equal(parse(buf, len, &r), 0);
            buf[i] ^= (char)(1u << bit);
        }
    }
    assert_int_equal(parse(buf, len, &r), 0);
    free(buf);
}

static void test_cluster_valid(void **state)
{
    char id[TRI_CLUSTER_MAX + 2];
    (void)state;
    assert_false(tri_cluster_valid(NULL));
    assert_false(tri_cluster_valid(""));
    assert_true(tri_cluster_valid("a"));
    assert_true(tri_cluster_valid("Edge-EU_1.prod"));
    assert_false(tri_cluster_valid("a b"));
    assert_false(tri_cluster_valid("a\n"));
    assert_false(tri_cluster_valid("a/b"));
    memset(id, 'z', TRI_CLUSTER_MAX);
    id[TRI_CLUSTER_MAX] = '\0';
    assert_true(tri_cluster_valid(id));
    id[TRI_CLUSTER_MAX] = 'z';
    id[TRI_CLUSTER_MAX + 1] = '\0';
    assert_false(tri_cluster_valid(id));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_0),
        cmocka_unit_test(test_round_trip_1),
        cmocka_unit_test(test_round_trip_64),
        cmocka_unit_test(test_format_layout),
        cmocka_unit_test(test_format_limits),
        cmocka_unit_test(test_too_many_keys),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_data_after_checksum),
        cmocka_unit_test(test_wrong_checksum),
        cmocka_unit_test(test_missing_checksum),
        cmocka_unit_test(test_missing_header),
        cmocka_unit_test(test_unsupported_version),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_comments_and_blank_lines),
        cmocka_unit_test(test_whitespace_and_fields),
        cmocka_unit_test(test_bad_hex),
        cmocka_unit_test(test_hex_all_bytes),
        cmocka_unit_test(test_activation),
        cmocka_unit_test(test_zero_keys),
        cmocka_unit_test(test_duplicate_name),
        cmocka_unit_test(test_corruption_beats_key_faults),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_api_misuse),
        cmocka_unit_test(test_v2_round_trip),
        cmocka_unit_test(test_v2_layout),
        cmocka_unit_test(test_v2_format_refusals),
        cmocka_unit_test(test_v2_serial),
        cmocka_unit_test(test_v2_cluster),
        cmocka_unit_test(test_v2_key_lines),
        cmocka_unit_test(test_v1_refuses_v2_lines),
        cmocka_unit_test(test_activation_horizon),
        cmocka_unit_test(test_v2_every_truncation_and_bit_flip),
        cmocka_unit_test(test_cluster_valid),
    };
    return cmocka_run_group_tests_name(tu_backend()->name, tests, NULL, NULL);
}
