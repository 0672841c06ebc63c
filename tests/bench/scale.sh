#!/usr/bin/env bash
# One node's shard at scale (issue 7, part 3): a node takes RECORDS events through its
# local API; trace and proof times at 10,000 records and at RECORDS (commands, process
# start included, and in-process), node start on the full repository against the empty
# one, the node's memory after the load and after a restart, LMDB bytes per record.
# bench_scale.c does the work and says how; this builds it, notes the machine's load
# before and after (the machine is shared), and passes the arguments on. Prints figures;
# never fails on a slow machine (exit 1 only when something breaks).
#   tests/bench/scale.sh [RECORDS] [RUNS]     default 1000000 11
# RUNS: runs of each command and each start (medians). The first measure is at 10,000
# records (RECORDS/10 when RECORDS is 10,000 or fewer). TN_BUILD=DIR uses binaries built
# there instead of bringing build/ up to date.
set -euo pipefail
RECORDS=${1:-1000000} RUNS=${2:-11}
. "$(dirname "$0")/../../scripts/lib.sh"
if [ -n "${TN_BUILD:-}" ]; then
    BUILD=$TN_BUILD
else
    BUILD=$TN_ROOT/build
    tn_ensure_packages
    tn_build "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
SMALL=10000
[ "$RECORDS" -gt "$SMALL" ] || SMALL=$((RECORDS / 10))
[ "$SMALL" -gt 0 ] || { echo "scale.sh: RECORDS must be at least 10" >&2; exit 2; }

echo "scale.sh: $(nproc) cores; before: load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/tests/bench/bench_scale" --records "$RECORDS" --small "$SMALL" --runs "$RUNS" \
    --tracenode "$BUILD/node/tracenode" --tracectl "$BUILD/node/tracectl"
echo "scale.sh: after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
