/* tracectl trace | where-used: the verifier over the node's repository. */
#include <stdio.h>
#include <string.h>

#include "node/cli.h"
#include "node/commands.h"
#include "node/verify.h"

static const char trace_usage[] =
    "usage: tracectl trace [--data DIR] ITEM [--format text|json|dot] [--trust-store]\n"
    "\n"
    "Walks ITEM's pedigree backward from its latest record, across every org's shard, to\n"
    "the records that commissioned its materials, checking every record: signature, chain\n"
    "link, inclusion in the shard's signed checkpoint, signer role, key validity, custody,\n"
    "corrections and equivocation. Prints the tree, the findings and the verdict.\n"
    "  --trust-store  take signatures and Merkle nodes as checked when they were stored\n"
    "                 (faster); by default everything is checked again\n"
    "Exit codes: 0 ok, 1 fail (error findings), 3 incomplete (records missing).\n";

static const char where_usage[] =
    "usage: tracectl where-used [--data DIR] ITEM [--format text|json|dot] [--trust-store]\n"
    "\n"
    "The forward trace, for recalls: every record and item downstream of ITEM (what it went\n"
    "into, where that was shipped, who holds it now), with the same checks as trace.\n"
    "Exit codes: 0 ok, 1 fail (error findings), 3 incomplete (records missing).\n";

static int run(int argc, char **argv, bool forward)
{
    struct cli cli = {.usage = forward ? where_usage : trace_usage};
    const char *pos[1], *format = NULL, *threads_s = NULL;
    bool trust = false;
    const struct args_opt opts[] = {{"format", ARGS_VALUE, &format},
                                    {"trust-store", ARGS_FLAG, &trust},
                                    {"threads", ARGS_VALUE, &threads_s},
                                    {NULL, 0, NULL}};
    struct vf_options opt = {0};
    struct cli_repo repo;
    struct vf_source src;
    struct vf_result res;
    uint64_t threads = 0;
    size_t n_pos;
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1)
        return cli_error(CLI_USAGE, "%s needs ITEM", forward ? "where-used" : "trace");
    if (!format)
        format = cli.json ? "json" : "text";
    if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0 && strcmp(format, "dot") != 0)
        return cli_error(CLI_USAGE, "--format is text, json or dot");
    if (threads_s && (args_parse_u64(threads_s, &threads) != 0 || threads > 16))
        return cli_error(CLI_USAGE, "--threads takes 1..16");
    opt.trust_store = trust;
    opt.threads = (int)threads;
    if ((rc = cli_repo_open(&cli, &repo)) != 0)
        return rc;
    vf_store_source(repo.txn, &src);
    rc = forward ? vf_where_used(&src, &repo.eco, pos[0], &opt, &res)
                 : vf_trace(&src, &repo.eco, pos[0], &opt, &res);
    if (rc != 0) {
        cli_repo_close(&repo);
        return cli_error(CLI_IO, "cannot read the repository: %s", tn_strerror(rc));
    }
    if (strcmp(format, "json") == 0)
        cli_print_json(vf_result_json(&res));
    else if (strcmp(format, "dot") == 0)
        vf_result_dot(&res, stdout);
    else
        vf_result_text(&res, stdout);
    rc = res.verdict == VF_OK ? CLI_OK : res.verdict == VF_FAIL ? CLI_FAIL : CLI_INCOMPLETE;
    vf_result_release(&res);
    cli_repo_close(&repo);
    return rc;
}

int cmd_trace(int argc, char **argv)
{
    return run(argc, argv, false);
}

int cmd_where_used(int argc, char **argv)
{
    return run(argc, argv, true);
}
