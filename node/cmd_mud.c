/* tracectl mud check|show|anchor|verify: MUD files (RFC 8520), validated, anchored in
 * the manufacturer's shard and verified against the anchor. docs/MUD.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/encode.h"
#include "crypto/key.h"
#include "node/api_client.h"
#include "node/cli.h"
#include "node/commands.h"
#include "node/mud_show.h"
#include "node/mud_verify.h"
#include "node/record_json.h"
#include "proto/mud.h"
#include "proto/readfile.h"
#include "proto/utf8.h"

static const char usage[] =
    "usage: tracectl mud check FILE [--json]\n"
    "       tracectl mud show FILE [--json]\n"
    "       tracectl mud anchor FILE [--model M] [--sig FILE.p7s] [--data DIR] [--json]\n"
    "       tracectl mud verify FILE [--url URL] [--device ITEM] [--org ORG] [--trust-store]\n"
    "                               [--data DIR] [--json]\n"
    "\n"
    "check   validates FILE against RFC 8520 and RFC 8519; one 'error:' line per problem,\n"
    "        with its JSON Pointer and rule. Exit 0 valid, 2 not.\n"
    "show    what the device may talk to, in each direction (after check).\n"
    "anchor  checks FILE, then appends a mud-anchor record signed by this node's org (which\n"
    "        needs the manufacturer role): the SHA-256 of the raw bytes, size, mud-url,\n"
    "        last-update, mfg-name, model (--model, else the file's model-name) and the\n"
    "        SHA-256 of the detached signature (--sig). A newer version of a URL already\n"
    "        anchored needs a later last-update and supersedes the old anchor.\n"
    "verify  compares FILE's SHA-256 with the anchor of its mud-url (or --url, which must\n"
    "        be the file's own). Status VERIFIED (exit 0), MISMATCH, NOT_ANCHORED,\n"
    "        SUPERSEDED or URL_MISMATCH (exit 1). --device ITEM also requires the anchor to\n"
    "        be by the org that made the device and for its model, and the device's\n"
    "        pedigree to verify (exit 3 if it is incomplete). --org ORG counts only that\n"
    "        org's anchors.\n";

/* Reads a MUD file with the size cap; a file over it is reported like a rule. */
static int read_mud(const char *path, char **bytes, size_t *len)
{
    char err[512];
    int rc = proto_read_file(path, PROTO_MUD_MAX_BYTES, bytes, len, err, sizeof err);

    if (rc == TN_ERR_TOO_BIG)
        return cli_error(CLI_USAGE, "%s: the file is over %u bytes; a MUD file is at most 1 MiB "
                                    "[size]", path, PROTO_MUD_MAX_BYTES);
    if (rc != 0)
        return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s", err);
    return 0;
}

static void print_issue(const char *file, const struct proto_mud_issue *is)
{
    fprintf(stderr, "%s: %s: %s: %s [%s]\n", is->warning ? "warning" : "error", file,
            is->path[0] ? is->path : "(document)", is->msg, is->rule);
}

/* Reads and validates FILE, printing every problem; 0 when valid. */
static int load_checked(const char *path, char **bytes, size_t *len,
                        struct proto_mud_report *rep, bool quiet_warnings)
{
    int rc;

    if ((rc = read_mud(path, bytes, len)) != 0) {
        memset(rep, 0, sizeof *rep);
        return rc;
    }
    rc = proto_mud_check((const uint8_t *)*bytes, *len, (int64_t)time(NULL), rep);
    if (rc == TN_ERR_NOMEM)
        return cli_error(CLI_IO, "out of memory");
    for (size_t i = 0; i < rep->n_issues; i++)
        if (!rep->issues[i].warning || !quiet_warnings)
            print_issue(path, &rep->issues[i]);
    if (rep->n_dropped)
        fprintf(stderr, "error: %s: %zu more problems not shown\n", path, rep->n_dropped);
    return rc != 0 ? CLI_USAGE : 0;
}

static json_t *sha_json(const char *bytes, size_t len)
{
    uint8_t sha[CRY_HASH_LEN];
    cry_sha256(sha, (const uint8_t *)bytes, len);
    return node_json_hex(sha);
}

static int mud_check(struct cli *cli, const char *path)
{
    struct proto_mud_report rep;
    char *bytes = NULL;
    size_t len = 0;
    int code = load_checked(path, &bytes, &len, &rep, false);

    if (cli->json && bytes) {
        json_t *o = json_pack("{s:o, s:b, s:o, s:I, s:o, s:o}", "file", cli_json_text(path),
                              "valid", code == 0,
                              "sha256", sha_json(bytes, len), "size", (json_int_t)len, "errors",
                              node_mud_issues_json(&rep, false), "warnings", node_mud_issues_json(&rep, true));
        json_object_set_new(o, "url", rep.url ? json_string(rep.url) : json_null());
        json_object_set_new(o, "last_update",
                            rep.last_update ? json_string(rep.last_update) : json_null());
        cli_print_json(o);
    } else if (code == 0) {
        printf("ok: %s is a valid MUD file for %s (last-update %s), %zu warning%s\n", path,
               rep.url, rep.last_update, rep.n_warnings, rep.n_warnings == 1 ? "" : "s");
    }
    proto_mud_report_release(&rep);
    free(bytes);
    return code;
}

static int mud_show(struct cli *cli, const char *path)
{
    struct proto_mud_report rep;
    char *bytes = NULL;
    size_t len;
    int code = load_checked(path, &bytes, &len, &rep, true);

    if (code == 0) {
        json_t *s = node_mud_show_json(&rep);
        if (cli->json) {
            cli_print_json(s);
        } else {
            node_mud_show_text(s, stdout);
            json_decref(s);
        }
    }
    proto_mud_report_release(&rep);
    free(bytes);
    return code;
}

/* A model or maker name that fits a record: printable UTF-8 of at most PROTO_NAME_MAX
 * bytes. */
static bool name_fits(const char *s)
{
    return strlen(s) <= PROTO_NAME_MAX && proto_utf8_ok(s, strlen(s)) && !strpbrk(s, "\t\r\n");
}

static int mud_anchor(struct cli *cli, const char *path, const char *model, const char *sig)
{
    struct proto_mud_report rep;
    struct node_paths paths;
    struct api_client c = {.fd = -1};
    struct proto_ecosystem eco = {0};
    struct cli_repo repo;
    struct store_mud_anchor cur;
    const struct proto_org *self;
    char *bytes = NULL, *sig_bytes = NULL, *text = NULL, err[512], org[PROTO_ID_MAX + 1];
    char hex[CRY_HEX_LEN(PROTO_ID_LEN)];
    uint8_t sha[CRY_HASH_LEN], id[PROTO_ID_LEN];
    size_t len, sig_len;
    bool has_cur = false;
    json_t *ev = NULL, *mud;
    int code, rc;

    if ((code = load_checked(path, &bytes, &len, &rep, false)) != 0)
        goto out;
    cry_sha256(sha, (const uint8_t *)bytes, len);
    if (model && !name_fits(model)) {
        code = cli_error(CLI_USAGE, "--model must be printable UTF-8 of at most %d bytes",
                         PROTO_NAME_MAX);
        goto out;
    }
    if (!model && rep.model_name && !name_fits(rep.model_name)) {
        code = cli_error(CLI_USAGE, "%s: model-name must be printable and at most %d bytes to "
                                    "be anchored; give the model with --model", path,
                         PROTO_NAME_MAX);
        goto out;
    }
    if (!model)
        model = rep.model_name;
    if (rep.mfg_name && !name_fits(rep.mfg_name)) {
        code = cli_error(CLI_USAGE, "%s: mfg-name must be printable and at most %d bytes to be "
                                    "anchored", path, PROTO_NAME_MAX);
        goto out;
    }
    if (sig && (code = read_mud(sig, &sig_bytes, &sig_len)) != 0)
        goto out;

    if (node_paths_init(&paths, cli->data_dir, err, sizeof err) != 0) {
        code = cli_error(CLI_USAGE, "%s", err);
        goto out;
    }
    if ((rc = api_client_connect(&c, paths.sock, err, sizeof err)) != 0 ||
        (rc = api_client_context(&c, &eco, org, sizeof org, err, sizeof err)) != 0) {
        code = cli_error(CLI_IO, "%s", err);
        goto out;
    }
    self = proto_ecosystem_org(&eco, org);
    if (!self || !proto_roles_allow(self->roles, PROTO_T_MUD_ANCHOR)) {
        code = cli_error(CLI_USAGE, "org '%s' may not anchor MUD files: that takes the "
                                    "manufacturer role", org);
        goto out;
    }
    /* this org's current anchor of the URL: the same bytes again change nothing, another
     * version must be newer (the node checks this again when it stores the record) */
    if ((code = cli_repo_open(cli, &repo)) != 0)
        goto out;
    rc = store_mud_current(repo.txn, org, rep.url, &cur);
    cli_repo_close(&repo);
    if (rc != 0 && rc != TN_ERR_NOT_FOUND) {
        code = cli_error(CLI_IO, "cannot read the repository: %s", tn_strerror(rc));
        goto out;
    }
    has_cur = rc == 0;
    if (has_cur && memcmp(cur.sha256, sha, CRY_HASH_LEN) == 0) {
        cry_hex(hex, cur.id, PROTO_ID_LEN);
        if (cli->json)
            cli_print_json(json_pack("{s:s, s:s, s:s, s:o}", "result", "duplicate", "anchor",
                                     hex, "url", rep.url, "sha256", sha_json(bytes, len)));
        else
            printf("%s  already anchored (this org's current anchor of %s)\n", hex, rep.url);
        code = CLI_OK;
        goto out;
    }

    mud = json_pack("{s:s, s:o, s:I, s:s}", "url", rep.url, "sha256", sha_json(bytes, len),
                    "size", (json_int_t)len, "last_update", rep.last_update);
    if (model)
        json_object_set_new(mud, "model", json_string(model));
    if (rep.mfg_name)
        json_object_set_new(mud, "mfg_name", json_string(rep.mfg_name));
    if (sig_bytes)
        json_object_set_new(mud, "sig_sha256", sha_json(sig_bytes, sig_len));
    ev = json_pack("{s:s, s:o}", "type", "mud-anchor", "mud", mud);
    if (has_cur) {
        cry_hex(hex, cur.id, PROTO_ID_LEN);
        json_object_set_new(ev, "ref", json_string(hex));
    }
    if (!(text = json_dumps(ev, JSON_COMPACT))) {
        code = cli_error(CLI_IO, "out of memory");
        goto out;
    }
    if ((rc = api_client_submit_one(&c, text, strlen(text), id, err, sizeof err)) != 0) {
        code = cli_error(cli_exit_for(rc), "%s", err);
        goto out;
    }
    cry_hex(hex, id, PROTO_ID_LEN);
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "result", "appended", "anchor",
                              hex, "url", rep.url, "sha256", sha_json(bytes, len), "size",
                              (json_int_t)len, "last_update", rep.last_update);
        json_object_set_new(o, "model", model ? json_string(model) : json_null());
        json_object_set_new(o, "supersedes", has_cur ? node_json_hex(cur.id) : json_null());
        cli_print_json(o);
    } else {
        printf("%s\n", hex);
        fprintf(stderr, "anchored %s (last-update %s, %zu bytes, model %s)%s%s\n", rep.url,
                rep.last_update, len, model ? model : "(none)",
                has_cur ? "; supersedes " : "", has_cur ? cur.last_update_text : "");
    }
    code = CLI_OK;
out:
    json_decref(ev);
    free(text);
    api_client_close(&c);
    if (eco.network)
        proto_ecosystem_release(&eco);
    proto_mud_report_release(&rep);
    free(bytes);
    free(sig_bytes);
    return code;
}

static int mud_verify_cmd(struct cli *cli, const char *path, const struct node_mud_verify_opts *o)
{
    struct cli_repo repo;
    char *bytes = NULL, err[512];
    size_t len;
    json_t *res;
    int code, rc;

    if ((code = read_mud(path, &bytes, &len)) != 0)
        return code;
    if ((code = cli_repo_open(cli, &repo)) != 0) {
        free(bytes);
        return code;
    }
    rc = node_mud_verify(repo.txn, &repo.eco, (const uint8_t *)bytes, len, o, &res, &code, err,
                    sizeof err);
    cli_repo_close(&repo);
    free(bytes);
    if (rc != 0)
        return cli_error(rc == TN_ERR_INVALID ? CLI_USAGE : cli_exit_for(rc), "%s", err);
    if (cli->json) {
        cli_print_json(res);
    } else {
        node_mud_verify_text(res, stdout);
        json_decref(res);
    }
    return code;
}

int cmd_mud(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    const char *pos[2], *model = NULL, *sig = NULL, *url = NULL, *device = NULL, *org = NULL;
    bool trust = false;
    const struct args_opt opts[] = {{"model", ARGS_VALUE, &model},   {"sig", ARGS_VALUE, &sig},
                                    {"url", ARGS_VALUE, &url},       {"device", ARGS_VALUE, &device},
                                    {"org", ARGS_VALUE, &org},       {"trust-store", ARGS_FLAG, &trust},
                                    {NULL, 0, NULL}};
    size_t n_pos;
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 2, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 2) {
        cli_error(CLI_USAGE, "mud needs a subcommand (check, show, anchor, verify) and FILE");
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    if (strcmp(pos[0], "anchor") != 0 && (model || sig))
        return cli_error(CLI_USAGE, "--model and --sig are options of mud anchor");
    if (strcmp(pos[0], "verify") != 0 && (url || device || org || trust))
        return cli_error(CLI_USAGE, "--url, --device, --org and --trust-store are options of "
                                    "mud verify");
    if (strcmp(pos[0], "check") == 0)
        return mud_check(&cli, pos[1]);
    if (strcmp(pos[0], "show") == 0)
        return mud_show(&cli, pos[1]);
    if (strcmp(pos[0], "anchor") == 0)
        return mud_anchor(&cli, pos[1], model, sig);
    if (strcmp(pos[0], "verify") == 0) {
        struct node_mud_verify_opts o = {.url = url, .device = device, .org = org,
                                         .trust_store = trust};
        const char *const given[] = {url, device, org};
        for (size_t i = 0; i < 3; i++)
            if (given[i] && !proto_utf8_ok(given[i], strlen(given[i])))
                return cli_error(CLI_USAGE, "--url, --device and --org take UTF-8 text");
        return mud_verify_cmd(&cli, pos[1], &o);
    }
    return cli_error(CLI_USAGE, "unknown mud subcommand '%s' (check, show, anchor, verify)",
                     pos[0]);
}
