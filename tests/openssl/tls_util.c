#include "tls_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* Enough rounds for any handshake over an unbounded BIO pair (a full TLS 1.2
 * one needs about 4); a stuck pair stops here instead of spinning. */
#define DRIVE_ROUNDS 64

static void report(const char *what)
{
    fprintf(stderr, "tls_util: %s failed\n", what);
    ERR_print_errors_fp(stderr);
}

int tu_tls_identity_new(struct tu_tls_identity *id)
{
    EVP_PKEY_CTX *pc = NULL;
    X509_EXTENSION *ext = NULL;
    X509V3_CTX v3;
    X509_NAME *name;
    int rc = -1;

    memset(id, 0, sizeof(*id));
    pc = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (pc == NULL || EVP_PKEY_keygen_init(pc) <= 0 ||
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(pc, NID_X9_62_prime256v1) <= 0 ||
        EVP_PKEY_keygen(pc, &id->key) <= 0) {
        report("P-256 key generation");
        goto out;
    }
    id->cert = X509_new();
    if (id->cert == NULL || X509_set_version(id->cert, 2) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(id->cert), 1) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(id->cert), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(id->cert), 10L * 366 * 86400) == NULL ||
        X509_set_pubkey(id->cert, id->key) != 1) {
        report("certificate fields");
        goto out;
    }
    name = X509_get_subject_name(id->cert);
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   (const unsigned char *)"test.example", -1, -1, 0) != 1 ||
        X509_set_issuer_name(id->cert, name) != 1) {
        report("certificate name");
        goto out;
    }
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, id->cert, id->cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:a.example,DNS:b.example");
    if (ext == NULL || X509_add_ext(id->cert, ext, -1) != 1 ||
        X509_sign(id->cert, id->key, EVP_sha256()) <= 0) {
        report("certificate signature");
        goto out;
    }
    rc = 0;
out:
    X509_EXTENSION_free(ext);
    EVP_PKEY_CTX_free(pc);
    if (rc != 0)
        tu_tls_identity_free(id);
    return rc;
}

void tu_tls_identity_free(struct tu_tls_identity *id)
{
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    id->cert = NULL;
    id->key = NULL;
}

size_t tu_tls_alpn_wire(const char *csv, uint8_t *out, size_t cap)
{
    size_t len = 0;
    const char *p = csv;

    if (csv == NULL)
        return 0;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        if (n == 0 || n > 255 || len + 1 + n > cap)
            return 0;
        out[len] = (uint8_t)n;
        memcpy(out + len + 1, p, n);
        len += 1 + n;
        if (end == NULL)
            return len;
        p = end + 1;
    }
}

/* The server's ALPN preference lives in ctx ex_data (freed with the ctx) so
 * that the benchmark can make many contexts without tracking buffers. */
struct alpn_pref {
    size_t len;
    uint8_t wire[];
};

static int alpn_index = -1;
static pthread_once_t alpn_once = PTHREAD_ONCE_INIT;

static void alpn_pref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                           void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void alpn_index_init(void)
{
    alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_pref_free);
}

/* The server's first preference that the client offers, like a server that
 * prefers its own order (nginx, HAProxy). */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    const struct alpn_pref *pref = arg;
    (void)ssl;
    for (size_t i = 0; i < pref->len; i += 1u + pref->wire[i]) {
        for (unsigned int j = 0; j < inlen; j += 1u + in[j]) {
            if (j + 1u + in[j] > inlen)
                break;
            if (in[j] == pref->wire[i] && memcmp(in + j + 1, pref->wire + i + 1, in[j]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

SSL_CTX *tu_tls_server_ctx(const struct tu_tls_identity *id, const char *alpn_csv)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    struct alpn_pref *pref = NULL;

    if (ctx == NULL || SSL_CTX_use_certificate(ctx, id->cert) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, id->key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        report("server ctx");
        goto fail;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (alpn_csv != NULL) {
        size_t cap = strlen(alpn_csv) + 1;
        pthread_once(&alpn_once, alpn_index_init);
        pref = malloc(sizeof(*pref) + cap);
        if (alpn_index < 0 || pref == NULL) {
            report("ALPN preference");
            goto fail;
        }
        pref->len = tu_tls_alpn_wire(alpn_csv, pref->wire, cap);
        if (pref->len == 0 || SSL_CTX_set_ex_data(ctx, alpn_index, pref) != 1) {
            fprintf(stderr, "tls_util: bad server ALPN list \"%s\"\n", alpn_csv);
            goto fail;
        }
        pref = NULL; /* the ctx owns it now */
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, SSL_CTX_get_ex_data(ctx, alpn_index));
    }
    return ctx;
fail:
    free(pref);
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tu_tls_client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        report("client ctx");
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                            SSL_SESS_CACHE_NO_INTERNAL_STORE);
    return ctx;
}

/* Counts NewSessionTicket messages as they arrive: the client's new-session
 * callback misses a TLS 1.2 ticket renewed on resumption. */
void tu_tls_count_tickets(int write_p, int version, int content_type, const void *buf,
                          size_t len, SSL *ssl, void *arg)
{
    (void)version, (void)ssl;
    if (!write_p && content_type == SSL3_RT_HANDSHAKE && len >= 1 &&
        ((const uint8_t *)buf)[0] == SSL3_MT_NEWSESSION_TICKET)
        (*(int *)arg)++;
}

static int retry(SSL *ssl, int r)
{
    int e = SSL_get_error(ssl, r);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Adds the time since t0 to *ns, when ns is non-NULL. */
static void add_since(uint64_t *ns, uint64_t t0)
{
    if (ns != NULL)
        *ns += now_ns() - t0;
}

int tu_tls_drive_handshake(SSL *c, SSL *s, uint64_t *server_ns)
{
    int cdone = 0, sdone = 0;
    for (int i = 0; i < DRIVE_ROUNDS && !(cdone && sdone); i++) {
        int r;
        if (!cdone) {
            r = SSL_do_handshake(c);
            if (r == 1)
                cdone = 1;
            else if (!retry(c, r)) {
                report("client handshake");
                return -1;
            }
        }
        if (!sdone) {
            uint64_t t0 = now_ns();
            r = SSL_do_handshake(s);
            add_since(server_ns, t0);
            if (r == 1)
                sdone = 1;
            else if (!retry(s, r)) {
                report("server handshake");
                return -1;
            }
        }
    }
    return cdone && sdone ? 0 : -1;
}

/* ---- Memory BIOs, for the early-data driver ------------------------------- */

/* Memory BIOs on both ends; pump() moves what each end wrote to the other. */
struct link {
    BIO *c_in, *c_out, *s_in, *s_out; /* owned by the SSLs once set */
    int client_has_read;              /* something was handed to the client */
    int capture;
    uint8_t *flight;
    size_t flight_len, flight_cap;
};

static BIO *mem_bio(void)
{
    BIO *b = BIO_new(BIO_s_mem());
    /* Empty means "retry later", not end of file. */
    if (b != NULL)
        BIO_set_mem_eof_return(b, -1);
    return b;
}

static int keep_flight(struct link *l, const char *buf, size_t n)
{
    if (l->flight_len + n > l->flight_cap) {
        size_t cap = (l->flight_len + n) * 2;
        uint8_t *p = realloc(l->flight, cap);
        if (p == NULL)
            return -1;
        l->flight = p;
        l->flight_cap = cap;
    }
    memcpy(l->flight + l->flight_len, buf, n);
    l->flight_len += n;
    return 0;
}

static int move(struct link *l, BIO *from, BIO *to, int from_client)
{
    char buf[4096];
    int n;

    while ((n = BIO_read(from, buf, sizeof(buf))) > 0) {
        /* The client's output up to the first byte it could read is its
         * first flight: it wrote it without having seen the server. */
        if (from_client && l->capture && !l->client_has_read &&
            keep_flight(l, buf, (size_t)n) != 0)
            return -1;
        if (BIO_write(to, buf, n) != n)
            return -1;
        if (!from_client)
            l->client_has_read = 1;
    }
    return 0;
}

/* NULL: a BIO pair, which moves the bytes itself. */
static int pump(struct link *l)
{
    if (l == NULL)
        return 0;
    return move(l, l->c_out, l->s_in, 1) == 0 && move(l, l->s_out, l->c_in, 0) == 0 ? 0 : -1;
}

/* One byte from `from` to `to` over a BIO pair (l NULL) or a link. */
static int send_byte(struct link *l, SSL *from, SSL *to, char byte, uint64_t *from_ns,
                     uint64_t *to_ns)
{
    char got = 0;
    uint64_t t0 = now_ns();
    int r = SSL_write(from, &byte, 1);

    add_since(from_ns, t0);
    if (r != 1) {
        report("SSL_write");
        return -1;
    }
    for (int i = 0; i < DRIVE_ROUNDS; i++) {
        if (pump(l) != 0)
            return -1;
        t0 = now_ns();
        r = SSL_read(to, &got, 1);
        add_since(to_ns, t0);
        if (r == 1)
            return got == byte ? 0 : -1;
        if (!retry(to, r)) {
            report("SSL_read");
            return -1;
        }
    }
    return -1;
}

int tu_tls_send_byte(SSL *from, SSL *to, char byte, uint64_t *from_ns, uint64_t *to_ns)
{
    return send_byte(NULL, from, to, byte, from_ns, to_ns);
}

/* close_notify both ways over a BIO pair (l NULL) or a link. */
static int shutdown_both(struct link *l, SSL *c, SSL *s, uint64_t *server_ns)
{
    int cdone = 0, sdone = 0;

    for (int i = 0; i < DRIVE_ROUNDS && !(cdone && sdone); i++) {
        int r;
        if (!cdone) {
            r = SSL_shutdown(c);
            if (r == 1)
                cdone = 1;
            else if (r < 0 && !retry(c, r)) {
                report("client shutdown");
                return -1;
            }
        }
        if (pump(l) != 0)
            return -1;
        if (!sdone) {
            uint64_t t0 = now_ns();
            r = SSL_shutdown(s);
            add_since(server_ns, t0);
            if (r == 1)
                sdone = 1;
            else if (r < 0 && !retry(s, r)) {
                report("server shutdown");
                return -1;
            }
        }
        if (pump(l) != 0)
            return -1;
    }
    return cdone && sdone ? 0 : -1;
}

int tu_tls_drive_shutdown(SSL *c, SSL *s, uint64_t *server_ns)
{
    return shutdown_both(NULL, c, s, server_ns);
}

static int client_setup(SSL *c, const struct tu_tls_opts *o)
{
    uint8_t wire[512];
    size_t wire_len;

    if (o->sni != NULL && SSL_set_tlsext_host_name(c, o->sni) != 1)
        return -1;
    if (o->alpn_csv != NULL) {
        wire_len = tu_tls_alpn_wire(o->alpn_csv, wire, sizeof(wire));
        /* SSL_set_alpn_protos is the one setter that returns 0 on success. */
        if (wire_len == 0 || SSL_set_alpn_protos(c, wire, (unsigned int)wire_len) != 0)
            return -1;
    }
    if (o->version != 0 && SSL_set_max_proto_version(c, o->version) != 1)
        return -1;
    if (o->session != NULL && SSL_set_session(c, o->session) != 1)
        return -1;
    return 0;
}

int tu_tls_connect_opts(SSL_CTX *server, SSL_CTX *client, const struct tu_tls_opts *opts,
                        struct tu_tls_result *res)
{
    SSL *c = NULL, *s = NULL;
    BIO *cb = NULL, *sb = NULL;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    c = SSL_new(client);
    s = SSL_new(server);
    if (c == NULL || s == NULL || BIO_new_bio_pair(&cb, 0, &sb, 0) != 1) {
        report("SSL_new/BIO pair");
        goto out;
    }
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_set_msg_callback(c, tu_tls_count_tickets);
    SSL_set_msg_callback_arg(c, &res->tickets);
    if (client_setup(c, opts) != 0) {
        report("client setup");
        goto out;
    }
    if (opts->client_setup != NULL)
        opts->client_setup(c, opts->arg);
    if (opts->server_setup != NULL)
        opts->server_setup(s, opts->arg);
    if (tu_tls_drive_handshake(c, s, NULL) != 0 || tu_tls_send_byte(s, c, 'S', NULL, NULL) != 0 ||
        tu_tls_send_byte(c, s, 'C', NULL, NULL) != 0)
        goto out;
    res->ok = 1;
    res->resumed = SSL_session_reused(c);
    res->version = SSL_version(c);
    if (opts->server_done != NULL)
        opts->server_done(s, opts->arg);
    if (tu_tls_drive_shutdown(c, s, NULL) != 0)
        goto out;
    res->session = SSL_get1_session(c);
    rc = res->session != NULL ? 0 : -1;
out:
    if (rc != 0)
        res->ok = 0;
    SSL_free(c);
    SSL_free(s);
    return rc;
}

int tu_tls_connect(SSL_CTX *server, SSL_CTX *client, const char *sni, const char *alpn_csv,
                   int version, SSL_SESSION *session, struct tu_tls_result *res)
{
    struct tu_tls_opts o = {.sni = sni, .alpn_csv = alpn_csv, .version = version,
                            .session = session};
    return tu_tls_connect_opts(server, client, &o, res);
}

/* ---- Early data ---------------------------------------------------------- */

/* The server's side of the handshake, one step: read early data while it
 * comes (unless the application skips it), then complete the handshake.
 * 1 when done, 0 to be called again, -1 on failure. */
static int server_step(SSL *s, int *early_done, struct tu_tls_early_result *res)
{
    uint8_t buf[1024];
    int r;

    while (!*early_done) {
        size_t n = 0;
        r = SSL_read_early_data(s, buf, sizeof(buf), &n);
        if (r == SSL_READ_EARLY_DATA_SUCCESS) {
            if (n > sizeof(res->early) - res->early_len)
                return -1;
            memcpy(res->early + res->early_len, buf, n);
            res->early_len += n;
        } else if (r == SSL_READ_EARLY_DATA_FINISH) {
            *early_done = 1;
        } else if (retry(s, 0)) {
            return 0;
        } else {
            report("SSL_read_early_data");
            return -1;
        }
    }
    r = SSL_do_handshake(s);
    if (r == 1)
        return 1;
    if (retry(s, r))
        return 0;
    report("server handshake");
    return -1;
}

int tu_tls_connect_early(SSL_CTX *server, SSL_CTX *client, const struct tu_tls_early_opts *o,
                         struct tu_tls_early_result *res)
{
    struct tu_tls_opts co = {.sni = o->sni, .alpn_csv = o->alpn_csv, .session = o->session};
    struct link l;
    SSL *c = NULL, *s = NULL;
    size_t written = 0;
    int cdone = 0, sdone = 0, early_done = o->server_skips_early, rc = -1;

    memset(res, 0, sizeof(*res));
    memset(&l, 0, sizeof(l));
    l.capture = o->capture;
    if (o->session == NULL || o->early == NULL || o->early_len == 0 ||
        o->early_len > TU_EARLY_MAX) {
        fprintf(stderr, "tls_util: early data connection needs a session and 1..%d bytes\n",
                TU_EARLY_MAX);
        return -1;
    }
    c = SSL_new(client);
    s = SSL_new(server);
    l.c_in = mem_bio();
    l.c_out = mem_bio();
    l.s_in = mem_bio();
    l.s_out = mem_bio();
    if (c == NULL || s == NULL || l.c_in == NULL || l.c_out == NULL || l.s_in == NULL ||
        l.s_out == NULL) {
        report("SSL_new/memory BIOs");
        BIO_free(l.c_in);
        BIO_free(l.c_out);
        BIO_free(l.s_in);
        BIO_free(l.s_out);
        goto out;
    }
    SSL_set_bio(c, l.c_in, l.c_out);
    SSL_set_bio(s, l.s_in, l.s_out);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_set_msg_callback(c, tu_tls_count_tickets);
    SSL_set_msg_callback_arg(c, &res->tickets);
    if (client_setup(c, &co) != 0) {
        report("client setup");
        goto out;
    }
    if (o->client_setup != NULL)
        o->client_setup(c, o->arg);
    if (o->server_setup != NULL)
        o->server_setup(s, o->arg);
    /* The ClientHello and the early data record, before any reply. */
    if (SSL_write_early_data(c, o->early, o->early_len, &written) != 1 ||
        written != o->early_len) {
        report("SSL_write_early_data");
        goto out;
    }
    for (int i = 0; i < DRIVE_ROUNDS && !(cdone && sdone); i++) {
        int r;
        if (pump(&l) != 0)
            goto out;
        if (!sdone) {
            r = server_step(s, &early_done, res);
            if (r < 0)
                goto out;
            sdone = r;
        }
        if (pump(&l) != 0)
            goto out;
        if (!cdone) {
            r = SSL_do_handshake(c);
            if (r == 1)
                cdone = 1;
            else if (!retry(c, r)) {
                report("client handshake");
                goto out;
            }
        }
    }
    if (!(cdone && sdone) || send_byte(&l, s, c, 'S', NULL, NULL) != 0 ||
        send_byte(&l, c, s, 'C', NULL, NULL) != 0)
        goto out;
    res->resumed = SSL_session_reused(c) && SSL_session_reused(s);
    res->client_status = SSL_get_early_data_status(c);
    res->server_status = SSL_get_early_data_status(s);
    if (o->server_done != NULL)
        o->server_done(s, o->arg);
    if (shutdown_both(&l, c, s, NULL) != 0)
        goto out;
    res->session = SSL_get1_session(c);
    rc = res->session != NULL ? 0 : -1;
out:
    res->ok = rc == 0;
    res->flight = l.flight;
    res->flight_len = l.flight_len;
    SSL_free(c);
    SSL_free(s);
    return rc;
}

void tu_tls_early_result_free(struct tu_tls_early_result *res)
{
    free(res->flight);
    SSL_SESSION_free(res->session);
    res->flight = NULL;
    res->session = NULL;
}

int tu_tls_replay_flight(SSL_CTX *server, const uint8_t *flight, size_t len,
                         struct tu_tls_replay_result *res)
{
    uint8_t buf[1024];
    BIO *in = NULL, *out = NULL;
    SSL *s = NULL;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    s = SSL_new(server);
    in = mem_bio();
    out = mem_bio();
    if (s == NULL || in == NULL || out == NULL || len > INT32_MAX ||
        BIO_write(in, flight, (int)len) != (int)len) {
        report("replay setup");
        BIO_free(in);
        BIO_free(out);
        goto out;
    }
    SSL_set_bio(s, in, out);
    SSL_set_accept_state(s);
    for (int i = 0; i < DRIVE_ROUNDS; i++) {
        size_t n = 0;
        int r = SSL_read_early_data(s, buf, sizeof(buf), &n);
        if (r == SSL_READ_EARLY_DATA_SUCCESS) {
            res->early_len += n;
            continue;
        }
        if (r == SSL_READ_EARLY_DATA_FINISH) {
            /* Early data refused: the rest waits for the client's
             * Finished, after OpenSSL skips the early data records. */
            r = SSL_do_handshake(s);
            res->completed = r == 1;
            res->failed = r != 1 && !retry(s, r);
        } else {
            res->failed = !retry(s, 0);
        }
        break;
    }
    ERR_clear_error();
    res->early_status = SSL_get_early_data_status(s);
    res->resumed = SSL_session_reused(s);
    rc = 0;
out:
    SSL_free(s);
    return rc;
}

/* ---- DER surgery -------------------------------------------------------- */

struct tlv {
    const uint8_t *p; /* whole element */
    size_t len;       /* whole element */
    uint8_t tag;
    const uint8_t *val;
    size_t val_len;
};

static int tlv_read(const uint8_t *p, size_t avail, struct tlv *t)
{
    size_t hdr = 2, n;
    if (avail < 2 || (p[0] & 0x1f) == 0x1f)
        return -1;
    n = p[1];
    if (n & 0x80) {
        size_t k = n & 0x7f;
        if (k == 0 || k > 3 || avail < 2 + k)
            return -1;
        n = 0;
        for (size_t i = 0; i < k; i++)
            n = (n << 8) | p[2 + i];
        hdr += k;
    }
    if (n > avail - hdr)
        return -1;
    t->p = p;
    t->tag = p[0];
    t->val = p + hdr;
    t->val_len = n;
    t->len = hdr + n;
    return 0;
}

static size_t put_hdr(uint8_t *out, uint8_t tag, size_t n)
{
    out[0] = tag;
    if (n < 0x80) {
        out[1] = (uint8_t)n;
        return 2;
    }
    if (n < 0x100) {
        out[1] = 0x81;
        out[2] = (uint8_t)n;
        return 3;
    }
    out[1] = 0x82;
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    return 4;
}

/* SSL_SESSION_ASN1 (ssl/ssl_asn1.c): tlsext_tick is [10] EXPLICIT OCTET STRING. */
#define TAG_TICKET 0xaa

SSL_SESSION *tu_tls_session_with_ticket(SSL_SESSION *s, const uint8_t *ticket, size_t len)
{
    unsigned char *der = NULL, *p;
    uint8_t *body = NULL, *outer = NULL;
    const unsigned char *q;
    SSL_SESSION *copy = NULL;
    struct tlv seq, el;
    size_t off, body_len = 0, outer_len;
    int der_len, replaced = 0;

    der_len = i2d_SSL_SESSION(s, NULL);
    if (der_len <= 0 || len > 0xff00 || (der = malloc((size_t)der_len)) == NULL)
        goto out;
    p = der;
    if (i2d_SSL_SESSION(s, &p) != der_len || tlv_read(der, (size_t)der_len, &seq) != 0 ||
        seq.tag != 0x30)
        goto out;
    body = malloc(seq.val_len + len + 16);
    if (body == NULL)
        goto out;
    for (off = 0; off < seq.val_len; off += el.len) {
        if (tlv_read(seq.val + off, seq.val_len - off, &el) != 0)
            goto out;
        if (el.tag == TAG_TICKET) {
            uint8_t inner[4];
            size_t ih = put_hdr(inner, 0x04, len);
            body_len += put_hdr(body + body_len, TAG_TICKET, ih + len);
            memcpy(body + body_len, inner, ih);
            memcpy(body + body_len + ih, ticket, len);
            body_len += ih + len;
            replaced = 1;
        } else {
            memcpy(body + body_len, el.p, el.len);
            body_len += el.len;
        }
    }
    /* put_hdr writes lengths up to two bytes long. */
    if (!replaced || body_len > 0xffff || (outer = malloc(body_len + 4)) == NULL)
        goto out;
    outer_len = put_hdr(outer, 0x30, body_len);
    memcpy(outer + outer_len, body, body_len);
    outer_len += body_len;
    q = outer;
    copy = d2i_SSL_SESSION(NULL, &q, (long)outer_len);
    if (copy == NULL)
        report("d2i_SSL_SESSION of the edited session");
out:
    free(outer);
    free(body);
    free(der);
    return copy;
}
