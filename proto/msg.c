#include "proto/msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Walks msgpack headers (https://github.com/msgpack/msgpack/blob/master/spec.md) counting
 * the items still owed. Each item takes at least one byte, so owing more items than bytes
 * left, or a payload longer than what is left, proves the input wrong before anything is
 * allocated. */
static const char *prescan(const uint8_t *p, size_t len)
{
    size_t off = 0;
    uint64_t owed = 1;

    while (owed > 0) {
        uint8_t b;
        uint64_t payload = 0, children = 0;
        unsigned hdr = 1;

        if (off >= len)
            return "truncated message";
        b = p[off];
        owed--;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            children = 2u * (b & 0x0f);
        } else if (b <= 0x9f) {
            children = b & 0x0f;
        } else if (b <= 0xbf) {
            payload = b & 0x1f;
        } else if (b == 0xc1) {
            return "invalid byte 0xc1";
        } else {
            unsigned n;
            switch (b) {
            case 0xc4: case 0xd9: n = 1; break;        /* bin8, str8 */
            case 0xc5: case 0xda: n = 2; break;        /* bin16, str16 */
            case 0xc6: case 0xdb: n = 4; break;        /* bin32, str32 */
            case 0xc7: case 0xc8: case 0xc9:           /* ext8/16/32: length, then type */
                n = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
                if (len - off < 1 + n)
                    return "truncated message";
                payload = be(p + off + 1, n) + 1;
                hdr = 1 + n;
                goto sized;
            case 0xca: payload = 4; goto fixed;
            case 0xcb: payload = 8; goto fixed;
            case 0xcc: case 0xd0: payload = 1; goto fixed;
            case 0xcd: case 0xd1: payload = 2; goto fixed;
            case 0xce: case 0xd2: payload = 4; goto fixed;
            case 0xcf: case 0xd3: payload = 8; goto fixed;
            case 0xd4: payload = 2; goto fixed;        /* fixext: type + data */
            case 0xd5: payload = 3; goto fixed;
            case 0xd6: payload = 5; goto fixed;
            case 0xd7: payload = 9; goto fixed;
            case 0xd8: payload = 17; goto fixed;
            case 0xdc: case 0xde: n = 2; goto collection;
            case 0xdd: case 0xdf: n = 4; goto collection;
            default: return "invalid type byte";
            }
            if (len - off < 1 + n)
                return "truncated message";
            payload = be(p + off + 1, n);
            hdr = 1 + n;
            goto sized;
        collection:
            if (len - off < 1 + n)
                return "truncated message";
            children = be(p + off + 1, n);
            if (b == 0xde || b == 0xdf)
                children *= 2;
            hdr = 1 + n;
            goto sized;
        fixed:
        sized:;
        }
        if (len - off < hdr || payload > len - off - hdr)
            return "length beyond the end of the message";
        off += hdr + payload;
        owed += children;
        if (owed > len - off)
            return "declares more elements than bytes present";
    }
    if (off != len)
        return "trailing bytes after the message";
    return NULL;
}

int proto_msg_decode(const uint8_t *p, size_t len, struct proto_msg *m, char *err, size_t errlen)
{
    const char *bad = prescan(p, len);
    msgpack_object *a;
    size_t off = 0;

    memset(m, 0, sizeof *m);
    msgpack_unpacked_init(&m->unpacked);
    if (bad) {
        snprintf(err, errlen, "malformed message: %s", bad);
        goto fail;
    }
    if (!(m->copy = malloc(len ? len : 1))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(m->copy, p, len);
    if (msgpack_unpack_next(&m->unpacked, m->copy, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != len) {
        snprintf(err, errlen, "malformed message: msgpack rejected it");
        goto fail;
    }
    if (m->unpacked.data.type != MSGPACK_OBJECT_ARRAY || m->unpacked.data.via.array.size != 3) {
        snprintf(err, errlen, "malformed message: not [type, req_id, body]");
        goto fail;
    }
    a = m->unpacked.data.via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf(err, errlen, "malformed message: type is not an unsigned integer");
        goto fail;
    }
    m->type = a[0].via.u64;
    if (a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && a[1].via.u64 <= INT64_MAX) {
        m->req_id = (int64_t)a[1].via.u64;
    } else if (a[1].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        m->req_id = a[1].via.i64;
    } else {
        snprintf(err, errlen, "malformed message: req_id is not an integer");
        goto fail;
    }
    m->body = &a[2];
    return 0;
fail:
    free(m->copy);
    msgpack_unpacked_destroy(&m->unpacked);
    memset(m, 0, sizeof *m);
    return TN_ERR_INVALID;
}

void proto_msg_release(struct proto_msg *m)
{
    msgpack_unpacked_destroy(&m->unpacked);
    free(m->copy);
    m->copy = NULL;
    m->body = NULL;
}

void proto_msg_begin(msgpack_packer *pk, uint64_t type, int64_t req_id)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_uint64(pk, type);
    msgpack_pack_int64(pk, req_id);
}

void proto_frame_put_len(uint8_t out[4], uint32_t len)
{
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}

uint32_t proto_frame_get_len(const uint8_t in[4])
{
    return (uint32_t)be(in, 4);
}

int proto_frame_peek(const uint8_t *buf, size_t len, size_t max, size_t *body_len, bool *whole)
{
    uint32_t n;

    *body_len = 0;
    *whole = false;
    if (len < PROTO_FRAME_HDR)
        return 0;
    n = proto_frame_get_len(buf);
    if (n > max)
        return TN_ERR_TOO_BIG;
    *body_len = n;
    *whole = len - PROTO_FRAME_HDR >= n;
    return 0;
}

bool proto_msg_str_eq(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

const msgpack_object *proto_msg_map_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (proto_msg_str_eq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}
