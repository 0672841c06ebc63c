/* msgpack messages [type, req_id, body] (DESIGN section 5), shared by the local API and
 * the peer protocol, and the local API's message types.
 *
 * Local API framing (Unix socket, see docs/FORMAT.md): a 4-byte big-endian length, then
 * one message of that many bytes, at most PROTO_API_FRAME_MAX. Requests carry an even
 * type; the reply carries PROTO_API_OK or PROTO_API_ERR and the request's req_id. */
#ifndef TN_PROTO_MSG_H
#define TN_PROTO_MSG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

#define PROTO_API_FRAME_MAX (8u * 1024 * 1024)
#define PROTO_API_SUBMIT_MAX 1024 /* events per SUBMIT request */

enum proto_api_type {
    PROTO_API_OK = 1,     /* reply: body depends on the request */
    PROTO_API_ERR = 3,    /* reply: {"code": int, "msg": str, "index": int} */
    PROTO_API_SUBMIT = 2, /* body: [event JSON text, ...] -> [record id (bin 32), ...] */
    PROTO_API_STATUS = 4, /* body: nil -> status map (DESIGN section 6) */
    PROTO_API_INFO = 6,   /* body: nil -> {"org", "network", "ecosystem": JSON text,
                             "governance": [governance record (bin)]} */
    PROTO_API_IMPORT = 8, /* body: [record (bin)] -> ["appended"|"duplicate"|reason, ...]:
                             records signed elsewhere (governance, another node's export),
                             checked like a peer's */
};

struct proto_msg {
    uint64_t type;
    int64_t req_id;
    const msgpack_object *body; /* valid until proto_msg_release */
    msgpack_unpacked unpacked;
    char *copy; /* msgpack-c points strings into its input: decode from our own copy */
};

/* Decodes exactly one message from p[0..len). Before unpacking, the declared sizes of all
 * arrays, maps, strings and binaries are checked against the bytes present, so hostile
 * input cannot make msgpack-c allocate more than a small multiple of len. On failure
 * (TN_ERR_INVALID, reason in err) m holds nothing. */
int proto_msg_decode(const uint8_t *p, size_t len, struct proto_msg *m, char *err,
                     size_t errlen) TN_MUST_CHECK;

void proto_msg_release(struct proto_msg *m);

/* Packs the array header, type and req_id; the caller packs exactly one body object. */
void proto_msg_begin(msgpack_packer *pk, uint64_t type, int64_t req_id);

/* Big-endian 32-bit length prefix of frames (local API and peer protocol). */
#define PROTO_FRAME_HDR 4
void proto_frame_put_len(uint8_t out[4], uint32_t len);
uint32_t proto_frame_get_len(const uint8_t in[4]);

/* Looks for the frame at the start of buf[0..len) (a stream as it arrives): the length
 * prefix, then that many bytes of body. Returns 0 when the prefix is complete and at most
 * max, with *body_len set and *whole true once the body has arrived too (it starts at
 * buf + PROTO_FRAME_HDR); 0 with *whole false while fewer than PROTO_FRAME_HDR bytes are
 * there. TN_ERR_TOO_BIG when the prefix declares more than max: the stream is wrong before
 * anything is buffered for it. */
int proto_frame_peek(const uint8_t *buf, size_t len, size_t max, size_t *body_len,
                     bool *whole) TN_MUST_CHECK;

/* Helpers for reading bodies. */
const msgpack_object *proto_msg_map_get(const msgpack_object *map, const char *key);
bool proto_msg_str_eq(const msgpack_object *o, const char *s);

#endif
