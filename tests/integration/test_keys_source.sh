#!/bin/bash
# Example servers following the key schedule in a real etcd (--keys-source,
# --kek, --cluster), a mixed fleet of two OpenSSL nodes and one mbedTLS node:
# - each node is ready only once it holds the published key set, and all
#   report the fingerprint of the key file that was sealed into etcd;
# - a session resumes on another node of the same backend;
# - a newly published key set reaches every node (through the watch), and the
#   time from the publish to the last node holding it is printed;
# - with etcd stopped the nodes stay ready and keep resuming each other's
#   sessions; a node started while etcd is down starts from its --keys copy
#   (ready), one without a copy is not ready; after etcd restarts they catch up;
# - no KEK or key material appears in a log or /metrics.
# usage: test_keys_source.sh SERVER KEYS_TOOL PYTHON MBEDTLS_SERVER
. "$(dirname "$0")/lib.sh"
need openssl etcd curl python3
"$KEYS_TOOL" --help | grep -q publish || { echo "SKIP: ticketring-keys without etcd" >&2; exit 77; }

read -r EC EP < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
ETCD_PID=
start_etcd() {
    spawn etcd --name n1 --data-dir "$T/etcd" \
        --listen-client-urls "http://127.0.0.1:$EC" --advertise-client-urls "http://127.0.0.1:$EC" \
        --listen-peer-urls "http://127.0.0.1:$EP" --initial-advertise-peer-urls "http://127.0.0.1:$EP" \
        --initial-cluster "n1=http://127.0.0.1:$EP" --log-level=warn >>"$T/etcd.log" 2>&1
    ETCD_PID=$!
    for ((i = 0; i < 300; i++)); do
        curl -s -m 1 "http://127.0.0.1:$EC/health" | grep -q '"health":"true"' && return 0
        kill -0 "$ETCD_PID" 2>/dev/null || break
        sleep 0.1
    done
    fail "etcd did not become healthy: $(tail -5 "$T/etcd.log")"
}
stop_etcd() {
    [ -n "$ETCD_PID" ] || return 0
    stop_pid "$ETCD_PID"
    ETCD_PID=
}
trap 'stop_etcd; cleanup' EXIT

start_etcd
URL="etcd://127.0.0.1:$EC/tr"
ok "etcd on 127.0.0.1:$EC"

make_cert
"$KEYS_TOOL" kek --out "$T/kek" --id k1 >/dev/null || fail "ticketring-keys kek failed"
NOW=$(date +%s)
"$KEYS_TOOL" generate --out "$T/keys" --cluster c1 --count 2 --period 3600 \
    --start $((NOW - 120)) >/dev/null || fail "ticketring-keys generate failed"
"$KEYS_TOOL" publish "$T/keys" --store "$URL" --kek "$T/kek" >/dev/null ||
    fail "ticketring-keys publish failed"
want=$(fingerprint "$T/keys")

SRC=(--keys-source "$URL" --kek "$T/kek" --cluster c1)
start_openssl_node os-a - "${SRC[@]}"
start_openssl_node os-b - "${SRC[@]}"
start_mbedtls_node mb-a - "${SRC[@]}"

ready() { # NAME: 0 when /ready answers 200
    tls_get "$1" "${NODE_TLS[$1]}" - - /ready && grep -q '^HTTP/1\.1 200' "$T/last"
}
has_fp() { # NAME FP
    [ "$(node_fingerprint "$1")" = "$2" ]
}
for n in os-a os-b mb-a; do
    ready "$n" || fail "$n: not ready after its first sync"
    has_fp "$n" "$want" || fail "$n: fingerprint $(node_fingerprint "$n"), published $want"
done
ok "os-a, os-b (OpenSSL) and mb-a (mbedTLS) ready with the published key set ($want)"

tls_get os-a tls1_3 - "$T/a.sess" || fail "full handshake on os-a failed"
tls_get os-b tls1_3 "$T/a.sess" - || fail "resumption on os-b failed"
grep -q '^Reused, TLSv1\.3' "$T/last" || fail "os-b did not resume os-a's session"
tls_get mb-a tls1_2 - "$T/m.sess" || fail "full handshake on mb-a failed"
ok "os-a's session resumes on os-b"

# A new key set: every node holds it soon (the watch; polling is 30 s).
"$KEYS_TOOL" rotate "$T/keys" --period 3600 --lifetime 3600 --now $((NOW + 3600)) >/dev/null ||
    fail "ticketring-keys rotate failed"
want=$(fingerprint "$T/keys")
t0=$(now_ms)
"$KEYS_TOOL" publish "$T/keys" --store "$URL" --kek "$T/kek" >/dev/null ||
    fail "publishing the rotated key set failed"
for n in os-a os-b mb-a; do
    wait_for 20 "$n holding the rotated key set" has_fp "$n" "$want"
done
t1=$(now_ms)
ok "the rotated key set reached all three nodes within $((t1 - t0)) ms of the publish" \
   "(measured through /metrics polls)"

# etcd down: the nodes keep serving what they hold.
stop_etcd
tls_get os-a tls1_3 - "$T/a2.sess" || fail "os-a: handshake with etcd down failed"
tls_get os-b tls1_3 "$T/a2.sess" - || fail "os-b: resumption with etcd down failed"
grep -q '^Reused, TLSv1\.3' "$T/last" || fail "os-b did not resume with etcd down"
ready os-b || fail "os-b: not ready with etcd down"
cp "$T/keys" "$T/copy.keys"
chmod 600 "$T/copy.keys"
start_openssl_node os-c "$T/copy.keys" "${SRC[@]}"
start_openssl_node os-d - "${SRC[@]}"
ready os-c || fail "os-c (started with etcd down, --keys copy): not ready"
has_fp os-c "$want" || fail "os-c: not serving its --keys copy"
if ready os-d; then
    fail "os-d (started with etcd down, no copy): ready without keys"
fi
ok "etcd down: nodes keep resuming; a node starts from its --keys copy, one without is not ready"

start_etcd
# A key set written from scratch (its serial is the clock's, above the stored one).
"$KEYS_TOOL" generate --out "$T/keys" --cluster c1 --count 2 --period 3600 \
    --start $((NOW - 60)) --force >/dev/null || fail "ticketring-keys generate failed"
want=$(fingerprint "$T/keys")
"$KEYS_TOOL" publish "$T/keys" --store "$URL" --kek "$T/kek" >/dev/null ||
    fail "publishing after the restart failed"
for n in os-a os-b mb-a os-c os-d; do
    wait_for 60 "$n catching up after etcd restarted" has_fp "$n" "$want"
done
ready os-d || fail "os-d: not ready after etcd came back"
ok "etcd back: every node (os-d too) holds the newest key set and is ready"

kek_hex=$(cut -d' ' -f2 "$T/kek")
tls_get os-a tls1_3 - - /metrics || fail "GET /metrics on os-a failed"
cp "$T/last" "$T/metrics"
for f in "$T"/*.err "$T"/*.out "$T/metrics"; do
    grep -qiF -- "${kek_hex:0:16}" "$f" && fail "KEK material appears in $(basename "$f")"
done
assert_no_secrets "$T/keys" "$T"/*.err "$T/metrics"
[ "$(grep -c '^# TYPE ticketring_keyset_info ' "$T/metrics")" = 1 ] ||
    fail "/metrics declares ticketring_keyset_info more than once"
ok "no KEK or key material in logs or /metrics; one ticketring_keyset_info family"

stop_all
stop_etcd
echo "$checks checks passed"
