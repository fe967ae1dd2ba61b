"""The replay cache and the ring's early-data policy, driven by an
injected clock."""

import unittest

import ticketring
import tu

WINDOW = 2000


class Cache(unittest.TestCase):
    def setUp(self):
        self.clock = tu.Clock()
        self.rp = ticketring.ReplayCache(100, WINDOW, clock=self.clock)
        self.addCleanup(self.rp.close)

    def past_startup(self):
        self.clock.advance(ms=WINDOW)

    def test_startup_window(self):
        with self.assertRaises(ticketring.ReplayStartup) as cm:
            self.rp.check(b"a" * 32)
        self.assertEqual(cm.exception.code, -31)
        self.assertIsInstance(cm.exception, ticketring.EarlyDataRefused)
        self.clock.advance(ms=WINDOW - 1)
        with self.assertRaises(ticketring.ReplayStartup):
            self.rp.check(b"b" * 32)
        self.clock.advance(ms=1)
        self.assertIs(self.rp.check(b"c" * 32), True)
        # recorded during start-up all the same
        with self.assertRaises(ticketring.Replayed):
            self.rp.check(b"b" * 32)

    def test_first_seen_then_replay(self):
        self.past_startup()
        v = bytes(range(32))
        self.assertIs(self.rp.check(v), True)
        with self.assertRaises(ticketring.Replayed) as cm:
            self.rp.check(v)
        self.assertEqual(cm.exception.code, -29)
        self.assertEqual(cm.exception.reason, ticketring.strerror(-29))
        self.assertIs(self.rp.check(bytes(range(1, 33))), True)
        s = self.rp.stats()
        self.assertEqual((s["fresh"], s["replays"], s["startup"], s["full"]), (2, 1, 0, 0))
        self.assertEqual(s["window_ms"], WINDOW)
        self.assertGreaterEqual(s["capacity"], 100)
        self.assertGreater(s["bytes"], 0)

    def test_window(self):
        """Remembered for exactly the window: a replay one millisecond
        before its end is caught, at its end the value is new again."""
        self.past_startup()
        v = b"client hello random".ljust(32, b".")
        self.rp.check(v)
        self.clock.advance(ms=WINDOW - 1)
        with self.assertRaises(ticketring.Replayed):
            self.rp.check(v)
        self.clock.advance(ms=1)
        self.assertIs(self.rp.check(v), True)

    def test_full_refuses_and_forgets_nothing(self):
        self.past_startup()
        slots = self.rp.stats()["slots"]
        seen = []
        with self.assertRaises(ticketring.ReplayCacheFull) as cm:
            for i in range(slots + 1):
                v = i.to_bytes(8, "big") * 4
                self.rp.check(v)
                seen.append(v)
        self.assertEqual(cm.exception.code, -30)
        self.assertGreaterEqual(len(seen), 100)  # at least the capacity asked for
        for v in seen:
            with self.assertRaises(ticketring.Replayed):
                self.rp.check(v)
        self.assertEqual(self.rp.stats()["full"], 1)

    def test_value_limits(self):
        self.past_startup()
        vmax = ticketring.sizes()["replay_value_max"]
        self.assertIs(self.rp.check(b"x" * vmax), True)
        for bad in (b"", b"x" * (vmax + 1)):
            with self.assertRaises(ticketring.InvalidArgument):
                self.rp.check(bad)

    def test_bad_construction(self):
        for cap, window in ((0, WINDOW), (ticketring.sizes()["replay_max_capacity"] + 1, WINDOW),
                            (10, 999)):
            with self.assertRaises(ticketring.InvalidArgument):
                ticketring.ReplayCache(cap, window)


class EarlyData(unittest.TestCase):
    def setUp(self):
        self.clock = tu.Clock()
        self.ring = ticketring.Ring(clock=self.clock)
        self.addCleanup(self.ring.close)
        self.rp = ticketring.ReplayCache(1000, WINDOW, clock=self.clock)
        self.addCleanup(self.rp.close)

    def check(self, tag, age_ms=300, value=b"r" * 32):
        now = self.clock()
        return self.ring.check_early_data(tag, now - age_ms, age_ms, value)

    def test_off_by_default(self):
        self.assertEqual(self.ring.early_data_max(), 0)
        self.assertEqual(self.ring.early_data_tag(), 0)
        with self.assertRaises(ticketring.EarlyDataOff) as cm:
            self.check(1)
        self.assertEqual(cm.exception.code, -32)

    def test_policy_order(self):
        self.ring.set_early_data(16384, self.rp)
        self.assertIs(self.ring.replay, self.rp)
        self.assertEqual(self.ring.early_data_max(), 16384)
        tag = self.ring.early_data_tag()
        self.assertNotEqual(tag, 0)
        with self.assertRaises(ticketring.EarlyDataNode):
            self.check(tag ^ 1)
        with self.assertRaises(ticketring.EarlyDataNode):
            self.check(0)
        # the client says 300 ms, but the ticket was issued 5 s ago
        with self.assertRaises(ticketring.EarlyDataStale):
            self.ring.check_early_data(tag, self.clock() - 5000, 300, b"s" * 32)
        with self.assertRaises(ticketring.ReplayStartup):
            self.check(tag, value=b"1" * 32)
        self.clock.advance(ms=WINDOW)
        self.assertIs(self.check(tag, value=b"2" * 32), True)
        with self.assertRaises(ticketring.Replayed):
            self.check(tag, value=b"2" * 32)
        self.ring.set_early_data(0)
        self.assertEqual(self.ring.early_data_max(), 0)
        with self.assertRaises(ticketring.EarlyDataOff):
            self.check(tag, value=b"3" * 32)

    def test_refused_max(self):
        with self.assertRaises(ticketring.InvalidArgument):
            self.ring.set_early_data(16384)  # no cache
        with self.assertRaises(ticketring.InvalidArgument):
            self.ring.set_early_data(16777217, self.rp)
        # a refused setting pins nothing: the cache closes and frees at once
        owner = self.rp._owner
        self.rp.close()
        self.assertIsNone(owner._ptr)


if __name__ == "__main__":
    unittest.main()
