# Helpers for the integration tests (source this file from a test_*.sh script).
#
# Environment (set by CTest, see tests/CMakeLists.txt):
#   TN_BIN  directory holding the tracenode and tracectl binaries under test
#   TN_SRC  the source root
# Optional:
#   TN_KEEP=1          keep the temp dir (its path is printed) instead of removing it
#   TN_READY_TIMEOUT   seconds to wait for a node to answer `tracectl status` (default 20)
#
# The tests run the real binaries as a user would. Every node started here is killed on
# exit by the EXIT trap, and the temp dir is removed. Synchronisation is by polling a
# condition against a deadline, never by a fixed sleep.

set -euo pipefail

TN_SRC=${TN_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
TN_BIN=${TN_BIN:-$TN_SRC/build/node}
TRACECTL=$TN_BIN/tracectl
TRACENODE=$TN_BIN/tracenode
TN_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERIFY=$TN_LIB/verify.py
# Debian's python3 has python3-cbor2 and python3-nacl; a pyenv python on PATH may not.
PY=/usr/bin/python3
TN_READY_TIMEOUT=${TN_READY_TIMEOUT:-20}
TN_TEST_NAME=$(basename "$0" .sh)

declare -gA TN_NODE_PID=() TN_NODE_LOG=() TN_NODE_DATA=()
T=""

# --- messages and assertions -----------------------------------------------------------

tn_say() { printf '[%s] %s\n' "$TN_TEST_NAME" "$*"; }

# tn_fail MESSAGE...: prints the failure and the call stack, and exits 1.
tn_fail() {
    local i=0 frame
    printf '[%s] FAIL: %s\n' "$TN_TEST_NAME" "$*" >&2
    while frame=$(caller "$i"); do
        printf '    at line %s\n' "$frame" >&2
        i=$((i + 1))
    done
    exit 1
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
    [ "$1" == "$2" ] ||
        tn_fail "$3: expected [$1], actual [$2]"
}

assert_ne() {
    [ "$1" != "$2" ] ||
        tn_fail "$3: expected something other than [$1], actual [$2]"
}

# assert_match REGEX ACTUAL WHAT (extended regex, bash =~)
assert_match() {
    [[ "$2" =~ $1 ]] ||
        tn_fail "$3: expected a match of /$1/, actual [$2]"
}

# assert_contains HAYSTACK NEEDLE WHAT (fixed string)
assert_contains() {
    [[ "$1" == *"$2"* ]] ||
        tn_fail "$3: expected to contain [$2], actual [$1]"
}

# assert_not_in_file FILE STRING WHAT: the fixed string does not occur in the file (binary ok)
assert_not_in_file() {
    if grep -a -F -q -e "$2" "$1"; then
        tn_fail "$3: expected [$2] NOT to occur in $1, but it does: $(grep -a -F -o -m1 -e "$2" "$1" | head -c 200)"
    fi
}

# assert_int_ge MIN ACTUAL WHAT
assert_int_ge() {
    [ "$2" -ge "$1" ] ||
        tn_fail "$3: expected >= $1, actual $2"
}

# assert_mode OCTAL PATH: permission bits of PATH
assert_mode() {
    local m
    m=$(stat -c %a "$2")
    [ "$m" == "$1" ] || tn_fail "mode of $2: expected $1, actual $m"
}

# tn_run CMD...: runs CMD with stdout to $TN_OUT and stderr to $TN_ERR (files); sets TN_RC.
tn_run() {
    TN_RC=0
    "$@" >"$TN_OUT" 2>"$TN_ERR" || TN_RC=$?
}

# assert_rc EXPECTED WHAT: checks TN_RC from the last tn_run, showing its stderr on failure.
assert_rc() {
    [ "$TN_RC" == "$1" ] ||
        tn_fail "$2: exit code expected $1, actual $TN_RC; stderr: [$(head -c 2000 "$TN_ERR")]; stdout: [$(head -c 500 "$TN_OUT")]"
}

# assert_error_line REGEX WHAT: the last tn_run's stderr is exactly one line, starting with
# "error:" and matching REGEX (case-insensitive).
assert_error_line() {
    local n line
    n=$(wc -l <"$TN_ERR")
    line=$(head -n 1 "$TN_ERR")
    [ "$n" == 1 ] ||
        tn_fail "$2: stderr must be exactly one line; expected 1 line, actual $n lines: [$(head -c 2000 "$TN_ERR")]"
    [[ "$line" == error:* ]] ||
        tn_fail "$2: stderr line must start with 'error:'; actual [$line]"
    shopt -s nocasematch
    if ! [[ "$line" =~ $1 ]]; then
        shopt -u nocasematch
        tn_fail "$2: error line expected to match /$1/ (naming the problem), actual [$line]"
    fi
    shopt -u nocasematch
}

# assert_one_error_prefix WHAT: exactly one stderr line starts with "error:", and it is
# the first line (a usage text may follow it).
assert_one_error_prefix() {
    local n first
    n=$(grep -c '^error:' "$TN_ERR" || true)
    first=$(head -n 1 "$TN_ERR")
    [ "$n" == 1 ] || tn_fail "$1: expected exactly 1 stderr line starting with 'error:', actual $n: [$(head -c 1000 "$TN_ERR")]"
    [[ "$first" == error:* ]] || tn_fail "$1: the first stderr line must start with 'error:', actual [$first]"
}

# --- temp dir, cleanup -------------------------------------------------------------------

tn_cleanup() {
    local rc=$? name pid
    set +e
    for name in "${!TN_NODE_PID[@]}"; do
        pid=${TN_NODE_PID[$name]}
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -9 "$pid" 2>/dev/null
            { wait "$pid"; } 2>/dev/null
        fi
    done
    if [ "$rc" != 0 ] && [ -n "$T" ]; then
        for name in "${!TN_NODE_LOG[@]}"; do
            if [ -s "${TN_NODE_LOG[$name]}" ]; then
                echo "----- last lines of node log $name (${TN_NODE_LOG[$name]}) -----" >&2
                tail -n 30 "${TN_NODE_LOG[$name]}" >&2
            fi
        done
    fi
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ "${TN_KEEP:-0}" == 1 ]; then
            echo "[$TN_TEST_NAME] kept $T" >&2
        else
            rm -rf "$T"
        fi
    fi
    exit "$rc"
}

# tn_setup: checks the binaries and tools, makes the temp dir $T and installs the trap.
tn_setup() {
    [ -x "$TRACECTL" ] || tn_fail "no tracectl at $TRACECTL (set TN_BIN)"
    [ -x "$TRACENODE" ] || tn_fail "no tracenode at $TRACENODE (set TN_BIN)"
    [ -x "$PY" ] || tn_fail "$PY is missing"
    "$PY" -c 'import cbor2, nacl.signing' 2>/dev/null ||
        tn_fail "$PY lacks cbor2/nacl: apt-get install python3-cbor2 python3-nacl"
    command -v jq >/dev/null || tn_fail "jq is missing: apt-get install jq"
    # Short path: the API socket path DIR/api.sock must stay under 108 bytes.
    T=$(mktemp -d /tmp/tnit.XXXXXX)
    trap tn_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    TN_OUT=$T/.out
    TN_ERR=$T/.err
    tn_say "temp dir $T, binaries $TN_BIN"
}

# --- small tools -------------------------------------------------------------------------

# tn_deadline SECONDS: prints now + SECONDS.
tn_deadline() { awk -v n="${EPOCHREALTIME/,/.}" -v s="$1" 'BEGIN { printf "%.3f\n", n + s }'; }

# tn_expired DEADLINE: true once the clock has reached DEADLINE.
tn_expired() { awk -v n="${EPOCHREALTIME/,/.}" -v d="$1" 'BEGIN { exit !(n >= d) }'; }

# tn_poll_pause: the pause between two polls of a condition.
tn_poll_pause() { sleep 0.05; }

# tn_free_port: a TCP port on 127.0.0.1 that was free a moment ago.
tn_free_port() {
    "$PY" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# tn_sha256 FILE: lowercase hex SHA-256 of the file.
tn_sha256() { sha256sum "$1" | cut -c1-64; }

# tn_keygen FILE: creates a key file; prints its public key.
tn_keygen() {
    local pk
    pk=$("$TRACECTL" keygen --out "$1") || tn_fail "tracectl keygen --out $1 failed"
    assert_match '^ed25519:[A-Za-z0-9+/]{43}=$' "$pk" "public key printed by keygen --out $1"
    printf '%s\n' "$pk"
}

# tn_pubkey KEYFILE: the public key recorded in a key file.
tn_pubkey() { sed -n 's/^\(ed25519:[A-Za-z0-9+\/=]*\)$/\1/p' "$1" | head -n 1; }

# --- the ecosystem -----------------------------------------------------------------------

# tn_make_ecosystem: keys and a signed ecosystem in $T/keys and $T/eco.json:
#   acme   manufacturer,supplier  org key, node key (listed, with an address)
#   shipco carrier                org key, node key
#   opco   operator               org key, node key
# Sets NETWORK, ECO, GOV_KEY, ACME_KEY, ACME_NODE_KEY, ACME_PK, ACME_PORT, SHIPCO_KEY,
# SHIPCO_NODE_KEY, SHIPCO_PK, OPCO_KEY, OPCO_NODE_KEY, OPCO_PK.
tn_make_ecosystem() {
    local k=$T/keys out
    mkdir -p "$k"
    NETWORK=itest-net
    ECO=$T/eco.json
    GOV_KEY=$k/gov.key
    ACME_KEY=$k/acme.key
    ACME_NODE_KEY=$k/acme-node.key
    SHIPCO_KEY=$k/shipco.key
    SHIPCO_NODE_KEY=$k/shipco-node.key
    OPCO_KEY=$k/opco.key
    OPCO_NODE_KEY=$k/opco-node.key
    tn_keygen "$GOV_KEY" >/dev/null
    ACME_PK=$(tn_keygen "$ACME_KEY")
    ACME_NODE_PK=$(tn_keygen "$ACME_NODE_KEY")
    SHIPCO_PK=$(tn_keygen "$SHIPCO_KEY")
    SHIPCO_NODE_PK=$(tn_keygen "$SHIPCO_NODE_KEY")
    OPCO_PK=$(tn_keygen "$OPCO_KEY")
    OPCO_NODE_PK=$(tn_keygen "$OPCO_NODE_KEY")
    ACME_PORT=$(tn_free_port)
    out=$("$TRACECTL" ecosystem init --network "$NETWORK" --governance-key "$GOV_KEY" \
        --out "$ECO" 2>&1) || tn_fail "ecosystem init: $out"
    out=$("$TRACECTL" ecosystem add-org --file "$ECO" --id acme --name "Acme Components" \
        --key "$ACME_PK" --role manufacturer,supplier --node-key "$ACME_NODE_PK" \
        --addr "127.0.0.1:$ACME_PORT" 2>&1) || tn_fail "ecosystem add-org acme: $out"
    out=$("$TRACECTL" ecosystem add-org --file "$ECO" --id shipco --name "Ship Co Logistics" \
        --key "$SHIPCO_KEY" --role carrier --node-key "$SHIPCO_NODE_PK" 2>&1) ||
        tn_fail "ecosystem add-org shipco: $out"
    out=$("$TRACECTL" ecosystem add-org --file "$ECO" --id opco --name "Op Co Plant" \
        --key "$OPCO_PK" --role operator --node-key "$OPCO_NODE_PK" 2>&1) ||
        tn_fail "ecosystem add-org opco: $out"
    out=$("$TRACECTL" ecosystem sign --file "$ECO" --governance-key "$GOV_KEY" 2>&1) ||
        tn_fail "ecosystem sign: $out"
    assert_eq "$NETWORK" "$(jq -r .network "$ECO")" "network in $ECO"
    assert_eq "acme shipco opco" "$(jq -r '[.orgs[].id] | join(" ")' "$ECO")" "orgs in $ECO"
}

# --- nodes -------------------------------------------------------------------------------

# tn_node_launch NAME DATA ORG ORG_KEY NODE_KEY LISTEN [extra tracenode args...]
# Starts tracenode in the background (stderr appended to $T/NAME.log). Does not wait.
tn_node_launch() {
    local name=$1 data=$2 org=$3 okey=$4 nkey=$5 listen=$6
    shift 6
    TN_NODE_LOG[$name]=$T/$name.log
    TN_NODE_DATA[$name]=$data
    echo "=== $(date -u +%FT%TZ) start: tracenode --data $data --org $org --listen $listen $*" \
        >>"${TN_NODE_LOG[$name]}"
    "$TRACENODE" --data "$data" --ecosystem "$ECO" --org "$org" --org-key "$okey" \
        --node-key "$nkey" --listen "$listen" "$@" </dev/null >>"${TN_NODE_LOG[$name]}" 2>&1 &
    TN_NODE_PID[$name]=$!
}

# tn_proc_gone PID: true once PID has exited (gone or a zombie not yet reaped).
tn_proc_gone() {
    local state
    [ -e "/proc/$1/stat" ] || return 0
    state=$(awk '{ sub(/^.*\) /, ""); print substr($0, 1, 1) }' "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$state" ] || [ "$state" == Z ] || [ "$state" == X ]
}

# tn_node_wait_ready NAME: polls `tracectl status` until it succeeds. Returns 0 when
# ready; returns 1 (with TN_NODE_RC set) if the node exited first; fails on the deadline.
tn_node_wait_ready() {
    local name=$1 pid=${TN_NODE_PID[$1]} data=${TN_NODE_DATA[$1]} deadline
    deadline=$(tn_deadline "$TN_READY_TIMEOUT")
    while :; do
        if "$TRACECTL" status --data "$data" >/dev/null 2>&1; then
            return 0
        fi
        if tn_proc_gone "$pid"; then
            TN_NODE_RC=0
            wait "$pid" || TN_NODE_RC=$?
            TN_NODE_PID[$name]=""
            return 1
        fi
        if tn_expired "$deadline"; then
            tn_fail "node $name not ready (tracectl status) within ${TN_READY_TIMEOUT}s; log: $(tail -n 5 "${TN_NODE_LOG[$name]}")"
        fi
        tn_poll_pause
    done
}

# tn_node_start NAME DATA ORG ORG_KEY NODE_KEY LISTEN [extra...]: starts and waits ready.
tn_node_start() {
    local name=$1
    tn_node_launch "$@"
    if ! tn_node_wait_ready "$name"; then
        tn_fail "node $name exited with code $TN_NODE_RC before it was ready; log: $(tail -n 5 "${TN_NODE_LOG[$name]}")"
    fi
}

# tn_node_wait_exit NAME SECONDS: waits for the node to exit; sets TN_NODE_RC.
tn_node_wait_exit() {
    local name=$1 pid=${TN_NODE_PID[$1]} deadline
    deadline=$(tn_deadline "$2")
    while ! tn_proc_gone "$pid"; do
        if tn_expired "$deadline"; then
            kill -9 "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            TN_NODE_PID[$name]=""
            tn_fail "node $name (pid $pid) did not exit within $2 s; killed it"
        fi
        tn_poll_pause
    done
    TN_NODE_RC=0
    # (stderr of wait: bash's "Killed" job notice after kill -9 is expected, not news)
    { wait "$pid"; } 2>/dev/null || TN_NODE_RC=$?
    TN_NODE_PID[$name]=""
}

# tn_node_stop NAME: SIGTERM, wait for the exit, require exit code 0.
tn_node_stop() {
    local name=$1 pid=${TN_NODE_PID[$1]}
    [ -n "$pid" ] || tn_fail "node $name is not running"
    kill -TERM "$pid" || tn_fail "cannot signal node $name (pid $pid)"
    tn_node_wait_exit "$name" 30
    assert_eq 0 "$TN_NODE_RC" "exit code of node $name after SIGTERM (log: $(tail -n 3 "${TN_NODE_LOG[$name]}"))"
}

# tn_node_kill9 NAME: SIGKILL and reap.
tn_node_kill9() {
    local name=$1 pid=${TN_NODE_PID[$1]}
    [ -n "$pid" ] || tn_fail "node $name is not running"
    kill -9 "$pid" 2>/dev/null || true
    tn_node_wait_exit "$name" 30
    assert_eq 137 "$TN_NODE_RC" "exit status of node $name after kill -9"
}

# tn_node_running NAME: true if the node's process is alive.
tn_node_running() {
    local pid=${TN_NODE_PID[$1]:-}
    [ -n "$pid" ] && ! tn_proc_gone "$pid"
}

# tn_acme_start DATA [extra...]: starts acme's node (name "acme") on ACME_PORT.
tn_acme_start() {
    local data=$1
    shift
    tn_node_start acme "$data" acme "$ACME_KEY" "$ACME_NODE_KEY" "127.0.0.1:$ACME_PORT" "$@"
}

# --- reading a node ----------------------------------------------------------------------

# tn_shard_size DATA ORG: the shard's size per `tracectl log --json` (0 if empty).
tn_shard_size() {
    local out
    out=$("$TRACECTL" log --data "$1" --json "$2" --limit 0) ||
        tn_fail "tracectl log --data $1 $2 failed"
    jq -r '.size' <<<"$out"
}

# tn_log_ids DATA ORG FILE: writes the shard's record ids, one a line, in seq order, and
# checks that seq is dense from 0 and that size equals the number of records.
tn_log_ids() {
    local json=$T/.log.json
    "$TRACECTL" log --data "$1" --json "$2" >"$json" || tn_fail "tracectl log --data $1 $2 --json failed"
    jq -e '.size == (.records | length) and
           ([.records[].seq] == [range(0; .records | length)])' "$json" >/dev/null ||
        tn_fail "log $2: size $(jq .size "$json") vs $(jq '.records | length' "$json") records, or seq not dense 0..n-1"
    jq -r '.records[].id' "$json" >"$3"
}

# tn_check_record DATA ID ORG_PK [DIR]: get --raw hashes to ID and verify.py accepts the
# record, its proof and checkpoint. Leaves $DIR/ID.bin, ID.proof.json, ID.payload.json,
# ID.get.json.
tn_check_record() {
    local data=$1 id=$2 pk=$3 dir=${4:-$T/rec} h
    mkdir -p "$dir"
    "$TRACECTL" get --data "$data" --raw "$id" >"$dir/$id.bin" || tn_fail "tracectl get --raw $id failed"
    h=$(tn_sha256 "$dir/$id.bin")
    assert_eq "$id" "$h" "SHA-256 of the bytes of tracectl get --raw $id"
    "$TRACECTL" proof --data "$data" --json "$id" >"$dir/$id.proof.json" ||
        tn_fail "tracectl proof --json $id failed"
    "$TRACECTL" get --data "$data" --json "$id" >"$dir/$id.get.json" ||
        tn_fail "tracectl get --json $id failed"
    if ! "$PY" "$VERIFY" "$dir/$id.bin" "$pk" "$dir/$id.proof.json" --id "$id" \
        >"$dir/$id.payload.json" 2>"$dir/$id.verify.err"; then
        tn_fail "independent verifier rejected record $id: $(cat "$dir/$id.verify.err")"
    fi
}

# --- testnets and the independent peer (network tests) -----------------------------------
#
# A testnet is made by the project's own launcher (testnet/up) in $T/net on a free block
# of loopback ports. Its nodes are registered as n1..nN in TN_NODE_PID/LOG/DATA, so the
# EXIT trap kills them and shows their logs on failure like any node started here.

PEER=$TN_LIB/peer.py

# tn_free_port_base COUNT: a port P such that P+1..P+COUNT were all free on 127.0.0.1.
tn_free_port_base() {
    "$PY" - "$1" <<'PYEOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(20000, 60000 - n)
    socks = []
    try:
        for p in range(base + 1, base + n + 1):
            s = socket.socket()
            s.bind(("127.0.0.1", p))
            socks.append(s)
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(base)
    sys.exit(0)
sys.exit("no free block of %d ports" % n)
PYEOF
}

# tn_net_register I: records node I's pid, log and data dir under the name nI.
tn_net_register() {
    local d=$TN_NET/node$1
    TN_NODE_PID[n$1]=$(cat "$d/pid")
    TN_NODE_LOG[n$1]=$d/log
    TN_NODE_DATA[n$1]=$d/data
}

# tn_testnet_up N [testnet/up options...]: a fresh testnet of N nodes in $T/net; sets
# TN_NET, TN_BASE_PORT (exported for testnet/*) and NET_ECO.
tn_testnet_up() {
    local n=$1 i
    shift
    export TN_NET=$T/net TN_BIN
    TN_BASE_PORT=$(tn_free_port_base "$n") || tn_fail "no free ports for $n nodes"
    export TN_BASE_PORT
    NET_ECO=$TN_NET/ecosystem.json
    if ! "$TN_SRC/testnet/up" "$n" "$@" >"$T/testnet-up.out" 2>&1; then
        for i in $(seq 1 "$n"); do [ -f "$TN_NET/node$i/pid" ] && tn_net_register "$i"; done
        tn_fail "testnet/up $n $*: $(tail -n 20 "$T/testnet-up.out")"
    fi
    for i in $(seq 1 "$n"); do tn_net_register "$i"; done
    tn_say "testnet of $n nodes ($*) on 127.0.0.1 ports $((TN_BASE_PORT + 1))..$((TN_BASE_PORT + n))"
}

tn_net_data() { echo "$TN_NET/node$1/data"; }
tn_net_addr() { echo "127.0.0.1:$((TN_BASE_PORT + $1))"; }
tn_net_org() { cat "$TN_NET/node$1/org"; }

# tn_net_start I: starts node I again (testnet/start: same keys, data and peers).
tn_net_start() {
    "$TN_SRC/testnet/start" "$1" >"$T/testnet-start.out" 2>&1 ||
        tn_fail "testnet/start $1: $(tail -n 20 "$T/testnet-start.out")"
    tn_net_register "$1"
}

# tn_net_stop I [KILL]: stops node I with SIGTERM (or SIGKILL) and waits until it is gone.
tn_net_stop() {
    local i=$1 sig=${2:-TERM} pid deadline
    pid=${TN_NODE_PID[n$i]:-}
    [ -n "$pid" ] || tn_fail "node n$i is not running"
    kill "-$sig" "$pid" 2>/dev/null || true
    deadline=$(tn_deadline 30)
    while ! tn_proc_gone "$pid"; do
        tn_expired "$deadline" && tn_fail "node n$i (pid $pid) still running 30 s after SIG$sig"
        tn_poll_pause
    done
    TN_NODE_PID[n$i]=""
    rm -f "$TN_NET/node$i/pid"
}

# tn_net_shards I: node I's shards as "org:size:root:frozen" words, sorted by org.
tn_net_shards() {
    "$TRACECTL" status --json --data "$(tn_net_data "$1")" 2>/dev/null |
        jq -r '[.shards[] | "\(.org):\(.size):\(.root):\(.frozen)"] | sort | join(" ")'
}

# tn_net_submit I COUNT TAG: COUNT commission events on node I (items TAG.1..TAG.COUNT);
# checks that COUNT ids were printed.
tn_net_submit() {
    local i=$1 count=$2 tag=$3 ev=$T/ev.$3.jsonl
    "$PY" -c 'import json, sys
for k in range(1, int(sys.argv[1]) + 1):
    print(json.dumps({"type": "commission", "outputs": ["urn:test:%s.%d" % (sys.argv[2], k)]}))' \
        "$count" "$tag" >"$ev"
    tn_run "$TRACECTL" submit --data "$(tn_net_data "$i")" "$ev"
    assert_rc 0 "submit of $count events ($tag) on node $i"
    assert_eq "$count" "$(grep -c -E '^[0-9a-f]{64}$' "$TN_OUT")" "ids printed by submit on node $i"
}

# tn_peer OUTFILE ARGS...: runs peer.py ARGS, its JSON result to OUTFILE; requires exit 0.
tn_peer() {
    local out=$1 rc=0
    shift
    "$PY" "$PEER" "$@" >"$out" 2>"$out.err" || rc=$?
    [ "$rc" == 0 ] ||
        tn_fail "peer.py $1 exited $rc: $(cat "$out") $(head -c 2000 "$out.err")"
}

# tn_log_size FILE: the file's size in bytes now (a mark for tn_log_since).
tn_log_size() { stat -c %s "$1"; }

# tn_log_since FILE MARK: what was appended to FILE after MARK bytes.
tn_log_since() { tail -c +"$(($2 + 1))" "$1"; }

# tn_wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds; fails after SECONDS.
# Sets TN_WAITED to the seconds it took.
tn_wait_for() {
    local what=$1 secs=$2 t0=$EPOCHREALTIME deadline
    shift 2
    deadline=$(tn_deadline "$secs")
    until "$@"; do
        tn_expired "$deadline" && tn_fail "$what: not within $secs s"
        tn_poll_pause
    done
    TN_WAITED=$(awk -v a="${t0/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%.2f", b - a }')
}
