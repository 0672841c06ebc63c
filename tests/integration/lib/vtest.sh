# Helpers for the verifier scenario tests (test_verify_*.sh). Source after common.sh.
#
# Records are named: vt_submit stores the id of each event under a name (VT_ID[NAME]),
# and messages show names instead of bare hex (VT_NAME[ID]).

VCHECK=$TN_LIB/vcheck.py
FORGE=$TN_LIB/forge.py
VT_WAIT=${TN_VERIFY_TIMEOUT:-60}
declare -gA VT_ID=() VT_NAME=()

# vt_submit I NAME...: submits the JSON Lines on stdin (one event per NAME) on node I and
# records the printed ids under the names, in order.
vt_submit() {
    local i=$1 ev k=0 name n
    shift
    ev=$T/.submit.$i.jsonl
    cat >"$ev"
    n=$(grep -c . "$ev" || true)
    [ "$n" == $# ] || tn_fail "vt_submit: $n events for $# names ($*)"
    tn_run "$TRACECTL" submit --data "$(tn_net_data "$i")" "$ev"
    assert_rc 0 "submit on node $i of events $*"
    mapfile -t _ids <"$TN_OUT"
    [ ${#_ids[@]} == $# ] || tn_fail "submit on node $i printed ${#_ids[@]} ids for $# events: $(cat "$TN_OUT")"
    for name in "$@"; do
        assert_match '^[0-9a-f]{64}$' "${_ids[$k]}" "id printed by submit for $name"
        VT_ID[$name]=${_ids[$k]}
        VT_NAME[${_ids[$k]}]=$name
        k=$((k + 1))
    done
}

# vt_name ID: the record's name (or its first 16 hex digits).
vt_name() { echo "${VT_NAME[$1]:-${1:0:16}..}"; }

# vt_holds I ORG=SIZE...: true when node I holds each shard with at least SIZE records and
# a signed checkpoint covering at least SIZE.
vt_holds() {
    local i=$1 json spec
    shift
    json=$("$TRACECTL" status --json --data "$(tn_net_data "$i")" 2>/dev/null) || return 1
    for spec in "$@"; do
        jq -e --arg o "${spec%=*}" --argjson n "${spec#*=}" \
            'any(.shards[]; .org == $o and .size >= $n and (.checkpoint_size // .size) >= $n)' \
            <<<"$json" >/dev/null || return 1
    done
}

# vt_wait_holds I ORG=SIZE...: polls vt_holds until true (fails after VT_WAIT s).
vt_wait_holds() {
    local i=$1
    shift
    tn_wait_for "node $i holds $* (with checkpoints)" "$VT_WAIT" vt_holds "$i" "$@"
    tn_say "node $i holds $* after $TN_WAITED s"
}

# vt_shard I ORG FIELD: a field of node I's shard ORG in status --json ("" if none).
vt_shard() {
    "$TRACECTL" status --json --data "$(tn_net_data "$1")" 2>/dev/null |
        jq -r --arg o "$2" --arg f "$3" '.shards[] | select(.org == $o) | .[$f]'
}

# vt_no_sanitizer FILE WHAT: FILE (a stderr capture) holds no sanitizer report (under ASan
# a leak on an error path would otherwise hide behind an expected non-zero exit code).
vt_no_sanitizer() {
    if grep -a -q -E 'Sanitizer|runtime error:' "$1"; then
        tn_fail "$2: sanitizer report on stderr: $(grep -a -m 3 -E 'Sanitizer|runtime error:|#[0-9] ' "$1" | head -c 1500)"
    fi
}

# vt_walk FILE CMD ARGS...: runs tracectl CMD ARGS, stdout to FILE; sets VT_RC.
vt_walk() {
    local file=$1
    shift
    VT_RC=0
    "$TRACECTL" "$@" >"$file" 2>"$file.err" || VT_RC=$?
    vt_no_sanitizer "$file.err" "tracectl $*"
}

# vt_trace I ITEM FILE [trace|where-used] [extra args]: --json walk on node I into FILE.
vt_trace() {
    local i=$1 item=$2 file=$3 cmd=${4:-trace}
    shift 3
    [ $# -gt 0 ] && shift
    vt_walk "$file" "$cmd" --data "$(tn_net_data "$i")" --json "$item" "$@"
    jq -e 'has("verdict") and has("findings") and has("records")' "$file" >/dev/null 2>&1 ||
        tn_fail "tracectl $cmd $item on node $i (exit $VT_RC): no JSON document with verdict, findings and records: [$(head -c 800 "$file")] stderr [$(head -c 500 "$file.err")]"
}

# vt_findings FILE: the findings, one a line, with record names (for messages).
vt_findings() {
    local code sev rec detail out=""
    while IFS=$'\t' read -r code sev rec detail; do
        out+="$code/$sev on $(vt_name "$rec") ($detail); "
    done < <(jq -r '.findings[] | [.code, .severity, (.record // "-"), .detail] | @tsv' "$1")
    echo "${out:-no findings}"
}

# vt_expect FILE RC VERDICT WHAT: the last walk's exit code and verdict.
vt_expect() {
    local verdict findings
    if ! verdict=$(jq -r .verdict "$1" 2>/dev/null); then
        tn_fail "$4: expected exit $2 and verdict $3, actual exit $VT_RC and no JSON document on stdout [$(head -c 300 "$1")]; stderr: $(head -c 500 "$1.err")"
    fi
    if [ "$VT_RC" != "$2" ] || [ "$verdict" != "$3" ]; then
        findings=$(vt_findings "$1" 2>/dev/null || true)
        tn_fail "$4: expected exit $2 and verdict $3, actual exit $VT_RC and verdict $verdict; findings: $findings; stderr: $(head -c 300 "$1.err")"
    fi
}

# vt_has FILE CODE SEVERITY ID WHAT: a finding {code, severity, record: ID} is there.
vt_has() {
    jq -e --arg c "$2" --arg s "$3" --arg r "$4" \
        'any(.findings[]; .code == $c and .severity == $s and .record == $r)' "$1" >/dev/null ||
        tn_fail "$5: expected finding $2 ($3) on record $(vt_name "$4"), actual findings: $(vt_findings "$1")"
}

# vt_hasnt FILE CODE ID WHAT: no finding CODE on record ID.
vt_hasnt() {
    if jq -e --arg c "$2" --arg r "$3" 'any(.findings[]; .code == $c and .record == $r)' "$1" >/dev/null; then
        tn_fail "$4: expected NO finding $2 on record $(vt_name "$3"), actual findings: $(vt_findings "$1")"
    fi
}

# vt_errors FILE: the distinct codes of error findings, sorted, space-separated.
vt_errors() { jq -r '[.findings[] | select(.severity == "error") | .code] | unique | join(" ")' "$1"; }

# vt_only_errors FILE "CODE..." WHAT: the error findings are exactly of these codes.
vt_only_errors() {
    local got
    got=$(vt_errors "$1")
    [ "$got" == "$2" ] ||
        tn_fail "$3: expected error codes [$2], actual [$got]; findings: $(vt_findings "$1")"
}

# vt_in_records FILE ID WHAT: the walk's records include ID.
vt_in_records() {
    jq -e --arg r "$2" 'any(.records[]; .id == $r)' "$1" >/dev/null ||
        tn_fail "$3: record $(vt_name "$2") is not in .records ($(jq -r '[.records[].id[0:12]] | join(",")' "$1"))"
}

# vt_net_start_eco I ECOFILE: starts testnet node I (same data, keys, port, peers) with
# another ecosystem file, registered as nI; waits until it answers.
vt_net_start_eco() {
    local i=$1 eco=$2 d
    d=$TN_NET/node$i
    # shellcheck disable=SC2046
    "$TRACENODE" --data "$d/data" --ecosystem "$eco" --org "$(cat "$d/org")" \
        --org-key "$d/org.key" --node-key "$d/node.key" --listen "$(tn_net_addr "$i")" \
        $(cat "$d/peers" 2>/dev/null) </dev/null >>"$d/log" 2>&1 &
    TN_NODE_PID[n$i]=$!
    TN_NODE_LOG[n$i]=$d/log
    TN_NODE_DATA[n$i]=$d/data
    echo $! >"$d/pid"
    tn_node_wait_ready "n$i" ||
        tn_fail "node $i exited ($TN_NODE_RC) when started with $eco: $(tail -n 5 "$d/log")"
}

# vt_eco_edit IN OUT JQ_FILTER: OUT = IN with the filter applied and signed again with
# the testnet's governance key.
vt_eco_edit() {
    jq "$3 | del(.signature)" "$1" >"$2" || tn_fail "jq on $1 failed"
    tn_run "$TRACECTL" ecosystem sign --file "$2" --governance-key "$TN_NET/governance.key"
    assert_rc 0 "tracectl ecosystem sign of $2"
}

# vt_net_stop I: tn_net_stop (SIGTERM, wait until gone), then node I's log must hold no
# sanitizer report (an ASan build reports leaks and errors there at exit).
vt_net_stop() {
    tn_net_stop "$1"
    vt_no_sanitizer "$TN_NET/node$1/log" "node $1's log after SIGTERM"
}
