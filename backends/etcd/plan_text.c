/*
 * The plan section: the writer's records sealed after the key file text
 * (format in plan.h). Written and read only by writers; followers cut it
 * off with tre_plan_split, since a key file allows nothing after its
 * checksum line. The grammar follows the key file's: one space between
 * fields, lowercase hex, decimal numbers without sign or leading zero, every
 * line ending in LF, so there is one way to write a given section.
 */
#include "plan.h"

#include <string.h>

#include "seal.h"

#define CHECKSUM_PREFIX "checksum sha256 "
#define SECTION_PREFIX "plan "

int tre_plan_split(const char *text, size_t len, size_t *keyfile_len)
{
    static const size_t plen = sizeof CHECKSUM_PREFIX - 1;
    size_t at = 0;

    if (text == NULL || keyfile_len == NULL)
        return TR_E_INVAL;
    while (at < len) {
        const char *lf = memchr(text + at, '\n', len - at);
        size_t end = lf ? (size_t)(lf - text) : len;
        if (end - at >= plen && memcmp(text + at, CHECKSUM_PREFIX, plen) == 0) {
            if (lf == NULL)
                return TR_E_KEYFILE_SYNTAX;
            end++;
            /* A section that cannot be ours is refused rather than skipped:
             * the follower would otherwise trust bytes nobody checks. */
            if (len - end > 0 && (len - end < sizeof SECTION_PREFIX - 1 ||
                                  memcmp(text + end, SECTION_PREFIX,
                                         sizeof SECTION_PREFIX - 1) != 0))
                return TR_E_KEYFILE_SYNTAX;
            *keyfile_len = end;
            return 0;
        }
        if (lf == NULL)
            break;
        at = end + 1;
    }
    return TR_E_KEYFILE_SYNTAX;
}

/* ---- parsing ---- */

struct cursor {
    const char *p, *end;
};

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The next space-separated field of the current line (the line ends at the
 * cursor's end); 0 when the line has no more fields. */
static int field(struct cursor *c, const char **f, size_t *n)
{
    if (c->p >= c->end)
        return 0;
    const char *sp = memchr(c->p, ' ', (size_t)(c->end - c->p));
    const char *e = sp ? sp : c->end;
    *f = c->p;
    *n = (size_t)(e - c->p);
    c->p = sp ? sp + 1 : c->end;
    /* A trailing space would leave an empty last field: refuse it there. */
    if (sp && c->p == c->end)
        return -1;
    return *n > 0 ? 1 : -1;
}

static int parse_u64(const char *f, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0 || n > 20 || (n > 1 && f[0] == '0'))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (f[i] < '0' || f[i] > '9')
            return -1;
        unsigned d = (unsigned)(f[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static int parse_time(const char *f, size_t n, int64_t *v)
{
    uint64_t x;
    if (parse_u64(f, n, &x) < 0 || x > (uint64_t)INT64_MAX)
        return -1;
    *v = (int64_t)x;
    return 0;
}

static int parse_name(const char *f, size_t n, uint8_t name[TR_KEY_NAME_BYTES])
{
    if (n != 2 * TR_KEY_NAME_BYTES)
        return -1;
    for (size_t i = 0; i < TR_KEY_NAME_BYTES; i++) {
        int hi = hexval(f[2 * i]), lo = hexval(f[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        name[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* Everything parse fills in, committed to the doc only when all parsed. */
struct parsed {
    uint64_t forced_total;
    int64_t last_forced_at;
    uint8_t last_forced_name[TR_KEY_NAME_BYTES];
    char lagging[TRE_PLAN_MAX_LAGGING][TRE_NODE_ID_MAX + 1];
    uint32_t n_lagging;
    uint64_t added_serial[TRE_PLAN_MAX_KEYS];
    int64_t added_at[TRE_PLAN_MAX_KEYS];
};

static int expect_word(struct cursor *c, const char *w)
{
    const char *f;
    size_t n;
    return field(c, &f, &n) == 1 && n == strlen(w) && memcmp(f, w, n) == 0 ? 0 : -1;
}

static int parse_version(struct cursor *c)
{
    const char *f;
    size_t n;
    if (expect_word(c, "plan") < 0 || field(c, &f, &n) != 1 || n != 1 || f[0] != '1')
        return -1;
    return field(c, &f, &n) == 0 ? 0 : -1;
}

static int parse_forced(struct cursor *c, struct parsed *r)
{
    const char *f;
    size_t n;
    uint64_t nl;

    if (expect_word(c, "forced") < 0 || field(c, &f, &n) != 1 ||
        parse_u64(f, n, &r->forced_total) < 0)
        return -1;
    if (r->forced_total == 0)
        return field(c, &f, &n) == 0 ? 0 : -1;
    if (field(c, &f, &n) != 1 || parse_time(f, n, &r->last_forced_at) < 0)
        return -1;
    if (field(c, &f, &n) != 1 || parse_name(f, n, r->last_forced_name) < 0)
        return -1;
    if (field(c, &f, &n) != 1 || parse_u64(f, n, &nl) < 0 || nl > UINT32_MAX)
        return -1;
    r->n_lagging = (uint32_t)nl;
    uint32_t listed = r->n_lagging < TRE_PLAN_MAX_LAGGING ? r->n_lagging : TRE_PLAN_MAX_LAGGING;
    for (uint32_t i = 0; i < listed; i++) {
        if (field(c, &f, &n) != 1 || !tre_id_valid(f, n))
            return -1;
        memcpy(r->lagging[i], f, n);
        r->lagging[i][n] = '\0';
    }
    return field(c, &f, &n) == 0 ? 0 : -1;
}

static int parse_added(struct cursor *c, const struct tre_plan_doc *doc, struct parsed *r)
{
    const char *f;
    size_t n;
    uint8_t name[TR_KEY_NAME_BYTES];
    uint64_t serial;
    int64_t at;

    if (expect_word(c, "added") < 0 || field(c, &f, &n) != 1 || parse_name(f, n, name) < 0)
        return -1;
    if (field(c, &f, &n) != 1 || parse_u64(f, n, &serial) < 0 || serial == 0)
        return -1;
    if (field(c, &f, &n) != 1 || parse_time(f, n, &at) < 0 || field(c, &f, &n) != 0)
        return -1;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        if (memcmp(doc->keys[i].name, name, TR_KEY_NAME_BYTES) != 0)
            continue;
        if (r->added_serial[i] != 0)
            return -1; /* two records for one key: which is true is unknown */
        r->added_serial[i] = serial;
        r->added_at[i] = at;
    }
    return 0;
}

static void commit(const struct parsed *r, struct tre_plan_doc *doc)
{
    doc->forced_total = r->forced_total;
    doc->last_forced_at = r->last_forced_at;
    memcpy(doc->last_forced_name, r->last_forced_name, sizeof doc->last_forced_name);
    memcpy(doc->last_forced_lagging, r->lagging, sizeof doc->last_forced_lagging);
    doc->last_forced_n_lagging = r->n_lagging;
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        doc->keys[i].added_serial = r->added_serial[i];
        doc->keys[i].added_at = r->added_at[i];
    }
}

int tre_plan_parse(const char *section, size_t len, struct tre_plan_doc *doc)
{
    struct parsed r;
    const char *p = section, *end = section + len;
    unsigned line = 0;

    if ((section == NULL && len > 0) || doc == NULL || doc->n_keys > TRE_PLAN_MAX_KEYS)
        return TR_E_INVAL;
    memset(&r, 0, sizeof r);
    if (len == 0)
        goto done;
    for (; p < end; line++) {
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (lf == NULL)
            return TR_E_KEYFILE_SYNTAX; /* truncated */
        struct cursor c = {p, lf};
        int rc = line == 0 ? parse_version(&c) : line == 1 ? parse_forced(&c, &r)
                                                           : parse_added(&c, doc, &r);
        if (rc < 0)
            return TR_E_KEYFILE_SYNTAX;
        p = lf + 1;
    }
    if (line < 2)
        return TR_E_KEYFILE_SYNTAX; /* the forced line is always there */
done:
    commit(&r, doc);
    return 0;
}

/* ---- formatting ---- */

/* Counts every byte and stores those that fit, so one pass both sizes and
 * writes. */
struct out {
    char *buf;
    size_t cap, n;
};

static void put(struct out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->n++)
        if (o->n < o->cap)
            o->buf[o->n] = s[i];
}

static void put_str(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof d - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    put(o, d + sizeof d - n, n);
}

static void put_name(struct out *o, const uint8_t name[TR_KEY_NAME_BYTES])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < TR_KEY_NAME_BYTES; i++) {
        char h[2] = {hex[name[i] >> 4], hex[name[i] & 15]};
        put(o, h, 2);
    }
}

static int format_valid(const struct tre_plan_doc *doc)
{
    if (doc->n_keys > TRE_PLAN_MAX_KEYS)
        return 0;
    for (uint32_t i = 0; i < doc->n_keys; i++)
        if (doc->keys[i].added_serial != 0 && doc->keys[i].added_at < 0)
            return 0;
    if (doc->forced_total == 0)
        return 1;
    if (doc->last_forced_at < 0)
        return 0;
    uint32_t listed = doc->last_forced_n_lagging < TRE_PLAN_MAX_LAGGING
                          ? doc->last_forced_n_lagging
                          : TRE_PLAN_MAX_LAGGING;
    for (uint32_t i = 0; i < listed; i++) {
        const char *id = doc->last_forced_lagging[i];
        const char *nul = memchr(id, '\0', TRE_NODE_ID_MAX + 1);
        if (nul == NULL || !tre_id_valid(id, (size_t)(nul - id)))
            return 0;
    }
    return 1;
}

int tre_plan_format(const struct tre_plan_doc *doc, char *buf, size_t cap, size_t *len)
{
    struct out o = {buf, cap, 0};

    if (doc == NULL || len == NULL || (buf == NULL && cap > 0) || !format_valid(doc))
        return TR_E_INVAL;
    put_str(&o, "plan 1\nforced ");
    put_u64(&o, doc->forced_total);
    if (doc->forced_total > 0) {
        put_str(&o, " ");
        put_u64(&o, (uint64_t)doc->last_forced_at);
        put_str(&o, " ");
        put_name(&o, doc->last_forced_name);
        put_str(&o, " ");
        put_u64(&o, doc->last_forced_n_lagging);
        for (uint32_t i = 0; i < doc->last_forced_n_lagging && i < TRE_PLAN_MAX_LAGGING; i++) {
            put_str(&o, " ");
            put_str(&o, doc->last_forced_lagging[i]);
        }
    }
    put_str(&o, "\n");
    for (uint32_t i = 0; i < doc->n_keys; i++) {
        const struct tre_plan_key *k = &doc->keys[i];
        if (k->added_serial == 0)
            continue;
        put_str(&o, "added ");
        put_name(&o, k->name);
        put_str(&o, " ");
        put_u64(&o, k->added_serial);
        put_str(&o, " ");
        put_u64(&o, (uint64_t)k->added_at);
        put_str(&o, "\n");
    }
    *len = o.n;
    if (o.n > cap)
        return TR_E_BUFFER_TOO_SMALL;
    if (o.n < cap)
        buf[o.n] = '\0';
    return 0;
}
