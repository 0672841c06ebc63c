/* tracectl fsck: re-verifies a whole repository offline (storage/fsck.c), whether or not
 * its node is running (a read transaction sees one consistent state). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "node/cli.h"
#include "node/commands.h"

static const char usage[] =
    "usage: tracectl fsck [--data DIR] [--json]\n"
    "\n"
    "Re-verifies the repository in DIR from its own bytes: every record's id, decoding,\n"
    "chain link, signer, role and signature; every stored Merkle node and every signed\n"
    "checkpoint of every shard; every entry of every index against the records. Works on\n"
    "a stopped node and on a running one (it reads one consistent snapshot).\n"
    "Exit 0 clean, 1 with the problems listed (one 'problem:' line each), 4 if the\n"
    "repository cannot be read.\n";

#define SHOWN_MAX 1000 /* problems printed; the rest are counted */

struct report {
    bool json;
    json_t *list;
    uint64_t shown;
};

static void on_problem(void *ctx, const char *org, int64_t seq, const char *what)
{
    struct report *r = ctx;

    if (r->shown++ >= SHOWN_MAX)
        return;
    if (r->json) {
        json_array_append_new(r->list,
                              json_pack("{s:o, s:o, s:s}", "org",
                                        org ? json_string(org) : json_null(), "seq",
                                        seq >= 0 ? json_integer(seq) : json_null(), "problem",
                                        what));
    } else if (org && seq >= 0) {
        printf("problem: shard %s seq %lld: %s\n", org, (long long)seq, what);
    } else if (org) {
        printf("problem: shard %s: %s\n", org, what);
    } else {
        printf("problem: %s\n", what);
    }
}

int cmd_fsck(int argc, char **argv)
{
    struct cli cli = {.usage = usage};
    struct cli_repo repo;
    struct store_fsck_stats st;
    struct report r = {0};
    struct timespec t0, t1;
    double secs;
    size_t n_pos;
    int rc;

    if ((rc = cli_parse(&cli, argc, argv, NULL, NULL, 0, &n_pos)) != 0)
        return rc < 0 ? 0 : rc;
    if ((rc = cli_repo_open(&cli, &repo)) != 0)
        return rc;
    r.json = cli.json;
    r.list = json_array();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = store_fsck(repo.txn, &repo.eco, true, on_problem, &r, &st);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cli_repo_close(&repo);
    if (rc != 0) {
        json_decref(r.list);
        return cli_error(CLI_IO, "fsck stopped: %s", tn_strerror(rc));
    }
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (cli.json) {
        cli_print_json(json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o}", "clean",
                                 st.problems == 0, "shards", (json_int_t)st.shards, "records",
                                 (json_int_t)st.records, "merkle_nodes",
                                 (json_int_t)st.merkle_nodes, "checkpoints",
                                 (json_int_t)st.checkpoints, "index_entries",
                                 (json_int_t)st.index_entries, "problem_count",
                                 (json_int_t)st.problems, "seconds", secs, "problems", r.list));
    } else {
        json_decref(r.list);
        if (st.problems > SHOWN_MAX)
            printf("problem: ... and %llu more\n",
                   (unsigned long long)(st.problems - SHOWN_MAX));
        printf("fsck: %llu shards, %llu records, %llu Merkle nodes, %llu checkpoints, %llu index "
               "entries checked in %.1f s: %s\n",
               (unsigned long long)st.shards, (unsigned long long)st.records,
               (unsigned long long)st.merkle_nodes, (unsigned long long)st.checkpoints,
               (unsigned long long)st.index_entries, secs,
               st.problems ? "PROBLEMS FOUND" : "clean");
    }
    return st.problems ? CLI_FAIL : CLI_OK;
}
