/* tracectl export | verify-bundle: offline bundles (node/bundle.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/bundle.h"
#include "node/cli.h"
#include "node/commands.h"
#include "proto/readfile.h"

static const char export_usage[] =
    "usage: tracectl export [--data DIR] ITEM --out BUNDLE\n"
    "\n"
    "Writes one CBOR file with everything needed to check ITEM's pedigree offline: the\n"
    "ecosystem file, every record of the pedigree and of the governance shard, their\n"
    "inclusion proofs, the orgs' signed checkpoints and any fork evidence. Never overwrites.\n";

static const char verify_usage[] =
    "usage: tracectl verify-bundle BUNDLE --ecosystem FILE [--format text|json|dot]\n"
    "\n"
    "Re-verifies a bundle with no node and no database. FILE is the ecosystem file you\n"
    "trust: the bundle must carry exactly it. Every signature, proof and checkpoint is\n"
    "checked; any altered byte fails.\n"
    "Exit codes: 0 ok, 1 fail (findings, or a bundle that does not verify), 2 malformed,\n"
    "3 incomplete.\n";

int cmd_export(int argc, char **argv)
{
    struct cli cli = {.usage = export_usage};
    const char *pos[1], *out = NULL;
    const struct args_opt opts[] = {{"out", ARGS_VALUE, &out}, {NULL, 0, NULL}};
    struct cli_repo repo;
    const uint8_t *raw;
    size_t n_pos, raw_len;
    char err[512];
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1 || !out)
        return cli_error(CLI_USAGE, "export needs ITEM and --out BUNDLE");
    if ((rc = cli_repo_open(&cli, &repo)) != 0)
        return rc;
    if ((rc = store_meta_get(repo.txn, NODE_META_ECOSYSTEM, &raw, &raw_len)) != 0) {
        cli_repo_close(&repo);
        return cli_error(CLI_IO, "the repository holds no ecosystem file");
    }
    rc = bundle_export(repo.txn, &repo.eco, (const char *)raw, raw_len, pos[0], out, err,
                       sizeof err);
    cli_repo_close(&repo);
    if (rc != 0)
        return cli_error(rc == TN_ERR_NOT_FOUND  ? CLI_INCOMPLETE
                         : rc == TN_ERR_EXISTS   ? CLI_USAGE
                                                 : CLI_IO,
                         "%s", err);
    if (cli.json)
        cli_print_json(json_pack("{s:s, s:s}", "item", pos[0], "bundle", out));
    else
        printf("wrote %s: the pedigree of %s\n", out, pos[0]);
    return CLI_OK;
}

int cmd_verify_bundle(int argc, char **argv)
{
    struct cli cli = {.usage = verify_usage};
    const char *pos[1], *eco_path = NULL, *format = NULL;
    const struct args_opt opts[] = {
        {"ecosystem", ARGS_VALUE, &eco_path}, {"format", ARGS_VALUE, &format}, {NULL, 0, NULL}};
    struct vf_options opt = {0};
    struct vf_result res;
    char *bundle = NULL, *eco = NULL, err[512];
    size_t n_pos, blen, elen;
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1 || !eco_path)
        return cli_error(CLI_USAGE, "verify-bundle needs BUNDLE and --ecosystem FILE");
    if (!format)
        format = cli.json ? "json" : "text";
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0 && strcmp(format, "dot") != 0)
        return cli_error(CLI_USAGE, "--format is text, json or dot");
    if ((rc = proto_read_file(pos[0], BUNDLE_MAX, &bundle, &blen, err, sizeof err)) != 0 ||
        (rc = proto_read_file(eco_path, PROTO_ECOSYSTEM_MAX, &eco, &elen, err, sizeof err)) != 0) {
        free(bundle);
        return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s", err);
    }
    rc = bundle_verify((const uint8_t *)bundle, blen, eco, elen, &opt, &res, err, sizeof err);
    free(bundle);
    free(eco);
    if (rc != 0)
        return cli_error(rc == TN_ERR_INVALID ? CLI_USAGE : CLI_FAIL, "%s: %s", pos[0], err);
    if (strcmp(format, "json") == 0)
        cli_print_json(vf_result_json(&res));
    else if (strcmp(format, "dot") == 0)
        vf_result_dot(&res, stdout);
    else
        vf_result_text(&res, stdout);
    rc = res.verdict == VF_OK ? CLI_OK : res.verdict == VF_FAIL ? CLI_FAIL : CLI_INCOMPLETE;
    vf_result_release(&res);
    return rc;
}
