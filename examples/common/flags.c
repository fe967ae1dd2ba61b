/* Command-line parsing: "--name value" and "--name=value". */
#define _GNU_SOURCE

#include "flags.h"

#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The help, around the program's and the TLS library's names. */
static const char usage_top[] =
    "\n"
    "A small HTTPS/1.1 server whose TLS session tickets every node sharing a\n"
    "libticketring key file can resume. GET / describes the connection,\n"
    "GET /ready answers 200 once a key file has loaded and a key may encrypt\n"
    "(503 until then; always 200 without --keys), GET /metrics is Prometheus\n"
    "text.\n"
    "\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8443; port 0\n"
    "                       picks a free port; IPv6 as [::1]:PORT)\n"
    "  --cert FILE          PEM certificate chain (required)\n"
    "  --key FILE           PEM private key (required)\n"
    "  --keys KEYFILE       share ticket keys through this libticketring key file,\n"
    "                       reloaded when it changes; missing or refused at start,\n"
    "                       it is tried again whenever it changes, with full\n"
    "                       handshakes until it loads; without --keys, the TLS\n";
static const char usage_source[] =
    "  --keys-source URL    follow the key schedule in etcd instead of watching\n"
    "                       --keys (etcd://HOST:PORT/PREFIX; docs/etcd.md): a\n"
    "                       sealed document every node reads; --keys is then the\n"
    "                       copy to start from while etcd cannot be reached\n"
    "  --kek FILE           the key-encryption key file opening that document\n"
    "                       (mode 0600); with --keys-source\n"
    "  --cluster ID         the cluster to follow, when --keys does not name it;\n"
    "                       with --keys-source\n"
    "  --keys-heartbeat S   this node's heartbeat lease in etcd, 2..3600 seconds\n"
    "                       (default 10): a node silent that long no longer holds\n"
    "                       a rotation back; with --keys-source\n";
static const char usage_rest[] =
    "  --node-id NAME       this node's name in tickets and answers, 1..64 of\n"
    "                       A-Z a-z 0-9 . _ : - (default: the host name)\n"
    "  --alpn LIST          comma-separated ALPN protocols to select, in order of\n"
    "                       preference (default http/1.1; the server always\n"
    "                       speaks HTTP/1.1)\n"
    "  --lifetime S         ticket lifetime in seconds, 1..604800 (default 7200)\n"
    "  --threads N          event-loop threads, 1..64 (default 2)\n"
    "  --max-conns N        open connections at most, 1..1000000 (default 1024)\n"
    "  --idle-timeout S     close a connection idle this long, 1..3600 (default 30)\n"
    "  --early-data[=BYTES] accept TLS 1.3 early data (0-RTT), at most BYTES per\n"
    "                       connection, 1..16777216 (default 16384); needs --keys.\n"
    "                       Only requests safe to replay use it: a request that\n"
    "                       arrived in early data is served for GET and HEAD and\n"
    "                       answered 425 Too Early otherwise (RFC 8470), before\n"
    "                       the handshake completes when it arrived whole\n"
    "  --replay-capacity N  ClientHellos the replay cache holds at least,\n"
    "                       1..16777216 (default 65536); with --early-data\n"
    "  --replay-window-ms MS  how long the replay cache remembers a ClientHello,\n"
    "                       1000..3600000 (default 20000); without a replay store\n"
    "                       early data is refused for this long after start; it\n"
    "                       is accepted only when the client's ticket age puts\n"
    "                       the ClientHello within one window of its expected\n"
    "                       arrival (docs/early-data.md); with --early-data\n"
    "  --replay-store URL   redis://HOST[:PORT][/DB]: a replay store every node\n"
    "                       asks, so 0-RTT is accepted on any node (not only the\n"
    "                       one that issued the ticket); with --early-data and\n"
    "                       --replay-store-key. A store that cannot answer in\n"
    "                       time refuses the early data (1-RTT resumption)\n"
    "  --replay-store-password FILE  the store's password (mode 0600)\n"
    "  --replay-store-key FILE  the fleet-wide key (16..1024 bytes, mode 0600, the\n"
    "                       same on every node) hashing ClientHellos into store keys\n"
    "  --replay-skew-ms MS  the most two nodes' clocks differ, 0..60000 (default\n"
    "                       1000); with --replay-store\n"
    "  --replay-store-budget-ms MS  the most one store check may take, 1..10000\n"
    "                       (default 5); with --replay-store\n"
    "  --help               show this help\n"
    "\n"
    "Once it listens it prints \"listening on HOST:PORT node NAME\" on stdout.\n"
    "SIGTERM or SIGINT stop it (exit status 0).\n";


static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "%s: %s%s (try '%s --help')\n", backend.program, what,
            arg != NULL ? arg : "", backend.program);
    return FLAGS_USAGE;
}

static int parse_u32(const char *name, const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return usage_error("expected a decimal number for ", name);
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return usage_error("value out of range for ", name);
    *out = (uint32_t)v;
    return FLAGS_OK;
}

/* Node ids become metric label values and log text: keep them plain. */
static int valid_node_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NODE_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

static void default_node_id(char *out)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    host[NODE_ID_MAX] = '\0';
    snprintf(out, NODE_ID_MAX + 1, "%s", valid_node_id(host) ? host : "node");
}

/* Defaults of the 0-RTT options: 16 KiB (one TLS record) holds any
 * request head this server takes; a 20 s window covers OpenSSL's own 10 s
 * ticket-age allowance and clients' whole-second ticket ages. */
#define EARLY_DATA_DEFAULT 16384
#define EARLY_DATA_MAX 16777216
#define REPLAY_CAPACITY_DEFAULT 65536
#define REPLAY_CAPACITY_MAX 16777216
#define REPLAY_WINDOW_DEFAULT 20000
#define REPLAY_SKEW_DEFAULT 1000
#define REPLAY_STORE_BUDGET_DEFAULT 5

enum opt_id { O_LISTEN, O_CERT, O_KEY, O_KEYS, O_NODE, O_ALPN, O_LIFETIME, O_THREADS,
              O_MAXCONNS, O_IDLE, O_EARLY, O_REPLAY_CAP, O_REPLAY_WINDOW, O_STORE,
              O_STORE_PASSWORD, O_STORE_KEY, O_STORE_SKEW, O_STORE_BUDGET, O_SOURCE, O_KEK,
              O_CLUSTER, O_HEARTBEAT, O_HELP, O_COUNT };

static const char *const opt_names[O_COUNT] = {
    "--listen", "--cert", "--key", "--keys", "--node-id", "--alpn", "--lifetime",
    "--threads", "--max-conns", "--idle-timeout", "--early-data", "--replay-capacity",
    "--replay-window-ms", "--replay-store", "--replay-store-password", "--replay-store-key",
    "--replay-skew-ms", "--replay-store-budget-ms", "--keys-source", "--kek", "--cluster",
    "--keys-heartbeat", "--help",
};

/* The 0-RTT options: refused as a whole by a backend without early data. */
static int is_early_option(int id)
{
    return id == O_EARLY || id == O_REPLAY_CAP || id == O_REPLAY_WINDOW || id == O_STORE ||
           id == O_STORE_PASSWORD || id == O_STORE_KEY || id == O_STORE_SKEW ||
           id == O_STORE_BUDGET;
}

static int set_option(struct flags *f, enum opt_id id, const char *v)
{
    const char *name = opt_names[id];
    switch (id) {
    case O_LISTEN: f->listen = v; return FLAGS_OK;
    case O_CERT: f->cert = v; return FLAGS_OK;
    case O_KEY: f->key = v; return FLAGS_OK;
    case O_KEYS: f->keys = v; return FLAGS_OK;
    case O_ALPN: f->alpn = v; return FLAGS_OK;
    case O_NODE:
        if (!valid_node_id(v))
            return usage_error("--node-id must be 1..64 of A-Z a-z 0-9 . _ : -, not ", v);
        snprintf(f->node_id, sizeof f->node_id, "%s", v);
        return FLAGS_OK;
    case O_LIFETIME: return parse_u32(name, v, 1, 604800, &f->lifetime);
    case O_THREADS: return parse_u32(name, v, 1, 64, &f->threads);
    case O_MAXCONNS: return parse_u32(name, v, 1, 1000000, &f->max_conns);
    case O_IDLE: return parse_u32(name, v, 1, 3600, &f->idle_timeout);
    case O_EARLY:
        if (v == NULL) {
            f->early_data = EARLY_DATA_DEFAULT;
            return FLAGS_OK;
        }
        return parse_u32(name, v, 1, EARLY_DATA_MAX, &f->early_data);
    case O_REPLAY_CAP: return parse_u32(name, v, 1, REPLAY_CAPACITY_MAX, &f->replay_capacity);
    case O_REPLAY_WINDOW: return parse_u32(name, v, 1000, 3600000, &f->replay_window_ms);
    case O_STORE: f->replay_store = v; return FLAGS_OK;
    case O_SOURCE: f->keys_source = v; return FLAGS_OK;
    case O_KEK: f->kek = v; return FLAGS_OK;
    case O_CLUSTER: f->cluster = v; return FLAGS_OK;
    case O_HEARTBEAT: return parse_u32(name, v, 2, 3600, &f->keys_heartbeat_s);
    case O_STORE_PASSWORD: f->replay_store_password = v; return FLAGS_OK;
    case O_STORE_KEY: f->replay_store_key = v; return FLAGS_OK;
    case O_STORE_SKEW: return parse_u32(name, v, 0, 60000, &f->replay_skew_ms);
    case O_STORE_BUDGET: return parse_u32(name, v, 1, 10000, &f->replay_store_budget_ms);
    case O_HELP:
    case O_COUNT:
    default:
        return usage_error("internal error at ", name);
    }
}

int flags_parse(struct flags *f, int argc, char **argv)
{
    memset(f, 0, sizeof *f);
    f->listen = "127.0.0.1:8443";
    f->alpn = "http/1.1";
    f->threads = 2;
    f->max_conns = 1024;
    f->idle_timeout = 30;
    f->replay_capacity = REPLAY_CAPACITY_DEFAULT;
    f->replay_window_ms = REPLAY_WINDOW_DEFAULT;
    f->replay_skew_ms = REPLAY_SKEW_DEFAULT;
    f->replay_store_budget_ms = REPLAY_STORE_BUDGET_DEFAULT;
    default_node_id(f->node_id);

    unsigned seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
        int id = -1;
        for (int k = 0; k < O_COUNT; k++) {
            if (strlen(opt_names[k]) == name_len && strncmp(arg, opt_names[k], name_len) == 0)
                id = k;
        }
        if (id < 0)
            return usage_error(arg[0] == '-' ? "unknown option " : "unexpected argument ", arg);
        if (id == O_HELP) {
            printf("usage: %s --cert FILE --key FILE [OPTIONS]\n", backend.program);
            fputs(usage_top, stdout);
            printf("                       library's own per-process ticket keys (%s's)\n",
                   backend.library);
            fputs(usage_source, stdout);
            fputs(usage_rest, stdout);
            /* Shown, then refused: the same flags for every backend. */
            if (backend.no_early_data != NULL)
                printf("\nWith %s, --early-data and the --replay-* options are refused:\n"
                       "%s.\n", backend.library, backend.no_early_data);
            return FLAGS_HELP;
        }
        /* Refused, not ignored: a node that silently did no 0-RTT would
         * look like a bug in the fleet. */
        if (is_early_option(id) && backend.no_early_data != NULL) {
            fprintf(stderr, "%s: %.*s is not available: %s (try '%s --help')\n",
                    backend.program, (int)name_len, arg, backend.no_early_data,
                    backend.program);
            return FLAGS_USAGE;
        }
        if (seen & (1u << id))
            return usage_error("repeated option ", opt_names[id]);
        seen |= 1u << id;
        const char *value;
        if (id == O_EARLY) {
            /* Its value is optional, so it is given only as --early-data=BYTES:
             * the next argument is never taken for it. */
            value = eq != NULL ? eq + 1 : NULL;
        } else {
            value = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (value == NULL)
                return usage_error("missing value for ", opt_names[id]);
        }
        int rc = set_option(f, (enum opt_id)id, value);
        if (rc != FLAGS_OK)
            return rc;
    }
    if (f->cert == NULL || f->key == NULL)
        return usage_error("--cert FILE and --key FILE are required", NULL);
    /* The replay protection is the ring's: OpenSSL's own tickets would
     * make 0-RTT single-use entries of this process's session cache. */
    if ((seen & (1u << O_EARLY)) && f->keys == NULL && f->keys_source == NULL)
        return usage_error("--early-data needs --keys or --keys-source", NULL);
    if ((seen & (1u << O_KEK)) && f->keys_source == NULL)
        return usage_error("--kek needs --keys-source", NULL);
    if ((seen & (1u << O_CLUSTER)) && f->keys_source == NULL)
        return usage_error("--cluster needs --keys-source", NULL);
    if ((seen & (1u << O_HEARTBEAT)) && f->keys_source == NULL)
        return usage_error("--keys-heartbeat needs --keys-source", NULL);
    if (!(seen & (1u << O_EARLY)) && (seen & (1u << O_REPLAY_CAP)))
        return usage_error("--replay-capacity needs --early-data", NULL);
    if (!(seen & (1u << O_EARLY)) && (seen & (1u << O_REPLAY_WINDOW)))
        return usage_error("--replay-window-ms needs --early-data", NULL);
    if (!(seen & (1u << O_EARLY)) && (seen & (1u << O_STORE)))
        return usage_error("--replay-store needs --early-data", NULL);
    if ((seen & (1u << O_STORE)) && !(seen & (1u << O_STORE_KEY)))
        return usage_error("--replay-store needs --replay-store-key", NULL);
    for (int k = O_STORE_PASSWORD; k <= O_STORE_BUDGET; k++)
        if ((seen & (1u << k)) && !(seen & (1u << O_STORE)))
            return usage_error("this option needs --replay-store: ", opt_names[k]);
    return FLAGS_OK;
}
