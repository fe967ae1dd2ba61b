/*
 * The writer's first step: seal a key file and put it in the store with a
 * compare-and-swap on the revision read, refusing to go back in serials.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "secure.h"
#include "sync_int.h"

/* The serial of the stored document, when it opens under one of our KEKs
 * (an unopenable document proves nothing about serials: an attacker could
 * write a huge one to block every writer). */
static uint64_t stored_serial(tr_sync *s, const uint8_t *doc, size_t len)
{
    struct tre_sealed_header h;
    char *text = NULL, detail[192];
    size_t tl = 0;
    int reason;

    if (doc == NULL ||
        tre_open_document(s, doc, len, &h, &text, &tl, &reason, detail, sizeof detail) != 0)
        return 0;
    tri_wipe(text, tl);
    free(text);
    return h.serial;
}

int tr_sync_publish(tr_sync *s, const char *text, size_t len)
{
    struct tre_store *st;
    char cluster[TRE_ID_MAX + 1];
    uint64_t serial = 0, current;
    uint8_t *old = NULL, *doc = NULL;
    size_t old_len = 0, doc_len = 0;
    int64_t mod_rev = 0, rev = 0, new_rev = 0;
    int rc;

    if (s == NULL || text == NULL || len == 0 || s->kind != TRE_SOURCE_ETCD || s->n_kek == 0)
        return TR_E_INVAL;
    pthread_mutex_lock(&s->aux_mu);
    rc = tre_aux_store(s, &st);
    if (rc == 0)
        rc = tre_text_header(text, len, cluster, &serial);
    if (rc == 0 && (serial == 0 || strcmp(cluster, s->cluster) != 0))
        rc = serial == 0 ? TR_E_KEYFILE_SYNTAX : TR_E_KEYFILE_CLUSTER;
    if (rc == 0)
        rc = st->ops->get(st, s->key_doc, &old, &old_len, &mod_rev, &rev);
    if (rc == 0) {
        current = stored_serial(s, old, old_len);
        if (current >= serial) {
            tre_log(s, TR_LOG_ERROR, "not published: the stored document has serial %" PRIu64
                    ", not below %" PRIu64 " (rollback refused: rotate the file first)",
                    current, serial);
            rc = TR_E_KEYFILE_ROLLBACK;
        }
    }
    if (rc == 0)
        rc = tre_seal(&s->kek[0], cluster, serial, text, len, &doc, &doc_len);
    if (rc == 0)
        rc = st->ops->cas(st, s->key_doc, doc, doc_len, mod_rev, &new_rev);
    pthread_mutex_unlock(&s->aux_mu);
    if (rc == 0)
        tre_log(s, TR_LOG_INFO, "published serial %" PRIu64 " to %s (revision %" PRId64 ")",
                serial, s->key_doc, new_rev);
    free(old);
    free(doc);
    return rc;
}
