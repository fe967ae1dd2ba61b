"""ticketring: libticketring (cluster-safe TLS session ticket keys) from
Python, through the standard library's ctypes only.

    import ticketring
    with ticketring.Ring("/etc/ticketring/keys") as ring:
        ticket = ring.seal(state, sni="www.example.com", alpn="h2")
        opened = ring.open(ticket, sni="www.example.com", alpn="h2")
        opened.state == state

The libraries are found through TICKETRING_LIBDIR (directories, searched
in order), else the system's library path; ticketring.load(libdir) picks
them explicitly. See README.md.
"""

from . import errors
from ._lib import LIBDIR_ENV, Library, library, load
from .errors import *  # noqa: F401,F403  (the exception classes)
from .replay import ReplayCache
from .ring import (ACTIVATION_PENDING, EXHAUSTED_KEEP, EXHAUSTED_STOP, FILE_MODE_IGNORE,
                   FILE_MODE_REFUSE, FILE_MODE_WARN, KEY_DECRYPT, KEY_ENCRYPT, KEY_PENDING,
                   KEY_RETIRED, KEY_REVOKED, LOG_DEBUG, LOG_ERROR, LOG_INFO, LOG_WARN,
                   TICKET_RENEW, KeyInfo, Opened, Ring)


def version():
    """The loaded library's version as (major, minor, patch)."""
    return library().version


def version_string():
    return library().version_string


def sizes():
    """The loaded library's sizes (each from its size function)."""
    lib = library()
    return {
        "key_bytes": lib.key_bytes,
        "key_name_bytes": lib.key_name_bytes,
        "ring_max_keys": lib.tr_ring_max_keys(),
        "fingerprint_hex": lib.fingerprint_hex,
        "ticket_max_state": lib.ticket_max_state,
        "ticket_overhead": lib.ticket_overhead,
        "ticket_max_bytes": lib.ticket_max_bytes,
        "cluster_id_max": lib.cluster_id_max,
        "replay_max_capacity": lib.tr_replay_max_capacity(),
        "replay_value_max": lib.tr_replay_value_max(),
    }


def strerror(code):
    """The library's text for a TR_E_* code."""
    return library().strerror(code)
