#define _GNU_SOURCE

#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_tchar((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* Visible ASCII, space and tab: what a field value or target may hold here. */
static int is_text(const char *s, size_t n, int allow_space)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t') {
            if (!allow_space)
                return 0;
        } else if (c < 0x21 || c > 0x7e) {
            return 0;
        }
    }
    return 1;
}

static int eq_nocase(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Does the comma-separated list s[0..n) hold `token` (any case)? */
static int list_has(const char *s, size_t n, const char *token)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
            end--;
        if (eq_nocase(s + start, end - start, token))
            return 1;
    }
    return 0;
}

/* The end of the head: the index just past the empty line, or 0. A bare LF
 * ends a line too (RFC 9112 section 2.2 allows accepting it). */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* The next line of buf[*pos..end), without its CRLF/LF. */
static const char *next_line(const char *buf, size_t end, size_t *pos, size_t *line_len)
{
    const char *line = buf + *pos;
    const char *nl = memchr(line, '\n', end - *pos);
    size_t n = nl != NULL ? (size_t)(nl - line) : end - *pos;
    *pos += n + (nl != NULL ? 1 : 0);
    if (n > 0 && line[n - 1] == '\r')
        n--;
    *line_len = n;
    return line;
}

static int parse_request_line(const char *line, size_t n, struct http_request *req,
                              int *minor)
{
    const char *sp1 = memchr(line, ' ', n);
    if (sp1 == NULL)
        return -400;
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', n - (size_t)(target - line));
    if (sp2 == NULL)
        return -400;
    const char *version = sp2 + 1;
    size_t version_len = n - (size_t)(version - line);
    req->method = line;
    req->method_len = (size_t)(sp1 - line);
    size_t target_len = (size_t)(sp2 - target);
    if (!is_token(req->method, req->method_len) || target_len == 0 ||
        !is_text(target, target_len, 0))
        return -400;
    if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
        return -400;
    if (version[5] != '1')
        return -505;
    *minor = version[7] - '0';
    req->path = target;
    const char *q = memchr(target, '?', target_len);
    req->path_len = q != NULL ? (size_t)(q - target) : target_len;
    return 0;
}

static int parse_content_length(const char *v, size_t n, int *has_body)
{
    if (n == 0 || n > 18)
        return -400;
    long long value = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -400;
        value = value * 10 + (v[i] - '0');
    }
    if (value > 0)
        *has_body = 1;
    return 0;
}

long http_parse_request(const char *buf, size_t len, struct http_request *req)
{
    size_t scan = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    /* Tolerate empty lines before a request (RFC 9112 section 2.2). */
    size_t skip = 0;
    while (skip < scan && (buf[skip] == '\r' || buf[skip] == '\n'))
        skip++;
    size_t end = head_end(buf + skip, scan - skip);
    if (end == 0) {
        if (memchr(buf, '\0', scan) != NULL)
            return -400;
        return len >= HTTP_MAX_HEAD ? -431 : 0;
    }
    end += skip;
    memset(req, 0, sizeof *req);

    size_t pos = skip, n;
    int minor = 0, conn_close = 0, conn_keep = 0, have_host = 0, have_length = 0;
    const char *line = next_line(buf, end, &pos, &n);
    int rc = parse_request_line(line, n, req, &minor);
    if (rc != 0)
        return rc;
    for (int fields = 0;; fields++) {
        line = next_line(buf, end, &pos, &n);
        if (n == 0)
            break;
        if (fields == HTTP_MAX_FIELDS)
            return -431;
        const char *colon = memchr(line, ':', n);
        /* No whitespace before the colon, no obsolete line folding. */
        if (colon == NULL || !is_token(line, (size_t)(colon - line)))
            return -400;
        size_t name_len = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vlen = n - name_len - 1;
        while (vlen > 0 && (v[0] == ' ' || v[0] == '\t'))
            v++, vlen--;
        while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
            vlen--;
        if (!is_text(v, vlen, 1))
            return -400;
        if (eq_nocase(line, name_len, "connection")) {
            conn_close |= list_has(v, vlen, "close");
            conn_keep |= list_has(v, vlen, "keep-alive");
        } else if (eq_nocase(line, name_len, "host")) {
            if (have_host++)
                return -400;
        } else if (eq_nocase(line, name_len, "content-length")) {
            if (have_length++ || parse_content_length(v, vlen, &req->has_body) != 0)
                return -400;
        } else if (eq_nocase(line, name_len, "transfer-encoding")) {
            req->has_body = 1;
        }
    }
    /* HTTP/1.1 requires Host (RFC 9112 section 3.2). */
    if (minor >= 1 && !have_host)
        return -400;
    req->keep_alive = !conn_close && (minor >= 1 || conn_keep) && !req->has_body;
    return (long)end;
}

const char *http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 425: return "Too Early";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 500: return "Internal Server Error";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

int http_response(int status, const char *content_type, const char *body, size_t body_len,
                  int keep_alive, int head_only, char **out, size_t *out_len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     status, http_reason(status), content_type, body_len,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "",
                     keep_alive ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof head)
        return -1;
    size_t send_body = head_only ? 0 : body_len;
    char *p = malloc((size_t)n + send_body);
    if (p == NULL)
        return -1;
    memcpy(p, head, (size_t)n);
    if (send_body > 0)
        memcpy(p + n, body, send_body);
    *out = p;
    *out_len = (size_t)n + send_body;
    return 0;
}
