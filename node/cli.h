/* What every tracectl command shares: global flags, exit codes, error lines, JSON
 * output, and opening the node's repository read-only. */
#ifndef TN_NODE_CLI_H
#define TN_NODE_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "node/args.h"
#include "node/datadir.h"
#include "proto/ecosystem.h"
#include "storage/repo.h"

/* Exit codes (DESIGN section 6). */
enum cli_exit {
    CLI_OK = 0,         /* success / verified */
    CLI_FAIL = 1,       /* verification failed */
    CLI_USAGE = 2,      /* usage or input error; nothing written */
    CLI_INCOMPLETE = 3, /* records missing */
    CLI_IO = 4,         /* node unreachable or I/O error */
};

struct cli {
    const char *data_dir; /* --data, default ./tracenode-data */
    bool json;            /* --json */
    bool help;            /* --help */
    const char *usage;    /* the command's usage text */
};

/* Parses a command's arguments plus the global --data, --json and --help. On a usage
 * error prints it with the usage text and returns CLI_USAGE; returns -1 when --help was
 * printed (exit 0); 0 to go on. */
int cli_parse(struct cli *cli, int argc, char **argv, const struct args_opt *opts,
              const char **pos, size_t max_pos, size_t *n_pos);

/* Prints "error: <message>" on stderr and returns code. */
__attribute__((format(printf, 2, 3))) int cli_error(int code, const char *fmt, ...);

/* The exit code for a project error code. */
int cli_exit_for(int tn_err);

/* Writes doc to stdout as one JSON document (pretty) and releases it. */
void cli_print_json(json_t *doc);

/* Opens the node's repository (read-only), parses the ecosystem it keeps and begins a
 * read transaction (one consistent view for the whole command). On error prints it and
 * returns the exit code. */
struct cli_repo {
    struct node_paths paths;
    struct store_repo *repo;
    struct store_txn *txn;
    struct proto_ecosystem eco;
    char org[PROTO_ID_MAX + 1]; /* the node's own org */
};
int cli_repo_open(struct cli *cli, struct cli_repo *r);
void cli_repo_close(struct cli_repo *r);

/* Parses a 64-digit hex record id from an argument; prints an error and returns
 * CLI_USAGE on failure. */
int cli_parse_id(const char *arg, uint8_t id[32]);

/* A public key given on the command line: "ed25519:BASE64", or a key file path whose
 * public key is taken. */
int cli_parse_pk(const char *arg, const char *flag, uint8_t pk[32]);



/* Prints a flat JSON object for people: one "key: value" line per member, lists joined
 * with ", ", nested values as compact JSON. Releases doc. */
void cli_print_text(json_t *doc);

/* A JSON string of s, which need not be UTF-8 (a file name): invalid bytes become
 * U+FFFD. */
json_t *cli_json_text(const char *s);

/* Prints doc as JSON (--json) or as text lines. Releases doc. */
void cli_print(const struct cli *cli, json_t *doc);
#endif
