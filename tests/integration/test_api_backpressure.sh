#!/usr/bin/env bash
# The local API holds only so much for one client (node/api_server.c): a client that sends
# SUBMIT requests and never reads the replies is paused -- the node stops reading its
# socket once 16 of its requests are at the writer or 1 MiB of its replies is not taken
# by the socket -- so the client's writes block instead of the node queueing events and
# replies without limit. Asserted, with a real node and raw clients on the API socket:
#   * the client, sending 1,024-event requests without reading, is stopped within a
#     bound computed from those limits and the kernel's socket buffers (about 60 requests
#     here) -- without the pause it sends every request it tries (at least 200);
#   * while it is paused, other clients are served: tracectl status, and tracectl submit
#     (the writer is not held up by the paused client);
#   * once it reads, the node resumes: every request it sent is answered, in order, with
#     one record id per event, and the shard holds exactly those events;
#   * a paused client that dies is closed by the node (its socket is not kept open).
. "$(dirname "$0")/lib/common.sh"

STALL=5 # seconds without the socket taking a byte: the client is paused

tn_setup
tn_make_ecosystem
D=$T/acme
tn_acme_start "$D"
NODE_PID=${TN_NODE_PID[acme]}
printf '{"type":"commission","outputs":["urn:itest:bp:other"]}\n' >"$T/other.jsonl"

# flood.py SOCK STALL MODE [TRACECTL DATA OTHER]: sends SUBMITs of 1,024 events without
# reading until the socket takes nothing for STALL seconds. MODE "read": then runs the
# other clients, reads every reply and prints a JSON summary; MODE "die": exits at once.
cat >"$T/flood.py" <<'EOF'
import json, msgpack, os, select, socket, struct, subprocess, sys

path, stall, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
PER, OK, SUBMIT = 1024, 1, 2
SNDBUF = 65536
tag = "%s-%d" % (mode, os.getpid())

def frame(req_id):
    events = [json.dumps({"type": "commission",
                          "outputs": ["urn:itest:bp:%s:%06d:%04d" % (tag, req_id, i)],
                          "attrs": {"lot": "L%06d" % req_id, "line": "assembly-3"}})
              for i in range(PER)]
    body = msgpack.packb([SUBMIT, req_id, events], use_bin_type=True)
    return struct.pack(">I", len(body)) + body

req_size = len(frame(0))
reply_size = 8 + PER * 34  # [OK, id, [bin32 x 1024]]
wmem = int(open("/proc/sys/net/core/wmem_default").read())
# What the node can take before it pauses: 16 requests at the writer, replies up to 1 MiB
# queued in the node plus what its socket's send buffer holds, the request it was reading
# and one more, and what this client's own send buffer holds (the kernel doubles SO_SNDBUF).
bound = 16 + (1048576 + wmem) // reply_size + 1 + 2 + (2 * SNDBUF) // req_size + 1
n_req = max(200, 3 * bound)  # a node that never pauses takes them all

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF)
s.connect(path)
s.setblocking(False)

# Phase 1: send without reading until the socket stops taking bytes for `stall` seconds.
sent_bytes = whole = 0
pending = b""  # the rest of a request the socket took only part of
paused = False
while whole < n_req or pending:
    if not pending:
        pending = frame(whole)
    try:
        k = s.send(pending)
        sent_bytes += k
        pending = pending[k:]
        if not pending:
            whole += 1
        continue
    except BlockingIOError:
        pass
    _, w, _ = select.select([], [s], [], stall)
    if not w:
        paused = True
        break
if mode == "die":
    print(json.dumps({"paused": paused, "requests_begun": whole + (1 if pending else 0)}))
    sys.exit(0)

# Phase 2: other clients are served while this one is paused.
tracectl, data, other = sys.argv[4], sys.argv[5], sys.argv[6]
rc_status = subprocess.run([tracectl, "status", "--data", data, "--json"],
                           capture_output=True, timeout=120).returncode
rc_submit = subprocess.run([tracectl, "submit", "--data", data, other],
                           capture_output=True, timeout=120).returncode

# Phase 3: read every reply (finishing the request the socket took part of), in order.
expected = whole + (1 if pending else 0)
buf = b""
replies = []
while len(replies) < expected:
    r, w, _ = select.select([s], [s] if pending else [], [], 120)
    if not r and not w:
        break
    if w:
        k = s.send(pending)
        sent_bytes += k
        pending = pending[k:]
    if r:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 4:
            n = struct.unpack(">I", buf[:4])[0]
            if len(buf) < 4 + n:
                break
            replies.append(msgpack.unpackb(buf[4:4 + n], raw=False))
            buf = buf[4 + n:]

bad = [m for i, m in enumerate(replies)
       if m[0] != OK or m[1] != i or len(m[2]) != PER or any(len(x) != 32 for x in m[2])]
ids = set(x for m in replies if m[0] == OK for x in m[2])
print(json.dumps({"paused": paused, "bound": bound, "tried": n_req, "requests_sent": expected,
                  "bytes_sent": sent_bytes, "replies": len(replies), "bad_replies": len(bad),
                  "first_bad": repr(bad[0])[:300] if bad else None, "distinct_ids": len(ids),
                  "status_rc": rc_status, "submit_rc": rc_submit}))
EOF

"$PY" "$T/flood.py" "$D/api.sock" "$STALL" read "$TRACECTL" "$D" "$T/other.jsonl" \
    >"$T/client.json" 2>"$T/client.err" ||
    tn_fail "the raw API client failed: $(cat "$T/client.err")"
out=$(cat "$T/client.json")
tn_say "client: $out"
sent=$(jq -r .requests_sent <<<"$out")
bound=$(jq -r .bound <<<"$out")
assert_eq true "$(jq -r .paused <<<"$out")" \
    "the client that does not read was paused (it sent $sent of $(jq -r .tried <<<"$out") requests, $(jq -r .bytes_sent <<<"$out") bytes)"
[ "$sent" -le "$bound" ] ||
    tn_fail "the client sent $sent requests before it was paused, over the bound of $bound: the node kept reading"
assert_eq 0 "$(jq -r .status_rc <<<"$out")" "tracectl status while the other client is paused"
assert_eq 0 "$(jq -r .submit_rc <<<"$out")" "tracectl submit while the other client is paused"
assert_eq "$sent" "$(jq -r .replies <<<"$out")" "replies once the client reads (one per request sent)"
assert_eq 0 "$(jq -r .bad_replies <<<"$out")" \
    "replies that are not OK, out of order or not 1,024 ids (first: $(jq -r .first_bad <<<"$out"))"
assert_eq $((sent * 1024)) "$(jq -r .distinct_ids <<<"$out")" "distinct record ids returned"
assert_eq $((sent * 1024 + 1)) "$(tn_shard_size "$D" acme)" "acme's shard size (and the other submit)"

# a paused client that dies: the node closes its connection (once a reply fails to go out)
sockets() { find "/proc/$NODE_PID/fd" -lname 'socket:*' | wc -l; }
before=$(sockets)
"$PY" "$T/flood.py" "$D/api.sock" "$STALL" die >"$T/die.json" 2>"$T/die.err" ||
    tn_fail "the dying client failed: $(cat "$T/die.err")"
assert_eq true "$(jq -r .paused "$T/die.json")" "the second client was paused before it died"
sockets_back() { [ "$(sockets)" -le "$before" ]; }
tn_wait_for "the node closes the connection of a paused client that died (sockets back to $before)" 60 sockets_back
tn_say "closed the dead client's connection after ${TN_WAITED}s"
tn_node_stop acme
tn_say "ok: paused after $sent requests (bound $bound); all answered once read"
