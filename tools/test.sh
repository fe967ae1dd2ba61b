#!/usr/bin/env bash
# The test command (README; .ci/run calls it). On a fresh Debian 12 machine:
#
#   0. installs the Debian packages that are missing (as root; otherwise it
#      prints what to install and exits 1);
#   1. build/asan: AddressSanitizer + UndefinedBehaviorSanitizer, every suite;
#   2. build/tsan: ThreadSanitizer, the 'concurrency' suite;
#   3. build/plain: debugoptimized, no sanitizer (-g, not stripped): the ABI
#      check against the committed baselines (tools/abi-check.sh), then the
#      consumer checks (tools/consumer-check.sh: meson subproject, pkg-config);
#   4. build/fuzz: clang, libFuzzer + ASan + UBSan: each fuzz target runs for
#      FUZZ_SECONDS (10) from its committed corpus, two at a time
#      (docs/fuzzing.md; the corpora were already replayed in build/asan);
#   5. one closing line "N passed, N failed" (", N skipped" when some were):
#      every meson test result from build/{asan,tsan}/meson-logs/testlog.json,
#      plus the ABI check, each consumer check and each fuzz target as one
#      test each, plus a failed test for each build that could not be
#      configured or compiled.
#
# Every step runs even when an earlier one failed, so the summary is
# complete; the exit status is 0 only when nothing failed. Each build starts
# from an empty directory so a stale build can never hide a problem.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

JOBS=2
export DEBIAN_FRONTEND=noninteractive

# ---- 0. packages --------------------------------------------------------
# openssl (the command) and python3 drive the example server in the
# integration tests (s_client, Python's ssl module);
# nginx and haproxy are the real servers the interop tests share keys and
# resume sessions with (tests/interop); clang and its runtime (libFuzzer)
# build the fuzz targets (tests/fuzz); redis-server and hiredis are the
# cluster replay store (backends/redis, tests/redis); etcd, libcurl and json-c
# the key store (backends/etcd, tests/etcd).
packages=(meson ninja-build pkg-config gcc libc6-dev libssl-dev
          libmbedtls-dev libcmocka-dev abigail-tools openssl python3 nginx-light
          haproxy clang libclang-rt-14-dev
          redis-server libhiredis-dev etcd-server etcd-client libjson-c-dev
          libcurl4-openssl-dev)
missing=()
for p in "${packages[@]}"; do
    # dpkg -s also succeeds for a removed package whose config files remain.
    if ! dpkg -s "$p" 2>/dev/null | grep -x 'Status: install ok installed' >/dev/null; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test.sh: missing Debian packages: ${missing[*]}" >&2
        echo "test.sh: install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "=== test.sh: installing ${missing[*]} ==="
    if ! apt-get update </dev/null ||
       ! apt-get install -y -q "${missing[@]}" </dev/null; then
        echo "test.sh: could not install ${missing[*]}" >&2
        exit 1
    fi
fi

# ---- bookkeeping ----------------------------------------------------------
extra_passed=0
extra_failed=0
failed_items=()
pass_item() { extra_passed=$((extra_passed + 1)); }
fail_item() {
    extra_failed=$((extra_failed + 1))
    failed_items+=("$1")
    echo "test.sh: FAILED: $1" >&2
}
step() { printf '\n=== test.sh: %s ===\n' "$*"; }

# build DIR ARGS...: configure DIR afresh and compile it; 0 when both worked.
build() {
    local dir=$1
    shift
    rm -rf "$dir"
    echo "+ meson setup $dir $*"
    if ! meson setup "$dir" "$@"; then
        fail_item "configure $dir"
        return 1
    fi
    echo "+ meson compile -C $dir -j $JOBS"
    if ! meson compile -C "$dir" -j "$JOBS"; then
        fail_item "build $dir"
        return 1
    fi
}

# meson_test DIR ARGS...: run meson's tests; results are counted from the
# JSON log afterwards, so only a run that produced no log is counted here.
meson_test() {
    local dir=$1
    shift
    echo "+ meson test -C $dir $*"
    meson test -C "$dir" --no-rebuild --num-processes "$JOBS" \
        --print-errorlogs "$@"
    if [ ! -s "$dir/meson-logs/testlog.json" ]; then
        fail_item "meson test in $dir ran no test"
    fi
}

# The optional modules are required here, so a missing dependency fails the
# build instead of silently skipping their tests.
FEATURES="-Dredis=enabled -Detcd=enabled"

# ---- 1. ASan + UBSan, every suite ---------------------------------------
step "1/4 AddressSanitizer + UndefinedBehaviorSanitizer (build/asan, all suites)"
if build build/asan -Db_sanitize=address,undefined -Db_lundef=false $FEATURES; then
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ASAN_OPTIONS=detect_leaks=1 \
        meson_test build/asan --timeout-multiplier 3
fi

# ---- 2. TSan, concurrency suite ------------------------------------------
step "2/4 ThreadSanitizer (build/tsan, suite concurrency)"
if build build/tsan -Db_sanitize=thread -Db_lundef=false $FEATURES; then
    TSAN_OPTIONS=halt_on_error=1 \
        meson_test build/tsan --suite concurrency --timeout-multiplier 5
fi

# ---- 3. plain build: ABI and consumers -----------------------------------
step "3/4 plain build (build/plain): ABI check and consumer checks"
if build build/plain --buildtype=debugoptimized -Db_sanitize=none $FEATURES; then
    step "ABI check: tools/abi-check.sh build/plain"
    if bash tools/abi-check.sh build/plain; then
        pass_item
    else
        fail_item "ABI check (tools/abi-check.sh build/plain)"
    fi
else
    fail_item "ABI check (not run: build/plain did not build)"
fi
# The consumer checks build their own copy of the repository.
step "consumer check: meson subproject"
if JOBS=$JOBS bash tools/consumer-check.sh subproject; then
    pass_item
else
    fail_item "consumer check: meson subproject (tools/consumer-check.sh subproject)"
fi
step "consumer check: installed prefix + pkg-config"
if JOBS=$JOBS bash tools/consumer-check.sh pkgconfig; then
    pass_item
else
    fail_item "consumer check: pkg-config (tools/consumer-check.sh pkgconfig)"
fi

# ---- 4. libFuzzer, each target for a bounded time ----------------------------
# Only the fuzz targets are compiled (not the whole project again). New
# inputs go to a scratch directory, never into the committed corpus; a
# finding is kept as build/fuzz/findings/<target>-crash-<sha1> (docs/fuzzing.md
# says how to reproduce it and add it to the corpus).
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
step "4/4 libFuzzer (build/fuzz, clang): each target for ${FUZZ_SECONDS} s"
fuzz_targets=()
for d in tests/fuzz/corpus/*/; do
    fuzz_targets+=("$(basename "$d")")
done
# fuzz_one TARGET: one bounded run; its exit status goes to a file, as it
# runs in the background.
fuzz_one() {
    local t=$1 scratch
    scratch=$(mktemp -d)
    # -timeout: one input taking this long is a hang, reported as a finding.
    timeout $((FUZZ_SECONDS + 120)) "build/fuzz/tests/fuzz/fuzz_$t" \
        -max_total_time="$FUZZ_SECONDS" -timeout=30 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/findings/$t-" "$scratch" "tests/fuzz/corpus/$t" \
        >"build/fuzz/fuzz-$t.log" 2>&1
    echo $? >"build/fuzz/fuzz-$t.rc"
    rm -rf "$scratch"
}
# keep_built_targets: drop the corpora whose target this build does not
# define (fuzz_mbedtls_hello needs the mbedTLS glue).
keep_built_targets() {
    local known t kept=()
    known=$(ninja -C build/fuzz -t targets all 2>/dev/null)
    for t in "${fuzz_targets[@]}"; do
        if grep -q "^tests/fuzz/fuzz_$t:" <<<"$known"; then
            kept+=("$t")
        else
            echo "fuzz $t: no such target in this build (its library is not built): skipped"
        fi
    done
    fuzz_targets=("${kept[@]}")
}
rm -rf build/fuzz
echo "+ CC=clang meson setup build/fuzz -Dfuzz=enabled -Db_sanitize=address,undefined"
if ! CC=clang meson setup build/fuzz -Dfuzz=enabled -Db_sanitize=address,undefined \
        -Db_lundef=false -Dexamples=false; then
    fail_item "configure build/fuzz"
elif ! keep_built_targets; then
    fail_item "list the targets of build/fuzz"
elif ! meson compile -C build/fuzz -j "$JOBS" "${fuzz_targets[@]/#/tests/fuzz/fuzz_}"; then
    fail_item "build build/fuzz"
else
    mkdir -p build/fuzz/findings
    for t in "${fuzz_targets[@]}"; do
        fuzz_one "$t" &
        while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
            wait -n
        done
    done
    wait
    for t in "${fuzz_targets[@]}"; do
        rc=$(cat "build/fuzz/fuzz-$t.rc" 2>/dev/null || echo missing)
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/fuzz-$t.log")
        if [ "$rc" = 0 ]; then
            echo "fuzz $t: ${execs:-?} executions, nothing found"
            pass_item
        else
            tail -n 40 "build/fuzz/fuzz-$t.log"
            fail_item "fuzz $t (exit $rc; build/fuzz/fuzz-$t.log, build/fuzz/findings/)"
        fi
    done
fi

# ---- 5. summary -------------------------------------------------------------
step "summary"
counts=$(python3 - build/asan build/tsan build/plain <<'EOF'
import json, os, sys

passed = failed = skipped = 0
failed_names = []
for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        continue
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                r = json.loads(line)
            except ValueError:
                failed += 1
                failed_names.append("%s: unreadable line in testlog.json" % d)
                continue
            res = str(r.get("result", "")).upper()
            if res in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif res == "SKIP":
                skipped += 1
            else:  # FAIL, TIMEOUT, ERROR, UNEXPECTEDPASS, anything unknown
                failed += 1
                failed_names.append("%s: %s (%s)" % (d, r.get("name", "?"), res))
for n in failed_names:
    print("FAILED_TEST " + n)
print("COUNTS %d %d %d" % (passed, failed, skipped))
EOF
)
if ! grep -q '^COUNTS ' <<<"$counts"; then
    fail_item "summary: could not read the meson test logs"
fi
read -r _ m_passed m_failed m_skipped <<<"$(grep '^COUNTS ' <<<"$counts")"
m_passed=${m_passed:-0}
m_failed=${m_failed:-0}
m_skipped=${m_skipped:-0}
while IFS= read -r l; do
    [ -n "$l" ] && failed_items+=("meson test ${l#FAILED_TEST }")
done < <(grep '^FAILED_TEST ' <<<"$counts")

passed=$((m_passed + extra_passed))
failed=$((m_failed + extra_failed))
echo "meson tests: $m_passed passed, $m_failed failed, $m_skipped skipped" \
     "(build/asan, build/tsan); other checks: $extra_passed passed, $extra_failed failed"
if [ ${#failed_items[@]} -gt 0 ]; then
    echo "failed:"
    for f in "${failed_items[@]}"; do echo "  - $f"; done
fi
if [ "$m_skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $m_skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
