/* The effective ecosystem: the signed ecosystem file, then every governance record of
 * the governance shard in order. */
#include "storage/internal.h"

#include <stdio.h>
#include <string.h>

int store_ecosystem_load(struct store_txn *txn, const char *raw, size_t len,
                         struct proto_ecosystem *eco, void (*warn)(const char *why),
                         char *err, size_t errlen)
{
    struct store_shard sh;
    int rc;

    if ((rc = proto_ecosystem_parse(raw, len, true, eco, err, errlen)) != 0)
        return rc;
    rc = store_shard_get(txn, PROTO_GOV_ORG, &sh);
    if (rc == TN_ERR_NOT_FOUND)
        return 0;
    for (uint64_t seq = 0; rc == 0 && seq < sh.size; seq++) {
        struct proto_record r;
        const uint8_t *bytes;
        uint8_t id[PROTO_ID_LEN];
        size_t blen;
        char why[256];

        if ((rc = store_record_at(txn, PROTO_GOV_ORG, seq, id)) != 0 ||
            (rc = store_record_get(txn, id, &bytes, &blen)) != 0)
            break;
        proto_record_init(&r);
        if (proto_record_decode(bytes, blen, &r, why, sizeof why) != 0) {
            proto_record_release(&r);
            rc = TN_ERR_CORRUPT;
            break;
        }
        /* stored records were checked at append; a record that cannot apply (an org added
         * twice) is the governance's mistake, kept in the shard but without effect */
        if (proto_ecosystem_apply(eco, &r, why, sizeof why) != 0 && warn)
            warn(why);
        proto_record_release(&r);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot read the governance shard: %s", tn_strerror(rc));
        proto_ecosystem_release(eco);
    }
    return rc;
}
