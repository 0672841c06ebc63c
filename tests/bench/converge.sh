#!/usr/bin/env bash
# How long a testnet takes to converge: N nodes in a random connected topology, W writers
# submitting R records in all at the same time; the clock runs from the first submit to
# the moment every node holds every shard with the same size and root. Prints figures;
# never fails on a slow machine (exit 1 only if it does not converge within 10 minutes).
#   tests/bench/converge.sh [NODES] [WRITERS] [RECORDS]     default 16 4 10000
set -euo pipefail
NODES=${1:-16} WRITERS=${2:-4} RECORDS=${3:-10000}
export TN_NET=${TN_NET:-$(mktemp -d /tmp/tn-conv-XXXXXX)}
export TN_BASE_PORT=${TN_BASE_PORT:-7700}
here=$(dirname "$0")
. "$here/../../testnet/lib.sh"
trap '"$TN_ROOT/testnet/down" >/dev/null 2>&1 || true; rm -rf "$TN_NET"' EXIT

"$TN_ROOT/testnet/up" "$NODES" --topology random >/dev/null
links=$(cat "$NET"/node*/peers | wc -l)
per=$((RECORDS / WRITERS))
for w in $(seq 1 "$WRITERS"); do
    /usr/bin/python3 -c "
import sys
for i in range($per): print('{\"type\":\"commission\",\"outputs\":[\"urn:conv:$w:%d\"]}' % i)" \
        >"$NET/writer$w.jsonl"
done

now() { date +%s.%N; }
t0=$(now)
for w in $(seq 1 "$WRITERS"); do
    ctl submit --data "$(node_dir "$w")/data" "$NET/writer$w.jsonl" >/dev/null &
done
wait
t_written=$(now)
state() {
    for i in $(seq 1 "$NODES"); do
        ctl status --data "$(node_dir "$i")/data" --json |
            jq -r '[.shards[] | "\(.org)=\(.size):\(.root)"] | sort | join(" ")'
    done | sort | uniq -c
}
for _ in $(seq 6000); do
    s=$(state)
    if [ "$(wc -l <<<"$s")" -eq 1 ] && [ "$(awk '{print NF-1}' <<<"$s")" -eq "$WRITERS" ] &&
        ! grep -qv "=$per:" <(tr ' ' '\n' <<<"${s#*[0-9] }"); then
        t1=$(now)
        printf 'converge: %d nodes (random topology, %d links), %d writers, %d records\n' \
            "$NODES" "$links" "$WRITERS" "$RECORDS"
        printf '  all submits acknowledged after %.2f s\n' "$(awk "BEGIN{print $t_written - $t0}")"
        printf '  every node holds every shard (same sizes and roots) after %.2f s\n' \
            "$(awk "BEGIN{print $t1 - $t0}")"
        exit 0
    fi
    sleep 0.1
done
echo "converge: did not converge within 10 minutes" >&2
state >&2
exit 1
