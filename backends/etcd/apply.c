/*
 * One document from the store: open the seal, check it belongs here and is
 * not older than what is held, and apply it to the ring in one swap. Every
 * refusal is counted by reason and logged; the keys held stay.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"
#include "secure.h"
#include "sync_int.h"

static const char *const reason_names[TRE_REFUSED_N] = {
    [TRE_REFUSED_ROLLBACK] = "rollback", [TRE_REFUSED_INTEGRITY] = "integrity",
    [TRE_REFUSED_CLUSTER] = "cluster",   [TRE_REFUSED_KEK] = "kek",
    [TRE_REFUSED_INVALID] = "invalid",
};

static int refuse(tr_sync *s, int reason, int rc, const char *detail)
{
    char fp[TR_FINGERPRINT_HEX + 1] = "";

    pthread_mutex_lock(&s->mu);
    s->refused[reason]++;
    pthread_mutex_unlock(&s->mu);
    tr_ring_fingerprint(s->ring, fp, sizeof fp);
    tre_log(s, TR_LOG_ERROR, "key store document %s refused (%s: %s); keys unchanged "
            "(fingerprint %s)", s->key_doc, reason_names[reason], detail, fp);
    return rc;
}

static const struct tre_kek *find_kek(const tr_sync *s, const char *id)
{
    for (int i = 0; i < s->n_kek; i++)
        if (strcmp(s->kek[i].id, id) == 0)
            return &s->kek[i];
    return NULL;
}

int tre_open_document(tr_sync *s, const uint8_t *doc, size_t len, struct tre_sealed_header *h,
                      char **text, size_t *text_len, int *reason, char *detail, size_t detail_cap)
{
    const struct tre_kek *kek;
    char cluster[TRE_ID_MAX + 1];
    uint64_t inner_serial = 0;
    int rc;

    *text = NULL;
    *text_len = 0;
    *reason = TRE_REFUSED_INTEGRITY;
    if (tre_sealed_parse(doc, len, h) != 0) {
        snprintf(detail, detail_cap, "not a sealed key-set document");
        return TR_E_SEALED;
    }
    if (strcmp(h->cluster, s->cluster) != 0) {
        *reason = TRE_REFUSED_CLUSTER;
        snprintf(detail, detail_cap, "sealed for cluster %s, this node is in %s", h->cluster,
                 s->cluster);
        return TR_E_KEYFILE_CLUSTER;
    }
    kek = find_kek(s, h->kek_id);
    if (kek == NULL) {
        *reason = TRE_REFUSED_KEK;
        snprintf(detail, detail_cap, "sealed under key-encryption key %s, not held here",
                 h->kek_id);
        return TR_E_SEALED;
    }
    rc = tre_open(kek, doc, len, h, text, text_len);
    if (rc != 0) {
        snprintf(detail, detail_cap, "%s",
                 rc == TR_E_SEALED ? "the seal does not open (tampered, or another key "
                                     "under the same KEK id)"
                                   : tr_strerror(rc));
        return rc;
    }
    /* From here the header is authentic; the text must say the same. */
    rc = tre_text_header(*text, *text_len, cluster, &inner_serial);
    if (rc != 0 || strcmp(cluster, h->cluster) != 0 || inner_serial != h->serial) {
        tri_wipe(*text, *text_len);
        free(*text);
        *text = NULL;
        *text_len = 0;
        *reason = TRE_REFUSED_INVALID;
        snprintf(detail, detail_cap,
                 "the key file inside names another cluster or serial than its seal");
        return TR_E_SEALED;
    }
    return 0;
}

int tre_apply_document(tr_sync *s, const uint8_t *doc, size_t len)
{
    struct tre_sealed_header h;
    char *text = NULL, detail[192];
    size_t text_len = 0, keyfile_len = 0;
    uint64_t held = 0;
    uint32_t line = 0;
    int rc, reason;

    rc = tre_open_document(s, doc, len, &h, &text, &text_len, &reason, detail, sizeof detail);
    if (rc != 0)
        return refuse(s, reason, rc, detail);
    tr_ring_serial(s->ring, &held);
    if (h.serial < held) {
        tri_wipe(text, text_len);
        free(text);
        snprintf(detail, sizeof detail,
                 "serial %" PRIu64 " is lower than the serial %" PRIu64 " held", h.serial, held);
        return refuse(s, TRE_REFUSED_ROLLBACK, TR_E_KEYFILE_ROLLBACK, detail);
    }
    /* The writer's section after the key file is its own bookkeeping. */
    rc = tre_plan_split(text, text_len, &keyfile_len);
    if (rc == 0)
        rc = tr_ring_load_buffer(s->ring, text, keyfile_len, 0, &line);
    tri_wipe(text, text_len);
    free(text);
    if (rc == TR_E_KEYFILE_ROLLBACK)
        return refuse(s, TRE_REFUSED_ROLLBACK, rc, "same serial as held with other keys");
    if (rc == TR_E_KEYFILE_CLUSTER)
        return refuse(s, TRE_REFUSED_CLUSTER, rc, "the ring is pinned to another cluster");
    if (rc != 0) {
        snprintf(detail, sizeof detail, "the key file inside was refused at line %u: %s", line,
                 tr_strerror(rc));
        return refuse(s, TRE_REFUSED_INVALID, rc, detail);
    }
    pthread_mutex_lock(&s->mu);
    if (h.serial > held)
        s->applied++;
    s->ready = 1;
    pthread_mutex_unlock(&s->mu);
    if (h.serial > held) {
        char fp[TR_FINGERPRINT_HEX + 1] = "";
        tr_ring_fingerprint(s->ring, fp, sizeof fp);
        tre_log(s, TR_LOG_INFO, "key store document %s applied: serial %" PRIu64
                ", fingerprint %s", s->key_doc, h.serial, fp);
    }
    return 0;
}
