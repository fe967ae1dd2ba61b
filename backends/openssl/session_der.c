#include "session_der.h"

#include <openssl/crypto.h>

#include "secure.h"

#define TAG_SEQUENCE 0x30
#define TAG_INTEGER 0x02
#define TAG_AGE_ADD 0xae /* [14], context-specific, constructed (EXPLICIT) */

/* Sessions without a peer certificate are a few hundred bytes. */
#define STACK_DER 2048

struct tlv {
    uint8_t tag;
    const uint8_t *val;
    size_t val_len;
    size_t len; /* header + value */
};

/* One DER element at p, entirely within avail bytes. */
static int tlv_read(const uint8_t *p, size_t avail, struct tlv *t)
{
    size_t hdr = 2, n;

    if (avail < 2 || (p[0] & 0x1f) == 0x1f)
        return -1;
    n = p[1];
    if (n & 0x80) {
        size_t k = n & 0x7f;
        /* 0x80 is BER's indefinite length; 4 length bytes cover any
         * session i2d_SSL_SESSION (an int length) can write. */
        if (k == 0 || k > 4 || avail - 2 < k)
            return -1;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = n << 8 | p[2 + i];
        hdr += k;
    }
    if (n > avail - hdr)
        return -1;
    t->tag = p[0];
    t->val = p + hdr;
    t->val_len = n;
    t->len = hdr + n;
    return 0;
}

/* A non-negative INTEGER that fits 32 bits: at most 4 value bytes, or 5
 * when the first is the 0 that keeps the sign bit clear. */
static int uint32_of(const struct tlv *t, uint32_t *out)
{
    uint64_t v = 0;

    if (t->tag != TAG_INTEGER || t->val_len == 0 || t->val_len > 5 || (t->val[0] & 0x80) ||
        (t->val_len == 5 && t->val[0] != 0))
        return -1;
    for (size_t i = 0; i < t->val_len; i++)
        v = v << 8 | t->val[i];
    *out = (uint32_t)v;
    return 0;
}

int tri_ossl_der_age_add(const uint8_t *der, size_t len, uint32_t *age_add)
{
    struct tlv seq, el, in;

    if (der == NULL || age_add == NULL || tlv_read(der, len, &seq) != 0 ||
        seq.tag != TAG_SEQUENCE || seq.len != len)
        return -1;
    for (size_t off = 0; off < seq.val_len; off += el.len) {
        if (tlv_read(seq.val + off, seq.val_len - off, &el) != 0)
            return -1;
        if (el.tag == TAG_AGE_ADD) {
            if (tlv_read(el.val, el.val_len, &in) != 0 || in.len != el.val_len)
                return -1;
            return uint32_of(&in, age_add);
        }
    }
    /* OpenSSL omits the field when it is 0. */
    *age_add = 0;
    return 0;
}

int tri_ossl_session_age_add(SSL_SESSION *ss, uint32_t *age_add)
{
    uint8_t stack[STACK_DER];
    unsigned char *der, *p;
    int len, rc = -1;

    if (ss == NULL || age_add == NULL)
        return -1;
    len = i2d_SSL_SESSION(ss, NULL);
    if (len <= 0)
        return -1;
    der = (size_t)len <= sizeof(stack) ? stack : OPENSSL_malloc((size_t)len);
    if (der == NULL)
        return -1;
    p = der;
    if (i2d_SSL_SESSION(ss, &p) == len && p == der + len)
        rc = tri_ossl_der_age_add(der, (size_t)len, age_add);
    /* The encoding holds the master secret. */
    tri_wipe(der, (size_t)len);
    if (der != stack)
        OPENSSL_free(der);
    return rc;
}
