"""Ownership from Python: handles freed on `with` exit, close() and garbage
collection; use after close raises instead of crashing; callbacks and
replay caches C still points at stay alive; close() waits for calls
running in other threads; closing from inside a callback is refused."""

import gc
import os
import threading
import time
import unittest
import weakref

import ticketring
import tu
from tu import T0


def freed(owner):
    return owner._ptr is None


class Lifetime(tu.TempDir):
    def test_with_frees(self):
        with ticketring.Ring() as r:
            owner = r._owner
            self.assertFalse(freed(owner))
        self.assertTrue(freed(owner))
        self.assertTrue(r.closed)
        with ticketring.ReplayCache(10, 1000) as rp:
            rowner = rp._owner
        self.assertTrue(freed(rowner))

    def test_with_frees_on_exception(self):
        with self.assertRaises(KeyError):
            with ticketring.Ring() as r:
                owner = r._owner
                raise KeyError("boom")
        self.assertTrue(freed(owner))

    def test_garbage_collection_frees(self):
        r = ticketring.Ring()
        owner, fin = r._owner, r._finalizer
        del r
        gc.collect()
        self.assertFalse(fin.alive)
        self.assertTrue(freed(owner))
        # a reference cycle through a callback is collected too
        r = ticketring.Ring()
        owner = r._owner
        r.cycle = r
        del r
        gc.collect()
        self.assertTrue(freed(owner))

    def test_use_after_close_raises(self):
        clock = tu.Clock()
        r = ticketring.Ring(clock=clock)
        r.generate_key(T0)
        t = r.seal(b"x")
        r.close()
        r.close()  # idempotent
        calls = [lambda: r.seal(b"x"), lambda: r.open(t), lambda: r.stats(),
                 lambda: r.metrics(), lambda: r.fingerprint(), lambda: r.reload(),
                 lambda: r.set_lifetime(60), lambda: r.set_clock(clock),
                 lambda: r.generate_key(T0), lambda: r.keys(), lambda: r.cluster,
                 lambda: r.early_data_max(), lambda: r.load(self.path("k"))]
        for call in calls:
            with self.assertRaises(ticketring.ClosedError):
                call()
        rp = ticketring.ReplayCache(10, 1000)
        rp.close()
        for call in (lambda: rp.check(b"v"), lambda: rp.stats(), lambda: rp.set_clock(clock)):
            with self.assertRaises(ticketring.ClosedError):
                call()
        with ticketring.Ring() as r2, self.assertRaises(ticketring.ClosedError):
            r2.set_early_data(100, rp)

    def test_callbacks_stay_alive_while_c_holds_them(self):
        clock = tu.Clock()
        ref = weakref.ref(clock)
        r = ticketring.Ring(clock=clock)
        del clock
        gc.collect()
        self.assertIsNotNone(ref())
        self.assertEqual(r.now_ms(), T0 * 1000)
        # replaced: still kept (another thread may be inside the old one)
        r.set_clock(lambda: 5000)
        gc.collect()
        self.assertIsNotNone(ref())
        self.assertEqual(r.now_ms(), 5000)
        r.close()
        gc.collect()
        self.assertIsNone(ref())

    def test_ring_keeps_its_replay_cache(self):
        clock = tu.Clock()
        r = ticketring.Ring(clock=clock)
        rp = ticketring.ReplayCache(100, 1000, clock=clock)
        ref, rowner = weakref.ref(rp), rp._owner
        r.set_early_data(1024, rp)
        tag = r.early_data_tag()
        del rp
        gc.collect()
        self.assertIsNotNone(ref())
        clock.advance(ms=1000)
        self.assertTrue(r.check_early_data(tag, clock() - 10, 10, b"v" * 32))
        r.close()
        gc.collect()
        self.assertIsNone(ref())
        self.assertTrue(freed(rowner))

    def test_closing_a_cache_a_ring_uses(self):
        """Closing ends the cache's use from Python; its memory lives on
        until every ring it was set on is freed."""
        clock = tu.Clock()
        r = ticketring.Ring(clock=clock)
        rp = ticketring.ReplayCache(100, 1000, clock=clock)
        r.set_early_data(1024, rp)
        r.set_early_data(0)  # replaced or turned off: still pinned
        r.set_early_data(1024, rp)
        tag = r.early_data_tag()
        rp.close()
        self.assertTrue(rp.closed)
        with self.assertRaises(ticketring.ClosedError):
            rp.check(b"v")
        self.assertFalse(freed(rp._owner))
        clock.advance(ms=1000)
        self.assertTrue(r.check_early_data(tag, clock() - 10, 10, b"w" * 32))
        with self.assertRaises(ticketring.Replayed):
            r.check_early_data(tag, clock() - 10, 10, b"w" * 32)
        r.close()
        self.assertTrue(freed(rp._owner))

    def test_close_waits_for_running_calls(self):
        """Threads sealing while another closes: each call either runs on
        a live ring or raises ClosedError; none runs on a freed one."""
        clock = tu.Clock()
        r = ticketring.Ring(clock=clock)
        r.generate_key(T0)
        started = threading.Barrier(5)
        results = [None] * 4

        def worker(k):
            n = 0
            started.wait()
            try:
                while True:
                    t = r.seal(b"%d" % n)
                    if r.open(t).state != b"%d" % n:
                        results[k] = "wrong state"
                        return
                    n += 1
            except ticketring.ClosedError:
                results[k] = "closed"
            except Exception as e:  # noqa: BLE001
                results[k] = repr(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        started.wait()
        # let the workers get going: the ring's own counter says when
        deadline = time.monotonic() + 60
        while r.stats()["sealed"] < 400 and time.monotonic() < deadline:
            pass
        r.close()
        for t in threads:
            t.join()
        self.assertEqual(results, ["closed"] * 4)
        self.assertTrue(freed(r._owner))

    def test_close_from_a_callback_is_refused(self):
        clock = tu.Clock()
        path = self.path("keys")
        tu.key_file(path, clock, [T0 - 10])
        seen = []
        box = {}

        def log(level, msg):
            seen.append((level, msg))
            try:
                box["ring"].close()
            except ticketring.CallbackError as e:
                seen.append(("refused", e))

        r = ticketring.Ring(clock=clock, log=log)
        box["ring"] = r
        r.load(path)
        self.assertTrue(any(lvl == ticketring.LOG_INFO and path in m for lvl, m in seen
                            if lvl != "refused"))
        self.assertTrue(any(lvl == "refused" for lvl, _ in seen))
        self.assertFalse(r.closed)
        r.seal(b"still usable")
        r.close()

    def test_watcher_thread_calls_the_log_sink(self):
        """The log sink runs on the watcher's C thread; freeing the ring
        (here by garbage collection) stops the watcher first."""
        clock = tu.Clock()
        path = self.path("keys")
        tu.key_file(path, clock, [T0 - 10])
        lines, threads_seen = [], set()
        want = {}
        reloaded = threading.Event()

        def log(level, msg):
            lines.append(msg)
            threads_seen.add(threading.get_ident())
            if "fp" in want and want["fp"] in msg:
                reloaded.set()

        r = ticketring.Ring(path, clock=clock, log=log)
        owner = r._owner
        r.watch(1)
        with ticketring.Ring(path, clock=clock) as w:
            w.generate_key(T0 - 5)
            want["fp"] = w.fingerprint()  # the reload logs it
            w.save(path)
        self.assertTrue(reloaded.wait(60), "watcher never reloaded: %r" % lines)
        self.assertEqual(r.fingerprint(), want["fp"])
        self.assertIn(threading.get_ident(), threads_seen)  # the first load
        self.assertEqual(len(threads_seen), 2)              # and the watcher
        del r
        gc.collect()
        self.assertTrue(freed(owner))

    def test_callback_exception_is_contained(self):
        """A raising random source fails the call cleanly (TR_E_CRYPTO)
        instead of leaving a buffer unfilled."""
        def bad_random(n):
            raise RuntimeError("no entropy")
        with ticketring.Ring(clock=tu.Clock(), random=bad_random) as r:
            with self.assertLogs("ticketring", "ERROR"):
                with self.assertRaises(ticketring.TicketringError) as cm:
                    r.generate_key(T0)
            self.assertEqual(cm.exception.code, ticketring.CryptoFailure.code)
        with ticketring.Ring(clock=tu.Clock(), random=lambda n: os.urandom(n - 1)) as r:
            with self.assertLogs("ticketring", "ERROR"):
                with self.assertRaises(ticketring.CryptoFailure):
                    r.generate_key(T0)


if __name__ == "__main__":
    unittest.main()
