/* Event JSON, the input of `tracectl submit` (DESIGN section 6):
 *
 *   {"type": "transform", "id": "client-event-id", "time": 1700000000000,
 *    "inputs": ["itemA", {"item": "itemB", "rec": "<record id hex>"}],
 *    "outputs": ["itemC"], "items": [...], "to": "org", "from": "org",
 *    "ref": "<record id hex>", "attrs": {"k": "text" | 12 | true},
 *    "private": {"name": "value"}}
 *
 * The node fills net, org, seq, prev, the default time, input links and sealed
 * commitments. Errors name the field at fault. */
#ifndef TN_PROTO_EVENT_H
#define TN_PROTO_EVENT_H

#include <stdbool.h>
#include <stddef.h>

#include "crypto/error.h"
#include "proto/ecosystem.h"
#include "proto/record.h"

#define PROTO_EVENT_MAX (64 * 1024) /* one event's JSON text, bytes */

struct proto_private {
    const char *name;
    const char *value;
};

struct proto_event {
    struct proto_record rec; /* type-dependent fields, attrs, eid; time if has_time */
    bool has_time;
    struct proto_private *priv; /* sorted by name like attrs */
    size_t n_priv;
};

/* Parses one event object from text[0..len). ev must not be initialised; release it with
 * proto_event_release (also after an error). */
int proto_event_parse(const char *text, size_t len, struct proto_event *ev, char *err,
                      size_t errlen) TN_MUST_CHECK;

void proto_event_release(struct proto_event *ev);

/* Checks what needs the ecosystem: that org may sign this type (TN_ERR_ROLE) and that
 * to/from name member orgs (TN_ERR_UNKNOWN_ORG). */
int proto_event_check_context(const struct proto_event *ev, const struct proto_ecosystem *eco,
                              const char *org, char *err, size_t errlen) TN_MUST_CHECK;

/* Checks that the record the node will make of ev for (net, org) fits in
 * PROTO_RECORD_MAX even in the worst case (largest seq, time and links), so that an
 * event refused for size is caught before anything is submitted. TN_ERR_TOO_BIG. */
int proto_event_check_size(const struct proto_event *ev, const char *net, const char *org,
                           char *err, size_t errlen) TN_MUST_CHECK;

#endif
