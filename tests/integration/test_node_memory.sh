#!/usr/bin/env bash
# A node's resident memory does not keep the data file (docs/STORAGE.md, "Memory").
# LMDB reads the file through a map, and every page the node reads or rewrites stays
# mapped, so after a load the node's VmRSS counted the whole data file until it exited.
# The node now drops those mappings whenever it has mapped 32 MiB more, and once its
# writer has been idle for a whole one-second tick after working (the pages stay in the
# page cache), and then gives freed heap back too. This test loads
# 20,000 records, waits for the node's mapping of data.mdb to fall under 4 MiB (it stayed
# at the file's size before), and checks that the node then reads and appends correctly.
#
# 2. A commit's dirty pages are heap buffers until it ends, and LMDB keeps them for reuse,
# so a commit takes at most 4,096 events however many clients submit at once (four
# clients made commits of up to 26,624 records before, and 74-190 MiB of heap).
. "$(dirname "$0")/lib/common.sh"

N=20000
tn_setup
tn_make_ecosystem
D=$T/acme
tn_acme_start "$D"
pid=${TN_NODE_PID[acme]}

"$PY" -c 'import json, sys
for k in range(int(sys.argv[1])):
    print(json.dumps({"type": "commission", "outputs": ["urn:test:mem.%d" % k]}))' "$N" >"$T/ev.jsonl"
tn_run "$TRACECTL" submit --data "$D" "$T/ev.jsonl"
assert_rc 0 "submit of $N events"

file_kb=$(($(stat -c %s "$D/db/data.mdb") / 1024))
assert_int_ge 12288 "$file_kb" "data.mdb size in KiB after $N records"

# mapped_kb: the node's resident KiB of its data.mdb mapping (/proc/PID/smaps).
mapped_kb() {
    awk '/ \/.*\/data\.mdb$/ { on = 1; next } /^[0-9a-f]+-[0-9a-f]+ / { on = 0 }
         on && /^Rss:/ { kb += $2 } END { print kb + 0 }' "/proc/$pid/smaps"
}
tn_say "right after the submit the node maps $(mapped_kb) KiB of its $file_kb KiB data file"
small() { [ "$(mapped_kb)" -lt 4096 ]; }
tn_wait_for "the node's mapping of data.mdb under 4 MiB" 20 small
tn_say "$TN_WAITED s later it maps $(mapped_kb) KiB; $(grep -E '^(VmRSS|RssAnon|RssFile)' "/proc/$pid/status" | tr -s ' \n' ' ')"

# what the node reads after the release is what it wrote
root0=$("$TRACECTL" status --json --data "$D" | jq -r '.shards[] | select(.org == "acme") | .root')
tn_run "$TRACECTL" log --json --data "$D" acme --limit 0
assert_rc 0 "log after the release"
echo '{"type": "commission", "outputs": ["urn:test:mem.after"]}' >"$T/one.json"
tn_run "$TRACECTL" submit --data "$D" "$T/one.json"
assert_rc 0 "submit after the release"
assert_eq $((N + 1)) "$(tn_shard_size "$D" acme)" "shard size after one more"
id=$(head -n 1 "$TN_OUT")
tn_run "$TRACECTL" get --json --data "$D" "$id"
assert_rc 0 "get of the record appended after the release"
assert_eq "$N" "$(jq -r .seq "$TN_OUT")" "seq of the record appended after the release"
[ "$root0" != "$("$TRACECTL" status --json --data "$D" | jq -r '.shards[] | select(.org == "acme") | .root')" ] ||
    tn_fail "the root did not change with the record appended after the release"
tn_run "$TRACECTL" fsck --data "$D"
assert_rc 0 "fsck after the release and one more append ($(head -c 1000 "$TN_OUT"))"

# --- 2. four clients at once -----------------------------------------------------------------
M=8000
for k in 1 2 3 4; do
    "$PY" -c 'import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"type": "commission", "outputs": ["urn:test:c%s.%d" % (sys.argv[2], i)]}))' \
        "$M" "$k" >"$T/c$k.jsonl"
done
mark=$(tn_log_size "${TN_NODE_LOG[acme]}")
pids=()
for k in 1 2 3 4; do
    "$TRACECTL" submit --data "$D" "$T/c$k.jsonl" >"$T/c$k.out" 2>"$T/c$k.err" &
    pids+=($!)
done
for k in 1 2 3 4; do
    rc=0
    wait "${pids[$((k - 1))]}" || rc=$?
    assert_eq 0 "$rc" "client $k's submit ($(head -c 500 "$T/c$k.err"))"
    assert_eq "$M" "$(grep -c -E '^[0-9a-f]{64}$' "$T/c$k.out")" "ids printed to client $k"
done
assert_eq $((N + 1 + 4 * M)) "$(tn_shard_size "$D" acme)" "shard size after four clients"
sizes=$(tn_log_since "${TN_NODE_LOG[acme]}" "$mark" | grep -o 'committed [0-9]* records' | awk '{ print $2 }')
largest=$(sort -n <<<"$sizes" | tail -n 1)
tn_say "four clients: $(wc -l <<<"$sizes") commits, the largest $largest records"
[ "$largest" -le 4096 ] || tn_fail "a commit of $largest records (at most 4,096)"
tn_say "PASS"
