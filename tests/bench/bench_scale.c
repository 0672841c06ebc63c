/* bench_scale: one node's shard at scale (issue 7, part 3). A real node takes N events
 * through its local API (bench_node.h's standard ones, about 300-byte records), and:
 *
 *  - at S records (default 10,000) and again at N (default 1,000,000), with the node
 *    running: `tracectl trace ITEM` and `tracectl proof ID` as a user runs them (a process
 *    each, so the figure includes the process start, opening the repository and loading
 *    the ecosystem), for items and records picked at random positions in the shard; and
 *    the same work in-process through the storage API (a read transaction each, as the
 *    command does once the repository is open), timed per operation. Each item's pedigree
 *    is its one commission record: the figure is the cost of finding and checking a record
 *    (index lookups, signature, inclusion proof against the signed checkpoint) as the
 *    shard grows, not of walking a deep pedigree (bench_trace does that);
 *  - node start: from spawning tracenode to its API answering STATUS (what
 *    `tracectl status` asks), polled every 0.2 ms, on the empty repository and on the
 *    full one (page cache warm, then dropped for the database file);
 *  - the node's memory from /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile: LMDB's map
 *    is file pages) as the load's last commit is answered, 3 s later (the node gives back
 *    mapped pages once its writer has been idle for a second: the target's figure), after
 *    the reads, and after a restart plus some reads and a small submit;
 *  - the LMDB data file's size per record beside the mean record size, and what each of
 *    the repository's LMDB databases takes of it (LMDB's own statistics).
 *
 * Prints figures with issue 7's targets marked met / NOT MET; never fails on a slow
 * machine (exit 1 only when something breaks). Last line: the figures as one JSON object.
 *
 *   bench_scale [--records N] [--small S] [--runs K] [--ops M] [--port P]
 *               --tracenode PATH --tracectl PATH
 *
 * K: runs of each command and of each start (default 11, medians); M: in-process
 * operations of each kind (default 500, medians). Without --port, a free port on
 * 127.0.0.1 is picked. The temp dir is removed at the end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_node.h"
#include "crypto/checkpoint.h"
#include "crypto/encode.h"
#include "crypto/merkle.h"
#include "node/cli.h"
#include "node/datadir.h"
#include "node/verify.h"

#define MAX_RUNS 64
#define SETTLE_US 3000000
#define ITEM_FMT "urn:epc:id:sgtin:0614141.107346.%zu" /* bench_event_text's output item */

static const char *bin, *tracectl;
static char dir[] = "/tmp/tn-bscale-XXXXXX", data[600], db_file[4200];
static unsigned port;
static int runs = 11;
static size_t ops = 500;
static uint8_t (*ids)[32]; /* ids[seq]: the record id of event seq */
static pid_t node_pid;     /* the node while it runs */

/* The figures taken at one shard size. */
struct at_size {
    size_t n;
    double trace_cmd_ms, proof_cmd_ms, help_cmd_ms, open_ms, trace_us, proof_us;
};

struct mem {
    long rss, hwm, anon, file, shmem; /* kB */
};

/* A port in 10000..29999 free on 127.0.0.1 (below the ephemeral range, so no outgoing
 * connection takes it meanwhile). */
static unsigned free_port(void)
{
    for (int i = 0; i < 200; i++) {
        unsigned p = 10000 + randombytes_uniform(20000);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)p),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
        if (fd < 0)
            bench_die("socket");
        ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return p;
    }
    bench_die("no free port on 127.0.0.1");
}

/* Runs argv (stdout to /dev/null, stderr kept) and returns its wall time in ms; a failing
 * command breaks the benchmark. */
static double run_cmd(char *const argv[])
{
    double t = bench_now();
    pid_t pid = bench_spawn(argv, STDOUT_FILENO, "/dev/null");
    int st;

    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            bench_die("waitpid");
    t = (bench_now() - t) * 1000;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_scale: `tracectl %s` failed (exit %d)\n", argv[1],
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        exit(1);
    }
    return t;
}

/* Whatever happens (bench_die too), no node is left running and the temp dir goes. */
static void cleanup(void)
{
    char cmd[700];

    if (node_pid > 0)
        bench_node_stop(node_pid);
    node_pid = 0;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void on_signal(int sig)
{
    (void)sig;
    exit(1); /* runs cleanup(): not async-signal-safe, but this is a benchmark on its way out */
}

static void stop_node(void)
{
    bench_node_stop(node_pid);
    node_pid = 0;
}

/* Starts the node and returns the ms from its spawn until its API answered STATUS. */
/* Major page faults (pages read from disk) of process pid so far. */
static double major_faults(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long majflt = 0;
    FILE *f;
    size_t len;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* after "pid (comm) ": state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt */
    if ((p = strrchr(buf, ')')))
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %lu", &majflt);
    return (double)majflt;
}

static double start_faults; /* major faults of the node by the time it answered */

static double start_timed(void)
{
    double t0 = bench_now();
    char sock[700], err[256];

    snprintf(sock, sizeof sock, "%s/api.sock", data);
    node_pid = bench_node_start(bin, dir, data, port);
    for (;;) {
        struct api_client c;
        struct proto_msg m;
        int st;

        if (api_client_connect(&c, sock, err, sizeof err) == 0) {
            if (api_client_call(&c, PROTO_API_STATUS, &m, err, sizeof err) == 0) {
                bool ok = m.type == PROTO_API_OK;
                double t = (bench_now() - t0) * 1000;
                proto_msg_release(&m);
                api_client_close(&c);
                if (ok) {
                    start_faults = major_faults(node_pid);
                    return t;
                }
            } else {
                api_client_close(&c);
            }
        }
        if (waitpid(node_pid, &st, WNOHANG) == node_pid) {
            node_pid = 0;
            bench_die("tracenode exited at start");
        }
        if (bench_now() - t0 > 60)
            bench_die("tracenode did not answer within 60 s");
        usleep(200);
    }
}

/* Drops the database file from the page cache (the node must be stopped: pages mapped by
 * a process stay). */
static void drop_cache(void)
{
    int fd = open(db_file, O_RDONLY);
    if (fd < 0)
        bench_die("cannot open data.mdb");
    fdatasync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

static void read_mem(pid_t pid, struct mem *m)
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    memset(m, 0, sizeof *m);
    if (!(f = fopen(path, "r")))
        bench_die("cannot read /proc/PID/status of the node");
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", &m->rss);
        sscanf(line, "VmHWM: %ld", &m->hwm);
        sscanf(line, "RssAnon: %ld", &m->anon);
        sscanf(line, "RssFile: %ld", &m->file);
        sscanf(line, "RssShmem: %ld", &m->shmem);
    }
    fclose(f);
}

/* What `tracectl proof` does once the repository is open, without printing: the record
 * (hashed against its id, decoded), the shard's signed checkpoint (signature checked), the
 * inclusion path, and the path checked against the checkpoint's root. */
static void proof_once(struct cli_repo *repo, const uint8_t id[32])
{
    struct store_txn *txn;
    struct proto_record r;
    struct cry_checkpoint cp;
    const struct proto_org *org;
    const uint8_t *bytes;
    const char *note;
    uint8_t leaf[32], path[CRY_MERKLE_MAX_PROOF][32];
    char origin[CRY_ORIGIN_MAX + 1], err[256];
    uint64_t cp_size;
    size_t len, note_len, path_len;

    if (store_txn_begin(repo->repo, false, &txn) != 0)
        bench_die("read transaction");
    proto_record_init(&r);
    if (store_record_load(txn, id, &bytes, &len, &r, err, sizeof err) != 0 ||
        !(org = proto_ecosystem_org(&repo->eco, r.org)) ||
        store_checkpoint_get(txn, r.org, &cp_size, &note, &note_len) != 0)
        bench_die("proof: a record the node acknowledged or its checkpoint cannot be read");
    snprintf(origin, sizeof origin, "%s/%s", r.net, r.org);
    if (cry_checkpoint_verify(note, note_len, origin, org->key, &cp) != 0 || cp.size != cp_size ||
        r.seq >= cp.size || store_inclusion_proof(txn, r.org, r.seq, cp.size, path, &path_len) != 0)
        bench_die("proof: checkpoint or inclusion proof");
    cry_merkle_leaf_hash(leaf, bytes, len);
    if (cry_merkle_verify_inclusion(leaf, r.seq, cp.size, (const uint8_t(*)[32])path, path_len,
                                    cp.root) != 0)
        bench_die("proof: the path does not lead to the checkpoint's root");
    proto_record_release(&r);
    store_txn_abort(txn);
}

/* What `tracectl trace ITEM` does once the repository is open, without printing. */
static void trace_once(struct cli_repo *repo, const char *item)
{
    struct vf_options opt = {0};
    struct store_txn *txn;
    struct vf_source src;
    struct vf_result res;

    if (store_txn_begin(repo->repo, false, &txn) != 0)
        bench_die("read transaction");
    vf_store_source(txn, &src);
    if (vf_trace(&src, &repo->eco, item, &opt, &res) != 0)
        bench_die("trace: cannot read the repository");
    if (res.verdict != VF_OK || res.n_recs != 1)
        bench_die("trace: the verdict of a commissioned item is not ok");
    vf_result_release(&res);
    store_txn_abort(txn);
}

static int open_repo(struct cli_repo *repo)
{
    struct cli cli = {.data_dir = data};
    int rc = cli_repo_open(&cli, repo);
    if (rc == 0) { /* each operation takes its own read transaction, as a command would */
        store_txn_abort(repo->txn);
        repo->txn = NULL;
    }
    return rc;
}

/* Every figure at the current shard size n (the node running). */
static void measure(size_t n, struct at_size *f)
{
    double tc[MAX_RUNS], pc[MAX_RUNS], hc[MAX_RUNS], op[MAX_RUNS];
    double *tu = malloc(ops * sizeof *tu), *pu = malloc(ops * sizeof *pu);
    char item[96], hex[CRY_HEX_LEN(32)], tc_bin[600];
    struct cli_repo repo;

    if (!tu || !pu)
        bench_die("out of memory");
    snprintf(tc_bin, sizeof tc_bin, "%s", tracectl);
    f->n = n;
    /* the commands, interleaved so that the machine's moods spread over all three */
    for (int r = 0; r < runs; r++) {
        size_t i = randombytes_uniform((uint32_t)n);
        char *trace_argv[] = {tc_bin, "trace", "--data", data, item, NULL};
        char *proof_argv[] = {tc_bin, "proof", "--data", data, hex, NULL};
        char *help_argv[] = {tc_bin, "--help", NULL};
        snprintf(item, sizeof item, ITEM_FMT, i);
        cry_hex(hex, ids[randombytes_uniform((uint32_t)n)], 32);
        tc[r] = run_cmd(trace_argv);
        pc[r] = run_cmd(proof_argv);
        hc[r] = run_cmd(help_argv);
    }
    /* in-process: opening (read-only LMDB environment, ecosystem parsed and checked) */
    for (int r = 0; r < runs; r++) {
        double t = bench_now();
        if (open_repo(&repo) != 0)
            bench_die("cannot open the repository read-only");
        op[r] = (bench_now() - t) * 1000;
        cli_repo_close(&repo);
    }
    if (open_repo(&repo) != 0)
        bench_die("cannot open the repository read-only");
    for (size_t k = 0; k < ops; k++) {
        double t;
        snprintf(item, sizeof item, ITEM_FMT, (size_t)randombytes_uniform((uint32_t)n));
        t = bench_now();
        trace_once(&repo, item);
        tu[k] = (bench_now() - t) * 1e6;
        t = bench_now();
        proof_once(&repo, ids[randombytes_uniform((uint32_t)n)]);
        pu[k] = (bench_now() - t) * 1e6;
    }
    cli_repo_close(&repo);
    f->trace_cmd_ms = bench_median(tc, runs);
    f->proof_cmd_ms = bench_median(pc, runs);
    f->help_cmd_ms = bench_median(hc, runs);
    f->open_ms = bench_median(op, runs);
    f->trace_us = bench_median(tu, (int)ops);
    f->proof_us = bench_median(pu, (int)ops);
    fprintf(stderr,
            "at %zu records: trace %.1f ms, proof %.1f ms (commands); %.0f us, %.0f us "
            "in-process\n",
            n, f->trace_cmd_ms, f->proof_cmd_ms, f->trace_us, f->proof_us);
    free(tu);
    free(pu);
}

/* Mean size of the n records in the shard (node stopped or not). */
static double mean_record_bytes(size_t n)
{
    struct cli_repo repo;
    struct store_txn *txn;
    uint64_t total = 0;

    if (open_repo(&repo) != 0 || store_txn_begin(repo.repo, false, &txn) != 0)
        bench_die("cannot open the repository read-only");
    for (size_t i = 0; i < n; i++) {
        const uint8_t *bytes;
        size_t len;
        if (store_record_get(txn, ids[i], &bytes, &len) != 0)
            bench_die("a record the node acknowledged cannot be read");
        total += len;
    }
    store_txn_abort(txn);
    cli_repo_close(&repo);
    return (double)total / (double)n;
}

/* What each LMDB database of the repository takes, from LMDB's statistics (the node
 * stopped and no other environment open in this process), and the free pages. */
static void lmdb_breakdown(FILE *out, size_t n)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_dbi main_db;
    MDB_envinfo info;
    MDB_stat st;
    MDB_val k, v;
    char path[4200], name[64];
    size_t free_pages = 0, named_pages = 0;

    snprintf(path, sizeof path, "%.4090s", db_file);
    *strrchr(path, '/') = '\0';
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 64) != 0 ||
        mdb_env_open(env, path, MDB_RDONLY | MDB_NOTLS, 0) != 0 ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0 || mdb_env_info(env, &info) != 0 ||
        mdb_env_stat(env, &st) != 0)
        bench_die("cannot open the repository with LMDB for its statistics");
    fprintf(out, "  %-22s %10s %9s %10s %9s %12s\n", "LMDB database", "entries", "depth", "pages",
            "MiB", "bytes/record");
    unsigned psize = st.ms_psize;
    if (mdb_dbi_open(txn, NULL, 0, &main_db) != 0 || mdb_cursor_open(txn, main_db, &cur) != 0)
        bench_die("LMDB main database");
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
        MDB_dbi d;
        size_t pages;
        if (k.mv_size >= sizeof name)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        if (mdb_dbi_open(txn, name, 0, &d) != 0 || mdb_stat(txn, d, &st) != 0)
            continue; /* a plain key of the main database, not a database */
        pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
        named_pages += pages;
        fprintf(out, "  %-22s %10zu %9u %10zu %9.1f %12.0f\n", name, (size_t)st.ms_entries,
                st.ms_depth, pages, (double)pages * psize / 1048576,
                (double)pages * psize / (double)n);
    }
    mdb_cursor_close(cur);
    /* the free list: each value is a list of page numbers, its length first */
    if (mdb_cursor_open(txn, 0, &cur) != 0)
        bench_die("LMDB free list");
    while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0)
        free_pages += v.mv_size >= sizeof(size_t) ? *(const size_t *)v.mv_data : 0;
    mdb_cursor_close(cur);
    fprintf(out, "  %-22s %10s %9s %10zu %9.1f %12.0f\n", "(free pages)", "", "", free_pages,
            (double)free_pages * psize / 1048576, (double)free_pages * psize / (double)n);
    fprintf(out, "  %-22s %10s %9s %10zu %9.1f %12.0f\n", "(all pages in the file)", "", "",
            (size_t)info.me_last_pgno + 1, (double)(info.me_last_pgno + 1) * psize / 1048576,
            (double)(info.me_last_pgno + 1) * psize / (double)n);
    (void)named_pages;
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* Fills the shard from `from` up to `to` records in chunks, printing progress. */
static void fill(struct api_client *c, size_t from, size_t to, double *secs)
{
    size_t chunk = (to - from + 9) / 10 < 100000 ? (to - from + 9) / 10 : 100000;
    double t0 = bench_now();

    for (size_t at = from; at < to;) {
        size_t k = to - at < chunk ? to - at : chunk;
        bench_node_fill(c, at, k, ids + at);
        at += k;
        fprintf(stderr, "  %zu records, %.0f records/s since %zu\n", at,
                (double)(at - from) / (bench_now() - t0), from);
    }
    *secs += bench_now() - t0;
}

static const char *verdict(bool met)
{
    return met ? "met" : "NOT MET";
}

static double mib(long kb)
{
    return (double)kb / 1024;
}

static void print_mem(const char *what, const struct mem *m)
{
    printf("  %-44s %7.1f %7.1f %7.1f %7.1f %7.1f\n", what, mib(m->rss), mib(m->hwm), mib(m->anon),
           mib(m->file), mib(m->shmem));
}

int main(int argc, char **argv)
{
    size_t n = 1000000, small = 10000;
    double empty[MAX_RUNS], warm[MAX_RUNS], cold[MAX_RUNS], cold_faults[MAX_RUNS], fill_s = 0,
                                                                                   loadavg[3] = {0};
    struct at_size fs, fb;
    struct mem m_fill, m_settled, m_load, m_reads, m_submit;
    struct api_client c;
    struct node_paths paths;
    struct stat st;
    char err[256], tc_bin[600];
    double rec_bytes, m_empty, m_warm, m_cold;
    char *lmdb_text = NULL;
    size_t lmdb_len = 0;
    FILE *lmdb_out;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--records") == 0)
            n = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--small") == 0)
            small = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--ops") == 0)
            ops = strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--port") == 0)
            port = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--tracenode") == 0)
            bin = argv[i + 1];
        else if (strcmp(argv[i], "--tracectl") == 0)
            tracectl = argv[i + 1];
        else
            bench_die("unknown option; see the comment at the top of bench_scale.c");
    }
    if (argc % 2 == 0 || !bin || !tracectl || runs < 1 || runs > MAX_RUNS || small == 0 ||
        n <= small || n > UINT32_MAX || ops == 0 || port > 65535)
        bench_die("usage: bench_scale [--records N] [--small S < N] [--runs K] [--ops M] "
                  "[--port P] --tracenode PATH --tracectl PATH");
    if (cry_init() != 0 || !mkdtemp(dir))
        bench_die("setup");
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (!port)
        port = free_port();
    getloadavg(loadavg, 3);
    snprintf(data, sizeof data, "%s/data", dir);
    if (node_paths_init(&paths, data, err, sizeof err) != 0)
        bench_die(err);
    snprintf(db_file, sizeof db_file, "%s/data.mdb", paths.db);
    snprintf(tc_bin, sizeof tc_bin, "%s", tracectl);
    bench_ecosystem_one(dir, port);
    if (!(ids = malloc((n + 1000) * sizeof *ids)))
        bench_die("out of memory");

    /* the empty repository: made by a first start, then started again K times */
    start_timed();
    stop_node();
    for (int r = 0; r < runs; r++) {
        empty[r] = start_timed();
        stop_node();
    }
    m_empty = bench_median(empty, runs);
    fprintf(stderr, "start on the empty repository: %.1f ms\n", m_empty);

    start_timed();
    if (bench_node_connect(&c, data) != 0)
        bench_die("cannot connect to the node");
    fprintf(stderr, "filling the shard to %zu records...\n", small);
    fill(&c, 0, small, &fill_s);
    measure(small, &fs);
    fprintf(stderr, "filling the shard to %zu records...\n", n);
    fill(&c, small, n, &fill_s);
    read_mem(node_pid, &m_fill);
    /* the node gives back mapped pages and freed heap once its writer has been idle for a
     * whole one-second tick (docs/STORAGE.md, "Memory"): look again when that has had time */
    usleep(SETTLE_US);
    read_mem(node_pid, &m_settled);
    measure(n, &fb);
    read_mem(node_pid, &m_load);
    api_client_close(&c);
    stop_node();
    rec_bytes = mean_record_bytes(n);
    if (!(lmdb_out = open_memstream(&lmdb_text, &lmdb_len)))
        bench_die("out of memory");
    lmdb_breakdown(lmdb_out, n);
    fclose(lmdb_out);
    if (stat(db_file, &st) != 0)
        bench_die("cannot stat data.mdb");

    /* restarts of the full repository: page cache warm, then dropped before each start */
    for (int r = 0; r < runs; r++) {
        warm[r] = start_timed();
        stop_node();
    }
    for (int r = 0; r < runs; r++) {
        drop_cache();
        cold[r] = start_timed();
        cold_faults[r] = start_faults;
        if (r < runs - 1)
            stop_node();
    }
    m_warm = bench_median(warm, runs);
    m_cold = bench_median(cold, runs);

    /* the last (cold) start stays up: reads (they read the repository directly, not
     * through the node, except STATUS), then a small submit through it */
    for (int r = 0; r < 5; r++) {
        char item[96], hex[CRY_HEX_LEN(32)];
        char *trace_argv[] = {tc_bin, "trace", "--data", data, item, NULL};
        char *proof_argv[] = {tc_bin, "proof", "--data", data, hex, NULL};
        char *status_argv[] = {tc_bin, "status", "--data", data, NULL};
        snprintf(item, sizeof item, ITEM_FMT, (size_t)randombytes_uniform((uint32_t)n));
        cry_hex(hex, ids[randombytes_uniform((uint32_t)n)], 32);
        run_cmd(trace_argv);
        run_cmd(proof_argv);
        run_cmd(status_argv);
    }
    read_mem(node_pid, &m_reads);
    if (bench_node_connect(&c, data) != 0)
        bench_die("cannot connect to the node");
    bench_node_fill(&c, n, 1000, ids + n);
    api_client_close(&c);
    usleep(SETTLE_US);
    read_mem(node_pid, &m_submit);
    stop_node();

    printf("bench_scale: one node, one org's shard of %zu records (mean %.0f bytes), %ld cores, "
           "load average %.2f at start\n",
           n, rec_bytes, sysconf(_SC_NPROCESSORS_ONLN), loadavg[0]);
    printf("  filled through the local API at %.0f records/s (signed, synced commits)\n",
           (double)n / fill_s);
    printf("\nreads at two shard sizes, node running, page cache warm, medians (commands: %d "
           "runs; in-process: %zu operations), random positions\n",
           runs, ops);
    printf("  %-52s %11zu %11zu  %6s\n", "", fs.n, fb.n, "ratio");
    printf("  %-52s %8.1f ms %8.1f ms  %5.2fx\n", "`tracectl trace ITEM` (process start included)",
           fs.trace_cmd_ms, fb.trace_cmd_ms, fb.trace_cmd_ms / fs.trace_cmd_ms);
    printf("  %-52s %8.1f ms %8.1f ms  %5.2fx\n", "`tracectl proof ID` (process start included)",
           fs.proof_cmd_ms, fb.proof_cmd_ms, fb.proof_cmd_ms / fs.proof_cmd_ms);
    printf("  %-52s %8.1f ms %8.1f ms  %5.2fx\n", "  of which `tracectl --help` (process alone)",
           fs.help_cmd_ms, fb.help_cmd_ms, fb.help_cmd_ms / fs.help_cmd_ms);
    printf("  %-52s %8.2f ms %8.2f ms  %5.2fx\n", "  of which opening: LMDB env, ecosystem",
           fs.open_ms, fb.open_ms, fb.open_ms / fs.open_ms);
    printf("  %-52s %8.0f us %8.0f us  %5.2fx\n", "trace in-process (read txn, vf_trace)",
           fs.trace_us, fb.trace_us, fb.trace_us / fs.trace_us);
    printf("  %-52s %8.0f us %8.0f us  %5.2fx\n", "proof in-process (record, checkpoint, path)",
           fs.proof_us, fb.proof_us, fb.proof_us / fs.proof_us);

    printf("\nnode start, spawn to the API answering STATUS, median of %d starts\n", runs);
    printf("  %-52s %8.1f ms\n", "empty repository (page cache warm)", m_empty);
    printf("  %-52s %8.1f ms  (%+.1f ms over empty)\n", "full repository, page cache warm", m_warm,
           m_warm - m_empty);
    printf("  %-52s %8.1f ms  (%+.1f ms over empty; %.0f major page faults in the node)\n",
           "full repository, data.mdb dropped from cache", m_cold, m_cold - m_empty,
           bench_median(cold_faults, runs));

    printf("\nnode memory, MiB (/proc/PID/status; LMDB's map is file pages)\n");
    printf("  %-44s %7s %7s %7s %7s %7s\n", "", "VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem");
    print_mem("as the last commit of the load is answered", &m_fill);
    print_mem("3 s later (the load is over)", &m_settled);
    print_mem("after the reads at full size", &m_load);
    print_mem("after a cold restart, 5 trace+proof+status", &m_reads);
    print_mem("  then 1,000 more records submitted, 3 s later", &m_submit);
    printf("  (trace, proof and get read the repository in their own process: of the reads, "
           "only STATUS goes through the node)\n");

    printf("\nLMDB data file: %.1f MiB (%.1f MiB allocated) for %zu records: %.0f bytes/record, "
           "%.2fx the mean record (%.0f bytes)\n",
           (double)st.st_size / 1048576, (double)st.st_blocks * 512 / 1048576, n,
           (double)st.st_size / (double)n, (double)st.st_size / (double)n / rec_bytes, rec_bytes);
    fputs(lmdb_text, stdout);
    free(lmdb_text);

    double tr = fb.trace_cmd_ms / fs.trace_cmd_ms, pr = fb.proof_cmd_ms / fs.proof_cmd_ms,
           tri = fb.trace_us / fs.trace_us, pri = fb.proof_us / fs.proof_us;
    printf("\nissue 7 targets (reported, not enforced)\n");
    printf("  %-60s %8.2fx  %s\n", "trace at N within 2x of at S (command)", tr, verdict(tr <= 2));
    printf("  %-60s %8.2fx  %s\n", "trace at N within 2x of at S (in-process)", tri,
           verdict(tri <= 2));
    printf("  %-60s %8.2fx  %s\n", "proof at N within 2x of at S (command)", pr, verdict(pr <= 2));
    printf("  %-60s %8.2fx  %s\n", "proof at N within 2x of at S (in-process)", pri,
           verdict(pri <= 2));
    printf("  %-60s %7.1f ms  %s\n", "node start < 200 ms (full repository, warm)", m_warm,
           verdict(m_warm < 200));
    printf("  %-60s %7.1f ms  %s\n", "node start < 200 ms (full repository, cold)", m_cold,
           verdict(m_cold < 200));
    printf("  %-60s %6.1f MiB  %s\n", "node resident memory < 64 MiB after the load (VmRSS)",
           mib(m_settled.rss), verdict(mib(m_settled.rss) < 64));
    printf("  %-60s %6.1f MiB  %s\n", "  as the last commit is answered (VmRSS)",
           mib(m_fill.rss), verdict(mib(m_fill.rss) < 64));
    printf("  %-60s %6.1f MiB  %s\n", "  peak during the load (VmHWM)", mib(m_load.hwm),
           verdict(mib(m_load.hwm) < 64));
    printf("  %-60s %6.1f MiB  %s\n", "  after a restart and reads (VmRSS)", mib(m_reads.rss),
           verdict(mib(m_reads.rss) < 64));

    printf("{\"bench\":\"scale\",\"records\":%zu,\"small\":%zu,\"runs\":%d,\"ops\":%zu,"
           "\"record_bytes_mean\":%.1f,\"fill_per_s\":%.0f,"
           "\"trace_cmd_ms\":[%.2f,%.2f],\"proof_cmd_ms\":[%.2f,%.2f],\"help_cmd_ms\":[%.2f,%.2f],"
           "\"open_ms\":[%.3f,%.3f],\"trace_us\":[%.1f,%.1f],\"proof_us\":[%.1f,%.1f],"
           "\"start_empty_ms\":%.2f,\"start_warm_ms\":%.2f,\"start_cold_ms\":%.2f,"
           "\"start_cold_major_faults\":%.0f,"
           "\"mem_fill_kb\":{\"rss\":%ld,\"hwm\":%ld,\"anon\":%ld,\"file\":%ld},"
           "\"mem_settled_kb\":{\"rss\":%ld,\"hwm\":%ld,\"anon\":%ld,\"file\":%ld},"
           "\"mem_load_kb\":{\"rss\":%ld,\"hwm\":%ld,\"anon\":%ld,\"file\":%ld},"
           "\"mem_restart_kb\":{\"rss\":%ld,\"hwm\":%ld,\"anon\":%ld,\"file\":%ld},"
           "\"mem_submit_kb\":{\"rss\":%ld,\"hwm\":%ld,\"anon\":%ld,\"file\":%ld},"
           "\"data_mdb_bytes\":%lld,\"data_mdb_allocated\":%lld,\"bytes_per_record\":%.1f}\n",
           n, small, runs, ops, rec_bytes, (double)n / fill_s, fs.trace_cmd_ms, fb.trace_cmd_ms,
           fs.proof_cmd_ms, fb.proof_cmd_ms, fs.help_cmd_ms, fb.help_cmd_ms, fs.open_ms, fb.open_ms,
           fs.trace_us, fb.trace_us, fs.proof_us, fb.proof_us, m_empty, m_warm, m_cold,
           bench_median(cold_faults, runs), m_fill.rss, m_fill.hwm, m_fill.anon, m_fill.file,
           m_settled.rss, m_settled.hwm, m_settled.anon, m_settled.file,
           m_load.rss, m_load.hwm, m_load.anon, m_load.file,
           m_reads.rss, m_reads.hwm, m_reads.anon, m_reads.file, m_submit.rss, m_submit.hwm,
           m_submit.anon, m_submit.file, (long long)st.st_size, (long long)st.st_blocks * 512,
           (double)st.st_size / (double)n);

    free(ids);
    return 0; /* cleanup() removes the temp dir */
}
