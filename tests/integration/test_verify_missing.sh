#!/usr/bin/env bash
# A pedigree that cannot be completed (DESIGN section 6: exit 3, incomplete). A three-node
# line -- shipper (node 1) <- relay (node 2) <- operator (node 3) -- with the middle node
# stopped: the operator never receives the shipper's shard. The shipper commissions and
# ships an item to the operator, who receives it. On the operator's node:
#   * trace: exit 3, verdict incomplete, MISSING_RECORD on the receive (its shipment is not
#     held), no error findings;
#   * export + verify-bundle of that partial pedigree: exit 3, incomplete;
#   * once the relay is back and the shard has arrived: trace exit 0, verdict ok.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 3 --topology line --orgs shipper,relay,operator
vt_net_stop 2
P=urn:test:missing

vt_submit 1 s.c s.ship <<EOF
{"type":"commission","outputs":["$P.widget"]}
{"type":"ship","items":["$P.widget"],"to":"operator"}
EOF
vt_submit 3 o.r <<EOF
{"type":"receive","items":["$P.widget"],"from":"shipper"}
EOF
vt_wait_holds 3 operator=1
assert_eq "" "$(vt_shard 3 shipper size)" "operator's node holds shard shipper (the relay is down: it must not)"

vt_trace 3 "$P.widget" "$T/missing.json"
vt_expect "$T/missing.json" 3 incomplete "trace on the operator's node without the shipper's shard"
jq -e --arg r "${VT_ID[o.r]}" 'any(.findings[]; .code == "MISSING_RECORD" and .record == $r)' \
    "$T/missing.json" >/dev/null ||
    tn_fail "trace without the shipper's shard: expected MISSING_RECORD on the receive $(vt_name "${VT_ID[o.r]}"), actual: $(vt_findings "$T/missing.json")"
assert_eq "" "$(vt_errors "$T/missing.json")" "trace without the shipper's shard: error findings ($(vt_findings "$T/missing.json"))"
vt_in_records "$T/missing.json" "${VT_ID[o.r]}" "trace without the shipper's shard"
tn_say "missing shard: exit 3, incomplete, MISSING_RECORD on the receive"

vt_walk "$T/missing.txt" trace --data "$(tn_net_data 3)" "$P.widget"
assert_eq 3 "$VT_RC" "trace (text) without the shipper's shard: exit code"
assert_contains "$(cat "$T/missing.txt")" MISSING_RECORD "trace (text) names the finding"

tn_run "$TRACECTL" export --data "$(tn_net_data 3)" "$P.widget" --out "$T/partial.bundle"
assert_rc 0 "export of the partial pedigree"
vt_walk "$T/partial.json" verify-bundle "$T/partial.bundle" --ecosystem "$NET_ECO" --json
vt_expect "$T/partial.json" 3 incomplete "verify-bundle of the partial pedigree"

# the relay comes back: the shard arrives, the pedigree is complete
tn_net_start 2
vt_wait_holds 3 shipper=2 operator=1
vt_trace 3 "$P.widget" "$T/complete.json"
vt_expect "$T/complete.json" 0 ok "trace on the operator's node once the shipper's shard arrived"
assert_eq 0 "$(jq '.findings | length' "$T/complete.json")" "complete pedigree: findings ($(vt_findings "$T/complete.json"))"
vt_in_records "$T/complete.json" "${VT_ID[s.c]}" "complete pedigree reaches the commission"
tn_say "relay back: shard arrived, trace ok"
tn_say "PASS"
