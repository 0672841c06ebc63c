/* The peer protocol's messages (docs/PROTOCOL.md): msgpack [type, req_id, body] inside
 * encrypted frames of at most PROTO_WIRE_FRAME_MAX bytes of plaintext. Even types must be
 * understood (an unknown even type closes the connection); odd types are optional (an
 * unknown odd type is ignored). Bodies are msgpack maps with text keys. */
#ifndef TN_PROTO_WIRE_H
#define TN_PROTO_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#define PROTO_WIRE_VERSION 1
#define PROTO_WIRE_FRAME_MAX 65536 /* plaintext bytes of one frame */
#define PROTO_WIRE_PROLOGUE "tracenode/1\n"

enum proto_wire_type {
    PROTO_WIRE_HELLO = 2,     /* {v, org, features: [str]} */
    PROTO_WIRE_CLOCK = 4,     /* {shards: [[org, size, root (bin 32), checkpoint note|nil]]} */
    PROTO_WIRE_CONS_REQ = 6,  /* {org, old, new} -> CONS */
    PROTO_WIRE_CONS = 8,      /* {org, old, new, path: [bin 32]} */
    PROTO_WIRE_RANGE_REQ = 10, /* {org, from, limit} -> RECORDS... (one outstanding per shard) */
    PROTO_WIRE_RECORDS = 12,  /* {org, from, recs: [bin], last: bool} */
    PROTO_WIRE_PUSH = 14,     /* {recs: [bin]}: eager push of new records */
    PROTO_WIRE_ANNOUNCE = 15, /* {org, size}: lazy announce (optional) */
    PROTO_WIRE_FORK = 16,     /* {org, at, kind, a: bin, b: bin}: equivocation evidence */
    PROTO_WIRE_ROOT_REQ = 18, /* {org, size} -> ROOT: locating a fork */
    PROTO_WIRE_ROOT = 20,     /* {org, size, root: bin 32 | nil} */
    PROTO_WIRE_PING = 22,     /* {} -> PONG with the same req_id */
    PROTO_WIRE_PONG = 24,     /* {} */
    PROTO_WIRE_ERROR = 26,    /* {msg}: the sender is about to close */
};

/* true for the types this version understands. */
bool proto_wire_known(uint64_t type);

#endif
