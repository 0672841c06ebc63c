#!/usr/bin/env bash
# Verifier findings about keys and roles, on a three-node mesh:
#   ore (supplier), fab (manufacturer), plant (operator).
# REVOKED_KEY: `tracectl governance revoke` of ore's key, effective now. ore's node keeps
#   signing with the old key: its records after the revocation carry REVOKED_KEY (error),
#   its record before it does not; on every node the governance record reaches.
# UNAUTHORIZED_ROLE: plant's node restarts with an ecosystem file re-signed by the same
#   governance key in which fab lost the manufacturer role it used for a commission:
#   trace there reports UNAUTHORIZED_ROLE on fab's commission (not on its ship, which every
#   org may sign); a node still on the original file reports nothing.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 3 --topology mesh --orgs ore,fab,plant \
    --roles "ore=supplier,fab=manufacturer,plant=operator"
P=urn:test:keys
GOV=$TN_NET/governance.key

# --- before: everything is fine -----------------------------------------------------------------
vt_submit 1 ore.c <<EOF
{"type":"commission","outputs":["$P.ore"]}
EOF
vt_submit 2 fab.c fab.ship <<EOF
{"type":"commission","outputs":["$P.part"]}
{"type":"ship","items":["$P.part"],"to":"plant"}
EOF
vt_submit 3 plant.part.r <<EOF
{"type":"receive","items":["$P.part"],"from":"fab"}
EOF
for i in 1 2 3; do vt_wait_holds "$i" ore=1 fab=2 plant=1; done
vt_trace 3 "$P.ore" "$T/ore.before.json"
vt_expect "$T/ore.before.json" 0 ok "trace of ore's item before the revocation"
vt_trace 3 "$P.part" "$T/part.before.json"
vt_expect "$T/part.before.json" 0 ok "trace of fab's part before the role change"

# --- REVOKED_KEY --------------------------------------------------------------------------------
ORE_PK=$(tn_pubkey "$TN_NET/node1/org.key")
tn_run "$TRACECTL" governance --data "$(tn_net_data 2)" --governance-key "$GOV" \
    revoke --org ore --key "$ORE_PK"
assert_rc 0 "tracectl governance revoke of ore's key (on fab's node)"
tn_say "revoked ore's key $ORE_PK: $(head -c 200 "$TN_OUT")"
for i in 1 2 3; do vt_wait_holds "$i" governance=1; done
# ore's node still signs with the old key
vt_submit 1 ore.t ore.ship <<EOF
{"type":"transform","inputs":["$P.ore"],"outputs":["$P.ingot"]}
{"type":"ship","items":["$P.ingot"],"to":"plant"}
EOF
vt_submit 3 plant.ingot.r <<EOF
{"type":"receive","items":["$P.ingot"],"from":"ore"}
EOF
vt_wait_holds 3 ore=3 plant=2
vt_wait_holds 2 ore=3 plant=2
for i in 3 2; do
    f=$T/ingot.$i.json
    vt_trace "$i" "$P.ingot" "$f"
    vt_expect "$f" 1 fail "node $i: trace of an item ore made and shipped after its key was revoked"
    vt_has "$f" REVOKED_KEY error "${VT_ID[ore.t]}" "node $i: ore's transform after the revocation"
    vt_has "$f" REVOKED_KEY error "${VT_ID[ore.ship]}" "node $i: ore's ship after the revocation"
    vt_in_records "$f" "${VT_ID[ore.c]}" "node $i: the walk reaches ore's commission from before"
    vt_hasnt "$f" REVOKED_KEY "${VT_ID[ore.c]}" "node $i: ore's commission from before the revocation"
    vt_hasnt "$f" REVOKED_KEY "${VT_ID[plant.ingot.r]}" "node $i: plant's receive (plant's key is fine)"
    vt_only_errors "$f" REVOKED_KEY "node $i: trace after the revocation"
done
tn_say "REVOKED_KEY on ore's records after the revocation, not before: ok"

# --- UNAUTHORIZED_ROLE --------------------------------------------------------------------------
ECO2=$T/ecosystem.fab-carrier.json
vt_eco_edit "$NET_ECO" "$ECO2" '(.orgs[] | select(.id == "fab") | .roles) = ["carrier"]'
assert_eq carrier "$(jq -r '.orgs[] | select(.id == "fab") | .roles | join(",")' "$ECO2")" "fab's roles in $ECO2"
vt_net_stop 3
vt_net_start_eco 3 "$ECO2"
tn_say "plant's node restarted with fab demoted to carrier"
vt_trace 3 "$P.part" "$T/part.after.json"
vt_expect "$T/part.after.json" 1 fail "trace of fab's part on a node whose ecosystem took fab's manufacturer role"
vt_has "$T/part.after.json" UNAUTHORIZED_ROLE error "${VT_ID[fab.c]}" "fab's commission, signed with a role fab no longer has"
vt_hasnt "$T/part.after.json" UNAUTHORIZED_ROLE "${VT_ID[fab.ship]}" "fab's ship (every org may ship)"
vt_hasnt "$T/part.after.json" UNAUTHORIZED_ROLE "${VT_ID[plant.part.r]}" "plant's receive"
vt_only_errors "$T/part.after.json" UNAUTHORIZED_ROLE "trace of fab's part after the role change"
# the governance shard still applies on top of the new file
vt_trace 3 "$P.ingot" "$T/ingot.after.json"
vt_has "$T/ingot.after.json" REVOKED_KEY error "${VT_ID[ore.ship]}" "revocation still in effect with the new ecosystem file"
# a node on the original ecosystem file: nothing wrong with fab's part
vt_trace 1 "$P.part" "$T/part.n1.json"
vt_expect "$T/part.n1.json" 0 ok "trace of fab's part on a node with the original ecosystem"
tn_say "UNAUTHORIZED_ROLE on fab's earlier commission after it lost the role: ok"
tn_say "PASS"
