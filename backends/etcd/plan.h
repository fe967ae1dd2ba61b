/*
 * The writer's decisions (docs: /work/shared/notes/key-distribution.md
 * §8.3, "The rotation protocol"): which key to add, which pending key to
 * date, which keys to drop, given the stored document, the live
 * heartbeats and the time. Pure: no I/O, no allocation, no clock; the same
 * inputs always give the same step. plan.c explains why the steps are safe.
 *
 * Also the "plan section", the writer's own records sealed after the key
 * file text in the same plaintext:
 *
 *   plan 1
 *   forced <total> [<unix seconds> <key name 32 hex> <n lagging> [<node id> ...]]
 *   added <key name 32 hex> <serial> <unix seconds>
 *   ...
 *
 * Followers strip it (tre_plan_split) before loading the key file. Key
 * names are public (every ticket carries one): nothing in it is secret.
 */
#ifndef TICKETRING_ETCD_PLAN_H
#define TICKETRING_ETCD_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <ticketring/ticketring.h>

#define TRE_PLAN_MAX_KEYS 64   /* TR_RING_MAX_KEYS */
#define TRE_PLAN_MAX_LAGGING 8 /* lagging node ids listed in a step (all are counted) */
#define TRE_NODE_ID_MAX 64
/* Largest section tre_plan_format can write (plus one byte for a NUL). */
#define TRE_PLAN_SECTION_MAX 8192

struct tre_plan_key {
    uint8_t name[TR_KEY_NAME_BYTES];
    int64_t activation;    /* Unix seconds, or TR_ACTIVATION_PENDING */
    int32_t revoked;       /* 1: revoked */
    uint64_t added_serial; /* serial of the first document that held it; 0: not recorded */
    int64_t added_at;      /* Unix seconds when the writer added it; 0: not recorded */
};

struct tre_plan_doc {
    uint64_t serial; /* 0: the store holds no document (then n_keys is 0) */
    struct tre_plan_key keys[TRE_PLAN_MAX_KEYS];
    uint32_t n_keys;
    uint64_t forced_total;  /* forced activations so far */
    int64_t last_forced_at; /* 0: never */
    uint8_t last_forced_name[TR_KEY_NAME_BYTES];
    char last_forced_lagging[TRE_PLAN_MAX_LAGGING][TRE_NODE_ID_MAX + 1];
    uint32_t last_forced_n_lagging; /* how many lagged (may exceed the listed 8) */
};

struct tre_plan_node { /* one live heartbeat */
    const char *id;
    uint64_t serial; /* the serial of the key set that node holds */
};

struct tre_plan_params {
    int64_t period_s;   /* time between activations, >= 1 */
    int64_t lead_s;     /* least time from adding a pending key to activating it, >= 0 */
    int64_t max_wait_s; /* after added_at + max_wait an unacknowledged key is force-activated, >= lead_s */
    int64_t lifetime_s; /* ticket lifetime, >= 1 */
    int64_t skew_s;     /* largest clock difference between machines, >= 0 */
    uint32_t ahead;     /* M: keys kept pending-or-future, >= 1 */
};

#define TRE_PLAN_ADD_NONE 0
#define TRE_PLAN_ADD_PENDING 1 /* add a new random key, pending */
#define TRE_PLAN_ADD_ACTIVE 2  /* bootstrap: add a new random key active at `now` */

struct tre_plan_step {
    int32_t add;      /* TRE_PLAN_ADD_*; the caller records a pending key's
                       * added_serial = doc serial + 1, added_at = now */
    int32_t activate; /* index into doc->keys of the key to date, -1: none */
    int64_t activate_at;
    int32_t forced;     /* 1: activated without every live node holding it */
    uint32_t acked;     /* live nodes holding the key activated (or waited for) */
    uint32_t n_lagging; /* live nodes not holding it (all counted) */
    const char *lagging[TRE_PLAN_MAX_LAGGING]; /* the first of them (pointers into nodes[]) */
    /* Indexes of pending keys with no record: record added_serial = doc
     * serial, added_at = now. */
    int32_t adopt[TRE_PLAN_MAX_KEYS];
    uint32_t n_adopt;
    int32_t retire[TRE_PLAN_MAX_KEYS]; /* indexes to drop */
    uint32_t n_retire;
    /* Unix seconds of the next decision that time alone will change (0:
     * none); the caller plans again then, and right after any write. */
    int64_t next_at;
};

/* Decide one writer step for doc at now, given the live heartbeats
 * nodes[0..n_nodes) (borrowed; out->lagging points into them). Fills *out
 * in every case but TR_E_INVAL. Returns 1 when the step changes the
 * document (the caller writes serial + 1), 0 when there is nothing to do,
 * TR_E_INVAL for bad params or inputs (now == TR_ACTIVATION_PENDING, a
 * node without id, keys in a document of serial 0). Pure; thread-safe. */
int tre_plan(const struct tre_plan_doc *doc, const struct tre_plan_node *nodes, size_t n_nodes,
             int64_t now, const struct tre_plan_params *p, struct tre_plan_step *out);

/* Offset where the key file part of a plaintext ends: just after the LF of
 * its first line that starts with "checksum sha256 " (the section is the
 * len - *keyfile_len bytes after it). TR_E_KEYFILE_SYNTAX when there is no
 * such line, or when bytes follow it that do not start with "plan ".
 * Thread-safe. */
int tre_plan_split(const char *text, size_t len, size_t *keyfile_len);

/* Parse a section (len 0: nothing recorded) into doc: the forced fields,
 * and added_serial/added_at of the keys already in doc->keys, matched by
 * name (records for names not in doc are ignored: a key retired by hand;
 * keys without a record get 0/0). A version other than 1 is
 * TR_E_KEYFILE_SYNTAX (a newer writer's document: do not write over it),
 * and so is anything malformed; doc is left unchanged on error. */
int tre_plan_parse(const char *section, size_t len, struct tre_plan_doc *doc);

/* Write the section for doc into buf (cap bytes; NUL-terminated when there
 * is room for one more byte); *len bytes written. TR_E_BUFFER_TOO_SMALL
 * with *len = needed; TR_E_INVAL for a negative time, a listed lagging id
 * that is not 1..64 of A-Z a-z 0-9 . _ -, or more than 64 keys. */
int tre_plan_format(const struct tre_plan_doc *doc, char *buf, size_t cap, size_t *len);

#endif
