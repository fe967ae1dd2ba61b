#!/bin/bash
# The server as an HTTP/1.1 server under real clients: keep-alive,
# pipelining, errors for malformed heads, resets, many connections, the
# connection cap, the idle timeout, and SIGTERM with connections open.
# Run with both servers (TR_TEST_BACKEND, lib.sh).
# usage: test_http.sh SERVER KEYS_TOOL PYTHON [MBEDTLS_SERVER]
. "$(dirname "$0")/lib.sh"
need openssl "$PYTHON"

py() {
    "$PYTHON" "$HERE/client.py" "$@" || fail "client.py $1 failed"
}

make_cert
make_keys "$T/shared.keys"
start_node web "$T/shared.keys" --threads 2
start_node capped - --max-conns 3 --threads 1
start_node idle - --idle-timeout 1
start_node busy "$T/shared.keys"

py http "$T/cert.pem" "${NODE_PORT[web]}"
failures=$(metric web ticketring_server_handshake_failures_total)
[ "${failures:-0}" -ge 2 ] || fail "web counts ${failures:-no} failed handshakes after resets"
ok "web counts the reset and non-TLS connections as failed handshakes ($failures)"

py cap "$T/cert.pem" "${NODE_PORT[capped]}" 3
[ "$(metric capped ticketring_server_connections_rejected_total)" -ge 1 ] ||
    fail "capped counts no rejected connection"
ok "capped counts the rejected connection"

py idle "$T/cert.pem" "${NODE_PORT[idle]}"

# SIGTERM with connections open: client.py sends it, stop_node checks the exit.
py sigterm "$T/cert.pem" "${NODE_PORT[busy]}" "${NODE_PID[busy]}"

stop_all
echo "$checks checks passed"
