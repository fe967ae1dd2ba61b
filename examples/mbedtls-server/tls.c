#define _GNU_SOURCE

#include "tls.h"

#include "log.h"
#include "ring.h"
#include "server.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/error.h>
#include <mbedtls/version.h>

const struct backend backend = {
    .program = "ticketring-mbedtls-server",
    .library = "mbedTLS",
    .default_keys = "mbedtls-default",
    .no_early_data = "this server speaks TLS 1.2 only (mbedTLS 2.28 has no TLS 1.3, hence "
                     "no 0-RTT)",
};

/* OpenSSL's default ticket lifetime, so both servers hint the same. */
#define DEFAULT_LIFETIME 7200

void log_mbedtls(int rc, const char *fmt, ...)
{
    char err[160];
    mbedtls_strerror(rc, err, sizeof err);
    va_list ap;
    va_start(ap, fmt);
    log_linev(fmt, ap, err);
    va_end(ap);
}

/* "h2,http/1.1" -> {"h2", "http/1.1", NULL}, pointing into a copy. The same
 * limits as the OpenSSL server's wire encoding (1..255 bytes a name). */
static int alpn_list(struct tls *t, const char *list)
{
    size_t n = 0;
    t->alpn_names = strdup(list);
    if (t->alpn_names == NULL)
        return -1;
    char *p = t->alpn_names;
    for (;;) {
        char *end = strchr(p, ',');
        if (end != NULL)
            *end = '\0';
        size_t len = strlen(p);
        if (len == 0 || len > 255 || n == ALPN_MAX)
            return -1;
        t->alpn[n++] = p;
        if (end == NULL)
            break;
        p = end + 1;
    }
    t->alpn[n] = NULL;
    return 0;
}

static int load_cert(struct tls *t, const struct flags *f)
{
    int rc = mbedtls_x509_crt_parse_file(&t->cert, f->cert);
    if (rc != 0) {
        log_mbedtls(rc, "--cert %s", f->cert);
        return -1;
    }
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    rc = mbedtls_pk_parse_keyfile(&t->key, f->key, NULL, mbedtls_ctr_drbg_random, &t->drbg);
    if (rc == 0)
        rc = mbedtls_pk_check_pair(&t->cert.pk, &t->key, mbedtls_ctr_drbg_random, &t->drbg);
#else
    rc = mbedtls_pk_parse_keyfile(&t->key, f->key, NULL);
    if (rc == 0)
        rc = mbedtls_pk_check_pair(&t->cert.pk, &t->key);
#endif
    if (rc == 0)
        rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key);
    if (rc != 0) {
        log_mbedtls(rc, "--key %s", f->key);
        return -1;
    }
    return 0;
}

/* With --keys: the server's ring, made on mbedTLS's crypto, attached to the
 * config. The glue installs the ticket callbacks and an SNI callback. */
static int ring_init(struct server *srv)
{
    struct tls *t = srv->tls;
    if (ring_open(&srv->ring, tr_crypto_mbedtls(), &srv->flags, NULL, NULL,
                  &srv->keys_loaded) != 0)
        return -1;
    int rc = tr_mbedtls_attach(&t->conf, srv->ring, srv->flags.node_id, &t->att);
    if (rc != 0) {
        log_line("cannot attach the key ring: %s", tr_strerror(rc));
        return -1;
    }
    return 0;
}

/* Without --keys: mbedTLS's own ticket module, as a server without
 * libticketring would use it (random keys of this process only). */
static int own_tickets_init(struct tls *t, const struct flags *f)
{
    int rc = mbedtls_ssl_ticket_setup(&t->own_tickets, mbedtls_ctr_drbg_random, &t->drbg,
                                      MBEDTLS_CIPHER_AES_256_GCM,
                                      f->lifetime != 0 ? f->lifetime : DEFAULT_LIFETIME);
    if (rc != 0) {
        log_mbedtls(rc, "mbedtls_ssl_ticket_setup");
        return -1;
    }
    mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write, own_ticket_parse,
                                        &t->own_tickets);
    return 0;
}

int tls_init(struct server *srv)
{
    static const char pers[] = "ticketring-mbedtls-server";
    const struct flags *f = &srv->flags;
    struct tls *t = calloc(1, sizeof *t);
    if (t == NULL) {
        log_line("out of memory for the TLS configuration");
        return -1;
    }
    srv->tls = t;
    mbedtls_ssl_config_init(&t->conf);
    mbedtls_x509_crt_init(&t->cert);
    mbedtls_pk_init(&t->key);
    mbedtls_entropy_init(&t->entropy);
    mbedtls_ctr_drbg_init(&t->drbg);
    mbedtls_ssl_ticket_init(&t->own_tickets);

    if (alpn_list(t, f->alpn) != 0) {
        log_line("--alpn %s: expected comma-separated names of 1..255 bytes", f->alpn);
        goto fail;
    }
    int rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
                                   (const unsigned char *)pers, sizeof pers - 1);
    if (rc != 0) {
        log_mbedtls(rc, "mbedtls_ctr_drbg_seed");
        goto fail;
    }
    rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
                                     MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        log_mbedtls(rc, "mbedtls_ssl_config_defaults");
        goto fail;
    }
    mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
    /* TLS 1.2 only: libticketring's mbedTLS glue issues TLS 1.2 tickets. */
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    mbedtls_ssl_conf_min_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
    mbedtls_ssl_conf_max_tls_version(&t->conf, MBEDTLS_SSL_VERSION_TLS1_2);
#else
    mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
#endif
    /* Client-initiated renegotiation stays refused (mbedTLS's default): a
     * CPU-cost lever, as on the OpenSSL server. */
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(&t->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
    rc = mbedtls_ssl_conf_alpn_protocols(&t->conf, t->alpn);
    if (rc != 0) {
        log_mbedtls(rc, "--alpn %s", f->alpn);
        goto fail;
    }
    if (load_cert(t, f) != 0)
        goto fail;
    /* No session cache: only tickets resume, as on the OpenSSL server. */
    if (f->keys != NULL || f->keys_source != NULL) {
        if (ring_init(srv) != 0)
            goto fail;
    } else if (own_tickets_init(t, f) != 0) {
        goto fail;
    }
    return 0;
fail:
    tls_free(srv);
    return -1;
}

void tls_free(struct server *srv)
{
    struct tls *t = srv->tls;
    if (t != NULL) {
        /* Connections hold the attachment; none remain. */
        tr_mbedtls_detach(t->att);
        mbedtls_ssl_config_free(&t->conf);
        mbedtls_ssl_ticket_free(&t->own_tickets);
        mbedtls_pk_free(&t->key);
        mbedtls_x509_crt_free(&t->cert);
        mbedtls_ctr_drbg_free(&t->drbg);
        mbedtls_entropy_free(&t->entropy);
        free(t->alpn_names);
        free(t);
        srv->tls = NULL;
    }
    /* The ring outlives the config and the attachment that used it. */
    tr_ring_free(srv->ring);
    srv->ring = NULL;
}

/* No 0-RTT with mbedTLS 2.28, so no replay store to report. */
int tls_metrics(struct server *srv, char *buf, size_t cap, size_t *len)
{
    (void)srv;
    return metrics_none(buf, cap, len);
}
