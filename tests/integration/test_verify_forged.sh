#!/usr/bin/env bash
# Verifier findings that ingest never lets into a repository -- BAD_SIGNATURE,
# UNKNOWN_SIGNER, CHAIN_BROKEN, HASH_MISMATCH, and UNAUTHORIZED_ROLE -- provoked with
# bundles forged by lib/forge.py (an independent writer of records, Merkle trees,
# signed-note checkpoints and the bundle format) from records it signs itself with a
# three-node testnet's key files: smelter (supplier), hauler (carrier), plant (operator).
#
# The story: smelter commissions ore, transforms it into an ingot (input link to the
# commission), ships the ingot to plant; plant receives it. First the CLEAN bundle must
# pass `tracectl verify-bundle --ecosystem` (exit 0, verdict ok, no findings, the four
# records with the right parents), which proves the tool; then each bundle with one
# defect must exit 1 with exactly the expected error code, on the defective record.
# (That ingest refuses such records is test_verify_import.sh.)
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 3 --topology mesh --orgs smelter,hauler,plant \
    --roles "smelter=supplier,hauler=carrier,plant=operator"
KEYS=(--key "smelter=$TN_NET/node1/org.key" --key "hauler=$TN_NET/node2/org.key"
    --key "plant=$TN_NET/node3/org.key")
FRESH=$T/fresh.key
tn_keygen "$FRESH" >/dev/null

tn_run "$PY" "$FORGE" self-test
assert_rc 0 "forge.py self-test ($(cat "$TN_OUT"))"

ORE=urn:test:forge.ore
INGOT=urn:test:forge.ingot
# story DEFECT_JSON_FOR_SHIP ... -> the spec on stdout; $1: jq filter applied to records
story() {
    jq -n --arg ore "$ORE" --arg ingot "$INGOT" '{item: $ingot, records: [
        {name: "c", org: "smelter", type: "commission", outputs: [$ore], attrs: {lot: "L-1"}},
        {name: "t", org: "smelter", type: "transform", inputs: [{item: $ore, rec: "@c"}], outputs: [$ingot]},
        {name: "s", org: "smelter", type: "ship", items: [$ingot], to: "plant"},
        {name: "r", org: "plant", type: "receive", items: [$ingot], from: "smelter"}]}' |
        jq "${1:-.}"
}

# forge NAME < SPEC: writes $T/NAME.bundle, the forge result in $T/NAME.forge.json.
forge() {
    cat >"$T/$1.spec.json"
    tn_run "$PY" "$FORGE" bundle --eco "$NET_ECO" --spec "$T/$1.spec.json" "${KEYS[@]}" \
        --out "$T/$1.bundle" --records-dir "$T/$1.recs"
    assert_rc 0 "forge.py bundle $1 ($(cat "$TN_OUT"))"
    cp "$TN_OUT" "$T/$1.forge.json"
}
fid() { jq -r --arg n "$2" '.ids[$n]' "$T/$1.forge.json"; }

# verify NAME: verify-bundle --json of $T/NAME.bundle into $T/NAME.json (names recorded).
verify() {
    local n
    for n in $(jq -r '.ids | keys[]' "$T/$1.forge.json"); do VT_NAME[$(fid "$1" "$n")]="$1.$n"; done
    vt_walk "$T/$1.json" verify-bundle "$T/$1.bundle" --ecosystem "$NET_ECO" --json
}

# --- the clean bundle proves the tool ------------------------------------------------------------
story | forge clean
verify clean
vt_expect "$T/clean.json" 0 ok "verify-bundle of the clean forged bundle"
assert_eq 0 "$(jq '.findings | length' "$T/clean.json")" "clean forged bundle: findings ($(vt_findings "$T/clean.json"))"
jq -n --arg c "$(fid clean c)" --arg t "$(fid clean t)" --arg s "$(fid clean s)" --arg r "$(fid clean r)" \
    --arg ore "$ORE" --arg ingot "$INGOT" '{
    ($r): {org: "plant", type: "receive", parents: [$s], items: [$ingot]},
    ($s): {org: "smelter", type: "ship", parents: [$t], items: [$ingot]},
    ($t): {org: "smelter", type: "transform", parents: [$c], items: [$ingot, $ore]},
    ($c): {org: "smelter", type: "commission", parents: [], items: [$ore]}}' >"$T/clean.expect.json"
"$PY" "$VCHECK" parents "$T/clean.json" "$T/clean.expect.json" 2>"$T/vcheck.err" ||
    tn_fail "clean forged bundle: $(cat "$T/vcheck.err")"
tn_say "clean forged bundle: exit 0, verdict ok, 4 records, parents right"

# --- one defect each -----------------------------------------------------------------------------
# defect NAME CODE RECORD FILTER WHAT: forge with FILTER, expect exit 1 and exactly CODE on RECORD.
defect() {
    local name=$1 code=$2 rec=$3 filter=$4 what=$5 id
    story "$filter" | forge "$name"
    id=$(fid "$name" "$rec")
    verify "$name"
    vt_expect "$T/$name.json" 1 fail "verify-bundle, $what"
    vt_has "$T/$name.json" "$code" error "$id" "verify-bundle, $what"
    vt_only_errors "$T/$name.json" "$code" "verify-bundle, $what"
    tn_say "$what: exit 1, $code on $(vt_name "$id")"
}
defect badsig BAD_SIGNATURE s '(.records[] | select(.name == "s")) += {defect: "bad-signature"}' \
    "a flipped signature byte in smelter's ship"
defect badsig_r BAD_SIGNATURE r '(.records[] | select(.name == "r")) += {defect: "bad-signature"}' \
    "a flipped signature byte in plant's receive"
defect member UNKNOWN_SIGNER s "(.records[] | select(.name == \"s\")) += {defect: \"signer\", signer: \"$TN_NET/node2/org.key\"}" \
    "smelter's ship signed by hauler's key"
defect stranger UNKNOWN_SIGNER t "(.records[] | select(.name == \"t\")) += {defect: \"signer\", signer: \"$FRESH\"}" \
    "smelter's transform signed by a key no org has"
defect chain CHAIN_BROKEN s '(.records[] | select(.name == "s")) += {defect: "bad-prev"}' \
    "smelter's ship whose prev is not the record at seq-1"
defect proof HASH_MISMATCH s '(.records[] | select(.name == "s")) += {defect: "bad-proof"}' \
    "an inclusion proof of smelter's ship that does not lead to the checkpoint's root"
defect proof_c HASH_MISMATCH c '(.records[] | select(.name == "c")) += {defect: "bad-proof"}' \
    "an inclusion proof of smelter's commission that does not lead to the checkpoint's root"

# UNAUTHORIZED_ROLE: a commission by hauler, whose only role is carrier
jq -n '{item: "urn:test:forge.crate", records: [
    {name: "c", org: "hauler", type: "commission", outputs: ["urn:test:forge.crate"]},
    {name: "s", org: "hauler", type: "ship", items: ["urn:test:forge.crate"], to: "plant"},
    {name: "r", org: "plant", type: "receive", items: ["urn:test:forge.crate"], from: "hauler"}]}' |
    forge role
verify role
vt_expect "$T/role.json" 1 fail "verify-bundle, a commission by a carrier-only org"
vt_has "$T/role.json" UNAUTHORIZED_ROLE error "$(fid role c)" "verify-bundle, a commission by a carrier-only org"
vt_hasnt "$T/role.json" UNAUTHORIZED_ROLE "$(fid role s)" "verify-bundle, hauler's ship (every org may ship)"
vt_only_errors "$T/role.json" UNAUTHORIZED_ROLE "verify-bundle, a commission by a carrier-only org"
tn_say "a commission by a carrier-only org: exit 1, UNAUTHORIZED_ROLE on it"

tn_say "PASS"
