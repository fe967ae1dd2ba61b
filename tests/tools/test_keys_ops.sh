#!/bin/bash
# The operator's commands of ticketring-keys end to end: fingerprint, rotate
# (including copies run at once), check, import and export for nginx and
# HAProxy (byte-for-byte round trips).
# usage: test_keys_ops.sh PATH/TO/ticketring-keys
# Exit status 0 when every check passes, 1 otherwise (first failure printed).
PREFIX=trk-ops
. "$(dirname "$0")/keys_lib.sh"

iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
serial() { sed -n 's/^serial \([0-9]*\)$/\1/p' "$1"; }
# Key lines of the last inspect: "NAME ACTIVATION ROLE".
keys() { grep -v '^fingerprint ' "$OUT" | awk '{print $2, $3, $5}'; }

# ---- help and usage ----------------------------------------------------------
run 0 --help
for w in rotate check fingerprint import export; do
    grep -q "^  $w " "$OUT" || die "--help does not list $w"
done
for c in rotate check fingerprint import export; do
    run 0 "$c" --help
    grep -q "^usage: ticketring-keys $c" "$OUT" || die "$c --help has no usage line"
done
run 0 rotate --help
grep -q -- '--lifetime' "$OUT" || die "rotate --help lacks --lifetime"
run 0 check -h
grep -q -- '--horizon' "$OUT" || die "check --help lacks --horizon"

K="$D/k.keys"
for args in "fingerprint" "fingerprint a b" "fingerprint --now 1 a" \
    "rotate" "rotate $K" "rotate $K --period 10" "rotate $K --lifetime 10" \
    "rotate $K --period 0 --lifetime 10" "rotate $K --period 10 --lifetime 0" \
    "rotate $K --period 10 --lifetime 604801" "rotate $K --period 31536001 --lifetime 1" \
    "rotate $K --period 10 --lifetime 10 --skew 3601" "rotate $K --period x --lifetime 10" \
    "rotate $K $K --period 10 --lifetime 10" "rotate $K --period 10 --lifetime 10 --force" \
    "check" "check $K" "check $K --lifetime 10" "check $K --skew 10" \
    "check $K --lifetime 10 --skew 10 --horizon 0" "check $K --lifetime 10 --skew -1" \
    "import" "import --from nginx" "import --from nginx a" "import --from apache a --out $K" \
    "import --from haproxy a b --out $K" "import --from nginx a --out $K --activation -1" \
    "import --from nginx a --out" "export" "export --to nginx $K" "export --to x $K --out o" \
    "export $K --out o" "export --to nginx --out o" "export --to haproxy $K --out o --now x" \
    "export --to haproxy $K --out o --lifetime 0"; do
    # shellcheck disable=SC2086
    run 2 $args
    one_err_line
done
[ ! -e "$K" ] || die "a usage error created $K"

# ---- fingerprint -------------------------------------------------------------
START=1800000000
P=3600
run 0 generate --out "$K" --count 2 --period $P --start $START
run 0 verify "$K"
FP=$(sed -n 's/.* fingerprint \([0-9a-f]*\)$/\1/p' "$OUT")
run 0 fingerprint "$K"
[ "$(cat "$OUT")" = "$FP" ] || die "fingerprint prints '$(cat "$OUT")', verify says $FP"
run 0 inspect "$K" --now $START
[ "$(tail -n 1 "$OUT")" = "fingerprint $FP" ] || die "inspect and fingerprint disagree"
run 1 fingerprint "$D/missing"
one_err_line

# ---- rotate ---------------------------------------------------------------------
# Two keys: START (encrypting) and START+P (waiting): nothing to do until the
# second one activates, at any time before.
cp -p "$K" "$D/before"
S0=$(serial "$K")
[ -n "$S0" ] || die "no serial in $K"
for now in $START $((START + 1)) $((START + P - 1)); do
    run 0 rotate "$K" --period $P --lifetime 7200 --skew 60 --now $now
    grep -q "^nothing to do: next key [0-9a-f]\{32\} activates at $(iso $((START + P))) ($((START + P)))$" \
        "$OUT" || die "rotate at $now: expected 'nothing to do'"
done
cmp -s "$K" "$D/before" || die "an idle rotate changed the file"
[ -e "$K.lock" ] || die "rotate left no lock file"
[ "$(stat -c %a "$K.lock")" = 600 ] || die "lock file mode $(stat -c %a "$K.lock")"

# At START+P the second key encrypts: the third activates a period after it,
# or P + skew after now if that is later (a node late by a whole period
# must hold it before a node whose clock runs ahead seals with it).
NOW=$((START + P))
run 0 rotate "$K" --period $P --lifetime 7200 --skew 60 --now $NOW
A3=$((NOW + P + 60))
grep -q "^$K: added key [0-9a-f]\{32\} activating at $(iso $A3) ($A3); removed 0 keys; serial $(serial "$K"), fingerprint [0-9a-f]\{16\}$" \
    "$OUT" || die "unexpected rotate output"
[ "$(serial "$K")" -gt "$S0" ] || die "serial not increased"
[ "$(stat -c %a "$K")" = 600 ] || die "mode after rotate $(stat -c %a "$K")"
run 0 verify "$K"
run 0 inspect "$K" --now $NOW --lifetime 7200 --skew 60
[ "$(keys | awk '{print $2, $3}' | tr '\n' ' ')" = "$START decrypt $((START + P)) encrypt $A3 pending " ] ||
    die "after rotate: $(keys | tr '\n' ' ')"
run 0 fingerprint "$K"
grep -q "fingerprint $(cat "$OUT")$" "$ALL" || die "rotate's fingerprint is not the file's"
# Idempotent until A3.
cp -p "$K" "$D/before"
run 0 rotate "$K" --period $P --lifetime 7200 --skew 60 --now $((A3 - 1))
grep -q '^nothing to do' "$OUT" || die "rotate before A3 did something"
cmp -s "$K" "$D/before" || die "an idle rotate changed the file"

# Retired keys go: with lifetime 600 and skew 60 the first key (superseded at
# START+P) is retired from START+P+661 on; rotate drops it once it is retired
# on a clock 60 s behind its own.
run 0 rotate "$K" --period $P --lifetime 600 --skew 60 --now $A3
grep -q "removed 1 keys" "$OUT" || die "the retired key was not removed"
run 0 inspect "$K" --now $A3 --lifetime 600 --skew 60
[ "$(keys | awk '{print $3}' | tr '\n' ' ')" = "decrypt encrypt pending " ] ||
    die "after the drop: $(keys | tr '\n' ' ')"
# A key retired by exactly one second at the writer's clock stays (its
# clock may be 60 s ahead of a node that still opens with it).
A4=$(keys | awk '$3 == "pending" {print $2}')
run 0 generate --out "$D/r.keys" --count 2 --period 1000 --start $START
run 0 rotate "$D/r.keys" --period 1000 --lifetime 100 --skew 60 --now $((START + 1000 + 161))
grep -q "removed 0 keys" "$OUT" || die "a key retired on the writer's clock but not 60 s before went"
run 0 generate --out "$D/r.keys" --count 2 --period 1000 --start $START --force
run 0 rotate "$D/r.keys" --period 1000 --lifetime 100 --skew 60 --now $((START + 1000 + 161 + 60))
grep -q "removed 1 keys" "$OUT" || die "a key retired 60 s before the writer's clock stayed"

# Catching up after a long pause: the next key is P + skew after now.
run 0 rotate "$K" --period $P --lifetime 600 --skew 60 --now $((A4 + 10 * P))
grep -q "activating at $(iso $((A4 + 11 * P + 60)))" "$OUT" || die "late rotate: wrong activation"
# A file whose keys are all waiting: nothing to do either.
run 0 generate --out "$D/f.keys" --count 1 --start $((START + 5000))
run 0 rotate "$D/f.keys" --period $P --lifetime 600 --now $START
grep -q '^nothing to do' "$OUT" || die "a future key did not make rotate idle"

# Faults: a missing file, a corrupt one; nothing written.
run 1 rotate "$D/missing" --period $P --lifetime 600
one_err_line
[ ! -e "$D/missing" ] || die "rotate created a missing file"
head -c 200 "$K" >"$D/cut"
run 1 rotate "$D/cut" --period $P --lifetime 600 --now $((A4 + 20 * P))
one_err_line
grep -q "$D/cut:[0-9]*: " "$ERR" || die "corrupt file: no FILE:LINE:"
[ "$(stat -c %s "$D/cut")" = 200 ] || die "rotate changed a corrupt file"

# ---- rotate: copies run at once ----------------------------------------------------
# Each round starts one period + skew after the last so exactly one rotation
# is due; 4 copies race for it. The lifetime keeps every key, so after R
# rounds the file holds 1 + R distinct keys, and the serial went up in every
# round (once: the three others wrote nothing).
C="$D/c.keys"
R=25
run 0 generate --out "$C" --count 1 --start $START
S0=$(serial "$C")
for ((r = 0; r < R; r++)); do
    now=$((START + r * (P + 60)))
    pids=()
    for i in 1 2 3 4; do
        "$T" rotate "$C" --period $P --lifetime 604800 --skew 60 --now $now \
            >"$D/race.$i" 2>&1 &
        pids+=($!)
    done
    for i in 0 1 2 3; do
        wait "${pids[$i]}" || die "round $r: a rotate failed: $(cat "$D"/race.*)"
    done
    added=$(cat "$D"/race.* | grep -c ': added key ')
    idle=$(cat "$D"/race.* | grep -c '^nothing to do: ')
    [ "$added" -eq 1 ] && [ "$idle" -eq 3 ] ||
        die "round $r: $added added, $idle idle: $(cat "$D"/race.*)"
    S1=$(serial "$C")
    [ "$S1" -gt "$S0" ] || die "round $r: serial $S1 after $S0"
    grep -q "serial $S1, " "$D"/race.* || die "round $r: the file's serial is not the writer's"
    S0=$S1
    checks=$((checks + 1))
done
run 0 inspect "$C" --now $((START + R * (P + 60))) --lifetime 604800 --skew 60
[ "$(keys | wc -l)" -eq $((R + 1)) ] || die "after $R racing rounds: $(keys | wc -l) keys"
[ "$(keys | awk '{print $1}' | sort -u | wc -l)" -eq $((R + 1)) ] || die "duplicate key names"
run 0 verify "$C"
ls "$D"/.c.keys.tmp-* >/dev/null 2>&1 && die "a temporary file was left behind"

# ---- check --------------------------------------------------------------------------
run 0 generate --out "$K" --count 2 --period $P --start $START --force
run 0 check "$K" --lifetime 7200 --skew 60 --now $START
[ "$(cat "$OUT")" = "ok: safe until $(iso $((START + 604800))); schedule runs out at $(iso $((START + 2 * P))) unless rotated (inferred period $P s)" ] ||
    die "check: unexpected output"
run 0 check "$K" --lifetime 7200 --skew 60 --now $START --horizon 100 --period 600
[ "$(cat "$OUT")" = "ok: safe until $(iso $((START + 100))); schedule runs out at $(iso $((START + P + 600))) unless rotated (given period 600 s)" ] ||
    die "check --period: unexpected output"
run 0 check "$K" --lifetime 7200 --skew 60 --now $((START + 5 * P))
grep -q "^ok: safe until .*; schedule ran out at $(iso $((START + 2 * P))) (inferred period $P s): rotate now$" \
    "$OUT" || die "check: ran out not reported"
run 0 generate --out "$D/one.keys" --count 1 --start $START
run 0 check "$D/one.keys" --lifetime 7200 --skew 60 --now $START
grep -q "with no successor" "$OUT" || die "check: one key"
# No key encrypts yet: a violation, exit 1.
run 1 check "$K" --lifetime 7200 --skew 60 --now $((START - 10))
grep -q "^violation: no key encrypts at $(iso $((START - 10))): nodes issue no tickets until the first key activates at $(iso $START)$" \
    "$OUT" || die "check: missing violation"
one_err_line
grep -q "schedule not safe: 1 violations" "$ERR" || die "check: summary"
# After rotations, still safe (the ring's own roles agree with rotate).
for ((i = 0; i < 6; i++)); do
    run 0 rotate "$K" --period $P --lifetime 7200 --skew 60 --now $((START + P + i * (P + 60)))
    run 0 check "$K" --lifetime 7200 --skew 60 --now $((START + P + i * (P + 60)))
    grep -q '^ok: ' "$OUT" || die "check after rotate $i"
done
run 1 check "$D/missing" --lifetime 7200 --skew 60
one_err_line

# ---- import / export: nginx -----------------------------------------------------------
head -c 80 /dev/urandom >"$D/a.key"
head -c 80 /dev/urandom >"$D/b.key"
head -c 80 /dev/urandom >"$D/c.key"
chmod 600 "$D"/[abc].key
NOW=$(date +%s)
run 0 import --from nginx "$D/a.key" --out "$D/n.keys" --activation $NOW
grep -q "^$D/n.keys: 1 keys from nginx, encrypt key $(head -c 16 "$D/a.key" | od -An -tx1 | tr -d ' \n') from $(iso $NOW) ($NOW), fingerprint [0-9a-f]\{16\}$" \
    "$OUT" || die "nginx import: unexpected output"
[ "$(stat -c %a "$D/n.keys")" = 600 ] || die "imported file mode"
run 0 export --to nginx "$D/n.keys" --out "$D/nx" --now $NOW
cmp -s "$D/nx.0" "$D/a.key" || die "nginx round trip: the key file differs"
[ "$(stat -c %a "$D/nx.0")" = 600 ] || die "exported nginx file mode"
[ "$(sed -n 2p "$OUT")" = "ssl_session_ticket_key $D/nx.0;" ] || die "nginx export: config line"
# Three files in directive order: the first encrypts, the others decrypt
# (dated just before it, newest first), and export writes them back in order.
run 1 import --from nginx "$D/a.key" "$D/b.key" "$D/c.key" --out "$D/n.keys" --activation $NOW
one_err_line
grep -q -- '--force' "$ERR" || die "import over a file without --force"
run 0 import --from nginx "$D/a.key" "$D/b.key" "$D/c.key" --out "$D/n.keys" --activation $NOW --force
run 0 inspect "$D/n.keys" --now $NOW
[ "$(keys | awk '{print $2, $3}' | tr '\n' ' ')" = "$((NOW - 2)) decrypt $((NOW - 1)) decrypt $NOW encrypt " ] ||
    die "nginx import roles: $(keys | tr '\n' ' ')"
run 0 export --to nginx "$D/n.keys" --out "$D/nx" --now $NOW
[ "$(grep -c '^ssl_session_ticket_key ' "$OUT")" -eq 3 ] || die "expected 3 nginx lines"
for i in 0 1 2; do
    f=$(echo a b c | cut -d' ' -f$((i + 1)))
    cmp -s "$D/nx.$i" "$D/$f.key" || die "nginx export: nx.$i is not $f.key"
    grep -q "^ssl_session_ticket_key $D/nx.$i;$" "$OUT" || die "no line for nx.$i"
done
# Back to one key: the stale files go.
run 0 import --from nginx "$D/a.key" --out "$D/n.keys" --activation $NOW --force
run 0 export --to nginx "$D/n.keys" --out "$D/nx" --now $NOW
[ ! -e "$D/nx.1" ] && [ ! -e "$D/nx.2" ] || die "stale nginx key files left"
# Refusals: 48 bytes (AES-128), empty, 81 bytes, a zero key, a missing file.
head -c 48 /dev/urandom >"$D/short.key"
chmod 600 "$D/short.key"
run 1 import --from nginx "$D/short.key" --out "$D/x.keys"
one_err_line
grep -q 'AES-128' "$ERR" || die "48-byte nginx key: no AES-128 reason"
: >"$D/empty.key"
chmod 600 "$D/empty.key"
run 1 import --from nginx "$D/empty.key" --out "$D/x.keys"
one_err_line
grep -q 'empty file' "$ERR" || die "empty nginx key: reason"
head -c 81 /dev/urandom >"$D/long.key"
chmod 600 "$D/long.key"
run 1 import --from nginx "$D/long.key" --out "$D/x.keys"
one_err_line
head -c 80 /dev/zero >"$D/zero.key"
chmod 600 "$D/zero.key"
run 1 import --from nginx "$D/zero.key" --out "$D/x.keys"
one_err_line
run 1 import --from nginx "$D/a.key" "$D/missing" --out "$D/x.keys"
one_err_line
# Readable by others: imported, with a warning naming the fix.
cp "$D/a.key" "$D/open.key"
chmod 644 "$D/open.key"
run 0 import --from nginx "$D/open.key" --out "$D/x.keys"
grep -q "^ticketring-keys: warning: key file $D/open.key is readable by group or others (mode 0644): run chmod 600" \
    "$ERR" || die "no mode warning"
rm -f "$D/x.keys"
# Two files, one key: refused as a duplicate.
run 1 import --from nginx "$D/a.key" "$D/a.key" --out "$D/x.keys"
one_err_line
grep -q 'already held' "$ERR" || die "duplicate nginx key: reason"
[ ! -e "$D/x.keys" ] || die "a refused import wrote a file"

# ---- import / export: HAProxy -----------------------------------------------------------
for i in 1 2 3 4 5; do
    head -c 80 /dev/urandom | base64 -w0 >>"$D/h.keys.in"
    echo >>"$D/h.keys.in"
done
tail -n 3 "$D/h.keys.in" >"$D/h3.in"
chmod 600 "$D/h.keys.in" "$D/h3.in"
run 0 import --from haproxy "$D/h3.in" --out "$D/h.keys" --activation $NOW
run 0 inspect "$D/h.keys" --now $NOW
[ "$(keys | awk '{print $2, $3}' | tr '\n' ' ')" = "$((NOW - 1)) decrypt $NOW encrypt pending pending " ] ||
    die "HAProxy import roles: $(keys | tr '\n' ' ')"
# The encrypt key is HAProxy's penultimate line; its name is the line's first 16 bytes.
name=$(sed -n 2p "$D/h3.in" | base64 -d | head -c 16 | od -An -tx1 | tr -d ' \n')
keys | grep -q "^$name $NOW encrypt$" || die "HAProxy's penultimate line is not the encrypt key"
run 0 export --to haproxy "$D/h.keys" --out "$D/hx" --now $NOW
cmp -s "$D/hx" "$D/h3.in" || die "HAProxy round trip: the file differs"
[ "$(stat -c %a "$D/hx")" = 600 ] || die "exported HAProxy file mode"
[ "$(sed -n 2p "$OUT")" = "tls-ticket-keys $D/hx" ] || die "HAProxy export: config line"
# Five lines: HAProxy holds the last three; import says so; export gives them.
run 0 import --from haproxy "$D/h.keys.in" --out "$D/h.keys" --activation $NOW --force
grep -q 'warning: .*2 lines before the last 3 skipped' "$ERR" || die "skipped lines not reported"
run 0 export --to haproxy "$D/h.keys" --out "$D/hx" --now $NOW
cmp -s "$D/hx" "$D/h3.in" || die "HAProxy 5-line round trip"
# CRLF lines are HAProxy's too.
sed 's/$/\r/' "$D/h3.in" >"$D/crlf.in"
chmod 600 "$D/crlf.in"
run 0 import --from haproxy "$D/crlf.in" --out "$D/h.keys" --activation $NOW --force
# nginx keys to HAProxy: the same key, the two secrets swapped.
run 0 import --from nginx "$D/a.key" --out "$D/n.keys" --activation $NOW --force
run 0 export --to haproxy "$D/n.keys" --out "$D/hx" --now $NOW
[ "$(wc -l <"$D/hx")" -eq 3 ] || die "HAProxy needs three lines"
sed -n 2p "$D/hx" | base64 -d >"$D/hx.bin"
cmp -s <(head -c 16 "$D/hx.bin") <(head -c 16 "$D/a.key") || die "name moved"
cmp -s <(tail -c +17 "$D/hx.bin" | head -c 32) <(tail -c +49 "$D/a.key") || die "AES not second"
cmp -s <(tail -c +49 "$D/hx.bin") <(tail -c +17 "$D/a.key" | head -c 32) || die "HMAC not third"
# Refusals, with the line at fault.
{ sed -n 1p "$D/h3.in"; echo 'not base64!'; sed -n 3p "$D/h3.in"; } >"$D/bad.in"
{ sed -n 1p "$D/h3.in"; head -c 48 /dev/urandom | base64 -w0; echo; } >"$D/aes128.in"
{ sed -n 1p "$D/h3.in"; echo; } >"$D/blank.in"
: >"$D/hempty.in"
chmod 600 "$D"/*.in
run 1 import --from haproxy "$D/bad.in" --out "$D/x.keys"
one_err_line
grep -q "^ticketring-keys: $D/bad.in:2: " "$ERR" || die "bad base64: no FILE:2:"
run 1 import --from haproxy "$D/aes128.in" --out "$D/x.keys"
one_err_line
grep -q ":2: .*AES-128" "$ERR" || die "48-byte HAProxy key: reason"
run 1 import --from haproxy "$D/blank.in" --out "$D/x.keys"
one_err_line
grep -q ":2: empty line" "$ERR" || die "blank line: reason"
run 1 import --from haproxy "$D/hempty.in" --out "$D/x.keys"
one_err_line
[ ! -e "$D/x.keys" ] || die "a refused import wrote a file"
# Export with no key encrypting: nothing written.
run 0 generate --out "$D/f.keys" --count 1 --start $((NOW + 5000)) --force
run 1 export --to haproxy "$D/f.keys" --out "$D/fx" --now $NOW
one_err_line
[ ! -e "$D/fx" ] || die "export without an encrypt key wrote a file"
# A ring with more keys than HAProxy holds: warned.
run 0 generate --out "$D/m.keys" --count 5 --period 100 --start $((NOW - 200)) --force
run 0 export --to haproxy "$D/m.keys" --out "$D/mx" --now $NOW
grep -q 'warning: .*more usable keys of the ring not exported' "$ERR" || die "no warning for dropped keys"
run 0 export --to nginx "$D/m.keys" --out "$D/mn" --now $NOW
[ "$(grep -c '^ssl_session_ticket_key ' "$OUT")" -eq 5 ] || die "nginx export of 5 keys"

# ---- generate --cluster and revoke ------------------------------------------------------
run 0 generate --out "$D/c.keys" --count 3 --period 100 --start $((NOW - 150)) --cluster edge-eu --force
grep -qx 'cluster edge-eu' "$D/c.keys" || die "generate --cluster wrote no cluster line"
run 2 generate --out "$D/c2.keys" --cluster 'bad id' --force
one_err_line
s0=$(serial "$D/c.keys")
run 0 inspect "$D/c.keys" --now $NOW
enc=$(awk '$5 == "encrypt" { print $2 }' "$OUT")
prev=$(awk '$5 == "decrypt" { print $2 }' "$OUT")
[ -n "$enc" ] && [ -n "$prev" ] || die "inspect shows no encrypt and decrypt key"
run 0 revoke "$D/c.keys" "$enc"
[ "$(serial "$D/c.keys")" -gt "$s0" ] || die "revoke did not raise the serial"
run 0 inspect "$D/c.keys" --now $NOW
[ "$(awk -v n="$enc" '$2 == n { print $5 }' "$OUT")" = revoked ] || die "the key is not revoked"
[ "$(awk '$5 == "encrypt" { print $2 }' "$OUT")" = "$prev" ] || die "the previous key does not encrypt again"
run 1 revoke "$D/c.keys" 00000000000000000000000000000001
one_err_line
run 2 revoke "$D/c.keys" NOTHEX
one_err_line
run 0 revoke --help

# ---- key material never printed ------------------------------------------------------
for f in "$D"/[abc].key; do
    s=$(tail -c +17 "$f" | od -An -tx1 | tr -d ' \n')
    for part in "${s:0:32}" "${s:32:32}" "${s:64:32}" "${s:96:32}"; do
        grep -qF "$part" "$ALL" && die "secret material of $f in the tool's output"
    done
done
while read -r line; do
    grep -qF "${line:24:40}" "$ALL" && die "base64 secret material in the tool's output"
done <"$D/h.keys.in"

echo "ok: $checks tool runs checked"
exit 0
