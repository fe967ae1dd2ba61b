"""Exceptions: one class per TR_E_* code, grouped by what the caller does.

The numbers are libticketring's, fixed forever (docs/ABI.md), so they are
written here; the text of each comes from the loaded library's
tr_strerror(). A code this binding does not know (a newer library) raises
the base class TicketringError, still with its code and text.
"""


class TicketringError(Exception):
    """A libticketring call failed. `code` is the TR_E_* number (None for
    errors of the binding itself), `name` its macro name and `reason`
    the library's tr_strerror() text."""

    code = None
    name = None

    def __init__(self, message, code=None, reason=None):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.reason = reason if reason is not None else message


class LibraryError(TicketringError, OSError):
    """libticketring or a backend library could not be found or loaded."""


class ClosedError(TicketringError, ValueError):
    """The object was closed (or is being closed): its C handle is gone."""


class CallbackError(TicketringError, RuntimeError):
    """A call that is not allowed from inside a libticketring callback."""


# ---- by TR_E_* code --------------------------------------------------------

class InvalidArgument(TicketringError, ValueError):
    """TR_E_INVAL: a bad argument or setting value."""


class OutOfMemory(TicketringError, MemoryError):
    """TR_E_NOMEM."""


class CryptoFailure(TicketringError):
    """TR_E_CRYPTO: the crypto backend failed."""


class FileAccessError(TicketringError, OSError):
    """TR_E_IO: a file could not be read or written."""


class BufferTooSmall(TicketringError):
    """TR_E_BUFFER_TOO_SMALL (the binding sizes every buffer itself: seeing
    this is a bug)."""


class BackendError(TicketringError):
    """TR_E_BACKEND: the crypto backend is missing or of another ABI."""


class KeyRefused(TicketringError):
    """A key could not be added, found or used."""


class KeyActivation(KeyRefused):
    """TR_E_KEY_ACTIVATION: activation beyond the allowed horizon."""


class KeyZero(KeyRefused):
    """TR_E_KEY_ZERO: an all-zero key or name."""


class KeyDuplicate(KeyRefused):
    """TR_E_KEY_DUPLICATE: a key with that name is already held."""


class TooManyKeys(KeyRefused):
    """TR_E_TOO_MANY_KEYS."""


class KeyNotFound(KeyRefused):
    """TR_E_KEY_NOT_FOUND."""


class NoEncryptKey(TicketringError):
    """TR_E_NO_ENCRYPT_KEY: no key may encrypt now; issue no ticket (the
    client does a full handshake next time)."""


class KeyFileError(TicketringError):
    """A key file was refused; the ring keeps the keys it had. `line` is
    the 1-based line at fault, 0 when the fault is not on one line."""

    line = 0


class KeyFileMode(KeyFileError):
    """TR_E_KEYFILE_MODE: readable by group or others, and policy refuses."""


class KeyFileSyntax(KeyFileError):
    """TR_E_KEYFILE_SYNTAX: malformed (see `line`)."""


class KeyFileIntegrity(KeyFileError):
    """TR_E_KEYFILE_INTEGRITY: checksum wrong or missing."""


class NoKeyFile(KeyFileError):
    """TR_E_NO_FILE: reload without a previous load."""


class KeyFileCluster(KeyFileError):
    """TR_E_KEYFILE_CLUSTER: a key file of another cluster."""


class KeyFileRollback(KeyFileError):
    """TR_E_KEYFILE_ROLLBACK: older (serial) than the one loaded."""


class TicketRefused(TicketringError):
    """A ticket was refused: resume nothing, do a full handshake."""


class TicketMalformed(TicketRefused):
    """TR_E_TICKET_MALFORMED: wrong version, length or layout."""


class TicketUnknownKey(TicketRefused):
    """TR_E_TICKET_UNKNOWN_KEY: sealed with a key not held (or retired, or
    revoked)."""


class TicketAuth(TicketRefused):
    """TR_E_TICKET_AUTH: authentication failed (tampered or forged)."""


class TicketExpired(TicketRefused):
    """TR_E_TICKET_EXPIRED: older than its lifetime or the max age."""


class TicketFuture(TicketRefused):
    """TR_E_TICKET_FUTURE: issued later than now + the allowed skew."""


class TicketSNI(TicketRefused):
    """TR_E_TICKET_SNI: bound to another SNI."""


class TicketALPN(TicketRefused):
    """TR_E_TICKET_ALPN: bound to another ALPN protocol."""


class TicketContext(TicketRefused):
    """TR_E_TICKET_CONTEXT: bound to another application context."""


class TicketUnbound(TicketRefused):
    """TR_E_TICKET_UNBOUND: no binding data, and the policy refuses that."""


class EarlyDataRefused(TicketringError):
    """Early data (0-RTT) refused; the resumption itself goes on (1-RTT)."""


class Replayed(EarlyDataRefused):
    """TR_E_REPLAY: this value was seen within the replay window."""


class ReplayCacheFull(EarlyDataRefused):
    """TR_E_REPLAY_FULL: no room in the replay cache (nothing recorded)."""


class ReplayStartup(EarlyDataRefused):
    """TR_E_REPLAY_STARTUP: the cache is younger than its window (the
    value was recorded all the same)."""


class EarlyDataOff(EarlyDataRefused):
    """TR_E_EARLY_OFF: early data is not enabled on the ring."""


class EarlyDataStale(EarlyDataRefused):
    """TR_E_EARLY_STALE: the client's ticket age is outside the window."""


class EarlyDataNode(EarlyDataRefused):
    """TR_E_EARLY_NODE: the ticket was issued by another node or process."""


class EarlyDataSNI(EarlyDataRefused):
    """TR_E_EARLY_SNI: SNI differs from the ticket's."""


class EarlyDataALPN(EarlyDataRefused):
    """TR_E_EARLY_ALPN: ALPN differs from the ticket's."""


class EarlyDataTLS(EarlyDataRefused):
    """TR_E_EARLY_TLS: the TLS library refused it before the policy ran."""


class ReplayStoreUnavailable(EarlyDataRefused):
    """TR_E_REPLAY_STORE: the cluster replay store could not answer in time."""


class TicketOtherFormat(TicketRefused):
    """TR_E_TICKET_OTHER_FORMAT: a ticket of this cluster in the other TLS
    backend's format (a mixed OpenSSL and mbedTLS fleet)."""


class KeyStoreError(TicketringError):
    """TR_E_STORE: the key store could not be reached or refused the request."""


class KeyStoreConflict(KeyStoreError):
    """TR_E_CONFLICT: a compare-and-swap lost; re-read and try again."""


class SealedDocumentRefused(TicketringError):
    """TR_E_SEALED: a sealed key-set document did not open (tampered, or
    sealed under another key-encryption key or for another cluster)."""


#: TR_E_* number -> (macro name, class).
CODES = {
    -1: ("TR_E_INVAL", InvalidArgument),
    -2: ("TR_E_NOMEM", OutOfMemory),
    -3: ("TR_E_CRYPTO", CryptoFailure),
    -4: ("TR_E_IO", FileAccessError),
    -5: ("TR_E_BUFFER_TOO_SMALL", BufferTooSmall),
    -6: ("TR_E_BACKEND", BackendError),
    -7: ("TR_E_KEYFILE_MODE", KeyFileMode),
    -8: ("TR_E_KEY_ACTIVATION", KeyActivation),
    -10: ("TR_E_KEYFILE_SYNTAX", KeyFileSyntax),
    -11: ("TR_E_KEYFILE_INTEGRITY", KeyFileIntegrity),
    -12: ("TR_E_KEY_ZERO", KeyZero),
    -13: ("TR_E_KEY_DUPLICATE", KeyDuplicate),
    -14: ("TR_E_TOO_MANY_KEYS", TooManyKeys),
    -15: ("TR_E_KEY_NOT_FOUND", KeyNotFound),
    -16: ("TR_E_NO_ENCRYPT_KEY", NoEncryptKey),
    -17: ("TR_E_NO_FILE", NoKeyFile),
    -18: ("TR_E_KEYFILE_CLUSTER", KeyFileCluster),
    -19: ("TR_E_KEYFILE_ROLLBACK", KeyFileRollback),
    -20: ("TR_E_TICKET_MALFORMED", TicketMalformed),
    -21: ("TR_E_TICKET_UNKNOWN_KEY", TicketUnknownKey),
    -22: ("TR_E_TICKET_AUTH", TicketAuth),
    -23: ("TR_E_TICKET_EXPIRED", TicketExpired),
    -24: ("TR_E_TICKET_FUTURE", TicketFuture),
    -25: ("TR_E_TICKET_SNI", TicketSNI),
    -26: ("TR_E_TICKET_ALPN", TicketALPN),
    -27: ("TR_E_TICKET_CONTEXT", TicketContext),
    -28: ("TR_E_TICKET_UNBOUND", TicketUnbound),
    -29: ("TR_E_REPLAY", Replayed),
    -30: ("TR_E_REPLAY_FULL", ReplayCacheFull),
    -31: ("TR_E_REPLAY_STARTUP", ReplayStartup),
    -32: ("TR_E_EARLY_OFF", EarlyDataOff),
    -33: ("TR_E_EARLY_STALE", EarlyDataStale),
    -34: ("TR_E_EARLY_NODE", EarlyDataNode),
    -35: ("TR_E_EARLY_SNI", EarlyDataSNI),
    -36: ("TR_E_EARLY_ALPN", EarlyDataALPN),
    -37: ("TR_E_EARLY_TLS", EarlyDataTLS),
    -38: ("TR_E_REPLAY_STORE", ReplayStoreUnavailable),
    -39: ("TR_E_STORE", KeyStoreError),
    -40: ("TR_E_CONFLICT", KeyStoreConflict),
    -41: ("TR_E_SEALED", SealedDocumentRefused),
    -42: ("TR_E_TICKET_OTHER_FORMAT", TicketOtherFormat),
}

for _code, (_name, _cls) in CODES.items():
    _cls.code, _cls.name = _code, _name
del _code, _name, _cls


def from_code(code, reason, line=None):
    """The exception for TR_E_* `code` with the library's text `reason`."""
    name, cls = CODES.get(code, (None, TicketringError))
    label = name if name is not None else "TR_E_?"
    e = cls("%s (%s, %d)" % (reason, label, code), code, reason)
    if line is not None and isinstance(e, KeyFileError):
        e.line = line
        if line:
            e.args = ("%s, line %d" % (e.args[0], line),)
    return e
