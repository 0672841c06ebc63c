#!/usr/bin/env bash
# Verifier findings about custody, provoked on purpose on a three-node mesh (orgs maker,
# trader, plant; every org has every role), each checked on the right record:
#   CUSTODY_BREAK       trader ships an item it never held (on the ship);
#                       plant receives from maker an item maker shipped to someone else
#                       (maker's shard is held: on the receive)
#   DOUBLE_CONSUMPTION  maker consumes one item in two transforms (on the transform walked);
#                       maker and trader each consume one item via an explicit
#                       {"item", "rec"} input link, after maker shipped it to trader
#   SUPERSEDED          maker corrects a ship with a supersede (ref = the ship): a warning
#                       on the original, the walk includes the replacement, verdict ok
# Each walk exits 1 with exactly the expected error code (0 for SUPERSEDED).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 3 --topology mesh --orgs maker,trader,plant
P=urn:test:custody

# --- the story --------------------------------------------------------------------------------
# maker (node 1)
vt_submit 1 m.phantom.c m.phantom.ship m.dc1.c m.dc1.tx m.dc1.ty m.dc2.c <<EOF
{"type":"commission","outputs":["$P.phantom"]}
{"type":"ship","items":["$P.phantom"],"to":"trader"}
{"type":"commission","outputs":["$P.dc1"]}
{"type":"transform","inputs":["$P.dc1"],"outputs":["$P.dc1.x"]}
{"type":"transform","inputs":["$P.dc1"],"outputs":["$P.dc1.y"]}
{"type":"commission","outputs":["$P.dc2"]}
EOF
vt_submit 1 m.dc2.t m.dc2.ship m.sup.c m.sup.ship <<EOF
{"type":"transform","inputs":[{"item":"$P.dc2","rec":"${VT_ID[m.dc2.c]}"}],"outputs":["$P.dc2.a"]}
{"type":"ship","items":["$P.dc2"],"to":"trader"}
{"type":"commission","outputs":["$P.sup"]}
{"type":"ship","items":["$P.sup"],"to":"plant","attrs":{"waybill":"WB-1"}}
EOF
vt_submit 1 m.sup.fix <<EOF
{"type":"supersede","ref":"${VT_ID[m.sup.ship]}","items":["$P.sup"],"to":"plant","attrs":{"waybill":"WB-2 (corrected)"}}
EOF
# trader (node 2)
vt_submit 2 t.ghost.ship t.dc2.r <<EOF
{"type":"ship","items":["$P.ghost"],"to":"plant"}
{"type":"receive","items":["$P.dc2"],"from":"maker"}
EOF
vt_submit 2 t.dc2.t <<EOF
{"type":"transform","inputs":[{"item":"$P.dc2","rec":"${VT_ID[t.dc2.r]}"}],"outputs":["$P.dc2.b"]}
EOF
# plant (node 3)
vt_submit 3 p.ghost.r p.phantom.r p.sup.r <<EOF
{"type":"receive","items":["$P.ghost"],"from":"trader"}
{"type":"receive","items":["$P.phantom"],"from":"maker"}
{"type":"receive","items":["$P.sup"],"from":"maker"}
EOF
vt_wait_holds 3 maker=11 trader=3 plant=3

# --- CUSTODY_BREAK ------------------------------------------------------------------------------
vt_trace 3 "$P.ghost" "$T/ghost.json"
vt_expect "$T/ghost.json" 1 fail "trace of an item trader shipped without ever holding it"
vt_has "$T/ghost.json" CUSTODY_BREAK error "${VT_ID[t.ghost.ship]}" "ship of an item never held"
vt_hasnt "$T/ghost.json" CUSTODY_BREAK "${VT_ID[p.ghost.r]}" "plant's receive matches trader's ship"
vt_only_errors "$T/ghost.json" CUSTODY_BREAK "ship of an item never held"
vt_in_records "$T/ghost.json" "${VT_ID[t.ghost.ship]}" "ghost: the walk reaches the ship"
tn_say "CUSTODY_BREAK on trader's ship of an item it never held: ok"

vt_trace 3 "$P.phantom" "$T/phantom.json"
vt_expect "$T/phantom.json" 1 fail "trace of an item plant received from maker, who shipped it to trader"
vt_has "$T/phantom.json" CUSTODY_BREAK error "${VT_ID[p.phantom.r]}" "receive with no matching shipment"
vt_only_errors "$T/phantom.json" CUSTODY_BREAK "receive with no matching shipment"
if jq -e '.findings[] | select(.code == "MISSING_RECORD")' "$T/phantom.json" >/dev/null; then
    tn_fail "receive with no matching shipment (maker's shard held): MISSING_RECORD instead of a plain CUSTODY_BREAK: $(vt_findings "$T/phantom.json")"
fi
tn_say "CUSTODY_BREAK on plant's receive that no shipment of maker matches: ok"

# --- DOUBLE_CONSUMPTION -------------------------------------------------------------------------
vt_trace 3 "$P.dc1.y" "$T/dc1y.json"
vt_expect "$T/dc1y.json" 1 fail "trace of the second of two transforms consuming one item (one org)"
vt_has "$T/dc1y.json" DOUBLE_CONSUMPTION error "${VT_ID[m.dc1.ty]}" "one item, two transforms of maker (walk from y)"
vt_only_errors "$T/dc1y.json" DOUBLE_CONSUMPTION "one item, two transforms of maker (walk from y)"
vt_trace 3 "$P.dc1.x" "$T/dc1x.json"
vt_expect "$T/dc1x.json" 1 fail "trace of the first of two transforms consuming one item (one org)"
vt_has "$T/dc1x.json" DOUBLE_CONSUMPTION error "${VT_ID[m.dc1.tx]}" "one item, two transforms of maker (walk from x)"
vt_only_errors "$T/dc1x.json" DOUBLE_CONSUMPTION "one item, two transforms of maker (walk from x)"
tn_say "DOUBLE_CONSUMPTION, one org: ok"

# the two input links are the ones given
for pair in "m.dc2.t m.dc2.c" "t.dc2.t t.dc2.r"; do
    read -r consumer link <<<"$pair"
    tn_run "$TRACECTL" get --data "$(tn_net_data 3)" --json "${VT_ID[$consumer]}"
    assert_rc 0 "get $consumer"
    assert_eq "${VT_ID[$link]}" "$(jq -r '.inputs[0].rec' "$TN_OUT")" "$consumer: the explicit input link"
done
vt_trace 3 "$P.dc2.b" "$T/dc2b.json"
vt_expect "$T/dc2b.json" 1 fail "trace of trader's product of an item maker consumed too"
vt_has "$T/dc2b.json" DOUBLE_CONSUMPTION error "${VT_ID[t.dc2.t]}" "one item consumed by maker and by trader (walk from trader's product)"
vt_only_errors "$T/dc2b.json" DOUBLE_CONSUMPTION "one item consumed by maker and by trader (walk from trader's product)"
vt_in_records "$T/dc2b.json" "${VT_ID[t.dc2.r]}" "dc2.b: the walk follows the input link to trader's receive"
vt_trace 3 "$P.dc2.a" "$T/dc2a.json"
vt_expect "$T/dc2a.json" 1 fail "trace of maker's product of an item trader consumed too"
vt_has "$T/dc2a.json" DOUBLE_CONSUMPTION error "${VT_ID[m.dc2.t]}" "one item consumed by maker and by trader (walk from maker's product)"
vt_only_errors "$T/dc2a.json" DOUBLE_CONSUMPTION "one item consumed by maker and by trader (walk from maker's product)"
tn_say "DOUBLE_CONSUMPTION, two orgs with explicit input links: ok"

# --- SUPERSEDED ---------------------------------------------------------------------------------
vt_trace 3 "$P.sup" "$T/sup.json"
vt_expect "$T/sup.json" 0 ok "trace of an item whose ship was corrected by a supersede"
vt_has "$T/sup.json" SUPERSEDED warning "${VT_ID[m.sup.ship]}" "the corrected ship"
vt_in_records "$T/sup.json" "${VT_ID[m.sup.fix]}" "the walk includes the replacement"
vt_in_records "$T/sup.json" "${VT_ID[m.sup.c]}" "the walk reaches the commission"
assert_eq "" "$(vt_errors "$T/sup.json")" "supersede: error findings ($(vt_findings "$T/sup.json"))"
assert_eq 1 "$(jq '[.findings[] | select(.code == "SUPERSEDED")] | length' "$T/sup.json")" \
    "SUPERSEDED findings ($(vt_findings "$T/sup.json"))"
vt_hasnt "$T/sup.json" SUPERSEDED "${VT_ID[m.sup.fix]}" "the replacement itself"
jq -e --arg o "${VT_ID[m.sup.ship]}" --arg f "${VT_ID[m.sup.fix]}" \
    'any(.records[]; .id == $o and (.parents | index($f)) and .superseded == true)' "$T/sup.json" >/dev/null ||
    tn_fail "the corrected ship is not marked superseded with a link to its replacement: $(jq -c --arg o "${VT_ID[m.sup.ship]}" '.records[] | select(.id == $o)' "$T/sup.json")"
tn_say "SUPERSEDED: warning on the original, replacement walked, verdict ok"

# the same findings from the shipper's side
vt_wait_holds 1 trader=3 plant=3
vt_trace 1 "$P.dc2.b" "$T/dc2b.n1.json"
vt_expect "$T/dc2b.n1.json" 1 fail "trace of trader's product on maker's node"
vt_has "$T/dc2b.n1.json" DOUBLE_CONSUMPTION error "${VT_ID[t.dc2.t]}" "double consumption seen on maker's node"
tn_say "PASS"
