#!/bin/bash
# A mixed fleet on one key file: two ticketring-openssl-server nodes and two
# ticketring-mbedtls-server nodes report the same fingerprint; each backend's
# nodes resume each other's tickets; a ticket issued by the other backend
# (offered in TLS 1.2, so it really reaches the server) gives a clean full
# handshake: the connection succeeds, s_client says New, the HTTP answer is
# right, and the refusal is counted under its own reason.
# usage: test_mixed.sh OPENSSL_SERVER KEYS_TOOL PYTHON MBEDTLS_SERVER
. "$(dirname "$0")/lib.sh"
need openssl
[ -n "$MBEDTLS_SERVER" ] || fail "usage: $0 OPENSSL_SERVER KEYS_TOOL PYTHON MBEDTLS_SERVER"

make_cert
make_keys "$T/shared.keys"
start_openssl_node os-a "$T/shared.keys"
start_openssl_node os-b "$T/shared.keys"
start_mbedtls_node mb-a "$T/shared.keys"
start_mbedtls_node mb-b "$T/shared.keys"
ok "nodes on one key file: os-a, os-b (OpenSSL), mb-a, mb-b (mbedTLS)"

want=$(fingerprint "$T/shared.keys")
for node in os-a os-b mb-a mb-b; do
    [ "$(node_fingerprint "$node")" = "$want" ] ||
        fail "$node's /metrics fingerprint is not the key file's ($want)"
    grep -q "keys loaded from .*fingerprint $want\$" "$T/$node.err" ||
        fail "$node's log does not show fingerprint $want"
done
ok "all four nodes report fingerprint $want (/metrics and log)"

# full NODE SESSION_OUT: a full TLS 1.2 handshake on NODE, session saved.
full() {
    tls_get "$1" tls1_2 - "$2" || fail "s_client to $1 failed"
    grep -q '^New, TLSv1.2' "$T/last" || fail "$1: no new TLSv1.2 session"
    [ -s "$2" ] || fail "s_client wrote no session from $1"
}

# resumes NODE SESSION ISSUER: NODE resumes the session ISSUER issued.
resumes() {
    tls_get "$1" tls1_2 "$2" - || fail "s_client to $1 failed"
    grep -q '^Reused, TLSv1.2' "$T/last" || fail "$1 did not resume $3's session"
    grep -qx "node: $1" "$T/last" && grep -qx 'resumed: yes' "$T/last" &&
        grep -qx "ticket-origin: $3" "$T/last" || fail "$1's answer does not name $3's ticket"
}

# refuses NODE SESSION: a clean full handshake with a correct HTTP answer.
refuses() {
    tls_get "$1" tls1_2 "$2" - || fail "s_client to $1 with a foreign ticket failed"
    grep -q '^New, TLSv1.2' "$T/last" || fail "$1 did not do a full handshake"
    grep -q '^HTTP/1.1 200 OK' "$T/last" || fail "$1 did not answer 200 after the refusal"
    for line in "node: $1" 'protocol: TLSv1.2' 'resumed: no' 'ticket-origin: -'; do
        grep -qx "$line" "$T/last" || fail "$1's answer lacks '$line'"
    done
}

full os-a "$T/os.pem"
resumes os-b "$T/os.pem" os-a
full mb-a "$T/mb.pem"
resumes mb-b "$T/mb.pem" mb-a
ok "each backend resumes its own backend's tickets across nodes (os-a -> os-b, mb-a -> mb-b)"

# An OpenSSL ticket starts with the 16-byte name of a key of the cluster:
# the mbedTLS glue, which reads the generic format (docs/ticket-format.md),
# recognises it as the other backend's ticket, not as malformed nor (were
# the name to start with the version byte 1) as a ticket under an unknown
# key, which operators would read as key drift.
mb_reason=other_format
refuses mb-a "$T/os.pem"
refuses mb-b "$T/os.pem"
for node in mb-a mb-b; do
    n=$(metric "$node" "ticketring_tickets_refused_total{reason=\"$mb_reason\"}")
    [ "$n" = 1 ] || fail "$node counts ${n:-no} refusals as $mb_reason, expected 1"
    n=$(metric "$node" 'ticketring_server_handshake_failures_total')
    [ "$n" = 0 ] || fail "$node counts $n failed handshakes"
done
ok "an OpenSSL node's ticket on mbedTLS nodes: full handshake, New, 200, counted as" \
   "reason=\"$mb_reason\", no failed handshake"

# An mbedTLS ticket starts with the version byte and then the key name: the
# OpenSSL glue's key callback sees the version byte and 15 bytes of the name
# of a key it holds, the other backend's ticket.
refuses os-a "$T/mb.pem"
refuses os-b "$T/mb.pem"
for node in os-a os-b; do
    n=$(metric "$node" 'ticketring_tickets_refused_total{reason="other_format"}')
    [ "$n" = 1 ] || fail "$node counts ${n:-no} refusals as other_format, expected 1"
    n=$(metric "$node" 'ticketring_tickets_refused_total{reason="unknown_key"}')
    [ "$n" = 0 ] || fail "$node counts $n refusals as unknown_key (read as key drift)"
    n=$(metric "$node" 'ticketring_server_handshake_failures_total')
    [ "$n" = 0 ] || fail "$node counts $n failed handshakes"
done
ok "an mbedTLS node's ticket on OpenSSL nodes: full handshake, New, 200, counted as" \
   "reason=\"other_format\", no failed handshake"

# After a refusal each node issued a ticket of its own backend, which the
# other node of that backend resumes.
tls_get mb-a tls1_2 "$T/os.pem" "$T/mb2.pem" || fail "s_client to mb-a failed"
resumes mb-b "$T/mb2.pem" mb-a
tls_get os-a tls1_2 "$T/mb.pem" "$T/os2.pem" || fail "s_client to os-a failed"
resumes os-b "$T/os2.pem" os-a
ok "the ticket issued after a refusal resumes on the other node of the same backend"

stop_all
echo "$checks checks passed"
