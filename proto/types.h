/* Record types and organization roles (DESIGN section 2), and which roles may sign
 * which types. */
#ifndef TN_PROTO_TYPES_H
#define TN_PROTO_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/error.h"

enum proto_type {
    PROTO_T_COMMISSION = 1,
    PROTO_T_TRANSFORM,
    PROTO_T_AGGREGATE,
    PROTO_T_DISAGGREGATE,
    PROTO_T_SHIP,
    PROTO_T_RECEIVE,
    PROTO_T_INSPECT,
    PROTO_T_DECOMMISSION,
    PROTO_T_MUD_ANCHOR,
    PROTO_T_SUPERSEDE,
    /* governance records, signed by the governance key in the "governance" shard */
    PROTO_T_GOV_ADD_ORG,
    PROTO_T_GOV_REVOKE,
    PROTO_T_GOV_ROTATE,
};

/* Roles are bit flags: an org has a set of them. */
enum proto_role {
    PROTO_ROLE_MANUFACTURER = 1u << 0,
    PROTO_ROLE_SUPPLIER = 1u << 1,
    PROTO_ROLE_ASSEMBLER = 1u << 2,
    PROTO_ROLE_CARRIER = 1u << 3,
    PROTO_ROLE_OPERATOR = 1u << 4,
    PROTO_ROLE_AUDITOR = 1u << 5,
    PROTO_ROLE_GOVERNANCE = 1u << 6, /* only the governance pseudo-org has it */
};
#define PROTO_ROLE_ALL 0x3fu /* the roles an ecosystem file may give */

/* The pseudo-org whose shard holds governance records, signed by the governance key. */
#define PROTO_GOV_ORG "governance"

/* true for gov-add-org, gov-revoke, gov-rotate. */
bool proto_type_is_governance(enum proto_type t);

/* The wire name ("commission", "mud-anchor", ...), or NULL for an invalid value. */
const char *proto_type_name(enum proto_type t);

/* TN_ERR_INVALID for an unknown name. */
int proto_type_parse(const char *name, enum proto_type *out) TN_MUST_CHECK;

const char *proto_role_name(enum proto_role r);
int proto_role_parse(const char *name, enum proto_role *out) TN_MUST_CHECK;

/* true if an org with this role set may sign records of type t. Every org may ship,
 * receive and supersede its own records; governance types need PROTO_ROLE_GOVERNANCE,
 * which allows nothing else. */
bool proto_roles_allow(uint32_t roles, enum proto_type t);

/* Identifiers of networks and orgs: 1..64 of [a-z0-9._-], starting with a letter or
 * digit. Kept this narrow because they appear in checkpoint origins and file names. */
#define PROTO_ID_MAX 64
bool proto_id_ok(const char *s);

#endif
