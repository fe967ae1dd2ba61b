#!/bin/bash
# Python's ssl module (a second, independent client) resumes across nodes
# sharing a key file, for TLS 1.2 and 1.3; nodes without --keys resume only
# their own sessions; ALPN is selected, or skipped when nothing matches.
# usage: test_python.sh SERVER KEYS_TOOL PYTHON
. "$(dirname "$0")/lib.sh"
need openssl "$PYTHON"

py() {
    "$PYTHON" "$HERE/client.py" "$@" || fail "client.py $1 failed"
}

make_cert
make_keys "$T/shared.keys"
start_node node-a "$T/shared.keys"
start_node node-b "$T/shared.keys" --threads 3
start_node plain-a -
start_node plain-b -
ok "nodes listening: node-a, node-b (shared keys), plain-a, plain-b (no --keys)"

py resume "$T/cert.pem" "${NODE_PORT[node-a]}" node-a "${NODE_PORT[node-b]}" node-b
py resume "$T/cert.pem" "${NODE_PORT[node-b]}" node-b "${NODE_PORT[node-a]}" node-a
py no-resume "$T/cert.pem" "${NODE_PORT[plain-a]}" "${NODE_PORT[plain-b]}"
py alpn "$T/cert.pem" "${NODE_PORT[node-a]}"
py load "$T/cert.pem" "${NODE_PORT[node-a]}" "${NODE_PORT[node-b]}"

[ "$(metric plain-a 'ticketring_server_connections_total{resumed="yes"}')" = 2 ] ||
    fail "plain-a does not count its 2 resumed connections"
grep -qx 'ticketring_server_node_info{node="plain-a",keys="openssl-default"} 1' "$T/last" ||
    fail "plain-a's node_info does not say keys=\"openssl-default\""
if grep -q '^ticketring_keyset_info' "$T/last"; then
    fail "plain-a (no --keys) shows ring metrics"
fi
ok "plain-a's /metrics: 2 resumed connections, keys=\"openssl-default\", no ring metrics"

stop_all
echo "$checks checks passed"
