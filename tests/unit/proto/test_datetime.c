/* RFC 3339 date-times as YANG's date-and-time writes them (RFC 6991), the last-update of
 * a MUD file: what parses, to which instant, and what is refused with a reason. Anchors
 * order MUD files by these instants, so equal instants written with different offsets
 * must compare equal and the epoch arithmetic must be exact. */
#include "proto_test.h"

#include "proto/datetime.h"

static int parse(const char *s, struct proto_instant *t, char *err, size_t errlen)
{
    return proto_datetime_parse(s, strlen(s), t, err, errlen);
}

/* Parses s, which must be valid, and checks the instant it names. */
static void expect_instant(const char *s, int64_t sec, uint32_t nsec)
{
    struct proto_instant t = {-1, 7};
    char err[256] = "";

    EXPECT_RC(parse(s, &t, err, sizeof err), 0, err, "parse \"%s\"", s);
    if (t.sec != sec || t.nsec != nsec) {
        print_error("\"%s\": got %" PRId64 ".%09" PRIu32 ", want %" PRId64 ".%09" PRIu32 "\n", s,
                    t.sec, t.nsec, sec, nsec);
        fail();
    }
}

static struct proto_instant instant(const char *s)
{
    struct proto_instant t;
    char err[256] = "";

    EXPECT_RC(parse(s, &t, err, sizeof err), 0, err, "parse \"%s\"", s);
    return t;
}

/* ---- accepted ---------------------------------------------------------------------------- */

static void test_epoch_values(void **state)
{
    (void)state;
    expect_instant("1970-01-01T00:00:00Z", 0, 0);
    expect_instant("1970-01-01T00:00:01Z", 1, 0);
    expect_instant("2000-03-01T00:00:00Z", 951868800, 0);
    expect_instant("2000-01-01T00:00:00Z", 946684800, 0);
    expect_instant("2026-01-01T00:00:00Z", 1767225600, 0);
    expect_instant("9999-12-31T23:59:59Z", INT64_C(253402300799), 0);
    /* before the epoch the seconds are negative */
    expect_instant("1969-12-31T23:59:59Z", -1, 0);
    expect_instant("1969-07-20T20:17:40Z", -14182940, 0);
    expect_instant("1900-03-01T00:00:00Z", INT64_C(-2203891200), 0);
    expect_instant("0001-01-01T00:00:00Z", INT64_C(-62135596800), 0);
    /* the offset is subtracted: local 01:00 at +01:00 is the epoch */
    expect_instant("1970-01-01T01:00:00+01:00", 0, 0);
    expect_instant("1969-12-31T19:00:00-05:00", 0, 0);
    expect_instant("1970-01-01T05:30:00+05:30", 0, 0);
    expect_instant("1970-01-01T00:00:00-00:00", 0, 0);
    expect_instant("1970-01-01T23:59:00+23:59", 0, 0);
}

static void test_leap_day(void **state)
{
    (void)state;
    expect_instant("2024-02-29T12:00:00Z", 1709208000, 0);
    expect_instant("2000-02-29T00:00:00Z", 951782400, 0); /* divisible by 400 */
    expect_instant("2024-12-31T00:00:00Z", 1735603200, 0);
    expect_instant("2023-04-30T00:00:00Z", 1682812800, 0);
}

static void test_fractions(void **state)
{
    (void)state;
    expect_instant("2024-02-29T12:00:00.5Z", 1709208000, 500000000);
    expect_instant("2024-02-29T12:00:00.05Z", 1709208000, 50000000);
    expect_instant("2024-02-29T12:00:00.123Z", 1709208000, 123000000);
    expect_instant("2024-02-29T12:00:00.000001Z", 1709208000, 1000);
    expect_instant("2024-02-29T12:00:00.12345678Z", 1709208000, 123456780);
    expect_instant("2024-02-29T12:00:00.123456789Z", 1709208000, 123456789);
    /* digits past nanoseconds are accepted and do not count */
    expect_instant("2024-02-29T12:00:00.1234567891Z", 1709208000, 123456789);
    expect_instant("2024-02-29T12:00:00.999999999999999999999Z", 1709208000, 999999999);
    expect_instant("2024-02-29T12:00:00.0Z", 1709208000, 0);
    expect_instant("2024-02-29T13:00:00.25+01:00", 1709208000, 250000000);
}

/* A leap second is the last nanosecond of :59 of its UTC minute, whatever the offset. */
static void test_leap_seconds(void **state)
{
    struct proto_instant a, b, c;
    (void)state;

    expect_instant("2016-12-31T23:59:60Z", 1483228799, 999999999);
    expect_instant("2016-12-31T23:59:60.5Z", 1483228799, 999999999);
    expect_instant("2017-01-01T05:29:60+05:30", 1483228799, 999999999);
    expect_instant("2016-12-31T18:29:60-05:30", 1483228799, 999999999);
    expect_instant("2017-01-01T00:59:60+01:00", 1483228799, 999999999);
    expect_instant("2016-12-31T20:14:60-03:45", 1483228799, 999999999);
    expect_instant("2017-01-01T05:14:60+05:15", 1483228799, 999999999);
    /* only the UTC minute is checked, not the table of real leap seconds */
    expect_instant("2016-12-31T23:59:60+01:00", 1483225199, 999999999); /* 22:59:60Z */
    expect_instant("2016-06-30T23:59:60Z", 1467331199, 999999999);

    a = instant("2016-12-31T23:59:59.999Z");
    b = instant("2016-12-31T23:59:60Z");
    c = instant("2017-01-01T00:00:00Z");
    assert_true(proto_instant_cmp(&a, &b) < 0);
    assert_true(proto_instant_cmp(&b, &c) < 0);
    a = instant("2017-01-01T05:29:60+05:30");
    assert_int_equal(proto_instant_cmp(&a, &b), 0);
}

/* ---- refused ------------------------------------------------------------------------------ */

static void test_refused(void **state)
{
    static const char *const bad[] = {
        /* dates that do not exist */
        "2019-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", /* divisible by 100, not by 400 */
        "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-32T00:00:00Z",
        /* times that do not exist */
        "2024-01-01T24:00:00Z",
        "2024-01-01T23:60:00Z",
        "2024-01-01T23:59:61Z",
        "2024-01-01T23:58:60Z",      /* a leap second only ends a minute */
        "2017-01-01T05:30:60+05:30", /* UTC 00:00:60 */
        "2017-01-01T05:29:60+05:00", /* UTC 00:29:60 */
        "2016-12-31T18:30:60-05:30", /* UTC 00:00:60 */
        "2017-01-01T05:14:60-05:15", /* UTC 10:29:60: the offset's sign counts */
        /* case and separators */
        "2024-01-01t00:00:00Z",
        "2024-01-01T00:00:00z",
        "2024-01-01 00:00:00Z",
        "2024/01/01T00:00:00Z",
        "2024-01-01T00-00-00Z",
        /* the offset */
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00.5",
        "2024-01-01T00:00:00+0100",
        "2024-01-01T00:00:00+01",
        "2024-01-01T00:00:00+01:0",
        "2024-01-01T00:00:00+1:00",
        "2024-01-01T00:00:00+01:00:00",
        "2024-01-01T00:00:00+24:00",
        "2024-01-01T00:00:00-24:00",
        "2024-01-01T00:00:00+01:60",
        "2024-01-01T00:00:00+0a:00",
        "2024-01-01T00:00:00 Z",
        "2024-01-01T00:00:00UTC",
        /* trailing and leading junk */
        "2024-01-01T00:00:00Zx",
        "2024-01-01T00:00:00ZZ",
        "2024-01-01T00:00:00+01:00x",
        "2024-01-01T00:00:00Z ",
        " 2024-01-01T00:00:00Z",
        /* short strings, signs and non-digits */
        "",
        "Z",
        "2024-01-01",
        "2024-01-01T00:00Z",
        "2024-01-01T00:00:0Z",
        "24-01-01T00:00:00Z",
        "+024-01-01T00:00:00Z",
        "-024-01-01T00:00:00Z",
        "2024-1-01T00:00:00Z",
        "2024-01-01T0:00:00Z",
        "2024-0a-01T00:00:00Z",
        "2024-01-01T00:00:+1Z",
        /* a '.' needs digits */
        "2024-01-01T00:00:00.Z",
        "2024-01-01T00:00:00.",
        "2024-01-01T00:00:00.+01:00",
        "2024-01-01T00:00:00,5Z",
        "2024-01-01T00:00:00.5.5Z",
    };
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct proto_instant t;
        char err[256] = "";
        EXPECT_RC(parse(bad[i], &t, err, sizeof err), TN_ERR_INVALID, err, "\"%s\"", bad[i]);
        if (err[0] == '\0') {
            print_error("\"%s\" refused without a reason\n", bad[i]);
            fail();
        }
    }
}

/* The reason names what is wrong. */
static void test_reasons(void **state)
{
    struct proto_instant t;
    char err[256];
    (void)state;

    EXPECT_RC(parse("2019-02-30T00:00:00Z", &t, err, sizeof err), TN_ERR_INVALID, err, "Feb 30");
    EXPECT_CONTAINS(err, "2019-02 has no day 30", "Feb 30");
    EXPECT_RC(parse("2024-13-01T00:00:00Z", &t, err, sizeof err), TN_ERR_INVALID, err, "month");
    EXPECT_CONTAINS(err, "month 13", "month 13");
    EXPECT_RC(parse("2024-01-01T24:00:00Z", &t, err, sizeof err), TN_ERR_INVALID, err, "24:00");
    EXPECT_CONTAINS(err, "24:00:00", "24:00");
    EXPECT_RC(parse("2024-01-01T00:00:00+24:00", &t, err, sizeof err), TN_ERR_INVALID, err,
              "offset 24");
    EXPECT_CONTAINS(err, "offset", "offset 24");
    EXPECT_RC(parse("2024-01-01T00:00:00.Z", &t, err, sizeof err), TN_ERR_INVALID, err, "dot");
    EXPECT_CONTAINS(err, "'.'", "dot");
    EXPECT_RC(parse("2024-01-01T00:00:00Zx", &t, err, sizeof err), TN_ERR_INVALID, err, "trailing");
    EXPECT_CONTAINS(err, "trailing", "trailing");
}

/* The length bounds the parse: a valid prefix of a longer buffer is parsed alone, and a
 * valid date-time cut short is refused. */
static void test_length_is_respected(void **state)
{
    static const char s[] = "2024-01-01T00:00:00Z2024-01-01T00:00:00+01:00";
    struct proto_instant t = {0, 0};
    char err[256] = "";
    (void)state;

    EXPECT_RC(proto_datetime_parse(s, 20, &t, err, sizeof err), 0, err, "first 20 bytes");
    assert_int_equal(t.sec, 1704067200);
    EXPECT_RC(proto_datetime_parse(s + 20, 25, &t, err, sizeof err), 0, err, "offset form");
    assert_int_equal(t.sec, 1704067200 - 3600);
    EXPECT_RC(proto_datetime_parse(s, 19, &t, err, sizeof err), TN_ERR_INVALID, err, "19 bytes");
    EXPECT_RC(proto_datetime_parse(s + 20, 24, &t, err, sizeof err), TN_ERR_INVALID, err,
              "offset cut short");
    EXPECT_RC(proto_datetime_parse("2024-01-01T00:00:00.5Z", 21, &t, err, sizeof err),
              TN_ERR_INVALID, err, "fraction without its zone");
}

/* ---- comparing instants ------------------------------------------------------------------- */

static void test_compare(void **state)
{
    static const char *const same[] = {
        "2025-03-01T09:00:00Z",      "2025-03-01T10:00:00+01:00", "2025-03-01T04:00:00-05:00",
        "2025-03-01T14:30:00+05:30", "2025-02-28T23:15:00-09:45", "2025-03-01T09:00:00-00:00",
        "2025-03-01T09:00:00.000Z",
    };
    struct proto_instant a, b;
    (void)state;

    a = instant(same[0]);
    for (size_t i = 1; i < sizeof same / sizeof same[0]; i++) {
        b = instant(same[i]);
        if (proto_instant_cmp(&a, &b) != 0 || proto_instant_cmp(&b, &a) != 0) {
            print_error("%s and %s are the same instant\n", same[0], same[i]);
            fail();
        }
    }

    /* later in local text but earlier in time, and the other way round */
    a = instant("2025-03-01T10:00:00+02:00"); /* 08:00Z */
    b = instant("2025-03-01T09:00:00Z");
    assert_int_equal(proto_instant_cmp(&a, &b), -1);
    assert_int_equal(proto_instant_cmp(&b, &a), 1);
    a = instant("2025-03-01T08:00:00-02:00"); /* 10:00Z */
    assert_int_equal(proto_instant_cmp(&a, &b), 1);

    /* fractions order within a second */
    a = instant("2025-03-01T09:00:00.000000001Z");
    assert_int_equal(proto_instant_cmp(&a, &b), 1);
    assert_int_equal(proto_instant_cmp(&b, &a), -1);
    a = instant("2025-03-01T08:59:59.999999999Z");
    assert_int_equal(proto_instant_cmp(&a, &b), -1);

    /* across the epoch and across the year */
    a = instant("1969-12-31T23:59:59.5Z");
    b = instant("1970-01-01T00:00:00Z");
    assert_int_equal(proto_instant_cmp(&a, &b), -1);
    a = instant("2024-12-31T23:59:59Z");
    b = instant("2025-01-01T00:59:59+01:00");
    assert_int_equal(proto_instant_cmp(&a, &b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epoch_values),
        cmocka_unit_test(test_leap_day),
        cmocka_unit_test(test_fractions),
        cmocka_unit_test(test_leap_seconds),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
