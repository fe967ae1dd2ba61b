/* The mbedTLS side of ticketring-mbedtls-server (the rest is in
 * ../common): the mbedtls_ssl_config shared by every thread, and its
 * ticket keys. */
#ifndef SERVER_TLS_H
#define SERVER_TLS_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <ticketring/mbedtls.h>

#include "backend.h"

#define ALPN_MAX 32 /* protocols in --alpn */

/* Made by tls_init() (backend.h): certificate and key, TLS 1.2 (all that
 * mbedTLS 2.28 has), ALPN and, with --keys, the server's ring attached;
 * without, mbedTLS's own ticket module (per-process random keys). The
 * random generator is shared by every thread (mbedTLS locks it). */
struct tls {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_ticket_context own_tickets; /* without --keys */
    tr_mbedtls_attachment *att;             /* with --keys */
    char *alpn_names;                       /* --alpn's names, NUL-separated */
    const char *alpn[ALPN_MAX + 1];         /* NULL-terminated, as mbedTLS takes it */
};

/* As log_line(), followed by ": " and mbedTLS's description of error rc. */
__attribute__((format(printf, 2, 3))) void log_mbedtls(int rc, const char *fmt, ...);

/* Without --keys: the built-in ticket module's callbacks, wrapped so a
 * connection can tell it resumed (tlsconn.c). */
mbedtls_ssl_ticket_parse_t own_ticket_parse;

#endif
