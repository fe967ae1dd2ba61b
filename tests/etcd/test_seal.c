/* The sealed key-set document and its helpers (backends/etcd/seal.c,
 * b64.c), without a store: round trips, every tampered byte refused, the
 * header bound to the ciphertext, KEK files. */
#define _GNU_SOURCE
#include "test_util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "seal.h"

static const char text[] =
    "ticketring-keys 2\ncluster c1\nserial 42\nkey 00 11 22\nchecksum sha256 00\n";

static struct tre_kek kek_of(const char *id, uint8_t fill)
{
    struct tre_kek k;
    memset(&k, 0, sizeof k);
    snprintf(k.id, sizeof k.id, "%s", id);
    memset(k.key, fill, sizeof k.key);
    return k;
}

static void test_b64(void **state)
{
    static const struct {
        const char *raw, *enc;
    } v[] = {{"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},
             {"foo", "Zm9v"},    {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
             {"foobar", "Zm9vYmFy"}};
    uint8_t out[16];
    char enc[16];
    size_t n;
    (void)state;

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        tre_b64_encode(enc, (const uint8_t *)v[i].raw, strlen(v[i].raw));
        assert_string_equal(enc, v[i].enc);
        assert_int_equal(tre_b64_len(strlen(v[i].raw)), strlen(v[i].enc));
        assert_int_equal(tre_b64_decode(out, sizeof out, &n, v[i].enc, strlen(v[i].enc)), 0);
        assert_int_equal(n, strlen(v[i].raw));
        assert_memory_equal(out, v[i].raw, n);
    }
    /* Malformed: length, alphabet, padding in the middle, too small. */
    assert_int_equal(tre_b64_decode(out, sizeof out, &n, "Zg=", 3), -1);
    assert_int_equal(tre_b64_decode(out, sizeof out, &n, "Z!==", 4), -1);
    assert_int_equal(tre_b64_decode(out, sizeof out, &n, "Zg==Zg==", 8), -1);
    assert_int_equal(tre_b64_decode(out, sizeof out, &n, "A===", 4), -1);
    assert_int_equal(tre_b64_decode(out, 2, &n, "Zm9v", 4), -1);
    /* Every byte value round-trips. */
    {
        uint8_t all[256], back[256];
        char e[(256 + 2) / 3 * 4 + 1];
        for (int i = 0; i < 256; i++)
            all[i] = (uint8_t)i;
        tre_b64_encode(e, all, 256);
        assert_int_equal(tre_b64_decode(back, sizeof back, &n, e, strlen(e)), 0);
        assert_int_equal(n, 256);
        assert_memory_equal(all, back, 256);
    }
}

static void test_round_trip(void **state)
{
    struct tre_kek k = kek_of("k1", 0x42);
    struct tre_sealed_header h;
    uint8_t *doc = NULL;
    size_t len = 0, tl = 0;
    char *plain = NULL;
    (void)state;

    assert_int_equal(tre_seal(&k, "c1", 42, text, strlen(text), &doc, &len), 0);
    /* The plaintext never shows in the document. */
    assert_null(memmem(doc, len, "checksum", 8));
    assert_int_equal(tre_sealed_parse(doc, len, &h), 0);
    assert_string_equal(h.kek_id, "k1");
    assert_string_equal(h.cluster, "c1");
    assert_true(h.serial == 42);
    assert_int_equal(tre_open(&k, doc, len, &h, &plain, &tl), 0);
    assert_int_equal(tl, strlen(text));
    assert_memory_equal(plain, text, tl);
    free(plain);
    /* Two seals of the same text differ (fresh nonce). */
    {
        uint8_t *doc2 = NULL;
        size_t len2 = 0;
        assert_int_equal(tre_seal(&k, "c1", 42, text, strlen(text), &doc2, &len2), 0);
        assert_int_equal(len, len2);
        assert_memory_not_equal(doc, doc2, len);
        free(doc2);
    }
    free(doc);
}

/* Every byte changed: either the header no longer parses, or the seal no
 * longer opens. No change goes unnoticed. */
static void test_every_byte(void **state)
{
    struct tre_kek k = kek_of("k1", 0x42);
    struct tre_sealed_header h;
    uint8_t *doc = NULL;
    size_t len = 0, tl;
    char *plain;
    (void)state;

    assert_int_equal(tre_seal(&k, "c1", 42, text, strlen(text), &doc, &len), 0);
    for (size_t i = 0; i + 1 < len; i++) { /* the final newline is optional */
        for (int bit = 0; bit < 8; bit += 3) {
            int rc;
            doc[i] ^= (uint8_t)(1u << bit);
            plain = NULL;
            rc = tre_sealed_parse(doc, len, &h);
            if (rc == 0 && strcmp(h.kek_id, "k1") == 0)
                rc = tre_open(&k, doc, len, &h, &plain, &tl);
            else if (rc == 0)
                rc = -1; /* another KEK id: not even tried */
            doc[i] ^= (uint8_t)(1u << bit);
            assert_true(rc != 0);
            assert_null(plain);
        }
    }
    /* Truncated anywhere. */
    for (size_t n = 0; n + 1 < len; n++) {
        plain = NULL;
        if (tre_sealed_parse(doc, n, &h) == 0)
            assert_int_equal(tre_open(&k, doc, n, &h, &plain, &tl), TR_E_SEALED);
        assert_null(plain);
    }
    free(doc);
}

/* The header is authenticated: the same ciphertext under a rewritten
 * serial or cluster does not open; another key under the same id neither. */
static void test_header_bound(void **state)
{
    struct tre_kek k = kek_of("k1", 0x42), other = kek_of("k1", 0x43);
    struct tre_sealed_header h;
    uint8_t *doc = NULL, *forged;
    size_t len = 0, tl;
    char *plain = NULL;
    const char *nl;
    static const char *const headers[] = {"TRSEALED1 k1 c1 43", "TRSEALED1 k1 c2 42",
                                          "TRSEALED1 k2 c1 42"};
    (void)state;

    assert_int_equal(tre_seal(&k, "c1", 42, text, strlen(text), &doc, &len), 0);
    nl = memchr(doc, '\n', len);
    for (size_t i = 0; i < 3; i++) {
        size_t hl = strlen(headers[i]), body = len - (size_t)((const uint8_t *)nl - doc);
        forged = malloc(hl + body);
        memcpy(forged, headers[i], hl);
        memcpy(forged + hl, nl, body);
        assert_int_equal(tre_sealed_parse(forged, hl + body, &h), 0);
        assert_int_equal(tre_open(&k, forged, hl + body, &h, &plain, &tl), TR_E_SEALED);
        free(forged);
    }
    assert_int_equal(tre_sealed_parse(doc, len, &h), 0);
    assert_int_equal(tre_open(&other, doc, len, &h, &plain, &tl), TR_E_SEALED);
    assert_null(plain);
    free(doc);
}

static void test_parse_refuses(void **state)
{
    static const char *const bad[] = {
        "", "TRSEALED1 k1 c1 42", "TRSEALED2 k1 c1 42\nAAAA\n", "TRSEALED1 k1 c1\nAAAA\n",
        "TRSEALED1 k1 c1 042\nAAAA\n", "TRSEALED1 k1 c1 0\nAAAA\n",
        "TRSEALED1 k/1 c1 42\nAAAA\n", "TRSEALED1 k1 c1 42 x\nAAAA\n",
        "TRSEALED1 k1  c1 42\nAAAA\n", "TRSEALED1 k1 c1 18446744073709551616\nAAAA\n"};
    struct tre_sealed_header h;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(tre_sealed_parse((const uint8_t *)bad[i], strlen(bad[i]), &h),
                         TR_E_SEALED);
}

static void test_text_header(void **state)
{
    char cluster[TRE_ID_MAX + 1];
    uint64_t serial;
    static const char v1[] = "ticketring-keys 1\nkey 00 1 2\nchecksum sha256 00\n";
    static const char bad[] = "ticketring-keys 2\ncluster c/1\nserial 1\n";
    (void)state;

    assert_int_equal(tre_text_header(text, strlen(text), cluster, &serial), 0);
    assert_string_equal(cluster, "c1");
    assert_true(serial == 42);
    assert_int_equal(tre_text_header(v1, strlen(v1), cluster, &serial), 0);
    assert_string_equal(cluster, "");
    assert_true(serial == 0);
    assert_int_equal(tre_text_header(bad, strlen(bad), cluster, &serial), TR_E_KEYFILE_SYNTAX);
}

static char *kek_file(const char *content, mode_t mode)
{
    char *path = tu_write_temp(content, strlen(content));
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void test_kek_file(void **state)
{
    static const char good[] =
        "prod-2026 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
    static const char *const bad[] = {
        "prod 0011\n",
        "prod 00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\n",
        "p/d 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
        "prod 0000000000000000000000000000000000000000000000000000000000000000\n",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n", ""};
    struct tre_kek k;
    char *p;
    (void)state;

    p = kek_file(good, 0600);
    assert_int_equal(tre_kek_read(p, &k), 0);
    assert_string_equal(k.id, "prod-2026");
    assert_int_equal(k.key[0], 0x00);
    assert_int_equal(k.key[31], 0xff);
    /* Readable by the group: refused, whatever it holds. */
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(tre_kek_read(p, &k), TR_E_KEYFILE_MODE);
    unlink(p);
    free(p);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = kek_file(bad[i], 0600);
        assert_int_equal(tre_kek_read(p, &k), TR_E_KEYFILE_SYNTAX);
        unlink(p);
        free(p);
    }
    assert_int_equal(tre_kek_read("/nonexistent/kek", &k), TR_E_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64),          cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_byte),   cmocka_unit_test(test_header_bound),
        cmocka_unit_test(test_parse_refuses), cmocka_unit_test(test_text_header),
        cmocka_unit_test(test_kek_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
