"""Ring: the keys of a cluster, sealing and opening session tickets."""

import ctypes
import os
from typing import NamedTuple

from . import _callbacks, _lib, errors
from ._owner import Handle, in_callback

# Numbers fixed by the C header like the error codes (docs/ABI.md).
ACTIVATION_PENDING = 2 ** 63 - 1   # TR_ACTIVATION_PENDING: decrypt only, for now
TICKET_RENEW = 1                   # TR_TICKET_RENEW flag: issue a new ticket
EXHAUSTED_KEEP, EXHAUSTED_STOP = 0, 1
FILE_MODE_IGNORE, FILE_MODE_WARN, FILE_MODE_REFUSE = 0, 1, 2
KEY_PENDING, KEY_ENCRYPT, KEY_DECRYPT, KEY_RETIRED, KEY_REVOKED = 0, 1, 2, 3, 4
LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3
_LOAD_FORCE = 1


class Opened(NamedTuple):
    """What Ring.open() returns for an accepted ticket."""
    state: bytes        # the session state sealed into the ticket
    key_name: bytes     # name of the key that opened it
    auth_time: int      # the session's original full handshake (Unix seconds)
    age_ms: int         # the ticket's age
    flags: int          # TICKET_RENEW ...

    @property
    def renew(self):
        """Opened with a key that no longer encrypts: issue a new ticket."""
        return bool(self.flags & TICKET_RENEW)


class KeyInfo(NamedTuple):
    name: bytes
    activation: int     # Unix seconds, ACTIVATION_PENDING when none
    role: int           # KEY_PENDING ...


def _data(value, what):
    """Bytes for a C (pointer, length) pair: None stays None (length 0), a
    str is UTF-8, any bytes-like object is copied."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    try:
        return bytes(memoryview(value))
    except TypeError:
        raise TypeError("%s must be bytes-like, str or None, not %s"
                        % (what, type(value).__name__)) from None


def _len(b):
    return 0 if b is None else len(b)


def _path(path):
    return os.fsencode(path)


class Ring(Handle):
    """A libticketring ring (tr_ring).

    Ring(key_file) loads a key file; Ring() starts empty (add_key,
    generate_key, load). clock, random and log are optional callables
    (set_clock ...), installed before any key is loaded. `backend` names
    the crypto backend library ("openssl" or "mbedtls").

    Every method is thread-safe (libticketring releases the GIL while it
    works, so threads seal and open in parallel). close() - or leaving a
    `with` block, or garbage collection - waits for calls running in other
    threads, then frees the C ring; any later call raises ClosedError.
    """

    _metrics_cap = 8192  # first buffer for metrics(); it grows as the text does

    def __init__(self, key_file=None, *, backend="openssl", clock=None, random=None,
                 log=None, library=None):
        lib = library if library is not None else _lib.library()
        crypto = lib.backend(backend)
        out = ctypes.c_void_p()
        rc = lib.tr_ring_new(ctypes.byref(out), crypto)
        if rc < 0:
            raise errors.from_code(rc, lib.strerror(rc))
        self._adopt(lib, out.value, lib.tr_ring_free, "ring")
        self._replay = None
        try:
            if clock is not None:
                self.set_clock(clock)
            if random is not None:
                self.set_random(random)
            if log is not None:
                self.set_log(log)
            if key_file is not None:
                self.load(key_file)
        except BaseException:
            self.close()
            raise

    # ---- lifetime ----------------------------------------------------------

    def close(self):
        """Free the C ring once calls running in other threads return.
        Idempotent; not allowed from inside a libticketring callback."""
        super().close()
        self._replay = None

    # ---- injectable services -----------------------------------------------

    def set_clock(self, fn):
        """fn() -> milliseconds since the Unix epoch; None restores the
        system clock. Set it before sharing the ring between threads: C
        calls it from every thread that seals or opens."""
        self._set_callback(self._lib.tr_ring_set_clock, _lib.CLOCK_FN, _callbacks.clock, fn)

    def set_random(self, fn):
        """fn(n) -> n unpredictable bytes; None restores the backend's
        source. Set it before sharing the ring between threads."""
        self._set_callback(self._lib.tr_ring_set_random, _lib.RANDOM_FN, _callbacks.random, fn)

    def set_log(self, fn):
        """fn(level, message) for the ring's log lines; None silences it.
        Called from the thread that caused the line and from the key file
        watcher's thread (watch()); it must not close the ring or call
        watch/unwatch (that raises CallbackError)."""
        self._set_callback(self._lib.tr_ring_set_log, _lib.LOG_FN, _callbacks.log, fn)

    def _set_callback(self, setter, ctype, wrap, fn):
        cb = ctype() if fn is None else wrap(fn)
        # A replaced callback may still be running in another thread: every
        # callback stays referenced until the ring is freed.
        self._owner.keep.append(cb)
        self._call(setter, cb, None)

    # ---- policy ------------------------------------------------------------

    def set_lifetime(self, seconds):
        self._call(self._lib.tr_ring_set_lifetime, seconds)

    def set_skew(self, seconds):
        self._call(self._lib.tr_ring_set_skew, seconds)

    def set_bind_sni(self, on):
        self._call(self._lib.tr_ring_set_bind_sni, 1 if on else 0)

    def set_bind_alpn(self, on):
        self._call(self._lib.tr_ring_set_bind_alpn, 1 if on else 0)

    def set_max_age(self, seconds):
        self._call(self._lib.tr_ring_set_max_age, seconds)

    def set_rotation_period(self, seconds):
        self._call(self._lib.tr_ring_set_rotation_period, seconds)

    def set_exhausted_policy(self, policy):
        self._call(self._lib.tr_ring_set_exhausted_policy, policy)

    def set_max_encrypt_age(self, seconds):
        self._call(self._lib.tr_ring_set_max_encrypt_age, seconds)

    def set_file_mode_policy(self, policy):
        self._call(self._lib.tr_ring_set_file_mode_policy, policy)

    def set_activation_horizon(self, seconds):
        self._call(self._lib.tr_ring_set_activation_horizon, seconds)

    def set_cluster(self, cluster_id):
        """Pin the ring to a cluster id (str), or unpin it (None)."""
        self._call(self._lib.tr_ring_set_cluster,
                   None if cluster_id is None else cluster_id.encode("ascii"))

    @property
    def cluster(self):
        """The cluster id, "" when none."""
        buf = ctypes.create_string_buffer(self._lib.cluster_id_max + 1)
        self._call(self._lib.tr_ring_cluster, buf, len(buf))
        return buf.value.decode("ascii")

    # ---- keys --------------------------------------------------------------

    def load(self, path, *, force=False):
        """Replace every key with those of the key file at `path` (and
        remember it for reload()). On failure the ring keeps its keys and
        a KeyFileError subclass says why (`.line`: the line at fault)."""
        line = ctypes.c_uint32(0)
        o = self._owner
        ptr = o.enter()
        try:
            rc = self._lib.tr_ring_load_ex(ptr, _path(path), _LOAD_FORCE if force else 0,
                                           ctypes.byref(line))
        finally:
            o.leave()
        if rc < 0:
            raise self._error(rc, line.value)

    def reload(self):
        """Load the remembered key file again (NoKeyFile without one)."""
        line = ctypes.c_uint32(0)
        o = self._owner
        ptr = o.enter()
        try:
            rc = self._lib.tr_ring_reload(ptr, ctypes.byref(line))
        finally:
            o.leave()
        if rc < 0:
            raise self._error(rc, line.value)

    def reload_check(self):
        """Reload the key file if it changed; True when a new key set was
        loaded. Cheap enough for every event-loop turn."""
        changed, line = ctypes.c_int32(0), ctypes.c_uint32(0)
        o = self._owner
        ptr = o.enter()
        try:
            rc = self._lib.tr_ring_reload_check(ptr, ctypes.byref(changed), ctypes.byref(line))
        finally:
            o.leave()
        if rc < 0:
            raise self._error(rc, line.value)
        return bool(changed.value)

    def watch(self, poll_seconds=0):
        """Reload the key file from a background C thread when it changes
        (the log callback is then also called from that thread)."""
        if in_callback():
            raise errors.CallbackError("watch() from inside a libticketring callback")
        self._call(self._lib.tr_ring_watch, poll_seconds)

    def unwatch(self):
        if in_callback():
            raise errors.CallbackError("unwatch() from inside a libticketring callback")
        self._call(self._lib.tr_ring_unwatch)

    def save(self, path):
        """Write every key to `path` as a key file (mode 0600, atomically)."""
        self._call(self._lib.tr_ring_save, _path(path))

    def add_key(self, key, activation):
        """Add a key (tr_key_bytes() bytes: name | HMAC | AES) that starts
        encrypting at `activation` (Unix seconds, or ACTIVATION_PENDING)."""
        key = _data(key, "key")
        if key is None or len(key) != self._lib.key_bytes:
            raise errors.InvalidArgument("a key is %d bytes" % self._lib.key_bytes)
        self._call(self._lib.tr_ring_add_key, key, activation)

    def generate_key(self, activation):
        """Add a new random key activating at `activation`; its name."""
        name = ctypes.create_string_buffer(self._lib.key_name_bytes)
        self._call(self._lib.tr_ring_generate_key, activation, name)
        return name.raw

    def _name(self, name):
        name = _data(name, "name")
        if name is None or len(name) != self._lib.key_name_bytes:
            raise errors.InvalidArgument("a key name is %d bytes" % self._lib.key_name_bytes)
        return name

    def remove_key(self, name):
        self._call(self._lib.tr_ring_remove_key, self._name(name))

    def revoke_key(self, name):
        self._call(self._lib.tr_ring_revoke_key, self._name(name))

    def keys(self):
        """KeyInfo for each key, in activation order."""
        out = []
        name = ctypes.create_string_buffer(self._lib.key_name_bytes)
        act, role = ctypes.c_int64(), ctypes.c_int32()
        count = ctypes.c_uint32()
        rc = 0
        o = self._owner
        ptr = o.enter()
        try:
            rc = self._lib.tr_ring_key_count(ptr, ctypes.byref(count))
            for i in range(count.value if rc == 0 else 0):
                rc = self._lib.tr_ring_key_info(ptr, i, name, ctypes.byref(act),
                                                ctypes.byref(role))
                if rc == errors.KeyNotFound.code:  # another thread removed keys
                    rc = 0
                    break
                if rc < 0:
                    break
                out.append(KeyInfo(name.raw, act.value, role.value))
        finally:
            o.leave()
        if rc < 0:
            raise self._error(rc)
        return out

    def encrypt_key_name(self):
        """Name of the key that seals now (NoEncryptKey when none)."""
        name = ctypes.create_string_buffer(self._lib.key_name_bytes)
        self._call(self._lib.tr_ring_encrypt_key_name, name)
        return name.raw

    def fingerprint(self):
        """The key set's fingerprint (hex): equal on two rings exactly when
        they hold the same keys under the same cluster id."""
        buf = ctypes.create_string_buffer(self._lib.fingerprint_hex + 1)
        self._call(self._lib.tr_ring_fingerprint, buf, len(buf))
        return buf.value.decode("ascii")

    @property
    def serial(self):
        v = ctypes.c_uint64()
        self._call(self._lib.tr_ring_serial, ctypes.byref(v))
        return v.value

    def now_ms(self):
        """The ring's clock now."""
        v = ctypes.c_int64()
        self._call(self._lib.tr_ring_now_ms, ctypes.byref(v))
        return v.value

    # ---- tickets -----------------------------------------------------------

    def seal(self, state, *, sni=None, alpn=None, app_ctx=None, auth_time=0):
        """Seal `state` into a ticket (bytes) bound to the connection's SNI,
        ALPN protocol and application context (each str, bytes or None).
        auth_time: the session's original full handshake (0: now; on
        renewal pass Opened.auth_time). NoEncryptKey: issue no ticket."""
        return self.seal_with_lifetime(state, sni=sni, alpn=alpn, app_ctx=app_ctx,
                                       auth_time=auth_time)[0]

    def seal_with_lifetime(self, state, *, sni=None, alpn=None, app_ctx=None, auth_time=0):
        """As seal(); (ticket, lifetime in seconds to advertise)."""
        state = _data(state, "state") or b""
        sni, alpn, app_ctx = _data(sni, "sni"), _data(alpn, "alpn"), _data(app_ctx, "app_ctx")
        buf = ctypes.create_string_buffer(len(state) + self._lib.ticket_overhead)
        n, lifetime = ctypes.c_size_t(), ctypes.c_uint32()
        self._call(self._lib.tr_ticket_seal, state, len(state), sni, _len(sni), alpn,
                   _len(alpn), app_ctx, _len(app_ctx), auth_time, buf, len(buf),
                   ctypes.byref(n), ctypes.byref(lifetime))
        return buf.raw[:n.value], lifetime.value

    def open(self, ticket, *, sni=None, alpn=None, app_ctx=None):
        """Open a ticket presented with this SNI, ALPN and application
        context: Opened(state, key_name, auth_time, age_ms, flags), or a
        TicketRefused subclass naming the reason (do a full handshake)."""
        ticket = _data(ticket, "ticket") or b""
        sni, alpn, app_ctx = _data(sni, "sni"), _data(alpn, "alpn"), _data(app_ctx, "app_ctx")
        lib = self._lib
        cap = min(max(len(ticket) - lib.ticket_overhead, 0), lib.ticket_max_state)
        state = ctypes.create_string_buffer(max(cap, 1))
        name = ctypes.create_string_buffer(lib.key_name_bytes)
        n, auth, age, flags = (ctypes.c_size_t(), ctypes.c_int64(), ctypes.c_int64(),
                               ctypes.c_uint32())
        self._call(lib.tr_ticket_open, ticket, len(ticket), sni, _len(sni), alpn, _len(alpn),
                   app_ctx, _len(app_ctx), state, cap, ctypes.byref(n), name,
                   ctypes.byref(auth), ctypes.byref(age), ctypes.byref(flags))
        return Opened(state.raw[:n.value], name.raw, auth.value, age.value, flags.value)

    # ---- observability -----------------------------------------------------

    def stats(self):
        """The ring's counters as a dict, keyed by the tr_stats field names
        the library reports (tr_stats_name), in struct order."""
        return self._fields(self._lib.stats_names, self._lib.tr_ring_stat)

    def metrics(self):
        """The Prometheus text exposition of the ring's state (str)."""
        cap = self._metrics_cap
        n = ctypes.c_size_t()
        while True:
            buf = ctypes.create_string_buffer(cap)
            try:
                self._call(self._lib.tr_ring_metrics, buf, cap, ctypes.byref(n))
            except errors.BufferTooSmall:
                if n.value + 1 <= cap:
                    raise
                cap = n.value + 1  # the text grew: retry with its size
                continue
            return buf.raw[:n.value].decode("utf-8")

    # ---- 0-RTT -------------------------------------------------------------

    def set_early_data(self, max_bytes, replay=None):
        """Accept early data of at most max_bytes per connection, checked
        against `replay` (a ReplayCache), or turn it off (max_bytes 0).
        The ring keeps every cache ever set on it (and the cache keeps its
        C memory) until the ring is freed, since a handshake may still be
        using one it replaced."""
        o = self._owner
        ptr = o.enter()
        rc = -1
        try:
            rp = replay._owner.pin() if replay is not None else None
            try:
                rc = self._lib.tr_ring_set_early_data(ptr, max_bytes, rp)
            finally:
                if rc < 0 and replay is not None:
                    replay._owner.unpin()
            if rc >= 0 and replay is not None:
                # Registered while the call still counts as running, so a
                # concurrent close() frees the ring only after this.
                o.keep.append(replay)
                o.after_free.append(replay._owner.unpin)
                self._replay = replay
        finally:
            o.leave()
        if rc < 0:
            raise self._error(rc)

    @property
    def replay(self):
        """The ReplayCache last set with set_early_data(), or None."""
        return self._replay

    def early_data_max(self):
        v = ctypes.c_uint32()
        self._call(self._lib.tr_ring_early_data_max, ctypes.byref(v))
        return v.value

    def early_data_tag(self):
        """The tag a TLS integration seals into tickets (0 when off)."""
        v = ctypes.c_uint64()
        self._call(self._lib.tr_ring_early_data_tag, ctypes.byref(v))
        return v.value

    def check_early_data(self, ticket_tag, issue_ms, client_age_ms, value):
        """For a TLS integration: may this resumption's early data be
        accepted? True, or an EarlyDataRefused subclass naming the reason.
        `value` is the ClientHello's random (the replay cache records it)."""
        value = _data(value, "value") or b""
        self._call(self._lib.tr_ring_check_early_data, ticket_tag, issue_ms, client_age_ms,
                   value, len(value))
        return True
