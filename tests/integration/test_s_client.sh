#!/bin/bash
# openssl s_client resumes across nodes that share a key file, for TLS 1.2
# and TLS 1.3, and does not resume on a node holding other keys (counted
# there as an unknown key).
# usage: test_s_client.sh SERVER KEYS_TOOL
. "$(dirname "$0")/lib.sh"
need openssl

make_cert
make_keys "$T/shared.keys"
make_keys "$T/other.keys"
start_node node-a "$T/shared.keys"
start_node node-b "$T/shared.keys"
start_node node-c "$T/other.keys"
ok "three nodes listening: node-a ${NODE_PORT[node-a]}, node-b ${NODE_PORT[node-b]}," \
   "node-c ${NODE_PORT[node-c]} (other keys)"

tries=0
for version in tls1_2 tls1_3; do
    proto=TLSv1.${version#tls1_}
    sess="$T/session-$version.pem"
    tls_get node-a "$version" - "$sess" || fail "$version: s_client to node-a failed"
    grep -q "^New, $proto" "$T/last" || fail "$version: node-a: no new $proto session"
    grep -qx 'resumed: no' "$T/last" || fail "$version: node-a says it resumed"
    [ -s "$sess" ] || fail "$version: s_client wrote no session"
    ok "$version: full handshake on node-a, session saved"

    tls_get node-b "$version" "$sess" - || fail "$version: s_client to node-b failed"
    grep -q "^Reused, $proto" "$T/last" || fail "$version: node-b did not resume node-a's session"
    for line in 'node: node-b' "protocol: $proto" 'resumed: yes' 'ticket-origin: node-a'; do
        grep -qx "$line" "$T/last" || fail "$version: node-b's answer lacks '$line'"
    done
    ok "$version: s_client reports Reused on node-b; it answers resumed: yes, ticket-origin: node-a"

    tls_get node-c "$version" "$sess" - || fail "$version: s_client to node-c failed"
    grep -q "^New, $proto" "$T/last" || fail "$version: node-c resumed a ticket it has no key for"
    grep -qx 'resumed: no' "$T/last" || fail "$version: node-c says it resumed"
    tries=$((tries + 1))
    refused=$(metric node-c 'ticketring_tickets_refused_total{reason="unknown_key"}')
    [ "$refused" = "$tries" ] ||
        fail "$version: node-c counts ${refused:-no} unknown_key refusals, expected $tries"
    ok "$version: node-c (other keys) did a full handshake, counted as reason=\"unknown_key\" ($refused)"
done

[ "$(metric node-b 'ticketring_server_connections_total{resumed="yes"}')" = 2 ] ||
    fail "node-b does not count 2 resumed connections"
[ "$(metric node-b 'ticketring_resumed_cross_node_total')" = 2 ] ||
    fail "node-b does not count 2 cross-node resumptions"
grep -qx 'ticketring_server_node_info{node="node-b",keys="shared"} 1' "$T/last" ||
    fail "node-b's metrics lack its node_info"
grep -q '^process_cpu_seconds_total [0-9]' "$T/last" || fail "node-b's metrics lack process_cpu_seconds_total"
ok "node-b's /metrics: 2 resumed connections, 2 cross-node, node_info, process CPU"

[ "$(node_fingerprint node-a)" = "$(fingerprint "$T/shared.keys")" ] ||
    fail "node-a's fingerprint is not the key file's"
ok "node-a's /metrics fingerprint is ticketring-keys inspect's"

stop_all
echo "$checks checks passed"
