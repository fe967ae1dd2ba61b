/* In-process TLS over memory BIO pairs, for the OpenSSL glue tests and the
 * handshake benchmark: a throw-away identity, server and client contexts,
 * one-call connections, and "nodes" (a server ctx attached to its own ring
 * with its own fake clock).
 *
 * tls_util.c needs only OpenSSL; tls_node.c also needs libticketring and
 * its OpenSSL glue. Every function returns 0 (or a non-NULL pointer) on
 * success and prints OpenSSL's error queue to stderr on failure. */
#ifndef TICKETRING_TLS_UTIL_H
#define TICKETRING_TLS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tu_tls_identity {
    EVP_PKEY *key;
    X509 *cert;
};

/* P-256 key, self-signed cert (CN test.example, SAN DNS a.example,
 * b.example), made in memory. 0 on success. */
int tu_tls_identity_new(struct tu_tls_identity *id);
void tu_tls_identity_free(struct tu_tls_identity *id);

/* TLS_server_method ctx with the identity; SSL_SESS_CACHE_OFF; ALPN select
 * callback choosing the first protocol of `alpn_csv` (comma-separated, e.g.
 * "h2,http/1.1"; NULL: no ALPN) that the client offers. */
SSL_CTX *tu_tls_server_ctx(const struct tu_tls_identity *id, const char *alpn_csv);

/* TLS_client_method ctx, no certificate verification, SSL_SESS_CACHE_CLIENT
 * without internal store. */
SSL_CTX *tu_tls_client_ctx(void);

struct tu_tls_result {
    int ok;
    int resumed;
    int version;
    int tickets;
    SSL_SESSION *session;
};

/* One connection over a BIO pair in this thread: client with `sni` (NULL
 * none), `alpn_csv` offer (NULL none), max protocol `version`
 * (TLS1_2_VERSION or TLS1_3_VERSION), offering `session` (NULL: full
 * handshake); drives both ends to completion, exchanges one application
 * byte each way so TLS 1.3 tickets arrive, shuts down cleanly both ways,
 * and returns the client's newest session (SSL_get1_session; caller frees)
 * in res->session, with resumed/version/number of tickets the client
 * received. 0 on success. `session` is not consumed; an OpenSSL TLS 1.3
 * client uses a ticket once, so pass a SSL_SESSION_dup to reuse one.
 * `tickets` counts NewSessionTicket messages, so it also sees a TLS 1.2
 * ticket renewed on resumption (the client's new-session callback does not)
 * and an empty one (a TLS 1.2 server that promised a ticket but has no key
 * sends it empty: check SSL_SESSION_has_ticket). */
int tu_tls_connect(SSL_CTX *server, SSL_CTX *client, const char *sni, const char *alpn_csv,
                   int version, SSL_SESSION *session, struct tu_tls_result *res);

/* ---- Extensions of tu_tls_connect() ------------------------------------ */

typedef void (*tu_tls_ssl_fn)(SSL *ssl, void *arg);

struct tu_tls_opts {
    const char *sni;      /* NULL: none */
    const char *alpn_csv; /* NULL: no ALPN offered */
    int version;          /* max protocol version; 0: the library's */
    SSL_SESSION *session; /* offered, not consumed; NULL: full handshake */
    /* Called on the client SSL before the handshake starts (groups, ...). */
    tu_tls_ssl_fn client_setup;
    /* Called on the server SSL before the handshake starts. */
    tu_tls_ssl_fn server_setup;
    /* Called on the server SSL once the handshake has completed (and the
     * byte exchange is done), before shutdown: ticket origin, ALPN, ... */
    tu_tls_ssl_fn server_done;
    void *arg;
};

/* tu_tls_connect() with every option; opts->... as above. */
int tu_tls_connect_opts(SSL_CTX *server, SSL_CTX *client, const struct tu_tls_opts *opts,
                        struct tu_tls_result *res);

/* The pieces of tu_tls_connect(), for drivers that time the server alone
 * (tests/bench): both ends of a BIO pair driven in this thread. When a
 * *_ns pointer is non-NULL, the CLOCK_MONOTONIC nanoseconds spent in that
 * end's calls are added to it. 0, or -1 after printing OpenSSL's errors. */
int tu_tls_drive_handshake(SSL *c, SSL *s, uint64_t *server_ns);
/* One byte from `from` to `to`; reading it makes `to` process everything
 * sent before it (TLS 1.3 tickets arrive after the handshake). */
int tu_tls_send_byte(SSL *from, SSL *to, char byte, uint64_t *from_ns, uint64_t *to_ns);
/* close_notify both ways, so neither end frees a session it considers bad. */
int tu_tls_drive_shutdown(SSL *c, SSL *s, uint64_t *server_ns);
/* SSL msg callback counting NewSessionTicket messages into *(int *)arg: the
 * client's new-session callback misses a TLS 1.2 ticket renewed on
 * resumption. */
void tu_tls_count_tickets(int write_p, int version, int content_type, const void *buf,
                          size_t len, SSL *ssl, void *arg);

/* ---- Early data (TLS 1.3 0-RTT) ------------------------------------------
 * Client and server over memory BIOs, with the bytes moved between them by
 * the driver, so the client's first flight can be recorded and replayed. */

#define TU_EARLY_MAX 32768 /* early data a driver sends or keeps */

struct tu_tls_early_opts {
    const char *sni;      /* NULL: none */
    const char *alpn_csv; /* NULL: no ALPN offered */
    SSL_SESSION *session; /* offered (not consumed); must allow early data */
    const uint8_t *early; /* 1..TU_EARLY_MAX bytes the client writes with */
    size_t early_len;     /* SSL_write_early_data before the handshake */
    /* The server completes the handshake with SSL_do_handshake instead of
     * reading early data (an application that never calls
     * SSL_read_early_data). */
    int server_skips_early;
    int capture; /* record the client's first flight in res->flight */
    tu_tls_ssl_fn client_setup, server_setup, server_done; /* as tu_tls_opts */
    void *arg;
};

struct tu_tls_early_result {
    int ok;
    int resumed;       /* both ends resumed */
    int tickets;       /* NewSessionTicket messages the client read */
    int client_status; /* SSL_get_early_data_status() of each end */
    int server_status;
    uint8_t early[TU_EARLY_MAX]; /* what SSL_read_early_data returned */
    size_t early_len;
    /* Every byte the client sent before it was given anything to read
     * (ClientHello and early data records), malloc'd; when capture. */
    uint8_t *flight;
    size_t flight_len;
    SSL_SESSION *session; /* the client's newest (SSL_get1_session) */
};

/* One TLS 1.3 connection whose client writes opts->early as early data,
 * then both ends complete the handshake (the server reading early data with
 * SSL_read_early_data until it finishes), exchange a byte each way so the
 * tickets arrive, and shut down. 0 on success; free res with
 * tu_tls_early_result_free() either way. */
int tu_tls_connect_early(SSL_CTX *server, SSL_CTX *client, const struct tu_tls_early_opts *opts,
                         struct tu_tls_early_result *res);
void tu_tls_early_result_free(struct tu_tls_early_result *res);

struct tu_tls_replay_result {
    int early_status; /* the server's SSL_get_early_data_status() */
    size_t early_len; /* bytes of early data the server read */
    int resumed;      /* the server resumed the ticket */
    int completed;    /* the handshake completed (a replay cannot) */
    int failed;       /* the server failed with a fatal error */
};

/* An attacker's replay: a fresh server SSL on `server` is fed flight[0..len)
 * byte for byte (and nothing else), and reads early data until it has to
 * wait for the client's next flight, which never comes. 0 unless the
 * driver itself failed. */
int tu_tls_replay_flight(SSL_CTX *server, const uint8_t *flight, size_t len,
                         struct tu_tls_replay_result *res);

/* A copy of `s` whose session ticket is replaced by ticket[0..len) (the
 * client sends it as is), or NULL. For tampering tests: OpenSSL 3.0 has no
 * setter, so this re-encodes the session's DER. */
SSL_SESSION *tu_tls_session_with_ticket(SSL_SESSION *s, const uint8_t *ticket, size_t len);

/* ALPN "a,b" to wire format (length-prefixed names) into out; its length,
 * or 0 when it does not fit or a name is empty or longer than 255. */
size_t tu_tls_alpn_wire(const char *csv, uint8_t *out, size_t cap);

/* ---- Nodes (tls_node.c: libticketring + its OpenSSL glue) --------------- */

#ifdef TU_TLS_WITH_RING
#include <ticketring/openssl.h>

/* A server node: its own ring (OpenSSL backend) loaded from a key file, its
 * own fake clock (milliseconds since the epoch, read through tu_clock-style
 * pointer: change clock_ms to move time), a server ctx attached to the ring
 * under node id `id`. The struct must not move while the node lives. */
struct tu_node {
    char id[65];
    int64_t clock_ms;
    tr_ring *ring;
    SSL_CTX *ctx;
    tr_replay *replay; /* NULL unless the policy turns early data on */
};

/* Policy every node of a test gets (0 fields keep the library default). */
struct tu_node_policy {
    uint32_t lifetime;
    uint32_t skew;
    uint32_t max_age;
    /* Early data: the ring's maximum (0: off), checked against the node's
     * own replay cache of replay_capacity values (0: the default below),
     * window TU_NODE_REPLAY_WINDOW_MS, on the node's clock. The cache
     * refuses everything for its first window (start-up): move clock_ms
     * past it before expecting 0-RTT to be accepted. */
    uint32_t early_max;
    uint32_t replay_capacity;
};

#define TU_NODE_REPLAY_WINDOW_MS 20000u
#define TU_NODE_REPLAY_CAPACITY 1024u

/* The fake clock every node uses: arg points to an int64_t of milliseconds. */
int64_t tu_node_clock(void *arg);

/* TR_TEST_TICKET_CB=evp in the environment makes tr_openssl_attach() install
 * the EVP_MAC ticket callback instead of the HMAC_CTX one, so every glue
 * test runs through both interfaces (tests/openssl/meson.build). Called by
 * tu_node_init(); call it before attaching in tests that attach directly. */
void tu_ticket_cb_from_env(void);

/* Write a key file with one random key per activation time (seconds), in
 * a fresh private temp directory; returns the malloc'd path or NULL.
 * Remove it with tu_keyfile_free(). */
char *tu_keyfile_new(const int64_t *activations, size_t n);
void tu_keyfile_free(char *path);

/* Make node `n`: ring loaded from keyfile with the clock at now_ms and the
 * policy (NULL: defaults), server ctx from the identity with alpn_csv,
 * attached as node `id`. 0 on success. */
int tu_node_init(struct tu_node *n, const struct tu_tls_identity *ident, const char *keyfile,
                 const char *id, int64_t now_ms, const struct tu_node_policy *policy,
                 const char *alpn_csv);
/* Frees the ctx first (the attachment goes with it), then the ring. */
void tu_node_free(struct tu_node *n);

/* Set every node's clock to now_ms. */
void tu_nodes_set_clock(struct tu_node *nodes, size_t count, int64_t now_ms);

/* The ring's counters (size set), or all zero on failure. */
tr_stats tu_node_stats(const struct tu_node *n);

/* "name+N name+N" for every counter that differs between two snapshots,
 * in tr_stats order ("" when none moved), into out. */
void tu_stats_diff(const tr_stats *before, const tr_stats *after, char *out, size_t cap);

/* The counter named `name` (a tr_stats field name) of a snapshot; aborts on
 * an unknown name. */
uint64_t tu_stats_get(const tr_stats *st, const char *name);

/* A client and up to TU_CLUSTER_MAX nodes sharing one identity and one key
 * file: node i is named "node-a", "node-b", ... */
#define TU_CLUSTER_MAX 4
struct tu_cluster {
    struct tu_tls_identity ident;
    char *keyfile;
    SSL_CTX *client;
    size_t n;
    struct tu_node node[TU_CLUSTER_MAX];
    tr_stats mark[TU_CLUSTER_MAX];
    char moved[TU_CLUSTER_MAX][512];
};

/* n nodes on a fresh key file with one key per activations[i], every clock
 * at now_ms. The struct must not move while it lives. 0 on success. */
int tu_cluster_init(struct tu_cluster *c, size_t n, const int64_t *activations, size_t nkeys,
                    int64_t now_ms, const struct tu_node_policy *policy, const char *alpn_csv);
void tu_cluster_free(struct tu_cluster *c);
/* Snapshot every node's counters ... */
void tu_cluster_mark(struct tu_cluster *c);
/* ... and what moved on node i since (tu_stats_diff format). */
const char *tu_cluster_moved(struct tu_cluster *c, size_t i);
#endif

#endif
