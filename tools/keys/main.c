/*
 * ticketring-keys: the operator's tool for libticketring key files.
 *
 * A user of the public API only (it links the installed shared libraries),
 * so it doubles as a check that the API is enough to manage keys. It never
 * prints key material: names are public (they travel in every ticket),
 * secrets stay in the files.
 *
 * Exit status: 0 success, 1 failure (one line on stderr), 2 usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

static const char usage_main[] =
    "usage: " PROG " COMMAND [OPTIONS]\n"
    "\n"
    "Manage libticketring key files (docs/key-file-format.md).\n"
    "\n"
    "commands:\n"
    "  generate --out FILE [--count N] [--period SECONDS] [--start UNIX] [--cluster ID]\n"
    "           [--force]\n"
    "                 write N new random keys with staggered activation times\n"
    "  inspect FILE [--now UNIX] [--lifetime S] [--skew S]\n"
    "                 list the keys (name, activation, role) and the fingerprint\n"
    "  verify FILE    exit 0 only if FILE is a valid key file\n"
    "  fingerprint FILE\n"
    "                 print the key set's fingerprint, as the library reports it\n"
    "  rotate FILE --period SECONDS --lifetime SECONDS [--skew S] [--now UNIX]\n"
    "                 add the next key one period ahead, drop retired keys (cron-safe)\n"
    "  check FILE --lifetime SECONDS --skew SECONDS [--horizon S] [--period S] [--now UNIX]\n"
    "                 prove every ticket issued over the horizon stays decryptable\n"
    "  import --from nginx|haproxy IN... --out FILE [--activation UNIX] [--force]\n"
    "                 make a key file from nginx or HAProxy ticket key files\n"
    "  export --to nginx|haproxy FILE --out OUT [--now UNIX] [--lifetime S] [--skew S]\n"
    "                 write FILE's usable keys for nginx or HAProxy\n"
    "  revoke FILE NAME\n"
    "                 mark a leaked key revoked: no node encrypts or decrypts with it\n"
#ifdef TRK_HAVE_ETCD
    "  kek --out FILE --id ID\n"
    "                 write a new key-encryption key for sealed key-set documents\n"
    "  publish FILE --store URL --kek KEKFILE\n"
    "                 seal FILE into the key store (etcd://host:port/prefix)\n"
    "  status --store URL --cluster ID [--kek KEKFILE]\n"
    "                 each node's fingerprint, serial and sync age, from its heartbeat\n"
    "  daemon --store URL --kek KEKFILE --cluster ID --period S --lifetime S\n"
    "                 rotate the keys in the store in two phases (run two for availability)\n"
    "  revoke NAME --store URL --kek KEKFILE --cluster ID\n"
    "                 revoke a leaked key in the store\n"
#endif
    "\n"
    "Run '" PROG " COMMAND --help' for a command's options.\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    {"generate", trk_cmd_generate},       {"inspect", trk_cmd_inspect},
    {"verify", trk_cmd_verify},           {"fingerprint", trk_cmd_fingerprint},
    {"rotate", trk_cmd_rotate},           {"check", trk_cmd_check},
    {"import", trk_cmd_import},           {"export", trk_cmd_export},
    {"revoke", trk_cmd_revoke},
#ifdef TRK_HAVE_ETCD
    {"kek", trk_cmd_kek},                 {"publish", trk_cmd_publish},
    {"status", trk_cmd_status},           {"daemon", trk_cmd_daemon},
#endif
};

static int run(int argc, char **argv)
{
    const char *cmd;

    if (argc < 2)
        return trk_usage_error("missing command", NULL);
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].fn(argc - 2, argv + 2);
    return trk_usage_error("unknown command ", cmd);
}

int main(int argc, char **argv)
{
    int status = run(argc, argv);
    /* Output that did not reach its destination (a full disk, a closed
     * pipe) is a failure too. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s: cannot write the output: %s\n", PROG, strerror(errno));
        if (status == 0)
            status = 1;
    }
    return status;
}
