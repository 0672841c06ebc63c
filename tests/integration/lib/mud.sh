# shellcheck shell=bash
# Helpers for test_mud.sh (MUD files: tracectl mud check|show|anchor|verify, mud-anchor
# records). Source after common.sh and vtest.sh.

# shellcheck disable=SC2034  # used by the test that sources this file
MUD_VEC=$TN_SRC/tests/vectors/mud

# mud_run ARGS...: tn_run tracectl mud ARGS (stdout $TN_OUT, stderr $TN_ERR, exit TN_RC);
# stderr must hold no sanitizer report (under ASan a leak on an error path would otherwise
# hide behind an expected exit code 2).
mud_run() {
    tn_run "$TRACECTL" mud "$@"
    vt_no_sanitizer "$TN_ERR" "tracectl mud $*"
}

# mud_size FILE: the file's size in bytes.
mud_size() { stat -c %s "$1"; }

# mud_mark I ORG: "size:root" of shard ORG on node I per `tracectl log` and `status`
# (a shard that does not exist is "0:").
mud_mark() {
    echo "$(tn_shard_size "$(tn_net_data "$1")" "$2"):$(vt_shard "$1" "$2" root)"
}

# mud_holds I ID ORG=SIZE: node I serves record ID (tracectl get) and holds shard ORG with
# at least SIZE records and a signed checkpoint covering them (mud verify only counts
# anchors it can prove are in a checkpoint).
mud_holds() {
    "$TRACECTL" get --data "$(tn_net_data "$1")" "$2" >/dev/null 2>&1 && vt_holds "$1" "$3"
}

# mud_wait_holds I ID ORG=SIZE WHAT: polls mud_holds (fails after VT_WAIT s).
mud_wait_holds() {
    tn_wait_for "node $1 holds $4 ($(vt_name "$2"), $3)" "$VT_WAIT" mud_holds "$1" "$2" "$3"
    tn_say "node $1 holds $4 after $TN_WAITED s"
}

# mud_verify I FILE OUT [ARGS...]: tracectl mud verify FILE --json on node I, the document
# to OUT, the exit code to MUD_RC. The document must have the fields DESIGN section 6
# names: status, url, sha256, anchor, findings (an array).
mud_verify() {
    local i=$1 file=$2 out=$3
    shift 3
    MUD_RC=0
    "$TRACECTL" mud verify "$file" --data "$(tn_net_data "$i")" --json "$@" >"$out" 2>"$out.err" ||
        MUD_RC=$?
    vt_no_sanitizer "$out.err" "tracectl mud verify $file $* on node $i"
    jq -e 'type == "object" and has("status") and has("url") and has("sha256") and
           has("anchor") and (.findings | type == "array")' "$out" >/dev/null 2>&1 ||
        tn_fail "mud verify $(basename "$file") $* on node $i (exit $MUD_RC): no JSON document with status, url, sha256, anchor and findings: [$(head -c 800 "$out")] stderr [$(head -c 500 "$out.err")]"
}

# mud_findings OUT: the findings, for messages.
mud_findings() {
    local code sev rec detail out=""
    while IFS=$'\t' read -r code sev rec detail; do
        out+="$code/$sev on $(vt_name "$rec") ($detail); "
    done < <(jq -r '.findings[] | [.code, .severity, (.record // "-"), .detail] | @tsv' "$1")
    echo "${out:-no findings}"
}

# mud_expect OUT RC STATUS WHAT: the last mud_verify's exit code and status.
mud_expect() {
    local status
    status=$(jq -r .status "$1")
    if [ "$MUD_RC" != "$2" ] || [ "$status" != "$3" ]; then
        tn_fail "$4: expected exit $2 and status $3, actual exit $MUD_RC and status $status; findings: $(mud_findings "$1"); stderr: $(head -c 300 "$1.err")"
    fi
}

# mud_has OUT CODE SEVERITY RECORD WHAT: a finding {code, severity, record} is there
# (RECORD "null": a finding on no record).
mud_has() {
    jq -e --arg c "$2" --arg s "$3" --arg r "$4" \
        'any(.findings[]; .code == $c and .severity == $s and ((.record // "null") == $r))' \
        "$1" >/dev/null ||
        tn_fail "$5: expected finding $2 ($3) on $(vt_name "$4"), actual findings: $(mud_findings "$1")"
}


# mud_field OUT JQ: jq -r of a verify document.
mud_field() { jq -r "$2" "$1"; }

# mud_peer_push OUT RECORD_JSON PEER_ARGS...: lib/peer.py push (its Noise session, HELLO,
# CLOCK, PUSH and read-back, and its own COSE/CBOR signing), but the record it signs is a
# mud-anchor: RECORD_JSON is {"mud": {url, sha256 (hex), size, last_update, model?,
# mfg_name?, sig_sha256? (hex)}, "ref": HEX?}. --item is required by peer.py and unused.
# Requires exit 0; the one-line JSON result goes to OUT.
mud_peer_push() {
    local out=$1 spec=$2 rc=0
    shift 2
    MUD_PEER_RECORD=$spec PEER_LIB=$TN_LIB "$PY" - push "$@" --item unused >"$out" 2>"$out.err" <<'PYEOF' || rc=$?
import json
import os
import sys

sys.path.insert(0, os.environ["PEER_LIB"])
import peer  # noqa: E402  (lib/peer.py)

SPEC = json.loads(os.environ["MUD_PEER_RECORD"])


def mud_anchor_payload(net, org, seq, prev, time_ms, item, attrs=None):
    """The payload of a mud-anchor (docs/FORMAT.md: mud is a map; sha256 and sig_sha256
    are 32-byte strings; ref is the superseded anchor's id)."""
    payload = {"v": 1, "net": net, "org": org, "seq": seq, "prev": prev, "time": time_ms,
               "type": "mud-anchor"}
    mud = dict(SPEC["mud"])
    for k in ("sha256", "sig_sha256"):
        if k in mud:
            mud[k] = bytes.fromhex(mud[k])
    payload["mud"] = mud
    if SPEC.get("ref"):
        payload["ref"] = bytes.fromhex(SPEC["ref"])
    return payload


peer.record_payload = mud_anchor_payload
sys.argv[0] = peer.__file__
sys.exit(peer.main())
PYEOF
    [ "$rc" == 0 ] ||
        tn_fail "peer.py push of a mud-anchor exited $rc: $(cat "$out") $(head -c 2000 "$out.err")"
}

# mud_anchor_spec URL FILE LAST_UPDATE MODEL [REF]: RECORD_JSON for mud_peer_push, with the
# SHA-256 and size of FILE.
mud_anchor_spec() {
    jq -nc --arg url "$1" --arg sha "$(tn_sha256 "$2")" --argjson size "$(mud_size "$2")" \
        --arg lu "$3" --arg model "$4" --arg ref "${5:-}" \
        '{mud: {url: $url, sha256: $sha, size: $size, last_update: $lu, model: $model}}
         + (if $ref == "" then {} else {ref: $ref} end)'
}
