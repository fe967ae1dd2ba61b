/* The follower's object, shared by its files (sync.c: lifecycle and the
 * follow loop; apply.c: opening and applying a document; report.c:
 * status, metrics, heartbeats, the fleet listing; publish.c: the writer). */
#ifndef TICKETRING_ETCD_SYNC_INT_H
#define TICKETRING_ETCD_SYNC_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include <ticketring/etcd.h>

#include "seal.h"
#include "store.h"

#define TRE_SOURCE_FILE 1
#define TRE_SOURCE_ETCD 2
#define TRE_KEY_MAX 512

/* Refusal reasons, in status and metrics order. */
enum { TRE_REFUSED_ROLLBACK, TRE_REFUSED_INTEGRITY, TRE_REFUSED_CLUSTER, TRE_REFUSED_KEK,
       TRE_REFUSED_INVALID, TRE_REFUSED_N };

struct tr_sync {
    tr_ring *ring;
    int kind;
    char *file_path; /* file: source */
    char host[256];
    unsigned port;
    char prefix[256]; /* "/ticketring", never ending in '/' */
    char node_id[TRE_ID_MAX + 1];
    struct tre_kek kek[2];
    int n_kek;
    struct tre_auth auth;
    char *local_file;
    uint32_t poll_ms, hb_ttl_s, timeout_ms;
    uint32_t roles; /* TR_SYNC_ROLE_* */
    struct tre_schedule {
        uint32_t period_s, lead_s, max_wait_s, lifetime_s, skew_s, ahead;
    } sched;
    tr_log_fn log_fn;
    void *log_arg;

    /* Set by start. */
    char cluster[TRE_ID_MAX + 1];
    char key_doc[TRE_KEY_MAX];
    char key_node[TRE_KEY_MAX];
    char key_nodes[TRE_KEY_MAX]; /* prefix of every heartbeat, ending in '/' */
    struct tre_store *store;     /* the follow loop's */
    struct tre_store *aux;       /* publish and listing, under aux_mu */
    pthread_mutex_t aux_mu;
    atomic_int stop;
    pthread_t thread;
    int thread_started;
    int prepared;
    pthread_mutex_t wake_mu;
    pthread_cond_t wake;

    /* Follow loop only. */
    int64_t doc_rev;   /* mod revision of the document last handled */
    int64_t store_rev; /* store revision at the last read */
    int64_t next_hb_ms;
    int64_t next_write_ms; /* monotonic: the writer's next round */
    int64_t watch_retry_ms; /* monotonic: no watch before this (it failed) */
    uint64_t rng;

    /* Status: under mu. */
    pthread_mutex_t mu;
    int32_t ready, state;
    int64_t last_sync_ms; /* ring clock; 0: never */
    uint64_t applied, refused[TRE_REFUSED_N], store_errors, watch_resets, heartbeats;
    uint64_t writes, conflicts, forced, write_refused, repairs;
    int write_blocked; /* the last round refused to write: logged once */
    int write_failing; /* under aux_mu: the last round's write hit a store error */

    /* Writer, under aux_mu: the last plaintext it trusted (secret). */
    char *last_text;
    size_t last_len;
    uint64_t last_serial;
};

/* Wipe and drop the writer's copy of the last trusted plaintext. */
void tre_forget_text(tr_sync *s);

/* A stored document opened under one of our KEKs, its header authentic and
 * matching the key file inside (apply.c). On failure *reason is a
 * TRE_REFUSED_* and detail says why (never a secret). *text is the whole
 * plaintext (key file and writer's section), malloc'd: wipe and free it. */
int tre_open_document(tr_sync *s, const uint8_t *doc, size_t len, struct tre_sealed_header *h,
                      char **text, size_t *text_len, int *reason, char *detail,
                      size_t detail_cap);

/* One writer round (writer.c): read, plan, write with compare-and-swap,
 * re-planning after a lost race. Schedules the next round. */
int tre_write_round(tr_sync *s);

/* One log line (never a secret) through the sink. */
void tre_log(const tr_sync *s, int32_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int64_t tre_now_ms(const tr_sync *s);      /* the ring's clock */
int64_t tre_mono_ms(void);                 /* for intervals */

/* Handle one document read from the store (apply.c): open, check, apply;
 * counted and logged. 0 when applied or already held. */
int tre_apply_document(tr_sync *s, const uint8_t *doc, size_t len);

/* Write this node's heartbeat (report.c). */
int tre_heartbeat(tr_sync *s);

/* Text built into a caller's buffer: appends until one does not fit, then
 * sets overflow and appends nothing more (report.c). */
struct tre_text {
    char *buf;
    size_t cap, len;
    int overflow;
};
void tre_put(struct tre_text *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A key name (public: every ticket carries one) as 32 hex digits (report.c). */
void tre_name_hex(char out[2 * TR_KEY_NAME_BYTES + 1], const uint8_t name[TR_KEY_NAME_BYTES]);

/* The heartbeats of the cluster through st (report.c). */
int tre_list_nodes(tr_sync *s, struct tre_store *st, tr_sync_node_fn fn, void *arg);

/* The auxiliary store for publish and listing, created on first use; call
 * with aux_mu held. */
int tre_aux_store(tr_sync *s, struct tre_store **out);
/* The cluster and keys derived from it (idempotent). */
int tre_prepare(tr_sync *s);

#endif
