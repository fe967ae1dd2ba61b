/* The writer's decision function and its metadata section
 * (backends/etcd/plan.c, plan_text.c): a table of single steps, a
 * simulated clock over many periods (with and without a node that never
 * catches up), and the section's text round trips and refusals. */
#define _GNU_SOURCE
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

#define PEND TR_ACTIVATION_PENDING
#define MAXN 12

/* P = 100, lead 30, max_wait 90, lifetime 250, skew 10, M = 1 unless a case
 * says otherwise. */
static struct tre_plan_params params(uint32_t ahead)
{
    struct tre_plan_params p = {.period_s = 100,
                                .lead_s = 30,
                                .max_wait_s = 90,
                                .lifetime_s = 250,
                                .skew_s = 10,
                                .ahead = ahead ? ahead : 1};
    return p;
}

static const char *const node_ids[MAXN] = {"n0", "n1", "n2", "n3", "n4",  "n5",
                                           "n6", "n7", "n8", "n9", "n10", "n11"};

struct kspec {
    uint8_t tag; /* the name is 16 bytes of it */
    int64_t act;
    int32_t revoked;
    uint64_t added_serial;
    int64_t added_at;
};

static void fill_doc(struct tre_plan_doc *doc, uint64_t serial, const struct kspec *k, uint32_t n)
{
    memset(doc, 0, sizeof *doc);
    doc->serial = serial;
    doc->n_keys = n;
    for (uint32_t i = 0; i < n; i++) {
        memset(doc->keys[i].name, k[i].tag, TR_KEY_NAME_BYTES);
        doc->keys[i].activation = k[i].act;
        doc->keys[i].revoked = k[i].revoked;
        doc->keys[i].added_serial = k[i].added_serial;
        doc->keys[i].added_at = k[i].added_at;
    }
}

static size_t fill_nodes(struct tre_plan_node *nodes, const uint64_t *serials, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        nodes[i].id = node_ids[i];
        nodes[i].serial = serials[i];
    }
    return n;
}

struct tcase {
    const char *what;
    uint64_t serial;
    struct kspec keys[6];
    uint32_t n_keys;
    uint64_t nodes[MAXN];
    uint32_t n_nodes;
    int64_t now;
    uint32_t ahead;
    /* expected */
    int rc;
    int32_t add;
    int32_t activate;
    int64_t activate_at;
    int32_t forced;
    uint32_t acked, n_lagging;
    const char *lagging; /* listed ids, comma-separated */
    int32_t adopt[4];
    uint32_t n_adopt;
    int32_t retire[4];
    uint32_t n_retire;
    int64_t next_at;
};

static const struct tcase cases[] = {
    {.what = "bootstrap on an empty store",
     .serial = 0, .now = 1000,
     .rc = 1, .add = TRE_PLAN_ADD_ACTIVE, .activate = -1},
    {.what = "bootstrap when every key is revoked; nothing else, not even retirement",
     .serial = 5, .keys = {{1, 100, 1, 0, 0}, {2, 400, 1, 0, 0}, {3, PEND, 1, 0, 0}}, .n_keys = 3,
     .now = 5000,
     .rc = 1, .add = TRE_PLAN_ADD_ACTIVE, .activate = -1},
    {.what = "an unrecorded pending key is adopted, not activated, and counts as ahead",
     .serial = 5, .keys = {{1, 900, 0, 0, 0}, {2, PEND, 0, 0, 0}}, .n_keys = 2,
     .nodes = {5, 5}, .n_nodes = 2, .now = 1000,
     .rc = 1, .activate = -1, .adopt = {1}, .n_adopt = 1},
    {.what = "adopted keys are skipped; a recorded one is activated in the same step",
     .serial = 7, .keys = {{1, 800, 0, 0, 0}, {2, PEND, 0, 0, 0}, {3, PEND, 0, 6, 900}}, .n_keys = 3,
     .nodes = {7, 6}, .n_nodes = 2, .now = 1000,
     .rc = 1, .activate = 2, .activate_at = 1000, .acked = 2, .adopt = {1}, .n_adopt = 1,
     .next_at = 1261},
    {.what = "phase 1 adds when nothing is ahead",
     .serial = 5, .keys = {{1, 900, 0, 0, 0}}, .n_keys = 1, .nodes = {5}, .n_nodes = 1,
     .now = 1000,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = -1},
    {.what = "no add while a future key exists; look again when it activates",
     .serial = 5, .keys = {{1, 900, 0, 0, 0}, {2, 1100, 0, 4, 800}}, .n_keys = 2,
     .nodes = {5}, .n_nodes = 1, .now = 1000,
     .rc = 0, .activate = -1, .next_at = 1100},
    {.what = "wait before lead even when every node holds the key",
     .serial = 6, .keys = {{1, 900, 0, 0, 0}, {2, PEND, 0, 6, 990}}, .n_keys = 2,
     .nodes = {6, 6, 6}, .n_nodes = 3, .now = 1000,
     .rc = 0, .activate = -1, .acked = 3, .next_at = 1020},
    {.what = "wait for acknowledgements within max_wait, lagging listed",
     .serial = 7, .keys = {{1, 900, 0, 0, 0}, {2, PEND, 0, 6, 960}}, .n_keys = 2,
     .nodes = {7, 5, 6, 4}, .n_nodes = 4, .now = 1000,
     .rc = 0, .activate = -1, .acked = 2, .n_lagging = 2, .lagging = "n1,n3", .next_at = 1001},
    {.what = "all acked: activate at newest + period, in the future",
     .serial = 7, .keys = {{1, 950, 0, 0, 0}, {2, PEND, 0, 6, 960}}, .n_keys = 2,
     .nodes = {6, 7, 6}, .n_nodes = 3, .now = 1000,
     .rc = 1, .activate = 1, .activate_at = 1050, .acked = 3, .next_at = 1050},
    {.what = "all acked after due: activate now, and phase 1 adds in the same step",
     .serial = 7, .keys = {{1, 800, 0, 0, 0}, {2, PEND, 0, 6, 900}}, .n_keys = 2,
     .nodes = {6, 7}, .n_nodes = 2, .now = 1000,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = 1, .activate_at = 1000, .acked = 2,
     .next_at = 1261},
    {.what = "a node with a higher serial counts as acknowledged",
     .serial = 9, .keys = {{1, 800, 0, 0, 0}, {2, PEND, 0, 6, 900}}, .n_keys = 2,
     .nodes = {9, 42}, .n_nodes = 2, .now = 1000,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = 1, .activate_at = 1000, .acked = 2,
     .next_at = 1261},
    {.what = "no live nodes: activated, not forced",
     .serial = 7, .keys = {{1, 800, 0, 0, 0}, {2, PEND, 0, 6, 900}}, .n_keys = 2,
     .now = 1000,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = 1, .activate_at = 1000, .next_at = 1261},
    {.what = "forced after max_wait and due: 10 lagging, 8 listed, all counted",
     .serial = 8, .keys = {{1, 800, 0, 0, 0}, {2, PEND, 0, 6, 900}}, .n_keys = 2,
     .nodes = {5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 6, 8}, .n_nodes = 12, .now = 1000,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = 1, .activate_at = 1000, .forced = 1,
     .acked = 2, .n_lagging = 10, .lagging = "n0,n1,n2,n3,n4,n5,n6,n7", .next_at = 1261},
    {.what = "past max_wait but before due: keep waiting for the lagging node",
     .serial = 8, .keys = {{1, 980, 0, 0, 0}, {2, PEND, 0, 6, 900}}, .n_keys = 2,
     .nodes = {5, 8}, .n_nodes = 2, .now = 1000,
     .rc = 0, .activate = -1, .acked = 1, .n_lagging = 1, .lagging = "n0", .next_at = 1001},
    {.what = "equal added serials: the lowest name goes first",
     .serial = 8, .keys = {{1, 800, 0, 0, 0}, {9, PEND, 0, 6, 900}, {3, PEND, 0, 6, 900}},
     .n_keys = 3, .nodes = {8}, .n_nodes = 1, .now = 1000,
     .rc = 1, .activate = 2, .activate_at = 1000, .acked = 1, .next_at = 1261},
    {.what = "retirement boundary: successor + lifetime + skew == now keeps the key",
     .serial = 9, .keys = {{1, 100, 0, 0, 0}, {2, 400, 0, 0, 0}, {3, 2000, 0, 5, 50}}, .n_keys = 3,
     .nodes = {9}, .n_nodes = 1, .now = 660,
     .rc = 0, .activate = -1, .next_at = 661},
    {.what = "retirement boundary: one second later it goes",
     .serial = 9, .keys = {{1, 100, 0, 0, 0}, {2, 400, 0, 0, 0}, {3, 2000, 0, 5, 50}}, .n_keys = 3,
     .nodes = {9}, .n_nodes = 1, .now = 661,
     .rc = 1, .activate = -1, .retire = {0}, .n_retire = 1, .next_at = 2000},
    {.what = "a revoked dated key is no successor, and is retired by the same rule",
     .serial = 9,
     .keys = {{1, 100, 0, 0, 0}, {2, 300, 1, 0, 0}, {3, 400, 0, 0, 0}, {4, 2000, 0, 5, 50}},
     .n_keys = 4, .nodes = {9}, .n_nodes = 1, .now = 600,
     .rc = 0, .activate = -1, .next_at = 661},
    {.what = "a revoked dated key retired with its predecessor",
     .serial = 9,
     .keys = {{1, 100, 0, 0, 0}, {2, 300, 1, 0, 0}, {3, 400, 0, 0, 0}, {4, 2000, 0, 5, 50}},
     .n_keys = 4, .nodes = {9}, .n_nodes = 1, .now = 661,
     .rc = 1, .activate = -1, .retire = {0, 1}, .n_retire = 2, .next_at = 2000},
    {.what = "a revoked pending key is never dropped, adopted or counted as ahead",
     .serial = 9, .keys = {{1, 100, 0, 0, 0}, {2, PEND, 1, 0, 0}, {3, 400, 0, 0, 0}}, .n_keys = 3,
     .nodes = {9}, .n_nodes = 1, .now = 5000,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = -1, .retire = {0}, .n_retire = 1},
    {.what = "a revoked newest key does not push the next activation back",
     .serial = 7, .keys = {{1, 900, 0, 0, 0}, {2, 950, 1, 0, 0}, {3, PEND, 0, 6, 900}}, .n_keys = 3,
     .nodes = {7, 7}, .n_nodes = 2, .now = 1000,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = 2, .activate_at = 1000, .acked = 2,
     .next_at = 1261},
    {.what = "M = 2: one future key is not enough",
     .serial = 5, .keys = {{1, 900, 0, 0, 0}, {2, 1100, 0, 4, 800}}, .n_keys = 2,
     .nodes = {5}, .n_nodes = 1, .now = 1000, .ahead = 2,
     .rc = 1, .add = TRE_PLAN_ADD_PENDING, .activate = -1, .next_at = 1100},
    {.what = "M = 2: a future key and a pending one are enough; the pending one waits for lead",
     .serial = 6, .keys = {{1, 900, 0, 0, 0}, {2, 1100, 0, 4, 800}, {3, PEND, 0, 6, 990}},
     .n_keys = 3, .nodes = {6}, .n_nodes = 1, .now = 1000, .ahead = 2,
     .rc = 0, .activate = -1, .acked = 1, .next_at = 1020},
    {.what = "M = 2: the second key is dated a period after the future one",
     .serial = 6, .keys = {{1, 900, 0, 0, 0}, {2, 1100, 0, 4, 800}, {3, PEND, 0, 6, 960}},
     .n_keys = 3, .nodes = {6}, .n_nodes = 1, .now = 1000, .ahead = 2,
     .rc = 1, .activate = 2, .activate_at = 1200, .acked = 1, .next_at = 1100},
};

static void check_lagging(const struct tcase *c, const struct tre_plan_step *st)
{
    char got[256] = "";
    uint32_t listed = st->n_lagging < TRE_PLAN_MAX_LAGGING ? st->n_lagging : TRE_PLAN_MAX_LAGGING;
    for (uint32_t i = 0; i < listed; i++) {
        if (i > 0)
            strcat(got, ",");
        strcat(got, st->lagging[i]);
    }
    assert_string_equal(got, c->lagging ? c->lagging : "");
}

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct tcase *c = &cases[i];
        struct tre_plan_doc doc;
        struct tre_plan_node nodes[MAXN];
        struct tre_plan_params p = params(c->ahead);
        struct tre_plan_step st;

        print_message("# case %zu: %s\n", i, c->what);
        fill_doc(&doc, c->serial, c->keys, c->n_keys);
        size_t n = fill_nodes(nodes, c->nodes, c->n_nodes);
        memset(&st, 0xa5, sizeof st);
        assert_int_equal(tre_plan(&doc, nodes, n, c->now, &p, &st), c->rc);
        assert_int_equal(st.add, c->add);
        assert_int_equal(st.activate, c->activate);
        if (c->activate >= 0)
            assert_int_equal(st.activate_at, c->activate_at);
        assert_int_equal(st.forced, c->forced);
        assert_int_equal(st.acked, c->acked);
        assert_int_equal(st.n_lagging, c->n_lagging);
        check_lagging(c, &st);
        assert_int_equal(st.n_adopt, c->n_adopt);
        for (uint32_t j = 0; j < c->n_adopt; j++)
            assert_int_equal(st.adopt[j], c->adopt[j]);
        assert_int_equal(st.n_retire, c->n_retire);
        for (uint32_t j = 0; j < c->n_retire; j++)
            assert_int_equal(st.retire[j], c->retire[j]);
        assert_int_equal(st.next_at, c->next_at);
    }
}

static void test_deterministic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct tcase *c = &cases[i];
        struct tre_plan_doc doc, copy;
        struct tre_plan_node nodes[MAXN];
        struct tre_plan_params p = params(c->ahead);
        struct tre_plan_step a, b;

        fill_doc(&doc, c->serial, c->keys, c->n_keys);
        copy = doc;
        size_t n = fill_nodes(nodes, c->nodes, c->n_nodes);
        memset(&a, 0x00, sizeof a);
        memset(&b, 0xff, sizeof b);
        assert_int_equal(tre_plan(&doc, nodes, n, c->now, &p, &a),
                         tre_plan(&doc, nodes, n, c->now, &p, &b));
        assert_memory_equal(&a, &b, sizeof a);
        assert_memory_equal(&doc, &copy, sizeof doc); /* the input is not touched */
    }
}

static void test_invalid(void **state)
{
    struct tre_plan_doc doc;
    struct tre_plan_node nodes[1] = {{"n0", 5}};
    struct tre_plan_step st;
    struct tre_plan_params p;
    const struct kspec k[] = {{1, 900, 0, 0, 0}};
    (void)state;

    fill_doc(&doc, 5, k, 1);
    p = params(1);
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), 1);

    p = params(1), p.period_s = 0;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    p = params(1), p.lead_s = -1;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    p = params(1), p.max_wait_s = p.lead_s - 1;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    p = params(1), p.lifetime_s = 0;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    p = params(1), p.skew_s = -1;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    p = params(1), p.ahead = 0;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);

    p = params(1);
    assert_int_equal(tre_plan(NULL, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    assert_int_equal(tre_plan(&doc, NULL, 1, 1000, &p, &st), TR_E_INVAL);
    assert_int_equal(tre_plan(&doc, NULL, 0, 1000, &p, &st), 1);
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, NULL, &st), TR_E_INVAL);
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, NULL), TR_E_INVAL);
    assert_int_equal(tre_plan(&doc, nodes, 1, PEND, &p, &st), TR_E_INVAL);
    nodes[0].id = NULL;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    nodes[0].id = "n0";
    doc.n_keys = TRE_PLAN_MAX_KEYS + 1;
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
    fill_doc(&doc, 0, k, 1); /* keys in "no document" */
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), TR_E_INVAL);
}

/* Times at the edges of int64: nothing overflows (UBSan would say), and a
 * time that saturates is never written as a date (it would read as
 * pending) nor counted as a retirement. */
static void test_overflow(void **state)
{
    struct tre_plan_doc doc;
    struct tre_plan_node nodes[1] = {{"n0", 9}};
    struct tre_plan_step st;
    struct tre_plan_params p = {.period_s = INT64_MAX,
                                .lead_s = INT64_MAX,
                                .max_wait_s = INT64_MAX,
                                .lifetime_s = INT64_MAX,
                                .skew_s = INT64_MAX,
                                .ahead = UINT32_MAX};
    (void)state;

    /* Huge params: the pending key is never ready; no retirement. */
    const struct kspec a[] = {{1, 100, 0, 0, 0}, {2, 400, 0, 0, 0}, {3, PEND, 0, 6, 500}};
    fill_doc(&doc, 9, a, 3);
    assert_int_equal(tre_plan(&doc, nodes, 1, PEND - 1, &p, &st), 1);
    assert_int_equal(st.activate, -1);
    assert_int_equal(st.n_retire, 0);
    assert_int_equal(st.add, TRE_PLAN_ADD_PENDING);
    assert_int_equal(st.next_at, 0);

    /* Newest key near the end of time: due saturates; the key stays pending. */
    p = params(1);
    const struct kspec b[] = {{1, PEND - 1, 0, 0, 0}, {2, PEND, 0, 6, 0}};
    fill_doc(&doc, 9, b, 2);
    assert_int_equal(tre_plan(&doc, nodes, 1, PEND - 1, &p, &st), 0);
    assert_int_equal(st.activate, -1);

    /* Forced with a newest key near the end: due saturates, never forced. */
    nodes[0].serial = 1;
    assert_int_equal(tre_plan(&doc, nodes, 1, PEND - 1, &p, &st), 0);
    assert_int_equal(st.activate, -1);
    assert_int_equal(st.n_lagging, 1);

    /* Added at the end of time: never ready; the retirement time of a key
     * whose successor is at the end saturates. */
    nodes[0].serial = 9;
    const struct kspec c[] = {{1, 0, 0, 0, 0}, {2, PEND - 2, 0, 0, 0}, {3, PEND, 0, 6, PEND - 5}};
    fill_doc(&doc, 9, c, 3);
    assert_int_equal(tre_plan(&doc, nodes, 1, 1000, &p, &st), 0);
    assert_int_equal(st.next_at, PEND - 2);
    assert_int_equal(st.n_retire, 0);

    /* The far past: activations at INT64_MIN, now negative. */
    const struct kspec d[] = {{1, INT64_MIN, 0, 0, 0}, {2, INT64_MIN + 1, 1, 0, 0},
                              {3, PEND, 0, 6, INT64_MIN}};
    fill_doc(&doc, 9, d, 3);
    assert_int_equal(tre_plan(&doc, nodes, 1, INT64_MIN, &p, &st), 0);
    assert_int_equal(tre_plan(&doc, nodes, 1, -5, &p, &st), 1);
    assert_int_equal(st.activate, 2);
    assert_int_equal(st.activate_at, -5);
}

/* ---- simulation ---- */

struct sim {
    struct tre_plan_doc doc;
    struct tre_plan_node nodes[4];
    size_t n_nodes;
    int stuck; /* node n3 heartbeats but never loads anything */
    uint32_t next_name;
    int64_t added_times[256];
    uint32_t n_added;
    uint32_t activations, forced;
    uint64_t writes;
};

static void sim_remove(struct tre_plan_doc *doc, const struct tre_plan_step *st)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        int gone = 0;
        for (uint32_t j = 0; j < st->n_retire; j++)
            gone |= st->retire[j] == (int32_t)i;
        if (!gone)
            doc->keys[w++] = doc->keys[i];
    }
    doc->n_keys = w;
}

static void sim_apply(struct sim *s, const struct tre_plan_step *st, int64_t now,
                      const struct tre_plan_params *p)
{
    struct tre_plan_doc *doc = &s->doc;
    for (uint32_t j = 0; j < st->n_adopt; j++) {
        doc->keys[st->adopt[j]].added_serial = doc->serial;
        doc->keys[st->adopt[j]].added_at = now;
    }
    if (st->activate >= 0) {
        struct tre_plan_key *k = &doc->keys[st->activate];
        assert_true(k->activation == PEND);
        assert_true(st->activate_at >= now);
        assert_true(st->activate_at >= k->added_at + p->lead_s);
        if (st->forced) {
            assert_true(now >= k->added_at + p->max_wait_s);
            assert_true(st->n_lagging > 0);
            doc->forced_total++;
            doc->last_forced_at = now;
            memcpy(doc->last_forced_name, k->name, TR_KEY_NAME_BYTES);
            doc->last_forced_n_lagging = st->n_lagging;
            memset(doc->last_forced_lagging, 0, sizeof doc->last_forced_lagging);
            for (uint32_t i = 0; i < st->n_lagging && i < TRE_PLAN_MAX_LAGGING; i++)
                snprintf(doc->last_forced_lagging[i], TRE_NODE_ID_MAX + 1, "%s", st->lagging[i]);
            s->forced++;
        } else {
            /* The safety property: nobody encrypts with a key a live node lacks. */
            for (size_t i = 0; i < s->n_nodes; i++)
                assert_true(s->nodes[i].serial >= k->added_serial);
        }
        k->activation = st->activate_at;
        s->activations++;
    }
    sim_remove(doc, st);
    if (st->add != TRE_PLAN_ADD_NONE) {
        struct tre_plan_key *k = &doc->keys[doc->n_keys++];
        assert_true(doc->n_keys <= TRE_PLAN_MAX_KEYS);
        memset(k, 0, sizeof *k);
        s->next_name++;
        memcpy(k->name, &s->next_name, sizeof s->next_name);
        k->name[15] = 0x5a;
        k->activation = st->add == TRE_PLAN_ADD_ACTIVE ? now : PEND;
        k->added_serial = doc->serial + 1;
        k->added_at = now;
        s->added_times[s->n_added++] = now;
    }
    doc->serial++;
    s->writes++;
}

/* The section survives every document the writer produces. */
static void sim_section_round_trip(const struct tre_plan_doc *doc)
{
    char buf[TRE_PLAN_SECTION_MAX];
    size_t len;
    struct tre_plan_doc back = *doc;

    assert_int_equal(tre_plan_format(doc, buf, sizeof buf, &len), 0);
    for (uint32_t i = 0; i < back.n_keys; i++)
        back.keys[i].added_serial = 0, back.keys[i].added_at = 0;
    back.forced_total = 0;
    assert_int_equal(tre_plan_parse(buf, len, &back), 0);
    assert_memory_equal(&back, doc, sizeof back);
}

static int has_encrypt_key(const struct tre_plan_doc *doc, int64_t now)
{
    for (uint32_t i = 0; i < doc->n_keys; i++)
        if (!doc->keys[i].revoked && doc->keys[i].activation <= now)
            return 1;
    return 0;
}

/* every_tick: plan every second; otherwise only when the glue would: after
 * a write, when a heartbeat changes, and at next_at. Both must agree. */
static void simulate(struct sim *s, int every_tick, int stuck)
{
    const struct tre_plan_params p = params(1);
    const int64_t t0 = 1000, periods = 50;
    int64_t next_at = 0, catch_up = -1;
    int replan = 1;
    uint32_t bound = (uint32_t)((p.lifetime_s + p.skew_s) / p.period_s) + 3 + p.ahead;

    memset(s, 0, sizeof *s);
    s->n_nodes = stuck ? 4 : 3;
    s->stuck = stuck;
    for (size_t i = 0; i < s->n_nodes; i++)
        s->nodes[i].id = node_ids[i];

    for (int64_t t = t0; t < t0 + periods * p.period_s; t++) {
        if (t == catch_up) {
            for (size_t i = 0; i < 3; i++)
                s->nodes[i].serial = s->doc.serial;
            replan = 1;
        }
        if (every_tick || replan || (next_at != 0 && t >= next_at)) {
            int rc = 1;
            for (int iter = 0; iter < 8 && rc == 1; iter++) {
                struct tre_plan_step st;
                rc = tre_plan(&s->doc, s->nodes, s->n_nodes, t, &p, &st);
                assert_true(rc == 0 || rc == 1);
                next_at = st.next_at;
                if (rc == 1) {
                    sim_apply(s, &st, t, &p);
                    sim_section_round_trip(&s->doc);
                    catch_up = t + 1;
                }
            }
            assert_int_equal(rc, 0); /* a few steps settle it */
            assert_true(next_at != 0); /* time alone always changes something later */
            replan = 0;
        }
        assert_true(has_encrypt_key(&s->doc, t));
        assert_true(s->doc.n_keys <= bound);
    }

    /* One key per period: the bootstrap period holds the first active key
     * and the first pending one. */
    uint32_t per[64] = {0};
    for (uint32_t i = 0; i < s->n_added; i++)
        per[(s->added_times[i] - t0) / p.period_s]++;
    assert_int_equal(per[0], 2);
    for (int64_t k = 1; k < periods; k++)
        assert_int_equal(per[k], 1);
    if (stuck)
        assert_int_equal(s->forced, s->activations);
    else
        assert_int_equal(s->forced, 0);
}

static void test_simulation(void **state)
{
    struct sim a, b;
    (void)state;
    for (int stuck = 0; stuck <= 1; stuck++) {
        simulate(&a, 1, stuck);
        simulate(&b, 0, stuck);
        /* Planning only at next_at (and on changes) misses nothing. */
        assert_int_equal(a.writes, b.writes);
        assert_memory_equal(&a.doc, &b.doc, sizeof a.doc);
        assert_true(a.activations >= 49);
        if (stuck) {
            assert_int_equal(a.doc.last_forced_n_lagging, 1);
            assert_string_equal(a.doc.last_forced_lagging[0], "n3");
        }
    }
}

/* ---- the section ---- */

static const char checksum_line[] =
    "checksum sha256 17ad18c179f5b8713bc19247396ab5f1bc69831473cbaf39ad97680784fcc792\n";

static void section_doc(struct tre_plan_doc *doc)
{
    const struct kspec k[] = {{0x11, 900, 0, 3, 850}, {0x22, PEND, 0, 0, 0}, {0xab, PEND, 1, 7, 1950}};
    fill_doc(doc, 8, k, 3);
    doc->forced_total = 3;
    doc->last_forced_at = 1700000000;
    memset(doc->last_forced_name, 0xcd, TR_KEY_NAME_BYTES);
    doc->last_forced_n_lagging = 2;
    strcpy(doc->last_forced_lagging[0], "edge-1.fra");
    strcpy(doc->last_forced_lagging[1], "edge_2");
}

static const char section_text[] =
    "plan 1\n"
    "forced 3 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 2 edge-1.fra edge_2\n"
    "added 11111111111111111111111111111111 3 850\n"
    "added abababababababababababababababab 7 1950\n";

static void test_section_round_trip(void **state)
{
    struct tre_plan_doc doc, back;
    char buf[TRE_PLAN_SECTION_MAX];
    size_t len = 0;
    (void)state;

    section_doc(&doc);
    assert_int_equal(tre_plan_format(&doc, buf, sizeof buf, &len), 0);
    assert_int_equal(len, strlen(section_text));
    assert_memory_equal(buf, section_text, len);
    assert_int_equal(buf[len], '\0');

    /* Too small: the size needed, nothing promised about buf. */
    assert_int_equal(tre_plan_format(&doc, buf, len - 1, &len), TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, strlen(section_text));
    assert_int_equal(tre_plan_format(&doc, NULL, 0, &len), TR_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, strlen(section_text));
    assert_int_equal(tre_plan_format(&doc, buf, len, &len), 0); /* exact fit, no NUL */

    /* Parse into the same keys with stale records: the section wins. */
    back = doc;
    back.keys[0].added_serial = 99, back.keys[1].added_serial = 98, back.keys[1].added_at = 5;
    back.forced_total = 0, back.last_forced_n_lagging = 0;
    memset(back.last_forced_lagging, 0, sizeof back.last_forced_lagging);
    assert_int_equal(tre_plan_parse(section_text, strlen(section_text), &back), 0);
    assert_memory_equal(&back, &doc, sizeof doc);

    /* Nothing forced yet: the line is just the total. */
    doc.forced_total = 0, doc.last_forced_at = 0, doc.last_forced_n_lagging = 0;
    memset(doc.last_forced_name, 0, sizeof doc.last_forced_name);
    memset(doc.last_forced_lagging, 0, sizeof doc.last_forced_lagging);
    assert_int_equal(tre_plan_format(&doc, buf, sizeof buf, &len), 0);
    assert_true(len > 16 && memcmp(buf, "plan 1\nforced 0\nadded ", 22) == 0);
    back = doc;
    back.forced_total = 5;
    assert_int_equal(tre_plan_parse(buf, len, &back), 0);
    assert_memory_equal(&back, &doc, sizeof doc);

    /* An empty section: nothing recorded. */
    assert_int_equal(tre_plan_parse("", 0, &back), 0);
    assert_int_equal(back.forced_total, 0);
    for (uint32_t i = 0; i < back.n_keys; i++)
        assert_int_equal(back.keys[i].added_serial, 0);

    /* Refused inputs. */
    section_doc(&doc);
    strcpy(doc.last_forced_lagging[1], "bad id");
    assert_int_equal(tre_plan_format(&doc, buf, sizeof buf, &len), TR_E_INVAL);
    section_doc(&doc);
    doc.keys[0].added_at = -1;
    assert_int_equal(tre_plan_format(&doc, buf, sizeof buf, &len), TR_E_INVAL);
}

static void test_section_long_lagging(void **state)
{
    struct tre_plan_doc doc, back;
    char buf[TRE_PLAN_SECTION_MAX];
    size_t len;
    (void)state;

    section_doc(&doc);
    doc.last_forced_n_lagging = 1000;
    for (int i = 0; i < TRE_PLAN_MAX_LAGGING; i++) {
        memset(doc.last_forced_lagging[i], 0, TRE_NODE_ID_MAX + 1);
        memset(doc.last_forced_lagging[i], 'a' + i, TRE_NODE_ID_MAX); /* longest ids */
    }
    assert_int_equal(tre_plan_format(&doc, buf, sizeof buf, &len), 0);
    back = doc;
    memset(back.last_forced_lagging, 0, sizeof back.last_forced_lagging);
    back.last_forced_n_lagging = 0;
    assert_int_equal(tre_plan_parse(buf, len, &back), 0);
    assert_memory_equal(&back, &doc, sizeof doc);

    /* 64 recorded keys with the largest numbers still fit the documented maximum. */
    doc.n_keys = TRE_PLAN_MAX_KEYS;
    doc.forced_total = UINT64_MAX;
    doc.last_forced_at = INT64_MAX;
    doc.last_forced_n_lagging = UINT32_MAX;
    for (uint32_t i = 0; i < doc.n_keys; i++) {
        memset(doc.keys[i].name, (int)i + 1, TR_KEY_NAME_BYTES);
        doc.keys[i].added_serial = UINT64_MAX;
        doc.keys[i].added_at = INT64_MAX;
    }
    assert_int_equal(tre_plan_format(&doc, buf, sizeof buf, &len), 0);
    assert_true(len < sizeof buf);
    back = doc;
    assert_int_equal(tre_plan_parse(buf, len, &back), 0);
    assert_memory_equal(&back, &doc, sizeof doc);
}

static void test_section_refused(void **state)
{
    static const char *const bad[] = {
        "plan 2\nforced 0\n",                  /* a newer writer's document */
        "plan 10\nforced 0\n",
        "plan 01\nforced 0\n",
        "plan 1\n",                            /* no forced line */
        "plan 1\nforced 0",                    /* truncated: no LF */
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 3",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 3\n",
        "plan 1\nforced 0\nadded 1111111111111111111111111111111 3 850\n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 0 850\n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 03 850\n",
        "plan 1\nforced 0\nadded 1111111111111111111111111111111A 3 850\n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 3 -850\n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 3 850 x\n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111  3 850\n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 3 850 \n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 3 9223372036854775808\n",
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 18446744073709551616 1\n",
        /* two records for one key */
        "plan 1\nforced 0\nadded 11111111111111111111111111111111 3 850\n"
        "added 11111111111111111111111111111111 4 851\n",
        "plan 1\nforced 0\n\n",
        "plan 1\nforced 0\n# comment\n",
        "forced 0\nplan 1\n",
        "plan 1\nadded 11111111111111111111111111111111 3 850\nforced 0\n",
        "plan 1\nforced 0 1700000000\n",
        "plan 1\nforced 1\n",
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\n",
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 2 a\n",
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 1 a b\n",
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 1 a/b\n",
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 9 a b c d e f g\n",
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 9 a b c d e f g h i\n",
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 4294967296\n",
        "plan 1\r\nforced 0\r\n",
    };
    struct tre_plan_doc doc, copy;
    (void)state;

    section_doc(&doc);
    copy = doc;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        print_message("# refused input %zu\n", i);
        assert_int_equal(tre_plan_parse(bad[i], strlen(bad[i]), &doc), TR_E_KEYFILE_SYNTAX);
        assert_memory_equal(&doc, &copy, sizeof doc); /* untouched */
    }
    /* The lagging count may exceed what is listed: exactly 8 then. */
    static const char ok[] =
        "plan 1\nforced 1 1700000000 cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd 9 a b c d e f g h\n";
    assert_int_equal(tre_plan_parse(ok, strlen(ok), &doc), 0);
    assert_int_equal(doc.last_forced_n_lagging, 9);
    assert_string_equal(doc.last_forced_lagging[7], "h");
}

static void test_section_unknown_names(void **state)
{
    static const char text[] = "plan 1\nforced 0\n"
                               "added 99999999999999999999999999999999 1 100\n"
                               "added 99999999999999999999999999999999 2 200\n"
                               "added 11111111111111111111111111111111 3 850\n";
    struct tre_plan_doc doc;
    (void)state;

    section_doc(&doc);
    assert_int_equal(tre_plan_parse(text, strlen(text), &doc), 0);
    assert_int_equal(doc.keys[0].added_serial, 3);
    assert_int_equal(doc.keys[0].added_at, 850);
    assert_int_equal(doc.keys[1].added_serial, 0);
    assert_int_equal(doc.keys[2].added_serial, 0); /* no record in this section */
    assert_int_equal(doc.forced_total, 0);
}

static void test_split(void **state)
{
    char text[1024];
    size_t kf = 0;
    const char *body = "ticketring-keys 2\nserial 8\n# checksum sha256 in a comment\n";
    (void)state;

    /* A key file alone. */
    snprintf(text, sizeof text, "%s%s", body, checksum_line);
    assert_int_equal(tre_plan_split(text, strlen(text), &kf), 0);
    assert_int_equal(kf, strlen(text));

    /* With a section. */
    snprintf(text, sizeof text, "%s%s%s", body, checksum_line, section_text);
    assert_int_equal(tre_plan_split(text, strlen(text), &kf), 0);
    assert_int_equal(kf, strlen(body) + strlen(checksum_line));
    assert_memory_equal(text + kf, section_text, strlen(section_text));

    /* Garbage after the checksum line, and near misses of "plan ". */
    static const char *const after[] = {"\n", "# note\n", "key 00\n", "plan", "plan1\n",
                                        "checksum sha256 00\n"};
    for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
        snprintf(text, sizeof text, "%s%s%s", body, checksum_line, after[i]);
        assert_int_equal(tre_plan_split(text, strlen(text), &kf), TR_E_KEYFILE_SYNTAX);
    }
    /* "plan " passes split; the section parser judges the rest. */
    snprintf(text, sizeof text, "%s%splan 2\nforced 0\n", body, checksum_line);
    assert_int_equal(tre_plan_split(text, strlen(text), &kf), 0);

    /* No checksum line; one without its LF. */
    assert_int_equal(tre_plan_split(body, strlen(body), &kf), TR_E_KEYFILE_SYNTAX);
    snprintf(text, sizeof text, "%s%s", body, checksum_line);
    assert_int_equal(tre_plan_split(text, strlen(text) - 1, &kf), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(tre_plan_split("", 0, &kf), TR_E_KEYFILE_SYNTAX);
    assert_int_equal(tre_plan_split(NULL, 0, &kf), TR_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_simulation),
        cmocka_unit_test(test_section_round_trip),
        cmocka_unit_test(test_section_long_lagging),
        cmocka_unit_test(test_section_refused),
        cmocka_unit_test(test_section_unknown_names),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
