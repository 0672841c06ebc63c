#!/usr/bin/env bash
# tracectl submit against replies out of order (node/cmd_submit.c). The node answers
# accepted SUBMIT requests in order, but one it refuses on arrival (say, a mud-anchor that
# another anchor stored meanwhile made stale) is answered at once, ahead of the requests
# sent before it. A real node gives that order only by a race, so a scripted node plays it
# here: a Python server on the API socket of an empty data dir answers INFO with a real
# ecosystem, refuses the 3rd of 8 SUBMIT requests (1,024 events each) at once, and then
# answers the other seven in order with made-up ids. Asserted:
#   * the error names the refused event's line (2,048 + 6 = 2054), not a line of the first
#     request (matching by req_id, not by position);
#   * tracectl waits for every request it sent: the ids of the two requests before the
#     refused one are printed, in order, and the five after it are counted in the message;
#   * the exit code is 2 (the node's refusal: bad input);
#   * with --json, the same, and the ids appended are printed as JSON.
. "$(dirname "$0")/lib/common.sh"

tn_setup
tn_make_ecosystem
D=$T/fake
mkdir -m 0700 "$D"
jq -nc 'range(8192) | {type: "commission", outputs: ["urn:itest:replies:\(.)"]}' >"$T/ev.jsonl"

# the scripted node: serves one connection, then exits 0 (1 on anything unexpected)
cat >"$T/fake.py" <<'EOF'
import hashlib, msgpack, os, socket, struct, sys
path, eco_path = sys.argv[1], sys.argv[2]
OK, ERR, SUBMIT, INFO = 1, 3, 2, 6
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o600)
srv.listen(1)
conn, _ = srv.accept()

def recv_exact(n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data

def send(msg):
    b = msgpack.packb(msg, use_bin_type=True)
    conn.sendall(struct.pack(">I", len(b)) + b)

held = []  # SUBMITs answered later, in order
while True:
    hdr = recv_exact(4)
    if hdr is None:
        break
    body = recv_exact(struct.unpack(">I", hdr)[0])
    if body is None:
        sys.exit("short frame")
    typ, req, body = msgpack.unpackb(body, raw=False)
    if typ == INFO:
        send([OK, req, {"org": "acme", "network": "itest-net",
                        "ecosystem": open(eco_path).read(), "governance": []}])
    elif typ == SUBMIT:
        held.append((req, len(body)))
        if len(held) == 3:
            send([ERR, req, {"code": -2, "msg": "refused on arrival (scripted)", "index": 5}])
        if len(held) == 8:
            for r, n in held[:2] + held[3:]:
                send([OK, r, [hashlib.sha256(b"%d:%d" % (r, i)).digest() for i in range(n)]])
    else:
        sys.exit("unexpected request type %r" % typ)
print("served %d submits" % len(held), flush=True)
EOF
start_fake() {
    rm -f "$D/api.sock"
    "$PY" "$T/fake.py" "$D/api.sock" "$ECO" >"$T/fake.out" 2>"$T/fake.err" &
    FAKE=$!
    for _ in $(seq 1 200); do [ -S "$D/api.sock" ] && break; tn_poll_pause; done
    [ -S "$D/api.sock" ] || tn_fail "the scripted node did not listen: $(cat "$T/fake.err")"
}
# the ids of the two requests before the refused one: requests 2 and 3 of the connection
# (INFO was request 1), in order
"$PY" - "$T/ids.expected" <<'EOF'
import hashlib, sys
with open(sys.argv[1], "w") as f:
    for r in (2, 3):
        for i in range(1024):
            f.write(hashlib.sha256(b"%d:%d" % (r, i)).hexdigest() + "\n")
EOF
REFUSAL='^error: line 2054: refused on arrival \(scripted\); 2048 of 8192 events appended before it \(ids printed\); 5120 events after it were appended too'

start_fake
tn_run "$TRACECTL" submit --data "$D" "$T/ev.jsonl"
wait "$FAKE" || tn_fail "the scripted node failed: $(cat "$T/fake.err")"
assert_eq "served 8 submits" "$(tail -n 1 "$T/fake.out")" "what the scripted node saw"
assert_rc 2 "tracectl submit when the node refuses the 3rd request on arrival"
assert_error_line "$REFUSAL" "the refusal, named by its line, with what was appended"
cmp -s "$T/ids.expected" "$TN_OUT" ||
    tn_fail "ids printed: expected the 2,048 ids of the first two requests, in order; got $(wc -l <"$TN_OUT") lines, first: $(head -n 1 "$TN_OUT")"

# --json: the same, and the ids appended are printed as JSON although it failed
start_fake
tn_run "$TRACECTL" submit --data "$D" --json "$T/ev.jsonl"
wait "$FAKE" || tn_fail "the scripted node failed (--json): $(cat "$T/fake.err")"
assert_eq "served 8 submits" "$(tail -n 1 "$T/fake.out")" "what the scripted node saw (--json)"
assert_rc 2 "tracectl submit --json when the node refuses the 3rd request on arrival"
assert_error_line "$REFUSAL" "the refusal (--json)"
assert_eq 2048 "$(jq -r .count "$TN_OUT")" "submit --json: count of the ids appended before the refusal"
jq -r '.ids[]' "$TN_OUT" | cmp -s "$T/ids.expected" - ||
    tn_fail "submit --json: ids are not the 2,048 of the first two requests, in order"
tn_say "ok: refusal on line 2054 named; 2,048 ids printed (also as JSON); 5,120 after it counted"
