/*
 * Other servers' ticket key files: import into a ring, export from it.
 *
 * Key bytes only ever pass between a file and the ring here: the public
 * functions take paths, so an application or the operator's tool never
 * holds a secret (docs/interop-nginx.md, docs/interop-haproxy.md).
 */
#define _POSIX_C_SOURCE 200809L

#include "foreign.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "ring.h"
#include "secure.h"

#define ACTIVATION_MAX (INT64_C(1) << 62)
#define HALF ((TR_KEY_BYTES - TR_KEY_NAME_BYTES) / 2) /* 32: HMAC or AES */

/* ---- layouts and base64 (pure) ------------------------------------------- */

void tri_haproxy_swap(const uint8_t in[TR_KEY_BYTES], uint8_t out[TR_KEY_BYTES])
{
    memcpy(out, in, TR_KEY_NAME_BYTES);
    memcpy(out + TR_KEY_NAME_BYTES, in + TR_KEY_NAME_BYTES + HALF, HALF);
    memcpy(out + TR_KEY_NAME_BYTES + HALF, in + TR_KEY_NAME_BYTES, HALF);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t tri_base64_encode(const uint8_t *in, size_t len, char *out)
{
    size_t o = 0;
    uint32_t v = 0;
    for (size_t i = 0; i < len; i += 3) {
        v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    tri_wipe(&v, sizeof v);
    return o;
}

/* A character's 6-bit value; -1 for '=' and -2 for anything else. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return c == '=' ? -1 : -2;
}

int tri_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t o = 0;

    *out_len = 0;
    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        uint32_t w;
        for (int j = 0; j < 4; j++) {
            v[j] = b64_value((unsigned char)in[i + j]);
            if (v[j] == -2)
                return -1;
            /* "XX==" and "XXX=" only, and only in the last group. */
            if (v[j] == -1) {
                if (j < 2 || i + 4 != len)
                    return -1;
                pad++;
            } else if (pad != 0) {
                return -1;
            }
        }
        if (o + 3 - (size_t)pad > cap) {
            tri_wipe(out, o);
            return -2;
        }
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 |
            (uint32_t)(v[3] < 0 ? 0 : v[3]);
        out[o++] = (uint8_t)(w >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(w >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)w;
        tri_wipe(&w, sizeof w);
        tri_wipe(v, sizeof v);
    }
    *out_len = o;
    return 0;
}

/* ---- nginx ------------------------------------------------------------------ */

int tri_nginx_parse(const uint8_t *buf, size_t len, uint8_t key[TR_KEY_BYTES], const char **why)
{
    if (len == TR_KEY_BYTES) {
        /* nginx's 80-byte file is name | HMAC | AES-256 key
         * (ngx_ssl_session_ticket_keys()): this library's layout. */
        memcpy(key, buf, TR_KEY_BYTES);
        return 0;
    }
    if (len == 0)
        *why = "empty file: an nginx ticket key file holds 80 bytes";
    else if (len == TRI_FOREIGN_LEGACY_BYTES)
        *why = "a 48-byte nginx key is an AES-128 key (name | AES | HMAC, 16 bytes each); "
               "libticketring keys are AES-256: use an 80-byte key (openssl rand 80)";
    else
        *why = "not an nginx ticket key: the file must hold exactly 80 bytes";
    return TR_E_KEYFILE_SYNTAX;
}

/* ---- HAProxy -------------------------------------------------------------- */

static int32_t role_strength(int32_t role)
{
    return role == TR_KEY_ENCRYPT ? 2 : role == TR_KEY_PENDING ? 1 : 0;
}

/* One line decoded to an 80-byte key in HAProxy's layout. */
static int haproxy_line(const char *s, size_t len, uint8_t raw[TR_KEY_BYTES], const char **why)
{
    uint8_t tmp[TR_KEY_BYTES + 16];
    size_t got = 0;
    int rc;

    if (len > 0 && s[len - 1] == '\r') /* HAProxy strips it too */
        len--;
    if (len == 0) {
        *why = "empty line: HAProxy takes one base64 key per line";
        return TR_E_KEYFILE_SYNTAX;
    }
    rc = tri_base64_decode(s, len, tmp, sizeof tmp, &got);
    if (rc == 0 && got == TR_KEY_BYTES) {
        memcpy(raw, tmp, TR_KEY_BYTES);
        tri_wipe(tmp, sizeof tmp);
        return 0;
    }
    tri_wipe(tmp, sizeof tmp);
    if (rc == -1)
        *why = "not valid base64 (HAProxy takes one base64 key per line, padded, without spaces)";
    else if (rc == 0 && got == TRI_FOREIGN_LEGACY_BYTES)
        *why = "a 48-byte key is an AES-128 key; libticketring keys are AES-256: use 80-byte "
               "keys (openssl rand 80 | openssl base64 -A)";
    else
        *why = "not an 80-byte key (HAProxy's AES-256 keys are 80 bytes: name | AES | HMAC)";
    return TR_E_KEYFILE_SYNTAX;
}

int tri_haproxy_parse(const char *buf, size_t len, struct tri_foreign_key out[TRI_HAPROXY_SLOTS],
                      uint32_t *n, uint32_t *skipped, uint32_t *err_line, const char **why)
{
    /* Like HAProxy, keep the last TRI_HAPROXY_SLOTS lines in a ring of
     * slots: line i goes to slot i % SLOTS. */
    struct tri_foreign_key slot[TRI_HAPROXY_SLOTS];
    uint32_t total = 0, first, enc, kept = 0;
    size_t pos = 0;
    int rc = 0;

    *n = 0;
    *skipped = 0;
    *err_line = 0;
    if (len == 0) {
        *why = "empty file: HAProxy needs at least one base64 key per line";
        return TR_E_KEYFILE_SYNTAX;
    }
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - buf) : len;
        struct tri_foreign_key *s;
        uint8_t raw[TR_KEY_BYTES];

        total++;
        rc = haproxy_line(buf + pos, end - pos, raw, why);
        if (rc != 0) {
            *err_line = total;
            break;
        }
        s = &slot[(total - 1) % TRI_HAPROXY_SLOTS];
        tri_haproxy_swap(raw, s->key);
        tri_wipe(raw, sizeof raw);
        s->line = total;
        pos = end + 1;
    }
    if (rc != 0) {
        tri_wipe(slot, sizeof slot);
        return rc;
    }

    /* HAProxy encrypts with the penultimate line (the only one of a
     * one-line file): bind_parse_tls_ticket_keys() sets
     * tls_ticket_enc_index to (lines - 2) % TLS_TICKETS_NO. */
    enc = total >= 2 ? total - 2 : 0; /* 0-based lines from here on */
    first = total > TRI_HAPROXY_SLOTS ? total - TRI_HAPROXY_SLOTS : 0;
    for (uint32_t l = first; l < total; l++) {
        struct tri_foreign_key *s = &slot[l % TRI_HAPROXY_SLOTS];
        int32_t role = l == enc ? TR_KEY_ENCRYPT : l < enc ? TR_KEY_DECRYPT : TR_KEY_PENDING;
        uint32_t j;

        for (j = 0; j < kept; j++)
            if (memcmp(out[j].key, s->key, TR_KEY_NAME_BYTES) == 0)
                break;
        if (j < kept) {
            /* The same key on two lines is one key to HAProxy (our export
             * repeats the encrypt key when the ring has no other); one name
             * with two secrets is two keys it cannot tell apart. */
            if (!tri_ct_equal(out[j].key, s->key, TR_KEY_BYTES)) {
                *err_line = s->line;
                *why = "a key name repeated with another secret";
                rc = TR_E_KEY_DUPLICATE;
                break;
            }
            if (role_strength(role) > role_strength(out[j].role))
                out[j].role = role;
            continue;
        }
        memcpy(out[kept].key, s->key, TR_KEY_BYTES);
        out[kept].role = role;
        out[kept].line = s->line;
        kept++;
    }
    tri_wipe(slot, sizeof slot);
    if (rc != 0) {
        tri_wipe(out, TRI_HAPROXY_SLOTS * sizeof(out[0]));
        return rc;
    }
    *n = kept;
    *skipped = first;
    return 0;
}

size_t tri_haproxy_format(const uint8_t *prev, const uint8_t *enc, const uint8_t *next,
                          char *out)
{
    const uint8_t *line[TRI_HAPROXY_SLOTS] = {prev != NULL ? prev : enc, enc,
                                              next != NULL ? next : enc};
    uint8_t raw[TR_KEY_BYTES];
    size_t o = 0;

    for (int i = 0; i < TRI_HAPROXY_SLOTS; i++) {
        tri_haproxy_swap(line[i], raw);
        o += tri_base64_encode(raw, sizeof raw, out + o);
        out[o++] = '\n';
    }
    tri_wipe(raw, sizeof raw);
    return o;
}

/* ---- import ---------------------------------------------------------------- */

static const char *format_name(int32_t format)
{
    return format == TR_FORMAT_NGINX ? "nginx" : "HAProxy";
}

/* The ring's file mode policy applies to other servers' key files too:
 * they are as secret as ours. Under the warn policy, *warn is set and the
 * warning is logged once the import succeeded. */
static int check_mode(tr_ring *r, const struct stat *st, int *warn, const char **why)
{
    int verdict = tri_file_mode_verdict(r, st);

    if (verdict == TR_E_KEYFILE_MODE)
        *why = "readable by group or others: run chmod 600 on it (the file mode policy "
               "refuses such files)";
    *warn = verdict == TRI_FILE_MODE_WARN;
    return verdict == TR_E_KEYFILE_MODE ? verdict : 0;
}

/* What a refused key would also be refused for by the ring, checked here
 * first so the error names its line. */
static int check_key(const uint8_t key[TR_KEY_BYTES], const char **why)
{
    if (tri_ct_is_zero(key, TR_KEY_NAME_BYTES) ||
        tri_ct_is_zero(key + TR_KEY_NAME_BYTES, HALF) ||
        tri_ct_is_zero(key + TR_KEY_NAME_BYTES + HALF, HALF)) {
        *why = "a key whose name, HMAC secret or AES key is all zero bytes";
        return TR_E_KEY_ZERO;
    }
    return 0;
}

/*
 * Add the batch in one new key set, so that no reader ever sees part of
 * it: tr_ring_add_key() publishes a set per key, and a failure half-way
 * would leave the first keys in. The server's encrypt key activates at
 * `activation`, a key it only decrypts with one second earlier (it was the
 * encrypt key before; its own time is unknown and only its order matters),
 * a key it holds for later stays pending.
 */
static int add_batch(tr_ring *r, const struct tri_foreign_key *k, uint32_t n,
                     int64_t activation, uint32_t *line, const char **why)
{
    struct tri_keyfile_entry e[TR_RING_MAX_KEYS + TRI_HAPROXY_SLOTS];
    struct tri_keyset *cur;
    int rc = 0;

    for (uint32_t i = 0; i < n && rc == 0; i++) {
        rc = check_key(k[i].key, why);
        if (rc == 0 && activation != TR_ACTIVATION_PENDING && k[i].role == TR_KEY_DECRYPT &&
            activation == 0) {
            *why = "activation 0 leaves no earlier time for the key the server only "
                   "decrypts with";
            rc = TR_E_INVAL;
        }
        if (rc != 0)
            *line = k[i].line;
    }
    if (rc == 0 && activation != TR_ACTIVATION_PENDING &&
        activation > tri_ring_max_activation(r)) {
        *why = "activation time beyond the ring's activation horizon";
        rc = TR_E_KEY_ACTIVATION;
    }
    if (rc != 0)
        return rc;

    tri_ring_writer_lock(r);
    cur = tri_ring_current_locked(r);
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        if (tri_keyset_find(cur, k[i].key) >= 0) {
            *why = "a key with this name is already held";
            *line = k[i].line;
            rc = TR_E_KEY_DUPLICATE;
        }
    }
    if (rc == 0 && cur->n + n > TR_RING_MAX_KEYS) {
        *why = "the ring would hold more than 64 keys";
        rc = TR_E_TOO_MANY_KEYS;
    }
    if (rc == 0) {
        tri_keyset_entries(cur, e);
        for (uint32_t i = 0; i < n; i++) {
            struct tri_keyfile_entry *x = &e[cur->n + i];
            memcpy(x->key, k[i].key, TR_KEY_BYTES);
            x->flags = 0;
            if (activation == TR_ACTIVATION_PENDING || k[i].role == TR_KEY_PENDING)
                x->activation = TR_ACTIVATION_PENDING;
            else
                x->activation = k[i].role == TR_KEY_ENCRYPT ? activation : activation - 1;
        }
        rc = tri_ring_replace_locked(r, e, cur->n + n, cur->cluster);
        tri_wipe(e, sizeof(e));
    }
    tri_ring_writer_unlock(r);
    return rc;
}

static int parse_file(int32_t format, const char *buf, size_t len,
                      struct tri_foreign_key k[TRI_HAPROXY_SLOTS], uint32_t *n,
                      uint32_t *skipped, uint32_t *line, const char **why)
{
    int rc;

    if (format == TR_FORMAT_HAPROXY)
        return tri_haproxy_parse(buf, len, k, n, skipped, line, why);
    rc = tri_nginx_parse((const uint8_t *)buf, len, k[0].key, why);
    if (rc == 0) {
        /* One key per file: nginx encrypts with it when it is the first
         * ssl_session_ticket_key; whether it is, the caller's activation
         * says. */
        k[0].role = TR_KEY_ENCRYPT;
        k[0].line = 0;
        *n = 1;
    }
    return rc;
}

int tr_ring_import(tr_ring *r, int32_t format, const char *path, int64_t activation,
                   uint32_t *err_line)
{
    struct tri_foreign_key k[TRI_HAPROXY_SLOTS];
    struct stat st;
    const char *why = NULL;
    char *buf;
    size_t len = 0;
    uint32_t n = 0, skipped = 0, line = 0;
    int rc, warn_mode = 0;

    if (err_line != NULL)
        *err_line = 0;
    if (r == NULL || path == NULL || (format != TR_FORMAT_NGINX && format != TR_FORMAT_HAPROXY))
        return TR_E_INVAL;
    if (activation != TR_ACTIVATION_PENDING && (activation < 0 || activation > ACTIVATION_MAX))
        return TR_E_INVAL;

    buf = tri_alloc(&r->env, TRI_KEYFILE_MAX_BYTES);
    if (buf == NULL)
        return TR_E_NOMEM;
    rc = tri_keyfile_read_stat(path, buf, TRI_KEYFILE_MAX_BYTES, &len, &st);
    if (rc == TR_E_KEYFILE_SYNTAX)
        why = "larger than 65536 bytes: not a ticket key file";
    else if (rc == TR_E_IO)
        why = "cannot read it (missing, not readable, or not a regular file)";
    if (rc == 0)
        rc = check_mode(r, &st, &warn_mode, &why);
    if (rc == 0)
        rc = parse_file(format, buf, len, k, &n, &skipped, &line, &why);
    tri_wipe(buf, len);
    tri_free(&r->env, buf);
    if (rc == 0)
        rc = add_batch(r, k, n, activation, &line, &why);
    tri_wipe(k, sizeof k);

    if (rc != 0) {
        if (err_line != NULL)
            *err_line = line;
        /* The compiler's FILE:LINE: shape, as for our own key files. */
        if (line != 0)
            tri_log(r, TR_LOG_ERROR, "%s:%u: %s (%s); %s import refused, no key added", path,
                    line, why != NULL ? why : tr_strerror(rc), tr_strerror(rc),
                    format_name(format));
        else
            tri_log(r, TR_LOG_ERROR, "%s: %s (%s); %s import refused, no key added", path,
                    why != NULL ? why : tr_strerror(rc), tr_strerror(rc), format_name(format));
        return rc;
    }
    if (warn_mode)
        tri_log(r, TR_LOG_WARN,
                "key file %s is readable by group or others (mode %04o): run chmod 600 %s "
                "(imported anyway: the file mode policy warns)",
                path, (unsigned)st.st_mode & 07777u, path);
    if (skipped != 0)
        tri_log(r, TR_LOG_WARN,
                "%s: %u lines before the last %d skipped: HAProxy holds only the last %d keys "
                "of its file",
                path, skipped, TRI_HAPROXY_SLOTS, TRI_HAPROXY_SLOTS);
    tri_log(r, TR_LOG_INFO, "imported %u keys from %s key file %s", n, format_name(format),
            path);
    return 0;
}

/* ---- export ---------------------------------------------------------------- */

/* The keys to export, copied out of the pinned key set so no file I/O
 * happens while it is pinned: the encrypt key, then the pending keys
 * (soonest first), then the decrypt-only keys (newest first). */
struct export_set {
    uint8_t keys[TR_RING_MAX_KEYS][TR_KEY_BYTES];
    uint32_t n, pending, decrypt, skipped;
    char enc_name[2 * TR_KEY_NAME_BYTES + 1];
};

static void copy_key(const struct tri_key *k, uint8_t out[TR_KEY_BYTES])
{
    memcpy(out, k->name, TR_KEY_NAME_BYTES);
    memcpy(out + TR_KEY_NAME_BYTES, k->secret, TRI_SECRET_BYTES);
}

static int collect(tr_ring *r, struct export_set *x)
{
    uint32_t lifetime = (uint32_t)atomic_load(&r->lifetime);
    uint32_t skew = (uint32_t)atomic_load(&r->skew);
    int64_t now = tri_floor_s(tri_ring_now_ms(r));
    struct tri_keyset *ks;
    unsigned tok;
    int enc;

    ks = tri_ring_enter(r, &tok);
    /* The schedule's encrypt key; the exhausted policy (which may stop this
     * ring sealing) is this ring's, not the other server's. */
    enc = tri_keyset_encrypt_index(ks, now);
    if (enc >= 0) {
        copy_key(&ks->keys[enc], x->keys[x->n++]);
        tri_hex_encode(x->enc_name, ks->keys[enc].name, TR_KEY_NAME_BYTES);
        x->enc_name[2 * TR_KEY_NAME_BYTES] = '\0';
        for (uint32_t i = 0; i < ks->n; i++)
            if (tri_keyset_role(ks, i, now, lifetime, skew) == TR_KEY_PENDING) {
                copy_key(&ks->keys[i], x->keys[x->n++]);
                x->pending++;
            }
        for (uint32_t i = ks->n; i > 0; i--)
            if (tri_keyset_role(ks, i - 1, now, lifetime, skew) == TR_KEY_DECRYPT) {
                copy_key(&ks->keys[i - 1], x->keys[x->n++]);
                x->decrypt++;
            }
        x->skipped = ks->n - x->n;
    }
    tri_ring_leave(r, tok);
    return enc >= 0 ? 0 : TR_E_NO_ENCRYPT_KEY;
}

static int numbered(char *out, size_t cap, const char *path, uint32_t i)
{
    int len = snprintf(out, cap, "%s.%u", path, i);
    return len > 0 && (size_t)len < cap ? 0 : TR_E_IO;
}

/* nginx: one file per key, path.0 the encrypt key (nginx seals with its
 * first ssl_session_ticket_key and opens with any). Written from the last
 * to path.0, so a failure half-way leaves nginx's encrypt key as it was.
 * Files path.N beyond the new count were written by an earlier export:
 * they hold keys that no longer decrypt anything useful, so they are
 * removed rather than left on disk. */
static int write_nginx(tr_ring *r, const char *path, const struct export_set *x)
{
    char name[PATH_MAX];
    int rc = 0;

    for (uint32_t i = x->n; i > 0 && rc == 0; i--) {
        rc = numbered(name, sizeof name, path, i - 1);
        if (rc == 0)
            rc = tri_keyfile_write(name, (const char *)x->keys[i - 1], TR_KEY_BYTES);
        if (rc != 0)
            tri_log(r, TR_LOG_ERROR, "cannot write nginx key file %s.%u", path, i - 1);
    }
    for (uint32_t i = x->n; i < TR_RING_MAX_KEYS && rc == 0; i++) {
        rc = numbered(name, sizeof name, path, i);
        if (rc == 0 && unlink(name) != 0 && errno != ENOENT) {
            tri_log(r, TR_LOG_ERROR, "cannot remove the stale nginx key file %s", name);
            rc = TR_E_IO;
        }
    }
    return rc;
}

static int write_haproxy(tr_ring *r, const char *path, const struct export_set *x,
                         uint32_t *count)
{
    char text[TRI_HAPROXY_SLOTS * (TRI_HAPROXY_LINE_CHARS + 1)];
    const uint8_t *prev = x->decrypt > 0 ? x->keys[1 + x->pending] : NULL;
    const uint8_t *next = x->pending > 0 ? x->keys[1] : NULL;
    uint32_t left = (x->pending > 1 ? x->pending - 1 : 0) + (x->decrypt > 1 ? x->decrypt - 1 : 0);
    size_t len;
    int rc;

    len = tri_haproxy_format(prev, x->keys[0], next, text);
    rc = tri_keyfile_write(path, text, len);
    tri_wipe(text, sizeof text);
    if (rc != 0) {
        tri_log(r, TR_LOG_ERROR, "cannot write HAProxy key file %s", path);
        return rc;
    }
    if (left != 0)
        tri_log(r, TR_LOG_WARN,
                "%s: HAProxy holds %d keys (previous, encrypt, next): %u more usable keys "
                "of the ring not exported, tickets sealed with them will not resume there",
                path, TRI_HAPROXY_SLOTS, left);
    *count = 1 + (prev != NULL) + (next != NULL);
    return 0;
}

int tr_ring_export(tr_ring *r, int32_t format, const char *path, uint32_t *count)
{
    struct export_set x;
    uint32_t written = 0;
    int rc;

    if (count != NULL)
        *count = 0;
    if (r == NULL || path == NULL || path[0] == '\0' ||
        (format != TR_FORMAT_NGINX && format != TR_FORMAT_HAPROXY))
        return TR_E_INVAL;
    memset(&x, 0, sizeof x);
    rc = collect(r, &x);
    if (rc != 0) {
        tri_log(r, TR_LOG_ERROR, "%s: no key encrypts now; nothing exported for %s", path,
                format_name(format));
        tri_wipe(&x, sizeof x);
        return rc;
    }
    if (format == TR_FORMAT_NGINX) {
        rc = write_nginx(r, path, &x);
        written = x.n;
    } else {
        rc = write_haproxy(r, path, &x, &written);
    }
    if (rc == 0) {
        tri_log(r, TR_LOG_INFO,
                "exported %u keys for %s to %s%s (encrypt key %s; %u retired or revoked keys "
                "left out)",
                written, format_name(format), path, format == TR_FORMAT_NGINX ? ".N" : "",
                x.enc_name, x.skipped);
        if (count != NULL)
            *count = written;
    }
    tri_wipe(&x, sizeof x);
    return rc;
}
