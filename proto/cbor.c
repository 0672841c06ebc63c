#include "proto/cbor.h"

#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 16 /* records nest 4 deep; anything deeper is not ours */

void proto_cbuf_init(struct proto_cbuf *b, uint8_t *mem, size_t cap)
{
    b->p = mem;
    b->len = 0;
    b->cap = cap;
    b->overflow = false;
}

/* libcbor encoders return 0 when the buffer is too small. */
static void advance(struct proto_cbuf *b, size_t n)
{
    if (n == 0)
        b->overflow = true;
    else
        b->len += n;
}

void proto_cbor_uint(struct proto_cbuf *b, uint64_t v)
{
    if (!b->overflow)
        advance(b, cbor_encode_uint(v, b->p + b->len, b->cap - b->len));
}

void proto_cbor_int(struct proto_cbuf *b, int64_t v)
{
    if (b->overflow)
        return;
    if (v >= 0)
        advance(b, cbor_encode_uint((uint64_t)v, b->p + b->len, b->cap - b->len));
    else /* major type 1 carries -1 - v */
        advance(b, cbor_encode_negint((uint64_t)(-(v + 1)), b->p + b->len, b->cap - b->len));
}

static void raw(struct proto_cbuf *b, const void *p, size_t n)
{
    if (b->overflow)
        return;
    if (n > b->cap - b->len) {
        b->overflow = true;
        return;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

void proto_cbor_text(struct proto_cbuf *b, const char *s, size_t n)
{
    if (!b->overflow)
        advance(b, cbor_encode_string_start(n, b->p + b->len, b->cap - b->len));
    raw(b, s, n);
}

void proto_cbor_cstr(struct proto_cbuf *b, const char *s)
{
    proto_cbor_text(b, s, strlen(s));
}

void proto_cbor_bytes(struct proto_cbuf *b, const uint8_t *p, size_t n)
{
    if (!b->overflow)
        advance(b, cbor_encode_bytestring_start(n, b->p + b->len, b->cap - b->len));
    raw(b, p, n);
}

void proto_cbor_array(struct proto_cbuf *b, size_t n)
{
    if (!b->overflow)
        advance(b, cbor_encode_array_start(n, b->p + b->len, b->cap - b->len));
}

void proto_cbor_map(struct proto_cbuf *b, size_t n)
{
    if (!b->overflow)
        advance(b, cbor_encode_map_start(n, b->p + b->len, b->cap - b->len));
}

void proto_cbor_tag(struct proto_cbuf *b, uint64_t tag)
{
    if (!b->overflow)
        advance(b, cbor_encode_tag(tag, b->p + b->len, b->cap - b->len));
}

void proto_cbor_bool(struct proto_cbuf *b, bool v)
{
    if (!b->overflow)
        advance(b, cbor_encode_bool(v, b->p + b->len, b->cap - b->len));
}

void proto_cbor_null(struct proto_cbuf *b)
{
    if (!b->overflow)
        advance(b, cbor_encode_null(b->p + b->len, b->cap - b->len));
}

int proto_cbor_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return alen < blen ? -1 : 1;
    return memcmp(a, b, alen);
}

/* --- reader ------------------------------------------------------------------------
 * One head at a time through libcbor's streaming decoder (cbor_stream_decode), so
 * nothing is allocated: the record decoder reads straight from the bytes. The checks
 * every head must pass are here, once, for all callers. */

struct read_ctx {
    struct proto_cbor_item *it;
    const char *bad;
};

static void rd_bad(void *ctx, const char *why)
{
    struct read_ctx *c = ctx;
    if (!c->bad)
        c->bad = why;
}
static void rd_set(void *ctx, enum proto_cbor_kind kind, uint64_t v)
{
    struct read_ctx *c = ctx;
    c->it->kind = kind;
    c->it->v = v;
}
static void rd_u8(void *c, uint8_t v) { rd_set(c, PROTO_CBOR_UINT, v); }
static void rd_u16(void *c, uint16_t v) { rd_set(c, PROTO_CBOR_UINT, v); }
static void rd_u32(void *c, uint32_t v) { rd_set(c, PROTO_CBOR_UINT, v); }
static void rd_u64(void *c, uint64_t v) { rd_set(c, PROTO_CBOR_UINT, v); }
static void rd_n8(void *c, uint8_t v) { rd_set(c, PROTO_CBOR_NEGINT, v); }
static void rd_n16(void *c, uint16_t v) { rd_set(c, PROTO_CBOR_NEGINT, v); }
static void rd_n32(void *c, uint32_t v) { rd_set(c, PROTO_CBOR_NEGINT, v); }
static void rd_n64(void *c, uint64_t v) { rd_set(c, PROTO_CBOR_NEGINT, v); }
static void rd_bytes(void *ctx, cbor_data d, size_t n)
{
    rd_set(ctx, PROTO_CBOR_BYTES, n);
    ((struct read_ctx *)ctx)->it->data = d;
}
static void rd_text(void *ctx, cbor_data d, size_t n)
{
    rd_set(ctx, PROTO_CBOR_TEXT, n);
    ((struct read_ctx *)ctx)->it->data = d;
}
static void rd_array(void *c, size_t n) { rd_set(c, PROTO_CBOR_ARRAY, n); }
static void rd_map(void *c, size_t n) { rd_set(c, PROTO_CBOR_MAP, n); }
static void rd_bool(void *c, bool v) { rd_set(c, PROTO_CBOR_BOOL, v); }
static void rd_null(void *c) { rd_set(c, PROTO_CBOR_NULL, 0); }
static void rd_indef(void *c) { rd_bad(c, "indefinite-length item"); }
static void rd_float2(void *c, float v) { (void)v; rd_bad(c, "floating-point value"); }
static void rd_float8(void *c, double v) { (void)v; rd_bad(c, "floating-point value"); }
static void rd_undef(void *c) { rd_bad(c, "undefined value"); }
static void rd_break(void *c) { rd_bad(c, "indefinite-length break"); }
static void rd_tag(void *c, uint64_t v) { (void)v; rd_bad(c, "unexpected tag"); }

static const struct cbor_callbacks read_callbacks = {
    .uint8 = rd_u8, .uint16 = rd_u16, .uint32 = rd_u32, .uint64 = rd_u64,
    .negint8 = rd_n8, .negint16 = rd_n16, .negint32 = rd_n32, .negint64 = rd_n64,
    .byte_string_start = rd_indef, .byte_string = rd_bytes,
    .string_start = rd_indef, .string = rd_text,
    .indef_array_start = rd_indef, .array_start = rd_array,
    .indef_map_start = rd_indef, .map_start = rd_map,
    .tag = rd_tag,
    .float2 = rd_float2, .float4 = rd_float2, .float8 = rd_float8,
    .undefined = rd_undef, .null = rd_null, .boolean = rd_bool,
    .indef_break = rd_break,
};

void proto_cbor_reader_init(struct proto_cbor_reader *rd, const uint8_t *p, size_t len)
{
    rd->p = p;
    rd->len = len;
    rd->off = 0;
    rd->owed = 1;
    rd->bad = NULL;
}

static bool rd_fail(struct proto_cbor_reader *rd, const char *why)
{
    if (!rd->bad)
        rd->bad = why;
    return false;
}

/* RFC 8949 4.2.1: the argument in the fewest bytes. ai 24..27 carry it in 1, 2, 4 or 8
 * bytes, which is only right when it does not fit the form below. */
static bool shortest(uint8_t ai, uint64_t arg)
{
    switch (ai) {
    case 24: return arg >= 24;
    case 25: return arg > 0xff;
    case 26: return arg > 0xffff;
    case 27: return arg > 0xffffffffu;
    default: return true;
    }
}

bool proto_cbor_read(struct proto_cbor_reader *rd, struct proto_cbor_item *it)
{
    struct read_ctx ctx = {it, NULL};
    struct cbor_decoder_result res;
    size_t left = rd->len - rd->off;
    const uint8_t *head = rd->p + rd->off;
    uint64_t children = 0;

    if (rd->bad)
        return false;
    if (rd->owed == 0)
        return rd_fail(rd, "trailing bytes after the item");
    if (left == 0)
        return rd_fail(rd, "truncated CBOR");
    it->data = NULL;
    it->enc = head;
    if (head[0] >> 5 == 6) {
        /* libcbor 0.8 (Debian 12) refuses tags 6..20 as "reserved", COSE_Sign1's 18
         * among them, so the one-byte tag head (tags 0..23, the only ones a
         * deterministic encoder writes for them) is read here; any longer tag is
         * refused, as no record or bundle carries one. */
        if ((head[0] & 0x1f) >= 24)
            return rd_fail(rd, "unexpected tag");
        it->kind = PROTO_CBOR_TAG;
        it->v = head[0] & 0x1f;
        res.read = 1;
    } else {
        res = cbor_stream_decode(head, left, &read_callbacks, &ctx);
        if (res.status != CBOR_DECODER_FINISHED || res.read == 0)
            return rd_fail(rd, res.status == CBOR_DECODER_NEDATA
                                   ? "truncated CBOR"
                                   : "malformed CBOR (reserved or invalid head)");
        if (ctx.bad)
            return rd_fail(rd, ctx.bad);
        if (!shortest(head[0] & 0x1f, it->v))
            return rd_fail(rd, "not deterministic (non-shortest integer or length)");
    }
    it->enc_len = res.read;
    rd->off += res.read;
    left -= res.read;
    /* Every element takes at least one byte, so the elements still owed (across all
     * open arrays and maps) may never exceed the bytes left: a header claiming more is
     * refused before any caller sizes an allocation by it. */
    if (it->kind == PROTO_CBOR_ARRAY)
        children = it->v;
    else if (it->kind == PROTO_CBOR_MAP)
        children = it->v > left ? it->v : 2 * it->v;
    else if (it->kind == PROTO_CBOR_TAG)
        children = 1;
    if (children > left || rd->owed - 1 + children > left)
        return rd_fail(rd, "declares more elements than bytes present");
    rd->owed = rd->owed - 1 + children;
    return true;
}

bool proto_cbor_reader_done(const struct proto_cbor_reader *rd)
{
    return !rd->bad && rd->owed == 0 && rd->off == rd->len;
}

int proto_cbor_enc_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = memcmp(a, b, m);
    if (c != 0)
        return c;
    return alen == blen ? 0 : alen < blen ? -1 : 1;
}

/* --- whole-item check ----------------------------------------------------------------
 * Walks one item with the reader (so with its head checks), checking what only the
 * structure shows: depth and map keys strictly ascending by their encodings (RFC 8949
 * 4.2.1; equal keys are duplicates). Run before libcbor builds anything. */

static bool walk(struct proto_cbor_reader *rd, unsigned depth)
{
    struct proto_cbor_item it;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;

    if (depth > MAX_DEPTH)
        return rd_fail(rd, "nested too deeply");
    if (!proto_cbor_read(rd, &it))
        return false;
    switch (it.kind) {
    case PROTO_CBOR_ARRAY:
        for (uint64_t i = 0; i < it.v; i++)
            if (!walk(rd, depth + 1))
                return false;
        return true;
    case PROTO_CBOR_MAP:
        for (uint64_t i = 0; i < it.v; i++) {
            size_t key_off = rd->off;
            const uint8_t *key = rd->p + key_off;
            int c;
            if (!walk(rd, depth + 1))
                return false;
            if (prev && (c = proto_cbor_enc_cmp(prev, prev_len, key, rd->off - key_off)) >= 0)
                return rd_fail(rd, c == 0 ? "duplicate map key"
                                          : "map keys not in deterministic order");
            prev = key;
            prev_len = rd->off - key_off;
            if (!walk(rd, depth + 1))
                return false;
        }
        return true;
    case PROTO_CBOR_TAG:
        return rd_fail(rd, "unexpected tag");
    default:
        return true;
    }
}

static int load_untagged(const uint8_t *p, size_t len, cbor_item_t **out, char *err,
                         size_t errlen)
{
    struct proto_cbor_reader rd;
    struct cbor_load_result res;
    cbor_item_t *it;

    if (len == 0) {
        snprintf(err, errlen, "empty CBOR input");
        return TN_ERR_INVALID;
    }
    /* The walk is what bounds libcbor's allocations (it allocates an array or map of the
     * declared size before reading its elements) and what makes the input
     * deterministic: libcbor then only builds the tree. */
    proto_cbor_reader_init(&rd, p, len);
    if (!walk(&rd, 0) || !proto_cbor_reader_done(&rd)) {
        snprintf(err, errlen, "CBOR: %s",
                 rd.bad ? rd.bad : "trailing bytes after the item");
        return TN_ERR_INVALID;
    }
    it = cbor_load(p, len, &res);
    if (!it || res.error.code != CBOR_ERR_NONE || res.read != len) {
        if (it)
            cbor_decref(&it);
        snprintf(err, errlen, "CBOR: malformed item");
        return res.error.code == CBOR_ERR_MEMERROR ? TN_ERR_NOMEM : TN_ERR_INVALID;
    }
    *out = it;
    return 0;
}

int proto_cbor_load(const uint8_t *p, size_t len, uint64_t allow_tag, cbor_item_t **out,
                    char *err, size_t errlen)
{
    cbor_item_t *inner, *tag;
    int rc;

    *out = NULL;
    if (!allow_tag)
        return load_untagged(p, len, out, err, errlen);
    /* libcbor 0.8 refuses tags 6..20 (see proto_cbor_read), so the one-byte tag head is
     * checked here and only the tagged item handed to libcbor. */
    if (allow_tag >= 24 || len < 1 || p[0] != (0xc0 | allow_tag)) {
        snprintf(err, errlen, "CBOR: tag %llu missing", (unsigned long long)allow_tag);
        return TN_ERR_INVALID;
    }
    if ((rc = load_untagged(p + 1, len - 1, &inner, err, errlen)) != 0)
        return rc;
    if (!(tag = cbor_new_tag(allow_tag))) {
        cbor_decref(&inner);
        return TN_ERR_NOMEM;
    }
    cbor_tag_set_item(tag, inner);
    cbor_decref(&inner);
    *out = tag;
    return 0;
}
