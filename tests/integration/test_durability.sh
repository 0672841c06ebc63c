#!/usr/bin/env bash
# "A record acknowledged to the user (submit printed its id) survives kill -9 of the node
# at any moment" (DESIGN section 7). Rounds of: a 5,000-event submit in the background,
# kill -9 of the node at a random moment after the first id is printed, restart, and
# check that every id ever printed is in the log, in order, and the log is a clean chain.
. "$(dirname "$0")/lib/common.sh"

ROUNDS=${TN_DURABILITY_ROUNDS:-5}
EVENTS=5000

tn_setup
tn_make_ecosystem
D=$T/acme
: >"$T/acked-all.txt"
checked=0
extra_total=0
tn_acme_start "$D"

for round in $(seq 1 "$ROUNDS"); do
    size0=$(tn_shard_size "$D" acme)
    "$PY" "$TN_LIB/story.py" bulk "urn:epc:id:sgtin:0614141.9$round" "$EVENTS" >"$T/ev.$round.jsonl"
    ids=$T/ids.$round.txt
    err=$T/err.$round.txt
    "$TRACECTL" submit --data "$D" "$T/ev.$round.jsonl" >"$ids" 2>"$err" </dev/null &
    cpid=$!

    # wait until the client has printed at least one id
    deadline=$(tn_deadline 60)
    while [ ! -s "$ids" ]; do
        tn_proc_gone "$cpid" && break
        tn_expired "$deadline" && tn_fail "round $round: no id printed within 60 s"
        tn_poll_pause
    done
    [ -s "$ids" ] || { wait "$cpid" || true; tn_fail "round $round: the client ended without printing an id: $(cat "$err")"; }

    # a random moment: when the client has printed a random number of ids, or after a
    # random delay of up to 0.4 s, whichever comes first
    target=$((1 + RANDOM % (EVENTS - 1)))
    delay=$(printf '0.%03d' $((RANDOM % 400)))
    until_t=$(tn_deadline "$delay")
    while ! tn_proc_gone "$cpid" && [ "$(wc -l <"$ids")" -lt "$target" ] && ! tn_expired "$until_t"; do
        sleep 0.01
    done
    tn_node_kill9 acme

    # let the client end by itself
    deadline=$(tn_deadline 60)
    while ! tn_proc_gone "$cpid"; do
        tn_expired "$deadline" && { kill -9 "$cpid"; tn_fail "round $round: the client did not end after the node was killed"; }
        tn_poll_pause
    done
    crc=0
    wait "$cpid" || crc=$?
    acked=$(wc -l <"$ids")
    assert_eq "$acked" "$(grep -c -E '^[0-9a-f]{64}$' "$ids" || true)" "round $round: well-formed id lines printed"
    if [ "$crc" == 0 ]; then
        # the client finished before the kill: then it printed every id
        assert_eq "$EVENTS" "$acked" "round $round: ids printed by a client that exited 0"
    else
        assert_eq 4 "$crc" "round $round: exit code of the client when the node is killed (stderr: $(cat "$err"))"
        TN_ERR=$err assert_error_line 'node|connection' "round $round: client error when the node is killed"
    fi
    cat "$ids" >>"$T/acked-all.txt"

    # the killed node's repository checks out whole, then restart
    tn_run "$TRACECTL" fsck --data "$D"
    assert_rc 0 "round $round: fsck after kill -9 ($(head -c 1000 "$TN_OUT"))"
    tn_acme_start "$D"
    tn_log_ids "$D" acme "$T/log.txt"
    size=$(wc -l <"$T/log.txt")
    missing=$(comm -23 <(sort -u "$T/acked-all.txt") <(sort -u "$T/log.txt") | wc -l)
    assert_eq 0 "$missing" "round $round: acknowledged ids missing from the log after kill -9"
    # this round's ids are a contiguous run of the log, in input order, right after size0
    sed -n "$((size0 + 1)),$((size0 + acked))p" "$T/log.txt" >"$T/run.txt"
    cmp -s "$ids" "$T/run.txt" ||
        tn_fail "round $round: the printed ids are not log records $size0..$((size0 + acked - 1)) in order"
    extra=$((size - size0 - acked))
    [ "$extra" -ge 0 ] || tn_fail "round $round: log size $size < $size0 + $acked acknowledged"
    extra_total=$((extra_total + extra))

    # prev links: around the crash point, the round's start, and a random sample
    seqs="0 $((size0 - 1)) $size0 $((size0 + 1)) $((size0 + acked - 2)) $((size0 + acked - 1)) $((size0 + acked)) $((size - 1))"
    for _ in 1 2 3 4 5 6 7 8; do seqs="$seqs $(((RANDOM * 32768 + RANDOM) % size))"; done
    n_links=0
    for s in $(tr ' ' '\n' <<<"$seqs" | awk -v n="$size" '$1 >= 0 && $1 < n' | sort -n -u); do
        id=$(sed -n "$((s + 1))p" "$T/log.txt")
        g=$("$TRACECTL" get --data "$D" --json "$id") || tn_fail "round $round: get $id failed"
        assert_eq "$s" "$(jq .seq <<<"$g")" "round $round: seq of record $id"
        if [ "$s" == 0 ]; then
            assert_eq null "$(jq -r .prev <<<"$g")" "round $round: prev of seq 0"
        else
            assert_eq "$(sed -n "${s}p" "$T/log.txt")" "$(jq -r .prev <<<"$g")" "round $round: prev of seq $s"
        fi
        n_links=$((n_links + 1))
    done
    # the signed checkpoint covers the whole shard, and the last record verifies independently
    tn_check_record "$D" "$(tail -n 1 "$T/log.txt")" "$ACME_PK" "$T/rec"
    assert_eq "$size" "$(jq .size "$T/rec/$(tail -n 1 "$T/log.txt").proof.json")" "round $round: checkpoint size after restart"
    checked=$(wc -l <"$T/acked-all.txt")
    tn_say "round $round: killed at $acked/$EVENTS ids printed (client exit $crc, target $target, delay ${delay}s); log size $size, $extra committed but unacknowledged; all $checked printed ids present; $n_links prev links ok"
done

tn_node_stop acme
tn_say "PASS: $ROUNDS rounds, $checked acknowledged ids checked present after kill -9, $extra_total unacknowledged extra records"
