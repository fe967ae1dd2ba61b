/* Key files: lib/keyfile.c against docs/key-file-format.md. */
#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    }
}

/* A formatted file in a malloc'd buffer (NUL-terminated for strstr). */
static char *format_entries(const struct tri_keyfile_entry *e, uint32_t n, size_t *len)
{
    size_t cap = tri_keyfile_size(n);
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    assert_int_equal(tri_keyfile_format(tu_backend(), e, n, buf, cap, len), 0);
    assert_true(*len <= cap);
    buf[*len] = '\0';
    return buf;
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
    struct tri_keyfile_entry e[MAXK];
};

static int parse_max(const char *buf, size_t len, uint32_t max, struct result *r)
{
    memset(r, 0xAB, sizeof *r);
    r->rc = tri_keyfile_parse(tu_backend(), buf, len, r->e, max, &r->n, &r->line, &r->why);
    if (r->rc != 0) {
        /* Failure: a reason, no keys, and `out` wiped. */
        assert_non_null(r->why);
        assert_int_equal(r->n, 0);
        assert_true(tri_ct_is_zero(r->e, (max < TR_RING_MAX_KEYS ? max : TR_RING_MAX_KEYS) * sizeof r->e[0]));
    } else {
        assert_null(r->why);
        assert_int_equal(r->line, 0);
    }
    return r->rc;
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
    assert_int_equal(tri_keyfile_format(tu_backend(), e, 1, buf, tri_keyfile_size(1) - 1, &len),
                     TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, 0);
    e[0].activation = -1;
    assert_int_equal(tri_keyfile_format(tu_backend(), e, 1, buf, sizeof buf, &len), TR_E_INVAL);
    e[0].activation = (INT64_C(1) << 62) + 1;
    assert_int_equal(tri_keyfile_format(tu_backend(), e, 1, buf, sizeof buf, &len), TR_E_INVAL);
    assert_int_equal(tri_keyfile_format(NULL, e, 1, buf, sizeof buf, &len), TR_E_INVAL);
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

static void test_version_2(void **state)
{
    struct result r;
    (void)state;

    assert_int_equal(parse_body("# future\nticketring-keys 2\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(r.line, 2);
    assert_string_equal(r.why, "unsupported version");
    assert_int_equal(parse_body("ticketring-keys 2 cluster=x\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_string_equal(r.why, "unsupported version");
    assert_int_equal(parse_body("ticketring-keys 01\n", &r), TR_E_KEYFILE_SYNTAX);
    assert_string_equal(r.why, "unsupported version");
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

    assert_int_equal(tri_keyfile_parse(NULL, "", 0, r.e, 1, &n, &line, &why), TR_E_INVAL);
    assert_int_equal(n, 0);
    assert_int_equal(tri_keyfile_parse(tu_backend(), NULL, 5, r.e, 1, &n, &line, &why),
                     TR_E_INVAL);
    assert_int_equal(tri_keyfile_parse(tu_backend(), "", 0, r.e, 1, NULL, &line, &why),
                     TR_E_INVAL);
    /* err_line and why may be NULL. */
    assert_int_equal(tri_keyfile_parse(tu_backend(), "x", 1, r.e, 1, &n, NULL, NULL),
                     TR_E_KEYFILE_INTEGRITY);
}

/* ---- files --------------------------------------------------------------- */

static char *temp_dir(void)
{
    char tmpl[] = "/tmp/tr-keyfile-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return strdup(tmpl);
}

/* Number of entries in dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, ".."))
            n++;
    }
    closedir(d);
    return n;
}

static void test_read_missing(void **state)
{
    char buf[64];
    size_t len = 5;
    (void)state;
    assert_int_equal(tri_keyfile_read("/nonexistent/tr-keys", buf, sizeof buf, &len), TR_E_IO);
    assert_int_equal(len, 0);
}

static void test_read_special(void **state)
{
    char *dir = temp_dir();
    char path[512], link[512];
    char *buf = malloc(TRI_KEYFILE_MAX_BYTES + 2);
    size_t len;
    FILE *f;
    (void)state;
    assert_non_null(buf);

    /* A directory and a FIFO (opened without blocking) are refused. */
    assert_int_equal(tri_keyfile_read(dir, buf, TRI_KEYFILE_MAX_BYTES, &len), TR_E_IO);
    snprintf(path, sizeof path, "%s/fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_int_equal(tri_keyfile_read(path, buf, TRI_KEYFILE_MAX_BYTES, &len), TR_E_IO);
    unlink(path);

    /* Exactly the cap is read; one byte more is a content fault. */
    snprintf(path, sizeof path, "%s/big", dir);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < TRI_KEYFILE_MAX_BYTES; i++)
        fputc('#', f);
    fclose(f);
    assert_int_equal(tri_keyfile_read(path, buf, TRI_KEYFILE_MAX_BYTES + 2, &len), 0);
    assert_int_equal(len, TRI_KEYFILE_MAX_BYTES);
    assert_int_equal(tri_keyfile_read(path, buf, 100, &len), TR_E_BUFFER_TOO_SMALL);
    f = fopen(path, "ab");
    assert_non_null(f);
    fputc('#', f);
    fclose(f);
    assert_int_equal(tri_keyfile_read(path, buf, TRI_KEYFILE_MAX_BYTES + 2, &len),
                     TR_E_KEYFILE_SYNTAX);

    /* Symlinks are followed (Kubernetes Secret volumes). */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("hello\n", f);
    fclose(f);
    snprintf(link, sizeof link, "%s/link", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(tri_keyfile_read(link, buf, 100, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(buf, "hello\n", 6);

    /* Empty file. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(tri_keyfile_read(path, buf, 100, &len), 0);
    assert_int_equal(len, 0);

    unlink(link);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
    free(buf);
}

static void test_write_read_back(void **state)
{
    struct tri_keyfile_entry e[5];
    struct result r;
    char *dir = temp_dir();
    char path[512];
    char *buf, *back = malloc(TRI_KEYFILE_MAX_BYTES);
    size_t len, blen;
    struct stat st;
    mode_t old;
    FILE *f;
    (void)state;
    assert_non_null(back);

    make_entries(e, 5, 9);
    buf = format_entries(e, 5, &len);
    snprintf(path, sizeof path, "%s/tickets.keys", dir);

    /* Replace an existing world-readable file under a permissive umask. */
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs("old\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0644), 0);
    old = umask(022);
    assert_int_equal(tri_keyfile_write(path, buf, len), 0);
    umask(old);

    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(tri_keyfile_read(path, back, TRI_KEYFILE_MAX_BYTES, &blen), 0);
    assert_int_equal(blen, len);
    assert_memory_equal(back, buf, len);
    assert_int_equal(parse(back, blen, &r), 0);
    assert_int_equal(r.n, 5);
    assert_int_equal(dir_entries(dir), 1); /* no temporary file left */

    /* A umask that takes the owner's write bit still yields 0600. */
    old = umask(0277);
    assert_int_equal(tri_keyfile_write(path, buf, len), 0);
    umask(old);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(dir_entries(dir), 1);

    /* A relative path in the current directory. */
    {
        char cwd[512];
        assert_non_null(getcwd(cwd, sizeof cwd));
        assert_int_equal(chdir(dir), 0);
        assert_int_equal(tri_keyfile_write("rel.keys", buf, len), 0);
        assert_int_equal(chdir(cwd), 0);
        snprintf(path, sizeof path, "%s/rel.keys", dir);
        assert_int_equal(tri_keyfile_read(path, back, TRI_KEYFILE_MAX_BYTES, &blen), 0);
        assert_memory_equal(back, buf, len);
        unlink(path);
    }

    snprintf(path, sizeof path, "%s/tickets.keys", dir);
    unlink(path);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
    free(buf);
    free(back);
}

static void test_write_failures(void **state)
{
    char *dir = temp_dir();
    char path[512];
    (void)state;

    /* Missing directory. */
    snprintf(path, sizeof path, "%s/missing/tickets.keys", dir);
    assert_int_equal(tri_keyfile_write(path, "x\n", 2), TR_E_IO);
    assert_int_equal(dir_entries(dir), 0);

    /* The temporary file is created, then rename() fails (the target is a
     * non-empty directory): it must be gone. */
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub/f", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(tri_keyfile_write(path, "x\n", 2), TR_E_IO);
    assert_int_equal(dir_entries(dir), 1);
    snprintf(path, sizeof path, "%s/sub/f", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);

    /* A path ending in '/' names no file. */
    snprintf(path, sizeof path, "%s/", dir);
    assert_int_equal(tri_keyfile_write(path, "x\n", 2), TR_E_IO);
    assert_int_equal(dir_entries(dir), 0);

    assert_int_equal(rmdir(dir), 0);
    free(dir);
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
        cmocka_unit_test(test_version_2),
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
        cmocka_unit_test(test_read_missing),
        cmocka_unit_test(test_read_special),
        cmocka_unit_test(test_write_read_back),
        cmocka_unit_test(test_write_failures),
    };
    return cmocka_run_group_tests_name(tu_backend()->name, tests, NULL, NULL);
}
