#!/usr/bin/env python3
"""Python's ssl module as the client of the nginx interop test (stdlib only).

  interop_client.py VERSION SNI PORT_ISSUE ALPN_ISSUE PORT_RESUME ALPN_RESUME

Connects to 127.0.0.1:PORT_ISSUE (TLS 1.2 or 1.3 as VERSION says, SNI,
offering the comma-separated ALPN_ISSUE, "-" for none), GETs / and keeps
the session; then connects to PORT_RESUME offering that session and
ALPN_RESUME, and GETs / again. Prints two lines:

  issued reused=yes|no <first answer>
  resumed reused=yes|no <second answer>

The test script decides what is expected. Exit status 1 on any I/O error.
"""
import socket
import ssl
import sys

HOST = "127.0.0.1"
TIMEOUT = 30  # seconds; the machine is shared and may be busy
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def context(version):
    # The test's certificate is self-signed: what is checked here is
    # resumption, not the server's identity.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
    return ctx


def offer(ctx, alpn):
    # Python resumes a session only on the context that made it, so the
    # ALPN offer is changed on that context between the two connections.
    ctx.set_alpn_protocols([] if alpn == "-" else alpn.split(","))


def get(ctx, port, sni, session=None):
    """One GET / with Connection: close; returns (reused, body, session).
    Reading to the end lets a TLS 1.3 ticket (sent after the handshake)
    arrive before the session is taken."""
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni, session=session) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % sni.encode())
            data = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ssl.SSLZeroReturnError:
                    break
                if not chunk:
                    break
                data += chunk
            body = data.partition(b"\r\n\r\n")[2].decode(errors="replace").strip()
            return s.session_reused, body, s.session


def main(argv):
    if len(argv) != 7 or argv[1] not in VERSIONS:
        sys.stderr.write(__doc__)
        return 2
    version, sni, port1, alpn1, port2, alpn2 = argv[1:]
    ctx = context(version)
    offer(ctx, alpn1)
    reused, body, session = get(ctx, int(port1), sni)
    print("issued reused=%s %s" % ("yes" if reused else "no", body), flush=True)
    offer(ctx, alpn2)
    reused, body, _ = get(ctx, int(port2), sni, session)
    print("resumed reused=%s %s" % ("yes" if reused else "no", body), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
