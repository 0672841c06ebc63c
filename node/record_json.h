/* A record as the JSON users see (`tracectl get`, DESIGN section 6). */
#ifndef TN_NODE_RECORD_JSON_H
#define TN_NODE_RECORD_JSON_H

#include <jansson.h>

#include "proto/record.h"

/* New JSON object: id, org, seq, prev, time, type, the payload fields, signer. */
json_t *node_record_json(const struct proto_record *r, const uint8_t id[PROTO_ID_LEN]);

/* Lowercase hex of a 32-byte id as a new JSON string. */
json_t *node_json_hex(const uint8_t id[32]);

#endif
