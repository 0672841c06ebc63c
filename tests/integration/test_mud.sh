#!/usr/bin/env bash
# MUD files (RFC 8520; DESIGN sections 3 and 6): tracectl mud check|show|anchor|verify on a
# five-node line testnet built here:
#   maker (node 1: manufacturer, supplier) <- carrier (node 2: carrier)
#     <- operator (node 3: operator) <- rival (node 4: supplier, no manufacturer role)
#     <- other (node 5: another manufacturer)
# so the maker's anchors reach the operator only through the carrier.
#   1 check: the good fixtures are valid (exit 0); each tests/vectors/mud/bad file is
#     refused (exit 2) with an "error: FILE: PATH: MESSAGE [RULE]" line naming its rule and
#     the JSON Pointer of the problem; --json says valid=false with the same errors.
#   2 show: the thermostat's policies, as text and as JSON.
#   3 anchor v1 on the maker's node (with --sig); the record carries the digest of the raw
#     bytes; once the operator's node holds it, verify there: VERIFIED, exit 0.
#   4 MISMATCH (exit 1) for a one-byte change, a trailing newline, a re-indented copy.
#   5 NOT_ANCHORED (camera), URL_MISMATCH (--url of another host).
#   6 v2 supersedes v1: v1 SUPERSEDED, v2 VERIFIED; stale versions refused (exit 2), the
#     same bytes again change nothing (exit 0).
#   7 refusals write nothing: every bad fixture; anchor by orgs without the manufacturer role.
#   8 --device: the device's maker must have anchored the file for the device's model, and
#     the device's pedigree must verify (fail: exit 1, incomplete: exit 3).
#   9 from peers (lib/peer.py over the real wire protocol): a mud-anchor signed by a
#     non-manufacturer org is refused at ingest; mud-anchors signed by the maker that break
#     the versioning rule (older last-update, no ref, ref to a superseded anchor) are not
#     stored, a correct one is.
#  10 who counts: a URL two manufacturers anchor fails unless --org/--device names one; an
#     unknown device: NOT_ANCHORED; a file with a BOM anchors and verifies; an anchor its
#     org withdraws (supersede) makes the file SUPERSEDED.
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/vtest.sh"
. "$(dirname "$0")/lib/mud.sh"

tn_setup
"$PY" "$PEER" self-test >"$TN_OUT" || tn_fail "peer.py self-test failed: $(cat "$TN_OUT")"

V1=$MUD_VEC/thermostat-v1.json
V2=$MUD_VEC/thermostat-v2.json
CAM=$MUD_VEC/camera.json
T100=https://mud.thermoco.example/t100
C9=https://mud.camco.example/c9
MODEL="T100 thermostat"
for f in "$V1" "$V2" "$CAM"; do [ -s "$f" ] || tn_fail "fixture $f is missing"; done

# The bad fixtures: the rule each breaks (tests/vectors/mud/bad/README.md says why; the
# rule names are the ones tracectl prints in brackets) and the JSON Pointer of the
# problem, as an anchored regex ("^$": the whole document, printed "(document)").
declare -A BAD_RULE=(
    [missing-version]=mud-version [version-2]=mud-version [http-url]=mud-url
    [supported-string]=is-supported [cache-200]=cache-validity [bad-date]=last-update
    [dangling-acl]=policy-acl [src-dnsname-from-device]=dnsname-direction
    [direction-under-udp]=direction-initiated [legacy-access-lists]=legacy-root
    [port-70000]=port-range [truncated]=json [duplicate-keys]=duplicate-member
    [not-utf8]=utf-8 [array-root]=root [empty]=json)
ACE=/ietf-access-control-list:acls/acl/0/aces/ace
declare -A BAD_PATH=(
    [missing-version]='^/ietf-mud:mud(/mud-version)?$'
    [version-2]='^/ietf-mud:mud/mud-version$'
    [http-url]='^/ietf-mud:mud/mud-url$'
    [supported-string]='^/ietf-mud:mud/is-supported$'
    [cache-200]='^/ietf-mud:mud/cache-validity$'
    [bad-date]='^/ietf-mud:mud/last-update$'
    [dangling-acl]='^/ietf-mud:mud/from-device-policy/access-lists/access-list/1(/name)?$'
    [src-dnsname-from-device]="^$ACE/0/matches/ipv4/ietf-acldns:src-dnsname\$"
    [direction-under-udp]="^$ACE/1/matches/udp/ietf-mud:direction-initiated\$"
    [legacy-access-lists]='^/ietf-access-control-list:access-lists$'
    [port-70000]="^$ACE/0/matches/tcp/destination-port/port\$"
    [truncated]="^$ACE/3(/.*)?\$"
    [duplicate-keys]='^/ietf-mud:mud/mud-version$'
    [not-utf8]='^/ietf-mud:mud/systeminfo$'
    [array-root]='^$'
    [empty]='^$')
n_bad=0
for f in "$MUD_VEC"/bad/*.json; do
    n=$(basename "$f" .json)
    [ -n "${BAD_RULE[$n]:-}" ] || tn_fail "bad fixture $n is not in this test's table"
    n_bad=$((n_bad + 1))
done
assert_eq "${#BAD_RULE[@]}" "$n_bad" "bad fixtures present (one for each table entry)"

# has_issue_line FILE NAME: stderr ($TN_ERR) holds "error: FILE: PATH: MESSAGE [RULE]" for
# the rule and path of bad fixture NAME; every line is an error: or warning: line about FILE.
has_issue_line() {
    local file=$1 name=$2 line rest path rule found=0 n_err=0
    while IFS= read -r line; do
        case $line in
        "error: $file: "*) n_err=$((n_err + 1)) ;;
        "warning: $file: "*) ;;
        *) tn_fail "$name: stderr line is not an 'error: $file: ...' line: [$line]" ;;
        esac
        rest=${line#*": $file: "}
        path=${rest%%: *}
        [ "$path" == "(document)" ] && path=""
        [[ "$rest" =~ \ \[([a-z0-9-]+)\]$ ]] || tn_fail "$name: no [RULE] at the end of [$line]"
        rule=${BASH_REMATCH[1]}
        if [[ "$line" == error:* && "$rule" == "${BAD_RULE[$name]}" && "$path" =~ ${BAD_PATH[$name]} ]]; then
            found=1
        fi
    done <"$TN_ERR"
    [ "$found" == 1 ] ||
        tn_fail "$name: expected an error line naming rule [${BAD_RULE[$name]}] at a path matching /${BAD_PATH[$name]}/, actual stderr: [$(head -c 1500 "$TN_ERR")]"
    MUD_N_ERR=$n_err
}

# --- 1. check ----------------------------------------------------------------------------------
declare -A GOOD_URL=([thermostat-v1]=$T100 [thermostat-v2]=$T100 [camera]=$C9)
for n in thermostat-v1 thermostat-v2 camera; do
    f=$MUD_VEC/$n.json
    mud_run check "$f"
    assert_rc 0 "mud check $n"
    assert_eq "" "$(grep '^error:' "$TN_ERR" || true)" "mud check $n: error lines"
    assert_match "^ok: .*${GOOD_URL[$n]}" "$(cat "$TN_OUT")" "mud check $n: the ok line names the URL"
    mud_run check --json "$f"
    assert_rc 0 "mud check --json $n"
    jq -e --arg sha "$(tn_sha256 "$f")" --argjson size "$(mud_size "$f")" --arg url "${GOOD_URL[$n]}" \
        '.valid == true and .errors == [] and (.warnings | type == "array") and
         .sha256 == $sha and .size == $size and .url == $url' "$TN_OUT" >/dev/null ||
        tn_fail "mud check --json $n: expected valid, no errors, sha256/size of the raw bytes, url ${GOOD_URL[$n]}; actual $(jq -c . "$TN_OUT")"
done
for f in "$MUD_VEC"/bad/*.json; do
    n=$(basename "$f" .json)
    mud_run check "$f"
    assert_rc 2 "mud check of bad fixture $n"
    assert_eq "" "$(cat "$TN_OUT")" "mud check of bad fixture $n: stdout"
    has_issue_line "$f" "$n"
    n_text=$MUD_N_ERR
    mud_run check --json "$f"
    assert_rc 2 "mud check --json of bad fixture $n"
    jq -e --arg rule "${BAD_RULE[$n]}" --arg re "${BAD_PATH[$n]}" \
        --arg sha "$(tn_sha256 "$f")" --argjson size "$(mud_size "$f")" \
        '.valid == false and (.errors | length) >= 1 and
         all(.errors[]; (.path | type == "string") and (.rule | type == "string") and
                        (.message | type == "string") and (.message | length) > 0) and
         any(.errors[]; .rule == $rule and (.path | test($re))) and
         .sha256 == $sha and .size == $size' "$TN_OUT" >/dev/null ||
        tn_fail "mud check --json of bad fixture $n: expected valid=false with an error {rule ${BAD_RULE[$n]}, path /${BAD_PATH[$n]}/} and the file's sha256 and size; actual $(jq -c . "$TN_OUT" 2>&1 | head -c 1500)"
    assert_eq "$n_text" "$(jq '.errors | length' "$TN_OUT")" \
        "mud check of $n: error lines on stderr vs errors in --json (one line per problem)"
done
tn_say "1. check: 3 good fixtures valid; $n_bad bad fixtures refused (exit 2) with rule and path"

# --- 2. show ------------------------------------------------------------------------------------
mud_run show "$V1"
assert_rc 0 "mud show thermostat-v1"
S=$(cat "$TN_OUT")
from_dev=$(sed -n '/^from the device/,/^to the device/p' "$TN_OUT")
to_dev=$(sed -n '/^to the device/,$p' "$TN_OUT")
assert_match "$T100" "$S" "mud show: the MUD URL"
# show_line TEXT REGEX WHAT: one line of TEXT matches REGEX
show_line() { grep -q -E "$2" <<<"$1" || tn_fail "$3: no line matches /$2/ in [$1]"; }
show_line "$from_dev" 'to cloud\.thermoco\.example port 443([^0-9]|$)' "mud show, from the device: the cloud host and port 443"
show_line "$to_dev" 'from cloud\.thermoco\.example port 443([^0-9]|$)' "mud show, to the device: the cloud host and port 443"
show_line "$from_dev" 'controller urn:ietf:params:mud:ntp port 123' "mud show: the NTP controller"
show_line "$from_dev" 'same.manufacturer.* port 5683' "mud show: same-manufacturer peers"
show_line "$from_dev" 'my-controller.* port 8883' "mud show: my-controller"
show_line "$to_dev" 'same.manufacturer.* port 5683' "mud show, to the device: same-manufacturer peers"
# control: the ports come from the file (v2 moved the cloud to 8443)
mud_run show "$V2"
assert_rc 0 "mud show thermostat-v2"
assert_match "cloud\.thermoco\.example port 8443" "$(cat "$TN_OUT")" "mud show v2: the cloud port"
assert_eq "" "$(grep -E 'cloud\.thermoco\.example port 443([^0-9]|$)' "$TN_OUT" || true)" "mud show v2: port 443 lines"

mud_run show --json "$V1"
assert_rc 0 "mud show --json thermostat-v1"
jq -e --arg url "$T100" --arg model "$MODEL" '
    .url == $url and .model_name == $model and
    (.from_device | length) == 4 and (.to_device | length) == 4 and
    ([.from_device[].peer.kind] | sort) == ["controller", "host", "my-controller", "same-manufacturer"] and
    ([.to_device[].peer.kind] | sort) == ["controller", "host", "my-controller", "same-manufacturer"] and
    any(.from_device[]; .peer == {"kind": "host", "value": "cloud.thermoco.example"} and
                        .protocol == "tcp" and .remote_port == "443" and .action == "accept") and
    any(.from_device[]; .peer.kind == "controller" and .peer.value == "urn:ietf:params:mud:ntp" and
                        .protocol == "udp" and .remote_port == "123") and
    any(.to_device[]; .peer.kind == "host" and .remote_port == "443")' "$TN_OUT" >/dev/null ||
    tn_fail "mud show --json thermostat-v1: expected 4 + 4 entries (cloud 443/tcp, NTP controller 123/udp, my-controller, same-manufacturer); actual $(jq -c '{url, model_name, from_device, to_device}' "$TN_OUT")"
mud_run show --json "$CAM"
assert_rc 0 "mud show --json camera"
assert_eq "2 2" "$(jq -r '"\(.from_device | length) \(.to_device | length)"' "$TN_OUT")" "mud show --json camera: from/to entries"
mud_run show "$MUD_VEC/bad/port-70000.json"
assert_rc 2 "mud show of a bad fixture"
has_issue_line "$MUD_VEC/bad/port-70000.json" port-70000
tn_say "2. show: thermostat 4 + 4 entries (cloud 443, NTP controller, my-controller, same-manufacturer), camera 2 + 2"

# --- the testnet ----------------------------------------------------------------------------------
tn_testnet_up 5 --topology line --orgs maker,carrier,operator,rival,other \
    --roles "maker=manufacturer+supplier,carrier=carrier,operator=operator,rival=supplier,other=manufacturer"
MAKER_PK=$(jq -r '.orgs[] | select(.id == "maker") | .key' "$NET_ECO")
assert_match '^ed25519:' "$MAKER_PK" "maker's org key in the ecosystem"

# --- 3. anchor v1, verify on the operator's node --------------------------------------------------
SIG=$T/t100.p7s
head -c 700 /dev/urandom >"$SIG"
m0=$(tn_shard_size "$(tn_net_data 1)" maker)
mud_run anchor "$V1" --sig "$SIG" --data "$(tn_net_data 1)"
assert_rc 0 "mud anchor thermostat-v1 on the maker's node"
assert_eq 1 "$(wc -l <"$TN_OUT")" "mud anchor: lines on stdout"
A1=$(cat "$TN_OUT")
assert_match '^[0-9a-f]{64}$' "$A1" "mud anchor: the anchor id printed"
VT_NAME[$A1]=anchor.v1
M=$((m0 + 1))
assert_eq "$M" "$(tn_shard_size "$(tn_net_data 1)" maker)" "maker's shard size after one anchor"
tn_run "$TRACECTL" get --data "$(tn_net_data 1)" --json "$A1"
assert_rc 0 "get the v1 anchor"
jq -e --arg url "$T100" --arg sha "$(tn_sha256 "$V1")" --argjson size "$(mud_size "$V1")" \
    --arg sig "$(tn_sha256 "$SIG")" --arg model "$MODEL" --argjson seq "$m0" '
    .type == "mud-anchor" and .org == "maker" and .seq == $seq and (.ref == null) and
    .mud.url == $url and .mud.sha256 == $sha and .mud.size == $size and
    .mud.last_update == "2025-03-01T09:00:00Z" and .mud.model == $model and
    .mud.mfg_name == "ThermoCo" and .mud.sig_sha256 == $sig' "$TN_OUT" >/dev/null ||
    tn_fail "the v1 anchor record: expected mud {url, sha256 and size of the raw bytes, last_update, model, mfg_name, sig_sha256 of --sig}; actual $(jq -c . "$TN_OUT")"

mud_wait_holds 3 "$A1" maker=$M "the v1 anchor"
tn_check_record "$(tn_net_data 3)" "$A1" "$MAKER_PK" "$T/rec"
assert_eq "$(tn_sha256 "$V1")" "$(jq -r .mud.sha256 "$T/rec/$A1.payload.json")" \
    "the v1 anchor as replicated to the operator, read by the independent verifier: mud.sha256"

mud_verify 3 "$V1" "$T/v1.json"
mud_expect "$T/v1.json" 0 VERIFIED "verify thermostat-v1 on the operator's node"
assert_eq "$A1" "$(mud_field "$T/v1.json" .anchor)" "verify v1: the anchor is the one mud anchor printed"
assert_eq "$T100" "$(mud_field "$T/v1.json" .url)" "verify v1: url"
assert_eq "$(tn_sha256 "$V1")" "$(mud_field "$T/v1.json" .sha256)" "verify v1: sha256 of the file"
assert_eq "" "$(vt_errors "$T/v1.json")" "verify v1: error findings"
tn_run "$TRACECTL" mud verify "$V1" --data "$(tn_net_data 3)"
assert_rc 0 "mud verify (text) thermostat-v1 on the operator's node"
assert_match "^VERIFIED +$T100" "$(head -n 1 "$TN_OUT")" "mud verify (text): first line"
assert_contains "$(cat "$TN_OUT")" "$A1" "mud verify (text) names the anchor"
mud_verify 3 "$V1" "$T/v1.url.json" --url "$T100"
mud_expect "$T/v1.url.json" 0 VERIFIED "verify v1 with --url of its own URL"
mud_verify 3 "$V1" "$T/v1.org.json" --org maker
mud_expect "$T/v1.org.json" 0 VERIFIED "verify v1 with --org maker"
mud_verify 3 "$V1" "$T/v1.org2.json" --org carrier
mud_expect "$T/v1.org2.json" 1 NOT_ANCHORED "verify v1 with --org carrier (who anchored nothing)"
tn_say "3. anchor v1 ($A1) on the maker's node; VERIFIED on the operator's node"

# --- 4. MISMATCH ------------------------------------------------------------------------------------
sed '0,/"port": 443/s//"port": 444/' "$V1" >"$T/t100-444.json"
assert_eq 1 "$(cmp -l "$V1" "$T/t100-444.json" | wc -l)" "bytes that differ in the one-byte change"
assert_eq "$(mud_size "$V1")" "$(mud_size "$T/t100-444.json")" "size of the one-byte change"
{ cat "$V1"; printf '\n'; } >"$T/t100-nl.json"
"$PY" -m json.tool "$V1" >"$T/t100-reindented.json"
assert_eq "$(jq -S . "$V1")" "$(jq -S . "$T/t100-reindented.json")" "the re-indented copy is the same JSON"
for n in t100-444 t100-nl t100-reindented; do
    f=$T/$n.json
    mud_run check "$f"
    assert_rc 0 "mud check $n (a valid MUD file, just not the anchored bytes)"
    mud_verify 3 "$f" "$T/$n.verify.json"
    mud_expect "$T/$n.verify.json" 1 MISMATCH "verify $n"
    assert_eq "$(tn_sha256 "$f")" "$(mud_field "$T/$n.verify.json" .sha256)" "verify $n: sha256 is the file's"
    assert_eq "$(tn_sha256 "$V1")" "$(mud_field "$T/$n.verify.json" .expected_sha256)" "verify $n: expected_sha256 is the anchored digest"
    assert_ne "$(mud_field "$T/$n.verify.json" .expected_sha256)" "$(mud_field "$T/$n.verify.json" .sha256)" "verify $n: expected vs actual sha256"
    mud_has "$T/$n.verify.json" MUD_DIGEST_MISMATCH error "$A1" "verify $n"
    vt_only_errors "$T/$n.verify.json" MUD_DIGEST_MISMATCH "verify $n"
    assert_ne "$A1" "$(mud_field "$T/$n.verify.json" .anchor)" "verify $n: the anchor the file matches"
done
tn_say "4. MISMATCH (exit 1) for a one-byte change, a trailing newline and a re-indented copy"

# --- 5. NOT_ANCHORED, URL_MISMATCH -------------------------------------------------------------------
mud_verify 3 "$CAM" "$T/cam.json"
mud_expect "$T/cam.json" 1 NOT_ANCHORED "verify camera.json (valid, never anchored)"
mud_has "$T/cam.json" MUD_NOT_ANCHORED error null "verify camera.json"
assert_eq null "$(mud_field "$T/cam.json" .anchor)" "verify camera.json: anchor"
assert_eq "$C9" "$(mud_field "$T/cam.json" .url)" "verify camera.json: url"
EVIL=https://evil.example.org/t100
mud_verify 3 "$V1" "$T/evil.json" --url "$EVIL"
mud_expect "$T/evil.json" 1 URL_MISMATCH "verify thermostat-v1 --url $EVIL"
mud_has "$T/evil.json" MUD_URL_MISMATCH error null "verify --url $EVIL"
assert_eq null "$(mud_field "$T/evil.json" .anchor)" "verify --url $EVIL: anchor"
tn_say "5. NOT_ANCHORED for camera.json, URL_MISMATCH for --url $EVIL"

# --- 6. v2 supersedes v1 -------------------------------------------------------------------------------
mud_run anchor "$V2" --data "$(tn_net_data 1)" --json
assert_rc 0 "mud anchor --json thermostat-v2 on the maker's node"
A2=$(jq -r .anchor "$TN_OUT")
assert_match '^[0-9a-f]{64}$' "$A2" "mud anchor v2: anchor id"
VT_NAME[$A2]=anchor.v2
jq -e --arg a1 "$A1" --arg sha "$(tn_sha256 "$V2")" --arg url "$T100" \
    '.result == "appended" and .supersedes == $a1 and .sha256 == $sha and .url == $url and
     .last_update == "2025-09-15T12:30:00+02:00"' "$TN_OUT" >/dev/null ||
    tn_fail "mud anchor --json v2: expected appended, supersedes the v1 anchor $A1; actual $(jq -c . "$TN_OUT")"
M=$((M + 1))
assert_eq "$M" "$(tn_shard_size "$(tn_net_data 1)" maker)" "maker's shard size after the v2 anchor"
tn_run "$TRACECTL" get --data "$(tn_net_data 1)" --json "$A2"
assert_rc 0 "get the v2 anchor"
assert_eq "$A1" "$(jq -r .ref "$TN_OUT")" "the v2 anchor's ref"
assert_eq "$(tn_sha256 "$V2")" "$(jq -r .mud.sha256 "$TN_OUT")" "the v2 anchor's mud.sha256"
mud_wait_holds 3 "$A2" maker=$M "the v2 anchor"

mud_verify 3 "$V1" "$T/v1.old.json"
mud_expect "$T/v1.old.json" 1 SUPERSEDED "verify thermostat-v1 after v2 was anchored"
assert_eq "$A1" "$(mud_field "$T/v1.old.json" .anchor)" "verify v1 (superseded): the anchor its bytes match"
assert_eq "$A2" "$(mud_field "$T/v1.old.json" .superseded_by)" "verify v1 (superseded): superseded_by"
mud_has "$T/v1.old.json" MUD_SUPERSEDED error "$A1" "verify v1 (superseded)"
vt_only_errors "$T/v1.old.json" MUD_SUPERSEDED "verify v1 (superseded)"
mud_verify 3 "$V2" "$T/v2.json"
mud_expect "$T/v2.json" 0 VERIFIED "verify thermostat-v2"
assert_eq "$A2" "$(mud_field "$T/v2.json" .anchor)" "verify v2: anchor"
assert_eq "" "$(vt_errors "$T/v2.json")" "verify v2: error findings"

# stale versions are refused and write nothing; the same bytes again change nothing
lu() { sed "s/\"last-update\": \"2025-03-01T09:00:00Z\"/\"last-update\": \"$1\"/" "$V1" >"$2"; }
lu 2025-06-01T00:00:00Z "$T/t100-june.json"          # after v1, before v2
lu 2025-09-15T12:45:00+05:00 "$T/t100-tz-older.json" # 07:45Z: before v2 (10:30Z), its text sorts after
lu 2025-09-15T10:30:00Z "$T/t100-same-instant.json"  # the instant of v2, written in UTC
mark=$(mud_mark 1 maker)
for n in thermostat-v1 t100-june t100-tz-older t100-same-instant; do
    f=$T/$n.json
    [ "$n" == thermostat-v1 ] && f=$V1
    mud_run check "$f"
    assert_rc 0 "mud check $n (valid: only its version is stale)"
    mud_run anchor "$f" --data "$(tn_net_data 1)"
    assert_rc 2 "mud anchor $n after v2 (last-update not later than v2's)"
    assert_error_line 'last-update|newer|later' "mud anchor $n after v2"
    assert_eq "" "$(cat "$TN_OUT")" "mud anchor $n after v2: stdout"
    assert_eq "$mark" "$(mud_mark 1 maker)" "maker's shard (size:root) after refusing $n"
done
mud_run anchor "$V2" --data "$(tn_net_data 1)"
assert_rc 0 "mud anchor thermostat-v2 again (the same bytes)"
assert_match "^$A2 +already anchored" "$(cat "$TN_OUT")" "mud anchor v2 again: output"
mud_run anchor "$V2" --data "$(tn_net_data 1)" --json
assert_rc 0 "mud anchor --json thermostat-v2 again"
assert_eq "duplicate $A2" "$(jq -r '"\(.result) \(.anchor)"' "$TN_OUT")" "mud anchor --json v2 again: result and anchor"
assert_eq "$mark" "$(mud_mark 1 maker)" "maker's shard (size:root) after anchoring v2's bytes again"
tn_say "6. v2 ($A2) supersedes v1: v1 SUPERSEDED, v2 VERIFIED; stale versions refused; same bytes: nothing appended"

# A stale anchor deep in a JSON Lines submit: tracectl checks the versioning rule against
# the repository before it sends anything (the node checks it again on arrival and when it
# stores the record), so the 2,100 events before it are not appended either
jq -nc --arg p "urn:itest:mud:deep" 'range(2100) | {type: "commission", outputs: ["\($p):\(.)"]}' \
    >"$T/deep.jsonl"
mud_anchor_spec "$T100" "$T/t100-june.json" 2025-06-01T00:00:00Z "$MODEL" "$A2" |
    jq -c '{type: "mud-anchor", mud, ref}' >>"$T/deep.jsonl"
mark=$(mud_mark 1 maker)
tn_run "$TRACECTL" submit --data "$(tn_net_data 1)" "$T/deep.jsonl"
assert_rc 2 "submit of 2,100 commissions and a stale mud-anchor on line 2101"
assert_error_line '^error: line 2101: .*(last-update|newer|later).*nothing was submitted' \
    "submit with a stale mud-anchor on line 2101"
assert_eq "" "$(cat "$TN_OUT")" "submit with a stale mud-anchor on line 2101: stdout"
assert_eq "$mark" "$(mud_mark 1 maker)" "maker's shard (size:root) after the refused submit"
# two anchors of one URL in one submit: the second must supersede the first, whose id does
# not exist before it is signed, so tracectl refuses the submit (the node would store the
# first and fail the commit holding the second)
{
    head -n 3 "$T/deep.jsonl"
    mud_anchor_spec "$T100" "$T/t100-june.json" 2099-01-01T00:00:00Z "$MODEL" "$A2" |
        jq -c '{type: "mud-anchor", mud, ref}'
    mud_anchor_spec "$T100" "$T/t100-june.json" 2099-02-01T00:00:00Z "$MODEL" "$A2" |
        jq -c '{type: "mud-anchor", mud, ref}'
} >"$T/twice.jsonl"
tn_run "$TRACECTL" submit --data "$(tn_net_data 1)" "$T/twice.jsonl"
assert_rc 2 "submit of two mud-anchors of one URL"
assert_error_line '^error: line 5: a second mud-anchor of https://mud.thermoco.example/t100 in one submit.*nothing was submitted' \
    "submit of two mud-anchors of one URL"
assert_eq "$mark" "$(mud_mark 1 maker)" "maker's shard (size:root) after the refused submit of two anchors"
tn_say "6b. a stale mud-anchor on line 2101 of a submit, and two anchors of one URL: refused, named by line"

# --- 7. refusals write nothing ---------------------------------------------------------------------------
for f in "$MUD_VEC"/bad/*.json; do
    n=$(basename "$f" .json)
    mud_run anchor "$f" --data "$(tn_net_data 1)"
    assert_rc 2 "mud anchor of bad fixture $n"
    assert_eq "" "$(cat "$TN_OUT")" "mud anchor of bad fixture $n: stdout"
    has_issue_line "$f" "$n"
    assert_eq "$mark" "$(mud_mark 1 maker)" "maker's shard (size:root) after refusing to anchor $n"
done
for i in 3 4; do
    org=$(tn_net_org "$i")
    before=$(mud_mark "$i" "$org")
    mud_run anchor "$CAM" --data "$(tn_net_data "$i")"
    assert_rc 2 "mud anchor camera.json on the node of $org (no manufacturer role)"
    assert_error_line 'manufacturer' "mud anchor on the node of $org"
    assert_eq "$before" "$(mud_mark "$i" "$org")" "shard $org after the refused anchor"
done
mud_verify 3 "$CAM" "$T/cam.2.json"
mud_expect "$T/cam.2.json" 1 NOT_ANCHORED "verify camera.json after the refused anchors"
tn_say "7. $n_bad bad fixtures and 2 orgs without the manufacturer role: exit 2, nothing written"

# --- 8. --device ------------------------------------------------------------------------------------------
P=urn:test:mud
NO_SUCH=$(printf 'no such record' | sha256sum | cut -c1-64)
vt_submit 1 m.ok.c m.ok.ship m.t200.c m.nomodel.c m.break.c m.inc.t <<EOF
{"type":"commission","outputs":["$P.dev.ok"],"attrs":{"model":"$MODEL","serial":"SN-0001"}}
{"type":"ship","items":["$P.dev.ok"],"to":"carrier"}
{"type":"commission","outputs":["$P.dev.t200"],"attrs":{"model":"T200 thermostat"}}
{"type":"commission","outputs":["$P.dev.nomodel"]}
{"type":"commission","outputs":["$P.dev.break"],"attrs":{"model":"$MODEL"}}
{"type":"transform","inputs":[{"item":"$P.part","rec":"$NO_SUCH"}],"outputs":["$P.dev.inc"],"attrs":{"model":"$MODEL"}}
EOF
M=$((M + 6))
vt_submit 2 c.ok.r c.ok.ship c.break.ship <<EOF
{"type":"receive","items":["$P.dev.ok"],"from":"maker"}
{"type":"ship","items":["$P.dev.ok"],"to":"operator"}
{"type":"ship","items":["$P.dev.break"],"to":"operator"}
EOF
vt_submit 3 o.ok.r o.break.r <<EOF
{"type":"receive","items":["$P.dev.ok"],"from":"carrier"}
{"type":"receive","items":["$P.dev.break"],"from":"carrier"}
EOF
vt_submit 4 r.clone.c <<EOF
{"type":"commission","outputs":["$P.dev.clone"],"attrs":{"model":"$MODEL"}}
EOF
vt_wait_holds 3 maker=$M carrier=3 operator=2 rival=1

# the good device: made by the maker, shipped maker -> carrier -> operator
mud_verify 3 "$V2" "$T/dev.ok.json" --device "$P.dev.ok"
mud_expect "$T/dev.ok.json" 0 VERIFIED "verify v2 --device dev.ok"
jq -e --arg o "${VT_ID[m.ok.c]}" --arg m "$MODEL" --arg a "$A2" '
    .anchor == $a and .verdict == "ok" and .device.verdict == "ok" and
    .device.maker == "maker" and .device.model == $m and .device.origin == $o' "$T/dev.ok.json" >/dev/null ||
    tn_fail "verify --device dev.ok: expected anchor v2, verdict ok, device {maker, model $MODEL, origin the commission, verdict ok}; actual $(jq -c '{anchor, verdict, device}' "$T/dev.ok.json")"
assert_eq "" "$(vt_errors "$T/dev.ok.json")" "verify --device dev.ok: error findings"
tn_run "$TRACECTL" mud verify "$V2" --device "$P.dev.ok" --data "$(tn_net_data 3)"
assert_rc 0 "mud verify (text) --device dev.ok"
assert_match 'pedigree ok' "$(cat "$TN_OUT")" "mud verify (text) --device dev.ok: the device line"
vt_trace 3 "$P.dev.ok" "$T/dev.ok.trace.json"
vt_expect "$T/dev.ok.trace.json" 0 ok "trace of dev.ok (cross-check)"
mud_verify 3 "$V1" "$T/dev.ok.v1.json" --device "$P.dev.ok"
mud_expect "$T/dev.ok.v1.json" 1 SUPERSEDED "verify v1 (superseded) --device dev.ok"

# another model
for d in t200 nomodel; do
    mud_verify 3 "$V2" "$T/dev.$d.json" --device "$P.dev.$d"
    [ "$MUD_RC" == 1 ] || tn_fail "verify --device dev.$d (the device's model is not the anchor's): exit code expected 1, actual $MUD_RC; findings: $(mud_findings "$T/dev.$d.json")"
    mud_has "$T/dev.$d.json" MUD_MODEL_MISMATCH error "$A2" "verify --device dev.$d"
    vt_only_errors "$T/dev.$d.json" MUD_MODEL_MISMATCH "verify --device dev.$d"
    assert_eq fail "$(mud_field "$T/dev.$d.json" .verdict)" "verify --device dev.$d: verdict"
done

# made by an org that anchored nothing
mud_verify 3 "$V2" "$T/dev.clone.json" --device "$P.dev.clone"
mud_expect "$T/dev.clone.json" 1 NOT_ANCHORED "verify --device dev.clone (made by rival)"
mud_has "$T/dev.clone.json" MUD_NOT_ANCHORED error null "verify --device dev.clone"
assert_eq "rival null" "$(jq -r '"\(.device.maker) \(.anchor)"' "$T/dev.clone.json")" "verify --device dev.clone: device maker, anchor"

# a pedigree that fails: the carrier shipped dev.break without ever receiving it
mud_verify 3 "$V2" "$T/dev.break.json" --device "$P.dev.break"
[ "$MUD_RC" == 1 ] || tn_fail "verify --device dev.break (custody break): exit code expected 1, actual $MUD_RC; findings: $(mud_findings "$T/dev.break.json")"
mud_has "$T/dev.break.json" MUD_DEVICE_PEDIGREE error null "verify --device dev.break"
vt_only_errors "$T/dev.break.json" MUD_DEVICE_PEDIGREE "verify --device dev.break"
assert_eq fail "$(mud_field "$T/dev.break.json" .device.verdict)" "verify --device dev.break: device verdict"
jq -e --arg r "${VT_ID[c.break.ship]}" 'any(.device.findings[]; .code == "CUSTODY_BREAK" and .record == $r)' \
    "$T/dev.break.json" >/dev/null ||
    tn_fail "verify --device dev.break: the device's findings lack CUSTODY_BREAK on the carrier's ship: $(jq -c .device "$T/dev.break.json")"

# a pedigree that cannot be completed: the transform's input record is held nowhere
mud_verify 3 "$V2" "$T/dev.inc.json" --device "$P.dev.inc"
mud_expect "$T/dev.inc.json" 3 VERIFIED "verify --device dev.inc (incomplete pedigree)"
assert_eq "incomplete incomplete" "$(jq -r '"\(.verdict) \(.device.verdict)"' "$T/dev.inc.json")" "verify --device dev.inc: verdicts"
assert_eq "" "$(vt_errors "$T/dev.inc.json")" "verify --device dev.inc: error findings"
mud_has "$T/dev.inc.json" MUD_DEVICE_PEDIGREE warning null "verify --device dev.inc"

# --org against the device's maker
tn_run "$TRACECTL" mud verify "$V2" --device "$P.dev.ok" --org rival --data "$(tn_net_data 3)"
assert_rc 2 "mud verify --device dev.ok --org rival (the device was made by maker)"
tn_say "8. --device: VERIFIED for the maker's device; MODEL_MISMATCH, NOT_ANCHORED (rival's clone), DEVICE_PEDIGREE (custody break), exit 3 when incomplete"

# --- 9. mud-anchors from a peer ---------------------------------------------------------------------------
# (a) rival (supplier) signs a mud-anchor of the camera's URL and its peer pushes it to the
# operator's node. Rival's own node is stopped first, so the session is the only one with
# its node key.
vt_net_stop 4
R=$(vt_shard 3 rival size)
RHEAD=$("$TRACECTL" log --data "$(tn_net_data 3)" --json rival | jq -r '.records[-1].id')
LOG3=$TN_NET/node3/log
log_has() { tn_log_since "$LOG3" "$1" | grep -a -q -E "$2"; }
mark3=$(tn_log_size "$LOG3")
out=$T/push.rival.json
mud_peer_push "$out" "$(mud_anchor_spec "$C9" "$CAM" 2025-06-20T08:15:00Z "C9 camera")" \
    --key "$TN_NET/node4/node.key" --org-key "$TN_NET/node4/org.key" --eco "$NET_ECO" \
    --addr "$(tn_net_addr 3)" --seq "$R" --prev "$RHEAD" --wait 10
assert_eq rival "$(jq -r .record_org "$out")" "the pushed mud-anchor's org ($(cat "$out"))"
assert_eq true "$(jq -r .closed_by_node "$out")" "rival's mud-anchor: the node closed the connection ($(cat "$out"))"
assert_eq false "$(jq -r .stored "$out")" "rival's mud-anchor: stored"
tn_wait_for "node 3 logs why it dropped rival's mud-anchor" 10 log_has "$mark3" 'disconnected: .*(may not sign mud-anchor|role)'
assert_eq "$R" "$(vt_shard 3 rival size)" "shard rival on the operator's node after the refused mud-anchor"
mud_verify 3 "$CAM" "$T/cam.3.json"
mud_expect "$T/cam.3.json" 1 NOT_ANCHORED "verify camera.json after rival's mud-anchor was pushed"
# control: the same seq, a commission rival may sign, is stored (the slot was free, the
# channel works)
out=$T/push.rival.ok.json
tn_peer "$out" push --key "$TN_NET/node4/node.key" --org-key "$TN_NET/node4/org.key" \
    --eco "$NET_ECO" --addr "$(tn_net_addr 3)" --seq "$R" --prev "$RHEAD" --item "$P.rival.2" --wait 20
assert_eq true "$(jq -r .stored "$out")" "control: rival's commission at the same seq is stored ($(cat "$out"))"
tn_say "9a. a mud-anchor signed by rival (supplier) is refused at ingest; camera.json stays NOT_ANCHORED"

# (b) the maker's key, the maker's node stopped: mud-anchors of the thermostat's URL that
# break the versioning rule are not stored; one that follows it is.
vt_net_stop 1
MHEAD=$("$TRACECTL" log --data "$(tn_net_data 3)" --json maker | jq -r '.records[-1].id')
assert_eq "$M" "$(vt_shard 3 maker size)" "maker's shard on the operator's node"
# v3: 11:00Z is after v2's 12:30+02:00 (10:30Z) as an instant, though its text sorts before
V3_LU=2025-09-15T11:00:00Z
sed "s/\"last-update\": \"2025-09-15T12:30:00+02:00\"/\"last-update\": \"$V3_LU\"/" "$V2" >"$T/t100-v3.json"
assert_eq 1 "$(grep -c "\"last-update\": \"$V3_LU\"" "$T/t100-v3.json")" "t100-v3's last-update"
mud_run check "$T/t100-v3.json"
assert_rc 0 "mud check t100-v3"
maker_push() { # maker_push NAME SPEC WAIT
    mud_peer_push "$T/push.$1.json" "$2" --key "$TN_NET/node1/node.key" \
        --org-key "$TN_NET/node1/org.key" --eco "$NET_ECO" --addr "$(tn_net_addr 3)" \
        --seq "$M" --prev "$MHEAD" --wait "$3"
    assert_eq maker "$(jq -r .record_org "$T/push.$1.json")" "$1: the pushed record's org"
}
refused_push() { # refused_push NAME SPEC LOG_REGEX WHAT
    local mark
    mark=$(tn_log_size "$LOG3")
    maker_push "$1" "$2" 1
    assert_eq false "$(jq -r .stored "$T/push.$1.json")" "$4: stored ($(cat "$T/push.$1.json"))"
    tn_wait_for "node 3 logs that it did not store $1" 10 log_has "$mark" "maker seq $M not stored: .*($3)"
    assert_eq "$M" "$(vt_shard 3 maker size)" "$4: maker's shard on the operator's node"
}
refused_push older "$(mud_anchor_spec "$T100" "$T/t100-june.json" 2025-06-01T00:00:00Z "$MODEL" "$A2")" \
    'later last-update' "a mud-anchor older than the current one (ref = v2)"
refused_push noref "$(mud_anchor_spec "$T100" "$T/t100-v3.json" "$V3_LU" "$MODEL")" \
    'supersede' "a newer mud-anchor without ref"
refused_push oldref "$(mud_anchor_spec "$T100" "$T/t100-v3.json" "$V3_LU" "$MODEL" "$A1")" \
    'supersede' "a newer mud-anchor whose ref is the superseded v1 anchor"
mud_verify 3 "$T/t100-june.json" "$T/june.json"
mud_expect "$T/june.json" 1 MISMATCH "verify of the older version after its anchor was refused"
# the control: later last-update, ref = the current (v2) anchor
maker_push v3 "$(mud_anchor_spec "$T100" "$T/t100-v3.json" "$V3_LU" "$MODEL" "$A2")" 20
assert_eq true "$(jq -r .stored "$T/push.v3.json")" "control: the maker's v3 anchor (ref v2) is stored ($(cat "$T/push.v3.json"))"
A3=$(jq -r .record_id "$T/push.v3.json")
VT_NAME[$A3]=anchor.v3
M=$((M + 1))
assert_eq "$M" "$(vt_shard 3 maker size)" "maker's shard on the operator's node after the v3 anchor"
# (no checkpoint of the maker's covers it -- the maker's node is down -- which the verifier
# may report as a warning; the anchor still counts)
mud_verify 3 "$T/t100-v3.json" "$T/v3.json"
mud_expect "$T/v3.json" 0 VERIFIED "verify t100-v3 (anchored by the peer's record)"
assert_eq "$A3" "$(mud_field "$T/v3.json" .anchor)" "verify t100-v3: anchor"
assert_eq "" "$(vt_errors "$T/v3.json")" "verify t100-v3: error findings"
mud_verify 3 "$V2" "$T/v2.old.json"
mud_expect "$T/v2.old.json" 1 SUPERSEDED "verify thermostat-v2 after v3"
assert_eq "$A3" "$(mud_field "$T/v2.old.json" .superseded_by)" "verify v2 after v3: superseded_by"
tn_say "9b. the maker's mud-anchors from a peer: older, without ref, ref to a superseded anchor: not stored; ref to the current one: stored"

# --- 10. who counts: another manufacturer, a withdrawn anchor, an unknown device ----------------
# other (node 5, a manufacturer too) anchors the current thermostat file's bytes as well:
# with no --org or --device, the URL is contested and nothing verifies; pinned, each org's
# anchor does. (rival's node, stopped in 9a, links node 5 to the rest again.)
tn_net_start 4
O0=$(tn_shard_size "$(tn_net_data 5)" other)
mud_run anchor "$T/t100-v3.json" --data "$(tn_net_data 5)"
assert_rc 0 "mud anchor of t100-v3 by other"
AO=$(cat "$TN_OUT")
VT_NAME[$AO]=anchor.other
mud_wait_holds 3 "$AO" other=$((O0 + 1)) "other's anchor"
mud_verify 3 "$T/t100-v3.json" "$T/contested.json"
[ "$MUD_RC" == 1 ] || tn_fail "verify t100-v3 anchored by two orgs, no pin: exit code expected 1, actual $MUD_RC; findings: $(mud_findings "$T/contested.json")"
mud_has "$T/contested.json" MUD_URL_CONTESTED error null "verify of a URL two orgs anchored"
assert_eq fail "$(mud_field "$T/contested.json" .verdict)" "verify of a contested URL: verdict"
mud_verify 3 "$T/t100-v3.json" "$T/pinned.json" --org maker
mud_expect "$T/pinned.json" 0 VERIFIED "verify t100-v3 --org maker"
assert_eq "$A3" "$(mud_field "$T/pinned.json" .anchor)" "verify t100-v3 --org maker: the maker's anchor"
mud_verify 3 "$T/t100-v3.json" "$T/pinned.other.json" --org other
mud_expect "$T/pinned.other.json" 0 VERIFIED "verify t100-v3 --org other"
assert_eq "$AO" "$(mud_field "$T/pinned.other.json" .anchor)" "verify t100-v3 --org other: other's anchor"
# a device whose maker is unknown here: no anchor can be its file (with --org: that org's)
mud_verify 3 "$T/t100-v3.json" "$T/nosuch.json" --device urn:test:mud:no-such-device
mud_expect "$T/nosuch.json" 1 NOT_ANCHORED "verify --device of an unknown item"
mud_verify 3 "$V2" "$T/nosuch.org.json" --device urn:test:mud:no-such-device --org maker
mud_expect "$T/nosuch.org.json" 1 SUPERSEDED "verify v2 --device (unknown) --org maker"

# a file with a byte order mark (valid, with a warning) anchors and verifies; then its
# org withdraws the anchor with a supersede record: the file is SUPERSEDED
printf '\xef\xbb\xbf' >"$T/cam-bom.json"
cat "$CAM" >>"$T/cam-bom.json"
mud_run anchor "$T/cam-bom.json" --data "$(tn_net_data 5)"
assert_rc 0 "mud anchor of a camera file with a BOM"
AB=$(cat "$TN_OUT")
mud_verify 5 "$T/cam-bom.json" "$T/bom.json"
mud_expect "$T/bom.json" 0 VERIFIED "verify of the anchored file with a BOM"
vt_submit 5 withdraw <<EOF
{"type":"supersede","ref":"$AB"}
EOF
mud_verify 5 "$T/cam-bom.json" "$T/bom.withdrawn.json"
mud_expect "$T/bom.withdrawn.json" 1 SUPERSEDED "verify after other withdrew its anchor"
assert_eq "${VT_ID[withdraw]}" "$(mud_field "$T/bom.withdrawn.json" .superseded_by)" \
    "verify of a withdrawn anchor: superseded_by is the supersede record"
mud_has "$T/bom.withdrawn.json" MUD_SUPERSEDED error "$AB" "verify of a withdrawn anchor"
tn_say "10. a URL two orgs anchor: fail unless pinned; unknown device: NOT_ANCHORED; a file with a BOM anchors and verifies; a withdrawn anchor: SUPERSEDED"

# 11. A commit that fails names the event that failed. Two anchors of a new URL sent in two
# SUBMIT requests straight after each other over the raw API (tracectl would refuse the
# pair): both pass the node's check on arrival (the URL has no anchor yet), and the
# second cannot be stored after the first (it must supersede it, by an id it could not
# know). The second request's error names its event (index 0). The first request is
# either appended (if it was committed on its own) or fails with an index past its events
# (it shared the commit that failed) -- never with its own first event named.
T300=https://mud.thermoco.example/t300
tn_net_start 1
"$PY" - "$(tn_net_data 1)/api.sock" \
    "$(mud_anchor_spec "$T300" "$V1" 2026-01-01T00:00:00Z "$MODEL" | jq -c '{type: "mud-anchor", mud}')" \
    "$(mud_anchor_spec "$T300" "$V2" 2026-02-01T00:00:00Z "$MODEL" | jq -c '{type: "mud-anchor", mud}')" \
    >"$T/pair.json" <<'EOF'
import json, msgpack, socket, struct, sys
path, first, second = sys.argv[1:4]
a = [json.dumps({"type": "commission", "outputs": ["urn:itest:mud:pair:%d" % i]}) for i in range(1000)]
frames = b""
for req, events in ((1, a + [first]), (2, [second])):
    body = msgpack.packb([2, req, events], use_bin_type=True)
    frames += struct.pack(">I", len(body)) + body
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(120)
s.connect(path)
s.sendall(frames)  # one write: the node reads both before it answers either
out, buf = {}, b""
while len(out) < 2:
    chunk = s.recv(1 << 16)
    if not chunk:
        sys.exit("the node closed the connection")
    buf += chunk
    while len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
        n = struct.unpack(">I", buf[:4])[0]
        typ, req, body = msgpack.unpackb(buf[4:4 + n], raw=False)
        buf = buf[4 + n:]
        out[req] = {"ok": typ == 1, "n": len(body) if typ == 1 else None,
                    "index": None if typ == 1 else body["index"],
                    "msg": None if typ == 1 else body["msg"]}
print(json.dumps(out))
EOF
pair=$(cat "$T/pair.json")
tn_say "two requests, two anchors of one URL: $(jq -c '[.[] | {ok, index, msg: (.msg // "" | .[0:70])}]' <<<"$pair")"
assert_eq "false 0" "$(jq -r '"\(.["2"].ok) \(.["2"].index)"' <<<"$pair")" \
    "the second request: refused, naming its own event (index 0)"
if [ "$(jq -r '.["1"].ok' <<<"$pair")" == true ]; then
    assert_eq 1001 "$(jq -r '.["1"].n' <<<"$pair")" "the first request, committed on its own: its ids"
else
    assert_eq 1001 "$(jq -r '.["1"].index' <<<"$pair")" \
        "the first request, failed with the second's commit: an index past its 1,001 events"
    assert_match 'committed together with an event that failed' "$(jq -r '.["1"].msg' <<<"$pair")" \
        "the first request's error says why it was not appended"
fi
vt_net_stop 1
tn_say "11. a failed commit names the event that failed, not the first of every request in it"

vt_net_stop 2
vt_net_stop 3
tn_say "PASS"
