#!/usr/bin/python3
"""Forges tracenode offline bundles, clean or with one chosen defect, for the verifier
tests.

Written from the published formats (DESIGN sections 3-4, docs/FORMAT.md, node/bundle.h)
with Debian's python3-cbor2 and python3-nacl and none of tracenode's code. It signs the
records itself with the key files it is given, builds each org's RFC 9162 Merkle tree,
signs each org's checkpoint as a C2SP signed note, and writes the bundle as deterministic
CBOR (cbor2 canonical: shorter keys first, then bytewise -- the order tracenode uses):

  {"v": 1, "item": text, "proofs": [[record id, tree size, [hash...]]], "records": [bytes],
   "evidence": [], "ecosystem": bytes, "checkpoints": [note]}

Every non-defective part it writes is checked again with lib/verify.py (a separately
written verifier of records, inclusion proofs and checkpoints) before the bundle is
written, so a clean bundle that tracenode refuses points at tracenode, not at this tool.
Run it with /usr/bin/python3.

  forge.py self-test
      the worked example of docs/FORMAT.md (record bytes, id and the one-record shard's
      signed checkpoint), byte for byte; RFC 9162 paths against lib/verify.py.

  forge.py bundle --eco ECO --spec SPEC.json --key ORG=KEYFILE... --out BUNDLE
                  [--time MS] [--records-dir DIR]
      SPEC: {"item": ITEM, "records": [REC, ...]} with each REC
        {"name": N, "org": ORG, "type": T, [outputs|items|to|from|attrs|sealed...],
         "inputs": [{"item": I, "rec": "@NAME" | HEX | null}], "ref": "@NAME" | HEX,
         "defect": D, "signer": KEYFILE}
      Records get seq 0, 1, ... per org in list order, prev = the org's previous record,
      time = MS + 1000 * position (MS defaults to now - 10 min). Defects (one record each):
        bad-signature  one byte of the Ed25519 signature flipped (the bytes, id and Merkle
                       leaf are those of the flipped record)
        signer         signed (and kid) by "signer" KEYFILE instead of the org's key
        bad-prev       prev is SHA-256("not the record at seq-1"), not the record at seq-1
        bad-proof      the record's inclusion proof has its first hash altered (an extra
                       bogus hash if the path is empty), so it does not lead to the
                       checkpoint's root
      --records-dir writes each record's bytes to DIR/NAME.bin (for `tracectl import`).
      Prints one line of JSON: {"item", "ids": {NAME: HEX}, "orgs": {ORG: {"size", "root"}},
      "bytes", "selfcheck": "ok"}.

  forge.py offsets BUNDLE
      labelled byte offsets of a bundle's parts (each record's first, middle and last
      byte, each proof hash, each checkpoint's size, root and signature, the ecosystem's
      first, middle and last byte, the item): one "OFFSET LABEL" a line, for flip tests.

Exit 0 on success, 2 for bad usage or unreadable input, 3 if a part this tool made does
not pass its own independent check.
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import time

import cbor2
import nacl.signing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify as indep  # noqa: E402  (lib/verify.py: the independent checks)
from cose import ToolError, dcbor, load_key, public_key, sign_record  # noqa: E402

EM_DASH = "\u2014"


class SelfCheckError(Exception):
    pass


# --- primitives --------------------------------------------------------------------------

def sha256(b):
    return hashlib.sha256(b).digest()


def pk_of(sk):
    return public_key(sk)


# RFC 9162 section 2.1
def leaf_hash(raw):
    return sha256(b"\x00" + raw)


def node_hash(l, r):
    return sha256(b"\x01" + l + r)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    """Root over leaf hashes (non-empty)."""
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    """PATH(m, D[n]) over leaf hashes."""
    if len(leaves) == 1:
        return []
    k = split(len(leaves))
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def sign_checkpoint(origin, size, root, sk):
    """C2SP tlog-checkpoint in a signed note, key name = origin."""
    body = "%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())
    key_id = sha256(origin.encode() + b"\n" + b"\x01" + pk_of(sk))[:4]
    sig = sk.sign(body.encode()).signature
    return body + "\n" + "%s %s %s\n" % (EM_DASH, origin, base64.b64encode(key_id + sig).decode())


# --- self-test ---------------------------------------------------------------------------

WORKED_NOTE = (
    "demo-net/acme\n1\nAPJvRf5KCT3wc8r8v3XQ/9xCZCMQVk4jgR/px0zPdkw=\n\n"
    "\u2014 demo-net/acme z4JUWdGxZkk7d/9VZvWng4aYs5ZV5GYP7LpwWcUocobJDg/8TPkH1IPaC5elMh7LQ1"
    "rloJ23JCNkBYoX+wE58hl2Ygs=\n")


def self_test():
    sk = nacl.signing.SigningKey(bytes(range(32)))
    payload = {"v": 1, "net": "demo-net", "org": "acme", "seq": 0, "prev": None,
               "time": 1700000000000, "type": "commission",
               "outputs": ["urn:epc:id:sgtin:0614141.107346.1"],
               "attrs": {"lot": "L17", "model": "lightbulb2000"}}
    raw = sign_record(payload, sk)
    want = "a22d079e573d13f6787a34ac34c7696d4e080407c86441f82813e2d0e284990e"
    if len(raw) != 257 or sha256(raw).hex() != want:
        raise SelfCheckError("worked example record: %d bytes, id %s" % (len(raw), sha256(raw).hex()))
    note = sign_checkpoint("demo-net/acme", 1, mth([leaf_hash(raw)]), sk)
    if note != WORKED_NOTE:
        raise SelfCheckError("worked example checkpoint differs:\n%s" % note)
    indep.check_checkpoint(note, "demo-net/acme", pk_of(sk))
    # paths of every leaf of trees of 1..40 leaves, checked by lib/verify.py
    n_checked = 0
    for n in range(1, 41):
        leaves = [leaf_hash(b"leaf %d" % i) for i in range(n)]
        root = mth(leaves)
        for m in range(n):
            indep.verify_inclusion(leaves[m], m, n, path(m, leaves), root)
            n_checked += 1
    return {"self_test": "ok", "record_id": want, "proofs_checked": n_checked}


# --- bundles -----------------------------------------------------------------------------

def load_ecosystem(path_):
    try:
        raw = open(path_, "rb").read()
        doc = json.loads(raw)
    except (OSError, ValueError) as e:
        raise ToolError("cannot read ecosystem %s: %s" % (path_, e))
    return raw, doc


def resolve(ref, ids):
    if ref is None:
        return None
    if isinstance(ref, str) and ref.startswith("@"):
        if ref[1:] not in ids:
            raise ToolError("reference %s to a record not (yet) made" % ref)
        return bytes.fromhex(ids[ref[1:]])
    return bytes.fromhex(ref)


PAYLOAD_FIELDS = ("outputs", "items", "to", "from", "attrs", "eid", "mud")


def build_bundle(args):
    eco_raw, eco = load_ecosystem(args.eco)
    net = eco["network"]
    org_pk = {o["id"]: indep.parse_pk(o["key"]) for o in eco.get("orgs", [])}
    keys = {}
    for kv in args.key:
        org, _, f = kv.partition("=")
        if not f:
            raise ToolError("--key takes ORG=KEYFILE, got %r" % kv)
        keys[org] = load_key(f)
    try:
        spec = json.load(open(args.spec))
    except (OSError, ValueError) as e:
        raise ToolError("cannot read spec %s: %s" % (args.spec, e))
    t0 = args.time if args.time is not None else int(time.time() * 1000) - 600000

    ids, raws, recs_by_org, defects = {}, [], {}, {}
    for pos, r in enumerate(spec["records"]):
        org, name = r["org"], r["name"]
        if org not in keys:
            raise ToolError("no --key for org %s" % org)
        shard = recs_by_org.setdefault(org, [])
        payload = {"v": 1, "net": net, "org": org, "seq": len(shard),
                   "prev": bytes.fromhex(shard[-1][1]) if shard else None,
                   "time": t0 + 1000 * pos, "type": r["type"]}
        for f in PAYLOAD_FIELDS:
            if f in r:
                payload[f] = r[f]
        if "sealed" in r:
            payload["sealed"] = {k: bytes.fromhex(v) for k, v in r["sealed"].items()}
        if "inputs" in r:
            payload["inputs"] = [{"item": i["item"], "rec": resolve(i.get("rec"), ids)}
                                 for i in r["inputs"]]
        if "ref" in r:
            payload["ref"] = resolve(r["ref"], ids)
        defect = r.get("defect")
        sk = keys[org]
        if defect == "bad-prev":
            if not shard:
                raise ToolError("bad-prev needs a record at seq > 0")
            payload["prev"] = sha256(b"not the record at seq-1")
        elif defect == "signer":
            sk = load_key(r["signer"])
        elif defect not in (None, "bad-signature", "bad-proof"):
            raise ToolError("unknown defect %r" % defect)
        raw = sign_record(payload, sk, corrupt_byte=17 if defect == "bad-signature" else None)
        rid = sha256(raw).hex()
        if name in ids:
            raise ToolError("two records named %s" % name)
        ids[name] = rid
        shard.append((name, rid, raw))
        raws.append((name, org, raw))
        if defect:
            defects[name] = defect

    proofs, notes, orgs_out = {}, [], {}
    for org, shard in recs_by_org.items():
        leaves = [leaf_hash(raw) for _, _, raw in shard]
        root = mth(leaves)
        origin = "%s/%s" % (net, org)
        note = sign_checkpoint(origin, len(shard), root, keys[org])
        if org in org_pk:
            indep.check_checkpoint(note, origin, org_pk[org])  # self-check
        notes.append(note)
        orgs_out[org] = {"size": len(shard), "root": root.hex()}
        for m, (name, rid, raw) in enumerate(shard):
            p = path(m, leaves)
            if defects.get(name) == "bad-proof":
                p = [sha256(b"bogus" + p[0])] + p[1:] if p else [sha256(b"bogus")]
            else:
                indep.verify_inclusion(leaves[m], m, len(shard), p, root)  # self-check
            proofs[name] = [bytes.fromhex(rid), len(shard), p]

    # every record the tool did not damage on purpose passes the independent checks
    for name, org, raw in raws:
        if name in defects or org not in org_pk:
            continue
        try:
            indep.check_cose(raw, org_pk[org])
        except indep.Fail as e:
            raise SelfCheckError("record %s does not pass lib/verify.py: %s" % (name, e))

    bundle = {"v": 1, "item": spec["item"],
              "proofs": [proofs[name] for name, _, _ in raws],
              "records": [raw for _, _, raw in raws],
              "evidence": [],
              "ecosystem": eco_raw,
              "checkpoints": notes}
    data = dcbor(bundle)
    if list(cbor2.loads(data).keys()) != ["v", "item", "proofs", "records", "evidence",
                                          "ecosystem", "checkpoints"]:
        raise SelfCheckError("bundle keys are not in deterministic order")
    if os.path.exists(args.out):
        raise ToolError("%s exists" % args.out)
    with open(args.out, "wb") as f:
        f.write(data)
    if args.records_dir:
        os.makedirs(args.records_dir, exist_ok=True)
        for name, _, raw in raws:
            with open(os.path.join(args.records_dir, name + ".bin"), "wb") as f:
                f.write(raw)
    return {"item": spec["item"], "ids": ids, "orgs": orgs_out, "bytes": len(data),
            "defects": defects, "selfcheck": "ok"}


def offsets(args):
    try:
        raw = open(args.bundle, "rb").read()
    except OSError as e:
        raise ToolError(str(e))
    b = cbor2.loads(raw)
    out = []

    def add(off, label):
        if 0 <= off < len(raw):
            out.append((off, label))

    def find(needle, start, label_fn):
        at = raw.find(needle, start)
        if at < 0:
            raise ToolError("cannot locate %s" % label_fn(0))
        return at

    item = b["item"].encode()
    at = find(item, 0, lambda _: "item")
    add(at, "item first byte")
    add(at + len(item) - 1, "item last byte")
    p = find(b"\x66proofs", 0, lambda _: "proofs key")
    for i, (rid, size, hashes) in enumerate(b["proofs"]):
        p = find(rid, p, lambda _: "proof %d id" % i)
        add(p + 5, "proof %d record id" % i)
        add(p + 32, "proof %d tree size" % i)
        for k, h in enumerate(hashes):
            p = find(h, p, lambda _: "proof %d hash %d" % (i, k))
            add(p + 7, "proof %d hash %d" % (i, k))
    p = find(b"\x67records", 0, lambda _: "records key")
    for i, rec in enumerate(b["records"]):
        p = find(rec, p, lambda _: "record %d" % i)
        add(p, "record %d first byte (tag)" % i)
        add(p + len(rec) // 2, "record %d middle (payload)" % i)
        add(p + len(rec) - 1, "record %d last byte (signature)" % i)
        p += len(rec)
    e = find(b["ecosystem"], 0, lambda _: "ecosystem")
    n = len(b["ecosystem"])
    add(e, "ecosystem first byte")
    add(e + n // 2, "ecosystem middle")
    add(e + n - 1, "ecosystem last byte")
    p = find(b"\x6bcheckpoints", 0, lambda _: "checkpoints key")
    for i, note in enumerate(b["checkpoints"]):
        nb = note.encode()
        p = find(nb, p, lambda _: "checkpoint %d" % i)
        lines = note.split("\n")
        add(p + len(lines[0]) + 1, "checkpoint %d size" % i)
        add(p + len(lines[0]) + len(lines[1]) + 2 + 5, "checkpoint %d root" % i)
        add(p + len(nb) - 10, "checkpoint %d signature" % i)
        p += len(nb)
    seen = set()
    for off, label in out:
        if off not in seen:
            seen.add(off)
            print("%d %s" % (off, label))
    return None


def main():
    ap = argparse.ArgumentParser(description="forges tracenode bundles for tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("self-test")
    p = sub.add_parser("bundle")
    p.add_argument("--eco", required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--key", action="append", default=[])
    p.add_argument("--out", required=True)
    p.add_argument("--time", type=int)
    p.add_argument("--records-dir")
    p = sub.add_parser("offsets")
    p.add_argument("bundle")
    args = ap.parse_args()
    try:
        if args.cmd == "self-test":
            result = self_test()
        elif args.cmd == "bundle":
            result = build_bundle(args)
        else:
            result = offsets(args)
    except ToolError as e:
        print(json.dumps({"error": str(e)}))
        return 2
    except (SelfCheckError, indep.Fail) as e:
        print(json.dumps({"error": "self-check: %s" % e}))
        return 3
    if result is not None:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
