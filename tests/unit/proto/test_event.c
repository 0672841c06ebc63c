/* Event JSON (DESIGN section 6), the input of `tracectl submit`: the examples of the
 * design parse to the expected fields, every kind of mistake is refused with a message
 * naming the field, attrs and private come out in deterministic CBOR key order, and the
 * ecosystem checks (roles, known orgs) refuse what the design forbids. */
#include "proto_test.h"

#include "crypto/encode.h"
#include "crypto/key.h"
#include "proto/cbor.h"
#include "proto/ecosystem.h"
#include "proto/event.h"

static int setup(void **state)
{
    (void)state;
    return cry_init() == 0 ? 0 : -1;
}

static int parse(const char *json, struct proto_event *ev, char *err, size_t errlen)
{
    return proto_event_parse(json, strlen(json), ev, err, errlen);
}

static void parse_ok(const char *json, struct proto_event *ev)
{
    char err[512] = "";
    EXPECT_RC(parse(json, ev, err, sizeof err), 0, err, "parse %s", json);
}

/* ---- the design's examples, and one of every other type -------------------------------- */

static void test_design_examples(void **state)
{
    struct proto_event ev;
    (void)state;

    parse_ok("{\"type\": \"commission\", \"outputs\": [\"urn:epc:id:sgtin:0614141.107346.1\"],\n"
             " \"attrs\": {\"model\": \"lightbulb2000\", \"lot\": \"L17\"}}",
             &ev);
    assert_int_equal(ev.rec.type, PROTO_T_COMMISSION);
    assert_int_equal(ev.rec.n_outputs, 1);
    assert_string_equal(ev.rec.outputs[0], "urn:epc:id:sgtin:0614141.107346.1");
    assert_int_equal(ev.rec.n_attrs, 2);
    assert_string_equal(ev.rec.attrs[0].name, "lot"); /* shorter key first */
    assert_int_equal(ev.rec.attrs[0].kind, PROTO_VAL_TEXT);
    assert_string_equal(ev.rec.attrs[0].text, "L17");
    assert_string_equal(ev.rec.attrs[1].name, "model");
    assert_string_equal(ev.rec.attrs[1].text, "lightbulb2000");
    assert_false(ev.has_time);
    assert_null(ev.rec.eid);
    assert_int_equal(ev.rec.n_inputs + ev.rec.n_items + ev.n_priv, 0);
    assert_null(ev.rec.to);
    proto_event_release(&ev);

    parse_ok("{\"type\": \"transform\", \"inputs\": [\"itemA\", \"itemB\"],"
             " \"outputs\": [\"itemC\"]}",
             &ev);
    assert_int_equal(ev.rec.type, PROTO_T_TRANSFORM);
    assert_int_equal(ev.rec.n_inputs, 2);
    assert_string_equal(ev.rec.inputs[0].item, "itemA");
    assert_false(ev.rec.inputs[0].has_rec);
    assert_string_equal(ev.rec.inputs[1].item, "itemB");
    assert_false(ev.rec.inputs[1].has_rec);
    assert_int_equal(ev.rec.n_outputs, 1);
    assert_string_equal(ev.rec.outputs[0], "itemC");
    proto_event_release(&ev);

    parse_ok("{\"type\": \"ship\", \"items\": [\"itemC\"], \"to\": \"org-d\"}", &ev);
    assert_int_equal(ev.rec.type, PROTO_T_SHIP);
    assert_int_equal(ev.rec.n_items, 1);
    assert_string_equal(ev.rec.items[0], "itemC");
    assert_string_equal(ev.rec.to, "org-d");
    assert_null(ev.rec.from);
    proto_event_release(&ev);

    parse_ok("{\"type\": \"receive\", \"items\": [\"itemC\"], \"from\": \"org-c\"}", &ev);
    assert_int_equal(ev.rec.type, PROTO_T_RECEIVE);
    assert_string_equal(ev.rec.items[0], "itemC");
    assert_string_equal(ev.rec.from, "org-c");
    assert_null(ev.rec.to);
    proto_event_release(&ev);

    parse_ok("{\"type\": \"inspect\", \"items\": [\"itemC\"], \"attrs\": {\"result\": \"pass\"},\n"
             " \"private\": {\"supplier-price\": \"12.40\"}}",
             &ev);
    assert_int_equal(ev.rec.type, PROTO_T_INSPECT);
    assert_int_equal(ev.rec.n_attrs, 1);
    assert_string_equal(ev.rec.attrs[0].name, "result");
    assert_string_equal(ev.rec.attrs[0].text, "pass");
    assert_int_equal(ev.n_priv, 1);
    assert_string_equal(ev.priv[0].name, "supplier-price");
    assert_string_equal(ev.priv[0].value, "12.40");
    assert_int_equal(ev.rec.n_sealed, 0); /* the node seals; the parser does not */
    proto_event_release(&ev);
}

static void test_other_types(void **state)
{
    static const char rec_hex[] =
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    uint8_t want[PROTO_ID_LEN];
    char json[1024];
    struct proto_event ev;
    (void)state;

    tn_test_unhex(want, sizeof want, rec_hex);

    snprintf(json, sizeof json,
             "{\"type\": \"aggregate\", \"inputs\": [{\"item\": \"case-1\", \"rec\": \"%s\"},"
             " \"case-2\"], \"outputs\": [\"pallet-1\"]}",
             rec_hex);
    parse_ok(json, &ev);
    assert_int_equal(ev.rec.type, PROTO_T_AGGREGATE);
    assert_int_equal(ev.rec.n_inputs, 2);
    assert_string_equal(ev.rec.inputs[0].item, "case-1");
    assert_true(ev.rec.inputs[0].has_rec);
    assert_memory_equal(ev.rec.inputs[0].rec, want, PROTO_ID_LEN);
    assert_string_equal(ev.rec.inputs[1].item, "case-2");
    assert_false(ev.rec.inputs[1].has_rec);
    proto_event_release(&ev);

    /* an object entry without rec is an unlinked input; upper-case hex is accepted */
    parse_ok("{\"type\": \"disaggregate\", \"inputs\": [{\"item\": \"pallet-1\"}],"
             " \"outputs\": [\"case-1\", \"case-2\"]}",
             &ev);
    assert_int_equal(ev.rec.type, PROTO_T_DISAGGREGATE);
    assert_string_equal(ev.rec.inputs[0].item, "pallet-1");
    assert_false(ev.rec.inputs[0].has_rec);
    assert_int_equal(ev.rec.n_outputs, 2);
    assert_string_equal(ev.rec.outputs[1], "case-2");
    proto_event_release(&ev);

    parse_ok("{\"type\": \"decommission\", \"items\": [\"itemC\"], \"id\": \"epcis-42\","
             " \"time\": 1700000000000}",
             &ev);
    assert_int_equal(ev.rec.type, PROTO_T_DECOMMISSION);
    assert_string_equal(ev.rec.eid, "epcis-42");
    assert_true(ev.has_time);
    assert_int_equal(ev.rec.time, UINT64_C(1700000000000));
    proto_event_release(&ev);

    snprintf(json, sizeof json,
             "{\"type\": \"mud-anchor\", \"mud\": {\"url\": \"https://mud.example.com/x.json\","
             " \"sha256\": \"%s\", \"size\": 1234, \"last_update\": \"2024-01-02T03:04:05Z\","
             " \"model\": \"lightbulb2000\", \"mfg_name\": \"Example\", \"sig_sha256\": \"%s\"},"
             " \"ref\": \"%s\"}",
             rec_hex, rec_hex, rec_hex);
    parse_ok(json, &ev);
    assert_int_equal(ev.rec.type, PROTO_T_MUD_ANCHOR);
    assert_non_null(ev.rec.mud);
    assert_string_equal(ev.rec.mud->url, "https://mud.example.com/x.json");
    assert_memory_equal(ev.rec.mud->sha256, want, 32);
    assert_int_equal(ev.rec.mud->size, 1234);
    assert_string_equal(ev.rec.mud->last_update, "2024-01-02T03:04:05Z");
    assert_string_equal(ev.rec.mud->model, "lightbulb2000");
    assert_string_equal(ev.rec.mud->mfg_name, "Example");
    assert_true(ev.rec.mud->has_sig);
    assert_true(ev.rec.has_ref);
    assert_memory_equal(ev.rec.ref, want, PROTO_ID_LEN);
    proto_event_release(&ev);

    snprintf(json, sizeof json,
             "{\"type\": \"supersede\", \"ref\": \"%s\", \"items\": [\"itemC\"],"
             " \"to\": \"org-e\"}",
             "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF");
    parse_ok(json, &ev);
    assert_int_equal(ev.rec.type, PROTO_T_SUPERSEDE);
    assert_true(ev.rec.has_ref);
    assert_memory_equal(ev.rec.ref, want, PROTO_ID_LEN);
    assert_string_equal(ev.rec.to, "org-e");
    proto_event_release(&ev);
}

/* attrs and private come out sorted shorter-first, then bytewise, with typed values. */
static void test_attrs_sorted_and_typed(void **state)
{
    static const char *const order[] = {"a", "b", "B2", "ab", "zz", "aaa", "\xc3\xa9t\xc3\xa9"};
    struct proto_event ev;
    (void)state;

    parse_ok("{\"type\": \"commission\", \"outputs\": [\"x\"], \"attrs\": {\"zz\": 1,"
             " \"\\u00e9t\\u00e9\": \"summer\", \"b\": -2, \"aaa\": true, \"a\": \"text\","
             " \"ab\": false, \"B2\": 9223372036854775807}, \"private\": {\"zeta\": \"1\","
             " \"alpha\": \"2\", \"mu\": \"3\"}}",
             &ev);
    assert_int_equal(ev.rec.n_attrs, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(ev.rec.attrs[i].name, order[i]);
    for (size_t i = 1; i < 7; i++) {
        const char *x = ev.rec.attrs[i - 1].name, *y = ev.rec.attrs[i].name;
        assert_true(proto_cbor_key_cmp(x, strlen(x), y, strlen(y)) < 0);
    }
    assert_int_equal(ev.rec.attrs[0].kind, PROTO_VAL_TEXT);
    assert_string_equal(ev.rec.attrs[0].text, "text");
    assert_int_equal(ev.rec.attrs[1].kind, PROTO_VAL_INT);
    assert_true(ev.rec.attrs[1].num == -2);
    assert_int_equal(ev.rec.attrs[2].kind, PROTO_VAL_INT);
    assert_true(ev.rec.attrs[2].num == INT64_MAX);
    assert_int_equal(ev.rec.attrs[3].kind, PROTO_VAL_BOOL);
    assert_false(ev.rec.attrs[3].flag);
    assert_true(ev.rec.attrs[4].num == 1);
    assert_int_equal(ev.rec.attrs[5].kind, PROTO_VAL_BOOL);
    assert_true(ev.rec.attrs[5].flag);
    assert_string_equal(ev.rec.attrs[6].text, "summer");

    assert_int_equal(ev.n_priv, 3);
    assert_string_equal(ev.priv[0].name, "mu");
    assert_string_equal(ev.priv[0].value, "3");
    assert_string_equal(ev.priv[1].name, "zeta");
    assert_string_equal(ev.priv[1].value, "1");
    assert_string_equal(ev.priv[2].name, "alpha");
    assert_string_equal(ev.priv[2].value, "2");
    proto_event_release(&ev);

    /* an empty attrs object is the same as none */
    parse_ok("{\"type\": \"commission\", \"outputs\": [\"x\"], \"attrs\": {}}", &ev);
    assert_int_equal(ev.rec.n_attrs, 0);
    proto_event_release(&ev);
}

/* Item ids up to exactly 1024 bytes are fine. */
static void test_item_limits(void **state)
{
    static char json[4096];
    static char item[PROTO_ITEM_MAX + 2];
    struct proto_event ev;
    char err[512] = "";
    int rc;
    (void)state;

    memset(item, 'q', PROTO_ITEM_MAX);
    item[PROTO_ITEM_MAX] = '\0';
    snprintf(json, sizeof json, "{\"type\": \"commission\", \"outputs\": [\"%s\"]}", item);
    parse_ok(json, &ev);
    assert_int_equal(strlen(ev.rec.outputs[0]), PROTO_ITEM_MAX);
    proto_event_release(&ev);

    item[PROTO_ITEM_MAX] = 'q';
    item[PROTO_ITEM_MAX + 1] = '\0';
    snprintf(json, sizeof json, "{\"type\": \"commission\", \"outputs\": [\"%s\"]}", item);
    rc = parse(json, &ev, err, sizeof err);
    EXPECT_RC(rc, TN_ERR_INVALID, err, "outputs item of 1025 bytes");
    EXPECT_CONTAINS(err, "1024", "outputs item of 1025 bytes");
    EXPECT_CONTAINS(err, "outputs", "outputs item of 1025 bytes");
    proto_event_release(&ev);

    snprintf(json, sizeof json, "{\"type\": \"ship\", \"to\": \"b\", \"items\": [\"%s\"]}", item);
    rc = parse(json, &ev, err, sizeof err);
    EXPECT_RC(rc, TN_ERR_INVALID, err, "items item of 1025 bytes");
    EXPECT_CONTAINS(err, "1024", "items item of 1025 bytes");
    EXPECT_CONTAINS(err, "'items'", "items item of 1025 bytes");
    proto_event_release(&ev);

    snprintf(json, sizeof json,
             "{\"type\": \"transform\", \"outputs\": [\"o\"], \"inputs\": [{\"item\": \"%s\"}]}",
             item);
    rc = parse(json, &ev, err, sizeof err);
    EXPECT_RC(rc, TN_ERR_INVALID, err, "inputs item of 1025 bytes");
    EXPECT_CONTAINS(err, "1024", "inputs item of 1025 bytes");
    EXPECT_CONTAINS(err, "inputs", "inputs item of 1025 bytes");
    proto_event_release(&ev);
}

/* ---- refusals --------------------------------------------------------------------------- */

static void test_refusals_name_the_field(void **state)
{
    static const struct {
        const char *json, *needle, *needle2;
    } bad[] = {
        /* JSON itself */
        {"{\"type\": \"ship\",", "JSON", NULL},
        {"", "JSON", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\"} x", "JSON", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\"} {}", "JSON", NULL},
        {"{\"type\": \"ship\", \"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\"}",
         "duplicate", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"to\": \"c\"}", "duplicate",
         NULL},
        {"[]", "object", NULL},
        {"\"ship\"", NULL, NULL},
        /* type */
        {"{\"type\": \"teleport\", \"items\": [\"a\"]}", "'type'", "teleport"},
        {"{\"items\": [\"a\"], \"to\": \"b\"}", "'type'", NULL},
        {"{\"type\": 5, \"items\": [\"a\"], \"to\": \"b\"}", "'type'", NULL},
        {"{\"type\": \"Ship\", \"items\": [\"a\"], \"to\": \"b\"}", "'type'", NULL},
        /* required and forbidden by type */
        {"{\"type\": \"ship\", \"items\": [\"a\"]}", "'to'", NULL},
        {"{\"type\": \"ship\", \"to\": \"org-b\"}", "'items'", NULL},
        {"{\"type\": \"receive\", \"items\": [\"a\"]}", "'from'", NULL},
        {"{\"type\": \"commission\"}", "'outputs'", NULL},
        {"{\"type\": \"transform\", \"outputs\": [\"c\"]}", "'inputs'", NULL},
        {"{\"type\": \"mud-anchor\"}", "'mud'", NULL},
        {"{\"type\": \"supersede\", \"items\": [\"a\"]}", "'ref'", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"to\": \"org-b\"}", "'to'", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"outputs\": [\"c\"]}",
         "'outputs'", NULL},
        /* unknown fields */
        {"{\"type\": \"commission\", \"outptus\": [\"a\"]}", "outptus", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"sealed\": {}}", "sealed",
         NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"org\": \"x\"}", "'org'", NULL},
        /* item lists */
        {"{\"type\": \"commission\", \"outputs\": [5]}", "'outputs'", NULL},
        {"{\"type\": \"commission\", \"outputs\": [null]}", "'outputs'", NULL},
        {"{\"type\": \"commission\", \"outputs\": []}", "'outputs'", NULL},
        {"{\"type\": \"commission\", \"outputs\": \"a\"}", "'outputs'", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"\"]}", "'outputs'", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\\u0001b\"]}", "'outputs'", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\\nb\"]}", "'outputs'", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\\u0000b\"]}", NULL, NULL},
        {"{\"type\": \"ship\", \"items\": [[\"a\"]], \"to\": \"b\"}", "'items'", NULL},
        {"{\"type\": \"transform\", \"outputs\": [\"c\"], \"inputs\": [7]}", "inputs", NULL},
        {"{\"type\": \"transform\", \"outputs\": [\"c\"], \"inputs\": [{\"rec\": \"00\"}]}",
         "inputs", NULL},
        {"{\"type\": \"transform\", \"outputs\": [\"c\"], \"inputs\": [{\"item\": \"a\","
         " \"rec\": \"00\"}]}",
         "inputs.rec", NULL},
        {"{\"type\": \"transform\", \"outputs\": [\"c\"], \"inputs\": [{\"item\": \"a\","
         " \"rec\": 5}]}",
         "inputs.rec", NULL},
        {"{\"type\": \"transform\", \"outputs\": [\"c\"], \"inputs\": [{\"item\": \"a\","
         " \"link\": \"x\"}]}",
         "inputs", NULL},
        /* attrs and private */
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": {\"k\": {\"x\": 1}}}",
         "attrs", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": {\"k\": [1]}}", "attrs",
         NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": {\"k\": null}}", "attrs",
         NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": {\"k\": 1.5}}", "attrs",
         NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": {\"\": 1}}", "attrs", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": {\"a\\u0001\": 1}}",
         "attrs", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": [1]}", "attrs", NULL},
        {"{\"type\": \"commission\", \"outputs\": [\"a\"], \"attrs\": {\"k\": 1, \"k\": 2}}",
         NULL, NULL},
        {"{\"type\": \"inspect\", \"items\": [\"a\"], \"private\": {\"price\": 12.4}}",
         "private", NULL},
        {"{\"type\": \"inspect\", \"items\": [\"a\"], \"private\": {\"price\": 12}}", "private",
         NULL},
        {"{\"type\": \"inspect\", \"items\": [\"a\"], \"private\": {\"p\": {\"q\": \"r\"}}}",
         "private", NULL},
        {"{\"type\": \"inspect\", \"items\": [\"a\"], \"private\": [\"x\"]}", "private", NULL},
        {"{\"type\": \"inspect\", \"items\": [\"a\"], \"private\": {\"\": \"x\"}}", "private",
         NULL},
        /* scalars */
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"time\": -1}", "'time'",
         NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"time\": 1.5}", "'time'",
         NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"time\": \"now\"}", "'time'",
         NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"id\": \"\"}", "'id'", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\", \"id\": 7}", "'id'", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"Org B\"}", "'to'", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": 5}", "'to'", NULL},
        {"{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"\"}", "'to'", NULL},
        {"{\"type\": \"receive\", \"items\": [\"a\"], \"from\": \"a/b\"}", "'from'", NULL},
        {"{\"type\": \"supersede\", \"items\": [\"a\"], \"ref\": \"abc\"}", "'ref'", NULL},
        /* mud */
        {"{\"type\": \"mud-anchor\", \"mud\": {\"url\": \"u\", \"size\": 1,"
         " \"last_update\": \"t\"}}",
         "mud.sha256", NULL},
        {"{\"type\": \"mud-anchor\", \"mud\": {\"url\": \"u\", \"size\": -1, \"last_update\": "
         "\"t\", \"sha256\": \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""
         "}}",
         "mud.size", NULL},
        {"{\"type\": \"mud-anchor\", \"mud\": \"https://x\"}", "mud", NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct proto_event ev;
        char err[512] = "";
        int rc = parse(bad[i].json, &ev, err, sizeof err);
        if (rc == 0) {
            print_error("accepted: %s\n", bad[i].json);
            fail();
        }
        if (err[0] == '\0') {
            print_error("refused without a reason: %s\n", bad[i].json);
            fail();
        }
        if (bad[i].needle)
            EXPECT_CONTAINS(err, bad[i].needle, "%s", bad[i].json);
        if (bad[i].needle2)
            EXPECT_CONTAINS(err, bad[i].needle2, "%s", bad[i].json);
        proto_event_release(&ev);
    }
}

/* A typo inside the mud object is refused like a typo at the top level: silently
 * dropping "modle" would anchor a MUD file without the model the user meant to bind. */
static void test_mud_unknown_member_refused(void **state)
{
    struct proto_event ev;
    char err[512] = "";
    int rc;
    (void)state;

    rc = parse("{\"type\": \"mud-anchor\", \"mud\": {\"url\": \"https://x/y.json\", \"size\": 1,"
               " \"last_update\": \"2024-01-01T00:00:00Z\", \"sha256\":"
               " \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\","
               " \"modle\": \"lightbulb2000\"}}",
               &ev, err, sizeof err);
    proto_event_release(&ev);
    EXPECT_RC(rc, TN_ERR_INVALID, err, "mud with unknown member 'modle'");
    EXPECT_CONTAINS(err, "modle", "mud with unknown member 'modle'");
}

static void test_event_size_limit(void **state)
{
    static const char small[] = "{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"b\"}";
    size_t n = PROTO_EVENT_MAX + 1;
    char *big = malloc(n + 1);
    struct proto_event ev;
    char err[256] = "";
    (void)state;

    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, small, strlen(small));
    big[n] = '\0';
    EXPECT_RC(proto_event_parse(big, n, &ev, err, sizeof err), TN_ERR_TOO_BIG, err,
              "event of 64 KiB + 1");
    proto_event_release(&ev);
    /* the same event at exactly the limit parses */
    EXPECT_RC(proto_event_parse(big, n - 1, &ev, err, sizeof err), 0, err, "event of 64 KiB");
    proto_event_release(&ev);
    free(big);
}

/* Private fields become sealed commitments under their names when the node signs, so a
 * name the record refuses is refused when the event is parsed, naming 'private', and an
 * event that parses and fits (proto_event_check_size) signs. Found by
 * tests/fuzz/fuzz_event.c: {"p\u007frice": ...} passed every check of tracectl submit and
 * failed only when the node signed the record. */
static void test_private_names_checked_like_sealed(void **state)
{
    static const char *const bad[] = {"p\\u007frice", "a\\u0001", "tab\\tname", "new\\nline"};
    static const char *const good[] = {"price", "caf\\u00e9 price", "\\u20ac"};
    static uint8_t out[PROTO_RECORD_MAX];
    struct cry_keypair kp;
    char json[256], err[512];
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct proto_event ev;
        snprintf(json, sizeof json,
                 "{\"type\": \"inspect\", \"items\": [\"a\"], \"private\": {\"%s\": \"x\"}}",
                 bad[i]);
        err[0] = '\0';
        EXPECT_RC(parse(json, &ev, err, sizeof err), TN_ERR_INVALID, err, "%s", json);
        EXPECT_CONTAINS(err, "'private'", "%s", json);
        proto_event_release(&ev);
    }

    assert_int_equal(cry_keypair_generate(&kp), 0);
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct proto_event ev;
        struct proto_record r;
        struct proto_seal seal = {0};
        size_t len = 0;
        snprintf(json, sizeof json,
                 "{\"type\": \"inspect\", \"items\": [\"a\"], \"private\": {\"%s\": \"x\"}}",
                 good[i]);
        parse_ok(json, &ev);
        EXPECT_RC(proto_event_check_size(&ev, "net-1", "org-a", err, sizeof err), 0, err,
                  "check_size %s", json);
        /* as the node signs it (node/batch.c) */
        r = ev.rec;
        r.v = PROTO_VERSION;
        r.net = "net-1";
        r.org = "org-a";
        r.time = 1700000000000;
        seal.name = ev.priv[0].name;
        r.sealed = &seal;
        r.n_sealed = 1;
        EXPECT_RC(proto_record_sign(&r, &kp, out, sizeof out, &len, err, sizeof err), 0, err,
                  "sign %s", json);
        proto_event_release(&ev);
    }
    cry_keypair_release(&kp);
}

/* ---- proto_event_check_context --------------------------------------------------------- */

static void make_eco(struct proto_ecosystem *eco)
{
    static const struct {
        const char *id, *roles;
    } orgs[] = {
        {"org-m", "manufacturer"}, {"org-s", "supplier"}, {"org-a", "assembler"},
        {"org-c", "carrier"},      {"org-o", "operator"}, {"org-x", "auditor"},
    };
    struct cry_keypair gov, k;
    char err[256] = "", *text;
    json_t *doc;

    assert_int_equal(cry_keypair_generate(&gov), 0);
    doc = proto_ecosystem_doc_new("net-1", gov.pk);
    assert_non_null(doc);
    for (size_t i = 0; i < sizeof orgs / sizeof orgs[0]; i++) {
        assert_int_equal(cry_keypair_generate(&k), 0);
        EXPECT_RC(proto_ecosystem_doc_add_org(doc, orgs[i].id, orgs[i].id, k.pk, orgs[i].roles,
                                              NULL, NULL, err, sizeof err),
                  0, err, "add %s", orgs[i].id);
        cry_keypair_release(&k);
    }
    EXPECT_RC(proto_ecosystem_doc_sign(doc, &gov, err, sizeof err), 0, err, "sign");
    text = json_dumps(doc, JSON_INDENT(2));
    assert_non_null(text);
    EXPECT_RC(proto_ecosystem_parse(text, strlen(text), true, eco, err, sizeof err), 0, err,
              "parse ecosystem");
    free(text);
    json_decref(doc);
    cry_keypair_release(&gov);
}

static int context_rc(const struct proto_ecosystem *eco, const char *json, const char *org,
                      char *err, size_t errlen)
{
    struct proto_event ev;
    int rc;

    parse_ok(json, &ev);
    err[0] = '\0';
    rc = proto_event_check_context(&ev, eco, org, err, errlen);
    proto_event_release(&ev);
    return rc;
}

static void test_check_context(void **state)
{
    static const char *const commission = "{\"type\": \"commission\", \"outputs\": [\"a\"]}";
    static const char *const transform =
        "{\"type\": \"transform\", \"inputs\": [\"a\"], \"outputs\": [\"b\"]}";
    static const char *const aggregate =
        "{\"type\": \"aggregate\", \"inputs\": [\"a\"], \"outputs\": [\"b\"]}";
    static const char *const ship_c = "{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"org-c\"}";
    static const char *const recv_m =
        "{\"type\": \"receive\", \"items\": [\"a\"], \"from\": \"org-m\"}";
    static const char *const inspect = "{\"type\": \"inspect\", \"items\": [\"a\"]}";
    static const char *const decom = "{\"type\": \"decommission\", \"items\": [\"a\"]}";
    struct proto_ecosystem eco;
    char err[512];
    (void)state;

    make_eco(&eco);

    /* allowed by role */
    EXPECT_RC(context_rc(&eco, commission, "org-m", err, sizeof err), 0, err, "m commission");
    EXPECT_RC(context_rc(&eco, commission, "org-s", err, sizeof err), 0, err, "s commission");
    EXPECT_RC(context_rc(&eco, transform, "org-a", err, sizeof err), 0, err, "a transform");
    EXPECT_RC(context_rc(&eco, aggregate, "org-a", err, sizeof err), 0, err, "a aggregate");
    EXPECT_RC(context_rc(&eco, inspect, "org-x", err, sizeof err), 0, err, "x inspect");
    EXPECT_RC(context_rc(&eco, decom, "org-o", err, sizeof err), 0, err, "o decommission");
    /* every org may ship and receive */
    EXPECT_RC(context_rc(&eco, ship_c, "org-x", err, sizeof err), 0, err, "x ship");
    EXPECT_RC(context_rc(&eco, recv_m, "org-o", err, sizeof err), 0, err, "o receive");

    /* refused by role */
    EXPECT_RC(context_rc(&eco, commission, "org-o", err, sizeof err), TN_ERR_ROLE, err,
              "operator commission");
    EXPECT_CONTAINS(err, "org-o", "operator commission");
    EXPECT_CONTAINS(err, "commission", "operator commission");
    EXPECT_RC(context_rc(&eco, commission, "org-c", err, sizeof err), TN_ERR_ROLE, err,
              "carrier commission");
    EXPECT_RC(context_rc(&eco, aggregate, "org-m", err, sizeof err), TN_ERR_ROLE, err,
              "manufacturer aggregate");
    EXPECT_RC(context_rc(&eco, inspect, "org-m", err, sizeof err), TN_ERR_ROLE, err,
              "manufacturer inspect");
    EXPECT_RC(context_rc(&eco, decom, "org-x", err, sizeof err), TN_ERR_ROLE, err,
              "auditor decommission");
    EXPECT_RC(context_rc(&eco, transform, "org-c", err, sizeof err), TN_ERR_ROLE, err,
              "carrier transform");

    /* unknown orgs */
    EXPECT_RC(context_rc(&eco, "{\"type\": \"ship\", \"items\": [\"a\"], \"to\": \"org-zz\"}",
                         "org-m", err, sizeof err),
              TN_ERR_UNKNOWN_ORG, err, "ship to unknown org");
    EXPECT_CONTAINS(err, "'to'", "ship to unknown org");
    EXPECT_CONTAINS(err, "org-zz", "ship to unknown org");
    EXPECT_RC(context_rc(&eco, "{\"type\": \"receive\", \"items\": [\"a\"], \"from\": \"org-q\"}",
                         "org-m", err, sizeof err),
              TN_ERR_UNKNOWN_ORG, err, "receive from unknown org");
    EXPECT_CONTAINS(err, "'from'", "receive from unknown org");
    EXPECT_RC(context_rc(&eco, ship_c, "org-nobody", err, sizeof err), TN_ERR_UNKNOWN_ORG, err,
              "submitting org not in the ecosystem");
    proto_ecosystem_release(&eco);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_examples),
        cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_attrs_sorted_and_typed),
        cmocka_unit_test(test_item_limits),
        cmocka_unit_test(test_refusals_name_the_field),
        cmocka_unit_test(test_mud_unknown_member_refused),
        cmocka_unit_test(test_event_size_limit),
        cmocka_unit_test(test_private_names_checked_like_sealed),
        cmocka_unit_test(test_check_context),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
