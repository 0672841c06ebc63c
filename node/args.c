#include "node/args.h"

#include <stdio.h>
#include <string.h>

int args_parse(int argc, char **argv, const struct args_opt *opts, const char **pos,
               size_t max_pos, size_t *n_pos, char *err, size_t errlen)
{
    bool only_pos = false;

    *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *eq, *val = NULL;
        const struct args_opt *o = NULL;
        size_t name_len;

        if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*n_pos >= max_pos) {
                snprintf(err, errlen, "unexpected argument '%s'", a);
                return TN_ERR_INVALID;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unknown option '%s'", a);
            return TN_ERR_INVALID;
        }
        a += 2;
        eq = strchr(a, '=');
        name_len = eq ? (size_t)(eq - a) : strlen(a);
        for (const struct args_opt *p = opts; p->name; p++)
            if (strlen(p->name) == name_len && strncmp(p->name, a, name_len) == 0)
                o = p;
        if (!o) {
            snprintf(err, errlen, "unknown option '--%.*s'", (int)name_len, a);
            return TN_ERR_INVALID;
        }
        if (o->kind == ARGS_FLAG) {
            if (eq) {
                snprintf(err, errlen, "option '--%s' takes no value", o->name);
                return TN_ERR_INVALID;
            }
            *(bool *)o->target = true;
            continue;
        }
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errlen, "option '--%s' needs a value", o->name);
            return TN_ERR_INVALID;
        }
        if (o->kind == ARGS_VALUE) {
            const char **t = o->target;
            if (*t) {
                snprintf(err, errlen, "option '--%s' given twice", o->name);
                return TN_ERR_INVALID;
            }
            *t = val;
        } else {
            struct args_multi *m = o->target;
            if (m->n >= ARGS_MULTI_MAX) {
                snprintf(err, errlen, "option '--%s' given more than %d times", o->name,
                         ARGS_MULTI_MAX);
                return TN_ERR_INVALID;
            }
            m->v[m->n++] = val;
        }
    }
    return 0;
}

int args_parse_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;

    if (!*s)
        return TN_ERR_INVALID;
    for (; *s; s++) {
        uint64_t digit = (uint64_t)(*s - '0');
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - digit) / 10)
            return TN_ERR_INVALID;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

int args_parse_size(const char *s, uint64_t *out)
{
    char num[32];
    size_t n = strlen(s);
    unsigned shift = 0;
    uint64_t v;

    if (n == 0 || n >= sizeof num)
        return TN_ERR_INVALID;
    memcpy(num, s, n + 1);
    switch (num[n - 1]) {
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: break;
    }
    if (shift)
        num[n - 1] = '\0';
    if (args_parse_u64(num, &v) != 0 || v == 0 || v > (UINT64_MAX >> shift))
        return TN_ERR_INVALID;
    *out = v << shift;
    return 0;
}

int args_check_hostport(const char *s)
{
    const char *colon = strrchr(s, ':');
    uint64_t port;

    if (!colon || colon == s || strlen(s) > 255)
        return TN_ERR_INVALID;
    if (args_parse_u64(colon + 1, &port) != 0 || port == 0 || port > 65535)
        return TN_ERR_INVALID;
    return 0;
}
