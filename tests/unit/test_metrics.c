#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 INT64_C(1700000000)

static char *render(tr_ring *r)
{
    size_t len = 0, len2 = 0;
    char *buf;

    assert_int_equal(tr_ring_metrics(r, NULL, 0, &len), TR_E_BUFFER_TOO_SMALL);
    buf = malloc(len + 1);
    assert_non_null(buf);
    /* One byte short (no room for the NUL) is still too small. */
    assert_int_equal(tr_ring_metrics(r, buf, len, &len2), TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(len2, len);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(tr_ring_metrics(r, buf, len + 1, &len2), 0);
    assert_int_equal(len2, len);
    assert_int_equal(strlen(buf), len);
    return buf;
}

static void assert_line(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof(want), "\n%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("missing line: %s\n--- in:\n%s", line, text);
}

static void test_exposition(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    uint8_t k1[TR_KEY_BYTES], k2[TR_KEY_BYTES];
    char fp[TR_FINGERPRINT_HEX + 1], line[256], *text;
    (void)st;
    tu_key(k1, 1);
    tu_key(k2, 2);
    assert_int_equal(tr_ring_add_key(r, k1, T0 - 10), 0);
    assert_int_equal(tr_ring_add_key(r, k2, T0 + 3600), 0);
    assert_int_equal(tr_ring_record(r, TR_EVENT_FULL_HANDSHAKE), 0);
    assert_int_equal(tr_ring_record(r, TR_EVENT_RESUMED_HANDSHAKE), 0);
    assert_int_equal(tr_ring_record(r, TR_EVENT_RESUMED_HANDSHAKE), 0);
    assert_int_equal(tr_ring_record(r, TR_E_TICKET_SNI), 0);
    assert_int_equal(tr_ring_fingerprint(r, fp, sizeof(fp)), 0);

    text = render(r);
    assert_line(text, "ticketring_handshakes_total{type=\"full\"} 1");
    assert_line(text, "ticketring_handshakes_total{type=\"resumed\"} 2");
    assert_line(text, "ticketring_tickets_refused_total{reason=\"sni\"} 1");
    assert_line(text, "ticketring_tickets_refused_total{reason=\"unbound\"} 0");
    assert_line(text, "# TYPE ticketring_tickets_refused_total counter");
    assert_line(text, "ticketring_keys{role=\"encrypt\"} 1");
    assert_line(text, "ticketring_keys{role=\"pending\"} 1");
    assert_line(text, "ticketring_encrypt_key_activation_timestamp_seconds 1699999990");
    assert_line(text, "ticketring_newest_key_activation_timestamp_seconds 1700003600");
    /* The key's name (public: in every ticket) as lowercase hex. */
    snprintf(line, sizeof(line), "ticketring_keyset_info{fingerprint=\"%s\",encrypt_key=\"", fp);
    for (int i = 0; i < TR_KEY_NAME_BYTES; i++)
        snprintf(line + strlen(line), 3, "%02x", k1[i]);
    strcat(line, "\"} 1");
    assert_line(text, line);
    /* No secret byte sequence, in hex, anywhere. */
    for (int i = TR_KEY_NAME_BYTES; i + 4 <= TR_KEY_BYTES; i += 4) {
        char hex[9];
        snprintf(hex, sizeof(hex), "%02x%02x%02x%02x", k1[i], k1[i + 1], k1[i + 2], k1[i + 3]);
        assert_null(strstr(text, hex));
    }
    /* Every line is a comment or `name{labels} value` of ours. */
    for (char *p = text; *p != '\0'; p = strchr(p, '\n') + 1)
        assert_true(strncmp(p, "# ", 2) == 0 || strncmp(p, "ticketring_", 11) == 0);
    assert_int_equal(text[strlen(text) - 1], '\n');
    /* No rotation period and no maximum encrypt age: no expectation. */
    assert_null(strstr(text, "ticketring_schedule_remaining_seconds"));
    free(text);

    assert_int_equal(tr_ring_set_rotation_period(r, 86400), 0);
    text = render(r);
    assert_line(text, "ticketring_schedule_remaining_seconds 90000"); /* T0+3600+86400-T0 */
    free(text);
    assert_int_equal(tr_ring_set_max_encrypt_age(r, 172800), 0);
    text = render(r);
    assert_line(text, "ticketring_schedule_remaining_seconds 176400");
    free(text);
    /* Under the stop policy sealing ends at the period already. */
    assert_int_equal(tr_ring_set_exhausted_policy(r, TR_EXHAUSTED_STOP), 0);
    text = render(r);
    assert_line(text, "ticketring_schedule_remaining_seconds 90000");
    free(text);
    assert_int_equal(tr_ring_set_exhausted_policy(r, TR_EXHAUSTED_KEEP), 0);
    /* The schedule moves on: the pending key encrypts. */
    c = (T0 + 3600) * 1000;
    text = render(r);
    assert_line(text, "ticketring_keys{role=\"decrypt\"} 1");
    assert_line(text, "ticketring_keys{role=\"pending\"} 0");
    free(text);
    tr_ring_free(r);
}

/* 0-RTT: off shows a zero maximum and no cache; on shows the cache. */
static void test_early_data(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    tr_replay *rp;
    uint8_t v[32] = {1};
    char *text;
    (void)st;
    assert_int_equal(tr_ring_record(r, TR_EVENT_EARLY_ACCEPTED), 0);
    assert_int_equal(tr_ring_record(r, TR_E_REPLAY), 0);
    assert_int_equal(tr_ring_record(r, TR_E_REPLAY), 0);
    text = render(r);
    assert_line(text, "ticketring_early_data_max_bytes 0");
    assert_line(text, "ticketring_early_data_accepted_total 1");
    assert_line(text, "ticketring_early_data_refused_total{reason=\"replay\"} 2");
    assert_line(text, "ticketring_early_data_refused_total{reason=\"startup\"} 0");
    assert_line(text, "# TYPE ticketring_early_data_refused_total counter");
    assert_null(strstr(text, "ticketring_replay_entries"));
    free(text);

    assert_int_equal(tr_replay_new(&rp, 1000, 20000), 0);
    assert_int_equal(tr_replay_set_clock(rp, tu_clock, &c), 0);
    assert_int_equal(tr_ring_set_early_data(r, 16384, rp), 0);
    assert_int_equal(tr_replay_check(rp, v, sizeof(v)), TR_E_REPLAY_STARTUP);
    text = render(r);
    assert_line(text, "ticketring_early_data_max_bytes 16384");
    assert_line(text, "ticketring_replay_entries 1");
    assert_line(text, "ticketring_replay_window_seconds 20");
    assert_line(text, "# TYPE ticketring_replay_slots gauge");
    free(text);
    tr_ring_free(r);
    tr_replay_free(rp);
}

static void test_empty_ring(void **st)
{
    int64_t c = T0 * 1000;
    tr_ring *r = tu_ring(&c);
    size_t len;
    char *text;
    (void)st;
    text = render(r);
    assert_non_null(strstr(text, "encrypt_key=\"\"} 1\n"));
    assert_null(strstr(text, "encrypt_key_activation"));
    free(text);
    assert_int_equal(tr_ring_metrics(NULL, NULL, 0, &len), TR_E_INVAL);
    assert_int_equal(tr_ring_metrics(r, NULL, 5, &len), TR_E_INVAL);
    assert_int_equal(tr_ring_metrics(r, NULL, 0, NULL), TR_E_INVAL);
    tr_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_empty_ring),
        cmocka_unit_test(test_early_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
