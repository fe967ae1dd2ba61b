/*
 * The store on etcd v3, through its JSON gateway (no C etcd client is
 * packaged in Debian; libcurl and json-c are). The gateway's quirks, as
 * measured (notes/key-distribution.md §6.2): keys and values are base64,
 * 64-bit numbers are strings, false and zero fields are omitted, and a
 * watch from a compacted revision comes back canceled.
 */
#include <curl/curl.h>
#include <json-c/json.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ticketring/ticketring.h>

#include "b64.h"
#include "secure.h"
#include "store.h"

#define RESPONSE_MAX (4u << 20) /* a listing of many heartbeats fits */

struct etcd {
    struct tre_store base;
    CURL *h;
    char url[300]; /* http://host:port */
    uint32_t timeout_ms;
    atomic_int *stop;
    char *user, *password, *token;
    int64_t lease; /* 0: none granted yet */
    uint32_t lease_ttl;
};

/* A response body, or for a watch the stream of objects it carries. */
struct body {
    char *buf;
    size_t len, cap;
    int watch;         /* stream mode: stop at the first event or cancel */
    int changed;       /* stream mode: an event or a cancel arrived */
    json_tokener *tok; /* stream mode */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void init_curl(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void free_str(char **s)
{
    if (*s != NULL) {
        tri_wipe(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

int tre_watch_feed(json_tokener *tok, const char *buf, size_t len)
{
    size_t off = 0;

    /* A watch stream is a sequence of JSON objects: the one that says the
     * watch was created, then events. Anything but the first means
     * "re-read"; a chunk may end inside an object (the tokener keeps it). */
    while (off < len) {
        json_object *o = json_tokener_parse_ex(tok, buf + off, (int)(len - off));
        enum json_tokener_error err = json_tokener_get_error(tok);
        json_object *res, *x;
        int changed = 0;

        if (o == NULL && err == json_tokener_continue)
            return 0;
        if (o == NULL)
            return 1; /* unparseable stream: re-read to be safe */
        off += json_tokener_get_parse_end(tok);
        json_tokener_reset(tok);
        if (!json_object_is_type(o, json_type_object))
            changed = 1;
        else if (json_object_object_get_ex(o, "result", &res) &&
                 ((json_object_object_get_ex(res, "events", &x) &&
                   json_object_array_length(x) > 0) ||
                  (json_object_object_get_ex(res, "canceled", &x) &&
                   json_object_get_boolean(x))))
            changed = 1;
        else if (json_object_object_get_ex(o, "error", &x))
            changed = 1;
        json_object_put(o);
        if (changed)
            return 1;
        /* Whitespace between objects. */
        while (off < len && (buf[off] == '\n' || buf[off] == '\r' || buf[off] == ' '))
            off++;
    }
    return 0;
}

static void scan_stream(struct body *b)
{
    if (tre_watch_feed(b->tok, b->buf, b->len) == 1)
        b->changed = 1;
    /* Everything scanned was handed to the tokener. */
    b->len = 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t n = size * nmemb;

    if (b->len + n > RESPONSE_MAX)
        return 0;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *p = realloc(b->buf, cap);
        if (p == NULL)
            return 0;
        b->buf = p;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, ptr, n);
    b->len += n;
    b->buf[b->len] = '\0';
    if (b->watch) {
        scan_stream(b);
        if (b->changed)
            return 0; /* enough: end the transfer */
    }
    return n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct etcd *e = arg;
    return e->stop != NULL && atomic_load(e->stop) ? 1 : 0;
}

static int64_t num(json_object *parent, const char *name)
{
    json_object *x;
    if (!json_object_object_get_ex(parent, name, &x))
        return 0; /* the gateway omits zero */
    /* 64-bit numbers arrive as strings; json-c converts either. */
    return json_object_get_int64(x);
}

/* POST body to path; *out the parsed JSON response (HTTP 200 only, unless
 * keep_errors, then any JSON answer). TR_E_STORE for a transport failure,
 * a non-JSON or non-200 answer. Stream mode (watch) returns 1 when the
 * key changed, 0 when the timeout passed. */
static int post(struct etcd *e, const char *path, const char *json, uint32_t timeout_ms,
                int watch, int keep_errors, json_object **out, long *status)
{
    struct body b = {0};
    struct curl_slist *hdrs = NULL;
    char url[400], auth[600];
    long code = 0;
    CURLcode cr;
    int rc = TR_E_STORE;

    if (out != NULL)
        *out = NULL;
    if (status != NULL)
        *status = 0;
    snprintf(url, sizeof url, "%s%s", e->url, path);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    if (hdrs == NULL)
        return TR_E_NOMEM;
    if (e->token != NULL) {
        struct curl_slist *h2;
        snprintf(auth, sizeof auth, "Authorization: %s", e->token);
        h2 = curl_slist_append(hdrs, auth);
        tri_wipe(auth, sizeof auth);
        if (h2 == NULL) {
            curl_slist_free_all(hdrs);
            return TR_E_NOMEM;
        }
        hdrs = h2;
    }
    if (watch) {
        b.watch = 1;
        b.tok = json_tokener_new();
        if (b.tok == NULL) {
            curl_slist_free_all(hdrs);
            return TR_E_NOMEM;
        }
    }
    curl_easy_reset(e->h);
    curl_easy_setopt(e->h, CURLOPT_URL, url);
    curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(e->h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e->h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(e->h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e->h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->timeout_ms);
    curl_easy_setopt(e->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e->h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e->h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e->h, CURLOPT_XFERINFODATA, e);
    /* Only http: a URL cannot redirect the key set elsewhere. */
    curl_easy_setopt(e->h, CURLOPT_PROTOCOLS_STR, "http");
    cr = curl_easy_perform(e->h);
    curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &code);
    if (status != NULL)
        *status = code;
    if (watch) {
        if (b.changed)
            rc = 1;
        else if (cr == CURLE_OPERATION_TIMEDOUT && code == 200)
            rc = 0;
        else if (cr == CURLE_OK && code == 200)
            rc = 1; /* the stream ended: the watch is gone, re-read */
        else
            rc = TR_E_STORE;
        json_tokener_free(b.tok);
    } else if (cr == CURLE_OK && b.buf != NULL && (code == 200 || keep_errors)) {
        json_object *o = json_tokener_parse(b.buf);
        if (o != NULL && json_object_is_type(o, json_type_object)) {
            if (out != NULL)
                *out = o;
            else
                json_object_put(o);
            rc = code == 200 ? 0 : TR_E_STORE;
        } else if (o != NULL) {
            json_object_put(o);
        }
    }
    curl_slist_free_all(hdrs);
    if (b.buf != NULL) {
        tri_wipe(b.buf, b.cap);
        free(b.buf);
    }
    return rc;
}

/* A password turns into a token (etcd's simple tokens expire when idle,
 * so a 401 later asks again). */
static int authenticate(struct etcd *e)
{
    json_object *req, *resp = NULL, *tok;
    int rc;

    if (e->user == NULL || e->password == NULL)
        return e->token != NULL ? 0 : TR_E_STORE;
    free_str(&e->token);
    req = json_object_new_object();
    if (req == NULL)
        return TR_E_NOMEM;
    json_object_object_add(req, "name", json_object_new_string(e->user));
    json_object_object_add(req, "password", json_object_new_string(e->password));
    rc = post(e, "/v3/auth/authenticate", json_object_to_json_string(req), e->timeout_ms, 0, 0,
              &resp, NULL);
    /* The serialized request held the password. */
    {
        const char *s = json_object_to_json_string(req);
        tri_wipe((void *)s, strlen(s));
    }
    json_object_put(req);
    if (rc == 0 && json_object_object_get_ex(resp, "token", &tok)) {
        e->token = strdup(json_object_get_string(tok));
        rc = e->token != NULL ? 0 : TR_E_NOMEM;
    } else if (rc == 0) {
        rc = TR_E_STORE;
    }
    json_object_put(resp);
    return rc;
}

/* A request with authentication: a token obtained from a password is
 * fetched first and once more after a 401. */
static int call(struct etcd *e, const char *path, json_object *req, int keep_errors,
                json_object **out)
{
    long status = 0;
    int rc;

    if (e->password != NULL && e->token == NULL && (rc = authenticate(e)) != 0)
        return rc;
    rc = post(e, path, json_object_to_json_string(req), e->timeout_ms, 0, keep_errors, out,
              &status);
    if (rc != 0 && status == 401 && e->password != NULL) {
        if (out != NULL && *out != NULL) {
            json_object_put(*out);
            *out = NULL;
        }
        if ((rc = authenticate(e)) == 0)
            rc = post(e, path, json_object_to_json_string(req), e->timeout_ms, 0, keep_errors,
                      out, &status);
    }
    return rc;
}

static json_object *b64_string(const uint8_t *p, size_t n)
{
    char *s = malloc(tre_b64_len(n) + 1);
    json_object *o;
    if (s == NULL)
        return NULL;
    tre_b64_encode(s, p, n);
    o = json_object_new_string(s);
    free(s);
    return o;
}

static json_object *i64_string(int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, v);
    return json_object_new_string(s);
}

static int decode_field(json_object *kv, const char *name, uint8_t **out, size_t *len)
{
    json_object *x;
    const char *s;
    size_t sl, cap;

    *out = NULL;
    *len = 0;
    if (!json_object_object_get_ex(kv, name, &x))
        return 0; /* an empty value is omitted */
    s = json_object_get_string(x);
    sl = strlen(s);
    cap = sl / 4 * 3 + 1;
    *out = malloc(cap);
    if (*out == NULL)
        return TR_E_NOMEM;
    if (tre_b64_decode(*out, cap, len, s, sl) != 0) {
        free(*out);
        *out = NULL;
        return TR_E_STORE;
    }
    return 0;
}

static int etcd_get(struct tre_store *st, const char *key, uint8_t **val, size_t *len,
                    int64_t *mod_rev, int64_t *rev)
{
    struct etcd *e = (struct etcd *)st;
    json_object *req = json_object_new_object(), *resp = NULL, *kvs, *hdr;
    int rc;

    *val = NULL;
    *len = 0;
    *mod_rev = 0;
    *rev = 0;
    if (req == NULL)
        return TR_E_NOMEM;
    json_object_object_add(req, "key", b64_string((const uint8_t *)key, strlen(key)));
    if (st->serializable)
        json_object_object_add(req, "serializable", json_object_new_boolean(1));
    rc = call(e, "/v3/kv/range", req, 0, &resp);
    json_object_put(req);
    if (rc != 0)
        return rc;
    if (json_object_object_get_ex(resp, "header", &hdr))
        *rev = num(hdr, "revision");
    if (json_object_object_get_ex(resp, "kvs", &kvs) && json_object_array_length(kvs) > 0) {
        json_object *kv = json_object_array_get_idx(kvs, 0);
        *mod_rev = num(kv, "mod_revision");
        rc = decode_field(kv, "value", val, len);
    }
    json_object_put(resp);
    return rc;
}

static int etcd_cas(struct tre_store *st, const char *key, const uint8_t *val, size_t len,
                    int64_t expect_mod_rev, int64_t *new_rev)
{
    struct etcd *e = (struct etcd *)st;
    json_object *req = json_object_new_object(), *cmp, *cmps, *put, *op, *ops, *resp = NULL;
    json_object *x, *hdr;
    int rc;

    if (new_rev != NULL)
        *new_rev = 0;
    if (req == NULL)
        return TR_E_NOMEM;
    cmp = json_object_new_object();
    json_object_object_add(cmp, "key", b64_string((const uint8_t *)key, strlen(key)));
    /* Absent: its create revision is 0. */
    json_object_object_add(cmp, "target",
                           json_object_new_string(expect_mod_rev == 0 ? "CREATE" : "MOD"));
    json_object_object_add(cmp, expect_mod_rev == 0 ? "create_revision" : "mod_revision",
                           i64_string(expect_mod_rev));
    json_object_object_add(cmp, "result", json_object_new_string("EQUAL"));
    cmps = json_object_new_array();
    json_object_array_add(cmps, cmp);
    put = json_object_new_object();
    json_object_object_add(put, "key", b64_string((const uint8_t *)key, strlen(key)));
    json_object_object_add(put, "value", b64_string(val, len));
    op = json_object_new_object();
    json_object_object_add(op, "request_put", put);
    ops = json_object_new_array();
    json_object_array_add(ops, op);
    json_object_object_add(req, "compare", cmps);
    json_object_object_add(req, "success", ops);
    rc = call(e, "/v3/kv/txn", req, 0, &resp);
    json_object_put(req);
    if (rc != 0)
        return rc;
    /* `succeeded` is omitted when false. */
    if (!json_object_object_get_ex(resp, "succeeded", &x) || !json_object_get_boolean(x))
        rc = TR_E_CONFLICT;
    else if (new_rev != NULL && json_object_object_get_ex(resp, "header", &hdr))
        *new_rev = num(hdr, "revision");
    json_object_put(resp);
    return rc;
}

static int etcd_wait(struct tre_store *st, const char *key, int64_t after_rev,
                     uint32_t timeout_ms)
{
    struct etcd *e = (struct etcd *)st;
    json_object *req = json_object_new_object(), *cr;
    long status = 0;
    int rc;

    if (req == NULL)
        return TR_E_NOMEM;
    if (e->password != NULL && e->token == NULL && (rc = authenticate(e)) != 0) {
        json_object_put(req);
        return rc;
    }
    cr = json_object_new_object();
    json_object_object_add(cr, "key", b64_string((const uint8_t *)key, strlen(key)));
    json_object_object_add(cr, "start_revision", i64_string(after_rev + 1));
    json_object_object_add(req, "create_request", cr);
    rc = post(e, "/v3/watch", json_object_to_json_string(req), timeout_ms, 1, 0, NULL, &status);
    if (rc < 0 && status == 401 && e->password != NULL)
        free_str(&e->token); /* authenticate again next time */
    json_object_put(req);
    return rc;
}

static int lease_grant(struct etcd *e, uint32_t ttl_s)
{
    json_object *req = json_object_new_object(), *resp = NULL;
    int rc;

    if (req == NULL)
        return TR_E_NOMEM;
    json_object_object_add(req, "TTL", i64_string(ttl_s));
    rc = call(e, "/v3/lease/grant", req, 0, &resp);
    json_object_put(req);
    if (rc == 0) {
        e->lease = num(resp, "ID");
        e->lease_ttl = ttl_s;
        if (e->lease == 0)
            rc = TR_E_STORE;
    }
    json_object_put(resp);
    return rc;
}

/* 1 when the lease is still alive (renewed), 0 when it expired. */
static int lease_keepalive(struct etcd *e)
{
    json_object *req = json_object_new_object(), *resp = NULL, *res;
    int rc;

    if (req == NULL)
        return TR_E_NOMEM;
    json_object_object_add(req, "ID", i64_string(e->lease));
    rc = call(e, "/v3/lease/keepalive", req, 0, &resp);
    json_object_put(req);
    if (rc == 0)
        /* An expired lease answers without a TTL. */
        rc = json_object_object_get_ex(resp, "result", &res) && num(res, "TTL") > 0;
    json_object_put(resp);
    return rc;
}

static int put_with_lease(struct etcd *e, const char *key, const uint8_t *val, size_t len)
{
    json_object *req = json_object_new_object(), *resp = NULL;
    int rc;

    if (req == NULL)
        return TR_E_NOMEM;
    json_object_object_add(req, "key", b64_string((const uint8_t *)key, strlen(key)));
    json_object_object_add(req, "value", b64_string(val, len));
    json_object_object_add(req, "lease", i64_string(e->lease));
    rc = call(e, "/v3/kv/put", req, 0, &resp);
    json_object_put(req);
    json_object_put(resp);
    return rc;
}

static int etcd_heartbeat(struct tre_store *st, const char *key, const uint8_t *val,
                          size_t len, uint32_t ttl_s)
{
    struct etcd *e = (struct etcd *)st;
    int rc = 0, alive = 0;

    if (e->lease != 0 && e->lease_ttl == ttl_s) {
        alive = lease_keepalive(e);
        if (alive < 0)
            return alive;
    }
    /* A lost lease (etcd was down longer than the TTL, or restarted
     * without its data) took the heartbeat with it: start a new one. */
    if (!alive && (rc = lease_grant(e, ttl_s)) != 0)
        return rc;
    rc = put_with_lease(e, key, val, len);
    if (rc != 0) {
        e->lease = 0; /* try a fresh lease next time */
    }
    return rc;
}

static int etcd_leave(struct tre_store *st)
{
    struct etcd *e = (struct etcd *)st;
    json_object *req, *resp = NULL;
    int rc;

    if (e->lease == 0)
        return 0;
    if ((req = json_object_new_object()) == NULL)
        return TR_E_NOMEM;
    json_object_object_add(req, "ID", i64_string(e->lease));
    rc = call(e, "/v3/lease/revoke", req, 0, &resp);
    json_object_put(req);
    json_object_put(resp);
    e->lease = 0;
    return rc;
}

static int etcd_list(struct tre_store *st, const char *prefix, tre_list_fn fn, void *arg)
{
    struct etcd *e = (struct etcd *)st;
    json_object *req = json_object_new_object(), *resp = NULL, *kvs;
    size_t pl = strlen(prefix);
    uint8_t *end;
    int rc;

    if (req == NULL)
        return TR_E_NOMEM;
    if (pl == 0 || (end = malloc(pl)) == NULL) {
        json_object_put(req);
        return pl == 0 ? TR_E_INVAL : TR_E_NOMEM;
    }
    /* The prefix range ends at the prefix with its last byte + 1 (our
     * prefixes end in '/'). */
    memcpy(end, prefix, pl);
    end[pl - 1]++;
    json_object_object_add(req, "key", b64_string((const uint8_t *)prefix, pl));
    json_object_object_add(req, "range_end", b64_string(end, pl));
    free(end);
    rc = call(e, "/v3/kv/range", req, 0, &resp);
    json_object_put(req);
    if (rc == 0 && json_object_object_get_ex(resp, "kvs", &kvs)) {
        size_t n = json_object_array_length(kvs);
        for (size_t i = 0; i < n && rc == 0; i++) {
            json_object *kv = json_object_array_get_idx(kvs, i);
            uint8_t *k = NULL, *v = NULL;
            size_t kl = 0, vl = 0;
            rc = decode_field(kv, "key", &k, &kl);
            if (rc == 0)
                rc = decode_field(kv, "value", &v, &vl);
            if (rc == 0 && fn(arg, (const char *)k, kl, v, vl) != 0)
                rc = 1;
            free(k);
            free(v);
        }
        if (rc == 1)
            rc = 0;
    }
    json_object_put(resp);
    return rc;
}

static void etcd_free(struct tre_store *st)
{
    struct etcd *e = (struct etcd *)st;
    if (e == NULL)
        return;
    if (e->h != NULL)
        curl_easy_cleanup(e->h);
    free_str(&e->user);
    free_str(&e->password);
    free_str(&e->token);
    free(e);
}

static const struct tre_store_ops etcd_ops = {
    .engine = "etcd",
    .get = etcd_get,
    .cas = etcd_cas,
    .wait = etcd_wait,
    .heartbeat = etcd_heartbeat,
    .leave = etcd_leave,
    .list = etcd_list,
    .free = etcd_free,
};

static int dup_opt(char **dst, const char *src)
{
    if (src == NULL)
        return 0;
    *dst = strdup(src);
    return *dst != NULL ? 0 : TR_E_NOMEM;
}

int tre_etcd_new(struct tre_store **out, const char *host, unsigned port,
                 const struct tre_auth *auth, uint32_t timeout_ms, atomic_int *stop)
{
    struct etcd *e;
    int rc = 0;

    *out = NULL;
    pthread_once(&curl_once, init_curl);
    if (curl_init_rc != CURLE_OK)
        return TR_E_STORE;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return TR_E_NOMEM;
    e->base.ops = &etcd_ops;
    e->timeout_ms = timeout_ms;
    e->stop = stop;
    /* An IPv6 literal keeps its brackets from the URL. */
    snprintf(e->url, sizeof e->url, "http://%s:%u", host, port);
    e->h = curl_easy_init();
    if (e->h == NULL)
        rc = TR_E_NOMEM;
    if (rc == 0 && auth != NULL) {
        rc = dup_opt(&e->user, auth->user);
        if (rc == 0)
            rc = dup_opt(&e->password, auth->password);
        if (rc == 0)
            rc = dup_opt(&e->token, auth->token);
    }
    if (rc != 0) {
        etcd_free(&e->base);
        return rc;
    }
    *out = &e->base;
    return 0;
}
