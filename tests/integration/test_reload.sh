#!/bin/bash
# A node picks up a replaced key file without a restart: replaced by rename,
# replaced by a broken file (the old keys stay), and swapped the way
# Kubernetes updates a Secret volume (a symbolic link to a new directory).
# usage: test_reload.sh SERVER KEYS_TOOL
. "$(dirname "$0")/lib.sh"
need openssl

# fingerprint_is NAME FP: node NAME reports key-set fingerprint FP.
fingerprint_is() {
    [ "$(node_fingerprint "$1")" = "$2" ]
}

# resumes NAME VERSION SESSION: the session file resumes on node NAME.
resumes() {
    tls_get "$1" "$2" "$3" - || fail "s_client to $1 failed"
    grep -q '^Reused, ' "$T/last"
}

make_cert
mkdir "$T/keys"
K="$T/keys/tickets.keys"
make_keys "$K"
old_fp=$(fingerprint "$K")
start_node node-a "$K"
fingerprint_is node-a "$old_fp" || fail "node-a does not report the key file's fingerprint"

for version in tls1_2 tls1_3; do
    tls_get node-a "$version" - "$T/old-$version.pem" || fail "s_client to node-a failed"
    resumes node-a "$version" "$T/old-$version.pem" || fail "$version: no resumption before the reload"
done
ok "before: fingerprint $old_fp; TLS 1.2 and 1.3 sessions resume on node-a"

# ---- replaced by rename: entirely new keys ------------------------------------
make_keys "$T/keys/.tickets.keys.new"
new_fp=$(fingerprint "$T/keys/.tickets.keys.new")
[ "$new_fp" != "$old_fp" ] || fail "two generated key files have the same fingerprint"
mv "$T/keys/.tickets.keys.new" "$K"
wait_for "$POLL_TIMEOUT" "node-a reporting the renamed file's fingerprint $new_fp" \
    fingerprint_is node-a "$new_fp"
# The new keys serve before tr_ring_reload() returns and the line is logged.
wait_for "$POLL_TIMEOUT" "node-a logging the reload with fingerprint $new_fp" \
    grep -q "keys reloaded from $K: 2 keys, fingerprint $new_fp" "$T/node-a.err"
ok "replaced by rename: node-a reloaded (fingerprint $new_fp) and logged it"

for version in tls1_2 tls1_3; do
    if resumes node-a "$version" "$T/old-$version.pem"; then
        fail "$version: a session under a key no longer in the file resumed"
    fi
    grep -qx 'resumed: no' "$T/last" || fail "$version: node-a says it resumed"
done
[ "$(metric node-a 'ticketring_tickets_refused_total{reason="unknown_key"}')" = 2 ] ||
    fail "node-a does not count 2 unknown_key refusals"
ok "sessions from before the reload get full handshakes (2 unknown_key refusals)"

tls_get node-a tls1_3 - "$T/new.pem" || fail "s_client to node-a failed"
resumes node-a tls1_3 "$T/new.pem" || fail "a session under the new keys does not resume"
ok "a session under the new keys resumes"

# ---- replaced by a broken file: the keys in use stay --------------------------
printf 'this is not a key file\n' >"$T/keys/.tickets.keys.bad"
mv "$T/keys/.tickets.keys.bad" "$K"
wait_for "$POLL_TIMEOUT" "node-a logging the failed reload" \
    grep -q "keys reload failed: $K.*keeping the keys with fingerprint $new_fp" "$T/node-a.err"
fingerprint_is node-a "$new_fp" || fail "a failed reload changed the keys"
[ "$(metric node-a 'ticketring_key_reloads_total{result="failed"}')" = 1 ] ||
    fail "node-a does not count the failed reload"
resumes node-a tls1_3 "$T/new.pem" || fail "resumption broke after a failed reload"
ok "replaced by a broken file: reload failed, logged, counted; the keys in use stay and resume"
make_keys "$K" # valid again, for the secrets check
wait_for "$POLL_TIMEOUT" "node-a reloading the repaired file" \
    fingerprint_is node-a "$(fingerprint "$K")"
tls_get node-a tls1_3 - - /metrics || fail "GET /metrics on node-a failed"
assert_no_secrets "$K" "$T/node-a.err" "$T/last"
ok "repaired file reloaded; neither node-a's log nor its /metrics holds any key material"

# ---- a Kubernetes-style Secret volume: NAME -> ..data/NAME, ..data -> ..TS ----
V="$T/volume"
mkdir -p "$V/..2026_01_01_00_00_00.1"
make_keys "$V/..2026_01_01_00_00_00.1/tickets.keys"
ln -s ..2026_01_01_00_00_00.1 "$V/..data"
ln -s ..data/tickets.keys "$V/tickets.keys"
start_node node-k "$V/tickets.keys"
fingerprint_is node-k "$(fingerprint "$V/tickets.keys")" || fail "node-k has not loaded the volume's keys"
mkdir "$V/..2026_01_01_00_01_00.2"
make_keys "$V/..2026_01_01_00_01_00.2/tickets.keys"
k8s_fp=$(fingerprint "$V/..2026_01_01_00_01_00.2/tickets.keys")
ln -s ..2026_01_01_00_01_00.2 "$V/..data_tmp"
mv -T "$V/..data_tmp" "$V/..data" # an atomic rename of the link, as the kubelet does
rm -rf "$V/..2026_01_01_00_00_00.1"
wait_for "$POLL_TIMEOUT" "node-k reporting the swapped volume's fingerprint $k8s_fp" \
    fingerprint_is node-k "$k8s_fp"
ok "symbolic link swap (Kubernetes Secret volume): node-k reloaded (fingerprint $k8s_fp)"

stop_all
echo "$checks checks passed"
