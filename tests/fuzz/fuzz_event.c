/* Fuzz target: event JSON (proto/event.c), the input of `tracectl submit`, on arbitrary
 * text.
 *
 * Event JSON is not canonical (spacing, escapes, member order, hex case), so the round
 * trip is on the parsed event: it is written back as JSON with sorted keys (a writer in
 * this file), parsed again, and written again; both writings must be the same bytes.
 *
 * An event that parses is what tracectl and the node accept before anything is appended,
 * so the record the node makes of it must be signable (FORMAT.md: "a bad event means
 * nothing is appended"). The target builds that record the way node/batch.c does, with
 * the worst case proto_event_check_size assumes (largest seq and time, every input
 * linked, every private field sealed), and checks that it signs exactly when
 * check_size says it fits, that the signed bytes decode, and that decode -> sign gives
 * the same bytes. proto_event_check_context runs against a small test ecosystem and must
 * agree with proto_roles_allow.
 * Built for libFuzzer by tests/fuzz/run; in the normal build it replays the corpus. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "proto/ecosystem.h"
#include "proto/event.h"
#include "tests/fuzz/fuzz_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NET "demo-net"
#define ORG "acme"

static struct cry_keypair fixed;
static uint8_t fixed_sk[crypto_sign_SECRETKEYBYTES];
static struct proto_ecosystem eco;

/* acme may commission, transform and anchor MUD files; beta carries. */
static const char eco_json[] =
    "{\"format\": \"tracenode-ecosystem-v1\", \"network\": \"" NET "\","
    " \"governance_key\": \"ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\","
    " \"orgs\": [{\"id\": \"acme\", \"name\": \"Acme\","
    " \"key\": \"ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\","
    " \"roles\": [\"manufacturer\", \"supplier\"]},"
    " {\"id\": \"beta\", \"name\": \"Beta\","
    " \"key\": \"ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\","
    " \"roles\": [\"carrier\"]}]}";

static void setup(void)
{
    char err[256];

    if (fixed.sk)
        return;
    fuzz_fixed_key(&fixed, fixed_sk, -1);
    if (proto_ecosystem_parse(eco_json, strlen(eco_json), false, &eco, err, sizeof err) != 0)
        __builtin_trap();
}

/* ---- the event written back as JSON (sorted keys, compact) --------------------------- */

static json_t *hex_json(const uint8_t *p, size_t n)
{
    char hex[CRY_HEX_LEN(64)];

    cry_hex(hex, p, n);
    return json_string(hex);
}

static json_t *list_json(const char *const *list, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

static char *event_json(const struct proto_event *ev)
{
    const struct proto_record *r = &ev->rec;
    json_t *o = json_object();
    char *text;

    json_object_set_new(o, "type", json_string(proto_type_name(r->type)));
    if (r->eid)
        json_object_set_new(o, "id", json_string(r->eid));
    if (ev->has_time)
        json_object_set_new(o, "time", json_integer((json_int_t)r->time));
    if (r->n_outputs)
        json_object_set_new(o, "outputs", list_json(r->outputs, r->n_outputs));
    if (r->n_items)
        json_object_set_new(o, "items", list_json(r->items, r->n_items));
    if (r->n_inputs) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_inputs; i++) {
            const struct proto_input *in = &r->inputs[i];
            json_array_append_new(a, in->has_rec ? json_pack("{s:s, s:o}", "item", in->item,
                                                             "rec", hex_json(in->rec, 32))
                                                 : json_string(in->item));
        }
        json_object_set_new(o, "inputs", a);
    }
    if (r->to)
        json_object_set_new(o, "to", json_string(r->to));
    if (r->from)
        json_object_set_new(o, "from", json_string(r->from));
    if (r->has_ref)
        json_object_set_new(o, "ref", hex_json(r->ref, PROTO_ID_LEN));
    if (r->n_attrs) {
        json_t *a = json_object();
        for (size_t i = 0; i < r->n_attrs; i++) {
            const struct proto_attr *at = &r->attrs[i];
            json_t *v = NULL;
            switch (at->kind) {
            case PROTO_VAL_TEXT: v = json_string(at->text); break;
            case PROTO_VAL_INT: v = json_integer((json_int_t)at->num); break;
            case PROTO_VAL_BOOL: v = json_boolean(at->flag); break;
            }
            json_object_set_new(a, at->name, v);
        }
        json_object_set_new(o, "attrs", a);
    }
    if (ev->n_priv) {
        json_t *p = json_object();
        for (size_t i = 0; i < ev->n_priv; i++)
            json_object_set_new(p, ev->priv[i].name, json_string(ev->priv[i].value));
        json_object_set_new(o, "private", p);
    }
    if (r->mud) {
        const struct proto_mud *m = r->mud;
        json_t *j = json_pack("{s:s, s:o, s:I, s:s}", "url", m->url, "sha256",
                              hex_json(m->sha256, 32), "size", (json_int_t)m->size,
                              "last_update", m->last_update);
        if (m->model)
            json_object_set_new(j, "model", json_string(m->model));
        if (m->mfg_name)
            json_object_set_new(j, "mfg_name", json_string(m->mfg_name));
        if (m->has_sig)
            json_object_set_new(j, "sig_sha256", hex_json(m->sig_sha256, 32));
        json_object_set_new(o, "mud", j);
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!text)
        __builtin_trap();
    return text;
}

static void check_json_roundtrip(const struct proto_event *ev)
{
    struct proto_event back;
    char err[512], *once = event_json(ev), *twice;

    if (proto_event_parse(once, strlen(once), &back, err, sizeof err) != 0)
        __builtin_trap();
    twice = event_json(&back);
    if (strcmp(once, twice) != 0)
        __builtin_trap();
    proto_event_release(&back);
    free(once);
    free(twice);
}

/* ---- the record the node makes of it ------------------------------------------------ */

static void check_record(const struct proto_event *ev)
{
    static uint8_t out[PROTO_RECORD_MAX], again[PROTO_RECORD_MAX];
    struct proto_record r = ev->rec, back;
    struct proto_input *inputs = NULL;
    struct proto_seal *seals = NULL;
    size_t len = 0, len2 = 0;
    char err[512];
    int fits, rc;

    fits = proto_event_check_size(ev, NET, ORG, err, sizeof err);
    if (fits != 0 && fits != TN_ERR_TOO_BIG)
        __builtin_trap();

    /* as node/batch.c signs it, with check_size's worst case */
    r.v = PROTO_VERSION;
    r.net = NET;
    r.org = ORG;
    r.seq = UINT64_MAX;
    r.has_prev = true;
    memset(r.prev, 0xee, sizeof r.prev);
    if (!ev->has_time)
        r.time = UINT64_MAX;
    if (r.n_inputs) {
        if (!(inputs = malloc(r.n_inputs * sizeof *inputs)))
            __builtin_trap();
        for (size_t i = 0; i < r.n_inputs; i++) {
            inputs[i] = r.inputs[i];
            if (!inputs[i].has_rec)
                memset(inputs[i].rec, 0xdd, PROTO_ID_LEN);
            inputs[i].has_rec = true;
        }
        r.inputs = inputs;
    }
    if (ev->n_priv) {
        if (!(seals = malloc(ev->n_priv * sizeof *seals)))
            __builtin_trap();
        for (size_t i = 0; i < ev->n_priv; i++) {
            seals[i].name = ev->priv[i].name;
            crypto_hash_sha256(seals[i].digest, (const uint8_t *)ev->priv[i].value,
                               strlen(ev->priv[i].value));
        }
        r.sealed = seals;
        r.n_sealed = ev->n_priv;
    }
    rc = proto_record_sign(&r, &fixed, out, sizeof out, &len, err, sizeof err);
    /* check_size is exact for this worst case: it fits iff it signs */
    if (rc != fits)
        __builtin_trap();
    if (rc == 0) {
        proto_record_init(&back);
        if (proto_record_decode(out, len, &back, err, sizeof err) != 0 ||
            !proto_record_verify(&back, fixed.pk))
            __builtin_trap();
        if (proto_record_sign(&back, &fixed, again, sizeof again, &len2, err, sizeof err) != 0 ||
            len2 != len || memcmp(again, out, len) != 0)
            __builtin_trap();
        proto_record_release(&back);
    }
    free(inputs);
    free(seals);
}

static void check_context(const struct proto_event *ev)
{
    static const char *const orgs[] = {"acme", "beta", "governance", "nobody"};
    char err[512];

    for (size_t i = 0; i < sizeof orgs / sizeof orgs[0]; i++) {
        const struct proto_org *o = proto_ecosystem_org(&eco, orgs[i]);
        int rc = proto_event_check_context(ev, &eco, orgs[i], err, sizeof err);
        bool known_to = !ev->rec.to || proto_ecosystem_org(&eco, ev->rec.to);
        bool known_from = !ev->rec.from || proto_ecosystem_org(&eco, ev->rec.from);
        int want = !o                                          ? TN_ERR_UNKNOWN_ORG
                   : !proto_roles_allow(o->roles, ev->rec.type) ? TN_ERR_ROLE
                   : !known_to || !known_from                    ? TN_ERR_UNKNOWN_ORG
                                                                 : 0;
        if (rc != want)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_event ev;
    char err[512];
    int rc;

    setup();
    err[0] = '\0';
    rc = proto_event_parse((const char *)data, size, &ev, err, sizeof err);
    if (rc == 0) {
        check_json_roundtrip(&ev);
        check_record(&ev);
        check_context(&ev);
    } else if ((rc != TN_ERR_INVALID && rc != TN_ERR_TOO_BIG && rc != TN_ERR_NOMEM) ||
               !err[0]) {
        __builtin_trap();
    }
    proto_event_release(&ev);
    return 0;
}
