/* MUD file validation (RFC 8520 with the ACLs of RFC 8519): the shipped fixtures pass or
 * fail with the rule their README names; every rule of proto/mud.c is shown firing, with
 * its severity and JSON Pointer, on a one-edit mutation of thermostat-v1.json and not
 * firing on a close variant; warnings never fail a file; and the limits (size, depth,
 * issue cap) and RFC 6901 escaping hold. */
#include "proto_test.h"

#include <dirent.h>

#include "proto/mud.h"

/* 2026-01-01T00:00:00Z: after every fixture's last-update, so none is in the future. */
#define NOW INT64_C(1767225600)

#define MUD "/ietf-mud:mud"
#define ACLS "/ietf-access-control-list:acls"
#define ACL0 ACLS "/acl/0"
#define ACL1 ACLS "/acl/1"
#define ACE0 ACL0 "/aces/ace/0"    /* thermo-fr "cloud": ipv4 6, dst-dnsname, tcp 443 */
#define ACE1 ACL0 "/aces/ace/1"    /* thermo-fr "ntp": ipv4 17, udp 123, controller */
#define ACE2 ACL0 "/aces/ace/2"    /* thermo-fr "hub": ipv4 6, tcp 8883, my-controller */
#define TO_ACE0 ACL1 "/aces/ace/0" /* thermo-to "cloud": ipv4 6, src-dnsname */
#define FROM_LIST MUD "/from-device-policy/access-lists/access-list"

/* Anchors in thermostat-v1.json; a mutation replaces the first occurrence. */
#define ROOT "{\n  \"ietf-mud:mud\": {"
#define VERSION "\"mud-version\": 1,"
#define DST "\"ietf-acldns:dst-dnsname\": \"cloud.thermoco.example\""
#define SRC "\"ietf-acldns:src-dnsname\": \"cloud.thermoco.example\""
#define CTRL "\"controller\": \"urn:ietf:params:mud:ntp\""
#define SYSINFO "\"systeminfo\": \"T100 thermostat by ThermoCo\""

/* ---- helpers ------------------------------------------------------------------------------ */

/* The file under tests/vectors/mud, NUL-terminated; *len is its size. */
static char *read_vector(const char *rel, size_t *len)
{
    char path[512];
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof path, "%s/mud/%s", TN_VECTORS, rel);
    f = fopen(path, "rb");
    if (!f) {
        print_error("cannot open %s\n", path);
        fail();
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

static char *thermostat(void)
{
    return read_vector("thermostat-v1.json", NULL);
}

/* A copy of text with the first occurrence of from replaced by to; fails if from is not
 * there, so a mutation can never silently test the unmutated file. */
static char *mutate(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t head, nfrom = strlen(from), nto = strlen(to), n = strlen(text);
    char *out;

    if (!at) {
        print_error("mutation anchor not found: \"%s\"\n", from);
        fail();
    }
    head = (size_t)(at - text);
    out = malloc(n - nfrom + nto + 1);
    assert_non_null(out);
    memcpy(out, text, head);
    memcpy(out + head, to, nto);
    memcpy(out + head + nto, at + nfrom, n - head - nfrom + 1);
    return out;
}

/* Applies the NULL-terminated from, to, from, to, ... pairs in order to thermostat-v1. */
static char *thermostat_with(const char *const *pairs)
{
    char *text = thermostat();
    for (size_t i = 0; pairs[i]; i += 2) {
        char *next = mutate(text, pairs[i], pairs[i + 1]);
        free(text);
        text = next;
    }
    return text;
}

static int check_at(const char *text, int64_t now, struct proto_mud_report *rep)
{
    return proto_mud_check((const uint8_t *)text, strlen(text), now, rep);
}

static int check(const char *text, struct proto_mud_report *rep)
{
    return check_at(text, NOW, rep);
}

static void dump(const struct proto_mud_report *rep)
{
    print_error("  report: %zu errors, %zu warnings, %zu dropped\n", rep->n_errors, rep->n_warnings,
                rep->n_dropped);
    for (size_t i = 0; i < rep->n_issues; i++)
        print_error("  %s %s \"%s\": %s\n", rep->issues[i].warning ? "warning" : "error",
                    rep->issues[i].rule, rep->issues[i].path, rep->issues[i].msg);
}

static bool has_issue(const struct proto_mud_report *rep, const char *rule, const char *path,
                      bool warning)
{
    for (size_t i = 0; i < rep->n_issues; i++)
        if (strcmp(rep->issues[i].rule, rule) == 0 && strcmp(rep->issues[i].path, path) == 0 &&
            rep->issues[i].warning == warning)
            return true;
    return false;
}

static size_t count_rule(const struct proto_mud_report *rep, const char *rule)
{
    size_t n = 0;
    for (size_t i = 0; i < rep->n_issues; i++)
        n += strcmp(rep->issues[i].rule, rule) == 0;
    return n;
}

#define EXPECT_ISSUE(rep, rule, path, warning, ...)                                                \
    do {                                                                                           \
        if (!has_issue((rep), (rule), (path), (warning))) {                                        \
            print_error(__VA_ARGS__);                                                              \
            print_error(": no %s \"%s\" at \"%s\"\n", (warning) ? "warning" : "error", (rule),     \
                        (path));                                                                   \
            dump(rep);                                                                             \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define EXPECT_NO_RULE(rep, rule, ...)                                                             \
    do {                                                                                           \
        if (count_rule((rep), (rule)) != 0) {                                                      \
            print_error(__VA_ARGS__);                                                              \
            print_error(": unexpected \"%s\"\n", (rule));                                          \
            dump(rep);                                                                             \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

#define EXPECT_COUNTS(rep, errors, warnings, ...)                                                  \
    do {                                                                                           \
        if ((rep)->n_errors != (size_t)(errors) || (rep)->n_warnings != (size_t)(warnings)) {      \
            print_error(__VA_ARGS__);                                                              \
            print_error(": want %zu errors and %zu warnings\n", (size_t)(errors),                  \
                        (size_t)(warnings));                                                       \
            dump(rep);                                                                             \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* A new string formatted like printf. */
__attribute__((format(printf, 1, 2))) static char *fmt(const char *f, ...)
{
    va_list ap;
    int n;
    char *out;

    va_start(ap, f);
    n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    assert_true(n >= 0);
    out = malloc((size_t)n + 1);
    assert_non_null(out);
    va_start(ap, f);
    vsnprintf(out, (size_t)n + 1, f, ap);
    va_end(ap);
    return out;
}

/* n copies of s, concatenated. */
static char *repeat(const char *s, size_t n)
{
    size_t len = strlen(s);
    char *out = malloc(len * n + 1);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * len, s, len);
    out[len * n] = '\0';
    return out;
}

/* ---- the fixtures ------------------------------------------------------------------------- */

static void test_good_fixtures(void **state)
{
    static const struct {
        const char *file, *url, *last_update, *mfg, *model, *sysinfo, *sig;
    } good[] = {
        {"thermostat-v1.json", "https://mud.thermoco.example/t100", "2025-03-01T09:00:00Z",
         "ThermoCo", "T100 thermostat", "T100 thermostat by ThermoCo",
         "https://mud.thermoco.example/t100.p7s"},
        {"thermostat-v2.json", "https://mud.thermoco.example/t100", "2025-09-15T12:30:00+02:00",
         "ThermoCo", "T100 thermostat", "T100 thermostat by ThermoCo",
         "https://mud.thermoco.example/t100.p7s"},
        {"camera.json", "https://mud.camco.example/c9", "2025-06-20T08:15:00Z", "CamCo",
         "C9 camera", "C9 camera by CamCo", NULL},
    };
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct proto_mud_report rep;
        size_t len;
        char *text = read_vector(good[i].file, &len);
        int rc = proto_mud_check((const uint8_t *)text, len, NOW, &rep);

        if (rc != 0 || rep.n_issues != 0) {
            print_error("%s: rc %d\n", good[i].file, rc);
            dump(&rep);
            fail();
        }
        assert_int_equal(rep.n_errors, 0);
        assert_int_equal(rep.n_warnings, 0);
        assert_int_equal(rep.n_dropped, 0);
        assert_non_null(rep.doc);
        assert_non_null(rep.url);
        assert_string_equal(rep.url, good[i].url);
        assert_non_null(rep.last_update);
        assert_string_equal(rep.last_update, good[i].last_update);
        assert_non_null(rep.mfg_name);
        assert_string_equal(rep.mfg_name, good[i].mfg);
        assert_non_null(rep.model_name);
        assert_string_equal(rep.model_name, good[i].model);
        assert_non_null(rep.systeminfo);
        assert_string_equal(rep.systeminfo, good[i].sysinfo);
        if (good[i].sig) {
            assert_non_null(rep.signature);
            assert_string_equal(rep.signature, good[i].sig);
        } else {
            assert_null(rep.signature);
        }
        assert_int_equal(rep.is_supported, 1);
        assert_int_equal(rep.cache_validity, 48);
        proto_mud_report_release(&rep);
        assert_null(rep.doc);
        assert_null(rep.issues);
        free(text);
    }
}

/* Every file in bad/ is refused, with its rule at its path. The directory is listed, so a
 * fixture added without an expectation here fails the test. */
static void test_bad_fixtures(void **state)
{
    static const struct {
        const char *file, *rule, *path;
        size_t errors; /* exact, with NOW after every last-update */
    } bad[] = {
        {"missing-version.json", "mud-version", MUD "/mud-version", 1},
        {"version-2.json", "mud-version", MUD "/mud-version", 1},
        {"http-url.json", "mud-url", MUD "/mud-url", 1},
        {"supported-string.json", "is-supported", MUD "/is-supported", 1},
        {"cache-200.json", "cache-validity", MUD "/cache-validity", 1},
        {"bad-date.json", "last-update", MUD "/last-update", 1},
        {"dangling-acl.json", "policy-acl", FROM_LIST "/1/name", 1},
        {"src-dnsname-from-device.json", "dnsname-direction",
         ACE0 "/matches/ipv4/ietf-acldns:src-dnsname", 1},
        {"direction-under-udp.json", "direction-initiated",
         ACE1 "/matches/udp/ietf-mud:direction-initiated", 1},
        /* the draft-era root, and so no RFC 8519 root either */
        {"legacy-access-lists.json", "legacy-root", "/ietf-access-control-list:access-lists", 2},
        {"port-70000.json", "port-range", ACE0 "/matches/tcp/destination-port/port", 1},
        /* the file stops inside acl 0's fourth ACE, in udp's destination-port */
        {"truncated.json", "json", ACL0 "/aces/ace/3/matches/udp/destination-port", 1},
        {"duplicate-keys.json", "duplicate-member", MUD "/mud-version", 1},
        {"not-utf8.json", "utf-8", MUD "/systeminfo", 1},
        {"array-root.json", "root", "", 1},
        {"empty.json", "json", "", 1},
    };
    size_t seen = 0;
    struct dirent *e;
    DIR *d;
    (void)state;

    d = opendir(TN_VECTORS "/mud/bad");
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name), i, len;
        struct proto_mud_report rep;
        char rel[300], *text;
        int rc;

        if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
            if (strcmp(bad[i].file, e->d_name) == 0)
                break;
        if (i == sizeof bad / sizeof bad[0]) {
            print_error("bad/%s has no expected rule in this test\n", e->d_name);
            fail();
        }
        seen++;
        snprintf(rel, sizeof rel, "bad/%s", e->d_name);
        text = read_vector(rel, &len);
        rc = proto_mud_check((const uint8_t *)text, len, NOW, &rep);
        EXPECT_RC(rc, TN_ERR_INVALID, "", "%s", bad[i].file);
        EXPECT_ISSUE(&rep, bad[i].rule, bad[i].path, false, "%s", bad[i].file);
        EXPECT_COUNTS(&rep, bad[i].errors, 0, "%s", bad[i].file);
        proto_mud_report_release(&rep);
        free(text);
    }
    closedir(d);
    assert_int_equal(seen, sizeof bad / sizeof bad[0]);
}

/* ---- every rule: a bad mutation with its rule, severity and path; a good variant without
 * that rule ------------------------------------------------------------------------------ */

#define S10 "abcdefghij"
#define E10 /* ten U+00E9, two bytes each */                                                       \
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
#define X40 S10 S10 S10 S10
#define B8 "[[[[[[[["
#define K8 "]]]]]]]]"
#define P8 "/0/0/0/0/0/0/0/0"
/* 62 and 63 nested arrays under a member of the mud container: 64 and 65 levels */
#define B62 B8 B8 B8 B8 B8 B8 B8 "[[[[[["
#define K62 K8 K8 K8 K8 K8 K8 K8 "]]]]]]"
#define P62 P8 P8 P8 P8 P8 P8 P8 "/0/0/0/0/0/0"

struct rule_case {
    const char *rule;
    bool warning;
    const char *path;
    const char *bad[7];  /* from, to, ... applied to thermostat-v1 */
    const char *good[7]; /* a close variant without the rule; empty: thermostat-v1 itself */
    const char *bad_doc; /* instead of bad[]: a whole document */
};

static const struct rule_case rule_cases[] = {
    /* --- bytes and syntax --- */
    {"json", false, "", .bad_doc = ""},
    {"json", false, "", .bad_doc = "{} x"},
    {"json", false, MUD, .bad = {VERSION, VERSION ","}},
    {"root", false, "", .bad_doc = "[]"},
    {"root", false, "", .bad_doc = "[{\"ietf-mud:mud\": {}}]"},
    {"bom", true, "", .bad = {ROOT, "\xef\xbb\xbf" ROOT}},
    {"utf-8", false, MUD "/mfg-name",
     .bad = {"\"mfg-name\": \"ThermoCo\"", "\"mfg-name\": \"Therm\xf8 Co\""},
     .good = {"\"mfg-name\": \"ThermoCo\"", "\"mfg-name\": \"Therm\xc3\xb8 Co\""}},
    {"utf-8", false, MUD "/systeminfo",
     .bad = {SYSINFO, "\"systeminfo\": \"\xc0\xaf\""}}, /* overlong */
    {"utf-8", false, MUD "/systeminfo",
     .bad = {SYSINFO, "\"systeminfo\": \"\xed\xa0\x80\""}}, /* surrogate */
    {"utf-8", false, MUD "/systeminfo", .bad = {SYSINFO, "\"systeminfo\": \"\xf4\x90\x80\x80\""},
     .good = {SYSINFO,
              "\"systeminfo\": \"\xf0\x9f\x8c\xa1 \xf4\x8f\xbf\xbf\""}}, /* U+1F321, U+10FFFF */
    {"utf-8", false, MUD "/systeminfo",
     .bad = {SYSINFO, "\"systeminfo\": \"T100 \xe2\x82\""}}, /* cut */
    {"depth", false, MUD "/deep" P62, .bad = {VERSION, VERSION " \"deep\": " B62 "[]" K62 ","},
     .good = {VERSION, VERSION " \"deep\": " B62 K62 ","}},
    {"duplicate-member", false, MUD "/mfg-name",
     .bad = {"\"mfg-name\": \"ThermoCo\",",
             "\"mfg-name\": \"ThermoCo\", \"mfg-name\": \"ThermoCo\","}},
    {"duplicate-member", false, ACE1 "/name",
     .bad = {"\"name\": \"ntp\",", "\"name\": \"ntp\", \"name\": \"ntp2\","}},

    /* --- roots --- */
    {"legacy-root", false, "/ietf-access-control-list:access-lists",
     .bad = {"\"ietf-access-control-list:acls\"", "\"ietf-access-control-list:access-lists\""}},
    {"unknown-root", true, "/x-root", .bad = {ROOT, "{\n  \"x-root\": {},\n  \"ietf-mud:mud\": {"}},
    {"mud-root", false, "", .bad = {ROOT, "{\n  \"x-mud\": {"}},
    {"mud-root", false, "/ietf-mud:mud",
     .bad = {ROOT, "{\n  \"ietf-mud:mud\": 5,\n  \"x-mud\": {"}},
    {"acls-root", false, "", .bad = {"\"ietf-access-control-list:acls\"", "\"x-acls\""}},
    {"acls-root", false, ACLS, .bad = {"\"acl\": [", "\"acls\": ["}},

    /* --- the mud container --- */
    {"mud-version", false, MUD "/mud-version", .bad = {VERSION, "\"mud-version\": \"1\","}},
    {"mud-version", false, MUD "/mud-version", .bad = {VERSION, "\"mud-version\": 1.0,"}},
    {"mud-version", false, MUD "/mud-version", .bad = {VERSION, "\"mud-version\": 0,"}},
    {"mud-url", false, MUD "/mud-url",
     .bad = {"\"mud-url\": \"https://mud.thermoco.example/t100\"",
             "\"mud-url\": \"https://user@mud.thermoco.example/t100\""},
     .good = {"\"mud-url\": \"https://mud.thermoco.example/t100\"",
              "\"mud-url\": \"https://mud.thermoco.example:8443/t100\""}},
    {"mud-url", false, MUD "/mud-url",
     .bad = {"\"mud-url\": \"https://mud.thermoco.example/t100\",", ""}},
    {"last-update", false, MUD "/last-update",
     .bad = {"2025-03-01T09:00:00Z", "2025-02-29T09:00:00Z"},
     .good = {"2025-03-01T09:00:00Z", "2016-12-31T23:59:60Z"}},
    {"last-update", false, MUD "/last-update",
     .bad = {"2025-03-01T09:00:00Z", "2025-03-01 09:00:00Z"}},
    {"last-update", false, MUD "/last-update",
     .bad = {"\"last-update\": \"2025-03-01T09:00:00Z\"", "\"last-update\": 1740819600"}},
    /* more than a day after NOW; exactly a day is not */
    {"last-update-future", true, MUD "/last-update",
     .bad = {"2025-03-01T09:00:00Z", "2026-01-02T00:00:01Z"},
     .good = {"2025-03-01T09:00:00Z", "2026-01-02T00:00:00Z"}},
    /* compared as instants, not as text */
    {"last-update-future", true, MUD "/last-update",
     .bad = {"2025-03-01T09:00:00Z", "2026-01-01T20:00:01-04:00"},
     .good = {"2025-03-01T09:00:00Z", "2026-01-02T03:00:00+03:00"}},
    {"is-supported", false, MUD "/is-supported",
     .bad = {"\"is-supported\": true", "\"is-supported\": 1"},
     .good = {"\"is-supported\": true", "\"is-supported\": false"}},
    {"is-supported", false, MUD "/is-supported", .bad = {"\"is-supported\": true,", ""}},
    {"cache-validity", false, MUD "/cache-validity",
     .bad = {"\"cache-validity\": 48", "\"cache-validity\": 169"},
     .good = {"\"cache-validity\": 48", "\"cache-validity\": 168"}},
    {"cache-validity", false, MUD "/cache-validity",
     .bad = {"\"cache-validity\": 48", "\"cache-validity\": 0"},
     .good = {"\"cache-validity\": 48", "\"cache-validity\": 1"}},
    {"cache-validity", false, MUD "/cache-validity",
     .bad = {"\"cache-validity\": 48", "\"cache-validity\": \"48\""}},
    {"cache-validity-low", true, MUD "/cache-validity",
     .bad = {"\"cache-validity\": 48", "\"cache-validity\": 23"},
     .good = {"\"cache-validity\": 48", "\"cache-validity\": 24"}},
    {"mud-signature", false, MUD "/mud-signature",
     .bad = {"\"https://mud.thermoco.example/t100.p7s\"", "\"t100.p7s\""}},
    {"mud-signature", false, MUD "/mud-signature",
     .bad = {"\"https://mud.thermoco.example/t100.p7s\"",
             "[\"https://mud.thermoco.example/t100.p7s\"]"}},
    {"mud-signature", true, MUD "/mud-signature",
     .bad = {"https://mud.thermoco.example/t100.p7s", "http://mud.thermoco.example/t100.p7s"}},
    {"documentation", false, MUD "/documentation",
     .bad = {VERSION, VERSION " \"documentation\": \"https://thermoco.example/t100 manual\","},
     .good = {VERSION, VERSION " \"documentation\": \"https://thermoco.example/t100%20manual\","}},
    {"documentation", false, MUD "/documentation",
     .bad = {VERSION, VERSION " \"documentation\": \"https://thermoco.example/%zz\","}},
    {"string-leaf", false, MUD "/mfg-name",
     .bad = {"\"mfg-name\": \"ThermoCo\"", "\"mfg-name\": [\"ThermoCo\"]"}},
    {"string-leaf", false, MUD "/firmware-rev", .bad = {VERSION, VERSION " \"firmware-rev\": 2,"},
     .good = {VERSION, VERSION " \"firmware-rev\": \"2\","}},
    /* 60 characters are allowed, counted as characters: 60 U+00E9 are 120 bytes */
    {"systeminfo-length", true, MUD "/systeminfo",
     .bad = {SYSINFO, "\"systeminfo\": \"" S10 S10 S10 S10 S10 S10 "x\""},
     .good = {SYSINFO, "\"systeminfo\": \"" E10 E10 E10 E10 E10 E10 "\""}},
    {"systeminfo-length", true, MUD "/systeminfo",
     .bad = {SYSINFO, "\"systeminfo\": \"" E10 E10 E10 E10 E10 E10 "\xc3\xa9\""},
     .good = {SYSINFO, "\"systeminfo\": \"" S10 S10 S10 S10 S10 S10 "\""}},
    {"extensions", false, MUD "/extensions/1",
     .bad = {VERSION, VERSION " \"extensions\": [\"ok\", \"\"],"},
     .good = {VERSION, VERSION " \"extensions\": [\"ok\", \"" X40 "\"],"}},
    {"extensions", false, MUD "/extensions/0",
     .bad = {VERSION, VERSION " \"extensions\": [\"" X40 "x\"],"}},
    {"extensions", false, MUD "/extensions/1",
     .bad = {VERSION, VERSION " \"extensions\": [\"a\", 1],"}},
    {"extensions", false, MUD "/extensions/1",
     .bad = {VERSION, VERSION " \"extensions\": [\"a\", \"a\"],"},
     .good = {VERSION, VERSION " \"extensions\": [\"a\", \"b\"],"}},
    {"extensions", false, MUD "/extensions", .bad = {VERSION, VERSION " \"extensions\": \"a\","}},
    {"policy", false, MUD "/to-device-policy",
     .bad = {"\"to-device-policy\": {", "\"to-device-policy\": [], \"x-to\": {"}},
    {"policy", false, MUD "/from-device-policy/access-lists",
     .bad = {"\"access-list\": [", "\"access-lists\": ["}},
    {"policy", false, FROM_LIST "/0",
     .bad = {"\"name\": \"thermo-fr\"\n", "\"acl\": \"thermo-fr\"\n"}},
    {"policy-acl", false, FROM_LIST "/0/name",
     .bad = {"\"name\": \"thermo-fr\"\n", "\"name\": \"thermo-fx\"\n"}},
    {"no-policy", true, MUD,
     .bad = {"\"from-device-policy\"", "\"x-from\"", "\"to-device-policy\"", "\"x-to\""},
     .good = {"\"from-device-policy\"", "\"x-from\""}},
    {"unknown-member", true, MUD "/a~1b~0c", .bad = {VERSION, VERSION " \"a/b~c\": 1,"}},

    /* --- ACLs --- */
    {"acl", false, ACL0, .bad = {"\"acl\": [", "\"acl\": [\"thermo-fr\", "}},
    {"acl", false, ACL0 "/name", .bad = {"\"name\": \"thermo-fr\",", "\"name\": 1,"}},
    {"acl", false, ACL0 "/aces", .bad = {"\"aces\": {", "\"aces\": [], \"x-aces\": {"}},
    {"acl", false, ACE0, .bad = {"\"ace\": [", "\"ace\": [7, "}},
    {"acl", false, ACE0 "/name", .bad = {"\"name\": \"cloud\",", "\"nom\": \"cloud\","}},
    {"acl-name-unique", false, ACL1 "/name",
     .bad = {"\"name\": \"thermo-to\",", "\"name\": \"thermo-fr\","}},
    /* ACE names are unique per ACL: both of thermostat-v1's ACLs have a "cloud" */
    {"ace-name-unique", false, ACE1 "/name", .bad = {"\"name\": \"ntp\",", "\"name\": \"cloud\","}},
    {"acl-type", true, ACL0 "/type",
     .bad = {"\"type\": \"ipv4-acl-type\"", "\"type\": \"eth-acl-type\""},
     .good = {"\"type\": \"ipv4-acl-type\"",
              "\"type\": \"ietf-access-control-list:ipv4-acl-type\""}},
    {"unused-acl", true, ACL1 "/name", .bad = {"\"to-device-policy\"", "\"x-to-device-policy\""}},
    {"matches", false, ACE0 "/matches", .bad = {"\"matches\": {", "\"match\": {"}},
    {"matches", false, ACE0 "/matches", .bad = {"\"tcp\": {", "\"ipv6\": {}, \"tcp\": {"}},
    {"matches", false, ACE1 "/matches", .bad = {"\"udp\": {", "\"tcp\": {}, \"udp\": {"}},
    {"matches", false, ACE0 "/matches/ipv4", .bad = {"\"ipv4\": {", "\"ipv4\": 4, \"x-ipv4\": {"}},
    {"unknown-member", false, ACE0 "/matches/ietf-mud:mystery",
     .bad = {"\"matches\": {", "\"matches\": {\"ietf-mud:mystery\": 1,"}},
    /* a misspelt header field would be ignored by a manager, widening the ACE */
    {"unknown-member", false, ACE0 "/matches/tcp/destination-prot",
     .bad = {"\"destination-port\": {", "\"destination-prot\": {"},
     .good = {"\"destination-port\": {", "\"window-size\": 1, \"destination-port\": {"}},
    {"unknown-member", false, ACE0 "/matches/ipv4/protocl",
     .bad = {"\"protocol\": 6,", "\"protocl\": 6,"},
     .good = {"\"protocol\": 6,", "\"protocol\": 6, \"ttl\": 64,"}},
    {"unknown-member", false, ACE0 "/matches/tcp/destination-port/op",
     .bad = {"\"operator\": \"eq\"", "\"op\": \"eq\""}},
    {"protocol-range", false, ACE1 "/matches/ipv4/protocol",
     .bad = {"\"protocol\": 17", "\"protocol\": 256"}},
    {"protocol-range", false, ACE1 "/matches/ipv4/protocol",
     .bad = {"\"protocol\": 17", "\"protocol\": -1"}},
    {"protocol-match", false, ACE1 "/matches/udp", .bad = {"\"protocol\": 17", "\"protocol\": 6"}},
    {"protocol-match", false, ACE0 "/matches/tcp", .bad = {"\"protocol\": 6", "\"protocol\": 17"}},
    {"protocol-match", false, ACE1 "/matches/icmp",
     .bad = {"\"udp\": {", "\"icmp\": {\"type\": 8}, \"udp\": {"}},
    {"literal-ip", true, TO_ACE0 "/matches/ipv4/source-ipv4-network",
     .bad = {SRC, SRC ", \"source-ipv4-network\": \"192.0.2.0/24\""}},
    {"literal-ip", true, ACE0 "/matches/ipv4/destination-ipv4-network",
     .bad = {DST, DST ", \"destination-ipv4-network\": \"192.0.2.0/24\""}},
    {"literal-ip", true, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": \"192.0.2.7\""},
     .good = {DST, "\"ietf-acldns:dst-dnsname\": \"cloud7.thermoco.example\""}},
    {"literal-ip", true, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": \"2001:db8::7\""}},
    {"dnsname", false, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": \"cloud_1.thermoco.example\""},
     .good = {DST, "\"ietf-acldns:dst-dnsname\": \"cloud-1.thermoco.example\""}},
    {"dnsname", false, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": \"cloud..thermoco.example\""}},
    {"dnsname", false, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": \"-cloud.thermoco.example\""}},
    {"dnsname", false, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": \"cloud-.thermoco.example\""}},
    {"dnsname", false, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": \"" X40 "abcdefghijklmnopqrstuvwx.example\""},
     .good = {DST, "\"ietf-acldns:dst-dnsname\": \"" X40 "abcdefghijklmnopqrstuvw.example\""}},
    {"dnsname", false, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {DST, "\"ietf-acldns:dst-dnsname\": [\"cloud.thermoco.example\"]"}},
    {"dnsname-direction", false, ACE0 "/matches/ipv4/ietf-acldns:src-dnsname",
     .bad = {DST, "\"ietf-acldns:src-dnsname\": \"cloud.thermoco.example\""}},
    {"dnsname-direction", false, TO_ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
     .bad = {SRC, "\"ietf-acldns:dst-dnsname\": \"cloud.thermoco.example\""}},
    {"port", false, ACE0 "/matches/tcp/destination-port/operator",
     .bad = {"\"operator\": \"eq\"", "\"operator\": \"equals\""},
     .good = {"\"operator\": \"eq\"", "\"operator\": \"gte\""}},
    {"port", false, ACE0 "/matches/tcp/destination-port/port",
     .bad = {"\"port\": 443", "\"port\": \"443\""}},
    {"port", false, ACE0 "/matches/tcp/destination-port/port",
     .bad = {"\"port\": 443", "\"portnumber\": 443"}},
    {"port", false, ACE0 "/matches/tcp/destination-port",
     .bad = {"\"operator\": \"eq\",", "\"lower-port\": 1, \"operator\": \"eq\","}},
    {"port", false, ACE0 "/matches/tcp/destination-port",
     .bad = {"\"destination-port\": {", "\"destination-port\": 443, \"x-port\": {"}},
    {"port-range", false, ACE0 "/matches/tcp/destination-port/port",
     .bad = {"\"port\": 443", "\"port\": 65536"}, .good = {"\"port\": 443", "\"port\": 65535"}},
    {"port-range", false, ACE0 "/matches/tcp/destination-port/port",
     .bad = {"\"port\": 443", "\"port\": -1"}, .good = {"\"port\": 443", "\"port\": 0"}},
    {"port-range", false, ACE0 "/matches/tcp/destination-port",
     .bad = {"\"operator\": \"eq\",", "\"lower-port\": 444,", "\"port\": 443",
             "\"upper-port\": 443"},
     .good = {"\"operator\": \"eq\",", "\"lower-port\": 443,", "\"port\": 443",
              "\"upper-port\": 443"}},
    {"port-range", false, ACE0 "/matches/tcp/destination-port",
     .bad = {"\"operator\": \"eq\",", "\"lower-port\": 1,", "\"port\": 443",
             "\"upper-port\": 65536"},
     .good = {"\"operator\": \"eq\",", "\"lower-port\": 1,", "\"port\": 443",
              "\"upper-port\": 65535"}},
    {"direction-initiated", false, ACE0 "/matches/tcp/ietf-mud:direction-initiated",
     .bad = {"\"ietf-mud:direction-initiated\": \"from-device\"",
             "\"ietf-mud:direction-initiated\": \"from-the-device\""},
     .good = {"\"ietf-mud:direction-initiated\": \"from-device\"",
              "\"ietf-mud:direction-initiated\": \"to-device\""}},
    {"direction-initiated", false, ACE1 "/matches/udp/ietf-mud:direction-initiated",
     .bad = {"\"udp\": {", "\"udp\": {\"ietf-mud:direction-initiated\": \"from-device\","}},
    {"direction-initiated", false, ACE1 "/matches/ipv4/ietf-mud:direction-initiated",
     .bad = {"\"protocol\": 17",
             "\"protocol\": 17, \"ietf-mud:direction-initiated\": \"to-device\""}},
    {"direction-initiated", false, ACE0 "/matches/ietf-mud:direction-initiated",
     .bad = {"\"matches\": {", "\"matches\": {\"ietf-mud:direction-initiated\": \"from-device\","}},
    {"mud-match", false, ACE1 "/matches/ietf-mud:mud/controller",
     .bad = {CTRL, "\"controller\": \"urn ietf mud ntp\""},
     .good = {CTRL, "\"model\": \"https://mud.thermoco.example/t200\""}},
    {"mud-match", false, ACE1 "/matches/ietf-mud:mud/manufacturer",
     .bad = {CTRL, "\"manufacturer\": \"thermo co\""},
     .good = {CTRL, "\"manufacturer\": \"thermoco.example\""}},
    {"mud-match", false, ACE1 "/matches/ietf-mud:mud/controler",
     .bad = {CTRL, "\"controler\": \"urn:x:y\""}},
    {"mud-match", false, ACE2 "/matches/ietf-mud:mud/my-controller",
     .bad = {"\"my-controller\": [", "\"my-controller\": [true, "}},
    {"mud-match", false, ACE1 "/matches/ietf-mud:mud",
     .bad = {"\"ietf-mud:mud\": {\n                  " CTRL "\n                }",
             "\"ietf-mud:mud\": \""
             "urn:ietf:params:mud:ntp\""}},
    {"mud-match-multiple", true, ACE1 "/matches/ietf-mud:mud",
     .bad = {CTRL, CTRL ", \"local-networks\": [null]"}},
    {"actions", false, ACE0 "/actions/forwarding",
     .bad = {"\"forwarding\": \"accept\"", "\"forwarding\": \"permit\""},
     .good = {"\"forwarding\": \"accept\"", "\"forwarding\": \"ietf-access-control-list:drop\""}},
    {"actions", true, ACE0 "/actions/forwarding",
     .bad = {"\"forwarding\": \"accept\"", "\"forwarding\": \"reject\""}},
    {"actions", false, ACE0 "/actions", .bad = {"\"actions\": {", "\"action\": {"}},
};

static void test_every_rule(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        const struct rule_case *rc = &rule_cases[i];
        struct proto_mud_report rep;
        char *text = rc->bad_doc ? strdup(rc->bad_doc) : thermostat_with(rc->bad);
        int got;

        assert_non_null(text);
        got = check(text, &rep);
        EXPECT_ISSUE(&rep, rc->rule, rc->path, rc->warning, "case %zu (%s)", i, rc->rule);
        /* a warning alone never fails a file; an error always does */
        EXPECT_RC(got, rc->warning ? 0 : TN_ERR_INVALID, "", "case %zu (%s)", i, rc->rule);
        if (rc->warning && rep.n_errors != 0) {
            print_error("case %zu (%s): the mutation should add only warnings\n", i, rc->rule);
            dump(&rep);
            fail();
        }
        proto_mud_report_release(&rep);
        free(text);

        text = thermostat_with(rc->good);
        got = check(text, &rep);
        EXPECT_NO_RULE(&rep, rc->rule, "case %zu (%s), good variant", i, rc->rule);
        EXPECT_RC(got, 0, "", "case %zu (%s), good variant", i, rc->rule);
        assert_int_equal(rep.n_errors, 0);
        proto_mud_report_release(&rep);
        free(text);
    }
}

/* Each rule of proto/mud.c appears in rule_cases, as an error or a warning as it is
 * raised, except size, which has its own test (a table row cannot hold 1 MiB). */
static void test_every_rule_is_covered(void **state)
{
    static const struct {
        const char *rule;
        bool error, warning; /* raised as */
    } rules[] = {
        {"json", true, false},
        {"size", true, false},
        {"bom", false, true},
        {"utf-8", true, false},
        {"depth", true, false},
        {"duplicate-member", true, false},
        {"root", true, false},
        {"legacy-root", true, false},
        {"unknown-root", false, true},
        {"mud-root", true, false},
        {"acls-root", true, false},
        {"mud-version", true, false},
        {"mud-url", true, false},
        {"last-update", true, false},
        {"last-update-future", false, true},
        {"is-supported", true, false},
        {"cache-validity", true, false},
        {"cache-validity-low", false, true},
        {"mud-signature", true, true},
        {"documentation", true, false},
        {"string-leaf", true, false},
        {"systeminfo-length", false, true},
        {"extensions", true, false},
        {"policy", true, false},
        {"policy-acl", true, false},
        {"no-policy", false, true},
        {"unknown-member", true, true},
        {"acl", true, false},
        {"acl-name-unique", true, false},
        {"ace-name-unique", true, false},
        {"acl-type", false, true},
        {"unused-acl", false, true},
        {"matches", true, false},
        {"protocol-range", true, false},
        {"protocol-match", true, false},
        {"literal-ip", false, true},
        {"dnsname", true, false},
        {"dnsname-direction", true, false},
        {"port", true, false},
        {"port-range", true, false},
        {"direction-initiated", true, false},
        {"mud-match", true, false},
        {"mud-match-multiple", false, true},
        {"actions", true, true},
    };
    (void)state;

    for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
        bool as_error = false, as_warning = false;
        for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
            if (strcmp(rule_cases[i].rule, rules[r].rule) != 0)
                continue;
            as_error |= !rule_cases[i].warning;
            as_warning |= rule_cases[i].warning;
        }
        if (strcmp(rules[r].rule, "size") == 0)
            continue;
        if (as_error != rules[r].error || as_warning != rules[r].warning) {
            print_error("rule %s: table has error %d warning %d, want %d %d\n", rules[r].rule,
                        as_error, as_warning, rules[r].error, rules[r].warning);
            fail();
        }
    }
    /* and the table names no rule outside that list */
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        size_t r;
        for (r = 0; r < sizeof rules / sizeof rules[0]; r++)
            if (strcmp(rule_cases[i].rule, rules[r].rule) == 0)
                break;
        assert_true(r < sizeof rules / sizeof rules[0]);
    }
}

/* ---- warnings and counts ------------------------------------------------------------------ */

/* A file with one of many warnings, and no error, passes; the counts are exact. */
static void test_warnings_do_not_fail(void **state)
{
    static const char *const pairs[] = {
        ROOT,
        "\xef\xbb\xbf{\n  \"x-root\": 1,\n  \"ietf-mud:mud\": {", /* bom, unknown-root */
        VERSION,
        VERSION " \"x-member\": true,", /* unknown-member */
        "\"cache-validity\": 48",
        "\"cache-validity\": 12", /* cache-validity-low */
        SYSINFO,
        "\"systeminfo\": \"" S10 S10 S10 S10 S10 S10 S10 "\"", /* systeminfo-length */
        "2025-03-01T09:00:00Z",
        "2026-03-01T09:00:00Z", /* last-update-future */
        "https://mud.thermoco.example/t100.p7s",
        "http://mud.thermoco.example/t100.p7s", /* mud-signature */
        "\"type\": \"ipv4-acl-type\"",
        "\"type\": \"mac-acl-type\"", /* acl-type */
        DST,
        DST ", \"destination-ipv4-network\": \"198.51.100.0/24\"", /* literal-ip */
        CTRL,
        CTRL ", \"local-networks\": [null]", /* mud-match-multiple */
        "\"forwarding\": \"accept\"",
        "\"forwarding\": \"reject\"", /* actions */
        "\"to-device-policy\"",
        "\"x-to-device-policy\"", /* unknown-member, unused-acl */
        NULL,
    };
    static const struct {
        const char *rule, *path;
    } want[] = {
        {"bom", ""},
        {"unknown-root", "/x-root"},
        {"unknown-member", MUD "/x-member"},
        {"unknown-member", MUD "/x-to-device-policy"},
        {"cache-validity-low", MUD "/cache-validity"},
        {"systeminfo-length", MUD "/systeminfo"},
        {"last-update-future", MUD "/last-update"},
        {"mud-signature", MUD "/mud-signature"},
        {"acl-type", ACL0 "/type"},
        {"literal-ip", ACE0 "/matches/ipv4/destination-ipv4-network"},
        {"mud-match-multiple", ACE1 "/matches/ietf-mud:mud"},
        {"actions", ACE0 "/actions/forwarding"},
        {"unused-acl", ACL1 "/name"},
    };
    struct proto_mud_report rep;
    char *text = thermostat_with(pairs);
    (void)state;

    EXPECT_RC(check(text, &rep), 0, "", "thirteen warnings");
    EXPECT_COUNTS(&rep, 0, 13, "thirteen warnings");
    assert_int_equal(rep.n_issues, 13);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        EXPECT_ISSUE(&rep, want[i].rule, want[i].path, true, "thirteen warnings");
    /* the leaves are still read */
    assert_string_equal(rep.url, "https://mud.thermoco.example/t100");
    assert_string_equal(rep.signature, "http://mud.thermoco.example/t100.p7s");
    assert_int_equal(rep.cache_validity, 12);
    proto_mud_report_release(&rep);
    free(text);

    /* the shipped fixture, checked before its last-update: one warning, still accepted */
    text = thermostat();
    EXPECT_RC(check_at(text, INT64_C(1700000000), &rep), 0, "", "thermostat in 2023");
    EXPECT_COUNTS(&rep, 0, 1, "thermostat in 2023");
    EXPECT_ISSUE(&rep, "last-update-future", MUD "/last-update", true, "thermostat in 2023");
    assert_string_equal(rep.last_update, "2025-03-01T09:00:00Z");
    proto_mud_report_release(&rep);
    free(text);
}

static void test_exact_counts(void **state)
{
    struct proto_mud_report rep;
    char *text;
    (void)state;

    /* an empty object: neither root */
    EXPECT_RC(check("{}", &rep), TN_ERR_INVALID, "", "{}");
    EXPECT_COUNTS(&rep, 2, 0, "{}");
    EXPECT_ISSUE(&rep, "mud-root", "", false, "{}");
    EXPECT_ISSUE(&rep, "acls-root", "", false, "{}");
    assert_null(rep.url);
    assert_int_equal(rep.is_supported, -1);
    assert_int_equal(rep.cache_validity, 48);
    proto_mud_report_release(&rep);

    /* an empty mud container: four mandatory leaves, the acls root, and nothing allowed */
    EXPECT_RC(check("{\"ietf-mud:mud\": {}}", &rep), TN_ERR_INVALID, "", "empty mud");
    EXPECT_COUNTS(&rep, 5, 1, "empty mud");
    EXPECT_ISSUE(&rep, "acls-root", "", false, "empty mud");
    EXPECT_ISSUE(&rep, "mud-version", MUD "/mud-version", false, "empty mud");
    EXPECT_ISSUE(&rep, "mud-url", MUD "/mud-url", false, "empty mud");
    EXPECT_ISSUE(&rep, "last-update", MUD "/last-update", false, "empty mud");
    EXPECT_ISSUE(&rep, "is-supported", MUD "/is-supported", false, "empty mud");
    EXPECT_ISSUE(&rep, "no-policy", MUD, true, "empty mud");
    proto_mud_report_release(&rep);

    /* neither policy: the two renamed members, the two ACLs now unused, no-policy */
    text = thermostat_with((const char *const[]){"\"from-device-policy\"", "\"x-from\"",
                                                 "\"to-device-policy\"", "\"x-to\"", NULL});
    EXPECT_RC(check(text, &rep), 0, "", "no policy");
    EXPECT_COUNTS(&rep, 0, 5, "no policy");
    EXPECT_ISSUE(&rep, "unknown-member", MUD "/x-from", true, "no policy");
    EXPECT_ISSUE(&rep, "unknown-member", MUD "/x-to", true, "no policy");
    EXPECT_ISSUE(&rep, "unused-acl", ACL0 "/name", true, "no policy");
    EXPECT_ISSUE(&rep, "unused-acl", ACL1 "/name", true, "no policy");
    EXPECT_ISSUE(&rep, "no-policy", MUD, true, "no policy");
    proto_mud_report_release(&rep);
    free(text);

    /* two independent errors and one warning in one file */
    text = thermostat_with((const char *const[]){
        "\"port\": 443", "\"port\": 70000", "\"is-supported\": true", "\"is-supported\": null",
        "\"cache-validity\": 48", "\"cache-validity\": 2", NULL});
    EXPECT_RC(check(text, &rep), TN_ERR_INVALID, "", "two errors");
    EXPECT_COUNTS(&rep, 2, 1, "two errors");
    assert_int_equal(rep.n_issues, 3);
    EXPECT_ISSUE(&rep, "port-range", ACE0 "/matches/tcp/destination-port/port", false,
                 "two errors");
    EXPECT_ISSUE(&rep, "is-supported", MUD "/is-supported", false, "two errors");
    EXPECT_ISSUE(&rep, "cache-validity-low", MUD "/cache-validity", true, "two errors");
    assert_int_equal(rep.is_supported, -1);
    proto_mud_report_release(&rep);
    free(text);
}

/* ---- limits ------------------------------------------------------------------------------- */

static void test_size_limit(void **state)
{
    struct proto_mud_report rep;
    size_t len;
    char *text = thermostat(), *big;
    (void)state;

    len = strlen(text);
    big = malloc(PROTO_MUD_MAX_BYTES + 1);
    assert_non_null(big);
    memcpy(big, text, len);
    memset(big + len, ' ', PROTO_MUD_MAX_BYTES + 1 - len); /* trailing white space is JSON */

    EXPECT_RC(proto_mud_check((const uint8_t *)big, PROTO_MUD_MAX_BYTES + 1, NOW, &rep),
              TN_ERR_INVALID, "", "1 MiB + 1");
    EXPECT_COUNTS(&rep, 1, 0, "1 MiB + 1");
    assert_int_equal(rep.n_issues, 1);
    EXPECT_ISSUE(&rep, "size", "", false, "1 MiB + 1");
    assert_null(rep.doc); /* refused unread */
    assert_null(rep.url);
    proto_mud_report_release(&rep);

    EXPECT_RC(proto_mud_check((const uint8_t *)big, PROTO_MUD_MAX_BYTES, NOW, &rep), 0, "",
              "1 MiB");
    EXPECT_COUNTS(&rep, 0, 0, "1 MiB");
    assert_string_equal(rep.url, "https://mud.thermoco.example/t100");
    proto_mud_report_release(&rep);
    free(big);
    free(text);
}

static void test_depth_limit(void **state)
{
    struct proto_mud_report rep;
    char *open, *close, *doc, *path;
    (void)state;

    /* 64 nested arrays are as deep as allowed: not a depth error, just not an object */
    open = repeat("[", 65);
    close = repeat("]", 65);
    doc = malloc(200);
    assert_non_null(doc);
    snprintf(doc, 200, "%.64s%.64s", open, close);
    EXPECT_RC(check(doc, &rep), TN_ERR_INVALID, "", "64 arrays");
    EXPECT_NO_RULE(&rep, "depth", "64 arrays");
    EXPECT_ISSUE(&rep, "root", "", false, "64 arrays");
    proto_mud_report_release(&rep);

    /* 65: refused before parsing, at the pointer of the 65th container */
    snprintf(doc, 200, "%s%s", open, close);
    EXPECT_RC(check(doc, &rep), TN_ERR_INVALID, "", "65 arrays");
    EXPECT_COUNTS(&rep, 1, 0, "65 arrays");
    path = repeat("/0", 64);
    EXPECT_ISSUE(&rep, "depth", path, false, "65 arrays");
    assert_null(rep.doc);
    proto_mud_report_release(&rep);
    free(path);
    free(doc);
    free(open);
    free(close);

    /* objects: {"a": {"a": ...}}, and the depth error is the first thing seen */
    open = repeat("{\"a\":", 65);
    close = repeat("}", 65);
    doc = fmt("%s1%s", open, close);
    EXPECT_RC(check(doc, &rep), TN_ERR_INVALID, "", "65 objects");
    EXPECT_COUNTS(&rep, 1, 0, "65 objects");
    path = repeat("/a", 64);
    EXPECT_ISSUE(&rep, "depth", path, false, "65 objects");
    proto_mud_report_release(&rep);
    free(path);
    free(doc);
    free(open);
    free(close);

    /* deeper still, with brackets inside strings that must not count */
    doc = thermostat_with((const char *const[]){
        VERSION,
        VERSION " \"x\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\","
                " \"deep\": " B62 K62 ",",
        NULL});
    EXPECT_RC(check(doc, &rep), 0, "", "brackets in a string");
    EXPECT_COUNTS(&rep, 0, 2, "brackets in a string");
    EXPECT_ISSUE(&rep, "unknown-member", MUD "/deep", true, "brackets in a string");
    proto_mud_report_release(&rep);
    free(doc);
}

/* Past PROTO_MUD_MAX_ISSUES the issues are counted, not kept; the first ones are kept. */
static void test_issue_cap(void **state)
{
    struct proto_mud_report rep;
    char *members = malloc(300 * 16), *to, *text, want[64];
    size_t n = 0;
    (void)state;

    /* 250 unknown members: 250 warnings, still accepted */
    assert_non_null(members);
    for (int i = 0; i < 250; i++)
        n += (size_t)snprintf(members + n, 16, " \"x%03d\": 1,", i);
    to = fmt("%s%s", VERSION, members);
    text = thermostat_with((const char *const[]){VERSION, to, NULL});
    EXPECT_RC(check(text, &rep), 0, "", "250 warnings");
    EXPECT_COUNTS(&rep, 0, 250, "250 warnings");
    assert_int_equal(rep.n_issues, PROTO_MUD_MAX_ISSUES);
    assert_int_equal(rep.n_dropped, 250 - PROTO_MUD_MAX_ISSUES);
    proto_mud_report_release(&rep);
    free(text);
    free(to);

    /* 250 extensions that are not strings: 250 errors, the first 200 kept in order */
    n = 0;
    for (int i = 0; i < 250; i++)
        n += (size_t)snprintf(members + n, 16, "%s%d", i ? ", " : "", i);
    to = fmt("%s \"extensions\": [%s],", VERSION, members);
    text = thermostat_with((const char *const[]){VERSION, to, NULL});
    EXPECT_RC(check(text, &rep), TN_ERR_INVALID, "", "250 errors");
    EXPECT_COUNTS(&rep, 250, 0, "250 errors");
    assert_int_equal(rep.n_issues, PROTO_MUD_MAX_ISSUES);
    assert_int_equal(rep.n_dropped, 50);
    for (size_t i = 0; i < rep.n_issues; i++) {
        snprintf(want, sizeof want, MUD "/extensions/%zu", i);
        assert_string_equal(rep.issues[i].rule, "extensions");
        assert_string_equal(rep.issues[i].path, want);
        assert_false(rep.issues[i].warning);
    }
    proto_mud_report_release(&rep);
    free(text);
    free(to);
    free(members);
}

/* ---- JSON Pointer escaping (RFC 6901: '~' is ~0, '/' is ~1) -------------------------------- */

static void test_pointer_escaping(void **state)
{
    static const struct {
        const char *from, *to, *rule, *path;
        bool warning;
    } cases[] = {
        {VERSION, VERSION " \"a/b~c\": 1,", "unknown-member", MUD "/a~1b~0c", true},
        {VERSION, VERSION " \"~1\": 1,", "unknown-member", MUD "/~01", true},
        {VERSION, VERSION " \"//\": 1,", "unknown-member", MUD "/~1~1", true},
        {VERSION, VERSION " \"\": 1,", "unknown-member", MUD "/", true}, /* the empty name */
        {ROOT, "{\n  \"x/y\": 1,\n  \"ietf-mud:mud\": {", "unknown-root", "/x~1y", true},
        {"\"matches\": {", "\"matches\": {\"a/b\": 1,", "unknown-member", ACE0 "/matches/a~1b",
         false},
        /* paths found by the byte scan are escaped the same way */
        {VERSION, VERSION " \"m~n/o\": \"\xff\",", "utf-8", MUD "/m~0n~1o", false},
        {VERSION, VERSION " \"p/q\": 1, \"p/q\": 2,", "duplicate-member", MUD "/p~1q", false},
        {VERSION, VERSION " \"r~s\": {\"t\": ,", "json", MUD "/r~0s", false},
        {VERSION, VERSION " \"r~s\": [{\"t/u\": [1, }", "json", MUD "/r~0s/0/t~1u", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_mud_report rep;
        char *text = thermostat_with((const char *const[]){cases[i].from, cases[i].to, NULL});
        (void)check(text, &rep);
        EXPECT_ISSUE(&rep, cases[i].rule, cases[i].path, cases[i].warning, "escaping case %zu", i);
        proto_mud_report_release(&rep);
        free(text);
    }
}

/* ---- rules with more than one boundary ---------------------------------------------------- */

static void test_mud_url(void **state)
{
    static const char *const good[] = {
        "https://mud.thermoco.example/t100",
        "HTTPS://mud.thermoco.example/t100",
        "https://mud.thermoco.example",
        "https://mud.thermoco.example:443/t100",
        "https://mud.thermoco.example:0/t100",
        "https://mud.thermoco.example:65535/t100",
        "https://mud.thermoco.example/t100?v=1#frag",
        "https://mud.thermoco.example/t%20100",
        "https://[2001:db8::1]/t100",
        "https://[2001:db8::1]:8443/t100",
        "https://192.0.2.1/t100",
        "https://mud-1.thermoco.example./t100",
    };
    static const char *const bad[] = {
        "http://mud.thermoco.example/t100",
        "ftp://mud.thermoco.example/t100",
        "mud.thermoco.example/t100",
        "//mud.thermoco.example/t100",
        "https:",
        "https://",
        "https:///t100",
        "https://user@mud.thermoco.example/t100",
        "https://user:pw@mud.thermoco.example/t100",
        "https://mud.thermoco.example:/t100",
        "https://mud.thermoco.example:65536/t100",
        "https://mud.thermoco.example:44a/t100",
        "https://mud_thermoco.example/t100",
        "https://-mud.thermoco.example/t100",
        "https://mud-.thermoco.example/t100",
        "https://mud..thermoco.example/t100",
        "https://mud.thermoco.example/t 100",
        "https://mud.thermoco.example/t\\\"100",
        "https://mud.thermoco.example/t%2",
        "https://mud.thermoco.example/t%zz",
        "https://mud.thermoco.example/t\xc3\xa9",
        "https://[2001:db8::1/t100",
        "https://[2001:db8::1]x/t100",
        "",
    };
    struct proto_mud_report rep;
    char *text, *to, *url;
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        to = fmt("\"mud-url\": \"%s\"", good[i]);
        text = thermostat_with(
            (const char *const[]){"\"mud-url\": \"https://mud.thermoco.example/t100\"", to, NULL});
        EXPECT_RC(check(text, &rep), 0, "", "mud-url %s", good[i]);
        EXPECT_NO_RULE(&rep, "mud-url", "mud-url %s", good[i]);
        assert_non_null(rep.url);
        assert_string_equal(rep.url, good[i]);
        proto_mud_report_release(&rep);
        free(text);
        free(to);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        to = fmt("\"mud-url\": \"%s\"", bad[i]);
        text = thermostat_with(
            (const char *const[]){"\"mud-url\": \"https://mud.thermoco.example/t100\"", to, NULL});
        EXPECT_RC(check(text, &rep), TN_ERR_INVALID, "", "mud-url %s", bad[i]);
        EXPECT_ISSUE(&rep, "mud-url", MUD "/mud-url", false, "mud-url %s", bad[i]);
        EXPECT_COUNTS(&rep, 1, 0, "mud-url %s", bad[i]);
        assert_null(rep.url);
        proto_mud_report_release(&rep);
        free(text);
        free(to);
    }

    /* at most 255 octets: it must fit DHCP and LLDP */
    for (size_t len = PROTO_MUD_URL_MAX; len <= PROTO_MUD_URL_MAX + 1; len++) {
        char *pad = repeat("a", len - strlen("https://mud.thermoco.example/"));
        url = fmt("https://mud.thermoco.example/%s", pad);
        assert_int_equal(strlen(url), len);
        to = fmt("\"mud-url\": \"%s\"", url);
        text = thermostat_with(
            (const char *const[]){"\"mud-url\": \"https://mud.thermoco.example/t100\"", to, NULL});
        if (len == PROTO_MUD_URL_MAX) {
            EXPECT_RC(check(text, &rep), 0, "", "mud-url of %zu octets", len);
            assert_string_equal(rep.url, url);
        } else {
            EXPECT_RC(check(text, &rep), TN_ERR_INVALID, "", "mud-url of %zu octets", len);
            EXPECT_ISSUE(&rep, "mud-url", MUD "/mud-url", false, "mud-url of %zu octets", len);
            assert_null(rep.url);
        }
        proto_mud_report_release(&rep);
        free(text);
        free(to);
        free(url);
        free(pad);
    }

    /* not a string */
    text = thermostat_with((const char *const[]){
        "\"mud-url\": \"https://mud.thermoco.example/t100\"", "\"mud-url\": 5", NULL});
    EXPECT_RC(check(text, &rep), TN_ERR_INVALID, "", "mud-url 5");
    EXPECT_ISSUE(&rep, "mud-url", MUD "/mud-url", false, "mud-url 5");
    proto_mud_report_release(&rep);
    free(text);
}

/* systeminfo is at most 60 characters, not bytes (RFC 8520 section 3.7). */
static void test_systeminfo_counts_characters(void **state)
{
    static const struct {
        const char *unit; /* one character */
        size_t n;
        bool warn;
    } cases[] = {
        {"a", 60, false},
        {"a", 61, true},
        {"\xc3\xa9", 60, false},
        {"\xc3\xa9", 61, true}, /* U+00E9: 2 bytes */
        {"\xe2\x82\xac", 60, false},
        {"\xe2\x82\xac", 61, true}, /* U+20AC: 3 bytes */
        {"\xf0\x9f\x8c\xa1", 60, false},
        {"\xf0\x9f\x8c\xa1", 61, true}, /* U+1F321: 4 bytes */
        {"\\u00e9", 60, false},
        {"\\u00e9", 61, true}, /* escaped in the JSON text */
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_mud_report rep;
        char *chars = repeat(cases[i].unit, cases[i].n), *to, *text;
        to = fmt("\"systeminfo\": \"%s\"", chars);
        text = thermostat_with((const char *const[]){SYSINFO, to, NULL});
        EXPECT_RC(check(text, &rep), 0, "", "systeminfo case %zu", i);
        if (cases[i].warn) {
            EXPECT_COUNTS(&rep, 0, 1, "systeminfo case %zu", i);
            EXPECT_ISSUE(&rep, "systeminfo-length", MUD "/systeminfo", true, "systeminfo case %zu",
                         i);
        } else {
            EXPECT_COUNTS(&rep, 0, 0, "systeminfo case %zu", i);
        }
        assert_non_null(rep.systeminfo);
        proto_mud_report_release(&rep);
        free(text);
        free(to);
        free(chars);
    }
}

/* Declared extensions turn unknown members with a module prefix in matches into warnings
 * (the extension may define them); without a prefix, or without extensions, they stay
 * errors, because a manager that ignored them would allow more than the file means. */
static void test_extensions_relax_unknown_matches(void **state)
{
    static const struct {
        const char *ext, *member;
        bool warning;
    } cases[] = {
        {" \"extensions\": [\"masa\"],", "\"masa:server\"", true},
        {" \"extensions\": [\"masa\"],", "\"server\"", false},
        {" \"extensions\": [],", "\"masa:server\"", false},
        {"", "\"masa:server\"", false},
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_mud_report rep;
        char ext[128], member[128], path[300];
        char *text;
        snprintf(ext, sizeof ext, "%s%s", VERSION, cases[i].ext);
        snprintf(member, sizeof member, "\"matches\": {%s: \"x\",", cases[i].member);
        snprintf(path, sizeof path, "%s/matches/%.*s", ACE0, (int)strlen(cases[i].member) - 2,
                 cases[i].member + 1);
        text = thermostat_with((const char *const[]){VERSION, ext, "\"matches\": {", member, NULL});
        EXPECT_RC(check(text, &rep), cases[i].warning ? 0 : TN_ERR_INVALID, "",
                  "extensions case %zu", i);
        EXPECT_ISSUE(&rep, "unknown-member", path, cases[i].warning, "extensions case %zu", i);
        EXPECT_COUNTS(&rep, cases[i].warning ? 0 : 1, cases[i].warning ? 1 : 0,
                      "extensions case %zu", i);
        proto_mud_report_release(&rep);
        free(text);
    }
}

/* ---- found while writing these tests: each asserts the behaviour the contract asks for ---- */

/* An extension listed three times is two repeats, one error each: the third copy must not
 * be reported once per earlier copy. */
static void test_extension_repeat_reported_once(void **state)
{
    struct proto_mud_report rep;
    char *text = thermostat_with(
        (const char *const[]){VERSION, VERSION " \"extensions\": [\"a\", \"a\", \"a\"],", NULL});
    size_t errors, at2 = 0;
    bool at1;
    (void)state;

    EXPECT_RC(check(text, &rep), TN_ERR_INVALID, "", "extensions a, a, a");
    errors = rep.n_errors;
    at1 = has_issue(&rep, "extensions", MUD "/extensions/1", false);
    for (size_t i = 0; i < rep.n_issues; i++)
        at2 += strcmp(rep.issues[i].path, MUD "/extensions/2") == 0;
    if (errors != 2 || !at1 || at2 != 1)
        dump(&rep);
    proto_mud_report_release(&rep);
    free(text);
    assert_true(at1);
    assert_int_equal(at2, 1);
    assert_int_equal(errors, 2);
}

/* literal-ip is for IP addresses. A host name whose labels happen to be hex digits is a
 * host name, and a dotted string that is neither an address nor a host name is a dnsname
 * error, not a literal-ip warning. */
static void test_literal_ip_only_for_addresses(void **state)
{
    static const struct {
        const char *name, *rule; /* rule: the one issue expected, or NULL for none */
        bool warning;
    } cases[] = {
        {"192.0.2.7", "literal-ip", true},
        {"2001:db8::7", "literal-ip", true},
        {"cloud.thermoco.example", NULL, false},
        {"dead.beef.cafe.face", NULL, false},
        {"a.b.c.de", NULL, false},
        {"1..2.3", "dnsname", false},
    };
    size_t failures = 0;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_mud_report rep;
        char to[128], *text;
        bool ok;
        snprintf(to, sizeof to, "\"ietf-acldns:dst-dnsname\": \"%s\"", cases[i].name);
        text = thermostat_with((const char *const[]){DST, to, NULL});
        (void)check(text, &rep);
        if (cases[i].rule)
            ok = rep.n_issues == 1 &&
                 has_issue(&rep, cases[i].rule, ACE0 "/matches/ipv4/ietf-acldns:dst-dnsname",
                           cases[i].warning);
        else
            ok = rep.n_issues == 0;
        if (!ok) {
            print_error("dst-dnsname \"%s\": want %s\n", cases[i].name,
                        cases[i].rule ? cases[i].rule : "no issue");
            dump(&rep);
        }
        proto_mud_report_release(&rep);
        free(text);
        failures += !ok;
    }
    assert_int_equal(failures, 0);
}

/* A backslash escapes one character, not one byte. "x\é" is valid UTF-8 with an invalid
 * JSON escape: a json error. "x\<0xff>" is invalid UTF-8: a utf-8 error. */
static void test_escape_before_non_ascii(void **state)
{
    static const struct {
        const char *value, *rule, *not_rule;
    } cases[] = {
        {"x\\\xc3\xa9", "json", "utf-8"},
        {"x\\\xff", "utf-8", "json"},
    };
    size_t failures = 0;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_mud_report rep;
        char to[128], *text;
        bool ok;
        snprintf(to, sizeof to, "\"systeminfo\": \"%s\"", cases[i].value);
        text = thermostat_with((const char *const[]){SYSINFO, to, NULL});
        (void)check(text, &rep);
        ok = has_issue(&rep, cases[i].rule, MUD "/systeminfo", false) &&
             count_rule(&rep, cases[i].not_rule) == 0;
        if (!ok) {
            print_error("case %zu: want %s at %s/systeminfo, no %s\n", i, cases[i].rule, MUD,
                        cases[i].not_rule);
            dump(&rep);
        }
        proto_mud_report_release(&rep);
        free(text);
        failures += !ok;
    }
    assert_int_equal(failures, 0);
}

/* RFC 8259 allows any value as a JSON text: a scalar document is valid JSON whose root is
 * not an object, the root rule, not "not complete, valid JSON". */
static void test_scalar_root_is_root_rule(void **state)
{
    static const char *const docs[] = {"\"ietf-mud:mud\"", "42", "null", "true"};
    size_t failures = 0;
    (void)state;

    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        struct proto_mud_report rep;
        int rc = check(docs[i], &rep);
        bool ok = rc == TN_ERR_INVALID && rep.n_issues == 1 && has_issue(&rep, "root", "", false);
        if (!ok) {
            print_error("document %s: want only the root rule\n", docs[i]);
            dump(&rep);
        }
        proto_mud_report_release(&rep);
        failures += !ok;
    }
    assert_int_equal(failures, 0);
}

/* protocol-range for an icmp type or code points at that member, as it does for an IP
 * protocol (".../ipv4/protocol"): mud.h promises the pointer of the member concerned. */
static void test_icmp_range_path(void **state)
{
    static const struct {
        const char *icmp, *path;
    } cases[] = {
        {"\"icmp\": {\"type\": 256, \"code\": 0}, ", ACE1 "/matches/icmp/type"},
        {"\"icmp\": {\"type\": 8, \"code\": -1}, ", ACE1 "/matches/icmp/code"},
    };
    size_t failures = 0;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct proto_mud_report rep;
        char to[128], *text;
        bool ok;
        /* an icmp match added to ACE "ntp" */
        snprintf(to, sizeof to, "%s\"udp\": {", cases[i].icmp);
        text = thermostat_with((const char *const[]){"\"udp\": {", to, NULL});
        (void)check(text, &rep);
        ok = has_issue(&rep, "protocol-range", cases[i].path, false);
        if (!ok) {
            print_error("icmp case %zu: want protocol-range at %s\n", i, cases[i].path);
            dump(&rep);
        }
        proto_mud_report_release(&rep);
        free(text);
        failures += !ok;
    }
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_fixtures),
        cmocka_unit_test(test_bad_fixtures),
        cmocka_unit_test(test_every_rule),
        cmocka_unit_test(test_every_rule_is_covered),
        cmocka_unit_test(test_warnings_do_not_fail),
        cmocka_unit_test(test_exact_counts),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_issue_cap),
        cmocka_unit_test(test_pointer_escaping),
        cmocka_unit_test(test_mud_url),
        cmocka_unit_test(test_systeminfo_counts_characters),
        cmocka_unit_test(test_extensions_relax_unknown_matches),
        cmocka_unit_test(test_extension_repeat_reported_once),
        cmocka_unit_test(test_literal_ip_only_for_addresses),
        cmocka_unit_test(test_escape_before_non_ascii),
        cmocka_unit_test(test_scalar_root_is_root_rule),
        cmocka_unit_test(test_icmp_range_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
