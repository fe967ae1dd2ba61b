"""The committed test vectors (tests/vectors/ticket-v1.txt, made by the C
test suite): Python, given each vector's inputs, an injected clock and the
counter random source its header describes, seals exactly its `ticket`
bytes, and opens every `ticket` into its `state`, on every backend."""

import unittest

import ticketring
import tu

INT_FIELDS = {"now_ms", "random_seed", "key1_activation", "key2_activation", "auth_time"}


def parse(path):
    """The vectors as dicts: numbers as int, byte strings as bytes."""
    vectors, v = [], None
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, value = line.partition("=")
            if not sep:
                raise ValueError("%s:%d: not 'name = value'" % (path, n))
            name, value = name.strip(), value.strip()
            if name == "vector":
                v = {"vector": value}
                vectors.append(v)
            elif v is None:
                raise ValueError("%s:%d: %s before any vector" % (path, n, name))
            elif name in INT_FIELDS:
                v[name] = int(value)
            else:
                v[name] = bytes.fromhex(value)
    return vectors


VECTORS = parse(tu.source_file("TICKETRING_TEST_VECTORS", "tests", "vectors", "ticket-v1.txt"))


def vector_ring(v, backend, seed):
    """The ring the header describes: clock and random (seed None: the
    backend's own) installed before any key, keys added in file order."""
    clock = lambda: v["now_ms"]  # noqa: E731
    r = ticketring.Ring(backend=backend, clock=clock,
                        random=None if seed is None else tu.CounterRandom(seed))
    r.add_key(v["key1"], v["key1_activation"])
    if "key2" in v:
        r.add_key(v["key2"], v["key2_activation"])
    return r


def binding(v):
    return dict(sni=v["sni"] or None, alpn=v["alpn"] or None, app_ctx=v["app_ctx"] or None)


class Vectors(unittest.TestCase):
    def test_file_is_complete(self):
        self.assertGreaterEqual(len(VECTORS), 8)
        for v in VECTORS:
            for f in ("now_ms", "random_seed", "key1", "key1_activation", "sni", "alpn",
                      "app_ctx", "auth_time", "state", "sealed_by", "ticket"):
                self.assertIn(f, v, "%s lacks %s" % (v["vector"], f))

    def test_python_seals_every_vector_byte_for_byte(self):
        for b in tu.backends():
            for v in VECTORS:
                with self.subTest(backend=b, vector=v["vector"]):
                    with vector_ring(v, b, v["random_seed"]) as r:
                        self.assertEqual(r.encrypt_key_name(), v["sealed_by"])
                        t = r.seal(v["state"], auth_time=v["auth_time"], **binding(v))
                        self.assertEqual(t.hex(), v["ticket"].hex())

    def test_python_opens_every_vector(self):
        for b in tu.backends():
            for v in VECTORS:
                with self.subTest(backend=b, vector=v["vector"]):
                    # Fresh random salts: the ticket does not depend on them.
                    with vector_ring(v, b, None) as r:
                        o = r.open(v["ticket"], **binding(v))
                        self.assertEqual(o.state, v["state"])
                        self.assertEqual(o.key_name, v["sealed_by"])
                        self.assertEqual(o.auth_time, v["auth_time"] or v["now_ms"] // 1000)
                        self.assertEqual(o.age_ms, 0)

    def test_vector_refused_when_altered(self):
        """The vectors are checked for real: one flipped byte is refused."""
        v = VECTORS[0]
        for b in tu.backends():
            with self.subTest(backend=b), vector_ring(v, b, None) as r:
                bad = bytearray(v["ticket"])
                bad[-1] ^= 1
                with self.assertRaises(ticketring.TicketAuth):
                    r.open(bytes(bad), **binding(v))


if __name__ == "__main__":
    unittest.main()
