/* Offline bundles: one deterministic CBOR file holding everything needed to check an
 * item's pedigree with no node and no database (docs/FORMAT.md):
 *
 *   {"v": 1, "item": text, "proofs": [[record id, tree size, [hash]]], "records": [bytes],
 *    "evidence": [[org, at, kind, a, b]], "ecosystem": bytes, "checkpoints": [note]}
 *
 * records holds the pedigree's records and the whole governance shard; proofs place each
 * record in its org's checkpoint of that size; checkpoints are the orgs' signed notes. */
#ifndef TN_NODE_BUNDLE_H
#define TN_NODE_BUNDLE_H

#include "node/verify.h"

#define BUNDLE_MAX (256u << 20)

/* Writes the bundle of item (its trace over the repository in txn) to out (0644, never
 * overwriting). eco_raw is the ecosystem file as the node holds it. */
int bundle_export(struct store_txn *txn, const struct proto_ecosystem *eco, const char *eco_raw,
                  size_t eco_len, const char *item, const char *out, char *err,
                  size_t errlen) TN_MUST_CHECK;

/* Verifies a bundle against the ecosystem file eco_file[0..eco_len) (the trust anchor: the
 * bundle must carry exactly this file). On success *res holds the trace (release it).
 * TN_ERR_INVALID: malformed bundle or another ecosystem (reason in err). */
int bundle_verify(const uint8_t *bundle, size_t len, const char *eco_file, size_t eco_len,
                  const struct vf_options *opt, struct vf_result *res, char *err,
                  size_t errlen) TN_MUST_CHECK;

#endif
