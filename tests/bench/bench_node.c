/* Shared by the benchmarks: see bench_node.h. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_node.h"
#include "crypto/key.h"
#include "proto/ecosystem.h"

#define FILL_BATCH PROTO_API_SUBMIT_MAX
#define FILL_WINDOW 8 /* SUBMIT requests in flight, as tracectl submit keeps them */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_die(const char *what)
{
    fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
    exit(1);
}

size_t bench_event_text(char *buf, size_t cap, size_t i)
{
    int len =
        snprintf(buf, cap,
                 "{\"type\":\"commission\",\"outputs\":[\"urn:epc:id:sgtin:0614141.107346.%zu\"],"
                 "\"attrs\":{\"lot\":\"L%zu\",\"model\":\"lightbulb2000\"}}",
                 i, i / 1000);
    if (len < 0 || (size_t)len >= cap)
        bench_die("event text does not fit");
    return (size_t)len;
}

void bench_keyfile(const char *dir, const char *name, uint8_t pk[32])
{
    char path[512];
    struct cry_keypair kp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (cry_keypair_generate(&kp) || cry_keyfile_write(path, &kp))
        bench_die("cannot write a key file");
    memcpy(pk, kp.pk, 32);
    cry_keypair_release(&kp);
}

void bench_ecosystem_one(const char *dir, unsigned port)
{
    uint8_t gov[32], org[32], node[32];
    struct cry_keypair gk;
    char path[512], addr[32], err[256];
    json_t *doc;

    bench_keyfile(dir, "gov.key", gov);
    bench_keyfile(dir, "org.key", org);
    bench_keyfile(dir, "node.key", node);
    snprintf(path, sizeof path, "%s/gov.key", dir);
    if (cry_keyfile_read(path, &gk, err, sizeof err))
        bench_die(err);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    doc = proto_ecosystem_doc_new("bench", gov);
    if (proto_ecosystem_doc_add_org(doc, "maker", "Maker Inc", org, "manufacturer", node, addr, err,
                                    sizeof err) ||
        proto_ecosystem_doc_sign(doc, &gk, err, sizeof err))
        bench_die(err);
    snprintf(path, sizeof path, "%s/eco.json", dir);
    if (proto_ecosystem_doc_write(path, doc, err, sizeof err))
        bench_die(err);
    json_decref(doc);
    cry_keypair_release(&gk);
}

pid_t bench_spawn(char *const argv[], int fd, const char *to)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;

    if (posix_spawn_file_actions_init(&fa) != 0 ||
        posix_spawn_file_actions_addopen(&fa, fd, to, O_WRONLY | O_CREAT | O_APPEND, 0600) != 0 ||
        posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        bench_die("cannot start a program");
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

pid_t bench_node_start(const char *bin, const char *dir, const char *data, unsigned port)
{
    char eco[700], ok[700], nk[700], logp[700], listen[32], bin_c[700], data_c[700];
    char *argv[] = {bin_c, "--data",     data_c, "--ecosystem", eco,    "--org", "maker",
                    "--org-key", ok, "--node-key", nk,  "--listen",    listen, NULL};

    snprintf(bin_c, sizeof bin_c, "%s", bin);
    snprintf(data_c, sizeof data_c, "%s", data);
    snprintf(eco, sizeof eco, "%s/eco.json", dir);
    snprintf(ok, sizeof ok, "%s/org.key", dir);
    snprintf(nk, sizeof nk, "%s/node.key", dir);
    snprintf(logp, sizeof logp, "%s/node.log", dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", port);
    return bench_spawn(argv, STDERR_FILENO, logp);
}

void bench_node_stop(pid_t pid)
{
    int st;
    kill(pid, SIGTERM);
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
}

int bench_node_connect(struct api_client *c, const char *data)
{
    char sock[600], err[256];

    snprintf(sock, sizeof sock, "%s/api.sock", data);
    for (int i = 0; i < 3000; i++) {
        if (api_client_connect(c, sock, err, sizeof err) == 0)
            return 0;
        usleep(10000);
    }
    return -1;
}

void bench_node_fill(struct api_client *c, size_t first, size_t n, uint8_t (*ids)[32])
{
    struct api_event *ev = calloc(FILL_BATCH, sizeof *ev);
    char(*text)[256] = calloc(FILL_BATCH, sizeof *text);
    size_t sent = 0, acked = 0, inflight = 0;
    int64_t first_req = c->next_id; /* request j carries events j*FILL_BATCH onwards */
    char err[256];

    if (!ev || !text)
        bench_die("out of memory");
    while (acked < n) {
        struct proto_msg m;
        while (inflight < FILL_WINDOW && sent < n) {
            size_t k = n - sent < FILL_BATCH ? n - sent : FILL_BATCH;
            for (size_t i = 0; i < k; i++) {
                ev[i].text = text[i];
                ev[i].len = bench_event_text(text[i], sizeof text[i], first + sent + i);
            }
            if (api_client_send_submit(c, ev, k))
                bench_die("cannot send to the node");
            sent += k;
            inflight++;
        }
        if (api_client_recv(c, &m, err, sizeof err) || m.type != PROTO_API_OK ||
            m.body->type != MSGPACK_OBJECT_ARRAY)
            bench_die("the node refused a submit (see node.log)");
        /* placed by req_id, so the ids stay right whatever order the replies come in */
        for (uint32_t i = 0; ids && i < m.body->via.array.size; i++) {
            const msgpack_object *o = &m.body->via.array.ptr[i];
            size_t at = (size_t)(m.req_id - first_req) * FILL_BATCH + i;
            if (m.req_id < first_req || at >= n || o->type != MSGPACK_OBJECT_BIN ||
                o->via.bin.size != 32)
                bench_die("a submit reply does not match its request");
            memcpy(ids[at], o->via.bin.ptr, 32);
        }
        acked += m.body->via.array.size;
        inflight--;
        proto_msg_release(&m);
    }
    free(ev);
    free(text);
}
