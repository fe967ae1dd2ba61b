/*
 * Prometheus text exposition (format 0.0.4) of a ring. Counters end in
 * _total, timestamps in _timestamp_seconds; refusals are one metric with a
 * reason label so a dashboard sums or splits them without knowing every
 * reason. Key names are public (every ticket carries its key's name in
 * clear); nothing derived from a secret beyond the fingerprint appears.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ring.h"

struct out {
    char *buf;
    size_t cap;
    size_t len; /* what the whole text needs, even past cap */
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;
    size_t room = o->len < o->cap ? o->cap - o->len : 0;

    va_start(ap, fmt);
    n = vsnprintf(room != 0 ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void head(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP ticketring_%s %s\n# TYPE ticketring_%s %s\n", name, help, name, type);
}

static void counter(struct out *o, const char *name, const char *help, uint64_t v)
{
    head(o, name, "counter", help);
    put(o, "ticketring_%s %" PRIu64 "\n", name, v);
}

/* Seconds until the schedule runs out without a newer key: until sealing
 * stops (at the maximum encrypt age, or at the rotation period under
 * TR_EXHAUSTED_STOP), else until seals count as overdue at the rotation
 * period; negative once it has. Absent when
 * neither is set (no expectation) or no key has a date. */
static void schedule_metrics(tr_ring *r, struct out *o, int have_newest, int64_t newest,
                             int64_t now)
{
    uint32_t max_age = (uint32_t)atomic_load(&r->max_encrypt_age);
    uint32_t period = (uint32_t)atomic_load(&r->rotation_period);
    uint32_t limit = max_age != 0 ? max_age : period;

    /* Under TR_EXHAUSTED_STOP sealing already stops at the period. */
    if (atomic_load(&r->exhausted_policy) == TR_EXHAUSTED_STOP && period != 0 &&
        (limit == 0 || period < limit))
        limit = period;

    if (!have_newest || limit == 0)
        return;
    head(o, "schedule_remaining_seconds", "gauge",
         "Seconds until the key schedule runs out unless a newer key arrives: the "
         "newest dated key's activation plus the maximum encrypt age (then no tickets) "
         "or, without one, the rotation period (then seals are overdue).");
    put(o, "ticketring_schedule_remaining_seconds %" PRId64 "\n", newest + (int64_t)limit - now);
}

/* Key roles, the set's identity and its schedule, from one pinned set so
 * the lines agree with each other. */
static void keyset_metrics(tr_ring *r, struct out *o)
{
    /* Indexed by TR_KEY_*. */
    static const char *const roles[] = {"pending", "encrypt", "decrypt", "retired", "revoked"};
    uint32_t count[5] = {0, 0, 0, 0, 0};
    char fp[TR_FINGERPRINT_HEX + 1];
    char enc_name[2 * TR_KEY_NAME_BYTES + 1] = "";
    int64_t now = tri_floor_s(tri_ring_now_ms(r));
    int64_t enc_activation = 0, newest = 0;
    int have_newest = 0;
    uint32_t life = (uint32_t)atomic_load(&r->lifetime);
    uint32_t skew = (uint32_t)atomic_load(&r->skew);
    struct tri_keyset *ks;
    unsigned tok;
    int enc;

    ks = tri_ring_enter(r, &tok);
    for (uint32_t i = 0; i < ks->n; i++)
        count[tri_keyset_role(ks, i, now, life, skew)]++;
    enc = tri_keyset_encrypt_index(ks, now);
    if (enc >= 0) {
        tri_hex_encode(enc_name, ks->keys[enc].name, TR_KEY_NAME_BYTES);
        enc_name[2 * TR_KEY_NAME_BYTES] = '\0';
        enc_activation = ks->keys[enc].activation;
    }
    /* The newest key that will encrypt on its date: pending keys have none
     * yet and revoked keys never will. */
    for (uint32_t i = ks->n; i > 0 && !have_newest; i--) {
        const struct tri_key *k = &ks->keys[i - 1];
        if (!k->revoked && k->activation != TR_ACTIVATION_PENDING) {
            newest = k->activation;
            have_newest = 1;
        }
    }
    memcpy(fp, ks->fingerprint, sizeof(fp));
    tri_ring_leave(r, tok); /* ks may be freed from here on */

    head(o, "keyset_info", "gauge",
         "The key set held: its fingerprint (equal on nodes holding the same keys) "
         "and the name of the key sealing now.");
    put(o, "ticketring_keyset_info{fingerprint=\"%s\",encrypt_key=\"%s\"} 1\n", fp, enc_name);
    head(o, "keys", "gauge", "Keys held, by role now.");
    for (int i = 0; i < 5; i++)
        put(o, "ticketring_keys{role=\"%s\"} %" PRIu32 "\n", roles[i], count[i]);
    if (enc >= 0) {
        head(o, "encrypt_key_activation_timestamp_seconds", "gauge",
             "When the key sealing now became the encrypt key.");
        put(o, "ticketring_encrypt_key_activation_timestamp_seconds %" PRId64 "\n",
            enc_activation);
    }
    if (have_newest) {
        head(o, "newest_key_activation_timestamp_seconds", "gauge",
             "Activation of the newest key held: the schedule runs out a rotation "
             "period after it.");
        put(o, "ticketring_newest_key_activation_timestamp_seconds %" PRId64 "\n", newest);
    }
    schedule_metrics(r, o, have_newest, newest, now);
}

struct reason {
    const char *name;
    size_t offset; /* of a uint64_t in tr_stats */
};

static const struct reason ticket_refusals[] = {
    {"malformed", offsetof(tr_stats, refused_malformed)},
    {"unknown_key", offsetof(tr_stats, refused_unknown_key)},
    {"auth", offsetof(tr_stats, refused_auth)},
    {"expired", offsetof(tr_stats, refused_expired)},
    {"future", offsetof(tr_stats, refused_future)},
    {"sni", offsetof(tr_stats, refused_sni)},
    {"alpn", offsetof(tr_stats, refused_alpn)},
    {"context", offsetof(tr_stats, refused_context)},
    {"unbound", offsetof(tr_stats, refused_unbound)},
    {"other_format", offsetof(tr_stats, refused_other_format)},
};

static const struct reason early_refusals[] = {
    {"off", offsetof(tr_stats, early_refused_off)},
    {"stale", offsetof(tr_stats, early_refused_stale)},
    {"node", offsetof(tr_stats, early_refused_node)},
    {"sni", offsetof(tr_stats, early_refused_sni)},
    {"alpn", offsetof(tr_stats, early_refused_alpn)},
    {"replay", offsetof(tr_stats, early_refused_replay)},
    {"full", offsetof(tr_stats, early_refused_full)},
    {"startup", offsetof(tr_stats, early_refused_startup)},
    {"tls", offsetof(tr_stats, early_refused_tls)},
    {"store", offsetof(tr_stats, early_refused_store)},
};

static void by_reason(struct out *o, const char *name, const char *help, const tr_stats *s,
                      const struct reason *reasons, size_t n)
{
    head(o, name, "counter", help);
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        memcpy(&v, (const char *)s + reasons[i].offset, sizeof(v));
        put(o, "ticketring_%s{reason=\"%s\"} %" PRIu64 "\n", name, reasons[i].name, v);
    }
}

static void gauge(struct out *o, const char *name, const char *help, uint64_t v)
{
    head(o, name, "gauge", help);
    put(o, "ticketring_%s %" PRIu64 "\n", name, v);
}

static void early_metrics(tr_ring *r, struct out *o, const tr_stats *s)
{
    uint32_t max;
    tr_replay *rp = tri_ring_early_replay(r, &max);
    tr_replay_stats rs;

    gauge(o, "early_data_max_bytes", "Early data accepted per connection (0: 0-RTT off).", max);
    counter(o, "early_data_accepted_total", "Connections whose early data was accepted.",
            s->early_accepted);
    by_reason(o, "early_data_refused_total",
              "Early data refused (the resumption goes on 1-RTT), by reason.", s,
              early_refusals, sizeof(early_refusals) / sizeof(early_refusals[0]));
    rs.size = sizeof(rs);
    if (rp == NULL || tr_replay_get_stats(rp, &rs) != 0)
        return;
    gauge(o, "replay_entries", "ClientHellos the replay cache holds now.", rs.entries);
    gauge(o, "replay_slots", "ClientHellos the replay cache can hold at most.", rs.slots);
    gauge(o, "replay_window_seconds", "How long the replay cache remembers a ClientHello.",
          rs.window_ms / 1000);
    /* The store's answers to the values this node's cache found new. */
    head(o, "replay_store_checks_total", "counter",
         "ClientHellos checked with the cluster replay store, by result.");
    put(o, "ticketring_replay_store_checks_total{result=\"fresh\"} %" PRIu64 "\n",
        rs.store_fresh);
    put(o, "ticketring_replay_store_checks_total{result=\"replay\"} %" PRIu64 "\n",
        rs.store_replays);
    put(o, "ticketring_replay_store_checks_total{result=\"error\"} %" PRIu64 "\n",
        rs.store_errors);
}

int tr_ring_metrics(tr_ring *r, char *buf, size_t cap, size_t *len)
{
    struct out o = {buf, cap, 0};
    tr_stats s;

    if (r == NULL || len == NULL || (buf == NULL && cap != 0))
        return TR_E_INVAL;
    s.size = sizeof(s);
    tr_ring_stats(r, &s);

    head(&o, "handshakes_total", "counter", "TLS handshakes completed, by type.");
    put(&o, "ticketring_handshakes_total{type=\"full\"} %" PRIu64 "\n", s.handshakes_full);
    put(&o, "ticketring_handshakes_total{type=\"resumed\"} %" PRIu64 "\n", s.handshakes_resumed);
    counter(&o, "resumed_cross_node_total",
            "Resumed handshakes of a ticket another node issued.", s.resumed_cross_node);
    counter(&o, "tickets_issued_total", "Tickets sealed.", s.sealed);
    counter(&o, "tickets_not_issued_total",
            "Tickets not sealed because no key may encrypt now.", s.seal_no_key);
    counter(&o, "seals_overdue_total",
            "Seals attempted while the key schedule had run out.", s.seal_overdue);
    counter(&o, "tickets_renewed_total", "New tickets issued on resumed handshakes.",
            s.tickets_renewed);
    counter(&o, "tickets_accepted_total", "Tickets that passed every check.", s.opened);
    counter(&o, "tickets_accepted_old_key_total",
            "Accepted tickets sealed with a key that no longer encrypts.", s.opened_renew);
    counter(&o, "tickets_accepted_unbound_total",
            "Accepted tickets without binding data (another server's).", s.opened_unbound);
    by_reason(&o, "tickets_refused_total",
              "Tickets refused (a full handshake instead), by reason.", &s, ticket_refusals,
              sizeof(ticket_refusals) / sizeof(ticket_refusals[0]));
    early_metrics(r, &o, &s);
    head(&o, "key_reloads_total", "counter", "Key file loads and reloads, by result.");
    put(&o, "ticketring_key_reloads_total{result=\"ok\"} %" PRIu64 "\n", s.reloads);
    put(&o, "ticketring_key_reloads_total{result=\"failed\"} %" PRIu64 "\n", s.reload_failures);
    keyset_metrics(r, &o);

    *len = o.len;
    if (o.len >= cap) {
        if (cap != 0)
            buf[0] = '\0';
        return TR_E_BUFFER_TOO_SMALL;
    }
    return 0;
}
