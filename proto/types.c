#include "proto/types.h"

#include <string.h>

static const char *const type_names[] = {
    [PROTO_T_COMMISSION] = "commission",     [PROTO_T_TRANSFORM] = "transform",
    [PROTO_T_AGGREGATE] = "aggregate",       [PROTO_T_DISAGGREGATE] = "disaggregate",
    [PROTO_T_SHIP] = "ship",                 [PROTO_T_RECEIVE] = "receive",
    [PROTO_T_INSPECT] = "inspect",           [PROTO_T_DECOMMISSION] = "decommission",
    [PROTO_T_MUD_ANCHOR] = "mud-anchor",     [PROTO_T_SUPERSEDE] = "supersede",
    [PROTO_T_GOV_ADD_ORG] = "gov-add-org",   [PROTO_T_GOV_REVOKE] = "gov-revoke",
    [PROTO_T_GOV_ROTATE] = "gov-rotate",
};
#define N_TYPES (sizeof type_names / sizeof type_names[0])

const char *proto_type_name(enum proto_type t)
{
    if ((unsigned)t >= N_TYPES)
        return NULL;
    return type_names[t];
}

int proto_type_parse(const char *name, enum proto_type *out)
{
    for (unsigned t = 1; t < N_TYPES; t++)
        if (strcmp(name, type_names[t]) == 0) {
            *out = (enum proto_type)t;
            return 0;
        }
    return TN_ERR_INVALID;
}

static const struct {
    enum proto_role role;
    const char *name;
} roles[] = {
    {PROTO_ROLE_MANUFACTURER, "manufacturer"}, {PROTO_ROLE_SUPPLIER, "supplier"},
    {PROTO_ROLE_ASSEMBLER, "assembler"},       {PROTO_ROLE_CARRIER, "carrier"},
    {PROTO_ROLE_OPERATOR, "operator"},         {PROTO_ROLE_AUDITOR, "auditor"},
};

const char *proto_role_name(enum proto_role r)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (roles[i].role == r)
            return roles[i].name;
    return NULL;
}

int proto_role_parse(const char *name, enum proto_role *out)
{
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (strcmp(name, roles[i].name) == 0) {
            *out = roles[i].role;
            return 0;
        }
    return TN_ERR_INVALID;
}

bool proto_type_is_governance(enum proto_type t)
{
    return t == PROTO_T_GOV_ADD_ORG || t == PROTO_T_GOV_REVOKE || t == PROTO_T_GOV_ROTATE;
}

bool proto_roles_allow(uint32_t r, enum proto_type t)
{
    if (r & PROTO_ROLE_GOVERNANCE)
        return proto_type_is_governance(t);
    switch (t) {
    case PROTO_T_GOV_ADD_ORG:
    case PROTO_T_GOV_REVOKE:
    case PROTO_T_GOV_ROTATE:
        return false;
    case PROTO_T_SHIP:
    case PROTO_T_RECEIVE:
    case PROTO_T_SUPERSEDE:
        return true;
    case PROTO_T_COMMISSION:
        return r & (PROTO_ROLE_MANUFACTURER | PROTO_ROLE_SUPPLIER);
    case PROTO_T_TRANSFORM:
        return r & (PROTO_ROLE_MANUFACTURER | PROTO_ROLE_SUPPLIER | PROTO_ROLE_ASSEMBLER);
    case PROTO_T_AGGREGATE:
    case PROTO_T_DISAGGREGATE:
        return r & PROTO_ROLE_ASSEMBLER;
    case PROTO_T_MUD_ANCHOR:
        return r & PROTO_ROLE_MANUFACTURER;
    case PROTO_T_INSPECT:
        return r & PROTO_ROLE_AUDITOR;
    case PROTO_T_DECOMMISSION:
        return r & PROTO_ROLE_OPERATOR;
    }
    return false;
}

bool proto_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > PROTO_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}
