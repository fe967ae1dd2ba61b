#!/bin/bash
# 0-RTT on every node through a Redis replay store (--replay-store), with a
# real redis-server (password from a file) and openssl s_client:
# - a ticket issued by node a carries early data accepted on node b (and on
#   a), the answer saying early-data: yes and naming a as the ticket's
#   origin; without a store the same hop is refused as reason="node";
# - with Redis frozen (SIGSTOP) early data is refused as reason="store"
#   within the check budget, the resumption going on 1-RTT; once Redis runs
#   again (SIGCONT) early data is accepted again;
# - the flags are checked for usage errors; no secret of the password or
#   hash-key file appears in a log or /metrics.
# A byte-for-byte replay cannot be made with s_client: tests/redis replays
# recorded flights to three nodes in process.
# usage: test_replay_store.sh SERVER KEYS_TOOL
. "$(dirname "$0")/lib.sh"
need openssl
need redis-server
need redis-cli

WINDOW_MS=10000
RETRY_MS=10000
# Generous for a sanitizer build on a loaded 2-core machine; the default is 5.
BUDGET_MS=250

GET_EARLY=$'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'
GET_LATER=$'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'

# early_until_accepted NAME SESSION: early_try until accepted (a refusal as
# stale can happen at some phases of the clock), for at most RETRY_MS.
early_until_accepted() {
    local deadline=$(($(now_ms) + RETRY_MS))
    until early_try "$1" "$2" "$GET_EARLY" "$GET_LATER"; do
        [ "$(now_ms)" -lt "$deadline" ] ||
            fail "$1: early data still refused after ${RETRY_MS} ms"
        sleep 0.2
    done
}

# ---- Redis on a free loopback port, password from its config file ----------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/redis.pw"
head -c 32 /dev/urandom >"$T/hash.key"
chmod 600 "$T/redis.pw" "$T/hash.key"
REDIS_PID=
stop_redis() {
    [ -n "$REDIS_PID" ] || return 0
    stop_pid "$REDIS_PID"
    REDIS_PID=
}
trap 'stop_redis; cleanup' EXIT
for attempt in 1 2 3 4 5; do
    REDIS_PORT=$(free_port)
    {
        echo "bind 127.0.0.1"
        echo "port $REDIS_PORT"
        echo "save \"\""
        echo "appendonly no"
        echo "dir $T"
        echo "requirepass $(cat "$T/redis.pw")"
    } >"$T/redis.conf"
    chmod 600 "$T/redis.conf"
    spawn redis-server "$T/redis.conf" >"$T/redis.log" 2>&1
    REDIS_PID=$!
    for ((i = 0; i < 100; i++)); do
        REDISCLI_AUTH=$(cat "$T/redis.pw") redis-cli -p "$REDIS_PORT" ping 2>/dev/null |
            grep -qx PONG && break 2
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_redis
done
[ -n "$REDIS_PID" ] || fail "redis-server did not start (see $T/redis.log)"
ok "redis-server on 127.0.0.1:$REDIS_PORT with a password"

make_cert
make_keys "$T/shared.keys"
STORE_BASE=(--replay-store "redis://127.0.0.1:$REDIS_PORT" --replay-store-password "$T/redis.pw"
            --replay-store-key "$T/hash.key")
STORE=("${STORE_BASE[@]}" --replay-store-budget-ms "$BUDGET_MS")

# ---- flags -------------------------------------------------------------------
usage_error '--replay-store needs --early-data' --keys "$T/shared.keys" "${STORE[@]}"
usage_error '--replay-store needs --replay-store-key' --keys "$T/shared.keys" --early-data \
    --replay-store "redis://127.0.0.1:$REDIS_PORT"
usage_error 'this option needs --replay-store: --replay-skew-ms' --keys "$T/shared.keys" \
    --early-data --replay-skew-ms 10
usage_error 'value out of range for --replay-store-budget-ms' --keys "$T/shared.keys" \
    --early-data "${STORE_BASE[@]}" --replay-store-budget-ms 0
ok "--replay-store without --early-data or a hash key, and out-of-range values, exit 2"

# ---- nodes -------------------------------------------------------------------
start_node a "$T/shared.keys" --early-data --replay-window-ms "$WINDOW_MS" "${STORE[@]}"
start_node b "$T/shared.keys" --early-data --replay-window-ms "$WINDOW_MS" "${STORE[@]}"
start_node bound "$T/shared.keys" --early-data --replay-window-ms "$WINDOW_MS"
ok "nodes a, b (--replay-store) and bound (node-local cache only) listening"

tls_get a tls1_3 - "$T/a.sess" || fail "full handshake on a failed"
grep -q '^New, TLSv1\.3' "$T/last" || fail "a: no new TLS 1.3 session"

# A ticket from a, early data on b: accepted (no start-up window with a store).
early_until_accepted b "$T/a.sess"
grep -qx 'early-data: yes' "$T/last" || fail "b: accepted early GET does not say early-data: yes"
grep -qx 'ticket-origin: a' "$T/last" || fail "b: the resumed ticket is not a's"
early_until_accepted a "$T/a.sess"
ok "a's ticket: early data accepted on b (another node) and on a, each a new ClientHello"

# The same hop to a node without the store is refused as node-bound.
if early_try bound "$T/a.sess" "$GET_EARLY" "$GET_LATER"; then
    fail "bound: early data of a's ticket accepted without a replay store"
fi
[ "$(metric bound 'ticketring_early_data_refused_total{reason="node"}')" = 1 ] ||
    fail "bound: the refusal is not counted as reason=\"node\""
ok "without --replay-store the same ticket's early data is refused on another node (node)"

n=$(metric b 'ticketring_redis_checks_total{result="fresh"}')
[ "${n:-0}" -ge 1 ] || fail "b: /metrics counts no fresh store check"
[ "$(metric b 'ticketring_early_data_accepted_total')" -ge 1 ] ||
    fail "b: /metrics counts no accepted early data"

# ---- Redis frozen: refused in time, 1-RTT; thawed: accepted again -------------
kill -STOP "$REDIS_PID"
t0=$(now_ms)
if early_try b "$T/a.sess" "$GET_EARLY" "$GET_LATER"; then
    fail "b: early data accepted while the replay store is frozen"
fi
t1=$(now_ms)
grep -qx 'early-data: no' "$T/last" || fail "b: the later GET does not say early-data: no"
kill -CONT "$REDIS_PID"
[ "$(metric b 'ticketring_early_data_refused_total{reason="store"}')" -ge 1 ] ||
    fail "b: the refusal is not counted as reason=\"store\""
ok "Redis frozen: early data refused as reason=\"store\", resumed 1-RTT ($((t1 - t0)) ms" \
   "for the whole s_client run, budget ${BUDGET_MS} ms)"
early_until_accepted b "$T/a.sess"
ok "Redis running again: early data accepted on b after the background reconnect"

for f in "$T"/a.err "$T"/b.err "$T"/a.out "$T"/b.out; do
    if grep -qF -- "$(cat "$T/redis.pw")" "$f"; then
        fail "the Redis password appears in $(basename "$f")"
    fi
done
tls_get b tls1_3 - - /metrics || fail "GET /metrics on b failed"
grep -qF -- "$(cat "$T/redis.pw")" "$T/last" && fail "the Redis password appears in /metrics"
assert_no_secrets "$T/shared.keys" "$T"/a.err "$T"/b.err "$T/last"
ok "no password or key material in logs or /metrics"

stop_all
stop_redis
echo "$checks checks passed"
