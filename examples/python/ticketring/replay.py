"""ReplayCache: 0-RTT anti-replay (tr_replay)."""

import ctypes

from . import _callbacks, _lib, errors
from ._owner import Handle


class ReplayCache(Handle):
    """A replay cache: remembers each value (a ClientHello's random) for
    window_ms and holds at least `capacity` values; all its memory is
    allocated here. For its first window (and again after set_clock) it
    refuses everything with ReplayStartup: it cannot know what a previous
    process accepted.

    Thread-safe. close() - or leaving a `with` block, or garbage
    collection - ends its use from Python at once; its C memory is freed
    when no call runs on it and no ring it was set on (Ring.set_early_data)
    is still alive.
    """

    def __init__(self, capacity, window_ms=20000, *, clock=None, library=None):
        lib = library if library is not None else _lib.library()
        out = ctypes.c_void_p()
        rc = lib.tr_replay_new(ctypes.byref(out), capacity, window_ms)
        if rc < 0:
            raise errors.from_code(rc, lib.strerror(rc))
        self._adopt(lib, out.value, lib.tr_replay_free, "replay cache")
        if clock is not None:
            try:
                self.set_clock(clock)
            except BaseException:
                self.close()
                raise

    def set_clock(self, fn):
        """fn() -> milliseconds since the Unix epoch (give it the ring's
        clock); None restores the system clock. The start-up window starts
        again. Set it before sharing the cache between threads: C calls it
        from every thread that checks a value."""
        cb = _lib.CLOCK_FN() if fn is None else _callbacks.clock(fn)
        self._owner.keep.append(cb)
        self._call(self._lib.tr_replay_set_clock, cb, None)

    def check(self, value):
        """Check and record `value` (bytes, 1..tr_replay_value_max()):
        True when first seen within the window, else Replayed,
        ReplayCacheFull (nothing recorded) or ReplayStartup (recorded all
        the same)."""
        if isinstance(value, str):
            value = value.encode("utf-8")
        value = bytes(memoryview(value))
        self._call(self._lib.tr_replay_check, value, len(value))
        return True

    def stats(self):
        """The cache's counters and sizes as a dict, keyed by the
        tr_replay_stats field names the library reports, in struct order."""
        return self._fields(self._lib.replay_stats_names, self._lib.tr_replay_stat)
