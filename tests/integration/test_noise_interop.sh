#!/usr/bin/env bash
# The transport interoperates with an independent Noise implementation (DESIGN section 5):
# lib/peer.py (Python dissononce, Noise_XX_25519_ChaChaPoly_SHA256) completes the handshake
# with a real tracenode as initiator, checks the responder's payload (version 1 and the
# Ed25519 node key whose X25519 form the handshake authenticated, listed in the ecosystem),
# and receives the node's HELLO and a CLOCK naming the shard it holds. The network id is
# bound into the handshake (another network's prologue fails at message 2), and a
# connection that never starts the handshake is closed at the deadline.
. "$(dirname "$0")/lib/common.sh"

tn_setup
"$PY" "$PEER" self-test >"$TN_OUT" || tn_fail "peer.py self-test failed: $(cat "$TN_OUT")"
tn_make_ecosystem
D=$T/acme
tn_acme_start "$D"
ADDR=127.0.0.1:$ACME_PORT
LOG=${TN_NODE_LOG[acme]}
echo '{"type": "commission", "outputs": ["urn:test:noise.1"]}' >"$T/ev.json"
tn_run "$TRACECTL" submit --data "$D" "$T/ev.json"
assert_rc 0 "submit one event"
root=$("$TRACECTL" status --json --data "$D" | jq -r '.shards[] | select(.org == "acme") | .root')

# --- a full handshake as shipco's node --------------------------------------------------------
out=$T/hs.json
tn_peer "$out" handshake --key "$SHIPCO_NODE_KEY" --eco "$ECO" --addr "$ADDR" --wait 10
tn_say "handshake: $(jq -c '{handshake, responder, responder_org, hello, clock}' "$out")"
assert_eq ok "$(jq -r .handshake "$out")" "handshake with tracenode"
assert_eq "$ACME_NODE_PK" "$(jq -r .responder "$out")" "responder's node key (payload of message 2)"
assert_eq acme "$(jq -r .responder_org "$out")" "responder's org per the ecosystem"
assert_eq false "$(jq -r .closed_by_node "$out")" "connection kept"
assert_eq "1 acme" "$(jq -r '"\(.hello.v) \(.hello.org)"' "$out")" "the node's HELLO {v, org}"
assert_eq true "$(jq -r .clock_received "$out")" "a CLOCK from the node"
assert_eq 1 "$(jq -r .clock.acme "$out")" "shard acme's size in the CLOCK"
local_addr=$(jq -r .local "$out")
deadline=$(tn_deadline 10)
until grep -a -F "peer $local_addr (shipco, node $SHIPCO_NODE_PK) connected, inbound" "$LOG" >/dev/null; do
    tn_expired "$deadline" && tn_fail "node log: no 'connected' line for $local_addr as shipco: $(tail -n 5 "$LOG")"
    tn_poll_pause
done
[ -n "$root" ] || tn_fail "no root for shard acme in status"

# --- another network's prologue fails -----------------------------------------------------------
jq '.network = "another-net"' "$ECO" >"$T/other-eco.json"
rc=0
"$PY" "$PEER" handshake --key "$SHIPCO_NODE_KEY" --eco "$T/other-eco.json" --addr "$ADDR" \
    --wait 5 >"$T/other.json" 2>&1 || rc=$?
assert_eq 3 "$rc" "peer.py with another network id: exit 3 (the node's message 2 must not verify) ($(cat "$T/other.json"))"
assert_contains "$(cat "$T/other.json")" "message 2 does not verify" "another network id"
tn_say "another network id: $(jq -r .error "$T/other.json")"

# --- the handshake deadline ----------------------------------------------------------------------
mark=$(tn_log_size "$LOG")
tn_peer "$T/silent.json" silent --addr "$ADDR" --wait 20
assert_eq true "$(jq -r .closed_by_node "$T/silent.json")" "a silent connection is closed ($(cat "$T/silent.json"))"
secs=$(jq -r .closed_after_s "$T/silent.json")
tn_say "a silent connection was closed after $secs s: $(tn_log_since "$LOG" "$mark" | grep -a -F "peer $(jq -r .local "$T/silent.json") " | sed 's/^[^ ]* //')"
awk -v s="$secs" 'BEGIN { exit !(s >= 1 && s <= 15) }' ||
    tn_fail "silent connection closed after $secs s, expected the handshake deadline (a few seconds, at most 15)"
tn_node_running acme || tn_fail "the node is gone"
tn_say "PASS"
