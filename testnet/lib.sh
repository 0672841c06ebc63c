# Shared by the testnet scripts (source it). A testnet lives in testnet/run/net/ (or
# $TN_NET): node<i>/ holds each node's keys, data dir, log and pid; ecosystem.json and
# governance.key are shared; "count" and "topology" say how it was made.
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

NET=${TN_NET:-$TN_ROOT/testnet/run/net}
BIN=${TN_BIN:-$TN_ROOT/build/node}
BASE_PORT=${TN_BASE_PORT:-7400}

ctl() { "$BIN/tracectl" "$@"; }
node_dir() { echo "$NET/node$1"; }
node_port() { echo $((BASE_PORT + $1)); }
node_org() { cat "$(node_dir "$1")/org"; }

# Starts node i in the background with the peers recorded for it; waits until it
# answers (at most 30 s).
node_start() {
    local i=$1 d
    d=$(node_dir "$i")
    if [ -f "$d/pid" ] && kill -0 "$(cat "$d/pid")" 2>/dev/null; then
        return 0
    fi
    # shellcheck disable=SC2046
    "$BIN/tracenode" --data "$d/data" --ecosystem "$NET/ecosystem.json" --org "$(node_org "$i")" \
        --org-key "$d/org.key" --node-key "$d/node.key" \
        --listen "127.0.0.1:$(node_port "$i")" $(cat "$d/peers" 2>/dev/null) \
        ${TN_MAP_SIZE:+--map-size "$TN_MAP_SIZE"} >>"$d/log" 2>&1 &
    echo $! >"$d/pid"
    for _ in $(seq 300); do
        ctl status --data "$d/data" >/dev/null 2>&1 && return 0
        kill -0 "$(cat "$d/pid")" 2>/dev/null || { tail -5 "$d/log" >&2; return 1; }
        sleep 0.1
    done
    echo "node $i did not come up; see $d/log" >&2
    return 1
}

# Stops node i (SIGTERM) and waits for it to exit; with "kill" it is SIGKILL.
node_stop() {
    local i=$1 sig=${2:-TERM} d pid
    d=$(node_dir "$i")
    [ -f "$d/pid" ] || return 0
    pid=$(cat "$d/pid")
    if kill -0 "$pid" 2>/dev/null; then
        kill "-$sig" "$pid" 2>/dev/null || true
        for _ in $(seq 300); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    rm -f "$d/pid"
}

net_count() { cat "$NET/count"; }
