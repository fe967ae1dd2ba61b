#!/usr/bin/env bash
# The README's first quick-start command. On a fresh Debian 12 machine:
#
#   1. installs the Debian packages that are missing (as root; otherwise it
#      prints the apt-get command to run and exits 1);
#   2. builds libticketring into build/demo (meson setup once, -Dtests=false);
#   3. writes a key file with ticketring-keys: 3 keys, one hour apart;
#   4. runs ticketring-ring-demo on it: three nodes (processes) load the same
#      key file; a ticket sealed on one opens on the others, through key
#      rotations, a drift in key sets and its repair, renewal, expiry and
#      refusals, under a simulated clock.
#
# Exit status: the demo's, 0 only when every expectation it checks held, so
# this doubles as an end-to-end check. Extra arguments go to `meson setup`
# on the first run (e.g. -Dopenssl=disabled to run it on mbedTLS).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=build/demo
export DEBIAN_FRONTEND=noninteractive

# ---- 1. packages -------------------------------------------------------------
packages=(meson ninja-build pkg-config gcc libc6-dev libssl-dev libmbedtls-dev libcmocka-dev)
missing=()
for p in "${packages[@]}"; do
    # dpkg -s also succeeds for a removed package whose config files remain.
    if ! dpkg -s "$p" 2>/dev/null | grep -qx 'Status: install ok installed'; then
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
    apt-get update -q </dev/null
    apt-get install -y -q "${missing[@]}" </dev/null
fi

# ---- 2. build ------------------------------------------------------------------
mkdir -p "$(dirname "$build")"
if [ ! -f "$build/build.ninja" ]; then
    echo "demo.sh: meson setup $build"
    meson setup "$build" -Dtests=false -Dexamples=true "$@" >"$build.setup.log" 2>&1 || {
        cat "$build.setup.log" >&2
        exit 1
    }
fi
echo "demo.sh: building ($build)"
ninja -C "$build" >"$build.ninja.log" 2>&1 || {
    cat "$build.ninja.log" >&2
    exit 1
}
rm -f "$build.setup.log" "$build.ninja.log"

# ---- 3. a key file -------------------------------------------------------------
# Fixed activation times (2026-01-01T00:00:00Z, then hourly) so the output
# reads the same on every run; the keys themselves are fresh random ones.
keys=$build/demo.keys
start=1767225600
echo "\$ ticketring-keys generate --out $keys --count 3 --period 3600 --start $start --force"
"$build/tools/ticketring-keys" generate --out "$keys" --count 3 --period 3600 \
    --start "$start" --force
echo "\$ ticketring-keys inspect $keys --now $((start + 60))"
"$build/tools/ticketring-keys" inspect "$keys" --now $((start + 60))
echo

# ---- 4. the demo ----------------------------------------------------------------
echo "\$ ticketring-ring-demo $keys"
exec "$build/examples/ticketring-ring-demo" "$keys"
