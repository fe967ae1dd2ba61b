"""Loading libticketring and its backend libraries, and their prototypes.

Every function the binding calls is declared here with its exact C types:
ctypes otherwise passes and returns C ints, which truncates pointers,
size_t and int64_t on 64-bit platforms.
"""

import ctypes
import ctypes.util
import os
import sys
import threading

from . import errors

#: Environment variable naming the directories (os.pathsep-separated,
#: searched in order) that hold libticketring and its backend libraries.
#: When it is set, nothing else is searched: a test run against a build
#: tree must not pick up an installed copy by accident.
LIBDIR_ENV = "TICKETRING_LIBDIR"

#: The soname major this binding is written for (docs/ABI.md): another
#: major has another ABI and is never loaded.
SOVERSION = 1

#: The oldest library this binding works with: 0.3.0 added the statistics
#: accessors (tr_stats_count ...) it reads the statistics through.
MIN_VERSION = (0, 3, 0)

_i32, _u32, _i64, _u64 = ctypes.c_int32, ctypes.c_uint32, ctypes.c_int64, ctypes.c_uint64
_int, _size, _vp, _cp = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_char_p
_p_u32, _p_i32 = ctypes.POINTER(_u32), ctypes.POINTER(_i32)
_p_i64, _p_u64 = ctypes.POINTER(_i64), ctypes.POINTER(_u64)
_p_size = ctypes.POINTER(_size)

# Callback types (include/ticketring/ticketring.h, "Injectable services").
CLOCK_FN = ctypes.CFUNCTYPE(_i64, _vp)
RANDOM_FN = ctypes.CFUNCTYPE(_int, ctypes.POINTER(ctypes.c_uint8), _size, _vp)
LOG_FN = ctypes.CFUNCTYPE(None, _i32, _cp, _vp)

# name: (restype, argtypes). Byte strings go in as c_char_p (bytes, or a
# ctypes char buffer for output); opaque handles as c_void_p.
_CORE = {
    "tr_version": (_u32, []),
    "tr_version_string": (_cp, []),
    "tr_strerror": (_cp, [_int]),
    "tr_key_bytes": (_size, []),
    "tr_key_name_bytes": (_size, []),
    "tr_ring_max_keys": (_size, []),
    "tr_fingerprint_hex": (_size, []),
    "tr_ticket_max_state": (_size, []),
    "tr_ticket_overhead": (_size, []),
    "tr_ticket_max_bytes": (_size, []),
    "tr_cluster_id_max": (_size, []),
    "tr_replay_max_capacity": (_size, []),
    "tr_replay_value_max": (_size, []),
    "tr_ring_new": (_int, [ctypes.POINTER(_vp), _vp]),
    "tr_ring_free": (None, [_vp]),
    "tr_ring_set_clock": (_int, [_vp, CLOCK_FN, _vp]),
    "tr_ring_set_random": (_int, [_vp, RANDOM_FN, _vp]),
    "tr_ring_set_log": (_int, [_vp, LOG_FN, _vp]),
    "tr_ring_set_lifetime": (_int, [_vp, _u32]),
    "tr_ring_set_skew": (_int, [_vp, _u32]),
    "tr_ring_set_bind_sni": (_int, [_vp, _i32]),
    "tr_ring_set_bind_alpn": (_int, [_vp, _i32]),
    "tr_ring_set_max_age": (_int, [_vp, _u32]),
    "tr_ring_set_rotation_period": (_int, [_vp, _u32]),
    "tr_ring_set_exhausted_policy": (_int, [_vp, _i32]),
    "tr_ring_set_max_encrypt_age": (_int, [_vp, _u32]),
    "tr_ring_set_file_mode_policy": (_int, [_vp, _i32]),
    "tr_ring_set_activation_horizon": (_int, [_vp, _u32]),
    "tr_ring_set_cluster": (_int, [_vp, _cp]),
    "tr_ring_cluster": (_int, [_vp, _cp, _size]),
    "tr_ring_serial": (_int, [_vp, _p_u64]),
    "tr_ring_add_key": (_int, [_vp, _cp, _i64]),
    "tr_ring_generate_key": (_int, [_vp, _i64, _cp]),
    "tr_ring_remove_key": (_int, [_vp, _cp]),
    "tr_ring_revoke_key": (_int, [_vp, _cp]),
    "tr_ring_load_ex": (_int, [_vp, _cp, _u32, _p_u32]),
    "tr_ring_reload": (_int, [_vp, _p_u32]),
    "tr_ring_reload_check": (_int, [_vp, _p_i32, _p_u32]),
    "tr_ring_save": (_int, [_vp, _cp]),
    "tr_ring_watch": (_int, [_vp, _u32]),
    "tr_ring_unwatch": (_int, [_vp]),
    "tr_ring_key_count": (_int, [_vp, _p_u32]),
    "tr_ring_key_info": (_int, [_vp, _u32, _cp, _p_i64, _p_i32]),
    "tr_ring_encrypt_key_name": (_int, [_vp, _cp]),
    "tr_ring_fingerprint": (_int, [_vp, _cp, _size]),
    "tr_ring_now_ms": (_int, [_vp, _p_i64]),
    "tr_ring_record": (_int, [_vp, _i32]),
    "tr_ticket_seal": (_int, [_vp, _cp, _size, _cp, _size, _cp, _size, _cp, _size, _i64,
                              _cp, _size, _p_size, _p_u32]),
    "tr_ticket_open": (_int, [_vp, _cp, _size, _cp, _size, _cp, _size, _cp, _size,
                              _cp, _size, _p_size, _cp, _p_i64, _p_i64, _p_u32]),
    "tr_ring_metrics": (_int, [_vp, _cp, _size, _p_size]),
    "tr_stats_count": (_size, []),
    "tr_stats_name": (_cp, [_size]),
    "tr_ring_stat": (_int, [_vp, _size, _p_u64]),
    "tr_replay_new": (_int, [ctypes.POINTER(_vp), _u32, _u32]),
    "tr_replay_free": (None, [_vp]),
    "tr_replay_set_clock": (_int, [_vp, CLOCK_FN, _vp]),
    "tr_replay_check": (_int, [_vp, _cp, _size]),
    "tr_replay_stats_count": (_size, []),
    "tr_replay_stats_name": (_cp, [_size]),
    "tr_replay_stat": (_int, [_vp, _size, _p_u64]),
    "tr_ring_set_early_data": (_int, [_vp, _u32, _vp]),
    "tr_ring_early_data_max": (_int, [_vp, _p_u32]),
    "tr_ring_early_data_tag": (_int, [_vp, _p_u64]),
    "tr_ring_check_early_data": (_int, [_vp, _u64, _i64, _u32, _cp, _size]),
}


def _limits(ctype):
    bits = 8 * ctypes.sizeof(ctype)
    if ctype(-1).value < 0:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


_INT_TYPES = {t: _limits(t) for t in (_i32, _u32, _i64, _u64, _int, _size)}


def _range_checked(name, f):
    """f, refusing an integer argument its C type cannot hold: ctypes
    would silently keep only the low bits (2**32 + 60 seconds becoming 60)."""
    checks = [(i, t.__name__, lim) for i, t in enumerate(f.argtypes or ())
              for tt, lim in _INT_TYPES.items() if t is tt]
    if not checks:
        return f

    def call(*args):
        for i, tname, (lo, hi) in checks:
            v = args[i]
            if not isinstance(v, int):
                raise TypeError("%s: argument %d must be an int, not %s"
                                % (name, i + 1, type(v).__name__))
            if not lo <= v <= hi:
                raise errors.InvalidArgument("%s: argument %d (%d) out of range for %s"
                                             % (name, i + 1, v, tname), code=-1)
        return f(*args)

    call.__name__ = name
    return call


def _file_names(name):
    if sys.platform == "darwin":
        return ["lib%s.%d.dylib" % (name, SOVERSION)]
    return ["lib%s.so.%d" % (name, SOVERSION)]


def _locate(name, libdir):
    """The path (or soname) to load for library `name` ("ticketring",
    "ticketring-openssl"): the first match in libdir (a path list), or
    else in TICKETRING_LIBDIR, or else what the system's loader finds."""
    dirs = libdir if libdir is not None else os.environ.get(LIBDIR_ENV)
    if dirs:
        if isinstance(dirs, str):
            dirs = dirs.split(os.pathsep)
        for d in dirs:
            for f in _file_names(name):
                p = os.path.join(d, f)
                if os.path.exists(p):
                    return p
        raise errors.LibraryError("lib%s (soname major %d) not found in %s"
                                  % (name, SOVERSION, os.pathsep.join(dirs)))
    found = ctypes.util.find_library(name)
    if found is None:
        raise errors.LibraryError(
            "lib%s not found: install it, or set %s to the directories holding "
            "libticketring and its backend library" % (name, LIBDIR_ENV))
    return found


class Library:
    """libticketring, loaded once, with every prototype set; backend
    libraries are loaded on first use. Thread-safe."""

    def __init__(self, libdir=None):
        self._libdir = libdir
        path = _locate("ticketring", libdir)
        try:
            self.dll = ctypes.CDLL(path)
        except OSError as e:
            raise errors.LibraryError("cannot load %s: %s" % (path, e)) from None
        self.path = path
        v = self._bind("tr_version")()
        self.version = ((v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF)
        if self.version < MIN_VERSION:
            raise errors.LibraryError("%s is version %d.%d.%d; this binding needs %d.%d.%d or later"
                                      % ((path,) + self.version + MIN_VERSION))
        for fn in _CORE:
            setattr(self, fn, _range_checked(fn, self._bind(fn)))
        self.version_string = self.tr_version_string().decode()
        # Sizes come from the library, never from constants copied here.
        self.key_bytes = self.tr_key_bytes()
        self.key_name_bytes = self.tr_key_name_bytes()
        self.fingerprint_hex = self.tr_fingerprint_hex()
        self.ticket_overhead = self.tr_ticket_overhead()
        self.ticket_max_state = self.tr_ticket_max_state()
        self.ticket_max_bytes = self.tr_ticket_max_bytes()
        self.cluster_id_max = self.tr_cluster_id_max()
        self.stats_names = tuple(self.tr_stats_name(i).decode()
                                 for i in range(self.tr_stats_count()))
        self.replay_stats_names = tuple(self.tr_replay_stats_name(i).decode()
                                        for i in range(self.tr_replay_stats_count()))
        self._backends = {}
        self._lock = threading.Lock()

    def _bind(self, name):
        try:
            f = getattr(self.dll, name)
        except AttributeError:
            raise errors.LibraryError("%s has no %s: it is older than this binding or "
                                      "not libticketring" % (self.path, name)) from None
        restype, argtypes = _CORE[name]
        f.restype, f.argtypes = restype, argtypes
        return f

    def strerror(self, code):
        return self.tr_strerror(code).decode()

    def backend(self, name):
        """The tr_crypto table of backend `name` ("openssl", "mbedtls")
        as an address. The backend library stays loaded for the process's
        lifetime: its table is static storage rings point into."""
        with self._lock:
            table = self._backends.get(name)
            if table is None:
                lib = "ticketring-" + name
                path = _locate(lib, self._libdir)
                try:
                    dll = ctypes.CDLL(path)
                    get = getattr(dll, "tr_crypto_" + name)
                except (OSError, AttributeError) as e:
                    raise errors.LibraryError("cannot load backend %s from %s: %s"
                                              % (name, path, e)) from None
                get.restype, get.argtypes = _vp, []
                table = get()
                if not table:
                    raise errors.LibraryError("backend %s returned no table" % name)
                self._backends[name] = (dll, table)
            else:
                table = table[1]
            return table


_default = None
_default_lock = threading.Lock()


def load(libdir=None):
    """Load libticketring now (from libdir, a directory or a list of them,
    when given) and make it the library every object uses by default.
    Returns the Library. Without a call, the first object made loads it
    from TICKETRING_LIBDIR or the system's library path."""
    global _default
    with _default_lock:
        _default = Library(libdir)
        return _default


def library():
    global _default
    with _default_lock:
        if _default is None:
            _default = Library()
        return _default
