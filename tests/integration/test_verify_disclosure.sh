#!/usr/bin/env bash
# Controlled disclosure round trip (DESIGN sections 3 and 6) on a three-node mesh: fab
# (node 1) records an inspection with "private" fields; buyer (node 2) and audit (node 3)
# replicate it.
#   * disclose on fab's node writes a file (mode 0600, never overwritten);
#   * verify-disclosure of that file on ANOTHER node: exit 0 (--json status VERIFIED);
#     a tampered value, salt or field name: exit 1; a malformed file: exit 2;
#   * disclose on a node that is not the owner: exit 2, nothing written;
#   * the private value never appears in any node's log, in `get --json`, in the raw record
#     bytes, in trace output or in an exported bundle, nor anywhere in the data dirs of the
#     nodes that only replicated the record.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 3 --topology mesh --orgs fab,buyer,audit
ITEM=urn:test:disclose.board
SECRET="unit-cost 7.80 EUR $RANDOM$RANDOM-c0nfidential"
SECRET2="supplier-of-supplier: Q$RANDOM$RANDOM Metals"

vt_submit 1 fab.c fab.inspect <<EOF
{"type":"commission","outputs":["$ITEM"],"attrs":{"model":"CB-7"}}
{"type":"inspect","items":["$ITEM"],"attrs":{"result":"pass"},"private":{"unit-cost":"$SECRET","source":"$SECRET2"}}
EOF
REC=${VT_ID[fab.inspect]}
for i in 2 3; do vt_wait_holds "$i" fab=2; done

# --- what everyone holds: commitments only -------------------------------------------------------
for i in 1 2 3; do
    tn_run "$TRACECTL" get --data "$(tn_net_data "$i")" --json "$REC"
    assert_rc 0 "get --json of the inspection on node $i"
    assert_not_in_file "$TN_OUT" "$SECRET" "get --json on node $i"
    assert_not_in_file "$TN_OUT" "$SECRET2" "get --json on node $i"
    assert_match '^[0-9a-f]{64}$' "$(jq -r '.sealed["unit-cost"]' "$TN_OUT")" "node $i: the record's sealed commitment for unit-cost"
    "$TRACECTL" get --data "$(tn_net_data "$i")" --raw "$REC" >"$T/raw.$i.bin" ||
        tn_fail "get --raw on node $i"
    assert_eq "$REC" "$(tn_sha256 "$T/raw.$i.bin")" "node $i: raw bytes hash to the id"
    assert_not_in_file "$T/raw.$i.bin" "$SECRET" "raw record bytes on node $i"
    assert_not_in_file "$T/raw.$i.bin" "$SECRET2" "raw record bytes on node $i"
done
COMMIT=$("$TRACECTL" get --data "$(tn_net_data 2)" --json "$REC" | jq -r '.sealed["unit-cost"]')

# --- disclose on the owner's node ------------------------------------------------------------------
tn_run "$TRACECTL" disclose --data "$(tn_net_data 1)" "$REC" unit-cost --out "$T/d.json"
assert_rc 0 "disclose of unit-cost on fab's node"
[ -s "$T/d.json" ] || tn_fail "disclose wrote no file"
assert_mode 600 "$T/d.json"
assert_eq "$SECRET" "$(jq -r .value "$T/d.json")" "the disclosed value"
assert_eq "$REC" "$(jq -r .record "$T/d.json")" "the disclosure's record id"
salt=$(jq -r .salt "$T/d.json")
assert_eq "$COMMIT" "$("$PY" -c 'import hashlib, sys
print(hashlib.sha256(bytes.fromhex(sys.argv[1]) + sys.argv[2].encode()).hexdigest())' "$salt" "$SECRET")" \
    "SHA-256(salt || value) of the disclosure vs the commitment in the record"
cp "$T/d.json" "$T/d.keep"
tn_run "$TRACECTL" disclose --data "$(tn_net_data 1)" "$REC" unit-cost --out "$T/d.json"
assert_rc 2 "disclose onto an existing file"
cmp -s "$T/d.json" "$T/d.keep" || tn_fail "disclose overwrote an existing file"

# --- verify on another node ------------------------------------------------------------------------
mkdir -p "$T/mail"
cp "$T/d.json" "$T/mail/disclosure.json"
for i in 2 3; do
    tn_run "$TRACECTL" verify-disclosure --data "$(tn_net_data "$i")" "$T/mail/disclosure.json"
    assert_rc 0 "verify-disclosure on node $i"
done
tn_run "$TRACECTL" verify-disclosure --data "$(tn_net_data 2)" --json "$T/mail/disclosure.json"
assert_rc 0 "verify-disclosure --json on node 2"
assert_eq VERIFIED "$(jq -r .status "$TN_OUT")" "verify-disclosure --json status"
assert_eq "$SECRET" "$(jq -r .value "$TN_OUT")" "verify-disclosure --json value"

# tampering: each must fail verification (exit 1)
tamper() { # tamper NAME JQ_FILTER WHAT
    jq "$2" "$T/mail/disclosure.json" >"$T/mail/$1.json"
    tn_run "$TRACECTL" verify-disclosure --data "$(tn_net_data 2)" "$T/mail/$1.json"
    assert_rc 1 "verify-disclosure of $3"
    assert_one_error_prefix "verify-disclosure of $3"
}
tamper value '.value = "unit-cost 7.81 EUR"' "a tampered value"
tamper value_tail ".value = \"$SECRET \"" "a value with one extra space"
if [ "${salt:0:1}" == 0 ]; then bad_salt=1${salt:1}; else bad_salt=0${salt:1}; fi
tamper salt ".salt = \"$bad_salt\"" "a tampered salt"
tamper field '.field = "source"' "the unit-cost disclosure presented as the source field"
tamper nofield '.field = "no-such-field"' "a field the record does not seal"
printf '{"format": "tracenode-disclosure-v1", "record": 12}\n' >"$T/mail/malformed.json"
tn_run "$TRACECTL" verify-disclosure --data "$(tn_net_data 2)" "$T/mail/malformed.json"
assert_rc 2 "verify-disclosure of a malformed file"
tn_say "disclosure verified on nodes 2 and 3; tampered value, salt and field fail"

# --- disclose on a non-owner node: nothing to disclose ----------------------------------------------
for i in 2 3; do
    tn_run "$TRACECTL" disclose --data "$(tn_net_data "$i")" "$REC" unit-cost --out "$T/stolen.$i.json"
    assert_rc 2 "disclose on node $i (not the owner)"
    assert_one_error_prefix "disclose on node $i (not the owner)"
    [ ! -e "$T/stolen.$i.json" ] || tn_fail "disclose on node $i (not the owner) wrote $T/stolen.$i.json"
done

# --- the value appears nowhere it should not ---------------------------------------------------------
vt_trace 2 "$ITEM" "$T/trace.json"
vt_expect "$T/trace.json" 0 ok "trace of the inspected item on node 2"
assert_not_in_file "$T/trace.json" "$SECRET" "trace --json on node 2"
tn_run "$TRACECTL" export --data "$(tn_net_data 1)" "$ITEM" --out "$T/item.bundle"
assert_rc 0 "export on fab's node"
assert_not_in_file "$T/item.bundle" "$SECRET" "the bundle exported on fab's node"
assert_not_in_file "$T/item.bundle" "$SECRET2" "the bundle exported on fab's node"
for i in 1 2 3; do vt_net_stop "$i"; done
for i in 1 2 3; do
    assert_not_in_file "$TN_NET/node$i/log" "$SECRET" "node $i's log"
    assert_not_in_file "$TN_NET/node$i/log" "$SECRET2" "node $i's log"
done
for i in 2 3; do
    if grep -r -a -F -q -e "$SECRET" "$TN_NET/node$i" || grep -r -a -F -q -e "$SECRET2" "$TN_NET/node$i"; then
        tn_fail "a private value is stored in clear under node $i's directory (not the owner): $(grep -r -a -F -l -e "$SECRET" -e "$SECRET2" "$TN_NET/node$i")"
    fi
done
tn_say "the private values appear in no log, get output, raw record, trace, bundle or non-owner data"
tn_say "PASS"
