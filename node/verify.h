/* The verifier: walks an item's pedigree backward (trace) or its uses forward
 * (where-used) over any record source, checking every record it touches, and returns the
 * records, the links between them and the findings (DESIGN section 6). Sources: the node's
 * repository (verify_store.c) and offline bundles (bundle.c). */
#ifndef TN_NODE_VERIFY_H
#define TN_NODE_VERIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/ecosystem.h"
#include "storage/repo.h"

enum vf_severity { VF_ERROR, VF_WARNING };
enum vf_verdict { VF_OK, VF_FAIL, VF_INCOMPLETE };

struct vf_finding {
    const char *code; /* BAD_SIGNATURE, CUSTODY_BREAK, ... (static text) */
    enum vf_severity severity;
    bool has_record;
    uint8_t record[PROTO_ID_LEN];
    char detail[320];
};

/* One record of the result. */
struct vf_record {
    uint8_t id[PROTO_ID_LEN];
    bool held; /* false: referenced, but not held (MISSING_RECORD) */
    const char *org;
    uint64_t seq, time;
    enum proto_type type;
    const char **items; /* every item it names (outputs, inputs, items) */
    size_t n_items;
    size_t *parents; /* indexes into vf_result.recs: trace: where it came from; where-used:
                        where it went */
    size_t n_parents, cap_parents;
    bool superseded;
    int worst; /* 0 clean, 1 warning, 2 error */
};

struct vf_result {
    const char *item;
    bool forward; /* where-used */
    enum vf_verdict verdict;
    struct vf_record *recs;
    size_t n_recs;
    struct vf_finding *findings;
    size_t n_findings, cap_findings;
    /* where-used: each item reached and the record that holds it now */
    const char **holders_item;
    size_t *holders_rec;
    size_t n_holders;
    struct proto_arena arena;
    void *priv;
};

/* Where records come from. Pointers it returns stay valid for the walk. */
struct vf_source {
    void *ctx;
    int (*get)(void *ctx, const uint8_t id[PROTO_ID_LEN], const uint8_t **bytes, size_t *len);
    int (*item_each)(void *ctx, const char *item, store_item_cb fn, void *cbctx);
    int (*at)(void *ctx, const char *org, uint64_t seq, uint8_t id[PROTO_ID_LEN]);
    /* size and frozen of a shard; TN_ERR_NOT_FOUND if none is held */
    int (*shard)(void *ctx, const char *org, uint64_t *size, bool *frozen);
    /* the org's latest checkpoint and an inclusion proof of seq in it */
    int (*inclusion)(void *ctx, const char *org, uint64_t seq, const char **note,
                     size_t *note_len, uint8_t (*path)[CRY_HASH_LEN], size_t *path_len);
    /* with trust_store: the org's latest checkpoint, the stored leaf hash at seq and the
     * stored root at size */
    int (*checkpoint)(void *ctx, const char *org, const char **note, size_t *note_len);
    int (*leaf)(void *ctx, const char *org, uint64_t seq, uint8_t out[CRY_HASH_LEN]);
    int (*root)(void *ctx, const char *org, uint64_t size, uint8_t out[CRY_HASH_LEN]);
    int (*refs_each)(void *ctx, const uint8_t id[PROTO_ID_LEN], store_id_cb fn, void *cbctx);
    int (*consumers_each)(void *ctx, const uint8_t id[PROTO_ID_LEN], store_id_cb fn,
                          void *cbctx);
};

struct vf_options {
    bool trust_store; /* signatures and Merkle nodes taken as checked when stored */
    int threads;      /* for signature checks; 0: one per core */
    bool require_checkpoints; /* a record no signed checkpoint covers is an error (bundles
                                 must carry a proof of every record) */
};

/* Walks item's pedigree backward from its latest record (trace) or forward from every
 * record naming it (where-used). Returns 0 with the result (release it), or an error of
 * the source. */
int vf_trace(const struct vf_source *src, const struct proto_ecosystem *eco, const char *item,
             const struct vf_options *opt, struct vf_result *out) TN_MUST_CHECK;
int vf_where_used(const struct vf_source *src, const struct proto_ecosystem *eco,
                  const char *item, const struct vf_options *opt,
                  struct vf_result *out) TN_MUST_CHECK;
/* Checks just the records ids[0..n) (signature, Merkle inclusion, signer key and role,
 * chain, frozen shard), following no link: for records found by other means, such as
 * MUD anchors. */
int vf_check_records(const struct vf_source *src, const struct proto_ecosystem *eco,
                     const uint8_t (*ids)[PROTO_ID_LEN], size_t n, const struct vf_options *opt,
                     struct vf_result *out) TN_MUST_CHECK;
void vf_result_release(struct vf_result *r);

/* Renderings (DESIGN section 6 for JSON). */
const char *vf_verdict_name(enum vf_verdict v);
json_t *vf_finding_json(const struct vf_finding *f);
json_t *vf_result_json(const struct vf_result *r);
void vf_result_text(const struct vf_result *r, FILE *out);
void vf_result_dot(const struct vf_result *r, FILE *out);

/* A source over the repository (read transaction txn). */
void vf_store_source(struct store_txn *txn, struct vf_source *src);

#endif
