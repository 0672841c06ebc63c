#!/usr/bin/env bash
# testnet/demo, the README's main command, end to end on its own loopback ports: it must
# finish, converge, verify the meter's pedigree, verify the delivered MUD file with the
# device, and show the tampered copy failing.
. "$(dirname "$0")/lib/common.sh"
tn_setup

export TN_NET=$T/net TN_BIN
TN_BASE_PORT=$(tn_free_port_base 5) || tn_fail "no free ports for 5 nodes"
export TN_BASE_PORT

tn_run "$TN_SRC/testnet/demo"
# the demo leaves its network running: the EXIT trap stops the nodes it started
for i in 1 2 3 4 5; do [ -f "$TN_NET/node$i/pid" ] && tn_net_register "$i"; done
assert_rc 0 "testnet/demo"
out=$(cat "$TN_OUT")
# the pedigree: eleven records from the ore lot to the operator's receive, all verified
assert_match 'verdict: ok \(11 records, 0 findings\)' "$out" "the meter's pedigree"
assert_match 'ore-mine commission #0' "$out" "the pedigree reaches the raw material"
# the delivered MUD file: anchored by the meter's maker, for its model, pedigree clean
assert_match $'VERIFIED  https://mud.assembly-co.example/sm-200\n' "$out" "the MUD file verifies"
assert_match 'device +urn:epc:id:sgtin:0614141.200777.50001: made by assembly-co, model SM-200, pedigree ok' \
    "$out" "the device check"
assert_match 'MISMATCH  https://mud.assembly-co.example/sm-200' "$out" "the tampered copy"
assert_contains "$out" "MUD_DIGEST_MISMATCH" "the tampered copy's finding"
assert_contains "$out" "to its controller (my-controller: the operator names it) port 4059" \
    "mud show's summary"
tn_say "demo ran: pedigree ok, MUD file VERIFIED with the device, tampered copy MISMATCH"
