/* Fuzz target: the typed decoder of every peer message body (proto/wire.c). The first
 * byte picks the message type, the rest is the msgpack body: the target decodes
 * [type, 0, body] as node/peer.c does (proto_msg_decode, then proto_wire_decode). A body
 * the decoder accepts must encode (the encoder keeps the decoder's rules), no longer than
 * it came (a node can relay what it took in one frame), and decode again to a message
 * that encodes to the same bytes: encode -> decode -> encode is the identity, so the
 * decoder keeps everything the encoder writes. A refusal must give a reason.
 * Built for libFuzzer by tests/fuzz/run; in the normal build it is linked with replay.c and
 * replays the corpus as a regression test. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_wire: check failed: %s (line %d)\n", #cond, __LINE__);     \
            __builtin_trap();                                                                 \
        }                                                                                     \
    } while (0)

static const uint8_t types[] = {
    PROTO_WIRE_HELLO,    PROTO_WIRE_CLOCK,    PROTO_WIRE_CONS_REQ, PROTO_WIRE_CONS,
    PROTO_WIRE_RANGE_REQ, PROTO_WIRE_RECORDS, PROTO_WIRE_PUSH,     PROTO_WIRE_ANNOUNCE,
    PROTO_WIRE_FORK,     PROTO_WIRE_ROOT_REQ, PROTO_WIRE_ROOT,     PROTO_WIRE_PING,
    PROTO_WIRE_PONG,     PROTO_WIRE_ERROR,    PROTO_WIRE_PRUNE,
};

static void encode(const struct proto_wire_msg *w, msgpack_sbuffer *sb)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    CHECK(proto_wire_encode(&pk, w) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_msg m, m2;
    struct proto_wire_msg w, w2;
    msgpack_sbuffer a, b;
    uint8_t *frame;
    char err[256] = "";
    size_t len;

    if (size < 1 || size > PROTO_WIRE_FRAME_MAX)
        return 0;
    /* [type, 0, body]: every type is a positive fixint */
    len = 3 + (size - 1);
    if (!(frame = malloc(len)))
        return 0;
    frame[0] = 0x93;
    frame[1] = types[data[0] % sizeof types];
    frame[2] = 0x00;
    memcpy(frame + 3, data + 1, size - 1);
    if (proto_msg_decode(frame, len, &m, err, sizeof err) != 0) {
        free(frame);
        return 0;
    }
    err[0] = '\0';
    if (proto_wire_decode(&m, &w, err, sizeof err) != 0) {
        CHECK(err[0] != '\0');
        CHECK(w.owned == NULL);
        goto out;
    }
    CHECK(w.type == frame[1] && w.req_id == 0);
    encode(&w, &a);
    CHECK(a.size <= len);
    err[0] = '\0';
    if (proto_msg_decode((const uint8_t *)a.data, a.size, &m2, err, sizeof err) != 0 ||
        proto_wire_decode(&m2, &w2, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_wire: its own encoding refused: %s\n", err);
        __builtin_trap();
    }
    encode(&w2, &b);
    CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
    msgpack_sbuffer_destroy(&b);
    proto_wire_release(&w2);
    proto_msg_release(&m2);
    msgpack_sbuffer_destroy(&a);
    proto_wire_release(&w);
out:
    proto_msg_release(&m);
    free(frame);
    return 0;
}
