/* nginx's TLS session id context, computed from outside nginx, so that a
 * libticketring node can resume an nginx node's tickets and the other way
 * round (docs/interop-nginx.md).
 *
 * OpenSSL resumes a ticket only when the session id context sealed in it
 * equals the accepting SSL_CTX's; a mismatch is a silent full handshake.
 * nginx (1.22, ngx_ssl_session_id_context() in src/event/ngx_event_openssl.c)
 * sets, per server block:
 *
 *   SHA-1( module string                 "HTTP", "STREAM" or "MAIL"
 *        | SHA-1(DER of each certificate) in REVERSE order of the
 *                                         ssl_certificate directives
 *        | SHA-1(DER of each client CA name) in the order of the
 *                                         ssl_client_certificate file, only
 *                                         when ssl_verify_client is not off )
 *
 * (a configuration with variables in ssl_certificate hashes the directive
 * strings instead of the certificates; not covered here). */
#ifndef TICKETRING_INTEROP_NGINX_SID_CTX_H
#define TICKETRING_INTEROP_NGINX_SID_CTX_H

#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define NGINX_SID_CTX_BYTES 20

/* module: "HTTP" for the http block. certs: the leaf certificates in the
 * order of the server block's ssl_certificate directives (n >= 1).
 * client_ca: the names nginx sends as acceptable client CAs, or NULL.
 * 0 on success, -1 on an OpenSSL failure. */
int nginx_sid_ctx(const char *module, X509 *const *certs, size_t n,
                  const STACK_OF(X509_NAME) *client_ca,
                  unsigned char out[NGINX_SID_CTX_BYTES]);

#endif
