#include "seal.h"
#include "secret_file.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ticketring/ticketring.h>

#include "b64.h"
#include "secure.h"

#define MAGIC "TRSEALED1"
#define KEK_FILE_MAX 512

int tre_id_valid(const char *s, size_t len)
{
    if (len == 0 || len > TRE_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int tre_kek_read(const char *path, struct tre_kek *out)
{
    char buf[KEK_FILE_MAX];
    size_t len = 0, idl;
    const char *sp;
    int rc;

    memset(out, 0, sizeof *out);
    rc = tri_read_secret_file(path, (uint8_t *)buf, sizeof buf, &len);
    if (rc == TR_E_INVAL)
        return TR_E_KEYFILE_SYNTAX; /* empty, or longer than any KEK line */
    if (rc != 0)
        return rc;
    rc = TR_E_KEYFILE_SYNTAX;
    if (buf[len - 1] == '\n')
        len--;
    sp = memchr(buf, ' ', len);
    if (sp == NULL)
        goto out;
    idl = (size_t)(sp - buf);
    if (!tre_id_valid(buf, idl) || len - idl - 1 != 2 * TRE_KEK_BYTES)
        goto out;
    for (size_t i = 0; i < TRE_KEK_BYTES; i++) {
        int hi = hexval(sp[1 + 2 * i]), lo = hexval(sp[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            goto out;
        out->key[i] = (uint8_t)(hi << 4 | lo);
    }
    if (tri_ct_is_zero(out->key, sizeof out->key))
        goto out;
    memcpy(out->id, buf, idl);
    out->id[idl] = '\0';
    rc = 0;
out:
    tri_wipe(buf, sizeof buf);
    if (rc != 0)
        tri_wipe(out, sizeof *out);
    return rc;
}

/* One AES-256-GCM operation; every OpenSSL return value checked. */
static int gcm(int enc, const uint8_t key[TRE_KEK_BYTES], const uint8_t nonce[TRE_NONCE_BYTES],
               const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out,
               uint8_t tag[TRE_TAG_BYTES])
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, ok;

    if (ctx == NULL)
        return TR_E_NOMEM;
    if (len > INT32_MAX || aad_len > INT32_MAX) {
        EVP_CIPHER_CTX_free(ctx);
        return TR_E_INVAL;
    }
    ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, TRE_NONCE_BYTES, NULL) == 1 &&
         EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
         EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1 &&
         (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1);
    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TRE_TAG_BYTES, tag) == 1;
    if (ok)
        ok = EVP_CipherFinal_ex(ctx, out + (len == 0 ? 0 : (size_t)n), &n) == 1;
    if (ok && enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TRE_TAG_BYTES, tag) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : (enc ? TR_E_CRYPTO : TR_E_SEALED);
}

int tre_seal(const struct tre_kek *kek, const char *cluster, uint64_t serial, const char *text,
             size_t len, uint8_t **doc, size_t *doc_len)
{
    char header[3 * TRE_ID_MAX];
    uint8_t *raw;
    size_t raw_len = TRE_NONCE_BYTES + len + TRE_TAG_BYTES, hl, total;
    int rc;

    *doc = NULL;
    *doc_len = 0;
    if (!tre_id_valid(cluster, strlen(cluster)) || serial == 0 || len > (1u << 20))
        return TR_E_INVAL;
    hl = (size_t)snprintf(header, sizeof header, MAGIC " %s %s %" PRIu64, kek->id, cluster,
                          serial);
    raw = malloc(raw_len);
    if (raw == NULL)
        return TR_E_NOMEM;
    if (RAND_bytes(raw, TRE_NONCE_BYTES) != 1) {
        free(raw);
        return TR_E_CRYPTO;
    }
    rc = gcm(1, kek->key, raw, (const uint8_t *)header, hl, (const uint8_t *)text, len,
             raw + TRE_NONCE_BYTES, raw + TRE_NONCE_BYTES + len);
    total = hl + 1 + tre_b64_len(raw_len) + 1;
    if (rc == 0 && (*doc = malloc(total + 1)) == NULL)
        rc = TR_E_NOMEM;
    if (rc == 0) {
        memcpy(*doc, header, hl);
        (*doc)[hl] = '\n';
        tre_b64_encode((char *)*doc + hl + 1, raw, raw_len);
        (*doc)[total - 1] = '\n';
        (*doc)[total] = '\0';
        *doc_len = total;
    }
    free(raw); /* ciphertext only */
    return rc;
}

/* The next space-separated field of the header, into out (cap bytes). */
static int field(const char **p, const char *end, char *out, size_t cap)
{
    const char *s = *p, *e = s;
    while (e < end && *e != ' ')
        e++;
    if ((size_t)(e - s) >= cap || e == s)
        return -1;
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    *p = e < end ? e + 1 : e;
    return 0;
}

static int parse_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (*s == '\0' || *s == '0')
        return -1; /* no leading zero, as in key files; serial >= 1 */
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*s - '0');
    }
    *v = x;
    return 0;
}

int tre_sealed_parse(const uint8_t *doc, size_t len, struct tre_sealed_header *h)
{
    const char *s = (const char *)doc, *nl, *p, *end;
    char magic[16], serial[24];

    memset(h, 0, sizeof *h);
    nl = len > 0 ? memchr(s, '\n', len < 256 ? len : 256) : NULL;
    if (nl == NULL)
        return TR_E_SEALED;
    p = s;
    end = nl;
    if (field(&p, end, magic, sizeof magic) != 0 || strcmp(magic, MAGIC) != 0 ||
        field(&p, end, h->kek_id, sizeof h->kek_id) != 0 ||
        !tre_id_valid(h->kek_id, strlen(h->kek_id)) ||
        field(&p, end, h->cluster, sizeof h->cluster) != 0 ||
        !tre_id_valid(h->cluster, strlen(h->cluster)) ||
        field(&p, end, serial, sizeof serial) != 0 || p != end ||
        parse_u64(serial, &h->serial) != 0)
        return TR_E_SEALED;
    h->header_len = (size_t)(nl - s);
    return 0;
}

int tre_open(const struct tre_kek *kek, const uint8_t *doc, size_t len,
             const struct tre_sealed_header *h, char **text, size_t *text_len)
{
    const char *b = (const char *)doc + h->header_len + 1;
    size_t bl = len - h->header_len - 1, raw_len = 0, pl;
    uint8_t *raw;
    char *plain;
    int rc;

    *text = NULL;
    *text_len = 0;
    if (bl > 0 && b[bl - 1] == '\n')
        bl--;
    raw = malloc(bl / 4 * 3 + 1);
    if (raw == NULL)
        return TR_E_NOMEM;
    if (tre_b64_decode(raw, bl / 4 * 3 + 1, &raw_len, b, bl) != 0 ||
        raw_len < TRE_NONCE_BYTES + TRE_TAG_BYTES) {
        free(raw);
        return TR_E_SEALED;
    }
    pl = raw_len - TRE_NONCE_BYTES - TRE_TAG_BYTES;
    plain = malloc(pl + 1);
    if (plain == NULL) {
        free(raw);
        return TR_E_NOMEM;
    }
    rc = gcm(0, kek->key, raw, doc, h->header_len, raw + TRE_NONCE_BYTES, pl, (uint8_t *)plain,
             raw + TRE_NONCE_BYTES + pl);
    free(raw);
    if (rc != 0) {
        /* Unauthenticated plaintext never leaves this function. */
        tri_wipe(plain, pl + 1);
        free(plain);
        return rc;
    }
    plain[pl] = '\0';
    *text = plain;
    *text_len = pl;
    return 0;
}

int tre_text_header(const char *text, size_t len, char cluster[TRE_ID_MAX + 1],
                    uint64_t *serial)
{
    size_t pos = 0;

    cluster[0] = '\0';
    *serial = 0;
    /* Header lines come before the first key line; comments and blank lines
     * may sit among them. Only "cluster" and "serial" matter here; the
     * ring's parser checks everything else. */
    while (pos < len) {
        const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
        size_t ll = nl != NULL ? (size_t)(nl - s) : len - pos;
        char val[32];

        if (ll > 7 && memcmp(s, "cluster ", 8) == 0) {
            if (!tre_id_valid(s + 8, ll - 8))
                return TR_E_KEYFILE_SYNTAX;
            memcpy(cluster, s + 8, ll - 8);
            cluster[ll - 8] = '\0';
        } else if (ll > 6 && memcmp(s, "serial ", 7) == 0) {
            if (ll - 7 >= sizeof val)
                return TR_E_KEYFILE_SYNTAX;
            memcpy(val, s + 7, ll - 7);
            val[ll - 7] = '\0';
            if (parse_u64(val, serial) != 0)
                return TR_E_KEYFILE_SYNTAX;
        } else if (ll > 4 && memcmp(s, "key ", 4) == 0) {
            break;
        }
        pos += ll + 1;
    }
    return 0;
}
