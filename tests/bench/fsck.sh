#!/usr/bin/env bash
# How long `tracectl fsck` takes on a shard of N records: one node takes N bulk events,
# then fsck runs R times on the running node and R times on the stopped repository.
# Prints each run and the medians; never fails on a slow machine.
#   tests/bench/fsck.sh [RECORDS] [RUNS]     default 100000 3
set -euo pipefail
RECORDS=${1:-100000} RUNS=${2:-3}
export TN_NET=${TN_NET:-$(mktemp -d /tmp/tn-fsck-XXXXXX)}
export TN_BASE_PORT=${TN_BASE_PORT:-7800}
here=$(dirname "$0")
. "$here/../../testnet/lib.sh"
trap '"$TN_ROOT/testnet/down" >/dev/null 2>&1 || true; rm -rf "$TN_NET"' EXIT

"$TN_ROOT/testnet/up" 1 >/dev/null
data=$(node_dir 1)/data
/usr/bin/python3 "$TN_ROOT/tests/integration/lib/story.py" bulk urn:epc:id:sgtin:0614141.9 \
    "$RECORDS" >"$NET/events.jsonl"
ctl submit --data "$data" "$NET/events.jsonl" >/dev/null

# runs WHAT: RUNS timed fsck runs; prints each and the median wall time
runs() {
    local walls=() i line
    for i in $(seq 1 "$RUNS"); do
        line=$(/usr/bin/time -f "%e s wall, %U s user + %S s sys, max RSS %M KiB" \
            "$BIN/tracectl" fsck --data "$data" 2>&1 >"$NET/fsck.out") ||
            { cat "$NET/fsck.out"; echo "fsck failed"; exit 1; }
        echo "  $1 $i: $(tail -n 1 "$NET/fsck.out"); $line"
        walls+=("${line%% s wall*}")
    done
    printf '%s\n' "${walls[@]}" | sort -g | awk -v w="$1" '{ a[NR] = $1 }
        END { printf "%s: median %.2f s wall\n", w, a[int((NR + 1) / 2)] }'
}
echo "fsck of a shard of $RECORDS records ($(du -sh "$data" | cut -f1) on disk), $(nproc) cores"
runs "node running"
"$TN_ROOT/testnet/down" >/dev/null
runs "node stopped"
