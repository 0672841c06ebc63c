#!/usr/bin/env bash
# Crash test (issue 6): rounds of kill -9 at a random moment while node 1 takes a bulk
# submit and replicates it to node 2. After each restart: the repository opens, `tracectl
# fsck` is clean (on the restarted node, and on its peer while it runs), and every record
# id that submit printed before the kill is in the shard, in order. Every third round the
# peer is killed too, mid-replication. At the end the peer holds exactly the writer's
# shard (same size and root).
#   TN_CRASH_ROUNDS (default 30; 10 in a sanitizer build, which tests/run runs after the
#   normal one: there the point is ASan watching recovery, not the count), TN_CRASH_EVENTS
#   (events per round, default 2000)
. "$(dirname "$0")/../integration/lib/common.sh"

case $(ldd "$TRACENODE" 2>/dev/null) in
*libasan*) ROUNDS=${TN_CRASH_ROUNDS:-10} ;;
*) ROUNDS=${TN_CRASH_ROUNDS:-30} ;;
esac
EVENTS=${TN_CRASH_EVENTS:-2000}

tn_setup
tn_testnet_up 2 --topology line --orgs writer,peer
W=$(tn_net_data 1)
P=$(tn_net_data 2)
: >"$T/acked-all.txt"
records_checked=0
fsck_runs=0
extra_total=0

# fsck_clean DATA WHAT: tracectl fsck exits 0 and says clean.
fsck_clean() {
    tn_run "$TRACECTL" fsck --data "$1"
    assert_rc 0 "$2: tracectl fsck ($(head -c 1500 "$TN_OUT"))"
    assert_match 'clean$' "$(tail -n 1 "$TN_OUT")" "$2: fsck summary"
    records_checked=$((records_checked + $(sed -E 's/.* ([0-9]+) records.*/\1/' <<<"$(tail -n 1 "$TN_OUT")")))
    fsck_runs=$((fsck_runs + 1))
}

# shard_state DATA ORG: "size root" from tracectl status of a running node.
shard_state() {
    "$TRACECTL" status --data "$1" --json 2>/dev/null |
        jq -r --arg o "$2" '.shards[] | select(.org == $o) | "\(.size) \(.root)"'
}

# Calibration: one bulk submit left to finish tells how long a submit takes here, so
# that the kills below land at uniformly random moments inside one.
"$PY" "$TN_LIB/story.py" bulk "urn:epc:id:sgtin:0614141.80" "$EVENTS" >"$T/ev.jsonl"
t0=$EPOCHREALTIME
"$TRACECTL" submit --data "$W" "$T/ev.jsonl" >"$T/acked-all.txt" || tn_fail "calibration submit"
SUBMIT_SECS=$(awk -v a="${t0/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.3f", b - a }')
tn_say "a submit of $EVENTS events takes ${SUBMIT_SECS}s here: kills come at random within that"
mid_submit=0

for round in $(seq 1 "$ROUNDS"); do
    size0=$(tn_shard_size "$W" writer)
    "$PY" "$TN_LIB/story.py" bulk "urn:epc:id:sgtin:0614141.8$round" "$EVENTS" >"$T/ev.jsonl"
    ids=$T/ids.$round.txt
    err=$T/err.$round.txt
    kill_at=$(tn_deadline "$(awk -v s="$SUBMIT_SECS" -v r="$RANDOM" 'BEGIN { printf "%.3f", s * r / 32767 }')")
    "$TRACECTL" submit --data "$W" "$T/ev.jsonl" >"$ids" 2>"$err" </dev/null &
    cpid=$!
    while ! tn_expired "$kill_at" && ! tn_proc_gone "$cpid"; do
        sleep 0.005
    done
    tn_net_stop 1 KILL
    killed_peer=no
    if [ $((round % 3)) == 0 ]; then
        tn_net_stop 2 KILL
        killed_peer=yes
    fi
    deadline=$(tn_deadline 60)
    while ! tn_proc_gone "$cpid"; do
        tn_expired "$deadline" && { kill -9 "$cpid"; tn_fail "round $round: submit did not end after the kill"; }
        tn_poll_pause
    done
    crc=0
    wait "$cpid" || crc=$?
    [ "$crc" == 0 ] || [ "$crc" == 4 ] || tn_fail "round $round: submit exit code $crc: $(cat "$err")"
    acked=$(wc -l <"$ids")
    [ "$acked" -lt "$EVENTS" ] && mid_submit=$((mid_submit + 1))
    cat "$ids" >>"$T/acked-all.txt"

    # the killed repositories: fsck on the stopped data dirs, then restart
    fsck_clean "$W" "round $round: writer after kill -9 (stopped)"
    [ "$killed_peer" == yes ] && fsck_clean "$P" "round $round: peer after kill -9 (stopped)"
    tn_net_start 1
    [ "$killed_peer" == yes ] && tn_net_start 2

    tn_log_ids "$W" writer "$T/log.txt"
    size=$(wc -l <"$T/log.txt")
    missing=$(comm -23 <(sort -u "$T/acked-all.txt") <(sort -u "$T/log.txt") | wc -l)
    assert_eq 0 "$missing" "round $round: acknowledged ids missing after kill -9"
    if [ "$acked" -gt 0 ]; then
        sed -n "$((size0 + 1)),$((size0 + acked))p" "$T/log.txt" >"$T/run.txt"
        cmp -s "$ids" "$T/run.txt" ||
            tn_fail "round $round: the printed ids are not records $size0..$((size0 + acked - 1)) in order"
    fi
    extra_total=$((extra_total + size - size0 - acked))
    # the peer, running (maybe mid-replication): fsck reads one consistent snapshot
    [ $((round % 5)) == 1 ] && fsck_clean "$P" "round $round: peer while it runs"
    tn_say "round $round: killed at $acked/$EVENTS ids (submit exit $crc)$([ "$killed_peer" == yes ] && echo ", peer killed too"); shard $size; all $(wc -l <"$T/acked-all.txt") printed ids present; fsck clean"
done

# the peer catches up with exactly the writer's shard
want=$(shard_state "$W" writer)
converged() { [ "$(shard_state "$P" writer)" == "$want" ]; }
tn_wait_for "the peer holds the writer's shard ($want)" 120 converged
fsck_clean "$W" "the writer at the end"
fsck_clean "$P" "the peer at the end"
tn_net_stop 1
tn_net_stop 2
tn_say "PASS: $ROUNDS rounds of kill -9 during submit and replication ($mid_submit of them before submit had all its ids back); $(wc -l <"$T/acked-all.txt") acknowledged ids all present; $extra_total committed but unacknowledged; $fsck_runs fsck runs over $records_checked records, all clean; the peer converged to size ${want% *}"
