"""Python callables as libticketring callbacks.

ctypes acquires the GIL for each call, from any thread (also threads C
started, such as a ring's key file watcher). The returned ctypes function
objects must stay alive as long as C may call them: Owner.keep holds them
until the handle is freed.
"""

import ctypes

from . import _lib, _owner


def clock(fn):
    """fn() -> milliseconds since the Unix epoch (int). A clock that raises
    reads as the epoch, which no ticket or replay window accepts."""

    def cb(arg):
        _owner.callback_enter()
        try:
            return int(fn())
        except BaseException:
            _owner.report_callback_error("clock")
            return 0
        finally:
            _owner.callback_leave()

    return _lib.CLOCK_FN(cb)


def random(fn):
    """fn(n) -> n unpredictable bytes. Anything else (another length, an
    exception) is a failure the library reports as TR_E_CRYPTO."""

    def cb(buf, n, arg):
        _owner.callback_enter()
        try:
            data = fn(n)
            if not isinstance(data, (bytes, bytearray)) or len(data) != n:
                raise ValueError("random source returned %r for %d bytes"
                                 % (type(data).__name__, n))
            ctypes.memmove(buf, bytes(data), n)
            return 0
        except BaseException:
            _owner.report_callback_error("random")
            return -1
        finally:
            _owner.callback_leave()

    return _lib.RANDOM_FN(cb)


def log(fn):
    """fn(level, message): level is one of LOG_ERROR .. LOG_DEBUG, message
    a str without key material."""

    def cb(level, msg, arg):
        _owner.callback_enter()
        try:
            fn(int(level), msg.decode("utf-8", "replace") if msg else "")
        except BaseException:
            _owner.report_callback_error("log")
        finally:
            _owner.callback_leave()

    return _lib.LOG_FN(cb)
