/* Command-line options of the example servers (the same for every backend). */
#ifndef SERVER_FLAGS_H
#define SERVER_FLAGS_H

#include <stdint.h>

#define NODE_ID_MAX 64 /* tr_openssl_attach() and tr_mbedtls_attach() take at most 64 bytes */

struct flags {
    const char *listen;  /* HOST:PORT, [V6]:PORT; port 0 picks a free one */
    const char *cert;    /* PEM certificate chain */
    const char *key;     /* PEM private key */
    const char *keys;    /* libticketring key file; NULL: the TLS library's own tickets */
    const char *keys_source; /* etcd://HOST:PORT/PREFIX: the key schedule's store */
    const char *kek;         /* the key-encryption key file of the sealed schedule */
    const char *cluster;     /* the cluster id to follow (else --keys names it) */
    uint32_t keys_heartbeat_s; /* heartbeat lease TTL in the store; 0: the default */
    const char *alpn;    /* comma-separated, in order of preference */
    char node_id[NODE_ID_MAX + 1];
    uint32_t lifetime;     /* ticket lifetime in seconds; 0: the default */
    uint32_t threads;      /* event-loop threads */
    uint32_t max_conns;    /* open connections, all threads together */
    uint32_t idle_timeout; /* seconds without progress before a close */
    uint32_t early_data;   /* TLS 1.3 early data accepted per connection; 0: off */
    uint32_t replay_capacity;  /* ClientHellos the replay cache holds at least */
    uint32_t replay_window_ms; /* how long it remembers one */
    /* A cluster-wide replay store (redis://...; NULL: node-bound 0-RTT) and
     * its password and fleet-wide hash key files. */
    const char *replay_store;
    const char *replay_store_password;
    const char *replay_store_key;
    uint32_t replay_skew_ms;         /* the most two nodes' clocks differ */
    uint32_t replay_store_budget_ms; /* the most one store check may take */
};

#define FLAGS_OK 0
#define FLAGS_HELP 1  /* --help was printed: exit 0 */
#define FLAGS_USAGE 2 /* a usage error was printed: exit 2 */

/* Fill *f from argv (defaults for what is not given). Prints --help to
 * stdout and usage errors to stderr. */
int flags_parse(struct flags *f, int argc, char **argv);

#endif
