/* `tracectl mud verify`: is this MUD file, byte for byte, the one its manufacturer
 * anchored, and is it still the current version? Optionally: was the device itself made
 * by that manufacturer, of that model, with a clean pedigree? docs/MUD.md describes the
 * statuses and findings. */
#ifndef TN_NODE_MUD_VERIFY_H
#define TN_NODE_MUD_VERIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/ecosystem.h"
#include "storage/repo.h"

struct node_mud_verify_opts {
    const char *url;    /* --url: the URL the device presented, or NULL */
    const char *device; /* --device ITEM, or NULL */
    const char *org;    /* --org: only this org's anchors count, or NULL */
    /* strings must be valid UTF-8 (they are echoed in the JSON result) */
    bool trust_store;
    int threads;
};

/* Verifies the presented bytes against the anchors held in txn. On success returns 0,
 * *out gets the result (DESIGN section 6 "mud verify" shape, plus more) and *exit_code
 * the command's exit code (0 VERIFIED and clean, 1 any other status or an error finding,
 * 3 the device's pedigree is incomplete). Otherwise a project error code with the
 * reason in err (a usage problem: TN_ERR_INVALID). */
int node_mud_verify(struct store_txn *txn, const struct proto_ecosystem *eco,
                    const uint8_t *bytes, size_t len, const struct node_mud_verify_opts *o,
                    json_t **out, int *exit_code, char *err, size_t errlen) TN_MUST_CHECK;

/* The result for people. */
void node_mud_verify_text(const json_t *res, FILE *out);

#endif
