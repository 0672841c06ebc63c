/* Fuzz target: the peer protocol's frames after decryption (proto/msg.c). The input is
 * taken two ways: as one message [type, req_id, body] (proto_msg_decode, with its bounded
 * pre-scan), and as a stream of length-prefixed frames split as node/peer.c splits them
 * (proto_frame_peek), each frame then decoded as a message. Every message accepted is
 * packed again (msgpack allows several encodings of one value, so the input bytes need
 * not come back) and decoded again: same type and req_id, and packing that gives the same
 * bytes. Known types also go through the typed decoder (proto/wire.c).
 * Built for libFuzzer by tests/fuzz/run; in the normal build it is linked with replay.c and
 * replays the corpus as a regression test. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/msg.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_frame: check failed: %s (line %d)\n", #cond, __LINE__);    \
            __builtin_trap();                                                                 \
        }                                                                                     \
    } while (0)

/* Packs m again: [type, req_id, body]. */
static void repack(const struct proto_msg *m, msgpack_sbuffer *sb)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    proto_msg_begin(&pk, m->type, m->req_id);
    msgpack_pack_object(&pk, *m->body);
}

static void check_message(const uint8_t *p, size_t len)
{
    struct proto_msg m, m2;
    struct proto_wire_msg w;
    msgpack_sbuffer a, b;
    char err[256] = "";

    if (proto_msg_decode(p, len, &m, err, sizeof err) != 0) {
        CHECK(err[0] != '\0'); /* refused with a reason */
        CHECK(m.body == NULL && m.copy == NULL);
        return;
    }
    CHECK(m.body != NULL);
    repack(&m, &a);
    err[0] = '\0';
    CHECK(proto_msg_decode((const uint8_t *)a.data, a.size, &m2, err, sizeof err) == 0);
    CHECK(m2.type == m.type && m2.req_id == m.req_id);
    repack(&m2, &b);
    CHECK(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
    msgpack_sbuffer_destroy(&b);
    proto_msg_release(&m2);
    msgpack_sbuffer_destroy(&a);

    if (proto_wire_known(m.type)) {
        err[0] = '\0';
        if (proto_wire_decode(&m, &w, err, sizeof err) == 0)
            proto_wire_release(&w);
        else
            CHECK(err[0] != '\0');
    }
    proto_msg_release(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    check_message(data, size);
    /* as a stream: frames until one is incomplete or over the limit */
    while (off < size) {
        size_t len;
        bool whole;
        if (proto_frame_peek(data + off, size - off, PROTO_WIRE_FRAME_MAX, &len, &whole) != 0) {
            CHECK(size - off >= PROTO_FRAME_HDR &&
                  proto_frame_get_len(data + off) > PROTO_WIRE_FRAME_MAX);
            break;
        }
        if (!whole) {
            CHECK(size - off < PROTO_FRAME_HDR || size - off - PROTO_FRAME_HDR < len);
            break;
        }
        CHECK(len == proto_frame_get_len(data + off) && len <= size - off - PROTO_FRAME_HDR);
        check_message(data + off + PROTO_FRAME_HDR, len);
        off += PROTO_FRAME_HDR + len;
    }
    return 0;
}
