"""Reload while several Python threads seal and open: ctypes releases the
GIL for each C call, so the threads really run inside the library at the
same time as the reloads."""

import threading
import time
import unittest

import ticketring
import tu

WORKERS = 6
ROTATIONS = 40      # new key files (each one key more: below TR_RING_MAX_KEYS)
MIN_ROUNDS = 200    # seal+open rounds every worker completes at least


class ReloadUnderLoad(tu.TempDir):
    def test_reload_while_sealing_and_opening(self):
        for b in tu.backends():
            with self.subTest(backend=b):
                self.run_load(b)

    def run_load(self, backend):
        # The real clock: key activations are spread over the past minute.
        now = int(time.time())
        path = self.path("keys-" + backend)
        writer = ticketring.Ring(backend=backend)
        self.addCleanup(writer.close)
        writer.generate_key(now - 3600)
        writer.save(path)
        ring = ticketring.Ring(path, backend=backend)
        self.addCleanup(ring.close)

        done = threading.Event()
        start = threading.Barrier(WORKERS + 1)
        failures, rounds = [], [0] * WORKERS
        lock = threading.Lock()

        def worker(k):
            sni = "w%d.example" % k
            start.wait()
            i = 0
            while i < MIN_ROUNDS or not done.is_set():
                state = b"%d:%d:" % (k, i) + bytes(i % 300)
                try:
                    t = ring.seal(state, sni=sni, alpn="h2", app_ctx=b"ctx")
                    o = ring.open(t, sni=sni, alpn="h2", app_ctx=b"ctx")
                    if o.state != state:
                        raise AssertionError("state differs")
                    # an earlier ticket, sealed under an earlier key set
                    if i and ring.open(prev, sni=sni, alpn="h2",
                                       app_ctx=b"ctx").state != prev_state:
                        raise AssertionError("earlier state differs")
                    prev, prev_state = t, state
                except Exception as e:  # noqa: BLE001 - every failure is reported
                    with lock:
                        failures.append("worker %d round %d: %r" % (k, i, e))
                    return
                i += 1
            rounds[k] = i

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(WORKERS)]
        for t in threads:
            t.start()
        start.wait()
        reload_errors = []
        try:
            for n in range(ROTATIONS):
                before = ring.seal(b"main %d" % n)
                writer.generate_key(now - 60 + n)
                writer.save(path)
                try:
                    if n % 2:
                        ring.reload()
                    else:
                        self.assertTrue(ring.reload_check())
                    o = ring.open(before)
                    if o.state != b"main %d" % n or not o.renew:
                        raise AssertionError("ticket of the previous key set: %r" % (o,))
                except (ticketring.TicketringError, AssertionError) as e:
                    reload_errors.append(repr(e))
        finally:
            done.set()
            for t in threads:
                t.join()

        self.assertEqual(failures, [])
        self.assertEqual(reload_errors, [])
        self.assertEqual(ring.fingerprint(), writer.fingerprint())
        self.assertEqual(ring.encrypt_key_name(), writer.encrypt_key_name())
        st = ring.stats()
        total = sum(rounds)
        self.assertGreaterEqual(min(rounds), MIN_ROUNDS)
        self.assertEqual(st["reloads"], 1 + ROTATIONS)
        self.assertEqual(st["reload_failures"], 0)
        self.assertEqual(st["sealed"], total + ROTATIONS)
        # every round opens its own ticket and all but the first the
        # previous one; the main thread one per rotation
        self.assertEqual(st["opened"], 2 * total - WORKERS + ROTATIONS)
        self.assertEqual(sum(v for k, v in st.items() if k.startswith("refused_")), 0)
        self.assertGreaterEqual(st["opened_renew"], ROTATIONS)


if __name__ == "__main__":
    unittest.main()
