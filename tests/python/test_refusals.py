"""Every reason a ticket is refused raises its own class, with the C code,
the library's text, and the refusal counted under that reason."""

import unittest

import ticketring
import tu
from tu import T0

SNI, ALPN, CTX = "www.example.com", "h2", b"tenant=42"


class Refusals(unittest.TestCase):
    def setUp(self):
        self.clock = tu.Clock()
        self.ring = ticketring.Ring(clock=self.clock)
        self.addCleanup(self.ring.close)
        self.ring.generate_key(T0 - 10)
        self.ticket = self.ring.seal(b"session", sni=SNI, alpn=ALPN, app_ctx=CTX)

    def refused(self, cls, code, counter, ticket=None, **binding):
        args = dict(sni=SNI, alpn=ALPN, app_ctx=CTX)
        args.update(binding)
        before = self.ring.stats()[counter]
        with self.assertRaises(cls) as cm:
            self.ring.open(self.ticket if ticket is None else ticket, **args)
        e = cm.exception
        self.assertIs(type(e), cls)
        self.assertIsInstance(e, ticketring.TicketRefused)
        self.assertEqual(e.code, code)
        self.assertEqual(e.reason, ticketring.strerror(code))
        self.assertEqual(self.ring.stats()[counter], before + 1)
        return e

    def test_accepted_first(self):
        self.assertEqual(self.ring.open(self.ticket, sni=SNI, alpn=ALPN, app_ctx=CTX).state,
                         b"session")

    def test_malformed(self):
        self.refused(ticketring.TicketMalformed, -20, "refused_malformed", ticket=b"\x01short")
        self.refused(ticketring.TicketMalformed, -20, "refused_malformed", ticket=b"")
        bad = bytearray(self.ticket)
        bad[0] ^= 0xFF  # format version
        self.refused(ticketring.TicketMalformed, -20, "refused_malformed", ticket=bytes(bad))
        too_long = b"\x01" * (ticketring.sizes()["ticket_max_bytes"] + 1)
        self.refused(ticketring.TicketMalformed, -20, "refused_malformed", ticket=too_long)

    def test_unknown_key(self):
        with ticketring.Ring(clock=self.clock) as other:
            other.generate_key(T0 - 10)
            t = other.seal(b"session", sni=SNI, alpn=ALPN, app_ctx=CTX)
        self.refused(ticketring.TicketUnknownKey, -21, "refused_unknown_key", ticket=t)

    def test_auth(self):
        bad = bytearray(self.ticket)
        bad[-1] ^= 1
        self.refused(ticketring.TicketAuth, -22, "refused_auth", ticket=bytes(bad))
        bad = bytearray(self.ticket)
        bad[len(bad) // 2] ^= 0x80
        self.refused(ticketring.TicketAuth, -22, "refused_auth", ticket=bytes(bad))

    def test_expired(self):
        self.clock.advance(seconds=7200 + 61)
        self.refused(ticketring.TicketExpired, -23, "refused_expired")

    def test_expired_by_shorter_lifetime(self):
        self.ring.set_lifetime(60)
        self.clock.advance(seconds=60 + 61)
        self.refused(ticketring.TicketExpired, -23, "refused_expired")

    def test_future(self):
        self.clock.advance(seconds=-61)
        self.refused(ticketring.TicketFuture, -24, "refused_future")

    def test_sni(self):
        self.refused(ticketring.TicketSNI, -25, "refused_sni", sni="other.example.com")
        self.refused(ticketring.TicketSNI, -25, "refused_sni", sni=None)
        # ASCII case does not matter
        self.ring.open(self.ticket, sni=SNI.upper(), alpn=ALPN, app_ctx=CTX)

    def test_alpn(self):
        self.refused(ticketring.TicketALPN, -26, "refused_alpn", alpn="http/1.1")

    def test_context(self):
        self.refused(ticketring.TicketContext, -27, "refused_context", app_ctx=b"tenant=43")
        self.refused(ticketring.TicketContext, -27, "refused_context", app_ctx=None)

    def test_refusal_classes_group(self):
        """Catching the group catches every reason; the tree stays apart
        from early-data refusals."""
        for cls in (ticketring.TicketMalformed, ticketring.TicketUnknownKey,
                    ticketring.TicketAuth, ticketring.TicketExpired, ticketring.TicketFuture,
                    ticketring.TicketSNI, ticketring.TicketALPN, ticketring.TicketContext,
                    ticketring.TicketUnbound):
            self.assertTrue(issubclass(cls, ticketring.TicketRefused))
            self.assertFalse(issubclass(cls, ticketring.EarlyDataRefused))


if __name__ == "__main__":
    unittest.main()
