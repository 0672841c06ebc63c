/* The ecosystem file (DESIGN section 2): built with the editing API, signed, written,
 * loaded back with every field checked; then every way a file can be wrong or tampered
 * with is refused with the documented code. The signature is also checked here by hand
 * over "tracenode-ecosystem-v1\n" + the compact sorted-key JSON without "signature". */
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>

#include "proto_test.h"

#include "crypto/encode.h"
#include "crypto/key.h"
#include "proto/ecosystem.h"
#include "proto/readfile.h"

static struct cry_keypair gov, other, org1, org2, node1, node2, node3;

static int setup(void **state)
{
    (void)state;
    if (cry_init() != 0)
        return -1;
    if (cry_keypair_generate(&gov) || cry_keypair_generate(&other) ||
        cry_keypair_generate(&org1) || cry_keypair_generate(&org2) ||
        cry_keypair_generate(&node1) || cry_keypair_generate(&node2) ||
        cry_keypair_generate(&node3))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cry_keypair_release(&gov);
    cry_keypair_release(&other);
    cry_keypair_release(&org1);
    cry_keypair_release(&org2);
    cry_keypair_release(&node1);
    cry_keypair_release(&node2);
    cry_keypair_release(&node3);
    return 0;
}

/* acme: manufacturer+supplier with a node at an address; ship-co: carrier with a node
 * without address. Unsigned. */
static json_t *make_doc(void)
{
    char err[256] = "";
    json_t *doc = proto_ecosystem_doc_new("net-1", gov.pk);

    assert_non_null(doc);
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "acme", "Acme Corp", org1.pk,
                                          "manufacturer,supplier", node1.pk, "127.0.0.1:7001",
                                          err, sizeof err),
              0, err, "add acme");
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "ship-co", "Ship Co \xc3\xa9", org2.pk, "carrier",
                                          node2.pk, NULL, err, sizeof err),
              0, err, "add ship-co");
    return doc;
}

static json_t *make_signed_doc(void)
{
    char err[256] = "";
    json_t *doc = make_doc();
    EXPECT_RC(proto_ecosystem_doc_sign(doc, &gov, err, sizeof err), 0, err, "sign");
    return doc;
}

static char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path, size_t *len)
{
    char *buf, err[256];
    EXPECT_RC(proto_read_file(path, 1u << 24, &buf, len, err, sizeof err), 0, err, "read %s",
              path);
    return buf;
}

static int parse_text(const char *text, bool require_sig, char *err, size_t errlen)
{
    struct proto_ecosystem eco;
    int rc = proto_ecosystem_parse(text, strlen(text), require_sig, &eco, err, errlen);
    proto_ecosystem_release(&eco);
    return rc;
}

/* ---- the happy path ---------------------------------------------------------------------- */

static void test_build_sign_write_load(void **state)
{
    char *dir = tn_test_mkdtemp(), *path = path_in(dir, "ecosystem.json"), *raw = NULL;
    char err[256] = "", gk[CRY_PK_TEXT_LEN];
    struct proto_ecosystem eco;
    const struct proto_org *o;
    size_t raw_len = 0;
    json_t *doc = make_signed_doc();
    (void)state;

    EXPECT_RC(proto_ecosystem_doc_write(path, doc, err, sizeof err), 0, err, "write");
    json_decref(doc);

    EXPECT_RC(proto_ecosystem_load(path, true, &eco, &raw, &raw_len, err, sizeof err), 0, err,
              "load signed");
    assert_true(eco.is_signed);
    assert_string_equal(eco.network, "net-1");
    assert_memory_equal(eco.gov_key, gov.pk, CRY_PK_LEN);
    assert_int_equal(eco.n_orgs, 2);

    o = &eco.orgs[0];
    assert_string_equal(o->id, "acme");
    assert_string_equal(o->name, "Acme Corp");
    assert_memory_equal(o->key, org1.pk, CRY_PK_LEN);
    assert_int_equal(o->roles, PROTO_ROLE_MANUFACTURER | PROTO_ROLE_SUPPLIER);
    assert_int_equal(o->n_nodes, 1);
    assert_memory_equal(o->nodes[0].key, node1.pk, CRY_PK_LEN);
    assert_string_equal(o->nodes[0].addr, "127.0.0.1:7001");
    assert_int_equal(o->valid_from, 0);
    assert_int_equal(o->valid_until, 0);

    o = &eco.orgs[1];
    assert_string_equal(o->id, "ship-co");
    assert_string_equal(o->name, "Ship Co \xc3\xa9");
    assert_memory_equal(o->key, org2.pk, CRY_PK_LEN);
    assert_int_equal(o->roles, PROTO_ROLE_CARRIER);
    assert_int_equal(o->n_nodes, 1);
    assert_memory_equal(o->nodes[0].key, node2.pk, CRY_PK_LEN);
    assert_null(o->nodes[0].addr);

    /* raw is the file, byte for byte, and the file is human-editable JSON */
    {
        size_t len;
        char *again = read_text(path, &len);
        assert_int_equal(raw_len, len);
        assert_memory_equal(raw, again, len);
        free(again);
    }
    cry_pk_format(gk, gov.pk);
    assert_non_null(strstr(raw, gk));
    assert_non_null(strstr(raw, "\"Acme Corp\""));
    assert_non_null(strchr(raw, '\n'));

    /* lookups */
    assert_ptr_equal(proto_ecosystem_org(&eco, "acme"), &eco.orgs[0]);
    assert_ptr_equal(proto_ecosystem_org(&eco, "ship-co"), &eco.orgs[1]);
    assert_null(proto_ecosystem_org(&eco, "nobody"));
    assert_null(proto_ecosystem_org(&eco, "acm"));
    assert_null(proto_ecosystem_org(&eco, ""));
    assert_ptr_equal(proto_ecosystem_org_by_node(&eco, node1.pk), &eco.orgs[0]);
    assert_ptr_equal(proto_ecosystem_org_by_node(&eco, node2.pk), &eco.orgs[1]);
    assert_null(proto_ecosystem_org_by_node(&eco, node3.pk));
    assert_null(proto_ecosystem_org_by_node(&eco, org1.pk)); /* an org key is not a node key */

    free(raw);
    proto_ecosystem_release(&eco);
    /* release leaves a state that can be released again */
    proto_ecosystem_release(&eco);
    free(path);
    tn_test_rmdir(dir);
}

/* The signature is Ed25519 by the governance key over the documented bytes. */
static void test_signature_bytes_by_hand(void **state)
{
    json_t *doc = make_signed_doc(), *copy;
    const char *sig_b64 = json_string_value(json_object_get(doc, "signature"));
    uint8_t sig[CRY_SIG_LEN];
    char *body, *msg;
    size_t n;
    (void)state;

    assert_non_null(sig_b64);
    assert_int_equal(cry_unb64(sig, sizeof sig, sig_b64, strlen(sig_b64)), 0);
    copy = json_deep_copy(doc);
    json_object_del(copy, "signature");
    body = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(body);
    n = strlen("tracenode-ecosystem-v1\n") + strlen(body);
    msg = malloc(n + 1);
    snprintf(msg, n + 1, "tracenode-ecosystem-v1\n%s", body);
    assert_int_equal(crypto_sign_verify_detached(sig, (const uint8_t *)msg, n, gov.pk), 0);
    assert_int_not_equal(crypto_sign_verify_detached(sig, (const uint8_t *)msg, n, other.pk), 0);
    free(msg);
    free(body);
    json_decref(copy);
    json_decref(doc);
}

/* Layout does not matter to the signature (it covers the parsed content); content does. */
static void test_reformatting_keeps_signature(void **state)
{
    json_t *doc = make_signed_doc();
    char *compact = json_dumps(doc, JSON_COMPACT), *sorted = json_dumps(doc, JSON_SORT_KEYS);
    char err[256] = "";
    (void)state;

    EXPECT_RC(parse_text(compact, true, err, sizeof err), 0, err, "compact");
    EXPECT_RC(parse_text(sorted, true, err, sizeof err), 0, err, "sorted keys");
    free(compact);
    free(sorted);
    json_decref(doc);
}

/* ---- refusals ---------------------------------------------------------------------------- */

static void test_unsigned_refused_when_required(void **state)
{
    char *dir = tn_test_mkdtemp(), *path = path_in(dir, "e.json");
    struct proto_ecosystem eco;
    char err[256] = "";
    json_t *doc = make_doc();
    (void)state;

    EXPECT_RC(proto_ecosystem_doc_write(path, doc, err, sizeof err), 0, err, "write");
    err[0] = '\0';
    EXPECT_RC(proto_ecosystem_load(path, true, &eco, NULL, NULL, err, sizeof err),
              TN_ERR_BAD_SIGNATURE, err, "unsigned, signature required");
    assert_true(err[0] != '\0');
    proto_ecosystem_release(&eco);

    /* without the requirement it parses, and says it is unsigned */
    EXPECT_RC(proto_ecosystem_load(path, false, &eco, NULL, NULL, err, sizeof err), 0, err,
              "unsigned, not required");
    assert_false(eco.is_signed);
    assert_int_equal(eco.n_orgs, 2);
    proto_ecosystem_release(&eco);

    json_decref(doc);
    free(path);
    tn_test_rmdir(dir);
}

static void test_tampered_file_refused(void **state)
{
    char *dir = tn_test_mkdtemp(), *path = path_in(dir, "e.json"), *text, *at;
    struct proto_ecosystem eco;
    char err[256] = "";
    size_t len;
    json_t *doc = make_signed_doc();
    (void)state;

    EXPECT_RC(proto_ecosystem_doc_write(path, doc, err, sizeof err), 0, err, "write");
    text = read_text(path, &len);

    /* one byte of an org name */
    at = strstr(text, "Acme Corp");
    assert_non_null(at);
    at[1] = 'k';
    write_text(path, text, len);
    err[0] = '\0';
    EXPECT_RC(proto_ecosystem_load(path, true, &eco, NULL, NULL, err, sizeof err),
              TN_ERR_BAD_SIGNATURE, err, "org name edited");
    assert_true(err[0] != '\0');
    proto_ecosystem_release(&eco);
    /* a bad signature is refused even when a signature is not required */
    EXPECT_RC(proto_ecosystem_load(path, false, &eco, NULL, NULL, err, sizeof err),
              TN_ERR_BAD_SIGNATURE, err, "org name edited, signature not required");
    proto_ecosystem_release(&eco);
    at[1] = 'c';

    /* a role added by hand */
    {
        json_t *d = json_loads(text, 0, NULL), *roles;
        char *t;
        assert_non_null(d);
        roles = json_object_get(json_array_get(json_object_get(d, "orgs"), 1), "roles");
        assert_int_equal(json_array_append_new(roles, json_string("manufacturer")), 0);
        t = json_dumps(d, JSON_INDENT(2));
        EXPECT_RC(parse_text(t, true, err, sizeof err), TN_ERR_BAD_SIGNATURE, err,
                  "role added after signing");
        free(t);
        json_decref(d);
    }

    /* the signature itself damaged */
    {
        json_t *d = json_loads(text, 0, NULL);
        char sig[CRY_B64_LEN(CRY_SIG_LEN)], *t;
        snprintf(sig, sizeof sig, "%s", json_string_value(json_object_get(d, "signature")));
        sig[3] = sig[3] == 'A' ? 'B' : 'A';
        json_object_set_new(d, "signature", json_string(sig));
        t = json_dumps(d, JSON_INDENT(2));
        EXPECT_RC(parse_text(t, true, err, sizeof err), TN_ERR_BAD_SIGNATURE, err,
                  "signature bit flipped");
        free(t);
        json_object_set_new(d, "signature", json_string("not base64!"));
        t = json_dumps(d, JSON_INDENT(2));
        EXPECT_RC(parse_text(t, true, err, sizeof err), TN_ERR_INVALID, err,
                  "signature not base64");
        free(t);
        json_object_set_new(d, "signature", json_integer(5));
        t = json_dumps(d, JSON_INDENT(2));
        EXPECT_RC(parse_text(t, true, err, sizeof err), TN_ERR_INVALID, err,
                  "signature not a string");
        free(t);
        json_decref(d);
    }

    /* unchanged content verifies (the edits above were undone) */
    write_text(path, text, len);
    EXPECT_RC(proto_ecosystem_load(path, true, &eco, NULL, NULL, err, sizeof err), 0, err,
              "restored");
    proto_ecosystem_release(&eco);

    free(text);
    json_decref(doc);
    free(path);
    tn_test_rmdir(dir);
}

static void test_signing_key_must_be_governance(void **state)
{
    json_t *doc = make_doc();
    char err[256] = "";
    (void)state;

    EXPECT_RC(proto_ecosystem_doc_sign(doc, &other, err, sizeof err), TN_ERR_UNKNOWN_KEY, err,
              "sign with another key");
    assert_true(err[0] != '\0');
    assert_null(json_object_get(doc, "signature"));
    json_decref(doc);
}

static void test_add_org_refusals(void **state)
{
    json_t *doc = make_signed_doc();
    char err[256] = "";
    char long_name[PROTO_ORG_NAME_MAX + 2];
    (void)state;

    /* a successful add drops the stale signature */
    assert_non_null(json_object_get(doc, "signature"));
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "aud", "Auditor", org1.pk, "auditor", NULL, NULL,
                                          err, sizeof err),
              0, err, "add aud");
    assert_null(json_object_get(doc, "signature"));
    assert_int_equal(json_array_size(json_object_get(doc, "orgs")), 3);

    err[0] = '\0';
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "acme", "Acme Again", org2.pk, "carrier", NULL,
                                          NULL, err, sizeof err),
              TN_ERR_EXISTS, err, "duplicate org id");
    EXPECT_CONTAINS(err, "acme", "duplicate org id");

    err[0] = '\0';
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "wiz", "Wizards", org2.pk, "supplier,wizard",
                                          NULL, NULL, err, sizeof err),
              TN_ERR_INVALID, err, "unknown role");
    EXPECT_CONTAINS(err, "wizard", "unknown role");
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "wiz", "Wizards", org2.pk, "", NULL, NULL, err,
                                          sizeof err),
              TN_ERR_INVALID, err, "no role");
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "wiz", "Wizards", org2.pk, ",,", NULL, NULL, err,
                                          sizeof err),
              TN_ERR_INVALID, err, "only commas");
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "wiz", "Wizards", org2.pk, "Manufacturer", NULL,
                                          NULL, err, sizeof err),
              TN_ERR_INVALID, err, "role in the wrong case");
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "Wiz", "Wizards", org2.pk, "supplier", NULL, NULL,
                                          err, sizeof err),
              TN_ERR_INVALID, err, "org id in upper case");
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "", "Wizards", org2.pk, "supplier", NULL, NULL,
                                          err, sizeof err),
              TN_ERR_INVALID, err, "empty org id");
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "wiz", "", org2.pk, "supplier", NULL, NULL, err,
                                          sizeof err),
              TN_ERR_INVALID, err, "empty name");
    memset(long_name, 'n', sizeof long_name - 1);
    long_name[PROTO_ORG_NAME_MAX + 1] = '\0';
    EXPECT_RC(proto_ecosystem_doc_add_org(doc, "wiz", long_name, org2.pk, "supplier", NULL, NULL,
                                          err, sizeof err),
              TN_ERR_INVALID, err, "name of 257 bytes");
    /* nothing was added by the refused calls */
    assert_int_equal(json_array_size(json_object_get(doc, "orgs")), 3);
    json_decref(doc);
}

/* A successfully added org must give a file that loads: add-org refuses what the loader
 * would refuse (an address without a port). */
static void test_add_org_result_loads(void **state)
{
    json_t *doc = proto_ecosystem_doc_new("net-1", gov.pk);
    char err[256] = "", *text;
    int rc;
    (void)state;

    rc = proto_ecosystem_doc_add_org(doc, "acme", "Acme", org1.pk, "supplier", node1.pk,
                                     "no-port-here", err, sizeof err);
    if (rc == 0) {
        rc = proto_ecosystem_doc_sign(doc, &gov, err, sizeof err);
        text = rc == 0 ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        if (text)
            rc = parse_text(text, true, err, sizeof err);
        free(text);
    } else {
        rc = 0; /* refused up front: fine */
    }
    json_decref(doc);
    EXPECT_RC(rc, 0, err, "add-org accepted addr 'no-port-here' but the file does not load");
}

static void test_content_refusals(void **state)
{
    json_t *base = make_doc();
    char err[512];
    (void)state;

    /* Each case edits a copy of a valid unsigned document, then parses without requiring a
     * signature: only the edit can be the reason. Node entries use a real key so that only
     * the named defect is wrong. */
    char pk[CRY_PK_TEXT_LEN], node_unknown[256], node_noport[256], node_empty[256];
    struct {
        const char *what, *needle;
        int org;         /* -1: top level */
        const char *key; /* member to set */
        const char *json; /* new value as JSON, or NULL to delete */
    } cases[] = {
        {"unknown top-level member", "colour", -1, "colour", "\"blue\""},
        {"unknown org member", "rolez", 0, "rolez", "[\"supplier\"]"},
        {"unknown role in the file", "wizard", 0, "roles", "[\"supplier\", \"wizard\"]"},
        {"roles empty", "roles", 0, "roles", "[]"},
        {"roles not an array", "roles", 0, "roles", "\"supplier\""},
        {"role not a string", NULL, 0, "roles", "[5]"},
        {"real valid_from", NULL, 0, "valid_from", "1.5"},
        {"real in a new top-level member", NULL, -1, "format", "1.0"},
        {"negative valid_until", "valid_until", 0, "valid_until", "-5"},
        {"valid_from a string", "valid_from", 0, "valid_from", "\"2024\""},
        {"org id missing", "id", 0, "id", NULL},
        {"org id invalid", "id", 0, "id", "\"Acme Corp\""},
        {"org name missing", "name", 0, "name", NULL},
        {"org name empty", "name", 0, "name", "\"\""},
        {"org key missing", "key", 0, "key", NULL},
        {"org key not ed25519:", "key", 0, "key", "\"AAAA\""},
        {"org key short", "key", 0, "key", "\"ed25519:AAAA\""},
        {"nodes not an array", "nodes", 0, "nodes", "{}"},
        {"node without key", NULL, 0, "nodes", "[{\"addr\": \"h:1\"}]"},
        {"node with unknown member", NULL, 0, "nodes", node_unknown},
        {"node addr without port", "HOST:PORT", 0, "nodes", node_noport},
        {"node addr empty", "HOST:PORT", 0, "nodes", node_empty},
        {"node not an object", NULL, 0, "nodes", "[\"ed25519:x\"]"},
        {"network missing", "network", -1, "network", NULL},
        {"network invalid", "network", -1, "network", "\"Net One\""},
        {"governance key missing", "governance_key", -1, "governance_key", NULL},
        {"governance key bad", "governance_key", -1, "governance_key", "\"ed25519:!!\""},
        {"format wrong", "format", -1, "format", "\"tracenode-ecosystem-v2\""},
        {"orgs not an array", "orgs", -1, "orgs", "{}"},
        {"org not an object", NULL, -1, "orgs", "[5]"},
    };

    cry_pk_format(pk, node3.pk);
    snprintf(node_unknown, sizeof node_unknown, "[{\"key\": \"%s\", \"port\": 1}]", pk);
    snprintf(node_noport, sizeof node_noport, "[{\"key\": \"%s\", \"addr\": \"h\"}]", pk);
    snprintf(node_empty, sizeof node_empty, "[{\"key\": \"%s\", \"addr\": \"\"}]", pk);
    {
        /* control for the node cases: the same entry with a good address */
        json_t *doc = json_deep_copy(base), *v = json_loads(node_noport, 0, NULL);
        char *text;
        assert_non_null(v);
        assert_int_equal(json_string_set(json_object_get(json_array_get(v, 0), "addr"), "h:1"),
                         0);
        json_object_set_new(json_array_get(json_object_get(doc, "orgs"), 0), "nodes", v);
        text = json_dumps(doc, JSON_INDENT(2));
        EXPECT_RC(parse_text(text, false, err, sizeof err), 0, err, "node control");
        free(text);
        json_decref(doc);
    }

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *doc = json_deep_copy(base), *target = doc;
        char *text;
        int rc;
        if (cases[i].org >= 0)
            target = json_array_get(json_object_get(doc, "orgs"), (size_t)cases[i].org);
        assert_non_null(target);
        if (cases[i].json) {
            json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);
            assert_non_null(v);
            assert_int_equal(json_object_set_new(target, cases[i].key, v), 0);
        } else {
            assert_int_equal(json_object_del(target, cases[i].key), 0);
        }
        text = json_dumps(doc, JSON_INDENT(2));
        err[0] = '\0';
        rc = parse_text(text, false, err, sizeof err);
        EXPECT_RC(rc, TN_ERR_INVALID, err, "%s", cases[i].what);
        if (err[0] == '\0') {
            print_error("%s: refused without a reason\n", cases[i].what);
            fail();
        }
        if (cases[i].needle)
            EXPECT_CONTAINS(err, cases[i].needle, "%s", cases[i].what);
        free(text);
        json_decref(doc);
    }

    /* the base document itself is fine */
    {
        char *text = json_dumps(base, JSON_INDENT(2));
        EXPECT_RC(parse_text(text, false, err, sizeof err), 0, err, "control");
        free(text);
    }

    /* two orgs with the same id, written by hand */
    {
        json_t *doc = json_deep_copy(base), *orgs = json_object_get(doc, "orgs");
        char *text;
        json_array_append_new(orgs, json_deep_copy(json_array_get(orgs, 0)));
        text = json_dumps(doc, JSON_INDENT(2));
        EXPECT_RC(parse_text(text, false, err, sizeof err), TN_ERR_INVALID, err,
                  "org id listed twice");
        EXPECT_CONTAINS(err, "acme", "org id listed twice");
        free(text);
        json_decref(doc);
    }
    json_decref(base);
}

static void test_malformed_json(void **state)
{
    static const char *const bad[] = {
        "",
        "{",
        "{\"network\": \"net-1\",}",
        "[]",
        "null",
        "{\"network\": \"net-1\", \"network\": \"net-2\"}",
        "{\"network\": \"net-1\"} trailing",
    };
    char err[256];
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        EXPECT_RC(parse_text(bad[i], false, err, sizeof err), TN_ERR_INVALID, err, "%s", bad[i]);
        assert_true(err[0] != '\0');
    }
}

static void test_size_limit(void **state)
{
    char *dir = tn_test_mkdtemp(), *path = path_in(dir, "big.json"), *text, *big;
    struct proto_ecosystem eco;
    char err[256] = "";
    json_t *doc = make_signed_doc();
    size_t len;
    (void)state;

    /* A signed document padded with spaces to exactly 1 MiB loads; one byte more does not. */
    text = json_dumps(doc, JSON_INDENT(2));
    len = strlen(text);
    big = malloc(PROTO_ECOSYSTEM_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', PROTO_ECOSYSTEM_MAX + 1);
    memcpy(big, text, len);

    write_text(path, big, PROTO_ECOSYSTEM_MAX);
    EXPECT_RC(proto_ecosystem_load(path, true, &eco, NULL, NULL, err, sizeof err), 0, err,
              "exactly 1 MiB");
    proto_ecosystem_release(&eco);

    write_text(path, big, PROTO_ECOSYSTEM_MAX + 1);
    err[0] = '\0';
    EXPECT_RC(proto_ecosystem_load(path, true, &eco, NULL, NULL, err, sizeof err),
              TN_ERR_TOO_BIG, err, "1 MiB + 1");
    assert_true(err[0] != '\0');
    proto_ecosystem_release(&eco);

    big[PROTO_ECOSYSTEM_MAX + 1] = '\0';
    EXPECT_RC(proto_ecosystem_parse(big, PROTO_ECOSYSTEM_MAX + 1, true, &eco, err, sizeof err),
              TN_ERR_TOO_BIG, err, "parse 1 MiB + 1");
    proto_ecosystem_release(&eco);

    /* a missing file is an I/O error */
    free(path);
    path = path_in(dir, "missing.json");
    EXPECT_RC(proto_ecosystem_load(path, true, &eco, NULL, NULL, err, sizeof err), TN_ERR_IO,
              err, "missing file");
    proto_ecosystem_release(&eco);

    free(big);
    free(text);
    json_decref(doc);
    free(path);
    tn_test_rmdir(dir);
}

/* doc_read gives back an editable document, also when the stored signature is stale, and
 * refuses a file that is wrong in any other way. Writes replace the file atomically. */
static void test_doc_read_and_write(void **state)
{
    char *dir = tn_test_mkdtemp(), *path = path_in(dir, "e.json"), *text, *at;
    char err[256] = "";
    json_t *doc = make_signed_doc(), *back = NULL;
    struct stat st;
    size_t len;
    (void)state;

    EXPECT_RC(proto_ecosystem_doc_write(path, doc, err, sizeof err), 0, err, "write");
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    EXPECT_RC(proto_ecosystem_doc_read(path, &back, err, sizeof err), 0, err, "read back");
    assert_true(json_equal(doc, back));
    json_decref(back);

    text = read_text(path, &len);
    at = strstr(text, "Acme Corp");
    at[0] = 'E'; /* stale signature now */
    write_text(path, text, len);
    back = NULL;
    EXPECT_RC(proto_ecosystem_doc_read(path, &back, err, sizeof err), 0, err,
              "read with stale signature");
    assert_non_null(back);
    json_decref(back);

    at = strstr(text, "\"manufacturer\"");
    assert_non_null(at);
    memcpy(at + 1, "wizardxxxxxx", 12);
    write_text(path, text, len);
    back = NULL;
    EXPECT_RC(proto_ecosystem_doc_read(path, &back, err, sizeof err), TN_ERR_INVALID, err,
              "read with unknown role");

    /* writing into a directory that does not exist fails cleanly */
    {
        char *nowhere = path_in(dir, "no/such/dir/e.json");
        EXPECT_RC(proto_ecosystem_doc_write(nowhere, doc, err, sizeof err), TN_ERR_IO, err,
                  "write into a missing directory");
        free(nowhere);
    }

    free(text);
    json_decref(doc);
    free(path);
    tn_test_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_sign_write_load),
        cmocka_unit_test(test_signature_bytes_by_hand),
        cmocka_unit_test(test_reformatting_keeps_signature),
        cmocka_unit_test(test_unsigned_refused_when_required),
        cmocka_unit_test(test_tampered_file_refused),
        cmocka_unit_test(test_signing_key_must_be_governance),
        cmocka_unit_test(test_add_org_refusals),
        cmocka_unit_test(test_add_org_result_loads),
        cmocka_unit_test(test_content_refusals),
        cmocka_unit_test(test_malformed_json),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_doc_read_and_write),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
