#!/usr/bin/env bash
# The verifier on a clean five-org pedigree (DESIGN section 6, testnet/demo's story):
#   ore-mine (supplier) -> chipworks (manufacturer) -> assembly-co (assembler)
#   -> fastfreight (carrier) -> city-grid (operator)
# Each org records its part on its own node (a five-node mesh). On the operator's node:
#   * trace METER --json: exit 0, verdict ok, no findings, exactly the story's 11 records
#     with the right parents (receive -> the matching ship -> the shipper's earlier custody
#     record -> the transform's input -> ...), each record's items;
#   * --format text and dot work (dot: a digraph with one edge per parent link);
#   * --trust-store and another node (the supplier's) give the same result;
#   * where-used LOT (the raw material): exit 0, verdict ok, reaches the meter's final
#     receive, and holders tells who holds each item now.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 5 --topology mesh --orgs ore-mine,chipworks,assembly-co,fastfreight,city-grid \
    --roles "ore-mine=supplier,chipworks=manufacturer,assembly-co=assembler,fastfreight=carrier,city-grid=operator"

LOT=urn:epc:id:lgtin:4012345.00001.CU-2026-117
BOARD=urn:epc:id:sgtin:0614141.107346.90001
METER=urn:epc:id:sgtin:0614141.200777.50001

vt_submit 1 ore.commission ore.ship <<EOF
{"type":"commission","outputs":["$LOT"],"attrs":{"material":"copper cathode","mass_kg":500}}
{"type":"ship","items":["$LOT"],"to":"chipworks"}
EOF
vt_submit 2 chip.receive chip.transform chip.ship <<EOF
{"type":"receive","items":["$LOT"],"from":"ore-mine"}
{"type":"transform","inputs":["$LOT"],"outputs":["$BOARD"],"attrs":{"part":"meter controller board"}}
{"type":"ship","items":["$BOARD"],"to":"assembly-co"}
EOF
vt_submit 3 asm.receive asm.transform asm.ship <<EOF
{"type":"receive","items":["$BOARD"],"from":"chipworks"}
{"type":"transform","inputs":["$BOARD"],"outputs":["$METER"],"attrs":{"model":"SM-200"}}
{"type":"ship","items":["$METER"],"to":"fastfreight"}
EOF
vt_submit 4 ff.receive ff.ship <<EOF
{"type":"receive","items":["$METER"],"from":"assembly-co"}
{"type":"ship","items":["$METER"],"to":"city-grid"}
EOF
vt_submit 5 grid.receive <<EOF
{"type":"receive","items":["$METER"],"from":"fastfreight"}
EOF
ALL="ore-mine=2 chipworks=3 assembly-co=3 fastfreight=2 city-grid=1"
# shellcheck disable=SC2086
vt_wait_holds 5 $ALL

# --- the expected pedigree ------------------------------------------------------------------
# expect NAME ORG TYPE "ITEMS" PARENT_NAMES...
EXPECT='{}'
expect() {
    local name=$1 org=$2 type=$3 items=$4 p parents='[]'
    shift 4
    for p in "$@"; do parents=$(jq -c --arg p "${VT_ID[$p]}" '. + [$p]' <<<"$parents"); done
    EXPECT=$(jq -c --arg id "${VT_ID[$name]}" --arg org "$org" --arg type "$type" \
        --arg items "$items" --argjson parents "$parents" \
        '.[$id] = {org: $org, type: $type, parents: $parents, items: ($items | split(" "))}' <<<"$EXPECT")
}
expect grid.receive city-grid receive "$METER" ff.ship
expect ff.ship fastfreight ship "$METER" ff.receive
expect ff.receive fastfreight receive "$METER" asm.ship
expect asm.ship assembly-co ship "$METER" asm.transform
expect asm.transform assembly-co transform "$METER $BOARD" asm.receive
expect asm.receive assembly-co receive "$BOARD" chip.ship
expect chip.ship chipworks ship "$BOARD" chip.transform
expect chip.transform chipworks transform "$BOARD $LOT" chip.receive
expect chip.receive chipworks receive "$LOT" ore.ship
expect ore.ship ore-mine ship "$LOT" ore.commission
expect ore.commission ore-mine commission "$LOT"
echo "$EXPECT" >"$T/expect.json"

# check_pedigree FILE WHAT: exit 0, ok, no findings, the expected records and parents.
check_pedigree() {
    vt_expect "$1" 0 ok "$2"
    assert_eq 0 "$(jq '.findings | length' "$1")" "$2: number of findings ($(vt_findings "$1"))"
    assert_eq "$METER" "$(jq -r .item "$1")" "$2: .item"
    "$PY" "$VCHECK" parents "$1" "$T/expect.json" 2>"$T/vcheck.err" ||
        tn_fail "$2: records/parents: $(cat "$T/vcheck.err")"
}

vt_trace 5 "$METER" "$T/trace.json"
check_pedigree "$T/trace.json" "trace METER --json on the operator's node"
tn_say "trace on city-grid's node: ok, 11 records, parents as expected"

# the record of each org's part is also checked: signer, seq, type via get --json
for name in ore.commission chip.transform asm.transform grid.receive; do
    tn_run "$TRACECTL" get --data "$(tn_net_data 5)" --json "${VT_ID[$name]}"
    assert_rc 0 "get $name on node 5"
    assert_eq "${VT_ID[$name]}" "$(jq -r .id "$TN_OUT")" "get --json $name: id"
done

# --- text and dot ---------------------------------------------------------------------------
vt_walk "$T/trace.txt" trace --data "$(tn_net_data 5)" "$METER" --format text
assert_eq 0 "$VT_RC" "trace --format text exit code (stderr: $(head -c 300 "$T/trace.txt.err"))"
txt=$(cat "$T/trace.txt")
for org in ore-mine chipworks assembly-co fastfreight city-grid; do
    assert_contains "$txt" "$org" "trace --format text names every org"
done
assert_contains "$txt" "$METER" "trace --format text names the item"
assert_match 'verdict:? *ok' "$txt" "trace --format text states the verdict"
vt_walk "$T/trace.txt2" trace --data "$(tn_net_data 5)" "$METER"
assert_eq 0 "$VT_RC" "trace (default text format) exit code"
cmp -s "$T/trace.txt" "$T/trace.txt2" || tn_fail "trace without --format differs from --format text"

vt_walk "$T/trace.dot" trace --data "$(tn_net_data 5)" "$METER" --format dot
assert_eq 0 "$VT_RC" "trace --format dot exit code (stderr: $(head -c 300 "$T/trace.dot.err"))"
assert_contains "$(cat "$T/trace.dot")" digraph "trace --format dot output"
"$PY" "$VCHECK" dot "$T/trace.dot" "$T/trace.json" 2>"$T/vcheck.err" ||
    tn_fail "trace --format dot vs --json: $(cat "$T/vcheck.err")"
tn_say "text and dot: ok (dot has one edge per parent link)"

# --- --trust-store, and the same walk on the supplier's node --------------------------------
vt_trace 5 "$METER" "$T/trace.trust.json" trace --trust-store
check_pedigree "$T/trace.trust.json" "trace METER --trust-store on the operator's node"
# shellcheck disable=SC2086
vt_wait_holds 1 $ALL
vt_trace 1 "$METER" "$T/trace.n1.json"
check_pedigree "$T/trace.n1.json" "trace METER on ore-mine's node"

# --- where-used: the recall from the raw material -------------------------------------------
vt_trace 5 "$LOT" "$T/wu.json" where-used
vt_expect "$T/wu.json" 0 ok "where-used LOT on the operator's node"
assert_eq 0 "$(jq '.findings | length' "$T/wu.json")" "where-used: findings ($(vt_findings "$T/wu.json"))"
for name in "${!VT_ID[@]}"; do
    vt_in_records "$T/wu.json" "${VT_ID[$name]}" "where-used LOT reaches $name"
done
assert_eq 11 "$(jq '.records | length' "$T/wu.json")" "where-used LOT: number of records"
jq -e --arg m "$METER" 'any(.records[]; (.items // []) | index($m))' "$T/wu.json" >/dev/null ||
    tn_fail "where-used LOT does not reach the final product $METER"
# the final receive is downstream of a record naming LOT, along the children links
reached=0
for name in ore.commission ore.ship chip.receive chip.transform; do
    "$PY" "$VCHECK" reach "$T/wu.json" "${VT_ID[$name]}" "${VT_ID[grid.receive]}" 2>/dev/null && reached=1
done
[ "$reached" == 1 ] || tn_fail "where-used LOT: city-grid's receive of the meter is reachable from no record of LOT along .children ($(jq -c '[.records[] | {id: .id[0:8], children: [.children[]?[0:8]]}]' "$T/wu.json"))"
holder() { jq -r --arg i "$1" '[.holders[]? | select(.item == $i) | .org] | join(",")' "$T/wu.json"; }
assert_eq city-grid "$(holder "$METER")" "where-used holders: who holds the meter now"
assert_eq assembly-co "$(holder "$BOARD")" "where-used holders: who holds the board now (built into the meter)"
assert_eq chipworks "$(holder "$LOT")" "where-used holders: who holds the copper lot now (made into the board)"
jq -e --arg r "${VT_ID[grid.receive]}" --arg m "$METER" \
    'any(.holders[]; .item == $m and .record == $r)' "$T/wu.json" >/dev/null ||
    tn_fail "where-used holders: the meter's holder record is not city-grid's receive ($(jq -c .holders "$T/wu.json"))"

vt_walk "$T/wu.txt" where-used --data "$(tn_net_data 5)" "$LOT"
assert_eq 0 "$VT_RC" "where-used (text) exit code"
assert_contains "$(cat "$T/wu.txt")" city-grid "where-used text names the final holder"
vt_walk "$T/wu.dot" where-used --data "$(tn_net_data 5)" "$LOT" --format dot
assert_eq 0 "$VT_RC" "where-used --format dot exit code"
"$PY" "$VCHECK" dot "$T/wu.dot" "$T/wu.json" 2>"$T/vcheck.err" ||
    tn_fail "where-used --format dot vs --json: $(cat "$T/vcheck.err")"
tn_say "where-used LOT: ok, reaches the meter at city-grid; holders right"

# an item nobody recorded: nothing to walk -> incomplete, never ok
vt_trace 5 urn:test:never-recorded "$T/none.json"
assert_eq 3 "$VT_RC" "trace of an item no record names: exit code"
assert_eq incomplete "$(jq -r .verdict "$T/none.json")" "trace of an item no record names: verdict"
tn_say "PASS"
