/* tracectl: everything but the daemon. `tracectl help` lists the commands. */
#include <stdio.h>
#include <string.h>

#include "crypto/key.h"
#include "node/cli.h"
#include "node/commands.h"

static const char usage[] =
    "usage: tracectl COMMAND [ARGS] [--data DIR] [--json]\n"
    "\n"
    "commands:\n"
    "  keygen --out FILE                    new Ed25519 key file (0600), prints the public key\n"
    "  ecosystem init|add-org|sign ...      create, edit and sign the ecosystem file\n"
    "  submit FILE|-                        sign and append events (JSON or JSON Lines)\n"
    "  get RECORD_ID [--raw]                one record\n"
    "  log ORG [--from SEQ] [--limit N]     an org's shard\n"
    "  proof RECORD_ID                      inclusion proof and signed checkpoint\n"
    "  trace ITEM [--format text|json|dot]  backward pedigree, every record checked, verdict\n"
    "  where-used ITEM                      forward trace (recall): where it went, who holds it\n"
    "  disclose RECORD_ID FIELD --out FILE  reveal one private field (salt and value)\n"
    "  verify-disclosure FILE               check a disclosure against the record\n"
    "  export ITEM --out BUNDLE             pedigree, proofs and checkpoints in one file\n"
    "  verify-bundle BUNDLE --ecosystem F   check a bundle offline\n"
    "  mud check|show FILE                  validate a MUD file (RFC 8520) / what it allows\n"
    "  mud anchor FILE [--model M]          anchor its SHA-256 in this org's shard\n"
    "  mud verify FILE [--device ITEM]      is it the anchored, current file (and device)?\n"
    "  status                               the running node, its peers and shards\n"
    "  fsck                                 re-verify the whole repository offline\n"
    "  governance add-org|revoke|rotate ... governance records (signed by the governance key)\n"
    "  import FILE...                       records signed elsewhere, checked like a peer's\n"
    "\n"
    "global flags: --data DIR (default ./tracenode-data), --json (one JSON document on\n"
    "stdout), --help. Errors go to stderr as one line starting with 'error:'.\n"
    "exit codes: 0 ok, 1 verification failed, 2 usage or input error (nothing written),\n"
    "3 incomplete (records missing), 4 node unreachable or I/O error.\n";

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"keygen", cmd_keygen}, {"ecosystem", cmd_ecosystem}, {"submit", cmd_submit},
    {"get", cmd_get},       {"log", cmd_log},             {"proof", cmd_proof},
    {"status", cmd_status}, {"governance", cmd_governance}, {"import", cmd_import},
    {"trace", cmd_trace},   {"where-used", cmd_where_used},
    {"disclose", cmd_disclose}, {"verify-disclosure", cmd_verify_disclosure},
    {"export", cmd_export},     {"verify-bundle", cmd_verify_bundle},
    {"mud", cmd_mud},           {"fsck", cmd_fsck},
};

int main(int argc, char **argv)
{
    if (cry_init() != 0)
        return cli_error(CLI_IO, "libsodium failed to initialise");
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 2, argv + 2);
    cli_error(CLI_USAGE, "unknown command '%s'", argv[1]);
    fputs(usage, stderr);
    return CLI_USAGE;
}
