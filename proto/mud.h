/* MUD files (RFC 8520, with the ACLs of RFC 8519): the validation run before a file is
 * anchored, shown or trusted. Every problem is reported with the JSON Pointer (RFC 6901)
 * of the member it concerns and the name of the rule it breaks; docs/MUD.md lists the
 * rules. Errors make a file unfit to anchor; warnings (literal IP addresses, a short
 * cache-validity, a long systeminfo, ...) are advice for the operator. */
#ifndef TN_PROTO_MUD_H
#define TN_PROTO_MUD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/error.h"

#define PROTO_MUD_MAX_BYTES (1u << 20) /* a larger file is refused unread */
#define PROTO_MUD_MAX_DEPTH 64
#define PROTO_MUD_MAX_ISSUES 200 /* more are counted, not kept */
#define PROTO_MUD_URL_MAX 255    /* it must fit a DHCP option or an LLDP TLV */

#define PROTO_MUD_ROOT "ietf-mud:mud"
#define PROTO_MUD_ACLS "ietf-access-control-list:acls"

struct proto_mud_issue {
    bool warning;
    const char *rule; /* static text: "mud-version", "port-range", ... */
    char path[300];   /* JSON Pointer; "" is the whole document */
    char msg[300];
};

struct proto_mud_report {
    struct proto_mud_issue *issues;
    size_t n_issues, n_errors, n_warnings, n_dropped; /* dropped: past the cap */
    json_t *doc; /* the parsed document (NULL if it is not JSON); owned by the report */
    /* Leaves of the mud container, when present with the right type (else NULL / -1);
     * they point into doc. */
    const char *url, *last_update, *mfg_name, *model_name, *systeminfo, *signature;
    int is_supported;
    int cache_validity; /* 48 when absent, as RFC 8520 says */
};

/* Validates bytes[0..len) as a MUD file; now (seconds since the epoch) is for the
 * "last-update in the future" warning (0: no such warning). Returns 0 when there is no error,
 * TN_ERR_INVALID when there is at least one, TN_ERR_NOMEM. Release rep either way. */
int proto_mud_check(const uint8_t *bytes, size_t len, int64_t now,
                    struct proto_mud_report *rep) TN_MUST_CHECK;

void proto_mud_report_release(struct proto_mud_report *rep);

/* The value of a bare YANG identity, without a module prefix ("ietf-access-control-
 * list:accept" -> "accept"). */
const char *proto_mud_identity(const char *s);

/* True if v is the YANG "empty" value, written [null]. */
bool proto_mud_is_empty_leaf(const json_t *v);

#endif
