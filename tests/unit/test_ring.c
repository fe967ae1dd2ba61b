#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"

#define T0 1700000000

static void test_new_refuses_bad_backend(void **st)
{
    tr_ring *r = (tr_ring *)1;
    struct tr_crypto fake;
    (void)st;
    assert_int_equal(tr_ring_new(NULL, tu_backend()), TR_E_INVAL);
    assert_int_equal(tr_ring_new(&r, NULL), TR_E_BACKEND);
    assert_null(r);
    memcpy(&fake, tu_backend(), sizeof(fake));
    fake.abi = TRI_CRYPTO_ABI + 1;
    assert_int_equal(tr_ring_new(&r, &fake), TR_E_BACKEND);
    tr_ring_free(NULL);
}

static void test_setters_validate(void **st)
{
    int64_t c = 0;
    tr_ring *r = tu_ring(&c);
    (void)st;
    assert_int_equal(tr_ring_set_lifetime(r, 0), TR_E_INVAL);
    assert_int_equal(tr_ring_set_lifetime(r, 604801), TR_E_INVAL);
    assert_int_equal(tr_ring_set_lifetime(r, 604800), 0);
    assert_int_equal(tr_ring_set_skew(r, 3601), TR_E_INVAL);
    assert_int_equal(tr_ring_set_skew(r, 0), 0);
    assert_int_equal(tr_ring_set_max_age(r, 0), TR_E_INVAL);
    assert_int_equal(tr_ring_set_max_age(r, 31536001), TR_E_INVAL);
    assert_int_equal(tr_ring_set_rotation_period(r, 31536001), TR_E_INVAL);
    assert_int_equal(tr_ring_set_bind_sni(r, 2), TR_E_INVAL);
    assert_int_equal(tr_ring_set_bind_alpn(r, -1), TR_E_INVAL);
    assert_int_equal(tr_ring_set_lifetime(NULL, 10), TR_E_INVAL);
    assert_int_equal(tr_ring_set_file_mode_policy(r, -1), TR_E_INVAL);
    assert_int_equal(tr_ring_set_file_mode_policy(r, 3), TR_E_INVAL);
    assert_int_equal(tr_ring_set_file_mode_policy(r, TR_FILE_MODE_IGNORE), 0);
    assert_int_equal(tr_ring_set_file_mode_policy(r, TR_FILE_MODE_REFUSE), 0);
    assert_int_equal(tr_ring_set_file_mode_policy(NULL, 0), TR_E_INVAL);
    assert_int_equal(tr_ring_set_activation_horizon(r, 3153600001u), TR_E_INVAL);
    assert_int_equal(tr_ring_set_activation_horizon(r, 3153600000u), 0);
    assert_int_equal(tr_ring_set_activation_horizon(r, 0), 0);
    assert_int_equal(tr_ring_set_activation_horizon(NULL, 10), TR_E_INVAL);
    tr_ring_free(r);
}

static void test_keys_add_remove_info(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t k1[TR_KEY_BYTES], k2[TR_KEY_BYTES], name[16], zero[TR_KEY_BYTES] = {0};
    uint32_t n = 99;
    int64_t act;
    int32_t role;
    (void)st;
    tu_key(k1, 1);
    tu_key(k2, 2);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tr_ring_add_key(r, k2, T0 + 100), 0);
    assert_int_equal(tr_ring_add_key(r, k1, T0), 0);
    assert_int_equal(tr_ring_add_key(r, k1, T0 + 5), TR_E_KEY_DUPLICATE);
    assert_int_equal(tr_ring_add_key(r, zero, T0), TR_E_KEY_ZERO);
    assert_int_equal(tr_ring_add_key(r, k1, -1), TR_E_INVAL);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 2);
    /* Listed in activation order with their roles now. */
    assert_int_equal(tr_ring_key_info(r, 0, name, &act, &role), 0);
    assert_memory_equal(name, k1, 16);
    assert_int_equal(act, T0);
    assert_int_equal(role, TR_KEY_ENCRYPT);
    assert_int_equal(tr_ring_key_info(r, 1, name, &act, &role), 0);
    assert_memory_equal(name, k2, 16);
    assert_int_equal(role, TR_KEY_PENDING);
    assert_int_equal(tr_ring_key_info(r, 2, name, &act, &role), TR_E_KEY_NOT_FOUND);
    assert_int_equal(tr_ring_encrypt_key_name(r, name), 0);
    assert_memory_equal(name, k1, 16);
    c = (int64_t)(T0 + 100) * 1000; /* the schedule rotates by itself */
    assert_int_equal(tr_ring_encrypt_key_name(r, name), 0);
    assert_memory_equal(name, k2, 16);
    assert_int_equal(tr_ring_remove_key(r, k2), 0);
    assert_int_equal(tr_ring_remove_key(r, k2), TR_E_KEY_NOT_FOUND);
    assert_int_equal(tr_ring_encrypt_key_name(r, name), 0);
    assert_memory_equal(name, k1, 16);
    tr_ring_free(r);
}

static void test_ring_capacity(void **st)
{
    int64_t c = 0;
    tr_ring *r = tu_ring(&c);
    uint8_t name[16];
    (void)st;
    for (int i = 0; i < TR_RING_MAX_KEYS; i++)
        assert_int_equal(tr_ring_generate_key(r, i, name), 0);
    assert_int_equal(tr_ring_generate_key(r, 100, name), TR_E_TOO_MANY_KEYS);
    tr_ring_free(r);
}

struct log_capture {
    char text[4096];
    int lines;
};

static void capture(int32_t level, const char *msg, void *arg)
{
    struct log_capture *lc = arg;
    (void)level;
    strncat(lc->text, msg, sizeof(lc->text) - strlen(lc->text) - 2);
    strcat(lc->text, "\n");
    lc->lines++;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static char *temp_path(void)
{
    char *p = tu_write_temp("", 0);
    unlink(p);
    return p;
}

static void test_save_load_reload(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *a = tu_ring(&c), *b = tu_ring(&c);
    char *path = temp_path();
    char fa[17], fb[17];
    uint32_t line = 99;
    uint8_t name[16];
    (void)st;
    assert_int_equal(tr_ring_reload(b, &line), TR_E_NO_FILE);
    assert_int_equal(tr_ring_generate_key(a, T0, NULL), 0);
    assert_int_equal(tr_ring_generate_key(a, T0 + 3600, NULL), 0);
    assert_int_equal(tr_ring_save(a, path), 0);
    assert_int_equal(tr_ring_load(b, path, &line), 0);
    assert_int_equal(line, 0);
    assert_int_equal(tr_ring_fingerprint(a, fa, sizeof(fa)), 0);
    assert_int_equal(tr_ring_fingerprint(b, fb, sizeof(fb)), 0);
    assert_string_equal(fa, fb);
    assert_int_equal(tr_ring_fingerprint(a, fa, TR_FINGERPRINT_HEX), TR_E_BUFFER_TOO_SMALL);
    /* The file changes (a third key): b drifts until it reloads. */
    assert_int_equal(tr_ring_generate_key(a, T0 + 7200, name), 0);
    assert_int_equal(tr_ring_save(a, path), 0);
    assert_int_equal(tr_ring_fingerprint(a, fa, sizeof(fa)), 0);
    assert_string_not_equal(fa, fb);
    assert_int_equal(tr_ring_reload(b, NULL), 0);
    assert_int_equal(tr_ring_fingerprint(b, fb, sizeof(fb)), 0);
    assert_string_equal(fa, fb);
    unlink(path);
    free(path);
    tr_ring_free(a);
    tr_ring_free(b);
}

static void test_failed_load_keeps_keys(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0};
    char *path = temp_path();
    char before[17], after[17];
    uint32_t line = 0;
    tr_stats s = {.size = sizeof(s)};
    FILE *fp;
    long size;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    assert_int_equal(tr_ring_generate_key(r, T0, NULL), 0);
    assert_int_equal(tr_ring_save(r, path), 0);
    assert_int_equal(tr_ring_load(r, path, &line), 0);
    assert_int_equal(tr_ring_fingerprint(r, before, sizeof(before)), 0);
    /* Truncate the file by 10 bytes: the checksum line is damaged. */
    fp = fopen(path, "r+");
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fclose(fp);
    assert_int_equal(truncate(path, size - 10), 0);
    assert_int_not_equal(tr_ring_reload(r, &line), 0);
    assert_int_equal(tr_ring_fingerprint(r, after, sizeof(after)), 0);
    assert_string_equal(before, after);
    assert_int_equal(tr_ring_encrypt_key_name(r, (uint8_t[16]){0}), 0);
    /* A missing file, likewise. */
    unlink(path);
    assert_int_equal(tr_ring_reload(r, &line), TR_E_IO);
    assert_int_equal(tr_ring_fingerprint(r, after, sizeof(after)), 0);
    assert_string_equal(before, after);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    assert_int_equal(s.reloads, 1);
    assert_int_equal(s.reload_failures, 2);
    assert_true(strstr(lc.text, "keys unchanged") != NULL);
    free(path);
    tr_ring_free(r);
}

static void test_log_never_shows_secrets(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0};
    uint8_t key[TR_KEY_BYTES];
    char secret_hex[2 * 64 + 1], name_hex[33], piece[17];
    char *path = temp_path();
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    tu_key(key, 5);
    hex(key + 16, 64, secret_hex);
    hex(key, 16, name_hex);
    assert_int_equal(tr_ring_add_key(r, key, T0), 0);
    assert_int_equal(tr_ring_save(r, path), 0);
    assert_int_equal(tr_ring_load(r, path, NULL), 0);
    assert_int_equal(tr_ring_set_rotation_period(r, 60), 0);
    c += 3600 * 1000;
    {
        uint8_t t[TR_TICKET_OVERHEAD];
        size_t len;
        assert_int_equal(tr_ticket_seal(r, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 0, t, sizeof(t),
                                        &len, NULL), 0);
    }
    assert_true(lc.lines >= 2); /* the load and the schedule warning */
    assert_true(strstr(lc.text, "ran out") != NULL);
    /* No 8-byte window of the secret appears in any log line. */
    for (size_t i = 0; i + 16 <= strlen(secret_hex); i += 2) {
        memcpy(piece, secret_hex + i, 16);
        piece[16] = '\0';
        assert_null(strstr(lc.text, piece));
    }
    unlink(path);
    free(path);
    tr_ring_free(r);
}

/* Every operation, with its 1st, 2nd, ... allocation failing: a clean
 * error, no leak, and the ring unchanged and usable. */
static void test_allocation_failures(void **st)
{
    char *path = temp_path();
    int64_t c = (int64_t)T0 * 1000;
    (void)st;
    {
        tr_ring *src = tu_ring(&c);
        assert_int_equal(tr_ring_generate_key(src, T0, NULL), 0);
        assert_int_equal(tr_ring_save(src, path), 0);
        tr_ring_free(src);
    }
    for (int op = 0; op < 8; op++) {
        for (uint64_t fail = 1;; fail++) {
            struct tu_alloc a = {0, 0, 0, 0};
            tr_ring *r = NULL;
            char fp1[17], fp2[17];
            uint8_t key[TR_KEY_BYTES];
            int rc;

            if (op == 0) {
                a.fail_at = fail;
                rc = tr_ring_new_with_allocator(&r, tu_backend(), tu_malloc, tu_free, &a);
                if (rc == 0)
                    tr_ring_free(r);
                else
                    assert_int_equal(rc, TR_E_NOMEM);
                assert_int_equal(a.allocs - (rc != 0), a.frees);
                if (rc == 0)
                    break;
                continue;
            }
            assert_int_equal(tr_ring_new_with_allocator(&r, tu_backend(), tu_malloc, tu_free,
                                                        &a), 0);
            tr_ring_set_clock(r, tu_clock, &c);
            tu_key(key, 9);
            assert_int_equal(tr_ring_add_key(r, key, T0 - 1), 0);
            assert_int_equal(tr_ring_fingerprint(r, fp1, sizeof(fp1)), 0);
            a.fail_at = a.allocs + fail;
            switch (op) {
            case 1: rc = tr_ring_add_key(r, (tu_key(key, 10), key), T0); break;
            case 2: rc = tr_ring_load(r, path, NULL); break;
            case 3: rc = tr_ring_save(r, path); break;
            case 4: rc = tr_ring_remove_key(r, key); break;
            case 5: rc = tr_ring_revoke_key(r, key); break;
            case 6: rc = tr_ring_set_cluster(r, "edge"); break;
            default: rc = tr_ring_load_ex(r, path, TR_LOAD_FORCE, NULL); break;
            }
            a.fail_at = 0;
            if (rc != 0) {
                assert_int_equal(rc, TR_E_NOMEM);
                assert_int_equal(tr_ring_fingerprint(r, fp2, sizeof(fp2)), 0);
                assert_string_equal(fp1, fp2);
                assert_int_equal(tr_ring_generate_key(r, T0 + 5, NULL), 0); /* usable */
            }
            tr_ring_free(r);
            /* The failed allocation returned NULL and was never freed. (A
             * load may succeed without one: the watcher's record of what
             * was loaded is optional.) */
            assert_int_equal(a.allocs - a.failed, a.frees);
            if (rc == 0)
                break;
        }
    }
    unlink(path);
    free(path);
}

static void test_version_and_errors(void **st)
{
    (void)st;
    assert_int_equal(tr_version(), TR_VERSION_NUMBER);
    assert_string_equal(tr_version_string(), TR_VERSION_STRING);
    /* Every code in use has its own name; -9 was never assigned. */
    for (int code = 0; code >= TR_E_EARLY_TLS; code--) {
        const char *s = tr_strerror(code);
        assert_non_null(s);
        if (code == -9) {
            assert_string_equal(s, "unknown error");
            continue;
        }
        assert_string_not_equal(s, "unknown error");
        for (int other = code + 1; other <= 0; other++)
            assert_string_not_equal(s, tr_strerror(other));
    }
    assert_string_equal(tr_strerror(-999), "unknown error");
    assert_string_not_equal(tr_strerror(TR_E_TICKET_SNI), tr_strerror(TR_E_TICKET_ALPN));
    assert_int_equal(tr_key_bytes(), 80);
    assert_int_equal(tr_ticket_max_bytes(), tr_ticket_max_state() + tr_ticket_overhead());
    assert_int_equal(tr_fingerprint_hex(), TR_FINGERPRINT_HEX);
    assert_int_equal(tr_ring_max_keys(), TR_RING_MAX_KEYS);
    assert_int_equal(tr_key_name_bytes(), 16);
}

/* Keys added or generated may activate at most `horizon` after now. */
static void test_activation_horizon(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    const int64_t h = 157680000; /* the default: 5 years */
    uint8_t k[TR_KEY_BYTES], name[16];
    uint32_t n;
    (void)st;
    tu_key(k, 1);
    assert_int_equal(tr_ring_add_key(r, k, T0 + h + 1), TR_E_KEY_ACTIVATION);
    assert_int_equal(tr_ring_add_key(r, k, (int64_t)T0 * 1000), TR_E_KEY_ACTIVATION); /* ms */
    assert_int_equal(tr_ring_generate_key(r, T0 + h + 1, name), TR_E_KEY_ACTIVATION);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(tr_ring_add_key(r, k, T0 + h), 0); /* the boundary is allowed */
    /* The horizon moves with the clock. */
    c += 1000;
    assert_int_equal(tr_ring_generate_key(r, T0 + h + 1, NULL), 0);
    assert_int_equal(tr_ring_generate_key(r, T0 + h + 2, NULL), TR_E_KEY_ACTIVATION);
    /* Pending keys have no time to bound. */
    assert_int_equal(tr_ring_set_activation_horizon(r, 1), 0);
    assert_int_equal(tr_ring_generate_key(r, TR_ACTIVATION_PENDING, NULL), 0);
    assert_int_equal(tr_ring_generate_key(r, T0 + 1 + 1, NULL), 0);
    assert_int_equal(tr_ring_generate_key(r, T0 + 1 + 2, NULL), TR_E_KEY_ACTIVATION);
    /* 0: no bound, but still the format's range. */
    assert_int_equal(tr_ring_set_activation_horizon(r, 0), 0);
    assert_int_equal(tr_ring_generate_key(r, INT64_C(1) << 62, NULL), 0);
    assert_int_equal(tr_ring_generate_key(r, (INT64_C(1) << 62) + 1, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_generate_key(r, TR_ACTIVATION_PENDING - 1, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_generate_key(r, -1, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 5);
    tr_ring_free(r);
}

static int seal_t(tr_ring *r, uint8_t *t, size_t cap, size_t *len)
{
    static const uint8_t state[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    return tr_ticket_seal(r, state, sizeof(state), NULL, 0, NULL, 0, NULL, 0, 0, t, cap, len,
                          NULL);
}

static int open_t(tr_ring *r, const uint8_t *t, size_t len, uint8_t name[16], uint32_t *flags)
{
    uint8_t state[64];
    size_t state_len;
    return tr_ticket_open(r, t, len, NULL, 0, NULL, 0, NULL, 0, state, sizeof(state), &state_len,
                          name, NULL, NULL, flags);
}

/* A pending key decrypts, never encrypts, never retires. */
static void test_pending_key(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *a = tu_ring(&c), *b = tu_ring(&c);
    uint8_t k1[TR_KEY_BYTES], kp[TR_KEY_BYTES], name[16], t[64 + TR_TICKET_OVERHEAD];
    size_t len;
    int64_t act;
    int32_t role;
    uint32_t flags = 9;
    (void)st;
    tu_key(k1, 1);
    tu_key(kp, 2);
    /* Node a got the second phase (kp dated), node b only the first. */
    assert_int_equal(tr_ring_add_key(a, k1, T0), 0);
    assert_int_equal(tr_ring_add_key(a, kp, T0 + 100), 0);
    assert_int_equal(tr_ring_add_key(b, k1, T0), 0);
    assert_int_equal(tr_ring_add_key(b, kp, TR_ACTIVATION_PENDING), 0);
    assert_int_equal(tr_ring_key_info(b, 1, name, &act, &role), 0);
    assert_memory_equal(name, kp, 16);
    assert_true(act == TR_ACTIVATION_PENDING);
    assert_int_equal(role, TR_KEY_PENDING);

    c = (int64_t)(T0 + 200) * 1000;
    assert_int_equal(seal_t(a, t, sizeof(t), &len), 0);
    assert_int_equal(open_t(b, t, len, name, &flags), 0); /* b decrypts with kp */
    assert_memory_equal(name, kp, 16);
    assert_int_equal(flags, 0); /* newer than b's encrypt key: not renewed */
    assert_int_equal(seal_t(b, t, sizeof(t), &len), 0);
    assert_int_equal(open_t(b, t, len, name, NULL), 0);
    assert_memory_equal(name, k1, 16); /* b still seals with k1 */

    /* Ten years on: k1 still encrypts on b, kp is still pending. */
    c = (int64_t)(T0 + 315360000) * 1000;
    assert_int_equal(tr_ring_encrypt_key_name(b, name), 0);
    assert_memory_equal(name, k1, 16);
    assert_int_equal(tr_ring_key_info(b, 0, NULL, NULL, &role), 0);
    assert_int_equal(role, TR_KEY_ENCRYPT);
    assert_int_equal(tr_ring_key_info(b, 1, NULL, NULL, &role), 0);
    assert_int_equal(role, TR_KEY_PENDING);
    tr_ring_free(a);
    tr_ring_free(b);
}

static int tls_key_seen(void *key_state, const uint8_t name[TR_KEY_NAME_BYTES], uint32_t flags,
                        void *arg)
{
    (void)key_state;
    (void)flags;
    memcpy(arg, name, TR_KEY_NAME_BYTES);
    return 0;
}

static void test_revoke_key(void **st)
{
    int64_t c = (int64_t)T0 * 1000;
    tr_ring *r = tu_ring(&c);
    struct log_capture lc = {{0}, 0};
    uint8_t k1[TR_KEY_BYTES], k2[TR_KEY_BYTES], name[16], t[64 + TR_TICKET_OVERHEAD];
    char k2_hex[33], text[16384];
    size_t len, tlen;
    uint32_t n;
    int32_t role;
    tr_stats s = {.size = sizeof(s)};
    int rc;
    (void)st;
    tr_ring_set_log(r, capture, &lc);
    tu_key(k1, 1);
    tu_key(k2, 2);
    hex(k2, 16, k2_hex);
    assert_int_equal(tr_ring_add_key(r, k1, T0 - 100), 0);
    assert_int_equal(tr_ring_add_key(r, k2, T0), 0);
    assert_int_equal(seal_t(r, t, sizeof(t), &tlen), 0);
    assert_int_equal(open_t(r, t, tlen, name, NULL), 0);
    assert_memory_equal(name, k2, 16);
    /* The TLS path finds it too, before. */
    rc = tr_ring_tls_key(r, tu_backend(), k2, tls_key_seen, name);
    assert_true(rc == 0 || rc == TR_E_BACKEND);

    assert_int_equal(tr_ring_revoke_key(r, k2), 0);
    assert_int_equal(open_t(r, t, tlen, name, NULL), TR_E_TICKET_UNKNOWN_KEY);
    assert_int_equal(tr_ring_stats(r, &s), 0);
    assert_int_equal(s.refused_unknown_key, 1);
    if (rc == 0)
        assert_int_equal(tr_ring_tls_key(r, tu_backend(), k2, tls_key_seen, name),
                         TR_E_TICKET_UNKNOWN_KEY);
    /* The older key encrypts again; the revoked one stays listed. */
    assert_int_equal(tr_ring_encrypt_key_name(r, name), 0);
    assert_memory_equal(name, k1, 16);
    assert_int_equal(seal_t(r, t, sizeof(t), &len), 0);
    assert_int_equal(open_t(r, t, len, name, NULL), 0);
    assert_memory_equal(name, k1, 16);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(tr_ring_key_info(r, 1, name, NULL, &role), 0);
    assert_memory_equal(name, k2, 16);
    assert_int_equal(role, TR_KEY_REVOKED);
    assert_int_equal(tr_ring_metrics(r, text, sizeof(text), &len), 0);
    assert_non_null(strstr(text, "ticketring_keys{role=\"revoked\"} 1\n"));
    assert_non_null(strstr(text, "ticketring_keys{role=\"encrypt\"} 1\n"));
    /* Logged once, by name (public), as a warning. */
    assert_non_null(strstr(lc.text, k2_hex));
    assert_non_null(strstr(lc.text, "revoked"));
    n = (uint32_t)lc.lines;
    assert_int_equal(tr_ring_revoke_key(r, k2), 0); /* again: nothing changes */
    assert_int_equal((uint32_t)lc.lines, n);
    assert_int_equal(tr_ring_add_key(r, k2, T0 + 10), TR_E_KEY_DUPLICATE);
    assert_int_equal(tr_ring_revoke_key(r, (uint8_t[16]){9}), TR_E_KEY_NOT_FOUND);
    assert_int_equal(tr_ring_revoke_key(r, NULL), TR_E_INVAL);
    assert_int_equal(tr_ring_revoke_key(NULL, k2), TR_E_INVAL);
    /* Revoking every key leaves nothing to seal with. */
    assert_int_equal(tr_ring_revoke_key(r, k1), 0);
    assert_int_equal(seal_t(r, t, sizeof(t), &len), TR_E_NO_ENCRYPT_KEY);
    assert_int_equal(tr_ring_remove_key(r, k2), 0);
    assert_int_equal(tr_ring_key_count(r, &n), 0);
    assert_int_equal(n, 1);
    tr_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_refuses_bad_backend),
        cmocka_unit_test(test_setters_validate),
        cmocka_unit_test(test_keys_add_remove_info),
        cmocka_unit_test(test_ring_capacity),
        cmocka_unit_test(test_save_load_reload),
        cmocka_unit_test(test_failed_load_keeps_keys),
        cmocka_unit_test(test_log_never_shows_secrets),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_activation_horizon),
        cmocka_unit_test(test_pending_key),
        cmocka_unit_test(test_revoke_key),
        cmocka_unit_test(test_version_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
