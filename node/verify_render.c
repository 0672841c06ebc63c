/* The verifier's results as JSON (DESIGN section 6), as an indented tree for people, and
 * as Graphviz. */
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "node/record_json.h"
#include "node/verify.h"

const char *vf_verdict_name(enum vf_verdict v)
{
    switch (v) {
    case VF_OK: return "ok";
    case VF_FAIL: return "fail";
    case VF_INCOMPLETE: return "incomplete";
    }
    return "fail";
}

json_t *vf_finding_json(const struct vf_finding *f)
{
    return json_pack("{s:s, s:s, s:o, s:s}", "code", f->code, "severity",
                     f->severity == VF_ERROR ? "error" : "warning", "record",
                     f->has_record ? node_json_hex(f->record) : json_null(), "detail", f->detail);
}

json_t *vf_result_json(const struct vf_result *r)
{
    json_t *doc = json_object(), *findings = json_array(), *recs = json_array();

    json_object_set_new(doc, "item", json_string(r->item));
    json_object_set_new(doc, "verdict", json_string(vf_verdict_name(r->verdict)));
    for (size_t i = 0; i < r->n_findings; i++) {
        json_array_append_new(findings, vf_finding_json(&r->findings[i]));
    }
    for (size_t i = 0; i < r->n_recs; i++) {
        const struct vf_record *v = &r->recs[i];
        json_t *o = json_object(), *items = json_array(), *parents = json_array();
        json_object_set_new(o, "id", node_json_hex(v->id));
        json_object_set_new(o, "held", json_boolean(v->held));
        if (v->held) {
            json_object_set_new(o, "org", json_string(v->org));
            json_object_set_new(o, "seq", json_integer((json_int_t)v->seq));
            json_object_set_new(o, "type", json_string(proto_type_name(v->type)));
            json_object_set_new(o, "time", json_integer((json_int_t)v->time));
            for (size_t k = 0; k < v->n_items; k++)
                json_array_append_new(items, json_string(v->items[k]));
        } else {
            json_object_set_new(o, "org", json_null());
            json_object_set_new(o, "type", json_null());
        }
        json_object_set_new(o, "items", items);
        for (size_t k = 0; k < v->n_parents; k++)
            json_array_append_new(parents, node_json_hex(r->recs[v->parents[k]].id));
        json_object_set_new(o, r->forward ? "children" : "parents", parents);
        if (r->forward) /* the same links, under the contract's name too */
            json_object_set_new(o, "parents", json_array());
        json_object_set_new(o, "superseded", json_boolean(v->superseded));
        json_array_append_new(recs, o);
    }
    /* In where-used, "parents" of a record are the records it came from within the result,
     * i.e. those listing it as a child. */
    if (r->forward)
        for (size_t i = 0; i < r->n_recs; i++)
            for (size_t k = 0; k < r->recs[i].n_parents; k++)
                json_array_append_new(
                    json_object_get(json_array_get(recs, r->recs[i].parents[k]), "parents"),
                    node_json_hex(r->recs[i].id));
    json_object_set_new(doc, "findings", findings);
    json_object_set_new(doc, "records", recs);
    if (r->forward) {
        json_t *holders = json_array();
        for (size_t i = 0; i < r->n_holders; i++) {
            const struct vf_record *v = &r->recs[r->holders_rec[i]];
            json_array_append_new(holders, json_pack("{s:s, s:s, s:o, s:s}", "item",
                                                     r->holders_item[i], "org", v->org, "record",
                                                     node_json_hex(v->id), "last", proto_type_name(v->type)));
        }
        json_object_set_new(doc, "holders", holders);
    }
    return doc;
}

static void text_record(const struct vf_result *r, size_t i, int depth, char *seen, FILE *out)
{
    const struct vf_record *v = &r->recs[i];
    char hex[CRY_HEX_LEN(8)];

    cry_hex(hex, v->id, 8);
    fprintf(out, "%*s%s ", depth * 2, "", v->worst == 2 ? "✗" : v->worst == 1 ? "!" : "•");
    if (!v->held)
        fprintf(out, "%s.. (not held here)\n", hex);
    else
        fprintf(out, "%s %s #%llu %s.. %s%s%s\n", v->org, proto_type_name(v->type),
                (unsigned long long)v->seq, hex, v->n_items ? v->items[0] : "",
                v->n_items > 1 ? " …" : "", v->superseded ? "  [superseded]" : "");
    for (size_t k = 0; k < r->n_findings; k++) {
        const struct vf_finding *f = &r->findings[k];
        if (f->has_record && memcmp(f->record, v->id, PROTO_ID_LEN) == 0)
            fprintf(out, "%*s  %s %s: %s\n", depth * 2, "",
                    f->severity == VF_ERROR ? "ERROR" : "warning", f->code, f->detail);
    }
    if (seen[i]) {
        if (v->n_parents)
            fprintf(out, "%*s  (shown above)\n", depth * 2, "");
        return;
    }
    seen[i] = 1;
    for (size_t k = 0; k < v->n_parents; k++)
        text_record(r, v->parents[k], depth + 1, seen, out);
}

void vf_result_text(const struct vf_result *r, FILE *out)
{
    char *seen = calloc(r->n_recs + 1, 1);

    fprintf(out, "%s of %s\n", r->forward ? "where used" : "pedigree", r->item);
    for (size_t i = 0; seen && i < r->n_recs; i++)
        if (!seen[i])
            text_record(r, i, 1, seen, out);
    free(seen);
    for (size_t k = 0; k < r->n_findings; k++)
        if (!r->findings[k].has_record)
            fprintf(out, "  %s %s: %s\n",
                    r->findings[k].severity == VF_ERROR ? "ERROR" : "warning",
                    r->findings[k].code, r->findings[k].detail);
    if (r->forward && r->n_holders) {
        fprintf(out, "held now:\n");
        for (size_t i = 0; i < r->n_holders; i++) {
            const struct vf_record *v = &r->recs[r->holders_rec[i]];
            fprintf(out, "  %s: %s (%s)\n", r->holders_item[i], v->org, proto_type_name(v->type));
        }
    }
    fprintf(out, "verdict: %s (%zu records, %zu findings)\n", vf_verdict_name(r->verdict),
            r->n_recs, r->n_findings);
}

void vf_result_dot(const struct vf_result *r, FILE *out)
{
    fprintf(out, "digraph \"%s\" {\n  rankdir=%s;\n  node [shape=box, fontname=\"monospace\"];\n",
            r->item, r->forward ? "LR" : "BT");
    for (size_t i = 0; i < r->n_recs; i++) {
        const struct vf_record *v = &r->recs[i];
        char hex[CRY_HEX_LEN(6)];
        const char *color = v->worst == 2 ? "red" : v->worst == 1 ? "orange" : "black";
        cry_hex(hex, v->id, 6);
        if (v->held)
            fprintf(out, "  r%zu [label=\"%s\\n%s #%llu\\n%s\", color=%s%s];\n", i, v->org,
                    proto_type_name(v->type), (unsigned long long)v->seq, hex, color,
                    v->worst ? ", penwidth=2" : "");
        else
            fprintf(out, "  r%zu [label=\"missing\\n%s\", style=dashed, color=gray];\n", i, hex);
    }
    for (size_t i = 0; i < r->n_recs; i++)
        for (size_t k = 0; k < r->recs[i].n_parents; k++)
            fprintf(out, r->forward ? "  r%zu -> r%zu;\n" : "  r%2$zu -> r%1$zu;\n", i,
                    r->recs[i].parents[k]);
    fprintf(out, "  label=\"%s: %s\";\n}\n", r->item, vf_verdict_name(r->verdict));
}
