/*
 * The writer's decision function (key-distribution.md §8.3). One call
 * looks at the stored document, the live heartbeats and the time, and says
 * what the next document should change. The caller applies it and writes
 * with compare-and-swap, so two writers planning from the same document
 * produce one write between them and the loser re-plans.
 *
 * Why the steps are safe (a ticket must stay decryptable by every live node
 * for its lifetime, whichever node issued it):
 *
 * - Keys reach nodes in two phases. Phase 1 adds a key as pending: nodes
 *   decrypt with it but never encrypt. Phase 2 gives it an activation time.
 *   A node encrypts only with its newest key whose activation <= its own
 *   clock, so a node that has not seen phase 2 keeps encrypting with the
 *   previous key, which every node still holds.
 *
 * - Phase 2 waits until every live heartbeat reports a serial >= the serial
 *   of the first document that held the key (added_serial): every live node
 *   then holds the key before anyone can encrypt with it. It also waits
 *   `lead` after the key was added, so heartbeats in flight and nodes just
 *   starting have time to load it, and it keeps activations `period` apart
 *   (due = max(added_at + lead, newest + period)). The activation may lie in
 *   the future: nodes switch on their own clocks, and a node whose clock is
 *   skewed switches at a skewed moment but already holds the key.
 *
 * - A node that stops heartbeating drops out of the live set and stops
 *   blocking phase 2. A node that heartbeats but does not advance blocks it
 *   for at most max_wait: then the key is force-activated (forced = 1) and
 *   the lagging nodes are named, since never rotating is worse than a few
 *   full handshakes on a broken node. A forced activation still waits for
 *   lead and for the period spacing.
 *
 * - A key whose record is missing (added by hand, or by a writer that kept
 *   no section) is adopted first: its record is set to this document's
 *   serial and now, so its acknowledgement clock starts only now; it is
 *   never activated on a guess about when nodes got it.
 *
 * - Bootstrap: when no usable key exists, nobody can encrypt, so the
 *   writer adds one active at once; waiting for acknowledgements would only
 *   prolong full handshakes everywhere.
 *
 * - Retirement: a key X is dropped once its successor S (the earliest
 *   usable key dated after X) has been active longer than lifetime + skew:
 *   every ticket under X was issued before some node switched to S, at the
 *   latest S.activation + skew on a fast clock, and has expired
 *   lifetime later. The key that encrypts now has no successor dated in the
 *   past, so it is never dropped; pending keys are never dropped either,
 *   revoked ones included (revocation already stops nodes using them; the
 *   operator removes them by hand).
 *
 * - Phase 1 keeps `ahead` keys pending or dated in the future, so the next
 *   activation always has a key that has been distributed for a while.
 *
 * Arithmetic on times saturates: TR_ACTIVATION_PENDING is INT64_MAX and
 * params may be huge, and a sum that reaches INT64_MAX means "never".
 */
#include "plan.h"

#include <string.h>

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int usable(const struct tre_plan_key *k)
{
    return k->revoked == 0;
}

static int dated(int64_t activation)
{
    return activation != TR_ACTIVATION_PENDING;
}

/* Keep the earliest candidate strictly after now; INT64_MAX is never. */
static void next_consider(int64_t *next, int64_t t, int64_t now)
{
    if (t <= now || t == INT64_MAX)
        return;
    if (*next == 0 || t < *next)
        *next = t;
}

static int params_valid(const struct tre_plan_params *p)
{
    return p->period_s >= 1 && p->lead_s >= 0 && p->max_wait_s >= p->lead_s &&
           p->lifetime_s >= 1 && p->skew_s >= 0 && p->ahead >= 1;
}

static int inputs_valid(const struct tre_plan_doc *doc, const struct tre_plan_node *nodes,
                        size_t n_nodes, int64_t now, const struct tre_plan_params *p)
{
    if (doc == NULL || p == NULL || (n_nodes > 0 && nodes == NULL))
        return 0;
    if (!params_valid(p) || doc->n_keys > TRE_PLAN_MAX_KEYS || now == TR_ACTIVATION_PENDING)
        return 0;
    if (doc->serial == 0 && doc->n_keys > 0)
        return 0;
    for (size_t i = 0; i < n_nodes; i++)
        if (nodes[i].id == NULL)
            return 0;
    return 1;
}

/* The activation of key i once this step's activation is applied. */
static int64_t act_after(const struct tre_plan_doc *doc, const struct tre_plan_step *st,
                         uint32_t i)
{
    return (int32_t)i == st->activate ? st->activate_at : doc->keys[i].activation;
}

static int has_usable_key(const struct tre_plan_doc *doc)
{
    for (uint32_t i = 0; i < doc->n_keys; i++)
        if (usable(&doc->keys[i]))
            return 1;
    return 0;
}

static void adopt(const struct tre_plan_doc *doc, struct tre_plan_step *st)
{
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        const struct tre_plan_key *k = &doc->keys[i];
        if (usable(k) && !dated(k->activation) && k->added_serial == 0)
            st->adopt[st->n_adopt++] = (int32_t)i;
    }
}

/* The oldest recorded usable pending key, or -1. */
static int32_t pick_pending(const struct tre_plan_doc *doc)
{
    int32_t best = -1;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        const struct tre_plan_key *k = &doc->keys[i];
        if (!usable(k) || dated(k->activation) || k->added_serial == 0)
            continue;
        if (best < 0)
            best = (int32_t)i;
        else {
            const struct tre_plan_key *b = &doc->keys[best];
            if (k->added_serial < b->added_serial ||
                (k->added_serial == b->added_serial &&
                 memcmp(k->name, b->name, TR_KEY_NAME_BYTES) < 0))
                best = (int32_t)i;
        }
    }
    return best;
}

/* Latest activation among usable dated keys; INT64_MIN when there is none. */
static int64_t newest_usable(const struct tre_plan_doc *doc)
{
    int64_t newest = INT64_MIN;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        const struct tre_plan_key *k = &doc->keys[i];
        if (usable(k) && dated(k->activation) && k->activation > newest)
            newest = k->activation;
    }
    return newest;
}

static void count_lagging(const struct tre_plan_node *nodes, size_t n_nodes, uint64_t serial,
                          struct tre_plan_step *st)
{
    for (size_t i = 0; i < n_nodes; i++) {
        if (nodes[i].serial >= serial) {
            if (st->acked < UINT32_MAX)
                st->acked++;
            continue;
        }
        if (st->n_lagging < TRE_PLAN_MAX_LAGGING)
            st->lagging[st->n_lagging] = nodes[i].id;
        if (st->n_lagging < UINT32_MAX)
            st->n_lagging++;
    }
}

/* Phase 2: date at most one pending key, or say when to look again. */
static void phase2(const struct tre_plan_doc *doc, const struct tre_plan_node *nodes,
                   size_t n_nodes, int64_t now, const struct tre_plan_params *p,
                   struct tre_plan_step *st)
{
    int32_t ki = pick_pending(doc);
    if (ki < 0)
        return;
    const struct tre_plan_key *k = &doc->keys[ki];
    int64_t newest = newest_usable(doc);
    int64_t ready = sat_add(k->added_at, p->lead_s);
    int64_t due = newest == INT64_MIN ? ready : max64(ready, sat_add(newest, p->period_s));
    int64_t force_at = max64(due, sat_add(k->added_at, p->max_wait_s));

    count_lagging(nodes, n_nodes, k->added_serial, st);
    if (now < ready) {
        next_consider(&st->next_at, ready, now);
        return;
    }
    if (st->n_lagging == 0) {
        int64_t at = max64(now, due);
        /* A time that saturated would read as pending: beyond any horizon,
         * so leave the key pending rather than date it wrongly. */
        if (at == TR_ACTIVATION_PENDING)
            return;
        st->activate = ki;
        st->activate_at = at;
        return;
    }
    if (now >= force_at) {
        st->activate = ki;
        st->activate_at = now;
        st->forced = 1;
        return;
    }
    /* An acknowledgement may arrive at any moment. */
    next_consider(&st->next_at, sat_add(now, 1), now);
}

/* The index of the earliest usable key dated strictly after key x (after
 * this step's activation), or -1. */
static int32_t successor(const struct tre_plan_doc *doc, const struct tre_plan_step *st,
                         uint32_t x)
{
    int64_t ax = act_after(doc, st, x);
    int32_t best = -1;
    int64_t best_at = 0;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        int64_t ai = act_after(doc, st, i);
        if (i == x || !usable(&doc->keys[i]) || !dated(ai) || ai <= ax)
            continue;
        if (best < 0 || ai < best_at) {
            best = (int32_t)i;
            best_at = ai;
        }
    }
    return best;
}

/* The key that encrypts now: newest usable key dated <= now, or -1. */
static int32_t encrypt_key(const struct tre_plan_doc *doc, const struct tre_plan_step *st,
                           int64_t now)
{
    int32_t best = -1;
    int64_t best_at = 0;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        int64_t ai = act_after(doc, st, i);
        if (!usable(&doc->keys[i]) || !dated(ai) || ai > now)
            continue;
        if (best < 0 || ai > best_at) {
            best = (int32_t)i;
            best_at = ai;
        }
    }
    return best;
}

static void retire(const struct tre_plan_doc *doc, int64_t now, const struct tre_plan_params *p,
                   struct tre_plan_step *st)
{
    int32_t enc = encrypt_key(doc, st, now);
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        if (!dated(act_after(doc, st, i)) || (int32_t)i == enc)
            continue;
        int32_t s = successor(doc, st, i);
        if (s < 0)
            continue;
        int64_t gone = sat_add(sat_add(act_after(doc, st, (uint32_t)s), p->lifetime_s), p->skew_s);
        if (gone < now)
            st->retire[st->n_retire++] = (int32_t)i;
        else
            next_consider(&st->next_at, sat_add(gone, 1), now);
    }
}

static int retired(const struct tre_plan_step *st, uint32_t i)
{
    for (uint32_t j = 0; j < st->n_retire; j++)
        if (st->retire[j] == (int32_t)i)
            return 1;
    return 0;
}

/* Phase 1: keep `ahead` keys pending or dated in the future. A future key
 * turning active is a time-only change that may call for the next one. */
static void phase1(const struct tre_plan_doc *doc, int64_t now, const struct tre_plan_params *p,
                   struct tre_plan_step *st)
{
    uint32_t ahead = 0;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        int64_t ai = act_after(doc, st, i);
        if (!usable(&doc->keys[i]) || retired(st, i))
            continue;
        if (!dated(ai) || ai > now)
            ahead++;
        if (dated(ai))
            next_consider(&st->next_at, ai, now);
    }
    if (ahead < p->ahead)
        st->add = TRE_PLAN_ADD_PENDING;
}

int tre_plan(const struct tre_plan_doc *doc, const struct tre_plan_node *nodes, size_t n_nodes,
             int64_t now, const struct tre_plan_params *p, struct tre_plan_step *out)
{
    if (out == NULL || !inputs_valid(doc, nodes, n_nodes, now, p))
        return TR_E_INVAL;
    memset(out, 0, sizeof *out);
    out->activate = -1;

    if (!has_usable_key(doc)) {
        out->add = TRE_PLAN_ADD_ACTIVE;
        return 1;
    }
    adopt(doc, out);
    phase2(doc, nodes, n_nodes, now, p, out);
    retire(doc, now, p, out);
    phase1(doc, now, p, out);
    return out->add != TRE_PLAN_ADD_NONE || out->activate >= 0 || out->n_adopt > 0 ||
           out->n_retire > 0;
}
