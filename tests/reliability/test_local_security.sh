#!/usr/bin/env bash
# Local security (issue 6), over a whole testnet run (testnet/demo: five nodes, a private
# field, a MUD anchor, replication, trace):
#   - no secret key (any org, node or governance key of the run, and the X25519 key derived
#     from it, as base64, hex or raw bytes) appears in any log line, in the demo's output,
#     or in any repository file;
#   - the private field's value appears only in its owner's repository;
#   - data dirs and database dirs are 0700, database files, key files and the API socket
#     0600, and another user (nobody) can neither read them nor connect to the socket.
. "$(dirname "$0")/../integration/lib/common.sh"

tn_setup
export TN_NET=$T/net TN_BIN
TN_BASE_PORT=$(tn_free_port_base 5) || tn_fail "no free ports for 5 nodes"
export TN_BASE_PORT
tn_run "$TN_SRC/testnet/demo"
for i in 1 2 3 4 5; do [ -f "$TN_NET/node$i/pid" ] && tn_net_register "$i"; done
assert_rc 0 "testnet/demo"
cp "$TN_OUT" "$T/demo.out"
cp "$TN_ERR" "$T/demo.err"
# the owner discloses its private field once: that path must not log the value either
CHIP_DATA=$TN_NET/node2/data
"$TRACECTL" log --data "$CHIP_DATA" chipworks --json >"$T/chip.log.json"
TRANSFORM=$(jq -r '.records[] | select(.type == "transform") | .id' "$T/chip.log.json")
tn_run "$TRACECTL" disclose --data "$CHIP_DATA" "$TRANSFORM" unit-cost --out "$T/disclosure.json"
assert_rc 0 "disclose the demo's private field"
for i in 1 2 3 4 5; do tn_net_stop "$i"; done

# every file the run wrote that is not a key file: logs, outputs, repositories
find "$TN_NET" "$T/demo.out" "$T/demo.err" -type f ! -name '*.key' ! -name 'disclosure.json' \
    >"$T/files.txt"
n_files=$(wc -l <"$T/files.txt")
n_keys=$(find "$TN_NET" -name '*.key' | wc -l)
assert_int_ge 11 "$n_keys" "key files of the run (5 org, 5 node, 1 governance)"
cat >"$T/scan.py" <<'PYEOF'
import base64, glob, os, sys
from nacl.bindings import crypto_sign_ed25519_sk_to_curve25519, crypto_sign_seed_keypair
net, listing = sys.argv[1], sys.argv[2]
needles = []
for path in glob.glob(os.path.join(net, "**", "*.key"), recursive=True):
    for line in open(path):
        if line.startswith("ed25519-secret:"):
            seed = base64.b64decode(line.split(":", 1)[1].strip())
            # the X25519 secret the node derives for Noise (crypto/noise.c)
            x = crypto_sign_ed25519_sk_to_curve25519(crypto_sign_seed_keypair(seed)[1])
            for name, secret in (("", seed), (" as X25519", x)):
                needles += [(path + name, "base64", base64.b64encode(secret)),
                            (path + name, "hex", secret.hex().encode()),
                            (path + name, "HEX", secret.hex().upper().encode()),
                            (path + name, "raw", secret)]
found = 0
for f in open(listing).read().split():
    data = open(f, "rb").read()
    for key, form, n in needles:
        if n in data:
            print("%s: the secret of %s (%s) is in it" % (f, key, form))
            found += 1
print("checked %d files for %d secrets (each seed, and its X25519 form) in 4 forms each"
      % (len(open(listing).read().split()), len(needles) // 4))
sys.exit(1 if found else 0)
PYEOF
# the scanner must find a secret where there is one
grep '^ed25519-secret:' "$TN_NET/governance.key" | cut -d: -f2 >"$T/canary.txt"
echo "$T/canary.txt" >"$T/canary.list"
if "$PY" "$T/scan.py" "$TN_NET" "$T/canary.list" >/dev/null; then
    tn_fail "the secret scanner does not see a planted secret"
fi
"$PY" "$T/scan.py" "$TN_NET" "$T/files.txt" >"$T/leaks.txt" ||
    tn_fail "secret material found: $(head -c 2000 "$T/leaks.txt")"
tn_say "$(tail -n 1 "$T/leaks.txt"): no secret key anywhere"

# the private value: only in chipworks' own repository (its secrets table)
VALUE="7.80 EUR"
assert_eq "$VALUE" "$(jq -r .value "$T/disclosure.json")" "the disclosed value"
while read -r f; do
    case "$f" in "$TN_NET"/node2/data/db/*) continue ;; esac
    assert_not_in_file "$f" "$VALUE" "the private field's value outside its owner's repository"
done <"$T/files.txt"
grep -a -F -q "$VALUE" "$TN_NET"/node2/data/db/data.mdb ||
    tn_fail "the owner's repository does not hold the private value (the test would prove nothing)"
tn_say "the private value is only in its owner's repository (checked $n_files files)"

# modes, and what another user can do
for i in 1 2 3 4 5; do
    d=$TN_NET/node$i/data
    assert_mode 700 "$d"
    assert_mode 700 "$d/db"
    assert_mode 600 "$d/db/data.mdb"
    assert_mode 600 "$d/db/lock.mdb"
    assert_mode 600 "$TN_NET/node$i/org.key"
    assert_mode 600 "$TN_NET/node$i/node.key"
done
assert_mode 600 "$TN_NET/governance.key"
# a node running again, to have a live socket
tn_net_start 5
assert_mode 600 "$TN_NET/node5/data/api.sock"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; }
chmod 755 "$T" "$TN_NET" "$TN_NET/node5" # only the data dir and the files guard themselves
for f in "$TN_NET/node5/data/db/data.mdb" "$TN_NET/node5/org.key" "$TN_NET/node5/node.key"; do
    if as_nobody cat "$f" >/dev/null 2>&1; then
        tn_fail "user nobody can read $f"
    fi
done
if as_nobody "$TRACECTL" status --data "$TN_NET/node5/data" >"$T/nobody.out" 2>&1; then
    tn_fail "user nobody can use the API socket: $(cat "$T/nobody.out")"
fi
tn_say "user nobody: cannot read repositories or key files, cannot use the API ($(head -n 1 "$T/nobody.out"))"
tn_net_stop 5
tn_say "PASS"
