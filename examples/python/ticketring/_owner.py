"""Who owns a C handle, and for how long.

C's rules (include/ticketring/ticketring.h): tr_ring_free() and
tr_replay_free() may not run while any other call on the object runs; a
ring does not own the replay cache set on it, nor the callbacks it calls;
a log sink must not free or unwatch its ring. An Owner makes those rules
hold for any Python caller:

- every call on the handle is counted while it runs (enter/leave), and
  close() waits for the count to reach zero before it frees;
- a handle other handles point into (a replay cache set on a ring) is
  pinned by them and freed only once it is closed and every pin is gone;
- Python objects C may still call or read (ctypes callbacks, a replay
  cache) are kept in `keep` until the handle is freed;
- closing from inside a libticketring callback raises instead of
  deadlocking, and a garbage collection that happens to run inside one
  hands the free to a short-lived thread.

The Python object's weakref.finalize calls Owner.finalize, so the Owner
must never refer back to that object.
"""

import ctypes
import logging
import threading
import weakref

from . import errors

_tls = threading.local()
_log = logging.getLogger("ticketring")


def in_callback():
    """True on a thread that is running a libticketring callback."""
    return getattr(_tls, "depth", 0) > 0


def callback_enter():
    _tls.depth = getattr(_tls, "depth", 0) + 1


def callback_leave():
    _tls.depth -= 1


def report_callback_error(what):
    """A callback raised: C cannot receive a Python exception, so it is
    logged (logger "ticketring") and the callback's failure value used."""
    _log.exception("exception in ticketring %s callback (ignored)", what)


class Owner:
    def __init__(self, ptr, free_fn, what):
        self._ptr = ptr
        self._free_fn = free_fn
        self.what = what
        self._cond = threading.Condition(threading.Lock())
        self._busy = 0
        self._pins = 0
        self._closing = False
        self.keep = []        # objects C may still use until the free
        self.after_free = []  # run once the handle is freed (unpin others)

    @property
    def closed(self):
        return self._closing

    def enter(self):
        """The pointer, counted as in use until leave(); ClosedError once
        close() has begun."""
        with self._cond:
            if self._closing:
                raise errors.ClosedError("this %s is closed" % self.what)
            self._busy += 1
            return self._ptr

    def leave(self):
        with self._cond:
            self._busy -= 1
            if self._busy == 0 and self._closing:
                self._cond.notify_all()

    def pin(self):
        """Another handle will point at this one: the pointer, not freed
        before unpin() even if closed meanwhile."""
        with self._cond:
            if self._closing:
                raise errors.ClosedError("this %s is closed" % self.what)
            self._pins += 1
            return self._ptr

    def unpin(self):
        with self._cond:
            self._pins -= 1
            ptr = self._take()
        self._free(ptr)

    def close(self):
        """Refuse new calls, wait for running ones, then free (unless
        pinned: then the last unpin frees). Idempotent."""
        if in_callback():
            raise errors.CallbackError("a %s cannot be closed from inside a "
                                       "libticketring callback" % self.what)
        with self._cond:
            self._closing = True
            while self._busy:
                self._cond.wait()
            ptr = self._take()
        self._free(ptr)

    def finalize(self):
        # Garbage collection may run on any thread, also on a C thread in a
        # callback (the watcher, inside its log call): freeing there would
        # join the watcher from itself.
        if in_callback():
            threading.Thread(target=self.close, name="ticketring-free", daemon=True).start()
        else:
            self.close()

    def _take(self):
        if self._closing and self._busy == 0 and self._pins == 0 and self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            return ptr
        return None

    def _free(self, ptr):
        if ptr is None:
            return
        self._free_fn(ptr)
        self.keep = []
        hooks, self.after_free = self.after_free, []
        for h in hooks:
            h()


class Handle:
    """What Ring and ReplayCache share: the lifetime of one C handle (an
    Owner plus a finalizer for garbage collection), `with`, and calls that
    raise the exception of a negative TR_E_* code."""

    def _adopt(self, lib, ptr, free_fn, what):
        self._lib = lib
        self._owner = Owner(ptr, free_fn, what)
        self._finalizer = weakref.finalize(self, self._owner.finalize)

    def close(self):
        self._owner.close()
        self._finalizer.detach()

    @property
    def closed(self):
        return self._owner.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, fn, *args):
        o = self._owner
        ptr = o.enter()
        try:
            rc = fn(ptr, *args)
        finally:
            o.leave()
        if rc < 0:
            raise self._error(rc)
        return rc

    def _error(self, rc, line=None):
        return errors.from_code(rc, self._lib.strerror(rc), line)

    def _fields(self, names, stat_fn):
        """A statistics snapshot as a dict: field i of `names` read with
        stat_fn(handle, i, &value), all under one call on the handle."""
        v = ctypes.c_uint64()
        out = {}
        rc = 0
        ptr = self._owner.enter()
        try:
            for i, name in enumerate(names):
                rc = stat_fn(ptr, i, ctypes.byref(v))
                if rc < 0:
                    break
                out[name] = v.value
        finally:
            self._owner.leave()
        if rc < 0:
            raise self._error(rc)
        return out
