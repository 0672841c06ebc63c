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

/* --- pre-scan ---------------------------------------------------------------------
 * libcbor's cbor_load() allocates an array or map of the declared size before reading
 * its elements, so a 10-byte input could ask for gigabytes. This pass walks the headers
 * with libcbor's streaming decoder first and refuses declared sizes that cannot fit in
 * the bytes left, and every construct a deterministic record never contains. */

struct prescan {
    uint64_t children; /* elements the item just read declares (arrays, maps) */
    size_t remaining;  /* bytes from the current header to the end of the input */
    const char *bad;
};

static void ps_bad(void *ctx, const char *why)
{
    struct prescan *ps = ctx;
    if (!ps->bad)
        ps->bad = why;
}
static void ps_u8(void *c, uint8_t v) { (void)c; (void)v; }
static void ps_u16(void *c, uint16_t v) { (void)c; (void)v; }
static void ps_u32(void *c, uint32_t v) { (void)c; (void)v; }
static void ps_u64(void *c, uint64_t v) { (void)c; (void)v; }
static void ps_str(void *c, cbor_data d, size_t n) { (void)c; (void)d; (void)n; }
static void ps_indef(void *c) { ps_bad(c, "indefinite-length item"); }
static void ps_float2(void *c, float v) { (void)v; ps_bad(c, "floating-point value"); }
static void ps_float8(void *c, double v) { (void)v; ps_bad(c, "floating-point value"); }
static void ps_undef(void *c) { ps_bad(c, "undefined value"); }
static void ps_null(void *c) { (void)c; }
static void ps_bool(void *c, bool v) { (void)c; (void)v; }
static void ps_break(void *c) { ps_bad(c, "indefinite-length break"); }

static void ps_array(void *ctx, size_t n)
{
    struct prescan *ps = ctx;
    ps->children = n;
    if (n > ps->remaining)
        ps_bad(ctx, "array longer than the input");
}

static void ps_map(void *ctx, size_t n)
{
    struct prescan *ps = ctx;
    ps->children = 2 * (uint64_t)n;
    if (n > ps->remaining / 2)
        ps_bad(ctx, "map longer than the input");
}

static void ps_tag(void *ctx, uint64_t tag)
{
    (void)tag;
    ps_bad(ctx, "unexpected tag");
}

static const struct cbor_callbacks prescan_callbacks = {
    .uint8 = ps_u8, .uint16 = ps_u16, .uint32 = ps_u32, .uint64 = ps_u64,
    .negint8 = ps_u8, .negint16 = ps_u16, .negint32 = ps_u32, .negint64 = ps_u64,
    .byte_string_start = ps_indef, .byte_string = ps_str,
    .string_start = ps_indef, .string = ps_str,
    .indef_array_start = ps_indef, .array_start = ps_array,
    .indef_map_start = ps_indef, .map_start = ps_map,
    .tag = ps_tag,
    .float2 = ps_float2, .float4 = ps_float2, .float8 = ps_float8,
    .undefined = ps_undef, .null = ps_null, .boolean = ps_bool,
    .indef_break = ps_break,
};

/* Every element takes at least one byte, so the elements still owed (counted across all
 * open arrays and maps, as in msg.c) may never exceed the bytes left: nested headers
 * that each claim the rest of the input are refused before libcbor allocates. */
static const char *prescan(const uint8_t *p, size_t len)
{
    struct prescan ps = {0};
    size_t off = 0;
    uint64_t owed = 1;

    while (off < len) {
        struct cbor_decoder_result r;
        if (owed == 0)
            return "trailing bytes after the item";
        ps.children = 0;
        ps.remaining = len - off;
        r = cbor_stream_decode(p + off, len - off, &prescan_callbacks, &ps);
        if (r.status != CBOR_DECODER_FINISHED || r.read == 0)
            return r.status == CBOR_DECODER_NEDATA ? "truncated CBOR"
                                                   : "malformed CBOR (reserved or invalid head)";
        if (ps.bad)
            return ps.bad;
        off += r.read;
        owed = owed - 1 + ps.children;
        if (owed > len - off)
            return "declares more elements than bytes present";
    }
    return NULL;
}

/* --- canonical re-encoding ---------------------------------------------------------- */

static const char *reencode(struct proto_cbuf *b, const cbor_item_t *it, unsigned depth);

static const char *reencode_map(struct proto_cbuf *b, const cbor_item_t *it, unsigned depth)
{
    struct cbor_pair *pairs = cbor_map_handle(it);
    size_t n = cbor_map_size(it);
    size_t prev_off = 0, prev_len = 0;
    const char *bad;

    proto_cbor_map(b, n);
    for (size_t i = 0; i < n; i++) {
        size_t key_off = b->len;
        if ((bad = reencode(b, pairs[i].key, depth + 1)) != NULL)
            return bad;
        if (b->overflow)
            return "not deterministic";
        if (i > 0) {
            /* RFC 8949 4.2.1: keys sorted bytewise by their encodings; equal = duplicate */
            size_t key_len = b->len - key_off, m = key_len < prev_len ? key_len : prev_len;
            int c = memcmp(b->p + prev_off, b->p + key_off, m);
            if (c == 0 && key_len == prev_len)
                return "duplicate map key";
            if (c > 0 || (c == 0 && prev_len > key_len))
                return "map keys not in deterministic order";
        }
        prev_off = key_off;
        prev_len = b->len - key_off;
        if ((bad = reencode(b, pairs[i].value, depth + 1)) != NULL)
            return bad;
    }
    return NULL;
}

static const char *reencode(struct proto_cbuf *b, const cbor_item_t *it, unsigned depth)
{
    const char *bad = NULL;

    if (depth > MAX_DEPTH)
        return "nested too deeply";
    switch (cbor_typeof(it)) {
    case CBOR_TYPE_UINT:
        proto_cbor_uint(b, cbor_get_int(it));
        return NULL;
    case CBOR_TYPE_NEGINT:
        if (!b->overflow)
            advance(b, cbor_encode_negint(cbor_get_int(it), b->p + b->len, b->cap - b->len));
        return NULL;
    case CBOR_TYPE_BYTESTRING:
        if (!cbor_bytestring_is_definite(it))
            return "indefinite-length byte string";
        proto_cbor_bytes(b, cbor_bytestring_handle(it), cbor_bytestring_length(it));
        return NULL;
    case CBOR_TYPE_STRING:
        if (!cbor_string_is_definite(it))
            return "indefinite-length text string";
        proto_cbor_text(b, (const char *)cbor_string_handle(it), cbor_string_length(it));
        return NULL;
    case CBOR_TYPE_ARRAY:
        if (!cbor_array_is_definite(it))
            return "indefinite-length array";
        proto_cbor_array(b, cbor_array_size(it));
        for (size_t i = 0; i < cbor_array_size(it) && !bad; i++)
            bad = reencode(b, cbor_array_handle(it)[i], depth + 1);
        return bad;
    case CBOR_TYPE_MAP:
        if (!cbor_map_is_definite(it))
            return "indefinite-length map";
        return reencode_map(b, it, depth);
    case CBOR_TYPE_TAG: {
        cbor_item_t *inner = cbor_tag_item(it);
        proto_cbor_tag(b, cbor_tag_value(it));
        bad = reencode(b, inner, depth + 1);
        cbor_decref(&inner);
        return bad;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        if (cbor_is_null(it)) {
            proto_cbor_null(b);
            return NULL;
        }
        if (cbor_is_bool(it)) {
            proto_cbor_bool(b, cbor_get_bool(it));
            return NULL;
        }
        return "floating-point or simple value";
    }
    return "unknown CBOR type";
}

static int load_untagged(const uint8_t *p, size_t len, cbor_item_t **out, char *err,
                         size_t errlen, bool strict)
{
    struct cbor_load_result res;
    struct proto_cbuf b;
    uint8_t *copy = NULL;
    const char *bad;
    cbor_item_t *it;

    if (len == 0) {
        snprintf(err, errlen, "empty CBOR input");
        return TN_ERR_INVALID;
    }
    /* The pre-scan runs for stored bytes too: it is what bounds libcbor's allocations
     * and keeps out indefinite lengths (whose strings have no handle), and a stored
     * record can still be a corrupted page (DESIGN section 7). Only the re-encoding
     * check below is skipped for them. */
    if ((bad = prescan(p, len)) != NULL) {
        snprintf(err, errlen, "CBOR: %s", bad);
        return TN_ERR_INVALID;
    }
    it = cbor_load(p, len, &res);
    if (!it || res.error.code != CBOR_ERR_NONE) {
        if (it)
            cbor_decref(&it);
        snprintf(err, errlen, "CBOR: malformed item");
        return res.error.code == CBOR_ERR_MEMERROR ? TN_ERR_NOMEM : TN_ERR_INVALID;
    }
    if (res.read != len) {
        cbor_decref(&it);
        snprintf(err, errlen, "CBOR: %zu trailing bytes after the item", len - res.read);
        return TN_ERR_INVALID;
    }
    if (!strict) {
        *out = it;
        return 0;
    }
    /* Deterministic iff re-encoding what was parsed gives the same bytes. */
    if (!(copy = malloc(len))) {
        cbor_decref(&it);
        return TN_ERR_NOMEM;
    }
    proto_cbuf_init(&b, copy, len);
    bad = reencode(&b, it, 0);
    if (!bad && (b.overflow || b.len != len || memcmp(copy, p, len) != 0))
        bad = "not deterministic (non-shortest integer or length)";
    free(copy);
    if (bad) {
        cbor_decref(&it);
        snprintf(err, errlen, "CBOR: %s", bad);
        return TN_ERR_INVALID;
    }
    *out = it;
    return 0;
}

static int load(const uint8_t *p, size_t len, uint64_t allow_tag, cbor_item_t **out, char *err,
                size_t errlen, bool strict)
{
    cbor_item_t *inner, *tag;
    int rc;

    *out = NULL;
    if (!allow_tag)
        return load_untagged(p, len, out, err, errlen, strict);
    /* libcbor 0.8 (Debian 12) refuses tags 6..20 as "reserved" (streaming.c), which
     * includes COSE_Sign1's tag 18, so the one-byte tag head (tags below 24, which is
     * all we allow) is read here and the tagged item handed to libcbor. Deterministic
     * encoding demands exactly this one-byte head. */
    if (allow_tag >= 24 || len < 1 || p[0] != (0xc0 | allow_tag)) {
        snprintf(err, errlen, "CBOR: tag %llu missing", (unsigned long long)allow_tag);
        return TN_ERR_INVALID;
    }
    if ((rc = load_untagged(p + 1, len - 1, &inner, err, errlen, strict)) != 0)
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

int proto_cbor_load(const uint8_t *p, size_t len, uint64_t allow_tag, cbor_item_t **out,
                    char *err, size_t errlen)
{
    return load(p, len, allow_tag, out, err, errlen, true);
}

int proto_cbor_load_stored(const uint8_t *p, size_t len, uint64_t allow_tag, cbor_item_t **out,
                           char *err, size_t errlen)
{
    return load(p, len, allow_tag, out, err, errlen, false);
}
