#!/usr/bin/env bash
# Equivocation (DESIGN section 4): an org signs two different records for the same
# (org, seq). Three nodes in a mesh; node 1 (org1) writes a few records, which reach the
# others, then stops. The independent peer (lib/peer.py), holding org1's node key and org
# key, pushes two different, validly signed records with the same seq and prev -- one to
# node 2, the other to node 3. Every running node must end with shard org1 frozen, log
# EQUIVOCATION, and keep every record it held before (nothing overwritten); a record
# extending the fork is not taken. Node 1, restarted, must learn of the fork from its peers
# (the evidence is gossiped to late joiners) and end frozen too.
# Then a fork no push reveals: org2's keys sign one branch (two records) that only node 1
# holds and another (one record) that only node 3 holds, each taken while the other node
# is down. When they meet, clocks and a failing consistency proof must lead them to the
# fork point, and both (then node 2 as well) must end with shard org2 frozen.
. "$(dirname "$0")/lib/common.sh"

DEADLINE=${TN_FORK_TIMEOUT:-60}
BEFORE=4

tn_setup
tn_testnet_up 3 --topology mesh
K1=$TN_NET/node1/node.key
O1=$TN_NET/node1/org.key

# shard_field I ORG FIELD: .size / .root / .frozen of shard ORG on node I ("" if absent).
shard_field() {
    "$TRACECTL" status --json --data "$(tn_net_data "$1")" 2>/dev/null |
        jq -r --arg o "$2" --arg f "$3" '.shards[] | select(.org == $o) | .[$f]'
}
org1_field() { shard_field "$1" org1 "$2"; }

# wait_for WHAT SECONDS COMMAND...: polls until COMMAND succeeds; says how long it took.
wait_for() {
    tn_wait_for "$@"
    tn_say "$1: after $TN_WAITED s"
}

# --- org1 writes; everyone has it -----------------------------------------------------------
tn_net_submit 1 "$BEFORE" pre
root1=$(org1_field 1 root)
replicated() {
    local i
    for i in 2 3; do
        [ "$(org1_field "$i" size)" == "$BEFORE" ] && [ "$(org1_field "$i" root)" == "$root1" ] || return 1
    done
}
wait_for "org1's $BEFORE records on nodes 2 and 3" "$DEADLINE" replicated
for i in 1 2 3; do tn_log_ids "$(tn_net_data "$i")" org1 "$T/before.$i"; done
cmp -s "$T/before.1" "$T/before.2" && cmp -s "$T/before.1" "$T/before.3" ||
    tn_fail "org1's record ids differ between nodes before the fork"
head_id=$(tail -n 1 "$T/before.1")
assert_eq false "$(org1_field 2 frozen)" "shard org1 frozen on node 2 before the fork"

# --- node 1 stops; its keys sign two different records at seq BEFORE -------------------------
tn_net_stop 1
push_args=(--key "$K1" --org-key "$O1" --eco "$NET_ECO" --seq "$BEFORE" --prev "$head_id" --wait 5)
"$PY" "$PEER" push "${push_args[@]}" --addr "$(tn_net_addr 2)" --item fork.A >"$T/push.A.json" 2>"$T/push.A.err" &
pa=$!
"$PY" "$PEER" push "${push_args[@]}" --addr "$(tn_net_addr 3)" --item fork.B >"$T/push.B.json" 2>"$T/push.B.err" &
pb=$!
rca=0 rcb=0
wait "$pa" || rca=$?
wait "$pb" || rcb=$?
assert_eq 0 "$rca" "peer.py push of record A to node 2 ($(cat "$T/push.A.json" "$T/push.A.err"))"
assert_eq 0 "$rcb" "peer.py push of record B to node 3 ($(cat "$T/push.B.json" "$T/push.B.err"))"
assert_eq ok "$(jq -r .handshake "$T/push.A.json")" "push A: session with node 2 ($(cat "$T/push.A.json"))"
assert_eq ok "$(jq -r .handshake "$T/push.B.json")" "push B: session with node 3 ($(cat "$T/push.B.json"))"
id_a=$(jq -r .record_id "$T/push.A.json")
id_b=$(jq -r .record_id "$T/push.B.json")
assert_ne "$id_a" "$id_b" "the two records at seq $BEFORE"
tn_say "org1 equivocated at seq $BEFORE: A=$id_a (to node 2, stored: $(jq -r .stored "$T/push.A.json")), B=$id_b (to node 3, stored: $(jq -r .stored "$T/push.B.json"))"

# --- every running node freezes org1, logs it, overwrites nothing ----------------------------
frozen_and_logged() {
    local i
    for i in "$@"; do
        [ "$(org1_field "$i" frozen)" == true ] || return 1
        grep -a -q EQUIVOCATION "$TN_NET/node$i/log" || return 1
    done
}
wait_for "shard org1 frozen and EQUIVOCATION logged on nodes 2 and 3" "$DEADLINE" frozen_and_logged 2 3

# check_kept I: node I still holds the records it had before, with the same ids; at most one
# record at the fork point, and it is A or B.
check_kept() {
    local i=$1 n
    tn_log_ids "$(tn_net_data "$i")" org1 "$T/after.$i"
    head -n "$BEFORE" "$T/after.$i" | cmp -s - "$T/before.$i" ||
        tn_fail "node $i: org1's first $BEFORE record ids changed: before [$(tr '\n' ' ' <"$T/before.$i")] after [$(tr '\n' ' ' <"$T/after.$i")]"
    n=$(wc -l <"$T/after.$i")
    [ "$n" -le $((BEFORE + 1)) ] || tn_fail "node $i: shard org1 grew to $n records past the fork point $BEFORE"
    if [ "$n" == $((BEFORE + 1)) ]; then
        assert_match "^($id_a|$id_b)$" "$(tail -n 1 "$T/after.$i")" "node $i: the record at the fork point"
    fi
    for id in $(cat "$T/before.$i"); do
        "$TRACECTL" get --data "$(tn_net_data "$i")" --raw "$id" >"$T/rec.bin" ||
            tn_fail "node $i: record $id held before the fork is gone"
        assert_eq "$id" "$(tn_sha256 "$T/rec.bin")" "node $i: bytes of record $id"
    done
    tn_say "node $i: shard org1 frozen at $n records, the $BEFORE earlier ones unchanged"
}
check_kept 2
check_kept 3
grep -a -h EQUIVOCATION "$TN_NET/node2/log" "$TN_NET/node3/log" | sed 's/^/    /'

# A record extending the fork is not taken by a frozen shard.
size2=$(org1_field 2 size)
if [ "$size2" == $((BEFORE + 1)) ]; then
    ext_prev=$(tail -n 1 "$T/after.2")
    tn_peer "$T/push.ext.json" push --key "$K1" --org-key "$O1" --eco "$NET_ECO" \
        --addr "$(tn_net_addr 2)" --seq "$size2" --prev "$ext_prev" --item fork.ext --wait 3
    assert_eq "$size2" "$(org1_field 2 size)" "node 2: shard org1 size after a record extending the fork"
    assert_eq true "$(org1_field 2 frozen)" "node 2: shard org1 still frozen"
fi

# --- node 1 comes back and learns of the fork -------------------------------------------------
tn_net_start 1
wait_for "node 1 restarted: shard org1 frozen and EQUIVOCATION logged" "$DEADLINE" frozen_and_logged 1
tn_log_ids "$(tn_net_data 1)" org1 "$T/after.1"
head -n "$BEFORE" "$T/after.1" | cmp -s - "$T/before.1" || tn_fail "node 1: its own first $BEFORE record ids changed"
frozen_and_logged 2 3 || tn_fail "nodes 2 and 3 no longer report the fork"

# --- a fork found by clocks: two branches that never meet in a push ------------------------
K2=$TN_NET/node2/node.key
O2=$TN_NET/node2/org.key
tn_net_submit 2 3 org2pre
root2=$(shard_field 2 org2 root)
org2_replicated() {
    [ "$(shard_field 1 org2 root)" == "$root2" ] && [ "$(shard_field 3 org2 root)" == "$root2" ]
}
wait_for "org2's 3 records on nodes 1 and 3" "$DEADLINE" org2_replicated
tn_log_ids "$(tn_net_data 1)" org2 "$T/before2.1"
tn_log_ids "$(tn_net_data 3)" org2 "$T/before2.3"
head2=$(tail -n 1 "$T/before2.1")
tn_net_stop 2
tn_net_stop 3
# branch A (seq 3 and 4) on node 1 only
tn_peer "$T/a3.json" push --key "$K2" --org-key "$O2" --eco "$NET_ECO" --addr "$(tn_net_addr 1)" \
    --seq 3 --prev "$head2" --item fork2.A3 --wait 10
assert_eq true "$(jq -r .stored "$T/a3.json")" "branch A: node 1 took seq 3 ($(cat "$T/a3.json"))"
tn_peer "$T/a4.json" push --key "$K2" --org-key "$O2" --eco "$NET_ECO" --addr "$(tn_net_addr 1)" \
    --seq 4 --prev "$(jq -r .record_id "$T/a3.json")" --item fork2.A4 --wait 10
assert_eq true "$(jq -r .stored "$T/a4.json")" "branch A: node 1 took seq 4 ($(cat "$T/a4.json"))"
tn_net_stop 1
# branch B (seq 3) on node 3 only
tn_net_start 3
tn_peer "$T/b3.json" push --key "$K2" --org-key "$O2" --eco "$NET_ECO" --addr "$(tn_net_addr 3)" \
    --seq 3 --prev "$head2" --item fork2.B3 --wait 10
assert_eq true "$(jq -r .stored "$T/b3.json")" "branch B: node 3 took seq 3 ($(cat "$T/b3.json"))"
assert_eq false "$(shard_field 3 org2 frozen)" "node 3: shard org2 frozen before it met node 1"
tn_say "org2 equivocated at seq 3: A=$(jq -r .record_id "$T/a3.json") (+ seq 4) on node 1, B=$(jq -r .record_id "$T/b3.json") on node 3"
# they meet
tn_net_start 1
org2_frozen() {
    local i
    for i in "$@"; do [ "$(shard_field "$i" org2 frozen)" == true ] || return 1; done
}
wait_for "nodes 1 and 3 met: shard org2 frozen on both" "$DEADLINE" org2_frozen 1 3
for i in 1 3; do
    tn_log_ids "$(tn_net_data "$i")" org2 "$T/after2.$i"
    head -n 3 "$T/after2.$i" | cmp -s - "$T/before2.$i" || tn_fail "node $i: org2's first 3 record ids changed"
done
assert_eq 5 "$(wc -l <"$T/after2.1")" "node 1: org2 records kept (branch A, nothing overwritten)"
assert_eq 4 "$(wc -l <"$T/after2.3")" "node 3: org2 records kept (branch B, nothing overwritten)"
assert_eq "$(jq -r .record_id "$T/b3.json")" "$(tail -n 1 "$T/after2.3")" "node 3: its record at seq 3 is still B"
tn_net_start 2
wait_for "node 2 (org2 itself) restarted: shard org2 frozen" "$DEADLINE" org2_frozen 2
tn_say "PASS"
