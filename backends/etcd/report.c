/*
 * What a follower tells: its status (for readiness probes), Prometheus
 * text, the heartbeat it writes under a lease, and the fleet's heartbeats.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync_int.h"

struct snapshot {
    int32_t ready, state;
    int64_t age_ms;
    uint64_t serial, applied, refused[TRE_REFUSED_N], store_errors, watch_resets, heartbeats;
    uint64_t writes, conflicts, forced, write_refused, repairs;
    char fp[TR_FINGERPRINT_HEX + 1];
};

static void snap(tr_sync *s, struct snapshot *o)
{
    memset(o, 0, sizeof *o);
    pthread_mutex_lock(&s->mu);
    o->ready = s->ready;
    o->state = s->state;
    o->age_ms = s->last_sync_ms != 0 ? tre_now_ms(s) - s->last_sync_ms : -1;
    if (o->age_ms < -1)
        o->age_ms = 0; /* the clock stepped back */
    o->applied = s->applied;
    memcpy(o->refused, s->refused, sizeof o->refused);
    o->store_errors = s->store_errors;
    o->watch_resets = s->watch_resets;
    o->heartbeats = s->heartbeats;
    o->writes = s->writes;
    o->conflicts = s->conflicts;
    o->forced = s->forced;
    o->write_refused = s->write_refused;
    o->repairs = s->repairs;
    pthread_mutex_unlock(&s->mu);
    /* A file source has no store to be behind: its age is not defined. */
    if (s->kind == TRE_SOURCE_FILE)
        o->age_ms = -1;
    tr_ring_serial(s->ring, &o->serial);
    if (tr_ring_fingerprint(s->ring, o->fp, sizeof o->fp) != 0)
        o->fp[0] = '\0';
}

int tr_sync_status_get(tr_sync *s, tr_sync_status *out)
{
    tr_sync_status full;
    struct snapshot o;
    uint32_t size;

    if (s == NULL || out == NULL || out->size < offsetof(tr_sync_status, serial))
        return TR_E_INVAL;
    size = out->size < sizeof full ? out->size : (uint32_t)sizeof full;
    snap(s, &o);
    memset(&full, 0, sizeof full);
    full.size = size;
    full.ready = o.ready;
    full.state = o.state;
    full.serial = o.serial;
    full.sync_age_ms = o.age_ms;
    full.applied = o.applied;
    full.refused_rollback = o.refused[TRE_REFUSED_ROLLBACK];
    full.refused_integrity = o.refused[TRE_REFUSED_INTEGRITY];
    full.refused_cluster = o.refused[TRE_REFUSED_CLUSTER];
    full.refused_kek = o.refused[TRE_REFUSED_KEK];
    full.refused_invalid = o.refused[TRE_REFUSED_INVALID];
    full.store_errors = o.store_errors;
    full.watch_resets = o.watch_resets;
    full.heartbeats = o.heartbeats;
    full.writes = o.writes;
    full.conflicts = o.conflicts;
    full.forced = o.forced;
    full.write_refused = o.write_refused;
    full.repairs = o.repairs;
    memcpy(full.fingerprint, o.fp, sizeof full.fingerprint);
    memcpy(out, &full, size);
    return 0;
}

void tre_name_hex(char out[2 * TR_KEY_NAME_BYTES + 1], const uint8_t name[TR_KEY_NAME_BYTES])
{
    for (size_t i = 0; i < TR_KEY_NAME_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", name[i]);
}

void tre_put(struct tre_text *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->overflow = 1;
    else
        o->len += (size_t)n;
}

int tr_sync_metrics(tr_sync *s, char *buf, size_t cap, size_t *len)
{
    static const char *const reasons[TRE_REFUSED_N] = {"rollback", "integrity", "cluster",
                                                       "kek", "invalid"};
    static const char *const states[] = {"starting", "synced", "unreachable"};
    const char *src;
    struct snapshot o;
    struct tre_text w = {buf, cap, 0, 0};

    if (len != NULL)
        *len = 0;
    if (s == NULL || buf == NULL || cap == 0)
        return TR_E_INVAL;
    snap(s, &o);
    src = s->kind == TRE_SOURCE_FILE ? "file" : "etcd";
    /* ticketring_keyset_info is the ring's (tr_ring_metrics): a server
     * appends this text to it, and a family may be declared only once. */
    tre_put(&w, "# HELP ticketring_sync_info The followed source and the serial and fingerprint "
            "of the key set held.\n"
            "# TYPE ticketring_sync_info gauge\n"
            "ticketring_sync_info{source=\"%s\",serial=\"%" PRIu64 "\",fingerprint=\"%s\"} 1\n",
        src, o.serial, o.fp);
    tre_put(&w, "# HELP ticketring_sync_ready 1 once the first sync or key file load succeeded.\n"
            "# TYPE ticketring_sync_ready gauge\nticketring_sync_ready %d\n", o.ready);
    tre_put(&w, "# HELP ticketring_sync_state The follower's state (1 for the current one).\n"
            "# TYPE ticketring_sync_state gauge\n");
    for (int i = 0; i < 3; i++)
        tre_put(&w, "ticketring_sync_state{state=\"%s\"} %d\n", states[i], o.state == i);
    if (o.age_ms >= 0)
        tre_put(&w, "# HELP ticketring_keyset_sync_age_seconds Since the last successful read of "
                "the key store.\n# TYPE ticketring_keyset_sync_age_seconds gauge\n"
                "ticketring_keyset_sync_age_seconds %" PRId64 ".%03d\n",
            o.age_ms / 1000, (int)(o.age_ms % 1000));
    tre_put(&w, "# HELP ticketring_sync_applied_total Newer key-set documents applied.\n"
            "# TYPE ticketring_sync_applied_total counter\n"
            "ticketring_sync_applied_total %" PRIu64 "\n", o.applied);
    tre_put(&w, "# HELP ticketring_sync_refused_total Key-set documents refused, by reason.\n"
            "# TYPE ticketring_sync_refused_total counter\n");
    for (int i = 0; i < TRE_REFUSED_N; i++)
        tre_put(&w, "ticketring_sync_refused_total{reason=\"%s\"} %" PRIu64 "\n", reasons[i],
            o.refused[i]);
    tre_put(&w, "# HELP ticketring_store_errors_total Failed requests to the key store.\n"
            "# TYPE ticketring_store_errors_total counter\n"
            "ticketring_store_errors_total %" PRIu64 "\n", o.store_errors);
    tre_put(&w, "# HELP ticketring_sync_watch_resets_total Watches that ended in an error.\n"
            "# TYPE ticketring_sync_watch_resets_total counter\n"
            "ticketring_sync_watch_resets_total %" PRIu64 "\n", o.watch_resets);
    tre_put(&w, "# HELP ticketring_sync_heartbeats_total Heartbeats written.\n"
            "# TYPE ticketring_sync_heartbeats_total counter\n"
            "ticketring_sync_heartbeats_total %" PRIu64 "\n", o.heartbeats);
    if (s->roles & TR_SYNC_ROLE_WRITER) {
        tre_put(&w, "# HELP ticketring_sync_writes_total Key-set documents this writer stored.\n"
                "# TYPE ticketring_sync_writes_total counter\n"
                "ticketring_sync_writes_total %" PRIu64 "\n", o.writes);
        tre_put(&w, "# HELP ticketring_sync_conflicts_total Compare-and-swaps lost to another "
                "writer.\n# TYPE ticketring_sync_conflicts_total counter\n"
                "ticketring_sync_conflicts_total %" PRIu64 "\n", o.conflicts);
        tre_put(&w, "# HELP ticketring_activation_forced_total Keys dated before every live node "
                "reported holding them.\n# TYPE ticketring_activation_forced_total counter\n"
                "ticketring_activation_forced_total %" PRIu64 "\n", o.forced);
        tre_put(&w, "# HELP ticketring_sync_write_refused_total Writer rounds that found a stored "
                "document they must not write over.\n"
                "# TYPE ticketring_sync_write_refused_total counter\n"
                "ticketring_sync_write_refused_total %" PRIu64 "\n", o.write_refused);
        tre_put(&w, "# HELP ticketring_sync_repairs_total Spoiled stored documents (deleted, "
                "tampered with, rolled back) this writer wrote again.\n"
                "# TYPE ticketring_sync_repairs_total counter\n"
                "ticketring_sync_repairs_total %" PRIu64 "\n", o.repairs);
    }
    if (w.overflow) {
        buf[0] = '\0';
        return TR_E_BUFFER_TOO_SMALL;
    }
    if (len != NULL)
        *len = w.len;
    return 0;
}

static json_object *i64s(int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, v);
    return json_object_new_string(t);
}

int tre_heartbeat(tr_sync *s)
{
    struct snapshot o;
    json_object *hb = json_object_new_object();
    const char *text;
    char serial[24], name_hex[2 * TR_KEY_NAME_BYTES + 1];
    uint8_t name[TR_KEY_NAME_BYTES];
    int rc;

    if (hb == NULL)
        return TR_E_NOMEM;
    snap(s, &o);
    snprintf(serial, sizeof serial, "%" PRIu64, o.serial);
    json_object_object_add(hb, "node", json_object_new_string(s->node_id));
    json_object_object_add(hb, "fingerprint", json_object_new_string(o.fp));
    json_object_object_add(hb, "serial", json_object_new_string(serial));
    json_object_object_add(hb, "sync_age_ms", i64s(o.age_ms));
    json_object_object_add(hb, "written_ms", i64s(tre_now_ms(s)));
    json_object_object_add(hb, "ready", json_object_new_boolean(o.ready));
    json_object_object_add(hb, "state",
                           json_object_new_string(o.state == TR_SYNC_SYNCED      ? "synced"
                                                  : o.state == TR_SYNC_STARTING ? "starting"
                                                                                 : "unreachable"));
    /* Key names are public (every ticket carries one): which key this node
     * seals with now, to check a rotation from the outside. */
    if (tr_ring_encrypt_key_name(s->ring, name) == 0) {
        tre_name_hex(name_hex, name);
        json_object_object_add(hb, "encrypt_key", json_object_new_string(name_hex));
    }
    json_object_object_add(hb, "version", json_object_new_string(tr_version_string()));
    text = json_object_to_json_string_ext(hb, JSON_C_TO_STRING_PLAIN);
    rc = s->store->ops->heartbeat(s->store, s->key_node, (const uint8_t *)text, strlen(text),
                                  s->hb_ttl_s);
    json_object_put(hb);
    if (rc == 0) {
        pthread_mutex_lock(&s->mu);
        s->heartbeats++;
        pthread_mutex_unlock(&s->mu);
    }
    return rc;
}

int tre_aux_store(tr_sync *s, struct tre_store **out)
{
    int rc = 0;

    *out = NULL;
    if (s->kind != TRE_SOURCE_ETCD)
        return TR_E_INVAL;
    if ((rc = tre_prepare(s)) != 0)
        return rc;
    /* Its own connection: the follow loop may sit in a long watch. */
    if (s->aux == NULL)
        rc = tre_etcd_new(&s->aux, s->host, s->port, &s->auth, s->timeout_ms, NULL);
    *out = s->aux;
    return rc;
}

struct listing {
    tr_sync *s;
    tr_sync_node_fn fn;
    void *arg;
};

static int64_t field_i64(json_object *o, const char *name)
{
    json_object *x;
    return json_object_object_get_ex(o, name, &x) ? json_object_get_int64(x) : -1;
}

static int on_node(void *arg, const char *key, size_t key_len, const uint8_t *val, size_t len)
{
    struct listing *l = arg;
    size_t pl = strlen(l->s->key_nodes);
    char id[TRE_ID_MAX + 1], fp[TR_FINGERPRINT_HEX + 1] = "";
    json_tokener *tok;
    json_object *o, *x;
    uint64_t serial = 0;
    int stop;

    if (key_len <= pl || key_len - pl > TRE_ID_MAX || !tre_id_valid(key + pl, key_len - pl))
        return 0; /* not a heartbeat of ours: skip it */
    memcpy(id, key + pl, key_len - pl);
    id[key_len - pl] = '\0';
    tok = json_tokener_new();
    if (tok == NULL)
        return 1;
    o = len > 0 ? json_tokener_parse_ex(tok, (const char *)val, (int)len) : NULL;
    json_tokener_free(tok);
    if (o == NULL || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return l->fn(l->arg, id, "", 0, -1, -1);
    }
    if (json_object_object_get_ex(o, "fingerprint", &x)) {
        const char *f = json_object_get_string(x);
        if (strlen(f) <= TR_FINGERPRINT_HEX)
            strcpy(fp, f);
    }
    if (json_object_object_get_ex(o, "serial", &x))
        serial = strtoull(json_object_get_string(x), NULL, 10);
    stop = l->fn(l->arg, id, fp, serial, field_i64(o, "sync_age_ms"), field_i64(o, "written_ms"));
    json_object_put(o);
    return stop;
}

int tre_list_nodes(tr_sync *s, struct tre_store *st, tr_sync_node_fn fn, void *arg)
{
    struct listing l = {s, fn, arg};
    return st->ops->list(st, s->key_nodes, on_node, &l);
}

int tr_sync_nodes(tr_sync *s, tr_sync_node_fn fn, void *arg)
{
    struct tre_store *st;
    int rc;

    if (s == NULL || fn == NULL)
        return TR_E_INVAL;
    pthread_mutex_lock(&s->aux_mu);
    rc = tre_aux_store(s, &st);
    if (rc == 0)
        rc = tre_list_nodes(s, st, fn, arg);
    pthread_mutex_unlock(&s->aux_mu);
    return rc;
}
