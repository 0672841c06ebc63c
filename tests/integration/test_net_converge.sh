#!/usr/bin/env bash
# Replication converges (DESIGN section 5): five nodes in a line (node i dials node i-1
# only, so records for the far end travel through every node in between). Records written
# on nodes 1, 3 and 5 reach every node, with the same size and Merkle root everywhere.
# Then node 2 is killed with -9 while node 1 writes more; restarted, it catches up and
# relays the rest down the line. Then the middle node 3 is stopped (a partition): each side
# writes and converges on its own, the other side learns nothing; once node 3 is back,
# every node converges again. Convergence times are printed.
. "$(dirname "$0")/lib/common.sh"

DEADLINE=${TN_CONVERGE_TIMEOUT:-60}
NODES="1 2 3 4 5"

tn_setup
tn_testnet_up 5 --topology line

# expect ORG=SIZE...: the expected shards and their sizes (any other shard is unexpected).
declare -A WANT=()
expect() {
    local kv
    WANT=()
    for kv in "$@"; do WANT[${kv%%=*}]=${kv#*=}; done
}

# want_sizes: the expected "org:size" words, sorted.
want_sizes() {
    local org
    for org in "${!WANT[@]}"; do echo "$org:${WANT[$org]}"; done | sort | tr '\n' ' ' | sed 's/ $//'
}

# sizes_of I: node I's "org:size" words.
sizes_of() { tn_net_shards "$1" | tr ' ' '\n' | cut -d: -f1,2 | tr '\n' ' ' | sed 's/ $//'; }

# converged NODE...: every listed node holds exactly the expected shards, sizes and one
# common root per shard, none frozen.
converged() {
    local want first="" i s
    want=$(want_sizes)
    for i in "$@"; do
        s=$(tn_net_shards "$i") || return 1
        [ "$(tr ' ' '\n' <<<"$s" | cut -d: -f1,2 | tr '\n' ' ' | sed 's/ $//')" == "$want" ] || return 1
        [[ "$s" != *:true* ]] || return 1
        if [ -z "$first" ]; then first=$s; elif [ "$s" != "$first" ]; then return 1; fi
    done
}

# wait_converged LABEL NODE...: polls until converged (at most DEADLINE s); prints the time.
wait_converged() {
    local label=$1 t0 deadline i
    shift
    t0=$EPOCHREALTIME
    deadline=$(tn_deadline "$DEADLINE")
    until converged "$@"; do
        if tn_expired "$deadline"; then
            for i in "$@"; do
                echo "  node $i shards: $(tn_net_shards "$i")" >&2
                echo "  node $i peers: $("$TRACECTL" status --json --data "$(tn_net_data "$i")" 2>/dev/null |
                    jq -c '[.peers[] | {org, state}]')" >&2
            done
            tn_fail "$label: nodes $* did not converge on [$(want_sizes)] with equal roots within ${DEADLINE}s"
        fi
        tn_poll_pause
    done
    tn_say "$label: nodes $* converged on [$(want_sizes)] in $(awk -v a="${t0/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.2f", b - a }') s"
}

# --- 1. writes at both ends and in the middle ---------------------------------------------
tn_net_submit 1 600 a1
tn_net_submit 5 300 a5
tn_net_submit 3 100 a3
expect org1=600 org3=100 org5=300
wait_converged "writes on nodes 1, 3, 5" $NODES

# --- 2. kill -9 of node 2, writes behind it, restart ---------------------------------------
tn_net_stop 2 KILL
tn_net_submit 1 250 b1
expect org1=850 org3=100 org5=300
# node 2 was the only way from node 1 to nodes 3..5: they cannot have the new records
for i in 3 4 5; do
    assert_eq "org1:600 org3:100 org5:300" "$(sizes_of "$i")" "node $i shards while node 2 is down"
done
tn_net_start 2
wait_converged "node 2 restarted after kill -9" $NODES

# --- 3. partition: node 3 stopped, both sides write, node 3 back ----------------------------
tn_net_stop 3
tn_net_submit 1 150 c1
tn_net_submit 5 120 c5
tn_net_submit 4 40 c4
# each side converges on its own writes only (converged requires exactly these sizes)
expect org1=1000 org3=100 org5=300
wait_converged "left side of the partition" 1 2
expect org1=850 org3=100 org4=40 org5=420
wait_converged "right side of the partition" 4 5
assert_eq "org1:1000 org3:100 org5:300" "$(sizes_of 1)" "node 1 shards during the partition (nothing from the right side)"
tn_net_start 3
expect org1=1000 org3=100 org4=40 org5=420
wait_converged "partition healed (node 3 restarted)" $NODES

# the records themselves: the same ids in the same order on both ends of the line
for org in org1 org4 org5; do
    tn_log_ids "$(tn_net_data 1)" "$org" "$T/ids.1.$org"
    tn_log_ids "$(tn_net_data 5)" "$org" "$T/ids.5.$org"
    cmp -s "$T/ids.1.$org" "$T/ids.5.$org" || tn_fail "shard $org: record ids differ between node 1 and node 5"
done

# --- 4. two nodes that list each other: one session, and no redialling ------------------------
# Node 2 already dials node 1; now node 1 dials node 2 as well. Of two sessions between the
# same nodes, the one dialed by the smaller node key stays. Start the other node (L) first:
# its dial fails until the smaller one (S) is up, S's dial then opens the session that
# stays, and L's next dial opens a second one that is closed as a duplicate at once. L
# must then leave its --peer alone while the session is up (it used to redial with backoff
# for ever: 14 "duplicate connection" lines a node in a 4-minute 16-node run).
echo "--peer $(tn_net_addr 2)" >>"$TN_NET/node1/peers"
tn_net_stop 1
tn_net_stop 2
key_bytes() { "$PY" -c 'import base64, sys; print(base64.b64decode(sys.argv[1].split(":")[1]).hex())' "$(tn_pubkey "$TN_NET/node$1/node.key")"; }
if [[ "$(key_bytes 1)" < "$(key_bytes 2)" ]]; then S=1 L=2; else S=2 L=1; fi
markL=$(tn_log_size "$TN_NET/node$L/log")
tn_net_start "$L"
tn_net_start "$S"
one_session() {
    [ "$("$TRACECTL" status --json --data "$(tn_net_data "$L")" |
        jq --arg o "$(tn_net_org "$S")" '[.peers[] | select(.state == "connected" and .org == $o)] | length')" == 1 ]
}
tn_wait_for "node $L has one session with node $S" 30 one_session
dups() { tn_log_since "$TN_NET/node$L/log" "$markL" | grep -c "disconnected: duplicate connection" || true; }
# An observation window, not a synchronisation: with the old behaviour L's backoff (from
# 0.25-0.5 s, doubling with each closed dial) redials at least twice in 8 s.
sleep 8
one_session || tn_fail "node $L lost its session with node $S"
n=$(dups)
[ "$n" -le 1 ] || tn_fail "node $L closed $n duplicate connections in the 8 s after its session opened (it keeps redialling)"
tn_say "mutual --peer: one session, $n duplicate connection(s) closed by node $L"
tn_say "PASS"
