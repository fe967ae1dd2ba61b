/* What a key-store writer does with a scratch ring (lib/ring.c,
 * lib/ringfile.c): tr_ring_new_like() makes it beside the serving ring,
 * tr_ring_activate_key() dates a pending key, tr_ring_save_buffer() writes
 * the result as key file text. */
#define _GNU_SOURCE /* memmem() */

#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h" /* tri_keyfile_read(), tri_hex_encode() */

#define T0 1700000000
#define FP_SIZE (TR_FINGERPRINT_HEX + 1)
#define SECRET_HEX (2 * (TR_KEY_BYTES - TR_KEY_NAME_BYTES)) /* HMAC | AES in hex */

/* Seeds of tu_key(): a dated key, a pending one, one to revoke. */
enum { DATED = 1, PENDING = 2, REVOKED = 3, OTHER = 4 };

static void name_of(uint8_t seed, uint8_t name[TR_KEY_NAME_BYTES])
{
    uint8_t k[TR_KEY_BYTES];
    tu_key(k, seed);
    memcpy(name, k, TR_KEY_NAME_BYTES);
}

static void add(tr_ring *r, uint8_t seed, int64_t activation)
{
    uint8_t k[TR_KEY_BYTES];
    tu_key(k, seed);
    assert_int_equal(tr_ring_add_key(r, k, activation), 0);
}

static void fp_of(tr_ring *r, char fp[FP_SIZE])
{
    assert_int_equal(tr_ring_fingerprint(r, fp, FP_SIZE), 0);
}

static uint64_t serial_of(tr_ring *r)
{
    uint64_t s = 0;
    assert_int_equal(tr_ring_serial(r, &s), 0);
    return s;
}

/* Activation time and role of the key of that seed; -1 role if not held. */
static int32_t info_of(tr_ring *r, uint8_t seed, int64_t *activation)
{
    uint8_t want[TR_KEY_NAME_BYTES], name[TR_KEY_NAME_BYTES];
    int32_t role = -1;

    name_of(seed, want);
    for (uint32_t i = 0; tr_ring_key_info(r, i, name, activation, &role) == 0; i++)
        if (memcmp(name, want, TR_KEY_NAME_BYTES) == 0)
            return role;
    return -1;
}

static int32_t role_of(tr_ring *r, uint8_t seed)
{
    return info_of(r, seed, NULL);
}

/* A dated key (encrypting since T0 - 100), a pending one and a revoked one,
 * pinned to cluster "edge". */
static tr_ring *schedule_ring(int64_t *clock_ms)
{
    tr_ring *r = tu_ring(clock_ms);
    uint8_t name[TR_KEY_NAME_BYTES];

    add(r, DATED, T0 - 100);
    add(r, PENDING, TR_ACTIVATION_PENDING);
    add(r, REVOKED, T0 - 50);
    name_of(REVOKED, name);
    assert_int_equal(tr_ring_revoke_key(r, name), 0);
    assert_int_equal(tr_ring_set_cluster(r, "edge"), 0);
    return r;
}

/* The ring's text from tr_ring_save_buffer(), in a block of exactly its
 * length (no NUL: an overread shows under ASan). */
static char *save_text(tr_ring *r, size_t *len)
{
    size_t need = 0;
    char *buf;

    assert_int_equal(tr_ring_save_buffer(r, NULL, 0, &need), TR_E_BUFFER_TOO_SMALL);
    assert_true(need > 0);
    buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(tr_ring_save_buffer(r, buf, need, len), 0);
    assert_int_equal(*len, need);
    return buf;
}

/* ---- log capture ------------------------------------------------------------ */

struct logs {
    unsigned lines;
    char text[4096];
};

static void log_fn(int32_t level, const char *msg, void *arg)
{
    struct logs *l = arg;
    size_t used = strlen(l->text);
    (void)level;
    l->lines++;
    snprintf(l->text + used, sizeof(l->text) - used, "%s\n", msg);
}

/* ---- tr_ring_activate_key ------------------------------------------------------ */

static void test_activate(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000, act = 0;
    tr_ring *r = schedule_ring(&clock_ms);
    uint8_t name[TR_KEY_NAME_BYTES], enc[TR_KEY_NAME_BYTES], key[TR_KEY_BYTES];
    char before[FP_SIZE], after[FP_SIZE], hex[2 * TR_KEY_NAME_BYTES + 1], secret[SECRET_HEX + 1];
    struct logs logs;
    uint32_t count = 0;
    (void)state;

    memset(&logs, 0, sizeof logs);
    assert_int_equal(tr_ring_set_log(r, log_fn, &logs), 0);
    fp_of(r, before);
    assert_int_equal(info_of(r, PENDING, &act), TR_KEY_PENDING);
    assert_true(act == TR_ACTIVATION_PENDING);

    name_of(PENDING, name);
    assert_int_equal(tr_ring_activate_key(r, name, T0 + 60), 0);
    fp_of(r, after);
    assert_string_not_equal(before, after);
    assert_int_equal(info_of(r, PENDING, &act), TR_KEY_PENDING); /* not yet */
    assert_true(act == T0 + 60);
    assert_int_equal(tr_ring_key_count(r, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(role_of(r, REVOKED), TR_KEY_REVOKED);

    /* Roles follow the injected clock. */
    clock_ms = (int64_t)(T0 + 59) * 1000 + 999;
    assert_int_equal(role_of(r, PENDING), TR_KEY_PENDING);
    assert_int_equal(role_of(r, DATED), TR_KEY_ENCRYPT);
    clock_ms = (int64_t)(T0 + 60) * 1000;
    assert_int_equal(role_of(r, PENDING), TR_KEY_ENCRYPT);
    assert_int_equal(role_of(r, DATED), TR_KEY_DECRYPT);
    assert_int_equal(tr_ring_encrypt_key_name(r, enc), 0);
    assert_memory_equal(enc, name, TR_KEY_NAME_BYTES);

    /* Logged by name, never with the secret. */
    tri_hex_encode(hex, name, TR_KEY_NAME_BYTES);
    hex[sizeof hex - 1] = '\0';
    tu_key(key, PENDING);
    tri_hex_encode(secret, key + TR_KEY_NAME_BYTES, TR_KEY_BYTES - TR_KEY_NAME_BYTES);
    secret[sizeof secret - 1] = '\0';
    assert_int_equal(logs.lines, 1);
    assert_non_null(strstr(logs.text, hex));
    assert_non_null(strstr(logs.text, "1700000060"));
    assert_null(strstr(logs.text, secret));
    assert_null(strstr(logs.text, secret + 64)); /* the AES half alone */
    tr_ring_free(r);
}

/* A date earlier than the other keys' sorts the key first: the set is
 * ordered by activation, and the newest active key still encrypts. */
static void test_activate_sorts(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000, act = 0;
    tr_ring *r = schedule_ring(&clock_ms);
    uint8_t name[TR_KEY_NAME_BYTES], first[TR_KEY_NAME_BYTES];
    (void)state;

    name_of(PENDING, name);
    assert_int_equal(tr_ring_activate_key(r, name, T0 - 200), 0);
    assert_int_equal(tr_ring_key_info(r, 0, first, &act, NULL), 0);
    assert_memory_equal(first, name, TR_KEY_NAME_BYTES);
    assert_true(act == T0 - 200);
    assert_int_equal(role_of(r, DATED), TR_KEY_ENCRYPT);
    assert_int_equal(role_of(r, PENDING), TR_KEY_DECRYPT);
    /* 0 is in the format's range. */
    add(r, OTHER, TR_ACTIVATION_PENDING);
    name_of(OTHER, name);
    assert_int_equal(tr_ring_activate_key(r, name, 0), 0);
    /* superseded 200 s ago, by the key dated T0 - 200 */
    assert_int_equal(info_of(r, OTHER, &act), TR_KEY_DECRYPT);
    assert_true(act == 0);
    tr_ring_free(r);
}

static void test_activate_refusals(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000, act = 0;
    tr_ring *r = schedule_ring(&clock_ms);
    uint8_t pending[TR_KEY_NAME_BYTES], name[TR_KEY_NAME_BYTES];
    char before[FP_SIZE], now[FP_SIZE];
    struct logs logs;
    (void)state;

    memset(&logs, 0, sizeof logs);
    assert_int_equal(tr_ring_set_log(r, log_fn, &logs), 0);
    fp_of(r, before);
    name_of(PENDING, pending);

    assert_int_equal(tr_ring_activate_key(NULL, pending, T0), TR_E_INVAL);
    assert_int_equal(tr_ring_activate_key(r, NULL, T0), TR_E_INVAL);
    name_of(OTHER, name);
    assert_int_equal(tr_ring_activate_key(r, name, T0), TR_E_KEY_NOT_FOUND);
    /* A revoked key never comes back, dated or pending. */
    name_of(REVOKED, name);
    assert_int_equal(tr_ring_activate_key(r, name, T0), TR_E_INVAL);
    /* A date is never moved. */
    name_of(DATED, name);
    assert_int_equal(tr_ring_activate_key(r, name, T0 + 10), TR_E_INVAL);
    assert_int_equal(tr_ring_activate_key(r, name, T0 - 100), TR_E_INVAL); /* nor repeated */
    /* Times outside the format. */
    assert_int_equal(tr_ring_activate_key(r, pending, TR_ACTIVATION_PENDING), TR_E_INVAL);
    assert_int_equal(tr_ring_activate_key(r, pending, -1), TR_E_INVAL);
    assert_int_equal(tr_ring_activate_key(r, pending, INT64_MIN), TR_E_INVAL);
    assert_int_equal(tr_ring_activate_key(r, pending, (INT64_C(1) << 62) + 1), TR_E_INVAL);
    /* Beyond the horizon (and the time is checked before the name). */
    assert_int_equal(tr_ring_set_activation_horizon(r, 3600), 0);
    assert_int_equal(tr_ring_activate_key(r, pending, T0 + 3601), TR_E_KEY_ACTIVATION);
    assert_int_equal(tr_ring_activate_key(r, name, T0 + 3601), TR_E_KEY_ACTIVATION);

    fp_of(r, now);
    assert_string_equal(before, now);
    assert_int_equal(info_of(r, PENDING, &act), TR_KEY_PENDING);
    assert_true(act == TR_ACTIVATION_PENDING);
    assert_int_equal(logs.lines, 0);

    /* At the horizon is allowed; then the key has a date and keeps it. */
    assert_int_equal(tr_ring_activate_key(r, pending, T0 + 3600), 0);
    fp_of(r, before);
    assert_int_equal(tr_ring_activate_key(r, pending, T0 + 1800), TR_E_INVAL);
    fp_of(r, now);
    assert_string_equal(before, now);
    tr_ring_free(r);
}

/* ---- tr_ring_save_buffer ---------------------------------------------------------- */

static void test_save_buffer_round_trip(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000, act = 0;
    tr_ring *r = schedule_ring(&clock_ms), *back = tu_ring(&clock_ms);
    char f1[FP_SIZE], f2[FP_SIZE], cl[80];
    size_t len = 0;
    char *text;
    (void)state;

    assert_int_equal(serial_of(r), 0);
    text = save_text(r, &len);
    /* A ring that never saw a serial starts from its clock, as tr_ring_save(). */
    assert_true(serial_of(r) == (uint64_t)T0 * 1000);
    assert_int_equal(tr_ring_load_buffer(back, text, len, 0, NULL), 0);
    fp_of(r, f1);
    fp_of(back, f2);
    assert_string_equal(f1, f2);
    assert_true(serial_of(back) == serial_of(r));
    assert_int_equal(tr_ring_cluster(back, cl, sizeof cl), 0);
    assert_string_equal(cl, "edge");
    assert_int_equal(info_of(back, PENDING, &act), TR_KEY_PENDING);
    assert_true(act == TR_ACTIVATION_PENDING);
    assert_int_equal(role_of(back, REVOKED), TR_KEY_REVOKED);
    assert_int_equal(role_of(back, DATED), TR_KEY_ENCRYPT);
    free(text);
    tr_ring_free(r);
    tr_ring_free(back);
}

static void test_save_buffer_serial(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = schedule_ring(&clock_ms);
    char buf[TRI_KEYFILE_MAX_BYTES], small[64];
    size_t len = 0, need = 0, len2 = 0;
    uint64_t s0;
    (void)state;

    assert_int_equal(tr_ring_save_buffer(r, buf, sizeof buf, &len), 0);
    s0 = serial_of(r);
    assert_int_equal(tr_ring_save_buffer(r, buf, sizeof buf, &len2), 0);
    assert_true(serial_of(r) == s0 + 1);
    assert_int_equal(len2, len); /* same digits: T0 ms + 1 */
    assert_int_equal(tr_ring_save_buffer(r, buf, sizeof buf, &len2), 0);
    assert_true(serial_of(r) == s0 + 2);

    /* Too small by one byte: the length needed, nothing written, no serial
     * spent; the next save is the one that takes it. */
    memset(buf, 0xEE, sizeof buf);
    assert_int_equal(tr_ring_save_buffer(r, buf, len - 1, &need), TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(need, len);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal((uint8_t)buf[i], 0xEE);
    assert_true(serial_of(r) == s0 + 2);
    assert_int_equal(tr_ring_save_buffer(r, small, sizeof small, &need), TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(need, len);
    assert_true(serial_of(r) == s0 + 2);
    assert_int_equal(tr_ring_save_buffer(r, buf, len, &len2), 0);
    assert_int_equal(len2, len);
    assert_true(serial_of(r) == s0 + 3);
    assert_int_equal((uint8_t)buf[len], 0xEE); /* no NUL, nothing past the text */
    tr_ring_free(r);
}

/* A full ring's text fits in the documented 65536 bytes. */
static void test_save_buffer_full_ring(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&clock_ms);
    uint8_t name[TR_KEY_NAME_BYTES];
    char cluster[TRI_CLUSTER_MAX + 1];
    size_t need = 0;
    (void)state;

    memset(cluster, 'c', TRI_CLUSTER_MAX);
    cluster[TRI_CLUSTER_MAX] = '\0';
    assert_int_equal(tr_ring_set_cluster(r, cluster), 0);
    assert_int_equal(tr_ring_set_activation_horizon(r, 0), 0);
    for (int i = 0; i < TR_RING_MAX_KEYS; i++) {
        assert_int_equal(tr_ring_generate_key(r, INT64_C(1) << 61, name), 0);
        if (i % 2 == 0)
            assert_int_equal(tr_ring_revoke_key(r, name), 0);
    }
    assert_int_equal(tr_ring_save_buffer(r, NULL, 0, &need), TR_E_BUFFER_TOO_SMALL);
    assert_true(need <= 65536);
    tr_ring_free(r);
}

/* The same ring state gives the same bytes from memory and from a file. */
static void test_save_buffer_equals_file(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *a = schedule_ring(&clock_ms), *b = schedule_ring(&clock_ms);
    char path[] = "/tmp/tr-schedule-XXXXXX";
    char *file, *text;
    size_t file_len = 0, len = 0;
    struct stat st;
    int fd = mkstemp(path);
    (void)state;

    assert_true(fd >= 0);
    close(fd);
    for (int round = 0; round < 2; round++) { /* from the clock, then + 1 */
        text = save_text(a, &len);
        assert_int_equal(tr_ring_save(b, path), 0);
        assert_true(serial_of(a) == serial_of(b));
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal((st.st_mode & 077), 0);
        file = malloc((size_t)st.st_size);
        assert_non_null(file);
        assert_int_equal(tri_keyfile_read(path, file, (size_t)st.st_size, &file_len), 0);
        assert_int_equal(file_len, len);
        assert_memory_equal(file, text, len);
        free(file);
        free(text);
    }
    unlink(path);
    tr_ring_free(a);
    tr_ring_free(b);
}

static void test_save_buffer_arguments(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = schedule_ring(&clock_ms);
    char buf[16];
    size_t len = 99;
    (void)state;

    assert_int_equal(tr_ring_save_buffer(NULL, buf, sizeof buf, &len), TR_E_INVAL);
    assert_int_equal(len, 0);
    len = 99;
    assert_int_equal(tr_ring_save_buffer(r, NULL, 1, &len), TR_E_INVAL);
    assert_int_equal(len, 0);
    assert_int_equal(tr_ring_save_buffer(r, buf, sizeof buf, NULL), TR_E_INVAL);
    assert_int_equal(serial_of(r), 0);
    tr_ring_free(r);
}

/* Every block the library frees is wiped of the text it held. */
static void check_no_secret(const uint8_t *block, size_t size, void *arg)
{
    const char *secret = arg;
    size_t n = strlen(secret);

    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(block + i, secret, n) == 0) {
            fprintf(stderr, "a freed block of %zu bytes holds a secret in hex\n", size);
            abort();
        }
}

static void test_save_buffer_wipes(void **state)
{
    struct tu_rec a;
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *r = NULL;
    uint8_t key[TR_KEY_BYTES];
    char secret[SECRET_HEX + 1], buf[TRI_KEYFILE_MAX_BYTES];
    size_t len = 0;
    (void)state;

    tu_key(key, DATED);
    tri_hex_encode(secret, key + TR_KEY_NAME_BYTES, TR_KEY_BYTES - TR_KEY_NAME_BYTES);
    secret[sizeof secret - 1] = '\0';
    tu_rec_init(&a);
    a.on_free = check_no_secret;
    a.on_free_arg = secret + 64; /* the AES half: in every copy of the text */
    assert_int_equal(tr_ring_new_with_allocator(&r, tu_backend(), tu_rec_malloc, tu_rec_free, &a),
                     0);
    assert_int_equal(tr_ring_set_clock(r, tu_clock, &clock_ms), 0);
    assert_int_equal(tr_ring_add_key(r, key, T0 - 100), 0);
    assert_int_equal(tr_ring_save_buffer(r, buf, sizeof buf, &len), 0);
    assert_non_null(memmem(buf, len, secret, strlen(secret)));
    assert_int_equal(tr_ring_save_buffer(r, buf, 10, &len), TR_E_BUFFER_TOO_SMALL);
    tr_ring_free(r);
    assert_int_equal(tu_rec_get(&a).live, 0);
    tu_rec_destroy(&a);
}

/* ---- tr_ring_new_like ------------------------------------------------------------- */

static int draws;

static int counting_random(uint8_t *buf, size_t len, void *arg)
{
    draws++;
    return tu_random_counter(buf, len, arg);
}

static void test_new_like(void **state)
{
    struct tu_rec a;
    int64_t clock_ms = (int64_t)T0 * 1000;
    uint64_t ctr = 0, early = 0;
    tr_ring *model = NULL, *r = NULL, *other = schedule_ring(&clock_ms);
    tr_replay *rp = NULL;
    struct logs logs;
    char fp[FP_SIZE], model_fp[FP_SIZE], cl[80];
    uint32_t count = 9, u32 = 0;
    int32_t role = -1;
    uint64_t allocs;
    size_t len = 0, textlen = 0;
    char *text, *foreign;
    int64_t i64 = 0;
    (void)state;

    /* A model with every setting off its default, keys, a log, early data. */
    tu_rec_init(&a);
    assert_int_equal(tr_ring_new_with_allocator(&model, tu_backend(), tu_rec_malloc,
                                                tu_rec_free, &a),
                     0);
    assert_int_equal(tr_ring_set_clock(model, tu_clock, &clock_ms), 0);
    assert_int_equal(tr_ring_set_random(model, counting_random, &ctr), 0);
    memset(&logs, 0, sizeof logs);
    assert_int_equal(tr_ring_set_log(model, log_fn, &logs), 0);
    assert_int_equal(tr_ring_set_cluster(model, "edge"), 0);
    assert_int_equal(tr_ring_set_lifetime(model, 3600), 0);
    assert_int_equal(tr_ring_set_skew(model, 30), 0);
    assert_int_equal(tr_ring_set_activation_horizon(model, 7200), 0);
    assert_int_equal(tr_ring_generate_key(model, T0 - 10, NULL), 0);
    assert_int_equal(tr_replay_new(&rp, 64, 10000), 0);
    assert_int_equal(tr_ring_set_early_data(model, 16384, rp), 0);
    text = save_text(model, &textlen);
    fp_of(model, model_fp);

    allocs = tu_rec_get(&a).allocs;
    assert_int_equal(tr_ring_new_like(&r, model), 0);
    assert_non_null(r);
    assert_int_equal(tu_rec_get(&a).allocs - allocs, 2); /* the model's allocator */

    /* Empty, unsaved, silent, no early data, no path; pinned like the model. */
    assert_int_equal(tr_ring_key_count(r, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(serial_of(r), 0);
    assert_int_equal(tr_ring_early_data_max(r, &u32), 0);
    assert_int_equal(u32, 0);
    assert_int_equal(tr_ring_early_data_tag(r, &early), 0);
    assert_true(early == 0);
    assert_int_equal(tr_ring_reload(r, NULL), TR_E_NO_FILE);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof cl), 0);
    assert_string_equal(cl, "edge");
    assert_int_equal(tr_ring_set_cluster(other, "other"), 0);
    foreign = save_text(other, &len);
    assert_int_equal(tr_ring_load_buffer(r, foreign, len, 0, NULL), TR_E_KEYFILE_CLUSTER);
    free(foreign);

    /* The model's text loads (same cluster; the copy saw no serial). */
    logs.lines = 0;
    assert_int_equal(tr_ring_load_buffer(r, text, textlen, 0, NULL), 0);
    fp_of(r, fp);
    assert_string_equal(fp, model_fp);
    assert_int_equal(logs.lines, 0); /* the log sink is not shared */

    /* The clock: roles follow the model's injected clock. */
    assert_int_equal(tr_ring_generate_key(r, T0 + 100, NULL), 0);
    assert_int_equal(tr_ring_key_info(r, 1, NULL, &i64, &role), 0);
    assert_true(i64 == T0 + 100);
    assert_int_equal(role, TR_KEY_PENDING);
    clock_ms = (int64_t)(T0 + 100) * 1000;
    assert_int_equal(tr_ring_key_info(r, 1, NULL, NULL, &role), 0);
    assert_int_equal(role, TR_KEY_ENCRYPT);
    clock_ms = (int64_t)T0 * 1000;
    /* The random source: keys (and salts) are drawn from the model's. */
    draws = 0;
    assert_int_equal(tr_ring_generate_key(r, TR_ACTIVATION_PENDING, NULL), 0);
    assert_true(draws > 0);
    /* The horizon (7200 s) and the lifetime and skew. */
    assert_int_equal(tr_ring_generate_key(r, T0 + 7201, NULL), TR_E_KEY_ACTIVATION);
    assert_int_equal(tr_ring_ticket_lifetime(r, 0, &u32), 0);
    assert_int_equal(u32, 3600);
    assert_int_equal(tr_ring_check_times(r, clock_ms + 30000, 0, NULL), 0);
    assert_int_equal(tr_ring_check_times(r, clock_ms + 45000, 0, NULL), TR_E_TICKET_FUTURE);

    /* The model was not touched. */
    fp_of(model, fp);
    assert_string_equal(fp, model_fp);
    assert_int_equal(tr_ring_key_count(model, &count), 0);
    assert_int_equal(count, 1);
    assert_int_equal(tr_ring_early_data_max(model, &u32), 0);
    assert_int_equal(u32, 16384);

    tr_ring_free(r);
    tr_ring_free(model);
    assert_int_equal(tu_rec_get(&a).live, 0);
    tu_rec_destroy(&a);
    tr_replay_free(rp);
    tr_ring_free(other);
    free(text);
}

static int seal(tr_ring *r)
{
    uint8_t t[64 + TR_TICKET_OVERHEAD];
    size_t len = 0;
    return tr_ticket_seal(r, (const uint8_t *)"state", 5, NULL, 0, NULL, 0, NULL, 0, 0, t,
                          sizeof t, &len, NULL);
}

/* A ring made like `model`, holding the model's keys (a text saved by it). */
static tr_ring *like_with_keys(tr_ring *model)
{
    tr_ring *r = NULL;
    size_t len = 0;
    char *text = save_text(model, &len);

    assert_int_equal(tr_ring_new_like(&r, model), 0);
    assert_int_equal(tr_ring_load_buffer(r, text, len, 0, NULL), 0);
    free(text);
    return r;
}

/* The remaining policy settings, each seen through what it changes. */
static void test_new_like_policy(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *model = tu_ring(&clock_ms), *r;
    char *path;
    uint32_t life = 0;
    (void)state;

    add(model, DATED, T0 - 100);
    /* Max age, SNI and ALPN binding, file mode policy. */
    assert_int_equal(tr_ring_set_max_age(model, 5000), 0);
    assert_int_equal(tr_ring_set_bind_sni(model, 0), 0);
    assert_int_equal(tr_ring_set_bind_alpn(model, 0), 0);
    assert_int_equal(tr_ring_set_file_mode_policy(model, TR_FILE_MODE_REFUSE), 0);
    r = like_with_keys(model);
    assert_int_equal(tr_ring_ticket_lifetime(r, T0 - 4000, &life), 0);
    assert_int_equal(life, 1000);
    assert_int_equal(tr_ring_check_binding(r, (const uint8_t *)"a", 1, (const uint8_t *)"b", 1,
                                           (const uint8_t *)"h2", 2,
                                           (const uint8_t *)"\x08http/1.1", 9),
                     0);
    path = tu_write_temp("# nothing\n", 10);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(tr_ring_load(r, path, NULL), TR_E_KEYFILE_MODE);
    unlink(path);
    free(path);
    tr_ring_free(r);

    /* Rotation period and exhausted policy: the key is overdue, sealing stops. */
    assert_int_equal(tr_ring_set_rotation_period(model, 60), 0);
    assert_int_equal(tr_ring_set_exhausted_policy(model, TR_EXHAUSTED_STOP), 0);
    r = like_with_keys(model);
    assert_int_equal(seal(r), TR_E_NO_ENCRYPT_KEY);
    tr_ring_free(r);

    /* Max encrypt age, under the default policy. */
    assert_int_equal(tr_ring_set_exhausted_policy(model, TR_EXHAUSTED_KEEP), 0);
    assert_int_equal(seal(model), 0);
    assert_int_equal(tr_ring_set_max_encrypt_age(model, 60), 0);
    r = like_with_keys(model);
    assert_int_equal(seal(r), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(tr_ring_set_max_encrypt_age(model, 0), 0); /* read once, when made */
    assert_int_equal(seal(r), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(seal(model), 0);
    tr_ring_free(r);
    tr_ring_free(model);
}

/* Settings of an unpinned model with defaults elsewhere: the copy is
 * unpinned, and the first text naming a cluster pins it. */
static void test_new_like_unpinned(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *model = tu_ring(&clock_ms), *r = NULL, *src = schedule_ring(&clock_ms);
    char cl[80];
    size_t len = 0;
    char *text = save_text(src, &len);
    (void)state;

    assert_int_equal(tr_ring_new_like(&r, model), 0);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof cl), 0);
    assert_string_equal(cl, "");
    assert_int_equal(tr_ring_load_buffer(r, text, len, 0, NULL), 0);
    assert_int_equal(tr_ring_cluster(r, cl, sizeof cl), 0);
    assert_string_equal(cl, "edge");
    assert_int_equal(tr_ring_cluster(model, cl, sizeof cl), 0);
    assert_string_equal(cl, "");
    free(text);
    tr_ring_free(r);
    tr_ring_free(model);
    tr_ring_free(src);
}

static void test_new_like_arguments(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *model = tu_ring(&clock_ms), *r = model;
    (void)state;

    assert_int_equal(tr_ring_new_like(NULL, model), TR_E_INVAL);
    assert_int_equal(tr_ring_new_like(&r, NULL), TR_E_INVAL);
    assert_null(r);
    tr_ring_free(model);
}

/* ---- the writer's round: serving text -> scratch ring -> dated -> text ------ */

static void test_writer_round(void **state)
{
    int64_t clock_ms = (int64_t)T0 * 1000;
    tr_ring *serving = tu_ring(&clock_ms), *src = schedule_ring(&clock_ms), *scratch = NULL;
    uint8_t name[TR_KEY_NAME_BYTES];
    char f1[FP_SIZE], f2[FP_SIZE], before[FP_SIZE];
    size_t len = 0, len2 = 0;
    char *doc = save_text(src, &len), *next;
    uint64_t s;
    (void)state;

    assert_int_equal(tr_ring_set_cluster(serving, "edge"), 0);
    assert_int_equal(tr_ring_load_buffer(serving, doc, len, 0, NULL), 0);
    s = serial_of(serving);
    fp_of(serving, before);

    assert_int_equal(tr_ring_new_like(&scratch, serving), 0);
    assert_int_equal(tr_ring_load_buffer(scratch, doc, len, 0, NULL), 0);
    name_of(PENDING, name);
    assert_int_equal(tr_ring_activate_key(scratch, name, T0 + 300), 0);
    next = save_text(scratch, &len2);
    assert_true(serial_of(scratch) == s + 1);
    /* The serving ring is untouched until it loads the new document. */
    fp_of(serving, f1);
    assert_string_equal(f1, before);
    assert_true(serial_of(serving) == s);
    assert_int_equal(role_of(serving, PENDING), TR_KEY_PENDING);

    assert_int_equal(tr_ring_load_buffer(serving, next, len2, 0, NULL), 0);
    assert_true(serial_of(serving) == s + 1);
    fp_of(serving, f1);
    fp_of(scratch, f2);
    assert_string_equal(f1, f2);
    clock_ms = (int64_t)(T0 + 300) * 1000;
    assert_int_equal(role_of(serving, PENDING), TR_KEY_ENCRYPT);
    /* The old document is now a rollback. */
    assert_int_equal(tr_ring_load_buffer(serving, doc, len, 0, NULL), TR_E_KEYFILE_ROLLBACK);
    free(doc);
    free(next);
    tr_ring_free(scratch);
    tr_ring_free(serving);
    tr_ring_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_activate),
        cmocka_unit_test(test_activate_sorts),
        cmocka_unit_test(test_activate_refusals),
        cmocka_unit_test(test_save_buffer_round_trip),
        cmocka_unit_test(test_save_buffer_serial),
        cmocka_unit_test(test_save_buffer_full_ring),
        cmocka_unit_test(test_save_buffer_equals_file),
        cmocka_unit_test(test_save_buffer_arguments),
        cmocka_unit_test(test_save_buffer_wipes),
        cmocka_unit_test(test_new_like),
        cmocka_unit_test(test_new_like_policy),
        cmocka_unit_test(test_new_like_unpinned),
        cmocka_unit_test(test_new_like_arguments),
        cmocka_unit_test(test_writer_round),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
