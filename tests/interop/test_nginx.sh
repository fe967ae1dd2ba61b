#!/usr/bin/env bash
# A real nginx and libticketring nodes holding the same ticket key resume each
# other's sessions, TLS 1.3 and TLS 1.2, with openssl s_client and Python's
# ssl module (docs/interop-nginx.md has the findings this test pins down).
#
#   test_nginx.sh TR_INTEROP_NODE TICKETRING_KEYS INTEROP_CLIENT_PY
#
# Exit 77 (meson: skipped) when nginx, openssl or python3 is missing; set
# NGINX=/path/to/nginx to pick another binary. Everything lives in one
# mktemp -d directory; nginx and the nodes listen on free loopback ports and
# are stopped by their own pids on any way out.
set -u

NODE=${1:?usage: $0 TR_INTEROP_NODE TICKETRING_KEYS INTEROP_CLIENT_PY}
KEYS_TOOL=${2:?usage: $0 TR_INTEROP_NODE TICKETRING_KEYS INTEROP_CLIENT_PY}
CLIENT=${3:?usage: $0 TR_INTEROP_NODE TICKETRING_KEYS INTEROP_CLIENT_PY}
PYTHON=${PYTHON:-python3}
START_TIMEOUT=60 # seconds for a server to come up (sanitizer builds are slow)
STOP_TIMEOUT=60

skip() {
    echo "SKIP: $*" >&2
    exit 77
}

NGINX=${NGINX:-$(command -v nginx || true)}
for d in /usr/sbin /usr/local/sbin /usr/local/nginx/sbin; do
    [ -n "$NGINX" ] || { [ -x "$d/nginx" ] && NGINX=$d/nginx; }
done
[ -n "$NGINX" ] && [ -x "$NGINX" ] || skip "nginx is not installed (Debian: apt-get install nginx-light)"
"$NGINX" -V 2>&1 | grep -q -- '--with-http_ssl_module' || skip "$NGINX has no http_ssl_module"
command -v openssl >/dev/null || skip "the openssl command is not installed"
command -v "$PYTHON" >/dev/null || skip "$PYTHON is not installed"

T=$(mktemp -d "${TMPDIR:-/tmp}/tr-interop-nginx.XXXXXX") || exit 1
declare -A PID=() PORT=()
checks=0

cleanup() {
    local name
    for name in "${!PID[@]}"; do
        kill -KILL "${PID[$name]}" 2>/dev/null
        wait "${PID[$name]}" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$T"/*.err "$T"/nginx/error.log; do
        [ -s "$f" ] || continue
        echo "--- $f (last 20 lines):" >&2
        tail -n 20 "$f" >&2
    done
    [ -s "$T/last" ] && { echo "--- last client output:" >&2; cat "$T/last" >&2; }
    exit 1
}

ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}

# ---- Material: certificate, key file, nginx's 80-byte key files -------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj /CN=a.example \
    -addext subjectAltName=DNS:a.example,DNS:b.example >"$T/req.log" 2>&1 ||
    fail "openssl req: $(cat "$T/req.log")"

# Two keys: one encrypting now, the next pending (as a rotating fleet has).
"$KEYS_TOOL" generate --out "$T/keys" --count 2 --start $(($(date +%s) - 120)) \
    >/dev/null || fail "ticketring-keys generate failed"
"$KEYS_TOOL" inspect "$T/keys" >"$T/inspect" || fail "ticketring-keys inspect failed"
ENC=$(awk '$5 == "encrypt" { print $2 }' "$T/inspect")
PENDING=$(awk '$5 == "pending" { print $2 }' "$T/inspect")
[ -n "$ENC" ] && [ -n "$PENDING" ] || fail "no encrypt and pending key in: $(cat "$T/inspect")"

# nginx_key KEYFILE NAME OUT [swapped]: the 80 raw bytes nginx reads,
# name | HMAC secret | AES key, which is also the order of a key line's
# fields (docs/key-file-format.md). "swapped" writes the HAProxy order
# (AES first) instead: the negative control.
nginx_key() {
    "$PYTHON" - "$@" <<'EOF'
import os, sys
path, name, out = sys.argv[1:4]
swapped = len(sys.argv) > 4
for line in open(path):
    f = line.split()
    if len(f) == 4 and f[0] == "key" and f[1] == name:
        secret = bytes.fromhex(f[3])
        hmac, aes = secret[:32], secret[32:]
        raw = bytes.fromhex(f[1]) + (aes + hmac if swapped else hmac + aes)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, raw)
        os.close(fd)
        sys.exit(0)
sys.exit("key %s not in %s" % (name, path))
EOF
}
mkdir -p "$T/nginx/logs"
nginx_key "$T/keys" "$ENC" "$T/nginx/current.key" || fail "cannot write current.key"
nginx_key "$T/keys" "$PENDING" "$T/nginx/next.key" || fail "cannot write next.key"
nginx_key "$T/keys" "$ENC" "$T/nginx/swapped.key" swapped || fail "cannot write swapped.key"
[ "$(stat -c %s "$T/nginx/current.key")" = 80 ] || fail "current.key is not 80 bytes"

# nginx's session id context for the http module and this one certificate,
# from outside nginx: SHA-1("HTTP" | SHA-1(certificate DER)).
SID_CTX=$({
    printf HTTP
    openssl x509 -in "$T/cert.pem" -outform DER | openssl dgst -sha1 -binary
} | openssl dgst -sha1 -r | cut -c1-40)
[ ${#SID_CTX} = 40 ] || fail "cannot compute nginx's session id context"

# ---- Servers ------------------------------------------------------------------

free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# nginx as one foreground process with its own prefix, configuration, pid
# file and logs. "ng" has the exported keys (first = the ring's encrypt key,
# as nginx encrypts with the first ssl_session_ticket_key); "ngnext" has the
# ring's pending key first (an nginx reloaded ahead of the rotation);
# "ngswap" the encrypt key in the wrong byte order. TLS 1.3 must be enabled explicitly: nginx 1.22's
# default ssl_protocols stops at TLSv1.2.
write_nginx_conf() {
    cat >"$T/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $T/cert.pem;
    ssl_certificate_key $T/key.pem;
    ssl_session_tickets on;
    ssl_session_timeout 2h;
    server {
        listen 127.0.0.1:${PORT[ng]} ssl;
        server_name a.example b.example;
        ssl_session_ticket_key $T/nginx/current.key;
        ssl_session_ticket_key $T/nginx/next.key;
        location / { return 200 "nginx \$ssl_protocol reused=\$ssl_session_reused sni=\$ssl_server_name\n"; }
    }
    server {
        listen 127.0.0.1:${PORT[ngnext]} ssl;
        server_name a.example;
        ssl_session_ticket_key $T/nginx/next.key;
        ssl_session_ticket_key $T/nginx/current.key;
        location / { return 200 "nginx-next \$ssl_protocol reused=\$ssl_session_reused\n"; }
    }
    server {
        listen 127.0.0.1:${PORT[ngswap]} ssl;
        server_name a.example;
        ssl_session_ticket_key $T/nginx/swapped.key;
        location / { return 200 "nginx-swapped \$ssl_protocol reused=\$ssl_session_reused\n"; }
    }
}
EOF
}

start_nginx() {
    local i
    # A free port can be taken again before nginx binds it: try anew.
    for _ in 1 2 3 4 5; do
        PORT[ng]=$(free_port) && PORT[ngnext]=$(free_port) && PORT[ngswap]=$(free_port) ||
            fail "no free port"
        write_nginx_conf
        "$NGINX" -p "$T/nginx/" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" -t \
            >"$T/nginx-t.err" 2>&1 || fail "nginx -t: $(cat "$T/nginx-t.err")"
        "$NGINX" -p "$T/nginx/" -c "$T/nginx/nginx.conf" -e "$T/nginx/error.log" \
            >"$T/nginx.out" 2>"$T/nginx.err" &
        PID[nginx]=$!
        for ((i = 0; i < START_TIMEOUT * 10; i++)); do
            if port_open "${PORT[ng]}" && port_open "${PORT[ngnext]}" &&
                port_open "${PORT[ngswap]}"; then
                ok "$("$NGINX" -v 2>&1) listening on ${PORT[ng]} ${PORT[ngnext]} ${PORT[ngswap]}"
                return 0
            fi
            kill -0 "${PID[nginx]}" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "${PID[nginx]}" 2>/dev/null
        wait "${PID[nginx]}" 2>/dev/null
        unset "PID[nginx]"
        grep -q 'Address already in use' "$T/nginx/error.log" 2>/dev/null || break
    done
    fail "nginx did not start"
}

# start_node NAME [NODE ARGS...]: a libticketring node on the shared key file.
start_node() {
    local name=$1 i line
    shift
    "$NODE" --listen 127.0.0.1:0 --cert "$T/cert.pem" --key "$T/key.pem" --keys "$T/keys" \
        --node-id "$name" "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PID[$name]=$!
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        line=$(head -n 1 "$T/$name.out")
        if [ -n "$line" ]; then
            PORT[$name]=$(sed -n "s/^listening on 127\.0\.0\.1:\([0-9]*\) node $name sid_ctx [0-9a-f]*\$/\1/p" \
                <<<"$line")
            [ -n "${PORT[$name]}" ] || fail "node $name: unexpected first line: $line"
            return 0
        fi
        kill -0 "${PID[$name]}" 2>/dev/null || fail "node $name exited while starting"
        sleep 0.1
    done
    fail "node $name printed no listening line within ${START_TIMEOUT}s"
}

node_sid_ctx() {
    sed -n 's/^listening on .* sid_ctx \([0-9a-f]*\)$/\1/p' "$T/$1.out"
}

# exited PID: the process is gone or a zombie waiting for our wait.
exited() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    [ "${stat%% *}" = Z ]
}

# stop NAME: SIGTERM; it must exit 0 without a sanitizer report. Polled, not
# watched by a background sleeper: a forked child that is signalled before
# it execs would run this shell's traps.
stop() {
    local name=$1 pid=${PID[$1]} rc i
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
        exited "$pid" && break
        sleep 0.1
    done
    exited "$pid" || kill -KILL "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    unset "PID[$name]"
    [ "$rc" -eq 0 ] || fail "$name exited with status $rc after SIGTERM"
    if grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/$name.err" >/dev/null; then
        fail "$name: sanitizer report"
    fi
}

# ---- Clients --------------------------------------------------------------------

# get SERVER VERSION SNI SESS_IN|- SESS_OUT|- [PATH]: one GET through
# openssl s_client (VERSION tls1_2 or tls1_3), its output in $T/last. The
# answer comes after a TLS 1.3 ticket, so -sess_out has it.
get() {
    local server=$1 version=$2 sni=$3 sess_in=$4 sess_out=$5 path=${6:-/}
    local args=(-connect "127.0.0.1:${PORT[$server]}" "-$version" -servername "$sni" -ign_eof)
    [ "$sess_in" = - ] || args+=(-sess_in "$sess_in")
    [ "$sess_out" = - ] || args+=(-sess_out "$sess_out")
    printf 'GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$sni" |
        timeout 30 openssl s_client "${args[@]}" >"$T/last" 2>&1 ||
        fail "s_client to $server ($version) failed"
}

# What the client saw: "Reused" or "New" (s_client's own verdict).
verdict() {
    sed -n 's/^\(New\|Reused\), TLSv1\.[23], .*/\1/p' "$T/last" | head -n 1
}

# The server's one-line answer.
answer() {
    grep -a -m 1 -E '^(node|nginx|nginx-swapped) ' "$T/last"
}

# metric NODE SERIES: the value of one ticketring_* series of a node, in $M
# (not printed: fail in a command substitution would not end the test).
metric() {
    get "$1" tls1_3 a.example - - /metrics
    M=$(awk -v s="$2" '$1 == s { print $2; exit }' "$T/last")
    [[ "$M" =~ ^[0-9]+$ ]] || fail "node $1 has no metric $2"
}

# expect_metric NODE SERIES BEFORE DELTA WHAT
expect_metric() {
    metric "$1" "$2"
    [ "$M" = $(($3 + $4)) ] || fail "$5: $1 $2 went from $3 to $M, expected +$4"
}

ticket_of() {
    openssl sess_id -in "$1" -noout -text | sed -n '/TLS session ticket:/,/^$/p'
}

# The key name a saved session's ticket starts with (OpenSSL's format: name,
# IV, encrypted session, HMAC), as 32 hex digits.
ticket_key_name() {
    ticket_of "$1" | sed -n '2s/^ *0000 - \(.\{47\}\).*/\1/p' | tr -d ' -'
}

# ---- The checks ---------------------------------------------------------------------

start_nginx
start_node trA --sid-ctx nginx-http
start_node trR --sid-ctx nginx-http --unbound refuse
start_node trD # tr_openssl_attach()'s default session id context, "ticketring"

[ "$(node_sid_ctx trA)" = "$SID_CTX" ] ||
    fail "session id context: node computed $(node_sid_ctx trA), the shell $SID_CTX"
ok "nginx's session id context computed two ways agrees: $SID_CTX"

for v in tls1_3 tls1_2; do
    # nginx -> libticketring
    metric trA ticketring_tickets_accepted_unbound_total
    unbound=$M
    metric trA ticketring_resumed_cross_node_total
    cross=$M
    get ng "$v" a.example - "$T/ng-$v.pem"
    [ "$(verdict)" = New ] || fail "$v: first connection to nginx was not a full handshake"
    [ "$(ticket_key_name "$T/ng-$v.pem")" = "$ENC" ] ||
        fail "$v: nginx's ticket does not start with the ring's encrypt key name"
    get trA "$v" a.example "$T/ng-$v.pem" -
    [ "$(verdict)" = Reused ] && answer | grep -q 'resumed yes origin -' ||
        fail "$v: nginx's ticket was not resumed by the libticketring node"
    expect_metric trA ticketring_tickets_accepted_unbound_total "$unbound" 1 "$v nginx ticket"
    expect_metric trA ticketring_resumed_cross_node_total "$cross" 1 "$v nginx ticket"
    ok "$v: a ticket nginx issued resumes on libticketring (accepted unbound, cross-node)"

    # libticketring -> nginx
    get trA "$v" a.example - "$T/tr-$v.pem"
    [ "$(verdict)" = New ] || fail "$v: first connection to trA was not a full handshake"
    [ "$(ticket_key_name "$T/tr-$v.pem")" = "$ENC" ] ||
        fail "$v: trA's ticket does not start with the encrypt key name"
    get ng "$v" a.example "$T/tr-$v.pem" "$T/tr-ng-$v.pem"
    [ "$(verdict)" = Reused ] && answer | grep -q 'reused=r' ||
        fail "$v: libticketring's ticket was not resumed by nginx"
    ok "$v: a ticket libticketring issued resumes on nginx"

    if [ "$v" = tls1_3 ]; then
        # nginx renews a TLS 1.3 ticket; the renewal keeps libticketring's
        # binding data (the session's app data is opaque to nginx).
        [ -s "$T/tr-ng-$v.pem" ] && [ "$(ticket_of "$T/tr-ng-$v.pem")" != "$(ticket_of "$T/tr-$v.pem")" ] ||
            fail "$v: nginx did not renew the ticket on resumption"
        get trA "$v" a.example "$T/tr-ng-$v.pem" -
        [ "$(verdict)" = Reused ] && answer | grep -q 'resumed yes origin trA' ||
            fail "$v: the ticket nginx renewed did not resume on trA with its binding data"
        ok "$v: nginx renews the ticket, the renewal resumes on libticketring as trA's own"
    fi

    # The default session id context: the ticket decrypts and passes the
    # policy, then OpenSSL silently does a full handshake (counted: context).
    metric trD 'ticketring_handshakes_total{type="resumed"}'
    resumed=$M
    metric trD 'ticketring_tickets_refused_total{reason="context"}'
    refused=$M
    get ng "$v" a.example - "$T/ngd-$v.pem"
    get trD "$v" a.example "$T/ngd-$v.pem" -
    [ "$(verdict)" = New ] || fail "$v: default session id context resumed an nginx ticket"
    expect_metric trD 'ticketring_handshakes_total{type="resumed"}' "$resumed" 0 "$v default sid_ctx"
    expect_metric trD 'ticketring_tickets_refused_total{reason="context"}' "$refused" 1 "$v default sid_ctx"
    get trD "$v" a.example - "$T/trd-$v.pem"
    get ng "$v" a.example "$T/trd-$v.pem" -
    [ "$(verdict)" = New ] || fail "$v: nginx resumed a ticket sealed under sid_ctx \"ticketring\""
    ok "$v: with the default session id context neither side resumes the other's ticket (refused: context)"

    # TR_UNBOUND_REFUSE
    metric trR 'ticketring_tickets_refused_total{reason="unbound"}'
    refused=$M
    get ng "$v" a.example - "$T/ngr-$v.pem"
    get trR "$v" a.example "$T/ngr-$v.pem" -
    [ "$(verdict)" = New ] || fail "$v: TR_UNBOUND_REFUSE resumed an nginx ticket"
    expect_metric trR 'ticketring_tickets_refused_total{reason="unbound"}' "$refused" 1 "$v refuse"
    get trA "$v" a.example - "$T/trr-$v.pem"
    get trR "$v" a.example "$T/trr-$v.pem" -
    [ "$(verdict)" = Reused ] || fail "$v: TR_UNBOUND_REFUSE refused a libticketring ticket"
    ok "$v: TR_UNBOUND_REFUSE: nginx's ticket is a full handshake (refused: unbound), ours resume"

    # nginx stores the SNI in its sessions (its servername callback accepts
    # every name), so the SNI binding applies to its tickets too. (The
    # resumption under a.example above shows the name is stored: a ticket
    # without one would be refused under any SNI.)
    metric trA 'ticketring_tickets_refused_total{reason="sni"}'
    refused=$M
    get ng "$v" a.example - "$T/ngs-$v.pem"
    get trA "$v" b.example "$T/ngs-$v.pem" -
    [ "$(verdict)" = New ] || fail "$v: nginx's a.example ticket resumed under SNI b.example"
    expect_metric trA 'ticketring_tickets_refused_total{reason="sni"}' "$refused" 1 "$v sni"
    ok "$v: nginx's ticket for a.example under SNI b.example: full handshake (refused: sni)"

    # nginx already encrypting with the ring's pending key: pending keys
    # decrypt on every node, so an early nginx reload breaks nothing.
    get ngnext "$v" a.example - "$T/ngn-$v.pem"
    [ "$(ticket_key_name "$T/ngn-$v.pem")" = "$PENDING" ] ||
        fail "$v: nginx did not encrypt with its first ssl_session_ticket_key"
    get trA "$v" a.example "$T/ngn-$v.pem" -
    [ "$(verdict)" = Reused ] ||
        fail "$v: a ticket nginx sealed with the ring's pending key did not resume"
    ok "$v: nginx's ticket under the ring's pending key resumes on libticketring"

    # Byte order matters: AES key and HMAC secret swapped (HAProxy's order).
    metric trA 'ticketring_tickets_refused_total{reason="auth"}'
    refused=$M
    get ngswap "$v" a.example - "$T/ngw-$v.pem"
    get trA "$v" a.example "$T/ngw-$v.pem" -
    [ "$(verdict)" = New ] || fail "$v: a ticket under the swapped key resumed"
    expect_metric trA 'ticketring_tickets_refused_total{reason="auth"}' "$refused" 1 "$v swapped"
    ok "$v: the same key with AES and HMAC swapped: full handshake (refused: auth)"
done

# Python's ssl module, both ways and the ALPN binding of nginx's tickets.
for v in 1.3 1.2; do
    "$PYTHON" "$CLIENT" "$v" a.example "${PORT[ng]}" http/1.1 "${PORT[trA]}" http/1.1 \
        >"$T/last" 2>&1 || fail "python client failed"
    grep -q '^resumed reused=yes node trA protocol TLSv'"$v"' resumed yes origin - ' "$T/last" ||
        fail "python TLS $v: nginx -> trA not resumed"
    "$PYTHON" "$CLIENT" "$v" a.example "${PORT[trA]}" http/1.1 "${PORT[ng]}" http/1.1 \
        >"$T/last" 2>&1 || fail "python client failed"
    grep -q '^resumed reused=yes nginx TLSv'"$v"' reused=r' "$T/last" ||
        fail "python TLS $v: trA -> nginx not resumed"
    metric trA 'ticketring_tickets_refused_total{reason="alpn"}'
    refused=$M
    "$PYTHON" "$CLIENT" "$v" a.example "${PORT[ng]}" http/1.1 "${PORT[trA]}" h2 \
        >"$T/last" 2>&1 || fail "python client failed"
    grep -q '^resumed reused=no ' "$T/last" || fail "python TLS $v: ALPN mismatch resumed"
    expect_metric trA 'ticketring_tickets_refused_total{reason="alpn"}' "$refused" 1 "TLS $v alpn"
    ok "python TLS $v: resumption both ways; nginx's http/1.1 ticket offered only h2 is refused (alpn)"
done

for name in trA trR trD; do
    stop "$name"
done
stop nginx
ok "nodes and nginx stopped cleanly"
echo "$checks checks passed"
