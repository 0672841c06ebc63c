/* msgpack messages [type, req_id, body] (DESIGN section 5) and the local API frame
 * length: round trips through msgpack-c's packer, every msgpack type accepted in a body,
 * and every malformed or hostile input refused before msgpack-c allocates for it. */
#include "proto_test.h"

#include "proto/msg.h"

struct packed {
    msgpack_sbuffer sb;
    msgpack_packer pk;
};

static void packed_init(struct packed *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void packed_release(struct packed *p)
{
    msgpack_sbuffer_destroy(&p->sb);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static int decode_hex(const char *hex, struct proto_msg *m, char *err, size_t errlen)
{
    static uint8_t buf[4096];
    size_t n = pt_hex(buf, sizeof buf, hex);
    return proto_msg_decode(buf, n, m, err, errlen);
}

/* ---- round trips ------------------------------------------------------------------------ */

static void test_begin_bytes(void **state)
{
    struct packed p;
    (void)state;

    packed_init(&p);
    proto_msg_begin(&p.pk, PROTO_API_SUBMIT, 42);
    msgpack_pack_nil(&p.pk);
    assert_int_equal(p.sb.size, 4);
    assert_memory_equal(p.sb.data, "\x93\x02\x2a\xc0", 4);
    packed_release(&p);
}

static void test_roundtrip_map_body(void **state)
{
    struct packed p;
    struct proto_msg m;
    const msgpack_object *v;
    char err[256] = "";
    static const uint8_t id[32] = {1, 2, 3, [31] = 0xff};
    (void)state;

    packed_init(&p);
    proto_msg_begin(&p.pk, PROTO_API_ERR, 7);
    msgpack_pack_map(&p.pk, 4);
    pack_str(&p.pk, "code");
    msgpack_pack_int(&p.pk, -11);
    pack_str(&p.pk, "msg");
    pack_str(&p.pk, "org 'x' is not in the ecosystem");
    pack_str(&p.pk, "index");
    msgpack_pack_uint32(&p.pk, 3);
    pack_str(&p.pk, "ids");
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_bin(&p.pk, sizeof id);
    msgpack_pack_bin_body(&p.pk, id, sizeof id);

    EXPECT_RC(proto_msg_decode((const uint8_t *)p.sb.data, p.sb.size, &m, err, sizeof err), 0,
              err, "decode");
    assert_int_equal(m.type, PROTO_API_ERR);
    assert_int_equal(m.req_id, 7);
    assert_non_null(m.body);
    assert_int_equal(m.body->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(m.body->via.map.size, 4);

    v = proto_msg_map_get(m.body, "code");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    assert_true(v->via.i64 == -11);
    v = proto_msg_map_get(m.body, "msg");
    assert_non_null(v);
    assert_true(proto_msg_str_eq(v, "org 'x' is not in the ecosystem"));
    assert_false(proto_msg_str_eq(v, "org 'x' is not in the ecosystem!"));
    assert_false(proto_msg_str_eq(v, "org"));
    v = proto_msg_map_get(m.body, "index");
    assert_non_null(v);
    assert_int_equal(v->via.u64, 3);
    v = proto_msg_map_get(m.body, "ids");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(v->via.array.ptr[0].type, MSGPACK_OBJECT_BIN);
    assert_int_equal(v->via.array.ptr[0].via.bin.size, 32);
    assert_memory_equal(v->via.array.ptr[0].via.bin.ptr, id, 32);

    assert_null(proto_msg_map_get(m.body, "cod"));
    assert_null(proto_msg_map_get(m.body, "codes"));
    assert_null(proto_msg_map_get(m.body, ""));
    assert_null(proto_msg_map_get(NULL, "code"));
    assert_null(proto_msg_map_get(proto_msg_map_get(m.body, "msg"), "code")); /* not a map */
    {
        msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
        assert_false(proto_msg_str_eq(&nil, ""));
    }
    proto_msg_release(&m);
    assert_null(m.body);
    packed_release(&p);
}

static void test_roundtrip_extremes(void **state)
{
    static const struct {
        uint64_t type;
        int64_t req_id;
    } cases[] = {
        {0, 0},
        {1, -1},
        {6, INT64_MAX},
        {UINT64_MAX, INT64_MIN},
        {255, 256},
        {65536, -32769},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct packed p;
        struct proto_msg m;
        char err[256] = "";
        packed_init(&p);
        proto_msg_begin(&p.pk, cases[i].type, cases[i].req_id);
        msgpack_pack_nil(&p.pk);
        EXPECT_RC(proto_msg_decode((const uint8_t *)p.sb.data, p.sb.size, &m, err, sizeof err), 0,
                  err, "case %zu", i);
        assert_true(m.type == cases[i].type);
        assert_true(m.req_id == cases[i].req_id);
        assert_int_equal(m.body->type, MSGPACK_OBJECT_NIL);
        proto_msg_release(&m);
        packed_release(&p);
    }
}

/* Every msgpack type and size class in a body is accepted (the pre-scan must agree with
 * msgpack-c on valid input). */
static void test_every_type_accepted(void **state)
{
    static char big[70000];
    struct packed p;
    struct proto_msg m;
    const msgpack_object *a;
    char err[256] = "";
    (void)state;

    memset(big, 'z', sizeof big);
    packed_init(&p);
    proto_msg_begin(&p.pk, 9, 1);
    msgpack_pack_array(&p.pk, 34);
    msgpack_pack_uint8(&p.pk, 5);          /* positive fixint */
    msgpack_pack_int8(&p.pk, -5);          /* negative fixint */
    msgpack_pack_uint8(&p.pk, 200);        /* uint8 */
    msgpack_pack_uint16(&p.pk, 60000);     /* uint16 */
    msgpack_pack_uint32(&p.pk, 4000000000u);
    msgpack_pack_uint64(&p.pk, UINT64_MAX);
    msgpack_pack_int8(&p.pk, -100);        /* int8 */
    msgpack_pack_int16(&p.pk, -30000);
    msgpack_pack_int32(&p.pk, -2000000000);
    msgpack_pack_int64(&p.pk, INT64_MIN);
    msgpack_pack_float(&p.pk, 1.5f);
    msgpack_pack_double(&p.pk, -2.25);
    msgpack_pack_nil(&p.pk);
    msgpack_pack_true(&p.pk);
    msgpack_pack_false(&p.pk);
    msgpack_pack_str(&p.pk, 5);            /* fixstr */
    msgpack_pack_str_body(&p.pk, big, 5);
    msgpack_pack_str(&p.pk, 200);          /* str8 */
    msgpack_pack_str_body(&p.pk, big, 200);
    msgpack_pack_str(&p.pk, 1000);         /* str16 */
    msgpack_pack_str_body(&p.pk, big, 1000);
    msgpack_pack_str(&p.pk, 70000);        /* str32 */
    msgpack_pack_str_body(&p.pk, big, 70000);
    msgpack_pack_bin(&p.pk, 3);            /* bin8 */
    msgpack_pack_bin_body(&p.pk, big, 3);
    msgpack_pack_bin(&p.pk, 300);          /* bin16 */
    msgpack_pack_bin_body(&p.pk, big, 300);
    msgpack_pack_bin(&p.pk, 66000);        /* bin32 */
    msgpack_pack_bin_body(&p.pk, big, 66000);
    for (size_t n = 1; n <= 16; n *= 2) {  /* fixext 1, 2, 4, 8, 16 */
        msgpack_pack_ext(&p.pk, n, 1);
        msgpack_pack_ext_body(&p.pk, big, n);
    }
    msgpack_pack_ext(&p.pk, 3, 2);         /* ext8 */
    msgpack_pack_ext_body(&p.pk, big, 3);
    msgpack_pack_ext(&p.pk, 300, 3);       /* ext16 */
    msgpack_pack_ext_body(&p.pk, big, 300);
    msgpack_pack_ext(&p.pk, 66000, 4);     /* ext32 */
    msgpack_pack_ext_body(&p.pk, big, 66000);
    msgpack_pack_map(&p.pk, 1);            /* fixmap */
    pack_str(&p.pk, "k");
    msgpack_pack_array(&p.pk, 0);
    msgpack_pack_map(&p.pk, 20);           /* map16 */
    for (int i = 0; i < 20; i++) {
        msgpack_pack_int(&p.pk, i);
        msgpack_pack_nil(&p.pk);
    }
    msgpack_pack_array(&p.pk, 20);         /* array16 */
    for (int i = 0; i < 20; i++)
        msgpack_pack_int(&p.pk, i);
    msgpack_pack_array(&p.pk, 0);          /* empty fixarray */

    EXPECT_RC(proto_msg_decode((const uint8_t *)p.sb.data, p.sb.size, &m, err, sizeof err), 0,
              err, "every type");
    assert_int_equal(m.body->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(m.body->via.array.size, 34);
    a = m.body->via.array.ptr;
    assert_int_equal(a[0].via.u64, 5);
    assert_true(a[1].via.i64 == -5);
    assert_true(a[5].via.u64 == UINT64_MAX);
    assert_true(a[9].via.i64 == INT64_MIN);
    assert_int_equal(a[15].via.str.size, 5);
    assert_int_equal(a[18].via.str.size, 70000);
    assert_int_equal(a[21].via.bin.size, 66000);
    assert_int_equal(a[22].type, MSGPACK_OBJECT_EXT);
    assert_int_equal(a[29].via.ext.size, 66000);
    assert_int_equal(a[31].via.map.size, 20);
    assert_int_equal(a[32].via.array.size, 20);
    proto_msg_release(&m);

    /* every strict prefix of that message is refused */
    for (size_t n = 0; n < p.sb.size; n += (n < 64 ? 1 : 997)) {
        err[0] = '\0';
        EXPECT_RC(proto_msg_decode((const uint8_t *)p.sb.data, n, &m, err, sizeof err),
                  TN_ERR_INVALID, err, "prefix of %zu bytes", n);
        assert_null(m.body);
    }
    packed_release(&p);
}

/* ---- refusals --------------------------------------------------------------------------- */

static void test_refusals(void **state)
{
    static const struct {
        const char *what, *hex;
    } bad[] = {
        {"empty", ""},
        {"truncated header", "93"},
        {"truncated after type", "93 01"},
        {"truncated body", "93 01 01"},
        {"truncated str", "93 01 01 a3 61 62"},
        {"truncated uint16", "93 01 cd 01"},
        {"trailing byte", "93 01 01 c0 00"},
        {"two messages", "93 01 01 c0 93 01 01 c0"},
        {"not an array: map", "81 a1 61 01"},
        {"not an array: int", "02"},
        {"not an array: nil", "c0"},
        {"array of 0", "90"},
        {"array of 2", "92 01 01"},
        {"array of 4", "94 01 01 c0 c0"},
        {"array16 of 4", "dc 00 04 01 01 c0 c0"},
        {"type negative", "93 ff 01 c0"},
        {"type int64 negative", "93 d3 ff ff ff ff ff ff ff ff 01 c0"},
        {"type a string", "93 a1 61 01 c0"},
        {"type nil", "93 c0 01 c0"},
        {"type a float", "93 cb 3f f0 00 00 00 00 00 00 01 c0"},
        {"type bool", "93 c3 01 c0"},
        {"req_id a string", "93 01 a1 61 c0"},
        {"req_id nil", "93 01 c0 c0"},
        {"req_id a float", "93 01 ca 3f 80 00 00 c0"},
        {"req_id over INT64_MAX", "93 01 cf 80 00 00 00 00 00 00 00 c0"},
        {"array32 of 0xffffffff", "dd ff ff ff ff 01 01 c0"},
        {"array32 of 0xffffffff in the body", "93 01 01 dd ff ff ff ff"},
        {"array16 of 0xffff in the body", "93 01 01 dc ff ff 01 02 03"},
        {"fixarray of 15 with 3 bytes", "93 01 01 9f 01 02 03"},
        {"nested arrays owing more than present", "93 01 01 93 93 93 93 93 c0"},
        {"str32 of 0xffffffff", "93 01 01 db ff ff ff ff 61"},
        {"str16 longer than input", "93 01 01 da 00 10 61 62"},
        {"str8 longer than input", "93 01 01 d9 05 61"},
        {"bin32 of 0xffffffff", "93 01 01 c6 ff ff ff ff 00"},
        {"bin8 truncated header", "93 01 01 c4"},
        {"ext32 of 0xffffffff", "93 01 01 c9 ff ff ff ff 01 00"},
        {"ext8 truncated", "93 01 01 c7 05 01 00"},
        {"fixext16 truncated", "93 01 01 d8 01 00 00"},
        {"byte 0xc1", "93 01 01 c1"},
        {"byte 0xc1 as type", "93 c1 01 c0"},
        {"byte 0xc1 alone", "c1"},
        {"map16 declaring more pairs than bytes", "93 01 01 de ff ff 01 01"},
        {"map16 of 2 pairs with 3 bytes", "93 01 01 de 00 02 01 01 01"},
        {"map32 of 0xffffffff pairs", "93 01 01 df ff ff ff ff 01 01"},
        {"fixmap of 15 pairs with 4 bytes", "93 01 01 8f 01 01 01 01"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct proto_msg m;
        char err[256] = "";
        double t0 = pt_now();
        EXPECT_RC(decode_hex(bad[i].hex, &m, err, sizeof err), TN_ERR_INVALID, err, "%s",
                  bad[i].what);
        assert_null(m.body);
        if (err[0] == '\0') {
            print_error("%s: refused without a reason\n", bad[i].what);
            fail();
        }
        assert_true(pt_now() - t0 < 1.0);
        proto_msg_release(&m); /* harmless after a failure */
    }
}

/* Nesting deeper than msgpack-c's parse stack is refused, not a crash. */
static void test_deep_nesting(void **state)
{
    static uint8_t buf[4096];
    struct proto_msg m;
    char err[256] = "";
    size_t n = 0;
    (void)state;

    buf[n++] = 0x93;
    buf[n++] = 0x01;
    buf[n++] = 0x01;
    for (int i = 0; i < 2000; i++)
        buf[n++] = 0x91;
    buf[n++] = 0xc0;
    EXPECT_RC(proto_msg_decode(buf, n, &m, err, sizeof err), TN_ERR_INVALID, err,
              "2000 nested arrays");

    /* moderate nesting is fine */
    n = 3;
    for (int i = 0; i < 8; i++)
        buf[n++] = 0x91;
    buf[n++] = 0xc0;
    EXPECT_RC(proto_msg_decode(buf, n, &m, err, sizeof err), 0, err, "8 nested arrays");
    proto_msg_release(&m);
}

/* Memory stays bounded by a small multiple of the input, also for nested collections. */
struct limited {
    const uint8_t *p;
    size_t len;
};

static int limited_decode(void *ctx)
{
    struct limited *l = ctx;
    struct proto_msg m;
    char err[256];
    int rc = proto_msg_decode(l->p, l->len, &m, err, sizeof err);
    if (rc == 0)
        proto_msg_release(&m);
    return rc;
}

static void test_bounded_memory(void **state)
{
    static uint8_t buf[64 * 1024];
    struct limited l = {buf, sizeof buf};
    size_t off;
    (void)state;

    if (PT_ASAN)
        skip(); /* RLIMIT_AS is unusable under ASan; the plain build runs this */

    /* control: one array16 of nils filling 64 KiB decodes within 64 MiB */
    memset(buf, 0xc0, sizeof buf);
    memcpy(buf, "\x93\x01\x01\xdc", 4);
    buf[4] = (uint8_t)((sizeof buf - 6) >> 8);
    buf[5] = (uint8_t)(sizeof buf - 6);
    EXPECT_RC(pt_run_limited(limited_decode, &l, 64u << 20), 0, "", "flat 64 KiB array");

    /* nested array16 headers, each declaring what is left */
    memset(buf, 0xc0, sizeof buf);
    memcpy(buf, "\x93\x01\x01", 3);
    for (off = 3; off + 3 <= sizeof buf / 2; off += 3) {
        size_t left = sizeof buf - off;
        buf[off] = 0xdc;
        buf[off + 1] = (uint8_t)((left > 0xffff ? 0xffff : left) >> 8);
        buf[off + 2] = (uint8_t)(left > 0xffff ? 0xffff : left);
    }
    EXPECT_RC(pt_run_limited(limited_decode, &l, 64u << 20), TN_ERR_INVALID, "",
              "nested arrays in 64 KiB");
}

/* msg.h: "body: valid until proto_msg_release". The decoded body must not depend on the
 * input bytes staying alive: the caller may reuse its receive buffer for the next frame
 * while still holding this message. (Checked by overwriting the input, not freeing it, so
 * a failure is a plain assertion rather than a sanitizer abort.) */
static void test_body_outlives_input_buffer(void **state)
{
    uint8_t *in = malloc(16);
    struct proto_msg m;
    const msgpack_object *vs, *vb;
    char err[256] = "";
    size_t n;
    bool ok;
    (void)state;

    assert_non_null(in);
    n = pt_hex(in, 16, "93 01 01 82 a1 73 a3 61 62 63 a1 62 c4 02 01 02");
    EXPECT_RC(proto_msg_decode(in, n, &m, err, sizeof err), 0, err, "decode");
    vs = proto_msg_map_get(m.body, "s");
    vb = proto_msg_map_get(m.body, "b");
    assert_non_null(vs);
    assert_non_null(vb);
    memset(in, 'X', 16); /* the caller reuses its buffer */
    ok = proto_msg_str_eq(vs, "abc") && memcmp(vb->via.bin.ptr, "\x01\x02", 2) == 0 &&
         proto_msg_map_get(m.body, "s") != NULL;
    if (!ok)
        print_error("body changed with the input buffer: string now \"%.*s\" (str, bin and "
                    "map keys point into the caller's bytes)\n",
                    (int)vs->via.str.size, vs->via.str.ptr);
    proto_msg_release(&m);
    free(in);
    assert_true(ok);
}

/* ---- frame length ------------------------------------------------------------------------- */

static void test_frame_len(void **state)
{
    static const uint32_t values[] = {0, 1, 255, 256, 0x01020304, PROTO_API_FRAME_MAX,
                                      0x7fffffff, 0x80000000u, UINT32_MAX};
    uint8_t b[4];
    (void)state;

    proto_frame_put_len(b, 0x01020304);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4); /* big-endian */
    proto_frame_put_len(b, PROTO_API_FRAME_MAX);
    assert_memory_equal(b, "\x00\x80\x00\x00", 4);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        proto_frame_put_len(b, values[i]);
        assert_int_equal(proto_frame_get_len(b), values[i]);
    }
    b[0] = 0xff;
    b[1] = 0xfe;
    b[2] = 0x00;
    b[3] = 0x01;
    assert_int_equal(proto_frame_get_len(b), 0xfffe0001u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_begin_bytes),
        cmocka_unit_test(test_roundtrip_map_body),
        cmocka_unit_test(test_roundtrip_extremes),
        cmocka_unit_test(test_every_type_accepted),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_bounded_memory),
        cmocka_unit_test(test_body_outlives_input_buffer),
        cmocka_unit_test(test_frame_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
