#!/usr/bin/env bash
# Bad input gets a clear one-line error, the documented exit code, and changes nothing
# (DESIGN sections 6 and 7): bad events, bad start-up configuration, key files, ids,
# options, commands, and a node that is not running.
. "$(dirname "$0")/lib/common.sh"

tn_setup
tn_make_ecosystem
D=$T/acme
tn_acme_start "$D"

# A good event first, so that the shard exists and "unchanged" is checked on a real size.
echo '{"type": "commission", "outputs": ["urn:epc:id:sgtin:0614141.100001.1"]}' >"$T/good.json"
tn_run "$TRACECTL" submit --data "$D" "$T/good.json"
assert_rc 0 "submit of a good event"
CASES=0

# bad_event NAME REGEX FILE: submit exits 2 with one "error:" line matching REGEX, and the
# shard is unchanged (size and root).
bad_event() {
    local name=$1 re=$2 file=$3 size0 size1 root0 root1
    size0=$(tn_shard_size "$D" acme)
    root0=$("$TRACECTL" status --data "$D" --json | jq -r '.shards[] | select(.org == "acme") | .root')
    tn_run "$TRACECTL" submit --data "$D" "$file"
    assert_rc 2 "submit: $name"
    assert_error_line "$re" "submit: $name"
    assert_eq 0 "$(wc -c <"$TN_OUT")" "bytes on stdout of a refused submit ($name)"
    size1=$(tn_shard_size "$D" acme)
    root1=$("$TRACECTL" status --data "$D" --json | jq -r '.shards[] | select(.org == "acme") | .root')
    assert_eq "$size0" "$size1" "shard size after a refused submit ($name)"
    assert_eq "$root0" "$root1" "shard root after a refused submit ($name)"
    tn_node_running acme || tn_fail "the node died after a refused submit ($name)"
    tn_say "submit refused ($name): exit 2, $(cat "$TN_ERR")"
    CASES=$((CASES + 1))
}

# --- bad events ---------------------------------------------------------------------------
printf '%s\n' '{"type": "commission", "outputs": ["a"' >"$T/e1.json"
bad_event "malformed JSON" 'json' "$T/e1.json"

echo '{"type": "teleport", "items": ["urn:x:1"]}' >"$T/e2.json"
bad_event "unknown event type" 'type.*teleport|teleport.*type' "$T/e2.json"

echo '{"type": "ship", "items": ["urn:epc:id:sgtin:0614141.100001.1"]}' >"$T/e3.json"
bad_event "ship without to" "'to'|\"to\"|field to" "$T/e3.json"

"$PY" -c 'import json; print(json.dumps({"type": "commission", "outputs": ["u" * 1025]}))' >"$T/e4.json"
bad_event "item id of 1025 bytes" '1024|1 ?KiB|too long|item' "$T/e4.json"

echo '{"type": "ship", "items": ["urn:epc:id:sgtin:0614141.100001.1"], "to": "nosuchorg"}' >"$T/e5.json"
bad_event "unknown to org" 'nosuchorg' "$T/e5.json"

echo '{"type": "receive", "items": ["urn:epc:id:sgtin:0614141.100001.1"], "from": "ghostco"}' >"$T/e6.json"
bad_event "unknown from org" 'ghostco' "$T/e6.json"

"$PY" -c 'import json; print(json.dumps({"type": "commission", "outputs": ["urn:big:%02d:" % i + "b" * 990 for i in range(20)]}))' >"$T/e7.json"
bad_event "record over 16 KiB" '16 ?KiB|16384|too (big|large)|limit' "$T/e7.json"

echo '{"type": "decommission", "items": ["urn:epc:id:sgtin:0614141.100001.1"]}' >"$T/e8.json"
bad_event "decommission by a manufacturer/supplier" 'decommission|role' "$T/e8.json"

{
    echo '{"type": "commission", "outputs": ["urn:epc:id:sgtin:0614141.100009.1"]}'
    echo '{"type": "commission", "outputs": ["urn:epc:id:sgtin:0614141.100009.2"]}'
    echo '{"type": "commission", "outputs": 42}'
    echo '{"type": "commission", "outputs": ["urn:epc:id:sgtin:0614141.100009.4"]}'
} >"$T/e9.jsonl"
bad_event "JSON Lines with a bad 3rd line" 'line 3' "$T/e9.jsonl"
# nothing of lines 1-2 was appended: their items are unknown to the node
tn_run "$TRACECTL" log --data "$D" --json acme
assert_rc 0 "log after the bad JSON Lines"
assert_eq 1 "$(jq .size "$TN_OUT")" "shard size after all refused submits"

echo '{"type": "commission", "outputs": ["urn:epc:id:sgtin:0614141.100001.2"], "colour": "red"}' >"$T/e10.json"
bad_event "unknown field" 'colour' "$T/e10.json"

: >"$T/empty.jsonl"
bad_event "no events at all" 'event|empty' "$T/empty.jsonl"

# the limits themselves are accepted: an item id of exactly 1024 bytes
"$PY" -c 'import json; print(json.dumps({"type": "commission", "outputs": ["u" * 1024]}))' >"$T/ok1024.json"
tn_run "$TRACECTL" submit --data "$D" "$T/ok1024.json"
assert_rc 0 "submit of an item id of exactly 1024 bytes"
assert_eq 2 "$(tn_shard_size "$D" acme)" "shard size after a 1024-byte item id"

# --- ids, options, commands -----------------------------------------------------------------
tn_run "$TRACECTL" get --data "$D" "$(printf '%064d' 0)"
assert_rc 3 "get of an unknown record id"
assert_error_line '' "get of an unknown record id"
tn_run "$TRACECTL" proof --data "$D" "$(printf 'ab%.0s' $(seq 32))"
assert_rc 3 "proof of an unknown record id"
assert_error_line '' "proof of an unknown record id"
for bad_id in xyz "$(printf '%063d' 0)" "$(printf '%065d' 0)" "$(printf 'g%.0s' $(seq 64))"; do
    tn_run "$TRACECTL" get --data "$D" "$bad_id"
    assert_rc 2 "get of a malformed id '$bad_id'"
    assert_error_line 'record id|hex' "get of a malformed id '$bad_id'"
done
tn_say "get: unknown id exit 3, malformed ids exit 2"

tn_run "$TRACECTL" get --data "$D" --bogus-option "$(printf '%064d' 0)"
assert_rc 2 "tracectl get with an unknown option"
assert_one_error_prefix "tracectl get with an unknown option"
assert_contains "$(head -n 1 "$TN_ERR")" "bogus-option" "error line for an unknown option"
tn_run "$TRACECTL" submit --data "$D" --frobnicate "$T/good.json"
assert_rc 2 "tracectl submit with an unknown option"
assert_one_error_prefix "tracectl submit with an unknown option"
assert_eq 2 "$(tn_shard_size "$D" acme)" "shard size after submit with an unknown option"
tn_run "$TRACECTL" frobnicate --data "$D"
assert_rc 2 "tracectl with an unknown command"
assert_one_error_prefix "tracectl with an unknown command"
assert_contains "$(head -n 1 "$TN_ERR")" "frobnicate" "error line for an unknown command"
tn_run "$TRACECTL" log --data "$D" nosuchorg
assert_rc 2 "log of an org not in the ecosystem"
assert_error_line 'nosuchorg' "log of an org not in the ecosystem"
tn_run "$TRACENODE" --bogus-option
assert_rc 2 "tracenode with an unknown option"
assert_one_error_prefix "tracenode with an unknown option"
tn_say "unknown options and commands: exit 2"

# --- keygen never overwrites ------------------------------------------------------------------
h0=$(tn_sha256 "$ACME_KEY")
tn_run "$TRACECTL" keygen --out "$ACME_KEY"
assert_rc 2 "keygen --out an existing file"
assert_error_line 'exist|overwrite' "keygen --out an existing file"
assert_eq "$h0" "$(tn_sha256 "$ACME_KEY")" "SHA-256 of the key file after a refused keygen"
assert_mode 600 "$ACME_KEY"
tn_say "keygen refuses to overwrite: exit 2, key file unchanged"

# --- tracenode refuses to start -----------------------------------------------------------------
# refuse NAME REGEX ECOSYSTEM ORG_KEY: tracenode exits 2 with an error naming the problem
# in its log, and creates no data dir.
refuse() {
    local name=$1 re=$2 eco=$3 okey=$4 data=$T/refused-$CASES log=$T/refused-$CASES.log
    TN_RC=0
    timeout 60 "$TRACENODE" --data "$data" --ecosystem "$eco" --org acme --org-key "$okey" \
        --node-key "$ACME_NODE_KEY" --listen "127.0.0.1:$(tn_free_port)" \
        </dev/null >"$log" 2>&1 || TN_RC=$?
    [ "$TN_RC" == 2 ] ||
        tn_fail "tracenode with $name: exit code expected 2, actual $TN_RC; log: [$(head -c 1500 "$log")]"
    grep -q -i 'error' "$log" || tn_fail "tracenode with $name: no error in its log: [$(head -c 1500 "$log")]"
    shopt -s nocasematch
    if ! [[ "$(cat "$log")" =~ $re ]]; then
        shopt -u nocasematch
        tn_fail "tracenode with $name: log expected to match /$re/, actual [$(head -c 1500 "$log")]"
    fi
    shopt -u nocasematch
    [ ! -e "$data/db" ] || tn_fail "tracenode with $name created a repository in $data"
    tn_say "tracenode refused $name: exit 2, $(grep -i -m1 error "$log" | cut -c1-200)"
    CASES=$((CASES + 1))
}

jq 'del(.signature)' "$ECO" >"$T/eco-unsigned.json"
refuse "an unsigned ecosystem file" 'sign' "$T/eco-unsigned.json" "$ACME_KEY"

jq '.orgs[1].name = "Ship Co Logistics (forged)"' "$ECO" >"$T/eco-forged.json"
assert_eq "$(jq -r .signature "$ECO")" "$(jq -r .signature "$T/eco-forged.json")" "signature kept in the forged file"
refuse "a badly signed ecosystem file" 'sign' "$T/eco-forged.json" "$ACME_KEY"

cp "$ACME_KEY" "$T/keys/acme-0644.key"
chmod 0644 "$T/keys/acme-0644.key"
refuse "an org key file of mode 0644" 'chmod' "$ECO" "$T/keys/acme-0644.key"

{
    echo "# tracenode Ed25519 secret key -- keep private"
    echo "ed25519-secret:$(head -c 31 /dev/urandom | base64 -w0)"
} >"$T/keys/short.key"
chmod 0600 "$T/keys/short.key"
refuse "an org key file with a 31-byte seed" 'size|32|seed|secret' "$ECO" "$T/keys/short.key"

tn_keygen "$T/keys/stranger.key" >/dev/null
refuse "a key that is not the org's key" "key" "$ECO" "$T/keys/stranger.key"

# A listen address another process holds (here the running node): a clear error and exit
# 4, not an abort (before, the shutdown after it closed a timer that was never set up).
log=$T/port-taken.log rc=0
timeout 60 "$TRACENODE" --data "$T/port-taken" --ecosystem "$ECO" --org acme \
    --org-key "$ACME_KEY" --node-key "$ACME_NODE_KEY" --listen "127.0.0.1:$ACME_PORT" \
    </dev/null >"$log" 2>&1 || rc=$?
assert_eq 4 "$rc" "exit code of tracenode on a port in use (log: $(head -c 1500 "$log"))"
assert_contains "$(cat "$log")" "cannot listen on 127.0.0.1:$ACME_PORT: address already in use" \
    "tracenode's error on a port in use"
assert_not_in_file "$log" "Assertion" "tracenode's log on a port in use"
tn_say "tracenode on a port in use: exit 4, $(grep -m1 'cannot listen' "$log" | cut -c1-200)"

# and the running node was not disturbed by any of it
assert_eq 2 "$(tn_shard_size "$D" acme)" "shard size at the end"

# --- the node is not running ----------------------------------------------------------------
tn_node_stop acme
tn_run "$TRACECTL" submit --data "$D" "$T/good.json"
assert_rc 4 "submit while the node is down"
assert_error_line 'not running|connect|unreachable' "submit while the node is down"
tn_run "$TRACECTL" status --data "$D"
assert_rc 4 "status while the node is down"
assert_error_line 'not running|connect|unreachable' "status while the node is down"
tn_run "$TRACECTL" submit --data "$T/nowhere" "$T/good.json"
assert_rc 4 "submit to a data dir with no node"
assert_error_line '' "submit to a data dir with no node"
assert_eq 2 "$(tn_shard_size "$D" acme)" "shard size after submits to a stopped node"
tn_say "node down: submit and status exit 4"

tn_say "PASS ($CASES refusals checked)"
