#!/usr/bin/env bash
# One real node, end to end: 1,000 events in one submit, the log, records checked byte
# for byte by an independent verifier (COSE signature, id, RFC 9162 inclusion proof,
# C2SP checkpoint), chain and input links, sealed private fields, client event ids,
# status, file modes, and all of it again after a clean restart.
. "$(dirname "$0")/lib/common.sh"

N=1000
SAMPLE=30

tn_setup
"$PY" "$VERIFY" --self-test >"$TN_OUT" || tn_fail "verify.py --self-test failed"
tn_say "$(cat "$TN_OUT")"
tn_make_ecosystem
D=$T/acme

# check_story IDS_FILE SAMPLE_FILE T_START_MS T_END_MS: the records sampled against the
# story's metadata, using the files tn_check_record left in $T/rec.
check_story() {
    "$PY" - "$T/story.meta.json" "$1" "$2" "$T/rec" "$3" "$4" "${TN_NODE_LOG[acme]}" <<'EOF'
import json, re, sys
meta_path, ids_path, sample_path, rec_dir, t_start, t_end, log_path = sys.argv[1:]
meta = json.load(open(meta_path))
ids = open(ids_path).read().split()
sample = [int(x) for x in open(sample_path).read().split()]
t_start, t_end = int(t_start), int(t_end)
errors = []

def check(cond, what, expected, actual):
    if not cond:
        errors.append("%s: expected %r, actual %r" % (what, expected, actual))

def eq(expected, actual, what):
    check(expected == actual, what, expected, actual)

n_inputs = n_private = 0
for i in sample:
    m, rid = meta[i], ids[i]
    g = json.load(open("%s/%s.get.json" % (rec_dir, rid)))
    p = json.load(open("%s/%s.payload.json" % (rec_dir, rid)))
    raw = open("%s/%s.bin" % (rec_dir, rid), "rb").read()
    w = "record %d (%s)" % (i, rid[:12])
    prev = ids[i - 1] if i > 0 else None
    eq(rid, g.get("id"), w + ": get --json id")
    eq("acme", g.get("org"), w + ": get --json org")
    eq(i, g.get("seq"), w + ": get --json seq")
    eq(i, p.get("seq"), w + ": payload seq (independent decoder)")
    eq(prev, g.get("prev"), w + ": get --json prev = id of seq-1")
    eq(prev, p.get("prev"), w + ": payload prev = id of seq-1 (independent decoder)")
    eq(m["type"], g.get("type"), w + ": type")
    eq(m["type"], p.get("type"), w + ": payload type")
    eq("itest-net", p.get("net"), w + ": payload net")
    eq(1, p.get("v"), w + ": payload v")
    eq(p.get("time"), g.get("time"), w + ": time, get --json vs payload")
    if m["time"] is not None:
        eq(m["time"], g.get("time"), w + ": the event's own time")
    else:
        check(t_start - 1000 <= g.get("time", 0) <= t_end + 1000, w + ": default time is now",
              "%d..%d" % (t_start, t_end), g.get("time"))
    eq(m["attrs"], g.get("attrs", {}), w + ": attrs")
    eq(m["attrs"], p.get("attrs", {}), w + ": payload attrs")
    for key in ("outputs", "items"):
        eq(m[key], g.get(key, []), w + ": " + key)
        eq(m[key], p.get(key, []), w + ": payload " + key)
    if m["to"]:
        eq(m["to"], g.get("to"), w + ": to")
        eq(m["to"], p.get("to"), w + ": payload to")
    signer = g.get("signer")
    check(isinstance(signer, str) and signer.startswith("ed25519:"), w + ": signer", "ed25519:...", signer)
    if m["inputs"]:
        n_inputs += 1
        want = [{"item": x["item"], "rec": ids[x["producer"]]} for x in m["inputs"]]
        eq(want, g.get("inputs"), w + ": inputs[].rec = the record that produced each input")
        eq(want, p.get("inputs"), w + ": payload inputs[].rec (independent decoder)")
    for d, name in ((g, "get --json"), (p, "payload")):
        check("private" not in d, w + ": no 'private' in " + name, "absent", d.get("private"))
    if m["private"]:
        n_private += 1
        for d, name in ((g, "get --json"), (p, "payload")):
            sealed = d.get("sealed") or {}
            eq(sorted(m["private"]), sorted(sealed), w + ": sealed field names in " + name)
            for k, v in sealed.items():
                check(isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
                      w + ": sealed[%s] in %s is a SHA-256 hex" % (k, name), "64 hex", v)
        for k, v in m["private"].items():
            check(v.encode() not in raw, w + ": private value of %s absent from the record bytes" % k,
                  "absent", "present")
            check(v.encode() not in json.dumps(g).encode(), w + ": private value absent from get --json",
                  "absent", "present")
    else:
        check("sealed" not in g, w + ": no sealed fields", "absent", g.get("sealed"))

# No private value of any event, in any sampled record, nor in the node's log.
log = open(log_path, "rb").read()
for m in meta:
    for k, v in m["private"].items():
        check(v.encode() not in log, "private value %r of event %d in the node log" % (v, m["index"]),
              "absent", "present")
if errors:
    print("\n".join(errors[:40]))
    print("(%d errors)" % len(errors))
    sys.exit(1)
print("checked %d records in depth (%d with inputs, %d with private fields)"
      % (len(sample), n_inputs, n_private))
EOF
}

# check_sample DATA IDS_FILE SAMPLE_FILE: get --raw / proof / verify.py for each sampled index
check_sample() {
    local i id
    rm -rf "$T/rec"
    while read -r i; do
        id=$(sed -n "$((i + 1))p" "$2")
        tn_check_record "$1" "$id" "$ACME_PK" "$T/rec"
    done <"$3"
}

# check_status DATA SIZE LAST_ID: status --json has the contract's fields, and the
# shard's root is the one the latest record's proof is against.
check_status() {
    local st=$T/status.json proof=$T/last.proof.json
    "$TRACECTL" status --data "$1" --json >"$st" || tn_fail "tracectl status --json failed"
    "$TRACECTL" proof --data "$1" --json "$3" >"$proof" || tn_fail "tracectl proof --json $3 failed"
    assert_eq acme "$(jq -r .org "$st")" "status .org"
    assert_eq "$NETWORK" "$(jq -r .network "$st")" "status .network"
    assert_eq "127.0.0.1:$ACME_PORT" "$(jq -r .listen "$st")" "status .listen"
    assert_eq array "$(jq -r '.peers | type' "$st")" "status .peers type"
    assert_eq array "$(jq -r '.shards | type' "$st")" "status .shards type"
    assert_eq 1 "$(jq '[.shards[] | select(.org == "acme")] | length' "$st")" "status: shards with org acme"
    assert_eq "$2" "$(jq '.shards[] | select(.org == "acme") | .size' "$st")" "status: acme shard size"
    assert_eq false "$(jq '.shards[] | select(.org == "acme") | .frozen' "$st")" "status: acme shard frozen"
    assert_match '^[0-9a-f]{64}$' "$(jq -r '.shards[] | select(.org == "acme") | .root' "$st")" "status: root is hex"
    assert_eq "$2" "$(jq .size "$proof")" "proof size of the latest record"
    assert_eq "$(($2 - 1))" "$(jq .index "$proof")" "proof index of the latest record"
    assert_eq "$(jq -r .root "$proof")" "$(jq -r '.shards[] | select(.org == "acme") | .root' "$st")" \
        "status root vs the latest record's proof root"
}

# --- start, file modes -------------------------------------------------------------------
tn_acme_start "$D"
assert_mode 700 "$D"
[ -S "$D/api.sock" ] || tn_fail "$D/api.sock is not a socket"
assert_mode 600 "$D/api.sock"
for k in "$T"/keys/*.key; do assert_mode 600 "$k"; done
tn_say "modes ok: data dir 0700, api.sock 0600, $(ls "$T"/keys/*.key | wc -l) key files 0600"

# --- 1,000 events in one submit -----------------------------------------------------------
"$PY" "$TN_LIB/story.py" story "$N" "$T/story.jsonl" "$T/story.meta.json"
assert_eq "$N" "$(wc -l <"$T/story.jsonl")" "events generated"
t_start=$(($(date +%s%N) / 1000000))
tn_run "$TRACECTL" submit --data "$D" "$T/story.jsonl"
t_end=$(($(date +%s%N) / 1000000))
assert_rc 0 "tracectl submit of $N events"
assert_eq 0 "$(wc -c <"$TN_ERR")" "bytes on stderr of a successful submit"
cp "$TN_OUT" "$T/ids.txt"
assert_eq "$N" "$(wc -l <"$T/ids.txt")" "ids printed by submit"
assert_eq "$N" "$(grep -c -E '^[0-9a-f]{64}$' "$T/ids.txt" || true)" "ids that are 64 lowercase hex digits"
assert_eq "$N" "$(sort -u "$T/ids.txt" | wc -l)" "unique ids printed"
tn_say "submit: $N ids, unique, 64 hex, in $((t_end - t_start)) ms"

tn_log_ids "$D" acme "$T/log.txt"
assert_eq "$N" "$(tn_shard_size "$D" acme)" "log --json size"
cmp -s "$T/ids.txt" "$T/log.txt" ||
    tn_fail "log ids differ from submit ids (first difference: $(cmp "$T/ids.txt" "$T/log.txt" 2>&1 | head -n 1))"
tn_say "log --json: size $N, same ids in the same order, seq 0..$((N - 1))"

"$PY" "$TN_LIB/story.py" sample "$T/story.meta.json" "$SAMPLE" 8536 >"$T/sample.txt"
assert_eq "$SAMPLE" "$(wc -l <"$T/sample.txt")" "sampled records"
check_sample "$D" "$T/ids.txt" "$T/sample.txt"
# a direct byte check as well: no private value of any event in any sampled record
jq -r '.[].private | .[]' "$T/story.meta.json" >"$T/private-values.txt"
assert_int_ge 20 "$(wc -l <"$T/private-values.txt")" "private values in the story"
grc=0
leaked=$(grep -a -F -l -f "$T/private-values.txt" "$T"/rec/*.bin) || grc=$?
[ "$grc" == 1 ] || tn_fail "private values occur in the record bytes of: [$leaked] (grep exit $grc)"
check_story "$T/ids.txt" "$T/sample.txt" "$t_start" "$t_end" >"$TN_OUT" ||
    tn_fail "story checks: $(cat "$TN_OUT")"
tn_say "$(cat "$TN_OUT"); verify.py accepted all $SAMPLE (signature, id, inclusion proof, checkpoint)"

# keys are never logged
seed=$(sed -n 's/^ed25519-secret://p' "$ACME_KEY")
assert_not_in_file "${TN_NODE_LOG[acme]}" "$seed" "org secret key in the node log"
seed=$(sed -n 's/^ed25519-secret://p' "$ACME_NODE_KEY")
assert_not_in_file "${TN_NODE_LOG[acme]}" "$seed" "node secret key in the node log"

check_status "$D" "$N" "$(tail -n 1 "$T/ids.txt")"
tn_say "status --json: org, network, listen, peers[], shards[{org,size,root,frozen}], root = proof root"

# --- client event ids ----------------------------------------------------------------------
echo '{"type": "commission", "id": "ev-x", "outputs": ["urn:epc:id:sgtin:0614141.300001.1"], "attrs": {"lot": "X1"}}' >"$T/ev-x.json"
size0=$(tn_shard_size "$D" acme)
tn_run "$TRACECTL" submit --data "$D" "$T/ev-x.json"
assert_rc 0 "submit of event ev-x"
id_x=$(cat "$TN_OUT")
assert_match '^[0-9a-f]{64}$' "$id_x" "id printed for ev-x"
assert_eq "$((size0 + 1))" "$(tn_shard_size "$D" acme)" "shard size after the first submit of ev-x"
tn_run "$TRACECTL" submit --data "$D" "$T/ev-x.json"
assert_rc 0 "second submit of event ev-x"
assert_eq "$id_x" "$(cat "$TN_OUT")" "record id of the second submit of ev-x"
assert_eq "$((size0 + 1))" "$(tn_shard_size "$D" acme)" "shard size after the second submit of ev-x"
# same client id, different content: still the existing record, nothing appended
echo '{"type": "commission", "id": "ev-x", "outputs": ["urn:epc:id:sgtin:0614141.300001.2"]}' >"$T/ev-x2.json"
tn_run "$TRACECTL" submit --data "$D" "$T/ev-x2.json"
assert_rc 0 "submit of another event with id ev-x"
assert_eq "$id_x" "$(cat "$TN_OUT")" "record id for a reused client id ev-x"
assert_eq "$((size0 + 1))" "$(tn_shard_size "$D" acme)" "shard size after reusing ev-x"
assert_eq ev-x "$("$TRACECTL" get --data "$D" --json "$id_x" | jq -r .eid)" "eid of the ev-x record"
# the same client id twice in one submission
printf '%s\n%s\n' '{"type": "commission", "id": "ev-y", "outputs": ["urn:epc:id:sgtin:0614141.300002.1"]}' \
    '{"type": "commission", "id": "ev-y", "outputs": ["urn:epc:id:sgtin:0614141.300002.1"]}' >"$T/ev-y.jsonl"
tn_run "$TRACECTL" submit --data "$D" "$T/ev-y.jsonl"
assert_rc 0 "submit of two events with id ev-y"
assert_eq 2 "$(wc -l <"$TN_OUT")" "ids printed for two ev-y events"
assert_eq 1 "$(sort -u "$TN_OUT" | wc -l)" "distinct ids for two ev-y events in one submit"
id_y=$(head -n 1 "$TN_OUT")
assert_eq "$((size0 + 2))" "$(tn_shard_size "$D" acme)" "shard size after ev-y twice"
tn_say "client event ids: resubmits return the same record id and append nothing"

tn_log_ids "$D" acme "$T/log-before.txt"
size_before=$(wc -l <"$T/log-before.txt")
last_before=$(tail -n 1 "$T/log-before.txt")
check_status "$D" "$size_before" "$last_before"

# --- clean stop and restart -----------------------------------------------------------------
tn_node_stop acme
tn_say "SIGTERM: node exited 0"
# get/log/proof read the repository directly: they work with the node stopped too
tn_log_ids "$D" acme "$T/log-stopped.txt"
cmp -s "$T/log-before.txt" "$T/log-stopped.txt" || tn_fail "log differs with the node stopped"

tn_acme_start "$D"
assert_mode 700 "$D"
assert_mode 600 "$D/api.sock"
tn_log_ids "$D" acme "$T/log-after.txt"
assert_eq "$size_before" "$(wc -l <"$T/log-after.txt")" "log size after restart"
cmp -s "$T/log-before.txt" "$T/log-after.txt" || tn_fail "log ids differ after restart"
"$PY" "$TN_LIB/story.py" sample "$T/story.meta.json" 12 4711 >"$T/sample2.txt"
check_sample "$D" "$T/ids.txt" "$T/sample2.txt"
check_story "$T/ids.txt" "$T/sample2.txt" "$t_start" "$t_end" >"$TN_OUT" ||
    tn_fail "story checks after restart: $(cat "$TN_OUT")"
tn_say "after restart: log size $size_before, same ids; $(cat "$TN_OUT")"
check_status "$D" "$size_before" "$last_before"

tn_run "$TRACECTL" submit --data "$D" "$T/ev-x.json"
assert_rc 0 "submit of ev-x after restart"
assert_eq "$id_x" "$(cat "$TN_OUT")" "record id of ev-x after restart"
assert_eq "$size_before" "$(tn_shard_size "$D" acme)" "shard size after ev-x again after restart"

echo '{"type": "ship", "items": ["urn:epc:id:sgtin:0614141.300001.1"], "to": "opco", "attrs": {"waybill": "WB-LAST"}}' >"$T/last.json"
tn_run "$TRACECTL" submit --data "$D" "$T/last.json"
assert_rc 0 "submit after restart"
id_new=$(cat "$TN_OUT")
tn_check_record "$D" "$id_new" "$ACME_PK" "$T/rec"
assert_eq "$size_before" "$(jq .seq "$T/rec/$id_new.get.json")" "seq of the record submitted after restart"
assert_eq "$last_before" "$(jq -r .prev "$T/rec/$id_new.get.json")" "prev of the record submitted after restart"
assert_eq "$last_before" "$(jq -r .prev "$T/rec/$id_new.payload.json")" "payload prev (independent decoder)"
assert_eq "$size_before" "$(jq .seq "$T/rec/$id_new.payload.json")" "payload seq (independent decoder)"
assert_eq "$((size_before + 1))" "$(tn_shard_size "$D" acme)" "shard size after the submit after restart"
check_status "$D" "$((size_before + 1))" "$id_new"
tn_say "after restart: new record seq $size_before, prev = the last id before restart"

tn_node_stop acme
tn_say "PASS ($N events, $SAMPLE + 12 + 1 records independently verified)"
