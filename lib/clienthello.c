#include "clienthello.h"

#include <string.h>

#define HOST_NAME 0

size_t tri_ch_parse_sni(const uint8_t *ext, size_t len, uint8_t name[TRI_SNI_MAX])
{
    size_t list_len, i;

    if (ext == NULL || len < 2)
        return 0;
    list_len = (size_t)ext[0] << 8 | ext[1];
    if (list_len != len - 2)
        return 0;
    for (i = 2; i + 3 <= len;) {
        size_t n = (size_t)ext[i + 1] << 8 | ext[i + 2];
        if (n > len - i - 3)
            return 0;
        if (ext[i] == HOST_NAME) {
            if (n == 0 || n > TRI_SNI_MAX)
                return 0;
            memcpy(name, ext + i + 3, n);
            return n;
        }
        i += 3 + n;
    }
    return 0;
}

int tri_ch_parse_alpn(const uint8_t *ext, size_t len, const uint8_t **list, size_t *list_len)
{
    size_t n;

    *list = NULL;
    *list_len = 0;
    if (ext == NULL || len < 2)
        return -1;
    n = (size_t)ext[0] << 8 | ext[1];
    if (n != len - 2 || n == 0)
        return -1;
    *list = ext + 2;
    *list_len = n;
    return 0;
}

static size_t get16(const uint8_t *p)
{
    return (size_t)p[0] << 8 | p[1];
}

int tri_ch_parse_psk_age(const uint8_t *ext, size_t len, uint32_t *age)
{
    size_t ids_end, i, identities = 0, binders = 0;
    uint32_t first = 0;

    if (ext == NULL || age == NULL || len < 2)
        return -1;
    ids_end = 2 + get16(ext);
    if (ids_end - 2 < 7 || ids_end > len)
        return -1;
    for (i = 2; i < ids_end;) {
        size_t n;
        if (ids_end - i < 2)
            return -1;
        n = get16(ext + i);
        /* The identity, then its 4-byte age, both inside the list. */
        if (n == 0 || n > ids_end - i - 2 || ids_end - i - 2 - n < 4)
            return -1;
        i += 2 + n;
        if (identities++ == 0)
            first = (uint32_t)ext[i] << 24 | (uint32_t)ext[i + 1] << 16 |
                    (uint32_t)ext[i + 2] << 8 | ext[i + 3];
        i += 4;
    }
    if (len - ids_end < 2 || get16(ext + ids_end) < 33 ||
        get16(ext + ids_end) != len - ids_end - 2)
        return -1;
    for (i = ids_end + 2; i < len; binders++) {
        size_t n = ext[i];
        if (n < 32 || n > len - i - 1)
            return -1;
        i += 1 + n;
    }
    if (binders != identities)
        return -1;
    *age = first;
    return 0;
}

/* ---- A whole ClientHello ----------------------------------------------- */

#define EXT_SERVER_NAME 0
#define EXT_ALPN 16
#define EXT_SESSION_TICKET 35
#define HANDSHAKE 22
#define CLIENT_HELLO 1

int tri_ch_parse_hello(const uint8_t *body, size_t len, struct tri_ch_exts *out)
{
    size_t i, n, end;

    memset(out, 0, sizeof(*out));
    /* client_version, random */
    if (len < 2 + 32 + 1)
        return -1;
    i = 2 + 32;
    n = body[i];
    if (n > 32 || len - i - 1 < n)
        return -1;
    i += 1 + n;
    if (len - i < 2)
        return -1;
    n = get16(body + i);
    if (n < 2 || n % 2 != 0 || len - i - 2 < n)
        return -1;
    i += 2 + n;
    if (len - i < 1)
        return -1;
    n = body[i];
    if (n < 1 || len - i - 1 < n)
        return -1;
    i += 1 + n;
    if (i == len)
        return 0; /* no extensions at all */
    if (len - i < 2 || get16(body + i) != len - i - 2)
        return -1;
    end = len;
    for (i += 2; i < end;) {
        size_t type, elen;
        if (end - i < 4)
            goto bad;
        type = get16(body + i);
        elen = get16(body + i + 2);
        if (elen > end - i - 4)
            goto bad;
        switch (type) {
        case EXT_SERVER_NAME:
            out->sni = body + i + 4;
            out->sni_len = elen;
            out->sni_count++;
            break;
        case EXT_ALPN:
            out->alpn = body + i + 4;
            out->alpn_len = elen;
            out->alpn_count++;
            break;
        case EXT_SESSION_TICKET:
            out->ticket_count++;
            break;
        default:
            break;
        }
        i += 4 + elen;
    }
    return 0;
bad:
    memset(out, 0, sizeof(*out));
    return -1;
}

size_t tri_ch_record_len(const uint8_t hdr[TRI_CH_RECORD_HEADER])
{
    size_t n = get16(hdr + 3);

    if (hdr[0] != HANDSHAKE || hdr[1] != 3 || n < 4 || n > TRI_CH_RECORD_MAX - TRI_CH_RECORD_HEADER)
        return 0;
    return n;
}

int tri_ch_parse_record(const uint8_t *rec, size_t len, struct tri_ch_exts *out)
{
    const uint8_t *msg;
    size_t n;

    memset(out, 0, sizeof(*out));
    if (rec == NULL || len < TRI_CH_RECORD_HEADER)
        return -1;
    msg = rec + TRI_CH_RECORD_HEADER;
    n = tri_ch_record_len(rec);
    if (n == 0 || n != len - TRI_CH_RECORD_HEADER)
        return -1;
    /* One ClientHello filling the record: no fragments, nothing after. */
    if (msg[0] != CLIENT_HELLO || msg[1] != 0 || get16(msg + 2) != n - 4)
        return -1;
    return tri_ch_parse_hello(msg + 4, n - 4, out);
}
