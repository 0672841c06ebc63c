/* tracectl disclose | verify-disclosure: controlled disclosure of a sealed field.
 *
 * A record carries, for each private field, only SHA-256(salt || value) under its name.
 * The org's own node keeps salt and value. A disclosure hands both to someone; anyone
 * holding the record can check it. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto/encode.h"
#include "node/cli.h"
#include "node/commands.h"
#include "node/record_json.h"
#include "proto/readfile.h"

#define DISCLOSURE_FORMAT "tracenode-disclosure-v1"

static const char disclose_usage[] =
    "usage: tracectl disclose [--data DIR] RECORD_ID FIELD --out FILE\n"
    "\n"
    "Writes a disclosure of one private field of a record this node's org made: the record\n"
    "id, the field name, its salt and its value. Whoever receives FILE can check it against\n"
    "the record on any node with `tracectl verify-disclosure`. Only the node that recorded\n"
    "the event holds the value. Never overwrites FILE.\n";

static const char verify_usage[] =
    "usage: tracectl verify-disclosure [--data DIR] [--json] FILE\n"
    "\n"
    "Checks a disclosure against the record held here: SHA-256(salt || value) must be the\n"
    "commitment the record carries under that field name.\n"
    "Exit codes: 0 verified, 1 does not match, 2 malformed file, 3 record not held here.\n";

/* The commitment a record carries for field, or NULL. */
static const struct proto_seal *seal_of(const struct proto_record *r, const char *field)
{
    for (size_t i = 0; i < r->n_sealed; i++)
        if (strcmp(r->sealed[i].name, field) == 0)
            return &r->sealed[i];
    return NULL;
}

static int load(struct cli_repo *repo, const uint8_t id[32], const char *arg,
                struct proto_record *r)
{
    const uint8_t *bytes;
    size_t len;
    char err[256];
    int rc = store_record_get(repo->txn, id, &bytes, &len);

    if (rc == TN_ERR_NOT_FOUND)
        return cli_error(CLI_INCOMPLETE, "no record %s here", arg);
    if (rc != 0 || proto_record_decode(bytes, len, r, err, sizeof err) != 0)
        return cli_error(CLI_IO, "cannot read record %s", arg);
    return 0;
}

int cmd_disclose(int argc, char **argv)
{
    struct cli cli = {.usage = disclose_usage};
    const char *pos[2], *out = NULL;
    const struct args_opt opts[] = {{"out", ARGS_VALUE, &out}, {NULL, 0, NULL}};
    const struct proto_seal *seal;
    struct cli_repo repo;
    struct proto_record r;
    const uint8_t *salt;
    const char *value;
    size_t n_pos, vlen;
    uint8_t id[32];
    char *text = NULL;
    json_t *doc;
    int rc, fd;

    if ((rc = cli_parse(&cli, argc, argv, opts, pos, 2, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 2 || !out)
        return cli_error(CLI_USAGE, "disclose needs RECORD_ID FIELD and --out FILE");
    if ((rc = cli_parse_id(pos[0], id)) != 0 || (rc = cli_repo_open(&cli, &repo)) != 0)
        return rc;
    proto_record_init(&r);
    if ((rc = load(&repo, id, pos[0], &r)) != 0)
        goto out;
    if (!(seal = seal_of(&r, pos[1]))) {
        rc = cli_error(CLI_USAGE, "record %s has no sealed field '%s'", pos[0], pos[1]);
        goto out;
    }
    if (store_secret_get(repo.txn, id, pos[1], &salt, &value, &vlen) != 0) {
        rc = cli_error(CLI_USAGE,
                       "this node does not hold the value of '%s' (only the node of org %s that "
                       "recorded it does)",
                       pos[1], r.org);
        goto out;
    }
    {
        char salt_hex[CRY_HEX_LEN(32)];
        cry_hex(salt_hex, salt, 32);
        doc = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s#, s:o}", "format", DISCLOSURE_FORMAT,
                        "record", node_json_hex(id), "org", r.org, "field", pos[1], "salt",
                        salt_hex, "value", value, (int)vlen, "digest",
                        node_json_hex(seal->digest));
        sodium_memzero(salt_hex, sizeof salt_hex);
    }
    text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = cli_error(errno == EEXIST ? CLI_USAGE : CLI_IO, "cannot create %s: %s", out,
                       strerror(errno));
        goto out;
    }
    if (!text || write(fd, text, strlen(text)) != (ssize_t)strlen(text) || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        close(fd);
        unlink(out);
        rc = cli_error(CLI_IO, "cannot write %s", out);
        goto out;
    }
    close(fd);
    if (cli.json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "record", pos[0], "field", pos[1], "file", out));
    else
        printf("wrote %s: field '%s' of record %s\n", out, pos[1], pos[0]);
    rc = CLI_OK;
out:
    if (text)
        sodium_memzero(text, strlen(text));
    free(text);
    proto_record_release(&r);
    cli_repo_close(&repo);
    return rc;
}

int cmd_verify_disclosure(int argc, char **argv)
{
    struct cli cli = {.usage = verify_usage};
    const char *pos[1], *field, *value, *salt_hex, *rec_hex, *fmt;
    const struct proto_seal *seal;
    struct cli_repo repo;
    struct proto_record r;
    uint8_t id[32], salt[32], digest[32];
    crypto_hash_sha256_state st;
    json_error_t jerr;
    json_t *doc;
    size_t n_pos, len;
    char *buf, err[256];
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, NULL, pos, 1, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if (n_pos != 1)
        return cli_error(CLI_USAGE, "verify-disclosure needs FILE");
    if ((rc = proto_read_file(pos[0], 64 * 1024, &buf, &len, err, sizeof err)) != 0)
        return cli_error(rc == TN_ERR_IO ? CLI_IO : CLI_USAGE, "%s", err);
    doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!doc)
        return cli_error(CLI_USAGE, "%s: malformed JSON: %s", pos[0], jerr.text);
    fmt = json_string_value(json_object_get(doc, "format"));
    rec_hex = json_string_value(json_object_get(doc, "record"));
    field = json_string_value(json_object_get(doc, "field"));
    salt_hex = json_string_value(json_object_get(doc, "salt"));
    value = json_string_value(json_object_get(doc, "value"));
    if (!fmt || strcmp(fmt, DISCLOSURE_FORMAT) != 0 || !rec_hex || !field || !salt_hex ||
        !value || cry_unhex(id, 32, rec_hex) != 0 || cry_unhex(salt, 32, salt_hex) != 0) {
        json_decref(doc);
        return cli_error(CLI_USAGE, "%s is not a tracenode disclosure", pos[0]);
    }
    if ((rc = cli_repo_open(&cli, &repo)) != 0) {
        json_decref(doc);
        return rc;
    }
    proto_record_init(&r);
    if ((rc = load(&repo, id, rec_hex, &r)) != 0)
        goto out;
    if (!(seal = seal_of(&r, field))) {
        rc = cli_error(CLI_FAIL, "record %s has no sealed field '%s'", rec_hex, field);
        goto out;
    }
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, salt, 32);
    crypto_hash_sha256_update(&st, (const uint8_t *)value, strlen(value));
    crypto_hash_sha256_final(&st, digest);
    if (sodium_memcmp(digest, seal->digest, 32) != 0) {
        rc = cli_error(CLI_FAIL,
                       "disclosure does not match: SHA-256(salt || value) is not the commitment "
                       "record %s carries for '%s'",
                       rec_hex, field);
        goto out;
    }
    if (cli.json)
        cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "status", "VERIFIED", "record",
                                 rec_hex, "org", r.org, "field", field, "value", value));
    else
        printf("verified: field '%s' of record %s (org %s) is \"%s\"\n", field, rec_hex, r.org,
               value);
    rc = CLI_OK;
out:
    json_decref(doc);
    proto_record_release(&r);
    cli_repo_close(&repo);
    return rc;
}
