#!/usr/bin/env bash
# tracectl submit against replies out of order (node/cmd_submit.c). The node answers
# accepted SUBMIT requests in order, but an ERR may come ahead of replies to earlier
# requests (one refused on arrival -- say a mud-anchor another anchor made stale meanwhile
# -- is answered at once). A real node gives such orders only by a race, so a scripted
# node plays them: a Python server on the API socket of an empty data dir answers INFO
# with a real ecosystem and then the SUBMITs of 10,240 events (10 requests of 1,024;
# tracectl keeps 8 in flight) as each scenario says. Asserted:
#   refused   the 3rd request is refused at once (event 6 of it); the rest answered OK
#             after all 8 arrived. The error names line 2054 (matched by req_id, not by
#             position), tracectl sends nothing more (the node reads exactly 8), waits for
#             the other 7, prints the ids of the 2 before it in order, and counts the 5
#             after it; exit 4 (exit 2 promises nothing was appended).
#   commit    as a failed commit looks: the 2nd request fails naming none of its events,
#             the 3rd names its event 8, the 4th names none (planned after the failure);
#             the error reported is the named one (line 2056), the ids printed are those
#             of the 1st request, the 5 after the failures are counted (tracectl sent a
#             9th request on the 1st OK, before it read the failures).
#   cut       the node answers 2 requests, reads the 2 more they let tracectl send, and
#             closes the connection: exit 4, the 2,048 ids printed, the message says so.
# Each also with --json: the ids appended are printed as JSON although it failed.
. "$(dirname "$0")/lib/common.sh"

tn_setup
tn_make_ecosystem
D=$T/fake
mkdir -m 0700 "$D"
jq -nc 'range(10240) | {type: "commission", outputs: ["urn:itest:replies:\(.)"]}' >"$T/ev.jsonl"

# fake.py SOCK ECO SCENARIO: serves one connection, prints how many SUBMITs it read,
# exits 0 (1 on anything unexpected, or after 30 s without a byte from tracectl)
cat >"$T/fake.py" <<'EOF'
import hashlib, msgpack, os, socket, struct, sys
path, eco_path, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
OK, ERR, SUBMIT, INFO = 1, 3, 2, 6
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
os.chmod(path, 0o600)
srv.listen(1)
srv.settimeout(30)
conn, _ = srv.accept()
conn.settimeout(30)

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

def ok(r, n):
    send([OK, r, [hashlib.sha256(b"%d:%d" % (r, i)).digest() for i in range(n)]])

def err(r, index, msg):
    send([ERR, r, {"code": -2, "msg": msg, "index": index}])

held = []  # SUBMITs read: (req_id, events)
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
        continue
    if typ != SUBMIT:
        sys.exit("unexpected request type %r" % typ)
    held.append((req, len(body)))
    k = len(held)
    if scenario == "refused" and k == 3:
        err(req, 5, "refused on arrival (scripted)")
    if scenario == "cut" and k == 10:
        conn.close()  # after reading the two requests the two answers let tracectl send
        break
    if k > 8 and scenario != "cut":
        ok(req, len(body))  # sent after an OK freed a place in tracectl's window
    elif k == 8:
        if scenario == "refused":
            for r, n in held[:2] + held[3:]:
                ok(r, n)
        elif scenario == "commit":
            r = [x[0] for x in held]
            ok(*held[0])
            err(r[1], held[1][1], "not appended: it was committed together with an event that failed (scripted)")
            err(r[2], 7, "the scripted failure")
            err(r[3], held[3][1], "not appended: it followed a commit that failed (scripted)")
            for x in held[4:]:
                ok(*x)
        elif scenario == "cut":
            ok(*held[0])
            ok(*held[1])
print("served %d submits" % len(held), flush=True)
EOF

# expected_ids REQ...: the made-up ids of those requests (INFO is request 1), in order
expected_ids() {
    "$PY" - "$@" <<'EOF'
import hashlib, sys
for r in sys.argv[1:]:
    for i in range(1024):
        print(hashlib.sha256(b"%d:%d" % (int(r), i)).hexdigest())
EOF
}

# run SCENARIO SUBMITS [--json]: tracectl submit against the scripted node, which must
# have read SUBMITS requests (8 in flight, one more after each OK before the failure shows)
run() {
    local scenario=$1 served=$2
    shift 2
    rm -f "$D/api.sock"
    "$PY" "$T/fake.py" "$D/api.sock" "$ECO" "$scenario" >"$T/fake.out" 2>"$T/fake.err" &
    local fake=$!
    for _ in $(seq 1 200); do [ -S "$D/api.sock" ] && break; tn_poll_pause; done
    [ -S "$D/api.sock" ] || tn_fail "the scripted node did not listen: $(cat "$T/fake.err")"
    tn_run "$TRACECTL" submit --data "$D" "$@" "$T/ev.jsonl"
    wait "$fake" || tn_fail "$scenario $*: the scripted node failed: $(cat "$T/fake.err")"
    assert_eq "served $served submits" "$(tail -n 1 "$T/fake.out")" "$scenario $*: requests the node read"
}

# check_ids WHAT REQ...: stdout (or, with --json, its .ids) holds exactly those requests' ids
check_ids() {
    local what=$1 json=$2
    shift 2
    expected_ids "$@" >"$T/ids.expected"
    if [ "$json" == --json ]; then
        assert_eq $(($# * 1024)) "$(jq -r .count "$TN_OUT")" "$what: count"
        jq -r '.ids[]' "$TN_OUT" >"$T/ids.got"
    else
        cp "$TN_OUT" "$T/ids.got"
    fi
    cmp -s "$T/ids.expected" "$T/ids.got" ||
        tn_fail "$what: expected the ids of requests $* in order; got $(wc -l <"$T/ids.got") lines, first: $(head -n 1 "$T/ids.got")"
}

for json in "" --json; do
    run refused 8 $json
    assert_rc 4 "refused $json: exit code (events were appended, so not 2)"
    assert_error_line '^error: line 2054: refused on arrival \(scripted\); 7168 of 10240 events were appended: the 2048 before line 2049 \(ids printed\) and 5120 of later requests \(ids not printed\)$' \
        "refused $json: the refusal, named by its line, with what was appended"
    check_ids "refused $json" "$json" 2 3

    run commit 9 $json
    assert_rc 4 "commit $json: exit code (events were appended, so not 2)"
    assert_error_line '^error: line 2056: the scripted failure; 6144 of 10240 events were appended: the 1024 before line 1025 \(ids printed\) and 5120 of later requests \(ids not printed\)$' \
        "commit $json: the named failure reported, with what was appended"
    check_ids "commit $json" "$json" 2

    run cut 10 $json
    assert_rc 4 "cut $json: exit code"
    assert_error_line '; 2048 of 10240 events acknowledged \(ids printed\); those sent after them may or may not have been appended$' \
        "cut $json: what is durable"
    check_ids "cut $json" "$json" 2 3
done
tn_say "ok: out-of-order refusals named by line; ids printed in order (also as JSON); the rest counted"
