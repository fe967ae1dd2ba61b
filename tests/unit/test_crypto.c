/*
 * The crypto backend tables (backends/{openssl,mbedtls}/crypto_*.c): known
 * answers, the AEAD's split head/tail interface, refusal of every kind of
 * tampering, random bytes (also across fork), concurrent use, and sealing
 * with one backend then opening with another.
 *
 * Runs once per backend (TR_TEST_BACKEND); the cross-backend test uses every
 * backend built into the binary.
 */
#include "test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto.h"

static void unhex(const char *h, uint8_t *out, size_t n)
{
    assert_int_equal(strlen(h), 2 * n);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* ---- The table ------------------------------------------------------------ */

static void test_table(void **state)
{
    const tr_crypto *c = tu_backend();
    const char *want = getenv("TR_TEST_BACKEND");
    (void)state;
    assert_non_null(c);
    assert_int_equal(c->abi, TRI_CRYPTO_ABI);
    assert_non_null(c->name);
    if (want != NULL && want[0] != '\0')
        assert_string_equal(c->name, want);
    assert_ptr_equal(tu_backend_named(c->name), c);
    assert_non_null(c->random);
    assert_non_null(c->sha256);
    assert_non_null(c->hmac_sha256);
    assert_non_null(c->aead_seal);
    assert_non_null(c->aead_open);
}

/* ---- SHA-256 (FIPS 180-2 appendix B) ------------------------------------------ */

static void check_sha256(const char *msg, const char *want_hex)
{
    uint8_t want[TRI_SHA256_BYTES], got[TRI_SHA256_BYTES];
    unhex(want_hex, want, sizeof(want));
    memset(got, 0xAA, sizeof(got));
    assert_int_equal(tu_backend()->sha256((const uint8_t *)msg, strlen(msg), got), 0);
    assert_memory_equal(got, want, sizeof(want));
}

static void test_sha256_kat(void **state)
{
    uint8_t want[TRI_SHA256_BYTES], got[TRI_SHA256_BYTES];
    (void)state;
    check_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    check_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* The empty message may also come as a NULL pointer. */
    unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want,
          sizeof(want));
    assert_int_equal(tu_backend()->sha256(NULL, 0, got), 0);
    assert_memory_equal(got, want, sizeof(want));
    assert_int_equal(tu_backend()->sha256(NULL, 1, got), TR_E_INVAL);
}

/* ---- HMAC-SHA256 (RFC 4231) --------------------------------------------------- */

static void check_hmac(const uint8_t *key, size_t key_len, const char *msg,
                       const char *want_hex)
{
    uint8_t want[TRI_SHA256_BYTES], got[TRI_SHA256_BYTES];
    unhex(want_hex, want, sizeof(want));
    memset(got, 0xAA, sizeof(got));
    assert_int_equal(tu_backend()->hmac_sha256(key, key_len, (const uint8_t *)msg,
                                               strlen(msg), got), 0);
    assert_memory_equal(got, want, sizeof(want));
}

static void test_hmac_rfc4231(void **state)
{
    uint8_t key[131];
    (void)state;
    /* Test case 1 */
    memset(key, 0x0b, 20);
    check_hmac(key, 20, "Hi There",
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Test case 2: a key shorter than the output */
    check_hmac((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 6: a 131-byte key, longer than the block, is hashed first */
    memset(key, 0xaa, sizeof(key));
    check_hmac(key, sizeof(key), "Test Using Larger Than Block-Size Key - Hash Key First",
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* Test case 7: long key and data longer than the block */
    check_hmac(key, sizeof(key),
               "This is a test using a larger than block-size key and a larger than "
               "block-size data. The key needs to be hashed before being used by the "
               "HMAC algorithm.",
               "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* Keys change from call to call: nothing of one key may leak into the next
 * (the OpenSSL backend duplicates a shared template per call). */
static void test_hmac_key_changes(void **state)
{
    const tr_crypto *c = tu_backend();
    uint8_t key1[20], first[32], second[32], again[32];
    (void)state;
    memset(key1, 0x0b, sizeof(key1));
    assert_int_equal(c->hmac_sha256(key1, sizeof(key1), (const uint8_t *)"Hi There", 8, first), 0);
    assert_int_equal(c->hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)"Hi There", 8,
                                    second), 0);
    assert_memory_not_equal(first, second, 32);
    assert_int_equal(c->hmac_sha256(key1, sizeof(key1), (const uint8_t *)"Hi There", 8, again), 0);
    assert_memory_equal(first, again, 32);
    /* An empty key and empty data are valid HMAC inputs, NULL or not. */
    assert_int_equal(c->hmac_sha256(NULL, 0, NULL, 0, first), 0);
    assert_int_equal(c->hmac_sha256((const uint8_t *)"", 0, (const uint8_t *)"", 0, again), 0);
    assert_memory_equal(first, again, 32);
    unhex("b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad", second, 32);
    assert_memory_equal(first, second, 32);
    assert_int_equal(c->hmac_sha256(NULL, 1, NULL, 0, first), TR_E_INVAL);
}

/* ---- AES-256-GCM known answers ---------------------------------------------- */

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16:
 * 256-bit key, 20 bytes of AAD, 60 bytes of plaintext, 96-bit IV. */
#define TC16_KEY "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define TC16_IV "cafebabefacedbaddecaf888"
#define TC16_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define TC16_PT                                                                  \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"           \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define TC16_CT                                                                  \
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"           \
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
#define TC16_TAG "76fc6ece0f4e1768cddf8853bb2d551b"

struct gcm_vec {
    uint8_t key[32], iv[12], aad[20], pt[60], ct[60], tag[16];
};

static void tc16(struct gcm_vec *v)
{
    unhex(TC16_KEY, v->key, sizeof(v->key));
    unhex(TC16_IV, v->iv, sizeof(v->iv));
    unhex(TC16_AAD, v->aad, sizeof(v->aad));
    unhex(TC16_PT, v->pt, sizeof(v->pt));
    unhex(TC16_CT, v->ct, sizeof(v->ct));
    unhex(TC16_TAG, v->tag, sizeof(v->tag));
}

/* Every way of splitting the 60 bytes into a 16-multiple head and a tail
 * gives the same ciphertext and tag, and opens into the same split. */
static void test_gcm_tc16(void **state)
{
    const tr_crypto *c = tu_backend();
    struct gcm_vec v;
    (void)state;
    tc16(&v);
    for (size_t head = 0; head <= 48; head += 16) {
        uint8_t ct[60], tag[16], out_head[48], out_tail[60];
        memset(ct, 0xAA, sizeof(ct));
        assert_int_equal(c->aead_seal(v.key, v.iv, v.aad, sizeof(v.aad), v.pt, head,
                                      v.pt + head, sizeof(v.pt) - head, ct, tag), 0);
        assert_memory_equal(ct, v.ct, sizeof(ct));
        assert_memory_equal(tag, v.tag, sizeof(tag));

        memset(out_head, 0xAA, sizeof(out_head));
        memset(out_tail, 0xAA, sizeof(out_tail));
        assert_int_equal(c->aead_open(v.key, v.iv, v.aad, sizeof(v.aad), v.ct, sizeof(v.ct),
                                      v.tag, out_head, head, out_tail), 0);
        if (head > 0)
            assert_memory_equal(out_head, v.pt, head);
        assert_memory_equal(out_tail, v.pt + head, sizeof(v.pt) - head);
        /* Nothing past the tail is written. */
        if (head > 0)
            assert_int_equal(out_tail[sizeof(v.pt) - head], 0xAA);
    }
}

/* GCM spec test cases 13 (empty plaintext: the tag alone) and 14 (one zero
 * block), both under the all-zero 256-bit key and IV, without AAD. */
static void test_gcm_tc13_tc14(void **state)
{
    const tr_crypto *c = tu_backend();
    uint8_t key[32] = {0}, iv[12] = {0}, pt[16] = {0}, ct[16], tag[16], want[16], back[16];
    (void)state;
    assert_int_equal(c->aead_seal(key, iv, NULL, 0, NULL, 0, NULL, 0, NULL, tag), 0);
    unhex("530f8afbc74536b9a963b4f1c4cb738b", want, 16);
    assert_memory_equal(tag, want, 16);
    assert_int_equal(c->aead_open(key, iv, NULL, 0, NULL, 0, tag, NULL, 0, NULL), 0);

    assert_int_equal(c->aead_seal(key, iv, NULL, 0, pt, 16, NULL, 0, ct, tag), 0);
    unhex("cea7403d4d606b6e074ec5d3baf39d18", want, 16);
    assert_memory_equal(ct, want, 16);
    unhex("d0d1c8a799996bf0265b98b5d48ab919", want, 16);
    assert_memory_equal(tag, want, 16);
    assert_int_equal(c->aead_open(key, iv, NULL, 0, ct, 16, tag, NULL, 0, back), 0);
    assert_memory_equal(back, pt, 16);
}

/* ---- AEAD behaviour ------------------------------------------------------------ */

/* Seal in place (out == head, tail right after it), then open in place. */
static void test_aead_in_place(void **state)
{
    const tr_crypto *c = tu_backend();
    uint8_t key[32], nonce[12], aad[45], buf[64 + 256], orig[sizeof(buf)], tag[16];
    (void)state;
    assert_int_equal(c->random(key, sizeof(key)), 0);
    assert_int_equal(c->random(nonce, sizeof(nonce)), 0);
    for (size_t i = 0; i < sizeof(aad); i++)
        aad[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    memcpy(orig, buf, sizeof(buf));

    assert_int_equal(c->aead_seal(key, nonce, aad, sizeof(aad), buf, 64, buf + 64, 256, buf,
                                  tag), 0);
    assert_memory_not_equal(buf, orig, sizeof(buf));
    assert_int_equal(c->aead_open(key, nonce, aad, sizeof(aad), buf, sizeof(buf), tag, buf, 64,
                                  buf + 64), 0);
    assert_memory_equal(buf, orig, sizeof(buf));

    /* In place with a failing tag: the buffer ends up zeroed. */
    assert_int_equal(c->aead_seal(key, nonce, aad, sizeof(aad), buf, 64, buf + 64, 256, buf,
                                  tag), 0);
    tag[0] ^= 1;
    assert_int_equal(c->aead_open(key, nonce, aad, sizeof(aad), buf, sizeof(buf), tag, buf, 64,
                                  buf + 64), TR_E_TICKET_AUTH);
    assert_true(all_zero(buf, sizeof(buf)));
}

enum flip { FLIP_NONE, FLIP_CT_HEAD, FLIP_CT_TAIL, FLIP_TAG, FLIP_AAD, FLIP_NONCE, FLIP_KEY };

/* Seal 64 + 200 bytes, flip one bit somewhere, open into outputs filled
 * with 0xAA: every flip is TR_E_TICKET_AUTH with both outputs zeroed. */
static void tamper(enum flip where, size_t bit)
{
    const tr_crypto *c = tu_backend();
    uint8_t key[32], nonce[12], aad[61], pt[264], ct[264], tag[16];
    uint8_t out_head[64], out_tail[200];
    int rc;

    for (size_t i = 0; i < sizeof(key); i++)
        key[i] = (uint8_t)(0x40 + i);
    for (size_t i = 0; i < sizeof(nonce); i++)
        nonce[i] = (uint8_t)(0x90 + i);
    for (size_t i = 0; i < sizeof(aad); i++)
        aad[i] = (uint8_t)(i ^ 0x5a);
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (uint8_t)(i * 13);
    assert_int_equal(c->aead_seal(key, nonce, aad, sizeof(aad), pt, 64, pt + 64, 200, ct, tag),
                     0);
    switch (where) {
    case FLIP_CT_HEAD: ct[bit / 8 % 64] ^= (uint8_t)(1u << (bit % 8)); break;
    case FLIP_CT_TAIL: ct[64 + bit / 8 % 200] ^= (uint8_t)(1u << (bit % 8)); break;
    case FLIP_TAG: tag[bit / 8 % 16] ^= (uint8_t)(1u << (bit % 8)); break;
    case FLIP_AAD: aad[bit / 8 % sizeof(aad)] ^= (uint8_t)(1u << (bit % 8)); break;
    case FLIP_NONCE: nonce[bit / 8 % 12] ^= (uint8_t)(1u << (bit % 8)); break;
    case FLIP_KEY: key[bit / 8 % 32] ^= (uint8_t)(1u << (bit % 8)); break;
    case FLIP_NONE: break;
    default: fail();
    }
    memset(out_head, 0xAA, sizeof(out_head));
    memset(out_tail, 0xAA, sizeof(out_tail));
    rc = c->aead_open(key, nonce, aad, sizeof(aad), ct, sizeof(ct), tag, out_head, 64, out_tail);
    if (where == FLIP_NONE) {
        assert_int_equal(rc, 0);
        assert_memory_equal(out_head, pt, 64);
        assert_memory_equal(out_tail, pt + 64, 200);
    } else {
        assert_int_equal(rc, TR_E_TICKET_AUTH);
        assert_true(all_zero(out_head, sizeof(out_head)));
        assert_true(all_zero(out_tail, sizeof(out_tail)));
    }
}

static void test_aead_tamper(void **state)
{
    static const size_t bits[] = {0, 7, 77, 127, 511};
    (void)state;
    tamper(FLIP_NONE, 0);
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        tamper(FLIP_CT_HEAD, bits[i]);
        tamper(FLIP_CT_TAIL, bits[i]);
        tamper(FLIP_TAG, bits[i]);
        tamper(FLIP_AAD, bits[i]);
        tamper(FLIP_NONCE, bits[i]);
        tamper(FLIP_KEY, bits[i]);
    }
}

/* Zero-length plaintext (AAD only): the tag still authenticates the AAD. */
static void test_aead_empty_plaintext(void **state)
{
    const tr_crypto *c = tu_backend();
    uint8_t key[32] = {1}, nonce[12] = {2}, aad[49], tag[16];
    uint8_t dummy_head[16], dummy_tail[1];
    (void)state;
    memset(aad, 0x33, sizeof(aad));
    assert_int_equal(c->aead_seal(key, nonce, aad, sizeof(aad), NULL, 0, NULL, 0, NULL, tag), 0);
    assert_int_equal(c->aead_open(key, nonce, aad, sizeof(aad), NULL, 0, tag, NULL, 0, NULL), 0);
    /* Non-NULL buffers with zero lengths are fine too and stay untouched. */
    dummy_tail[0] = 0xAA;
    assert_int_equal(c->aead_seal(key, nonce, aad, sizeof(aad), dummy_head, 0, dummy_tail, 0,
                                  dummy_tail, tag), 0);
    assert_int_equal(c->aead_open(key, nonce, aad, sizeof(aad), dummy_head, 0, tag, dummy_head,
                                  0, dummy_tail), 0);
    assert_int_equal(dummy_tail[0], 0xAA);
    aad[48] ^= 0x80;
    assert_int_equal(c->aead_open(key, nonce, aad, sizeof(aad), NULL, 0, tag, NULL, 0, NULL),
                     TR_E_TICKET_AUTH);
    aad[48] ^= 0x80;
    tag[15] ^= 1;
    assert_int_equal(c->aead_open(key, nonce, aad, sizeof(aad), NULL, 0, tag, NULL, 0, NULL),
                     TR_E_TICKET_AUTH);
}

/* A head only, a tail only, and a tail shorter than a block. */
static void test_aead_shapes(void **state)
{
    const tr_crypto *c = tu_backend();
    static const size_t shapes[][2] = {{16, 0}, {0, 1}, {0, 15}, {0, 17}, {32, 1}, {64, 255},
                                       {64, 16384}};
    uint8_t key[32] = {9}, nonce[12] = {8}, tag[16];
    uint8_t *pt = malloc(64 + 16384), *ct = malloc(64 + 16384), *back = malloc(64 + 16384);
    (void)state;
    assert_non_null(pt);
    assert_non_null(ct);
    assert_non_null(back);
    for (size_t i = 0; i < 64 + 16384; i++)
        pt[i] = (uint8_t)(i * 5 + 1);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        size_t head = shapes[s][0], tail = shapes[s][1];
        assert_int_equal(c->aead_seal(key, nonce, NULL, 0, pt, head, pt + head, tail, ct, tag),
                         0);
        memset(back, 0, head + tail);
        assert_int_equal(c->aead_open(key, nonce, NULL, 0, ct, head + tail, tag, back, head,
                                      back + head), 0);
        assert_memory_equal(back, pt, head + tail);
    }
    free(pt);
    free(ct);
    free(back);
}

static void test_aead_bad_arguments(void **state)
{
    const tr_crypto *c = tu_backend();
    uint8_t key[32] = {0}, nonce[12] = {0}, buf[48] = {0}, out[48], tag[16];
    (void)state;
    /* head_len must be a multiple of 16 (mbedTLS 2.28's streaming GCM needs
     * it; both backends refuse it alike). */
    assert_int_equal(c->aead_seal(key, nonce, NULL, 0, buf, 8, buf + 8, 8, out, tag),
                     TR_E_INVAL);
    assert_int_equal(c->aead_seal(key, nonce, NULL, 0, buf, 16, buf + 16, 16, out, tag), 0);
    assert_int_equal(c->aead_open(key, nonce, NULL, 0, out, 32, tag, buf, 8, buf + 8),
                     TR_E_INVAL);
    /* head longer than the ciphertext */
    assert_int_equal(c->aead_open(key, nonce, NULL, 0, out, 16, tag, buf, 32, buf + 32),
                     TR_E_INVAL);
    /* NULL where a length says there are bytes */
    assert_int_equal(c->aead_seal(NULL, nonce, NULL, 0, buf, 16, NULL, 0, out, tag), TR_E_INVAL);
    assert_int_equal(c->aead_seal(key, NULL, NULL, 0, buf, 16, NULL, 0, out, tag), TR_E_INVAL);
    assert_int_equal(c->aead_seal(key, nonce, NULL, 3, buf, 16, NULL, 0, out, tag), TR_E_INVAL);
    assert_int_equal(c->aead_seal(key, nonce, NULL, 0, buf, 16, NULL, 0, NULL, tag), TR_E_INVAL);
    assert_int_equal(c->aead_seal(key, nonce, NULL, 0, buf, 16, NULL, 0, out, NULL), TR_E_INVAL);
    assert_int_equal(c->aead_open(key, nonce, NULL, 0, out, 32, NULL, buf, 16, buf + 16),
                     TR_E_INVAL);
    assert_int_equal(c->aead_open(key, nonce, NULL, 0, out, 32, tag, buf, 16, NULL), TR_E_INVAL);
}

/* ---- random -------------------------------------------------------------------- */

static void test_random(void **state)
{
    const tr_crypto *c = tu_backend();
    uint8_t a[32], b[32], big[4096];
    (void)state;
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    assert_int_equal(c->random(a, sizeof(a)), 0);
    assert_int_equal(c->random(b, sizeof(b)), 0);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_false(all_zero(a, sizeof(a)));
    assert_int_equal(c->random(NULL, 0), 0);
    assert_int_equal(c->random(NULL, 1), TR_E_INVAL);
    /* Larger than one getentropy() call and than getrandom()'s 256-byte
     * uninterruptible size. */
    memset(big, 0, sizeof(big));
    assert_int_equal(c->random(big, sizeof(big)), 0);
    assert_false(all_zero(big + sizeof(big) - 32, 32));
}

/* A forked child must not produce the bytes its parent produces next. */
static void test_random_after_fork(void **state)
{
    const tr_crypto *c = tu_backend();
    uint8_t parent[32], child[32];
    int fds[2], status = 0;
    pid_t pid;
    (void)state;
    assert_int_equal(c->random(parent, sizeof(parent)), 0); /* seed any state */
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t mine[32];
        int ok = c->random(mine, sizeof(mine)) == 0 &&
                 write(fds[1], mine, sizeof(mine)) == (ssize_t)sizeof(mine);
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(c->random(parent, sizeof(parent)), 0);
    assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_not_equal(parent, child, sizeof(parent));
}

/* ---- concurrency ------------------------------------------------------------------ */

#define THREADS 4
#define ROUNDS 500

/* Prepared by the main thread: cmocka's assertions are not for other
 * threads. */
struct kat_job {
    const tr_crypto *c;
    struct gcm_vec v;
    uint8_t hmac_want[32], sha_want[32];
};

/* Each thread checks known answers over and over, so a race in one-time
 * initialisation or shared state shows up as a wrong answer (and under
 * ThreadSanitizer as a report). */
static void *kat_thread(void *arg)
{
    const struct kat_job *j = arg;
    const tr_crypto *c = j->c;
    const struct gcm_vec *v = &j->v;
    uint8_t hk[20], out[60], tag[16], got[32];
    size_t bad = 0;

    memset(hk, 0x0b, sizeof(hk));
    for (int i = 0; i < ROUNDS; i++) {
        bad += c->hmac_sha256(hk, sizeof(hk), (const uint8_t *)"Hi There", 8, got) != 0 ||
               memcmp(got, j->hmac_want, 32) != 0;
        bad += c->sha256((const uint8_t *)"abc", 3, got) != 0 ||
               memcmp(got, j->sha_want, 32) != 0;
        bad += c->aead_seal(v->key, v->iv, v->aad, 20, v->pt, 48, v->pt + 48, 12, out, tag) != 0 ||
               memcmp(out, v->ct, 60) != 0 || memcmp(tag, v->tag, 16) != 0;
        bad += c->aead_open(v->key, v->iv, v->aad, 20, v->ct, 60, v->tag, out, 16, out + 16) != 0 ||
               memcmp(out, v->pt, 60) != 0;
        bad += c->random(got, sizeof(got)) != 0;
    }
    return (void *)(uintptr_t)bad;
}

static void test_threads(void **state)
{
    pthread_t t[THREADS];
    struct kat_job job;
    (void)state;
    job.c = tu_backend();
    tc16(&job.v);
    unhex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", job.hmac_want, 32);
    unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", job.sha_want, 32);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, kat_thread, &job), 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        assert_int_equal(pthread_join(t[i], &bad), 0);
        assert_int_equal((uintptr_t)bad, 0);
    }
}

/* ---- cross-backend ---------------------------------------------------------------- */

/* Every built backend opens what every other one sealed (and refuses it
 * tampered), and all agree on SHA-256 and HMAC. */
static void test_cross_backend(void **state)
{
    const tr_crypto *const *all = tu_backends();
    size_t n = 0;
    (void)state;
    while (all[n] != NULL)
        n++;
    if (n < 2) {
        /* Only one backend built: nothing to cross. */
        return;
    }
    for (size_t s = 0; s < n; s++) {
        for (size_t o = 0; o < n; o++) {
            const tr_crypto *sealer = all[s], *opener = all[o];
            uint8_t key[32], nonce[12], aad[50], pt[64 + 256], ct[sizeof(pt)], tag[16];
            uint8_t head[64], tail[256], d1[32], d2[32];
            if (s == o)
                continue;
            assert_int_equal(sealer->random(key, sizeof(key)), 0);
            assert_int_equal(sealer->random(nonce, sizeof(nonce)), 0);
            assert_int_equal(opener->random(aad, sizeof(aad)), 0);
            assert_int_equal(opener->random(pt, sizeof(pt)), 0);
            assert_int_equal(sealer->aead_seal(key, nonce, aad, sizeof(aad), pt, 64, pt + 64,
                                               256, ct, tag), 0);
            assert_int_equal(opener->aead_open(key, nonce, aad, sizeof(aad), ct, sizeof(ct),
                                               tag, head, 64, tail), 0);
            assert_memory_equal(head, pt, 64);
            assert_memory_equal(tail, pt + 64, 256);
            ct[100] ^= 4;
            assert_int_equal(opener->aead_open(key, nonce, aad, sizeof(aad), ct, sizeof(ct),
                                               tag, head, 64, tail), TR_E_TICKET_AUTH);
            assert_true(all_zero(head, sizeof(head)) && all_zero(tail, sizeof(tail)));

            assert_int_equal(sealer->sha256(pt, sizeof(pt), d1), 0);
            assert_int_equal(opener->sha256(pt, sizeof(pt), d2), 0);
            assert_memory_equal(d1, d2, 32);
            assert_int_equal(sealer->hmac_sha256(key, sizeof(key), pt, sizeof(pt), d1), 0);
            assert_int_equal(opener->hmac_sha256(key, sizeof(key), pt, sizeof(pt), d2), 0);
            assert_memory_equal(d1, d2, 32);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_sha256_kat),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_key_changes),
        cmocka_unit_test(test_gcm_tc16),
        cmocka_unit_test(test_gcm_tc13_tc14),
        cmocka_unit_test(test_aead_in_place),
        cmocka_unit_test(test_aead_tamper),
        cmocka_unit_test(test_aead_empty_plaintext),
        cmocka_unit_test(test_aead_shapes),
        cmocka_unit_test(test_aead_bad_arguments),
        cmocka_unit_test(test_random),
        cmocka_unit_test(test_random_after_fork),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_cross_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
