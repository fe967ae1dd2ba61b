#!/bin/bash
# ticketring-keys kek / publish / status against a real etcd started here
# (random loopback ports, temporary directory, stopped by pid with a bounded
# wait). Usage: test_keys_etcd.sh PATH/TO/ticketring-keys
command -v etcd >/dev/null || { echo "SKIP: no etcd binary"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3 to pick ports"; exit 77; }
"${1:?usage: $0 PATH/TO/ticketring-keys}" --help | grep -q publish ||
    { echo "SKIP: ticketring-keys built without etcd"; exit 77; }

# etcd's data directory on tmpfs when there is one (its fsyncs are slow on disk).
[ -w /dev/shm ] && export TMPDIR=/dev/shm
PREFIX=trk-etcd
. "$(dirname "$0")/../tools/keys_lib.sh"
pid=
stop_etcd() {
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=
}
trap 'stop_etcd; rm -rf "$D"' EXIT

read -r C P < <(python3 -c '
import socket
s=[socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1",0))
print(*[x.getsockname()[1] for x in s])')
start_etcd() {
    etcd --name n1 --data-dir "$D/data" \
        --listen-client-urls "http://127.0.0.1:$C" --advertise-client-urls "http://127.0.0.1:$C" \
        --listen-peer-urls "http://127.0.0.1:$P" --initial-advertise-peer-urls "http://127.0.0.1:$P" \
        --initial-cluster "n1=http://127.0.0.1:$P" --log-level=warn >>"$D/etcd.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 500); do
        curl -s -m 1 "http://127.0.0.1:$C/health" | grep -q '"health":"true"' && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    cat "$D/etcd.log" >&2
    die "etcd did not become healthy"
}
start_etcd
URL="etcd://127.0.0.1:$C/tr"

# kek: 0600, one line, never overwritten without --force.
run 0 kek --out "$D/kek" --id k1
[ "$(stat -c %a "$D/kek")" = 600 ] || die "KEK file mode is $(stat -c %a "$D/kek")"
grep -Eq '^k1 [0-9a-f]{64}$' "$D/kek" || die "KEK file format"
KEKHEX=$(cut -d' ' -f2 "$D/kek")
run 1 kek --out "$D/kek" --id k1
one_err_line
run 2 kek --out "$D/kek2" --id 'bad/id'
run 0 kek --out "$D/kek-other" --id k1

# publish: sealed (etcd holds no key line), refused when not newer.
NOW=$(date +%s)
run 0 generate --out "$D/keys" --cluster c1 --count 2 --period 3600 --start "$NOW"
run 0 publish "$D/keys" --store "$URL" --kek "$D/kek"
grep -q 'published to' "$OUT" || die "publish said nothing"
key_b64=$(printf '/tr/c1/keyset' | base64 -w0)
stored=$(curl -s "http://127.0.0.1:$C/v3/kv/range" -d "{\"key\":\"$key_b64\"}" |
    python3 -c 'import json,sys,base64; print(base64.b64decode(json.load(sys.stdin)["kvs"][0]["value"]).decode())')
head -1 <<<"$stored" | grep -Eq '^TRSEALED1 k1 c1 [0-9]+$' || die "stored header: $(head -1 <<<"$stored")"
grep -q '^key ' <<<"$stored" && die "a key line is stored in clear"
secret=$(awk '/^key /{print $4; exit}' "$D/keys")
grep -q "$secret" <<<"$stored" && die "a secret is stored in clear"
run 1 publish "$D/keys" --store "$URL" --kek "$D/kek"
one_err_line
grep -q 'rollback\|older' "$ERR" || die "the refusal does not say why"
run 0 rotate "$D/keys" --period 3600 --lifetime 3600 --now $((NOW + 3600))
run 0 publish "$D/keys" --store "$URL" --kek "$D/kek"

# Bad inputs: one line, the right status.
chmod 640 "$D/kek-other"
run 1 publish "$D/keys" --store "$URL" --kek "$D/kek-other"
run 2 publish "$D/keys" --store "$URL"
run 1 publish "$D/keys" --store "http://127.0.0.1:$C/tr" --kek "$D/kek"
one_err_line
run 1 publish "$D/keys" --store "etcd://u:pw@127.0.0.1:$C/tr" --kek "$D/kek"
one_err_line

# status: heartbeats as the followers write them.
run 0 status --store "$URL" --cluster c1
grep -q '^0 node(s)$' "$OUT" || die "status without nodes"
hb() { # node fingerprint serial
    local k v
    k=$(printf '/tr/c1/nodes/%s' "$1" | base64 -w0)
    v=$(printf '{"node":"%s","fingerprint":"%s","serial":"%s","sync_age_ms":"12","written_ms":"1"}' \
        "$1" "$2" "$3" | base64 -w0)
    curl -s "http://127.0.0.1:$C/v3/kv/put" -d "{\"key\":\"$k\",\"value\":\"$v\"}" >/dev/null
}
hb n1 aaaaaaaaaaaaaaaa 7
hb n2 aaaaaaaaaaaaaaaa 7
hb n3 bbbbbbbbbbbbbbbb 7
hb n4 cccccccccccccccc 6
run 0 status --store "$URL" --cluster c1
grep -q '^4 node(s)$' "$OUT" || die "status: node count"
grep -Eq '^n1 +aaaaaaaaaaaaaaaa +7 +12  in_sync$' "$OUT" || die "status: n1"
grep -Eq '^n3 +bbbbbbbbbbbbbbbb +7 +12  drifted$' "$OUT" || die "status: n3"
grep -Eq '^n4 +cccccccccccccccc +6 +12  lagging$' "$OUT" || die "status: n4"
run 0 status --store "$URL" --cluster c2
grep -q '^0 node(s)$' "$OUT" || die "status of another cluster"
run 2 status --store "$URL"

# etcd down: a clear one-line failure, no hang.
stop_etcd
run 0 rotate "$D/keys" --period 3600 --lifetime 3600 --now $((NOW + 7200))
run 1 publish "$D/keys" --store "$URL" --kek "$D/kek"
one_err_line
run 1 status --store "$URL" --cluster c1
one_err_line

grep -q "$KEKHEX" "$ALL" && die "the KEK was printed"
grep -q "$secret" "$ALL" && die "a ticket key secret was printed"
echo "ok: $checks checks"
