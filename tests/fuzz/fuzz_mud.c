/* Fuzz target: the MUD file validator (proto/mud.c), and on files it accepts, the
 * operator's summary (node/mud_show.c), which walks the document trusting the checks.
 * Built for libFuzzer by tests/fuzz/run; in the normal build it is linked with replay.c
 * and replays the corpus as a regression test. */
#include <stdint.h>
#include <stdio.h>

#include "node/mud_show.h"
#include "proto/mud.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proto_mud_report rep;
    int rc = proto_mud_check(data, size, 1700000000, &rep);

    /* the counts and the kept issues agree, and a document is kept only when it parsed */
    if (rep.n_issues + rep.n_dropped != rep.n_errors + rep.n_warnings ||
        rep.n_issues > PROTO_MUD_MAX_ISSUES || (rc == 0 && (!rep.doc || rep.n_errors)))
        __builtin_trap();
    if (rc == 0) {
        json_t *s = node_mud_show_json(&rep);
        FILE *null = fopen("/dev/null", "w");
        if (!s || !null)
            __builtin_trap();
        node_mud_show_text(s, null);
        fclose(null);
        json_decref(s);
    }
    proto_mud_report_release(&rep);
    return 0;
}
