#include "ticketring/ticketring.h"

const char *tr_strerror(int code)
{
    switch (code) {
    case TR_OK: return "success";
    case TR_E_INVAL: return "invalid argument";
    case TR_E_NOMEM: return "out of memory";
    case TR_E_CRYPTO: return "crypto backend failure";
    case TR_E_IO: return "key file could not be read or written";
    case TR_E_BUFFER_TOO_SMALL: return "buffer too small";
    case TR_E_BACKEND: return "crypto backend missing or incompatible";
    case TR_E_KEYFILE_MODE: return "key file readable by group or others";
    case TR_E_KEY_ACTIVATION: return "key activation time too far in the future";
    case TR_E_KEYFILE_SYNTAX: return "key file malformed";
    case TR_E_KEYFILE_INTEGRITY: return "key file checksum mismatch (truncated or corrupted)";
    case TR_E_KEY_ZERO: return "all-zero key refused";
    case TR_E_KEY_DUPLICATE: return "repeated key name";
    case TR_E_TOO_MANY_KEYS: return "too many keys";
    case TR_E_KEY_NOT_FOUND: return "no such key";
    case TR_E_NO_ENCRYPT_KEY: return "no key can encrypt now";
    case TR_E_NO_FILE: return "no key file loaded";
    case TR_E_KEYFILE_CLUSTER: return "key file of another cluster";
    case TR_E_KEYFILE_ROLLBACK: return "key file older than the one loaded (serial)";
    case TR_E_TICKET_MALFORMED: return "ticket malformed";
    case TR_E_TICKET_UNKNOWN_KEY: return "ticket key unknown";
    case TR_E_TICKET_AUTH: return "ticket authentication failed";
    case TR_E_TICKET_EXPIRED: return "ticket expired";
    case TR_E_TICKET_FUTURE: return "ticket issued in the future";
    case TR_E_TICKET_SNI: return "ticket bound to another SNI";
    case TR_E_TICKET_ALPN: return "ticket bound to another ALPN";
    case TR_E_TICKET_CONTEXT: return "ticket bound to another application context";
    case TR_E_TICKET_UNBOUND: return "ticket carries no binding data";
    case TR_E_REPLAY: return "early data refused: ClientHello replayed";
    case TR_E_REPLAY_FULL: return "early data refused: replay cache full";
    case TR_E_REPLAY_STARTUP: return "early data refused: replay cache still in its start-up window";
    case TR_E_EARLY_OFF: return "early data refused: not enabled";
    case TR_E_EARLY_STALE: return "early data refused: ticket age outside the freshness window";
    case TR_E_EARLY_NODE: return "early data refused: ticket issued by another node or process";
    case TR_E_EARLY_SNI: return "early data refused: SNI differs from the ticket's";
    case TR_E_EARLY_ALPN: return "early data refused: ALPN differs from the ticket's";
    case TR_E_EARLY_TLS: return "early data refused by the TLS library";
    case TR_E_REPLAY_STORE: return "early data refused: replay store unavailable";
    case TR_E_STORE: return "key store unreachable or request refused";
    case TR_E_CONFLICT: return "key store document changed concurrently (compare-and-swap lost)";
    case TR_E_SEALED: return "sealed key-set document refused (tampered, other KEK or cluster)";
    case TR_E_TICKET_OTHER_FORMAT: return "ticket issued by a node of the other TLS backend";
    default: return "unknown error";
    }
}
