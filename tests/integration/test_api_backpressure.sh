#!/usr/bin/env bash
# The local API holds only so much for one client (node/api_server.c): a client that sends
# SUBMIT requests and never reads the replies is paused -- the node stops reading its
# socket once 16 of its requests are at the writer or 1 MiB of its replies is unread --
# so the client's writes block instead of the node queueing events and replies without
# limit. Asserted, with a real node and a raw client on the API socket:
#   * the client, sending 1,024-event requests without reading, is stopped well before
#     it has sent all of them (the bound: kernel buffers, the node's read buffer, 16
#     requests at the writer, 1 MiB of replies) -- without the pause it sends them all;
#   * while it is paused, another client is served (tracectl status, submit);
#   * once it reads, the node resumes: every request it sent is answered, in order, with
#     one record id per event, and the shard holds exactly those events.
. "$(dirname "$0")/lib/common.sh"

REQUESTS=200 # the most the client tries to send: about 52 MB of events
STALL=5      # seconds without the socket taking a byte: the client is paused

tn_setup
tn_make_ecosystem
D=$T/acme
tn_acme_start "$D"

"$PY" - "$D/api.sock" "$REQUESTS" "$STALL" "$TRACECTL" "$D" >"$T/client.json" 2>"$T/client.err" <<'EOF' ||
import json, msgpack, select, socket, struct, subprocess, sys

path, n_req, stall, tracectl, data = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
PER = 1024
OK, SUBMIT = 1, 2

def frame(req_id):
    events = [json.dumps({"type": "commission",
                          "outputs": ["urn:itest:bp:%06d:%04d" % (req_id, i)],
                          "attrs": {"lot": "L%06d" % req_id, "line": "assembly-3"}})
              for i in range(PER)]
    body = msgpack.packb([SUBMIT, req_id, events], use_bin_type=True)
    return struct.pack(">I", len(body)) + body

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.setblocking(False)

# Phase 1: send without reading until the socket stops taking bytes for `stall` seconds.
sent_bytes = 0
whole = 0          # requests sent completely
pending = b""      # the rest of a request the socket took only part of
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

# Phase 2: another client is served while this one is paused.
other = {}
for what, argv in (("status", [tracectl, "status", "--data", data, "--json"]),):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    other[what] = p.returncode

# Phase 3: read every reply (finishing the request the socket took part of), in order.
expected = whole + (1 if pending else 0)
buf = b""
replies = []
while len(replies) < expected:
    want_w = [s] if pending else []
    r, w, _ = select.select([s], want_w, [], 120)
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
print(json.dumps({"paused": paused, "requests_sent": expected, "bytes_sent": sent_bytes,
                  "replies": len(replies), "bad_replies": len(bad),
                  "first_bad": repr(bad[0])[:300] if bad else None,
                  "distinct_ids": len(ids), "other_status_rc": other["status"]}))
EOF
    tn_fail "the raw API client failed: $(cat "$T/client.err")"

out=$(cat "$T/client.json")
tn_say "client: $out"
sent=$(jq -r .requests_sent <<<"$out")
assert_eq true "$(jq -r .paused <<<"$out")" \
    "the client that does not read was paused (it sent $sent of $REQUESTS requests, $(jq -r .bytes_sent <<<"$out") bytes)"
# kernel buffers + the node's read buffer (8 MiB) + 16 at the writer + 1 MiB of replies
# (about 30 of 1,024 ids) come to about 60 requests; 120 leaves room and still fails
# a node that reads everything (it takes all 200)
[ "$sent" -lt 120 ] || tn_fail "the client sent $sent requests before it was paused: the node kept reading"
assert_eq 0 "$(jq -r .other_status_rc <<<"$out")" "tracectl status while the other client is paused"
assert_eq "$sent" "$(jq -r .replies <<<"$out")" "replies once the client reads (one per request sent)"
assert_eq 0 "$(jq -r .bad_replies <<<"$out")" \
    "replies that are not OK, out of order or not 1,024 ids (first: $(jq -r .first_bad <<<"$out"))"
assert_eq $((sent * 1024)) "$(jq -r .distinct_ids <<<"$out")" "distinct record ids returned"
assert_eq $((sent * 1024)) "$(tn_shard_size "$D" acme)" "acme's shard size"
# and the node takes a normal submit afterwards
printf '{"type":"commission","outputs":["urn:itest:bp:after"]}\n' >"$T/after.jsonl"
tn_run "$TRACECTL" submit --data "$D" "$T/after.jsonl"
assert_rc 0 "tracectl submit after the paused client caught up"
assert_eq $((sent * 1024 + 1)) "$(tn_shard_size "$D" acme)" "acme's shard size after one more"
tn_node_stop acme
tn_say "ok: paused after $sent requests; all answered once read"
