#!/usr/bin/python3
"""An independent tracenode peer, for the network integration tests.

Written from the published protocol (DESIGN sections 2-5, docs/FORMAT.md, proto/wire.h)
with Debian's Python libraries only -- dissononce (Noise), python3-msgpack, PyNaCl and
cbor2 -- and none of tracenode's code, so that it checks the wire protocol and the record
format, not the implementation against itself. Run it with /usr/bin/python3.

Transport: TCP; each frame is a 4-byte big-endian length and that many bytes. The
handshake is Noise_XX_25519_ChaChaPoly_SHA256 with this peer as initiator, prologue
b"tracenode/1\\n" + network id, static keys the X25519 form of the Ed25519 node keys, and
the payload of messages 2 and 3 = version byte 1 + the sender's Ed25519 node public key.
After it, each frame is Noise transport ciphertext of msgpack [type, req_id, body].

Subcommands (each prints ONE line of JSON and exits 0; exit 2 if the tool itself failed,
e.g. bad arguments or an unreadable file; exit 3 if the node broke the protocol in a way
that stops the tool, e.g. a responder payload that does not check out):

  self-test
      record encoding against the worked example of docs/FORMAT.md (byte for byte).
  handshake --key NODEKEY --eco ECO --addr HOST:PORT [--wait S]
      handshake, HELLO, empty CLOCK; waits for the node's HELLO and a CLOCK.
  listen-for-records --key NODEKEY --eco ECO --addr HOST:PORT [--wait S] [--stop-on-records]
      handshake, HELLO and a CLOCK claiming nothing; asks for every shard the node's CLOCK
      names (RANGE_REQ) and counts the records that arrive (RECORDS or PUSH) in S seconds.
  push --key NODEKEY --org-key ORGKEY --eco ECO --addr HOST:PORT --seq N [--prev HEX]
       --item X [--org ORG] [--bad-signature] [--wait S]
      handshake, HELLO, empty CLOCK, then a PUSH with one commission record signed with
      ORGKEY (org: --org, else the org the ecosystem gives that key); stays connected until
      the node closes the connection, or the record it holds at seq (read back with a
      RANGE_REQ once its CLOCK covers seq) is ours ("stored": true), or a FORK for that
      (org, seq) arrives, or S seconds pass.
  make-record --org-key ORGKEY --eco ECO --seq N [--prev HEX] --item X [--org ORG]
       [--bad-signature] --out FILE
      writes the record bytes (for inspection); prints its id.
  garbage --addr HOST:PORT [--framed] [--wait S]
      random bytes instead of the first handshake message. Unframed, the first byte is
      forced non-zero so the length prefix is always over any frame limit; --framed sends
      one well-framed 64-byte message of random bytes (an ephemeral key plus a payload the
      first handshake message must not have).
  silent --addr HOST:PORT [--wait S]
      connects and sends nothing: the node's handshake deadline must close it.
  raw --key NODEKEY --eco ECO --addr HOST:PORT
      (--huge-length [--length N] | --bad-msgpack | --unknown-even | --unknown-odd) [--wait S]
      after a good handshake, HELLO and empty CLOCK: a length prefix over the frame limit
      (default 65553 = 64 KiB of plaintext + 16-byte tag + 1), a valid encrypted frame of
      malformed msgpack, or a message of unknown type 1000 (even) / 1001 (odd). For the odd
      type it then sends a PING and waits for the PONG.

  slowloris --addr HOST:PORT [--after-msg2 --key NODEKEY --eco ECO] [--interval S] [--wait S]
      trickles the handshake one byte every S seconds (default 1): handshake message 1, or
      with --after-msg2 message 1 at once, then message 3 byte by byte. The node's handshake
      deadline (10 s from the TCP connection) must close it; bytes_sent says how far it got.
  replay --key NODEKEY --eco ECO --addr HOST:PORT [--frame N] [--wait S]
      a good session (HELLO, CLOCK, a PING answered by PONG), then the exact bytes of the
      N-th encrypted frame it sent again (default 0, the HELLO). Its Noise nonce is spent:
      the node must fail to decrypt it and close.
  flood --key NODEKEY --org-key ORGKEY --eco ECO --addr HOST:PORT [--org ORG]
        [--bad all|last] [--records N] [--pool N] [--item TAG] [--ids-out FILE] [--wait S]
      PUSH frames of records signed with ORGKEY, as fast as the node takes them, until it
      closes the connection or N records went out (default 1,000,000). --bad all (default):
      every signature is corrupted; --bad last: each frame's last record has a corrupted
      signature and the others are valid (the node verifies a whole frame before it
      finds the bad one). The frames come from a pool of --pool records (default 2048,
      made once per process, seq 0..pool-1 chained by prev, items TAG.0..); --ids-out
      writes the pool's record ids, one a line.
  zero-window --key NODEKEY --eco ECO --addr HOST:PORT [--org ORG] [--interval S]
        [--rcvbuf BYTES] [--wait S]
      handshake, HELLO, CLOCK; reads the node's HELLO and CLOCK, then never reads its socket
      again and asks for ranges of the largest shard (or ORG) every S seconds (default
      0.5; RANGE_REQ of 4,096 records, walking the shard and wrapping), so the node must
      bound what it queues for us and drop us. The close is seen as a send failing or the
      TCP state leaving ESTABLISHED, so closed_after_s is late by up to 2 intervals.
      unread_bytes: what the node got into our receive buffer (never read).
  fetch-shards --key NODEKEY --eco ECO --addr HOST:PORT [--rcvbuf BYTES] [--hold S]
        [--wait S]
      handshake, HELLO, CLOCK; reads the node's CLOCK, then asks for the first range of
      every shard it names, all at once, and reads nothing for S seconds (--hold, default
      1: the node's send queue fills with the first shard's records while the other
      requests wait behind it). Then reads, asking for each shard's next range when one
      ends (RECORDS with `last`), until every shard is fetched whole or the --wait window
      (from the connection) ends. shards: {org: records received}, shard_sizes (from the
      CLOCK), complete: every shard fetched whole; records must come in order.
  serve-short --key NODEKEY --org-key ORGKEY --eco ECO --addr HOST:PORT [--records M]
        [--wait S]
      holds M records of the org key's org (default 200, chained) and claims them in its
      CLOCK (with their RFC 9162 root). Answers the node's first range request whole but
      for the record in its middle (a gap: the records after it cannot be stored, yet the
      range ends with `last`), its second with only the first half of what it asked for,
      marked `last`, and every later one in full. Waits until the node's CLOCK shows all
      M (or S seconds, default 40). node_size: the node's size for the org at the end;
      ranges: [from, limit, records sent] of each request; reask_s: seconds from the
      short answer to the next request.
  push-claim --key NODEKEY --org-key ORGKEY --eco ECO --addr HOST:PORT [--records M]
        [--wait S]
      a new shard of M records of the org key's org (default 2048, chained) in PUSH frames,
      then at once a CLOCK claiming all M with their root: the CLOCK arrives while the
      node is still verifying the records. Answers whatever ranges the node asks for
      (ranges: [from, limit] of each) until the node's CLOCK shows all M (or S seconds,
      default 40). node_size: the node's size for the org at the end.
  attack [--workers N] [--rate R] (--duration S | --until-file F) [--max-attempts N]
         [--stagger S] [--keys K1,K2,...] [--sources A1,A2,...]
         [--ready-file F [--ready-after N]]
         [--results-out FILE] -- MODE MODE_ARGS...
      runs MODE (garbage, silent, raw, slowloris, replay, flood, zero-window, handshake,
      listen-for-records, push) again and again in N threads (default 1), at most R
      attempts a second in all (default: no limit), until S seconds passed or file F exists
      (attempts under way are finished: each ends when the node closes it or its --wait
      passes). Worker i starts i*S seconds late (--stagger) and, with --keys, uses the i-th
      node key instead of MODE's --key (the node keeps one session per node key, so
      concurrent sessions need distinct member keys); with --sources, worker i connects
      from the i-th local address (127.0.0.2, ...: one host each, as the node sees it).
      --ready-file is created once N
      attempts (--ready-after, default 1) have delivered their hostile input;
      --results-out gets one JSON line per attempt (local, closed_by_node, closed_after_s,
      handshake, error). Prints a summary:
      attempts, closed_by_node, not_closed (and the first few such results), errors (and
      the first few), closed_after_s_max / _median, records_received, frames_received,
      handshakes, sums of records_sent, ranges_asked, bytes_sent, unread_bytes_max, and
      the tool's own CPU seconds (cpu_s).

Result fields (as they apply): local (this side's HOST:PORT, as the node logs it),
handshake ("ok": completed and the responder checked out; "sent": we sent message 3 but the
node closed before anything else), closed_by_node, closed_after_s, frames_received,
types_received, records_received, clock ({org: size} last seen), pong, fork_received,
record_id, stored, node_record_at_seq, node_size, bytes_sent, records_sent, frames_sent,
ranges_asked, unread_bytes, replayed.
"""
import argparse
import copy
import fcntl
import functools
import hashlib
import json
import os
import resource
import socket
import statistics
import struct
import sys
import termios
import threading
import time

import msgpack
import nacl.bindings
import nacl.signing
from dissononce.cipher.chachapoly import ChaChaPolyCipher
from dissononce.dh.x25519.x25519 import X25519DH
from dissononce.dh.x25519.private import PrivateKey as X25519PrivateKey
from dissononce.hash.sha256 import SHA256Hash
from dissononce.processing.handshakepatterns.interactive.XX import XXHandshakePattern
from dissononce.processing.impl.cipherstate import CipherState
from dissononce.processing.impl.handshakestate import HandshakeState
from dissononce.processing.impl.symmetricstate import SymmetricState

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cose import ToolError, fmt_pk, parse_pk, public_key, sign_record  # noqa: E402
from cose import load_key as _load_key  # noqa: E402


@functools.lru_cache(maxsize=None)
def load_key(path):
    """A key file (cached: attack runs a mode many times)."""
    return _load_key(path)

PROLOGUE = b"tracenode/1\n"
WIRE_VERSION = 1
FRAME_MAX = 65536  # plaintext bytes of one frame
TAG = 16
NOISE_MSG_MAX = 65535

# proto/wire.h
HELLO, CLOCK, CONS_REQ, CONS, RANGE_REQ, RECORDS, PUSH, ANNOUNCE = 2, 4, 6, 8, 10, 12, 14, 15
FORK, ROOT_REQ, ROOT, PING, PONG, ERROR = 16, 18, 20, 22, 24, 26
UNKNOWN_EVEN, UNKNOWN_ODD = 1000, 1001
RANGE_LIMIT = 4096  # records per RANGE_REQ
TCP_ESTABLISHED = 1


class ProtocolError(Exception):
    """The node broke the protocol in a way that stops the tool: exit 3."""


class Closed(Exception):
    """The node closed the connection."""


# How many attempts have delivered their hostile input (attack --ready-file waits for it).
ENGAGED = {"count": 0, "cond": threading.Condition()}


def engage():
    """Called once per attempt, when its hostile input is out."""
    with ENGAGED["cond"]:
        ENGAGED["count"] += 1
        ENGAGED["cond"].notify_all()


# --- keys and the ecosystem ------------------------------------------------------------

def x25519_static(sk):
    """The X25519 form of an Ed25519 key pair (libsodium's birational map)."""
    sk64 = bytes(sk) + public_key(sk)
    return nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(sk64)


@functools.lru_cache(maxsize=None)
def load_ecosystem(path):
    try:
        doc = json.load(open(path))
    except (OSError, ValueError) as e:
        raise ToolError("cannot read ecosystem %s: %s" % (path, e))
    eco = {"network": doc["network"], "org_by_node": {}, "org_by_key": {}}
    for org in doc.get("orgs", []):
        eco["org_by_key"][parse_pk(org["key"])] = org["id"]
        for node in org.get("nodes", []):
            eco["org_by_node"][parse_pk(node["key"])] = org["id"]
    return eco


# --- frames ----------------------------------------------------------------------------

class Connection:
    """A TCP connection carrying length-prefixed frames."""

    def __init__(self, addr, timeout=5.0, rcvbuf=None, source=None):
        """source: the local address to connect from (attack --sources)."""
        host, _, port = addr.rpartition(":")
        if not host or not port.isdigit():
            raise ToolError("--addr must be HOST:PORT, got %r" % addr)
        info = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)[0]
        self.sock = socket.socket(info[0], info[1], info[2])
        try:
            if rcvbuf:  # before connect(), so that the window it announces is that small
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if source:
                self.sock.bind((source, 0))
            self.sock.settimeout(timeout)
            self.sock.connect(info[4])
        except OSError:
            self.sock.close()
            raise
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.closed_at = None
        self.opened_at = time.monotonic()
        self.sent = 0  # bytes
        self.received = 0

    def local(self):
        host, port = self.sock.getsockname()[:2]
        return "%s:%d" % (host, port)

    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            self._mark_closed()
            raise Closed(str(e))
        self.sent += len(data)

    def send_frame(self, body):
        self.send_raw(struct.pack(">I", len(body)) + body)

    def _mark_closed(self):
        if self.closed_at is None:
            self.closed_at = time.monotonic()

    def _fill(self, deadline):
        """Reads more bytes; False on timeout; raises Closed on EOF or reset."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 16)
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError) as e:
            self._mark_closed()
            raise Closed(str(e))
        if not chunk:
            self._mark_closed()
            raise Closed("end of stream")
        self.received += len(chunk)
        self.buf += chunk
        return True

    def recv_frame(self, deadline, max_len):
        """The next frame's bytes, or None at the deadline. Raises Closed."""
        while len(self.buf) < 4:
            if not self._fill(deadline):
                return None
        (n,) = struct.unpack(">I", self.buf[:4])
        if n > max_len:
            raise ProtocolError("node sent a frame length %d over the %d-byte limit" % (n, max_len))
        while len(self.buf) < 4 + n:
            if not self._fill(deadline):
                return None
        body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return body

    def wait_closed(self, deadline):
        """Discards what arrives until the node closes (True) or the deadline (False)."""
        try:
            while self._fill(deadline):
                self.buf = b""
        except Closed:
            return True
        return False

    def tcp_state(self):
        """The kernel's TCP state of the socket (Linux TCP_INFO: 1 ESTABLISHED, 7 CLOSE,
        8 CLOSE_WAIT), learnt without reading."""
        return self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]

    def unread(self):
        """Bytes waiting in the receive buffer, learnt without reading them."""
        return struct.unpack("i", fcntl.ioctl(self.sock, termios.FIONREAD, b"\0" * 4))[0]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# --- the Noise XX handshake --------------------------------------------------------------

def handshake_payload(sk):
    return bytes([WIRE_VERSION]) + public_key(sk)


def check_responder(payload, rs, eco):
    """Message 2's payload: version 1 and an Ed25519 node key whose X25519 form is the
    static key the handshake authenticated, listed in the ecosystem. Returns (pk, org)."""
    if len(payload) != 33 or payload[0] != WIRE_VERSION:
        raise ProtocolError("responder payload is not version %d + 32-byte key: %s"
                            % (WIRE_VERSION, payload.hex()))
    pk = payload[1:]
    x = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(pk)
    if x != rs:
        raise ProtocolError("responder node key %s is not the static key the handshake "
                            "authenticated" % fmt_pk(pk))
    org = eco["org_by_node"].get(pk)
    if org is None:
        raise ProtocolError("responder node key %s is not in the ecosystem" % fmt_pk(pk))
    return pk, org


class Session:
    """An open transport session: msgpack messages in encrypted frames."""

    def __init__(self, conn, send_cs, recv_cs, remote_pk, remote_org):
        self.conn = conn
        self.send_cs = send_cs
        self.recv_cs = recv_cs
        self.remote_pk = remote_pk
        self.remote_org = remote_org
        self.sent_frames = []  # the first few encrypted frames, as sent (for replay)

    def send_plain(self, plaintext):
        ct = self.send_cs.encrypt_with_ad(b"", plaintext)
        if len(self.sent_frames) < 8:
            self.sent_frames.append(struct.pack(">I", len(ct)) + ct)
        self.conn.send_frame(ct)

    def send_msg(self, mtype, req_id, body):
        self.send_plain(msgpack.packb([mtype, req_id, body], use_bin_type=True))

    def recv_msg(self, deadline):
        """The next message as (type, req_id, body), or None at the deadline."""
        ct = self.conn.recv_frame(deadline, FRAME_MAX + TAG)
        if ct is None:
            return None
        try:
            pt = self.recv_cs.decrypt_with_ad(b"", ct)
        except Exception as e:
            raise ProtocolError("a frame from the node failed authentication: %r" % e)
        msg = msgpack.unpackb(pt, raw=False)
        if not isinstance(msg, list) or len(msg) != 3:
            raise ProtocolError("node sent a message that is not [type, req_id, body]: %r" % msg)
        return msg[0], msg[1], msg[2]


def new_handshake(prologue, static_sk):
    dh = X25519DH()
    hs = HandshakeState(SymmetricState(CipherState(ChaChaPolyCipher()), SHA256Hash()), dh)
    s = dh.generate_keypair(X25519PrivateKey(static_sk))
    hs.initialize(XXHandshakePattern(), True, prologue, s=s)
    if hs.protocol_name != "Noise_XX_25519_ChaChaPoly_SHA256":
        raise ToolError("dissononce made protocol %s" % hs.protocol_name)
    return hs


def handshake(conn, sk, eco, deadline):
    """Initiator side of XX. Returns a Session; raises Closed if the node hangs up."""
    hs = new_handshake(PROLOGUE + eco["network"].encode(), x25519_static(sk))
    msg1 = bytearray()
    hs.write_message(b"", msg1)  # -> e
    conn.send_frame(bytes(msg1))
    msg2 = conn.recv_frame(deadline, NOISE_MSG_MAX)  # <- e, ee, s, es
    if msg2 is None:
        raise ProtocolError("no handshake message 2 from the node in time")
    payload = bytearray()
    try:
        hs.read_message(bytes(msg2), payload)
    except Exception as e:
        raise ProtocolError("handshake message 2 does not verify: %r" % e)
    remote_pk, remote_org = check_responder(bytes(payload), hs.rs.data, eco)
    msg3 = bytearray()
    cs_send, cs_recv = hs.write_message(handshake_payload(sk), msg3)  # -> s, se
    conn.send_frame(bytes(msg3))
    return Session(conn, cs_send, cs_recv, remote_pk, remote_org)


def our_org(sk, eco, override=None):
    return override or eco["org_by_node"].get(public_key(sk), "not-a-member")


def greet(sess, org):
    """HELLO, then a CLOCK claiming nothing."""
    sess.send_msg(HELLO, 0, {"v": WIRE_VERSION, "org": org, "features": ["push"]})
    sess.send_msg(CLOCK, 0, {"shards": []})


# --- records -----------------------------------------------------------------------------

def record_payload(net, org, seq, prev, time_ms, item, attrs=None):
    payload = {"v": 1, "net": net, "org": org, "seq": seq, "prev": prev, "time": time_ms,
               "type": "commission", "outputs": [item]}
    if attrs:
        payload["attrs"] = attrs
    return payload


def record_id(raw):
    return hashlib.sha256(raw).hexdigest()


def make_record(args, eco):
    sk = load_key(args.org_key)
    org = args.org or eco["org_by_key"].get(public_key(sk))
    if org is None:
        raise ToolError("org key %s is no org's key in the ecosystem; give --org"
                        % fmt_pk(public_key(sk)))
    prev = bytes.fromhex(args.prev) if args.prev else None
    if (prev is None) != (args.seq == 0):
        raise ToolError("--prev is required exactly when --seq > 0")
    payload = record_payload(eco["network"], org, args.seq, prev, int(time.time() * 1000),
                             args.item)
    return org, sign_record(payload, sk, 0 if args.bad_signature else None)


def self_test():
    """The worked example of docs/FORMAT.md, byte for byte."""
    sk = nacl.signing.SigningKey(bytes(range(32)))
    want_pk = "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg="
    if fmt_pk(public_key(sk)) != want_pk:
        raise ProtocolError("worked example public key %s" % fmt_pk(public_key(sk)))
    payload = record_payload("demo-net", "acme", 0, None, 1700000000000,
                             "urn:epc:id:sgtin:0614141.107346.1",
                             {"lot": "L17", "model": "lightbulb2000"})
    raw = sign_record(payload, sk)
    want = "a22d079e573d13f6787a34ac34c7696d4e080407c86441f82813e2d0e284990e"
    if len(raw) != 257 or record_id(raw) != want:
        raise ProtocolError("worked example: %d bytes, id %s; expected 257 bytes, id %s"
                            % (len(raw), record_id(raw), want))
    # the Noise suite is the one tracenode names
    new_handshake(PROLOGUE, bytes(32))
    return {"self_test": "ok", "record_bytes": len(raw), "record_id": record_id(raw)}


# --- observing the node --------------------------------------------------------------------

class Observer:
    """Reads the node's messages, keeping what the tests ask about."""

    def __init__(self, sess):
        self.sess = sess
        self.frames = 0
        self.types = []
        self.records = 0
        self.clock = {}
        self.clock_seen = False
        self.hello = None
        self.pongs = set()
        self.forks = []  # (org, at) of each FORK received
        self.asked = set()
        self.ask_ranges = False
        # push mode: read back the node's record at (org, seq) once its CLOCK covers it
        self.readback = None  # (org, seq)
        self.readback_pending = False
        self.at_seq = None  # id (hex) of the node's record at that seq, once read back

    def handle(self, mtype, req_id, body):
        self.frames += 1
        if mtype not in self.types:
            self.types.append(mtype)
        if mtype == HELLO:
            self.hello = body
        elif mtype == CLOCK:
            self.clock_seen = True
            for org, size, _root, _note in body.get("shards", []):
                self.clock[org] = size
                if self.ask_ranges and size > 0 and org not in self.asked:
                    self.asked.add(org)
                    self.sess.send_msg(RANGE_REQ, 0, {"org": org, "from": 0,
                                                      "limit": min(size, 4096)})
                self.maybe_read_back(org, size)
        elif mtype == RECORDS and self.is_read_back(body):
            self.readback_pending = False
            recs = body.get("recs", [])
            if recs:
                self.at_seq = record_id(recs[0])
        elif mtype in (RECORDS, PUSH):
            self.records += len(body.get("recs", []))
        elif mtype == PONG:
            self.pongs.add(req_id)
        elif mtype == FORK:
            self.forks.append((body.get("org"), body.get("at")))
        elif mtype == PING:
            self.sess.send_msg(PONG, req_id, {})

    def maybe_read_back(self, org, size):
        """Asks for the record at the read-back seq once the node's shard covers it (the
        shard is append-only: the first answer is final)."""
        if (self.readback and self.readback[0] == org and size > self.readback[1]
                and self.at_seq is None and not self.readback_pending):
            self.readback_pending = True
            self.sess.send_msg(RANGE_REQ, 0, {"org": org, "from": self.readback[1], "limit": 1})

    def is_read_back(self, body):
        return (self.readback_pending and body.get("org") == self.readback[0]
                and body.get("from") == self.readback[1])

    def run_until(self, deadline, done=lambda obs: False):
        """Handles messages until done(self), the deadline (False) or a close (Closed)."""
        while not done(self):
            msg = self.sess.recv_msg(deadline)
            if msg is None:
                return False
            self.handle(*msg)
        return True

    def result(self):
        return {"frames_received": self.frames, "types_received": self.types,
                "records_received": self.records, "clock": self.clock,
                "clock_received": self.clock_seen, "hello": self.hello,
                "fork_received": bool(self.forks),
                "forks": ["%s@%s" % f for f in self.forks], "pongs": sorted(self.pongs),
                "node_record_at_seq": self.at_seq}


def closed_fields(conn, closed):
    return {"closed_by_node": closed,
            "closed_after_s": round(conn.closed_at - conn.opened_at, 3) if closed else None}


# --- modes -------------------------------------------------------------------------------

def run_session(args, result, body):
    """Connects, handshakes (initiator), sends HELLO and a CLOCK claiming nothing, then
    calls body(sess, obs). A close by the node at any point ends it: the result gets the
    observations and whether (and when) the node closed."""
    sk = load_key(args.key)
    eco = load_ecosystem(args.eco)
    conn = Connection(args.addr, source=getattr(args, "source", None))
    result["local"] = conn.local()
    result["handshake"] = "failed"
    obs = Observer(None)
    closed = False
    try:
        sess = handshake(conn, sk, eco, time.monotonic() + args.wait + 5)
        result["handshake"] = "sent"
        result["responder"] = fmt_pk(sess.remote_pk)
        result["responder_org"] = sess.remote_org
        obs.sess = sess
        greet(sess, our_org(sk, eco))
        closed = body(sess, obs) is True
    except Closed:
        closed = True
    if obs.frames:
        result["handshake"] = "ok"  # the node talked to us: it accepted the session
    result.update(obs.result())
    result.update(closed_fields(conn, closed))
    conn.close()
    return result


def mode_handshake(args):
    result = {"mode": "handshake"}

    def body(sess, obs):
        obs.run_until(time.monotonic() + args.wait,
                      lambda o: o.hello is not None and o.clock_seen)

    return run_session(args, result, body)


def mode_listen(args):
    result = {"mode": "listen-for-records"}

    def body(sess, obs):
        obs.ask_ranges = True
        stop = (lambda o: o.records > 0) if args.stop_on_records else (lambda o: False)
        obs.run_until(time.monotonic() + args.wait, stop)

    return run_session(args, result, body)


def mode_push(args):
    result = {"mode": "push"}
    eco = load_ecosystem(args.eco)
    org, raw = make_record(args, eco)
    result.update({"record_id": record_id(raw), "record_org": org, "seq": args.seq,
                   "bad_signature": args.bad_signature})

    rid = record_id(raw)

    def body(sess, obs):
        sess.send_msg(PUSH, 0, {"recs": [raw]})
        # Stay connected (a node may drop what a departed peer sent) until the node closes,
        # the record it holds at seq reads back as ours, a FORK for (org, seq) arrives, or
        # the window ends.
        obs.readback = (org, args.seq)
        obs.run_until(time.monotonic() + args.wait,
                      lambda o: o.at_seq == rid or (org, args.seq) in o.forks)

    run_session(args, result, body)
    result["node_size"] = result["clock"].get(org, 0)
    result["stored"] = result["node_record_at_seq"] == rid
    return result


def mode_make_record(args):
    eco = load_ecosystem(args.eco)
    org, raw = make_record(args, eco)
    with open(args.out, "wb") as f:
        f.write(raw)
    return {"mode": "make-record", "record_id": record_id(raw), "record_org": org,
            "bytes": len(raw)}


def mode_garbage(args):
    conn = Connection(args.addr, source=getattr(args, "source", None))
    result = {"mode": "garbage", "local": conn.local(), "framed": args.framed}
    if args.framed:
        data = struct.pack(">I", 64) + os.urandom(64)
    else:
        data = bytes([1 + os.urandom(1)[0] % 255]) + os.urandom(255)
    closed = False
    try:
        conn.send_raw(data)
        engage()
        closed = conn.wait_closed(time.monotonic() + args.wait)
    except Closed:
        closed = True
    result["sent"] = len(data)
    result.update(closed_fields(conn, closed))
    conn.close()
    return result


def mode_silent(args):
    conn = Connection(args.addr, source=getattr(args, "source", None))
    result = {"mode": "silent", "local": conn.local()}
    engage()
    closed = conn.wait_closed(time.monotonic() + args.wait)
    result.update(closed_fields(conn, closed))
    conn.close()
    return result


def hostile_send(sess, args, result):
    """Sends the chosen hostile input; for --unknown-odd also a PING (req 77)."""
    engage()
    if args.huge_length:
        result["hostile"] = "huge-length %d" % args.length
        sess.conn.send_raw(struct.pack(">I", args.length) + os.urandom(64))
    elif args.bad_msgpack:
        result["hostile"] = "bad-msgpack"
        sess.send_plain(b"\x93\x02\x00\xc1")  # [2, 0, <0xc1: never valid msgpack>]
    elif args.unknown_even:
        result["hostile"] = "unknown type %d" % UNKNOWN_EVEN
        sess.send_msg(UNKNOWN_EVEN, 0, {})
    else:
        result["hostile"] = "unknown type %d" % UNKNOWN_ODD
        sess.send_msg(UNKNOWN_ODD, 0, {"x": 1})
        sess.send_msg(PING, 77, {})


def mode_raw(args):
    result = {"mode": "raw"}

    def body(sess, obs):
        # the node's HELLO first: the session is up before the hostile input
        if not obs.run_until(time.monotonic() + 5, lambda o: o.hello is not None):
            raise ProtocolError("no HELLO from the node within 5 s of the handshake")
        hostile_send(sess, args, result)
        if args.unknown_odd:
            obs.run_until(time.monotonic() + args.wait, lambda o: 77 in o.pongs)
            return False
        return sess.conn.wait_closed(time.monotonic() + args.wait)

    run_session(args, result, body)
    result["pong"] = 77 in result["pongs"]
    return result


def mode_slowloris(args):
    conn = Connection(args.addr, source=getattr(args, "source", None))
    result = {"mode": "slowloris", "local": conn.local(), "after_msg2": args.after_msg2,
              "interval_s": args.interval}
    closed = False
    try:
        if args.after_msg2:
            # message 1 at once, message 2 read and checked, then message 3 trickled
            if not args.key or not args.eco:
                raise ToolError("slowloris --after-msg2 needs --key and --eco")
            sk = load_key(args.key)
            eco = load_ecosystem(args.eco)
            hs = new_handshake(PROLOGUE + eco["network"].encode(), x25519_static(sk))
            msg1 = bytearray()
            hs.write_message(b"", msg1)
            conn.send_frame(bytes(msg1))
            msg2 = conn.recv_frame(time.monotonic() + 5, NOISE_MSG_MAX)
            if msg2 is None:
                raise ProtocolError("no handshake message 2 from the node in time")
            payload = bytearray()
            try:
                hs.read_message(bytes(msg2), payload)
            except Exception as e:
                raise ProtocolError("handshake message 2 does not verify: %r" % e)
            check_responder(bytes(payload), hs.rs.data, eco)
            msg3 = bytearray()
            hs.write_message(handshake_payload(load_key(args.key)), msg3)
            data = struct.pack(">I", len(msg3)) + bytes(msg3)
        else:
            # a real message 1: a fresh ephemeral X25519 key, framed
            e = X25519DH().generate_keypair()
            data = struct.pack(">I", 32) + e.public.data
        result["bytes_total"] = len(data)
        deadline = conn.opened_at + args.wait
        for i in range(len(data)):
            conn.send_raw(data[i:i + 1])
            if i == 0:
                engage()
            if conn.wait_closed(min(deadline, time.monotonic() + args.interval)):
                closed = True
                break
            if time.monotonic() >= deadline:
                break
        else:
            # all of it went out: the node may answer (it should have cut us before)
            closed = conn.wait_closed(deadline)
    except Closed:
        closed = True
    result["bytes_sent"] = conn.sent
    result["bytes_received"] = conn.received
    result.update(closed_fields(conn, closed))
    conn.close()
    return result


def mode_replay(args):
    result = {"mode": "replay"}

    def body(sess, obs):
        if not obs.run_until(time.monotonic() + 5, lambda o: o.hello is not None):
            raise ProtocolError("no HELLO from the node within 5 s of the handshake")
        sess.send_msg(PING, 78, {})
        obs.run_until(time.monotonic() + 5, lambda o: 78 in o.pongs)
        result["pong_before_replay"] = 78 in obs.pongs
        if args.frame >= len(sess.sent_frames):
            raise ToolError("--frame %d: only %d frames were sent" % (args.frame,
                                                                    len(sess.sent_frames)))
        frame = sess.sent_frames[args.frame]
        result["replayed"] = "frame %d (nonce %d, %d bytes)" % (args.frame, args.frame,
                                                               len(frame))
        sess.conn.send_raw(frame)
        engage()
        return sess.conn.wait_closed(time.monotonic() + args.wait)

    return run_session(args, result, body)


@functools.lru_cache(maxsize=None)
def flood_frames(org_key, eco_path, org_override, bad, pool, tag):
    """The flood's PUSH bodies: a pool of records (seq 0..pool-1, chained by prev), cut into
    frames of at most 256 records (one ingest job of the node's) that fit a frame. bad:
    "all" corrupts every signature, "last" each frame's last one. Returns ([(frame
    plaintext, records in it)], ids, org)."""
    eco = load_ecosystem(eco_path)
    sk = load_key(org_key)
    org = org_override or eco["org_by_key"].get(public_key(sk))
    if org is None:
        raise ToolError("org key %s is no org's key in the ecosystem; give --org"
                        % fmt_pk(public_key(sk)))
    now = int(time.time() * 1000)
    payloads, prev = [], None
    for seq in range(pool):
        payloads.append(record_payload(eco["network"], org, seq, prev, now + seq,
                                       "%s.%d" % (tag, seq)))
        # the chain as if every record were good: prev is the id of the valid record
        prev = bytes.fromhex(record_id(sign_record(payloads[-1], sk)))
    budget = FRAME_MAX - 64
    groups, cur, size = [], [], 0
    for p in payloads:
        n = len(sign_record(p, sk)) + 5
        if cur and (len(cur) == 256 or size + n > budget):
            groups.append(cur)
            cur, size = [], 0
        cur.append(p)
        size += n
    if cur:
        groups.append(cur)
    frames, ids = [], []
    for g in groups:
        recs = []
        for i, p in enumerate(g):
            corrupt = bad == "all" or i == len(g) - 1
            recs.append(sign_record(p, sk, (p["seq"] % 64) if corrupt else None))
        ids.extend(record_id(r) for r in recs)
        frames.append((msgpack.packb([PUSH, 0, {"recs": recs}], use_bin_type=True), len(recs)))
    return frames, ids, org


def mode_flood(args):
    result = {"mode": "flood", "bad": args.bad}
    frames, ids, org = flood_frames(os.path.abspath(args.org_key), os.path.abspath(args.eco),
                                    args.org, args.bad, args.pool, args.item)
    if args.ids_out:
        with open(args.ids_out, "w") as f:
            f.write("".join(i + "\n" for i in ids))
    result.update({"record_org": org, "pool": len(ids), "pool_frames": len(frames),
                   "first_id": ids[0], "last_id": ids[-1]})
    sent = {"records": 0, "frames": 0}

    def body(sess, obs):
        deadline = time.monotonic() + args.wait
        sess.conn.sock.settimeout(max(0.1, args.wait))
        try:
            while sent["records"] < args.records and time.monotonic() < deadline:
                for frame, count in frames:
                    sess.send_plain(frame)
                    sent["records"] += count
                    sent["frames"] += 1
                    if sent["frames"] == 1:
                        engage()
                    if sent["records"] >= args.records:
                        break
        except socket.timeout:
            result["send_stalled"] = True  # the node stopped reading us: it should close
        return sess.conn.wait_closed(deadline)

    run_session(args, result, body)
    result["records_sent"] = sent["records"]
    result["frames_sent"] = sent["frames"]
    return result


def greeted_session(conn, sk, eco, result, obs, also=lambda o: True):
    """Handshake, HELLO and an empty CLOCK; then waits (10 s at most) for the node's HELLO
    and CLOCK and also(obs). result["handshake"] says how far it got."""
    sess = handshake(conn, sk, eco, time.monotonic() + 10)
    result["handshake"] = "sent"
    obs.sess = sess
    greet(sess, our_org(sk, eco))
    if not obs.run_until(time.monotonic() + 10,
                         lambda o: o.hello is not None and o.clock_seen and also(o)):
        raise ProtocolError("no HELLO and CLOCK from the node within 10 s")
    return sess


def mode_zero_window(args):
    sk = load_key(args.key)
    eco = load_ecosystem(args.eco)
    conn = Connection(args.addr, rcvbuf=args.rcvbuf, source=getattr(args, "source", None))
    result = {"mode": "zero-window", "local": conn.local(), "handshake": "failed"}
    obs = Observer(None)
    closed = False
    asked = 0
    unread = 0
    try:
        sess = greeted_session(conn, sk, eco, result, obs,
                               lambda o: args.org is None or args.org in o.clock)
        result["handshake"] = "ok"
        org = args.org or max(obs.clock, key=lambda k: obs.clock[k], default=None)
        size = obs.clock.get(org, 0)
        if not size:
            raise ToolError("the node holds no records to ask for (CLOCK %r)" % obs.clock)
        result.update({"org": org, "shard_size": size})
        # From here on nothing is read: the node's frames pile up in our receive buffer,
        # then in its kernel send buffer, then in its own queue.
        deadline = conn.opened_at + args.wait
        sess.conn.sock.settimeout(2.0)
        frm = 0
        while time.monotonic() < deadline:
            try:
                sess.send_msg(RANGE_REQ, 0, {"org": org, "from": frm,
                                             "limit": min(RANGE_LIMIT, size - frm)})
                asked += 1
                if asked == 1:
                    engage()
            except socket.timeout:
                result["send_stalled"] = True  # it stopped reading us too
            frm = frm + RANGE_LIMIT if frm + RANGE_LIMIT < size else 0
            unread = max(unread, conn.unread())
            if conn.tcp_state() != TCP_ESTABLISHED:
                conn._mark_closed()
                closed = True
                break
            time.sleep(args.interval)  # the attacker's pace, not a synchronisation
    except Closed:
        closed = True
    except OSError as e:  # a reset seen by getsockopt/ioctl
        result["os_error"] = str(e)
        conn._mark_closed()
        closed = True
    result.update({"ranges_asked": asked, "unread_bytes": unread,
                   "frames_received": obs.frames})
    result.update(closed_fields(conn, closed))
    conn.close()
    return result


def mode_fetch_shards(args):
    sk = load_key(args.key)
    eco = load_ecosystem(args.eco)
    conn = Connection(args.addr, rcvbuf=args.rcvbuf)
    result = {"mode": "fetch-shards", "local": conn.local(), "handshake": "failed"}
    obs = Observer(None)
    closed = False
    got = {}  # org -> records received, in order
    ended = {}  # org -> where the range being fetched ends
    try:
        sess = greeted_session(conn, sk, eco, result, obs)
        result["handshake"] = "ok"
        sizes = {org: size for org, size in obs.clock.items() if size > 0}
        result["shard_sizes"] = sizes

        def ask(org):
            frm = got[org]
            ended[org] = min(sizes[org], frm + RANGE_LIMIT)
            sess.send_msg(RANGE_REQ, 0, {"org": org, "from": frm, "limit": ended[org] - frm})

        for org in sorted(sizes):
            got[org] = 0
            ask(org)
        time.sleep(args.hold)  # not a synchronisation: the node must cope with a slow reader
        deadline = conn.opened_at + args.wait
        while any(got[o] < sizes[o] for o in sizes):
            msg = sess.recv_msg(deadline)
            if msg is None:
                break
            mtype, _req, body = msg
            if mtype == PING:
                sess.send_msg(PONG, _req, {})
            if mtype != RECORDS or body.get("org") not in got:
                continue
            org, recs = body["org"], body.get("recs", [])
            if body.get("from") != got[org]:
                raise ProtocolError("shard %s: records from %r, expected from %d" %
                                    (org, body.get("from"), got[org]))
            got[org] += len(recs)
            if body.get("last") and got[org] < sizes[org]:
                if got[org] < ended[org]:
                    raise ProtocolError("shard %s: range ended at %d, asked up to %d" %
                                        (org, got[org], ended[org]))
                ask(org)
    except Closed:
        closed = True
    result.update({"shards": got, "complete": bool(got) and
                   all(got[o] >= sizes[o] for o in sizes)})
    result.update(closed_fields(conn, closed))
    conn.close()
    return result


def merkle_root(leaves):
    """RFC 9162 section 2.1.1: MTH of the record bytes."""
    def mth(lo, hi):
        if hi - lo == 1:
            return hashlib.sha256(b"\x00" + leaves[lo]).digest()
        k = 1
        while k * 2 < hi - lo:
            k *= 2
        return hashlib.sha256(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi)).digest()
    return mth(0, len(leaves)) if leaves else hashlib.sha256(b"").digest()


def org_chain(args, count, tag):
    """count commission records of the org key's org, seq 0.., chained by prev.
    Returns (eco, org, records)."""
    eco = load_ecosystem(args.eco)
    osk = load_key(args.org_key)
    org = eco["org_by_key"].get(public_key(osk))
    if org is None:
        raise ToolError("org key %s is no org's key in the ecosystem" % fmt_pk(public_key(osk)))
    now = int(time.time() * 1000)
    recs, prev = [], None
    for seq in range(count):
        raw = sign_record(record_payload(eco["network"], org, seq, prev, now + seq,
                                         "%s.%d" % (tag, seq)), osk)
        recs.append(raw)
        prev = bytes.fromhex(record_id(raw))
    return eco, org, recs


def push_frames(recs):
    """PUSH bodies of at most 256 records (one ingest job of the node's) that fit a frame."""
    frames, cur, size = [], [], 0
    for r in recs:
        if cur and (len(cur) == 256 or size + len(r) + 5 > FRAME_MAX - 64):
            frames.append({"recs": cur})
            cur, size = [], 0
        cur.append(r)
        size += len(r) + 5
    if cur:
        frames.append({"recs": cur})
    return frames


def send_records(sess, org, recs, a, b, end):
    """RECORDS of recs[a:b], 200 a message; `last` on the one that reaches end."""
    for i in range(a, b, 200):
        sess.send_msg(RECORDS, 0, {"org": org, "from": i, "recs": recs[i:min(i + 200, b)],
                                   "last": min(i + 200, b) >= end})


def serve_shard(args, mode, tag, opening, on_range):
    """A live peer holding a new chain of args.records records of the org key's org, for
    the node to fetch: connects, handshakes, sends opening(sess, org, recs, clock, result)
    (its HELLO and a CLOCK claiming them all, at least), then answers PING, repeats the
    CLOCK each second and hands each RANGE_REQ for the org to on_range(sess, org, recs,
    from, limit, result), until the node's CLOCK shows all the records or args.wait seconds
    from the connection pass. result: mode, org, records, ranges, node_size, complete and
    how the session ended."""
    eco, org, recs = org_chain(args, args.records, tag)
    clock = {"shards": [[org, args.records, merkle_root(recs), None]]}
    result = {"mode": mode, "org": org, "records": args.records, "ranges": []}
    conn = Connection(args.addr)
    result["local"] = conn.local()
    closed = False
    node_size = 0
    try:
        sess = handshake(conn, load_key(args.key), eco, time.monotonic() + 10)
        result["handshake"] = "ok"
        opening(sess, our_org(load_key(args.key), eco), recs, clock, result)
        deadline = conn.opened_at + args.wait
        next_clock = time.monotonic() + 1
        while node_size < args.records:
            msg = sess.recv_msg(min(deadline, next_clock))
            if time.monotonic() >= next_clock:  # a live peer says where it stands
                sess.send_msg(CLOCK, 0, clock)
                next_clock = time.monotonic() + 1
            if msg is None:
                if time.monotonic() >= deadline:
                    break
                continue
            mtype, req_id, body = msg
            if mtype == PING:
                sess.send_msg(PONG, req_id, {})
            elif mtype == CLOCK:
                for o, size, _root, _note in body.get("shards", []):
                    if o == org:
                        node_size = size
            elif mtype == RANGE_REQ and body.get("org") == org:
                on_range(sess, org, recs, body["from"], body["limit"], result)
    except Closed:
        closed = True
    result.update({"node_size": node_size, "complete": node_size >= args.records})
    result.update(closed_fields(conn, closed))
    conn.close()
    return result


def mode_serve_short(args):
    short_at = []

    def opening(sess, our, recs, clock, result):
        sess.send_msg(HELLO, 0, {"v": WIRE_VERSION, "org": our, "features": ["push"]})
        sess.send_msg(CLOCK, 0, clock)

    def on_range(sess, org, recs, frm, limit, result):
        end = min(frm + limit, len(recs))
        nth = len(result["ranges"])
        if nth == 1:
            end = max(frm + 1, frm + (end - frm) // 2)  # short, and says it is all
            short_at.append(time.monotonic())
        elif nth == 2 and short_at:
            result["reask_s"] = round(time.monotonic() - short_at[0], 3)
        skip = frm + (end - frm) // 2 if nth == 0 and end - frm > 2 else None
        pieces = [(frm, end)] if skip is None else [(frm, skip), (skip + 1, end)]
        result["ranges"].append([frm, limit, sum(b - a for a, b in pieces)])
        for a, b in pieces:
            send_records(sess, org, recs, a, b, end)
        if frm >= end:
            sess.send_msg(RECORDS, 0, {"org": org, "from": frm, "recs": [], "last": True})

    return serve_shard(args, "serve-short", "short", opening, on_range)


def mode_push_claim(args):
    """Pushes a new shard's records, then at once a CLOCK claiming them all: the CLOCK
    reaches the node while the records are still being verified. Answers any range the
    node asks for (ranges: [from, limit] of each), until the node's CLOCK shows them all."""
    def opening(sess, our, recs, clock, result):
        greet(sess, our)
        frames = push_frames(recs)
        for body in frames:
            sess.send_msg(PUSH, 0, body)
        sess.send_msg(CLOCK, 0, clock)
        result["frames_pushed"] = len(frames)

    def on_range(sess, org, recs, frm, limit, result):
        result["ranges"].append([frm, limit])
        end = min(frm + limit, len(recs))
        send_records(sess, org, recs, frm, max(frm, end), end)
        if frm >= end:
            sess.send_msg(RECORDS, 0, {"org": org, "from": frm, "recs": [], "last": True})

    return serve_shard(args, "push-claim", "claim", opening, on_range)


# --- attack: a mode again and again ------------------------------------------------------

ATTACK_MODES = ("garbage", "silent", "raw", "slowloris", "replay", "flood", "zero-window",
                "handshake", "listen-for-records", "push")


def mode_attack(args):
    inner_argv = list(args.inner)
    if inner_argv and inner_argv[0] == "--":
        inner_argv = inner_argv[1:]
    if not inner_argv or inner_argv[0] not in ATTACK_MODES:
        raise ToolError("attack needs -- MODE ARGS..., MODE one of %s" % ", ".join(ATTACK_MODES))
    if args.duration is None and args.until_file is None and args.max_attempts is None:
        raise ToolError("attack needs --duration, --until-file or --max-attempts")
    inner = parser().parse_args(inner_argv)
    fn = MODES[inner.cmd]
    t0 = time.monotonic()
    lock = threading.Lock()
    state = {"next": t0, "started": 0}
    results = []
    fatal = []
    out = open(args.results_out, "w") if args.results_out else None

    def stopping():
        if args.duration is not None and time.monotonic() - t0 >= args.duration:
            return True
        if args.until_file is not None and os.path.exists(args.until_file):
            return True
        return False

    def take_slot():
        """The start time of the next attempt, or None to stop."""
        with lock:
            if stopping() or fatal or (args.max_attempts is not None
                                       and state["started"] >= args.max_attempts):
                return None
            state["started"] += 1
            slot = max(state["next"], time.monotonic())
            if args.rate:
                state["next"] = slot + 1.0 / args.rate
            return slot

    def worker(i):
        mine = inner
        if args.keys:  # one node key per worker: sessions of one key replace each other
            mine = copy.copy(inner)
            mine.key = args.keys.split(",")[i % len(args.keys.split(","))]
        if args.sources:  # one local address per worker: many hosts, as far as the node sees
            mine = copy.copy(mine)
            mine.source = args.sources.split(",")[i % len(args.sources.split(","))]
        if args.stagger:
            time.sleep(i * args.stagger)
        while True:
            slot = take_slot()
            if slot is None:
                return
            if slot > time.monotonic():
                time.sleep(slot - time.monotonic())  # pacing (--rate)
            try:
                r = fn(mine)
            except ToolError as e:
                fatal.append(str(e))
                return
            except Exception as e:  # the node refused us, reset us, or broke the protocol
                r = {"error": "%s: %s" % (type(e).__name__, e)}
            with lock:
                results.append(r)
                if out:
                    out.write(json.dumps({k: r.get(k) for k in
                                          ("local", "closed_by_node", "closed_after_s",
                                           "handshake", "error")}) + "\n")
                    out.flush()

    def mark_ready():
        with ENGAGED["cond"]:
            while ENGAGED["count"] < args.ready_after:
                ENGAGED["cond"].wait(0.2)
                if done.is_set():
                    return
        with open(args.ready_file, "w") as f:
            f.write("engaged after %.3f s\n" % (time.monotonic() - t0))

    done = threading.Event()
    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(args.workers)]
    if args.ready_file:
        rt = threading.Thread(target=mark_ready, daemon=True)
        rt.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    if out:
        out.close()
    if fatal:
        raise ToolError(fatal[0])
    ru = resource.getrusage(resource.RUSAGE_SELF)
    closed = [r for r in results if r.get("closed_by_node")]
    not_closed = [r for r in results if not r.get("closed_by_node") and "error" not in r]
    errors = [r for r in results if "error" in r]
    after = sorted(r["closed_after_s"] for r in closed if r.get("closed_after_s") is not None)
    hs = {}
    for r in results:
        if "handshake" in r:
            hs[r["handshake"]] = hs.get(r["handshake"], 0) + 1

    def total(key):
        return sum(r.get(key) or 0 for r in results)

    return {"mode": "attack", "attack": inner.cmd, "workers": args.workers,
            "duration_s": round(time.monotonic() - t0, 3), "attempts": len(results),
            "closed_by_node": len(closed), "not_closed": len(not_closed),
            "not_closed_first": not_closed[:3], "errors": len(errors),
            "errors_first": [r["error"] for r in errors[:3]],
            "closed_after_s_max": after[-1] if after else None,
            "closed_after_s_median": round(statistics.median(after), 3) if after else None,
            "records_received": total("records_received"),
            "frames_received": total("frames_received"), "handshakes": hs,
            "records_sent": total("records_sent"), "ranges_asked": total("ranges_asked"),
            "bytes_sent": total("bytes_sent"),
            "unread_bytes_max": max([r.get("unread_bytes") or 0 for r in results] or [0]),
            "cpu_s": round(ru.ru_utime + ru.ru_stime, 2)}


# --- command line ----------------------------------------------------------------------

def parser():
    ap = argparse.ArgumentParser(description="independent tracenode peer for tests")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def session_args(p):
        p.add_argument("--key", required=True, help="node key file")
        p.add_argument("--eco", required=True, help="ecosystem.json")
        p.add_argument("--addr", required=True, help="HOST:PORT of the node")
        p.add_argument("--wait", type=float, default=5.0, help="seconds to observe")

    def record_args(p):
        p.add_argument("--org-key", required=True, help="org key file that signs")
        p.add_argument("--org", help="org of the record (default: the key's org)")
        p.add_argument("--seq", type=int, required=True)
        p.add_argument("--prev", help="hex id of record seq-1")
        p.add_argument("--item", required=True)
        p.add_argument("--bad-signature", action="store_true")

    sub.add_parser("self-test")
    session_args(sub.add_parser("handshake"))
    p = sub.add_parser("listen-for-records")
    session_args(p)
    p.add_argument("--stop-on-records", action="store_true")
    p = sub.add_parser("push")
    session_args(p)
    record_args(p)
    p = sub.add_parser("make-record")
    p.add_argument("--eco", required=True)
    p.add_argument("--out", required=True)
    record_args(p)
    p = sub.add_parser("garbage")
    p.add_argument("--addr", required=True)
    p.add_argument("--framed", action="store_true")
    p.add_argument("--wait", type=float, default=5.0)
    p = sub.add_parser("silent")
    p.add_argument("--addr", required=True)
    p.add_argument("--wait", type=float, default=15.0)
    p = sub.add_parser("raw")
    session_args(p)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--huge-length", action="store_true")
    g.add_argument("--bad-msgpack", action="store_true")
    g.add_argument("--unknown-even", action="store_true")
    g.add_argument("--unknown-odd", action="store_true")
    p.add_argument("--length", type=int, default=FRAME_MAX + TAG + 1)
    p = sub.add_parser("slowloris")
    p.add_argument("--addr", required=True)
    p.add_argument("--key", help="node key file (--after-msg2)")
    p.add_argument("--eco", help="ecosystem.json (--after-msg2)")
    p.add_argument("--after-msg2", action="store_true")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between bytes")
    p.add_argument("--wait", type=float, default=40.0, help="give up after S s")
    p = sub.add_parser("replay")
    session_args(p)
    p.add_argument("--frame", type=int, default=0, help="which sent frame to replay")
    p = sub.add_parser("flood")
    session_args(p)
    p.add_argument("--org-key", required=True, help="org key file that signs")
    p.add_argument("--org", help="org of the records (default: the key's org)")
    p.add_argument("--bad", choices=("all", "last"), default="all")
    p.add_argument("--records", type=int, default=1000000, help="stop after N records")
    p.add_argument("--pool", type=int, default=2048, help="distinct records")
    p.add_argument("--item", default="flood", help="item prefix")
    p.add_argument("--ids-out", help="write the pool's record ids here")
    p = sub.add_parser("zero-window")
    session_args(p)
    p.set_defaults(wait=120.0)
    p.add_argument("--org", help="shard to ask for (default: the largest)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between requests")
    p.add_argument("--rcvbuf", type=int, help="SO_RCVBUF before connecting")
    p = sub.add_parser("fetch-shards")
    session_args(p)
    p.set_defaults(wait=60.0)
    p.add_argument("--rcvbuf", type=int, help="SO_RCVBUF before connecting")
    p.add_argument("--hold", type=float, default=1.0, help="seconds before reading")
    p = sub.add_parser("serve-short")
    session_args(p)
    p.set_defaults(wait=40.0)
    p.add_argument("--org-key", required=True, help="org key file that signs")
    p.add_argument("--records", type=int, default=200)
    p = sub.add_parser("push-claim")
    session_args(p)
    p.set_defaults(wait=40.0)
    p.add_argument("--org-key", required=True, help="org key file that signs")
    p.add_argument("--records", type=int, default=2048)
    p = sub.add_parser("attack")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--rate", type=float, help="attempts a second, in all")
    p.add_argument("--duration", type=float)
    p.add_argument("--until-file")
    p.add_argument("--max-attempts", type=int)
    p.add_argument("--stagger", type=float, default=0.0, help="worker i starts i*S s late")
    p.add_argument("--keys", help="KEY,KEY,...: worker i uses the i-th node key (--key)")
    p.add_argument("--sources", help="ADDR,ADDR,...: worker i connects from the i-th address")
    p.add_argument("--ready-file")
    p.add_argument("--ready-after", type=int, default=1, help="engaged attempts (--ready-file)")
    p.add_argument("--results-out")
    p.add_argument("inner", nargs=argparse.REMAINDER, help="-- MODE MODE_ARGS...")
    return ap


MODES = {"self-test": lambda a: self_test(), "handshake": mode_handshake,
         "listen-for-records": mode_listen, "push": mode_push, "make-record": mode_make_record,
         "garbage": mode_garbage, "silent": mode_silent, "raw": mode_raw,
         "slowloris": mode_slowloris, "replay": mode_replay, "flood": mode_flood,
         "zero-window": mode_zero_window, "fetch-shards": mode_fetch_shards,
         "serve-short": mode_serve_short, "push-claim": mode_push_claim,
         "attack": mode_attack}


def main():
    args = parser().parse_args()
    try:
        result = MODES[args.cmd](args)
    except ToolError as e:
        print(json.dumps({"error": str(e)}))
        return 2
    except ProtocolError as e:
        print(json.dumps({"error": str(e), "protocol_error": True}))
        return 3
    except (OSError, Closed) as e:
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e)}))
        return 2
    except Exception as e:  # e.g. a message of the node's that does not parse as expected
        print(json.dumps({"error": "%s: %s" % (type(e).__name__, e), "protocol_error": True}))
        return 3
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
