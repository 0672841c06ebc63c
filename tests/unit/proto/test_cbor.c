/* Deterministic CBOR (RFC 8949 section 4.2.1): the typed writers give the exact shortest
 * encodings, proto_cbor_load accepts exactly the deterministic forms and refuses every
 * other one, hostile size fields are refused before allocating, and proto_utf8_ok
 * follows RFC 3629 plus the "no C0 controls" rule. */
#include <sodium.h>

#include "proto_test.h"

#include "crypto/key.h"
#include "proto/cbor.h"
#include "proto/record.h"

static int setup(void **state)
{
    (void)state;
    return cry_init() == 0 ? 0 : -1;
}

/* ---- writers ------------------------------------------------------------------------ */

struct wcase {
    const char *what;
    void (*write)(struct proto_cbuf *b);
    const char *hex;
};

static void w_u0(struct proto_cbuf *b) { proto_cbor_uint(b, 0); }
static void w_u23(struct proto_cbuf *b) { proto_cbor_uint(b, 23); }
static void w_u24(struct proto_cbuf *b) { proto_cbor_uint(b, 24); }
static void w_u255(struct proto_cbuf *b) { proto_cbor_uint(b, 255); }
static void w_u256(struct proto_cbuf *b) { proto_cbor_uint(b, 256); }
static void w_u65535(struct proto_cbuf *b) { proto_cbor_uint(b, 65535); }
static void w_u65536(struct proto_cbuf *b) { proto_cbor_uint(b, 65536); }
static void w_u32max(struct proto_cbuf *b) { proto_cbor_uint(b, UINT32_MAX); }
static void w_u2p32(struct proto_cbuf *b) { proto_cbor_uint(b, UINT64_C(1) << 32); }
static void w_u64max(struct proto_cbuf *b) { proto_cbor_uint(b, UINT64_MAX); }
static void w_i5(struct proto_cbuf *b) { proto_cbor_int(b, 5); }
static void w_im1(struct proto_cbuf *b) { proto_cbor_int(b, -1); }
static void w_im24(struct proto_cbuf *b) { proto_cbor_int(b, -24); }
static void w_im25(struct proto_cbuf *b) { proto_cbor_int(b, -25); }
static void w_im256(struct proto_cbuf *b) { proto_cbor_int(b, -256); }
static void w_im257(struct proto_cbuf *b) { proto_cbor_int(b, -257); }
static void w_imin(struct proto_cbuf *b) { proto_cbor_int(b, INT64_MIN); }
static void w_imax(struct proto_cbuf *b) { proto_cbor_int(b, INT64_MAX); }
static void w_text(struct proto_cbuf *b) { proto_cbor_cstr(b, "IETF"); }
static void w_text0(struct proto_cbuf *b) { proto_cbor_text(b, "", 0); }
static void w_text24(struct proto_cbuf *b) { proto_cbor_cstr(b, "abcdefghijklmnopqrstuvwx"); }
static void w_bytes(struct proto_cbuf *b) { proto_cbor_bytes(b, (const uint8_t *)"\x01\x02", 2); }
static void w_bytes0(struct proto_cbuf *b) { proto_cbor_bytes(b, NULL, 0); }
static void w_arr0(struct proto_cbuf *b) { proto_cbor_array(b, 0); }
static void w_arr24(struct proto_cbuf *b) { proto_cbor_array(b, 24); }
static void w_map0(struct proto_cbuf *b) { proto_cbor_map(b, 0); }
static void w_map1000(struct proto_cbuf *b) { proto_cbor_map(b, 1000); }
static void w_tag18(struct proto_cbuf *b) { proto_cbor_tag(b, 18); }
static void w_true(struct proto_cbuf *b) { proto_cbor_bool(b, true); }
static void w_false(struct proto_cbuf *b) { proto_cbor_bool(b, false); }
static void w_null(struct proto_cbuf *b) { proto_cbor_null(b); }

static void test_writers_exact_bytes(void **state)
{
    static const struct wcase cases[] = {
        {"uint 0", w_u0, "00"},
        {"uint 23", w_u23, "17"},
        {"uint 24", w_u24, "18 18"},
        {"uint 255", w_u255, "18 ff"},
        {"uint 256", w_u256, "19 01 00"},
        {"uint 65535", w_u65535, "19 ff ff"},
        {"uint 65536", w_u65536, "1a 00 01 00 00"},
        {"uint 2^32-1", w_u32max, "1a ff ff ff ff"},
        {"uint 2^32", w_u2p32, "1b 00 00 00 01 00 00 00 00"},
        {"uint max", w_u64max, "1b ff ff ff ff ff ff ff ff"},
        {"int 5", w_i5, "05"},
        {"int -1", w_im1, "20"},
        {"int -24", w_im24, "37"},
        {"int -25", w_im25, "38 18"},
        {"int -256", w_im256, "38 ff"},
        {"int -257", w_im257, "39 01 00"},
        {"int min", w_imin, "3b 7f ff ff ff ff ff ff ff"},
        {"int max", w_imax, "1b 7f ff ff ff ff ff ff ff"},
        {"text", w_text, "64 49 45 54 46"},
        {"empty text", w_text0, "60"},
        {"text 24", w_text24,
         "78 18 61 62 63 64 65 66 67 68 69 6a 6b 6c 6d 6e 6f 70 71 72 73 74 75 76 77 78"},
        {"bytes", w_bytes, "42 01 02"},
        {"empty bytes", w_bytes0, "40"},
        {"array 0", w_arr0, "80"},
        {"array 24", w_arr24, "98 18"},
        {"map 0", w_map0, "a0"},
        {"map 1000", w_map1000, "b9 03 e8"},
        {"tag 18", w_tag18, "d2"},
        {"true", w_true, "f5"},
        {"false", w_false, "f4"},
        {"null", w_null, "f6"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[64], want[64];
        size_t n = pt_hex(want, sizeof want, cases[i].hex);
        struct proto_cbuf b;
        proto_cbuf_init(&b, buf, sizeof buf);
        cases[i].write(&b);
        if (b.overflow || b.len != n || memcmp(buf, want, n) != 0) {
            print_error("writer %s: got %zu bytes (overflow %d), want %s\n", cases[i].what,
                        b.len, b.overflow, cases[i].hex);
            fail();
        }
    }
}

static void test_writer_overflow_is_sticky(void **state)
{
    uint8_t buf[8];
    struct proto_cbuf b;
    (void)state;

    memset(buf, 0xee, sizeof buf);
    proto_cbuf_init(&b, buf, 4);
    proto_cbor_uint(&b, 1);
    assert_false(b.overflow);
    assert_int_equal(b.len, 1);
    proto_cbor_cstr(&b, "abcdef"); /* does not fit */
    assert_true(b.overflow);
    assert_true(b.len <= 4);
    proto_cbor_uint(&b, 2); /* would fit, but overflow is sticky */
    assert_true(b.overflow);
    assert_true(b.len <= 4);
    assert_int_equal(buf[4], 0xee); /* never wrote past cap */
    assert_int_equal(buf[0], 0x01);

    proto_cbuf_init(&b, buf, 0);
    proto_cbor_null(&b);
    assert_true(b.overflow);
    assert_int_equal(b.len, 0);
}

static void test_key_cmp(void **state)
{
    (void)state;
    assert_true(proto_cbor_key_cmp("b", 1, "aa", 2) < 0); /* shorter first */
    assert_true(proto_cbor_key_cmp("aa", 2, "b", 1) > 0);
    assert_true(proto_cbor_key_cmp("a", 1, "b", 1) < 0);
    assert_true(proto_cbor_key_cmp("b", 1, "a", 1) > 0);
    assert_int_equal(proto_cbor_key_cmp("to", 2, "to", 2), 0);
    assert_true(proto_cbor_key_cmp("", 0, "a", 1) < 0);
    assert_true(proto_cbor_key_cmp("Z", 1, "a", 1) < 0); /* bytewise, not case-folded */
    assert_true(proto_cbor_key_cmp("\xc3\xa9", 2, "zz", 2) > 0);
}

/* ---- proto_cbor_load: accepted forms -------------------------------------------------- */

static int load_hex(const char *hex, uint64_t tag, cbor_item_t **it, char *err, size_t errlen)
{
    uint8_t buf[512];
    size_t n = pt_hex(buf, sizeof buf, hex);
    return proto_cbor_load(buf, n, tag, it, err, errlen);
}

static void test_load_accepts_deterministic(void **state)
{
    uint8_t buf[256];
    struct proto_cbuf b;
    cbor_item_t *it = NULL, **arr;
    struct cbor_pair *pairs;
    char err[256] = "";
    (void)state;

    /* {"a": 1, "bb": [true, false, null, -5, h'0001', "x", 1000000]} */
    proto_cbuf_init(&b, buf, sizeof buf);
    proto_cbor_map(&b, 2);
    proto_cbor_cstr(&b, "a");
    proto_cbor_uint(&b, 1);
    proto_cbor_cstr(&b, "bb");
    proto_cbor_array(&b, 7);
    proto_cbor_bool(&b, true);
    proto_cbor_bool(&b, false);
    proto_cbor_null(&b);
    proto_cbor_int(&b, -5);
    proto_cbor_bytes(&b, (const uint8_t *)"\x00\x01", 2);
    proto_cbor_cstr(&b, "x");
    proto_cbor_uint(&b, 1000000);
    assert_false(b.overflow);

    EXPECT_RC(proto_cbor_load(buf, b.len, 0, &it, err, sizeof err), 0, err, "deterministic map");
    assert_non_null(it);
    assert_true(cbor_isa_map(it));
    assert_int_equal(cbor_map_size(it), 2);
    pairs = cbor_map_handle(it);
    assert_int_equal(cbor_string_length(pairs[0].key), 1);
    assert_memory_equal(cbor_string_handle(pairs[0].key), "a", 1);
    assert_int_equal(cbor_get_int(pairs[0].value), 1);
    assert_true(cbor_isa_array(pairs[1].value));
    assert_int_equal(cbor_array_size(pairs[1].value), 7);
    arr = cbor_array_handle(pairs[1].value);
    assert_true(cbor_get_bool(arr[0]));
    assert_false(cbor_get_bool(arr[1]));
    assert_true(cbor_is_null(arr[2]));
    assert_true(cbor_isa_negint(arr[3]));
    assert_int_equal(cbor_get_int(arr[3]), 4);
    assert_int_equal(cbor_bytestring_length(arr[4]), 2);
    assert_int_equal(cbor_bytestring_handle(arr[4])[1], 1);
    assert_memory_equal(cbor_string_handle(arr[5]), "x", 1);
    assert_int_equal(cbor_get_int(arr[6]), 1000000);
    cbor_decref(&it);
}

static void test_load_accepts_boundaries(void **state)
{
    static const char *const ok[] = {
        "00", "17", "18 18", "18 ff", "19 01 00", "19 ff ff", "1a 00 01 00 00",
        "1a ff ff ff ff", "1b 00 00 00 01 00 00 00 00", "1b ff ff ff ff ff ff ff ff",
        "20", "37", "38 18", "3b ff ff ff ff ff ff ff ff", "60", "40", "80", "a0", "f4",
        "f5", "f6",
        /* length-first key order: 23-char key (header 0x77) before 24-char (0x78 18) */
        ("a2 77 6161616161616161616161616161616161616161616161 00"
         " 78 18 616161616161616161616161616161616161616161616161 00"),
        /* integer keys sort by encoding: 10 (0a) before -1 (20) */
        "a2 0a 00 20 00",
        /* {"b": 1, "aa": 2}: shorter key first even though "aa" < "b" */
        "a2 61 62 01 62 61 61 02",
        /* four levels of nesting */
        "81 81 81 81 00",
    };
    (void)state;

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cbor_item_t *it = NULL;
        char err[256] = "";
        EXPECT_RC(load_hex(ok[i], 0, &it, err, sizeof err), 0, err, "load %s", ok[i]);
        assert_non_null(it);
        cbor_decref(&it);
    }
}

static void test_load_tags(void **state)
{
    cbor_item_t *it = NULL;
    char err[256] = "";
    (void)state;

    EXPECT_RC(load_hex("d2 80", 18, &it, err, sizeof err), 0, err, "tag 18 allowed");
    assert_true(cbor_isa_tag(it));
    assert_int_equal(cbor_tag_value(it), 18);
    cbor_decref(&it);

    err[0] = '\0';
    EXPECT_RC(load_hex("d2 80", 0, &it, err, sizeof err), TN_ERR_INVALID, err, "no tag allowed");
    assert_null(it);
    assert_true(err[0] != '\0');
    EXPECT_RC(load_hex("d1 80", 18, &it, err, sizeof err), TN_ERR_INVALID, err, "tag 17");
    EXPECT_RC(load_hex("d2 d2 80", 18, &it, err, sizeof err), TN_ERR_INVALID, err, "tag twice");
    EXPECT_RC(load_hex("81 d2 80", 18, &it, err, sizeof err), TN_ERR_INVALID, err,
              "tag 18 nested");
    EXPECT_RC(load_hex("d2 81 c1 00", 18, &it, err, sizeof err), TN_ERR_INVALID, err,
              "inner tag 1");
    EXPECT_RC(load_hex("d8 12 80", 18, &it, err, sizeof err), TN_ERR_INVALID, err,
              "tag 18 in non-shortest form");
}

/* ---- proto_cbor_load: refused forms ---------------------------------------------------- */

static void test_load_refuses_nondeterministic(void **state)
{
    static const struct {
        const char *what, *hex;
    } bad[] = {
        {"uint 5 as 18 05", "18 05"},
        {"uint 23 as 18 17", "18 17"},
        {"uint 5 as 19 00 05", "19 00 05"},
        {"uint 255 as 19 00 ff", "19 00 ff"},
        {"uint 65535 as 1a", "1a 00 00 ff ff"},
        {"uint 2^32-1 as 1b", "1b 00 00 00 00 ff ff ff ff"},
        {"negint -1 as 38 00", "38 00"},
        {"negint -25 as 39 00 18", "39 00 18"},
        {"text length non-shortest", "78 01 61"},
        {"bytes length non-shortest", "58 01 00"},
        {"array length non-shortest", "98 01 00"},
        {"map length non-shortest", "b8 01 61 61 00"},
        {"non-shortest int inside array", "82 00 18 05"},
        {"non-shortest int as map value", "a1 61 61 18 05"},
        {"indefinite array", "9f 01 ff"},
        {"indefinite empty array", "9f ff"},
        {"indefinite map", "bf 61 61 01 ff"},
        {"indefinite text", "7f 61 61 ff"},
        {"indefinite bytes", "5f 41 00 ff"},
        {"indefinite array nested", "81 9f ff"},
        {"unsorted keys", "a2 61 62 01 61 61 02"},
        {"longer key first", "a2 62 61 61 01 61 62 02"},
        {"unsorted integer keys", "a2 20 00 0a 00"},
        {"duplicate keys", "a2 61 61 01 61 61 02"},
        {"duplicate keys, different values", "a2 61 61 01 61 61 01"},
        {"duplicate keys nested", "a1 61 78 a2 61 61 01 61 61 02"},
        {"trailing byte", "01 00"},
        {"two items", "80 80"},
        {"truncated text", "62 61"},
        {"truncated array", "82 01"},
        {"truncated map", "a1 61 61"},
        {"truncated uint", "19 01"},
        {"half float", "f9 3c 00"},
        {"single float", "fa 3f 80 00 00"},
        {"double float", "fb 3f f0 00 00 00 00 00 00"},
        {"float in array", "82 01 fb 3f f0 00 00 00 00 00 00"},
        {"float as map value", "a1 61 61 f9 00 00"},
        {"undefined", "f7"},
        {"simple 0", "e0"},
        {"simple 32", "f8 20"},
        {"lone break", "ff"},
        {"reserved additional info", "1c"},
        {"tag without permission", "c1 00"},
        {"bignum tag", "c2 41 01"},
        {"nested too deep",
         "81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81 81"
         " 81 81 81 81 81 81 81 81 81 81 81 81 00"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cbor_item_t *it = NULL;
        char err[256] = "";
        EXPECT_RC(load_hex(bad[i].hex, 0, &it, err, sizeof err), TN_ERR_INVALID, err, "%s",
                  bad[i].what);
        assert_null(it);
        if (err[0] == '\0') {
            print_error("%s: no reason in err\n", bad[i].what);
            fail();
        }
    }
}

static void test_load_refuses_empty(void **state)
{
    cbor_item_t *it = NULL;
    char err[128] = "";
    uint8_t one = 0;
    (void)state;

    EXPECT_RC(proto_cbor_load(&one, 0, 0, &it, err, sizeof err), TN_ERR_INVALID, err, "empty");
    assert_null(it);
    assert_true(err[0] != '\0');
}

/* A header declaring 2^32 (or 2^32-1) elements or bytes in a 10-byte input: refused from
 * the header alone, without allocating. Under ASan a 32 GiB allocation would abort. */
static void test_load_refuses_huge_declared_sizes(void **state)
{
    static const char *const bad[] = {
        "9b 00 00 00 01 00 00 00 00 00", /* array of 2^32 */
        "9a ff ff ff ff 00 00 00 00 00", /* array of 2^32-1 */
        "bb 00 00 00 01 00 00 00 00 00", /* map of 2^32 pairs */
        "ba ff ff ff ff 00 00 00 00 00", /* map of 2^32-1 pairs */
        "5b 00 00 00 01 00 00 00 00 00", /* byte string of 2^32 */
        "7b 00 00 00 01 00 00 00 00 00", /* text string of 2^32 */
        "9b ff ff ff ff ff ff ff ff 00", /* array of 2^64-1 */
        "81 9b 00 00 00 01 00 00 00 00", /* nested */
        "d2 9b 00 00 00 01 00 00 00 00", /* under the allowed tag */
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cbor_item_t *it = NULL;
        char err[256] = "";
        double t0 = pt_now();
        EXPECT_RC(load_hex(bad[i], 18, &it, err, sizeof err), TN_ERR_INVALID, err, "%s", bad[i]);
        assert_null(it);
        assert_true(pt_now() - t0 < 1.0);
    }
}

/* The nested version of the same attack: 2000 arrays, each declaring as many elements as
 * there are bytes left in a 16 KiB input. Each declaration alone fits the input, but
 * libcbor allocates every level's element table before reading any element, so a
 * per-header check lets one 16 KiB record cost hundreds of MiB. The input must be refused
 * within a budget that is a small multiple of its size (here 64 MiB). */
struct limited_load {
    const uint8_t *p;
    size_t len;
    uint64_t tag;
    bool as_record;
};

static int limited_load_fn(void *ctx)
{
    struct limited_load *l = ctx;
    char err[256];
    int rc;

    if (l->as_record) {
        struct proto_record r;
        proto_record_init(&r);
        rc = proto_record_decode(l->p, l->len, &r, err, sizeof err);
        proto_record_release(&r);
    } else {
        cbor_item_t *it = NULL;
        rc = proto_cbor_load(l->p, l->len, l->tag, &it, err, sizeof err);
        if (it)
            cbor_decref(&it);
    }
    return rc;
}

static void nested_bomb(uint8_t *p, size_t len, size_t levels, uint8_t header, size_t start)
{
    size_t off = start;

    memset(p, 0, len);
    for (size_t k = 0; k < levels && off + 3 <= len; k++) {
        size_t n = len - off;
        if (header == 0xb9) /* map: pairs, each at least two bytes */
            n /= 2;
        if (n > 0xffff)
            n = 0xffff;
        p[off] = header;
        p[off + 1] = (uint8_t)(n >> 8);
        p[off + 2] = (uint8_t)n;
        off += 3;
    }
}

static void test_load_nested_declared_sizes_bounded(void **state)
{
    static uint8_t p[PROTO_RECORD_MAX];
    struct limited_load l = {p, sizeof p, 0, false};
    int rc;
    (void)state;

    if (PT_ASAN)
        skip(); /* RLIMIT_AS is unusable under ASan; the plain build runs this */

    /* Control: a legitimate 16 KiB input (one array of 16381 zeros) loads in the budget. */
    memset(p, 0, sizeof p);
    p[0] = 0x99;
    p[1] = (uint8_t)((sizeof p - 3) >> 8);
    p[2] = (uint8_t)(sizeof p - 3);
    rc = pt_run_limited(limited_load_fn, &l, 64u << 20);
    EXPECT_RC(rc, 0, "", "control: flat 16 KiB array within 64 MiB");

    nested_bomb(p, sizeof p, 2000, 0x99, 0);
    rc = pt_run_limited(limited_load_fn, &l, 64u << 20);
    EXPECT_RC(rc, TN_ERR_INVALID, "",
              "2000 nested arrays declaring the bytes left in 16 KiB, 64 MiB budget "
              "(TN_ERR_NOMEM means it tried to allocate past the budget)");

    nested_bomb(p, sizeof p, 2000, 0xb9, 0);
    rc = pt_run_limited(limited_load_fn, &l, 64u << 20);
    EXPECT_RC(rc, TN_ERR_INVALID, "", "2000 nested maps (as keys) in 16 KiB, 64 MiB budget");

    /* The same through the record decoder: tag 18 then the nested arrays. */
    nested_bomb(p, sizeof p, 2000, 0x99, 1);
    p[0] = 0xd2;
    l.as_record = true;
    rc = pt_run_limited(limited_load_fn, &l, 64u << 20);
    EXPECT_RC(rc, TN_ERR_INVALID, "", "16 KiB record of nested arrays, 64 MiB budget");
}

/* Reads every item of p[0..n) with the pull reader; true if all of it reads as one item. */
static bool read_all(const uint8_t *p, size_t n, const char **bad)
{
    struct proto_cbor_reader rd;
    struct proto_cbor_item it;

    proto_cbor_reader_init(&rd, p, n);
    while (!proto_cbor_reader_done(&rd) && proto_cbor_read(&rd, &it))
        ;
    *bad = rd.bad;
    return proto_cbor_reader_done(&rd);
}

/* What the heads alone show (declared sizes past the input, indefinite lengths, floats,
 * undefined, tags, non-shortest heads) is refused by the reader itself, so by every
 * decoder built on it, before anything is sized by a declared length. Found by
 * tests/fuzz/fuzz_record.c when stored records had a decoder of their own: a record whose
 * "seq" declared an array of 2^40 elements asked libcbor for 8 TiB. */
static void test_read_refuses_from_headers(void **state)
{
    static const char *const bad[] = {
        "9b 00 00 00 01 00 00 00 00 00", /* array of 2^32 */
        "9a ff ff ff ff 00 00 00 00 00", /* array of 2^32-1 */
        "bb 00 00 00 01 00 00 00 00 00", /* map of 2^32 pairs */
        "bb 80 00 00 00 00 00 00 00 00", /* map of 2^63 pairs (2n overflows) */
        "5b 00 00 00 01 00 00 00 00 00", /* byte string of 2^32 */
        "7b 00 00 00 01 00 00 00 00 00", /* text string of 2^32 */
        "9b ff ff ff ff ff ff ff ff 00", /* array of 2^64-1 */
        "81 9b 00 00 00 01 00 00 00 00", /* nested */
        "82 99 ff ff 00 00",             /* nested, each header alone fits the input */
        "9f 01 ff",                      /* indefinite array */
        "bf 61 61 01 ff",                /* indefinite map */
        "7f 61 61 ff",                   /* indefinite text */
        "5f 41 00 ff",                   /* indefinite bytes */
        "f9 3c 00",                      /* half float */
        "fb 3f f0 00 00 00 00 00 00",    /* double float */
        "f7",                            /* undefined */
        "e5",                            /* simple value 5 */
        "c1 00",                         /* tag: read, then refused by each caller */
        "d8 12 00",                      /* two-byte tag head */
        "19 00 05",                      /* non-shortest */
        "58 01 00",                      /* non-shortest length */
        "01 02",                         /* trailing bytes */
        "82 01",                         /* truncated */
        "",                              /* empty */
    };
    /* The fuzzer's record: "seq" is 9b 00 00 01 00 00 00 00 00 (an array of 2^40). */
    static const char *const record =
        "d2845826a2012704582003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
        "a0587ba8617601636e65746864656d6f2d6e6574636f72676461636d6563736571"
        "9b0000010000000000"
        "6470726576582040474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae1e8eff6fd040b1219"
        "6474696d651b0000028bcfe5680064747970656c6465636f6d6d697373696f6e656974656d7381"
        "656974656d435840821b4d4904699122f3ef154d1fda169dfa27efc4c7c8a7ebaf6e1681d23d33be"
        "d317d6c3e2ad9b98e88bf92043bbbffa4e952d26a9803dda9e9213ca11ecdc02";
    uint8_t buf[512];
    cbor_item_t *it = NULL;
    struct proto_record r;
    char err[256] = "";
    size_t n;
    (void)state;

    const char *why;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = pt_hex(buf, sizeof buf, bad[i]);
        if (strcmp(bad[i], "c1 00") != 0) { /* the reader hands tags out; callers refuse */
            assert_false(read_all(buf, n, &why));
            assert_non_null(why);
        }
        err[0] = '\0';
        EXPECT_RC(proto_cbor_load(buf, n, 0, &it, err, sizeof err), TN_ERR_INVALID, err,
                  "load of %s", bad[i]);
        assert_null(it);
        assert_true(err[0] != '\0');
    }

    /* Controls: the same shapes, well formed, read whole. */
    n = pt_hex(buf, sizeof buf, "82 05 a1 61 61 f6");
    assert_true(read_all(buf, n, &why));
    n = pt_hex(buf, sizeof buf, "c1 00");
    assert_true(read_all(buf, n, &why));

    n = pt_hex(buf, sizeof buf, record);
    proto_record_init(&r);
    EXPECT_RC(proto_record_decode(buf, n, &r, err, sizeof err), TN_ERR_INVALID, err,
              "decode of a record declaring a 2^40-element array");
    proto_record_release(&r);
}

/* The reader hands out each head with its value and its own encoding's span, which is
 * what callers compare map keys by. */
static void test_read_items(void **state)
{
    /* [1000, -2, h'0102', "ab", {"a": true}, null, 18(0)] */
    static const char hex[] = "87 19 03 e8 21 42 01 02 62 61 62 a1 61 61 f5 f6 d2 00";
    static const struct {
        enum proto_cbor_kind kind;
        uint64_t v;
        size_t off, enc_len;
    } want[] = {
        {PROTO_CBOR_ARRAY, 7, 0, 1},  {PROTO_CBOR_UINT, 1000, 1, 3},
        {PROTO_CBOR_NEGINT, 1, 4, 1}, {PROTO_CBOR_BYTES, 2, 5, 3},
        {PROTO_CBOR_TEXT, 2, 8, 3},   {PROTO_CBOR_MAP, 1, 11, 1},
        {PROTO_CBOR_TEXT, 1, 12, 2},  {PROTO_CBOR_BOOL, 1, 14, 1},
        {PROTO_CBOR_NULL, 0, 15, 1},  {PROTO_CBOR_TAG, 18, 16, 1},
        {PROTO_CBOR_UINT, 0, 17, 1},
    };
    uint8_t buf[64];
    size_t n = pt_hex(buf, sizeof buf, hex);
    struct proto_cbor_reader rd;
    struct proto_cbor_item it;
    (void)state;

    proto_cbor_reader_init(&rd, buf, n);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_false(proto_cbor_reader_done(&rd));
        assert_true(proto_cbor_read(&rd, &it));
        assert_int_equal(it.kind, want[i].kind);
        assert_int_equal(it.v, want[i].v);
        assert_ptr_equal(it.enc, buf + want[i].off);
        assert_int_equal(it.enc_len, want[i].enc_len);
    }
    assert_memory_equal(buf + 6, "\x01\x02", 2);
    assert_true(proto_cbor_reader_done(&rd));
    assert_false(proto_cbor_read(&rd, &it)); /* nothing after the one item */
    assert_non_null(strstr(rd.bad, "trailing"));

    assert_true(proto_cbor_enc_cmp((const uint8_t *)"\x61\x62", 2,
                                   (const uint8_t *)"\x62\x61\x61", 3) < 0);
    assert_true(proto_cbor_enc_cmp((const uint8_t *)"\x01", 1, (const uint8_t *)"\x01\x00",
                                   2) < 0);
    assert_int_equal(proto_cbor_enc_cmp((const uint8_t *)"\x05", 1, (const uint8_t *)"\x05", 1),
                     0);
}

/* ---- proto_utf8_ok ------------------------------------------------------------------- */

static void test_utf8(void **state)
{
    static const struct {
        const char *what, *hex;
        bool ok;
    } cases[] = {
        {"empty", "", true},
        {"ascii", "61 62 63", true},
        {"tab newline cr", "61 09 0a 0d 62", true},
        {"U+00E9", "c3 a9", true},
        {"U+0080 (C1 control allowed)", "c2 80", true},
        {"U+07FF", "df bf", true},
        {"U+0800", "e0 a0 80", true},
        {"U+20AC", "e2 82 ac", true},
        {"U+D7FF", "ed 9f bf", true},
        {"U+E000", "ee 80 80", true},
        {"U+FFFF", "ef bf bf", true},
        {"U+10000", "f0 90 80 80", true},
        {"U+1F600", "f0 9f 98 80", true},
        {"U+10FFFF", "f4 8f bf bf", true},
        {"mixed", "61 c3 a9 e2 82 ac f0 9f 98 80 7a", true},
        {"overlong NUL C0 80", "c0 80", false},
        {"overlong C1 BF", "c1 bf", false},
        {"overlong 3-byte E0 80 80", "e0 80 80", false},
        {"overlong U+07FF in 3 bytes", "e0 9f bf", false},
        {"overlong 4-byte F0 80 80 80", "f0 80 80 80", false},
        {"overlong U+FFFF in 4 bytes", "f0 8f bf bf", false},
        {"surrogate D800", "ed a0 80", false},
        {"surrogate DBFF", "ed af bf", false},
        {"surrogate DC00", "ed b0 80", false},
        {"surrogate DFFF", "ed bf bf", false},
        {"U+110000", "f4 90 80 80", false},
        {"F5 lead", "f5 80 80 80", false},
        {"F7 lead", "f7 bf bf bf", false},
        {"5-byte lead F8", "f8 88 80 80 80", false},
        {"FE", "fe", false},
        {"FF", "ff", false},
        {"lone continuation 80", "80", false},
        {"lone continuation BF", "61 bf", false},
        {"truncated 2-byte", "c3", false},
        {"truncated 2-byte after ascii", "61 62 c3", false},
        {"truncated 3-byte", "e2 82", false},
        {"truncated 3-byte one byte", "e2", false},
        {"truncated 4-byte", "f0 9f 98", false},
        {"bad continuation", "c3 28", false},
        {"bad continuation 3-byte", "e2 28 a1", false},
        {"bad continuation 4-byte", "f0 9f 28 80", false},
        {"ascii after lead", "e2 82 61", false},
        {"NUL", "00", false},
        {"NUL inside", "61 00 62", false},
        {"SOH", "01", false},
        {"ESC", "1b", false},
        {"US 1F", "1f", false},
        {"vertical tab", "0b", false},
        {"form feed", "0c", false},
        {"DEL", "7f", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[32];
        size_t n = pt_hex(buf, sizeof buf, cases[i].hex);
        if (proto_utf8_ok((const char *)buf, n) != cases[i].ok) {
            print_error("utf8 %s (%s): got %d, want %d\n", cases[i].what, cases[i].hex,
                        !cases[i].ok, cases[i].ok);
            fail();
        }
    }
    /* Only the first n bytes count. */
    assert_true(proto_utf8_ok("ab\xc3", 2));
    assert_false(proto_utf8_ok("ab\xc3\xa9", 3));
    assert_true(proto_utf8_ok("ab\xc3\xa9", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writers_exact_bytes),
        cmocka_unit_test(test_writer_overflow_is_sticky),
        cmocka_unit_test(test_key_cmp),
        cmocka_unit_test(test_load_accepts_deterministic),
        cmocka_unit_test(test_load_accepts_boundaries),
        cmocka_unit_test(test_load_tags),
        cmocka_unit_test(test_load_refuses_nondeterministic),
        cmocka_unit_test(test_load_refuses_empty),
        cmocka_unit_test(test_load_refuses_huge_declared_sizes),
        cmocka_unit_test(test_load_nested_declared_sizes_bounded),
        cmocka_unit_test(test_read_refuses_from_headers),
        cmocka_unit_test(test_read_items),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
