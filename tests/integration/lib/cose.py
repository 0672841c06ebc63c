"""Keys and signed records for the Python test tools (peer.py, forge.py), written from
docs/FORMAT.md with cbor2 and PyNaCl only -- independent of the C code under test."""
import base64
import binascii

import cbor2
import nacl.signing


class ToolError(Exception):
    """The tool itself failed (usage, files): exit 2."""


def fmt_pk(pk):
    return "ed25519:" + base64.b64encode(pk).decode()


def parse_pk(text):
    if not text.startswith("ed25519:"):
        raise ToolError("public key %r does not start with ed25519:" % text)
    pk = base64.b64decode(text[len("ed25519:"):], validate=True)
    if len(pk) != 32:
        raise ToolError("public key %r is not 32 bytes" % text)
    return pk


def load_key(path):
    """An Ed25519 key file (docs/FORMAT.md): returns the nacl SigningKey."""
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        raise ToolError("cannot read key file %s: %s" % (path, e))
    for line in lines:
        if line.startswith("ed25519-secret:"):
            try:
                seed = base64.b64decode(line[len("ed25519-secret:"):], validate=True)
            except binascii.Error as e:
                raise ToolError("key file %s: secret is not base64: %s" % (path, e))
            if len(seed) != 32:
                raise ToolError("key file %s: secret is %d bytes, expected 32" % (path, len(seed)))
            return nacl.signing.SigningKey(seed)
    raise ToolError("key file %s has no ed25519-secret: line" % path)


def public_key(sk):
    return bytes(sk.verify_key)


def dcbor(obj):
    """Deterministic CBOR (RFC 8949 4.2.1; for text and small int keys cbor2's canonical
    order, shortest key first then bytewise, is the same)."""
    return cbor2.dumps(obj, canonical=True)


def sign_record(payload, sk, corrupt_byte=None):
    """COSE_Sign1 (tag 18, [protected {1: -8 (EdDSA), 4: kid = the signer's public key},
    {}, payload, signature]). corrupt_byte: flip the low bit of that signature byte."""
    protected = dcbor({1: -8, 4: public_key(sk)})
    body = dcbor(payload)
    tbs = cbor2.dumps(["Signature1", protected, b"", body])
    sig = bytearray(sk.sign(tbs).signature)
    if corrupt_byte is not None:
        sig[corrupt_byte] ^= 0x01
    return dcbor(cbor2.CBORTag(18, [protected, {}, body, bytes(sig)]))
