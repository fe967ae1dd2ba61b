"""Ring basics through the binding: round trip, key files, reload,
fingerprint, policy setters, sizes and the error table."""

import os
import unittest

import ticketring
import tu
from tu import T0


class RoundTrip(tu.TempDir):
    def test_seal_open_every_backend(self):
        for b in tu.backends():
            with self.subTest(backend=b):
                clock = tu.Clock()
                with ticketring.Ring(backend=b, clock=clock) as r:
                    name = r.generate_key(T0 - 10)
                    state = bytes(range(256)) * 3
                    ticket, lifetime = r.seal_with_lifetime(
                        state, sni="www.example.com", alpn=b"h2", app_ctx=b"tenant=1")
                    self.assertEqual(len(ticket), len(state) + ticketring.sizes()["ticket_overhead"])
                    self.assertEqual(lifetime, 7200)
                    clock.advance(ms=1500)
                    o = r.open(ticket, sni="www.example.com", alpn="h2", app_ctx="tenant=1")
                    self.assertEqual(o.state, state)
                    self.assertEqual(o.key_name, name)
                    self.assertEqual(o.auth_time, T0)
                    self.assertEqual(o.age_ms, 1500)
                    self.assertFalse(o.renew)
                    # Empty state, no binding at all.
                    self.assertEqual(r.open(r.seal(b"")).state, b"")
                    # Any bytes-like object goes in.
                    self.assertEqual(r.open(r.seal(bytearray(b"ab"))).state, b"ab")
                    self.assertEqual(r.open(r.seal(memoryview(b"cd"))).state, b"cd")

    def test_cross_backend(self):
        """A ticket sealed by one backend opens with the other (the same
        key file in both rings)."""
        bs = tu.backends()
        if len(bs) < 2:
            self.skipTest("one backend built")
        clock = tu.Clock()
        path = self.path("keys")
        tu.key_file(path, clock, [T0 - 100])
        for a, b in ((bs[0], bs[1]), (bs[1], bs[0])):
            with ticketring.Ring(path, backend=a, clock=clock) as ra, \
                    ticketring.Ring(path, backend=b, clock=clock) as rb:
                self.assertEqual(ra.fingerprint(), rb.fingerprint())
                t = ra.seal(b"across", sni="x.example", alpn="h2")
                self.assertEqual(rb.open(t, sni="x.example", alpn="h2").state, b"across")

    def test_renewal_carries_auth_time(self):
        clock = tu.Clock()
        with ticketring.Ring(clock=clock) as r:
            r.generate_key(T0 - 10)
            t = r.seal(b"s", auth_time=T0 - 600)
            o = r.open(t)
            self.assertEqual(o.auth_time, T0 - 600)
            # max age (default 86400) shortens the lifetime to advertise
            _, life = r.seal_with_lifetime(b"s", auth_time=T0 - 86400 + 100)
            self.assertEqual(life, 100)

    def test_no_encrypt_key(self):
        with ticketring.Ring(clock=tu.Clock()) as r:
            with self.assertRaises(ticketring.NoEncryptKey) as cm:
                r.seal(b"x")
            self.assertEqual(cm.exception.code, -16)
            r.generate_key(ticketring.ACTIVATION_PENDING)
            with self.assertRaises(ticketring.NoEncryptKey):
                r.seal(b"x")


class KeyFiles(tu.TempDir):
    def test_load_fingerprint_reload(self):
        clock = tu.Clock()
        path = self.path("keys")
        fp1 = tu.key_file(path, clock, [T0 - 3600, T0 - 60])
        with ticketring.Ring(path, clock=clock) as r:
            self.assertEqual(r.fingerprint(), fp1)
            self.assertEqual(len(r.fingerprint()), ticketring.sizes()["fingerprint_hex"])
            keys = r.keys()
            self.assertEqual([k.role for k in keys], [ticketring.KEY_DECRYPT,
                                                       ticketring.KEY_ENCRYPT])
            self.assertEqual([k.activation for k in keys], [T0 - 3600, T0 - 60])
            self.assertEqual(r.encrypt_key_name(), keys[1].name)
            old = r.seal(b"before")
            self.assertNotEqual(r.serial, 0)

            # A new file with one more key: reload picks it up, old tickets
            # still open (renew: their key no longer encrypts).
            with ticketring.Ring(path, clock=clock) as writer:
                writer.generate_key(T0 - 1)
                writer.save(path)
                fp2 = writer.fingerprint()
            self.assertNotEqual(fp2, fp1)
            r.reload()
            self.assertEqual(r.fingerprint(), fp2)
            o = r.open(old)
            self.assertEqual(o.state, b"before")
            self.assertTrue(o.renew)
            self.assertFalse(r.reload_check())  # nothing changed since
            self.assertEqual(r.stats()["reloads"], 2)

    def test_key_file_errors(self):
        bad = self.path("bad")
        with open(bad, "w") as f:
            f.write("this is not a key file\n")
        os.chmod(bad, 0o600)
        with self.assertRaises(ticketring.KeyFileSyntax) as cm:
            ticketring.Ring(bad)
        self.assertIsInstance(cm.exception, ticketring.KeyFileError)
        self.assertEqual(cm.exception.line, 1)
        self.assertEqual(cm.exception.code, -10)
        with self.assertRaises(ticketring.FileAccessError) as cm:
            ticketring.Ring(self.path("missing"))
        self.assertIsInstance(cm.exception, OSError)
        with ticketring.Ring() as r:
            with self.assertRaises(ticketring.NoKeyFile):
                r.reload()

    def test_keys_add_remove_revoke(self):
        clock = tu.Clock()
        with ticketring.Ring(clock=clock) as r:
            key = bytes(range(1, 81))
            r.add_key(key, T0 - 5)
            self.assertEqual(r.encrypt_key_name(), key[:16])
            with self.assertRaises(ticketring.KeyDuplicate):
                r.add_key(key, T0)
            with self.assertRaises(ticketring.KeyZero):
                r.add_key(bytes(80), T0)
            with self.assertRaises(ticketring.InvalidArgument):
                r.add_key(key[:79], T0)
            t = r.seal(b"x")
            r.revoke_key(key[:16])
            with self.assertRaises(ticketring.TicketUnknownKey):
                r.open(t)
            self.assertEqual(r.keys()[0].role, ticketring.KEY_REVOKED)
            r.remove_key(key[:16])
            self.assertEqual(r.keys(), [])
            with self.assertRaises(ticketring.KeyNotFound):
                r.remove_key(key[:16])


class Policy(unittest.TestCase):
    def test_setters_accept_and_refuse(self):
        with ticketring.Ring() as r:
            r.set_lifetime(60)
            r.set_skew(0)
            r.set_bind_sni(False)
            r.set_bind_alpn(True)
            r.set_max_age(3600)
            r.set_rotation_period(86400)
            r.set_exhausted_policy(ticketring.EXHAUSTED_STOP)
            r.set_max_encrypt_age(0)
            r.set_file_mode_policy(ticketring.FILE_MODE_REFUSE)
            r.set_activation_horizon(0)
            for call in (lambda: r.set_lifetime(0), lambda: r.set_lifetime(604801),
                         lambda: r.set_skew(3601), lambda: r.set_exhausted_policy(7),
                         lambda: r.set_file_mode_policy(3), lambda: r.set_cluster("bad id!")):
                with self.assertRaises(ticketring.InvalidArgument) as cm:
                    call()
                self.assertIsInstance(cm.exception, ValueError)
                self.assertEqual(cm.exception.code, -1)
            # out of the C type's range: refused, not silently truncated
            # (2**32 + 60 would reach C as 60)
            for call in (lambda: r.set_lifetime(2 ** 32 + 60), lambda: r.set_skew(-1),
                         lambda: r.generate_key(2 ** 63)):
                with self.assertRaises(ticketring.InvalidArgument):
                    call()
            with self.assertRaises(TypeError):
                r.set_lifetime("60")
            self.assertEqual(r.cluster, "")
            longest = "c" * ticketring.sizes()["cluster_id_max"]
            r.set_cluster(longest)
            self.assertEqual(r.cluster, longest)
            r.set_cluster(None)
            self.assertEqual(r.cluster, "")

    def test_bind_sni_off(self):
        clock = tu.Clock()
        with ticketring.Ring(clock=clock) as r:
            r.generate_key(T0)
            t = r.seal(b"x", sni="a.example")
            with self.assertRaises(ticketring.TicketSNI):
                r.open(t, sni="b.example")
            r.set_bind_sni(False)
            self.assertEqual(r.open(t, sni="b.example").state, b"x")


class Library(unittest.TestCase):
    def test_version_and_sizes_come_from_the_library(self):
        lib = ticketring.library()
        self.assertEqual(ticketring.version(), lib.version)
        self.assertEqual(ticketring.version_string(), "%d.%d.%d" % lib.version)
        self.assertGreaterEqual(ticketring.version(), (0, 3, 0))
        s = ticketring.sizes()
        self.assertEqual(s["ticket_max_bytes"], s["ticket_max_state"] + s["ticket_overhead"])
        self.assertEqual(s["key_bytes"], lib.tr_key_bytes())
        self.assertTrue(all(isinstance(v, int) and v > 0 for v in s.values()))

    def test_every_c_error_has_a_class(self):
        """Every code the loaded library names has its own exception class
        carrying that code and the library's text, and the binding names
        no code the library does not."""
        lib = ticketring.library()
        unknown = lib.strerror(-100000)
        c_codes = {c for c in range(-1, -1000, -1) if lib.strerror(c) != unknown}
        self.assertEqual(c_codes, set(ticketring.errors.CODES))
        classes = set()
        for code in sorted(c_codes, reverse=True):
            e = ticketring.errors.from_code(code, lib.strerror(code))
            self.assertIs(type(e), ticketring.errors.CODES[code][1])
            self.assertEqual(e.code, code)
            self.assertEqual(e.reason, lib.strerror(code))
            self.assertIn(ticketring.errors.CODES[code][0], str(e))
            self.assertIsInstance(e, ticketring.TicketringError)
            classes.add(type(e))
        self.assertEqual(len(classes), len(c_codes))
        e = ticketring.errors.from_code(-999, unknown)
        self.assertIs(type(e), ticketring.TicketringError)
        self.assertEqual(e.code, -999)

    def test_missing_library_is_reported(self):
        with self.assertRaises(ticketring.LibraryError):
            ticketring.Library(libdir=["/nonexistent"])

    def test_unknown_backend(self):
        with self.assertRaises(ticketring.LibraryError):
            ticketring.Ring(backend="nosuchbackend")


if __name__ == "__main__":
    unittest.main()
