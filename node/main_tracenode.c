/* tracenode: the daemon. See `tracenode --help` and docs/. */
#include <stdio.h>
#include <string.h>

#include "node/args.h"
#include "node/daemon.h"
#include "node/log.h"

static const char usage[] =
    "usage: tracenode --data DIR --ecosystem FILE --org ORG --org-key FILE --node-key FILE\n"
    "                 --listen HOST:PORT [--peer HOST:PORT]... [--map-size BYTES[K|M|G]]\n"
    "\n"
    "Runs a tracenode node until SIGINT or SIGTERM, then exits cleanly.\n"
    "\n"
    "  --data DIR          node data directory (created 0700; default ./tracenode-data)\n"
    "  --ecosystem FILE    the ecosystem file, signed by the governance key\n"
    "  --org ORG           the org this node signs records for\n"
    "  --org-key FILE      that org's Ed25519 key file (mode 0600)\n"
    "  --node-key FILE     this node's transport key file (mode 0600)\n"
    "  --listen HOST:PORT  address for peers\n"
    "  --peer HOST:PORT    a peer to connect to (repeatable)\n"
    "  --map-size SIZE     LMDB map size, e.g. 64M or 16G (default 16G)\n"
    "  --verbose           also log debug lines\n"
    "\n"
    "Logs go to stderr, one line per event. The local API socket is DIR/api.sock.\n"
    "Exit codes: 0 clean shutdown, 2 bad arguments or configuration, 4 I/O error.\n";

int main(int argc, char **argv)
{
    struct node_config cfg = {0};
    const char *map_size = NULL, *pos[1];
    struct args_multi peers = {0};
    bool help = false, verbose = false;
    size_t n_pos;
    char err[256];
    const struct args_opt opts[] = {
        {"data", ARGS_VALUE, &cfg.data_dir},
        {"ecosystem", ARGS_VALUE, &cfg.ecosystem_path},
        {"org", ARGS_VALUE, &cfg.org},
        {"org-key", ARGS_VALUE, &cfg.org_key_path},
        {"node-key", ARGS_VALUE, &cfg.node_key_path},
        {"listen", ARGS_VALUE, &cfg.listen},
        {"peer", ARGS_MULTI, &peers},
        {"map-size", ARGS_VALUE, &map_size},
        {"verbose", ARGS_FLAG, &verbose},
        {"help", ARGS_FLAG, &help},
        {NULL, 0, NULL},
    };

    if (args_parse(argc - 1, argv + 1, opts, pos, 0, &n_pos, err, sizeof err) != 0) {
        fprintf(stderr, "error: %s\n%s", err, usage);
        return 2;
    }
    if (help) {
        fputs(usage, stdout);
        return 0;
    }
    if (!cfg.data_dir)
        cfg.data_dir = NODE_DEFAULT_DATA;
    if (!cfg.ecosystem_path || !cfg.org || !cfg.org_key_path || !cfg.node_key_path ||
        !cfg.listen) {
        fprintf(stderr, "error: --ecosystem, --org, --org-key, --node-key and --listen are "
                        "required\n%s",
                usage);
        return 2;
    }
    if (args_check_hostport(cfg.listen) != 0) {
        fprintf(stderr, "error: --listen '%s' is not HOST:PORT\n", cfg.listen);
        return 2;
    }
    for (size_t i = 0; i < peers.n; i++)
        if (args_check_hostport(peers.v[i]) != 0) {
            fprintf(stderr, "error: --peer '%s' is not HOST:PORT\n", peers.v[i]);
            return 2;
        }
    cfg.peers = peers.v;
    cfg.n_peers = peers.n;
    if (map_size && args_parse_size(map_size, &cfg.map_size) != 0) {
        fprintf(stderr, "error: --map-size '%s' is not a size like 64M or 16G\n", map_size);
        return 2;
    }
    if (verbose)
        node_log_set_level(NODE_LOG_DEBUG);
    return node_run(&cfg);
}
