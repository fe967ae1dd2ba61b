"""Statistics through the C accessors (tr_stats_name, tr_ring_stat ...):
the dict's keys are the library's names, which are the header's fields."""

import re
import unittest

import ticketring
import tu
from tu import T0


def header_fields(struct):
    """The field names of `typedef struct <struct> {...}` in ticketring.h,
    in order, without the size/reserved header."""
    path = tu.source_file("TICKETRING_TEST_HEADER", "include", "ticketring", "ticketring.h")
    with open(path) as f:
        text = f.read()
    m = re.search(r"typedef struct %s \{(.*?)\} %s;" % (struct, struct), text, re.S)
    if m is None:
        raise AssertionError("no struct %s in %s" % (struct, path))
    body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
    names = re.findall(r"\buint(?:32|64)_t\s+(\w+)\s*;", body)
    return [n for n in names if n not in ("size", "reserved")]


def c_names(count, name):
    lib = ticketring.library()
    return [getattr(lib, name)(i).decode() for i in range(getattr(lib, count)())]


class RingStats(unittest.TestCase):
    def test_keys_are_the_c_names_and_the_header_fields(self):
        with ticketring.Ring() as r:
            keys = list(r.stats())
        self.assertEqual(keys, c_names("tr_stats_count", "tr_stats_name"))
        self.assertEqual(keys, header_fields("tr_stats"))
        lib = ticketring.library()
        self.assertIsNone(lib.tr_stats_name(lib.tr_stats_count()))

    def test_values(self):
        clock = tu.Clock()
        with ticketring.Ring(clock=clock) as r:
            self.assertEqual(set(r.stats().values()), {0})
            r.generate_key(T0 - 5)
            tickets = [r.seal(b"%d" % i, sni="a.example") for i in range(5)]
            for t in tickets[:3]:
                r.open(t, sni="a.example")
            for sni in ("b.example", "c.example"):
                with self.assertRaises(ticketring.TicketSNI):
                    r.open(tickets[4], sni=sni)
            with self.assertRaises(ticketring.TicketMalformed):
                r.open(b"")
            s = r.stats()
            self.assertEqual((s["sealed"], s["opened"], s["refused_sni"],
                              s["refused_malformed"]), (5, 3, 2, 1))
            # nothing else was counted: each value comes from its own field
            self.assertEqual(sum(s.values()), 11)

    def test_metrics_text(self):
        clock = tu.Clock()
        with ticketring.Ring(clock=clock) as r:
            r.generate_key(T0 - 5)
            for _ in range(3):
                r.seal(b"x")
            text = r.metrics()
            self.assertIn("# TYPE ticketring_tickets_issued_total counter\n", text)
            self.assertRegex(text, r"(?m)^ticketring_tickets_issued_total 3$")
            self.assertIn('fingerprint="%s"' % r.fingerprint(), text)
            self.assertTrue(text.endswith("\n"))

    def test_metrics_larger_than_the_first_buffer(self):
        """The binding retries with the size the library reports."""
        with ticketring.Ring(clock=tu.Clock()) as r:
            for i in range(ticketring.sizes()["ring_max_keys"]):
                r.generate_key(T0 - 1000 + i)
            whole = r.metrics()
            r._metrics_cap = 16
            self.assertEqual(r.metrics(), whole)
            self.assertGreater(len(whole), 16)


class ReplayStats(unittest.TestCase):
    def test_keys_are_the_c_names_and_the_header_fields(self):
        with ticketring.ReplayCache(100, 2000) as rp:
            keys = list(rp.stats())
        self.assertEqual(keys, c_names("tr_replay_stats_count", "tr_replay_stats_name"))
        self.assertEqual(keys, header_fields("tr_replay_stats"))


if __name__ == "__main__":
    unittest.main()
