#!/usr/bin/env bash
# What the local API holds for one client (node/api_server.c): at most 16 of its requests
# at the writer (the node stops reading the client until one is answered), and at most
# 4 MiB of replies it has not read (then the node closes the connection: pausing there
# would hang a client that sends everything before it reads anything). Asserted, with a
# real node and raw clients on the API socket:
#   * a client that sends 1,024-event requests and never reads is disconnected within a
#     bound computed from those limits and the kernel's socket buffers (about 140
#     requests here), with a log line -- a node without the limits takes every request it
#     is sent (the client tries 3x the bound) and queues all the replies;
#   * the node is healthy afterwards: tracectl status and tracectl submit work, and the
#     shard holds the records of every request the node answered or took;
#   * a client that sends 40 requests before it reads any reply (more than 16 at the
#     writer, within the reply limit) gets all 40 answered, in order, one id per event:
#     the pause does not hang it.
. "$(dirname "$0")/lib/common.sh"

tn_setup
tn_make_ecosystem
D=$T/acme
tn_acme_start "$D"
printf '{"type":"commission","outputs":["urn:itest:bp:other"]}\n' >"$T/other.jsonl"

# flood.py SOCK MODE: MODE "never": sends SUBMITs of 1,024 events without ever reading,
# until the node closes the connection or 3x the bound are sent; "burst": sends 40, then
# reads every reply. Prints a JSON summary.
cat >"$T/flood.py" <<'EOF'
import json, msgpack, os, select, socket, struct, sys

path, mode = sys.argv[1], sys.argv[2]
PER, OK, SUBMIT = 1024, 1, 2
SNDBUF = 65536

def frame(req_id):
    events = [json.dumps({"type": "commission",
                          "outputs": ["urn:itest:bp:%s:%06d:%04d" % (mode, req_id, i)],
                          "attrs": {"lot": "L%06d" % req_id, "line": "assembly-3"}})
              for i in range(PER)]
    body = msgpack.packb([SUBMIT, req_id, events], use_bin_type=True)
    return struct.pack(">I", len(body)) + body

req_size = len(frame(0))
reply_size = 8 + PER * 34  # [OK, id, [bin32 x 1024]]
wmem = int(open("/proc/sys/net/core/wmem_default").read())
# What the node takes before it closes a client that never reads: 16 requests at the
# writer, 4 MiB of replies queued plus what its socket's send buffer holds, the request
# it was reading, and what this client's own send buffer holds (the kernel doubles
# SO_SNDBUF).
bound = 16 + (4 * 1048576 + wmem) // reply_size + 1 + 2 + (2 * SNDBUF) // req_size + 1
n_req = 3 * bound if mode == "never" else 40

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
s.connect(path)
s.settimeout(300)  # a stuck node fails the test instead of hanging it

sent = 0
closed = None
for req in range(n_req):
    try:
        s.sendall(frame(req))
        sent += 1
    except (BrokenPipeError, ConnectionResetError) as e:
        closed = type(e).__name__
        break
    except socket.timeout:  # a node that pauses the client for good instead: not closed
        break
if mode == "never":
    print(json.dumps({"bound": bound, "tried": n_req, "sent": sent, "closed": closed}))
    sys.exit(0)

buf, replies = b"", []
while len(replies) < sent:
    chunk = s.recv(1 << 20)
    if not chunk:
        break
    buf += chunk
    while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
        n = struct.unpack(">I", buf[:4])[0]
        replies.append(msgpack.unpackb(buf[4:4 + n], raw=False))
        buf = buf[4 + n:]
bad = [m for i, m in enumerate(replies)
       if m[0] != OK or m[1] != i or len(m[2]) != PER or any(len(x) != 32 for x in m[2])]
print(json.dumps({"sent": sent, "closed": closed, "replies": len(replies), "bad": len(bad),
                  "first_bad": repr(bad[0])[:300] if bad else None,
                  "distinct_ids": len(set(x for m in replies if m[0] == OK for x in m[2]))}))
EOF

# 1. a client that never reads
log0=$(tn_log_size "${TN_NODE_LOG[acme]}")
"$PY" "$T/flood.py" "$D/api.sock" never >"$T/never.json" 2>"$T/never.err" ||
    tn_fail "the client that never reads failed: $(cat "$T/never.err")"
out=$(cat "$T/never.json")
tn_say "client that never reads: $out"
sent=$(jq -r .sent <<<"$out")
bound=$(jq -r .bound <<<"$out")
[ "$(jq -r .closed <<<"$out")" != null ] ||
    tn_fail "the node took all $sent requests of a client that never reads (bound $bound): it queues without limit"
[ "$sent" -le "$bound" ] ||
    tn_fail "the node took $sent requests of a client that never reads before it closed it: over the bound of $bound"
logged_close() {
    tn_log_since "${TN_NODE_LOG[acme]}" "$log0" | grep -q "closing a client that left 4 MiB of replies unread"
}
tn_wait_for "the node's log line about the client" 30 logged_close

# 2. the node is healthy: other clients are served, the shard is consistent
tn_run "$TRACECTL" status --data "$D" --json
assert_rc 0 "tracectl status after the client was closed"
tn_run "$TRACECTL" submit --data "$D" "$T/other.jsonl"
assert_rc 0 "tracectl submit after the client was closed"
size=$(tn_shard_size "$D" acme)
# the requests handed to the writer are appended; those the node had read but not handled
# when it closed the client, and those still in the kernel's buffers, are dropped (a few:
# at most 4 with this client's small send buffer)
[ "$size" -ge $(((sent - 4) * 1024 + 1)) ] && [ "$size" -le $((sent * 1024 + 1)) ] ||
    tn_fail "acme's shard holds $size records after $sent requests of 1,024 were sent and one submit"
tn_say "closed the client that never reads after $sent requests (bound $bound); shard $size"

# 3. a client that sends 40 requests, then reads
"$PY" "$T/flood.py" "$D/api.sock" burst >"$T/burst.json" 2>"$T/burst.err" ||
    tn_fail "the bursting client failed: $(cat "$T/burst.err")"
out=$(cat "$T/burst.json")
tn_say "client that sends 40 then reads: $out"
assert_eq "40 null 40 0" "$(jq -r '"\(.sent) \(.closed) \(.replies) \(.bad)"' <<<"$out")" \
    "40 requests sent before reading: sent, closed, replies, bad replies (first bad: $(jq -r .first_bad <<<"$out"))"
assert_eq 40960 "$(jq -r .distinct_ids <<<"$out")" "distinct record ids returned to the bursting client"
assert_eq $((size + 40960)) "$(tn_shard_size "$D" acme)" "acme's shard after the burst"
tn_node_stop acme
tn_say "ok"
