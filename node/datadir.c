#include "node/datadir.h"

#include <stdio.h>
#include <string.h>

int node_paths_init(struct node_paths *p, const char *dir, char *err, size_t errlen)
{
    int n;

    if (strlen(dir) >= sizeof p->dir - 16) {
        snprintf(err, errlen, "data dir path too long");
        return TN_ERR_TOO_BIG;
    }
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    snprintf(p->db, sizeof p->db, "%s/db", dir);
    snprintf(p->lock, sizeof p->lock, "%s/lock", dir);
    n = snprintf(p->sock, sizeof p->sock, "%s/api.sock", dir);
    if (n < 0 || (size_t)n >= sizeof p->sock) {
        snprintf(err, errlen,
                 "data dir path too long for the API socket (Unix sockets allow %zu bytes); "
                 "use a shorter --data path",
                 sizeof p->sock - 1);
        return TN_ERR_TOO_BIG;
    }
    return 0;
}
