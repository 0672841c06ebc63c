/* mud show: see mud_show.h. The document has passed validation, so shapes are known;
 * the code still checks types so that it cannot misread a file it was handed directly. */
#include "node/mud_show.h"

#include <string.h>

/* "443", "<=1023", ">=1024", "not 23", "1000-2000", or NULL when the ACE sets no port. */
static json_t *port_text(const json_t *p)
{
    char buf[64];
    const json_t *lo = json_object_get(p, "lower-port"), *hi = json_object_get(p, "upper-port");
    const json_t *port = json_object_get(p, "port"), *op = json_object_get(p, "operator");
    const char *o = json_is_string(op) ? proto_mud_identity(json_string_value(op)) : "eq";

    if (json_is_integer(lo) && json_is_integer(hi))
        snprintf(buf, sizeof buf, "%lld-%lld", (long long)json_integer_value(lo),
                 (long long)json_integer_value(hi));
    else if (json_is_integer(port))
        snprintf(buf, sizeof buf, "%s%lld",
                 strcmp(o, "lte") == 0   ? "<="
                 : strcmp(o, "gte") == 0 ? ">="
                 : strcmp(o, "neq") == 0 ? "not "
                                         : "",
                 (long long)json_integer_value(port));
    else
        return json_null();
    return json_string(buf);
}

/* Who is on the other side of an ACE: a host, a network, or one of MUD's abstractions. */
static json_t *peer_json(const json_t *l3, const json_t *mud, bool from_device)
{
    const char *dns = from_device ? "ietf-acldns:dst-dnsname" : "ietf-acldns:src-dnsname";
    static const char *const nets[2][2] = {
        {"source-ipv4-network", "source-ipv6-network"},
        {"destination-ipv4-network", "destination-ipv6-network"}};
    const char *k;
    json_t *v;

    if (json_is_string(json_object_get(l3, dns)))
        return json_pack("{s:s, s:O}", "kind", "host", "value", json_object_get(l3, dns));
    for (int i = 0; i < 2; i++)
        if (json_is_string(v = json_object_get(l3, nets[from_device][i])))
            return json_pack("{s:s, s:O}", "kind", "network", "value", v);
    json_object_foreach((json_t *)mud, k, v) {
        if (json_is_string(v))
            return json_pack("{s:s, s:O}", "kind", k, "value", v);
        return json_pack("{s:s, s:n}", "kind", k, "value");
    }
    return json_pack("{s:s, s:n}", "kind", "any", "value");
}

static json_t *ace_json(const char *acl, const json_t *ace, bool from_device)
{
    const json_t *m = json_object_get(ace, "matches");
    const json_t *l3 = json_object_get(m, "ipv4") ? json_object_get(m, "ipv4")
                                                  : json_object_get(m, "ipv6");
    const json_t *tcp = json_object_get(m, "tcp"), *udp = json_object_get(m, "udp");
    const json_t *l4 = tcp ? tcp : udp, *proto = json_object_get(l3, "protocol");
    const json_t *fw = json_object_get(json_object_get(ace, "actions"), "forwarding");
    const json_t *dir = json_object_get(tcp, "ietf-mud:direction-initiated");
    /* from the device, the remote side is the destination; towards it, the source */
    const char *remote = from_device ? "destination-port" : "source-port";
    const char *local = from_device ? "source-port" : "destination-port";
    char pbuf[16];
    const char *ptext;

    if (tcp)
        ptext = "tcp";
    else if (udp)
        ptext = "udp";
    else if (json_object_get(m, "icmp"))
        ptext = "icmp";
    else if (json_is_integer(proto))
        snprintf(pbuf, sizeof pbuf, "ip proto %lld", (long long)json_integer_value(proto)),
            ptext = pbuf;
    else
        ptext = "any";
    return json_pack("{s:s, s:O, s:s, s:s, s:o, s:o, s:o, s:O}", "acl", acl, "ace",
                     json_object_get(ace, "name"), "action",
                     json_is_string(fw) ? proto_mud_identity(json_string_value(fw)) : "?",
                     "protocol", ptext, "peer",
                     peer_json(l3, json_object_get(m, "ietf-mud:mud"), from_device),
                     "remote_port", port_text(json_object_get(l4, remote)), "device_port",
                     port_text(json_object_get(l4, local)), "initiated_by",
                     dir ? (json_t *)dir : json_null());
}

static json_t *direction_json(const json_t *doc, const char *policy, bool from_device)
{
    const json_t *mud = json_object_get(doc, PROTO_MUD_ROOT);
    const json_t *list = json_object_get(
        json_object_get(json_object_get(mud, policy), "access-lists"), "access-list");
    const json_t *acls = json_object_get(json_object_get(doc, PROTO_MUD_ACLS), "acl");
    json_t *out = json_array(), *ref, *acl;
    size_t i, j;

    json_array_foreach(list, i, ref) {
        const char *name = json_string_value(json_object_get(ref, "name"));
        json_array_foreach(acls, j, acl) {
            const json_t *aces, *ace;
            size_t k;
            if (!name || !json_equal(json_object_get(acl, "name"), json_object_get(ref, "name")))
                continue;
            aces = json_object_get(json_object_get(acl, "aces"), "ace");
            json_array_foreach(aces, k, ace)
                json_array_append_new(out, ace_json(name, ace, from_device));
        }
    }
    return out;
}

json_t *node_mud_issues_json(const struct proto_mud_report *rep, bool warnings)
{
    json_t *a = json_array();
    for (size_t i = 0; i < rep->n_issues; i++)
        if (rep->issues[i].warning == warnings)
            json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "path", rep->issues[i].path,
                                               "rule", rep->issues[i].rule, "message",
                                               rep->issues[i].msg));
    return a;
}

json_t *node_mud_show_json(const struct proto_mud_report *rep)
{
    json_t *o = json_object();

#define OPT_STR(key, v) json_object_set_new(o, key, (v) ? json_string(v) : json_null())
    OPT_STR("url", rep->url);
    OPT_STR("mfg_name", rep->mfg_name);
    OPT_STR("model_name", rep->model_name);
    OPT_STR("systeminfo", rep->systeminfo);
    OPT_STR("last_update", rep->last_update);
    OPT_STR("signature", rep->signature);
#undef OPT_STR
    json_object_set_new(o, "cache_validity", json_integer(rep->cache_validity));
    json_object_set_new(o, "is_supported",
                        rep->is_supported < 0 ? json_null() : json_boolean(rep->is_supported));
    json_object_set_new(o, "from_device", direction_json(rep->doc, "from-device-policy", true));
    json_object_set_new(o, "to_device", direction_json(rep->doc, "to-device-policy", false));
    json_object_set_new(o, "warnings", node_mud_issues_json(rep, true));
    return o;
}

static const char *str(const json_t *o, const char *k, const char *dflt)
{
    const json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

static void peer_text(const json_t *p, char *buf, size_t cap)
{
    const char *kind = str(p, "kind", "any"), *v = str(p, "value", NULL);

    if (strcmp(kind, "host") == 0 || strcmp(kind, "network") == 0)
        snprintf(buf, cap, "%s", v ? v : "?");
    else if (strcmp(kind, "controller") == 0)
        snprintf(buf, cap, "controller %s", v ? v : "?");
    else if (strcmp(kind, "my-controller") == 0)
        snprintf(buf, cap, "its controller (my-controller: the operator names it)");
    else if (strcmp(kind, "same-manufacturer") == 0)
        snprintf(buf, cap, "devices of the same manufacturer");
    else if (strcmp(kind, "manufacturer") == 0)
        snprintf(buf, cap, "devices made by %s", v ? v : "?");
    else if (strcmp(kind, "model") == 0)
        snprintf(buf, cap, "devices of model %s", v ? v : "?");
    else if (strcmp(kind, "local-networks") == 0)
        snprintf(buf, cap, "the local network");
    else
        snprintf(buf, cap, "any host");
}

static void direction_text(const json_t *list, bool from_device, FILE *out)
{
    const json_t *e;
    size_t i;

    fprintf(out, "%s:\n", from_device ? "from the device (it may send to)"
                                      : "to the device (it may receive from)");
    if (json_array_size(list) == 0)
        fprintf(out, "  nothing\n");
    json_array_foreach(list, i, e) {
        char peer[300];
        const char *rp = str(e, "remote_port", NULL), *dp = str(e, "device_port", NULL);
        const char *init = str(e, "initiated_by", NULL);
        peer_text(json_object_get(e, "peer"), peer, sizeof peer);
        fprintf(out, "  %-6s %-4s %s %s", str(e, "action", "?"), str(e, "protocol", "?"),
                from_device ? "to" : "from", peer);
        if (rp)
            fprintf(out, " port %s", rp);
        if (dp)
            fprintf(out, ", device port %s", dp);
        if (init)
            fprintf(out, ", connections opened by %s",
                    strcmp(init, "from-device") == 0 ? "the device" : "the other side");
        fprintf(out, "   [%s/%s]\n", str(e, "acl", "?"), str(e, "ace", "?"));
    }
}

void node_mud_show_text(const json_t *s, FILE *out)
{
    const json_t *sup = json_object_get(s, "is_supported"), *w;
    size_t i;

    fprintf(out, "MUD file   %s\n", str(s, "url", "?"));
    fprintf(out, "device     %s%s%s", str(s, "mfg_name", ""), json_is_string(json_object_get(
                                                                  s, "mfg_name")) ? " " : "",
            str(s, "model_name", "(no model-name)"));
    if (json_is_string(json_object_get(s, "systeminfo")))
        fprintf(out, " — %s", str(s, "systeminfo", ""));
    fprintf(out, "\nupdated    %s; managers re-check after %lld h; %s\n", str(s, "last_update", "?"),
            (long long)json_integer_value(json_object_get(s, "cache_validity")),
            json_is_true(sup) ? "still supported" : "NO LONGER SUPPORTED by its maker");
    if (json_is_string(json_object_get(s, "signature")))
        fprintf(out, "signature  %s\n", str(s, "signature", ""));
    fprintf(out, "\n");
    direction_text(json_object_get(s, "from_device"), true, out);
    direction_text(json_object_get(s, "to_device"), false, out);
    fprintf(out, "Anything not listed is not allowed.\n");
    json_array_foreach(json_object_get(s, "warnings"), i, w)
        fprintf(out, "warning: %s: %s [%s]\n", str(w, "path", ""), str(w, "message", ""),
                str(w, "rule", ""));
}
