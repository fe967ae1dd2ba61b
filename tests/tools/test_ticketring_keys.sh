#!/bin/bash
# Runs the built ticketring-keys tool end to end.
# usage: test_ticketring_keys.sh PATH/TO/ticketring-keys
# Exit status 0 when every check passes, 1 otherwise (first failure printed).
PREFIX=trk-test
. "$(dirname "$0")/keys_lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
DOC="$HERE/../../docs/key-file-format.md"

# Roles column (5th) of the key lines of the last inspect, space-separated.
roles() {
    grep -v '^fingerprint ' "$OUT" | awk '{print $5}' | tr '\n' ' ' | sed 's/ $//'
}

# ---- help and usage --------------------------------------------------------
for h in --help -h help; do
    run 0 "$h"
    for w in generate inspect verify; do
        grep -q "$w" "$OUT" || die "'$h' does not mention $w"
    done
done
run 0 generate --help
grep -q -- '--period' "$OUT" || die "generate --help lacks --period"
run 0 inspect -h
grep -q -- '--now' "$OUT" || die "inspect -h lacks --now"
run 0 verify --help
grep -q 'usage' "$OUT" || die "verify --help lacks usage"

K="$D/tickets.keys"
for args in "" "frobnicate" "generate" "generate --out" "generate --out $K --count 0" \
    "generate --out $K --count 65" "generate --out $K --count abc" \
    "generate --out $K --count -1" "generate --out $K --period 0" \
    "generate --out $K --start 4611686018427387905" "generate --out $K --bogus" \
    "generate --out $K --force=yes" "generate --out $K extra" "inspect" "inspect a b" \
    "inspect a --now -5" "inspect a --lifetime 0" "inspect a --lifetime 604801" \
    "inspect a --skew 3601" "verify" "verify a b" "verify --now 1 a"; do
    # shellcheck disable=SC2086
    run 2 $args
    one_err_line
done
[ ! -e "$K" ] || die "a usage error created $K"

# ---- generate ----------------------------------------------------------------
START=1000000
run 0 generate --out "$K" --count 4 --period 1000 --start $START
[ -f "$K" ] || die "generate wrote no file"
[ "$(stat -c %a "$K")" = 600 ] || die "mode is $(stat -c %a "$K"), expected 600"
[ "$(grep -c '^key ' "$K")" -eq 4 ] || die "expected 4 key lines"
for f in "$D"/.*.tmp-*; do
    [ -e "$f" ] && die "a temporary file was left behind: $f"
done

# ---- verify ----------------------------------------------------------------------
run 0 verify "$K"
FP=$(sed -n 's/.* fingerprint \([0-9a-f]*\)$/\1/p' "$OUT")
[ ${#FP} -eq 16 ] || die "verify printed no fingerprint"
run 0 inspect "$K"
[ "$(tail -n 1 "$OUT")" = "fingerprint $FP" ] || die "verify and inspect disagree on the fingerprint"

# ---- inspect: lines, fields, roles at given times -------------------------------
run 0 inspect "$K" --now 999999
[ "$(grep -vc '^fingerprint ' "$OUT")" -eq 4 ] || die "inspect: expected 4 key lines"
[ "$(tail -n 1 "$OUT" | grep -Ec '^fingerprint [0-9a-f]{16}$')" -eq 1 ] ||
    die "inspect: last line is not the fingerprint"
i=0
while read -r idx name act iso _; do
    [ "$idx" = "$i" ] || die "inspect: index $idx, expected $i"
    [[ $name =~ ^[0-9a-f]{32}$ ]] || die "inspect: bad name '$name'"
    grep -q "^key $name $act " "$K" || die "inspect: $name $act not in the file"
    [ "$act" -eq $((START + i * 1000)) ] || die "inspect: activation $act out of order"
    [ "$iso" = "$(date -u -d "@$act" +%Y-%m-%dT%H:%M:%SZ)" ] || die "inspect: bad UTC time $iso"
    i=$((i + 1))
done < <(grep -v '^fingerprint ' "$OUT")
[ "$(roles)" = "pending pending pending pending" ] || die "at 999999: $(roles)"
run 0 inspect "$K" --now 1000000
[ "$(roles)" = "encrypt pending pending pending" ] || die "at 1000000: $(roles)"
run 0 inspect --now=1001500 "$K"
[ "$(roles)" = "decrypt encrypt pending pending" ] || die "at 1001500: $(roles)"
run 0 inspect "$K" --now 1002050 --lifetime 100 --skew 0
[ "$(roles)" = "retired decrypt encrypt pending" ] || die "at 1002050: $(roles)"
run 0 inspect "$K" --now 1009999
[ "$(roles)" = "retired retired decrypt encrypt" ] || die "at 1009999: $(roles)"
run 0 inspect "$K" # now: 1970 is long past
[ "$(roles)" = "retired retired retired encrypt" ] || die "now: $(roles)"

# ---- key material never printed ----------------------------------------------------
nsecrets=0
while read -r s; do
    [[ $s =~ ^[0-9a-f]{128}$ ]] || die "unexpected secret column in $K"
    nsecrets=$((nsecrets + 1))
    for part in "$s" "${s:0:64}" "${s:64:64}" "${s:0:32}" "${s:32:32}" "${s:64:32}" "${s:96:32}"; do
        grep -qF "$part" "$ALL" && die "secret material appears in the tool's output"
    done
done < <(awk '$1 == "key" {print $4}' "$K")
[ "$nsecrets" -eq 4 ] || die "checked $nsecrets secrets, expected 4"

# ---- refuse to overwrite -------------------------------------------------------------
cp -p "$K" "$D/orig"
run 1 generate --out "$K" --count 2
one_err_line
grep -q -- '--force' "$ERR" || die "overwrite refusal does not mention --force"
cmp -s "$K" "$D/orig" || die "generate changed an existing file without --force"
ln -s "$D/nowhere" "$D/dangling"
run 1 generate --out "$D/dangling"
run 0 generate --out "$K" --count 2 --force
cmp -s "$K" "$D/orig" && die "generate --force did not replace the file"
[ "$(stat -c %a "$K")" = 600 ] || die "mode after --force is $(stat -c %a "$K")"
[ "$(grep -c '^key ' "$K")" -eq 2 ] || die "expected 2 key lines after --force"
run 0 verify "$K"
cp -p "$D/orig" "$K"

# ---- verify refuses broken files with a line number --------------------------
expect_refused() { # FILE WHAT
    run 1 verify "$1"
    one_err_line
    grep -Eq "^ticketring-keys: $1:[0-9]+: " "$ERR" || die "$2: no FILE:LINE: in '$(cat "$ERR")'"
    run 1 inspect "$1"
    one_err_line
}
size=$(stat -c %s "$K")
head -c $((size - 10)) "$K" >"$D/cut-mid"
expect_refused "$D/cut-mid" "truncated mid-line"
# The file generate writes (version 2): comment, header, serial, 4 keys (lines
# 4-7), checksum (line 8).
[ "$(sed -n 2p "$K")" = "ticketring-keys 2" ] || die "generate did not write a version-2 file"
grep -Eq '^serial [1-9][0-9]*$' "$K" || die "generate wrote no serial line"
head -n -1 "$K" >"$D/cut-line"
expect_refused "$D/cut-line" "truncated at a line end"
grep -q ":8: " "$ERR" || die "missing checksum line not reported at line 8: $(cat "$ERR")"
head -c 100 "$K" >"$D/cut-100"
expect_refused "$D/cut-100" "truncated to 100 bytes"

# One hex digit of the second key's secret changed: still well-formed, so only
# the checksum (line 8) catches it.
awk 'NR == 5 { c = substr($0, length($0), 1); $0 = substr($0, 1, length($0) - 1) (c == "0" ? "1" : "0") } { print }' \
    "$K" >"$D/corrupt"
cmp -s "$K" "$D/corrupt" && die "corruption did not change the file"
expect_refused "$D/corrupt" "corrupted secret"
grep -q ":8: " "$ERR" || die "corruption not reported at the checksum line: $(cat "$ERR")"
# A byte of the comment.
sed '1s/key file/kEy file/' "$K" >"$D/corrupt-comment"
expect_refused "$D/corrupt-comment" "corrupted comment"
# A malformed key line: reported at its own line.
sed '4s/^key /key  /' "$K" >"$D/malformed"
cmp -s "$K" "$D/malformed" && die "the malformed copy is unchanged"
expect_refused "$D/malformed" "malformed key line"
grep -q ":4: " "$ERR" || die "malformed line not reported at line 4: $(cat "$ERR")"
# CRLF line endings.
sed 's/$/\r/' "$K" >"$D/crlf"
expect_refused "$D/crlf" "CRLF"
# Missing file.
run 1 verify "$D/missing"
one_err_line

# ---- the examples in docs/key-file-format.md are valid ---------------------------
# The first code block under each "## Example..." heading, one file each.
if [ -f "$DOC" ]; then
    awk -v dir="$D" '/^## / { ex = /^## Example/; done = 0; next }
         ex && !done && /^```$/ { if (in_block) { in_block = 0; done = 1; close(f) }
                                  else { in_block = 1; f = dir "/example-" ++n ".keys" }
                                  next }
         in_block { print > f }' "$DOC"
    [ -s "$D/example-1.keys" ] || die "no example found in $DOC"
    [ -s "$D/example-2.keys" ] || die "no second (version 2) example found in $DOC"
    for ex in "$D"/example-*.keys; do
        run 0 verify "$ex"
    done
    grep -q '^ticketring-keys 1$' "$D/example-1.keys" || die "the first example is not version 1"
    grep -q '^ticketring-keys 2$' "$D/example-2.keys" || die "the second example is not version 2"
fi

echo "ok: $checks tool runs checked"
exit 0
