/*
 * Fuzz target: the importers of other servers' key files, tr_ring_import()
 * (nginx's 80-byte ssl_session_ticket_key, HAProxy's base64 tls-ticket-keys,
 * docs/interop-nginx.md, docs/interop-haproxy.md), and the base64 decoder
 * under them.
 *
 * Input: selector(1) then the file's bytes. Selector bit 0: HAProxy (else
 * nginx); bits 1-2: the activation passed (now, 0, pending, beyond the
 * activation horizon); bit 3: the ring already holds FZ_KEY_ENCRYPT (else
 * it is empty). The file is written to a private temporary directory,
 * mode 0600, and imported from there.
 *
 * Checks, besides no crash or sanitizer report:
 *  - tr_ring_import() refuses exactly the files the parser refuses, with the
 *    same code and line, and then adds nothing;
 *  - an import that succeeds adds exactly the parsed keys, and with
 *    activation "now" the server's encrypt key becomes the ring's;
 *  - of a HAProxy file, the penultimate line's key (the only line's) is the
 *    one given the encrypt role, and HAProxy's file for the parsed keys
 *    (previous, encrypt, next) parses back to them with the same roles;
 *  - base64 that decodes re-encodes to text that decodes to the same bytes.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "foreign.h"
#include "keyfile.h"
#include "fuzz.h"

#define HAPROXY 0x01u
#define PRELOAD 0x08u

static char path[64];

static void cleanup(void)
{
    char dir[sizeof(path)];
    char *slash;

    unlink(path);
    memcpy(dir, path, sizeof(dir));
    slash = strrchr(dir, '/');
    if (slash != NULL) {
        *slash = '\0';
        rmdir(dir);
    }
}

static void write_file(const uint8_t *data, size_t size)
{
    int fd;

    if (path[0] == '\0') {
        char dir[] = "/tmp/tr-fuzz-import-XXXXXX";
        FZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/keys", dir);
        atexit(cleanup);
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FZ_CHECK(fd >= 0);
    FZ_CHECK(fchmod(fd, 0600) == 0);
    FZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
    FZ_CHECK(close(fd) == 0);
}

static int64_t activation_of(uint8_t sel)
{
    switch ((sel >> 1) & 3) {
    case 0:
        return FZ_NOW_S;
    case 1:
        return 0;
    case 2:
        return TR_ACTIVATION_PENDING;
    default:
        return FZ_NOW_S + 6 * 366 * 86400; /* past the 5-year default horizon */
    }
}

static void check_base64(const uint8_t *data, size_t size)
{
    static uint8_t out[TRI_KEYFILE_MAX_BYTES], again[TRI_KEYFILE_MAX_BYTES];
    static char text[TRI_KEYFILE_MAX_BYTES * 2];
    size_t n = 0, m = 0, len;

    if (size > TRI_KEYFILE_MAX_BYTES ||
        tri_base64_decode((const char *)data, size, out, sizeof(out), &n) != 0)
        return;
    FZ_CHECK(n <= size / 4 * 3);
    len = tri_base64_encode(out, n, text);
    FZ_CHECK(len == size);
    FZ_CHECK(tri_base64_decode(text, len, again, sizeof(again), &m) == 0);
    FZ_CHECK(m == n && memcmp(again, out, n) == 0);
}

static const struct tri_foreign_key *with_role(const struct tri_foreign_key *k, uint32_t n,
                                               int32_t role)
{
    for (uint32_t i = 0; i < n; i++)
        if (k[i].role == role)
            return &k[i];
    return NULL;
}

/* HAProxy encrypts with the penultimate line of its file (the only one of
 * a one-line file): the key given the encrypt role must be that line's. */
static void check_haproxy_encrypt_line(const char *buf, size_t len,
                                       const struct tri_foreign_key *k, uint32_t n)
{
    const struct tri_foreign_key *enc = with_role(k, n, TR_KEY_ENCRYPT);
    static size_t start[TRI_KEYFILE_MAX_BYTES], end[TRI_KEYFILE_MAX_BYTES];
    size_t lines = 0, pos = 0, line, got = 0;
    uint8_t raw[TR_KEY_BYTES + 16], key[TR_KEY_BYTES];

    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        start[lines] = pos;
        end[lines] = nl != NULL ? (size_t)(nl - buf) : len;
        pos = end[lines++] + 1;
    }
    FZ_CHECK(enc != NULL && lines >= 1);
    line = lines >= 2 ? lines - 2 : 0;
    if (end[line] > start[line] && buf[end[line] - 1] == '\r')
        end[line]--;
    FZ_CHECK(tri_base64_decode(buf + start[line], end[line] - start[line], raw, sizeof(raw),
                               &got) == 0 &&
             got == TR_KEY_BYTES);
    tri_haproxy_swap(raw, key);
    FZ_CHECK(memcmp(key, enc->key, TR_KEY_BYTES) == 0);
}

/* The keys HAProxy holds, written back as HAProxy's file: the same keys
 * in the same roles. */
static void check_haproxy_round_trip(const struct tri_foreign_key *k, uint32_t n)
{
    const struct tri_foreign_key *enc = with_role(k, n, TR_KEY_ENCRYPT);
    const struct tri_foreign_key *prev = with_role(k, n, TR_KEY_DECRYPT);
    const struct tri_foreign_key *next = with_role(k, n, TR_KEY_PENDING);
    struct tri_foreign_key back[TRI_HAPROXY_SLOTS];
    char text[TRI_HAPROXY_SLOTS * (TRI_HAPROXY_LINE_CHARS + 1)];
    uint32_t m = 0, skipped = 0, line = 0;
    const char *why = NULL;
    size_t len;

    FZ_CHECK(enc != NULL);
    len = tri_haproxy_format(prev != NULL ? prev->key : NULL, enc->key,
                             next != NULL ? next->key : NULL, text);
    FZ_CHECK(len == sizeof(text));
    FZ_CHECK(tri_haproxy_parse(text, len, back, &m, &skipped, &line, &why) == 0);
    FZ_CHECK(m == 1u + (prev != NULL) + (next != NULL) && skipped == 0);
    for (uint32_t i = 0; i < m; i++) {
        const struct tri_foreign_key *orig = with_role(k, n, back[i].role);
        FZ_CHECK(orig != NULL && memcmp(orig->key, back[i].key, TR_KEY_BYTES) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tri_foreign_key k[TRI_HAPROXY_SLOTS];
    uint8_t sel = size > 0 ? data[0] : 0, name[TR_KEY_NAME_BYTES];
    const uint8_t *file = size > 0 ? data + 1 : data;
    size_t len = size > 0 ? size - 1 : 0;
    int32_t format = (sel & HAPROXY) ? TR_FORMAT_HAPROXY : TR_FORMAT_NGINX;
    int64_t activation = activation_of(sel);
    uint32_t n = 0, skipped = 0, pline = 0, iline = 0, before = 0, after = 0;
    const char *why = NULL;
    tr_ring *ring;
    int prc, irc;

    check_base64(file, len);
    if (len > TRI_KEYFILE_MAX_BYTES)
        return 0; /* refused before parsing; nothing to compare */

    memset(k, 0, sizeof(k));
    if (format == TR_FORMAT_HAPROXY) {
        prc = tri_haproxy_parse((const char *)file, len, k, &n, &skipped, &pline, &why);
    } else {
        prc = tri_nginx_parse(file, len, k[0].key, &why);
        if (prc == 0) {
            k[0].role = TR_KEY_ENCRYPT;
            n = 1;
        }
    }
    if (prc != 0) {
        FZ_CHECK(prc == TR_E_KEYFILE_SYNTAX || prc == TR_E_KEY_DUPLICATE);
        FZ_CHECK(why != NULL);
    } else {
        FZ_CHECK(n >= 1 && n <= TRI_HAPROXY_SLOTS);
        if (format == TR_FORMAT_HAPROXY) {
            check_haproxy_encrypt_line((const char *)file, len, k, n);
            check_haproxy_round_trip(k, n);
        }
    }

    fz_random_reset();
    ring = fz_ring_empty();
    if (sel & PRELOAD) {
        uint8_t key[TR_KEY_BYTES];
        fz_key(FZ_KEY_ENCRYPT, key);
        FZ_CHECK(tr_ring_add_key(ring, key, fz_key_activation(FZ_KEY_ENCRYPT)) == 0);
    }
    FZ_CHECK(tr_ring_key_count(ring, &before) == 0);
    write_file(file, len);
    irc = tr_ring_import(ring, format, path, activation, &iline);
    FZ_CHECK(tr_ring_key_count(ring, &after) == 0);
    if (prc != 0) {
        FZ_CHECK(irc == prc && iline == pline);
    } else if (irc == 0) {
        FZ_CHECK(after == before + n);
        if (activation == FZ_NOW_S) {
            FZ_CHECK(tr_ring_encrypt_key_name(ring, name) == 0);
            FZ_CHECK(memcmp(name, with_role(k, n, TR_KEY_ENCRYPT)->key, TR_KEY_NAME_BYTES) ==
                     0);
        }
    } else {
        FZ_CHECK(irc == TR_E_KEY_ZERO || irc == TR_E_KEY_DUPLICATE || irc == TR_E_INVAL ||
                 irc == TR_E_KEY_ACTIVATION);
    }
    if (irc != 0)
        FZ_CHECK(after == before);
    tr_ring_free(ring);
    return 0;
}
