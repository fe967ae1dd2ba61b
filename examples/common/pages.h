/* What the server answers: GET / describes the connection, GET /metrics is
 * Prometheus text. */
#ifndef SERVER_PAGES_H
#define SERVER_PAGES_H

#include <stddef.h>

#include "backend.h"
#include "http.h"
#include "server.h"

/* Build the whole response to `req` on connection `tc` into *out (malloc'd)
 * and set *status to its HTTP status. keep_alive says whether the
 * connection stays open after it; early that the request came (wholly or
 * partly) in TLS early data, which a replay could deliver again: only GET
 * and HEAD are served then, anything else is answered 425 Too Early
 * (RFC 8470). `tc` may still be in its handshake (a 0.5-RTT answer). 0, or
 * -1 when memory ran out (then close the connection). */
int pages_respond(struct server *srv, const struct tls_conn *tc, const struct http_request *req,
                  int keep_alive, int early, char **out, size_t *out_len, int *status);

/* A bodyless-error response (400, 431, 505...) that closes the connection. */
int pages_error(int status, char **out, size_t *out_len);

#endif
