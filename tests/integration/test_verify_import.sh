#!/usr/bin/env bash
# Ingest refuses what only a forged bundle can carry (the reason the verifier's
# BAD_SIGNATURE, UNKNOWN_SIGNER and UNAUTHORIZED_ROLE are tested with bundles in
# test_verify_forged.sh): on a three-node testnet -- smelter (supplier), hauler (carrier),
# plant (operator) -- `tracectl import` of a record forged by lib/forge.py with a flipped
# signature byte, signed by a key no org has, or a commission by the carrier-only org is
# refused (exit 1, as `tracectl import --help` documents) and stores nothing; the same
# tool's clean record is taken (control).
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 3 --topology mesh --orgs smelter,hauler,plant \
    --roles "smelter=supplier,hauler=carrier,plant=operator"
KEYS=(--key "smelter=$TN_NET/node1/org.key" --key "hauler=$TN_NET/node2/org.key"
    --key "plant=$TN_NET/node3/org.key")
FRESH=$T/fresh.key
tn_keygen "$FRESH" >/dev/null

# forge NAME < SPEC: writes $T/NAME.bundle and each record to $T/NAME.recs/RECNAME.bin.
forge() {
    cat >"$T/$1.spec.json"
    tn_run "$PY" "$FORGE" bundle --eco "$NET_ECO" --spec "$T/$1.spec.json" "${KEYS[@]}" \
        --out "$T/$1.bundle" --records-dir "$T/$1.recs"
    assert_rc 0 "forge.py bundle $1 ($(cat "$TN_OUT"))"
}

# --- ingest refuses what the bundles carried -----------------------------------------------------
# import_refused I FILE WHAT ORG: node I refuses the record -- exit 1, as `tracectl import
# --help` documents ("Exit 0 if every record was stored or held already, 1 otherwise") --
# and holds no shard ORG afterwards. Problems are collected, reported together at the end.
IMPORT_PROBLEMS=()
import_refused() {
    tn_run "$TRACECTL" import --data "$(tn_net_data "$1")" "$2"
    [ "$TN_RC" == 1 ] ||
        IMPORT_PROBLEMS+=("tracectl import on node $1 of $3: exit code expected 1, actual $TN_RC (stderr: $(head -c 300 "$TN_ERR"))")
    [ "$TN_RC" != 0 ] || tn_fail "tracectl import on node $1 took $3"
    if grep -a -q -E 'Sanitizer|runtime error:' "$TN_ERR"; then
        IMPORT_PROBLEMS+=("tracectl import on node $1 of $3: sanitizer report on stderr: $(grep -a -m 4 -E 'Sanitizer|runtime error:|#[0-9] ' "$TN_ERR" | tr '\n' ' ' | head -c 600)")
    fi
    [ "$(wc -l <"$TN_ERR")" == 1 ] && grep -q '^error:' "$TN_ERR" ||
        IMPORT_PROBLEMS+=("tracectl import on node $1 of $3: stderr is not one 'error:' line: $(head -c 300 "$TN_ERR")")
    assert_eq "" "$(vt_shard "$1" "$4" size)" "node $1: shard $4 after refusing $3"
}
probe() { # probe NAME ORG FILTER: a one-record shard, its record in $T/NAME.recs/c.bin
    jq -n --arg o "$2" '{item: "urn:test:forge.probe", records: [
        {name: "c", org: $o, type: "commission", outputs: ["urn:test:forge.probe"]}]}' | jq "$3" | forge "$1"
}
probe p_sig smelter '.records[0] += {defect: "bad-signature"}'
import_refused 2 "$T/p_sig.recs/c.bin" "a record with a flipped signature byte" smelter
probe p_key smelter ".records[0] += {defect: \"signer\", signer: \"$FRESH\"}"
import_refused 2 "$T/p_key.recs/c.bin" "a record signed by a key no org has" smelter
probe p_role hauler '.'
import_refused 3 "$T/p_role.recs/c.bin" "a commission by a carrier-only org" hauler
# control: the same tool's clean record is taken
probe p_ok smelter '.'
tn_run "$TRACECTL" import --data "$(tn_net_data 2)" "$T/p_ok.recs/c.bin"
assert_rc 0 "tracectl import on node 2 of a clean forged record (control)"
assert_eq 1 "$(vt_shard 2 smelter size)" "node 2: shard smelter after importing a clean forged record"
tn_say "ingest refuses the forged defects and takes the clean forged record"
[ ${#IMPORT_PROBLEMS[@]} == 0 ] || tn_fail "$(printf '%s; ' "${IMPORT_PROBLEMS[@]}")"
tn_say "PASS"
