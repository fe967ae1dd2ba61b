/*
 * The writer: read the stored document, decide the next step (plan.c),
 * make it on a scratch ring next to the serving one, and store the result
 * with a compare-and-swap on the revision read. No lock: a writer that
 * loses the race re-reads and plans again, which usually finds nothing left
 * to do. The serving ring changes only when the follow loop applies the
 * stored document, exactly as on every other node.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "secure.h"
#include "sync_int.h"

#define ATTEMPTS 4     /* lost races before giving up until the next round */
#define NODES_MAX 4096 /* heartbeats read; more are counted as lagging */
#define ACTIONS_MAX 8
#define ACTION_LEN 200
#define TEXT_MAX (65536 + TRE_PLAN_SECTION_MAX)
#define RETRY_MS 1000
#define MIN_ROUND_MS 200

struct actions {
    char line[ACTIONS_MAX][ACTION_LEN];
    int n;
    int forced;
};

static void act(struct actions *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void act(struct actions *a, const char *fmt, ...)
{
    va_list ap;

    if (a->n == ACTIONS_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(a->line[a->n++], ACTION_LEN, fmt, ap);
    va_end(ap);
}

/* What a round changes on the scratch ring and the writer's records: 1 when
 * something changed, 0 when nothing, or a TR_E_* code. */
typedef int (*change_fn)(tr_sync *s, tr_ring *scratch, struct tre_plan_doc *pd, int64_t now,
                         struct actions *a, void *arg);

/* ---- the document as read ---------------------------------------------- */

struct round {
    int writing; /* 0: only reading (a description): refusals are not counted */
    int repair;  /* the stored document is spoiled: write the schedule held again */
    uint8_t *doc;
    size_t doc_len;
    int64_t mod_rev;
    tr_ring *scratch;
    struct tre_plan_doc pd;
};

static void round_clear(struct round *r)
{
    int writing = r->writing;
    free(r->doc); /* sealed: nothing secret */
    tr_ring_free(r->scratch);
    memset(r, 0, sizeof *r);
    r->writing = writing;
}

/* Refuse to write over what the store holds, logged once per episode. */
static int blocked(tr_sync *s, const struct round *r, int rc, const char *why)
{
    if (!r->writing)
        return rc;
    pthread_mutex_lock(&s->mu);
    s->write_refused++;
    int was = s->write_blocked;
    s->write_blocked = 1;
    pthread_mutex_unlock(&s->mu);
    if (!was)
        tre_log(s, TR_LOG_ERROR, "writer: not writing over %s: %s (republish a good "
                "document with 'ticketring-keys publish')", s->key_doc, why);
    return rc;
}

/* The keys the scratch ring holds, in its order, with no records yet. */
static int keys_of(tr_ring *ring, struct tre_plan_doc *pd)
{
    uint32_t n = 0;
    int rc = tr_ring_key_count(ring, &n);

    if (rc != 0)
        return rc;
    if (n > TRE_PLAN_MAX_KEYS)
        return TR_E_TOO_MANY_KEYS;
    pd->n_keys = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct tre_plan_key *k = &pd->keys[pd->n_keys];
        int32_t role = 0;
        memset(k, 0, sizeof *k);
        if ((rc = tr_ring_key_info(ring, i, k->name, &k->activation, &role)) != 0)
            return rc;
        k->revoked = role == TR_KEY_REVOKED;
        pd->n_keys++;
    }
    return 0;
}

/* Keep a copy of the last plaintext this writer read and trusted (under
 * aux_mu), to repair the store with: wiped when replaced. */
static void remember(tr_sync *s, const char *text, size_t len, uint64_t serial)
{
    char *copy = malloc(len);

    if (copy == NULL)
        return;
    memcpy(copy, text, len);
    tre_forget_text(s);
    s->last_text = copy;
    s->last_len = len;
    s->last_serial = serial;
}

void tre_forget_text(tr_sync *s)
{
    if (s->last_text != NULL) {
        tri_wipe(s->last_text, s->last_len);
        free(s->last_text);
    }
    s->last_text = NULL;
    s->last_len = 0;
    s->last_serial = 0;
}

/* The store lost or spoiled the document (deleted, tampered with, rolled
 * back, moved in from another cluster): every node refuses what is there
 * and keeps its keys, and the schedule would stop. Write the last document
 * this writer trusted again, as the next serial, when it is at least as new
 * as what its own follower holds (its follower may not have applied a
 * document this writer read or wrote before the store was spoiled);
 * otherwise an operator republishes. Should another writer hold a newer
 * copy, nodes refuse this repair as a rollback and that writer repairs it
 * in turn: the newest copy wins. */
static int repair(tr_sync *s, struct round *r, uint64_t held, const char *why, char **text,
                  size_t *text_len)
{
    char detail[320];

    if (!r->writing || s->last_text == NULL || s->last_serial < held) {
        snprintf(detail, sizeof detail, "%s, and this writer holds no copy of the schedule "
                 "its nodes follow", why);
        return blocked(s, r, TR_E_SEALED, detail);
    }
    *text = malloc(s->last_len);
    if (*text == NULL)
        return TR_E_NOMEM;
    memcpy(*text, s->last_text, s->last_len);
    *text_len = s->last_len;
    r->repair = 1;
    pthread_mutex_lock(&s->mu);
    s->repairs++;
    pthread_mutex_unlock(&s->mu);
    tre_log(s, TR_LOG_WARN, "writer: repairing %s (%s): writing the schedule of serial %" PRIu64
            " again as the next serial", s->key_doc, why, s->last_serial);
    return 0;
}

/* Read and open the stored document into r (an empty store gives an empty
 * scratch ring and serial 0). */
static int read_document(tr_sync *s, struct tre_store *st, struct round *r)
{
    struct tre_sealed_header h;
    char *text = NULL, detail[192];
    size_t text_len = 0, kf_len = 0;
    uint64_t held = 0, serial = 0;
    uint32_t line = 0;
    int64_t rev = 0;
    int rc, reason;

    rc = st->ops->get(st, s->key_doc, &r->doc, &r->doc_len, &r->mod_rev, &rev);
    if (rc != 0)
        return rc;
    rc = tr_ring_new_like(&r->scratch, s->ring);
    if (rc != 0)
        return rc;
    tr_ring_serial(s->ring, &held);
    if (r->doc == NULL) {
        /* Starting a new schedule would replace every node's keys: only
         * for a store that never held one for this writer. */
        if (held == 0)
            return 0;
        rc = repair(s, r, held, "the store holds no document", &text, &text_len);
    } else {
        rc = tre_open_document(s, r->doc, r->doc_len, &h, &text, &text_len, &reason, detail,
                               sizeof detail);
        /* A KEK this writer lacks may be the next one an operator rolls
         * out: writing over it would make writers undo each other. */
        if (rc != 0 && reason == TRE_REFUSED_KEK)
            return blocked(s, r, rc, detail);
        if (rc != 0) {
            rc = repair(s, r, held, detail, &text, &text_len);
        } else if (h.serial < held) {
            snprintf(detail, sizeof detail, "its serial %" PRIu64 " is below the %" PRIu64
                     " held: a rollback", h.serial, held);
            tri_wipe(text, text_len);
            free(text);
            text = NULL;
            rc = repair(s, r, held, detail, &text, &text_len);
        }
    }
    if (rc != 0)
        return rc;
    rc = tre_text_header(text, text_len, detail, &serial);
    if (rc == 0)
        rc = tre_plan_split(text, text_len, &kf_len);
    if (rc == 0)
        rc = tr_ring_load_buffer(r->scratch, text, kf_len, 0, &line);
    if (rc == 0)
        rc = keys_of(r->scratch, &r->pd);
    if (rc == 0) {
        r->pd.serial = serial;
        rc = tre_plan_parse(text + kf_len, text_len - kf_len, &r->pd);
        if (rc != 0)
            rc = blocked(s, r, rc, "its writer's section is of another version or malformed");
    } else {
        snprintf(detail, sizeof detail, "its key file does not load here (%s)",
                 tr_strerror(rc));
        rc = blocked(s, r, rc, detail);
    }
    if (rc == 0 && r->writing && !r->repair)
        remember(s, text, text_len, serial);
    tri_wipe(text, text_len);
    free(text);
    return rc;
}

/* ---- writing ------------------------------------------------------------- */

/* Carry the writer's records from `was` to the keys the scratch ring now
 * holds (retired keys lose theirs); keys added in this round get the new
 * serial. */
static int rebuild_records(tr_ring *scratch, const struct tre_plan_doc *was, uint64_t serial,
                           int64_t now, struct tre_plan_doc *out)
{
    int rc;

    *out = *was;
    if ((rc = keys_of(scratch, out)) != 0)
        return rc;
    for (uint32_t i = 0; i < out->n_keys; i++) {
        struct tre_plan_key *k = &out->keys[i];
        uint32_t j = 0;
        while (j < was->n_keys && memcmp(was->keys[j].name, k->name, TR_KEY_NAME_BYTES) != 0)
            j++;
        if (j < was->n_keys) {
            k->added_serial = was->keys[j].added_serial;
            k->added_at = was->keys[j].added_at;
        } else {
            k->added_serial = serial;
            k->added_at = now;
        }
    }
    out->serial = serial;
    return 0;
}

/* The new plaintext (key file with serial + 1, then the writer's section)
 * into *plain (TEXT_MAX bytes, malloc'd, secret: the caller wipes it) and
 * sealed into a malloc'd document; *serial_out the serial it carries. */
static int seal_round(tr_sync *s, struct round *r, int64_t now, char **plain, size_t *plain_len,
                      uint8_t **doc, size_t *doc_len, uint64_t *serial_out)
{
    struct tre_plan_doc next;
    char *text = malloc(TEXT_MAX), cluster[TRE_ID_MAX + 1];
    size_t len = 0, sec = 0;
    uint64_t serial = 0;
    int rc;

    *plain = text;
    *plain_len = 0;
    if (text == NULL)
        return TR_E_NOMEM;
    rc = tr_ring_save_buffer(r->scratch, text, 65536, &len);
    if (rc == 0)
        rc = tre_text_header(text, len, cluster, &serial);
    if (rc == 0)
        rc = rebuild_records(r->scratch, &r->pd, serial, now, &next);
    if (rc == 0)
        rc = tre_plan_format(&next, text + len, TEXT_MAX - len, &sec);
    if (rc == 0)
        rc = tre_seal(&s->kek[0], s->cluster, serial, text, len + sec, doc, doc_len);
    *plain_len = len + sec;
    *serial_out = serial;
    return rc;
}

/* Read, change, write; again after a lost race. *serial_out the serial
 * written (0: nothing written). Call with aux_mu held. */
static int write_with(tr_sync *s, change_fn fn, void *arg, int writing, uint64_t *serial_out)
{
    struct tre_store *st;
    struct round r;
    int rc;

    memset(&r, 0, sizeof r);
    r.writing = writing;
    *serial_out = 0;
    if ((rc = tre_aux_store(s, &st)) != 0)
        return rc;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        struct actions a;
        uint8_t *doc = NULL;
        char *plain = NULL;
        size_t doc_len = 0, plain_len = 0;
        uint64_t serial = 0;
        int64_t now = tre_now_ms(s) / 1000, new_rev = 0;

        memset(&a, 0, sizeof a);
        round_clear(&r);
        rc = read_document(s, st, &r);
        if (rc == 0 && r.repair)
            act(&a, "repaired the stored document");
        if (rc == 0)
            rc = fn(s, r.scratch, &r.pd, now, &a, arg);
        if (rc == 0 && r.repair)
            rc = 1; /* written even when the plan changes nothing */
        if (rc <= 0)
            break;
        rc = seal_round(s, &r, now, &plain, &plain_len, &doc, &doc_len, &serial);
        if (rc == 0)
            rc = st->ops->cas(st, s->key_doc, doc, doc_len, r.mod_rev, &new_rev);
        /* What this writer stored is what it repairs a spoiled store with. */
        if (rc == 0)
            remember(s, plain, plain_len, serial);
        if (plain != NULL) {
            tri_wipe(plain, TEXT_MAX);
            free(plain);
        }
        free(doc);
        if (rc == TR_E_CONFLICT) {
            pthread_mutex_lock(&s->mu);
            s->conflicts++;
            pthread_mutex_unlock(&s->mu);
            tre_log(s, TR_LOG_INFO, "lost the race for serial %" PRIu64 ": re-read", serial);
            continue;
        }
        if (rc != 0)
            break;
        pthread_mutex_lock(&s->mu);
        s->writes++;
        s->forced += (uint64_t)a.forced;
        s->write_blocked = 0;
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < a.n; i++)
            tre_log(s, a.forced && strstr(a.line[i], "FORCED") ? TR_LOG_WARN : TR_LOG_INFO,
                    "serial %" PRIu64 ": %s", serial, a.line[i]);
        *serial_out = serial;
        break;
    }
    round_clear(&r);
    if (writing && (rc == TR_E_STORE || (rc == 0 && s->write_failing))) {
        /* Once per episode: a store without a quorum fails every round. */
        int was = s->write_failing;
        s->write_failing = rc == TR_E_STORE;
        if (rc == TR_E_STORE) {
            pthread_mutex_lock(&s->mu);
            s->store_errors++;
            pthread_mutex_unlock(&s->mu);
        }
        if (!was && rc != 0)
            tre_log(s, TR_LOG_WARN, "writer: the store takes no writes (%s): waiting",
                    tr_strerror(rc));
        else if (was && rc == 0)
            tre_log(s, TR_LOG_INFO, "writer: the store takes writes again");
    }
    return rc;
}

/* ---- the rotation round -------------------------------------------------- */

struct nodes {
    struct tre_plan_node *v;
    char (*id)[TRE_ID_MAX + 1];
    size_t n, cap;
    int64_t next_at;
};

static int on_node(void *arg, const char *id, const char *fp, uint64_t serial, int64_t age,
                   int64_t written)
{
    struct nodes *l = arg;
    (void)fp;
    (void)age;
    (void)written;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *v, *ids;
        if (cap > NODES_MAX)
            return 1;
        v = realloc(l->v, cap * sizeof *l->v);
        if (v != NULL)
            l->v = v;
        ids = realloc(l->id, cap * sizeof *l->id);
        if (ids != NULL)
            l->id = ids;
        if (v == NULL || ids == NULL)
            return 1;
        l->cap = cap;
    }
    snprintf(l->id[l->n], sizeof l->id[l->n], "%s", id);
    l->v[l->n].serial = serial;
    l->n++;
    return 0;
}

static int plan_change(tr_sync *s, tr_ring *scratch, struct tre_plan_doc *pd, int64_t now,
                       struct actions *a, void *arg)
{
    struct nodes *l = arg;
    struct tre_plan_params p = {s->sched.period_s, s->sched.lead_s, s->sched.max_wait_s,
                                s->sched.lifetime_s, s->sched.skew_s, s->sched.ahead};
    struct tre_plan_step step;
    struct tre_store *st = s->aux;
    char name[2 * TR_KEY_NAME_BYTES + 1];
    uint8_t added[TR_KEY_NAME_BYTES];
    int rc;

    /* The heartbeats after the document: a node acknowledges a serial only
     * once it applied it, so this order never over-counts. */
    l->n = 0;
    if ((rc = tre_list_nodes(s, st, on_node, l)) != 0)
        return rc;
    for (size_t i = 0; i < l->n; i++)
        l->v[i].id = l->id[i];
    rc = tre_plan(pd, l->v, l->n, now, &p, &step);
    l->next_at = step.next_at;
    if (rc <= 0)
        return rc;
    for (uint32_t i = 0; i < step.n_adopt; i++) {
        struct tre_plan_key *k = &pd->keys[step.adopt[i]];
        k->added_serial = pd->serial;
        k->added_at = now;
        tre_name_hex(name, k->name);
        act(a, "adopted pending key %s", name);
    }
    if (step.activate >= 0) {
        struct tre_plan_key *k = &pd->keys[step.activate];
        tre_name_hex(name, k->name);
        if ((rc = tr_ring_activate_key(scratch, k->name, step.activate_at)) != 0)
            return rc;
        if (step.forced) {
            char lag[TRE_PLAN_MAX_LAGGING * (TRE_ID_MAX + 1)] = "";
            for (uint32_t i = 0; i < step.n_lagging && i < TRE_PLAN_MAX_LAGGING; i++) {
                if (i > 0)
                    strcat(lag, ",");
                strcat(lag, step.lagging[i]);
                snprintf(pd->last_forced_lagging[i], sizeof pd->last_forced_lagging[i], "%s",
                         step.lagging[i]);
            }
            pd->forced_total++;
            pd->last_forced_at = now;
            memcpy(pd->last_forced_name, k->name, TR_KEY_NAME_BYTES);
            pd->last_forced_n_lagging = step.n_lagging;
            a->forced = 1;
            act(a, "activated key %s at %" PRId64 ", FORCED: %u lagging: %s%s", name,
                step.activate_at, step.n_lagging, lag,
                step.n_lagging > TRE_PLAN_MAX_LAGGING ? ",..." : "");
        } else {
            act(a, "activated key %s at %" PRId64 ", held by all %u live nodes", name,
                step.activate_at, step.acked);
        }
    }
    for (uint32_t i = 0; i < step.n_retire; i++) {
        tre_name_hex(name, pd->keys[step.retire[i]].name);
        if ((rc = tr_ring_remove_key(scratch, pd->keys[step.retire[i]].name)) != 0)
            return rc;
        act(a, "retired key %s", name);
    }
    if (step.add != TRE_PLAN_ADD_NONE) {
        int64_t at = step.add == TRE_PLAN_ADD_ACTIVE ? now : TR_ACTIVATION_PENDING;
        if ((rc = tr_ring_generate_key(scratch, at, added)) != 0)
            return rc;
        tre_name_hex(name, added);
        if (step.add == TRE_PLAN_ADD_ACTIVE)
            act(a, "added key %s active at %" PRId64, name, now);
        else
            act(a, "added key %s pending", name);
    }
    return 1;
}

int tre_write_round(tr_sync *s)
{
    struct nodes l = {NULL, NULL, 0, 0, 0};
    uint64_t serial = 0;
    int64_t wait_ms = s->poll_ms;
    int rc;

    pthread_mutex_lock(&s->aux_mu);
    rc = write_with(s, plan_change, &l, 1, &serial);
    pthread_mutex_unlock(&s->aux_mu);
    if (rc == 0 && serial == 0 && l.next_at > 0) {
        /* Nothing to do now: come back when time alone changes the plan. */
        int64_t ms = l.next_at * 1000 - tre_now_ms(s);
        if (ms < wait_ms)
            wait_ms = ms;
    } else if (rc != 0 || serial != 0) {
        /* After a write the plan may go on (the next phase waits for the
         * nodes); after an error, retry soon without hammering. */
        wait_ms = rc != 0 ? RETRY_MS : MIN_ROUND_MS;
    }
    if (wait_ms < MIN_ROUND_MS)
        wait_ms = MIN_ROUND_MS;
    s->next_write_ms = tre_mono_ms() + wait_ms;
    free(l.v);
    free(l.id);
    return rc;
}

/* ---- revocation and description ----------------------------------------- */

static int revoke_change(tr_sync *s, tr_ring *scratch, struct tre_plan_doc *pd, int64_t now,
                         struct actions *a, void *arg)
{
    const uint8_t *name = arg;
    char hexname[2 * TR_KEY_NAME_BYTES + 1];
    (void)s;
    (void)now;

    for (uint32_t i = 0; i < pd->n_keys; i++) {
        if (memcmp(pd->keys[i].name, name, TR_KEY_NAME_BYTES) != 0)
            continue;
        if (pd->keys[i].revoked)
            return 0;
        int rc = tr_ring_revoke_key(scratch, name);
        if (rc != 0)
            return rc;
        tre_name_hex(hexname, name);
        act(a, "revoked key %s", hexname);
        return 1;
    }
    return TR_E_KEY_NOT_FOUND;
}

int tr_sync_revoke(tr_sync *s, const uint8_t name[TR_KEY_NAME_BYTES])
{
    uint64_t serial = 0;
    int rc;

    if (s == NULL || name == NULL || s->kind != TRE_SOURCE_ETCD || s->n_kek == 0)
        return TR_E_INVAL;
    pthread_mutex_lock(&s->aux_mu);
    rc = write_with(s, revoke_change, (void *)name, 1, &serial);
    pthread_mutex_unlock(&s->aux_mu);
    /* A writer role plans the replacement after it reads this document. */
    return rc;
}

static int describe_change(tr_sync *s, tr_ring *scratch, struct tre_plan_doc *pd, int64_t now,
                           struct actions *a, void *arg)
{
    static const char *const roles[] = {"pending", "encrypts", "decrypts", "retired",
                                        "revoked"};
    struct tre_text *o = arg;
    char name[2 * TR_KEY_NAME_BYTES + 1];
    (void)s;
    (void)a;

    tre_put(o, "document serial %" PRIu64 ", %u keys, at %" PRId64 "\n", pd->serial, pd->n_keys,
        now);
    for (uint32_t i = 0; i < pd->n_keys; i++) {
        const struct tre_plan_key *k = &pd->keys[i];
        int32_t role = 0;
        tr_ring_key_info(scratch, i, NULL, NULL, &role);
        tre_name_hex(name, k->name);
        if (k->activation == TR_ACTIVATION_PENDING)
            tre_put(o, "key %s pending", name);
        else
            tre_put(o, "key %s activation %" PRId64, name, k->activation);
        tre_put(o, " %s", role >= 0 && role <= 4 ? roles[role] : "?");
        if (k->added_serial != 0)
            tre_put(o, " added serial %" PRIu64 " at %" PRId64, k->added_serial, k->added_at);
        tre_put(o, "\n");
    }
    tre_put(o, "forced activations %" PRIu64, pd->forced_total);
    if (pd->forced_total > 0) {
        tre_name_hex(name, pd->last_forced_name);
        tre_put(o, ", last key %s at %" PRId64 " with %u lagging:", name, pd->last_forced_at,
            pd->last_forced_n_lagging);
        for (uint32_t i = 0; i < pd->last_forced_n_lagging && i < TRE_PLAN_MAX_LAGGING; i++)
            tre_put(o, " %s", pd->last_forced_lagging[i]);
    }
    tre_put(o, "\n");
    return 0; /* a description never writes */
}

int tr_sync_describe(tr_sync *s, char *buf, size_t cap, size_t *len)
{
    struct tre_text o = {buf, cap, 0, 0};
    uint64_t serial = 0;
    int rc;

    if (len != NULL)
        *len = 0;
    if (s == NULL || buf == NULL || cap == 0 || s->kind != TRE_SOURCE_ETCD || s->n_kek == 0)
        return TR_E_INVAL;
    buf[0] = '\0';
    pthread_mutex_lock(&s->aux_mu);
    rc = write_with(s, describe_change, &o, 0, &serial);
    pthread_mutex_unlock(&s->aux_mu);
    if (rc == 0 && o.overflow) {
        buf[0] = '\0';
        rc = TR_E_BUFFER_TOO_SMALL;
    }
    if (rc == 0 && len != NULL)
        *len = o.len;
    return rc;
}
