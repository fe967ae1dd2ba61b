#!/bin/bash
# GET /ready: 200 only once a valid key file is loaded and a key may encrypt,
# so a Kubernetes readiness probe keeps a node out of rotation until then.
# Run with both servers (TR_TEST_BACKEND, lib.sh).
# usage: test_ready.sh SERVER KEYS_TOOL [PYTHON [MBEDTLS_SERVER]]
. "$(dirname "$0")/lib.sh"
need openssl

# ready_is NAME CODE: node NAME answers GET /ready with HTTP status CODE.
ready_is() {
    tls_get "$1" "${NODE_TLS[$1]}" - - /ready || fail "GET /ready on $1 failed"
    grep -q "^HTTP/1.1 $2 " "$T/last"
}

make_cert
mkdir "$T/keys"
K="$T/keys/tickets.keys"

# A broken file at start: the node serves (full handshakes) but is not ready.
printf 'ticketring-keys 1\nkey truncated\n' >"$K"
chmod 600 "$K"
start_node node-a "$K"
ready_is node-a 503 || fail "node-a is ready without a valid key file"
grep -q 'not ready: no key file loaded' "$T/last" || fail "node-a's 503 does not say why"
ok "broken key file: /ready answers 503 (no key file loaded)"

# Keys that only activate in an hour: loaded, but nothing may encrypt yet.
"$KEYS_TOOL" generate --out "$T/keys/.future" --count 1 --start $(($(date +%s) + 3600)) \
    --force >/dev/null || fail "ticketring-keys generate failed"
mv "$T/keys/.future" "$K"
wait_for "$POLL_TIMEOUT" "node-a loading the future keys" \
    grep -Eq "keys (re)?loaded from $K" "$T/node-a.err"
ready_is node-a 503 || fail "node-a is ready with no key able to encrypt"
grep -q 'not ready: no key may encrypt now' "$T/last" || fail "node-a's 503 does not say why"
ok "keys not yet active: /ready answers 503 (no key may encrypt)"

make_keys "$T/keys/.good"
mv "$T/keys/.good" "$K"
wait_for "$POLL_TIMEOUT" "node-a becoming ready" ready_is node-a 200
ok "valid keys: /ready answers 200"

start_node node-b -
ready_is node-b 200 || fail "a node without --keys is not ready"
ok "without --keys (the TLS library's own tickets): /ready answers 200"
stop_all
