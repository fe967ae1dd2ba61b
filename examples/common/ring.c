#define _GNU_SOURCE

#include "ring.h"

#include "log.h"

#include <inttypes.h>

static void ring_log(int32_t level, const char *msg, void *arg)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    (void)arg;
    /* Loads and reloads are logged by the server itself (ring_log_keys);
     * warnings and errors say why a key file was refused. */
    if (level >= TR_LOG_INFO)
        return;
    log_line("ticketring %s: %s", level >= 0 && level <= 3 ? names[level] : "log", msg);
}

void ring_log_keys(tr_ring *ring, const char *what, const char *path)
{
    char fp[TR_FINGERPRINT_HEX + 1] = "?";
    uint32_t count = 0;
    int rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    if (rc == 0)
        rc = tr_ring_key_count(ring, &count);
    if (rc != 0) {
        log_line("keys %s from %s, but they cannot be described: %s", what, path,
                 tr_strerror(rc));
        return;
    }
    log_line("keys %s from %s: %" PRIu32 " keys, fingerprint %s", what, path, count, fp);
}

int ring_open(tr_ring **out, const tr_crypto *crypto, const struct flags *f,
              int (*before_load)(tr_ring *ring, void *arg), void *arg, int *loaded)
{
    tr_ring *ring = NULL;
    uint32_t line = 0;
    *out = NULL;
    *loaded = 0;
    int rc = tr_ring_new(&ring, crypto);
    if (rc == 0)
        rc = tr_ring_set_log(ring, ring_log, NULL);
    if (rc == 0 && f->lifetime != 0)
        rc = tr_ring_set_lifetime(ring, f->lifetime);
    if (rc != 0) {
        log_line("cannot set up a key ring: %s", tr_strerror(rc));
        tr_ring_free(ring);
        return -1;
    }
    if (before_load != NULL && before_load(ring, arg) != 0) {
        tr_ring_free(ring);
        return -1;
    }
    if (f->keys_source != NULL) {
        /* The follower (keysource.c) loads: --keys only when the store
         * cannot be reached. --cluster pins what it may load. */
        rc = f->cluster != NULL ? tr_ring_set_cluster(ring, f->cluster) : 0;
        if (rc != 0) {
            log_line("--cluster %s: %s", f->cluster, tr_strerror(rc));
            tr_ring_free(ring);
            return -1;
        }
        *out = ring;
        return 0;
    }
    rc = tr_ring_load(ring, f->keys, &line);
    *loaded = rc == 0;
    if (rc == 0)
        ring_log_keys(ring, "loaded", f->keys);
    else if (line != 0)
        log_line("--keys %s:%" PRIu32 ": %s; no tickets until it loads", f->keys, line,
                 tr_strerror(rc));
    else
        log_line("--keys %s: %s; no tickets until it loads", f->keys, tr_strerror(rc));
    *out = ring;
    return 0;
}
