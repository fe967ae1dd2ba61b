#!/bin/bash
# A fleet rotating its keys through etcd, with faults (issue 8): three
# ticketring-openssl-server nodes follow the schedule in a three-member etcd
# cluster; two ticketring-keys daemons race to write it, on a compressed
# schedule (a key every 4 s, tickets living 10 s); a round-robin client
# resumes each session on the next node all along. Through:
# - steady rotation: every serial written once, one key per period, every
#   activation acknowledged by all three live nodes;
# - the whole etcd cluster stopped and restarted;
# - a node frozen (SIGSTOP) while a key waits for it: a forced activation
#   naming it, then the node catching up;
# - a tampered, a foreign-cluster and an older-serial document written
#   straight into etcd: refused by every node, keys kept, repaired by a writer;
# - two of three members stopped (no quorum): nodes keep reading, writers wait;
# no ticket is refused for an unknown key anywhere, and the client's
# resumption rate is printed at the end, per phase.
# usage: test_fleet_rotation.sh SERVER KEYS_TOOL PYTHON
. "$(dirname "$0")/lib.sh"
need openssl etcd etcdctl curl python3
"$KEYS_TOOL" --help | grep -q daemon || { echo "SKIP: ticketring-keys without etcd" >&2; exit 77; }

PERIOD=4
SCHED=(--period "$PERIOD" --lead 1 --max-wait 3 --lifetime 10 --skew 1 --poll-ms 300)
export ETCDCTL_API=3

# ---- a three-member etcd cluster -------------------------------------------------
read -r C1 C2 C3 P1 P2 P3 < <(python3 -c '
import socket
s = [socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
CPORT=(- "$C1" "$C2" "$C3")
PPORT=(- "$P1" "$P2" "$P3")
INITIAL="m1=http://127.0.0.1:$P1,m2=http://127.0.0.1:$P2,m3=http://127.0.0.1:$P3"
declare -A MEMBER_PID=() DAEMON_PID=()
start_member() { # N
    local n=$1
    spawn etcd --name "m$n" --data-dir "$T/etcd$n" \
        --listen-client-urls "http://127.0.0.1:${CPORT[$n]}" \
        --advertise-client-urls "http://127.0.0.1:${CPORT[$n]}" \
        --listen-peer-urls "http://127.0.0.1:${PPORT[$n]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${PPORT[$n]}" \
        --initial-cluster "$INITIAL" --initial-cluster-state new \
        --log-level=warn >>"$T/etcd$n.log" 2>&1
    MEMBER_PID[$n]=$!
}
healthy() { curl -s -m 1 "http://127.0.0.1:$C1/health" | grep -q '"health":"true"'; }
stop_member() { # N
    stop_pid "${MEMBER_PID[$1]}"
    unset "MEMBER_PID[$1]"
}
stop_everything() {
    local p
    for p in "${DAEMON_PID[@]}"; do stop_pid "$p"; done
    for p in "${MEMBER_PID[@]}"; do stop_pid "$p"; done
    [ -z "${CLIENT_PID:-}" ] || stop_pid "$CLIENT_PID"
    cleanup
}
trap stop_everything EXIT

for n in 1 2 3; do start_member "$n"; done
wait_for 30 "the etcd cluster to elect a leader" healthy
URL="etcd://127.0.0.1:$C1/tr"
DOC=/tr/c1/keyset
ctl() { etcdctl --endpoints "127.0.0.1:$C1" --command-timeout=3s "$@"; }
# get_value KEY FILE: the value's exact bytes (--print-value-only adds a newline).
get_value() {
    ctl get "$1" -w json | python3 -c '
import base64, json, sys
sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["kvs"][0]["value"]))' >"$2"
}
ok "three etcd members on 127.0.0.1:$C1,$C2,$C3"

make_cert
"$KEYS_TOOL" kek --out "$T/kek" --id k1 >/dev/null || fail "ticketring-keys kek failed"

# ---- two writers, three nodes, one client -----------------------------------------
start_daemon() { # ID
    spawn "$KEYS_TOOL" daemon --store "$URL" --kek "$T/kek" --cluster c1 "${SCHED[@]}" \
        --id "$1" >>"$T/$1.err" 2>&1
    DAEMON_PID[$1]=$!
}
start_daemon w1
start_daemon w2
SRC=(--keys-source "$URL" --kek "$T/kek" --cluster c1 --lifetime 10 --keys-heartbeat 30)
for n in n1 n2 n3; do start_openssl_node "$n" - "${SRC[@]}"; done
ready() { tls_get "$1" tls1_3 - - /ready && grep -q '^HTTP/1\.1 200' "$T/last"; }
for n in n1 n2 n3; do wait_for 30 "$n to hold the first key set" ready "$n"; done
ok "writers w1 and w2 bootstrapped the schedule; n1, n2, n3 ready"
# Activations decided before the last node's first heartbeat counted fewer
# live nodes, rightly; the check below concerns those after it.
sleep 1
declare -A FROM=([w1]=$(wc -l <"$T/w1.err") [w2]=$(wc -l <"$T/w2.err"))
later() { tail -n +"$((FROM[w1] + 1))" "$T/w1.err"; tail -n +"$((FROM[w2] + 1))" "$T/w2.err"; }

mkdir "$T/rr"
echo steady >"$T/rr/phase"
spawn "$PYTHON" "$HERE/fleet_client.py" "$T/cert.pem" "$T/rr" \
    "n1=${NODE_PORT[n1]}" "n2=${NODE_PORT[n2]}" "n3=${NODE_PORT[n3]}" 2>"$T/client.err"
CLIENT_PID=$!

serial_of() { metric "$1" "ticketring_sync_info" >/dev/null
    sed -n 's/^ticketring_sync_info{source="etcd",serial="\([0-9]*\)".*/\1/p' "$T/last"; }
refused() { metric "$1" "ticketring_sync_refused_total{reason=\"$2\"}"; }
same_keys() { # every node on n1's fingerprint
    local want
    want=$(node_fingerprint n1)
    [ -n "$want" ] && [ "$(node_fingerprint n2)" = "$want" ] &&
        [ "$(node_fingerprint n3)" = "$want" ]
}
logs() { cat "$T/w1.err" "$T/w2.err"; }
count() { logs | grep -c -- "$1"; }
phase() { echo "$1" >"$T/rr/phase"; }
# more NEEDLE N: the writers' logs hold NEEDLE more than N times (for
# wait_for, which runs its command again each time).
more() { [ "$(count "$1")" -gt "$2" ]; }

# ---- steady rotation ----------------------------------------------------------------
sleep 2
get_value "$DOC" "$T/old.doc" || fail "etcdctl get failed"
wait_for 60 "five activations" more ' activated key ' 4
ok "steady: $(count ' activated key ') activations, $(count 'lost the race') lost races"

# ---- etcd stopped and restarted --------------------------------------------------------
phase etcd-down
for n in 1 2 3; do stop_member "$n"; done
unreachable() { [ "$(metric n1 'ticketring_sync_state{state="unreachable"}')" = 1 ]; }
wait_for 30 "n1 to see etcd unreachable" unreachable
before=$(serial_of n1) # a write in flight while etcd stopped has landed
sleep "$PERIOD"
[ "$(serial_of n1)" = "$before" ] || fail "a serial was applied while etcd was down"
ready n1 || fail "n1 not ready while etcd is down (it holds keys)"
ok "etcd down: nodes keep serving (n1 ready, serial $before kept)"
phase etcd-back
for n in 1 2 3; do start_member "$n"; done
wait_for 30 "the etcd cluster to come back" healthy
newer() { [ "$(serial_of n1)" -gt "$before" ]; }
wait_for 30 "a writer to write again after the restart" newer
wait_for 30 "every node to hold the same keys" same_keys
ok "etcd back: writers write again, nodes converge ($(serial_of n1))"

# ---- a node frozen through an activation ----------------------------------------------
phase frozen
echo n3 >"$T/rr/skip"
sleep 0.2 # the client's connection to n3 in flight, if any, finishes
kill -STOP "${NODE_PID[n3]}"
adds=$(count ' pending')
wait_for 30 "a key added while n3 is frozen" more ' pending' "$adds"
forced_n3() { logs | grep -q 'FORCED: 1 lagging: n3$'; }
wait_for 30 "a forced activation naming n3" forced_n3
ok "n3 frozen: $(logs | grep -m1 'FORCED')"
kill -CONT "${NODE_PID[n3]}"
wait_for 30 "n3 to catch up" same_keys
: >"$T/rr/skip"
ok "n3 resumed and caught up (fingerprint $(node_fingerprint n3))"
phase steady-2
sleep "$PERIOD"

# ---- spoiled documents written straight into etcd ---------------------------------------
# The writers are frozen so every node sees each spoiled document before a
# writer repairs it; then they run again and repair it.
spoil() { # REASON FILE: the nodes refuse FILE for REASON and keep their keys
    local reason=$1 file=$2 n was fp serial
    # Frozen first: a write already sent lands, then the nodes settle.
    for p in "${DAEMON_PID[@]}"; do kill -STOP "$p"; done
    sleep 0.5
    wait_for 30 "every node to hold the same keys" same_keys
    fp=$(node_fingerprint n1)
    serial=$(serial_of n1)
    declare -A was=()
    for n in n1 n2 n3; do was[$n]=$(refused "$n" "$reason"); done
    ctl put "$DOC" <"$file" >/dev/null || fail "etcdctl put failed"
    refused_more() { [ "$(refused "$1" "$reason")" -gt "${was[$1]}" ]; }
    for n in n1 n2 n3; do
        wait_for 30 "$n to refuse the $reason document" refused_more "$n"
    done
    [ "$(node_fingerprint n1)" = "$fp" ] || fail "n1's keys changed on a $reason document"
    for p in "${DAEMON_PID[@]}"; do kill -CONT "$p"; done
    repaired() { [ "$(serial_of n1)" -gt "$serial" ]; }
    wait_for 30 "a writer to repair the $reason document" repaired
    wait_for 30 "every node to hold the same keys" same_keys
    ok "$reason document: refused by n1, n2, n3 (keys kept), repaired by a writer"
}
phase spoiled
get_value "$DOC" "$T/cur.doc" || fail "etcdctl get failed"
python3 -c '
import sys
head, body = open(sys.argv[1], "rb").read().split(b"\n", 1)
i = len(body) // 2
body = body[:i] + (b"A" if body[i:i + 1] != b"A" else b"B") + body[i + 1:]
open(sys.argv[2], "wb").write(head + b"\n" + body)' "$T/cur.doc" "$T/tampered.doc"
spoil integrity "$T/tampered.doc"
"$KEYS_TOOL" generate --out "$T/c2.keys" --cluster c2 --count 1 >/dev/null &&
    "$KEYS_TOOL" publish "$T/c2.keys" --store "$URL" --kek "$T/kek" >/dev/null &&
    get_value /tr/c2/keyset "$T/foreign.doc" ||
    fail "could not make another cluster's document"
spoil cluster "$T/foreign.doc"
spoil rollback "$T/old.doc"
[ "$(count 'repaired the stored document')" -ge 3 ] || fail "fewer than 3 repairs written"

# ---- two of three members down: no quorum -------------------------------------------------
phase no-quorum
stop_member 2
stop_member 3
waiting() { logs | grep -q 'writer: the store takes no writes'; }
wait_for 30 "the writers to find no quorum" waiting
before=$(serial_of n1)
sleep "$PERIOD"
[ "$(serial_of n1)" = "$before" ] || fail "a serial was written without a quorum"
synced() { [ "$(metric "$1" 'ticketring_sync_state{state="synced"}')" = 1 ]; }
for n in n1 n2 n3; do synced "$n" || fail "$n stopped reading without a quorum"; done
ok "no quorum: nodes still read (synced), writers wait (serial $before kept)"
phase quorum-back
start_member 2
start_member 3
wait_for 30 "a quorum again" healthy
wait_for 30 "a writer to write again" newer
wait_for 30 "every node to hold the same keys" same_keys
logs | grep -q 'writer: the store takes writes again' || fail "no writer said it writes again"
ok "quorum back: writers write again, nodes converge"
phase steady-3
sleep "$PERIOD"

# ---- what the whole run shows ----------------------------------------------------------------
touch "$T/rr/stop"
wait_for 30 "the client's summary" test -s "$T/rr/summary"
wait "$CLIENT_PID" 2>/dev/null
CLIENT_PID=

# Every serial written by exactly one writer (a write logs a line per
# action, so serials are counted per writer); activations a period apart.
per_writer=$(for w in w1 w2; do
    sed -n 's/^ticketring-keys daemon \(w[12]\): serial \([0-9]*\): .*/\1 \2/p' "$T/$w.err"
done | sort -u | awk '{ print $2 }' | sort | uniq -d | wc -l)
[ "$per_writer" -eq 0 ] || fail "$per_writer serials were written by both writers"
logs | sed -n 's/.* activated key [0-9a-f]* at \([0-9]*\),.*/\1/p' | sort -n |
    awk -v p="$PERIOD" 'NR > 1 && $1 - prev < p { bad++ } { prev = $1 }
        END { exit bad > 0 }' || fail "two activations less than a period apart"
later | grep 'activated key' | grep -v FORCED | grep -vq 'held by all 3 live nodes' &&
    fail "an unforced activation was not held by all 3 nodes: $(later | grep 'activated key' |
        grep -v FORCED | grep -v 'held by all 3' | head -1)"
ok "every serial written by one writer; activations a period apart; unforced ones (once all 3 nodes were up) held by all 3"
for n in n1 n2 n3; do
    u=$(metric "$n" 'ticketring_tickets_refused_total{reason="unknown_key"}')
    [ "$u" = 0 ] || fail "$n refused $u tickets for an unknown key"
done
ok "no ticket refused for an unknown key on any node"
grep -q ' error ' "$T/rr/log" && fail "client errors: $(grep ' error ' "$T/rr/log" | head -3)"
read -r _ conns offered resumed errors < <(grep '^all ' "$T/rr/summary")
rate=$(awk -v r="$resumed" -v o="$offered" 'BEGIN { printf "%.1f", 100 * r / o }')
awk -v r="$resumed" -v o="$offered" 'BEGIN { exit !(r >= 0.9 * o) }' ||
    fail "resumption rate $rate % is below 90 %"
ok "round-robin client: $conns connections, $resumed of $offered offered sessions resumed ($rate %), $errors errors"

for p in "${DAEMON_PID[@]}"; do kill -TERM "$p"; done
for w in w1 w2; do wait "${DAEMON_PID[$w]}" || fail "daemon $w exited with $?"; done
DAEMON_PID=()
echo "# phase: connections offered resumed errors"
sed 's/^/#   /' "$T/rr/summary"
for w in w1 w2; do echo "# $(tail -n 1 "$T/$w.err")"; done
echo "# activations $(count ' activated key '), forced $(count FORCED), repairs $(count 'repaired the stored document'), lost races $(count 'lost the race')"
kek_hex=$(awk '{ print $2 }' "$T/kek")
grep -qF -- "${kek_hex:0:16}" "$T/w1.err" "$T/w2.err" "$T"/n?.err "$T/client.err" &&
    fail "key-encryption key material in a log"
stop_all
for n in 1 2 3; do stop_member "$n"; done
echo "$checks checks passed"
