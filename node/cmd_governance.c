/* tracectl governance add-org | revoke | rotate, and tracectl import. Governance records
 * are signed here with the governance key (the node never holds it) and handed to the
 * node, which checks and stores them like records from a peer; they then replicate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "crypto/merkle.h"
#include "node/api_client.h"
#include "node/cli.h"
#include "node/commands.h"
#include "proto/readfile.h"

static const char usage[] =
    "usage: tracectl governance [--data DIR] --governance-key FILE [--effective MS] COMMAND\n"
    "  add-org --id ORG --name NAME --key PUB --role ROLE[,ROLE] [--node-key PUB [--addr HOST:PORT]]\n"
    "  revoke  --org ORG --key PUB        records signed with this key at or after the\n"
    "                                     effective time are REVOKED_KEY\n"
    "  rotate  --org ORG --new-key PUB    the org signs with the new key from the\n"
    "                                     effective time on; the old key ends then\n"
    "\n"
    "Signs a governance record with the governance key and has the running node store it\n"
    "in the governance shard, from where it replicates to every node. --effective defaults\n"
    "to now (ms since the epoch). PUB is ed25519:BASE64 or a key file.\n";

static const char import_usage[] =
    "usage: tracectl import [--data DIR] [--json] FILE...\n"
    "\n"
    "Hands records signed elsewhere (each FILE holds one record's exact bytes, as written\n"
    "by `tracectl get --raw`) to the running node, which checks them like a peer's\n"
    "records (decoding, org, key, signature, role, chain) and stores those that continue\n"
    "their shard. Prints one result a line. Exit 0 if every record was stored or held\n"
    "already, 1 otherwise, 4 if the node is not running.\n";

/* The governance shard's tree with one more leaf: stored subtrees below the old size,
 * computed ones over the new leaf. */
struct grown_tree {
    struct store_txn *txn;
    uint64_t old_size;
    uint8_t leaf[CRY_HASH_LEN];
};

static int grown_node(void *ctx, unsigned level, uint64_t index, uint8_t out[CRY_HASH_LEN])
{
    struct grown_tree *t = ctx;
    uint8_t l[CRY_HASH_LEN], r[CRY_HASH_LEN];
    int rc;

    if (((index + 1) << level) <= t->old_size)
        return store_merkle_node(t->txn, PROTO_GOV_ORG, level, index, out);
    if (level == 0) {
        memcpy(out, t->leaf, CRY_HASH_LEN);
        return 0;
    }
    if ((rc = grown_node(ctx, level - 1, index * 2, l)) != 0 ||
        (rc = grown_node(ctx, level - 1, index * 2 + 1, r)) != 0)
        return rc;
    cry_merkle_node_hash(out, l, r);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sends records to the node; prints each result; returns the exit code. */
static int import_records(struct cli *cli, uint8_t *const *recs, const size_t *lens, size_t n,
                          const char *const *names, const char *note, size_t note_len)
{
    struct node_paths paths;
    struct api_client c;
    struct proto_msg m;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char err[512];
    int rc, code = CLI_OK;
    json_t *out;

    if (node_paths_init(&paths, cli->data_dir, err, sizeof err) != 0)
        return cli_error(CLI_USAGE, "%s", err);
    if (api_client_connect(&c, paths.sock, err, sizeof err) != 0)
        return cli_error(CLI_IO, "%s", err);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    proto_msg_begin(&pk, PROTO_API_IMPORT, c.next_id++);
    msgpack_pack_array(&pk, n + (note != NULL));
    for (size_t i = 0; i < n; i++)
        msgpack_pack_bin_with_body(&pk, recs[i], lens[i]);
    if (note) /* a checkpoint follows the records it covers */
        msgpack_pack_str_with_body(&pk, note, note_len);
    rc = api_client_send(&c, &sb);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0 || (rc = api_client_recv(&c, &m, err, sizeof err)) != 0) {
        api_client_close(&c);
        return cli_error(CLI_IO, "the node closed the connection");
    }
    if (m.type == PROTO_API_ERR) {
        uint64_t index;
        int e = api_client_error(&m, err, sizeof err, &index);
        proto_msg_release(&m);
        api_client_close(&c);
        /* A refused record is a verdict on the input (exit 1); only the node's
         * own trouble (disk, memory) is exit 4. */
        return cli_error(cli_exit_for(e) == CLI_IO ? CLI_IO : CLI_FAIL, "%s: %s",
                         index < n ? names[index] : "record", err);
    }
    out = json_array();
    for (uint32_t i = 0; i < m.body->via.array.size && i < n; i++) {
        const msgpack_object *r = &m.body->via.array.ptr[i];
        uint8_t id[32];
        char hex[CRY_HEX_LEN(32)], res[200];
        snprintf(res, sizeof res, "%.*s", r->type == MSGPACK_OBJECT_STR ? (int)r->via.str.size : 0,
                 r->type == MSGPACK_OBJECT_STR ? r->via.str.ptr : "");
        proto_record_id(id, recs[i], lens[i]);
        cry_hex(hex, id, 32);
        if (strcmp(res, "appended") != 0 && strcmp(res, "duplicate") != 0)
            code = CLI_FAIL;
        if (cli->json)
            json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "file", names[i], "id", hex,
                                                 "result", res));
        else
            printf("%s  %s\n", hex, res);
    }
    if (note && m.body->via.array.size == n + 1) {
        const msgpack_object *r = &m.body->via.array.ptr[n];
        if (!proto_msg_str_eq(r, "checkpoint stored") && !proto_msg_str_eq(r, "duplicate")) {
            fprintf(stderr, "warning: the governance checkpoint was not stored: %.*s\n",
                    r->type == MSGPACK_OBJECT_STR ? (int)r->via.str.size : 0,
                    r->type == MSGPACK_OBJECT_STR ? r->via.str.ptr : "");
        }
    }
    proto_msg_release(&m);
    api_client_close(&c);
    if (cli->json)
        cli_print_json(json_pack("{s:o}", "records", out));
    else
        json_decref(out);
    return code;
}

int cmd_import(int argc, char **argv)
{
    struct cli cli = {.usage = import_usage};
    const char *pos[PROTO_API_SUBMIT_MAX];
    uint8_t *recs[PROTO_API_SUBMIT_MAX];
    size_t lens[PROTO_API_SUBMIT_MAX], n_pos;
    char err[512];
    int rc, code;

    if ((rc = cli_parse(&cli, argc, argv, NULL, pos, PROTO_API_SUBMIT_MAX, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos == 0)
        return cli_error(CLI_USAGE, "import needs at least one record FILE");
    for (size_t i = 0; i < n_pos; i++)
        if ((rc = proto_read_file(pos[i], PROTO_RECORD_MAX, (char **)&recs[i], &lens[i], err,
                                  sizeof err)) != 0) {
            while (i--)
                free(recs[i]);
            return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s", err);
        }
    code = import_records(&cli, recs, lens, n_pos, pos, NULL, 0);
    for (size_t i = 0; i < n_pos; i++)
        free(recs[i]);
    return code;
}

int cmd_governance(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    const char *gov_path = NULL, *effective_s = NULL, *id = NULL, *name = NULL, *key = NULL;
    const char *roles = NULL, *node_key = NULL, *addr = NULL, *org = NULL, *new_key = NULL;
    const char *pos[1], *roles_list[8];
    const struct args_opt opts[] = {
        {"governance-key", ARGS_VALUE, &gov_path}, {"effective", ARGS_VALUE, &effective_s},
        {"id", ARGS_VALUE, &id},                   {"name", ARGS_VALUE, &name},
        {"key", ARGS_VALUE, &key},                 {"role", ARGS_VALUE, &roles},
        {"node-key", ARGS_VALUE, &node_key},       {"addr", ARGS_VALUE, &addr},
        {"org", ARGS_VALUE, &org},                 {"new-key", ARGS_VALUE, &new_key},
        {NULL, 0, NULL}};
    struct cry_keypair gov = {0};
    struct proto_record r;
    struct proto_gov_node node;
    struct cli_repo repo;
    struct store_shard sh;
    uint8_t bytes[PROTO_RECORD_MAX], *recs[1];
    char note[CRY_NOTE_MAX];
    size_t n_pos, len, lens[1], note_len = 0;
    char err[512], rolebuf[256], *tok, *save = NULL;
    int rc;

    const char *cmd;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1) {
        cli_error(CLI_USAGE, "governance needs a subcommand: add-org, revoke or rotate");
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    cmd = pos[0];
    proto_record_init(&r);
    r.time = now_ms();
    r.effective = r.time;
    r.has_effective = true;
    if (effective_s && args_parse_u64(effective_s, &r.effective) != 0)
        return cli_error(CLI_USAGE, "--effective takes ms since the epoch");
    if (!gov_path)
        return cli_error(CLI_USAGE, "governance needs --governance-key FILE");
    if (strcmp(cmd, "add-org") == 0) {
        size_t nr = 0;
        if (!id || !name || !key || !roles)
            return cli_error(CLI_USAGE, "add-org needs --id, --name, --key and --role");
        if (addr && !node_key)
            return cli_error(CLI_USAGE, "--addr comes with --node-key");
        r.type = PROTO_T_GOV_ADD_ORG;
        r.subject = id;
        r.name = name;
        if ((rc = cli_parse_pk(key, "--key", r.key)) != 0)
            return rc;
        snprintf(rolebuf, sizeof rolebuf, "%s", roles);
        for (tok = strtok_r(rolebuf, ",", &save); tok && nr < 8; tok = strtok_r(NULL, ",", &save))
            roles_list[nr++] = tok;
        r.roles = roles_list;
        r.n_roles = nr;
        if (node_key) {
            if ((rc = cli_parse_pk(node_key, "--node-key", node.key)) != 0)
                return rc;
            if (addr && args_check_hostport(addr) != 0)
                return cli_error(CLI_USAGE, "--addr must be HOST:PORT");
            node.addr = addr;
            r.nodes = &node;
            r.n_nodes = 1;
        }
    } else if (strcmp(cmd, "revoke") == 0 || strcmp(cmd, "rotate") == 0) {
        bool revoke = cmd[2] == 'v';
        const char *k = revoke ? key : new_key;
        if (!org || !k)
            return cli_error(CLI_USAGE, "%s needs --org and %s", cmd,
                             revoke ? "--key" : "--new-key");
        r.type = revoke ? PROTO_T_GOV_REVOKE : PROTO_T_GOV_ROTATE;
        r.subject = org;
        if ((rc = cli_parse_pk(k, revoke ? "--key" : "--new-key", r.key)) != 0)
            return rc;
    } else {
        return cli_error(CLI_USAGE, "unknown governance command '%s'", cmd);
    }
    r.has_key = true;
    if (cry_keyfile_read(gov_path, &gov, err, sizeof err) != 0)
        return cli_error(CLI_USAGE, "%s", err);
    if ((rc = cli_repo_open(&cli, &repo)) != 0) {
        cry_keypair_release(&gov);
        return rc;
    }
    if (memcmp(gov.pk, repo.eco.gov_key, CRY_PK_LEN) != 0) {
        rc = cli_error(CLI_USAGE, "--governance-key is not the ecosystem's governance key");
        goto out;
    }
    if (r.type != PROTO_T_GOV_ADD_ORG && !proto_ecosystem_org(&repo.eco, r.subject)) {
        rc = cli_error(CLI_USAGE, "no org '%s' in the ecosystem", r.subject);
        goto out;
    }
    if (r.type == PROTO_T_GOV_ADD_ORG && proto_ecosystem_org(&repo.eco, r.subject)) {
        rc = cli_error(CLI_USAGE, "org '%s' is already in the ecosystem", r.subject);
        goto out;
    }
    /* the next position of the governance shard, as this node holds it */
    rc = store_shard_get(repo.txn, PROTO_GOV_ORG, &sh);
    if (rc == TN_ERR_NOT_FOUND)
        memset(&sh, 0, sizeof sh), rc = 0;
    if (rc != 0) {
        rc = cli_error(CLI_IO, "cannot read the governance shard");
        goto out;
    }
    r.v = PROTO_VERSION;
    r.net = repo.eco.network;
    r.org = PROTO_GOV_ORG;
    r.seq = sh.size;
    r.has_prev = sh.size > 0;
    memcpy(r.prev, sh.head, PROTO_ID_LEN);
    if ((rc = proto_record_sign(&r, &gov, bytes, sizeof bytes, &len, err, sizeof err)) != 0) {
        rc = cli_error(CLI_USAGE, "%s", err);
        goto out;
    }
    /* The governance key also signs the shard's checkpoint: nobody else can. */
    {
        struct grown_tree t = {.txn = repo.txn, .old_size = sh.size};
        struct cry_merkle_source ms = {grown_node, &t};
        struct cry_checkpoint cp;
        cry_merkle_leaf_hash(t.leaf, bytes, len);
        snprintf(cp.origin, sizeof cp.origin, "%s/%s", repo.eco.network, PROTO_GOV_ORG);
        cp.size = sh.size + 1;
        if (cry_merkle_root(&ms, cp.size, cp.root) != 0 ||
            cry_checkpoint_sign(&cp, &gov, note, sizeof note, &note_len) != 0) {
            rc = cli_error(CLI_IO, "cannot sign the governance checkpoint");
            goto out;
        }
    }
    cli_repo_close(&repo);
    cry_keypair_release(&gov);
    recs[0] = bytes;
    lens[0] = len;
    pos[0] = cmd;
    return import_records(&cli, recs, lens, 1, pos, note, note_len);
out:
    cli_repo_close(&repo);
    cry_keypair_release(&gov);
    return rc;
}
