/* MUD file validation: see mud.h. Rules are named after what they guard; docs/MUD.md
 * gives each with its source in RFC 8520 / RFC 8519.
 *
 * The bytes are first scanned by hand (UTF-8, nesting depth), because those problems
 * must be reported with a path and before jansson allocates anything for a hostile
 * nesting; jansson then parses with duplicate member names refused, and the tree is
 * walked rule by rule with the JSON Pointer of the member being checked. */
#include "proto/mud.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/datetime.h"
#include "proto/utf8.h"

/* --- the report ------------------------------------------------------------------------ */

struct ctx {
    struct proto_mud_report *rep;
    char path[sizeof(((struct proto_mud_issue *)0)->path)];
    size_t plen;
    int nomem;
    int64_t now;
    /* ACL names (pointing into the document) and which policies use each */
    const char **acl_names;
    unsigned *acl_dirs; /* bit 1: from-device-policy, bit 2: to-device-policy */
    size_t n_acls;
    bool has_extensions;
    bool have_acls; /* the acl list exists: policy names can be resolved */
};

#define DIR_FROM 1u
#define DIR_TO 2u

__attribute__((format(printf, 5, 0))) static void add_issue(struct ctx *c, bool warning,
                                                            const char *rule, const char *path,
                                                            const char *fmt, va_list ap)
{
    struct proto_mud_report *r = c->rep;
    struct proto_mud_issue *is;

    if (warning)
        r->n_warnings++;
    else
        r->n_errors++;
    if (r->n_issues >= PROTO_MUD_MAX_ISSUES) {
        r->n_dropped++;
        return;
    }
    if (!r->issues && !(r->issues = calloc(PROTO_MUD_MAX_ISSUES, sizeof *r->issues))) {
        c->nomem = 1;
        return;
    }
    is = &r->issues[r->n_issues++];
    is->warning = warning;
    is->rule = rule;
    snprintf(is->path, sizeof is->path, "%s", path);
    vsnprintf(is->msg, sizeof is->msg, fmt, ap);
    proto_utf8_trim(is->msg); /* a long quoted value may have been cut mid-character */
}

__attribute__((format(printf, 3, 4))) static void error(struct ctx *c, const char *rule,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_issue(c, false, rule, c->path, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void warn(struct ctx *c, const char *rule,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_issue(c, true, rule, c->path, fmt, ap);
    va_end(ap);
}

/* Appends one JSON Pointer segment (with ~ and / escaped) to the current path and
 * returns the length to restore with pop(). A path too long to keep ends in "...". */
static size_t push_n(struct ctx *c, const char *seg, size_t n)
{
    size_t old = c->plen, cap = sizeof c->path - 4;

    if (c->plen < cap)
        c->path[c->plen++] = '/';
    for (size_t i = 0; i < n && c->plen < cap; i++) {
        if (seg[i] == '~' || seg[i] == '/') {
            if (c->plen + 2 > cap) { /* never cut an escape in half */
                c->plen = cap;
                break;
            }
            c->path[c->plen++] = '~';
            c->path[c->plen++] = seg[i] == '~' ? '0' : '1';
        } else {
            c->path[c->plen++] = seg[i];
        }
    }
    if (c->plen >= cap) { /* cut on a character boundary, and say so */
        c->path[cap] = '\0';
        proto_utf8_trim(c->path);
        c->plen = strlen(c->path);
        memcpy(c->path + c->plen, "...", 3);
        c->plen += 3;
    }
    c->path[c->plen] = '\0';
    return old;
}

static size_t push(struct ctx *c, const char *seg)
{
    return push_n(c, seg, strlen(seg));
}

static size_t push_index(struct ctx *c, size_t i)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%zu", i);
    return push(c, buf);
}

static void pop(struct ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* --- byte-level checks: UTF-8 and nesting, with the path of the offending byte -------- */

struct frame {
    bool object;
    bool want_key; /* object: the next string is a member name */
    size_t index;  /* array: the element being read */
    const uint8_t *key;
    size_t key_len;
};

struct scan {
    const uint8_t *p;
    size_t len;
    struct frame stack[PROTO_MUD_MAX_DEPTH + 1];
    size_t depth;
    size_t bad_utf8, too_deep; /* offsets, or SIZE_MAX */
};

/* Walks the bytes up to stop (or the end), keeping the stack of containers, and notes
 * the first invalid UTF-8 byte and the first container past the depth limit. It is a
 * structural scan, not a parser: jansson judges the syntax afterwards. */
static void scan_bytes(struct scan *s, size_t stop)
{
    size_t i = 0;

    s->depth = 0;
    s->bad_utf8 = s->too_deep = SIZE_MAX;
    if (stop > s->len)
        stop = s->len;
    while (i < stop) {
        uint8_t ch = s->p[i];
        struct frame *top = s->depth ? &s->stack[s->depth - 1] : NULL;
        if (ch == '"') {
            size_t start = ++i;
            while (i < s->len && s->p[i] != '"') {
                size_t l;
                if (s->p[i] == '\\' && ++i == s->len) /* an escape: skip the character after it */
                    break;
                if ((l = proto_utf8_char_len(s->p + i, s->len - i)) == 0) {
                    s->bad_utf8 = i;
                    return;
                }
                i += l;
            }
            if (top && top->object && top->want_key) {
                top->key = s->p + start;
                top->key_len = (i < s->len ? i : s->len) - start;
                top->want_key = false;
            }
            i++;
        } else if (ch == '{' || ch == '[') {
            if (s->depth >= PROTO_MUD_MAX_DEPTH) {
                s->too_deep = i;
                return;
            }
            s->stack[s->depth++] = (struct frame){.object = ch == '{', .want_key = ch == '{'};
            i++;
        } else if (ch == '}' || ch == ']') {
            if (s->depth)
                s->depth--;
            i++;
        } else if (ch == ',') {
            if (top && top->object)
                top->want_key = true, top->key = NULL;
            else if (top)
                top->index++;
            i++;
        } else {
            size_t l = proto_utf8_char_len(s->p + i, s->len - i);
            if (l == 0) {
                s->bad_utf8 = i;
                return;
            }
            i += l;
        }
    }
}

/* The JSON Pointer of the member being read at the end of the last scan. */
static void scan_path(const struct scan *s, struct ctx *c)
{
    pop(c, 0);
    for (size_t d = 0; d < s->depth; d++) {
        const struct frame *f = &s->stack[d];
        if (!f->object)
            push_index(c, f->index);
        else if (f->key)
            push_n(c, (const char *)f->key, f->key_len);
        else
            break;
    }
}

/* --- value checks ------------------------------------------------------------------------ */

static bool is_uri_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("-._~:/?#[]@!$&'()*+,;=%", ch) != NULL);
}

static bool is_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

/* An absolute URI (RFC 3986): scheme ":" then URI characters and valid %XX escapes.
 * why gets the reason when it is not. */
static bool uri_ok(const char *s, const char **why)
{
    size_t i = 0;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        *why = "is not an absolute URI (no scheme)";
        return false;
    }
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || (s[i] && strchr("+-.", s[i])))
        i++;
    if (s[i] != ':' || !s[i + 1]) {
        *why = "is not an absolute URI (no scheme)";
        return false;
    }
    for (; s[i]; i++) {
        if (!is_uri_char((unsigned char)s[i])) {
            *why = "holds a character a URI may not (space, quote, control or non-ASCII)";
            return false;
        }
        if (s[i] == '%' && !(is_hex((unsigned char)s[i + 1]) && is_hex((unsigned char)s[i + 2]))) {
            *why = "has a '%' that does not start a %XX escape";
            return false;
        }
    }
    return true;
}

/* A host name (RFC 1123 labels of letters, digits and '-', at most 253 octets). */
static bool hostname_ok(const char *s, size_t n)
{
    size_t label = 0;

    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return s[n - 1] != '-';
}

/* A literal IPv4 address (four dot-separated decimal parts) or IPv6 address (hex digits
 * and colons, perhaps with a dotted IPv4 tail), as inet:host also allows. */
static bool looks_like_ip(const char *s)
{
    size_t parts = 0, digits = 0, colons = 0;
    const char *p;

    for (p = s; *p; p++) {
        if (*p >= '0' && *p <= '9' && digits < 3) {
            digits++;
        } else if (*p == '.' && digits > 0) {
            parts++;
            digits = 0;
        } else {
            break;
        }
    }
    if (!*p && digits > 0 && parts == 3)
        return true;
    for (p = s; *p; p++) {
        if (*p == ':')
            colons++;
        else if (!is_hex((unsigned char)*p) && *p != '.')
            return false;
    }
    return colons >= 2;
}

/* An https URL with a host and no user information; the mud-url rule. */
static bool https_url_ok(const char *s, const char **why)
{
    const char *host, *end, *colon;

    if (!uri_ok(s, why))
        return false;
    if (strncasecmp(s, "https://", 8) != 0) {
        *why = "must be an https URL (RFC 8520 section 3.3)";
        return false;
    }
    host = s + 8;
    end = host + strcspn(host, "/?#");
    if (memchr(host, '@', (size_t)(end - host))) {
        *why = "must not carry user information (user@)";
        return false;
    }
    if (host < end && *host == '[') { /* an IPv6 literal */
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close) {
            *why = "has an unterminated [IPv6] host";
            return false;
        }
        colon = close[1] == ':' ? close + 1 : NULL;
        if (!colon && close + 1 != end) {
            *why = "has characters after its [IPv6] host";
            return false;
        }
    } else {
        colon = memchr(host, ':', (size_t)(end - host));
        if (!hostname_ok(host, (size_t)((colon ? colon : end) - host))) {
            *why = "must name a valid host";
            return false;
        }
    }
    if (colon) {
        long port = 0;
        const char *p = colon + 1;
        if (p == end) {
            *why = "has an empty port";
            return false;
        }
        for (; p < end; p++) {
            if (*p < '0' || *p > '9' || (port = port * 10 + (*p - '0')) > 65535) {
                *why = "has a port that is not 0..65535";
                return false;
            }
        }
    }
    return true;
}

const char *proto_mud_identity(const char *s)
{
    const char *colon = strrchr(s, ':');
    return colon ? colon + 1 : s;
}

bool proto_mud_is_empty_leaf(const json_t *v)
{
    return json_is_array(v) && json_array_size(v) == 1 && json_is_null(json_array_get(v, 0));
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

static bool in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* Members of obj not in known: a warning each (unknown nodes are ignored by managers,
 * RFC 8520 section 3.9), or an error where ignoring them would widen an ACL. */
static void unknown_members(struct ctx *c, json_t *obj, const char *const *known, bool fatal,
                            const char *what)
{
    const char *k;
    json_t *v;

    json_object_foreach(obj, k, v) {
        size_t old;
        if (in_list(k, known))
            continue;
        old = push(c, k);
        if (fatal && !(c->has_extensions && strchr(k, ':')))
            error(c, "unknown-member", "is not a member of %s; a manager that ignored it would "
                                       "allow more than the file means", what);
        else
            warn(c, "unknown-member", "is not a member of %s defined by RFC 8520/8519; "
                                      "managers ignore it", what);
        pop(c, old);
    }
}

/* obj[name] when obj is an object; an error when it is present with another type. */
static json_t *member(struct ctx *c, json_t *obj, const char *name, json_type want,
                      const char *rule, const char *want_text)
{
    json_t *v = json_object_get(obj, name);
    if (v && json_typeof(v) != want) {
        size_t old = push(c, name);
        error(c, rule, "must be %s, not %s", want_text, type_name(v));
        pop(c, old);
        return NULL;
    }
    return v;
}

/* --- the mud container ------------------------------------------------------------------- */

static void check_uri_leaf(struct ctx *c, json_t *mud, const char *name, const char *rule,
                           const char **out)
{
    json_t *v = member(c, mud, name, JSON_STRING, rule, "a string (a URI)");
    const char *why;
    size_t old;

    if (!v)
        return;
    old = push(c, name);
    if (!uri_ok(json_string_value(v), &why))
        error(c, rule, "'%s' %s", json_string_value(v), why);
    else if (out)
        *out = json_string_value(v);
    pop(c, old);
}

static void check_string_leaf(struct ctx *c, json_t *mud, const char *name, const char **out)
{
    json_t *v = member(c, mud, name, JSON_STRING, "string-leaf", "a string");
    if (v && out)
        *out = json_string_value(v);
}

static void check_policy(struct ctx *c, json_t *mud, const char *name, unsigned dir)
{
    json_t *pol = json_object_get(mud, name), *lists, *list;
    size_t old = push(c, name), old2, i;

    if (!pol)
        goto out;
    if (!json_is_object(pol)) {
        error(c, "policy", "must be an object holding access-lists, not %s", type_name(pol));
        goto out;
    }
    lists = json_object_get(pol, "access-lists");
    if (!json_is_object(lists)) {
        error(c, "policy", "must hold an access-lists object");
        goto out;
    }
    old2 = push(c, "access-lists");
    list = json_object_get(lists, "access-list");
    if (!json_is_array(list)) {
        error(c, "policy", "must hold an access-list array");
        pop(c, old2);
        goto out;
    }
    push(c, "access-list");
    for (i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i), *n;
        size_t old3 = push_index(c, i), k;
        if (!json_is_object(e) || !json_is_string(n = json_object_get(e, "name"))) {
            error(c, "policy", "must be an object with a name (an ACL name)");
            pop(c, old3);
            continue;
        }
        push(c, "name");
        for (k = 0; k < c->n_acls; k++)
            if (c->acl_names[k] && strcmp(c->acl_names[k], json_string_value(n)) == 0)
                break;
        if (k == c->n_acls && c->have_acls)
            error(c, "policy-acl", "names ACL '%s', which /%s/acl does not define",
                  json_string_value(n), PROTO_MUD_ACLS);
        else
            c->acl_dirs[k] |= dir;
        pop(c, old3);
    }
    pop(c, old2);
out:
    pop(c, old);
}

static void check_mud(struct ctx *c, json_t *mud)
{
    static const char *const known[] = {
        "mud-version",  "mud-url",   "last-update",        "mud-signature",
        "cache-validity", "is-supported", "systeminfo",     "mfg-name",
        "model-name",   "firmware-rev", "software-rev",    "documentation",
        "extensions",   "from-device-policy", "to-device-policy", NULL};
    struct proto_mud_report *r = c->rep;
    const char *why;
    json_t *v;
    size_t old;

    /* mud-version: mandatory, 1 */
    v = json_object_get(mud, "mud-version");
    old = push(c, "mud-version");
    if (!v)
        error(c, "mud-version", "is missing; mud-version is mandatory (RFC 8520 section 3.2)");
    else if (!json_is_integer(v) || json_integer_value(v) != 1)
        error(c, "mud-version", "must be the integer 1, the only MUD version (RFC 8520 "
                                "section 3.2)");
    pop(c, old);

    /* mud-url: mandatory, https, at most 255 octets */
    v = json_object_get(mud, "mud-url");
    old = push(c, "mud-url");
    if (!v)
        error(c, "mud-url", "is missing; mud-url is mandatory (RFC 8520 section 3.3)");
    else if (!json_is_string(v))
        error(c, "mud-url", "must be a string (an https URL), not %s", type_name(v));
    else if (json_string_length(v) > PROTO_MUD_URL_MAX)
        error(c, "mud-url", "is %zu octets; a MUD URL must fit DHCP and LLDP (at most %d)",
              json_string_length(v), PROTO_MUD_URL_MAX);
    else if (!https_url_ok(json_string_value(v), &why))
        error(c, "mud-url", "'%s' %s", json_string_value(v), why);
    else
        r->url = json_string_value(v);
    pop(c, old);

    /* last-update: mandatory, a real date-time */
    v = json_object_get(mud, "last-update");
    old = push(c, "last-update");
    if (!v) {
        error(c, "last-update", "is missing; last-update is mandatory (RFC 8520 section 3.4)");
    } else if (!json_is_string(v)) {
        error(c, "last-update", "must be a date-time string, not %s", type_name(v));
    } else {
        struct proto_instant t;
        char e[160];
        if (proto_datetime_parse(json_string_value(v), json_string_length(v), &t, e,
                                 sizeof e) != 0) {
            error(c, "last-update", "'%s' is not a real RFC 3339 date-time: %s",
                  json_string_value(v), e);
        } else {
            r->last_update = json_string_value(v);
            if (c->now && t.sec > c->now + 86400)
                warn(c, "last-update-future", "'%s' is more than a day in the future",
                     json_string_value(v));
        }
    }
    pop(c, old);

    /* is-supported: mandatory boolean */
    v = json_object_get(mud, "is-supported");
    old = push(c, "is-supported");
    if (!v)
        error(c, "is-supported", "is missing; is-supported is mandatory (RFC 8520 section 3.6)");
    else if (!json_is_boolean(v))
        error(c, "is-supported", "must be a boolean (true or false), not %s", type_name(v));
    else
        r->is_supported = json_is_true(v);
    pop(c, old);

    /* cache-validity: 1..168 hours, 48 when absent */
    v = json_object_get(mud, "cache-validity");
    old = push(c, "cache-validity");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 168)) {
        if (json_is_integer(v))
            error(c, "cache-validity", "is %lld; it must be 1..168 hours (RFC 8520 section "
                                       "3.5)", (long long)json_integer_value(v));
        else
            error(c, "cache-validity", "must be an integer of 1..168 hours, not %s",
                  type_name(v));
    } else if (v) {
        r->cache_validity = (int)json_integer_value(v);
        if (r->cache_validity < 24)
            warn(c, "cache-validity-low", "is %d hours; RFC 8520 recommends at least 24",
                 r->cache_validity);
    }
    pop(c, old);

    check_uri_leaf(c, mud, "mud-signature", "mud-signature", &r->signature);
    if (r->signature && strncasecmp(r->signature, "https://", 8) != 0) {
        old = push(c, "mud-signature");
        warn(c, "mud-signature", "is not an https URL");
        pop(c, old);
    }
    check_uri_leaf(c, mud, "documentation", "documentation", NULL);
    check_string_leaf(c, mud, "systeminfo", &r->systeminfo);
    if (r->systeminfo && utf8_chars(r->systeminfo) > 60) {
        old = push(c, "systeminfo");
        warn(c, "systeminfo-length", "is %zu characters; RFC 8520 section 3.7 says at most 60",
             utf8_chars(r->systeminfo));
        pop(c, old);
    }
    check_string_leaf(c, mud, "mfg-name", &r->mfg_name);
    check_string_leaf(c, mud, "model-name", &r->model_name);
    check_string_leaf(c, mud, "firmware-rev", NULL);
    check_string_leaf(c, mud, "software-rev", NULL);

    if ((v = member(c, mud, "extensions", JSON_ARRAY, "extensions", "an array of strings"))) {
        old = push(c, "extensions");
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            size_t o2 = push_index(c, i);
            if (!json_is_string(e) || json_string_length(e) < 1 || json_string_length(e) > 40)
                error(c, "extensions", "must be a string of 1..40 characters");
            for (size_t j = 0; j < i && json_is_string(e); j++)
                if (json_equal(e, json_array_get(v, j))) {
                    error(c, "extensions", "'%s' is listed twice", json_string_value(e));
                    break;
                }
            pop(c, o2);
        }
        pop(c, old);
    }

    check_policy(c, mud, "from-device-policy", DIR_FROM);
    check_policy(c, mud, "to-device-policy", DIR_TO);
    if (!json_object_get(mud, "from-device-policy") && !json_object_get(mud, "to-device-policy"))
        warn(c, "no-policy", "has neither from-device-policy nor to-device-policy: the file "
                             "allows nothing");
    unknown_members(c, mud, known, false, "the mud container");
}

/* --- ACLs -------------------------------------------------------------------------------- */

/* The header fields RFC 8519 and RFC 8520 define for each match; any other member is an
 * error (ignoring it would widen the ACE). ietf-mud:direction-initiated is listed where it
 * has its own check. */
static const char *const ipv4_fields[] = {
    "dscp", "ecn", "length", "ttl", "protocol", "ihl", "flags", "offset", "identification",
    "source-ipv4-network", "destination-ipv4-network", "ietf-acldns:src-dnsname",
    "ietf-acldns:dst-dnsname", "ietf-mud:direction-initiated", NULL};
static const char *const ipv6_fields[] = {
    "dscp", "ecn", "length", "ttl", "protocol", "flow-label", "source-ipv6-network",
    "destination-ipv6-network", "ietf-acldns:src-dnsname", "ietf-acldns:dst-dnsname",
    "ietf-mud:direction-initiated", NULL};
static const char *const tcp_fields[] = {
    "sequence-number", "acknowledgement-number", "data-offset", "reserved", "flags",
    "window-size", "urgent-pointer", "options", "source-port", "destination-port",
    "ietf-mud:direction-initiated", NULL};
static const char *const udp_fields[] = {"length", "source-port", "destination-port",
                                         "ietf-mud:direction-initiated", NULL};
static const char *const icmp_fields[] = {"type", "code", "rest-of-header",
                                          "ietf-mud:direction-initiated", NULL};
static const char *const port_fields[] = {"operator", "port", "lower-port", "upper-port", NULL};

/* A port match: {operator?, port} or {lower-port, upper-port} (RFC 8519). */
static void check_port(struct ctx *c, json_t *l4, const char *name)
{
    static const char *const ops[] = {"eq", "lte", "gte", "neq", NULL};
    json_t *p = json_object_get(l4, name), *v;
    size_t old;

    if (!p)
        return;
    old = push(c, name);
    if (!json_is_object(p)) {
        error(c, "port", "must be an object ({operator, port} or {lower-port, upper-port})");
    } else if (json_object_get(p, "lower-port") || json_object_get(p, "upper-port")) {
        json_t *lo = json_object_get(p, "lower-port"), *hi = json_object_get(p, "upper-port");
        if (!json_is_integer(lo) || !json_is_integer(hi))
            error(c, "port", "a range needs integer lower-port and upper-port");
        else if (json_integer_value(lo) < 0 || json_integer_value(lo) > 65535 ||
                 json_integer_value(hi) < 0 || json_integer_value(hi) > 65535)
            error(c, "port-range", "%lld..%lld is outside 0..65535",
                  (long long)json_integer_value(lo), (long long)json_integer_value(hi));
        else if (json_integer_value(lo) > json_integer_value(hi))
            error(c, "port-range", "lower-port %lld is above upper-port %lld",
                  (long long)json_integer_value(lo), (long long)json_integer_value(hi));
        if (json_object_get(p, "port") || json_object_get(p, "operator"))
            error(c, "port", "mixes a range with operator/port");
    } else {
        size_t o2;
        if ((v = json_object_get(p, "operator"))) {
            o2 = push(c, "operator");
            if (!json_is_string(v) || !in_list(proto_mud_identity(json_string_value(v)), ops))
                error(c, "port", "must be one of eq, lte, gte, neq");
            pop(c, o2);
        }
        v = json_object_get(p, "port");
        o2 = push(c, "port");
        if (!v)
            error(c, "port", "is missing");
        else if (!json_is_integer(v))
            error(c, "port", "must be an integer of 0..65535, not %s", type_name(v));
        else if (json_integer_value(v) < 0 || json_integer_value(v) > 65535)
            error(c, "port-range", "%lld is not a port: ports are 0..65535",
                  (long long)json_integer_value(v));
        pop(c, o2);
    }
    if (json_is_object(p))
        unknown_members(c, p, port_fields, true, "a port match");
    pop(c, old);
}

static void no_direction(struct ctx *c, json_t *obj, const char *where)
{
    if (json_object_get(obj, "ietf-mud:direction-initiated")) {
        size_t old = push(c, "ietf-mud:direction-initiated");
        error(c, "direction-initiated", "is only allowed under tcp, not under %s (RFC 8520 "
                                        "section 4.2)", where);
        pop(c, old);
    }
}

static void check_l3(struct ctx *c, json_t *l3, const char *name, unsigned dirs,
                     json_int_t *protocol)
{
    static const char *const nets[] = {"source-ipv4-network", "destination-ipv4-network",
                                       "source-ipv6-network", "destination-ipv6-network", NULL};
    json_t *v;
    size_t old = push(c, name);

    if (!json_is_object(l3)) {
        error(c, "matches", "must be an object, not %s", type_name(l3));
        pop(c, old);
        return;
    }
    if ((v = json_object_get(l3, "protocol"))) {
        size_t o2 = push(c, "protocol");
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 255)
            error(c, "protocol-range", "must be an IP protocol number of 0..255");
        else
            *protocol = json_integer_value(v);
        pop(c, o2);
    }
    for (size_t i = 0; nets[i]; i++)
        if (json_object_get(l3, nets[i])) {
            size_t o2 = push(c, nets[i]);
            warn(c, "literal-ip", "names a literal IP network; managers SHOULD NOT apply such "
                                  "files without review (RFC 8520 section 2)");
            pop(c, o2);
        }
    for (int src = 0; src < 2; src++) {
        const char *key = src ? "ietf-acldns:src-dnsname" : "ietf-acldns:dst-dnsname";
        size_t o2;
        if (!(v = json_object_get(l3, key)))
            continue;
        o2 = push(c, key);
        if (!json_is_string(v))
            error(c, "dnsname", "must be a host name string");
        else if (looks_like_ip(json_string_value(v)))
            warn(c, "literal-ip", "'%s' is a literal IP address", json_string_value(v));
        else if (!hostname_ok(json_string_value(v), json_string_length(v)))
            error(c, "dnsname", "'%s' is not a valid host name", json_string_value(v));
        if (src && (dirs & DIR_FROM))
            error(c, "dnsname-direction", "src-dnsname in an ACL of from-device-policy: the "
                                          "device is the source (RFC 8520 section 8 MUST NOT)");
        if (!src && (dirs & DIR_TO))
            error(c, "dnsname-direction", "dst-dnsname in an ACL of to-device-policy: the "
                                          "device is the destination (RFC 8520 section 8 MUST "
                                          "NOT)");
        pop(c, o2);
    }
    no_direction(c, l3, name);
    unknown_members(c, l3, strcmp(name, "ipv4") == 0 ? ipv4_fields : ipv6_fields, true, name);
    pop(c, old);
}

static void check_mud_match(struct ctx *c, json_t *m)
{
    static const char *const empties[] = {"same-manufacturer", "local-networks",
                                          "my-controller", NULL};
    size_t old = push(c, "ietf-mud:mud"), n = 0;
    const char *k, *why;
    json_t *v;

    if (!json_is_object(m)) {
        error(c, "mud-match", "must be an object, not %s", type_name(m));
        pop(c, old);
        return;
    }
    json_object_foreach(m, k, v) {
        size_t o2 = push(c, k);
        n++;
        if (in_list(k, empties)) {
            if (!proto_mud_is_empty_leaf(v))
                error(c, "mud-match", "is an empty leaf and must be written [null]");
        } else if (strcmp(k, "manufacturer") == 0) {
            if (!json_is_string(v) || !hostname_ok(json_string_value(v), json_string_length(v)))
                error(c, "mud-match", "must be a host name (the authority of the other "
                                      "device's MUD URL)");
        } else if (strcmp(k, "model") == 0 || strcmp(k, "controller") == 0) {
            if (!json_is_string(v))
                error(c, "mud-match", "must be a URI string");
            else if (!uri_ok(json_string_value(v), &why))
                error(c, "mud-match", "'%s' %s", json_string_value(v), why);
        } else {
            error(c, "mud-match", "is not a MUD match abstraction (RFC 8520 section 4: %s)",
                  "manufacturer, same-manufacturer, model, local-networks, controller, "
                  "my-controller");
        }
        pop(c, o2);
    }
    if (n > 1)
        warn(c, "mud-match-multiple", "combines %zu abstractions; they must all hold at once",
             n);
    pop(c, old);
}

static void check_matches(struct ctx *c, json_t *matches, unsigned dirs)
{
    static const char *const known[] = {"ipv4", "ipv6", "tcp", "udp", "icmp", "eth",
                                        "ietf-mud:mud", "egress-interface", "ingress-interface",
                                        NULL};
    json_int_t protocol = -1;
    json_t *v;
    size_t old = push(c, "matches");

    if (!json_is_object(matches)) {
        error(c, "matches", "must be an object, not %s", type_name(matches));
        pop(c, old);
        return;
    }
    if (json_object_get(matches, "ipv4") && json_object_get(matches, "ipv6"))
        error(c, "matches", "has both ipv4 and ipv6; an ACE matches one of them");
    if ((v = json_object_get(matches, "ipv4")))
        check_l3(c, v, "ipv4", dirs, &protocol);
    if ((v = json_object_get(matches, "ipv6")))
        check_l3(c, v, "ipv6", dirs, &protocol);
    if (json_object_get(matches, "tcp") && json_object_get(matches, "udp"))
        error(c, "matches", "has both tcp and udp; an ACE matches one of them");
    for (int udp = 0; udp < 2; udp++) {
        const char *name = udp ? "udp" : "tcp";
        size_t o2;
        if (!(v = json_object_get(matches, name)))
            continue;
        o2 = push(c, name);
        if (!json_is_object(v)) {
            error(c, "matches", "must be an object, not %s", type_name(v));
            pop(c, o2);
            continue;
        }
        if (protocol >= 0 && protocol != (udp ? 17 : 6))
            error(c, "protocol-match", "%s matches need protocol %d, but the ACE says %lld",
                  name, udp ? 17 : 6, (long long)protocol);
        check_port(c, v, "source-port");
        check_port(c, v, "destination-port");
        unknown_members(c, v, udp ? udp_fields : tcp_fields, true, name);
        if (udp) {
            no_direction(c, v, "udp");
        } else if ((v = json_object_get(v, "ietf-mud:direction-initiated"))) {
            size_t o3 = push(c, "ietf-mud:direction-initiated");
            if (!json_is_string(v) || (strcmp(json_string_value(v), "from-device") != 0 &&
                                       strcmp(json_string_value(v), "to-device") != 0))
                error(c, "direction-initiated", "must be from-device or to-device");
            pop(c, o3);
        }
        pop(c, o2);
    }
    if ((v = json_object_get(matches, "icmp"))) {
        size_t o2 = push(c, "icmp");
        if (!json_is_object(v)) {
            error(c, "matches", "must be an object, not %s", type_name(v));
        } else {
            for (int code = 0; code < 2; code++) {
                const char *name = code ? "code" : "type";
                json_t *x = json_object_get(v, name);
                if (x && (!json_is_integer(x) || json_integer_value(x) < 0 ||
                          json_integer_value(x) > 255)) {
                    size_t o3 = push(c, name);
                    error(c, "protocol-range", "the ICMP %s must be 0..255", name);
                    pop(c, o3);
                }
            }
            if (protocol >= 0 && protocol != 1 && protocol != 58)
                error(c, "protocol-match", "icmp matches need protocol 1 or 58, but the ACE says "
                                           "%lld", (long long)protocol);
            no_direction(c, v, "icmp");
            unknown_members(c, v, icmp_fields, true, "icmp");
        }
        pop(c, o2);
    }
    if ((v = json_object_get(matches, "ietf-mud:mud")))
        check_mud_match(c, v);
    no_direction(c, matches, "matches");
    unknown_members(c, matches, known, true, "matches");
    pop(c, old);
}

static void check_ace(struct ctx *c, json_t *ace, unsigned dirs)
{
    json_t *v, *fw;

    if (!json_is_object(ace)) {
        error(c, "acl", "an ACE must be an object, not %s", type_name(ace));
        return;
    }
    if (!json_is_string(json_object_get(ace, "name"))) {
        size_t old = push(c, "name");
        error(c, "acl", "every ACE needs a name string");
        pop(c, old);
    }
    if (!(v = json_object_get(ace, "matches"))) {
        size_t old = push(c, "matches");
        error(c, "matches", "is missing; an ACE without matches would match everything");
        pop(c, old);
    } else {
        check_matches(c, v, dirs);
    }
    v = json_object_get(ace, "actions");
    if (!json_is_object(v) || !(fw = json_object_get(v, "forwarding"))) {
        size_t old = push(c, "actions");
        error(c, "actions", "must be an object with forwarding (accept or drop)");
        pop(c, old);
    } else {
        size_t old = push(c, "actions");
        push(c, "forwarding");
        if (!json_is_string(fw) ||
            !in_list(proto_mud_identity(json_string_value(fw)),
                     (const char *const[]){"accept", "drop", "reject", NULL}))
            error(c, "actions", "must be accept, drop or reject");
        else if (strcmp(proto_mud_identity(json_string_value(fw)), "reject") == 0)
            warn(c, "actions", "reject: MUD files SHOULD use only accept and drop (RFC 8520 "
                               "section 2); managers may treat it as drop");
        pop(c, old);
    }
}

/* The ACL names, before the policies that refer to them are checked. */
static int collect_acl_names(struct ctx *c, json_t *acl)
{
    size_t n = acl ? json_array_size(acl) : 0;

    c->acl_names = calloc(n + 1, sizeof *c->acl_names);
    c->acl_dirs = calloc(n + 1, sizeof *c->acl_dirs);
    if (!c->acl_names || !c->acl_dirs)
        return TN_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *name = json_object_get(json_array_get(acl, i), "name");
        c->acl_names[i] = json_is_string(name) ? json_string_value(name) : NULL;
    }
    c->n_acls = n;
    return 0;
}

static void check_acls(struct ctx *c, json_t *acl)
{
    static const char *const acl_types[] = {"ipv4-acl-type", "ipv6-acl-type", NULL};
    size_t old = push(c, "acl");

    for (size_t i = 0; i < json_array_size(acl); i++) {
        json_t *a = json_array_get(acl, i), *v, *aces;
        size_t o2 = push_index(c, i), o3;
        if (!json_is_object(a)) {
            error(c, "acl", "must be an object, not %s", type_name(a));
            pop(c, o2);
            continue;
        }
        o3 = push(c, "name");
        if (!c->acl_names[i])
            error(c, "acl", "every ACL needs a name string");
        for (size_t j = 0; c->acl_names[i] && j < i; j++)
            if (c->acl_names[j] && strcmp(c->acl_names[i], c->acl_names[j]) == 0)
                error(c, "acl-name-unique", "ACL name '%s' is used twice", c->acl_names[i]);
        if (c->acl_names[i] && c->acl_dirs[i] == 0)
            warn(c, "unused-acl", "ACL '%s' is in no policy", c->acl_names[i]);
        pop(c, o3);
        if ((v = json_object_get(a, "type"))) {
            o3 = push(c, "type");
            if (!json_is_string(v) || !in_list(proto_mud_identity(json_string_value(v)), acl_types))
                warn(c, "acl-type", "is not ipv4-acl-type or ipv6-acl-type");
            pop(c, o3);
        }
        aces = json_object_get(a, "aces");
        o3 = push(c, "aces");
        if (!json_is_object(aces) || !json_is_array(v = json_object_get(aces, "ace"))) {
            error(c, "acl", "must be an object holding an ace array");
            pop(c, o2);
            continue;
        }
        push(c, "ace");
        for (size_t k = 0; k < json_array_size(v); k++) {
            json_t *ace = json_array_get(v, k), *name = json_object_get(ace, "name");
            size_t o4 = push_index(c, k);
            for (size_t j = 0; json_is_string(name) && j < k; j++)
                if (json_equal(name, json_object_get(json_array_get(v, j), "name"))) {
                    size_t o5 = push(c, "name");
                    error(c, "ace-name-unique", "ACE name '%s' is used twice in this ACL",
                          json_string_value(name));
                    pop(c, o5);
                    break;
                }
            check_ace(c, ace, c->acl_dirs[i]);
            pop(c, o4);
        }
        pop(c, o2);
    }
    pop(c, old);
}

/* --- the document ------------------------------------------------------------------------ */

static void check_document(struct ctx *c, json_t *doc)
{
    json_t *mud, *acls, *acl = NULL, *ext;
    const char *k;
    json_t *v;

    if (!json_is_object(doc)) {
        error(c, "root", "the document must be one JSON object, not %s", type_name(doc));
        return;
    }
    mud = json_object_get(doc, PROTO_MUD_ROOT);
    acls = json_object_get(doc, PROTO_MUD_ACLS);
    ext = json_is_object(mud) ? json_object_get(mud, "extensions") : NULL;
    c->has_extensions = json_is_array(ext) && json_array_size(ext) > 0;
    json_object_foreach(doc, k, v) {
        size_t old = push(c, k);
        if (strcmp(k, "ietf-access-control-list:access-lists") == 0)
            error(c, "legacy-root", "is the draft-era ACL root (as MUDgee writes it); RFC 8519 "
                                    "and RFC 8520 use %s", PROTO_MUD_ACLS);
        else if (strcmp(k, PROTO_MUD_ROOT) != 0 && strcmp(k, PROTO_MUD_ACLS) != 0)
            warn(c, "unknown-root", "is not a MUD root; managers ignore it");
        pop(c, old);
    }
    if (!mud) {
        error(c, "mud-root", "the %s container is missing", PROTO_MUD_ROOT);
    } else if (!json_is_object(mud)) {
        size_t old = push(c, PROTO_MUD_ROOT);
        error(c, "mud-root", "must be an object, not %s", type_name(mud));
        pop(c, old);
        mud = NULL;
    }
    if (!acls) {
        error(c, "acls-root", "the %s container is missing", PROTO_MUD_ACLS);
    } else {
        size_t old = push(c, PROTO_MUD_ACLS);
        if (!json_is_object(acls) || !json_is_array(acl = json_object_get(acls, "acl")))
            error(c, "acls-root", "must be an object holding an acl array");
        pop(c, old);
    }
    c->have_acls = acl != NULL;
    if (collect_acl_names(c, acl) != 0) {
        c->nomem = 1;
        return;
    }
    if (mud) {
        size_t old = push(c, PROTO_MUD_ROOT);
        check_mud(c, mud);
        pop(c, old);
    }
    if (acl) {
        size_t old = push(c, PROTO_MUD_ACLS);
        check_acls(c, acl);
        pop(c, old);
    }
}

int proto_mud_check(const uint8_t *bytes, size_t len, int64_t now, struct proto_mud_report *rep)
{
    struct ctx c = {.rep = rep, .now = now};
    struct scan *sc = NULL;
    json_error_t jerr;
    size_t skip = 0;

    memset(rep, 0, sizeof *rep);
    rep->is_supported = -1;
    rep->cache_validity = 48;
    if (len == 0) {
        error(&c, "json", "the file is empty; a MUD file is one JSON object");
        goto out;
    }
    if (len > PROTO_MUD_MAX_BYTES) {
        error(&c, "size", "the file is %zu bytes; at most %u are accepted", len,
              PROTO_MUD_MAX_BYTES);
        goto out;
    }
    if (len >= 3 && memcmp(bytes, "\xEF\xBB\xBF", 3) == 0) {
        skip = 3;
        warn(&c, "bom", "the file starts with a byte order mark; RFC 8259 forbids it and some "
                        "managers will refuse the file");
    }
    if (!(sc = calloc(1, sizeof *sc))) {
        c.nomem = 1;
        goto out;
    }
    sc->p = bytes + skip;
    sc->len = len - skip;
    scan_bytes(sc, SIZE_MAX);
    if (sc->bad_utf8 != SIZE_MAX || sc->too_deep != SIZE_MAX) {
        size_t at = sc->bad_utf8 != SIZE_MAX ? sc->bad_utf8 : sc->too_deep;
        scan_path(sc, &c);
        if (sc->bad_utf8 != SIZE_MAX)
            error(&c, "utf-8", "invalid UTF-8 at byte %zu (0x%02x)", at + skip,
                  (unsigned)sc->p[at]);
        else
            error(&c, "depth", "nesting deeper than %d levels at byte %zu", PROTO_MUD_MAX_DEPTH,
                  at + skip);
        pop(&c, 0);
        goto out;
    }
    rep->doc = json_loadb((const char *)bytes + skip, len - skip,
                          JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!rep->doc) {
        bool dup = strstr(jerr.text, "duplicate object key") != NULL;
        scan_bytes(sc, jerr.position > 0 ? (size_t)jerr.position : 0);
        scan_path(sc, &c);
        if (dup)
            error(&c, "duplicate-member", "a member name appears twice in one object "
                                          "(line %d, column %d)", jerr.line, jerr.column);
        else
            error(&c, "json", "not complete, valid JSON: %s (line %d, column %d)", jerr.text,
                  jerr.line, jerr.column);
        pop(&c, 0);
        goto out;
    }
    check_document(&c, rep->doc);
out:
    free(sc);
    free(c.acl_names);
    free(c.acl_dirs);
    if (c.nomem)
        return TN_ERR_NOMEM;
    return rep->n_errors ? TN_ERR_INVALID : 0;
}

void proto_mud_report_release(struct proto_mud_report *rep)
{
    free(rep->issues);
    if (rep->doc)
        json_decref(rep->doc);
    memset(rep, 0, sizeof *rep);
}
