#include "proto/ecosystem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/encode.h"
#include "proto/fail.h"
#include "proto/readfile.h"

#define SIG_DOMAIN "tracenode-ecosystem-v1\n"
#define MAX_ORGS 10000
#define MAX_NODES 64


/* Reals have no single serialization; refuse them anywhere in the document. */
static bool has_real(json_t *v)
{
    const char *k;
    json_t *x;
    size_t i;

    if (json_is_real(v))
        return true;
    if (json_is_object(v))
        json_object_foreach(v, k, x) if (has_real(x)) return true;
    if (json_is_array(v))
        json_array_foreach(v, i, x) if (has_real(x)) return true;
    return false;
}

/* The bytes the governance key signs. Caller frees. */
static char *signed_bytes(json_t *doc, size_t *len)
{
    json_t *copy = json_copy(doc);
    char *body, *out;
    size_t n;

    if (!copy)
        return NULL;
    json_object_del(copy, "signature");
    body = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    if (!body)
        return NULL;
    n = strlen(SIG_DOMAIN) + strlen(body);
    if ((out = malloc(n + 1)))
        snprintf(out, n + 1, "%s%s", SIG_DOMAIN, body);
    free(body);
    *len = n;
    return out;
}

static bool only_keys(json_t *obj, const char *const *allowed, const char **bad)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok |= strcmp(k, allowed[i]) == 0;
        if (!ok) {
            *bad = k;
            return false;
        }
    }
    return true;
}

static int parse_ms(json_t *v, uint64_t *out)
{
    if (!v || json_is_null(v)) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return TN_ERR_INVALID;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int parse_org(struct proto_ecosystem *eco, json_t *o, struct proto_org *org, char *err,
                     size_t errlen)
{
    static const char *const keys[] = {"id",    "name",       "key",         "roles",
                                       "nodes", "valid_from", "valid_until", NULL};
    const char *bad, *id;
    json_t *v, *n;
    size_t i;

    if (!json_is_object(o))
        return proto_fail(err, errlen, "ecosystem: each entry of 'orgs' must be an object");
    id = json_string_value(json_object_get(o, "id"));
    if (!id || !proto_id_ok(id))
        return proto_fail(err, errlen,
                     "ecosystem: org 'id' missing or invalid (1-64 of a-z 0-9 . _ -)");
    if (!only_keys(o, keys, &bad))
        return proto_fail(err, errlen, "ecosystem: org %s: unknown member '%s'", id, bad);
    org->id = proto_arena_strndup(&eco->arena, id, strlen(id));
    v = json_object_get(o, "name");
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > PROTO_ORG_NAME_MAX)
        return proto_fail(err, errlen, "ecosystem: org %s: 'name' missing or over 256 bytes", id);
    org->name = proto_arena_strndup(&eco->arena, json_string_value(v), json_string_length(v));
    v = json_object_get(o, "key");
    if (!json_is_string(v) || cry_pk_parse(org->key, json_string_value(v)) != 0)
        return proto_fail(err, errlen, "ecosystem: org %s: 'key' is not an ed25519:BASE64 key", id);
    v = json_object_get(o, "roles");
    if (!json_is_array(v) || json_array_size(v) == 0)
        return proto_fail(err, errlen, "ecosystem: org %s: 'roles' must be a non-empty array", id);
    json_array_foreach(v, i, n) {
        enum proto_role r;
        if (!json_is_string(n) || proto_role_parse(json_string_value(n), &r) != 0)
            return proto_fail(err, errlen, "ecosystem: org %s: unknown role '%s'", id,
                         json_is_string(n) ? json_string_value(n) : "?");
        org->roles |= (uint32_t)r;
    }
    if (strcmp(id, PROTO_GOV_ORG) == 0)
        return proto_fail(err, errlen, "ecosystem: org id '%s' is reserved", id);
    if (parse_ms(json_object_get(o, "valid_from"), &org->valid_from) != 0 ||
        parse_ms(json_object_get(o, "valid_until"), &org->valid_until) != 0)
        return proto_fail(err, errlen,
                     "ecosystem: org %s: 'valid_from'/'valid_until' must be ms since the epoch", id);
    if (!(org->keys = proto_arena_alloc(&eco->arena, sizeof *org->keys)))
        return TN_ERR_NOMEM;
    memcpy(org->keys[0].pk, org->key, CRY_PK_LEN);
    org->keys[0].from = org->valid_from;
    org->keys[0].until = org->valid_until;
    org->n_keys = 1;
    v = json_object_get(o, "nodes");
    if (v) {
        if (!json_is_array(v) || json_array_size(v) > MAX_NODES)
            return proto_fail(err, errlen, "ecosystem: org %s: 'nodes' must be an array", id);
        org->nodes = proto_arena_alloc(&eco->arena, (json_array_size(v) + 1) * sizeof *org->nodes);
        if (!org->nodes)
            return TN_ERR_NOMEM;
        json_array_foreach(v, i, n) {
            static const char *const nkeys[] = {"key", "addr", NULL};
            json_t *k = json_object_get(n, "key"), *a = json_object_get(n, "addr");
            if (!json_is_object(n) || !only_keys(n, nkeys, &bad) || !json_is_string(k) ||
                cry_pk_parse(org->nodes[i].key, json_string_value(k)) != 0)
                return proto_fail(err, errlen,
                             "ecosystem: org %s: each node needs 'key' (ed25519:BASE64) and an "
                             "optional 'addr'", id);
            if (a && !json_is_null(a)) {
                if (!json_is_string(a) || json_string_length(a) == 0 ||
                    json_string_length(a) > PROTO_ADDR_MAX || !strchr(json_string_value(a), ':'))
                    return proto_fail(err, errlen, "ecosystem: org %s: node 'addr' must be HOST:PORT", id);
                org->nodes[i].addr =
                    proto_arena_strndup(&eco->arena, json_string_value(a), json_string_length(a));
            }
        }
        org->n_nodes = json_array_size(v);
    }
    return org->id && org->name ? 0 : TN_ERR_NOMEM;
}

static int parse_doc(json_t *doc, bool require_signature, struct proto_ecosystem *eco, char *err,
                     size_t errlen)
{
    static const char *const keys[] = {"format", "network", "governance_key", "orgs",
                                       "signature", NULL};
    const char *bad, *net;
    json_t *v, *o;
    size_t i;
    int rc;

    if (!json_is_object(doc))
        return proto_fail(err, errlen, "ecosystem: the document must be a JSON object");
    if (!only_keys(doc, keys, &bad))
        return proto_fail(err, errlen, "ecosystem: unknown member '%s'", bad);
    if (has_real(doc))
        return proto_fail(err, errlen, "ecosystem: numbers must be integers");
    v = json_object_get(doc, "format");
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "tracenode-ecosystem-v1") != 0))
        return proto_fail(err, errlen, "ecosystem: 'format' must be \"tracenode-ecosystem-v1\"");
    net = json_string_value(json_object_get(doc, "network"));
    if (!net || !proto_id_ok(net))
        return proto_fail(err, errlen,
                     "ecosystem: 'network' missing or invalid (1-64 of a-z 0-9 . _ -)");
    eco->network = proto_arena_strndup(&eco->arena, net, strlen(net));
    v = json_object_get(doc, "governance_key");
    if (!json_is_string(v) || cry_pk_parse(eco->gov_key, json_string_value(v)) != 0)
        return proto_fail(err, errlen, "ecosystem: 'governance_key' is not an ed25519:BASE64 key");
    /* the governance pseudo-org */
    eco->gov.id = PROTO_GOV_ORG;
    eco->gov.name = "Governance";
    memcpy(eco->gov.key, eco->gov_key, CRY_PK_LEN);
    eco->gov.roles = PROTO_ROLE_GOVERNANCE;
    if (!(eco->gov.keys = proto_arena_alloc(&eco->arena, sizeof *eco->gov.keys)))
        return TN_ERR_NOMEM;
    memcpy(eco->gov.keys[0].pk, eco->gov_key, CRY_PK_LEN);
    eco->gov.n_keys = 1;
    v = json_object_get(doc, "orgs");
    if (v && (!json_is_array(v) || json_array_size(v) > MAX_ORGS))
        return proto_fail(err, errlen, "ecosystem: 'orgs' must be an array");
    if (v && json_array_size(v)) {
        eco->orgs = proto_arena_alloc(&eco->arena, json_array_size(v) * sizeof *eco->orgs);
        if (!eco->orgs)
            return TN_ERR_NOMEM;
        eco->cap_orgs = json_array_size(v);
        json_array_foreach(v, i, o) {
            if ((rc = parse_org(eco, o, &eco->orgs[i], err, errlen)) != 0)
                return rc;
            for (size_t j = 0; j < i; j++)
                if (strcmp(eco->orgs[j].id, eco->orgs[i].id) == 0)
                    return proto_fail(err, errlen, "ecosystem: org id '%s' listed twice",
                                 eco->orgs[i].id);
            eco->n_orgs = i + 1;
        }
    }

    v = json_object_get(doc, "signature");
    if (v) {
        uint8_t sig[CRY_SIG_LEN];
        size_t n;
        char *msg;
        bool ok;
        if (!json_is_string(v) ||
            cry_unb64(sig, sizeof sig, json_string_value(v), json_string_length(v)) != 0)
            return proto_fail(err, errlen, "ecosystem: 'signature' is not base64 of 64 bytes");
        if (!(msg = signed_bytes(doc, &n)))
            return TN_ERR_NOMEM;
        ok = cry_verify(sig, (const uint8_t *)msg, n, eco->gov_key);
        free(msg);
        if (!ok) {
            snprintf(err, errlen,
                     "ecosystem: signature does not match the content or the governance key "
                     "(edited after signing? run tracectl ecosystem sign)");
            return TN_ERR_BAD_SIGNATURE;
        }
        eco->is_signed = true;
    } else if (require_signature) {
        snprintf(err, errlen,
                 "ecosystem: file is not signed (run tracectl ecosystem sign --file FILE "
                 "--governance-key KEY)");
        return TN_ERR_BAD_SIGNATURE;
    }
    return 0;
}

int proto_ecosystem_parse(const char *text, size_t len, bool require_signature,
                          struct proto_ecosystem *eco, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc;
    int rc;

    memset(eco, 0, sizeof *eco);
    proto_arena_init(&eco->arena, 4 * PROTO_ECOSYSTEM_MAX);
    if (len > PROTO_ECOSYSTEM_MAX) {
        snprintf(err, errlen, "ecosystem: file over %d bytes", PROTO_ECOSYSTEM_MAX);
        return TN_ERR_TOO_BIG;
    }
    doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(err, errlen, "ecosystem: malformed JSON at line %d: %s", jerr.line, jerr.text);
        return TN_ERR_INVALID;
    }
    rc = parse_doc(doc, require_signature, eco, err, errlen);
    json_decref(doc);
    if (rc != 0)
        proto_ecosystem_release(eco);
    return rc;
}

int proto_ecosystem_load(const char *path, bool require_signature, struct proto_ecosystem *eco,
                         char **raw, size_t *raw_len, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    int rc;

    memset(eco, 0, sizeof *eco);
    if ((rc = proto_read_file(path, PROTO_ECOSYSTEM_MAX, &buf, &len, err, errlen)) != 0)
        return rc;
    rc = proto_ecosystem_parse(buf, len, require_signature, eco, err, errlen);
    if (rc == 0 && raw) {
        *raw = buf;
        *raw_len = len;
    } else {
        free(buf);
    }
    return rc;
}

void proto_ecosystem_release(struct proto_ecosystem *eco)
{
    proto_arena_release(&eco->arena);
    memset(eco, 0, sizeof *eco);
}

const struct proto_org *proto_ecosystem_org(const struct proto_ecosystem *eco, const char *id)
{
    if (strcmp(id, PROTO_GOV_ORG) == 0)
        return eco->gov.id ? &eco->gov : NULL;
    for (size_t i = 0; i < eco->n_orgs; i++)
        if (strcmp(eco->orgs[i].id, id) == 0)
            return &eco->orgs[i];
    return NULL;
}

const struct proto_org *proto_ecosystem_org_by_node(const struct proto_ecosystem *eco,
                                                    const uint8_t node_key[CRY_PK_LEN])
{
    for (size_t i = 0; i < eco->n_orgs; i++)
        for (size_t j = 0; j < eco->orgs[i].n_nodes; j++)
            if (memcmp(eco->orgs[i].nodes[j].key, node_key, CRY_PK_LEN) == 0)
                return &eco->orgs[i];
    return NULL;
}

enum proto_key_status proto_org_key_status(const struct proto_org *org,
                                           const uint8_t pk[CRY_PK_LEN], uint64_t time)
{
    enum proto_key_status best = PROTO_KEY_UNKNOWN;

    /* a key may appear more than once (rotated away and back): any valid interval wins */
    for (size_t i = 0; i < org->n_keys; i++) {
        const struct proto_org_key *k = &org->keys[i];
        if (memcmp(k->pk, pk, CRY_PK_LEN) != 0)
            continue;
        if (time < k->from)
            best = best == PROTO_KEY_UNKNOWN ? PROTO_KEY_NOT_YET : best;
        else if (k->until && time >= k->until)
            best = best == PROTO_KEY_VALID ? best : PROTO_KEY_REVOKED;
        else
            return PROTO_KEY_VALID;
    }
    return best;
}

static int add_key(struct proto_ecosystem *eco, struct proto_org *org, const uint8_t pk[32],
                   uint64_t from)
{
    struct proto_org_key *keys = proto_arena_alloc(&eco->arena, (org->n_keys + 1) * sizeof *keys);

    if (!keys)
        return TN_ERR_NOMEM;
    if (org->n_keys)
        memcpy(keys, org->keys, org->n_keys * sizeof *keys);
    memcpy(keys[org->n_keys].pk, pk, CRY_PK_LEN);
    keys[org->n_keys].from = from;
    keys[org->n_keys].until = 0;
    org->keys = keys;
    org->n_keys++;
    return 0;
}

int proto_ecosystem_apply(struct proto_ecosystem *eco, const struct proto_record *rec, char *err,
                          size_t errlen)
{
    struct proto_org *org = NULL;

    for (size_t i = 0; i < eco->n_orgs; i++)
        if (rec->subject && strcmp(eco->orgs[i].id, rec->subject) == 0)
            org = &eco->orgs[i];
    switch (rec->type) {
    case PROTO_T_GOV_ADD_ORG: {
        struct proto_org *grown;
        if (org || strcmp(rec->subject, PROTO_GOV_ORG) == 0)
            return proto_fail(err, errlen, "gov-add-org: org '%s' exists already", rec->subject);
        if (eco->n_orgs == eco->cap_orgs) {
            size_t cap = eco->cap_orgs ? eco->cap_orgs * 2 : 8;
            if (cap > MAX_ORGS || !(grown = proto_arena_alloc(&eco->arena, cap * sizeof *grown)))
                return TN_ERR_NOMEM;
            if (eco->n_orgs)
                memcpy(grown, eco->orgs, eco->n_orgs * sizeof *grown);
            eco->orgs = grown;
            eco->cap_orgs = cap;
        }
        org = &eco->orgs[eco->n_orgs];
        memset(org, 0, sizeof *org);
        org->id = proto_arena_strndup(&eco->arena, rec->subject, strlen(rec->subject));
        org->name = proto_arena_strndup(&eco->arena, rec->name, strlen(rec->name));
        if (!org->id || !org->name)
            return TN_ERR_NOMEM;
        memcpy(org->key, rec->key, CRY_PK_LEN);
        for (size_t i = 0; i < rec->n_roles; i++) {
            enum proto_role r;
            if (proto_role_parse(rec->roles[i], &r) == 0)
                org->roles |= (uint32_t)r;
        }
        org->valid_from = rec->effective;
        if (rec->n_nodes) {
            org->nodes = proto_arena_alloc(&eco->arena, rec->n_nodes * sizeof *org->nodes);
            if (!org->nodes)
                return TN_ERR_NOMEM;
            for (size_t i = 0; i < rec->n_nodes; i++) {
                memcpy(org->nodes[i].key, rec->nodes[i].key, CRY_PK_LEN);
                if (rec->nodes[i].addr &&
                    !(org->nodes[i].addr = proto_arena_strndup(&eco->arena, rec->nodes[i].addr,
                                                               strlen(rec->nodes[i].addr))))
                    return TN_ERR_NOMEM;
            }
            org->n_nodes = rec->n_nodes;
        }
        if (add_key(eco, org, rec->key, rec->effective) != 0)
            return TN_ERR_NOMEM;
        eco->n_orgs++;
        return 0;
    }
    case PROTO_T_GOV_REVOKE:
        if (!org)
            return proto_fail(err, errlen, "gov-revoke: no org '%s'", rec->subject);
        for (size_t i = 0; i < org->n_keys; i++)
            if (memcmp(org->keys[i].pk, rec->key, CRY_PK_LEN) == 0 &&
                (!org->keys[i].until || rec->effective < org->keys[i].until))
                org->keys[i].until = rec->effective;
        return 0;
    case PROTO_T_GOV_ROTATE:
        if (!org)
            return proto_fail(err, errlen, "gov-rotate: no org '%s'", rec->subject);
        for (size_t i = 0; i < org->n_keys; i++)
            if (memcmp(org->keys[i].pk, org->key, CRY_PK_LEN) == 0 &&
                (!org->keys[i].until || rec->effective < org->keys[i].until))
                org->keys[i].until = rec->effective;
        if (add_key(eco, org, rec->key, rec->effective) != 0)
            return TN_ERR_NOMEM;
        memcpy(org->key, rec->key, CRY_PK_LEN);
        return 0;
    default:
        return proto_fail(err, errlen, "not a governance record");
    }
}

/* --- editing ------------------------------------------------------------------------ */

json_t *proto_ecosystem_doc_new(const char *network, const uint8_t gov_key[CRY_PK_LEN])
{
    char pk[CRY_PK_TEXT_LEN];

    cry_pk_format(pk, gov_key);
    return json_pack("{s:s, s:s, s:s, s:[]}", "format", "tracenode-ecosystem-v1", "network",
                     network, "governance_key", pk, "orgs");
}

int proto_ecosystem_doc_read(const char *path, json_t **doc, char *err, size_t errlen)
{
    struct proto_ecosystem eco;
    json_error_t jerr;
    char *buf;
    size_t len;
    int rc;

    /* Parse once fully (without requiring a signature) so edits start from a valid file. */
    if ((rc = proto_read_file(path, PROTO_ECOSYSTEM_MAX, &buf, &len, err, errlen)) != 0)
        return rc;
    rc = proto_ecosystem_parse(buf, len, false, &eco, err, errlen);
    if (rc == TN_ERR_BAD_SIGNATURE) /* a stale signature is dropped by the next edit */
        rc = 0;
    if (rc == 0) {
        proto_ecosystem_release(&eco);
        if (!(*doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr)))
            rc = TN_ERR_INVALID;
    }
    free(buf);
    return rc;
}

int proto_ecosystem_doc_add_org(json_t *doc, const char *id, const char *name,
                                const uint8_t key[CRY_PK_LEN], const char *roles,
                                const uint8_t *node_key, const char *addr, char *err,
                                size_t errlen)
{
    json_t *orgs = json_object_get(doc, "orgs"), *org, *rl, *v;
    char pk[CRY_PK_TEXT_LEN], *copy, *tok, *save = NULL;
    size_t i;

    if (!proto_id_ok(id))
        return proto_fail(err, errlen, "--id '%s' is not a valid org id (1-64 of a-z 0-9 . _ -)", id);
    if (strcmp(id, PROTO_GOV_ORG) == 0)
        return proto_fail(err, errlen, "--id '%s' is reserved for governance records", id);
    if (!name[0] || strlen(name) > PROTO_ORG_NAME_MAX)
        return proto_fail(err, errlen, "--name must be 1-256 bytes");
    if (addr && (!addr[0] || strlen(addr) > PROTO_ADDR_MAX || !strchr(addr, ':')))
        return proto_fail(err, errlen, "--addr must be HOST:PORT");
    if (!json_is_array(orgs))
        return proto_fail(err, errlen, "ecosystem: 'orgs' must be an array");
    json_array_foreach(orgs, i, v) {
        const char *other = json_string_value(json_object_get(v, "id"));
        if (other && strcmp(other, id) == 0) {
            snprintf(err, errlen, "org '%s' is already in the ecosystem", id);
            return TN_ERR_EXISTS;
        }
    }
    if (!(rl = json_array()))
        return TN_ERR_NOMEM;
    if (!(copy = strdup(roles))) {
        json_decref(rl);
        return TN_ERR_NOMEM;
    }
    for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        enum proto_role r;
        if (proto_role_parse(tok, &r) != 0) {
            snprintf(err, errlen,
                     "--role: unknown role '%s' (manufacturer, supplier, assembler, carrier, "
                     "operator, auditor)",
                     tok);
            free(copy);
            json_decref(rl);
            return TN_ERR_INVALID;
        }
        json_array_append_new(rl, json_string(tok));
    }
    free(copy);
    if (json_array_size(rl) == 0) {
        json_decref(rl);
        return proto_fail(err, errlen, "--role: at least one role is required");
    }
    cry_pk_format(pk, key);
    org = json_pack("{s:s, s:s, s:s, s:o, s:[]}", "id", id, "name", name, "key", pk, "roles", rl,
                    "nodes");
    if (!org)
        return TN_ERR_NOMEM;
    if (node_key) {
        json_t *n;
        cry_pk_format(pk, node_key);
        n = addr ? json_pack("{s:s, s:s}", "key", pk, "addr", addr) : json_pack("{s:s}", "key", pk);
        json_array_append_new(json_object_get(org, "nodes"), n);
    }
    json_array_append_new(orgs, org);
    json_object_del(doc, "signature");
    return 0;
}

int proto_ecosystem_doc_sign(json_t *doc, const struct cry_keypair *gov, char *err, size_t errlen)
{
    uint8_t want[CRY_PK_LEN], sig[CRY_SIG_LEN];
    char b64[CRY_B64_LEN(CRY_SIG_LEN)];
    const char *gk = json_string_value(json_object_get(doc, "governance_key"));
    size_t n;
    char *msg;

    if (!gk || cry_pk_parse(want, gk) != 0)
        return proto_fail(err, errlen, "ecosystem: 'governance_key' missing");
    if (memcmp(want, gov->pk, CRY_PK_LEN) != 0) {
        snprintf(err, errlen, "the key given is not the ecosystem's governance_key");
        return TN_ERR_UNKNOWN_KEY;
    }
    if (!(msg = signed_bytes(doc, &n)))
        return TN_ERR_NOMEM;
    cry_sign(sig, (const uint8_t *)msg, n, gov);
    free(msg);
    cry_b64(b64, sig, sizeof sig);
    return json_object_set_new(doc, "signature", json_string(b64)) == 0 ? 0 : TN_ERR_NOMEM;
}

int proto_ecosystem_doc_write(const char *path, json_t *doc, char *err, size_t errlen)
{
    char tmp[4096];
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    size_t len;
    int fd, rc = 0;

    if (!text)
        return TN_ERR_NOMEM;
    len = strlen(text);
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        rc = TN_ERR_IO;
    }
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        rc = TN_ERR_IO;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
        rc = TN_ERR_IO;
    }
    if (rc != 0)
        unlink(tmp);
    free(text);
    return rc;
}
