/* What happens to an event before and after the batch that writes it: the checks on
 * arrival (on the loop thread) and the checkpoint signed at each commit. */
#include <stdio.h>
#include <string.h>

#include "crypto/checkpoint.h"
#include "node/daemon.h"
#include "proto/event.h"

int node_submit_check(struct node *n, const char *text, size_t len, struct proto_event *ev,
                      char *err, size_t errlen)
{
    int rc = proto_event_parse(text, len, ev, err, errlen);

    if (rc == 0)
        rc = proto_event_check_context(ev, node_eco(n), n->self->id, err, errlen);
    if (rc == 0)
        rc = proto_event_check_size(ev, node_eco(n)->network, n->self->id, err, errlen);
    if (rc == 0 && ev->rec.type == PROTO_T_MUD_ANCHOR) {
        /* The versioning rule of MUD anchors is checked again when the record is stored;
         * checking it here too refuses a stale anchor alone, not the batch it would land
         * in. */
        struct proto_record probe = ev->rec;
        struct store_txn *t;
        probe.org = n->self->id;
        if ((rc = store_txn_begin(n->repo, false, &t)) != 0) {
            snprintf(err, errlen, "cannot read the repository: %s", tn_strerror(rc));
            return rc;
        }
        rc = store_mud_check(t, &probe, err, errlen);
        store_txn_abort(t);
    }
    return rc;
}

int node_checkpoint_own(struct node *n, struct store_txn *txn)
{
    struct cry_checkpoint cp;
    struct store_shard sh;
    char note[CRY_NOTE_MAX];
    size_t len;
    int rc;

    if ((rc = store_shard_get(txn, n->self->id, &sh)) != 0)
        return rc == TN_ERR_NOT_FOUND ? 0 : rc;
    snprintf(cp.origin, sizeof cp.origin, "%s/%s", node_eco(n)->network, n->self->id);
    cp.size = sh.size;
    if ((rc = store_root(txn, n->self->id, sh.size, cp.root)) != 0)
        return rc;
    if ((rc = cry_checkpoint_sign(&cp, &n->org_key, note, sizeof note, &len)) != 0)
        return rc;
    return store_checkpoint_put(txn, n->self->id, sh.size, note, len);
}
