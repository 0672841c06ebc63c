/* The peer protocol's messages (docs/PROTOCOL.md): msgpack [type, req_id, body]
 * (proto/msg.h) inside encrypted frames of at most PROTO_WIRE_FRAME_MAX bytes of
 * plaintext. Even types must be understood (an unknown even type closes the connection);
 * odd types are optional (an unknown odd type is ignored). Bodies are msgpack maps with
 * text keys.
 *
 * Every body has a struct here. proto_wire_decode checks a whole body (types, sizes,
 * counts, required keys) before anyone uses it, so handlers never read msgpack objects;
 * proto_wire_encode packs a struct the way this node always has (key order, smallest
 * integer forms), so the bytes on the wire are those docs/PROTOCOL.md shows. */
#ifndef TN_PROTO_WIRE_H
#define TN_PROTO_WIRE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/checkpoint.h"
#include "crypto/error.h"
#include "crypto/key.h"
#include "crypto/merkle.h"
#include "proto/msg.h"
#include "proto/record.h"
#include "proto/types.h"

#define PROTO_WIRE_VERSION 1
#define PROTO_WIRE_FRAME_MAX 65536 /* plaintext bytes of one frame */
#define PROTO_WIRE_PROLOGUE "tracenode/1\n"

/* Limits a body must keep (docs/PROTOCOL.md "Messages"); a body over one is malformed. */
#define PROTO_WIRE_CLOCK_MAX 100     /* shards in one CLOCK */
#define PROTO_WIRE_RANGE_MAX 4096    /* records one RANGE_REQ asks for */
#define PROTO_WIRE_PATH_MAX CRY_MERKLE_MAX_PROOF /* hashes in a consistency proof */
#define PROTO_WIRE_NOTE_MAX CRY_NOTE_MAX         /* bytes of a checkpoint note */
#define PROTO_WIRE_BIN_MAX PROTO_RECORD_MAX      /* bytes of a record or of a FORK piece */
#define PROTO_WIRE_FEATURES_MAX 16   /* features in a HELLO */
#define PROTO_WIRE_FEATURE_MAX 64    /* bytes of one feature name */
#define PROTO_WIRE_ERROR_MAX 1024    /* bytes of an ERROR's text */

/* The Noise handshake payload of messages 2 and 3: the version byte, then the sender's
 * Ed25519 node key. */
#define PROTO_WIRE_HS_PAYLOAD (1 + CRY_PK_LEN)

enum proto_wire_type {
    PROTO_WIRE_HELLO = 2,     /* {v, org, features: [str]} */
    PROTO_WIRE_CLOCK = 4,     /* {shards: [[org, size, root (bin 32), checkpoint note|nil]]} */
    PROTO_WIRE_CONS_REQ = 6,  /* {org, old, new} -> CONS */
    PROTO_WIRE_CONS = 8,      /* {org, old, new, root (bin 32), path: [bin 32]} */
    PROTO_WIRE_RANGE_REQ = 10, /* {org, from, limit} -> RECORDS... (one outstanding per shard) */
    PROTO_WIRE_RECORDS = 12,  /* {org, from, recs: [bin], last: bool} */
    PROTO_WIRE_PUSH = 14,     /* {recs: [bin]}: eager push of new records */
    PROTO_WIRE_ANNOUNCE = 15, /* {org, size}: lazy announce (optional) */
    PROTO_WIRE_FORK = 16,     /* {org, at, kind, a: bin, b: bin}: equivocation evidence */
    PROTO_WIRE_PRUNE = 17,    /* {}: your pushes reach me by another way; announce instead
                               * (optional) */
    PROTO_WIRE_ROOT_REQ = 18, /* {org, size} -> ROOT: locating a fork */
    PROTO_WIRE_ROOT = 20,     /* {org, size, root: bin 32 | nil} */
    PROTO_WIRE_PING = 22,     /* {} -> PONG with the same req_id */
    PROTO_WIRE_PONG = 24,     /* {} */
    PROTO_WIRE_ERROR = 26,    /* {msg}: the sender is about to close */
};

/* true for the types this version understands. */
bool proto_wire_known(uint64_t type);

/* "HELLO", "CLOCK", ...; "unknown" for other values. */
const char *proto_wire_name(uint64_t type);

/* --- bodies ----------------------------------------------------------------------------
 * Org ids are copied (NUL-terminated, proto_id_ok). Byte strings and texts point into the
 * proto_msg they were decoded from (valid until proto_msg_release); lists are arrays the
 * decoder allocated (valid until proto_wire_release). For encoding the caller points them
 * at its own memory, which must stay valid until proto_wire_encode returns. */

struct proto_wire_bin {
    const uint8_t *p;
    size_t len;
};

struct proto_wire_text { /* not NUL-terminated */
    const char *p;
    size_t len;
};

struct proto_wire_hello { /* v is always PROTO_WIRE_VERSION: another version is refused */
    char org[PROTO_ID_MAX + 1];
    const struct proto_wire_text *features; /* each 1..PROTO_WIRE_FEATURE_MAX bytes of UTF-8
                                               without control characters */
    size_t n_features;                      /* <= PROTO_WIRE_FEATURES_MAX */
};

struct proto_wire_shard { /* one CLOCK entry */
    char org[PROTO_ID_MAX + 1];
    uint64_t size;
    uint8_t root[CRY_HASH_LEN];
    const char *note; /* the org's signed checkpoint (C2SP note), or NULL for nil */
    size_t note_len;  /* 1..PROTO_WIRE_NOTE_MAX when note is set */
};

struct proto_wire_clock {
    const struct proto_wire_shard *shards;
    size_t n_shards; /* <= PROTO_WIRE_CLOCK_MAX */
};

struct proto_wire_cons_req {
    char org[PROTO_ID_MAX + 1];
    uint64_t old, new_size;
};

struct proto_wire_cons {
    char org[PROTO_ID_MAX + 1];
    uint64_t old, new_size;
    uint8_t root[CRY_HASH_LEN];
    const uint8_t (*path)[CRY_HASH_LEN];
    size_t n_path; /* <= PROTO_WIRE_PATH_MAX */
};

struct proto_wire_range_req {
    char org[PROTO_ID_MAX + 1];
    uint64_t from;
    uint64_t limit; /* 1..PROTO_WIRE_RANGE_MAX; from + limit does not overflow */
};

struct proto_wire_records {
    char org[PROTO_ID_MAX + 1];
    uint64_t from;
    const struct proto_wire_bin *recs; /* each 1..PROTO_WIRE_BIN_MAX bytes */
    size_t n_recs;
    bool last;
};

struct proto_wire_push {
    const struct proto_wire_bin *recs; /* each 1..PROTO_WIRE_BIN_MAX bytes */
    size_t n_recs;
};

struct proto_wire_announce {
    char org[PROTO_ID_MAX + 1];
    uint64_t size;
};

struct proto_wire_fork {
    char org[PROTO_ID_MAX + 1];
    uint64_t at;
    uint64_t kind;             /* any value: the receiver decides what it can check */
    struct proto_wire_bin a, b; /* each 1..PROTO_WIRE_BIN_MAX bytes */
};

struct proto_wire_root_req {
    char org[PROTO_ID_MAX + 1];
    uint64_t size;
};

struct proto_wire_root {
    char org[PROTO_ID_MAX + 1];
    uint64_t size;
    bool has_root; /* false: the sender does not hold that size (nil) */
    uint8_t root[CRY_HASH_LEN];
};

struct proto_wire_error {
    struct proto_wire_text msg; /* 0..PROTO_WIRE_ERROR_MAX bytes of UTF-8 without control
                                   characters (one log line) */
};

struct proto_wire_msg {
    enum proto_wire_type type;
    int64_t req_id;
    union {
        struct proto_wire_hello hello;
        struct proto_wire_clock clock;
        struct proto_wire_cons_req cons_req;
        struct proto_wire_cons cons;
        struct proto_wire_range_req range_req;
        struct proto_wire_records records;
        struct proto_wire_push push;
        struct proto_wire_announce announce;
        struct proto_wire_fork fork;
        struct proto_wire_root_req root_req;
        struct proto_wire_root root;
        struct proto_wire_error error;
        /* PING, PONG and PRUNE have empty bodies */
    } u;
    void *owned; /* the decoder's allocation (lists); NULL when built by hand */
};

/* Starts a message to encode: zeroes w and sets its type and req_id. */
void proto_wire_init(struct proto_wire_msg *w, enum proto_wire_type type, int64_t req_id);

/* Decodes the body of m (whose type must be one proto_wire_known accepts) into out.
 * Unknown keys are ignored (a later version may add some); a known key twice, a key that
 * is not text, a missing key, a wrong type, a size or count over its limit, or an org id
 * that is not an id make the whole body malformed. Returns 0, TN_ERR_INVALID (err says
 * which field and why, starting with the message name) or TN_ERR_NOMEM; on failure out
 * holds nothing to release. On success out points into m: release out before m. */
int proto_wire_decode(const struct proto_msg *m, struct proto_wire_msg *out, char *err,
                      size_t errlen) TN_MUST_CHECK;

/* Frees what proto_wire_decode allocated; a no-op on a message built by hand. */
void proto_wire_release(struct proto_wire_msg *w);

/* Packs w as one whole message [type, req_id, body] into pk. The body is checked against
 * the same rules as proto_wire_decode first, so a node never sends what it would refuse:
 * TN_ERR_INVALID (nothing packed) if it breaks one. The frame limit is the sender's to
 * check (node_peer_send). */
int proto_wire_encode(msgpack_packer *pk, const struct proto_wire_msg *w) TN_MUST_CHECK;

/* --- handshake payload (messages 2 and 3 of the Noise handshake) ----------------------- */

/* The payload this node sends: version byte, then its Ed25519 node key. */
void proto_wire_hs_payload(uint8_t out[PROTO_WIRE_HS_PAYLOAD], const uint8_t node_pk[CRY_PK_LEN]);

/* Checks a peer's handshake payload: this protocol version, and an Ed25519 node key whose
 * X25519 form is rs, the static key the handshake authenticated. On success node_pk gets
 * the key (whether the ecosystem lists it is the caller's to check). TN_ERR_INVALID (not a
 * version-1 payload) or TN_ERR_BAD_SIGNATURE (another key), reason in why. */
int proto_wire_hs_check(const uint8_t *payload, size_t len, const uint8_t rs[32],
                        uint8_t node_pk[CRY_PK_LEN], char *why, size_t whylen) TN_MUST_CHECK;

#endif
