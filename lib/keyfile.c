/*
 * Key files, format versions 1 and 2 (docs/key-file-format.md).
 *
 * The parser is strict on purpose: one canonical spelling per key means
 * byte-identical files from every writer, and no tolerance that a later
 * version would have to keep. This module never logs; the ring does, with
 * the line number and the static reason returned here. Reading and writing
 * files is keyfile_io.c's.
 */
#include "keyfile.h"

#include <string.h>

#include "secure.h"

#define KF_MAX_LINE 256 /* bytes, without the '\n' */
#define KF_MAX_ACTIVATION (UINT64_C(1) << 62)
#define KF_ACTIVATION_DIGITS 19 /* strlen("4611686018427387904") */
#define KF_SERIAL_DIGITS 20     /* strlen("18446744073709551615") */
#define KF_SECRET_BYTES (TR_KEY_BYTES - TR_KEY_NAME_BYTES)
#define KF_HMAC_BYTES 32
#define KF_AES_BYTES 32
#define KF_NAME_HEX (2 * TR_KEY_NAME_BYTES)
#define KF_SECRET_HEX (2 * KF_SECRET_BYTES)
#define KF_DIGEST_HEX (2 * TRI_SHA256_BYTES)

static const char kf_comment[] =
    "# libticketring key file (docs/key-file-format.md): secret, keep it mode 0600\n";
static const char kf_header_v1[] = "ticketring-keys 1\n";
static const char kf_header_v2[] = "ticketring-keys 2\n";
static const char kf_cluster_prefix[] = "cluster ";
static const char kf_serial_prefix[] = "serial ";
static const char kf_key_prefix[] = "key ";
static const char kf_pending[] = "pending";
static const char kf_revoked[] = " revoked";
static const char kf_checksum_prefix[] = "checksum sha256 ";

/* The longest key line: the widest activation ("pending" is shorter) and
 * the revoked mark. */
#define KF_KEY_LINE_MAX                                                           \
    (sizeof kf_key_prefix - 1 + KF_NAME_HEX + 1 + KF_ACTIVATION_DIGITS + 1 +      \
     KF_SECRET_HEX + sizeof kf_revoked - 1 + 1)
#define KF_CLUSTER_LINE_MAX (sizeof kf_cluster_prefix - 1 + TRI_CLUSTER_MAX + 1)
#define KF_SERIAL_LINE_MAX (sizeof kf_serial_prefix - 1 + KF_SERIAL_DIGITS + 1)
#define KF_CHECKSUM_LINE (sizeof kf_checksum_prefix - 1 + KF_DIGEST_HEX + 1)

/* ---- constant-time hex ------------------------------------------------- */

/* v in 0..15 to '0'..'9', 'a'..'f' without a branch or a table lookup
 * indexed by the secret: (9 - v) wraps (top bits set) exactly when v > 9. */
static char hex_digit(uint32_t v)
{
    return (char)(v + '0' + (((9u - v) >> 8) & (uint32_t)('a' - '0' - 10)));
}

void tri_hex_encode(char *dst, const uint8_t *src, size_t n)
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

#define KF_MAX_FIELDS 5 /* key <name> <activation> <secret> revoked */

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

static int all_digits(const struct kf_field *f)
{
    for (size_t i = 0; i < f->len; i++)
        if (f->p[i] < '0' || f->p[i] > '9')
            return 0;
    return 1;
}

/* Canonical decimal: no sign, no leading zero, 0..2^62. */
static const char *parse_activation(const struct kf_field *f, int64_t *out)
{
    uint64_t v = 0;
    if (!all_digits(f))
        return "activation time: expected decimal Unix seconds (no sign)";
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

/* Canonical decimal, 1..2^64-1: 0 would read as "no serial" (a version-1
 * file, or a ring that never held a version-2 file). */
static const char *parse_serial(const struct kf_field *f, uint64_t *out)
{
    uint64_t v = 0;
    if (!all_digits(f))
        return "serial: expected a decimal number (no sign)";
    if (f->len > 1 && f->p[0] == '0')
        return "serial: leading zero";
    if (f->len > KF_SERIAL_DIGITS)
        return "serial: out of range (1..18446744073709551615)";
    for (size_t i = 0; i < f->len; i++) {
        uint64_t d = (uint64_t)(f->p[i] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            return "serial: out of range (1..18446744073709551615)";
        v = v * 10u + d;
    }
    if (v == 0)
        return "serial: must be at least 1 (0 means no serial)";
    *out = v;
    return NULL;
}

static int cluster_chars_valid(const char *p, size_t len)
{
    if (len < 1 || len > TRI_CLUSTER_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

int tri_cluster_valid(const char *s)
{
    return s != NULL && cluster_chars_valid(s, strnlen(s, TRI_CLUSTER_MAX + 1));
}

/* The parser's state between lines. */
struct kf_parse {
    const tr_crypto *c;
    const char *buf;
    int64_t max_activation;
    struct tri_keyfile_entry *out;
    uint32_t limit; /* entries `out` may receive */
    uint32_t count;
    uint32_t line;
    struct tri_keyfile_info info;
    int have_header, have_serial, have_checksum;
    /* The first key fault (zero, repeated, too many, too far ahead),
     * reported only if the file is otherwise intact: a corrupted file is
     * reported as corrupted. */
    int key_rc;
    uint32_t key_line;
    const char *key_why;
    uint8_t key[TR_KEY_BYTES];
    uint8_t digest[TRI_SHA256_BYTES];
    uint8_t expect[TRI_SHA256_BYTES];
};

#define HEADER_SYNTAX "header: expected 'ticketring-keys 1' or 'ticketring-keys 2'"
#define KEY_SYNTAX_V1 "key line: expected 'key <name> <activation> <secret>'"
#define KEY_SYNTAX_V2 "key line: expected 'key <name> <activation|pending> <secret> [revoked]'"
#define NEEDS_SERIAL "missing serial line: version 2 needs 'serial <number>' before the keys"

/* Each line handler returns 0 or a TR_E_* code with *why set. */

static int fault(const char **why, const char *reason, int rc)
{
    *why = reason;
    return rc;
}

static int syntax(const char **why, const char *reason)
{
    return fault(why, reason, TR_E_KEYFILE_SYNTAX);
}

static int on_header(struct kf_parse *p, const struct kf_field *f, int nf, const char **why)
{
    if (p->have_header)
        return syntax(why, "header repeated");
    if (nf < 2)
        return syntax(why, HEADER_SYNTAX);
    if (field_is(&f[1], "1"))
        p->info.version = 1;
    else if (field_is(&f[1], "2"))
        p->info.version = 2;
    else
        return syntax(why, "unsupported version");
    if (nf != 2)
        return syntax(why, HEADER_SYNTAX);
    p->have_header = 1;
    return 0;
}

static int on_cluster(struct kf_parse *p, const struct kf_field *f, int nf, const char **why)
{
    if (p->info.version < 2)
        return syntax(why, "cluster line: only in version 2 files");
    if (p->info.cluster_line != 0)
        return syntax(why, "cluster line repeated");
    if (p->have_serial)
        return syntax(why, "cluster line after the serial line: the cluster comes first");
    if (nf != 2)
        return syntax(why, "cluster line: expected 'cluster <id>'");
    if (!cluster_chars_valid(f[1].p, f[1].len))
        return syntax(why, "cluster id: expected 1 to 64 characters of A-Z a-z 0-9 . _ -");
    memcpy(p->info.cluster, f[1].p, f[1].len);
    p->info.cluster[f[1].len] = '\0';
    p->info.cluster_line = p->line;
    return 0;
}

static int on_serial(struct kf_parse *p, const struct kf_field *f, int nf, const char **why)
{
    if (p->info.version < 2)
        return syntax(why, "serial line: only in version 2 files");
    if (p->have_serial)
        return syntax(why, "serial line repeated");
    if (nf != 2)
        return syntax(why, "serial line: expected 'serial <number>'");
    *why = parse_serial(&f[1], &p->info.serial);
    if (*why != NULL)
        return TR_E_KEYFILE_SYNTAX;
    p->have_serial = 1;
    p->info.serial_line = p->line;
    return 0;
}

/* Remember the first key fault; the key itself is checked only while no
 * fault has been seen. */
static void key_fault(struct kf_parse *p, int rc, const char *why)
{
    p->key_rc = rc;
    p->key_why = why;
    p->key_line = p->line;
}

static void check_key(struct kf_parse *p, int64_t activation)
{
    const uint8_t *k = p->key;

    if (p->count >= p->limit)
        key_fault(p, TR_E_TOO_MANY_KEYS, "too many keys (at most 64)");
    else if (tri_ct_is_zero(k, TR_KEY_NAME_BYTES))
        key_fault(p, TR_E_KEY_ZERO, "all-zero key name");
    else if (tri_ct_is_zero(k + TR_KEY_NAME_BYTES, KF_HMAC_BYTES))
        key_fault(p, TR_E_KEY_ZERO, "all-zero HMAC secret");
    else if (tri_ct_is_zero(k + TR_KEY_NAME_BYTES + KF_HMAC_BYTES, KF_AES_BYTES))
        key_fault(p, TR_E_KEY_ZERO, "all-zero AES key");
    if (p->key_rc != 0)
        return;
    for (uint32_t i = 0; i < p->count; i++) {
        if (tri_ct_equal(p->out[i].key, k, TR_KEY_NAME_BYTES)) {
            key_fault(p, TR_E_KEY_DUPLICATE, "repeated key name");
            return;
        }
    }
    if (activation != TR_ACTIVATION_PENDING && activation > p->max_activation)
        key_fault(p, TR_E_KEY_ACTIVATION,
                  "activation time beyond the activation horizon (milliseconds "
                  "written as seconds?)");
}

static int on_key(struct kf_parse *p, const struct kf_field *f, int nf, const char **why)
{
    const int v2 = p->info.version == 2;
    int64_t activation = 0;
    uint32_t flags = 0;

    if (v2 && !p->have_serial)
        return syntax(why, NEEDS_SERIAL);
    if (nf != 4 && !(v2 && nf == 5))
        return syntax(why, v2 ? KEY_SYNTAX_V2 : KEY_SYNTAX_V1);
    if (f[1].len != KF_NAME_HEX || !hex_decode(p->key, f[1].p, TR_KEY_NAME_BYTES))
        return syntax(why, "key name: expected 32 lowercase hex digits");
    if (field_is(&f[2], kf_pending)) {
        if (!v2)
            return syntax(why, "activation time: 'pending' only in version 2 files");
        activation = TR_ACTIVATION_PENDING;
    } else {
        *why = parse_activation(&f[2], &activation);
        if (*why != NULL)
            return TR_E_KEYFILE_SYNTAX;
    }
    if (f[3].len != KF_SECRET_HEX ||
        !hex_decode(p->key + TR_KEY_NAME_BYTES, f[3].p, KF_SECRET_BYTES))
        return syntax(why, "key secret: expected 128 lowercase hex digits");
    if (nf == 5) {
        if (!field_is(&f[4], kf_revoked + 1))
            return syntax(why, "key line: expected 'revoked' or nothing after the secret");
        flags = TRI_KEY_REVOKED;
    }
    if (p->key_rc == 0)
        check_key(p, activation);
    if (p->key_rc == 0) {
        memcpy(p->out[p->count].key, p->key, TR_KEY_BYTES);
        p->out[p->count].activation = activation;
        p->out[p->count].flags = flags;
        p->count++;
    }
    tri_wipe(p->key, sizeof p->key);
    return 0;
}

/* `pos`: the checksum line's offset, i.e. how many bytes it covers. */
static int on_checksum(struct kf_parse *p, const struct kf_field *f, int nf, size_t pos,
                       const char **why)
{
    int rc;

    if (nf != 3)
        return syntax(why, "checksum line: expected 'checksum sha256 <64 hex digits>'");
    if (!field_is(&f[1], "sha256"))
        return syntax(why, "unsupported checksum algorithm");
    if (f[2].len != KF_DIGEST_HEX || !hex_decode(p->expect, f[2].p, TRI_SHA256_BYTES))
        return syntax(why, "checksum line: expected 64 lowercase hex digits");
    if (p->info.version == 2 && !p->have_serial)
        return syntax(why, NEEDS_SERIAL);
    rc = p->c->sha256((const uint8_t *)p->buf, pos, p->digest);
    if (rc != 0) {
        p->line = 0; /* not the file's fault */
        return fault(why, "checksum could not be computed", rc);
    }
    if (!tri_ct_equal(p->digest, p->expect, sizeof p->digest))
        return fault(why, "checksum mismatch: file corrupted or edited",
                     TR_E_KEYFILE_INTEGRITY);
    p->have_checksum = 1;
    return 0;
}

/* One line that is neither blank nor a comment, without its '\n'. */
static int on_line(struct kf_parse *p, const char *s, size_t ll, size_t pos, const char **why)
{
    struct kf_field f[KF_MAX_FIELDS];
    int nf;

    if (s[0] == ' ' || s[0] == '\t' || s[ll - 1] == ' ' || s[ll - 1] == '\t')
        return syntax(why, "space or tab at the start or end of a line");
    nf = split_fields(s, ll, f);
    if (nf < 0)
        return syntax(why, "fields must be separated by exactly one space");
    if (field_is(&f[0], "ticketring-keys"))
        return on_header(p, f, nf, why);
    if (!p->have_header)
        return syntax(why, "missing header: the first line that is not a comment must be "
                           "'ticketring-keys 1' or 'ticketring-keys 2'");
    if (field_is(&f[0], "key"))
        return on_key(p, f, nf, why);
    if (field_is(&f[0], "checksum"))
        return on_checksum(p, f, nf, pos, why);
    if (field_is(&f[0], "cluster"))
        return on_cluster(p, f, nf, why);
    if (field_is(&f[0], "serial"))
        return on_serial(p, f, nf, why);
    return syntax(why, p->info.version == 2 ? "unknown line: expected 'cluster', 'serial', "
                                              "'key', 'checksum' or a '#' comment"
                                            : "unknown line: expected 'key', 'checksum' or a "
                                              "'#' comment");
}

int tri_keyfile_parse(const tr_crypto *c, const char *buf, size_t len,
                      int64_t max_activation, struct tri_keyfile_entry *out, uint32_t max,
                      uint32_t *n, struct tri_keyfile_info *info, uint32_t *err_line,
                      const char **why)
{
    struct kf_parse p;
    const char *reason = NULL;
    size_t pos = 0;
    int rc = 0;

    if (n != NULL)
        *n = 0;
    if (info != NULL)
        memset(info, 0, sizeof *info);
    if (err_line != NULL)
        *err_line = 0;
    if (why != NULL)
        *why = NULL;
    if (c == NULL || c->sha256 == NULL || n == NULL || (buf == NULL && len != 0) ||
        (out == NULL && max != 0))
        return TR_E_INVAL;

    memset(&p, 0, sizeof p);
    p.c = c;
    p.buf = buf;
    p.max_activation = max_activation;
    p.out = out;
    /* The format caps a file at TR_RING_MAX_KEYS whatever the caller's
     * array can hold; entries past `limit` are never written. */
    p.limit = max < TR_RING_MAX_KEYS ? max : TR_RING_MAX_KEYS;

    if (len > TRI_KEYFILE_MAX_BYTES) {
        rc = TR_E_KEYFILE_SYNTAX;
        reason = "file larger than 65536 bytes";
        goto fail;
    }
    while (pos < len) {
        const char *s = buf + pos;
        size_t rest = len - pos;
        const char *nl = memchr(s, '\n', rest < KF_MAX_LINE + 1 ? rest : KF_MAX_LINE + 1);
        size_t ll;

        p.line++;
        rc = TR_E_KEYFILE_SYNTAX;
        if (p.have_checksum) {
            reason = "data after the checksum line";
            goto fail;
        }
        if (nl == NULL) {
            if (rest > KF_MAX_LINE) {
                reason = "line longer than 256 bytes";
            } else {
                rc = TR_E_KEYFILE_INTEGRITY;
                reason = "last line has no newline: file truncated";
            }
            goto fail;
        }
        ll = (size_t)(nl - s);
        if (memchr(s, '\r', ll) != NULL) {
            reason = "carriage return: lines must end with \\n only (CRLF line endings?)";
            goto fail;
        }
        if (memchr(s, '\0', ll) != NULL) {
            reason = "NUL byte";
            goto fail;
        }
        rc = 0;
        if (ll != 0 && s[0] != '#')
            rc = on_line(&p, s, ll, pos, &reason);
        if (rc != 0)
            goto fail;
        pos += ll + 1;
    }

    /* Faults at the end name the line where the missing one was expected. */
    p.line++;
    if (!p.have_header) {
        rc = TR_E_KEYFILE_SYNTAX;
        reason = p.line == 1 ? "empty file: missing header 'ticketring-keys <version>'"
                             : "missing header 'ticketring-keys <version>'";
        goto fail;
    }
    if (!p.have_checksum) {
        rc = TR_E_KEYFILE_INTEGRITY;
        reason = "missing checksum line: file truncated";
        goto fail;
    }
    if (p.key_rc != 0) {
        rc = p.key_rc;
        reason = p.key_why;
        p.line = p.key_line;
        goto fail;
    }

    *n = p.count;
    if (info != NULL)
        *info = p.info;
    tri_wipe(&p, sizeof p);
    return 0;

fail:
    if (out != NULL)
        tri_wipe(out, (size_t)p.limit * sizeof *out);
    if (err_line != NULL)
        *err_line = p.line;
    if (why != NULL)
        *why = reason;
    tri_wipe(&p, sizeof p);
    return rc;
}

/* ---- formatting -------------------------------------------------------- */

/*
 * Activation times and serials are plain decimal (no leading zeros), so
 * line lengths depend on them: this is the size with every line at its
 * widest in either version, an upper bound that tri_keyfile_format() checks
 * `cap` against regardless of the values; *len reports the exact length
 * written.
 */
size_t tri_keyfile_size(uint32_t n)
{
    const size_t fixed = sizeof kf_comment - 1 + sizeof kf_header_v2 - 1 +
                         KF_CLUSTER_LINE_MAX + KF_SERIAL_LINE_MAX + KF_CHECKSUM_LINE;
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

/* Whatever the parser would refuse in this version is not written. */
static int format_args_ok(uint32_t version, const struct tri_keyfile_info *info,
                          const struct tri_keyfile_entry *e, uint32_t n)
{
    if (version != 1 && version != 2)
        return 0;
    if (version == 2 && (info->serial == 0 ||
                         (info->cluster[0] != '\0' && !tri_cluster_valid(info->cluster))))
        return 0;
    for (uint32_t i = 0; i < n; i++) {
        if ((e[i].flags & ~TRI_KEY_REVOKED) != 0 || (version == 1 && e[i].flags != 0))
            return 0;
        if (version == 2 && e[i].activation == TR_ACTIVATION_PENDING)
            continue;
        if (e[i].activation < 0 || (uint64_t)e[i].activation > KF_MAX_ACTIVATION)
            return 0;
    }
    return 1;
}

int tri_keyfile_format(const tr_crypto *c, const struct tri_keyfile_info *info,
                       const struct tri_keyfile_entry *e, uint32_t n, char *buf, size_t cap,
                       size_t *len)
{
    const uint32_t version = info == NULL ? 1 : info->version;
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
    if (!format_args_ok(version, info, e, n))
        return TR_E_INVAL;

    pos += put(buf + pos, kf_comment, sizeof kf_comment - 1);
    if (version == 1) {
        pos += put(buf + pos, kf_header_v1, sizeof kf_header_v1 - 1);
    } else {
        pos += put(buf + pos, kf_header_v2, sizeof kf_header_v2 - 1);
        if (info->cluster[0] != '\0') {
            pos += put(buf + pos, kf_cluster_prefix, sizeof kf_cluster_prefix - 1);
            pos += put(buf + pos, info->cluster, strlen(info->cluster));
            buf[pos++] = '\n';
        }
        pos += put(buf + pos, kf_serial_prefix, sizeof kf_serial_prefix - 1);
        pos += put_decimal(buf + pos, info->serial);
        buf[pos++] = '\n';
    }
    for (uint32_t i = 0; i < n; i++) {
        pos += put(buf + pos, kf_key_prefix, sizeof kf_key_prefix - 1);
        tri_hex_encode(buf + pos, e[i].key, TR_KEY_NAME_BYTES);
        pos += KF_NAME_HEX;
        buf[pos++] = ' ';
        if (e[i].activation == TR_ACTIVATION_PENDING)
            pos += put(buf + pos, kf_pending, sizeof kf_pending - 1);
        else
            pos += put_decimal(buf + pos, (uint64_t)e[i].activation);
        buf[pos++] = ' ';
        tri_hex_encode(buf + pos, e[i].key + TR_KEY_NAME_BYTES, KF_SECRET_BYTES);
        pos += KF_SECRET_HEX;
        if (e[i].flags & TRI_KEY_REVOKED)
            pos += put(buf + pos, kf_revoked, sizeof kf_revoked - 1);
        buf[pos++] = '\n';
    }
    rc = c->sha256((const uint8_t *)buf, pos, digest);
    if (rc != 0) {
        tri_wipe(buf, pos);
        return rc;
    }
    pos += put(buf + pos, kf_checksum_prefix, sizeof kf_checksum_prefix - 1);
    tri_hex_encode(buf + pos, digest, sizeof digest);
    pos += KF_DIGEST_HEX;
    buf[pos++] = '\n';
    tri_wipe(digest, sizeof digest);
    *len = pos;
    return 0;
}
