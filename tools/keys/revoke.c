/* ticketring-keys revoke: the emergency when a key leaked. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "util.h"

static const char usage_revoke[] =
    "usage: " PROG " revoke FILE NAME\n"
#ifdef TRK_HAVE_ETCD
    "       " PROG " revoke NAME --store URL --kek KEKFILE --cluster ID (see --store --help)\n"
#endif
    "\n"
    "Mark the key named NAME (32 hex digits, as 'inspect' lists it) revoked in\n"
    "FILE: once the file reaches them, nodes neither encrypt nor decrypt with it\n"
    "(its tickets get full handshakes), and it stays listed so the revocation\n"
    "is not undone by a later copy. If it was the encrypt key, the previous key\n"
    "encrypts again: run 'rotate' (or 'generate') for a fresh one. Written\n"
    "atomically with the next serial.\n";

int trk_cmd_revoke(int argc, char **argv)
{
    struct trk_args a = {NULL, 0, {NULL}, 0, 0};
    uint8_t name[TR_KEY_NAME_BYTES];
    char fp[TR_FINGERPRINT_HEX + 1];
    tr_ring *ring = NULL;
    int rc;

#ifdef TRK_HAVE_ETCD
    /* revoke NAME --store URL ...: the same emergency through the store. */
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--store") == 0 || strncmp(argv[i], "--store=", 8) == 0)
            return trk_cmd_revoke_store(argc, argv);
#endif
    rc = trk_begin(argc, argv, &a, 2, usage_revoke, 2, "revoke: FILE and NAME are required");
    if (rc != TRK_GO_ON)
        return rc;
    if (trk_parse_key_name(a.pos[1], name) != 0)
        return trk_usage_error("revoke: NAME must be 32 lowercase hex digits", NULL);
    if (trk_new_ring(&ring) != 0)
        return 1;
    if (trk_load(ring, a.pos[0]) != 0) {
        tr_ring_free(ring);
        return 1;
    }
    rc = tr_ring_revoke_key(ring, name);
    if (rc == 0)
        rc = tr_ring_save(ring, a.pos[0]);
    if (rc == 0)
        rc = tr_ring_fingerprint(ring, fp, sizeof fp);
    tr_ring_free(ring);
    if (rc == TR_E_KEY_NOT_FOUND)
        return trk_fail(1, a.pos[0], ": no key named ", a.pos[1]);
    if (rc != 0)
        return trk_fail(1, a.pos[0], ": ", tr_strerror(rc));
    printf("%s: key %s revoked, fingerprint %s\n", a.pos[0], a.pos[1], fp);
    return 0;
}
