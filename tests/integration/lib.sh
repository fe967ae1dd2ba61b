# Shared by the integration tests (sourced, never run): real clients against
# ticketring-openssl-server and ticketring-mbedtls-server nodes on loopback.
#
# The sourcing script is called as: SCRIPT SERVER KEYS_TOOL [PYTHON [MBEDTLS_SERVER]]
# (meson passes the built executables; tests/integration/meson.build).
# Every node gets port 0 and reports its port; every file lives in one
# mktemp -d directory; every server is killed on any way out.
set -u

SERVER=${1:?usage: $0 PATH/TO/ticketring-openssl-server PATH/TO/ticketring-keys [PYTHON]}
KEYS_TOOL=${2:?usage: $0 SERVER PATH/TO/ticketring-keys [PYTHON]}
PYTHON=${3:-python3}
MBEDTLS_SERVER=${4:-}
HERE=$(cd "$(dirname "$0")" && pwd)

# Generous: the servers are built with AddressSanitizer on a busy machine.
START_TIMEOUT=60   # seconds for a node to print its listening line
STOP_TIMEOUT=60    # seconds for a node to exit after SIGTERM
POLL_TIMEOUT=30    # seconds for a replaced key file to be picked up

T=$(mktemp -d "${TMPDIR:-/tmp}/tr-integration.XXXXXX") || exit 1
# NODE_TLS: the newest TLS version a node speaks (its /metrics is read with it).
declare -A NODE_PID=() NODE_PORT=() NODE_TLS=()

# spawn CMD...: run CMD in the background as itself ($! is CMD's pid). A
# plain "CMD &" child of this shell keeps its traps until it execs, and can
# run cleanup() itself when signalled.
spawn() {
    (
        trap - EXIT INT TERM HUP
        exec "$@"
    ) &
}
checks=0

cleanup() {
    local name
    for name in "${!NODE_PID[@]}"; do
        kill -KILL "${NODE_PID[$name]}" 2>/dev/null
        wait "${NODE_PID[$name]}" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# Print each node's log, then fail.
fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$T"/*.err; do
        [ -s "$f" ] || continue
        if grep -qE 'Sanitizer|runtime error:' "$f"; then
            echo "--- $(basename "$f" .err) stderr (sanitizer report: first 300 lines):" >&2
            head -n 300 "$f" >&2
        else
            echo "--- $(basename "$f" .err) stderr (last 30 lines):" >&2
            tail -n 30 "$f" >&2
        fi
    done
    if [ -s "$T/last" ]; then
        echo "--- last client output:" >&2
        cat "$T/last" >&2
    fi
    exit 1
}

ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}

# Exit 77 (meson: skipped) when a client the tests drive is missing, saying so.
need() {
    local tool
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "SKIP: '$tool' is not installed" >&2
            exit 77
        fi
    done
}

# A P-256 self-signed certificate for localhost and 127.0.0.1.
make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >"$T/openssl-req.log" 2>&1 ||
        fail "openssl req could not make a certificate: $(cat "$T/openssl-req.log")"
}

# make_keys FILE: fresh random keys, the first active since two minutes ago.
make_keys() {
    "$KEYS_TOOL" generate --out "$1" --count 2 --start $(($(date +%s) - 120)) --force \
        >/dev/null || fail "ticketring-keys generate --out $1 failed"
}

# fingerprint FILE: what ticketring-keys inspect reports for the file.
fingerprint() {
    "$KEYS_TOOL" inspect "$1" | awk '$1 == "fingerprint" { print $2 }'
}

# start_node NAME KEYFILE|- [SERVER ARGS...]: start a node on 127.0.0.1:0 and
# wait for its "listening on 127.0.0.1:PORT node NAME" line. The node is a
# ticketring-openssl-server, or a ticketring-mbedtls-server when the
# environment says TR_TEST_BACKEND=mbedtls (meson runs a few scripts both
# ways: the servers share their HTTP code and must answer alike).
start_node() {
    if [ "${TR_TEST_BACKEND:-openssl}" = mbedtls ]; then
        start_mbedtls_node "$@"
    else
        start_openssl_node "$@"
    fi
}

# start_openssl_node NAME KEYFILE|- [SERVER ARGS...]: a ticketring-openssl-server.
start_openssl_node() {
    NODE_TLS[$1]=tls1_3
    start_exe "$SERVER" "$@"
}

# start_mbedtls_node NAME KEYFILE|- [SERVER ARGS...]: a ticketring-mbedtls-server
# (TLS 1.2 only).
start_mbedtls_node() {
    [ -n "$MBEDTLS_SERVER" ] || fail "no ticketring-mbedtls-server given (argument 4)"
    NODE_TLS[$1]=tls1_2
    start_exe "$MBEDTLS_SERVER" "$@"
}

# start_exe EXE NAME KEYFILE|- [SERVER ARGS...]
start_exe() {
    local exe=$1 name=$2 keys=$3 i port
    shift 3
    local args=(--listen 127.0.0.1:0 --cert "$T/cert.pem" --key "$T/key.pem" --node-id "$name")
    [ "$keys" = - ] || args+=(--keys "$keys")
    : >"$T/$name.out" # exists before the node's shell opens it
    spawn "$exe" "${args[@]}" "$@" >"$T/$name.out" 2>"$T/$name.err"
    NODE_PID[$name]=$!
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        port=$(sed -n "s/^listening on 127\.0\.0\.1:\([0-9][0-9]*\) node $name\$/\1/p" \
            "$T/$name.out")
        if [ -n "$port" ]; then
            NODE_PORT[$name]=$port
            return 0
        fi
        kill -0 "${NODE_PID[$name]}" 2>/dev/null || fail "node $name exited while starting"
        sleep 0.1
    done
    fail "node $name printed no listening line within ${START_TIMEOUT}s"
}

# stop_node NAME: SIGTERM (unless already sent); the node must exit 0
# within STOP_TIMEOUT without a sanitizer report.
stop_node() {
    local name=$1 pid=${NODE_PID[$1]} rc timer first
    kill -TERM "$pid" 2>/dev/null
    spawn sleep "$STOP_TIMEOUT"
    timer=$!
    wait -n -p first "$pid" "$timer"
    rc=$?
    kill -KILL "$timer" 2>/dev/null # KILL: the timer may not have exec'd yet
    wait "$timer" 2>/dev/null
    [ "$first" = "$pid" ] || fail "node $name did not exit within ${STOP_TIMEOUT}s of SIGTERM"
    unset "NODE_PID[$name]"
    [ "$rc" -eq 0 ] || fail "node $name exited with status $rc after SIGTERM"
    if grep -E 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:' \
        "$T/$name.err" >/dev/null; then
        fail "node $name: sanitizer report"
    fi
    ok "node $name stopped by SIGTERM: exit 0, no sanitizer report"
}

stop_all() {
    local name
    for name in "${!NODE_PID[@]}"; do
        stop_node "$name"
    done
}

# tls_get NAME VERSION SESS_IN|- SESS_OUT|- [PATH]: one GET over openssl
# s_client (VERSION tls1_2 or tls1_3); its whole output goes to $T/last. The
# request is answered before s_client exits, so a TLS 1.3 ticket (sent after
# the handshake) is in hand when -sess_out writes the session.
tls_get() {
    local name=$1 version=$2 sess_in=$3 sess_out=$4 path=${5:-/}
    local args=(-connect "127.0.0.1:${NODE_PORT[$name]}" "-$version" -servername localhost
                -CAfile "$T/cert.pem" -verify_return_error -ign_eof)
    [ "$sess_in" = - ] || args+=(-sess_in "$sess_in")
    [ "$sess_out" = - ] || args+=(-sess_out "$sess_out")
    printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" |
        timeout 30 openssl s_client "${args[@]}" >"$T/last" 2>&1
}

# The value of one metric line of node NAME ("name{labels}"), "" if absent.
metric() {
    local name=$1 series=$2
    tls_get "$name" "${NODE_TLS[$name]}" - - /metrics || fail "GET /metrics on $name failed"
    awk -v s="$series" '$1 == s { print $2; exit }' "$T/last"
}

# The fingerprint label of node NAME's ticketring_keyset_info.
node_fingerprint() {
    tls_get "$1" "${NODE_TLS[$1]}" - - /metrics || fail "GET /metrics on $1 failed"
    sed -n 's/^ticketring_keyset_info{fingerprint="\([0-9a-f]*\)".*/\1/p' "$T/last"
}

# assert_no_secrets KEYFILE FILE...: no part of KEYFILE's secrets (the HMAC
# secret and the AES key, 16 hex digits from each) appears in any FILE.
assert_no_secrets() {
    local keyfile=$1 secret part
    shift
    while read -r secret; do
        for part in "${secret:0:16}" "${secret:64:16}"; do
            if grep -qiF -- "$part" "$@"; then
                fail "key material of $keyfile appears in $*"
            fi
        done
    done < <(awk '$1 == "key" { print $4 }' "$keyfile")
}

# Milliseconds of the real-time clock (the clock the server's replay cache
# and ring read), without a fork.
now_ms() {
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t / 1000))
}

# usage_error WHAT ARGS...: the server must refuse ARGS with exit status 2
# and a message on stderr naming WHAT.
usage_error() {
    local what=$1 rc
    shift
    "$SERVER" --cert "$T/cert.pem" --key "$T/key.pem" "$@" >"$T/usage.out" 2>"$T/usage.txt"
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$*' exited with $rc, not 2 (a usage error)"
    grep -qF -- "$what" "$T/usage.txt" || fail "'$*': stderr does not mention '$what'"
}

# early_try NAME SESSION EARLY LATER: resume SESSION on node NAME over TLS 1.3
# with the request EARLY as early data and LATER sent once the
# handshake is done; the output goes to $T/last. Succeeds when s_client
# reports the early data accepted, fails (returns 1) when it was refused;
# anything else fails the test. A refusal must still be a resumption whose
# only answer is to LATER (so EARLY was discarded, as TLS requires).
early_try() {
    local name=$1 sess=$2 early=$3 later=$4
    printf '%s' "$early" >"$T/early.req"
    printf '%s' "$later" |
        timeout 30 openssl s_client -connect "127.0.0.1:${NODE_PORT[$name]}" -tls1_3 \
            -servername localhost -CAfile "$T/cert.pem" -verify_return_error -ign_eof \
            -sess_in "$sess" -early_data "$T/early.req" >"$T/last" 2>&1 ||
        fail "s_client with early data to $name failed"
    grep -q '^Reused, TLSv1\.3' "$T/last" || fail "$name: the 0-RTT attempt did not resume"
    if grep -qx 'Early data was accepted' "$T/last"; then
        return 0
    fi
    grep -qx 'Early data was rejected' "$T/last" ||
        fail "$name: s_client sent no early data (the ticket offers none?)"
    [ "$(grep -c '^HTTP/1\.1 ' "$T/last")" = 1 ] ||
        fail "$name: refused early data, yet more than the later request was answered"
    return 1
}

# stop_pid PID: stop a helper server of the test (redis-server, etcd), even
# a frozen one: SIGCONT, SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -CONT "$pid" 2>/dev/null
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds.
# This waits for another process (a node noticing a file), it times nothing.
wait_for() {
    local seconds=$1 what=$2 i
    shift 2
    for ((i = 0; i < seconds * 5; i++)); do
        "$@" && return 0
        sleep 0.2
    done
    fail "$what: not within ${seconds}s"
}
