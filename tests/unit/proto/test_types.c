/* Record types and roles (DESIGN section 2: which role may sign which type), identifier
 * syntax, the bounded arena and the capped file reader. */
#include "proto_test.h"

#include "proto/arena.h"
#include "proto/readfile.h"
#include "proto/types.h"

static void test_type_names(void **state)
{
    static const struct {
        enum proto_type t;
        const char *name;
    } all[] = {
        {PROTO_T_COMMISSION, "commission"},     {PROTO_T_TRANSFORM, "transform"},
        {PROTO_T_AGGREGATE, "aggregate"},       {PROTO_T_DISAGGREGATE, "disaggregate"},
        {PROTO_T_SHIP, "ship"},                 {PROTO_T_RECEIVE, "receive"},
        {PROTO_T_INSPECT, "inspect"},           {PROTO_T_DECOMMISSION, "decommission"},
        {PROTO_T_MUD_ANCHOR, "mud-anchor"},     {PROTO_T_SUPERSEDE, "supersede"},
        {PROTO_T_GOV_ADD_ORG, "gov-add-org"},   {PROTO_T_GOV_REVOKE, "gov-revoke"},
        {PROTO_T_GOV_ROTATE, "gov-rotate"},
    };
    static const char *const bad[] = {"", "Commission", "ship ", "mud_anchor", "mudanchor",
                                      "governance", "x"};
    (void)state;

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        enum proto_type t = (enum proto_type)0;
        assert_string_equal(proto_type_name(all[i].t), all[i].name);
        assert_int_equal(proto_type_parse(all[i].name, &t), 0);
        assert_int_equal(t, all[i].t);
    }
    assert_null(proto_type_name((enum proto_type)0));
    assert_null(proto_type_name((enum proto_type)14));
    assert_null(proto_type_name((enum proto_type)-1));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        enum proto_type t = PROTO_T_SHIP;
        assert_int_equal(proto_type_parse(bad[i], &t), TN_ERR_INVALID);
        assert_int_equal(t, PROTO_T_SHIP); /* untouched */
    }
}

static void test_role_names(void **state)
{
    static const struct {
        enum proto_role r;
        const char *name;
    } all[] = {
        {PROTO_ROLE_MANUFACTURER, "manufacturer"}, {PROTO_ROLE_SUPPLIER, "supplier"},
        {PROTO_ROLE_ASSEMBLER, "assembler"},       {PROTO_ROLE_CARRIER, "carrier"},
        {PROTO_ROLE_OPERATOR, "operator"},         {PROTO_ROLE_AUDITOR, "auditor"},
    };
    uint32_t seen = 0;
    (void)state;

    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        enum proto_role r = (enum proto_role)0;
        assert_string_equal(proto_role_name(all[i].r), all[i].name);
        assert_int_equal(proto_role_parse(all[i].name, &r), 0);
        assert_int_equal(r, all[i].r);
        assert_int_equal(seen & r, 0); /* distinct bits */
        seen |= r;
    }
    assert_int_equal(seen, PROTO_ROLE_ALL);
    assert_null(proto_role_name((enum proto_role)0));
    assert_null(proto_role_name((enum proto_role)(PROTO_ROLE_CARRIER | PROTO_ROLE_AUDITOR)));
    {
        enum proto_role r;
        assert_int_equal(proto_role_parse("wizard", &r), TN_ERR_INVALID);
        assert_int_equal(proto_role_parse("", &r), TN_ERR_INVALID);
        assert_int_equal(proto_role_parse("Carrier", &r), TN_ERR_INVALID);
    }
}

/* The matrix of DESIGN section 2, row by row. */
static void test_roles_allow_matrix(void **state)
{
    enum { M = PROTO_ROLE_MANUFACTURER, S = PROTO_ROLE_SUPPLIER, A = PROTO_ROLE_ASSEMBLER,
           C = PROTO_ROLE_CARRIER, O = PROTO_ROLE_OPERATOR, U = PROTO_ROLE_AUDITOR };
    static const struct {
        enum proto_type t;
        uint32_t who; /* roles that may sign it */
    } rows[] = {
        {PROTO_T_COMMISSION, M | S},
        {PROTO_T_TRANSFORM, M | S | A},
        {PROTO_T_MUD_ANCHOR, M},
        {PROTO_T_AGGREGATE, A},
        {PROTO_T_DISAGGREGATE, A},
        {PROTO_T_INSPECT, U},
        {PROTO_T_DECOMMISSION, O},
        {PROTO_T_SHIP, M | S | A | C | O | U},    /* every org */
        {PROTO_T_RECEIVE, M | S | A | C | O | U}, /* every org */
        {PROTO_T_SUPERSEDE, M | S | A | C | O | U},
    };
    (void)state;

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (uint32_t bit = 1; bit <= PROTO_ROLE_ALL; bit <<= 1) {
            bool want = (rows[i].who & bit) != 0;
            if (proto_roles_allow(bit, rows[i].t) != want) {
                print_error("role %s, type %s: got %d, want %d\n",
                            proto_role_name((enum proto_role)bit), proto_type_name(rows[i].t),
                            !want, want);
                fail();
            }
        }
        /* a set of roles allows the union */
        assert_true(proto_roles_allow(PROTO_ROLE_ALL, rows[i].t));
    }
    /* ship, receive and supersede need no role at all */
    assert_true(proto_roles_allow(0, PROTO_T_SHIP));
    assert_true(proto_roles_allow(0, PROTO_T_RECEIVE));
    assert_true(proto_roles_allow(0, PROTO_T_SUPERSEDE));
    assert_false(proto_roles_allow(0, PROTO_T_COMMISSION));
    assert_true(proto_roles_allow(PROTO_ROLE_OPERATOR | PROTO_ROLE_SUPPLIER,
                                  PROTO_T_COMMISSION));
    assert_false(proto_roles_allow(PROTO_ROLE_ALL, (enum proto_type)0));
    assert_false(proto_roles_allow(PROTO_ROLE_ALL, (enum proto_type)42));
}

static void test_id_ok(void **state)
{
    static const char *const good[] = {"a", "0", "org-a", "0rg", "a.b_c-d", "net-1", "a-",
                                       "a..b", ("0123456789012345678901234567890123456789"
                                                "012345678901234567890123")};
    static const char *const bad[] = {"", "-a", ".a", "_a", "A", "Org", "a b", "a/b", "a:b",
                                      "\xc3\xa9", "a\n", "a\t", ("012345678901234567890123456789"
                                      "01234567890123456789012345678901234")};
    (void)state;

    assert_int_equal(strlen(good[8]), 64);
    assert_int_equal(strlen(bad[12]), 65);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!proto_id_ok(good[i])) {
            print_error("refused id \"%s\"\n", good[i]);
            fail();
        }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (proto_id_ok(bad[i])) {
            print_error("accepted id \"%s\"\n", bad[i]);
            fail();
        }
}

/* ---- arena -------------------------------------------------------------------------------- */

static void test_arena(void **state)
{
    struct proto_arena a;
    uint8_t *p, *q, *big;
    char *s;
    (void)state;

    proto_arena_init(&a, 10000);
    assert_null(a.head);
    assert_int_equal(a.used, 0);

    p = proto_arena_alloc(&a, 3);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_int_equal(a.used, 16); /* rounded to 16 */
    q = proto_arena_alloc(&a, 17);
    assert_non_null(q);
    assert_int_equal((uintptr_t)q % 16, 0);
    assert_true(q >= p + 16 || q + 32 <= p); /* no overlap */
    for (size_t i = 0; i < 17; i++)
        assert_int_equal(q[i], 0); /* zeroed */
    memset(q, 0xab, 17);
    assert_int_equal(p[0], 0);

    big = proto_arena_alloc(&a, 5000); /* larger than a chunk */
    assert_non_null(big);
    memset(big, 1, 5000);
    assert_int_equal(a.used, 16 + 32 + 5008);

    /* the cap holds, including on overflowing sizes */
    assert_null(proto_arena_alloc(&a, 10000 - a.used + 1));
    assert_null(proto_arena_alloc(&a, SIZE_MAX));
    assert_null(proto_arena_alloc(&a, SIZE_MAX - 10));
    assert_non_null(proto_arena_alloc(&a, 10000 - a.used)); /* exactly to the cap */
    assert_int_equal(a.used, 10000 - (10000 - 16 - 32 - 5008) % 16);

    proto_arena_release(&a);
    assert_null(a.head);
    assert_int_equal(a.used, 0);

    s = proto_arena_strndup(&a, "hello world", 5);
    assert_non_null(s);
    assert_string_equal(s, "hello");
    s = proto_arena_strndup(&a, "", 0);
    assert_non_null(s);
    assert_string_equal(s, "");
    proto_arena_release(&a);

    proto_arena_init(&a, 8);
    assert_null(proto_arena_strndup(&a, "0123456789", 10)); /* over the cap */
    assert_null(a.head);
    proto_arena_release(&a);
}

/* ---- readfile ----------------------------------------------------------------------------- */

static void write_n(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(fputc('a' + (int)(i % 26), f), EOF);
    assert_int_equal(fclose(f), 0);
}

static void test_read_file(void **state)
{
    static const size_t sizes[] = {0, 1, 4095, 4096, 4097, 8193, 100000};
    char *dir = tn_test_mkdtemp(), path[512], err[256], *buf;
    size_t len;
    (void)state;

    snprintf(path, sizeof path, "%s/f", dir);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        write_n(path, n);
        /* at the limit: read whole, NUL-terminated */
        buf = NULL;
        EXPECT_RC(proto_read_file(path, n, &buf, &len, err, sizeof err), 0, err,
                  "%zu bytes, max %zu", n, n);
        assert_int_equal(len, n);
        assert_int_equal(buf[n], '\0');
        for (size_t j = 0; j < n; j += 997)
            assert_int_equal(buf[j], 'a' + (int)(j % 26));
        free(buf);
        /* well under the limit */
        EXPECT_RC(proto_read_file(path, n + 100000, &buf, &len, err, sizeof err), 0, err,
                  "%zu bytes, large max", n);
        assert_int_equal(len, n);
        free(buf);
        /* one byte over */
        if (n > 0) {
            buf = (char *)0x1;
            err[0] = '\0';
            EXPECT_RC(proto_read_file(path, n - 1, &buf, &len, err, sizeof err),
                      TN_ERR_TOO_BIG, err, "%zu bytes, max %zu", n, n - 1);
            assert_true(err[0] != '\0');
            assert_ptr_equal(buf, (char *)0x1); /* nothing handed out */
        }
    }

    snprintf(path, sizeof path, "%s/missing", dir);
    EXPECT_RC(proto_read_file(path, 100, &buf, &len, err, sizeof err), TN_ERR_IO, err, "missing");
    EXPECT_CONTAINS(err, "missing", "missing file named in the error");
    EXPECT_RC(proto_read_file(dir, 100, &buf, &len, err, sizeof err), TN_ERR_IO, err,
              "a directory");
    tn_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_roles_allow_matrix),
        cmocka_unit_test(test_id_ok),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
