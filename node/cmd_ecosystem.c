/* tracectl ecosystem init | add-org | sign */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/key.h"
#include "node/cli.h"
#include "node/commands.h"

static const char usage[] =
    "usage: tracectl ecosystem init --network ID --governance-key FILE --out ecosystem.json\n"
    "       tracectl ecosystem add-org --file ecosystem.json --id ORG --name NAME --key PUB\n"
    "                --role ROLE[,ROLE] [--node-key PUB] [--addr HOST:PORT]\n"
    "       tracectl ecosystem sign --file ecosystem.json --governance-key FILE\n"
    "\n"
    "The ecosystem file lists the network's member orgs (keys, roles, nodes) and is signed\n"
    "by the governance key; nodes refuse an unsigned or badly signed file. add-org removes\n"
    "the signature (the content changed): sign again afterwards.\n"
    "PUB is ed25519:BASE64 or a key file (its public key is used).\n"
    "Roles: manufacturer, supplier, assembler, carrier, operator, auditor.\n";

static int load_key(const char *path, struct cry_keypair *kp)
{
    char err[512];
    int rc = cry_keyfile_read(path, kp, err, sizeof err);

    if (rc != 0)
        return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s", err);
    return 0;
}

static int write_doc(const char *path, json_t *doc)
{
    char err[512];
    int rc = proto_ecosystem_doc_write(path, doc, err, sizeof err);

    json_decref(doc);
    return rc ? cli_error(CLI_IO, "%s", err) : 0;
}

static int eco_init(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    const char *network = NULL, *gov = NULL, *out = NULL, *pos[1];
    struct cry_keypair kp = {0};
    struct stat st;
    size_t n_pos;
    json_t *doc;
    const struct args_opt opts[] = {{"network", ARGS_VALUE, &network},
                                    {"governance-key", ARGS_VALUE, &gov},
                                    {"out", ARGS_VALUE, &out},
                                    {NULL, 0, NULL}};
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 0, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (!network || !gov || !out)
        return cli_error(CLI_USAGE, "ecosystem init needs --network, --governance-key and --out");
    if (!proto_id_ok(network))
        return cli_error(CLI_USAGE, "--network '%s' is not a valid id (1-64 of a-z 0-9 . _ -)",
                         network);
    if (stat(out, &st) == 0)
        return cli_error(CLI_USAGE, "%s already exists; refusing to overwrite it", out);
    if ((rc = load_key(gov, &kp)) != 0)
        return rc;
    doc = proto_ecosystem_doc_new(network, kp.pk);
    cry_keypair_release(&kp);
    if (!doc)
        return cli_error(CLI_IO, "out of memory");
    if ((rc = write_doc(out, doc)) != 0)
        return rc;
    if (cli.json)
        cli_print_json(json_pack("{s:s, s:s}", "file", out, "network", network));
    else
        printf("wrote %s (network %s, no orgs yet, unsigned)\n", out, network);
    return CLI_OK;
}

static int eco_add_org(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    const char *file = NULL, *id = NULL, *name = NULL, *key = NULL, *roles = NULL;
    const char *node_key = NULL, *addr = NULL, *pos[1];
    uint8_t pk[32], npk[32];
    size_t n_pos;
    char err[512];
    json_t *doc;
    const struct args_opt opts[] = {
        {"file", ARGS_VALUE, &file},         {"id", ARGS_VALUE, &id},
        {"name", ARGS_VALUE, &name},         {"key", ARGS_VALUE, &key},
        {"role", ARGS_VALUE, &roles},        {"node-key", ARGS_VALUE, &node_key},
        {"addr", ARGS_VALUE, &addr},         {NULL, 0, NULL}};
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 0, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (!file || !id || !name || !key || !roles)
        return cli_error(CLI_USAGE, "ecosystem add-org needs --file, --id, --name, --key, --role");
    if (addr && (!node_key || args_check_hostport(addr) != 0))
        return cli_error(CLI_USAGE, "--addr must be HOST:PORT and comes with --node-key");
    if ((rc = cli_parse_pk(key, "--key", pk)) != 0 ||
        (node_key && (rc = cli_parse_pk(node_key, "--node-key", npk)) != 0))
        return rc;
    if ((rc = proto_ecosystem_doc_read(file, &doc, err, sizeof err)) != 0)
        return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s: %s", file, err);
    rc = proto_ecosystem_doc_add_org(doc, id, name, pk, roles, node_key ? npk : NULL, addr, err,
                                     sizeof err);
    if (rc != 0) {
        json_decref(doc);
        return cli_error(CLI_USAGE, "%s", err);
    }
    if ((rc = write_doc(file, doc)) != 0)
        return rc;
    if (cli.json)
        cli_print_json(json_pack("{s:s, s:s, s:b}", "file", file, "org", id, "signed", 0));
    else
        printf("added org %s to %s; the file is now unsigned: run tracectl ecosystem sign\n", id,
               file);
    return CLI_OK;
}

static int eco_sign(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    const char *file = NULL, *gov = NULL, *pos[1];
    struct cry_keypair kp = {0};
    struct proto_ecosystem eco;
    size_t n_pos;
    char err[512];
    json_t *doc;
    const struct args_opt opts[] = {
        {"file", ARGS_VALUE, &file}, {"governance-key", ARGS_VALUE, &gov}, {NULL, 0, NULL}};
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 0, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (!file || !gov)
        return cli_error(CLI_USAGE, "ecosystem sign needs --file and --governance-key");
    if ((rc = proto_ecosystem_doc_read(file, &doc, err, sizeof err)) != 0)
        return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s: %s", file, err);
    if ((rc = load_key(gov, &kp)) != 0) {
        json_decref(doc);
        return rc;
    }
    rc = proto_ecosystem_doc_sign(doc, &kp, err, sizeof err);
    cry_keypair_release(&kp);
    if (rc != 0) {
        json_decref(doc);
        return cli_error(CLI_USAGE, "%s", err);
    }
    if ((rc = write_doc(file, doc)) != 0)
        return rc;
    /* Read back what was written: the signature must verify on the file as stored. */
    if ((rc = proto_ecosystem_load(file, true, &eco, NULL, NULL, err, sizeof err)) != 0)
        return cli_error(CLI_IO, "%s: written but does not verify: %s", file, err);
    if (cli.json)
        cli_print_json(json_pack("{s:s, s:s, s:i, s:b}", "file", file, "network", eco.network,
                                 "orgs", (int)eco.n_orgs, "signed", 1));
    else
        printf("signed %s (network %s, %zu orgs)\n", file, eco.network, eco.n_orgs);
    proto_ecosystem_release(&eco);
    return CLI_OK;
}

int cmd_ecosystem(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "init") == 0)
        return eco_init(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "add-org") == 0)
        return eco_add_org(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "sign") == 0)
        return eco_sign(argc - 1, argv + 1);
    if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "help") == 0)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    cli_error(CLI_USAGE, "ecosystem needs a subcommand: init, add-org or sign");
    fputs(usage, stderr);
    return CLI_USAGE;
}
