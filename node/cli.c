#include "node/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/encode.h"
#include "crypto/key.h"
#include "node/log.h"
#include "proto/utf8.h"

int cli_error(int code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* One line: fold newlines a message may carry. */
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    fprintf(stderr, "error: %s\n", msg);
    return code;
}

int cli_exit_for(int e)
{
    switch ((enum tn_err)e) {
    case TN_OK: return CLI_OK;
    case TN_ERR_INVALID:
    case TN_ERR_TOO_BIG:
    case TN_ERR_PERM:
    case TN_ERR_ROLE:
    case TN_ERR_UNKNOWN_ORG:
    case TN_ERR_EXISTS:
    case TN_ERR_UNKNOWN_KEY:
        return CLI_USAGE;
    case TN_ERR_BAD_SIGNATURE:
    case TN_ERR_PROOF:
    case TN_ERR_CHAIN:
    case TN_ERR_FROZEN:
        return CLI_FAIL;
    case TN_ERR_NOT_FOUND: return CLI_INCOMPLETE;
    case TN_ERR_NOMEM:
    case TN_ERR_IO:
    case TN_ERR_MAP_FULL:
    case TN_ERR_UNREACHABLE:
    case TN_ERR_CORRUPT:
        return CLI_IO;
    }
    return CLI_IO;
}

int cli_parse(struct cli *cli, int argc, char **argv, const struct args_opt *opts,
              const char **pos, size_t max_pos, size_t *n_pos)
{
    struct args_opt all[40];
    size_t n = 0;
    char err[256];

    for (; opts && opts[n].name && n < 36; n++)
        all[n] = opts[n];
    all[n++] = (struct args_opt){"data", ARGS_VALUE, &cli->data_dir};
    all[n++] = (struct args_opt){"json", ARGS_FLAG, &cli->json};
    all[n++] = (struct args_opt){"help", ARGS_FLAG, &cli->help};
    all[n] = (struct args_opt){NULL, 0, NULL};
    if (args_parse(argc, argv, all, pos, max_pos, n_pos, err, sizeof err) != 0) {
        cli_error(CLI_USAGE, "%s", err);
        fputs(cli->usage, stderr);
        return CLI_USAGE;
    }
    if (cli->help) {
        fputs(cli->usage, stdout);
        return -1;
    }
    if (!cli->data_dir)
        cli->data_dir = NODE_DEFAULT_DATA;
    return 0;
}

void cli_print_json(json_t *doc)
{
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    json_decref(doc);
}

int cli_repo_open(struct cli *cli, struct cli_repo *r)
{
    struct store_txn *txn;
    const uint8_t *v;
    size_t len;
    char err[512];
    int rc;

    memset(r, 0, sizeof *r);
    if (node_paths_init(&r->paths, cli->data_dir, err, sizeof err) != 0)
        return cli_error(CLI_USAGE, "%s", err);
    if ((rc = store_open(r->paths.db, 0, true, &r->repo, err, sizeof err)) != 0) {
        if (strstr(err, STORE_UPGRADE_WAY_OUT)) /* the repository is fine: no hint of ours */
            return cli_error(CLI_IO, "%s", err);
        return cli_error(CLI_IO, "%s (is --data %s a tracenode data dir?)", err, cli->data_dir);
    }
    if ((rc = store_txn_begin(r->repo, false, &r->txn)) != 0)
        goto fail;
    txn = r->txn;
    if ((rc = store_meta_get(txn, NODE_META_ORG, &v, &len)) != 0 || len > PROTO_ID_MAX)
        goto fail;
    memcpy(r->org, v, len);
    r->org[len] = '\0';
    if ((rc = store_meta_get(txn, NODE_META_ECOSYSTEM, &v, &len)) != 0)
        goto fail;
    /* the effective ecosystem: the file plus the governance shard held here */
    if ((rc = store_ecosystem_load(txn, (const char *)v, len, &r->eco, NULL, err, sizeof err)) !=
        0) {
        cli_repo_close(r);
        return cli_error(CLI_IO, "the ecosystem stored in %s is unreadable: %s", cli->data_dir,
                         err);
    }
    return 0;
fail:
    cli_repo_close(r);
    return cli_error(CLI_IO, "cannot read the repository in %s: %s", cli->data_dir,
                     tn_strerror(rc));
}

void cli_repo_close(struct cli_repo *r)
{
    store_txn_abort(r->txn);
    r->txn = NULL;
    store_close(r->repo);
    r->repo = NULL;
    if (r->eco.network)
        proto_ecosystem_release(&r->eco);
}

int cli_parse_id(const char *arg, uint8_t id[32])
{
    if (cry_unhex(id, 32, arg) != 0)
        return cli_error(CLI_USAGE, "'%s' is not a record id (64 hex digits)", arg);
    return 0;
}

int cli_parse_pk(const char *arg, const char *flag, uint8_t pk[32])
{
    struct cry_keypair kp = {0};
    char err[512];

    if (strncmp(arg, "ed25519:", 8) == 0) {
        if (cry_pk_parse(pk, arg) != 0)
            return cli_error(CLI_USAGE, "%s: '%s' is not ed25519: and base64 of 32 bytes", flag,
                             arg);
        return 0;
    }
    if (cry_keyfile_read(arg, &kp, err, sizeof err) != 0)
        return cli_error(CLI_USAGE, "%s: not a public key (ed25519:BASE64) nor a key file: %s",
                         flag, err);
    memcpy(pk, kp.pk, 32);
    cry_keypair_release(&kp);
    return 0;
}

void cli_print_text(json_t *doc)
{
    const char *k;
    json_t *v;

    json_object_foreach(doc, k, v) {
        printf("%-12s ", k);
        if (json_is_string(v)) {
            printf("%s\n", json_string_value(v));
        } else if (json_is_null(v)) {
            printf("-\n");
        } else if (json_is_array(v) && json_array_size(v) > 0 &&
                   json_is_string(json_array_get(v, 0))) {
            size_t i;
            json_t *x;
            json_array_foreach(v, i, x) printf("%s%s", i ? ", " : "",
                                               json_is_string(x) ? json_string_value(x) : "?");
            printf("\n");
        } else {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
            printf("%s\n", s ? s : "?");
            free(s);
        }
    }
    json_decref(doc);
}

void cli_print(const struct cli *cli, json_t *doc)
{
    if (cli->json)
        cli_print_json(doc);
    else
        cli_print_text(doc);
}

json_t *cli_json_text(const char *s)
{
    size_t n = strlen(s), k = 0;
    char *buf = malloc(3 * n + 1);
    json_t *out;

    if (!buf)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t l = proto_utf8_char_len((const uint8_t *)s + i, n - i);
        if (l == 0) {
            memcpy(buf + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        } else {
            memcpy(buf + k, s + i, l);
            k += l;
            i += l;
        }
    }
    out = json_stringn(buf, k);
    free(buf);
    return out;
}
