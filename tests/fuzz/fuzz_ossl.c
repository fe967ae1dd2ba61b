#include "fuzz_ossl.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "ticketring/openssl.h"

#define NAME_BYTES 16
#define IV_BYTES 16
#define MAC_BYTES 32
#define ROUNDS 64

int fz_ossl_version(int v)
{
    return v == FZ_OSSL_TLS12 ? TLS1_2_VERSION : TLS1_3_VERSION;
}

size_t fz_ossl_seal(int id, const uint8_t *pt, size_t len, uint8_t *out, size_t cap)
{
    uint8_t key[TR_KEY_BYTES];
    EVP_CIPHER_CTX *ctx;
    unsigned int mac_len = 0;
    int n = 0, fin = 0, ok;

    if (cap < len + NAME_BYTES + IV_BYTES + 16 + MAC_BYTES || len > INT32_MAX - 32)
        return 0;
    fz_key(id, key);
    memcpy(out, key, NAME_BYTES);
    for (int i = 0; i < IV_BYTES; i++)
        out[NAME_BYTES + i] = (uint8_t)(0x30 + i + id);
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx != NULL &&
         EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key + 48, out + NAME_BYTES) == 1 &&
         EVP_EncryptUpdate(ctx, out + NAME_BYTES + IV_BYTES, &n, pt, (int)len) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + NAME_BYTES + IV_BYTES + n, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return 0;
    len = NAME_BYTES + IV_BYTES + (size_t)n + (size_t)fin;
    if (HMAC(EVP_sha256(), key + NAME_BYTES, 32, out, len, out + len, &mac_len) == NULL ||
        mac_len != MAC_BYTES)
        return 0;
    return len + MAC_BYTES;
}

int fz_ossl_key_of(const uint8_t *t, size_t len)
{
    uint8_t key[TR_KEY_BYTES], mac[MAC_BYTES];
    unsigned int mac_len = 0;

    if (len <= NAME_BYTES + IV_BYTES + MAC_BYTES)
        return -1;
    for (int id = 0; id < FZ_KEY_COUNT; id++) {
        fz_key(id, key);
        if (memcmp(t, key, NAME_BYTES) != 0)
            continue;
        if (HMAC(EVP_sha256(), key + NAME_BYTES, 32, t, len - MAC_BYTES, mac, &mac_len) !=
                NULL &&
            mac_len == MAC_BYTES && memcmp(mac, t + len - MAC_BYTES, MAC_BYTES) == 0)
            return id;
    }
    return -1;
}

size_t fz_ossl_open(const uint8_t *t, size_t len, uint8_t *pt, size_t cap)
{
    uint8_t key[TR_KEY_BYTES];
    EVP_CIPHER_CTX *ctx;
    int id = fz_ossl_key_of(t, len), n = 0, fin = 0, ok;
    size_t ct_len;

    if (id < 0)
        return 0;
    ct_len = len - NAME_BYTES - IV_BYTES - MAC_BYTES;
    if (cap < ct_len || ct_len > INT32_MAX)
        return 0;
    fz_key(id, key);
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx != NULL &&
         EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key + 48, t + NAME_BYTES) == 1 &&
         EVP_DecryptUpdate(ctx, pt, &n, t + NAME_BYTES + IV_BYTES, (int)ct_len) == 1 &&
         EVP_DecryptFinal_ex(ctx, pt + n, &fin) == 1;
    EVP_CIPHER_CTX_free(ctx);
    ERR_clear_error();
    return ok ? (size_t)n + (size_t)fin : 0;
}

SSL_SESSION *fz_ossl_client_with(struct fz_ossl_world *w, int v, SSL_SESSION *s, int id)
{
    uint8_t *der = NULL, *ticket = NULL, *p;
    SSL_SESSION *out = NULL;
    size_t tlen;
    int len = i2d_SSL_SESSION(s, NULL);

    if (len <= 0)
        goto done;
    der = malloc((size_t)len);
    ticket = malloc((size_t)len + 128);
    p = der;
    if (der == NULL || ticket == NULL || i2d_SSL_SESSION(s, &p) != len)
        goto done;
    tlen = fz_ossl_seal(id, der, (size_t)len, ticket, (size_t)len + 128);
    if (tlen != 0)
        out = tu_tls_session_with_ticket(w->client_session[v], ticket, tlen);
done:
    free(der);
    free(ticket);
    ERR_clear_error();
    return out;
}

static int retry(SSL *ssl, int r)
{
    int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

static int drive(SSL *c, SSL *s)
{
    int cdone = 0, sdone = 0;

    for (int i = 0; i < ROUNDS && !(cdone && sdone); i++) {
        int r;
        if (!cdone) {
            r = SSL_do_handshake(c);
            if (r == 1)
                cdone = 1;
            else if (!retry(c, r))
                return -1;
        }
        if (!sdone) {
            r = SSL_do_handshake(s);
            if (r == 1)
                sdone = 1;
            else if (!retry(s, r))
                return -1;
        }
    }
    return cdone && sdone ? 0 : -1;
}

/* A byte each way: the client then reads the server's TLS 1.3 tickets. */
static int exchange(SSL *from, SSL *to)
{
    char b = 'x', got = 0;

    if (SSL_write(from, &b, 1) != 1)
        return -1;
    for (int i = 0; i < ROUNDS; i++) {
        int r = SSL_read(to, &got, 1);
        if (r == 1)
            return got == b ? 0 : -1;
        if (!retry(to, r))
            return -1;
    }
    return -1;
}

void fz_ossl_connect(struct fz_ossl_world *w, SSL_SESSION *session, int version,
                     const char *sni, const char *alpn_csv, struct fz_ossl_result *res)
{
    SSL *c = SSL_new(w->client), *s = SSL_new(w->server);
    BIO *cb = NULL, *sb = NULL;
    uint8_t wire[64];
    size_t wire_len;

    memset(res, 0, sizeof(*res));
    FZ_CHECK(c != NULL && s != NULL && BIO_new_bio_pair(&cb, 0, &sb, 0) == 1);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    FZ_CHECK(SSL_set_max_proto_version(c, version) == 1);
    if (sni != NULL)
        FZ_CHECK(SSL_set_tlsext_host_name(c, sni) == 1);
    if (alpn_csv != NULL) {
        wire_len = tu_tls_alpn_wire(alpn_csv, wire, sizeof(wire));
        FZ_CHECK(wire_len != 0 && SSL_set_alpn_protos(c, wire, (unsigned int)wire_len) == 0);
    }
    if (session != NULL)
        FZ_CHECK(SSL_set_session(c, session) == 1);
    if (drive(c, s) == 0 && exchange(s, c) == 0 && exchange(c, s) == 0) {
        res->completed = 1;
        res->resumed = SSL_session_reused(s);
        /* Both ends agree on what happened. */
        FZ_CHECK(SSL_session_reused(c) == res->resumed);
    }
    SSL_free(c);
    SSL_free(s);
    ERR_clear_error();
}

int fz_ossl_world_init(struct fz_ossl_world *w)
{
    static uint8_t pt[16384];
    int rc;

    memset(w, 0, sizeof(*w));
    if (tu_tls_identity_new(&w->ident) != 0)
        return -1;
    w->ring = fz_ring_with(tr_crypto_openssl());
    w->server = tu_tls_server_ctx(&w->ident, "h2,http/1.1");
    w->client = tu_tls_client_ctx();
    if (w->server == NULL || w->client == NULL)
        return -1;
    rc = tr_openssl_attach(w->server, w->ring, "node-a");
    if (rc != 0) {
        fprintf(stderr, "fuzz: tr_openssl_attach: %s\n", tr_strerror(rc));
        return -1;
    }
    for (int v = 0; v < 2; v++) {
        struct tu_tls_result res;
        const unsigned char *tick = NULL, *p = pt;
        size_t tick_len = 0, n;

        if (tu_tls_connect(w->server, w->client, FZ_SNI, FZ_ALPN, fz_ossl_version(v), NULL,
                           &res) != 0 ||
            res.resumed) {
            fprintf(stderr, "fuzz: the first TLS handshake failed\n");
            return -1;
        }
        w->client_session[v] = res.session;
        SSL_SESSION_get0_ticket(res.session, &tick, &tick_len);
        n = fz_ossl_open(tick, tick_len, pt, sizeof(pt));
        if (n == 0 || fz_ossl_key_of(tick, tick_len) != FZ_KEY_ENCRYPT ||
            (w->server_session[v] = d2i_SSL_SESSION(NULL, &p, (long)n)) == NULL ||
            p != pt + n) {
            fprintf(stderr, "fuzz: the server's ticket is not sealed as expected\n");
            return -1;
        }
    }
    return 0;
}

void fz_ossl_world_free(struct fz_ossl_world *w)
{
    for (int v = 0; v < 2; v++) {
        SSL_SESSION_free(w->client_session[v]);
        SSL_SESSION_free(w->server_session[v]);
    }
    SSL_CTX_free(w->server);
    SSL_CTX_free(w->client);
    tr_ring_free(w->ring);
    tu_tls_identity_free(&w->ident);
    memset(w, 0, sizeof(*w));
}
