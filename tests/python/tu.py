"""Shared by the Python binding's tests (tests/python/meson.build runs them
with TICKETRING_LIBDIR pointing at the libraries just built)."""

import os
import shutil
import tempfile
import unittest

import ticketring

T0 = 1767225600  # 2026-01-01T00:00:00Z


def backends():
    """The backends built (TICKETRING_TEST_BACKENDS, comma-separated)."""
    names = os.environ.get("TICKETRING_TEST_BACKENDS", "openssl")
    return [n for n in names.split(",") if n]


def source_file(env, *rel):
    """A file of the source tree: from `env` when set (meson passes it),
    else relative to this directory."""
    p = os.environ.get(env)
    if p:
        return p
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", *rel)


class Clock:
    """An injected clock: milliseconds the test sets."""

    def __init__(self, seconds=T0):
        self.ms = seconds * 1000

    def __call__(self):
        return self.ms

    def advance(self, seconds=0, ms=0):
        self.ms += seconds * 1000 + ms


class CounterRandom:
    """tests/unit/test_util.c's tu_random_counter: byte i of the stream is
    0xa5 ^ ((seed + i) mod 256)."""

    def __init__(self, seed):
        self.ctr = seed

    def __call__(self, n):
        out = bytes(0xA5 ^ ((self.ctr + i) & 0xFF) for i in range(n))
        self.ctr += n
        return out


class TempDir(unittest.TestCase):
    """A test case with a private directory, removed afterwards."""

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="tr-py-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)


def key_file(path, clock, activations, backend="openssl"):
    """Write a key file with one generated key per activation time (Unix
    seconds) through a ring on `clock`; returns that ring's fingerprint."""
    with ticketring.Ring(backend=backend, clock=clock) as r:
        for a in activations:
            r.generate_key(a)
        r.save(path)
        return r.fingerprint()
