#!/usr/bin/env bash
# Keys exported by `ticketring-keys export` are the keys a real nginx and a
# real HAProxy use: both servers start with exported files, their tickets
# carry the ring's encrypt key name, and they resume sessions with a
# libticketring node holding the original key file, both ways, TLS 1.3 and
# TLS 1.2 (docs/interop-haproxy.md, docs/interop-nginx.md).
#
#   test_export_servers.sh TR_INTEROP_NODE TICKETRING_KEYS
#
# Exit 77 (skipped) when openssl or both servers are missing; a missing one
# of the two is skipped visibly. Set NGINX= or HAPROXY= to pick binaries.
# Everything lives in one mktemp -d directory; servers listen on free
# loopback ports in the foreground and are stopped by their own pids.
set -u

NODE=${1:?usage: $0 TR_INTEROP_NODE TICKETRING_KEYS}
KEYS_TOOL=${2:?usage: $0 TR_INTEROP_NODE TICKETRING_KEYS}
START_TIMEOUT=60

find_bin() { # NAME: $NAME from the environment, PATH, or sbin directories
    local v=${!1:-} d
    [ -n "$v" ] || v=$(command -v "$2" || true)
    for d in /usr/sbin /usr/local/sbin; do
        [ -n "$v" ] || { [ -x "$d/$2" ] && v=$d/$2; }
    done
    echo "$v"
}
NGINX=$(find_bin NGINX nginx)
HAPROXY=$(find_bin HAPROXY haproxy)
command -v openssl >/dev/null || { echo "SKIP: no openssl command" >&2; exit 77; }
[ -n "$NGINX" ] || [ -n "$HAPROXY" ] || { echo "SKIP: neither nginx nor haproxy" >&2; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/tr-export-servers.XXXXXX") || exit 1
declare -A PID=() PORT=()
checks=0

cleanup() {
    local n
    for n in "${!PID[@]}"; do
        kill -KILL "${PID[$n]}" 2>/dev/null
        wait "${PID[$n]}" 2>/dev/null
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    local f
    echo "FAIL: $*" >&2
    for f in "$T"/*.err "$T"/*.log; do
        [ -s "$f" ] && { echo "--- $f:" >&2; tail -n 15 "$f" >&2; }
    done
    [ -s "$T/last" ] && { echo "--- last client output:" >&2; cat "$T/last" >&2; }
    exit 1
}
ok() {
    checks=$((checks + 1))
    echo "ok $checks - $*"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
        echo $((20000 + RANDOM % 20000))
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # NAME PORT
    local i
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        port_open "$2" && return 0
        kill -0 "${PID[$1]}" 2>/dev/null || fail "$1 exited while starting"
        sleep 0.1
    done
    fail "$1 did not listen on $2"
}

# start_node NAME SID_CTX_HEX: a libticketring node on the original key file.
start_node() {
    local i line
    "$NODE" --listen 127.0.0.1:0 --cert "$T/cert.pem" --key "$T/key.pem" --keys "$T/ring.keys" \
        --node-id "$1" --sid-ctx "$2" >"$T/$1.out" 2>"$T/$1.err" &
    PID[$1]=$!
    for ((i = 0; i < START_TIMEOUT * 10; i++)); do
        line=$(head -n 1 "$T/$1.out")
        if [ -n "$line" ]; then
            PORT[$1]=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' <<<"$line")
            [ -n "${PORT[$1]}" ] || fail "node $1: $line"
            return 0
        fi
        kill -0 "${PID[$1]}" 2>/dev/null || fail "node $1 exited while starting"
        sleep 0.1
    done
    fail "node $1 did not start"
}

# sc PORT VERSION SESS_OUT [SESS_IN]: one GET; prints "New"/"Reused" and the body.
sc() {
    local args=(-connect "127.0.0.1:$1" -servername a.example "-$2" -sess_out "$3" -ign_eof)
    [ $# -ge 4 ] && args+=(-sess_in "$4")
    printf 'GET / HTTP/1.0\r\nHost: a.example\r\n\r\n' |
        timeout 20 openssl s_client "${args[@]}" >"$T/last" 2>&1
    grep -Eo '^(New|Reused), TLSv1\.[23]' "$T/last" | head -n 1
}

# The key name (first 16 bytes) of the ticket in a saved session.
ticket_name() {
    # The dump is "0000 - 2a 3c ... dc-f7 c0 ...   text": bytes 0..15 on the
    # first line, the eighth and ninth joined by a dash.
    openssl sess_id -in "$1" -noout -text 2>/dev/null |
        awk '/TLS session ticket:/ { getline; h = substr($0, index($0, " - ") + 3, 47)
                                    gsub(/[- ]/, "", h); print h; exit }'
}

# resume SERVER_PORT NODE_PORT WHAT: tickets of each resume on the other.
resume_both_ways() {
    local sp=$1 np=$2 what=$3 v r
    for v in tls1_3 tls1_2; do
        r=$(sc "$sp" "$v" "$T/s.$v")
        [ "$r" = "New, TLSv1.${v: -1}" ] || fail "$what $v: first handshake: $r"
        [ "$(ticket_name "$T/s.$v")" = "$ENC" ] ||
            fail "$what $v: its ticket names key $(ticket_name "$T/s.$v"), the ring encrypts with $ENC"
        r=$(sc "$np" "$v" "$T/s2.$v" "$T/s.$v")
        [ "$r" = "Reused, TLSv1.${v: -1}" ] || fail "$what $v: its ticket on the node: $r"
        ok "$what $v: ticket under key $ENC, resumed on the libticketring node"
        r=$(sc "$np" "$v" "$T/n.$v")
        [ "$(ticket_name "$T/n.$v")" = "$ENC" ] || fail "node $v ticket key"
        r=$(sc "$sp" "$v" "$T/n2.$v" "$T/n.$v")
        [ "$r" = "Reused, TLSv1.${v: -1}" ] || fail "$what $v: the node's ticket: $r"
        ok "$what $v: the libticketring node's ticket resumed"
    done
}

# ---- Material ----------------------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/key.pem" \
    -out "$T/cert.pem" -days 2 -subj /CN=a.example -addext subjectAltName=DNS:a.example \
    >"$T/req.log" 2>&1 || fail "openssl req"
cat "$T/cert.pem" "$T/key.pem" >"$T/crt.pem"
# A rotating fleet's file: a previous key, the encrypt key, a pending key.
NOW=$(date +%s)
"$KEYS_TOOL" generate --out "$T/ring.keys" --count 3 --period 600 --start $((NOW - 900)) \
    >/dev/null || fail "generate"
"$KEYS_TOOL" inspect "$T/ring.keys" >"$T/inspect" || fail "inspect"
ENC=$(awk '$5 == "encrypt" { print $2 }' "$T/inspect")
[ -n "$ENC" ] || fail "no encrypt key: $(cat "$T/inspect")"

# ---- nginx ---------------------------------------------------------------------------
if [ -n "$NGINX" ]; then
    mkdir -p "$T/ng/logs"
    "$KEYS_TOOL" export --to nginx "$T/ring.keys" --out "$T/ng/ticket" >"$T/ng.lines" ||
        fail "export --to nginx"
    [ "$(grep -c '^ssl_session_ticket_key ' "$T/ng.lines")" -eq 3 ] || fail "nginx lines"
    PORT[ng]=$(free_port)
    cat >"$T/ng/nginx.conf" <<EOF
daemon off;
master_process off;
pid $T/ng/nginx.pid;
error_log $T/ng/error.log info;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $T/ng/b; proxy_temp_path $T/ng/p; fastcgi_temp_path $T/ng/f;
    uwsgi_temp_path $T/ng/u; scgi_temp_path $T/ng/s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_timeout 2h;
    server {
        listen 127.0.0.1:${PORT[ng]} ssl;
        server_name a.example;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
$(sed -n 's/^ssl_session_ticket_key /        ssl_session_ticket_key /p' "$T/ng.lines")
        location / { return 200 "nginx\n"; }
    }
}
EOF
    "$NGINX" -p "$T/ng/" -c "$T/ng/nginx.conf" -e "$T/ng/error.log" >"$T/nginx.err" 2>&1 &
    PID[nginx]=$!
    wait_port nginx "${PORT[ng]}"
    ok "$("$NGINX" -v 2>&1) started with the exported keys"
    SID=$({ printf HTTP; openssl x509 -in "$T/cert.pem" -outform DER | openssl dgst -sha1 -binary; } |
        openssl dgst -sha1 -r | cut -c1-40)
    start_node trng "$SID"
    resume_both_ways "${PORT[ng]}" "${PORT[trng]}" nginx
else
    echo "SKIP: nginx is not installed (Debian: apt-get install nginx-light)"
fi

# ---- HAProxy ---------------------------------------------------------------------------
if [ -n "$HAPROXY" ]; then
    "$KEYS_TOOL" export --to haproxy "$T/ring.keys" --out "$T/haproxy.keys" >"$T/hap.lines" ||
        fail "export --to haproxy"
    grep -q "^tls-ticket-keys $T/haproxy.keys$" "$T/hap.lines" || fail "HAProxy line"
    # The negative control: the same keys in nginx's byte order (HMAC
    # first), which HAProxy reads as other keys under the same names.
    python3 - "$T/haproxy.keys" "$T/haproxy-swapped.keys" <<'EOF' || fail "swapped copy"
import base64, os, sys
src, dst = sys.argv[1:]
out = b""
for line in open(src, "rb").read().split(b"\n")[:-1]:
    k = base64.b64decode(line, validate=True)
    out += base64.b64encode(k[:16] + k[48:] + k[16:48]) + b"\n"
fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, out)
os.close(fd)
EOF
    PORT[hap]=$(free_port)
    PORT[hapswap]=$(free_port)
    cat >"$T/haproxy.cfg" <<EOF
global
    stats socket $T/haproxy.sock mode 600 level admin
defaults
    mode http
    timeout client 10s
    timeout connect 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:${PORT[hap]} ssl crt $T/crt.pem tls-ticket-keys $T/haproxy.keys
    http-request return status 200 content-type text/plain lf-string "haproxy resumed=%[ssl_fc_is_resumed]\n"
frontend swapped
    bind 127.0.0.1:${PORT[hapswap]} ssl crt $T/crt.pem tls-ticket-keys $T/haproxy-swapped.keys
    http-request return status 200 content-type text/plain lf-string "swapped resumed=%[ssl_fc_is_resumed]\n"
EOF
    "$HAPROXY" -f "$T/haproxy.cfg" -db >"$T/haproxy.err" 2>&1 &
    PID[haproxy]=$!
    wait_port haproxy "${PORT[hap]}"
    ok "$("$HAPROXY" -v | head -n 1) started with the exported keys"
    # HAProxy's own view: "show tls-keys" lists previous, encrypt, next; the
    # encrypt key is the second, i.e. the ring's encrypt key.
    python3 - "$T/haproxy.sock" >"$T/tlskeys" <<'EOF' || fail "stats socket"
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"show tls-keys *\n"); out = b""
while True:
    b = s.recv(4096)
    if not b: break
    out += b
sys.stdout.write(out.decode())
EOF
    # "# ID (FILE)" then "ID.0 KEY" ... per file.
    ref=$(sed -n "s|^# \([0-9]*\) ($T/haproxy.keys)\$|\1|p" "$T/tlskeys")
    [ -n "$ref" ] || fail "show tls-keys does not list the file: $(cat "$T/tlskeys")"
    mapfile -t LOADED < <(awk -v id="$ref" 'index($1, id ".") == 1 { print $2 }' "$T/tlskeys")
    [ "${#LOADED[@]}" -eq 3 ] || fail "show tls-keys: $(cat "$T/tlskeys")"
    mapfile -t FILE < "$T/haproxy.keys"
    [ "${LOADED[*]}" = "${FILE[*]}" ] || fail "HAProxy holds other keys than the file"
    [ "$(printf '%s' "${LOADED[1]}" | base64 -d | head -c 16 | od -An -tx1 | tr -d ' \n')" = "$ENC" ] ||
        fail "HAProxy's encrypt slot is not the ring's encrypt key"
    ok "HAProxy's show tls-keys: the file's three keys, the ring's encrypt key in the encrypt slot"
    start_node trhap 686170726f7879 # "haproxy": HAProxy's session id context
    resume_both_ways "${PORT[hap]}" "${PORT[trhap]}" haproxy
    wait_port haproxy "${PORT[hapswap]}"
    for v in tls1_3 tls1_2; do
        r=$(sc "${PORT[hapswap]}" "$v" "$T/w.$v")
        [ "$(ticket_name "$T/w.$v")" = "$ENC" ] || fail "swapped $v: ticket key name"
        r=$(sc "${PORT[trhap]}" "$v" "$T/w2.$v" "$T/w.$v")
        [ "$r" = "New, TLSv1.${v: -1}" ] || fail "swapped $v: HAProxy's ticket resumed: $r"
        r=$(sc "${PORT[hapswap]}" "$v" "$T/w3.$v" "$T/n.$v")
        [ "$r" = "New, TLSv1.${v: -1}" ] || fail "swapped $v: the node's ticket resumed: $r"
        ok "keys in nginx's byte order given to HAProxy: same key name, no resumption ($v)"
    done
else
    echo "SKIP: haproxy is not installed (Debian: apt-get install haproxy)"
fi

echo "ok: $checks checks"
exit 0
