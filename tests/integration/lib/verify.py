#!/usr/bin/python3
"""Independent verifier for tracenode records, inclusion proofs and checkpoints.

Uses only Debian's python3-cbor2 and python3-nacl (run it with /usr/bin/python3), and
none of tracenode's code, so that it checks the published formats, not the
implementation against itself:

  verify.py RECORD_FILE ORG_PUBKEY PROOF_JSON_FILE [--id HEX]
  verify.py --self-test      (checks the RFC 9162 proof code against MTH/PATH)

RECORD_FILE      the exact record bytes (`tracectl get --raw ID`)
ORG_PUBKEY       the signing org's key, "ed25519:" + base64 of 32 bytes
PROOF_JSON_FILE  `tracectl proof --json ID`
--id HEX         also require this record id

Checks, in order (DESIGN sections 3 and 4):
  * COSE_Sign1 (RFC 9052): tag 18, [protected bstr, {} , payload bstr, 64-byte sig],
    protected = {1: -8 (EdDSA), 4: kid = the org's 32-byte public key}; no trailing bytes;
    protected header, payload and whole record in deterministic CBOR (RFC 8949 4.2.1);
  * the Ed25519 signature over Sig_structure ["Signature1", protected, h'', payload];
  * record id = SHA-256(record bytes), equal to the proof's id (and --id);
  * payload: org/seq agree with the proof's org/index;
  * the RFC 9162 inclusion proof (2.1.3.2) of leaf SHA-256(0x00 || bytes) at index in a
    tree of size, against the proof's root;
  * the checkpoint, a C2SP signed note: body "<origin>\\n<size>\\n<base64 root>\\n",
    blank line, signature lines "\u2014 NAME base64(keyid[4] || sig[64])"; origin = net/org
    from the payload; a line by key name origin with key id
    SHA-256(name || 0x0A || 0x01 || pk)[:4] whose Ed25519 signature over the body verifies;
    its size and root equal the proof's.

On success prints the decoded payload as JSON on stdout (byte strings as lowercase hex)
and exits 0. On any mismatch prints "verify.py: FAIL: ..." to stderr and exits 1
(2 for bad usage).
"""
import base64
import binascii
import hashlib
import io
import json
import sys

import cbor2
import nacl.exceptions
import nacl.signing

EM_DASH = "\u2014"


class Fail(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def sha256(b):
    return hashlib.sha256(b).digest()


def parse_pk(text):
    need(text.startswith("ed25519:"), "public key %r does not start with ed25519:" % text)
    try:
        pk = base64.b64decode(text[len("ed25519:"):], validate=True)
    except binascii.Error as e:
        raise Fail("public key %r is not base64: %s" % (text, e))
    need(len(pk) == 32, "public key is %d bytes, expected 32" % len(pk))
    return pk


def cbor_decode_exact(data, what):
    """Decodes one CBOR item that must span all of data, and must be deterministic."""
    fp = io.BytesIO(data)
    try:
        obj = cbor2.CBORDecoder(fp).decode()
    except Exception as e:  # cbor2 raises several types
        raise Fail("%s is not valid CBOR: %s" % (what, e))
    need(fp.tell() == len(data),
         "%s has %d trailing bytes after the CBOR item" % (what, len(data) - fp.tell()))
    try:
        again = cbor2.dumps(obj, canonical=True)
    except Exception as e:
        raise Fail("%s cannot be re-encoded: %s" % (what, e))
    need(again == data,
         "%s is not deterministic CBOR (RFC 8949 4.2.1): re-encoding gives %s, bytes are %s"
         % (what, again.hex()[:120], data.hex()[:120]))
    return obj


def check_cose(raw, pk):
    rec = cbor_decode_exact(raw, "record")
    need(isinstance(rec, cbor2.CBORTag), "record is not a tagged CBOR item (got %s)" % type(rec).__name__)
    need(rec.tag == 18, "record tag is %d, expected 18 (COSE_Sign1)" % rec.tag)
    arr = rec.value
    need(isinstance(arr, list) and len(arr) == 4,
         "COSE_Sign1 must be an array of 4, got %r" % (type(arr).__name__,))
    protected, unprotected, payload, sig = arr
    need(isinstance(protected, bytes), "protected header must be a bstr")
    need(unprotected == {}, "unprotected header must be an empty map, got %r" % (unprotected,))
    need(isinstance(payload, bytes), "payload must be a bstr (not detached/nil)")
    need(isinstance(sig, bytes) and len(sig) == 64,
         "signature must be a 64-byte bstr, got %r bytes" % (len(sig) if isinstance(sig, bytes) else sig,))
    hdr = cbor_decode_exact(protected, "protected header")
    need(isinstance(hdr, dict), "protected header is not a map")
    need(set(hdr.keys()) == {1, 4},
         "protected header keys are %r, expected {1, 4}" % (sorted(hdr.keys(), key=repr),))
    need(hdr[1] == -8, "alg is %r, expected -8 (EdDSA)" % (hdr[1],))
    need(isinstance(hdr[4], bytes) and len(hdr[4]) == 32, "kid must be a 32-byte bstr")
    need(hdr[4] == pk, "kid %s is not the org's public key %s" % (hdr[4].hex(), pk.hex()))
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    try:
        nacl.signing.VerifyKey(pk).verify(tbs, sig)
    except nacl.exceptions.BadSignatureError:
        raise Fail("Ed25519 signature over the COSE Sig_structure does not verify")
    body = cbor_decode_exact(payload, "payload")
    need(isinstance(body, dict), "payload is not a CBOR map")
    for k in body:
        need(isinstance(k, str), "payload key %r is not text" % (k,))
    return body


def to_json(o):
    if isinstance(o, bytes):
        return o.hex()
    if isinstance(o, dict):
        return {str(k): to_json(v) for k, v in o.items()}
    if isinstance(o, list):
        return [to_json(v) for v in o]
    if isinstance(o, cbor2.CBORTag):
        return {"tag": o.tag, "value": to_json(o.value)}
    return o


def node_hash(l, r):
    return sha256(b"\x01" + l + r)


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2."""
    need(index < size, "index %d is not below tree size %d" % (index, size))
    fn, sn, r = index, size - 1, leaf
    for p in path:
        need(sn != 0, "inclusion proof is longer than the tree allows")
        if (fn & 1) or fn == sn:
            r = node_hash(p, r)
            if not (fn & 1):
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    need(sn == 0, "inclusion proof is shorter than the tree needs")
    need(r == root, "inclusion proof gives root %s, proof says %s" % (r.hex(), root.hex()))


def check_checkpoint(note, origin, pk):
    need(note.endswith("\n"), "checkpoint does not end with a newline")
    sep = note.find("\n\n")
    need(sep >= 0, "checkpoint has no blank line between body and signatures")
    body = note[:sep + 1]
    lines = body[:-1].split("\n")
    need(len(lines) >= 3, "checkpoint body has %d lines, expected at least 3" % len(lines))
    need(lines[0] == origin, "checkpoint origin %r, expected %r" % (lines[0], origin))
    need(lines[1].isdigit() and (lines[1] == "0" or not lines[1].startswith("0")),
         "checkpoint size %r is not a decimal number" % lines[1])
    size = int(lines[1])
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raise Fail("checkpoint root %r is not base64" % lines[2])
    need(len(root) == 32, "checkpoint root is %d bytes, expected 32" % len(root))
    sigs = note[sep + 2:]
    need(sigs.endswith("\n") and sigs.strip("\n") != "", "checkpoint has no signature lines")
    want_id = sha256(origin.encode() + b"\n" + b"\x01" + pk)[:4]
    found = False
    for line in sigs[:-1].split("\n"):
        need(line.startswith(EM_DASH + " "), "signature line %r does not start with an em dash" % line)
        parts = line[2:].split(" ")
        need(len(parts) == 2, "signature line %r is not 'NAME SIGNATURE'" % line)
        name, b64 = parts
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise Fail("signature line %r: not base64" % line)
        if name != origin or blob[:4] != want_id:
            continue  # someone else's (co)signature: ignored, as the spec requires
        need(len(blob) == 4 + 64, "signature blob is %d bytes, expected 68" % len(blob))
        try:
            nacl.signing.VerifyKey(pk).verify(body.encode(), blob[4:])
        except nacl.exceptions.BadSignatureError:
            raise Fail("checkpoint signature by %s does not verify over the note body" % name)
        found = True
    need(found, "checkpoint has no signature by key name %r with key id %s" % (origin, want_id.hex()))
    return size, root


def self_test():
    """Checks verify_inclusion against proofs built from the RFC 9162 2.1.1/2.1.3.1
    definitions (MTH and PATH), for every index of trees of size 1..70."""
    def mth(leaves):
        n = len(leaves)
        if n == 1:
            return sha256(b"\x00" + leaves[0])
        k = 1
        while k * 2 < n:
            k *= 2
        return node_hash(mth(leaves[:k]), mth(leaves[k:]))

    def path(m, leaves):
        n = len(leaves)
        if n == 1:
            return []
        k = 1
        while k * 2 < n:
            k *= 2
        if m < k:
            return path(m, leaves[:k]) + [mth(leaves[k:])]
        return path(m - k, leaves[k:]) + [mth(leaves[:k])]

    count = 0
    for n in range(1, 71):
        leaves = [b"leaf %d" % i for i in range(n)]
        root = mth(leaves)
        for m in range(n):
            p = path(m, leaves)
            verify_inclusion(sha256(b"\x00" + leaves[m]), m, n, p, root)
            if p:  # a damaged proof must fail
                bad = list(p)
                bad[0] = sha256(bad[0])
                try:
                    verify_inclusion(sha256(b"\x00" + leaves[m]), m, n, bad, root)
                    raise Fail("damaged proof accepted (index %d size %d)" % (m, n))
                except Fail as e:
                    if "damaged" in str(e):
                        raise
            count += 1
    # RFC 6962/9162 empty-tree and one-leaf roots are well known
    need(hashlib.sha256(b"").hexdigest() ==
         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sha256 broken")
    return count


def main(argv):
    args = list(argv[1:])
    if args == ["--self-test"]:
        try:
            n = self_test()
        except Fail as e:
            print("verify.py: FAIL: self-test: %s" % e, file=sys.stderr)
            return 1
        print("verify.py self-test: %d inclusion proofs checked" % n)
        return 0
    want_id = None
    if "--id" in args:
        i = args.index("--id")
        if i + 1 >= len(args):
            print("usage: verify.py RECORD_FILE ORG_PUBKEY PROOF_JSON_FILE [--id HEX]", file=sys.stderr)
            return 2
        want_id = args[i + 1].lower()
        del args[i:i + 2]
    if len(args) != 3:
        print("usage: verify.py RECORD_FILE ORG_PUBKEY PROOF_JSON_FILE [--id HEX]", file=sys.stderr)
        return 2
    rec_path, pk_text, proof_path = args
    try:
        with open(rec_path, "rb") as f:
            raw = f.read()
        with open(proof_path, "r", encoding="utf-8") as f:
            try:
                proof = json.load(f)
            except ValueError as e:
                raise Fail("proof file is not JSON: %s" % e)
        pk = parse_pk(pk_text)
        need(len(raw) > 0, "record file is empty")
        need(len(raw) <= 16384, "record is %d bytes, over the 16 KiB limit" % len(raw))

        body = check_cose(raw, pk)

        rid = sha256(raw).hex()
        for key in ("id", "org", "index", "size", "root", "path", "checkpoint"):
            need(key in proof, "proof JSON has no %r" % key)
        need(proof["id"] == rid, "record id: SHA-256(bytes) = %s, proof says %s" % (rid, proof["id"]))
        if want_id is not None:
            need(want_id == rid, "record id: SHA-256(bytes) = %s, expected %s" % (rid, want_id))

        for key in ("v", "net", "org", "seq", "time", "type"):
            need(key in body, "payload has no %r field" % key)
        need(body["org"] == proof["org"], "payload org %r, proof org %r" % (body["org"], proof["org"]))
        need(body["seq"] == proof["index"], "payload seq %r, proof index %r" % (body["seq"], proof["index"]))
        if body["seq"] == 0:
            need(body.get("prev", None) is None, "seq 0 must have prev null, got %r" % (body.get("prev"),))
        else:
            need(isinstance(body.get("prev"), bytes) and len(body["prev"]) == 32,
                 "seq %d must have a 32-byte prev" % body["seq"])

        index, size = proof["index"], proof["size"]
        need(isinstance(index, int) and isinstance(size, int), "proof index/size are not integers")
        try:
            root = bytes.fromhex(proof["root"])
            path = [bytes.fromhex(p) for p in proof["path"]]
        except (ValueError, TypeError):
            raise Fail("proof root/path are not hex")
        need(len(root) == 32 and all(len(p) == 32 for p in path), "proof hashes must be 32 bytes")
        verify_inclusion(sha256(b"\x00" + raw), index, size, path, root)

        origin = "%s/%s" % (body["net"], body["org"])
        cp_size, cp_root = check_checkpoint(proof["checkpoint"], origin, pk)
        need(cp_size == size, "checkpoint size %d, proof size %d" % (cp_size, size))
        need(cp_root == root, "checkpoint root %s, proof root %s" % (cp_root.hex(), root.hex()))
    except Fail as e:
        print("verify.py: FAIL: %s (record %s)" % (e, rec_path), file=sys.stderr)
        return 1
    except OSError as e:
        print("verify.py: FAIL: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(to_json(body), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
