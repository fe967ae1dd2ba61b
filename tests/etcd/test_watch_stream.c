/* The etcd gateway's watch stream (backends/etcd/store_etcd.c), fed in
 * every possible split: only an event, a cancel (compaction) or an error
 * means "re-read"; the "created" answer alone never does. */
#include "test_util.h"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

#define HDR "\"header\":{\"cluster_id\":\"1\",\"member_id\":\"2\",\"revision\":\"7\",\"raft_term\":\"2\"}"
static const char created[] = "{\"result\":{" HDR ",\"created\":true}}\n";
static const char event[] =
    "{\"result\":{" HDR ",\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"7\"}}]}}\n";
static const char canceled[] =
    "{\"result\":{" HDR ",\"canceled\":true,\"compact_revision\":\"5\"}}\n";
static const char error[] = "{\"error\":{\"grpc_code\":16,\"message\":\"auth\"}}\n";

/* Feed `s` in two chunks split at `at`; the verdict after each. */
static int feed_split(const char *s, size_t at, int *first)
{
    json_tokener *tok = json_tokener_new();
    int r1, r2 = 0;
    assert_non_null(tok);
    r1 = tre_watch_feed(tok, s, at);
    if (r1 == 0)
        r2 = tre_watch_feed(tok, s + at, strlen(s) - at);
    json_tokener_free(tok);
    *first = r1;
    return r1 == 1 ? 1 : r2;
}

static void test_splits(void **state)
{
    char both[1024];
    size_t cl = strlen(created);
    int first;
    (void)state;

    for (size_t at = 0; at <= cl; at++)
        assert_int_equal(feed_split(created, at, &first), 0);
    snprintf(both, sizeof both, "%s%s", created, event);
    for (size_t at = 0; at <= strlen(both); at++) {
        assert_int_equal(feed_split(both, at, &first), 1);
        /* Never before the event is complete. */
        if (at < strlen(both) - 1)
            assert_int_equal(first, 0);
    }
    snprintf(both, sizeof both, "%s%s", created, canceled);
    for (size_t at = 0; at <= strlen(both); at++)
        assert_int_equal(feed_split(both, at, &first), 1);
    snprintf(both, sizeof both, "%s%s", created, error);
    assert_int_equal(feed_split(both, 3, &first), 1);
}

static void test_odd_streams(void **state)
{
    static const char *const rereads[] = {"]", "{\"result\":{" HDR ",\"canceled\":true}}",
                                          "[1,2]", "{\"result\":{\"events\":[{}]}}", "}}"};
    static const char *const quiet[] = {"", "\n", "{\"result\":{\"events\":[]}}",
                                        "{\"result\":{\"canceled\":false}}"};
    int first;
    (void)state;

    for (size_t i = 0; i < sizeof rereads / sizeof rereads[0]; i++)
        assert_int_equal(feed_split(rereads[i], 0, &first), 1);
    for (size_t i = 0; i < sizeof quiet / sizeof quiet[0]; i++)
        assert_int_equal(feed_split(quiet[i], 0, &first), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits),
        cmocka_unit_test(test_odd_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
