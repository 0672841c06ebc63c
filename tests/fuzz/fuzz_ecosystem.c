/* Fuzz target: the ecosystem file (proto/ecosystem.c) on arbitrary text, parsed with and
 * without require_signature.
 *
 * The two parses differ only for a document without a signature: the strict one refuses
 * it (TN_ERR_BAD_SIGNATURE), everything else gives the same result and the same
 * ecosystem. When a document parses, its canonical serialization, the one the governance
 * signature covers (the document without "signature", jansson JSON_COMPACT |
 * JSON_SORT_KEYS, as in signed_bytes()), parses to the same ecosystem and serializes to
 * the same bytes again. Then the document is signed the way `tracectl ecosystem sign`
 * does it (proto_ecosystem_doc_sign with a fixed governance key put in its
 * governance_key) and written the way proto_ecosystem_doc_write writes it; that file
 * must pass the strict parse with the same orgs. The lookups find every org and node.
 * Built for libFuzzer by tests/fuzz/run; in the normal build it replays the corpus. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ecosystem.h"
#include "tests/fuzz/fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cry_keypair gov;
static uint8_t gov_sk[crypto_sign_SECRETKEYBYTES];

static void setup(void)
{
    if (!gov.sk)
        fuzz_fixed_key(&gov, gov_sk, -1);
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool org_eq(const struct proto_org *a, const struct proto_org *b)
{
    if (!str_eq(a->id, b->id) || !str_eq(a->name, b->name) ||
        memcmp(a->key, b->key, CRY_PK_LEN) != 0 || a->roles != b->roles ||
        a->valid_from != b->valid_from || a->valid_until != b->valid_until ||
        a->n_nodes != b->n_nodes || a->n_keys != b->n_keys)
        return false;
    for (size_t i = 0; i < a->n_nodes; i++)
        if (memcmp(a->nodes[i].key, b->nodes[i].key, CRY_PK_LEN) != 0 ||
            !str_eq(a->nodes[i].addr, b->nodes[i].addr))
            return false;
    for (size_t i = 0; i < a->n_keys; i++)
        if (memcmp(a->keys[i].pk, b->keys[i].pk, CRY_PK_LEN) != 0 ||
            a->keys[i].from != b->keys[i].from || a->keys[i].until != b->keys[i].until)
            return false;
    return true;
}

/* Same network and orgs; the governance key too unless the caller replaced it. */
static bool eco_eq(const struct proto_ecosystem *a, const struct proto_ecosystem *b,
                   bool same_gov)
{
    if (!str_eq(a->network, b->network) || a->n_orgs != b->n_orgs)
        return false;
    if (same_gov &&
        (memcmp(a->gov_key, b->gov_key, CRY_PK_LEN) != 0 || !org_eq(&a->gov, &b->gov)))
        return false;
    for (size_t i = 0; i < a->n_orgs; i++)
        if (!org_eq(&a->orgs[i], &b->orgs[i]))
            return false;
    return true;
}

static void check_lookups(const struct proto_ecosystem *eco)
{
    if (proto_ecosystem_org(eco, PROTO_GOV_ORG) != &eco->gov ||
        memcmp(eco->gov.key, eco->gov_key, CRY_PK_LEN) != 0 ||
        eco->gov.roles != PROTO_ROLE_GOVERNANCE)
        __builtin_trap();
    for (size_t i = 0; i < eco->n_orgs; i++) {
        const struct proto_org *o = &eco->orgs[i];
        if (proto_ecosystem_org(eco, o->id) != o || !o->roles ||
            (o->roles & ~(uint32_t)PROTO_ROLE_ALL) || o->n_keys != 1 ||
            proto_org_key_status(o, o->key, o->valid_from) !=
                (o->valid_until && o->valid_until <= o->valid_from ? PROTO_KEY_REVOKED
                                                                   : PROTO_KEY_VALID))
            __builtin_trap();
        for (size_t j = 0; j < o->n_nodes; j++) {
            const struct proto_org *by = proto_ecosystem_org_by_node(eco, o->nodes[j].key);
            if (!by || by > o)
                __builtin_trap();
        }
    }
}

/* The document without its signature, serialized as the signature covers it. */
static char *canonical(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    char *out;

    if (!doc)
        __builtin_trap();
    json_object_del(doc, "signature");
    out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (!out)
        __builtin_trap();
    return out;
}

static void check_accepted(const char *text, size_t len, const struct proto_ecosystem *eco)
{
    struct proto_ecosystem back;
    char err[512], *canon = canonical(text, len), *again, *file, pk[CRY_PK_TEXT_LEN];
    json_error_t jerr;
    json_t *doc;

    check_lookups(eco);

    /* decode -> canonical encode -> decode: the same ecosystem and the same bytes */
    if (proto_ecosystem_parse(canon, strlen(canon), false, &back, err, sizeof err) != 0 ||
        back.is_signed || !eco_eq(eco, &back, true))
        __builtin_trap();
    proto_ecosystem_release(&back);
    again = canonical(canon, strlen(canon));
    if (strcmp(again, canon) != 0)
        __builtin_trap();
    free(again);

    /* signed as tracectl ecosystem sign does, written as doc_write does: it verifies */
    if (!(doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)))
        __builtin_trap();
    cry_pk_format(pk, gov.pk);
    if (json_object_set_new(doc, "governance_key", json_string(pk)) != 0 ||
        proto_ecosystem_doc_sign(doc, &gov, err, sizeof err) != 0 ||
        !(file = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER)))
        __builtin_trap();
    json_decref(doc);
    if (proto_ecosystem_parse(file, strlen(file), true, &back, err, sizeof err) != 0 ||
        !back.is_signed || memcmp(back.gov_key, gov.pk, CRY_PK_LEN) != 0 ||
        !eco_eq(eco, &back, memcmp(eco->gov_key, gov.pk, CRY_PK_LEN) == 0))
        __builtin_trap();
    proto_ecosystem_release(&back);
    free(file);
    free(canon);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_ecosystem lax, strict;
    const char *text = (const char *)data;
    char err[512], err2[512];
    int rc, rc_strict;

    setup();
    err[0] = err2[0] = '\0';
    rc = proto_ecosystem_parse(text, size, false, &lax, err, sizeof err);
    rc_strict = proto_ecosystem_parse(text, size, true, &strict, err2, sizeof err2);
    if (rc != 0 && (!err[0] || (rc != TN_ERR_INVALID && rc != TN_ERR_TOO_BIG &&
                                rc != TN_ERR_NOMEM && rc != TN_ERR_BAD_SIGNATURE)))
        __builtin_trap();
    /* the strict parse refuses exactly the unsigned documents the lax one accepts */
    if (rc == 0 && !lax.is_signed) {
        if (rc_strict != TN_ERR_BAD_SIGNATURE || !err2[0])
            __builtin_trap();
    } else if (rc_strict != rc ||
               (rc == 0 && (!strict.is_signed || !eco_eq(&lax, &strict, true)))) {
        __builtin_trap();
    }
    if (rc == 0)
        check_accepted(text, size, &lax);
    /* a failed parse has released already; releasing again is harmless */
    proto_ecosystem_release(&lax);
    proto_ecosystem_release(&strict);
    return 0;
}
