#!/usr/bin/env bash
# The README's first quick-start command: a local multi-node demonstration.
# Installs what is missing (Debian 12, as root), builds into build/demo,
# writes a key file with ticketring-keys and runs three nodes on it
# (examples/ring-demo.c). Exits non-zero if any step or expectation fails.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

packages=(meson ninja-build pkg-config gcc libc6-dev libssl-dev libmbedtls-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -qx 'Status: install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "demo.sh: missing Debian packages; install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
    echo "demo.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q </dev/null >/dev/null
    apt-get install -y -q "${missing[@]}" </dev/null >/dev/null
fi

build=build/demo
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dtests=false -Dexamples=true >/dev/null
fi
meson compile -C "$build" >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
period=86400
start=$(( $(date +%s) / period * period ))   # today, 00:00 UTC

echo "$ ticketring-keys generate --out tickets.keys --count 3 --period $period --start $start"
"$build/tools/ticketring-keys" generate --out "$work/tickets.keys" --count 3 \
    --period "$period" --start "$start"
echo "$ ticketring-keys inspect tickets.keys"
"$build/tools/ticketring-keys" inspect "$work/tickets.keys"
echo
"$build/examples/ticketring-ring-demo" "$work/tickets.keys" "$start" "$period"
