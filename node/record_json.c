#include "node/record_json.h"

#include "crypto/encode.h"

json_t *node_json_hex(const uint8_t id[32])
{
    char hex[CRY_HEX_LEN(32)];

    cry_hex(hex, id, 32);
    return json_string(hex);
}

static json_t *list(const char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *node_record_json(const struct proto_record *r, const uint8_t id[PROTO_ID_LEN])
{
    json_t *o = json_object();
    char pk[CRY_PK_TEXT_LEN];

    json_object_set_new(o, "id", node_json_hex(id));
    json_object_set_new(o, "org", json_string(r->org));
    json_object_set_new(o, "seq", json_integer((json_int_t)r->seq));
    json_object_set_new(o, "prev", r->has_prev ? node_json_hex(r->prev) : json_null());
    json_object_set_new(o, "time", json_integer((json_int_t)r->time));
    json_object_set_new(o, "type", json_string(proto_type_name(r->type)));
    json_object_set_new(o, "v", json_integer((json_int_t)r->v));
    json_object_set_new(o, "net", json_string(r->net));
    if (r->eid)
        json_object_set_new(o, "eid", json_string(r->eid));
    if (r->n_inputs) {
        json_t *a = json_array();
        for (size_t i = 0; i < r->n_inputs; i++)
            json_array_append_new(a, json_pack("{s:s, s:o}", "item", r->inputs[i].item, "rec",
                                               r->inputs[i].has_rec ? node_json_hex(r->inputs[i].rec)
                                                                    : json_null()));
        json_object_set_new(o, "inputs", a);
    }
    if (r->n_outputs)
        json_object_set_new(o, "outputs", list(r->outputs, r->n_outputs));
    if (r->n_items)
        json_object_set_new(o, "items", list(r->items, r->n_items));
    if (r->to)
        json_object_set_new(o, "to", json_string(r->to));
    if (r->from)
        json_object_set_new(o, "from", json_string(r->from));
    if (r->has_ref)
        json_object_set_new(o, "ref", node_json_hex(r->ref));
    if (r->n_attrs) {
        json_t *a = json_object();
        for (size_t i = 0; i < r->n_attrs; i++) {
            const struct proto_attr *x = &r->attrs[i];
            json_t *v = x->kind == PROTO_VAL_TEXT  ? json_string(x->text)
                        : x->kind == PROTO_VAL_INT ? json_integer(x->num)
                                                   : json_boolean(x->flag);
            json_object_set_new(a, x->name, v);
        }
        json_object_set_new(o, "attrs", a);
    }
    if (r->n_sealed) {
        json_t *a = json_object();
        for (size_t i = 0; i < r->n_sealed; i++)
            json_object_set_new(a, r->sealed[i].name, node_json_hex(r->sealed[i].digest));
        json_object_set_new(o, "sealed", a);
    }
    if (r->mud) {
        json_t *m = json_object();
        json_object_set_new(m, "url", json_string(r->mud->url));
        json_object_set_new(m, "sha256", node_json_hex(r->mud->sha256));
        json_object_set_new(m, "size", json_integer((json_int_t)r->mud->size));
        json_object_set_new(m, "last_update", json_string(r->mud->last_update));
        if (r->mud->model)
            json_object_set_new(m, "model", json_string(r->mud->model));
        if (r->mud->mfg_name)
            json_object_set_new(m, "mfg_name", json_string(r->mud->mfg_name));
        if (r->mud->has_sig)
            json_object_set_new(m, "sig_sha256", node_json_hex(r->mud->sig_sha256));
        json_object_set_new(o, "mud", m);
    }
    cry_pk_format(pk, r->signer);
    json_object_set_new(o, "signer", json_string(pk));
    return o;
}
