#!/bin/bash
# TLS 1.3 early data (0-RTT) with openssl s_client -sess_in S -early_data FILE
# against a node started with --early-data:
# - the ticket of a full handshake offers 16384 bytes of early data;
# - while the replay cache is in its start-up window the early data is
#   refused (counted as reason="startup") and the resumption goes on 1-RTT;
# - then a GET in early data is served and says "early-data: yes", and the
#   GET sent after the handshake on the same connection says "early-data: no";
# - a POST in early data is answered 425 Too Early, the same POST sent after
#   the handshake gets the server's real answer (405: it has no POST);
# - both early answers are 0.5-RTT data: written before the handshake
#   completed, as ticketring_server_half_rtt_responses_total counts them;
# - two requests pipelined in early data are both answered before the
#   handshake completes, in order; a request whose head ends only after the
#   handshake is answered then (early, but not 0.5-RTT);
# - /metrics counts every accepted and every refused attempt exactly.
# A node without --early-data issues tickets that offer no early data, and
# the 0-RTT flags are checked for usage errors. A replay cannot be made with
# s_client: tests/openssl covers replays in process.
# usage: test_early_data.sh SERVER KEYS_TOOL
. "$(dirname "$0")/lib.sh"
need openssl

# The replay window. OpenSSL clients report a ticket's age in whole seconds,
# rounded down and then lowered by one more second, so up to 2 s less than
# it is; the server accepts an age within half the window of its own
# reckoning. 5000 ms (2.5 s each way) leaves 0.5 s for the loopback round
# trips; with 2000 ms an attempt is refused as stale at some fractions of a
# second, and the test would pass or fail with the phase of the clock.
WINDOW_MS=5000
RETRY_MS=10000 # for how long an attempt is retried, every 200 ms

# early_until_accepted WHAT SESSION EARLY LATER: early_try on zero until its
# early data is accepted (past the start-up window a refusal can only be
# "stale", at some phases of the clock), for at most RETRY_MS.
early_until_accepted() {
    local what=$1 tries=1 deadline=$(($(now_ms) + RETRY_MS))
    shift
    until early_try zero "$@"; do
        tries=$((tries + 1))
        [ "$(now_ms)" -lt "$deadline" ] ||
            fail "zero: $what: early data still refused after ${RETRY_MS} ms ($tries attempts)"
        sleep 0.2
    done
}

# status_lines: the status lines of the responses in $T/last, one per line.
status_lines() {
    grep '^HTTP/1\.1 ' "$T/last" | tr -d '\r'
}

GET_EARLY=$'GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'
GET_LATER=$'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
POST_EARLY=$'POST /transfer HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n\r\n'
POST_LATER=$'POST /transfer HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
READY_EARLY=$'GET /ready HTTP/1.1\r\nHost: localhost\r\n\r\n'
SPLIT_EARLY=$'GET / HTTP/1.1\r\nHost: localhost\r\n'
SPLIT_LATER=$'Connection: close\r\n\r\n'

make_cert
make_keys "$T/shared.keys"

# ---- the flags ---------------------------------------------------------------
"$SERVER" --help >"$T/help.out" 2>&1 || fail "--help failed"
for flag in '--early-data[=BYTES]' '--replay-capacity N' '--replay-window-ms MS'; do
    grep -qF -- "$flag" "$T/help.out" || fail "--help does not describe $flag"
done
usage_error '--early-data needs --keys' --early-data
usage_error 'value out of range for --early-data' --keys "$T/shared.keys" --early-data=0
usage_error 'value out of range for --early-data' --keys "$T/shared.keys" --early-data=16777217
usage_error 'unexpected argument 4096' --keys "$T/shared.keys" --early-data 4096
usage_error '--replay-window-ms needs --early-data' --keys "$T/shared.keys" \
    --replay-window-ms 5000
usage_error '--replay-capacity needs --early-data' --keys "$T/shared.keys" \
    --replay-capacity 10
usage_error 'value out of range for --replay-window-ms' --keys "$T/shared.keys" --early-data \
    --replay-window-ms 999
usage_error 'value out of range for --replay-capacity' --keys "$T/shared.keys" --early-data \
    --replay-capacity 16777217
ok "--help describes the 0-RTT flags; out-of-range values and missing --keys/--early-data exit 2"

# ---- nodes -------------------------------------------------------------------
# The replay cache is made after this instant: its start-up window ends
# later than start + WINDOW_MS.
start=$(now_ms)
start_node zero "$T/shared.keys" --early-data --replay-window-ms "$WINDOW_MS"
start_node plain "$T/shared.keys"
ok "nodes listening: zero ${NODE_PORT[zero]} (--early-data), plain ${NODE_PORT[plain]}"

tls_get zero tls1_3 - "$T/zero.sess" || fail "full handshake on zero failed"
grep -q '^New, TLSv1\.3' "$T/last" || fail "zero: no new TLS 1.3 session"
grep -qx 'early-data: no' "$T/last" || fail "zero: a 1-RTT request is not answered early-data: no"
openssl sess_id -in "$T/zero.sess" -noout -text >"$T/zero.sess.txt" 2>&1 ||
    fail "cannot read the session s_client saved: $(cat "$T/zero.sess.txt")"
grep -q 'Max Early Data: 16384$' "$T/zero.sess.txt" ||
    fail "zero's ticket does not offer 16384 bytes of early data: $(grep 'Early' "$T/zero.sess.txt")"
ok "zero: full handshake answered early-data: no; its ticket offers 16384 bytes of early data"

# ---- GET in early data: refused in the start-up window, then served ----------
attempts=0
refused=0
first_end=
deadline=$(($(now_ms) + RETRY_MS))
while :; do
    attempts=$((attempts + 1))
    if early_try zero "$T/zero.sess" "$GET_EARLY" "$GET_LATER"; then
        accepted_end=$(now_ms)
        break
    fi
    [ -n "$first_end" ] || first_end=$(now_ms)
    refused=$((refused + 1))
    grep -qx 'early-data: no' "$T/last" ||
        fail "zero: refused early data; the request after the handshake is not early-data: no"
    [ "$(now_ms)" -lt "$deadline" ] ||
        fail "zero: early data still refused ${RETRY_MS} ms after the first attempt ($attempts attempts)"
    sleep 0.2
done
[ -n "$first_end" ] || first_end=$accepted_end
[ "$(status_lines | tr '\n' '|')" = 'HTTP/1.1 200 OK|HTTP/1.1 200 OK|' ] ||
    fail "zero: accepted GET in early data: expected two 200 answers, got $(status_lines)"
[ "$(grep '^early-data: ' "$T/last" | tr '\n' '|')" = 'early-data: yes|early-data: no|' ] ||
    fail "zero: expected the early GET to say early-data: yes and the later one early-data: no"
grep -qx 'resumed: yes' "$T/last" || fail "zero: the early GET's answer does not say resumed: yes"
# The cache is younger than start + WINDOW_MS until after that instant, so an
# attempt that ended before it was refused.
[ $((accepted_end - start)) -ge "$WINDOW_MS" ] ||
    fail "zero: early data accepted $((accepted_end - start)) ms after the node started," \
         "inside its ${WINDOW_MS} ms start-up window"
ok "zero: GET in early data served (early-data: yes), the later GET early-data: no;" \
   "accepted at attempt $attempts, $((accepted_end - start)) ms after start"

m() {
    awk -v s="$1" '$1 == s { print $2; exit }' "$T/metrics"
}
metrics() {
    tls_get zero tls1_3 - - /metrics || fail "GET /metrics on zero failed"
    cp "$T/last" "$T/metrics"
}
metrics
startup=$(m 'ticketring_early_data_refused_total{reason="startup"}')
stale=$(m 'ticketring_early_data_refused_total{reason="stale"}')
if [ -z "$startup" ] || [ -z "$stale" ]; then
    fail "zero's /metrics lacks the early-data refusals"
fi
[ "$(m ticketring_early_data_accepted_total)" = 1 ] ||
    fail "zero counts $(m ticketring_early_data_accepted_total) accepted early data, not 1"
[ $((startup + stale)) -eq "$refused" ] ||
    fail "zero: $refused attempts refused, counted startup=$startup stale=$stale"
for reason in off node sni alpn replay full tls; do
    [ "$(m "ticketring_early_data_refused_total{reason=\"$reason\"}")" = 0 ] ||
        fail "zero counts early data refused for reason=\"$reason\""
done
# The early GET was answered in the server's first flight: counted when its
# last byte was written, which happens before the client's Finished is read.
[ "$(m 'ticketring_server_early_requests_total{answer="served"}')" = 1 ] ||
    fail "zero does not count 1 request served from early data"
[ "$(m 'ticketring_server_half_rtt_responses_total{answer="served"}')" = 1 ] ||
    fail "zero: the early GET's answer was not sent as 0.5-RTT data" \
         "(half_rtt served: $(m 'ticketring_server_half_rtt_responses_total{answer="served"}'))"
[ "$(m 'ticketring_server_half_rtt_responses_total{answer="too_early"}')" = 0 ] ||
    fail "zero counts a 425 sent as 0.5-RTT data before any POST"
# Either the start-up refusal was seen, or not even the first attempt could
# have fallen inside the window.
[ "$startup" -ge 1 ] || [ $((first_end - start)) -ge "$WINDOW_MS" ] ||
    fail "zero: no start-up refusal, yet the first attempt ended $((first_end - start)) ms" \
         "after start (window ${WINDOW_MS} ms)"
ok "zero's /metrics: 1 accepted; the $refused refused attempts counted as startup ($startup)" \
   "or stale ($stale), no other reason; the early GET answered as 0.5-RTT data"

# ---- POST in early data: 425, then the same POST after the handshake ----------
early_until_accepted POST "$T/zero.sess" "$POST_EARLY" "$POST_LATER"
[ "$(status_lines | tr '\n' '|')" = 'HTTP/1.1 425 Too Early|HTTP/1.1 405 Method Not Allowed|' ] ||
    fail "zero: POST in early data then after the handshake: expected 425 then 405, got" \
         "$(status_lines | tr '\n' ' ')"
ok "zero: POST in early data answered 425 Too Early; after the handshake 405 (no POST here)"

metrics
[ "$(m ticketring_early_data_accepted_total)" = 2 ] ||
    fail "zero counts $(m ticketring_early_data_accepted_total) accepted early data, not 2"
[ "$(m 'ticketring_server_early_requests_total{answer="served"}')" = 1 ] ||
    fail "zero does not count 1 request served from early data"
[ "$(m 'ticketring_server_early_requests_total{answer="too_early"}')" = 1 ] ||
    fail "zero does not count 1 request answered 425"
[ "$(m 'ticketring_server_half_rtt_responses_total{answer="too_early"}')" = 1 ] ||
    fail "zero: the 425 to the early POST was not sent as 0.5-RTT data"
[ "$(m 'ticketring_server_half_rtt_responses_total{answer="served"}')" = 1 ] ||
    fail "zero: the POST changed the count of GETs answered as 0.5-RTT data"
[ "$(m ticketring_early_data_max_bytes)" = 16384 ] || fail "zero's early_data_max_bytes is not 16384"
[ "$(m ticketring_replay_window_seconds)" = $((WINDOW_MS / 1000)) ] ||
    fail "zero's replay_window_seconds is not $((WINDOW_MS / 1000))"
[ "$(m ticketring_replay_entries)" -ge 1 ] || fail "zero's replay cache holds no entry"
ok "zero's /metrics: early_data_accepted_total 2; 1 early request served, 1 answered 425," \
   "both as 0.5-RTT data; max 16384 bytes, window ${WINDOW_MS} ms"

# ---- pipelined early requests; a head completed only after the handshake -----
early_until_accepted "two GETs" "$T/zero.sess" "$READY_EARLY$GET_EARLY" "$GET_LATER"
[ "$(status_lines | tr '\n' '|')" = 'HTTP/1.1 200 OK|HTTP/1.1 200 OK|HTTP/1.1 200 OK|' ] ||
    fail "zero: two GETs in early data and one after: expected three 200 answers, got" \
         "$(status_lines | tr '\n' ' ')"
[ "$(grep -E '^(ready|early-data: .*)$' "$T/last" | tr '\n' '|')" = \
  'ready|early-data: yes|early-data: no|' ] ||
    fail "zero: expected /ready, then / (early), then / (after the handshake), in that order"
early_until_accepted "split head" "$T/zero.sess" "$SPLIT_EARLY" "$SPLIT_LATER"
[ "$(status_lines | tr '\n' '|')" = 'HTTP/1.1 200 OK|' ] ||
    fail "zero: a head split across early data and the handshake: expected one 200, got" \
         "$(status_lines | tr '\n' ' ')"
grep -qx 'early-data: yes' "$T/last" ||
    fail "zero: a head that began in early data is not answered early-data: yes"
metrics
[ "$(m ticketring_early_data_accepted_total)" = 4 ] ||
    fail "zero counts $(m ticketring_early_data_accepted_total) accepted early data, not 4"
[ "$(m 'ticketring_server_early_requests_total{answer="served"}')" = 4 ] ||
    fail "zero counts $(m 'ticketring_server_early_requests_total{answer="served"}') GETs" \
         "served from early data, not 4"
# The two pipelined GETs went out before the handshake completed; the split
# one could not: its head was not complete until after it.
[ "$(m 'ticketring_server_half_rtt_responses_total{answer="served"}')" = 3 ] ||
    fail "zero counts $(m 'ticketring_server_half_rtt_responses_total{answer="served"}')" \
         "GETs answered as 0.5-RTT data, not 3 (1 + the 2 pipelined; not the split one)"
[ "$(m ticketring_server_handshake_failures_total)" = 0 ] ||
    fail "zero counts $(m ticketring_server_handshake_failures_total) failed handshakes"
ok "zero: two GETs pipelined in early data both answered as 0.5-RTT data, in order;" \
   "a head completed after the handshake answered then (early-data: yes, not 0.5-RTT)"

# ---- without --early-data nothing changes ------------------------------------
tls_get plain tls1_3 - "$T/plain.sess" || fail "full handshake on plain failed"
grep -qx 'early-data: no' "$T/last" || fail "plain: a request is not answered early-data: no"
openssl sess_id -in "$T/plain.sess" -noout -text >"$T/plain.sess.txt" 2>&1 ||
    fail "cannot read plain's session: $(cat "$T/plain.sess.txt")"
if grep -q 'Max Early Data: [1-9]' "$T/plain.sess.txt"; then
    fail "plain's ticket offers early data without --early-data"
fi
printf '%s' "$GET_LATER" >"$T/early.req"
printf '%s' "$GET_LATER" |
    timeout 30 openssl s_client -connect "127.0.0.1:${NODE_PORT[plain]}" -tls1_3 \
        -servername localhost -CAfile "$T/cert.pem" -verify_return_error -ign_eof \
        -sess_in "$T/plain.sess" -early_data "$T/early.req" >"$T/last" 2>&1 ||
    fail "s_client to plain failed"
grep -qx 'Early data was not sent' "$T/last" || fail "plain: s_client sent early data"
grep -q '^Reused, TLSv1\.3' "$T/last" || fail "plain: the session did not resume"
[ "$(grep -c '^early-data: no' "$T/last")" = 1 ] || fail "plain: expected one early-data: no answer"
tls_get plain tls1_3 - - /metrics || fail "GET /metrics on plain failed"
grep -qx 'ticketring_early_data_max_bytes 0' "$T/last" || fail "plain: early_data_max_bytes is not 0"
grep -q '^ticketring_replay_' "$T/last" && fail "plain: replay-cache metrics without --early-data"
ok "plain (no --early-data): its ticket offers no early data, s_client sends none, it resumes"

stop_all
echo "$checks checks passed"
