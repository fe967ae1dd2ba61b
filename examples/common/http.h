/* HTTP/1.1 request heads in, whole responses out (RFC 9112), kept to what
 * this server needs: no request bodies, no chunked input. */
#ifndef SERVER_HTTP_H
#define SERVER_HTTP_H

#include <stddef.h>

#define HTTP_MAX_HEAD 8192 /* request line + header fields, bytes */
#define HTTP_MAX_FIELDS 64

struct http_request {
    const char *method; /* not NUL-terminated: use the lengths */
    size_t method_len;
    const char *path;   /* the target without its query */
    size_t path_len;
    int keep_alive;     /* the client wants to send another request */
    int has_body;       /* Content-Length > 0 or Transfer-Encoding: not read */
};

/* Parse the request head at the start of buf[0..len).
 *  > 0  the head is complete; that many bytes belong to it; *req is set
 *         (pointing into buf).
 *    0  incomplete: read more (len < HTTP_MAX_HEAD).
 *  < 0  -status to answer before closing: -400 malformed, -431 head too
 *         large or too many fields, -505 not HTTP/1.x. */
long http_parse_request(const char *buf, size_t len, struct http_request *req);

/* A complete response in one malloc'd buffer (*out, *out_len): status line,
 * Content-Type, Content-Length, Connection and the body (omitted when
 * head_only, as for HEAD; Content-Length still tells its size). 0 or -1 on
 * allocation failure. */
int http_response(int status, const char *content_type, const char *body, size_t body_len,
                  int keep_alive, int head_only, char **out, size_t *out_len);

/* The reason phrase of a status this server uses. */
const char *http_reason(int status);

#endif
