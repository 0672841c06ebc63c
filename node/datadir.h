/* Layout of a node data directory (mode 0700), shared by tracenode and tracectl:
 *   DIR/db/      the LMDB repository (storage/)
 *   DIR/api.sock the local API socket (mode 0600)
 *   DIR/lock     held with flock() by the running tracenode */
#ifndef TN_NODE_DATADIR_H
#define TN_NODE_DATADIR_H

#include <stddef.h>

#include "crypto/error.h"

#define NODE_DEFAULT_DATA "./tracenode-data"

struct node_paths {
    char dir[4096];
    char db[4096];
    char sock[108]; /* sun_path limit */
    char lock[4096];
};

/* Fills the paths for data dir dir. TN_ERR_TOO_BIG if the socket path would not fit a
 * Unix socket address (reason in err). */
int node_paths_init(struct node_paths *p, const char *dir, char *err, size_t errlen) TN_MUST_CHECK;

/* Meta keys the node keeps in its repository. */
#define NODE_META_ORG "node.org"             /* the org this node signs for */
#define NODE_META_NETWORK "node.network"     /* network id */
#define NODE_META_GOV_KEY "node.gov_key"     /* governance key pinned at first start */
#define NODE_META_ECOSYSTEM "node.ecosystem" /* the ecosystem file last started with */

#endif
