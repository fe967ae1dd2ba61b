/*
 * Key files, format version 1 (docs/key-file-format.md).
 *
 * The parser is strict on purpose: one canonical spelling per key means
 * byte-identical files from every writer, and no tolerance that a later
 * version would have to keep. This module never logs; the ring does, with
 * the line number and the static reason returned here.
 */
#define _GNU_SOURCE /* mkostemp() */

#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h> /* rename() */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secure.h"

#define KF_MAX_LINE 256 /* bytes, without the '\n' */
#define KF_MAX_ACTIVATION (UINT64_C(1) << 62)
#define KF_ACTIVATION_DIGITS 19 /* strlen("4611686018427387904") */
#define KF_SECRET_BYTES (TR_KEY_BYTES - TR_KEY_NAME_BYTES)
#define KF_HMAC_BYTES 32
#define KF_AES_BYTES 32
#define KF_NAME_HEX (2 * TR_KEY_NAME_BYTES)
#define KF_SECRET_HEX (2 * KF_SECRET_BYTES)
#define KF_DIGEST_HEX (2 * TRI_SHA256_BYTES)

static const char kf_comment[] =
    "# libticketring key file (docs/key-file-format.md): secret, keep it mode 0600\n";
static const char kf_header[] = "ticketring-keys 1\n";
static const char kf_key_prefix[] = "key ";
static const char kf_checksum_prefix[] = "checksum sha256 ";

#define KF_KEY_LINE_MAX \
    (sizeof kf_key_prefix - 1 + KF_NAME_HEX + 1 + KF_ACTIVATION_DIGITS + 1 + KF_SECRET_HEX + 1)
#define KF_CHECKSUM_LINE (sizeof kf_checksum_prefix - 1 + KF_DIGEST_HEX + 1)

/* ---- constant-time hex ------------------------------------------------- */

/* v in 0..15 to '0'..'9', 'a'..'f' without a branch or a table lookup
 * indexed by the secret: (9 - v) wraps (top bits set) exactly when v > 9. */
static char hex_digit(uint32_t v)
{
    return (char)(v + '0' + (((9u - v) >> 8) & (uint32_t)('a' - '0' - 10)));
}

static void hex_encode(char *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = hex_digit((uint32_t)src[i] >> 4);
        dst[2 * i + 1] = hex_digit((uint32_t)src[i] & 0x0fu);
    }
}

/* One lowercase hex digit to its value. Range tests are done with wrapping
 * subtraction: (lo - 1 - x) & (x - hi - 1) has its top bits set exactly when
 * lo <= x <= hi, so the result and the validity flag come from masks, not
 * branches on the (secret) digit. */
static uint32_t hex_nibble(unsigned char ch, uint32_t *bad)
{
    uint32_t x = ch;
    uint32_t is_digit = (((0x2fu - x) & (x - 0x3au)) >> 8) & 0xffu; /* '0'..'9' */
    uint32_t is_lower = (((0x60u - x) & (x - 0x67u)) >> 8) & 0xffu; /* 'a'..'f' */
    *bad |= ~(is_digit | is_lower) & 0xffu;
    return ((is_digit & (x - 0x30u)) | (is_lower & (x - 0x57u))) & 0x0fu;
}

/* Decode 2n lowercase hex digits into n bytes; 1 when all were valid. dst is
 * written either way; the only branch on the data is the final verdict. */
static int hex_decode(uint8_t *dst, const char *src, size_t n)
{
    uint32_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t hi = hex_nibble((unsigned char)src[2 * i], &bad);
        uint32_t lo = hex_nibble((unsigned char)src[2 * i + 1], &bad);
        dst[i] = (uint8_t)((hi << 4) | lo);
    }
    return bad == 0;
}

/* ---- parsing ----------------------------------------------------------- */

struct kf_field {
    const char *p;
    size_t len;
};

#define KF_MAX_FIELDS 4

/* Split a line on single spaces into at most KF_MAX_FIELDS fields. Returns
 * the number of fields, KF_MAX_FIELDS + 1 when there are more, or -1 when
 * two spaces are adjacent (the caller has already refused spaces at either
 * end of the line). */
static int split_fields(const char *p, size_t len, struct kf_field *f)
{
    int nf = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && p[i] != ' ')
            continue;
        if (i == start)
            return -1;
        if (nf == KF_MAX_FIELDS)
            return KF_MAX_FIELDS + 1;
        f[nf].p = p + start;
        f[nf].len = i - start;
        nf++;
        start = i + 1;
    }
    return nf;
}

static int field_is(const struct kf_field *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && memcmp(f->p, s, n) == 0;
}

/* Canonical decimal: no sign, no leading zero, 0..2^62. */
static const char *parse_activation(const struct kf_field *f, int64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < f->len; i++) {
        if (f->p[i] < '0' || f->p[i] > '9')
            return "activation time: expected decimal Unix seconds (no sign)";
    }
    if (f->len > 1 && f->p[0] == '0')
        return "activation time: leading zero";
    if (f->len > KF_ACTIVATION_DIGITS)
        return "activation time: out of range (0..2^62)";
    for (size_t i = 0; i < f->len; i++)
        v = v * 10u + (uint64_t)(f->p[i] - '0'); /* < 10^19 < 2^64 */
    if (v > KF_MAX_ACTIVATION)
        return "activation time: out of range (0..2^62)";
    *out = (int64_t)v;
    return NULL;
}

#define KEY_SYNTAX "key line: expected 'key <name> <activation> <secret>'"

int tri_keyfile_parse(const tr_crypto *c, const char *buf, size_t len,
                      struct tri_keyfile_entry *out, uint32_t max, uint32_t *n,
                      uint32_t *err_line, const char **why)
{
    /* The format caps a file at TR_RING_MAX_KEYS whatever the caller's
     * array can hold; entries past `limit` are never written. */
    const uint32_t limit = max < TR_RING_MAX_KEYS ? max : TR_RING_MAX_KEYS;
    uint8_t key[TR_KEY_BYTES];
    uint8_t digest[TRI_SHA256_BYTES];
    uint8_t expect[TRI_SHA256_BYTES];
    struct kf_field f[KF_MAX_FIELDS];
    size_t pos = 0;
    uint32_t line = 0, count = 0;
    int have_header = 0, have_checksum = 0;
    /* The first key fault (zero, repeated, too many), reported only if the
     * file is otherwise intact: a corrupted file is reported as corrupted. */
    int key_rc = 0;
    uint32_t key_line = 0;
    const char *key_why = NULL;
    int rc = 0;
    uint32_t bad_line = 0;
    const char *reason = NULL;

    if (n != NULL)
        *n = 0;
    if (err_line != NULL)
        *err_line = 0;
    if (why != NULL)
        *why = NULL;
    if (c == NULL || c->sha256 == NULL || n == NULL || (buf == NULL && len != 0) ||
        (out == NULL && max != 0))
        return TR_E_INVAL;

#define FAIL(code, at, text) \
    do {                     \
        rc = (code);         \
        bad_line = (at);     \
        reason = (text);     \
        goto fail;           \
    } while (0)

    if (len > TRI_KEYFILE_MAX_BYTES)
        FAIL(TR_E_KEYFILE_SYNTAX, 0, "file larger than 65536 bytes");

    while (pos < len) {
        const char *p = buf + pos;
        size_t rest = len - pos;
        const char *nl = memchr(p, '\n', rest < KF_MAX_LINE + 1 ? rest : KF_MAX_LINE + 1);
        size_t ll;
        int nf;

        line++;
        if (have_checksum)
            FAIL(TR_E_KEYFILE_SYNTAX, line, "data after the checksum line");
        if (nl == NULL) {
            if (rest > KF_MAX_LINE)
                FAIL(TR_E_KEYFILE_SYNTAX, line, "line longer than 256 bytes");
            FAIL(TR_E_KEYFILE_INTEGRITY, line, "last line has no newline: file truncated");
        }
        ll = (size_t)(nl - p);
        if (memchr(p, '\r', ll) != NULL)
            FAIL(TR_E_KEYFILE_SYNTAX, line,
                 "carriage return: lines must end with \\n only (CRLF line endings?)");
        if (memchr(p, '\0', ll) != NULL)
            FAIL(TR_E_KEYFILE_SYNTAX, line, "NUL byte");
        if (ll == 0 || p[0] == '#') {
            pos += ll + 1;
            continue;
        }
        if (p[0] == ' ' || p[0] == '\t' || p[ll - 1] == ' ' || p[ll - 1] == '\t')
            FAIL(TR_E_KEYFILE_SYNTAX, line, "space or tab at the start or end of a line");
        nf = split_fields(p, ll, f);
        if (nf < 0)
            FAIL(TR_E_KEYFILE_SYNTAX, line, "fields must be separated by exactly one space");

        if (field_is(&f[0], "ticketring-keys")) {
            if (have_header)
                FAIL(TR_E_KEYFILE_SYNTAX, line, "header repeated");
            if (nf < 2)
                FAIL(TR_E_KEYFILE_SYNTAX, line, "header: expected 'ticketring-keys 1'");
            if (!field_is(&f[1], "1"))
                FAIL(TR_E_KEYFILE_SYNTAX, line, "unsupported version");
            if (nf != 2)
                FAIL(TR_E_KEYFILE_SYNTAX, line, "header: expected 'ticketring-keys 1'");
            have_header = 1;
        } else if (!have_header) {
            FAIL(TR_E_KEYFILE_SYNTAX, line,
                 "missing header: the first line that is not a comment must be 'ticketring-keys 1'");
        } else if (field_is(&f[0], "key")) {
            int64_t activation = 0;
            const char *bad;

            if (nf != 4)
                FAIL(TR_E_KEYFILE_SYNTAX, line, KEY_SYNTAX);
            if (f[1].len != KF_NAME_HEX || !hex_decode(key, f[1].p, TR_KEY_NAME_BYTES))
                FAIL(TR_E_KEYFILE_SYNTAX, line, "key name: expected 32 lowercase hex digits");
            bad = parse_activation(&f[2], &activation);
            if (bad != NULL)
                FAIL(TR_E_KEYFILE_SYNTAX, line, bad);
            if (f[3].len != KF_SECRET_HEX ||
                !hex_decode(key + TR_KEY_NAME_BYTES, f[3].p, KF_SECRET_BYTES))
                FAIL(TR_E_KEYFILE_SYNTAX, line,
                     "key secret: expected 128 lowercase hex digits");

            if (key_rc == 0) {
                if (count >= limit) {
                    key_rc = TR_E_TOO_MANY_KEYS;
                    key_why = "too many keys (at most 64)";
                } else if (tri_ct_is_zero(key, TR_KEY_NAME_BYTES)) {
                    key_rc = TR_E_KEY_ZERO;
                    key_why = "all-zero key name";
                } else if (tri_ct_is_zero(key + TR_KEY_NAME_BYTES, KF_HMAC_BYTES)) {
                    key_rc = TR_E_KEY_ZERO;
                    key_why = "all-zero HMAC secret";
                } else if (tri_ct_is_zero(key + TR_KEY_NAME_BYTES + KF_HMAC_BYTES,
                                          KF_AES_BYTES)) {
                    key_rc = TR_E_KEY_ZERO;
                    key_why = "all-zero AES key";
                } else {
                    for (uint32_t i = 0; i < count; i++) {
                        if (tri_ct_equal(out[i].key, key, TR_KEY_NAME_BYTES)) {
                            key_rc = TR_E_KEY_DUPLICATE;
                            key_why = "repeated key name";
                            break;
                        }
                    }
                }
                if (key_rc != 0)
                    key_line = line;
            }
            if (key_rc == 0) {
                memcpy(out[count].key, key, TR_KEY_BYTES);
                out[count].activation = activation;
                count++;
            }
            tri_wipe(key, sizeof key);
        } else if (field_is(&f[0], "checksum")) {
            if (nf != 3)
                FAIL(TR_E_KEYFILE_SYNTAX, line,
                     "checksum line: expected 'checksum sha256 <64 hex digits>'");
            if (!field_is(&f[1], "sha256"))
                FAIL(TR_E_KEYFILE_SYNTAX, line, "unsupported checksum algorithm");
            if (f[2].len != KF_DIGEST_HEX || !hex_decode(expect, f[2].p, TRI_SHA256_BYTES))
                FAIL(TR_E_KEYFILE_SYNTAX, line,
                     "checksum line: expected 64 lowercase hex digits");
            rc = c->sha256((const uint8_t *)buf, pos, digest);
            if (rc != 0)
                FAIL(rc, 0, "checksum could not be computed");
            if (!tri_ct_equal(digest, expect, sizeof digest))
                FAIL(TR_E_KEYFILE_INTEGRITY, line,
                     "checksum mismatch: file corrupted or edited");
            have_checksum = 1;
        } else {
            FAIL(TR_E_KEYFILE_SYNTAX, line,
                 "unknown line: expected 'key', 'checksum' or a '#' comment");
        }
        pos += ll + 1;
    }

    /* Faults at the end name the line where the missing one was expected. */
    if (!have_header)
        FAIL(TR_E_KEYFILE_SYNTAX, line + 1,
             line == 0 ? "empty file: missing header 'ticketring-keys 1'"
                       : "missing header 'ticketring-keys 1'");
    if (!have_checksum)
        FAIL(TR_E_KEYFILE_INTEGRITY, line + 1, "missing checksum line: file truncated");
    if (key_rc != 0)
        FAIL(key_rc, key_line, key_why);
#undef FAIL

    tri_wipe(digest, sizeof digest);
    *n = count;
    return 0;

fail:
    tri_wipe(key, sizeof key);
    tri_wipe(digest, sizeof digest);
    if (out != NULL)
        tri_wipe(out, (size_t)limit * sizeof *out);
    if (err_line != NULL)
        *err_line = bad_line;
    if (why != NULL)
        *why = reason;
    return rc;
}

/* ---- formatting -------------------------------------------------------- */

/*
 * The activation time is plain decimal (no leading zeros), so a key line's
 * length depends on it: this is the size with every activation at its widest
 * (19 digits), an upper bound that tri_keyfile_format() checks `cap` against
 * regardless of the values, and *len reports the exact length written.
 */
size_t tri_keyfile_size(uint32_t n)
{
    const size_t fixed = sizeof kf_comment - 1 + sizeof kf_header - 1 + KF_CHECKSUM_LINE;
    if ((size_t)n > (SIZE_MAX - fixed) / KF_KEY_LINE_MAX)
        return SIZE_MAX;
    return fixed + (size_t)n * KF_KEY_LINE_MAX;
}

static size_t put(char *dst, const char *s, size_t n)
{
    memcpy(dst, s, n);
    return n;
}

static size_t put_decimal(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

int tri_keyfile_format(const tr_crypto *c, const struct tri_keyfile_entry *e, uint32_t n,
                       char *buf, size_t cap, size_t *len)
{
    uint8_t digest[TRI_SHA256_BYTES];
    size_t need, pos = 0;
    int rc;

    if (len != NULL)
        *len = 0;
    if (c == NULL || c->sha256 == NULL || (e == NULL && n != 0) || buf == NULL || len == NULL)
        return TR_E_INVAL;
    need = tri_keyfile_size(n);
    if (need == SIZE_MAX || cap < need)
        return TR_E_BUFFER_TOO_SMALL;
    for (uint32_t i = 0; i < n; i++) {
        if (e[i].activation < 0 || (uint64_t)e[i].activation > KF_MAX_ACTIVATION)
            return TR_E_INVAL;
    }

    pos += put(buf + pos, kf_comment, sizeof kf_comment - 1);
    pos += put(buf + pos, kf_header, sizeof kf_header - 1);
    for (uint32_t i = 0; i < n; i++) {
        pos += put(buf + pos, kf_key_prefix, sizeof kf_key_prefix - 1);
        hex_encode(buf + pos, e[i].key, TR_KEY_NAME_BYTES);
        pos += KF_NAME_HEX;
        buf[pos++] = ' ';
        pos += put_decimal(buf + pos, (uint64_t)e[i].activation);
        buf[pos++] = ' ';
        hex_encode(buf + pos, e[i].key + TR_KEY_NAME_BYTES, KF_SECRET_BYTES);
        pos += KF_SECRET_HEX;
        buf[pos++] = '\n';
    }
    rc = c->sha256((const uint8_t *)buf, pos, digest);
    if (rc != 0) {
        tri_wipe(buf, pos);
        return rc;
    }
    pos += put(buf + pos, kf_checksum_prefix, sizeof kf_checksum_prefix - 1);
    hex_encode(buf + pos, digest, sizeof digest);
    pos += KF_DIGEST_HEX;
    buf[pos++] = '\n';
    tri_wipe(digest, sizeof digest);
    *len = pos;
    return 0;
}

/* ---- files ------------------------------------------------------------- */

int tri_keyfile_read(const char *path, char *buf, size_t cap, size_t *len)
{
    const size_t limit = cap < TRI_KEYFILE_MAX_BYTES ? cap : TRI_KEYFILE_MAX_BYTES;
    struct stat st;
    size_t got = 0;
    int fd, rc = 0;

    if (len != NULL)
        *len = 0;
    if (path == NULL || buf == NULL || len == NULL)
        return TR_E_INVAL;

    /* Follows symlinks on purpose (Kubernetes Secret volumes are chains of
     * them). O_NONBLOCK so that a FIFO at the path cannot block the open;
     * it has no effect on the regular file we go on to read. */
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return TR_E_IO;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = TR_E_IO;
        goto out;
    }
    /* Too large is a fault of the content, not of the file system. */
    if (st.st_size > TRI_KEYFILE_MAX_BYTES) {
        rc = TR_E_KEYFILE_SYNTAX;
        goto out;
    }
    if ((size_t)st.st_size > cap) {
        rc = TR_E_BUFFER_TOO_SMALL;
        goto out;
    }

    for (;;) {
        ssize_t r;
        if (got == limit) {
            /* Full: the file may have grown since fstat(). One more byte
             * tells; it may be secret, so it is wiped. */
            char extra;
            do {
                r = read(fd, &extra, 1);
            } while (r < 0 && errno == EINTR);
            tri_wipe(&extra, sizeof extra);
            if (r < 0)
                rc = TR_E_IO;
            else if (r > 0)
                rc = limit == TRI_KEYFILE_MAX_BYTES ? TR_E_KEYFILE_SYNTAX
                                                    : TR_E_BUFFER_TOO_SMALL;
            break;
        }
        r = read(fd, buf + got, limit - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = TR_E_IO;
            break;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }

out:
    close(fd);
    if (rc != 0) {
        tri_wipe(buf, got);
        return rc;
    }
    *len = got;
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int tri_keyfile_write(const char *path, const char *buf, size_t len)
{
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    static const char suffix[] = ".tmp-XXXXXX";
    const char *slash, *base;
    size_t dir_len, base_len;
    int fd = -1, dfd, rc = 0;

    if (path == NULL || (buf == NULL && len != 0))
        return TR_E_INVAL;
    slash = strrchr(path, '/');
    base = slash != NULL ? slash + 1 : path;
    base_len = strlen(base);
    dir_len = (size_t)(base - path); /* with its trailing '/' */
    if (base_len == 0 || dir_len + 1 + base_len + sizeof suffix > sizeof tmp)
        return TR_E_IO;

    /* "<dir>/.<base>.tmp-XXXXXX": same directory, so rename() is atomic. */
    memcpy(tmp, path, dir_len);
    tmp[dir_len] = '.';
    memcpy(tmp + dir_len + 1, base, base_len);
    memcpy(tmp + dir_len + 1 + base_len, suffix, sizeof suffix);
    if (slash == NULL) {
        memcpy(dir, ".", 2);
    } else {
        size_t d = dir_len > 1 ? dir_len - 1 : 1; /* "/x" -> "/" */
        memcpy(dir, path, d);
        dir[d] = '\0';
    }

    /* mkostemp: O_RDWR | O_CREAT | O_EXCL, mode 0600, unique name. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return TR_E_IO;
    /* 0600 whatever the umask (which could have removed the owner's bits). */
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0 || write_all(fd, buf, len) != 0 ||
        fsync(fd) != 0)
        goto fail;
    rc = close(fd);
    fd = -1;
    if (rc != 0 || rename(tmp, path) != 0)
        goto fail;

    /* The file is in place; make the rename itself durable. Some file
     * systems cannot fsync a directory (EINVAL): nothing more can be done
     * there, and the rename has still happened. */
    rc = 0;
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return TR_E_IO;
    if (fsync(dfd) != 0 && errno != EINVAL)
        rc = TR_E_IO;
    close(dfd);
    return rc;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return TR_E_IO;
}
