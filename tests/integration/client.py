#!/usr/bin/env python3
"""Real-client checks against ticketring-openssl-server and
ticketring-mbedtls-server nodes (stdlib only).

  client.py resume CAFILE PORT_A NAME_A PORT_B NAME_B [VERSIONS]
      Python's ssl module resumes, on node B, a session from node A, for
      each TLS version of VERSIONS (default "1.2,1.3"; mbedTLS nodes: "1.2")
      (session_reused, and B's answer says so).
  client.py no-resume CAFILE PORT_A PORT_B [VERSIONS]
      Nodes without shared keys: a session of A is not resumed on B, but is
      on A itself (the TLS library's per-process tickets work).
  client.py alpn CAFILE PORT
      ALPN: http/1.1 is selected; an offer with no match continues without.
  client.py http CAFILE PORT
      HTTP/1.1 handling: keep-alive, pipelining, Connection: close, HEAD,
      404, 405, malformed and oversized heads, resets, many connections.
  client.py load CAFILE PORT_A PORT_B [VERSIONS]
      8 client threads at once, each alternating between the two nodes and
      resuming its previous session every time (the TLS versions of
      VERSIONS, default "1.2,1.3", in turn).
  client.py cap CAFILE PORT MAX
      A node started with --max-conns MAX refuses connection MAX + 1.
  client.py idle CAFILE PORT
      A node started with --idle-timeout 1 closes an idle connection.
  client.py sigterm CAFILE PORT PID
      With connections in every state open, SIGTERM the node: each is closed.

Each check prints one "ok" line; the first failure raises (exit status 1).
"""
import os
import signal
import socket
import ssl
import struct
import sys
import time

HOST = "127.0.0.1"
SNI = "localhost"
TIMEOUT = 30  # seconds; the servers run under AddressSanitizer
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
checks = 0


def ok(msg):
    global checks
    checks += 1
    print("ok - " + msg, flush=True)


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def context(cafile, version=None, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def connect(ctx, port, session=None):
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    try:
        return ctx.wrap_socket(raw, server_hostname=SNI, session=session)
    except BaseException:
        raw.close()
        raise


def request(path="/", method="GET", close=True, extra=""):
    conn = "Connection: close\r\n" if close else ""
    return ("%s %s HTTP/1.1\r\nHost: localhost\r\n%s%s\r\n" % (method, path, conn, extra)).encode()


def read_response(sock, buf=b""):
    """One response (head + Content-Length body) from sock: (status, headers,
    body, leftover bytes)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        expect(chunk, "connection closed before a complete response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    return status, headers, rest, length


def get_response(sock, buf=b"", head_only=False):
    status, headers, rest, length = read_response(sock, buf)
    if head_only:
        return status, headers, b"", rest
    while len(rest) < length:
        chunk = sock.recv(65536)
        expect(chunk, "connection closed in the middle of a body")
        rest += chunk
    return status, headers, rest[:length], rest[length:]


def closed_by_peer(sock):
    """True when the server has closed: EOF, close_notify or a reset."""
    try:
        return sock.recv(1) == b""
    except (ssl.SSLZeroReturnError, ConnectionResetError, ssl.SSLEOFError):
        return True


def fields(body):
    return dict(line.split(": ", 1) for line in body.decode().splitlines() if ": " in line)


def get(ctx, port, session=None, path="/"):
    """GET path, read the whole answer; returns (socket info, fields, session)."""
    with connect(ctx, port, session) as s:
        s.sendall(request(path))
        status, _, body, _ = get_response(s)
        expect(status == 200, "GET %s answered %d" % (path, status))
        closed_by_peer(s)  # a TLS 1.3 ticket may follow the handshake: take it
        return s.session_reused, s.selected_alpn_protocol(), fields(body), s.session


def cmd_resume(cafile, port_a, name_a, port_b, name_b, versions="1.2,1.3"):
    for version in versions.split(","):
        ctx = context(cafile, version)
        reused, _, info, session = get(ctx, int(port_a))
        expect(not reused and info["resumed"] == "no", "TLS %s: first connection resumed" % version)
        expect(info["node"] == name_a, "TLS %s: answer from %s" % (version, info["node"]))
        expect(session is not None and session.has_ticket, "TLS %s: no ticket from %s" % (version, name_a))
        ok("TLS %s: full handshake on %s, ticket received" % (version, name_a))
        reused, alpn, info, _ = get(ctx, int(port_b), session)
        expect(reused, "TLS %s: session of %s not reused on %s" % (version, name_a, name_b))
        want = {"node": name_b, "protocol": "TLSv" + version, "resumed": "yes",
                "ticket-origin": name_a, "alpn": "http/1.1"}
        for k, v in want.items():
            expect(info.get(k) == v, "TLS %s: %s says %s: %s, expected %s"
                   % (version, name_b, k, info.get(k), v))
        expect(alpn == "http/1.1", "TLS %s: ALPN %r" % (version, alpn))
        ok("TLS %s: session_reused on %s; it answers resumed: yes, ticket-origin: %s"
           % (version, name_b, name_a))


def cmd_no_resume(cafile, port_a, port_b, versions="1.2,1.3"):
    for version in versions.split(","):
        ctx = context(cafile, version)
        _, _, _, session = get(ctx, int(port_a))
        reused, _, info, _ = get(ctx, int(port_b), session)
        expect(not reused and info["resumed"] == "no",
               "TLS %s: nodes without shared keys resumed each other's session" % version)
        reused, _, info, _ = get(ctx, int(port_a), session)
        expect(reused and info["ticket-origin"] == "-",
               "TLS %s: the library's own tickets did not resume on the same node" % version)
        ok("TLS %s without --keys: resumed on the issuing node only" % version)


def cmd_alpn(cafile, port):
    for version in ("1.2", "1.3"):
        _, alpn, info, _ = get(context(cafile, version, alpn=("h2", "http/1.1")), int(port))
        expect(alpn == "http/1.1" and info["alpn"] == "http/1.1", "TLS %s: ALPN %r" % (version, alpn))
        _, alpn, info, _ = get(context(cafile, version, alpn=("h2", "spdy/3")), int(port))
        expect(alpn is None and info["alpn"] == "-", "TLS %s: no-match ALPN gave %r" % (version, alpn))
        _, alpn, info, _ = get(context(cafile, version, alpn=()), int(port))
        expect(alpn is None and info["alpn"] == "-", "TLS %s: no ALPN offered gave %r" % (version, alpn))
    ok("ALPN: http/1.1 selected; no overlap or no offer continues without ALPN (TLS 1.2, 1.3)")


def reset(sock):
    """Close with a TCP reset (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def error_status(ctx, port, data):
    """Send raw request bytes; expect one error answer and a close."""
    with connect(ctx, port) as s:
        s.sendall(data)
        status, headers, _, _ = get_response(s)
        expect(headers.get("connection") == "close", "error %d without Connection: close" % status)
        expect(closed_by_peer(s), "connection left open after error %d" % status)
        return status


def cmd_http(cafile, port):
    port = int(port)
    ctx = context(cafile)

    with connect(ctx, port) as s:
        for i in range(3):
            s.sendall(request(close=False))
            status, headers, body, _ = get_response(s)
            expect(status == 200 and headers["connection"] == "keep-alive", "keep-alive request %d" % i)
            expect(headers["content-type"].startswith("text/plain"), "content type")
        s.sendall(request("/metrics", close=False))
        status, headers, body, _ = get_response(s)
        expect(headers["content-type"].startswith("text/plain; version=0.0.4"), "metrics content type")
        expect(b"ticketring_server_connections_total" in body, "metrics body")
        s.sendall(request())
        status, headers, _, _ = get_response(s)
        expect(headers["connection"] == "close" and closed_by_peer(s), "Connection: close honoured")
    ok("keep-alive: 4 requests on one connection, then Connection: close closes it")

    with connect(ctx, port) as s:
        s.sendall(request("/", close=False) + request("/nope", close=False) +
                  request("/", "HEAD", close=False) + request("/"))
        buf = b""
        got = []
        for head in (False, False, True, False):
            status, headers, body, buf = get_response(s, buf, head_only=head)
            got.append((status, body))
        expect([g[0] for g in got] == [200, 404, 200, 200], "pipelined statuses %r" % got)
        expect(got[2][1] == b"" and buf == b"", "HEAD carried a body")
        expect(closed_by_peer(s), "closed after the last pipelined request")
    ok("pipelining: GET /, GET /nope (404), HEAD / (no body), GET / answered in order")

    status = error_status(ctx, port, request("/", "POST", extra="Content-Length: 5\r\n") + b"hello")
    expect(status == 405, "POST answered %d" % status)
    ok("POST with a body: 405 and close")
    for data, want in ((b"GARBAGE\r\n\r\n", 400),
                       (b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n", 400),
                       (b"GET / HTTP/1.1\r\nHost: a\r\nX :y\r\n\r\n", 400),
                       (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
                       (b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400),
                       (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
                       (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
                       (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431),
                       (b"GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400)):
        status = error_status(ctx, port, data)
        expect(status == want, "%r... answered %d, expected %d" % (data[:30], status, want))
    ok("malformed, unsupported and oversized heads: 400, 505, 431, each closed")

    # Resets at every stage, and bytes that are not TLS.
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    reset(raw)
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20)
    reset(raw)
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)
    raw.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    try:
        while raw.recv(4096):  # perhaps an alert, then the close
            pass
    except ConnectionResetError:  # the unread request makes the close a reset
        pass
    raw.close()
    s = connect(ctx, port)
    s.sendall(b"GET / HTTP/1.1\r\nHo")
    reset(s)
    s = connect(ctx, port)
    s.sendall(request(close=False))
    reset(s)  # before reading the answer
    with connect(ctx, port) as s:
        s.sendall(request())
        expect(get_response(s)[0] == 200, "server unwell after resets")
    ok("resets before, during and after the handshake, and plain HTTP: the server keeps serving")

    conns = [connect(ctx, port) for _ in range(100)]
    for s in conns:
        s.sendall(request(close=False))
    for s in conns:
        expect(get_response(s)[0] == 200, "one of 100 concurrent connections failed")
        s.close()
    ok("100 concurrent TLS connections open at once, each answered")


def cmd_load(cafile, port_a, port_b, versions="1.2,1.3", threads=8, rounds=12):
    import threading
    ports = (int(port_a), int(port_b))
    versions = versions.split(",")
    errors = []

    def client(n):
        try:
            ctx = context(cafile, versions[n % len(versions)])
            session = None
            for i in range(rounds):
                reused, _, info, session = get(ctx, ports[(n + i) % 2], session)
                expect(reused == (i > 0) and info["resumed"] == ("yes" if i else "no"),
                       "client %d round %d: resumed %s" % (n, i, reused))
        except Exception as e:  # reported by the main thread
            errors.append("client %d: %r" % (n, e))

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    expect(not errors, "; ".join(errors))
    ok("%d concurrent clients x %d connections alternating between two nodes: every "
       "connection after the first resumed" % (threads, rounds))


def cmd_cap(cafile, port, cap):
    port, cap = int(port), int(cap)
    ctx = context(cafile)
    held = [connect(ctx, port) for _ in range(cap)]
    try:
        s = connect(ctx, port)
        s.sendall(request())
        refused = closed_by_peer(s)
        s.close()
    except (ssl.SSLError, ConnectionError, OSError):
        refused = True
    expect(refused, "connection %d over --max-conns %d was served" % (cap + 1, cap))
    held.pop().close()
    deadline = time.monotonic() + TIMEOUT
    while True:  # the server learns of the close asynchronously
        try:
            with connect(ctx, port) as s:
                s.sendall(request())
                expect(get_response(s)[0] == 200, "status")
                break
        except (ssl.SSLError, ConnectionError, OSError):
            expect(time.monotonic() < deadline, "no connection served after one closed")
            time.sleep(0.1)
    for s in held:
        s.close()
    ok("--max-conns %d: connection %d closed at once; after one closes, served again" % (cap, cap + 1))


def cmd_idle(cafile, port):
    start = time.monotonic()
    with connect(context(cafile), int(port)) as s:
        expect(closed_by_peer(s), "idle connection not closed")
    ok("--idle-timeout 1: an idle connection was closed by the server after %.1fs"
       % (time.monotonic() - start))


def cmd_sigterm(cafile, port, pid):
    port = int(port)
    ctx = context(cafile)
    raw = socket.create_connection((HOST, port), timeout=TIMEOUT)  # no ClientHello yet
    idle = connect(ctx, port)
    partial = connect(ctx, port)
    partial.sendall(b"GET / HTTP/1.1\r\n")
    time.sleep(0.2)  # let the node register them; not a timing assertion
    os.kill(int(pid), signal.SIGTERM)
    for name, s in (("before the handshake", raw), ("idle", idle), ("mid-request", partial)):
        expect(closed_by_peer(s), "connection %s not closed at SIGTERM" % name)
        s.close()
    ok("SIGTERM closed connections before the handshake, idle and mid-request")


def main(argv):
    commands = {"resume": cmd_resume, "no-resume": cmd_no_resume, "alpn": cmd_alpn,
                "http": cmd_http, "load": cmd_load, "cap": cmd_cap, "idle": cmd_idle, "sigterm": cmd_sigterm}
    if len(argv) < 2 or argv[1] not in commands:
        print(__doc__, file=sys.stderr)
        return 2
    commands[argv[1]](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
