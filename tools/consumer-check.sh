#!/usr/bin/env bash
# Prove that libticketring can be consumed the two ways a C project does it.
#
#   tools/consumer-check.sh [all|subproject|pkgconfig]     (default: all)
#
# subproject  copies the repository's files (what a fresh clone has: tracked
#             files, plus files not yet added that .gitignore does not
#             exclude) into subprojects/ticketring of a temporary copy of
#             tests/consumer/subproject, a meson project that finds
#             libticketring through dependency('ticketring-openssl') etc.,
#             resolved by the subproject's meson.override_dependency();
#             builds it and runs its tests (one consumer per built backend).
# pkgconfig   builds the same copy with --prefix=<tmp>/prefix, installs it,
#             compiles tests/consumer/pkgconfig/main.c with
#             `cc $(pkg-config --cflags --libs ticketring-<backend>)` for each
#             installed backend and runs it with LD_LIBRARY_PATH set to the
#             prefix's libdir (lib/x86_64-linux-gnu on Debian: asked from meson).
#
# Exit 0 only when every consumer built and ran; any failure says what failed.
# Set KEEP_TMP=1 to keep the temporary directory for inspection.
set -uo pipefail

mode=${1:-all}
case "$mode" in
    all|subproject|pkgconfig) ;;
    *) echo "usage: $0 [all|subproject|pkgconfig]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=${JOBS:-2}
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ticketring-consumer.XXXXXX")
if [ "${KEEP_TMP:-0}" = 1 ]; then
    echo "consumer-check: keeping $tmp"
else
    trap 'rm -rf "$tmp"' EXIT
fi

failures=()
fail() {
    echo "consumer-check: FAIL: $*" >&2
    failures+=("$*")
}

# run LABEL CMD...: run a command, echoing it; a non-zero exit is a failure.
run() {
    local label=$1
    shift
    echo "+ $*"
    if ! "$@"; then
        fail "$label (command: $*)"
        return 1
    fi
}

# copy_source DEST: the files a fresh clone would have, with the working
# tree's current content (so a developer can check before committing).
copy_source() {
    local dest=$1
    mkdir -p "$dest"
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # --cached: tracked; --others --exclude-standard: new, not ignored.
        # Skip files deleted in the working tree.
        git -C "$root" ls-files -z --cached --others --exclude-standard |
            while IFS= read -r -d '' f; do
                [ -e "$root/$f" ] || [ -L "$root/$f" ] || continue
                printf '%s\0' "$f"
            done |
            tar -C "$root" --null --no-recursion -T - -cf - |
            tar -C "$dest" -xf -
    else
        # Not a git checkout (a release tarball): everything but build dirs.
        tar -C "$root" --exclude=./build --exclude=./builddir \
            --exclude=./.git -cf - . | tar -C "$dest" -xf -
    fi
    [ -f "$dest/meson.build" ]
}

src="$tmp/src"
echo "consumer-check: copying the repository's files to $src"
if ! copy_source "$src"; then
    echo "consumer-check: FAIL: could not copy the source tree" >&2
    exit 1
fi

check_subproject() {
    local proj="$tmp/consumer"
    echo "=== consumer-check: meson subproject consumer ==="
    mkdir -p "$proj/subprojects" || return 1
    cp -R "$src/tests/consumer/subproject/." "$proj/" || return 1
    # The vendored copy, as a project would have it under subprojects/.
    cp -R "$src" "$proj/subprojects/ticketring" || return 1
    run "subproject consumer: meson setup" \
        meson setup "$proj/build" "$proj" || return 1
    run "subproject consumer: build" \
        meson compile -C "$proj/build" -j "$jobs" || return 1
    run "subproject consumer: run" \
        meson test -C "$proj/build" --print-errorlogs || return 1
    # The consumers must have been resolved from the subproject (overrides),
    # not from some installed copy.
    if grep -q 'Dependency ticketring.* found: YES .*(overridden)' \
            "$proj/build/meson-logs/meson-log.txt"; then
        echo "consumer-check: dependencies resolved by meson.override_dependency()"
    else
        fail "subproject consumer: dependency('ticketring*') was not resolved by the subproject's override"
        return 1
    fi
    echo "consumer-check: subproject consumer OK"
}

check_pkgconfig() {
    local bdir="$tmp/install-build" prefix="$tmp/prefix" libdir b pc ok=0
    echo "=== consumer-check: installed prefix + pkg-config consumer ==="
    run "pkg-config consumer: meson setup" \
        meson setup "$bdir" "$src" --prefix="$prefix" \
        -Dtests=false -Dexamples=false || return 1
    run "pkg-config consumer: build" ninja -C "$bdir" -j "$jobs" || return 1
    run "pkg-config consumer: meson install" \
        meson install -C "$bdir" --quiet || return 1

    # libdir as meson installs it (lib/x86_64-linux-gnu on Debian).
    libdir=$(meson introspect --buildoptions "$bdir" | python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
print(opts["libdir"])')
    if [ -z "$libdir" ]; then
        fail "pkg-config consumer: could not ask meson for libdir"
        return 1
    fi
    case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
    echo "consumer-check: installed libdir $libdir"

    export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
    if [ "$(pkg-config --variable=libdir ticketring)" != "$libdir" ]; then
        fail "pkg-config consumer: pkg-config finds ticketring.pc outside $libdir"
        return 1
    fi
    if [ ! -f "$prefix/include/ticketring/ticketring.h" ]; then
        fail "pkg-config consumer: $prefix/include/ticketring/ticketring.h not installed"
        return 1
    fi

    for b in openssl mbedtls; do
        pc="ticketring-$b"
        if [ ! -f "$libdir/pkgconfig/$pc.pc" ]; then
            echo "consumer-check: $pc not installed (backend not built): skipped"
            continue
        fi
        local exe="$tmp/pkgconfig-consumer-$b" defs=()
        [ "$b" = mbedtls ] && defs=(-DCONSUMER_MBEDTLS)
        local flags
        if ! flags=$(pkg-config --cflags --libs "$pc"); then
            fail "pkg-config consumer: pkg-config --cflags --libs $pc"
            continue
        fi
        # shellcheck disable=SC2086  # pkg-config output is a word list
        run "pkg-config consumer ($b): compile" \
            "$cc" -std=c99 -Wall -Wextra -Wpedantic -Werror "${defs[@]}" \
            -o "$exe" "$src/tests/consumer/pkgconfig/main.c" $flags || continue
        # It must load the installed libraries, not a system copy.
        if ! LD_LIBRARY_PATH="$libdir" ldd "$exe" | grep -F "$libdir/libticketring-$b.so" >/dev/null; then
            fail "pkg-config consumer ($b): does not load libticketring-$b from $libdir"
            LD_LIBRARY_PATH="$libdir" ldd "$exe"
            continue
        fi
        run "pkg-config consumer ($b): run" \
            env LD_LIBRARY_PATH="$libdir" "$exe" || continue
        ok=$((ok + 1))
    done
    if [ "$ok" -eq 0 ]; then
        fail "pkg-config consumer: no backend consumer built and ran"
        return 1
    fi
    echo "consumer-check: pkg-config consumer OK ($ok backend(s))"
}

if [ "$mode" = all ] || [ "$mode" = subproject ]; then
    before=${#failures[@]}
    check_subproject || [ ${#failures[@]} -gt "$before" ] || fail "subproject consumer: could not prepare the project"
fi
if [ "$mode" = all ] || [ "$mode" = pkgconfig ]; then
    before=${#failures[@]}
    check_pkgconfig || [ ${#failures[@]} -gt "$before" ] || fail "pkg-config consumer: failed"
fi

if [ ${#failures[@]} -gt 0 ]; then
    echo "consumer-check: FAILED (${#failures[@]}):" >&2
    for f in "${failures[@]}"; do echo "  - $f" >&2; done
    exit 1
fi
echo "consumer-check: all consumers OK ($mode)"
exit 0
