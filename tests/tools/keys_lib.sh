# Shared by the ticketring-keys tests (sourced, never run). The sourcing
# script is called as SCRIPT PATH/TO/ticketring-keys and sets PREFIX (the
# temp directory's name) before sourcing.
set -u

T=${1:?usage: $0 PATH/TO/ticketring-keys}
D=$(mktemp -d "${TMPDIR:-/tmp}/${PREFIX:-trk}.XXXXXX") || exit 1
trap 'rm -rf "$D"' EXIT
OUT="$D/out" ERR="$D/err" ALL="$D/all-output"
: >"$ALL"
checks=0

die() {
    echo "FAIL: $*" >&2
    if [ -s "$OUT" ]; then echo "--- stdout:" >&2; cat "$OUT" >&2; fi
    if [ -s "$ERR" ]; then echo "--- stderr:" >&2; cat "$ERR" >&2; fi
    exit 1
}

# run EXPECTED_STATUS ARGS...: run the tool, keep stdout/stderr, check status.
run() {
    local want=$1 got
    shift
    "$T" "$@" >"$OUT" 2>"$ERR"
    got=$?
    cat "$OUT" "$ERR" >>"$ALL"
    [ "$got" -eq "$want" ] || die "ticketring-keys $* exited $got, expected $want"
    checks=$((checks + 1))
}

# Every failure is exactly one line on stderr.
one_err_line() {
    [ "$(wc -l <"$ERR")" -eq 1 ] || die "expected one line on stderr"
    grep -q '^ticketring-keys: ' "$ERR" || die "stderr line lacks the program name"
}
