#!/usr/bin/env bash
# Range fetches between peers (DESIGN section 5; docs/PROTOCOL.md "Fetching", "Serving").
#
# 1. A peer fetching several shards from one node at once gets each of them whole (one
# RANGE_REQ outstanding per shard per peer).
# The independent peer (lib/peer.py fetch-shards) asks node 1 for the first range of both
# shards it holds in one go, through a small receive window, and reads nothing for a
# second: the first shard's 12 MB range fills the node's send queue, so the second request
# arrives while the first is still being served. Each must be answered in full. (Before
# this was fixed, a request for another shard replaced the range being served, and the
# first shard's fetch only went on after the asker's 10-second stall timeout: at scale,
# 171 such stalls in one 16-node run.)
#
# 2. A peer that ends a range with `last` while records of it cannot be stored (a gap in
# the middle) leaves the node counting records as on their way that never come: the node
# must notice (10 s without progress) and ask again. (Before, that credit was held for
# good and the fetch stopped: the stalls that never ended in 16-node runs.) A range that
# ends short (fewer records than asked, `last`) is asked again at once. The node must end
# up holding the whole shard.
. "$(dirname "$0")/lib/common.sh"

tn_setup
tn_testnet_up 3 --topology line
tn_net_stop 3 # its node key is a member's key for the independent peer
K3=$TN_NET/node3/node.key
ADDR=$(tn_net_addr 1)
N=1000

# big_events I COUNT TAG: COUNT commission events of about 12 KB each (three 4,000-byte
# attributes) submitted on node I.
big_events() {
    local i=$1 count=$2 tag=$3 ev=$T/big.$3.jsonl
    "$PY" -c 'import json, sys
pad = "x" * 4000
for k in range(int(sys.argv[1])):
    print(json.dumps({"type": "commission", "outputs": ["urn:big:%s.%d" % (sys.argv[2], k)],
                      "attrs": {"a": pad, "b": pad, "c": pad}}))' "$count" "$tag" >"$ev"
    tn_run "$TRACECTL" submit --data "$(tn_net_data "$i")" "$ev"
    assert_rc 0 "submit of $count big events on node $i"
}
big_events 1 "$N" one
big_events 2 "$N" two

org1=$(tn_net_org 1) org2=$(tn_net_org 2)
node1_holds_both() {
    [ "$(tn_net_shards 1 | tr ' ' '\n' | cut -d: -f1,2 | tr '\n' ' ')" == "$org1:$N $org2:$N " ]
}
tn_wait_for "node 1 holds both shards whole" 120 node1_holds_both

out=$T/fetch.json
tn_peer "$out" fetch-shards --key "$K3" --eco "$NET_ECO" --addr "$ADDR" --rcvbuf 4096 \
    --hold 1 --wait 40
tn_say "fetch-shards: $(jq -c '{shards, complete, closed_by_node}' "$out")"
assert_eq false "$(jq -r .closed_by_node "$out")" "the node kept the session ($(cat "$out"))"
assert_eq "$N" "$(jq -r --arg o "$org1" '.shards[$o]' "$out")" "records of shard $org1 received"
assert_eq "$N" "$(jq -r --arg o "$org2" '.shards[$o]' "$out")" "records of shard $org2 received"
assert_eq true "$(jq -r .complete "$out")" "every shard fetched whole"

# --- 2. a gap, then a short answer, each marked last -----------------------------------------
O3=$TN_NET/node3/org.key
mark=$(tn_log_size "$TN_NET/node1/log")
out=$T/short.json
tn_peer "$out" serve-short --key "$K3" --org-key "$O3" --eco "$NET_ECO" --addr "$ADDR" \
    --records 200 --wait 40
tn_say "serve-short: $(jq -c '{org, node_size, ranges, reask_s, complete}' "$out")"
assert_eq 200 "$(jq -r .node_size "$out")" "records of the peer's shard the node holds ($(cat "$out"))"
assert_eq "0 200 199" "$(jq -r '.ranges[0] | join(" ")' "$out")" "the first range: 200 asked, all but the middle one sent"
assert_eq "100 100 50" "$(jq -r '.ranges[1] | join(" ")' "$out")" "after the gap, asked again from where it stood"
assert_eq "150" "$(jq -r '.ranges[2][0]' "$out")" "after the short answer, asked again from where it ended"
assert_contains "$(tn_log_since "$TN_NET/node1/log" "$mark")" "100 records asked for were not stored; asking again" \
    "node 1 logs why it asked again"
awk -v s="$(jq -r .reask_s "$out")" 'BEGIN { exit !(s < 5) }' ||
    tn_fail "the short answer was asked again after $(jq -r .reask_s "$out") s (the stall rule's 10 s, not at once)"

# status shows each shard's fetch state (docs/PROTOCOL.md "Watching it"); node 1 holds
# the whole shard now, and the peer that served it is gone
st=$("$TRACECTL" status --json --data "$(tn_net_data 1)" | jq -c '.shards[] | select(.org == "org3")')
assert_eq '["from","idle_ms","in_flight","outstanding","sources","unproven"]' "$(jq -c '.fetch | keys' <<<"$st")" "status: a shard's fetch fields"
assert_eq "200 0 false 0" "$(jq -r '"\(.size) \(.fetch.in_flight) \(.fetch.outstanding) \(.fetch.sources)"' <<<"$st")" "status: org3 fetched whole, nothing in flight ($st)"
assert_match "org3 +size 200 +root [0-9a-f]{64}  behind 0" "$("$TRACECTL" status --data "$(tn_net_data 1)")" "status text: the shard and how far behind it is"
tn_say "PASS"
