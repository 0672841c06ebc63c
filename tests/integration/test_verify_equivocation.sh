#!/usr/bin/env bash
# EQUIVOCATION in the verifier (DESIGN sections 4 and 6). Three nodes in a mesh: mint
# (node 1) commissions an item and ships it to depot (node 2); an unrelated item of yard
# (node 3) is the control. Then mint's node stops and the independent peer (lib/peer.py),
# holding mint's node and org keys, pushes two different validly signed records for the
# next seq -- one to node 2, one to node 3 (as test_net_fork.sh does). Once the shard is
# frozen on a node, every walk touching mint's shard there reports EQUIVOCATION (error) on
# mint's records and exits 1; records of other orgs are not blamed; the control item is
# still ok. An exported bundle carries the evidence: verify-bundle offline says the same.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 3 --topology mesh --orgs mint,depot,yard
P=urn:test:equiv

vt_submit 1 mint.c mint.ship <<EOF
{"type":"commission","outputs":["$P.coin"]}
{"type":"ship","items":["$P.coin"],"to":"depot"}
EOF
vt_submit 2 depot.r <<EOF
{"type":"receive","items":["$P.coin"],"from":"mint"}
EOF
vt_submit 3 yard.c <<EOF
{"type":"commission","outputs":["$P.control"]}
EOF
for i in 2 3; do vt_wait_holds "$i" mint=2 depot=1 yard=1; done
vt_trace 2 "$P.coin" "$T/coin.before.json"
vt_expect "$T/coin.before.json" 0 ok "trace of mint's coin before the fork"

# --- the fork ---------------------------------------------------------------------------------
vt_net_stop 1
push_args=(--key "$TN_NET/node1/node.key" --org-key "$TN_NET/node1/org.key" --eco "$NET_ECO"
    --seq 2 --prev "${VT_ID[mint.ship]}" --wait 5)
"$PY" "$PEER" push "${push_args[@]}" --addr "$(tn_net_addr 2)" --item "$P.fork.A" >"$T/push.A.json" 2>"$T/push.A.err" &
pa=$!
"$PY" "$PEER" push "${push_args[@]}" --addr "$(tn_net_addr 3)" --item "$P.fork.B" >"$T/push.B.json" 2>"$T/push.B.err" &
pb=$!
rca=0 rcb=0
wait "$pa" || rca=$?
wait "$pb" || rcb=$?
assert_eq 0 "$rca" "peer.py push of record A to node 2 ($(cat "$T/push.A.json" "$T/push.A.err"))"
assert_eq 0 "$rcb" "peer.py push of record B to node 3 ($(cat "$T/push.B.json" "$T/push.B.err"))"
id_a=$(jq -r .record_id "$T/push.A.json")
id_b=$(jq -r .record_id "$T/push.B.json")
assert_ne "$id_a" "$id_b" "the two records mint's key signed at seq 2"
VT_NAME[$id_a]=fork.A
VT_NAME[$id_b]=fork.B
frozen() { local i; for i in "$@"; do [ "$(vt_shard "$i" mint frozen)" == true ] || return 1; done; }
tn_wait_for "shard mint frozen on nodes 2 and 3" "$VT_WAIT" frozen 2 3
tn_say "mint equivocated at seq 2 (A=${id_a:0:16}.., B=${id_b:0:16}..); frozen on nodes 2 and 3 after $TN_WAITED s"

# --- every walk touching mint's shard reports it ------------------------------------------------
for i in 2 3; do
    f=$T/coin.$i.json
    vt_trace "$i" "$P.coin" "$f"
    vt_expect "$f" 1 fail "node $i: trace of mint's coin after the fork"
    vt_has "$f" EQUIVOCATION error "${VT_ID[mint.c]}" "node $i: mint's commission"
    vt_has "$f" EQUIVOCATION error "${VT_ID[mint.ship]}" "node $i: mint's ship"
    vt_hasnt "$f" EQUIVOCATION "${VT_ID[depot.r]}" "node $i: depot's receive"
    vt_only_errors "$f" EQUIVOCATION "node $i: trace of mint's coin after the fork"
    # the record this node holds at the fork point, and the item it names
    at=$("$TRACECTL" log --data "$(tn_net_data "$i")" --json mint | jq -r '.records[] | select(.seq == 2) | .id')
    if [ -n "$at" ]; then
        assert_match "^($id_a|$id_b)$" "$at" "node $i: mint's record at seq 2"
        item=$("$TRACECTL" get --data "$(tn_net_data "$i")" --json "$at" | jq -r '.outputs[0]')
        vt_trace "$i" "$item" "$T/fork.$i.json"
        vt_expect "$T/fork.$i.json" 1 fail "node $i: trace of the item of the forked record"
        vt_has "$T/fork.$i.json" EQUIVOCATION error "$at" "node $i: the forked record itself"
        tn_say "node $i holds $(vt_name "$at") at the fork point: EQUIVOCATION on it"
    fi
    vt_trace "$i" "$P.control" "$T/control.$i.json"
    vt_expect "$T/control.$i.json" 0 ok "node $i: yard's item (another org's shard)"
    vt_trace "$i" "$P.coin" "$T/coin.wu.$i.json" where-used
    vt_expect "$T/coin.wu.$i.json" 1 fail "node $i: where-used of mint's coin after the fork"
    vt_has "$T/coin.wu.$i.json" EQUIVOCATION error "${VT_ID[mint.c]}" "node $i: where-used, mint's commission"
done
tn_say "EQUIVOCATION on mint's records on nodes 2 and 3; others' records not blamed"

# --- the bundle carries the evidence ------------------------------------------------------------
tn_run "$TRACECTL" export --data "$(tn_net_data 2)" "$P.coin" --out "$T/coin.bundle"
assert_rc 0 "export of mint's coin on node 2"
vt_walk "$T/coin.bundle.json" verify-bundle "$T/coin.bundle" --ecosystem "$NET_ECO" --json
vt_expect "$T/coin.bundle.json" 1 fail "verify-bundle of the coin's bundle from a node holding the fork evidence"
vt_has "$T/coin.bundle.json" EQUIVOCATION error "${VT_ID[mint.ship]}" "verify-bundle: mint's ship"
tn_say "PASS"
