#!/bin/bash
# ticketring-mbedtls-server under real clients. Two mbedTLS nodes on one key
# file: openssl s_client -sess_out on one, -sess_in on the other resumes
# (TLS 1.2: all mbedTLS 2.28 speaks, also when the client offers 1.3), and
# so does Python's ssl module, both ways; a node holding other keys does a
# full handshake counted as unknown_key; nodes without --keys resume only
# their own sessions (mbedTLS's ticket module). The server takes the OpenSSL
# server's flags and refuses the 0-RTT ones with a usage error.
# usage: test_mbedtls.sh OPENSSL_SERVER KEYS_TOOL PYTHON MBEDTLS_SERVER
. "$(dirname "$0")/lib.sh"
need openssl "$PYTHON"
[ -n "$MBEDTLS_SERVER" ] || fail "usage: $0 OPENSSL_SERVER KEYS_TOOL PYTHON MBEDTLS_SERVER"

py() {
    "$PYTHON" "$HERE/client.py" "$@" || fail "client.py $1 failed"
}

make_cert
make_keys "$T/shared.keys"
make_keys "$T/other.keys"

# ---- flags ------------------------------------------------------------------
"$MBEDTLS_SERVER" --help >"$T/mbedtls.help" 2>&1 || fail "--help did not exit 0"
"$SERVER" --help >"$T/openssl.help" 2>&1 || fail "the OpenSSL server's --help did not exit 0"
grep -q '^usage: ticketring-mbedtls-server ' "$T/mbedtls.help" ||
    fail "--help names another program"
[ "$(grep -o '^  --[a-z-]*' "$T/mbedtls.help")" = "$(grep -o '^  --[a-z-]*' "$T/openssl.help")" ] ||
    fail "the two servers' --help list different flags"
ok "--help lists the same flags as ticketring-openssl-server"

for flag in --early-data --early-data=4096 "--replay-capacity 100" "--replay-window-ms 5000"; do
    # shellcheck disable=SC2086 # a flag and its value
    "$MBEDTLS_SERVER" --cert "$T/cert.pem" --key "$T/key.pem" --keys "$T/shared.keys" $flag \
        >"$T/last" 2>&1
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$flag' exited $rc, expected a usage error (2)"
    grep -q "^ticketring-mbedtls-server: ${flag%%[ =]*} is not available: .*TLS 1.2 only" \
        "$T/last" || fail "'$flag' is refused without saying why: $(cat "$T/last")"
done
ok "--early-data[=N], --replay-capacity, --replay-window-ms: usage error (exit 2) saying why"

# ---- two nodes, one key file -----------------------------------------------------
start_mbedtls_node mb-a "$T/shared.keys"
start_mbedtls_node mb-b "$T/shared.keys" --threads 3
start_mbedtls_node mb-c "$T/other.keys"
start_mbedtls_node plain-a -
start_mbedtls_node plain-b -
ok "mbedTLS nodes listening: mb-a, mb-b (shared keys), mb-c (other keys), plain-a, plain-b"

grep -q "fingerprint $(fingerprint "$T/shared.keys")\$" "$T/mb-a.err" ||
    fail "mb-a does not log the key file's fingerprint"
[ "$(node_fingerprint mb-b)" = "$(fingerprint "$T/shared.keys")" ] ||
    fail "mb-b's /metrics fingerprint is not the key file's"
ok "mb-a's log and mb-b's /metrics show ticketring-keys inspect's fingerprint"

sess="$T/session.pem"
tls_get mb-a tls1_2 - "$sess" || fail "s_client to mb-a failed"
grep -q '^New, TLSv1.2' "$T/last" || fail "mb-a: no new TLSv1.2 session"
grep -qx 'resumed: no' "$T/last" || fail "mb-a says it resumed"
[ -s "$sess" ] || fail "s_client wrote no session"
ok "s_client -tls1_2: full handshake on mb-a, session saved"

tls_get mb-b tls1_2 "$sess" - || fail "s_client to mb-b failed"
grep -q '^Reused, TLSv1.2' "$T/last" || fail "mb-b did not resume mb-a's session"
for line in 'node: mb-b' 'protocol: TLSv1.2' 'resumed: yes' 'ticket-origin: mb-a' 'alpn: -'; do
    grep -qx "$line" "$T/last" || fail "mb-b's answer lacks '$line'"
done
ok "s_client -sess_in: Reused on mb-b; it answers resumed: yes, ticket-origin: mb-a"

# A client offering TLS 1.3 too gets TLS 1.2, and its ticket resumes as well.
printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 30 openssl s_client -connect "127.0.0.1:${NODE_PORT[mb-a]}" -servername localhost \
        -CAfile "$T/cert.pem" -verify_return_error -ign_eof -sess_in "$sess" >"$T/last" 2>&1 ||
    fail "s_client offering TLS 1.3 to mb-a failed"
grep -q '^Reused, TLSv1.2' "$T/last" || fail "a client offering TLS 1.3 did not resume in TLS 1.2"
grep -qx 'ticket-origin: mb-a' "$T/last" || fail "mb-a does not name itself as the ticket's origin"
ok "a client offering TLS 1.2 and 1.3 negotiates TLS 1.2 and resumes on the issuing node"

tls_get mb-c tls1_2 "$sess" - || fail "s_client to mb-c failed"
grep -q '^New, TLSv1.2' "$T/last" || fail "mb-c resumed a ticket it has no key for"
grep -qx 'resumed: no' "$T/last" || fail "mb-c says it resumed"
refused=$(metric mb-c 'ticketring_tickets_refused_total{reason="unknown_key"}')
[ "$refused" = 1 ] || fail "mb-c counts ${refused:-no} unknown_key refusals, expected 1"
ok "mb-c (other keys): full handshake, counted as reason=\"unknown_key\""

# ALPN: the server's choice among the client's offer; an offer with no
# match is refused by mbedTLS with an alert (the OpenSSL server goes on
# without ALPN), and counted as a failed handshake.
alpn_get() {
    printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 30 openssl s_client -connect "127.0.0.1:${NODE_PORT[$1]}" -servername localhost \
            -CAfile "$T/cert.pem" -verify_return_error -ign_eof -alpn "$2" >"$T/last" 2>&1
}
alpn_get mb-c h2,http/1.1 || fail "s_client offering h2,http/1.1 to mb-c failed"
grep -qx 'alpn: http/1.1' "$T/last" || fail "mb-c did not select http/1.1 from h2,http/1.1"
if alpn_get mb-c h2; then
    fail "mb-c accepted an ALPN offer with no match"
fi
grep -q 'no application protocol' "$T/last" || fail "mb-c's refusal is not no_application_protocol"
[ "$(metric mb-c ticketring_server_handshake_failures_total)" = 1 ] ||
    fail "mb-c does not count the refused ALPN offer as a failed handshake"
ok "ALPN: http/1.1 selected from h2,http/1.1; an offer of h2 alone is refused with" \
   "no_application_protocol, counted as a failed handshake"

py resume "$T/cert.pem" "${NODE_PORT[mb-a]}" mb-a "${NODE_PORT[mb-b]}" mb-b 1.2
py resume "$T/cert.pem" "${NODE_PORT[mb-b]}" mb-b "${NODE_PORT[mb-a]}" mb-a 1.2
py load "$T/cert.pem" "${NODE_PORT[mb-a]}" "${NODE_PORT[mb-b]}" 1.2

# mb-b resumed s_client's session and Python's first one (both mb-a's),
# and in the load 6 connections of each client that started on mb-a and 5
# of each that started on mb-b: 2 + 4 * 6 + 4 * 5 = 46. mbedTLS 2.28 issues
# no new ticket on a resumption, so a client keeps its first node's ticket:
# cross-node are the 2 and the 4 * 6 of the clients that started on mb-a.
resumed=$(metric mb-b 'ticketring_server_connections_total{resumed="yes"}')
[ "$resumed" = 46 ] || fail "mb-b counts ${resumed:-no} resumed connections, expected 46"
cross=$(metric mb-b 'ticketring_resumed_cross_node_total')
[ "$cross" = 26 ] || fail "mb-b counts ${cross:-no} cross-node resumptions, expected 26"
grep -qx 'ticketring_server_node_info{node="mb-b",keys="shared"} 1' "$T/last" ||
    fail "mb-b's metrics lack its node_info"
[ "$(awk '$1 == "ticketring_server_handshake_failures_total" { print $2 }' "$T/last")" = 0 ] ||
    fail "mb-b counts failed handshakes"
ok "mb-b's /metrics: 46 resumed connections, 26 cross-node (no renewal), node_info," \
   "no failed handshake"

py no-resume "$T/cert.pem" "${NODE_PORT[plain-a]}" "${NODE_PORT[plain-b]}" 1.2
[ "$(metric plain-a 'ticketring_server_connections_total{resumed="yes"}')" = 1 ] ||
    fail "plain-a does not count its resumed connection"
grep -qx 'ticketring_server_node_info{node="plain-a",keys="mbedtls-default"} 1' "$T/last" ||
    fail "plain-a's node_info does not say keys=\"mbedtls-default\""
if grep -q '^ticketring_keyset_info' "$T/last"; then
    fail "plain-a (no --keys) shows ring metrics"
fi
ok "plain-a's /metrics: 1 resumed connection, keys=\"mbedtls-default\", no ring metrics"

assert_no_secrets "$T/shared.keys" "$T"/*.err "$T/last"
ok "no key material in the nodes' logs or metrics"

stop_all
echo "$checks checks passed"
