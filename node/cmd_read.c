/* tracectl get | log | proof: read the node's repository directly (read-only LMDB
 * transaction), so they work whether or not the node is running. */
#include <stdio.h>
#include <string.h>

#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "node/cli.h"
#include "node/commands.h"
#include "node/record_json.h"

static const char get_usage[] =
    "usage: tracectl get [--data DIR] [--json] RECORD_ID [--raw]\n"
    "\n"
    "Shows one record. --raw writes its exact bytes (COSE_Sign1) to stdout; their SHA-256\n"
    "is the record id. Exit 3 if the record is not held here.\n";

static const char log_usage[] =
    "usage: tracectl log [--data DIR] [--json] ORG [--from SEQ] [--limit N]\n"
    "\n"
    "Lists an org's shard in order: seq, record id, type, time.\n";

static const char proof_usage[] =
    "usage: tracectl proof [--data DIR] [--json] RECORD_ID\n"
    "\n"
    "Prints the RFC 9162 inclusion proof of a record in its shard's latest signed\n"
    "checkpoint (a C2SP signed note), after checking both here.\n";

/* Fetches and decodes a record; prints the error and returns the exit code on failure. */
static int load_record(struct store_txn *txn, const uint8_t id[32], const char *arg,
                       struct proto_record *r, const uint8_t **bytes, size_t *len)
{
    char err[256];
    int rc;

    proto_record_init(r);
    rc = store_record_load(txn, id, bytes, len, r, err, sizeof err);
    if (rc == TN_ERR_NOT_FOUND)
        return cli_error(CLI_INCOMPLETE, "no record %s here", arg);
    if (rc == TN_ERR_CORRUPT)
        return cli_error(CLI_IO, "stored record %s is damaged: %s", arg, err);
    if (rc != 0)
        return cli_error(CLI_IO, "cannot read record %s: %s", arg, err);
    return 0;
}

int cmd_get(int argc, char **argv)
{
    struct cli cli = {.usage = get_usage};
    struct cli_repo repo;
    struct proto_record r;
    const uint8_t *bytes;
    const char *pos[1];
    bool raw = false;
    uint8_t id[32];
    size_t n_pos, len;
    const struct args_opt opts[] = {{"raw", ARGS_FLAG, &raw}, {NULL, 0, NULL}};
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1)
        return cli_error(CLI_USAGE, "get needs RECORD_ID");
    if ((rc = cli_parse_id(pos[0], id)) != 0 || (rc = cli_repo_open(&cli, &repo)) != 0)
        return rc;
    if ((rc = load_record(repo.txn, id, pos[0], &r, &bytes, &len)) != 0)
        goto out;
    if (raw) {
        rc = fwrite(bytes, 1, len, stdout) == len && fflush(stdout) == 0
                 ? CLI_OK
                 : cli_error(CLI_IO, "cannot write to stdout");
        goto out;
    }
    cli_print(&cli, node_record_json(&r, id));
    rc = CLI_OK;
out:
    proto_record_release(&r);
    cli_repo_close(&repo);
    return rc;
}

int cmd_log(int argc, char **argv)
{
    struct cli cli = {.usage = log_usage};
    struct cli_repo repo;
    struct store_txn *txn = NULL;
    struct store_shard sh = {0};
    const char *pos[1], *from_s = NULL, *limit_s = NULL;
    uint64_t from = 0, limit = UINT64_MAX;
    size_t n_pos;
    json_t *recs;
    const struct args_opt opts[] = {
        {"from", ARGS_VALUE, &from_s}, {"limit", ARGS_VALUE, &limit_s}, {NULL, 0, NULL}};
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1)
        return cli_error(CLI_USAGE, "log needs ORG");
    if ((from_s && args_parse_u64(from_s, &from) != 0) ||
        (limit_s && args_parse_u64(limit_s, &limit) != 0))
        return cli_error(CLI_USAGE, "--from and --limit take non-negative integers");
    if ((rc = cli_repo_open(&cli, &repo)) != 0)
        return rc;
    if (!proto_ecosystem_org(&repo.eco, pos[0])) {
        rc = cli_error(CLI_USAGE, "org '%s' is not in the ecosystem", pos[0]);
        goto out;
    }
    if ((rc = store_shard_get(txn = repo.txn, pos[0], &sh)) != 0 && rc != TN_ERR_NOT_FOUND) {
        rc = cli_error(CLI_IO, "cannot read the repository: %s", tn_strerror(rc));
        goto out;
    }
    recs = json_array();
    for (uint64_t seq = from; seq < sh.size && (uint64_t)json_array_size(recs) < limit; seq++) {
        struct proto_record r;
        const uint8_t *bytes;
        uint8_t id[32];
        char hex[CRY_HEX_LEN(32)];
        size_t len;
        proto_record_init(&r); /* released below on every path, even before load_record */
        if ((rc = store_record_at(txn, pos[0], seq, id)) != 0 ||
            (cry_hex(hex, id, 32), rc = load_record(txn, id, hex, &r, &bytes, &len)) != 0) {
            proto_record_release(&r);
            json_decref(recs);
            rc = rc < 0 ? cli_error(CLI_IO, "shard %s is damaged at seq %llu: %s", pos[0],
                                    (unsigned long long)seq, tn_strerror(rc))
                        : rc;
            goto out;
        }
        json_array_append_new(recs, json_pack("{s:s, s:I, s:s, s:I}", "id", hex, "seq",
                                              (json_int_t)seq, "type", proto_type_name(r.type),
                                              "time", (json_int_t)r.time));
        proto_record_release(&r);
    }
    if (cli.json) {
        cli_print_json(json_pack("{s:s, s:I, s:o}", "org", pos[0], "size", (json_int_t)sh.size,
                                 "records", recs));
    } else {
        size_t i;
        json_t *x;
        printf("org %s: %llu records\n", pos[0], (unsigned long long)sh.size);
        json_array_foreach(recs, i, x) printf(
            "%6lld  %s  %-12s %lld\n", (long long)json_integer_value(json_object_get(x, "seq")),
            json_string_value(json_object_get(x, "id")),
            json_string_value(json_object_get(x, "type")),
            (long long)json_integer_value(json_object_get(x, "time")));
        json_decref(recs);
    }
    rc = CLI_OK;
out:
    cli_repo_close(&repo);
    return rc;
}

int cmd_proof(int argc, char **argv)
{
    struct cli cli = {.usage = proof_usage};
    struct cli_repo repo;
    struct proto_record r;
    struct cry_checkpoint cp;
    const struct proto_org *org;
    const uint8_t *bytes;
    const char *pos[1], *note;
    uint8_t id[32], leaf[32], path[CRY_MERKLE_MAX_PROOF][32];
    char origin[CRY_ORIGIN_MAX + 1], hex[CRY_HEX_LEN(32)];
    uint64_t cp_size;
    size_t n_pos, len, note_len, path_len;
    json_t *jpath, *doc;
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, NULL, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1)
        return cli_error(CLI_USAGE, "proof needs RECORD_ID");
    if ((rc = cli_parse_id(pos[0], id)) != 0 || (rc = cli_repo_open(&cli, &repo)) != 0)
        return rc;
    if ((rc = load_record(repo.txn, id, pos[0], &r, &bytes, &len)) != 0)
        goto out;
    if (!(org = proto_ecosystem_org(&repo.eco, r.org))) {
        rc = cli_error(CLI_FAIL, "record's org %s is not in the ecosystem", r.org);
        goto out;
    }
    if ((rc = store_checkpoint_get(repo.txn, r.org, &cp_size, &note, &note_len)) != 0) {
        rc = cli_error(CLI_INCOMPLETE, "no checkpoint held for shard %s", r.org);
        goto out;
    }
    snprintf(origin, sizeof origin, "%s/%s", r.net, r.org);
    if (cry_checkpoint_verify(note, note_len, origin, org->key, &cp) != 0 || cp.size != cp_size) {
        rc = cli_error(CLI_FAIL, "the stored checkpoint of shard %s does not verify", r.org);
        goto out;
    }
    if (r.seq >= cp.size) {
        rc = cli_error(CLI_INCOMPLETE, "record seq %llu is not yet covered by a checkpoint "
                                       "(size %llu)",
                       (unsigned long long)r.seq, (unsigned long long)cp.size);
        goto out;
    }
    if ((rc = store_inclusion_proof(repo.txn, r.org, r.seq, cp.size, path, &path_len)) != 0) {
        rc = cli_error(CLI_IO, "cannot build the proof: %s", tn_strerror(rc));
        goto out;
    }
    cry_merkle_leaf_hash(leaf, bytes, len);
    if (cry_merkle_verify_inclusion(leaf, r.seq, cp.size, (const uint8_t(*)[32])path, path_len,
                                    cp.root) != 0) {
        rc = cli_error(CLI_FAIL, "the shard's Merkle tree does not match its signed checkpoint");
        goto out;
    }
    jpath = json_array();
    for (size_t i = 0; i < path_len; i++)
        json_array_append_new(jpath, node_json_hex(path[i]));
    cry_hex(hex, cp.root, 32);
    doc = json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:s#}", "id", pos[0], "org", r.org, "index",
                    (json_int_t)r.seq, "size", (json_int_t)cp.size, "root", hex, "path", jpath,
                    "checkpoint", note, (int)note_len);
    if (cli.json) {
        cli_print_json(doc);
    } else {
        printf("record %s\norg %s, index %llu in a tree of %llu, root %s\npath:\n", pos[0],
               r.org, (unsigned long long)r.seq, (unsigned long long)cp.size, hex);
        for (size_t i = 0; i < path_len; i++) {
            cry_hex(hex, path[i], 32);
            printf("  %s\n", hex);
        }
        printf("checkpoint:\n%.*s", (int)note_len, note);
        json_decref(doc);
    }
    rc = CLI_OK;
out:
    proto_record_release(&r);
    cli_repo_close(&repo);
    return rc;
}
