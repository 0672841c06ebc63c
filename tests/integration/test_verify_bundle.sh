#!/usr/bin/env bash
# Offline bundle round trip (DESIGN section 6: export / verify-bundle) on a four-node mesh:
#   mine (supplier) -> works (manufacturer, with a private field) -> freight (carrier, who
#   corrects its ship with a supersede) -> site (operator); plus a governance record
#   (add-org), so the bundle carries the governance shard and its checkpoint.
#   * export on site's node; export never overwrites;
#   * with every node STOPPED and the data dirs moved away, `tracectl verify-bundle
#     --ecosystem <the testnet's ecosystem.json>`: exit 0 and the same verdict, records,
#     parents and findings as `trace` on the node; text and dot formats work;
#   * one byte flipped (XOR 0xff and XOR 0x01) at the first and last byte, 50 evenly
#     spaced offsets and at each record, proof, checkpoint and the ecosystem (offsets from
#     lib/forge.py): every one exits non-zero (1, 2 or 3; never 0, never a crash);
#   * a truncated or empty bundle, and a different ecosystem file (the same one edited
#     and re-signed by the governance key; another network's): non-zero.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"

tn_setup
tn_testnet_up 4 --topology mesh --orgs mine,works,freight,site \
    --roles "mine=supplier,works=manufacturer,freight=carrier,site=operator"
ORE=urn:test:bundle.ore
PART=urn:test:bundle.part

vt_submit 1 mine.c mine.ship <<EOF
{"type":"commission","outputs":["$ORE"],"attrs":{"grade":"A"}}
{"type":"ship","items":["$ORE"],"to":"works"}
EOF
vt_submit 2 works.r works.t works.ship <<EOF
{"type":"receive","items":["$ORE"],"from":"mine"}
{"type":"transform","inputs":["$ORE"],"outputs":["$PART"],"private":{"unit-cost":"3.10 EUR"}}
{"type":"ship","items":["$PART"],"to":"freight"}
EOF
vt_submit 3 freight.r freight.ship <<EOF
{"type":"receive","items":["$PART"],"from":"works"}
{"type":"ship","items":["$PART"],"to":"site","attrs":{"waybill":"W-1"}}
EOF
vt_submit 3 freight.fix <<EOF
{"type":"supersede","ref":"${VT_ID[freight.ship]}","items":["$PART"],"to":"site","attrs":{"waybill":"W-1b"}}
EOF
vt_submit 4 site.r <<EOF
{"type":"receive","items":["$PART"],"from":"freight"}
EOF
NEWCO_PK=$(tn_keygen "$T/newco.key")
tn_run "$TRACECTL" governance --data "$(tn_net_data 1)" --governance-key "$TN_NET/governance.key" \
    add-org --id newco --name "New Co" --key "$NEWCO_PK" --role auditor
assert_rc 0 "governance add-org on mine's node"
vt_wait_holds 4 mine=2 works=3 freight=3 site=1 governance=1

# --- on the node ----------------------------------------------------------------------------------
vt_trace 4 "$PART" "$T/trace.json"
vt_expect "$T/trace.json" 0 ok "trace of the part on site's node"
vt_has "$T/trace.json" SUPERSEDED warning "${VT_ID[freight.ship]}" "trace: freight's corrected ship"
assert_eq 9 "$(jq '.records | length' "$T/trace.json")" "trace: number of records ($(jq -c '[.records[].type]' "$T/trace.json"))"
B=$T/part.bundle
tn_run "$TRACECTL" export --data "$(tn_net_data 4)" "$PART" --out "$B"
assert_rc 0 "export of the part on site's node"
[ -s "$B" ] || tn_fail "export wrote no bundle"
cp "$B" "$T/bundle.keep"
tn_run "$TRACECTL" export --data "$(tn_net_data 4)" "$PART" --out "$B"
assert_rc 2 "export onto an existing file"
cmp -s "$B" "$T/bundle.keep" || tn_fail "export overwrote an existing bundle"
"$PY" - "$B" "$T/trace.json" <<'PYEOF' || tn_fail "bundle contents: see above"
import json, sys, cbor2
raw = open(sys.argv[1], "rb").read()
b = cbor2.loads(raw)
t = json.load(open(sys.argv[2]))
import hashlib
ids = {hashlib.sha256(r).hexdigest() for r in b["records"]}
want = {r["id"] for r in t["records"]}
problems = []
if cbor2.dumps(b, canonical=True) != raw:
    problems.append("not deterministic CBOR (re-encoding differs)")
if list(b) != ["v", "item", "proofs", "records", "evidence", "ecosystem", "checkpoints"]:
    problems.append("keys %s" % list(b))
if not want <= ids:
    problems.append("records of the trace missing from the bundle: %s" % sorted(want - ids))
if len(ids - want) != 1:
    problems.append("expected exactly one extra record (the governance record), got %d" % len(ids - want))
if len(b["proofs"]) != len(b["records"]):
    problems.append("%d proofs for %d records" % (len(b["proofs"]), len(b["records"])))
if not any(n.startswith("testnet/governance\n") for n in b["checkpoints"]):
    problems.append("no governance checkpoint among %s" % [n.split("\n")[0] for n in b["checkpoints"]])
if problems:
    print("bundle: " + "; ".join(problems), file=sys.stderr)
    sys.exit(1)
PYEOF
tn_run "$PY" "$FORGE" offsets "$B"
assert_rc 0 "forge.py offsets of the exported bundle ($(head -c 300 "$TN_ERR"))"
cp "$TN_OUT" "$T/offsets.txt"

# --- offline: no node, no database ----------------------------------------------------------------
OFF=$T/offline
mkdir -p "$OFF"
cp "$B" "$OFF/part.bundle"
cp "$NET_ECO" "$OFF/ecosystem.json"
for i in 1 2 3 4; do vt_net_stop "$i"; done
for i in 1 2 3 4; do mv "$TN_NET/node$i/data" "$TN_NET/node$i/data.away"; done
cd "$OFF"
vt_walk "$OFF/verify.json" verify-bundle part.bundle --ecosystem ecosystem.json --json
vt_expect "$OFF/verify.json" 0 ok "verify-bundle with every node stopped"
"$PY" "$VCHECK" same "$T/trace.json" "$OFF/verify.json" 2>"$T/vcheck.err" ||
    tn_fail "verify-bundle vs trace on the node: $(cat "$T/vcheck.err")"
vt_walk "$OFF/verify.txt" verify-bundle part.bundle --ecosystem ecosystem.json
assert_eq 0 "$VT_RC" "verify-bundle (text) exit code"
assert_match 'verdict:? *ok' "$(cat "$OFF/verify.txt")" "verify-bundle (text) states the verdict"
vt_walk "$OFF/verify.dot" verify-bundle part.bundle --ecosystem ecosystem.json --format dot
assert_eq 0 "$VT_RC" "verify-bundle --format dot exit code"
"$PY" "$VCHECK" dot "$OFF/verify.dot" "$OFF/verify.json" 2>"$T/vcheck.err" ||
    tn_fail "verify-bundle --format dot: $(cat "$T/vcheck.err")"
[ ! -e "$OFF/tracenode-data" ] || tn_fail "verify-bundle created a data dir"
tn_say "offline: verify-bundle exit 0, same verdict, records, parents and findings as trace"

# --- every flipped byte fails ---------------------------------------------------------------------
SIZE=$(stat -c %s part.bundle)
{
    echo "0 first byte"
    echo "$((SIZE - 1)) last byte"
    for k in $(seq 0 49); do echo "$(((2 * k + 1) * SIZE / 100)) evenly spaced $k/50"; done
    cat "$T/offsets.txt"
} >"$T/flips.txt"
# every flipped copy at once: flips/N.bundle, described in flips/index ("N OFFSET MASK LABEL")
"$PY" - part.bundle "$T/flips.txt" flips <<'PYEOF' || tn_fail "cannot write the flipped bundles"
import os, sys
data = open(sys.argv[1], "rb").read()
os.makedirs(sys.argv[3])
with open(os.path.join(sys.argv[3], "index"), "w") as idx:
    n = 0
    for line in open(sys.argv[2]):
        off, label = line.rstrip("\n").split(" ", 1)
        for mask in (0xFF, 0x01):
            b = bytearray(data)
            b[int(off)] ^= mask
            open(os.path.join(sys.argv[3], "%d.bundle" % n), "wb").write(b)
            idx.write("%d %s %x %s\n" % (n, off, mask, label))
            n += 1
PYEOF
BAD=()
n=0
while read -r k off mask label; do
    rc=0
    "$TRACECTL" verify-bundle "flips/$k.bundle" --ecosystem ecosystem.json --json >flipped.out 2>flipped.err || rc=$?
    n=$((n + 1))
    if grep -a -q -E 'Sanitizer|runtime error:' flipped.err; then
        BAD+=("offset $off ($label) ^0x$mask: sanitizer report (exit $rc): $(grep -a -m 2 -E 'Sanitizer|runtime error:' flipped.err)")
        continue
    fi
    case $rc in
    1 | 2 | 3) ;;
    0) BAD+=("offset $off ($label) ^0x$mask: accepted (exit 0, verdict $(jq -r .verdict flipped.out 2>/dev/null))") ;;
    *) BAD+=("offset $off ($label) ^0x$mask: exit $rc ($(head -c 200 flipped.err))") ;;
    esac
done <flips/index
[ ${#BAD[@]} == 0 ] || tn_fail "of $n single-byte flips of a $SIZE-byte bundle, ${#BAD[@]} did not fail with 1/2/3: $(printf '%s; ' "${BAD[@]}")"
tn_say "$n single-byte flips of the $SIZE-byte bundle: every one exits non-zero"

# --- truncated, empty, another ecosystem ----------------------------------------------------------
head -c $((SIZE / 2)) part.bundle >half.bundle
: >empty.bundle
for f in half empty; do
    tn_run "$TRACECTL" verify-bundle "$f.bundle" --ecosystem ecosystem.json
    [ "$TN_RC" != 0 ] || tn_fail "verify-bundle of the $f bundle: exit 0"
    assert_one_error_prefix "verify-bundle of the $f bundle"
done
# the same file edited (an org's display name) and re-signed by the governance key
jq '(.orgs[0].name) = "Renamed Mine" | del(.signature)' ecosystem.json >eco.renamed.json
tn_run "$TRACECTL" ecosystem sign --file eco.renamed.json --governance-key "$TN_NET/governance.key"
assert_rc 0 "ecosystem sign of the edited file"
tn_run "$TRACECTL" verify-bundle part.bundle --ecosystem eco.renamed.json
[ "$TN_RC" != 0 ] || tn_fail "verify-bundle with an edited, re-signed ecosystem file: exit 0"
assert_one_error_prefix "verify-bundle with an edited, re-signed ecosystem file"
# another network's ecosystem file
tn_keygen other.gov >/dev/null
tn_run "$TRACECTL" ecosystem init --network othernet --governance-key other.gov --out eco.other.json
assert_rc 0 "ecosystem init of another network"
tn_run "$TRACECTL" ecosystem add-org --file eco.other.json --id site --name Site --key "$(tn_keygen other.org)" --role operator
assert_rc 0 "ecosystem add-org in another network"
tn_run "$TRACECTL" ecosystem sign --file eco.other.json --governance-key other.gov
assert_rc 0 "ecosystem sign of another network"
tn_run "$TRACECTL" verify-bundle part.bundle --ecosystem eco.other.json
[ "$TN_RC" != 0 ] || tn_fail "verify-bundle with another network's ecosystem file: exit 0"
# and the original still passes
tn_run "$TRACECTL" verify-bundle part.bundle --ecosystem ecosystem.json
assert_rc 0 "verify-bundle of the untouched bundle at the end"
tn_say "truncated, empty, other ecosystems: non-zero"
tn_say "PASS"
