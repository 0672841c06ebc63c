#!/usr/bin/env bash
# Hostile peers (DESIGN sections 5 and 7), played by an independent peer (lib/peer.py:
# dissononce Noise, msgpack, PyNaCl, cbor2) against a running 2-node testnet:
#   * a node key that is not in the ecosystem: refused at the handshake, one log line
#     saying so, no record reaches it (a member's key, same probe, does get records);
#   * garbage instead of a handshake, a length prefix over the frame limit, malformed
#     msgpack, an unknown even message type: each disconnected, one log line saying why;
#   * an unknown odd message type: ignored, the session stays usable (PING gets PONG);
#   * records with a bad signature, from an org not in the ecosystem, or signed with
#     another member's key, pushed by a peer with a valid node key: disconnected, logged,
#     nothing stored;
#   * a good record built and signed by peer.py itself is stored byte-exact (the record
#     format interoperates), and afterwards the two honest nodes still replicate.
. "$(dirname "$0")/lib/common.sh"

tn_setup
"$PY" "$PEER" self-test >"$TN_OUT" || tn_fail "peer.py self-test failed: $(cat "$TN_OUT")"
tn_say "peer.py self-test: $(cat "$TN_OUT")"

# Three orgs in the ecosystem, two nodes running: org3's keys are a valid member's keys
# for the independent peer to use (its own node stays down, so no session clashes).
tn_testnet_up 3 --topology line
tn_net_stop 3
K3=$TN_NET/node3/node.key
O3=$TN_NET/node3/org.key
O2=$TN_NET/node2/org.key
STRANGER=$T/stranger.key
STRANGER_PK=$(tn_keygen "$STRANGER")
ADDR=$(tn_net_addr 1)
LOG1=$TN_NET/node1/log

tn_net_submit 1 5 h1

# shards_of I: node I's shards as "org:size:root:frozen".
shards_of() { tn_net_shards "$1"; }

same_shards() { [ "$(shards_of 1)" == "$(shards_of 2)" ] && [ -n "$(shards_of 1)" ]; }
tn_wait_for "node 2 has node 1's records" 30 same_shards

# jqr FILE FILTER: jq -r on a peer.py result.
jqr() { jq -r "$2" "$1"; }

# peer_lines MARK LOCAL: node 1 log lines about the peer at LOCAL written after MARK.
peer_lines() { tn_log_since "$LOG1" "$1" | grep -a -F "peer $2 " || true; }

# has_disconnect_line MARK LOCAL: node 1 logged the disconnection of LOCAL.
has_disconnect_line() { peer_lines "$1" "$2" | grep -q ' disconnected: '; }

# expect_one_disconnect CASE MARK LOCAL REGEX: exactly one log line says why LOCAL was
# disconnected, matching REGEX; nothing else is logged about it but its "connected" line.
expect_one_disconnect() {
    local what=$1 mark=$2 local=$3 re=$4 lines n
    tn_wait_for "$what: a log line on the disconnection of $local" 10 has_disconnect_line "$mark" "$local"
    lines=$(peer_lines "$mark" "$local")
    n=$(grep -c ' disconnected: ' <<<"$lines" || true)
    assert_eq 1 "$n" "$what: log lines on the disconnection of $local [$lines]"
    assert_match "$re" "$(grep ' disconnected: ' <<<"$lines")" "$what: the log line says why"
    n=$(grep -v -c -E ' disconnected: | connected, inbound$' <<<"$lines" || true)
    assert_eq 0 "$n" "$what: other log lines about $local [$lines]"
    tn_say "$what: $(grep ' disconnected: ' <<<"$lines" | sed 's/^[^ ]* //')"
}

# hostile CASE REGEX PEER_ARGS...: runs peer.py; the node must close the connection, log
# one line matching REGEX, stay up, and store nothing.
hostile() {
    local what=$1 re=$2 mark before out=$T/peer.$RANDOM.json
    shift 2
    mark=$(tn_log_size "$LOG1")
    before="$(shards_of 1) | $(shards_of 2)"
    tn_peer "$out" "$@"
    assert_eq true "$(jqr "$out" .closed_by_node)" "$what: the node closed the connection ($(cat "$out"))"
    assert_eq 0 "$(jqr "$out" '.records_received // 0')" "$what: records the node sent"
    expect_one_disconnect "$what" "$mark" "$(jqr "$out" .local)" "$re"
    tn_node_running n1 || tn_fail "$what: node 1 is gone"
    assert_eq "$before" "$(shards_of 1) | $(shards_of 2)" "$what: shards (size, root) of nodes 1 | 2"
}

# --- a member's node key gets records (the probe works) ----------------------------------
out=$T/member.json
tn_peer "$out" listen-for-records --key "$K3" --eco "$NET_ECO" --addr "$ADDR" --wait 10 --stop-on-records
assert_eq ok "$(jqr "$out" .handshake)" "member key: handshake ($(cat "$out"))"
assert_eq org1 "$(jqr "$out" .responder_org)" "member key: the responder's node key checks out as org1's"
assert_eq false "$(jqr "$out" .closed_by_node)" "member key: connection kept"
assert_int_ge 1 "$(jqr "$out" .records_received)" "member key: records received for its RANGE_REQ"

# --- a node key not in the ecosystem -----------------------------------------------------
mark=$(tn_log_size "$LOG1")
out=$T/stranger.json
tn_peer "$out" listen-for-records --key "$STRANGER" --eco "$NET_ECO" --addr "$ADDR" --wait 5
assert_eq true "$(jqr "$out" .closed_by_node)" "unknown node key: connection closed by the node ($(cat "$out"))"
assert_eq 0 "$(jqr "$out" .records_received)" "unknown node key: records received"
assert_eq 0 "$(jqr "$out" .frames_received)" "unknown node key: session frames received (none may move before the key is checked)"
local_addr=$(jqr "$out" .local)
expect_one_disconnect "unknown node key" "$mark" "$local_addr" "not in the ecosystem"
assert_contains "$(peer_lines "$mark" "$local_addr")" "$STRANGER_PK" "unknown node key: the log line names the key"
assert_eq "" "$(peer_lines "$mark" "$local_addr" | grep ' connected' || true)" "unknown node key: no 'connected' line"

# --- malformed input -----------------------------------------------------------------------
hostile "garbage before the handshake" 'frame length|limit|handshake' \
    garbage --addr "$ADDR"
hostile "garbage framed as handshake message 1" 'handshake' \
    garbage --framed --addr "$ADDR"
hostile "length prefix over 64 KiB" 'frame length|limit' \
    raw --huge-length --key "$K3" --eco "$NET_ECO" --addr "$ADDR"
hostile "malformed msgpack" 'malformed|msgpack' \
    raw --bad-msgpack --key "$K3" --eco "$NET_ECO" --addr "$ADDR"
hostile "unknown even message type" 'unknown message type 1000' \
    raw --unknown-even --key "$K3" --eco "$NET_ECO" --addr "$ADDR"

# --- an unknown odd type is ignored ----------------------------------------------------------
mark=$(tn_log_size "$LOG1")
out=$T/odd.json
tn_peer "$out" raw --unknown-odd --key "$K3" --eco "$NET_ECO" --addr "$ADDR"
assert_eq false "$(jqr "$out" .closed_by_node)" "unknown odd type: connection kept ($(cat "$out"))"
assert_eq true "$(jqr "$out" .pong)" "unknown odd type: PING after it answered with PONG"
local_addr=$(jqr "$out" .local)
tn_wait_for "unknown odd type: the node notices peer.py leaving" 10 has_disconnect_line "$mark" "$local_addr"
assert_match 'connection closed by the peer' "$(peer_lines "$mark" "$local_addr" | grep ' disconnected: ')" \
    "unknown odd type: the only disconnection is peer.py leaving"
tn_say "unknown odd message type: ignored, PING answered"

# --- bad records from a member's node ----------------------------------------------------------
hostile "record with a bad signature" 'signature' \
    push --key "$K3" --org-key "$O3" --eco "$NET_ECO" --addr "$ADDR" --seq 0 --item bad.sig.1 --bad-signature
hostile "record of an org not in the ecosystem" 'not in the ecosystem' \
    push --key "$K3" --org-key "$STRANGER" --org orgx --eco "$NET_ECO" --addr "$ADDR" --seq 0 --item orgx.1
hostile "record of org3 signed with org2's key" 'key|sign' \
    push --key "$K3" --org-key "$O2" --org org3 --eco "$NET_ECO" --addr "$ADDR" --seq 0 --item forged.1
grep -a -q 'orgx' <<<"$(shards_of 1) $(shards_of 2)" && tn_fail "a shard for orgx exists"

# --- a good record made by peer.py is stored byte-exact ---------------------------------------
out=$T/good.json
tn_peer "$out" push --key "$K3" --org-key "$O3" --eco "$NET_ECO" --addr "$ADDR" --seq 0 --item good.1 --wait 10
assert_eq false "$(jqr "$out" .closed_by_node)" "good record: connection kept ($(cat "$out"))"
assert_eq true "$(jqr "$out" .stored)" "good record: read back from the node at seq 0"
assert_eq 1 "$(jqr "$out" .node_size)" "good record: shard org3 size in the node's CLOCK"
rid=$(jqr "$out" .record_id)
org3_on_2() { [[ "$(shards_of 2)" == *"org3:1:"* ]]; }
tn_wait_for "good record: replicated to node 2" 30 org3_on_2
for i in 1 2; do
    "$TRACECTL" get --data "$(tn_net_data "$i")" --raw "$rid" >"$T/good.$i.bin" 2>"$T/good.$i.err" ||
        tn_fail "good record: tracectl get --raw $rid on node $i: $(cat "$T/good.$i.err")"
    assert_eq "$rid" "$(tn_sha256 "$T/good.$i.bin")" "good record: SHA-256 of the bytes node $i stored"
    "$TRACECTL" get --data "$(tn_net_data "$i")" --json "$rid" >"$T/good.$i.json"
    assert_eq "org3 0 commission good.1" \
        "$(jq -r '"\(.org) \(.seq) \(.type) \(.outputs[0])"' "$T/good.$i.json")" "good record on node $i"
done
tn_say "a record built and signed by peer.py was accepted and replicated byte-exact ($rid)"

# --- the honest nodes still replicate --------------------------------------------------------
tn_node_running n1 || tn_fail "node 1 is gone"
tn_node_running n2 || tn_fail "node 2 is gone"
tn_net_submit 2 3 after2
tn_net_submit 1 2 after1
org_sizes_ok() {
    [[ "$(shards_of 1)" == *"org1:7:"* && "$(shards_of 1)" == *"org2:3:"* ]] && same_shards
}
tn_wait_for "records written after the attacks replicate both ways" 30 org_sizes_ok
tn_say "after it all: node 1 [$(shards_of 1 | tr ' ' '\n' | cut -d: -f1,2 | tr '\n' ' ')] = node 2"
tn_say "PASS"
