#!/usr/bin/env python3
"""A round-robin TLS client over a fleet, run in the background by a test
(stdlib only).

  fleet_client.py CAFILE DIR NAME=PORT [NAME=PORT ...]

Connects to the nodes in turn, each connection offering the session of the
previous one (which another node issued), over TLS 1.2, and sends one
GET / (Connection: close). The test steers it with files in DIR:
  skip   node names to leave out, one per line (a frozen node)
  stop   present: finish, write DIR/summary and exit
  phase  a label counted separately (a fault under way)
It appends one line per connection to DIR/log ("PHASE NODE resumed|full|error
DETAIL") and writes DIR/summary: connections, offered (with a session),
resumed, full, errors, overall and per phase.
"""
import os
import socket
import ssl
import sys
import time


def read_lines(path):
    try:
        with open(path) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return []


def one(ctx, port, session):
    with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
        raw.settimeout(3)
        with ctx.wrap_socket(raw, server_hostname="localhost", session=session) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            body = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                body += chunk
            if not body.startswith(b"HTTP/1.1 200"):
                raise RuntimeError("answer: %r" % body[:40])
            return s.session_reused, s.session


def main():
    cafile, d = sys.argv[1], sys.argv[2]
    nodes = [(a.split("=")[0], int(a.split("=")[1])) for a in sys.argv[3:]]
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    stats = {}
    session, i = None, 0
    with open(os.path.join(d, "log"), "a", buffering=1) as log:
        while not os.path.exists(os.path.join(d, "stop")):
            skip = set(read_lines(os.path.join(d, "skip")))
            phase = (read_lines(os.path.join(d, "phase")) or ["steady"])[0]
            live = [n for n in nodes if n[0] not in skip]
            if not live:
                time.sleep(0.05)
                continue
            name, port = live[i % len(live)]
            i += 1
            st = stats.setdefault(phase, [0, 0, 0, 0])  # conns, offered, resumed, errors
            st[0] += 1
            offered = session is not None
            st[1] += offered
            try:
                reused, session = one(ctx, port, session)
                st[2] += reused
                log.write("%s %s %s\n" % (phase, name, "resumed" if reused else "full"))
            except (OSError, ssl.SSLError, RuntimeError) as e:
                st[3] += 1
                session = None
                log.write("%s %s error %s\n" % (phase, name, str(e).replace("\n", " ")))
            time.sleep(0.01)
    with open(os.path.join(d, "summary"), "w") as out:
        total = [0, 0, 0, 0]
        for phase, st in stats.items():
            total = [a + b for a, b in zip(total, st)]
            out.write("%s %d %d %d %d\n" % (phase, *st))
        out.write("all %d %d %d %d\n" % tuple(total))


if __name__ == "__main__":
    main()
