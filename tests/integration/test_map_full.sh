#!/usr/bin/env bash
# A full LMDB map is an I/O error with a clear message, not a crash: the submit that
# does not fit exits 4 naming the map size, the node keeps serving everything acknowledged,
# and after a restart with a larger --map-size the shard continues where it stopped; fsck
# is clean while the map is full and after the restart.
. "$(dirname "$0")/lib/common.sh"

BATCH=200
MAX_BATCHES=400

tn_setup
tn_make_ecosystem
D=$T/acme

# the smallest of these map sizes that starts
map=""
for m in 1M 2M 4M 8M; do
    rm -rf "$D"
    tn_node_launch acme "$D" acme "$ACME_KEY" "$ACME_NODE_KEY" "127.0.0.1:$ACME_PORT" --map-size "$m"
    if tn_node_wait_ready acme; then
        map=$m
        break
    fi
    tn_say "--map-size $m: tracenode exited $TN_NODE_RC at start ($(tail -n 1 "${TN_NODE_LOG[acme]}"))"
    assert_ne 0 "$TN_NODE_RC" "exit code of a node refusing a tiny map"
done
[ -n "$map" ] || tn_fail "tracenode did not start with any --map-size of 1M..8M"
tn_say "node started with --map-size $map"

: >"$T/acked.txt"
full=""
for b in $(seq 1 "$MAX_BATCHES"); do
    "$PY" "$TN_LIB/story.py" bulk "urn:epc:id:sgtin:0614141.7$b" "$BATCH" >"$T/batch.jsonl"
    tn_run "$TRACECTL" submit --data "$D" "$T/batch.jsonl"
    cat "$TN_OUT" >>"$T/acked.txt"
    if [ "$TN_RC" != 0 ]; then
        full=$b
        break
    fi
    assert_eq "$BATCH" "$(wc -l <"$TN_OUT")" "ids printed for batch $b"
done
[ -n "$full" ] || tn_fail "no submit failed after $MAX_BATCHES batches of $BATCH with --map-size $map"
assert_rc 4 "submit into a full map (batch $full)"
assert_error_line 'map.?size|--map-size' "submit into a full map"
acked=$(wc -l <"$T/acked.txt")
tn_say "batch $full refused: exit 4, $(cat "$TN_ERR")"
tn_say "$acked ids acknowledged before the map was full"

# the node is still running and serving
tn_node_running acme || tn_fail "the node exited when its map was full (log: $(tail -n 3 "${TN_NODE_LOG[acme]}"))"
tn_run "$TRACECTL" status --data "$D" --json
assert_rc 0 "status after the map was full"
st_size=$(jq '.shards[] | select(.org == "acme") | .size' "$TN_OUT")
tn_log_ids "$D" acme "$T/log.txt"
size=$(wc -l <"$T/log.txt")
assert_eq "$size" "$st_size" "status size vs log size after the map was full"
missing=$(comm -23 <(sort -u "$T/acked.txt") <(sort -u "$T/log.txt") | wc -l)
assert_eq 0 "$missing" "acknowledged ids missing from the log after the map was full"
head -n "$acked" "$T/log.txt" | cmp -s - "$T/acked.txt" || tn_fail "the log does not start with the acknowledged ids in order"
tn_check_record "$D" "$(head -n 1 "$T/log.txt")" "$ACME_PK" "$T/rec"
tn_check_record "$D" "$(tail -n 1 "$T/log.txt")" "$ACME_PK" "$T/rec"
tn_run "$TRACECTL" fsck --data "$D"
assert_rc 0 "fsck of the running node with a full map ($(head -c 1000 "$TN_OUT"))"
tn_say "after the full map: status, log ($size records), get, proof, verify.py and fsck all work"

# a second refused submit does not break anything either
tn_run "$TRACECTL" submit --data "$D" "$T/batch.jsonl"
assert_rc 4 "a second submit into the full map"
assert_eq "$size" "$(tn_shard_size "$D" acme)" "shard size after a second refused submit"

tn_node_stop acme
tn_node_start acme "$D" acme "$ACME_KEY" "$ACME_NODE_KEY" "127.0.0.1:$ACME_PORT" --map-size 64M
tn_run "$TRACECTL" status --data "$D" --json
assert_rc 0 "status after restart with --map-size 64M"
assert_eq "$size" "$(jq '.shards[] | select(.org == "acme") | .size' "$TN_OUT")" "shard size after restart with --map-size 64M"
tn_run "$TRACECTL" submit --data "$D" "$T/batch.jsonl"
assert_rc 0 "submit after restart with --map-size 64M"
assert_eq "$BATCH" "$(wc -l <"$TN_OUT")" "ids printed after restart with --map-size 64M"
first=$(head -n 1 "$TN_OUT")
tn_check_record "$D" "$first" "$ACME_PK" "$T/rec"
assert_eq "$size" "$(jq .seq "$T/rec/$first.get.json")" "seq of the first record after restart"
assert_eq "$(tail -n 1 "$T/log.txt")" "$(jq -r .prev "$T/rec/$first.get.json")" "prev of the first record after restart"
assert_eq "$((size + BATCH))" "$(tn_shard_size "$D" acme)" "shard size after the submit with the larger map"
tn_log_ids "$D" acme "$T/log2.txt"
head -n "$size" "$T/log2.txt" | cmp -s - "$T/log.txt" || tn_fail "the log's first $size records changed"
tn_node_stop acme
tn_run "$TRACECTL" fsck --data "$D"
assert_rc 0 "fsck after the restart with the larger map ($(head -c 1000 "$TN_OUT"))"
tn_say "PASS: map $map full after $acked records; restarted with 64M, seq continued at $size"
