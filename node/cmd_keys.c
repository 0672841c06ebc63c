/* tracectl keygen */
#include <stdio.h>

#include "crypto/key.h"
#include "node/cli.h"
#include "node/commands.h"

static const char usage[] =
    "usage: tracectl keygen --out FILE [--json]\n"
    "\n"
    "Creates a new Ed25519 key file (mode 0600; never overwrites) and prints its public key\n"
    "(ed25519:BASE64). Use one for each org signing key, node key and the governance key.\n";

int cmd_keygen(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    const char *out = NULL, *pos[1];
    struct cry_keypair kp = {0};
    char pk[CRY_PK_TEXT_LEN];
    size_t n_pos;
    const struct args_opt opts[] = {{"out", ARGS_VALUE, &out}, {NULL, 0, NULL}};
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 0, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (!out)
        return cli_error(CLI_USAGE, "keygen needs --out FILE");
    if (cry_keypair_generate(&kp) != 0)
        return cli_error(CLI_IO, "cannot generate a key");
    rc = cry_keyfile_write(out, &kp);
    cry_pk_format(pk, kp.pk);
    cry_keypair_release(&kp);
    if (rc == TN_ERR_EXISTS)
        return cli_error(CLI_USAGE, "%s already exists; refusing to overwrite a key file", out);
    if (rc != 0)
        return cli_error(CLI_IO, "cannot write %s", out);
    if (cli.json)
        cli_print_json(json_pack("{s:s, s:s}", "public_key", pk, "file", out));
    else
        printf("%s\n", pk);
    return CLI_OK;
}
