/*
 * Fuzz target: the key file parser (lib/keyfile.c, versions 1 and 2,
 * docs/key-file-format.md) on arbitrary bytes, then the same bytes applied
 * to a ring as tr_ring_load() applies a file it has read
 * (tri_ring_apply_locked: the same parse, the cluster and serial checks,
 * the key set build), without touching the file system.
 *
 * Checks, besides no crash or sanitizer report:
 *  - a refusal is one of the documented codes, with a reason, a line
 *    within the file, and the output entries wiped;
 *  - an accepted file holds what the grammar allows (keys not zero,
 *    distinct names, activations in range, pending and revoked only in
 *    version 2), and formatting its entries and parsing that gives the same
 *    entries and header fields back;
 *  - an empty ring takes exactly the files the parser accepts, with the
 *    parser's code and line otherwise, ends up holding the file's keys,
 *    cluster and serial, and takes the same file again unchanged.
 */
#include <string.h>
#include <sys/stat.h>

#include "keyfile.h"
#include "ring.h"
#include "fuzz.h"

static struct tri_keyfile_entry e[TR_RING_MAX_KEYS], e2[TR_RING_MAX_KEYS];
static char text[TRI_KEYFILE_MAX_BYTES + 1];

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

static uint32_t lines_in(const uint8_t *data, size_t size)
{
    uint32_t n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n;
}

static void check_entries(const struct tri_keyfile_info *info, uint32_t n)
{
    FZ_CHECK(info->version == 1 || info->version == 2);
    FZ_CHECK(n <= TR_RING_MAX_KEYS);
    FZ_CHECK(info->version == 2 ? info->serial >= 1 : info->serial == 0);
    FZ_CHECK(info->cluster[0] == '\0' || tri_cluster_valid(info->cluster));
    for (uint32_t i = 0; i < n; i++) {
        FZ_CHECK(!all_zero(e[i].key, TR_KEY_NAME_BYTES));
        FZ_CHECK(!all_zero(e[i].key + 16, 32) && !all_zero(e[i].key + 48, 32));
        FZ_CHECK((e[i].flags & ~TRI_KEY_REVOKED) == 0);
        FZ_CHECK(info->version == 2 || e[i].flags == 0);
        if (e[i].activation == TR_ACTIVATION_PENDING)
            FZ_CHECK(info->version == 2);
        else
            FZ_CHECK(e[i].activation >= 0 && e[i].activation <= (INT64_C(1) << 62));
        for (uint32_t j = 0; j < i; j++)
            FZ_CHECK(memcmp(e[i].key, e[j].key, TR_KEY_NAME_BYTES) != 0);
    }
}

/* Applied as tr_ring_load() applies what it read from a mode-0600 file. */
static int apply(tr_ring *ring, const uint8_t *data, size_t size, uint32_t *line)
{
    struct stat st;
    int rc;

    memset(&st, 0, sizeof(st));
    st.st_mode = S_IFREG | 0600;
    tri_ring_writer_lock(ring);
    rc = tri_ring_apply_locked(ring, "fuzz.keys", (const char *)data, size, &st, 0, line);
    tri_ring_writer_unlock(ring);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const tr_crypto *c = fz_backend();
    struct tri_keyfile_info info, info2;
    tr_ring *ring;
    const char *why = NULL;
    char cluster[TRI_CLUSTER_MAX + 1];
    uint32_t n = 0, n2 = 0, line = 0, line2 = 0, count = 0;
    uint64_t serial = 0;
    int64_t horizon;
    size_t len = 0;
    int rc, rc2;

    fz_random_reset();
    ring = fz_ring_empty();
    horizon = tri_ring_max_activation(ring);
    memset(e, 0xA5, sizeof(e));
    rc = tri_keyfile_parse(c, (const char *)data, size, horizon, e, TR_RING_MAX_KEYS, &n, &info,
                           &line, &why);
    if (rc != 0) {
        FZ_CHECK(rc == TR_E_KEYFILE_SYNTAX || rc == TR_E_KEYFILE_INTEGRITY ||
                 rc == TR_E_KEY_ZERO || rc == TR_E_KEY_DUPLICATE || rc == TR_E_TOO_MANY_KEYS ||
                 rc == TR_E_KEY_ACTIVATION);
        FZ_CHECK(why != NULL && why[0] != '\0');
        FZ_CHECK(n == 0 && all_zero(e, sizeof(e)));
        /* The line at fault, or the one after the last where one was missing. */
        FZ_CHECK(line <= lines_in(data, size) + 1);
    } else {
        FZ_CHECK(why == NULL);
        check_entries(&info, n);
        FZ_CHECK(tri_keyfile_format(c, &info, e, n, text, sizeof(text), &len) == 0);
        FZ_CHECK(len <= tri_keyfile_size(n));
        FZ_CHECK(tri_keyfile_parse(c, text, len, horizon, e2, TR_RING_MAX_KEYS, &n2, &info2,
                                   NULL, NULL) == 0);
        FZ_CHECK(n2 == n);
        for (uint32_t i = 0; i < n; i++)
            FZ_CHECK(memcmp(e2[i].key, e[i].key, TR_KEY_BYTES) == 0 &&
                     e2[i].activation == e[i].activation && e2[i].flags == e[i].flags);
        FZ_CHECK(info2.version == info.version && info2.serial == info.serial &&
                 strcmp(info2.cluster, info.cluster) == 0);
    }

    rc2 = apply(ring, data, size, &line2);
    FZ_CHECK(rc2 == rc);
    if (rc != 0) {
        FZ_CHECK(line2 == line);
        FZ_CHECK(tr_ring_key_count(ring, &count) == 0 && count == 0);
    } else {
        FZ_CHECK(tr_ring_key_count(ring, &count) == 0 && count == n);
        FZ_CHECK(tr_ring_serial(ring, &serial) == 0 && serial == info.serial);
        FZ_CHECK(tr_ring_cluster(ring, cluster, sizeof(cluster)) == 0 &&
                 strcmp(cluster, info.cluster) == 0);
        FZ_CHECK(apply(ring, data, size, &line2) == 0);
        FZ_CHECK(tr_ring_key_count(ring, &count) == 0 && count == n);
    }
    tr_ring_free(ring);
    return 0;
}
