#!/usr/bin/env bash
# How long a testnet takes to converge: N nodes in a random connected topology, W writers
# submitting R records in all at the same time; the clock runs from the first submit to
# the moment every node holds every shard with the same size and root. Then what the
# replication cost on the wire: each node's bytes in and out over its peer sessions (from
# `tracectl status --json`, counted from just before the first submit to the status that
# showed convergence), per record and per node, and as copies of the records each node had
# to receive (ideally one: it should not grow with the number of peers). Prints figures;
# never fails on a slow machine (exit 1 only if it does not converge within 10 minutes, or
# TN_CONVERGE_TIMEOUT seconds; it then says which nodes lag and the bytes sent so far).
#   tests/bench/converge.sh [NODES] [WRITERS] [RECORDS]     default 16 4 10000
# TN_TOPOLOGY=mesh|line|ring|random (default random) picks another topology; the ports are
# NODES free ones on 127.0.0.1 from TN_BASE_PORT (picked at random when unset).
set -euo pipefail
NODES=${1:-16} WRITERS=${2:-4} RECORDS=${3:-10000}
TOPOLOGY=${TN_TOPOLOGY:-random}
TIMEOUT=${TN_CONVERGE_TIMEOUT:-600}
# A TN_NET given by the caller is kept afterwards (node logs for a post-mortem); one made
# here is removed.
keep_net=${TN_NET:+1}
export TN_NET=${TN_NET:-$(mktemp -d /tmp/tn-conv-XXXXXX)}
# A base port with base+1..base+NODES free on 127.0.0.1, below the ephemeral range (32768+)
# so that no outgoing connection takes one meanwhile.
free_base() {
    /usr/bin/python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
for _ in range(200):
    base = random.randrange(10000, 30000 - n - 1)
    socks = []
    try:
        for p in range(base + 1, base + n + 1):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", p))
        print(base)
        sys.exit(0)
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
sys.exit("no free ports on 127.0.0.1")
EOF
}
export TN_BASE_PORT=${TN_BASE_PORT:-$(free_base "$NODES")}
here=$(dirname "$0")
. "$here/../../testnet/lib.sh"
trap '"$TN_ROOT/testnet/down" >/dev/null 2>&1 || true; [ -n "$keep_net" ] || rm -rf "$TN_NET"' EXIT

"$TN_ROOT/testnet/up" "$NODES" --topology "$TOPOLOGY" >/dev/null
links=$(cat "$NET"/node*/peers | wc -l) # --peer dials; mesh: every pair, from the ecosystem
[ "$TOPOLOGY" = mesh ] && links=$((NODES * (NODES - 1) / 2))
per=$((RECORDS / WRITERS))
for w in $(seq 1 "$WRITERS"); do
    /usr/bin/python3 -c "
import sys
for i in range($per): print('{\"type\":\"commission\",\"outputs\":[\"urn:conv:$w:%d\"]}' % i)" \
        >"$NET/writer$w.jsonl"
done

# Every node's status as JSON into $NET/<prefix><i>.json.
snapshot() {
    for i in $(seq 1 "$NODES"); do
        ctl status --data "$(node_dir "$i")/data" --json >"$NET/$1$i.json"
    done
}
# Status lists byte counters only for the connections it lists: when one ends, its counts
# go with it. So every snapshot also updates $NET/ended.json: per node, each connection's
# counts as last seen, and the sum of those of connections that have since gone (or whose
# counters started again: a new connection to the same address). What a connection carried
# between the last snapshot and its end is still missed.
track() {
    /usr/bin/python3 - "$NET" "$NODES" "$1" <<'EOF'
import json, os, sys
net, nodes, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
path = f"{net}/ended.json"
acc = json.load(open(path)) if os.path.exists(path) else {}
for i in range(1, nodes + 1):
    a = acc.setdefault(str(i), {"seen": {}, "in": 0, "out": 0, "n": 0})
    with open(f"{net}/{prefix}{i}.json") as f:
        now = {f"{p['direction']} {p['addr']}": [p["bytes_in"], p["bytes_out"]]
               for p in json.load(f)["peers"]}
    for key, (b_in, b_out) in a["seen"].items():
        if key not in now or now[key][0] < b_in or now[key][1] < b_out:
            a["in"] += b_in
            a["out"] += b_out
            a["n"] += 1
    a["seen"] = now
with open(path + ".new", "w") as f:
    json.dump(acc, f)
os.replace(path + ".new", path)
EOF
}
# Log lines since mark_logs saying a connection ended (a session, or a handshake), their
# reasons counted.
mark_logs() { for i in $(seq 1 "$NODES"); do wc -l <"$(node_dir "$i")/log"; done >"$NET/marks"; }
disconnects() {
    local i=0 mark
    while read -r mark; do
        i=$((i + 1))
        tail -n +$((mark + 1)) "$(node_dir "$i")/log"
    done <"$NET/marks" | sed -n 's/.* disconnected: //p' | sed 's/[0-9][0-9.]*/N/g' |
        sort | uniq -c | awk '{ n = $1; $1 = ""; printf "%s%d:%s", sep, n, $0; sep = ";" }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
snapshot before
track before
mark_logs
now() { date +%s.%N; }
t0=$(now)
for w in $(seq 1 "$WRITERS"); do
    ctl submit --data "$(node_dir "$w")/data" "$NET/writer$w.jsonl" >/dev/null &
done
wait
t_written=$(now)
state() {
    snapshot after
    track after
    for i in $(seq 1 "$NODES"); do
        jq -r '[.shards[] | "\(.org)=\(.size):\(.root)"] | sort | join(" ")' "$NET/after$i.json"
    done | sort | uniq -c
}
# The bytes sent from just before the first submit to the last snapshot, per record per
# node, and the copies each node received of the records it had to get. $1: "to
# convergence" or "so far".
report() {
    local sizes=() w id
    # a sample of record sizes: 10 at random from each writer's shard, as node 1 holds them
    for w in $(seq 1 "$WRITERS"); do
        for _ in $(seq 10); do
            id=$(ctl log "$(node_org "$w")" --data "$(node_dir 1)/data" --json \
                --from $((RANDOM % per)) --limit 1 | jq -r '.records[0].id // empty')
            [ -n "$id" ] && sizes+=("$(ctl get "$id" --raw --data "$(node_dir 1)/data" | wc -c)")
        done
    done
    /usr/bin/python3 - "$NET" "$NODES" "$WRITERS" "$RECORDS" "$closed" "$load_before" \
        "$(cut -d' ' -f1-3 /proc/loadavg)" "$1" "${sizes[@]}" <<'EOF'
import json, statistics, sys
net, (nodes, writers, records), closed = sys.argv[1], map(int, sys.argv[2:5]), sys.argv[5]
load_before, load_after, until = sys.argv[6:9]
rec = statistics.mean(int(s) for s in sys.argv[9:])
per = records // writers

with open(f"{net}/ended.json") as f:
    ended_bytes = json.load(f)  # connections that ended: their counts as last seen

def sums(prefix, i):
    with open(f"{net}/{prefix}{i}.json") as f:
        peers = json.load(f)["peers"]
    e = ended_bytes[str(i)] if prefix == "after" else {"in": 0, "out": 0}
    return (sum(p["bytes_in"] for p in peers) + e["in"],
            sum(p["bytes_out"] for p in peers) + e["out"],
            sum(1 for p in peers if p["state"] == "connected"))

b_in = b_out = 0
copies, degree = [], []
for i in range(1, nodes + 1):
    i0, o0, _ = sums("before", i)
    i1, o1, conn = sums("after", i)
    b_in += i1 - i0
    b_out += o1 - o0
    need = records - (per if i <= writers else 0)  # the records it did not write itself
    copies.append((i1 - i0) / (need * rec))
    degree.append(conn)
sent = b_out / (records * nodes)
print(f"  topology: {sum(degree) // 2} peer sessions open at the end, "
      f"{min(degree)} to {max(degree)} a node (mean {statistics.mean(degree):.1f})")
print(f"  records: {rec:.0f} bytes on average (a sample of {len(sys.argv) - 9})")
print(f"  bytes between nodes from the first submit {until} (every peer session's frames, "
      "Noise included, TCP/IP headers not):")
print(f"    sent in all {b_out:,} (received {b_in:,})")
print(f"    sent per record per node: {sent:,.0f} bytes = {sent / rec:.2f}x the mean record "
      f"(ideal: {(nodes - 1) / nodes:.2f}x, each node receiving one copy of what it did not "
      "write)")
print(f"    each node received {statistics.median(copies):.2f}x the bytes of the records it "
      f"had to get (median; {min(copies):.2f}x to {max(copies):.2f}x)")
by_degree = {}
for c, d in zip(copies, degree):
    by_degree.setdefault(d, []).append(c)
print("    by the node's number of peers: " + "; ".join(
    f"{d} peer{'s' if d != 1 else ''}: {statistics.median(v):.2f}x ({len(v)} node{'s' if len(v) != 1 else ''})"
    for d, v in sorted(by_degree.items())))
ended = {why.strip(): int(n) for n, why in (x.split(":", 1) for x in closed.split(";") if x)}
e_in = sum(e["in"] for e in ended_bytes.values())
e_out = sum(e["out"] for e in ended_bytes.values())
print("  connections that ended during the run: " + (", ".join(
    f"{n} ({why})" for why, n in ended.items()) or "none")
      + ("" if not ended else f"; counted above as last seen by the polls ({e_out:,} bytes "
         f"out, {e_in:,} in, from {sum(e['n'] for e in ended_bytes.values())} connections), "
         "what they carried after their last poll is missing (the figures are a lower "
         "bound)"))
print(f"  load average {load_before} before, {load_after} after")
print(json.dumps({"bench": "converge", "nodes": nodes, "writers": writers, "records": records,
                  "converged": until == "to convergence", "bytes_sent": b_out,
                  "bytes_received": b_in, "record_bytes_mean": rec,
                  "sent_per_record_per_node": round(sent, 1),
                  "copies_median": round(statistics.median(copies), 3),
                  "copies_max": round(max(copies), 3), "sessions": sum(degree) // 2,
                  "copies": [round(c, 3) for c in copies], "peers": degree,
                  "connections_ended": ended, "ended_bytes_out_seen": e_out,
                  "ended_bytes_in_seen": e_in}))
EOF
}

while :; do
    s=$(state)
    t1=$(now)
    if [ "$(wc -l <<<"$s")" -eq 1 ] && [ "$(awk '{print NF-1}' <<<"$s")" -eq "$WRITERS" ] &&
        ! grep -qv "=$per:" <(tr ' ' '\n' <<<"${s#*[0-9] }"); then
        closed=$(disconnects)
        printf 'converge: %d nodes (%s topology, %d links), %d writers, %d records\n' \
            "$NODES" "$TOPOLOGY" "$links" "$WRITERS" "$RECORDS"
        printf '  all submits acknowledged after %.2f s\n' "$(awk "BEGIN{print $t_written - $t0}")"
        printf '  every node holds every shard (same sizes and roots) after %.2f s\n' \
            "$(awk "BEGIN{print $t1 - $t0}")"
        report "to convergence"
        exit 0
    fi
    if awk "BEGIN{exit !($t1 - $t0 > $TIMEOUT)}"; then
        break
    fi
    sleep 0.1
done
closed=$(disconnects)
printf 'converge: %d nodes (%s topology, %d links), %d writers, %d records: NOT CONVERGED after %d s\n' \
    "$NODES" "$TOPOLOGY" "$links" "$WRITERS" "$RECORDS" "$TIMEOUT"
printf '  all submits acknowledged after %.2f s\n' "$(awk "BEGIN{print $t_written - $t0}")"
echo "  records held by each node (of $RECORDS), and its peers:"
for i in $(seq 1 "$NODES"); do
    jq -r --arg i "$i" '"    node \($i) \(.org): \([.shards[].size] | add) (\([.shards[] | "\(.org)=\(.size)"] | join(" "))); peers \([.peers[] | select(.state == "connected") | .org] | join(" "))"' \
        "$NET/after$i.json"
done
report "so far"
echo "converge: did not converge within $TIMEOUT s" >&2
exit 1
