#!/usr/bin/env bash
# The README's first quick-start command: TLS session resumption across three
# server nodes, with and without a shared libticketring key file.
#
#   1. installs the Debian packages that are missing (as root; otherwise it
#      prints the apt-get command to run and exits 1);
#   2. builds libticketring into build/demo (meson setup once, -Dtests=false);
#   3. makes a self-signed certificate (openssl CLI) and a key file with
#      ticketring-keys: 3 keys, the previous, current and next hour's;
#   4. run 1: three ticketring-openssl-server nodes on loopback sharing that
#      key file (--keys), reached through a delay proxy that adds 25 ms each
#      way (this kernel has no netem); a client makes 3000 HTTPS connections,
#      16 chains at a time, each reconnecting to the next node with the newest
#      session it holds, TLS 1.3 and TLS 1.2; half-way through, a key is added
#      to the file that starts encrypting 4 s later, which the nodes pick up
#      by themselves;
#   5. run 2: the same against three nodes with OpenSSL's default per-process
#      ticket keys (no --keys);
#   6. prints per node the resumption rate, the tickets refused by reason, the
#      server CPU time per connection (from each node's /metrics, read
#      directly before and after) and the median time to first byte of full
#      and resumed handshakes; then the rotation and a conclusion.
#
# With --mixed, instead of runs 1 and 2: one run on a mixed fleet sharing the
# key file, two ticketring-openssl-server and two ticketring-mbedtls-server
# nodes, in TLS 1.2 (all mbedTLS 2.28 speaks; a TLS 1.2 session's ticket is
# offered to whichever node comes next). Every hop to a node of the same
# backend resumes; every hop to the other backend is a clean full handshake,
# its ticket counted as refused (reason other_format) on that node.
#
# With --etcd, run 1's nodes follow the key schedule in a local etcd instead
# of watching the key file (--keys-source, --kek; docs/etcd.md): the key file
# is sealed into etcd with ticketring-keys publish, and the midway rotation
# publishes the rotated file, which the nodes apply through their etcd watch.
#
# Exit status: 0 only when every node answered, no connection failed, the
# rotation was seen through and run 1 resumed at least 90 % of the sessions
# it offered (with --mixed: no connection failed and 45..55 % resumed, the
# same-backend half), so this doubles as an end-to-end check. Other
# arguments go to `meson setup` on the first run. The key-schedule walkthrough under a
# simulated clock is examples/ring-demo.c (build/demo/examples/ticketring-ring-demo).
set -euo pipefail

mixed=0
etcd=0
setup_args=()
for arg in "$@"; do
    if [ "$arg" = --mixed ]; then
        mixed=1
    elif [ "$arg" = --etcd ]; then
        etcd=1
    else
        setup_args+=("$arg")
    fi
done
if [ $mixed -eq 1 ] && [ $etcd -eq 1 ]; then
    echo "demo.sh: --mixed and --etcd are separate demos: give one" >&2
    exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=build/demo
export DEBIAN_FRONTEND=noninteractive

connections=3000
parallel=16
one_way_ms=25
rotate_in_s=4 # > the nodes' key-file poll interval (1 s): all hold it before it seals

# ---- 1. packages -------------------------------------------------------------
packages=(meson ninja-build pkg-config gcc libc6-dev libssl-dev libmbedtls-dev libcmocka-dev
          openssl)
if [ $etcd -eq 1 ]; then
    packages+=(etcd-server libcurl4-openssl-dev libjson-c-dev curl python3)
fi
missing=()
for p in "${packages[@]}"; do
    # dpkg -s also succeeds for a removed package whose config files remain.
    # No pipe into grep -q: with pipefail, dpkg killed by SIGPIPE after grep
    # found the line would count a long entry (libc6-dev's) as missing.
    entry=$(dpkg -s "$p" 2>/dev/null || true)
    if ! grep -qx 'Status: install ok installed' <<<"$entry"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "demo.sh: missing Debian packages: ${missing[*]}" >&2
        echo "demo.sh: install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "demo.sh: installing ${missing[*]}"
    mkdir -p build
    { apt-get update -q && apt-get install -y -q "${missing[@]}"; } </dev/null \
        >build/demo.apt.log 2>&1 || { cat build/demo.apt.log >&2; exit 1; }
    rm -f build/demo.apt.log
fi

# ---- 2. build ------------------------------------------------------------------
mkdir -p "$(dirname "$build")"
if [ ! -f "$build/build.ninja" ]; then
    echo "demo.sh: meson setup $build"
    meson setup "$build" -Dtests=false -Dexamples=true ${setup_args[@]+"${setup_args[@]}"} \
        >"$build.setup.log" 2>&1 || {
        cat "$build.setup.log" >&2
        exit 1
    }
fi
echo "demo.sh: building ($build)"
ninja -C "$build" >"$build.ninja.log" 2>&1 || {
    cat "$build.ninja.log" >&2
    exit 1
}
# A build configured before etcd's libraries were installed has no etcd module.
if [ $etcd -eq 1 ] && ! "$build/tools/ticketring-keys" --help 2>/dev/null | grep -q publish; then
    echo "demo.sh: meson setup --reconfigure $build -Detcd=enabled"
    { meson setup --reconfigure "$build" -Detcd=enabled && ninja -C "$build"; } \
        >"$build.ninja.log" 2>&1 || { cat "$build.ninja.log" >&2; exit 1; }
fi
rm -f "$build.setup.log" "$build.ninja.log"

server=$build/examples/openssl-server/ticketring-openssl-server
mbedtls_server=$build/examples/mbedtls-server/ticketring-mbedtls-server
proxy=$build/tools/demo/ticketring-demo-proxy
client=$build/tools/demo/ticketring-demo-client
rotate=$build/tools/demo/ticketring-demo-rotate
keytool=$build/tools/ticketring-keys
for exe in "$server" "$proxy" "$client" "$rotate" "$keytool"; do
    if [ ! -x "$exe" ]; then
        echo "demo.sh: $exe was not built (the demo needs the OpenSSL backend)" >&2
        exit 1
    fi
done
if [ $mixed -eq 1 ] && [ ! -x "$mbedtls_server" ]; then
    echo "demo.sh: $mbedtls_server was not built (--mixed needs the mbedTLS backend)" >&2
    exit 1
fi

# ---- 3. certificate and key file -----------------------------------------------
tmp=$(mktemp -d)
pids=()
stop_all() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
etcd_pid=
stop_etcd() {
    [ -n "$etcd_pid" ] || return 0
    kill -TERM "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
    etcd_pid=
}
trap 'stop_all; stop_etcd; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

if ! openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost -keyout "$tmp/cert.key" -out "$tmp/cert.pem" \
        >"$tmp/openssl.log" 2>&1; then
    cat "$tmp/openssl.log" >&2
    exit 1
fi
keys=$tmp/tickets.keys
now=$(date +%s)
cluster_args=()
[ $etcd -eq 0 ] || cluster_args=(--cluster demo) # a store holds one schedule per cluster
"$keytool" generate --out "$keys" --count 3 --period 3600 --start $((now - 3600 - 60)) \
    ${cluster_args[@]+"${cluster_args[@]}"} >"$tmp/keys.log" 2>&1 ||
    { cat "$tmp/keys.log" >&2; exit 1; }
fingerprint=$("$keytool" inspect "$keys" | awk '$1 == "fingerprint" { print $2 }')

# With --etcd: one etcd member on free loopback ports, the key file sealed
# into it under a new key-encryption key.
keys_args=(--keys "$keys")
midway_publish=
if [ $etcd -eq 1 ]; then
    read -r etcd_client etcd_peer < <(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
    etcd --name demo --data-dir "$tmp/etcd" \
        --listen-client-urls "http://127.0.0.1:$etcd_client" \
        --advertise-client-urls "http://127.0.0.1:$etcd_client" \
        --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
        --initial-cluster "demo=http://127.0.0.1:$etcd_peer" --log-level=warn \
        >"$tmp/etcd.log" 2>&1 &
    etcd_pid=$!
    for ((i = 0; i < 100; i++)); do
        curl -s -m 1 "http://127.0.0.1:$etcd_client/health" | grep -q '"health":"true"' && break
        sleep 0.1
    done
    store=etcd://127.0.0.1:$etcd_client/ticketring
    { "$keytool" kek --out "$tmp/kek" --id demo-1 &&
      "$keytool" publish "$keys" --store "$store" --kek "$tmp/kek"; } >"$tmp/keys.log" 2>&1 ||
        { cat "$tmp/etcd.log" "$tmp/keys.log" >&2; exit 1; }
    keys_args=(--keys-source "$store" --kek "$tmp/kek" --cluster demo)
    midway_publish=" && $(printf '%q ' "$keytool" publish "$keys" --store "$store" \
        --kek "$tmp/kek") >/dev/null"
fi

# ---- 4. runs -------------------------------------------------------------------
# Print a process's "listening on HOST:PORT ..." address once it is ready.
wait_listening() { # OUTFILE PID NAME
    local i line
    for ((i = 0; i < 100; i++)); do
        line=$(grep -m1 '^listening on ' "$1" 2>/dev/null || true)
        if [ -n "$line" ]; then
            awk '{ print $3 }' <<<"$line"
            return 0
        fi
        if ! kill -0 "$2" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "demo.sh: $3 did not start:" >&2
    cat "$tmp/$3.log" >&2 || true
    return 1
}

# Stop the run's processes; fail if one had died or does not exit cleanly.
stop_run() {
    local pid rc=0
    for pid in "${pids[@]}"; do
        if ! kill -TERM "$pid" 2>/dev/null; then
            rc=1
        fi
    done
    for pid in "${pids[@]}"; do
        if ! wait "$pid"; then
            rc=1
        fi
    done
    pids=()
    return $rc
}

status=0
# The nodes of a run, as NAME=PROGRAM.
fleet=("node-a=$server" "node-b=$server" "node-c=$server")
run() { # RUN-NAME CLIENT-ARGS... -- SERVER-ARGS...
    local name=$1 node exe member addr pid direct=() via=() routes=() cargs=()
    shift
    while [ "$1" != -- ]; do cargs+=("$1"); shift; done
    shift
    for member in "${fleet[@]}"; do
        node=${member%%=*}
        exe=${member#*=}
        "$exe" --listen 127.0.0.1:0 --cert "$tmp/cert.pem" --key "$tmp/cert.key" \
            --node-id "$node" --alpn http/1.1 --threads 2 "$@" \
            >"$tmp/$name-$node.out" 2>"$tmp/$name-$node.log" &
        pid=$!
        pids+=("$pid")
        addr=$(wait_listening "$tmp/$name-$node.out" "$pid" "$name-$node") || return 1
        direct+=("$addr")
        routes+=(--route "127.0.0.1:0=$addr")
    done
    "$proxy" --delay-ms "$one_way_ms" "${routes[@]}" >"$tmp/$name-proxy.out" \
        2>"$tmp/$name-proxy.log" &
    pid=$!
    pids+=("$pid")
    wait_listening "$tmp/$name-proxy.out" "$pid" "$name-proxy" >/dev/null || return 1
    mapfile -t via < <(awk '/^listening on / { print $3 }' "$tmp/$name-proxy.out")
    echo
    if ! "$client" --via "$(IFS=,; echo "${via[*]}")" --direct "$(IFS=,; echo "${direct[*]}")" \
            --cafile "$tmp/cert.pem" --connections "$connections" --parallel "$parallel" \
            --tls mixed "${cargs[@]}"; then
        status=1
    fi
    if ! stop_run; then
        echo "demo.sh: a process of $name failed; its logs:" >&2
        tail -n 5 "$tmp/$name"-*.log >&2 || true
        status=1
    fi
}

if [ $mixed -eq 1 ]; then
    fleet=("os-a=$server" "os-b=$server" "mb-a=$mbedtls_server" "mb-b=$mbedtls_server")
    echo "A mixed fleet on loopback: os-a, os-b (ticketring-openssl-server) and mb-a, mb-b"
    echo "(ticketring-mbedtls-server), reached through a proxy that delays data ${one_way_ms} ms" \
         "each way."
    echo "One key file from ticketring-keys for all four ($fingerprint). Each chain of"
    echo "connections goes os-a, os-b, mb-a, mb-b, os-a ... in TLS 1.2, offering its newest"
    echo "session."
    run mixed --title "Run: OpenSSL and mbedTLS nodes share one key file (--keys)" \
        --label "mixed fleet" --tls 1.2 --connections 1200 --min-resumed 45 --max-resumed 55 \
        -- --keys "$keys" || status=1
    echo
    echo "A ticket resumes on every node of the backend that issued it (os-a <-> os-b,"
    echo "mb-a <-> mb-b); on the other backend's nodes it is refused (counted above under"
    echo "its reason) and the client gets a full handshake and a fresh ticket, never an error."
    if [ $status -eq 0 ]; then
        echo "demo.sh: every check held"
    else
        echo "demo.sh: SOMETHING WENT WRONG (see the !! lines above)"
    fi
    exit $status
fi

echo "3 ticketring-openssl-server nodes on loopback, reached through a proxy that delays"
echo "data ${one_way_ms} ms each way ($((2 * one_way_ms)) ms RTT; TCP connects are not delayed)." \
     "RSA-2048 certificate;"
echo "key file from ticketring-keys: the previous, current and next hour's keys ($fingerprint)."
if [ $etcd -eq 1 ]; then
    echo "The nodes follow that key set sealed in etcd ($store, --keys-source); the"
    echo "rotation half-way through is published there, and reaches them through their watch."
    title="Run 1: the nodes follow one key schedule in etcd (--keys-source)"
else
    title="Run 1: the nodes share one key file (--keys)"
fi
run shared --title "$title" --label "shared keys" \
    --midway "$(printf '%q %q %q' "$rotate" "$keys" "$rotate_in_s")$midway_publish" \
    --min-resumed 90 --save "$tmp/shared.sum" -- "${keys_args[@]}" || status=1
if [ -f "$tmp/shared.sum" ]; then
    run default --title "Run 2: each node has OpenSSL's own ticket keys (no --keys)" \
        --label "per-process keys" --compare "$tmp/shared.sum" -- || status=1
else
    status=1
fi
echo
if [ $status -eq 0 ]; then
    echo "demo.sh: every check held"
else
    echo "demo.sh: SOMETHING WENT WRONG (see the !! lines above)"
fi
exit $status
