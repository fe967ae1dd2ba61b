#!/usr/bin/env bash
# Compare the ABI of each shared library in a meson build directory with the
# committed abidw baselines in tests/abi/ (STYLE.md rule 14, docs/ABI.md).
#
#   tools/abi-check.sh BUILD_DIR            check; exit 0 only if no library changed
#   tools/abi-check.sh BUILD_DIR --update   rewrite the baselines from BUILD_DIR
#
# BUILD_DIR must be an unsanitized build with debug info (-g, e.g. meson's
# debugoptimized, the default here) that was not stripped: abidw reads DWARF.
#
# Both sides go through abidw with the same options, so the comparison is
# XML against XML and only public types count:
#   --headers-dir include/ticketring + --drop-private-types
#       types defined outside the installed headers (struct tr_ring, the
#       internal tri_* types) are opaque, their layout is not ABI;
#   --no-corpus-path --no-comp-dir-path --no-show-locs
#       no build paths or line numbers, so a baseline is reproducible from any
#       checkout and a moved declaration is not a change;
#   --exported-interfaces-only
#       only what the library exports (not every function it calls).
# abidiff runs with --no-added-syms (an added function is compatible) and any
# non-zero exit fails: abidiff 2.2 reports an added parameter with exit 4
# (ABIDIFF_ABI_CHANGE), not 8 (ABIDIFF_ABI_INCOMPATIBLE_CHANGE).
set -uo pipefail

usage() {
    echo "usage: $0 BUILD_DIR [--update]" >&2
    exit 2
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
build_dir=$1
update=0
if [ $# -eq 2 ]; then
    [ "$2" = "--update" ] || usage
    update=1
fi

root=$(cd "$(dirname "$0")/.." && pwd)
headers="$root/include/ticketring"
baseline_dir="$root/tests/abi"
suppr="$baseline_dir/abidiff.suppr"

for tool in abidw abidiff readelf; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "abi-check: $tool not found (apt-get install abigail-tools binutils)" >&2
        exit 1
    fi
done
if [ ! -d "$build_dir" ]; then
    echo "abi-check: no build directory $build_dir" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

abidw_opts=(--no-corpus-path --no-comp-dir-path --no-show-locs
            --headers-dir "$headers" --drop-private-types --exported-interfaces-only)
abidiff_opts=(--no-added-syms)
if [ -f "$suppr" ]; then
    abidiff_opts+=(--suppressions "$suppr")
fi

# name  path of the .so inside the build dir  (glue libraries only when built)
libs=(
    "libticketring lib/libticketring.so"
    "libticketring-openssl backends/openssl/libticketring-openssl.so"
    "libticketring-mbedtls backends/mbedtls/libticketring-mbedtls.so"
    "libticketring-redis backends/redis/libticketring-redis.so"
    "libticketring-etcd backends/etcd/libticketring-etcd.so"
)

failed=0
checked=0
for entry in "${libs[@]}"; do
    name=${entry%% *}
    so="$build_dir/${entry#* }"
    baseline="$baseline_dir/$name.abi"
    if [ ! -e "$so" ]; then
        if [ "$name" = libticketring ]; then
            echo "abi-check: FAIL: $so not built" >&2
            failed=1
        elif [ -f "$baseline" ]; then
            echo "abi-check: $name not built in $build_dir (backend disabled?): skipped"
        fi
        continue
    fi
    so=$(readlink -f "$so")
    readelf -S "$so" >"$tmp/sections" 2>&1
    readelf --dyn-syms "$so" >"$tmp/dynsyms" 2>&1
    if ! grep -q '\.debug_info' "$tmp/sections"; then
        echo "abi-check: FAIL: $so has no DWARF: build with -g and do not strip" >&2
        failed=1
        continue
    fi
    if grep -q '__asan_\|__tsan_\|__ubsan_' "$tmp/dynsyms"; then
        echo "abi-check: FAIL: $so is a sanitized build; use an unsanitized one" >&2
        failed=1
        continue
    fi

    current="$tmp/$name.abi"
    if ! abidw "${abidw_opts[@]}" --out-file "$current.raw" "$so"; then
        echo "abi-check: FAIL: abidw could not read $so" >&2
        failed=1
        continue
    fi
    # Translation unit paths are relative to the build directory; make them
    # relative to the source root so --update writes the same file from any
    # build directory (abidiff ignores them either way).
    sed -e "s#\(<abi-instr [^>]*path='\)[^']*/\(lib/[^'/]*\)'#\1\2'#" \
        -e "s#\(<abi-instr [^>]*path='\)[^']*/\(backends/[^'/]*/[^'/]*\)'#\1\2'#" \
        "$current.raw" >"$current"

    if [ "$update" -eq 1 ]; then
        cp "$current" "$baseline"
        echo "abi-check: wrote $baseline"
        continue
    fi

    checked=$((checked + 1))
    if [ ! -f "$baseline" ]; then
        echo "abi-check: FAIL: no baseline $baseline (run $0 BUILD_DIR --update and commit it)" >&2
        failed=1
        continue
    fi
    echo "abi-check: $name: abidiff ${abidiff_opts[*]} ${baseline#"$root"/} <build>"
    abidiff "${abidiff_opts[@]}" "$baseline" "$current"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        # abidiff's exit code is a bit field: 1 error, 2 usage error,
        # 4 ABI change, 8 incompatible ABI change.
        what=""
        [ $((rc & 1)) -ne 0 ] && what="$what error;"
        [ $((rc & 2)) -ne 0 ] && what="$what usage error;"
        [ $((rc & 4)) -ne 0 ] && what="$what ABI change;"
        [ $((rc & 8)) -ne 0 ] && what="$what incompatible ABI change;"
        echo "abi-check: FAIL: $name differs from its baseline (abidiff exit $rc:$what)" >&2
        echo "abi-check: a compatible addition needs '$0 BUILD_DIR --update' in the same commit;" >&2
        echo "abi-check: an incompatible change needs a new soname (docs/ABI.md)." >&2
        failed=1
    else
        echo "abi-check: $name: OK (no change against the baseline)"
    fi
done

if [ "$update" -eq 1 ]; then
    [ "$failed" -eq 0 ] || { echo "abi-check: baselines NOT all updated" >&2; exit 1; }
    exit 0
fi
if [ "$failed" -ne 0 ]; then
    echo "abi-check: FAILED" >&2
    exit 1
fi
echo "abi-check: $checked librar$( [ "$checked" -eq 1 ] && echo y || echo ies) match their baselines"
exit 0
