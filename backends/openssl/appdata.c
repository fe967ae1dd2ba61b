#include "appdata.h"

#include <string.h>

#include "bytes.h"
#include "ticketring/ticketring.h"

#define APPDATA_V1 1
#define APPDATA_V2 2 /* v1 + early-data tag */
#define TAG_BYTES 8
#define TIMES_END (1 + 8 + 8)

static size_t put_field(uint8_t *out, const void *v, uint8_t len)
{
    out[0] = len;
    memcpy(out + 1, v, len);
    return 1 + (size_t)len;
}

size_t tri_appdata_encode(const struct tri_appdata *a, uint8_t out[TRI_APPDATA_MAX])
{
    size_t n = TIMES_END;

    out[0] = a->early_tag != 0 ? APPDATA_V2 : APPDATA_V1;
    tri_put_be64(out + 1, a->issue_ms);
    tri_put_be64(out + 9, a->auth_time);
    n += put_field(out + n, a->sni, a->sni_len);
    n += put_field(out + n, a->alpn, a->alpn_len);
    n += put_field(out + n, a->node,
                   a->node_len <= TRI_APPDATA_NODE_MAX ? a->node_len : TRI_APPDATA_NODE_MAX);
    if (a->early_tag != 0) {
        tri_put_be64(out + n, (int64_t)a->early_tag);
        n += TAG_BYTES;
    }
    return n;
}

/* A length-prefixed field of at most `max` bytes at in[*pos]. */
static int get_field(const uint8_t *in, size_t len, size_t *pos, void *out, uint8_t *out_len,
                     size_t max)
{
    size_t n;

    if (*pos >= len)
        return 0;
    n = in[*pos];
    if (n > max || n > len - *pos - 1)
        return 0;
    memcpy(out, in + *pos + 1, n);
    *out_len = (uint8_t)n;
    *pos += 1 + n;
    return 1;
}

int tri_appdata_decode(const uint8_t *in, size_t len, struct tri_appdata *a)
{
    size_t pos = TIMES_END;

    if (in == NULL || len < TIMES_END || (in[0] != APPDATA_V1 && in[0] != APPDATA_V2))
        return TR_E_TICKET_MALFORMED;
    a->issue_ms = tri_get_be64(in + 1);
    a->auth_time = tri_get_be64(in + 9);
    a->early_tag = 0;
    if (!get_field(in, len, &pos, a->sni, &a->sni_len, TRI_APPDATA_SNI_MAX) ||
        !get_field(in, len, &pos, a->alpn, &a->alpn_len, TRI_APPDATA_ALPN_MAX) ||
        !get_field(in, len, &pos, a->node, &a->node_len, TRI_APPDATA_NODE_MAX))
        return TR_E_TICKET_MALFORMED;
    if (in[0] == APPDATA_V2) {
        /* A zero tag is never written: one encoding per content. */
        if (len - pos < TAG_BYTES || (a->early_tag = (uint64_t)tri_get_be64(in + pos)) == 0)
            return TR_E_TICKET_MALFORMED;
        pos += TAG_BYTES;
    }
    if (pos != len || memchr(a->node, '\0', a->node_len) != NULL || a->auth_time < 0)
        return TR_E_TICKET_MALFORMED;
    a->node[a->node_len] = '\0';
    return 0;
}
